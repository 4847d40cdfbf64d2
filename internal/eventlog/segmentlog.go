package eventlog

import (
	"context"
	"errors"
	"fmt"
	"github.com/perpetua-ml/perpetua/internal/durable"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// lockName is the file flock(2)ed while a log directory is open.
const lockName = "LOCK"

// SegmentLog is the embedded segment-file Log returned by Open. All
// methods are safe for concurrent use.
type SegmentLog struct {
	dir      string
	opts     Options
	lock     *os.File
	recovery Recovery // set by Open, read-only afterwards

	end     atomic.Uint64                 // published end offset
	durable atomic.Uint64                 // every offset below it is fsynced
	closing atomic.Bool                   // Close has started
	closed  atomic.Bool                   // the writer has stopped; files are closing
	notify  atomic.Pointer[chan struct{}] // closed and replaced on every publish
	done    chan struct{}                 // closed by Close after the writer stopped
	failed  atomic.Pointer[error]         // sticky I/O error of the writer

	mu struct {
		sync.RWMutex
		segments []*segment // guarded by mu; the last is the active one
	}

	q struct {
		sync.Mutex
		pending []*request // guarded by q
		closing bool       // guarded by q
	}
	wake chan struct{} // capacity 1: pending has work
	stop chan struct{} // closed by Close
	wg   sync.WaitGroup

	cons struct {
		sync.Mutex
		pos    map[string]uint64 // guarded by cons
		closed bool              // guarded by cons
	}

	// w is owned by the writer goroutine (and by Open before it starts
	// and Close after it stops).
	w writerState

	stats struct {
		appends, records, bytes, writes, syncs atomic.Uint64
	}

	closeOnce sync.Once
	closeErr  error
}

var _ Log = (*SegmentLog)(nil)

// segment is one segment file.
type segment struct {
	base uint64
	name string
	f    *os.File
	size atomic.Int64  // published size in bytes: complete batches only
	end  atomic.Uint64 // published end offset

	// index is the sparse index, guarded by SegmentLog.mu for writing;
	// only the writer goroutine appends to it, so it reads it without
	// the lock.
	index []indexEntry
}

// indexEntry locates a batch: NewReader starts scanning there.
type indexEntry struct {
	first uint64 // offset of the batch's first record
	pos   int64  // byte position of the batch header
}

// request is one pending Append.
type request struct {
	frame []byte // encoded batch; header patched by the writer
	count int
	state atomic.Int32
	first uint64
	pos   int64
	err   error
	done  chan struct{} // capacity 1; the writer sends once
}

// request states.
const (
	reqPending int32 = iota
	reqClaimed
	reqCancelled
)

// maxPooledFrame keeps huge batch buffers out of the request pool.
const maxPooledFrame = 4 << 20

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

// writerState is the state of the writer goroutine.
type writerState struct {
	seg      *segment
	size     int64  // bytes written to seg (published or not)
	pending  int64  // bytes assigned to the current chunk, not yet written
	next     uint64 // next offset to assign
	durable  uint64 // every offset below it is fsynced
	unsynced bool   // seg has bytes written since its last fsync
	lastSync time.Time
	err      error // sticky: once set every Append fails
	closeErr error // error of the final sync, for Close
	timer    *time.Timer
	armed    bool
	buf      []byte
	chunk    []*request
	spare    []*request
	idx      []indexEntry
}

// Stats are counters for metrics. Counts are since Open.
type Stats struct {
	Appends  uint64 // successful non-empty Appends
	Records  uint64 // records appended
	Bytes    uint64 // bytes of batches written, framing included
	Writes   uint64 // write(2) calls (one per group commit, more at rolls)
	Syncs    uint64 // fdatasync(2) calls on segment files
	Segments int    // segment files
	End      uint64 // End()
	// Durable is the offset below which every record is fsynced
	// (End - Durable is the data a machine crash could lose now).
	Durable uint64
}

// Recovery reports what Open found and repaired.
type Recovery struct {
	Segments int    // segment files found (one is created for a new log)
	End      uint64 // End() after recovery
	// Truncated is set when the last segment had a torn tail (or a torn
	// header) that Open cut. TruncatedBytes bytes were removed from
	// Segment starting at byte TruncatedAt, for Reason; the first record
	// dropped would have had offset End.
	Truncated      bool
	Segment        string
	TruncatedAt    int64
	TruncatedBytes int64
	Reason         string
	// ClampedConsumers lists consumers whose committed position was
	// beyond the recovered end (a crash lost records they had seen) and
	// was lowered to End, durably.
	ClampedConsumers []string
}

// Open opens the segment log in dir, creating dir and an empty log if
// needed, and recovers it: a torn tail of the last segment is cut (see
// Recovery), other corruption is returned as a *CorruptionError, and
// files of a newer format as a *VersionError. The directory is locked
// until Close; a second Open of it fails.
func Open(dir string, opts Options) (*SegmentLog, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("eventlog: open: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	l := &SegmentLog{
		dir:  dir,
		opts: opts,
		lock: lock,
		done: make(chan struct{}),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
	}
	ok := false
	defer func() {
		if !ok {
			for _, seg := range l.mu.segments {
				seg.f.Close()
			}
			unlockDir(lock)
		}
	}()
	if err := l.recover(); err != nil {
		return nil, err
	}
	pos, err := loadConsumers(dir)
	if err != nil {
		return nil, err
	}
	end := l.end.Load()
	for name, p := range pos {
		if p > end {
			pos[name] = end
			l.recovery.ClampedConsumers = append(l.recovery.ClampedConsumers, name)
		}
	}
	if len(l.recovery.ClampedConsumers) > 0 {
		sort.Strings(l.recovery.ClampedConsumers)
		if err := writeConsumers(dir, pos); err != nil {
			return nil, err
		}
	}
	l.cons.pos = pos
	l.recovery.Segments = len(l.mu.segments)
	l.recovery.End = end

	ch := make(chan struct{})
	l.notify.Store(&ch)
	l.w.timer = time.NewTimer(time.Hour)
	l.w.timer.Stop()
	l.w.lastSync = time.Now()
	l.wg.Add(1)
	go l.run()
	ok = true
	return l, nil
}

// Recovery reports what Open found and repaired.
func (l *SegmentLog) Recovery() Recovery {
	r := l.recovery
	r.ClampedConsumers = append([]string(nil), r.ClampedConsumers...)
	return r
}

// Dir returns the log's directory.
func (l *SegmentLog) Dir() string { return l.dir }

// MaxRecordSize returns the largest record Append accepts.
func (l *SegmentLog) MaxRecordSize() int { return l.opts.MaxRecordSize }

// End implements Log.
func (l *SegmentLog) End() uint64 { return l.end.Load() }

// Stats returns the log's counters.
func (l *SegmentLog) Stats() Stats {
	l.mu.RLock()
	n := len(l.mu.segments)
	l.mu.RUnlock()
	return Stats{
		Appends:  l.stats.appends.Load(),
		Records:  l.stats.records.Load(),
		Bytes:    l.stats.bytes.Load(),
		Writes:   l.stats.writes.Load(),
		Syncs:    l.stats.syncs.Load(),
		Segments: n,
		End:      l.end.Load(),
		Durable:  l.durable.Load(),
	}
}

// Append implements Log. Records are validated before anything is
// queued: an empty record (ErrEmptyRecord), a record over
// Options.MaxRecordSize or a batch over Options.MaxBatchSize (ErrTooLarge)
// fail the whole batch and write nothing. After an I/O error every Append
// fails with that error until the log is reopened.
func (l *SegmentLog) Append(ctx context.Context, batch [][]byte) (uint64, error) {
	if l.closing.Load() {
		return 0, ErrClosed
	}
	if len(batch) == 0 {
		return l.end.Load(), nil
	}
	// The sentinel comes first in these messages ("eventlog: record too
	// large: record 3 of 10 …") so they read as one sentence; callers
	// match them with errors.Is.
	size := batchHeaderSize
	for i, rec := range batch {
		switch {
		case len(rec) == 0:
			return 0, fmt.Errorf("%w: record %d of %d", ErrEmptyRecord, i, len(batch))
		case len(rec) > l.opts.MaxRecordSize:
			return 0, fmt.Errorf("%w: record %d of %d is %d bytes, limit %d", ErrTooLarge, i, len(batch), len(rec), l.opts.MaxRecordSize)
		}
		size += recordHeaderSize + len(rec)
		if size > l.opts.MaxBatchSize {
			return 0, fmt.Errorf("%w: batch of %d records exceeds %d bytes encoded (at record %d)", ErrTooLarge, len(batch), l.opts.MaxBatchSize, i)
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("eventlog: append not started: %w", err)
	}
	if p := l.failed.Load(); p != nil {
		return 0, *p
	}
	rq := requestPool.Get().(*request)
	if cap(rq.frame) < size {
		rq.frame = make([]byte, 0, size)
	}
	rq.frame = appendBatch(rq.frame[:0], batch)
	rq.count = len(batch)
	rq.first, rq.pos, rq.err = 0, 0, nil
	rq.state.Store(reqPending)

	l.q.Lock()
	if l.q.closing {
		l.q.Unlock()
		putRequest(rq)
		return 0, ErrClosed
	}
	l.q.pending = append(l.q.pending, rq)
	l.q.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}

	select {
	case <-rq.done:
	case <-ctx.Done():
		if rq.state.CompareAndSwap(reqPending, reqCancelled) {
			// The writer will skip it and nobody returns it to the pool.
			return 0, fmt.Errorf("eventlog: append cancelled before it was written: %w", ctx.Err())
		}
		select {
		case <-rq.done: // finished meanwhile: report what happened
		default:
			// In flight. The writer owns rq from now on; it only holds
			// our encoded copy, never the caller's slices.
			return 0, fmt.Errorf("eventlog: append abandoned while being written (it may or may not be in the log): %w", ctx.Err())
		}
	}
	first, err := rq.first, rq.err
	putRequest(rq)
	return first, err
}

func putRequest(rq *request) {
	if cap(rq.frame) > maxPooledFrame {
		rq.frame = nil
	}
	rq.err = nil
	requestPool.Put(rq)
}

// NewReader implements Log. It finds its start with the sparse index, so
// it costs a binary search plus a scan of at most about
// Options.IndexInterval records (done lazily by the first Next).
func (l *SegmentLog) NewReader(from uint64) (Reader, error) {
	if l.closing.Load() {
		return nil, ErrClosed
	}
	end := l.end.Load()
	if from > end {
		return nil, fmt.Errorf("%w: NewReader(%d) is beyond the end %d", ErrOutOfRange, from, end)
	}
	l.mu.RLock()
	segs := l.mu.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > from }) - 1
	if i < 0 {
		l.mu.RUnlock()
		return nil, fmt.Errorf("%w: NewReader(%d) is before the start %d", ErrOutOfRange, from, segs[0].base)
	}
	seg := segs[i]
	idx := seg.index
	j := sort.Search(len(idx), func(j int) bool { return idx[j].first > from }) - 1
	pos, phys := int64(segHeaderSize), seg.base
	if j >= 0 {
		pos, phys = idx[j].pos, idx[j].first
	}
	l.mu.RUnlock()
	return &segReader{
		l:      l,
		seg:    seg,
		next:   from,
		phys:   phys,
		start:  pos,
		buf:    make([]byte, readBufSize),
		jumped: phys < from, // seeking: start with small reads
	}, nil
}

