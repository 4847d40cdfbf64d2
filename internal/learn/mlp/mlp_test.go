package mlp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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
	{"sgd", Config{Optimizer: SGD}},
	{"deep-l2", Config{Hidden: []int{16, 8}, L2: 1e-4, Seed: 3}},
	{"three-layers", Config{Hidden: []int{7, 5, 3}, LearnRate: 0.003, Seed: 9}},
	{"relu-nolinear", Config{Activation: ReLU, NoLinear: true, Seed: 4}},
	{"relu-sgd-l2", Config{Activation: ReLU, Optimizer: SGD, L2: 1e-3, LinearLearnRate: 0.05, Seed: 6}},
}

func mustNew(t testing.TB, in int, cfg Config) *MLP {
	t.Helper()
	m, err := New(in, cfg)
	if err != nil {
		t.Fatalf("New(%d, %+v) error = %v", in, cfg, err)
	}
	return m
}

func TestConformance(t *testing.T) {
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			learntest.Run(t, func() learn.Binary { return mustNew(t, 10, c.cfg) }, 10)
		})
	}
}

// refLogit is an independent, straightforward forward pass over the flat
// parameter layout; it also returns the smallest |pre-activation| of any
// hidden unit (to avoid kinks in finite differences).
func refLogit(m *MLP, x []float32) (z, minPre float64) {
	slope := 0.0
	if m.cfg.Activation == LeakyReLU {
		slope = LeakySlope
	}
	a := make([]float64, len(x))
	for i, v := range x {
		a[i] = float64(v)
	}
	var lin float64
	if !m.cfg.NoLinear {
		u := m.p[len(m.p)-len(x):]
		for i := range a {
			lin += u[i] * a[i]
		}
	}
	minPre = math.Inf(1)
	off := 0
	for k := 0; k+1 < len(m.sizes); k++ {
		nIn, nOut := m.sizes[k], m.sizes[k+1]
		w := m.p[off : off+nIn*nOut]
		b := m.p[off+nIn*nOut : off+nIn*nOut+nOut]
		off += nIn*nOut + nOut
		next := make([]float64, nOut)
		for o := range next {
			s := b[o]
			for i := range a {
				s += w[o*nIn+i] * a[i]
			}
			if k+2 < len(m.sizes) {
				minPre = min(minPre, math.Abs(s))
				s = math.Max(s, slope*s)
			}
			next[o] = s
		}
		a = next
	}
	return a[0] + lin, minPre
}

// randomCase returns a network with perturbed parameters, an input and a
// label, such that no hidden pre-activation is near a ReLU kink.
func randomCase(t *testing.T, r *rand.Rand, cfg Config) (*MLP, []float32, float64) {
	for {
		cfg.Seed = r.Uint64()
		m := mustNew(t, 1+r.IntN(6), cfg)
		for i := range m.p {
			m.p[i] += 0.3 * r.NormFloat64() // non-zero biases too
		}
		x := make([]float32, m.sizes[0])
		for i := range x {
			x[i] = float32(r.Float64()*2 - 1)
		}
		if _, minPre := refLogit(m, x); minPre > 1e-3 {
			y := float64(r.IntN(2))
			if r.IntN(4) == 0 {
				y = r.Float64()
			}
			return m, x, y
		}
	}
}

// TestGradientCheck compares the backpropagated gradient (the one Learn
// uses) with central finite differences of Loss, for every parameter of
// every layer, in float64.
func TestGradientCheck(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	archs := []Config{
		{Hidden: []int{4}},
		{Hidden: []int{5, 3}, L2: 0.01},
		{Hidden: []int{3, 4, 2}, L2: 0.1},
		{Hidden: []int{4}, Activation: ReLU},
		{Hidden: []int{5, 3}, Activation: ReLU, L2: 0.01, NoLinear: true},
		{Hidden: []int{3, 4}, NoLinear: true},
	}
	for _, cfg := range archs {
		for trial := range 10 {
			m, x, y := randomCase(t, r, cfg)
			if z, _ := refLogit(m, x); math.Abs(z-m.forward(x)) > 1e-12 {
				t.Fatalf("%+v: forward logit %v; reference %v", cfg, m.forward(x), z)
			}
			g := make([]float64, m.NumParams())
			m.Gradient(g, x, y)
			const h = 1e-6
			p := m.Params()
			for i := range p {
				old := p[i]
				p[i] = old + h
				up := m.Loss(x, y)
				p[i] = old - h
				down := m.Loss(x, y)
				p[i] = old
				num := (up - down) / (2 * h)
				if d := math.Abs(num - g[i]); d > 1e-6*math.Max(1, math.Abs(num)) {
					t.Errorf("%+v trial %d: dLoss/dp[%d] (%s) = %.10g analytic, %.10g numeric", cfg, trial, i, m.paramName(i), g[i], num)
				}
			}
		}
	}
}

