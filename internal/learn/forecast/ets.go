package forecast

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Trend is the trend component of an ETS model.
type Trend uint8

// The trends.
const (
	TrendNone     Trend = iota // N
	TrendAdditive              // A
	TrendDamped                // Ad: additive, damped by φ
)

// Season is the seasonal component of an ETS model.
type Season uint8

// The seasonal components.
const (
	SeasonNone           Season = iota // N
	SeasonAdditive                     // A
	SeasonMultiplicative               // M
)

// ErrorType is the error component of an ETS model. The state equations
// are the Holt-Winters recursions for both (so the point forecasts of
// ETS(A,·,·) and ETS(M,·,·) with equal parameters agree); the error type
// selects the likelihood: Gaussian additive errors, or relative errors
// e/μ (R's ets: n·log Σe² + 2·Σlog|μ|), and so the fitted parameters and
// the AICc.
type ErrorType uint8

// The error types.
const (
	ErrorAdditive       ErrorType = iota // A
	ErrorMultiplicative                  // M
)

// Spec names an ETS model. Periods lists the seasonal periods (ignored
// when Season is SeasonNone); one ring of seasonal states is kept per
// period and the components are added (additive) or multiplied.
type Spec struct {
	Error   ErrorType
	Trend   Trend
	Season  Season
	Periods []int
}

