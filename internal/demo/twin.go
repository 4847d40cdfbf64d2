package demo

import (
	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// The three regimes the demo compares, as learner names of the in-process
// twin runner.
const (
	nameContinual = "continual"
	nameFrozen    = "frozen"
	nameRetrain   = "retrain"
)

// deepPrefix names the same three regimes of the engine's full wide &
// deep model, run beside the main comparison's wide model for reference.
const deepPrefix = "deep_"

// clock is the simulated calendar the demo's driver advances between
// runner steps. Wrapped learners read it in Learn, which the runner calls
// from the driver's goroutine (Step is synchronous), so no locking is
// needed.
type clock struct {
	day       int // simulated day of the events being processed (0-based)
	freezeDay int // frozen learners stop learning from this day on
}

// sample is one kept labelled example.
type sample struct {
	x feature.Example
	y float64
}

func copyExample(x *feature.Example) feature.Example {
	return feature.Example{
		Dense:   append([]float32(nil), x.Dense...),
		IDs:     append([]uint64(nil), x.IDs...),
		Offsets: append([]int(nil), x.Offsets...),
		Wide:    append([]uint32(nil), x.Wide...),
	}
}

// frozen learns like its base until the clock reaches freezeDay, then
// never again: a model trained on the first days and deployed unchanged.
type frozen struct {
	continual.SparseModel
	clk *clock
}

func (f *frozen) Learn(x *feature.Example, y float64) {
	if f.clk.day < f.clk.freezeDay {
		f.SparseModel.Learn(x, y)
	}
}

// retrain is periodic retraining from scratch: on day 0 it learns online
// (cold start, like the others); at the first example of each later day
// it replaces its model with a fresh one trained for epochs passes over
// the examples of the previous day, and then serves it unchanged for the
// whole day while collecting that day's examples for the next retrain.
type retrain struct {
	continual.SparseModel
	clk     *clock
	newM    func() (continual.SparseModel, error)
	epochs  int
	day     int
	kept    []sample
	retrain int // number of retrains done
}

func (r *retrain) Learn(x *feature.Example, y float64) {
	if r.clk.day > r.day {
		r.rebuild()
		r.day = r.clk.day
	}
	if r.day == 0 {
		r.SparseModel.Learn(x, y)
	}
	r.kept = append(r.kept, sample{copyExample(x), y})
}

// rebuild trains a fresh model on the kept day of examples and swaps it
// in. A model that cannot be built keeps the old one (New returned it
// once already, so this does not happen in practice).
func (r *retrain) rebuild() {
	if len(r.kept) == 0 {
		return
	}
	m, err := r.newM()
	if err != nil {
		return
	}
	for e := 0; e < r.epochs; e++ {
		for i := range r.kept {
			m.Learn(&r.kept[i].x, r.kept[i].y)
		}
	}
	r.SparseModel = m
	r.retrain++
	r.kept = r.kept[:0]
}

// SaveTensors and LoadTensors forward to the current model: a publication
// may copy it through them into a learner built by NewSparse.
func (r *retrain) SaveTensors(s *tensor.Set, prefix string) { r.SparseModel.SaveTensors(s, prefix) }
func (r *retrain) LoadTensors(s *tensor.Set, prefix string) error {
	return r.SparseModel.LoadTensors(s, prefix)
}

// inner unwraps the demo's wrappers down to the deep model.
func inner(m continual.SparseModel) continual.SparseModel {
	for {
		switch w := m.(type) {
		case *frozen:
			m = w.SparseModel
		case *retrain:
			m = w.SparseModel
		case *recording:
			m = w.SparseModel
		default:
			return m
		}
	}
}

// freeze publishes the deep model inside the wrappers copy-on-write.
func freeze(m continual.SparseModel) continual.SparseScorer {
	if d, ok := inner(m).(*deep.Model); ok {
		return d.Freeze()
	}
	return nil
}

// twinLearners returns the learners of the in-process twin: base (the
// main comparison's model) learning continually, frozen after
// clk.freezeDay and retrained daily from scratch, and the same three
// regimes of deepBase under names with deepPrefix. Only base's continual
// learner is recorded for the CL metrics.
func twinLearners(base, deepBase continual.Learner, clk *clock, rec *recorder, epochs int) []continual.Learner {
	regimes := func(b continual.Learner, prefix string, record bool) []continual.Learner {
		return []continual.Learner{
			{Name: prefix + nameContinual, NewSparse: func(s *feature.Schema) (continual.SparseModel, error) {
				m, err := b.NewSparse(s)
				if err != nil || !record {
					return m, err
				}
				rec.newM = func() (continual.SparseModel, error) { return b.NewSparse(s) }
				return &recording{SparseModel: m, rec: rec, clk: clk}, nil
			}, Freeze: freeze},
			{Name: prefix + nameFrozen, NewSparse: func(s *feature.Schema) (continual.SparseModel, error) {
				m, err := b.NewSparse(s)
				if err != nil {
					return nil, err
				}
				return &frozen{SparseModel: m, clk: clk}, nil
			}, Freeze: freeze},
			{Name: prefix + nameRetrain, NewSparse: func(s *feature.Schema) (continual.SparseModel, error) {
				m, err := b.NewSparse(s)
				if err != nil {
					return nil, err
				}
				newM := func() (continual.SparseModel, error) { return b.NewSparse(s) }
				return &retrain{SparseModel: m, clk: clk, newM: newM, epochs: epochs}, nil
			}, Freeze: freeze},
		}
	}
	return append(regimes(base, "", true), regimes(deepBase, deepPrefix, false)...)
}
