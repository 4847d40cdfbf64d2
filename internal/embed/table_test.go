package embed

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func newTable(t testing.TB, cfg Config) *Table {
	t.Helper()
	tb, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return tb
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dim", Config{}, "Config.Dim"},
		{"huge dim", Config{Dim: MaxDim + 1}, "Config.Dim"},
		{"optimizer", Config{Dim: 4, Optimizer: "rmsprop"}, "Config.Optimizer"},
		{"negative rate", Config{Dim: 4, LearnRate: -1}, "Config.LearnRate"},
		{"nan rate", Config{Dim: 4, LearnRate: math.NaN()}, "Config.LearnRate"},
		{"inf std", Config{Dim: 4, InitStd: math.Inf(1)}, "Config.InitStd"},
		{"negative L2", Config{Dim: 4, L2: -0.1}, "Config.L2"},
		{"L1 without FTRL", Config{Dim: 4, L1: 0.1}, "Config.L1"},
		{"beta1", Config{Dim: 4, Optimizer: Adam, Beta1: 1}, "Config.Beta1"},
		{"beta2", Config{Dim: 4, Optimizer: Adam, Beta2: -0.5}, "Config.Beta2"},
		{"admit", Config{Dim: 4, AdmitAfter: 256}, "Config.AdmitAfter"},
		{"sketch width", Config{Dim: 4, AdmitAfter: 2, AdmitSketchWidth: 3000}, "Config.AdmitSketchWidth"},
		{"small sketch", Config{Dim: 4, AdmitAfter: 2, AdmitSketchWidth: 512}, "Config.AdmitSketchWidth"},
		{"expire", Config{Dim: 4, ExpireAfter: -1}, "Config.ExpireAfter"},
		{"max rows", Config{Dim: 4, MaxRows: -1}, "Config.MaxRows"},
		{"budget", Config{Dim: 4, MemoryBudgetBytes: -1}, "Config.MemoryBudgetBytes"},
		{"tiny budget", Config{Dim: 4, MemoryBudgetBytes: 1000}, "Config.MemoryBudgetBytes"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "embed: ") {
			t.Errorf("New(%s: %+v) = %v; want an error naming %s", tc.name, tc.cfg, err, tc.want)
		}
	}
}

func TestAdmitAfter(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 5, 255} {
		tb := newTable(t, Config{Dim: 4, AdmitAfter: n, AdmitSketchWidth: 1024})
		want := max(n, 1)
		got := 0
		for i := 1; i <= 300 && got == 0; i++ {
			if r := tb.Lookup(42, int64(i)); r != DefaultRow {
				got = i
			}
		}
		if got != want {
			t.Errorf("AdmitAfter %d: ID got its row on sighting %d; want %d", n, got, want)
		}
		if _, ok := tb.Peek(43); ok {
			t.Errorf("AdmitAfter %d: Peek(43) = true for an ID never seen", n)
		}
		st := tb.Stats()
		if st.Admissions != 1 || st.Rows != 1 || st.Misses != uint64(want) || st.Lookups != uint64(want) {
			t.Errorf("AdmitAfter %d: Stats = %+v; want 1 admission, 1 row, %d misses and lookups", n, st, want)
		}
	}
}

// TestSketchFalseAdmission measures how often an ID seen once is admitted
// by a sketch that has counted many other one-off IDs, and checks the
// bound documented on the sketch type.
func TestSketchFalseAdmission(t *testing.T) {
	for _, tc := range []struct {
		admitAfter int
		bound      float64
	}{{2, 0.16}, {3, 0.005}, {4, 0.0005}} {
		const width = 1 << 14
		tb := newTable(t, Config{Dim: 2, AdmitAfter: tc.admitAfter, AdmitSketchWidth: width})
		const ids = 8 * width // sixteen agings
		for id := range uint64(ids) {
			tb.Lookup(mix64(id+1), int64(id))
		}
		rate := float64(tb.Stats().Admissions) / ids
		t.Logf("AdmitAfter %d: %.4f%% of one-off IDs admitted (bound %.2f%%)", tc.admitAfter, 100*rate, 100*tc.bound)
		if rate > tc.bound {
			t.Errorf("AdmitAfter %d: false admission rate %.4f; want ≤ %.4f", tc.admitAfter, rate, tc.bound)
		}
	}
}

