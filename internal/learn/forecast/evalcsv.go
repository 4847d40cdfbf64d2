package forecast

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// SeriesConfig configures EvalSeries.
type SeriesConfig struct {
	// Path is a CSV with a header and columns ds (date) and y (value),
	// in time order (the Prophet example layout).
	Path string
	// Period is the seasonal period (12 for monthly data); required.
	Period int
	// Horizon is the number of final values held out; 0 means 2·Period.
	Horizon int
}

// SeriesReport is EvalSeries's result: each method's accuracy on the
// held-out values (MASE scaled by the in-sample Period-difference; OWA
// relative to Naive2), and the coverage of AutoETS's conformal intervals
// (calibrated on rolling origins inside the training part, relative
// errors).
type SeriesReport struct {
	Task      string             `json:"task"`
	N         int                `json:"n"`
	Horizon   int                `json:"horizon"`
	Period    int                `json:"period"`
	Model     string             `json:"model"`
	Metrics   Metrics            `json:"metrics"`
	PerMethod map[string]Metrics `json:"per_method"`
	Seconds   float64            `json:"seconds"`
	PerSecond float64            `json:"per_second"`
}

// ReadSeriesCSV reads the y column of a ds,y CSV.
func ReadSeriesCSV(r io.Reader) ([]float64, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("forecast: series csv: reading header: %w", err)
	}
	col := -1
	for i, h := range head {
		if strings.TrimSpace(h) == "y" {
			col = i
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("forecast: series csv: no column y in header %q", head)
	}
	var y []float64
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("forecast: series csv: %w", err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[col]), 64)
		if err != nil || math.IsInf(v, 0) {
			return nil, fmt.Errorf("forecast: series csv: line %d: y = %q is not a number", line, rec[col])
		}
		y = append(y, v)
	}
	return y, nil
}

// EvalSeries evaluates snaive, naive2 and AutoETS on one series, holding
// out its last Horizon values.
func EvalSeries(ctx context.Context, cfg SeriesConfig) (SeriesReport, error) {
	t0 := time.Now()
	if cfg.Period < 1 {
		return SeriesReport{}, fmt.Errorf("forecast: series eval: period = %d; want ≥ 1", cfg.Period)
	}
	f, err := os.Open(cfg.Path)
	if err != nil {
		return SeriesReport{}, fmt.Errorf("forecast: series eval: %w", err)
	}
	y, err := ReadSeriesCSV(f)
	f.Close()
	if err != nil {
		return SeriesReport{}, err
	}
	H := cfg.Horizon
	if H == 0 {
		H = 2 * cfg.Period
	}
	m := cfg.Period
	if len(y) < H+2*m+10 {
		return SeriesReport{}, fmt.Errorf("forecast: series eval: %d values are too few for horizon %d and period %d", len(y), H, m)
	}
	train, test := y[:len(y)-H], y[len(y)-H:]
	scale := MASEScale(train, m)
	rep := SeriesReport{Task: "forecast", N: 1, Horizon: H, Period: m, PerMethod: map[string]Metrics{}}
	n2 := make([]float64, H)
	Naive2Forecast(train, m, n2)
	s2, m2 := SMAPE(test, n2), MASE(test, n2, scale)
	fc := make([]float64, H)
	for _, me := range []string{"snaive", "naive2", "autoets"} {
		if err := ctx.Err(); err != nil {
			return SeriesReport{}, err
		}
		if err := forecastOne(me, train, m, fc); err != nil {
			return SeriesReport{}, err
		}
		s, ms := SMAPE(test, fc), MASE(test, fc, scale)
		rep.PerMethod[me] = Metrics{SMAPE: s, MASE: ms, OWA: OWA(s, ms, s2, m2)}
	}
	// AutoETS with conformal intervals from rolling origins in the
	// training part: refit at each origin, score the relative error
	// |y-f|/f (demand series grow, so absolute errors of early origins
	// would understate later ones); the interval is f·(1 ± q).
	var periods []int
	if m > 1 {
		periods = []int{m}
	}
	scores := make([][]float64, H)
	for o := len(train) - H; o >= max(len(train)-H-4*m, 2*m+10); o -= max(m/2, 1) {
		e, err := AutoETS(train[:o], AutoConfig{Periods: periods})
		if err != nil {
			continue
		}
		e.Forecast(fc)
		for h := range H {
			if o+h < len(train) {
				scores[h] = append(scores[h], math.Abs(train[o+h]-fc[h])/max(fc[h], 1e-9))
			}
		}
	}
	e, err := AutoETS(train, AutoConfig{Periods: periods})
	if err != nil {
		return SeriesReport{}, err
	}
	e.Forecast(fc)
	var in80, in95 float64
	for h := range H {
		sc := scores[min(h, len(scores)-1)]
		// Steps never scored borrow the longest scored step's scores.
		for j := h; len(sc) == 0 && j > 0; j-- {
			sc = scores[j-1]
		}
		q80, q95 := Quantile(append([]float64(nil), sc...), 0.8), Quantile(append([]float64(nil), sc...), 0.95)
		if math.Abs(test[h]-fc[h]) <= q80*fc[h] {
			in80++
		}
		if math.Abs(test[h]-fc[h]) <= q95*fc[h] {
			in95++
		}
	}
	s, ms := SMAPE(test, fc), MASE(test, fc, scale)
	rep.Model = e.Spec().String()
	rep.Metrics = Metrics{SMAPE: s, MASE: ms, OWA: OWA(s, ms, s2, m2), Coverage80: in80 / float64(H), Coverage95: in95 / float64(H)}
	rep.Seconds = time.Since(t0).Seconds()
	rep.PerSecond = 1 / rep.Seconds
	return rep, nil
}
