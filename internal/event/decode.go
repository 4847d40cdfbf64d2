package event

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The decoder is hand-written for the flat event schema: it walks the JSON
// once, dispatches each key with a string switch, stores values straight
// into the Event and reports problems per field instead of stopping at the
// first. Every event is first copied into one string, and its string
// fields are substrings of it: one allocation per event instead of one per
// field. (A decoded Event therefore keeps its source text alive; it is
// about as large as the fields themselves.)

// Decode decodes one event from a JSON object (surrounding whitespace is
// allowed) and validates it. The error, if any, is FieldErrors listing
// every problem found, with Line 0; a syntax error is a FieldError with an
// empty Field. Timestamps are returned in UTC.
func Decode(data []byte) (Event, error) {
	var e Event
	var l errList
	i := skipWS(data, 0)
	j := len(data)
	for j > i && isWS(data[j-1]) {
		j--
	}
	if i == j {
		return Event{}, FieldErrors{{Reason: "empty input; want a JSON object"}}
	}
	d := decoder{s: string(data[i:j]), errs: &l, ev: &e, base: i}
	d.decode()
	if len(l.errs) > 0 {
		return Event{}, FieldErrors(l.errs)
	}
	return e, nil
}

// DecodeBatch decodes a batch of events and appends them to dst. The body
// is either a JSON array of objects or NDJSON (one object per line; blank
// lines and a trailing newline are fine, \r\n line ends too); it is a JSON
// array iff its first byte other than whitespace (and a UTF-8 BOM) is '['.
//
// A batch is all-or-nothing: if any event is invalid, DecodeBatch returns
// dst unchanged and a *BatchError listing every problem of every bad event
// (up to MaxBatchErrors), located by line (NDJSON) or element index (JSON
// array). In a JSON array a syntax error ends decoding, since the rest
// cannot be trusted; in NDJSON decoding resumes at the next line.
//
// DecodeBatch does not retain body, and the events do not alias it: each
// event's strings share one copy of its own line.
func DecodeBatch(body []byte, dst []Event) ([]Event, error) {
	return DecodeBatchMax(body, dst, 0)
}

// DecodeBatchMax is DecodeBatch with a limit: if the batch holds more than
// maxEvents events (maxEvents > 0) it stops at the first one too many and
// returns an error wrapping ErrTooManyEvents.
func DecodeBatchMax(body []byte, dst []Event, maxEvents int) ([]Event, error) {
	n0 := len(dst)
	l := errList{max: MaxBatchErrors}
	i := 0
	if bytes.HasPrefix(body, bom) {
		i = len(bom)
	}
	var err error
	if k := skipWS(body, i); k < len(body) && body[k] == '[' {
		dst, err = decodeArray(body, k, dst, maxEvents, &l)
	} else {
		dst, err = decodeLines(body, i, dst, maxEvents, &l)
	}
	if err == nil && l.n() > 0 {
		err = &BatchError{Errors: l.errs, Omitted: l.omitted}
	}
	if err != nil {
		clear(dst[n0:])
		return dst[:n0], err
	}
	return dst, nil
}

var bom = []byte("\xEF\xBB\xBF")

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func tooMany(max int) error {
	return fmt.Errorf("event: batch has more than %d events: %w", max, ErrTooManyEvents)
}

func decodeLines(body []byte, off int, dst []Event, max int, l *errList) ([]Event, error) {
	count := 0
	for line := 1; off < len(body); line++ {
		lineStart := off
		if line == 1 {
			lineStart = 0 // columns count the BOM
		}
		end, next := len(body), len(body)
		if k := bytes.IndexByte(body[off:], '\n'); k >= 0 {
			end, next = off+k, off+k+1
		}
		a, b := skipWS(body[:end], off), end
		for b > a && isWS(body[b-1]) {
			b--
		}
		off = next
		if a == b {
			continue
		}
		if count++; max > 0 && count > max {
			return dst, tooMany(max)
		}
		dst = append(dst, Event{})
		l.line = line
		d := decoder{s: string(body[a:b]), errs: l, ev: &dst[len(dst)-1], base: a - lineStart, column: true}
		d.decode()
	}
	return dst, nil
}

