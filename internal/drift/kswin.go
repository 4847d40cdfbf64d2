package drift

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// KSWINConfig configures a KSWIN detector. The zero value means River's
// defaults.
type KSWINConfig struct {
	// Alpha is the significance level of the KS test, in (0, 1). Default
	// 0.005.
	Alpha float64
	// WindowSize is the length of the sliding window. Default 100.
	WindowSize int
	// StatSize is the length of the recent part of the window and of the
	// sample drawn from the older part; WindowSize must be at least
	// 2·StatSize. Default 30.
	StatSize int
	// Seed seeds the generator that draws the sample; every seed,
	// including 0, is deterministic.
	Seed uint64
}

func (c KSWINConfig) withDefaults() KSWINConfig {
	if c.Alpha == 0 {
		c.Alpha = 0.005
	}
	if c.WindowSize == 0 {
		c.WindowSize = 100
	}
	if c.StatSize == 0 {
		c.StatSize = 30
	}
	return c
}

// maxKSWINWindow bounds WindowSize (state size and per-update cost).
const maxKSWINWindow = 1 << 20

// Validate reports the first invalid field, after applying defaults.
func (c KSWINConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case !(c.Alpha > 0 && c.Alpha < 1):
		return fmt.Errorf("drift: KSWIN Alpha = %v, want 0 < Alpha < 1", c.Alpha)
	case c.StatSize < 1:
		return fmt.Errorf("drift: KSWIN StatSize = %d, want >= 1", c.StatSize)
	case c.WindowSize < 2*c.StatSize || c.WindowSize > maxKSWINWindow:
		return fmt.Errorf("drift: KSWIN WindowSize = %d, want 2·StatSize (%d) .. %d", c.WindowSize, 2*c.StatSize, maxKSWINWindow)
	}
	return nil
}

// KSWIN is the Kolmogorov-Smirnov windowing detector of Raab et al.
// (2020), as in River.
//
// KSWIN keeps the last WindowSize values. Once the window is full, every
// Update draws StatSize values uniformly without replacement from the
// oldest WindowSize − StatSize (with a PCG generator seeded by Seed, so
// runs are reproducible), and runs a two-sample KS test of that sample
// against the StatSize most recent values. It signals a drift when the
// p-value is at most Alpha and the statistic D exceeds 0.1. The p-value is
// exact (lattice-path recursion), as scipy's ks_2samp gives for these
// sizes.
//
// After a drift the window keeps only the StatSize most recent values (the
// new concept) and refills before testing again; the generator is not
// reseeded. (River intends the same but, as written, empties the window
// and reseeds on the next update.) KSWIN has no warning zone. Non-finite
// values are ignored (Drift is cleared, nothing else changes). The zero
// value is a KSWIN with the default configuration (seed 0); it allocates
// its buffers on first use.
type KSWIN struct {
	cfg KSWINConfig

	buf  []float64 // ring buffer of the window, capacity WindowSize
	head int       // index of the oldest value in buf
	size int       // values in the window
	rng  rand.PCG

	n      uint64  // values seen since New or Reset
	stat   float64 // latest D
	pValue float64 // latest p-value (1 before the first test)
	drift  bool

	// Scratch, reused on every update.
	perm   []int32   // index pool for sampling, WindowSize − StatSize
	sample []float64 // StatSize
	recent []float64 // StatSize
	// pTable[k] is the exact p-value P(D ≥ k/StatSize): with equal sample
	// sizes D only takes StatSize+1 values, so the tests are table
	// look-ups. Derived from the configuration, not saved.
	pTable []float64
}

// NewKSWIN returns a KSWIN detector. Zero fields of cfg take River's
// defaults. It panics if cfg is invalid (see Validate).
func NewKSWIN(cfg KSWINConfig) *KSWIN {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	k := &KSWIN{cfg: cfg}
	k.init()
	return k
}

// init applies the defaults and allocates the buffers (New, or first use
// of the zero value).
func (k *KSWIN) init() {
	k.cfg = k.cfg.withDefaults()
	k.alloc()
	k.Reset()
}

func (k *KSWIN) alloc() {
	c := k.cfg
	k.buf = make([]float64, c.WindowSize)
	k.perm = make([]int32, c.WindowSize-c.StatSize)
	k.sample = make([]float64, c.StatSize)
	k.recent = make([]float64, c.StatSize)
	k.pTable = make([]float64, c.StatSize+1)
	var ks ksScratch
	for i := range k.pTable {
		k.pTable[i] = ks.exact(c.StatSize, c.StatSize, int64(i)*int64(c.StatSize))
	}
}

// seedPCG derives the two PCG words from the seed (the second word is a
// fixed odd constant so that seed 0 is as good as any other).
func seedPCG(r *rand.PCG, seed uint64) { r.Seed(seed, 0x9e3779b97f4a7c15) }

// Config returns the configuration with defaults applied.
func (k *KSWIN) Config() KSWINConfig { return k.cfg.withDefaults() }

