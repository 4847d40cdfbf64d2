package bench

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/engine"
)

func TestLoadRefusesRemoteTargets(t *testing.T) {
	for _, target := range []string{"http://example.com:8080", "http://10.0.0.1:80", "ftp://127.0.0.1:21", "127.0.0.1:8080"} {
		if _, err := Load(context.Background(), LoadConfig{Target: target}); err == nil {
			t.Errorf("Load(%q): no error", target)
		}
	}
	if _, err := Load(context.Background(), LoadConfig{Target: "http://127.0.0.1:1", Endpoints: []string{"nope"}}); err == nil {
		t.Error("Load with an unknown endpoint: no error")
	}
}

// TestLoadEngine loads every endpoint of an engine on loopback briefly:
// every request must succeed.
func TestLoadEngine(t *testing.T) {
	eng, err := engine.New(engine.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Sync: "never"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for i := 0; !eng.Ready(); i++ {
		if i > 500 {
			t.Fatal("not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := Load(context.Background(), LoadConfig{Target: "http://" + ln.Addr().String(), Endpoints: LoadEndpoints,
		Duration: 5 * time.Second, Requests: 150, Clients: 4, Users: 50, Items: 40})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(LoadEndpoints) {
		t.Fatalf("%d results; want %d", len(res), len(LoadEndpoints))
	}
	for _, r := range res {
		t.Logf("%+v", r)
		if r.Requests == 0 || r.RequestsPerSecond <= 0 || r.P99Millis < r.P50Millis {
			t.Errorf("%s: %+v", r.Endpoint, r)
		}
		// Forecasts of SKUs without orders are 404 by design; everything
		// else must succeed.
		if r.Endpoint != "forecast" && r.Errors != 0 {
			t.Errorf("%s: %d errors (%v)", r.Endpoint, r.Errors, r.Statuses)
		}
	}
}
