package embed

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// snapshotOf returns a full snapshot of tb (which starts a new delta
// chain, so use it symmetrically on tables being compared).
func snapshotOf(tb *Table) *tensor.Set {
	var s tensor.Set
	tb.SaveTensors(&s, "")
	return &s
}

// roundTrip encodes s to bytes and back.
func roundTrip(t testing.TB, s *tensor.Set) *tensor.Set {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	got, err := tensor.Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	return got
}

// digest hashes everything observable about a table without changing it.
func digest(tb *Table) string {
	h := fnv.New64a()
	put := func(vs ...any) { fmt.Fprint(h, vs...) }
	put(tb.Stats(), tb.high, tb.rng, tb.seq, tb.token, tb.idx.cap)
	for r := int32(0); r < tb.high; r++ {
		if !tb.live.has(int(r)) {
			continue
		}
		put(r, tb.idOf(r), *tb.seenAt(r), tb.Row(r), tb.stateOf(r))
		if tb.adam {
			put(*tb.stepAt(r))
		}
	}
	if tb.sk != nil {
		put(tb.sk.words, tb.sk.adds)
	}
	return fmt.Sprintf("%x", h.Sum64())
}

// play runs a deterministic mix of training calls and returns a trace of
// their results.
func play(tb *Table, seed uint64, steps int, now *int64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	var trace []float32
	g := make([]float32, tb.Dim())
	for range steps {
		switch op := rng.IntN(100); {
		case op < 85:
			r := tb.Lookup(rng.Uint64N(400), *now)
			for j := range g {
				g[j] = float32(rng.NormFloat64() * 0.1)
			}
			if rng.IntN(4) == 0 {
				g[0] = 0
			}
			tb.ApplyGradient(r, g)
			trace = append(trace, float32(r))
			trace = append(trace, tb.Row(r)...)
		case op < 88:
			tb.Delete(rng.Uint64N(400))
		case op < 90:
			trace = append(trace, float32(tb.Expire(*now)))
		case op < 92:
			tb.Publish()
		default:
			*now += int64(rng.IntN(3))
		}
	}
	return trace
}

