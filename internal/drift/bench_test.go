package drift

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkUpdate measures one Update in steady state, on the stream of
// each conformance case.
func BenchmarkUpdate(b *testing.B) {
	for _, c := range detectorCases() {
		b.Run(c.name, func(b *testing.B) {
			d := c.new()
			r := rand.New(rand.NewPCG(1, 1))
			const n = 1 << 14
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = c.stream(r, i)
			}
			for i := range 20000 {
				d.Update(vals[i%n])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				d.Update(vals[i%n])
			}
		})
	}
}

func BenchmarkPSIScore(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	ref := make([]float64, 5000)
	win := make([]float64, 1000)
	for i := range ref {
		ref[i] = r.NormFloat64()
	}
	for i := range win {
		win[i] = r.NormFloat64()
	}
	p, _ := NewPSI(ref, 10)
	b.ReportAllocs()
	for b.Loop() {
		p.Score(win)
	}
}

func BenchmarkKSTest(b *testing.B) {
	for _, n := range []int{30, 1000, 5000} {
		b.Run(itoa(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			x, y := make([]float64, n), make([]float64, n)
			for i := range x {
				x[i], y[i] = r.NormFloat64(), r.NormFloat64()
			}
			b.ReportAllocs()
			for b.Loop() {
				KSTest(x, y)
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for ; n > 0; n /= 10 {
		i--
		buf[i] = byte('0' + n%10)
	}
	return string(buf[i:])
}
