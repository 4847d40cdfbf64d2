package forecast

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// M4Config configures EvalM4.
type M4Config struct {
	// Dir holds exactly one *-train.csv and its *-test.csv (M4 layout);
	// Train and Test name the files directly instead.
	Dir         string
	Train, Test string
	// Horizon is the number of steps forecast; 0 means the width of the
	// test file.
	Horizon int
	// Period is the seasonal period used for MASE, Naive2 and the
	// seasonal models; 0 means M4's value for the frequency named in the
	// train file's name (Hourly 24, Quarterly 4, Monthly 12; Yearly,
	// Weekly and Daily 1).
	Period int
	// Methods restricts the candidate methods (see M4Methods); empty
	// means all that apply.
	Methods []string
	// Workers bounds parallelism; 0 means GOMAXPROCS.
	Workers int
	// Baselines is the published accuracy CSV; "" means
	// m4_point_forecast_accuracy_by_frequency.csv beside the train file
	// when present.
	Baselines string
	// Forecasts, when not nil, receives the CSV
	// series,step,forecast,lo80,hi80,lo95,hi95.
	Forecasts io.Writer
}

// M4Methods lists the candidate methods of EvalM4: seasonal naive,
// Naive2, AutoETS (one seasonal period), double-seasonal Holt-Winters
// (periods m and 7m, only when m ≥ 24), the global pooled model on
// log-normalised and on standardised windows, and "combo", the per-step
// median of the global models, dshw and AutoETS.
var M4Methods = []string{"snaive", "naive2", "autoets", "dshw", "global_log", "global_std", "combo"}

// comboOf lists the methods whose per-step median is the "combo" method.
var comboOf = []string{"global_log", "global_std", "dshw", "autoets"}

// Metrics are accuracy metrics averaged over series (M4 style).
type Metrics struct {
	SMAPE      float64 `json:"smape"`
	MASE       float64 `json:"mase"`
	OWA        float64 `json:"owa"`
	Coverage80 float64 `json:"coverage80,omitempty"`
	Coverage95 float64 `json:"coverage95,omitempty"`
}

// Baseline is a published M4 result for the evaluated frequency.
type Baseline struct {
	Method string  `json:"method"`
	SMAPE  float64 `json:"smape"`
	MASE   float64 `json:"mase"`
	OWA    float64 `json:"owa"`
}

