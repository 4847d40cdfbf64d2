package forecast

import "math"

// IntermittentMethod selects Croston's method or one of its corrections.
type IntermittentMethod uint8

// The intermittent-demand methods.
const (
	// Croston smooths the non-zero demand sizes z and the intervals p
	// between them; the forecast is z/p.
	Croston IntermittentMethod = iota
	// SBA is Syntetos-Boylan's bias correction: (1-α/2)·z/p.
	SBA
	// TSB (Teunter, Syntetos, Babai) smooths the probability of demand
	// every period (with Beta) instead of the interval, so the forecast
	// d·z decays when demand stops.
	TSB
)

// Intermittent forecasts intermittent demand (many zeros) with Croston,
// SBA or TSB; the forecast is flat over the horizon. Missing values are
// skipped; negative ones count as 0.
type Intermittent struct {
	method      IntermittentMethod
	alpha, beta float64
	z, p, d     float64
	q           float64 // periods since the last demand
	started     bool
}

// NewIntermittent returns a forecaster; alpha smooths sizes (and
// intervals), beta the demand probability (TSB only). Both must lie in
// (0, 1]; it panics otherwise.
func NewIntermittent(method IntermittentMethod, alpha, beta float64) *Intermittent {
	if !(alpha > 0 && alpha <= 1) || (method == TSB && !(beta > 0 && beta <= 1)) {
		panic("forecast: Intermittent needs alpha (and beta for TSB) in (0, 1]")
	}
	return &Intermittent{method: method, alpha: alpha, beta: beta, q: 1}
}

// Update adds the next observation.
func (c *Intermittent) Update(y float64) {
	y = Clean(y)
	if math.IsNaN(y) {
		return
	}
	if !c.started {
		if y <= 0 && c.method != TSB {
			c.q++
			return
		}
		c.started = true
		c.z, c.p = y, c.q
		c.d = 0
		if y > 0 {
			c.d = 1
		}
		c.q = 1
		return
	}
	if c.method == TSB {
		o := 0.0
		if y > 0 {
			o = 1
			c.z += c.alpha * (y - c.z)
		}
		c.d += c.beta * (o - c.d)
		return
	}
	if y > 0 {
		c.z += c.alpha * (y - c.z)
		c.p += c.alpha * (c.q - c.p)
		c.q = 1
	} else {
		c.q++
	}
}

// Rate returns the forecast demand per period.
func (c *Intermittent) Rate() float64 {
	if !c.started {
		return 0
	}
	switch c.method {
	case TSB:
		return c.d * c.z
	case SBA:
		return (1 - c.alpha/2) * c.z / max(c.p, 1)
	}
	return c.z / max(c.p, 1)
}

// Forecast writes the flat forecast Rate into dst.
func (c *Intermittent) Forecast(dst []float64) {
	r := c.Rate()
	for i := range dst {
		dst[i] = r
	}
	sanitize(dst, 0)
}
