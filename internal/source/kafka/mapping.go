package kafka

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// Mapping says how to build one Perpetua event from one Kafka record whose
// value is a JSON object. Each entry of Fields names a target field of the
// event schema (docs/events.schema.json: "id", "type", "timestamp",
// "user_id", "amount", "items", "attrs", …) and where its value comes
// from. The object built from the entries is decoded and validated by
// package event, so a record that maps to an invalid event is refused
// with the event package's field errors.
type Mapping struct {
	Fields map[string]Field `json:"fields"`
}

// Field is the source of one target field: exactly one of Path and Const.
type Field struct {
	// Path locates the value in the record's JSON value: object keys
	// separated by dots, array elements by [i] ("user.id",
	// "lines[0].sku"). Paths starting with "$" read the record's
	// metadata: "$key" (the key as a string), "$topic", "$partition",
	// "$offset", "$timestamp" (the record's timestamp, RFC 3339) and
	// "$offset_id" ("<topic>-<partition>-<offset>", a stable id for
	// sources without one).
	Path string `json:"path,omitempty"`
	// Const is a JSON value used for every record ("view", 1, …).
	Const json.RawMessage `json:"const,omitempty"`
	// Map translates the source value (a string, or a number's literal
	// text) to the target JSON value: {"page_view": "view"}. A value not
	// in Map makes the record invalid, unless Default is set.
	Map map[string]json.RawMessage `json:"map,omitempty"`
	// Default is the target value when the source is absent or null, or
	// (with Map) not in Map.
	Default json.RawMessage `json:"default,omitempty"`
	// Format converts a time: "rfc3339" (the default: the value is passed
	// on), "unix", "unix_ms", "unix_us", "unix_ns" (a number or numeric
	// string of seconds, milliseconds, … since 1970, UTC), or
	// "layout:<Go time layout>" for a string such as
	// "layout:2006-01-02 15:04:05" (UTC unless the layout has a zone).
	Format string `json:"format,omitempty"`
	// Optional omits the field when the source is absent or null and
	// there is no Default; otherwise that makes the record invalid.
	Optional bool `json:"optional,omitempty"`
}

// metadata sources of Field.Path.
const (
	metaNone = iota
	metaKey
	metaTopic
	metaPartition
	metaOffset
	metaTimestamp
	metaOffsetID
)

var metaPaths = map[string]int{
	"$key": metaKey, "$topic": metaTopic, "$partition": metaPartition,
	"$offset": metaOffset, "$timestamp": metaTimestamp, "$offset_id": metaOffsetID,
}

// step is one step of a path: an object key, or an array index if idx ≥ 0.
type step struct {
	key string
	idx int
}

// timeFormat is a compiled Field.Format.
type timeFormat struct {
	unit   time.Duration // for unix*: the unit of the number; 0 otherwise
	layout string        // for layout:
}

// field is a compiled Field.
type field struct {
	target   string
	quoted   []byte // the target as a JSON string followed by ':'
	path     []step
	pathText string
	meta     int
	konst    []byte
	mapping  map[string][]byte
	def      []byte
	format   *timeFormat
	optional bool
}

// mapper is a compiled Mapping.
type mapper struct {
	fields []field // in target order
	top    bool    // some field reads the record value
}

// Meta is a Kafka record's metadata that paths starting with "$" read.
type Meta struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Timestamp time.Time
}

