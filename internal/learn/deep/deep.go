package deep

import (
	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/feature"
)

// Model is the online wide & deep CTR model. Build it with New. See the
// package documentation for the model, its invariants and its
// concurrency rules.
type Model struct {
	m *model[float32]
}

// New returns a model for examples encoded by schema, configured by cfg.
// It keeps the schema's description (to check snapshots against) but not
// the schema itself.
func New(schema *feature.Schema, cfg Config) (*Model, error) {
	m, err := newModel[float32](schema, cfg)
	if err != nil {
		return nil, err
	}
	return &Model{m: m}, nil
}

// Predict returns P(y = 1 | x), in [MinProb, 1−MinProb]. It looks IDs up
// without counting a sighting (an ID without a row is embedded with the
// values its row will start from; see the package documentation) and
// changes nothing but scratch buffers. It panics if x
// does not have the schema's shape. It does not allocate once the
// scratch buffers have grown to fit the longest example.
func (m *Model) Predict(x *feature.Example) float64 { return m.m.predict(x) }

// Learn takes one learning step on (x, y): y is 1 for a positive (a
// click, a purchase), 0 for a negative; values in between are soft
// labels. A label outside [0, 1] or NaN is not learned from but counted
// in Stats.Skipped. Learn is PredictLearn without the prediction.
func (m *Model) Learn(x *feature.Example, y float64) { m.m.predictLearn(x, y) }

// PredictLearn returns the prediction for x made before learning from it
// (the prequential score), then learns from (x, y), in one pass: the
// forward pass that scores x is the one its gradients come from. IDs are
// looked up with Table.Lookup at the model's clock, so they are counted
// for admission and an ID admitted by this call is scored with its new
// row.
func (m *Model) PredictLearn(x *feature.Example, y float64) float64 {
	return m.m.predictLearn(x, y)
}

// LearnBatch takes one learning step on a micro-batch: it scores every
// example with the current parameters, accumulates the gradients of the
// mean loss (each embedding row and wide bucket gets the sum of its
// examples' gradients, divided by the batch size), and then runs one
// optimizer step on every parameter touched. Examples with an invalid
// label or a non-finite gradient are skipped (and counted) as in Learn.
// It panics if len(ys) != len(xs).
func (m *Model) LearnBatch(xs []*feature.Example, ys []float64) { m.m.learnBatch(nil, xs, ys) }

// PredictLearnBatch is LearnBatch that also stores each example's
// prediction (made before the batch's update) in ps, which must have
// len(xs) elements.
func (m *Model) PredictLearnBatch(ps []float64, xs []*feature.Example, ys []float64) {
	if len(ps) != len(xs) {
		panic("deep: PredictLearnBatch: len(ps) != len(xs)")
	}
	m.m.learnBatch(ps, xs, ys)
}

// SetTime sets the model's logical clock (event time, or a step count),
// the now of its embedding tables' Lookup: admission, expiry and eviction
// work in its units. The clock should not go backwards.
func (m *Model) SetTime(now int64) { m.m.now = now }

// Time returns the logical clock.
func (m *Model) Time() int64 { return m.m.now }

// Expire removes the embedding rows of IDs not seen within the tables'
// ExpireAfter of the clock, and returns how many it removed. It scans
// every table: call it once per period, not per example.
func (m *Model) Expire() int {
	n := 0
	for _, t := range m.m.tables {
		n += t.Expire(m.m.now)
	}
	return n
}

// Stats returns the model's counters.
func (m *Model) Stats() Stats { return m.m.stats }

// Config returns the configuration with defaults filled in.
func (m *Model) Config() Config { return m.m.config() }

// NumFields returns the number of embedding tables: the schema's sparse
// slots, or 0 without embeddings.
func (m *Model) NumFields() int { return len(m.m.tables) }

// Table returns the embedding table of sparse slot j, to publish a View,
// collect metrics or read statistics. Mutating it other than through the
// model breaks the model's single-writer rule.
func (m *Model) Table(j int) *embed.Table { return m.m.tables[j] }

// NumDense returns the number of dense parameters (MLP weights and
// biases).
func (m *Model) NumDense() int {
	if m.m.net == nil {
		return 0
	}
	return len(m.m.net.p)
}

// Steps returns the number of optimizer steps of the dense parameters.
func (m *Model) Steps() int64 {
	if m.m.net == nil {
		return 0
	}
	return m.m.net.step
}
