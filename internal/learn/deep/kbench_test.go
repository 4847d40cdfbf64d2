package deep

import "testing"

// BenchmarkKernels times the float32 kernels on a row of the standard
// model's first layer (442 inputs); ns/op is per row.
func BenchmarkKernels(b *testing.B) {
	const n = 442
	k := kernelsFor[float32]()
	w, m, v, x, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%7) * 0.1
		w[i] = 0.01
	}
	c := adamStep{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, lrT: 1e-3, epsT: 1e-8, tiny: tiny32}
	b.Run("dot", func(b *testing.B) {
		var s float32
		for range b.N {
			s += k.dot(w, x)
		}
		_ = s
	})
	b.Run("axpy", func(b *testing.B) {
		for range b.N {
			k.axpy(1e-9, x, g)
		}
	})
	b.Run("adamRow", func(b *testing.B) {
		for range b.N {
			k.adamRow(w, m, v, x, 0.01, &c)
		}
	})
	b.Run("adam", func(b *testing.B) {
		for range b.N {
			k.adam(w, m, v, g, &c)
		}
	})
}
