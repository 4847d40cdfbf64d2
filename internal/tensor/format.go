package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Constants of the on-disk format. Magic, FormatVersion and the metadata
// key names are part of the on-disk format; the limits are not and may
// grow.
const (
	// Magic is the value of metadata key "perpetua.magic".
	Magic = "perpetua-tensors"
	// FormatVersion is the version this package writes and the newest it
	// reads.
	FormatVersion = 1
	// MaxHeaderSize bounds the JSON header, in bytes.
	MaxHeaderSize = 16 << 20
	// MaxFileSize bounds the files ReadFile accepts, in bytes.
	MaxFileSize = 16 << 30

	metadataKey  = "__metadata__"
	keyMagic     = "perpetua.magic"
	keyVersion   = "perpetua.version"
	keyDataCRC   = "perpetua.data_crc32c"
	keyHeaderCRC = "perpetua.header_crc32c"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors callers may branch on with errors.Is. Decoding errors are *Error
// values whose Kind is one of them.
var (
	// ErrCorrupt means the input is not a well-formed Perpetua tensor file.
	ErrCorrupt = errors.New("tensor: corrupt tensor file")
	// ErrChecksum means a CRC32C stored in the file does not match.
	ErrChecksum = errors.New("tensor: checksum mismatch")
	// ErrVersion means the file has a format version newer than
	// FormatVersion.
	ErrVersion = errors.New("tensor: unsupported format version")
	// ErrNotFound means a requested tensor is not in the Set.
	ErrNotFound = errors.New("tensor: no such tensor")
)

// Error is a decoding or lookup failure. Its Kind is ErrCorrupt,
// ErrChecksum, ErrVersion or ErrNotFound, so errors.Is(err, ErrChecksum)
// works on it.
type Error struct {
	Path string // the file, or "" when decoding bytes in memory
	Kind error
	Msg  string // what is wrong, and where
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "tensor: " + e.Msg
	}
	return "tensor: " + e.Path + ": " + e.Msg
}

// Unwrap returns e.Kind.
func (e *Error) Unwrap() error { return e.Kind }

// headerTensor is one tensor entry of a header.
type headerTensor struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int
}

// appendHeader appends the canonical JSON encoding of a header to dst,
// leaving out metadata key skip (if not "").
func appendHeader(dst []byte, meta map[string]string, ts []headerTensor, skip string) []byte {
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	dst = appendString(dst, metadataKey)
	dst = append(dst, ":{"...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, meta[k])
	}
	dst = append(dst, '}')
	for _, t := range ts {
		dst = append(dst, ',')
		dst = appendString(dst, t.name)
		dst = append(dst, `:{"dtype":"`...)
		dst = append(dst, t.dtype...)
		dst = append(dst, `","shape":[`...)
		for i, d := range t.shape {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(d), 10)
		}
		dst = append(dst, `],"data_offsets":[`...)
		dst = strconv.AppendInt(dst, int64(t.begin), 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, int64(t.end), 10)
		dst = append(dst, "]}"...)
	}
	return append(dst, '}')
}

func appendString(dst []byte, s string) []byte {
	b, err := json.Marshal(s)
	if err != nil { // cannot happen: every string marshals
		panic("tensor: " + err.Error())
	}
	return append(dst, b...)
}

func hex8(v uint32) string { return fmt.Sprintf("%08x", v) }

