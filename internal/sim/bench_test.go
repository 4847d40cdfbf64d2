package sim

import (
	"strconv"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// BenchmarkWorld measures generation on one goroutine; one op is one
// event. Sub-benchmarks are named by the number of users.
func BenchmarkWorld(b *testing.B) {
	for _, users := range []int{1_000, 10_000, 1_000_000, 10_000_000} {
		b.Run("users="+strconv.Itoa(users), func(b *testing.B) {
			w, err := NewWorld(WorldConfig{Seed: 1, Users: users, Days: -1})
			if err != nil {
				b.Fatal(err)
			}
			ev := make([]event.Event, 0, 1024)
			tr := make([]Truth, 0, 1024)
			ev, tr = w.NextTruth(ev, tr, 1024) // warm up pools and buffers
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for n := 0; n < b.N; {
				k := min(1024, b.N-n)
				ev, tr = w.NextTruth(ev[:0], tr[:0], k)
				n += len(ev)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if cpu := cpuSeconds() - cpu0; cpu > 0 {
				// The process's CPU time, GC included: on a shared
				// machine this is the honest per-core figure.
				b.ReportMetric(float64(b.N)/cpu, "events/cpu-s")
			}
		})
	}
}
