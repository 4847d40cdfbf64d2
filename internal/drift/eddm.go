package drift

import (
	"fmt"
	"math"
)

// EDDMConfig configures an EDDM detector. The zero value means the
// River/MOA defaults.
type EDDMConfig struct {
	// WarmStart is how many values, and then how many errors, must be
	// seen (since the start or the last drift) before the detector tests
	// anything. Default 30.
	WarmStart int
	// Alpha is the warning level in (0, 1]: warning when the current
	// mean+2σ distance between errors falls below Alpha times its maximum.
	// Default 0.95.
	Alpha float64
	// Beta is the drift level in (0, Alpha]. Default 0.9.
	Beta float64
}

func (c EDDMConfig) withDefaults() EDDMConfig {
	if c.WarmStart == 0 {
		c.WarmStart = 30
	}
	if c.Alpha == 0 {
		c.Alpha = 0.95
	}
	if c.Beta == 0 {
		c.Beta = 0.9
	}
	return c
}

// Validate reports the first invalid field, after applying defaults.
func (c EDDMConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.WarmStart < 1 || c.WarmStart > maxConfigInt:
		return fmt.Errorf("drift: EDDM WarmStart = %d, want 1..%d", c.WarmStart, maxConfigInt)
	case !(c.Alpha > 0 && c.Alpha <= 1):
		return fmt.Errorf("drift: EDDM Alpha = %v, want 0 < Alpha <= 1", c.Alpha)
	case !(c.Beta > 0 && c.Beta <= c.Alpha):
		return fmt.Errorf("drift: EDDM Beta = %v, want 0 < Beta <= Alpha (%v)", c.Beta, c.Alpha)
	}
	return nil
}

// EDDM is the Early Drift Detection Method of Baena-García et al. (2006),
// as in River.
//
// Values are a classifier's errors: v ≥ 0.5 counts as an error (1 = wrong
// prediction). EDDM watches the distance (in values) between consecutive
// errors: with p′ and s′ the mean and sample standard deviation of those
// distances, it tracks the maximum m = max(p′ + 2s′). On each error, after
// WarmStart values and more than WarmStart errors, with level =
// (p′ + 2s′)/m:
//
//	level < Beta   drift (errors come closer together)
//	level < Alpha  warning
//
// The warning zone persists until the next error re-evaluates it; a new
// maximum ends it. A drift clears the warning, and the detector starts
// afresh on the next Update. Non-finite values are ignored (Drift is
// cleared, nothing else changes). The zero value is an EDDM with the
// default configuration.
type EDDM struct {
	cfg EDDMConfig

	n         uint64 // values since the last reset
	lastError uint64 // index (1-based) of the latest error, 0 if none
	nErrors   uint64
	// Welford statistics of the distances between errors.
	distMean, distM2 float64
	p2sMax           float64 // max of p′ + 2s′ (0 before the first; p′ ≥ 1)

	warning      bool
	drift        bool
	driftPending bool
}

// NewEDDM returns an EDDM detector. Zero fields of cfg take the defaults.
// It panics if cfg is invalid (see Validate).
func NewEDDM(cfg EDDMConfig) *EDDM {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	e := &EDDM{cfg: cfg.withDefaults()}
	e.Reset()
	return e
}

// Config returns the configuration with defaults applied.
func (e *EDDM) Config() EDDMConfig { return e.cfg.withDefaults() }

// Update adds the next error indicator (1 = wrong prediction).
func (e *EDDM) Update(v float64) {
	if e.driftPending {
		e.Reset()
	}
	e.drift = false
	if e.cfg.WarmStart == 0 { // zero value
		e.cfg = e.cfg.withDefaults()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || (e.n == math.MaxUint64) {
		return
	}
	e.n++
	if v < 0.5 {
		return
	}
	e.nErrors++
	dist := float64(e.n - e.lastError)
	delta := dist - e.distMean
	e.distMean += delta / float64(e.nErrors)
	e.distM2 += delta * (dist - e.distMean)
	e.lastError = e.n
	if e.n <= uint64(e.cfg.WarmStart) {
		return
	}
	var s float64
	if e.nErrors > 1 {
		s = math.Sqrt(e.distM2 / float64(e.nErrors-1))
	}
	p2s := e.distMean + 2*s
	if p2s > e.p2sMax {
		e.p2sMax = p2s
		e.warning = false
		return
	}
	if e.nErrors <= uint64(e.cfg.WarmStart) {
		return
	}
	level := p2s / e.p2sMax
	switch {
	case level < e.cfg.Beta:
		e.drift, e.warning, e.driftPending = true, false, true
	case level < e.cfg.Alpha:
		e.warning = true
	default:
		e.warning = false
	}
}

// Drift reports whether the latest Update detected a drift.
func (e *EDDM) Drift() bool { return e.drift }

// Warning reports whether the detector is in the warning zone.
func (e *EDDM) Warning() bool { return e.warning }

// Reset forgets the stream, keeping the configuration.
func (e *EDDM) Reset() {
	cfg := e.cfg
	*e = EDDM{cfg: cfg}
}

// MarshalBinary encodes the configuration and the complete state.
func (e *EDDM) MarshalBinary() ([]byte, error) { return e.AppendBinary(nil) }

// AppendBinary appends the encoding of MarshalBinary to b.
func (e *EDDM) AppendBinary(b []byte) ([]byte, error) {
	cfg := e.cfg.withDefaults()
	return appendState(b, kindEDDM, func(w *encoder) {
		w.int(cfg.WarmStart)
		w.f64(cfg.Alpha)
		w.f64(cfg.Beta)
		w.u64(e.n)
		w.u64(e.lastError)
		w.u64(e.nErrors)
		w.f64(e.distMean)
		w.f64(e.distM2)
		w.f64(e.p2sMax)
		w.bool(e.warning)
		w.bool(e.drift)
		w.bool(e.driftPending)
	}), nil
}

// UnmarshalBinary restores a state written by MarshalBinary, including
// the configuration. On error e is unchanged.
func (e *EDDM) UnmarshalBinary(data []byte) error {
	d, err := openState(data, kindEDDM)
	if err != nil {
		return err
	}
	var n EDDM
	n.cfg.WarmStart = d.int("warm start", maxConfigInt)
	n.cfg.Alpha = d.finite("alpha")
	n.cfg.Beta = d.finite("beta")
	n.n = d.u64("count")
	n.lastError = d.u64("last error")
	n.nErrors = d.u64("errors")
	n.distMean = d.finite("distance mean")
	n.distM2 = d.finite("distance variance sum")
	n.p2sMax = d.finite("maximum")
	n.warning = d.bool("warning")
	n.drift = d.bool("drift")
	n.driftPending = d.bool("drift pending")
	if err := d.finish(); err != nil {
		return err
	}
	if n.cfg.WarmStart == 0 || n.cfg.Alpha == 0 || n.cfg.Beta == 0 {
		return fmt.Errorf("drift: eddm state: configuration has a zero field")
	}
	if err := n.cfg.Validate(); err != nil {
		return fmt.Errorf("drift: eddm state: %v", err)
	}
	if n.lastError > n.n || n.nErrors > n.n || n.distM2 < 0 || n.p2sMax < 0 {
		return fmt.Errorf("drift: eddm state: inconsistent counters (n %d, last error %d, errors %d)", n.n, n.lastError, n.nErrors)
	}
	*e = n
	return nil
}
