// Package mlp implements the document's model: a multilayer perceptron
// for online binary classification, trained one example at a time.
//
// Dense float32 inputs go through one or more fully connected ReLU hidden
// layers (Config.Hidden, default one layer of 20 units) to one output
// unit with a sigmoid. Learn takes one optimizer step (Adam by default, or
// SGD) on the binary cross-entropy of the example plus (L2/2)·|W|² over
// the weight matrices (biases are not penalised). The loss and its
// gradient are computed from the output logit (softplus and sigmoid(z)-y),
// so they are exact and finite for any logit; only Predict clamps, to
// [MinProb, 1-MinProb], so a downstream log loss stays finite.
//
// Parameters are initialised from a PCG generator seeded with Config.Seed:
// hidden layers with He (Kaiming) normal weights, std √(2/fan_in), the
// output layer with Glorot (Xavier) normal weights, std
// √(2/(fan_in+fan_out)), and all biases zero.
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
	"os"
	"slices"
	"strings"

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

// MinProb bounds predictions away from 0 and 1: Predict returns a value in
// [MinProb, 1-MinProb].
const MinProb = 1e-15

// Default hyperparameters, used for zero Config fields.
const (
	DefaultHidden        = 20
	DefaultAdamLearnRate = 0.001
	DefaultSGDLearnRate  = 0.01
	DefaultBeta1         = 0.9
	DefaultBeta2         = 0.999
	DefaultEps           = 1e-8
)

// Config holds the architecture and hyperparameters. The zero value means
// the defaults: one hidden layer of 20 ReLU units, Adam with learning rate
// 0.001, β1 0.9, β2 0.999, ε 1e-8, no L2 and seed 0.
type Config struct {
	// Hidden lists the widths of the hidden layers; nil or empty means
	// [20].
	Hidden []int
	// Optimizer is "adam" (default) or "sgd".
	Optimizer Optimizer
	// LearnRate is the step size; 0 means 0.001 for Adam, 0.01 for SGD.
	LearnRate float64
	// Beta1 and Beta2 are Adam's moment decay rates; 0 means 0.9 and 0.999.
	Beta1, Beta2 float64
	// Eps is Adam's denominator term; 0 means 1e-8.
	Eps float64
	// L2 is the weight penalty λ in λ/2·|W|²; 0 disables it.
	L2 float64
	// Seed seeds the weight initialisation.
	Seed uint64
	// Activation (experiment).
	Activation Activation
	// NoLinear (experiment).
	NoLinear bool
	// BiasInit (experiment).
	BiasInit float64
	// ClipNorm (experiment).
	ClipNorm float64
	// LinearRate (experiment).
	LinearRate float64
	WideBias bool
}

type Activation string

const (
	ReLU      Activation = "relu"
	LeakyReLU Activation = "leaky_relu"
)