func equalTrace(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestSnapshotChainRestoresExactly: a full snapshot and the deltas after
// it, through bytes, restore a table that matches the live one and then
// trains identically.
func TestSnapshotChainRestoresExactly(t *testing.T) {
	for _, opt := range []Optimizer{AdaGrad, Adam, FTRL, SGD} {
		for _, admit := range []int{0, 2} {
			name := fmt.Sprintf("%s/admit=%d", opt, admit)
			cfg := Config{Dim: 6, Optimizer: opt, MaxRows: 150, AdmitAfter: admit, AdmitSketchWidth: 1024, ExpireAfter: 30, Seed: 5}
			if opt == FTRL {
				cfg.L1 = 0.001
			}
			live := newTable(t, cfg)
			now := int64(0)
			play(live, 1, 3000, &now)
			chain := []*tensor.Set{roundTrip(t, snapshotOf(live))}
			for i := range 4 {
				play(live, uint64(10+i), 400*i, &now) // the first delta is empty
				var d tensor.Set
				live.SaveDelta(&d, "")
				chain = append(chain, roundTrip(t, &d))
			}

			restored := newTable(t, cfg)
			if err := restored.LoadTensors(chain[0], ""); err != nil {
				t.Fatalf("%s: LoadTensors: %v", name, err)
			}
			for i, d := range chain[1:] {
				if err := restored.ApplyDelta(d, ""); err != nil {
					t.Fatalf("%s: ApplyDelta(%d): %v", name, i+1, err)
				}
				if err := restored.check(); err != nil {
					t.Fatalf("%s: after delta %d: %v", name, i+1, err)
				}
			}
			if a, b := digest(live), digest(restored); a != b {
				t.Fatalf("%s: restored table digest %s; live %s", name, b, a)
			}
			n1, n2 := now, now
			ta, tb := play(live, 99, 3000, &n1), play(restored, 99, 3000, &n2)
			if !equalTrace(ta, tb) {
				t.Fatalf("%s: restored table trains differently from the live one", name)
			}
			if !snapshotOf(live).Equal(snapshotOf(restored)) {
				t.Fatalf("%s: snapshots differ after identical training", name)
			}
			st := live.Stats()
			if st.Evictions == 0 || st.Expirations == 0 || st.Deletions == 0 {
				t.Errorf("%s: Stats = %+v; the test did not exercise eviction, expiry and deletion", name, st)
			}
		}
	}
}

func TestDeltaHoldsOnlyTouchedRows(t *testing.T) {
	tb := newTable(t, Config{Dim: 4})
	for id := range uint64(5000) {
		tb.Lookup(id, 0)
	}
	var full tensor.Set
	tb.SaveTensors(&full, "")
	tb.ApplyGradient(tb.Lookup(7, 0), []float32{1, 2, 3, 4}) // same tick: only the gradient
	tb.Lookup(8, 1)                                          // a later tick: last seen changes
	tb.Peek(9)                                               // no change
	tb.Delete(10)
	tb.Lookup(9000, 1) // takes row 11, freed by ID 10
	var d tensor.Set
	tb.SaveDelta(&d, "")
	ids, _ := d.I64("ids", 3)
	if fmt.Sprint(ids) != "[7 8 9000]" {
		t.Errorf("delta IDs = %v; want [7 8 9000]", ids)
	}
	if del, err := d.I64("deleted", 1); err != nil || del[0] != 10 {
		t.Errorf("delta deleted = %v, %v; want [10]", del, err)
	}
	var empty tensor.Set
	tb.SaveDelta(&empty, "")
	if _, shape, _ := empty.Lookup("ids"); shape[0] != 0 {
		t.Errorf("a delta with no changes holds %d rows; want 0", shape[0])
	}
}

func TestSnapshotPrefixes(t *testing.T) {
	users := newTable(t, Config{Dim: 3, Seed: 1})
	items := newTable(t, Config{Dim: 5, Seed: 2, Optimizer: Adam})
	users.Lookup(1, 0)
	items.Lookup(2, 0)
	var s tensor.Set
	users.SaveTensors(&s, "users/")
	items.SaveTensors(&s, "items/")
	s = *roundTrip(t, &s)
	u2, i2 := newTable(t, Config{Dim: 3, Seed: 1}), newTable(t, Config{Dim: 5, Seed: 2, Optimizer: Adam})
	if err := u2.LoadTensors(&s, "users/"); err != nil {
		t.Fatal(err)
	}
	if err := i2.LoadTensors(&s, "items/"); err != nil {
		t.Fatal(err)
	}
	if digest(u2) != digest(users) || digest(i2) != digest(items) {
		t.Errorf("tables restored from one set under two prefixes differ from the originals")
	}
	if err := u2.LoadTensors(&s, "items/"); err == nil {
		t.Errorf("loading the items table into the users table succeeded")
	}
}

func TestApplyDeltaChecksChain(t *testing.T) {
	cfg := Config{Dim: 2, Seed: 4}
	live := newTable(t, cfg)
	live.Lookup(1, 0)
	full := snapshotOf(live)
	var d1, d2 tensor.Set
	live.Lookup(2, 1)
	live.SaveDelta(&d1, "")
	live.Lookup(3, 2)
	live.SaveDelta(&d2, "")

	fresh := newTable(t, cfg)
	for _, tc := range []struct {
		name  string
		setup []*tensor.Set
		apply *tensor.Set
	}{
		{"delta on an empty table", nil, &d1},
		{"skipped delta", []*tensor.Set{full}, &d2},
		{"delta applied twice", []*tensor.Set{full, &d1}, &d1},
	} {
		tb := newTable(t, cfg)
		for i, s := range tc.setup {
			var err error
			if i == 0 {
				err = tb.LoadTensors(s, "")
			} else {
				err = tb.ApplyDelta(s, "")
			}
			if err != nil {
				t.Fatalf("%s: setup %d: %v", tc.name, i, err)
			}
		}
		before := digest(tb)
		if err := tb.ApplyDelta(tc.apply, ""); !errors.Is(err, ErrDeltaBase) {
			t.Errorf("%s: ApplyDelta = %v; want ErrDeltaBase", tc.name, err)
		}
		if digest(tb) != before {
			t.Errorf("%s: a refused delta changed the table", tc.name)
		}
	}
	if err := fresh.LoadTensors(&d1, ""); err == nil || !strings.Contains(err.Error(), `"delta"`) {
		t.Errorf("LoadTensors(delta) = %v; want a kind error", err)
	}
	if err := fresh.ApplyDelta(full, ""); err == nil || !strings.Contains(err.Error(), `"full"`) {
		t.Errorf("ApplyDelta(full) = %v; want a kind error", err)
	}
}

// mutate returns a copy of s with tensor name replaced by f's result.
func mutate(t *testing.T, s *tensor.Set, name string, f func(shape []int, i64 []int64, f32 []float32) ([]int, []int64, []float32)) *tensor.Set {
	t.Helper()
	c := roundTrip(t, s)
	dt, shape, ok := c.Lookup(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	switch dt {
	case tensor.I64:
		v, _ := c.I64(name, shape...)
		shape, v, _ = f(shape, append([]int64(nil), v...), nil)
		c.PutI64(name, shape, v)
	case tensor.F32:
		v, _ := c.F32(name, shape...)
		shape, _, v = f(shape, nil, append([]float32(nil), v...))
		c.PutF32(name, shape, v)
	}
	return c
}

func withMeta(t *testing.T, s *tensor.Set, key, value string) *tensor.Set {
	c := roundTrip(t, s)
	c.SetMeta(key, value)
	return c
}

func TestLoadRejectsBadSnapshots(t *testing.T) {
	cfg := Config{Dim: 3, AdmitAfter: 2, AdmitSketchWidth: 1024, Seed: 8}
	src := newTable(t, cfg)
	for i := range 40 {
		src.Lookup(uint64(i%20), int64(i))
	}
	src.Delete(3)
	src.Delete(4)
	good := snapshotOf(src)
	n := src.Len()
	setI := func(name string, i int, v int64) *tensor.Set {
		return mutate(t, good, name, func(sh []int, a []int64, _ []float32) ([]int, []int64, []float32) { a[i] = v; return sh, a, nil })
	}
	for _, tc := range []struct {
		name string
		s    *tensor.Set
		want string
	}{
		{"newer version", withMeta(t, good, metaVersion, "2"), "newer"},
		{"bad version", withMeta(t, good, metaVersion, "x"), "format version"},
		{"other optimizer", withMeta(t, good, metaOptimizer, "adam"), "optimizer"},
		{"other dim", withMeta(t, good, metaDim, "4"), "Dim"},
		{"other seed", withMeta(t, good, metaSeed, "9"), "Seed"},
		{"duplicate ID", setI("ids", 1, 0), "ID 0 is at rows"},
		{"row out of range", setI("rows", n-1, 1000), "outside"},
		{"rows out of order", setI("rows", 1, 1), "ascending"},
		{"live and free row", setI("free", 0, 1), "both live and free"},
		{"row count", setI("counters", cntRows, int64(n+1)), "live rows"},
		{"high", setI("counters", cntHigh, 1<<40), "row count"},
		{"index slots", setI("counters", cntIndexSlots, 100), "index capacity"},
		{"huge index", setI("counters", cntIndexSlots, 1<<31), "index capacity"},
		{"sketch count", setI("counters", cntSketchAdds, 1<<20), "sketch count"},
		{"weight shape", mutate(t, good, "weight", func(sh []int, _ []int64, f []float32) ([]int, []int64, []float32) {
			return []int{sh[0], sh[1] - 1}, nil, f[:len(f)-sh[0]]
		}), "shape"},
		{"negative sum", mutate(t, good, "adagrad.sum", func(sh []int, _ []int64, f []float32) ([]int, []int64, []float32) { f[2] = -1; return sh, nil, f }), "sum of squares"},
		{"NaN sum", mutate(t, good, "default.adagrad.sum", func(sh []int, _ []int64, f []float32) ([]int, []int64, []float32) {
			f[0] = float32(math.NaN())
			return sh, nil, f
		}), "sum of squares"},
		{"sketch size", mutate(t, good, "sketch", func(sh []int, a []int64, _ []float32) ([]int, []int64, []float32) {
			return []int{sh[0] - 1}, a[1:], nil
		}), "sketch"},
		{"missing counters", func() *tensor.Set { c := roundTrip(t, good); c.Delete("counters"); return c }(), "counters"},
		{"not a snapshot", &tensor.Set{}, "missing"},
	} {
		tb := newTable(t, cfg)
		tb.Lookup(1000, 0)
		before := digest(tb)
		err := tb.LoadTensors(tc.s, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "embed: ") {
			t.Errorf("LoadTensors(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
		if digest(tb) != before {
			t.Errorf("LoadTensors(%s) changed the table", tc.name)
		}
	}
	// The unmodified snapshot loads.
	tb := newTable(t, cfg)
	if err := tb.LoadTensors(good, ""); err != nil {
		t.Fatalf("LoadTensors(good) = %v", err)
	}
}

func TestApplyDeltaRejectsInconsistentDeltas(t *testing.T) {
	cfg := Config{Dim: 2, Seed: 6}
	live := newTable(t, cfg)
	for id := range uint64(10) {
		live.Lookup(id, 0)
	}
	base := snapshotOf(live)
	live.Delete(5)                                         // frees row 6
	live.Lookup(100, 1)                                    // takes row 6
	live.Lookup(101, 1)                                    // row 11
	live.ApplyGradient(live.Lookup(2, 1), []float32{1, 1}) // row 3
	var good tensor.Set
	live.SaveDelta(&good, "")
	if fmt.Sprint(mustI64(t, &good, "ids")) != "[2 100 101]" || fmt.Sprint(mustI64(t, &good, "rows")) != "[3 6 11]" {
		t.Fatalf("unexpected delta: ids %v rows %v", mustI64(t, &good, "ids"), mustI64(t, &good, "rows"))
	}
	setI := func(name string, i int, v int64) *tensor.Set {
		return mutate(t, &good, name, func(sh []int, a []int64, _ []float32) ([]int, []int64, []float32) { a[i] = v; return sh, a, nil })
	}
	for _, tc := range []struct {
		name string
		s    *tensor.Set
		want string
	}{
		{"deleted ID absent", setI("deleted", 0, 55), "not in the table"},
		{"ID moves without delete", setI("ids", 1, 4), "moves to row"},
		{"row changes ID without delete", setI("ids", 0, 77), "does not delete"},
		{"duplicate ID", setI("ids", 2, 100), "ID 100 is at rows"},
		{"row count", setI("counters", cntRows, 9), "live rows"},
		{"growth not listed", setI("counters", cntHigh, 40), "lists only"},
		{"freed row not listed", mutate(t, mutate(t, &good, "deleted", func(sh []int, a []int64, _ []float32) ([]int, []int64, []float32) {
			return []int{2}, []int64{5, 3}, nil // also deletes ID 3 (row 4), which the delta does not free
		}), "counters", func(sh []int, a []int64, _ []float32) ([]int, []int64, []float32) { a[cntRows]--; return sh, a, nil }), "neither frees"},
		{"free live row", mutate(t, &good, "free", func(sh []int, a []int64, _ []float32) ([]int, []int64, []float32) {
			return []int{1}, []int64{2}, nil
		}), "does not delete"},
	} {
		tb := newTable(t, cfg)
		if err := tb.LoadTensors(base, ""); err != nil {
			t.Fatal(err)
		}
		before := digest(tb)
		err := tb.ApplyDelta(tc.s, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ApplyDelta(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
		if digest(tb) != before {
			t.Errorf("ApplyDelta(%s) changed the table", tc.name)
		}
	}
	tb := newTable(t, cfg)
	if err := tb.LoadTensors(base, ""); err != nil {
		t.Fatal(err)
	}
	if err := tb.ApplyDelta(&good, ""); err != nil {
		t.Fatalf("ApplyDelta(good) = %v", err)
	}
	if digest(tb) != digest(live) {
		t.Errorf("restored table differs from the live one")
	}
}

func mustI64(t *testing.T, s *tensor.Set, name string) []int64 {
	t.Helper()
	_, shape, ok := s.Lookup(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	v, err := s.I64(name, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
