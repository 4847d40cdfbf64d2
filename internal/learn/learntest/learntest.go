// Package learntest is the conformance suite every learn.Binary passes.
//
// Run checks, on seeded synthetic streams:
//   - predictions are finite and in [0, 1], before and during learning;
//   - determinism: two learners from the same constructor fed the same
//     stream give bit-identical predictions;
//   - learning: on a noisy linearly separable stream the prequential log
//     loss of the last 1000 of 5000 examples is below 0.45 (ln 2 ≈ 0.693 is
//     the loss of always predicting 0.5);
//   - a wrong feature count panics;
//   - Learn and Predict allocate nothing;
//   - if the learner is a learn.Snapshotter: save → encode → decode → load
//     into a fresh learner gives identical predictions, before and after
//     more identical learning (a snapshot round trip equals an
//     uninterrupted run); saving touches only names under the prefix; and
//     loading a set with any one tensor missing, mis-shaped, of the wrong
//     length or of the wrong dtype fails and leaves the learner unchanged;
//   - if the learner has a Clone() method returning a learn.Binary: the
//     clone predicts like the original, continues like it, and is
//     independent of it (also under concurrent use, which -race checks).
package learntest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Thresholds of the suite.
const (
	// StreamLen is the length of the stream in the learning check.
	StreamLen = 5000
	// Window is the number of final examples whose loss is judged.
	Window = 1000
	// MaxLogLoss is the mean prequential log loss over the window that a
	// learner must beat.
	MaxLogLoss = 0.45
)

// Seed is the seed of the suite's streams; the suite is deterministic.
const Seed = 20240611

// Stream generates a noisy linearly separable binary stream: x uniform in
// [0, 1]^dim and y ~ Bernoulli(sigmoid(z)) with z = s·w·(x-0.5), where w
// is a random unit vector and s makes z's standard deviation 4 (the Bayes
// log loss is about 0.25).
type Stream struct {
	r     *rand.Rand
	w     []float64
	scale float64
}

// NewStream returns a stream over dim features determined by seed.
func NewStream(dim int, seed uint64) *Stream {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	w := make([]float64, dim)
	var norm float64
	for i := range w {
		w[i] = r.NormFloat64()
		norm += w[i] * w[i]
	}
	norm = math.Sqrt(norm)
	for i := range w {
		w[i] /= norm
	}
	// Var(x-0.5) = 1/12 per feature, so Var(w·(x-0.5)) = 1/12.
	return &Stream{r: r, w: w, scale: 4 * math.Sqrt(12)}
}

// Next fills x with the next example's features and returns its label.
func (s *Stream) Next(x []float32) float64 {
	var z float64
	for i := range x {
		x[i] = float32(s.r.Float64())
		z += s.w[i] * (float64(x[i]) - 0.5)
	}
	if s.r.Float64() < 1/(1+math.Exp(-s.scale*z)) {
		return 1
	}
	return 0
}

// LogLoss returns the log loss of prediction p for label y, with p
// clamped to [1e-15, 1-1e-15].
func LogLoss(p, y float64) float64 {
	p = min(max(p, 1e-15), 1-1e-15)
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

// Run runs the conformance suite as subtests of t. newLearner must return
// a fresh learner over dim features each time it is called, built the same
// way (same configuration and seed).
func Run(t *testing.T, newLearner func() learn.Binary, dim int) {
	t.Helper()
	t.Logf("learntest: dim %d, stream seed %d", dim, Seed)
	t.Run("PredictRange", func(t *testing.T) { testPredictRange(t, newLearner, dim) })
	t.Run("Deterministic", func(t *testing.T) { testDeterministic(t, newLearner, dim) })
	t.Run("Learns", func(t *testing.T) { testLearns(t, newLearner, dim) })
	t.Run("WrongLength", func(t *testing.T) { testWrongLength(t, newLearner, dim) })
	t.Run("Allocs", func(t *testing.T) { testAllocs(t, newLearner, dim) })
	if _, ok := newLearner().(learn.Snapshotter); ok {
		t.Run("SnapshotRoundTrip", func(t *testing.T) { testSnapshotRoundTrip(t, newLearner, dim) })
		t.Run("SnapshotBadLoad", func(t *testing.T) { testSnapshotBadLoad(t, newLearner, dim) })
	}
	if _, ok := cloneOf(newLearner()); ok {
		t.Run("Clone", func(t *testing.T) { testClone(t, newLearner, dim) })
	}
}

// train feeds n examples of s to l.
func train(l learn.Binary, s *Stream, dim, n int) {
	x := make([]float32, dim)
	for range n {
		y := s.Next(x)
		l.Learn(x, y)
	}
}

// probes returns n fixed inputs to compare learners on.
func probes(dim, n int) [][]float32 {
	s := NewStream(dim, Seed+99)
	ps := make([][]float32, n)
	for i := range ps {
		ps[i] = make([]float32, dim)
		s.Next(ps[i])
	}
	return ps
}

func predictAll(l learn.Binary, ps [][]float32) []float64 {
	out := make([]float64, len(ps))
	for i, x := range ps {
		out[i] = l.Predict(x)
	}
	return out
}

// sameBits reports whether a and b are bit-identical.
func sameBits(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) })
}

