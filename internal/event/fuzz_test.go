package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"
)

func addSeeds(f *testing.F) {
	for _, in := range batchInputs(f) {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, in := range validEvents {
		f.Add([]byte(in))
	}
	f.Add(benchBody(3))
	f.Add([]byte(`[{"id":"a","type":"view","timestamp":"2024-05-01T12:00:00Z","user_id":"u","item_id":"i","attrs":{"x":[{"y":null}]}}]`))
}

// FuzzDecodeBatch checks that DecodeBatch never panics, only accepts valid
// JSON, returns only valid events, agrees with encoding/json on what every
// accepted event says, and that accepted events survive Append → Decode
// and Append → DecodeBatch unchanged.
func FuzzDecodeBatch(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := DecodeBatchMax(body, nil, 100)
		if err != nil {
			var be *BatchError
			switch {
			case errors.As(err, &be):
				if len(be.Errors) == 0 {
					t.Fatalf("DecodeBatch(%q) returned an empty BatchError", body)
				}
			case errors.Is(err, ErrTooManyEvents):
			default:
				t.Fatalf("DecodeBatch(%q) = %T %v; want *BatchError or ErrTooManyEvents", body, err, err)
			}
			if len(evs) != 0 {
				t.Fatalf("DecodeBatch(%q) returned %d events with an error", body, len(evs))
			}
			return
		}
		originals := stdlibObjects(t, body)
		if len(originals) != len(evs) {
			t.Fatalf("DecodeBatch(%q) = %d events; encoding/json sees %d objects", body, len(evs), len(originals))
		}
		var nd []byte
		for i := range evs {
			e := &evs[i]
			if err := e.Validate(); err != nil {
				t.Fatalf("DecodeBatch(%q) event %d: Validate() = %v", body, i, err)
			}
			enc := Append(nil, e)
			if !json.Valid(enc) {
				t.Fatalf("Append(%+v) = %s; not valid JSON", e, enc)
			}
			sameAsStdlib(t, originals[i], enc)
			e2, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode(%s) = %v; want the event back", enc, err)
			}
			if !reflect.DeepEqual(*e, e2) {
				t.Fatalf("Decode(Append(e)) = %+v; want %+v", e2, *e)
			}
			if enc2 := Append(nil, &e2); !bytes.Equal(enc, enc2) {
				t.Fatalf("Append not stable: %s then %s", enc, enc2)
			}
			nd = append(append(nd, enc...), '\n')
		}
		evs2, err := DecodeBatch(nd, nil)
		if err != nil || len(evs2) != len(evs) || len(evs) > 0 && !reflect.DeepEqual(evs, evs2) {
			t.Fatalf("DecodeBatch(canonical NDJSON) = %d events, %v; want %d equal events", len(evs2), err, len(evs))
		}
	})
}

// stdlibObjects decodes an accepted body with encoding/json: every
// element of a JSON array, or every non-blank NDJSON line. It fails the
// test if encoding/json rejects what DecodeBatch accepted.
func stdlibObjects(t *testing.T, body []byte) []map[string]any {
	body = bytes.TrimPrefix(body, bom)
	var raws []json.RawMessage
	if k := skipWS(body, 0); k < len(body) && body[k] == '[' {
		if err := json.Unmarshal(body, &raws); err != nil {
			t.Fatalf("DecodeBatch accepted %q; encoding/json says %v", body, err)
		}
	} else {
		for _, line := range bytes.Split(body, []byte("\n")) {
			if len(bytes.Trim(line, " \t\r")) == 0 {
				continue
			}
			if !json.Valid(line) {
				t.Fatalf("DecodeBatch accepted line %q; encoding/json says it is not JSON", line)
			}
			raws = append(raws, json.RawMessage(line))
		}
	}
	out := make([]map[string]any, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("DecodeBatch accepted %q; encoding/json says %v", r, err)
		}
	}
	return out
}

// sameAsStdlib checks that the canonical encoding says the same as the
// original object according to encoding/json, up to time zones.
func sameAsStdlib(t *testing.T, orig map[string]any, enc []byte) {
	var got map[string]any
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", enc, err)
	}
	for _, k := range []string{"timestamp", "window_start", "window_end"} {
		if s, ok := orig[k].(string); ok {
			a, err1 := time.Parse(time.RFC3339Nano, s)
			b, err2 := time.Parse(time.RFC3339Nano, got[k].(string))
			if err1 != nil || err2 != nil || !a.Equal(b) {
				t.Fatalf("%s: original %q, canonical %q", k, s, got[k])
			}
			delete(orig, k)
			delete(got, k)
		}
	}
	if !reflect.DeepEqual(orig, got) {
		t.Fatalf("encoding/json reads the original as\n%v\nand the canonical form %s as\n%v", orig, enc, got)
	}
}

// FuzzScanValue checks the JSON scanner against encoding/json: on inputs
// too short to nest 64 levels deep, both must accept exactly the same
// documents.
func FuzzScanValue(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2]`, `{"a":[true,false,null,"x\u00e9"]}`, `-0.5e+3`, `"\ud800"`, `[1,]`, `01`, "\"\x01\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 128 {
			return
		}
		v := valueScan{maxDepth: 64}
		i := skipWS(data, 0)
		ok := false
		if i < len(data) {
			end, msg := scanValue(data, i, &v)
			ok = msg == "" && skipWS(data, end) == len(data)
		}
		if want := json.Valid(data); ok != want {
			t.Fatalf("scanValue(%q) accepts = %v; json.Valid = %v", data, ok, want)
		}
		if ok {
			c := compact(nil, data[i:])
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err != nil || !bytes.Equal(c, buf.Bytes()) {
				t.Fatalf("compact(%q) = %q; json.Compact = %q (%v)", data, c, buf.Bytes(), err)
			}
		}
	})
}
