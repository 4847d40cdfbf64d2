package feature

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testSchema has every kind of field: 0 n (numeric), 1 cnt (numeric,
// log1p), 2 a, 3 b (categorical), 4 tags (bag, max 3).
func testSchema(t testing.TB, mod func(*SchemaConfig)) *Schema {
	t.Helper()
	cfg := SchemaConfig{
		Fields: []Field{
			{Name: "n", Kind: Numeric},
			{Name: "cnt", Kind: Numeric, Log1p: true},
			{Name: "a", Kind: Categorical},
			{Name: "b", Kind: Categorical},
			{Name: "tags", Kind: Bag, MaxLen: 3},
		},
		Crosses:  [][]string{{"a", "b"}, {"b", "a"}},
		Seed:     99,
		WideBits: 10,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSchema(cfg)
	if err != nil {
		t.Fatalf("NewSchema: %v", err)
	}
	return s
}

func TestNewSchemaErrors(t *testing.T) {
	num := Field{Name: "x", Kind: Numeric}
	cat := Field{Name: "c", Kind: Categorical}
	tests := []struct {
		name string
		cfg  SchemaConfig
		err  string
	}{
		{"no fields", SchemaConfig{}, "feature: schema has no fields"},
		{"no name", SchemaConfig{Fields: []Field{{Kind: Numeric}}}, "feature: field 0 has no name"},
		{"duplicate", SchemaConfig{Fields: []Field{num, num}}, `feature: field name "x" used twice (fields 0 and 1)`},
		{"no kind", SchemaConfig{Fields: []Field{{Name: "x"}}}, `feature: field "x": unknown kind Kind(0)`},
		{"log1p categorical", SchemaConfig{Fields: []Field{{Name: "c", Kind: Categorical, Log1p: true}}}, `feature: field "c": Log1p applies to numeric fields only`},
		{"sep numeric", SchemaConfig{Fields: []Field{{Name: "x", Kind: Numeric, Sep: ","}}}, `feature: field "x": Sep and MaxLen apply to bags only`},
		{"maxlen categorical", SchemaConfig{Fields: []Field{{Name: "c", Kind: Categorical, MaxLen: 3}}}, `feature: field "c": Sep and MaxLen apply to bags only`},
		{"bag too long", SchemaConfig{Fields: []Field{{Name: "t", Kind: Bag, MaxLen: MaxBagLimit + 1}}}, `feature: field "t": MaxLen = 65537; want 1 to 65536`},
		{"bag negative", SchemaConfig{Fields: []Field{{Name: "t", Kind: Bag, MaxLen: -1}}}, `feature: field "t": MaxLen = -1; want 1 to 65536`},
		{"wide bits", SchemaConfig{Fields: []Field{cat}, WideBits: 33}, "feature: WideBits = 33; want 0 to 32"},
		{"clip", SchemaConfig{Fields: []Field{cat}, Clip: -1}, "feature: Clip = -1; want > 0"},
		{"clip NaN", SchemaConfig{Fields: []Field{cat}, Clip: math.NaN()}, "feature: Clip = NaN; want > 0"},
		{"cross of one", SchemaConfig{Fields: []Field{cat}, Crosses: [][]string{{"c"}}}, "feature: cross 0 has 1 fields; want 2 to 8"},
		{"cross unknown", SchemaConfig{Fields: []Field{cat}, Crosses: [][]string{{"c", "zz"}}}, `feature: cross 0: unknown field "zz"`},
		{"cross numeric", SchemaConfig{Fields: []Field{cat, num}, Crosses: [][]string{{"c", "x"}}}, `feature: cross 0: field "x" is numeric; crosses take categorical fields`},
		{"cross twice", SchemaConfig{Fields: []Field{cat}, Crosses: [][]string{{"c", "c"}}}, `feature: cross 0: field "c" listed twice`},
	}
	for _, tt := range tests {
		_, err := NewSchema(tt.cfg)
		if err == nil || err.Error() != tt.err {
			t.Errorf("%s: NewSchema error %v; want %q", tt.name, err, tt.err)
		}
	}
}

func TestSchemaLayout(t *testing.T) {
	s := testSchema(t, nil)
	if got, want := s.DenseNames(), []string{"n", "cnt", "n#missing", "cnt#missing"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DenseNames() = %q; want %q", got, want)
	}
	if got, want := s.SparseNames(), []string{"a", "b", "tags", "a×b", "b×a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SparseNames() = %q; want %q", got, want)
	}
	kinds := []Kind{Categorical, Categorical, Bag, Categorical, Categorical}
	for j, want := range kinds {
		if got := s.SparseKind(j); got != want {
			t.Errorf("SparseKind(%d) = %v; want %v", j, got, want)
		}
	}
	if i, ok := s.Index("tags"); !ok || i != 4 || s.Field(i).Sep != DefaultBagSep {
		t.Errorf("Index(tags) = %d, %v; Field.Sep = %q; want 4, true, %q", i, ok, s.Field(i).Sep, DefaultBagSep)
	}
	if _, ok := s.Index("nope"); ok {
		t.Error(`Index("nope") found a field`)
	}
	want := `v1 seed=99 wide=10 clip=10 strict=false; n:numeric, cnt:numeric:log1p, a:categorical, b:categorical, tags:bag:"|":3; a×b, b×a`
	if s.String() != want {
		t.Errorf("String() = %q; want %q", s.String(), want)
	}
}

func TestEncodeSparse(t *testing.T) {
	s := testSchema(t, nil)
	h := func(field int, v string) uint64 { return Hash(99, field, v) }
	miss := func(field int) uint64 { return s.MissingID(field) }
	tests := []struct {
		row     Strings
		a, b    uint64
		tags    []uint64
		trunc   int64 // bags truncated by this row
		dropped int64
	}{
		{Strings{"", "", "x", "y", "p|q"}, h(2, "x"), h(3, "y"), []uint64{h(4, "p"), h(4, "q")}, 0, 0},
		{Strings{"", "", " x ", "\ty", " p | | q |"}, h(2, "x"), h(3, "y"), []uint64{h(4, "p"), h(4, "q")}, 0, 0},
		{Strings{"", "", "", "y", ""}, miss(2), h(3, "y"), []uint64{miss(4)}, 0, 0},
		{Strings{"", "", "  ", "y", "|| |"}, miss(2), h(3, "y"), []uint64{miss(4)}, 0, 0},
		{Strings{"", "", "x", "x", "p|p|p"}, h(2, "x"), h(3, "x"), []uint64{h(4, "p"), h(4, "p"), h(4, "p")}, 0, 0},
		{Strings{"", "", "x", "y", "1|2|3|4||5"}, h(2, "x"), h(3, "y"), []uint64{h(4, "1"), h(4, "2"), h(4, "3")}, 1, 2},
		{Strings{"", "", "x", "y", "1|2|3|"}, h(2, "x"), h(3, "y"), []uint64{h(4, "1"), h(4, "2"), h(4, "3")}, 0, 0},
	}
	ex := s.NewExample()
	for _, tt := range tests {
		before := s.Stats(4)
		if err := s.Encode(ex, tt.row); err != nil {
			t.Fatalf("Encode(%q): %v", tt.row, err)
		}
		if len(ex.Offsets) != 6 || ex.Offsets[0] != 0 || ex.Offsets[5] != len(ex.IDs) {
			t.Fatalf("Encode(%q): Offsets = %v for %d IDs", tt.row, ex.Offsets, len(ex.IDs))
		}
		if got := ex.Sparse(0); !slices.Equal(got, []uint64{tt.a}) {
			t.Errorf("Encode(%q) a = %x; want %x", tt.row, got, tt.a)
		}
		if got := ex.Sparse(1); !slices.Equal(got, []uint64{tt.b}) {
			t.Errorf("Encode(%q) b = %x; want %x", tt.row, got, tt.b)
		}
		if got := ex.Sparse(2); !slices.Equal(got, tt.tags) {
			t.Errorf("Encode(%q) tags = %x; want %x", tt.row, got, tt.tags)
		}
		after := s.Stats(4)
		if after.Truncated-before.Truncated != tt.trunc || after.Dropped-before.Dropped != tt.dropped {
			t.Errorf("Encode(%q) truncated %d bags, dropped %d elements; want %d, %d", tt.row,
				after.Truncated-before.Truncated, after.Dropped-before.Dropped, tt.trunc, tt.dropped)
		}
		if len(ex.Wide) != len(ex.IDs) {
			t.Fatalf("Encode(%q): %d wide buckets for %d IDs", tt.row, len(ex.Wide), len(ex.IDs))
		}
		for k, id := range ex.IDs {
			if ex.Wide[k] != wideBucket(id, 10) || ex.Wide[k] >= 1<<10 {
				t.Errorf("Encode(%q): Wide[%d] = %d; want %d", tt.row, k, ex.Wide[k], wideBucket(id, 10))
			}
		}
		if got := ex.WideSlot(2); !slices.Equal(got, ex.Wide[ex.Offsets[2]:ex.Offsets[3]]) {
			t.Errorf("WideSlot(2) = %v", got)
		}
	}
}

func TestCrosses(t *testing.T) {
	s := testSchema(t, nil)
	ex := s.NewExample()
	cross := func(a, b string) (ab, ba uint64) {
		t.Helper()
		if err := s.Encode(ex, Strings{"", "", a, b, ""}); err != nil {
			t.Fatal(err)
		}
		return ex.Sparse(3)[0], ex.Sparse(4)[0]
	}
	ab1, ba1 := cross("x", "y")
	ab2, ba2 := cross(" x", "y ")
	if ab1 != ab2 || ba1 != ba2 {
		t.Errorf("crosses of equal trimmed values differ: %x %x vs %x %x", ab1, ba1, ab2, ba2)
	}
	if ab1 == ba1 {
		t.Errorf("a×b and b×a give the same ID %x", ab1)
	}
	seen := map[uint64]string{ab1: "x,y", ba1: "y,x (b×a)"}
	for _, p := range [][2]string{{"y", "x"}, {"x", "z"}, {"z", "y"}, {"", "y"}, {"x", ""}, {"", ""}, {"xy", ""}, {"", "xy"}} {
		ab, ba := cross(p[0], p[1])
		for _, id := range []uint64{ab, ba} {
			if prev, dup := seen[id]; dup {
				t.Errorf("cross of %q gives ID %x, as %s did", p, id, prev)
			}
			seen[id] = fmt.Sprint(p)
		}
	}
	// A different seed changes every ID.
	s2 := testSchema(t, func(c *SchemaConfig) { c.Seed = 100 })
	ex2 := s2.NewExample()
	if err := s2.Encode(ex2, Strings{"", "", "x", "y", "p"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Encode(ex, Strings{"", "", "x", "y", "p"}); err != nil {
		t.Fatal(err)
	}
	for k := range ex.IDs {
		if ex.IDs[k] == ex2.IDs[k] {
			t.Errorf("ID %d is %x under seeds 99 and 100", k, ex.IDs[k])
		}
	}
}

func TestEncodeNumeric(t *testing.T) {
	seed := uint64(7)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	s := testSchema(t, nil)
	ex := s.NewExample()
	var xs, ls []float64
	row := Strings{"", "", "a", "b", ""}
	for range 500 {
		x := rng.NormFloat64()*3 + 10
		c := math.Floor(rng.ExpFloat64() * 100)
		row[0], row[1] = fmt.Sprint(x), fmt.Sprint(c)
		if err := s.Encode(ex, row); err != nil {
			t.Fatal(err)
		}
		xs, ls = append(xs, x), append(ls, math.Log1p(c))
		if ex.Dense[2] != 0 || ex.Dense[3] != 0 {
			t.Fatalf("Encode(%q): missing indicators %v; want 0, 0", row, ex.Dense[2:])
		}
	}
	for i, want := range [][]float64{xs, ls} {
		mean, std := meanStd(want)
		st := s.Stats(i)
		if st.Count != 500 || math.Abs(st.Mean-mean) > 1e-9*math.Abs(mean) || math.Abs(st.Std-std) > 1e-9*std {
			t.Errorf("Stats(%d) = %d, %v, %v; want 500, %v, %v (two-pass)", i, st.Count, st.Mean, st.Std, mean, std)
		}
		// The last value was standardised with the stats that include it.
		last := want[len(want)-1]
		if z := (last - mean) / std; math.Abs(float64(ex.Dense[i])-z) > 1e-5 {
			t.Errorf("dense[%d] = %v; want (x − mean)/std = %v", i, ex.Dense[i], z)
		}
	}
	// Missing and unusable values: 0 plus the indicator, counted, and the
	// running stats untouched.
	tests := []struct {
		v     string
		cause string
	}{
		{"", "missing"}, {"  ", "missing"}, {"?", "missing"}, {"NA", "missing"}, {"n/a", "missing"},
		{"NaN", "missing"}, {"null", "missing"}, {"None", "missing"},
		{"abc", "invalid"}, {"1,5", "invalid"}, {"0x10", "invalid"}, {"1e", "invalid"}, {"--1", "invalid"}, {"12 apples", "invalid"},
		{"Inf", "nonfinite"}, {"-infinity", "nonfinite"}, {"1e999", "nonfinite"}, {"-1e39", "nonfinite"}, {"+Inf", "nonfinite"},
	}
	for _, tt := range tests {
		before := s.Stats(0)
		row[0], row[1] = tt.v, "3"
		if err := s.Encode(ex, row); err != nil {
			t.Fatalf("Encode(%q): %v", row, err)
		}
		after := s.Stats(0)
		if ex.Dense[0] != 0 || ex.Dense[2] != 1 {
			t.Errorf("Encode(%q) n = %v, n#missing = %v; want 0, 1", tt.v, ex.Dense[0], ex.Dense[2])
		}
		if after.Count != before.Count || after.Mean != before.Mean || after.Std != before.Std {
			t.Errorf("Encode(%q) changed the stats: %+v → %+v", tt.v, before, after)
		}
		got := map[string]int64{
			"missing":   after.Missing - before.Missing,
			"invalid":   after.Invalid - before.Invalid,
			"nonfinite": after.NonFinite - before.NonFinite,
		}
		want := map[string]int64{"missing": 0, "invalid": 0, "nonfinite": 0}
		want[tt.cause] = 1
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Encode(%q) counted %v; want %v", tt.v, got, want)
		}
	}
	// log1p of a huge count is fine; the number itself exceeds float32
	// range without it.
	row[0], row[1] = "1e300", "1e300"
	if err := s.Encode(ex, row); err != nil {
		t.Fatal(err)
	}
	if ex.Dense[2] != 1 || ex.Dense[3] != 0 || ex.Dense[1] != float32(DefaultClip) {
		t.Errorf("Encode(1e300, 1e300) = %v; want n missing, cnt present and clipped to %v", ex.Dense, DefaultClip)
	}
	// Negative counts take the symmetric log.
	if got := symlog(-1); got != -math.Log1p(1) {
		t.Errorf("symlog(-1) = %v; want %v", got, -math.Log1p(1))
	}
}

func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(xs)))
}

