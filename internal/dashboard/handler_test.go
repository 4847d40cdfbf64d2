package dashboard

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixed is a Source that returns the snapshot it holds, numbered by call.
type fixed struct {
	mu    sync.Mutex
	calls int
	snap  Snapshot
}

func (f *fixed) Snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	s := f.snap
	s.Time = time.Date(2026, 1, 1, 0, 0, f.calls, 0, time.UTC)
	s.Learners = []Learner{{Name: "purchase", Task: "purchase", Events: int64(f.calls),
		Metrics: map[string]float64{"logloss": 0.5 / float64(f.calls), "auc": math.NaN()}}}
	return s
}

func newFixed() *fixed {
	return &fixed{snap: Snapshot{
		Recommend: &Recommend{CTR: 0.04, Regret: math.Inf(1)},
		Fraud:     &Fraud{Precision: 0.9, Recall: math.NaN(), Queue: []Review{{ID: "tx-1", Score: 0.97, Reasons: []string{"compromised-card"}}}},
		Forecasts: []Forecast{{SKU: "SKU-1", Points: []ForecastPoint{{Actual: 3, Forecast: 4}, {Actual: math.NaN(), Forecast: 5}}}},
		Models:    []ModelVersion{{Name: "purchase", Version: 2, Champion: true}},
	}}
}

func mounted(rec *Recorder) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", rec))
	return mux
}

func get(t *testing.T, h http.Handler, method, url string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, url, nil))
	return w
}

func TestAssets(t *testing.T) {
	h := mounted(NewRecorder(newFixed(), Options{}))
	total := 0
	for _, tc := range []struct {
		url, ctype, contains string
	}{
		{"/dashboard/", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"/dashboard/index.html", "text/html; charset=utf-8", `<link rel="stylesheet" href="style.css">`},
		{"/dashboard/app.js", "text/javascript; charset=utf-8", `new EventSource("api/events`},
		{"/dashboard/style.css", "text/css; charset=utf-8", `svg .series`},
	} {
		w := get(t, h, "GET", tc.url)
		if w.Code != http.StatusOK {
			t.Errorf("GET %q: status %d; want 200", tc.url, w.Code)
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %q: Content-Type = %q; want %q", tc.url, got, tc.ctype)
		}
		if !strings.Contains(w.Body.String(), tc.contains) {
			t.Errorf("GET %q: body lacks %q", tc.url, tc.contains)
		}
		checkSecurityHeaders(t, tc.url, w.Header())
		if tc.url != "/dashboard/" {
			total += w.Body.Len()
		}
		// A revalidation with the ETag is answered 304.
		req := httptest.NewRequest("GET", tc.url, nil)
		req.Header.Set("If-None-Match", w.Header().Get("ETag"))
		w2 := httptest.NewRecorder()
		h.ServeHTTP(w2, req)
		if w2.Code != http.StatusNotModified {
			t.Errorf("GET %q with If-None-Match: status %d; want 304", tc.url, w2.Code)
		}
	}
	// The target: the first load is under 300 KB.
	if total == 0 || total >= 300<<10 {
		t.Errorf("page bundle (html+js+css) = %d bytes; want 0 < n < %d", total, 300<<10)
	}
	t.Logf("page bundle: %d bytes", total)
}

func checkSecurityHeaders(t *testing.T, url string, h http.Header) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Security-Policy": csp,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: header %s = %q; want %q", url, k, got, want)
		}
	}
}

// TestPageIsSelfContained checks what the CSP and a prefix mount need:
// no inline script or style, no absolute or remote URLs in the page.
func TestPageIsSelfContained(t *testing.T) {
	html := string(assets["index.html"].body)
	for _, re := range []string{
		`<script(?:\s[^>]*)?>[^<]`, // inline script body
		`<style`,                   // inline style sheet
		`\sstyle=`,                 // inline style attribute
		`\son[a-z]+=`,              // inline event handler
		`(?:src|href)="(?:/|https?:)`,
	} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("index.html matches %q: %q", re, m)
		}
	}
	js := string(assets["app.js"].body)
	for _, bad := range []string{"innerHTML", "eval(", "new Function", "http://", "https://", `fetch("/`, `EventSource("/`, "setAttribute(\"style\""} {
		if bad == "http://" && strings.Count(js, bad) == 1 && strings.Contains(js, `"http://www.w3.org/2000/svg"`) {
			continue // the SVG namespace
		}
		if strings.Contains(js, bad) {
			t.Errorf("app.js contains %q", bad)
		}
	}
}

