package event

// This file is the single table of the wire schema: which JSON keys exist,
// what JSON type each holds, and which keys each event type requires or
// allows. The decoder, Validate and Append all read it, and schema_test.go
// checks docs/events.schema.json against it so the two cannot drift.

// Limits on one event. They bound the memory an event can take and keep
// numbers in a range learners can square without overflow. They are part of
// the wire contract (docs/events.schema.json states them too).
const (
	MaxIDLen     = 128       // bytes in "id" and every other identifier string
	MaxKindLen   = 64        // bytes in a label's "kind"
	MaxDeviceLen = 256       // bytes in a transaction's "device"
	MaxItems     = 1000      // entries in "items", "positions" and "propensities"
	MaxLines     = 1000      // entries in an order's "lines"
	MaxAttrsLen  = 16 << 10  // bytes of "attrs" after whitespace is removed
	MaxDepth     = 32        // nesting depth of JSON inside "attrs"
	MaxMagnitude = 1e15      // largest |x| of any number field
	MaxPosition  = 1_000_000 // largest slot in "position" / "positions"
)

// field names one top-level JSON key of the wire format.
type field uint8

// The fields, in canonical encoding order (Append writes the fields an
// event has in this order, attrs last).
const (
	fID field = iota
	fType
	fTimestamp
	fUserID
	fItemID
	fSessionID
	fPrice
	fRequestID
	fItems
	fPositions
	fPropensities
	fPosition
	fPropensity
	fReward
	fTransactionID
	fCustomerID
	fTerminalID
	fMerchantID
	fAmount
	fCurrency
	fDevice
	fTargetID
	fKind
	fValue
	fSKU
	fWarehouse
	fQuantity
	fOrderID
	fLines
	fLat
	fLon
	fWindowStart
	fWindowEnd
	fAttrs
	numFields
)

var fieldNames = [numFields]string{
	fID:            "id",
	fType:          "type",
	fTimestamp:     "timestamp",
	fUserID:        "user_id",
	fItemID:        "item_id",
	fSessionID:     "session_id",
	fPrice:         "price",
	fQuantity:      "quantity",
	fRequestID:     "request_id",
	fItems:         "items",
	fPositions:     "positions",
	fPropensities:  "propensities",
	fPosition:      "position",
	fPropensity:    "propensity",
	fReward:        "reward",
	fTransactionID: "transaction_id",
	fCustomerID:    "customer_id",
	fTerminalID:    "terminal_id",
	fMerchantID:    "merchant_id",
	fAmount:        "amount",
	fCurrency:      "currency",
	fDevice:        "device",
	fTargetID:      "target_id",
	fKind:          "kind",
	fValue:         "value",
	fSKU:           "sku",
	fWarehouse:     "warehouse",
	fOrderID:       "order_id",
	fLines:         "lines",
	fLat:           "lat",
	fLon:           "lon",
	fWindowStart:   "window_start",
	fWindowEnd:     "window_end",
	fAttrs:         "attrs",
}

func (f field) String() string { return fieldNames[f] }

// lookupField maps a JSON key to its field. A switch on a string compiles
// to a length-then-value search and does not allocate.
func lookupField(k string) (field, bool) {
	switch k {
	case "id":
		return fID, true
	case "type":
		return fType, true
	case "timestamp":
		return fTimestamp, true
	case "user_id":
		return fUserID, true
	case "item_id":
		return fItemID, true
	case "session_id":
		return fSessionID, true
	case "price":
		return fPrice, true
	case "quantity":
		return fQuantity, true
	case "request_id":
		return fRequestID, true
	case "items":
		return fItems, true
	case "positions":
		return fPositions, true
	case "propensities":
		return fPropensities, true
	case "position":
		return fPosition, true
	case "propensity":
		return fPropensity, true
	case "reward":
		return fReward, true
	case "transaction_id":
		return fTransactionID, true
	case "customer_id":
		return fCustomerID, true
	case "terminal_id":
		return fTerminalID, true
	case "merchant_id":
		return fMerchantID, true
	case "amount":
		return fAmount, true
	case "currency":
		return fCurrency, true
	case "device":
		return fDevice, true
	case "target_id":
		return fTargetID, true
	case "kind":
		return fKind, true
	case "value":
		return fValue, true
	case "sku":
		return fSKU, true
	case "warehouse":
		return fWarehouse, true
	case "order_id":
		return fOrderID, true
	case "lines":
		return fLines, true
	case "lat":
		return fLat, true
	case "lon":
		return fLon, true
	case "window_start":
		return fWindowStart, true
	case "window_end":
		return fWindowEnd, true
	case "attrs":
		return fAttrs, true
	}
	return 0, false
}

