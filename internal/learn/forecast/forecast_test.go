package forecast

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var dataDir = filepath.Join("..", "..", "..", "..", "shared", "data")

func TestMetrics(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"SMAPE exact", SMAPE([]float64{100, 200}, []float64{100, 200}), 0},
		{"SMAPE", SMAPE([]float64{100}, []float64{50}), 200 * 50.0 / 150},
		{"SMAPE zeros", SMAPE([]float64{0, 10}, []float64{0, 10}), 0},
		{"MASEScale", MASEScale([]float64{1, 2, 4, 8}, 1), (1 + 2 + 4) / 3.0},
		{"MASEScale m=2", MASEScale([]float64{1, 2, 4, 8}, 2), (3 + 6) / 2.0},
		{"MASE", MASE([]float64{10, 20}, []float64{12, 16}, 2), 1.5},
		{"OWA", OWA(10, 1, 20, 2), 0.5},
	}
	for _, tc := range tests {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestSeasonalityTestAndNaive2(t *testing.T) {
	// A strongly seasonal series is seasonal; white noise is not.
	r := rand.New(rand.NewPCG(1, 2))
	seas := make([]float64, 24*10)
	noise := make([]float64, 24*10)
	for i := range seas {
		seas[i] = 100 + 30*math.Sin(2*math.Pi*float64(i)/24) + r.NormFloat64()
		noise[i] = 100 + r.NormFloat64()
	}
	if !SeasonalityTest(seas, 24) {
		t.Errorf("SeasonalityTest(seasonal) = false; want true")
	}
	if SeasonalityTest(noise, 24) {
		t.Errorf("SeasonalityTest(noise) = true; want false")
	}
	if SeasonalityTest(seas[:60], 24) {
		t.Errorf("SeasonalityTest(2.5 seasons) = true; want false (needs 3)")
	}
	// Naive2 on a purely multiplicative seasonal series reproduces it.
	x := make([]float64, 12*6)
	idx := []float64{0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7}
	for i := range x {
		x[i] = 50 * idx[i%12]
	}
	dst := make([]float64, 12)
	Naive2Forecast(x, 12, dst)
	for h, v := range dst {
		want := 50 * idx[(len(x)+h)%12]
		if math.Abs(v-want) > 1e-9*want {
			t.Errorf("Naive2Forecast step %d = %v; want %v", h+1, v, want)
		}
	}
}

// TestM4PublishedBaselines checks that our sNaive and Naive2 reproduce the
// published M4 hourly scores to the published precision: this pins the
// data reading, the metrics and the Naive2 seasonality test.
func TestM4PublishedBaselines(t *testing.T) {
	train, test := loadM4(t)
	H, m := 48, 24
	var s1, m1, s2, m2 float64
	f := make([]float64, H)
	for i := range train {
		sn := NewSeasonalNaive(m)
		for _, v := range train[i].Values {
			sn.Update(v)
		}
		sn.Forecast(f)
		sc := MASEScale(train[i].Values, m)
		s1 += SMAPE(test[i].Values, f)
		m1 += MASE(test[i].Values, f, sc)
		Naive2Forecast(train[i].Values, m, f)
		s2 += SMAPE(test[i].Values, f)
		m2 += MASE(test[i].Values, f, sc)
	}
	n := float64(len(train))
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"sNaive sMAPE", s1 / n, 13.912}, {"sNaive MASE", m1 / n, 1.193}, {"Naive2 sMAPE", s2 / n, 18.383}, {"Naive2 MASE", m2 / n, 2.395}} {
		if math.Abs(c.got-c.want) > 0.0005 {
			t.Errorf("%s = %.4f; want %.3f (published)", c.name, c.got, c.want)
		}
	}
}

