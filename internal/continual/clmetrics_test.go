package continual

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
)

func TestNewCLMatrix(t *testing.T) {
	for _, tc := range []struct {
		name          string
		r             [][]float64
		base          []float64
		acc, bwt, fwt float64
	}{
		{
			// ACC = (0.5+0.75+1)/3 = 0.75
			// BWT = ((R20-R00) + (R21-R11))/2 = ((0.5-0.75) + (0.75-1))/2 = -0.25
			// FWT = ((R01-b1) + (R12-b2))/2 = ((0.5-0.5) + (0.5-0.75))/2 = -0.125
			name: "three segments",
			r: [][]float64{
				{0.75, 0.5, 0.25},
				{0.5, 1, 0.5},
				{0.5, 0.75, 1},
			},
			base: []float64{0.5, 0.5, 0.75},
			acc:  (0.5 + 0.75 + 1) / 3,
			bwt:  ((0.5 - 0.75) + (0.75 - 1)) / 2,
			fwt:  ((0.5 - 0.5) + (0.5 - 0.75)) / 2,
		},
		{
			name: "two segments, no forgetting",
			r:    [][]float64{{0.9, 0.2}, {0.95, 0.8}},
			base: []float64{0.5, 0.5},
			acc:  (0.95 + 0.8) / 2,
			bwt:  0.95 - 0.9,
			fwt:  0.2 - 0.5,
		},
		{
			name: "recurring A B A B, full forgetting",
			r: [][]float64{
				{1, 0, 1, 0},
				{0, 1, 0, 1},
				{1, 0, 1, 0},
				{0, 1, 0, 1},
			},
			base: []float64{0.5, 0.5, 0.5, 0.5},
			acc:  0.5,
			bwt:  ((0 - 1) + (1 - 1) + (0 - 1)) / 3.0,
			fwt:  ((0 - 0.5) + (0 - 0.5) + (0 - 0.5)) / 3.0,
		},
	} {
		m, err := NewCLMatrix(nil, tc.r, tc.base)
		if err != nil {
			t.Fatalf("%s: NewCLMatrix = %v", tc.name, err)
		}
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"ACC", m.ACC, tc.acc}, {"BWT", m.BWT, tc.bwt}, {"FWT", m.FWT, tc.fwt}} {
			if math.Abs(c.got-c.want) > 1e-12 {
				t.Errorf("%s: %s = %v; want %v", tc.name, c.what, c.got, c.want)
			}
		}
		tc.r[0][0] = -5 // the matrix holds a copy
		if m.R[0][0] == -5 {
			t.Errorf("%s: NewCLMatrix kept the caller's row", tc.name)
		}
	}
}