func checkProb(t *testing.T, what string, p float64) {
	t.Helper()
	if math.IsNaN(p) || p < 0 || p > 1 {
		t.Fatalf("%s: Predict = %v; want a number in [0, 1]", what, p)
	}
}

func testPredictRange(t *testing.T, newLearner func() learn.Binary, dim int) {
	l := newLearner()
	r := rand.New(rand.NewPCG(Seed, 1))
	x := make([]float32, dim)
	odd := func() {
		for i := range x {
			switch r.IntN(4) {
			case 0:
				x[i] = 0
			case 1:
				x[i] = 1
			case 2:
				x[i] = float32(r.NormFloat64() * 1000)
			default:
				x[i] = float32(r.Float64())
			}
		}
	}
	for i := range 100 {
		odd()
		checkProb(t, fmt.Sprintf("fresh learner, input %d %v", i, x), l.Predict(x))
	}
	s := NewStream(dim, Seed)
	for i := range 1000 {
		y := s.Next(x)
		checkProb(t, fmt.Sprintf("before learning example %d", i), l.Predict(x))
		l.Learn(x, y)
	}
	for i := range 100 {
		odd()
		checkProb(t, fmt.Sprintf("trained learner, input %d %v", i, x), l.Predict(x))
	}
}

func testDeterministic(t *testing.T, newLearner func() learn.Binary, dim int) {
	a, b := newLearner(), newLearner()
	sa, sb := NewStream(dim, Seed), NewStream(dim, Seed)
	xa, xb := make([]float32, dim), make([]float32, dim)
	for i := range 2000 {
		ya, yb := sa.Next(xa), sb.Next(xb)
		pa, pb := a.Predict(xa), b.Predict(xb)
		if math.Float64bits(pa) != math.Float64bits(pb) {
			t.Fatalf("example %d: Predict = %v and %v for two learners fed the same stream; want identical", i, pa, pb)
		}
		a.Learn(xa, ya)
		b.Learn(xb, yb)
	}
}

func testLearns(t *testing.T, newLearner func() learn.Binary, dim int) {
	l := newLearner()
	s := NewStream(dim, Seed)
	x := make([]float32, dim)
	var first, last float64
	for i := range StreamLen {
		y := s.Next(x)
		loss := LogLoss(l.Predict(x), y)
		if i < Window {
			first += loss
		}
		if i >= StreamLen-Window {
			last += loss
		}
		l.Learn(x, y)
	}
	first /= Window
	last /= Window
	t.Logf("prequential log loss: first %d examples %.4f, last %d %.4f (ln 2 = %.4f)", Window, first, Window, last, math.Ln2)
	if !(last < MaxLogLoss) {
		t.Errorf("prequential log loss over the last %d of %d examples = %.4f; want < %.2f", Window, StreamLen, last, MaxLogLoss)
	}
}

func testWrongLength(t *testing.T, newLearner func() learn.Binary, dim int) {
	l := newLearner()
	lengths := []int{dim + 1, dim - 1}
	for _, n := range lengths {
		x := make([]float32, n)
		for _, c := range []struct {
			name string
			f    func()
		}{
			{"Predict", func() { l.Predict(x) }},
			{"Learn", func() { l.Learn(x, 1) }},
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s(x of length %d) on a %d-feature learner did not panic", c.name, n, dim)
					}
				}()
				c.f()
			}()
		}
	}
}

func testAllocs(t *testing.T, newLearner func() learn.Binary, dim int) {
	l := newLearner()
	s := NewStream(dim, Seed)
	train(l, s, dim, 100)
	x := make([]float32, dim)
	y := s.Next(x)
	if a := testing.AllocsPerRun(200, func() { l.Learn(x, y) }); a != 0 {
		t.Errorf("Learn allocates %v times per call; want 0", a)
	}
	var sink float64
	if a := testing.AllocsPerRun(200, func() { sink += l.Predict(x) }); a != 0 {
		t.Errorf("Predict allocates %v times per call; want 0", a)
	}
	_ = sink
}

// state returns the encoded snapshot of l, which captures its complete
// state.
func state(t *testing.T, l learn.Binary) []byte {
	t.Helper()
	var s tensor.Set
	l.(learn.Snapshotter).SaveTensors(&s, "state/")
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary() of a learner's snapshot: %v", err)
	}
	return b
}