// String returns the model in R's notation, e.g. "ETS(M,Ad,A)[24,168]".
func (s Spec) String() string {
	e := [...]string{"A", "M"}[s.Error&1]
	t := [...]string{"N", "A", "Ad", "?"}[s.Trend&3]
	se := [...]string{"N", "A", "M", "?"}[s.Season&3]
	var b strings.Builder
	fmt.Fprintf(&b, "ETS(%s,%s,%s)", e, t, se)
	if s.Season != SeasonNone && len(s.Periods) > 0 {
		b.WriteByte('[')
		for i, p := range s.Periods {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
		b.WriteByte(']')
	}
	return b.String()
}

func (s Spec) seasonal() bool { return s.Season != SeasonNone && len(s.Periods) > 0 }

// Validate reports the first invalid field.
func (s Spec) Validate() error {
	if s.Error > ErrorMultiplicative {
		return fmt.Errorf("forecast: spec: error type %d unknown", s.Error)
	}
	if s.Trend > TrendDamped {
		return fmt.Errorf("forecast: spec: trend %d unknown", s.Trend)
	}
	if s.Season > SeasonMultiplicative {
		return fmt.Errorf("forecast: spec: season %d unknown", s.Season)
	}
	if s.Season != SeasonNone {
		if len(s.Periods) == 0 {
			return fmt.Errorf("forecast: spec: seasonal model needs Periods")
		}
		for i, p := range s.Periods {
			if p < 2 {
				return fmt.Errorf("forecast: spec: Periods[%d] = %d; want ≥ 2", i, p)
			}
		}
	}
	return nil
}

// Params are the smoothing parameters in Holt-Winters form: Alpha for the
// level, Beta for the trend (a fraction of the level change), Phi the
// damping (1 for an undamped trend), and one Gamma per seasonal period.
// All lie in (0, 1).
type Params struct {
	Alpha, Beta, Phi float64
	Gamma            []float64
}

// ETS is an exponential smoothing model updated one observation at a
// time. Build it with NewETS (or NewSES, NewHolt, NewHoltWinters) or fit
// it with Fit or AutoETS.
//
// The recursions, with T = l + φb the trend forecast and S the sum
// (additive) or product (multiplicative) of the current seasonal states:
//
//	l' = α(y ⊖ S) + (1-α)T
//	b' = β(l' - l) + (1-β)φb
//	s'_k = γ_k(y ⊖ (l' ⊕ S_{-k})) + (1-γ_k)s_k
//
// where ⊖/⊕ are -/+ (additive) or ÷/× (multiplicative) and S_{-k} the
// other periods' states. Before the first 2·max(Periods) observations
// (2 with a trend, 1 otherwise) the states are not set and Forecast
// returns the mean seen so far; the states are then initialised from
// those observations (classical decomposition) and the recursions
// replayed over them.
type ETS struct {
	spec   Spec
	alpha  float64
	beta   float64
	phi    float64
	gamma  []float64
	l, b   float64
	seas   [][]float64 // seas[k][pos[k]] applies to the next observation
	pos    []int
	warm   []float64
	need   int
	ready  bool
	n      int64
	last   float64
	sum    float64
	cnt    int64
	scrat  []float64 // Initialize scratch (len need)
	fitRes FitResult
}

// NewETS returns a model with the given structure and parameters. It
// panics on an invalid spec or parameters (programmer error).
func NewETS(spec Spec, p Params) *ETS {
	if err := spec.Validate(); err != nil {
		panic(err)
	}
	spec.Periods = slices.Clone(spec.Periods)
	slices.Sort(spec.Periods)
	if !spec.seasonal() {
		spec.Periods = nil
		spec.Season = SeasonNone
	}
	e := &ETS{spec: spec}
	e.need = 1
	if spec.Trend != TrendNone {
		e.need = 2
	}
	if spec.seasonal() {
		e.need = 2 * spec.Periods[len(spec.Periods)-1]
		e.seas = make([][]float64, len(spec.Periods))
		for k, m := range spec.Periods {
			e.seas[k] = make([]float64, m)
		}
		e.pos = make([]int, len(spec.Periods))
		e.gamma = make([]float64, len(spec.Periods))
	}
	e.warm = make([]float64, 0, e.need)
	e.scrat = make([]float64, e.need)
	e.SetParams(p)
	return e
}

// NewSES returns simple exponential smoothing, ETS(A,N,N), with level
// weight alpha.
func NewSES(alpha float64) *ETS {
	return NewETS(Spec{}, Params{Alpha: alpha})
}

// NewHolt returns Holt's linear method with damping phi (1 = undamped),
// ETS(A,Ad,N).
func NewHolt(alpha, beta, phi float64) *ETS {
	t := TrendDamped
	if phi >= 1 {
		t = TrendAdditive
	}
	return NewETS(Spec{Trend: t}, Params{Alpha: alpha, Beta: beta, Phi: phi})
}

// NewHoltWinters returns Holt-Winters with a damped trend (phi = 1 for
// undamped, 0 for no trend) and additive or multiplicative seasonality
// over the given periods, each smoothed with gamma.
func NewHoltWinters(season Season, periods []int, alpha, beta, phi, gamma float64) *ETS {
	t := TrendDamped
	switch {
	case phi >= 1:
		t = TrendAdditive
	case phi <= 0:
		t = TrendNone
	}
	g := make([]float64, len(periods))
	for i := range g {
		g[i] = gamma
	}
	return NewETS(Spec{Trend: t, Season: season, Periods: periods}, Params{Alpha: alpha, Beta: beta, Phi: phi, Gamma: g})
}

// SetParams replaces the smoothing parameters (keeping the states). It
// panics if one lies outside [0, 1] or Gamma has the wrong length.
func (e *ETS) SetParams(p Params) {
	check := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			panic(fmt.Sprintf("forecast: %s = %v; want in [0, 1]", name, v))
		}
	}
	check("Alpha", p.Alpha)
	e.alpha = p.Alpha
	e.beta, e.phi = 0, 1
	if e.spec.Trend != TrendNone {
		check("Beta", p.Beta)
		e.beta = p.Beta
	}
	if e.spec.Trend == TrendDamped {
		check("Phi", p.Phi)
		e.phi = p.Phi
	}
	if e.spec.seasonal() {
		if len(p.Gamma) != len(e.gamma) {
			if len(p.Gamma) == 0 {
				clear(e.gamma)
				return
			}
			panic(fmt.Sprintf("forecast: %d Gamma values for %d periods", len(p.Gamma), len(e.gamma)))
		}
		for i, g := range p.Gamma {
			check("Gamma", g)
			e.gamma[i] = g
		}
	}
}

