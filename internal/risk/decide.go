package risk

import (
	"encoding/json"
	"fmt"
	"math"
)

// Decision is what happens to a transaction.
type Decision uint8

// The decisions.
const (
	Approve Decision = iota // let it through
	Review                  // hold it for an investigator (uses review capacity)
	Block                   // refuse it
)

var decisionNames = [...]string{Approve: "approve", Review: "review", Block: "block"}

// String returns "approve", "review" or "block".
func (d Decision) String() string {
	if int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return fmt.Sprintf("Decision(%d)", d)
}

// MarshalJSON writes the decision's name.
func (d Decision) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a decision's name.
func (d *Decision) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("risk: decision: %w", err)
	}
	for i, n := range decisionNames {
		if n == s {
			*d = Decision(i)
			return nil
		}
	}
	return fmt.Errorf("risk: decision %q: want approve, review or block", s)
}

// CostConfig is the cost matrix of the decision policy, in the currency
// of the amounts. The zero value means the defaults.
//
//	              fraud          genuine
//	approve       amount         0
//	review        ReviewCost     ReviewCost
//	block         0              Friction
//
// A reviewed fraud is caught (its loss avoided) at the cost of the
// review; a blocked genuine transaction costs customer friction.
type CostConfig struct {
	// ReviewCost is the cost of one manual review; 0 means 3.
	ReviewCost float64
	// Friction is the cost of blocking a genuine transaction; 0 means 20.
	Friction float64
	// ReviewCapacity is the number of reviews investigators can do per
	// day; 0 means 100. Once it is used up, a transaction that would be
	// reviewed is approved or blocked, whichever costs less.
	ReviewCapacity int
	// Scales are the arms of the threshold bandit: each arm multiplies
	// the fraud probability before the expected costs are compared, so
	// arms range from lenient (< 1) to strict (> 1). Empty means
	// {0.25, 0.5, 1, 2, 4, 8}. At most 16.
	Scales []float64
	// Forget is the discount applied to each arm's cost history per
	// labelled transaction, in (0, 1]; 0 means 0.9995 (a memory of a few
	// thousand labels, so thresholds follow drift).
	Forget float64
}

func (c CostConfig) withDefaults() CostConfig {
	if c.ReviewCost == 0 {
		c.ReviewCost = 3
	}
	if c.Friction == 0 {
		c.Friction = 20
	}
	if c.ReviewCapacity == 0 {
		c.ReviewCapacity = 100
	}
	if len(c.Scales) == 0 {
		c.Scales = []float64{0.25, 0.5, 1, 2, 4, 8}
	}
	if c.Forget == 0 {
		c.Forget = 0.9995
	}
	return c
}

// Validate reports the first invalid field.
func (c CostConfig) Validate() error {
	fin := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !fin(c.ReviewCost) || c.ReviewCost < 0:
		return fmt.Errorf("risk: ReviewCost = %v: want a finite cost ≥ 0", c.ReviewCost)
	case !fin(c.Friction) || c.Friction < 0:
		return fmt.Errorf("risk: Friction = %v: want a finite cost ≥ 0", c.Friction)
	case c.ReviewCapacity < 0:
		return fmt.Errorf("risk: ReviewCapacity = %d: want ≥ 0 reviews per day", c.ReviewCapacity)
	case len(c.Scales) > maxArms:
		return fmt.Errorf("risk: Scales has %d arms: want at most %d", len(c.Scales), maxArms)
	case !(c.Forget >= 0 && c.Forget <= 1):
		return fmt.Errorf("risk: Forget = %v: want (0, 1]", c.Forget)
	}
	for i, s := range c.Scales {
		if !fin(s) || s <= 0 {
			return fmt.Errorf("risk: Scales[%d] = %v: want a finite scale > 0", i, s)
		}
	}
	return nil
}

const maxArms = 16

// policy turns fraud probabilities into decisions. Each arm is a
// threshold setting (a scale on the probability); the policy plays the
// arm with the lowest discounted cost per labelled transaction.
//
// Feedback is full-information: once a transaction's label is known, the
// cost every arm would have incurred is known too (the label does not
// depend on the decision in our data: blocked and reviewed transactions
// still get their fraud label), so every arm is updated from every label,
// each with its own daily review budget. Where blocked transactions would
// never get a label, only the played arm would learn (a plain bandit);
// that case is not modelled.
type policy struct {
	cfg   CostConfig
	arms  int
	cost  [maxArms]float64 // discounted cost sums
	n     float64          // discounted count (same for all arms)
	day   int64
	used  [maxArms]int // reviews used today, per arm (arm 0..arms-1 counterfactual)
	best  int
	plays [maxArms]uint64
}

func newPolicy(cfg CostConfig) *policy {
	cfg = cfg.withDefaults()
	p := &policy{cfg: cfg, arms: len(cfg.Scales), day: math.MinInt64}
	// Start from the neutral arm (scale 1) or the closest to it.
	for i, s := range cfg.Scales {
		if math.Abs(math.Log(s)) < math.Abs(math.Log(cfg.Scales[p.best])) {
			p.best = i
		}
	}
	return p
}

// decideArm returns the decision arm a would take for fraud probability
// prob and amount, given whether review capacity is left.
func (p *policy) decideArm(a int, prob, amount float64, canReview bool) Decision {
	q := min(1, prob*p.cfg.Scales[a])
	approve := q * amount
	block := (1 - q) * p.cfg.Friction
	d, c := Approve, approve
	if block < c {
		d, c = Block, block
	}
	if canReview && p.cfg.ReviewCost < c {
		d = Review
	}
	return d
}

// decide returns the played decision and the decisions of every arm
// (2 bits each), using up review capacity for the day of sec.
func (p *policy) decide(prob, amount float64, sec int64) (Decision, uint32) {
	day := sec / 86400
	if day != p.day {
		p.day = day
		clear(p.used[:])
	}
	var bits uint32
	for a := 0; a < p.arms; a++ {
		d := p.decideArm(a, prob, amount, p.used[a] < p.cfg.ReviewCapacity)
		if d == Review {
			p.used[a]++
		}
		bits |= uint32(d) << (2 * a)
	}
	p.plays[p.best]++
	return Decision(bits >> (2 * p.best) & 3), bits
}

// cost returns the realised cost of decision d on a transaction with
// label y (1 fraud) and amount.
func (p *policy) costOf(d Decision, y, amount float64) float64 {
	switch d {
	case Review:
		return p.cfg.ReviewCost
	case Block:
		return (1 - y) * p.cfg.Friction
	default:
		return y * amount
	}
}

// feedback updates every arm with the label of a decided transaction and
// picks the best arm.
func (p *policy) feedback(bits uint32, y, amount float64) {
	f := p.cfg.Forget
	p.n = p.n*f + 1
	best := p.best
	for a := 0; a < p.arms; a++ {
		d := Decision(bits >> (2 * a) & 3)
		p.cost[a] = p.cost[a]*f + p.costOf(d, y, amount)
		if p.cost[a] < p.cost[best] {
			best = a
		}
	}
	p.best = best
}

// forget drops the arms' cost histories (after a drift), keeping the
// arm in play until new feedback favours another.
func (p *policy) forget() {
	clear(p.cost[:])
	p.n = 0
}

// Scale returns the threshold scale currently played.
func (p *policy) scale() float64 { return p.cfg.Scales[p.best] }
