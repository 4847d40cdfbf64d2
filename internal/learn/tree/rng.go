package tree

import (
	"math"
	"math/bits"
)

// rng is SplitMix64: one uint64 of state, so it is trivially copied by
// Clone and saved in snapshots. Its streams are part of the models'
// determinism: changing it changes every seeded model.
type rng struct{ s uint64 }

// newRNG returns a generator for seed and stream (distinct streams of one
// seed are independent for our purposes).
func newRNG(seed, stream uint64) rng {
	r := rng{s: seed ^ (stream * 0xd1b54a32d192ed03)}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float64 returns a uniform number in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) * 0x1p-53 }

// intn returns a uniform integer in [0, n), n > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// poisson returns a Poisson(λ) sample by Knuth's product of uniforms;
// expLambda is e^-λ. It takes about λ+1 draws, which is cheap for the
// small λ used in online bagging.
func (r *rng) poisson(expLambda float64) int {
	k := 0
	p := r.float64()
	for p > expLambda {
		k++
		p *= r.float64()
	}
	return k
}

// sample writes m distinct features of [0, len(perm)) into dst[:m] in
// increasing order, using perm as scratch (a partial Fisher-Yates
// shuffle).
func (r *rng) sample(dst []int32, perm []int32) {
	for i := range perm {
		perm[i] = int32(i)
	}
	m := len(dst)
	for i := range m {
		j := i + r.intn(len(perm)-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	copy(dst, perm[:m])
	// Insertion sort: m is small.
	for i := 1; i < m; i++ {
		for j := i; j > 0 && dst[j] < dst[j-1]; j-- {
			dst[j], dst[j-1] = dst[j-1], dst[j]
		}
	}
}

// gauss is a weighted Gaussian estimator of one feature within one class
// at one leaf (West's weighted form of Welford's algorithm), with the
// range of values seen.
type gauss struct {
	w, mean, m2, min, max float64
}

// gaussFields is the number of float64s of a gauss in snapshots.
const gaussFields = 5

func (g *gauss) add(v, w float64) {
	if g.w == 0 {
		g.min, g.max = v, v
	} else {
		g.min = min(g.min, v)
		g.max = max(g.max, v)
	}
	g.w += w
	d := v - g.mean
	g.mean += w * d / g.w
	g.m2 += w * d * (v - g.mean)
}

// variance is the unbiased (frequency-weight) variance, 0 until the
// weight exceeds 1.
func (g *gauss) variance() float64 {
	if g.w <= 1 || g.m2 <= 0 {
		return 0
	}
	return g.m2 / (g.w - 1)
}

// cdf returns the estimated fraction of the weight at or below v, given
// the standard deviation sd = sqrt(g.variance()).
func (g *gauss) cdf(v, sd float64) float64 {
	if sd == 0 {
		if v < g.mean {
			return 0
		}
		return 1
	}
	return 0.5 * math.Erfc(-(v-g.mean)/(sd*math.Sqrt2))
}
