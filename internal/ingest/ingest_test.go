package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/prometheus/client_golang/prometheus"
)

// view returns an NDJSON line of a valid view event with the given id.
func view(id string) string {
	return `{"id":"` + id + `","type":"view","timestamp":"2024-05-01T12:00:00Z","user_id":"u1","item_id":"i1"}`
}

func ndjson(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(view(id))
		b.WriteByte('\n')
	}
	return b.String()
}

func newIngester(t testing.TB, lg Appender, opts Options) *Ingester {
	t.Helper()
	in, err := New(lg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return in
}

type reply struct {
	status int
	header http.Header
	body   string
}

// post sends body to h as POST /v1/events with optional header pairs.
func post(h http.Handler, body string, header ...string) reply {
	return do(h, httptest.NewRequest(http.MethodPost, "/v1/events", strings.NewReader(body)), header...)
}

func do(h http.Handler, r *http.Request, header ...string) reply {
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return reply{w.Code, w.Result().Header, w.Body.String()}
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, strings.TrimSpace(r.body)) }

func expect(t *testing.T, what string, got reply, status int, body string) {
	t.Helper()
	if got.status != status || strings.TrimSpace(got.body) != body {
		t.Errorf("%s = %v; want %d %s", what, got, status, body)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type = %q; want application/json", what, ct)
	}
}

// ids returns the event ids of the log's records.
func ids(t *testing.T, recs [][]byte) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		e, err := event.Decode(r)
		if err != nil {
			t.Fatalf("log record %s does not decode: %v", r, err)
		}
		out = append(out, e.ID)
	}
	return out
}

func TestValidBatch(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	body := ndjson("a", "b") + `{"id":"c","type":"purchase","timestamp":"2024-05-01T14:00:00+02:00","price":5,"item_id":"i2","user_id":"u1"}` + "\n"
	expect(t, "POST ndjson", post(in, body, "Content-Type", "application/x-ndjson"), 202, `{"accepted":3,"duplicates":0,"first_offset":0}`)
	arr := "[" + view("d") + ",\n" + view("e") + "]"
	expect(t, "POST array", post(in, arr, "Content-Type", "application/json"), 202, `{"accepted":2,"duplicates":0,"first_offset":3}`)

	recs := lg.records()
	if lg.appends != 2 {
		t.Errorf("log got %d appends; want one per request (2)", lg.appends)
	}
	want := []string{view("a"), view("b"),
		`{"id":"c","type":"purchase","timestamp":"2024-05-01T12:00:00Z","user_id":"u1","item_id":"i2","price":5}`,
		view("d"), view("e")}
	if len(recs) != len(want) {
		t.Fatalf("log has %d records; want %d", len(recs), len(want))
	}
	for i := range want {
		if string(recs[i]) != want[i] {
			t.Errorf("record %d = %s; want canonical %s", i, recs[i], want[i])
		}
	}
}

