package mlp

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strings"
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

func preq(m *MLP, xs [][]float32, ys []float64) (acc, ll float64, dead int) {
	var correct float64
	h := m.sizes[1]
	active := make([]int, h)
	for i, x := range xs {
		p := m.Predict(x)
		if (p >= 0.5) == (ys[i] == 1) {
			correct++
		}
		ll -= ys[i]*math.Log(p) + (1-ys[i])*math.Log(1-p)
		if i >= len(xs)-5000 {
			for j, a := range m.act[1] {
				if a > 0 {
					active[j]++
				}
			}
		}
		m.Learn(x, ys[i])
	}
	for _, a := range active {
		if a == 0 {
			dead++
		}
	}
	n := float64(len(xs))
	return correct / n, ll / n, dead
}

func TestDiag(t *testing.T) {
	xs, ys := loadElec2(t)
	spec := os.Getenv("DIAG")
	var out strings.Builder
	for _, line := range strings.Split(spec, ";") {
		if line == "" {
			continue
		}
		var cfg Config
		var hid int
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			var f float64
			fmt.Sscan(v, &f)
			switch k {
			case "lr":
				cfg.LearnRate = f
			case "sgd":
				cfg.Optimizer = SGD
			case "leaky":
				cfg.Activation = LeakyReLU
			case "slope":
				LeakySlope = f
			case "nolin":
				cfg.NoLinear = true
			case "bias":
				cfg.BiasInit = f
			case "clip":
				cfg.ClipNorm = f
			case "h":
				hid = int(f)
				cfg.Hidden = []int{hid}
			case "h2":
				cfg.Hidden = []int{hid, int(f)}
			case "l2":
				cfg.L2 = f
			case "wb":
				cfg.WideBias = true
			case "lin":
				cfg.LinearRate = f
			case "center":
				for i := range xs {
					for j := range xs[i] {
						xs[i][j] -= float32(f)
					}
				}
			case "b2":
				cfg.Beta2 = f
			}
		}
		var sa, sl float64
		var sd int
		seeds := []uint64{1, 2, 3}
		accs := ""
		for _, seed := range seeds {
			cfg.Seed = seed
			m := mustNew(t, len(xs[0]), cfg)
			a, l, d := preq(m, xs, ys)
			sa += a
			sl += l
			sd += d
			accs += fmt.Sprintf(" %.4f", a)
		}
		k := float64(len(seeds))
		fmt.Fprintf(&out, "%-40s acc %.4f ll %.4f dead %.1f  [%s]\n", line, sa/k, sl/k, float64(sd)/k, accs)
		LeakySlope = 0.01
		xs, ys = loadElec2(t)
	}
	t.Log("\n" + out.String())
}