// Params returns the smoothing parameters.
func (e *ETS) Params() Params {
	return Params{Alpha: e.alpha, Beta: e.beta, Phi: e.phi, Gamma: slices.Clone(e.gamma)}
}

// Spec returns the model's structure.
func (e *ETS) Spec() Spec { s := e.spec; s.Periods = slices.Clone(s.Periods); return s }

// Ready reports whether the states are initialised.
func (e *ETS) Ready() bool { return e.ready }

// N returns the number of observations seen (missing ones included once
// the model is ready).
func (e *ETS) N() int64 { return e.n }

// Fit returns the result of the fit that built e (zero if e was built
// with fixed parameters).
func (e *ETS) Fit() FitResult { return e.fitRes }

// Level returns the current level state.
func (e *ETS) Level() float64 { return e.l }

// Clone returns an independent copy.
func (e *ETS) Clone() *ETS {
	c := *e
	c.spec.Periods = slices.Clone(e.spec.Periods)
	c.gamma = slices.Clone(e.gamma)
	c.pos = slices.Clone(e.pos)
	c.warm = slices.Clone(e.warm)
	c.scrat = slices.Clone(e.scrat)
	if e.seas != nil {
		c.seas = make([][]float64, len(e.seas))
		for k := range e.seas {
			c.seas[k] = slices.Clone(e.seas[k])
		}
	}
	return &c
}

// Reset forgets the states (keeping structure and parameters).
func (e *ETS) Reset() {
	e.ready = false
	e.warm = e.warm[:0]
	e.l, e.b, e.n, e.last, e.sum, e.cnt = 0, 0, 0, 0, 0, 0
}

// Update adds the next observation (see Forecaster).
func (e *ETS) Update(y float64) {
	y = Clean(y)
	if !e.ready {
		if math.IsNaN(y) {
			return
		}
		e.last = y
		e.sum += y
		e.cnt++
		e.warm = append(e.warm, y)
		if len(e.warm) == e.need {
			e.initialize(e.warm)
			for _, v := range e.warm {
				e.step(v)
			}
			e.n = int64(len(e.warm))
			e.ready = true
		}
		return
	}
	e.n++
	if math.IsNaN(y) {
		y = max(e.oneStep(), 0)
	} else {
		e.last = y
	}
	e.step(y)
}

// seasonNow returns S for the next observation.
func (e *ETS) seasonNow() float64 {
	switch e.spec.Season {
	case SeasonAdditive:
		s := 0.0
		for k, r := range e.seas {
			s += r[e.pos[k]]
		}
		return s
	case SeasonMultiplicative:
		s := 1.0
		for k, r := range e.seas {
			s *= r[e.pos[k]]
		}
		return s
	}
	return 0
}

func (e *ETS) oneStep() float64 {
	t := e.l + e.phi*e.b
	switch e.spec.Season {
	case SeasonAdditive:
		return t + e.seasonNow()
	case SeasonMultiplicative:
		return t * e.seasonNow()
	}
	return t
}

const tiny = 1e-8

