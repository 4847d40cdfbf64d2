package eventlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// readBufSize is a Reader's initial buffer; it grows to hold the largest
// record read. seekReadSize is the most a Reader reads after jumping over
// data it skips while seeking: the next batch may be skipped too.
const (
	readBufSize  = 64 << 10
	seekReadSize = 4 << 10
)

// segReader is the Reader of a SegmentLog. It reads segment files with
// pread(2) into its own buffer, never past the published size of a
// segment, so it only ever sees complete batches.
type segReader struct {
	l      *SegmentLog
	seg    *segment
	next   uint64 // offset of the record Next returns next
	phys   uint64 // offset of the record at the read position
	left   uint32 // records left in the current batch; 0 at a batch header
	body   int64  // body bytes left in the current batch
	buf    []byte
	start  int64 // file position of buf[0]
	r, w   int   // unread bytes are buf[r:w]
	jumped bool  // the last skip left the buffer: read little next
	closed bool
}

// Next implements Reader. The returned Data aliases the reader's buffer.
// Next never blocks: it reads from the page cache or the disk. ctx is
// checked before each refill of the buffer.
func (r *segReader) Next(ctx context.Context) (Record, error) {
	if r.closed || r.l.closed.Load() {
		return Record{}, ErrClosed
	}
	if r.next >= r.l.end.Load() {
		return Record{}, io.EOF
	}
	for {
		if r.left == 0 {
			if r.body != 0 {
				return Record{}, r.corrupt(0, "batch body longer than its records")
			}
			if r.phys >= r.seg.end.Load() {
				// The segment is sealed and the log goes on in the next one.
				seg := r.l.segmentAt(r.phys)
				if seg == nil {
					return Record{}, fmt.Errorf("eventlog: no segment starts at offset %d (after %s)", r.phys, r.seg.name)
				}
				r.seg, r.start, r.r, r.w = seg, segHeaderSize, 0, 0
			}
			if err := r.fill(ctx, batchHeaderSize); err != nil {
				return Record{}, err
			}
			h, reason := decodeBatchHeader(r.buf[r.r:])
			if reason == "" && h.first != r.phys {
				reason = fmt.Sprintf("batch starts at offset %d, want %d", h.first, r.phys)
			}
			if reason != "" {
				return Record{}, r.corrupt(0, reason)
			}
			if r.phys+uint64(h.count) <= r.next {
				// Seeking: the whole batch is before the target.
				r.skip(batchHeaderSize + int64(h.length))
				r.phys += uint64(h.count)
				continue
			}
			r.r += batchHeaderSize
			r.left, r.body = h.count, int64(h.length)
		}
		if err := r.fill(ctx, recordHeaderSize); err != nil {
			return Record{}, err
		}
		n := int64(binary.LittleEndian.Uint32(r.buf[r.r:]))
		sum := binary.LittleEndian.Uint32(r.buf[r.r+4:])
		if n == 0 || recordHeaderSize+n > r.body {
			return Record{}, r.corrupt(0, fmt.Sprintf("record length %d does not fit its batch", n))
		}
		r.left--
		r.body -= recordHeaderSize + n
		off := r.phys
		r.phys++
		if off < r.next {
			r.skip(recordHeaderSize + n) // seeking within a batch
			continue
		}
		if err := r.fill(ctx, recordHeaderSize+int(n)); err != nil {
			return Record{}, err
		}
		data := r.buf[r.r+recordHeaderSize : r.r+recordHeaderSize+int(n) : r.r+recordHeaderSize+int(n)]
		if crc32c(data) != sum {
			return Record{}, r.corrupt(0, "record checksum mismatch")
		}
		r.r += recordHeaderSize + int(n)
		r.next++
		return Record{Offset: off, Data: data}, nil
	}
}

// fill makes at least n unread bytes available in the buffer, reading no
// further than the segment's published size.
func (r *segReader) fill(ctx context.Context, n int) error {
	if r.w-r.r >= n {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n > len(r.buf) {
		nb := make([]byte, max(n, 2*len(r.buf)))
		r.w = copy(nb, r.buf[r.r:r.w])
		r.start += int64(r.r)
		r.r = 0
		r.buf = nb
	} else if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.start += int64(r.r)
		r.r = 0
	}
	limit := r.seg.size.Load()
	for r.w < n {
		pos := r.start + int64(r.w)
		avail := limit - pos
		if avail <= 0 {
			return r.corrupt(int64(r.w), "unexpected end of segment data")
		}
		m := len(r.buf) - r.w
		if r.jumped {
			m = min(m, max(n-r.w, seekReadSize))
			r.jumped = false
		}
		if int64(m) > avail {
			m = int(avail)
		}
		k, err := r.seg.f.ReadAt(r.buf[r.w:r.w+m], pos)
		r.w += k
		if err != nil && !(errors.Is(err, io.EOF) && k == m) {
			if r.l.closed.Load() || errors.Is(err, os.ErrClosed) {
				return ErrClosed
			}
			if errors.Is(err, io.EOF) {
				return r.corrupt(int64(r.w), "segment file shorter than the data written to it")
			}
			return fmt.Errorf("eventlog: read segment %s: %w", r.seg.name, err)
		}
	}
	return nil
}

// skip discards n bytes from the read position.
func (r *segReader) skip(n int64) {
	if int64(r.w-r.r) >= n {
		r.r += int(n)
		return
	}
	r.start += int64(r.r) + n
	r.r, r.w = 0, 0
	r.jumped = true
}

// corrupt returns a CorruptionError at the read position plus delta.
func (r *segReader) corrupt(delta int64, reason string) error {
	return &CorruptionError{Segment: r.seg.name, Pos: r.start + int64(r.r) + delta, Offset: r.phys, Reason: reason}
}

// Wait implements Reader. It blocks on a channel that every append closes
// (no polling).
func (r *segReader) Wait(ctx context.Context) error {
	for {
		if r.closed || r.l.closed.Load() {
			return ErrClosed
		}
		ch := r.l.notify.Load()
		if r.next < r.l.end.Load() {
			return nil
		}
		select {
		case <-*ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.l.done:
			return ErrClosed
		}
	}
}

// Close implements Reader.
func (r *segReader) Close() error {
	r.closed = true
	r.buf = nil
	return nil
}
