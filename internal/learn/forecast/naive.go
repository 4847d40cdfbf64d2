package forecast

import (
	"math"
)

// SeasonalNaive forecasts the value one period earlier: ŷ(t+h) =
// y(t+h-m·⌈h/m⌉). With period 1 it is the naive forecast. Before a full
// period is seen it repeats the last value.
type SeasonalNaive struct {
	ring []float64
	pos  int
	n    int64
	last float64
}

// NewSeasonalNaive returns a seasonal naive forecaster with period m
// (m < 1 is treated as 1).
func NewSeasonalNaive(m int) *SeasonalNaive {
	return &SeasonalNaive{ring: make([]float64, max(m, 1))}
}

// Update adds the next observation; a missing value repeats the value
// one period earlier.
func (s *SeasonalNaive) Update(y float64) {
	y = Clean(y)
	if math.IsNaN(y) {
		if s.n == 0 {
			return
		}
		y = s.ring[s.pos]
		if s.n < int64(len(s.ring)) {
			y = s.last
		}
	}
	s.ring[s.pos] = y
	if s.pos++; s.pos == len(s.ring) {
		s.pos = 0
	}
	s.n++
	s.last = y
}

// Forecast writes the next len(dst) forecasts.
func (s *SeasonalNaive) Forecast(dst []float64) {
	m := len(s.ring)
	for h := range dst {
		if s.n < int64(m) {
			dst[h] = s.last
			continue
		}
		dst[h] = s.ring[(s.pos+h)%m]
	}
	sanitize(dst, s.last)
}

// SeasonalityTest is the M4 competition's test: with r_k the sample
// autocorrelations, y is seasonal with period m when len(y) ≥ 3m and
// |r_m| > 1.645·sqrt((1 + 2·Σ_{k<m} r_k²)/n) (90% level). m ≤ 1 is never
// seasonal.
func SeasonalityTest(y []float64, m int) bool {
	n := len(y)
	if m <= 1 || n < 3*m {
		return false
	}
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(n)
	var den float64
	for _, v := range y {
		den += (v - mean) * (v - mean)
	}
	if den == 0 {
		return false
	}
	acf := func(k int) float64 {
		var s float64
		for t := 0; t+k < n; t++ {
			s += (y[t] - mean) * (y[t+k] - mean)
		}
		return s / den
	}
	sum := 1.0
	for k := 1; k < m; k++ {
		r := acf(k)
		sum += 2 * r * r
	}
	lim := 1.645 / math.Sqrt(float64(n)) * math.Sqrt(sum)
	return math.Abs(acf(m)) > lim
}

// SeasonalIndices returns the seasonal indices of R's classical
// multiplicative decomposition (decompose(type = "multiplicative")) of y
// with period m: the ratio of y to its centred moving average of order m
// (2×m when m is even), averaged by position t mod m and normalised to
// mean 1. Index j applies to the times t with t mod m = j.
func SeasonalIndices(y []float64, m int) []float64 {
	n := len(y)
	idx := make([]float64, m)
	cnt := make([]int, m)
	half := m / 2
	for t := half; t+half < n; t++ {
		var ma float64
		if m%2 == 0 {
			ma = 0.5*y[t-half] + 0.5*y[t+half]
			for j := t - half + 1; j < t+half; j++ {
				ma += y[j]
			}
		} else {
			for j := t - half; j <= t+half; j++ {
				ma += y[j]
			}
		}
		ma /= float64(m)
		if ma == 0 {
			continue
		}
		idx[t%m] += y[t] / ma
		cnt[t%m]++
	}
	var mean float64
	for j := range idx {
		if cnt[j] > 0 {
			idx[j] /= float64(cnt[j])
		} else {
			idx[j] = 1
		}
		mean += idx[j]
	}
	mean /= float64(m)
	for j := range idx {
		idx[j] /= mean
	}
	return idx
}

// Naive2Forecast writes the M4 Naive2 forecasts of y with period m into
// dst: if SeasonalityTest(y, m), the last value of y divided by its
// seasonal index, times the index of each future time; otherwise the last
// value. NaN and negative values of y are cleaned first (NaN dropped).
func Naive2Forecast(y []float64, m int, dst []float64) {
	x := make([]float64, 0, len(y))
	for _, v := range y {
		if v = Clean(v); !math.IsNaN(v) {
			x = append(x, v)
		}
	}
	if len(x) == 0 {
		clear(dst)
		return
	}
	n := len(x)
	last := x[n-1]
	if !SeasonalityTest(x, m) {
		for i := range dst {
			dst[i] = last
		}
		sanitize(dst, last)
		return
	}
	si := SeasonalIndices(x, m)
	level := last / si[(n-1)%m]
	for h := range dst {
		dst[h] = level * si[(n+h)%m]
	}
	sanitize(dst, last)
}

// Naive2 is the online form of Naive2Forecast over the last Window
// observations (a ring buffer). Update is O(1) and allocation-free;
// Forecast recomputes the test and decomposition, O(Window·m), and
// allocates.
type Naive2 struct {
	m    int
	ring []float64
	pos  int
	n    int
}

// NewNaive2 returns a Naive2 forecaster with period m over the last
// window observations (window < 3m disables the seasonal adjustment).
func NewNaive2(m, window int) *Naive2 {
	return &Naive2{m: max(m, 1), ring: make([]float64, max(window, 1))}
}

// Update adds the next observation (NaN is skipped).
func (v *Naive2) Update(y float64) {
	y = Clean(y)
	if math.IsNaN(y) {
		return
	}
	v.ring[v.pos] = y
	if v.pos++; v.pos == len(v.ring) {
		v.pos = 0
	}
	v.n = min(v.n+1, len(v.ring))
}

// Forecast writes the next len(dst) forecasts.
func (v *Naive2) Forecast(dst []float64) {
	x := make([]float64, v.n)
	start := (v.pos - v.n + len(v.ring)) % len(v.ring)
	for i := range x {
		x[i] = v.ring[(start+i)%len(v.ring)]
	}
	Naive2Forecast(x, v.m, dst)
}
