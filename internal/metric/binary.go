package metric

import (
	"encoding/json"
	"fmt"
	"math"
)

// Binary bundles the metrics Perpetua reports for a binary classifier:
// cumulative log loss, accuracy, AUC and Brier score; log loss, accuracy
// and AUC over a sliding window; and fading log loss and accuracy.
// Use NewBinary; the zero value is not usable.
type Binary struct {
	logLoss   LogLoss
	accuracy  Accuracy
	auc       AUC
	brier     Brier
	wLogLoss  WindowLogLoss
	wAccuracy WindowAccuracy
	wAUC      WindowAUC
	fLogLoss  FadingLogLoss
	fAccuracy FadingAccuracy
	// aucBins, when > 0, rounds the scores the cumulative AUC sees to
	// multiples of 1/aucBins, bounding its memory by aucBins+1 nodes.
	aucBins uint64
}

// MaxAUCBins bounds NewBinaryBinned's bins.
const MaxAUCBins = 1 << 24

// NewBinaryBinned is NewBinary for unbounded streams: the cumulative AUC
// sees scores rounded to multiples of 1/bins (ties within a bin count one
// half), so its memory is bounded by bins+1 tree nodes instead of growing
// with every distinct score. With bins = 10,000 the AUC differs from the
// exact one only through pairs scored within 10⁻⁴ of each other. Every
// other metric sees the exact scores. It panics on bins outside
// [1, MaxAUCBins] or on an invalid window or factor.
func NewBinaryBinned(window int, fading float64, bins int) *Binary {
	if bins < 1 || bins > MaxAUCBins {
		panic(fmt.Sprintf("metric: NewBinaryBinned: bins %d outside [1, %d]", bins, MaxAUCBins))
	}
	b := NewBinary(window, fading)
	b.aucBins = uint64(bins)
	return b
}

// NewBinary returns the metric set with the given sliding window size and
// fading factor; zero means DefaultWindow and DefaultFading respectively.
// It panics on a window outside [0, MaxWindow] or a factor outside [0, 1]
// (invalid configuration is the caller's bug; validate it at load time).
func NewBinary(window int, fading float64) *Binary {
	if window == 0 {
		window = DefaultWindow
	}
	if fading == 0 {
		fading = DefaultFading
	}
	return &Binary{
		wLogLoss:  *NewWindowLogLoss(window),
		wAccuracy: *NewWindowAccuracy(window),
		wAUC:      *NewWindowAUC(window),
		fLogLoss:  *NewFadingLogLoss(fading),
		fAccuracy: *NewFadingAccuracy(fading),
	}
}

// Update adds one prediction p = P(y = 1) of label y ∈ {0, 1} to every
// metric. It does not allocate, except as AUC documents.
func (b *Binary) Update(p, y float64) {
	b.logLoss.Update(p, y)
	b.accuracy.Update(p, y)
	if b.aucBins > 0 {
		bins := float64(b.aucBins)
		b.auc.Update(math.Round(p*bins)/bins, y)
	} else {
		b.auc.Update(p, y)
	}
	b.brier.Update(p, y)
	b.wLogLoss.Update(p, y)
	b.wAccuracy.Update(p, y)
	b.wAUC.Update(p, y)
	b.fLogLoss.Update(p, y)
	b.fAccuracy.Update(p, y)
}

// N returns the number of examples seen.
func (b *Binary) N() uint64 { return b.logLoss.N() }

// Window returns the sliding window size.
func (b *Binary) Window() int { return b.wAUC.Window() }

// Fading returns the fading factor.
func (b *Binary) Fading() float64 { return b.fLogLoss.f.alpha }

// Grow reserves room in the cumulative AUC for n more distinct scores.
func (b *Binary) Grow(n int) { b.auc.Grow(n) }

// Reset forgets every example and keeps the window size, fading factor
// and memory.
func (b *Binary) Reset() {
	b.logLoss.Reset()
	b.accuracy.Reset()
	b.auc.Reset()
	b.brier.Reset()
	b.wLogLoss.Reset()
	b.wAccuracy.Reset()
	b.wAUC.Reset()
	b.fLogLoss.Reset()
	b.fAccuracy.Reset()
}

// Snapshot returns the current values of every metric.
func (b *Binary) Snapshot() Values {
	return Values{
		LogLoss:        b.logLoss.Value(),
		Accuracy:       b.accuracy.Value(),
		AUC:            b.auc.Value(),
		Brier:          b.brier.Value(),
		WindowLogLoss:  b.wLogLoss.Value(),
		WindowAccuracy: b.wAccuracy.Value(),
		WindowAUC:      b.wAUC.Value(),
		FadingLogLoss:  b.fLogLoss.Value(),
		FadingAccuracy: b.fAccuracy.Value(),
	}
}

