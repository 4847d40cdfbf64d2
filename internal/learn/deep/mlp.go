package deep

import (
	"math"
	"math/rand/v2"
)

// mlp is the deep part's fully connected network: hidden layers with
// (leaky) ReLU and one linear output unit (the deep logit). Layer k maps
// sizes[k] inputs to sizes[k+1] outputs with weights W_k, row-major
// [sizes[k+1]][sizes[k]], and biases b_k, all stored in one flat slice p
// (layer by layer, weights then biases); g is the gradient buffer laid out
// like p, and s1, s2 the optimizer state (AdaGrad: s1; Adam: s1 = m,
// s2 = v).
type mlp[T float] struct {
	sizes      []int
	wOff, bOff []int
	slope      T // activation slope for negative inputs: 0 for ReLU

	p, g   []T
	s1, s2 []T
	opt    Optimizer
	lr     float64
	b1, b2 float64
	eps    float64
	l2     float64
	// step counts optimizer steps; b1t, b2t are β1^step and β2^step.
	step     int64
	b1t, b2t float64
	ac       adamStep // this step's constants (a field: passing a local's address to a kernel would allocate)
	fused    bool     // learn uses the fused Adam kernel (tests turn it off)

	// act[k] is layer k's input: act[0] is the model's x0, act[k>0] the
	// outputs of hidden layer k−1. delta[k] is ∂L/∂(pre-activation) of
	// layer k's outputs (delta[last] has the one output).
	act, delta [][]T
	k          kernels[T]
}

func newMLP[T float](in int, c *Config, x0 []T) *mlp[T] {
	m := &mlp[T]{
		opt: c.Optimizer, lr: c.LearnRate, b1: c.Beta1, b2: c.Beta2, eps: c.Eps, l2: c.L2,
		b1t: 1, b2t: 1, fused: true,
		k: kernelsFor[T](),
	}
	if c.Activation == LeakyReLU {
		m.slope = LeakySlope
	}
	m.sizes = append(append([]int{in}, c.Hidden...), 1)
	n := 0
	for k := 0; k+1 < len(m.sizes); k++ {
		m.wOff = append(m.wOff, n)
		n += m.sizes[k] * m.sizes[k+1]
		m.bOff = append(m.bOff, n)
		n += m.sizes[k+1]
	}
	m.p = make([]T, n)
	m.g = make([]T, n)
	switch m.opt {
	case AdaGrad:
		m.s1 = make([]T, n)
	case Adam:
		m.s1, m.s2 = make([]T, n), make([]T, n)
	}
	m.act = make([][]T, len(m.sizes)-1)
	m.act[0] = x0
	for k := 1; k < len(m.act); k++ {
		m.act[k] = make([]T, m.sizes[k])
	}
	m.delta = make([][]T, len(m.sizes)-1)
	for k := range m.delta {
		m.delta[k] = make([]T, m.sizes[k+1])
	}

	// He (Kaiming) normal weights for the (leaky) ReLU layers, Glorot for
	// the linear output; positive hidden biases, zero output bias.
	r := rand.New(rand.NewPCG(c.Seed, 0x64656570)) // "deep"
	last := len(m.sizes) - 2
	for k := 0; k <= last; k++ {
		fanIn, fanOut := m.sizes[k], m.sizes[k+1]
		std := math.Sqrt(2 / float64(fanIn))
		if k == last {
			std = math.Sqrt(2 / float64(fanIn+fanOut))
		}
		for i := range m.weights(k) {
			m.p[m.wOff[k]+i] = T(r.NormFloat64() * std)
		}
		if k != last {
			for i := range m.biases(k) {
				m.p[m.bOff[k]+i] = HiddenBiasInit
			}
		}
	}
	return m
}

func (m *mlp[T]) layers() int { return len(m.sizes) - 1 }

func (m *mlp[T]) weights(k int) []T {
	return m.p[m.wOff[k] : m.wOff[k]+m.sizes[k]*m.sizes[k+1]]
}

func (m *mlp[T]) biases(k int) []T { return m.p[m.bOff[k] : m.bOff[k]+m.sizes[k+1]] }

// forward returns the deep logit of act[0], leaving every layer's input
// in act, and whether every activation is finite.
func (m *mlp[T]) forward() (T, bool) { return m.forwardFrom(0, 0) }

// forwardFrom is forward starting at layer k0, whose input act[k0] the
// caller has filled; check0 is the sum of the activations computed before.
func (m *mlp[T]) forwardFrom(k0 int, check0 T) (T, bool) {
	slope := m.slope
	var out T
	check := check0 // sum of every activation: non-finite if any is
	for k := k0; k < m.layers(); k++ {
		in := m.act[k]
		nIn, nOut := len(in), m.sizes[k+1]
		w := m.p[m.wOff[k] : m.wOff[k]+nIn*nOut]
		b := m.p[m.bOff[k] : m.bOff[k]+nOut]
		if k == m.layers()-1 {
			out = b[0] + m.k.dot(w[:nIn], in)
			break
		}
		next := m.act[k+1][:nOut]
		for o := range next {
			s := b[o] + m.k.dot(w[o*nIn:(o+1)*nIn], in)
			if s < 0 {
				s *= slope
			}
			next[o] = s
			check += s
		}
	}
	return out, check-check == 0
}