func TestNumericWarmUpAndClip(t *testing.T) {
	s := testSchema(t, func(c *SchemaConfig) { c.Clip = 2 })
	ex := s.NewExample()
	for i, tt := range []struct {
		v     string
		learn bool
		want  float32
	}{
		{"5", true, 0},            // one value: no spread yet
		{"5", true, 0},            // still none
		{"7", true, 1.4142135},    // mean 17/3, std 0.943: z = 1.414
		{"1000", false, 2},        // frozen stats: clipped
		{"-1000", false, -2},      // likewise
		{"1000", true, 1.7320508}, // learning: an outlier is at most √(n−1) std from the mean it moved
	} {
		f := s.Transform
		if tt.learn {
			f = s.Encode
		}
		if err := f(ex, Strings{tt.v, "", "", "", ""}); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(ex.Dense[0]-tt.want)) > 1e-5 {
			t.Errorf("value %d (%s, learn %v): dense = %v; want %v", i, tt.v, tt.learn, ex.Dense[0], tt.want)
		}
	}
}

func TestStrict(t *testing.T) {
	s := testSchema(t, func(c *SchemaConfig) { c.Strict = true })
	ex := s.NewExample()
	err := s.Encode(ex, Strings{"3", "12 apples", "", "", ""})
	var fe *FieldError
	if !errors.Is(err, ErrNotNumber) || !errors.As(err, &fe) || fe.Index != 1 || fe.Name != "cnt" || fe.Value != "12 apples" {
		t.Fatalf("Encode(text in a numeric field) = %v; want a FieldError for field 1 (cnt) wrapping ErrNotNumber", err)
	}
	if want := `feature: field 1 (cnt): "12 apples": not a number`; err.Error() != want {
		t.Errorf("error = %q; want %q", err, want)
	}
	// Missing and non-finite values are not errors even when strict.
	for _, v := range []string{"", "NA", "Inf", "1e999"} {
		if err := s.Encode(ex, Strings{v, "", "", "", ""}); err != nil {
			t.Errorf("strict Encode(%q) = %v; want nil", v, err)
		}
	}
}

