package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// shopMapping maps a typical clickstream record:
//
//	{"event_id":"e1","kind":"page_view","ts":1700000000123,"user":{"id":"u1"},"product":"p9","price":"12.5"}
var shopMapping = Mapping{Fields: map[string]Field{
	"id":        {Path: "event_id"},
	"type":      {Path: "kind", Map: map[string]json.RawMessage{"page_view": json.RawMessage(`"view"`), "order": json.RawMessage(`"purchase"`)}},
	"timestamp": {Path: "ts", Format: "unix_ms"},
	"user_id":   {Path: "user.id"},
	"item_id":   {Path: "product"},
	"price":     {Path: "amount", Optional: true},
}}

func mustCompile(t *testing.T, m Mapping) *mapper {
	t.Helper()
	mp, err := compile(m)
	if err != nil {
		t.Fatalf("compile = %v; want nil", err)
	}
	return mp
}

// mapEvent applies m to value and decodes the event.
func mapEvent(m *mapper, value string, meta *Meta) (event.Event, error) {
	obj, err := m.apply(nil, []byte(value), meta)
	if err != nil {
		return event.Event{}, err
	}
	return event.Decode(obj)
}

func TestMappingApply(t *testing.T) {
	m := mustCompile(t, shopMapping)
	meta := &Meta{Topic: "clicks", Partition: 2, Offset: 41}
	tests := []struct {
		in   string
		want string // canonical encoding
	}{
		{`{"event_id":"e1","kind":"page_view","ts":1700000000123,"user":{"id":"u1"},"product":"p9"}`,
			`{"id":"e1","type":"view","timestamp":"2023-11-14T22:13:20.123Z","user_id":"u1","item_id":"p9"}`},
		{`{"event_id":"e2","kind":"order","ts":"1700000000000","user":{"id":"u1","x":[1]},"product":"p9","amount":12.5,"ignored":true}`,
			`{"id":"e2","type":"purchase","timestamp":"2023-11-14T22:13:20Z","user_id":"u1","item_id":"p9","price":12.5}`},
		{`{"event_id":"e3","kind":"page_view","ts":1700000000000,"user":{"id":"u1"},"product":"p9","amount":null}`,
			`{"id":"e3","type":"view","timestamp":"2023-11-14T22:13:20Z","user_id":"u1","item_id":"p9"}`},
	}
	for _, tc := range tests {
		ev, err := mapEvent(m, tc.in, meta)
		if err != nil {
			t.Errorf("map(%q) = %v; want nil", tc.in, err)
			continue
		}
		if got := string(event.Append(nil, &ev)); got != tc.want {
			t.Errorf("map(%q) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

func TestMappingMetaAndConst(t *testing.T) {
	m := mustCompile(t, Mapping{Fields: map[string]Field{
		"id":        {Path: "$offset_id"},
		"type":      {Const: json.RawMessage(`"view"`)},
		"timestamp": {Path: "$timestamp"},
		"user_id":   {Path: "$key"},
		"item_id":   {Path: "sku[1]"},
		"attrs":     {Path: "extra", Optional: true},
	}})
	meta := &Meta{Topic: "t", Partition: 3, Offset: 7, Key: []byte("u5"), Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}
	ev, err := mapEvent(m, `{"sku":["a","b"],"extra":{"k":1}}`, meta)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"t-3-7","type":"view","timestamp":"2024-01-02T02:04:05Z","user_id":"u5","item_id":"b","attrs":{"k":1}}`
	if got := string(event.Append(nil, &ev)); got != want {
		t.Fatalf("map = %s; want %s", got, want)
	}
}

func TestTimeFormats(t *testing.T) {
	tests := []struct {
		format, in, want string
	}{
		{"unix", `1700000000`, "2023-11-14T22:13:20Z"},
		{"unix", `1700000000.5`, "2023-11-14T22:13:20.5Z"},
		{"unix", `"1700000000"`, "2023-11-14T22:13:20Z"},
		{"unix_ms", `1700000000123`, "2023-11-14T22:13:20.123Z"},
		{"unix_us", `1700000000123456`, "2023-11-14T22:13:20.123456Z"},
		{"unix_ns", `1700000000123456789`, "2023-11-14T22:13:20.123456789Z"},
		{"rfc3339", `"2023-11-14T23:13:20+01:00"`, "2023-11-14T22:13:20Z"},
		{"layout:2006-01-02 15:04:05", `"2023-11-14 22:13:20"`, "2023-11-14T22:13:20Z"},
	}
	for _, tc := range tests {
		tf, err := parseFormat(tc.format)
		if err != nil {
			t.Fatalf("parseFormat(%q) = %v", tc.format, err)
		}
		got, err := tf.parse([]byte(tc.in))
		if err != nil || got.UTC().Format(time.RFC3339Nano) != tc.want {
			t.Errorf("parse(%s, %s) = %v, %v; want %s", tc.format, tc.in, got.UTC(), err, tc.want)
		}
	}
	for _, tc := range []struct{ format, in string }{
		{"unix", `"soon"`}, {"unix", `true`}, {"unix_ns", `1e30`}, {"rfc3339", `"yesterday"`},
		{"layout:2006-01-02", `"14/11/2023"`}, {"unix_ms", `99999999999999999`},
	} {
		tf, _ := parseFormat(tc.format)
		if got, err := tf.parse([]byte(tc.in)); err == nil {
			t.Errorf("parse(%s, %s) = %v, nil; want an error", tc.format, tc.in, got)
		}
	}
}

func TestMappingRecordErrors(t *testing.T) {
	m := mustCompile(t, shopMapping)
	tests := []struct {
		in    string
		field string // the target field the error names
		want  string
	}{
		{`not json`, "(record)", "not a JSON object"},
		{`[1,2]`, "(record)", "not a JSON object"},
		{`{"kind":"page_view","ts":1,"user":{"id":"u"},"product":"p"}`, "id", "absent"},
		{`{"event_id":"e","kind":"refund","ts":1,"user":{"id":"u"},"product":"p"}`, "type", `"refund" is not in the mapping`},
		{`{"kind":"refund","ts":"x","user":{"id":"u"},"product":"p"}`, "id", `type (from kind): value "refund" is not in the mapping`},
		{`{"event_id":"e","kind":"page_view","ts":"noon","user":{"id":"u"},"product":"p"}`, "timestamp", "not a number of milliseconds"},
		{`{"event_id":"e","kind":"page_view","ts":1,"user":"u","product":"p"}`, "user_id", "absent"},
		// Mapped fine, refused by event validation.
		{`{"event_id":"e","kind":"page_view","ts":1700000000000,"user":{"id":"u"},"product":"p","amount":-3}`, "price", "≥ 0"},
		{`{"event_id":"e","kind":"page_view","ts":1700000000000,"user":{"id":"u"},"product":17}`, "item_id", "string"},
	}
	for _, tc := range tests {
		_, err := mapEvent(m, tc.in, &Meta{})
		var me MappingErrors
		var fe event.FieldErrors
		switch {
		case errors.As(err, &me):
			if me[0].Field != tc.field || !strings.Contains(me.Error(), tc.want) {
				t.Errorf("map(%q) = %v; want an error on %s containing %q", tc.in, err, tc.field, tc.want)
			}
		case errors.As(err, &fe):
			if fe[0].Field != tc.field || !strings.Contains(fe.Error(), tc.want) {
				t.Errorf("map(%q) = %v; want an error on %s containing %q", tc.in, err, tc.field, tc.want)
			}
		default:
			t.Errorf("map(%q) = %v; want MappingErrors or FieldErrors on %s", tc.in, err, tc.field)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	base := func(extra map[string]Field) Mapping {
		f := map[string]Field{"id": {Path: "id"}, "type": {Const: json.RawMessage(`"view"`)}, "timestamp": {Path: "$timestamp"}}
		for k, v := range extra {
			f[k] = v
		}
		return Mapping{Fields: f}
	}
	tests := []struct {
		name string
		m    Mapping
		want string
	}{
		{"empty", Mapping{}, "empty"},
		{"no-id", Mapping{Fields: map[string]Field{"type": {Path: "t"}, "timestamp": {Path: "ts"}}}, `no "id"`},
		{"unknown-target", base(map[string]Field{"colour": {Path: "c"}}), "fields.colour: not a field of the event schema"},
		{"both", base(map[string]Field{"user_id": {Path: "u", Const: json.RawMessage(`"x"`)}}), "exactly one"},
		{"neither", base(map[string]Field{"user_id": {}}), "exactly one"},
		{"bad-const", base(map[string]Field{"user_id": {Const: json.RawMessage(`{`)}}), "not valid JSON"},
		{"bad-meta", base(map[string]Field{"user_id": {Path: "$headers"}}), "unknown record metadata"},
		{"bad-path", base(map[string]Field{"user_id": {Path: "a..b"}}), "empty key"},
		{"bad-index", base(map[string]Field{"user_id": {Path: "a[x]"}}), "bad index"},
		{"bad-format", base(map[string]Field{"window_start": {Path: "w", Format: "iso"}}), `format "iso"`},
		{"bad-map", base(map[string]Field{"user_id": {Path: "u", Map: map[string]json.RawMessage{"a": json.RawMessage(`x`)}}}), "not valid JSON"},
	}
	for _, tc := range tests {
		_, err := compile(tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compile(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want []step
	}{
		{"a", []step{{"a", -1}}},
		{"a.b", []step{{"a", -1}, {"b", -1}}},
		{"a[2].b", []step{{"a", -1}, {"", 2}, {"b", -1}}},
		{"a[0][1]", []step{{"a", -1}, {"", 0}, {"", 1}}},
	}
	for _, tc := range tests {
		got, err := parsePath(tc.in)
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("parsePath(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("parsePath(%q) = %v; want %v", tc.in, got, tc.want)
			}
		}
	}
	for _, bad := range []string{"", ".a", "a.", "a[", "a[-1]", "a[1]b", "[0]"} {
		if got, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) = %v, nil; want an error", bad, got)
		}
	}
}

func FuzzMapping(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","kind":"page_view","ts":1700000000123,"user":{"id":"u1"},"product":"p9"}`))
	f.Add([]byte(`{"event_id":"e1","kind":"order","ts":"1","user":{"id":"u1"},"product":"p9","amount":1}`))
	m, err := compile(shopMapping)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		obj, err := m.apply(nil, value, &Meta{})
		if err != nil {
			return
		}
		ev, err := event.Decode(obj)
		if err != nil {
			return
		}
		// A mapped event is valid and round-trips through its encoding.
		if err := ev.Validate(); err != nil {
			t.Fatalf("decoded event invalid: %v", err)
		}
		if _, err := event.Decode(event.Append(nil, &ev)); err != nil {
			t.Fatalf("canonical encoding does not decode: %v", err)
		}
	})
}

