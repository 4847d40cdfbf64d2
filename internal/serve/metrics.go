package serve

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// routeUnmatched is the route label of requests no pattern matched (404,
// 405), so that arbitrary paths never become label values.
const routeUnmatched = "unmatched"

// httpMetrics are the perpetua_http_* series.
type httpMetrics struct {
	requests    *prometheus.CounterVec   // route, code
	duration    *prometheus.HistogramVec // route
	inFlight    prometheus.Gauge
	ready       prometheus.Gauge
	rateLimited prometheus.Counter
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "perpetua", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "perpetua", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from receiving a request to its handler returning, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "perpetua", Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "perpetua", Subsystem: "http", Name: "ready",
			Help: "1 from the start of serving until shutdown begins, else 0. /readyz can still answer 503 while this is 1: Options.Health (a log refusing appends, services replaying the log at start) is not counted here.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "perpetua", Subsystem: "http", Name: "rate_limited_total",
			Help: "Requests refused with 429 because their API key exceeded its rate limit.",
		}),
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.inFlight, err = register(reg, m.inFlight); err != nil {
		return nil, err
	}
	if m.rateLimited, err = register(reg, m.rateLimited); err != nil {
		return nil, err
	}
	if m.ready, err = register(reg, m.ready); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector already
// registered (a second Server on the same registry shares the series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(C); ok {
				return prev, nil
			}
		}
		return c, fmt.Errorf("serve: registering HTTP metrics: %w", err)
	}
	return c, nil
}

// routeMetrics caches the series of one route so that observing a request
// costs no label hashing or allocation after the first request per code.
type routeMetrics struct {
	name     string
	requests *prometheus.CounterVec
	duration prometheus.Observer
	codes    [600]atomic.Pointer[counterRef] // by status code
}

type counterRef struct{ c prometheus.Counter }

func (m *httpMetrics) route(name string) *routeMetrics {
	return &routeMetrics{name: name, requests: m.requests, duration: m.duration.WithLabelValues(name)}
}

func (rm *routeMetrics) observe(code int, d time.Duration) {
	rm.duration.Observe(d.Seconds())
	if code < 100 || code >= len(rm.codes) {
		rm.requests.WithLabelValues(rm.name, strconv.Itoa(code)).Inc()
		return
	}
	ref := rm.codes[code].Load()
	if ref == nil {
		ref = &counterRef{rm.requests.WithLabelValues(rm.name, strconv.Itoa(code))}
		rm.codes[code].Store(ref) // racing stores hold the same counter
	}
	ref.c.Inc()
}