func TestExpire(t *testing.T) {
	tb := newTable(t, Config{Dim: 4, ExpireAfter: 10})
	for id := uint64(1); id <= 5; id++ {
		tb.Lookup(id, 0)
	}
	for id := uint64(6); id <= 10; id++ {
		tb.Lookup(id, 5)
	}
	tb.Lookup(1, 8)
	tb.Lookup(2, 3) // ID 2 is now last seen at 3
	tb.Lookup(6, 1) // an older tick leaves ID 6 at 5
	for _, tc := range []struct {
		now     int64
		removed int
		left    []uint64
	}{
		{12, 3, []uint64{1, 2, 6, 7, 8, 9, 10}}, // cut 2: IDs 3, 4, 5 (seen at 0)
		{13, 0, []uint64{1, 2, 6, 7, 8, 9, 10}}, // cut 3: ID 2 was seen at 3
		{15, 1, []uint64{1, 6, 7, 8, 9, 10}},    // cut 5
		{16, 5, []uint64{1}},                    // cut 6
		{18, 0, []uint64{1}},                    // cut 8: ID 1 seen at 8
		{19, 1, nil},
	} {
		if got := tb.Expire(tc.now); got != tc.removed {
			t.Errorf("Expire(%d) = %d; want %d", tc.now, got, tc.removed)
		}
		if tb.Len() != len(tc.left) {
			t.Errorf("after Expire(%d), Len() = %d; want %d", tc.now, tb.Len(), len(tc.left))
		}
		for _, id := range tc.left {
			if _, ok := tb.Peek(id); !ok {
				t.Errorf("after Expire(%d), Peek(%d) = false; want true", tc.now, id)
			}
		}
		if err := tb.check(); err != nil {
			t.Fatalf("after Expire(%d): %v", tc.now, err)
		}
	}
	if got := tb.Stats().Expirations; got != 10 {
		t.Errorf("Stats().Expirations = %d; want 10", got)
	}
	never := newTable(t, Config{Dim: 4})
	never.Lookup(1, 0)
	if got := never.Expire(math.MaxInt64); got != 0 {
		t.Errorf("Expire with ExpireAfter 0 = %d; want 0", got)
	}
	early := newTable(t, Config{Dim: 4, ExpireAfter: 100})
	early.Lookup(1, math.MinInt64)
	if got := early.Expire(math.MinInt64 + 50); got != 0 {
		t.Errorf("Expire near MinInt64 = %d; want 0 (no overflow)", got)
	}
}

func TestEvictionKeepsRecentlySeen(t *testing.T) {
	const maxRows = 1000
	tb := newTable(t, Config{Dim: 4, MaxRows: maxRows, Seed: 3})
	for id := uint64(1); id <= maxRows; id++ {
		tb.Lookup(id, int64(id))
	}
	for id := uint64(901); id <= maxRows; id++ {
		tb.Lookup(id, 2000)
	}
	for i := range uint64(300) {
		if r := tb.Lookup(10000+i, int64(3000+i)); r == DefaultRow {
			t.Fatalf("new ID %d got DefaultRow in a full table with evictable rows", 10000+i)
		}
	}
	if got := tb.Stats().Evictions; got != 300 {
		t.Errorf("Stats().Evictions = %d; want 300", got)
	}
	if tb.Len() != maxRows {
		t.Errorf("Len() = %d; want %d", tb.Len(), maxRows)
	}
	for id := uint64(901); id <= maxRows; id++ {
		if _, ok := tb.Peek(id); !ok {
			t.Errorf("recently seen ID %d was evicted", id)
		}
	}
	for i := range uint64(300) {
		if _, ok := tb.Peek(10000 + i); !ok {
			t.Errorf("new ID %d was evicted", 10000+i)
		}
	}
	// Sampled LRU evicts among the oldest: exact LRU would evict IDs
	// 1..300 (mean 150.5), random eviction would average 450.
	var sum, n float64
	for id := uint64(1); id <= 900; id++ {
		if _, ok := tb.Peek(id); !ok {
			sum += float64(id)
			n++
		}
	}
	if mean := sum / n; mean > 250 {
		t.Errorf("mean last-seen tick of evicted IDs = %.1f; want ≤ 250 (exact LRU: 150.5)", mean)
	} else {
		t.Logf("mean last-seen tick of evicted IDs = %.1f (exact LRU: 150.5)", mean)
	}
	if err := tb.check(); err != nil {
		t.Fatal(err)
	}
}

