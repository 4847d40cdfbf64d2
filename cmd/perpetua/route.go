package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/perpetua-ml/perpetua/internal/route"
)

// cmdRoute solves a vehicle-routing instance file (CVRPLIB .vrp, Solomon
// VRPTW text, or the API's JSON form).
func cmdRoute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("route", stderr)
	instance := fs.String("instance", "", "instance file: CVRPLIB .vrp, Solomon .txt or JSON (required)")
	limit := fs.Duration("time-limit", 10*time.Second, "search time")
	seed := fs.Uint64("seed", 1, "search seed")
	workers := fs.Int("workers", 0, "parallel searches (0: one per CPU)")
	objective := fs.String("objective", "distance", "distance, or hierarchical (fewest vehicles first)")
	solOut := fs.String("sol", "", "also write the solution in CVRPLIB .sol form to this file")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *instance == "" {
		return usagef("route: --instance is required")
	}
	if *limit <= 0 || *limit > 24*time.Hour {
		return usagef("route: --time-limit %v: want (0, 24h]", *limit)
	}
	obj, err := route.ParseObjective(*objective)
	if err != nil {
		return usagef("route: --objective: %v", err)
	}
	inst, err := route.LoadFile(*instance)
	if err != nil {
		return err
	}
	opt := route.Options{TimeLimit: *limit, Seed: *seed, Workers: *workers, Objective: obj}
	sol, solveErr := route.Solve(ctx, inst, opt)
	if sol == nil {
		return solveErr
	}
	res := route.NewResult(inst, sol, opt)
	if *solOut != "" {
		f, err := os.Create(*solOut)
		if err != nil {
			return fmt.Errorf("route: --sol: %w", err)
		}
		if err := route.WriteSol(f, inst, sol); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("route: --sol: %w", err)
		}
	}
	if *jsonOut {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "%s: cost %s with %d routes (feasible %v) after %.1fs, %d iterations on %d workers\n",
			res.Instance, route.FormatCost(inst, res.Cost), res.Vehicles, res.Feasible, res.Seconds, res.Iterations, res.Workers)
		for i, r := range res.Routes {
			fmt.Fprintf(stdout, "Route #%d: %v\n", i+1, r)
		}
	}
	if errors.Is(solveErr, route.ErrNoFeasible) {
		return solveErr // exit 1 after printing the least-infeasible plan
	}
	return solveErr
}
