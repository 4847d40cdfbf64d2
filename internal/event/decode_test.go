package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const ts = `"timestamp":"2024-05-01T12:00:00Z"`

// validEvents holds one event of every type with every optional field set,
// and a minimal one of every type.
var validEvents = []string{
	`{"id":"v1","type":"view",` + ts + `,"user_id":"u1","item_id":"i1","session_id":"s1","price":9.99,"attrs":{"page":"home"}}`,
	`{"id":"v2","type":"view",` + ts + `,"user_id":"u1","item_id":"i1"}`,
	`{"id":"c1","type":"click",` + ts + `,"user_id":"u1","item_id":"i1","session_id":"s1","price":0,"request_id":"r1","position":3}`,
	`{"id":"a1","type":"add_to_cart",` + ts + `,"user_id":"u1","item_id":"i1","request_id":"r1","quantity":2}`,
	`{"id":"p1","type":"purchase",` + ts + `,"user_id":"u1","item_id":"i1","price":129.95,"quantity":1.5}`,
	`{"id":"im1","type":"impression",` + ts + `,"user_id":"u1","session_id":"s1","request_id":"r1","items":["a","b","c"],"positions":[1,2,3],"propensities":[0.5,0.25,1]}`,
	`{"id":"im2","type":"impression",` + ts + `,"user_id":"u1","request_id":"r1","items":["a"],"propensities":[1]}`,
	`{"id":"f1","type":"feedback",` + ts + `,"user_id":"u1","item_id":"a","session_id":"s1","request_id":"r1","position":1,"propensity":0.5,"reward":-1.25}`,
	`{"id":"f2","type":"feedback",` + ts + `,"request_id":"r1","position":2,"reward":0}`,
	`{"id":"t1","type":"transaction",` + ts + `,"transaction_id":"tx1","customer_id":"c1","terminal_id":"term1","merchant_id":"m1","amount":0,"currency":"EUR","device":"android/14; Pixel 8"}`,
	`{"id":"l1","type":"label",` + ts + `,"target_id":"t1","kind":"fraud","value":1}`,
	`{"id":"s1","type":"stock",` + ts + `,"sku":"sku-1","warehouse":"w1","quantity":0}`,
	`{"id":"o1","type":"order",` + ts + `,"warehouse":"w1","order_id":"ord1","lines":[{"sku":"a","quantity":2},{"sku":"b","quantity":0.5}],"lat":-33.9,"lon":151.2,"window_start":"2024-05-01T13:00:00Z","window_end":"2024-05-01T15:00:00Z"}`,
	`{"id":"o2","type":"order",` + ts + `,"lines":[{"sku":"a","quantity":1}],"lat":0,"lon":0}`,
	// Encodings that are not canonical but valid.
	"  {\"id\" : \"w\\u00e9\\ud83d\\ude00\", \"type\":\"view\", \"timestamp\":\"2024-05-01T14:00:00.123456789+02:00\",\n \"user_id\":\"\\/u\", \"item_id\":\"i\", \"price\": 1E2, \"attrs\" : { \"a\" : [ 1 , true , null ] , \"b\":\"\\u0001\" } }  ",
	`{"timestamp":"2024-05-01T12:00:00Z","item_id":"i","user_id":"u","type":"view","id":"reordered"}`,
	`{"id":"c2","type":"click",` + ts + `,"user_id":"u1","item_id":"i1","position":3.0}`,
}

