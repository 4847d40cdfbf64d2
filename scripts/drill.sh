#!/usr/bin/env bash
# Reliability drills, long version (issue 10, item 6): builds perpetua once
# and runs the drill tests of cmd/perpetua (drill_*_test.go) with
# PERPETUA_LONG=1: 50 SIGKILL rounds under concurrent ingest, a real full
# disk (tmpfs in a private mount namespace), a read-only data dir and
# corrupt checkpoint and registry files, and 25 SIGKILLs of serving replicas
# (TestReplicasCLI: a trainer and two --role serve replicas on a loopback
# NATS server, events flowing). CI runs the same tests with fewer
# rounds (go test ./cmd/perpetua).
#
# Usage: scripts/drill.sh [-race] [extra go test flags…]
#   PERPETUA_DRILL_SEED=N   replay a drill's random choices (each test prints its seed)
#   DRILL_RUN=REGEXP        which drills (default TestDrill|TestReplicasCLI)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
chmod 0755 "$bin" # the read-only drill runs the binary as nobody when root
go build -o "$bin/perpetua" ./cmd/perpetua
export PERPETUA_DRILL_BIN="$bin/perpetua" PERPETUA_LONG=1
start=$(date +%s)
status=0
go test -count=1 -timeout 60m -run "${DRILL_RUN:-TestDrill|TestReplicasCLI}" -v "$@" ./cmd/perpetua || status=$?
echo "drills: exit $status after $(( $(date +%s) - start ))s"
exit "$status"
