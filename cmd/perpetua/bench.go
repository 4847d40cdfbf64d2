package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/perpetua-ml/perpetua/internal/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "purchase" {
		return cmdBenchPurchase(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "ingest" {
		args = args[1:]
	}
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

func cmdBenchPurchase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench purchase", stderr)
	examples := fs.Int("examples", 300_000, "stream length")
	vocab := fs.Int("vocab", 1_000_000, "IDs per categorical field (Zipf)")
	hidden := fs.String("hidden", "64,32", "MLP hidden widths")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	hs, err := parseInts(*hidden)
	if err != nil {
		return usagef("bench purchase: --hidden: %v", err)
	}
	if *examples < 1000 || *vocab < 2 {
		return usagef("bench purchase: --examples ≥ 1000 and --vocab ≥ 2")
	}
	res, err := bench.Purchase(ctx, bench.PurchaseConfig{Examples: *examples, Vocab: *vocab, Hidden: hs})
	if err != nil {
		return err
	}
	if *jsonOut {
		b, _ := json.Marshal(struct {
			Task string `json:"task"`
			bench.PurchaseResult
		}{"bench purchase", res})
		_, err := fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "purchase model: 26 categorical × 16-dim embeddings + 13 numeric → MLP %v → 1, %d examples, Zipf IDs\n", res.Hidden, res.Examples)
	fmt.Fprintf(stdout, "  deep, true online (predict → score → learn, one at a time, 1 core): %.0f examples/s, AUC %.4f (Bayes-optimal %.4f)\n", res.DeepExamplesPerSecond, res.DeepAUC, res.BayesAUC)
	fmt.Fprintf(stdout, "  deep, 2 sharded replicas on 2 cores: %.0f examples/s (×%.2f)\n", res.ShardedExamplesPerSecond, res.ShardedScaling)
	fmt.Fprintf(stdout, "  logistic baseline (FTRL, hashed features): %.0f examples/s, AUC %.4f\n", res.LogisticExamplesPerSecond, res.LogisticAUC)
	fmt.Fprintf(stdout, "  embedding tables: %d live IDs, %.1f bytes per ID\n", res.LiveIDs, res.BytesPerID)
	fmt.Fprintf(stdout, "  scoring 500 candidates for one user: p50 %.3f ms, p99 %.3f ms\n", res.Score500P50Millis, res.Score500P99Millis)
	return nil
}
