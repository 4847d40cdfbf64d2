package eventlog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Segment file format; see the package documentation and docs/formats.md.
const (
	segMagic         = "PPTLSEG\x00" // part of the on-disk format
	segVersion       = 1             // part of the on-disk format
	segHeaderSize    = 28            // part of the on-disk format
	batchHeaderSize  = 32            // part of the on-disk format
	recordHeaderSize = 8             // part of the on-disk format
	segSuffix        = ".seg"        // part of the on-disk format
	segNameDigits    = 20            // part of the on-disk format: %020d
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// segmentName returns the file name of the segment starting at base.
func segmentName(base uint64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

// encodeSegmentHeader returns the header of a segment starting at base.
func encodeSegmentHeader(base uint64) []byte {
	b := make([]byte, 0, segHeaderSize)
	b = append(b, segMagic...)
	b = binary.LittleEndian.AppendUint32(b, segVersion)
	b = binary.LittleEndian.AppendUint32(b, 0) // flags
	b = binary.LittleEndian.AppendUint64(b, base)
	return binary.LittleEndian.AppendUint32(b, crc32c(b))
}

// checkSegmentHeader validates a segment header read from the file name
// and returns the base offset it records. The version is checked before
// the CRC: a future version may lay the rest of the header out
// differently.
func checkSegmentHeader(name string, b []byte) (uint64, error) {
	if len(b) < segHeaderSize {
		return 0, &CorruptionError{Segment: name, Reason: fmt.Sprintf("short segment header (%d of %d bytes)", len(b), segHeaderSize)}
	}
	if string(b[:8]) != segMagic {
		return 0, &CorruptionError{Segment: name, Reason: fmt.Sprintf("bad magic %q, not a Perpetua log segment", b[:8])}
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != segVersion {
		return 0, &VersionError{File: name, Version: v, Supported: segVersion}
	}
	if got, want := crc32c(b[:24]), binary.LittleEndian.Uint32(b[24:]); got != want {
		return 0, &CorruptionError{Segment: name, Reason: "segment header checksum mismatch"}
	}
	if f := binary.LittleEndian.Uint32(b[12:]); f != 0 {
		return 0, &CorruptionError{Segment: name, Reason: fmt.Sprintf("unknown segment flags %#x", f)}
	}
	return binary.LittleEndian.Uint64(b[16:]), nil
}

// batchHeader is a decoded batch header.
type batchHeader struct {
	length  uint32 // body length
	count   uint32
	first   uint64
	durable uint64
	bodyCRC uint32
}

// decodeBatchHeader decodes and validates the batch header at the start of
// b (len(b) ≥ batchHeaderSize). It returns a reason on failure.
func decodeBatchHeader(b []byte) (batchHeader, string) {
	b = b[:batchHeaderSize]
	if crc32c(b[:28]) != binary.LittleEndian.Uint32(b[28:]) {
		return batchHeader{}, "batch header checksum mismatch"
	}
	h := batchHeader{
		length:  binary.LittleEndian.Uint32(b[0:]),
		count:   binary.LittleEndian.Uint32(b[4:]),
		first:   binary.LittleEndian.Uint64(b[8:]),
		durable: binary.LittleEndian.Uint64(b[16:]),
		bodyCRC: binary.LittleEndian.Uint32(b[24:]),
	}
	switch {
	case h.count == 0:
		return h, "empty batch"
	case uint64(h.length) < uint64(h.count)*(recordHeaderSize+1):
		return h, fmt.Sprintf("batch of %d records cannot fit in %d bytes", h.count, h.length)
	case h.durable > h.first:
		return h, fmt.Sprintf("durability watermark %d beyond first offset %d", h.durable, h.first)
	case h.first+uint64(h.count) < h.first:
		return h, "batch offsets overflow"
	}
	return h, ""
}

// checkBatchBody verifies the body of a batch with header h: its CRC and
// that exactly h.count non-empty records fill it. It returns a reason on
// failure.
func checkBatchBody(h batchHeader, body []byte) string {
	if crc32c(body) != h.bodyCRC {
		return "checksum mismatch"
	}
	n := uint32(0)
	for len(body) > 0 {
		if len(body) < recordHeaderSize {
			return "malformed batch (truncated record header)"
		}
		l := binary.LittleEndian.Uint32(body)
		if l == 0 || uint64(l) > uint64(len(body)-recordHeaderSize) {
			return fmt.Sprintf("malformed batch (record length %d)", l)
		}
		body = body[recordHeaderSize+int(l):]
		n++
	}
	if n != h.count {
		return fmt.Sprintf("malformed batch (%d records, header says %d)", n, h.count)
	}
	return ""
}

// appendBatch appends the encoded batch (header with first, durable and
// hdrcrc left zero; see patchBatchHeader) to dst.
func appendBatch(dst []byte, batch [][]byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, batchHeaderSize)...)
	for _, rec := range batch {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(rec)))
		dst = binary.LittleEndian.AppendUint32(dst, crc32c(rec))
		dst = append(dst, rec...)
	}
	h := dst[start:]
	body := h[batchHeaderSize:]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(body)))
	binary.LittleEndian.PutUint32(h[4:], uint32(len(batch)))
	binary.LittleEndian.PutUint32(h[24:], crc32c(body))
	return dst
}

// patchBatchHeader fills in the fields of an encoded batch header that are
// known only to the writer, and the header CRC.
func patchBatchHeader(h []byte, first, durable uint64) {
	binary.LittleEndian.PutUint64(h[8:], first)
	binary.LittleEndian.PutUint64(h[16:], durable)
	binary.LittleEndian.PutUint32(h[28:], crc32c(h[:28]))
}

// CorruptionError reports damaged log data that recovery must not cut
// silently: corruption in a sealed segment, or in the last segment before
// data that had been fsynced after it.
type CorruptionError struct {
	Segment string // segment file name, e.g. "00000000000000000000.seg"
	Pos     int64  // byte position in the segment file
	Offset  uint64 // offset of the first record affected
	Reason  string // what is wrong, e.g. "checksum mismatch"
	Detail  string // optional explanation, e.g. why this is not a torn tail
}

func (e *CorruptionError) Error() string {
	s := fmt.Sprintf("eventlog: segment %s: %s at byte %d (offset %d)", e.Segment, e.Reason, e.Pos, e.Offset)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// VersionError reports a file written in a format version this build does
// not support (typically by a newer Perpetua).
type VersionError struct {
	File      string // file name within the log directory
	Version   uint32 // version found
	Supported uint32 // newest version this build reads
}

func (e *VersionError) Error() string {
	if e.Version > e.Supported {
		return fmt.Sprintf("eventlog: %s: format version %d is newer than the supported version %d; upgrade Perpetua to read this log", e.File, e.Version, e.Supported)
	}
	return fmt.Sprintf("eventlog: %s: unknown format version %d (supported: %d)", e.File, e.Version, e.Supported)
}
