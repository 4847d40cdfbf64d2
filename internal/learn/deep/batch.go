package deep

import (
	"math"
	"slices"

	"github.com/perpetua-ml/perpetua/internal/feature"
)

// accum sums gradients by uint64 key (an embedding row of a field, a wide
// bucket) over a micro-batch, in an open-addressing table (linear
// probing) sized for the batch, remembering keys in insertion order so
// that updates run in a deterministic order.
type accum struct {
	width int
	slots []int32 // 1 + index into keys; 0 is empty
	keys  []uint64
	vals  []float64 // width per key
}

// reset empties the accumulator and sizes it for up to n keys.
func (a *accum) reset(n int) {
	need := 16
	for need < 2*n {
		need <<= 1
	}
	if len(a.slots) < need || len(a.slots) > 8*need {
		a.slots = make([]int32, need)
	} else {
		clear(a.slots)
	}
	a.keys, a.vals = a.keys[:0], a.vals[:0]
}

// add returns the accumulator of key, zero when key is new. The slice is
// valid until the next add.
func (a *accum) add(key uint64) []float64 {
	mask := uint64(len(a.slots) - 1)
	h := key * 0x9e3779b97f4a7c15
	h ^= h >> 29
	for i := h & mask; ; i = (i + 1) & mask {
		s := a.slots[i]
		if s == 0 {
			a.keys = append(a.keys, key)
			n := len(a.vals)
			a.vals = slices.Grow(a.vals, a.width)[:n+a.width]
			clear(a.vals[n:])
			a.slots[i] = int32(len(a.keys))
			return a.vals[n:]
		}
		if a.keys[s-1] == key {
			o := int(s-1) * a.width
			return a.vals[o : o+a.width]
		}
	}
}

// learnBatch takes one step on the mean loss of the batch, storing the
// predictions in ps when it is not nil.
func (m *model[T]) learnBatch(ps []float64, xs []*feature.Example, ys []float64) {
	if len(ys) != len(xs) {
		panic("deep: LearnBatch: len(ys) != len(xs)")
	}
	if len(xs) == 0 {
		return
	}
	ids := 0
	for _, x := range xs {
		ids += len(x.IDs)
	}
	if m.tables != nil {
		m.embAcc.width = m.dim
		m.embAcc.reset(ids)
	}
	if m.wide != nil {
		m.wideAcc.width = 1
		m.wideAcc.reset(ids)
	}
	inv := 1 / float64(len(xs))
	first := true
	var biasG float64
	for i, x := range xs {
		z, ok, bad := m.forward(x, true)
		if bad {
			m.stats.NonFiniteInputs++
		}
		p := 0.5
		if !math.IsNaN(z) {
			p = sigmoid(z)
		}
		if ps != nil {
			ps[i] = clampProb(p)
		}
		dz, valid := m.lossGrad(p, ys[i])
		dz *= inv
		if !ok || !valid || !m.backward(dz) {
			m.stats.Skipped++
			continue
		}
		m.stats.Learned++
		if m.net != nil {
			m.net.gradient(first)
		}
		first = false
		if m.wide != nil {
			for k, b := range m.wide.uniq {
				m.wideAcc.add(uint64(b))[0] += dz * m.wide.cnt[k]
			}
			for k, v := range m.wide.dx {
				if v != 0 {
					m.wideAcc.add(uint64(m.wide.biasIndex() + 1 + uint32(k)))[0] += dz * v
				}
			}
			biasG += dz
		}
		for j := range m.tables {
			lo, hi := x.Offsets[j], x.Offsets[j+1]
			if lo == hi {
				continue
			}
			g := m.dx0[j*m.dim : (j+1)*m.dim]
			s := 1.0
			if m.mean {
				s = 1 / float64(hi-lo)
			}
			for _, r := range m.rows[lo:hi] {
				acc := m.embAcc.add(uint64(j)<<32 | uint64(uint32(r)))
				acc = acc[:len(g)]
				for c, v := range g {
					acc[c] += float64(v) * s
				}
			}
		}
	}
	if first {
		return // nothing learned
	}
	if m.net != nil {
		m.net.update()
	}
	if w := m.wide; w != nil {
		for k, b := range m.wideAcc.keys {
			w.step(uint32(b), m.wideAcc.vals[k], w.weight(uint32(b)))
		}
		w.step(w.biasIndex(), biasG, w.weight(w.biasIndex()))
	}
	for k, key := range m.embAcc.keys {
		if m.tables == nil {
			break
		}
		g := m.embAcc.vals[k*m.dim : (k+1)*m.dim]
		for c, v := range g {
			m.eg[c] = float32(v)
		}
		m.tables[key>>32].ApplyGradient(int32(uint32(key)), m.eg)
	}
}