func TestEvictionSparesCurrentTick(t *testing.T) {
	tb := newTable(t, Config{Dim: 4, MaxRows: 4})
	rows := map[int32]bool{}
	for id := uint64(1); id <= 4; id++ {
		rows[tb.Lookup(id, 10)] = true
	}
	if r := tb.Lookup(5, 10); r != DefaultRow {
		t.Fatalf("Lookup(5, 10) in a table full of rows seen at 10 = %d; want DefaultRow", r)
	}
	if r := tb.Lookup(5, 9); r != DefaultRow {
		t.Fatalf("Lookup(5, 9) (an older tick) = %d; want DefaultRow", r)
	}
	for id := uint64(1); id <= 4; id++ {
		if _, ok := tb.Peek(id); !ok {
			t.Fatalf("ID %d seen at the current tick was evicted", id)
		}
	}
	r := tb.Lookup(5, 11)
	if r == DefaultRow || !rows[r] {
		t.Fatalf("Lookup(5, 11) = %d; want the row of an evicted ID", r)
	}
	if st := tb.Stats(); st.Evictions != 1 || st.Rows != 4 || st.Misses != 7 || st.Admissions != 5 {
		t.Errorf("Stats = %+v; want 1 eviction, 4 rows, 7 misses, 5 admissions", st)
	}
}

func TestMemoryBudget(t *testing.T) {
	for _, cfg := range []Config{
		{Dim: 16, MemoryBudgetBytes: 4 << 20},
		{Dim: 8, Optimizer: Adam, MemoryBudgetBytes: 2 << 20, AdmitAfter: 2, AdmitSketchWidth: 1 << 16},
		{Dim: 16, MemoryBudgetBytes: 8 << 20, MaxRows: 1000},
	} {
		tb := newTable(t, cfg)
		for i := range 200000 {
			tb.Lookup(uint64(i/2), int64(i)) // every ID twice, for AdmitAfter 2
		}
		st := tb.Stats()
		if st.Bytes > cfg.MemoryBudgetBytes {
			t.Errorf("%+v: Stats().Bytes = %d; want ≤ %d", cfg, st.Bytes, cfg.MemoryBudgetBytes)
		}
		if st.Rows != tb.MaxRows() || st.Evictions == 0 {
			t.Errorf("%+v: %d rows (MaxRows %d), %d evictions; want a full table that evicted", cfg, st.Rows, tb.MaxRows(), st.Evictions)
		}
		if cfg.MaxRows > 0 && tb.MaxRows() != cfg.MaxRows {
			t.Errorf("%+v: MaxRows() = %d; want %d", cfg, tb.MaxRows(), cfg.MaxRows)
		}
		t.Logf("%+v: %d rows, %d bytes (%.1f%% of the budget)", cfg, st.Rows, st.Bytes, 100*float64(st.Bytes)/float64(cfg.MemoryBudgetBytes))
		if cfg.MaxRows == 0 && float64(st.Bytes) < 0.9*float64(cfg.MemoryBudgetBytes) {
			t.Errorf("%+v: the full table uses only %d of %d budget bytes; the row bound is too conservative", cfg, st.Bytes, cfg.MemoryBudgetBytes)
		}
	}
}

func TestFreeListReuse(t *testing.T) {
	tb := newTable(t, Config{Dim: 4})
	for id := uint64(1); id <= 100; id++ {
		if r := tb.Lookup(id, 0); r != int32(id) {
			t.Fatalf("Lookup(%d) = row %d; want %d (rows are handed out in order)", id, r, id)
		}
	}
	for _, id := range []uint64{50, 10, 20} {
		if !tb.Delete(id) {
			t.Fatalf("Delete(%d) = false; want true", id)
		}
	}
	if tb.Delete(10) {
		t.Errorf("second Delete(10) = true; want false")
	}
	if st := tb.Stats(); st.FreeRows != 3 || st.Rows != 97 || st.Deletions != 3 {
		t.Errorf("Stats = %+v; want 3 free rows, 97 rows, 3 deletions", st)
	}
	high := tb.high
	for i, want := range []int32{10, 20, 50, 101} {
		if r := tb.Lookup(uint64(1000+i), 1); r != want {
			t.Errorf("new ID %d got row %d; want %d (the lowest free row, then a new one)", 1000+i, r, want)
		}
	}
	if tb.high != high+1 {
		t.Errorf("rows with storage grew from %d to %d; want one more", high, tb.high)
	}
	if err := tb.check(); err != nil {
		t.Fatal(err)
	}
}

