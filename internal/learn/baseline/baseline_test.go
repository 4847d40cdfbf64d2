package baseline

import (
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

func TestNoChange(t *testing.T) {
	var m NoChange
	steps := []struct{ y, want float64 }{{1, 0.5}, {0, 1}, {0, 0}, {1, 0}, {1, 1}}
	for i, s := range steps {
		if got := m.Predict(nil); got != s.want {
			t.Fatalf("step %d: Predict = %v; want %v", i, got, s.want)
		}
		m.Learn(nil, s.y)
	}
}

func TestMajority(t *testing.T) {
	var m Majority
	for _, y := range []float64{1, 1, 0, 1} {
		m.Learn(nil, y)
	}
	if got := m.Predict(nil); got != 0.75 {
		t.Fatalf("Predict after 1,1,0,1 = %v; want 0.75", got)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		make      func() learn.Binary
		corrupt   string
		corruptTo []float64
	}{
		{"nochange", func() learn.Binary { return new(NoChange) }, "nochange.state", []float64{2, 1}},
		{"majority", func() learn.Binary { return new(Majority) }, "majority.counts", []float64{5, 1}},
	}
	for _, tt := range tests {
		a := tt.make()
		for i := 0; i < 7; i++ {
			a.Learn(nil, float64(i%3%2))
		}
		var s tensor.Set
		a.(learn.Snapshotter).SaveTensors(&s, "p.")
		b := tt.make()
		if err := b.(learn.Snapshotter).LoadTensors(&s, "p."); err != nil {
			t.Fatalf("%s: LoadTensors: %v", tt.name, err)
		}
		if a.Predict(nil) != b.Predict(nil) {
			t.Fatalf("%s: restored Predict = %v; want %v", tt.name, b.Predict(nil), a.Predict(nil))
		}
		var bad tensor.Set
		bad.PutF64("p."+tt.corrupt, []int{2}, tt.corruptTo)
		if err := b.(learn.Snapshotter).LoadTensors(&bad, "p."); err == nil {
			t.Fatalf("%s: LoadTensors(%v): no error", tt.name, tt.corruptTo)
		}
	}
}
