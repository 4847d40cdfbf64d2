package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// purchaseResult is the JSON object `eval purchase --json` prints.
type purchaseResult struct {
	Task        string        `json:"task"`
	Model       string        `json:"model"`
	Format      string        `json:"format"`
	N           int64         `json:"n"`
	Positives   int64         `json:"positives"`
	Metrics     metric.Values `json:"metrics"`
	Calibration []decile      `json:"calibration"` // by predicted probability, deciles of [0, 1]
	Skipped     int64         `json:"skipped"`     // examples the model refused to learn (non-finite)
	Seconds     float64       `json:"seconds"`
	PerSecond   float64       `json:"per_second"`
}

// decile compares the mean predicted probability with the observed rate
// among the examples whose prediction fell in [Lo, Hi).
type decile struct {
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	N        int64   `json:"n"`
	Expected float64 `json:"expected"`
	Observed float64 `json:"observed"`
}

// cmdEvalPurchase evaluates the large model (wide & deep over embedding
// tables) prequentially on CTR-format data: each row is predicted, scored,
// then learned.
func cmdEvalPurchase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval purchase", stderr)
	data := fs.String("data", "", "CTR data file (required)")
	format := fs.String("format", "criteo", "criteo (label, I1..I13, C1..C26; CSV with header or Kaggle TSV) or csv (with --target)")
	target := fs.String("target", "", "csv: the label column")
	model := fs.String("model", "deep", "deep (wide & deep), deepfm (plus the FM interaction) or wide (FTRL logistic over hashed features)")
	hidden := fs.String("hidden", "64,32", "deep: hidden layer widths")
	seed := fs.Uint64("seed", 1, "model and hash seed")
	predictions := fs.String("predictions", "", "write index,prediction,label rows to this CSV file")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("eval purchase: --data is required")
	}
	if *format != dataset.FormatCriteo && *format != dataset.FormatCSV {
		return usagef("eval purchase: --format %q: want criteo or csv", *format)
	}
	hs, err := parseInts(*hidden)
	if err != nil {
		return usagef("eval purchase: --hidden: %v", err)
	}
	cfg := deep.Config{Hidden: hs, Seed: *seed}
	switch *model {
	case "deep":
	case "deepfm":
		cfg.FM = true
	case "wide":
		cfg.NoDeep = true
	default:
		return usagef("eval purchase: --model %q: want deep, deepfm or wide", *model)
	}
	f, err := os.Open(*data)
	if err != nil {
		return usagef("eval purchase: --data: %v", err)
	}
	defer f.Close()
	src, err := dataset.NewCTR(bufio.NewReaderSize(f, 1<<20), dataset.CTROptions{Format: *format, Target: *target})
	if err != nil {
		return err
	}
	schema, err := feature.NewSchema(feature.SchemaConfig{Fields: feature.FieldsFromCTR(src.Columns(), 0), Seed: *seed, WideBits: 20})
	if err != nil {
		return err
	}
	m, err := deep.New(schema, cfg)
	if err != nil {
		return usagef("eval purchase: %v", err)
	}
	var pw *bufio.Writer
	if *predictions != "" {
		pf, err := os.Create(*predictions)
		if err != nil {
			return fmt.Errorf("eval purchase: --predictions: %w", err)
		}
		defer pf.Close()
		pw = bufio.NewWriter(pf)
		pw.WriteString("index,prediction,label\n")
	}
	res := purchaseResult{Task: "purchase", Model: *model, Format: *format}
	mt := metric.NewBinaryBinned(0, 0, 100_000)
	var cal [10]struct {
		n         int64
		sumP, sum float64
	}
	ex := schema.NewExample()
	var line []byte
	start := time.Now()
	for src.Next() {
		if res.N%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("eval purchase: stopped after %d examples: %w", res.N, ctx.Err())
		}
		if err := schema.Encode(ex, src); err != nil {
			return fmt.Errorf("eval purchase: line %d: %w", src.Line(), err)
		}
		y := src.Label()
		m.SetTime(res.N)
		p := m.PredictLearn(ex, y)
		mt.Update(p, y)
		b := min(int(p*10), 9)
		cal[b].n++
		cal[b].sumP += p
		cal[b].sum += y
		if y >= 0.5 {
			res.Positives++
		}
		if pw != nil {
			line = strconv.AppendInt(line[:0], res.N, 10)
			line = append(line, ',')
			line = strconv.AppendFloat(line, p, 'g', -1, 64)
			line = append(line, ',')
			line = strconv.AppendFloat(line, y, 'g', -1, 64)
			line = append(line, '\n')
			if _, err := pw.Write(line); err != nil {
				return fmt.Errorf("eval purchase: --predictions: %w", err)
			}
		}
		res.N++
	}
	if err := src.Err(); err != nil {
		return err
	}
	if pw != nil {
		if err := pw.Flush(); err != nil {
			return fmt.Errorf("eval purchase: --predictions: %w", err)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if res.Seconds > 0 {
		res.PerSecond = float64(res.N) / res.Seconds
	}
	res.Metrics = mt.Snapshot()
	res.Skipped = m.Stats().Skipped
	for i, c := range cal {
		d := decile{Lo: float64(i) / 10, Hi: float64(i+1) / 10, N: c.n, Expected: math.NaN(), Observed: math.NaN()}
		if c.n > 0 {
			d.Expected, d.Observed = c.sumP/float64(c.n), c.sum/float64(c.n)
		}
		res.Calibration = append(res.Calibration, d)
	}
	if *jsonOut {
		for i := range res.Calibration { // JSON has no NaN: empty deciles report 0 with n = 0
			if res.Calibration[i].N == 0 {
				res.Calibration[i].Expected, res.Calibration[i].Observed = 0, 0
			}
		}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "task\tpurchase (%s, %s)\nexamples\t%d (%d positive)\ntime\t%.3f s (%.0f examples/s)\n", res.Model, res.Format, res.N, res.Positives, res.Seconds, res.PerSecond)
	v := res.Metrics
	fmt.Fprintf(tw, "auc\t%.4f\nlog loss\t%.4f\naccuracy\t%.4f\nbrier\t%.4f\n\ncalibration\tn\texpected\tobserved\n", v.AUC, v.LogLoss, v.Accuracy, v.Brier)
	for _, d := range res.Calibration {
		if d.N > 0 {
			fmt.Fprintf(tw, "[%.1f, %.1f)\t%d\t%.3f\t%.3f\n", d.Lo, d.Hi, d.N, d.Expected, d.Observed)
		}
	}
	return tw.Flush()
}

func init() {
	evalTasks["purchase"] = cmdEvalPurchase
}
