package feature

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/dataset"
)

// A *dataset.CTR reader is a Row: its Field strings are valid until its
// next Next, and Encode does not retain them.
var _ Row = (*dataset.CTR)(nil)

// FieldsFromCTR returns the schema fields of the records a CTR reader
// yields, in the reader's column order (so the reader itself is the Row
// to Encode). Criteo data gives I1…I13 (Numeric, Log1p) then C1…C26
// (Categorical). Bags keep the reader's separator and get maxBag as
// MaxLen (0 means DefaultMaxBag).
func FieldsFromCTR(cols []dataset.CTRColumn, maxBag int) []Field {
	fields := make([]Field, len(cols))
	for i, c := range cols {
		f := Field{Name: c.Name}
		switch c.Kind {
		case dataset.ColumnNumeric:
			f.Kind, f.Log1p = Numeric, c.Log1p
		case dataset.ColumnCategorical:
			f.Kind = Categorical
		case dataset.ColumnBag:
			f.Kind, f.Sep, f.MaxLen = Bag, c.Sep, maxBag
		default:
			panic(fmt.Sprintf("feature: FieldsFromCTR: column %q has unknown kind %v", c.Name, c.Kind))
		}
		fields[i] = f
	}
	return fields
}
