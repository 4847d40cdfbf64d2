package drift

import (
	"fmt"
	"math"
)

// ADWINConfig configures an ADWIN detector. The zero value means River's
// defaults.
type ADWINConfig struct {
	// Delta is the confidence parameter δ in (0, 1): the bound on the
	// probability that one check of the window raises a false alarm.
	// Smaller is more conservative. Default 0.002.
	Delta float64
	// Clock is how many updates pass between two checks of the window.
	// 1 checks on every update. Default 32.
	Clock int
	// MaxBuckets is how many buckets of each size the exponential
	// histogram keeps before merging the two oldest. Default 5.
	MaxBuckets int
	// MinWindow is the minimum length of each sub-window of a cut.
	// Default 5.
	MinWindow int
	// GracePeriod is how many values the window must hold before it is
	// checked. Default 10.
	GracePeriod int
}

// withDefaults replaces zero fields by River's defaults.
func (c ADWINConfig) withDefaults() ADWINConfig {
	if c.Delta == 0 {
		c.Delta = 0.002
	}
	if c.Clock == 0 {
		c.Clock = 32
	}
	if c.MaxBuckets == 0 {
		c.MaxBuckets = 5
	}
	if c.MinWindow == 0 {
		c.MinWindow = 5
	}
	if c.GracePeriod == 0 {
		c.GracePeriod = 10
	}
	return c
}

// Validate reports the first invalid field, after applying defaults.
func (c ADWINConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.Delta > 0 && c.Delta < 1):
		return fmt.Errorf("drift: ADWIN Delta = %v, want 0 < Delta < 1", c.Delta)
	case c.Clock < 1 || c.Clock > maxConfigInt:
		return fmt.Errorf("drift: ADWIN Clock = %d, want 1..%d", c.Clock, maxConfigInt)
	case c.MaxBuckets < 1 || c.MaxBuckets > maxADWINBuckets:
		return fmt.Errorf("drift: ADWIN MaxBuckets = %d, want 1..%d", c.MaxBuckets, maxADWINBuckets)
	case c.MinWindow < 1 || c.MinWindow > maxConfigInt:
		return fmt.Errorf("drift: ADWIN MinWindow = %d, want 1..%d", c.MinWindow, maxConfigInt)
	case c.GracePeriod < 0 || c.GracePeriod > maxConfigInt:
		return fmt.Errorf("drift: ADWIN GracePeriod = %d, want 0..%d", c.GracePeriod, maxConfigInt)
	}
	return nil
}

const (
	// maxConfigInt bounds integer settings so that state stays small and
	// arithmetic cannot overflow.
	maxConfigInt = 1 << 30
	// maxADWINBuckets bounds MaxBuckets (River uses 5).
	maxADWINBuckets = 1 << 10
	// maxADWINRows bounds the histogram height: row r holds buckets of
	// 2^r values, so 62 rows cover any int64 window.
	maxADWINRows = 62
)