func TestRouting(t *testing.T) {
	h := mounted(NewRecorder(newFixed(), Options{}))
	for _, tc := range []struct {
		method, url string
		code        int
		header      string // "Key: value" expected in the response
	}{
		{"GET", "/dashboard/nope", http.StatusNotFound, "Content-Type: application/json"},
		{"POST", "/dashboard/api/state", http.StatusMethodNotAllowed, "Allow: GET, HEAD"},
		{"DELETE", "/dashboard/", http.StatusMethodNotAllowed, "Allow: GET, HEAD"},
		{"HEAD", "/dashboard/api/state", http.StatusOK, "Content-Type: application/json"},
	} {
		w := get(t, h, tc.method, tc.url)
		if w.Code != tc.code {
			t.Errorf("%s %s: status %d; want %d", tc.method, tc.url, w.Code, tc.code)
		}
		k, v, _ := strings.Cut(tc.header, ": ")
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s %s: %s = %q; want %q", tc.method, tc.url, k, got, v)
		}
		checkSecurityHeaders(t, tc.url, w.Header())
	}
	// The mux redirects the bare prefix to the mount point.
	if w := get(t, h, "GET", "/dashboard"); w.Code/100 != 3 || w.Header().Get("Location") != "/dashboard/" {
		t.Errorf("GET /dashboard via mux: %d Location %q; want a redirect to /dashboard/", w.Code, w.Header().Get("Location"))
	}
	// Without the mux, a bare StripPrefix mount redirects the prefix itself.
	rec := NewRecorder(newFixed(), Options{})
	w := get(t, http.StripPrefix("/dash", rec), "GET", "/dash?x=1")
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/dash/" {
		t.Errorf("GET /dash: %d Location %q; want 301 /dash/", w.Code, w.Header().Get("Location"))
	}
}

