package forecast

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// GlobalConfig configures a Global model. Zero fields mean the defaults.
type GlobalConfig struct {
	// Lags is the number of past values each forecast looks at; 0 means
	// 2·Horizon.
	Lags int
	// Horizon is the number of steps forecast (one linear output per
	// step: a direct multi-horizon model); required.
	Horizon int
	// ScaleWindow is how many of the latest lags set the window's scale
	// (their mean absolute value); 0 means all Lags.
	ScaleWindow int
	// Ridge is the L2 penalty per training window on the normalised
	// weights; 0 means 1e-4.
	Ridge float64
	// Stride adds a training window every Stride observations of a
	// series; 0 means 1.
	Stride int
	// CalendarPeriods adds features of the forecast origin's phase in
	// each period (e.g. 7 for day of week, 24 and 168 for hour of day
	// and of week): a one-hot vector for periods up to 32 (so each step
	// gets its own calendar effect), else sin/cos pairs of the first 6
	// harmonics. The phase of a series' first observation is given to
	// AddSeries.
	CalendarPeriods []int
	// Log fits on log(1 + y/scale) instead of y/scale.
	Log bool
	// Standardize centres each window on its mean and divides by its
	// mean absolute DiffLag-difference (the MASE scale of the window)
	// instead of dividing by the mean; Log is then ignored. This makes the
	// squared loss track MASE rather than relative error.
	Standardize bool
	// DiffLag is the lag of the differences that scale a standardised
	// window (the seasonal period); 0 means 1.
	DiffLag int
	// Batch is the number of windows buffered before they are added to
	// the normal equations; 0 means 256.
	Batch int
}

// Validate reports the first invalid field.
func (c GlobalConfig) Validate() error {
	switch {
	case c.Horizon < 1:
		return fmt.Errorf("forecast: global: Horizon = %d; want ≥ 1", c.Horizon)
	case c.Lags < 0:
		return fmt.Errorf("forecast: global: Lags = %d; want ≥ 0", c.Lags)
	case c.ScaleWindow < 0:
		return fmt.Errorf("forecast: global: ScaleWindow = %d; want ≥ 0", c.ScaleWindow)
	case c.Ridge < 0 || math.IsNaN(c.Ridge):
		return fmt.Errorf("forecast: global: Ridge = %v; want ≥ 0", c.Ridge)
	case c.Stride < 0:
		return fmt.Errorf("forecast: global: Stride = %d; want ≥ 0", c.Stride)
	case c.Batch < 0:
		return fmt.Errorf("forecast: global: Batch = %d; want ≥ 0", c.Batch)
	}
	for i, p := range c.CalendarPeriods {
		if p < 2 {
			return fmt.Errorf("forecast: global: CalendarPeriods[%d] = %d; want ≥ 2", i, p)
		}
	}
	return nil
}

