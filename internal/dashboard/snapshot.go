package dashboard

import (
	"encoding/json"
	"math"
	"time"
)

// Caps on what one retained Snapshot may hold; the Recorder clips longer
// lists (keeping the newest markers, the first of everything else) so a
// chatty Source cannot grow memory or page weight without bound.
const (
	MaxMarkers   = 500  // Snapshot.Markers (newest kept)
	MaxQueue     = 100  // Fraud.Queue
	MaxForecasts = 12   // Snapshot.Forecasts
	MaxPoints    = 1000 // points per forecast or per route
	MaxRoutes    = 50   // Snapshot.Routes
	MaxModels    = 200  // Snapshot.Models
	MaxLearners  = 64   // Snapshot.Learners
)

// Source is what the dashboard shows; the engine implements it.
//
// The Recorder calls Snapshot from one goroutine at a time (Run's, once
// per interval, or a caller of Recorder.Sample), so it need not be safe
// for concurrent use with itself, but it runs concurrently with the
// engine's own work and must synchronise with it. It should be quick (it is called on the sampling path) and must not
// block. The returned Snapshot is retained by the Recorder: its slices and
// maps must be fresh (or immutable) and must not be modified afterwards.
type Source interface {
	Snapshot() Snapshot
}

// SourceFunc adapts a function to Source.
type SourceFunc func() Snapshot

// Snapshot implements Source.
func (f SourceFunc) Snapshot() Snapshot { return f() }

// Snapshot is the state of the engine at one moment. Every field but Time
// is optional: a nil or empty section renders as "no data yet".
type Snapshot struct {
	// Time is the clock of this snapshot and of every time inside it
	// (wall clock for serve, simulated time for the demo). Zero means
	// "now" by the wall clock.
	Time time.Time `json:"time"`
	// Learners holds each learner's prequential metrics.
	Learners []Learner `json:"learners,omitempty"`
	// Markers are drift and adaptation events, oldest first; the chart of
	// a learner draws those whose Learner matches its name (an empty
	// Learner marks every chart).
	Markers []Marker `json:"markers,omitempty"`
	// Models lists model versions; the table offers promote and rollback.
	Models []ModelVersion `json:"models,omitempty"`
	// Recommend is the recommender's click-through rate and regret.
	Recommend *Recommend `json:"recommend,omitempty"`
	// Fraud is the fraud model's precision and its review queue.
	Fraud *Fraud `json:"fraud,omitempty"`
	// Forecasts are forecasts against actuals for a few SKUs.
	Forecasts []Forecast `json:"forecasts,omitempty"`
	// Routes are delivery routes as sequences of coordinates.
	Routes []Route `json:"routes,omitempty"`
}

// Learner is one learner's current prequential (test-then-train) metrics.
type Learner struct {
	// Name identifies the learner, e.g. "purchase" or "purchase/frozen".
	Name string `json:"name"`
	// Task is what it learns: "purchase", "risk", "forecast", "recommend"…
	Task string `json:"task,omitempty"`
	// Events is how many labelled events it has been evaluated on.
	Events int64 `json:"events,omitempty"`
	// Metrics maps a metric name ("logloss", "auc", "accuracy", "mae"…) to
	// its windowed value. Non-finite values are dropped.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Marker is a drift detection, an adaptation or any other event worth a
// vertical line on a learner's chart.
type Marker struct {
	Time    time.Time `json:"time"`
	Learner string    `json:"learner,omitempty"`
	// Kind is a short word: "drift", "warning", "adapt", "promote"…
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
}

// ModelVersion is one published version of a model.
type ModelVersion struct {
	Name        string    `json:"name"`
	Version     int       `json:"version"`
	PublishedAt time.Time `json:"published_at"`
	Champion    bool      `json:"champion"`
	// Metrics are optional figures shown beside the version (non-finite
	// values are dropped).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Recommend is the recommender's online quality. NaN means unknown.
type Recommend struct {
	CTR         float64 `json:"ctr"`
	Regret      float64 `json:"regret"`
	Impressions int64   `json:"impressions,omitempty"`
}

// Fraud is the fraud model's precision and the transactions it holds for
// review. NaN means unknown.
type Fraud struct {
	Precision float64  `json:"precision"`
	Recall    float64  `json:"recall"`
	Queue     []Review `json:"queue,omitempty"`
}

// Review is one transaction waiting in the fraud review queue.
type Review struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Amount  float64   `json:"amount"`
	Score   float64   `json:"score"`
	Reasons []string  `json:"reasons,omitempty"`
}

// Forecast is one SKU's forecast against its actual demand.
type Forecast struct {
	SKU    string          `json:"sku"`
	Points []ForecastPoint `json:"points"`
}

// ForecastPoint is one period of a Forecast. Actual is NaN for periods not
// yet observed; Forecast is NaN for periods not forecast.
type ForecastPoint struct {
	Time     time.Time `json:"time"`
	Actual   float64   `json:"actual"`
	Forecast float64   `json:"forecast"`
}

// Route is one vehicle's route; Stops are visited in order.
type Route struct {
	Vehicle string   `json:"vehicle"`
	Stops   []LatLon `json:"stops"`
}

// LatLon is a point on the earth in degrees.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// num is a float64 that encodes non-finite values as JSON null.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// MarshalJSON encodes non-finite values as null.
func (r Recommend) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		CTR         num   `json:"ctr"`
		Regret      num   `json:"regret"`
		Impressions int64 `json:"impressions,omitempty"`
	}{num(r.CTR), num(r.Regret), r.Impressions})
}

