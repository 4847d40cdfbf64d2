package metric

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Encoding constants; part of the checkpoint format (see the package doc).
const (
	magic         = "PMTR"
	formatVersion = 1
	headerLen     = len(magic) + 2 // magic, version, kind
	trailerLen    = 4              // CRC32C
)

// kind identifies the metric a blob encodes; part of the checkpoint format.
// Payloads (integers u64 little-endian, floats f64 as IEEE-754 bits):
//
//	kindLogLoss, kindBrier:  n | sum f64
//	kindAccuracy:            n | correct
//	kindAUC:                 positives | negatives | 2U | d |
//	                         d × (key | negatives | positives), keys ascending
//	kindWindowLogLoss:       w | n | head | sum f64 | n × loss f64
//	kindWindowAccuracy:      w | n | head | n × hit u8
//	kindWindowAUC:           w | n | head | n × (key | class u8)
//	kindFadingLogLoss,
//	kindFadingAccuracy:      alpha f64 | sum f64 | weight f64
//	kindBinary:              the payloads of LogLoss, Accuracy, AUC, Brier,
//	                         WindowLogLoss, WindowAccuracy, WindowAUC,
//	                         FadingLogLoss, FadingAccuracy, in this order,
//	                         then aucBins (0 = exact cumulative AUC)
//
// Window entries are the ring's slots [0, n) in storage order; head is the
// next slot to write (n < w implies head = n). A key is a score mapped to
// an order-preserving uint64 (see sortKey); 2U is twice the Mann–Whitney U.
type kind uint8

const (
	kindLogLoss kind = iota + 1
	kindAccuracy
	kindAUC
	kindBrier
	kindWindowLogLoss
	kindWindowAccuracy
	kindWindowAUC
	kindFadingLogLoss
	kindFadingAccuracy
	kindBinary
)

var kindNames = [...]string{
	kindLogLoss:        "LogLoss",
	kindAccuracy:       "Accuracy",
	kindAUC:            "AUC",
	kindBrier:          "Brier",
	kindWindowLogLoss:  "WindowLogLoss",
	kindWindowAccuracy: "WindowAccuracy",
	kindWindowAUC:      "WindowAUC",
	kindFadingLogLoss:  "FadingLogLoss",
	kindFadingAccuracy: "FadingAccuracy",
	kindBinary:         "Binary",
}

func (k kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTruncated is reported when a payload ends early.
var errTruncated = errors.New("truncated payload")

func appendHeader(dst []byte, k kind) []byte {
	dst = append(dst, magic...)
	return append(dst, formatVersion, byte(k))
}

// appendTrailer appends the CRC32C of dst[start:].
func appendTrailer(dst []byte, start int) []byte {
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// marshal wraps a payload appender in header and trailer.
func marshal(dst []byte, k kind, payload func([]byte) []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, k)
	dst = payload(dst)
	return appendTrailer(dst, start)
}

// openBlob checks the framing of data and returns a decoder over the
// payload.
func openBlob(data []byte, k kind) (*decoder, error) {
	if len(data) < headerLen+trailerLen {
		return nil, fmt.Errorf("metric: decoding %v: %d bytes is shorter than the %d-byte frame", k, len(data), headerLen+trailerLen)
	}
	if string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("metric: decoding %v: bad magic %q (want %q)", k, data[:len(magic)], magic)
	}
	if v := data[len(magic)]; v > formatVersion {
		return nil, fmt.Errorf("metric: decoding %v: format version %d is newer than supported version %d", k, v, formatVersion)
	} else if v == 0 {
		return nil, fmt.Errorf("metric: decoding %v: invalid format version 0", k)
	}
	if got := kind(data[len(magic)+1]); got != k {
		return nil, fmt.Errorf("metric: decoding %v: blob holds a %v", k, got)
	}
	body := data[:len(data)-trailerLen]
	want := binary.LittleEndian.Uint32(data[len(data)-trailerLen:])
	if got := crc32.Checksum(body, castagnoli); got != want {
		return nil, fmt.Errorf("metric: decoding %v: checksum mismatch (stored %#08x, computed %#08x)", k, want, got)
	}
	return &decoder{kind: k, b: body[headerLen:]}, nil
}

// decoder reads fixed-width fields from a payload. The first failure is
// sticky: later reads return zero values and err keeps the first error.
type decoder struct {
	kind kind
	b    []byte
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("metric: decoding %v: "+format, append([]any{d.kind}, args...)...)
	}
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("%v", errTruncated)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) u8() uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("%v", errTruncated)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

// count reads a u64 that sizes what follows, each item taking at least
// itemSize bytes, and refuses counts the remaining payload cannot hold (so
// corrupt input cannot trigger huge allocations).
func (d *decoder) count(what string, itemSize int) int {
	v := d.u64()
	if d.err != nil {
		return 0
	}
	if v > uint64(len(d.b)/itemSize) {
		d.fail("%s %d exceeds what the remaining %d bytes can hold", what, v, len(d.b))
		return 0
	}
	return int(v)
}

// finish reports the sticky error, or an error if bytes are left over.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d unexpected trailing bytes", len(d.b))
	}
	return d.err
}

func appendU64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }

func appendF64(dst []byte, v float64) []byte { return appendU64(dst, math.Float64bits(v)) }
