// Package ingest is Perpetua's HTTP intake of events: the handler behind
// POST /v1/events.
//
// A request body is a batch of events, either a JSON array of objects or
// NDJSON (one object per line); the format is sniffed from the first byte,
// so the Content-Type may be application/json, application/x-ndjson or
// anything else except form encodings. A body may be gzip-compressed
// (Content-Encoding: gzip); the size limit applies after decompression.
// Events are decoded and validated by package event (docs/events.schema.json).
//
// Replies (all JSON):
//
//	202 {"accepted":N,"duplicates":M,"first_offset":O}
//	    The batch is durable in the log (Append returned). The N accepted
//	    events have offsets O…O+N-1, in request order; first_offset is
//	    omitted when N is 0 (every event was a duplicate).
//	400 {"error":"invalid batch","errors":[{"line":3,"field":"amount","reason":"…"},…]}
//	    Nothing was written. Every problem of every bad event is listed
//	    ("line" for NDJSON, "item" for the 1-based index in a JSON array;
//	    "field" is "" for problems of the whole event such as malformed
//	    JSON). At most event.MaxBatchErrors are listed; "omitted" counts
//	    the rest. Also 400 for an empty batch or an unreadable body.
//	409 An event id of the batch is being appended by another request in
//	    flight. Nothing was written; retry after Retry-After.
//	413 The body exceeds Options.MaxBodyBytes or holds more than
//	    Options.MaxEvents events.
//	415 A form or multipart Content-Type, or an unsupported Content-Encoding.
//	429 Too many batches (or bytes) in flight; retry after Retry-After.
//	503 Ingest is stopped, or the log append failed (the cause is logged,
//	    never sent). Nothing was written; retry after Retry-After.
//
// Invariants:
//
//   - All-or-nothing: a batch with any invalid event writes nothing; a
//     valid batch is one log Append of one record per new event (its
//     canonical encoding, event.Append).
//   - 202 is sent only after Append returned nil.
//   - Idempotency: an event whose id was stored within the dedupe window
//     (the last Options.DedupeWindow ids, and at most Options.DedupeMaxAge
//     old) is dropped and counted as a duplicate, as is a repeat of an id
//     earlier in the same batch (the first is kept). While a batch is in
//     flight its new ids are reserved: a concurrent request carrying one of
//     them gets 409 and writes nothing, so the id is appended at most once;
//     retrying it later yields a duplicate if the first request succeeded,
//     or an append if it failed. Rebuild reloads the window from the tail
//     of the log, so a client retrying after a server crash does not create
//     duplicates. When Append fails the ids are released, so delivery is
//     at-least-once in the one case the log cannot say whether a batch was
//     written (its context expired mid-write, after Options.AppendTimeout).
//   - The Append does not inherit the request's cancellation: a client
//     disconnecting mid-append cannot leave the batch half-decided.
//
// Lifecycle: New → Rebuild (before serving) → ServeHTTP… → Stop or
// Shutdown. During a graceful shutdown stop ingest first (Shutdown waits
// for the batches in flight to be appended and answered), then flush the
// log, then stop the HTTP server.
package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/prometheus/client_golang/prometheus"
)

// Appender is the write side of the event log that ingest needs; every
// eventlog.Log implements it. Append is called concurrently. It writes the
// batch atomically and returns the offset of its first record; after it
// returns nil the batch is durable, after an error none of it is visible
// (unless ctx expired while it was being written). It must not retain the
// slices after it returns.
type Appender interface {
	Append(ctx context.Context, batch [][]byte) (first uint64, err error)
}

// TailReader is the read side of the event log that Rebuild needs; every
// eventlog.Log implements it. An Appender passed to New that also
// implements TailReader can be rebuilt from.
type TailReader interface {
	// End returns the offset the next appended record will get.
	End() uint64
	// NewReader returns a Reader positioned at from (≤ End()).
	NewReader(from uint64) (eventlog.Reader, error)
}