func loadM4(t testing.TB) (train, test []Series) {
	dir := filepath.Join(dataDir, "m4-hourly")
	f, err := os.Open(filepath.Join(dir, "Hourly-train.csv"))
	if err != nil {
		t.Skipf("M4 hourly data not found in %s (%v); skipping", dir, err)
	}
	defer f.Close()
	if train, err = ReadM4(f); err != nil {
		t.Fatal(err)
	}
	g, err := os.Open(filepath.Join(dir, "Hourly-test.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if test, err = ReadM4(g); err != nil {
		t.Fatal(err)
	}
	return train, test
}

func TestReadM4Errors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "reading header"},
		{"V1,V2\n", "no series"},
		{"V1,V2,V3\n\"\",1,2\n", "empty series id"},
		{"V1,V2,V3\nH1,1,x\n", `row 2 (H1) column 3: "x" is not a finite number`},
		{"V1,V2,V3,V4\nH1,1,,3\n", "value after an empty field"},
		{"V1,V2\nH1,\n", "no values"},
		{"V1,V2\nH1,NaN\n", "not a finite number"},
	}
	for _, tc := range tests {
		_, err := ReadM4(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadM4(%q) error = %v; want it to contain %q", tc.in, err, tc.want)
		}
	}
	s, err := ReadM4(strings.NewReader("\"V1\",\"V2\",\"V3\"\n\"H1\",\"1\",\"2\"\n\"H2\",\"3\",\"\"\n"))
	if err != nil || len(s) != 2 || len(s[0].Values) != 2 || len(s[1].Values) != 1 || s[1].ID != "H2" {
		t.Errorf("ReadM4(padded) = %+v, %v; want H1 [1 2], H2 [3]", s, err)
	}
}

func FuzzReadM4(f *testing.F) {
	f.Add("\"V1\",\"V2\"\n\"H1\",\"1\"\n")
	f.Add("V1,V2,V3\nH1,1,,3\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ReadM4(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, x := range s {
			if x.ID == "" || len(x.Values) == 0 {
				t.Fatalf("ReadM4(%q) returned an empty series %+v without error", in, x)
			}
			for _, v := range x.Values {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("ReadM4(%q) returned %v", in, v)
				}
			}
		}
	})
}

func seasonalSeries(n int, periods []int, trend float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	y := make([]float64, n)
	for i := range y {
		v := 100 + trend*float64(i)
		for k, p := range periods {
			v += float64(20/(k+1)) * math.Sin(2*math.Pi*float64(i)/float64(p))
		}
		y[i] = v + r.NormFloat64()
	}
	return y
}

func TestETSSpecialCases(t *testing.T) {
	// SES on a constant forecasts the constant.
	s := NewSES(0.3)
	for range 50 {
		s.Update(7)
	}
	d := make([]float64, 5)
	s.Forecast(d)
	for _, v := range d {
		if math.Abs(v-7) > 1e-9 {
			t.Fatalf("SES(constant 7) forecast %v; want 7", d)
		}
	}
	// Holt (undamped) on a line extrapolates it.
	h := NewHolt(0.5, 0.5, 1)
	for i := range 50 {
		h.Update(10 + 2*float64(i))
	}
	h.Forecast(d)
	for k, v := range d {
		want := 10 + 2*float64(50+k)
		if math.Abs(v-want) > 1e-6 {
			t.Fatalf("Holt(line) step %d = %v; want %v", k+1, v, want)
		}
	}
	// Damped Holt flattens out: increments shrink by phi.
	hd := NewHolt(0.5, 0.5, 0.8)
	for i := range 50 {
		hd.Update(10 + 2*float64(i))
	}
	hd.Forecast(d)
	if !(d[1]-d[0] < 2 && d[4]-d[3] < d[1]-d[0]) {
		t.Errorf("damped Holt forecast %v; want shrinking increments", d)
	}
}

func TestHoltWintersMultiSeasonal(t *testing.T) {
	y := seasonalSeries(24*7*6, []int{24, 168}, 0.01, 3)
	train, test := y[:len(y)-48], y[len(y)-48:]
	for _, season := range []Season{SeasonAdditive, SeasonMultiplicative} {
		hw := NewHoltWinters(season, []int{24, 168}, 0.1, 0.01, 0.98, 0.1)
		for _, v := range train {
			hw.Update(v)
		}
		f := make([]float64, 48)
		hw.Forecast(f)
		if s := SMAPE(test, f); s > 3 {
			t.Errorf("HoltWinters(%v, [24 168]) sMAPE = %.2f; want < 3", season, s)
		}
	}
}

