package drift

import (
	"fmt"
	"math"
	"slices"
)

// WindowMethod selects the statistic a Window detector uses.
type WindowMethod int

// Window statistics. The zero value is WindowPSI.
const (
	// WindowPSI compares the windows with the Population Stability Index.
	WindowPSI WindowMethod = iota
	// WindowKS compares them with the two-sample Kolmogorov-Smirnov test.
	WindowKS
)

// String returns "psi" or "ks".
func (m WindowMethod) String() string {
	switch m {
	case WindowPSI:
		return "psi"
	case WindowKS:
		return "ks"
	}
	return fmt.Sprintf("WindowMethod(%d)", int(m))
}

// WindowConfig configures a Window detector. The zero value means a PSI
// detector with a 1000-value reference, 500-value windows tested every
// 500 values, 10 bins, warning at PSI 0.1 and drift at PSI 0.25.
type WindowConfig struct {
	// Method selects PSI (default) or KS.
	Method WindowMethod
	// Reference is the number of values in the reference window.
	// Default 1000.
	Reference int
	// Size is the number of values in the current window. Default 500.
	Size int
	// Step is how many values pass between two tests once the current
	// window is full; 1 tests on every update. Default Size (disjoint
	// windows: fewer, independent tests).
	Step int
	// Bins is the number of PSI quantile bins. Default 10. Unused by KS.
	Bins int
	// Threshold signals a drift: for PSI, when PSI > Threshold (default
	// PSISignificant, 0.25); for KS, when the p-value < Threshold
	// (default 0.005).
	Threshold float64
	// Warning enters the warning zone: for PSI, when PSI > Warning
	// (default PSIModerate, 0.1); for KS, when the p-value < Warning
	// (default 0.05).
	Warning float64
}

// maxWindowSize bounds Reference and Size.
const maxWindowSize = 1 << 24

func (c WindowConfig) withDefaults() WindowConfig {
	if c.Reference == 0 {
		c.Reference = 1000
	}
	if c.Size == 0 {
		c.Size = 500
	}
	if c.Step == 0 {
		c.Step = c.Size
	}
	if c.Bins == 0 {
		c.Bins = 10
	}
	if c.Threshold == 0 {
		c.Threshold = PSISignificant
		if c.Method == WindowKS {
			c.Threshold = 0.005
		}
	}
	if c.Warning == 0 {
		c.Warning = PSIModerate
		if c.Method == WindowKS {
			c.Warning = 0.05
		}
	}
	return c
}

// Validate reports the first invalid field, after applying defaults.
func (c WindowConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Method != WindowPSI && c.Method != WindowKS:
		return fmt.Errorf("drift: Window Method = %d, want WindowPSI or WindowKS", int(c.Method))
	case c.Reference < 1 || c.Reference > maxWindowSize:
		return fmt.Errorf("drift: Window Reference = %d, want 1..%d", c.Reference, maxWindowSize)
	case c.Size < 1 || c.Size > maxWindowSize:
		return fmt.Errorf("drift: Window Size = %d, want 1..%d", c.Size, maxWindowSize)
	case c.Step < 1 || c.Step > c.Size:
		return fmt.Errorf("drift: Window Step = %d, want 1..Size (%d)", c.Step, c.Size)
	case c.Bins < 2 || c.Bins > 1<<16:
		return fmt.Errorf("drift: Window Bins = %d, want 2..%d", c.Bins, 1<<16)
	case c.Method == WindowPSI && !(c.Warning > 0 && c.Warning <= c.Threshold && !math.IsInf(c.Threshold, 0)):
		return fmt.Errorf("drift: Window PSI thresholds Warning = %v, Threshold = %v, want 0 < Warning <= Threshold (finite)", c.Warning, c.Threshold)
	case c.Method == WindowKS && !(c.Threshold > 0 && c.Threshold <= c.Warning && c.Warning < 1):
		return fmt.Errorf("drift: Window KS levels Threshold = %v, Warning = %v, want 0 < Threshold <= Warning < 1", c.Threshold, c.Warning)
	}
	return nil
}