var (
	_ Appender   = eventlog.Log(nil)
	_ TailReader = eventlog.Log(nil)
)

// Defaults for zero Options fields.
const (
	DefaultMaxBodyBytes     = 16 << 20
	DefaultMaxEvents        = 10_000
	DefaultDedupeWindow     = 1_000_000
	DefaultDedupeMaxAge     = 24 * time.Hour
	DefaultMaxInFlight      = 64
	DefaultMaxInFlightBytes = 256 << 20
	DefaultAppendTimeout    = 30 * time.Second
	DefaultRetryAfter       = time.Second
)

// Options configures an Ingester. The zero value means the defaults.
type Options struct {
	// MaxBodyBytes is the largest request body, after gzip decoding
	// (413 beyond it). Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxEvents is the most events per request (413 beyond it). Zero
	// means DefaultMaxEvents.
	MaxEvents int
	// DedupeWindow is how many of the most recently stored ids are
	// remembered for duplicate detection (about 90 bytes each, so ~90 MB
	// for the default). Zero means DefaultDedupeWindow.
	DedupeWindow int
	// DedupeMaxAge forgets stored ids older than this (by arrival time;
	// ids reloaded by Rebuild count as arriving at Rebuild). Zero means
	// DefaultDedupeMaxAge; negative means no age limit.
	DedupeMaxAge time.Duration
	// MaxInFlight is the most batches being read, validated or appended
	// at once; more get 429. Zero means DefaultMaxInFlight.
	MaxInFlight int
	// MaxInFlightBytes bounds the summed bodies of the batches in flight
	// (a body of unknown length counts as MaxBodyBytes); one batch is
	// always admitted. Decoding needs roughly two to three times the body
	// in memory. Zero means DefaultMaxInFlightBytes.
	MaxInFlightBytes int64
	// AppendTimeout bounds one log Append. Zero means DefaultAppendTimeout.
	AppendTimeout time.Duration
	// RetryAfter is the delay sent in Retry-After with 409, 429 and 503
	// (rounded up to whole seconds). Zero means DefaultRetryAfter.
	RetryAfter time.Duration
	// Registerer receives the perpetua_ingest_* metrics; nil means none.
	Registerer prometheus.Registerer
	// Logger receives failed appends (the cause a 503 does not send);
	// nil means no logging.
	Logger *slog.Logger
	// Now returns the current time for the dedupe window; nil means
	// time.Now.
	Now func() time.Time
}

