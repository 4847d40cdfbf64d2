package deep

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/feature"
)

// Frozen is an immutable copy of a Model published for serving: the
// embedding tables as embed.Views (copy-on-write, so freezing costs the
// trainer only a copy of the tables' directories and, afterwards, of the
// chunks it writes to), and copies of the MLP's weights and the wide
// part's FTRL state. All its methods are safe for concurrent use by any
// number of goroutines while the trainer keeps learning on the Model it
// came from, and a Frozen's predictions equal the Model's Predict at the
// moment of Freeze, bit for bit.
type Frozen struct {
	base  *model[float32] // read-only: shared weights and views
	steps int64
	pool  sync.Pool // of *model[float32] shells with private scratch
}

// Freeze publishes the model's current state as a Frozen. It must be
// called by the trainer goroutine (it marks table chunks shared). Its
// cost is a copy of the MLP's weights, of the wide part's state (16 bytes
// per wide bucket) and of each table's directories — not of the rows.
func (m *Model) Freeze() *Frozen {
	src := m.m
	b := &model[float32]{
		cfg: src.cfg, desc: src.desc, nf: src.nf, dim: src.dim, nDense: src.nDense,
		ne: src.ne, mean: src.mean, fm: src.fm, now: src.now, k: src.k, initMiss: src.initMiss,
	}
	if src.tables != nil {
		b.views = make([]*embed.View, len(src.tables))
		for j, t := range src.tables {
			b.views[j] = t.Publish()
		}
	}
	if src.wide != nil {
		w := *src.wide
		b.wide = &wide{bits: w.bits, alpha: w.alpha, beta: w.beta, l1: w.l1, l2: w.l2, zs: slices.Clone(w.zs), nd: w.nd}
	}
	if src.net != nil {
		n := src.net
		b.net = &mlp[float32]{sizes: n.sizes, wOff: n.wOff, bOff: n.bOff, slope: n.slope, p: slices.Clone(n.p), k: n.k}
	}
	f := &Frozen{base: b, steps: src.stats.Learned}
	f.pool.New = func() any { return f.shell() }
	return f
}

// shell returns a model sharing the Frozen's weights with private scratch.
func (f *Frozen) shell() *model[float32] {
	b := f.base
	m := &model[float32]{
		cfg: b.cfg, desc: b.desc, nf: b.nf, dim: b.dim, nDense: b.nDense,
		ne: b.ne, mean: b.mean, fm: b.fm, now: b.now, k: b.k, views: b.views, initMiss: b.initMiss,
	}
	m.x0 = make([]float32, m.ne+m.nDense)
	m.missRow = make([]float32, m.dim)
	if m.fm {
		m.fmSum = make([]float32, m.dim)
	}
	if b.wide != nil {
		w := *b.wide
		m.wide = &wide{bits: w.bits, alpha: w.alpha, beta: w.beta, l1: w.l1, l2: w.l2, zs: w.zs,
			nd: w.nd, dx: make([]float64, w.nd), dw: make([]float64, w.nd)}
	}
	if b.net != nil {
		n := b.net
		net := &mlp[float32]{sizes: n.sizes, wOff: n.wOff, bOff: n.bOff, slope: n.slope, p: n.p, k: n.k}
		net.act = make([][]float32, len(n.sizes)-1)
		net.act[0] = m.x0
		for k := 1; k < len(net.act); k++ {
			net.act[k] = make([]float32, n.sizes[k])
		}
		m.net = net
	}
	return m
}

// Predict returns P(y = 1 | x) as Model.Predict did when the Frozen was
// made. It does not allocate in steady state.
func (f *Frozen) Predict(x *feature.Example) float64 {
	m := f.pool.Get().(*model[float32])
	p := m.predict(x)
	f.pool.Put(m)
	return p
}

// PredictBatch writes the prediction for xs[i] into dst[i]; it borrows
// scratch once for the whole batch. It panics if len(dst) < len(xs).
func (f *Frozen) PredictBatch(xs []*feature.Example, dst []float64) {
	if len(xs) == 0 {
		return
	}
	_ = dst[len(xs)-1]
	m := f.pool.Get().(*model[float32])
	for i, x := range xs {
		dst[i] = m.predict(x)
	}
	f.pool.Put(m)
}

// Learned returns how many examples the model had learned from when it
// was frozen.
func (f *Frozen) Learned() int64 { return f.steps }

// candScratch is ScoreCandidates' per-call state, kept in the shell.
type candScratch struct {
	pre      []float32 // the first layer's pre-activations from the fixed inputs
	fmS      []float32 // FM: Σ over fixed slots of each embedding column
	varied   []bool    // per slot
	ranges   [][2]int  // varied column ranges of x0
	fixedLog float64   // wide logit of the fixed slots, bias included
	fmQ      float32   // FM: Σ over fixed slots of squared embedding values
}