func TestNewCLMatrixErrors(t *testing.T) {
	ok := [][]float64{{1, 0}, {0, 1}}
	for _, tc := range []struct {
		name  string
		names []string
		r     [][]float64
		base  []float64
		want  string
	}{
		{"one segment", nil, [][]float64{{1}}, []float64{0.5}, "1 segments; want at least 2"},
		{"baseline length", nil, ok, []float64{0.5}, "1 baseline accuracies for 2 segments"},
		{"names length", []string{"a"}, ok, []float64{0.5, 0.5}, "1 names for 2 segments"},
		{"ragged", nil, [][]float64{{1, 0}, {0}}, []float64{0.5, 0.5}, "row 1 has 1 entries; want 2"},
		{"not an accuracy", nil, [][]float64{{1, 0}, {0, 1.5}}, []float64{0.5, 0.5}, "R[1][1] = 1.5"},
		{"NaN", nil, [][]float64{{1, math.NaN()}, {0, 1}}, []float64{0.5, 0.5}, "R[0][1] = NaN"},
		{"bad baseline", nil, ok, []float64{0.5, -0.1}, "Baseline[1] = -0.1"},
	} {
		_, err := NewCLMatrix(tc.names, tc.r, tc.base)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "continual: ") {
			t.Errorf("NewCLMatrix(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// lastLabel predicts the label it learned last (0.5 before any): a
// learner whose accuracy matrix is known by hand.
type lastLabel struct{ p float64 }

func (l *lastLabel) Predict([]float32) float64    { return l.p }
func (l *lastLabel) Learn(_ []float32, y float64) { l.p = y }

func constSegment(name string, trainY []float64, testY ...float64) Segment {
	s := Segment{Name: name}
	for _, y := range trainY {
		s.Train = append(s.Train, Sample{X: []float32{0}, Y: y})
	}
	for _, y := range testY {
		s.Test = append(s.Test, Sample{X: []float32{0}, Y: y})
	}
	return s
}

func TestEvaluateCLByHand(t *testing.T) {
	segs := []Segment{
		constSegment("A", []float64{0, 1}, 1, 1, 1, 0),    // ends on 1
		constSegment("B", []float64{1, 0, 0}, 0, 0, 1, 1), // ends on 0
		constSegment("C", []float64{1}, 1, 0, 0, 0),       // ends on 1
	}
	// Predicting 1: accuracy = fraction of 1 labels; predicting 0: of 0
	// labels; untrained 0.5 counts as class 1.
	//           A     B     C
	// after A  0.75  0.5   0.25
	// after B  0.25  0.5   0.75
	// after C  0.75  0.5   0.25
	// untrained 0.75 0.5   0.25
	m, err := EvaluateCL(func() learn.Binary { return &lastLabel{p: 0.5} }, segs)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{{0.75, 0.5, 0.25}, {0.25, 0.5, 0.75}, {0.75, 0.5, 0.25}}
	if fmt.Sprint(m.R) != fmt.Sprint(want) || fmt.Sprint(m.Baseline) != fmt.Sprint([]float64{0.75, 0.5, 0.25}) {
		t.Fatalf("R = %v, baseline %v; want %v, [0.75 0.5 0.25]", m.R, m.Baseline, want)
	}
	// ACC = (0.75+0.5+0.25)/3 = 0.5; BWT = ((0.75-0.75)+(0.5-0.5))/2 = 0;
	// FWT = ((0.5-0.5)+(0.75-0.25))/2 = 0.25.
	if m.ACC != 0.5 || m.BWT != 0 || m.FWT != 0.25 {
		t.Errorf("ACC, BWT, FWT = %v, %v, %v; want 0.5, 0, 0.25", m.ACC, m.BWT, m.FWT)
	}
	b, err := m.JSON()
	must(t, err)
	golden(t, "clmatrix.golden.json", append(b, '\n'))
	var back CLMatrix
	must(t, json.Unmarshal(b, &back))
	if fmt.Sprint(back) != fmt.Sprint(*m) {
		t.Errorf("JSON round trip = %+v; want %+v", back, *m)
	}
}

func TestEvaluateCLErrors(t *testing.T) {
	newL := func() learn.Binary { return &lastLabel{} }
	two := []Segment{constSegment("a", nil, 1), constSegment("b", nil, 1)}
	for _, tc := range []struct {
		name string
		newL func() learn.Binary
		segs []Segment
		want string
	}{
		{"nil constructor", nil, two, "nil learner constructor"},
		{"one segment", newL, two[:1], "1 segments"},
		{"no test", newL, []Segment{two[0], constSegment("b", []float64{1})}, `segment 1 ("b") has no test examples`},
	} {
		if _, err := EvaluateCL(tc.newL, tc.segs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("EvaluateCL(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func ExampleNewCLMatrix() {
	// Accuracy on each concept's test set (columns) after training
	// through each concept (rows) of a stream A → B.
	m, err := NewCLMatrix([]string{"A", "B"}, [][]float64{
		{0.90, 0.40},
		{0.70, 0.95},
	}, []float64{0.5, 0.5})
	if err != nil {
		panic(err)
	}
	fmt.Printf("ACC %.3f BWT %+.3f FWT %+.3f\n", m.ACC, m.BWT, m.FWT)
	// Output: ACC 0.825 BWT -0.200 FWT -0.100
}

// ---------------------------------------------------------------------------
// The recurring-concept experiment.

const (
	recurDim   = 10
	recurTrain = 4000 // training examples per segment
	recurTest  = 1000 // test examples per segment
)

// recurring returns the stream A → B → A → B: features 1..9 uniform in
// [0, 1]; feature 0 is the concept's context (0 under A, 1 under B, like
// a season flag); the label is a linear rule over features 1..9, w_A·(x −
// 0.5) > 0 under A and w_B·(x − 0.5) > 0 under B, with w_A, w_B random.
// A network can learn both rules at once (gated by feature 0), but one
// trained only on B applies w_B everywhere and forgets A.
func recurring(seed uint64) []Segment {
	r := rand.New(rand.NewPCG(seed, 0x5ec))
	w := [2][]float64{make([]float64, recurDim), make([]float64, recurDim)}
	for c := range w {
		for i := 1; i < recurDim; i++ {
			w[c][i] = r.NormFloat64()
		}
	}
	gen := func(c, n int) []Sample {
		out := make([]Sample, n)
		for k := range out {
			x := make([]float32, recurDim)
			x[0] = float32(c)
			var z float64
			for i := 1; i < recurDim; i++ {
				x[i] = float32(r.Float64())
				z += w[c][i] * (float64(x[i]) - 0.5)
			}
			y := 0.0
			if z > 0 {
				y = 1
			}
			out[k] = Sample{X: x, Y: y}
		}
		return out
	}
	var segs []Segment
	for i, c := range []int{0, 1, 0, 1} {
		segs = append(segs, Segment{Name: fmt.Sprintf("%c%d", "AB"[c], i/2+1), Train: gen(c, recurTrain), Test: gen(c, recurTest)})
	}
	return segs
}

func recurMLP(seed uint64) *mlp.MLP {
	m, err := mlp.New(recurDim, mlp.Config{Hidden: []int{32}, LearnRate: 0.003, Seed: seed})
	if err != nil {
		panic(err)
	}
	return m
}

// TestRecurringConcepts is the experiment of issue 4: plain fine-tuning
// of the MLP forgets (clearly negative BWT); replay does not
// (BWT ≥ −0.01); EWC, consolidating at the concept boundaries, forgets
// much less than fine-tuning and ends more accurate.
func TestRecurringConcepts(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 3 × 3 MLPs on 16,000 examples")
	}
	for _, seed := range []uint64{1, 2, 3} {
		segs := recurring(seed)
		ft, err := EvaluateCL(func() learn.Binary { return recurMLP(seed) }, segs)
		must(t, err)
		rp, err := EvaluateCL(func() learn.Binary {
			r, err := NewReplay(recurMLP(seed), ReplayConfig{Capacity: 2000, Ratio: 2, Seed: seed})
			must(t, err)
			return r
		}, segs)
		must(t, err)
		ew, err := EvaluateCL(func() learn.Binary {
			// Consolidating every recurTrain examples anchors at each
			// concept boundary.
			e, err := NewEWC(recurMLP(seed), EWCConfig{Lambda: 1e4, Every: recurTrain})
			must(t, err)
			return e
		}, segs)
		must(t, err)
		t.Logf("seed %d\nfine-tuning:\n%v\nreplay (reservoir 2000, ratio 2):\n%v\nEWC (λ 1e4, η 0.001, γ 0.9, every 4000, empirical Fisher of 256):\n%v", seed, ft, rp, ew)
		if !(ft.BWT <= -0.1) {
			t.Errorf("seed %d: fine-tuning BWT = %.4f; want ≤ -0.1 (clear forgetting)", seed, ft.BWT)
		}
		if !(rp.BWT >= -0.01) {
			t.Errorf("seed %d: replay BWT = %.4f; want ≥ -0.01", seed, rp.BWT)
		}
		if !(rp.ACC > ft.ACC+0.1) {
			t.Errorf("seed %d: replay ACC = %.4f; want > fine-tuning ACC %.4f + 0.1", seed, rp.ACC, ft.ACC)
		}
		if !(ew.BWT >= ft.BWT+0.1) || !(ew.ACC > ft.ACC) {
			t.Errorf("seed %d: EWC BWT, ACC = %.4f, %.4f; want BWT ≥ fine-tuning BWT %.4f + 0.1 and ACC > fine-tuning ACC %.4f", seed, ew.BWT, ew.ACC, ft.BWT, ft.ACC)
		}
	}
}
