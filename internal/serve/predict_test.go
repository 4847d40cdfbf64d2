package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestPredictPurchase(t *testing.T) {
	sc := &fakeScorer{}
	s := newTestServer(t, Options{Scorer: sc})
	pred := func(u, i string) string {
		p := fakeProbability(Pair{u, i})
		return fmt.Sprintf(`{"user_id":%q,"item_id":%q,"probability":%s}`, u, i, appendProbability(nil, p))
	}
	tests := []struct {
		name      string
		body      string
		wantCode  int
		wantBody  string
		wantModel string
	}{
		{"single", `{"user_id":"u1","item_id":"i9"}`, 200,
			`{"model":"mlp","version":7,"predictions":[` + pred("u1", "i9") + `]}`, ""},
		{"batch", `{"pairs":[{"user_id":"u1","item_id":"i9"},{"item_id":"i2","user_id":"u2"}]}`, 200,
			`{"model":"mlp","version":7,"predictions":[` + pred("u1", "i9") + "," + pred("u2", "i2") + `]}`, ""},
		{"named model", "{\"model\":\"ftrl\",\n \"pairs\":[ {\"user_id\":\"u1\", \"item_id\":\"i9\"} ] }\n", 200,
			`{"model":"ftrl","version":7,"predictions":[` + pred("u1", "i9") + `]}`, "ftrl"},
		{"escapes", `{"user_id":"\u00e9\"\\\ud83d\ude00","item_id":"tab\there"}`, 200,
			`{"model":"mlp","version":7,"predictions":[{"user_id":"é\"\\😀","item_id":"tab\there","probability":` +
				string(appendProbability(nil, fakeProbability(Pair{"é\"\\😀", "tab\there"}))) + `}]}`, ""},
		{"empty body", ``, 400, `{"error":"invalid JSON: unexpected end of body: want a JSON object"}`, ""},
		{"not an object", `[1]`, 400, `{"error":"invalid JSON at byte 0: want a JSON object"}`, ""},
		{"empty object", `{}`, 400, `{"error":"want {\"pairs\":[{\"user_id\":…,\"item_id\":…}, …]} or {\"user_id\":…,\"item_id\":…}"}`, ""},
		{"missing item", `{"user_id":"u1"}`, 400, `{"error":"missing \"item_id\""}`, ""},
		{"empty user", `{"user_id":"","item_id":"i"}`, 400, `{"error":"user_id: must not be empty"}`, ""},
		{"number id", `{"user_id":17,"item_id":"i"}`, 400, `{"error":"user_id: must be a string"}`, ""},
		{"unknown field", `{"user_id":"u","item_id":"i","usr":"x"}`, 400,
			`{"error":"unknown field \"usr\" (want \"pairs\", or \"user_id\" and \"item_id\"; optionally \"model\")"}`, ""},
		{"both shapes", `{"user_id":"u","item_id":"i","pairs":[{"user_id":"u","item_id":"i"}]}`, 400,
			`{"error":"use either \"pairs\" or \"user_id\" and \"item_id\", not both"}`, ""},
		{"empty pairs", `{"pairs":[]}`, 400, `{"error":"pairs: must hold at least 1 pair"}`, ""},
		{"null pairs", `{"pairs":null}`, 400, `{"error":"pairs: must be an array of {\"user_id\":…,\"item_id\":…} objects"}`, ""},
		{"bad pair", `{"pairs":[{"user_id":"u","item_id":"i"},{"user_id":"u"}]}`, 400, `{"error":"pairs[1]: missing \"item_id\""}`, ""},
		{"pair not object", `{"pairs":["u:i"]}`, 400, `{"error":"pairs[0]: must be an object {\"user_id\":…,\"item_id\":…}"}`, ""},
		{"dup key", `{"pairs":[{"user_id":"u","user_id":"v","item_id":"i"}]}`, 400, `{"error":"pairs[0]: duplicate field \"user_id\""}`, ""},
		{"trailing data", `{"user_id":"u","item_id":"i"} {}`, 400, `{"error":"invalid JSON at byte 30: unexpected data after the JSON object"}`, ""},
		{"truncated", `{"user_id":"u","item_id":"i"`, 400, `{"error":"invalid JSON: unexpected end of body: want ',' or '}'"}`, ""},
		{"long id", `{"user_id":"` + strings.Repeat("u", MaxIDLen+1) + `","item_id":"i"}`, 400, `{"error":"user_id: longer than 256 bytes"}`, ""},
		{"max id", `{"user_id":"` + strings.Repeat("u", MaxIDLen) + `","item_id":"i"}`, 200, "", ""},
	}
	for _, tt := range tests {
		code, body, hdr := do(s.Handler(), "POST", "/v1/predict/purchase", tt.body, "Content-Type", "application/json")
		if code != tt.wantCode || (tt.wantBody != "" && body != tt.wantBody) {
			t.Errorf("%s: POST /v1/predict/purchase %s = %d %s; want %d %s", tt.name, tt.body, code, body, tt.wantCode, tt.wantBody)
			continue
		}
		if !json.Valid([]byte(body)) || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s: response is not JSON: %q (%s)", tt.name, hdr.Get("Content-Type"), body)
		}
		if code == 200 && sc.lastModel != tt.wantModel {
			t.Errorf("%s: scorer got model %q; want %q", tt.name, sc.lastModel, tt.wantModel)
		}
	}
}

func pairsBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"pairs":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"user_id":"user-%d","item_id":"item-%d"}`, i%97, i)
	}
	b.WriteString("]}")
	return b.String()
}

func TestPredictBatchLimits(t *testing.T) {
	s := newTestServer(t, Options{Scorer: &fakeScorer{}})
	code, body, _ := do(s.Handler(), "POST", "/v1/predict/purchase", pairsBody(MaxPairs))
	var resp struct {
		Predictions []struct {
			UserID      string  `json:"user_id"`
			ItemID      string  `json:"item_id"`
			Probability float64 `json:"probability"`
		}
	}
	if err := json.Unmarshal([]byte(body), &resp); code != 200 || err != nil || len(resp.Predictions) != MaxPairs {
		t.Fatalf("POST %d pairs = %d (%v), %d predictions; want 200 with %d", MaxPairs, code, err, len(resp.Predictions), MaxPairs)
	}
	for i, p := range resp.Predictions {
		want := Pair{fmt.Sprintf("user-%d", i%97), fmt.Sprintf("item-%d", i)}
		if p.UserID != want.UserID || p.ItemID != want.ItemID || p.Probability != fakeProbability(want) {
			t.Errorf("prediction %d = %+v; want %+v with probability %v", i, p, want, fakeProbability(want))
			break
		}
	}
	code, body, _ = do(s.Handler(), "POST", "/v1/predict/purchase", pairsBody(MaxPairs+1))
	if want := `{"error":"pairs: more than 1000 pairs; send at most 1000 per request"}`; code != 400 || body != want {
		t.Errorf("POST %d pairs = %d %s; want 400 %s", MaxPairs+1, code, body, want)
	}
	small := newTestServer(t, Options{Scorer: &fakeScorer{}, MaxPredictBodyBytes: 100})
	code, body, _ = do(small.Handler(), "POST", "/v1/predict/purchase", pairsBody(10))
	if want := `{"error":"request body exceeds 100 bytes"}`; code != 413 || body != want {
		t.Errorf("POST over MaxPredictBodyBytes = %d %s; want 413 %s", code, body, want)
	}
	// Without Content-Length (chunked), the limit still holds.
	req := httptest.NewRequest("POST", "/v1/predict/purchase", strings.NewReader(pairsBody(10)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	small.Handler().ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Errorf("chunked POST over MaxPredictBodyBytes = %d %s; want 413", rec.Code, rec.Body)
	}
}

func TestPredictScorerOutcomes(t *testing.T) {
	logger, logs := testLogger()
	tests := []struct {
		name     string
		scorer   PurchaseScorer
		ct       string
		wantCode int
		wantBody string
	}{
		{"no scorer", nil, "", 503, `{"error":"no model yet"}`},
		{"no model", &fakeScorer{err: fmt.Errorf("runner: %w", ErrNoModel)}, "", 503, `{"error":"no model yet"}`},
		{"unknown model", &fakeScorer{err: ErrUnknownModel}, "", 400, `{"error":"model: unknown model \"\""}`},
		{"internal", &fakeScorer{err: errors.New("tensor shape mismatch 3x4")}, "", 500, `{"error":"internal error"}`},
		{"NaN", &fakeScorer{override: math.NaN()}, "", 500, `{"error":"internal error"}`},
		{"above one", &fakeScorer{override: 1.5}, "", 500, `{"error":"internal error"}`},
		{"text content type", &fakeScorer{}, "text/plain", 415, `{"error":"Content-Type must be application/json"}`},
		{"json charset", &fakeScorer{override: 1}, "application/json; charset=utf-8", 200,
			`{"model":"mlp","version":7,"predictions":[{"user_id":"u","item_id":"i","probability":1}]}`},
	}
	for _, tt := range tests {
		s := newTestServer(t, Options{Scorer: tt.scorer, Logger: logger})
		var hdr []string
		if tt.ct != "" {
			hdr = []string{"Content-Type", tt.ct}
		}
		code, body, _ := do(s.Handler(), "POST", "/v1/predict/purchase", `{"user_id":"u","item_id":"i"}`, hdr...)
		if code != tt.wantCode || body != tt.wantBody {
			t.Errorf("%s: POST /v1/predict/purchase = %d %s; want %d %s", tt.name, code, body, tt.wantCode, tt.wantBody)
		}
	}
	if l := logs.String(); !strings.Contains(l, "tensor shape mismatch") || !strings.Contains(l, "outside [0, 1]") {
		t.Errorf("scorer failures not logged; log = %q", l)
	}
}

func TestAppendProbability(t *testing.T) {
	for _, p := range []float64{0, 1, 0.5, 0.123456789, 1e-7, 3.2e-12, 0.999999, 1e-6, math.SmallestNonzeroFloat64} {
		b := appendProbability(nil, p)
		var got float64
		if err := json.Unmarshal(b, &got); err != nil || got != p {
			t.Errorf("appendProbability(%v) = %s; decodes to %v, %v", p, b, got, err)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "ctl\x00\x01\x1f\n\r\t", "é😀", "bad\xffutf8\xc3", "<>&\u2028"} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("appendJSONString(%q) = %s: invalid JSON: %v", s, b, err)
			continue
		}
		if want := string([]rune(s)); got != want { // invalid bytes become U+FFFD one by one
			t.Errorf("appendJSONString(%q) = %s; decodes to %q, want %q", s, b, got, want)
		}
	}
}

// stdDecode decodes a prediction body with encoding/json, for comparison.
func stdDecode(body []byte) (predictRequest, error) {
	var v struct {
		Model  *string `json:"model"`
		UserID *string `json:"user_id"`
		ItemID *string `json:"item_id"`
		Pairs  []struct {
			UserID *string `json:"user_id"`
			ItemID *string `json:"item_id"`
		} `json:"pairs"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return predictRequest{}, err
	}
	var r predictRequest
	if v.Model != nil {
		r.model = *v.Model
	}
	if v.UserID != nil && v.ItemID != nil {
		r.pairs = append(r.pairs, Pair{*v.UserID, *v.ItemID})
	}
	for _, p := range v.Pairs {
		if p.UserID == nil || p.ItemID == nil {
			return predictRequest{}, errors.New("missing id")
		}
		r.pairs = append(r.pairs, Pair{*p.UserID, *p.ItemID})
	}
	return r, nil
}

