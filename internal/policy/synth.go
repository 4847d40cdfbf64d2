package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ContextualConfig configures a synthetic contextual bandit. The zero value
// means the defaults.
type ContextualConfig struct {
	// Arms is the number of items (default 10).
	Arms int
	// Segments is the number of user segments (default 4).
	Segments int
	// Seed seeds the tastes and the stream.
	Seed uint64
	// DriftAt lists the rounds at which tastes (segment × item effects)
	// are redrawn: an abrupt drift.
	DriftAt []int
	// Bias is the mean logit of a click (default -1).
	Bias float64
}

// Contextual is a synthetic contextual bandit with known click
// probabilities: the context is x = [1, one-hot segment, z1, z2] with z
// uniform in [-1, 1], and arm a is clicked with probability
// sigmoid(w_a·x). Drifts redraw the segment × arm effects (tastes). As an
// Env, each round is a one-step episode whose state id is the segment.
type Contextual struct {
	cfg     ContextualConfig
	rng     *rand.Rand
	w       []float64 // arms × dim
	x       []float32
	p       []float64 // current click probabilities
	round   int
	seg     int
	nextDft int
	open    bool
}

// NewContextual returns a synthetic contextual bandit.
func NewContextual(cfg ContextualConfig) *Contextual {
	if cfg.Arms == 0 {
		cfg.Arms = 10
	}
	if cfg.Segments == 0 {
		cfg.Segments = 4
	}
	if cfg.Bias == 0 {
		cfg.Bias = -1
	}
	if cfg.Arms < 1 || cfg.Segments < 1 {
		panic(fmt.Sprintf("policy: contextual environment with %d arms and %d segments", cfg.Arms, cfg.Segments))
	}
	c := &Contextual{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 17))}
	d := c.Dim()
	c.w = make([]float64, cfg.Arms*d)
	c.x = make([]float32, d)
	c.p = make([]float64, cfg.Arms)
	for a := 0; a < cfg.Arms; a++ {
		w := c.w[a*d : (a+1)*d]
		w[0] = cfg.Bias + 0.5*c.rng.NormFloat64()
		w[d-2] = 0.5 * c.rng.NormFloat64()
		w[d-1] = 0.5 * c.rng.NormFloat64()
	}
	c.redraw()
	return c
}

func (c *Contextual) redraw() {
	d := c.Dim()
	for a := 0; a < c.cfg.Arms; a++ {
		for s := 0; s < c.cfg.Segments; s++ {
			c.w[a*d+1+s] = 1.2 * c.rng.NormFloat64()
		}
	}
}

// Dim returns the context length, Segments+3.
func (c *Contextual) Dim() int { return c.cfg.Segments + 3 }

// NumActions returns the number of arms.
func (c *Contextual) NumActions() int { return c.cfg.Arms }

// NumStates returns the number of segments.
func (c *Contextual) NumStates() int { return c.cfg.Segments }

// Round returns the number of contexts drawn so far.
func (c *Contextual) Round() int { return c.round }

// Next draws the next context (applying a drift first if one is due) and
// returns it; the slice is owned by c and valid until the next call.
func (c *Contextual) Next() []float32 {
	for c.nextDft < len(c.cfg.DriftAt) && c.cfg.DriftAt[c.nextDft] <= c.round {
		c.redraw()
		c.nextDft++
	}
	c.round++
	clear(c.x)
	c.seg = c.rng.IntN(c.cfg.Segments)
	c.x[0] = 1
	c.x[1+c.seg] = 1
	d := c.Dim()
	c.x[d-2] = float32(2*c.rng.Float64() - 1)
	c.x[d-1] = float32(2*c.rng.Float64() - 1)
	c.probs(c.x, c.p)
	return c.x
}

// probs writes the true click probabilities for x into dst.
func (c *Contextual) probs(x []float32, dst []float64) {
	d := c.Dim()
	for a := range dst {
		dst[a] = 1 / (1 + math.Exp(-dot(c.w[a*d:(a+1)*d], x)))
	}
}

// Probs writes the true click probabilities of the current context.
func (c *Contextual) Probs(dst []float64) { copy(dst, c.p) }

// TrueProbs writes the click probabilities of any context x under the
// current tastes.
func (c *Contextual) TrueProbs(x []float32, dst []float64) { c.probs(x, dst) }

// Best returns the highest click probability of the current context.
func (c *Contextual) Best() float64 {
	m := 0.0
	for _, v := range c.p {
		m = math.Max(m, v)
	}
	return m
}

// Prob returns arm's click probability in the current context.
func (c *Contextual) Prob(arm int) float64 { return c.p[arm] }

// Pull draws the reward (0 or 1) of arm in the current context.
func (c *Contextual) Pull(arm int) float64 {
	if c.rng.Float64() < c.p[arm] {
		return 1
	}
	return 0
}

// Reset draws a context: a one-step episode.
func (c *Contextual) Reset() (State, error) {
	x := c.Next()
	c.open = true
	return State{ID: c.seg, X: x}, nil
}

// Step shows arm and ends the episode.
func (c *Contextual) Step(arm int) (Outcome, error) {
	if !c.open {
		return Outcome{}, ErrStepAfterDone
	}
	if arm < 0 || arm >= c.cfg.Arms {
		return Outcome{}, fmt.Errorf("policy: contextual step: action %d out of [0, %d)", arm, c.cfg.Arms)
	}
	c.open = false
	return Outcome{Reward: c.Pull(arm), Done: true, Matched: true}, nil
}

