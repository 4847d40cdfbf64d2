package continual

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Published is an immutable view of the runner's models and metrics,
// replaced (never mutated) each time the runner publishes. Serving and
// monitoring read it without locks.
type Published struct {
	Version   uint64    // increases by one per publication
	Offset    uint64    // log offset the models have processed up to
	Watermark time.Time // latest event time seen
	At        time.Time // wall-clock time of publication
	Stats     Stats
	Models    []PublishedModel // in learner order; Models[0] is the champion

	behaviour *feature.Behaviour // the live feature store (read-locked per call)
	schema    *feature.Schema    // a frozen clone of the purchase schema (nil without sparse learners)
	scratch   *sync.Pool         // of *sparseScratch
}

// sparseScratch is one scoring call's encoding buffers.
type sparseScratch struct {
	row feature.PurchaseRow
	ex  *feature.Example
}

// PublishedModel is one learner as published.
type PublishedModel struct {
	Name    string
	Metrics metric.Values
	pool    *sync.Pool   // of private Model or SparseModel copies restored from the published state; callers only Predict
	scorer  SparseScorer // a sparse learner's frozen copy, when it has Freeze (then pool is nil)
}

// Published returns the latest publication, or nil before the first.
func (r *Runner) Published() *Published { return r.published.Load() }

func (r *Runner) publish() {
	r.sincePub = 0
	prev := r.published.Load()
	p := &Published{Offset: r.offset, Watermark: r.watermark, At: time.Now(), Stats: r.stats, Version: 1, behaviour: r.behaviour}
	if prev != nil {
		p.Version = prev.Version + 1
	}
	if r.schema != nil {
		schema := r.schema.Clone()
		p.schema = schema
		p.scratch = &sync.Pool{New: func() any { return &sparseScratch{ex: schema.NewExample()} }}
	}
	for i, m := range r.models {
		l := r.learners[i]
		pm := PublishedModel{Name: m.name, Metrics: m.metrics.Snapshot()}
		if m.sparse != nil && l.Freeze != nil {
			pm.scorer = l.Freeze(m.sparse)
			p.Models = append(p.Models, pm)
			continue
		}
		ts := new(tensor.Set)
		m.snapshotter().SaveTensors(ts, "")
		schema := p.schema
		pm.pool = &sync.Pool{New: func() any {
			var mm learn.Snapshotter
			var err error
			if l.New != nil {
				mm, err = l.New()
			} else {
				mm, err = l.NewSparse(schema)
			}
			if err != nil {
				return nil
			}
			if err := mm.LoadTensors(ts, ""); err != nil {
				return nil
			}
			return mm
		}}
		p.Models = append(p.Models, pm)
	}
	r.published.Store(p)
}

// Pair is one user × item to score.
type Pair struct {
	UserID, ItemID string
}

// ErrNoModel is returned by ScorePurchase before the first publication.
var ErrNoModel = errors.New("continual: no model published yet")

// ScorePurchase writes into dst[i] the probability that pairs[i]'s user
// buys the item, by the champion model (or the named one) as last
// published, with features as of the latest event time. It is safe for
// concurrent use and does not block the trainer: each call borrows a
// private copy of the published model.
func (r *Runner) ScorePurchase(ctx context.Context, model string, pairs []Pair, dst []float64) (*Published, string, error) {
	p := r.published.Load()
	if p == nil || len(p.Models) == 0 {
		return nil, "", ErrNoModel
	}
	if len(dst) < len(pairs) {
		return nil, "", fmt.Errorf("continual: ScorePurchase: len(dst) = %d < %d pairs", len(dst), len(pairs))
	}
	pm := &p.Models[0]
	if model != "" {
		pm = nil
		for i := range p.Models {
			if p.Models[i].Name == model {
				pm = &p.Models[i]
			}
		}
		if pm == nil {
			return nil, "", fmt.Errorf("%w %q", ErrUnknownModel, model)
		}
	}
	var scorer SparseScorer
	var dense Model
	if pm.scorer != nil {
		scorer = pm.scorer
	} else {
		mi := pm.pool.Get()
		if mi == nil {
			return nil, "", fmt.Errorf("continual: model %q could not be restored", pm.Name)
		}
		defer pm.pool.Put(mi)
		switch m := mi.(type) {
		case Model:
			dense = m
		case SparseModel:
			scorer = m
		}
	}
	var x [feature.PurchaseDim]float32
	var sc *sparseScratch
	if scorer != nil {
		sc = p.scratch.Get().(*sparseScratch)
		defer p.scratch.Put(sc)
	}
	for i, pr := range pairs {
		if i%256 == 0 && ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		p.behaviour.Features(x[:], pr.UserID, pr.ItemID, p.Watermark)
		if scorer == nil {
			dst[i] = dense.Predict(x[:])
			continue
		}
		fillRow(&sc.row, pr.UserID, pr.ItemID, p.Watermark, x[:])
		if err := p.schema.Transform(sc.ex, &sc.row); err != nil {
			return nil, "", fmt.Errorf("continual: encode %q × %q: %w", pr.UserID, pr.ItemID, err)
		}
		dst[i] = scorer.Predict(sc.ex)
	}
	return p, pm.Name, nil
}
