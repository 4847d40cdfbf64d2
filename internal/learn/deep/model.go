package deep

import (
	"fmt"
	"math"
	"slices"

	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/feature"
)

// Stats counts what a model did with the examples it was given.
type Stats struct {
	// Learned counts the examples learned from.
	Learned int64
	// Skipped counts the examples not learned from: a label outside
	// [0, 1] (or NaN), or a non-finite logit, activation or gradient.
	Skipped int64
	// NonFiniteInputs counts the examples learned from (or skipped) that
	// had a NaN or ±Inf dense value; such values are read as 0.
	NonFiniteInputs int64
}

// model is the wide & deep model for element type T (float32 for Model,
// float64 in the gradient checks).
type model[T float] struct {
	cfg    Config
	desc   string // the schema's description
	nf     int    // sparse slots
	dim    int    // floats per embedding row
	nDense int    // dense inputs
	ne     int    // nf·dim: the embedding part of x0
	mean   bool

	wide   *wide          // nil without the wide part
	tables []*embed.Table // one per sparse slot; nil without embeddings
	views  []*embed.View  // a Frozen's shell: published tables instead (tables is nil)
	cand   candScratch    // a Frozen's shell: ScoreCandidates' state
	net    *mlp[T]        // nil without the MLP
	fm     bool
	now    int64
	// initMiss: an ID without a row is embedded with its table's InitRow
	// (the row it will start from), not DefaultRow (see
	// embed.Config.LearnDefault).
	initMiss bool
	missRow  []float32 // InitRow scratch
	sink     uint64    // Table.Prefetch's results, kept so that its reads are not optimised away

	x0    []T // the MLP's input: pooled embeddings, then the dense values
	dx0   []T // ∂L/∂x0[:ne]
	fmSum []T // Σ_j x0[j·dim+c]
	rows  []int32
	rowsU []int32
	eg    []float32 // one row's gradient
	eg2   []float32

	embAcc, wideAcc accum // LearnBatch's gradient sums

	stats Stats
	k     kernels[T]
}

