// Package linear implements online logistic regression over dense float32
// features, trained one example at a time with SGD, AdaGrad or Adam.
//
// The model is P(y=1|x) = sigmoid(w·x + b). Learn takes one gradient step
// on the binary cross-entropy of the example plus (L2/2)·|w|² (the
// intercept b is not penalised). The log loss is computed from the logit
// (softplus), so it is finite and exact for any weights; Predict clamps its
// result to [MinProb, 1-MinProb] so a downstream log loss stays finite.
//
// Invariants: parameters, gradients and optimizer state are float64 in
// flat slices allocated once by New; Learn and Predict allocate nothing.
// A Logistic is deterministic: the same configuration and stream give
// bit-identical predictions. Snapshots (SaveTensors) hold the complete
// state, so save → load → continue equals an uninterrupted run.
//
// Concurrency follows the learn package: one goroutine mutates a Logistic;
// Clone gives an independent copy to publish.
package linear

import (
	"fmt"
	"math"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Optimizer names an update rule. Its values are stable configuration
// strings.
type Optimizer string

// The optimizers. The empty string means Adam.
const (
	Adam    Optimizer = "adam"
	AdaGrad Optimizer = "adagrad"
	SGD     Optimizer = "sgd"
)

// MinProb bounds predictions away from 0 and 1: Predict returns a value in
// [MinProb, 1-MinProb].
const MinProb = 1e-15

// Default hyperparameters, used for zero Config fields.
const (
	DefaultAdamLearnRate    = 0.03
	DefaultAdaGradLearnRate = 0.3
	DefaultSGDLearnRate     = 0.1
	DefaultBeta1            = 0.9
	DefaultBeta2            = 0.999
	DefaultEps              = 1e-8
)

// Config holds the hyperparameters. The zero value means the defaults:
// Adam with learning rate 0.03, β1 0.9, β2 0.999, ε 1e-8 and no L2, meant
// for drifting streams of features normalised to [0, 1] such as Elec2 (a
// constant step size keeps tracking drift; on a synthetic stream with
// abrupt drift, Adam 0.03-0.1 beat 0.01 and the decaying AdaGrad).
type Config struct {
	// Optimizer is "adam" (default), "adagrad" or "sgd".
	Optimizer Optimizer
	// LearnRate is the step size; 0 means the optimizer's default
	// (Adam 0.03, AdaGrad 0.3, SGD 0.1).
	LearnRate float64
	// L2 is the weight penalty λ in λ/2·|w|²; 0 disables it.
	L2 float64
	// Beta1 and Beta2 are Adam's moment decay rates; 0 means 0.9 and 0.999.
	Beta1, Beta2 float64
	// Eps is added to the denominator of Adam and AdaGrad; 0 means 1e-8.
	Eps float64
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	switch c.Optimizer {
	case "", Adam, AdaGrad, SGD:
	default:
		return fmt.Errorf("linear: Optimizer %q: want %q, %q or %q", c.Optimizer, Adam, AdaGrad, SGD)
	}
	check := func(name string, v float64, ok bool) error {
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("linear: %s = %v out of range", name, v)
		}
		return nil
	}
	for _, e := range []error{
		check("LearnRate", c.LearnRate, c.LearnRate >= 0),
		check("L2", c.L2, c.L2 >= 0),
		check("Beta1", c.Beta1, c.Beta1 >= 0 && c.Beta1 < 1),
		check("Beta2", c.Beta2, c.Beta2 >= 0 && c.Beta2 < 1),
		check("Eps", c.Eps, c.Eps >= 0),
	} {
		if e != nil {
			return e
		}
	}
	return nil
}

