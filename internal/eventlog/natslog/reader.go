package natslog

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// readerPrefetch is how many messages a Reader's consumer requests ahead.
const readerPrefetch = 1024

// readerHeartbeat is the idle heartbeat of a Reader's consumer.
const readerHeartbeat = time.Second

// reader reads the stream through an ordered consumer (an ephemeral,
// flow-controlled JetStream consumer that nats.go recreates at the right
// sequence after any gap or reconnect) and splits its chunks into records.
type reader struct {
	l       *Log
	iter    jetstream.MessagesContext
	pos     uint64        // offset of the next record Next returns
	rest    []byte        // the current chunk's records not yet returned
	left    int           // number of records in rest
	pending jetstream.Msg // received by Wait, not yet decoded
	more    uint64        // messages after the last one received, at its delivery
	closed  bool          // Close was called

	mu struct {
		sync.Mutex
		released bool // guarded by mu: iter stopped (by Close or the log's Close)
	}
}

// NewReader returns a Reader positioned at offset from. It reads the
// stream's tail (and, for an offset before the last message, binary
// searches the chunks' first offsets) and is bounded by Options.Timeout.
func (l *Log) NewReader(from uint64) (eventlog.Reader, error) {
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.leave()
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	ctx, stop := l.withClose(ctx)
	defer stop()
	seq, err := l.locate(ctx, from)
	if err != nil {
		return nil, err
	}
	cons, err := l.js.OrderedConsumer(ctx, l.stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   seq,
	})
	if err != nil {
		return nil, fmt.Errorf("natslog: reader at %d: creating consumer: %v", from, err)
	}
	// A short heartbeat bounds the stall when a pull request is lost (seen
	// in clusters right after the consumer is created): the ordered
	// consumer recreates itself after two missed heartbeats.
	iter, err := cons.Messages(jetstream.PullMaxMessages(readerPrefetch), jetstream.PullHeartbeat(readerHeartbeat))
	if err != nil {
		return nil, fmt.Errorf("natslog: reader at %d: %v", from, err)
	}
	r := &reader{l: l, iter: iter, pos: from}
	l.mu.Lock()
	l.mu.readers[r] = struct{}{}
	l.mu.Unlock()
	return r, nil
}

// locate returns the stream sequence of the chunk holding offset from, or
// the sequence after the last one if from is the end.
func (l *Log) locate(ctx context.Context, from uint64) (uint64, error) {
	last, end, err := l.tail(ctx)
	if err != nil {
		return 0, fmt.Errorf("natslog: reader at %d: %v", from, err)
	}
	l.advance(end)
	switch {
	case from > end:
		return 0, fmt.Errorf("natslog: reader at %d beyond end %d: %w", from, end, eventlog.ErrOutOfRange)
	case from == end:
		return last + 1, nil
	case from == 0:
		return 1, nil
	}
	// Binary search for the last chunk whose first offset is ≤ from.
	lo, hi := uint64(1), last
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		first, _, err := l.chunkAt(ctx, mid)
		if err != nil {
			return 0, fmt.Errorf("natslog: reader at %d: %v", from, err)
		}
		if first <= from {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// Next returns the next record, or io.EOF at the end (as far as this Log
// and the reader's consumer know; Wait learns about appends by other
// processes). The record's Data aliases the message and stays valid until
// the reader moves past its chunk.
func (r *reader) Next(ctx context.Context) (eventlog.Record, error) {
	if r.closed || r.l.isClosed() {
		return eventlog.Record{}, eventlog.ErrClosed
	}
	for r.left == 0 {
		msg := r.pending
		r.pending = nil
		if msg == nil {
			if r.pos >= r.l.end.Load() && r.more == 0 {
				return eventlog.Record{}, io.EOF
			}
			var err error
			if msg, err = r.receive(ctx); err != nil {
				return eventlog.Record{}, err
			}
		}
		if err := r.load(msg); err != nil {
			return eventlog.Record{}, err
		}
	}
	rec, rest, err := nextRecord(r.rest)
	if err != nil {
		return eventlog.Record{}, fmt.Errorf("natslog: reading offset %d: %v", r.pos, err)
	}
	r.rest, r.left = rest, r.left-1
	r.pos++
	return eventlog.Record{Offset: r.pos - 1, Data: rec}, nil
}

// load makes msg's chunk the current one, skipping records before r.pos.
func (r *reader) load(msg jetstream.Msg) error {
	first, n, rest, err := chunkHead(msg.Data())
	if err != nil {
		return fmt.Errorf("natslog: reading offset %d: stream %s: %v", r.pos, r.l.stream, err)
	}
	if first > r.pos {
		return fmt.Errorf("natslog: reading offset %d: next chunk starts at %d (a gap in stream %s?)", r.pos, first, r.l.stream)
	}
	r.l.advance(first + uint64(n))
	for ; first < r.pos && n > 0; first, n = first+1, n-1 {
		if _, rest, err = nextRecord(rest); err != nil {
			return fmt.Errorf("natslog: reading offset %d: %v", r.pos, err)
		}
	}
	r.rest, r.left = rest, n
	return nil
}

// Wait blocks until a record at the reader's position exists: known from
// End, or delivered by the consumer (an append by any process).
func (r *reader) Wait(ctx context.Context) error {
	if r.closed || r.l.isClosed() {
		return eventlog.ErrClosed
	}
	if r.left > 0 || r.pending != nil || r.pos < r.l.end.Load() || r.more > 0 {
		return nil
	}
	msg, err := r.receive(ctx)
	if err != nil {
		return err
	}
	r.pending = msg
	return nil
}

// receive returns the next message, blocking until it arrives, ctx is
// done or the log closes.
func (r *reader) receive(ctx context.Context) (jetstream.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cctx, stop := r.l.withClose(ctx)
	defer stop()
	msg, err := r.iter.Next(jetstream.NextContext(cctx))
	if err != nil {
		switch {
		case r.l.isClosed():
			return nil, eventlog.ErrClosed
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("natslog: reading offset %d: %v", r.pos, err)
	}
	meta, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("natslog: reading offset %d: %v", r.pos, err)
	}
	r.more = meta.NumPending
	return msg, nil
}

// Close releases the reader's consumer. It is idempotent.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.pending, r.rest, r.left = nil, nil, 0
	r.l.mu.Lock()
	delete(r.l.mu.readers, r)
	r.l.mu.Unlock()
	r.release()
	return nil
}

// release stops the consumer once.
func (r *reader) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.mu.released {
		r.mu.released = true
		r.iter.Stop()
	}
}