// Update adds v to the window and, once it is full, tests for a change.
func (k *KSWIN) Update(v float64) {
	k.drift = false
	if k.buf == nil {
		k.init()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	k.n++
	w := k.cfg.WindowSize
	if k.size < w {
		k.buf[(k.head+k.size)%w] = v
		k.size++
	} else {
		k.buf[k.head] = v
		k.head = (k.head + 1) % w
	}
	if k.size < w {
		return
	}
	s := k.cfg.StatSize
	old := w - s
	// Partial Fisher-Yates over 0..old−1 draws s distinct positions.
	for i := range k.perm {
		k.perm[i] = int32(i)
	}
	for i := range s {
		j := i + k.intn(old-i)
		k.perm[i], k.perm[j] = k.perm[j], k.perm[i]
		k.sample[i] = k.at(int(k.perm[i]))
	}
	for i := range s {
		k.recent[i] = k.at(old + i)
	}
	sortFloats(k.sample)
	sortFloats(k.recent)
	h := ksStatistic(k.sample, k.recent) // = |i − j|·s at the largest gap
	k.stat = float64(h) / float64(s*s)
	k.pValue = k.pTable[h/int64(s)]
	if k.pValue <= k.cfg.Alpha && k.stat > 0.1 {
		k.drift = true
		// Keep the s most recent values as the start of the new window.
		k.head = (k.head + old) % w
		k.size = s
	}
}

// sortFloats sorts NaN-free a in place: insertion sort for the short
// samples KSWIN uses (faster than the general sort below ~50 values).
func sortFloats(a []float64) {
	if len(a) > 48 {
		slices.Sort(a)
		return
	}
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for ; j > 0 && a[j-1] > v; j-- {
			a[j] = a[j-1]
		}
		a[j] = v
	}
}

// at returns the i-th oldest value of the window.
func (k *KSWIN) at(i int) float64 { return k.buf[(k.head+i)%k.cfg.WindowSize] }

// intn returns a uniform integer in [0, n) (Lemire's method; n > 0).
func (k *KSWIN) intn(n int) int {
	un := uint64(n)
	hi, lo := bits.Mul64(k.rng.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(k.rng.Uint64(), un)
		}
	}
	return int(hi)
}

// Drift reports whether the latest Update detected a change.
func (k *KSWIN) Drift() bool { return k.drift }

// Warning always returns false: KSWIN has no warning zone.
func (k *KSWIN) Warning() bool { return false }

// PValue returns the p-value of the latest test (1 before the first).
func (k *KSWIN) PValue() float64 { return k.pValue }

// Statistic returns the KS statistic D of the latest test.
func (k *KSWIN) Statistic() float64 { return k.stat }

// Reset empties the window and reseeds the generator, keeping the
// configuration.
func (k *KSWIN) Reset() {
	k.head, k.size, k.n = 0, 0, 0
	clear(k.buf)
	k.stat, k.pValue, k.drift = 0, 1, false
	seedPCG(&k.rng, k.cfg.Seed)
}

// MarshalBinary encodes the configuration and the complete state.
func (k *KSWIN) MarshalBinary() ([]byte, error) { return k.AppendBinary(nil) }

// AppendBinary appends the encoding of MarshalBinary to b.
func (k *KSWIN) AppendBinary(b []byte) ([]byte, error) {
	if k.buf == nil {
		k.init()
	}
	rng, err := k.rng.AppendBinary(nil)
	if err != nil {
		return b, fmt.Errorf("drift: kswin generator state: %w", err)
	}
	return appendState(b, kindKSWIN, func(e *encoder) {
		e.f64(k.cfg.Alpha)
		e.int(k.cfg.WindowSize)
		e.int(k.cfg.StatSize)
		e.u64(k.cfg.Seed)
		e.u64(k.n)
		e.f64(k.stat)
		e.f64(k.pValue)
		e.bool(k.drift)
		e.int(len(rng))
		e.raw(rng)
		e.int(k.size)
		for i := range k.size {
			e.f64(k.at(i))
		}
	}), nil
}

// UnmarshalBinary restores a state written by MarshalBinary, including
// the configuration. On error k is unchanged.
func (k *KSWIN) UnmarshalBinary(data []byte) error {
	d, err := openState(data, kindKSWIN)
	if err != nil {
		return err
	}
	var n KSWIN
	n.cfg.Alpha = d.finite("alpha")
	n.cfg.WindowSize = d.int("window size", maxKSWINWindow)
	n.cfg.StatSize = d.int("stat size", maxKSWINWindow)
	n.cfg.Seed = d.u64("seed")
	if d.err == nil && (n.cfg.Alpha == 0 || n.cfg.WindowSize == 0 || n.cfg.StatSize == 0) {
		d.fail("configuration has a zero field")
	}
	if d.err == nil {
		if err := n.cfg.Validate(); err != nil {
			d.fail("%v", err)
		}
	}
	n.n = d.u64("count")
	n.stat = d.finite("statistic")
	n.pValue = d.finite("p-value")
	n.drift = d.bool("drift")
	rng := d.raw("generator", d.int("generator length", 64))
	size := d.int("window length", n.cfg.WindowSize)
	vals := d.f64s("window", size)
	if err := d.finish(); err != nil {
		return err
	}
	if err := n.rng.UnmarshalBinary(rng); err != nil {
		return fmt.Errorf("drift: kswin state: generator: %v", err)
	}
	if n.stat < 0 || n.stat > 1 || n.pValue < 0 || n.pValue > 1 {
		return fmt.Errorf("drift: kswin state: statistic %v or p-value %v outside [0, 1]", n.stat, n.pValue)
	}
	n.alloc()
	copy(n.buf, vals)
	n.size = size
	*k = n
	return nil
}
