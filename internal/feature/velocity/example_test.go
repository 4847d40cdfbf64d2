package velocity_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/feature/velocity"
)

func Example() {
	// Terminal statistics with a 7-day label delay.
	tb, _ := velocity.New(velocity.Config{Windows: []int{1, 7}, Delay: 7})
	const day = velocity.SecondsPerDay
	term := uint64(42)
	for d := int64(0); d < 10; d++ {
		_ = tb.Add(term, d*day+3600, 50)
	}
	_ = tb.AddLabel(term, 1*day+3600, 1) // the day-1 transaction was fraud

	now := int64(9*day + 7200)
	recent := make([]velocity.Agg, 2)
	tb.Recent(recent, term, now)
	delayed := make([]velocity.Agg, 2)
	tb.Delayed(delayed, term, now) // days 1 and 0..1 only: their labels are known
	fmt.Printf("recent 1d: %v tx, 7d: %v tx\n", recent[0].Count, recent[1].Count)
	fmt.Printf("delayed 1d: rate %.2f, 7d: rate %.2f over %v tx\n", delayed[0].Rate(), delayed[1].Rate(), delayed[1].Count)
	// Output:
	// recent 1d: 1 tx, 7d: 7 tx
	// delayed 1d: rate 1.00, 7d: rate 0.50 over 2 tx
}
