package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/ingest"
	"github.com/perpetua-ml/perpetua/internal/recommend"
	"github.com/perpetua-ml/perpetua/internal/risk"
	"github.com/perpetua-ml/perpetua/internal/route"
	"github.com/perpetua-ml/perpetua/internal/serve"
	"github.com/perpetua-ml/perpetua/internal/supply"
)

// observer is a shop-facing service fed from the log.
type observer interface {
	observe(e *event.Event) error
}

// follower feeds every event of the log, in order, to the shop-facing
// services (recommendations, supply). Their state is rebuilt from the
// log at start: they keep no checkpoint of their own yet, so a restart
// replays the whole log into them (the learning loop has its own
// checkpoint and does not replay).
type follower struct {
	log       eventlog.Log
	logger    *slog.Logger
	observers []observer
	offset    atomic.Uint64 // next record to apply
	startEnd  atomic.Uint64 // the log's end when Run began: ready once offset reaches it
	drained   atomic.Bool   // the reader found the end of the log once (ready too)
	bad       atomic.Uint64 // events a service refused (counted, skipped)
}

// starting reports, until the services have applied the log as it
// stood when Run began, how far they are.
func (f *follower) starting() error {
	if f.drained.Load() {
		return nil
	}
	if off, end := f.offset.Load(), f.startEnd.Load(); off < end {
		return fmt.Errorf("%w: the services are replaying the log (%d of %d records)", serve.ErrStarting, off, end)
	}
	return nil
}

// run applies the log until ctx is done.
func (f *follower) run(ctx context.Context) error {
	rd, err := f.log.NewReader(f.offset.Load())
	if err != nil {
		return fmt.Errorf("engine: services: %w", err)
	}
	defer rd.Close()
	start := time.Now()
	for {
		rec, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			if !f.drained.Swap(true) {
				f.logger.Info("services caught up with the log", "records", f.offset.Load(), "took", time.Since(start).Round(time.Millisecond))
			}
			if werr := rd.Wait(ctx); werr != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("engine: services: %w", werr)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("engine: services: read log: %w", err)
		}
		e, derr := event.Decode(rec.Data)
		if derr == nil {
			for _, o := range f.observers {
				if err := o.observe(&e); err != nil {
					// A refused event (e.g. feedback for an expired request)
					// changes nothing in that service; the others still see it.
					f.bad.Add(1)
				}
			}
		}
		f.offset.Store(rec.Offset + 1)
	}
}

type recommendObserver struct{ s *recommend.Service }

func (o recommendObserver) observe(e *event.Event) error { return o.s.Observe(e) }

type supplyObserver struct{ s *supply.Service }

func (o supplyObserver) observe(e *event.Event) error { return o.s.Apply(e) }

// dedupeObserver tells ingest the ids of events in the log.
type dedupeObserver struct{ in *ingest.Ingester }

func (o dedupeObserver) observe(e *event.Event) error {
	o.in.Observe(e.ID)
	return nil
}

// riskObserver scores transactions from the log (remembering them for
// their labels) and learns from label events. A transaction scored
// through POST /v1/risk/score is in the log too; its replay is refused
// as a duplicate (already scored), except after a restart, when it
// rebuilds the pending state.
type riskObserver struct {
	s        *risk.Service
	onScored func(*risk.Transaction, *risk.Result) // decisions made from the log, for the dashboard
}

func (o riskObserver) observe(e *event.Event) error {
	switch e.Type {
	case event.TypeTransaction:
		id := e.TransactionID
		if id == "" {
			id = e.ID
		}
		tx := risk.Transaction{TransactionID: id, CustomerID: e.CustomerID, TerminalID: e.TerminalID,
			Amount: e.Amount, Currency: e.Currency, Timestamp: e.Timestamp}
		res, err := o.s.Score(tx)
		if err == nil && o.onScored != nil {
			o.onScored(&tx, &res)
		}
		return err
	case event.TypeLabel:
		if e.Kind != "fraud" && e.Kind != "chargeback" {
			return nil // a label for another service (a delivery, a conversion)
		}
		return o.s.Consume(*e)
	}
	return nil
}

// purchaseScorer ranks recommendation candidates by the published
// purchase model's P(user buys item), plus the online click model that
// learns from feedback (which alone ranks until a model is published).
type purchaseScorer struct {
	runner *continual.Runner
	online *recommend.OnlineScorer
	pairs  []continual.Pair
	probs  []float64
}

