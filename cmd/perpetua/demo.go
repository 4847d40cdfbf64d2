package main

import (
	"context"
	"io"

	"github.com/perpetua-ml/perpetua/internal/demo"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	days := fs.Int("days", 3, "simulated days of shop traffic (tastes shift abruptly halfway)")
	users := fs.Int("users", 10000, "simulated users")
	seed := fs.Uint64("seed", 1, "simulator and model seed")
	out := fs.String("out", "", "write report.json and report.html to this directory")
	dataDir := fs.String("data-dir", "", "keep the engine's data here (default: a temporary dir, removed at exit)")
	linger := fs.Duration("linger", 0, "keep the engine and its dashboard up this long after the stream (0: stop at once)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *days < 2 || *days > 365 {
		return usagef("--days %d: want 2 to 365", *days)
	}
	if *users < 500 || *users > 10_000_000 {
		return usagef("--users %d: want 500 to 10000000", *users)
	}
	_, err := demo.Run(ctx, demo.Config{Days: *days, Users: *users, Seed: *seed, DataDir: *dataDir, OutDir: *out, Out: stdout, Linger: *linger})
	return err
}