func decodeArray(body []byte, i int, dst []Event, max int, l *errList) ([]Event, error) {
	l.item = true
	syntax := func(pos int, msg string) {
		l.add("", "malformed JSON at byte offset "+strconv.Itoa(pos)+": "+msg)
	}
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == ']' {
		i++
	} else {
		for n := 1; ; n++ {
			if max > 0 && n > max {
				return dst, tooMany(max)
			}
			l.line = n
			if i >= len(body) {
				syntax(i, errEOF)
				return dst, nil
			}
			// Find the element's end first (the event object itself adds
			// one level of nesting to its attrs), then decode a copy of it.
			v := valueScan{maxDepth: MaxDepth + 1}
			end, msg := scanValue(body, i, &v)
			if msg != "" {
				syntax(end, msg)
				return dst, nil
			}
			if body[i] != '{' {
				l.add("", "must be a JSON object, got "+kindOf(body[i]))
			} else {
				dst = append(dst, Event{})
				d := decoder{s: string(body[i:end]), errs: l, ev: &dst[len(dst)-1], base: i}
				d.decode()
			}
			i = skipWS(body, end)
			if i < len(body) && body[i] == ',' {
				i = skipWS(body, i+1)
				continue
			}
			if i < len(body) && body[i] == ']' {
				i++
				break
			}
			if i >= len(body) {
				syntax(i, errEOF)
			} else {
				syntax(i, "expected ',' or ']'")
			}
			return dst, nil
		}
	}
	if k := skipWS(body, i); k != len(body) {
		l.line, l.item = 0, false
		syntax(k, "unexpected data after the array")
	}
	return dst, nil
}

// result is the outcome of decoding one value.
type result uint8

const (
	rOK    result = iota
	rBad          // a field error was recorded and the value skipped
	rAbort        // a syntax error was recorded; the event cannot be decoded further
)

// path names a value in errors: "amount", "items[2]", "lines[0].sku". It
// is only turned into a string when an error is reported.
type path struct {
	name string
	idx  int // -1: not an element
	sub  string
}

func top(name string) path { return path{name: name, idx: -1} }

func (p path) String() string {
	if p.idx < 0 {
		return p.name
	}
	s := elem(p.name, p.idx)
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

// decoder decodes one event object held in s.
type decoder struct {
	s       string
	errs    *errList
	ev      *Event
	present fieldSet // keys seen
	bad     fieldSet // keys whose value was rejected while decoding
	done    fieldSet // keys whose value was fully checked while decoding
	base    int      // position of s in its line or body, for messages
	column  bool     // report positions as 1-based columns (NDJSON)
}

func (d *decoder) decode() {
	s := d.s
	if s[0] != '{' {
		v := valueScan{maxDepth: MaxDepth}
		if j, msg := scanValue(s, 0, &v); msg != "" {
			d.abort(j, msg)
		} else {
			d.errs.add("", "must be a JSON object, got "+kindOf(s[0]))
		}
		return
	}
	i, ok := d.object(0)
	if !ok {
		return
	}
	if i = skipWS(s, i); i != len(s) {
		d.abort(i, "unexpected data after the object")
		return
	}
	d.ev.HasLatLon = d.present.has(fLat) && d.present.has(fLon)
	check(d.ev, d.present, d.bad|d.done, d.errs)
}

func (d *decoder) abort(pos int, msg string) result {
	var where string
	if d.column {
		if msg == errEOF {
			msg = "unexpected end of line (NDJSON needs one complete JSON object per line)"
		}
		where = "at column " + strconv.Itoa(d.base+pos+1)
	} else {
		where = "at byte offset " + strconv.Itoa(d.base+pos)
	}
	d.errs.add("", "malformed JSON "+where+": "+msg)
	return rAbort
}

// object decodes the event object starting at s[i] == '{' and returns the
// index after it; false means a syntax error was recorded.
func (d *decoder) object(i int) (int, bool) {
	s := d.s
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(s) {
			return i, d.abort(i, errEOF) == rOK
		}
		if s[i] != '"' {
			return i, d.abort(i, errKeyQuoted) == rOK
		}
		k, esc, msg := scanString(s, i)
		if msg != "" {
			return k, d.abort(k, msg) == rOK
		}
		key := s[i+1 : k-1]
		if esc {
			key = unescape(key)
		}
		if i = skipWS(s, k); i >= len(s) || s[i] != ':' {
			if i >= len(s) {
				return i, d.abort(i, errEOF) == rOK
			}
			return i, d.abort(i, errColon) == rOK
		}
		if i = skipWS(s, i+1); i >= len(s) {
			return i, d.abort(i, errEOF) == rOK
		}
		f, known := lookupField(key)
		var r result
		switch {
		case !known:
			name := keyName(key)
			d.errs.add(name, "unknown field "+strconv.Quote(name)+`; put extra data in "attrs"`)
			i, r = d.skip(i)
		case d.present.has(f):
			d.errs.add(f.String(), "duplicate field")
			i, r = d.skip(i)
		default:
			d.present |= 1 << f
			i, r = d.value(f, i)
			if r == rBad {
				d.bad |= 1 << f
			}
		}
		if r == rAbort {
			return i, false
		}
		if i = skipWS(s, i); i >= len(s) {
			return i, d.abort(i, errEOF) == rOK
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
			continue
		case '}':
			return i + 1, true
		}
		return i, d.abort(i, "expected ',' or '}'") == rOK
	}
}

