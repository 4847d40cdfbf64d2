package drift

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Conventional PSI thresholds (Siddiqi, "Credit Risk Scorecards", 2006,
// and common industry practice): below PSIModerate the population is
// considered stable, between PSIModerate and PSISignificant it has shifted
// moderately (investigate), above PSISignificant it has shifted
// significantly (act: retrain or re-baseline).
const (
	PSIModerate    = 0.1
	PSISignificant = 0.25
)

// PSISmoothing is the pseudo-count added to every bin, in both the
// reference and the scored window, so that an empty bin has a small
// non-zero proportion instead of an infinite log-ratio.
const PSISmoothing = 0.5

// PSI scores a window of values against a reference distribution with the
// Population Stability Index
//
//	PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)
//
// where e_i and a_i are the (smoothed) proportions of the reference and of
// the window in bin i. The bins are cut at the reference quantiles 1/k,
// 2/k, …, (k−1)/k (each the smallest reference value with at least that
// fraction of the reference at or below it), so each bin holds about 1/k
// of the reference; repeated
// quantiles (discrete data) are merged, so Bins may be smaller than
// requested. Bin i holds values v with edge[i−1] < v ≤ edge[i]; values
// below or above the reference range fall in the first or last bin.
//
// Create a PSI with NewPSI (the zero value has no bins). A PSI is
// immutable after NewPSI except for internal scratch used by Score: it is
// not safe for concurrent use.
type PSI struct {
	edges  []float64 // sorted, distinct inner bin edges (len = bins − 1)
	ref    []float64 // smoothed reference proportions per bin
	counts []float64 // scratch for Score
}

// NewPSI builds a PSI with (at most) bins quantile bins of reference. It
// returns an error if reference is empty or holds a non-finite value, or
// if bins < 2. It does not retain reference.
func NewPSI(reference []float64, bins int) (*PSI, error) {
	p := &PSI{}
	if err := p.rebuild(reference, bins, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// rebuild recomputes the bins from reference, reusing p's buffers; sorted
// is scratch of len(reference) (allocated if nil).
func (p *PSI) rebuild(reference []float64, bins int, sorted []float64) error {
	if len(reference) == 0 {
		return fmt.Errorf("drift: PSI reference is empty")
	}
	if bins < 2 {
		return fmt.Errorf("drift: PSI bins = %d, want >= 2", bins)
	}
	for i, v := range reference {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("drift: PSI reference value %d is %v", i, v)
		}
	}
	if sorted == nil {
		sorted = make([]float64, len(reference))
	}
	sorted = sorted[:len(reference)]
	copy(sorted, reference)
	slices.Sort(sorted)
	p.edges = p.edges[:0]
	n := len(sorted)
	for i := 1; i < bins; i++ {
		q := quantileSorted(sorted, float64(i)/float64(bins))
		if len(p.edges) > 0 && q <= p.edges[len(p.edges)-1] {
			continue // repeated quantile: merge the bins
		}
		p.edges = append(p.edges, q)
	}
	k := len(p.edges) + 1
	p.ref = slices.Grow(p.ref[:0], k)[:k]
	p.counts = slices.Grow(p.counts[:0], k)[:k]
	clear(p.ref)
	for _, v := range sorted {
		p.ref[p.bin(v)]++
	}
	smooth(p.ref, float64(n))
	return nil
}

// quantileSorted returns the q-quantile of sorted data as a data value:
// the smallest value with at least a fraction q of the data at or below
// it (the inverted empirical CDF), so bin edges are reference values and
// discrete data gets edges at its own levels.
func quantileSorted(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// bin returns the bin of v: the number of edges strictly below v.
func (p *PSI) bin(v float64) int {
	return sort.SearchFloat64s(p.edges, v)
}

// smooth turns counts over n values into proportions with PSISmoothing
// pseudo-counts.
func smooth(counts []float64, n float64) {
	den := n + PSISmoothing*float64(len(counts))
	for i, c := range counts {
		counts[i] = (c + PSISmoothing) / den
	}
}

// Bins returns the number of bins after merging repeated quantiles.
func (p *PSI) Bins() int { return len(p.edges) + 1 }

// Edges appends the inner bin edges to dst and returns it.
func (p *PSI) Edges(dst []float64) []float64 { return append(dst, p.edges...) }

// Score returns the PSI of window against the reference. NaN values in
// window are skipped; an empty window (or one of only NaN) scores 0. Score
// does not allocate.
func (p *PSI) Score(window []float64) float64 {
	clear(p.counts)
	var n float64
	for _, v := range window {
		if math.IsNaN(v) {
			continue
		}
		p.counts[p.bin(v)]++
		n++
	}
	if n == 0 {
		return 0
	}
	smooth(p.counts, n)
	var psi float64
	for i, a := range p.counts {
		e := p.ref[i]
		psi += (a - e) * math.Log(a/e)
	}
	return psi
}
