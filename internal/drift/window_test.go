package drift

import (
	"math/rand/v2"
	"testing"
)

// TestWindowDetectsShift feeds 3000 N(0,1) values then N(1,1) values and
// checks each method: no drift before the shift, a drift within two
// windows after it, and a test on every Step values.
func TestWindowDetectsShift(t *testing.T) {
	const seed = 8
	t.Logf("seed %d", seed)
	tests := []struct {
		name string
		cfg  WindowConfig
	}{
		{"psi", WindowConfig{}},
		{"psi sliding", WindowConfig{Size: 400, Step: 100}},
		{"ks", WindowConfig{Method: WindowKS}},
		{"ks large", WindowConfig{Method: WindowKS, Reference: 5000, Size: 2000, Threshold: 1e-6}}, // asymptotic p-values
	}
	for _, tt := range tests {
		r := rand.New(rand.NewPCG(seed, 0))
		w := NewWindow(tt.cfg)
		c := w.Config()
		change := c.Reference + 3000
		first := -1
		for i := range change + 2*c.Size {
			v := r.NormFloat64()
			if i >= change {
				v++
			}
			w.Update(v)
			if w.Drift() {
				if i < change {
					t.Errorf("%s: drift at %d before the shift at %d (statistic %v, p %v)", tt.name, i, change, w.Statistic(), w.PValue())
				} else if first < 0 {
					first = i
				}
			}
		}
		t.Logf("%s: shift at %d flagged at %d", tt.name, change, first)
		if first < 0 {
			t.Errorf("%s: shift at %d not flagged within %d values", tt.name, change, 2*c.Size)
		}
	}
}

func TestWindowWarning(t *testing.T) {
	const seed = 9
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	// PSI ≈ 0.3² ≈ 0.09 … 0.16 for a 0.35σ shift: warning, not drift.
	w := NewWindow(WindowConfig{Reference: 4000, Size: 4000})
	for range 4000 {
		w.Update(r.NormFloat64())
	}
	for range 4000 {
		w.Update(0.35 + r.NormFloat64())
	}
	if !w.Warning() || w.Drift() {
		t.Errorf("after a 0.35σ shift: Warning() = %v, Drift() = %v, PSI %v; want true, false", w.Warning(), w.Drift(), w.Statistic())
	}
	w.Update(0) // warning holds until the next test
	if !w.Warning() {
		t.Errorf("Warning() cleared before the next test")
	}
}

// TestWindowRestartsAfterDrift checks that the values after a drift form
// the new reference.
func TestWindowRestartsAfterDrift(t *testing.T) {
	w := NewWindow(WindowConfig{Reference: 100, Size: 50})
	for i := range 100 {
		w.Update(float64(i % 10))
	}
	drifted := false
	for i := range 50 {
		w.Update(float64(100 + i%10))
		drifted = drifted || w.Drift()
	}
	if !drifted {
		t.Fatalf("no drift after moving from 0..9 to 100..109")
	}
	for i := range 300 { // new reference 100..109, then the same values
		w.Update(float64(100 + i%10))
		if w.Drift() {
			t.Fatalf("drift at %d on the new concept; the reference was not rebuilt", i)
		}
	}
}
