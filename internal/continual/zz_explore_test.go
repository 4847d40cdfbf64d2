package continual

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
)

func envf(k string, d float64) float64 {
	if v := os.Getenv(k); v != "" {
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return d
}

func exploreSegs(seed uint64, dim, ntrain, ntest int, mode int) []Segment {
	r := rand.New(rand.NewPCG(seed, 1))
	wA := make([]float64, dim)
	wB := make([]float64, dim)
	for i := range wA {
		wA[i] = r.NormFloat64()
		wB[i] = r.NormFloat64()
	}
	if mode == 1 {
		for i := range wB {
			wB[i] = -wA[i]
		}
	}
	gen := func(c int, n int) []Sample {
		out := make([]Sample, n)
		for k := range out {
			x := make([]float32, dim)
			for i := range x {
				x[i] = float32(r.Float64())
			}
			if mode == 2 {
				for i := range x {
					x[i] -= 0.5
					if (i < dim/2) != (c == 0) {
						x[i] = 0
					}
				}
				z := 0.0
				for i := range x {
					w := wA[i]
					if c == 1 {
						w = wB[i]
					}
					z += w * float64(x[i])
				}
				y := 0.0
				if z > 0 {
					y = 1
				}
				out[k] = Sample{x, y}
				continue
			}
			if c == 0 {
				x[0] = float32(r.Float64() * 0.5)
			} else {
				x[0] = float32(0.5 + r.Float64()*0.5)
			}
			if mode == 3 {
				x[0] = float32(c)
			}
			w := wA
			if c == 1 {
				w = wB
			}
			z := 0.0
			for i := 1; i < dim; i++ {
				z += w[i] * (float64(x[i]) - 0.5)
			}
			y := 0.0
			if z > 0 {
				y = 1
			}
			out[k] = Sample{x, y}
		}
		return out
	}
	var segs []Segment
	for i, c := range []int{0, 1, 0, 1} {
		segs = append(segs, Segment{Name: fmt.Sprintf("%c%d", "AB"[c], i/2+1), Train: gen(c, ntrain), Test: gen(c, ntest)})
	}
	return segs
}

func TestExplore(t *testing.T) {
	if os.Getenv("EXPLORE") == "" {
		t.Skip()
	}
	mode := int(envf("MODE", 0))
	for seed := uint64(1); seed <= uint64(envf("SEEDS", 3)); seed++ {
		segs := exploreSegs(seed, 10, int(envf("NTRAIN", 4000)), 1000, mode)
		newMLP := func() *mlp.MLP {
			m, err := mlp.New(10, mlp.Config{Hidden: []int{int(envf("H", 32))}, LearnRate: envf("LR", 0.003), Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		ft, _ := EvaluateCL(func() learn.Binary { return newMLP() }, segs)
		rp, _ := EvaluateCL(func() learn.Binary {
			r, _ := NewReplay(newMLP(), ReplayConfig{Capacity: int(envf("CAP", 1000)), Ratio: envf("RATIO", 1), Seed: seed})
			return r
		}, segs)
		ew, _ := EvaluateCL(func() learn.Binary {
			e, _ := NewEWC(newMLP(), EWCConfig{Lambda: envf("LAMBDA", 1000), LearnRate: envf("ELR", 0.001), Every: int(envf("EVERY", 1000)), Fisher: FisherEstimate(envf("FISHER", 0)), Gamma: envf("GAMMA", 0.9)})
			return e
		}, segs)
		fmt.Printf("seed %d\nFT\n%v\nREPLAY\n%v\nEWC\n%v\n", seed, ft, rp, ew)
	}
}
