package serve

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults for zero Options fields.
const (
	DefaultAddr              = "127.0.0.1:8080"
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxPredictBody    = 1 << 20
	DefaultMaxEventsBytes    = 16 << 20
)

// Options configures a Server. The zero value serves an open API on
// DefaultAddr in which every backend route answers 503.
type Options struct {
	// Health, if set, is asked by GET /readyz: a non-nil error makes the
	// server not ready (503, {"status":"failing","reason":…}), e.g. an
	// event log that refuses appends after a failed write. An error that
	// wraps ErrStarting answers {"status":"starting","reason":…}
	// instead: state still being rebuilt at start-up.
	Health func() error

	// Addr is the TCP address Run listens on; "" means DefaultAddr. A
	// non-loopback address requires Keys.
	Addr string

	// Ingest serves POST /v1/events after the ingest scope is checked;
	// nil answers 503.
	Ingest http.Handler
	// Log backs GET /v1/events; nil answers 503.
	Log EventLog
	// Scorer backs POST /v1/predict/purchase; nil answers 503 "no model yet".
	Scorer PurchaseScorer

	// Routes are the shop-facing services' endpoints (recommendations,
	// risk, forecasts, routes), mounted beside the built-in ones with the
	// same auth, metrics and panic recovery. Build their handlers with
	// JSON and Query.
	Routes []Route

	// Keys are the accepted API keys (see KeysFromEnv). Empty means an open
	// API, allowed only on loopback addresses.
	Keys []Key
	// RateLimit is each API key's sustained request rate (requests per
	// second) on authenticated routes, with bursts of RateBurst (default
	// max(1, RateLimit)); beyond it requests get 429 with Retry-After.
	// 0 means no limit. It has no effect on an open API.
	RateLimit float64
	RateBurst int

	// TLS, when set, makes Serve speak HTTPS on its listener.
	TLS *tls.Config
	// Pprof serves Go's profiler at /debug/pprof/ behind the admin scope.
	Pprof bool

	// Registerer receives the perpetua_http_* metrics; nil means a private
	// registry (which /metrics then also serves).
	Registerer prometheus.Registerer
	// Gatherer is what /metrics exposes. nil means Registerer if it is a
	// Gatherer too (e.g. a *prometheus.Registry); it is an error to leave it
	// nil when Registerer is not.
	Gatherer prometheus.Gatherer

	// Logger receives panics, internal errors behind 5xx answers and
	// lifecycle messages; nil discards them.
	Logger *slog.Logger

	// http.Server timeouts; zero means the Default* value.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds the graceful shutdown Run and Serve start
	// when their context is cancelled; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// MaxHeaderBytes caps request headers; zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxPredictBodyBytes caps prediction request bodies (413 beyond it);
	// zero means DefaultMaxPredictBody. At most 64 MiB.
	MaxPredictBodyBytes int64
	// MaxEventsBytes is the size at which GET /v1/events stops adding
	// records to a response; zero means DefaultMaxEventsBytes.
	MaxEventsBytes int

	// BeforeHTTPStop hooks run in order during Shutdown, after readiness
	// turned false and before the HTTP server stops, with Shutdown's
	// context. The engine passes: stop ingest, flush the log, final train
	// step and checkpoint. A failing hook does not stop the others or the
	// HTTP shutdown; its error is returned by Shutdown.
	BeforeHTTPStop []func(ctx context.Context) error
}

// ServiceRoutes are the service endpoints Options.Routes may mount, with
// the scope each requires. They are listed here so that docs/openapi.json
// (kept in step with the routes by a test) describes every one of them.
var ServiceRoutes = map[string]Scope{
	"POST /v1/recommend":       ScopePredict,
	"POST /v1/feedback":        ScopeIngest,
	"GET /v1/forecast":         ScopePredict,
	"GET /v1/replenishment":    ScopePredict,
	"POST /v1/risk/score":      ScopePredict,
	"POST /v1/routes/optimize": ScopePredict,
	"GET /v1/models":           ScopeAdmin,
	"POST /v1/models/promote":  ScopeAdmin,
	"POST /v1/models/rollback": ScopeAdmin,
	"POST /v1/models/traffic":  ScopeAdmin,
	"GET /dashboard/":          "",
}

// Route is one service endpoint.
type Route struct {
	Pattern string // "METHOD /path", as http.ServeMux patterns
	Scope   Scope  // "" for a public route
	Handler http.Handler
}

// ErrStarting, wrapped by an Options.Health error, reports state still
// being rebuilt at start-up rather than a failure.
var ErrStarting = errors.New("starting")

// ErrServerClosed is returned by Serve and Run once Shutdown has begun.
var ErrServerClosed = errors.New("serve: server closed")