func TestLookup(t *testing.T) {
	doc := []byte(` { "a" : { "b" : [ 1 , {"c":"x]}\"y"} , [2,3] ] , "s":"{[" } , "e\u0073c" : true, "n": null, "a.b": 5, "d": 1, "d": 2 } `)
	tests := []struct {
		path string
		want string // "" = not found
	}{
		{"a.b[0]", "1"},
		{"a.b[1].c", `"x]}\"y"`},
		{"a.b[2][1]", "3"},
		{"a.s", `"{["`},
		{"esc", "true"},
		{"n", "null"},
		{"d", "2"},
		{"a.b[3]", ""},
		{"a.c", ""},
		{"a.b.c", ""},
		{"esc.x", ""},
		{"missing", ""},
	}
	for _, tc := range tests {
		p, err := parsePath(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := lookup(trimWS(doc), p)
		if string(got) != tc.want || ok != (tc.want != "") {
			t.Errorf("lookup(%q) = %q, %v; want %q", tc.path, got, ok, tc.want)
		}
	}
}

// FuzzLookup checks the raw lookup against encoding/json for top-level
// keys and array elements.
func FuzzLookup(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":[1,"x",{"c":2}],"a\u0062":"q"}`), "b", 2)
	f.Add([]byte(`{"k":"v\\\"","k":{"z":[]}}`), "k", 0)
	f.Fuzz(func(t *testing.T, doc []byte, key string, idx int) {
		doc = trimWS(doc)
		if len(doc) == 0 || doc[0] != '{' || !json.Valid(doc) || idx < 0 || idx > 100 {
			return
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(doc, &top) != nil {
			return
		}
		want, wantOK := top[key]
		got, ok := lookup(doc, []step{{key: key, idx: -1}})
		if ok != wantOK || ok && !bytes.Equal(got, bytes.TrimSpace(want)) {
			t.Fatalf("lookup(%s, %q) = %q, %v; encoding/json: %q, %v", doc, key, got, ok, want, wantOK)
		}
		var arr []json.RawMessage
		if !ok || json.Unmarshal(got, &arr) != nil {
			return
		}
		el, ok := lookup(doc, []step{{key: key, idx: -1}, {idx: idx}})
		if ok != (idx < len(arr)) || ok && !bytes.Equal(el, bytes.TrimSpace(arr[idx])) {
			t.Fatalf("lookup(%s, %q[%d]) = %q, %v; encoding/json: %d elements", doc, key, idx, el, ok, len(arr))
		}
	})
}

// TestLookupAllocs checks that following a path allocates nothing.
func TestLookupAllocs(t *testing.T) {
	doc := []byte(`{"event_id":"e1","user":{"id":"u1","tags":["a","b"]},"ts":1}`)
	p, _ := parsePath("user.tags[1]")
	n := testing.AllocsPerRun(100, func() {
		if v, ok := lookup(doc, p); !ok || string(v) != `"b"` {
			panic("lookup failed")
		}
	})
	if n != 0 {
		t.Fatalf("lookup: %v allocs; want 0", n)
	}
}