// Window detects a shift in the distribution of a stream (typically one
// feature) by comparing a fixed reference window with a recent window.
//
// The first Reference values form the reference. After that, the last
// Size values form the current window; once it is full, and then every
// Step values, the detector scores the current window against the
// reference with PSI (quantile bins of the reference) or with the
// two-sample KS test. Drift reports true on the update whose test crosses
// Threshold; Warning reports whether the latest test crossed Warning (it
// holds until the next test). After a drift the detector starts afresh:
// the next Reference values become the new reference.
//
// With Step = Size (the default) the tests use disjoint windows, so under
// no change each test is a fresh trial: with KS the false-alarm rate is
// about Threshold per test. Non-finite values are ignored (Drift is
// cleared, nothing else changes). The zero value is a Window with the
// default configuration; it allocates its buffers on first use.
type Window struct {
	cfg WindowConfig

	ref    []float64 // reference values, in arrival order; len = filled so far
	sorted []float64 // the reference sorted, once complete
	cur    []float64 // ring buffer of the current window (cap Size)
	head   int       // oldest value in cur
	size   int       // values in cur
	since  int       // values since the last test (or since the reference completed)

	stat    float64 // latest PSI or KS D
	pValue  float64 // latest KS p-value (1 for PSI and before the first test)
	warning bool
	drift   bool
	pending bool // start afresh on the next update

	psi     PSI
	scratch []float64 // sorted copy of the current window
	ks      ksScratch
}

// NewWindow returns a Window detector. Zero fields of cfg take the
// defaults. It panics if cfg is invalid (see Validate).
func NewWindow(cfg WindowConfig) *Window {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	w := &Window{cfg: cfg}
	w.init()
	return w
}

// init applies the defaults and allocates the buffers (New, or first use
// of the zero value).
func (w *Window) init() {
	w.cfg = w.cfg.withDefaults()
	w.alloc()
	w.Reset()
}

func (w *Window) alloc() {
	c := w.cfg
	w.ref = make([]float64, 0, c.Reference)
	w.sorted = make([]float64, c.Reference)
	w.cur = make([]float64, c.Size)
	w.scratch = make([]float64, c.Size)
	if c.Method == WindowPSI {
		w.psi.edges = make([]float64, 0, c.Bins-1)
		w.psi.ref = make([]float64, 0, c.Bins)
		w.psi.counts = make([]float64, 0, c.Bins)
	} else if int64(c.Reference)*int64(c.Size) <= KSExactLimit {
		w.ks.row = make([]float64, c.Size+1)
	}
}

// Config returns the configuration with defaults applied.
func (w *Window) Config() WindowConfig { return w.cfg.withDefaults() }

