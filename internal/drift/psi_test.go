package drift

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPSIHandComputed(t *testing.T) {
	p, err := NewPSI([]float64{1, 2, 3, 4}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Edges(nil); len(got) != 1 || got[0] != 2 {
		t.Fatalf("Edges() = %v; want [2]", got)
	}
	// Reference counts [2 2] → (2.5/5, 2.5/5); window [3 1] → (3.5/5, 1.5/5).
	want := 0.2*math.Log(0.7/0.5) + (-0.2)*math.Log(0.3/0.5)
	if got := p.Score([]float64{1, 1, 1, 3}); math.Abs(got-want) > 1e-12 {
		t.Errorf("Score([1 1 1 3]) = %v; want %v", got, want)
	}
	if got := p.Score([]float64{2, 3}); math.Abs(got) > 1e-12 {
		t.Errorf("Score([2 3]) = %v; want 0", got)
	}
	if got := p.Score(nil); got != 0 {
		t.Errorf("Score(nil) = %v; want 0", got)
	}
}

func TestPSIShift(t *testing.T) {
	const seed = 5
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	sample := func(n int, mu float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = mu + r.NormFloat64()
		}
		return s
	}
	p, err := NewPSI(sample(5000, 0), 10)
	if err != nil {
		t.Fatal(err)
	}
	if p.Bins() != 10 {
		t.Errorf("Bins() = %d; want 10", p.Bins())
	}
	tests := []struct {
		shift    float64
		min, max float64
	}{
		{0, 0, 0.02},                      // sampling noise ≈ 9·(1/5000 + 1/5000)
		{0.3, 0.05, PSISignificant},       // ≈ 0.3² = 0.09: moderate
		{1, PSISignificant, math.Inf(1)},  // ≈ 1: significant
		{-1, PSISignificant, math.Inf(1)}, // both directions
		{3, 2, math.Inf(1)},               // far outside the reference
	}
	for _, tt := range tests {
		got := p.Score(sample(5000, tt.shift))
		if got < tt.min || got > tt.max {
			t.Errorf("Score(N(%v, 1)) = %v; want in [%v, %v]", tt.shift, got, tt.min, tt.max)
		}
	}
}

func TestPSIDiscrete(t *testing.T) {
	// 70 % zeros: the quantile edges 0 (×7) and 1 (×2) merge.
	ref := make([]float64, 100)
	for i := 70; i < 100; i++ {
		ref[i] = 1
	}
	p, err := NewPSI(ref, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Edges(nil); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("Edges() = %v; want [0 1]", got)
	}
	if s := p.Score(ref); math.Abs(s) > 1e-12 {
		t.Errorf("Score(reference) = %v; want 0", s)
	}
	if s := p.Score([]float64{2, 2, 2, 2}); s < PSISignificant {
		t.Errorf("Score(values above the reference range) = %v; want > %v", s, PSISignificant)
	}
	// A constant reference still separates other values.
	c, _ := NewPSI([]float64{5, 5, 5}, 4)
	if s := c.Score([]float64{6, 7, 8}); s < PSISignificant {
		t.Errorf("constant reference: Score([6 7 8]) = %v; want > %v", s, PSISignificant)
	}
}

func TestNewPSIErrors(t *testing.T) {
	tests := []struct {
		name string
		ref  []float64
		bins int
	}{
		{"empty", nil, 10},
		{"bins 1", []float64{1, 2}, 1},
		{"NaN", []float64{1, math.NaN()}, 10},
		{"Inf", []float64{math.Inf(1)}, 10},
	}
	for _, tt := range tests {
		if _, err := NewPSI(tt.ref, tt.bins); err == nil {
			t.Errorf("NewPSI(%s) = nil error; want one", tt.name)
		}
	}
}

func TestPSIScoreAllocs(t *testing.T) {
	ref := make([]float64, 1000)
	for i := range ref {
		ref[i] = float64(i % 37)
	}
	p, _ := NewPSI(ref, 10)
	w := ref[:500]
	if a := testing.AllocsPerRun(100, func() { p.Score(w) }); a != 0 {
		t.Errorf("Score allocates %v times; want 0", a)
	}
}
