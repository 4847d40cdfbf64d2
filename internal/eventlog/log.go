package eventlog

import (
	"context"
	"errors"
)

// Record is one record read from a log.
type Record struct {
	Offset uint64
	// Data is the record's payload. It is owned by the log and valid only
	// until the next call to the Reader that returned it: copy it to keep it.
	Data []byte
}

// Errors callers branch on.
var (
	// ErrClosed is returned by any call on a closed Log or Reader.
	ErrClosed = errors.New("eventlog: closed")
	// ErrOutOfRange is returned by NewReader for an offset beyond the end.
	ErrOutOfRange = errors.New("eventlog: offset out of range")
	// ErrEmptyRecord is returned by Append for a zero-length record.
	ErrEmptyRecord = errors.New("eventlog: empty record")
	// ErrTooLarge is returned by Append for a record over the backend's limit.
	ErrTooLarge = errors.New("eventlog: record too large")
)

// Log is a durable ordered log. All methods are safe for concurrent use;
// concurrent Appends are ordered arbitrarily but each batch stays
// contiguous. The caller keeps ownership of slices passed in; the log does
// not retain them after the call returns.
type Log interface {
	// Append writes batch atomically and returns the offset of its first
	// record. It blocks until the batch is durable per the sync policy or
	// ctx is done; if ctx is done first the batch may or may not be
	// written, and an error is returned. An empty batch is a no-op that
	// returns the current end offset.
	Append(ctx context.Context, batch [][]byte) (first uint64, err error)
	// NewReader returns a Reader positioned at offset from (0 ≤ from ≤ End()).
	NewReader(from uint64) (Reader, error)
	// End returns the offset the next appended record will get, i.e. the
	// number of records in the log.
	End() uint64
	// Commit durably records that consumer has processed every record
	// before offset next.
	Commit(ctx context.Context, consumer string, next uint64) error
	// Committed returns consumer's last committed position, or 0 if it has
	// never committed.
	Committed(ctx context.Context, consumer string) (uint64, error)
	// Close flushes and closes the log. It is idempotent. Outstanding
	// Readers return ErrClosed afterwards.
	Close() error
}

// Reader reads a log in offset order. A Reader is not safe for concurrent
// use; use one per goroutine.
type Reader interface {
	// Next returns the next record. At the current end of the log it
	// returns io.EOF without blocking; it may succeed again once more
	// records are appended.
	Next(ctx context.Context) (Record, error)
	// Wait blocks until a record at the reader's position exists, ctx is
	// done (returning ctx.Err()) or the log is closed (ErrClosed).
	Wait(ctx context.Context) error
	// Close releases the reader. It is idempotent.
	Close() error
}