// withDefaults fills zero fields and rejects negative ones.
func (o Options) withDefaults() (Options, error) {
	for _, c := range []struct {
		name string
		neg  bool
	}{
		{"MaxBodyBytes", o.MaxBodyBytes < 0},
		{"MaxEvents", o.MaxEvents < 0},
		{"DedupeWindow", o.DedupeWindow < 0},
		{"MaxInFlight", o.MaxInFlight < 0},
		{"MaxInFlightBytes", o.MaxInFlightBytes < 0},
		{"AppendTimeout", o.AppendTimeout < 0},
		{"RetryAfter", o.RetryAfter < 0},
	} {
		if c.neg {
			return o, fmt.Errorf("ingest: Options.%s must not be negative", c.name)
		}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxEvents, DefaultMaxEvents)
	def(&o.DedupeWindow, DefaultDedupeWindow)
	def(&o.MaxInFlight, DefaultMaxInFlight)
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxInFlightBytes == 0 {
		o.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if o.DedupeMaxAge == 0 {
		o.DedupeMaxAge = DefaultDedupeMaxAge
	}
	if o.AppendTimeout == 0 {
		o.AppendTimeout = DefaultAppendTimeout
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Ingester is the http.Handler of POST /v1/events. Its methods are safe
// for concurrent use. It owns no goroutines.
type Ingester struct {
	log        Appender
	opts       Options
	logger     *slog.Logger
	dd         *dedupe
	m          *metrics
	retryAfter string
	pool       sync.Pool // of *batch

	mu struct {
		sync.Mutex
		inFlight int           // admitted requests not yet done; guarded by mu
		bytes    int64         // their charged body bytes; guarded by mu
		stopped  bool          // guarded by mu
		drained  chan struct{} // closed once stopped and inFlight == 0
	}
}

// New returns an Ingester appending to log. It fails only on invalid
// options or if the metrics cannot be registered.
func New(log Appender, opts Options) (*Ingester, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	in := &Ingester{
		log:        log,
		opts:       opts,
		logger:     opts.Logger.With("component", "ingest"),
		dd:         newDedupe(opts.DedupeWindow, opts.DedupeMaxAge),
		retryAfter: strconv.FormatInt(int64((opts.RetryAfter+time.Second-1)/time.Second), 10),
	}
	in.mu.drained = make(chan struct{})
	in.pool.New = func() any { return new(batch) }
	if in.m, err = newMetrics(opts.Registerer, func() float64 { return float64(in.dd.size()) }); err != nil {
		return nil, err
	}
	return in, nil
}

// batch is the per-request scratch memory, pooled.
type batch struct {
	body   bytes.Buffer
	events []event.Event
	keys   []key
	keep   []bool
	out    []byte
	ends   []int
	recs   [][]byte
}

// maxPooled is the largest buffer returned to the pool; bigger ones (from
// rare huge requests) are left to the garbage collector.
const maxPooled = 8 << 20

func (in *Ingester) getBatch() *batch { return in.pool.Get().(*batch) }

func (in *Ingester) putBatch(b *batch) {
	clear(b.events) // drop references to the request's strings
	clear(b.recs)
	if b.body.Cap() > maxPooled || cap(b.out) > maxPooled {
		return
	}
	b.body.Reset()
	in.pool.Put(b)
}

type admission int

const (
	admitted admission = iota
	admitStopped
	admitBusy
)

func (in *Ingester) admit(charge int64) admission {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.mu.stopped:
		return admitStopped
	case in.mu.inFlight >= in.opts.MaxInFlight,
		in.mu.inFlight > 0 && in.mu.bytes+charge > in.opts.MaxInFlightBytes:
		return admitBusy
	}
	in.mu.inFlight++
	in.mu.bytes += charge
	return admitted
}

func (in *Ingester) done(charge int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.mu.inFlight--
	in.mu.bytes -= charge
	if in.mu.stopped && in.mu.inFlight == 0 {
		close(in.mu.drained)
	}
}

// Stop makes every later request fail with 503 and returns at once;
// requests already admitted finish normally. Use Shutdown to also wait for
// them. Stop is idempotent.
func (in *Ingester) Stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.stopLocked()
}

func (in *Ingester) stopLocked() {
	if in.mu.stopped {
		return
	}
	in.mu.stopped = true
	if in.mu.inFlight == 0 {
		close(in.mu.drained)
	}
}

// Shutdown stops ingest like Stop and waits until every batch in flight has
// been appended and answered, or ctx is done. It is idempotent and may be
// called after Stop.
func (in *Ingester) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	in.stopLocked()
	drained := in.mu.drained
	in.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		in.mu.Lock()
		n := in.mu.inFlight
		in.mu.Unlock()
		return fmt.Errorf("ingest: shutdown: %d batches still in flight: %w", n, ctx.Err())
	}
}

// Ready reports whether the Ingester accepts batches (it has not been
// stopped).
func (in *Ingester) Ready() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !in.mu.stopped
}

