package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/term"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/drift"
	"github.com/perpetua-ml/perpetua/internal/evaluate"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/baseline"
	"github.com/perpetua-ml/perpetua/internal/learn/linear"
	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
	"github.com/perpetua-ml/perpetua/internal/learn/tree"
)

// models are the learners `eval classify --model` accepts.
// modelOpts are the flags a model constructor may use; zero values mean
// the model's defaults.
type modelOpts struct {
	seed      uint64
	hidden    []int
	lr        float64
	optimizer string
	trees     int
}

var models = map[string]func(dim int, o modelOpts) (learn.Binary, error){
	"logistic": func(dim int, o modelOpts) (learn.Binary, error) {
		cfg := linear.Config{LearnRate: o.lr, Optimizer: linear.Optimizer(o.optimizer)}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		return linear.New(dim, cfg), nil
	},
	"mlp": func(dim int, o modelOpts) (learn.Binary, error) {
		return mlp.New(dim, mlp.Config{Hidden: o.hidden, Seed: o.seed, LearnRate: o.lr, Optimizer: mlp.Optimizer(o.optimizer)})
	},
	"hoeffding": func(dim int, o modelOpts) (learn.Binary, error) { return tree.NewHoeffding(dim, tree.Config{}) },
	"hat": func(dim int, o modelOpts) (learn.Binary, error) {
		return tree.NewHAT(dim, tree.HATConfig{Seed: o.seed})
	},
	"arf": func(dim int, o modelOpts) (learn.Binary, error) {
		return tree.NewARF(dim, tree.ARFConfig{Seed: o.seed, Trees: o.trees})
	},
	"nochange": func(int, modelOpts) (learn.Binary, error) { return new(baseline.NoChange), nil },
	"majority": func(int, modelOpts) (learn.Binary, error) { return new(baseline.Majority), nil },
}

