package deep_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// A prequential loop: score each event, then learn from its outcome.
func Example() {
	schema, err := feature.NewSchema(feature.SchemaConfig{
		Fields: []feature.Field{
			{Name: "user", Kind: feature.Categorical},
			{Name: "item", Kind: feature.Categorical},
			{Name: "tags", Kind: feature.Bag},
			{Name: "price", Kind: feature.Numeric, Log1p: true},
		},
		WideBits: 16,
	})
	if err != nil {
		panic(err)
	}
	m, err := deep.New(schema, deep.Config{
		Hidden:   []int{32, 16},
		FM:       true,
		EmbedDim: 8,
		Embed:    embed.Config{AdmitAfter: 2, ExpireAfter: 7 * 24 * 3600},
	})
	if err != nil {
		panic(err)
	}
	x := schema.NewExample()
	events := []struct {
		row   feature.Strings
		label float64
	}{
		{feature.Strings{"u1", "shoes-42", "sale|red", "59.90"}, 1},
		{feature.Strings{"u2", "hat-7", "", "12"}, 0},
		{feature.Strings{"u1", "shoes-42", "sale", "59.90"}, 1},
	}
	for i, e := range events {
		if err := schema.Encode(x, e.row); err != nil {
			panic(err)
		}
		m.SetTime(int64(1700000000 + 60*i)) // event time, in seconds
		p := m.PredictLearn(x, e.label)
		fmt.Printf("event %d: p = %.2f\n", i, p)
	}
	var snap tensor.Set
	m.SaveTensors(&snap, "purchase.")
	fmt.Println(m.Stats().Learned, "learned; snapshot of", snap.Len(), "tensors")
	// Output:
	// event 0: p = 0.54
	// event 1: p = 0.43
	// event 2: p = 0.61
	// 3 learned; snapshot of 53 tensors
}
