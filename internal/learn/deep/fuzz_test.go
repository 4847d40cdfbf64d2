package deep

import (
	"testing"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// FuzzLoadTensors feeds damaged snapshots to LoadTensors: it must return
// an error or load, never panic, and a model it loaded must predict a
// probability.
func FuzzLoadTensors(f *testing.F) {
	s := testSchema(f, 6)
	xs := encodeAll(f, s, testRows)
	cfg := Config{Hidden: []int{4}, EmbedDim: 2, FM: true}
	m, err := New(s, cfg)
	if err != nil {
		f.Fatal(err)
	}
	for i, x := range xs {
		m.PredictLearn(x, float64(i%2))
	}
	var set tensor.Set
	m.SaveTensors(&set, "")
	b, err := set.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := tensor.Unmarshal(data)
		if err != nil {
			return
		}
		r, err := New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		before := r.Predict(xs[0])
		if err := r.LoadTensors(set, ""); err != nil {
			if after := r.Predict(xs[0]); after != before {
				t.Fatalf("failed LoadTensors changed the model: %v → %v", before, after)
			}
			return
		}
		for _, x := range xs {
			if p := r.Predict(x); !(p >= 0 && p <= 1) {
				t.Fatalf("loaded model predicts %v", p)
			}
			r.PredictLearn(x, 1)
		}
	})
}
