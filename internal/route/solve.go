package route

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Objective selects what Solve minimises.
type Objective int

const (
	// ObjectiveDistance minimises total cost (the CVRPLIB/DIMACS
	// convention) regardless of the number of vehicles.
	ObjectiveDistance Objective = iota
	// ObjectiveHierarchical minimises the number of vehicles first, then
	// cost (the classic Solomon/SINTEF convention).
	ObjectiveHierarchical
)

func (o Objective) String() string {
	if o == ObjectiveHierarchical {
		return "hierarchical"
	}
	return "distance"
}

// ParseObjective parses "distance" or "hierarchical".
func ParseObjective(s string) (Objective, error) {
	switch s {
	case "", "distance":
		return ObjectiveDistance, nil
	case "hierarchical", "vehicles":
		return ObjectiveHierarchical, nil
	}
	return 0, fmt.Errorf("route: objective %q: want distance or hierarchical", s)
}

// Options configure Solve. The zero value means a 10 s limit, seed 0, one
// worker per CPU and the distance objective.
type Options struct {
	// TimeLimit bounds the search; 0 means 10 s.
	TimeLimit time.Duration
	// Seed makes runs reproducible: with the same Seed, Workers and an
	// iteration limit (MaxIterations) reached before the time limit, Solve
	// returns the same solution.
	Seed uint64
	// Workers is the number of islands searched in parallel; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// Objective selects distance or hierarchical (fewest vehicles first).
	Objective Objective
	// MaxIterations stops each worker after this many genetic iterations;
	// 0 means no limit.
	MaxIterations int
	// Granular is the neighbour-list size of the local search; 0 means 20
	// (40 with time windows).
	Granular int
	// MigrationInterval is the number of iterations between migrations of
	// the islands' best solutions (ring order); 0 means 500.
	MigrationInterval int
}

// TracePoint records an improvement of the best feasible solution.
type TracePoint struct {
	Elapsed   time.Duration `json:"elapsed_ns"`
	Cost      float64       `json:"cost"`
	Vehicles  int           `json:"vehicles"`
	Iteration int           `json:"iteration"`
}

// Stats are run statistics attached to a solved Solution.
type Stats struct {
	Elapsed time.Duration
	Trace   []TracePoint // improvements, in time order, across workers
	Workers int
}

// ErrNoFeasible is returned (wrapped) when the search ended without a
// feasible solution; Solve then returns the least-infeasible solution too.
var ErrNoFeasible = errors.New("route: no feasible solution found")

// Solve searches for a low-cost feasible solution until the time limit,
// the iteration limit or ctx's cancellation, and returns the best feasible
// solution found so far (cancellation is not an error once one exists).
// The returned solution has passed Check. Solve uses opt.Workers
// goroutines and waits for all of them before returning.
func Solve(ctx context.Context, inst *Instance, opt Options) (*Solution, error) {
	if inst == nil || inst.dist == nil {
		return nil, errors.New("route: instance not prepared (use a loader or call Prepare)")
	}
	start := time.Now()
	limit := opt.TimeLimit
	if limit <= 0 {
		limit = 10 * time.Second
	}
	deadline := start.Add(limit)
	W := opt.Workers
	if W <= 0 {
		W = runtime.GOMAXPROCS(0)
	}
	epoch := opt.MigrationInterval
	if epoch <= 0 {
		epoch = 500
	}
	p := newProblem(inst, opt.Granular, opt.Objective == ObjectiveHierarchical)
	stop := func() bool { return ctx.Err() != nil || time.Now().After(deadline) }

	islands := make([]*island, W)
	for w := range islands {
		islands[w] = newIsland(p, splitmix(opt.Seed+uint64(w)*0x9e3779b97f4a7c15), start)
		islands[w].initBudget = limit / 8
	}
	// Constructive starts: savings (shared), and per-island sweep and
	// regret insertion with the island's own randomness.
	sav := p.savings()
	var wg sync.WaitGroup
	for round := 0; ; round++ {
		for _, is := range islands {
			wg.Add(1)
			go func(is *island) {
				defer wg.Done()
				is.runEpoch(epoch, sav, stop, opt.MaxIterations)
			}(is)
		}
		wg.Wait()
		done := stop()
		if opt.MaxIterations > 0 {
			all := true
			for _, is := range islands {
				if is.iter < opt.MaxIterations {
					all = false
				}
			}
			done = done || all
		}
		if done {
			break
		}
		if p.fixed > 0 {
			// Hierarchical objective: island 0 searches with one route
			// fewer than the best known solution, the others at its count.
			var gb *indiv
			for _, is := range islands {
				if is.best != nil && (gb == nil || is.best.objective(p) < gb.objective(p)) {
					gb = is.best
				}
			}
			if gb != nil {
				for w, is := range islands {
					want := gb.nRoutes
					if w == 0 {
						want--
					}
					if want < is.target && want >= 1 {
						is.lowerTarget(want, gb)
					}
				}
			}
		}
		if W > 1 {
			bests := make([]*indiv, W)
			for w, is := range islands {
				bests[w] = is.best
			}
			for w, is := range islands {
				is.immigrate(bests[(w+W-1)%W])
			}
		}
	}
	stats := &Stats{Elapsed: time.Since(start), Workers: W}
	var best *indiv
	iters := 0
	for _, is := range islands {
		iters += is.iter
		if is.best != nil && (best == nil || is.best.objective(p) < best.objective(p)-eps) {
			best = is.best
		}
		stats.Trace = append(stats.Trace, is.trace...)
	}
	sort.SliceStable(stats.Trace, func(a, b int) bool { return stats.Trace[a].Elapsed < stats.Trace[b].Elapsed })
	kept := stats.Trace[:0]
	for _, t := range stats.Trace {
		if len(kept) == 0 || t.Cost+p.fixed*float64(t.Vehicles) < kept[len(kept)-1].Cost+p.fixed*float64(kept[len(kept)-1].Vehicles)-eps {
			kept = append(kept, t)
		}
	}
	stats.Trace = kept
	if best == nil {
		// Least-infeasible individual for diagnosis.
		var worst *indiv
		for _, is := range islands {
			for _, x := range is.infeas {
				if worst == nil || x.pcost < worst.pcost {
					worst = x
				}
			}
		}
		if worst == nil {
			return nil, fmt.Errorf("%w within %v (search did not complete one individual)", ErrNoFeasible, stats.Elapsed.Round(time.Millisecond))
		}
		sol := toSolution(worst, iters, stats)
		err := Evaluate(inst, sol)
		return sol, fmt.Errorf("%w within %v: %v", ErrNoFeasible, stats.Elapsed.Round(time.Millisecond), err)
	}
	sol := toSolution(best, iters, stats)
	if err := Evaluate(inst, sol); err != nil {
		return nil, fmt.Errorf("route: internal error: solver solution failed the independent check: %w", err)
	}
	if math.Abs(sol.Cost-best.dist) > 1e-6*math.Max(1, sol.Cost) {
		return nil, fmt.Errorf("route: internal error: solver cost %v, checker cost %v", best.dist, sol.Cost)
	}
	return sol, nil
}

