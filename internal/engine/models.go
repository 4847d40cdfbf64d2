package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/registry"
	"github.com/perpetua-ml/perpetua/internal/serve"
)

// purchaseTask is the registry task of the purchase models.
const purchaseTask = "purchase"

// models ties the registry to the learning loop: every full checkpoint
// becomes a version, and the registry's champion decides what serves.
type models struct {
	reg      *registry.Registry
	runner   *continual.Runner
	logger   *slog.Logger
	onSwap   func(kind, learner, detail string) // told of each promotion and rollback (may be nil)
	features bool                               // publish the feature state with each version (role train)
	pending  chan continual.CheckpointInfo      // the newest checkpoint not yet registered (capacity 1)
	keep     int                                // versions kept by pruning after each new one

	// mu serialises changes of what serves: the API's promotions and
	// rollbacks and the watcher's adoption of other processes' changes.
	mu sync.Mutex
	// champion is the registry champion this process serves (guarded by mu).
	champion registry.Ref
	// failed are versions a follower could not serve, and when (used by
	// the one goroutine that adopts).
	failed map[uint64]time.Time
}

// onCheckpoint hands a full checkpoint to publishLoop (trainer
// goroutine). It never blocks the trainer on the registry, whose store
// may be a network away: if the previous checkpoint is still waiting,
// the newer one replaces it.
func (m *models) onCheckpoint(ci continual.CheckpointInfo) {
	for {
		select {
		case m.pending <- ci:
			return
		default:
		}
		select {
		case <-m.pending: // superseded
		default:
		}
	}
}

// publishLoop registers the checkpoints onCheckpoint hands it as
// versions, and prunes old ones, until ctx is done; then it registers
// the last one waiting (the final checkpoint of a shutdown) and returns.
// A failure is logged: the checkpoint itself is written, and serving
// goes on.
func (m *models) publishLoop(ctx context.Context) error {
	for {
		select {
		case ci := <-m.pending:
			m.register(ctx, ci)
		case <-ctx.Done():
			select {
			case ci := <-m.pending:
				// The final checkpoint of a shutdown: register it still,
				// bounded by the registry's own timeouts.
				m.register(context.WithoutCancel(ctx), ci)
			default:
			}
			return nil
		}
	}
}

func (m *models) register(ctx context.Context, ci continual.CheckpointInfo) {
	in := registry.Input{Learners: m.runner.Learners(), Model: ci.Encoded, LogTo: ci.Offset, Watermark: ci.Watermark, Metrics: ci.Metrics}
	if m.features {
		in.Features = ci.Features
	}
	if _, err := m.reg.Publish(ctx, purchaseTask, in); err != nil {
		m.logger.Error("registering a model version failed", "err", err)
		return
	}
	if _, err := m.reg.Prune(ctx, purchaseTask, m.keep); err != nil {
		m.logger.Error("pruning old model versions failed", "err", err)
	}
}

// bootstrap starts a serving replica (a follower runner) from the
// registry's latest version that has feature state: its features and
// log offset, and its models. Without one the replica rebuilds its
// features from the start of the log and serves once a version appears.
func (m *models) bootstrap(ctx context.Context) error {
	// The trainer prunes old versions meanwhile: a version listed may be
	// gone when read; list again then.
	var vs []registry.Manifest
	for attempt := 0; attempt < 3; attempt++ {
		var err error
		if vs, err = m.reg.List(ctx, purchaseTask); err != nil {
			return err
		}
		pruned := false
		for i := len(vs) - 1; i >= 0; i-- {
			v := vs[i]
			if v.FeaturesFile == "" {
				continue
			}
			f, err := m.reg.Features(ctx, purchaseTask, v.Version)
			if errors.Is(err, registry.ErrNotFound) {
				pruned = true
				break
			}
			if err != nil {
				m.logger.Error("a version's feature state cannot be read; trying an older one", "version", v.Version, "err", err)
				continue
			}
			if err := m.runner.Bootstrap(f, v.LogTo, v.Watermark); err != nil {
				m.logger.Error("a version's feature state cannot be used; trying an older one", "version", v.Version, "err", err)
				continue
			}
			m.logger.Info("replica starts from a registry version", "version", v.Version, "offset", v.LogTo)
			m.adoptLatest(ctx, vs)
			return nil
		}
		if !pruned {
			break
		}
	}
	m.logger.Warn("no registry version with feature state: the replica reads the log from its start")
	m.adoptLatest(ctx, vs)
	return nil
}