func TestFitAndAutoETS(t *testing.T) {
	y := seasonalSeries(24*20, []int{24}, 0.05, 5)
	e, err := AutoETS(y, AutoConfig{Periods: []int{24}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Spec().Season == SeasonNone {
		t.Errorf("AutoETS(seasonal series) chose %s; want a seasonal model", e.Spec())
	}
	if r := e.Fit(); !(r.AICc < math.Inf(1)) || r.K < 24 {
		t.Errorf("AutoETS fit result %+v; want finite AICc and K counting 23 seasonal states", r)
	}
	noise := seasonalSeries(300, nil, 0, 6)
	e2, err := AutoETS(noise, AutoConfig{Periods: []int{24}})
	if err != nil {
		t.Fatal(err)
	}
	if e2.Spec().Season != SeasonNone || e2.Spec().Trend == TrendAdditive {
		t.Errorf("AutoETS(level + noise) chose %s; want non-seasonal without a linear trend", e2.Spec())
	}
	// Multiplicative models refuse non-positive data.
	if _, err := Fit([]float64{1, 0, 2, 3, 4, 5}, Spec{Error: ErrorMultiplicative}, FitConfig{}); err == nil {
		t.Errorf("Fit(M error, data with 0) succeeded; want an error")
	}
	if _, err := Fit([]float64{1, 2}, Spec{Season: SeasonAdditive, Periods: []int{12}}, FitConfig{}); !errors.Is(err, ErrTooShort) {
		t.Errorf("Fit(2 values, seasonal) error = %v; want ErrTooShort", err)
	}
}

// TestBadInput feeds every forecaster the documented bad inputs and checks
// that it never emits NaN or a negative value.
func TestBadInput(t *testing.T) {
	inputs := map[string][]float64{
		"nan":       {1, 2, math.NaN(), 3, math.NaN(), math.NaN(), 4, 5, 6, 7, 8, 9, 10, 11, 12, 13},
		"inf":       {1, math.Inf(1), 2, math.Inf(-1), 3, 4, 5, 6, 7, 8},
		"negative":  {5, -3, 4, -100, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3},
		"zeros":     make([]float64, 60),
		"short":     {3},
		"empty":     nil,
		"allnan":    {math.NaN(), math.NaN()},
		"crash":     {100, 100, 100, 100, 100, 100, 100, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"spiky":     {0, 0, 0, 50, 0, 0, 0, 0, 70, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0, 90, 0, 0, 0, 0},
		"huge":      {1e12, 1e-12, 1e12, 1e-12, 1e12, 1e-12, 1e12, 1e-12},
		"downtrend": {100, 80, 60, 40, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1},
	}
	builders := map[string]func() Forecaster{
		"ses":     func() Forecaster { return NewSES(0.5) },
		"holt":    func() Forecaster { return NewHolt(0.5, 0.3, 1) },
		"damped":  func() Forecaster { return NewHolt(0.5, 0.3, 0.9) },
		"hw_add":  func() Forecaster { return NewHoltWinters(SeasonAdditive, []int{3, 6}, 0.3, 0.1, 0.9, 0.2) },
		"hw_mul":  func() Forecaster { return NewHoltWinters(SeasonMultiplicative, []int{4}, 0.3, 0.1, 0.9, 0.2) },
		"snaive":  func() Forecaster { return NewSeasonalNaive(4) },
		"naive2":  func() Forecaster { return NewNaive2(4, 40) },
		"croston": func() Forecaster { return NewIntermittent(Croston, 0.2, 0) },
		"sba":     func() Forecaster { return NewIntermittent(SBA, 0.2, 0) },
		"tsb":     func() Forecaster { return NewIntermittent(TSB, 0.2, 0.2) },
		"adaptive": func() Forecaster {
			return NewAdaptive(AdaptiveConfig{Periods: []int{4}, MinFit: 5})
		},
		"global": func() Forecaster {
			g, _ := NewGlobal(GlobalConfig{Horizon: 6, Lags: 4})
			return g.View(g.AddSeries(0))
		},
	}
	for in, ys := range inputs {
		for name, mk := range builders {
			f := mk()
			dst := make([]float64, 6)
			for i, y := range ys {
				f.Update(y)
				f.Forecast(dst)
				for k, v := range dst {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
						t.Fatalf("%s on %q after %d values: step %d = %v; want finite ≥ 0", name, in, i+1, k+1, v)
					}
				}
			}
			f.Forecast(dst)
			for _, v := range dst {
				if math.IsNaN(v) || v < 0 {
					t.Fatalf("%s on %q: forecast %v; want finite ≥ 0", name, in, dst)
				}
			}
		}
	}
}

func TestMissingKeepsSeasonalPhase(t *testing.T) {
	// A missing value is imputed, so the seasonal pattern stays aligned.
	y := seasonalSeries(24*10, []int{24}, 0, 9)
	a := NewHoltWinters(SeasonAdditive, []int{24}, 0.1, 0.01, 0, 0.1)
	b := NewHoltWinters(SeasonAdditive, []int{24}, 0.1, 0.01, 0, 0.1)
	for i, v := range y {
		a.Update(v)
		if i == 100 || i == 150 {
			v = math.NaN()
		}
		b.Update(v)
	}
	fa, fb := make([]float64, 24), make([]float64, 24)
	a.Forecast(fa)
	b.Forecast(fb)
	if s := SMAPE(fa, fb); s > 1 {
		t.Errorf("forecasts with two missing values differ by sMAPE %.2f; want < 1", s)
	}
}

func TestBucketer(t *testing.T) {
	var got []float64
	b := Bucketer{Step: time.Hour, Emit: func(y float64) { got = append(got, y) }}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.Add(t0.Add(10*time.Minute), 2))
	must(b.Add(t0.Add(50*time.Minute), 3))
	must(b.Add(t0.Add(20*time.Minute), -1))         // same bucket, out of order: fine; negative → 0
	must(b.Add(t0.Add(3*time.Hour+time.Minute), 4)) // two empty hours in between
	err := b.Add(t0.Add(30*time.Minute), 1)         // bucket already emitted
	must(b.Add(t0.Add(3*time.Hour+2*time.Minute), math.NaN()))
	b.Flush()
	want := []float64{5, 0, 0, 4}
	if !errors.Is(err, ErrOutOfOrder) || b.Dropped != 1 {
		t.Errorf("Add(old bucket) = %v, Dropped %d; want ErrOutOfOrder, 1", err, b.Dropped)
	}
	if len(got) != len(want) {
		t.Fatalf("emitted %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("emitted %v; want %v", got, want)
		}
	}
	var miss []float64
	bm := Bucketer{Step: time.Hour, Gaps: GapMissing, Emit: func(y float64) { miss = append(miss, y) }}
	must(bm.Add(t0, 1))
	must(bm.Add(t0.Add(2*time.Hour), 1))
	if len(miss) != 2 || !math.IsNaN(miss[1]) {
		t.Errorf("GapMissing emitted %v; want [1 NaN]", miss)
	}
}

func TestIntermittent(t *testing.T) {
	var y []float64
	for range 40 {
		y = append(y, 0, 0, 0, 6)
	}
	c := NewIntermittent(Croston, 0.1, 0)
	s := NewIntermittent(SBA, 0.1, 0)
	for _, v := range y {
		c.Update(v)
		s.Update(v)
	}
	// Demand 6 every 4 periods: rate 1.5.
	if r := c.Rate(); math.Abs(r-1.5) > 0.05 {
		t.Errorf("Croston rate = %v; want ≈ 1.5", r)
	}
	if s.Rate() >= c.Rate() {
		t.Errorf("SBA rate %v ≥ Croston %v; want the bias correction to lower it", s.Rate(), c.Rate())
	}
	// TSB decays when demand stops; Croston does not.
	tsb := NewIntermittent(TSB, 0.1, 0.2)
	for _, v := range y {
		tsb.Update(v)
	}
	before := tsb.Rate()
	for range 30 {
		tsb.Update(0)
		c.Update(0)
	}
	if tsb.Rate() > before/5 {
		t.Errorf("TSB rate after 30 zeros = %v (was %v); want it to decay", tsb.Rate(), before)
	}
}

func TestIntervalCoverageUnderDrift(t *testing.T) {
	// Noise whose scale jumps ×4 halfway: online conformal must keep the
	// realised coverage near nominal on the second half.
	r := rand.New(rand.NewPCG(11, 12))
	iv, err := NewInterval(NewSES(0.05), IntervalConfig{Horizon: 3, Levels: []float64{0.8, 0.95}, Gamma: 0.01, Window: 300})
	if err != nil {
		t.Fatal(err)
	}
	pt := make([]float64, 1)
	lo := [][]float64{make([]float64, 1), make([]float64, 1)}
	hi := [][]float64{make([]float64, 1), make([]float64, 1)}
	var in80, in95, n float64
	for i := range 6000 {
		sd := 1.0
		if i >= 3000 {
			sd = 4
		}
		y := 100 + sd*r.NormFloat64()
		if i >= 3500 {
			iv.Predict(pt, lo, hi)
			n++
			if y >= lo[0][0] && y <= hi[0][0] {
				in80++
			}
			if y >= lo[1][0] && y <= hi[1][0] {
				in95++
			}
		}
		iv.Update(y)
	}
	if c := in80 / n; math.Abs(c-0.8) > 0.03 {
		t.Errorf("coverage80 after the jump = %.3f; want 0.80 ± 0.03", c)
	}
	if c := in95 / n; math.Abs(c-0.95) > 0.03 {
		t.Errorf("coverage95 after the jump = %.3f; want 0.95 ± 0.03", c)
	}
}

func TestAdaptiveReselectsOnDrift(t *testing.T) {
	a := NewAdaptive(AdaptiveConfig{Periods: []int{7}, Window: 70, RefitEvery: -1})
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		level := 10.0
		if i >= 200 {
			level = 60
		}
		a.Update(level + r.NormFloat64())
	}
	if a.Drifts() == 0 {
		t.Fatalf("Adaptive saw a level shift ×6 and reported no drift")
	}
	if a.LastDrift() < 200 {
		t.Errorf("last drift at observation %d; want after the shift at 200", a.LastDrift())
	}
	d := make([]float64, 7)
	a.Forecast(d)
	if math.Abs(d[0]-60) > 5 {
		t.Errorf("forecast after the shift %v; want ≈ 60 (model %s)", d, a.Model())
	}
	// An intermittent series gets TSB.
	b := NewAdaptive(AdaptiveConfig{MinFit: 20})
	for i := range 40 {
		v := 0.0
		if i%5 == 0 {
			v = 3
		}
		b.Update(v)
	}
	if b.Model() != "TSB" {
		t.Errorf("Adaptive(intermittent) model = %s; want TSB", b.Model())
	}
}