// ServeHTTP handles POST /v1/events (see the package documentation).
func (in *Ingester) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		in.fail(w, http.StatusMethodNotAllowed, reasonMethod, "method not allowed: use POST")
		return
	}
	gz, ok := in.checkHeaders(w, r)
	if !ok {
		return
	}
	if r.ContentLength > in.opts.MaxBodyBytes {
		in.tooLarge(w)
		return
	}
	charge := r.ContentLength
	if charge < 0 || gz {
		charge = in.opts.MaxBodyBytes
	}
	switch in.admit(charge) {
	case admitStopped:
		in.retryLater(w)
		in.fail(w, http.StatusServiceUnavailable, reasonStopped, "ingest is shutting down")
		return
	case admitBusy:
		in.retryLater(w)
		in.fail(w, http.StatusTooManyRequests, reasonOverloaded, "too many batches in flight; retry later")
		return
	}
	defer in.done(charge)
	in.m.inFlight.Inc()
	defer in.m.inFlight.Dec()
	b := in.getBatch()
	defer in.putBatch(b)
	if ok := in.readBody(w, r, &b.body, gz); ok {
		in.handle(w, r, b)
	}
}

// checkHeaders rejects form bodies and unknown content encodings and
// reports whether the body is gzipped.
func (in *Ingester) checkHeaders(w http.ResponseWriter, r *http.Request) (gz, ok bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt == "application/x-www-form-urlencoded" || strings.HasPrefix(mt, "multipart/") {
			in.fail(w, http.StatusUnsupportedMediaType, reasonMediaType,
				"unsupported Content-Type "+strconv.Quote(mt)+": send application/json (an array of events) or application/x-ndjson (one event per line)")
			return false, false
		}
	}
	switch ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
		return false, true
	case "gzip", "x-gzip":
		return true, true
	default:
		in.fail(w, http.StatusUnsupportedMediaType, reasonMediaType,
			"unsupported Content-Encoding "+strconv.Quote(ce)+": send gzip or an uncompressed body")
		return false, false
	}
}

// readBody reads the (possibly gzipped) body into buf, enforcing
// MaxBodyBytes, and replies itself on failure.
func (in *Ingester) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer, gz bool) bool {
	limit := in.opts.MaxBodyBytes
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			in.fail(w, http.StatusBadRequest, reasonRead, "invalid gzip body")
			return false
		}
		defer zr.Close()
		src = io.LimitReader(zr, limit+1)
	} else if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1) // +1: ReadFrom needs room to see EOF
	}
	_, err := buf.ReadFrom(src)
	in.m.bytes.Add(float64(buf.Len()))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(buf.Len()) > limit:
		in.tooLarge(w)
		return false
	case err != nil && gz:
		in.fail(w, http.StatusBadRequest, reasonRead, "could not read the request body: invalid gzip data")
		return false
	case err != nil:
		in.fail(w, http.StatusBadRequest, reasonRead, "could not read the request body")
		return false
	}
	return true
}

// handle decodes, deduplicates and appends one batch and replies.
func (in *Ingester) handle(w http.ResponseWriter, r *http.Request, b *batch) {
	evs, err := event.DecodeBatchMax(b.body.Bytes(), b.events[:0], in.opts.MaxEvents)
	b.events = evs
	var be *event.BatchError
	switch {
	case errors.Is(err, event.ErrTooManyEvents):
		in.fail(w, http.StatusRequestEntityTooLarge, reasonTooManyEvents,
			"too many events: at most "+strconv.Itoa(in.opts.MaxEvents)+" per request")
		return
	case errors.As(err, &be):
		in.invalid(w, be)
		return
	case err != nil: // not produced by DecodeBatchMax today
		in.fail(w, http.StatusBadRequest, reasonInvalid, "invalid batch")
		return
	case len(evs) == 0:
		in.fail(w, http.StatusBadRequest, reasonEmpty, "empty batch: the body holds no events")
		return
	}

	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), in.opts.AppendTimeout)
	written, dups, first, err := in.write(ctx, b, evs)
	cancel()
	switch {
	case errors.Is(err, ErrConflict):
		in.retryLater(w)
		in.fail(w, http.StatusConflict, reasonConflict,
			"conflict: an event id of this batch is being written by another request; nothing was written, retry later")
	case errors.Is(err, eventlog.ErrTooLarge):
		in.fail(w, http.StatusRequestEntityTooLarge, reasonTooLarge,
			"batch too large for the event log: send fewer or smaller events per request")
	case err != nil:
		in.logger.Error("append to the event log failed", "err", err, "events", len(evs)-dups)
		in.retryLater(w)
		in.fail(w, http.StatusServiceUnavailable, reasonAppend, "event log unavailable: nothing was written, retry later")
	default:
		in.accepted(w, written, dups, first)
	}
}