// retryFailedAfter is how long a version that could not be served is
// skipped before it is tried again (not downloaded on every check).
const retryFailedAfter = time.Minute

// adoptLatest makes a follower serve the newest version of vs it can
// load, if newer than the one it serves. A version that cannot be loaded
// is logged and skipped for a while: the previous one goes on serving.
// Only one goroutine calls it at a time (bootstrap, then the adopter).
func (m *models) adoptLatest(ctx context.Context, vs []registry.Manifest) {
	for i := len(vs) - 1; i >= 0 && vs[i].Version > m.runner.Adopted(); i-- {
		v := vs[i].Version
		if at, ok := m.failed[v]; ok && time.Since(at) < retryFailedAfter {
			continue
		}
		start := time.Now()
		_, set, err := m.reg.Get(ctx, purchaseTask, v)
		if err == nil {
			err = m.runner.Adopt(v, set, vs[i].Metrics)
		}
		if err == nil {
			m.logger.Info("serving a new model version", "version", v, "bytes", vs[i].Bytes, "took", time.Since(start))
			return
		}
		if m.failed == nil {
			m.failed = map[uint64]time.Time{}
		}
		m.failed[v] = time.Now()
		m.logger.Error("a model version cannot be served; keeping the previous one", "version", v, "err", err, "retry_in", retryFailedAfter)
	}
}

// watch follows the registry's changes made by other processes until ctx
// is done: a replica adopts each new version, and every process applies
// promotions and rollbacks made elsewhere. It reacts to the store's
// change notifications (NATS) and checks every few seconds anyway.
// Adopting a version (loading tens of MB) runs on its own goroutine, so
// that a promotion is applied while a version loads.
func (m *models) watch(ctx context.Context) error {
	watcher, _ := m.reg.Store().(registry.Watcher)
	var changes <-chan string
	subscribe := func() {
		if watcher == nil {
			return
		}
		c, err := watcher.Watch(ctx)
		if err != nil {
			m.logger.Warn("watching the registry failed; polling until it works again", "err", err)
			return
		}
		changes = c
	}
	subscribe()
	kick := make(chan struct{}, 1) // a new version may be there (coalesced)
	var adopter sync.WaitGroup
	if m.runner.Follower() {
		adopter.Add(1)
		go func() { // owned: ends with ctx, waited for below
			defer adopter.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-kick:
				}
				vs, err := m.reg.List(ctx, purchaseTask)
				if err != nil {
					if ctx.Err() == nil { // not the shutdown itself
						m.logger.Error("listing model versions failed", "err", err)
					}
					continue
				}
				m.adoptLatest(ctx, vs)
			}
		}()
	}
	defer adopter.Wait()
	// Notifications do the work; the ticker is a safety net, and the
	// only way without them (a directory store, or while the watch is
	// down: then every second, re-subscribing each time).
	t := time.NewTicker(time.Second)
	defer t.Stop()
	ticks := 0
	for {
		versions := false
		select {
		case <-ctx.Done():
			return nil
		case name, ok := <-changes:
			if !ok {
				changes = nil // the watch ended (a connection problem): poll and re-subscribe
				continue
			}
			if name != "state.json" && !strings.HasSuffix(name, "/manifest.json") {
				continue
			}
			versions = name != "state.json"
		case <-t.C:
			if ticks++; changes != nil && ticks%5 != 0 {
				continue
			}
			if changes == nil {
				subscribe()
			}
			versions = true
		}
		if versions {
			select {
			case kick <- struct{}{}:
			default: // one is pending already
			}
		}
		m.sync(ctx)
	}
}

