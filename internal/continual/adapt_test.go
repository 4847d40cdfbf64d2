package continual

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/drift"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/baseline"
	"github.com/perpetua-ml/perpetua/internal/learn/linear"
	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")

// ---------------------------------------------------------------------------
// Test doubles and streams shared by the strategy tests.

// scripted is a detector that reports a warning or a drift at given
// Update numbers (0-based), and records its inputs.
type scripted struct {
	warnAt, driftAt map[int]bool
	n               int
	warn, drift     bool
	resets          int
	last            float64
}

func newScripted(warnAt, driftAt []int) *scripted {
	s := &scripted{warnAt: map[int]bool{}, driftAt: map[int]bool{}}
	for _, i := range warnAt {
		s.warnAt[i] = true
	}
	for _, i := range driftAt {
		s.driftAt[i] = true
	}
	return s
}

func (s *scripted) Update(v float64) {
	s.last = v
	s.warn, s.drift = s.warnAt[s.n], s.driftAt[s.n]
	s.n++
}
func (s *scripted) Drift() bool   { return s.drift }
func (s *scripted) Warning() bool { return s.warn }
func (s *scripted) Reset()        { s.resets++ }

// quiet is a detector that never fires.
type quiet struct{}

func (quiet) Update(float64) {}
func (quiet) Drift() bool    { return false }
func (quiet) Warning() bool  { return false }
func (quiet) Reset()         {}

func quietDetector() drift.Detector { return quiet{} }

// sgdLogit is logistic regression with plain SGD and a settable learning
// rate: the test learner for LRRewarm (mlp and linear have no
// SetLearnRate).
type sgdLogit struct {
	w      []float64 // weights, then the intercept
	lr     float64
	rates  []float64 // learning rate of every Learn, when recording
	record bool
}

func newSGDLogit(dim int, lr float64) *sgdLogit { return &sgdLogit{w: make([]float64, dim+1), lr: lr} }

func (l *sgdLogit) logit(x []float32) float64 {
	if len(x)+1 != len(l.w) {
		panic("sgdLogit: wrong length")
	}
	z := l.w[len(x)]
	for i, v := range x {
		z += l.w[i] * float64(v)
	}
	return z
}

func (l *sgdLogit) Predict(x []float32) float64 { return 1 / (1 + math.Exp(-l.logit(x))) }

func (l *sgdLogit) Learn(x []float32, y float64) {
	if l.record {
		l.rates = append(l.rates, l.lr)
	}
	g := l.Predict(x) - y
	for i, v := range x {
		l.w[i] -= l.lr * g * float64(v)
	}
	l.w[len(x)] -= l.lr * g
}

func (l *sgdLogit) LearnRate() float64      { return l.lr }
func (l *sgdLogit) SetLearnRate(lr float64) { l.lr = lr }

// concept is a noisy linear rule over dim features in [0, 1]: y = 1 when
// w·(x − 0.5) > 0, flipped with probability noise.
type concept struct {
	w     []float64
	noise float64
}

func newConcept(r *rand.Rand, dim int, noise float64) concept {
	w := make([]float64, dim)
	for i := range w {
		w[i] = r.NormFloat64()
	}
	return concept{w: w, noise: noise}
}

func (c concept) label(r *rand.Rand, x []float32) float64 {
	var z float64
	for i, v := range x {
		z += c.w[i] * (float64(v) - 0.5)
	}
	y := 0.0
	if z > 0 {
		y = 1
	}
	if r.Float64() < c.noise {
		y = 1 - y
	}
	return y
}

// abrupt returns n examples over dim features: a random concept before
// change, its reverse (every label flipped, up to noise) from change on.
func abrupt(seed uint64, dim, n, change int, noise float64) (xs [][]float32, ys []float64) {
	r := rand.New(rand.NewPCG(seed, 0xab))
	a := newConcept(r, dim, noise)
	b := concept{w: make([]float64, dim), noise: noise}
	for i, w := range a.w {
		b.w[i] = -w
	}
	for i := range n {
		x := make([]float32, dim)
		for j := range x {
			x[j] = float32(r.Float64())
		}
		c := a
		if i >= change {
			c = b
		}
		xs, ys = append(xs, x), append(ys, c.label(r, x))
	}
	return xs, ys
}

// prequential runs l over the stream (predict, then learn) and returns the
// per-example log losses.
func prequential(l learn.Binary, xs [][]float32, ys []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = pointLogLoss(l.Predict(x), ys[i])
		l.Learn(x, ys[i])
	}
	return out
}

