package forecast

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// FitResult describes a fitted ETS model.
type FitResult struct {
	Spec string `json:"spec"`
	// Lik is -2·log-likelihood up to a constant shared by all models of
	// the same data: n·log Σe² (+ 2·Σlog|μ| for relative errors), as in
	// R's ets.
	Lik  float64 `json:"lik"`
	AICc float64 `json:"aicc"`
	// K counts the smoothing parameters, the initial states and the
	// error variance.
	K     int `json:"k"`
	N     int `json:"n"`
	Evals int `json:"evals"`
}

// FitConfig tunes Fit.
type FitConfig struct {
	// MaxEvals bounds the likelihood evaluations of the Nelder-Mead
	// search; 0 means 200.
	MaxEvals int
}

// ErrTooShort is returned when a series is too short for a model.
var ErrTooShort = errors.New("forecast: series too short")

// bounds of the smoothing parameters (R's usual region in HW form).
const (
	parLo, parHi = 1e-4, 0.9999
	phiLo, phiHi = 0.8, 0.98
)

func squash(u, lo, hi float64) float64 { return lo + (hi-lo)/(1+math.Exp(-u)) }
func unsquash(p, lo, hi float64) float64 {
	f := (p - lo) / (hi - lo)
	f = min(max(f, 1e-6), 1-1e-6)
	return math.Log(f / (1 - f))
}

// fitter holds the state of one Fit: the model, its initial states and
// the data.
type fitter struct {
	e              *ETS
	y              []float64
	l0, b0         float64
	seas0          [][]float64
	nTrend, nSeas  int
	damped         bool
	multErr        bool
	start          [5]float64
	evals          int
	hasTrend, seas bool
}

func (f *fitter) params(u []float64) {
	i := 0
	f.e.alpha = squash(u[i], parLo, parHi)
	i++
	if f.hasTrend {
		f.e.beta = squash(u[i], parLo, parHi)
		i++
		if f.damped {
			f.e.phi = squash(u[i], phiLo, phiHi)
			i++
		}
	}
	for k := range f.e.gamma {
		f.e.gamma[k] = squash(u[i], parLo, parHi)
		i++
	}
}

func (f *fitter) restore() {
	e := f.e
	e.l, e.b = f.l0, f.b0
	for k := range e.seas {
		copy(e.seas[k], f.seas0[k])
		e.pos[k] = 0
	}
}

// lik runs the recursions over the data and returns R's lik criterion.
func (f *fitter) lik() float64 {
	f.evals++
	f.restore()
	e := f.e
	// Σlog μ is kept as a product with a separate binary exponent
	// (one Log at the end instead of one per step).
	var sse float64
	prod, exp2 := 1.0, 0
	n := 0
	for _, y := range f.y {
		if math.IsNaN(y) {
			e.step(max(e.oneStep(), 0))
			continue
		}
		mu := e.step(y)
		if f.multErr {
			if !(mu > 0) {
				return math.Inf(1)
			}
			r := (y - mu) / mu
			sse += r * r
			prod *= mu
			if prod > 1e100 || prod < 1e-100 {
				fr, e := math.Frexp(prod)
				prod, exp2 = fr, exp2+e
			}
		} else {
			d := y - mu
			sse += d * d
		}
		n++
	}
	if n == 0 || !finite(sse) {
		return math.Inf(1)
	}
	v := float64(n) * math.Log(max(sse, 1e-300))
	if f.multErr {
		v += 2 * (math.Log(prod) + float64(exp2)*math.Ln2)
	}
	if !finite(v) {
		return math.Inf(1)
	}
	return v
}

