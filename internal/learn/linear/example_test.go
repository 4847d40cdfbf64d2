package linear_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/learn/linear"
)

func Example() {
	m := linear.New(2, linear.Config{}) // Adam, learning rate 0.03
	for range 2000 {
		m.Learn([]float32{1, 0}, 1)
		m.Learn([]float32{0, 1}, 0)
	}
	fmt.Printf("%.2f %.2f\n", m.Predict([]float32{1, 0}), m.Predict([]float32{0, 1}))
	// Output: 1.00 0.00
}
