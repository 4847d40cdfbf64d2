package feature

import (
	"math"
	"slices"
	"testing"
)

// FuzzEncode feeds arbitrary values to every kind of field: Encode must
// not fail or panic (the schema is not strict), every Example must satisfy
// the documented invariants, IDs must not depend on the running stats,
// and the running stats must stay finite.
func FuzzEncode(f *testing.F) {
	f.Add("1.5", "3", "x", "y", "p|q", "2", "0")
	f.Add("", "NaN", "", "", "", "-Inf", "1e400")
	f.Add("abc", "-1", " x ", "\ty", "|||", "1e-400", "9")
	f.Add("3.4e38", "1e308", "\xff", "é", "a|b|c|d|e|f|g", "-3.5e38", "0x1p3")
	f.Fuzz(func(t *testing.T, n, cnt, a, b, tags, n2, cnt2 string) {
		s := testSchema(t, nil)
		ex := s.NewExample()
		for _, row := range []Strings{{n, cnt, a, b, tags}, {n2, cnt2, b, a, tags}, {n, cnt2, a, a, a}} {
			if err := s.Encode(ex, row); err != nil {
				t.Fatalf("Encode(%q): %v", row, err)
			}
			checkExample(t, s, ex)
			ids := slices.Clone(ex.IDs)
			if err := s.Transform(ex, row); err != nil {
				t.Fatalf("Transform(%q): %v", row, err)
			}
			checkExample(t, s, ex)
			if !slices.Equal(ids, ex.IDs) {
				t.Fatalf("Encode and Transform of %q give different IDs", row)
			}
		}
		for i := range 2 {
			st := s.Stats(i)
			if math.IsNaN(st.Mean) || math.IsInf(st.Mean, 0) || math.IsNaN(st.Std) || math.IsInf(st.Std, 0) || st.Count+st.Missing+st.Invalid+st.NonFinite != 3 {
				t.Fatalf("Stats(%d) = %+v after 3 records", i, st)
			}
		}
	})
}