func TestDecodeValid(t *testing.T) {
	for _, in := range validEvents {
		e, err := Decode([]byte(in))
		if err != nil {
			t.Errorf("Decode(%q) = %v; want no error", in, err)
			continue
		}
		if err := e.Validate(); err != nil {
			t.Errorf("Decode(%q).Validate() = %v; want nil", in, err)
		}
		enc := Append(nil, &e)
		if !json.Valid(enc) {
			t.Errorf("Append(Decode(%q)) = %s; not valid JSON", in, enc)
		}
		e2, err := Decode(enc)
		if err != nil {
			t.Errorf("Decode(Append(Decode(%q))) = %v; want no error", in, err)
			continue
		}
		if !reflect.DeepEqual(e, e2) {
			t.Errorf("Decode(Append(Decode(%q))) = %+v; want %+v", in, e2, e)
		}
		if enc2 := Append(nil, &e2); string(enc2) != string(enc) {
			t.Errorf("Append is not stable for %q: %s then %s", in, enc, enc2)
		}
		// Canonical input encodes to itself.
		if strings.HasPrefix(in, `{"id"`) && !strings.Contains(in, "3.0") && string(enc) != in {
			t.Errorf("Append(Decode(%q)) = %s; want the input", in, enc)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	e, err := Decode([]byte(validEvents[14]))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{
		ID:        "wé😀",
		Type:      TypeView,
		Timestamp: time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC),
		UserID:    "/u",
		ItemID:    "i",
		Price:     100,
		HasPrice:  true,
		Attrs:     json.RawMessage(`{"a":[1,true,null],"b":"\u0001"}`),
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("Decode(%q) =\n%+v; want\n%+v", validEvents[14], e, want)
	}
	got := string(Append(nil, &e))
	const wantEnc = `{"id":"wé😀","type":"view","timestamp":"2024-05-01T12:00:00.123456789Z","user_id":"/u","item_id":"i","price":100,"attrs":{"a":[1,true,null],"b":"\u0001"}}`
	if got != wantEnc {
		t.Errorf("Append = %s; want %s", got, wantEnc)
	}
}

func TestDecodeInvalid(t *testing.T) {
	const view = `"id":"x","type":"view",` + ts + `,"user_id":"u","item_id":"i"`
	const tx = `"id":"x","type":"transaction",` + ts + `,"transaction_id":"t","customer_id":"c","terminal_id":"m","currency":"EUR"`
	const imp = `"id":"x","type":"impression",` + ts + `,"request_id":"r","user_id":"u"`
	const ord = `"id":"x","type":"order",` + ts + `,"lat":1,"lon":2`
	long := strings.Repeat("a", MaxIDLen+1)
	tests := []struct {
		in   string
		want []string
	}{
		// Malformed JSON.
		{`{"id":`, []string{"malformed JSON at byte offset 6: unexpected end of input"}},
		{`{"id":"x",}`, []string{"malformed JSON at byte offset 10: expected a field name in double quotes"}},
		{`{"id":"x" "type":"view"}`, []string{"malformed JSON at byte offset 10: expected ',' or '}'"}},
		{`{'id':"x"}`, []string{"malformed JSON at byte offset 1: expected a field name in double quotes"}},
		{`{"id":"x` + "\n" + `"}`, []string{"malformed JSON at byte offset 8: raw control character in string (escape it, e.g. \\n)"}},
		{`{"id":"\x"}`, []string{`malformed JSON at byte offset 7: invalid escape sequence`}},
		{`{"amount":01}`, []string{"malformed JSON at byte offset 11: expected ',' or '}'"}},
		{`{"amount":1.}`, []string{"malformed JSON at byte offset 12: invalid number: digit expected after '.'"}},
		{`{"amount":tru}`, []string{`malformed JSON at byte offset 10: unexpected character 't'`}},
		{`{` + view + `} {}`, []string{"malformed JSON at byte offset 88: unexpected data after the object"}},
		{`[{` + view + `}]`, []string{"must be a JSON object, got array"}},
		{`"x"`, []string{"must be a JSON object, got string"}},
		{``, []string{"empty input; want a JSON object"}},
		// Wrong JSON types.
		{`{"id":1,"type":"view",` + ts + `,"user_id":"u","item_id":"i"}`, []string{"id: must be a string, got number"}},
		{`{` + view + `,"session_id":null}`, []string{"session_id: must be a string, got null"}},
		{`{` + view + `,"price":"9.99"}`, []string{"price: must be a number, got string"}},
		{`{` + view + `,"price":[1]}`, []string{"price: must be a number, got array"}},
		{`{` + view + `,"attrs":[1]}`, []string{"attrs: must be a JSON object, got array"}},
		{`{"id":"x","type":"view","timestamp":1714564800,"user_id":"u","item_id":"i"}`, []string{"timestamp: must be a string, got number"}},
		// Non-finite and huge numbers.
		{`{` + tx + `,"amount":NaN}`, []string{"amount: must be a finite number; NaN is not valid JSON"}},
		{`{` + tx + `,"amount":Infinity}`, []string{"amount: must be a finite number; Infinity is not valid JSON"}},
		{`{` + tx + `,"amount":-Infinity}`, []string{"amount: must be a finite number; -Infinity is not valid JSON"}},
		{`{` + tx + `,"amount":1e400}`, []string{"amount: must be a finite number ≥ 0"}},
		{`{` + tx + `,"amount":1e16}`, []string{"amount: must be at most 1e15 in magnitude"}},
		{`{` + tx + `,"amount":-0.01}`, []string{"amount: must be a finite number ≥ 0"}},
		{`{"id":"x","type":"label",` + ts + `,"target_id":"t","kind":"k","value":-1e999}`, []string{"value: must be a finite number"}},
		{`{"id":"x","type":"label",` + ts + `,"target_id":"t","kind":"k","value":"NaN"}`, []string{"value: must be a number, got string"}},
		// Types and fields.
		{`{"id":"x","type":"pageview",` + ts + `}`, []string{`type: unknown type "pageview"; want one of ` + typeList}},
		{`{"id":"x",` + ts + `}`, []string{"type: required; one of " + typeList}},
		{`{` + view + `,"foo":1}`, []string{`foo: unknown field "foo"; put extra data in "attrs"`}},
		{`{` + view + `,"amount":1}`, []string{`amount: not a field of type "view"`}},
		{`{` + view + `,"id":"y"}`, []string{"id: duplicate field"}},
		{`{"type":"view",` + ts + `}`, []string{"id: required", "user_id: required", "item_id: required"}},
		{`{` + tx + `}`, []string{"amount: required"}},
		{`{"id":"x","type":"feedback",` + ts + `,"request_id":"r","reward":1}`, []string{`item_id: required unless "position" is given`}},
		{`{"id":"x","type":"stock",` + ts + `,"sku":"s","warehouse":"w"}`, []string{"quantity: required"}},
		{`{` + ord + `}`, []string{"lines: required"}},
		{`{"id":"x","type":"order",` + ts + `,"lines":[{"sku":"a","quantity":1}],"lat":1}`, []string{"lon: required"}},
		// Strings.
		{`{"id":"","type":"view",` + ts + `,"user_id":"u","item_id":"i"}`, []string{"id: must not be empty (omit the field if unknown)"}},
		{`{"id":"` + long + `","type":"view",` + ts + `,"user_id":"u","item_id":"i"}`, []string{"id: must be at most 128 bytes"}},
		{`{"id":"a\u0007","type":"view",` + ts + `,"user_id":"u","item_id":"i"}`, []string{"id: must not contain control characters"}},
		{`{"id":"a\u0085","type":"view",` + ts + `,"user_id":"u","item_id":"i"}`, []string{"id: must not contain control characters"}},
		{"{\"id\":\"a\xff\",\"type\":\"view\"," + ts + `,"user_id":"u","item_id":"i"}`, []string{"id: must be valid UTF-8"}},
		{`{"id":"a\ud800","type":"view",` + ts + `,"user_id":"u","item_id":"i"}`, []string{"id: must be valid UTF-8"}},
		{`{` + tx + `,"amount":1,"currency":"eur"}`, []string{"currency: duplicate field"}},
		{`{"id":"x","type":"transaction",` + ts + `,"transaction_id":"t","customer_id":"c","terminal_id":"m","amount":1,"currency":"eur"}`, []string{"currency: " + reasonCurrency}},
		// Times.
		{`{"id":"x","type":"view","timestamp":"2024-05-01 12:00:00","user_id":"u","item_id":"i"}`, []string{"timestamp: must be an RFC 3339 time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.123+02:00"}},
		{`{"id":"x","type":"view","timestamp":"1969-12-31T23:59:59Z","user_id":"u","item_id":"i"}`, []string{"timestamp: " + reasonTime}},
		{`{` + ord + `,"lines":[{"sku":"a","quantity":1}],"window_start":"2024-05-01T15:00:00Z","window_end":"2024-05-01T13:00:00Z"}`, []string{"window_end: must not be before window_start"}},
		// Impressions.
		{`{` + imp + `,"items":[],"propensities":[]}`, []string{"items: must not be empty", "propensities: must not be empty"}},
		{`{` + imp + `,"items":["a","b"],"propensities":[0.5]}`, []string{"propensities: must have one entry per item (2), has 1"}},
		{`{` + imp + `,"items":["a","b"],"propensities":[0,1.5]}`, []string{"propensities[0]: " + reasonProb, "propensities[1]: " + reasonProb}},
		{`{` + imp + `,"items":["a",1,null],"propensities":[1,1,1]}`, []string{"items[1]: must be a string, got number", "items[2]: must be a string, got null"}},
		{`{` + imp + `,"items":["a","b","a"],"propensities":[1,1,1]}`, []string{"items[2]: repeats items[0]"}},
		{`{` + imp + `,"items":["a"],"positions":[1.5],"propensities":[1]}`, []string{"positions[0]: must be an integer"}},
		{`{` + imp + `,"items":["a"],"positions":[0],"propensities":[1]}`, []string{"positions[0]: " + reasonPosition}},
		{`{` + imp + `,"items":"a","propensities":[1]}`, []string{"items: must be an array of strings, got string"}},
		// Orders.
		{`{` + ord + `,"lines":[]}`, []string{"lines: must not be empty"}},
		{`{` + ord + `,"lines":[{"sku":"a"},{"quantity":1},{"sku":"b","quantity":1,"price":2},3]}`, []string{
			"lines[0].quantity: required", "lines[1].sku: required",
			`lines[2].price: unknown field "price"; a line has only "sku" and "quantity"`,
			`lines[3]: must be an object with "sku" and "quantity", got number`}},
		{`{` + ord + `,"lines":[{"sku":"a","quantity":0},{"sku":"","quantity":1}]}`, []string{"lines[0].quantity: " + reasonPositive, "lines[1].sku: required"}},
		{`{"id":"x","type":"order",` + ts + `,"lines":[{"sku":"a","quantity":1}],"lat":91,"lon":-181}`, []string{"lat: must be a latitude in [-90, 90]", "lon: must be a longitude in [-180, 180]"}},
		// Attrs.
		{"{" + view + ",\"attrs\":{\"a\":\"\xff\"}}", []string{"attrs: strings must be valid UTF-8"}},
		{`{` + view + `,"attrs":{"a":1e999}}`, []string{"attrs: numbers must fit in a 64-bit float"}},
		{`{` + view + `,"attrs":{"a":"` + strings.Repeat("x", MaxAttrsLen) + `"}}`, []string{"attrs: must be at most 16384 bytes of compact JSON"}},
		{`{` + view + `,"attrs":` + strings.Repeat(`{"a":`, MaxDepth+1) + `1` + strings.Repeat(`}`, MaxDepth+1) + `}`, []string{"malformed JSON at byte offset 255: JSON nested too deeply"}},
		// Several problems at once are all reported.
		{`{"id":1,"type":"transaction",` + ts + `,"transaction_id":"t","customer_id":"","amount":NaN,"currency":"EURO","bar":true}`, []string{
			"id: must be a number, got number"[:0] + "id: must be a string, got number",
			"amount: must be a finite number; NaN is not valid JSON",
			`bar: unknown field "bar"; put extra data in "attrs"`,
			"terminal_id: required",
			"customer_id: must not be empty (omit the field if unknown)",
			"currency: " + reasonCurrency}},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		var fe FieldErrors
		if !errors.As(err, &fe) {
			t.Errorf("Decode(%.80q) = %v; want FieldErrors %q", tt.in, err, tt.want)
			continue
		}
		var got []string
		for _, e := range fe {
			got = append(got, e.Error())
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decode(%.80q) errors = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBatch(t *testing.T) {
	v := func(id string) string {
		return `{"id":"` + id + `","type":"view",` + ts + `,"user_id":"u","item_id":"i"}`
	}
	tests := []struct {
		name string
		in   string
		ids  []string
		errs []string
	}{
		{"ndjson", v("a") + "\n" + v("b") + "\n", []string{"a", "b"}, nil},
		{"ndjson crlf blank lines no trailing newline", "\r\n" + v("a") + "\r\n\r\n  \t\n" + v("b"), []string{"a", "b"}, nil},
		{"bom", "\xEF\xBB\xBF" + v("a"), []string{"a"}, nil},
		{"array", " [ " + v("a") + " ,\n" + v("b") + "]\n", []string{"a", "b"}, nil},
		{"empty array", "[]", nil, nil},
		{"empty body", "", nil, nil},
		{"blank body", " \n\n", nil, nil},
		{"ndjson errors on every line", "{\"id\":1}\n" + v("ok") + "\n\n{\"id\":\"x\",\"type\":\"view\"\n[1]\nnull\n" + v("b"), nil, []string{
			"line 1: id: must be a string, got number",
			"line 1: type: required; one of " + typeList,
			"line 1: timestamp: required",
			"line 4: malformed JSON at column 24: unexpected end of line (NDJSON needs one complete JSON object per line)",
			"line 5: must be a JSON object, got array",
			"line 6: must be a JSON object, got null",
		}},
		{"ndjson column after leading space", "  {\"id\":x}", nil, []string{"line 1: malformed JSON at column 9: unexpected character 'x'"}},
		{"array errors", `[{"id":"a","type":"view",` + ts + `}, 3, ` + v("b") + `, {"id":` + "\n" + `"c",]`, nil, []string{
			"item 1: user_id: required",
			"item 1: item_id: required",
			"item 2: must be a JSON object, got number",
			"item 4: malformed JSON at byte offset 165: expected a field name in double quotes",
		}},
		{"array unterminated", "[" + v("a") + ",", nil, []string{"item 2: malformed JSON at byte offset 89: unexpected end of input"}},
		{"array trailing data", "[" + v("a") + "] x", nil, []string{"malformed JSON at byte offset 90: unexpected data after the array"}},
		{"array missing comma", "[" + v("a") + " " + v("b") + "]", nil, []string{"item 1: malformed JSON at byte offset 89: expected ',' or ']'"}},
	}
	for _, tt := range tests {
		dst := make([]Event, 1, 4) // DecodeBatch appends; dst[0] must survive.
		dst[0].ID = "keep"
		got, err := DecodeBatch([]byte(tt.in), dst)
		if tt.errs == nil {
			if err != nil {
				t.Errorf("%s: DecodeBatch(%q) = %v; want no error", tt.name, tt.in, err)
				continue
			}
			var ids []string
			for _, e := range got[1:] {
				ids = append(ids, e.ID)
			}
			if got[0].ID != "keep" || !reflect.DeepEqual(ids, tt.ids) {
				t.Errorf("%s: DecodeBatch(%q) ids = %q (dst[0] %q); want %q", tt.name, tt.in, ids, got[0].ID, tt.ids)
			}
			continue
		}
		var be *BatchError
		if !errors.As(err, &be) {
			t.Errorf("%s: DecodeBatch(%q) = %v; want *BatchError", tt.name, tt.in, err)
			continue
		}
		if len(got) != 1 || got[0].ID != "keep" {
			t.Errorf("%s: DecodeBatch(%q) returned %d events; want dst unchanged", tt.name, tt.in, len(got))
		}
		var msgs []string
		for _, e := range be.Errors {
			msgs = append(msgs, e.Error())
		}
		if !reflect.DeepEqual(msgs, tt.errs) {
			t.Errorf("%s: DecodeBatch(%q) errors =\n%q; want\n%q", tt.name, tt.in, msgs, tt.errs)
		}
	}
}

func TestDecodeBatchMax(t *testing.T) {
	body := benchBody(11)
	if _, err := DecodeBatchMax(body, nil, 11); err != nil {
		t.Errorf("DecodeBatchMax(11 events, 11) = %v; want nil", err)
	}
	for _, in := range [][]byte{body, []byte("[" + strings.ReplaceAll(strings.TrimSpace(string(body)), "\n", ",") + "]")} {
		evs, err := DecodeBatchMax(in, nil, 10)
		if !errors.Is(err, ErrTooManyEvents) || len(evs) != 0 {
			t.Errorf("DecodeBatchMax(11 events, 10) = %d events, %v; want 0, ErrTooManyEvents", len(evs), err)
		}
	}
}

func TestBatchErrorCap(t *testing.T) {
	body := strings.Repeat("{\"id\":1}\n", MaxBatchErrors) // three errors per line
	_, err := DecodeBatch([]byte(body), nil)
	var be *BatchError
	if !errors.As(err, &be) {
		t.Fatalf("DecodeBatch = %v; want *BatchError", err)
	}
	if len(be.Errors) != MaxBatchErrors || be.Omitted != 2*MaxBatchErrors {
		t.Errorf("BatchError has %d errors, %d omitted; want %d, %d", len(be.Errors), be.Omitted, MaxBatchErrors, 2*MaxBatchErrors)
	}
	want := "event: invalid batch: line 1: id: must be a string, got number (and 2999 more)"
	if be.Error() != want {
		t.Errorf("BatchError.Error() = %q; want %q", be.Error(), want)
	}
}

func TestFieldErrorString(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{Line: 3, Field: "amount", Reason: "must be a finite number ≥ 0"}, "line 3: amount: must be a finite number ≥ 0"},
		{FieldError{Line: 3, Item: true, Field: "amount", Reason: "r"}, "item 3: amount: r"},
		{FieldError{Field: "amount", Reason: "r"}, "amount: r"},
		{FieldError{Line: 1, Reason: "malformed"}, "line 1: malformed"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q; want %q", tt.e, got, tt.want)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	body := benchBody(100) // every event has attrs
	evs, err := DecodeBatch(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		evs, _ = DecodeBatch(body, evs[:0])
	})
	// One copy of each line (the string fields are substrings of it), one
	// for attrs, and
	// one for the batch's error list.
	if allocs > 201 {
		t.Errorf("DecodeBatch of 100 events: %v allocations; want ≤ 201", allocs)
	}
}

func TestAppendAllocs(t *testing.T) {
	var evs []Event
	for _, in := range validEvents {
		e, err := Decode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	buf := make([]byte, 0, 1<<16)
	allocs := testing.AllocsPerRun(50, func() {
		buf = buf[:0]
		for i := range evs {
			buf = Append(buf, &evs[i])
		}
	})
	if allocs != 0 {
		t.Errorf("Append: %v allocations; want 0", allocs)
	}
}
