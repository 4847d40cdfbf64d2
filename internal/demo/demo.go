// Package demo runs Perpetua end to end on a simulated shop: it starts the
// engine embedded on loopback, streams the shop's events through the HTTP
// API in batches, and reports how the purchase models' prequential metrics
// react when the shoppers' behaviour shifts halfway.
//
// Everything the models see goes through the public API (POST
// /v1/events), exactly as a real shop's events would; the demo reads the
// metrics from the engine in process only to print them.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/engine"
	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// Config configures a demo run. The zero value means the defaults.
type Config struct {
	Days    int    // simulated days (default 4); the shift happens halfway
	Seed    uint64 // simulator and model seed (default 1)
	DataDir string // engine data dir; empty means a temporary dir, removed afterwards
	Batch   int    // events per HTTP request (default 1000)
	Rows    int    // progress rows to print (default 16)
	Out     io.Writer
}

// visitsPerDay matches sim's default mean gap of 20s between visits.
const visitsPerDay = 86400 / 20

// Summary is what a demo run measured.
type Summary struct {
	Events      int
	Seconds     float64
	Before      map[string]float64 // window log loss per model just before the shift
	AfterShift  map[string]float64 // worst window log loss per model after the shift
	End         map[string]float64 // window log loss per model at the end
	Checkpoint  uint64             // log offset of the final checkpoint
	Predictions int
}

// Run runs the demo and prints its report to cfg.Out.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.Days <= 0 {
		cfg.Days = 4
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.Rows <= 0 {
		cfg.Rows = 16
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	out := cfg.Out
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "perpetua-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	eng, err := engine.New(engine.Config{DataDir: cfg.DataDir, Addr: "127.0.0.1:0", Seed: cfg.Seed, Window: 2000, Keys: ""})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen: %w", err)
	}
	engCtx, stopEngine := context.WithCancel(ctx)
	defer stopEngine()
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Run(engCtx, ln) }() // owned: waited for below
	base := "http://" + ln.Addr().String()
	if err := waitReady(ctx, base); err != nil {
		stopEngine()
		<-engDone
		return nil, err
	}

	shop := sim.New(sim.Config{Seed: cfg.Seed, Visits: cfg.Days * visitsPerDay})
	fmt.Fprintf(out, "Perpetua demo: a simulated shop, %d days, seed %d, engine at %s (data dir %s)\n", cfg.Days, cfg.Seed, base, cfg.DataDir)
	fmt.Fprintf(out, "Each view is an example: will this user buy this item within 30 minutes?\n")
	fmt.Fprintf(out, "Every model predicts before it learns (prequential); halfway, shoppers change what they buy\n")
	fmt.Fprintf(out, "(cheap items and second looks sold before; expensive items and first looks sell after).\n")
	fmt.Fprintf(out, "Metrics are over the last 2000 labelled examples.\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "events\tsim time\tregime\tlabelled\tbuy rate\tmlp logloss\tmlp AUC\tlogistic logloss\tlogistic AUC\tdeep logloss\tdeep AUC\t")

	sum := &Summary{Before: map[string]float64{}, AfterShift: map[string]float64{}, End: map[string]float64{}}
	client := &http.Client{Timeout: 30 * time.Second}
	start := time.Now()
	var evs []event.Event
	var body bytes.Buffer
	total := cfg.Days * visitsPerDay * 6 // rough event count, for row spacing
	every := total / cfg.Rows
	nextRow := every
	shifted, markedShift := false, false
	var lastSimTime time.Time
	for !shop.Done() {
		if err := ctx.Err(); err != nil {
			break
		}
		evs = shop.Next(evs[:0], cfg.Batch)
		if len(evs) == 0 {
			break
		}
		body.Reset()
		for i := range evs {
			body.Write(event.Append(nil, &evs[i]))
			body.WriteByte('\n')
		}
		lastSimTime = evs[len(evs)-1].Timestamp
		end, err := post(ctx, client, base+"/v1/events", body.Bytes())
		if err != nil {
			stopEngine()
			<-engDone
			return nil, err
		}
		sum.Events += len(evs)
		p, err := waitOffset(ctx, eng.Runner(), end)
		if err != nil {
			break
		}
		if !shifted && shop.Shifted() {
			shifted = true
			for _, m := range p.Models {
				sum.Before[m.Name] = m.Metrics.WindowLogLoss
			}
		}
		if shifted {
			for _, m := range p.Models {
				sum.AfterShift[m.Name] = math.Max(sum.AfterShift[m.Name], m.Metrics.WindowLogLoss)
			}
		}
		if sum.Events >= nextRow || shop.Done() {
			nextRow += every
			regime := "before"
			switch {
			case shifted && !markedShift:
				regime, markedShift = "SHIFTED", true
			case shifted:
				regime = "after"
			}
			row(tw, sum.Events, lastSimTime, regime, p)
		}
	}
	tw.Flush()
	sum.Seconds = time.Since(start).Seconds()
	if p := eng.Runner().Published(); p != nil {
		for _, m := range p.Models {
			sum.End[m.Name] = m.Metrics.WindowLogLoss
		}
	}
	fmt.Fprintf(out, "\n%d events sent through POST /v1/events and learned from in %.1fs (%.0f events/s end to end).\n",
		sum.Events, sum.Seconds, float64(sum.Events)/sum.Seconds)
	for _, name := range []string{"mlp", "logistic", "deep"} {
		fmt.Fprintf(out, "%-9s window log loss: %.4f before the shift → %.4f at worst after it → %.4f at the end (adapted)\n",
			name, sum.Before[name], sum.AfterShift[name], sum.End[name])
	}

	// Ask the served model, as a client would.
	if n, err := showPredictions(ctx, client, base, out); err == nil {
		sum.Predictions = n
	} else {
		fmt.Fprintf(out, "predict: %v\n", err)
	}

	stopEngine()
	if err := <-engDone; err != nil {
		return sum, err
	}
	sum.Checkpoint = eng.Runner().Offset()
	fmt.Fprintf(out, "\nShut down cleanly: ingest stopped, log flushed, checkpoint written at log offset %d.\n", sum.Checkpoint)
	return sum, nil
}

