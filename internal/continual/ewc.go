package continual

import (
	"errors"
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/drift"
	"github.com/perpetua-ml/perpetua/internal/learn"
)

// Differentiable is a learner whose parameters EWC can read and write:
// Params returns the live parameter vector (writes to it change the
// model, and its length never changes), and Gradient writes the gradient
// of the example's loss with respect to Params into dst (len(dst) ==
// len(Params())). mlp.MLP and linear.Logistic implement it.
type Differentiable interface {
	learn.Binary
	Params() []float64
	Gradient(dst []float64, x []float32, y float64)
}

// FisherEstimate chooses how EWC estimates the diagonal Fisher
// information from per-example gradients.
type FisherEstimate uint8

const (
	// FisherEmpirical averages g⊙g, g the loss gradient for the observed
	// label (the "empirical Fisher").
	FisherEmpirical FisherEstimate = iota
	// FisherExpected averages p·g₁⊙g₁ + (1−p)·g₀⊙g₀, g_y the gradient for
	// label y and p the model's P(y=1): the expectation over labels drawn
	// from the model, which does not depend on the observed labels (two
	// gradients per sample). For a model without L2 this is the true
	// Fisher p(1−p)·∇z⊙∇z of the logit z.
	FisherExpected
)

// String returns the estimate's configuration name.
func (f FisherEstimate) String() string {
	switch f {
	case FisherEmpirical:
		return "empirical"
	case FisherExpected:
		return "expected"
	}
	return fmt.Sprintf("FisherEstimate(%d)", uint8(f))
}

// Defaults of EWCConfig.
const (
	DefaultEWCLambda    = 1000
	DefaultEWCLearnRate = 0.001
	DefaultEWCGamma     = 0.9
	DefaultEWCSamples   = 256
)

// EWCConfig configures an EWC. Zero values mean the defaults.
type EWCConfig struct {
	// Lambda is the penalty strength λ (default 1000).
	Lambda float64
	// LearnRate is the step size η of the penalty step (default 0.001).
	LearnRate float64
	// Gamma is the decay γ of the online Fisher, F ← γ·F + F_new
	// (default 0.9; must be in (0, 1]).
	Gamma float64
	// Every consolidates after every Every examples; 0 consolidates only
	// on drift (Detector) or when Consolidate is called.
	Every int
	// Samples is the number of most recent examples kept (copied) to
	// estimate the Fisher at a consolidation (default 256).
	Samples int
	// Fisher is the estimate used (default FisherEmpirical).
	Fisher FisherEstimate
	// Detector, if set, builds a detector fed the model's per-example
	// error; a drift consolidates.
	Detector func() drift.Detector
	// Signal is what the detector is fed (default SignalZeroOne).
	Signal Signal
	// OnAdapt, if set, is called with every Adaptation.
	OnAdapt func(Adaptation)
}