// keyName makes an unknown key fit for an error message: valid UTF-8 and
// at most 64 bytes.
func keyName(k string) string {
	if len(k) > 64 {
		n := 64
		for n > 0 && !utf8.RuneStart(k[n]) {
			n--
		}
		k = k[:n] + "…"
	}
	return strings.ToValidUTF8(k, "\uFFFD")
}

// skip skips the value at s[i] after an error was recorded for it.
func (d *decoder) skip(i int) (int, result) {
	v := valueScan{maxDepth: MaxDepth}
	j, msg := scanValue(d.s, i, &v)
	if msg != "" {
		return j, d.abort(j, msg)
	}
	return j, rBad
}

// wrongType reports that the value at s[i] is not of the wanted JSON type
// and skips it.
func (d *decoder) wrongType(p path, want string, i int) (int, result) {
	s := d.s
	if j, ok := nonJSONNumber(s, i); ok {
		d.errs.add(p.String(), "must be "+want+", got "+s[i:j]+", which is not valid JSON")
		return j, rBad
	}
	// Scan first: a broken literal ("tru") is a syntax error, not a type.
	v := valueScan{maxDepth: MaxDepth}
	j, msg := scanValue(s, i, &v)
	if msg != "" {
		return j, d.abort(j, msg)
	}
	d.errs.add(p.String(), "must be "+want+", got "+kindOf(s[i]))
	return j, rBad
}

// str decodes the string value at s[i].
func (d *decoder) str(p path, i int) (string, int, result) {
	s := d.s
	if s[i] != '"' {
		j, r := d.wrongType(p, "a string", i)
		return "", j, r
	}
	j, esc, msg := scanString(s, i)
	if msg != "" {
		return "", j, d.abort(j, msg)
	}
	v := s[i+1 : j-1]
	if esc {
		v = unescape(v)
	}
	return v, j, rOK
}

// num decodes the number value at s[i]. A number too large for a float64
// decodes as ±Inf, which the range checks then reject.
func (d *decoder) num(p path, i int) (float64, int, result) {
	s := d.s
	if c := s[i]; isDigit(c) || c == '-' && !(i+1 < len(s) && s[i+1] == 'I') {
		j, msg := scanNumber(s, i)
		if msg != "" {
			return 0, j, d.abort(j, msg)
		}
		x, _ := strconv.ParseFloat(s[i:j], 64)
		if x == 0 {
			x = 0 // no negative zero
		}
		return x, j, rOK
	}
	if j, ok := nonJSONNumber(s, i); ok {
		d.errs.add(p.String(), "must be a finite number; "+s[i:j]+" is not valid JSON")
		return 0, j, rBad
	}
	j, r := d.wrongType(p, "a number", i)
	return 0, j, r
}