// compile checks m and compiles it. Errors name the target field.
func compile(m Mapping) (*mapper, error) {
	if len(m.Fields) == 0 {
		return nil, errors.New(`mapping.fields: empty; map at least "id", "type" and "timestamp"`)
	}
	targets := make([]string, 0, len(m.Fields))
	for t := range m.Fields {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	mp := &mapper{}
	for _, t := range targets {
		f, err := compileField(t, m.Fields[t])
		if err != nil {
			return nil, fmt.Errorf("mapping.fields.%s: %v", t, err)
		}
		if f.meta == metaNone && f.konst == nil {
			mp.top = true
		}
		mp.fields = append(mp.fields, f)
	}
	for _, need := range []string{"id", "type", "timestamp"} {
		if _, ok := m.Fields[need]; !ok {
			return nil, fmt.Errorf("mapping.fields: no %q; every event needs id, type and timestamp (use {\"path\": \"$offset_id\"} for an id, {\"path\": \"$timestamp\"} for the record time)", need)
		}
	}
	return mp, nil
}

func compileField(target string, f Field) (field, error) {
	if err := knownTarget(target); err != nil {
		return field{}, err
	}
	c := field{target: target, optional: f.Optional, pathText: f.Path}
	c.quoted = append(strconv.AppendQuote(nil, target), ':')
	switch {
	case (f.Path == "") == (f.Const == nil):
		return c, errors.New(`set exactly one of "path" and "const"`)
	case f.Const != nil:
		if !json.Valid(f.Const) {
			return c, fmt.Errorf("const %s is not valid JSON", f.Const)
		}
		c.konst = compact(f.Const)
	case strings.HasPrefix(f.Path, "$"):
		m, ok := metaPaths[f.Path]
		if !ok {
			return c, fmt.Errorf("path %q: unknown record metadata; want one of $key, $topic, $partition, $offset, $timestamp, $offset_id", f.Path)
		}
		c.meta = m
	default:
		p, err := parsePath(f.Path)
		if err != nil {
			return c, err
		}
		c.path = p
	}
	if f.Map != nil {
		c.mapping = make(map[string][]byte, len(f.Map))
		for k, v := range f.Map {
			if !json.Valid(v) {
				return c, fmt.Errorf("map[%q] = %s is not valid JSON", k, v)
			}
			c.mapping[k] = compact(v)
		}
	}
	if f.Default != nil {
		if !json.Valid(f.Default) {
			return c, fmt.Errorf("default %s is not valid JSON", f.Default)
		}
		c.def = compact(f.Default)
	}
	if f.Format != "" {
		tf, err := parseFormat(f.Format)
		if err != nil {
			return c, err
		}
		c.format = &tf
	}
	return c, nil
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return bytes.Clone(b)
	}
	return buf.Bytes()
}

// knownTarget reports whether target is a field of the event schema. It
// asks the event decoder (the schema's single source of truth), which
// names unknown keys.
func knownTarget(target string) error {
	obj := append(append([]byte("{"), strconv.Quote(target)...), ":null}"...)
	_, err := event.Decode(obj)
	var fes event.FieldErrors
	if errors.As(err, &fes) {
		for _, fe := range fes {
			if fe.Field == target && strings.HasPrefix(fe.Reason, "unknown field") {
				return fmt.Errorf("not a field of the event schema (docs/events.schema.json); map extra data into \"attrs\"")
			}
		}
	}
	return nil
}

// parsePath parses "a.b[2].c": dot-separated non-empty keys, each
// followed by any number of [index].
func parsePath(p string) ([]step, error) {
	var steps []step
	for _, seg := range strings.Split(p, ".") {
		key, rest, hasIdx := strings.Cut(seg, "[")
		if key == "" {
			return nil, fmt.Errorf("path %q: empty key (want keys separated by '.', e.g. \"user.id\" or \"lines[0].sku\")", p)
		}
		steps = append(steps, step{key: key, idx: -1})
		for hasIdx {
			num, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: bad index [%s; want [n] with n ≥ 0", p, rest)
			}
			steps = append(steps, step{idx: n})
			if after == "" {
				break
			}
			if after[0] != '[' {
				return nil, fmt.Errorf("path %q: unexpected %q after ]", p, after)
			}
			rest = after[1:]
		}
	}
	return steps, nil
}

func parseFormat(f string) (timeFormat, error) {
	switch f {
	case "rfc3339":
		return timeFormat{}, nil
	case "unix":
		return timeFormat{unit: time.Second}, nil
	case "unix_ms":
		return timeFormat{unit: time.Millisecond}, nil
	case "unix_us":
		return timeFormat{unit: time.Microsecond}, nil
	case "unix_ns":
		return timeFormat{unit: time.Nanosecond}, nil
	}
	if l, ok := strings.CutPrefix(f, "layout:"); ok && l != "" {
		return timeFormat{layout: l}, nil
	}
	return timeFormat{}, fmt.Errorf("format %q: want rfc3339, unix, unix_ms, unix_us, unix_ns or layout:<Go layout>", f)
}