func TestFieldCount(t *testing.T) {
	s := testSchema(t, nil)
	ex := s.NewExample()
	for _, row := range []Strings{nil, {"1", "2", "a", "b"}, {"1", "2", "a", "b", "c", "extra"}} {
		err := s.Encode(ex, row)
		if !errors.Is(err, ErrFieldCount) {
			t.Errorf("Encode(%q) = %v; want ErrFieldCount", row, err)
		}
		if err := s.Transform(ex, row); !errors.Is(err, ErrFieldCount) {
			t.Errorf("Transform(%q) = %v; want ErrFieldCount", row, err)
		}
	}
	err := s.Encode(ex, Strings{"1"})
	if want := "feature: wrong number of fields: the record has 1, the schema 5"; err == nil || err.Error() != want {
		t.Errorf("Encode of a short record: %v; want %q", err, want)
	}
}

func TestTransformIsFrozen(t *testing.T) {
	s := testSchema(t, nil)
	ex := s.NewExample()
	for i := range 100 {
		if err := s.Encode(ex, Strings{fmt.Sprint(i), fmt.Sprint(i % 7), "a", "b", "x|y|z|w"}); err != nil {
			t.Fatal(err)
		}
	}
	serving := s.Clone()
	before := [5]FieldStats{}
	for i := range before {
		before[i] = serving.Stats(i)
	}
	ex2 := serving.NewExample()
	for _, row := range []Strings{{"50", "3", "a", "b", "x"}, {"", "oops", "", "", "1|2|3|4|5"}} {
		if err := serving.Transform(ex2, row); err != nil {
			t.Fatal(err)
		}
	}
	for i := range before {
		if got := serving.Stats(i); got != before[i] {
			t.Errorf("Transform changed Stats(%d): %+v → %+v", i, before[i], got)
		}
	}
	// The clone is independent: encoding into the original leaves it alone.
	if err := s.Encode(ex, Strings{"1e6", "1", "a", "b", ""}); err != nil {
		t.Fatal(err)
	}
	if got := serving.Stats(0); got != before[0] {
		t.Errorf("Encode on the original changed the clone: %+v → %+v", before[0], got)
	}
	// Transform standardises with the frozen stats.
	if err := serving.Transform(ex2, Strings{"50", "3", "a", "b", "x"}); err != nil {
		t.Fatal(err)
	}
	st := serving.Stats(0)
	if want := float32((50 - st.Mean) / st.Std); math.Abs(float64(ex2.Dense[0]-want)) > 1e-6 {
		t.Errorf("Transform(50) = %v; want %v", ex2.Dense[0], want)
	}
}

