package drift

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// KSExactLimit is the largest n·m for which KSTest and KSPValue compute
// the exact two-sample p-value (an O(n·m) lattice-path recursion); larger
// samples use the asymptotic Kolmogorov distribution.
const KSExactLimit = 1_000_000

// KSTest runs the two-sample Kolmogorov-Smirnov test of x against y and
// returns the statistic D = sup |F_x − F_y| and the two-sided p-value
// P(D′ ≥ D) under the hypothesis that both samples come from one
// continuous distribution (with ties the p-value is conservative, as in
// scipy.stats.ks_2samp). It does not modify x or y; it allocates sorted
// copies. It returns an error if a sample is empty or holds a NaN.
func KSTest(x, y []float64) (d, p float64, err error) {
	if len(x) == 0 || len(y) == 0 {
		return 0, 0, fmt.Errorf("drift: KSTest needs two non-empty samples, got %d and %d values", len(x), len(y))
	}
	if slices.ContainsFunc(x, math.IsNaN) || slices.ContainsFunc(y, math.IsNaN) {
		return 0, 0, errors.New("drift: KSTest sample holds NaN")
	}
	a, b := slices.Clone(x), slices.Clone(y)
	slices.Sort(a)
	slices.Sort(b)
	var ks ksScratch
	d, p = ks.test(a, b)
	return d, p, nil
}

// KSPValue returns the two-sided p-value P(D′ ≥ d) of the two-sample
// Kolmogorov-Smirnov statistic for samples of sizes n and m: exact when
// n·m ≤ KSExactLimit, otherwise asymptotic. It panics if n or m < 1.
func KSPValue(d float64, n, m int) float64 {
	if n < 1 || m < 1 {
		panic(fmt.Sprintf("drift: KSPValue sample sizes %d and %d, want >= 1", n, m))
	}
	var ks ksScratch
	if int64(n)*int64(m) <= KSExactLimit {
		// D is a multiple of 1/lcm(n, m); in units of 1/(n·m) it is an
		// integer.
		h := int64(math.Round(d * float64(n) * float64(m)))
		return ks.exact(n, m, h)
	}
	return ksAsymptotic(d, n, m)
}

// ksScratch holds the row buffer of the exact recursion so that callers
// that test repeatedly (KSWIN, Window) do not allocate.
type ksScratch struct{ row []float64 }

// test returns D and the p-value for sorted, NaN-free, non-empty a and b.
func (s *ksScratch) test(a, b []float64) (d, p float64) {
	n, m := len(a), len(b)
	h := ksStatistic(a, b)
	d = float64(h) / (float64(n) * float64(m))
	if int64(n)*int64(m) <= KSExactLimit {
		return d, s.exact(n, m, h)
	}
	return d, ksAsymptotic(d, n, m)
}

// ksStatistic returns n·m·D for sorted a (n values) and b (m values):
// the largest |i·m − j·n| over the points where the empirical CDFs jump,
// ties handled by advancing both samples past equal values.
func ksStatistic(a, b []float64) int64 {
	n, m := int64(len(a)), int64(len(b))
	var i, j int
	var h int64
	for i < len(a) && j < len(b) {
		x := min(a[i], b[j])
		for i < len(a) && a[i] <= x {
			i++
		}
		for j < len(b) && b[j] <= x {
			j++
		}
		diff := int64(i)*m - int64(j)*n
		if diff < 0 {
			diff = -diff
		}
		h = max(h, diff)
	}
	return h
}

// exact returns P(D ≥ h/(n·m)) for two samples of sizes n and m under H0:
// the probability that a uniformly random monotone lattice path from
// (0, 0) to (n, m) touches a point with |i·m − j·n| ≥ h. The recursion
// carries the probability of reaching (i, j) without touching the
// boundary and adds the mass absorbed at the boundary, so small p-values
// keep full relative precision.
func (s *ksScratch) exact(n, m int, h int64) float64 {
	if h <= 0 {
		return 1
	}
	if cap(s.row) < m+1 {
		s.row = make([]float64, m+1)
	}
	row := s.row[:m+1]
	nm := int64(n)
	mm := int64(m)
	total := float64(n + m)
	var out float64
	for i := 0; i <= n; i++ {
		for j := 0; j <= m; j++ {
			if i == 0 && j == 0 {
				row[0] = 1
				continue
			}
			var p float64
			if i > 0 { // step from (i−1, j): prob (n−i+1)/(remaining)
				p += row[j] * float64(n-i+1) / (total - float64(i-1+j))
			}
			if j > 0 { // step from (i, j−1)
				p += row[j-1] * float64(m-j+1) / (total - float64(i+j-1))
			}
			diff := int64(i)*mm - int64(j)*nm
			if diff < 0 {
				diff = -diff
			}
			if diff >= h {
				out += p
				p = 0
			}
			row[j] = p
		}
	}
	return min(max(out, 0), 1)
}

// ksAsymptotic returns the Kolmogorov limiting p-value with Stephens'
// small-sample correction: Q(λ), λ = (√e + 0.12 + 0.11/√e)·d, e = nm/(n+m).
func ksAsymptotic(d float64, n, m int) float64 {
	en := math.Sqrt(float64(n) * float64(m) / float64(n+m))
	return kolmogorovQ((en + 0.12 + 0.11/en) * d)
}

// kolmogorovQ returns Q(λ) = P(K > λ) for the Kolmogorov distribution,
// 2·Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²), using the Jacobi-transformed series
// for small λ where the alternating one converges slowly.
func kolmogorovQ(lambda float64) float64 {
	if lambda <= 0 {
		return 1
	}
	if lambda < 1 {
		// P(K ≤ λ) = √(2π)/λ · Σ_{k≥1} exp(−(2k−1)²π²/(8λ²))
		var sum float64
		c := -math.Pi * math.Pi / (8 * lambda * lambda)
		for k := 1; k <= 20; k++ {
			t := math.Exp(float64((2*k-1)*(2*k-1)) * c)
			sum += t
			if t < 1e-17*sum {
				break
			}
		}
		return min(max(1-math.Sqrt(2*math.Pi)/lambda*sum, 0), 1)
	}
	var sum float64
	sign := 1.0
	for k := 1; k <= 100; k++ {
		t := math.Exp(-2 * float64(k*k) * lambda * lambda)
		sum += sign * t
		if t < 1e-17 {
			break
		}
		sign = -sign
	}
	return min(max(2*sum, 0), 1)
}