// paramName describes parameter i for failure messages.
func (m *MLP) paramName(i int) string {
	if i >= m.lin {
		return fmt.Sprintf("linear.weight[%d]", i-m.lin)
	}
	for k := len(m.wOff) - 1; k >= 0; k-- {
		if i >= m.bOff[k] {
			return fmt.Sprintf("layer%d.bias[%d]", k, i-m.bOff[k])
		}
		if i >= m.wOff[k] {
			j := i - m.wOff[k]
			return fmt.Sprintf("layer%d.weight[%d,%d]", k, j/m.sizes[k], j%m.sizes[k])
		}
	}
	return "?"
}

// TestLearnIsGradientPlusStep checks that Learn moves the parameters
// along Gradient by the textbook Adam or SGD rule, with LearnRate for the
// layers and LinearLearnRate for the linear path.
func TestLearnIsGradientPlusStep(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, c := range configs {
		m, x, _ := randomCase(t, r, c.cfg)
		cfg := m.Config()
		n := m.NumParams()
		p := slices.Clone(m.Params())
		mom, vel, g := make([]float64, n), make([]float64, n), make([]float64, n)
		for step := 1; step <= 3; step++ {
			y := float64(step % 2)
			m.Gradient(g, x, y)
			m.Learn(x, y)
			for i := range p {
				lr := cfg.LearnRate
				if strings.HasPrefix(m.paramName(i), "linear.") {
					lr = cfg.LinearLearnRate
				}
				if cfg.Optimizer == Adam {
					mom[i] = cfg.Beta1*mom[i] + (1-cfg.Beta1)*g[i]
					vel[i] = cfg.Beta2*vel[i] + (1-cfg.Beta2)*g[i]*g[i]
					mh := mom[i] / (1 - math.Pow(cfg.Beta1, float64(step)))
					vh := vel[i] / (1 - math.Pow(cfg.Beta2, float64(step)))
					p[i] -= lr * mh / (math.Sqrt(vh) + cfg.Eps)
				} else {
					p[i] -= lr * g[i]
				}
				if got := m.Params()[i]; math.Abs(got-p[i]) > 1e-12 {
					t.Errorf("%s step %d: %s = %.15g; want %.15g", c.name, step, m.paramName(i), got, p[i])
				}
			}
		}
		if m.Steps() != 3 {
			t.Errorf("%s: Steps() = %d; want 3", c.name, m.Steps())
		}
	}
}

func TestInit(t *testing.T) {
	a := mustNew(t, 50, Config{Hidden: []int{200}, Seed: 1})
	b := mustNew(t, 50, Config{Hidden: []int{200}, Seed: 1})
	c := mustNew(t, 50, Config{Hidden: []int{200}, Seed: 2})
	if !slices.Equal(a.Params(), b.Params()) {
		t.Errorf("two networks with seed 1 have different initial parameters")
	}
	if slices.Equal(a.Params(), c.Params()) {
		t.Errorf("seeds 1 and 2 give the same initial parameters")
	}
	if got, want := a.Layers(), []int{50, 200, 1}; !slices.Equal(got, want) {
		t.Errorf("Layers() = %v; want %v", got, want)
	}
	if got, want := a.NumParams(), 50*200+200+200+1+50; got != want {
		t.Errorf("NumParams() = %d; want %d", got, want)
	}
	std := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x * x
		}
		return math.Sqrt(s / float64(len(v)))
	}
	cases := []struct {
		name string
		got  float64
		want float64
	}{
		{"layer0 weight std (He)", std(a.layerW(0)), math.Sqrt(2.0 / 50)},
		{"layer1 weight std (Glorot)", std(a.layerW(1)), math.Sqrt(2.0 / 201)},
	}
	for _, c := range cases {
		if math.Abs(c.got-c.want) > 0.1*c.want {
			t.Errorf("%s = %.4f; want %.4f ± 10%%", c.name, c.got, c.want)
		}
	}
	for _, b := range a.layerB(0) {
		if b != HiddenBiasInit {
			t.Fatalf("layer0 has initial bias %v; want %v", b, HiddenBiasInit)
		}
	}
	if b := a.layerB(1)[0]; b != 0 {
		t.Errorf("output layer has initial bias %v; want 0", b)
	}
	if u := a.linear(); len(u) != 50 || slices.ContainsFunc(u, func(v float64) bool { return v != 0 }) {
		t.Errorf("initial linear path %v; want 50 zeros", u)
	}
	if n := mustNew(t, 50, Config{Hidden: []int{200}, NoLinear: true}).NumParams(); n != 50*200+200+200+1 {
		t.Errorf("NoLinear NumParams() = %d; want %d", n, 50*200+200+200+1)
	}
}