func TestDecoderMatchesEncodingJSON(t *testing.T) {
	var d pairDecoder
	for _, body := range []string{
		`{"user_id":"u1","item_id":"i9"}`,
		` { "item_id" : "i9" , "user_id" : "u1" , "model" : "" } `,
		`{"pairs":[{"user_id":"a","item_id":"b"},{"user_id":"c","item_id":"d"}],"model":"m"}`,
		`{"user_id":"\u0041\n\/\b\f\r\t\"\\","item_id":"\uD834\uDD1E"}`,
		`{"user\u005fid":"escaped key","item_id":"x"}`,
		`{"user_id":"日本語","item_id":"\u65e5"}`,
		pairsBody(100),
	} {
		got, err := d.decode([]byte(body))
		want, stdErr := stdDecode([]byte(body))
		if err != nil || stdErr != nil || got.model != want.model || !reflect.DeepEqual(got.pairs, want.pairs) {
			t.Errorf("decode(%q) = %+v, %v; encoding/json gives %+v, %v", body, got, err, want, stdErr)
		}
	}
	// Inputs encoding/json accepts but the stricter decoder rejects.
	for _, body := range []string{
		`{"USER_ID":"u","item_id":"i"}`,
		`{"user_id":"u","user_id":"v","item_id":"i"}`,
		"{\"user_id\":\"bad\xff\",\"item_id\":\"i\"}",
		`{"user_id":"\ud800","item_id":"i"}`,
		`{"user_id":"\udc00\ud800","item_id":"i"}`,
		`{"user_id":"","item_id":"i"}`,
	} {
		if got, err := d.decode([]byte(body)); err == nil {
			t.Errorf("decode(%q) = %+v, nil; want an error", body, got)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	body := []byte(pairsBody(100))
	var d pairDecoder
	if _, err := d.decode(body); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.decode(body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("decode of 100 pairs: %v allocs per run; want 1 (the ID string)", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"u1","item_id":"i9"}`,
		`{"pairs":[{"user_id":"a","item_id":"b"}],"model":"m"}`,
		`{"user_id":"\ud83d\ude00\n","item_id":"\u00e9"}`,
		`{"pairs":[{"user_id":"a","item_id":"b"},{"item_id":"d","user_id":"c"}]}`,
		`{"pairs":[]}`, `{`, `"`, `{"user_id":"\u12`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d pairDecoder
		got, err := d.decode(body)
		if err != nil {
			return
		}
		// Whatever the decoder accepts, encoding/json reads the same way.
		want, stdErr := stdDecode(body)
		if stdErr != nil {
			t.Fatalf("decode(%q) accepted %+v; encoding/json rejects it: %v", body, got, stdErr)
		}
		if got.model != want.model || !reflect.DeepEqual(got.pairs, want.pairs) {
			t.Fatalf("decode(%q) = %+v; encoding/json gives %+v", body, got, want)
		}
		if len(got.pairs) == 0 || len(got.pairs) > MaxPairs {
			t.Fatalf("decode(%q) returned %d pairs", body, len(got.pairs))
		}
		// Round trip: re-encoding with encoding/json decodes to the same.
		type jp struct {
			UserID string `json:"user_id"`
			ItemID string `json:"item_id"`
		}
		var pairs []jp
		for _, p := range got.pairs {
			pairs = append(pairs, jp{p.UserID, p.ItemID})
		}
		enc, _ := json.Marshal(struct {
			Model string `json:"model"`
			Pairs []jp   `json:"pairs"`
		}{got.model, pairs})
		var d2 pairDecoder
		again, err := d2.decode(enc)
		if err != nil || again.model != got.model || !reflect.DeepEqual(again.pairs, got.pairs) {
			t.Fatalf("decode(json.Marshal(%+v)) = %+v, %v", got, again, err)
		}
	})
}

// discardWriter is a minimal ResponseWriter, so benchmarks measure the
// server rather than httptest.ResponseRecorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// trivialScorer answers 0.5 for every pair.
type trivialScorer struct{}

func (trivialScorer) ScorePurchase(_ context.Context, _ string, pairs []Pair, dst []float64) (ModelInfo, error) {
	for i := range dst {
		dst[i] = 0.5
	}
	return ModelInfo{Model: "mlp", Version: 1}, nil
}

func BenchmarkPredict(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			s := newTestServer(b, Options{Scorer: trivialScorer{}, Keys: testKeys()})
			h := s.Handler()
			body := []byte(pairsBody(n))
			rd := bytes.NewReader(body)
			req := httptest.NewRequest("POST", "/v1/predict/purchase", rd)
			req.Header.Set("Authorization", "Bearer "+predictKey)
			w := &discardWriter{h: make(http.Header)}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				req.Body = readCloser{rd}
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// BenchmarkDecode compares the predict body decoder with encoding/json
// (which the hand-written decoder replaces on the hot path).
func BenchmarkDecode(b *testing.B) {
	body := []byte(pairsBody(100))
	b.Run("impl=serve", func(b *testing.B) {
		var d pairDecoder
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.decode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stdDecode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