// write deduplicates and appends validated events, the part shared by
// POST /v1/events and Append: it reserves the ids (ErrConflict if another
// batch is writing one), appends the new ones in canonical form, and
// commits the ids once durable (or releases them on error, wrapping the
// log's error). It counts the duplicates, batches and accepted events.
func (in *Ingester) write(ctx context.Context, b *batch, evs []event.Event) (written, dups int, first uint64, err error) {
	b.keys = b.keys[:0]
	for i := range evs {
		b.keys = append(b.keys, in.dd.keyString(evs[i].ID))
	}
	if cap(b.keep) < len(evs) {
		b.keep = make([]bool, len(evs))
	}
	b.keep = b.keep[:len(evs)]
	token, dups, conflict := in.dd.reserve(b.keys, b.keep, in.opts.Now())
	if conflict {
		return 0, 0, 0, ErrConflict
	}
	in.m.duplicates.Add(float64(dups))

	b.out, b.ends = b.out[:0], b.ends[:0]
	for i := range evs {
		if b.keep[i] {
			b.out = event.Append(b.out, &evs[i])
			b.ends = append(b.ends, len(b.out))
		}
	}
	b.recs = b.recs[:0]
	start := 0
	for _, end := range b.ends {
		b.recs = append(b.recs, b.out[start:end:end])
		start = end
	}
	if len(b.recs) == 0 {
		in.m.batches.Inc()
		return 0, dups, 0, nil
	}
	t0 := time.Now()
	first, err = in.log.Append(ctx, b.recs)
	in.m.appendDur.Observe(time.Since(t0).Seconds())
	if err != nil {
		in.dd.release(b.keys, b.keep, token)
		return 0, dups, 0, fmt.Errorf("ingest: append: %w", err)
	}
	in.dd.commit(b.keys, b.keep, token, in.opts.Now())
	in.m.accepted.Add(float64(len(b.recs)))
	in.m.batches.Inc()
	return len(b.recs), dups, first, nil
}

func (in *Ingester) retryLater(w http.ResponseWriter) {
	w.Header().Set("Retry-After", in.retryAfter)
}

func (in *Ingester) tooLarge(w http.ResponseWriter) {
	in.fail(w, http.StatusRequestEntityTooLarge, reasonTooLarge,
		"request body too large: the limit is "+strconv.FormatInt(in.opts.MaxBodyBytes, 10)+" bytes")
}

// accepted writes the 202 reply.
func (in *Ingester) accepted(w http.ResponseWriter, n, dups int, first uint64) {
	var buf [96]byte
	b := append(buf[:0], `{"accepted":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"duplicates":`...)
	b = strconv.AppendInt(b, int64(dups), 10)
	if n > 0 {
		b = append(b, `,"first_offset":`...)
		b = strconv.AppendUint(b, first, 10)
	}
	b = append(b, "}\n"...)
	writeJSON(w, http.StatusAccepted, b)
}

// errorReply is the body of every error reply.
type errorReply struct {
	Error   string      `json:"error"`
	Errors  []lineError `json:"errors,omitempty"`
	Omitted int         `json:"omitted,omitempty"`
}

