package supply_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/supply"
)

func ExampleDecide() {
	// 10 units a day (σ 2 per day), 2 days' lead time, daily review, 95%.
	d := supply.Demand{Mean: []float64{10, 10, 10, 10}, Sigma: []float64{2, 2, 2, 2}}
	p := supply.Params{Policy: supply.BaseStock, LeadTime: 2, Review: 1, ServiceLevel: 0.95}
	dec, _ := supply.Decide(p, d, supply.Inventory{OnHand: 12, OnOrder: 8})
	fmt.Printf("order %.1f (up to %.1f, safety stock %.1f)\n", dec.OrderQuantity, dec.OrderUpTo, dec.SafetyStock)
	// Output: order 15.7 (up to 35.7, safety stock 5.7)
}
