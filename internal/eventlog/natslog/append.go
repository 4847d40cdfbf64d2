package natslog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// hdrExpectedLastSeq makes the server refuse a publish unless the stream's
// last sequence is the given one: the optimistic lock that keeps chunk
// offsets right with several writers.
const hdrExpectedLastSeq = "Nats-Expected-Last-Sequence"

// appendReq is one Append waiting in the group commit queue.
type appendReq struct {
	batch [][]byte
	size  int // encoded size of the records
	first uint64
	err   error
	done  chan struct{} // closed when first and err are set
	taken bool          // guarded by Log.queue: a leader is publishing it
}

// writer is the publishing state, owned by whoever holds Log.lead.
type writer struct {
	synced  bool   // lastSeq and end are the stream's
	lastSeq uint64 // the stream's last sequence
	end     uint64 // offset after the last sequence's chunk
	buf     []byte // chunk encoding buffer
	reqs    []*appendReq
}

// Append writes batch atomically and returns the offset of its first
// record (see eventlog.Log). Concurrent Appends are coalesced: whichever
// caller holds the leader slot publishes every queued batch that fits in
// one message (group commit), so concurrent appenders share round trips
// and fsyncs. Besides ErrEmptyRecord and ErrTooLarge (a record over
// MaxRecordSize, or a multi-message batch over the server's
// batch.max_msgs), a batch that fails on the server writes nothing; a
// batch whose acknowledgement is lost (Options.Timeout, connection
// failure) may have been written, like one whose ctx expired.
func (l *Log) Append(ctx context.Context, batch [][]byte) (uint64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.leave()
	if len(batch) == 0 {
		return l.end.Load(), nil
	}
	size := 0
	for i, rec := range batch {
		if len(rec) == 0 {
			return 0, fmt.Errorf("natslog: record %d of %d: %w", i, len(batch), eventlog.ErrEmptyRecord)
		}
		if len(rec) > l.maxRecord {
			return 0, fmt.Errorf("natslog: record %d of %d is %d bytes, limit %d: %w", i, len(batch), len(rec), l.maxRecord, eventlog.ErrTooLarge)
		}
		size += recordSize(len(rec))
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("natslog: append: %w", err)
	}
	req := &appendReq{batch: batch, size: size, done: make(chan struct{})}
	l.queue.Lock()
	l.queue.reqs = append(l.queue.reqs, req)
	l.queue.Unlock()
	for {
		select {
		case <-req.done:
			return req.first, req.err
		case l.lead <- struct{}{}:
			l.leadOnce()
			<-l.lead
		case <-ctx.Done():
			l.queue.Lock()
			if !req.taken {
				for i, q := range l.queue.reqs {
					if q == req {
						l.queue.reqs = append(l.queue.reqs[:i], l.queue.reqs[i+1:]...)
						break
					}
				}
			}
			l.queue.Unlock()
			// A taken batch is being published: it may or may not be written.
			return 0, fmt.Errorf("natslog: append: %w", ctx.Err())
		}
	}
}

// leadOnce publishes the batches at the head of the queue that fit in one
// message (at least one), then completes them. The caller holds l.lead.
func (l *Log) leadOnce() {
	w := &l.w
	w.reqs = w.reqs[:0]
	l.queue.Lock()
	size := 0
	n := 0
	for _, q := range l.queue.reqs {
		if n > 0 && size+q.size > l.maxChunk {
			break
		}
		q.taken = true
		w.reqs = append(w.reqs, q)
		size += q.size
		n++
		if size > l.maxChunk {
			break // one batch over a message: published alone, atomically
		}
	}
	l.queue.reqs = append(l.queue.reqs[:0], l.queue.reqs[n:]...)
	l.queue.Unlock()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(l.closeCtx, l.timeout)
	err := l.publishLocked(ctx, w.reqs, size)
	cancel()
	if err != nil {
		err = l.appendErr(err)
	}
	for _, q := range w.reqs {
		q.err = err
		close(q.done)
	}
	clear(w.reqs)
}

// publishLocked publishes reqs (size encoded bytes of records) and sets
// their first offsets. It retries when another writer appended since the
// last sync.
func (l *Log) publishLocked(ctx context.Context, reqs []*appendReq, size int) error {
	w := &l.w
	for {
		if !w.synced {
			if err := l.resyncLocked(ctx); err != nil {
				return err
			}
		}
		var err error
		if size <= l.maxChunk {
			err = l.publishOneLocked(ctx, reqs)
		} else {
			err = l.publishAtomicLocked(ctx, reqs[0])
		}
		var ae *apiError
		if errors.As(err, &ae) && ae.ErrCode == errCodeWrongLastSequence {
			w.synced = false // another writer appended: learn the new end, retry
			continue
		}
		if err != nil {
			w.synced = false // the publish may or may not have been stored
			return err
		}
		return nil
	}
}

// publishOneLocked publishes reqs as one chunk.
func (l *Log) publishOneLocked(ctx context.Context, reqs []*appendReq) error {
	w := &l.w
	n := 0
	for _, q := range reqs {
		n += len(q.batch)
	}
	buf := w.buf[:0]
	buf = appendChunkHeader(buf, w.end, n)
	for _, q := range reqs {
		buf = appendRecords(buf, q.batch)
	}
	buf = appendChunkTrailer(buf, 0)
	w.buf = buf
	msg := &nats.Msg{Subject: l.subject, Data: buf, Header: nats.Header{
		hdrExpectedLastSeq: {strconv.FormatUint(w.lastSeq, 10)},
	}}
	if err := l.request(ctx, msg, w.lastSeq+1, 0); err != nil {
		return err
	}
	first := w.end
	for _, q := range reqs {
		q.first = first
		first += uint64(len(q.batch))
	}
	w.lastSeq++
	w.end = first
	l.advance(first)
	return nil
}

