package route

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var simGrid = Grid{MinX: 0, MinY: 0, MaxX: 60, MaxY: 60, Cols: 4, Rows: 4}

// trueCongestion is the simulator's hidden slowdown per zone and hour:
// free-flow (1.0-1.15) off-peak, and in rush hours 7-9 and 16-18 a
// zone-specific factor of 1.2-2.0.
type trueCongestion [16][24]float64

func newTrueCongestion(rng *rand.Rand) *trueCongestion {
	var c trueCongestion
	for z := range c {
		peak := 1.2 + 0.8*rng.Float64()
		for h := range c[z] {
			c[z][h] = 1 + 0.15*rng.Float64()
			if h >= 7 && h <= 9 || h >= 16 && h <= 18 {
				c[z][h] = peak * (0.9 + 0.2*rng.Float64())
			}
		}
	}
	return &c
}

// actual returns the true travel time in minutes of a leg departing at
// minute t (base speed: one distance unit per minute).
func (c *trueCongestion) actual(a, b Point, t float64) float64 {
	base := math.Hypot(a.X-b.X, a.Y-b.Y)
	h := int(t/60) % 24
	return base * c[simGrid.Zone(mid(a, b))][h]
}

func TestSpeedModelLearnsFactors(t *testing.T) {
	m, err := NewSpeedModel(simGrid, SpeedModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	// Unseen model: factor 1 everywhere.
	if f := m.Factor(Point{10, 10}, 8); f != 1 {
		t.Errorf("Factor(empty model) = %v; want 1", f)
	}
	p := Point{5, 5}
	for k := 0; k < 50; k++ {
		err := m.Observe(Observation{From: p, To: p, Depart: day.Add(8 * time.Hour), Planned: 10 * time.Minute, Actual: 20 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
	}
	if f := m.Factor(p, 8); math.Abs(f-2) > 0.25 {
		t.Errorf("Factor(zone, 8h) after 50 legs at 2x = %v; want about 2", f)
	}
	// Same hour, other zone: pulled towards the hour's mean (2), partly.
	if f := m.Factor(Point{55, 55}, 8); f < 1.5 {
		t.Errorf("Factor(unseen zone, 8h) = %v; want the hour's estimate (>1.5)", f)
	}
	if f := m.Factor(p, 14); f > 2 || f < 1 {
		t.Errorf("Factor(zone, unseen hour) = %v; want between 1 and 2", f)
	}
	if err := m.Observe(Observation{Planned: 0, Actual: time.Minute}); err == nil {
		t.Errorf("Observe(planned 0) = nil; want an error")
	}
}

// simDay builds one delivery day: a depot in the middle, n customers with
// one-hour windows between 7:00 and 17:00, 5-minute service.
func simDay(rng *rand.Rand, n int) ([]Point, []float64, []float64, []float64) {
	pts := []Point{{30, 30}}
	ready := []float64{7 * 60}
	due := []float64{21 * 60}
	dem := []float64{0}
	for i := 0; i < n; i++ {
		pts = append(pts, Point{rng.Float64() * 60, rng.Float64() * 60})
		r := float64(7*60 + 60 + rng.IntN(9*60))
		ready = append(ready, r)
		due = append(due, r+60)
		dem = append(dem, float64(1+rng.IntN(5)))
	}
	return pts, ready, due, dem
}

// planAndDrive plans a day with the given travel-time matrix, then drives
// it under the true congestion and returns (late stops, stops).
func planAndDrive(t *testing.T, truth *trueCongestion, pts []Point, ready, due, dem []float64, times []float64) (int, int) {
	n := len(pts)
	in := &Instance{Name: "sim", Kind: KindJSON, Metric: MetricExact, Capacity: 40}
	for i := range pts {
		in.IDs = append(in.IDs, i)
		in.X = append(in.X, pts[i].X)
		in.Y = append(in.Y, pts[i].Y)
	}
	in.Demand = dem
	in.Ready = ready
	in.Due = due
	in.Service = make([]float64, n)
	for i := 1; i < n; i++ {
		in.Service[i] = 5
	}
	in.TimeMatrix = times
	if err := in.Prepare(); err != nil {
		t.Fatalf("Prepare(sim day) = %v", err)
	}
	sol, err := Solve(context.Background(), in, Options{TimeLimit: 250 * time.Millisecond, Workers: 2, Seed: 1})
	if err != nil {
		t.Fatalf("Solve(sim day) = %v", err)
	}
	late, stops := 0, 0
	for _, r := range sol.Routes {
		// The vehicle leaves the depot so as to reach the first stop at
		// its planned time (as a dispatcher would), then drives for real.
		clock := math.Max(ready[0], ready[r[0]]-in.Travel(0, r[0]))
		prev := 0
		for _, c := range r {
			clock += truth.actual(pts[prev], pts[c], clock)
			stops++
			if clock > due[c]+1e-9 {
				late++
			}
			clock = math.Max(clock, ready[c]) + in.Service[c]
			prev = c
		}
	}
	return late, stops
}

// TestLearnedTravelTimesReduceLateness is the issue #8 simulation: with a
// hidden per-zone/hour congestion, routes planned with learned travel
// times miss fewer time windows than routes planned with straight-line
// (free-flow) times.
func TestLearnedTravelTimesReduceLateness(t *testing.T) {
	const seed = 2024
	rng := rand.New(rand.NewPCG(seed, 7))
	truth := newTrueCongestion(rng)
	m, err := NewSpeedModel(simGrid, SpeedModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	day0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	// History: 4,000 delivered legs at random places and hours (7-19h),
	// with 10% log-normal noise on the actual times.
	for k := 0; k < 4000; k++ {
		a := Point{rng.Float64() * 60, rng.Float64() * 60}
		b := Point{a.X + rng.NormFloat64()*8, a.Y + rng.NormFloat64()*8}
		dep := float64(7*60 + rng.IntN(12*60))
		base := math.Hypot(a.X-b.X, a.Y-b.Y)
		if base < 0.5 {
			continue
		}
		act := truth.actual(a, b, dep) * math.Exp(0.1*rng.NormFloat64())
		err := m.Observe(Observation{From: a, To: b, Depart: day0.Add(time.Duration(dep) * time.Minute),
			Planned: time.Duration(base * float64(time.Minute)), Actual: time.Duration(act * float64(time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
	}
	days := 12
	if testing.Short() {
		days = 4
	}
	lateS, lateL, stops := 0, 0, 0
	for d := 0; d < days; d++ {
		pts, ready, due, dem := simDay(rng, 40)
		n := len(pts)
		base := make([]float64, n*n)
		for i := range pts {
			for j := range pts {
				base[i*n+j] = math.Hypot(pts[i].X-pts[j].X, pts[i].Y-pts[j].Y)
			}
		}
		ls, s := planAndDrive(t, truth, pts, ready, due, dem, base)
		dep := append([]float64(nil), ready...)
		learned := m.TimeMatrix(nil, pts, base, dep)
		ll, _ := planAndDrive(t, truth, pts, ready, due, dem, learned)
		lateS += ls
		lateL += ll
		stops += s
	}
	fs, fl := float64(lateS)/float64(stops), float64(lateL)/float64(stops)
	t.Logf("simulation seed %d, %d days, %d stops: late with straight-line times %d (%.1f%%), with learned times %d (%.1f%%)",
		seed, days, stops, lateS, 100*fs, lateL, 100*fl)
	if fl >= fs {
		t.Errorf("learned times late %.1f%% of stops; straight-line %.1f%%; want fewer with learned times", 100*fl, 100*fs)
	}
}