// Server is Perpetua's HTTP API server. Its methods are safe for
// concurrent use.
type Server struct {
	opts    Options // defaults applied
	log     *slog.Logger
	keys    keyring
	limits  []*rate.Limiter // per key, in keyring order; nil without a rate limit
	mux     *http.ServeMux
	routes  map[string]*route // by pattern; read-only after New
	other   *routeMetrics     // requests no pattern matched
	metrics *httpMetrics
	http    *http.Server

	ready atomic.Bool
	mu    struct {
		sync.Mutex
		serving bool         // guarded by mu
		closed  bool         // guarded by mu; Shutdown has begun
		ln      net.Listener // guarded by mu
	}
	shutdownDone chan struct{} // closed when the first Shutdown returns
	shutdownErr  error         // written before shutdownDone is closed
}

// route is one registered endpoint.
type route struct {
	pattern string // "METHOD /path", also the metrics label
	scope   Scope  // "" for public routes
	metrics *routeMetrics
}

// New validates opts and builds a Server. It does not listen.
func New(opts Options) (*Server, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	keys, err := newKeyring(o.Keys)
	if err != nil {
		return nil, err
	}
	o.Keys = nil // only the digests in keys are kept
	if keys.open() && !isLoopbackAddr(o.Addr) {
		return nil, fmt.Errorf("%w (Options.Addr %q)", ErrNoKeys, o.Addr)
	}

	reg := o.Registerer
	var gatherers prometheus.Gatherers
	if reg == nil {
		private := prometheus.NewRegistry()
		reg = private
		gatherers = append(gatherers, private)
	}
	if o.Gatherer != nil {
		gatherers = append(gatherers, o.Gatherer)
	} else if g, ok := o.Registerer.(prometheus.Gatherer); ok {
		gatherers = append(gatherers, g)
	}
	m, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, err
	}

	s := &Server{
		opts:         o,
		log:          o.Logger,
		keys:         keys,
		mux:          http.NewServeMux(),
		routes:       make(map[string]*route),
		metrics:      m,
		other:        m.route(routeUnmatched),
		shutdownDone: make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "serve")
	m.ready.Set(0)

	s.handle("GET /healthz", "", http.HandlerFunc(s.handleHealth))
	s.handle("GET /readyz", "", http.HandlerFunc(s.handleReady))
	s.handle("GET /metrics", "", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	s.handle("POST /v1/events", ScopeIngest, http.HandlerFunc(s.handleIngest))
	s.handle("GET /v1/events", ScopeAdmin, http.HandlerFunc(s.handleEvents))
	s.handle("POST /v1/predict/purchase", ScopePredict, http.HandlerFunc(s.handlePredictPurchase))
	if o.RateLimit > 0 {
		burst := o.RateBurst
		if burst <= 0 {
			burst = max(1, int(o.RateLimit))
		}
		for range keys.keys {
			s.limits = append(s.limits, rate.NewLimiter(rate.Limit(o.RateLimit), burst))
		}
	}
	if o.Pprof {
		s.handle("GET /debug/pprof/", ScopeAdmin, http.HandlerFunc(pprof.Index))
		s.handle("GET /debug/pprof/profile", ScopeAdmin, http.HandlerFunc(pprof.Profile))
		s.handle("GET /debug/pprof/trace", ScopeAdmin, http.HandlerFunc(pprof.Trace))
	}
	for _, rt := range o.Routes {
		s.handle(rt.Pattern, rt.Scope, rt.Handler)
	}

	s.http = &http.Server{
		Addr:              o.Addr,
		Handler:           s,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (o *Options) validate() error {
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"ReadHeaderTimeout", o.ReadHeaderTimeout},
		{"ReadTimeout", o.ReadTimeout},
		{"WriteTimeout", o.WriteTimeout},
		{"IdleTimeout", o.IdleTimeout},
		{"ShutdownTimeout", o.ShutdownTimeout},
	}
	for _, d := range durations {
		if d.d < 0 {
			return fmt.Errorf("serve: Options.%s: must not be negative (got %v)", d.name, d.d)
		}
	}
	switch {
	case o.MaxHeaderBytes < 0:
		return fmt.Errorf("serve: Options.MaxHeaderBytes: must not be negative (got %d)", o.MaxHeaderBytes)
	case o.MaxPredictBodyBytes < 0 || o.MaxPredictBodyBytes > 64<<20:
		return fmt.Errorf("serve: Options.MaxPredictBodyBytes: must be between 0 (default) and 64 MiB (got %d)", o.MaxPredictBodyBytes)
	case o.RateLimit < 0 || o.RateBurst < 0:
		return fmt.Errorf("serve: Options.RateLimit and RateBurst: must not be negative (got %v, %d)", o.RateLimit, o.RateBurst)
	case o.MaxEventsBytes < 0:
		return fmt.Errorf("serve: Options.MaxEventsBytes: must not be negative (got %d)", o.MaxEventsBytes)
	case o.Registerer != nil && o.Gatherer == nil:
		if _, ok := o.Registerer.(prometheus.Gatherer); !ok {
			return errors.New("serve: Options.Gatherer: required when Options.Registerer is not a prometheus.Gatherer")
		}
	}
	if o.Addr != "" {
		if _, _, err := net.SplitHostPort(o.Addr); err != nil {
			return fmt.Errorf("serve: Options.Addr: %q is not host:port: %v", o.Addr, err)
		}
	}
	seen := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true,
		"POST /v1/events": true, "GET /v1/events": true, "POST /v1/predict/purchase": true}
	for i, rt := range o.Routes {
		switch {
		case rt.Handler == nil:
			return fmt.Errorf("serve: Options.Routes[%d] (%q): nil handler", i, rt.Pattern)
		case seen[rt.Pattern]:
			return fmt.Errorf("serve: Options.Routes[%d]: pattern %q registered twice", i, rt.Pattern)
		}
		if want, ok := ServiceRoutes[rt.Pattern]; !ok {
			return fmt.Errorf("serve: Options.Routes[%d]: %q is not one of ServiceRoutes (add it there and to docs/openapi.json)", i, rt.Pattern)
		} else if rt.Scope != want {
			return fmt.Errorf("serve: Options.Routes[%d] (%q): scope %q; ServiceRoutes says %q", i, rt.Pattern, rt.Scope, want)
		}
		seen[rt.Pattern] = true
	}
	for i, h := range o.BeforeHTTPStop {
		if h == nil {
			return fmt.Errorf("serve: Options.BeforeHTTPStop[%d]: nil hook", i)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownTimeout, DefaultShutdownTimeout)
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxPredictBodyBytes == 0 {
		o.MaxPredictBodyBytes = DefaultMaxPredictBody
	}
	if o.MaxEventsBytes == 0 {
		o.MaxEventsBytes = DefaultMaxEventsBytes
	}
	o.BeforeHTTPStop = append([]func(context.Context) error(nil), o.BeforeHTTPStop...)
	o.Routes = append([]Route(nil), o.Routes...)
	o.Keys = append([]Key(nil), o.Keys...)
	return o
}

