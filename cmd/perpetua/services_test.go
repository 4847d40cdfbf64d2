package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func sharedData(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{"..", "..", "..", "shared", "data"}, parts...)...)
	if !fileExists(p) {
		t.Skipf("%s is absent (the shared datasets live beside the repository)", p)
	}
	return p
}

// TestOPE runs perpetua ope on the Open Bandit Dataset as a user would:
// every estimator reports an estimate inside its interval, and for the
// uniform policy on uniform logs IPS and SNIPS equal the logged click rate.
func TestOPE(t *testing.T) {
	logs := sharedData(t, "obd-random", "men.csv")
	for _, pol := range []string{"uniform", "egreedy"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"ope", "--logs", logs, "--policy", pol, "--bootstrap", "50", "--json"}, &out, io.Discard); err != nil {
			t.Fatalf("%s: %v", pol, err)
		}
		var rep struct {
			N           int     `json:"n"`
			LoggedValue float64 `json:"logged_value"`
			Estimators  map[string]struct {
				Estimate float64 `json:"estimate"`
				CILow    float64 `json:"ci_low"`
				CIHigh   float64 `json:"ci_high"`
			} `json:"estimators"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.N == 0 || len(rep.Estimators) != 6 {
			t.Fatalf("%s: %s (%v)", pol, out.String(), err)
		}
		for name, e := range rep.Estimators {
			if !(e.CILow <= e.Estimate && e.Estimate <= e.CIHigh) || math.IsNaN(e.Estimate) {
				t.Errorf("%s %s: estimate %v outside [%v, %v]", pol, name, e.Estimate, e.CILow, e.CIHigh)
			}
		}
		if pol == "uniform" {
			for _, name := range []string{"ips", "snips"} {
				if got := rep.Estimators[name].Estimate; math.Abs(got-rep.LoggedValue) > 1e-9 {
					t.Errorf("uniform %s = %v; want the logged value %v", name, got, rep.LoggedValue)
				}
			}
		}
	}
	if err := run(context.Background(), []string{"ope", "--logs", logs}, io.Discard, io.Discard); err == nil {
		t.Error("ope without --policy: no error")
	}
}

// TestEvalForecast runs the seasonal-naive baseline on M4 hourly through
// the CLI, checks it reproduces the competition's published score, and
// recomputes sMAPE from the forecasts file against the test data.
func TestEvalForecast(t *testing.T) {
	dir := sharedData(t, "m4-hourly")
	fc := filepath.Join(t.TempDir(), "f.csv")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"eval", "forecast", "--data", dir, "--format", "m4", "--methods", "snaive",
		"--json", "--forecasts", fc}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		N       int                `json:"n"`
		Horizon int                `json:"horizon"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.N != 414 || rep.Horizon != 48 {
		t.Fatalf("%s (%v)", out.String(), err)
	}
	if got := rep.Metrics["smape"]; math.Abs(got-13.912) > 0.001 {
		t.Errorf("seasonal naive sMAPE %.4f; published 13.912", got)
	}
	// Recompute sMAPE from F.csv and the test file.
	tf, _ := os.Open(filepath.Join(dir, "Hourly-test.csv"))
	test, err := csv.NewReader(tf).ReadAll()
	tf.Close()
	if err != nil {
		t.Fatal(err)
	}
	actual := map[string][]float64{}
	for _, r := range test[1:] {
		for _, v := range r[1:] {
			x, _ := strconv.ParseFloat(v, 64)
			actual[r[0]] = append(actual[r[0]], x)
		}
	}
	ff, _ := os.Open(fc)
	rows, err := csv.NewReader(ff).ReadAll()
	ff.Close()
	if err != nil || len(rows)-1 != 414*48 {
		t.Fatalf("forecasts file: %d rows, %v", len(rows)-1, err)
	}
	var sum float64
	for _, r := range rows[1:] {
		step, _ := strconv.Atoi(r[1])
		f, _ := strconv.ParseFloat(r[2], 64)
		lo80, _ := strconv.ParseFloat(r[3], 64)
		hi95, _ := strconv.ParseFloat(r[6], 64)
		if !(lo80 <= f && f <= hi95) {
			t.Fatalf("row %v: forecast outside its intervals", r)
		}
		a := actual[r[0]][step-1]
		sum += 200 * math.Abs(a-f) / (math.Abs(a) + math.Abs(f))
	}
	if got := sum / float64(len(rows)-1); math.Abs(got-rep.Metrics["smape"]) > 1e-6 {
		t.Errorf("sMAPE from the forecasts file %.6f; reported %.6f", got, rep.Metrics["smape"])
	}
}

