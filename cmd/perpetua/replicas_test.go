package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// startPerpetua runs this test binary as perpetua with args (a drill
// child) and, for a server, waits until it is ready.
func startPerpetua(t *testing.T, args ...string) *drillProc {
	t.Helper()
	p := launchPerpetua(t, args...)
	if strings.HasPrefix(p.addr, "http://") {
		t.Logf("%s ready after %v", strings.Join(args[:min(3, len(args))], " "), p.waitReady(t).Round(time.Millisecond))
	}
	return p
}

// launchPerpetua starts the child and returns once it listens (it may
// not be ready yet).
func launchPerpetua(t *testing.T, args ...string) *drillProc {
	t.Helper()
	p, err := startProc(t, os.Args[0], args, drillOptions{env: []string{"PERPETUA_TEST_MAIN=1"}})
	if err != nil {
		t.Fatalf("perpetua %v: %v", args, err)
	}
	return p
}

type modelsState struct {
	Champion struct {
		Learner string `json:"learner"`
		Version uint64 `json:"version"`
	} `json:"champion"`
	Versions []struct {
		Version uint64 `json:"version"`
	} `json:"versions"`
}

func modelsOf(t *testing.T, base string) modelsState {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"models", "list", "--target", base, "--json"}, &out, io.Discard); err != nil {
		t.Fatalf("models list on %s: %v", base, err)
	}
	var st modelsState
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("models list: %v: %s", err, out.String())
	}
	return st
}

