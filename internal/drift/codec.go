package drift

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Detector state encoding (part of the on-disk format; see
// docs/formats.md, "Drift detector state"):
//
//	offset size field
//	0      4    magic "PDRF"
//	4      1    format version (stateVersion)
//	5      1    detector kind (kindADWIN, …)
//	6      2    reserved, zero
//	8      4    payload length N, uint32 little-endian
//	12     N    payload (kind-specific, little-endian fixed-width fields)
//	12+N   4    CRC-32C (Castagnoli) of bytes [0, 12+N), little-endian
//
// Integers in payloads are uint64, floats are IEEE 754 binary64, booleans
// one byte (0 or 1), all little-endian.
const (
	stateMagic   = "PDRF" // part of the on-disk format
	stateVersion = 1      // part of the on-disk format
	headerSize   = 12
	trailerSize  = 4
)

// Detector kinds in the state header (part of the on-disk format).
const (
	kindADWIN       byte = 1
	kindPageHinkley byte = 2
	kindDDM         byte = 3
	kindEDDM        byte = 4
	kindKSWIN       byte = 5
	kindWindow      byte = 6
)

// kindName names a kind byte for error messages.
func kindName(k byte) string {
	switch k {
	case kindADWIN:
		return "adwin"
	case kindPageHinkley:
		return "page-hinkley"
	case kindDDM:
		return "ddm"
	case kindEDDM:
		return "eddm"
	case kindKSWIN:
		return "kswin"
	case kindWindow:
		return "window"
	}
	return fmt.Sprintf("unknown kind %d", k)
}

// ErrChecksum is returned by UnmarshalBinary when the state's CRC-32C does
// not match its content.
var ErrChecksum = errors.New("drift: state checksum mismatch")

// ErrVersion is returned by UnmarshalBinary for state written by a newer
// format version than this package reads; upgrade to read it.
var ErrVersion = errors.New("drift: state format version is newer than supported")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encoder appends little-endian fields to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) u64(v uint64)  { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) int(v int)     { e.u64(uint64(v)) }
func (e *encoder) f64(v float64) { e.u64(math.Float64bits(v)) }
func (e *encoder) byte1(v byte)  { e.b = append(e.b, v) }
func (e *encoder) raw(v []byte)  { e.b = append(e.b, v...) }
func (e *encoder) f64s(v []float64) {
	for _, x := range v {
		e.f64(x)
	}
}
func (e *encoder) bool(v bool) {
	if v {
		e.byte1(1)
	} else {
		e.byte1(0)
	}
}

// appendState appends a complete state record of the given kind to dst;
// body appends the payload.
func appendState(dst []byte, kind byte, body func(e *encoder)) []byte {
	start := len(dst)
	e := encoder{b: dst}
	e.raw([]byte(stateMagic))
	e.byte1(stateVersion)
	e.byte1(kind)
	e.byte1(0)
	e.byte1(0)
	e.b = binary.LittleEndian.AppendUint32(e.b, 0) // payload length, patched below
	body(&e)
	n := len(e.b) - start - headerSize
	binary.LittleEndian.PutUint32(e.b[start+8:], uint32(n))
	return binary.LittleEndian.AppendUint32(e.b, crc32.Checksum(e.b[start:], castagnoli))
}

// openState checks the envelope of a state record of the given kind and
// returns a decoder over its payload.
func openState(data []byte, kind byte) (*decoder, error) {
	name := kindName(kind)
	if len(data) < headerSize+trailerSize {
		return nil, fmt.Errorf("drift: %s state is %d bytes, shorter than the %d-byte minimum", name, len(data), headerSize+trailerSize)
	}
	if string(data[:4]) != stateMagic {
		return nil, fmt.Errorf("drift: %s state has magic %q, want %q (not drift detector state)", name, data[:4], stateMagic)
	}
	if v := data[4]; v > stateVersion {
		return nil, fmt.Errorf("%w: %s state has version %d, this build reads up to %d", ErrVersion, name, v, stateVersion)
	} else if v == 0 {
		return nil, fmt.Errorf("drift: %s state has invalid version 0", name)
	}
	if data[5] != kind {
		return nil, fmt.Errorf("drift: state holds a %s detector, not %s", kindName(data[5]), name)
	}
	if data[6] != 0 || data[7] != 0 {
		return nil, fmt.Errorf("drift: %s state has non-zero reserved bytes", name)
	}
	n := binary.LittleEndian.Uint32(data[8:12])
	if uint64(n) != uint64(len(data)-headerSize-trailerSize) {
		return nil, fmt.Errorf("drift: %s state declares a %d-byte payload but holds %d bytes", name, n, len(data)-headerSize-trailerSize)
	}
	body := data[:len(data)-trailerSize]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[len(body):]); got != want {
		return nil, fmt.Errorf("%w: %s state has CRC-32C %08x, computed %08x", ErrChecksum, name, want, got)
	}
	return &decoder{b: data[headerSize : len(data)-trailerSize], name: name}, nil
}

// decoder reads little-endian fields; the first failure sticks in err and
// later reads return zero values.
type decoder struct {
	b    []byte
	name string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("drift: %s state: "+format, append([]any{d.name}, args...)...)
	}
}

func (d *decoder) u64(field string) uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated at %s", field)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// int reads a non-negative integer no larger than max.
func (d *decoder) int(field string, max int) int {
	v := d.u64(field)
	if d.err == nil && v > uint64(max) {
		d.fail("%s = %d exceeds %d", field, v, max)
		return 0
	}
	return int(v)
}

// f64 reads a float; NaN is refused (infinities pass: some detectors use
// them as "no value yet").
func (d *decoder) f64(field string) float64 {
	v := math.Float64frombits(d.u64(field))
	if d.err == nil && math.IsNaN(v) {
		d.fail("%s is NaN", field)
		return 0
	}
	return v
}

// finite reads a float that must be finite.
func (d *decoder) finite(field string) float64 {
	v := d.f64(field)
	if d.err == nil && math.IsInf(v, 0) {
		d.fail("%s is infinite", field)
		return 0
	}
	return v
}

func (d *decoder) byte1(field string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated at %s", field)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bool(field string) bool {
	switch v := d.byte1(field); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("%s = %d, want 0 or 1", field, v)
		return false
	}
}

func (d *decoder) raw(field string, n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("truncated at %s", field)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// f64s reads n finite floats into a new slice; n is checked against the
// bytes left before allocating.
func (d *decoder) f64s(field string, n int) []float64 {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)/8 {
		d.fail("%s: %d values do not fit in the %d bytes left", field, n, len(d.b))
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = d.finite(field)
	}
	return v
}

// finish reports the first error, or trailing bytes.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}
