package evaluate

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/dataset"
)

// rate is a trivial learner: it predicts the running positive rate, so the
// benchmarks measure the loop, parsing, metrics and output, not a model.
type rate struct{ pos, n float64 }

func (r *rate) Predict([]float32) float64    { return (r.pos + 1) / (r.n + 2) }
func (r *rate) Learn(_ []float32, y float64) { r.pos += y; r.n++ }

// excerptRows returns the Elec2 excerpt with its data rows repeated k times.
func excerptRows(b *testing.B, k int) []byte {
	data, err := os.ReadFile("../dataset/testdata/elec2_head200.csv")
	if err != nil {
		b.Fatal(err)
	}
	i := bytes.IndexByte(data, '\n') + 1
	out := bytes.Clone(data[:i])
	for range k {
		out = append(out, data[i:]...)
	}
	return out
}

// BenchmarkClassify measures rows/s of prequential evaluation with a
// trivial learner over the Elec2 excerpt repeated to 10,000 rows:
// "csv" includes parsing, "memory" runs over pre-parsed examples (the
// loop and metrics alone); "+predictions" also writes the predictions CSV
// (to io.Discard).
func BenchmarkClassify(b *testing.B) {
	data := excerptRows(b, 50)
	src, err := dataset.NewCSV(bytes.NewReader(data), dataset.Options{Target: "class"})
	if err != nil {
		b.Fatal(err)
	}
	var exs []example
	for src.Next() {
		x, y := src.Example()
		exs = append(exs, example{append([]float32(nil), x...), y})
	}
	for _, bc := range []struct {
		name  string
		csv   bool
		preds io.Writer
	}{
		{"csv", true, nil},
		{"csv+predictions", true, io.Discard},
		{"memory", false, nil},
		{"memory+predictions", false, io.Discard},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			rows := int64(0)
			for b.Loop() {
				var s Source = &sliceSource{exs: exs}
				if bc.csv {
					c, err := dataset.NewCSV(bytes.NewReader(data), dataset.Options{Target: "class"})
					if err != nil {
						b.Fatal(err)
					}
					s = c
				}
				res, err := Classify(context.Background(), s, &rate{}, Options{Predictions: bc.preds})
				if err != nil {
					b.Fatal(err)
				}
				rows += res.N
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