// SessionsConfig configures the synthetic session environment. The zero
// value means the defaults.
type SessionsConfig struct {
	// Categories is the number of actions: which category to show next
	// (default 6).
	Categories int
	// Segments is the number of user segments (default 3).
	Segments int
	// Horizon caps a session's length (default 10).
	Horizon int
	// DriftEvery redraws the segments' tastes every DriftEvery episodes
	// (0: never).
	DriftEvery int
	// Seed seeds tastes and sessions.
	Seed uint64
	// Rewards are the values of a click, an add-to-cart and a purchase
	// (defaults 1, 3, 10).
	ClickValue, CartValue, PurchaseValue float64
}

// Outcome stages recorded in the session state.
const (
	stageNone = iota
	stageClick
	stageCart
	numStages
)

// Sessions is a synthetic shop session: a user of a known segment is
// shown one category per step. A click happens with the segment's taste
// for the category; a click on the category clicked at the previous step
// adds it to the cart with probability 0.5, and a click on the category
// carted at the previous step buys it with probability 0.5, which ends the
// session. Each step without a click ends the session with probability
// 0.3, and any step with probability 0.05. The reward is the value of the
// deepest outcome of the step. The optimal policy trades immediate clicks
// for funnel progress, which a myopic policy does not.
//
// The state summary is (segment, last category shown, last outcome, step
// bucket 0/1/2+): ID enumerates it, X one-hot encodes each part plus a
// bias.
type Sessions struct {
	cfg     SessionsConfig
	rng     *rand.Rand
	taste   []float64 // segments × categories click probability
	x       []float32
	seg     int
	last    int // last category shown, -1 at start
	stage   int
	step    int
	episode int
	open    bool
}

// NewSessions returns the synthetic session environment.
func NewSessions(cfg SessionsConfig) *Sessions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Categories, 6)
	def(&cfg.Segments, 3)
	def(&cfg.Horizon, 10)
	deff := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	deff(&cfg.ClickValue, 1)
	deff(&cfg.CartValue, 3)
	deff(&cfg.PurchaseValue, 10)
	s := &Sessions{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 29)),
		taste: make([]float64, cfg.Segments*cfg.Categories)}
	s.x = make([]float32, s.Dim())
	s.redraw()
	return s
}

func (s *Sessions) redraw() {
	for i := range s.taste {
		s.taste[i] = 0.05 + 0.6*s.rng.Float64()*s.rng.Float64()
	}
}

// NumActions returns the number of categories.
func (s *Sessions) NumActions() int { return s.cfg.Categories }

// NumStates returns segments × (categories+1) × stages × 3.
func (s *Sessions) NumStates() int {
	return s.cfg.Segments * (s.cfg.Categories + 1) * numStages * 3
}

// Dim returns 1 + segments + categories+1 + stages + 3.
func (s *Sessions) Dim() int { return 1 + s.cfg.Segments + s.cfg.Categories + 1 + numStages + 3 }

// Taste returns the click probability of category c for segment seg.
func (s *Sessions) Taste(seg, c int) float64 { return s.taste[seg*s.cfg.Categories+c] }

func (s *Sessions) state() State {
	b := min(s.step, 2)
	id := ((s.seg*(s.cfg.Categories+1)+(s.last+1))*numStages+s.stage)*3 + b
	clear(s.x)
	s.x[0] = 1
	o := 1
	s.x[o+s.seg] = 1
	o += s.cfg.Segments
	s.x[o+s.last+1] = 1
	o += s.cfg.Categories + 1
	s.x[o+s.stage] = 1
	o += numStages
	s.x[o+b] = 1
	return State{ID: id, X: s.x}
}

// Reset starts a session of a random segment.
func (s *Sessions) Reset() (State, error) {
	if s.cfg.DriftEvery > 0 && s.episode > 0 && s.episode%s.cfg.DriftEvery == 0 {
		s.redraw()
	}
	s.episode++
	s.seg = s.rng.IntN(s.cfg.Segments)
	s.last, s.stage, s.step, s.open = -1, stageNone, 0, true
	return s.state(), nil
}

// Step shows category c.
func (s *Sessions) Step(c int) (Outcome, error) {
	if !s.open {
		return Outcome{}, ErrStepAfterDone
	}
	if c < 0 || c >= s.cfg.Categories {
		return Outcome{}, fmt.Errorf("policy: sessions step: action %d out of [0, %d)", c, s.cfg.Categories)
	}
	var r float64
	done := false
	clicked := s.rng.Float64() < s.Taste(s.seg, c)
	switch {
	case !clicked:
		s.stage = stageNone
		if s.rng.Float64() < 0.3 {
			done = true
		}
	case s.last == c && s.stage == stageCart && s.rng.Float64() < 0.5:
		r = s.cfg.PurchaseValue
		done = true
	case s.last == c && s.stage >= stageClick && s.rng.Float64() < 0.5:
		r = s.cfg.CartValue
		s.stage = stageCart
	default:
		r = s.cfg.ClickValue
		s.stage = stageClick
	}
	s.last = c
	s.step++
	if s.step >= s.cfg.Horizon || s.rng.Float64() < 0.05 {
		done = true
	}
	s.open = !done
	return Outcome{Next: s.state(), Reward: r, Done: done, Matched: true}, nil
}