func TestRejectedBatchesWriteNothing(t *testing.T) {
	const ts = `"timestamp":"2024-05-01T12:00:00Z"`
	tests := []struct {
		name   string
		body   string
		header []string
		status int
		want   string
	}{
		{"malformed json", ndjson("a") + `{"id":"b","type":"view"` + "\n", nil, 400,
			`{"error":"invalid batch","errors":[{"line":2,"field":"","reason":"malformed JSON at column 24: unexpected end of line (NDJSON needs one complete JSON object per line)"}]}`},
		{"wrong types", `{"id":7,"type":"view",` + ts + `,"user_id":"u","item_id":["i"]}`, nil, 400,
			`{"error":"invalid batch","errors":[{"line":1,"field":"id","reason":"must be a string, got number"},{"line":1,"field":"item_id","reason":"must be a string, got array"}]}`},
		{"nan", ndjson("a") + `{"id":"t","type":"transaction",` + ts + `,"transaction_id":"x","customer_id":"c","terminal_id":"m","amount":NaN,"currency":"EUR"}`, nil, 400,
			`{"error":"invalid batch","errors":[{"line":2,"field":"amount","reason":"must be a finite number; NaN is not valid JSON"}]}`},
		{"negative amount", `{"id":"t","type":"transaction",` + ts + `,"transaction_id":"x","customer_id":"c","terminal_id":"m","amount":-1,"currency":"EUR"}`, nil, 400,
			`{"error":"invalid batch","errors":[{"line":1,"field":"amount","reason":"must be a finite number ≥ 0"}]}`},
		{"unknown type", `{"id":"a","type":"pageview",` + ts + `}`, nil, 400,
			`{"error":"invalid batch","errors":[{"line":1,"field":"type","reason":"unknown type \"pageview\"; want one of view, click, add_to_cart, purchase, impression, feedback, transaction, label, stock, order"}]}`},
		{"unknown field", "\n" + `{"id":"a","type":"view",` + ts + `,"user_id":"u","item_id":"i","colour":"red"}`, nil, 400,
			`{"error":"invalid batch","errors":[{"line":2,"field":"colour","reason":"unknown field \"colour\"; put extra data in \"attrs\""}]}`},
		{"array item", `[` + view("a") + `, {"id":"b"}]`, []string{"Content-Type", "application/json"}, 400,
			`{"error":"invalid batch","errors":[{"item":2,"field":"type","reason":"required; one of view, click, add_to_cart, purchase, impression, feedback, transaction, label, stock, order"},{"item":2,"field":"timestamp","reason":"required"}]}`},
		{"empty", "\n \n", nil, 400, `{"error":"empty batch: the body holds no events"}`},
		{"empty array", "[]", nil, 400, `{"error":"empty batch: the body holds no events"}`},
		{"form body", ndjson("a"), []string{"Content-Type", "application/x-www-form-urlencoded"}, 415,
			`{"error":"unsupported Content-Type \"application/x-www-form-urlencoded\": send application/json (an array of events) or application/x-ndjson (one event per line)"}`},
		{"brotli", ndjson("a"), []string{"Content-Encoding", "br"}, 415,
			`{"error":"unsupported Content-Encoding \"br\": send gzip or an uncompressed body"}`},
		{"bad gzip", ndjson("a"), []string{"Content-Encoding", "gzip"}, 400, `{"error":"invalid gzip body"}`},
		{"too many events", ndjson("a", "b", "c", "d"), nil, 413, `{"error":"too many events: at most 3 per request"}`},
		{"too large", ndjson("a", "b", "c") + strings.Repeat(" ", 1000), nil, 413, `{"error":"request body too large: the limit is 1000 bytes"}`},
	}
	for _, tt := range tests {
		lg := &memLog{}
		in := newIngester(t, lg, Options{MaxEvents: 3, MaxBodyBytes: 1000})
		expect(t, tt.name, post(in, tt.body, tt.header...), tt.status, tt.want)
		if n := len(lg.records()); n != 0 || lg.appends != 0 {
			t.Errorf("%s: log has %d records after %d appends; want nothing written", tt.name, n, lg.appends)
		}
	}
}

func TestMethod(t *testing.T) {
	in := newIngester(t, &memLog{}, Options{})
	got := do(in, httptest.NewRequest(http.MethodGet, "/v1/events", nil))
	expect(t, "GET", got, 405, `{"error":"method not allowed: use POST"}`)
	if a := got.header.Get("Allow"); a != "POST" {
		t.Errorf("GET: Allow = %q; want POST", a)
	}
}

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.String()
}

func TestBodyLimits(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{MaxBodyBytes: 500})
	big := ndjson("a", "b", "c", "d", "e", "f") // ~600 bytes

	// Unknown length (chunked): the limit is enforced while reading.
	r := httptest.NewRequest(http.MethodPost, "/v1/events", struct{ io.Reader }{strings.NewReader(big)})
	r.ContentLength = -1
	expect(t, "chunked oversize", do(in, r), 413, `{"error":"request body too large: the limit is 500 bytes"}`)

	// Gzip: the limit applies to the decompressed body.
	expect(t, "gzip bomb", post(in, gzipped(big+strings.Repeat(" ", 1<<20)), "Content-Encoding", "gzip"), 413,
		`{"error":"request body too large: the limit is 500 bytes"}`)
	expect(t, "gzip ok", post(in, gzipped(ndjson("a", "b")), "Content-Encoding", "gzip"), 202,
		`{"accepted":2,"duplicates":0,"first_offset":0}`)
	expect(t, "exactly the limit", post(in, ndjson("c", "d", "e")+strings.Repeat("\n", 500-3*(len(view("c"))+1))), 202,
		`{"accepted":3,"duplicates":0,"first_offset":2}`)
	if got := ids(t, lg.records()); strings.Join(got, ",") != "a,b,c,d,e" {
		t.Errorf("log ids = %q; want a..e", got)
	}
}

