package drift

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKSTestKnownValues(t *testing.T) {
	tests := []struct {
		name  string
		x, y  []float64
		d, p  float64
		exact bool // p must match to 1e-12 relative
	}{
		// scipy.stats.ks_2samp([1..5], [6..10]): D = 1, p = 2/C(10,5).
		{"disjoint 5+5", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 1, 2.0 / 252, true},
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 0, 1, true},
		// Ties: F_x jumps to 0.5 at 0, F_y to 0.25; both reach 1 at 1.
		{"ties", []float64{0, 0, 1, 1}, []float64{0, 1, 1, 1}, 0.25, 1, true},
		// One sample of size 1 against 3 above it: D = 1, p = 2/C(4,1).
		{"1 vs 3", []float64{0}, []float64{1, 2, 3}, 1, 0.5, true},
	}
	for _, tt := range tests {
		d, p, err := KSTest(tt.x, tt.y)
		if err != nil {
			t.Errorf("KSTest(%s) = %v", tt.name, err)
			continue
		}
		if math.Abs(d-tt.d) > 1e-12 || math.Abs(p-tt.p) > 1e-12*max(1, tt.p) {
			t.Errorf("KSTest(%s) = %v, %v; want %v, %v", tt.name, d, p, tt.d, tt.p)
		}
	}
	if _, _, err := KSTest(nil, []float64{1}); err == nil {
		t.Errorf("KSTest(empty, [1]) = nil error; want one")
	}
	if _, _, err := KSTest([]float64{math.NaN()}, []float64{1}); err == nil {
		t.Errorf("KSTest([NaN], [1]) = nil error; want one")
	}
}

// binom returns C(n, k) as a big.Float.
func binom(n, k int) *big.Float {
	return new(big.Float).SetInt(new(big.Int).Binomial(int64(n), int64(k)))
}

// TestKSExactEqualSizes checks the lattice recursion against the
// Gnedenko-Korolyuk closed form for n = m:
// P(D ≥ h/n) = 2·Σ_{k≥1} (−1)^{k+1} C(2n, n−kh) / C(2n, n).
func TestKSExactEqualSizes(t *testing.T) {
	for _, n := range []int{1, 5, 30, 100} {
		total := binom(2*n, n)
		for h := 1; h <= n; h++ {
			sum := new(big.Float)
			for k := 1; n-k*h >= 0; k++ {
				term := binom(2*n, n-k*h)
				if k%2 == 0 {
					term.Neg(term)
				}
				sum.Add(sum, term)
			}
			want, _ := new(big.Float).Quo(sum.Mul(sum, big.NewFloat(2)), total).Float64()
			want = min(want, 1)
			got := KSPValue(float64(h)/float64(n), n, n)
			if math.Abs(got-want) > 1e-9*max(want, 1e-300) && math.Abs(got-want) > 1e-15 {
				t.Errorf("KSPValue(%d/%d, %d, %d) = %.15g; want %.15g", h, n, n, n, got, want)
			}
		}
	}
}

// TestKSExactBruteForce enumerates every arrangement of n x's and m y's
// (distinct values) and compares the exact p-value with the frequency.
func TestKSExactBruteForce(t *testing.T) {
	for _, sz := range [][2]int{{4, 6}, {3, 7}, {5, 5}, {2, 9}} {
		n, m := sz[0], sz[1]
		counts := map[int64]int{}
		total := 0
		for mask := 0; mask < 1<<(n+m); mask++ {
			if popcount(mask) != n {
				continue
			}
			var x, y []float64
			for i := range n + m {
				if mask&(1<<i) != 0 {
					x = append(x, float64(i))
				} else {
					y = append(y, float64(i))
				}
			}
			counts[ksStatistic(x, y)]++
			total++
		}
		for h := range counts {
			ge := 0
			for h2, c := range counts {
				if h2 >= h {
					ge += c
				}
			}
			want := float64(ge) / float64(total)
			var s ksScratch
			if got := s.exact(n, m, h); math.Abs(got-want) > 1e-12 {
				t.Errorf("exact(%d, %d, %d) = %v; want %v (brute force)", n, m, h, got, want)
			}
		}
	}
}

func popcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func TestKolmogorovQ(t *testing.T) {
	tests := []struct{ lambda, want float64 }{
		{0, 1},
		{0.5, 0.9639452436648751},  // 1 − K(0.5)
		{1.0, 0.26999967167735456}, // 1 − K(1)
		{1.2238, 0.1000},           // classic critical values
		{1.3581, 0.0500},
		{1.6276, 0.0100},
		{1.9495, 0.0010},
	}
	for _, tt := range tests {
		tol := 1e-9
		if tt.lambda > 1.2 {
			tol = 5e-5 // critical values are tabulated to 4 digits
		}
		if got := kolmogorovQ(tt.lambda); math.Abs(got-tt.want) > tol {
			t.Errorf("kolmogorovQ(%v) = %v; want %v", tt.lambda, got, tt.want)
		}
	}
}

// TestKSAsymptoticAgreesWithExact checks the large-sample formula against
// the exact recursion at the smallest sizes where it is used (n·m just
// above KSExactLimit): within 10 %, and conservative (never smaller). At
// n = m = 200 it is still about 20 % high.
func TestKSAsymptoticAgreesWithExact(t *testing.T) {
	var s ksScratch
	for _, n := range []int{1000} {
		for _, p := range []float64{0.2, 0.05, 0.01} {
			// Find the h with exact p-value nearest to p.
			lo, hi := int64(1), int64(n*n)
			for lo < hi {
				mid := (lo + hi) / 2
				if s.exact(n, n, mid) > p {
					lo = mid + 1
				} else {
					hi = mid
				}
			}
			d := float64(lo) / float64(n*n)
			exact := s.exact(n, n, lo)
			asym := ksAsymptotic(d, n, n)
			t.Logf("n = m = %d, D = %v: asymptotic p %.5g, exact %.5g", n, d, asym, exact)
			if asym < exact || asym > 1.1*exact {
				t.Errorf("n = m = %d, D = %v: asymptotic p %v; exact %v (want exact ≤ asymptotic ≤ 1.1·exact)", n, d, asym, exact)
			}
		}
	}
}

// TestKSPValueUniform checks that under H0 the p-value is (conservatively)
// uniform: P(p ≤ 0.05) ≈ 0.05 over random samples.
func TestKSPValueUniform(t *testing.T) {
	const seed = 99
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	const trials = 2000
	reject := 0
	x, y := make([]float64, 40), make([]float64, 60)
	for range trials {
		for i := range x {
			x[i] = r.NormFloat64()
		}
		for i := range y {
			y[i] = r.NormFloat64()
		}
		if _, p, _ := KSTest(x, y); p <= 0.05 {
			reject++
		}
	}
	// Binomial(2000, 0.05): mean 100, sd 9.7. The discrete statistic makes
	// the test slightly conservative.
	if reject < 60 || reject > 130 {
		t.Errorf("KSTest rejected %d of %d H0 trials at 5%%; want about 100", reject, trials)
	}
}

func TestSortFloats(t *testing.T) {
	const seed = 4
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for n := range 70 {
		a := make([]float64, n)
		for i := range a {
			a[i] = float64(r.IntN(10)) // ties
		}
		want := append([]float64(nil), a...)
		slices.Sort(want)
		sortFloats(a)
		if !slices.Equal(a, want) {
			t.Errorf("sortFloats(%d values) = %v; want %v", n, a, want)
		}
	}
}