// segmentAt returns the segment starting at offset base, or nil.
func (l *SegmentLog) segmentAt(base uint64) *segment {
	l.mu.RLock()
	defer l.mu.RUnlock()
	segs := l.mu.segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base >= base })
	if i < len(segs) && segs[i].base == base {
		return segs[i]
	}
	return nil
}

// Commit implements Log. It rewrites the consumer positions file
// atomically (temp file, fsync, rename, directory fsync) before returning.
// A position may move backwards (to reprocess). next beyond End() fails
// with an error wrapping ErrOutOfRange; an invalid name with one wrapping
// ErrInvalidConsumer.
func (l *SegmentLog) Commit(ctx context.Context, consumer string, next uint64) error {
	if err := ValidateConsumer(consumer); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventlog: commit not started: %w", err)
	}
	l.cons.Lock()
	defer l.cons.Unlock()
	if l.cons.closed {
		return ErrClosed
	}
	if end := l.end.Load(); next > end {
		return fmt.Errorf("%w: commit of consumer %q at %d is beyond the end %d", ErrOutOfRange, consumer, next, end)
	}
	old, had := l.cons.pos[consumer]
	if had && old == next {
		return nil // already durable
	}
	if !had && len(l.cons.pos) >= maxConsumers {
		return fmt.Errorf("eventlog: commit of consumer %q: already %d consumers, limit %d", consumer, len(l.cons.pos), maxConsumers)
	}
	l.cons.pos[consumer] = next
	if err := writeConsumers(l.dir, l.cons.pos); err != nil {
		if had {
			l.cons.pos[consumer] = old
		} else {
			delete(l.cons.pos, consumer)
		}
		return err
	}
	return nil
}

