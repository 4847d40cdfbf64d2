package embed

import (
	"fmt"
	"math"
	"testing"
)

// refStep is an independent float64 transcription of each update rule
// from its textbook form, with weights and state rounded to float32 after
// every step as the table stores them.
type refRow struct {
	w, a, b []float64 // weights; state (AdaGrad sum, Adam m/v, FTRL z/n)
	t       float64   // Adam step count
}

func round32(x float64) float64 { return float64(float32(x)) }

func (r *refRow) step(c Config, g []float64) {
	for j := range r.w {
		w := r.w[j]
		switch c.Optimizer {
		case SGD:
			r.w[j] = round32(w - c.LearnRate*(g[j]+c.L2*w))
		case AdaGrad:
			gj := g[j] + c.L2*w
			a := r.a[j] + gj*gj
			r.a[j] = round32(a)
			r.w[j] = round32(w - c.LearnRate*gj/(math.Sqrt(a)+c.Epsilon))
		case Adam:
			gj := g[j] + c.L2*w
			t := r.t + 1
			m := c.Beta1*r.a[j] + (1-c.Beta1)*gj
			v := c.Beta2*r.b[j] + (1-c.Beta2)*gj*gj
			r.a[j], r.b[j] = round32(m), round32(v)
			mh := m / (1 - math.Pow(c.Beta1, t))
			vh := v / (1 - math.Pow(c.Beta2, t))
			r.w[j] = round32(w - c.LearnRate*mh/(math.Sqrt(vh)+c.Epsilon))
		case FTRL:
			if g[j] == 0 {
				continue // coordinates without a gradient are not touched
			}
			n := r.b[j] + g[j]*g[j]
			sigma := (math.Sqrt(n) - math.Sqrt(r.b[j])) / c.LearnRate
			z := r.a[j] + g[j] - sigma*w
			r.a[j], r.b[j] = round32(z), round32(n)
			if math.Abs(z) <= c.L1 {
				r.w[j] = 0
			} else {
				sgn := 1.0
				if z < 0 {
					sgn = -1
				}
				r.w[j] = round32(-(z - sgn*c.L1) / ((c.FTRLBeta+math.Sqrt(n))/c.LearnRate + c.L2))
			}
		}
	}
	if c.Optimizer == Adam {
		r.t++
	}
}

func TestOptimizersMatchReference(t *testing.T) {
	for _, cfg := range []Config{
		{Optimizer: SGD, LearnRate: 0.1},
		{Optimizer: SGD, LearnRate: 0.1, L2: 0.5},
		{Optimizer: AdaGrad},
		{Optimizer: AdaGrad, LearnRate: 0.3, L2: 0.1, Epsilon: 1e-3},
		{Optimizer: Adam},
		{Optimizer: Adam, LearnRate: 0.01, L2: 0.01, Beta1: 0.5, Beta2: 0.9},
		{Optimizer: FTRL},
		{Optimizer: FTRL, LearnRate: 0.5, L1: 0.05, L2: 0.2, FTRLBeta: 0.1},
	} {
		name := fmt.Sprintf("%s/lr=%g/l1=%g/l2=%g", cfg.Optimizer, cfg.LearnRate, cfg.L1, cfg.L2)
		cfg.Dim, cfg.InitStd, cfg.Seed, cfg.LearnDefault = 5, 0.3, 11, true
		tb := newTable(t, cfg)
		c := tb.Config()
		for _, row := range []int32{tb.Lookup(1, 0), DefaultRow} {
			ref := refRow{w: make([]float64, 5), a: make([]float64, 5), b: make([]float64, 5)}
			for j, v := range tb.Row(row) {
				ref.w[j] = float64(v)
			}
			init0 := tb.Row(row)[0]
			zeros := false
			for step := range 40 {
				g := make([]float32, 5)
				gf := make([]float64, 5)
				for j := range g {
					g[j] = float32(math.Sin(float64(step*5+j)) * 0.3 * float64(j))
					gf[j] = float64(g[j])
				}
				tb.ApplyGradient(row, g)
				ref.step(c, gf)
				for j, v := range tb.Row(row) {
					if diff := math.Abs(float64(v) - ref.w[j]); diff > 1e-6*(1+math.Abs(ref.w[j])) {
						t.Fatalf("%s row %d step %d: w[%d] = %v; reference %v", name, row, step, j, v, ref.w[j])
					}
					zeros = zeros || v == 0
				}
			}
			// Coordinate 0 always has a zero gradient: only L2 moves it,
			// and FTRL leaves it alone.
			if w0 := tb.Row(row)[0]; (w0 == init0) != (c.L2 == 0 || c.Optimizer == FTRL) {
				t.Errorf("%s row %d: coordinate 0 (zero gradient) went from %v to %v; want it unchanged iff L2 = 0 or FTRL", name, row, init0, w0)
			}
			if c.L1 > 0 && !zeros {
				t.Errorf("%s row %d: FTRL with L1 produced no exact zeros", name, row)
			}
		}
	}
}
