package policy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Policy is a contextual bandit over a fixed set of arms.
//
// Contract: x has length Dim() (a different length panics); arms are in
// [0, Arms()). Calls must not overlap (one goroutine owns a policy) and
// slices are never retained. No method blocks or allocates.
type Policy interface {
	// Name returns the policy's registry name (e.g. "linucb").
	Name() string
	// Arms returns the number of arms K.
	Arms() int
	// Dim returns the context length d.
	Dim() int
	// Choose picks one arm for x and returns it with its propensity.
	Choose(x []float32) (arm int, propensity float64)
	// Slate fills dst with len(dst) distinct arms in slot order and props
	// with their per-slot propensities (see the package doc). len(props)
	// must equal len(dst), which must be in [1, K].
	Slate(x []float32, dst []int, props []float64)
	// SlotProbs writes into dst[p*K+a] the probability that arm a is shown
	// in slot p, for p < slots (len(dst) = slots·K, slots ≤ K). Each
	// slot's row sums to 1.
	SlotProbs(x []float32, slots int, dst []float64)
	// Update learns from the reward observed for arm shown in context x.
	Update(x []float32, arm int, reward float64)
}

// Config holds the hyperparameters shared by the bandits. The zero value
// means the defaults.
type Config struct {
	// Seed seeds the policy's random generator.
	Seed uint64
	// Epsilon is ε-greedy's exploration rate (default 0.1).
	Epsilon float64
	// Alpha is LinUCB's width multiplier (default 1).
	Alpha float64
	// Scale is linear Thompson sampling's posterior scale v (default 0.5).
	Scale float64
	// Lambda is the ridge prior precision of the linear models (default 1).
	Lambda float64
	// Forget is the discount γ ∈ (0, 1] applied to past evidence on every
	// update of an arm (ridge models and Beta counts), so that the policy
	// tracks drifting rewards; 1 (the default) forgets nothing.
	Forget float64
	// LearnRate is the softmax policy-gradient step size (default 0.1).
	LearnRate float64
	// Temperature divides the softmax logits (default 1).
	Temperature float64
	// PriorAlpha and PriorBeta are the Beta prior of Bernoulli Thompson
	// sampling (default 1 and 1).
	PriorAlpha, PriorBeta float64
	// Draws is the number of Monte Carlo draws used for propensities that
	// have no closed form (default 100).
	Draws int
}

// Default hyperparameters, used for zero Config fields.
const (
	DefaultEpsilon     = 0.1
	DefaultAlpha       = 1.0
	DefaultScale       = 0.5
	DefaultLambda      = 1.0
	DefaultLearnRate   = 0.1
	DefaultTemperature = 1.0
	DefaultDraws       = 100
)

// WithDefaults returns c with every zero field replaced by its default.
func (c Config) WithDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Epsilon, DefaultEpsilon)
	def(&c.Alpha, DefaultAlpha)
	def(&c.Scale, DefaultScale)
	def(&c.Lambda, DefaultLambda)
	def(&c.Forget, 1)
	def(&c.LearnRate, DefaultLearnRate)
	def(&c.Temperature, DefaultTemperature)
	def(&c.PriorAlpha, 1)
	def(&c.PriorBeta, 1)
	if c.Draws == 0 {
		c.Draws = DefaultDraws
	}
	return c
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	c = c.WithDefaults()
	bad := func(name string, v float64) error {
		return fmt.Errorf("policy: config %s = %v is invalid", name, v)
	}
	switch {
	case !(c.Epsilon >= 0 && c.Epsilon <= 1):
		return bad("epsilon (want [0, 1])", c.Epsilon)
	case !(c.Alpha >= 0) || math.IsInf(c.Alpha, 0):
		return bad("alpha (want finite ≥ 0)", c.Alpha)
	case !(c.Scale >= 0) || math.IsInf(c.Scale, 0):
		return bad("scale (want finite ≥ 0)", c.Scale)
	case !(c.Lambda > 0) || math.IsInf(c.Lambda, 0):
		return bad("lambda (want finite > 0)", c.Lambda)
	case !(c.Forget > 0 && c.Forget <= 1):
		return bad("forget (want (0, 1])", c.Forget)
	case !(c.LearnRate > 0) || math.IsInf(c.LearnRate, 0):
		return bad("learn_rate (want finite > 0)", c.LearnRate)
	case !(c.Temperature > 0) || math.IsInf(c.Temperature, 0):
		return bad("temperature (want finite > 0)", c.Temperature)
	case !(c.PriorAlpha > 0) || !(c.PriorBeta > 0):
		return bad("prior_alpha/prior_beta (want > 0)", math.Min(c.PriorAlpha, c.PriorBeta))
	case c.Draws < 1:
		return bad("draws (want ≥ 1)", float64(c.Draws))
	}
	return nil
}