func toSolution(x *indiv, iters int, st *Stats) *Solution {
	sol := &Solution{Iterations: iters, Stats: st}
	for _, r := range x.routes {
		if len(r) == 0 {
			continue
		}
		rr := make([]int, len(r))
		for k, c := range r {
			rr[k] = int(c)
		}
		sol.Routes = append(sol.Routes, rr)
	}
	return sol
}

// runEpoch runs up to iters iterations (initialising the population when
// empty).
func (is *island) runEpoch(iters int, sav [][]int32, stop func() bool, maxIter int) {
	for k := 0; k < iters; k++ {
		if stop() || maxIter > 0 && is.iter >= maxIter {
			return
		}
		if len(is.feas)+len(is.infeas) == 0 {
			seeds := is.pending
			is.pending = nil
			var gens []func() [][]int32
			if !is.seeded {
				seeds = append(seeds, sav)
				gens = append(gens, func() [][]int32 { return is.p.sweep(is.rng) }, func() [][]int32 { return is.p.regret(is.rng) })
				is.seeded = true
			}
			is.initPopulation(seeds, gens, stop, time.Now().Add(is.initBudget))
			continue
		}
		is.step()
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Result is the JSON output of `perpetua route --json`.
type Result struct {
	Instance string `json:"instance"`
	// Cost is the total cost by the instance family's convention.
	Cost float64 `json:"cost"`
	// Routes lists customer ids exactly as numbered in the instance file,
	// depot excluded.
	Routes [][]int `json:"routes"`
	// SolRoutes lists the same routes in CVRPLIB .sol numbering (for
	// CVRPLIB files the 1-based customer position, depot omitted; for
	// Solomon the file ids).
	SolRoutes  [][]int `json:"sol_routes"`
	Vehicles   int     `json:"vehicles"`
	Feasible   bool    `json:"feasible"`
	Seconds    float64 `json:"seconds"`
	Iterations int     `json:"iterations"`
	Seed       uint64  `json:"seed"`
	Workers    int     `json:"workers"`
	Objective  string  `json:"objective"`
}

// NewResult builds the JSON result of a solve.
func NewResult(inst *Instance, sol *Solution, opt Options) *Result {
	st := sol.Stats
	r := &Result{Instance: inst.Name, Cost: sol.Cost, Vehicles: sol.Vehicles(), Feasible: sol.Feasible,
		Iterations: sol.Iterations, Seed: opt.Seed, Objective: opt.Objective.String()}
	if st != nil {
		r.Seconds = st.Elapsed.Seconds()
		r.Workers = st.Workers
	}
	if inst.Metric == MetricTrunc1 || inst.Metric == MetricRound || inst.Metric == MetricCeil {
		r.Cost = math.Round(r.Cost*10) / 10
	}
	r.Routes = [][]int{}
	r.SolRoutes = [][]int{}
	for _, rt := range sol.Routes {
		ids := make([]int, len(rt))
		sids := make([]int, len(rt))
		for k, c := range rt {
			ids[k] = inst.IDs[c]
			sids[k] = inst.SolID(c)
		}
		r.Routes = append(r.Routes, ids)
		r.SolRoutes = append(r.SolRoutes, sids)
	}
	return r
}

// SolveFile loads an instance file (format detected by LoadFile), solves
// it and returns the result printed by `perpetua route --json`. When no
// feasible solution was found, it returns the least-infeasible result
// (Feasible false) together with an error wrapping ErrNoFeasible.
func SolveFile(ctx context.Context, path string, opt Options) (*Result, error) {
	inst, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	sol, err := Solve(ctx, inst, opt)
	if sol == nil {
		return nil, err
	}
	return NewResult(inst, sol, opt), err
}