func modelNames() string {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// evalTasks are the eval tasks other than classify.
var evalTasks = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("eval: missing task (want: perpetua eval classify --data FILE.csv --target COLUMN)")
	}
	task, args := args[0], args[1:]
	if run, ok := evalTasks[task]; ok {
		return run(ctx, args, stdout, stderr)
	}
	if task != "classify" {
		return usagef("eval: unknown task %q (known: classify, purchase)", task)
	}
	fs := newFlagSet("eval classify", stderr)
	data := fs.String("data", "", "CSV file with a header row (required)")
	target := fs.String("target", "", "label column (required); two classes")
	positive := fs.String("positive", "", "label value that counts as the positive class (default: see docs)")
	drop := fs.String("drop", "", "comma-separated columns to ignore")
	model := fs.String("model", "logistic", "model: "+modelNames())
	seed := fs.Uint64("seed", 1, "model seed")
	hidden := fs.String("hidden", "20", "mlp hidden layer widths, comma-separated")
	lr := fs.Float64("lr", 0, "learning rate (0: the model's default: logistic Adam 0.03; mlp hidden layers Adam 0.001)")
	trees := fs.Int("trees", 0, "arf: number of trees (0: 10)")
	rulesPath := fs.String("rules", "", "hoeffding/hat/arf: write the final tree(s) as if-then rules to this file (- for stdout)")
	optimizer := fs.String("optimizer", "", "optimizer of logistic/mlp: adam (default), sgd (logistic also adagrad)")
	window := fs.Int("window", 1000, "sliding window of the window_* metrics")
	predictions := fs.String("predictions", "", "write index,prediction,label rows to this CSV file")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout instead of a table")
	segments := fs.String("segments", "", "comma-separated 0-based stream positions where concepts change; adds continual-learning metrics (R, ACC, BWT, FWT)")
	driftName := fs.String("drift", "", "feed the 0/1 error stream to this detector ("+strings.Join(drift.Names(), ", ")+") and report drift_indices")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *target == "" {
		return usagef("eval classify: --data and --target are required")
	}
	newModel, ok := models[*model]
	if !ok {
		return usagef("eval classify: --model %q: want one of %s", *model, modelNames())
	}
	var bounds []int
	if *segments != "" {
		if bounds, err = parseBounds(*segments); err != nil {
			return usagef("eval classify: --segments: %v", err)
		}
	}
	hs, err := parseInts(*hidden)
	if err != nil {
		return usagef("eval classify: --hidden: %v", err)
	}
	f, err := os.Open(*data)
	if err != nil {
		return usagef("eval classify: --data: %v", err)
	}
	defer f.Close()
	var dropCols []string
	if *drop != "" {
		dropCols = strings.Split(*drop, ",")
	}
	src, err := dataset.NewCSV(bufio.NewReaderSize(f, 1<<20), dataset.Options{Target: *target, Positive: *positive, Drop: dropCols})
	if err != nil {
		return err
	}
	if *lr < 0 {
		return usagef("eval classify: --lr %v must be ≥ 0", *lr)
	}
	if *jsonOut && *rulesPath == "-" {
		return usagef("eval classify: --rules - would mix rules into the JSON on stdout; give a file name")
	}
	if *trees < 0 || *trees > 1000 {
		return usagef("eval classify: --trees %d: want 0 to 1000", *trees)
	}
	l, err := newModel(src.Dim(), modelOpts{seed: *seed, hidden: hs, lr: *lr, optimizer: *optimizer, trees: *trees})
	if err != nil {
		return usagef("eval classify: --model %s: %v", *model, err)
	}
	opts := evaluate.Options{Model: *model, Window: *window}
	if *driftName != "" {
		d, err := drift.New(*driftName)
		if err != nil {
			return usagef("eval classify: --drift: %v", err)
		}
		opts.Drift, opts.DriftName = d, *driftName
	}
	if *predictions != "" {
		pf, err := os.Create(*predictions)
		if err != nil {
			return fmt.Errorf("eval classify: --predictions: %w", err)
		}
		defer pf.Close()
		opts.Predictions = pf
	}
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
		opts.Progress = evaluate.NewProgressBar(stderr, countRows(*data))
	}
	res, err := evaluate.Classify(ctx, src, l, opts)
	if err != nil {
		return err
	}
	if pf, ok := opts.Predictions.(*os.File); ok {
		if err := pf.Close(); err != nil {
			return fmt.Errorf("eval classify: --predictions: %w", err)
		}
	}
	mopts := modelOpts{seed: *seed, hidden: hs, lr: *lr, optimizer: *optimizer, trees: *trees}
	var cl *continual.CLMatrix
	if bounds != nil {
		if cl, err = evalCL(*data, dataset.Options{Target: *target, Positive: *positive, Drop: dropCols}, bounds,
			func(dim int) (learn.Binary, error) { return newModel(dim, mopts) }); err != nil {
			return err
		}
	}
	if *rulesPath != "" {
		defer func() {
			if err == nil {
				err = writeRules(*rulesPath, l, src, stdout)
			}
		}()
	}
	if *jsonOut {
		var b []byte
		if cl != nil {
			b, err = json.Marshal(struct {
				evaluate.Result
				CL *continual.CLMatrix `json:"cl"`
			}{res, cl})
		} else {
			b, err = json.Marshal(res)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if err := res.WriteText(stdout); err != nil {
		return err
	}
	if cl != nil {
		_, err = fmt.Fprintf(stdout, "\ncontinual-learning metrics over %d segments (every %dth example held out for testing):\n%s\n", len(cl.Segments), evaluate.HoldOutEvery, cl)
	}
	return err
}

// writeRules prints a tree model's final rules ("-" means stdout).
func writeRules(path string, l learn.Binary, src *dataset.CSV, stdout io.Writer) error {
	r, ok := l.(interface {
		Rules(io.Writer, tree.Names) error
	})
	if !ok {
		return usagef("eval classify: --rules: this model has no rules (use hoeffding, hat or arf)")
	}
	pos, neg := src.Classes()
	names := tree.Names{Features: src.FeatureNames(), Positive: pos, Negative: neg}
	if path == "-" {
		return r.Rules(stdout, names)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("eval classify: --rules: %w", err)
	}
	if err := r.Rules(f, names); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseBounds parses strictly increasing positive stream positions.
func parseBounds(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 || (len(out) > 0 && v <= out[len(out)-1]) {
			return nil, fmt.Errorf("%q: want strictly increasing positive positions such as 12500,25000", p)
		}
		out = append(out, v)
	}
	return out, nil
}

// evalCL reopens the stream and computes the continual-learning matrix
// over the segments that bounds cut it into (evaluate.Segments).
func evalCL(path string, opts dataset.Options, bounds []int, newModel func(dim int) (learn.Binary, error)) (*continual.CLMatrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := dataset.NewCSV(bufio.NewReaderSize(f, 1<<20), opts)
	if err != nil {
		return nil, err
	}
	if _, err := newModel(src.Dim()); err != nil {
		return nil, err
	}
	return evaluate.Segments(src, bounds, func() learn.Binary {
		m, _ := newModel(src.Dim()) // the same constructor just succeeded
		return m
	})
}

// countRows counts data rows (lines minus the header) for the progress
// bar; -1 if unknown. It reads the file once more, at disk speed.
func countRows(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			break
		}
	}
	return n - 1
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		var v int
		if _, err := fmt.Sscanf(strings.TrimSpace(p), "%d", &v); err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", p)
		}
		out = append(out, v)
	}
	return out, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
