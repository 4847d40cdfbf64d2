package feature

import (
	"math"
	"slices"
	"strconv"
	"testing"
)

// TestPurchaseRowMatchesText checks that a NumberRow encodes exactly as
// the same record written as text does, stats included.
func TestPurchaseRowMatchesText(t *testing.T) {
	typed, err := NewPurchaseSchema(7, 12)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := NewPurchaseSchema(7, 12)
	ea, eb := typed.NewExample(), text.NewExample()
	for k := range 50 {
		r := PurchaseRow{User: "u" + strconv.Itoa(k%7), Item: "i" + strconv.Itoa(k%5), Hour: k % 24, Weekday: k % 7}
		for j := range r.X {
			r.X[j] = float32(k*j%11) / 3
		}
		raw := make(Strings, r.NumFields())
		for i := range raw {
			if v, ok := r.Number(i); ok {
				raw[i] = strconv.FormatFloat(v, 'g', -1, 64)
			} else {
				raw[i] = r.Field(i)
			}
		}
		if err := typed.Encode(ea, &r); err != nil {
			t.Fatal(err)
		}
		if err := text.Encode(eb, raw); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ea.IDs, eb.IDs) || !slices.Equal(ea.Dense, eb.Dense) || !slices.Equal(ea.Wide, eb.Wide) {
			t.Fatalf("record %d: typed %v %v; text %v %v", k, ea.IDs, ea.Dense, eb.IDs, eb.Dense)
		}
	}
}

func TestPurchaseRowNonFinite(t *testing.T) {
	s, err := NewPurchaseSchema(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	ex := s.NewExample()
	r := PurchaseRow{User: "u", Item: "i", Hour: 99, Weekday: -1}
	r.X[0] = float32(math.NaN())
	r.X[1] = float32(math.Inf(1))
	if err := s.Encode(ex, &r); err != nil {
		t.Fatal(err)
	}
	nn := s.NumNumeric()
	for k, want := range []float32{1, 1, 0} {
		if got := ex.Dense[nn+k]; got != want {
			t.Errorf("missing indicator %d = %v; want %v", k, got, want)
		}
	}
	for _, v := range ex.Dense {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("dense %v has a non-finite value", ex.Dense)
		}
	}
	for _, i := range []int{purchaseCategorical, purchaseCategorical + 1} {
		if st := s.Stats(i); st.NonFinite != 1 {
			t.Errorf("Stats(%d).NonFinite = %d; want 1", i, st.NonFinite)
		}
	}
	// Out-of-range hour and weekday encode as the fields' missing IDs.
	if ex.IDs[purchaseHour] != s.fields[purchaseHour].missing || ex.IDs[purchaseWeekday] != s.fields[purchaseWeekday].missing {
		t.Errorf("hour/weekday IDs %v; want the missing IDs", ex.IDs[2:4])
	}
	if n := testing.AllocsPerRun(100, func() { _ = s.Encode(ex, &r) }); n != 0 {
		t.Errorf("Encode(PurchaseRow) allocates %v times; want 0", n)
	}
}
