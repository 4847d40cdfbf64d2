package main

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chmodTree makes every dir and file under root read-only (ro) or
// writable again.
func chmodTree(t *testing.T, root string, ro bool) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		if ro {
			mode &^= 0o222
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDrillReadOnlyDataDir starts `perpetua serve` on a data dir it may
// not write: it exits with an error naming the path. Then a data dir
// made read-only while the process runs: checkpoints fail with a logged
// error naming the path (ingest goes on into the open segment), the
// stop reports the failed final checkpoint, and once writable again the
// process starts without refusing anything, with every acknowledged
// event, and trains the uninterrupted run's model.
//
// Root ignores file permissions, so as root the child runs as nobody
// (uid and gid 65534).
func TestDrillReadOnlyDataDir(t *testing.T) {
	seed := drillSeed(t)
	rng := rand.New(rand.NewPCG(seed, 4))
	var opts drillOptions
	// The child (maybe nobody) must reach the binary and the data dir:
	// a world-readable work dir, not t.TempDir's 0700 one.
	work, err := os.MkdirTemp("", "perpetua-drill-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { chmodTree(t, work, false); os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := drillBinary(t, work)
	data := filepath.Join(work, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	own := func() {}
	if os.Geteuid() == 0 {
		opts.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		own = func() {
			filepath.WalkDir(data, func(path string, _ fs.DirEntry, err error) error {
				if err == nil {
					err = os.Lchown(path, 65534, 65534)
				}
				return err
			})
		}
	}
	own()
	args := serveArgs(t, data)
	led := newDrillLedger()
	var clk drillClock

	// A fresh, read-only data dir.
	chmodTree(t, data, true)
	if _, err := startProc(t, bin, args, opts); err == nil || !strings.Contains(err.Error(), filepath.Join(data, "log")) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("serve on a read-only empty data dir: %v; want an exit naming %s and the permission", err, filepath.Join(data, "log"))
	}
	chmodTree(t, data, false)

	// Some history, then the whole dir read-only before a start.
	p := mustStart(t, bin, args, opts)
	ingestFor(p, led, seed, 0, &clk, 300*time.Millisecond)
	waitCaughtUp(t, p)
	p.mustStop(t)
	chmodTree(t, data, true)
	_, err = startProc(t, bin, args, opts)
	if err == nil || !strings.Contains(err.Error(), data) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("serve on a read-only data dir with a log: %v; want an exit naming the path and the permission", err)
	}
	t.Logf("read-only data dir: %s", lastLine(err.Error()))
	chmodTree(t, data, false)

	// Read-only while running.
	p = mustStart(t, bin, args, opts)
	ingestFor(p, led, seed, 1, &clk, 200*time.Millisecond)
	chmodTree(t, data, true)
	deadline := time.Now().Add(time.Minute)
	for r := 2; !strings.Contains(p.stderr.String(), "checkpoint failed") && time.Now().Before(deadline); r++ {
		ingestFor(p, led, seed, r, &clk, 200*time.Millisecond)
	}
	if s := p.stderr.String(); !strings.Contains(s, "checkpoint failed") || !strings.Contains(s, filepath.Join(data, "checkpoints")) || !strings.Contains(s, "permission denied") {
		t.Errorf("read-only while running: no checkpoint error naming the dir and the permission; stderr:\n%s", s)
	}
	if code, body := postUntil(t, p, led, rng, &clk, "ro", 200*time.Millisecond); code != 0 {
		t.Errorf("ingest into the open segment of a read-only dir: %d %s; want 202", code, body)
	}
	waitCaughtUp(t, p)
	exit := p.stop(t)
	if exit == nil || !strings.Contains(lastLine(p.stderr.String()), "permission denied") {
		t.Errorf("stop with a read-only data dir: exit %v, last line %q; want a failure naming the permission", exit, lastLine(p.stderr.String()))
	}
	chmodTree(t, data, false)

	// Writable again.
	pairs := drillPairs()
	p = mustStart(t, bin, args, opts)
	startOffset(t, p)
	if s := p.stderr.String(); strings.Contains(s, "refused") || strings.Contains(s, "level=ERROR") {
		t.Errorf("restart after a read-only spell complained:\n%s", s)
	}
	ingestFor(p, led, seed, 99, &clk, 200*time.Millisecond)
	waitCaughtUp(t, p)
	served := servedModels(t, p, pairs)
	p.mustStop(t)
	checkLog(t, data, led)
	want, _ := replayModels(t, data, "", pairs)
	compareModels(t, "the process after a read-only spell", pairs, served, want)
	t.Logf("%d batches acknowledged; the model equals the uninterrupted run's", len(led.acked))
}
