package linear

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/learntest"
)

var configs = []struct {
	name string
	cfg  Config
}{
	{"default", Config{}},
	{"adam-l2", Config{Optimizer: Adam, L2: 1e-3}},
	{"adagrad", Config{Optimizer: AdaGrad}},
	{"sgd", Config{Optimizer: SGD}},
	{"sgd-l2", Config{Optimizer: SGD, LearnRate: 0.1, L2: 1e-4}},
}

func TestConformance(t *testing.T) {
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			learntest.Run(t, func() learn.Binary { return New(8, c.cfg) }, 8)
		})
	}
	t.Run("dim=1", func(t *testing.T) {
		learntest.Run(t, func() learn.Binary { return New(1, Config{}) }, 1)
	})
}

// randomModel returns a model with random parameters and a random input.
func randomModel(r *rand.Rand, dim int, cfg Config) (*Logistic, []float32) {
	l := New(dim, cfg)
	for i := range l.Params() {
		l.Params()[i] = r.NormFloat64()
	}
	x := make([]float32, dim)
	for i := range x {
		x[i] = float32(r.Float64()*2 - 1)
	}
	return l, x
}

// TestGradientCheck compares Gradient, the gradient Learn steps along,
// with central finite differences of Loss.
func TestGradientCheck(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for _, c := range configs {
		for trial := range 20 {
			l, x := randomModel(r, 1+r.IntN(10), c.cfg)
			y := float64(r.IntN(2))
			if trial%5 == 0 {
				y = r.Float64() // soft label
			}
			g := make([]float64, l.NumParams())
			l.Gradient(g, x, y)
			const h = 1e-6
			for i := range l.Params() {
				p := l.Params()
				old := p[i]
				p[i] = old + h
				up := l.Loss(x, y)
				p[i] = old - h
				down := l.Loss(x, y)
				p[i] = old
				num := (up - down) / (2 * h)
				if d := math.Abs(num - g[i]); d > 1e-6*math.Max(1, math.Abs(num)) {
					t.Errorf("%s trial %d: dLoss/dp[%d] = %.10g analytic, %.10g numeric", c.name, trial, i, g[i], num)
				}
			}
		}
	}
}

// TestLearnSteps checks that Learn moves the parameters along Gradient by
// the optimizer's textbook rule.
func TestLearnSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, c := range configs {
		l, x := randomModel(r, 5, c.cfg)
		cfg := l.Config()
		n := l.NumParams()
		p := append([]float64(nil), l.Params()...)
		m, v := make([]float64, n), make([]float64, n)
		g := make([]float64, n)
		for step := 1; step <= 3; step++ {
			y := float64(step % 2)
			l.Gradient(g, x, y)
			l.Learn(x, y)
			for i := range p {
				switch cfg.Optimizer {
				case Adam:
					m[i] = cfg.Beta1*m[i] + (1-cfg.Beta1)*g[i]
					v[i] = cfg.Beta2*v[i] + (1-cfg.Beta2)*g[i]*g[i]
					mh := m[i] / (1 - math.Pow(cfg.Beta1, float64(step)))
					vh := v[i] / (1 - math.Pow(cfg.Beta2, float64(step)))
					p[i] -= cfg.LearnRate * mh / (math.Sqrt(vh) + cfg.Eps)
				case AdaGrad:
					v[i] += g[i] * g[i]
					p[i] -= cfg.LearnRate * g[i] / (math.Sqrt(v[i]) + cfg.Eps)
				case SGD:
					p[i] -= cfg.LearnRate * g[i]
				}
				if got := l.Params()[i]; math.Abs(got-p[i]) > 1e-12 {
					t.Errorf("%s step %d: p[%d] = %.15g; want %.15g", c.name, step, i, got, p[i])
				}
			}
		}
		if l.Steps() != 3 {
			t.Errorf("%s: Steps() = %d; want 3", c.name, l.Steps())
		}
	}
}

func TestPredictStable(t *testing.T) {
	l := New(1, Config{})
	cases := []struct {
		bias float64
		want float64
	}{
		{0, 0.5},
		{1000, 1 - MinProb},
		{-1000, MinProb},
		{math.Log(3), 0.75},
	}
	for _, c := range cases {
		l.Params()[1] = c.bias
		if got := l.Predict([]float32{0}); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("Predict with logit %v = %v; want %v", c.bias, got, c.want)
		}
		if loss := l.Loss([]float32{0}, 1); math.IsInf(loss, 0) || math.IsNaN(loss) {
			t.Errorf("Loss with logit %v = %v; want finite", c.bias, loss)
		}
	}
	l.Params()[1] = -1000
	if got, want := l.Loss([]float32{0}, 1), 1000.0; got != want {
		t.Errorf("Loss(y=1) with logit -1000 = %v; want %v", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{Optimizer: SGD, LearnRate: 0.5, L2: 1}, ""},
		{Config{Optimizer: "rmsprop"}, `Optimizer "rmsprop"`},
		{Config{LearnRate: -1}, "LearnRate"},
		{Config{LearnRate: math.NaN()}, "LearnRate"},
		{Config{L2: -0.1}, "L2"},
		{Config{Beta1: 1}, "Beta1"},
		{Config{Beta2: 1.5}, "Beta2"},
		{Config{Eps: math.Inf(1)}, "Eps"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Validate(%+v) = %v; want error containing %q", c.cfg, err, c.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("New with an invalid config did not panic")
		}
	}()
	New(3, Config{LearnRate: -1})
}

func TestDefaults(t *testing.T) {
	got := New(2, Config{}).Config()
	want := Config{Optimizer: Adam, LearnRate: 0.03, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	if got != want {
		t.Errorf("New(2, Config{}).Config() = %+v; want %+v", got, want)
	}
}

func BenchmarkLearn(b *testing.B) {
	for _, dim := range []int{8, 64} {
		for _, opt := range []Optimizer{Adam, AdaGrad, SGD} {
			b.Run(fmt.Sprintf("dim=%d/opt=%s", dim, opt), func(b *testing.B) {
				l := New(dim, Config{Optimizer: opt})
				s := learntest.NewStream(dim, 1)
				xs := make([][]float32, 1024)
				ys := make([]float64, len(xs))
				for i := range xs {
					xs[i] = make([]float32, dim)
					ys[i] = s.Next(xs[i])
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					l.Learn(xs[i%len(xs)], ys[i%len(xs)])
				}
			})
		}
	}
}

func BenchmarkPredict(b *testing.B) {
	for _, dim := range []int{8, 64} {
		b.Run(fmt.Sprintf("dim=%d", dim), func(b *testing.B) {
			l := New(dim, Config{})
			x := make([]float32, dim)
			learntest.NewStream(dim, 1).Next(x)
			b.ReportAllocs()
			var sink float64
			for b.Loop() {
				sink += l.Predict(x)
			}
			_ = sink
		})
	}
}