func newModel[T float](schema *feature.Schema, cfg Config) (*model[T], error) {
	if schema == nil {
		return nil, fmt.Errorf("deep: New: nil schema")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &model[T]{
		cfg:    c,
		desc:   schema.String(),
		nf:     schema.NumSparse(),
		dim:    c.EmbedDim,
		nDense: schema.DenseDim(),
		mean:   c.Pooling == Mean,
		fm:     c.FM,
		k:      kernelsFor[T](),

		initMiss: !c.Embed.LearnDefault,
	}
	if !c.NoWide {
		bits := schema.WideBits()
		if bits < 1 || bits > MaxWideBits {
			return nil, fmt.Errorf("deep: the wide part needs a schema with WideBits from 1 to %d; this one has %d (or set Config.NoWide)", MaxWideBits, bits)
		}
		nd := 0
		if c.WideDense {
			nd = schema.DenseDim()
		}
		m.wide = newWide(bits, nd, &c)
	}
	if c.hasTables() {
		m.ne = m.nf * m.dim
		m.tables = make([]*embed.Table, m.nf)
		for j := range m.tables {
			ec := c.Embed
			ec.Dim = c.EmbedDim
			ec.Seed = tableSeed(c.Seed, j)
			t, err := embed.New(ec)
			if err != nil {
				return nil, fmt.Errorf("deep: embedding table of field %d: %w", j, err)
			}
			m.tables[j] = t
		}
		m.eg = make([]float32, m.dim)
		m.eg2 = make([]float32, m.dim)
		m.missRow = make([]float32, m.dim)
		m.fmSum = make([]T, m.dim)
	}
	m.x0 = make([]T, m.ne+m.nDense)
	m.dx0 = make([]T, m.ne)
	if !c.NoDeep {
		if len(m.x0) == 0 {
			return nil, fmt.Errorf("deep: the schema has no input for the MLP")
		}
		m.net = newMLP[T](len(m.x0), &c, m.x0)
	}
	return m, nil
}

// config returns the configuration with defaults filled in.
func (m *model[T]) config() Config {
	c := m.cfg
	c.Hidden = slices.Clone(c.Hidden)
	return c
}

// tableSeed derives the seed of field j's table.
func tableSeed(seed uint64, j int) uint64 {
	x := seed ^ (uint64(j)+1)*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// check panics if x does not have the schema's shape.
func (m *model[T]) check(x *feature.Example) {
	if len(x.Dense) != m.nDense || len(x.Offsets) != m.nf+1 {
		panic(fmt.Sprintf("deep: Example has %d dense values and %d offsets; the schema needs %d and %d",
			len(x.Dense), len(x.Offsets), m.nDense, m.nf+1))
	}
	if x.Offsets[0] != 0 || x.Offsets[m.nf] != len(x.IDs) {
		panic(fmt.Sprintf("deep: Example offsets run from %d to %d over %d IDs", x.Offsets[0], x.Offsets[m.nf], len(x.IDs)))
	}
	if m.wide != nil && len(x.Wide) != len(x.IDs) {
		panic(fmt.Sprintf("deep: Example has %d wide buckets for %d IDs", len(x.Wide), len(x.IDs)))
	}
}

// forward computes the logit of x. With learn it looks IDs up with
// Table.Lookup at the model's clock (counting sightings, admitting IDs),
// otherwise with Table.Peek. It reports whether the logit and every
// activation are finite, and whether x had a non-finite dense value.
func (m *model[T]) forward(x *feature.Example, learn bool) (z float64, ok, badInput bool) {
	m.check(x)
	ok = true
	if m.views != nil {
		m.pool(x)
	} else if m.tables != nil {
		if cap(m.rows) < len(x.IDs) {
			m.rows = make([]int32, len(x.IDs)+len(x.IDs)/2)
		}
		rows := m.rows[:len(x.IDs)]
		if len(x.IDs) > 1 {
			// Start every table's cache misses before waiting on any
			// (15 % more examples per CPU-second on the purchase
			// benchmark stream, whose tables outgrow the caches).
			var sink uint64
			for j, t := range m.tables {
				for _, id := range x.IDs[x.Offsets[j]:x.Offsets[j+1]] {
					sink ^= t.Prefetch(id)
				}
			}
			m.sink ^= sink
		}
		for j, t := range m.tables {
			lo, hi := x.Offsets[j], x.Offsets[j+1]
			if lo > hi {
				panic(fmt.Sprintf("deep: Example offsets decrease at slot %d", j))
			}
			dst := m.x0[j*m.dim : (j+1)*m.dim]
			for i := lo; i < hi; i++ {
				var r int32
				if learn {
					r = t.Lookup(x.IDs[i], m.now)
				} else {
					r, _ = t.Peek(x.IDs[i])
				}
				rows[i] = r
				if r == embed.DefaultRow && m.initMiss {
					t.InitRow(m.missRow, x.IDs[i])
					addRow(dst, m.missRow, i == lo)
				} else {
					addRow(dst, t.Row(r), i == lo)
				}
			}
			m.finishPool(dst, hi-lo)
		}
	}
	dense := m.x0[m.ne:]
	for i, v := range x.Dense {
		if v-v != 0 { // NaN or ±Inf
			v, badInput = 0, true
		}
		dense[i] = T(v)
	}
	if m.wide != nil {
		z = m.wide.logit(x.Wide)
		if m.wide.nd > 0 {
			z += denseLogit(m.wide, dense)
		}
	}
	if m.net != nil {
		d, fin := m.net.forward()
		z += float64(d)
		ok = fin
	}
	if m.fm {
		z += float64(m.fmTerm())
	}
	if math.IsNaN(z) || math.IsInf(z, 0) {
		ok = false
	}
	return z, ok, badInput
}

// pool writes the pooled rows of a Frozen's views into x0 exactly as
// forward does with the tables (same order of additions).
func (m *model[T]) pool(x *feature.Example) {
	for j := range m.views {
		m.poolSlot(j, x)
	}
}

// poolSlot pools slot j of x into x0 from the Frozen's views.
func (m *model[T]) poolSlot(j int, x *feature.Example) {
	v := m.views[j]
	lo, hi := x.Offsets[j], x.Offsets[j+1]
	if lo > hi {
		panic(fmt.Sprintf("deep: Example offsets decrease at slot %d", j))
	}
	dst := m.x0[j*m.dim : (j+1)*m.dim]
	for i := lo; i < hi; i++ {
		r, ok := v.Peek(x.IDs[i])
		if !ok && m.initMiss {
			v.InitRow(m.missRow, x.IDs[i])
			addRow(dst, m.missRow, i == lo)
		} else {
			addRow(dst, v.Row(r), i == lo)
		}
	}
	m.finishPool(dst, hi-lo)
}

// addRow pools an embedding row into dst: the slot's first row is
// copied, later ones added. Training and Frozen both pool through it, so
// they sum in the same order (bit-identical predictions).
func addRow[T float](dst []T, row []float32, first bool) {
	row = row[:len(dst)]
	if first {
		for c, v := range row {
			dst[c] = T(v)
		}
		return
	}
	for c, v := range row {
		dst[c] += T(v)
	}
}

// finishPool ends the pooling of a slot of n IDs: an empty slot is zero,
// a bag is averaged with mean pooling.
func (m *model[T]) finishPool(dst []T, n int) {
	if n == 0 {
		clear(dst)
	}
	if n > 1 && m.mean {
		inv := 1 / T(n)
		for c := range dst {
			dst[c] *= inv
		}
	}
}

// fmTerm returns DeepFM's second-order term over the field vectors v_j =
// x0[j·dim:(j+1)·dim], Σ_{i<j} ⟨v_i, v_j⟩, computed in O(fields·dim) as
// ½ Σ_c ((Σ_j v_jc)² − Σ_j v_jc²). It leaves Σ_j v_jc in fmSum.
func (m *model[T]) fmTerm() T {
	s := m.fmSum
	clear(s)
	var sq T
	for j := range m.nf {
		v := m.x0[j*m.dim : (j+1)*m.dim]
		v = v[:len(s)]
		for c, e := range v {
			s[c] += e
			sq += e * e
		}
	}
	var tot T
	for _, e := range s {
		tot += e * e
	}
	return (tot - sq) / 2
}

// backward computes every gradient of the loss given dz = ∂L/∂logit of
// the example last passed to forward: the MLP's deltas and dx0 =
// ∂L/∂(pooled embeddings). It reports whether they are finite.
func (m *model[T]) backward(dz float64) bool {
	clear(m.dx0)
	if m.net != nil && !m.net.backward(T(dz), m.dx0) {
		return false
	}
	if m.fm {
		// ∂fm/∂v_jc = Σ_i v_ic − v_jc.
		d := T(dz)
		for j := range m.nf {
			v := m.x0[j*m.dim : (j+1)*m.dim]
			g := m.dx0[j*m.dim : (j+1)*m.dim]
			v, g = v[:len(m.fmSum)], g[:len(m.fmSum)]
			for c, s := range m.fmSum {
				g[c] += d * (s - v[c])
			}
		}
	}
	var check T
	for _, v := range m.dx0 {
		check += v
	}
	return check-check == 0
}

// lossGrad returns ∂L/∂logit of the weighted log loss at p for label y,
// and whether y is a valid label (in [0, 1]).
func (m *model[T]) lossGrad(p, y float64) (float64, bool) {
	if !(y >= 0 && y <= 1) {
		return 0, false
	}
	w := y*m.cfg.PosWeight + (1-y)*m.cfg.NegWeight
	return w * (p - y), true
}

// embedGrad sets m.eg to the gradient of each row of slot j's IDs: the
// slot's part of dx0, divided by the bag size under mean pooling.
func (m *model[T]) embedGrad(j, n int) {
	g := m.dx0[j*m.dim : (j+1)*m.dim]
	s := T(1)
	if m.mean && n > 1 {
		s = 1 / T(n)
	}
	for c, v := range g {
		m.eg[c] = float32(v * s)
	}
}

// updateEmbeddings applies the embedding gradients of the example last
// passed to forward (with learn) to its rows. A row that occurs k times
// in a bag gets one step with k times the per-occurrence gradient.
func (m *model[T]) updateEmbeddings(x *feature.Example) {
	for j, t := range m.tables {
		lo, hi := x.Offsets[j], x.Offsets[j+1]
		if lo == hi {
			continue
		}
		m.embedGrad(j, hi-lo)
		if hi-lo == 1 {
			t.ApplyGradient(m.rows[lo], m.eg)
			continue
		}
		u := append(m.rowsU[:0], m.rows[lo:hi]...)
		slices.Sort(u)
		for i := 0; i < len(u); {
			k := i + 1
			for k < len(u) && u[k] == u[i] {
				k++
			}
			g := m.eg
			if k-i > 1 {
				f := float32(k - i)
				for c, v := range m.eg {
					m.eg2[c] = v * f
				}
				g = m.eg2
			}
			t.ApplyGradient(u[i], g)
			i = k
		}
		m.rowsU = u
	}
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func clampProb(p float64) float64 { return min(max(p, MinProb), 1-MinProb) }

// predict returns P(y=1 | x) without changing the model (beyond scratch).
func (m *model[T]) predict(x *feature.Example) float64 {
	z, _, _ := m.forward(x, false)
	if math.IsNaN(z) {
		return 0.5
	}
	return clampProb(sigmoid(z))
}

// predictLearn returns the prediction for x, then takes one learning step
// on (x, y).
func (m *model[T]) predictLearn(x *feature.Example, y float64) float64 {
	z, ok, bad := m.forward(x, true)
	if bad {
		m.stats.NonFiniteInputs++
	}
	if math.IsNaN(z) {
		m.stats.Skipped++
		return 0.5
	}
	p := sigmoid(z)
	dz, valid := m.lossGrad(p, y)
	if !ok || !valid || !m.backward(dz) {
		m.stats.Skipped++
		return clampProb(p)
	}
	m.stats.Learned++
	if m.net != nil {
		m.net.learn()
	}
	if m.wide != nil {
		m.wide.update(dz)
	}
	if m.tables != nil {
		m.updateEmbeddings(x)
	}
	return clampProb(p)
}