// Names lists the policies New knows, in a stable order.
var Names = []string{"uniform", "greedy", "egreedy", "softmax", "linucb", "lints", "bts"}

// ErrUnknownPolicy is returned by New for a name not in Names.
var ErrUnknownPolicy = errors.New("policy: unknown policy")

// New returns the policy registered under name over arms arms and contexts
// of length dim.
func New(name string, arms, dim int, cfg Config) (Policy, error) {
	if arms < 1 || dim < 1 {
		return nil, fmt.Errorf("policy: %s needs arms ≥ 1 and dim ≥ 1, got %d and %d", name, arms, dim)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	switch name {
	case "uniform":
		return NewUniform(arms, dim, cfg), nil
	case "greedy":
		return NewGreedy(arms, dim, cfg), nil
	case "egreedy":
		return NewEpsilonGreedy(arms, dim, cfg), nil
	case "softmax":
		return NewSoftmax(arms, dim, cfg), nil
	case "linucb":
		return NewLinUCB(arms, dim, cfg), nil
	case "lints":
		return NewLinTS(arms, dim, cfg), nil
	case "bts":
		return NewBernoulliTS(arms, dim, cfg), nil
	}
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownPolicy, name, Names)
}

// strategy is what each bandit adds to the shared machinery in base.
type strategy interface {
	// prepare computes per-arm statistics for x (into base.stat*).
	prepare(x []float32)
	// draw writes one randomized score vector from the prepared stats.
	draw(dst []float64)
	// exact writes exact per-slot propensities of slate into props and
	// reports whether it could.
	exact(slate []int, props []float64) bool
	// exactProbs writes exact slot probabilities (dst[p*K+a]) if it can.
	exactProbs(slots int, dst []float64) bool
}

// base holds the scratch memory and the generic slate machinery.
type base struct {
	name   string
	k, d   int
	cfg    Config
	rng    *rand.Rand
	s      strategy
	stat   []float64 // per-arm prepared statistic (mean, logit, α…)
	stat2  []float64 // second per-arm statistic (width, β…)
	scores []float64
	mark   []bool
	top    []int
	one    [1]int
	oneP   [1]float64
}

func newBase(name string, k, d int, cfg Config) base {
	cfg = cfg.WithDefaults()
	return base{
		name: name, k: k, d: d, cfg: cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		stat:   make([]float64, k),
		stat2:  make([]float64, k),
		scores: make([]float64, k),
		mark:   make([]bool, k),
		top:    make([]int, k),
	}
}

func (b *base) Name() string { return b.name }
func (b *base) Arms() int    { return b.k }
func (b *base) Dim() int     { return b.d }

func (b *base) checkX(x []float32) {
	if len(x) != b.d {
		panic(fmt.Sprintf("policy: %s: context has length %d, want %d", b.name, len(x), b.d))
	}
}

func (b *base) checkArm(arm int) {
	if arm < 0 || arm >= b.k {
		panic(fmt.Sprintf("policy: %s: arm %d out of [0, %d)", b.name, arm, b.k))
	}
}

