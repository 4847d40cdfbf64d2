package embed

import (
	"os"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// TestDeltaSize measures what a delta saves: a table of n live IDs of
// which 1% are written between two snapshots. The delta must be under 5%
// of the full snapshot's bytes. PERPETUA_LONG=1 runs it with 10 million
// IDs and logs the sizes and times (the figures in BENCHMARKS.md).
func TestDeltaSize(t *testing.T) {
	n := 200_000
	if os.Getenv("PERPETUA_LONG") != "" {
		n = 10_000_000
	}
	tb, err := New(Config{Dim: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	grad := make([]float32, 16)
	for i := range grad {
		grad[i] = 0.01
	}
	for id := range uint64(n) {
		tb.ApplyGradient(tb.Lookup(id+1, 0), grad)
	}
	size := func(delta bool) (int, time.Duration) {
		var s tensor.Set
		t0 := time.Now()
		if delta {
			tb.SaveDelta(&s, "t.")
		} else {
			tb.SaveTensors(&s, "t.")
		}
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return len(b), time.Since(t0)
	}
	full, fullT := size(false)
	for k := range uint64(n / 100) { // 1% of the IDs, spread out
		id := (k*7919)%uint64(n) + 1
		tb.ApplyGradient(tb.Lookup(id, 1), grad)
	}
	delta, deltaT := size(true)
	t.Logf("%d IDs × 16 floats (AdaGrad): full snapshot %.1f MB in %v; delta after 1%% of the IDs were written %.2f MB in %v (%.2f%%)",
		n, float64(full)/1e6, fullT.Round(time.Millisecond), float64(delta)/1e6, deltaT.Round(time.Millisecond), 100*float64(delta)/float64(full))
	if delta*20 > full {
		t.Errorf("delta %d bytes is over 5%% of the full snapshot's %d", delta, full)
	}
}
