package deep

import (
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
		ne: src.ne, mean: src.mean, fm: src.fm, now: src.now, k: src.k,
	}
	if src.tables != nil {
		b.views = make([]*embed.View, len(src.tables))
		for j, t := range src.tables {
			b.views[j] = t.Publish()
		}
	}
	if src.wide != nil {
		w := *src.wide
		b.wide = &wide{bits: w.bits, alpha: w.alpha, beta: w.beta, l1: w.l1, l2: w.l2, zs: slices.Clone(w.zs)}
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
		ne: b.ne, mean: b.mean, fm: b.fm, now: b.now, k: b.k, views: b.views,
	}
	m.x0 = make([]float32, m.ne+m.nDense)
	if m.fm {
		m.fmSum = make([]float32, m.dim)
	}
	if b.wide != nil {
		w := *b.wide
		m.wide = &wide{bits: w.bits, alpha: w.alpha, beta: w.beta, l1: w.l1, l2: w.l2, zs: w.zs}
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
