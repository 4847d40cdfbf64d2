package continual

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// adoptedModels are a follower's models: one registry version's learners.
type adoptedModels struct {
	version uint64
	models  []PublishedModel
	schema  *feature.Schema
	scratch *sync.Pool
}

// Bootstrap starts a follower (Config.Follow) from a registry version's
// feature state: features is CheckpointInfo.Features of the checkpoint
// at log offset offset, whose latest event time was watermark. Call it
// before Run.
func (r *Runner) Bootstrap(features []byte, offset uint64, watermark time.Time) error {
	if !r.cfg.Follow {
		return errors.New("continual: Bootstrap is for followers (Config.Follow)")
	}
	if r.running.Load() {
		return errors.New("continual: Bootstrap after Run")
	}
	if end := r.log.End(); offset > end {
		return fmt.Errorf("continual: bootstrap offset %d is beyond the log end %d (another log?)", offset, end)
	}
	b := feature.NewBehaviour(r.cfg.Behaviour)
	if err := b.UnmarshalBinary(features); err != nil {
		return fmt.Errorf("continual: bootstrap features: %w", err)
	}
	r.behaviour, r.offset, r.watermark = b, offset, watermark
	return nil
}

// Adopt makes a follower serve the learners of a registry version: set
// holds their tensors under "NAME." and the purchase schema's under
// "purchase_schema." (a checkpoint's models section); metrics are the
// learners' metrics at publication. Every learner of the runner must be
// in set. The models are restored and checked before they replace the
// previous ones, atomically: a call in flight finishes with the old.
// It is safe to call while Run runs.
func (r *Runner) Adopt(version uint64, set *tensor.Set, metrics map[string]metric.Values) error {
	if !r.cfg.Follow {
		return errors.New("continual: Adopt is for followers (Config.Follow)")
	}
	a := &adoptedModels{version: version}
	for _, l := range r.learners {
		if l.NewSparse != nil && a.schema == nil {
			var err error
			if a.schema, a.scratch, err = r.savedSchema(set); err != nil {
				return fmt.Errorf("continual: adopt v%d: %w", version, err)
			}
		}
	}
	for _, l := range r.learners {
		pm, err := servedFrom(l, a.schema, set, metrics[l.Name])
		if err != nil {
			return fmt.Errorf("continual: adopt v%d: learner %q: %w", version, l.Name, err)
		}
		a.models = append(a.models, pm)
	}
	r.adopted.Store(a)
	// Republish the latest publication with the new models.
	r.publishAdopted(func(prev *Published) *Published {
		q := Published{behaviour: r.behaviour, At: time.Now()} // before the first publication: the next one fills in the rest
		if prev != nil {
			q = *prev
		}
		return &q
	})
	return nil
}

// publishAdopted publishes next(the current publication) with the
// adopted models and the next version number. Adopt (any goroutine) and
// the follower's own publications race: a compare-and-swap loop that
// takes the adopted models anew on each try keeps either from undoing
// the other.
func (r *Runner) publishAdopted(next func(prev *Published) *Published) {
	for {
		prev := r.published.Load()
		p := next(prev)
		p.Version = 1
		if prev != nil {
			p.Version = prev.Version + 1
		}
		if a := r.adopted.Load(); a != nil {
			p.Models, p.schema, p.scratch = a.models, a.schema, a.scratch
		}
		if r.published.CompareAndSwap(prev, p) {
			return
		}
	}
}

// Adopted returns the registry version a follower serves (0: none yet).
func (r *Runner) Adopted() uint64 {
	if a := r.adopted.Load(); a != nil {
		return a.version
	}
	return 0
}

// Follower reports whether the runner is a follower (Config.Follow).
func (r *Runner) Follower() bool { return r.cfg.Follow }

// savedSchema returns the purchase schema with a saved version's running
// stats (its tensors under "purchase_schema.") and a pool of encoding
// buffers for it.
func (r *Runner) savedSchema(set *tensor.Set) (*feature.Schema, *sync.Pool, error) {
	schema, err := feature.NewPurchaseSchema(purchaseSchemaSeed, r.cfg.WideBits)
	if err != nil {
		return nil, nil, err
	}
	if err := schema.LoadTensors(set, "purchase_schema."); err != nil {
		return nil, nil, fmt.Errorf("purchase schema: %w", err)
	}
	return schema, &sync.Pool{New: func() any { return &sparseScratch{ex: schema.NewExample()} }}, nil
}

// restore builds a new model of l (on schema, for a sparse learner) and
// loads its tensors under prefix in set.
func (l Learner) restore(schema *feature.Schema, set *tensor.Set, prefix string) (learn.Snapshotter, error) {
	var m learn.Snapshotter
	var err error
	if l.New != nil {
		m, err = l.New()
	} else {
		m, err = l.NewSparse(schema)
	}
	if err != nil {
		return nil, err
	}
	if err := m.LoadTensors(set, prefix); err != nil {
		return nil, err
	}
	return m, nil
}

// servedFrom restores learner l from a saved version (its tensors under
// "NAME." in set; schema for a sparse learner) into a model that serves
// it: one frozen copy when l has Freeze (the restored model is never
// written again), else a pool of restored copies, one per concurrent
// call. The first restore is checked; on error nothing is built.
func servedFrom(l Learner, schema *feature.Schema, set *tensor.Set, metrics metric.Values) (PublishedModel, error) {
	pm := PublishedModel{Name: l.Name, Metrics: metrics}
	restore := func() (learn.Snapshotter, error) { return l.restore(schema, set, l.Name+".") }
	first, err := restore()
	if err != nil {
		return PublishedModel{}, err
	}
	if l.Freeze != nil {
		pm.scorer = l.Freeze(first.(SparseModel))
		return pm, nil
	}
	pm.pool = &sync.Pool{New: func() any {
		m, err := restore()
		if err != nil {
			return nil // verified above; only a failed allocation gets here
		}
		return m
	}}
	pm.pool.Put(first)
	return pm, nil
}