// fieldSet is a set of fields, one bit per field.
type fieldSet uint64

func fields(fs ...field) fieldSet {
	var s fieldSet
	for _, f := range fs {
		s |= 1 << f
	}
	return s
}

func (s fieldSet) has(f field) bool { return s&(1<<f) != 0 }

// spec says which fields an event type requires and allows.
type spec struct {
	required fieldSet // must be present
	optional fieldSet // may be present
	// anyOf, if not empty, is a subset of optional of which at least one
	// must be present (feedback: item_id or position).
	anyOf fieldSet
}

func (s spec) allowed() fieldSet { return s.required | s.optional }

var (
	common   = fields(fID, fType, fTimestamp)
	behavior = fields(fUserID, fItemID)
)

// specs is the per-type table of required and optional fields. Every type
// also allows "attrs".
//
//	view, click, add_to_cart, purchase: user_id, item_id; optional
//	  session_id, price, and for attribution request_id (click, add_to_cart,
//	  purchase) and position (click); quantity (> 0) on add_to_cart/purchase.
//	impression: request_id, user_id, items, propensities; optional
//	  session_id, positions.
//	feedback: request_id, reward and item_id or position (or both);
//	  optional user_id, session_id, propensity.
//	transaction: transaction_id, customer_id, terminal_id, amount, currency;
//	  optional merchant_id, device.
//	label: target_id, kind, value.
//	stock: sku, warehouse, quantity.
//	order: lines, lat, lon; optional order_id, warehouse, window_start,
//	  window_end.
var specs = [numTypes]spec{
	TypeView: {
		required: common | behavior,
		optional: fields(fSessionID, fPrice, fAttrs),
	},
	TypeClick: {
		required: common | behavior,
		optional: fields(fSessionID, fPrice, fRequestID, fPosition, fAttrs),
	},
	TypeAddToCart: {
		required: common | behavior,
		optional: fields(fSessionID, fPrice, fQuantity, fRequestID, fAttrs),
	},
	TypePurchase: {
		required: common | behavior,
		optional: fields(fSessionID, fPrice, fQuantity, fRequestID, fAttrs),
	},
	TypeImpression: {
		required: common | fields(fRequestID, fUserID, fItems, fPropensities),
		optional: fields(fSessionID, fPositions, fAttrs),
	},
	TypeFeedback: {
		required: common | fields(fRequestID, fReward),
		optional: fields(fItemID, fPosition, fUserID, fSessionID, fPropensity, fAttrs),
		anyOf:    fields(fItemID, fPosition),
	},
	TypeTransaction: {
		required: common | fields(fTransactionID, fCustomerID, fTerminalID, fAmount, fCurrency),
		optional: fields(fMerchantID, fDevice, fAttrs),
	},
	TypeLabel: {
		required: common | fields(fTargetID, fKind, fValue),
		optional: fields(fAttrs),
	},
	TypeStock: {
		required: common | fields(fSKU, fWarehouse, fQuantity),
		optional: fields(fAttrs),
	},
	TypeOrder: {
		required: common | fields(fLines, fLat, fLon),
		optional: fields(fOrderID, fWarehouse, fWindowStart, fWindowEnd, fAttrs),
	},
}

// typeList is the human-readable list of valid type names for errors.
const typeList = "view, click, add_to_cart, purchase, impression, feedback, transaction, label, stock, order"
