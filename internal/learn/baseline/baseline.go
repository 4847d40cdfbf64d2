// Package baseline holds the reference learners every other learner must
// beat: NoChange predicts the label it saw last, Majority the more frequent
// label so far. On autocorrelated streams such as Elec2 the no-change
// baseline is strong (0.853 accuracy), which is why evaluations always
// print it beside the real models.
//
// Predictions are probabilities: NoChange predicts exactly the last label
// (0 or 1; 0.5 before the first), Majority the running positive rate
// (0.5 before the first example). Both are allocation-free and their state
// round-trips through tensors.
package baseline

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// NoChange predicts the most recent label. The zero value is ready.
type NoChange struct {
	last float64
	seen bool
}

// Predict returns the last label seen, or 0.5 before any.
func (m *NoChange) Predict(x []float32) float64 {
	if !m.seen {
		return 0.5
	}
	return m.last
}

// Learn remembers y (clamped to [0, 1]).
func (m *NoChange) Learn(x []float32, y float64) {
	m.last = min(1, max(0, y))
	m.seen = true
}

// Clone returns an independent copy.
func (m *NoChange) Clone() *NoChange { c := *m; return &c }

// SaveTensors stores the state under prefix.
func (m *NoChange) SaveTensors(s *tensor.Set, prefix string) {
	seen := 0.0
	if m.seen {
		seen = 1
	}
	s.PutF64(prefix+"nochange.state", []int{2}, []float64{m.last, seen})
}

// LoadTensors restores the state saved under prefix.
func (m *NoChange) LoadTensors(s *tensor.Set, prefix string) error {
	v, err := s.F64(prefix+"nochange.state", 2)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if !(v[0] >= 0 && v[0] <= 1) || (v[1] != 0 && v[1] != 1) {
		return fmt.Errorf("baseline: nochange.state %v out of range", v)
	}
	m.last, m.seen = v[0], v[1] == 1
	return nil
}

// Majority predicts the running rate of positive labels. The zero value is ready.
type Majority struct {
	pos, n float64
}

// Predict returns the share of positive labels so far, or 0.5 before any.
func (m *Majority) Predict(x []float32) float64 {
	if m.n == 0 {
		return 0.5
	}
	return m.pos / m.n
}

// Learn counts y (clamped to [0, 1]).
func (m *Majority) Learn(x []float32, y float64) {
	m.pos += min(1, max(0, y))
	m.n++
}

// Clone returns an independent copy.
func (m *Majority) Clone() *Majority { c := *m; return &c }

// SaveTensors stores the state under prefix.
func (m *Majority) SaveTensors(s *tensor.Set, prefix string) {
	s.PutF64(prefix+"majority.counts", []int{2}, []float64{m.pos, m.n})
}

// LoadTensors restores the state saved under prefix.
func (m *Majority) LoadTensors(s *tensor.Set, prefix string) error {
	v, err := s.F64(prefix+"majority.counts", 2)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if !(v[0] >= 0 && v[1] >= v[0]) {
		return fmt.Errorf("baseline: majority.counts %v inconsistent", v)
	}
	m.pos, m.n = v[0], v[1]
	return nil
}
