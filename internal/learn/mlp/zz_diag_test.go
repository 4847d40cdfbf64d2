package mlp

import (
	"bufio"
	"math"
	"os"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/dataset"
)

func loadElec2(t testing.TB) ([][]float32, []float64) {
	f, err := os.Open("/work/shared/data/elec2/elecNormNew.csv")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	src, err := dataset.NewCSV(bufio.NewReader(f), dataset.Options{Target: "class"})
	if err != nil {
		t.Fatal(err)
	}
	var xs [][]float32
	var ys []float64
	for src.Next() {
		x, y := src.Example()
		xs = append(xs, append([]float32(nil), x...))
		ys = append(ys, y)
	}
	return xs, ys
}

func TestDiag(t *testing.T) {
	xs, ys := loadElec2(t)
	for _, cfg := range []Config{
		{Seed: 1},
		{Seed: 1, LearnRate: 0.01},
		{Seed: 1, LearnRate: 0.03},
	} {
		m := mustNew(t, len(xs[0]), cfg)
		var correct, ll float64
		h := m.sizes[1]
		active := make([]int, h)
		for i, x := range xs {
			p := m.Predict(x)
			if (p >= 0.5) == (ys[i] == 1) {
				correct++
			}
			ll -= ys[i]*math.Log(p) + (1-ys[i])*math.Log(1-p)
			m.Learn(x, ys[i])
			if i%5000 == 4999 {
				dead := 0
				for j := range active {
					if active[j] == 0 {
						dead++
					}
					active[j] = 0
				}
				t.Logf("lr %v i=%d dead(last 5000)=%d/%d outbias=%.3f |w0|max", cfg.LearnRate, i+1, dead, h, m.p[m.bOff[1]])
			}
			for j, a := range m.act[1] {
				if a > 0 {
					active[j]++
				}
			}
		}
		n := float64(len(xs))
		t.Logf("cfg %+v: acc %.4f logloss %.4f", cfg, correct/n, ll/n)
	}
}
