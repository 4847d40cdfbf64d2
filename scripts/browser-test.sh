#!/usr/bin/env bash
# browser-test.sh — opens Perpetua's live dashboard in headless Chromium and
# checks that it renders with data (issue #9, item 4).
#
# What it does:
#   1. installs Debian's chromium if it is missing (apt-get; needs root or sudo);
#   2. unless PERPETUA_DASHBOARD_URL is set, builds the dashboard package's
#      test binary and serves the dashboard with a synthetic, changing source
#      (TestServeSynthetic in internal/dashboard/synthetic_test.go) at
#      http://127.0.0.1:PORT/dashboard/;
#   3. checks the security headers, the page weight (HTML+JS+CSS plus the
#      /api/state JSON as sent; target < 300 KB) and that /api/events streams
#      samples;
#   4. loads the page headless (--dump-dom with a virtual time budget), and
#      asserts on the DOM: first render with data happened, the charts have
#      SVG paths with points, the expected learners are present and the
#      required sections are not "no data yet";
#   5. saves dom.html, dashboard.png (screenshot), chromium.log and
#      results.txt in $ARTIFACTS (default ./artifacts);
#   6. runs TestBrowser (internal/dashboard/browser_test.go), which drives
#      Chromium over the DevTools pipe in real time against its own synthetic
#      server: first render < 1 s, samples arriving over server-sent events,
#      Promote with no key / a wrong key / the admin key; it saves
#      dashboard-live.png and browser-go-test.log.
# It exits non-zero and prints why on the first failed check.
#
# Against the real demo (what .ci/run does): `scripts/browser-test.sh demo` builds
# perpetua, starts `perpetua demo --days 3 --seed 1 --out $ARTIFACTS/demo --linger 60s`,
# tests its dashboard while the shop's events flow, then waits for the demo to
# exit 0 and checks report.json and report.html.
#
# Pointing it at another running demo instead of the synthetic source:
#
#   go run ./cmd/perpetua demo --days 3 --seed 1 --out /tmp/demo &   # prints the dashboard URL
#   PERPETUA_DASHBOARD_URL=http://127.0.0.1:PORT/dashboard/ scripts/browser-test.sh
#
# Environment:
#   PERPETUA_DASHBOARD_URL  dashboard to test (ends in /); unset: serve the synthetic one
#   PERPETUA_EXPECT_LEARNERS  learner names that must be on the page (space separated);
#                           default: the synthetic ones, or none with a URL (any learner will do)
#   PERPETUA_REQUIRE_SECTIONS sections that must have data, from: learners models recommend
#                           fraud forecasts routes; default: all six for the synthetic source,
#                           "learners" with a URL
#   ARTIFACTS               artifact directory (default ./artifacts)
#   CHROMIUM                browser binary (default: chromium)
#   BUDGET_MS               virtual time budget for the page (default 4000)
#   WAIT_S                  how long to wait for the first samples (default 120)
set -euo pipefail
cd "$(dirname "$0")/.."

ARTIFACTS=${ARTIFACTS:-./artifacts}
CHROMIUM=${CHROMIUM:-chromium}
BUDGET_MS=${BUDGET_MS:-4000}
WAIT_S=${WAIT_S:-120}
mkdir -p "$ARTIFACTS"
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "browser-test: FAIL: $*" >&2; echo "FAIL: $*" >>"$ARTIFACTS/results.txt"; exit 1; }
note() { echo "browser-test: $*"; echo "$*" >>"$ARTIFACTS/results.txt"; }
: >"$ARTIFACTS/results.txt"

# 1. Chromium.
if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
	echo "browser-test: installing Debian's chromium"
	SUDO=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 || fail "chromium is missing and neither root nor sudo is available to install it"
		SUDO=sudo
	fi
	$SUDO apt-get update -qq >/dev/null || fail "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null || fail "apt-get install chromium failed"
	command -v "$CHROMIUM" >/dev/null 2>&1 || fail "chromium still not found after install"
fi
command -v curl >/dev/null 2>&1 || fail "curl is needed"
note "chromium: $("$CHROMIUM" --version 2>/dev/null | head -1)"