// TestEncodeDoesNotAllocate encodes the standard benchmark model (13
// numeric and 26 categorical Criteo-like fields) plus a bag, crosses and
// wide buckets.
func TestEncodeDoesNotAllocate(t *testing.T) {
	s, rows := benchModel(t, 3, 20)
	ex := s.NewExample()
	for _, r := range rows {
		if err := s.Encode(ex, r); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	for _, name := range []string{"Encode", "Transform"} {
		f := s.Encode
		if name == "Transform" {
			f = s.Transform
		}
		allocs := testing.AllocsPerRun(500, func() {
			if err := f(ex, rows[i%len(rows)]); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("%s allocates %v times per example; want 0", name, allocs)
		}
	}
}

// benchModel returns the standard benchmark schema (13 numeric Log1p
// fields and 26 categorical ones, Criteo's shape), with a tags bag,
// crosses and wide buckets when crosses > 0, and n synthetic rows boxed
// as Rows.
func benchModel(tb testing.TB, crosses, wideBits int) (*Schema, []Row) {
	tb.Helper()
	var fields []Field
	for i := 1; i <= 13; i++ {
		fields = append(fields, Field{Name: fmt.Sprintf("I%d", i), Kind: Numeric, Log1p: true})
	}
	for i := 1; i <= 26; i++ {
		fields = append(fields, Field{Name: fmt.Sprintf("C%d", i), Kind: Categorical})
	}
	cfg := SchemaConfig{Fields: fields, WideBits: wideBits, Seed: 1}
	if crosses > 0 {
		cfg.Fields = append(cfg.Fields, Field{Name: "tags", Kind: Bag})
	}
	for c := range crosses {
		cfg.Crosses = append(cfg.Crosses, []string{fmt.Sprintf("C%d", c+1), fmt.Sprintf("C%d", c+2)})
	}
	s, err := NewSchema(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([]Row, 256)
	for r := range rows {
		row := make(Strings, len(cfg.Fields))
		for i := range 13 {
			if rng.IntN(4) > 0 {
				row[i] = fmt.Sprintf("%d", rng.IntN(1000)-1)
			}
		}
		for i := 13; i < 39; i++ {
			if rng.IntN(8) > 0 {
				row[i] = fmt.Sprintf("%08x", rng.Uint32()%uint32(100+i*50))
			}
		}
		if crosses > 0 {
			row[39] = strings.Repeat("t|", rng.IntN(6)) + "u"
		}
		rows[r] = row // boxed once, here, not per call
	}
	return s, rows
}

func BenchmarkEncode(b *testing.B) {
	for _, bc := range []struct{ crosses, wide int }{{0, 0}, {0, 24}, {4, 24}} {
		name := fmt.Sprintf("fields=39/crosses=%d/wide=%d", bc.crosses, bc.wide)
		if bc.crosses > 0 {
			name = fmt.Sprintf("fields=40/crosses=%d/wide=%d", bc.crosses, bc.wide)
		}
		b.Run(name, func(b *testing.B) {
			s, rows := benchModel(b, bc.crosses, bc.wide)
			ex := s.NewExample()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Encode(ex, rows[i&255]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// TestConcurrentTransform runs Transform on a published clone from several
// goroutines while the trainer keeps encoding into the original (run with
// -race).
func TestConcurrentTransform(t *testing.T) {
	s, rows := benchModel(t, 2, 16)
	ex := s.NewExample()
	for _, r := range rows[:64] {
		if err := s.Encode(ex, r); err != nil {
			t.Fatal(err)
		}
	}
	serving := s.Clone()
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			ex := serving.NewExample()
			for i := range 200 {
				if err := serving.Transform(ex, rows[(g*31+i)%len(rows)]); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for i := range 200 {
		if err := s.Encode(ex, rows[i%len(rows)]); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