func (c GlobalConfig) withDefaults() GlobalConfig {
	if c.Lags == 0 {
		c.Lags = 2 * c.Horizon
	}
	if c.ScaleWindow == 0 || c.ScaleWindow > c.Lags {
		c.ScaleWindow = c.Lags
	}
	if c.Ridge == 0 {
		c.Ridge = 1e-4
	}
	if c.Stride == 0 {
		c.Stride = 1
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	if c.DiffLag <= 0 || c.DiffLag >= c.Lags {
		c.DiffLag = 1
	}
	if c.Standardize {
		c.Log = false
	}
	return c
}

// Global is one direct multi-horizon linear model shared by many series
// (a pooled autoregression). A window of the last Lags values of a series
// is divided by its scale (the mean absolute value of its latest
// ScaleWindow values), optionally log-transformed, and extended with a
// bias and calendar features; output k predicts the value k steps ahead
// on the same scale.
//
// Learning is online: every observation of a series completes a training
// window (the Lags values before the last Horizon ones, with those as
// targets), which is added to the ridge normal equations X'X and X'Y
// (buffered in batches of Batch windows and added with a BLAS rank-k
// update, so the cost per window is O(d²) for d features). Solve
// recomputes the weights; until the first Solve, and for a series with
// fewer than Lags values, the forecast is the mean of the values seen.
// Windows with a missing value are skipped.
type Global struct {
	cfg     GlobalConfig
	d       int // features: lags, bias, calendar
	xtx     []float64
	xty     []float64
	nWin    int64
	bx, by  []float64 // batch buffers
	nb      int
	w       []float64 // d×H weights, row-major by feature
	solved  bool
	series  []*gseries
	scratch []float64
}

type gseries struct {
	ring  []float64 // last Lags+Horizon values
	pos   int
	n     int64
	phase int64
	since int
	sum   float64
	cnt   int64
	last  float64
}

// NewGlobal returns an empty model.
func NewGlobal(cfg GlobalConfig) (*Global, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.CalendarPeriods = slices.Clone(cfg.CalendarPeriods)
	d := cfg.Lags + 1
	for _, p := range cfg.CalendarPeriods {
		d += calWidth(p)
	}
	g := &Global{cfg: cfg, d: d,
		xtx:     make([]float64, d*d),
		xty:     make([]float64, d*cfg.Horizon),
		bx:      make([]float64, cfg.Batch*d),
		by:      make([]float64, cfg.Batch*cfg.Horizon),
		w:       make([]float64, d*cfg.Horizon),
		scratch: make([]float64, d),
	}
	return g, nil
}

// Config returns the configuration with defaults applied.
func (g *Global) Config() GlobalConfig { return g.cfg }

// Windows returns the number of training windows learnt.
func (g *Global) Windows() int64 { return g.nWin + int64(g.nb) }

// AddSeries registers a new series whose first observation has the given
// phase (its index in calendar time, e.g. hours since a Monday 00:00; 0
// when unknown) and returns its index.
func (g *Global) AddSeries(phase int64) int {
	g.series = append(g.series, &gseries{ring: make([]float64, g.cfg.Lags+g.cfg.Horizon), phase: phase})
	return len(g.series) - 1
}

// NumSeries returns the number of series.
func (g *Global) NumSeries() int { return len(g.series) }

// at returns the value k steps before the latest (k = 0 is the latest).
func (s *gseries) at(k int) float64 {
	i := s.pos - 1 - k
	for i < 0 {
		i += len(s.ring)
	}
	return s.ring[i]
}

// features writes the feature vector of the window whose latest value is
// offset steps before the series' latest one into x, and returns its
// scale; ok is false if the window has a missing value.
func (g *Global) features(s *gseries, offset int, x []float64) (centre, scale float64, ok bool) {
	L := g.cfg.Lags
	var sum float64
	for k := range g.cfg.ScaleWindow {
		v := s.at(offset + k)
		if math.IsNaN(v) {
			return 0, 0, false
		}
		sum += math.Abs(v)
	}
	scale = sum / float64(g.cfg.ScaleWindow)
	if g.cfg.Standardize {
		centre = scale
		var ds float64
		lag := g.cfg.DiffLag
		for k := 0; k+lag < L; k++ {
			ds += math.Abs(s.at(offset+k) - s.at(offset+k+lag))
		}
		scale = ds / float64(L-lag)
	}
	if !(scale > 0) {
		scale = 1
	}
	for k := range L {
		v := s.at(offset + k)
		if math.IsNaN(v) {
			return 0, 0, false
		}
		x[k] = g.tf((v - centre) / scale)
	}
	x[L] = 1
	t := s.phase + s.n - 1 - int64(offset) // calendar index of the window's latest value
	j := L + 1
	for _, p := range g.cfg.CalendarPeriods {
		ph := ((t+1)%int64(p) + int64(p)) % int64(p) // phase of the first forecast step
		w := calWidth(p)
		if w == p {
			for k := range w {
				x[j+k] = 0
			}
			x[j+int(ph)] = 1
		} else {
			for h := range w / 2 {
				a := 2 * math.Pi * float64(h+1) * float64(ph) / float64(p)
				x[j+2*h] = math.Sin(a)
				x[j+2*h+1] = math.Cos(a)
			}
		}
		j += w
	}
	return centre, scale, true
}

// calWidth is the number of calendar features of period p.
func calWidth(p int) int {
	if p <= 32 {
		return p
	}
	return 12
}

func (g *Global) tf(v float64) float64 {
	if g.cfg.Log {
		return math.Log1p(max(v, 0))
	}
	return v
}

func (g *Global) inv(v float64) float64 {
	if g.cfg.Log {
		return math.Expm1(min(v, 50))
	}
	return v
}

// Observe adds the next observation of series s (cleaned as Clean does)
// and learns from the training window it completes. It panics if s is
// not a registered series.
func (g *Global) Observe(s int, y float64) {
	gs := g.series[s]
	y = Clean(y)
	if !math.IsNaN(y) {
		gs.sum += y
		gs.cnt++
		gs.last = y
	}
	gs.ring[gs.pos] = y
	if gs.pos++; gs.pos == len(gs.ring) {
		gs.pos = 0
	}
	gs.n++
	H := g.cfg.Horizon
	if gs.n < int64(len(gs.ring)) {
		return
	}
	if gs.since++; gs.since < g.cfg.Stride {
		return
	}
	gs.since = 0
	x := g.bx[g.nb*g.d : (g.nb+1)*g.d]
	centre, scale, ok := g.features(gs, H, x)
	if !ok {
		return
	}
	yt := g.by[g.nb*H : (g.nb+1)*H]
	for k := range H {
		v := gs.at(H - 1 - k)
		if math.IsNaN(v) {
			return
		}
		yt[k] = g.tf((v - centre) / scale)
	}
	g.nb++
	if g.nb == g.cfg.Batch {
		g.flush()
	}
}

func (g *Global) flush() {
	if g.nb == 0 {
		return
	}
	d, H := g.d, g.cfg.Horizon
	a := blas64.General{Rows: g.nb, Cols: d, Stride: d, Data: g.bx[:g.nb*d]}
	c := blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: g.xtx}
	blas64.Syrk(blas.Trans, 1, a, 1, c)
	b := blas64.General{Rows: g.nb, Cols: H, Stride: H, Data: g.by[:g.nb*H]}
	blas64.Gemm(blas.Trans, blas.NoTrans, 1, a, b, 1, blas64.General{Rows: d, Cols: H, Stride: H, Data: g.xty})
	g.nWin += int64(g.nb)
	g.nb = 0
}

