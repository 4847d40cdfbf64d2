package velocity

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// brute is the reference: every accepted event and label, summed by day.
type brute struct {
	events []bevent
}

type bevent struct {
	key   uint64
	day   int32
	amt   float64
	fraud float64
}

func (b *brute) agg(key uint64, lo, hi int32) Agg {
	var a Agg
	for _, e := range b.events {
		if e.key == key && e.day >= lo && e.day <= hi {
			if e.amt >= 0 { // labels are stored with amt = -1
				a.Count++
				a.Sum += e.amt
			}
			a.Fraud += e.fraud
		}
	}
	return a
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*(1+math.Abs(a)+math.Abs(b)) }

func sameAgg(a, b Agg) bool {
	return near(a.Count, b.Count) && near(a.Sum, b.Sum) && near(a.Fraud, b.Fraud)
}

// TestAgainstBruteForce replays random streams, with events out of order
// by up to a few days, labels and idle keys, and checks every query
// against a brute-force sum over the accepted events.
func TestAgainstBruteForce(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		for _, delay := range []int{0, 3, 7} {
			rng := rand.New(rand.NewPCG(seed, uint64(delay)))
			tb, err := New(Config{Windows: []int{7, 1, 30}, Delay: delay})
			if err != nil {
				t.Fatal(err)
			}
			var ref brute
			sec := int64(1_500_000_000)
			got := make([]Agg, 3)
			keys := 20
			for step := 0; step < 2500; step++ {
				sec += int64(rng.IntN(6000))
				key := uint64(rng.IntN(keys))
				if step > 1200 && key < 5 {
					key += 100 // keys 0..4 go idle after step 2000 and get evicted
				}
				at := sec
				if rng.IntN(10) == 0 {
					at -= int64(rng.IntN(5 * SecondsPerDay)) // out of order
				}
				amt := math.Round(rng.Float64()*20000) / 100
				switch rng.IntN(4) {
				case 0: // a label for a random earlier event of this key
					var cands []bevent
					for _, e := range ref.events {
						if e.key == key && e.amt >= 0 {
							cands = append(cands, e)
						}
					}
					if len(cands) == 0 {
						continue
					}
					e := cands[rng.IntN(len(cands))]
					esec := int64(e.day)*SecondsPerDay + 5
					err := tb.AddLabel(key, esec, 1)
					if err == nil {
						ref.events = append(ref.events, bevent{key: key, day: e.day, amt: -1, fraud: 1})
					} else if !errors.Is(err, ErrTooOld) && !errors.Is(err, ErrUnknownKey) {
						t.Fatalf("seed %d: AddLabel: %v", seed, err)
					}
				default:
					err := tb.Add(key, at, amt)
					if err == nil {
						ref.events = append(ref.events, bevent{key: key, day: Day(at), amt: amt})
					} else if !errors.Is(err, ErrTooOld) {
						t.Fatalf("seed %d: Add: %v", seed, err)
					}
				}
				// Evicted keys have forgotten their events; the
				// reference forgets them too.
				if _, ok := tb.index[key]; !ok {
					t.Fatalf("seed %d step %d: key %d missing right after use", seed, step, key)
				}
				for k := uint64(0); k < 5; k++ {
					if _, ok := tb.index[k]; !ok {
						ref.forget(k)
					}
				}
				q := sec
				d := Day(q)
				tb.Recent(got, key, q)
				for w, n := range tb.Windows() {
					want := ref.agg(key, d-int32(n)+1, d)
					want.Fraud = got[w].Fraud // recent windows: labels checked below
					if !sameAgg(got[w], want) {
						t.Fatalf("seed %d delay %d step %d: Recent(key %d, day %d)[%dd] = %+v; want %+v", seed, delay, step, key, d, n, got[w], want)
					}
				}
				tb.Delayed(got, key, q)
				for w, n := range tb.Windows() {
					dd := d - int32(delay)
					want := ref.agg(key, dd-int32(n), dd-1)
					if !sameAgg(got[w], want) {
						t.Fatalf("seed %d delay %d step %d: Delayed(key %d, day %d)[%dd] = %+v; want %+v", seed, delay, step, key, d, n, got[w], want)
					}
				}
			}
			if tb.Evicted() == 0 {
				t.Errorf("seed %d: no key was evicted; the idle keys should have been", seed)
			}
		}
	}
}

func (b *brute) forget(key uint64) {
	out := b.events[:0]
	for _, e := range b.events {
		if e.key != key {
			out = append(out, e)
		}
	}
	b.events = out
}