func TestPredictStable(t *testing.T) {
	m := mustNew(t, 1, Config{Hidden: []int{1}})
	out := len(m.wOff) - 1
	for _, c := range []struct {
		bias, want float64
	}{{0, 0.5}, {1000, 1 - MinProb}, {-1000, MinProb}, {math.Log(3), 0.75}} {
		clear(m.p)
		m.p[m.bOff[out]] = c.bias
		if got := m.Predict([]float32{1}); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("Predict with logit %v = %v; want %v", c.bias, got, c.want)
		}
		if loss := m.Loss([]float32{1}, 0); math.IsInf(loss, 0) || math.IsNaN(loss) || loss < 0 {
			t.Errorf("Loss with logit %v = %v; want finite and non-negative", c.bias, loss)
		}
	}
	m.p[m.bOff[out]] = -1000
	if got := m.Loss([]float32{1}, 1); got != 1000 {
		t.Errorf("Loss(y=1) with logit -1000 = %v; want 1000", got)
	}
}

func TestConfig(t *testing.T) {
	cases := []struct {
		in   int
		cfg  Config
		want string // "" for valid
	}{
		{3, Config{}, ""},
		{3, Config{Hidden: []int{4, 4}, Optimizer: SGD, LearnRate: 0.1, L2: 1}, ""},
		{0, Config{}, "0 inputs"},
		{3, Config{Hidden: []int{4, 0}}, "Hidden[1] = 0"},
		{3, Config{Optimizer: "adagrad"}, `Optimizer "adagrad"`},
		{3, Config{Activation: "tanh"}, `Activation "tanh"`},
		{3, Config{LearnRate: -1}, "LearnRate"},
		{3, Config{LinearLearnRate: math.NaN()}, "LinearLearnRate"},
		{3, Config{Beta1: 1}, "Beta1"},
		{3, Config{Beta2: math.NaN()}, "Beta2"},
		{3, Config{Eps: -1}, "Eps"},
		{3, Config{L2: math.Inf(1)}, "L2"},
	}
	for _, c := range cases {
		_, err := New(c.in, c.cfg)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "mlp: ")) {
			t.Errorf("New(%d, %+v) error = %v; want one containing %q", c.in, c.cfg, err, c.want)
		}
	}
	hidden := []int{5}
	m := mustNew(t, 2, Config{Hidden: hidden})
	hidden[0] = 9
	got := m.Config()
	want := Config{Hidden: []int{5}, Activation: LeakyReLU, Optimizer: Adam, LearnRate: 0.001, LinearLearnRate: 0.03, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Config() = %+v; want %+v (and unaffected by the caller's slice)", got, want)
	}
	if d := mustNew(t, 2, Config{}).Layers(); !slices.Equal(d, []int{2, 20, 1}) {
		t.Errorf("default Layers() = %v; want [2 20 1]", d)
	}
	if c := mustNew(t, 2, Config{Optimizer: SGD}).Config(); c.LearnRate != DefaultSGDLearnRate || c.LinearLearnRate != DefaultSGDLinearLearnRate {
		t.Errorf("SGD Config() = %+v; want LearnRate %v, LinearLearnRate %v", c, DefaultSGDLearnRate, DefaultSGDLinearLearnRate)
	}
}

