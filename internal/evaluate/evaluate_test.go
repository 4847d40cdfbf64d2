package evaluate

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/perpetua-ml/perpetua/internal/learn/baseline"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files in testdata/")

// logistic is a test-only online logistic regression trained by SGD.
type logistic struct {
	w  []float64
	b  float64
	lr float64
}

func newLogistic(dim int, lr float64) *logistic { return &logistic{w: make([]float64, dim), lr: lr} }

func (m *logistic) Predict(x []float32) float64 {
	z := m.b
	for i, v := range x {
		z += m.w[i] * float64(v)
	}
	return 1 / (1 + math.Exp(-z))
}

func (m *logistic) Learn(x []float32, y float64) {
	g := m.Predict(x) - y
	for i, v := range x {
		m.w[i] -= m.lr * g * float64(v)
	}
	m.b -= m.lr * g
}

// strict wraps a learner and checks the prequential protocol: each
// example is predicted exactly once, then learned with the same x, in
// order. It records every prediction.
type strict struct {
	t         *testing.T
	inner     *logistic
	preds     []float64
	predicted bool
	last      []float32
}

func (s *strict) Predict(x []float32) float64 {
	if s.predicted {
		s.t.Fatalf("example %d predicted twice without learning", len(s.preds))
	}
	s.predicted = true
	s.last = append(s.last[:0], x...)
	p := s.inner.Predict(x)
	s.preds = append(s.preds, p)
	return p
}

func (s *strict) Learn(x []float32, y float64) {
	if !s.predicted {
		s.t.Fatalf("example %d learned before it was predicted", len(s.preds))
	}
	if fmt.Sprint(x) != fmt.Sprint(s.last) {
		s.t.Fatalf("example %d learned with x = %v; predicted with %v", len(s.preds)-1, x, s.last)
	}
	s.predicted = false
	s.inner.Learn(x, y)
}

type example struct {
	x []float32
	y float64
}

// sliceSource serves examples from memory; after stopAt examples it calls
// onStop (once), and it fails with err at the end if err is set.
type sliceSource struct {
	exs    []example
	i      int
	err    error
	stopAt int
	onStop func()
}

func (s *sliceSource) Next() bool {
	if s.onStop != nil && s.i == s.stopAt {
		s.onStop()
		s.onStop = nil
	}
	if s.i >= len(s.exs) {
		return false
	}
	s.i++
	return true
}

func (s *sliceSource) Example() ([]float32, float64) { e := s.exs[s.i-1]; return e.x, e.y }

func (s *sliceSource) Err() error {
	if s.i >= len(s.exs) {
		return s.err
	}
	return nil
}

// synthetic draws a linearly separable-ish stream whose concept flips
// halfway (so windowed and cumulative metrics differ).
func synthetic(seed uint64, n int) []example {
	rng := rand.New(rand.NewPCG(seed, 11))
	exs := make([]example, n)
	for i := range exs {
		x := []float32{float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())}
		z := 2*float64(x[0]) - float64(x[1])
		if i >= n/2 {
			z = -z
		}
		y := 0.0
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			y = 1
		}
		exs[i] = example{x, y}
	}
	return exs
}

func TestClassifyIsPrequential(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	exs := synthetic(seed, 3000)
	model := &strict{t: t, inner: newLogistic(3, 0.05)}
	res, err := Classify(context.Background(), &sliceSource{exs: exs}, model, Options{Model: "logistic", Window: 200, Fading: 0.99})
	if err != nil {
		t.Fatal(err)
	}
	if res.N != int64(len(exs)) || len(model.preds) != len(exs) {
		t.Fatalf("N = %d with %d predictions; want %d", res.N, len(model.preds), len(exs))
	}
	// The metrics are exactly those of the recorded predictions.
	want := metric.NewBinary(200, 0.99)
	for i, p := range model.preds {
		want.Update(p, exs[i].y)
	}
	if got, w := res.Metrics, want.Snapshot(); got != w {
		t.Errorf("seed %d: Metrics = %+v; want %+v", seed, got, w)
	}
	if res.Task != TaskClassify || res.Model != "logistic" || res.Window != 200 || res.Fading != 0.99 {
		t.Errorf("Result header = %q, %q, %d, %v; want classify, logistic, 200, 0.99", res.Task, res.Model, res.Window, res.Fading)
	}
	if !(res.Seconds > 0 && res.PerSecond > 0) {
		t.Errorf("Seconds = %v, PerSecond = %v; want both > 0", res.Seconds, res.PerSecond)
	}
	// After the concept flips, the recent window must see it: the learner
	// adapts, so windowed accuracy differs from cumulative.
	if res.Metrics.WindowAccuracy == res.Metrics.Accuracy {
		t.Errorf("window accuracy equals cumulative accuracy (%v): windowing has no effect", res.Metrics.Accuracy)
	}
}

