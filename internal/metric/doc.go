// Package metric computes streaming binary-classification metrics for
// prequential (test-then-train) evaluation: every metric sees one
// (prediction, label) pair at a time through Update and can report its
// current value at any moment through Value.
//
// Conventions shared by every metric in the package:
//   - p is the predicted probability P(y = 1); y is the label, 0 or 1.
//     Log loss and Brier use y as given (so soft labels in [0, 1] work);
//     accuracy and AUC count an example as positive when y ≥ 0.5.
//   - The decision threshold is 0.5: p ≥ 0.5 predicts class 1. This is the
//     rule an outsider applies to a predictions file to recompute accuracy.
//   - Log loss clips p to [1e-15, 1-1e-15], so one confident mistake costs
//     at most −ln(1e-15) ≈ 34.5 instead of +Inf.
//   - Value returns NaN while a metric is undefined: before the first
//     example, and for AUC while only one class has been seen. A NaN p (a
//     diverged learner) makes log loss and Brier NaN from then on (for
//     cumulative metrics) or while it is in the window; accuracy counts it
//     as predicting class 0 and AUC ranks it below every number.
//
// Three families exist: cumulative (over the whole stream), sliding window
// (over the last W examples, held in a ring buffer) and fading
// (exponentially weighted with factor α: an example k updates old has
// weight α^k). Binary bundles the set the eval command and the continual
// runner report, and Values is its JSON-friendly snapshot.
//
// Invariants:
//   - Update never allocates, except that the cumulative AUC grows its node
//     arena geometrically when it meets a score it has not seen before
//     (amortized O(1); AUC.Grow reserves room up front). Benchmarks and
//     testing.AllocsPerRun tests pin this down.
//   - Metrics are not safe for concurrent use: one goroutine updates them;
//     readers take a Snapshot.
//   - Marshalled state restores exactly: a metric decoded from
//     MarshalBinary and then updated reports bit-for-bit the same values as
//     the original updated with the same examples.
//
// Encoding (part of the checkpoint format): MarshalBinary and AppendBinary
// produce
//
//	magic "PMTR" | version u8 | kind u8 | payload | CRC32C (Castagnoli) u32 LE
//
// where the CRC covers everything before it and the payload is the
// metric's state in little-endian fixed-width fields (float64 as IEEE-754
// bits). UnmarshalBinary refuses a wrong magic, a newer version, another
// kind and a bad checksum. Kinds and payloads are listed in codec.go.
package metric
