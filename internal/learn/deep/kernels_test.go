package deep

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernelsMatch compares the float32 kernels the model uses (assembly
// where available) with the portable Go loops, on every length from 0 to
// 100 (so every tail length is covered): bit for bit, except dot (FMA,
// other grouping of the sum), which must agree within float32 rounding.
func TestKernelsMatch(t *testing.T) {
	if !useAsm {
		t.Skip("no assembly kernels on this CPU or build; the model uses the portable loops")
	}
	t.Logf("AVX-512 kernels: %v", useAVX512)
	if useAVX512 {
		t.Run("avx2-only", func(t *testing.T) {
			useAVX512 = false
			defer func() { useAVX512 = true }()
			testKernelsMatch(t)
		})
	}
	testKernelsMatch(t)
}

func testKernelsMatch(t *testing.T) {
	fast, slow := kernelsFor[float32](), goKernels[float32]()
	r := rand.New(rand.NewPCG(1, 2))
	vec := func(n int, lo, hi float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return v
	}
	close := func(what string, n, i int, got, want float32) {
		t.Helper()
		if d := math.Abs(float64(got - want)); d > 1e-5*(1+math.Abs(float64(want))) {
			t.Fatalf("%s(n=%d)[%d] = %v; want %v (portable)", what, n, i, got, want)
		}
	}
	// All but dot must agree bit for bit.
	exact := func(what string, n, i int, got, want float32) {
		t.Helper()
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("%s(n=%d)[%d] = %v; want %v (portable), bit for bit", what, n, i, got, want)
		}
	}
	for n := 0; n <= 100; n++ {
		a, b := vec(n, -1, 1), vec(n, -1, 1)
		close("dot", n, 0, fast.dot(a, b), slow.dot(a, b))

		y1, y2 := vec(n, -1, 1), []float32(nil)
		y2 = append(y2, y1...)
		fast.axpy(0.7, a, y1)
		slow.axpy(0.7, a, y2)
		for i := range y1 {
			exact("axpy", n, i, y1[i], y2[i])
		}
		fast.scale(y1, -1.3, a)
		slow.scale(y2, -1.3, a)
		for i := range y1 {
			exact("scale", n, i, y1[i], y2[i])
		}

		// Optimizer steps, with moments small enough to be flushed.
		w1, g := vec(n, -1, 1), vec(n, -1, 1)
		m1, v1 := vec(n, -1e-38, 1e-38), vec(n, 0, 1e-3)
		if n > 3 {
			v1[3] = 0
			g[3] = 0
		}
		w2, m2, v2 := append([]float32(nil), w1...), append([]float32(nil), m1...), append([]float32(nil), v1...)
		c := adamStep{b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, lrT: 0.01, epsT: 1e-8, l2: 0.01, tiny: tiny32}
		fast.adam(w1, m1, v1, g, &c)
		slow.adam(w2, m2, v2, g, &c)
		for i := range w1 {
			exact("adam w", n, i, w1[i], w2[i])
			exact("adam m", n, i, m1[i], m2[i])
			exact("adam v", n, i, v1[i], v2[i])
		}
		a1 := vec(n, 0, 1)
		a2 := append([]float32(nil), a1...)
		fast.adagrad(w1, a1, g, 0.05, 1e-8, 0.01)
		slow.adagrad(w2, a2, g, 0.05, 1e-8, 0.01)
		for i := range w1 {
			exact("adagrad w", n, i, w1[i], w2[i])
			exact("adagrad acc", n, i, a1[i], a2[i])
		}
		d := float32(-0.37)
		fast.adamRow(w1, m1, v1, a, d, &c)
		slow.adamRow(w2, m2, v2, a, d, &c)
		for i := range w1 {
			exact("adamRow w", n, i, w1[i], w2[i])
			exact("adamRow m", n, i, m1[i], m2[i])
			exact("adamRow v", n, i, v1[i], v2[i])
		}
		fast.sgd(w1, g, 0.1, 0.01)
		slow.sgd(w2, g, 0.1, 0.01)
		for i := range w1 {
			exact("sgd w", n, i, w1[i], w2[i])
		}
	}
}

// TestAdamFlushesSubnormals checks that a moment decaying under a zero
// gradient reaches exactly zero instead of lingering as a subnormal.
func TestAdamFlushesSubnormals(t *testing.T) {
	for _, k := range []struct {
		name string
		k    kernels[float32]
	}{{"model", kernelsFor[float32]()}, {"portable", goKernels[float32]()}} {
		w := make([]float32, 11)
		m := make([]float32, 11)
		v := make([]float32, 11)
		g := make([]float32, 11)
		for i := range m {
			m[i], v[i] = 1e-30, 1e-30
		}
		c := adamStep{b1: 0.5, c1: 0.5, b2: 0.5, c2: 0.5, lrT: 1e-3, epsT: 1e-8, tiny: tiny32}
		for range 200 {
			k.k.adam(w, m, v, g, &c)
		}
		for i := range m {
			if m[i] != 0 || v[i] != 0 {
				t.Errorf("%s: after 200 zero-gradient steps m[%d], v[%d] = %g, %g; want 0, 0", k.name, i, i, m[i], v[i])
			}
		}
	}
}
