package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/perpetua-ml/perpetua/internal/risk"
)

// parseDays reads a label delay: "7d" or a Go duration in whole days ("168h").
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want whole days such as 7d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%(24*time.Hour) != 0 {
		return 0, fmt.Errorf("%q: want whole days such as 7d", s)
	}
	return d, nil
}

// cmdEvalRisk evaluates the fraud model online with delayed labels on
// the fraud-detection handbook's simulated transactions.
func cmdEvalRisk(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval risk", stderr)
	data := fs.String("data", "", "a directory of the handbook's daily or weekly CSV files (gzip'd or not), or one file (required)")
	delay := fs.String("delay", "7d", "label delay in whole days: a fraud label becomes known this long after its transaction")
	model := fs.String("model", "arf", "arf (adaptive random forest), hat (Hoeffding adaptive tree), logistic, or ensemble")
	testDays := fs.Int("test-days", 7, "the final days evaluated")
	seed := fs.Uint64("seed", 0, "model seed")
	predictions := fs.String("predictions", "", "write index,prediction,label,customer_id,day rows to this CSV file")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("eval risk: --data is required")
	}
	d, err := parseDays(*delay)
	if err != nil {
		return usagef("eval risk: --delay %v", err)
	}
	cfg := risk.EvalConfig{Delay: d, TestDays: *testDays, Model: risk.ModelConfig{Model: risk.Model(*model), Seed: *seed}}
	if err := cfg.Model.Validate(); err != nil {
		return usagef("eval risk: --model: %v", err)
	}
	var pf *os.File
	if *predictions != "" {
		if pf, err = os.Create(*predictions); err != nil {
			return fmt.Errorf("eval risk: --predictions: %w", err)
		}
		defer pf.Close()
		cfg.Predictions = pf
	}
	if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
		cfg.Progress = func(rows int) {
			if rows%100_000 == 0 {
				fmt.Fprintf(stderr, "\r%d transactions read", rows)
			}
		}
	}
	rep, err := risk.Eval(ctx, *data, cfg)
	if err != nil {
		return err
	}
	if pf != nil {
		if err := pf.Close(); err != nil {
			return fmt.Errorf("eval risk: --predictions: %w", err)
		}
	}
	if *jsonOut {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	m := rep.Metrics
	fmt.Fprintf(stdout, "%s on %s: %d test transactions (%d streamed, learned online with a %s label delay) in %.1fs\n",
		rep.Model, *data, rep.N, rep.StreamN, *delay, rep.Seconds)
	fmt.Fprintf(stdout, "  AUC %.3f  average precision %.3f  card precision@100 %.3f  cost saved %.0f of %.0f\n",
		m.AUC, m.AP, m.CardPrecision100, m.CostSaved, m.FraudLoss)
	for _, b := range rep.Baselines {
		bb, _ := json.Marshal(b)
		fmt.Fprintf(stdout, "  baseline %s\n", bb)
	}
	return nil
}

func init() {
	evalTasks["risk"] = cmdEvalRisk
}
