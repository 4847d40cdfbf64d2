package feature

import (
	"bytes"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/dataset"
)

const (
	criteoExcerpt = "../dataset/testdata/criteo_head20.csv"
	criteoSample  = "../../../shared/data/criteo-ctr-sample/criteo_sample.csv"
)

// encodeCTR reads data with a CTR reader, encodes every record with a
// schema derived from the reader's columns and checks the Example
// invariants. It returns the schema and the number of records and clicks.
func encodeCTR(t *testing.T, data []byte, cfg SchemaConfig) (*Schema, int, int) {
	t.Helper()
	r, err := dataset.NewCTR(bytes.NewReader(data), dataset.CTROptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fields = FieldsFromCTR(r.Columns(), 0)
	s, err := NewSchema(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ex := s.NewExample()
	n, clicks := 0, 0
	for r.Next() {
		if err := s.Encode(ex, r); err != nil {
			t.Fatalf("line %d: %v", r.Line(), err)
		}
		checkExample(t, s, ex)
		n++
		clicks += int(r.Label())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return s, n, clicks
}

func TestCriteoSchema(t *testing.T) {
	data, err := os.ReadFile(criteoExcerpt)
	if err != nil {
		t.Fatal(err)
	}
	s, n, clicks := encodeCTR(t, data, SchemaConfig{Crosses: [][]string{{"C1", "C2"}}, WideBits: 20})
	if n != 20 || clicks != 3 {
		t.Errorf("encoded %d records with %d clicks; want 20, 3", n, clicks)
	}
	if s.NumNumeric() != 13 || s.NumSparse() != 27 || s.DenseDim() != 26 {
		t.Errorf("schema has %d numeric fields, %d sparse slots, %d dense inputs; want 13, 27, 26", s.NumNumeric(), s.NumSparse(), s.DenseDim())
	}
	// The excerpt has 44 empty integer fields (see its README), and I2's
	// values are all present.
	var missing int64
	for i := range 13 {
		st := s.Stats(i)
		missing += st.Missing
		if st.Invalid != 0 || st.NonFinite != 0 {
			t.Errorf("Stats(I%d) = %+v; want no invalid or non-finite values", i+1, st)
		}
		if st.Count+st.Missing != 20 {
			t.Errorf("Stats(I%d): %d values + %d missing; want 20", i+1, st.Count, st.Missing)
		}
	}
	if missing != 44 {
		t.Errorf("%d missing integer values; want 44", missing)
	}
	if st := s.Stats(1); st.Missing != 0 {
		t.Errorf("Stats(I2).Missing = %d; want 0", st.Missing)
	}
}

func TestCriteoSampleSchema(t *testing.T) {
	data, err := os.ReadFile(criteoSample)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("Criteo sample %s not present (it lives in the shared data directory, outside the repository)", criteoSample)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, n, clicks := encodeCTR(t, data, SchemaConfig{WideBits: 18})
	if n != 200 || clicks != 49 {
		t.Errorf("encoded %d records with %d clicks; want 200, 49", n, clicks)
	}
	for i := range 13 {
		if st := s.Stats(i); st.Count+st.Missing != 200 || st.Invalid != 0 {
			t.Errorf("Stats(I%d) = %+v; want 200 values or missing, none invalid", i+1, st)
		}
	}
}

// TestEncodeFromReaderDoesNotAllocate encodes straight from the reader's
// buffers: reading and encoding a record allocates nothing.
func TestEncodeFromReaderDoesNotAllocate(t *testing.T) {
	data, err := os.ReadFile(criteoExcerpt)
	if err != nil {
		t.Fatal(err)
	}
	header, rows, _ := bytes.Cut(data, []byte("\n"))
	input := append(append([]byte(nil), header...), '\n')
	for range 100 {
		input = append(input, rows...)
	}
	r, err := dataset.NewCTR(bytes.NewReader(input), dataset.CTROptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSchema(SchemaConfig{Fields: FieldsFromCTR(r.Columns(), 0), WideBits: 22})
	if err != nil {
		t.Fatal(err)
	}
	ex := s.NewExample()
	var row Row = r
	allocs := testing.AllocsPerRun(1000, func() {
		if !r.Next() {
			t.Fatalf("Next() = false: %v", r.Err())
		}
		if err := s.Encode(ex, row); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("reading and encoding a Criteo record allocates %v times; want 0", allocs)
	}
}

// checkExample fails unless ex satisfies the invariants the Schema
// documents.
func checkExample(t testing.TB, s *Schema, ex *Example) {
	t.Helper()
	nn := s.NumNumeric()
	if len(ex.Dense) != s.DenseDim() {
		t.Fatalf("len(Dense) = %d; want %d", len(ex.Dense), s.DenseDim())
	}
	clip := min(s.clip, math.MaxFloat32)
	for k := range nn {
		z, m := ex.Dense[k], ex.Dense[nn+k]
		if math.IsNaN(float64(z)) || math.Abs(float64(z)) > clip || (m != 0 && m != 1) || (m == 1 && z != 0) {
			t.Fatalf("numeric %d: value %v, missing %v; want finite |value| ≤ %v, missing 0 or 1, value 0 when missing", k, z, m, clip)
		}
	}
	if len(ex.Offsets) != s.NumSparse()+1 || ex.Offsets[0] != 0 || ex.Offsets[len(ex.Offsets)-1] != len(ex.IDs) {
		t.Fatalf("Offsets = %v for %d IDs and %d slots", ex.Offsets, len(ex.IDs), s.NumSparse())
	}
	bag := 0
	for i := range s.NumFields() {
		if f := s.Field(i); f.Kind == Bag {
			bag = max(bag, f.MaxLen)
		}
	}
	for j := range s.NumSparse() {
		n := ex.Offsets[j+1] - ex.Offsets[j]
		switch s.SparseKind(j) {
		case Categorical:
			if n != 1 {
				t.Fatalf("categorical slot %d has %d IDs; want 1", j, n)
			}
		case Bag:
			if n < 1 || n > bag {
				t.Fatalf("bag slot %d has %d IDs; want 1 to %d", j, n, bag)
			}
		}
	}
	if k := s.WideBits(); k == 0 {
		if len(ex.Wide) != 0 {
			t.Fatalf("%d wide buckets without wide features", len(ex.Wide))
		}
	} else {
		if len(ex.Wide) != len(ex.IDs) {
			t.Fatalf("%d wide buckets for %d IDs", len(ex.Wide), len(ex.IDs))
		}
		for _, w := range ex.Wide {
			if uint64(w) >= 1<<k {
				t.Fatalf("wide bucket %d out of [0, 2^%d)", w, k)
			}
		}
	}
}
