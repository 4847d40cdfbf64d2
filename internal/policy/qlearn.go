package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// QConfig configures Q-learning. The zero value means the defaults.
type QConfig struct {
	// Gamma is the discount γ ∈ [0, 1) (default 0.9).
	Gamma float64
	// LearnRate is the step size α (default 0.1 tabular, 0.02 linear).
	LearnRate float64
	// Epsilon is the ε-greedy exploration rate (default 0.1).
	Epsilon float64
	// Seed seeds exploration.
	Seed uint64
}

func (c QConfig) withDefaults(lr float64) (QConfig, error) {
	if c.Gamma == 0 {
		c.Gamma = 0.9
	}
	if c.LearnRate == 0 {
		c.LearnRate = lr
	}
	if c.Epsilon == 0 {
		c.Epsilon = 0.1
	}
	switch {
	case !(c.Gamma >= 0 && c.Gamma < 1):
		return c, fmt.Errorf("policy: q-learning gamma = %v, want [0, 1)", c.Gamma)
	case !(c.LearnRate > 0 && c.LearnRate <= 1):
		return c, fmt.Errorf("policy: q-learning learn_rate = %v, want (0, 1]", c.LearnRate)
	case !(c.Epsilon >= 0 && c.Epsilon <= 1):
		return c, fmt.Errorf("policy: q-learning epsilon = %v, want [0, 1]", c.Epsilon)
	}
	return c, nil
}

// qvalues is the ε-greedy action choice shared by both Q-learners.
type qvalues struct {
	actions int
	eps     float64
	rng     *rand.Rand
	q       []float64 // scratch: Q(s, ·)
}

// act picks ε-greedily from q (ties at random) and returns the exact
// propensity (1-ε)/ties·[greedy] + ε/K.
func (v *qvalues) act() (int, float64) {
	best, ties := math.Inf(-1), 0
	for _, x := range v.q {
		if x > best {
			best, ties = x, 1
		} else if x == best {
			ties++
		}
	}
	u := v.eps / float64(v.actions)
	if v.rng.Float64() < v.eps {
		a := v.rng.IntN(v.actions)
		if v.q[a] == best {
			return a, u + (1-v.eps)/float64(ties)
		}
		return a, u
	}
	k := v.rng.IntN(ties)
	for a, x := range v.q {
		if x == best {
			if k == 0 {
				return a, u + (1-v.eps)/float64(ties)
			}
			k--
		}
	}
	panic("policy: unreachable")
}

// QTable is tabular Q-learning: Q(s,a) += α(r + γ·max_a' Q(s',a') − Q(s,a)),
// acting ε-greedily. It allocates nothing after New.
type QTable struct {
	cfg    QConfig
	states int
	qvalues
	table []float64
}

// NewQTable returns a tabular Q-learner with Q = 0.
func NewQTable(states, actions int, cfg QConfig) (*QTable, error) {
	cfg, err := cfg.withDefaults(0.1)
	if err != nil {
		return nil, err
	}
	if states < 1 || actions < 1 {
		return nil, fmt.Errorf("policy: q-table needs states ≥ 1 and actions ≥ 1, got %d and %d", states, actions)
	}
	return &QTable{cfg: cfg, states: states, table: make([]float64, states*actions),
		qvalues: qvalues{actions: actions, eps: cfg.Epsilon, rng: rand.New(rand.NewPCG(cfg.Seed, 3)), q: make([]float64, actions)}}, nil
}

func (t *QTable) row(id int) []float64 {
	if id < 0 || id >= t.states {
		panic(fmt.Sprintf("policy: q-table state %d out of [0, %d)", id, t.states))
	}
	return t.table[id*t.actions : (id+1)*t.actions]
}

// Q returns Q(s, a).
func (t *QTable) Q(s, a int) float64 { return t.row(s)[a] }

// SetEpsilon changes the exploration rate (0 evaluates greedily).
func (t *QTable) SetEpsilon(eps float64) { t.eps = eps }

// Act picks an action ε-greedily.
func (t *QTable) Act(s State) (int, float64) {
	copy(t.q, t.row(s.ID))
	return t.act()
}

// Learn takes one Q-learning step.
func (t *QTable) Learn(s State, a int, r float64, next State, done bool) {
	target := r
	if !done {
		m := math.Inf(-1)
		for _, v := range t.row(next.ID) {
			m = math.Max(m, v)
		}
		target += t.cfg.Gamma * m
	}
	row := t.row(s.ID)
	row[a] += t.cfg.LearnRate * (target - row[a])
}

// QLinear is Q-learning with linear function approximation,
// Q(s,a) = w_a·φ(s), trained by semi-gradient steps
// w_a += α(r + γ·max_a' Q(s',a') − Q(s,a))·φ(s), acting ε-greedily. It
// allocates nothing after New.
type QLinear struct {
	cfg QConfig
	dim int
	qvalues
	w []float64 // actions × dim
}

// NewQLinear returns a linear Q-learner with w = 0.
func NewQLinear(dim, actions int, cfg QConfig) (*QLinear, error) {
	cfg, err := cfg.withDefaults(0.02)
	if err != nil {
		return nil, err
	}
	if dim < 1 || actions < 1 {
		return nil, fmt.Errorf("policy: linear q needs dim ≥ 1 and actions ≥ 1, got %d and %d", dim, actions)
	}
	return &QLinear{cfg: cfg, dim: dim, w: make([]float64, dim*actions),
		qvalues: qvalues{actions: actions, eps: cfg.Epsilon, rng: rand.New(rand.NewPCG(cfg.Seed, 5)), q: make([]float64, actions)}}, nil
}

func (l *QLinear) values(x []float32) {
	if len(x) != l.dim {
		panic(fmt.Sprintf("policy: linear q: state has %d features, want %d", len(x), l.dim))
	}
	for a := range l.q {
		l.q[a] = dot(l.w[a*l.dim:(a+1)*l.dim], x)
	}
}

// Q returns Q(s, a).
func (l *QLinear) Q(x []float32, a int) float64 { return dot(l.w[a*l.dim:(a+1)*l.dim], x) }

// SetEpsilon changes the exploration rate (0 evaluates greedily).
func (l *QLinear) SetEpsilon(eps float64) { l.eps = eps }

// Act picks an action ε-greedily.
func (l *QLinear) Act(s State) (int, float64) {
	l.values(s.X)
	return l.act()
}

// Learn takes one semi-gradient Q-learning step.
func (l *QLinear) Learn(s State, a int, r float64, next State, done bool) {
	target := r
	if !done {
		l.values(next.X)
		m := math.Inf(-1)
		for _, v := range l.q {
			m = math.Max(m, v)
		}
		target += l.cfg.Gamma * m
	}
	w := l.w[a*l.dim : (a+1)*l.dim]
	delta := l.cfg.LearnRate * (target - dot(w, s.X))
	for i, v := range s.X {
		w[i] += delta * float64(v)
	}
}