func testSnapshotRoundTrip(t *testing.T, newLearner func() learn.Binary, dim int) {
	const prefix = "model/"
	a := newLearner()
	s := NewStream(dim, Seed)
	train(a, s, dim, 700)

	var set tensor.Set
	set.PutF32("unrelated", []int{1}, []float32{42})
	a.(learn.Snapshotter).SaveTensors(&set, prefix)
	if set.Len() < 2 {
		t.Fatalf("SaveTensors added no tensors")
	}
	for _, n := range set.Names() {
		if n != "unrelated" && !strings.HasPrefix(n, prefix) {
			t.Errorf("SaveTensors(set, %q) wrote tensor %q outside the prefix", prefix, n)
		}
	}
	if v, err := set.F32("unrelated", 1); err != nil || v[0] != 42 {
		t.Errorf("SaveTensors disturbed an unrelated tensor: %v, %v", v, err)
	}
	data, err := set.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary() error = %v", err)
	}
	decoded, err := tensor.Unmarshal(data)
	if err != nil {
		t.Fatalf("Unmarshal() error = %v", err)
	}

	b := newLearner()
	train(b, NewStream(dim, Seed+7), dim, 50) // give b a different state to overwrite
	if err := b.(learn.Snapshotter).LoadTensors(decoded, prefix); err != nil {
		t.Fatalf("LoadTensors() of a fresh snapshot error = %v", err)
	}
	ps := probes(dim, 32)
	if pa, pb := predictAll(a, ps), predictAll(b, ps); !sameBits(pa, pb) {
		t.Fatalf("after load, predictions differ:\nsaved  %v\nloaded %v", pa, pb)
	}
	if !bytes.Equal(state(t, a), state(t, b)) {
		t.Fatalf("after load, the loaded learner's snapshot differs from the saved learner's")
	}
	// Continue both on the same stream: the round trip must equal an
	// uninterrupted run.
	sa, sb := NewStream(dim, Seed+10), NewStream(dim, Seed+10)
	xa, xb := make([]float32, dim), make([]float32, dim)
	for i := range 700 {
		ya, yb := sa.Next(xa), sb.Next(xb)
		if pa, pb := a.Predict(xa), b.Predict(xb); math.Float64bits(pa) != math.Float64bits(pb) {
			t.Fatalf("example %d after the round trip: Predict = %v (uninterrupted) vs %v (restored)", i, pa, pb)
		}
		a.Learn(xa, ya)
		b.Learn(xb, yb)
	}
	if pa, pb := predictAll(a, ps), predictAll(b, ps); !sameBits(pa, pb) {
		t.Fatalf("after continued learning, predictions differ:\nuninterrupted %v\nrestored      %v", pa, pb)
	}

	// Two learners under different prefixes of one set stay apart.
	c := newLearner()
	train(c, NewStream(dim, Seed+3), dim, 300)
	var two tensor.Set
	a.(learn.Snapshotter).SaveTensors(&two, "a.")
	c.(learn.Snapshotter).SaveTensors(&two, "c.")
	la, lc := newLearner(), newLearner()
	if err := la.(learn.Snapshotter).LoadTensors(&two, "a."); err != nil {
		t.Fatalf("LoadTensors(prefix a.) error = %v", err)
	}
	if err := lc.(learn.Snapshotter).LoadTensors(&two, "c."); err != nil {
		t.Fatalf("LoadTensors(prefix c.) error = %v", err)
	}
	if !sameBits(predictAll(la, ps), predictAll(a, ps)) || !sameBits(predictAll(lc, ps), predictAll(c, ps)) {
		t.Errorf("learners saved under two prefixes of one set do not load back separately")
	}
}

// values returns the data of any tensor as float64s.
func values(t *testing.T, s *tensor.Set, name string) (tensor.DType, []int, []float64) {
	t.Helper()
	dt, shape, _ := s.Lookup(name)
	var out []float64
	switch dt {
	case tensor.F32:
		d, err := s.F32(name, shape...)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range d {
			out = append(out, float64(v))
		}
	case tensor.F64:
		d, err := s.F64(name, shape...)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d...)
	case tensor.I64:
		d, err := s.I64(name, shape...)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range d {
			out = append(out, float64(v))
		}
	}
	return dt, shape, out
}

// put stores vals as tensor name of the given dtype and shape.
func put(s *tensor.Set, name string, dt tensor.DType, shape []int, vals []float64) {
	switch dt {
	case tensor.F32:
		d := make([]float32, len(vals))
		for i, v := range vals {
			d[i] = float32(v)
		}
		s.PutF32(name, shape, d)
	case tensor.F64:
		s.PutF64(name, shape, vals)
	case tensor.I64:
		d := make([]int64, len(vals))
		for i, v := range vals {
			d[i] = int64(v)
		}
		s.PutI64(name, shape, d)
	}
}

