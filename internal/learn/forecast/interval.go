package forecast

import (
	"fmt"
	"math"
	"slices"
)

// Interval wraps a Forecaster with online conformal prediction intervals
// for steps 1..Horizon at the given coverage levels (e.g. 0.8 and 0.95).
//
// After every Update it stores the forecast made, and when the actual
// value of a step arrives it records the absolute error as that step's
// conformity score (the last Window scores are kept per step). The
// interval's radius is the (1-α_t) empirical quantile of those scores,
// where α_t follows adaptive conformal inference (Gibbs & Candès 2021):
// α_{t+1} = α_t + γ(α - miss_t), so a run of misses widens the interval
// until the realised coverage is back at the nominal level, whatever the
// drift. Until a step has MinScores scores the radius is the largest
// score seen in any step (0 before the first).
//
// Update costs one Forecast of Horizon steps plus O(Horizon·Window) to
// keep each step's scores sorted (a binary search and a copy); Predict
// reads the quantiles directly. A step's score window grows as its
// scores arrive (amortised); once every window is full, neither
// allocates.
type Interval struct {
	f      Forecaster
	h      int
	levels []float64
	gamma  float64
	window int
	minS   int
	preds  [][]float64 // preds[j] is the forecast made j updates ago (ring by index)
	radius [][]float64 // radius[j][l*h+k]: radius issued with preds[j]
	head   int
	made   int
	scores [][]float64 // per step ring of scores
	sorted [][]float64 // per step, the same scores in ascending order
	spos   []int
	scount []int
	alpha  [][]float64 // per level, per step
	maxS   float64
	hits   []int64 // per level: covered actuals
	total  int64
}

// IntervalConfig configures NewInterval; zero fields mean the defaults.
type IntervalConfig struct {
	Horizon int       // required, ≥ 1
	Levels  []float64 // coverage levels in (0, 1); empty means 0.8 and 0.95
	Gamma   float64   // ACI step; 0 means 0.005
	Window  int       // scores kept per step; 0 means 500
	// MinScores before a step's own quantile is used; 0 means 20.
	MinScores int
}

// NewInterval wraps f.
func NewInterval(f Forecaster, cfg IntervalConfig) (*Interval, error) {
	if cfg.Horizon < 1 {
		return nil, fmt.Errorf("forecast: interval: Horizon = %d; want ≥ 1", cfg.Horizon)
	}
	if len(cfg.Levels) == 0 {
		cfg.Levels = []float64{0.8, 0.95}
	}
	for i, l := range cfg.Levels {
		if !(l > 0 && l < 1) {
			return nil, fmt.Errorf("forecast: interval: Levels[%d] = %v; want in (0, 1)", i, l)
		}
	}
	if cfg.Gamma == 0 {
		cfg.Gamma = 0.005
	}
	if cfg.Window == 0 {
		cfg.Window = 500
	}
	if cfg.MinScores == 0 {
		cfg.MinScores = 20
	}
	if cfg.Gamma < 0 || cfg.Window < 1 || cfg.MinScores < 1 {
		return nil, fmt.Errorf("forecast: interval: Gamma, Window and MinScores must be positive")
	}
	h, nl := cfg.Horizon, len(cfg.Levels)
	iv := &Interval{f: f, h: h, levels: slices.Clone(cfg.Levels), gamma: cfg.Gamma, window: cfg.Window, minS: cfg.MinScores,
		spos: make([]int, h), scount: make([]int, h), hits: make([]int64, nl)}
	for range h {
		iv.preds = append(iv.preds, make([]float64, h))
		iv.radius = append(iv.radius, make([]float64, nl*h))
	}
	// scores and sorted grow as scores arrive: most series of a shop
	// (a SKU in a warehouse) are short or sparse, and Horizon full
	// windows up front cost Horizon·Window·16 bytes each (224 KB at the
	// supply service's 28 × 500).
	iv.scores = make([][]float64, h)
	iv.sorted = make([][]float64, h)
	for _, l := range iv.levels {
		a := make([]float64, h)
		for k := range a {
			a[k] = 1 - l
		}
		iv.alpha = append(iv.alpha, a)
	}
	return iv, nil
}