// handle registers h at pattern behind scope ("" for public routes).
func (s *Server) handle(pattern string, scope Scope, h http.Handler) {
	if scope != "" {
		h = s.requireScope(scope, h)
	}
	s.routes[pattern] = &route{pattern: pattern, scope: scope, metrics: s.metrics.route(pattern)}
	s.mux.Handle(pattern, h)
}

// Patterns returns the patterns of every route the server serves.
func (s *Server) Patterns() []string {
	out := make([]string, 0, len(s.routes))
	for p := range s.routes {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Handler returns the server's handler (all routes, auth, metrics and
// panic recovery), for tests and for embedding in another http.Server.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP serves one request: it dispatches to the route, records the
// perpetua_http_* metrics, turns the mux's plain-text 404 and 405 answers
// into JSON and recovers handler panics (500, logged).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.metrics.inFlight.Inc()
	sw := &statusWriter{ResponseWriter: w, req: r}
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			s.log.Error("panic serving HTTP request", "method", r.Method, "path", r.URL.Path,
				"route", r.Pattern, "panic", p, "stack", string(debug.Stack()))
			if !sw.wroteHeader {
				writeError(sw, http.StatusInternalServerError, "internal error")
			} else {
				p = http.ErrAbortHandler // the answer is half sent: cut the connection
			}
		}
		rm := s.other
		if rt, ok := s.routes[r.Pattern]; ok {
			rm = rt.metrics
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		rm.observe(code, time.Since(start))
		s.metrics.inFlight.Dec()
		if p == http.ErrAbortHandler {
			panic(p)
		}
	}()
	s.mux.ServeHTTP(sw, r)
}

// statusWriter records the status code and rewrites the answers the mux
// generates itself (no matched pattern, status ≥ 400) as JSON errors.
type statusWriter struct {
	http.ResponseWriter
	req         *http.Request
	code        int
	wroteHeader bool
	discard     bool // the body was replaced; drop what the mux writes
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wroteHeader {
		w.ResponseWriter.WriteHeader(code) // let net/http report the superfluous call
		return
	}
	if code >= 100 && code < 200 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader, w.code = true, code
	if code >= 400 && w.req.Pattern == "" {
		msg := "not found"
		if code == http.StatusMethodNotAllowed {
			msg = "method not allowed"
		}
		w.Header().Del("Content-Length")
		writeJSON(w.ResponseWriter, code, appendErrorJSON(nil, msg))
		w.discard = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets streaming handlers (ingest acknowledgements) flush.
func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	if s.Ready() && s.opts.Health != nil {
		if err := s.opts.Health(); err != nil {
			status, reason := "failing", err.Error()
			if errors.Is(err, ErrStarting) {
				status, reason = "starting", strings.TrimPrefix(reason, ErrStarting.Error()+": ")
			}
			b, _ := json.Marshal(map[string]string{"status": status, "reason": reason})
			writeJSON(w, http.StatusServiceUnavailable, b)
			return
		}
	}
	if s.Ready() {
		writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
		return
	}
	s.mu.Lock()
	closed := s.mu.closed
	s.mu.Unlock()
	if closed {
		writeJSON(w, http.StatusServiceUnavailable, []byte(`{"status":"shutting down"}`))
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, []byte(`{"status":"starting"}`))
}

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ingest == nil {
		writeError(w, http.StatusServiceUnavailable, "ingest is not configured")
		return
	}
	s.opts.Ingest.ServeHTTP(w, r)
}

