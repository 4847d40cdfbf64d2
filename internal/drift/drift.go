// Package drift detects changes in streams of numbers: a model's errors,
// its loss, or a feature's values.
//
// Every detector follows one small contract (Detector): Update(v) with
// the next value, then Drift() and Warning() tell what the latest Update
// found, and Reset() forgets everything. Detectors are deterministic,
// allocation-free per Update in steady state, and their state can be saved
// and restored (encoding.BinaryMarshaler / BinaryUnmarshaler).
//
// The detectors follow River's semantics (differences are documented on
// each type):
//
//   - ADWIN, Page-Hinkley and KSWIN watch any numeric stream (a loss, a
//     feature); DDM and EDDM watch 0/1 errors (1 = wrong prediction).
//   - DDM and EDDM have a warning zone; the others never warn.
//   - Page-Hinkley, DDM, EDDM and Window start afresh on the update after
//     a drift; ADWIN keeps the part of its window after the cut and KSWIN
//     its most recent values.
//   - Non-finite values are ignored.
//
// New builds a detector with its defaults from a name (for --drift flags).
// PSI and KSTest compare a window of values with a reference sample, and
// Window turns them into a streaming Detector for feature drift.
//
// Configurations are typed structs whose zero value means River's
// defaults; constructors panic on an invalid configuration (check user
// input with Validate first).
//
// Saved state starts with the magic "PDRF", a version byte and the
// detector kind, and ends with a CRC-32C; the layout is specified in
// docs/formats.md, "Drift detector state", and constants marked "part of
// the on-disk format" must not change without a version bump.
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