// ScoreCandidates scores candidates that share everything with base but
// the sparse slots listed in vary and, with varyDense, the dense values:
// many items for one user. The fixed slots' embeddings, their share of
// the first layer, of the wide logit and of the FM sums are computed once
// from base, so each candidate costs its varied slots' rows and columns
// plus the layers above the first. Only the varied slots (and dense
// values) of each candidate are read. dst[i] gets the probability of
// cands[i]; it equals Predict(cands[i]) up to float rounding (the sums
// are taken in another order). It panics if len(dst) < len(cands), if a
// slot is out of range, or if an Example does not have the schema's
// shape. It does not allocate in steady state.
func (f *Frozen) ScoreCandidates(base *feature.Example, vary []int, varyDense bool, cands []*feature.Example, dst []float64) {
	if len(cands) == 0 {
		return
	}
	_ = dst[len(cands)-1]
	m := f.pool.Get().(*model[float32])
	defer f.pool.Put(m)
	m.check(base)
	cs := &m.cand
	if len(cs.varied) != m.nf {
		cs.varied = make([]bool, m.nf)
	}
	clear(cs.varied)
	for _, j := range vary {
		cs.varied[j] = true // panics when out of range
	}
	// x0 from base: every slot and the dense values.
	if m.views != nil {
		m.pool(base)
	}
	dense := m.x0[m.ne:]
	for i, v := range base.Dense {
		if v-v != 0 {
			v = 0
		}
		dense[i] = v
	}
	cs.ranges = cs.ranges[:0]
	if m.views != nil {
		for j := 0; j < m.nf; j++ {
			if cs.varied[j] {
				cs.ranges = append(cs.ranges, [2]int{j * m.dim, (j + 1) * m.dim})
			}
		}
	}
	if varyDense && m.nDense > 0 {
		cs.ranges = append(cs.ranges, [2]int{m.ne, m.ne + m.nDense})
	}
	// The wide logit of the fixed slots.
	if m.wide != nil {
		w := m.wide
		cs.fixedLog = w.weight(w.biasIndex())
		for j := 0; j < m.nf; j++ {
			if !cs.varied[j] {
				for _, b := range base.WideSlot(j) {
					cs.fixedLog += w.weight(b)
				}
			}
		}
		if w.nd > 0 && !varyDense {
			cs.fixedLog += denseLogit(w, dense)
		}
	}
	// The FM sums of the fixed slots.
	if m.fm {
		if len(cs.fmS) != m.dim {
			cs.fmS = make([]float32, m.dim)
		}
		clear(cs.fmS)
		cs.fmQ = 0
		for j := 0; j < m.nf; j++ {
			if cs.varied[j] {
				continue
			}
			for c, v := range m.x0[j*m.dim : (j+1)*m.dim] {
				cs.fmS[c] += v
				cs.fmQ += v * v
			}
		}
	}
	// The first layer's pre-activations from the fixed columns: all
	// columns, minus the varied ranges.
	var n *mlp[float32]
	var nIn, nOut int
	var w0, b0 []float32
	if m.net != nil {
		n = m.net
		nIn, nOut = n.sizes[0], n.sizes[1]
		w0, b0 = n.p[n.wOff[0]:n.wOff[0]+nIn*nOut], n.p[n.bOff[0]:n.bOff[0]+nOut]
		if len(cs.pre) != nOut {
			cs.pre = make([]float32, nOut)
		}
		for o := range cs.pre {
			row := w0[o*nIn : (o+1)*nIn]
			s := b0[o] + n.k.dot(row, m.x0)
			for _, r := range cs.ranges {
				s -= n.k.dot(row[r[0]:r[1]], m.x0[r[0]:r[1]])
			}
			cs.pre[o] = s
		}
	}
	for ci, x := range cands {
		if len(x.Offsets) != m.nf+1 || len(x.Dense) != m.nDense {
			panic(fmt.Sprintf("deep: candidate %d has %d offsets and %d dense values; the schema needs %d and %d", ci, len(x.Offsets), len(x.Dense), m.nf+1, m.nDense))
		}
		if m.views != nil {
			for _, j := range vary {
				m.poolSlot(j, x)
			}
		}
		if varyDense {
			for i, v := range x.Dense {
				if v-v != 0 {
					v = 0
				}
				dense[i] = v
			}
		}
		var z float64
		if m.wide != nil {
			z = cs.fixedLog
			if len(x.Wide) != len(x.IDs) {
				panic(fmt.Sprintf("deep: candidate %d has %d wide buckets for %d IDs", ci, len(x.Wide), len(x.IDs)))
			}
			for _, j := range vary {
				for _, b := range x.WideSlot(j) {
					if b >= m.wide.biasIndex() {
						panic("deep: Example.Wide has a bucket beyond the schema's 2^WideBits")
					}
					z += m.wide.weight(b)
				}
			}
			if m.wide.nd > 0 && varyDense {
				z += denseLogit(m.wide, dense)
			}
		}
		if n != nil {
			h := n.act[1][:nOut]
			var check float32
			for o := range h {
				row := w0[o*nIn : (o+1)*nIn]
				s := cs.pre[o]
				for _, r := range cs.ranges {
					s += n.k.dot(row[r[0]:r[1]], m.x0[r[0]:r[1]])
				}
				if s < 0 {
					s *= n.slope
				}
				h[o] = s
				check += s
			}
			d, _ := n.forwardFrom(1, check)
			z += float64(d)
		}
		if m.fm {
			var sq, q float32
			q = cs.fmQ
			for c := range m.dim {
				s := cs.fmS[c]
				for _, j := range vary {
					v := m.x0[j*m.dim+c]
					s += v
					q += v * v
				}
				sq += s * s
			}
			z += float64(0.5 * (sq - q))
		}
		if math.IsNaN(z) {
			dst[ci] = 0.5
			continue
		}
		dst[ci] = clampProb(sigmoid(z))
	}
}
