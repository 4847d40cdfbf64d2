package feature

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// TestStateRoundTrip checks that snapshot → restore → continue equals an
// uninterrupted run, through the tensor file encoding.
func TestStateRoundTrip(t *testing.T) {
	rows := func(from, to int) []Strings {
		var out []Strings
		for i := from; i < to; i++ {
			n := fmt.Sprint(float64(i%17) * 1.5)
			if i%5 == 0 {
				n = "NA"
			}
			cnt := fmt.Sprint(i % 9)
			if i%11 == 0 {
				cnt = "lots"
			}
			out = append(out, Strings{n, cnt, fmt.Sprint("a", i%3), "b", strings.Repeat("x|", i%6)})
		}
		return out
	}
	a := testSchema(t, nil)
	ex := a.NewExample()
	for _, r := range rows(0, 300) {
		if err := a.Encode(ex, r); err != nil {
			t.Fatal(err)
		}
	}
	var set tensor.Set
	a.SaveTensors(&set, "features.")
	data, err := set.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tensor.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	b := testSchema(t, nil)
	if err := b.LoadTensors(loaded, "features."); err != nil {
		t.Fatalf("LoadTensors: %v", err)
	}
	for i := range a.NumFields() {
		if a.Stats(i) != b.Stats(i) {
			t.Errorf("restored Stats(%d) = %+v; want %+v", i, b.Stats(i), a.Stats(i))
		}
	}
	if st := b.Stats(1); st.Invalid == 0 || b.Stats(0).Missing == 0 || b.Stats(4).Truncated == 0 {
		t.Errorf("restored counters are empty: %+v %+v %+v", b.Stats(0), st, b.Stats(4))
	}
	exB := b.NewExample()
	for _, r := range rows(300, 400) {
		if err := a.Encode(ex, r); err != nil {
			t.Fatal(err)
		}
		if err := b.Encode(exB, r); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ex, exB) {
			t.Fatalf("Encode(%q) after restore = %+v; uninterrupted %+v", r, exB, ex)
		}
	}
}

func TestLoadTensorsErrors(t *testing.T) {
	a := testSchema(t, nil)
	ex := a.NewExample()
	for i := range 10 {
		if err := a.Encode(ex, Strings{fmt.Sprint(i), "1", "a", "b", ""}); err != nil {
			t.Fatal(err)
		}
	}
	save := func() *tensor.Set {
		var s tensor.Set
		a.SaveTensors(&s, "f.")
		return &s
	}
	tests := []struct {
		name   string
		schema *Schema
		prefix string
		mod    func(*tensor.Set)
		err    string
	}{
		{"wrong prefix", testSchema(t, nil), "g.", nil, `feature: no schema state under prefix "g." (metadata key "g.schema" missing)`},
		{"other seed", testSchema(t, func(c *SchemaConfig) { c.Seed = 1 }), "f.", nil, "feature: saved schema differs:\n saved: v1 seed=99"},
		{"other fields", testSchema(t, func(c *SchemaConfig) { c.Fields[1].Log1p = false }), "f.", nil, "feature: saved schema differs"},
		{"missing tensor", testSchema(t, nil), "f.", func(s *tensor.Set) { s.Delete("f.numeric.m2") }, `feature: loading schema state: tensor: no tensor "f.numeric.m2"`},
		{"wrong shape", testSchema(t, nil), "f.", func(s *tensor.Set) { s.PutF64("f.numeric.mean", []int{3}, []float64{0, 0, 0}) }, `feature: loading schema state: tensor: "f.numeric.mean" has shape [3]; want [2]`},
		{"negative m2", testSchema(t, nil), "f.", func(s *tensor.Set) { s.PutF64("f.numeric.m2", []int{2}, []float64{1, -1}) }, `feature: loading schema state: field "cnt" has invalid stats (count 10, mean 0.6931471805599453, m2 -1)`},
		{"negative count", testSchema(t, nil), "f.", func(s *tensor.Set) { s.PutI64("f.numeric.count", []int{2}, []int64{-1, 10}) }, `feature: loading schema state: field "n" has invalid stats (count -1`},
		{"negative counter", testSchema(t, nil), "f.", func(s *tensor.Set) {
			c := make([]int64, 25)
			c[22] = -3
			s.PutI64("f.counters", []int{5, 5}, c)
		}, `feature: loading schema state: field "tags" has a negative counter -3`},
	}
	for _, tt := range tests {
		set := save()
		if tt.mod != nil {
			tt.mod(set)
		}
		before := tt.schema.Stats(0)
		err := tt.schema.LoadTensors(set, tt.prefix)
		if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
			t.Errorf("%s: LoadTensors error %v; want prefix %q", tt.name, err, tt.err)
		}
		if got := tt.schema.Stats(0); got != before {
			t.Errorf("%s: a failed LoadTensors changed the stats: %+v → %+v", tt.name, before, got)
		}
	}
}