// TestModelsCLI lists, promotes and rolls back through a running server
// (the real binary) as an operator would.
func TestModelsCLI(t *testing.T) {
	c := startServe(t, t.TempDir())
	if code, body, err := postEvents(c.addr, batchBody(1, 200)); err != nil || code != 202 {
		t.Fatalf("POST events: %d %s %v", code, body, err)
	}
	ctx := context.Background()
	var out bytes.Buffer
	if err := run(ctx, []string{"models", "list", "--target", c.addr}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("champion mlp (live)")) {
		t.Fatalf("models list:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"models", "promote", "--model", "deep", "--target", c.addr}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("champion deep (live)")) {
		t.Fatalf("models promote:\n%s", out.String())
	}
	if err := run(ctx, []string{"models", "promote", "--model", "nope", "--target", c.addr}, io.Discard, io.Discard); err == nil {
		t.Fatal("promote of an unknown learner: no error")
	}
	if err := run(ctx, []string{"models", "rollback", "--target", c.addr}, io.Discard, io.Discard); err == nil {
		t.Fatal("rollback with nothing to roll back to: no error")
	}
	if err := run(ctx, []string{"models", "frobnicate"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown subcommand: no error")
	}
}

// TestEvalRisk runs the fraud evaluation on the handbook's weeks through
// the CLI and recomputes AUC from the predictions file.
func TestEvalRisk(t *testing.T) {
	data := sharedData(t, "fraud-handbook-sim")
	if testing.Short() {
		t.Skip("streams 585k transactions")
	}
	preds := filepath.Join(t.TempDir(), "p.csv")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"eval", "risk", "--data", data, "--delay", "7d", "--json", "--predictions", preds}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		N       int                `json:"n"`
		Metrics map[string]float64 `json:"metrics"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.N == 0 {
		t.Fatalf("%s (%v)", out.String(), err)
	}
	f, _ := os.Open(preds)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows)-1 != rep.N || strings.Join(rows[0], ",") != "index,prediction,label,customer_id,day" {
		t.Fatalf("predictions: %d rows, header %v, %v", len(rows)-1, rows[0], err)
	}
	type pl struct{ p, y float64 }
	ps := make([]pl, 0, len(rows)-1)
	for _, r := range rows[1:] {
		p, _ := strconv.ParseFloat(r[1], 64)
		y, _ := strconv.ParseFloat(r[2], 64)
		ps = append(ps, pl{p, y})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].p < ps[j].p })
	// AUC by ranks (ties share their mean rank).
	var pos, neg, rankSum float64
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].p == ps[i].p {
			j++
		}
		mid := float64(i+j+1) / 2
		for k := i; k < j; k++ {
			if ps[k].y == 1 {
				pos++
				rankSum += mid
			} else {
				neg++
			}
		}
		i = j
	}
	auc := (rankSum - pos*(pos+1)/2) / (pos * neg)
	if math.Abs(auc-rep.Metrics["auc_roc"]) > 1e-6 {
		t.Errorf("AUC from the predictions %.6f; reported %.6f", auc, rep.Metrics["auc_roc"])
	}
	for name, base := range map[string]float64{"auc_roc": 0.871, "average_precision": 0.658, "card_precision_at_100": 0.291} {
		if rep.Metrics[name] <= base {
			t.Errorf("%s %.3f does not beat the handbook's best published %.3f", name, rep.Metrics[name], base)
		}
	}
	if err := run(context.Background(), []string{"eval", "risk", "--data", data, "--delay", "7h"}, io.Discard, io.Discard); err == nil {
		t.Error("a delay of 7h: no error")
	}
}

// TestRouteCLI solves a CVRPLIB instance through the CLI and recomputes
// its cost and feasibility from the instance file.
func TestRouteCLI(t *testing.T) {
	inst := sharedData(t, "cvrplib-augerat-A", "A-n32-k5.vrp")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"route", "--instance", inst, "--time-limit", "2s", "--json"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Cost     float64 `json:"cost"`
		Routes   [][]int `json:"routes"`
		Feasible bool    `json:"feasible"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || !res.Feasible {
		t.Fatalf("%s (%v)", out.String(), err)
	}
	// Parse the .vrp file independently: coordinates, demands, capacity.
	b, _ := os.ReadFile(inst)
	coords, demand := map[int][2]float64{}, map[int]float64{}
	capacity, section := 0.0, ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.ReplaceAll(line, ":", " : "))
		switch {
		case len(f) == 0:
		case f[0] == "CAPACITY":
			capacity, _ = strconv.ParseFloat(f[len(f)-1], 64)
		case f[0] == "NODE_COORD_SECTION" || f[0] == "DEMAND_SECTION" || f[0] == "DEPOT_SECTION":
			section = f[0]
		case section == "NODE_COORD_SECTION" && len(f) == 3:
			id, _ := strconv.Atoi(f[0])
			x, _ := strconv.ParseFloat(f[1], 64)
			y, _ := strconv.ParseFloat(f[2], 64)
			coords[id] = [2]float64{x, y}
		case section == "DEMAND_SECTION" && len(f) == 2:
			id, _ := strconv.Atoi(f[0])
			demand[id], _ = strconv.ParseFloat(f[1], 64)
		}
	}
	dist := func(a, b int) float64 {
		return math.Round(math.Hypot(coords[a][0]-coords[b][0], coords[a][1]-coords[b][1]))
	}
	visited := map[int]bool{}
	var cost float64
	for _, r := range res.Routes {
		load, prev := 0.0, 1
		for _, c := range r {
			if c == 1 || visited[c] {
				t.Fatalf("customer %d is the depot or visited twice", c)
			}
			visited[c] = true
			load += demand[c]
			cost += dist(prev, c)
			prev = c
		}
		cost += dist(prev, 1)
		if load > capacity {
			t.Fatalf("route %v carries %v > capacity %v", r, load, capacity)
		}
	}
	if len(visited) != len(coords)-1 {
		t.Fatalf("%d customers visited; want %d", len(visited), len(coords)-1)
	}
	if cost != res.Cost || cost > 784*1.02 {
		t.Fatalf("recomputed cost %v; reported %v (optimum 784)", cost, res.Cost)
	}
	if err := run(context.Background(), []string{"route", "--instance", "nope.vrp"}, io.Discard, io.Discard); err == nil {
		t.Fatal("a missing instance file: no error")
	}
}
