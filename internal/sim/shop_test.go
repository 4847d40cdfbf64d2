package sim

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/event"
)

func TestDeterministicAndOrdered(t *testing.T) {
	cfg := Config{Seed: 7, Visits: 2000}
	a := New(cfg).Next(nil, 1<<20)
	var b []event.Event
	s := New(cfg)
	for !s.Done() {
		b = s.Next(b, 37) // a different batch size must not change the stream
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different batch sizes: streams differ")
	}
	ids := map[string]bool{}
	for i := range a {
		if i > 0 && a[i].Timestamp.Before(a[i-1].Timestamp) {
			t.Fatalf("event %d at %v is before event %d at %v", i, a[i].Timestamp, i-1, a[i-1].Timestamp)
		}
		if ids[a[i].ID] {
			t.Fatalf("duplicate id %q", a[i].ID)
		}
		ids[a[i].ID] = true
		if err := a[i].Validate(); err != nil {
			t.Fatalf("event %d invalid: %v", i, err)
		}
	}
	if c := New(Config{Seed: 8, Visits: 2000}).Next(nil, 1<<20); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same stream")
	}
}

// TestShift checks the regime change: cheap items sell better before the
// shift and expensive ones after it.
func TestShift(t *testing.T) {
	s := New(Config{Seed: 1, Visits: 40_000})
	price := map[string]float64{}
	for _, it := range s.items {
		price[it.id] = it.price
	}
	var buys [2][2]int // [regime][expensive]
	var views [2][2]int
	shiftSeen := false
	for !s.Done() {
		for _, e := range s.Next(nil, 500) {
			r := 0
			if s.Shifted() {
				r = 1
				shiftSeen = true
			}
			exp := 0
			if price[e.ItemID] > 20 {
				exp = 1
			}
			switch e.Type {
			case event.TypeView:
				views[r][exp]++
			case event.TypePurchase:
				buys[r][exp]++
			}
		}
	}
	if !shiftSeen {
		t.Fatal("no shift")
	}
	rate := func(r, x int) float64 { return float64(buys[r][x]) / float64(views[r][x]) }
	t.Logf("purchase/view: before cheap %.3f expensive %.3f; after cheap %.3f expensive %.3f",
		rate(0, 0), rate(0, 1), rate(1, 0), rate(1, 1))
	if !(rate(0, 0) > 1.5*rate(0, 1) && rate(1, 1) > 1.5*rate(1, 0)) {
		t.Fatal(fmt.Sprintf("shift not visible in purchase rates: %v / %v", buys, views))
	}
}
