package sim

import (
	"context"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

func mustWorld(t testing.TB, cfg WorldConfig) *World {
	t.Helper()
	w, err := NewWorld(cfg)
	if err != nil {
		t.Fatalf("NewWorld(%+v): %v", cfg, err)
	}
	return w
}

func drain(t testing.TB, w *World, batch int) ([]event.Event, []Truth) {
	t.Helper()
	var ev []event.Event
	var tr []Truth
	for !w.Done() {
		n := len(ev)
		ev, tr = w.NextTruth(ev, tr, batch)
		if len(ev) == n && !w.Done() {
			t.Fatal("NextTruth returned no events before the end")
		}
	}
	return ev, tr
}

// smallCfg is a world with every kind of event in a few days.
func smallCfg(seed uint64) WorldConfig {
	return WorldConfig{Seed: seed, Users: 1000, Days: 4, Customers: 3000, CampaignEveryDays: 1, CampaignDays: 1}
}

// TestWorldDeterministicValid checks that a seed fixes the stream (also
// across batch sizes), that every event passes event.Validate, that ids
// are unique and that timestamps never decrease.
func TestWorldDeterministicValid(t *testing.T) {
	const seed = 11
	t.Logf("seed %d", seed)
	a, ta := drain(t, mustWorld(t, smallCfg(seed)), 1000)
	b, tb := drain(t, mustWorld(t, smallCfg(seed)), 37)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ta, tb) {
		t.Fatal("same seed, different batch sizes: streams differ")
	}
	if len(a) != len(ta) {
		t.Fatalf("%d events but %d truths", len(a), len(ta))
	}
	ids := make(map[string]bool, len(a))
	count := map[event.Type]int{}
	for i := range a {
		e := &a[i]
		if err := e.Validate(); err != nil {
			t.Fatalf("event %d (%s) invalid: %v\n%+v", i, e.Type, err, *e)
		}
		if i > 0 && e.Timestamp.Before(a[i-1].Timestamp) {
			t.Fatalf("event %d at %v is before event %d at %v", i, e.Timestamp, i-1, a[i-1].Timestamp)
		}
		if ids[e.ID] {
			t.Fatalf("duplicate id %q", e.ID)
		}
		ids[e.ID] = true
		count[e.Type]++
	}
	for _, typ := range []event.Type{event.TypeView, event.TypeClick, event.TypeAddToCart, event.TypePurchase,
		event.TypeTransaction, event.TypeLabel, event.TypeStock, event.TypeOrder} {
		if count[typ] == 0 {
			t.Errorf("no %s events in %d", typ, len(a))
		}
	}
	t.Logf("%d events: %v", len(a), count)
	c, _ := drain(t, mustWorld(t, smallCfg(seed+1)), 1000)
	if reflect.DeepEqual(a[:100], c[:100]) {
		t.Fatal("different seeds gave the same stream")
	}
}

func TestWorldIDPrefix(t *testing.T) {
	cfg := smallCfg(3)
	cfg.Days = 1
	cfg.IDPrefix = "run7-"
	ev, _ := drain(t, mustWorld(t, cfg), 500)
	for i := range ev {
		if !strings.HasPrefix(ev[i].ID, "run7-") {
			t.Fatalf("event %d id %q lacks the prefix", i, ev[i].ID)
		}
		if ev[i].SessionID != "" && !strings.HasPrefix(ev[i].SessionID, "run7-") ||
			ev[i].TransactionID != "" && !strings.HasPrefix(ev[i].TransactionID, "run7-") ||
			ev[i].OrderID != "" && !strings.HasPrefix(ev[i].OrderID, "run7-") {
			t.Fatalf("event %d: ids without the prefix: %+v", i, ev[i])
		}
	}
}

func TestWorldConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  WorldConfig
		want string // substring of the error; "" = valid
	}{
		{"zero", WorldConfig{}, ""},
		{"negative users", WorldConfig{Users: -1}, "Users"},
		{"too many warehouses", WorldConfig{Warehouses: 17}, "Warehouses"},
		{"too many categories", WorldConfig{Categories: 1000}, "Categories"},
		{"NaN rate", WorldConfig{SessionsPerDay: math.NaN()}, "SessionsPerDay"},
		{"negative year", WorldConfig{YearDays: -1}, "YearDays"},
		{"shift fraction", WorldConfig{ShiftFraction: 1.5}, "ShiftFraction"},
		{"shift day", WorldConfig{ShiftDays: []float64{2, -1}}, "ShiftDays[1]"},
		{"prefix", WorldConfig{IDPrefix: "a b"}, "IDPrefix"},
		{"label delay", WorldConfig{GenuineLabelDelay: -time.Second}, "label delays"},
		{"days", WorldConfig{Days: maxDays + 1}, "Days"},
		{"city", WorldConfig{CityLat: 95}, "CityLat"},
		{"strength", WorldConfig{CampaignStrength: 0.9}, "CampaignStrength"},
		{"unbounded", WorldConfig{Days: -1}, ""},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Validate(%q) = %v; want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "sim: ")):
			t.Errorf("Validate(%q) = %v; want an error naming %q", tc.name, err, tc.want)
		}
		if _, nerr := NewWorld(tc.cfg); (nerr == nil) != (err == nil) {
			t.Errorf("NewWorld(%q) error %v disagrees with Validate %v", tc.name, nerr, err)
		}
	}
}

