package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed web/index.html web/app.js web/style.css
var webFS embed.FS

// asset is one embedded file of the page, read once at start.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

var assets = func() map[string]asset {
	types := map[string]string{
		"index.html": "text/html; charset=utf-8",
		"app.js":     "text/javascript; charset=utf-8",
		"style.css":  "text/css; charset=utf-8",
	}
	m := make(map[string]asset, len(types))
	for name, ct := range types {
		b, err := fs.ReadFile(webFS, "web/"+name)
		if err != nil {
			panic("dashboard: embedded asset missing: " + name) // build invariant
		}
		sum := sha256.Sum256(b)
		m[name] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return m
}()

// csp allows only the dashboard's own origin: no inline script or style,
// no framing, no plugins.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// heartbeat is how often an idle event stream sends a comment, so that a
// dead client is noticed and proxies keep the connection.
const heartbeat = 15 * time.Second

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// ServeHTTP serves the page, its assets, /api/state and /api/events, with
// paths relative to the mount point (strip the prefix before calling).
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	setSecurityHeaders(w.Header())
	path := req.URL.Path
	if path == "" {
		// Mounted with StripPrefix and asked for the bare prefix: the
		// page's relative URLs need the trailing slash.
		target := req.URL.EscapedPath()
		if req.RequestURI != "" {
			target, _, _ = strings.Cut(req.RequestURI, "?")
		}
		http.Redirect(w, req, target+"/", http.StatusMovedPermanently)
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch path {
	case "/", "/index.html":
		r.serveAsset(w, req, "index.html")
	case "/app.js", "/style.css":
		r.serveAsset(w, req, path[1:])
	case "/api/state":
		r.serveState(w, req)
	case "/api/events":
		r.serveEvents(w, req)
	default:
		httpError(w, "not found", http.StatusNotFound)
	}
}

func httpError(w http.ResponseWriter, msg string, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"error": "dashboard: " + msg})
	w.Write(b)
}

func (r *Recorder) serveAsset(w http.ResponseWriter, req *http.Request, name string) {
	a := assets[name]
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	// Revalidate every load: the assets are tiny and change with the binary.
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, req, name, time.Time{}, bytes.NewReader(a.body))
}

// State is the body of GET /api/state.
type State struct {
	Config  Config    `json:"config"`
	History []Point   `json:"history"`
	Latest  *Snapshot `json:"latest"`
}

// Config tells the page how the Recorder is set up.
type Config struct {
	// Boot identifies this Recorder; a page that sees another one in an
	// event stream's "hello" knows the server restarted and reloads.
	Boot       string `json:"boot"`
	IntervalMS int64  `json:"interval_ms"`
	History    int    `json:"history"`
	ModelAPI   string `json:"model_api"`
}

// State returns what GET /api/state serves.
func (r *Recorder) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return State{
		Config: Config{
			Boot:       r.boot,
			IntervalMS: r.opts.Interval.Milliseconds(),
			History:    r.opts.History,
			ModelAPI:   r.opts.ModelAPI,
		},
		History: r.historyLocked(0),
		Latest:  r.mu.latest,
	}
}

func (r *Recorder) serveState(w http.ResponseWriter, req *http.Request) {
	b, err := json.Marshal(r.State())
	if err != nil {
		httpError(w, "cannot encode state", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "Accept-Encoding")
	// A full history is a few hundred KB of JSON that compresses ~8×;
	// compress it to keep the first load light.
	if len(b) > 1024 && acceptsGzip(req.Header.Get("Accept-Encoding")) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // valid level: no error
		zw.Write(b)                                        // writes to a bytes.Buffer cannot fail
		if err := zw.Close(); err == nil {
			b = buf.Bytes()
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	if req.Method == http.MethodHead {
		return
	}
	w.Write(b)
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip.
func acceptsGzip(ae string) bool {
	for part := range strings.SplitSeq(ae, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// event is the data of one "sample" server-sent event.
type event struct {
	Point  Point     `json:"point"`
	Latest *Snapshot `json:"latest,omitempty"`
}

// encodeEvent returns the SSE frame for p; latest may be nil. A snapshot
// that cannot be encoded (a time outside years 0–9999) is left out rather
// than stalling the stream.
func encodeEvent(p Point, latest *Snapshot) []byte {
	b, err := json.Marshal(event{Point: p, Latest: latest})
	if err != nil {
		if b, err = json.Marshal(event{Point: p}); err != nil {
			return nil
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(b) + 48)
	buf.WriteString("id: ")
	buf.WriteString(strconv.FormatUint(p.Seq, 10))
	buf.WriteString("\nevent: sample\ndata: ")
	buf.Write(b) // json.Marshal output holds no newline
	buf.WriteString("\n\n")
	return buf.Bytes()
}

// serveEvents streams one "sample" event per sample. A client that
// reconnects with Last-Event-ID (or asks with ?after=SEQ) first gets the
// points it missed that are still in the history.
func (r *Recorder) serveEvents(w http.ResponseWriter, req *http.Request) {
	if n := r.streams.Add(1); int(n) > r.opts.MaxStreams {
		r.streams.Add(-1)
		httpError(w, "too many event streams", http.StatusServiceUnavailable)
		return
	}
	defer r.streams.Add(-1)

	rc := http.NewResponseController(w)
	// Streams outlive any server write timeout; errors mean the writer
	// has no deadline to clear.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return
	}

	r.mu.Lock()
	sent := r.mu.seq
	r.mu.Unlock()
	// Last-Event-ID, sent by a reconnecting EventSource, is newer than
	// the ?after the page opened the stream with.
	after := req.Header.Get("Last-Event-ID")
	if after == "" {
		after = req.URL.Query().Get("after")
	}
	if after != "" {
		if a, err := strconv.ParseUint(after, 10, 64); err == nil {
			if a > sent { // from an earlier server: send all we have
				a = 0
			}
			sent = a
		}
	}
	if _, err := w.Write([]byte("retry: 2000\n\nevent: hello\ndata: {\"boot\":\"" + r.boot + "\"}\n\n")); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	ctx := req.Context()
	for {
		r.mu.Lock()
		wake := r.mu.wake
		var frames []byte
		if r.mu.seq > sent {
			if r.mu.seq == sent+1 {
				frames = r.mu.event
			} else {
				pts := r.historyLocked(sent)
				for i, p := range pts {
					var latest *Snapshot
					if i == len(pts)-1 {
						latest = r.mu.latest
					}
					frames = append(frames, encodeEvent(p, latest)...)
				}
			}
			sent = r.mu.seq
		}
		r.mu.Unlock()
		if len(frames) > 0 {
			if _, err := w.Write(frames); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		case <-r.done:
			return
		case <-ping.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
