package ope_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/policy/ope"
)

// Three logged rounds of a uniform logging policy over two actions,
// evaluated for a target that always shows action 1.
func ExampleEvaluate() {
	in := &ope.Input{N: 3, K: 2,
		Pi:         []float64{0, 1, 0, 1, 0, 1},
		QHat:       []float64{0.2, 0.6, 0.2, 0.6, 0.2, 0.6},
		Action:     []int{1, 0, 1},
		Reward:     []float64{1, 1, 0},
		Propensity: []float64{0.5, 0.5, 0.5}}
	est, err := ope.Evaluate(in, ope.Config{Bootstrap: -1})
	if err != nil {
		panic(err)
	}
	for _, name := range ope.Estimators {
		fmt.Printf("%s %.3f\n", name, est[name].Estimate)
	}
	// Output:
	// dm 0.600
	// ips 0.667
	// snips 0.500
	// dr 0.467
	// sndr 0.500
	// switch-dr 0.467
}
