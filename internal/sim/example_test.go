package sim_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// A World generates events with their ground truth; here, the first view
// and the purchase probability behind it, and a day's event counts.
func ExampleWorld() {
	w, err := sim.NewWorld(sim.WorldConfig{Seed: 1, Users: 1000, Days: 1})
	if err != nil {
		panic(err)
	}
	var ev []event.Event
	var tr []sim.Truth
	count := map[event.Type]int{}
	first := true
	for !w.Done() {
		ev, tr = w.NextTruth(ev[:0], tr[:0], 256)
		for i := range ev {
			count[ev[i].Type]++
			if first && ev[i].Type == event.TypeView {
				first = false
				fmt.Printf("%s %s viewed %s at %.2f: P(purchase) = %.4f\n",
					ev[i].Timestamp.Format("15:04:05"), ev[i].UserID, ev[i].ItemID, ev[i].Price, tr[i].PPurchase)
			}
		}
	}
	for _, t := range event.Types() {
		if count[t] > 0 {
			fmt.Printf("%s: %d\n", t, count[t])
		}
	}
	// Output:
	// 00:26:30 u130 viewed i172 at 35.13: P(purchase) = 0.1126
	// view: 1992
	// click: 528
	// add_to_cart: 176
	// purchase: 73
	// transaction: 309
	// stock: 1573
	// order: 48
}
