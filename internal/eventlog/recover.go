package eventlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/perpetua-ml/perpetua/internal/durable"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// recover opens and verifies every segment, cuts a torn tail of the last
// one, creates the first segment of a new log, and initialises the writer
// state. It runs in Open, before the writer goroutine starts.
func (l *SegmentLog) recover() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("eventlog: open: %w", err)
	}
	var bases []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		num := strings.TrimSuffix(name, segSuffix)
		base, err := strconv.ParseUint(num, 10, 64)
		if len(num) != segNameDigits || err != nil || segmentName(base) != name {
			return fmt.Errorf("eventlog: %s: unexpected file in the log directory (segments are named by their base offset, %%020d.seg)", name)
		}
		if !e.Type().IsRegular() {
			return fmt.Errorf("eventlog: %s: segment is not a regular file", name)
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)

	if len(bases) == 0 {
		seg, err := l.createSegment(0)
		if err != nil {
			return err
		}
		l.mu.segments = []*segment{seg}
		// The directory may be new too: make its own entry durable, or a
		// machine crash could lose the whole log with acknowledged data.
		if err := durable.SyncDir(filepath.Dir(filepath.Clean(l.dir))); err != nil {
			return fmt.Errorf("eventlog: open: sync parent of %s: %w", l.dir, err)
		}
	}
	next := uint64(0)
	for i, base := range bases {
		last := i == len(bases)-1
		name := segmentName(base)
		if i > 0 && base != next {
			return fmt.Errorf("eventlog: segment %s starts at offset %d but the previous segment ends at %d (a segment is missing or extra)", name, base, next)
		}
		flag := os.O_RDONLY
		if last {
			flag = os.O_RDWR
		}
		f, err := os.OpenFile(filepath.Join(l.dir, name), flag, 0)
		if err != nil {
			return fmt.Errorf("eventlog: open segment: %w", err)
		}
		seg := &segment{base: base, name: name, f: f}
		l.mu.segments = append(l.mu.segments, seg)
		if err := l.scanSegment(seg, last); err != nil {
			return err
		}
		next = seg.end.Load()
	}

	act := l.mu.segments[len(l.mu.segments)-1]
	if len(bases) > 0 {
		// Make what survived durable, so that the watermark written into
		// new batches is true even after a process crash under SyncNever.
		if err := syncData(act.f); err != nil {
			return fmt.Errorf("eventlog: sync segment %s: %w", act.name, err)
		}
		if l.recovery.Truncated {
			if err := durable.SyncDir(l.dir); err != nil {
				return fmt.Errorf("eventlog: open: %w", err)
			}
		}
	}
	end := act.end.Load()
	l.end.Store(end)
	l.durable.Store(end)
	l.w.seg = act
	l.w.size = act.size.Load()
	l.w.next = end
	l.w.durable = end
	return nil
}

// scanSegment verifies seg's header and batches, builds its index and sets
// its size and end. In the last segment a torn tail is cut; anything else
// wrong is an error.
func (l *SegmentLog) scanSegment(seg *segment, last bool) error {
	f := seg.f
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("eventlog: segment %s: %w", seg.name, err)
	}
	size := fi.Size()

	hdr := make([]byte, segHeaderSize)
	n, err := f.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("eventlog: read segment %s: %w", seg.name, err)
	}
	base, herr := checkSegmentHeader(seg.name, hdr[:n])
	if herr != nil {
		var verr *VersionError
		if last && !errors.As(herr, &verr) {
			// A crash while creating the segment leaves a short or zeroed
			// header (a header is fsynced before any batch is written).
			zero, err := allZero(f, size)
			if err != nil {
				return fmt.Errorf("eventlog: read segment %s: %w", seg.name, err)
			}
			if n < segHeaderSize || zero {
				return l.rewriteHeader(seg, size, herr)
			}
		}
		var cerr *CorruptionError
		if errors.As(herr, &cerr) {
			cerr.Offset = seg.base
		}
		return herr
	}
	if base != seg.base {
		return &CorruptionError{Segment: seg.name, Pos: 16, Offset: seg.base, Reason: fmt.Sprintf("header base offset %d does not match the file name", base)}
	}

	br := bufio.NewReaderSize(io.NewSectionReader(f, segHeaderSize, size-segHeaderSize), 1<<20)
	pos, next := int64(segHeaderSize), seg.base
	interval := uint64(l.opts.IndexInterval)
	var hb [batchHeaderSize]byte
	var body []byte
	for pos < size {
		reason := ""
		var h batchHeader
		if size-pos < batchHeaderSize {
			reason = "truncated batch header"
		} else {
			if _, err := io.ReadFull(br, hb[:]); err != nil {
				return fmt.Errorf("eventlog: read segment %s: %w", seg.name, err)
			}
			h, reason = decodeBatchHeader(hb[:])
			switch {
			case reason != "":
			case h.first != next:
				reason = fmt.Sprintf("batch starts at offset %d, want %d", h.first, next)
			case int64(h.length) > size-pos-batchHeaderSize:
				reason = fmt.Sprintf("truncated batch (%d of %d body bytes)", size-pos-batchHeaderSize, h.length)
			default:
				if cap(body) < int(h.length) {
					body = make([]byte, h.length)
				}
				body = body[:h.length]
				if _, err := io.ReadFull(br, body); err != nil {
					return fmt.Errorf("eventlog: read segment %s: %w", seg.name, err)
				}
				reason = checkBatchBody(h, body)
			}
		}
		if reason != "" {
			return l.badBatch(seg, last, size, pos, next, reason)
		}
		if len(seg.index) == 0 || h.first/interval > seg.index[len(seg.index)-1].first/interval {
			seg.index = append(seg.index, indexEntry{first: h.first, pos: pos})
		}
		pos += batchHeaderSize + int64(h.length)
		next += uint64(h.count)
	}
	seg.size.Store(pos)
	seg.end.Store(next)
	return nil
}