// Update adds the next value.
func (w *Window) Update(v float64) {
	if w.pending {
		w.Reset()
	}
	w.drift = false
	if w.cur == nil {
		w.init()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if len(w.ref) < w.cfg.Reference {
		w.ref = append(w.ref, v)
		if len(w.ref) == w.cfg.Reference {
			w.referenceComplete()
		}
		return
	}
	n := w.cfg.Size
	if w.size < n {
		w.cur[(w.head+w.size)%n] = v
		w.size++
	} else {
		w.cur[w.head] = v
		w.head = (w.head + 1) % n
	}
	w.since++
	if w.size < n || w.since < w.cfg.Step {
		return
	}
	w.since = 0
	w.test()
}

// referenceComplete prepares the statistics of a full reference.
func (w *Window) referenceComplete() {
	copy(w.sorted, w.ref)
	slices.Sort(w.sorted)
	if w.cfg.Method == WindowPSI {
		// Cannot fail: the reference is non-empty and finite, Bins >= 2.
		if err := w.psi.rebuild(w.ref, w.cfg.Bins, w.sorted); err != nil {
			panic(err)
		}
	}
}

func (w *Window) test() {
	if w.cfg.Method == WindowPSI {
		w.stat = w.psi.Score(w.cur[:w.size])
		w.pValue = 1
		w.warning = w.stat > w.cfg.Warning
		if w.stat > w.cfg.Threshold {
			w.drift, w.warning, w.pending = true, false, true
		}
		return
	}
	copy(w.scratch, w.cur[:w.size])
	slices.Sort(w.scratch)
	w.stat, w.pValue = w.ks.test(w.sorted, w.scratch)
	w.warning = w.pValue < w.cfg.Warning
	if w.pValue < w.cfg.Threshold {
		w.drift, w.warning, w.pending = true, false, true
	}
}

// Drift reports whether the latest Update's test detected a shift.
func (w *Window) Drift() bool { return w.drift }

// Warning reports whether the latest test was in the warning zone.
func (w *Window) Warning() bool { return w.warning }

// Statistic returns the latest PSI (WindowPSI) or KS statistic D
// (WindowKS); 0 before the first test.
func (w *Window) Statistic() float64 { return w.stat }

// PValue returns the latest KS p-value; 1 for WindowPSI and before the
// first test.
func (w *Window) PValue() float64 { return w.pValue }

// Reset forgets the reference and the current window, keeping the
// configuration.
func (w *Window) Reset() {
	w.ref = w.ref[:0]
	w.head, w.size, w.since = 0, 0, 0
	w.stat, w.pValue = 0, 1
	w.warning, w.drift, w.pending = false, false, false
}

// MarshalBinary encodes the configuration and the complete state.
func (w *Window) MarshalBinary() ([]byte, error) { return w.AppendBinary(nil) }

// AppendBinary appends the encoding of MarshalBinary to b.
func (w *Window) AppendBinary(b []byte) ([]byte, error) {
	if w.cur == nil {
		w.init()
	}
	return appendState(b, kindWindow, func(e *encoder) {
		c := w.cfg
		e.int(int(c.Method))
		e.int(c.Reference)
		e.int(c.Size)
		e.int(c.Step)
		e.int(c.Bins)
		e.f64(c.Threshold)
		e.f64(c.Warning)
		e.int(w.since)
		e.f64(w.stat)
		e.f64(w.pValue)
		e.bool(w.warning)
		e.bool(w.drift)
		e.bool(w.pending)
		e.int(len(w.ref))
		e.f64s(w.ref)
		e.int(w.size)
		for i := range w.size {
			e.f64(w.cur[(w.head+i)%c.Size])
		}
	}), nil
}

// UnmarshalBinary restores a state written by MarshalBinary, including
// the configuration. On error w is unchanged.
func (w *Window) UnmarshalBinary(data []byte) error {
	d, err := openState(data, kindWindow)
	if err != nil {
		return err
	}
	var c WindowConfig
	c.Method = WindowMethod(d.int("method", 1))
	c.Reference = d.int("reference size", maxWindowSize)
	c.Size = d.int("window size", maxWindowSize)
	c.Step = d.int("step", maxWindowSize)
	c.Bins = d.int("bins", 1<<16)
	c.Threshold = d.finite("threshold")
	c.Warning = d.finite("warning")
	if d.err == nil && (c.Reference == 0 || c.Size == 0 || c.Step == 0 || c.Bins == 0 || c.Threshold == 0 || c.Warning == 0) {
		d.fail("configuration has a zero field")
	}
	if d.err == nil {
		if err := c.Validate(); err != nil {
			d.fail("%v", err)
		}
	}
	since := d.int("values since test", c.Size)
	stat := d.finite("statistic")
	pValue := d.finite("p-value")
	warning := d.bool("warning")
	drift := d.bool("drift")
	pending := d.bool("pending")
	ref := d.f64s("reference", d.int("reference length", c.Reference))
	cur := d.f64s("window", d.int("window length", c.Size))
	if err := d.finish(); err != nil {
		return err
	}
	if stat < 0 || pValue < 0 || pValue > 1 {
		return fmt.Errorf("drift: window state: statistic %v or p-value %v out of range", stat, pValue)
	}
	if len(cur) > 0 && len(ref) < c.Reference {
		return fmt.Errorf("drift: window state: current window holds %d values before the reference is complete", len(cur))
	}
	n := Window{cfg: c}
	n.alloc()
	n.ref = append(n.ref, ref...)
	copy(n.cur, cur)
	n.size = len(cur)
	n.since = since
	n.stat, n.pValue = stat, pValue
	n.warning, n.drift, n.pending = warning, drift, pending
	if len(n.ref) == c.Reference {
		n.referenceComplete()
	}
	*w = n
	return nil
}