func TestDuplicates(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	expect(t, "first", post(in, ndjson("a", "b", "c")), 202, `{"accepted":3,"duplicates":0,"first_offset":0}`)
	expect(t, "overlap", post(in, ndjson("b", "c", "d")), 202, `{"accepted":1,"duplicates":2,"first_offset":3}`)
	expect(t, "all duplicates", post(in, ndjson("a", "d")), 202, `{"accepted":0,"duplicates":2}`)
	// Within a batch the first occurrence wins.
	second := `{"id":"e","type":"click","timestamp":"2024-05-01T12:00:00Z","user_id":"u1","item_id":"i1"}`
	expect(t, "within batch", post(in, view("e")+"\n"+second+"\n"+view("f")+"\n"+view("e")), 202,
		`{"accepted":2,"duplicates":2,"first_offset":4}`)
	recs := lg.records()
	if got := ids(t, recs); strings.Join(got, ",") != "a,b,c,d,e,f" {
		t.Errorf("log ids = %q; want a,b,c,d,e,f", got)
	}
	if string(recs[4]) != view("e") {
		t.Errorf("stored e = %s; want the first occurrence %s", recs[4], view("e"))
	}
	// An invalid batch is rejected even if its ids are duplicates, and
	// reserves nothing.
	expect(t, "invalid", post(in, ndjson("g")+`{"id":"a"}`), 400,
		`{"error":"invalid batch","errors":[{"line":2,"field":"type","reason":"required; one of view, click, add_to_cart, purchase, impression, feedback, transaction, label, stock, order"},{"line":2,"field":"timestamp","reason":"required"}]}`)
	expect(t, "g after invalid", post(in, ndjson("g")), 202, `{"accepted":1,"duplicates":0,"first_offset":6}`)
}

func TestDedupeWindow(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	in := newIngester(t, &memLog{}, Options{DedupeWindow: 2, DedupeMaxAge: time.Hour, Now: clock})
	expect(t, "a b c", post(in, ndjson("a", "b", "c")), 202, `{"accepted":3,"duplicates":0,"first_offset":0}`)
	// The window holds the last 2 ids: a has been evicted, c has not.
	expect(t, "a c", post(in, ndjson("a", "c")), 202, `{"accepted":1,"duplicates":1,"first_offset":3}`)
	advance(59 * time.Minute)
	expect(t, "a after 59m", post(in, ndjson("a")), 202, `{"accepted":0,"duplicates":1}`)
	advance(2 * time.Minute)
	expect(t, "a after 61m", post(in, ndjson("a")), 202, `{"accepted":1,"duplicates":0,"first_offset":4}`)
	if n := in.dd.size(); n != 1 {
		t.Errorf("dedupe window holds %d ids; want 1", n)
	}
}

