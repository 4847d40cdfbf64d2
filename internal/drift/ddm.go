package drift

import (
	"fmt"
	"math"
)

// DDMConfig configures a DDM detector. The zero value means River's
// defaults.
type DDMConfig struct {
	// WarningLevel is the number of standard deviations above the best
	// error rate that enters the warning zone. Default 2.
	WarningLevel float64
	// DriftLevel is the number of standard deviations above the best
	// error rate that signals a drift. Default 3.
	DriftLevel float64
	// WarmStart is how many values must be seen (since the start or the
	// last drift) before the detector tests anything. Default 30.
	WarmStart int
}

func (c DDMConfig) withDefaults() DDMConfig {
	if c.WarningLevel == 0 {
		c.WarningLevel = 2
	}
	if c.DriftLevel == 0 {
		c.DriftLevel = 3
	}
	if c.WarmStart == 0 {
		c.WarmStart = 30
	}
	return c
}

// Validate reports the first invalid field, after applying defaults.
func (c DDMConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.WarningLevel > 0) || math.IsInf(c.WarningLevel, 0):
		return fmt.Errorf("drift: DDM WarningLevel = %v, want a finite value > 0", c.WarningLevel)
	case !(c.DriftLevel >= c.WarningLevel) || math.IsInf(c.DriftLevel, 0):
		return fmt.Errorf("drift: DDM DriftLevel = %v, want a finite value >= WarningLevel (%v)", c.DriftLevel, c.WarningLevel)
	case c.WarmStart < 1 || c.WarmStart > maxConfigInt:
		return fmt.Errorf("drift: DDM WarmStart = %d, want 1..%d", c.WarmStart, maxConfigInt)
	}
	return nil
}

// DDM is the Drift Detection Method of Gama et al. (2004), as in River.
//
// Values are a classifier's errors: v ≥ 0.5 counts as an error (1 = wrong
// prediction), anything else as a correct one. DDM tracks the error rate
// p and its binomial standard deviation s = sqrt(p(1−p)/n) since the last
// reset, remembers p_min and s_min where p + s was smallest, and after
// WarmStart values reports
//
//	warning  when p + s > p_min + WarningLevel·s_min
//	drift    when p + s > p_min + DriftLevel·s_min
//
// A drift clears the warning, and the detector starts afresh on the next
// Update. Like River and MOA, a stream whose first WarmStart values are
// all correct has s_min = 0, so its first error signals a drift.
// Non-finite values are ignored (Drift is cleared, nothing else changes).
// The zero value is a DDM with the default configuration.
type DDM struct {
	cfg DDMConfig

	n            uint64  // values since the last reset
	p            float64 // error rate
	pMin, sMin   float64 // at the minimum of p + s (0 before the warm start ends)
	psMin        float64 // p_min + s_min
	warning      bool
	drift        bool
	driftPending bool
}

// NewDDM returns a DDM detector. Zero fields of cfg take River's defaults.
// It panics if cfg is invalid (see Validate).
func NewDDM(cfg DDMConfig) *DDM {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	d := &DDM{cfg: cfg.withDefaults()}
	d.Reset()
	return d
}

// Config returns the configuration with defaults applied.
func (d *DDM) Config() DDMConfig { return d.cfg.withDefaults() }

// Update adds the next error indicator (1 = wrong prediction).
func (d *DDM) Update(v float64) {
	if d.driftPending {
		d.Reset()
	}
	d.drift = false
	if d.cfg.WarmStart == 0 { // zero value
		d.cfg = d.cfg.withDefaults()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	x := 0.0
	if v >= 0.5 {
		x = 1
	}
	d.n++
	n := float64(d.n)
	d.p += (x - d.p) / n
	s := math.Sqrt(d.p * (1 - d.p) / n)
	if d.n <= uint64(d.cfg.WarmStart) {
		return
	}
	if d.n == uint64(d.cfg.WarmStart)+1 || d.p+s <= d.psMin {
		d.pMin, d.sMin, d.psMin = d.p, s, d.p+s
	}
	d.warning = d.p+s > d.pMin+d.cfg.WarningLevel*d.sMin
	if d.p+s > d.pMin+d.cfg.DriftLevel*d.sMin {
		d.drift, d.warning, d.driftPending = true, false, true
	}
}

// Drift reports whether the latest Update detected a drift.
func (d *DDM) Drift() bool { return d.drift }

// Warning reports whether the latest Update is in the warning zone.
func (d *DDM) Warning() bool { return d.warning }

// ErrorRate returns the error rate since the last reset.
func (d *DDM) ErrorRate() float64 { return d.p }

// Reset forgets the stream, keeping the configuration.
func (d *DDM) Reset() {
	cfg := d.cfg
	*d = DDM{cfg: cfg}
}

// MarshalBinary encodes the configuration and the complete state.
func (d *DDM) MarshalBinary() ([]byte, error) { return d.AppendBinary(nil) }

// AppendBinary appends the encoding of MarshalBinary to b.
func (d *DDM) AppendBinary(b []byte) ([]byte, error) {
	cfg := d.cfg.withDefaults()
	return appendState(b, kindDDM, func(e *encoder) {
		e.f64(cfg.WarningLevel)
		e.f64(cfg.DriftLevel)
		e.int(cfg.WarmStart)
		e.u64(d.n)
		e.f64(d.p)
		e.f64(d.pMin)
		e.f64(d.sMin)
		e.f64(d.psMin)
		e.bool(d.warning)
		e.bool(d.drift)
		e.bool(d.driftPending)
	}), nil
}

// UnmarshalBinary restores a state written by MarshalBinary, including
// the configuration. On error d is unchanged.
func (d *DDM) UnmarshalBinary(data []byte) error {
	dec, err := openState(data, kindDDM)
	if err != nil {
		return err
	}
	var n DDM
	n.cfg.WarningLevel = dec.finite("warning level")
	n.cfg.DriftLevel = dec.finite("drift level")
	n.cfg.WarmStart = dec.int("warm start", maxConfigInt)
	n.n = dec.u64("count")
	n.p = dec.finite("error rate")
	n.pMin = dec.finite("minimum rate")
	n.sMin = dec.finite("minimum deviation")
	n.psMin = dec.finite("minimum rate plus deviation")
	n.warning = dec.bool("warning")
	n.drift = dec.bool("drift")
	n.driftPending = dec.bool("drift pending")
	if err := dec.finish(); err != nil {
		return err
	}
	if n.cfg.WarningLevel == 0 || n.cfg.DriftLevel == 0 || n.cfg.WarmStart == 0 {
		return fmt.Errorf("drift: ddm state: configuration has a zero field")
	}
	if err := n.cfg.Validate(); err != nil {
		return fmt.Errorf("drift: ddm state: %v", err)
	}
	if n.p < 0 || n.p > 1 {
		return fmt.Errorf("drift: ddm state: error rate %v outside [0, 1]", n.p)
	}
	*d = n
	return nil
}
