package continual

import (
	"errors"
	"github.com/perpetua-ml/perpetua/internal/embed"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perpetua-ml/perpetua/internal/feature"
)

// PurchaseDim is the number of inputs of the purchase-task learners.
const PurchaseDim = feature.PurchaseDim

// ErrUnknownModel is returned by ScorePurchase for a model name the
// runner does not train.
var ErrUnknownModel = errors.New("continual: unknown model")

// Register adds the runner's metrics (subsystem perpetua_learn_) to reg.
// They are read from the latest publication, so scraping never touches the
// trainer's state.
func (r *Runner) Register(reg prometheus.Registerer) error {
	if err := reg.Register(&collector{r: r}); err != nil {
		return err
	}
	// Sparse learners with embedding tables export their counters, one
	// series per table labelled "learner/field".
	for i := range r.models {
		t, ok := r.models[i].sparse.(tabled)
		if !ok {
			continue
		}
		names := r.schema.SparseNames()
		for j := 0; j < t.NumFields(); j++ {
			if err := reg.Register(embed.NewCollector(r.models[i].name+"/"+names[j], t.Table(j))); err != nil {
				return err
			}
		}
	}
	return nil
}

// tabled is a sparse learner with one embedding table per sparse slot
// (the deep model).
type tabled interface {
	NumFields() int
	Table(j int) *embed.Table
}

var (
	descRecords = prometheus.NewDesc("perpetua_learn_records_total",
		"Log records processed by the purchase-task learning loop.", nil, nil)
	descUndecodable = prometheus.NewDesc("perpetua_learn_undecodable_records_total",
		"Log records skipped because they were not valid events.", nil, nil)
	descExamples = prometheus.NewDesc("perpetua_learn_examples_total",
		"Examples predicted (views), before their label is known.", nil, nil)
	descLabelled = prometheus.NewDesc("perpetua_learn_labelled_total",
		"Examples scored and learned from once their label was known.", nil, nil)
	descPositives = prometheus.NewDesc("perpetua_learn_positive_labels_total",
		"Labelled examples whose outcome was a purchase.", nil, nil)
	descCheckpointFailures = prometheus.NewDesc("perpetua_learn_checkpoint_failures_total",
		"Checkpoints that could not be written (e.g. a full disk) since start; the previous checkpoint stays valid.", nil, nil)
	descOffset = prometheus.NewDesc("perpetua_learn_offset",
		"Next log offset the published models will process.", nil, nil)
	descLag = prometheus.NewDesc("perpetua_learn_lag_records",
		"Log records appended but not yet reflected in the published models.", nil, nil)
	descVersion = prometheus.NewDesc("perpetua_learn_model_version",
		"Version of the latest model publication.", nil, nil)
	descMetric = prometheus.NewDesc("perpetua_learn_prequential",
		"Prequential metric of a learner (scored before it learned each example).",
		[]string{"model", "metric"}, nil)
)

type collector struct{ r *Runner }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descUndecodable, descExamples, descLabelled, descPositives, descCheckpointFailures, descOffset, descLag, descVersion, descMetric} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	p := c.r.published.Load()
	if p == nil {
		return
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descRecords, p.Stats.Records)
	counter(descUndecodable, p.Stats.Undecodable)
	counter(descExamples, p.Stats.Examples)
	counter(descLabelled, p.Stats.Labelled)
	counter(descPositives, p.Stats.Positives)
	counter(descCheckpointFailures, p.Stats.CheckpointFailures)
	ch <- prometheus.MustNewConstMetric(descOffset, prometheus.GaugeValue, float64(p.Offset))
	lag := float64(0)
	if end := c.r.log.End(); end > p.Offset {
		lag = float64(end - p.Offset)
	}
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag)
	ch <- prometheus.MustNewConstMetric(descVersion, prometheus.GaugeValue, float64(p.Version))
	for _, m := range p.Models {
		v := m.Metrics
		for _, kv := range []struct {
			name string
			v    float64
		}{
			{"log_loss", v.LogLoss}, {"accuracy", v.Accuracy}, {"auc", v.AUC}, {"brier", v.Brier},
			{"window_log_loss", v.WindowLogLoss}, {"window_accuracy", v.WindowAccuracy}, {"window_auc", v.WindowAUC},
			{"fading_log_loss", v.FadingLogLoss}, {"fading_accuracy", v.FadingAccuracy},
		} {
			ch <- prometheus.MustNewConstMetric(descMetric, prometheus.GaugeValue, kv.v, m.Name, kv.name)
		}
	}
}