// TestTableRandomVsReference runs random lookups, deletes and expiries on
// a small bounded table with admission and compares it with a reference
// model (a Go map of ID → row and last-seen tick).
func TestTableRandomVsReference(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	const maxRows = 300
	const expireAfter = 150
	tb := newTable(t, Config{Dim: 3, MaxRows: maxRows, AdmitAfter: 2, AdmitSketchWidth: 1024, ExpireAfter: expireAfter, Seed: seed})
	type entry struct {
		row  int32
		seen int64
	}
	ref := map[uint64]*entry{}
	now := int64(0)
	for step := range 30000 {
		if rng.IntN(8) == 0 {
			now += int64(rng.IntN(3))
		}
		// Phases alternate between 200 IDs (no evictions; the previous
		// phase's rows linger and expire) and 600 (evictions).
		phase := uint64(step / 3000)
		ids := uint64(200 + 400*(phase%2))
		switch op := rng.IntN(1000); {
		case op < 960:
			id := phase*1000 + rng.Uint64N(ids)
			before := tb.Stats()
			r := tb.Lookup(id, now)
			after := tb.Stats()
			e, had := ref[id]
			switch {
			case had:
				if r != e.row {
					t.Fatalf("step %d: Lookup(%d) = %d; reference row %d", step, id, r, e.row)
				}
				e.seen = max(e.seen, now)
			case r == DefaultRow:
				if after.Admissions != before.Admissions {
					t.Fatalf("step %d: Lookup(%d) admitted but returned DefaultRow", step, id)
				}
			default:
				if after.Admissions != before.Admissions+1 {
					t.Fatalf("step %d: Lookup(%d) = new row %d without an admission", step, id, r)
				}
				evicted := after.Evictions - before.Evictions
				if evicted != 0 && len(ref) != maxRows || evicted > 1 {
					t.Fatalf("step %d: %d evictions with %d of %d rows used", step, evicted, len(ref), maxRows)
				}
				for oid, oe := range ref {
					if _, ok := tb.Peek(oid); !ok {
						if evicted == 0 || oe.seen >= now {
							t.Fatalf("step %d: ID %d (seen %d) vanished at tick %d (evictions %d)", step, oid, oe.seen, now, evicted)
						}
						delete(ref, oid)
						evicted--
					} else if oe.row == r {
						t.Fatalf("step %d: new ID %d got row %d of live ID %d", step, id, r, oid)
					}
				}
				if evicted != 0 {
					t.Fatalf("step %d: an eviction removed no reference ID", step)
				}
				ref[id] = &entry{row: r, seen: now}
			}
		case op < 995:
			id := phase*1000 + rng.Uint64N(ids)
			_, had := ref[id]
			if got := tb.Delete(id); got != had {
				t.Fatalf("step %d: Delete(%d) = %v; want %v", step, id, got, had)
			}
			delete(ref, id)
		default:
			want := 0
			for id, e := range ref {
				if e.seen < now-expireAfter {
					delete(ref, id)
					want++
				}
			}
			if got := tb.Expire(now); got != want {
				t.Fatalf("step %d: Expire(%d) = %d; want %d", step, now, got, want)
			}
		}
		if tb.Len() != len(ref) {
			t.Fatalf("step %d: Len() = %d; reference %d", step, tb.Len(), len(ref))
		}
		if step%500 == 0 {
			for id, e := range ref {
				if r, ok := tb.Peek(id); !ok || r != e.row || *tb.seenAt(r) != e.seen {
					t.Fatalf("step %d: Peek(%d) = %d, %v (seen %d); want %d (seen %d)", step, id, r, ok, *tb.seenAt(r), e.row, e.seen)
				}
			}
			if err := tb.check(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
	}
	st := tb.Stats()
	t.Logf("%+v", st)
	if st.Evictions == 0 || st.Expirations == 0 || st.Deletions == 0 {
		t.Errorf("Stats = %+v; the test did not exercise eviction, expiry and deletion", st)
	}
}

func TestRowInitialisation(t *testing.T) {
	tb := newTable(t, Config{Dim: 16, InitStd: 0.5, Seed: 9})
	var sum, sq float64
	const n = 2000
	for id := range uint64(n) {
		for _, v := range tb.Row(tb.Lookup(id, 0)) {
			sum += float64(v)
			sq += float64(v) * float64(v)
		}
	}
	mean := sum / (n * 16)
	std := math.Sqrt(sq/(n*16) - mean*mean)
	if math.Abs(mean) > 0.02 || math.Abs(std-0.5) > 0.02 {
		t.Errorf("initial values: mean %.4f, std %.4f; want about 0 and 0.5", mean, std)
	}
	// The initial values of an ID depend only on the seed and the ID.
	other := newTable(t, Config{Dim: 16, InitStd: 0.5, Seed: 9})
	other.Lookup(12345, 0)
	got, want := other.Row(other.Lookup(7, 0)), tb.Row(tb.Lookup(7, 0))
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("ID 7's initial row depends on admission order: %v vs %v", got, want)
		}
	}
	zero := newTable(t, Config{Dim: 5, InitStd: -1})
	for _, v := range append(zero.Row(zero.Lookup(1, 0)), zero.Row(DefaultRow)...) {
		if v != 0 {
			t.Fatalf("InitStd < 0: initial value %v; want 0", v)
		}
	}
}

