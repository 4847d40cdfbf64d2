package recommend

import "github.com/perpetua-ml/perpetua/internal/learn/linear"

// positionFeatures is the number of slots with their own bias feature
// (slots 2…positionFeatures+1; later slots share the last).
const positionFeatures = 4

// OnlineScorer is the default Scorer: an online logistic regression on the
// candidate features plus a one-hot of the slot (2…5+), learned from
// feedback (FeedbackLearner). Scoring leaves the slot features at zero,
// which is slot 1, so the score is the click probability at the top slot:
// the position effect is learned apart from relevance. Until it has
// learned, it ranks by a fixed prior: co-visitation, then content
// similarity, trend and freshness.
type OnlineScorer struct {
	m     *linear.Logistic
	x     []float32
	steps int
}

// NewOnlineScorer returns an untrained OnlineScorer.
func NewOnlineScorer() *OnlineScorer {
	return &OnlineScorer{m: linear.New(NumFeatures+positionFeatures, linear.Config{Optimizer: linear.AdaGrad, LearnRate: 0.1, L2: 1e-4}),
		x: make([]float32, NumFeatures+positionFeatures)}
}

// prior is the hand-set ranking used before any feedback.
func prior(f []float32) float64 {
	return 4*float64(f[fCovis]) + 2*float64(f[fContent]) + float64(f[fTrend]) + 0.5*float64(f[fFresh]) + float64(f[fCTR])
}

// Score writes P(click at slot 1) for each candidate, blended with the
// prior while fewer than 1000 examples have been learned.
func (o *OnlineScorer) Score(_ *Request, cands []Candidate, dst []float64) {
	w := min(float64(o.steps)/1000, 1)
	for i := range cands {
		clear(o.x)
		copy(o.x, cands[i].Features)
		dst[i] = w*o.m.Predict(o.x) + (1-w)*0.01*prior(cands[i].Features)
	}
}

// Learn learns one shown candidate: y = 1 for a positive reward.
func (o *OnlineScorer) Learn(features []float32, position int, reward float64) {
	clear(o.x)
	copy(o.x, features)
	if position >= 2 {
		o.x[NumFeatures+min(position-2, positionFeatures-1)] = 1
	}
	y := 0.0
	if reward > 0 {
		y = 1
	}
	o.m.Learn(o.x, y)
	o.steps++
}

// PositionWeights returns the learned logit offset of slots 2…5+ relative
// to slot 1 (negative: examined less).
func (o *OnlineScorer) PositionWeights() []float64 {
	return append([]float64(nil), o.m.Params()[NumFeatures:NumFeatures+positionFeatures]...)
}
