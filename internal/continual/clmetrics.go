package continual

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// Sample is one labelled example.
type Sample struct {
	X []float32
	Y float64
}

// Segment is one stretch of a stream under one concept: the examples a
// learner trains on, in order, and held-out examples of the same concept
// to test it on.
type Segment struct {
	Name  string
	Train []Sample
	Test  []Sample
}

// CLMatrix holds the continual-learning metrics of Lopez-Paz & Ranzato
// (GEM, 2017) for a stream cut into T segments.
//
// R[i][j] is the accuracy on segment j's test set after training through
// segment i, and Baseline[j] the accuracy of the untrained model on it.
// Then
//
//	ACC = (1/T)·Σ_j R[T-1][j]
//	BWT = (1/(T-1))·Σ_{j<T-1} (R[T-1][j] − R[j][j])   (backward transfer;
//	      negative means forgetting)
//	FWT = (1/(T-1))·Σ_{j>0} (R[j-1][j] − Baseline[j]) (forward transfer)
type CLMatrix struct {
	Segments []string    `json:"segments"`
	R        [][]float64 `json:"r"`
	Baseline []float64   `json:"baseline"`
	ACC      float64     `json:"acc"`
	BWT      float64     `json:"bwt"`
	FWT      float64     `json:"fwt"`
}

// NewCLMatrix computes ACC, BWT and FWT from the accuracy matrix r (T×T,
// T ≥ 2) and the baseline accuracies (T). names may be nil. It copies its
// arguments. Every entry must be a number in [0, 1].
func NewCLMatrix(names []string, r [][]float64, baseline []float64) (*CLMatrix, error) {
	t := len(r)
	if t < 2 {
		return nil, fmt.Errorf("continual: CLMatrix: %d segments; want at least 2", t)
	}
	if len(baseline) != t {
		return nil, fmt.Errorf("continual: CLMatrix: %d baseline accuracies for %d segments", len(baseline), t)
	}
	if names != nil && len(names) != t {
		return nil, fmt.Errorf("continual: CLMatrix: %d names for %d segments", len(names), t)
	}
	m := &CLMatrix{Segments: make([]string, t), R: make([][]float64, t), Baseline: make([]float64, t)}
	for i, row := range r {
		if len(row) != t {
			return nil, fmt.Errorf("continual: CLMatrix: row %d has %d entries; want %d", i, len(row), t)
		}
		for j, v := range row {
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("continual: CLMatrix: R[%d][%d] = %v; want an accuracy in [0, 1]", i, j, v)
			}
		}
		m.R[i] = append([]float64(nil), row...)
	}
	for j, v := range baseline {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("continual: CLMatrix: Baseline[%d] = %v; want an accuracy in [0, 1]", j, v)
		}
	}
	copy(m.Baseline, baseline)
	for i := range m.Segments {
		if names != nil {
			m.Segments[i] = names[i]
		} else {
			m.Segments[i] = fmt.Sprint(i)
		}
	}
	last := m.R[t-1]
	for j := range t {
		m.ACC += last[j]
		if j < t-1 {
			m.BWT += last[j] - m.R[j][j]
		}
		if j > 0 {
			m.FWT += m.R[j-1][j] - m.Baseline[j]
		}
	}
	m.ACC /= float64(t)
	m.BWT /= float64(t - 1)
	m.FWT /= float64(t - 1)
	return m, nil
}

// JSON returns the matrix as indented JSON.
func (m *CLMatrix) JSON() ([]byte, error) { return json.MarshalIndent(m, "", "  ") }

// String formats the matrix as a table for people.
func (m *CLMatrix) String() string {
	s := "after \\ on"
	for _, n := range m.Segments {
		s += fmt.Sprintf("  %7s", n)
	}
	s += "\n"
	for i, row := range m.R {
		s += fmt.Sprintf("%-10s", m.Segments[i])
		for _, v := range row {
			s += fmt.Sprintf("  %7.4f", v)
		}
		s += "\n"
	}
	s += fmt.Sprintf("%-10s", "untrained")
	for _, v := range m.Baseline {
		s += fmt.Sprintf("  %7.4f", v)
	}
	return s + fmt.Sprintf("\nACC %.4f  BWT %+.4f  FWT %+.4f", m.ACC, m.BWT, m.FWT)
}

// EvaluateCL trains one learner from newLearner through the segments in
// order, one example at a time, and measures after each segment its
// accuracy on every segment's test set (a prediction p ≥ 0.5 means class
// 1, a label y ≥ 0.5 is class 1, as in package metric). The baseline is
// the accuracy of a second, untrained learner from newLearner, so
// newLearner must build identical learners each call (same seed).
func EvaluateCL(newLearner func() learn.Binary, segs []Segment) (*CLMatrix, error) {
	if newLearner == nil {
		return nil, errors.New("continual: EvaluateCL: nil learner constructor")
	}
	t := len(segs)
	if t < 2 {
		return nil, fmt.Errorf("continual: EvaluateCL: %d segments; want at least 2", t)
	}
	names := make([]string, t)
	for j, s := range segs {
		if len(s.Test) == 0 {
			return nil, fmt.Errorf("continual: EvaluateCL: segment %d (%q) has no test examples", j, s.Name)
		}
		names[j] = s.Name
		if names[j] == "" {
			names[j] = fmt.Sprint(j)
		}
	}
	untrained := newLearner()
	base := make([]float64, t)
	for j, s := range segs {
		base[j] = testAccuracy(untrained, s.Test)
	}
	l := newLearner()
	r := make([][]float64, t)
	for i, s := range segs {
		for _, e := range s.Train {
			l.Learn(e.X, e.Y)
		}
		r[i] = make([]float64, t)
		for j, sj := range segs {
			r[i][j] = testAccuracy(l, sj.Test)
		}
	}
	return NewCLMatrix(names, r, base)
}

// accuracy returns the fraction of test examples l classifies correctly.
func testAccuracy(l learn.Binary, test []Sample) float64 {
	hit := 0
	for _, e := range test {
		// A NaN prediction counts as class 0, as in package metric.
		if (l.Predict(e.X) >= metric.Threshold) == (e.Y >= metric.Threshold) {
			hit++
		}
	}
	return float64(hit) / float64(len(test))
}