func row(w io.Writer, n int, t time.Time, regime string, p *continual.Published) {
	var mlp, lr, dp continual.PublishedModel
	for _, m := range p.Models {
		switch m.Name {
		case "mlp":
			mlp = m
		case "logistic":
			lr = m
		case "deep":
			dp = m
		}
	}
	rate := 0.0
	if p.Stats.Labelled > 0 {
		rate = float64(p.Stats.Positives) / float64(p.Stats.Labelled)
	}
	fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%.3f\t%.4f\t%.3f\t%.4f\t%.3f\t%.4f\t%.3f\t\n", n, t.Format("Jan 2 15:04"), regime,
		p.Stats.Labelled, rate, mlp.Metrics.WindowLogLoss, mlp.Metrics.WindowAUC,
		lr.Metrics.WindowLogLoss, lr.Metrics.WindowAUC, dp.Metrics.WindowLogLoss, dp.Metrics.WindowAUC)
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return errors.New("demo: engine did not become ready within 10s")
}

// post sends one NDJSON batch and returns the log end offset after it.
func post(ctx context.Context, c *http.Client, url string, body []byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("demo: POST /v1/events: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("demo: POST /v1/events: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var r struct {
		Accepted    uint64 `json:"accepted"`
		FirstOffset uint64 `json:"first_offset"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("demo: POST /v1/events: reply %q: %v", b, err)
	}
	return r.FirstOffset + r.Accepted, nil
}

// waitOffset waits until the runner has published models that have
// processed the log up to end.
func waitOffset(ctx context.Context, r *continual.Runner, end uint64) (*continual.Published, error) {
	for {
		if p := r.Published(); p != nil && p.Offset >= end {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func showPredictions(ctx context.Context, c *http.Client, base string, out io.Writer) (int, error) {
	body := `{"pairs":[{"user_id":"u1","item_id":"i0"},{"user_id":"u1","item_id":"i7"},{"user_id":"u42","item_id":"i3"},{"user_id":"new-user","item_id":"i0"}]}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/predict/purchase", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", resp.Status, b)
	}
	var r struct {
		Model       string `json:"model"`
		Version     uint64 `json:"version"`
		Predictions []struct {
			UserID      string  `json:"user_id"`
			ItemID      string  `json:"item_id"`
			Probability float64 `json:"probability"`
		} `json:"predictions"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "\nPOST /v1/predict/purchase → model %s, version %d:\n", r.Model, r.Version)
	for _, p := range r.Predictions {
		fmt.Fprintf(out, "  P(%s buys %s) = %.3f\n", p.UserID, p.ItemID, p.Probability)
	}
	return len(r.Predictions), nil
}