// TestReplicasCLI is issue #10's check as processes: `perpetua nats`, one
// `perpetua serve --role train` and two `--role serve` replicas on
// loopback; a promotion and a rollback on the trainer under load from
// `perpetua loadtest` on both replicas fail no request, the replicas
// follow each within 2 s, and a replica killed with SIGKILL comes back
// (it holds no state) serving the same champion.
func TestReplicasCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	nats := startPerpetua(t, "nats", "--dir", t.TempDir(), "--addr", "127.0.0.1:0")
	roleArgs := func(role string) []string {
		return []string{"serve", "--role", role, "--log", nats.addr, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0",
			"--sync", "never", "--log-level", "warn"}
	}
	serve := func(role string) *drillProc { return startPerpetua(t, roleArgs(role)...) }
	trainer := serve("train")
	shop := sim.New(sim.Config{Seed: 9, Visits: 6000})
	var evs []event.Event
	for !shop.Done() {
		evs = shop.Next(evs[:0], 2000)
		var b bytes.Buffer
		for i := range evs {
			b.Write(event.Append(nil, &evs[i]))
			b.WriteByte('\n')
		}
		resp, err := http.Post(trainer.addr+"/v1/events", "application/x-ndjson", &b)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("POST events: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(modelsOf(t, trainer.addr).Versions) == 0 { // a version comes with each full checkpoint (idle: 10 s)
		if time.Now().After(deadline) {
			t.Fatalf("the trainer registered no version within 60 s; stderr: %s", trainer.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	reps := []*drillProc{serve("serve"), serve("serve")}
	waitChampion := func(r *drillProc, learner string, version uint64) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			c := modelsOf(t, r.addr).Champion
			if c.Learner == learner && c.Version == version {
				return time.Since(start)
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("replica %s serves %+v after 30 s; want %s v%d; stderr: %s", r.addr, c, learner, version, r.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	vs := modelsOf(t, trainer.addr).Versions
	v := vs[len(vs)-1].Version // the newest: what the replicas serve already
	if err := run(context.Background(), []string{"models", "promote", "--target", trainer.addr, "--model", "logistic"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		waitChampion(r, "logistic", 0)
	}

	// Load on both replicas (perpetua loadtest) while the trainer
	// promotes a version and rolls back.
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, len(reps))
	for i, r := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(context.Background(), []string{"loadtest", "--target", r.addr, "--endpoints", "predict", "--duration", "3s", "--clients", "8", "--json"}, &outs[i], io.Discard); err != nil {
				t.Errorf("loadtest on %s: %v", r.addr, err)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := run(context.Background(), []string{"models", "promote", "--target", trainer.addr, "--model", "deep", "--version", fmt.Sprint(v)}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	for _, r := range reps {
		worst = max(worst, waitChampion(r, "deep", v))
	}
	time.Sleep(500 * time.Millisecond)
	if err := run(context.Background(), []string{"models", "rollback", "--target", trainer.addr}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		worst = max(worst, waitChampion(r, "logistic", 0))
	}
	wg.Wait()
	t.Logf("replicas followed the promotion and the rollback within %v (polling /v1/models)", worst)
	if worst > 2*time.Second && !raceEnabled { // under -race, loading a version takes several times longer
		t.Errorf("a replica followed after %v; want ≤ 2 s", worst)
	}
	for i, out := range outs {
		var res struct {
			Results []struct {
				Requests, Errors  int
				RequestsPerSecond float64 `json:"requests_per_second"`
				P99               float64 `json:"p99_ms"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Results) != 1 {
			t.Fatalf("loadtest output %q: %v", out.String(), err)
		}
		r := res.Results[0]
		t.Logf("replica %d: %d predictions, %d errors, %.0f req/s, p99 %.2f ms", i, r.Requests, r.Errors, r.RequestsPerSecond, r.P99)
		if r.Errors != 0 || r.Requests < 100 {
			t.Errorf("replica %d: %d errors in %d requests during the swaps; want 0", i, r.Errors, r.Requests)
		}
	}

	// SIGKILL a replica; a new one on a fresh data dir serves the same.
	if err := run(context.Background(), []string{"models", "promote", "--target", trainer.addr, "--model", "deep", "--version", fmt.Sprint(v)}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	waitChampion(reps[1], "deep", v)
	pairs := `{"pairs":[{"user_id":"u1","item_id":"i1"},{"user_id":"u9","item_id":"i4"}]}`
	answer := func(base string) string {
		resp, err := http.Post(base+"/v1/predict/purchase", "application/json", strings.NewReader(pairs))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Model       string            `json:"model"`
			Predictions []json.RawMessage `json:"predictions"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		return fmt.Sprint(r.Model, r.Predictions)
	}
	before := answer(reps[1].addr)
	reps[0].kill()
	again := serve("serve")
	waitChampion(again, "deep", v)
	// It answers as the other once it has read the log to its end.
	for start := time.Now(); answer(again.addr) != before; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("a restarted replica answers %s after 30 s; the other %s", answer(again.addr), before)
		}
	}

	// Kill drill: events flow into the trainer and both replicas while a
	// replica is SIGKILLed at a random moment and replaced, round after
	// round. Every acknowledged event is then in the shared log exactly
	// once, and the replicas answer alike again.
	reps[0] = again
	// A replica is killed at any moment, also while it replays the shared
	// log at start (before it is ready), and takes events meanwhile.
	rounds, pause := 3, 10*time.Millisecond // a bounded flood: the replicas replay it at each start
	if os.Getenv("PERPETUA_LONG") == "1" {
		rounds, pause = 25, 0
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("PERPETUA_DRILL_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, 10))
	t.Logf("kill drill: %d rounds, PERPETUA_DRILL_SEED=%d", rounds, seed)
	var (
		ackMu sync.Mutex
		acked = map[string]bool{}
		batch atomic.Int64
	)
	poster := func(target func() string, stop <-chan struct{}, done *sync.WaitGroup) {
		defer done.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := batch.Add(1)
			var b bytes.Buffer
			ids := make([]string, 20)
			for k := range ids {
				ids[k] = fmt.Sprintf("drill-%d-%d", n, k)
				fmt.Fprintf(&b, `{"id":%q,"type":"view","timestamp":"2027-02-01T00:%02d:%02dZ","user_id":"u%d","item_id":"i%d"}`+"\n", ids[k], n%60, k, n%50, k)
			}
			resp, err := http.Post(target()+"/v1/events", "application/x-ndjson", &b)
			if err != nil {
				time.Sleep(20 * time.Millisecond) // the replica is being replaced
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 202 {
				ackMu.Lock()
				for _, id := range ids {
					acked[id] = true
				}
				ackMu.Unlock()
			}
			time.Sleep(pause)
		}
	}
	var addrMu sync.Mutex
	current := func(i int) func() string {
		return func() string { addrMu.Lock(); defer addrMu.Unlock(); return reps[i].addr }
	}
	stop := make(chan struct{})
	var posters sync.WaitGroup
	posters.Add(3)
	go poster(func() string { return trainer.addr }, stop, &posters)
	go poster(current(0), stop, &posters)
	go poster(current(1), stop, &posters)
	for range rounds {
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		i := rng.IntN(2)
		reps[i].kill()
		r := launchPerpetua(t, roleArgs("serve")...)
		addrMu.Lock()
		reps[i] = r
		addrMu.Unlock()
	}
	close(stop)
	posters.Wait()
	opts, err := natslog.ParseURL(nats.addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lg, err := natslog.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	rd, err := lg.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	count := map[string]int{}
	for {
		rec, err := rd.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if e, err := event.Decode(rec.Data); err == nil {
			count[e.ID]++
		}
	}
	for id := range acked {
		if count[id] != 1 {
			t.Fatalf("acknowledged event %s is in the log %d times; want once", id, count[id])
		}
	}
	t.Logf("kill drill: %d replica kills, %d acknowledged events, each in the log once (%d records)", rounds, len(acked), lg.End())
	if len(acked) == 0 {
		t.Fatal("no event was acknowledged during the drill")
	}
	for _, r := range reps {
		t.Logf("a replica ready %v after the drill", r.waitReady(t).Round(time.Millisecond))
	}
	for start := time.Now(); answer(reps[0].addr) != answer(reps[1].addr); time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 60*time.Second {
			t.Fatalf("after the drill the replicas answer %s and %s", answer(reps[0].addr), answer(reps[1].addr))
		}
	}
}
