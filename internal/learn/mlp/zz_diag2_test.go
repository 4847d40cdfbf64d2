package mlp

import (
	"fmt"
	"strings"
	"testing"
)

func TestDiag2(t *testing.T) {
	xs, ys := loadElec2(t)
	m := mustNew(t, 8, Config{Seed: 1, LearnRate: 0.01, NoLinear: true})
	h := 20
	act := make([]int, h)
	var sb strings.Builder
	for i, x := range xs[:12000] {
		m.Predict(x)
		for j, a := range m.act[1] {
			if a > 0 {
				act[j]++
			}
		}
		m.Learn(x, ys[i])
		if i%250 == 249 {
			fmt.Fprintf(&sb, "%5d y=%.2f outb=%6.2f ", i+1, mean(ys[i-249:i+1]), m.p[m.bOff[1]])
			for j := range act {
				fmt.Fprintf(&sb, "%4d", act[j]*100/250)
				act[j] = 0
			}
			sb.WriteString("\n")
		}
	}
	t.Log("\n" + sb.String())
	// weights of layer 0
	w := m.layerW(0)
	for o := 0; o < h; o++ {
		t.Logf("unit %2d b=%7.3f w=%v wout=%.3f", o, m.layerB(0)[o], fmtv(w[o*8:o*8+8]), m.layerW(1)[o])
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
func fmtv(v []float64) string {
	s := ""
	for _, x := range v {
		s += fmt.Sprintf("%6.2f", x)
	}
	return s
}
