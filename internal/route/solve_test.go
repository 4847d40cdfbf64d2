package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCheckDetectsViolations(t *testing.T) {
	in, err := Parse("tiny.txt", []byte(tinySolomon))
	if err != nil {
		t.Fatal(err)
	}
	good := &Solution{Routes: [][]int{{1, 2}, {3}}}
	if err := Evaluate(in, good); err != nil {
		t.Fatalf("Evaluate(good) = %v", err)
	}
	tests := []struct {
		name   string
		routes [][]int
		cost   float64 // 0: use the good cost
		vehLim int
		want   string
	}{
		{"twice", [][]int{{1, 2}, {3, 1}}, 0, 0, "customer 1: visited twice"},
		{"missing", [][]int{{1, 2}}, 0, 0, "customer 3: not visited"},
		{"capacity", [][]int{{1, 2, 3}}, 0, 0, "exceeds the capacity"},
		{"depot", [][]int{{0, 1}}, 0, 0, "not a customer"},
		{"fleet", [][]int{{1}, {2}, {3}}, 0, 2, "uses 3 vehicles, the fleet has 2"},
		{"cost", [][]int{{1, 2}, {3}}, 1, 0, "reported cost 1"},
	}
	for _, tt := range tests {
		cp := *in
		if tt.vehLim > 0 {
			cp.Vehicles = tt.vehLim
		}
		sol := &Solution{Routes: tt.routes, Cost: good.Cost}
		if tt.cost != 0 {
			sol.Cost = tt.cost
		} else if tt.name == "fleet" || tt.name == "capacity" {
			_ = Evaluate(&cp, sol)
		}
		err := Check(&cp, sol)
		if err == nil || !errors.Is(err, ErrInfeasible) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check(%s) = %v; want error containing %q", tt.name, err, tt.want)
		}
	}
	// Time windows: customer 1 due 50; a long detour makes it late.
	tw := *in
	tw.Due = append([]float64(nil), in.Due...)
	tw.Due[1] = 3
	sol := &Solution{Routes: [][]int{{3, 2, 1}}}
	if err := Evaluate(&tw, sol); err == nil || !strings.Contains(err.Error(), "customer 1: arrives at") {
		t.Errorf("Check(late) = %v; want a late-arrival error for customer 1", err)
	}
}

func loadData(t testing.TB, sub, file string) *Instance {
	t.Helper()
	dir := needData(t, sub)
	in, err := LoadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatalf("LoadFile(%q) = %v", file, err)
	}
	return in
}

// TestSolveSmall solves a few shared instances with short limits and checks
// feasibility (independently) and a loose gap to the best-known value.
func TestSolveSmall(t *testing.T) {
	tests := []struct {
		sub, file string
		vehicles  int
		bks       float64
		maxGap    float64 // percent
		limit     time.Duration
	}{
		{"cvrplib-augerat-A", "A-n32-k5.vrp", 0, 784, 3, time.Second},
		{"cvrplib-augerat-A", "A-n45-k7.vrp", 0, 1146, 4, time.Second},
		{"solomon-vrptw-C1-R1", "C101.txt", 10, 827.3, 3, 2 * time.Second},
		{"solomon-vrptw-C1-R1", "R105.txt", 15, 1355.3, 8, 2 * time.Second},
	}
	for _, tt := range tests {
		in := loadData(t, tt.sub, tt.file)
		if tt.vehicles > 0 {
			in.Vehicles = tt.vehicles
		}
		sol, err := Solve(context.Background(), in, Options{TimeLimit: tt.limit, Seed: 7, Workers: 2})
		if err != nil {
			t.Errorf("Solve(%q) = %v", tt.file, err)
			continue
		}
		if err := Check(in, sol); err != nil {
			t.Errorf("Check(Solve(%q)) = %v", tt.file, err)
		}
		gap := 100 * (sol.Cost - tt.bks) / tt.bks
		t.Logf("%s: cost %.1f (BKS %v, gap %.2f%%), %d vehicles, %d iterations", tt.file, sol.Cost, tt.bks, gap, sol.Vehicles(), sol.Iterations)
		if gap > tt.maxGap {
			t.Errorf("Solve(%q) cost %v = gap %.2f%%; want <= %v%%", tt.file, sol.Cost, gap, tt.maxGap)
		}
		if gap < -1e-6 {
			t.Errorf("Solve(%q) cost %v is below the proven/best-known %v: cost convention broken", tt.file, sol.Cost, tt.bks)
		}
	}
}

