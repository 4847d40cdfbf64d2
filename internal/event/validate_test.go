package event

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestValidateGoEvents(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	valid := []Event{
		{ID: "v", Type: TypeView, Timestamp: t0, UserID: "u", ItemID: "i"},
		{ID: "v", Type: TypeView, Timestamp: t0.In(cet), UserID: "u", ItemID: "i", HasPrice: true},
		{ID: "p", Type: TypePurchase, Timestamp: t0, UserID: "u", ItemID: "i", Price: 3, HasPrice: true, Quantity: 2,
			Attrs: json.RawMessage(" { \"a\" : 1 } ")},
		{ID: "im", Type: TypeImpression, Timestamp: t0, RequestID: "r", UserID: "u", Items: []string{"a", "b"}, Propensities: []float64{0.5, 0.5}},
		{ID: "f", Type: TypeFeedback, Timestamp: t0, RequestID: "r", Position: 2},
		{ID: "t", Type: TypeTransaction, Timestamp: t0, TransactionID: "t", CustomerID: "c", TerminalID: "m", Currency: "USD"},
		{ID: "l", Type: TypeLabel, Timestamp: t0, TargetID: "t", Kind: "fraud"},
		{ID: "s", Type: TypeStock, Timestamp: t0, SKU: "s", Warehouse: "w"},
		{ID: "o", Type: TypeOrder, Timestamp: t0, Lines: []OrderLine{{SKU: "a", Quantity: 1}}, HasLatLon: true},
	}
	for _, e := range valid {
		if err := e.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v; want nil", e, err)
			continue
		}
		enc := Append(nil, &e)
		got, err := Decode(enc)
		if err != nil {
			t.Errorf("Decode(Append(%+v)) = %v (encoding %s); want no error", e, err, enc)
			continue
		}
		// Times come back in UTC and attrs compacted; otherwise equal.
		want := e
		want.Timestamp = e.Timestamp.UTC()
		if e.Attrs != nil {
			want.Attrs = compact(nil, e.Attrs)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(Append(e)) = %+v; want %+v", got, want)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	view := Event{ID: "v", Type: TypeView, Timestamp: t0, UserID: "u", ItemID: "i"}
	with := func(f func(e *Event)) Event {
		e := view
		f(&e)
		return e
	}
	tests := []struct {
		name string
		e    Event
		want []string
	}{
		{"zero", Event{}, []string{"type: required; one of " + typeList, "id: required", "timestamp: required"}},
		{"bad type", Event{ID: "x", Type: 99, Timestamp: t0}, []string{"type: unknown type 99"}},
		{"price flag", with(func(e *Event) { e.Price = 2 }), []string{"price: Price is set but HasPrice is false"}},
		{"latlon flag", with(func(e *Event) { e.Lat = 2 }), []string{"lat: Lat/Lon are set but HasLatLon is false"}},
		{"foreign field", with(func(e *Event) { e.Amount = 2; e.SKU = "s" }), []string{`amount: not a field of type "view"`, `sku: not a field of type "view"`}},
		{"old", with(func(e *Event) { e.Timestamp = time.Unix(-1, 0) }), []string{"timestamp: " + reasonTime}},
		{"nan price", with(func(e *Event) { e.Price, e.HasPrice = math.NaN(), true }), []string{"price: " + reasonNonNeg}},
		{"bad attrs", with(func(e *Event) { e.Attrs = json.RawMessage(`{"a":}`) }), []string{"attrs: invalid JSON: unexpected character '}'"}},
		{"attrs array", with(func(e *Event) { e.Attrs = json.RawMessage(`[]`) }), []string{"attrs: must be a JSON object, got array"}},
		{"empty attrs", with(func(e *Event) { e.Attrs = json.RawMessage{} }), []string{"attrs: must be a JSON object"}},
		{"stock", Event{ID: "s", Type: TypeStock, Timestamp: t0, SKU: "s", Warehouse: "w", Quantity: -1}, []string{"quantity: " + reasonNonNeg}},
		{"purchase quantity", with(func(e *Event) { e.Type = TypePurchase; e.Quantity = -1 }), []string{"quantity: " + reasonPositive}},
		{"order", Event{ID: "o", Type: TypeOrder, Timestamp: t0, Lines: []OrderLine{{Quantity: 1}}}, []string{"lat: required", "lon: required", "lines[0].sku: required"}},
		{"impression", Event{ID: "i", Type: TypeImpression, Timestamp: t0, RequestID: "r", UserID: "u", Items: []string{"a"}, Positions: []int{}, Propensities: []float64{2}},
			[]string{"positions: must have one entry per item (1), has 0", "propensities[0]: " + reasonProb}},
	}
	for _, tt := range tests {
		err := tt.e.Validate()
		var fe FieldErrors
		if !errors.As(err, &fe) {
			t.Errorf("%s: Validate() = %v; want FieldErrors", tt.name, err)
			continue
		}
		var got []string
		for _, e := range fe {
			got = append(got, e.Error())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Validate() = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func TestAppendInvalidIsJSON(t *testing.T) {
	evs := []Event{
		{},
		{ID: "a\xff\"\\\n\x01", Type: TypeView, UserID: "\xc3", Price: math.Inf(1), HasPrice: true, Attrs: json.RawMessage(`{`)},
		{Type: 200},
		{Type: TypeImpression, Propensities: []float64{math.NaN()}},
	}
	for _, e := range evs {
		if enc := Append(nil, &e); !json.Valid(enc) {
			t.Errorf("Append(%+v) = %s; not valid JSON", e, enc)
		}
	}
}

func TestAppendFloat(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {-1.5, "-1.5"}, {0.1, "0.1"}, {1e15, "1000000000000000"},
		{1e21, "1e+21"}, {1e-7, "1e-7"}, {123456.789, "123456.789"}, {5e-324, "5e-324"},
	}
	for _, tt := range tests {
		got := string(appendFloat(nil, tt.x))
		if got != tt.want {
			t.Errorf("appendFloat(%v) = %q; want %q", tt.x, got, tt.want)
		}
		var back float64
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != tt.x {
			t.Errorf("json.Unmarshal(%q) = %v, %v; want %v", got, back, err, tt.x)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for _, typ := range Types() {
		got, ok := ParseType(typ.String())
		if !ok || got != typ {
			t.Errorf("ParseType(%q) = %v, %v; want %v, true", typ.String(), got, ok, typ)
		}
		if specs[typ].required == 0 {
			t.Errorf("specs[%v] is empty", typ)
		}
	}
	if _, ok := ParseType(""); ok {
		t.Errorf("ParseType(%q) = _, true; want false", "")
	}
}
