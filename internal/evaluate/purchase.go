package evaluate

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// TaskPurchase names the purchase (CTR) evaluation in results.
const TaskPurchase = "purchase"

// PurchaseSource is a stream of raw CTR records (dataset.CTR satisfies
// it): Next advances, the record's fields are read through feature.Row,
// Label is its 0/1 outcome, Line locates it for errors, Err says what
// stopped Next.
type PurchaseSource interface {
	feature.Row
	Next() bool
	Label() float64
	Line() int
	Err() error
}

// PurchaseModel is the large model as the evaluation drives it
// (deep.Model satisfies it): PredictLearn predicts, then learns, one
// example; SetTime advances its logical clock (embedding admission and
// expiry) to the example's position in the stream.
type PurchaseModel interface {
	PredictLearn(x *feature.Example, y float64) float64
	SetTime(now int64)
}

// PurchaseResult is the outcome of Purchase. It marshals to one JSON object.
type PurchaseResult struct {
	Task        string        `json:"task"`
	Model       string        `json:"model"`
	Format      string        `json:"format"`
	N           int64         `json:"n"`
	Positives   int64         `json:"positives"`
	Metrics     metric.Values `json:"metrics"`
	Calibration []Decile      `json:"calibration"` // by predicted probability, deciles of [0, 1]
	// Skipped counts examples the model refused to learn from (a
	// non-finite loss or gradient); the caller fills it from the model.
	Skipped   int64   `json:"skipped"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

// Decile compares the mean predicted probability with the observed rate
// among the examples whose prediction fell in [Lo, Hi). Empty deciles
// report 0 for both, with N = 0.
type Decile struct {
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	N        int64   `json:"n"`
	Expected float64 `json:"expected"`
	Observed float64 `json:"observed"`
}

// purchaseAUCBins bounds the cumulative AUC's memory on long CTR streams
// (see metric.NewBinaryBinned).
const purchaseAUCBins = 100_000

// Purchase evaluates model prequentially on src: each record is encoded
// with schema (updating its running statistics), predicted, scored and
// learned, in one pass. Options.Predictions and Options.Progress work as
// in Classify; Options.Window and Options.Fading set the metrics.
func Purchase(ctx context.Context, src PurchaseSource, schema *feature.Schema, model PurchaseModel, opts Options) (PurchaseResult, error) {
	if err := opts.validate(); err != nil {
		return PurchaseResult{}, err
	}
	res := PurchaseResult{Task: TaskPurchase, Model: opts.Model}
	m := metric.NewBinaryBinned(opts.Window, opts.Fading, purchaseAUCBins)
	var cal [10]struct {
		n         int64
		sumP, sum float64
	}
	var pw *predWriter
	if opts.Predictions != nil {
		pw = newPredWriter(opts.Predictions)
	}
	if opts.Progress != nil {
		defer opts.Progress.Finish()
	}
	ex := schema.NewExample()
	start := time.Now()
	n := int64(0)
	err := func() error {
		if pw != nil {
			if err := pw.header(); err != nil {
				return err
			}
		}
		for {
			if err := tick(ctx, n, opts.Progress); err != nil {
				return err
			}
			if !src.Next() {
				break
			}
			if err := schema.Encode(ex, src); err != nil {
				return fmt.Errorf("evaluate: line %d: %w", src.Line(), err)
			}
			y := src.Label()
			model.SetTime(n)
			p := model.PredictLearn(ex, y)
			m.Update(p, y)
			b := min(int(p*10), 9)
			cal[b].n++
			cal[b].sumP += p
			cal[b].sum += y
			if y >= metric.Threshold {
				res.Positives++
			}
			if pw != nil {
				if err := pw.row(n, p, y); err != nil {
					return err
				}
			}
			n++
		}
		if err := src.Err(); err != nil {
			return fmt.Errorf("evaluate: after %d examples: %w", n, err)
		}
		return nil
	}()
	if pw != nil {
		if ferr := pw.flush(); err == nil {
			err = ferr
		}
	}
	if opts.Progress != nil {
		opts.Progress.Update(n)
	}
	res.N = n
	res.Metrics = m.Snapshot()
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PerSecond = float64(n) / res.Seconds
	}
	for i, c := range cal {
		d := Decile{Lo: float64(i) / 10, Hi: float64(i+1) / 10, N: c.n}
		if c.n > 0 {
			d.Expected, d.Observed = c.sumP/float64(c.n), c.sum/float64(c.n)
		}
		res.Calibration = append(res.Calibration, d)
	}
	return res, err
}

// WriteText prints the result as a short table for people.
func (r PurchaseResult) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "task\tpurchase (%s, %s)\nexamples\t%d (%d positive)\ntime\t%.3f s (%.0f examples/s)\n",
		r.Model, r.Format, r.N, r.Positives, r.Seconds, r.PerSecond)
	v := r.Metrics
	fmt.Fprintf(tw, "auc\t%.4f\nlog loss\t%.4f\naccuracy\t%.4f\nbrier\t%.4f\n\ncalibration\tn\texpected\tobserved\n",
		v.AUC, v.LogLoss, v.Accuracy, v.Brier)
	for _, d := range r.Calibration {
		if d.N > 0 {
			fmt.Fprintf(tw, "[%.1f, %.1f)\t%d\t%.3f\t%.3f\n", d.Lo, d.Hi, d.N, d.Expected, d.Observed)
		}
	}
	return tw.Flush()
}
