package deep

import (
	"fmt"
	"math"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/feature"
)

// testSchema has two numeric fields, three categorical ones, a bag and a
// cross, with 2^6 wide buckets (so buckets collide now and then).
func testSchema(t testing.TB, wideBits int) *feature.Schema {
	t.Helper()
	s, err := feature.NewSchema(feature.SchemaConfig{
		Fields: []feature.Field{
			{Name: "price", Kind: feature.Numeric, Log1p: true},
			{Name: "user", Kind: feature.Categorical},
			{Name: "age", Kind: feature.Numeric},
			{Name: "item", Kind: feature.Categorical},
			{Name: "tags", Kind: feature.Bag},
			{Name: "shop", Kind: feature.Categorical},
		},
		Crosses:  [][]string{{"user", "item"}},
		Seed:     7,
		WideBits: wideBits,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testRows are raw records of testSchema; the tags bags repeat elements.
var testRows = []feature.Strings{
	{"12.5", "u1", "31", "i1", "red|large|red", "s1"},
	{"3", "u2", "", "i2", "blue", "s1"},
	{"", "u1", "45", "i3", "red|small|sale|small", "s2"},
	{"99", "u3", "22", "i1", "", "s3"},
	{"7", "u2", "38", "i2", "large|sale", "s2"},
	{"0.5", "u4", "29", "i4", "red|blue|green|red|red", "s1"},
}

// encodeAll encodes rows with s (updating its running stats).
func encodeAll(t testing.TB, s *feature.Schema, rows []feature.Strings) []*feature.Example {
	t.Helper()
	xs := make([]*feature.Example, len(rows))
	for i, r := range rows {
		xs[i] = s.NewExample()
		if err := s.Encode(xs[i], r); err != nil {
			t.Fatal(err)
		}
	}
	return xs
}

func softplus(z float64) float64 { return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) }

// lossAt is the weighted log loss of x under the current parameters,
// looking IDs up without side effects.
func lossAt[T float](m *model[T], x *feature.Example, y float64) float64 {
	z, _, _ := m.forward(x, false)
	w := y*m.cfg.PosWeight + (1-y)*m.cfg.NegWeight
	return w * (softplus(z) - y*z)
}

// analytic runs the backpropagation Learn uses on (x, y) and returns
// ∂L/∂logit; the gradients are left in the model's buffers.
func analytic[T float](t *testing.T, m *model[T], x *feature.Example, y float64) float64 {
	t.Helper()
	z, ok, _ := m.forward(x, false)
	dz, valid := m.lossGrad(sigmoid(z), y)
	if !ok || !valid || !m.backward(dz) {
		t.Fatalf("non-finite forward or backward pass (z = %v)", z)
	}
	if m.net != nil {
		m.net.gradient(true)
	}
	return dz
}

// rowGrads returns the analytic gradient of every (slot, row) the example
// uses: the sum over its occurrences of the slot's pooled gradient, scaled
// by 1/n under mean pooling.
func rowGrads[T float](m *model[T], x *feature.Example) map[[2]int32][]float64 {
	out := map[[2]int32][]float64{}
	for j, tb := range m.tables {
		lo, hi := x.Offsets[j], x.Offsets[j+1]
		s := 1.0
		if m.mean {
			s = 1 / float64(hi-lo)
		}
		for _, id := range x.IDs[lo:hi] {
			r, _ := tb.Peek(id)
			k := [2]int32{int32(j), r}
			if out[k] == nil {
				out[k] = make([]float64, m.dim)
			}
			for c := range m.dim {
				out[k][c] += float64(m.dx0[j*m.dim+c]) * s
			}
		}
	}
	return out
}

// nudge adds d to row r, component c, of table tb (an SGD table with step
// size 1 and no L2), returning the change actually made (float32
// rounding).
func nudge(tb *embed.Table, r int32, c int, d float64, buf []float32) float64 {
	before := float64(tb.Row(r)[c])
	clear(buf)
	buf[c] = float32(-d)
	tb.ApplyGradient(r, buf)
	return float64(tb.Row(r)[c]) - before
}

type gradCase struct {
	name string
	cfg  Config
	y    float64
}

func gradCases() []gradCase {
	sgdRows := embed.Config{Optimizer: embed.SGD, LearnRate: 1, InitStd: 0.3}
	return []gradCase{
		{"mean+fm+leaky", Config{Hidden: []int{5, 4}, FM: true, Embed: sgdRows, EmbedDim: 4, Seed: 1}, 1},
		{"sum+relu", Config{Hidden: []int{6}, Activation: ReLU, Pooling: Sum, Embed: sgdRows, EmbedDim: 3, Seed: 2}, 0},
		{"fm-only", Config{NoDeep: true, FM: true, Embed: sgdRows, EmbedDim: 5, Seed: 3}, 1},
		{"weighted+soft-label", Config{Hidden: []int{4, 3, 3}, FM: true, Embed: sgdRows, EmbedDim: 2, PosWeight: 3, NegWeight: 0.5, Seed: 4}, 0.3},
		{"no-wide", Config{NoWide: true, Hidden: []int{4}, Embed: sgdRows, EmbedDim: 3, Seed: 5}, 1},
		{"wide-dense", Config{NoDeep: true, WideDense: true, WideL2: 0.1, Seed: 6}, 1},
		{"wide-dense+deep", Config{WideDense: true, Hidden: []int{4}, Embed: sgdRows, EmbedDim: 3, Seed: 7}, 0},
	}
}

// check compares an analytic derivative with a central difference.
func check(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*(1e-3+math.Abs(want)) {
		t.Errorf("%s: backprop %.9g; finite difference %.9g", what, got, want)
	}
}

// TestGradientCheck checks every gradient the model's backpropagation
// computes — the MLP's weights and biases, the wide weights, the
// embedding rows of single IDs and of pooled bags with repeated elements,
// through the MLP and the FM term — against central finite differences of
// the loss, in float64 through the same code Learn runs in float32.
func TestGradientCheck(t *testing.T) {
	for _, tc := range gradCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := testSchema(t, 6)
			xs := encodeAll(t, s, testRows)
			m, err := newModel[float64](s, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Learn a little so the wide part has state and every ID a row.
			for i, x := range xs {
				m.predictLearn(x, float64(i%2))
			}
			const eps = 1e-5
			for xi, x := range xs {
				y := tc.y
				dz := analytic(t, m, x, y)

				if m.net != nil {
					g := append([]float64(nil), m.net.g...)
					for i := range m.net.p {
						old := m.net.p[i]
						m.net.p[i] = old + eps
						lp := lossAt(m, x, y)
						m.net.p[i] = old - eps
						lm := lossAt(m, x, y)
						m.net.p[i] = old
						check(t, fmt.Sprintf("x%d dense param %d", xi, i), g[i], (lp-lm)/(2*eps), 1e-5)
					}
				}

				if w := m.wide; w != nil {
					m.forward(x, false)
					uniq := append([]uint32(nil), w.uniq...)
					g := make([]float64, len(uniq))
					gBias := w.gradient(g, dz)
					for k, b := range append(uniq, w.biasIndex()) {
						gk := gBias
						if k < len(uniq) {
							gk = g[k]
						}
						// w_b = −z_b/D (no L1): move z to move w by ±eps.
						d := (w.beta+w.zs[2*b+1])/w.alpha + w.l2
						if b == w.biasIndex() {
							d = (w.beta + w.zs[2*b+1]) / w.alpha
						}
						old := w.zs[2*b]
						w.zs[2*b] = old - eps*d
						lp := lossAt(m, x, y)
						w.zs[2*b] = old + eps*d
						lm := lossAt(m, x, y)
						w.zs[2*b] = old
						check(t, fmt.Sprintf("x%d wide bucket %d", xi, b), gk, (lp-lm)/(2*eps), 1e-5)
					}
					if tc.cfg.WideDense && w.nd == 0 {
						t.Fatal("WideDense but the wide part has no dense terms")
					}
					// The dense inputs' linear terms: ∂L/∂w_k = dz·x_k.
					dx := append([]float64(nil), w.dx...)
					for k := range w.nd {
						b := w.biasIndex() + 1 + uint32(k)
						d := (w.beta+w.zs[2*b+1])/w.alpha + w.l2
						old := w.zs[2*b]
						w.zs[2*b] = old - eps*d
						lp := lossAt(m, x, y)
						w.zs[2*b] = old + eps*d
						lm := lossAt(m, x, y)
						w.zs[2*b] = old
						check(t, fmt.Sprintf("x%d wide dense %d", xi, k), dz*dx[k], (lp-lm)/(2*eps), 1e-5)
					}
				}

				if m.tables != nil {
					analytic(t, m, x, y)
					buf := make([]float32, m.dim)
					for key, g := range rowGrads(m, x) {
						tb := m.tables[key[0]]
						for c := range m.dim {
							// float32 rows: a larger step, and the step
							// actually taken.
							up := nudge(tb, key[1], c, 1e-3, buf)
							lp := lossAt(m, x, y)
							down := nudge(tb, key[1], c, -2e-3, buf)
							lm := lossAt(m, x, y)
							nudge(tb, key[1], c, -(up + down), buf)
							check(t, fmt.Sprintf("x%d slot %d row %d [%d]", xi, key[0], key[1], c), g[c], (lp-lm)/(-down), 1e-4)
						}
					}
				}
			}
		})
	}
}