// integer decodes a number that must be integral (3, 3.0 and 3e0 are all 3).
func (d *decoder) integer(p path, i int) (int, int, result) {
	x, j, r := d.num(p, i)
	if r != rOK {
		return 0, j, r
	}
	if x != float64(int64(x)) || x > 1<<53 || x < -(1<<53) {
		d.errs.add(p.String(), "must be an integer")
		return 0, j, rBad
	}
	return int(x), j, rOK
}

// value decodes the value of field f at s[i].
func (d *decoder) value(f field, i int) (int, result) {
	e := d.ev
	p := top(fieldNames[f])
	switch f {
	case fType:
		v, j, r := d.str(p, i)
		if r != rOK {
			return j, r
		}
		t, ok := ParseType(v)
		if !ok {
			d.errs.add(p.name, "unknown type "+strconv.Quote(keyName(v))+"; want one of "+typeList)
			return j, rBad
		}
		e.Type = t
		return j, rOK
	case fTimestamp, fWindowStart, fWindowEnd:
		v, j, r := d.str(p, i)
		if r != rOK {
			return j, r
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			d.errs.add(p.name, "must be an RFC 3339 time such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.123+02:00")
			return j, rBad
		}
		t = t.UTC()
		switch f {
		case fTimestamp:
			e.Timestamp = t
		case fWindowStart:
			e.WindowStart = t
		default:
			e.WindowEnd = t
		}
		return j, rOK
	case fPosition:
		n, j, r := d.integer(p, i)
		e.Position = n
		return j, r
	case fPrice, fQuantity, fPropensity, fReward, fAmount, fValue, fLat, fLon:
		x, j, r := d.num(p, i)
		if r != rOK {
			return j, r
		}
		switch f {
		case fPrice:
			e.Price, e.HasPrice = x, true
		case fQuantity:
			e.Quantity = x
		case fPropensity:
			e.Propensity, e.HasPropensity = x, true
		case fReward:
			e.Reward = x
		case fAmount:
			e.Amount = x
		case fValue:
			e.Value = x
		case fLat:
			e.Lat = x
		case fLon:
			e.Lon = x
		}
		return j, rOK
	case fItems:
		return d.items(i)
	case fPositions:
		return d.positions(i)
	case fPropensities:
		return d.propensities(i)
	case fLines:
		return d.lines(i)
	case fAttrs:
		return d.attrs(i)
	}
	v, j, r := d.str(p, i)
	if r != rOK {
		return j, r
	}
	switch f {
	case fID:
		e.ID = v
	case fUserID:
		e.UserID = v
	case fItemID:
		e.ItemID = v
	case fSessionID:
		e.SessionID = v
	case fRequestID:
		e.RequestID = v
	case fTransactionID:
		e.TransactionID = v
	case fCustomerID:
		e.CustomerID = v
	case fTerminalID:
		e.TerminalID = v
	case fMerchantID:
		e.MerchantID = v
	case fCurrency:
		e.Currency = v
	case fDevice:
		e.Device = v
	case fTargetID:
		e.TargetID = v
	case fKind:
		e.Kind = v
	case fSKU:
		e.SKU = v
	case fWarehouse:
		e.Warehouse = v
	case fOrderID:
		e.OrderID = v
	default:
		panic("event: no decoder for field " + f.String())
	}
	return j, rOK
}

// arrOpen starts an array at s[i]. It returns the index of the first
// element, or the index after "[]" with empty set.
func (d *decoder) arrOpen(p path, want string, i int) (j int, empty bool, r result) {
	s := d.s
	if s[i] != '[' {
		j, r = d.wrongType(p, want, i)
		return j, false, r
	}
	if j = skipWS(s, i+1); j >= len(s) {
		return j, false, d.abort(j, errEOF)
	}
	if s[j] == ']' {
		return j + 1, true, rOK
	}
	return j, false, rOK
}

