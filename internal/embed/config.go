package embed

import (
	"fmt"
	"math"
)

// Optimizer names the row-wise update rule ApplyGradient runs. Its values
// are stable configuration strings and appear in snapshots.
type Optimizer string

// The optimizers. The empty string means AdaGrad.
const (
	// AdaGrad keeps one squared-gradient accumulator per float:
	// a += g², w -= lr·g/(√a + ε).
	AdaGrad Optimizer = "adagrad"
	// Adam keeps m and v per float and a step count per row (lazy, or
	// "sparse", Adam: a row's moments and bias correction advance only
	// when the row gets a gradient).
	Adam Optimizer = "adam"
	// FTRL is McMahan et al.'s per-coordinate FTRL-Proximal with z and n
	// per float.
	FTRL Optimizer = "ftrl"
	// SGD is plain stochastic gradient descent, with no state.
	SGD Optimizer = "sgd"
)

// stateWidth returns the optimizer's state floats per row.
func (o Optimizer) stateWidth(dim int) int {
	switch o {
	case AdaGrad:
		return dim
	case Adam, FTRL:
		return 2 * dim
	}
	return 0
}

// stateNames returns the snapshot tensor names of the optimizer's
// per-float state, each [rows, dim].
func (o Optimizer) stateNames() []string {
	switch o {
	case AdaGrad:
		return []string{"adagrad.sum"}
	case Adam:
		return []string{"adam.m", "adam.v"}
	case FTRL:
		return []string{"ftrl.z", "ftrl.n"}
	}
	return nil
}

// Config configures a Table. The zero value of every field except Dim
// means its default.
type Config struct {
	// Dim is the number of floats per row (required, 1 to 4096).
	Dim int
	// Optimizer is the update rule; "" means AdaGrad.
	Optimizer Optimizer
	// LearnRate is the step size (FTRL's α); 0 means 0.05 for AdaGrad and
	// FTRL, 0.001 for Adam and 0.01 for SGD.
	LearnRate float64
	// InitStd is the standard deviation of the normal distribution new
	// rows are drawn from; 0 means 0.01 and a negative value means rows
	// start at zero. A row's initial values depend only on Seed and its
	// ID, so an evicted ID that comes back starts from the same values.
	InitStd float64
	// Seed seeds the index hash, the admission sketch, row
	// initialisation and the eviction sampler.
	Seed uint64

	// AdmitAfter is the number of sightings (Lookup calls) after which an
	// ID gets its own row; before that Lookup returns DefaultRow. 0 and 1
	// admit an ID on its first sighting. At most 255.
	AdmitAfter int
	// LearnDefault makes DefaultRow a learned "unknown ID" embedding:
	// initialised like an ID row and trained by ApplyGradient. Off (the
	// default), DefaultRow is all zeros and ApplyGradient leaves it
	// unchanged; callers embed an ID without a row with InitRow, the
	// values its row will start from.
	//
	// Leave it off with AdmitAfter > 1 when labels arrive late: then
	// whether an example is learned while its ID is still on DefaultRow
	// depends on when its label came, which depends on the label (a
	// purchase arrives soon, a negative when its horizon ends), so a
	// learned DefaultRow is trained on a label-biased sample of examples
	// and then scores every unadmitted ID with that bias (issue #3: window
	// log loss 2.74 instead of 0.16 on sim.World). InitRow has no such
	// channel: an ID looks the same to the model before and after its
	// admission, so the moment of admission carries no information.
	LearnDefault bool `json:",omitempty"`
	// AdmitSketchWidth is the number of counters per row of the
	// admission count-min sketch (4 rows of 1-byte counters), a power of
	// two of at least 1024; 0 means 1<<20 (4 MiB). Used only when
	// AdmitAfter > 1.
	AdmitSketchWidth int

	// ExpireAfter drops, at Expire(now), the IDs not seen since
	// now-ExpireAfter, in the caller's logical clock; 0 never expires.
	ExpireAfter int64

	// MaxRows bounds the number of ID rows (the default row aside); 0
	// means no bound but the int32 row index.
	MaxRows int
	// MemoryBudgetBytes bounds the table's accounted memory (see
	// Stats.Bytes): it is turned into a row bound at New, using the
	// per-row cost of weights, optimizer state, bookkeeping and index. 0
	// means no bound. When both bounds are set the smaller wins. A
	// bounded table sizes its index for the bound up front (about 9.2
	// bytes per row) so it never stalls to rehash.
	MemoryBudgetBytes int64

	// L2 is the L2 penalty (λ/2)·|w|² on rows that receive a gradient:
	// λ·w is added to the gradient (for FTRL it is the λ2 of the closed
	// form instead). Untouched rows are not decayed.
	L2 float64
	// L1 is FTRL's λ1 (rows get exact zeros while |z| ≤ λ1); other
	// optimizers refuse a non-zero L1.
	L1 float64

	// Beta1 and Beta2 are Adam's moment decays; 0 means 0.9 and 0.999.
	Beta1, Beta2 float64
	// Epsilon is AdaGrad's and Adam's denominator guard; 0 means 1e-8.
	Epsilon float64
	// FTRLBeta is FTRL's β; 0 means 1.
	FTRLBeta float64
}

