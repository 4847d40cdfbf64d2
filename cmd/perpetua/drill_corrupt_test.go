package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ingestFor runs 4 clients against p for d.
func ingestFor(p *drillProc, led *drillLedger, seed uint64, round int, clk *drillClock, d time.Duration) {
	stop := make(chan struct{})
	wait := led.clients(p.addr, 4, seed, round, clk, stop)
	time.Sleep(d)
	close(stop)
	wait()
}

// newestCheckpoint returns the newest checkpoint file in dir: the last
// delta if there are deltas, else the full checkpoint.
func newestCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	newest := filepath.Join(dir, "checkpoint.ppt")
	for k := 1; ; k++ {
		p := filepath.Join(dir, fmt.Sprintf("checkpoint.delta.%d.ppt", k))
		if _, err := os.Stat(p); err != nil {
			return newest
		}
		newest = p
	}
}

// flipBytes flips a few bytes of path in its middle third.
func flipBytes(t *testing.T, rng *rand.Rand, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b[len(b)/3+rng.IntN(len(b)/3)] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDrillCorruptSnapshots flips bytes in the newest checkpoint file, then
// in the full checkpoint, then in the model file of the registry version
// that serves. Each time the restarted process refuses the file with a
// message naming it, uses the previous version (the previous checkpoint,
// then replays the log; the live default model), and — for checkpoints —
// ends up serving exactly the predictions of an uninterrupted run.
func TestDrillCorruptSnapshots(t *testing.T) {
	seed := drillSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	work := t.TempDir()
	bin := drillBinary(t, work)
	data := filepath.Join(work, "data")
	ckpts := filepath.Join(data, "checkpoints")
	args := serveArgs(t, data)
	led := newDrillLedger()
	var clk drillClock
	pairs := drillPairs()
	round := 0
	// run starts the process, ingests, waits for the trainer, returns the
	// predictions and stops it gracefully.
	run := func(d time.Duration, check func(p *drillProc)) map[string][]float64 {
		t.Helper()
		p := mustStart(t, bin, args, drillOptions{})
		if check != nil {
			check(p)
		}
		ingestFor(p, led, seed, round, &clk, d)
		round++
		waitCaughtUp(t, p)
		served := servedModels(t, p, pairs)
		p.mustStop(t)
		return served
	}
	// Enough checkpoints for a previous full one and deltas after it: a
	// trickle of events, so the idle checkpoints (every 150 ms) add up
	// while the log stays small.
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(ckpts, "checkpoint.prev.ppt")); err == nil {
			break
		} else if i == 12 {
			t.Fatalf("no previous checkpoint after %d runs: %v", i, err)
		}
		p := mustStart(t, bin, args, drillOptions{})
		stop := make(chan struct{})
		wait := led.pacedClients(p.addr, 1, 100*time.Millisecond, seed, round, &clk, stop)
		time.Sleep(2500 * time.Millisecond)
		close(stop)
		wait()
		round++
		p.mustStop(t)
	}
	run(300*time.Millisecond, nil) // and deltas after the full checkpoint, most likely

	for _, target := range []string{"newest", "full"} {
		path := filepath.Join(ckpts, "checkpoint.ppt")
		if target == "newest" {
			path = newestCheckpoint(t, ckpts)
		}
		flipBytes(t, rng, path)
		served := run(300*time.Millisecond, func(p *drillProc) {
			if at := startOffset(t, p); at == 0 {
				t.Errorf("%s checkpoint corrupt: the restart replayed from 0; want the previous checkpoint", target)
			}
			if s := p.stderr.String(); !strings.Contains(s, "checkpoint refused as corrupt") || !strings.Contains(s, path) {
				t.Errorf("%s checkpoint %s corrupt: the restart did not name it as refused; stderr:\n%s", target, path, s)
			}
		})
		want, _ := replayModels(t, data, "", pairs)
		compareModels(t, "the process restarted on a corrupt "+target+" checkpoint", pairs, served, want)
		t.Logf("%s checkpoint %s refused; the previous one and the log gave the uninterrupted model", target, filepath.Base(path))
	}
	checkLog(t, data, led)

	// The registry: promote a version, corrupt its model file, restart.
	p := mustStart(t, bin, args, drillOptions{})
	var models struct {
		Versions []struct {
			Version uint64 `json:"version"`
		} `json:"versions"`
	}
	getJSON(t, p.addr+"/v1/models", &models)
	if len(models.Versions) == 0 {
		t.Fatal("no registry versions after the runs")
	}
	v := models.Versions[len(models.Versions)-1].Version
	if code, body := postJSON(t, p.addr+"/v1/models/promote", fmt.Sprintf(`{"model":"logistic","version":%d}`, v)); code != 200 {
		t.Fatalf("promote logistic v%d: %d %s", v, code, body)
	}
	p.mustStop(t)
	model := filepath.Join(data, "registry", "purchase", fmt.Sprintf("v%d", v), "model.ppt")
	flipBytes(t, rng, model)
	p = mustStart(t, bin, args, drillOptions{})
	if s := p.stderr.String(); !strings.Contains(s, "cannot be served") || !strings.Contains(s, model) {
		t.Errorf("corrupt registry version: the restart did not refuse %s by name; stderr:\n%s", model, s)
	}
	// The live default serves, and promoting the corrupt version again is
	// refused with its file named.
	waitCaughtUp(t, p)
	if code, body := postJSON(t, p.addr+"/v1/predict/purchase", `{"user_id":"u1","item_id":"i1"}`); code != 200 || !strings.Contains(body, `"model":"mlp"`) {
		t.Errorf("predict after a corrupt champion: %d %s; want 200 from the live mlp", code, body)
	}
	if code, body := postJSON(t, p.addr+"/v1/models/promote", fmt.Sprintf(`{"model":"logistic","version":%d}`, v)); code != 422 || !strings.Contains(body, "corrupt") {
		t.Errorf("promote of the corrupt v%d: %d %s; want 422 naming the corruption", v, code, body)
	}
	p.mustStop(t)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