func TestGlobalLearnsSharedPattern(t *testing.T) {
	g, err := NewGlobal(GlobalConfig{Horizon: 12, Lags: 24, Log: true})
	if err != nil {
		t.Fatal(err)
	}
	var test [][]float64
	for s := range 20 {
		y := seasonalSeries(24*12, []int{12}, 0, uint64(s))
		for i := range y {
			y[i] *= float64(s + 1) // different scales, same shape
		}
		id := g.AddSeries(0)
		for _, v := range y[:len(y)-12] {
			g.Observe(id, v)
		}
		test = append(test, y[len(y)-12:])
	}
	if err := g.Solve(); err != nil {
		t.Fatal(err)
	}
	d := make([]float64, 12)
	for s := range 20 {
		g.Forecast(s, d)
		if e := SMAPE(test[s], d); e > 4 {
			t.Errorf("Global series %d sMAPE = %.2f; want < 4", s, e)
		}
	}
	if _, err := NewGlobal(GlobalConfig{}); err == nil {
		t.Errorf("NewGlobal(Horizon 0) succeeded; want an error")
	}
}

func TestEvalM4Small(t *testing.T) {
	// Evaluate the first 12 hourly series through temporary files.
	train, test := loadM4(t)
	dir := t.TempDir()
	write := func(name string, ss []Series) {
		var b strings.Builder
		b.WriteString("V1,V2\n")
		for _, s := range ss[:12] {
			b.WriteString(s.ID)
			for _, v := range s.Values {
				b.WriteString("," + strconvF(v))
			}
			b.WriteString("\n")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Hourly-train.csv", train)
	write("Hourly-test.csv", test)
	var csvOut strings.Builder
	rep, err := EvalM4(context.Background(), M4Config{Dir: dir, Forecasts: &csvOut, Methods: []string{"snaive", "naive2", "global_std"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.N != 12 || rep.Horizon != 48 || rep.Period != 24 || rep.Frequency != "hourly" {
		t.Errorf("EvalM4 report %+v; want 12 hourly series, horizon 48, period 24", rep)
	}
	lines := strings.Split(strings.TrimSpace(csvOut.String()), "\n")
	if len(lines) != 1+12*48 || lines[0] != "series,step,forecast,lo80,hi80,lo95,hi95" {
		t.Errorf("forecast CSV has %d lines, header %q; want %d and the documented header", len(lines), lines[0], 1+12*48)
	}
	if !(rep.Metrics.SMAPE > 0 && rep.Metrics.MASE > 0 && rep.Metrics.Coverage95 >= rep.Metrics.Coverage80) {
		t.Errorf("EvalM4 metrics %+v; want positive errors and coverage95 ≥ coverage80", rep.Metrics)
	}
	if _, err := EvalM4(context.Background(), M4Config{Dir: dir, Methods: []string{"nope"}}); err == nil {
		t.Errorf("EvalM4(method nope) succeeded; want an error")
	}
	if _, err := EvalM4(context.Background(), M4Config{Dir: t.TempDir()}); err == nil {
		t.Errorf("EvalM4(empty dir) succeeded; want an error")
	}
}

func strconvF(v float64) string { return strings.TrimRight(strings.TrimRight(fmtF(v), "0"), ".") }

func TestEvalSeries(t *testing.T) {
	for _, c := range []struct {
		path    string
		maxOWA  float64
		wantMul bool
	}{
		{filepath.Join(dataDir, "air-passengers", "air_passengers.csv"), 1, true},
		{filepath.Join(dataDir, "us-retail-sales-monthly", "retail_sales.csv"), 1, false},
	} {
		if _, err := os.Stat(c.path); err != nil {
			t.Skipf("%s not found; skipping", c.path)
		}
		rep, err := EvalSeries(context.Background(), SeriesConfig{Path: c.path, Period: 12})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s %+v per method %+v", filepath.Base(c.path), rep.Model, rep.Metrics, rep.PerMethod)
		if rep.Metrics.OWA > c.maxOWA {
			t.Errorf("EvalSeries(%s) AutoETS OWA = %.3f; want ≤ %v (better than Naive2)", c.path, rep.Metrics.OWA, c.maxOWA)
		}
	}
}

// TestEvalM4Period1 evaluates a synthetic non-seasonal M4 file (named
// like the held-back Weekly set, period 1) with series of very different
// lengths, some too short for the global model's window.
func TestEvalM4Period1(t *testing.T) {
	dir := t.TempDir()
	var tr, te strings.Builder
	tr.WriteString("V1,V2\n")
	te.WriteString("V1,V2\n")
	r := rand.New(rand.NewPCG(5, 5))
	for s := range 30 {
		n := 20 + 10*s
		v := 100 + 10*r.Float64()
		id := "W" + strconvF(float64(s+1))
		tr.WriteString(id)
		te.WriteString(id)
		for i := range n + 13 {
			v = math.Max(1, v+r.NormFloat64()+0.2)
			if i < n {
				tr.WriteString("," + strconvF(v))
			} else {
				te.WriteString("," + strconvF(v))
			}
		}
		tr.WriteString("\n")
		te.WriteString("\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "Weekly-train.csv"), []byte(tr.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Weekly-test.csv"), []byte(te.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep, err := EvalM4(context.Background(), M4Config{Dir: dir, Forecasts: &out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Period != 1 || rep.Horizon != 13 || rep.Frequency != "weekly" || rep.N != 30 {
		t.Errorf("EvalM4(weekly) = period %d horizon %d frequency %q n %d; want 1, 13, weekly, 30", rep.Period, rep.Horizon, rep.Frequency, rep.N)
	}
	if _, ok := rep.PerMethod["dshw"]; ok {
		t.Errorf("EvalM4(period 1) ran dshw; want it skipped")
	}
	if n := strings.Count(out.String(), "\n"); n != 1+30*13 {
		t.Errorf("forecast CSV has %d lines; want %d", n, 1+30*13)
	}
	if !(rep.Metrics.OWA > 0 && rep.Metrics.OWA < 1.5) {
		t.Errorf("EvalM4(weekly) OWA = %v; want a sane value", rep.Metrics.OWA)
	}
}

func TestGlobalCalendarFeatures(t *testing.T) {
	// Demand is 30 on the first 2 days of each 7-day week and 10 otherwise:
	// with only 2 lags the pattern is invisible without calendar features.
	val := func(t int64) float64 {
		if t%7 < 2 {
			return 30
		}
		return 10
	}
	run := func(cal []int) float64 {
		g, err := NewGlobal(GlobalConfig{Horizon: 7, Lags: 2, CalendarPeriods: cal})
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for s := range 5 {
			phase := int64(s * 3)
			id := g.AddSeries(phase)
			for i := range int64(200) {
				g.Observe(id, val(phase+i))
			}
		}
		if err := g.Solve(); err != nil {
			t.Fatal(err)
		}
		d := make([]float64, 7)
		for s := range 5 {
			g.Forecast(s, d)
			want := make([]float64, 7)
			for k := range want {
				want[k] = val(int64(s*3) + 200 + int64(k))
			}
			worst = max(worst, SMAPE(want, d))
		}
		return worst
	}
	with, without := run([]int{7}), run(nil)
	if with > 5 || with >= without {
		t.Errorf("Global sMAPE with a weekly calendar = %.2f, without = %.2f; want < 5 and better", with, without)
	}
}

// TestIntervalWindows checks the conformal radius against a direct
// computation (the last Window absolute errors of each step, sorted,
// at the level's quantile) while the windows fill and after they wrap,
// and that a new Interval does not allocate its windows up front.
func TestIntervalWindows(t *testing.T) {
	const h, window = 3, 7
	iv, err := NewInterval(NewSeasonalNaive(1), IntervalConfig{Horizon: h, Levels: []float64{0.8}, Gamma: 1e-300, Window: window, MinScores: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var ys []float64
	point, lo, hi := make([]float64, h), [][]float64{make([]float64, h)}, [][]float64{make([]float64, h)}
	for step := range 40 {
		y := 100 + 20*rng.Float64()
		ys = append(ys, y)
		iv.Update(y)
		iv.Predict(point, lo, hi)
		for k := range h {
			// The naive forecast made k+1 updates before y_t was y_{t-k-1}.
			var scores []float64
			for t := k + 1; t < len(ys); t++ {
				scores = append(scores, math.Abs(ys[t]-ys[t-k-1]))
			}
			if len(scores) > window {
				scores = scores[len(scores)-window:]
			}
			want := 0.0
			if n := len(scores); n > 0 {
				slices.Sort(scores)
				want = scores[min(max(int(math.Ceil(float64(n+1)*0.8))-1, 0), n-1)]
			} else {
				// No score of this step yet: the largest score of any step.
				for j := range h {
					for t := j + 1; t < len(ys); t++ {
						want = max(want, math.Abs(ys[t]-ys[t-j-1]))
					}
				}
			}
			if got := hi[0][k] - point[k]; math.Abs(got-want) > 1e-9 {
				t.Fatalf("after %d updates, step %d: radius %v; want %v", step+1, k+1, got, want)
			}
		}
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100
	keep := make([]*Interval, n)
	for i := range keep {
		keep[i], _ = NewInterval(NewSES(0.1), IntervalConfig{Horizon: 28, Window: 500})
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 32<<10 {
		t.Errorf("a new Interval (Horizon 28, Window 500) allocates %d bytes; want < 32 KiB (windows grow with their scores)", per)
	}
	runtime.KeepAlive(keep)
}
