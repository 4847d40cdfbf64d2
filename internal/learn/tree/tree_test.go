package tree

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/tensor"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/learntest"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestConformance(t *testing.T) {
	cases := []struct {
		name string
		dim  int
		new  func(dim int) learn.Binary
	}{
		{"hoeffding", 8, func(d int) learn.Binary { return must(NewHoeffding(d, Config{})) }},
		{"hoeffding-mc-gini", 8, func(d int) learn.Binary {
			return must(NewHoeffding(d, Config{Leaf: MajorityClass, Criterion: Gini, GracePeriod: 50}))
		}},
		{"hoeffding-nb-depth2", 4, func(d int) learn.Binary {
			return must(NewHoeffding(d, Config{Leaf: NaiveBayes, MaxDepth: 2, GracePeriod: 30}))
		}},
		{"hoeffding-dim1", 1, func(d int) learn.Binary { return must(NewHoeffding(d, Config{})) }},
		{"hat", 8, func(d int) learn.Binary { return must(NewHAT(d, HATConfig{Seed: 3})) }},
		{"hat-fast", 4, func(d int) learn.Binary {
			return must(NewHAT(d, HATConfig{Tree: Config{GracePeriod: 30, Delta: 0.01}, DriftDelta: 0.05, SwitchWindow: 50}))
		}},
		{"arf", 8, func(d int) learn.Binary { return must(NewARF(d, ARFConfig{Seed: 1})) }},
		{"arf-small", 5, func(d int) learn.Binary {
			return must(NewARF(d, ARFConfig{Trees: 3, MaxFeatures: 2, WarningDelta: 0.3, DriftDelta: 0.1}))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			learntest.Run(t, func() learn.Binary { return c.new(c.dim) }, c.dim)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"gini-mc", Config{Criterion: Gini, Leaf: MajorityClass}, true},
		{"bad criterion", Config{Criterion: "entropy"}, false},
		{"bad leaf", Config{Leaf: "knn"}, false},
		{"negative grace", Config{GracePeriod: -1}, false},
		{"negative depth", Config{MaxDepth: -2}, false},
		{"delta 1", Config{Delta: 1}, false},
		{"delta NaN", Config{Delta: math.NaN()}, false},
		{"negative tie", Config{TieThreshold: -1}, true},
		{"share 1.5", Config{MaxShareToSplit: 1.5}, false},
		{"branch 0.5", Config{MinBranchFraction: 0.5}, false},
		{"split points", Config{SplitPoints: 1001}, false},
	}
	for _, c := range cases {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("Config{%s}.Validate() = %v; want ok %v", c.name, err, c.ok)
		}
	}
}

func TestConstructorErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"NewHoeffding(0)", second(NewHoeffding(0, Config{}))},
		{"NewHoeffding(bad)", second(NewHoeffding(3, Config{Leaf: "x"}))},
		{"NewHAT(0)", second(NewHAT(0, HATConfig{}))},
		{"NewHAT(delta 2)", second(NewHAT(3, HATConfig{DriftDelta: 2}))},
		{"NewHAT(bad tree)", second(NewHAT(3, HATConfig{Tree: Config{GracePeriod: -1}}))},
		{"NewARF(0)", second(NewARF(0, ARFConfig{}))},
		{"NewARF(lambda -1)", second(NewARF(3, ARFConfig{Lambda: -1}))},
		{"NewARF(trees -1)", second(NewARF(3, ARFConfig{Trees: -1}))},
		{"NewARF(warning 1)", second(NewARF(3, ARFConfig{WarningDelta: 1}))},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s error = nil; want an error", c.name)
		} else if !strings.HasPrefix(c.err.Error(), "tree: ") {
			t.Errorf("%s error = %q; want the prefix %q", c.name, c.err, "tree: ")
		}
	}
}

func second[T any](_ T, err error) error { return err }

// conceptStream generates x uniform in [0, 1]^dim with y = 1 iff
// x0 + x1 <= 1, the label flipped with probability noise; from example
// flipAt on the concept is reversed (y = 1 iff x0 + x1 > 1).
type conceptStream struct {
	r      *rand.Rand
	noise  float64
	flipAt int
	i      int
}

func newConceptStream(seed uint64, noise float64, flipAt int) *conceptStream {
	return &conceptStream{r: rand.New(rand.NewPCG(seed, 7)), noise: noise, flipAt: flipAt}
}

