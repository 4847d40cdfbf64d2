package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/dashboard"
	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/risk"
	"github.com/perpetua-ml/perpetua/internal/route"
)

// board collects, for the dashboard, what the services see that their
// packages do not keep: the review queue and the flagged transactions'
// outcomes, recommendation clicks, the SKUs seen, and markers
// (promotions, rollbacks).
type board struct {
	mu          sync.Mutex
	queue       []dashboard.Review   // newest last, at most dashboard.MaxQueue
	flagged     map[string]bool      // transaction id → flagged (review or block), awaiting its label
	tp, fp, fn  int64                // flagged fraud, flagged genuine, fraud let through (labelled ones)
	impressions int64                // items shown in recommendations
	clicks      int64                // feedback with a positive reward
	sold        map[string]*skuSales // units sold per SKU (up to maxChartSKUs SKUs), for the forecast charts
	orders      bool                 // order events seen: they, not purchases, are the demand
	today       time.Time            // the day (UTC) of the latest event
	// dayAhead, if set, returns the forecast of sku's units on day, as
	// the supply service makes it now (at that day's first event).
	dayAhead func(sku string, day time.Time) (float64, bool)
	markers  []dashboard.Marker
	drifts   map[string]bool   // drift events already turned into markers
	routes   []dashboard.Route // the last plan of POST /v1/routes/optimize
	truth    slateRing         // the last slates' true quality, from ObserveRecommendTruth
}

// slateRing keeps the true quality of the last len(slots) recommendation
// slates (a ring), for a windowed regret.
type slateRing struct {
	slots          [512]int
	clicks, best   [512]float64
	next, n        int
	sumSlots       int
	sumClk, sumBst float64
}

func (r *slateRing) add(slots int, clicks, best float64) {
	if r.n == len(r.slots) {
		r.sumSlots -= r.slots[r.next]
		r.sumClk -= r.clicks[r.next]
		r.sumBst -= r.best[r.next]
	} else {
		r.n++
	}
	r.slots[r.next], r.clicks[r.next], r.best[r.next] = slots, clicks, best
	r.sumSlots += slots
	r.sumClk += clicks
	r.sumBst += best
	r.next = (r.next + 1) % len(r.slots)
}

// ObserveRecommendTruth records, for the dashboard, the true quality of
// one slate that POST /v1/recommend served, as measured by a caller that
// knows the shopper's true click probabilities (the demo's simulator):
// slots items were shown, with expected clicks clicks (the sum of their
// true click probabilities) where the best slate of the same size would
// have had best. The dashboard's regret is the mean of best − clicks per
// shown item over the last 512 slates. It is a Go API for embedders, not
// an HTTP endpoint: only code holding the Engine can write it. Values
// that are not finite, or slots ≤ 0, are ignored. It is safe for
// concurrent use.
func (e *Engine) ObserveRecommendTruth(slots int, clicks, best float64) {
	if slots <= 0 || math.IsNaN(clicks+best) || math.IsInf(clicks+best, 0) {
		return
	}
	e.board.mu.Lock()
	e.board.truth.add(slots, clicks, best)
	e.board.mu.Unlock()
}

// planned keeps the last route plan for the map (lat/lon requests only).
func (b *board) planned(req *route.OptimizeRequest, resp *route.OptimizeResponse) {
	if req.Depot.Lat == nil || req.Depot.Lon == nil {
		return
	}
	at := map[string]dashboard.LatLon{}
	for _, o := range req.Orders {
		if o.Lat != nil && o.Lon != nil {
			at[o.ID] = dashboard.LatLon{Lat: *o.Lat, Lon: *o.Lon}
		}
	}
	depot := dashboard.LatLon{Lat: *req.Depot.Lat, Lon: *req.Depot.Lon}
	var rs []dashboard.Route
	for _, rp := range resp.Routes {
		r := dashboard.Route{Vehicle: rp.Vehicle, Stops: []dashboard.LatLon{depot}}
		for _, st := range rp.Stops {
			if p, ok := at[st.OrderID]; ok {
				r.Stops = append(r.Stops, p)
			}
		}
		r.Stops = append(r.Stops, depot)
		rs = append(rs, r)
	}
	if len(rs) > dashboard.MaxRoutes {
		rs = rs[:dashboard.MaxRoutes]
	}
	b.mu.Lock()
	b.routes = rs
	b.mu.Unlock()
}

func newBoard() *board {
	return &board{flagged: map[string]bool{}, drifts: map[string]bool{}, sold: map[string]*skuSales{}}
}

