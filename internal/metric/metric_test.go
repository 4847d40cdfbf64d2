package metric

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

type obs struct{ p, y float64 }

type updater interface {
	Update(p, y float64)
	Value() float64
}

func feed(m updater, stream []obs) float64 {
	for _, o := range stream {
		m.Update(o.p, o.y)
	}
	return m.Value()
}

// same reports whether a and b are equal, treating NaN as equal to NaN.
func same(a, b float64) bool { return a == b || (a != a && b != b) }

// close reports whether a and b agree to a relative 1e-12 (NaN = NaN).
func close(a, b float64) bool {
	if same(a, b) {
		return true
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

var (
	ln2      = math.Ln2
	nan      = math.NaN()
	clipLoss = -math.Log(Clip) // loss of a fully confident mistake on a positive
	one      = 1.0
	// loss of a fully confident mistake on a negative: 1−(1−Clip) in
	// float64, not in exact constant arithmetic.
	clipLoss1 = -math.Log(one - (one - Clip))
)

func TestCumulative(t *testing.T) {
	tests := []struct {
		name                          string
		stream                        []obs
		logLoss, accuracy, auc, brier float64
	}{
		{"empty", nil, nan, nan, nan, nan},
		{"one positive at 0.5", []obs{{0.5, 1}}, ln2, 1, nan, 0.25},
		{"one negative at 0.5", []obs{{0.5, 0}}, ln2, 0, nan, 0.25},
		{"perfect", []obs{{1, 1}, {0, 0}}, -math.Log(1 - Clip), 1, 1, 0},
		{"confident mistakes are clipped", []obs{{0, 1}, {1, 0}}, (clipLoss + clipLoss1) / 2, 0, 0, 1},
		{"ties count half", []obs{{0.3, 1}, {0.3, 0}}, (-math.Log(0.3) - math.Log(0.7)) / 2, 0.5, 0.5, (0.49 + 0.09) / 2},
		{
			// pairs (pos, neg): (.8,.4) win, (.8,.6) win, (.2,.4) lose, (.2,.6) lose → 2/4.
			"two of four pairs", []obs{{0.8, 1}, {0.4, 0}, {0.2, 1}, {0.6, 0}},
			(-math.Log(0.8) - math.Log(0.6) - math.Log(0.2) - math.Log(0.4)) / 4, 0.5, 0.5,
			(0.04 + 0.16 + 0.64 + 0.36) / 4,
		},
		{
			// pairs: (.9,.1) win, (.9,.5) win, (.5,.1) win, (.5,.5) tie → 3.5/4.
			"tie among four pairs", []obs{{0.9, 1}, {0.5, 1}, {0.1, 0}, {0.5, 0}},
			(-math.Log(0.9) - math.Log(0.5) - math.Log(0.9) - math.Log(0.5)) / 4, 0.75, 0.875,
			(0.01 + 0.25 + 0.01 + 0.25) / 4,
		},
		{"soft label", []obs{{0.5, 0.5}}, ln2, 1, nan, 0},
		// NaN predicts class 0 (NaN ≥ 0.5 is false) and ranks lowest.
		{"NaN prediction", []obs{{nan, 0}, {0.7, 1}}, nan, 1, 1, nan},
		{"only positives", []obs{{0.1, 1}, {0.9, 1}}, (-math.Log(0.1) - math.Log(0.9)) / 2, 0.5, nan, (0.81 + 0.01) / 2},
	}
	for _, tt := range tests {
		var (
			ll  LogLoss
			acc Accuracy
			auc AUC
			br  Brier
		)
		if got := feed(&ll, tt.stream); !close(got, tt.logLoss) {
			t.Errorf("%s: LogLoss = %v; want %v", tt.name, got, tt.logLoss)
		}
		if got := feed(&acc, tt.stream); !close(got, tt.accuracy) {
			t.Errorf("%s: Accuracy = %v; want %v", tt.name, got, tt.accuracy)
		}
		if got := feed(&auc, tt.stream); !close(got, tt.auc) {
			t.Errorf("%s: AUC = %v; want %v", tt.name, got, tt.auc)
		}
		if got := feed(&br, tt.stream); !close(got, tt.brier) {
			t.Errorf("%s: Brier = %v; want %v", tt.name, got, tt.brier)
		}
	}
}

func TestWindowAndFading(t *testing.T) {
	stream := []obs{{0.9, 1}, {0.2, 1}, {0.6, 0}, {0.3, 0}}
	losses := []float64{-math.Log(0.9), -math.Log(0.2), -math.Log(0.4), -math.Log(0.7)}
	hits := []float64{1, 0, 0, 1}
	tests := []struct {
		name string
		m    updater
		want float64
	}{
		{"WindowLogLoss(2)", NewWindowLogLoss(2), (losses[2] + losses[3]) / 2},
		{"WindowLogLoss(3)", NewWindowLogLoss(3), (losses[1] + losses[2] + losses[3]) / 3},
		{"WindowLogLoss(10)", NewWindowLogLoss(10), (losses[0] + losses[1] + losses[2] + losses[3]) / 4},
		{"WindowAccuracy(1)", NewWindowAccuracy(1), 1},
		{"WindowAccuracy(3)", NewWindowAccuracy(3), 1.0 / 3},
		// window (.2,1) (.6,0) (.3,0): .2 loses both → 0.
		{"WindowAUC(3)", NewWindowAUC(3), 0},
		// window (.6,0) (.3,0): one class.
		{"WindowAUC(2)", NewWindowAUC(2), nan},
		// all four: (.9 beats .6, .3), (.2 loses both) → 2/4.
		{"WindowAUC(4)", NewWindowAUC(4), 0.5},
		{"FadingLogLoss(0.5)", NewFadingLogLoss(0.5),
			(losses[0]/8 + losses[1]/4 + losses[2]/2 + losses[3]) / (1.0/8 + 1.0/4 + 1.0/2 + 1)},
		{"FadingLogLoss(1)", NewFadingLogLoss(1), (losses[0] + losses[1] + losses[2] + losses[3]) / 4},
		{"FadingAccuracy(0.5)", NewFadingAccuracy(0.5),
			(hits[0]/8 + hits[1]/4 + hits[2]/2 + hits[3]) / (1.0/8 + 1.0/4 + 1.0/2 + 1)},
	}
	for _, tt := range tests {
		if got := feed(tt.m, stream); !close(got, tt.want) {
			t.Errorf("%s over %v = %v; want %v", tt.name, stream, got, tt.want)
		}
	}
}

func TestZeroValuesUseDefaults(t *testing.T) {
	var (
		wl WindowLogLoss
		wa WindowAccuracy
		wu WindowAUC
		fl FadingLogLoss
		fa FadingAccuracy
	)
	for _, m := range []updater{&wl, &wa, &wu, &fl, &fa} {
		m.Update(0.7, 1)
	}
	if wl.Window() != DefaultWindow || wa.Window() != DefaultWindow || wu.Window() != DefaultWindow {
		t.Errorf("zero-value windows = %d, %d, %d; want %d", wl.Window(), wa.Window(), wu.Window(), DefaultWindow)
	}
	if fl.f.alpha != DefaultFading || fa.f.alpha != DefaultFading {
		t.Errorf("zero-value fading factors = %v, %v; want %v", fl.f.alpha, fa.f.alpha, DefaultFading)
	}
	if got, want := wl.Value(), -math.Log(0.7); !close(got, want) {
		t.Errorf("zero-value WindowLogLoss after (0.7, 1) = %v; want %v", got, want)
	}
}

// ref computes every metric of a stream by brute force.
type ref struct {
	stream []obs
	window int
	alpha  float64
}

func refAUC(s []obs) float64 {
	var twiceU, pos, neg uint64
	for _, a := range s {
		if a.y < 0.5 {
			neg++
			continue
		}
		pos++
		for _, b := range s {
			if b.y >= 0.5 {
				continue
			}
			ka, kb := sortKey(a.p), sortKey(b.p) // NaN lowest, like the metric
			switch {
			case ka > kb:
				twiceU += 2
			case ka == kb:
				twiceU++
			}
		}
	}
	return aucValue(twiceU, neg, pos)
}

func refMean(s []obs, f func(obs) float64) float64 {
	if len(s) == 0 {
		return nan
	}
	sum := 0.0
	for _, o := range s {
		sum += f(o)
	}
	return sum / float64(len(s))
}

func refFading(s []obs, alpha float64, f func(obs) float64) float64 {
	if len(s) == 0 {
		return nan
	}
	num, den := 0.0, 0.0
	for i, o := range s {
		w := math.Pow(alpha, float64(len(s)-1-i))
		num += w * f(o)
		den += w
	}
	return num / den
}

func hit(o obs) float64 {
	if correct(o.p, o.y) {
		return 1
	}
	return 0
}

func (r ref) values() Values {
	last := r.stream[max(0, len(r.stream)-r.window):]
	ll := func(o obs) float64 { return pointLogLoss(o.p, o.y) }
	return Values{
		LogLoss:        refMean(r.stream, ll),
		Accuracy:       refMean(r.stream, hit),
		AUC:            refAUC(r.stream),
		Brier:          refMean(r.stream, func(o obs) float64 { return (o.p - o.y) * (o.p - o.y) }),
		WindowLogLoss:  refMean(last, ll),
		WindowAccuracy: refMean(last, hit),
		WindowAUC:      refAUC(last),
		FadingLogLoss:  refFading(r.stream, r.alpha, ll),
		FadingAccuracy: refFading(r.stream, r.alpha, hit),
	}
}

// randomStream draws a stream mixing continuous scores, heavily tied
// scores (a few distinct values), exact 0/1, −0 and the odd NaN.
func randomStream(rng *rand.Rand, n int) []obs {
	s := make([]obs, n)
	levels := 1 + rng.IntN(6)
	for i := range s {
		var p float64
		switch r := rng.IntN(20); {
		case r < 10:
			p = rng.Float64()
		case r < 17:
			p = float64(rng.IntN(levels+1)) / float64(levels)
		case r == 17:
			p = math.Copysign(0, -1)
		default:
			p = float64(rng.IntN(2))
		}
		y := 0.0
		if rng.Float64() < p*0.8+0.1 {
			y = 1
		}
		s[i] = obs{p, y}
	}
	return s
}

func diff(t *testing.T, ctx string, got, want Values) {
	t.Helper()
	names := [...]string{"log_loss", "accuracy", "auc", "brier", "window_log_loss",
		"window_accuracy", "window_auc", "fading_log_loss", "fading_accuracy"}
	g, w := got.fields(), want.fields()
	for i := range g {
		if !close(*g[i], *w[i]) {
			t.Errorf("%s: %s = %v; want %v", ctx, names[i], *g[i], *w[i])
		}
	}
}

func TestAgainstBruteForce(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for trial := range 40 {
		n := 1 + rng.IntN(300)
		window := []int{1, 2, 3, 7, 50, 1000}[rng.IntN(6)]
		alpha := []float64{1, 0.99, 0.9, 0.5}[rng.IntN(4)]
		stream := randomStream(rng, n)
		if trial%5 == 0 {
			stream[rng.IntN(n)].p = nan
		}
		b := NewBinary(window, alpha)
		for i, o := range stream {
			b.Update(o.p, o.y)
			if i%17 == 0 || i == n-1 {
				r := ref{stream[:i+1], window, alpha}
				diff(t, fmt.Sprintf("seed %d trial %d (window %d, alpha %v) after %d", seed, trial, window, alpha, i+1), b.Snapshot(), r.values())
			}
		}
		if t.Failed() {
			return
		}
	}
}

// TestWindowLogLossNaNLeaves checks that a NaN loss poisons the window
// only while it is inside it.
func TestWindowLogLossNaNLeaves(t *testing.T) {
	m := NewWindowLogLoss(3)
	m.Update(nan, 1)
	m.Update(0.5, 1)
	if got := m.Value(); !math.IsNaN(got) {
		t.Errorf("WindowLogLoss with NaN inside = %v; want NaN", got)
	}
	m.Update(0.5, 1)
	m.Update(0.5, 0)
	if got := m.Value(); !close(got, ln2) {
		t.Errorf("WindowLogLoss after NaN left = %v; want %v", got, ln2)
	}
}

// TestWindowAUCChurn drives a small window through many evictions with
// heavy ties and checks it against brute force at every step.
func TestWindowAUCChurn(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	const w = 16
	m := NewWindowAUC(w)
	var stream []obs
	for i := range 3000 {
		o := obs{float64(rng.IntN(5)) / 4, float64(rng.IntN(2))}
		stream = append(stream, o)
		m.Update(o.p, o.y)
		if got, want := m.Value(), refAUC(stream[max(0, len(stream)-w):]); !same(got, want) {
			t.Fatalf("seed %d step %d: WindowAUC = %v; want %v", seed, i, got, want)
		}
	}
	if got := m.tree.len(); got > w {
		t.Errorf("tree holds %d distinct keys; want ≤ %d", got, w)
	}
}

func TestSortKeyOrder(t *testing.T) {
	ordered := []float64{math.Inf(-1), -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 0.5, 1, math.Inf(1)}
	if k := sortKey(nan); k >= sortKey(math.Inf(-1)) {
		t.Errorf("sortKey(NaN) = %#x; want below sortKey(-Inf) = %#x", k, sortKey(math.Inf(-1)))
	}
	for i := 1; i < len(ordered); i++ {
		if a, b := sortKey(ordered[i-1]), sortKey(ordered[i]); a >= b {
			t.Errorf("sortKey(%v) = %#x ≥ sortKey(%v) = %#x; want <", ordered[i-1], a, ordered[i], b)
		}
	}
	if a, b := sortKey(math.Copysign(0, -1)), sortKey(0); a != b {
		t.Errorf("sortKey(-0) = %#x; want sortKey(+0) = %#x", a, b)
	}
}

func TestReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	s1, s2 := randomStream(rng, 200), randomStream(rng, 150)
	b := NewBinary(20, 0.9)
	for _, o := range s1 {
		b.Update(o.p, o.y)
	}
	b.Reset()
	fresh := NewBinary(20, 0.9)
	for _, o := range s2 {
		b.Update(o.p, o.y)
		fresh.Update(o.p, o.y)
	}
	diff(t, "after Reset", b.Snapshot(), fresh.Snapshot())
	if b.N() != uint64(len(s2)) {
		t.Errorf("N after Reset and %d updates = %d", len(s2), b.N())
	}
}

func TestValuesJSON(t *testing.T) {
	v := Values{LogLoss: 0.5, Accuracy: 0.75, AUC: nan, Brier: 0.125, WindowLogLoss: 1,
		WindowAccuracy: 0, WindowAUC: nan, FadingLogLoss: 0.25, FadingAccuracy: 1}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", v, err)
	}
	const want = `{"log_loss":0.5,"accuracy":0.75,"auc":null,"brier":0.125,"window_log_loss":1,` +
		`"window_accuracy":0,"window_auc":null,"fading_log_loss":0.25,"fading_accuracy":1}`
	if string(data) != want {
		t.Errorf("json.Marshal(%+v) = %s; want %s", v, data, want)
	}
	var back Values
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", data, err)
	}
	diff(t, "JSON round trip", back, v)
}

func TestConstructorsPanic(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"NewWindowAUC(0)", func() { NewWindowAUC(0) }},
		{"NewWindowLogLoss(-1)", func() { NewWindowLogLoss(-1) }},
		{"NewWindowAccuracy(MaxWindow+1)", func() { NewWindowAccuracy(MaxWindow + 1) }},
		{"NewFadingLogLoss(0)", func() { NewFadingLogLoss(0) }},
		{"NewFadingAccuracy(1.5)", func() { NewFadingAccuracy(1.5) }},
		{"NewBinary(-5, 0)", func() { NewBinary(-5, 0) }},
		{"NewBinary(0, NaN)", func() { NewBinary(0, nan) }},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.f()
		}()
	}
}
