// Package mlp implements the document's model: a multilayer perceptron
// for online binary classification, trained one example at a time.
//
// Dense float32 inputs go through one or more fully connected hidden
// layers (Config.Hidden, default one layer of 20 units; leaky ReLU by
// default, or ReLU) to one output unit with a sigmoid. Alongside the
// hidden layers a linear path (the "wide" part of a wide & deep model)
// adds u·x to the output logit, so the network contains logistic
// regression:
//
//	z = b + v·h(x) + u·x,   P(y=1 | x) = sigmoid(z)
//
// Learn takes one optimizer step (Adam by default, or SGD) on the binary
// cross-entropy of the example plus (L2/2)·|W|² over the weight matrices
// and the linear path (biases are not penalised). The linear path has its
// own step size (Config.LinearLearnRate, by default the linear package's
// default), as in wide & deep training: with Adam every parameter moves
// by about the step size, so the many parameters of the hidden layers need
// a smaller one than a linear model, while a drifting stream needs the
// linear part to move fast. The loss and its gradient are computed from
// the output logit (softplus and sigmoid(z)-y), so they are exact and
// finite for any logit; only Predict clamps, to [MinProb, 1-MinProb], so a
// downstream log loss stays finite.
//
// Parameters are initialised from a PCG generator seeded with Config.Seed:
// hidden layers with He (Kaiming) normal weights, std √(2/fan_in), and
// biases HiddenBiasInit; the output layer with Glorot (Xavier) normal
// weights, std √(2/(fan_in+fan_out)), and bias zero; the linear path with
// zeros.
//
// Why leaky ReLU, the positive bias and the linear path: trained online
// on Elec2 (non-negative inputs, "day" in [1, 7]) a plain ReLU network
// loses most of its units. A unit with w·x + b < 0 on every input gets no
// gradient and never recovers. With zero biases a third or more of the
// units start that way; and with non-negative inputs Adam moves every
// incoming weight of a unit by about the step size in the same direction,
// so long runs of one label kill most of the rest: at Adam 0.01 the
// network decays to about the constant predictor. A leaky unit always gets
// a gradient, which Adam rescales to a full step, so it can recover; the
// linear path gives the network logistic regression's fit, at logistic
// regression's step size, whatever the hidden layers do.
//
// Invariants: parameters, gradients, optimizer moments and activations are
// float64 in flat slices allocated once by New; Learn and Predict allocate
// nothing. Learn is exactly Gradient (backpropagation into a buffer)
// followed by the optimizer step, so a gradient check of Gradient checks
// what Learn uses. Given the configuration and seed, the stream determines
// every prediction bit for bit, and a snapshot (SaveTensors) holds the
// complete state: save → load → continue equals an uninterrupted run.
//
// Concurrency follows the learn package: one goroutine mutates an MLP
// (Predict uses scratch buffers too); Clone gives an independent copy.
package mlp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Optimizer names an update rule. Its values are stable configuration
// strings.
type Optimizer string

// The optimizers. The empty string means Adam.
const (
	Adam Optimizer = "adam"
	SGD  Optimizer = "sgd"
)

// Activation names the hidden units' nonlinearity. Its values are stable
// configuration strings.
type Activation string

// The activations. The empty string means LeakyReLU.
const (
	// LeakyReLU is max(s, LeakySlope·s).
	LeakyReLU Activation = "leaky_relu"
	// ReLU is max(s, 0).
	ReLU Activation = "relu"
)

// LeakySlope is LeakyReLU's slope for negative inputs (Maas et al. 2013).
const LeakySlope = 0.01

// HiddenBiasInit is the initial bias of every hidden unit: a small
// positive value, so that more units start active on non-negative inputs.
const HiddenBiasInit = 0.1

// MinProb bounds predictions away from 0 and 1: Predict returns a value in
// [MinProb, 1-MinProb].
const MinProb = 1e-15

// Default hyperparameters, used for zero Config fields.
const (
	DefaultHidden        = 20
	DefaultAdamLearnRate = 0.001
	DefaultSGDLearnRate  = 0.01
	// The linear path's step sizes are those of linear.Logistic.
	DefaultAdamLinearLearnRate = 0.03
	DefaultSGDLinearLearnRate  = 0.1
	DefaultBeta1               = 0.9
	DefaultBeta2               = 0.999
	DefaultEps                 = 1e-8
)