// topK writes the indices of the len(dst) largest scores into dst, in
// decreasing order (ties to the lower index; callers randomise ties in the
// scores).
func (b *base) topK(scores []float64, dst []int) {
	for i := range dst {
		best := -1
		for a, v := range scores {
			if b.mark[a] {
				continue
			}
			if best < 0 || v > scores[best] {
				best = a
			}
		}
		dst[i] = best
		b.mark[best] = true
	}
	for _, a := range dst {
		b.mark[a] = false
	}
}

func (b *base) Choose(x []float32) (int, float64) {
	b.Slate(x, b.one[:], b.oneP[:])
	return b.one[0], b.oneP[0]
}

func (b *base) Slate(x []float32, dst []int, props []float64) {
	b.checkX(x)
	k := len(dst)
	if k < 1 || k > b.k || len(props) != k {
		panic(fmt.Sprintf("policy: %s: slate of %d slots (%d propensities) over %d arms", b.name, k, len(props), b.k))
	}
	b.s.prepare(x)
	b.s.draw(b.scores)
	b.topK(b.scores, dst)
	if b.s.exact(dst, props) {
		return
	}
	// Monte Carlo: the decision itself counts as one draw.
	for p := range props {
		props[p] = 1
	}
	top := b.top[:k]
	for m := 0; m < b.cfg.Draws; m++ {
		b.s.draw(b.scores)
		b.topK(b.scores, top)
		for p := range top {
			if top[p] == dst[p] {
				props[p]++
			}
		}
	}
	for p := range props {
		props[p] /= float64(b.cfg.Draws + 1)
	}
}

func (b *base) SlotProbs(x []float32, slots int, dst []float64) {
	b.checkX(x)
	if slots < 1 || slots > b.k || len(dst) != slots*b.k {
		panic(fmt.Sprintf("policy: %s: SlotProbs with %d slots and len(dst) %d over %d arms", b.name, slots, len(dst), b.k))
	}
	b.s.prepare(x)
	if b.s.exactProbs(slots, dst) {
		return
	}
	clear(dst)
	top := b.top[:slots]
	for m := 0; m < b.cfg.Draws; m++ {
		b.s.draw(b.scores)
		b.topK(b.scores, top)
		for p, a := range top {
			dst[p*b.k+a]++
		}
	}
	inv := 1 / float64(b.cfg.Draws)
	for i := range dst {
		dst[i] *= inv
	}
}

// jitter adds a random tie-break far below any meaningful difference.
func (b *base) jitter(src, dst []float64) {
	for a, v := range src {
		dst[a] = v + 1e-12*b.rng.Float64()*(1+math.Abs(v))
	}
}

// ranked reports whether the top slots+1 values of stat are free of ties
// and writes the deterministic ranking of the top slots into b.top.
func (b *base) ranked(slots int) bool {
	n := slots
	if n < b.k {
		n++
	}
	top := b.top[:n]
	b.topK(b.stat, top)
	for i := 1; i < n; i++ {
		if b.stat[top[i]] == b.stat[top[i-1]] {
			return false
		}
	}
	return true
}

// exactMixture writes (1-eps)·[greedy] + eps/K propensities when the greedy
// ranking of stat has no ties.
func (b *base) exactMixture(eps float64, slate []int, props []float64) bool {
	if !b.ranked(len(slate)) {
		return false
	}
	u := eps / float64(b.k)
	for p, a := range slate {
		props[p] = u
		if b.top[p] == a {
			props[p] += 1 - eps
		}
	}
	return true
}

func (b *base) exactMixtureProbs(eps float64, slots int, dst []float64) bool {
	if !b.ranked(slots) {
		return false
	}
	u := eps / float64(b.k)
	for i := range dst {
		dst[i] = u
	}
	for p := 0; p < slots; p++ {
		dst[p*b.k+b.top[p]] += 1 - eps
	}
	return true
}

