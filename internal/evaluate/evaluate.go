// Package evaluate runs prequential (test-then-train) evaluation of online
// learners over a finite stream of labelled examples: the engine behind
// `perpetua eval`.
//
// For every example, in stream order, Classify asks the model for
// p = P(y = 1 | x), scores p against the label, writes the prediction,
// and only then lets the model learn the example; every prediction is
// therefore made on data the model has not seen.
//
// Outputs are designed for outsiders to check: Result marshals to one JSON
// object with the keys task, model, n, window, fading, metrics, seconds and
// per_second; the optional predictions file is a CSV with the header
// "index,prediction,label", one row per example in stream order (index
// from 0), the prediction written with the shortest decimal that parses
// back to exactly the same float64. Recomputing accuracy (prediction ≥ 0.5
// means class 1), log loss or AUC from that file reproduces the reported
// values exactly.
package evaluate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/baseline"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// TaskClassify is Result.Task for binary classification.
const TaskClassify = "classify"

// tick is the loops' periodic work: every checkEvery examples it stops
// on a cancelled ctx and reports progress.
func tick(ctx context.Context, n int64, p Progress) error {
	if n%checkEvery != 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("evaluate: stopped after %d examples: %w", n, err)
	}
	if p != nil && n > 0 {
		p.Update(n)
	}
	return nil
}

// checkEvery is how many examples pass between checks of ctx and progress
// reports.
const checkEvery = 1024

// Source yields labelled examples one at a time; *dataset.CSV implements
// it. Next advances and reports whether an example is available; Example
// returns it (x is only valid until the next call to Next and is not
// retained by Classify); Err reports what stopped Next, nil at a clean end.
type Source interface {
	Next() bool
	Example() (x []float32, y float64)
	Err() error
}

// Progress receives progress reports from the goroutine running Classify:
// Update with the number of examples processed so far, every few thousand
// examples and once at the end, then Finish exactly once. Calls must not
// block for long; they happen on the evaluation loop.
type Progress interface {
	Update(n int64)
	Finish()
}

// Options configures Classify. The zero value means the defaults.
type Options struct {
	// Model names the model in Result.
	Model string
	// Predictions, if not nil, receives the predictions CSV (see the
	// package doc). Classify buffers its writes and flushes before
	// returning.
	Predictions io.Writer
	// Progress, if not nil, receives progress reports.
	Progress Progress
	// Window is the sliding window of the windowed metrics (default
	// metric.DefaultWindow).
	Window int
	// Fading is the factor of the fading metrics, in (0, 1] (default
	// metric.DefaultFading).
	Fading float64
	// Drift, if not nil, is fed each example's 0/1 error (1 when the
	// prediction thresholded at 0.5 is wrong), after the prediction and
	// before learning; the positions where it flags drift are reported in
	// Result.DriftIndices. DriftName names it in the result.
	Drift     Detector
	DriftName string
}

// Detector is the part of a drift detector Classify uses (drift.Detector
// satisfies it). Classify resets it after each alarm, so that one change
// is reported once, not again at every later check while the detector's
// memory still straddles the change.
type Detector interface {
	Update(v float64)
	Drift() bool
	Reset()
}

func (o Options) validate() error {
	if o.Window < 0 || o.Window > metric.MaxWindow {
		return fmt.Errorf("evaluate: Window = %d; want 0 (default) to %d", o.Window, metric.MaxWindow)
	}
	if !(o.Fading >= 0 && o.Fading <= 1) {
		return fmt.Errorf("evaluate: Fading = %v; want 0 (default) or a factor in (0, 1]", o.Fading)
	}
	return nil
}