// scored records a risk decision made through the API.
func (b *board) scored(tx *risk.Transaction, res *risk.Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	flag := res.Decision != risk.Approve
	if len(b.flagged) < 1_000_000 {
		b.flagged[tx.TransactionID] = flag
	}
	if !flag {
		return
	}
	rv := dashboard.Review{ID: tx.TransactionID, Time: tx.Timestamp, Amount: tx.Amount, Score: res.Score}
	for _, r := range res.Reasons {
		rv.Reasons = append(rv.Reasons, r.Text)
	}
	b.queue = append(b.queue, rv)
	if len(b.queue) > dashboard.MaxQueue {
		b.queue = b.queue[len(b.queue)-dashboard.MaxQueue:]
	}
}

// observe follows the log for labels, feedback and SKUs.
func (b *board) observe(e *event.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e.Type {
	case event.TypeLabel:
		flag, ok := b.flagged[e.TargetID]
		if !ok {
			return nil
		}
		delete(b.flagged, e.TargetID)
		fraud := e.Value >= 0.5
		switch {
		case flag && fraud:
			b.tp++
		case flag:
			b.fp++
		case fraud:
			b.fn++
		}
	case event.TypeFeedback:
		if e.Reward > 0 {
			b.clicks++
		}
	case event.TypeImpression:
		b.impressions += int64(len(e.Items))
	case event.TypeOrder:
		b.advance(e.Timestamp)
		for _, l := range e.Lines {
			b.sell(l.SKU, e.Timestamp, l.Quantity)
		}
		b.orders = true
	case event.TypePurchase:
		if !b.orders { // as the supply service: purchases are demand until orders arrive
			b.advance(e.Timestamp)
			q := e.Quantity
			if q == 0 {
				q = 1
			}
			b.sell(e.ItemID, e.Timestamp, q)
		}
	}
	return nil
}

// advance moves the board's day to at's (UTC) when that is later, and
// then keeps the forecasts made for the new day. Only demand events move
// it, the clock the supply service's daily series follow: other events
// can carry other clocks (an impression the server stamped with the wall
// clock while the shop replays last year's orders), and a day that
// jumped ahead would never begin again for the demand.
func (b *board) advance(at time.Time) {
	if day := at.UTC().Truncate(24 * time.Hour); day.After(b.today) {
		if !b.today.IsZero() {
			b.forecastDay(day)
		}
		b.today = day
	}
}

// skuSales are one SKU's units sold: in all, and per day (UTC) over the
// last 60 days.
type skuSales struct {
	total     float64
	days      map[time.Time]float64
	predicted map[time.Time]float64 // the forecast made for each day as it began
}

// maxChartSKUs bounds the SKUs whose sales the board keeps; the charts
// show the best sellers among them.
const maxChartSKUs = 10_000

func (b *board) sell(sku string, at time.Time, units float64) {
	ss := b.sold[sku]
	if ss == nil {
		if sku == "" || len(b.sold) >= maxChartSKUs {
			return
		}
		ss = &skuSales{days: map[time.Time]float64{}}
		b.sold[sku] = ss
	}
	day := at.UTC().Truncate(24 * time.Hour)
	ss.total += units
	ss.days[day] += units
	if len(ss.days) > 60 {
		for d := range ss.days {
			if d.Before(day.Add(-60 * 24 * time.Hour)) {
				delete(ss.days, d)
			}
		}
	}
}

// forecastDay keeps, for the best sellers, the forecast of day made as
// it begins, to chart against what then sells.
func (b *board) forecastDay(day time.Time) {
	if b.dayAhead == nil {
		return
	}
	for _, sku := range b.bestSellers(20) {
		if v, ok := b.dayAhead(sku, day); ok {
			ss := b.sold[sku]
			if ss.predicted == nil {
				ss.predicted = map[time.Time]float64{}
			}
			ss.predicted[day] = v
			if len(ss.predicted) > 60 {
				for d := range ss.predicted {
					if d.Before(day.Add(-60 * 24 * time.Hour)) {
						delete(ss.predicted, d)
					}
				}
			}
		}
	}
}