// ADWIN is the adaptive windowing detector of Bifet and Gavaldà (2007),
// in the bucket-based form of MOA and River.
//
// ADWIN keeps a window of recent values summarised by an exponential
// histogram: row r holds up to MaxBuckets buckets of 2^r values each (their
// sum and the sum of squared deviations from their mean), so memory is
// O(MaxBuckets · log(width)). Every Clock updates, once the window holds
// more than GracePeriod values, ADWIN tries every split of the window into
// an older part W0 and a newer part W1 at a bucket boundary (both parts at
// least MinWindow long) and cuts when
//
//	|μ0 − μ1| > ε = sqrt(2·m·σ²·δ′) + (2/3)·δ′·m
//
// where σ² is the variance of the whole window, δ′ = ln(2·ln(width)/δ) and
// m = 1/(n0 − MinWindow + 1) + 1/(n1 − MinWindow + 1) (River's form of the
// Bernstein bound). On a cut it drops the oldest bucket and tests again,
// until no split is significant; Drift reports true for that update.
//
// Differences from River's current ADWIN, on purpose:
//   - After a drift, River discards the whole window on the next update;
//     this ADWIN keeps the shrunken window (W1), as in the paper and MOA,
//     so Estimation tracks the new concept. The cut works at bucket
//     granularity and may keep a few old values, so one abrupt change can
//     give a second drift a few checks later. Calling Reset after each
//     drift reproduces River exactly (one alarm per change).
//   - River's split loop skips the newest bucket of every row (a
//     translation slip from MOA); here every bucket boundary is tried, as
//     in MOA.
//
// ADWIN has no warning zone: Warning is always false. Non-finite values
// are ignored (the update clears Drift and changes nothing else). The
// zero value is an ADWIN with the default configuration.
type ADWIN struct {
	cfg ADWINConfig

	// Histogram rows, oldest bucket first within a row. Row r's buckets
	// sit at [r*(M+1), r*(M+1)+cnt[r]) in tot and m2, M = MaxBuckets (a
	// row briefly holds M+1 before it is compressed).
	cnt []int
	tot []float64 // sum of the values of each bucket
	m2  []float64 // sum of squared deviations of each bucket

	width int     // number of values in the window
	total float64 // sum of the window
	m2w   float64 // sum of squared deviations of the window

	tick       uint64 // updates since New or Reset
	detections uint64
	drift      bool
}

// NewADWIN returns an ADWIN detector. Zero fields of cfg take River's
// defaults. It panics if cfg is invalid (see ADWINConfig.Validate).
func NewADWIN(cfg ADWINConfig) *ADWIN {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	a := &ADWIN{cfg: cfg.withDefaults()}
	stride := a.cfg.MaxBuckets + 1
	const initialRows = 8 // covers about 5·2^8 values before growing
	a.cnt = make([]int, 0, initialRows)
	a.tot = make([]float64, 0, initialRows*stride)
	a.m2 = make([]float64, 0, initialRows*stride)
	return a
}

// Config returns the configuration with defaults applied.
func (a *ADWIN) Config() ADWINConfig { return a.cfg.withDefaults() }