func (s *conceptStream) next(x []float32) float64 {
	for i := range x {
		x[i] = float32(s.r.Float64())
	}
	y := x[0]+x[1] <= 1
	if s.flipAt > 0 && s.i >= s.flipAt {
		y = !y
	}
	if s.r.Float64() < s.noise {
		y = !y
	}
	s.i++
	if y {
		return 1
	}
	return 0
}

func TestLearnsThreshold(t *testing.T) {
	// y = 1 iff x0 <= 0.3: one split on x0 near 0.3 captures it.
	h := must(NewHoeffding(2, Config{}))
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2)
	var right int
	for i := range 20000 {
		x[0], x[1] = float32(r.Float64()), float32(r.Float64())
		y := 0.0
		if x[0] <= 0.3 {
			y = 1
		}
		if i >= 19000 && (h.Predict(x) >= 0.5) == (y == 1) {
			right++
		}
		h.Learn(x, y)
	}
	if right < 980 {
		t.Errorf("accuracy over the last 1000 of 20000 examples of y = [x0 <= 0.3] = %d/1000; want >= 980", right)
	}
	root := h.t.nodes[h.t.root]
	if root.feature != 0 || math.Abs(root.threshold-0.3) > 0.1 {
		t.Errorf("root split = x%d <= %v; want x0 <= 0.3 ± 0.1", root.feature, root.threshold)
	}
}

// trainAll feeds n examples of s to every learner.
func trainAll(s *conceptStream, dim, n int, ls ...learn.Binary) {
	x := make([]float32, dim)
	for range n {
		y := s.next(x)
		for _, l := range ls {
			l.Learn(x, y)
		}
	}
}

func TestNaNFeatures(t *testing.T) {
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			l := m.new(3)
			s := newConceptStream(3, 0.05, 0)
			x := make([]float32, 3)
			for i := range 6000 {
				y := s.next(x)
				if i%3 == 0 {
					x[i%2] = float32(math.NaN())
				}
				if p := l.Predict(x); !(p >= 0 && p <= 1) {
					t.Fatalf("Predict(%v) = %v; want a probability", x, p)
				}
				l.Learn(x, y)
			}
			for _, c := range cores(l) {
				if err := c.check(); err != nil {
					t.Fatalf("tree invariants after NaN features: %v", err)
				}
				for _, g := range c.obs {
					if math.IsNaN(g.mean) || math.IsNaN(g.m2) {
						t.Fatalf("a NaN feature reached an estimator: %+v", g)
					}
				}
			}
		})
	}
}

// cores returns the trees inside a learner.
func cores(l learn.Binary) []*core {
	switch m := l.(type) {
	case *Hoeffding:
		return []*core{m.t}
	case *HAT:
		return []*core{m.t}
	case *ARF:
		out := append([]*core(nil), m.trees...)
		for _, b := range m.bg {
			if b != nil {
				out = append(out, b)
			}
		}
		return out
	}
	panic("unknown learner")
}

func TestMaxDepth(t *testing.T) {
	for _, depth := range []int{1, 2, 3} {
		h := must(NewHoeffding(4, Config{MaxDepth: depth, GracePeriod: 20, Delta: 0.01}))
		trainAll(newConceptStream(1, 0, 0), 4, 20000, h)
		if s := h.Stats(); s.Depth > depth || s.Depth == 0 {
			t.Errorf("MaxDepth %d: tree %v; want depth in [1, %d]", depth, s, depth)
		}
	}
}

func TestMemoryBound(t *testing.T) {
	free := must(NewHoeffding(4, Config{GracePeriod: 20, Delta: 0.05, MaxBytes: -1}))
	const limit = 8 << 10
	bounded := must(NewHoeffding(4, Config{GracePeriod: 20, Delta: 0.05, MaxBytes: limit}))
	trainAll(newConceptStream(2, 0.1, 0), 4, 30000, free, bounded)
	fs, bs := free.Stats(), bounded.Stats()
	t.Logf("unbounded: %v, %d bytes; bounded: %v, %d bytes", fs, free.Bytes(), bs, bounded.Bytes())
	if free.Bytes() <= limit {
		t.Fatalf("the unbounded tree takes %d bytes; the test needs more than %d", free.Bytes(), limit)
	}
	if bounded.Bytes() > limit {
		t.Errorf("bounded tree Bytes() = %d; want <= %d", bounded.Bytes(), limit)
	}
	if bs.ActiveLeaves >= bs.Leaves {
		t.Errorf("bounded tree: %v; want some inactive leaves", bs)
	}
	if err := bounded.t.check(); err != nil {
		t.Errorf("bounded tree invariants: %v", err)
	}
}

