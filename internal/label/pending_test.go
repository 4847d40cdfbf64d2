package label

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestPendingScript(t *testing.T) {
	type step struct {
		op   string // add, label, advance
		id   string
		at   int64
		v    float64
		want string // outcomes "id:value:knownAt[m]" joined by space, or error text
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"label before maturity", []step{
			{op: "add", id: "a", at: 0},
			{op: "add", id: "b", at: 5},
			{op: "label", id: "b", at: 6, v: 1, want: "b:1:6"},
			{op: "advance", at: 10, want: ""},
			{op: "advance", at: 11, want: "a:0:10m"},
			{op: "advance", at: 100, want: ""},
		}},
		{"maturity in event order, then late label refused", []step{
			{op: "add", id: "a", at: 3},
			{op: "add", id: "b", at: 1},
			{op: "advance", at: 14, want: "b:0:11m a:0:13m"},
			{op: "label", id: "a", at: 20, v: 1, want: "label: id not pending (never scored, already labelled, or matured)"},
		}},
		{"label matures older examples first", []step{
			{op: "add", id: "a", at: 0},
			{op: "add", id: "b", at: 8},
			{op: "label", id: "b", at: 12, v: 1, want: "a:0:10m b:1:12"},
		}},
		{"label exactly at maturity is in time, one second later is not", []step{
			{op: "add", id: "a", at: 0},
			{op: "add", id: "b", at: 0},
			{op: "label", id: "a", at: 10, v: 1, want: "a:1:10"},
			{op: "label", id: "b", at: 11, v: 1, want: "b:0:10m|label: id not pending (never scored, already labelled, or matured)"},
		}},
		{"label twice", []step{
			{op: "add", id: "a", at: 0},
			{op: "label", id: "a", at: 1, v: 1, want: "a:1:1"},
			{op: "label", id: "a", at: 2, v: 1, want: "label: id not pending (never scored, already labelled, or matured)"},
		}},
		{"unknown id", []step{
			{op: "label", id: "zz", at: 2, v: 1, want: "label: id not pending (never scored, already labelled, or matured)"},
		}},
		{"duplicate add", []step{
			{op: "add", id: "a", at: 0},
			{op: "add", id: "a", at: 1, want: "label: id already pending"},
			{op: "advance", at: 11, want: "a:0:10m"},
		}},
		{"label before its event", []step{
			{op: "add", id: "a", at: 5},
			{op: "label", id: "a", at: 4, v: 1, want: "label: label dated before its event: label at 4, event at 5"},
			{op: "label", id: "a", at: 6, v: 1, want: "a:1:6"},
		}},
		{"label dated before the clock is known at the clock", []step{
			{op: "add", id: "a", at: 5},
			{op: "advance", at: 8},
			{op: "label", id: "a", at: 7, v: 1, want: "a:1:8"},
		}},
	}
	for _, tt := range tests {
		p := NewPending[string, string](10, 0)
		for i, s := range tt.steps {
			var out []string
			fn := func(o Outcome[string]) {
				m := ""
				if o.Matured {
					m = "m"
				}
				out = append(out, fmt.Sprintf("%s:%g:%d%s", o.Payload, o.Value, o.KnownAt, m))
			}
			var err error
			switch s.op {
			case "add":
				err = p.Add(s.id, s.at, s.id, nil)
			case "label":
				err = p.Label(s.id, s.at, s.v, fn)
			case "advance":
				p.Advance(s.at, fn)
			}
			got := strings.Join(out, " ")
			if err != nil {
				if got != "" {
					got += "|"
				}
				got += err.Error()
			}
			if got != s.want {
				t.Errorf("%s: step %d %s(%q, %d) = %q; want %q", tt.name, i, s.op, s.id, s.at, got, s.want)
			}
		}
	}
}