// TestDeterminism: the same configuration and calls give the same table,
// bit for bit, and a different seed a different one.
func TestDeterminism(t *testing.T) {
	run := func(seed uint64) *Table {
		tb := newTable(t, Config{Dim: 8, Seed: seed, MaxRows: 200, AdmitAfter: 2, AdmitSketchWidth: 1024, ExpireAfter: 40})
		rng := rand.New(rand.NewPCG(1, 1))
		for i := range 5000 {
			tb.Lookup(rng.Uint64N(500), int64(i/10))
			if i%1000 == 999 {
				tb.Expire(int64(i / 10))
			}
		}
		return tb
	}
	a, b, c := run(1), run(1), run(2)
	sa, sb, sc := snapshotOf(a), snapshotOf(b), snapshotOf(c)
	if !sa.Equal(sb) {
		t.Errorf("two tables with seed 1 fed the same lookups differ")
	}
	if sa.Equal(sc) {
		t.Errorf("tables with seeds 1 and 2 are identical")
	}
}

func TestDefaultRow(t *testing.T) {
	for _, tc := range []struct {
		learn bool
		want  func(before []float32) []float32
	}{
		{false, func([]float32) []float32 { return []float32{0, 0} }},
		{true, func(b []float32) []float32 { return []float32{b[0] - 0.5, b[1] + 0.5} }},
	} {
		tb := newTable(t, Config{Dim: 2, AdmitAfter: 3, AdmitSketchWidth: 1024, Optimizer: SGD, LearnRate: 0.5, LearnDefault: tc.learn})
		r := tb.Lookup(77, 0)
		if r != DefaultRow {
			t.Fatalf("LearnDefault %v: Lookup of a new ID = %d; want DefaultRow", tc.learn, r)
		}
		before := append([]float32(nil), tb.Row(r)...)
		if tc.learn == (before[0] == 0 && before[1] == 0) {
			t.Errorf("LearnDefault %v: initial DefaultRow = %v; want zero only without LearnDefault", tc.learn, before)
		}
		tb.ApplyGradient(r, []float32{1, -1})
		if got, want := tb.Row(DefaultRow), tc.want(before); !slices.Equal(got, want) {
			t.Errorf("LearnDefault %v: DefaultRow after an SGD step = %v; want %v", tc.learn, got, want)
		}
	}
}

// TestInitRow checks that InitRow (of the table and of a View) gives the
// weights an ID's row starts from when it is admitted.
func TestInitRow(t *testing.T) {
	for _, cfg := range []Config{
		{Dim: 5, Seed: 3},
		{Dim: 16, Seed: 4, InitStd: 0.2, AdmitAfter: 2, AdmitSketchWidth: 1024},
		{Dim: 3, InitStd: -1},
	} {
		tb := newTable(t, cfg)
		v := tb.Publish()
		for _, id := range []uint64{0, 1, 42, 1 << 63} {
			want := make([]float32, cfg.Dim)
			tb.InitRow(want, id)
			fromView := make([]float32, cfg.Dim)
			v.InitRow(fromView, id)
			var r int32
			for r == DefaultRow {
				r = tb.Lookup(id, 0)
			}
			if got := tb.Row(r); !slices.Equal(got, want) {
				t.Errorf("%+v: row of ID %d on admission = %v; InitRow gave %v", cfg, id, got, want)
			}
			if !slices.Equal(fromView, want) {
				t.Errorf("%+v: View.InitRow(%d) = %v; Table.InitRow gave %v", cfg, id, fromView, want)
			}
		}
	}
}

