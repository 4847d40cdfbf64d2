package evaluate

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
)

// WriteText writes r for humans: a header and a short table of the
// metrics (cumulative, over the sliding window, fading); "-" marks a
// metric not tracked in that form and "n/a" an undefined one (AUC while
// only one class has been seen).
func (r Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	model := r.Model
	if model == "" {
		model = "-"
	}
	fmt.Fprintf(tw, "task\t%s\n", r.Task)
	fmt.Fprintf(tw, "model\t%s\n", model)
	fmt.Fprintf(tw, "examples\t%d\n", r.N)
	fmt.Fprintf(tw, "time\t%.3f s (%s examples/s)\n", r.Seconds, strconv.FormatFloat(math.Round(r.PerSecond), 'f', -1, 64))
	fmt.Fprintf(tw, "\t\n")
	fmt.Fprintf(tw, "metric\tcumulative\twindow (%d)\tfading (%s)\n", r.Window, strconv.FormatFloat(r.Fading, 'g', -1, 64))
	v := r.Metrics
	none := math.Inf(1) // marks "not tracked"
	for _, row := range []struct {
		name   string
		values [3]float64
	}{
		{"log loss", [3]float64{v.LogLoss, v.WindowLogLoss, v.FadingLogLoss}},
		{"accuracy", [3]float64{v.Accuracy, v.WindowAccuracy, v.FadingAccuracy}},
		{"auc", [3]float64{v.AUC, v.WindowAUC, none}},
		{"brier", [3]float64{v.Brier, none, none}},
	} {
		fmt.Fprintf(tw, "%s", row.name)
		for _, x := range row.values {
			switch {
			case math.IsInf(x, 1):
				fmt.Fprintf(tw, "\t-")
			case math.IsNaN(x):
				fmt.Fprintf(tw, "\tn/a")
			default:
				fmt.Fprintf(tw, "\t%.4f", x)
			}
		}
		fmt.Fprintf(tw, "\n")
	}
	fmt.Fprintf(tw, "\t\n")
	fmt.Fprintf(tw, "baseline\tno-change accuracy %.4f (predicting the previous label)\n", r.NoChangeAccuracy)
	if r.Drift != "" {
		fmt.Fprintf(tw, "drift\t%s flagged %d times at %v\n", r.Drift, len(r.DriftIndices), r.DriftIndices)
	}
	return tw.Flush()
}

// NopProgress returns a Progress that ignores every report (Options.Progress
// may also simply be nil).
func NopProgress() Progress { return nopProgress{} }

type nopProgress struct{}

func (nopProgress) Update(int64) {}
func (nopProgress) Finish()      {}

// NewProgressBar returns a Progress drawing a progress bar on w (meant for
// a terminal's stderr) for total examples; total ≤ 0 means unknown, shown
// as a spinner with a count. It redraws at most ten times a second, starts
// no goroutine, and ends its line on Finish. Drawing errors are ignored:
// the bar is cosmetic.
func NewProgressBar(w io.Writer, total int64) Progress {
	if total <= 0 {
		total = -1
	}
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("evaluating"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("examples"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetSpinnerChangeInterval(0), // no background goroutine
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	return &bar{b: b, total: total}
}

type bar struct {
	b           *progressbar.ProgressBar
	total, last int64
	finished    bool
}

func (p *bar) Update(n int64) {
	p.last = n
	_ = p.b.Set64(n)
}

// Finish completes the bar, or, if the run stopped short of a known
// total, leaves it where it stopped.
func (p *bar) Finish() {
	if p.finished {
		return
	}
	p.finished = true
	if p.total > 0 && p.last < p.total {
		_ = p.b.Exit()
		return
	}
	_ = p.b.Finish()
}
