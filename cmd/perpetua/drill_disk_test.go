package main

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmpfsWrapper is a bash script that runs a command with dir on a tmpfs
// of a given size in a private mount namespace: it copies dir's content
// onto the tmpfs, runs the command (forwarding SIGTERM), then copies the
// tmpfs's content back over dir, so that a later run without the limit
// sees what the limited run left. Usage: wrapper DIR SIZE CMD ARGS….
const tmpfsWrapper = `set -u
dir=$1 size=$2; shift 2
hold=$(mktemp -d)
cp -a "$dir/." "$hold/"
mount -t tmpfs -o "size=$size" tmpfs "$dir" || exit 97
cp -a "$hold/." "$dir/"
rm -rf "$hold"
"$@" &
pid=$!
trap 'kill -TERM $pid' TERM
wait $pid
rc=$?
while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done
hold=$(mktemp -d)
cp -a "$dir/." "$hold/"
umount "$dir"
find "$dir" -mindepth 1 -delete
cp -a "$hold/." "$dir/"
rm -rf "$hold"
exit $rc
`

// tmpfsArgv returns the command that runs args with dir on a tmpfs of
// size bytes, or skips the test when mount namespaces are not available.
func tmpfsArgv(t *testing.T, work, dir string, size int64, args []string) []string {
	t.Helper()
	script := filepath.Join(work, "tmpfs.sh")
	if err := os.WriteFile(script, []byte(tmpfsWrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	unshare := []string{"unshare", "-m"}
	if os.Geteuid() != 0 {
		unshare = []string{"unshare", "-rm"} // a user namespace to mount in
	}
	probe := exec.Command(unshare[0], append(unshare[1:], "sh", "-c", "mount -t tmpfs -o size=64k tmpfs \"$1\"", "-", work)...)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs in a private mount namespace here (%v: %s); the full-disk drill needs it", err, out)
	}
	return append(append(unshare, "bash", script, dir, fmt.Sprint(size)), args...)
}

// duBytes is the space dir's files take on a tmpfs (whole pages).
func duBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			n += (fi.Size() + 4095) / 4096 * 4096
		}
		return nil
	})
	return n
}

// postUntil posts sequential batches until one is not answered 202 and
// returns that answer, or fails after limit.
func postUntil(t *testing.T, p *drillProc, led *drillLedger, rng *rand.Rand, clk *drillClock, name string, limit time.Duration) (int, string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for b := 0; time.Now().Before(deadline); b++ {
		id := fmt.Sprintf("%s-b%d", name, b)
		n := 1 + rng.IntN(60)
		code, body := led.post(p.addr, id, n, drillBatch(rng, clk, id, n))
		if code != http.StatusAccepted {
			return code, body
		}
	}
	return 0, ""
}