# 2. The server.
DEMO_PID=""
if [ "${1:-}" = "demo" ]; then
	# The real thing: perpetua demo runs the simulated shop through an
	# engine on loopback; its dashboard is tested while the stream flows,
	# and its report is checked once it ends.
	echo "browser-test: building perpetua and starting the demo"
	go build -o "$WORK/perpetua" ./cmd/perpetua || fail "cannot build perpetua"
	"$WORK/perpetua" demo --days 3 --seed 1 --out "$ARTIFACTS/demo" --linger "${DEMO_LINGER:-90s}" >"$ARTIFACTS/demo.log" 2>&1 &
	DEMO_PID=$!
	SERVER_PID=$DEMO_PID
	for _ in $(seq 600); do
		grep -q '^Dashboard: ' "$ARTIFACTS/demo.log" 2>/dev/null && break
		kill -0 "$DEMO_PID" 2>/dev/null || fail "the demo exited early: $(tail -5 "$ARTIFACTS/demo.log")"
		sleep 0.1
	done
	URL=$(sed -n 's/^Dashboard: //p' "$ARTIFACTS/demo.log" | head -1)
	[ -n "$URL" ] || fail "the demo printed no dashboard URL within 60s"
	EXPECT=${PERPETUA_EXPECT_LEARNERS:-mlp logistic deep}
	# recommend: the demo feeds the simulator's true click probabilities
	# to the engine (Engine.ObserveRecommendTruth), so CTR and regret;
	# routes: it plans every delivery wave of one warehouse through POST
	# /v1/routes/optimize.
	REQUIRE=${PERPETUA_REQUIRE_SECTIONS:-learners models recommend routes}
elif [ -n "${PERPETUA_DASHBOARD_URL:-}" ]; then
	URL=$PERPETUA_DASHBOARD_URL
	EXPECT=${PERPETUA_EXPECT_LEARNERS:-}
	REQUIRE=${PERPETUA_REQUIRE_SECTIONS:-learners}
else
	echo "browser-test: building the synthetic dashboard server"
	go test -c -o "$WORK/dashboard.test" ./internal/dashboard || fail "cannot build internal/dashboard's test binary"
	PERPETUA_DASHBOARD_SERVE=127.0.0.1:0 PERPETUA_DASHBOARD_ADDRFILE="$WORK/addr" \
		"$WORK/dashboard.test" -test.run '^TestServeSynthetic$' -test.timeout 0 -test.v >"$ARTIFACTS/server.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		[ -s "$WORK/addr" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || fail "synthetic server exited: $(tail -5 "$ARTIFACTS/server.log")"
		sleep 0.1
	done
	[ -s "$WORK/addr" ] || fail "synthetic server did not report its address within 10s"
	URL="http://$(cat "$WORK/addr")/dashboard/"
	EXPECT=${PERPETUA_EXPECT_LEARNERS:-purchase purchase/frozen risk forecast recommend}
	REQUIRE=${PERPETUA_REQUIRE_SECTIONS:-learners models recommend fraud forecasts routes}
fi
case "$URL" in */) ;; *) URL="$URL/" ;; esac
note "dashboard: $URL"

# Wait for data: the demo's engine may still be starting.
deadline=$((SECONDS + WAIT_S))
while :; do
	n=$(curl -fsS --max-time 5 "${URL}api/state" 2>/dev/null | grep -o '"seq":' | wc -l || true)
	[ "${n:-0}" -ge 2 ] && break
	[ $SECONDS -ge $deadline ] && fail "${URL}api/state has fewer than 2 samples after ${WAIT_S}s"
	sleep 1
done
note "samples in history at start: $n"
case " $REQUIRE " in *" recommend "*)
	# The regret needs served slates with their truth: wait for two samples of it.
	while :; do
		n=$(curl -fsS --max-time 5 "${URL}api/state" 2>/dev/null | grep -o '"recommend.regret":' | wc -l || true)
		[ "${n:-0}" -ge 2 ] && break
		[ $SECONDS -ge $deadline ] && fail "${URL}api/state has fewer than 2 regret samples after ${WAIT_S}s"
		sleep 1
	done
	note "regret samples in history: $n" ;;