// Solve recomputes the weights from the windows learnt so far. It
// returns an error if there are none or the system is singular.
func (g *Global) Solve() error {
	g.flush()
	if g.nWin == 0 {
		return fmt.Errorf("forecast: global: no training window yet (series need %d values)", g.cfg.Lags+g.cfg.Horizon)
	}
	d, H := g.d, g.cfg.Horizon
	a := slices.Clone(g.xtx)
	lam := g.cfg.Ridge * float64(g.nWin)
	for i := range d {
		if i != g.cfg.Lags { // the bias is not penalised
			a[i*d+i] += lam
		}
	}
	t, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: d, Stride: d, Data: a})
	if !ok {
		return fmt.Errorf("forecast: global: normal equations are singular (%d windows, %d features)", g.nWin, d)
	}
	w := slices.Clone(g.xty)
	lapack64.Potrs(t, blas64.General{Rows: d, Cols: H, Stride: H, Data: w})
	for _, v := range w {
		if !finite(v) {
			return fmt.Errorf("forecast: global: non-finite weights")
		}
	}
	copy(g.w, w)
	g.solved = true
	return nil
}

// Solved reports whether Solve has succeeded at least once.
func (g *Global) Solved() bool { return g.solved }

// Forecast writes the forecasts of series s for the next len(dst) steps;
// len(dst) must not exceed Horizon. Before the first Solve or while the
// series has fewer than Lags values (or a missing one among them) it
// writes the mean of the series' values. It does not allocate.
func (g *Global) Forecast(s int, dst []float64) {
	if len(dst) > g.cfg.Horizon {
		panic(fmt.Sprintf("forecast: global: %d steps requested, Horizon is %d", len(dst), g.cfg.Horizon))
	}
	gs := g.series[s]
	mean := 0.0
	if gs.cnt > 0 {
		mean = gs.sum / float64(gs.cnt)
	}
	x := g.scratch
	centre, scale, ok := 0.0, 0.0, false
	if g.solved && gs.n >= int64(g.cfg.Lags) {
		centre, scale, ok = g.features(gs, 0, x)
	}
	if !ok {
		for i := range dst {
			dst[i] = mean
		}
		sanitize(dst, gs.last)
		return
	}
	H := g.cfg.Horizon
	for k := range dst {
		var v float64
		for j, xj := range x {
			v += xj * g.w[j*H+k]
		}
		dst[k] = g.inv(v)*scale + centre
	}
	sanitize(dst, gs.last)
}

// View returns series s as a Forecaster (Update calls Observe; Forecast
// calls Forecast, so at most Horizon steps).
func (g *Global) View(s int) Forecaster { return globalView{g, s} }

type globalView struct {
	g *Global
	s int
}

func (v globalView) Update(y float64)       { v.g.Observe(v.s, y) }
func (v globalView) Forecast(dst []float64) { v.g.Forecast(v.s, dst) }
