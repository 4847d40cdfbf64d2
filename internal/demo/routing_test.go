package demo

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/route"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// runRoutes streams a small world through a routeTask alone.
func runRoutes(t *testing.T, seed uint64) (*sim.World, *routeTask) {
	t.Helper()
	w, err := sim.NewWorld(sim.WorldConfig{Seed: seed, Days: 2, Users: 2000, NoPayments: true})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := newRouteTask(w, 1, 2, w.ShiftTimes()[0], seed)
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	for !w.Done() {
		evs = w.Next(evs[:0], 2000)
		for i := range evs {
			rt.observe(&evs[i])
		}
		if len(evs) > 0 {
			if err := rt.advance(context.Background(), evs[len(evs)-1].Timestamp); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w, rt
}

// TestRouting checks the routing comparison on a small world (seed 5):
// the variants agree before the freeze (same legs, same models, a
// deterministic solver), plans are reproducible, planning with the true
// travel times is never later than planning at free flow, and after the
// shift the continual speed model has learned the roadworks that the
// frozen one cannot know.
func TestRouting(t *testing.T) {
	const seed = 5
	w, rt := runRoutes(t, seed)
	t.Logf("seed %d: %d waves, late share after the shift: continual %.4f frozen %.4f retrain %.4f free_flow %.4f true_times %.4f (dropped %d, infeasible %d)",
		seed, rt.waves, rt.postLateShare(nameContinual), rt.postLateShare(nameFrozen), rt.postLateShare(nameRetrain),
		rt.postLateShare(nameFreeFlow), rt.postLateShare(nameTrueTimes), rt.dropped, rt.errs)
	if rt.waves < 7 || rt.res[nameContinual].stops[0] < 30 {
		t.Fatalf("only %d waves and %v stops on day 0; want a full two days of deliveries", rt.waves, rt.res[nameContinual].stops[0])
	}
	c0 := rt.lateShare(nameContinual, 0)
	for _, n := range []string{nameFrozen, nameRetrain} {
		if got := rt.lateShare(n, 0); got != c0 {
			t.Errorf("day 0 late share of %s = %v; want continual's %v (identical before the freeze)", n, got, c0)
		}
	}
	if tt, ff := rt.postLateShare(nameTrueTimes), rt.postLateShare(nameFreeFlow); !(tt <= ff) {
		t.Errorf("late share after the shift: true_times %.4f, free_flow %.4f; want true_times ≤ free_flow", tt, ff)
	}
	// The roadworks zones at the end: continual's factor is above
	// frozen's (which never saw them) on average.
	var cont, froz float64
	rw := w.Roadworks(nil, w.Now().Add(-time.Hour))
	for _, z := range rw {
		la, lo := w.ZoneCenter(z)
		p := route.Point{X: lo, Y: la}
		for h := 9; h <= 19; h++ {
			cont += math.Log(rt.models[nameContinual].Factor(p, h))
			froz += math.Log(rt.models[nameFrozen].Factor(p, h))
		}
	}
	if !(cont > froz) {
		t.Errorf("mean log factor in the roadworks zones %v: continual %.3f, frozen %.3f; want continual > frozen", rw, cont, froz)
	}
	if c := rt.capability(); c.Metric != "late_delivery_share" || c.HigherIsBetter || math.IsNaN(float64(c.Continual)) {
		t.Errorf("capability() = %+v; want late_delivery_share, lower is better, with figures", c)
	}
	// Reproducible: the same wave planned twice gives the same plan.
	var orders []delivery
	for i := 0; i < 25; i++ {
		lat, lon := w.ZoneCenter(i % w.Zones())
		at := rt.start.Add(30 * time.Hour)
		orders = append(orders, delivery{id: fmt.Sprint("o", i), at: route.Point{X: lon + 0.001*float64(i), Y: lat}, demand: 1,
			start: at.Add(time.Duration(i%2) * 2 * time.Hour), end: at.Add(time.Duration(i%2+1) * 2 * time.Hour)})
	}
	t0 := rt.start.Add(29*time.Hour + 30*time.Minute)
	var costs [2]float64
	for k := range costs {
		p, err := rt.plan(context.Background(), nameContinual, rt.whs[0], t0, orders)
		if err != nil || p.sol == nil {
			t.Fatalf("plan: %v", err)
		}
		costs[k] = p.sol.Cost
	}
	if costs[0] != costs[1] {
		t.Errorf("the same wave planned twice: cost %v then %v; want identical plans", costs[0], costs[1])
	}
}