func (b *Binary) appendPayload(dst []byte) []byte {
	dst = b.logLoss.appendPayload(dst)
	dst = b.accuracy.appendPayload(dst)
	dst = b.auc.appendPayload(dst)
	dst = b.brier.appendPayload(dst)
	dst = b.wLogLoss.appendPayload(dst)
	dst = b.wAccuracy.appendPayload(dst)
	dst = b.wAUC.appendPayload(dst)
	dst = b.fLogLoss.f.appendPayload(dst)
	dst = b.fAccuracy.f.appendPayload(dst)
	return appendU64(dst, b.aucBins)
}

func (b *Binary) decodePayload(d *decoder) {
	b.logLoss.decodePayload(d)
	b.accuracy.decodePayload(d)
	b.auc.decodePayload(d)
	b.brier.decodePayload(d)
	b.wLogLoss.decodePayload(d)
	b.wAccuracy.decodePayload(d)
	b.wAUC.decodePayload(d)
	b.fLogLoss.f.decodePayload(d)
	b.fAccuracy.f.decodePayload(d)
	b.aucBins = d.u64()
	if d.err != nil {
		return
	}
	if b.aucBins > MaxAUCBins {
		d.fail("AUC bins %d exceed %d", b.aucBins, MaxAUCBins)
	}
	if b.wLogLoss.Window() != b.wAUC.Window() || b.wAccuracy.Window() != b.wAUC.Window() {
		d.fail("window sizes %d, %d and %d differ", b.wLogLoss.Window(), b.wAccuracy.Window(), b.wAUC.Window())
	}
}

// AppendBinary appends the encoded state of every metric to dst
// (encoding.BinaryAppender).
func (b *Binary) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindBinary, b.appendPayload), nil
}

// MarshalBinary encodes the state of every metric (see the package doc).
func (b *Binary) MarshalBinary() ([]byte, error) { return b.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary, including the
// window size and fading factor. On error b is unchanged.
func (b *Binary) UnmarshalBinary(data []byte) error {
	var v Binary
	if err := unmarshal(data, kindBinary, v.decodePayload); err != nil {
		return err
	}
	*b = v
	return nil
}

// Values is a snapshot of Binary's metrics. A NaN value (undefined: no
// example yet, or a single class for AUC) is written to JSON as null and
// read back from null as NaN.
type Values struct {
	LogLoss        float64 `json:"log_loss"`
	Accuracy       float64 `json:"accuracy"`
	AUC            float64 `json:"auc"`
	Brier          float64 `json:"brier"`
	WindowLogLoss  float64 `json:"window_log_loss"`
	WindowAccuracy float64 `json:"window_accuracy"`
	WindowAUC      float64 `json:"window_auc"`
	FadingLogLoss  float64 `json:"fading_log_loss"`
	FadingAccuracy float64 `json:"fading_accuracy"`
}

// jsonValues mirrors Values with nil standing for NaN (JSON has no NaN).
type jsonValues struct {
	LogLoss        *float64 `json:"log_loss"`
	Accuracy       *float64 `json:"accuracy"`
	AUC            *float64 `json:"auc"`
	Brier          *float64 `json:"brier"`
	WindowLogLoss  *float64 `json:"window_log_loss"`
	WindowAccuracy *float64 `json:"window_accuracy"`
	WindowAUC      *float64 `json:"window_auc"`
	FadingLogLoss  *float64 `json:"fading_log_loss"`
	FadingAccuracy *float64 `json:"fading_accuracy"`
}

func (v *Values) fields() [9]*float64 {
	return [9]*float64{&v.LogLoss, &v.Accuracy, &v.AUC, &v.Brier, &v.WindowLogLoss,
		&v.WindowAccuracy, &v.WindowAUC, &v.FadingLogLoss, &v.FadingAccuracy}
}

func (j *jsonValues) fields() [9]**float64 {
	return [9]**float64{&j.LogLoss, &j.Accuracy, &j.AUC, &j.Brier, &j.WindowLogLoss,
		&j.WindowAccuracy, &j.WindowAUC, &j.FadingLogLoss, &j.FadingAccuracy}
}

// MarshalJSON writes the values as an object, NaN as null. (No metric can
// be infinite: log loss is clipped.)
func (v Values) MarshalJSON() ([]byte, error) {
	var j jsonValues
	jf := j.fields()
	for i, f := range v.fields() {
		if !math.IsNaN(*f) && !math.IsInf(*f, 0) {
			*jf[i] = f
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads an object written by MarshalJSON; null and missing
// keys become NaN.
func (v *Values) UnmarshalJSON(data []byte) error {
	var j jsonValues
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	jf := j.fields()
	for i, f := range v.fields() {
		if p := *jf[i]; p != nil {
			*f = *p
		} else {
			*f = math.NaN()
		}
	}
	return nil
}
