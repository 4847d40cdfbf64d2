package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a batch is rejected, the values of the "reason" label of
// perpetua_ingest_batches_rejected_total.
const (
	reasonMethod        = "method"          // 405: not POST
	reasonMediaType     = "media_type"      // 415: form/multipart body or unknown Content-Encoding
	reasonTooLarge      = "too_large"       // 413: body over MaxBodyBytes, or batch too large for the log
	reasonTooManyEvents = "too_many_events" // 413: more than MaxEvents events
	reasonRead          = "read_error"      // 400: the body could not be read (or un-gzipped)
	reasonInvalid       = "invalid"         // 400: at least one invalid event
	reasonEmpty         = "empty"           // 400: no events
	reasonConflict      = "conflict"        // 409: an id is being written by another request
	reasonOverloaded    = "overloaded"      // 429: too many batches or bytes in flight
	reasonStopped       = "stopped"         // 503: ingest is shutting down
	reasonAppend        = "append_failed"   // 503: the log append failed
)

var reasons = []string{
	reasonMethod, reasonMediaType, reasonTooLarge, reasonTooManyEvents, reasonRead, reasonInvalid,
	reasonEmpty, reasonConflict, reasonOverloaded, reasonStopped, reasonAppend,
}

type metrics struct {
	accepted   prometheus.Counter
	duplicates prometheus.Counter
	batches    prometheus.Counter
	rejected   *prometheus.CounterVec
	bytes      prometheus.Counter
	appendDur  prometheus.Histogram
	inFlight   prometheus.Gauge
	rebuilt    prometheus.Counter
	skipped    prometheus.Counter
}

// newMetrics creates the metrics and registers them with reg (if not nil).
func newMetrics(reg prometheus.Registerer, dedupeSize func() float64) (*metrics, error) {
	const ns, sub = "perpetua", "ingest"
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_accepted_total",
			Help: "Events appended to the log.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_duplicate_total",
			Help: "Events dropped because their id was already stored (or repeated within the batch).",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "batches_accepted_total",
			Help: "Batches answered 202.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "batches_rejected_total",
			Help: "Batches not accepted, by reason.",
		}, []string{"reason"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "received_bytes_total",
			Help: "Request body bytes read (after gzip decoding).",
		}),
		appendDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "append_duration_seconds",
			Help:    "Latency of the event log Append of one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12), // 100µs … ~6s
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "batches_in_flight",
			Help: "Batches being read, validated or appended.",
		}),
		rebuilt: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rebuild_ids_total",
			Help: "Event ids loaded into the dedupe window from the log by Rebuild.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "rebuild_skipped_records_total",
			Help: "Log records Rebuild could not read an event id from.",
		}),
	}
	for _, r := range reasons {
		m.rejected.WithLabelValues(r) // export zeros
	}
	if reg != nil {
		cs := []prometheus.Collector{m.accepted, m.duplicates, m.batches, m.rejected, m.bytes, m.appendDur,
			m.inFlight, m.rebuilt, m.skipped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: ns, Subsystem: sub, Name: "dedupe_ids",
				Help: "Event ids in the dedupe window.",
			}, dedupeSize)}
		for _, c := range cs {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("ingest: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
