package mlp

import (
	"bufio"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/linear"
)

// Elec2 (see internal/dataset/testdata/README.md): 8 features, all
// non-negative, "day" in [1, 7]; y = 1 for UP.
const (
	elec2Full = "../../../../shared/data/elec2/elecNormNew.csv" // 45,312 rows, outside the repository
	elec2Head = "../../dataset/testdata/elec2_head200.csv"      // its first 200 rows
)

// readElec2 returns the examples of an Elec2 CSV file, or ok false if the
// file does not exist.
func readElec2(t *testing.T, path string) (xs [][]float32, ys []float64, ok bool) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := dataset.NewCSV(bufio.NewReader(f), dataset.Options{Target: "class", Positive: "UP"})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for src.Next() {
		x, y := src.Example()
		xs = append(xs, slices.Clone(x))
		ys = append(ys, y)
	}
	if err := src.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return xs, ys, true
}

// prequential predicts then learns each example in order and returns the
// accuracy (prediction ≥ 0.5 means 1) and the mean log loss.
func prequential(l learn.Binary, xs [][]float32, ys []float64) (acc, logLoss float64) {
	var correct float64
	for i, x := range xs {
		p, y := l.Predict(x), ys[i]
		if (p >= 0.5) == (y == 1) {
			correct++
		}
		logLoss -= y*math.Log(p) + (1-y)*math.Log(1-p)
		l.Learn(x, y)
	}
	n := float64(len(xs))
	return correct / n, logLoss / n
}

// TestElec2Prequential runs the network online over the full Elec2 file,
// as `perpetua eval classify --model mlp` does: with the defaults it must
// match or beat logistic regression with its defaults (accuracy 0.7696,
// log loss 0.508), and at Adam 0.01 it must not collapse (a plain ReLU
// network loses all its units there and scores 0.599, near the 0.575 of
// always predicting DOWN).
func TestElec2Prequential(t *testing.T) {
	xs, ys, ok := readElec2(t, elec2Full)
	if !ok {
		t.Skipf("the full Elec2 file %s is not present (it lives outside the repository; see internal/dataset/testdata/README.md)", elec2Full)
	}
	logAcc, logLoss := prequential(linear.New(len(xs[0]), linear.Config{}), xs, ys)
	t.Logf("logistic (defaults): accuracy %.4f, log loss %.4f", logAcc, logLoss)
	cases := []struct {
		name    string
		cfg     Config
		minAcc  float64
		maxLoss float64
	}{
		{"defaults", Config{Seed: 1}, max(0.77, logAcc), logLoss},
		{"adam-0.01", Config{Seed: 1, LearnRate: 0.01}, 0.76, 0.53},
		{"sgd", Config{Seed: 1, Optimizer: SGD}, 0.80, 0.46},
	}
	for _, c := range cases {
		m := mustNew(t, len(xs[0]), c.cfg)
		acc, loss := prequential(m, xs, ys)
		t.Logf("mlp %s: accuracy %.4f, log loss %.4f", c.name, acc, loss)
		if acc < c.minAcc || loss > c.maxLoss {
			t.Errorf("mlp %s (%+v): prequential accuracy %.4f, log loss %.4f; want accuracy ≥ %.4f and log loss ≤ %.4f", c.name, c.cfg, acc, loss, c.minAcc, c.maxLoss)
		}
	}
}

// TestElec2HeadNoFrozenUnits checks, on the first 200 rows of Elec2, that
// learning reaches every hidden unit with the default leaky ReLU: each
// unit's incoming weights change. (With ReLU, units inactive on every row
// — w·x < 0 on all of these non-negative inputs — get no gradient and stay
// frozen at their initial weights for good.)
func TestElec2HeadNoFrozenUnits(t *testing.T) {
	xs, ys, ok := readElec2(t, elec2Head)
	if !ok {
		t.Fatalf("%s is missing", elec2Head)
	}
	frozen := func(cfg Config) int {
		m := mustNew(t, len(xs[0]), cfg)
		w0 := slices.Clone(m.layerW(0))
		for i, x := range xs {
			m.Learn(x, ys[i])
		}
		n, in := 0, m.sizes[0]
		for o := range m.sizes[1] {
			if slices.Equal(w0[o*in:(o+1)*in], m.layerW(0)[o*in:(o+1)*in]) {
				n++
			}
		}
		return n
	}
	var reluFrozen int
	for seed := range uint64(5) {
		if n := frozen(Config{Seed: seed}); n != 0 {
			t.Errorf("seed %d: %d hidden units frozen after %d rows; want 0", seed, n, len(xs))
		}
		reluFrozen += frozen(Config{Seed: seed, Activation: ReLU})
	}
	t.Logf("for comparison, ReLU: %d of %d hidden units frozen over 5 seeds", reluFrozen, 5*DefaultHidden)
}
