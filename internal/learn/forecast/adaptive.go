package forecast

import (
	"math"

	"github.com/perpetua-ml/perpetua/internal/drift"
)

// AdaptiveConfig configures NewAdaptive; zero fields mean the defaults.
type AdaptiveConfig struct {
	// Periods are the seasonal periods AutoETS considers.
	Periods []int
	// Window is how many recent observations selection looks at; 0
	// means max(10·max(Periods), 200).
	Window int
	// RefitEvery re-selects the model every that many observations
	// even without drift; 0 means 4·Window, < 0 never.
	RefitEvery int
	// MinFit is the number of observations before the first selection;
	// 0 means 10. Before it the forecast is the mean so far.
	MinFit int
	// Intermittent is the share of zeros in the window above which the
	// TSB intermittent model is used instead of ETS; 0 means 0.5.
	Intermittent float64
	// Detector watches the absolute one-step errors divided by their
	// running mean; nil means Page-Hinkley with its defaults.
	Detector drift.Detector
}

// Adaptive is a self-maintaining forecaster for one series: it keeps the
// last Window observations, selects a model with AutoETS (or TSB for
// intermittent series) and feeds the one-step errors to a drift
// detector. On drift, or every RefitEvery observations, it re-selects
// the model on the window (re-initialising its states), so a level shift
// or a new seasonal pattern is picked up. Update is O(1) except on the
// observations that trigger a selection, which allocate.
type Adaptive struct {
	cfg       AdaptiveConfig
	ring      []float64
	pos, n    int
	seen      int64
	since     int
	model     Forecaster
	name      string
	det       drift.Detector
	one       [1]float64
	errMean   float64
	nErr      int64
	drifts    int64
	refits    int64
	lastDrift int64
}

// NewAdaptive returns an Adaptive forecaster.
func NewAdaptive(cfg AdaptiveConfig) *Adaptive {
	maxP := 0
	for _, p := range cfg.Periods {
		maxP = max(maxP, p)
	}
	if cfg.Window <= 0 {
		cfg.Window = max(10*maxP, 200)
	}
	if cfg.RefitEvery == 0 {
		cfg.RefitEvery = 4 * cfg.Window
	}
	if cfg.MinFit <= 0 {
		cfg.MinFit = 10
	}
	if cfg.Intermittent <= 0 {
		cfg.Intermittent = 0.5
	}
	if cfg.Detector == nil {
		cfg.Detector = drift.NewPageHinkley(drift.PageHinkleyConfig{})
	}
	return &Adaptive{cfg: cfg, ring: make([]float64, cfg.Window), det: cfg.Detector, name: "mean"}
}

// Update adds the next observation.
func (a *Adaptive) Update(y float64) {
	y = Clean(y)
	if a.model != nil && !math.IsNaN(y) {
		a.model.Forecast(a.one[:])
		// The detector sees each absolute error relative to the mean
		// absolute error before it (capped, so one outlier cannot
		// dominate), which makes its threshold scale-free.
		e := math.Abs(y - a.one[0])
		switch {
		case a.nErr == 0:
			a.errMean = e
		case a.errMean > 0:
			a.det.Update(min(e/a.errMean, 100))
		}
		a.nErr++
		a.errMean += (e - a.errMean) / float64(min(a.nErr, 50))
	}
	a.ring[a.pos] = y
	a.pos = (a.pos + 1) % len(a.ring)
	a.n = min(a.n+1, len(a.ring))
	a.seen++
	a.since++
	if a.model != nil {
		a.model.Update(y)
	}
	switch {
	case a.model == nil && a.seen >= int64(a.cfg.MinFit):
		a.reselect()
	case a.model != nil && a.det.Drift():
		a.drifts++
		a.lastDrift = a.seen
		a.reselect()
	case a.model != nil && a.cfg.RefitEvery > 0 && a.since >= a.cfg.RefitEvery:
		a.reselect()
	}
}

// window returns the kept observations in time order.
func (a *Adaptive) window() []float64 {
	out := make([]float64, a.n)
	start := (a.pos - a.n + len(a.ring)) % len(a.ring)
	for i := range out {
		out[i] = a.ring[(start+i)%len(a.ring)]
	}
	return out
}

func (a *Adaptive) reselect() {
	a.since = 0
	a.refits++
	a.det.Reset()
	a.nErr = 0
	y := a.window()
	zeros, n := 0, 0
	for _, v := range y {
		if !math.IsNaN(v) {
			n++
			if v == 0 {
				zeros++
			}
		}
	}
	if n > 0 && float64(zeros)/float64(n) > a.cfg.Intermittent {
		m := NewIntermittent(TSB, 0.1, 0.1)
		for _, v := range y {
			m.Update(v)
		}
		a.model, a.name = m, "TSB"
		return
	}
	e, err := AutoETS(y, AutoConfig{Periods: a.cfg.Periods, MaxEvals: 100})
	if err != nil {
		s := NewSES(0.2)
		for _, v := range y {
			s.Update(v)
		}
		a.model, a.name = s, "SES"
		return
	}
	a.model, a.name = e, e.Spec().String()
}

// Forecast writes the next len(dst) forecasts.
func (a *Adaptive) Forecast(dst []float64) {
	if a.model == nil {
		var s float64
		var c int
		for _, v := range a.ring[:a.n] {
			if !math.IsNaN(v) {
				s += v
				c++
			}
		}
		mean := 0.0
		if c > 0 {
			mean = s / float64(c)
		}
		for i := range dst {
			dst[i] = mean
		}
		sanitize(dst, 0)
		return
	}
	a.model.Forecast(dst)
}

// Model names the current model ("mean" before the first selection).
func (a *Adaptive) Model() string { return a.name }

// Drifts returns how many drifts triggered a re-selection, Refits the
// number of selections, and LastDrift the observation count at the
// latest drift (0 if none).
func (a *Adaptive) Drifts() int64    { return a.drifts }
func (a *Adaptive) Refits() int64    { return a.refits }
func (a *Adaptive) LastDrift() int64 { return a.lastDrift }