// Validate reports the first invalid field.
func (c *EWCConfig) Validate() error {
	const what = "EWC"
	switch {
	case c.Every < 0:
		return fmt.Errorf("continual: EWC: Every = %d; want ≥ 0", c.Every)
	case c.Samples < 0 || c.Samples > MaxReplayCapacity:
		return fmt.Errorf("continual: EWC: Samples = %d; want 0 (default) or 1..%d", c.Samples, MaxReplayCapacity)
	case c.Fisher > FisherExpected:
		return fmt.Errorf("continual: EWC: unknown %v", c.Fisher)
	case !c.Signal.valid():
		return fmt.Errorf("continual: EWC: unknown %v", c.Signal)
	}
	for _, err := range []error{
		checkFinite(what, "Lambda", c.Lambda, c.Lambda >= 0),
		checkFinite(what, "LearnRate", c.LearnRate, c.LearnRate >= 0),
		checkFinite(what, "Gamma", c.Gamma, c.Gamma >= 0 && c.Gamma <= 1),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c EWCConfig) withDefaults() EWCConfig {
	if c.Lambda == 0 {
		c.Lambda = DefaultEWCLambda
	}
	if c.LearnRate == 0 {
		c.LearnRate = DefaultEWCLearnRate
	}
	if c.Gamma == 0 {
		c.Gamma = DefaultEWCGamma
	}
	if c.Samples == 0 {
		c.Samples = DefaultEWCSamples
	}
	return c
}

// EWC is online elastic weight consolidation (Kirkpatrick et al. 2017;
// online form of Schwarz et al. 2018) around a Differentiable learner.
//
// At a consolidation point (every Every examples, on a drift of the
// optional detector, or when Consolidate is called) it estimates the
// diagonal Fisher information F_new from the squared per-example
// gradients of the last Samples examples at the current parameters,
// updates F ← γ·F + F_new (F = F_new the first time), and anchors
// θ* ← θ. After every base Learn it then takes one gradient step on the
// penalty λ/2·Σ F⊙(θ−θ*)², directly on the live parameter vector:
//
//	θ ← θ − η·λ·F⊙(θ−θ*)
//
// with the per-coordinate factor η·λ·F capped at 1, so a step never
// overshoots the anchor (plain gradient descent on a quadratic diverges
// beyond 2). Parameters the old concepts needed (large F) are held near
// their anchored values; the others stay free to learn the new concept.
//
// Learn and Predict allocate nothing; a consolidation costs Samples
// gradient evaluations (two each for FisherExpected) and no allocation
// except the Adaptation it records. The Fisher includes whatever the base
// learner's gradient includes (an L2 term, for instance).
type EWC struct {
	cfg  EWCConfig
	base Differentiable
	det  drift.Detector // nil when none

	fisher, anchor []float64
	fnew, grad     []float64
	consolidated   bool

	// The last Samples examples, a ring: slot i holds xs[i·dim:(i+1)·dim].
	dim        int
	xs         []float32
	ys         []float64
	head, kept int

	n   int64
	log adaptLog
}

var _ learn.Binary = (*EWC)(nil)

// NewEWC wraps base.
func NewEWC(base Differentiable, cfg EWCConfig) (*EWC, error) {
	if base == nil {
		return nil, errors.New("continual: EWC: nil base learner")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	n := len(base.Params())
	if n == 0 {
		return nil, fmt.Errorf("continual: EWC: %T has no parameters", base)
	}
	e := &EWC{cfg: cfg, base: base,
		fisher: make([]float64, n), anchor: make([]float64, n), fnew: make([]float64, n), grad: make([]float64, n),
		ys:  make([]float64, cfg.Samples),
		log: adaptLog{strategy: StrategyEWC, onAdapt: cfg.OnAdapt}}
	if cfg.Detector != nil {
		if e.det = cfg.Detector(); e.det == nil {
			return nil, errors.New("continual: EWC: Detector returned nil")
		}
	}
	return e, nil
}

// Predict returns the base learner's prediction.
func (e *EWC) Predict(x []float32) float64 { return e.base.Predict(x) }

// Learn learns x with the base learner, takes the penalty step, keeps a
// copy of x for the next Fisher estimate, and consolidates if it is time
// (or if the detector, fed the prediction made before learning, drifted).
func (e *EWC) Learn(x []float32, y float64) {
	drifted := false
	if e.det != nil {
		e.det.Update(e.cfg.Signal.value(e.base.Predict(x), y))
		if drifted = e.det.Drift(); drifted {
			e.det.Reset()
		}
	}
	e.base.Learn(x, y)
	if e.consolidated {
		e.step()
	}
	e.keep(x, y)
	e.n++
	if drifted || (e.cfg.Every > 0 && e.n%int64(e.cfg.Every) == 0) {
		why := "periodic"
		if drifted {
			why = fmt.Sprintf("drift on the %s signal", e.cfg.Signal)
		}
		e.consolidate(e.n-1, why)
	}
}

// step applies θ ← θ − η·λ·F⊙(θ−θ*) with the factor capped at 1.
func (e *EWC) step() {
	p := e.base.Params()
	f, a := e.fisher[:len(p)], e.anchor[:len(p)]
	c := e.cfg.LearnRate * e.cfg.Lambda
	for i, fi := range f {
		s := min(c*fi, 1)
		p[i] -= s * (p[i] - a[i])
	}
}

// keep copies (x, y) into the ring of recent examples.
func (e *EWC) keep(x []float32, y float64) {
	if e.dim == 0 {
		if len(x) == 0 {
			panic("continual: EWC: empty feature vector")
		}
		e.dim = len(x)
		e.xs = make([]float32, e.cfg.Samples*e.dim)
	} else if len(x) != e.dim {
		panic(fmt.Sprintf("continual: EWC: x has %d features; earlier examples had %d", len(x), e.dim))
	}
	copy(e.xs[e.head*e.dim:(e.head+1)*e.dim], x)
	e.ys[e.head] = y
	e.head = (e.head + 1) % e.cfg.Samples
	e.kept = min(e.kept+1, e.cfg.Samples)
}

// Consolidate estimates the Fisher from the kept examples, folds it into
// the online Fisher and anchors the current parameters, as at a
// consolidation point (for callers that know where a concept ends). It
// does nothing before the first example.
func (e *EWC) Consolidate() { e.consolidate(e.n-1, "requested") }

func (e *EWC) consolidate(index int64, why string) {
	if e.kept == 0 {
		return
	}
	fnew := e.fnew
	clear(fnew)
	g := e.grad
	for i := range e.kept {
		x := e.xs[i*e.dim : (i+1)*e.dim]
		y := e.ys[i]
		if e.cfg.Fisher == FisherExpected {
			p := e.base.Predict(x)
			e.base.Gradient(g, x, 1)
			for j, gj := range g {
				fnew[j] += p * gj * gj
			}
			e.base.Gradient(g, x, 0)
			for j, gj := range g {
				fnew[j] += (1 - p) * gj * gj
			}
		} else {
			e.base.Gradient(g, x, y)
			for j, gj := range g {
				fnew[j] += gj * gj
			}
		}
	}
	inv := 1 / float64(e.kept)
	before := vecMean(e.fisher)
	if !e.consolidated {
		for j, v := range fnew {
			e.fisher[j] = v * inv
		}
	} else {
		for j, v := range fnew {
			e.fisher[j] = e.cfg.Gamma*e.fisher[j] + v*inv
		}
	}
	copy(e.anchor, e.base.Params())
	e.consolidated = true
	after := vecMean(e.fisher)
	e.log.record(index, KindConsolidated, before, after, fmt.Sprintf("%s consolidation: %s Fisher from the last %d examples (mean %.3g, max %.3g), γ %g; anchor set to the current %d parameters",
		why, e.cfg.Fisher, e.kept, after, vecMax(e.fisher), e.cfg.Gamma, len(e.anchor)))
}

// Penalty returns λ/2·Σ F⊙(θ−θ*)² at the current parameters (0 before the
// first consolidation).
func (e *EWC) Penalty() float64 {
	p := e.base.Params()
	var s float64
	for i, fi := range e.fisher[:len(p)] {
		d := p[i] - e.anchor[i]
		s += fi * d * d
	}
	return 0.5 * e.cfg.Lambda * s
}

// PenaltyGradient writes λ·F⊙(θ−θ*), the gradient of Penalty, into dst
// (len(dst) == len(Params())).
func (e *EWC) PenaltyGradient(dst []float64) {
	p := e.base.Params()
	if len(dst) != len(p) {
		panic(fmt.Sprintf("continual: EWC.PenaltyGradient: dst has length %d; want %d", len(dst), len(p)))
	}
	for i, fi := range e.fisher[:len(p)] {
		dst[i] = e.cfg.Lambda * fi * (p[i] - e.anchor[i])
	}
}

// Fisher returns a copy of the current diagonal Fisher estimate.
func (e *EWC) Fisher() []float64 { return append([]float64(nil), e.fisher...) }

// Anchor returns a copy of the anchored parameters θ*.
func (e *EWC) Anchor() []float64 { return append([]float64(nil), e.anchor...) }

// Model returns the base learner.
func (e *EWC) Model() Differentiable { return e.base }

// Adaptations returns the kept adaptations, oldest first.
func (e *EWC) Adaptations() []Adaptation { return e.log.list() }

func vecMean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func vecMax(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