// TestDrillFullDisk fills the data dir's file system for real (a small
// tmpfs in a private mount namespace): ingest answers 503 once the log
// cannot grow and acknowledges nothing it did not persist, checkpoints
// fail with a logged error naming the disk error while the previous
// checkpoint stays valid, and a restart with space again opens the log
// with every acknowledged event, refuses nothing, and trains the same
// model as an uninterrupted run. Then only the registry's file system is
// full: registering a version fails with a logged error, and the
// registry stays consistent.
func TestDrillFullDisk(t *testing.T) {
	seed := drillSeed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	work := t.TempDir()
	bin := drillBinary(t, work)
	data := filepath.Join(work, "data")
	args := serveArgs(t, data)
	led := newDrillLedger()
	var clk drillClock
	pairs := drillPairs()

	// Some history with space.
	p := mustStart(t, bin, args, drillOptions{})
	ingestFor(p, led, seed, 0, &clk, 300*time.Millisecond)
	waitCaughtUp(t, p)
	p.mustStop(t)

	// The data dir on a tmpfs with 256 KiB to spare: the log fills it;
	// every checkpoint (MiBs) fails first.
	size := duBytes(t, data) + 256<<10
	p = mustStart(t, bin, args, drillOptions{argv: tmpfsArgv(t, work, data, size, append([]string{bin}, args...))})
	code, body := postUntil(t, p, led, rng, &clk, "full", 2*time.Minute)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "nothing was written") {
		t.Fatalf("ingest on a full disk: %d %s; want 503 saying nothing was written", code, body)
	}
	// It stays refused (the log does not append after a failed write).
	if code, body := postUntil(t, p, led, rng, &clk, "full-again", time.Minute); code != http.StatusServiceUnavailable {
		t.Fatalf("ingest after the disk filled: %d %s; want 503", code, body)
	}
	waitCaughtUp(t, p) // reads and training go on
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.stderr.String(), "checkpoint failed") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stderr := p.stderr.String()
	for _, want := range []string{"checkpoint failed", "no space left on device"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("full disk: stderr does not say %q:\n%s", want, stderr)
		}
	}
	if v, ok := metricValue(t, p.addr, `perpetua_ingest_batches_rejected_total{reason="append_failed"}`); !ok || v < 2 {
		t.Errorf("full disk: %v batches counted as append_failed (found %v); want ≥ 2", v, ok)
	}
	if !strings.Contains(stderr, "append to the event log failed") || !strings.Contains(stderr, ".seg: no space left on device") {
		t.Errorf("full disk: the append failure is not logged with the segment and the cause:\n%s", stderr)
	}
	// Operators see it: /readyz fails with the reason (a load balancer
	// stops sending events), and a gauge says so.
	if code, body := getStatus(t, p.addr+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no space left on device") {
		t.Errorf("full disk: GET /readyz = %d %s; want 503 failing with the cause", code, body)
	}
	if v, ok := metricValue(t, p.addr, "perpetua_log_failed"); !ok || v != 1 {
		t.Errorf("full disk: perpetua_log_failed = %v (found %v); want 1", v, ok)
	}
	if code, body := postJSON(t, p.addr+"/v1/predict/purchase", `{"user_id":"u1","item_id":"i1"}`); code != 200 {
		t.Errorf("predict on a full disk: %d %s; want 200", code, body)
	}
	exit := p.stop(t)
	t.Logf("full disk: %d batches acknowledged; exit %v; last stderr line: %s", len(led.acked), exit, lastLine(p.stderr.String()))
	if exit != nil && !strings.Contains(lastLine(p.stderr.String()), "no space left on device") {
		t.Errorf("exit %v after SIGTERM on a full disk without naming the cause; stderr:\n%s", exit, p.stderr)
	}

	// Space again.
	p = mustStart(t, bin, args, drillOptions{})
	startOffset(t, p)
	if s := p.stderr.String(); strings.Contains(s, "refused") || strings.Contains(s, "level=ERROR") {
		t.Errorf("restart after a full disk complained:\n%s", s)
	}
	if code, body := postUntil(t, p, led, rng, &clk, "space", 200*time.Millisecond); code != 0 {
		t.Errorf("ingest with space again: %d %s; want 202", code, body)
	}

	// Only the registry is full: checkpoints work, versions cannot be
	// registered.
	p.mustStop(t)
	reg := filepath.Join(data, "registry")
	p = mustStart(t, bin, args, drillOptions{argv: tmpfsArgv(t, work, reg, duBytes(t, reg)+32<<10, append([]string{bin}, args...))})
	deadline = time.Now().Add(2 * time.Minute)
	for r := 1; !strings.Contains(p.stderr.String(), "registering a model version failed") && time.Now().Before(deadline); r++ {
		ingestFor(p, led, seed, 100+r, &clk, 300*time.Millisecond)
	}
	if s := p.stderr.String(); !strings.Contains(s, "registering a model version failed") || !strings.Contains(s, "no space left on device") {
		t.Errorf("full registry: no registration error naming the cause; stderr:\n%s", s)
	}
	waitCaughtUp(t, p)
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM with a full registry: %v; stderr:\n%s", err, p.stderr)
	}

	// Space again: every version listed loads (promote verifies it), and
	// the model is the uninterrupted run's.
	p = mustStart(t, bin, args, drillOptions{})
	waitCaughtUp(t, p)
	var models struct {
		Versions []struct {
			Version uint64 `json:"version"`
		} `json:"versions"`
	}
	getJSON(t, p.addr+"/v1/models", &models)
	for _, v := range models.Versions {
		if code, body := postJSON(t, p.addr+"/v1/models/promote", fmt.Sprintf(`{"model":"mlp","version":%d}`, v.Version)); code != 200 {
			t.Errorf("promote v%d after a full registry: %d %s", v.Version, code, body)
		}
	}
	served := servedModels(t, p, pairs)
	p.mustStop(t)
	checkLog(t, data, led)
	want, _ := replayModels(t, data, "", pairs)
	compareModels(t, "the process after a full disk", pairs, served, want)
	t.Logf("%d versions in the registry, all loadable; %d batches acknowledged in all", len(models.Versions), len(led.acked))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// getStatus fetches url and returns the status and body.
func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