// Update adds v to the window and, every Clock updates, looks for a cut.
func (a *ADWIN) Update(v float64) {
	a.drift = false
	if a.cfg.Clock == 0 { // zero value
		a.cfg = a.cfg.withDefaults()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	a.insert(v)
	a.tick++
	if a.tick%uint64(a.cfg.Clock) != 0 || a.width <= a.cfg.GracePeriod {
		return
	}
	for a.findCut() {
		a.drift = true
		a.deleteOldest()
	}
	if a.drift {
		a.detections++
	}
}

// Drift reports whether the latest Update cut the window.
func (a *ADWIN) Drift() bool { return a.drift }

// Warning always returns false: ADWIN has no warning zone.
func (a *ADWIN) Warning() bool { return false }

// Reset empties the window, keeping the configuration.
func (a *ADWIN) Reset() {
	a.cnt, a.tot, a.m2 = a.cnt[:0], a.tot[:0], a.m2[:0]
	a.width, a.total, a.m2w = 0, 0, 0
	a.tick, a.detections, a.drift = 0, 0, false
}

// Width returns the number of values in the window.
func (a *ADWIN) Width() int { return a.width }

// Estimation returns the mean of the window, or 0 when it is empty.
func (a *ADWIN) Estimation() float64 {
	if a.width == 0 {
		return 0
	}
	return a.total / float64(a.width)
}

// Variance returns the (population) variance of the values in the window,
// or 0 when it is empty. (River's ADWIN.variance is the unnormalised sum
// of squared deviations; this is that sum divided by Width.)
func (a *ADWIN) Variance() float64 {
	if a.width == 0 {
		return 0
	}
	return a.m2w / float64(a.width)
}

// Detections returns how many updates detected a drift since New or Reset.
func (a *ADWIN) Detections() int { return int(a.detections) }

func (a *ADWIN) stride() int { return a.cfg.MaxBuckets + 1 }

// addRow appends an empty row (amortised: rows grow with log(width)).
func (a *ADWIN) addRow() {
	a.cnt = append(a.cnt, 0)
	for range a.stride() {
		a.tot = append(a.tot, 0)
		a.m2 = append(a.m2, 0)
	}
}

// push appends a bucket to row r.
func (a *ADWIN) push(r int, total, m2 float64) {
	i := r*a.stride() + a.cnt[r]
	a.tot[i], a.m2[i] = total, m2
	a.cnt[r]++
}

// shift removes the k oldest buckets of row r.
func (a *ADWIN) shift(r, k int) {
	s := r * a.stride()
	n := a.cnt[r]
	copy(a.tot[s:s+n-k], a.tot[s+k:s+n])
	copy(a.m2[s:s+n-k], a.m2[s+k:s+n])
	clear(a.tot[s+n-k : s+n])
	clear(a.m2[s+n-k : s+n])
	a.cnt[r] = n - k
}

func (a *ADWIN) insert(v float64) {
	if len(a.cnt) == 0 {
		a.addRow()
	}
	a.push(0, v, 0)
	a.width++
	if a.width > 1 {
		w := float64(a.width)
		d := v - a.total/(w-1)
		a.m2w += (w - 1) * d * d / w
	}
	a.total += v
	a.compress()
}

// compress merges the two oldest buckets of every over-full row into one
// bucket of the next row, cascading upwards.
func (a *ADWIN) compress() {
	for r := 0; r < len(a.cnt) && a.cnt[r] > a.cfg.MaxBuckets; r++ {
		if r+1 == len(a.cnt) {
			a.addRow()
		}
		s := r * a.stride()
		n := math.Ldexp(1, r) // values per bucket in row r
		t1, t2 := a.tot[s], a.tot[s+1]
		d := (t1 - t2) / n
		// Chan et al.: M2 of the union = M2₁ + M2₂ + n₁n₂(μ₁−μ₂)²/(n₁+n₂).
		a.push(r+1, t1+t2, a.m2[s]+a.m2[s+1]+n*d*d/2)
		a.shift(r, 2)
	}
}

// deleteOldest drops the oldest bucket of the window.
func (a *ADWIN) deleteOldest() {
	last := len(a.cnt) - 1
	s := last * a.stride()
	n := math.Ldexp(1, last)
	u, v := a.tot[s], a.m2[s]
	a.width -= 1 << last
	a.total -= u
	if a.width > 0 {
		w := float64(a.width)
		d := u/n - a.total/w
		a.m2w -= v + n*w*d*d/(n+w)
		if a.m2w < 0 { // rounding
			a.m2w = 0
		}
	} else {
		a.total, a.m2w = 0, 0
	}
	a.shift(last, 1)
	// Drop trailing empty rows (with MaxBuckets 1 inner rows can be empty).
	for len(a.cnt) > 0 && a.cnt[len(a.cnt)-1] == 0 {
		a.cnt = a.cnt[:len(a.cnt)-1]
		a.tot = a.tot[:len(a.cnt)*a.stride()]
		a.m2 = a.m2[:len(a.cnt)*a.stride()]
	}
}

// findCut reports whether some split of the window into old (W0) and new
// (W1) parts at a bucket boundary has significantly different means.
func (a *ADWIN) findCut() bool {
	w := float64(a.width)
	minW := float64(a.cfg.MinWindow)
	dPrime := math.Log(2 * math.Log(w) / a.cfg.Delta)
	varW := a.m2w / w
	var n0, u0 float64
	n1, u1 := w, a.total
	for r := len(a.cnt) - 1; r >= 0; r-- {
		n2 := math.Ldexp(1, r)
		s := r * a.stride()
		for k := range a.cnt[r] {
			u2 := a.tot[s+k]
			n0 += n2
			n1 -= n2
			u0 += u2
			u1 -= u2
			if r == 0 && k == a.cnt[0]-1 {
				return false // W1 would be empty
			}
			if n0 < minW || n1 < minW {
				continue
			}
			m := 1/(n0-minW+1) + 1/(n1-minW+1)
			eps := math.Sqrt(2*m*varW*dPrime) + 2.0/3.0*dPrime*m
			if math.Abs(u0/n0-u1/n1) > eps {
				return true
			}
		}
	}
	return false
}

// MarshalBinary encodes the configuration and the complete state.
func (a *ADWIN) MarshalBinary() ([]byte, error) { return a.AppendBinary(nil) }

// AppendBinary appends the encoding of MarshalBinary to b.
func (a *ADWIN) AppendBinary(b []byte) ([]byte, error) {
	cfg := a.cfg.withDefaults()
	return appendState(b, kindADWIN, func(e *encoder) {
		e.f64(cfg.Delta)
		e.int(cfg.Clock)
		e.int(cfg.MaxBuckets)
		e.int(cfg.MinWindow)
		e.int(cfg.GracePeriod)
		e.u64(a.tick)
		e.u64(a.detections)
		e.bool(a.drift)
		e.int(a.width)
		e.f64(a.total)
		e.f64(a.m2w)
		e.int(len(a.cnt))
		for r, c := range a.cnt {
			e.int(c)
			s := r * a.stride()
			e.f64s(a.tot[s : s+c])
			e.f64s(a.m2[s : s+c])
		}
	}), nil
}

// UnmarshalBinary restores a state written by MarshalBinary, including
// the configuration. On error a is unchanged.
func (a *ADWIN) UnmarshalBinary(data []byte) error {
	d, err := openState(data, kindADWIN)
	if err != nil {
		return err
	}
	var cfg ADWINConfig
	cfg.Delta = d.finite("delta")
	cfg.Clock = d.int("clock", maxConfigInt)
	cfg.MaxBuckets = d.int("max buckets", maxADWINBuckets)
	cfg.MinWindow = d.int("min window", maxConfigInt)
	cfg.GracePeriod = d.int("grace period", maxConfigInt)
	if d.err == nil && (cfg.Delta == 0 || cfg.Clock == 0 || cfg.MaxBuckets == 0 || cfg.MinWindow == 0) {
		d.fail("configuration has a zero field")
	}
	if d.err == nil {
		if err := cfg.Validate(); err != nil {
			d.fail("%v", err)
		}
	}
	n := ADWIN{cfg: cfg}
	n.tick = d.u64("tick")
	n.detections = d.u64("detections")
	n.drift = d.bool("drift")
	n.width = d.int("width", math.MaxInt64)
	n.total = d.finite("total")
	n.m2w = d.finite("variance sum")
	rows := d.int("rows", maxADWINRows)
	if d.err != nil {
		return d.err
	}
	stride := cfg.MaxBuckets + 1
	n.cnt = make([]int, rows, max(rows, 8))
	n.tot = make([]float64, rows*stride, max(rows, 8)*stride)
	n.m2 = make([]float64, rows*stride, max(rows, 8)*stride)
	var width uint64
	for r := range rows {
		c := d.int("bucket count", cfg.MaxBuckets)
		n.cnt[r] = c
		s := r * stride
		for k := range c {
			n.tot[s+k] = d.finite("bucket total")
		}
		for k := range c {
			v := d.finite("bucket variance")
			if v < 0 {
				d.fail("negative bucket variance %v", v)
			}
			n.m2[s+k] = v
		}
		if c > 0 && uint64(c) > (math.MaxInt64-width)>>r {
			d.fail("row %d overflows the window width", r)
		}
		width += uint64(c) << r
	}
	if err := d.finish(); err != nil {
		return err
	}
	if rows > 0 && n.cnt[rows-1] == 0 {
		return fmt.Errorf("drift: adwin state: the oldest row is empty")
	}
	if width != uint64(n.width) {
		return fmt.Errorf("drift: adwin state: buckets hold %d values but width is %d", width, n.width)
	}
	if n.m2w < 0 {
		return fmt.Errorf("drift: adwin state: negative variance sum %v", n.m2w)
	}
	*a = n
	return nil
}