func dot(w []float64, x []float32) float64 {
	var s float64
	for i, v := range x {
		s += w[i] * float64(v)
	}
	return s
}

// Uniform shows a uniformly random ranking; it learns nothing.
type Uniform struct{ base }

// NewUniform returns the uniform-random policy.
func NewUniform(arms, dim int, cfg Config) *Uniform {
	p := &Uniform{base: newBase("uniform", arms, dim, cfg)}
	p.s = p
	return p
}

func (p *Uniform) prepare([]float32) {}
func (p *Uniform) draw(dst []float64) {
	for a := range dst {
		dst[a] = p.rng.Float64()
	}
}
func (p *Uniform) exact(_ []int, props []float64) bool {
	for i := range props {
		props[i] = 1 / float64(p.k)
	}
	return true
}
func (p *Uniform) exactProbs(_ int, dst []float64) bool {
	for i := range dst {
		dst[i] = 1 / float64(p.k)
	}
	return true
}

// Update does nothing: the uniform policy does not learn.
func (p *Uniform) Update(x []float32, arm int, _ float64) { p.checkX(x); p.checkArm(arm) }

// EpsilonGreedy shows the arms with the highest ridge-regression reward
// estimates, except with probability ε, when it shows a uniformly random
// ranking. With ε = 0 it is the greedy baseline (NewGreedy).
type EpsilonGreedy struct {
	base
	r   ridge
	eps float64
}

// NewEpsilonGreedy returns an ε-greedy policy (ε = cfg.Epsilon).
func NewEpsilonGreedy(arms, dim int, cfg Config) *EpsilonGreedy {
	cfg = cfg.WithDefaults()
	p := &EpsilonGreedy{base: newBase("egreedy", arms, dim, cfg), r: newRidge(arms, dim, cfg), eps: cfg.Epsilon}
	p.s = p
	return p
}

// NewGreedy returns the greedy baseline: ε-greedy with ε = 0 (ties broken
// at random).
func NewGreedy(arms, dim int, cfg Config) *EpsilonGreedy {
	p := NewEpsilonGreedy(arms, dim, cfg)
	p.name, p.eps = "greedy", 0
	return p
}

func (p *EpsilonGreedy) prepare(x []float32) {
	for a := range p.stat {
		p.stat[a] = p.r.mean(a, x)
	}
}

func (p *EpsilonGreedy) draw(dst []float64) {
	if p.eps > 0 && p.rng.Float64() < p.eps {
		for a := range dst {
			dst[a] = p.rng.Float64()
		}
		return
	}
	p.jitter(p.stat, dst)
}

func (p *EpsilonGreedy) exact(slate []int, props []float64) bool {
	return p.exactMixture(p.eps, slate, props)
}
func (p *EpsilonGreedy) exactProbs(slots int, dst []float64) bool {
	return p.exactMixtureProbs(p.eps, slots, dst)
}

// Update adds (x, reward) to arm's ridge regression.
func (p *EpsilonGreedy) Update(x []float32, arm int, reward float64) {
	p.checkX(x)
	p.checkArm(arm)
	p.r.update(arm, x, reward)
}

// LinUCB is disjoint LinUCB (Li et al. 2010): each arm has its own ridge
// regression and the policy ranks arms by θ_a·x + α·sqrt(xᵀA_a⁻¹x).
type LinUCB struct {
	base
	r     ridge
	alpha float64
}

// NewLinUCB returns a disjoint LinUCB policy (α = cfg.Alpha).
func NewLinUCB(arms, dim int, cfg Config) *LinUCB {
	cfg = cfg.WithDefaults()
	p := &LinUCB{base: newBase("linucb", arms, dim, cfg), r: newRidge(arms, dim, cfg), alpha: cfg.Alpha}
	p.s = p
	return p
}