func TestStateShape(t *testing.T) {
	rec := NewRecorder(newFixed(), Options{Interval: 250 * time.Millisecond, ModelAPI: "/api/v1/models"})
	h := mounted(rec)

	w := get(t, h, "GET", "/dashboard/api/state")
	if got, want := strings.TrimSpace(w.Body.String()), `{"config":{"boot":"`+rec.boot+`","interval_ms":250,"history":600,"model_api":"/api/v1/models"},"history":[],"latest":null}`; got != want {
		t.Errorf("state before a sample = %s; want %s", got, want)
	}
	for range 3 {
		rec.Sample()
	}
	w = get(t, h, "GET", "/dashboard/api/state")
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", ct)
	}
	var st struct {
		Config  map[string]any   `json:"config"`
		History []map[string]any `json:"history"`
		Latest  map[string]any   `json:"latest"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("state is not JSON: %v\n%s", err, w.Body)
	}
	if len(st.History) != 3 {
		t.Fatalf("history has %d points; want 3", len(st.History))
	}
	for i, p := range st.History {
		if got := p["seq"]; got != float64(i+1) {
			t.Errorf("history[%d].seq = %v; want %d", i, got, i+1)
		}
		want := map[string]any{"purchase": map[string]any{"logloss": []float64{0.5, 0.25, 0.166667}[i]}} // NaN auc dropped, 6 digits
		if got, _ := json.Marshal(p["learners"]); string(got) != mustJSON(want) {
			t.Errorf("history[%d].learners = %s; want %s", i, got, mustJSON(want))
		}
		// Infinite regret and NaN recall are left out of the series.
		if got, want := mustJSON(p["values"]), `{"fraud.precision":0.9,"recommend.ctr":0.04}`; got != want {
			t.Errorf("history[%d].values = %s; want %s", i, got, want)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{"time", `"2026-01-01T00:00:03Z"`},
		{"recommend", `{"ctr":0.04,"regret":null}`},
		{"fraud", `{"precision":0.9,"queue":[{"amount":0,"id":"tx-1","reasons":["compromised-card"],"score":0.97,"time":"0001-01-01T00:00:00Z"}],"recall":null}`},
		{"forecasts", `[{"points":[{"actual":3,"forecast":4,"time":"0001-01-01T00:00:00Z"},{"actual":null,"forecast":5,"time":"0001-01-01T00:00:00Z"}],"sku":"SKU-1"}]`},
		{"models", `[{"champion":true,"name":"purchase","published_at":"0001-01-01T00:00:00Z","version":2}]`},
		{"learners", `[{"events":3,"metrics":{"logloss":0.16666666666666666},"name":"purchase","task":"purchase"}]`},
	} {
		if got := mustJSON(st.Latest[tc.path]); got != tc.want {
			t.Errorf("latest.%s = %s; want %s", tc.path, got, tc.want)
		}
	}
	for _, absent := range []string{"routes", "markers"} {
		if v, ok := st.Latest[absent]; ok {
			t.Errorf("latest.%s = %v; want it left out when empty", absent, v)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// readEvents reads "sample" events from an SSE body, sending each data
// payload on out, until the body ends.
func readEvents(body io.Reader, out chan<- event) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if name == "sample" {
				var e event
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					return err
				}
				out <- e
			}
			name, data = "", ""
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	return sc.Err()
}

func TestEventsStreamAndEndOnCancel(t *testing.T) {
	rec := NewRecorder(newFixed(), Options{Interval: 5 * time.Millisecond})
	srv := httptest.NewServer(mounted(rec))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- rec.Run(ctx) }()

	resp, err := http.Get(srv.URL + "/dashboard/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q; want text/event-stream", ct)
	}
	checkSecurityHeaders(t, "/api/events", resp.Header)
	events := make(chan event, 1000)
	readErr := make(chan error, 1)
	go func() { readErr <- readEvents(resp.Body, events); close(events) }()

	// A stream that falls behind gets every missed point, with the latest
	// snapshot on the newest only: no gaps, and snapshots match their seq.
	var last uint64
	withLatest := 0
	for i := range 8 {
		select {
		case e := <-events:
			if last != 0 && e.Point.Seq != last+1 {
				t.Errorf("event %d has seq %d after %d; want %d", i, e.Point.Seq, last, last+1)
			}
			last = e.Point.Seq
			if e.Latest != nil {
				withLatest++
				if len(e.Latest.Learners) != 1 || e.Latest.Learners[0].Events != int64(e.Point.Seq) {
					t.Errorf("event %d: latest = %+v; want the snapshot of sample %d", i, e.Latest, e.Point.Seq)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event %d within 10s", i)
		}
	}
	if withLatest == 0 {
		t.Error("no event carried the latest snapshot")
	}
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run = %v; want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancel")
	}
	for range events { // drain what was sent before the end
	}
	select {
	case err := <-readErr:
		if err != nil {
			t.Errorf("stream ended with %v; want a clean end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream still open 10s after Run ended")
	}
	if err := rec.Run(context.Background()); err != ErrRunning {
		t.Errorf("second Run = %v; want ErrRunning", err)
	}
}

func TestEventsEndOnDisconnectAndCap(t *testing.T) {
	rec := NewRecorder(newFixed(), Options{MaxStreams: 1})
	for range 5 {
		rec.Sample()
	}
	srv := httptest.NewServer(mounted(rec))
	defer srv.Close()

	// Run is not started: only the backlog asked for with ?after flows.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/dashboard/api/events?after=2", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan event, 10)
	go func() { readEvents(resp.Body, events); close(events) }()
	var got []uint64
	for range 3 {
		select {
		case e := <-events:
			got = append(got, e.Point.Seq)
			if (e.Latest != nil) != (e.Point.Seq == 5) {
				t.Errorf("seq %d: latest present = %v; want it only on the newest", e.Point.Seq, e.Latest != nil)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("backlog after=2: got %v within 10s; want [3 4 5]", got)
		}
	}
	if mustJSON(got) != "[3,4,5]" {
		t.Errorf("backlog after=2 = %v; want [3 4 5]", got)
	}

	// The cap: a second stream is refused while the first is open.
	w := get(t, mounted(rec), "GET", "/dashboard/api/events")
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("second stream with MaxStreams 1: status %d; want 503", w.Code)
	}

	// A live sample reaches the open stream.
	rec.Sample()
	select {
	case e := <-events:
		if e.Point.Seq != 6 {
			t.Errorf("live event seq = %d; want 6", e.Point.Seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("live sample not streamed within 10s")
	}

	// The client goes away: the handler returns and frees its slot.
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rec.streams.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still open 10s after the client left", rec.streams.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"deflate", false},
		{"x-gzip", false},
	} {
		if got := acceptsGzip(tc.in); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestStateGzip(t *testing.T) {
	rec := NewRecorder(newSynthetic(1), Options{})
	for range 50 {
		rec.Sample()
	}
	h := mounted(rec)
	plain := get(t, h, "GET", "/dashboard/api/state")
	req := httptest.NewRequest("GET", "/dashboard/api/state", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ce := w.Header().Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding = %q; want gzip", ce)
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != plain.Body.String() {
		t.Errorf("gunzipped state differs from the plain one (%d vs %d bytes)", len(got), plain.Body.Len())
	}
	if w.Body.Len() >= plain.Body.Len()/3 {
		t.Errorf("gzip state %d bytes vs plain %d; want at least 3x smaller", w.Body.Len(), plain.Body.Len())
	}
}

// TestFirstLoadWeight checks the target with data: page bundle plus
// a full history of /api/state as sent to a browser (gzip) under 300 KB.
func TestFirstLoadWeight(t *testing.T) {
	rec := NewRecorder(newSynthetic(1), Options{})
	for range rec.opts.History {
		rec.Sample()
	}
	h := mounted(rec)
	total := 0
	for _, u := range []string{"/dashboard/", "/dashboard/app.js", "/dashboard/style.css", "/dashboard/api/state"} {
		req := httptest.NewRequest("GET", u, nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", u, w.Code)
		}
		t.Logf("%s: %d bytes", u, w.Body.Len())
		total += w.Body.Len()
	}
	if total >= 300<<10 {
		t.Errorf("first load with %d points of history = %d bytes; want < %d", rec.opts.History, total, 300<<10)
	}
	t.Logf("first load with a full history (%d points): %d bytes", rec.opts.History, total)
}

func TestEventsHelloAndLastEventID(t *testing.T) {
	rec := NewRecorder(newFixed(), Options{})
	for range 6 {
		rec.Sample()
	}
	srv := httptest.NewServer(mounted(rec))
	defer srv.Close()
	for _, tc := range []struct {
		after, lastEventID string
		first              uint64
	}{
		{"1", "", 2},
		{"1", "4", 5}, // a reconnect's Last-Event-ID wins over the URL's ?after
		{"", "5", 6},
		{"99", "", 1}, // from an earlier server: everything retained
	} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/dashboard/api/events?after="+tc.after, nil)
		if tc.lastEventID != "" {
			req.Header.Set("Last-Event-ID", tc.lastEventID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		head := make([]byte, len("retry: 2000\n\nevent: hello\ndata: {\"boot\":\"\"}\n\n")+len(rec.boot))
		if _, err := io.ReadFull(br, head); err != nil {
			t.Fatal(err)
		}
		if want := "retry: 2000\n\nevent: hello\ndata: {\"boot\":\"" + rec.boot + "\"}\n\n"; string(head) != want {
			t.Errorf("stream starts %q; want %q", head, want)
		}
		events := make(chan event, 10)
		go func() { readEvents(br, events); close(events) }()
		select {
		case e := <-events:
			if e.Point.Seq != tc.first {
				t.Errorf("after=%q Last-Event-ID=%q: first seq %d; want %d", tc.after, tc.lastEventID, e.Point.Seq, tc.first)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("after=%q Last-Event-ID=%q: no event within 10s", tc.after, tc.lastEventID)
		}
		cancel()
		resp.Body.Close()
		for range events {
		}
	}
}

// FuzzServeHTTP checks that no request, however odd, panics, escapes the
// security headers or blocks (the request context is already cancelled,
// so a stream ends after its backlog).
func FuzzServeHTTP(f *testing.F) {
	rec := NewRecorder(newFixed(), Options{History: 4})
	for range 6 {
		rec.Sample()
	}
	h := http.StripPrefix("/d", rec)
	f.Add("GET", "/d/api/events", "after=3", "gzip", "2")
	f.Add("HEAD", "/d/", "", "", "")
	f.Add("GET", "/d/api/state", "x=%zz", "gzip;q=0", "-1")
	f.Add("POST", "/d/app.js", "", "br", "18446744073709551616")
	f.Fuzz(func(t *testing.T, method, path, query, ae, lastID string) {
		req, err := http.NewRequest(method, "http://x"+path+"?"+query, nil)
		if err != nil || req.URL.Path != path {
			return
		}
		req.Header.Set("Accept-Encoding", ae)
		req.Header.Set("Last-Event-ID", lastID)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req.WithContext(ctx))
		if strings.HasPrefix(path, "/d") {
			checkSecurityHeaders(t, path, w.Header())
		}
		if w.Code == http.StatusInternalServerError {
			t.Errorf("%s %s?%s: 500", method, path, query)
		}
	})
}
