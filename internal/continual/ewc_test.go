package continual

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/drift"
	"github.com/perpetua-ml/perpetua/internal/learn/linear"
	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
)

// ewcCase returns an EWC around a small MLP trained a little, with a
// random Fisher and anchor installed, so every parameter has a penalty.
func ewcCase(t *testing.T, seed uint64, lambda float64) (*EWC, *rand.Rand) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0xe3c))
	m, err := mlp.New(5, mlp.Config{Hidden: []int{4, 3}, Seed: seed})
	must(t, err)
	e, err := NewEWC(m, EWCConfig{Lambda: lambda})
	must(t, err)
	for i := range e.fisher {
		e.fisher[i] = r.Float64() * 2
		e.anchor[i] = m.Params()[i] + r.NormFloat64()*0.5
	}
	e.consolidated = true
	return e, r
}

// The penalty's gradient matches central finite differences of
// λ/2·Σ F(θ−θ*)².
func TestEWCPenaltyGradientCheck(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		e, _ := ewcCase(t, seed, 37)
		p := e.base.Params()
		grad := make([]float64, len(p))
		e.PenaltyGradient(grad)
		const h = 1e-5
		for i := range p {
			orig := p[i]
			p[i] = orig + h
			up := e.Penalty()
			p[i] = orig - h
			down := e.Penalty()
			p[i] = orig
			num := (up - down) / (2 * h)
			if err := math.Abs(num-grad[i]) / max(1, math.Abs(num)); err > 1e-6 {
				t.Errorf("seed %d: ∂penalty/∂θ[%d] = %v; finite differences give %v (relative error %.2g)", seed, i, grad[i], num, err)
			}
		}
	}
}

// After each base Learn, EWC applies exactly θ ← θ − η·λ·F⊙(θ−θ*) (the
// factor below 1 here), i.e. θ − η·∇penalty.
func TestEWCStep(t *testing.T) {
	e, r := ewcCase(t, 4, 10)
	e.cfg.LearnRate = 0.01 // η·λ·F ≤ 0.2
	twin := e.base.(*mlp.MLP).Clone()
	x := make([]float32, 5)
	for i := range x {
		x[i] = float32(r.Float64())
	}
	twin.Learn(x, 1)
	grad := make([]float64, len(e.fisher))
	want := slices.Clone(twin.Params())
	for i := range want {
		want[i] -= 0.01 * 10 * e.fisher[i] * (want[i] - e.anchor[i])
	}
	e.Learn(x, 1)
	for i, got := range e.base.Params() {
		if math.Abs(got-want[i]) > 1e-15*max(1, math.Abs(want[i])) {
			t.Errorf("θ[%d] after Learn = %v; want %v", i, got, want[i])
		}
	}
	// The same step through PenaltyGradient.
	before := slices.Clone(e.base.Params())
	e.PenaltyGradient(grad)
	e.step()
	for i, got := range e.base.Params() {
		if w := before[i] - 0.01*grad[i]; math.Abs(got-w) > 1e-15*max(1, math.Abs(w)) {
			t.Errorf("step(): θ[%d] = %v; want θ − η·∇penalty = %v", i, got, w)
		}
	}
}

// A factor η·λ·F above 1 is capped: the step lands on the anchor instead
// of overshooting it.
func TestEWCStepCapped(t *testing.T) {
	e, _ := ewcCase(t, 5, 1e9)
	e.step()
	if got, want := e.base.Params(), e.anchor; !slices.Equal(got, want) {
		t.Errorf("capped step: θ = %v; want the anchor %v", got[:4], want[:4])
	}
	if p := e.Penalty(); p != 0 {
		t.Errorf("Penalty at the anchor = %v; want 0", p)
	}
}