// Ready reports whether the server is serving and not shutting down.
func (s *Server) Ready() bool { return s.ready.Load() }

func (s *Server) setReadyLocked(v bool) {
	s.ready.Store(v)
	if v {
		s.metrics.ready.Set(1)
	} else {
		s.metrics.ready.Set(0)
	}
}

// Addr returns the address the server listens on, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ln == nil {
		return nil
	}
	return s.mu.ln.Addr()
}

// Run listens on Options.Addr and serves like Serve.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("serve: listening on %s (Options.Addr): %w", s.opts.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves HTTP on ln, which it closes when done, and reports ready
// while doing so. It returns when the server stops: after a Shutdown
// started by the cancellation of ctx has finished (returning its error),
// once Shutdown was called directly (returning nil; the Shutdown caller
// gets any error), or when accepting connections fails. It refuses (with
// ErrNoKeys) a listener beyond loopback if no API keys are configured, and
// returns ErrServerClosed if Shutdown has already begun. Serve may be
// called once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		return errors.New("serve: Serve: nil listener")
	}
	if s.keys.open() && !isLocalListener(ln.Addr()) {
		ln.Close()
		return fmt.Errorf("%w (listener %s)", ErrNoKeys, ln.Addr())
	}
	s.mu.Lock()
	switch {
	case s.mu.closed:
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	case s.mu.serving:
		s.mu.Unlock()
		ln.Close()
		return errors.New("serve: Serve called twice")
	}
	if s.opts.TLS != nil {
		ln = tls.NewListener(ln, s.opts.TLS)
	}
	s.mu.serving, s.mu.ln = true, ln
	s.setReadyLocked(true)
	s.mu.Unlock()
	s.log.Info("serving HTTP", "addr", ln.Addr().String(), "auth", !s.keys.open())

	// The watcher turns ctx cancellation into a graceful Shutdown; Serve
	// waits for it, so no goroutine outlives the call.
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	var byCtx bool
	var ctxErr error
	watcher.Add(1)
	go func() {
		defer watcher.Done()
		select {
		case <-ctx.Done():
			byCtx = true
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
			ctxErr = s.Shutdown(sctx)
			cancel()
		case <-stop:
		}
	}()

	err := s.http.Serve(ln)
	if !errors.Is(err, http.ErrServerClosed) {
		// Accepting failed: stop answering ready and release the watcher.
		s.mu.Lock()
		s.setReadyLocked(false)
		s.mu.Unlock()
		close(stop)
		watcher.Wait()
		return fmt.Errorf("serve: serving HTTP: %w", err)
	}
	close(stop)
	watcher.Wait()
	if byCtx {
		return ctxErr
	}
	<-s.shutdownDone
	return nil
}

// Shutdown stops the server gracefully: readiness turns false, the
// Options.BeforeHTTPStop hooks run in order, then the HTTP server stops
// accepting and waits for in-flight requests until ctx is done, after
// which it closes the remaining connections. It may be called before,
// during or after Serve and any number of times; later calls wait for the
// first (or for their own ctx) and return its result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.mu.closed
	s.mu.closed = true
	s.setReadyLocked(false)
	s.mu.Unlock()
	if !first {
		select {
		case <-s.shutdownDone:
			return s.shutdownErr
		case <-ctx.Done():
			return fmt.Errorf("serve: waiting for shutdown: %w", ctx.Err())
		}
	}

	var errs []error
	for i, hook := range s.opts.BeforeHTTPStop {
		if err := hook(ctx); err != nil {
			errs = append(errs, fmt.Errorf("serve: shutdown hook BeforeHTTPStop[%d]: %w", i, err))
		}
	}
	if err := s.http.Shutdown(ctx); err != nil {
		s.http.Close()
		errs = append(errs, fmt.Errorf("serve: stopping HTTP gracefully: %w", err))
	}
	s.shutdownErr = errors.Join(errs...)
	close(s.shutdownDone)
	s.log.Info("HTTP server stopped")
	return s.shutdownErr
}
