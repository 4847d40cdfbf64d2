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
			schema, err := feature.NewPurchaseSchema(purchaseSchemaSeed, r.cfg.WideBits)
			if err != nil {
				return err
			}
			if err := schema.LoadTensors(set, "purchase_schema."); err != nil {
				return fmt.Errorf("continual: adopt v%d: purchase schema: %w", version, err)
			}
			a.schema = schema
			a.scratch = &sync.Pool{New: func() any { return &sparseScratch{ex: schema.NewExample()} }}
		}
	}
	for _, l := range r.learners {
		pm := PublishedModel{Name: l.Name, Metrics: metrics[l.Name]}
		restore := func() (learn.Snapshotter, error) {
			var m learn.Snapshotter
			var err error
			if l.New != nil {
				m, err = l.New()
			} else {
				m, err = l.NewSparse(a.schema)
			}
			if err != nil {
				return nil, err
			}
			if err := m.LoadTensors(set, l.Name+"."); err != nil {
				return nil, err
			}
			return m, nil
		}
		first, err := restore()
		if err != nil {
			return fmt.Errorf("continual: adopt v%d: learner %q: %w", version, l.Name, err)
		}
		if l.Freeze != nil {
			// One frozen copy serves every call; the restored model is
			// never written again.
			pm.scorer = l.Freeze(first.(SparseModel))
		} else {
			pm.pool = &sync.Pool{New: func() any {
				m, err := restore()
				if err != nil {
					return nil // verified above; only a failed allocation gets here
				}
				return m
			}}
			pm.pool.Put(first)
		}
		a.models = append(a.models, pm)
	}
	r.adopted.Store(a)
	// Republish with the new models; the trainer goroutine's next
	// publication reads r.adopted too, so either order ends with them.
	for {
		p := r.published.Load()
		q := Published{behaviour: r.behaviour, At: time.Now()} // before the first publication: the next one fills in the rest
		if p != nil {
			q = *p
		}
		q.Version++
		q.Models, q.schema, q.scratch = a.models, a.schema, a.scratch
		if r.published.CompareAndSwap(p, &q) {
			return nil
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