// MaxDim is the largest supported Config.Dim.
const MaxDim = 4096

// maxRowsLimit is the most ID rows a table can hold: row indices are
// int32 and row 0 is the default row.
const maxRowsLimit = math.MaxInt32 - 1

// withDefaults returns c with its defaults filled in, or an error naming
// the first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Dim < 1 || c.Dim > MaxDim {
		return c, fmt.Errorf("embed: Config.Dim = %d; want 1 to %d", c.Dim, MaxDim)
	}
	if c.Optimizer == "" {
		c.Optimizer = AdaGrad
	}
	switch c.Optimizer {
	case AdaGrad, Adam, FTRL, SGD:
	default:
		return c, fmt.Errorf("embed: Config.Optimizer = %q; want %q, %q, %q or %q", c.Optimizer, AdaGrad, Adam, FTRL, SGD)
	}
	if c.LearnRate == 0 {
		switch c.Optimizer {
		case Adam:
			c.LearnRate = 0.001
		case SGD:
			c.LearnRate = 0.01
		default:
			c.LearnRate = 0.05
		}
	}
	if c.InitStd == 0 {
		c.InitStd = 0.01
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-8
	}
	if c.FTRLBeta == 0 {
		c.FTRLBeta = 1
	}
	if c.AdmitSketchWidth == 0 {
		c.AdmitSketchWidth = 1 << 20
	}
	finite := func(name string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("embed: Config.%s = %v; want a finite number", name, v)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"LearnRate", c.LearnRate}, {"InitStd", c.InitStd}, {"L2", c.L2}, {"L1", c.L1}, {"Beta1", c.Beta1}, {"Beta2", c.Beta2}, {"Epsilon", c.Epsilon}, {"FTRLBeta", c.FTRLBeta}} {
		if err := finite(f.name, f.v); err != nil {
			return c, err
		}
	}
	switch {
	case c.LearnRate < 0:
		return c, fmt.Errorf("embed: Config.LearnRate = %v; want > 0", c.LearnRate)
	case c.L2 < 0:
		return c, fmt.Errorf("embed: Config.L2 = %v; want ≥ 0", c.L2)
	case c.L1 < 0:
		return c, fmt.Errorf("embed: Config.L1 = %v; want ≥ 0", c.L1)
	case c.L1 != 0 && c.Optimizer != FTRL:
		return c, fmt.Errorf("embed: Config.L1 = %v is only supported by the %q optimizer, not %q", c.L1, FTRL, c.Optimizer)
	case c.Beta1 < 0 || c.Beta1 >= 1:
		return c, fmt.Errorf("embed: Config.Beta1 = %v; want in [0, 1)", c.Beta1)
	case c.Beta2 < 0 || c.Beta2 >= 1:
		return c, fmt.Errorf("embed: Config.Beta2 = %v; want in [0, 1)", c.Beta2)
	case c.Epsilon < 0:
		return c, fmt.Errorf("embed: Config.Epsilon = %v; want > 0", c.Epsilon)
	case c.FTRLBeta < 0:
		return c, fmt.Errorf("embed: Config.FTRLBeta = %v; want > 0", c.FTRLBeta)
	case c.AdmitAfter < 0 || c.AdmitAfter > 255:
		return c, fmt.Errorf("embed: Config.AdmitAfter = %d; want 0 to 255", c.AdmitAfter)
	case c.AdmitSketchWidth < minSketchWidth || c.AdmitSketchWidth > maxSketchWidth || c.AdmitSketchWidth&(c.AdmitSketchWidth-1) != 0:
		return c, fmt.Errorf("embed: Config.AdmitSketchWidth = %d; want a power of two from %d to %d", c.AdmitSketchWidth, minSketchWidth, maxSketchWidth)
	case c.ExpireAfter < 0:
		return c, fmt.Errorf("embed: Config.ExpireAfter = %d; want ≥ 0", c.ExpireAfter)
	case c.MaxRows < 0 || c.MaxRows > maxRowsLimit:
		return c, fmt.Errorf("embed: Config.MaxRows = %d; want 0 to %d", c.MaxRows, maxRowsLimit)
	case c.MemoryBudgetBytes < 0:
		return c, fmt.Errorf("embed: Config.MemoryBudgetBytes = %d; want ≥ 0", c.MemoryBudgetBytes)
	}
	return c, nil
}