// Update scores the forecasts whose target is y, adapts the levels,
// updates the wrapped forecaster and stores its new forecast.
func (iv *Interval) Update(y float64) {
	y = Clean(y)
	if !math.IsNaN(y) {
		counted := false
		for k := 0; k < iv.h && k < iv.made; k++ {
			j := (iv.head - 1 - k + iv.h) % iv.h // forecast made k+1 updates ago
			f := iv.preds[j][k]
			s := math.Abs(y - f)
			r := iv.scores[k]
			srt := iv.sorted[k]
			if len(r) < iv.window {
				// Still filling: the ring is the slice itself, oldest first,
				// and spos stays 0 (where the oldest will be evicted from).
				iv.scores[k] = append(r, s)
			} else {
				// Evict the oldest score from the sorted copy.
				i, _ := slices.BinarySearch(srt, r[iv.spos[k]])
				srt = slices.Delete(srt, i, i+1)
				r[iv.spos[k]] = s
				iv.spos[k] = (iv.spos[k] + 1) % iv.window
			}
			i, _ := slices.BinarySearch(srt, s)
			iv.sorted[k] = slices.Insert(srt, i, s)
			iv.scount[k] = len(iv.scores[k])
			iv.maxS = max(iv.maxS, s)
			for l, lev := range iv.levels {
				miss := 0.0
				if s > iv.radius[j][l*iv.h+k] {
					miss = 1
				} else if k == 0 {
					iv.hits[l]++
				}
				a := iv.alpha[l][k] + iv.gamma*((1-lev)-miss)
				iv.alpha[l][k] = min(max(a, -0.5), 1.5)
			}
			if k == 0 {
				counted = true
			}
		}
		if counted {
			iv.total++
		}
	}
	iv.f.Update(y)
	p := iv.preds[iv.head]
	iv.f.Forecast(p)
	rad := iv.radius[iv.head]
	for l := range iv.levels {
		for k := range iv.h {
			rad[l*iv.h+k] = iv.radiusOf(l, k)
		}
	}
	iv.head = (iv.head + 1) % iv.h
	iv.made++
}

func (iv *Interval) radiusOf(l, k int) float64 {
	if iv.scount[k] < iv.minS {
		return iv.maxS
	}
	a := iv.alpha[l][k]
	if a <= 0 {
		return iv.maxS
	}
	if a >= 1 {
		return 0
	}
	buf := iv.sorted[k]
	n := len(buf)
	idx := int(math.Ceil(float64(n+1)*(1-a))) - 1
	return buf[min(max(idx, 0), n-1)]
}

// Predict writes the point forecasts for the next len(point) steps
// (≤ Horizon) and, for each level l, lo[l] and hi[l] (each at least
// len(point) long): the interval, clamped at 0.
func (iv *Interval) Predict(point []float64, lo, hi [][]float64) {
	if len(point) > iv.h {
		panic(fmt.Sprintf("forecast: interval: %d steps requested, Horizon is %d", len(point), iv.h))
	}
	iv.f.Forecast(point)
	for l := range iv.levels {
		for k, p := range point {
			r := iv.radiusOf(l, k)
			lo[l][k] = max(p-r, 0)
			hi[l][k] = max(p+r, 0)
		}
	}
}

// Levels returns the coverage levels.
func (iv *Interval) Levels() []float64 { return slices.Clone(iv.levels) }

// Coverage returns the realised one-step coverage of each level so far.
func (iv *Interval) Coverage() []float64 {
	out := make([]float64, len(iv.levels))
	if iv.total == 0 {
		return out
	}
	for l := range out {
		out[l] = float64(iv.hits[l]) / float64(iv.total)
	}
	return out
}

// Forecaster returns the wrapped forecaster.
func (iv *Interval) Forecaster() Forecaster { return iv.f }