// arrNext moves past the separator after an array element ending at i.
// more reports whether another element follows (at j).
func (d *decoder) arrNext(i int) (j int, more bool, r result) {
	s := d.s
	if i = skipWS(s, i); i >= len(s) {
		return i, false, d.abort(i, errEOF)
	}
	switch s[i] {
	case ',':
		if j = skipWS(s, i+1); j >= len(s) {
			return j, false, d.abort(j, errEOF)
		}
		return j, true, rOK
	case ']':
		return i + 1, false, rOK
	}
	return i, false, d.abort(i, "expected ',' or ']'")
}

// tooLong records that an array field has more than max entries.
func (d *decoder) tooLong(name string, max int) {
	d.errs.add(name, "must have at most "+strconv.Itoa(max)+" entries")
}

func (d *decoder) items(i int) (int, result) {
	const name = "items"
	j, empty, r := d.arrOpen(top(name), "an array of strings", i)
	if r != rOK || empty {
		return j, r
	}
	var out []string
	bad := false
	for n := 0; ; n++ {
		if n == MaxItems {
			d.tooLong(name, MaxItems)
			bad = true
		}
		var v string
		if v, j, r = d.str(path{name, n, ""}, j); r == rAbort {
			return j, r
		}
		if r == rBad {
			bad = true
		} else if !bad {
			out = append(out, v)
		}
		var more bool
		if j, more, r = d.arrNext(j); r != rOK {
			return j, r
		}
		if !more {
			break
		}
	}
	if bad {
		return j, rBad
	}
	d.ev.Items = out
	return j, rOK
}

func (d *decoder) positions(i int) (int, result) {
	const name = "positions"
	j, empty, r := d.arrOpen(top(name), "an array of integers", i)
	if r != rOK || empty {
		if empty {
			d.ev.Positions = []int{}
		}
		return j, r
	}
	var out []int
	bad := false
	for n := 0; ; n++ {
		if n == MaxItems {
			d.tooLong(name, MaxItems)
			bad = true
		}
		var v int
		if v, j, r = d.integer(path{name, n, ""}, j); r == rAbort {
			return j, r
		}
		if r == rBad {
			bad = true
		} else if !bad {
			out = append(out, v)
		}
		var more bool
		if j, more, r = d.arrNext(j); r != rOK {
			return j, r
		}
		if !more {
			break
		}
	}
	if bad {
		return j, rBad
	}
	d.ev.Positions = out
	return j, rOK
}

func (d *decoder) propensities(i int) (int, result) {
	const name = "propensities"
	j, empty, r := d.arrOpen(top(name), "an array of numbers", i)
	if r != rOK || empty {
		if empty {
			d.ev.Propensities = []float64{}
		}
		return j, r
	}
	var out []float64
	bad := false
	for n := 0; ; n++ {
		if n == MaxItems {
			d.tooLong(name, MaxItems)
			bad = true
		}
		var x float64
		if x, j, r = d.num(path{name, n, ""}, j); r == rAbort {
			return j, r
		}
		if r == rBad {
			bad = true
		} else if !bad {
			out = append(out, x)
		}
		var more bool
		if j, more, r = d.arrNext(j); r != rOK {
			return j, r
		}
		if !more {
			break
		}
	}
	if bad {
		return j, rBad
	}
	d.ev.Propensities = out
	return j, rOK
}