// Fit estimates the smoothing parameters of the model spec on y by
// maximum likelihood and returns the model with its states run through
// y, ready to forecast. Missing values (NaN) in y are imputed with the
// one-step forecast and left out of the likelihood; negative values are
// clamped to 0. It returns ErrTooShort (wrapped) if y has fewer finite
// values than the model needs to initialise plus its parameter count,
// and an error if a multiplicative model meets a value ≤ 0.
func Fit(y []float64, spec Spec, cfg FitConfig) (*ETS, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	e := NewETS(spec, Params{Alpha: 0.5, Beta: 0.1, Phi: 0.95, Gamma: nil})
	clean := make([]float64, len(y))
	finiteN := 0
	for i, v := range y {
		clean[i] = Clean(v)
		if !math.IsNaN(clean[i]) {
			finiteN++
			if clean[i] <= 0 && (e.spec.Season == SeasonMultiplicative || spec.Error == ErrorMultiplicative) {
				return nil, fmt.Errorf("forecast: fit %s: value %v at index %d; multiplicative models need positive data", spec, clean[i], i)
			}
		}
	}
	f := &fitter{e: e, y: clean, hasTrend: spec.Trend != TrendNone, damped: spec.Trend == TrendDamped,
		multErr: spec.Error == ErrorMultiplicative}
	np := 1
	if f.hasTrend {
		np++
		if f.damped {
			np++
		}
	}
	np += len(e.gamma)
	k := np + 1 + 1 // smoothing + level + variance
	if f.hasTrend {
		k++
	}
	for _, m := range e.spec.Periods {
		k += m - 1
	}
	if finiteN < e.need+np || len(clean) < e.need {
		return nil, fmt.Errorf("%w: %s needs %d values, got %d", ErrTooShort, spec, e.need+np, finiteN)
	}
	// Initial states from the first e.need values (gaps filled with the
	// mean of that segment).
	seg := make([]float64, e.need)
	var s float64
	var c int
	for _, v := range clean[:e.need] {
		if !math.IsNaN(v) {
			s += v
			c++
		}
	}
	if c == 0 {
		return nil, fmt.Errorf("%w: %s: no value in the first %d observations", ErrTooShort, spec, e.need)
	}
	for i, v := range clean[:e.need] {
		if math.IsNaN(v) {
			v = s / float64(c)
		}
		seg[i] = v
	}
	e.initialize(seg)
	f.l0, f.b0 = e.l, e.b
	f.seas0 = make([][]float64, len(e.seas))
	for k := range e.seas {
		f.seas0[k] = append([]float64(nil), e.seas[k]...)
	}
	u0 := make([]float64, np)
	i := 0
	u0[i] = unsquash(0.3, parLo, parHi)
	i++
	if f.hasTrend {
		u0[i] = unsquash(0.05, parLo, parHi)
		i++
		if f.damped {
			u0[i] = unsquash(0.95, phiLo, phiHi)
			i++
		}
	}
	for range e.gamma {
		u0[i] = unsquash(0.05, parLo, parHi)
		i++
	}
	maxEvals := cfg.MaxEvals
	if maxEvals <= 0 {
		maxEvals = 200
	}
	best := u0
	bestV := math.Inf(1)
	obj := func(u []float64) float64 {
		f.params(u)
		v := f.lik()
		if v < bestV {
			bestV = v
			best = append(best[:0:0], u...)
		}
		return v
	}
	if np == 1 {
		// One parameter: golden-section search on the squashed scale.
		golden(obj, -9, 9, maxEvals)
	} else {
		settings := &optimize.Settings{
			FuncEvaluations: maxEvals,
			Converger:       &optimize.FunctionConverge{Absolute: 1e-3, Relative: 1e-7, Iterations: 3 * np},
		}
		_, err := optimize.Minimize(optimize.Problem{Func: obj}, u0, settings, &optimize.NelderMead{SimplexSize: 1})
		if err != nil && !finite(bestV) {
			return nil, fmt.Errorf("forecast: fit %s: %v", spec, err)
		}
	}
	if !finite(bestV) {
		return nil, fmt.Errorf("forecast: fit %s: no finite likelihood", spec)
	}
	f.params(best)
	lik := f.lik() // leaves the states at the end of y
	n := 0
	for _, v := range clean {
		if !math.IsNaN(v) {
			n++
			e.last = v
		}
	}
	e.ready = true
	e.n = int64(len(clean))
	e.warm = e.warm[:0]
	aicc := math.Inf(1)
	if n-k-1 > 0 {
		aicc = lik + 2*float64(k) + 2*float64(k*(k+1))/float64(n-k-1)
	}
	e.fitRes = FitResult{Spec: e.spec.String(), Lik: lik, AICc: aicc, K: k, N: n, Evals: f.evals}
	return e, nil
}

