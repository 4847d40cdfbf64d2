// Package event defines Perpetua's typed shop events and their JSON codec.
//
// Every event is a flat JSON object with snake_case keys: "id", "type" and
// "timestamp" (RFC 3339) are always present, followed by the fields of its
// type and an optional "attrs" object for anything else. The schema is
// documented in docs/events.schema.json (a test keeps it in step with the
// decoder's table in fields.go). The package does no I/O.
//
// Decode reads one event, DecodeBatch a JSON array or NDJSON batch
// (all-or-nothing, with every problem of every bad line reported as a
// FieldError), Validate checks an Event built in Go, and Append writes the
// canonical form: compact JSON with a fixed key order and UTC timestamps.
// The decoder is hand-written for this flat schema (about 0.6 µs per
// 200-byte event on one core, validation included); it rejects unknown
// keys, keys of another type, wrong JSON types, null values, NaN/Infinity
// and numbers beyond ±1e15, invalid UTF-8, and control characters in
// identifiers.
//
// Invariants: an Event returned by the decoder has passed Validate; the
// canonical encoding (Append) of a valid event decodes to an equal event
// (times in UTC), and re-encodes to the same bytes.
package event

import (
	"encoding/json"
	"time"
)

// Type is the kind of an event. The zero value is invalid.
type Type uint8

// The event types. Their numeric values are not part of any format; the
// JSON name (String) is.
const (
	TypeInvalid     Type = iota
	TypeView             // "view": a user looked at an item
	TypeClick            // "click": a user clicked an item (often on a recommendation)
	TypeAddToCart        // "add_to_cart"
	TypePurchase         // "purchase"
	TypeImpression       // "impression": a recommendation was shown
	TypeFeedback         // "feedback": the reward for an impression
	TypeTransaction      // "transaction": a payment
	TypeLabel            // "label": a late outcome for an earlier event
	TypeStock            // "stock": a stock level of a SKU in a warehouse
	TypeOrder            // "order": a delivery order
	numTypes
)

var typeNames = [numTypes]string{
	TypeInvalid:     "",
	TypeView:        "view",
	TypeClick:       "click",
	TypeAddToCart:   "add_to_cart",
	TypePurchase:    "purchase",
	TypeImpression:  "impression",
	TypeFeedback:    "feedback",
	TypeTransaction: "transaction",
	TypeLabel:       "label",
	TypeStock:       "stock",
	TypeOrder:       "order",
}

// String returns the JSON name of t, or "" for an invalid type.
func (t Type) String() string {
	if t >= numTypes {
		return ""
	}
	return typeNames[t]
}

// Clickstream reports whether t is a shopper's behaviour on an item
// (view, click, add to cart, purchase): the events behaviour features
// and the purchase task learn from, in the shop's own time.
func (t Type) Clickstream() bool {
	return t == TypeView || t == TypeClick || t == TypeAddToCart || t == TypePurchase
}

// ParseType returns the Type with JSON name s, and false if there is none.
func ParseType(s string) (Type, bool) {
	for i := TypeView; i < numTypes; i++ {
		if typeNames[i] == s {
			return i, true
		}
	}
	return TypeInvalid, false
}

// Types returns every valid type in order.
func Types() []Type {
	out := make([]Type, 0, numTypes-1)
	for i := TypeView; i < numTypes; i++ {
		out = append(out, i)
	}
	return out
}

// OrderLine is one SKU line of an order.
type OrderLine struct {
	SKU      string  `json:"sku"`
	Quantity float64 `json:"quantity"`
}

// Event is one shop event. Fields that do not belong to the event's Type
// are zero. Which fields each type requires is enforced by Validate and
// documented in docs/events.schema.json.
//
// Numeric fields that may legitimately be absent use a Has* flag next to
// them, so that "absent" and "0" stay distinguishable without pointers.
type Event struct {
	ID        string    // "id": unique per event; used for idempotent retries
	Type      Type      // "type"
	Timestamp time.Time // "timestamp": RFC 3339, when it happened (event time)

	// Shopper behaviour: view, click, add_to_cart, purchase, impression, feedback.
	UserID    string  // "user_id"
	ItemID    string  // "item_id"
	SessionID string  // "session_id"
	Price     float64 // "price": unit price, ≥ 0 (optional on view/click/add_to_cart/purchase)
	HasPrice  bool

	// Recommendation: impression and feedback (and click on a recommendation).
	RequestID     string    // "request_id"
	Items         []string  // "items": impression: the items shown, in slot order
	Positions     []int     // "positions": impression: slot of each item (optional, default 1..n)
	Propensities  []float64 // "propensities": impression: P(logging policy showed item i), in (0,1]
	Position      int       // "position": feedback/click: the slot the reward is for (≥ 1; 0 = absent)
	Propensity    float64   // "propensity": feedback: propensity of the chosen item, in (0,1]
	HasPropensity bool
	Reward        float64 // "reward": feedback: the observed reward (finite)

	// Payments: transaction.
	TransactionID string  // "transaction_id"
	CustomerID    string  // "customer_id"
	TerminalID    string  // "terminal_id" (terminal or merchant)
	MerchantID    string  // "merchant_id" (optional)
	Amount        float64 // "amount": finite, ≥ 0
	Currency      string  // "currency": ISO 4217, three upper-case letters
	Device        string  // "device" (optional)

	// Late outcomes: label.
	TargetID string  // "target_id": the id of the event this outcome judges
	Kind     string  // "kind": what the label says, e.g. "fraud", "chargeback", "conversion"
	Value    float64 // "value": the outcome, e.g. 1 = fraud, 0 = genuine (finite)

	// Supply: stock and order.
	SKU         string      // "sku"
	Warehouse   string      // "warehouse"
	Quantity    float64     // "quantity": stock level (stock, ≥ 0); units (add_to_cart/purchase: optional, > 0, 0 = absent)
	OrderID     string      // "order_id" (order; defaults to id)
	Lines       []OrderLine // "lines": order: SKU lines
	Lat         float64     // "lat": order destination, in [-90, 90]
	Lon         float64     // "lon": order destination, in [-180, 180]
	HasLatLon   bool
	WindowStart time.Time // "window_start": order delivery window (optional)
	WindowEnd   time.Time // "window_end": order delivery window (optional, ≥ window_start)

	// Attrs holds the raw JSON object of "attrs", or nil. It is kept as
	// bytes so that decoding it costs nothing unless someone needs it.
	Attrs json.RawMessage
}
