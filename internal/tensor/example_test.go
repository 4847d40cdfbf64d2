package tensor_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

func Example() {
	var s tensor.Set
	s.PutF32("layer0.weight", []int{2, 2}, []float32{1, 2, 3, 4})
	s.PutI64("step", nil, []int64{7})
	s.SetMeta("model", "mlp")

	data, err := s.MarshalBinary()
	if err != nil {
		panic(err)
	}
	got, err := tensor.Unmarshal(data)
	if err != nil {
		panic(err)
	}
	w, err := got.F32("layer0.weight", 2, 2)
	fmt.Println(w, err)
	_, err = got.F32("layer0.weight", 4)
	fmt.Println(err)
	model, _ := got.Meta("model")
	fmt.Println(got.Names(), model)
	// Output:
	// [1 2 3 4] <nil>
	// tensor: "layer0.weight" has shape [2 2]; want [4]
	// [layer0.weight step] mlp
}
