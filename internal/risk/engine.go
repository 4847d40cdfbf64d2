package risk

import (
	"github.com/perpetua-ml/perpetua/internal/label"
)

// pendingTx is what the engine remembers about a scored transaction until
// its label is known.
type pendingTx struct {
	x          [NumFeatures]float32
	cust, term uint64
	amount     float64
	score      float64 // the model's score when it was scored
	arms       uint32  // every arm's decision, 2 bits each
}

// engine is the single-writer core shared by Service and Eval: velocity
// features, the model, the delayed-label book and the decision policy.
// The model learns only inside outcome, which Pending calls when a label
// becomes known (an explicit label, or maturity as genuine).
type engine[K comparable] struct {
	delay int64 // label maturity delay, seconds
	feat  *featurizer
	m     *model
	pol   *policy
	pend  *label.Pending[K, pendingTx]
	fn    func(label.Outcome[pendingTx]) // outcome, bound once
	xl    [NumFeatures]float32           // learning scratch (keeps outcomes off the heap)

	labelled, frauds, matured uint64
}

func newEngine[K comparable](delayDays int, mc ModelConfig, cc CostConfig, maxPending int) (*engine[K], error) {
	f, err := newFeaturizer(delayDays)
	if err != nil {
		return nil, err
	}
	m, err := newModel(mc)
	if err != nil {
		return nil, err
	}
	if err := cc.Validate(); err != nil {
		return nil, err
	}
	e := &engine[K]{
		delay: int64(delayDays) * 86400,
		feat:  f,
		m:     m,
		pol:   newPolicy(cc),
		pend:  label.NewPending[K, pendingTx](int64(delayDays)*86400, maxPending),
	}
	e.fn = e.outcome
	return e, nil
}

// check returns the error score would return, without changing anything.
func (e *engine[K]) check(id K, cust, term uint64, sec int64, amount float64) error {
	if e.pend.Has(id) {
		return ErrDuplicate
	}
	return e.feat.check(cust, term, sec, amount)
}

// score records a transaction that passed check, writes its features to
// x and returns the model score, the calibrated fraud probability and
// the decision.
func (e *engine[K]) score(id K, cust, term uint64, sec int64, amount float64, x []float32) (float64, float64, Decision) {
	e.pend.Advance(sec, e.fn)
	e.feat.add(x, cust, term, sec, amount)
	e.m.observe(x)
	p := e.m.predict(x)
	e.m.watchScore(p)
	prob := e.m.calibrate(p)
	d, arms := e.pol.decide(prob, amount, sec)
	pt := pendingTx{cust: cust, term: term, amount: amount, score: p, arms: arms}
	copy(pt.x[:], x)
	_ = e.pend.Add(id, sec, pt, e.fn) // cannot be a duplicate: checked
	return p, prob, d
}

// label resolves a transaction with its label, known from sec.
func (e *engine[K]) label(id K, sec int64, value float64) error {
	return e.pend.Label(id, sec, value, e.fn)
}

// advance moves the clock, maturing old transactions as genuine.
func (e *engine[K]) advance(sec int64) { e.pend.Advance(sec, e.fn) }

// outcome is the only place the model learns.
func (e *engine[K]) outcome(o label.Outcome[pendingTx]) {
	t := o.Payload
	e.labelled++
	if o.Matured {
		e.matured++
	}
	y := 0.0
	if o.Value >= 0.5 {
		y = 1
		e.frauds++
	}
	e.feat.label(t.cust, t.term, o.EventTime, y)
	e.xl = t.x
	if e.m.learn(e.xl[:], y, t.score) {
		// The model's errors changed: costs measured under the old
		// regime no longer tell which threshold is best.
		e.pol.forget()
	}
	e.pol.feedback(t.arms, y, t.amount)
}
