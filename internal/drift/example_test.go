package drift_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/perpetua-ml/perpetua/internal/drift"
)

// River's classic scenario: random bits, then values 4..7 from index 1000.
func ExampleADWIN() {
	r := rand.New(rand.NewPCG(12345, 0))
	a := drift.NewADWIN(drift.ADWINConfig{})
	for i := range 2000 {
		v := float64(r.IntN(2))
		if i >= 1000 {
			v = float64(4 + r.IntN(4))
		}
		a.Update(v)
		if a.Drift() {
			fmt.Printf("drift at index %d; window now %d values, mean %.2f\n", i, a.Width(), a.Estimation())
			a.Reset() // River's behaviour: start afresh after each drift
		}
	}
	// Output:
	// drift at index 1023; window now 32 values, mean 4.16
}

func ExampleNew() {
	d, err := drift.New("page-hinkley")
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range 200 {
		v := 0.0
		if i >= 100 {
			v = 10
		}
		d.Update(v)
		if d.Drift() {
			fmt.Println("drift at", i)
		}
	}
	_, err = drift.New("cusum")
	fmt.Println(err)
	// Output:
	// drift at 105
	// drift: unknown detector "cusum" (known: adwin, page-hinkley, ph, ddm, eddm, kswin)
}

func ExamplePSI() {
	ref := make([]float64, 1000)
	cur := make([]float64, 1000)
	for i := range ref {
		ref[i] = float64(i % 100)
		cur[i] = float64(i%100) + 30 // shifted up
	}
	p, err := drift.NewPSI(ref, 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("same: %.3f, shifted: %.3f (significant above %.2f)\n", p.Score(ref), p.Score(cur), drift.PSISignificant)
	// Output:
	// same: 0.000, shifted: 1.996 (significant above 0.25)
}
