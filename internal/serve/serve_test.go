package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestNewValidatesOptions(t *testing.T) {
	notGatherer := prometheus.WrapRegistererWithPrefix("x_", prometheus.NewRegistry())
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"negative read timeout", Options{ReadTimeout: -time.Second}, "Options.ReadTimeout: must not be negative"},
		{"negative header timeout", Options{ReadHeaderTimeout: -1}, "Options.ReadHeaderTimeout"},
		{"negative shutdown timeout", Options{ShutdownTimeout: -1}, "Options.ShutdownTimeout"},
		{"negative header bytes", Options{MaxHeaderBytes: -1}, "Options.MaxHeaderBytes"},
		{"huge predict body", Options{MaxPredictBodyBytes: 1 << 30}, "Options.MaxPredictBodyBytes"},
		{"negative events bytes", Options{MaxEventsBytes: -1}, "Options.MaxEventsBytes"},
		{"bad addr", Options{Addr: "127.0.0.1"}, `Options.Addr: "127.0.0.1" is not host:port`},
		{"nil hook", Options{BeforeHTTPStop: []func(context.Context) error{nil}}, "Options.BeforeHTTPStop[0]: nil hook"},
		{"registerer without gatherer", Options{Registerer: notGatherer}, "Options.Gatherer: required"},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%s) = %v; want an error containing %q", tt.name, err, tt.wantErr)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "serve: ") {
			t.Errorf("New(%s) error %q lacks the package prefix", tt.name, err)
		}
	}
	s, err := New(Options{})
	if err != nil {
		t.Fatalf("New(Options{}) = %v; want nil", err)
	}
	if s.opts.Addr != DefaultAddr || s.http.ReadHeaderTimeout != DefaultReadHeaderTimeout ||
		s.http.IdleTimeout != DefaultIdleTimeout || s.http.MaxHeaderBytes != DefaultMaxHeaderBytes {
		t.Errorf("New(Options{}) did not apply defaults: addr %q, http.Server %+v", s.opts.Addr, s.http)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	s := newTestServer(t, Options{})
	tests := []struct {
		method, target string
		wantCode       int
		wantBody       string
		wantAllow      string
	}{
		{"GET", "/nope", 404, `{"error":"not found"}`, ""},
		{"GET", "/v1/predict/purchase", 405, `{"error":"method not allowed"}`, "POST"},
		{"DELETE", "/v1/events", 405, `{"error":"method not allowed"}`, "GET, HEAD, POST"},
		{"POST", "/healthz", 405, `{"error":"method not allowed"}`, "GET, HEAD"},
		{"GET", "/healthz/", 404, `{"error":"not found"}`, ""},
	}
	for _, tt := range tests {
		code, body, hdr := do(s.Handler(), tt.method, tt.target, "")
		if code != tt.wantCode || body != tt.wantBody || hdr.Get("Allow") != tt.wantAllow {
			t.Errorf("%s %s = %d %s (Allow %q); want %d %s (Allow %q)", tt.method, tt.target,
				code, body, hdr.Get("Allow"), tt.wantCode, tt.wantBody, tt.wantAllow)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s Content-Type = %q; want application/json", tt.method, tt.target, ct)
		}
	}
}

func TestHealthz(t *testing.T) {
	s := newTestServer(t, Options{})
	code, body, _ := do(s.Handler(), "GET", "/healthz", "")
	if code != 200 || body != `{"status":"ok"}` {
		t.Errorf("GET /healthz = %d %s; want 200 {\"status\":\"ok\"}", code, body)
	}
}

func TestPanicRecovery(t *testing.T) {
	logger, logs := testLogger()
	s := newTestServer(t, Options{Logger: logger, Ingest: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("secret internal detail")
	})})
	code, body, _ := do(s.Handler(), "POST", "/v1/events", "{}")
	if code != 500 || body != `{"error":"internal error"}` {
		t.Errorf("POST /v1/events with a panicking handler = %d %s; want 500 {\"error\":\"internal error\"}", code, body)
	}
	if l := logs.String(); !strings.Contains(l, "panic") || !strings.Contains(l, "secret internal detail") {
		t.Errorf("panic not logged; log = %q", l)
	}
	// The server keeps serving.
	if code, _, _ := do(s.Handler(), "GET", "/healthz", ""); code != 200 {
		t.Errorf("GET /healthz after a panic = %d; want 200", code)
	}
}