func TestHATAdapts(t *testing.T) {
	const n, flip = 20000, 10000
	hat := must(NewHAT(3, HATConfig{}))
	ht := must(NewHoeffding(3, Config{}))
	s := newConceptStream(5, 0.05, flip)
	x := make([]float32, 3)
	var hatRight, htRight int
	for i := range n {
		y := s.next(x)
		if i >= n-3000 {
			if (hat.Predict(x) >= 0.5) == (y == 1) {
				hatRight++
			}
			if (ht.Predict(x) >= 0.5) == (y == 1) {
				htRight++
			}
		}
		hat.Learn(x, y)
		ht.Learn(x, y)
	}
	started, switched, _ := hat.Alternates()
	t.Logf("HAT: %d alternates started, %d switched; last 3000 right: HAT %d, HT %d", started, switched, hatRight, htRight)
	if started == 0 || switched == 0 {
		t.Errorf("HAT after a concept reversal: %d alternates started, %d switched; want both > 0", started, switched)
	}
	if hatRight < 2700 || hatRight <= htRight {
		t.Errorf("HAT right on %d of the last 3000 examples (HT %d); want >= 2700 and more than HT", hatRight, htRight)
	}
	if err := hat.t.check(); err != nil {
		t.Errorf("HAT invariants: %v", err)
	}
}

func TestARFReplacesTrees(t *testing.T) {
	const n, flip = 12000, 6000
	a := must(NewARF(4, ARFConfig{Seed: 9}))
	s := newConceptStream(6, 0.05, flip)
	x := make([]float32, 4)
	var right int
	for i := range n {
		y := s.next(x)
		if i >= n-2000 && (a.Predict(x) >= 0.5) == (y == 1) {
			right++
		}
		a.Learn(x, y)
	}
	reps := a.Replacements()
	t.Logf("ARF: %d warnings, %d drifts, last 2000 right %d, replacements %v", a.Warnings(), a.Drifts(), right, reps)
	if int64(len(reps)) != a.Drifts() || a.Drifts() < int64(len(a.trees)/2) {
		t.Fatalf("ARF after a concept reversal: %d drifts, %d replacements; want at least %d", a.Drifts(), len(reps), len(a.trees)/2)
	}
	var after int
	for k, r := range reps {
		if r.Index < 0 || r.Index >= n || r.Tree < 0 || r.Tree >= len(a.trees) || (k > 0 && r.Index < reps[k-1].Index) {
			t.Fatalf("replacement %d = %+v; want an in-range index in stream order", k, r)
		}
		if r.Index >= flip {
			after++
		}
	}
	if after < len(a.trees)/2 {
		t.Errorf("%d replacements after the drift at %d; want at least %d", after, flip, len(a.trees)/2)
	}
	if a.Warnings() < a.Drifts()/2 {
		t.Errorf("%d warnings for %d drifts; background trees are rarely started", a.Warnings(), a.Drifts())
	}
	if right < 1800 {
		t.Errorf("ARF right on %d of the last 2000 examples; want >= 1800", right)
	}
	var info []TreeInfo = a.Trees()
	var drifts int64
	for _, ti := range info {
		drifts += ti.Drifts
	}
	if drifts != a.Drifts() {
		t.Errorf("per-tree drifts sum to %d; Drifts() = %d", drifts, a.Drifts())
	}
}

func TestARFSeeds(t *testing.T) {
	a := must(NewARF(4, ARFConfig{Seed: 1}))
	b := must(NewARF(4, ARFConfig{Seed: 2}))
	trainAll(newConceptStream(1, 0.1, 0), 4, 3000, a, b)
	x := []float32{0.3, 0.6, 0.2, 0.9}
	if a.Predict(x) == b.Predict(x) {
		t.Errorf("forests with seeds 1 and 2 predict the same %v; want different bagging", a.Predict(x))
	}
}