// MarshalJSON encodes non-finite values as null.
func (f Fraud) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Precision num      `json:"precision"`
		Recall    num      `json:"recall"`
		Queue     []Review `json:"queue,omitempty"`
	}{num(f.Precision), num(f.Recall), f.Queue})
}

// MarshalJSON encodes non-finite values as null.
func (r Review) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID      string    `json:"id"`
		Time    time.Time `json:"time"`
		Amount  num       `json:"amount"`
		Score   num       `json:"score"`
		Reasons []string  `json:"reasons,omitempty"`
	}{r.ID, r.Time, num(r.Amount), num(r.Score), r.Reasons})
}

// MarshalJSON encodes non-finite values as null.
func (p ForecastPoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Time     time.Time `json:"time"`
		Actual   num       `json:"actual"`
		Forecast num       `json:"forecast"`
	}{p.Time, num(p.Actual), num(p.Forecast)})
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// finiteMap returns m without its non-finite entries, copying only when
// something must go.
func finiteMap(m map[string]float64) map[string]float64 {
	for _, v := range m {
		if !finite(v) {
			out := make(map[string]float64, len(m))
			for k, v := range m {
				if finite(v) {
					out[k] = v
				}
			}
			return out
		}
	}
	return m
}

// clip returns s cut to at most n elements, keeping the first.
func clip[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n:n]
	}
	return s
}

// clean returns s with its lists clipped to the caps, non-finite map
// entries and route points dropped, and a zero Time replaced by now. It
// never modifies what s points to: changed slices are copied.
func clean(s Snapshot, now time.Time) Snapshot {
	if s.Time.IsZero() {
		s.Time = now
	}
	s.Learners = clip(s.Learners, MaxLearners)
	if needsCopy(s.Learners, func(l Learner) bool { return len(finiteMap(l.Metrics)) != len(l.Metrics) }) {
		ls := make([]Learner, len(s.Learners))
		for i, l := range s.Learners {
			l.Metrics = finiteMap(l.Metrics)
			ls[i] = l
		}
		s.Learners = ls
	}
	if len(s.Markers) > MaxMarkers {
		s.Markers = s.Markers[len(s.Markers)-MaxMarkers:]
	}
	s.Models = clip(s.Models, MaxModels)
	if needsCopy(s.Models, func(m ModelVersion) bool { return len(finiteMap(m.Metrics)) != len(m.Metrics) }) {
		ms := make([]ModelVersion, len(s.Models))
		for i, m := range s.Models {
			m.Metrics = finiteMap(m.Metrics)
			ms[i] = m
		}
		s.Models = ms
	}
	if s.Fraud != nil && len(s.Fraud.Queue) > MaxQueue {
		f := *s.Fraud
		f.Queue = clip(f.Queue, MaxQueue)
		s.Fraud = &f
	}
	s.Forecasts = clip(s.Forecasts, MaxForecasts)
	if needsCopy(s.Forecasts, func(f Forecast) bool { return len(f.Points) > MaxPoints }) {
		fs := make([]Forecast, len(s.Forecasts))
		for i, f := range s.Forecasts {
			// Keep the newest periods: the end of a forecast is where the
			// future is.
			if len(f.Points) > MaxPoints {
				f.Points = f.Points[len(f.Points)-MaxPoints:]
			}
			fs[i] = f
		}
		s.Forecasts = fs
	}
	s.Routes = clip(s.Routes, MaxRoutes)
	if needsCopy(s.Routes, func(r Route) bool { return len(r.Stops) > MaxPoints || !allFinite(r.Stops) }) {
		rs := make([]Route, len(s.Routes))
		for i, r := range s.Routes {
			stops := make([]LatLon, 0, min(len(r.Stops), MaxPoints))
			for _, p := range r.Stops {
				if len(stops) < MaxPoints && finite(p.Lat) && finite(p.Lon) {
					stops = append(stops, p)
				}
			}
			r.Stops = stops
			rs[i] = r
		}
		s.Routes = rs
	}
	return s
}

func needsCopy[T any](s []T, bad func(T) bool) bool {
	for _, v := range s {
		if bad(v) {
			return true
		}
	}
	return false
}

func allFinite(ps []LatLon) bool {
	for _, p := range ps {
		if !finite(p.Lat) || !finite(p.Lon) {
			return false
		}
	}
	return true
}