// step applies the recursions for observation y and returns the one-step
// forecast made before it.
func (e *ETS) step(y float64) float64 {
	t := e.l + e.phi*e.b
	var mu, ln float64
	switch e.spec.Season {
	case SeasonNone:
		mu = t
		ln = e.alpha*y + (1-e.alpha)*t
	case SeasonAdditive:
		s := 0.0
		for k, r := range e.seas {
			s += r[e.pos[k]]
		}
		mu = t + s
		ln = e.alpha*(y-s) + (1-e.alpha)*t
		for k, r := range e.seas {
			p := e.pos[k]
			sk := r[p]
			r[p] = e.gamma[k]*(y-ln-(s-sk)) + (1-e.gamma[k])*sk
			if p++; p == len(r) {
				p = 0
			}
			e.pos[k] = p
		}
	case SeasonMultiplicative:
		s := 1.0
		for k, r := range e.seas {
			s *= r[e.pos[k]]
		}
		s = max(s, tiny)
		mu = t * s
		ln = max(e.alpha*(y/s)+(1-e.alpha)*t, tiny)
		for k, r := range e.seas {
			p := e.pos[k]
			sk := r[p]
			other := s / sk
			r[p] = max(e.gamma[k]*(y/(ln*other))+(1-e.gamma[k])*sk, 1e-3)
			if p++; p == len(r) {
				p = 0
			}
			e.pos[k] = p
		}
	}
	if e.spec.Trend != TrendNone {
		e.b = e.beta*(ln-e.l) + (1-e.beta)*e.phi*e.b
	}
	e.l = ln
	return mu
}

// initialize sets the states from the first e.need observations x,
// as of just before x[0].
func (e *ETS) initialize(x []float64) {
	if !e.spec.seasonal() {
		e.b = 0
		if e.spec.Trend != TrendNone && len(x) >= 2 {
			e.b = x[1] - x[0]
		}
		e.l = x[0] - e.b
		if e.spec.Trend == TrendNone {
			e.l = x[0]
		}
		return
	}
	M := e.spec.Periods[len(e.spec.Periods)-1]
	n := len(x)
	var m1, m2 float64
	for i := range M {
		m1 += x[i]
		m2 += x[M+i]
	}
	m1 /= float64(M)
	m2 /= float64(M)
	slope := 0.0
	if e.spec.Trend != TrendNone {
		slope = (m2 - m1) / float64(M)
	}
	mult := e.spec.Season == SeasonMultiplicative
	// d holds the detrended series (differences or ratios).
	d := e.scrat[:n]
	centre := float64(M-1) / 2
	for t := range n {
		tr := m1 + slope*(float64(t)-centre)
		if mult {
			d[t] = x[t] / max(tr, tiny)
		} else {
			d[t] = x[t] - tr
		}
	}
	for k, m := range e.spec.Periods {
		r := e.seas[k]
		clear(r)
		cnt := 0
		for t := range n {
			r[t%m] += d[t]
			if t%m == 0 {
				cnt++
			}
		}
		var mean float64
		for j := range r {
			c := (n - j + m - 1) / m
			r[j] /= float64(max(c, 1))
			mean += r[j]
		}
		mean /= float64(m)
		for j := range r {
			if mult {
				r[j] = max(r[j]/max(mean, tiny), 1e-3)
			} else {
				r[j] -= mean
			}
		}
		// Remove this period's pattern before estimating the next one.
		for t := range n {
			if mult {
				d[t] /= r[t%m]
			} else {
				d[t] -= r[t%m]
			}
		}
		e.pos[k] = 0
	}
	e.b = slope
	e.l = m1 - slope*(centre+1)
	if mult {
		e.l = max(e.l, tiny)
	}
}

// Forecast writes the next len(dst) forecasts (see Forecaster).
func (e *ETS) Forecast(dst []float64) {
	if !e.ready {
		mean := 0.0
		if e.cnt > 0 {
			mean = e.sum / float64(e.cnt)
		}
		for i := range dst {
			dst[i] = mean
		}
		sanitize(dst, e.last)
		return
	}
	damp, cum := 1.0, 0.0
	for h := range dst {
		if e.spec.Trend != TrendNone {
			damp *= e.phi
			cum += damp
		}
		t := e.l + cum*e.b
		switch e.spec.Season {
		case SeasonAdditive:
			for k, r := range e.seas {
				t += r[(e.pos[k]+h)%len(r)]
			}
		case SeasonMultiplicative:
			for k, r := range e.seas {
				t *= r[(e.pos[k]+h)%len(r)]
			}
		}
		dst[h] = t
	}
	sanitize(dst, e.last)
}
