package label_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/label"
)

func ExamplePending() {
	const day = 86400
	p := label.NewPending[string, float64](7*day, 0) // genuine after 7 days
	learn := func(o label.Outcome[float64]) {
		fmt.Printf("learn amount %.0f label %.0f known at day %d (matured %v)\n", o.Payload, o.Value, o.KnownAt/day, o.Matured)
	}
	_ = p.Add("tx1", 0, 20, nil)
	_ = p.Add("tx2", 1*day, 900, nil)
	_ = p.Label("tx2", 3*day, 1, learn)              // chargeback on day 3
	fmt.Println(p.Label("tx2", 4*day, 1, learn))     // the same label again
	p.Advance(8*day, learn)                          // tx1 matures as genuine
	fmt.Println(p.Label("unknown", 8*day, 1, learn)) // never scored
	// Output:
	// learn amount 900 label 1 known at day 3 (matured false)
	// label: id not pending (never scored, already labelled, or matured)
	// learn amount 20 label 0 known at day 7 (matured true)
	// label: id not pending (never scored, already labelled, or matured)
}