esac
case " $REQUIRE " in *" routes "*)
	# The first delivery wave is planned at 07:30 simulated time.
	until curl -fsS --max-time 5 "${URL}api/state" 2>/dev/null | grep -q '"routes":\['; do
		[ $SECONDS -ge $deadline ] && fail "${URL}api/state has no routes after ${WAIT_S}s"
		sleep 1
	done ;;
esac

# 3. Headers, page weight, event stream.
headers=$(curl -fsS -D - -o /dev/null "$URL") || fail "GET $URL failed"
for h in "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'" \
	"X-Content-Type-Options: nosniff" "X-Frame-Options: DENY" "Referrer-Policy: no-referrer"; do
	printf '%s' "$headers" | tr -d '\r' | grep -qiF "$h" || fail "GET $URL lacks header \"$h\""
done
weight=0
for f in "" app.js style.css; do
	b=$(curl -fsS -o /dev/null -w '%{size_download}' "$URL$f") || fail "GET $URL$f failed"
	note "weight ${f:-index.html}: $b bytes"
	weight=$((weight + b))
done
state=$(curl -fsS --compressed -o "$WORK/state.json" -w '%{size_download}' "${URL}api/state") || fail "GET ${URL}api/state failed"
note "weight api/state (as sent, gzip): $state bytes ($(wc -c <"$WORK/state.json") bytes of JSON)"
note "page bundle: $weight bytes; first load with state: $((weight + state)) bytes (target < 307200)"
[ $((weight + state)) -lt 307200 ] || fail "first load is $((weight + state)) bytes; want < 300 KB"
events=$(curl -sS -N --max-time 4 "${URL}api/events" 2>/dev/null | grep -c '^event: sample' || true)
note "api/events: $events sample events in 4s"
[ "${events:-0}" -ge 2 ] || fail "api/events sent $events sample events in 4s; want >= 2"

# 4. Headless Chromium. ?live=poll: an open event stream would hold the
# virtual clock still, so the page follows api/state by polling here.
FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync
	--enable-logging=stderr --v=0 "--virtual-time-budget=$BUDGET_MS")
start_ns=$(date +%s%N)
timeout 120 "$CHROMIUM" "${FLAGS[@]}" --user-data-dir="$WORK/profile1" --dump-dom "${URL}?live=poll" \
	>"$ARTIFACTS/dom.html" 2>"$ARTIFACTS/chromium.log" || fail "chromium --dump-dom failed (rc $?); see $ARTIFACTS/chromium.log"
end_ns=$(date +%s%N)
note "chromium --dump-dom wall time (browser start to dump): $(((end_ns - start_ns) / 1000000)) ms"
DOM="$ARTIFACTS/dom.html"
[ -s "$DOM" ] || fail "chromium dumped an empty DOM"

