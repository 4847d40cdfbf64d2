package learntest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// toy is a small correct learner (logistic regression, SGD with a 1/√t
// step size) that can be broken in one way at a time to show that the
// suite catches each defect.
type toy struct {
	broken string
	w      []float64 // weights, then bias
	t      int64
}

var allocSink [][]float64

func newToy(broken string, dim int) *toy {
	l := &toy{broken: broken, w: make([]float64, dim+1)}
	if broken == "nondeterministic" {
		l.w[0] = rand.Float64()
	}
	return l
}

func (l *toy) logit(x []float32) float64 {
	if len(x) != len(l.w)-1 && l.broken != "nopanic" {
		panic("toy: wrong length")
	}
	z := l.w[len(l.w)-1]
	for i := range min(len(x), len(l.w)-1) {
		z += l.w[i] * float64(x[i])
	}
	return z
}

func (l *toy) Predict(x []float32) float64 {
	p := 1 / (1 + math.Exp(-l.logit(x)))
	if l.broken == "range" {
		p *= 1.5
	}
	return p
}

func (l *toy) Learn(x []float32, y float64) {
	if l.broken == "allocs" {
		allocSink = append(allocSink[:0], make([]float64, 8))
	}
	if l.broken == "nolearn" {
		return
	}
	l.t++
	g := 1/(1+math.Exp(-l.logit(x))) - y
	lr := 2 / math.Sqrt(float64(l.t))
	n := len(l.w) - 1
	for i := range min(len(x), n) {
		l.w[i] -= lr * g * float64(x[i])
	}
	l.w[n] -= lr * g
}

func (l *toy) SaveTensors(s *tensor.Set, prefix string) {
	s.PutF64(prefix+"w", []int{len(l.w) - 1}, l.w[:len(l.w)-1])
	s.PutF64(prefix+"b", []int{1}, l.w[len(l.w)-1:])
	if l.broken != "lossystate" {
		s.PutI64(prefix+"t", nil, []int64{l.t})
	}
}

func (l *toy) LoadTensors(s *tensor.Set, prefix string) error {
	n := len(l.w) - 1
	w, err := s.F64(prefix+"w", n)
	if err != nil {
		return err
	}
	if l.broken == "partialload" {
		copy(l.w, w)
	}
	b, err := s.F64(prefix+"b", 1)
	if err != nil {
		return err
	}
	var t []int64
	if l.broken != "lossystate" {
		if t, err = s.I64(prefix + "t"); err != nil {
			return err
		}
	}
	copy(l.w, w)
	l.w[n] = b[0]
	if t != nil {
		l.t = t[0]
	}
	return nil
}

func (l *toy) Clone() *toy {
	c := *l
	if l.broken != "sharedclone" {
		c.w = append([]float64(nil), l.w...)
	}
	return &c
}

var _ learn.Binary = (*toy)(nil)

func TestToyPasses(t *testing.T) {
	Run(t, func() learn.Binary { return newToy("", 4) }, 4)
}

// TestBrokenLearner runs the suite on a broken toy chosen by the
// environment; TestSuiteCatchesDefects runs it in a subprocess.
func TestBrokenLearner(t *testing.T) {
	broken := os.Getenv("LEARNTEST_BROKEN")
	if broken == "" {
		t.Skip("run by TestSuiteCatchesDefects")
	}
	Run(t, func() learn.Binary { return newToy(broken, 4) }, 4)
}

func TestSuiteCatchesDefects(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	cases := []struct {
		broken   string
		failsSub string
	}{
		{"allocs", "Allocs"},
		{"nondeterministic", "Deterministic"},
		{"nolearn", "Learns"},
		{"range", "PredictRange"},
		{"nopanic", "WrongLength"},
		{"partialload", "SnapshotBadLoad"},
		{"lossystate", "SnapshotRoundTrip"},
		{"sharedclone", "Clone"},
	}
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenLearner$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "LEARNTEST_BROKEN="+c.broken)
		out, err := cmd.CombinedOutput()
		want := fmt.Sprintf("--- FAIL: TestBrokenLearner/%s ", c.failsSub)
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("suite on a learner broken by %q: err = %v, output lacks %q:\n%s", c.broken, err, want, out)
		}
	}
}