func meanOf(v []float64) float64 { return vecMean(v) }

func newMLP(t testing.TB, dim int, seed uint64) *mlp.MLP {
	t.Helper()
	m, err := mlp.New(dim, mlp.Config{Hidden: []int{16}, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ddm() drift.Detector { return drift.NewDDM(drift.DDMConfig{}) }

// ---------------------------------------------------------------------------
// Shared pieces.

func TestSignalValue(t *testing.T) {
	for _, tc := range []struct {
		s       Signal
		p, y    float64
		want    float64
		epsilon float64
	}{
		{SignalZeroOne, 0.9, 1, 0, 0},
		{SignalZeroOne, 0.5, 1, 0, 0},
		{SignalZeroOne, 0.49, 1, 1, 0},
		{SignalZeroOne, 0.5, 0, 1, 0},
		{SignalZeroOne, 0.1, 0, 0, 0},
		{SignalZeroOne, math.NaN(), 0, 0, 0},
		{SignalLogLoss, 0.5, 1, math.Ln2, 1e-15},
		{SignalLogLoss, 0.25, 0, -math.Log(0.75), 1e-15},
		{SignalLogLoss, 0, 1, -math.Log(metric.Clip), 1e-9},
		{SignalLogLoss, 1, 0, -math.Log(metric.Clip), 1e-2},
		{SignalLogLoss, 0.8, 0.5, -(0.5*math.Log(0.8) + 0.5*math.Log(0.2)), 1e-15},
	} {
		if got := tc.s.value(tc.p, tc.y); math.Abs(got-tc.want) > tc.epsilon {
			t.Errorf("%v.value(%v, %v) = %v; want %v", tc.s, tc.p, tc.y, got, tc.want)
		}
	}
}

func TestAdaptationLog(t *testing.T) {
	var seen []Adaptation
	l := adaptLog{strategy: "s", onAdapt: func(a Adaptation) { seen = append(seen, a) }}
	n := MaxAdaptations + 10
	for i := range n {
		l.record(int64(i), "k", float64(i), math.NaN(), fmt.Sprint(i))
	}
	if len(seen) != n {
		t.Fatalf("OnAdapt called %d times; want %d", len(seen), n)
	}
	got := l.list()
	if len(got) != MaxAdaptations {
		t.Fatalf("list() has %d events; want %d", len(got), MaxAdaptations)
	}
	for i, a := range got {
		if want := int64(i + 10); a.Index != want || a.Strategy != "s" || a.To != 0 {
			t.Fatalf("list()[%d] = %+v; want index %d, strategy s, To 0 (NaN sanitised)", i, a, want)
		}
	}
	l.record(0, "k", math.Inf(1), math.Inf(-1), "")
	b, err := json.Marshal(l.list())
	if err != nil {
		t.Fatalf("json.Marshal(events with infinities) = %v", err)
	}
	if !strings.Contains(string(b), `"from":1.7976931348623157e+308`) {
		t.Errorf("+Inf not recorded as MaxFloat64: %s", b[len(b)-200:])
	}
}

func TestWorse(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		a, b, th, mg float64
		want         bool
	}{
		{1, 1, 0, 0, false},
		{1.1, 1, 0, 0, true},
		{1.1, 1, 0.1, 0, false},
		{1.11, 1, 0.1, 0.01, false},
		{1.12, 1, 0.1, 0.01, true},
		{nan, 1, 0, 0, true},
		{1, nan, 0, 0, false},
		{nan, nan, 0, 0, false},
	} {
		if got := costWorse(tc.a, tc.b, tc.th, tc.mg); got != tc.want {
			t.Errorf("costWorse(%v, %v, %v, %v) = %v; want %v", tc.a, tc.b, tc.th, tc.mg, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	newL := func() learn.Binary { return newSGDLogit(2, 0.1) }
	for _, tc := range []struct {
		name string
		err  error
		want string // substring; "" means valid
	}{
		{"reset ok", (&ResetOnDriftConfig{New: newL, Detector: quietDetector}).Validate(), ""},
		{"reset no New", (&ResetOnDriftConfig{Detector: quietDetector}).Validate(), "New is required"},
		{"reset no Detector", (&ResetOnDriftConfig{New: newL}).Validate(), "Detector is required"},
		{"reset bad signal", (&ResetOnDriftConfig{New: newL, Detector: quietDetector, Signal: 9}).Validate(), "Signal(9)"},
		{"cc ok", (&ChampionChallengerConfig{New: newL, Detector: quietDetector}).Validate(), ""},
		{"cc window", (&ChampionChallengerConfig{New: newL, Detector: quietDetector, Window: -1}).Validate(), "Window = -1"},
		{"cc margin", (&ChampionChallengerConfig{New: newL, Detector: quietDetector, Margin: math.NaN()}).Validate(), "Margin = NaN"},
		{"cc criterion", (&ChampionChallengerConfig{New: newL, Detector: quietDetector, Criterion: 7}).Validate(), "Criterion(7)"},
		{"cc min shared", (&ChampionChallengerConfig{New: newL, Detector: quietDetector, MinShared: -1}).Validate(), "MinShared"},
		{"lr ok", (&LRRewarmConfig{Detector: quietDetector}).Validate(), ""},
		{"lr factor", (&LRRewarmConfig{Detector: quietDetector, Factor: 0.5}).Validate(), "Factor = 0.5"},
		{"lr decay", (&LRRewarmConfig{Detector: quietDetector, Decay: -3}).Validate(), "Decay = -3"},
		{"guard ok", (&GuardrailConfig{New: newL}).Validate(), ""},
		{"guard none", (&GuardrailConfig{}).Validate(), "New or Clone"},
		{"guard threshold", (&GuardrailConfig{New: newL, Threshold: -1}).Validate(), "Threshold = -1"},
		{"guard patience", (&GuardrailConfig{New: newL, Patience: -1}).Validate(), "Patience"},
		{"replay ok", (&ReplayConfig{}).Validate(), ""},
		{"replay capacity", (&ReplayConfig{Capacity: -1}).Validate(), "Capacity = -1"},
		{"replay policy", (&ReplayConfig{Policy: 5}).Validate(), "ReplayPolicy(5)"},
		{"replay balanced 1", (&ReplayConfig{Policy: ReplayClassBalanced, Capacity: 1}).Validate(), "Capacity ≥ 2"},
		{"replay ratio", (&ReplayConfig{Ratio: math.Inf(1)}).Validate(), "Ratio = +Inf"},
		{"ewc ok", (&EWCConfig{}).Validate(), ""},
		{"ewc gamma", (&EWCConfig{Gamma: 1.5}).Validate(), "Gamma = 1.5"},
		{"ewc lambda", (&EWCConfig{Lambda: -1}).Validate(), "Lambda = -1"},
		{"ewc every", (&EWCConfig{Every: -1}).Validate(), "Every = -1"},
		{"ewc fisher", (&EWCConfig{Fisher: 4}).Validate(), "FisherEstimate(4)"},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: Validate() = %v; want nil", tc.name, tc.err)
		case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) || !strings.HasPrefix(tc.err.Error(), "continual: ")):
			t.Errorf("%s: Validate() = %v; want an error prefixed continual: containing %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestConstructorErrors(t *testing.T) {
	newL := func() learn.Binary { return newSGDLogit(2, 0.1) }
	nilDet := func() drift.Detector { return nil }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"reset nil base", second(NewResetOnDrift(nil, ResetOnDriftConfig{New: newL, Detector: quietDetector})), "nil base"},
		{"reset nil detector", second(NewResetOnDrift(newL(), ResetOnDriftConfig{New: newL, Detector: nilDet})), "Detector returned nil"},
		{"cc nil champion", second(NewChampionChallenger(nil, ChampionChallengerConfig{New: newL, Detector: quietDetector})), "nil champion"},
		{"lr not a LearnRater", second(NewLRRewarm(new(baseline.NoChange), LRRewarmConfig{Detector: quietDetector})), "does not implement LearnRater"},
		{"guard not a snapshotter", second(NewGuardrailRollback(newL(), GuardrailConfig{New: newL})), "not a learn.Snapshotter"},
		{"replay nil base", second(NewReplay(nil, ReplayConfig{})), "nil base"},
		{"ewc nil base", second(NewEWC(nil, EWCConfig{})), "nil base"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error = %v; want one containing %q", tc.name, tc.err, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// ---------------------------------------------------------------------------
// Drift scenarios: an abrupt change of concept at example change.

const (
	scenarioDim    = 8
	scenarioN      = 12000
	scenarioChange = 6000
	scenarioNoise  = 0.05
	// The windows over which adaptation is judged: the first examples
	// after the change.
	afterChange = 1500
)

func scenario(seed uint64) ([][]float32, []float64) {
	return abrupt(seed, scenarioDim, scenarioN, scenarioChange, scenarioNoise)
}

// afterLoss is the mean prequential log loss over the afterChange
// examples following the change.
func afterLoss(losses []float64) float64 {
	return meanOf(losses[scenarioChange : scenarioChange+afterChange])
}

func TestResetOnDriftAdaptsFaster(t *testing.T) {
	for _, tc := range []struct {
		name   string
		det    func() drift.Detector
		signal Signal
	}{
		{"ddm", ddm, SignalZeroOne},
		{"adwin", func() drift.Detector { return drift.NewADWIN(drift.ADWINConfig{}) }, SignalZeroOne},
		{"page_hinkley_up_log_loss", func() drift.Detector { return drift.NewPageHinkley(drift.PageHinkleyConfig{Mode: drift.PHUp}) }, SignalLogLoss},
	} {
		for _, seed := range []uint64{1, 2} {
			xs, ys := scenario(seed)
			plain := afterLoss(prequential(newMLP(t, scenarioDim, seed), xs, ys))
			r, err := NewResetOnDrift(newMLP(t, scenarioDim, seed), ResetOnDriftConfig{
				New:      func() learn.Binary { return newMLP(t, scenarioDim, seed) },
				Detector: tc.det,
				Signal:   tc.signal,
			})
			if err != nil {
				t.Fatal(err)
			}
			adapted := afterLoss(prequential(r, xs, ys))
			var resets []int64
			for _, a := range r.Adaptations() {
				if a.Kind == KindReset && a.Strategy == StrategyResetOnDrift {
					resets = append(resets, a.Index)
				}
			}
			t.Logf("%s, seed %d: log loss over the %d examples after the change: plain %.4f, reset on drift %.4f; resets at %v", tc.name, seed, afterChange, plain, adapted, resets)
			if !(adapted < plain*0.9) {
				t.Errorf("%s, seed %d: ResetOnDrift log loss after the change = %.4f; want < 0.9 × plain %.4f", tc.name, seed, adapted, plain)
			}
			if !hasIndexIn(resets, scenarioChange, scenarioChange+afterChange/2) {
				t.Errorf("%s, seed %d: resets at %v; want one within %d examples after the change at %d", tc.name, seed, resets, afterChange/2, scenarioChange)
			}
		}
	}
}

func hasIndexIn(idx []int64, lo, hi int) bool {
	for _, i := range idx {
		if i >= int64(lo) && i < int64(hi) {
			return true
		}
	}
	return false
}

func TestResetOnDriftReplacesModel(t *testing.T) {
	built := 0
	first := newSGDLogit(2, 0.1)
	det := newScripted(nil, []int{3})
	r, err := NewResetOnDrift(first, ResetOnDriftConfig{
		New:      func() learn.Binary { built++; return newSGDLogit(2, 0.1) },
		Detector: func() drift.Detector { return det },
		Signal:   SignalLogLoss,
	})
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 0}
	for range 3 {
		r.Learn(x, 1)
	}
	if r.Model() != first || built != 0 {
		t.Fatalf("model replaced before the drift")
	}
	r.Learn(x, 1) // update 3: drift
	if r.Model() == learn.Binary(first) || built != 1 || det.resets != 1 {
		t.Fatalf("after the drift: same model %v, built %d, resets %d; want a new model, 1, 1", r.Model() == learn.Binary(first), built, det.resets)
	}
	if got := r.Model().Predict(x); !(got > 0.5) {
		t.Errorf("the fresh model did not learn the drifting example: Predict = %v", got)
	}
	if d := det.last; d != pointLogLoss(first.Predict(x), 1) {
		t.Errorf("detector fed %v; want the old model's log loss %v", d, pointLogLoss(first.Predict(x), 1))
	}
	a := r.Adaptations()
	if len(a) != 1 || a[0].Index != 3 || a[0].Kind != KindReset {
		t.Errorf("Adaptations() = %+v; want one reset at index 3", a)
	}
}

func TestChampionChallengerAdaptsFaster(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		xs, ys := scenario(seed)
		plain := afterLoss(prequential(newMLP(t, scenarioDim, seed), xs, ys))
		c, err := NewChampionChallenger(newMLP(t, scenarioDim, seed), ChampionChallengerConfig{
			New:      func() learn.Binary { return newMLP(t, scenarioDim, seed) },
			Detector: ddm,
			Window:   200,
		})
		if err != nil {
			t.Fatal(err)
		}
		adapted := afterLoss(prequential(c, xs, ys))
		t.Logf("seed %d: log loss over the %d examples after the change: plain %.4f, champion/challenger %.4f", seed, afterChange, plain, adapted)
		for _, a := range c.Adaptations() {
			t.Logf("  %+v", a)
		}
		if !(adapted < plain*0.9) {
			t.Errorf("seed %d: ChampionChallenger log loss after the change = %.4f; want < 0.9 × plain %.4f", seed, adapted, plain)
		}
		var promoted []int64
		for _, a := range c.Adaptations() {
			if a.Kind == KindPromoted {
				promoted = append(promoted, a.Index)
				if !(a.To < a.From) {
					t.Errorf("seed %d: promotion %+v: challenger cost not below champion's", seed, a)
				}
			}
		}
		if !hasIndexIn(promoted, scenarioChange, scenarioChange+afterChange) {
			t.Errorf("seed %d: promotions at %v; want one within %d examples after the change at %d", seed, promoted, afterChange, scenarioChange)
		}
	}
}

// A champion trained on a stationary stream faces a false alarm: the
// fresh challenger is worse on the shared window and must be discarded.
func TestChampionChallengerKeepsBetterChampion(t *testing.T) {
	const seed = 5
	xs, ys := abrupt(seed, scenarioDim, 8000, 8000, scenarioNoise) // no change
	champion := newMLP(t, scenarioDim, seed)
	for i := range 5000 {
		champion.Learn(xs[i], ys[i])
	}
	// Warning at update 100, drift at update 400 (after MinShared = 100
	// shared examples); a second warning at 1000 with no drift, judged at
	// MaxTrial.
	det := newScripted([]int{100, 1000}, []int{400})
	built := 0
	c, err := NewChampionChallenger(champion, ChampionChallengerConfig{
		New:       func() learn.Binary { built++; return newMLP(t, scenarioDim, seed+1) },
		Detector:  func() drift.Detector { return det },
		Window:    200,
		MinShared: 100,
		MaxTrial:  500,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 5000; i < 8000; i++ {
		c.Learn(xs[i], ys[i])
		if i == 5000+200 && c.Challenger() == nil {
			t.Fatalf("no challenger after the warning")
		}
	}
	if c.Champion() != learn.Binary(champion) {
		t.Fatalf("the champion was replaced by a worse challenger; adaptations %+v", c.Adaptations())
	}
	if c.Challenger() != nil || built != 2 {
		t.Errorf("challenger %v, built %d; want none left, 2 built", c.Challenger(), built)
	}
	var kinds []string
	for _, a := range c.Adaptations() {
		kinds = append(kinds, fmt.Sprintf("%s@%d", a.Kind, a.Index))
		if a.Kind == KindDiscarded && !(a.To > a.From) {
			t.Errorf("discarded %+v: the challenger's cost is not above the champion's", a)
		}
	}
	want := []string{"challenger_started@100", "discarded@400", "challenger_started@1000", "discarded@1500"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("adaptations %v; want %v", kinds, want)
	}
}

// A drift arriving before MinShared shared examples defers the decision.
func TestChampionChallengerDefersYoungDecision(t *testing.T) {
	det := newScripted(nil, []int{10})
	c, err := NewChampionChallenger(newSGDLogit(2, 0.1), ChampionChallengerConfig{
		New:       func() learn.Binary { return newSGDLogit(2, 0.5) },
		Detector:  func() drift.Detector { return det },
		Window:    50,
		MinShared: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		x := []float32{float32(r.Float64()), float32(r.Float64())}
		y := 0.0
		if x[0] > x[1] {
			y = 1
		}
		c.Learn(x, y)
	}
	a := c.Adaptations()
	if len(a) != 2 || a[0].Kind != KindChallengerStarted || a[0].Index != 10 || a[1].Index != 40 {
		t.Fatalf("adaptations %+v; want challenger_started@10 (drift without warning) and a decision at 40 (30 shared examples)", a)
	}
	if !strings.Contains(a[1].Detail, "30 shared") {
		t.Errorf("decision detail %q does not mention 30 shared examples", a[1].Detail)
	}
}

func TestLRRewarmSchedule(t *testing.T) {
	base := newSGDLogit(2, 0.01)
	base.record = true
	det := newScripted(nil, []int{5, 12})
	r, err := NewLRRewarm(base, LRRewarmConfig{Detector: func() drift.Detector { return det }, Factor: 16, Decay: 4})
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{0.5, 0.5}
	for range 20 {
		r.Learn(x, 1)
	}
	want := []float64{
		0.01, 0.01, 0.01, 0.01, 0.01,
		0.16, 0.08, 0.04, 0.02, // drift at 5: 16^(4/4), 16^(3/4), 16^(2/4), 16^(1/4)
		0.01, 0.01, 0.01,
		0.16, 0.08, 0.04, 0.02, // drift at 12
		0.01, 0.01, 0.01, 0.01,
	}
	for i, got := range base.rates {
		if math.Abs(got-want[i]) > 1e-12 {
			t.Errorf("learning rate of Learn %d = %v; want %v", i, got, want[i])
		}
	}
	if got := base.LearnRate(); got != 0.01 {
		t.Errorf("rate after the decays = %v; want exactly the base 0.01", got)
	}
	a := r.Adaptations()
	if len(a) != 2 || a[0].Index != 5 || a[1].Index != 12 || a[0].From != 0.01 || a[0].To != 0.16 || a[0].Kind != KindRewarm {
		t.Errorf("Adaptations() = %+v; want rewarm 0.01→0.16 at 5 and 12", a)
	}
}

func TestLRRewarmAdaptsFaster(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		xs, ys := scenario(seed)
		plain := afterLoss(prequential(newSGDLogit(scenarioDim, 0.02), xs, ys))
		r, err := NewLRRewarm(newSGDLogit(scenarioDim, 0.02), LRRewarmConfig{Detector: ddm})
		if err != nil {
			t.Fatal(err)
		}
		adapted := afterLoss(prequential(r, xs, ys))
		t.Logf("seed %d: log loss over the %d examples after the change: plain SGD %.4f, LR rewarm %.4f; adaptations %+v", seed, afterChange, plain, adapted, r.Adaptations())
		if !(adapted < plain*0.9) {
			t.Errorf("seed %d: LRRewarm log loss after the change = %.4f; want < 0.9 × plain %.4f", seed, adapted, plain)
		}
	}
}

// ---------------------------------------------------------------------------
// GuardrailRollback

// poisoned returns a stationary stream whose labels are flipped on
// [from, from+n).
func poisoned(seed uint64, total, from, n int) ([][]float32, []float64) {
	xs, ys := abrupt(seed, scenarioDim, total, total, scenarioNoise)
	for i := from; i < from+n; i++ {
		ys[i] = 1 - ys[i]
	}
	return xs, ys
}

func TestGuardrailRollsBackPoison(t *testing.T) {
	const (
		seed   = 3
		total  = 9000
		from   = 5000
		n      = 500
		judged = 1000 // examples after the poison over which the loss is compared
	)
	xs, ys := poisoned(seed, total, from, n)
	for _, tc := range []struct {
		name string
		cfg  GuardrailConfig
	}{
		{"snapshot", GuardrailConfig{New: func() learn.Binary { return newMLP(t, scenarioDim, seed) }}},
		{"clone", GuardrailConfig{Clone: func(l learn.Binary) learn.Binary { return l.(*mlp.MLP).Clone() }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plainLoss := prequential(newMLP(t, scenarioDim, seed), xs, ys)
			var g *GuardrailRollback
			var savedAtRollback []int64
			cfg := tc.cfg
			cfg.OnAdapt = func(a Adaptation) {
				if a.Kind == KindRollback {
					at, _, _ := g.Saved()
					savedAtRollback = append(savedAtRollback, at)
				}
			}
			g, err := NewGuardrailRollback(newMLP(t, scenarioDim, seed), cfg)
			if err != nil {
				t.Fatal(err)
			}
			guardLoss := prequential(g, xs, ys)
			plain := meanOf(plainLoss[from+n : from+n+judged])
			guarded := meanOf(guardLoss[from+n : from+n+judged])
			t.Logf("seed %d: labels flipped on [%d, %d); log loss over the next %d: plain %.4f, guarded %.4f", seed, from, from+n, judged, plain, guarded)
			var rollbacks []Adaptation
			for _, a := range g.Adaptations() {
				t.Logf("  %+v", a)
				if a.Kind == KindRollback {
					rollbacks = append(rollbacks, a)
				}
			}
			if len(rollbacks) == 0 {
				t.Fatalf("no rollback recorded")
			}
			rb := rollbacks[0]
			if rb.Index < from || rb.Index >= from+n+judged || !(rb.From > rb.To) || rb.Strategy != StrategyGuardrailRollback {
				t.Errorf("first rollback %+v; want one in [%d, %d) from a worse live cost to a better saved one", rb, from, from+n+judged)
			}
			if savedAtRollback[0] >= from {
				t.Errorf("rolled back to the version taken at %d; want one from before the poison at %d", savedAtRollback[0], from)
			}
			if !(guarded < plain*0.9) {
				t.Errorf("guarded log loss after the poison = %.4f; want < 0.9 × plain %.4f", guarded, plain)
			}
			lo, hi := rb.Index+1, rb.Index+301
			plainAfter, guardedAfter := meanOf(plainLoss[lo:hi]), meanOf(guardLoss[lo:hi])
			t.Logf("log loss over the 300 examples after the rollback: plain %.4f, guarded %.4f", plainAfter, guardedAfter)
			if !(guardedAfter < plainAfter*0.8) {
				t.Errorf("guarded log loss over the 300 examples after the rollback = %.4f; want < 0.8 × plain %.4f", guardedAfter, plainAfter)
			}
			for _, a := range rollbacks {
				if a.Index < from {
					t.Errorf("rollback %+v before the poison (a false alarm on a stationary stream)", a)
				}
			}
		})
	}
}

// A permanent concept change is not a poisoning: the guardrail may roll
// back at first, but it must accept the new regime and track it.
func TestGuardrailAcceptsNewRegime(t *testing.T) {
	const seed = 4
	xs, ys := abrupt(seed, scenarioDim, 16000, 5000, scenarioNoise)
	plainLoss := prequential(newMLP(t, scenarioDim, seed), xs, ys)
	g, err := NewGuardrailRollback(newMLP(t, scenarioDim, seed), GuardrailConfig{New: func() learn.Binary { return newMLP(t, scenarioDim, seed) }})
	if err != nil {
		t.Fatal(err)
	}
	guardLoss := prequential(g, xs, ys)
	plain, guarded := meanOf(plainLoss[14000:]), meanOf(guardLoss[14000:])
	t.Logf("seed %d: concept change at 5000; log loss over [14000, 16000): plain %.4f, guarded %.4f", seed, plain, guarded)
	for _, a := range g.Adaptations() {
		t.Logf("  %+v", a)
	}
	if !(guarded < plain*1.1+0.01) {
		t.Errorf("guarded log loss long after the change = %.4f; want close to plain %.4f (the new regime adopted)", guarded, plain)
	}
	if at, _, ok := g.Saved(); !ok || at < 5000 {
		t.Errorf("saved version taken at %d; want one from the new regime (≥ 5000)", at)
	}
}

// ---------------------------------------------------------------------------
// Golden trace of adaptation events.

// TestAdaptationTrace runs each strategy over a seeded stream with
// scripted detectors and compares the recorded events, as JSON, with
// testdata/adaptations.golden.json (regenerate with -rewrite).
func TestAdaptationTrace(t *testing.T) {
	xs, ys := abrupt(11, 4, 3000, 1500, 0.05)
	det := func(warn, drifts []int) func() drift.Detector {
		return func() drift.Detector { return newScripted(warn, drifts) }
	}
	newL := func() learn.Binary { return newSGDLogit(4, 0.05) }
	var all []Adaptation
	collect := func(a Adaptation) { all = append(all, a) }

	r, err := NewResetOnDrift(newL(), ResetOnDriftConfig{New: newL, Detector: det(nil, []int{1520}), OnAdapt: collect})
	must(t, err)
	c, err := NewChampionChallenger(newL(), ChampionChallengerConfig{New: newL, Detector: det([]int{1510, 200}, []int{1700, 300}), Window: 100, MinShared: 50, MaxTrial: 400, OnAdapt: collect})
	must(t, err)
	lr, err := NewLRRewarm(newSGDLogit(4, 0.05), LRRewarmConfig{Detector: det(nil, []int{1530}), Factor: 5, Decay: 300, OnAdapt: collect})
	must(t, err)
	clone := func(l learn.Binary) learn.Binary {
		c := *l.(*sgdLogit)
		c.w = slices.Clone(c.w)
		return &c
	}
	g, err := NewGuardrailRollback(newL(), GuardrailConfig{Clone: clone, Window: 100, Patience: 500, OnAdapt: collect})
	must(t, err)
	// The concept reverses at 1500: the guardrail must adopt it, not
	// keep rolling back.
	for _, l := range []learn.Binary{r, c, lr, g} {
		prequential(l, xs, ys)
	}
	// Six significant digits: immune to last-bit differences in math.Exp
	// or fused multiply-adds across platforms.
	for i := range all {
		all[i].From, all[i].To = round6(all[i].From), round6(all[i].To)
	}
	got, err := json.MarshalIndent(all, "", "  ")
	must(t, err)
	got = append(got, '\n')
	golden(t, "adaptations.golden.json", got)
}

func round6(v float64) float64 {
	if v == 0 {
		return 0
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -rewrite to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the output (run go test -rewrite and review the diff):\ngot:\n%s", path, got)
	}
}

// ---------------------------------------------------------------------------
// Allocations and benchmarks.

// wrappers returns each strategy around a fresh MLP (steady state: the
// detectors never fire), plus the plain MLP.
func wrappers(t testing.TB, dim int) []struct {
	name string
	l    learn.Binary
} {
	newM := func() learn.Binary { return newMLP(t, dim, 1) }
	r, err := NewResetOnDrift(newM(), ResetOnDriftConfig{New: newM, Detector: quietDetector})
	must(t, err)
	c, err := NewChampionChallenger(newM(), ChampionChallengerConfig{New: newM, Detector: quietDetector})
	must(t, err)
	lr, err := NewLRRewarm(newSGDLogit(dim, 0.01), LRRewarmConfig{Detector: quietDetector})
	must(t, err)
	rp, err := NewReplay(newM(), ReplayConfig{Capacity: 500, Seed: 1})
	must(t, err)
	rb, err := NewReplay(newM(), ReplayConfig{Capacity: 500, Seed: 1, Policy: ReplayClassBalanced, Ratio: 0.5})
	must(t, err)
	e, err := NewEWC(newMLP(t, dim, 1), EWCConfig{Every: 1000})
	must(t, err)
	ed, err := NewEWC(newMLP(t, dim, 1), EWCConfig{Every: 1000, Detector: quietDetector})
	must(t, err)
	g, err := NewGuardrailRollback(newM(), GuardrailConfig{New: newM, Window: 100})
	must(t, err)
	return []struct {
		name string
		l    learn.Binary
	}{
		{"plain_mlp", newM()},
		{"reset_on_drift", r},
		{"champion_challenger", c},
		{"lr_rewarm_sgd", lr},
		{"replay_reservoir_1", rp},
		{"replay_balanced_0.5", rb},
		{"ewc_every1000", e},
		{"ewc_every1000_detector", ed},
		{"guardrail", g},
	}
}

func TestWrappersDoNotAllocate(t *testing.T) {
	const dim = 8
	xs, ys := abrupt(1, dim, 2000, 2000, 0.05)
	for _, w := range wrappers(t, dim) {
		if e, ok := w.l.(*EWC); ok {
			e.Consolidate() // nothing kept yet: a no-op
		}
		// Warm up: fill buffers, take the guardrail's first snapshot
		// (allocates), consolidate once (at example 1000).
		for i := range 1000 {
			w.l.Learn(xs[i], ys[i])
		}
		if e, ok := w.l.(*EWC); ok && len(e.Adaptations()) != 1 {
			t.Fatalf("%s: %d consolidations in the warm-up; want 1", w.name, len(e.Adaptations()))
		}
		i := 1000
		if g, ok := w.l.(*GuardrailRollback); ok {
			// Keep clear of checks that would save a new version.
			g.cfg.Check = 1 << 30
		}
		allocs := testing.AllocsPerRun(500, func() {
			w.l.Predict(xs[i])
			w.l.Learn(xs[i], ys[i])
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: Predict+Learn allocates %v times; want 0", w.name, allocs)
		}
	}
}

func BenchmarkWrapperLearn(b *testing.B) {
	const dim = 16
	xs, ys := abrupt(1, dim, 4096, 4096, 0.05)
	for _, w := range wrappers(b, dim) {
		b.Run(w.name, func(b *testing.B) {
			for i := range 1000 {
				w.l.Learn(xs[i], ys[i])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i & 4095
				w.l.Learn(xs[j], ys[j])
			}
		})
	}
}

// The real learners plug into LRRewarm.
var (
	_ LearnRater = (*mlp.MLP)(nil)
	_ LearnRater = (*linear.Logistic)(nil)
)

func TestSetLearnRate(t *testing.T) {
	m, _ := mlp.New(4, mlp.Config{LearnRate: 0.01, LinearLearnRate: 0.1})
	m.SetLearnRate(0.03)
	if m.LearnRate() != 0.03 || math.Abs(m.Config().LinearLearnRate-0.3) > 1e-12 {
		t.Fatalf("after SetLearnRate(0.03): %v, linear %v; want 0.03, 0.3", m.LearnRate(), m.Config().LinearLearnRate)
	}
	l := linear.New(4, linear.Config{})
	l.SetLearnRate(0.5)
	if l.LearnRate() != 0.5 {
		t.Fatalf("linear LearnRate = %v; want 0.5", l.LearnRate())
	}
}