render=$(grep -o 'data-render-ms="[0-9.]*"' "$DOM" | head -1 | grep -o '[0-9.]*' || true)
[ -n "$render" ] || fail "the page never rendered with data (no data-render-ms on <html>); status: $(grep -o 'class="status[^<]*' "$DOM")"
note "first render with data, page clock (performance.now, virtual time): $render ms"
# Real time from app.js start to the first render, from the console
# lines' wall-clock stamps in chromium's log ([pid:tid:MMDD/HHMMSS.micro:...]).
stamp() { grep -F "$1" "$ARTIFACTS/chromium.log" | head -1 | sed -E 's/^\[[0-9]+:[0-9]+:[0-9]{4}\/([0-9]{2})([0-9]{2})([0-9]{2})\.([0-9]{6}).*/\1 \2 \3 \4/'; }
s1=$(stamp "perpetua-dashboard: app start"); s2=$(stamp "perpetua-dashboard: first render")
if [ -n "$s1" ] && [ -n "$s2" ] && [ "$s1" != "$(grep -F 'perpetua-dashboard: app start' "$ARTIFACTS/chromium.log" | head -1)" ]; then
	us() { set -- $1; echo $(((10#$1 * 3600 + 10#$2 * 60 + 10#$3) * 1000000 + 10#$4)); }
	note "first render with data, wall clock from app.js start: $((($(us "$s2") - $(us "$s1")) / 1000)) ms"
fi
if grep -q 'cannot load state' "$DOM"; then fail "the page could not load api/state"; fi

samples=$(grep -o 'data-samples="[0-9]*"' "$DOM" | head -1 | grep -o '[0-9]*')
note "samples on the page: $samples"
[ "${samples:-0}" -ge 2 ] || fail "the page holds $samples samples; want >= 2"
paths=$(grep -o '<path class="series[^"]*" d="M[^"]*L[^"]*"[^>]*data-points="[0-9]*"' "$DOM" | grep -o 'data-points="[0-9]*"' | grep -o '[0-9]*' | awk '$1 >= 2' | wc -l)
note "chart lines with >= 2 points: $paths"
[ "$paths" -ge 1 ] || fail "no chart has an SVG path with 2 or more points"
for l in $EXPECT; do
	grep -qF "data-learner=\"$l\"" "$DOM" || fail "learner \"$l\" is not on the page"
done
[ -z "$EXPECT" ] || note "learners present: $EXPECT"
# check_sections DOM "SECTIONS": each section has data, of its kind.
check_sections() {
	local DOM=$1
	for s in $2; do
		grep -q "id=\"$s-body\"" "$DOM" || fail "unknown section \"$s\""
		if grep -o "id=\"$s-body\"[^>]*><p class=\"empty\">" "$DOM" >/dev/null; then
			fail "section \"$s\" shows \"no data yet\""
		fi
		case $s in
		learners) grep -q 'class="card learner"' "$DOM" || fail "no learner card" ;;
		models) grep -q 'id="models-table"' "$DOM" || fail "no model table"
			grep -qE '<button type="button" class="(promote|rollback)"' "$DOM" || fail "no promote/rollback button" ;;
		recommend) grep -q 'aria-label="CTR"' "$DOM" || fail "no CTR chart"
			grep -q 'aria-label="regret"' "$DOM" || fail "no regret chart"
			grep -qE 'data-figure="regret"><b>-?[0-9]' "$DOM" || fail "the regret figure is not a number: $(grep -oE 'data-figure="regret"><b>[^<]*' "$DOM" | head -1)"
			grep -qE 'data-series="regret" data-points="([2-9]|[1-9][0-9]+)"' "$DOM" || fail "the regret chart has fewer than 2 points"
			note "recommend: $(grep -oE 'data-figure="(CTR|regret)"><b>[^<]*' "$DOM" | sed -E 's/data-figure="([^"]*)"><b>/\1 /' | tr '\n' ' ')" ;;
		fraud) grep -q 'id="review-queue"' "$DOM" || fail "no review queue"
			grep -q 'class="tag"' "$DOM" || fail "no reason codes in the review queue" ;;
		forecasts) grep -q 'data-series="actual"' "$DOM" && grep -q 'data-series="forecast"' "$DOM" || fail "forecast chart lacks actual or forecast line" ;;
		routes) grep -qE '<polyline class="route"[^>]*points="[^"]+ [^"]+"' "$DOM" || fail "no route polyline" ;;
		esac
	done
}
check_sections "$DOM" "$REQUIRE"
note "sections with data: $REQUIRE"
for s in learners models recommend fraud forecasts routes; do
	if grep -o "id=\"$s-body\"[^>]*><p class=\"empty\">" "$DOM" >/dev/null; then note "section $s: no data yet"; fi
done
if [ -z "${PERPETUA_DASHBOARD_URL:-}" ] && [ -z "$DEMO_PID" ]; then
	grep -q 'class="marker drift"' "$DOM" || fail "no drift marker on the purchase chart"
fi

# 5. Screenshot.
timeout 120 "$CHROMIUM" "${FLAGS[@]}" --user-data-dir="$WORK/profile2" --hide-scrollbars --window-size=1400,2200 \
	--screenshot="$ARTIFACTS/dashboard.png" "${URL}?live=poll" >/dev/null 2>>"$ARTIFACTS/chromium.log" || fail "chromium --screenshot failed"
