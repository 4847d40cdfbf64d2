package tree

import (
	"fmt"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/learntest"
)

// models are the learners benchmarked, by name.
var models = []struct {
	name string
	new  func(dim int) learn.Binary
}{
	{"hoeffding", func(d int) learn.Binary { return must(NewHoeffding(d, Config{})) }},
	{"hat", func(d int) learn.Binary { return must(NewHAT(d, HATConfig{})) }},
	{"arf", func(d int) learn.Binary { return must(NewARF(d, ARFConfig{})) }},
}

// synthetic returns n examples of the learntest stream over dim features.
func synthetic(dim, n int) ([][]float32, []float64) {
	s := learntest.NewStream(dim, 1)
	xs := make([][]float32, n)
	ys := make([]float64, n)
	for i := range xs {
		xs[i] = make([]float32, dim)
		ys[i] = s.Next(xs[i])
	}
	return xs, ys
}

// BenchmarkLearn measures Learn on a trained model (one example per op,
// cycling through a fixed stream).
func BenchmarkLearn(b *testing.B) {
	const dim = 8
	xs, ys := synthetic(dim, 50000)
	for _, m := range models {
		b.Run(fmt.Sprintf("model=%s/dim=%d", m.name, dim), func(b *testing.B) {
			l := m.new(dim)
			for i := range 20000 {
				l.Learn(xs[i], ys[i])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i % len(xs)
				l.Learn(xs[k], ys[k])
			}
		})
	}
}

// BenchmarkPredict measures Predict on a trained model.
func BenchmarkPredict(b *testing.B) {
	const dim = 8
	xs, ys := synthetic(dim, 20000)
	for _, m := range models {
		b.Run(fmt.Sprintf("model=%s/dim=%d", m.name, dim), func(b *testing.B) {
			l := m.new(dim)
			for i := range xs {
				l.Learn(xs[i], ys[i])
			}
			b.ReportAllocs()
			b.ResetTimer()
			var sink float64
			for i := range b.N {
				sink += l.Predict(xs[i%len(xs)])
			}
			_ = sink
		})
	}
}

// BenchmarkElec2 measures one prequential pass (predict, then learn) over
// Elec2; it is skipped when the data set is absent.
func BenchmarkElec2(b *testing.B) {
	s := loadStream(b, "elec2/elecNormNew.csv", "class")
	for _, m := range models {
		b.Run("model="+m.name, func(b *testing.B) {
			b.ReportAllocs()
			var acc float64
			for range b.N {
				acc, _ = prequential(m.new(s.dim), s)
			}
			b.ReportMetric(acc, "accuracy")
			b.ReportMetric(float64(len(s.x)*b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}