// readPredictions parses a predictions CSV.
func readPredictions(t *testing.T, data []byte) (preds, labels []float64) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "index,prediction,label" {
		t.Fatalf("predictions header = %q; want index,prediction,label", recs[:1])
	}
	for i, rec := range recs[1:] {
		if rec[0] != strconv.Itoa(i) {
			t.Fatalf("row %d has index %q", i, rec[0])
		}
		p, err1 := strconv.ParseFloat(rec[1], 64)
		y, err2 := strconv.ParseFloat(rec[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %d = %q: %v %v", i, rec, err1, err2)
		}
		preds, labels = append(preds, p), append(labels, y)
	}
	return preds, labels
}

// TestPredictionsRecompute checks an outsider recomputes the reported
// metrics exactly from the predictions file.
func TestPredictionsRecompute(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	exs := synthetic(seed, 2500)
	var out bytes.Buffer
	res, err := Classify(context.Background(), &sliceSource{exs: exs}, newLogistic(3, 0.1), Options{Predictions: &out})
	if err != nil {
		t.Fatal(err)
	}
	preds, labels := readPredictions(t, out.Bytes())
	if len(preds) != int(res.N) {
		t.Fatalf("%d prediction rows; N = %d", len(preds), res.N)
	}
	correct := 0
	var ll metric.LogLoss
	var auc metric.AUC
	for i, p := range preds {
		if labels[i] != exs[i].y {
			t.Fatalf("row %d label %v; want %v", i, labels[i], exs[i].y)
		}
		if (p >= 0.5) == (labels[i] == 1) {
			correct++
		}
		ll.Update(p, labels[i])
		auc.Update(p, labels[i])
	}
	if got := float64(correct) / float64(len(preds)); got != res.Metrics.Accuracy {
		t.Errorf("seed %d: accuracy recomputed from the file = %v; reported %v", seed, got, res.Metrics.Accuracy)
	}
	if got := ll.Value(); got != res.Metrics.LogLoss {
		t.Errorf("seed %d: log loss recomputed from the file = %v; reported %v", seed, got, res.Metrics.LogLoss)
	}
	if got := auc.Value(); got != res.Metrics.AUC {
		t.Errorf("seed %d: AUC recomputed from the file = %v; reported %v", seed, got, res.Metrics.AUC)
	}
}

func TestResultJSON(t *testing.T) {
	res, err := Classify(context.Background(), &sliceSource{exs: synthetic(1, 100)}, newLogistic(3, 0.1), Options{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("JSON %s holds more than one value", data)
	}
	for _, key := range []string{"task", "model", "n", "window", "fading", "metrics", "seconds", "per_second"} {
		if _, ok := obj[key]; !ok {
			t.Errorf("JSON %s lacks key %q", data, key)
		}
	}
	var metrics map[string]*float64
	if err := json.Unmarshal(obj["metrics"], &metrics); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"log_loss", "accuracy", "auc", "brier", "window_log_loss", "window_accuracy", "window_auc", "fading_log_loss", "fading_accuracy"} {
		if v, ok := metrics[key]; !ok || v == nil {
			t.Errorf("metrics %s: %q missing or null", obj["metrics"], key)
		}
	}
	if string(obj["task"]) != `"classify"` || string(obj["n"]) != "100" {
		t.Errorf("task, n = %s, %s; want \"classify\", 100", obj["task"], obj["n"])
	}
}

