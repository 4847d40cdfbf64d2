package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/perpetua-ml/perpetua/internal/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	events := fs.Int("events", 200_000, "events to ingest")
	batch := fs.Int("batch", 1000, "events per HTTP request")
	clients := fs.Int("clients", 4, "concurrent HTTP clients")
	sync := fs.String("sync", "always", "log fsync policy: always, interval, never")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *events < 1 || *batch < 1 || *batch > 10_000 || *clients < 1 || *clients > 256 {
		return usagef("bench: --events ≥ 1, --batch in [1, 10000], --clients in [1, 256]")
	}
	switch *sync {
	case "always", "interval", "never":
	default:
		return usagef("bench: --sync %q: want always, interval or never", *sync)
	}
	res, err := bench.Ingest(ctx, bench.IngestConfig{Events: *events, Batch: *batch, Clients: *clients, Sync: *sync})
	if err != nil {
		return err
	}
	if *jsonOut {
		b, _ := json.Marshal(struct {
			Task   string             `json:"task"`
			Ingest bench.IngestResult `json:"ingest"`
		}{"bench", res})
		_, err := fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "HTTP ingest (NDJSON, %d events/batch, %d clients, sync=%s, %.0f bytes/event):\n", res.Batch, res.Clients, res.Sync, res.EventBytes)
	fmt.Fprintf(stdout, "  %d events acknowledged (durable) in %.2fs: %.0f events/s; batch latency p50 %.2f ms, p99 %.2f ms\n",
		res.Events, res.Seconds, res.EventsPerSecond, res.BatchP50Millis, res.BatchP99Millis)
	fmt.Fprintf(stdout, "  learned by the prequential loop (2 models) %.2fs after the first request: %.0f events/s end to end\n",
		res.LearnedSeconds, res.LearnedEventsPerSecond)
	return nil
}