png=$(wc -c <"$ARTIFACTS/dashboard.png" 2>/dev/null || echo 0)
[ "$png" -gt 20000 ] || fail "screenshot is only $png bytes; the page looks empty"
note "screenshot: $ARTIFACTS/dashboard.png ($png bytes)"

# 6. Real time, live stream and buttons: TestBrowser drives Chromium over
# the DevTools pipe against its own synthetic server (not $URL: it clicks
# Promote), measures the first render without a virtual clock, checks that
# samples arrive over server-sent events, and tries the admin key.
PERPETUA_BROWSER=1 CHROMIUM=$CHROMIUM ARTIFACTS=$ARTIFACTS \
	go test -count=1 -run '^TestBrowser$' -v ./internal/dashboard >"$ARTIFACTS/browser-go-test.log" 2>&1 ||
	fail "TestBrowser failed: $(grep -E '^\s+browser_test.go|FAIL' "$ARTIFACTS/browser-go-test.log" | head -5)"
grep -E 'browser: first render|live:' "$ARTIFACTS/browser-go-test.log" | sed -E 's/^ +browser_test.go:[0-9]+: //' | while IFS= read -r l; do note "$l"; done
note "screenshot (live, after promote): $ARTIFACTS/dashboard-live.png"

# 7. In demo mode: once the whole stream is sent (the engine lingers with
# its dashboard), every section has data, fraud review queue and
# forecasts against actuals included.
if [ -n "$DEMO_PID" ]; then
	deadline=$((SECONDS + 600))
	until grep -q '^Stream sent;' "$ARTIFACTS/demo.log" 2>/dev/null; do
		kill -0 "$DEMO_PID" 2>/dev/null || fail "the demo exited before it lingered: $(tail -5 "$ARTIFACTS/demo.log")"
		[ $SECONDS -ge $deadline ] && fail "the demo did not finish its stream within 600s"
		sleep 1
	done
	# The engine lingers DEMO_LINGER after the stream; the steps above must
	# not have outlasted it.
	kill -0 "$DEMO_PID" 2>/dev/null && curl -fsS --max-time 5 -o /dev/null "${URL}api/state" ||
		fail "the demo's engine stopped lingering before the end-of-stream check (raise DEMO_LINGER): $(tail -3 "$ARTIFACTS/demo.log")"
	timeout 120 "$CHROMIUM" "${FLAGS[@]}" --user-data-dir="$WORK/profile3" --dump-dom "${URL}?live=poll" \
		>"$ARTIFACTS/dom-end.html" 2>>"$ARTIFACTS/chromium.log" || fail "chromium --dump-dom at the end of the stream failed"
	ALL="learners models recommend fraud forecasts routes"
	check_sections "$ARTIFACTS/dom-end.html" "$ALL"
	note "end of the stream: sections with data: $ALL"
	timeout 120 "$CHROMIUM" "${FLAGS[@]}" --user-data-dir="$WORK/profile4" --hide-scrollbars --window-size=1400,2200 \
		--screenshot="$ARTIFACTS/dashboard-end.png" "${URL}?live=poll" >/dev/null 2>>"$ARTIFACTS/chromium.log" || fail "chromium --screenshot at the end of the stream failed"
	png=$(wc -c <"$ARTIFACTS/dashboard-end.png" 2>/dev/null || echo 0)
	[ "$png" -gt 20000 ] || fail "end-of-stream screenshot is only $png bytes; the page looks empty"
	note "screenshot (end of the stream): $ARTIFACTS/dashboard-end.png ($png bytes)"
fi

# 8. In demo mode: the demo ends on its own and writes its report.
if [ -n "$DEMO_PID" ]; then
	wait "$DEMO_PID" || fail "the demo exited with an error: $(tail -5 "$ARTIFACTS/demo.log")"
	SERVER_PID=""
	for c in purchase recommendations forecast fraud routing; do
		grep -q "\"$c\"" "$ARTIFACTS/demo/report.json" || fail "report.json lacks the $c capability"
	done
	grep -q '<svg' "$ARTIFACTS/demo/report.html" || fail "report.html has no plot"
	note "demo: exit 0, report.json and report.html in $ARTIFACTS/demo"
fi
note "PASS"