// MappingError is one problem building the event object of one record,
// before validation.
type MappingError struct {
	Field  string // the target field
	Path   string // the source path, if any
	Reason string
}

func (e MappingError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s (from %s): %s", e.Field, e.Path, e.Reason)
	}
	return e.Field + ": " + e.Reason
}

// MappingErrors is every mapping problem of one record, in target field
// order. It is never empty.
type MappingErrors []MappingError

func (e MappingErrors) Error() string {
	var b strings.Builder
	for i, me := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(me.Error())
	}
	return b.String()
}

// apply builds the JSON object of the event for a record value and its
// metadata, appending it to dst.
func (m *mapper) apply(dst, value []byte, meta *Meta) ([]byte, error) {
	var top []byte
	if m.top {
		top = trimWS(value)
		if len(top) == 0 || top[0] != '{' || !json.Valid(top) {
			return dst, MappingErrors{{Field: "(record)", Reason: "value is not a JSON object"}}
		}
	}
	dst = append(dst, '{')
	n := 0
	var errs MappingErrors
	for i := range m.fields {
		f := &m.fields[i]
		v, err := f.value(top, meta)
		if err != nil {
			errs = append(errs, *err)
			continue
		}
		if v == nil {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, f.quoted...)
		dst = append(dst, v...)
	}
	if errs != nil {
		return dst, errs
	}
	return append(dst, '}'), nil
}

// value returns f's JSON value for a record, or nil to omit the field.
func (f *field) value(top []byte, meta *Meta) ([]byte, *MappingError) {
	bad := func(format string, args ...any) *MappingError {
		return &MappingError{Field: f.target, Path: f.pathText, Reason: fmt.Sprintf(format, args...)}
	}
	var v []byte
	switch {
	case f.konst != nil:
		return f.konst, nil
	case f.meta != metaNone:
		v = metaValue(f.meta, meta)
	default:
		raw, ok := lookup(top, f.path)
		if ok && string(raw) != "null" {
			v = raw
		}
	}
	if v == nil {
		switch {
		case f.def != nil:
			return f.def, nil
		case f.optional:
			return nil, nil
		}
		return nil, bad("absent or null in the record")
	}
	if f.mapping != nil {
		key, ok := scalarText(v)
		if !ok {
			return nil, bad("value %s is not a string or number, so it cannot be mapped", truncate(v))
		}
		mv, ok := f.mapping[key]
		switch {
		case ok:
			v = mv
		case f.def != nil:
			v = f.def
		default:
			return nil, bad("value %q is not in the mapping's \"map\"", truncate([]byte(key)))
		}
	}
	if f.format != nil {
		t, err := f.format.parse(v)
		if err != nil {
			return nil, bad("%v", err)
		}
		v = strconv.AppendQuote(nil, t.UTC().Format(time.RFC3339Nano))
	}
	return v, nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "…"...)
	}
	return b
}

// scalarText returns a JSON string's text or a number's literal.
func scalarText(v []byte) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false
		}
		return s, true
	}
	if v[0] == '-' || '0' <= v[0] && v[0] <= '9' {
		return string(v), true
	}
	return "", false
}

func (tf *timeFormat) parse(v []byte) (time.Time, error) {
	s, ok := scalarText(v)
	if !ok {
		return time.Time{}, fmt.Errorf("time %s is not a string or number", truncate(v))
	}
	switch {
	case tf.unit > 0:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return time.Time{}, fmt.Errorf("time %q is not a number of %s", s, unitName(tf.unit))
		}
		// Integers convert exactly; fractions to the nanosecond.
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if tf.unit > 1 && (n > math.MaxInt64/int64(tf.unit) || n < math.MinInt64/int64(tf.unit)) {
				return time.Time{}, fmt.Errorf("time %q %s is out of range", s, unitName(tf.unit))
			}
			return time.Unix(0, n*int64(tf.unit)), nil
		}
		ns := x * float64(tf.unit)
		if ns > math.MaxInt64 || ns < math.MinInt64 {
			return time.Time{}, fmt.Errorf("time %q %s is out of range", s, unitName(tf.unit))
		}
		return time.Unix(0, int64(ns)), nil
	case tf.layout != "":
		t, err := time.Parse(tf.layout, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q does not match layout %q", s, tf.layout)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q is not RFC 3339", s)
	}
	return t, nil
}

