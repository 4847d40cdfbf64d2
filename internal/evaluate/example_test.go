package evaluate_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/evaluate"
)

// majority predicts the share of positives seen so far.
type majority struct{ pos, n float64 }

func (m *majority) Predict([]float32) float64    { return (m.pos + 0.5) / (m.n + 1) }
func (m *majority) Learn(_ []float32, y float64) { m.pos += y; m.n++ }

func ExampleClassify() {
	data := "temp,rain,class\n20,0,UP\n21,1,UP\n19,0,DOWN\n25,0,UP\n"
	src, err := dataset.NewCSV(strings.NewReader(data), dataset.Options{Target: "class"})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := evaluate.Classify(context.Background(), src, &majority{}, evaluate.Options{
		Model:       "majority",
		Predictions: os.Stdout, // index,prediction,label
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("n=%d accuracy=%.2f\n", res.N, res.Metrics.Accuracy)
	// Output:
	// index,prediction,label
	// 0,0.5,1
	// 1,0.75,1
	// 2,0.8333333333333334,0
	// 3,0.625,1
	// n=4 accuracy=0.75
}
