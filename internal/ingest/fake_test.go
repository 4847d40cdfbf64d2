package ingest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// memLog is an in-memory event log for tests. Appends can be made to fail
// (err) or to block until a gate is opened.
type memLog struct {
	mu      sync.Mutex
	recs    [][]byte
	appends int
	err     error         // returned by Append while set
	gate    chan struct{} // while set, Append waits for it to be closed (or ctx)
	entered chan struct{} // while set, Append sends on it before waiting
}

func (l *memLog) Append(ctx context.Context, batch [][]byte) (uint64, error) {
	l.mu.Lock()
	gate, entered := l.gate, l.entered
	l.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	first := uint64(len(l.recs))
	for _, r := range batch {
		l.recs = append(l.recs, bytes.Clone(r)) // the caller keeps ownership
	}
	l.appends++
	return first, nil
}

func (l *memLog) setGate(gate, entered chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gate, l.entered = gate, entered
}

func (l *memLog) setErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

func (l *memLog) records() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]byte(nil), l.recs...)
}

func (l *memLog) End() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.recs))
}

func (l *memLog) NewReader(from uint64) (eventlog.Reader, error) {
	if from > l.End() {
		return nil, eventlog.ErrOutOfRange
	}
	return &memReader{l: l, pos: from}, nil
}

type memReader struct {
	l   *memLog
	pos uint64
}

func (r *memReader) Next(ctx context.Context) (eventlog.Record, error) {
	if err := ctx.Err(); err != nil {
		return eventlog.Record{}, err
	}
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if r.pos >= uint64(len(r.l.recs)) {
		return eventlog.Record{}, io.EOF
	}
	rec := eventlog.Record{Offset: r.pos, Data: r.l.recs[r.pos]}
	r.pos++
	return rec, nil
}

func (r *memReader) Wait(ctx context.Context) error {
	for r.pos >= r.l.End() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

func (r *memReader) Close() error { return nil }

// appendOnly hides memLog's read side.
type appendOnly struct{ l *memLog }

func (a appendOnly) Append(ctx context.Context, batch [][]byte) (uint64, error) {
	return a.l.Append(ctx, batch)
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