func unitName(u time.Duration) string {
	switch u {
	case time.Second:
		return "seconds"
	case time.Millisecond:
		return "milliseconds"
	case time.Microsecond:
		return "microseconds"
	}
	return "nanoseconds"
}

// lookup follows path through v, a valid JSON object, without decoding
// it, and returns the value found (without surrounding whitespace).
func lookup(v []byte, path []step) ([]byte, bool) {
	for _, s := range path {
		var ok bool
		if s.idx >= 0 {
			v, ok = element(v, s.idx)
		} else {
			v, ok = member(v, s.key)
		}
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// member returns the value of key in the JSON object v (valid JSON); of a
// repeated key, the last one, as encoding/json does.
func member(v []byte, key string) ([]byte, bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	var found []byte
	i := skipWS(v, 1)
	for i < len(v) && v[i] == '"' {
		end := skipString(v, i)
		k := v[i+1 : end-1]
		match := string(k) == key
		if !match && bytes.IndexByte(k, '\\') >= 0 {
			var s string
			match = json.Unmarshal(v[i:end], &s) == nil && s == key
		}
		i = skipWS(v, end) + 1 // ':'
		i = skipWS(v, i)
		vend := skipValue(v, i)
		if match {
			found = v[i:vend]
		}
		i = skipWS(v, vend)
		if i >= len(v) || v[i] != ',' {
			break
		}
		i = skipWS(v, i+1)
	}
	return found, found != nil
}

// element returns element idx of the JSON array v (valid JSON).
func element(v []byte, idx int) ([]byte, bool) {
	if len(v) == 0 || v[0] != '[' {
		return nil, false
	}
	i := skipWS(v, 1)
	if i < len(v) && v[i] == ']' {
		return nil, false
	}
	for n := 0; i < len(v); n++ {
		end := skipValue(v, i)
		if n == idx {
			return v[i:end], true
		}
		i = skipWS(v, end)
		if i >= len(v) || v[i] != ',' {
			return nil, false
		}
		i = skipWS(v, i+1)
	}
	return nil, false
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(v []byte, i int) int {
	for i < len(v) && isWS(v[i]) {
		i++
	}
	return i
}

func trimWS(v []byte) []byte {
	i, j := 0, len(v)
	for i < j && isWS(v[i]) {
		i++
	}
	for j > i && isWS(v[j-1]) {
		j--
	}
	return v[i:j]
}

// skipString returns the index after the string starting at v[i] == '"'.
func skipString(v []byte, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(v)
}

// skipValue returns the index after the JSON value starting at v[i]. v is
// valid JSON, so brackets balance outside strings.
func skipValue(v []byte, i int) int {
	if i >= len(v) {
		return i
	}
	switch v[i] {
	case '"':
		return skipString(v, i)
	case '{', '[':
		depth := 0
		for i < len(v) {
			switch v[i] {
			case '"':
				i = skipString(v, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(v) && v[i] != ',' && v[i] != '}' && v[i] != ']' && !isWS(v[i]) {
		i++
	}
	return i
}

// metaValue returns a metadata source as JSON.
func metaValue(kind int, m *Meta) []byte {
	switch kind {
	case metaKey:
		if m.Key == nil {
			return nil
		}
		return strconv.AppendQuote(nil, string(m.Key))
	case metaTopic:
		return strconv.AppendQuote(nil, m.Topic)
	case metaPartition:
		return strconv.AppendInt(nil, int64(m.Partition), 10)
	case metaOffset:
		return strconv.AppendInt(nil, m.Offset, 10)
	case metaTimestamp:
		if m.Timestamp.IsZero() {
			return nil
		}
		return strconv.AppendQuote(nil, m.Timestamp.UTC().Format(time.RFC3339Nano))
	case metaOffsetID:
		return strconv.AppendQuote(nil, m.Topic+"-"+strconv.Itoa(int(m.Partition))+"-"+strconv.FormatInt(m.Offset, 10))
	}
	return nil
}