// Result is the outcome of an evaluation. It marshals to one JSON object.
type Result struct {
	Task      string        `json:"task"`
	Model     string        `json:"model"`
	N         int64         `json:"n"`      // examples evaluated
	Window    int           `json:"window"` // of the window_* metrics
	Fading    float64       `json:"fading"` // factor of the fading_* metrics
	Metrics   metric.Values `json:"metrics"`
	Seconds   float64       `json:"seconds"`    // wall-clock time, reading and writing included
	PerSecond float64       `json:"per_second"` // examples per second
	// Drift names the detector of Options.Drift, and DriftIndices lists
	// the 0-based stream positions of the examples whose error made it
	// flag a drift. Both are omitted without a detector.
	// NoChangeAccuracy is the accuracy of the no-change baseline (predict
	// the previous label) on the same stream, computed alongside: on
	// autocorrelated streams it is the bar a real model must clear.
	NoChangeAccuracy float64 `json:"nochange_accuracy"`
	Drift            string  `json:"drift,omitempty"`
	DriftIndices     []int64 `json:"drift_indices,omitzero"`
}

// Classify evaluates model prequentially on the examples of src: for each
// example it predicts, updates the metrics, writes the prediction row and
// then learns. It stops at the end of src, on a read or write error, or
// when ctx is cancelled (checked every 1024 examples). In every case it
// returns the result over the examples processed so far and flushes the
// predictions written for them; the error says why it stopped early, and
// wraps ctx.Err() or the source's error.
func Classify(ctx context.Context, src Source, model learn.Binary, opts Options) (Result, error) {
	if err := opts.validate(); err != nil {
		return Result{}, err
	}
	m := metric.NewBinary(opts.Window, opts.Fading)
	res := Result{Task: TaskClassify, Model: opts.Model, Window: m.Window(), Fading: m.Fading()}
	if opts.Drift != nil {
		res.Drift = opts.DriftName
		res.DriftIndices = []int64{} // present (empty) when no drift was flagged
	}
	var pw *predWriter
	if opts.Predictions != nil {
		pw = newPredWriter(opts.Predictions)
	}
	if opts.Progress != nil {
		defer opts.Progress.Finish()
	}

	start := time.Now()
	var n int64
	var nochange baseline.NoChange // scored alongside: the bar on autocorrelated streams
	var nochangeAcc metric.Accuracy
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
			x, y := src.Example()
			nochangeAcc.Update(nochange.Predict(x), y)
			nochange.Learn(x, y)
			p := model.Predict(x)
			m.Update(p, y)
			if opts.Drift != nil {
				e := 0.0
				if (p >= metric.Threshold) != (y >= metric.Threshold) {
					e = 1
				}
				opts.Drift.Update(e)
				if opts.Drift.Drift() {
					res.DriftIndices = append(res.DriftIndices, n)
					opts.Drift.Reset()
				}
			}
			if pw != nil {
				if err := pw.row(n, p, y); err != nil {
					return err
				}
			}
			model.Learn(x, y)
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
	if n > 0 {
		res.NoChangeAccuracy = nochangeAcc.Value()
	}
	res.Metrics = m.Snapshot()
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PerSecond = float64(n) / res.Seconds
	}
	return res, err
}

// predWriter writes the predictions CSV without allocating per row.
type predWriter struct {
	w   *bufio.Writer
	buf []byte
}

func newPredWriter(w io.Writer) *predWriter {
	return &predWriter{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 64)}
}

func (p *predWriter) header() error {
	if _, err := p.w.WriteString("index,prediction,label\n"); err != nil {
		return fmt.Errorf("evaluate: writing predictions: %w", err)
	}
	return nil
}

func (p *predWriter) row(i int64, pred, y float64) error {
	b := strconv.AppendInt(p.buf[:0], i, 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, pred, 'g', -1, 64) // shortest exact round trip
	b = append(b, ',')
	b = strconv.AppendFloat(b, y, 'g', -1, 64)
	b = append(b, '\n')
	p.buf = b
	if _, err := p.w.Write(b); err != nil {
		return fmt.Errorf("evaluate: writing predictions (row %d): %w", i, err)
	}
	return nil
}

func (p *predWriter) flush() error {
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("evaluate: writing predictions: %w", err)
	}
	return nil
}