func benchData(in int) ([][]float32, []float64) {
	s := learntest.NewStream(in, 1)
	xs := make([][]float32, 1024)
	ys := make([]float64, len(xs))
	for i := range xs {
		xs[i] = make([]float32, in)
		ys[i] = s.Next(xs[i])
	}
	return xs, ys
}

var benchArchs = []struct {
	in     int
	hidden []int
	opt    Optimizer
}{
	{10, []int{20}, Adam},
	{10, []int{20}, SGD},
	{32, []int{64, 32}, Adam},
}

func archName(in int, hidden []int, opt Optimizer) string {
	h := strings.Trim(strings.ReplaceAll(fmt.Sprint(hidden), " ", "x"), "[]")
	name := fmt.Sprintf("in=%d/hidden=%s", in, h)
	if opt != Adam {
		name += "/opt=" + string(opt)
	}
	return name
}

func BenchmarkLearn(b *testing.B) {
	for _, a := range benchArchs {
		b.Run(archName(a.in, a.hidden, a.opt), func(b *testing.B) {
			m := mustNew(b, a.in, Config{Hidden: a.hidden, Optimizer: a.opt})
			xs, ys := benchData(a.in)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m.Learn(xs[i%len(xs)], ys[i%len(xs)])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

func BenchmarkPredict(b *testing.B) {
	for _, a := range benchArchs {
		if a.opt != Adam {
			continue
		}
		b.Run(archName(a.in, a.hidden, a.opt), func(b *testing.B) {
			m := mustNew(b, a.in, Config{Hidden: a.hidden})
			xs, _ := benchData(a.in)
			b.ReportAllocs()
			var sink float64
			for i := 0; b.Loop(); i++ {
				sink += m.Predict(xs[i%len(xs)])
			}
			_ = sink
		})
	}
}

// TestAdamLongRun checks Learn against the textbook Adam step, computed
// with math.Pow and without flushing, at every step of a run long enough
// for both β^t terms to pass 2^-60 (where decayPow zeroes them: β2 = 0.999
// gets there after about 41,600 steps) and for the first moments of a
// feature that stops at step 100 to decay through the subnormal range
// (where flush zeroes them).
func TestAdamLongRun(t *testing.T) {
	const steps = 42_000
	m := mustNew(t, 3, Config{Hidden: []int{4}, LearnRate: 0.01, Seed: 2})
	cfg := m.Config()
	s := learntest.NewStream(3, 8)
	n := m.NumParams()
	g, mom, vel := make([]float64, n), make([]float64, n), make([]float64, n)
	x := make([]float32, 3)
	for step := 1; step <= steps; step++ {
		y := s.Next(x)
		if step > 100 {
			x[2] = 0
		}
		m.Gradient(g, x, y)
		old := slices.Clone(m.Params())
		m.Learn(x, y)
		c1 := 1 - math.Pow(cfg.Beta1, float64(step))
		c2 := 1 - math.Pow(cfg.Beta2, float64(step))
		for i, gi := range g {
			mom[i] = cfg.Beta1*mom[i] + (1-cfg.Beta1)*gi
			vel[i] = cfg.Beta2*vel[i] + (1-cfg.Beta2)*gi*gi
			lr := cfg.LearnRate
			if i >= m.lin {
				lr = cfg.LinearLearnRate
			}
			want := old[i] - lr*(mom[i]/c1)/(math.Sqrt(vel[i]/c2)+cfg.Eps)
			if got := m.Params()[i]; math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
				t.Fatalf("step %d: %s = %.17g; textbook Adam gives %.17g", step, m.paramName(i), got, want)
			}
		}
	}
	if m.b1t != 0 || m.b2t != 0 {
		t.Errorf("after %d steps β^t = %v, %v; want both flushed to 0", steps, m.b1t, m.b2t)
	}
	if i := m.lin + 2; m.m[i] != 0 || m.v[i] == 0 {
		t.Errorf("after %d steps the moments of %s are %v, %v; want m flushed to 0, v > 0", steps, m.paramName(i), m.m[i], m.v[i])
	}
}
