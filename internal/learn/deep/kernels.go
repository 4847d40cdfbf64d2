package deep

import "math"

// float is the element type of the dense part. The model trains in
// float32; the gradient checks instantiate the same code in float64.
type float interface{ ~float32 | ~float64 }

// tiny32 is the smallest normal float32. Optimizer moments below it are
// flushed to zero: moments of a parameter whose gradient stays zero (a
// dead ReLU unit) decay geometrically into the subnormal range, where
// arithmetic is up to 100 times slower on x86. The effect on the weights
// is below 1e-38.
const tiny32 = 0x1p-126

// adamStep holds the per-step constants of one Adam update: with
// bias-corrected step lrT = lr·√(1−β2^t)/(1−β1^t) and epsT = ε·√(1−β2^t),
// w -= lrT·m/(√v + epsT) equals the textbook w -= lr·m̂/(√v̂ + ε).
// The layout is read by the assembly kernel: eight float32 fields in this
// order.
type adamStep struct {
	b1, c1, b2, c2 float32 // β1, 1−β1, β2, 1−β2
	lrT, epsT, l2  float32
	tiny           float32
}

// kernels are the dense loops of the model, for one element type. The
// float32 set uses AVX2/FMA assembly where the CPU has it (see
// kernels_amd64.go) and the portable Go loops below elsewhere; the float64
// set (gradient checks) always uses the Go loops. Each function panics if
// its slices are shorter than the first one.
//
// Every kernel but dot rounds exactly as the portable loop does (the same
// IEEE operations in the same order, no fused multiply-add: the explicit
// conversions below forbid the compiler to fuse), so the assembly and the
// portable optimizer steps agree bit for bit; dot uses FMA and eight-lane
// partial sums, so it differs from dotGo in rounding.
type kernels[T float] struct {
	// dot returns Σ a[i]·b[i].
	dot func(a, b []T) T
	// axpy adds a·x to y.
	axpy func(a T, x, y []T)
	// scale sets dst to a·x.
	scale func(dst []T, a T, x []T)
	// adam, adagrad and sgd run one optimizer step on w with gradient g
	// plus the L2 term λ·w.
	adam func(w, m, v, g []T, c *adamStep)
	// adamRow is adam with the gradient d·x of one row of an outer
	// product, computed on the fly instead of read from a buffer.
	adamRow func(w, m, v, x []T, d T, c *adamStep)
	adagrad func(w, acc, g []T, lr, eps, l2 T)
	sgd     func(w, g []T, lr, l2 T)
}

// goKernels returns the portable kernels for T.
func goKernels[T float]() kernels[T] {
	return kernels[T]{
		dot:     dotGo[T],
		axpy:    axpyGo[T],
		scale:   scaleGo[T],
		adam:    adamGo[T],
		adamRow: adamRowGo[T],
		adagrad: adagradGo[T],
		sgd:     sgdGo[T],
	}
}

// kernelsFor returns the kernels the model uses for T.
func kernelsFor[T float]() kernels[T] {
	var zero T
	if _, ok := any(zero).(float32); ok && useAsm {
		return any(asmKernels()).(kernels[T])
	}
	return goKernels[T]()
}

// dotGo sums in four interleaved partial sums (so the additions do not
// wait on each other), combined at the end.
func dotGo[T float](a, b []T) T {
	b = b[:len(a)]
	var s0, s1, s2, s3 T
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGo[T float](a T, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += T(a * v)
	}
}

func scaleGo[T float](dst []T, a T, x []T) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = a * v
	}
}

func adamGo[T float](w, m, v, g []T, c *adamStep) {
	m, v, g = m[:len(w)], v[:len(w)], g[:len(w)]
	b1, c1, b2, c2 := T(c.b1), T(c.c1), T(c.b2), T(c.c2)
	lr, eps, l2, tiny := T(c.lrT), T(c.epsT), T(c.l2), T(c.tiny)
	for i := range w {
		gi := g[i] + T(l2*w[i])
		mi := T(b1*m[i]) + T(c1*gi)
		vi := T(b2*v[i]) + T(c2*T(gi*gi))
		if mi < tiny && mi > -tiny {
			mi = 0
		}
		if vi < tiny {
			vi = 0
		}
		m[i], v[i] = mi, vi
		w[i] -= T(lr * (mi / (T(math.Sqrt(float64(vi))) + eps)))
	}
}

func adamRowGo[T float](w, m, v, x []T, d T, c *adamStep) {
	m, v, x = m[:len(w)], v[:len(w)], x[:len(w)]
	b1, c1, b2, c2 := T(c.b1), T(c.c1), T(c.b2), T(c.c2)
	lr, eps, l2, tiny := T(c.lrT), T(c.epsT), T(c.l2), T(c.tiny)
	for i := range w {
		gi := T(d*x[i]) + T(l2*w[i])
		mi := T(b1*m[i]) + T(c1*gi)
		vi := T(b2*v[i]) + T(c2*T(gi*gi))
		if mi < tiny && mi > -tiny {
			mi = 0
		}
		if vi < tiny {
			vi = 0
		}
		m[i], v[i] = mi, vi
		w[i] -= T(lr * (mi / (T(math.Sqrt(float64(vi))) + eps)))
	}
}

func adagradGo[T float](w, acc, g []T, lr, eps, l2 T) {
	acc, g = acc[:len(w)], g[:len(w)]
	for i := range w {
		gi := g[i] + T(l2*w[i])
		a := acc[i] + T(gi*gi)
		acc[i] = a
		w[i] -= T(lr * (gi / (T(math.Sqrt(float64(a))) + eps)))
	}
}

func sgdGo[T float](w, g []T, lr, l2 T) {
	g = g[:len(w)]
	for i := range w {
		w[i] -= T(lr * (g[i] + T(l2*w[i])))
	}
}
