package mlp_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
)

func Example() {
	// XOR is not linearly separable; one hidden layer learns it.
	m, err := mlp.New(2, mlp.Config{Hidden: []int{8}, LearnRate: 0.01, Seed: 1})
	if err != nil {
		panic(err)
	}
	data := [][2]float32{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
	for i := range 20000 {
		x := data[i%4]
		m.Learn(x[:], float64(int(x[0])^int(x[1])))
	}
	for _, x := range data {
		fmt.Printf("%v → %.0f\n", x, m.Predict(x[:]))
	}
	// Output:
	// [0 0] → 0
	// [0 1] → 1
	// [1 0] → 1
	// [1 1] → 0
}
