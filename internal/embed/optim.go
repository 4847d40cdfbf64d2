package embed

import "math"

// The update rules. Each works on one row: w holds its weights, the other
// slices its optimizer state, g the loss gradient. Arithmetic is float64;
// weights and state are stored as float32.

// stepSGD: w -= lr·(g + λ·w).
func stepSGD(c *Config, w, g []float32) {
	lr, l2 := c.LearnRate, c.L2
	for j := range w {
		wj := float64(w[j])
		gj := float64(g[j]) + l2*wj
		w[j] = float32(wj - lr*gj)
	}
}

// stepAdaGrad: a += g², w -= lr·g/(√a + ε), with g = ∇ + λ·w.
//
// The accumulator is per float, not per row (as DLRM's "row-wise AdaGrad"
// does): embedding coordinates feed different MLP units and see gradients
// of very different scales, which a shared accumulator would average away.
// It costs Dim floats per row instead of one; the memory target is set
// against that cost.
func stepAdaGrad(c *Config, w, acc, g []float32) {
	lr, l2, eps := c.LearnRate, c.L2, c.Epsilon
	for j := range w {
		wj := float64(w[j])
		gj := float64(g[j]) + l2*wj
		a := float64(acc[j]) + gj*gj
		acc[j] = float32(a)
		w[j] = float32(wj - lr*gj/(math.Sqrt(a)+eps))
	}
}

// stepAdam: lazy Adam. The row's step count t advances only when the row
// gets a gradient, and bias correction uses it:
// m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², w -= lr·m̂/(√v̂ + ε) with
// m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), g = ∇ + λ·w.
func stepAdam(c *Config, w, m, v []float32, step *uint32, g []float32) {
	if *step < math.MaxUint32 {
		*step++
	}
	lr, l2, eps, b1, b2 := c.LearnRate, c.L2, c.Epsilon, c.Beta1, c.Beta2
	t := float64(*step)
	c1 := 1 - math.Pow(b1, t)
	c2 := 1 - math.Pow(b2, t)
	for j := range w {
		wj := float64(w[j])
		gj := float64(g[j]) + l2*wj
		mj := b1*float64(m[j]) + (1-b1)*gj
		vj := b2*float64(v[j]) + (1-b2)*gj*gj
		m[j], v[j] = float32(mj), float32(vj)
		w[j] = float32(wj - lr*(mj/c1)/(math.Sqrt(vj/c2)+eps))
	}
}

// stepFTRL: per-coordinate FTRL-Proximal (McMahan et al., 2013, Algorithm
// 1), with the row's current weights as the previous iterate:
//
//	σ = (√(n+g²) − √n)/α,  z += g − σ·w,  n += g²,
//	w = 0 if |z| ≤ λ1, else −(z − sign(z)·λ1) / ((β + √n)/α + λ2).
//
// As in the paper's sparse loop, a coordinate whose gradient is exactly 0
// is not touched (otherwise its weight would be recomputed from z = 0).
// A row starts from its random initial weights (z = n = 0): the first
// update keeps them, scaled by √n/(β+√n), so with β = 1 and small
// gradients FTRL forgets the initialisation quickly, which suits its
// usual sparse (L1) use.
func stepFTRL(c *Config, w, z, n, g []float32) {
	alpha, beta, l1, l2 := c.LearnRate, c.FTRLBeta, c.L1, c.L2
	for j := range w {
		if g[j] == 0 {
			continue
		}
		gj := float64(g[j])
		nj := float64(n[j])
		nn := nj + gj*gj
		sn := math.Sqrt(nn)
		zz := float64(z[j]) + gj - (sn-math.Sqrt(nj))/alpha*float64(w[j])
		z[j], n[j] = float32(zz), float32(nn)
		if math.Abs(zz) <= l1 {
			w[j] = 0
		} else {
			w[j] = float32(-(zz - math.Copysign(l1, zz)) / ((beta+sn)/alpha + l2))
		}
	}
}