func (p *purchaseScorer) Score(req *recommend.Request, cands []recommend.Candidate, dst []float64) {
	p.online.Score(req, cands, dst)
	if p.runner.Published() == nil {
		return
	}
	p.pairs = p.pairs[:0]
	for _, c := range cands {
		p.pairs = append(p.pairs, continual.Pair{UserID: req.UserID, ItemID: c.Item})
	}
	if cap(p.probs) < len(cands) {
		p.probs = make([]float64, len(cands))
	}
	probs := p.probs[:len(cands)]
	if _, _, err := p.runner.ScorePurchase(context.Background(), "", p.pairs, probs); err != nil {
		return
	}
	for i := range dst {
		dst[i] += probs[i]
	}
	clear(p.pairs) // do not keep the request's strings
}

// Learn forwards feedback to the online click model.
func (p *purchaseScorer) Learn(features []float32, position int, reward float64) {
	p.online.Learn(features, position, reward)
}

// serviceRoutes builds the HTTP endpoints of the shop-facing services.
func serviceRoutes(in *ingest.Ingester, rec *recommend.Service, sup *supply.Service, rsk *risk.Service,
	onScored func(*risk.Transaction, *risk.Result), logger *slog.Logger) []serve.Route {
	return []serve.Route{
		{Pattern: "POST /v1/risk/score", Scope: serve.ScopePredict, Handler: serve.JSON(0, logger,
			func(ctx context.Context, tx *risk.Transaction) (risk.Result, error) {
				res, err := rsk.Score(*tx)
				if err != nil {
					return risk.Result{}, riskError(err)
				}
				// The scored transaction goes into the log, so that a restart
				// rebuilds what waits for its label (the id makes a retry a
				// duplicate, not a second transaction).
				ev := event.Event{ID: "risk-" + tx.TransactionID, Type: event.TypeTransaction, Timestamp: tx.Timestamp,
					TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, TerminalID: tx.TerminalID,
					Amount: tx.Amount, Currency: tx.Currency}
				if _, _, err := in.Append(ctx, []event.Event{ev}); err != nil {
					return risk.Result{}, ingestError(err)
				}
				onScored(tx, &res)
				return res, nil
			})},
		{Pattern: "POST /v1/recommend", Scope: serve.ScopePredict, Handler: serve.JSON(0, logger,
			func(ctx context.Context, req *recommend.Request) (*recommend.Response, error) {
				resp, err := rec.Recommend(req)
				if err != nil {
					return nil, recommendError(err)
				}
				// What was shown goes into the log, so the learners and
				// off-policy evaluation see exactly it.
				if _, _, err := in.Append(ctx, []event.Event{resp.Impression}); err != nil {
					return nil, ingestError(err)
				}
				return resp, nil
			})},
		{Pattern: "POST /v1/feedback", Scope: serve.ScopeIngest, Handler: serve.JSON(0, logger,
			func(ctx context.Context, fb *recommend.Feedback) (feedbackReply, error) {
				ev, err := rec.Feedback(fb)
				if err != nil {
					return feedbackReply{}, recommendError(err)
				}
				if _, _, err := in.Append(ctx, []event.Event{ev}); err != nil {
					return feedbackReply{}, ingestError(err)
				}
				return feedbackReply{Accepted: true, EventID: ev.ID}, nil
			})},
		{Pattern: "GET /v1/forecast", Scope: serve.ScopePredict, Handler: serve.Query(logger,
			func(_ context.Context, q url.Values) (supply.ForecastResponse, error) {
				sku := q.Get("sku")
				if sku == "" {
					return supply.ForecastResponse{}, serve.BadRequest(errors.New("sku: required"))
				}
				h := 7
				if v := q.Get("horizon"); v != "" {
					n, err := strconv.Atoi(v)
					if err != nil {
						return supply.ForecastResponse{}, serve.BadRequest(fmt.Errorf("horizon: %q is not an integer", v))
					}
					h = n
				}
				resp, err := sup.Forecast(sku, h)
				return resp, supplyError(err)
			})},
		{Pattern: "GET /v1/replenishment", Scope: serve.ScopePredict, Handler: serve.Query(logger,
			func(_ context.Context, q url.Values) (supply.ReplenishmentResponse, error) {
				sku, wh := q.Get("sku"), q.Get("warehouse")
				if sku == "" || wh == "" {
					return supply.ReplenishmentResponse{}, serve.BadRequest(errors.New("sku and warehouse: required"))
				}
				resp, err := sup.Replenishment(sku, wh)
				return resp, supplyError(err)
			})},
	}
}

// feedbackReply answers POST /v1/feedback.
type feedbackReply struct {
	Accepted bool   `json:"accepted"`
	EventID  string `json:"event_id"`
}

func recommendError(err error) error {
	switch {
	case errors.Is(err, recommend.ErrBadRequest), errors.Is(err, recommend.ErrRewardRange):
		return serve.BadRequest(err)
	case errors.Is(err, recommend.ErrUnknownRequest):
		return serve.NotFound(err)
	case errors.Is(err, recommend.ErrDuplicateFeedback):
		return serve.Conflict(err)
	case errors.Is(err, recommend.ErrItemNotShown):
		return &serve.Error{Code: 422, Err: err}
	case errors.Is(err, recommend.ErrNoCandidates):
		return serve.Unavailable(err)
	}
	return err
}

