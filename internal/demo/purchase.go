package demo

import (
	"fmt"
	"math"
	"sort"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// point is one observation of the purchase learners, taken after each
// batch.
type point struct {
	T        float64            // simulated days since the start
	Labelled uint64             // twin's labelled examples so far
	LogLoss  map[string]float64 // cumulative prequential log loss per variant
	Window   map[string]float64 // windowed log loss per variant
	AUC      map[string]float64 // windowed AUC per variant
	Engine   float64            // the engine's champion's window log loss
	// Bayes is the Bayes-optimal log loss over (about) the same examples
	// as the window: the mean binary entropy of the true purchase
	// probabilities of the last window views old enough to be labelled.
	Bayes float64
}

// stats collects the purchase task's figures.
type stats struct {
	bayesSum []float64 // per day: Σ H(p) over views (expected log loss of the truth)
	bayesN   []int
	points   []point
	// Per view in stream order: its time (days since the start) and the
	// running sum of the entropies up to it (vcum[i] sums views [0, i)).
	vt, vcum []float64
	window   int     // labelled examples in the runner's windowed metrics
	horizon  float64 // the runner's label horizon, days: a view is labelled (negative) this long after it
}

func newStats(days, window int, horizon float64) *stats {
	return &stats{bayesSum: make([]float64, days), bayesN: make([]int, days), vcum: []float64{0}, window: window, horizon: horizon}
}

// view records the true purchase probability of one view. The expected
// log loss of predicting the truth p is the binary entropy H(p), so the
// mean entropy is the Bayes-optimal log loss (without label noise in the
// estimate).
func (s *stats) view(day int, t, p float64) {
	p = min(max(p, metric.Clip), 1-metric.Clip)
	h := -(p*math.Log(p) + (1-p)*math.Log(1-p))
	s.bayesSum[day] += h
	s.bayesN[day]++
	s.vt = append(s.vt, t)
	s.vcum = append(s.vcum, s.vcum[len(s.vcum)-1]+h)
}

// bayesWindow is the mean entropy of the last window views at or before
// t minus the label horizon: the Bayes-optimal log loss of (about) the
// examples in the runner's window at time t. Purchases are labelled
// before the horizon, so the two sets differ only at the window's
// edges. NaN before any view is labelled.
func (s *stats) bayesWindow(t float64) float64 {
	j := sort.SearchFloat64s(s.vt, t-s.horizon) // views [0, j) are older than the horizon
	for j < len(s.vt) && s.vt[j] <= t-s.horizon {
		j++
	}
	i := max(0, j-s.window)
	if j == i {
		return math.NaN()
	}
	return (s.vcum[j] - s.vcum[i]) / float64(j-i)
}

func (s *stats) snapshot(t float64, tp, ep *continual.Published) {
	if tp == nil {
		return
	}
	pt := point{T: t, Labelled: tp.Stats.Labelled, LogLoss: map[string]float64{}, Window: map[string]float64{},
		AUC: map[string]float64{}, Engine: math.NaN(), Bayes: s.bayesWindow(t)}
	for _, m := range tp.Models {
		pt.LogLoss[m.Name] = m.Metrics.LogLoss
		pt.Window[m.Name] = m.Metrics.WindowLogLoss
		pt.AUC[m.Name] = m.Metrics.WindowAUC
	}
	if ep != nil {
		for _, m := range ep.Models {
			if m.Name == "deep" {
				pt.Engine = m.Metrics.WindowLogLoss
			}
		}
	}
	s.points = append(s.points, pt)
}

func (s *stats) describe(t, shiftDay float64) string {
	if len(s.points) == 0 {
		return fmt.Sprintf("day %.2f", t)
	}
	p := s.points[len(s.points)-1]
	regime := "before shift"
	if t >= shiftDay {
		regime = "AFTER SHIFT"
	}
	return fmt.Sprintf("day %.2f %-12s window log loss: continual %.4f frozen %.4f retrain %.4f", t, regime,
		p.Window[nameContinual], p.Window[nameFrozen], p.Window[nameRetrain])
}

// meanBetween is variant's mean prequential log loss over the examples
// labelled between the points at or after t0 and up to t1: the difference
// of the cumulative sums. NaN when no example falls between.
func (s *stats) meanBetween(name string, t0, t1 float64) float64 {
	var a, b *point
	for i := range s.points {
		p := &s.points[i]
		if a == nil && p.T >= t0 {
			if i > 0 {
				a = &s.points[i-1]
			} else {
				a = &point{LogLoss: map[string]float64{}}
			}
		}
		if p.T <= t1 {
			b = p
		}
	}
	if a == nil || b == nil || b.Labelled <= a.Labelled {
		return math.NaN()
	}
	return (b.LogLoss[name]*float64(b.Labelled) - a.LogLoss[name]*float64(a.Labelled)) / float64(b.Labelled-a.Labelled)
}

// meanAUC is the mean windowed AUC of variant over the points in [t0, t1].
func (s *stats) meanAUC(name string, t0, t1 float64) float64 {
	var sum float64
	n := 0
	for _, p := range s.points {
		if p.T >= t0 && p.T <= t1 && !math.IsNaN(p.AUC[name]) {
			sum += p.AUC[name]
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// windowAt returns variant's window log loss at the last point at or
// before t.
func (s *stats) windowAt(name string, t float64) float64 {
	v := math.NaN()
	for _, p := range s.points {
		if p.T > t {
			break
		}
		v = p.Window[name]
	}
	return v
}

// The window log loss swings with the time of day, and not only from
// noise: the share of shoppers and items that sell changes, so the
// Bayes-optimal log loss itself (the entropy of the true purchase
// probabilities) moves by ±20% over a day, and a model's excess over it
// moves too (the morning's shoppers are harder than the evening's). A
// raw comparison with the few hours before the shift would call a model
// "recovered" whenever the evening's easier examples arrive, frozen or
// not. So recovery compares Bayes-adjusted levels against a whole daily
// cycle: the pre-shift level is the mean window log loss over the day
// before the shift (preDays); the level at t is the mean window log loss
// over the smoothHours up to t minus the change of the Bayes-optimal
// window log loss between those two periods (what any model, even a
// perfect one, gains or loses from the mix of examples). A window of a
// few hundred to a few thousand examples is noisy (±0.02 at a 5%
// purchase rate), and a noisy level dips under any threshold now and
// then; so the level is smoothed over 6 h, and a recovery counts only
// when the level then stays within the tolerance for sustainHours.
const (
	smoothHours  = 6.0
	sustainHours = 6.0
)

// preDays is the length of the pre-shift period: one day, or the later
// half of the time before the shift when that is shorter (the first
// hours are the models' cold start).
func preDays(shiftDay float64) float64 { return min(1, shiftDay/2) }

// meanWindow is the mean window log loss of variant over the points in
// (t0, t1].
func (s *stats) meanWindow(name string, t0, t1 float64) float64 {
	return s.meanOf(func(p *point) float64 { return p.Window[name] }, t0, t1)
}

// meanBayes is the mean Bayes-optimal window log loss over the points
// in (t0, t1].
func (s *stats) meanBayes(t0, t1 float64) float64 {
	return s.meanOf(func(p *point) float64 { return p.Bayes }, t0, t1)
}

func (s *stats) meanOf(f func(*point) float64, t0, t1 float64) float64 {
	var sum float64
	n := 0
	for i := range s.points {
		p := &s.points[i]
		if v := f(p); p.T > t0 && p.T <= t1 && !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// adjustedAt is variant's Bayes-adjusted window log loss over the
// smoothHours up to t, relative to the Bayes level bayesPre of the
// pre-shift period: meanWindow − (meanBayes − bayesPre).
func (s *stats) adjustedAt(name string, t, bayesPre float64) float64 {
	t0 := t - smoothHours/24
	return s.meanWindow(name, t0, t) - (s.meanBayes(t0, t) - bayesPre)
}

// recoveryResult is one variant's recovery after the shift.
type recoveryResult struct {
	pre      float64 // mean window log loss over the preDays before the shift
	bayesPre float64 // mean Bayes-optimal window log loss over the same points
	days     float64 // time from the shift to the recovery, days; NaN: never within the run
	filled   float64 // time the window first held only post-shift examples, days
}

// recovery measures how long after the shift variant's Bayes-adjusted
// window log loss comes back within tol of its pre-shift level: from the
// moment the window holds only post-shift examples (window labelled
// examples after the shift's) and smoothHours more have passed, the
// first point t whose adjusted level, and that of every point up to
// t + sustainHours, is at or below (1+tol)·pre. A t closer than
// sustainHours to the end of the run cannot be confirmed and does not
// count.
func (s *stats) recovery(name string, shiftDay float64, tol float64) recoveryResult {
	t0 := shiftDay - preDays(shiftDay)
	r := recoveryResult{pre: s.meanWindow(name, t0, shiftDay), bayesPre: s.meanBayes(t0, shiftDay),
		days: math.NaN(), filled: math.NaN()}
	if math.IsNaN(r.pre) || math.IsNaN(r.bayesPre) || len(s.points) == 0 {
		return r
	}
	var atShift uint64
	for _, p := range s.points {
		if p.T <= shiftDay {
			atShift = p.Labelled
		}
	}
	// The candidate points and their adjusted levels, in time order.
	var ts, ok []float64
	for _, p := range s.points {
		if p.T < shiftDay || p.Labelled < atShift+uint64(s.window) {
			continue
		}
		if math.IsNaN(r.filled) {
			r.filled = p.T
		}
		if p.T < r.filled+smoothHours/24 {
			continue
		}
		within := 0.0
		if s.adjustedAt(name, p.T, r.bayesPre) <= (1+tol)*r.pre {
			within = 1
		}
		ts = append(ts, p.T)
		ok = append(ok, within)
	}
	end := s.points[len(s.points)-1].T
	for i, t := range ts {
		if t+sustainHours/24 > end {
			break
		}
		held := true
		for j := i; j < len(ts) && ts[j] <= t+sustainHours/24; j++ {
			held = held && ok[j] == 1
		}
		if held {
			r.days = t - shiftDay
			return r
		}
	}
	return r
}

// recorder keeps a per-day sample of the continual learner's training
// examples, for the continual-learning metrics (ACC, BWT, FWT).
type recorder struct {
	perDay int
	seed   uint64
	newM   func() (continual.SparseModel, error) // fresh learners on the runner's schema
	days   [][]sample
	seen   []int
}

type recording struct {
	continual.SparseModel
	rec *recorder
	clk *clock
}

func (r *recording) Learn(x *feature.Example, y float64) {
	r.rec.add(r.clk.day, x, y)
	r.SparseModel.Learn(x, y)
}

// add keeps a reservoir sample of perDay examples of day d.
func (r *recorder) add(d int, x *feature.Example, y float64) {
	for len(r.days) <= d {
		r.days = append(r.days, nil)
		r.seen = append(r.seen, 0)
	}
	r.seen[d]++
	if len(r.days[d]) < r.perDay {
		r.days[d] = append(r.days[d], sample{copyExample(x), y})
		return
	}
	r.seed = r.seed*6364136223846793005 + 1442695040888963407
	if j := int((r.seed >> 33) % uint64(r.seen[d])); j < r.perDay {
		r.days[d][j] = sample{copyExample(x), y}
	}
}

// clMatrix trains a fresh copy of the learner through the days in order
// (on 80% of each day's sample, in stream order) and, after each day,
// measures its AUC on every day's held-out 20%. Accuracy (the metric of
// EvaluateCL) is uninformative at a 5% purchase rate — every model is
// about 95% accurate by predicting "no" — so R holds AUCs.
func (r *recorder) clMatrix() (*continual.CLMatrix, error) {
	T := len(r.days)
	if T < 2 || r.newM == nil {
		return nil, fmt.Errorf("demo: CL metrics need at least 2 days of examples, have %d", T)
	}
	train := make([][]sample, T)
	test := make([][]sample, T)
	names := make([]string, T)
	for d, ss := range r.days {
		names[d] = fmt.Sprintf("day %d", d)
		for i, s := range ss {
			if i%5 == 4 {
				test[d] = append(test[d], s)
			} else {
				train[d] = append(train[d], s)
			}
		}
	}
	m, err := r.newM()
	if err != nil {
		return nil, err
	}
	fresh, err := r.newM()
	if err != nil {
		return nil, err
	}
	baseline := make([]float64, T)
	for j := range test {
		baseline[j] = auc(fresh, test[j])
	}
	R := make([][]float64, T)
	for i := range train {
		for k := range train[i] {
			m.Learn(&train[i][k].x, train[i][k].y)
		}
		R[i] = make([]float64, T)
		for j := range test {
			R[i][j] = auc(m, test[j])
		}
	}
	return continual.NewCLMatrix(names, R, baseline)
}

// auc is the area under the ROC curve of m on ss (ties count half); 0.5
// when a class is missing.
func auc(m continual.SparseModel, ss []sample) float64 {
	type sp struct{ p, y float64 }
	ps := make([]sp, len(ss))
	var pos, neg float64
	for i := range ss {
		ps[i] = sp{m.Predict(&ss[i].x), ss[i].y}
		if ss[i].y >= 0.5 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return 0.5
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].p < ps[b].p })
	var rankSum float64
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].p == ps[i].p {
			j++
		}
		mid := float64(i+j+1) / 2 // mean 1-based rank of the tie group
		for k := i; k < j; k++ {
			if ps[k].y >= 0.5 {
				rankSum += mid
			}
		}
		i = j
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