// TestSnapshotMidDrift saves HAT and ARF while alternates and background
// trees are growing, and checks that the restored models continue
// exactly like the originals.
func TestSnapshotMidDrift(t *testing.T) {
	const dim = 4
	cases := []struct {
		name string
		new  func() learn.Binary
		busy func(learn.Binary) bool // the state worth saving
	}{
		{"hat", func() learn.Binary { return must(NewHAT(dim, HATConfig{Seed: 4})) }, func(l learn.Binary) bool {
			h := l.(*HAT)
			for _, nd := range h.t.nodes {
				if nd.alt >= 0 {
					return true
				}
			}
			return false
		}},
		{"arf", func() learn.Binary { return must(NewARF(dim, ARFConfig{Seed: 4})) }, func(l learn.Binary) bool {
			a := l.(*ARF)
			return a.Drifts() > 0 && slices.ContainsFunc(a.bg, func(c *core) bool { return c != nil })
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.new()
			s := newConceptStream(8, 0.05, 4000)
			x := make([]float32, dim)
			i := 0
			for ; i < 20000 && !(i > 4000 && c.busy(a)); i++ {
				a.Learn(x, s.next(x))
			}
			if !c.busy(a) {
				t.Fatalf("no alternate or background tree in 20000 examples")
			}
			var set tensor.Set
			a.(learn.Snapshotter).SaveTensors(&set, "m/")
			data, err := set.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			dec, err := tensor.Unmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			b := c.new()
			if err := b.(learn.Snapshotter).LoadTensors(dec, "m/"); err != nil {
				t.Fatalf("LoadTensors after %d examples: %v", i, err)
			}
			for k := range 5000 {
				y := s.next(x)
				if pa, pb := a.Predict(x), b.Predict(x); math.Float64bits(pa) != math.Float64bits(pb) {
					t.Fatalf("example %d after the round trip at %d: Predict = %v (original), %v (restored)", k, i, pa, pb)
				}
				a.Learn(x, y)
				b.Learn(x, y)
			}
		})
	}
}

func TestInvariantsAfterLearning(t *testing.T) {
	cfgs := []struct {
		name string
		new  func(int) learn.Binary
	}{
		{"hoeffding-small-grace", func(d int) learn.Binary { return must(NewHoeffding(d, Config{GracePeriod: 10, Delta: 0.1})) }},
		{"hat-fast", func(d int) learn.Binary {
			return must(NewHAT(d, HATConfig{Tree: Config{GracePeriod: 20, Delta: 0.05}, DriftDelta: 0.1, SwitchWindow: 30}))
		}},
		{"arf-fast", func(d int) learn.Binary {
			return must(NewARF(d, ARFConfig{Trees: 4, WarningDelta: 0.2, DriftDelta: 0.05, Tree: Config{MaxBytes: 20 << 10}}))
		}},
	}
	for _, c := range cfgs {
		t.Run(c.name, func(t *testing.T) {
			l := c.new(5)
			s := newConceptStream(11, 0.1, 3000)
			x := make([]float32, 5)
			for i := range 9000 {
				l.Learn(x, s.next(x))
				if i%1000 == 999 {
					for k, tr := range cores(l) {
						if err := tr.check(); err != nil {
							t.Fatalf("tree %d after %d examples: %v", k, i+1, err)
						}
					}
				}
			}
		})
	}
}

func TestAllocs(t *testing.T) {
	const dim = 8
	xs, ys := synthetic(dim, 40000)
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			l := m.new(dim)
			for i := range 20000 {
				l.Learn(xs[i], ys[i])
			}
			var sink float64
			k := 0
			if a := testing.AllocsPerRun(1000, func() { sink += l.Predict(xs[k%len(xs)]); k++ }); a != 0 {
				t.Errorf("%s: Predict allocates %v times per call; want 0", m.name, a)
			}
			// Learn allocates only when the tree grows past its
			// capacity: measure whole batches of 1000 distinct examples
			// (not under the race detector, which allocates itself).
			if raceEnabled {
				return
			}
			k = 20000
			batch := func() {
				for range 1000 {
					l.Learn(xs[k%len(xs)], ys[k%len(xs)])
					k++
				}
			}
			if a := testing.AllocsPerRun(10, batch); a > 50 {
				t.Errorf("%s: Learn allocates %v times per 1000 examples; want at most 50", m.name, a)
			} else {
				t.Logf("%s: Learn allocates %v times per 1000 examples", m.name, a)
			}
			_ = sink
		})
	}
}