func (p *LinUCB) prepare(x []float32) {
	for a := range p.stat {
		p.stat[a] = p.r.mean(a, x) + p.alpha*p.r.width(a, x)
	}
}
func (p *LinUCB) draw(dst []float64) { p.jitter(p.stat, dst) }
func (p *LinUCB) exact(slate []int, props []float64) bool {
	return p.exactMixture(0, slate, props)
}
func (p *LinUCB) exactProbs(slots int, dst []float64) bool {
	return p.exactMixtureProbs(0, slots, dst)
}

// Update adds (x, reward) to arm's ridge regression.
func (p *LinUCB) Update(x []float32, arm int, reward float64) {
	p.checkX(x)
	p.checkArm(arm)
	p.r.update(arm, x, reward)
}

// LinTS is linear Thompson sampling (Agrawal & Goyal 2013) with disjoint
// arms: each arm's score is drawn from N(θ_a·x, v²·xᵀA_a⁻¹x), the
// distribution of θ̃·x for θ̃ ~ N(θ_a, v²A_a⁻¹).
type LinTS struct {
	base
	r     ridge
	scale float64
}

// NewLinTS returns a linear Thompson sampling policy (v = cfg.Scale).
func NewLinTS(arms, dim int, cfg Config) *LinTS {
	cfg = cfg.WithDefaults()
	p := &LinTS{base: newBase("lints", arms, dim, cfg), r: newRidge(arms, dim, cfg), scale: cfg.Scale}
	p.s = p
	return p
}

func (p *LinTS) prepare(x []float32) {
	for a := range p.stat {
		p.stat[a] = p.r.mean(a, x)
		p.stat2[a] = p.scale * p.r.width(a, x)
	}
}
func (p *LinTS) draw(dst []float64) {
	for a := range dst {
		dst[a] = p.stat[a] + p.stat2[a]*p.rng.NormFloat64()
	}
}
func (p *LinTS) exact([]int, []float64) bool    { return false }
func (p *LinTS) exactProbs(int, []float64) bool { return false }

// Update adds (x, reward) to arm's ridge regression.
func (p *LinTS) Update(x []float32, arm int, reward float64) {
	p.checkX(x)
	p.checkArm(arm)
	p.r.update(arm, x, reward)
}

// BernoulliTS is Bernoulli Thompson sampling: each arm has a Beta
// posterior over its click rate, the context is ignored, and a slate shows
// the arms with the largest posterior draws (the policy that logged part of
// the Open Bandit Dataset). With Forget γ < 1 the counts decay towards the
// prior on every update (discounted Thompson sampling).
type BernoulliTS struct {
	base
	alpha, beta []float64
	a0, b0, g   float64
}

// NewBernoulliTS returns a Bernoulli Thompson sampling policy.
func NewBernoulliTS(arms, dim int, cfg Config) *BernoulliTS {
	cfg = cfg.WithDefaults()
	p := &BernoulliTS{base: newBase("bts", arms, dim, cfg),
		alpha: make([]float64, arms), beta: make([]float64, arms),
		a0: cfg.PriorAlpha, b0: cfg.PriorBeta, g: cfg.Forget}
	for a := range p.alpha {
		p.alpha[a], p.beta[a] = p.a0, p.b0
	}
	p.s = p
	return p
}

func (p *BernoulliTS) prepare([]float32) {}
func (p *BernoulliTS) draw(dst []float64) {
	for a := range dst {
		x := gamma(p.rng, p.alpha[a])
		y := gamma(p.rng, p.beta[a])
		dst[a] = x / (x + y)
	}
}
func (p *BernoulliTS) exact([]int, []float64) bool    { return false }
func (p *BernoulliTS) exactProbs(int, []float64) bool { return false }

// Update adds reward (clamped to [0, 1]) to arm's Beta counts.
func (p *BernoulliTS) Update(x []float32, arm int, reward float64) {
	p.checkX(x)
	p.checkArm(arm)
	r := math.Min(1, math.Max(0, reward))
	if math.IsNaN(reward) {
		r = 0
	}
	if p.g < 1 {
		for a := range p.alpha {
			p.alpha[a] = p.g*p.alpha[a] + (1-p.g)*p.a0
			p.beta[a] = p.g*p.beta[a] + (1-p.g)*p.b0
		}
	}
	p.alpha[arm] += r
	p.beta[arm] += 1 - r
}