func TestSolveDeterministic(t *testing.T) {
	in := loadData(t, "cvrplib-augerat-A", "A-n37-k6.vrp")
	opt := Options{TimeLimit: time.Minute, Seed: 42, Workers: 2, MaxIterations: 150, MigrationInterval: 50}
	a, err := Solve(context.Background(), in, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Solve(context.Background(), in, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Routes, b.Routes) || a.Cost != b.Cost {
		t.Errorf("Solve(seed 42) twice = %v / %v; want identical", a.Cost, b.Cost)
	}
}

func TestSolveCancelReturnsBest(t *testing.T) {
	in := loadData(t, "solomon-vrptw-C1-R1", "R101.txt")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	sol, err := Solve(ctx, in, Options{TimeLimit: time.Minute, Workers: 2})
	if el := time.Since(start); el > 6*time.Second {
		t.Errorf("Solve returned %v after cancellation; want promptly", el)
	}
	if err != nil {
		t.Fatalf("Solve(cancelled) = %v; want the best solution so far", err)
	}
	if err := Check(in, sol); err != nil {
		t.Errorf("Check = %v", err)
	}
}

// randomInstance builds a uniform random CVRP instance with n customers.
func randomInstance(n int, seed uint64, tw bool) *Instance {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := &Instance{Name: fmt.Sprintf("rand-%d", n), Kind: KindJSON, Metric: MetricRound, Capacity: 100}
	for i := 0; i <= n; i++ {
		in.IDs = append(in.IDs, i+1)
		in.X = append(in.X, math.Round(rng.Float64()*1000))
		in.Y = append(in.Y, math.Round(rng.Float64()*1000))
		d := 0.0
		if i > 0 {
			d = float64(1 + rng.IntN(10))
		}
		in.Demand = append(in.Demand, d)
	}
	if tw {
		in.Ready = make([]float64, n+1)
		in.Due = make([]float64, n+1)
		in.Service = make([]float64, n+1)
		in.Due[0] = 13000
		for i := 1; i <= n; i++ {
			// Opens no earlier than a direct trip can arrive.
			in.Ready[i] = math.Ceil(math.Hypot(in.X[i]-in.X[0], in.Y[i]-in.Y[0])) + float64(rng.IntN(8000))
			in.Due[i] = in.Ready[i] + 500 + float64(rng.IntN(1000))
			in.Service[i] = 10
		}
	}
	if err := in.Prepare(); err != nil {
		panic(err)
	}
	return in
}

// TestLargeInstanceFeasibleFast checks a 1,000-stop instance yields a
// feasible solution within 2 s (the scaling target) and that the
// search keeps improving afterwards.
func TestLargeInstanceFeasibleFast(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("timing test: skipped under -race and -short")
	}
	in := randomInstance(1000, 3, false)
	start := time.Now()
	sol, err := Solve(context.Background(), in, Options{TimeLimit: 2 * time.Second, Workers: 2, Seed: 1})
	el := time.Since(start)
	if err != nil {
		t.Fatalf("Solve(1000 stops, 2s) = %v", err)
	}
	if err := Check(in, sol); err != nil {
		t.Fatalf("Check = %v", err)
	}
	if el > 2500*time.Millisecond {
		t.Errorf("Solve(1000 stops) took %v; want about 2s", el)
	}
	tr := sol.Stats.Trace
	t.Logf("1000 stops: first feasible %.0f at %v, final %.0f after %v (%d improvements)", tr[0].Cost, tr[0].Elapsed, sol.Cost, el, len(tr))
	if len(tr) < 2 || tr[len(tr)-1].Cost >= tr[0].Cost {
		t.Errorf("no improvement after the first feasible solution: trace %v", tr)
	}
}

func TestHierarchicalUsesFewerVehicles(t *testing.T) {
	in := loadData(t, "solomon-vrptw-C1-R1", "R101.txt")
	d, err := Solve(context.Background(), in, Options{TimeLimit: 1500 * time.Millisecond, Workers: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	h, err := Solve(context.Background(), in, Options{TimeLimit: 1500 * time.Millisecond, Workers: 2, Seed: 3, Objective: ObjectiveHierarchical})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("R101 distance objective: %d vehicles %.1f; hierarchical: %d vehicles %.1f", d.Vehicles(), d.Cost, h.Vehicles(), h.Cost)
	if h.Vehicles() > d.Vehicles() {
		t.Errorf("hierarchical objective used %d vehicles; distance objective %d", h.Vehicles(), d.Vehicles())
	}
}

func TestResultJSON(t *testing.T) {
	in := loadData(t, "cvrplib-augerat-A", "A-n32-k5.vrp")
	opt := Options{TimeLimit: 300 * time.Millisecond, Seed: 1, Workers: 1}
	sol, err := Solve(context.Background(), in, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(NewResult(in, sol, opt))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cost", "routes", "vehicles", "feasible", "seconds"} {
		if _, ok := got[k]; !ok {
			t.Errorf("Result JSON lacks %q: %s", k, b)
		}
	}
	// Route ids are file node ids: the depot (1) never appears, customers
	// are 2..32.
	r := NewResult(in, sol, opt)
	for _, rt := range r.Routes {
		for _, id := range rt {
			if id < 2 || id > 32 {
				t.Errorf("route id %d outside the file's customer ids 2..32", id)
			}
		}
	}
}

// TestSmallEdgeCases solves instances with one and two customers.
func TestSmallEdgeCases(t *testing.T) {
	for n := 1; n <= 3; n++ {
		in := randomInstance(n, uint64(n), n == 2)
		sol, err := Solve(context.Background(), in, Options{TimeLimit: 100 * time.Millisecond, Workers: 2})
		if err != nil {
			t.Errorf("Solve(%d customers) = %v", n, err)
			continue
		}
		if err := Check(in, sol); err != nil {
			t.Errorf("Check(%d customers) = %v", n, err)
		}
	}
}

func TestSolveFile(t *testing.T) {
	dir := needData(t, "cvrplib-augerat-A")
	r, err := SolveFile(context.Background(), filepath.Join(dir, "A-n33-k5.vrp"), Options{TimeLimit: 300 * time.Millisecond, Workers: 1})
	if err != nil {
		t.Fatalf("SolveFile = %v", err)
	}
	if !r.Feasible || r.Instance != "A-n33-k5" || len(r.Routes) != r.Vehicles || r.Cost < 661 {
		t.Errorf("SolveFile = %+v; want a feasible A-n33-k5 result with cost >= 661", r)
	}
	if _, err := SolveFile(context.Background(), filepath.Join(dir, "missing.vrp"), Options{}); err == nil {
		t.Errorf("SolveFile(missing) = nil error")
	}
}
