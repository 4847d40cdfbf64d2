package serve

import (
	"bytes"
	"context"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// fakeLog is an in-memory EventLog. Its readers hand out Data in a buffer
// they overwrite on the next call, as the real log may.
type fakeLog struct {
	mu      sync.Mutex
	records [][]byte
	closed  bool
	nextErr error // returned by Next instead of a record, if set
}

func (l *fakeLog) append(recs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.records = append(l.records, []byte(r))
	}
}

func (l *fakeLog) End() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.records))
}

func (l *fakeLog) NewReader(from uint64) (eventlog.Reader, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, eventlog.ErrClosed
	}
	if from > uint64(len(l.records)) {
		return nil, eventlog.ErrOutOfRange
	}
	return &fakeReader{log: l, pos: from}, nil
}

type fakeReader struct {
	log *fakeLog
	pos uint64
	buf []byte
}

func (r *fakeReader) Next(ctx context.Context) (eventlog.Record, error) {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	switch {
	case r.log.closed:
		return eventlog.Record{}, eventlog.ErrClosed
	case r.log.nextErr != nil:
		return eventlog.Record{}, r.log.nextErr
	case r.pos >= uint64(len(r.log.records)):
		return eventlog.Record{}, io.EOF
	}
	r.buf = append(r.buf[:0], r.log.records[r.pos]...)
	rec := eventlog.Record{Offset: r.pos, Data: r.buf}
	r.pos++
	return rec, nil
}

func (r *fakeReader) Wait(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func (r *fakeReader) Close() error { return nil }

// fakeScorer scores a pair by a hash of its IDs, so answers are
// deterministic and differ between pairs.
type fakeScorer struct {
	err       error
	override  float64 // if non-zero, every probability
	mu        sync.Mutex
	lastModel string
	calls     int
}

func fakeProbability(p Pair) float64 {
	h := fnv.New64a()
	h.Write([]byte(p.UserID))
	h.Write([]byte{0})
	h.Write([]byte(p.ItemID))
	return float64(h.Sum64()%1000) / 1000
}

func (f *fakeScorer) ScorePurchase(ctx context.Context, model string, pairs []Pair, dst []float64) (ModelInfo, error) {
	f.mu.Lock()
	f.lastModel = model
	f.calls++
	f.mu.Unlock()
	if f.err != nil {
		return ModelInfo{}, f.err
	}
	if len(dst) != len(pairs) {
		panic("fakeScorer: len(dst) != len(pairs)")
	}
	for i, p := range pairs {
		dst[i] = fakeProbability(p)
		if f.override != 0 {
			dst[i] = f.override
		}
	}
	if model == "" {
		model = "mlp"
	}
	return ModelInfo{Model: model, Version: 7}, nil
}

// lockedBuffer is a concurrency-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func testLogger() (*slog.Logger, *lockedBuffer) {
	buf := new(lockedBuffer)
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// newTestServer builds a Server on loopback with the given keys and fakes.
func newTestServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// do sends one request through h and returns the status and body.
func do(h http.Handler, method, target, body string, header ...string) (int, string, http.Header) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), rec.Header()
}
