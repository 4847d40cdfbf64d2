package tree_test

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/perpetua-ml/perpetua/internal/learn/tree"
)

// example returns a deterministic example: y = 1 (UP) when demand is
// below 0.4 and price above 0.6, with 2% label noise.
func example(r *rand.Rand, x []float32) float64 {
	x[0], x[1] = float32(r.Float64()), float32(r.Float64())
	y := x[0] <= 0.4 && x[1] > 0.6
	if r.Float64() < 0.02 {
		y = !y
	}
	if y {
		return 1
	}
	return 0
}

func ExampleHoeffding() {
	h, err := tree.NewHoeffding(2, tree.Config{})
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 2)
	for range 5000 {
		y := example(r, x)
		h.Learn(x, y) // prequentially: h.Predict(x) first, then learn
	}
	fmt.Printf("P(UP | demand 0.2, price 0.9) = %.2f\n", h.Predict([]float32{0.2, 0.9}))
	err = h.Rules(os.Stdout, tree.Names{Features: []string{"demand", "price"}, Negative: "DOWN", Positive: "UP"})
	if err != nil {
		panic(err)
	}
	// Output:
	// P(UP | demand 0.2, price 0.9) = 0.94
	// if demand <= 0.4545 and price <= 0.5469 then DOWN (p=0.96, n=383)
	// if demand <= 0.4545 and price > 0.5469 then UP (p=0.78, n=343)
	// if demand > 0.4545 then DOWN (p=0.97, n=2741)
}

func ExampleARF() {
	f, err := tree.NewARF(2, tree.ARFConfig{Seed: 7})
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 2)
	right := 0
	for i := range 4000 {
		y := example(r, x)
		if i >= 2000 {
			x[0] = 1 - x[0] // an abrupt drift: demand is mirrored
		}
		if i >= 3000 && (f.Predict(x) >= 0.5) == (y == 1) {
			right++
		}
		f.Learn(x, y)
	}
	fmt.Printf("accuracy over the last 1000: %.2f\n", float64(right)/1000)
	fmt.Println("trees replaced after the drift:", countAfter(f.Replacements(), 2000) > 0)
	// Output:
	// accuracy over the last 1000: 0.98
	// trees replaced after the drift: true
}

func countAfter(rs []tree.Replacement, i int64) int {
	n := 0
	for _, r := range rs {
		if r.Index >= i {
			n++
		}
	}
	return n
}
