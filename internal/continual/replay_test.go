package continual

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
)

// Reservoir sampling keeps every stream position with probability
// Capacity/N: over many seeds, each tenth of the stream holds a tenth of
// the buffer.
func TestReservoirIsUniform(t *testing.T) {
	const (
		n     = 5000
		capa  = 100
		seeds = 200
	)
	var deciles [10]int
	for seed := range uint64(seeds) {
		b, err := NewReplayBuffer(ReplayConfig{Capacity: capa, Seed: seed})
		must(t, err)
		for i := range n {
			b.Add([]float32{float32(i)}, 0)
		}
		if b.Len() != capa || b.Seen() != n {
			t.Fatalf("seed %d: Len, Seen = %d, %d; want %d, %d", seed, b.Len(), b.Seen(), capa, n)
		}
		for i := range capa {
			deciles[int(b.xs[i])*10/n]++
		}
	}
	// Each decile expects seeds·capa/10 = 2000 with binomial sd ≈ 42.
	for d, c := range deciles {
		if math.Abs(float64(c)-2000) > 5*42 {
			t.Errorf("decile %d of the stream holds %d kept examples over %d seeds; want 2000 ± 210 (counts %v)", d, c, seeds, deciles)
		}
	}
}

func TestClassBalancedBuffer(t *testing.T) {
	b, err := NewReplayBuffer(ReplayConfig{Capacity: 200, Policy: ReplayClassBalanced, Seed: 7})
	must(t, err)
	// 5% positives.
	for i := range 10000 {
		y := 0.0
		if i%20 == 0 {
			y = 1
		}
		b.Add([]float32{float32(i), 1}, y)
	}
	if neg, pos := b.ClassCounts(); neg != 100 || pos != 100 {
		t.Errorf("ClassCounts() = %d, %d; want 100, 100", neg, pos)
	}
	var pos int
	for range 10000 {
		x, y, ok := b.Sample()
		if !ok {
			t.Fatal("Sample on a full buffer: ok = false")
		}
		if (y == 1) != (int(x[0])%20 == 0) {
			t.Fatalf("Sample() = %v, %v: features and label from different examples", x, y)
		}
		if y == 1 {
			pos++
		}
	}
	if pos < 4700 || pos > 5300 {
		t.Errorf("%d of 10000 samples positive; want about half", pos)
	}

	// One class only: samples come from it.
	b, _ = NewReplayBuffer(ReplayConfig{Capacity: 10, Policy: ReplayClassBalanced})
	b.Add([]float32{1}, 1)
	if _, y, ok := b.Sample(); !ok || y != 1 {
		t.Errorf("Sample() with only a positive kept = %v, %v; want 1, true", y, ok)
	}
	if neg, pos := b.ClassCounts(); neg != 0 || pos != 1 {
		t.Errorf("ClassCounts() = %d, %d; want 0, 1", neg, pos)
	}
}

func TestReplayBufferEmptyAndCopies(t *testing.T) {
	b, err := NewReplayBuffer(ReplayConfig{Capacity: 4})
	must(t, err)
	if _, _, ok := b.Sample(); ok {
		t.Fatal("Sample on an empty buffer: ok = true")
	}
	x := []float32{1, 2, 3}
	b.Add(x, 1)
	x[0] = 99 // the caller reuses its slice
	got, _, _ := b.Sample()
	if !slices.Equal(got, []float32{1, 2, 3}) {
		t.Errorf("kept example = %v after the caller changed its slice; want a copy [1 2 3]", got)
	}
	if cap(got) != len(got) {
		t.Errorf("Sample returned a view with room to append into the buffer (cap %d, len %d)", cap(got), len(got))
	}
	defer func() {
		if recover() == nil {
			t.Error("Add with a different feature count did not panic")
		}
	}()
	b.Add([]float32{1}, 0)
}

func TestReplayBufferDeterministic(t *testing.T) {
	run := func(seed uint64) []float64 {
		b, _ := NewReplayBuffer(ReplayConfig{Capacity: 50, Seed: seed})
		var out []float64
		for i := range 1000 {
			b.Add([]float32{float32(i)}, float64(i%2))
			x, _, _ := b.Sample()
			out = append(out, float64(x[0]))
		}
		return out
	}
	if a, b := run(3), run(3); !slices.Equal(a, b) {
		t.Error("two buffers with the same seed sampled differently")
	}
	if a, b := run(3), run(4); slices.Equal(a, b) {
		t.Error("two buffers with different seeds sampled identically")
	}
}

// counter counts Learn calls and remembers the last examples learned.
type counter struct {
	n    int
	seen []float32
}

func (c *counter) Predict([]float32) float64 { return 0.5 }
func (c *counter) Learn(x []float32, _ float64) {
	c.n++
	c.seen = append(c.seen, x[0])
}

func TestReplayRatio(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		want  int // base Learn calls for 1000 examples
	}{
		{1, 1000 + 999}, // nothing to replay on the first example
		{0.25, 1000 + 250},
		{1.5, 1000 + 1499},
		{3, 1000 + 2997},
	} {
		base := &counter{}
		r, err := NewReplay(base, ReplayConfig{Capacity: 100, Ratio: tc.ratio, Seed: 1})
		must(t, err)
		for i := range 1000 {
			r.Learn([]float32{float32(i)}, 0)
		}
		if base.n != tc.want {
			t.Errorf("Replay(ratio %v): %d base Learn calls for 1000 examples; want %d", tc.ratio, base.n, tc.want)
		}
	}
}

func TestReplayLearnsNewExampleLast(t *testing.T) {
	base := &counter{}
	r, err := NewReplay(base, ReplayConfig{Capacity: 10, Ratio: 2, Seed: 1})
	must(t, err)
	for i := range 50 {
		r.Learn([]float32{float32(i)}, 0)
		if last := base.seen[len(base.seen)-1]; last != float32(i) {
			t.Fatalf("example %d: last base Learn was %v; want the new example", i, last)
		}
		for _, v := range base.seen[max(0, len(base.seen)-3) : len(base.seen)-1] {
			if i > 0 && v >= float32(i) {
				t.Fatalf("example %d: replayed %v, not a past example", i, v)
			}
		}
	}
	if r.Buffer().Len() != 10 || r.Model() != learn.Binary(base) {
		t.Errorf("Buffer().Len() = %d, Model() = %v", r.Buffer().Len(), r.Model())
	}
}

func ExampleReplay() {
	base := newSGDLogit(2, 0.1)
	r, err := NewReplay(base, ReplayConfig{Capacity: 500, Policy: ReplayClassBalanced, Ratio: 1, Seed: 1})
	if err != nil {
		panic(err)
	}
	// A rare positive class: one example in ten.
	for i := range 2000 {
		y := 0.0
		if i%10 == 0 {
			y = 1
		}
		r.Learn([]float32{float32(y), 1 - float32(y)}, y)
	}
	neg, pos := r.Buffer().ClassCounts()
	fmt.Printf("kept %d negatives, %d positives; P(y=1 | positive) = %.2f\n", neg, pos, r.Predict([]float32{1, 0}))
	// Output: kept 250 negatives, 200 positives; P(y=1 | positive) = 0.99
}
