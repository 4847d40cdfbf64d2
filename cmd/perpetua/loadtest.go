package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/perpetua-ml/perpetua/internal/bench"
)

// cmdLoadtest loads a running server on loopback and reports throughput
// and latency percentiles per endpoint.
func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadtest", stderr)
	target := fs.String("target", "", "base URL of a running server on loopback, e.g. http://127.0.0.1:8080 (required)")
	endpoints := fs.String("endpoints", "ingest,predict,recommend,feedback,forecast,risk", "comma-separated: "+strings.Join(bench.LoadEndpoints, ", "))
	duration := fs.Duration("duration", 5*time.Second, "time per endpoint (at most 10m)")
	requests := fs.Int("requests", 100_000, "requests per endpoint at most")
	clients := fs.Int("clients", 16, "concurrent clients")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *target == "" {
		return usagef("loadtest: --target is required")
	}
	res, err := bench.Load(ctx, bench.LoadConfig{
		Target: *target, Endpoints: strings.Split(*endpoints, ","), Duration: *duration,
		Requests: *requests, Clients: *clients, Key: os.Getenv("PERPETUA_API_KEY"),
	})
	if err != nil {
		return err
	}
	if *jsonOut {
		b, _ := json.Marshal(struct {
			Task    string             `json:"task"`
			Target  string             `json:"target"`
			Clients int                `json:"clients"`
			Results []bench.LoadResult `json:"results"`
		}{"loadtest", *target, *clients, res})
		_, err := fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "%-10s %9s %8s %10s %9s %9s %9s %9s\n", "endpoint", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
	for _, r := range res {
		fmt.Fprintf(stdout, "%-10s %9d %8d %10.0f %9.2f %9.2f %9.2f %9.2f\n", r.Endpoint, r.Requests, r.Errors, r.RequestsPerSecond,
			r.P50Millis, r.P90Millis, r.P99Millis, r.MaxMillis)
	}
	return nil
}
