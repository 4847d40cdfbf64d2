package deep

import "math"

// wide is the wide part: FTRL-Proximal logistic regression (McMahan et
// al., "Ad Click Prediction: a View from the Trenches", KDD 2013,
// Algorithm 1) over the 2^k hashed buckets of Example.Wide plus a bias.
//
// Each bucket b keeps z_b and s_b = √n_b (float64, interleaved so one
// cache line holds both; keeping the root instead of n saves a square
// root per bucket in every prediction and update); its weight is computed
// from them when needed:
//
//	w_b = 0                                      if |z_b| ≤ λ1
//	w_b = −(z_b − sign(z_b)·λ1) / ((β + s_b)/α + λ2)   otherwise.
//
// An example's feature value for bucket b is the number of its IDs that
// fall in b (usually 1), so a bucket repeated within an example gets one
// update with the summed gradient. With loss gradient g = ∂L/∂w_b:
//
//	s' = √(s² + g²),  σ = (s' − s)/α,  z += g − σ·w,  s = s'
//
// (the paper's σ = (√(n + g²) − √n)/α, n += g²).
//
// The bias is one more coordinate (the last), updated the same way but
// never regularised (λ1 = λ2 = 0 for it).
type wide struct {
	bits                uint
	alpha, beta, l1, l2 float64
	zs                  []float64 // z, √n per bucket; the bias last
	uniq                []uint32  // this example's distinct buckets
	cnt                 []float64 // and their counts
	w                   []float64 // and their weights when last computed
	biasW               float64
	slot                []int32  // distinct-bucket table: index into uniq
	stamp               []uint32 // generation that wrote each slot
	gen                 uint32
	// nd dense inputs enter as linear terms (Config.WideDense), at the
	// coordinates after the bias; dx and dw hold this example's values
	// and their weights.
	nd     int
	dx, dw []float64
}

func newWide(bits, nd int, c *Config) *wide {
	return &wide{
		bits:  uint(bits),
		alpha: c.WideAlpha, beta: c.WideBeta, l1: c.WideL1, l2: c.WideL2,
		zs: make([]float64, 2*(1<<bits+1+nd)),
		nd: nd, dx: make([]float64, nd), dw: make([]float64, nd),
	}
}

// denseLogit returns the dense inputs' linear term, remembering the
// values and weights for update.
func denseLogit[T float](w *wide, xs []T) float64 {
	var z float64
	base := w.biasIndex() + 1
	for k, x := range xs[:w.nd] {
		w.dx[k] = float64(x)
		w.dw[k] = w.weight(base + uint32(k))
		z += w.dw[k] * w.dx[k]
	}
	return z
}

// biasIndex is the coordinate of the bias.
func (w *wide) biasIndex() uint32 { return 1 << w.bits }

// weight returns the FTRL weight of coordinate i.
func (w *wide) weight(i uint32) float64 {
	z, sn := w.zs[2*i], w.zs[2*i+1]
	l1, l2 := w.l1, w.l2
	if i == w.biasIndex() {
		l1, l2 = 0, 0
	}
	if math.Abs(z) <= l1 {
		return 0
	}
	return -(z - math.Copysign(l1, z)) / ((w.beta+sn)/w.alpha + l2)
}

// logit returns the wide logit of an example with the given buckets,
// remembering its distinct buckets (in order of first occurrence), their
// counts and their weights for update. It panics if a bucket is out of
// range.
func (w *wide) logit(buckets []uint32) float64 {
	// Count distinct buckets with a small open-addressing table whose
	// slots are valid only when stamped with this call's generation, so
	// it is never cleared (duplicates are rare; sorting cost more).
	size := 64
	for size < 2*len(buckets) {
		size <<= 1
	}
	if len(w.slot) < size {
		w.slot = make([]int32, size)
		w.stamp = make([]uint32, size)
	}
	w.gen++
	if w.gen == 0 {
		clear(w.stamp)
		w.gen = 1
	}
	mask := uint32(len(w.slot) - 1)
	u, c := w.uniq[:0], w.cnt[:0]
	for _, b := range buckets {
		if b >= w.biasIndex() {
			panic("deep: Example.Wide has a bucket beyond the schema's 2^WideBits")
		}
		for h := (b * 0x9e3779b1) & mask; ; h = (h + 1) & mask {
			if w.stamp[h] != w.gen {
				w.stamp[h], w.slot[h] = w.gen, int32(len(u))
				u = append(u, b)
				c = append(c, 1)
				break
			}
			if k := w.slot[h]; u[k] == b {
				c[k]++
				break
			}
		}
	}
	// Load every bucket's z first: the loads are independent, so their
	// cache misses (the table is usually far larger than the cache)
	// overlap instead of waiting on each weight's division.
	ws := w.w[:0]
	for _, b := range u {
		ws = append(ws, w.zs[2*b])
	}
	w.biasW = w.weight(w.biasIndex())
	z := w.biasW
	for i, b := range u {
		ws[i] = w.weight(b)
		z += c[i] * ws[i]
	}
	w.uniq, w.cnt, w.w = u, c, ws
	return z
}

// step runs one FTRL step on coordinate i with gradient g, given its
// current weight wi.
func (w *wide) step(i uint32, g, wi float64) {
	p := w.zs[2*i : 2*i+2 : 2*i+2]
	sn := p[1]
	sn2 := math.Sqrt(sn*sn + g*g)
	sigma := (sn2 - sn) / w.alpha
	p[0] += g - sigma*wi
	p[1] = sn2
}

// update applies the loss gradient dz (∂L/∂logit) to the example last
// passed to logit.
func (w *wide) update(dz float64) {
	for i, b := range w.uniq {
		w.step(b, dz*w.cnt[i], w.w[i])
	}
	w.step(w.biasIndex(), dz, w.biasW)
	base := w.biasIndex() + 1
	for k, x := range w.dx {
		if x != 0 {
			w.step(base+uint32(k), dz*x, w.dw[k])
		}
	}
}

// gradient writes ∂L/∂w_b = dz·count_b for the example last passed to
// logit into dst, indexed like w.uniq, and returns the bias gradient.
func (w *wide) gradient(dst []float64, dz float64) float64 {
	for i := range w.uniq {
		dst[i] = dz * w.cnt[i]
	}
	return dz
}
