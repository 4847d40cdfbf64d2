package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

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
	reg    *registry.Registry
	runner *continual.Runner
	logger *slog.Logger
	onSwap func(kind, learner, detail string) // told of each promotion and rollback (may be nil)
}

// onCheckpoint registers a version (trainer goroutine). A failure is
// logged: the checkpoint itself is written, and serving goes on.
func (m *models) onCheckpoint(ci continual.CheckpointInfo) {
	if _, err := m.reg.Register(purchaseTask, m.runner.Learners(), ci.Encoded, ci.Offset, ci.Watermark, ci.Metrics); err != nil {
		m.logger.Error("registering a model version failed", "err", err)
	}
}

// apply makes the runner serve ref: a live learner (version 0) or a
// registered version, verified before it serves.
func (m *models) apply(ref registry.Ref) error {
	if ref.Version == 0 {
		return m.runner.SetChampion(ref.Learner)
	}
	_, set, err := m.reg.Get(purchaseTask, ref.Version)
	if err != nil {
		return err
	}
	return m.runner.Pin(ref.Learner, ref.Version, set)
}

// restore applies the persisted champion at start. A version that cannot
// be loaded (a corrupt file, a learner that no longer exists) is refused
// with an error in the log, and the live default champion serves.
func (m *models) restore() {
	st := m.reg.State(purchaseTask)
	if st.Champion.Learner == "" {
		return
	}
	if err := m.apply(st.Champion); err != nil {
		m.logger.Error("the registry's champion cannot be served; serving the live default instead",
			"learner", st.Champion.Learner, "version", st.Champion.Version, "err", err)
	}
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

func (m *models) reply() (modelsReply, error) {
	vs, err := m.reg.List(purchaseTask)
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
			func(context.Context, url.Values) (modelsReply, error) { return m.reply() })},
		{Pattern: "POST /v1/models/promote", Scope: serve.ScopeAdmin, Handler: serve.JSON(0, logger,
			func(_ context.Context, req *promoteRequest) (modelsReply, error) {
				ref := registry.Ref{Learner: req.Model, Version: req.Version}
				prev := m.reg.State(purchaseTask).Champion
				// Load and verify first, then swap atomically, then persist.
				if err := m.apply(ref); err != nil {
					return modelsReply{}, modelsError(err)
				}
				if _, err := m.reg.Promote(purchaseTask, ref); err != nil {
					m.undo(prev)
					return modelsReply{}, modelsError(err)
				}
				m.swapped("promote", ref)
				return m.reply()
			})},
		{Pattern: "POST /v1/models/traffic", Scope: serve.ScopeAdmin, Handler: serve.JSON(0, logger,
			func(_ context.Context, t *continual.Traffic) (modelsReply, error) {
				if err := m.runner.SetTraffic(*t); err != nil {
					if errors.Is(err, continual.ErrUnknownModel) {
						return modelsReply{}, serve.NotFound(err)
					}
					return modelsReply{}, serve.BadRequest(err)
				}
				return m.reply()
			})},
		{Pattern: "POST /v1/models/rollback", Scope: serve.ScopeAdmin, Handler: serve.JSON(0, logger,
			func(_ context.Context, _ *struct{}) (modelsReply, error) {
				st := m.reg.State(purchaseTask)
				if len(st.History) == 0 {
					return modelsReply{}, serve.Conflict(fmt.Errorf("%w: nothing was promoted before the current champion", registry.ErrNoChampion))
				}
				if err := m.apply(st.History[len(st.History)-1]); err != nil {
					return modelsReply{}, modelsError(err)
				}
				if _, err := m.reg.Rollback(purchaseTask); err != nil {
					m.undo(st.Champion)
					return modelsReply{}, modelsError(err)
				}
				m.swapped("rollback", st.History[len(st.History)-1])
				return m.reply()
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
func (m *models) undo(prev registry.Ref) {
	if prev.Learner == "" {
		prev.Learner = m.runner.Learners()[0]
	}
	if err := m.apply(prev); err != nil {
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
