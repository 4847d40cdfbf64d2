// Package drift detects changes in streams of numbers: a model's errors,
// its loss, or a feature's values.
//
// Every detector follows one small contract (Detector): Update(v) with
// the next value, then Drift() and Warning() tell what the latest Update
// found, and Reset() forgets everything. Detectors are deterministic,
// allocation-free per Update in steady state, and their state can be saved
// and restored (encoding.BinaryMarshaler / BinaryUnmarshaler).
package drift

// Detector is a streaming change detector. It is not safe for concurrent
// use: it belongs to the goroutine that feeds it.
type Detector interface {
	// Update adds the next value of the stream.
	Update(v float64)
	// Drift reports whether the latest Update detected a change.
	Drift() bool
	// Warning reports whether the latest Update is in the warning zone
	// (a change may be starting). Detectors without a warning zone
	// always return false.
	Warning() bool
	// Reset forgets the stream seen so far, keeping the configuration.
	Reset()
}