func riskError(err error) error {
	var fe *risk.FieldError
	switch {
	case errors.As(err, &fe), errors.Is(err, risk.ErrUnsupported):
		return serve.BadRequest(err)
	case errors.Is(err, risk.ErrDuplicate):
		return serve.Conflict(err)
	case errors.Is(err, risk.ErrOutOfOrder), errors.Is(err, risk.ErrUnknownTransaction):
		return &serve.Error{Code: 422, Err: err}
	}
	return err
}

func supplyError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, supply.ErrUnknown):
		return serve.NotFound(err)
	}
	return serve.BadRequest(err)
}

func ingestError(err error) error {
	switch {
	case errors.Is(err, ingest.ErrStopped), errors.Is(err, ingest.ErrBusy), errors.Is(err, ingest.ErrConflict):
		return serve.Unavailable(err)
	}
	return err
}

// travel learns delivery speed factors per zone and hour from delivered
// orders and hands them to the route optimiser. A delivery outcome is
// either an order event whose attrs carry
//
//	"delivery": {"from_lat":…, "from_lon":…, "depart":"RFC 3339", "planned_s":…, "actual_s":…}
//
// (the leg that ended at the order's lat/lon), or a label event of kind
// "delivery" (target_id: the order) whose attrs carry the same object
// plus the leg's end, "to_lat" and "to_lon": a carrier's report that
// does not restate the order. The zone grid is 10 × 10 cells over
// ±0.25° around the first delivery seen.
type travel struct {
	mu    sync.Mutex
	model *route.SpeedModel // nil until the first delivery
}

func (t *travel) observe(e *event.Event) error {
	order := e.Type == event.TypeOrder && e.HasLatLon
	label := e.Type == event.TypeLabel && e.Kind == "delivery"
	if !order && !label || len(e.Attrs) == 0 {
		return nil
	}
	var a struct {
		Delivery *struct {
			FromLat  float64   `json:"from_lat"`
			FromLon  float64   `json:"from_lon"`
			ToLat    *float64  `json:"to_lat"`
			ToLon    *float64  `json:"to_lon"`
			Depart   time.Time `json:"depart"`
			PlannedS float64   `json:"planned_s"`
			ActualS  float64   `json:"actual_s"`
		} `json:"delivery"`
	}
	if err := json.Unmarshal(e.Attrs, &a); err != nil || a.Delivery == nil {
		if label {
			return fmt.Errorf("engine: delivery label %s: attrs need a \"delivery\" object: %v", e.ID, err)
		}
		return nil // attrs of another kind
	}
	d := a.Delivery
	lat, lon := e.Lat, e.Lon
	if label {
		if d.ToLat == nil || d.ToLon == nil {
			return fmt.Errorf("engine: delivery label %s: attrs.delivery needs to_lat and to_lon", e.ID)
		}
		lat, lon = *d.ToLat, *d.ToLon
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.model == nil {
		m, err := route.NewSpeedModel(route.Grid{MinX: lon - 0.25, MaxX: lon + 0.25, MinY: lat - 0.25, MaxY: lat + 0.25, Cols: 10, Rows: 10}, route.SpeedModelOptions{})
		if err != nil {
			return err
		}
		t.model = m
	}
	return t.model.Observe(route.Observation{From: route.Point{X: d.FromLon, Y: d.FromLat}, To: route.Point{X: lon, Y: lat},
		Depart: d.Depart, Planned: time.Duration(d.PlannedS * float64(time.Second)), Actual: time.Duration(d.ActualS * float64(time.Second))})
}

// speedModel returns the learned model, or nil before any delivery
// (straight-line times).
func (t *travel) speedModel() *route.SpeedModel {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.model
}

func routesRoute(t *travel, onPlanned func(*route.OptimizeRequest, *route.OptimizeResponse), logger *slog.Logger) serve.Route {
	return serve.Route{Pattern: "POST /v1/routes/optimize", Scope: serve.ScopePredict, Handler: serve.JSON(1<<20, logger,
		func(ctx context.Context, req *route.OptimizeRequest) (*route.OptimizeResponse, error) {
			resp, err := route.Optimize(ctx, req, t.speedModel())
			if err == nil && onPlanned != nil {
				onPlanned(req, resp)
			}
			switch {
			case errors.Is(err, route.ErrInvalid):
				return nil, serve.BadRequest(err)
			case errors.Is(err, route.ErrNoFeasible):
				return nil, &serve.Error{Code: 422, Err: err}
			}
			return resp, err
		})}
}