// sync applies the registry's serving state if another process changed it.
func (m *models) sync(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.reg.Refresh(ctx); err != nil {
		m.logger.Error("reading the registry's serving state failed", "err", err)
		return
	}
	st := m.reg.State(purchaseTask)
	if st.Champion == m.champion || st.Champion.Learner == "" {
		return
	}
	if err := m.apply(ctx, st.Champion); err != nil {
		m.logger.Error("the registry's new champion cannot be served; keeping the current one",
			"learner", st.Champion.Learner, "version", st.Champion.Version, "err", err)
		return
	}
	m.champion = st.Champion
	m.swapped("follow", st.Champion)
}

// apply makes the runner serve ref: a live learner (version 0) or a
// registered version, verified before it serves.
func (m *models) apply(ctx context.Context, ref registry.Ref) error {
	if ref.Version == 0 {
		return m.runner.SetChampion(ref.Learner)
	}
	if m.runner.Adopted() == ref.Version && m.runner.Pin(ref.Learner, ref.Version, nil) == nil {
		return nil // a replica holds it loaded already (unless it adopted a newer one meanwhile)
	}
	_, set, err := m.reg.Get(ctx, purchaseTask, ref.Version)
	if err != nil {
		return err
	}
	return m.runner.Pin(ref.Learner, ref.Version, set)
}

// restore applies the persisted champion at start. A version that cannot
// be loaded (a corrupt file, a learner that no longer exists) is refused
// with an error in the log, and the live default champion serves.
func (m *models) restore(ctx context.Context) {
	st := m.reg.State(purchaseTask)
	if st.Champion.Learner == "" {
		return
	}
	if err := m.apply(ctx, st.Champion); err != nil {
		m.logger.Error("the registry's champion cannot be served; serving the live default instead",
			"learner", st.Champion.Learner, "version", st.Champion.Version, "err", err)
		return
	}
	m.champion = st.Champion
}

// modelsReply answers GET /v1/models and the promote and rollback calls.
type modelsReply struct {
	Task     string                   `json:"task"`
	Champion registry.Ref             `json:"champion"`          // what answers unnamed predictions now
	History  []registry.Ref           `json:"history,omitempty"` // earlier champions, most recent last
	Learners []string                 `json:"learners"`
	Live     map[string]metric.Values `json:"live_metrics,omitempty"` // the live learners' metrics
	Traffic  continual.Traffic        `json:"traffic"`
	Shadow   continual.ShadowStats    `json:"shadow"`
	Versions []registry.Manifest      `json:"versions"`
}

// promoteRequest is the body of POST /v1/models/promote.
type promoteRequest struct {
	Model   string `json:"model"`
	Version uint64 `json:"version"` // 0: the live learner
}

func (m *models) reply(ctx context.Context) (modelsReply, error) {
	vs, err := m.reg.List(ctx, purchaseTask)
	if err != nil {
		return modelsReply{}, err
	}
	st := m.reg.State(purchaseTask)
	champ, pinned, pv := m.runner.Champion()
	r := modelsReply{Task: purchaseTask, Champion: registry.Ref{Learner: champ}, History: st.History,
		Learners: m.runner.Learners(), Versions: vs}
	if pinned != "" {
		r.Champion = registry.Ref{Learner: pinned, Version: pv}
	}
	if p := m.runner.Published(); p != nil {
		r.Live = map[string]metric.Values{}
		for _, pm := range p.Models {
			r.Live[pm.Name] = pm.Metrics
		}
	}
	r.Traffic, r.Shadow = m.runner.Traffic()
	if r.Versions == nil {
		r.Versions = []registry.Manifest{}
	}
	return r, nil
}