func TestRebuild(t *testing.T) {
	lg := &memLog{}
	in1 := newIngester(t, lg, Options{})
	expect(t, "before restart", post(in1, ndjson("a", "b", `q\"uote`, "ü")), 202, `{"accepted":4,"duplicates":0,"first_offset":0}`)
	// A record that is not an event is skipped.
	lg.Append(context.Background(), [][]byte{[]byte("not an event")})

	reg := prometheus.NewRegistry()
	in2 := newIngester(t, lg, Options{Registerer: reg})
	if err := in2.Rebuild(context.Background()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	expect(t, "retry after restart", post(in2, ndjson("a", "b", `q\"uote`, "\\u00fc", "c")), 202,
		`{"accepted":1,"duplicates":4,"first_offset":5}`)
	if got := metricValue(t, reg, "perpetua_ingest_rebuild_ids_total", ""); got != 4 {
		t.Errorf("rebuild_ids_total = %v; want 4", got)
	}
	if got := metricValue(t, reg, "perpetua_ingest_rebuild_skipped_records_total", ""); got != 1 {
		t.Errorf("rebuild_skipped_records_total = %v; want 1", got)
	}

	// Only the last DedupeWindow records are read back.
	in3 := newIngester(t, lg, Options{DedupeWindow: 3})
	if err := in3.Rebuild(context.Background()); err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	// Records: a b q"uote ü <garbage> c; the window is ü, <garbage>, c.
	expect(t, "window", post(in3, ndjson("b", "ü", "c")), 202, `{"accepted":1,"duplicates":2,"first_offset":6}`)

	in4 := newIngester(t, appendOnly{lg}, Options{})
	if err := in4.Rebuild(context.Background()); err == nil || !strings.Contains(err.Error(), "TailReader") {
		t.Errorf("Rebuild on an append-only log = %v; want an error naming TailReader", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := newIngester(t, lg, Options{}).Rebuild(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Rebuild(cancelled ctx) = %v; want context.Canceled", err)
	}
}

func TestRecordID(t *testing.T) {
	tests := []struct {
		rec  string
		want string
		ok   bool
	}{
		{view("abc"), "abc", true},
		{`{"id":"a\"b","type":"view"}`, `a"b`, true},
		{`{"id":"\u00fc"}`, "ü", true},
		{`{"type":"view","id":"late"}`, "late", true},
		{`{"id":""}`, "", false},
		{`{"id":3}`, "", false},
		{`garbage`, "", false},
	}
	for _, tt := range tests {
		got, ok := recordID([]byte(tt.rec))
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("recordID(%q) = %q, %v; want %q, %v", tt.rec, got, ok, tt.want, tt.ok)
		}
	}
	d := newDedupe(10, 0)
	if d.keyBytes([]byte("héllo")) != d.keyString("héllo") {
		t.Errorf("keyBytes and keyString disagree")
	}
}

func TestConcurrentSameID(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	lg.setGate(gate, entered)
	first := make(chan reply)
	go func() { first <- post(in, ndjson("x")) }()
	<-entered // the first request is appending x

	lg.setGate(nil, nil)
	got := post(in, ndjson("y", "x"))
	expect(t, "second while first in flight", got, 409,
		`{"error":"conflict: an event id of this batch is being written by another request; nothing was written, retry later"}`)
	if ra := got.header.Get("Retry-After"); ra != "1" {
		t.Errorf("409 Retry-After = %q; want 1", ra)
	}
	close(gate)
	expect(t, "first", <-first, 202, `{"accepted":1,"duplicates":0,"first_offset":0}`)
	expect(t, "second retried", post(in, ndjson("y", "x")), 202, `{"accepted":1,"duplicates":1,"first_offset":1}`)
	if got := ids(t, lg.records()); strings.Join(got, ",") != "x,y" {
		t.Errorf("log ids = %q; want x,y (y not written by the rejected request)", got)
	}
}

func TestAppendFailure(t *testing.T) {
	lg := &memLog{}
	var logs bytes.Buffer
	in := newIngester(t, lg, Options{Logger: slogTo(&logs)})
	lg.setErr(errors.New("disk on fire"))
	got := post(in, ndjson("a", "b"))
	expect(t, "append fails", got, 503, `{"error":"event log unavailable: nothing was written, retry later"}`)
	if got.header.Get("Retry-After") == "" {
		t.Errorf("503 has no Retry-After")
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the cause was not logged; log: %q", logs.String())
	}
	// The ids were released: a retry appends them.
	lg.setErr(nil)
	expect(t, "retry", post(in, ndjson("a", "b")), 202, `{"accepted":2,"duplicates":0,"first_offset":0}`)

	lg.setErr(fmt.Errorf("%w: record 0 of 1 is 99 bytes, limit 10", eventlog.ErrTooLarge))
	expect(t, "too large for the log", post(in, ndjson("c")), 413,
		`{"error":"batch too large for the event log: send fewer or smaller events per request"}`)
}

func TestClientGoneDoesNotCancelAppend(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	lg.setGate(gate, entered)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/events", strings.NewReader(ndjson("a")))
	done := make(chan reply)
	go func() { done <- do(in, r) }()
	<-entered
	cancel() // the client goes away mid-append
	close(gate)
	expect(t, "after client cancel", <-done, 202, `{"accepted":1,"duplicates":0,"first_offset":0}`)
	if n := len(lg.records()); n != 1 {
		t.Errorf("log has %d records; want 1", n)
	}
}

func TestBackPressure(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{MaxInFlight: 1, RetryAfter: 1500 * time.Millisecond})
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	lg.setGate(gate, entered)
	first := make(chan reply)
	go func() { first <- post(in, ndjson("a")) }()
	<-entered
	got := post(in, ndjson("b"))
	expect(t, "second", got, 429, `{"error":"too many batches in flight; retry later"}`)
	if ra := got.header.Get("Retry-After"); ra != "2" {
		t.Errorf("429 Retry-After = %q; want 2 (1.5s rounded up)", ra)
	}
	close(gate)
	expect(t, "first", <-first, 202, `{"accepted":1,"duplicates":0,"first_offset":0}`)
	lg.setGate(nil, nil)
	expect(t, "second retried", post(in, ndjson("b")), 202, `{"accepted":1,"duplicates":0,"first_offset":1}`)

	// The byte budget: one batch is always admitted, a second only if both fit.
	in2 := newIngester(t, lg, Options{MaxInFlightBytes: 150})
	gate2 := make(chan struct{})
	lg.setGate(gate2, entered)
	go func() { first <- post(in2, ndjson("c")) }() // ~100 bytes
	<-entered
	expect(t, "over byte budget", post(in2, ndjson("d")), 429, `{"error":"too many batches in flight; retry later"}`)
	close(gate2)
	<-first
}

func TestShutdown(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	lg.setGate(gate, entered)
	first := make(chan reply)
	go func() { first <- post(in, ndjson("a")) }()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := in.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a batch in flight = %v; want DeadlineExceeded", err)
	}
	if in.Ready() {
		t.Errorf("Ready() after Shutdown = true; want false")
	}
	expect(t, "new request after Shutdown", post(in, ndjson("b")), 503, `{"error":"ingest is shutting down"}`)

	close(gate)
	expect(t, "in-flight batch", <-first, 202, `{"accepted":1,"duplicates":0,"first_offset":0}`)
	if err := in.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after drain = %v; want nil", err)
	}
	in.Stop() // idempotent
	if err := in.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v; want nil", err)
	}

	in2 := newIngester(t, lg, Options{})
	in2.Stop()
	if err := in2.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of an idle, stopped Ingester = %v; want nil", err)
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(&memLog{}, Options{MaxEvents: -1}); err == nil || !strings.Contains(err.Error(), "MaxEvents") {
		t.Errorf("New(MaxEvents -1) = %v; want an error naming MaxEvents", err)
	}
	reg := prometheus.NewRegistry()
	newIngester(t, &memLog{}, Options{Registerer: reg})
	if _, err := New(&memLog{}, Options{Registerer: reg}); err == nil {
		t.Errorf("New registering twice on one registry = nil; want an error")
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	in := newIngester(t, &memLog{}, Options{Registerer: reg})
	post(in, ndjson("a", "b", "a"))
	post(in, ndjson("b", "c"))
	post(in, `{"id":1}`)
	checks := []struct {
		name, label string
		want        float64
	}{
		{"perpetua_ingest_events_accepted_total", "", 3},
		{"perpetua_ingest_events_duplicate_total", "", 2},
		{"perpetua_ingest_batches_accepted_total", "", 2},
		{"perpetua_ingest_batches_rejected_total", "invalid", 1},
		{"perpetua_ingest_batches_rejected_total", "conflict", 0},
		{"perpetua_ingest_append_duration_seconds", "", 2}, // sample count
		{"perpetua_ingest_dedupe_ids", "", 3},
		{"perpetua_ingest_batches_in_flight", "", 0},
		{"perpetua_ingest_received_bytes_total", "", float64(len(ndjson("a", "b", "a")) + len(ndjson("b", "c")) + len(`{"id":1}`))},
	}
	for _, c := range checks {
		if got := metricValue(t, reg, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v; want %v", c.name, c.label, got, c.want)
		}
	}
}

