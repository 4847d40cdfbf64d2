package drift

import (
	"fmt"
	"math"
)

// PHMode selects which changes of the mean Page-Hinkley looks for.
type PHMode int

// Page-Hinkley modes. The zero value is PHBoth, River's default.
const (
	PHBoth PHMode = iota // increases and decreases
	PHUp                 // increases only
	PHDown               // decreases only
)

// String returns River's name for the mode: "both", "up" or "down".
func (m PHMode) String() string {
	switch m {
	case PHBoth:
		return "both"
	case PHUp:
		return "up"
	case PHDown:
		return "down"
	}
	return fmt.Sprintf("PHMode(%d)", int(m))
}

// PageHinkleyConfig configures a Page-Hinkley detector. The zero value
// means River's defaults.
type PageHinkleyConfig struct {
	// MinInstances is how many values must be seen (since the start or
	// the last drift) before a drift can be signalled. Default 30.
	MinInstances int
	// Delta is the magnitude of change tolerated per value (δ). Default
	// 0.005.
	Delta float64
	// Threshold is the detection threshold λ on the cumulative deviation.
	// Default 50.
	Threshold float64
	// Alpha is the fading factor applied to the cumulative sums, in
	// (0, 1]; 1 is the unfaded test. Default 0.9999.
	Alpha float64
	// Mode selects increases, decreases or both (default).
	Mode PHMode
}

func (c PageHinkleyConfig) withDefaults() PageHinkleyConfig {
	if c.MinInstances == 0 {
		c.MinInstances = 30
	}
	if c.Delta == 0 {
		c.Delta = 0.005
	}
	if c.Threshold == 0 {
		c.Threshold = 50
	}
	if c.Alpha == 0 {
		c.Alpha = 1 - 0.0001
	}
	return c
}

// Validate reports the first invalid field, after applying defaults.
func (c PageHinkleyConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MinInstances < 1 || c.MinInstances > maxConfigInt:
		return fmt.Errorf("drift: PageHinkley MinInstances = %d, want 1..%d", c.MinInstances, maxConfigInt)
	case !(c.Delta >= 0) || math.IsInf(c.Delta, 0):
		return fmt.Errorf("drift: PageHinkley Delta = %v, want a finite value >= 0", c.Delta)
	case !(c.Threshold > 0) || math.IsInf(c.Threshold, 0):
		return fmt.Errorf("drift: PageHinkley Threshold = %v, want a finite value > 0", c.Threshold)
	case !(c.Alpha > 0 && c.Alpha <= 1):
		return fmt.Errorf("drift: PageHinkley Alpha = %v, want 0 < Alpha <= 1", c.Alpha)
	case c.Mode != PHBoth && c.Mode != PHUp && c.Mode != PHDown:
		return fmt.Errorf("drift: PageHinkley Mode = %d, want PHBoth, PHUp or PHDown", int(c.Mode))
	}
	return nil
}

// PageHinkley is the Page-Hinkley test (Page, 1954) with River's fading
// factor and two-sided mode.
//
// With x̄ the running mean since the last reset and dev = x − x̄, it keeps
//
//	U = α·U + dev − δ,   L = α·L + dev + δ
//
// and signals a drift when, after MinInstances values, U − min(U) > λ
// (the mean went up, modes both/up) or max(L) − L > λ (it went down,
// modes both/down). After a drift the detector starts afresh on the next
// Update, as River does. It has no warning zone. Non-finite values are
// ignored (the update clears Drift and changes nothing else). The zero
// value is a Page-Hinkley detector with the default configuration.
type PageHinkley struct {
	cfg PageHinkleyConfig

	n            uint64  // values since the last reset
	mean         float64 // their mean
	sumInc       float64 // U
	sumDec       float64 // L
	minInc       float64 // min U (0 before the first value)
	maxDec       float64 // max L (0 before the first value)
	drift        bool
	driftPending bool // reset the statistics before the next value
}

// NewPageHinkley returns a Page-Hinkley detector. Zero fields of cfg take
// River's defaults. It panics if cfg is invalid (see Validate).
func NewPageHinkley(cfg PageHinkleyConfig) *PageHinkley {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	p := &PageHinkley{cfg: cfg.withDefaults()}
	p.Reset()
	return p
}