// WithDefaults returns c with every zero field replaced by its default.
func (c Config) WithDefaults() Config {
	if c.Optimizer == "" {
		c.Optimizer = Adam
	}
	if c.LearnRate == 0 {
		switch c.Optimizer {
		case Adam:
			c.LearnRate = DefaultAdamLearnRate
		case AdaGrad:
			c.LearnRate = DefaultAdaGradLearnRate
		default:
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

// Logistic is an online logistic regression model. Build it with New.
type Logistic struct {
	cfg Config // with defaults applied
	opt Optimizer
	dim int

	// p holds the weights p[:dim] and the intercept p[dim].
	p []float64
	// g is the gradient scratch buffer, laid out like p.
	g []float64
	// m and v are Adam's first and second moments; v alone is AdaGrad's
	// sum of squared gradients. Both are nil under SGD.
	m, v []float64
	// step counts optimizer steps; b1t and b2t are Beta1^step and
	// Beta2^step (Adam's bias corrections), kept as running products.
	step     int64
	b1t, b2t float64
}

var (
	_ learn.Binary            = (*Logistic)(nil)
	_ learn.Snapshotter       = (*Logistic)(nil)
	_ learn.Cloner[*Logistic] = (*Logistic)(nil)
)

// New returns a model over dim features with all parameters zero. It
// panics if dim < 1 or cfg is invalid (check it with Validate at load).
func New(dim int, cfg Config) *Logistic {
	if dim < 1 {
		panic(fmt.Sprintf("linear: New(%d): dimension must be at least 1", dim))
	}
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	cfg = cfg.WithDefaults()
	n := dim + 1
	l := &Logistic{cfg: cfg, opt: cfg.Optimizer, dim: dim, p: make([]float64, n), g: make([]float64, n), b1t: 1, b2t: 1}
	switch cfg.Optimizer {
	case Adam:
		l.m, l.v = make([]float64, n), make([]float64, n)
	case AdaGrad:
		l.v = make([]float64, n)
	}
	return l
}

// Dim returns the number of features.
func (l *Logistic) Dim() int { return l.dim }

// Config returns the configuration with defaults applied.
func (l *Logistic) Config() Config { return l.cfg }

// Steps returns the number of Learn calls so far.
func (l *Logistic) Steps() int64 { return l.step }

func (l *Logistic) checkLen(x []float32) {
	if len(x) != l.dim {
		panic(fmt.Sprintf("linear: x has %d features; the model has %d", len(x), l.dim))
	}
}

// logit returns w·x + b.
func (l *Logistic) logit(x []float32) float64 {
	l.checkLen(x)
	w := l.p[:len(x)]
	z := l.p[len(x)]
	for i, xi := range x {
		z += w[i] * float64(xi)
	}
	return z
}

// Predict returns P(y=1 | x), clamped to [MinProb, 1-MinProb].
func (l *Logistic) Predict(x []float32) float64 {
	return clampProb(sigmoid(l.logit(x)))
}

// Loss returns the regularised loss of one example: the binary
// cross-entropy -y·log p - (1-y)·log(1-p), computed stably from the logit,
// plus L2/2·|w|².
func (l *Logistic) Loss(x []float32, y float64) float64 {
	z := l.logit(x)
	loss := softplus(z) - y*z
	if l.cfg.L2 != 0 {
		var s float64
		for _, w := range l.p[:l.dim] {
			s += w * w
		}
		loss += 0.5 * l.cfg.L2 * s
	}
	return loss
}

// NumParams returns the number of parameters, dim+1.
func (l *Logistic) NumParams() int { return len(l.p) }

// Params returns the live parameter vector: the weights followed by the
// intercept. Writes to it change the model (gradient checks, EWC).
func (l *Logistic) Params() []float64 { return l.p }

// Gradient writes the gradient of Loss(x, y) with respect to Params into
// dst, which must have length NumParams. It is the gradient Learn uses.
func (l *Logistic) Gradient(dst []float64, x []float32, y float64) {
	if len(dst) != len(l.p) {
		panic(fmt.Sprintf("linear: Gradient dst has length %d; want %d", len(dst), len(l.p)))
	}
	l.gradient(dst, x, y)
}

func (l *Logistic) gradient(dst []float64, x []float32, y float64) {
	dz := sigmoid(l.logit(x)) - y
	w := l.p[:len(x)]
	g := dst[:len(x)]
	if l2 := l.cfg.L2; l2 != 0 {
		for i, xi := range x {
			g[i] = dz*float64(xi) + l2*w[i]
		}
	} else {
		for i, xi := range x {
			g[i] = dz * float64(xi)
		}
	}
	dst[len(x)] = dz
}

// Learn updates the model with one example (y in [0, 1]).
func (l *Logistic) Learn(x []float32, y float64) {
	l.gradient(l.g, x, y)
	l.step++
	lr := l.cfg.LearnRate
	p, g := l.p, l.g[:len(l.p)]
	switch l.opt {
	case Adam:
		b1, b2 := l.cfg.Beta1, l.cfg.Beta2
		l.b1t, l.b2t = decayPow(l.b1t*b1), decayPow(l.b2t*b2)
		// Bias correction folded into the step size and ε, which equals
		// the textbook m̂/(√v̂+ε) exactly.
		c2 := math.Sqrt(1 - l.b2t)
		lrt := lr * c2 / (1 - l.b1t)
		eps := l.cfg.Eps * c2
		m, v := l.m[:len(p)], l.v[:len(p)]
		for i, gi := range g {
			mi := flush(b1*m[i] + (1-b1)*gi)
			vi := flush(b2*v[i] + (1-b2)*gi*gi)
			m[i], v[i] = mi, vi
			p[i] -= lrt * mi / (math.Sqrt(vi) + eps)
		}
	case AdaGrad:
		eps := l.cfg.Eps
		v := l.v[:len(p)]
		for i, gi := range g {
			vi := v[i] + gi*gi
			v[i] = vi
			p[i] -= lr * gi / (math.Sqrt(vi) + eps)
		}
	default:
		for i, gi := range g {
			p[i] -= lr * gi
		}
	}
}

// Clone returns an independent deep copy.
func (l *Logistic) Clone() *Logistic {
	c := *l
	c.p = clone(l.p)
	c.g = make([]float64, len(l.g))
	c.m = clone(l.m)
	c.v = clone(l.v)
	return &c
}

func clone(s []float64) []float64 {
	if s == nil {
		return nil
	}
	return append([]float64(nil), s...)
}

// Snapshot tensor names, after the prefix. Part of the snapshot format.
const (
	nameWeight  = "weight"      // F64 [dim]
	nameBias    = "bias"        // F64 [1]
	nameStep    = "step"        // I64 []
	nameAdamM   = "adam.m"      // F64 [dim+1], weights then bias
	nameAdamV   = "adam.v"      // F64 [dim+1]
	nameAdamPow = "adam.pow"    // F64 [2]: Beta1^step, Beta2^step
	nameAdaGrad = "adagrad.sum" // F64 [dim+1]
)

// SaveTensors adds the complete state under prefix: weight [dim],
// bias [1], step (scalar I64), and the optimizer state (Adam: adam.m,
// adam.v [dim+1], adam.pow [2]; AdaGrad: adagrad.sum [dim+1]).
func (l *Logistic) SaveTensors(s *tensor.Set, prefix string) {
	s.PutF64(prefix+nameWeight, []int{l.dim}, l.p[:l.dim])
	s.PutF64(prefix+nameBias, []int{1}, l.p[l.dim:])
	s.PutI64(prefix+nameStep, nil, []int64{l.step})
	switch l.opt {
	case Adam:
		s.PutF64(prefix+nameAdamM, []int{len(l.p)}, l.m)
		s.PutF64(prefix+nameAdamV, []int{len(l.p)}, l.v)
		s.PutF64(prefix+nameAdamPow, []int{2}, []float64{l.b1t, l.b2t})
	case AdaGrad:
		s.PutF64(prefix+nameAdaGrad, []int{len(l.p)}, l.v)
	}
}

// LoadTensors restores the state saved by SaveTensors from a model with
// the same dimension and optimizer. On error (a missing or mis-shaped
// tensor, or an invalid optimizer state) l is unchanged.
func (l *Logistic) LoadTensors(s *tensor.Set, prefix string) error {
	n := len(l.p)
	w, err := s.F64(prefix+nameWeight, l.dim)
	if err != nil {
		return fmt.Errorf("linear: load: %w", err)
	}
	b, err := s.F64(prefix+nameBias, 1)
	if err != nil {
		return fmt.Errorf("linear: load: %w", err)
	}
	step, err := s.I64(prefix + nameStep)
	if err != nil {
		return fmt.Errorf("linear: load: %w", err)
	}
	if step[0] < 0 {
		return fmt.Errorf("linear: load: %s%s = %d is negative", prefix, nameStep, step[0])
	}
	var m, v, pow []float64
	switch l.opt {
	case Adam:
		if m, err = s.F64(prefix+nameAdamM, n); err != nil {
			return fmt.Errorf("linear: load: %w", err)
		}
		if v, err = s.F64(prefix+nameAdamV, n); err != nil {
			return fmt.Errorf("linear: load: %w", err)
		}
		if pow, err = s.F64(prefix+nameAdamPow, 2); err != nil {
			return fmt.Errorf("linear: load: %w", err)
		}
		if !(pow[0] >= 0 && pow[0] <= 1 && pow[1] >= 0 && pow[1] <= 1) {
			return fmt.Errorf("linear: load: %s%s = %v outside [0, 1]", prefix, nameAdamPow, pow)
		}
	case AdaGrad:
		if v, err = s.F64(prefix+nameAdaGrad, n); err != nil {
			return fmt.Errorf("linear: load: %w", err)
		}
	}
	for _, vi := range v {
		if !(vi >= 0) {
			return fmt.Errorf("linear: load: optimizer second moment %v is not a non-negative number", vi)
		}
	}
	// Everything is valid: commit.
	copy(l.p, w)
	l.p[l.dim] = b[0]
	l.step = step[0]
	copy(l.m, m)
	copy(l.v, v)
	if pow != nil {
		l.b1t, l.b2t = pow[0], pow[1]
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

func clampProb(p float64) float64 {
	return min(max(p, MinProb), 1-MinProb)
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

// LearnRate returns the current step size.
func (l *Logistic) LearnRate() float64 { return l.cfg.LearnRate }

// SetLearnRate sets the step size (used by adaptation strategies such as
// continual.LRRewarm). It panics on a rate that is not finite and positive.
func (l *Logistic) SetLearnRate(lr float64) {
	if !(lr > 0) || math.IsInf(lr, 0) {
		panic(fmt.Sprintf("linear: SetLearnRate(%v): want a finite positive rate", lr))
	}
	l.cfg.LearnRate = lr
}