// M4Report is EvalM4's result; it marshals to the JSON the eval command
// prints.
type M4Report struct {
	Task      string  `json:"task"`
	N         int     `json:"n"`
	Frequency string  `json:"frequency"`
	Horizon   int     `json:"horizon"`
	Period    int     `json:"period"`
	Metrics   Metrics `json:"metrics"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Method describes the submitted forecast: per series, the candidate
	// with the best validation score on the last Horizon values of the
	// training part.
	Method string `json:"method"`
	// Chosen counts the series per chosen method.
	Chosen map[string]int `json:"chosen"`
	// PerMethod holds each candidate's test metrics alone.
	PerMethod map[string]Metrics `json:"per_method"`
	// AutoETSSeconds is the wall time of fitting and forecasting every
	// series with AutoETS on the full training data.
	AutoETSSeconds float64 `json:"autoets_seconds"`
	// Published holds the competition's results for this frequency, and
	// Rank our position by OWA among all published entries (1 = best).
	Published []Baseline `json:"published,omitempty"`
	Rank      int        `json:"rank,omitempty"`
	Entries   int        `json:"entries,omitempty"`
}

var m4Freq = []struct {
	name   string
	period int
}{{"hourly", 24}, {"daily", 1}, {"weekly", 1}, {"monthly", 12}, {"quarterly", 4}, {"yearly", 1}}

func (c *M4Config) resolve() (freq string, err error) {
	if c.Train == "" || c.Test == "" {
		if c.Dir == "" {
			return "", errors.New("forecast: m4: Dir or Train and Test are required")
		}
		tr, _ := filepath.Glob(filepath.Join(c.Dir, "*-train.csv"))
		if len(tr) != 1 {
			return "", fmt.Errorf("forecast: m4: Dir %s holds %d *-train.csv files; want 1", c.Dir, len(tr))
		}
		c.Train = tr[0]
		c.Test = strings.TrimSuffix(tr[0], "-train.csv") + "-test.csv"
	}
	base := strings.ToLower(filepath.Base(c.Train))
	for _, f := range m4Freq {
		if strings.Contains(base, f.name) {
			freq = f.name
			if c.Period == 0 {
				c.Period = f.period
			}
		}
	}
	if c.Period == 0 {
		return "", fmt.Errorf("forecast: m4: cannot tell the frequency from %s; set Period", filepath.Base(c.Train))
	}
	if c.Baselines == "" {
		p := filepath.Join(filepath.Dir(c.Train), "m4_point_forecast_accuracy_by_frequency.csv")
		if _, err := os.Stat(p); err == nil {
			c.Baselines = p
		}
	}
	return freq, nil
}

func readM4File(path string) ([]Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("forecast: m4: %w", err)
	}
	defer f.Close()
	s, err := ReadM4(f)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return s, nil
}

// m4Job holds the data of one evaluation round: every series cut at an
// origin, and the forecasts of every method from it.
type m4Round struct {
	hist [][]float64            // training part of each series
	fc   map[string][][]float64 // method → series → H forecasts
}

// EvalM4 runs the M4 evaluation: for every series it forecasts the test
// horizon with every candidate method, picks per series the method with
// the best score (sMAPE and MASE relative to seasonal naive) when
// forecasting the last Horizon training values from the rest, and
// computes sMAPE, MASE and OWA exactly as M4 did (MASE scaled by the
// in-sample mean absolute Period-difference; OWA relative to Naive2 on the
// same series). The 80% and 95% intervals are split conformal: the
// chosen methods' errors one horizon earlier still (origin T-2H), scaled
// by each series' MASE scale, give per-step quantiles.
func EvalM4(ctx context.Context, cfg M4Config) (M4Report, error) {
	start := time.Now()
	freq, err := cfg.resolve()
	if err != nil {
		return M4Report{}, err
	}
	train, err := readM4File(cfg.Train)
	if err != nil {
		return M4Report{}, err
	}
	test, err := readM4File(cfg.Test)
	if err != nil {
		return M4Report{}, err
	}
	if len(train) != len(test) {
		return M4Report{}, fmt.Errorf("forecast: m4: %d train series but %d test series", len(train), len(test))
	}
	H := cfg.Horizon
	for i := range train {
		if train[i].ID != test[i].ID {
			return M4Report{}, fmt.Errorf("forecast: m4: row %d: train series %s but test series %s", i+2, train[i].ID, test[i].ID)
		}
		if cfg.Horizon == 0 {
			H = max(H, len(test[i].Values))
		}
	}
	for i := range test {
		if len(test[i].Values) < H {
			return M4Report{}, fmt.Errorf("forecast: m4: test series %s has %d values; horizon is %d", test[i].ID, len(test[i].Values), H)
		}
		test[i].Values = test[i].Values[:H]
	}
	m := cfg.Period
	methods := cfg.Methods
	if len(methods) == 0 {
		methods = M4Methods
	}
	for _, me := range methods {
		if !slices.Contains(M4Methods, me) {
			return M4Report{}, fmt.Errorf("forecast: m4: unknown method %q (have %s)", me, strings.Join(M4Methods, ", "))
		}
	}
	if m < 24 {
		methods = slices.DeleteFunc(slices.Clone(methods), func(s string) bool { return s == "dshw" })
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cut := func(k int) [][]float64 {
		out := make([][]float64, len(train))
		for i, s := range train {
			out[i] = s.Values[:max(len(s.Values)-k*H, min(len(s.Values), 1))]
		}
		return out
	}
	rep := M4Report{Task: "forecast", N: len(train), Frequency: freq, Horizon: H, Period: m,
		Chosen: map[string]int{}, PerMethod: map[string]Metrics{}}
	rounds := make([]*m4Round, 3) // origins T-2H, T-H, T
	for k := 2; k >= 0; k-- {
		r := &m4Round{hist: cut(k), fc: map[string][][]float64{}}
		for _, me := range methods {
			if me == "combo" {
				continue
			}
			t0 := time.Now()
			f, err := runMethod(ctx, me, r.hist, H, m, workers)
			if err != nil {
				return M4Report{}, err
			}
			if k == 0 && me == "autoets" {
				rep.AutoETSSeconds = time.Since(t0).Seconds()
			}
			r.fc[me] = f
		}
		if slices.Contains(methods, "combo") {
			r.fc["combo"] = combine(r.fc, len(train), H)
		}
		rounds[2-k] = r
	}
	// Per-series choice at origin T-H against the last H training values.
	val := rounds[1]
	choice := make([]string, len(train))
	for i, s := range train {
		actual := s.Values[len(val.hist[i]):]
		choice[i] = methods[0]
		if len(actual) < H {
			continue
		}
		scale := MASEScale(val.hist[i], m)
		ref := val.fc["snaive"]
		if ref == nil {
			ref = val.fc[methods[0]]
		}
		rs, rm := SMAPE(actual, ref[i]), MASE(actual, ref[i], scale)
		best := math.Inf(1)
		for _, me := range methods {
			f := val.fc[me][i]
			sc := relScore(SMAPE(actual, f), rs) + relScore(MASE(actual, f, scale), rm)
			if sc < best {
				best, choice[i] = sc, me
			}
		}
	}
	// Conformal scores at origin T-2H with the chosen methods.
	cal := rounds[0]
	scores := make([][]float64, H)
	for i, s := range train {
		hist := cal.hist[i]
		if len(s.Values)-len(hist) < 2*H {
			continue
		}
		actual := s.Values[len(hist) : len(hist)+H]
		scale := MASEScale(hist, m)
		if !(scale > 0) {
			continue
		}
		f := cal.fc[choice[i]][i]
		for h := range H {
			scores[h] = append(scores[h], math.Abs(actual[h]-f[h])/scale)
		}
	}
	q80, q95 := stepQuantiles(scores, 0.80), stepQuantiles(scores, 0.95)
	final := rounds[2]
	var w *csv.Writer
	if cfg.Forecasts != nil {
		w = csv.NewWriter(cfg.Forecasts)
		if err := w.Write([]string{"series", "step", "forecast", "lo80", "hi80", "lo95", "hi95"}); err != nil {
			return M4Report{}, fmt.Errorf("forecast: m4: writing forecasts: %w", err)
		}
	}
	// MASE is averaged over the series whose in-sample scale is positive
	// and finite (every M4 series; a constant or too short series has
	// none).
	var sm, ms, sn, mn, in80, in95, cnt, nm float64
	for i := range train {
		if sc := MASEScale(train[i].Values, m); sc > 0 && !math.IsInf(sc, 0) {
			nm++
		}
	}
	nm = max(nm, 1)
	for _, me := range methods {
		var a, b float64
		for i := range train {
			a += SMAPE(test[i].Values, final.fc[me][i])
			if sc := MASEScale(train[i].Values, m); sc > 0 && !math.IsInf(sc, 0) {
				b += MASE(test[i].Values, final.fc[me][i], sc)
			}
		}
		rep.PerMethod[me] = Metrics{SMAPE: a / float64(len(train)), MASE: b / nm}
	}
	n2 := make([]float64, H)
	rec := make([]string, 7)
	for i, s := range train {
		f := final.fc[choice[i]][i]
		rep.Chosen[choice[i]]++
		y := test[i].Values
		scale := MASEScale(s.Values, m)
		Naive2Forecast(s.Values, m, n2)
		sm += SMAPE(y, f)
		sn += SMAPE(y, n2)
		sc := scale
		if sc > 0 && !math.IsInf(sc, 0) {
			ms += MASE(y, f, scale)
			mn += MASE(y, n2, scale)
		} else {
			sc = 0
		}
		for h := range H {
			lo80, hi80 := max(f[h]-q80[h]*sc, 0), f[h]+q80[h]*sc
			lo95, hi95 := max(f[h]-q95[h]*sc, 0), f[h]+q95[h]*sc
			if y[h] >= lo80 && y[h] <= hi80 {
				in80++
			}
			if y[h] >= lo95 && y[h] <= hi95 {
				in95++
			}
			cnt++
			if w != nil {
				rec[0] = s.ID
				rec[1] = strconv.Itoa(h + 1)
				for j, v := range []float64{f[h], lo80, hi80, lo95, hi95} {
					rec[2+j] = strconv.FormatFloat(v, 'g', 10, 64)
				}
				if err := w.Write(rec); err != nil {
					return M4Report{}, fmt.Errorf("forecast: m4: writing forecasts: %w", err)
				}
			}
		}
	}
	if w != nil {
		if w.Flush(); w.Error() != nil {
			return M4Report{}, fmt.Errorf("forecast: m4: writing forecasts: %w", w.Error())
		}
	}
	n := float64(len(train))
	rep.Metrics = Metrics{SMAPE: sm / n, MASE: ms / nm, OWA: OWA(sm/n, ms/nm, sn/n, mn/nm),
		Coverage80: in80 / cnt, Coverage95: in95 / cnt}
	for me, pm := range rep.PerMethod {
		pm.OWA = OWA(pm.SMAPE, pm.MASE, sn/n, mn/nm)
		rep.PerMethod[me] = pm
	}
	rep.Method = "per-series choice among " + strings.Join(methods, ", ") + " by validation on the last horizon of the training data"
	if cfg.Baselines != "" && freq != "" {
		pub, err := ReadBaselines(cfg.Baselines, freq)
		if err != nil {
			return M4Report{}, err
		}
		rep.Entries = len(pub)
		rep.Rank = 1
		for _, b := range pub {
			if b.OWA < rep.Metrics.OWA {
				rep.Rank++
			}
			switch b.Method {
			case "Naive", "sNaive", "Naive2", "SES", "Holt", "Damped", "Theta", "Com", "MLP", "RNN", "118", "238":
				rep.Published = append(rep.Published, b)
			}
		}
	}
	rep.Metrics = rep.Metrics.finite()
	for me, pm := range rep.PerMethod {
		rep.PerMethod[me] = pm.finite()
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.PerSecond = n / rep.Seconds
	return rep, nil
}

// finite replaces non-finite metrics (a Naive2 with zero error makes OWA
// undefined) by 0 so the report always marshals to JSON.
func (m Metrics) finite() Metrics {
	for _, v := range []*float64{&m.SMAPE, &m.MASE, &m.OWA, &m.Coverage80, &m.Coverage95} {
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			*v = 0
		}
	}
	return m
}

// combine returns the per-step median of the comboOf methods present
// (the mean of the middle two for an even count).
func combine(fc map[string][][]float64, n, H int) [][]float64 {
	out := make([][]float64, n)
	vals := make([]float64, 0, len(comboOf))
	for i := range out {
		out[i] = make([]float64, H)
		for h := range H {
			vals = vals[:0]
			for _, me := range comboOf {
				if f, ok := fc[me]; ok {
					vals = append(vals, f[i][h])
				}
			}
			if len(vals) == 0 {
				continue
			}
			slices.Sort(vals)
			k := len(vals)
			out[i][h] = (vals[(k-1)/2] + vals[k/2]) / 2
		}
	}
	return out
}

// relScore is err/ref, with a zero reference handled.
func relScore(err, ref float64) float64 {
	if !(ref > 0) {
		if err > 0 {
			return 10
		}
		return 1
	}
	return err / ref
}

// stepQuantiles returns per step the q-quantile of the scores of that
// step and its two neighbours on each side (pooled to steady the tails).
func stepQuantiles(scores [][]float64, q float64) []float64 {
	out := make([]float64, len(scores))
	for h := range scores {
		var pool []float64
		for j := max(h-2, 0); j <= min(h+2, len(scores)-1); j++ {
			pool = append(pool, scores[j]...)
		}
		out[h] = Quantile(pool, q)
	}
	return out
}

// Quantile returns the conformal q-quantile of x: the ⌈(n+1)q⌉-th
// smallest value (the largest when that exceeds n), 0 for no values.
// It sorts x.
func Quantile(x []float64, q float64) float64 {
	if len(x) == 0 {
		return 0
	}
	sort.Float64s(x)
	k := int(math.Ceil(float64(len(x)+1)*q)) - 1
	return x[min(max(k, 0), len(x)-1)]
}

// runMethod forecasts every series of hist with one method.
func runMethod(ctx context.Context, method string, hist [][]float64, H, m, workers int) ([][]float64, error) {
	out := make([][]float64, len(hist))
	for i := range out {
		out[i] = make([]float64, H)
	}
	switch method {
	case "global_log", "global_std":
		return out, runGlobal(method == "global_std", hist, H, m, out)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range hist {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return forecastOne(method, hist[i], m, out[i])
		})
	}
	return out, g.Wait()
}

// forecastOne forecasts one series with a local method. Series too short
// for AutoETS fall back to Naive2.
func forecastOne(method string, y []float64, m int, dst []float64) error {
	switch method {
	case "snaive":
		s := NewSeasonalNaive(m)
		for _, v := range y {
			s.Update(v)
		}
		s.Forecast(dst)
	case "naive2":
		Naive2Forecast(y, m, dst)
	case "autoets":
		var periods []int
		if m > 1 {
			periods = []int{m}
		}
		e, err := AutoETS(y, AutoConfig{Periods: periods, Window: autoETSWindow(m), MaxEvals: 120})
		if err != nil {
			Naive2Forecast(y, m, dst)
			return nil
		}
		e.Forecast(dst)
	case "dshw":
		p := []int{m, 7 * m}
		var c []Spec
		for _, tr := range []Trend{TrendNone, TrendDamped} {
			c = append(c, Spec{Trend: tr, Season: SeasonAdditive, Periods: p})
			c = append(c, Spec{Error: ErrorMultiplicative, Trend: tr, Season: SeasonMultiplicative, Periods: p})
		}
		var ok []Spec
		for _, s := range c {
			if s.Season == SeasonMultiplicative && slices.ContainsFunc(y, func(v float64) bool { return v <= 0 }) {
				continue
			}
			ok = append(ok, s)
		}
		e, err := AutoETS(y, AutoConfig{Candidates: ok, MaxEvals: 120})
		if err != nil {
			return forecastOne("autoets", y, m, dst)
		}
		e.Forecast(dst)
	default:
		return fmt.Errorf("forecast: m4: unknown method %q", method)
	}
	return nil
}

// autoETSWindow is the fitting window of AutoETS in the M4 evaluation:
// the last 20 seasons (at least 100 values), enough for the smoothing
// parameters and much cheaper than the whole of a long hourly series.
func autoETSWindow(m int) int { return max(20*m, 100) }

// globalLags picks the global model's window for the data.
func globalLags(hist [][]float64, H, m int) int {
	L := max(3*H, 3*m)
	if m >= 24 {
		L = 14 * m
	}
	lens := make([]int, len(hist))
	for i, h := range hist {
		lens[i] = len(h)
	}
	sort.Ints(lens)
	med := lens[len(lens)/2]
	return max(min(L, med-H), 2)
}

func runGlobal(std bool, hist [][]float64, H, m int, out [][]float64) error {
	cfg := GlobalConfig{Horizon: H, Lags: globalLags(hist, H, m), Log: !std, Standardize: std, DiffLag: m}
	if cfg.Lags >= 200 {
		cfg.Stride = 2
	}
	g, err := NewGlobal(cfg)
	if err != nil {
		return err
	}
	for _, y := range hist {
		s := g.AddSeries(0)
		for _, v := range y {
			g.Observe(s, v)
		}
	}
	if err := g.Solve(); err != nil {
		// Too little data for a pooled model: fall back to Naive2.
		for i, y := range hist {
			Naive2Forecast(y, m, out[i])
		}
		return nil
	}
	for i, y := range hist {
		if len(y) < cfg.Lags {
			Naive2Forecast(y, m, out[i])
			continue
		}
		g.Forecast(i, out[i])
	}
	return nil
}

// ReadBaselines reads the published M4 accuracy table and returns every
// method's sMAPE, MASE and OWA for one frequency (e.g. "hourly"), each
// method once.
func ReadBaselines(path, freq string) ([]Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("forecast: m4 baselines: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("forecast: m4 baselines %s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("forecast: m4 baselines %s: no rows", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	ci := [3]int{}
	for j, k := range []string{"smape_", "mase_", "owa_"} {
		c, ok := col[k+freq]
		if !ok {
			return nil, fmt.Errorf("forecast: m4 baselines %s: no column %s%s", path, k, freq)
		}
		ci[j] = c
	}
	seen := map[string]bool{}
	var out []Baseline
	for r, row := range rows[1:] {
		if len(row) <= max(ci[0], ci[1], ci[2]) || seen[row[0]] {
			continue
		}
		var v [3]float64
		for j, c := range ci {
			x, err := strconv.ParseFloat(strings.TrimSpace(row[c]), 64)
			if err != nil {
				return nil, fmt.Errorf("forecast: m4 baselines %s: row %d column %s: %q is not a number", path, r+2, rows[0][c], row[c])
			}
			v[j] = x
		}
		seen[row[0]] = true
		out = append(out, Baseline{Method: row[0], SMAPE: v[0], MASE: v[1], OWA: v[2]})
	}
	return out, nil
}