// bestSellers returns the n SKUs with the most units sold, most first
// (ties by name): one pass keeping the n best, as the board's lock is
// held.
func (b *board) bestSellers(n int) []string {
	better := func(x, y string) bool { // x before y
		tx, ty := b.sold[x].total, b.sold[y].total
		return tx > ty || tx == ty && x < y
	}
	top := make([]string, 0, n+1)
	for sku := range b.sold {
		if len(top) == n && !better(sku, top[n-1]) {
			continue
		}
		k := len(top)
		for k > 0 && better(sku, top[k-1]) {
			k--
		}
		top = slices.Insert(top, k, sku)
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

func (b *board) mark(kind, learner, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.markers = append(b.markers, dashboard.Marker{Time: time.Now(), Learner: learner, Kind: kind, Detail: detail})
	if len(b.markers) > dashboard.MaxMarkers {
		b.markers = b.markers[len(b.markers)-dashboard.MaxMarkers:]
	}
}

// Snapshot implements dashboard.Source over the engine.
func (e *Engine) Snapshot() dashboard.Snapshot {
	s := dashboard.Snapshot{Time: time.Now()}
	if p := e.runner.Published(); p != nil {
		// Drifts the loop detected become markers at the wall time the
		// dashboard first sees them (the charts run on wall time).
		for _, d := range p.Drifts {
			key := fmt.Sprintf("%s@%d", d.Learner, d.Offset)
			e.board.mu.Lock()
			seen := e.board.drifts[key]
			e.board.drifts[key] = true
			e.board.mu.Unlock()
			if !seen {
				e.board.mark("drift", d.Learner, "log loss changed (ADWIN) at event time "+d.At.UTC().Format("2006-01-02 15:04"))
			}
		}
		for _, m := range p.Models {
			s.Learners = append(s.Learners, dashboard.Learner{Name: m.Name, Task: "purchase", Events: int64(p.Stats.Labelled),
				Metrics: map[string]float64{"logloss": m.Metrics.WindowLogLoss, "auc": m.Metrics.WindowAUC, "accuracy": m.Metrics.WindowAccuracy}})
		}
	}
	champ, pinned, pv := e.runner.Champion()
	if vs, err := e.models.reg.List(context.Background(), purchaseTask); err == nil {
		for _, v := range vs {
			for _, l := range v.Learners {
				mv := dashboard.ModelVersion{Name: l, Version: int(v.Version), PublishedAt: v.Created,
					Champion: pinned == l && pv == v.Version}
				if m, ok := v.Metrics[l]; ok {
					mv.Metrics = map[string]float64{"logloss": m.WindowLogLoss, "auc": m.WindowAUC}
				}
				s.Models = append(s.Models, mv)
			}
		}
	}
	var liveAt time.Time
	if p := e.runner.Published(); p != nil {
		liveAt = p.At
	}
	for _, l := range e.runner.Learners() {
		// Version 0 is the live learner; it is the champion unless a
		// version is pinned.
		s.Models = append(s.Models, dashboard.ModelVersion{Name: l, Version: 0, PublishedAt: liveAt, Champion: pinned == "" && champ == l})
	}
	if len(s.Models) > dashboard.MaxModels {
		s.Models = s.Models[len(s.Models)-dashboard.MaxModels:]
	}

	st := e.risk.Stats()
	b := e.board
	b.mu.Lock()
	s.Markers = append(s.Markers, b.markers...)
	if st.Scored > 0 {
		f := &dashboard.Fraud{Precision: ratio(b.tp, b.tp+b.fp), Recall: ratio(b.tp, b.tp+b.fn)}
		f.Queue = append(f.Queue, b.queue...)
		s.Fraud = f
		s.Learners = append(s.Learners, dashboard.Learner{Name: "risk", Task: "risk", Events: int64(st.Labelled),
			Metrics: map[string]float64{"fraud_rate": ratio(int64(st.Frauds), int64(st.Labelled)), "precision": f.Precision, "recall": f.Recall}})
	}
	if b.impressions > 0 || b.truth.n > 0 {
		s.Recommend = &dashboard.Recommend{CTR: ratio(b.clicks, b.impressions), Regret: math.NaN(), Impressions: b.impressions}
		if t := &b.truth; t.sumSlots > 0 {
			s.Recommend.Regret = (t.sumBst - t.sumClk) / float64(t.sumSlots)
		}
	}
	s.Routes = append(s.Routes, b.routes...)
	skus := b.bestSellers(6)
	actual := map[string][]dashboard.ForecastPoint{}
	for _, sku := range skus {
		ss := b.sold[sku]
		for day, units := range ss.days {
			f, ok := ss.predicted[day]
			if !ok {
				f = math.NaN()
			}
			actual[sku] = append(actual[sku], dashboard.ForecastPoint{Time: day, Actual: units, Forecast: f})
		}
	}
	b.mu.Unlock()
	for _, sku := range skus {
		fc, err := e.supply.Forecast(sku, 7)
		if err != nil {
			continue
		}
		// Units ordered per past day, then the forecast of the next days
		// (the last, open day appears in both).
		f := dashboard.Forecast{SKU: sku, Points: actual[sku]}
		slices.SortFunc(f.Points, func(a, b dashboard.ForecastPoint) int { return a.Time.Compare(b.Time) })
		for _, pt := range fc.Points {
			f.Points = append(f.Points, dashboard.ForecastPoint{Time: pt.Start, Actual: math.NaN(), Forecast: pt.Forecast})
		}
		s.Forecasts = append(s.Forecasts, f)
	}
	return s
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

type boardObserver struct{ b *board }

func (o boardObserver) observe(e *event.Event) error { return o.b.observe(e) }

// runDashboard samples the engine for the dashboard until ctx ends.
func (e *Engine) runDashboard(ctx context.Context) error { return e.dash.Run(ctx) }