var LeakySlope = 0.01

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	for i, h := range c.Hidden {
		if h < 1 {
			return fmt.Errorf("mlp: Hidden[%d] = %d; want at least 1", i, h)
		}
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
	if c.Optimizer == "" {
		c.Optimizer = Adam
	}
	if c.LearnRate == 0 {
		c.LearnRate = DefaultAdamLearnRate
		if c.Optimizer == SGD {
			c.LearnRate = DefaultSGDLearnRate
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
	// alpha is the activation's slope for negative inputs: 0 for ReLU.
	alpha float64
	// skip is the offset in p of the linear path's weights, -1 if none.
	skip int

	// sizes are the layer widths [in, hidden..., 1]; layer k maps
	// sizes[k] inputs to sizes[k+1] outputs.
	sizes []int
	// wOff[k] and bOff[k] locate layer k's weights (row-major
	// [sizes[k+1]][sizes[k]]) and biases in p.
	wOff, bOff []int

	p []float64 // parameters
	g []float64 // gradient scratch, laid out like p
	// m and v are Adam's moments, laid out like p; nil under SGD.
	m, v []float64
	// step counts optimizer steps; b1t, b2t are Beta1^step and Beta2^step.
	step     int64
	b1t, b2t float64

	// act[k] is the input of layer k: act[0] the features as float64,
	// act[k>0] the ReLU output of hidden layer k-1. delta[k] is the loss
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
	cfg = envHack(cfg)
	m := &MLP{cfg: cfg, adam: cfg.Optimizer == Adam, b1t: 1, b2t: 1, skip: -1}
	if cfg.Activation == LeakyReLU {
		m.alpha = LeakySlope
	}
	m.sizes = append(append([]int{in}, cfg.Hidden...), 1)
	n := 0
	for k := 0; k+1 < len(m.sizes); k++ {
		m.wOff = append(m.wOff, n)
		n += m.sizes[k] * m.sizes[k+1]
		m.bOff = append(m.bOff, n)
		n += m.sizes[k+1]
	}
	if !cfg.NoLinear {
		m.skip = n
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
		std := math.Sqrt(2 / float64(fanIn)) // He, for ReLU layers
		if k == last {
			std = math.Sqrt(2 / float64(fanIn+fanOut)) // Glorot, for the sigmoid output
		}
		for i := range m.layerW(k) {
			m.p[m.wOff[k]+i] = r.NormFloat64() * std
		}
		if k != last {
			for i := range m.layerB(k) {
				m.p[m.bOff[k]+i] = cfg.BiasInit
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

// Steps returns the number of Learn calls so far.
func (m *MLP) Steps() int64 { return m.step }

// NumParams returns the number of parameters.
func (m *MLP) NumParams() int { return len(m.p) }

// Params returns the live parameter vector: for each layer k in order, its
// weights (row-major [out][in]) then its biases. Writes to it change the
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
			next[o], next[o+1], next[o+2], next[o+3] = m.act1(s0), m.act1(s1), m.act1(s2), m.act1(s3)
		}
		for ; o < len(next); o++ {
			row := w[o*nIn : o*nIn+nIn]
			row = row[:len(in)]
			s := b[o]
			for i, a := range in {
				s += row[i] * a
			}
			next[o] = m.act1(s)
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
	if m.skip >= 0 {
		a0 := m.act[0]
		u := m.p[m.skip : m.skip+len(a0)]
		var s float64
		for i, a := range a0 {
			s += u[i] * a
		}
		z += s
	}
	return z
}

func (m *MLP) act1(s float64) float64 {
	if s < 0 {
		return m.alpha * s
	}
	return s
}

// Predict returns P(y=1 | x), clamped to [MinProb, 1-MinProb].
func (m *MLP) Predict(x []float32) float64 {
	return min(max(sigmoid(m.forward(x)), MinProb), 1-MinProb)
}

// Loss returns the regularised loss of one example: the binary
// cross-entropy of the logit z, softplus(z) - y·z, plus L2/2·|W|².
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
		if m.skip >= 0 {
			for _, w := range m.p[m.skip:] {
				s += w * w
			}
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
	if m.skip >= 0 {
		a0 := m.act[0]
		u := m.p[m.skip : m.skip+len(a0)]
		gu := dst[m.skip : m.skip+len(a0)]
		for i, a := range a0 {
			gu[i] = dz*a + l2*u[i]
		}
	}
	if out > 0 {
		d := m.delta[out-1][:len(in)]
		for i, a := range in {
			if a > 0 {
				d[i] = dz * w[i]
			} else {
				d[i] = m.alpha * dz * w[i]
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
			case dk == 0: // an inactive unit: no gradient
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
				prev[i] *= m.alpha
			}
		}
	}
}

// Learn updates the network with one example (y in [0, 1]).
func (m *MLP) Learn(x []float32, y float64) {
	m.backprop(m.g, x, y)
	m.step++
	lr := m.cfg.LearnRate
	p := m.p
	g := m.g[:len(p)]
	if c := m.cfg.ClipNorm; c > 0 {
		var s float64
		for _, gi := range g {
			s += gi * gi
		}
		if s > c*c {
			f := c / math.Sqrt(s)
			for i := range g {
				g[i] *= f
			}
		}
	}
	if !m.adam {
		for i, gi := range g {
			p[i] -= lr * gi
		}
		return
	}
	b1, b2 := m.cfg.Beta1, m.cfg.Beta2
	m.b1t, m.b2t = decayPow(m.b1t*b1), decayPow(m.b2t*b2)
	// Bias correction folded into the step size and ε, which equals the
	// textbook m̂/(√v̂+ε) exactly.
	c2 := math.Sqrt(1 - m.b2t)
	lrt := lr * c2 / (1 - m.b1t)
	eps := m.cfg.Eps * c2
	c1, cc2 := 1-b1, 1-b2
	mm, vv := m.m[:len(p)], m.v[:len(p)]
	for i, gi := range g {
		mi := flush(b1*mm[i] + c1*gi)
		vi := flush(b2*vv[i] + cc2*gi*gi)
		mm[i], vv[i] = mi, vi
		if m.skip >= 0 && (i >= m.skip || m.cfg.WideBias && i == m.skip-1) && m.cfg.LinearRate > 0 {
			p[i] -= m.cfg.LinearRate / lr * lrt * mi / (math.Sqrt(vi) + eps)
			continue
		}
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
	nameStep    = "step"     // I64 []
	nameAdamM   = "adam.m"   // F64 [NumParams], laid out like Params
	nameAdamV   = "adam.v"   // F64 [NumParams]
	nameAdamPow = "adam.pow" // F64 [2]: Beta1^step, Beta2^step
)

func weightName(k int) string { return fmt.Sprintf("layer%d.weight", k) }
func biasName(k int) string   { return fmt.Sprintf("layer%d.bias", k) }

// SaveTensors adds the complete state under prefix: for each layer k,
// "layer{k}.weight" [out, in] and "layer{k}.bias" [out]; "step" (scalar
// I64); and for Adam "adam.m" and "adam.v" [NumParams] (laid out like
// Params) and "adam.pow" [2] (Beta1^step, Beta2^step).
func (m *MLP) SaveTensors(s *tensor.Set, prefix string) {
	for k := range m.wOff {
		s.PutF64(prefix+weightName(k), []int{m.sizes[k+1], m.sizes[k]}, m.layerW(k))
		s.PutF64(prefix+biasName(k), []int{m.sizes[k+1]}, m.layerB(k))
	}
	s.PutI64(prefix+nameStep, nil, []int64{m.step})
	if m.adam {
		s.PutF64(prefix+nameAdamM, []int{len(m.p)}, m.m)
		s.PutF64(prefix+nameAdamV, []int{len(m.p)}, m.v)
		s.PutF64(prefix+nameAdamPow, []int{2}, []float64{m.b1t, m.b2t})
	}
}

// LoadTensors restores the state saved by SaveTensors from a network with
// the same layer widths and optimizer. On error (a missing or mis-shaped
// tensor, or an invalid optimizer state) m is unchanged.
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

func envHack(cfg Config) Config {
	spec := os.Getenv("MLPX")
	if spec == "" {
		return cfg
	}
	for _, kv := range strings.Fields(spec) {
		k, v, _ := strings.Cut(kv, "=")
		var f float64
		fmt.Sscan(v, &f)
		switch k {
		case "lr":
			cfg.LearnRate = f
		case "leaky":
			cfg.Activation = LeakyReLU
		case "nolin":
			cfg.NoLinear = true
		case "bias":
			cfg.BiasInit = f
		case "lin":
			cfg.LinearRate = f
		case "wb":
			cfg.WideBias = true
		}
	}
	return cfg
}