// Config holds the architecture and hyperparameters. The zero value means
// the defaults: one hidden layer of 20 leaky ReLU units, a linear path,
// Adam with learning rate 0.001 (0.03 on the linear path), β1 0.9, β2
// 0.999, ε 1e-8, no L2 and seed 0.
type Config struct {
	// Hidden lists the widths of the hidden layers; nil or empty means
	// [20].
	Hidden []int
	// Activation is the hidden units' nonlinearity: "leaky_relu"
	// (default) or "relu".
	Activation Activation
	// NoLinear removes the linear path, leaving a plain MLP.
	NoLinear bool
	// Optimizer is "adam" (default) or "sgd".
	Optimizer Optimizer
	// LearnRate is the step size of the hidden and output layers (the
	// output bias included); 0 means 0.001 for Adam, 0.01 for SGD.
	LearnRate float64
	// LinearLearnRate is the step size of the linear path's weights; 0
	// means 0.03 for Adam, 0.1 for SGD (linear.Logistic's defaults).
	LinearLearnRate float64
	// Beta1 and Beta2 are Adam's moment decay rates; 0 means 0.9 and 0.999.
	Beta1, Beta2 float64
	// Eps is Adam's denominator term; 0 means 1e-8.
	Eps float64
	// L2 is the weight penalty λ in λ/2·|W|²; 0 disables it.
	L2 float64
	// Seed seeds the weight initialisation.
	Seed uint64
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("mlp: Hidden[%d] = %d; want at least 1", i, h)
		}
	}
	switch c.Activation {
	case "", LeakyReLU, ReLU:
	default:
		return fmt.Errorf("mlp: Activation %q: want %q or %q", c.Activation, LeakyReLU, ReLU)
	}
	switch c.Optimizer {
	case "", Adam, SGD:
	default:
		return fmt.Errorf("mlp: Optimizer %q: want %q or %q", c.Optimizer, Adam, SGD)
	}
	check := func(name string, v float64, ok bool) error {
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("mlp: %s = %v out of range", name, v)
		}
		return nil
	}
	for _, e := range []error{
		check("LearnRate", c.LearnRate, c.LearnRate >= 0),
		check("LinearLearnRate", c.LinearLearnRate, c.LinearLearnRate >= 0),
		check("Beta1", c.Beta1, c.Beta1 >= 0 && c.Beta1 < 1),
		check("Beta2", c.Beta2, c.Beta2 >= 0 && c.Beta2 < 1),
		check("Eps", c.Eps, c.Eps >= 0),
		check("L2", c.L2, c.L2 >= 0),
	} {
		if e != nil {
			return e
		}
	}
	return nil
}

// WithDefaults returns c with every zero field replaced by its default
// (and Hidden copied).
func (c Config) WithDefaults() Config {
	if len(c.Hidden) == 0 {
		c.Hidden = []int{DefaultHidden}
	} else {
		c.Hidden = slices.Clone(c.Hidden)
	}
	if c.Activation == "" {
		c.Activation = LeakyReLU
	}
	if c.Optimizer == "" {
		c.Optimizer = Adam
	}
	if c.LearnRate == 0 {
		c.LearnRate = DefaultAdamLearnRate
		if c.Optimizer == SGD {
			c.LearnRate = DefaultSGDLearnRate
		}
	}
	if c.LinearLearnRate == 0 {
		c.LinearLearnRate = DefaultAdamLinearLearnRate
		if c.Optimizer == SGD {
			c.LinearLearnRate = DefaultSGDLinearLearnRate
		}
	}
	if c.Beta1 == 0 {
		c.Beta1 = DefaultBeta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = DefaultBeta2
	}
	if c.Eps == 0 {
		c.Eps = DefaultEps
	}
	return c
}

