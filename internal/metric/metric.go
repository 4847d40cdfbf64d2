package metric

import (
	"fmt"
	"math"
)

// Defaults used when a window or fading factor is left zero.
const (
	DefaultWindow = 1000
	DefaultFading = 0.999
)

// Clip is the bound log loss clips probabilities to: p ∈ [Clip, 1-Clip].
const Clip = 1e-15

// Threshold is the decision threshold: p ≥ Threshold predicts class 1.
const Threshold = 0.5

// pointLogLoss is the log loss of one prediction (see the package doc).
func pointLogLoss(p, y float64) float64 {
	p = min(max(p, Clip), 1-Clip) // min/max propagate NaN
	switch y {
	case 1:
		return -math.Log(p)
	case 0:
		return -math.Log(1 - p)
	}
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

// correct reports whether p, thresholded at 0.5, predicts y's class.
func correct(p, y float64) bool { return (p >= Threshold) == (y >= Threshold) }

// class returns 1 for a positive label (y ≥ 0.5) and 0 otherwise.
func class(y float64) int {
	if y >= Threshold {
		return 1
	}
	return 0
}

func ratio(num, den float64) float64 {
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// LogLoss is the mean log loss (cross-entropy) over the whole stream.
// The zero value is ready to use.
type LogLoss struct {
	n   uint64
	sum float64
}

// Update adds one prediction p of label y.
func (m *LogLoss) Update(p, y float64) {
	m.n++
	m.sum += pointLogLoss(p, y)
}

// Value returns the mean log loss, or NaN before the first example.
func (m *LogLoss) Value() float64 { return ratio(m.sum, float64(m.n)) }

// N returns the number of examples seen.
func (m *LogLoss) N() uint64 { return m.n }

// Reset forgets every example.
func (m *LogLoss) Reset() { *m = LogLoss{} }

func (m *LogLoss) appendPayload(dst []byte) []byte {
	return appendF64(appendU64(dst, m.n), m.sum)
}

func (m *LogLoss) decodePayload(d *decoder) {
	m.n, m.sum = d.u64(), d.f64()
}

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *LogLoss) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindLogLoss, m.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *LogLoss) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary. On error m is
// unchanged.
func (m *LogLoss) UnmarshalBinary(data []byte) error {
	var v LogLoss
	if err := unmarshal(data, kindLogLoss, v.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}

// Brier is the mean squared error (p − y)² over the whole stream.
// The zero value is ready to use.
type Brier struct {
	n   uint64
	sum float64
}

// Update adds one prediction p of label y.
func (m *Brier) Update(p, y float64) {
	d := p - y
	m.n++
	m.sum += d * d
}

// Value returns the Brier score, or NaN before the first example.
func (m *Brier) Value() float64 { return ratio(m.sum, float64(m.n)) }

// N returns the number of examples seen.
func (m *Brier) N() uint64 { return m.n }

// Reset forgets every example.
func (m *Brier) Reset() { *m = Brier{} }

func (m *Brier) appendPayload(dst []byte) []byte {
	return appendF64(appendU64(dst, m.n), m.sum)
}

func (m *Brier) decodePayload(d *decoder) {
	m.n, m.sum = d.u64(), d.f64()
}

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *Brier) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindBrier, m.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *Brier) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary. On error m is
// unchanged.
func (m *Brier) UnmarshalBinary(data []byte) error {
	var v Brier
	if err := unmarshal(data, kindBrier, v.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}

// Accuracy is the fraction of examples whose class p ≥ 0.5 predicts
// correctly, over the whole stream. The zero value is ready to use.
type Accuracy struct {
	n, correct uint64
}

// Update adds one prediction p of label y.
func (m *Accuracy) Update(p, y float64) {
	m.n++
	if correct(p, y) {
		m.correct++
	}
}

// Value returns the accuracy, or NaN before the first example.
func (m *Accuracy) Value() float64 { return ratio(float64(m.correct), float64(m.n)) }

// N returns the number of examples seen.
func (m *Accuracy) N() uint64 { return m.n }

// Reset forgets every example.
func (m *Accuracy) Reset() { *m = Accuracy{} }

func (m *Accuracy) appendPayload(dst []byte) []byte {
	return appendU64(appendU64(dst, m.n), m.correct)
}

func (m *Accuracy) decodePayload(d *decoder) {
	m.n, m.correct = d.u64(), d.u64()
	if m.correct > m.n {
		d.fail("%d correct out of %d examples", m.correct, m.n)
	}
}

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *Accuracy) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindAccuracy, m.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *Accuracy) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary. On error m is
// unchanged.
func (m *Accuracy) UnmarshalBinary(data []byte) error {
	var v Accuracy
	if err := unmarshal(data, kindAccuracy, v.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}

// fading is an exponentially weighted mean: after values v₁…vₙ it holds
// Σ α^(n−i) vᵢ / Σ α^(n−i).
type fading struct {
	alpha, sum, weight float64
}

func checkAlpha(alpha float64) {
	if !(alpha > 0 && alpha <= 1) {
		panic(fmt.Sprintf("metric: fading factor %v outside (0, 1]", alpha))
	}
}

func (f *fading) add(v float64) {
	a := f.alpha
	if a == 0 {
		a = DefaultFading
		f.alpha = a
	}
	f.sum = a*f.sum + v
	f.weight = a*f.weight + 1
}

func (f *fading) value() float64 { return ratio(f.sum, f.weight) }

func (f *fading) reset() { f.sum, f.weight = 0, 0 }

func (f *fading) appendPayload(dst []byte) []byte {
	return appendF64(appendF64(appendF64(dst, f.alpha), f.sum), f.weight)
}

func (f *fading) decodePayload(d *decoder) {
	f.alpha, f.sum, f.weight = d.f64(), d.f64(), d.f64()
	if d.err == nil && !(f.alpha >= 0 && f.alpha <= 1) { // 0 is the zero value: default
		d.fail("fading factor %v outside (0, 1]", f.alpha)
	}
}

// FadingLogLoss is the exponentially weighted mean log loss: an example
// seen k updates ago has weight α^k. The zero value uses DefaultFading.
type FadingLogLoss struct{ f fading }

// NewFadingLogLoss returns a fading log loss with factor alpha ∈ (0, 1];
// it panics on any other alpha.
func NewFadingLogLoss(alpha float64) *FadingLogLoss {
	checkAlpha(alpha)
	return &FadingLogLoss{fading{alpha: alpha}}
}

// Update adds one prediction p of label y.
func (m *FadingLogLoss) Update(p, y float64) { m.f.add(pointLogLoss(p, y)) }

// Value returns the fading mean log loss, or NaN before the first example.
func (m *FadingLogLoss) Value() float64 { return m.f.value() }

// Reset forgets every example and keeps the factor.
func (m *FadingLogLoss) Reset() { m.f.reset() }

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *FadingLogLoss) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindFadingLogLoss, m.f.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *FadingLogLoss) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary, including the
// factor. On error m is unchanged.
func (m *FadingLogLoss) UnmarshalBinary(data []byte) error {
	var v FadingLogLoss
	if err := unmarshal(data, kindFadingLogLoss, v.f.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}

// FadingAccuracy is the exponentially weighted accuracy: an example seen k
// updates ago has weight α^k. The zero value uses DefaultFading.
type FadingAccuracy struct{ f fading }

// NewFadingAccuracy returns a fading accuracy with factor alpha ∈ (0, 1];
// it panics on any other alpha.
func NewFadingAccuracy(alpha float64) *FadingAccuracy {
	checkAlpha(alpha)
	return &FadingAccuracy{fading{alpha: alpha}}
}

// Update adds one prediction p of label y.
func (m *FadingAccuracy) Update(p, y float64) {
	v := 0.0
	if correct(p, y) {
		v = 1
	}
	m.f.add(v)
}

// Value returns the fading accuracy, or NaN before the first example.
func (m *FadingAccuracy) Value() float64 { return m.f.value() }

// Reset forgets every example and keeps the factor.
func (m *FadingAccuracy) Reset() { m.f.reset() }

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *FadingAccuracy) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindFadingAccuracy, m.f.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *FadingAccuracy) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary, including the
// factor. On error m is unchanged.
func (m *FadingAccuracy) UnmarshalBinary(data []byte) error {
	var v FadingAccuracy
	if err := unmarshal(data, kindFadingAccuracy, v.f.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}

// unmarshal checks the framing of data and decodes its payload with fn.
func unmarshal(data []byte, k kind, fn func(*decoder)) error {
	d, err := openBlob(data, k)
	if err != nil {
		return err
	}
	fn(d)
	return d.finish()
}
