package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// TestHotSwapUnderLoad promotes live learners and registered versions and
// rolls back while many clients score purchases: no request may fail, and
// each answer names the model the swap put in place. A corrupt version is
// refused and the champion stays; the champion survives a restart.
func TestHotSwapUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Addr: "127.0.0.1:0", Sync: "never", CheckpointEvery: 3000}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	for i := 0; !e.Ready(); i++ {
		if i > 500 {
			t.Fatal("not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	shop := sim.New(sim.Config{Seed: 3, Visits: 4000})
	var evs []event.Event
	for !shop.Done() {
		evs = shop.Next(evs[:0], 2000)
		var b bytes.Buffer
		for i := range evs {
			b.Write(event.Append(nil, &evs[i]))
			b.WriteByte('\n')
		}
		resp, err := http.Post(base+"/v1/events", "application/x-ndjson", &b)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("POST events: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	end := e.Log().End()
	for i := 0; e.Runner().Published() == nil || e.Runner().Published().Offset < end; i++ {
		if i > 3000 {
			t.Fatal("the loop did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	admin := func(method, path, body string) (int, modelsReply) {
		req, _ := http.NewRequest(method, base+path, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r modelsReply
		json.NewDecoder(resp.Body).Decode(&r)
		return resp.StatusCode, r
	}
	code, list := admin("GET", "/v1/models", "")
	if code != 200 || len(list.Versions) == 0 || list.Champion.Learner != "mlp" {
		t.Fatalf("GET /v1/models = %d %+v; want versions and the mlp champion", code, list)
	}
	v1 := list.Versions[0]
	if v1.LogTo == 0 || len(v1.Learners) != 3 {
		t.Fatalf("version 1 %+v", v1)
	}

	// Load: clients score continuously while the admin swaps.
	stop := scoreLoad(16, []string{base}, func(c int) string {
		return fmt.Sprintf(`{"pairs":[{"user_id":"u%d","item_id":"i1"},{"user_id":"u1","item_id":"i%d"}]}`, c, c)
	})
	steps := []struct {
		body, path string
		code       int
		learner    string
		version    uint64
	}{
		{`{"model":"deep"}`, "/v1/models/promote", 200, "deep", 0},
		{fmt.Sprintf(`{"model":"logistic","version":%d}`, v1.Version), "/v1/models/promote", 200, "logistic", v1.Version},
		{`{"model":"nope"}`, "/v1/models/promote", 404, "logistic", v1.Version},
		{`{}`, "/v1/models/rollback", 200, "deep", 0},
		{`{}`, "/v1/models/rollback", 409, "deep", 0},
	}
	for _, s := range steps {
		time.Sleep(150 * time.Millisecond)
		code, r := admin("POST", s.path, s.body)
		if code != s.code || r.Champion.Learner != "" && (r.Champion.Learner != s.learner || r.Champion.Version != s.version) {
			t.Fatalf("%s %s = %d, champion %+v; want %d and %s v%d", s.path, s.body, code, r.Champion, s.code, s.learner, s.version)
		}
	}
	time.Sleep(150 * time.Millisecond)
	answered, failures, seen := stop()
	t.Logf("%d predictions answered during the swaps, %d failed", answered, failures)
	if failures != 0 || answered < 50 {
		t.Fatalf("%d failed requests (of %d answered); want 0", failures, answered)
	}
	for _, m := range []string{"mlp", "deep", "logistic"} {
		if !seen[m] {
			t.Errorf("no prediction was answered by %s: the swaps did not take effect", m)
		}
	}
	// A corrupt version is refused; the champion stays.
	path := filepath.Join(dir, "registry", "purchase", fmt.Sprintf("v%d", v1.Version), "model.ppt")
	b, _ := os.ReadFile(path)
	b[len(b)/3] ^= 1
	os.WriteFile(path, b, 0o644)
	if code, _ := admin("POST", "/v1/models/promote", fmt.Sprintf(`{"model":"mlp","version":%d}`, v1.Version)); code != 422 {
		t.Fatalf("promote of a corrupt version = %d; want 422", code)
	}
	if c, _, _ := e.Runner().Champion(); c != "deep" {
		t.Fatalf("champion after a refused promotion = %s; want deep", c)
	}
	// Canary and shadow.
	if code, _ := admin("POST", "/v1/models/traffic", `{"canary":"nope","canary_share":0.1}`); code != 404 {
		t.Fatalf("traffic with an unknown canary = %d; want 404", code)
	}
	if code, r := admin("POST", "/v1/models/traffic", `{"shadow":"logistic"}`); code != 200 || r.Traffic.Shadow != "logistic" {
		t.Fatalf("traffic = %d %+v", code, r.Traffic)
	}
	resp, err := http.Post(base+"/v1/predict/purchase", "application/json", bytes.NewBufferString(`{"pairs":[{"user_id":"u1","item_id":"i1"},{"user_id":"u2","item_id":"i2"}]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("predict with a shadow: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, r := admin("GET", "/v1/models", ""); r.Shadow.Pairs != 2 {
		t.Fatalf("shadow stats %+v; want 2 pairs", r.Shadow)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The champion survives a restart.
	e2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if c, pm, _ := e2.Runner().Champion(); c != "deep" || pm != "" {
		t.Fatalf("after restart the champion is %s (pinned %q); want the live deep", c, pm)
	}
}