// TestNoLabelFromTheFuture is the leakage property: over a random stream of
// events, labels and clock advances, every outcome handed out at clock
// time t is known at or before t, every added id leaves exactly once, and
// matured examples are genuine.
func TestNoLabelFromTheFuture(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		const maturity = 7 * 86400
		p := NewPending[int, int](maturity, 0)
		now := int64(0)
		left := map[int]int{}
		times := map[int]int64{}
		added := 0
		fn := func(o Outcome[int]) {
			if o.KnownAt > now {
				t.Fatalf("seed %d: outcome of %d known at %d handed out at clock %d: label from the future", seed, o.Payload, o.KnownAt, now)
			}
			if o.KnownAt < o.EventTime {
				t.Fatalf("seed %d: outcome of %d known at %d before its event at %d", seed, o.Payload, o.KnownAt, o.EventTime)
			}
			if o.Matured && (o.Value != 0 || o.KnownAt != times[o.Payload]+maturity) {
				t.Fatalf("seed %d: matured outcome %+v; want value 0 known at event+maturity", seed, o)
			}
			left[o.Payload]++
		}
		for step := 0; step < 20000; step++ {
			now += int64(rng.IntN(120))
			switch r := rng.IntN(10); {
			case r < 6:
				at := now - int64(rng.IntN(3600)) // slightly late events are fine
				if err := p.Add(added, at, added, fn); err != nil {
					t.Fatal(err)
				}
				times[added] = at
				added++
			case r < 9 && added > 0:
				id := rng.IntN(added)
				err := p.Label(id, now, 1, fn)
				if err != nil && !errors.Is(err, ErrNotPending) && !errors.Is(err, ErrLabelBeforeEvent) {
					t.Fatalf("seed %d: Label(%d): %v", seed, id, err)
				}
			default:
				p.Advance(now, fn)
			}
		}
		now += maturity + 3600
		p.Advance(now, fn)
		if p.Len() != 0 {
			t.Errorf("seed %d: %d examples still pending after the final Advance", seed, p.Len())
		}
		for id := 0; id < added; id++ {
			if left[id] != 1 {
				t.Fatalf("seed %d: id %d left %d times; want exactly once", seed, id, left[id])
			}
		}
	}
}

func TestPendingFullEvicts(t *testing.T) {
	p := NewPending[int, int](100, 2)
	var ev []int
	for i := 0; i < 4; i++ {
		if err := p.Add(i, int64(10-i), i, func(o Outcome[int]) { ev = append(ev, o.Payload) }); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(ev) != "[1 2]" || p.Len() != 2 {
		t.Errorf("evicted %v with %d left; want [1 2] (earliest deadlines) with 2 left", ev, p.Len())
	}
}

func TestPendingZeroAllocs(t *testing.T) {
	p := NewPending[int64, int64](10, 0)
	fn := func(Outcome[int64]) {}
	var i int64
	for ; i < 1000; i++ {
		_ = p.Add(i, i, i, nil)
		p.Advance(i, fn)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		_ = p.Add(i, i, i, nil)
		if i%3 == 0 {
			_ = p.Label(i-1, i, 1, fn)
		}
		p.Advance(i, fn)
		i++
	})
	if allocs != 0 {
		t.Errorf("Add+Label+Advance allocate %v times; want 0", allocs)
	}
}

// BenchmarkPending is one transaction's bookkeeping in steady state: 60,480
// pending (7 days at one every 10 s), one added and one matured per call.
func BenchmarkPending(b *testing.B) {
	p := NewPending[int64, int64](7*86400, 0)
	fn := func(Outcome[int64]) {}
	const warm = 7 * 86400 / 10 * 2
	for i := 0; i < warm; i++ {
		at := int64(i) * 10
		_ = p.Add(int64(i), at, int64(i), nil)
		p.Advance(at, fn)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := warm; i < warm+b.N; i++ {
		at := int64(i) * 10
		_ = p.Add(int64(i), at, int64(i), nil)
		p.Advance(at, fn)
	}
}
