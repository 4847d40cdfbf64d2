// Package bench measures Perpetua's whole paths, as `perpetua bench`
// runs them: events posted over loopback HTTP to an embedded engine,
// acknowledged only once durable, then learned from by the prequential
// loop. Kernel benchmarks live next to their code as go test benchmarks;
// this package measures what a user of the binary sees.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/engine"
	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

var attrs = json.RawMessage(`{"device":"mobile","referrer":"search","campaign":"winter-sale"}`)

// IngestConfig configures Ingest. The zero value means the defaults.
type IngestConfig struct {
	Events  int    // events to send (default 200,000)
	Batch   int    // events per request (default 1,000)
	Clients int    // concurrent HTTP clients (default 4)
	Sync    string // log fsync policy (default "always")
	Dir     string // data dir (default: a temporary dir, removed afterwards)
}

// IngestResult is what Ingest measured.
type IngestResult struct {
	Events          int     `json:"events"`
	Batch           int     `json:"batch"`
	Clients         int     `json:"clients"`
	Sync            string  `json:"sync"`
	EventBytes      float64 `json:"event_bytes"` // mean NDJSON bytes per event
	Seconds         float64 `json:"seconds"`     // first request sent → last 202 received
	EventsPerSecond float64 `json:"events_per_second"`
	BatchP50Millis  float64 `json:"batch_p50_ms"`
	BatchP99Millis  float64 `json:"batch_p99_ms"`
	// LearnedSeconds is first request → the learning loop has processed
	// every event (it runs concurrently with ingest).
	LearnedSeconds         float64 `json:"learned_seconds"`
	LearnedEventsPerSecond float64 `json:"learned_events_per_second"`
}

// Ingest starts an engine on loopback, posts simulated shop events as
// NDJSON batches from concurrent clients and measures acknowledged
// events per second and batch latency.
func Ingest(ctx context.Context, cfg IngestConfig) (IngestResult, error) {
	if cfg.Events <= 0 {
		cfg.Events = 200_000
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 4
	}
	if cfg.Sync == "" {
		cfg.Sync = "always"
	}
	res := IngestResult{Batch: cfg.Batch, Clients: cfg.Clients, Sync: cfg.Sync}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "perpetua-bench-")
		if err != nil {
			return res, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}

	// Prepare every request body first so the clients measure only the server.
	shop := sim.New(sim.Config{Seed: 42, Visits: cfg.Events/5 + 1000})
	var bodies [][]byte
	var evs []event.Event
	total, bytesTotal := 0, 0
	for total < cfg.Events && !shop.Done() {
		evs = shop.Next(evs[:0], min(cfg.Batch, cfg.Events-total))
		var b bytes.Buffer
		for i := range evs {
			// Real events carry context; this brings them to ~200 bytes.
			evs[i].Attrs = attrs
			b.Write(event.Append(nil, &evs[i]))
			b.WriteByte('\n')
		}
		bodies = append(bodies, b.Bytes())
		total += len(evs)
		bytesTotal += b.Len()
	}
	res.Events = total
	res.EventBytes = float64(bytesTotal) / float64(total)

	eng, err := engine.New(engine.Config{DataDir: cfg.Dir, Addr: "127.0.0.1:0", Sync: cfg.Sync})
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		eng.Close()
		return res, fmt.Errorf("bench: listen: %w", err)
	}
	engCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- eng.Run(engCtx, ln) }() // owned: waited for before returning
	defer func() { stop(); <-done }()
	base := "http://" + ln.Addr().String()
	for i := 0; ; i++ {
		if eng.Ready() {
			break
		}
		if i > 1000 {
			return res, fmt.Errorf("bench: engine not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}

	transport := &http.Transport{MaxIdleConnsPerHost: cfg.Clients}
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	lat := make([]time.Duration, len(bodies))
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	next := make(chan int, len(bodies))
	for i := range bodies {
		next <- i
	}
	close(next)
	start := time.Now()
	for c := 0; c < cfg.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if err := post(ctx, client, base+"/v1/events", bodies[i]); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return res, firstErr
	}
	res.Seconds = elapsed.Seconds()
	res.EventsPerSecond = float64(total) / res.Seconds
	slices.Sort(lat)
	res.BatchP50Millis = float64(lat[len(lat)/2].Microseconds()) / 1000
	res.BatchP99Millis = float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()) / 1000
	for {
		if p := eng.Runner().Published(); p != nil && p.Offset >= uint64(total) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return res, fmt.Errorf("bench: learning loop did not catch up within 5 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	res.LearnedSeconds = time.Since(start).Seconds()
	res.LearnedEventsPerSecond = float64(total) / res.LearnedSeconds
	return res, nil
}

func post(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("bench: POST /v1/events: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("bench: POST /v1/events: %s: %s", resp.Status, b)
	}
	var r struct {
		Accepted int `json:"accepted"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("bench: POST /v1/events: reply %q: %v", b, err)
	}
	return nil
}