// TestFMGradient checks the FM term's gradient with respect to the field
// vectors against central differences of fmTerm itself.
func TestFMGradient(t *testing.T) {
	s := testSchema(t, 0)
	m, err := newModel[float64](s, Config{NoWide: true, NoDeep: true, FM: true, EmbedDim: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.x0 {
		m.x0[i] = math.Sin(float64(7*i + 1))
	}
	m.fmTerm()
	// Brute force: Σ_{i<j} ⟨v_i, v_j⟩.
	var brute float64
	for i := range m.nf {
		for j := i + 1; j < m.nf; j++ {
			for c := range m.dim {
				brute += m.x0[i*m.dim+c] * m.x0[j*m.dim+c]
			}
		}
	}
	if got := m.fmTerm(); math.Abs(got-brute) > 1e-12 {
		t.Fatalf("fmTerm() = %v; want Σ_{i<j}⟨v_i, v_j⟩ = %v", got, brute)
	}
	m.backward(1)
	g := append([]float64(nil), m.dx0...)
	const eps = 1e-6
	for i := range m.ne {
		old := m.x0[i]
		m.x0[i] = old + eps
		p := m.fmTerm()
		m.x0[i] = old - eps
		q := m.fmTerm()
		m.x0[i] = old
		check(t, fmt.Sprintf("fm input %d", i), g[i], (p-q)/(2*eps), 1e-6)
	}
}

// TestGradientCheckFloat32 repeats the dense check on the float32 model
// Learn actually runs (assembly kernels where available), with a
// tolerance for float32 rounding.
func TestGradientCheckFloat32(t *testing.T) {
	s := testSchema(t, 6)
	xs := encodeAll(t, s, testRows)
	m, err := newModel[float32](s, Config{Hidden: []int{9, 5}, FM: true, EmbedDim: 8, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		m.predictLearn(x, float64(i%2))
	}
	const eps = 3e-3
	bad, kinks, n := 0, 0, 0
	for _, x := range xs[:3] {
		analytic(t, m, x, 1)
		g := append([]float32(nil), m.net.g...)
		l0 := lossAt(m, x, 1)
		for i := range m.net.p {
			old := m.net.p[i]
			m.net.p[i] = old + eps
			lp := lossAt(m, x, 1)
			m.net.p[i] = old - eps
			lm := lossAt(m, x, 1)
			m.net.p[i] = old
			// A step this large (float32 needs it) may cross a kink of
			// the activation: then the one-sided differences disagree,
			// and the point is skipped.
			right, left := (lp-l0)/eps, (l0-lm)/eps
			if math.Abs(right-left) > 0.02+0.1*math.Abs(right+left) {
				kinks++
				continue
			}
			n++
			fd := (lp - lm) / (2 * eps)
			if math.Abs(float64(g[i])-fd) > 2e-3+0.02*math.Abs(fd) {
				bad++
				if bad < 10 {
					t.Errorf("dense param %d: backprop %v; finite difference %v", i, g[i], fd)
				}
			}
		}
	}
	if kinks > n/20 {
		t.Errorf("%d of %d parameters skipped at kinks; want at most 5%%", kinks, n+kinks)
	}
}

// TestLearnIsGradientStep checks that Learn applies the gradient the
// check above validates: with SGD everywhere, one step moves every dense
// weight by −lr·(g + λ·w), every bias by −lr·g and every embedding row by
// −lr·g, and the wide part by one FTRL step of its gradient.
func TestLearnIsGradientStep(t *testing.T) {
	s := testSchema(t, 6)
	xs := encodeAll(t, s, testRows)
	const lr, l2, elr = 0.05, 0.01, 0.1
	m, err := newModel[float64](s, Config{
		Hidden: []int{5, 4}, FM: true, EmbedDim: 4, Optimizer: SGD, LearnRate: lr, L2: l2,
		Embed: embed.Config{Optimizer: embed.SGD, LearnRate: elr},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range xs {
		m.predictLearn(x, float64(i%2))
	}
	x, y := xs[2], 1.0
	dz := analytic(t, m, x, y)
	g := append([]float64(nil), m.net.g...)
	p0 := append([]float64(nil), m.net.p...)
	rg := rowGrads(m, x)
	rows0 := map[[2]int32][]float32{}
	for k := range rg {
		rows0[k] = append([]float32(nil), m.tables[k[0]].Row(k[1])...)
	}
	w := m.wide
	m.forward(x, false)
	uniq := append([]uint32(nil), w.uniq...)
	cnt := append([]float64(nil), w.cnt...)
	zs0 := append([]float64(nil), w.zs...)

	m.predictLearn(x, y)

	for k := 0; k < m.net.layers(); k++ {
		for i := m.net.wOff[k]; i < m.net.bOff[k]+m.net.sizes[k+1]; i++ {
			want := p0[i] - lr*g[i]
			if i < m.net.bOff[k] {
				want = p0[i] - lr*(g[i]+l2*p0[i])
			}
			if math.Abs(m.net.p[i]-want) > 1e-12 {
				t.Errorf("dense param %d after Learn = %v; want %v", i, m.net.p[i], want)
			}
		}
	}
	for k, gr := range rg {
		row := m.tables[k[0]].Row(k[1])
		for c := range gr {
			want := float32(float64(rows0[k][c]) - elr*float64(float32(gr[c])))
			if math.Abs(float64(row[c]-want)) > 1e-6 {
				t.Errorf("slot %d row %d [%d] after Learn = %v; want %v", k[0], k[1], c, row[c], want)
			}
		}
	}
	for i, b := range uniq {
		gb := dz * cnt[i]
		// McMahan et al.'s update in terms of n.
		z, n := zs0[2*b], zs0[2*b+1]*zs0[2*b+1]
		wb := -z / ((w.beta+math.Sqrt(n))/w.alpha + w.l2)
		sigma := (math.Sqrt(n+gb*gb) - math.Sqrt(n)) / w.alpha
		if got, want := w.zs[2*b], z+gb-sigma*wb; math.Abs(got-want) > 1e-12 {
			t.Errorf("wide z[%d] after Learn = %v; want %v", b, got, want)
		}
		if got, want := w.zs[2*b+1]*w.zs[2*b+1], n+gb*gb; math.Abs(got-want) > 1e-12*(1+want) {
			t.Errorf("wide n[%d] after Learn = %v; want %v", b, got, want)
		}
	}
}

// TestFusedAdamStep checks that the online Adam step, which computes the
// weight gradients inside the update kernel, moves every parameter
// exactly as materialising the gradient and stepping on it does.
func TestFusedAdamStep(t *testing.T) {
	s := testSchema(t, 6)
	xs := encodeAll(t, s, testRows)
	cfg := Config{Hidden: []int{13, 7}, EmbedDim: 8, L2: 1e-3, Seed: 3}
	fused, err := newModel[float32](s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := newModel[float32](s, cfg)
	plain.net.fused = false
	for i := range 300 {
		x := xs[i%len(xs)]
		y := float64(i % 2)
		if p, q := fused.predictLearn(x, y), plain.predictLearn(x, y); p != q {
			t.Fatalf("step %d: fused prediction %v; materialised %v", i, p, q)
		}
	}
	for i := range fused.net.p {
		if fused.net.p[i] != plain.net.p[i] || fused.net.s1[i] != plain.net.s1[i] || fused.net.s2[i] != plain.net.s2[i] {
			t.Fatalf("param %d: fused (w, m, v) = (%v, %v, %v); materialised (%v, %v, %v)", i,
				fused.net.p[i], fused.net.s1[i], fused.net.s2[i], plain.net.p[i], plain.net.s1[i], plain.net.s2[i])
		}
	}
}
