package feature

import "strconv"

// The purchase task's sparse record: who, what and when as categorical
// fields (embedded by the deep model, hashed into the wide part), then the
// PurchaseDim behaviour features as numeric fields.
const (
	purchaseUser = iota
	purchaseItem
	purchaseHour
	purchaseWeekday
	purchaseCategorical // number of categorical fields
)

// PurchaseFields returns the fields of PurchaseRow, in order.
func PurchaseFields() []Field {
	f := []Field{
		{Name: "user_id", Kind: Categorical},
		{Name: "item_id", Kind: Categorical},
		{Name: "hour", Kind: Categorical},
		{Name: "weekday", Kind: Categorical},
	}
	for _, n := range PurchaseNames {
		f = append(f, Field{Name: n, Kind: Numeric})
	}
	return f
}

// NewPurchaseSchema returns the schema of PurchaseRow with the given hash
// seed and wide bits (0: no wide features). The user × hour cross lets
// the wide part learn when each user shops.
func NewPurchaseSchema(seed uint64, wideBits int) (*Schema, error) {
	return NewSchema(SchemaConfig{
		Fields:   PurchaseFields(),
		Crosses:  [][]string{{"item_id", "hour"}},
		Seed:     seed,
		WideBits: wideBits,
	})
}

var hourNames, weekdayNames [24]string

func init() {
	for i := range hourNames {
		hourNames[i] = strconv.Itoa(i)
		weekdayNames[i] = strconv.Itoa(i)
	}
}

// PurchaseRow is one purchase example as a NumberRow: the view's user,
// item and event-time hour and weekday, and the behaviour features from
// Behaviour.Features. Encoding it allocates nothing.
type PurchaseRow struct {
	User, Item    string
	Hour, Weekday int // 0–23 and 0–6 (Sunday = 0); out of range means missing
	X             [PurchaseDim]float32
}

// NumFields returns the number of purchase fields.
func (r *PurchaseRow) NumFields() int { return purchaseCategorical + PurchaseDim }

// Field returns field i as text.
func (r *PurchaseRow) Field(i int) string {
	switch i {
	case purchaseUser:
		return r.User
	case purchaseItem:
		return r.Item
	case purchaseHour:
		if r.Hour >= 0 && r.Hour < 24 {
			return hourNames[r.Hour]
		}
	case purchaseWeekday:
		if r.Weekday >= 0 && r.Weekday < 7 {
			return weekdayNames[r.Weekday]
		}
	}
	return ""
}

// Number returns numeric field i (a behaviour feature).
func (r *PurchaseRow) Number(i int) (float64, bool) {
	if i < purchaseCategorical || i >= purchaseCategorical+PurchaseDim {
		return 0, false
	}
	return float64(r.X[i-purchaseCategorical]), true
}