// golden minimises f over [a, b] by golden-section search with at most
// evals evaluations.
func golden(f func([]float64) float64, a, b float64, evals int) {
	const r = 0.6180339887498949
	u := []float64{0}
	eval := func(x float64) float64 { u[0] = x; return f(u) }
	c := b - r*(b-a)
	d := a + r*(b-a)
	fc, fd := eval(c), eval(d)
	for i := 2; i < evals && b-a > 1e-3; i++ {
		if fc < fd {
			b, d, fd = d, c, fc
			c = b - r*(b-a)
			fc = eval(c)
		} else {
			a, c, fc = c, d, fd
			d = a + r*(b-a)
			fd = eval(d)
		}
	}
}

// AutoConfig tunes AutoETS.
type AutoConfig struct {
	// Periods are the seasonal periods of the seasonal candidates (all
	// periods together); empty means non-seasonal models only.
	Periods []int
	// Window fits on the last Window observations; 0 means all.
	Window int
	// MaxEvals bounds each candidate's Nelder-Mead search; 0 means 200.
	MaxEvals int
	// Candidates, when not empty, replaces the default candidate set.
	Candidates []Spec
}

// Candidates returns AutoETS's default candidate set for the data y:
// every combination of error {A, M}, trend {N, A, Ad} and season {N, A,
// M} except additive errors with multiplicative seasonality (unstable,
// excluded by R's ets too); multiplicative components only when every
// value is positive, trends only with 4 values or more, and seasonal
// models only when y holds two full seasons of the longest period plus
// the parameters.
func Candidates(y []float64, periods []int) []Spec {
	pos, n := true, 0
	for _, v := range y {
		v = Clean(v)
		if math.IsNaN(v) {
			continue
		}
		n++
		if v <= 0 {
			pos = false
		}
	}
	maxP := 0
	for _, p := range periods {
		maxP = max(maxP, p)
	}
	var out []Spec
	for _, et := range []ErrorType{ErrorAdditive, ErrorMultiplicative} {
		if et == ErrorMultiplicative && !pos {
			continue
		}
		for _, tr := range []Trend{TrendNone, TrendAdditive, TrendDamped} {
			if tr != TrendNone && n < 4 {
				continue
			}
			for _, se := range []Season{SeasonNone, SeasonAdditive, SeasonMultiplicative} {
				if se != SeasonNone && (maxP < 2 || n < 2*maxP+len(periods)+4) {
					continue
				}
				if se == SeasonMultiplicative && (et == ErrorAdditive || !pos) {
					continue
				}
				out = append(out, Spec{Error: et, Trend: tr, Season: se, Periods: periods})
			}
		}
	}
	return out
}

// AutoETS fits every candidate model on the last cfg.Window values of y
// and returns the one with the lowest AICc (ties: the earlier candidate),
// ready to forecast from the end of y. A series too short for any model
// returns ErrTooShort.
func AutoETS(y []float64, cfg AutoConfig) (*ETS, error) {
	if cfg.Window > 0 && len(y) > cfg.Window {
		y = y[len(y)-cfg.Window:]
	}
	cands := cfg.Candidates
	if len(cands) == 0 {
		cands = Candidates(y, cfg.Periods)
	}
	var best *ETS
	var firstErr error
	for _, s := range cands {
		m, err := Fit(y, s, FitConfig{MaxEvals: cfg.MaxEvals})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if best == nil || m.fitRes.AICc < best.fitRes.AICc {
			best = m
		}
	}
	if best == nil {
		if firstErr == nil {
			firstErr = fmt.Errorf("%w: no candidate model for %d values", ErrTooShort, len(y))
		}
		return nil, firstErr
	}
	return best, nil
}