// Config returns the configuration with defaults applied.
func (p *PageHinkley) Config() PageHinkleyConfig { return p.cfg.withDefaults() }

// Update adds the next value.
func (p *PageHinkley) Update(v float64) {
	if p.driftPending {
		p.Reset()
	}
	p.drift = false
	if p.cfg.Alpha == 0 { // zero value
		p.cfg = p.cfg.withDefaults()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	p.n++
	p.mean += (v - p.mean) / float64(p.n)
	dev := v - p.mean
	a := p.cfg.Alpha
	p.sumInc = a*p.sumInc + dev - p.cfg.Delta
	p.sumDec = a*p.sumDec + dev + p.cfg.Delta
	if p.n == 1 || p.sumInc < p.minInc {
		p.minInc = p.sumInc
	}
	if p.n == 1 || p.sumDec > p.maxDec {
		p.maxDec = p.sumDec
	}
	if p.n < uint64(p.cfg.MinInstances) {
		return
	}
	up := p.sumInc-p.minInc > p.cfg.Threshold
	down := p.maxDec-p.sumDec > p.cfg.Threshold
	switch p.cfg.Mode {
	case PHUp:
		p.drift = up
	case PHDown:
		p.drift = down
	default:
		p.drift = up || down
	}
	p.driftPending = p.drift
}

// Drift reports whether the latest Update detected a change.
func (p *PageHinkley) Drift() bool { return p.drift }

// Warning always returns false: Page-Hinkley has no warning zone.
func (p *PageHinkley) Warning() bool { return false }

// Reset forgets the stream, keeping the configuration.
func (p *PageHinkley) Reset() {
	cfg := p.cfg
	*p = PageHinkley{cfg: cfg}
}

// Statistics returns the current one-sided statistics U − min(U) (rise)
// and max(L) − L (fall) that are compared with Threshold.
func (p *PageHinkley) Statistics() (rise, fall float64) {
	if p.n == 0 {
		return 0, 0
	}
	return p.sumInc - p.minInc, p.maxDec - p.sumDec
}

// MarshalBinary encodes the configuration and the complete state.
func (p *PageHinkley) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

// AppendBinary appends the encoding of MarshalBinary to b.
func (p *PageHinkley) AppendBinary(b []byte) ([]byte, error) {
	cfg := p.cfg.withDefaults()
	return appendState(b, kindPageHinkley, func(e *encoder) {
		e.int(cfg.MinInstances)
		e.f64(cfg.Delta)
		e.f64(cfg.Threshold)
		e.f64(cfg.Alpha)
		e.int(int(cfg.Mode))
		e.u64(p.n)
		e.f64(p.mean)
		e.f64(p.sumInc)
		e.f64(p.sumDec)
		e.f64(p.minInc)
		e.f64(p.maxDec)
		e.bool(p.drift)
		e.bool(p.driftPending)
	}), nil
}

// UnmarshalBinary restores a state written by MarshalBinary, including
// the configuration. On error p is unchanged.
func (p *PageHinkley) UnmarshalBinary(data []byte) error {
	d, err := openState(data, kindPageHinkley)
	if err != nil {
		return err
	}
	var n PageHinkley
	n.cfg.MinInstances = d.int("min instances", maxConfigInt)
	n.cfg.Delta = d.finite("delta")
	n.cfg.Threshold = d.finite("threshold")
	n.cfg.Alpha = d.finite("alpha")
	n.cfg.Mode = PHMode(d.int("mode", 2))
	n.n = d.u64("count")
	n.mean = d.finite("mean")
	n.sumInc = d.finite("rise sum")
	n.sumDec = d.finite("fall sum")
	n.minInc = d.finite("rise minimum")
	n.maxDec = d.finite("fall maximum")
	n.drift = d.bool("drift")
	n.driftPending = d.bool("drift pending")
	if err := d.finish(); err != nil {
		return err
	}
	if n.cfg.MinInstances == 0 || n.cfg.Threshold == 0 || n.cfg.Alpha == 0 {
		return fmt.Errorf("drift: page-hinkley state: configuration has a zero field")
	}
	if err := n.cfg.Validate(); err != nil {
		return fmt.Errorf("drift: page-hinkley state: %v", err)
	}
	*p = n
	return nil
}
