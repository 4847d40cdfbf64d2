package feature_test

import (
	"fmt"
	"strings"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/feature"
)

func ExampleSchema_Encode() {
	s, err := feature.NewSchema(feature.SchemaConfig{
		Fields: []feature.Field{
			{Name: "visits", Kind: feature.Numeric, Log1p: true},
			{Name: "country", Kind: feature.Categorical},
			{Name: "device", Kind: feature.Categorical},
			{Name: "tags", Kind: feature.Bag, MaxLen: 2},
		},
		Crosses:  [][]string{{"country", "device"}},
		WideBits: 16,
	})
	if err != nil {
		panic(err)
	}
	ex := s.NewExample()
	for _, row := range []feature.Strings{
		{"3", "NL", "phone", "sale|new"},
		{"", "DE", "", "a|b|c"},
	} {
		if err := s.Encode(ex, row); err != nil {
			panic(err)
		}
		fmt.Println("dense", s.DenseNames(), ex.Dense)
		for j, name := range s.SparseNames() {
			fmt.Printf("  %s: %d IDs\n", name, len(ex.Sparse(j)))
		}
	}
	fmt.Println("tags truncated:", s.Stats(3).Truncated, "dropped:", s.Stats(3).Dropped)
	// Output:
	// dense [visits visits#missing] [0 0]
	//   country: 1 IDs
	//   device: 1 IDs
	//   tags: 2 IDs
	//   country×device: 1 IDs
	// dense [visits visits#missing] [0 1]
	//   country: 1 IDs
	//   device: 1 IDs
	//   tags: 2 IDs
	//   country×device: 1 IDs
	// tags truncated: 1 dropped: 1
}

// ExampleFieldsFromCTR reads Criteo data and encodes each record straight
// from the reader's buffers.
func ExampleFieldsFromCTR() {
	data := "0\t1\t\t3" + strings.Repeat("\t", 10) + "\t68fd1e64" + strings.Repeat("\t", 25) + "\n" +
		"1\t2\t5\t" + strings.Repeat("\t", 10) + "\t05db9164" + strings.Repeat("\tx", 25) + "\n"
	r, err := dataset.NewCTR(strings.NewReader(data), dataset.CTROptions{Format: dataset.FormatCriteo})
	if err != nil {
		panic(err)
	}
	s, err := feature.NewSchema(feature.SchemaConfig{Fields: feature.FieldsFromCTR(r.Columns(), 0), WideBits: 20})
	if err != nil {
		panic(err)
	}
	ex := s.NewExample()
	for r.Next() {
		if err := s.Encode(ex, r); err != nil {
			panic(fmt.Sprintf("line %d: %v", r.Line(), err))
		}
		fmt.Printf("%s: label %v, %d dense, %d IDs, %d wide\n", r.Layout(), r.Label(), len(ex.Dense), len(ex.IDs), len(ex.Wide))
	}
	fmt.Println(r.Err(), "I1 mean", s.Stats(0).Mean)
	// Output:
	// criteo-tsv: label 0, 26 dense, 26 IDs, 26 wide
	// criteo-tsv: label 1, 26 dense, 26 IDs, 26 wide
	// <nil> I1 mean 0.8958797346140275
}