// badBatch handles a bad batch at byte pos (offset e) of seg: in a sealed
// segment, or when a later valid batch proves that offset e had been
// fsynced, it is corruption; otherwise it is a torn tail and is cut.
func (l *SegmentLog) badBatch(seg *segment, last bool, size, pos int64, e uint64, reason string) error {
	cerr := &CorruptionError{Segment: seg.name, Pos: pos, Offset: e, Reason: reason}
	if !last {
		cerr.Detail = "the segment is sealed (not the last), so this is not a torn write"
		return cerr
	}
	ppos, ph, found, err := findDurableProof(seg.f, pos+1, size, e)
	if err != nil {
		return fmt.Errorf("eventlog: read segment %s: %w", seg.name, err)
	}
	if found {
		cerr.Detail = fmt.Sprintf("the valid batch at byte %d (offset %d) was written after offset %d had been synced, so this is not a torn write", ppos, ph.first, e)
		return cerr
	}
	if err := seg.f.Truncate(pos); err != nil {
		return fmt.Errorf("eventlog: cut torn tail of segment %s: %w", seg.name, err)
	}
	l.recovery.Truncated = true
	l.recovery.Segment = seg.name
	l.recovery.TruncatedAt = pos
	l.recovery.TruncatedBytes = size - pos
	l.recovery.Reason = reason
	seg.size.Store(pos)
	seg.end.Store(e)
	return nil
}

// rewriteHeader replaces the torn header of the last segment (created but
// never written to) with a fresh one.
func (l *SegmentLog) rewriteHeader(seg *segment, size int64, cause error) error {
	f := seg.f
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("eventlog: repair segment %s: %w", seg.name, err)
	}
	if _, err := f.WriteAt(encodeSegmentHeader(seg.base), 0); err != nil {
		return fmt.Errorf("eventlog: repair segment %s: %w", seg.name, err)
	}
	reason := "torn segment header"
	var cerr *CorruptionError
	if errors.As(cause, &cerr) {
		reason += " (" + cerr.Reason + ")"
	}
	l.recovery.Truncated = true
	l.recovery.Segment = seg.name
	l.recovery.TruncatedAt = 0
	l.recovery.TruncatedBytes = size
	l.recovery.Reason = reason
	seg.size.Store(segHeaderSize)
	seg.end.Store(seg.base)
	return nil
}

// findDurableProof looks in f[from:size) for a valid batch whose
// durability watermark is above e: proof that offset e had been fsynced
// before that batch was written. It checks every byte position, so it
// also finds batches after a damaged length field.
func findDurableProof(f *os.File, from, size int64, e uint64) (int64, batchHeader, bool, error) {
	const window = 1 << 20
	buf := make([]byte, window+batchHeaderSize)
	for start := from; start+batchHeaderSize <= size; start += window {
		n := int64(len(buf))
		if size-start < n {
			n = size - start
		}
		if _, err := f.ReadAt(buf[:n], start); err != nil && !errors.Is(err, io.EOF) {
			return 0, batchHeader{}, false, err
		}
		for i := int64(0); i < window && i+batchHeaderSize <= n; i++ {
			b := buf[i : i+batchHeaderSize]
			durable := binary.LittleEndian.Uint64(b[16:])
			if durable <= e || durable > binary.LittleEndian.Uint64(b[8:]) {
				continue // cheap filter before the CRC
			}
			h, reason := decodeBatchHeader(b)
			p := start + i
			if reason != "" || int64(h.length) > size-p-batchHeaderSize {
				continue
			}
			body := make([]byte, h.length)
			if _, err := f.ReadAt(body, p+batchHeaderSize); err != nil {
				return 0, batchHeader{}, false, err
			}
			if checkBatchBody(h, body) == "" {
				return p, h, true, nil
			}
		}
	}
	return 0, batchHeader{}, false, nil
}

// allZero reports whether the first size bytes of f are all zero.
func allZero(f *os.File, size int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for off := int64(0); off < size; {
		n, err := f.ReadAt(buf, off)
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		off += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return true, nil
			}
			return false, err
		}
	}
	return true, nil
}
