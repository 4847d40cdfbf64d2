package feature

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// welford holds the running mean and variance of one numeric field
// (Welford's online algorithm: numerically stable in one pass).
type welford struct {
	n    int64   // values seen
	mean float64 // running mean
	m2   float64 // sum of squared deviations from the running mean
}

// add includes x, which must be finite and at most math.MaxFloat32 in
// magnitude, so that no intermediate overflows.
func (w *welford) add(x float64) {
	w.n++
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
}

// std returns the population standard deviation, 0 before two values.
func (w *welford) std() float64 {
	if w.n < 2 || w.m2 <= 0 {
		return 0
	}
	return math.Sqrt(w.m2 / float64(w.n))
}

// z returns x standardised with the current stats and clipped to
// [-clip, clip]; 0 while the standard deviation is 0.
func (w *welford) z(x, clip float64) float64 {
	sd := w.std()
	if sd == 0 {
		return 0
	}
	z := (x - w.mean) / sd
	return max(-clip, min(clip, z))
}

// symlog is sign(x)·log1p(|x|): log1p for counts, extended oddly so that
// the occasional negative value (Criteo's I2 holds -1) stays ordered. For
// |x| ≥ 1, log(1+|x|) is as accurate as math.Log1p (1+|x| rounds by at
// most half an ulp of a number ≥ 2) and several times faster.
func symlog(x float64) float64 {
	a := math.Abs(x)
	var l float64
	if a < 1 {
		l = math.Log1p(a)
	} else {
		l = math.Log(1 + a)
	}
	if x < 0 {
		return -l
	}
	return l
}

// numState classifies a raw numeric value.
type numState uint8

const (
	numOK        numState = iota
	numMissing            // empty or a missing-value token
	numInvalid            // text that is not a decimal number
	numNonFinite          // NaN, ±Inf, or beyond float32 range (after the transform)
)

// parseNumber parses a trimmed numeric field value. It never allocates:
// text that is not made of decimal-number characters is rejected before
// strconv sees it (strconv allocates its error values).
func parseNumber(v string) (float64, numState) {
	if isMissingToken(v) {
		return 0, numMissing
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			if isInfToken(v) {
				return 0, numNonFinite
			}
			return 0, numInvalid
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err == nil:
	case errors.Is(err, strconv.ErrRange) && f != 0:
		return 0, numNonFinite // overflow: ParseFloat returned ±Inf
	case errors.Is(err, strconv.ErrRange):
		// Underflow: f is ±0, a fine value.
	default:
		return 0, numInvalid
	}
	return f, numOK
}

// isMissingToken reports whether a trimmed value means "no value": the
// empty string, "?", or NA, N/A, NaN, null, None (any case).
func isMissingToken(v string) bool {
	switch len(v) {
	case 0:
		return true
	case 1:
		return v[0] == '?'
	case 2, 3, 4:
		return strings.EqualFold(v, "NA") || strings.EqualFold(v, "N/A") ||
			strings.EqualFold(v, "NaN") || strings.EqualFold(v, "null") || strings.EqualFold(v, "None")
	}
	return false
}

// isInfToken reports whether v spells an infinity as strconv accepts it.
func isInfToken(v string) bool {
	if len(v) > 0 && (v[0] == '+' || v[0] == '-') {
		v = v[1:]
	}
	return strings.EqualFold(v, "inf") || strings.EqualFold(v, "infinity")
}