// Posterior returns arm's Beta parameters.
func (p *BernoulliTS) Posterior(arm int) (alpha, beta float64) { return p.alpha[arm], p.beta[arm] }

// gamma draws from Gamma(shape, 1) (Marsaglia & Tsang 2000).
func gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		for u == 0 {
			u = r.Float64()
		}
		return gamma(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Softmax is a Boltzmann policy π(a|x) = softmax(θ·x / τ)_a trained by
// REINFORCE: after reward r for arm a, θ_b += η·(r - r̄)·([b = a] - π_b)·x
// for every arm b, where r̄ is a running mean of rewards (the baseline).
// Slates are Plackett-Luce rankings (sampled as the top k of logits plus
// Gumbel noise).
type Softmax struct {
	base
	theta    []float64 // K×d
	lr, temp float64
	baseline float64
	n        float64
}

// NewSoftmax returns a softmax policy-gradient policy with θ = 0.
func NewSoftmax(arms, dim int, cfg Config) *Softmax {
	cfg = cfg.WithDefaults()
	p := &Softmax{base: newBase("softmax", arms, dim, cfg), theta: make([]float64, arms*dim),
		lr: cfg.LearnRate, temp: cfg.Temperature}
	p.s = p
	return p
}

func (p *Softmax) prepare(x []float32) {
	for a := range p.stat {
		p.stat[a] = dot(p.theta[a*p.d:(a+1)*p.d], x) / p.temp
	}
	// stat2 = softmax(stat)
	m := math.Inf(-1)
	for _, v := range p.stat {
		m = math.Max(m, v)
	}
	var z float64
	for a, v := range p.stat {
		e := math.Exp(v - m)
		p.stat2[a] = e
		z += e
	}
	for a := range p.stat2 {
		p.stat2[a] /= z
	}
}

func (p *Softmax) draw(dst []float64) {
	for a := range dst {
		u := p.rng.Float64()
		for u == 0 {
			u = p.rng.Float64()
		}
		dst[a] = p.stat[a] - math.Log(-math.Log(u))
	}
}

func (p *Softmax) exact(slate []int, props []float64) bool {
	if len(slate) != 1 {
		return false
	}
	props[0] = p.stat2[slate[0]]
	return true
}

func (p *Softmax) exactProbs(slots int, dst []float64) bool {
	if slots != 1 {
		return false
	}
	copy(dst, p.stat2)
	return true
}

// Probs writes π(·|x) into dst (length K).
func (p *Softmax) Probs(x []float32, dst []float64) {
	p.checkX(x)
	p.prepare(x)
	copy(dst, p.stat2)
}

// Update takes one REINFORCE step for (x, arm, reward).
func (p *Softmax) Update(x []float32, arm int, reward float64) { p.UpdateWeighted(x, arm, reward, 1) }

// UpdateWeighted takes one REINFORCE step scaled by an importance weight,
// for learning off-policy from logs: weight = π(arm|x)/π_b(arm|x) makes
// the expected step equal to the on-policy gradient.
func (p *Softmax) UpdateWeighted(x []float32, arm int, reward, weight float64) {
	p.checkX(x)
	p.checkArm(arm)
	p.prepare(x)
	p.n++
	adv := reward - p.baseline
	// The baseline is a running mean with a floor on its step so that it
	// tracks drift.
	p.baseline += (reward - p.baseline) / math.Min(p.n, 1000)
	g := weight * p.lr * adv / p.temp
	for b := 0; b < p.k; b++ {
		c := -p.stat2[b]
		if b == arm {
			c++
		}
		w := p.theta[b*p.d : (b+1)*p.d]
		for i, v := range x {
			w[i] += g * c * float64(v)
		}
	}
}