// MLP is a multilayer perceptron for binary classification. Build it with
// New.
type MLP struct {
	cfg  Config // with defaults applied
	adam bool
	// slope is the activation's slope for negative inputs: 0 for ReLU.
	slope float64

	// sizes are the layer widths [in, hidden..., 1]; layer k maps
	// sizes[k] inputs to sizes[k+1] outputs.
	sizes []int
	// wOff[k] and bOff[k] locate layer k's weights (row-major
	// [sizes[k+1]][sizes[k]]) and biases in p.
	wOff, bOff []int
	// lin is the offset of the linear path's weights, p[lin:]; len(p)
	// without a linear path.
	lin int

	p []float64 // parameters
	g []float64 // gradient scratch, laid out like p
	// m and v are Adam's moments, laid out like p; nil under SGD.
	m, v []float64
	// step counts optimizer steps; b1t, b2t are Beta1^step and Beta2^step.
	step     int64
	b1t, b2t float64

	// act[k] is the input of layer k: act[0] the features as float64,
	// act[k>0] the activations of hidden layer k-1. delta[k] is the loss
	// gradient with respect to hidden layer k's pre-activations.
	act, delta [][]float64
}

var (
	_ learn.Binary       = (*MLP)(nil)
	_ learn.Snapshotter  = (*MLP)(nil)
	_ learn.Cloner[*MLP] = (*MLP)(nil)
)

