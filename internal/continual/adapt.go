package continual

// Adaptation strategies: plain structs wrapping a base learner, each
// itself a learn.Binary (VW-reduction style), so they compose — a Replay
// around a ResetOnDrift, a GuardrailRollback around an EWC, and so on.
//
// Shared conventions:
//   - Learn is prequential inside the wrapper: strategies that monitor the
//     model first score the example with the current model(s), feed the
//     score to their detector or windows, and only then learn. This costs
//     one extra Predict (forward pass) per Learn and per monitored model.
//   - Every change a strategy makes to its model (a reset, a promotion, a
//     learning-rate boost, a consolidation, a rollback) is an Adaptation:
//     kept in a bounded log (the last MaxAdaptations, Adaptations()) and
//     passed to the optional OnAdapt callback, synchronously, on the
//     trainer goroutine. Adaptation.Index is the 0-based position of the
//     triggering example among the wrapper's Learn calls.
//   - Like every learner, a wrapper belongs to one goroutine and never
//     retains the slices passed to it (Replay and EWC copy examples into
//     memory they own, allocated once).
//   - Steady state (no drift, no decision) allocates nothing per Learn or
//     Predict; building a fresh model, taking a snapshot or recording an
//     Adaptation does.

import (
	"errors"
	"fmt"
	"math"

	"github.com/perpetua-ml/perpetua/internal/drift"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Strategy names, the values of Adaptation.Strategy.
const (
	StrategyResetOnDrift       = "reset_on_drift"
	StrategyChampionChallenger = "champion_challenger"
	StrategyLRRewarm           = "lr_rewarm"
	StrategyEWC                = "ewc"
	StrategyGuardrailRollback  = "guardrail_rollback"
)

// Adaptation kinds, the values of Adaptation.Kind.
const (
	// KindReset: the model was replaced by a fresh one (ResetOnDrift).
	KindReset = "reset"
	// KindChallengerStarted: a fresh challenger started training in
	// parallel (ChampionChallenger).
	KindChallengerStarted = "challenger_started"
	// KindPromoted: the challenger replaced the champion. From is the
	// champion's windowed cost, To the challenger's.
	KindPromoted = "promoted"
	// KindDiscarded: the challenger was dropped. From and To as for
	// KindPromoted.
	KindDiscarded = "discarded"
	// KindRewarm: the learning rate was multiplied. From is the base
	// rate, To the boosted one (LRRewarm).
	KindRewarm = "rewarm"
	// KindConsolidated: the Fisher information and the anchor were
	// updated (EWC). From is the mean Fisher value before, To after.
	KindConsolidated = "consolidated"
	// KindRollback: the model was restored to the last good version
	// (GuardrailRollback). From is the live model's windowed cost, To the
	// saved version's on the same examples.
	KindRollback = "rollback"
	// KindRebaseline: the live model kept beating the saved version for
	// longer than the patience while worse than the version's reference,
	// so the change was accepted as a new regime and the live model became
	// the saved version (GuardrailRollback). From is the old reference
	// cost, To the new one.
	KindRebaseline = "rebaseline"
)

// MaxAdaptations is how many Adaptations a wrapper keeps; older ones are
// dropped (OnAdapt sees them all).
const MaxAdaptations = 256

// Adaptation is one change an adaptation strategy made to its model: what
// fired, when, and what changed.
type Adaptation struct {
	// Index is the 0-based position, among the wrapper's Learn calls, of
	// the example that triggered the adaptation.
	Index int64 `json:"index"`
	// Strategy is the strategy that adapted (Strategy* constants).
	Strategy string `json:"strategy"`
	// Kind is what happened (Kind* constants).
	Kind string `json:"kind"`
	// Detail says why and what changed, for people.
	Detail string `json:"detail"`
	// From and To are the quantity the Kind names (a windowed cost, a
	// learning rate) before and after, or zero. They are always finite: a
	// NaN is recorded as 0 and ±Inf as ±math.MaxFloat64 so the event
	// always encodes as JSON.
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// adaptLog keeps the last MaxAdaptations events and calls the callback.
type adaptLog struct {
	strategy string
	onAdapt  func(Adaptation)
	events   []Adaptation // ring once full
	head     int          // oldest event once len(events) == MaxAdaptations
}

func (l *adaptLog) record(index int64, kind string, from, to float64, detail string) {
	a := Adaptation{Index: index, Strategy: l.strategy, Kind: kind, Detail: detail, From: jsonFinite(from), To: jsonFinite(to)}
	if len(l.events) < MaxAdaptations {
		l.events = append(l.events, a)
	} else {
		l.events[l.head] = a
		l.head = (l.head + 1) % MaxAdaptations
	}
	if l.onAdapt != nil {
		l.onAdapt(a)
	}
}

// list returns a copy of the kept events, oldest first.
func (l *adaptLog) list() []Adaptation {
	out := make([]Adaptation, 0, len(l.events))
	out = append(out, l.events[l.head:]...)
	return append(out, l.events[:l.head]...)
}

func jsonFinite(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// Signal chooses the per-example number a strategy feeds its drift
// detector.
type Signal uint8

const (
	// SignalZeroOne is 1 when the prediction thresholded at 0.5 is wrong
	// and 0 when it is right: the input DDM, EDDM and ADWIN expect.
	SignalZeroOne Signal = iota
	// SignalLogLoss is the example's log loss, with p clipped to
	// [metric.Clip, 1-metric.Clip] (so at most about 34.5).
	SignalLogLoss
)

// String returns the signal's configuration name.
func (s Signal) String() string {
	switch s {
	case SignalZeroOne:
		return "zero_one"
	case SignalLogLoss:
		return "log_loss"
	}
	return fmt.Sprintf("Signal(%d)", uint8(s))
}

func (s Signal) valid() bool { return s <= SignalLogLoss }

// value returns the signal of prediction p for label y.
func (s Signal) value(p, y float64) float64 {
	if s == SignalLogLoss {
		return pointLogLoss(p, y)
	}
	if (p >= metric.Threshold) != (y >= metric.Threshold) {
		return 1
	}
	return 0
}

// logLoss is the log loss of p for label y with the metric package's
// clipping.
func pointLogLoss(p, y float64) float64 {
	p = min(max(p, metric.Clip), 1-metric.Clip)
	return -(y*math.Log(p) + (1-y)*math.Log1p(-p))
}

// Criterion chooses the windowed metric strategies compare models on.
// Either way it is read as a cost: lower is better.
type Criterion uint8

const (
	// CriterionLogLoss compares the windowed mean log loss.
	CriterionLogLoss Criterion = iota
	// CriterionAccuracy compares the windowed error rate, 1 − accuracy.
	CriterionAccuracy
)

// String returns the criterion's configuration name.
func (c Criterion) String() string {
	switch c {
	case CriterionLogLoss:
		return "window_log_loss"
	case CriterionAccuracy:
		return "window_error_rate"
	}
	return fmt.Sprintf("Criterion(%d)", uint8(c))
}

func (c Criterion) valid() bool { return c <= CriterionAccuracy }

// costWindow is a sliding-window cost under a Criterion.
type costWindow struct {
	ll  *metric.WindowLogLoss  // CriterionLogLoss
	acc *metric.WindowAccuracy // CriterionAccuracy
}

func newCostWindow(c Criterion, w int) costWindow {
	if c == CriterionAccuracy {
		return costWindow{acc: metric.NewWindowAccuracy(w)}
	}
	return costWindow{ll: metric.NewWindowLogLoss(w)}
}

func (c *costWindow) update(p, y float64) {
	if c.ll != nil {
		c.ll.Update(p, y)
	} else {
		c.acc.Update(p, y)
	}
}

// cost returns the windowed cost, NaN while empty.
func (c *costWindow) cost() float64 {
	if c.ll != nil {
		return c.ll.Value()
	}
	return 1 - c.acc.Value()
}

func (c *costWindow) len() int {
	if c.ll != nil {
		return c.ll.Len()
	}
	return c.acc.Len()
}

func (c *costWindow) reset() {
	if c.ll != nil {
		c.ll.Reset()
	} else {
		c.acc.Reset()
	}
}

// worse reports whether cost a is worse than reference b by more than the
// relative threshold plus the absolute margin. A NaN cost (a diverged
// model) is worse than any number and never better.
func costWorse(a, b, threshold, margin float64) bool {
	if math.IsNaN(a) {
		return !math.IsNaN(b)
	}
	return a > b*(1+threshold)+margin
}

func checkWindowSize(what string, w int) error {
	if w < 0 || w > metric.MaxWindow {
		return fmt.Errorf("continual: %s: Window = %d; want 0 (default) or 1..%d", what, w, metric.MaxWindow)
	}
	return nil
}

func checkFinite(what, field string, v float64, ok bool) error {
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("continual: %s: %s = %v out of range", what, field, v)
	}
	return nil
}

// ---------------------------------------------------------------------------
// ResetOnDrift

// ResetOnDriftConfig configures a ResetOnDrift.
type ResetOnDriftConfig struct {
	// New builds the replacement model (required). It must build models
	// of the base's kind and input size.
	New func() learn.Binary
	// Detector builds the drift detector (required); it is called once.
	Detector func() drift.Detector
	// Signal is what the detector is fed (default SignalZeroOne).
	Signal Signal
	// OnAdapt, if set, is called with every Adaptation.
	OnAdapt func(Adaptation)
}

// Validate reports the first invalid field.
func (c *ResetOnDriftConfig) Validate() error {
	switch {
	case c.New == nil:
		return errors.New("continual: ResetOnDrift: New is required")
	case c.Detector == nil:
		return errors.New("continual: ResetOnDrift: Detector is required")
	case !c.Signal.valid():
		return fmt.Errorf("continual: ResetOnDrift: unknown %v", c.Signal)
	}
	return nil
}

// ResetOnDrift replaces its model with a fresh one whenever its detector,
// fed the model's per-example error, reports a drift. The example that
// triggered the drift is the fresh model's first.
//
// Use a detector that fires only when the error rises (DDM, EDDM,
// Page-Hinkley with PHUp): a two-sided one such as ADWIN also fires when
// the error falls, and each of those resets throws away a model that was
// getting better (on the tests' abrupt-change stream ADWIN reset an MLP
// 8 to 13 times in 12,000 examples, DDM once).
type ResetOnDrift struct {
	cfg   ResetOnDriftConfig
	model learn.Binary
	det   drift.Detector
	n     int64
	log   adaptLog
}

var _ learn.Binary = (*ResetOnDrift)(nil)

// NewResetOnDrift wraps base.
func NewResetOnDrift(base learn.Binary, cfg ResetOnDriftConfig) (*ResetOnDrift, error) {
	if base == nil {
		return nil, errors.New("continual: ResetOnDrift: nil base learner")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	det := cfg.Detector()
	if det == nil {
		return nil, errors.New("continual: ResetOnDrift: Detector returned nil")
	}
	return &ResetOnDrift{cfg: cfg, model: base, det: det, log: adaptLog{strategy: StrategyResetOnDrift, onAdapt: cfg.OnAdapt}}, nil
}

// Predict returns the current model's prediction.
func (r *ResetOnDrift) Predict(x []float32) float64 { return r.model.Predict(x) }

// Learn scores x with the current model, feeds the error to the detector,
// replaces the model on a drift, and then learns x.
func (r *ResetOnDrift) Learn(x []float32, y float64) {
	p := r.model.Predict(x)
	r.det.Update(r.cfg.Signal.value(p, y))
	if r.det.Drift() {
		r.model = r.cfg.New()
		r.det.Reset()
		r.log.record(r.n, KindReset, 0, 0, fmt.Sprintf("drift detected on the %s signal; model replaced by a fresh one", r.cfg.Signal))
	}
	r.model.Learn(x, y)
	r.n++
}

// Model returns the current model.
func (r *ResetOnDrift) Model() learn.Binary { return r.model }

// Adaptations returns the kept adaptations, oldest first.
func (r *ResetOnDrift) Adaptations() []Adaptation { return r.log.list() }

// ---------------------------------------------------------------------------
// ChampionChallenger

// Defaults of ChampionChallengerConfig.
const (
	DefaultChallengeWindow = 500
)

// ChampionChallengerConfig configures a ChampionChallenger. The zero value
// of every field but New and Detector means its default.
type ChampionChallengerConfig struct {
	// New builds challengers (required).
	New func() learn.Binary
	// Detector builds the detector watching the champion (required).
	Detector func() drift.Detector
	// Signal is what the detector is fed (default SignalZeroOne).
	Signal Signal
	// Criterion is what champion and challenger are compared on
	// (default CriterionLogLoss), over the last Window examples both
	// were scored on.
	Criterion Criterion
	// Window is the comparison window (default 500).
	Window int
	// MinShared is the fewest examples both must have been scored on
	// before a drift can decide (default Window/2). A drift that comes
	// earlier defers the decision until then.
	MinShared int
	// MaxTrial judges a challenger after this many shared examples even
	// without a drift (default 4·Window): a warning that never turns into
	// a drift does not keep a challenger forever.
	MaxTrial int
	// Margin is how much lower the challenger's cost must be to be
	// promoted (default 0: strictly lower).
	Margin float64
	// OnAdapt, if set, is called with every Adaptation.
	OnAdapt func(Adaptation)
}

// Validate reports the first invalid field.
func (c *ChampionChallengerConfig) Validate() error {
	const what = "ChampionChallenger"
	switch {
	case c.New == nil:
		return errors.New("continual: ChampionChallenger: New is required")
	case c.Detector == nil:
		return errors.New("continual: ChampionChallenger: Detector is required")
	case !c.Signal.valid():
		return fmt.Errorf("continual: ChampionChallenger: unknown %v", c.Signal)
	case !c.Criterion.valid():
		return fmt.Errorf("continual: ChampionChallenger: unknown %v", c.Criterion)
	case c.MinShared < 0:
		return fmt.Errorf("continual: ChampionChallenger: MinShared = %d; want ≥ 0", c.MinShared)
	case c.MaxTrial < 0:
		return fmt.Errorf("continual: ChampionChallenger: MaxTrial = %d; want ≥ 0", c.MaxTrial)
	}
	if err := checkWindowSize(what, c.Window); err != nil {
		return err
	}
	return checkFinite(what, "Margin", c.Margin, c.Margin >= 0)
}

func (c ChampionChallengerConfig) withDefaults() ChampionChallengerConfig {
	if c.Window == 0 {
		c.Window = DefaultChallengeWindow
	}
	if c.MinShared == 0 {
		c.MinShared = max(c.Window/2, 1)
	}
	if c.MaxTrial == 0 {
		c.MaxTrial = 4 * c.Window
	}
	c.MaxTrial = max(c.MaxTrial, c.MinShared)
	return c
}

// ChampionChallenger serves and trains a champion; when the detector
// watching the champion's errors enters its warning zone (or drifts, for
// detectors without one) it starts a fresh challenger trained in parallel
// on the same examples. At the next drift (once both have been scored on
// MinShared examples), or after MaxTrial shared examples, the challenger
// replaces the champion if its windowed cost over the examples both saw is
// lower by more than Margin; otherwise it is discarded. Predictions always
// come from the champion.
type ChampionChallenger struct {
	cfg        ChampionChallengerConfig
	champion   learn.Binary
	challenger learn.Binary // nil when none
	det        drift.Detector
	champWin   costWindow // champion's cost over the examples the challenger was scored on
	chalWin    costWindow
	shared     int  // examples both were scored on
	pending    bool // a drift came while the challenger was too young
	n          int64
	log        adaptLog
}

var _ learn.Binary = (*ChampionChallenger)(nil)

// NewChampionChallenger wraps champion.
func NewChampionChallenger(champion learn.Binary, cfg ChampionChallengerConfig) (*ChampionChallenger, error) {
	if champion == nil {
		return nil, errors.New("continual: ChampionChallenger: nil champion")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	det := cfg.Detector()
	if det == nil {
		return nil, errors.New("continual: ChampionChallenger: Detector returned nil")
	}
	return &ChampionChallenger{
		cfg: cfg, champion: champion, det: det,
		champWin: newCostWindow(cfg.Criterion, cfg.Window),
		chalWin:  newCostWindow(cfg.Criterion, cfg.Window),
		log:      adaptLog{strategy: StrategyChampionChallenger, onAdapt: cfg.OnAdapt},
	}, nil
}

// Predict returns the champion's prediction.
func (c *ChampionChallenger) Predict(x []float32) float64 { return c.champion.Predict(x) }

// Learn scores x with the champion (and the challenger, if any), updates
// the detector and the comparison windows, trains both, and then starts,
// promotes or discards a challenger as the detector says.
func (c *ChampionChallenger) Learn(x []float32, y float64) {
	p := c.champion.Predict(x)
	c.det.Update(c.cfg.Signal.value(p, y))
	if c.challenger != nil {
		c.champWin.update(p, y)
		c.chalWin.update(c.challenger.Predict(x), y)
		c.shared++
	}
	warn, drifted := c.det.Warning(), c.det.Drift()
	if c.challenger == nil && (warn || drifted) {
		c.challenger = c.cfg.New()
		c.champWin.reset()
		c.chalWin.reset()
		c.shared, c.pending = 0, false
		why := "warning"
		if drifted {
			why = "drift (no warning before it)"
		}
		c.log.record(c.n, KindChallengerStarted, 0, 0, fmt.Sprintf("%s on the champion's %s signal; fresh challenger training in parallel", why, c.cfg.Signal))
	}
	if drifted {
		c.pending = true
		c.det.Reset()
	}
	c.champion.Learn(x, y)
	if c.challenger != nil {
		c.challenger.Learn(x, y)
		if (c.pending && c.shared >= c.cfg.MinShared) || c.shared >= c.cfg.MaxTrial {
			c.decide()
		}
	}
	c.n++
}

// decide promotes or discards the challenger.
func (c *ChampionChallenger) decide() {
	champ, chal := c.champWin.cost(), c.chalWin.cost()
	why := "after a drift"
	if !c.pending {
		why = "at the end of its trial (no drift)"
	}
	crit := c.cfg.Criterion
	if costWorse(champ, chal, 0, c.cfg.Margin) {
		c.champion = c.challenger
		c.det.Reset() // its statistics described the old champion
		c.log.record(c.n, KindPromoted, champ, chal, fmt.Sprintf("%s: challenger %s %.4g beats champion %.4g (margin %g) over the last %d of %d shared examples; promoted",
			why, crit, chal, champ, c.cfg.Margin, c.champWin.len(), c.shared))
	} else {
		c.log.record(c.n, KindDiscarded, champ, chal, fmt.Sprintf("%s: challenger %s %.4g does not beat champion %.4g (margin %g) over the last %d of %d shared examples; discarded",
			why, crit, chal, champ, c.cfg.Margin, c.champWin.len(), c.shared))
	}
	c.challenger = nil
	c.shared, c.pending = 0, false
}

// Champion returns the model serving predictions.
func (c *ChampionChallenger) Champion() learn.Binary { return c.champion }

// Challenger returns the challenger in training, or nil.
func (c *ChampionChallenger) Challenger() learn.Binary { return c.challenger }

// Adaptations returns the kept adaptations, oldest first.
func (c *ChampionChallenger) Adaptations() []Adaptation { return c.log.list() }

// ---------------------------------------------------------------------------
// LRRewarm

// LearnRater is implemented by learners whose learning rate can be changed
// between Learn calls (LRRewarm needs it). SetLearnRate takes effect from
// the next Learn; it must not allocate.
type LearnRater interface {
	LearnRate() float64
	SetLearnRate(lr float64)
}

// Defaults of LRRewarmConfig.
const (
	DefaultRewarmFactor = 10
	DefaultRewarmDecay  = 1000
)

// LRRewarmConfig configures an LRRewarm. Zero values mean the defaults.
type LRRewarmConfig struct {
	// Detector builds the drift detector (required).
	Detector func() drift.Detector
	// Signal is what the detector is fed (default SignalZeroOne).
	Signal Signal
	// Factor multiplies the learning rate at a drift (default 10).
	Factor float64
	// Decay is the number of examples over which the multiplier decays
	// geometrically from Factor back to 1 (default 1000).
	Decay int
	// OnAdapt, if set, is called with every Adaptation.
	OnAdapt func(Adaptation)
}

// Validate reports the first invalid field.
func (c *LRRewarmConfig) Validate() error {
	switch {
	case c.Detector == nil:
		return errors.New("continual: LRRewarm: Detector is required")
	case !c.Signal.valid():
		return fmt.Errorf("continual: LRRewarm: unknown %v", c.Signal)
	case c.Decay < 0:
		return fmt.Errorf("continual: LRRewarm: Decay = %d; want ≥ 0", c.Decay)
	}
	return checkFinite("LRRewarm", "Factor", c.Factor, c.Factor == 0 || c.Factor >= 1)
}

func (c LRRewarmConfig) withDefaults() LRRewarmConfig {
	if c.Factor == 0 {
		c.Factor = DefaultRewarmFactor
	}
	if c.Decay == 0 {
		c.Decay = DefaultRewarmDecay
	}
	return c
}

// LRRewarm multiplies its base learner's learning rate by Factor when its
// detector reports a drift, then decays the multiplier geometrically back
// to 1 over Decay examples: the k-th example after the drift (k = 0 is the
// drifting one) is learned with rate base·Factor^(1−k/Decay), and from
// k = Decay on with the base rate exactly. A drift during the decay starts
// it again. The base rate is the learner's rate when it was wrapped.
type LRRewarm struct {
	cfg      LRRewarmConfig
	base     learn.Binary
	lr       LearnRater
	baseRate float64
	det      drift.Detector
	left     int // examples left in the decay; 0 when at the base rate
	n        int64
	log      adaptLog
}

var _ learn.Binary = (*LRRewarm)(nil)

// NewLRRewarm wraps base, which must implement LearnRater.
func NewLRRewarm(base learn.Binary, cfg LRRewarmConfig) (*LRRewarm, error) {
	lr, ok := base.(LearnRater)
	if !ok {
		return nil, fmt.Errorf("continual: LRRewarm: %T does not implement LearnRater (LearnRate/SetLearnRate)", base)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	det := cfg.Detector()
	if det == nil {
		return nil, errors.New("continual: LRRewarm: Detector returned nil")
	}
	return &LRRewarm{cfg: cfg, base: base, lr: lr, baseRate: lr.LearnRate(), det: det,
		log: adaptLog{strategy: StrategyLRRewarm, onAdapt: cfg.OnAdapt}}, nil
}

// Predict returns the base learner's prediction.
func (r *LRRewarm) Predict(x []float32) float64 { return r.base.Predict(x) }

// Learn scores x, feeds the error to the detector, sets the learning rate
// of this step, and learns x.
func (r *LRRewarm) Learn(x []float32, y float64) {
	p := r.base.Predict(x)
	r.det.Update(r.cfg.Signal.value(p, y))
	if r.det.Drift() {
		r.det.Reset()
		r.left = r.cfg.Decay
		r.log.record(r.n, KindRewarm, r.baseRate, r.baseRate*r.cfg.Factor,
			fmt.Sprintf("drift on the %s signal; learning rate ×%g, decaying back to %g over %d examples", r.cfg.Signal, r.cfg.Factor, r.baseRate, r.cfg.Decay))
	}
	if r.left > 0 {
		r.lr.SetLearnRate(r.baseRate * math.Pow(r.cfg.Factor, float64(r.left)/float64(r.cfg.Decay)))
		r.left--
		r.base.Learn(x, y)
		if r.left == 0 {
			r.lr.SetLearnRate(r.baseRate)
		}
	} else {
		r.base.Learn(x, y)
	}
	r.n++
}

// Multiplier returns the factor the next Learn will apply to the base
// rate if no drift comes (1 outside a decay).
func (r *LRRewarm) Multiplier() float64 {
	if r.left == 0 {
		return 1
	}
	return math.Pow(r.cfg.Factor, float64(r.left)/float64(r.cfg.Decay))
}

// Adaptations returns the kept adaptations, oldest first.
func (r *LRRewarm) Adaptations() []Adaptation { return r.log.list() }

// ---------------------------------------------------------------------------
// GuardrailRollback

// Defaults of GuardrailConfig.
const (
	DefaultGuardrailWindow    = 200
	DefaultGuardrailThreshold = 0.1
	DefaultGuardrailMargin    = 0.01
)

// GuardrailConfig configures a GuardrailRollback. Zero values mean the
// defaults.
type GuardrailConfig struct {
	// New builds the instance that holds the saved version: the live
	// model's state is copied into it with learn.Snapshotter
	// (SaveTensors, LoadTensors), and back on a rollback. Required
	// unless Clone is set; the base must then be a learn.Snapshotter.
	New func() learn.Binary
	// Clone, if set, is used instead: the saved version is Clone(live)
	// and a rollback replaces the live model by Clone(saved).
	Clone func(learn.Binary) learn.Binary
	// Criterion is the windowed metric watched (default CriterionLogLoss).
	Criterion Criterion
	// Window is the size of the windows compared (default 200).
	Window int
	// Check is the number of examples between checks (default Window/5).
	Check int
	// Threshold and Margin define "worse": cost a is worse than b when
	// a > b·(1+Threshold) + Margin (defaults 0.1 and 0.01).
	Threshold, Margin float64
	// Patience is how long (in examples) the live model may beat the
	// saved version while being worse than the version's reference
	// before the change is accepted as a new regime (default 10·Window).
	// A degradation shorter than Patience — a poisoned or broken stretch
	// of labels — is rolled back once it ends; a longer one is adopted.
	Patience int
	// OnAdapt, if set, is called with every Adaptation.
	OnAdapt func(Adaptation)
}

// Validate reports the first invalid field.
func (c *GuardrailConfig) Validate() error {
	const what = "GuardrailRollback"
	switch {
	case c.New == nil && c.Clone == nil:
		return errors.New("continual: GuardrailRollback: New or Clone is required")
	case !c.Criterion.valid():
		return fmt.Errorf("continual: GuardrailRollback: unknown %v", c.Criterion)
	case c.Check < 0:
		return fmt.Errorf("continual: GuardrailRollback: Check = %d; want ≥ 0", c.Check)
	case c.Patience < 0:
		return fmt.Errorf("continual: GuardrailRollback: Patience = %d; want ≥ 0", c.Patience)
	}
	if err := checkWindowSize(what, c.Window); err != nil {
		return err
	}
	if err := checkFinite(what, "Threshold", c.Threshold, c.Threshold >= 0); err != nil {
		return err
	}
	return checkFinite(what, "Margin", c.Margin, c.Margin >= 0)
}

func (c GuardrailConfig) withDefaults() GuardrailConfig {
	if c.Window == 0 {
		c.Window = DefaultGuardrailWindow
	}
	if c.Check == 0 {
		c.Check = max(c.Window/5, 1)
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultGuardrailThreshold
	}
	if c.Margin == 0 {
		c.Margin = DefaultGuardrailMargin
	}
	if c.Patience == 0 {
		c.Patience = 10 * c.Window
	}
	return c
}

// GuardrailRollback keeps the last good version of its model and rolls
// back to it when the live model gets worse than that version.
//
// The saved version is scored in shadow on every example the live model is
// scored on, so the two are always compared on the same recent examples.
// Every Check examples, once both windows are full:
//   - if the live cost is worse than the saved version's, the live model is
//     rolled back to the saved version (KindRollback);
//   - else, if the live cost is no worse than the reference (the live cost
//     when the version was saved) and no worse than the saved version's,
//     and at least Window examples passed since the last save, the live
//     model becomes the saved version and its cost the new reference: the
//     windowed metric is good;
//   - else, if the live model beats the saved version while worse than
//     the reference for Patience examples in a row, the regime has
//     changed for good: the live model is saved with a new reference
//     (KindRebaseline).
//
// Comparing with the saved version's current cost, not only its old one,
// keeps a genuine concept change (where every version gets worse) from
// being rolled back. Before the first full window there is no saved
// version; the first check saves one. Each save or rollback restarts both
// windows. Scoring the saved version costs one more Predict per Learn; a
// save or a rollback allocates (the snapshot copies), at most once per
// Window examples.
type GuardrailRollback struct {
	cfg   GuardrailConfig
	live  learn.Binary
	saved learn.Binary // the saved version; nil before the first save
	set   *tensor.Set  // the saved state (Snapshotter path)

	liveWin, savedWin costWindow
	ref               float64 // live cost when the saved version was taken
	savedAt           int64   // index of the save
	sinceCheck        int
	outperform        int // examples the live model has beaten the saved one while degraded
	n                 int64
	log               adaptLog
}

var _ learn.Binary = (*GuardrailRollback)(nil)

// NewGuardrailRollback wraps base.
func NewGuardrailRollback(base learn.Binary, cfg GuardrailConfig) (*GuardrailRollback, error) {
	if base == nil {
		return nil, errors.New("continual: GuardrailRollback: nil base learner")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &GuardrailRollback{cfg: cfg, live: base,
		liveWin: newCostWindow(cfg.Criterion, cfg.Window), savedWin: newCostWindow(cfg.Criterion, cfg.Window),
		log: adaptLog{strategy: StrategyGuardrailRollback, onAdapt: cfg.OnAdapt}}
	if cfg.Clone == nil {
		if _, ok := base.(learn.Snapshotter); !ok {
			return nil, fmt.Errorf("continual: GuardrailRollback: %T is not a learn.Snapshotter; set Clone", base)
		}
		g.set = new(tensor.Set)
	}
	return g, nil
}

// Predict returns the live model's prediction.
func (g *GuardrailRollback) Predict(x []float32) float64 { return g.live.Predict(x) }

// Learn scores x with the live model and the saved version, learns x with
// the live model, and checks every Check examples.
func (g *GuardrailRollback) Learn(x []float32, y float64) {
	g.liveWin.update(g.live.Predict(x), y)
	if g.saved != nil {
		g.savedWin.update(g.saved.Predict(x), y)
	}
	g.live.Learn(x, y)
	g.sinceCheck++
	if g.sinceCheck >= g.cfg.Check && g.liveWin.len() >= g.cfg.Window {
		g.sinceCheck = 0
		g.check()
	}
	g.n++
}

func (g *GuardrailRollback) check() {
	live := g.liveWin.cost()
	if g.saved == nil {
		g.save(live)
		return
	}
	saved := g.savedWin.cost()
	th, mg := g.cfg.Threshold, g.cfg.Margin
	switch {
	case costWorse(live, saved, th, mg):
		g.rollback(live, saved)
	case !costWorse(live, g.ref, th, mg) && !costWorse(live, saved, 0, 0):
		g.outperform = 0
		if g.n-g.savedAt >= int64(g.cfg.Window) {
			g.save(live)
		}
	case costWorse(saved, live, 0, 0):
		g.outperform += g.cfg.Check
		if g.outperform >= g.cfg.Patience {
			detail := fmt.Sprintf("live model beat the version taken at example %d for %d examples while its %s stayed worse than that version's reference %.4g; accepted as a new regime with reference %.4g",
				g.savedAt, g.outperform, g.cfg.Criterion, g.ref, live)
			old := g.ref
			g.save(live)
			g.log.record(g.n, KindRebaseline, old, live, detail)
		}
	default:
		g.outperform = 0
	}
}

// save makes the live model the saved version with reference cost ref.
func (g *GuardrailRollback) save(ref float64) {
	if g.cfg.Clone != nil {
		g.saved = g.cfg.Clone(g.live)
	} else {
		if g.saved == nil {
			g.saved = g.cfg.New()
		}
		g.live.(learn.Snapshotter).SaveTensors(g.set, "")
		loadInto(g.saved, g.set)
	}
	g.ref, g.savedAt, g.outperform = ref, g.n, 0
	g.liveWin.reset()
	g.savedWin.reset()
}

func (g *GuardrailRollback) rollback(live, saved float64) {
	if g.cfg.Clone != nil {
		g.live = g.cfg.Clone(g.saved)
	} else {
		loadInto(g.live, g.set)
	}
	g.log.record(g.n, KindRollback, live, saved, fmt.Sprintf("live %s %.4g worse than %.4g of the version taken at example %d (threshold %g, margin %g); rolled back to it",
		g.cfg.Criterion, live, saved, g.savedAt, g.cfg.Threshold, g.cfg.Margin))
	g.outperform = 0
	g.liveWin.reset()
	g.savedWin.reset()
}

// load restores s into m. A failure means New builds models unlike the
// base: a programmer error.
func loadInto(m learn.Binary, s *tensor.Set) {
	sn, ok := m.(learn.Snapshotter)
	if !ok {
		panic(fmt.Sprintf("continual: GuardrailRollback: New built a %T, which is not a learn.Snapshotter", m))
	}
	if err := sn.LoadTensors(s, ""); err != nil {
		panic(fmt.Sprintf("continual: GuardrailRollback: New builds models unlike the base: %v", err))
	}
}

// Model returns the live model.
func (g *GuardrailRollback) Model() learn.Binary { return g.live }

// Saved returns the index of the example at which the saved version was
// taken and its reference cost; ok is false before the first save.
func (g *GuardrailRollback) Saved() (index int64, ref float64, ok bool) {
	return g.savedAt, g.ref, g.saved != nil
}

// Adaptations returns the kept adaptations, oldest first.
func (g *GuardrailRollback) Adaptations() []Adaptation { return g.log.list() }