// without returns a copy of s without tensor skip.
func without(t *testing.T, s *tensor.Set, skip string) *tensor.Set {
	t.Helper()
	c := new(tensor.Set)
	for _, n := range s.Names() {
		if n != skip {
			dt, shape, vals := values(t, s, n)
			put(c, n, dt, shape, vals)
		}
	}
	return c
}

func testSnapshotBadLoad(t *testing.T, newLearner func() learn.Binary, dim int) {
	const prefix = "m."
	src := newLearner()
	train(src, NewStream(dim, Seed), dim, 400)
	var good tensor.Set
	src.(learn.Snapshotter).SaveTensors(&good, prefix)

	victim := newLearner()
	train(victim, NewStream(dim, Seed+1), dim, 300)
	ps := probes(dim, 16)
	before, beforeP := state(t, victim), predictAll(victim, ps)

	try := func(what string, bad *tensor.Set) {
		t.Helper()
		if err := victim.(learn.Snapshotter).LoadTensors(bad, prefix); err == nil {
			t.Errorf("LoadTensors with %s succeeded; want an error", what)
		}
		if !bytes.Equal(state(t, victim), before) || !sameBits(predictAll(victim, ps), beforeP) {
			t.Fatalf("LoadTensors with %s changed the learner; a failed load must leave it unchanged", what)
		}
	}
	try("no tensors at all", new(tensor.Set))
	try("the wrong prefix", func() *tensor.Set {
		var s tensor.Set
		src.(learn.Snapshotter).SaveTensors(&s, "other.")
		return &s
	}())
	for _, name := range good.Names() {
		try(fmt.Sprintf("%q missing", name), without(t, &good, name))

		dt, shape, vals := values(t, &good, name)
		bad := without(t, &good, name)
		put(bad, name, dt, append(slices.Clone(shape), 1), vals)
		try(fmt.Sprintf("%q reshaped from %v to %v", name, shape, append(slices.Clone(shape), 1)), bad)

		longer := []int{len(vals) + 1}
		if len(shape) > 0 {
			longer = slices.Clone(shape)
			longer[0]++
		}
		n := 1
		for _, d := range longer {
			n *= d
		}
		bad = without(t, &good, name)
		put(bad, name, dt, longer, make([]float64, n))
		try(fmt.Sprintf("%q with shape %v instead of %v", name, longer, shape), bad)

		other := tensor.F64
		if dt == tensor.F64 {
			other = tensor.F32
		}
		bad = without(t, &good, name)
		put(bad, name, other, shape, vals)
		try(fmt.Sprintf("%q stored as %s instead of %s", name, other, dt), bad)
	}
	// The good set itself loads (so the failures above were about the
	// damage, not the set).
	if err := victim.(learn.Snapshotter).LoadTensors(&good, prefix); err != nil {
		t.Fatalf("LoadTensors of the undamaged set error = %v", err)
	}
}

// cloneOf calls l's Clone method, if it has one returning a learn.Binary.
func cloneOf(l learn.Binary) (learn.Binary, bool) {
	m := reflect.ValueOf(l).MethodByName("Clone")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil, false
	}
	c, ok := m.Call(nil)[0].Interface().(learn.Binary)
	return c, ok
}

func testClone(t *testing.T, newLearner func() learn.Binary, dim int) {
	a := newLearner()
	train(a, NewStream(dim, Seed), dim, 300)
	c, _ := cloneOf(a)
	ps := probes(dim, 32)
	aP := predictAll(a, ps)
	if cP := predictAll(c, ps); !sameBits(aP, cP) {
		t.Fatalf("clone predicts differently from the original:\noriginal %v\nclone    %v", aP, cP)
	}

	// The clone carries the whole state: the same further learning keeps
	// it identical to a twin of the original.
	twin, _ := cloneOf(a)
	train(c, NewStream(dim, Seed+5), dim, 200)
	train(twin, NewStream(dim, Seed+5), dim, 200)
	if !sameBits(predictAll(c, ps), predictAll(twin, ps)) {
		t.Fatalf("two clones fed the same stream diverged")
	}

	// Learning on the clone leaves the original alone, and vice versa.
	if got := predictAll(a, ps); !sameBits(got, aP) {
		t.Fatalf("learning on a clone changed the original's predictions")
	}
	cP := predictAll(c, ps)
	train(a, NewStream(dim, Seed+6), dim, 200)
	if got := predictAll(c, ps); !sameBits(got, cP) {
		t.Fatalf("learning on the original changed the clone's predictions")
	}

	// Serving predicts on a clone while the trainer learns on the
	// original: with -race this catches shared scratch buffers.
	pub, _ := cloneOf(a)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			for _, x := range ps {
				pub.Predict(x)
			}
		}
	}()
	train(a, NewStream(dim, Seed+8), dim, 2000)
	wg.Wait()
}
