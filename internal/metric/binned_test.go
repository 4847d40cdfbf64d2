package metric

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBinaryBinned checks that the binned cumulative AUC stays within a
// hair of the exact one, that its memory stays bounded, and that its state
// round-trips.
func TestBinaryBinned(t *testing.T) {
	const seed = 17
	rng := rand.New(rand.NewPCG(seed, seed))
	exact, binned := NewBinary(100, 0.99), NewBinaryBinned(100, 0.99, 10_000)
	for i := 0; i < 200_000; i++ {
		y := float64(rng.IntN(2))
		p := 1 / (1 + math.Exp(-(rng.NormFloat64() + 1.2*y - 0.6)))
		exact.Update(p, y)
		binned.Update(p, y)
	}
	e, b := exact.Snapshot(), binned.Snapshot()
	if math.Abs(e.AUC-b.AUC) > 1e-4 {
		t.Fatalf("seed %d: binned AUC %.6f; exact %.6f (want within 1e-4)", seed, b.AUC, e.AUC)
	}
	if e.LogLoss != b.LogLoss || e.WindowAUC != b.WindowAUC {
		t.Fatalf("seed %d: binning changed metrics other than the cumulative AUC", seed)
	}
	if n := binned.auc.tree.len(); n > 10_001 {
		t.Fatalf("binned AUC holds %d distinct scores; want ≤ 10001", n)
	}
	data, _ := binned.MarshalBinary()
	var back Binary
	if err := back.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	back.Update(0.123456, 1)
	binned.Update(0.123456, 1)
	if back.Snapshot() != binned.Snapshot() {
		t.Fatal("restored binned metrics diverge from the original")
	}
}