// The Fisher estimates equal their definitions, and the online update is
// F ← γ·F + F_new.
func TestEWCFisher(t *testing.T) {
	for _, kind := range []FisherEstimate{FisherEmpirical, FisherExpected} {
		t.Run(kind.String(), func(t *testing.T) {
			m := linear.New(3, linear.Config{})
			e, err := NewEWC(m, EWCConfig{Samples: 4, Fisher: kind, Gamma: 0.5})
			must(t, err)
			if len(e.Adaptations()) != 0 || e.Penalty() != 0 {
				t.Fatal("fresh EWC has adaptations or a penalty")
			}
			r := rand.New(rand.NewPCG(9, 9))
			var xs [][]float32
			var ys []float64
			for i := range 6 {
				x := []float32{float32(r.Float64()), float32(r.Float64()), float32(r.Float64())}
				y := float64(i % 2)
				xs, ys = append(xs, x), append(ys, y)
				e.Learn(x, y)
			}
			// The kept examples are the last 4.
			want := expectedFisher(m, kind, xs[2:], ys[2:])
			e.Consolidate()
			closeSlices(t, "first Fisher", e.Fisher(), want)
			if !slices.Equal(e.Anchor(), m.Params()) {
				t.Errorf("Anchor() = %v; want the parameters %v", e.Anchor(), m.Params())
			}
			// Two more examples (the penalty step moves θ), then the
			// online update.
			for i := range 2 {
				x := []float32{float32(r.Float64()), 0.5, float32(i)}
				xs, ys = append(xs, x), append(ys, 1)
				e.Learn(x, 1)
			}
			fnew := expectedFisher(m, kind, xs[4:], ys[4:])
			for i := range want {
				want[i] = 0.5*want[i] + fnew[i]
			}
			e.Consolidate()
			closeSlices(t, "online Fisher", e.Fisher(), want)
			a := e.Adaptations()
			if len(a) != 2 || a[0].Kind != KindConsolidated || a[1].Index != 7 || a[1].Strategy != StrategyEWC || !strings.Contains(a[1].Detail, "requested") {
				t.Errorf("Adaptations() = %+v; want two consolidations, the second at index 7", a)
			}
		})
	}
}

func expectedFisher(m *linear.Logistic, kind FisherEstimate, xs [][]float32, ys []float64) []float64 {
	f := make([]float64, m.NumParams())
	g := make([]float64, m.NumParams())
	for k, x := range xs {
		if kind == FisherExpected {
			p := m.Predict(x)
			// For logistic regression ∇z = (x, 1) and the expected Fisher
			// is p(1−p)·∇z².
			for i := range f {
				dz := 1.0
				if i < len(x) {
					dz = float64(x[i])
				}
				f[i] += p * (1 - p) * dz * dz
			}
			continue
		}
		m.Gradient(g, x, ys[k])
		for i, v := range g {
			f[i] += v * v
		}
	}
	for i := range f {
		f[i] /= float64(len(xs))
	}
	return f
}

func closeSlices(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12*max(1, math.Abs(want[i])) {
			t.Errorf("%s[%d] = %v; want %v", what, i, got[i], want[i])
		}
	}
}

func TestEWCConsolidationPoints(t *testing.T) {
	det := newScripted(nil, []int{25})
	e, err := NewEWC(linear.New(2, linear.Config{}), EWCConfig{Every: 10, Detector: func() drift.Detector { return det }})
	must(t, err)
	for i := range 35 {
		e.Learn([]float32{float32(i % 3), 1}, float64(i%2))
	}
	var got []string
	for _, a := range e.Adaptations() {
		got = append(got, fmt.Sprintf("%d:%s", a.Index, strings.Fields(a.Detail)[0]))
	}
	want := []string{"9:periodic", "19:periodic", "25:drift", "29:periodic"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("consolidations %v; want %v", got, want)
	}
	if det.resets != 1 {
		t.Errorf("detector reset %d times; want 1", det.resets)
	}
}

func ExampleEWC() {
	m, err := mlp.New(4, mlp.Config{Hidden: []int{8}, Seed: 1})
	if err != nil {
		panic(err)
	}
	e, err := NewEWC(m, EWCConfig{Lambda: 1e4, Every: 1000})
	if err != nil {
		panic(err)
	}
	x := []float32{1, 0, 0, 1}
	for range 2000 {
		e.Learn(x, 1)
	}
	for _, a := range e.Adaptations() {
		fmt.Println(a.Index, a.Strategy, a.Kind)
	}
	// Output:
	// 999 ewc consolidated
	// 1999 ewc consolidated
}
