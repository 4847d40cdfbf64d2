package main

import (
	"context"
	"io"

	"github.com/perpetua-ml/perpetua/internal/demo"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	days := fs.Int("days", 4, "simulated days of shop traffic (behaviour shifts halfway)")
	seed := fs.Uint64("seed", 1, "simulator and model seed")
	dataDir := fs.String("data-dir", "", "keep the engine's data here (default: a temporary dir, removed at exit)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *days < 1 || *days > 365 {
		return usagef("--days %d: want 1 to 365", *days)
	}
	_, err := demo.Run(ctx, demo.Config{Days: *days, Seed: *seed, DataDir: *dataDir, Out: stdout})
	return err
}
