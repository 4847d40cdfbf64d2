package forecast

import "math"

// SMAPE returns the M4 symmetric MAPE of forecasts f for actuals y, in
// percent: 200/h · Σ|y-f|/(|y|+|f|). Steps where both are 0 count as 0
// error. It panics if the lengths differ.
func SMAPE(y, f []float64) float64 {
	if len(y) != len(f) {
		panic("forecast: SMAPE length mismatch")
	}
	var s float64
	for i := range y {
		d := math.Abs(y[i]) + math.Abs(f[i])
		if d > 0 {
			s += math.Abs(y[i]-f[i]) / d
		}
	}
	return 200 * s / float64(len(y))
}

// MASEScale returns the M4 MASE denominator of the in-sample series x
// with seasonal period m (m < 1 means 1): the mean absolute m-lagged
// difference. It is NaN when x has m values or fewer.
func MASEScale(x []float64, m int) float64 {
	m = max(m, 1)
	if len(x) <= m {
		return math.NaN()
	}
	var s float64
	for t := m; t < len(x); t++ {
		s += math.Abs(x[t] - x[t-m])
	}
	return s / float64(len(x)-m)
}

// MASE returns the mean absolute error of f against y divided by scale
// (see MASEScale).
func MASE(y, f []float64, scale float64) float64 {
	if len(y) != len(f) {
		panic("forecast: MASE length mismatch")
	}
	var s float64
	for i := range y {
		s += math.Abs(y[i] - f[i])
	}
	return s / float64(len(y)) / scale
}

// OWA returns the M4 overall weighted average of a method's mean sMAPE
// and mean MASE relative to Naive2's on the same series.
func OWA(smape, mase, naive2SMAPE, naive2MASE float64) float64 {
	return 0.5 * (smape/naive2SMAPE + mase/naive2MASE)
}
