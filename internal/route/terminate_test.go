package route

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestOptimizeTightWindowsTerminates is a regression test: 100 orders in
// 2-hour windows for 2 vehicles (infeasible: time-warp penalties near
// 1e9) made the local search cycle on rounding noise, and Optimize never
// returned despite its 300 ms limit.
func TestOptimizeTightWindowsTerminates(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := func(v float64) *float64 { return &v }
	tm := func(v time.Time) *time.Time { return &v }
	req := &OptimizeRequest{Depot: Location{Lat: f(52.57), Lon: f(13.48)}, TimeLimitMS: 300, Seed: 1}
	for v := range 2 {
		req.Vehicles = append(req.Vehicles, Vehicle{ID: string(rune('a' + v)), Capacity: 1000, ShiftStart: day.Add(6 * time.Hour), ShiftEnd: day.Add(30 * time.Hour)})
	}
	for i := range 100 {
		slot := 8 + 2*rng.IntN(4)
		req.Orders = append(req.Orders, Order{ID: "o" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Location: Location{Lat: f(52.43 + 0.2*rng.Float64()), Lon: f(13.24 + 0.3*rng.Float64())},
			Demand: 1, WindowStart: tm(day.Add(time.Duration(slot) * time.Hour)), WindowEnd: tm(day.Add(time.Duration(slot+2) * time.Hour)), ServiceS: 480})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := Optimize(context.Background(), req, nil)
		if err == nil && !resp.Feasible {
			t.Errorf("no error for an infeasible plan")
		}
		t.Logf("feasible %v, err %v", resp != nil && resp.Feasible, err)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Optimize did not return within 20 s with a 300 ms limit")
	}
}