func TestBadInput(t *testing.T) {
	tb, _ := New(Config{})
	day := int64(20000) * SecondsPerDay
	if err := tb.Add(1, day, 10); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"NaN amount", tb.Add(1, day, math.NaN()), ErrBadValue},
		{"Inf amount", tb.Add(1, day, math.Inf(1)), ErrBadValue},
		{"too old", tb.Add(1, day-int64(tb.Span())*SecondsPerDay, 10), ErrTooOld},
		{"label unknown key", tb.AddLabel(2, day, 1), ErrUnknownKey},
		{"label on a day without events", tb.AddLabel(1, day-SecondsPerDay, 1), ErrUnknownKey},
		{"label NaN", tb.AddLabel(1, day, math.NaN()), ErrBadValue},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v; want %v", tt.name, tt.err, tt.want)
		}
	}
	got := make([]Agg, 3)
	tb.Recent(got, 1, day)
	if got[0] != (Agg{Count: 1, Sum: 10}) {
		t.Errorf("state after refused input: Recent = %+v; want one event of 10", got[0])
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{Windows: []int{0}}, false},
		{Config{Windows: []int{MaxWindow + 1}}, false},
		{Config{Delay: -1}, false},
		{Config{Idle: -1}, false},
		{Config{Idle: 10}, false},
		{Config{Idle: 31}, true},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%+v) = %v; want ok=%v", tt.cfg, err, tt.ok)
		}
	}
}

func TestDayNegative(t *testing.T) {
	tests := []struct {
		sec  int64
		want int32
	}{{0, 0}, {86399, 0}, {86400, 1}, {-1, -1}, {-86400, -1}, {-86401, -2}}
	for _, tt := range tests {
		if got := Day(tt.sec); got != tt.want {
			t.Errorf("Day(%d) = %d; want %d", tt.sec, got, tt.want)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	tb, _ := New(Config{Delay: 7})
	dst := make([]Agg, 3)
	sec := int64(1_600_000_000)
	for i := 0; i < 1000; i++ {
		_ = tb.Add(uint64(i%100), sec+int64(i), 1)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		k := uint64(i % 100)
		i++
		_ = tb.Add(k, sec+1000+int64(i), 5)
		_ = tb.AddLabel(k, sec+1000+int64(i), 1)
		tb.Recent(dst, k, sec+1000+int64(i))
		tb.Delayed(dst, k, sec+1000+int64(i))
	})
	if allocs != 0 {
		t.Errorf("Add+AddLabel+Recent+Delayed allocate %v times per call; want 0", allocs)
	}
}

// BenchmarkUpdateQuery is one transaction's work on one table in steady
// state (keys already present): Add, then the recent and delayed windows.
func BenchmarkUpdateQuery(b *testing.B) {
	for _, keys := range []int{100, 5000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			tb, _ := New(Config{Delay: 7})
			dst := make([]Agg, 3)
			sec := int64(1_600_000_000)
			for i := 0; i < 10*keys; i++ {
				_ = tb.Add(uint64(i%keys), sec+int64(i), 5)
			}
			sec += int64(10 * keys)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := uint64(i % keys)
				s := sec + int64(i)*10
				_ = tb.Add(k, s, 5)
				tb.Recent(dst, k, s)
				tb.Delayed(dst, k, s)
			}
		})
	}
}

func FuzzTable(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, _ := New(Config{Windows: []int{1, 3}, Delay: 2})
		var ref brute
		sec := int64(1_000_000)
		dst := make([]Agg, 2)
		for len(data) >= 3 {
			key := uint64(data[0] % 4)
			sec += int64(data[1]) * 3000
			at := sec - int64(data[2]%8)*SecondsPerDay/2
			if err := tb.Add(key, at, float64(data[2])); err == nil {
				ref.events = append(ref.events, bevent{key: key, day: Day(at), amt: float64(data[2])})
			}
			for k := uint64(0); k < 4; k++ {
				if _, ok := tb.index[k]; !ok {
					ref.forget(k)
				}
			}
			d := Day(sec)
			tb.Recent(dst, key, sec)
			for w, n := range tb.Windows() {
				want := ref.agg(key, d-int32(n)+1, d)
				if !sameAgg(dst[w], want) {
					t.Fatalf("Recent(key %d)[%dd] = %+v; want %+v", key, n, dst[w], want)
				}
			}
			data = data[3:]
		}
	})
}