// lineError is one event.FieldError on the wire: "line" for NDJSON,
// "item" for a JSON array element (neither for a problem of the whole
// body, such as data after the array).
type lineError struct {
	Line   int    `json:"line,omitempty"`
	Item   int    `json:"item,omitempty"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (in *Ingester) invalid(w http.ResponseWriter, be *event.BatchError) {
	rep := errorReply{Error: "invalid batch", Errors: make([]lineError, len(be.Errors)), Omitted: be.Omitted}
	for i, fe := range be.Errors {
		le := lineError{Field: fe.Field, Reason: fe.Reason}
		if fe.Item {
			le.Item = fe.Line
		} else {
			le.Line = fe.Line
		}
		rep.Errors[i] = le
	}
	in.reply(w, http.StatusBadRequest, reasonInvalid, rep)
}

func (in *Ingester) fail(w http.ResponseWriter, status int, reason, msg string) {
	in.reply(w, status, reason, errorReply{Error: msg})
}

func (in *Ingester) reply(w http.ResponseWriter, status int, reason string, rep errorReply) {
	in.m.rejected.WithLabelValues(reason).Inc()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rep); err != nil { // cannot happen: strings and ints only
		panic("ingest: encoding an error reply: " + err.Error())
	}
	writeJSON(w, status, buf.Bytes())
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body) // a failed write means the client went away; nothing to do
}

// Rebuild loads the ids of the last Options.DedupeWindow records of the
// log into the dedupe window, so that retries of batches stored before a
// restart are recognised as duplicates. Call it after New and before
// serving; it needs the log passed to New to implement TailReader. Records
// whose id cannot be read (not an event) are skipped and counted in
// perpetua_ingest_rebuild_skipped_records_total.
func (in *Ingester) Rebuild(ctx context.Context) error {
	tr, ok := in.log.(TailReader)
	if !ok {
		return fmt.Errorf("ingest: rebuild: the log (%T) cannot be read: it does not implement ingest.TailReader", in.log)
	}
	end := tr.End()
	var from uint64
	if w := uint64(in.opts.DedupeWindow); end > w {
		from = end - w
	}
	rd, err := tr.NewReader(from)
	if err != nil {
		return fmt.Errorf("ingest: rebuild: reading the log from offset %d: %w", from, err)
	}
	defer rd.Close()
	now := in.opts.Now()
	keys := make([]key, 0, 4096)
	var loaded, skipped int
	for {
		rec, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("ingest: rebuild: reading the log from offset %d: %w", from, err)
		}
		if rec.Offset >= end {
			break // appended since Rebuild started; those batches registered themselves
		}
		id, ok := recordID(rec.Data)
		if !ok {
			skipped++
			continue
		}
		keys = append(keys, in.dd.keyBytes(id))
		if len(keys) == cap(keys) {
			in.dd.load(keys, now)
			loaded += len(keys)
			keys = keys[:0]
		}
	}
	in.dd.load(keys, now)
	loaded += len(keys)
	in.m.rebuilt.Add(float64(loaded))
	in.m.skipped.Add(float64(skipped))
	return nil
}

// Observe remembers id as stored: an event that another process appended
// to a shared log (several servers on one NATS stream), seen by the
// caller's reader of that log, so that a client retrying the event here
// gets "duplicate" instead of a second copy. Ids already in the window
// (stored, or reserved by a batch in flight here) are left alone. It is
// safe for concurrent use. Two processes taking the same new id in the
// same instant, before either has read the other's, can still both
// store it.
func (in *Ingester) Observe(id string) {
	in.dd.loadOne(in.dd.keyString(id), in.opts.Now())
}

// recordID returns the event id of a log record. Canonical records start
// with {"id":"…", so the id is usually sliced out without decoding; ids
// with escapes and records in another form are read with encoding/json
// (not event.Decode: a record stored under older validation rules must
// still count).
func recordID(data []byte) ([]byte, bool) {
	const prefix = `{"id":"`
	if bytes.HasPrefix(data, []byte(prefix)) {
		rest := data[len(prefix):]
		if j := bytes.IndexByte(rest, '"'); j > 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
			return rest[:j], true
		}
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &v); err != nil || v.ID == "" {
		return nil, false
	}
	return []byte(v.ID), true
}