// publishAtomicLocked publishes one batch too large for a message as a
// JetStream atomic batch of chunks.
func (l *Log) publishAtomicLocked(ctx context.Context, req *appendReq) error {
	w := &l.w
	batch := req.batch
	var chunks [][][]byte
	for start := 0; start < len(batch); {
		size, end := 0, start
		for end < len(batch) && (end == start || size+recordSize(len(batch[end])) <= l.maxChunk) {
			size += recordSize(len(batch[end]))
			end++
		}
		chunks = append(chunks, batch[start:end])
		start = end
	}
	if len(chunks) > l.maxBatch {
		return fmt.Errorf("batch of %d records needs %d messages, over the atomic batch limit %d (server jetstream.limits.batch.max_msgs): %w", len(batch), len(chunks), l.maxBatch, eventlog.ErrTooLarge)
	}
	id := nuid.Next()
	first := w.end
	for i, c := range chunks {
		w.buf = appendChunk(w.buf[:0], first, c)
		first += uint64(len(c))
		h := nats.Header{hdrBatchID: {id}, hdrBatchSeq: {strconv.Itoa(i + 1)}}
		if i == 0 {
			h.Set(hdrExpectedLastSeq, strconv.FormatUint(w.lastSeq, 10))
		}
		msg := &nats.Msg{Subject: l.subject, Data: w.buf, Header: h}
		if i < len(chunks)-1 {
			// No reply: the server acknowledges only the commit, which
			// fails as an incomplete batch if any of these was refused.
			if err := l.nc.PublishMsg(msg); err != nil {
				return err
			}
			continue
		}
		h.Set(hdrBatchCommit, "1")
		if err := l.request(ctx, msg, w.lastSeq+uint64(len(chunks)), len(chunks)); err != nil {
			return err
		}
	}
	w.lastSeq += uint64(len(chunks))
	w.end = first
	req.first = first - uint64(len(batch))
	l.advance(first)
	return nil
}

// request sends msg and checks that the stream acknowledged it at
// sequence seq (and, for a batch commit, count messages).
func (l *Log) request(ctx context.Context, msg *nats.Msg, seq uint64, count int) error {
	reply, err := l.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return err
	}
	var ack pubAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return fmt.Errorf("decoding publish ack %q: %v", truncate(reply.Data), err)
	}
	if ack.Error != nil {
		return ack.Error
	}
	if ack.Stream != l.stream {
		return fmt.Errorf("publish acknowledged by stream %q; want %q (another stream captures subject %s?)", ack.Stream, l.stream, l.subject)
	}
	if count > 0 && ack.Count != uint64(count) {
		return fmt.Errorf("batch commit acknowledged %d messages; want %d", ack.Count, count)
	}
	if ack.Sequence != seq {
		return fmt.Errorf("publish acknowledged at sequence %d; want %d", ack.Sequence, seq)
	}
	return nil
}

// resyncLocked learns the stream's last sequence and end offset.
func (l *Log) resyncLocked(ctx context.Context) error {
	seq, end, err := l.tail(ctx)
	if err != nil {
		return err
	}
	l.w.lastSeq, l.w.end, l.w.synced = seq, end, true
	l.advance(end)
	return nil
}

// tail returns the stream's last sequence and the offset after its chunk.
func (l *Log) tail(ctx context.Context) (seq, end uint64, err error) {
	st, err := fetchState(ctx, l.nc, l.stream)
	if err != nil {
		return 0, 0, err
	}
	if st.LastSeq == 0 {
		return 0, 0, nil
	}
	first, n, err := l.chunkAt(ctx, st.LastSeq)
	if err != nil {
		return 0, 0, err
	}
	return st.LastSeq, first + uint64(n), nil
}

// chunkAt returns the first offset and record count of the chunk at seq.
func (l *Log) chunkAt(ctx context.Context, seq uint64) (uint64, int, error) {
	m, ok, err := msgGet(ctx, l.nc, l.stream, struct {
		Seq uint64 `json:"seq"`
	}{seq})
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("stream %s has no message at sequence %d (deleted?)", l.stream, seq)
	}
	first, n, _, err := chunkHead(m.Data)
	if err != nil {
		return 0, 0, fmt.Errorf("stream %s sequence %d: %v", l.stream, seq, err)
	}
	return first, n, nil
}

// appendErr maps a publish failure to the error Append returns.
func (l *Log) appendErr(err error) error {
	if l.isClosed() {
		return fmt.Errorf("natslog: append: %w", eventlog.ErrClosed)
	}
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.ErrCode {
		case errCodeAtomicTooLargeBatch, errCodeStreamMessageTooLarge:
			return fmt.Errorf("natslog: append to stream %s: %v: %w", l.stream, ae, eventlog.ErrTooLarge)
		case errCodeAtomicDisabled:
			return fmt.Errorf("natslog: append to stream %s: atomic batch publish is off (the stream needs allow_atomic, nats-server 2.12+): %v", l.stream, ae)
		}
		return fmt.Errorf("natslog: append to stream %s: %v", l.stream, ae)
	}
	return fmt.Errorf("natslog: append to stream %s: %w", l.stream, err)
}

// queue is the group commit queue.
type queue struct {
	sync.Mutex
	reqs []*appendReq // guarded by the mutex
}
