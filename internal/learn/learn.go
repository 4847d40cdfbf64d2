// Package learn holds the contracts every online learner follows.
//
// Learners follow River's one-at-a-time contract: Predict(x) and
// Learn(x, y) are the only required methods. Everything else (state
// snapshots, resets) is an optional one-method capability checked with a
// type assertion.
//
// Concurrency: a learner is mutated by exactly one goroutine (its trainer).
// Predict does not mutate the model but may use internal scratch buffers,
// so it is not safe to call concurrently with Learn or with another Predict
// on the same value; serving uses Clone to publish an immutable copy.
//
// Ownership: learners never retain the slices passed to them.
package learn

import "github.com/perpetua-ml/perpetua/internal/tensor"

// Binary is an online binary classifier over dense features.
// x must have the length the learner was built for; a different length is
// a programmer error and panics.
type Binary interface {
	// Predict returns P(y = 1 | x) in [0, 1].
	Predict(x []float32) float64
	// Learn updates the model with one example; y is 0 or 1 (values in
	// between are accepted as soft labels).
	Learn(x []float32, y float64)
}

// Snapshotter is implemented by learners whose state can be saved and
// restored. SaveTensors adds the learner's complete state (weights,
// optimizer moments, step counters) to s under names starting with prefix.
// LoadTensors restores it from s into a learner built with the same
// configuration; it returns an error, and leaves the learner unchanged, if
// a tensor is missing or has the wrong shape.
type Snapshotter interface {
	SaveTensors(s *tensor.Set, prefix string)
	LoadTensors(s *tensor.Set, prefix string) error
}

// Cloner is implemented by learners that can produce an independent deep
// copy of themselves (used to publish immutable models to serving).
type Cloner[L any] interface {
	Clone() L
}
