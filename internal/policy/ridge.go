package policy

import "math"

// ridge is one discounted ridge regression per arm:
//
//	A_a = λI + Σ_t γ^(n-t) x_t x_tᵀ,  b_a = Σ_t γ^(n-t) r_t x_t,  θ_a = A_a⁻¹ b_a
//
// kept as A and b (so A stays positive definite whatever γ is), with a
// Cholesky factor L (A = LLᵀ) and θ recomputed lazily, only for arms
// updated since the last decision. Update costs O(d²), the refresh O(d³)
// per updated arm, and mean and width O(d) and O(d²).
type ridge struct {
	k, d   int
	lambda float64
	g      float64
	a      []float64 // K×d×d
	b      []float64 // K×d
	l      []float64 // K×d×d, lower Cholesky factor of A
	theta  []float64 // K×d
	dirty  []bool
	tmp    []float64 // d
}

func newRidge(k, d int, cfg Config) ridge {
	cfg = cfg.WithDefaults()
	r := ridge{k: k, d: d, lambda: cfg.Lambda, g: cfg.Forget,
		a: make([]float64, k*d*d), b: make([]float64, k*d), l: make([]float64, k*d*d),
		theta: make([]float64, k*d), dirty: make([]bool, k), tmp: make([]float64, d)}
	for arm := 0; arm < k; arm++ {
		for i := 0; i < d; i++ {
			r.a[arm*d*d+i*d+i] = r.lambda
		}
		r.dirty[arm] = true
	}
	return r
}

func (r *ridge) update(arm int, x []float32, y float64) {
	d := r.d
	a := r.a[arm*d*d : (arm+1)*d*d]
	b := r.b[arm*d : (arm+1)*d]
	if r.g < 1 {
		// A ← γA + (1-γ)λI keeps A = λI + discounted Gram exactly.
		for i := range a {
			a[i] *= r.g
		}
		for i := 0; i < d; i++ {
			a[i*d+i] += (1 - r.g) * r.lambda
		}
		for i := range b {
			b[i] *= r.g
		}
	}
	for i, xi := range x {
		fi := float64(xi)
		if fi == 0 {
			continue
		}
		row := a[i*d : (i+1)*d]
		for j, xj := range x {
			row[j] += fi * float64(xj)
		}
		b[i] += y * fi
	}
	r.dirty[arm] = true
}

// refresh recomputes L and θ of arm.
func (r *ridge) refresh(arm int) {
	d := r.d
	a := r.a[arm*d*d : (arm+1)*d*d]
	l := r.l[arm*d*d : (arm+1)*d*d]
	for i := 0; i < d; i++ {
		for j := 0; j <= i; j++ {
			s := a[i*d+j]
			for k := 0; k < j; k++ {
				s -= l[i*d+k] * l[j*d+k]
			}
			if i == j {
				// A is λI plus a PSD matrix, so s > 0 up to rounding.
				l[i*d+i] = math.Sqrt(math.Max(s, 1e-12*r.lambda))
			} else {
				l[i*d+j] = s / l[j*d+j]
			}
		}
	}
	// θ = A⁻¹b: solve L z = b, then Lᵀ θ = z.
	z := r.tmp
	b := r.b[arm*d : (arm+1)*d]
	for i := 0; i < d; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= l[i*d+k] * z[k]
		}
		z[i] = s / l[i*d+i]
	}
	th := r.theta[arm*d : (arm+1)*d]
	for i := d - 1; i >= 0; i-- {
		s := z[i]
		for k := i + 1; k < d; k++ {
			s -= l[k*d+i] * th[k]
		}
		th[i] = s / l[i*d+i]
	}
	r.dirty[arm] = false
}

func (r *ridge) mean(arm int, x []float32) float64 {
	if r.dirty[arm] {
		r.refresh(arm)
	}
	return dot(r.theta[arm*r.d:(arm+1)*r.d], x)
}

// width returns sqrt(xᵀA⁻¹x) = |L⁻¹x|.
func (r *ridge) width(arm int, x []float32) float64 {
	if r.dirty[arm] {
		r.refresh(arm)
	}
	d := r.d
	l := r.l[arm*d*d : (arm+1)*d*d]
	var ss float64
	for i := 0; i < d; i++ {
		s := float64(x[i])
		for k := 0; k < i; k++ {
			s -= l[i*d+k] * r.tmp[k]
		}
		r.tmp[i] = s / l[i*d+i]
		ss += r.tmp[i] * r.tmp[i]
	}
	return math.Sqrt(ss)
}
