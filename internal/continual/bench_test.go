package continual

import (
	"context"
	"testing"
)

// BenchmarkRunner measures the prequential loop over a log of simulated
// shop events: decode, features, predict, label join, learn (MLP and
// logistic), per log record.
func BenchmarkRunner(b *testing.B) {
	t := &testing.T{}
	lg := simLog(t, 20000, 9)
	end := lg.End()
	b.ReportAllocs()
	b.ResetTimer()
	var n uint64
	for b.Loop() {
		b.StopTimer()
		r, err := New(lg, testLearners(), Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for {
			k, err := r.Step(context.Background(), 4096)
			if err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
		n += end
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
