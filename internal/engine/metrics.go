package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// logCollector exports the segment log's counters (subsystem perpetua_log_).
type logCollector struct{ l *eventlog.SegmentLog }

func newLogCollector(l *eventlog.SegmentLog) prometheus.Collector { return logCollector{l} }

var (
	descLogAppends  = prometheus.NewDesc("perpetua_log_appends_total", "Non-empty batches appended to the event log.", nil, nil)
	descLogRecords  = prometheus.NewDesc("perpetua_log_records_total", "Records appended to the event log.", nil, nil)
	descLogBytes    = prometheus.NewDesc("perpetua_log_bytes_total", "Bytes written to the event log, framing included.", nil, nil)
	descLogSyncs    = prometheus.NewDesc("perpetua_log_syncs_total", "fsyncs of event log segments.", nil, nil)
	descLogSegments = prometheus.NewDesc("perpetua_log_segments", "Segment files of the event log.", nil, nil)
	descLogEnd      = prometheus.NewDesc("perpetua_log_end_offset", "Offset the next appended record will get.", nil, nil)
	descLogFailed   = prometheus.NewDesc("perpetua_log_failed", "1 while the event log refuses appends after a failed write (restart to recover), else 0.", nil, nil)
)

func (c logCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogAppends, descLogRecords, descLogBytes, descLogSyncs, descLogSegments, descLogEnd, descLogFailed} {
		ch <- d
	}
}

func (c logCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.l.Stats()
	ch <- prometheus.MustNewConstMetric(descLogAppends, prometheus.CounterValue, float64(s.Appends))
	ch <- prometheus.MustNewConstMetric(descLogRecords, prometheus.CounterValue, float64(s.Records))
	ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.CounterValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(descLogSyncs, prometheus.CounterValue, float64(s.Syncs))
	ch <- prometheus.MustNewConstMetric(descLogSegments, prometheus.GaugeValue, float64(s.Segments))
	ch <- prometheus.MustNewConstMetric(descLogEnd, prometheus.GaugeValue, float64(s.End))
	failed := 0.0
	if c.l.Err() != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(descLogFailed, prometheus.GaugeValue, failed)
}
