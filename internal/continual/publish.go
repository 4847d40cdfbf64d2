package continual

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perpetua-ml/perpetua/internal/feature"
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
	Drifts    []DriftEvent     // the latest changes detected in the learners' log loss, oldest first

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
	p := &Published{Offset: r.offset, Watermark: r.watermark, At: time.Now(), Stats: r.stats, Version: 1, behaviour: r.behaviour,
		Drifts: slices.Clone(r.drifts)}
	if prev != nil {
		p.Version = prev.Version + 1
	}
	if r.cfg.Follow {
		r.publishAdopted(func(*Published) *Published { return p })
		return
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
			mm, err := l.restore(schema, ts, "")
			if err != nil {
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
// buys the item, by the serving champion (see ScorePurchaseBy) or the
// named live model, and returns the publication and the model's name.
func (r *Runner) ScorePurchase(ctx context.Context, model string, pairs []Pair, dst []float64) (*Published, string, error) {
	p := r.published.Load()
	by, err := r.ScorePurchaseBy(ctx, model, pairs, dst)
	if err != nil {
		return nil, "", err
	}
	return p, by.Model, nil
}

// Served says which model answered a scoring call.
type Served struct {
	Model string
	// Version is the publication's version for a live model, or the
	// registry version of a pinned one.
	Version uint64
	Pinned  bool
}

// serving is what answers unnamed scoring calls: the champion learner
// (live, as last published) or a pinned older version. It is replaced,
// never mutated, so a swap never shows a half-loaded model: a call in
// flight finishes with the state it started with.
type serving struct {
	champion string // a learner name; "" means the first learner
	pinned   *pinnedModel
	traffic  Traffic
}

// Traffic sends part of the unnamed scoring calls to a challenger: a
// canary serves a share of them, a shadow scores every one of them
// without serving (its answers are compared with the served ones and
// counted in ShadowStats). Both are live learners.
type Traffic struct {
	Canary      string  `json:"canary,omitempty"`
	CanaryShare float64 `json:"canary_share,omitempty"` // in [0, 1]
	Shadow      string  `json:"shadow,omitempty"`
}

// ShadowStats compares the shadow's answers with the served ones.
type ShadowStats struct {
	Learner string  `json:"learner"`
	Pairs   uint64  `json:"pairs"`
	MeanAbs float64 `json:"mean_abs_difference"` // mean |p_shadow − p_served|
	Canary  uint64  `json:"canary_calls"`        // calls the canary answered
}

// shadowCounters accumulate ShadowStats (atomics: scoring calls race).
type shadowCounters struct {
	pairs, canary atomic.Uint64
	absMicro      atomic.Uint64 // Σ |diff| in millionths
}

type pinnedModel struct {
	model   PublishedModel
	version uint64
	schema  *feature.Schema // the version's purchase schema stats (sparse learners)
	scratch *sync.Pool
}

// ScorePurchaseBy writes into dst[i] the probability that pairs[i]'s user
// buys the item, with features as of the latest event time, and says who
// answered. With model "" the answer comes from the pinned version if one
// is pinned (Pin), else from the champion learner (SetChampion; by
// default the first learner) as last published; with a learner's name,
// from that learner as last published. It is safe for concurrent use and
// does not block the trainer: each call borrows a private copy of the
// model.
func (r *Runner) ScorePurchaseBy(ctx context.Context, model string, pairs []Pair, dst []float64) (Served, error) {
	p := r.published.Load()
	if p == nil || len(p.Models) == 0 {
		return Served{}, ErrNoModel
	}
	if len(dst) < len(pairs) {
		return Served{}, fmt.Errorf("continual: ScorePurchase: len(dst) = %d < %d pairs", len(dst), len(pairs))
	}
	sv := r.serving.Load()
	unnamed := model == ""
	if unnamed && sv != nil && sv.traffic.Canary != "" && sv.traffic.CanaryShare > 0 && rand.Float64() < sv.traffic.CanaryShare {
		model = sv.traffic.Canary
		r.shadow.canary.Add(1)
	}
	if unnamed && sv != nil && sv.traffic.Shadow != "" {
		defer r.scoreShadow(ctx, p, sv.traffic.Shadow, pairs, dst)
	}
	if model == "" && sv != nil && sv.pinned != nil {
		pin := sv.pinned
		err := scorePairs(ctx, p, &pin.model, pin.schema, pin.scratch, pairs, dst)
		return Served{Model: pin.model.Name, Version: pin.version, Pinned: true}, err
	}
	if model == "" && sv != nil {
		model = sv.champion
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
			return Served{}, fmt.Errorf("%w %q", ErrUnknownModel, model)
		}
	}
	err := scorePairs(ctx, p, pm, p.schema, p.scratch, pairs, dst)
	return Served{Model: pm.Name, Version: p.Version}, err
}

// scoreShadow scores pairs with the shadow learner and counts how far
// its answers are from the served ones in served.
func (r *Runner) scoreShadow(ctx context.Context, p *Published, name string, pairs []Pair, served []float64) {
	for i := range p.Models {
		if p.Models[i].Name != name {
			continue
		}
		buf := shadowBufs.Get().(*[]float64)
		if cap(*buf) < len(pairs) {
			*buf = make([]float64, len(pairs))
		}
		out := (*buf)[:len(pairs)]
		if scorePairs(ctx, p, &p.Models[i], p.schema, p.scratch, pairs, out) == nil {
			var sum float64
			for k := range out {
				sum += math.Abs(out[k] - served[k])
			}
			r.shadow.pairs.Add(uint64(len(pairs)))
			r.shadow.absMicro.Add(uint64(sum * 1e6))
		}
		shadowBufs.Put(buf)
		return
	}
}

var shadowBufs = sync.Pool{New: func() any { return new([]float64) }}

// SetTraffic sets the canary and the shadow (names of live learners; ""
// for none) and resets ShadowStats. It takes effect atomically.
func (r *Runner) SetTraffic(t Traffic) error {
	for _, n := range []string{t.Canary, t.Shadow} {
		if n != "" && !slices.Contains(r.Learners(), n) {
			return fmt.Errorf("%w %q", ErrUnknownModel, n)
		}
	}
	if !(t.CanaryShare >= 0 && t.CanaryShare <= 1) {
		return fmt.Errorf("continual: canary share %v: want a fraction in [0, 1]", t.CanaryShare)
	}
	r.shadow.pairs.Store(0)
	r.shadow.absMicro.Store(0)
	r.shadow.canary.Store(0)
	r.updateServing(func(sv serving) serving { sv.traffic = t; return sv })
	return nil
}

// updateServing replaces what serves with change applied to it: a
// compare-and-swap loop, so that concurrent changes (a promotion and a
// traffic change) do not undo each other.
func (r *Runner) updateServing(change func(serving) serving) {
	for {
		old := r.serving.Load()
		var sv serving
		if old != nil {
			sv = *old
		}
		sv = change(sv)
		if r.serving.CompareAndSwap(old, &sv) {
			return
		}
	}
}

// Traffic returns the canary and shadow settings and the shadow's stats.
func (r *Runner) Traffic() (Traffic, ShadowStats) {
	var t Traffic
	if sv := r.serving.Load(); sv != nil {
		t = sv.traffic
	}
	st := ShadowStats{Learner: t.Shadow, Pairs: r.shadow.pairs.Load(), Canary: r.shadow.canary.Load()}
	if st.Pairs > 0 {
		st.MeanAbs = float64(r.shadow.absMicro.Load()) / 1e6 / float64(st.Pairs)
	}
	return t, st
}

func scorePairs(ctx context.Context, p *Published, pm *PublishedModel, schema *feature.Schema, scratch *sync.Pool, pairs []Pair, dst []float64) error {
	var scorer SparseScorer
	var dense Model
	if pm.scorer != nil {
		scorer = pm.scorer
	} else {
		mi := pm.pool.Get()
		if mi == nil {
			return fmt.Errorf("continual: model %q could not be restored", pm.Name)
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
		sc = scratch.Get().(*sparseScratch)
		defer scratch.Put(sc)
	}
	for i, pr := range pairs {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		p.behaviour.Features(x[:], pr.UserID, pr.ItemID, p.Watermark)
		if scorer == nil {
			dst[i] = dense.Predict(x[:])
			continue
		}
		fillRow(&sc.row, pr.UserID, pr.ItemID, p.Watermark, x[:])
		if err := schema.Transform(sc.ex, &sc.row); err != nil {
			return fmt.Errorf("continual: encode %q × %q: %w", pr.UserID, pr.ItemID, err)
		}
		dst[i] = scorer.Predict(sc.ex)
	}
	return nil
}

// Learners returns the learners' names, in order.
func (r *Runner) Learners() []string {
	out := make([]string, len(r.learners))
	for i, l := range r.learners {
		out[i] = l.Name
	}
	return out
}

// Champion returns the learner that answers unnamed scoring calls when
// no version is pinned, and the pinned version (model, version) if any.
func (r *Runner) Champion() (champion string, pinnedModel string, pinnedVersion uint64) {
	champion = r.learners[0].Name
	sv := r.serving.Load()
	if sv == nil {
		return champion, "", 0
	}
	if sv.champion != "" {
		champion = sv.champion
	}
	if sv.pinned != nil {
		return champion, sv.pinned.model.Name, sv.pinned.version
	}
	return champion, "", 0
}

// SetChampion makes learner name answer unnamed scoring calls (live, as
// last published) and unpins any pinned version. It takes effect
// atomically: calls in flight finish with the previous model.
func (r *Runner) SetChampion(name string) error {
	if !slices.Contains(r.Learners(), name) {
		return fmt.Errorf("%w %q", ErrUnknownModel, name)
	}
	r.updateServing(func(sv serving) serving { return serving{champion: name, traffic: sv.traffic} })
	return nil
}

// Pin makes a saved version of learner name answer unnamed scoring calls:
// set holds its tensors under "NAME." (and, for a sparse learner, the
// purchase schema's under "purchase_schema."), as a checkpoint's models
// section does. The version is restored and checked before the swap; on
// error nothing changes. Features stay live (the latest behaviour).
func (r *Runner) Pin(name string, version uint64, set *tensor.Set) error {
	idx := slices.Index(r.Learners(), name)
	if idx < 0 {
		return fmt.Errorf("%w %q", ErrUnknownModel, name)
	}
	l := r.learners[idx]
	pin := &pinnedModel{version: version, model: PublishedModel{Name: name}}
	if a := r.adopted.Load(); a != nil && a.version == version && a.models[idx].Name == name {
		// A follower already serves this version: share its loaded model.
		pin.model.pool, pin.model.scorer = a.models[idx].pool, a.models[idx].scorer
		pin.schema, pin.scratch = a.schema, a.scratch
	} else if err := r.loadPin(pin, l, set); err != nil {
		return err
	}
	r.updateServing(func(sv serving) serving { sv.pinned = pin; return sv })
	return nil
}

// loadPin restores pin's model from set.
func (r *Runner) loadPin(pin *pinnedModel, l Learner, set *tensor.Set) error {
	name, version := l.Name, pin.version
	if set == nil {
		return fmt.Errorf("continual: pin %s v%d: no tensors", name, version)
	}
	if l.NewSparse != nil {
		var err error
		if pin.schema, pin.scratch, err = r.savedSchema(set); err != nil {
			return fmt.Errorf("continual: pin %s v%d: %w", name, version, err)
		}
	}
	pm, err := servedFrom(l, pin.schema, set, metric.Values{})
	if err != nil {
		return fmt.Errorf("continual: pin %s v%d: %w", name, version, err)
	}
	pin.model = pm
	return nil
}
