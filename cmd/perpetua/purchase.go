package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/evaluate"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
)

// cmdEvalPurchase evaluates the large model (wide & deep over embedding
// tables) prequentially on CTR-format data: each row is predicted, scored,
// then learned.
func cmdEvalPurchase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval purchase", stderr)
	data := fs.String("data", "", "CTR data file (required)")
	format := fs.String("format", "criteo", "criteo (label, I1..I13, C1..C26; CSV with header or Kaggle TSV) or csv (with --target)")
	target := fs.String("target", "", "csv: the label column")
	model := fs.String("model", "deep", "deep (wide & deep), deepfm (plus the FM interaction) or wide (FTRL logistic over hashed features and the numeric values)")
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
		cfg.NoDeep, cfg.WideDense = true, true
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
	opts := evaluate.Options{Model: *model}
	if *predictions != "" {
		pf, err := os.Create(*predictions)
		if err != nil {
			return fmt.Errorf("eval purchase: --predictions: %w", err)
		}
		defer pf.Close()
		opts.Predictions = pf
	}
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
		opts.Progress = evaluate.NewProgressBar(stderr, countRows(*data))
	}
	res, err := evaluate.Purchase(ctx, src, schema, m, opts)
	if err != nil {
		return err
	}
	res.Format, res.Skipped = *format, m.Stats().Skipped
	if pf, ok := opts.Predictions.(*os.File); ok {
		if err := pf.Close(); err != nil {
			return fmt.Errorf("eval purchase: --predictions: %w", err)
		}
	}
	if *jsonOut {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return res.WriteText(stdout)
}

func init() {
	evalTasks["purchase"] = cmdEvalPurchase
}