// Committed implements Log.
func (l *SegmentLog) Committed(ctx context.Context, consumer string) (uint64, error) {
	if err := ValidateConsumer(consumer); err != nil {
		return 0, err
	}
	l.cons.Lock()
	defer l.cons.Unlock()
	if l.cons.closed {
		return 0, ErrClosed
	}
	return l.cons.pos[consumer], nil
}

// Close implements Log. It waits for pending Appends, fsyncs the active
// segment (under every sync policy), closes the files and releases the
// directory lock. Waiting readers get ErrClosed.
func (l *SegmentLog) Close() error {
	l.closeOnce.Do(func() {
		l.closing.Store(true)
		l.q.Lock()
		l.q.closing = true
		l.q.Unlock()
		l.cons.Lock()
		l.cons.closed = true
		l.cons.Unlock()

		close(l.stop)
		l.wg.Wait()
		l.closed.Store(true)
		close(l.done)

		errs := []error{l.w.closeErr}
		l.mu.Lock()
		for _, seg := range l.mu.segments {
			if err := seg.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("eventlog: close segment %s: %w", seg.name, err))
			}
		}
		l.mu.Unlock()
		errs = append(errs, unlockDir(l.lock))
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// broadcast wakes every Reader blocked in Wait.
func (l *SegmentLog) broadcast() {
	ch := make(chan struct{})
	close(*l.notify.Swap(&ch))
}

// ---- writer goroutine ----

// run is the writer goroutine: it commits groups of pending Appends,
// fsyncs per the policy, and stops when Close closes l.stop (after
// writing whatever is pending and a final fsync).
func (l *SegmentLog) run() {
	defer l.wg.Done()
	w := &l.w
	for {
		var tick <-chan time.Time
		if w.armed {
			tick = w.timer.C
		}
		select {
		case <-l.wake:
			l.drain()
		case <-tick:
			w.armed = false
			l.syncUnsynced()
		case <-l.stop:
			l.drain()
			if w.armed {
				w.timer.Stop()
			}
			if w.unsynced && w.err == nil {
				if err := l.syncActive(); err != nil {
					w.closeErr = err
				}
			}
			return
		}
	}
}

// drain takes every pending request and commits them as one group.
func (l *SegmentLog) drain() {
	w := &l.w
	l.q.Lock()
	reqs := l.q.pending
	l.q.pending = w.spare[:0]
	l.q.Unlock()
	if len(reqs) > 0 {
		l.commitGroup(reqs)
	}
	clear(reqs)
	w.spare = reqs[:0]
}

// commitGroup writes reqs in order with as few write(2) and fsync(2)
// calls as possible: one of each per segment touched.
func (l *SegmentLog) commitGroup(reqs []*request) {
	w := &l.w
	chunk := w.chunk[:0]
	for _, rq := range reqs {
		if !rq.state.CompareAndSwap(reqPending, reqClaimed) {
			continue // cancelled by its caller
		}
		if w.err != nil {
			complete(rq, w.err)
			continue
		}
		n := int64(len(rq.frame))
		if used := w.size + w.pending; used > segHeaderSize && used+n > l.opts.SegmentSize {
			// Seal the active segment (fsync, whatever the policy) and
			// start a new one.
			if len(chunk) > 0 {
				if l.writeChunk(chunk) {
					l.syncAndPublish(chunk)
				}
				chunk = chunk[:0]
			} else {
				l.syncUnsynced()
			}
			if w.err == nil {
				l.roll()
			}
			if w.err != nil {
				complete(rq, w.err)
				continue
			}
		}
		rq.first = w.next
		rq.pos = w.size + w.pending
		patchBatchHeader(rq.frame, w.next, w.durable)
		w.next += uint64(rq.count)
		w.pending += n
		chunk = append(chunk, rq)
	}
	if len(chunk) > 0 && l.writeChunk(chunk) {
		if l.opts.Sync == SyncAlways {
			l.syncAndPublish(chunk)
		} else {
			l.publish(chunk)
			l.maybeSync()
		}
	}
	clear(chunk)
	w.chunk = chunk[:0]
	if cap(w.buf) > 4*maxPooledFrame {
		w.buf = nil
	}
}

// writeChunk writes the frames of chunk at the end of the active segment
// with one write(2). On failure it fails chunk and returns false.
func (l *SegmentLog) writeChunk(chunk []*request) bool {
	w := &l.w
	var buf []byte
	if len(chunk) == 1 {
		buf = chunk[0].frame
	} else {
		buf = w.buf[:0]
		for _, rq := range chunk {
			buf = append(buf, rq.frame...)
		}
		w.buf = buf
	}
	if _, err := w.seg.f.WriteAt(buf, w.size); err != nil {
		l.failChunk(chunk, fmt.Errorf("eventlog: write segment %s: %w", w.seg.name, err))
		return false
	}
	w.size += int64(len(buf))
	w.pending = 0
	w.unsynced = true
	l.stats.writes.Add(1)
	l.stats.bytes.Add(uint64(len(buf)))
	return true
}

// syncAndPublish fsyncs the active segment and publishes chunk, or fails
// chunk (removing its bytes) if the fsync fails.
func (l *SegmentLog) syncAndPublish(chunk []*request) {
	if l.w.unsynced {
		if err := l.syncActive(); err != nil {
			l.failChunk(chunk, err)
			return
		}
	}
	l.publish(chunk)
}

// syncActive fdatasyncs the active segment. The caller handles failure.
func (l *SegmentLog) syncActive() error {
	w := &l.w
	if err := syncData(w.seg.f); err != nil {
		return fmt.Errorf("eventlog: sync segment %s: %w", w.seg.name, err)
	}
	l.stats.syncs.Add(1)
	w.durable = w.next // pending is 0 whenever we sync
	l.durable.Store(w.durable)
	w.unsynced = false
	w.lastSync = time.Now()
	return nil
}

// syncUnsynced fsyncs already published data, if any. A failure makes
// the log fail (the data stays: it was acknowledged already).
func (l *SegmentLog) syncUnsynced() {
	w := &l.w
	if !w.unsynced || w.err != nil {
		return
	}
	if err := l.syncActive(); err != nil {
		l.setFailed(err)
	}
}

// maybeSync applies SyncInterval after a publish.
func (l *SegmentLog) maybeSync() {
	w := &l.w
	if l.opts.Sync != SyncInterval || !w.unsynced {
		return
	}
	now := time.Now()
	due := w.lastSync.Add(l.opts.SyncEvery)
	if !now.Before(due) {
		l.syncUnsynced()
		return
	}
	if !w.armed {
		w.timer.Reset(due.Sub(now))
		w.armed = true
	}
}

// publish makes chunk (written, and fsynced if the policy says so)
// visible to readers and completes its requests.
func (l *SegmentLog) publish(chunk []*request) {
	w := &l.w
	seg := w.seg
	idx := w.idx[:0]
	interval := uint64(l.opts.IndexInterval)
	have := len(seg.index) > 0
	var last uint64
	if have {
		last = seg.index[len(seg.index)-1].first
	}
	for _, rq := range chunk {
		if !have || rq.first/interval > last/interval {
			idx = append(idx, indexEntry{first: rq.first, pos: rq.pos})
			last, have = rq.first, true
		}
	}
	if len(idx) > 0 {
		l.mu.Lock()
		seg.index = append(seg.index, idx...)
		l.mu.Unlock()
	}
	w.idx = idx[:0]
	seg.size.Store(w.size)
	seg.end.Store(w.next)
	l.end.Store(w.next)
	l.broadcast()
	for _, rq := range chunk {
		l.stats.appends.Add(1)
		l.stats.records.Add(uint64(rq.count))
		complete(rq, nil)
	}
}

// failChunk removes chunk's bytes from the active segment, fails its
// requests with err and makes the log fail.
func (l *SegmentLog) failChunk(chunk []*request, err error) {
	w := &l.w
	keep := w.seg.size.Load()
	if terr := w.seg.f.Truncate(keep); terr != nil {
		err = fmt.Errorf("%w; removing the failed batch also failed (recovery will cut it): %v", err, terr)
	}
	w.size = keep
	w.next = w.seg.end.Load()
	w.pending = 0
	l.setFailed(err)
	for _, rq := range chunk {
		complete(rq, err)
	}
}

// Err returns the writer's sticky error: after a failed write (a full
// disk, an I/O error) every Append fails with it until the log is
// reopened. It is nil while the log is healthy.
func (l *SegmentLog) Err() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// setFailed makes every later Append fail with err.
func (l *SegmentLog) setFailed(err error) {
	if l.w.err == nil {
		l.w.err = err
		l.failed.Store(&err)
	}
}

// roll creates a new active segment at the current end. The old one must
// be synced already.
func (l *SegmentLog) roll() {
	w := &l.w
	seg, err := l.createSegment(w.next)
	if err != nil {
		l.setFailed(err)
		return
	}
	l.mu.Lock()
	l.mu.segments = append(l.mu.segments, seg)
	l.mu.Unlock()
	w.seg = seg
	w.size = segHeaderSize
	w.durable = w.next
}

// createSegment creates, fsyncs and returns an empty segment at base.
func (l *SegmentLog) createSegment(base uint64) (*segment, error) {
	name := segmentName(base)
	path := filepath.Join(l.dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eventlog: create segment: %w", err)
	}
	_, err = f.Write(encodeSegmentHeader(base))
	if err == nil {
		err = syncData(f)
	}
	if err == nil {
		err = durable.SyncDir(l.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("eventlog: create segment %s: %w", name, err)
	}
	l.stats.syncs.Add(1)
	seg := &segment{base: base, name: name, f: f}
	seg.size.Store(segHeaderSize)
	seg.end.Store(base)
	return seg, nil
}

// complete finishes rq. The writer must not touch rq afterwards.
func complete(rq *request, err error) {
	if err != nil {
		rq.first = 0
	}
	rq.err = err
	rq.done <- struct{}{}
}
