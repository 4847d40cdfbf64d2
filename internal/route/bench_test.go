package route

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dataDir is the shared data folder relative to this package.
var dataDir = filepath.Join("..", "..", "..", "shared", "data")

func needData(t testing.TB, sub string) string {
	t.Helper()
	d := filepath.Join(dataDir, sub)
	if _, err := os.Stat(d); err != nil {
		t.Skipf("shared data %s not found at %s; skipping", sub, d)
	}
	return d
}

type bksRow struct {
	name     string
	value    float64
	vehicles int // Solomon: routes of the best-known solution
}

// readBKS reads bks.csv: CVRPLIB columns instance,...,value,...; Solomon
// columns instance,customers,vehicles_available,capacity,bks_routes,bks_distance.
func readBKS(t testing.TB, dir string) []bksRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "bks.csv"))
	if err != nil {
		t.Fatalf("open bks.csv: %v", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read bks.csv: %v", err)
	}
	col := map[string]int{}
	for k, h := range recs[0] {
		col[strings.TrimSpace(h)] = k
	}
	var out []bksRow
	for _, r := range recs[1:] {
		row := bksRow{name: r[col["instance"]]}
		if k, ok := col["value"]; ok {
			row.value, _ = strconv.ParseFloat(r[k], 64)
			row.vehicles, _ = strconv.Atoi(r[col["trucks"]])
		} else {
			row.value, _ = strconv.ParseFloat(r[col["bks_distance"]], 64)
			row.vehicles, _ = strconv.Atoi(r[col["bks_routes"]])
		}
		out = append(out, row)
	}
	return out
}

func envDuration(name string, def time.Duration) time.Duration {
	if s := os.Getenv(name); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return def
}

// TestBenchmarkSets runs the issue #8 benchmark: CVRPLIB set A at 10 s per
// instance and Solomon C1/R1 at 30 s per instance (both on 2 workers),
// with the fleet limited to the best-known solution's vehicle count for
// Solomon, and prints a per-instance table. It is gated by
// PERPETUA_LONG=1 (about 18 minutes):
//
//	PERPETUA_LONG=1 go test ./internal/route -run TestBenchmarkSets -timeout 60m -v
//
// ROUTE_CVRP_LIMIT / ROUTE_VRPTW_LIMIT / ROUTE_SCALE_LIMIT override the
// limits; ROUTE_SET=A, solomon or scale runs one part. The scaling part
// solves random 1,000-stop instances (CVRP and with time windows) and
// prints the best cost over time.
func TestBenchmarkSets(t *testing.T) {
	if os.Getenv("PERPETUA_LONG") != "1" {
		t.Skip("long benchmark; set PERPETUA_LONG=1")
	}
	set := os.Getenv("ROUTE_SET")
	if set == "" || set == "A" {
		t.Run("CVRPLIB-A", func(t *testing.T) {
			dir := needData(t, "cvrplib-augerat-A")
			runSet(t, dir, ".vrp", envDuration("ROUTE_CVRP_LIMIT", 10*time.Second), false)
		})
	}
	if set == "" || set == "scale" {
		t.Run("Scaling-1000", func(t *testing.T) { runScaling(t, envDuration("ROUTE_SCALE_LIMIT", 30*time.Second)) })
	}
	if set == "" || set == "solomon" {
		t.Run("Solomon-C1-R1", func(t *testing.T) {
			dir := needData(t, "solomon-vrptw-C1-R1")
			runSet(t, dir, ".txt", envDuration("ROUTE_VRPTW_LIMIT", 30*time.Second), true)
		})
	}
}

func runSet(t *testing.T, dir, ext string, limit time.Duration, fleetAtBKS bool) {
	rows := readBKS(t, dir)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| instance | BKS | BKS veh | ours | veh | gap %% | optimal/BKS? | seconds |\n|---|---|---|---|---|---|---|---|\n")
	sumGap, atBKS, n := 0.0, 0, 0
	for _, r := range rows {
		inst, err := LoadFile(filepath.Join(dir, r.name+ext))
		if err != nil {
			t.Fatalf("LoadFile(%q) = %v", r.name, err)
		}
		if fleetAtBKS && r.vehicles > 0 {
			inst.Vehicles = r.vehicles
		}
		sol, err := Solve(context.Background(), inst, Options{TimeLimit: limit, Workers: 2, Seed: 1})
		if err != nil {
			t.Errorf("Solve(%q) = %v", r.name, err)
			fmt.Fprintf(&b, "| %s | %v | %d | error: %v | - | - | no | - |\n", r.name, r.value, r.vehicles, err)
			continue
		}
		if err := Check(inst, sol); err != nil {
			t.Errorf("Check(%q) = %v", r.name, err)
		}
		cost := math.Round(sol.Cost*10) / 10
		gap := 100 * (cost - r.value) / r.value
		opt := cost <= r.value+1e-6
		if opt {
			atBKS++
		}
		sumGap += gap
		n++
		fmt.Fprintf(&b, "| %s | %v | %d | %v | %d | %.3f | %v | %.1f |\n", r.name, r.value, r.vehicles, cost, sol.Vehicles(), gap, opt, sol.Stats.Elapsed.Seconds())
	}
	fmt.Fprintf(&b, "\n%s: %d instances, average gap %.3f%%, %d at the best-known value, limit %v per instance, 2 workers\n", filepath.Base(dir), n, sumGap/float64(max(n, 1)), atBKS, limit)
	t.Log(b.String())
}

// runScaling solves random 1,000-customer instances (CVRP, and VRPTW) for
// limit and reports when the first feasible solution appeared and the best
// cost at 2 s, 5 s, 10 s and the end.
func runScaling(t *testing.T, limit time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| instance | first feasible at | cost then | @2s | @5s | @10s | final | vehicles | improvements |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, tw := range []bool{false, true} {
		in := randomInstance(1000, 11, tw)
		name := "rand-1000-cvrp"
		if tw {
			name = "rand-1000-tw"
		}
		sol, err := Solve(context.Background(), in, Options{TimeLimit: limit, Workers: 2, Seed: 1})
		if err != nil {
			t.Errorf("Solve(%s) = %v", name, err)
			continue
		}
		if err := Check(in, sol); err != nil {
			t.Errorf("Check(%s) = %v", name, err)
		}
		tr := sol.Stats.Trace
		at := func(d time.Duration) string {
			c := math.NaN()
			for _, p := range tr {
				if p.Elapsed <= d {
					c = p.Cost
				}
			}
			return fmt.Sprintf("%.0f", c)
		}
		fmt.Fprintf(&b, "| %s | %.2fs | %.0f | %s | %s | %s | %.0f | %d | %d |\n", name, tr[0].Elapsed.Seconds(), tr[0].Cost,
			at(2*time.Second), at(5*time.Second), at(10*time.Second), sol.Cost, sol.Vehicles(), len(tr))
		if tr[0].Elapsed > 2*time.Second {
			t.Errorf("%s: first feasible solution after %v; want within 2s", name, tr[0].Elapsed)
		}
	}
	t.Log(b.String())
}