// metricValue returns a counter's or gauge's value, or a histogram's
// sample count; label selects the "reason" label value.
func metricValue(t *testing.T, g prometheus.Gatherer, name, label string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s{%s} not found", name, label)
	return 0
}

// TestConcurrentOverlap posts overlapping batches from many goroutines and
// checks that every id ends up in the log exactly once, whatever the
// interleaving (clients retry on 409 and 429).
func TestConcurrentOverlap(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	lg := &memLog{}
	in := newIngester(t, lg, Options{MaxInFlight: 4})
	const clients, batches, idSpace = 8, 30, 200
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			for range batches {
				var ids []string
				for range 1 + rng.IntN(20) {
					ids = append(ids, fmt.Sprint("id-", rng.IntN(idSpace)))
				}
				body := ndjson(ids...)
				for {
					got := post(in, body)
					if got.status == 202 {
						break
					}
					if got.status != 409 && got.status != 429 {
						t.Errorf("POST = %v; want 202, 409 or 429", got)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids(t, lg.records()) {
		if seen[id] {
			t.Errorf("id %s is in the log twice", id)
		}
		seen[id] = true
	}
	if len(seen) == 0 {
		t.Errorf("nothing was written")
	}
}

func TestServeOverHTTP(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	srv := httptest.NewServer(in)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/events", "application/x-ndjson", strings.NewReader(ndjson("a", "b")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Accepted    int     `json:"accepted"`
		Duplicates  int     `json:"duplicates"`
		FirstOffset *uint64 `json:"first_offset"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 202 || got.Accepted != 2 || got.FirstOffset == nil {
		t.Errorf("POST over HTTP = %d %+v (%v); want 202 with 2 accepted", resp.StatusCode, got, err)
	}
}

func TestIngestAllocs(t *testing.T) {
	in := newIngester(t, &nopLog{}, Options{})
	tmpl := newBatchTemplate(100) // every event has attrs
	var batch uint64
	allocs := testing.AllocsPerRun(20, func() {
		batch++
		r, _ := http.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(tmpl.stamp(batch)))
		w := httptest.NewRecorder()
		in.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			t.Fatalf("POST = %d %s", w.Code, w.Body)
		}
	})
	// Per event: one string copy of its line and one of its attrs (see
	// package event). Per request: the request, recorder, reply and
	// bookkeeping, plus the dedupe index's amortized growth (every
	// request adds 100 new ids).
	if allocs > 2*100+60 && !raceEnabled {
		t.Errorf("ServeHTTP of 100 events: %v allocations; want ≤ 260", allocs)
	}
	t.Logf("ServeHTTP of 100 events: %v allocations", allocs)
}

// TestObserve: ids another process stored (seen in a shared log) are
// duplicates here, without touching ids this process stored or reserved.
func TestObserve(t *testing.T) {
	lg := &memLog{}
	in := newIngester(t, lg, Options{})
	expect(t, "a", post(in, ndjson("a")), 202, `{"accepted":1,"duplicates":0,"first_offset":0}`)
	in.Observe("x") // written by another server
	in.Observe("a") // our own, read back: stays one id
	expect(t, "x a y", post(in, ndjson("x", "a", "y")), 202, `{"accepted":1,"duplicates":2,"first_offset":1}`)
	if n := in.dd.size(); n != 3 {
		t.Errorf("dedupe window holds %d ids; want 3 (a, x, y)", n)
	}
	if got := ids(t, lg.records()); strings.Join(got, ",") != "a,y" {
		t.Errorf("log ids = %q; want a,y", got)
	}
}