// MarshalBinary encodes s in the file layout described in the package doc.
// The result depends only on the content of s. It fails only if the header
// would exceed MaxHeaderSize.
func (s *Set) MarshalBinary() ([]byte, error) {
	names := s.Names()
	ts := make([]headerTensor, len(names))
	for i, n := range names {
		e := s.tensors[n]
		ts[i] = headerTensor{name: n, dtype: e.dtype, shape: e.shape}
	}
	// Data order: wider types first, then by name, so every tensor is
	// aligned to its element size (the data section starts 8-aligned).
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return ts[order[a]].dtype.Size() > ts[order[b]].dtype.Size()
	})
	off := 0
	for _, i := range order {
		n := s.tensors[ts[i].name].len() * ts[i].dtype.Size()
		if n > math.MaxInt-off {
			return nil, fmt.Errorf("tensor: data section exceeds %d bytes", math.MaxInt)
		}
		ts[i].begin, ts[i].end = off, off+n
		off += n
	}

	meta := make(map[string]string, len(s.meta)+4)
	for k, v := range s.meta {
		meta[k] = v
	}
	meta[keyMagic] = Magic
	meta[keyVersion] = strconv.Itoa(FormatVersion)
	meta[keyDataCRC] = hex8(0) // placeholders of the final width
	meta[keyHeaderCRC] = hex8(0)
	h := appendHeader(nil, meta, ts, "")
	hlen := (8+len(h)+7)/8*8 - 8
	if hlen > MaxHeaderSize {
		return nil, fmt.Errorf("tensor: header of %d bytes exceeds MaxHeaderSize (%d); too many tensors or too much metadata", hlen, MaxHeaderSize)
	}

	out := make([]byte, 8+hlen+off)
	data := out[8+hlen:]
	for _, t := range ts {
		encodeData(data[t.begin:t.end], s.tensors[t.name])
	}
	meta[keyDataCRC] = hex8(crc32.Checksum(data, castagnoli))
	meta[keyHeaderCRC] = hex8(crc32.Checksum(appendHeader(h[:0], meta, ts, keyHeaderCRC), castagnoli))
	h = appendHeader(h[:0], meta, ts, "")

	binary.LittleEndian.PutUint64(out, uint64(hlen))
	pad := out[8+copy(out[8:8+hlen], h) : 8+hlen]
	for i := range pad {
		pad[i] = ' '
	}
	return out, nil
}