func TestPanics(t *testing.T) {
	tb := newTable(t, Config{Dim: 2})
	tb.Lookup(1, 0)
	tb.Lookup(2, 0)
	tb.Delete(2)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short gradient", func() { tb.ApplyGradient(1, []float32{1}) }},
		{"free row", func() { tb.ApplyGradient(2, []float32{1, 1}) }},
		{"negative row", func() { tb.ApplyGradient(-1, []float32{1, 1}) }},
		{"row past the end", func() { tb.Row(100) }},
		{"free row read", func() { tb.Row(2) }},
		{"view row past the end", func() { tb.Publish().Row(3) }},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "embed: ") {
					t.Errorf("%s: panic %v; want an embed panic", tc.name, r)
				}
			}()
			tc.f()
		}()
	}
}

func TestZeroAllocs(t *testing.T) {
	for _, opt := range []Optimizer{AdaGrad, Adam, FTRL, SGD} {
		tb := newTable(t, Config{Dim: 16, Optimizer: opt, AdmitAfter: 3, AdmitSketchWidth: 1024, MaxRows: 1000})
		for id := range uint64(1000) {
			for range 3 {
				tb.Lookup(id, 1)
			}
		}
		g := make([]float32, 16)
		for j := range g {
			g[j] = 0.01 * float32(j-8)
		}
		id := uint64(0)
		for _, tc := range []struct {
			name string
			f    func()
		}{
			{"Lookup hit", func() { id = (id + 7) % 1000; tb.Lookup(id, 2) }},
			{"Lookup miss", func() { id++; tb.Lookup(1<<40+id, 2) }},
			{"Lookup evicting", func() {
				id++
				tb.Lookup(1<<50+id, int64(3+id))
				tb.Lookup(1<<50+id, int64(3+id))
				tb.Lookup(1<<50+id, int64(3+id))
			}},
			{"ApplyGradient", func() { id = (id + 7) % 1000; tb.ApplyGradient(int32(1+id%999), g) }},
			{"Row", func() { id = (id + 7) % 1000; _ = tb.Row(int32(1 + id%999)) }},
		} {
			if n := testing.AllocsPerRun(200, tc.f); n != 0 {
				t.Errorf("%s: %s allocates %.1f times per call; want 0", opt, tc.name, n)
			}
		}
		v := tb.Publish()
		if n := testing.AllocsPerRun(200, func() { id++; _ = v.Row(v.Lookup(id % 2000)) }); n != 0 {
			t.Errorf("%s: View.Lookup+Row allocates %.1f times per call; want 0", opt, n)
		}
	}
}

// TestPrefetchChangesNothing feeds two tables the same lookups and
// gradients, one of them with Prefetch calls (of present, absent and
// evicted IDs) in between, and checks they end identical; Prefetch must
// not allocate.
func TestPrefetchChangesNothing(t *testing.T) {
	for _, cfg := range []Config{
		{Dim: 4},
		{Dim: 3, Optimizer: SGD, AdmitAfter: 2, AdmitSketchWidth: 1024},
		{Dim: 2, Optimizer: Adam, MaxRows: 50},
	} {
		a, b := newTable(t, cfg), newTable(t, cfg)
		g := make([]float32, cfg.Dim)
		var sink uint64
		for i := range 3000 {
			id := uint64(i*7919) % 400
			if i%3 == 0 {
				for _, p := range []uint64{id, id + 1, 1 << 40} {
					sink ^= b.Prefetch(p)
				}
			}
			for _, tb := range []*Table{a, b} {
				r := tb.Lookup(id, int64(i/4))
				g[0] = float32(i%5) - 2
				tb.ApplyGradient(r, g)
			}
		}
		if !snapshotOf(a).Equal(snapshotOf(b)) {
			t.Errorf("%+v: the table Prefetch was called on differs from its twin", cfg)
		}
		if a.Stats() != b.Stats() {
			t.Errorf("%+v: Stats = %+v with Prefetch; want %+v", cfg, b.Stats(), a.Stats())
		}
		if n := testing.AllocsPerRun(100, func() { sink ^= b.Prefetch(17) ^ b.Prefetch(1<<50) }); n != 0 {
			t.Errorf("%+v: Prefetch allocates %v times; want 0", cfg, n)
		}
		_ = sink
	}
}