// backward backpropagates dz = ∂L/∂(deep logit) into delta, and adds
// ∂L/∂act[0][:len(dx0)] into dx0 (the caller clears it). It reports
// whether every delta is finite.
func (m *mlp[T]) backward(dz T, dx0 []T) bool {
	last := m.layers() - 1
	m.delta[last][0] = dz
	var check T
	for k := last; k >= 0; k-- {
		nIn, nOut := m.sizes[k], m.sizes[k+1]
		w := m.p[m.wOff[k] : m.wOff[k]+nIn*nOut]
		d := m.delta[k][:nOut]
		if k == 0 {
			if len(dx0) > 0 {
				for o, do := range d {
					if do != 0 {
						m.k.axpy(do, w[o*nIn:o*nIn+len(dx0)], dx0)
					}
				}
			}
			break
		}
		prev := m.delta[k-1][:nIn]
		clear(prev)
		for o, do := range d {
			if do != 0 {
				m.k.axpy(do, w[o*nIn:(o+1)*nIn], prev)
			}
		}
		h := m.act[k][:nIn]
		for i, a := range h {
			if a <= 0 {
				prev[i] *= m.slope
			}
			check += prev[i]
		}
	}
	return check-check == 0
}

// gradient sets (first) or adds to (!first) the gradient buffer g the
// gradient given by delta and act: ∂L/∂W_k[o][i] = delta[k][o]·act[k][i]
// and ∂L/∂b_k[o] = delta[k][o].
func (m *mlp[T]) gradient(first bool) {
	for k := 0; k < m.layers(); k++ {
		in := m.act[k]
		nIn, nOut := len(in), m.sizes[k+1]
		g := m.g[m.wOff[k] : m.wOff[k]+nIn*nOut]
		gb := m.g[m.bOff[k] : m.bOff[k]+nOut]
		for o, do := range m.delta[k][:nOut] {
			row := g[o*nIn : (o+1)*nIn]
			switch {
			case first:
				m.k.scale(row, do, in)
				gb[o] = do
			case do != 0:
				m.k.axpy(do, in, row)
				gb[o] += do
			}
		}
	}
}

// scaleGradient multiplies the gradient buffer by s.
func (m *mlp[T]) scaleGradient(s T) {
	m.k.scale(m.g, s, m.g)
}

// beginStep advances the step count and, for Adam, the bias-corrected
// constants of this step.
func (m *mlp[T]) beginStep() {
	m.step++
	if m.opt != Adam {
		return
	}
	m.b1t *= m.b1
	m.b2t *= m.b2
	if m.b1t < 0x1p-60 { // 1−β^t has rounded to 1: keep the power from going subnormal
		m.b1t = 0
	}
	if m.b2t < 0x1p-60 {
		m.b2t = 0
	}
	c2 := math.Sqrt(1 - m.b2t)
	m.ac = adamStep{
		b1: float32(m.b1), c1: float32(1 - m.b1), b2: float32(m.b2), c2: float32(1 - m.b2),
		lrT: float32(m.lr * c2 / (1 - m.b1t)), epsT: float32(m.eps * c2),
		tiny: tiny32,
	}
}

// update runs one optimizer step with the gradient buffer g, plus L2 on
// the weight matrices.
func (m *mlp[T]) update() {
	m.beginStep()
	for k := 0; k < m.layers(); k++ {
		for _, part := range m.parts(k) {
			lo, hi, l2 := part.lo, part.hi, m.l2
			if part.name == "bias" {
				l2 = 0
			}
			w, g := m.p[lo:hi], m.g[lo:hi]
			switch m.opt {
			case Adam:
				m.ac.l2 = float32(l2)
				m.k.adam(w, m.s1[lo:hi], m.s2[lo:hi], g, &m.ac)
			case AdaGrad:
				m.k.adagrad(w, m.s1[lo:hi], g, T(m.lr), T(m.eps), T(l2))
			case SGD:
				m.k.sgd(w, g, T(m.lr), T(l2))
			}
		}
	}
}

// learn takes one optimizer step on the gradient of one example given by
// delta and act. It equals gradient(true) followed by update — bit for
// bit, TestFusedAdamStep checks — but for Adam it computes each weight
// row's gradient delta[k][o]·act[k] inside the update kernel instead of
// writing it to the buffer and reading it back.
func (m *mlp[T]) learn() {
	if m.opt != Adam || !m.fused {
		m.gradient(true)
		m.update()
		return
	}
	m.beginStep()
	for k := 0; k < m.layers(); k++ {
		in := m.act[k]
		nIn, nOut := len(in), m.sizes[k+1]
		lo := m.wOff[k]
		d := m.delta[k][:nOut]
		m.ac.l2 = float32(m.l2)
		for o, do := range d {
			a, b := lo+o*nIn, lo+(o+1)*nIn
			m.k.adamRow(m.p[a:b], m.s1[a:b], m.s2[a:b], in, do, &m.ac)
		}
		a, b := m.bOff[k], m.bOff[k]+nOut
		m.ac.l2 = 0
		m.k.adam(m.p[a:b], m.s1[a:b], m.s2[a:b], d, &m.ac)
	}
}