func encodeData(dst []byte, e *entry) {
	le := binary.LittleEndian
	switch e.dtype {
	case F32:
		for i, v := range e.f32 {
			le.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F64:
		for i, v := range e.f64 {
			le.PutUint64(dst[8*i:], math.Float64bits(v))
		}
	case I64:
		for i, v := range e.i64 {
			le.PutUint64(dst[8*i:], uint64(v))
		}
	}
}

// Unmarshal decodes a Set from data in the file layout described in the
// package doc, validating it fully (see the package doc). Errors are
// *Error values of kind ErrCorrupt, ErrChecksum or ErrVersion. The
// returned Set does not alias data.
func Unmarshal(data []byte) (*Set, error) { return unmarshal(data, "", true) }

// rawTensor is a header entry as it appears in JSON.
type rawTensor struct {
	DType   string  `json:"dtype"`
	Shape   []int64 `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// unmarshal implements Unmarshal. path only labels errors. verify=false
// skips the CRC checks so the fuzzer can reach everything behind them.
func unmarshal(data []byte, path string, verify bool) (*Set, error) {
	fail := func(kind error, format string, args ...any) error {
		return &Error{Path: path, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) < 8 {
		return nil, fail(ErrCorrupt, "input is %d bytes; a tensor file starts with an 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n < 2 || n > MaxHeaderSize {
		return nil, fail(ErrCorrupt, "header length %d outside [2, %d]", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fail(ErrCorrupt, "header length %d exceeds the %d bytes after the length prefix (truncated file?)", n, len(data)-8)
	}
	body := data[8+n:]
	meta, raws, err := parseHeader(data[8 : 8+n])
	if err != nil {
		return nil, fail(ErrCorrupt, "header: %v", err)
	}

	// Identity first, so a foreign or newer file gets the clearest error.
	if meta == nil {
		return nil, fail(ErrCorrupt, "header has no %q: not a Perpetua tensor file", metadataKey)
	}
	if m, ok := meta[keyMagic]; !ok || m != Magic {
		return nil, fail(ErrCorrupt, "metadata %q is %q; want %q: not a Perpetua tensor file", keyMagic, m, Magic)
	}
	vs := meta[keyVersion]
	v, err := strconv.ParseUint(vs, 10, 32)
	if err != nil || v == 0 || strconv.FormatUint(v, 10) != vs {
		return nil, fail(ErrCorrupt, "metadata %q is %q; want a positive decimal integer", keyVersion, vs)
	}
	if v > FormatVersion {
		return nil, fail(ErrVersion, "format version %d is newer than the newest this build reads (%d); upgrade Perpetua", v, FormatVersion)
	}
	for k := range meta {
		switch k {
		case keyMagic, keyVersion, keyDataCRC, keyHeaderCRC:
		default:
			if strings.HasPrefix(k, reservedPrefix) {
				return nil, fail(ErrCorrupt, "unknown reserved metadata key %q", k)
			}
		}
	}
	dataCRC, err := parseCRC(meta, keyDataCRC)
	if err != nil {
		return nil, fail(ErrCorrupt, "%v", err)
	}
	headerCRC, err := parseCRC(meta, keyHeaderCRC)
	if err != nil {
		return nil, fail(ErrCorrupt, "%v", err)
	}

	ts, err := checkTensors(raws, len(body))
	if err != nil {
		return nil, fail(ErrCorrupt, "%v", err)
	}
	if verify {
		if got := crc32.Checksum(appendHeader(nil, meta, ts, keyHeaderCRC), castagnoli); got != headerCRC {
			return nil, fail(ErrChecksum, "header CRC32C is %08x; stored %08x", got, headerCRC)
		}
		if got := crc32.Checksum(body, castagnoli); got != dataCRC {
			return nil, fail(ErrChecksum, "data CRC32C over %d bytes is %08x; stored %08x", len(body), got, dataCRC)
		}
	}

	s := &Set{tensors: make(map[string]*entry, len(ts))}
	for _, t := range ts {
		s.tensors[t.name] = decodeData(body[t.begin:t.end], t)
	}
	for k, v := range meta {
		if !strings.HasPrefix(k, reservedPrefix) {
			if s.meta == nil {
				s.meta = make(map[string]string)
			}
			s.meta[k] = v
		}
	}
	return s, nil
}

func parseCRC(meta map[string]string, key string) (uint32, error) {
	s, ok := meta[key]
	if !ok {
		return 0, fmt.Errorf("metadata has no %q", key)
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || len(s) != 8 || strings.ToLower(s) != s {
		return 0, fmt.Errorf("metadata %q is %q; want 8 lowercase hex digits", key, s)
	}
	return uint32(v), nil
}

// parseHeader parses the JSON header strictly: one object, no duplicate
// keys, string metadata values, tensor entries with exactly the three known
// fields, and nothing but whitespace after the object. meta is nil if
// there is no "__metadata__" key. raws is sorted by name.
func parseHeader(b []byte) (meta map[string]string, raws []namedRaw, err error) {
	if b[0] != '{' {
		return nil, nil, fmt.Errorf("does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := tok.(string) // a key in an object is always a string
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = parseMeta(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		if key == "" {
			return nil, nil, fmt.Errorf("empty tensor name")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", key, err)
		}
		var r rawTensor
		td := json.NewDecoder(bytes.NewReader(raw))
		td.DisallowUnknownFields()
		if err := td.Decode(&r); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %v", key, err)
		}
		raws = append(raws, namedRaw{key, r})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, err
	}
	if rest := b[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, nil, fmt.Errorf("%d unexpected bytes after the JSON object", len(rest))
	}
	sort.Slice(raws, func(i, j int) bool { return raws[i].name < raws[j].name })
	return meta, raws, nil
}

type namedRaw struct {
	name string
	rawTensor
}

// parseMeta parses the "__metadata__" object: string keys to string values.
func parseMeta(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%q is not an object", metadataKey)
	}
	meta := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("duplicate metadata key %q", key)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, err
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("metadata value of %q is not a string", key)
		}
		meta[key] = v
	}
	_, err = dec.Token() // the closing '}'
	return meta, err
}

// checkTensors validates dtypes, shapes and offsets against a data section
// of dataLen bytes and returns the entries sorted by name.
func checkTensors(raws []namedRaw, dataLen int) ([]headerTensor, error) {
	ts := make([]headerTensor, len(raws))
	for i, r := range raws {
		dt := DType(r.DType)
		size := dt.Size()
		if size == 0 {
			return nil, fmt.Errorf("tensor %q: unsupported dtype %q (want F32, F64 or I64)", r.name, r.DType)
		}
		if r.Shape == nil {
			return nil, fmt.Errorf("tensor %q: missing shape", r.name)
		}
		if len(r.Shape) > MaxRank {
			return nil, fmt.Errorf("tensor %q: %d dimensions; at most %d allowed", r.name, len(r.Shape), MaxRank)
		}
		if len(r.Offsets) != 2 {
			return nil, fmt.Errorf("tensor %q: data_offsets has %d elements; want 2", r.name, len(r.Offsets))
		}
		shape := make([]int, len(r.Shape))
		hasZero := false
		for j, d := range r.Shape {
			if d < 0 || uint64(d) > math.MaxInt {
				return nil, fmt.Errorf("tensor %q: invalid dimension %d in shape %v", r.name, d, r.Shape)
			}
			shape[j] = int(d)
			hasZero = hasZero || d == 0
		}
		maxElems := dataLen / size
		elems := 0
		if !hasZero {
			elems = 1
			for _, d := range shape {
				if elems > maxElems/d {
					return nil, fmt.Errorf("tensor %q: shape %v needs more than the %d-byte data section", r.name, r.Shape, dataLen)
				}
				elems *= d
			}
		}
		b, e := r.Offsets[0], r.Offsets[1]
		if b < 0 || e < b || e > int64(dataLen) {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d,%d] outside the %d-byte data section", r.name, b, e, dataLen)
		}
		if want := int64(elems) * int64(size); e-b != want {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d,%d] span %d bytes; %s%v needs %d", r.name, b, e, e-b, dt, r.Shape, want)
		}
		ts[i] = headerTensor{name: r.name, dtype: dt, shape: shape, begin: int(b), end: int(e)}
	}

	byOffset := slices.Clone(ts)
	sort.Slice(byOffset, func(i, j int) bool {
		if byOffset[i].begin != byOffset[j].begin {
			return byOffset[i].begin < byOffset[j].begin
		}
		return byOffset[i].end < byOffset[j].end
	})
	pos := 0
	for _, t := range byOffset {
		switch {
		case t.begin < pos:
			return nil, fmt.Errorf("tensor %q: data_offsets [%d,%d] overlap the previous tensor ending at %d", t.name, t.begin, t.end, pos)
		case t.begin > pos:
			return nil, fmt.Errorf("tensor %q: %d unreferenced bytes before data_offsets [%d,%d]", t.name, t.begin-pos, t.begin, t.end)
		}
		pos = t.end
	}
	if pos != dataLen {
		return nil, fmt.Errorf("%d unreferenced bytes at the end of the %d-byte data section", dataLen-pos, dataLen)
	}
	return ts, nil
}

func decodeData(b []byte, t headerTensor) *entry {
	le := binary.LittleEndian
	e := &entry{dtype: t.dtype, shape: t.shape}
	switch t.dtype {
	case F32:
		e.f32 = make([]float32, len(b)/4)
		for i := range e.f32 {
			e.f32[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F64:
		e.f64 = make([]float64, len(b)/8)
		for i := range e.f64 {
			e.f64[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
	case I64:
		e.i64 = make([]int64, len(b)/8)
		for i := range e.i64 {
			e.i64[i] = int64(le.Uint64(b[8*i:]))
		}
	}
	return e
}

func f32bits(v float32) uint32 { return math.Float32bits(v) }
func f64bits(v float64) uint64 { return math.Float64bits(v) }