func (m *models) routes(logger *slog.Logger) []serve.Route {
	return []serve.Route{
		{Pattern: "GET /v1/models", Scope: serve.ScopeAdmin, Handler: serve.Query(logger,
			func(ctx context.Context, _ url.Values) (modelsReply, error) { return m.reply(ctx) })},
		{Pattern: "POST /v1/models/promote", Scope: serve.ScopeAdmin, Handler: serve.JSON(0, logger,
			func(rctx context.Context, req *promoteRequest) (modelsReply, error) {
				// Once begun, a promotion completes (or is undone) even if
				// the client goes away.
				ctx := context.WithoutCancel(rctx)
				m.mu.Lock()
				defer m.mu.Unlock()
				ref := registry.Ref{Learner: req.Model, Version: req.Version}
				prev := m.champion
				// Load and verify first, then swap atomically, then persist.
				if err := m.apply(ctx, ref); err != nil {
					return modelsReply{}, modelsError(err)
				}
				if _, err := m.reg.Promote(ctx, purchaseTask, ref); err != nil {
					m.undo(ctx, prev)
					return modelsReply{}, modelsError(err)
				}
				m.champion = ref
				m.swapped("promote", ref)
				return m.reply(ctx)
			})},
		{Pattern: "POST /v1/models/traffic", Scope: serve.ScopeAdmin, Handler: serve.JSON(0, logger,
			func(ctx context.Context, t *continual.Traffic) (modelsReply, error) {
				if err := m.runner.SetTraffic(*t); err != nil {
					if errors.Is(err, continual.ErrUnknownModel) {
						return modelsReply{}, serve.NotFound(err)
					}
					return modelsReply{}, serve.BadRequest(err)
				}
				return m.reply(ctx)
			})},
		{Pattern: "POST /v1/models/rollback", Scope: serve.ScopeAdmin, Handler: serve.JSON(0, logger,
			func(rctx context.Context, _ *struct{}) (modelsReply, error) {
				ctx := context.WithoutCancel(rctx) // as for a promotion
				m.mu.Lock()
				defer m.mu.Unlock()
				if _, err := m.reg.Refresh(ctx); err != nil {
					return modelsReply{}, err
				}
				st := m.reg.State(purchaseTask)
				if len(st.History) == 0 {
					return modelsReply{}, serve.Conflict(fmt.Errorf("%w: nothing was promoted before the current champion", registry.ErrNoChampion))
				}
				if err := m.apply(ctx, st.History[len(st.History)-1]); err != nil {
					return modelsReply{}, modelsError(err)
				}
				if _, err := m.reg.Rollback(ctx, purchaseTask); err != nil {
					m.undo(ctx, st.Champion)
					return modelsReply{}, modelsError(err)
				}
				m.champion = st.History[len(st.History)-1]
				m.swapped("rollback", m.champion)
				return m.reply(ctx)
			})},
	}
}

func (m *models) swapped(kind string, ref registry.Ref) {
	if m.onSwap == nil {
		return
	}
	detail := ref.Learner + " live"
	if ref.Version > 0 {
		detail = fmt.Sprintf("%s v%d", ref.Learner, ref.Version)
	}
	m.onSwap(kind, ref.Learner, detail)
}

// undo puts the previous champion back after a failed persist.
func (m *models) undo(ctx context.Context, prev registry.Ref) {
	if prev.Learner == "" {
		prev.Learner = m.runner.Learners()[0]
	}
	if err := m.apply(ctx, prev); err != nil {
		m.logger.Error("restoring the previous champion failed", "err", err)
	}
}

func modelsError(err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, continual.ErrUnknownModel):
		return serve.NotFound(err)
	case errors.Is(err, registry.ErrBadLearner):
		return serve.BadRequest(err)
	case errors.Is(err, registry.ErrCorrupt):
		return &serve.Error{Code: 422, Err: err}
	case errors.Is(err, registry.ErrNoChampion):
		return serve.Conflict(err)
	}
	return err
}
