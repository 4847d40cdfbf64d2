package policy_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/policy"
)

// A LinUCB policy learns which of two arms pays in each of two contexts;
// every decision reports its propensity.
func Example() {
	p, err := policy.New("linucb", 2, 2, policy.Config{Seed: 1})
	if err != nil {
		panic(err)
	}
	ctx := [][]float32{{1, 0}, {0, 1}}
	for i := 0; i < 200; i++ {
		x := ctx[i%2]
		a, _ := p.Choose(x)
		reward := 0.0
		if a == i%2 { // arm 0 pays in context 0, arm 1 in context 1
			reward = 1
		}
		p.Update(x, a, reward)
	}
	for _, x := range ctx {
		a, prop := p.Choose(x)
		fmt.Printf("context %v: arm %d, propensity %.2f\n", x, a, prop)
	}
	// Output:
	// context [1 0]: arm 0, propensity 1.00
	// context [0 1]: arm 1, propensity 1.00
}