// New returns a network with in inputs, initialised from cfg.Seed.
func New(in int, cfg Config) (*MLP, error) {
	if in < 1 {
		return nil, fmt.Errorf("mlp: %d inputs; want at least 1", in)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	m := &MLP{cfg: cfg, adam: cfg.Optimizer == Adam, b1t: 1, b2t: 1}
	if cfg.Activation == LeakyReLU {
		m.slope = LeakySlope
	}
	m.sizes = append(append([]int{in}, cfg.Hidden...), 1)
	n := 0
	for k := 0; k+1 < len(m.sizes); k++ {
		m.wOff = append(m.wOff, n)
		n += m.sizes[k] * m.sizes[k+1]
		m.bOff = append(m.bOff, n)
		n += m.sizes[k+1]
	}
	m.lin = n
	if !cfg.NoLinear {
		n += in
	}
	m.p = make([]float64, n)
	m.allocScratch()
	if m.adam {
		m.m, m.v = make([]float64, n), make([]float64, n)
	}

	r := rand.New(rand.NewPCG(cfg.Seed, 0x6d6c70)) // "mlp"
	last := len(m.sizes) - 2
	for k := 0; k <= last; k++ {
		fanIn, fanOut := m.sizes[k], m.sizes[k+1]
		std := math.Sqrt(2 / float64(fanIn)) // He, for (leaky) ReLU layers
		if k == last {
			std = math.Sqrt(2 / float64(fanIn+fanOut)) // Glorot, for the sigmoid output
		}
		for i := range m.layerW(k) {
			m.p[m.wOff[k]+i] = r.NormFloat64() * std
		}
		if k != last {
			b := m.layerB(k)
			for i := range b {
				b[i] = HiddenBiasInit
			}
		}
	}
	return m, nil
}

func (m *MLP) allocScratch() {
	m.g = make([]float64, len(m.p))
	m.act = make([][]float64, len(m.sizes)-1)
	m.delta = make([][]float64, len(m.sizes)-2)
	for k := range m.act {
		m.act[k] = make([]float64, m.sizes[k])
	}
	for k := range m.delta {
		m.delta[k] = make([]float64, m.sizes[k+1])
	}
}

// layerW and layerB return views of layer k's weights and biases in p.
func (m *MLP) layerW(k int) []float64 {
	return m.p[m.wOff[k] : m.wOff[k]+m.sizes[k]*m.sizes[k+1]]
}

func (m *MLP) layerB(k int) []float64 {
	return m.p[m.bOff[k] : m.bOff[k]+m.sizes[k+1]]
}

// Config returns the configuration with defaults applied.
func (m *MLP) Config() Config {
	c := m.cfg
	c.Hidden = slices.Clone(c.Hidden)
	return c
}

// Layers returns the layer widths: inputs, hidden layers, and 1.
func (m *MLP) Layers() []int { return slices.Clone(m.sizes) }

// linear returns the view of the linear path's weights in p (empty
// without a linear path).
func (m *MLP) linear() []float64 { return m.p[m.lin:] }

// Steps returns the number of Learn calls so far.
func (m *MLP) Steps() int64 { return m.step }

// NumParams returns the number of parameters.
func (m *MLP) NumParams() int { return len(m.p) }

// Params returns the live parameter vector: for each layer k in order, its
// weights (row-major [out][in]) then its biases, and last the linear
// path's weights [in] (unless Config.NoLinear). Writes to it change the
// model (gradient checks, EWC).
func (m *MLP) Params() []float64 { return m.p }

// forward computes the output logit for x, leaving every layer's input in
// m.act.
func (m *MLP) forward(x []float32) float64 {
	if len(x) != m.sizes[0] {
		panic(fmt.Sprintf("mlp: x has %d features; the network has %d inputs", len(x), m.sizes[0]))
	}
	a0 := m.act[0][:len(x)]
	for i, v := range x {
		a0[i] = float64(v)
	}
	out := len(m.act) - 1 // index of the output layer
	slope := m.slope
	for k := 0; k < out; k++ {
		in, next := m.act[k], m.act[k+1]
		nIn := len(in)
		w := m.p[m.wOff[k] : m.wOff[k]+nIn*len(next)]
		b := m.p[m.bOff[k] : m.bOff[k]+len(next)]
		// Four rows at a time: four independent sums hide the latency of
		// the additions and share the loads of in. Each sum still runs
		// over i in order.
		o := 0
		for ; o+4 <= len(next); o += 4 {
			r0 := w[o*nIn : o*nIn+nIn]
			r1 := w[(o+1)*nIn : (o+1)*nIn+nIn]
			r2 := w[(o+2)*nIn : (o+2)*nIn+nIn]
			r3 := w[(o+3)*nIn : (o+3)*nIn+nIn]
			r0, r1, r2, r3 = r0[:len(in)], r1[:len(in)], r2[:len(in)], r3[:len(in)]
			s0, s1, s2, s3 := b[o], b[o+1], b[o+2], b[o+3]
			for i, a := range in {
				s0 += r0[i] * a
				s1 += r1[i] * a
				s2 += r2[i] * a
				s3 += r3[i] * a
			}
			next[o], next[o+1], next[o+2], next[o+3] = act(s0, slope), act(s1, slope), act(s2, slope), act(s3, slope)
		}
		for ; o < len(next); o++ {
			row := w[o*nIn : o*nIn+nIn]
			row = row[:len(in)]
			s := b[o]
			for i, a := range in {
				s += row[i] * a
			}
			next[o] = act(s, slope)
		}
	}
	in := m.act[out]
	w := m.p[m.wOff[out] : m.wOff[out]+len(in)]
	w = w[:len(in)]
	// Four partial sums, combined in a fixed order.
	var z0, z1, z2, z3 float64
	i := 0
	for ; i+4 <= len(in); i += 4 {
		z0 += w[i] * in[i]
		z1 += w[i+1] * in[i+1]
		z2 += w[i+2] * in[i+2]
		z3 += w[i+3] * in[i+3]
	}
	for ; i < len(in); i++ {
		z0 += w[i] * in[i]
	}
	z := m.p[m.bOff[out]] + ((z0 + z1) + (z2 + z3))
	if u := m.linear(); len(u) > 0 {
		u = u[:len(a0)]
		var s float64
		for i, a := range a0 {
			s += u[i] * a
		}
		z += s
	}
	return z
}

// act returns the activation of pre-activation s: slope·s if s < 0 (0
// for ReLU), else s. Its output is positive exactly when s is, so backprop
// reads the derivative (1 or slope) off the output's sign.
func act(s, slope float64) float64 {
	if s < 0 {
		if slope == 0 {
			return 0
		}
		return slope * s
	}
	return s
}

// Predict returns P(y=1 | x), clamped to [MinProb, 1-MinProb].
func (m *MLP) Predict(x []float32) float64 {
	return min(max(sigmoid(m.forward(x)), MinProb), 1-MinProb)
}

// Loss returns the regularised loss of one example: the binary
// cross-entropy of the logit z, softplus(z) - y·z, plus L2/2·|W|² (the
// weight matrices and the linear path).
func (m *MLP) Loss(x []float32, y float64) float64 {
	z := m.forward(x)
	loss := softplus(z) - y*z
	if m.cfg.L2 != 0 {
		var s float64
		for k := range m.wOff {
			for _, w := range m.layerW(k) {
				s += w * w
			}
		}
		for _, u := range m.linear() {
			s += u * u
		}
		loss += 0.5 * m.cfg.L2 * s
	}
	return loss
}

// Gradient writes the gradient of Loss(x, y) with respect to Params into
// dst, which must have length NumParams. It is the backpropagation Learn
// uses.
func (m *MLP) Gradient(dst []float64, x []float32, y float64) {
	if len(dst) != len(m.p) {
		panic(fmt.Sprintf("mlp: Gradient dst has length %d; want %d", len(dst), len(m.p)))
	}
	m.backprop(dst, x, y)
}

// backprop writes the gradient of Loss(x, y) into dst (len(m.p)).
func (m *MLP) backprop(dst []float64, x []float32, y float64) {
	dz := sigmoid(m.forward(x)) - y
	l2 := m.cfg.L2
	out := len(m.act) - 1

	// Output layer: one unit.
	in := m.act[out]
	w := m.p[m.wOff[out] : m.wOff[out]+len(in)]
	w = w[:len(in)]
	gw := dst[m.wOff[out] : m.wOff[out]+len(in)]
	gw = gw[:len(in)]
	if l2 == 0 {
		for i, a := range in {
			gw[i] = dz * a
		}
	} else {
		for i, a := range in {
			gw[i] = dz*a + l2*w[i]
		}
	}
	dst[m.bOff[out]] = dz
	if u := m.linear(); len(u) > 0 {
		a0 := m.act[0]
		u = u[:len(a0)]
		gu := dst[m.lin : m.lin+len(a0)]
		if l2 == 0 {
			for i, a := range a0 {
				gu[i] = dz * a
			}
		} else {
			for i, a := range a0 {
				gu[i] = dz*a + l2*u[i]
			}
		}
	}
	slope := m.slope
	if out > 0 {
		d := m.delta[out-1][:len(in)]
		for i, a := range in {
			switch {
			case a > 0:
				d[i] = dz * w[i]
			case slope == 0:
				d[i] = 0
			default:
				d[i] = slope * dz * w[i]
			}
		}
	}

	// Hidden layers, last to first.
	for k := out - 1; k >= 0; k-- {
		in := m.act[k]
		d := m.delta[k]
		nIn := len(in)
		w := m.p[m.wOff[k] : m.wOff[k]+nIn*len(d)]
		gw := dst[m.wOff[k] : m.wOff[k]+nIn*len(d)]
		gb := dst[m.bOff[k] : m.bOff[k]+len(d)]
		gb = gb[:len(d)]
		for o, dk := range d {
			gb[o] = dk
			grow := gw[o*nIn : o*nIn+nIn]
			grow = grow[:len(in)]
			switch {
			case l2 != 0:
				row := w[o*nIn : o*nIn+nIn]
				row = row[:len(in)]
				for i, a := range in {
					grow[i] = dk*a + l2*row[i]
				}
			case dk == 0: // an inactive ReLU unit: no gradient
				clear(grow)
			default:
				for i, a := range in {
					grow[i] = dk * a
				}
			}
		}
		if k == 0 {
			break // no gradient needed for the inputs
		}
		prev := m.delta[k-1][:len(in)]
		clear(prev)
		for o, dk := range d {
			if dk == 0 {
				continue // an inactive ReLU passes nothing back
			}
			row := w[o*nIn : o*nIn+nIn]
			row = row[:len(in)]
			for i := range prev {
				prev[i] += row[i] * dk
			}
		}
		for i, a := range in {
			if a <= 0 {
				if slope == 0 {
					prev[i] = 0
				} else {
					prev[i] *= slope
				}
			}
		}
	}
}

// Learn updates the network with one example (y in [0, 1]).
func (m *MLP) Learn(x []float32, y float64) {
	m.backprop(m.g, x, y)
	m.step++
	// Two groups with their own step size: the layers p[:lin] and the
	// linear path p[lin:].
	lr, linLR := m.cfg.LearnRate, m.cfg.LinearLearnRate
	if !m.adam {
		sgd(m.p[:m.lin], m.g[:m.lin], lr)
		sgd(m.p[m.lin:], m.g[m.lin:], linLR)
		return
	}
	b1, b2 := m.cfg.Beta1, m.cfg.Beta2
	m.b1t, m.b2t = decayPow(m.b1t*b1), decayPow(m.b2t*b2)
	// Bias correction folded into the step size and ε, which equals the
	// textbook m̂/(√v̂+ε) exactly.
	c2 := math.Sqrt(1 - m.b2t)
	bc := c2 / (1 - m.b1t)
	eps := m.cfg.Eps * c2
	m.adamStep(0, m.lin, lr*bc, eps)
	m.adamStep(m.lin, len(m.p), linLR*bc, eps)
}

func sgd(p, g []float64, lr float64) {
	g = g[:len(p)]
	for i, gi := range g {
		p[i] -= lr * gi
	}
}

// adamStep updates parameters [lo, hi) with the bias-corrected step size
// lrt and ε eps.
func (m *MLP) adamStep(lo, hi int, lrt, eps float64) {
	b1, b2 := m.cfg.Beta1, m.cfg.Beta2
	c1, c2 := 1-b1, 1-b2
	p := m.p[lo:hi]
	g, mm, vv := m.g[lo:hi], m.m[lo:hi], m.v[lo:hi]
	g, mm, vv = g[:len(p)], mm[:len(p)], vv[:len(p)]
	for i, gi := range g {
		mi := flush(b1*mm[i] + c1*gi)
		vi := flush(b2*vv[i] + c2*gi*gi)
		mm[i], vv[i] = mi, vi
		p[i] -= lrt * mi / (math.Sqrt(vi) + eps)
	}
}

// Clone returns an independent deep copy.
func (m *MLP) Clone() *MLP {
	c := *m
	c.cfg.Hidden = slices.Clone(m.cfg.Hidden)
	c.sizes = slices.Clone(m.sizes)
	c.wOff = slices.Clone(m.wOff)
	c.bOff = slices.Clone(m.bOff)
	c.p = slices.Clone(m.p)
	c.m = slices.Clone(m.m)
	c.v = slices.Clone(m.v)
	c.allocScratch()
	return &c
}

// Snapshot tensor names, after the prefix. Part of the snapshot format.
const (
	nameLinear  = "linear.weight" // F64 [1, in], unless Config.NoLinear
	nameStep    = "step"          // I64 []
	nameAdamM   = "adam.m"        // F64 [NumParams], laid out like Params
	nameAdamV   = "adam.v"        // F64 [NumParams]
	nameAdamPow = "adam.pow"      // F64 [2]: Beta1^step, Beta2^step
)

func weightName(k int) string { return fmt.Sprintf("layer%d.weight", k) }
func biasName(k int) string   { return fmt.Sprintf("layer%d.bias", k) }

// SaveTensors adds the complete state under prefix: for each layer k,
// "layer{k}.weight" [out, in] and "layer{k}.bias" [out]; with a linear
// path "linear.weight" [1, in]; "step" (scalar I64); and for Adam
// "adam.m" and "adam.v" [NumParams] (laid out like Params) and "adam.pow"
// [2] (Beta1^step, Beta2^step).
func (m *MLP) SaveTensors(s *tensor.Set, prefix string) {
	for k := range m.wOff {
		s.PutF64(prefix+weightName(k), []int{m.sizes[k+1], m.sizes[k]}, m.layerW(k))
		s.PutF64(prefix+biasName(k), []int{m.sizes[k+1]}, m.layerB(k))
	}
	if u := m.linear(); len(u) > 0 {
		s.PutF64(prefix+nameLinear, []int{1, len(u)}, u)
	}
	s.PutI64(prefix+nameStep, nil, []int64{m.step})
	if m.adam {
		s.PutF64(prefix+nameAdamM, []int{len(m.p)}, m.m)
		s.PutF64(prefix+nameAdamV, []int{len(m.p)}, m.v)
		s.PutF64(prefix+nameAdamPow, []int{2}, []float64{m.b1t, m.b2t})
	}
}

// LoadTensors restores the state saved by SaveTensors from a network with
// the same layer widths, linear path (or none) and optimizer. On error (a
// missing or mis-shaped tensor, or an invalid optimizer state) m is
// unchanged.
func (m *MLP) LoadTensors(s *tensor.Set, prefix string) error {
	ws := make([][]float64, len(m.wOff))
	bs := make([][]float64, len(m.wOff))
	var err error
	for k := range m.wOff {
		if ws[k], err = s.F64(prefix+weightName(k), m.sizes[k+1], m.sizes[k]); err != nil {
			return fmt.Errorf("mlp: load: %w", err)
		}
		if bs[k], err = s.F64(prefix+biasName(k), m.sizes[k+1]); err != nil {
			return fmt.Errorf("mlp: load: %w", err)
		}
	}
	var lin []float64
	if n := len(m.linear()); n > 0 {
		if lin, err = s.F64(prefix+nameLinear, 1, n); err != nil {
			return fmt.Errorf("mlp: load: %w", err)
		}
	}
	step, err := s.I64(prefix + nameStep)
	if err != nil {
		return fmt.Errorf("mlp: load: %w", err)
	}
	if step[0] < 0 {
		return fmt.Errorf("mlp: load: %s%s = %d is negative", prefix, nameStep, step[0])
	}
	var mm, vv, pow []float64
	if m.adam {
		if mm, err = s.F64(prefix+nameAdamM, len(m.p)); err != nil {
			return fmt.Errorf("mlp: load: %w", err)
		}
		if vv, err = s.F64(prefix+nameAdamV, len(m.p)); err != nil {
			return fmt.Errorf("mlp: load: %w", err)
		}
		if pow, err = s.F64(prefix+nameAdamPow, 2); err != nil {
			return fmt.Errorf("mlp: load: %w", err)
		}
		if !(pow[0] >= 0 && pow[0] <= 1 && pow[1] >= 0 && pow[1] <= 1) {
			return fmt.Errorf("mlp: load: %s%s = %v outside [0, 1]", prefix, nameAdamPow, pow)
		}
		for _, v := range vv {
			if !(v >= 0) {
				return fmt.Errorf("mlp: load: %s%s holds %v; want non-negative numbers", prefix, nameAdamV, v)
			}
		}
	}
	// Everything is valid: commit.
	for k := range m.wOff {
		copy(m.layerW(k), ws[k])
		copy(m.layerB(k), bs[k])
	}
	copy(m.linear(), lin)
	m.step = step[0]
	if m.adam {
		copy(m.m, mm)
		copy(m.v, vv)
		m.b1t, m.b2t = pow[0], pow[1]
	}
	return nil
}

// sigmoid returns 1/(1+e^-z) without overflow.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softplus returns log(1+e^z) without overflow or loss of precision.
func softplus(z float64) float64 {
	return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
}

// flush returns 0 for subnormal v. Adam's moments of a parameter whose
// gradient stays zero (a dead ReLU unit, a feature that is always 0) decay
// geometrically into the subnormal range and get stuck there by rounding;
// subnormal arithmetic is about 100 times slower on x86, so they are
// flushed to zero. The effect on the parameters is below 1e-300.
func flush(v float64) float64 {
	if v < 0x1p-1022 && v > -0x1p-1022 {
		return 0
	}
	return v
}

// decayPow returns a running power β^t, or 0 once it is below 2^-60, where
// 1-β^t rounds to exactly 1, so the bias corrections are unchanged but the
// power never becomes subnormal (see flush).
func decayPow(v float64) float64 {
	if v < 0x1p-60 {
		return 0
	}
	return v
}

// LearnRate returns the current step size of the hidden and output layers.
func (m *MLP) LearnRate() float64 { return m.cfg.LearnRate }

// SetLearnRate sets the step size of the hidden and output layers and
// scales the linear path's step size by the same factor, so that
// adaptation strategies (continual.LRRewarm) can re-warm the whole model.
// It panics on a rate that is not finite and positive.
func (m *MLP) SetLearnRate(lr float64) {
	if !(lr > 0) || math.IsInf(lr, 0) {
		panic(fmt.Sprintf("mlp: SetLearnRate(%v): want a finite positive rate", lr))
	}
	m.cfg.LinearLearnRate *= lr / m.cfg.LearnRate
	m.cfg.LearnRate = lr
}