// TestWorldRunPaced checks that Run with a speed factor spreads the
// stream over wall time and delivers the same events as Next.
func TestWorldRunPaced(t *testing.T) {
	cfg := WorldConfig{Seed: 5, Users: 300, Days: 1, Customers: 300, Speed: 86400 / 0.3} // a day in 0.3 s
	want, _ := drain(t, mustWorld(t, cfg), 1000)
	w := mustWorld(t, cfg)
	var got []event.Event
	var lastLag time.Duration
	start := time.Now()
	err := w.Run(context.Background(), 64, func(ev []event.Event, tr []Truth) error {
		if len(ev) != len(tr) {
			t.Fatalf("Run: %d events, %d truths", len(ev), len(tr))
		}
		// No event is handed over before its simulated time is due.
		due := time.Duration(float64(ev[len(ev)-1].Timestamp.Sub(w.Start())) / cfg.Speed)
		if el := time.Since(start); el < due {
			t.Fatalf("event at sim %v handed over after %v of wall time; due at %v", ev[len(ev)-1].Timestamp, el, due)
		} else {
			lastLag = el - due
		}
		got = append(got, ev...)
		return nil
	})
	el := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Run delivered %d events, Next %d; streams differ", len(got), len(want))
	}
	if el < 250*time.Millisecond {
		t.Fatalf("a paced simulated day took %v; want about 300ms", el)
	}
	t.Logf("paced day: %v wall, last batch %v after due", el, lastLag)
}

func TestWorldRunCancel(t *testing.T) {
	w := mustWorld(t, WorldConfig{Seed: 1, Users: 1000, Days: -1, Speed: 1}) // real time
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.Run(ctx, 100, func([]event.Event, []Truth) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v; want context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Run took %v to notice cancellation", el)
	}
	stop := errors.New("stop")
	w2 := mustWorld(t, WorldConfig{Seed: 1, Users: 1000, Days: -1})
	if err := w2.Run(context.Background(), 100, func([]event.Event, []Truth) error { return stop }); err != stop {
		t.Fatalf("Run = %v; want fn's error", err)
	}
}

// TestWorldUsersCostNoMemory checks that memory does not grow with the
// number of users: users are hash-derived, not stored.
func TestWorldUsersCostNoMemory(t *testing.T) {
	heap := func(users int) uint64 {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		w := mustWorld(t, WorldConfig{Seed: 1, Users: users, Items: 2000, SessionsPerDay: 5000,
			Customers: 10_000, Terminals: 2000, Days: -1})
		ev := w.Next(nil, 20_000)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		runtime.KeepAlive(w)
		runtime.KeepAlive(ev)
		return m1.HeapAlloc - min(m1.HeapAlloc, m0.HeapAlloc)
	}
	small, huge := heap(1000), heap(4_000_000_000)
	t.Logf("heap: %d users %.1f MB, %d users %.1f MB", 1000, float64(small)/1e6, 4_000_000_000, float64(huge)/1e6)
	if huge > small+small/2+4<<20 {
		t.Fatalf("4e9 users use %.1f MB, 1000 users %.1f MB; want about the same", float64(huge)/1e6, float64(small)/1e6)
	}
}

// TestWorldAllocs checks that generation does not allocate per event:
// ids come from shared blocks, and pools are reused once warm.
func TestWorldAllocs(t *testing.T) {
	w := mustWorld(t, WorldConfig{Seed: 2, Users: 10_000, Days: -1})
	ev := make([]event.Event, 0, 1000)
	tr := make([]Truth, 0, 1000)
	for i := 0; i < 200; i++ { // warm up: a few simulated hours
		ev, tr = w.NextTruth(ev[:0], tr[:0], 1000)
	}
	if a := testing.AllocsPerRun(100, func() { ev, tr = w.NextTruth(ev[:0], tr[:0], 1) }); a != 0 {
		t.Errorf("NextTruth of one event: %v allocations; want 0", a)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const n = 200_000
	for k := 0; k < n; k += len(ev) {
		ev, tr = w.NextTruth(ev[:0], tr[:0], 1000)
	}
	runtime.ReadMemStats(&m1)
	per := float64(m1.Mallocs-m0.Mallocs) / n
	t.Logf("%.4f allocations per event (%d over %d events)", per, m1.Mallocs-m0.Mallocs, n)
	if per > 0.01 {
		t.Fatalf("%.4f allocations per event; want at most 0.01", per)
	}
}

func TestDeliverySlot(t *testing.T) {
	h := hourNs
	for _, tc := range []struct {
		x    int64
		k    int
		want int64
	}{
		{0, 0, 8 * h},
		{8 * h, 0, 8 * h},
		{8*h + 1, 0, 10 * h},
		{9 * h, 2, 14 * h},
		{20 * h, 0, 20 * h},
		{20*h + 1, 0, dayNs + 8*h},
		{19 * h, 1, dayNs + 8*h},
		{23 * h, 1, dayNs + 10*h},
	} {
		if got := deliverySlot(tc.x, tc.k); got != tc.want {
			t.Errorf("deliverySlot(%v, %d) = %v; want %v", time.Duration(tc.x), tc.k, time.Duration(got), time.Duration(tc.want))
		}
	}
}

func TestAgendaOrder(t *testing.T) {
	var h agenda
	w := mustWorld(t, WorldConfig{Seed: 9, Days: 1})
	var want []int64
	for i := 0; i < 5000; i++ {
		x := int64(w.rng.IntN(1000))
		h.push(x, 0, int32(i))
		want = append(want, x)
	}
	sortInt64(want)
	var lastSeq uint64
	for i := range want {
		e := h.pop()
		if e.t != want[i] {
			t.Fatalf("pop %d = %d; want %d", i, e.t, want[i])
		}
		if i > 0 && e.t == want[i-1] && e.seq < lastSeq {
			t.Fatalf("pop %d: ties not in push order", i)
		}
		lastSeq = e.seq
	}
	if h.len() != 0 {
		t.Fatalf("heap has %d left", h.len())
	}
}