func (d *decoder) lines(i int) (int, result) {
	const name = "lines"
	const want = `an array of {"sku", "quantity"} objects`
	j, empty, r := d.arrOpen(top(name), want, i)
	if r != rOK || empty {
		if empty {
			d.ev.Lines = []OrderLine{}
		}
		return j, r
	}
	var out []OrderLine
	bad := false
	for n := 0; ; n++ {
		if n == MaxLines {
			d.tooLong(name, MaxLines)
			bad = true
		}
		if d.s[j] != '{' {
			j, r = d.wrongType(path{name, n, ""}, `an object with "sku" and "quantity"`, j)
		} else {
			var ln OrderLine
			ln, j, r = d.line(n, j)
			if r == rOK && !bad {
				out = append(out, ln)
			}
		}
		if r == rAbort {
			return j, r
		}
		if r == rBad {
			bad = true
		}
		var more bool
		if j, more, r = d.arrNext(j); r != rOK {
			return j, r
		}
		if !more {
			break
		}
	}
	if bad {
		return j, rBad
	}
	d.ev.Lines = out
	return j, rOK
}

// line decodes the order line object at s[i] == '{'. It reports unknown,
// duplicate, missing and wrongly typed keys; value ranges are left to check.
func (d *decoder) line(n, i int) (OrderLine, int, result) {
	s := d.s
	var ln OrderLine
	var seenSKU, seenQty bool
	res := rOK
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		i++
	} else {
		for {
			if i >= len(s) {
				return ln, i, d.abort(i, errEOF)
			}
			if s[i] != '"' {
				return ln, i, d.abort(i, errKeyQuoted)
			}
			k, esc, msg := scanString(s, i)
			if msg != "" {
				return ln, k, d.abort(k, msg)
			}
			key := s[i+1 : k-1]
			if esc {
				key = unescape(key)
			}
			if i = skipWS(s, k); i >= len(s) || s[i] != ':' {
				if i >= len(s) {
					return ln, i, d.abort(i, errEOF)
				}
				return ln, i, d.abort(i, errColon)
			}
			if i = skipWS(s, i+1); i >= len(s) {
				return ln, i, d.abort(i, errEOF)
			}
			p := path{"lines", n, keyName(key)}
			var r result
			switch {
			case key == "sku" && !seenSKU:
				seenSKU = true
				ln.SKU, i, r = d.str(p, i)
			case key == "quantity" && !seenQty:
				seenQty = true
				ln.Quantity, i, r = d.num(p, i)
			case key == "sku" || key == "quantity":
				d.errs.add(p.String(), "duplicate field")
				i, r = d.skip(i)
			default:
				d.errs.add(p.String(), "unknown field "+strconv.Quote(p.sub)+`; a line has only "sku" and "quantity"`)
				i, r = d.skip(i)
			}
			if r == rAbort {
				return ln, i, r
			}
			if r == rBad {
				res = rBad
			}
			if i = skipWS(s, i); i >= len(s) {
				return ln, i, d.abort(i, errEOF)
			}
			if s[i] == ',' {
				i = skipWS(s, i+1)
				continue
			}
			if s[i] == '}' {
				i++
				break
			}
			return ln, i, d.abort(i, "expected ',' or '}'")
		}
	}
	if !seenSKU {
		d.errs.add(path{"lines", n, "sku"}.String(), "required")
		res = rBad
	}
	if !seenQty {
		d.errs.add(path{"lines", n, "quantity"}.String(), "required")
		res = rBad
	}
	return ln, i, res
}

// attrs validates the object at s[i] and stores a compacted copy.
func (d *decoder) attrs(i int) (int, result) {
	s := d.s
	if s[i] != '{' {
		return d.wrongType(top("attrs"), "a JSON object", i)
	}
	v := valueScan{check: true, maxDepth: MaxDepth}
	j, msg := scanValue(s, i, &v)
	if msg != "" {
		return j, d.abort(j, msg)
	}
	if v.problem != "" {
		d.errs.add("attrs", v.problem)
		return j, rBad
	}
	if v.n > MaxAttrsLen {
		d.errs.add("attrs", "must be at most "+strconv.Itoa(MaxAttrsLen)+" bytes of compact JSON")
		return j, rBad
	}
	d.ev.Attrs = compact(make([]byte, 0, v.n), s[i:j])
	d.done |= 1 << fAttrs
	return j, rOK
}