// TestEmptyStream: no examples is not an error; undefined metrics are
// null in JSON.
func TestEmptyStream(t *testing.T) {
	res, err := Classify(context.Background(), &sliceSource{}, newLogistic(3, 0.1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("json.Marshal(empty result): %v", err)
	}
	if !strings.Contains(string(data), `"n":0,`) || !strings.Contains(string(data), `"auc":null`) {
		t.Errorf("empty result JSON = %s; want n 0 and null metrics", data)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const stopAt = 3000
	src := &sliceSource{exs: synthetic(2, 20000), stopAt: stopAt, onStop: cancel}
	var out bytes.Buffer
	prog := &recorder{}
	res, err := Classify(ctx, src, newLogistic(3, 0.1), Options{Predictions: &out, Progress: prog})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "evaluate: stopped after ") {
		t.Fatalf("Classify after cancel: %v; want an evaluate error wrapping context.Canceled", err)
	}
	if res.N < stopAt || res.N > stopAt+checkEvery {
		t.Errorf("N = %d after cancelling at %d; want within %d", res.N, stopAt, checkEvery)
	}
	preds, _ := readPredictions(t, out.Bytes())
	if int64(len(preds)) != res.N {
		t.Errorf("%d prediction rows flushed; N = %d", len(preds), res.N)
	}
	if prog.finished != 1 || prog.last != res.N {
		t.Errorf("progress: Finish called %d times, last Update %d; want 1, %d", prog.finished, prog.last, res.N)
	}
}

type recorder struct {
	updates  []int64
	last     int64
	finished int
}

func (r *recorder) Update(n int64) { r.updates = append(r.updates, n); r.last = n }
func (r *recorder) Finish()        { r.finished++ }

func TestProgressReports(t *testing.T) {
	prog := &recorder{}
	res, err := Classify(context.Background(), &sliceSource{exs: synthetic(3, 5000)}, newLogistic(3, 0.1), Options{Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{1024, 2048, 3072, 4096, 5000}
	if fmt.Sprint(prog.updates) != fmt.Sprint(want) || prog.finished != 1 {
		t.Errorf("progress updates %v, Finish ×%d; want %v, ×1 (N = %d)", prog.updates, prog.finished, want, res.N)
	}
}

func TestSourceError(t *testing.T) {
	boom := errors.New("boom")
	res, err := Classify(context.Background(), &sliceSource{exs: synthetic(4, 10), err: boom}, newLogistic(3, 0.1), Options{})
	if !errors.Is(err, boom) || err.Error() != "evaluate: after 10 examples: boom" || res.N != 10 {
		t.Errorf("Classify with a failing source = %d examples, %v; want 10, \"evaluate: after 10 examples: boom\"", res.N, err)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestPredictionsWriteError(t *testing.T) {
	_, err := Classify(context.Background(), &sliceSource{exs: synthetic(5, 20000)}, newLogistic(3, 0.1), Options{Predictions: &failWriter{after: 100 << 10}})
	if err == nil || !strings.Contains(err.Error(), "evaluate: writing predictions") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Classify with a failing predictions writer: %v; want a writing-predictions error", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, opts := range []Options{{Window: -1}, {Window: metric.MaxWindow + 1}, {Fading: 1.5}, {Fading: -0.1}, {Fading: math.NaN()}} {
		if _, err := Classify(context.Background(), &sliceSource{}, newLogistic(3, 0.1), opts); err == nil || !strings.HasPrefix(err.Error(), "evaluate: ") {
			t.Errorf("Classify(Options%+v) error = %v; want an evaluate error", opts, err)
		}
	}
}

// TestNoPerRowAllocations: the loop (predictions writer included) does not
// allocate per row; only the cumulative AUC's node arena grows, O(log n)
// times.
func TestNoPerRowAllocations(t *testing.T) {
	allocs := func(n int) float64 {
		exs := synthetic(6, n)
		model := newLogistic(3, 0.1)
		return testing.AllocsPerRun(3, func() {
			if _, err := Classify(context.Background(), &sliceSource{exs: exs}, model, Options{Predictions: io.Discard}); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(1000), allocs(20000)
	if large-small > 20 {
		t.Errorf("Classify allocates %v times for 1,000 rows and %v for 20,000; want a difference ≤ 20 (arena growth only)", small, large)
	}
}

var floatRE = regexp.MustCompile(`-?\d+\.\d+(e[-+]?\d+)?`)

// normalize masks timings and rounds floats to 9 significant digits, so
// the golden file pins the shape and values but not the last bits, which
// may differ across architectures (fused multiply-add).
func normalize(t *testing.T, res Result) []byte {
	t.Helper()
	if !(res.Seconds > 0 && res.PerSecond > 0) {
		t.Errorf("Seconds = %v, PerSecond = %v; want both > 0", res.Seconds, res.PerSecond)
	}
	res.Seconds, res.PerSecond = 0, 0
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = floatRE.ReplaceAllFunc(data, func(b []byte) []byte {
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			t.Fatal(err)
		}
		return strconv.AppendFloat(nil, f, 'g', 9, 64)
	})
	data = regexp.MustCompile(`"(seconds|per_second)": 0`).ReplaceAll(data, []byte(`"$1": "<masked>"`))
	return append(data, '\n')
}

func TestGoldenElec2Excerpt(t *testing.T) {
	f, err := os.Open("../dataset/testdata/elec2_head200.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := dataset.NewCSV(f, dataset.Options{Target: "class"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Classify(context.Background(), src, newLogistic(src.Dim(), 0.5), Options{Model: "logistic", Window: 50, Fading: 0.99})
	if err != nil {
		t.Fatal(err)
	}
	got := normalize(t, res)
	const golden = "testdata/classify_elec2_head200.golden.json"
	if *rewrite {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Classify on the Elec2 excerpt:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

func TestWriteText(t *testing.T) {
	res := Result{Task: TaskClassify, Model: "linear", N: 45312, Window: 1000, Fading: 0.999, Seconds: 0.5, PerSecond: 90624,
		NoChangeAccuracy: 0.8533, Drift: "adwin", DriftIndices: []int64{12, 345},
		Metrics: metric.Values{LogLoss: 0.41234, Accuracy: 0.8, AUC: 0.9, Brier: 0.13, WindowLogLoss: 0.39,
			WindowAccuracy: 0.81, WindowAUC: math.NaN(), FadingLogLoss: 0.4, FadingAccuracy: 0.79}}
	var b strings.Builder
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	const want = `task      classify
model     linear
examples  45312
time      0.500 s (90624 examples/s)
          
metric    cumulative  window (1000)  fading (0.999)
log loss  0.4123      0.3900         0.4000
accuracy  0.8000      0.8100         0.7900
auc       0.9000      n/a            -
brier     0.1300      -              -
          
baseline  no-change accuracy 0.8533 (predicting the previous label)
drift     adwin flagged 2 times at [12 345]
`
	if b.String() != want {
		t.Errorf("WriteText =\n%s\nwant\n%s", b.String(), want)
	}
}

func TestProgressBar(t *testing.T) {
	tests := []struct {
		total  int64
		update int64
		want   string
	}{
		{100, 100, "(100/100"},
		{100, 40, "(40/100"}, // stopped short: the bar stays where it was
		{0, 12345, "(12345/-"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		p := NewProgressBar(&buf, tt.total)
		p.Update(tt.update)
		p.Finish()
		p.Finish()
		if out := buf.String(); !strings.Contains(out, tt.want) || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
			t.Errorf("NewProgressBar(total %d) after Update(%d), Finish: %q; want it to show %q and end one line", tt.total, tt.update, out, tt.want)
		}
	}
	NopProgress().Update(1)
	NopProgress().Finish()
}

// flagEvery is a test detector that flags drift on every k-th error.
type flagEvery struct {
	k, errs int
	drift   bool
}

func (d *flagEvery) Update(v float64) {
	d.drift = false
	if v == 1 {
		d.errs++
		d.drift = d.errs%d.k == 0
	}
}
func (d *flagEvery) Drift() bool { return d.drift }
func (d *flagEvery) Reset()      {}

func TestDriftIndices(t *testing.T) {
	// The labels alternate 0, 1, 0, …; a no-change predictor is wrong on
	// every example (the first gets 0.5, which counts as class 1), so the
	// 3rd, 6th and 9th errors are at positions 2, 5 and 8.
	src := &sliceSource{}
	for i := 0; i < 10; i++ {
		src.exs = append(src.exs, example{x: []float32{0}, y: float64(i % 2)})
	}
	res, err := Classify(context.Background(), src, &baseline.NoChange{}, Options{Drift: &flagEvery{k: 3}, DriftName: "every3"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(res.DriftIndices), "[2 5 8]"; got != want {
		t.Fatalf("DriftIndices = %s; want %s", got, want)
	}
	b, _ := json.Marshal(res)
	if !strings.Contains(string(b), `"drift":"every3","drift_indices":[2,5,8]`) {
		t.Fatalf("JSON %s lacks the drift fields", b)
	}
	res, _ = Classify(context.Background(), &sliceSource{}, &baseline.NoChange{}, Options{Drift: &flagEvery{k: 3}, DriftName: "x"})
	if b, _ := json.Marshal(res); !strings.Contains(string(b), `"drift_indices":[]`) {
		t.Fatalf("JSON %s: want an empty drift_indices list when a detector ran", b)
	}
}