func TestPanicAfterHeadersAbortsConnection(t *testing.T) {
	logger, _ := testLogger()
	s := newTestServer(t, Options{Logger: logger, Ingest: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic("boom")
	})})
	ts := httptest.NewServer(s.Handler())
	ts.Config.ErrorLog = nil
	defer ts.Close()
	resp, err := ts.Client().Post(ts.URL+"/v1/events", "application/json", strings.NewReader("{}"))
	if err != nil {
		return // the connection was cut before the headers arrived: fine
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Errorf("reading a response whose handler panicked mid-body succeeded; want a truncated-body error")
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := prometheus.NewRegistry()
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "perpetua_test_other_total", Help: "x"})
	reg.MustRegister(other)
	other.Inc()
	s := newTestServer(t, Options{Registerer: reg})
	h := s.Handler()
	do(h, "GET", "/healthz", "")
	do(h, "GET", "/healthz", "")
	do(h, "GET", "/no/such/path/12345", "")
	code, body, hdr := do(h, "GET", "/metrics", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d (Content-Type %q); want 200 text/plain", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		`perpetua_http_requests_total{code="200",route="GET /healthz"} 2`,
		`perpetua_http_requests_total{code="404",route="unmatched"} 1`,
		`perpetua_http_request_duration_seconds_count{route="GET /healthz"} 2`,
		`perpetua_http_requests_in_flight 1`,
		`perpetua_http_ready 0`,
		`perpetua_test_other_total 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q; body:\n%s", want, body)
		}
	}
	if strings.Contains(body, "12345") {
		t.Errorf("GET /metrics leaks a request path into labels:\n%s", body)
	}

	// A second server on the same registry shares the series instead of failing.
	if _, err := New(Options{Addr: "127.0.0.1:0", Registerer: reg}); err != nil {
		t.Errorf("second New on the same registry = %v; want nil", err)
	}
}

func TestMetricsPrivateRegistry(t *testing.T) {
	s := newTestServer(t, Options{})
	do(s.Handler(), "GET", "/healthz", "")
	_, body, _ := do(s.Handler(), "GET", "/metrics", "")
	if want := `perpetua_http_requests_total{code="200",route="GET /healthz"} 1`; !strings.Contains(body, want) {
		t.Errorf("GET /metrics (private registry) lacks %q; body:\n%s", want, body)
	}
}

// get fetches url and returns the status code, or -1 on a transport error.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLifecycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	var (
		mu    sync.Mutex
		steps []string
	)
	step := func(s string) { mu.Lock(); steps = append(steps, s); mu.Unlock() }
	var s *Server
	hook := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			// During the hooks the server is not ready but still serves.
			code, body := get(t, base+"/readyz")
			step(name + " readyz " + body)
			if code != 503 {
				t.Errorf("GET /readyz during shutdown hook %s = %d %s; want 503", name, code, body)
			}
			if code, _ := get(t, base+"/healthz"); code != 200 {
				t.Errorf("GET /healthz during shutdown hook %s = %d; want 200", name, code)
			}
			if s.Ready() {
				t.Errorf("Ready() = true during shutdown hook %s", name)
			}
			return nil
		}
	}
	s = newTestServer(t, Options{BeforeHTTPStop: []func(context.Context) error{
		hook("stop-ingest"), hook("flush-log"), hook("checkpoint"),
	}})

	if s.Ready() {
		t.Fatalf("Ready() = true before Serve")
	}
	if code, body, _ := do(s.Handler(), "GET", "/readyz", ""); code != 503 || body != `{"status":"starting"}` {
		t.Errorf("GET /readyz before Serve = %d %s; want 503 starting", code, body)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), ln) }()
	deadline := time.Now().Add(5 * time.Second)
	for !s.Ready() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || body != `{"status":"ready"}` {
		t.Fatalf("GET /readyz while serving = %d %s; want 200 ready", code, body)
	}
	if got := s.Addr(); got == nil || got.String() != ln.Addr().String() {
		t.Errorf("Addr() = %v; want %v", got, ln.Addr())
	}

	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v; want nil", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown = %v; want nil", err)
	}
	want := []string{
		`stop-ingest readyz {"status":"shutting down"}`,
		`flush-log readyz {"status":"shutting down"}`,
		`checkpoint readyz {"status":"shutting down"}`,
	}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("shutdown steps =\n%s\nwant\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
	if s.Ready() {
		t.Errorf("Ready() = true after Shutdown")
	}
	if code, _ := get(t, base+"/healthz"); code != -1 {
		t.Errorf("GET /healthz after Shutdown = %d; want a connection error", code)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v; want nil", err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(context.Background(), ln2); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v; want ErrServerClosed", err)
	}
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	s := newTestServer(t, Options{Ingest: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		writeJSON(w, http.StatusAccepted, []byte(`{"accepted":1}`))
	})})
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), ln) }()

	type result struct {
		code int
		err  error
	}
	reqDone := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/events", "application/json", strings.NewReader("{}"))
		if err != nil {
			reqDone <- result{err: err}
			return
		}
		resp.Body.Close()
		reqDone <- result{code: resp.StatusCode}
	}()
	<-entered
	shutDone := make(chan error, 1)
	go func() { shutDone <- s.Shutdown(context.Background()) }()
	select {
	case err := <-shutDone:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-reqDone; r.err != nil || r.code != 202 {
		t.Errorf("in-flight request across Shutdown = %d, %v; want 202", r.code, r.err)
	}
	if err := <-shutDone; err != nil {
		t.Errorf("Shutdown = %v; want nil", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v; want nil", err)
	}
}

func TestServeStopsWhenContextCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookErr := errors.New("checkpoint failed")
	var hookRan bool
	s := newTestServer(t, Options{BeforeHTTPStop: []func(context.Context) error{
		func(context.Context) error { hookRan = true; return hookErr },
	}})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	for !s.Ready() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err = <-served
	if !errors.Is(err, hookErr) || !strings.Contains(err.Error(), "BeforeHTTPStop[0]") {
		t.Errorf("Serve after cancel = %v; want the hook's error naming BeforeHTTPStop[0]", err)
	}
	if !hookRan || s.Ready() {
		t.Errorf("after cancel: hook ran %v, Ready %v; want true, false", hookRan, s.Ready())
	}
	if err2 := s.Shutdown(context.Background()); !errors.Is(err2, hookErr) {
		t.Errorf("Shutdown after the ctx-triggered one = %v; want the same error", err2)
	}
}

func TestRunRejectsBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newTestServer(t, Options{Addr: ln.Addr().String()})
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Options.Addr") {
		t.Errorf("Run on a busy address = %v; want an error naming Options.Addr", err)
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	s := newTestServer(t, Options{})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Serve = %v; want nil", err)
	}
	if code, body, _ := do(s.Handler(), "GET", "/readyz", ""); code != 503 || body != `{"status":"shutting down"}` {
		t.Errorf("GET /readyz after Shutdown = %d %s; want 503 shutting down", code, body)
	}
	ln := &addrListener{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}
	if err := s.Serve(context.Background(), ln); !errors.Is(err, ErrServerClosed) || !ln.closed {
		t.Errorf("Serve after Shutdown = %v (listener closed %v); want ErrServerClosed, closed", err, ln.closed)
	}
}

// TestReadyzHealth: a failing health check (a log that refuses appends)
// makes /readyz answer 503 with the reason, and it recovers with it.
func TestReadyzHealth(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var failing, starting atomic.Bool
	s := newTestServer(t, Options{Health: func() error {
		if failing.Load() {
			return errors.New("the event log refuses appends until restart: no space left on device")
		}
		if starting.Load() {
			return fmt.Errorf("%w: the services are replaying the log (10 of 20 records)", ErrStarting)
		}
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	for !s.Ready() {
		time.Sleep(time.Millisecond)
	}
	base := "http://" + ln.Addr().String()
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("GET /readyz healthy = %d %s; want 200", code, body)
	}
	failing.Store(true)
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, `"status":"failing"`) || !strings.Contains(body, "no space left") {
		t.Fatalf("GET /readyz failing = %d %s; want 503 failing with the reason", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("GET /healthz while not ready = %d; want 200 (the process lives)", code)
	}
	failing.Store(false)
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("GET /readyz after recovery = %d %s; want 200", code, body)
	}
	starting.Store(true)
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, `"status":"starting"`) || !strings.Contains(body, `"reason":"the services are replaying the log (10 of 20 records)"`) {
		t.Fatalf("GET /readyz while rebuilding = %d %s; want 503 starting with the reason", code, body)
	}
	starting.Store(false)
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("GET /readyz once rebuilt = %d %s; want 200", code, body)
	}
}
