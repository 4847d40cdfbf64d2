package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/perpetua-ml/perpetua/internal/learn/forecast"
)

// cmdEvalForecast evaluates the online forecasters: on M4 data (a
// directory with *-train.csv and *-test.csv) exactly as the competition
// scored, or on one ds,y series with its last values held out.
func cmdEvalForecast(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval forecast", stderr)
	data := fs.String("data", "", "m4: a directory holding one *-train.csv and its *-test.csv; series: a ds,y CSV (required)")
	format := fs.String("format", "m4", "m4 or series")
	horizon := fs.Int("horizon", 0, "steps forecast (m4: 0 means the test file's width; series: 0 means 2 periods)")
	period := fs.Int("period", 0, "seasonal period (m4: 0 means M4's for the frequency in the file name; series: required)")
	methods := fs.String("methods", "", "m4: comma-separated candidate methods (default all)")
	forecasts := fs.String("forecasts", "", "m4: write series,step,forecast,lo80,hi80,lo95,hi95 rows to this CSV file")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("eval forecast: --data is required")
	}
	var res any
	switch *format {
	case "m4":
		cfg := forecast.M4Config{Horizon: *horizon, Period: *period}
		if fi, err := os.Stat(*data); err != nil {
			return usagef("eval forecast: --data: %v", err)
		} else if fi.IsDir() {
			cfg.Dir = *data
		} else {
			cfg.Train = *data
			cfg.Test = strings.Replace(*data, "-train", "-test", 1)
		}
		if *methods != "" {
			cfg.Methods = strings.Split(*methods, ",")
		}
		var f *os.File
		if *forecasts != "" {
			var err error
			if f, err = os.Create(*forecasts); err != nil {
				return fmt.Errorf("eval forecast: --forecasts: %w", err)
			}
			defer f.Close()
			cfg.Forecasts = f
		}
		r, err := forecast.EvalM4(ctx, cfg)
		if err != nil {
			return err
		}
		if f != nil {
			if err := f.Close(); err != nil {
				return fmt.Errorf("eval forecast: --forecasts: %w", err)
			}
		}
		res = r
		if !*jsonOut {
			m := r.Metrics
			_, err := fmt.Fprintf(stdout, "%d %s series, horizon %d, period %d: sMAPE %.3f  MASE %.3f  OWA %.3f  coverage 80%% %.1f%%  95%% %.1f%%  (%.1fs)\n",
				r.N, r.Frequency, r.Horizon, r.Period, m.SMAPE, m.MASE, m.OWA, 100*m.Coverage80, 100*m.Coverage95, r.Seconds)
			if err == nil && r.Rank > 0 {
				_, err = fmt.Fprintf(stdout, "rank by OWA among the %d published M4 entries: %d\n", r.Entries, r.Rank)
			}
			return err
		}
	case "series":
		if *period < 1 {
			return usagef("eval forecast: --format series needs --period (e.g. 12 for monthly data)")
		}
		r, err := forecast.EvalSeries(ctx, forecast.SeriesConfig{Path: *data, Period: *period, Horizon: *horizon})
		if err != nil {
			return err
		}
		res = r
		if !*jsonOut {
			m := r.Metrics
			_, err := fmt.Fprintf(stdout, "%s, last %d held out: sMAPE %.3f  MASE %.3f  OWA %.3f (%s)\n", *data, r.Horizon, m.SMAPE, m.MASE, m.OWA, r.Model)
			return err
		}
	default:
		return usagef("eval forecast: --format %q: want m4 or series", *format)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

func init() {
	evalTasks["forecast"] = cmdEvalForecast
}
