package metric

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// preds returns a fixed pseudo-random stream of continuous scores.
func preds(n int) []obs {
	rng := rand.New(rand.NewPCG(7, 7))
	s := make([]obs, n)
	for i := range s {
		p := rng.Float64()
		y := 0.0
		if rng.Float64() < p {
			y = 1
		}
		s[i] = obs{p, y}
	}
	return s
}

func TestUpdateDoesNotAllocate(t *testing.T) {
	const runs = 5000
	stream := preds(runs + 1) // AllocsPerRun makes one warm-up call
	auc := new(AUC)
	auc.Grow(len(stream) + 1)
	bin := NewBinary(100, 0.99)
	bin.Grow(len(stream) + 1)
	tests := []struct {
		name string
		m    updater
	}{
		{"LogLoss", new(LogLoss)},
		{"Accuracy", new(Accuracy)},
		{"Brier", new(Brier)},
		{"AUC (after Grow)", auc},
		{"WindowLogLoss(100)", NewWindowLogLoss(100)},
		{"WindowAccuracy(100)", NewWindowAccuracy(100)},
		{"WindowAUC(100)", NewWindowAUC(100)},
		{"FadingLogLoss", NewFadingLogLoss(0.99)},
		{"FadingAccuracy", NewFadingAccuracy(0.99)},
		{"Binary(100, 0.99) (after Grow)", &binaryState{bin}},
	}
	for _, tt := range tests {
		i := 0
		got := testing.AllocsPerRun(runs, func() {
			o := stream[i%len(stream)]
			i++
			tt.m.Update(o.p, o.y)
		})
		if got != 0 {
			t.Errorf("%s.Update allocates %v times per call; want 0", tt.name, got)
		}
	}
}

// TestAUCRepeatedScoresDoNotAllocate: without Grow, scores already seen
// need no new node.
func TestAUCRepeatedScoresDoNotAllocate(t *testing.T) {
	m := new(AUC)
	for i := range 10 {
		m.Update(float64(i)/10, float64(i%2))
	}
	i := 0
	got := testing.AllocsPerRun(1000, func() {
		m.Update(float64(i%10)/10, float64(i%3%2))
		i++
	})
	if got != 0 {
		t.Errorf("AUC.Update on seen scores allocates %v times per call; want 0", got)
	}
}

func benchUpdate(b *testing.B, m updater) {
	stream := preds(1 << 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		o := stream[i&(len(stream)-1)]
		m.Update(o.p, o.y)
	}
}

func BenchmarkUpdate(b *testing.B) {
	b.Run("LogLoss", func(b *testing.B) { benchUpdate(b, new(LogLoss)) })
	b.Run("Accuracy", func(b *testing.B) { benchUpdate(b, new(Accuracy)) })
	b.Run("Brier", func(b *testing.B) { benchUpdate(b, new(Brier)) })
	// The cumulative AUC over a stream of 2¹⁶ distinct scores replayed:
	// after the first pass no new node is needed.
	b.Run("AUC", func(b *testing.B) { benchUpdate(b, new(AUC)) })
	for _, w := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("WindowLogLoss/w=%d", w), func(b *testing.B) { benchUpdate(b, NewWindowLogLoss(w)) })
		b.Run(fmt.Sprintf("WindowAccuracy/w=%d", w), func(b *testing.B) { benchUpdate(b, NewWindowAccuracy(w)) })
		b.Run(fmt.Sprintf("WindowAUC/w=%d", w), func(b *testing.B) { benchUpdate(b, NewWindowAUC(w)) })
	}
	b.Run("FadingLogLoss", func(b *testing.B) { benchUpdate(b, NewFadingLogLoss(0.999)) })
	b.Run("FadingAccuracy", func(b *testing.B) { benchUpdate(b, NewFadingAccuracy(0.999)) })
	b.Run("Binary/w=1000", func(b *testing.B) { benchUpdate(b, &binaryState{NewBinary(1000, 0.999)}) })
}

func BenchmarkSnapshot(b *testing.B) {
	m := NewBinary(1000, 0.999)
	for _, o := range preds(5000) {
		m.Update(o.p, o.y)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Snapshot()
	}
}
