package forecast_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/learn/forecast"
)

func ExampleNewHoltWinters() {
	// Hourly demand with a daily cycle, learnt one observation at a time.
	f := forecast.NewHoltWinters(forecast.SeasonAdditive, []int{24}, 0.2, 0.01, 0, 0.2)
	for i := range 24 * 14 {
		demand := 10.0
		if h := i % 24; h >= 9 && h < 18 {
			demand = 30 // shop hours
		}
		f.Update(demand)
	}
	next := make([]float64, 12)
	f.Forecast(next)
	fmt.Printf("%.0f\n", next)
	// Output: [10 10 10 10 10 10 10 10 10 30 30 30]
}

func ExampleAutoETS() {
	y := []float64{112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
		115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140,
		145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166,
		171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194}
	m, err := forecast.AutoETS(y, forecast.AutoConfig{Periods: []int{12}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Spec().Season != forecast.SeasonNone)
	// Output: true
}

func ExampleInterval() {
	iv, _ := forecast.NewInterval(forecast.NewSES(0.1), forecast.IntervalConfig{Horizon: 2, Levels: []float64{0.8}})
	for i := range 200 {
		iv.Update(float64(50 + i%5)) // 50, 51, 52, 53, 54, 50, …
	}
	point := make([]float64, 2)
	lo, hi := [][]float64{make([]float64, 2)}, [][]float64{make([]float64, 2)}
	iv.Predict(point, lo, hi)
	fmt.Printf("%.0f in [%.0f, %.0f]\n", point[0], lo[0][0], hi[0][0])
	// Output: 52 in [50, 54]
}
