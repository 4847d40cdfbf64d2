package serve

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits of a purchase prediction request.
const (
	MaxPairs = 1000 // pairs per request
	MaxIDLen = 256  // bytes per user_id, item_id and model name
)

// predictRequest is a decoded POST /v1/predict/purchase body. Its strings
// share one allocation; pairs is owned by the decoder and reused.
type predictRequest struct {
	model string
	pairs []Pair
}

// span locates a pair's IDs in pairDecoder.ids.
type span struct{ u0, u1, i0, i1 int }

// pairDecoder decodes prediction request bodies:
//
//	{"pairs":[{"user_id":"u1","item_id":"i9"}, …], "model":"mlp"}
//	{"user_id":"u1","item_id":"i9", "model":"mlp"}
//
// "model" is optional. It is a strict JSON parser for exactly these shapes:
// unknown or duplicate keys, invalid UTF-8, lone surrogate escapes and
// trailing data are errors; everything it accepts, encoding/json decodes to
// the same values. It exists because the predict path is hot: decoding
// costs one allocation (a string holding every ID) however many pairs the
// body has, and the decoder's buffers are reused across requests.
type pairDecoder struct {
	in    []byte
	pos   int
	ids   []byte // unescaped IDs, back to back
	spans []span
	pairs []Pair
}

func (d *pairDecoder) decode(in []byte) (predictRequest, error) {
	d.in, d.pos = in, 0
	d.ids, d.spans = d.ids[:0], d.spans[:0]
	var (
		havePairs, haveUser, haveItem, haveModel bool
		single                                   span
		m0, m1                                   int
	)
	d.ws()
	if !d.consume('{') {
		return predictRequest{}, d.syntax("want a JSON object")
	}
	d.ws()
	if !d.consume('}') {
		for {
			k0, err := d.key()
			if err != nil {
				return predictRequest{}, err
			}
			key := d.ids[k0:]
			switch {
			case string(key) == "pairs":
				d.ids = d.ids[:k0]
				if havePairs {
					return predictRequest{}, errors.New(`duplicate field "pairs"`)
				}
				havePairs = true
				err = d.pairsArray()
			case string(key) == "user_id":
				d.ids = d.ids[:k0]
				if haveUser {
					return predictRequest{}, errors.New(`duplicate field "user_id"`)
				}
				haveUser = true
				single.u0, single.u1, err = d.id(-1, "user_id", false)
			case string(key) == "item_id":
				d.ids = d.ids[:k0]
				if haveItem {
					return predictRequest{}, errors.New(`duplicate field "item_id"`)
				}
				haveItem = true
				single.i0, single.i1, err = d.id(-1, "item_id", false)
			case string(key) == "model":
				d.ids = d.ids[:k0]
				if haveModel {
					return predictRequest{}, errors.New(`duplicate field "model"`)
				}
				haveModel = true
				m0, m1, err = d.id(-1, "model", true)
			default:
				return predictRequest{}, errors.New("unknown field " + quoteShort(key) +
					` (want "pairs", or "user_id" and "item_id"; optionally "model")`)
			}
			if err != nil {
				return predictRequest{}, err
			}
			d.ws()
			if d.consume(',') {
				d.ws()
				continue
			}
			if d.consume('}') {
				break
			}
			return predictRequest{}, d.syntax("want ',' or '}'")
		}
	}
	d.ws()
	if d.pos != len(d.in) {
		return predictRequest{}, d.syntax("unexpected data after the JSON object")
	}
	switch {
	case havePairs && (haveUser || haveItem):
		return predictRequest{}, errors.New(`use either "pairs" or "user_id" and "item_id", not both`)
	case havePairs:
	case !haveUser && !haveItem:
		return predictRequest{}, errors.New(`want {"pairs":[{"user_id":…,"item_id":…}, …]} or {"user_id":…,"item_id":…}`)
	case !haveUser:
		return predictRequest{}, errors.New(`missing "user_id"`)
	case !haveItem:
		return predictRequest{}, errors.New(`missing "item_id"`)
	default:
		d.spans = append(d.spans, single)
	}

	all := string(d.ids)
	d.pairs = d.pairs[:0]
	for _, sp := range d.spans {
		d.pairs = append(d.pairs, Pair{UserID: all[sp.u0:sp.u1], ItemID: all[sp.i0:sp.i1]})
	}
	return predictRequest{model: all[m0:m1], pairs: d.pairs}, nil
}

func (d *pairDecoder) pairsArray() error {
	if !d.consume('[') {
		return errors.New(`pairs: must be an array of {"user_id":…,"item_id":…} objects`)
	}
	d.ws()
	if d.consume(']') {
		return errors.New("pairs: must hold at least 1 pair")
	}
	for i := 0; ; i++ {
		if i == MaxPairs {
			return errors.New("pairs: more than " + strconv.Itoa(MaxPairs) + " pairs; send at most " +
				strconv.Itoa(MaxPairs) + " per request")
		}
		if err := d.pairObject(i); err != nil {
			return err
		}
		d.ws()
		if d.consume(',') {
			d.ws()
			continue
		}
		if d.consume(']') {
			return nil
		}
		return d.syntax("want ',' or ']'")
	}
}

func (d *pairDecoder) pairObject(i int) error {
	if !d.consume('{') {
		return errors.New(fieldPath(i, "") + `: must be an object {"user_id":…,"item_id":…}`)
	}
	var sp span
	var haveUser, haveItem bool
	d.ws()
	if !d.consume('}') {
		for {
			k0, err := d.key()
			if err != nil {
				return err
			}
			key := d.ids[k0:]
			switch {
			case string(key) == "user_id":
				d.ids = d.ids[:k0]
				if haveUser {
					return errors.New(fieldPath(i, "") + `: duplicate field "user_id"`)
				}
				haveUser = true
				sp.u0, sp.u1, err = d.id(i, "user_id", false)
			case string(key) == "item_id":
				d.ids = d.ids[:k0]
				if haveItem {
					return errors.New(fieldPath(i, "") + `: duplicate field "item_id"`)
				}
				haveItem = true
				sp.i0, sp.i1, err = d.id(i, "item_id", false)
			default:
				return errors.New(fieldPath(i, "") + ": unknown field " + quoteShort(key) + ` (want "user_id" and "item_id")`)
			}
			if err != nil {
				return err
			}
			d.ws()
			if d.consume(',') {
				d.ws()
				continue
			}
			if d.consume('}') {
				break
			}
			return d.syntax("want ',' or '}'")
		}
	}
	switch {
	case !haveUser:
		return errors.New(fieldPath(i, "") + `: missing "user_id"`)
	case !haveItem:
		return errors.New(fieldPath(i, "") + `: missing "item_id"`)
	}
	d.spans = append(d.spans, sp)
	return nil
}

// key parses an object key and the ':' after it, appending the unescaped
// key to d.ids at k0.
func (d *pairDecoder) key() (k0 int, err error) {
	if d.peek() != '"' {
		return 0, d.syntax("want a string key")
	}
	k0 = len(d.ids)
	if err := d.str(); err != nil {
		return 0, err
	}
	d.ws()
	if !d.consume(':') {
		return 0, d.syntax("want ':' after the key")
	}
	d.ws()
	return k0, nil
}

// id parses a string value that names a user, item or model and returns
// its place in d.ids. i ≥ 0 is the pair index for error messages.
func (d *pairDecoder) id(i int, name string, emptyOK bool) (start, end int, err error) {
	if d.peek() != '"' {
		return 0, 0, errors.New(fieldPath(i, name) + ": must be a string")
	}
	start = len(d.ids)
	if err := d.str(); err != nil {
		return 0, 0, err
	}
	end = len(d.ids)
	switch {
	case end == start && !emptyOK:
		return 0, 0, errors.New(fieldPath(i, name) + ": must not be empty")
	case end-start > MaxIDLen:
		return 0, 0, errors.New(fieldPath(i, name) + ": longer than " + strconv.Itoa(MaxIDLen) + " bytes")
	}
	return start, end, nil
}

// str parses a JSON string at d.pos (which holds '"') and appends its
// unescaped value to d.ids.
func (d *pairDecoder) str() error {
	d.pos++
	for {
		start := d.pos
		for d.pos < len(d.in) {
			c := d.in[d.pos]
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			d.pos++
		}
		d.ids = append(d.ids, d.in[start:d.pos]...)
		if d.pos >= len(d.in) {
			return d.syntax("unterminated string")
		}
		switch c := d.in[d.pos]; {
		case c == '"':
			d.pos++
			return nil
		case c == '\\':
			if err := d.escape(); err != nil {
				return err
			}
		case c < 0x20:
			return d.syntax("control character in string")
		default:
			r, size := utf8.DecodeRune(d.in[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return d.syntax("invalid UTF-8 in string")
			}
			d.ids = append(d.ids, d.in[d.pos:d.pos+size]...)
			d.pos += size
		}
	}
}

// escape decodes the escape sequence at d.pos (which holds '\\').
func (d *pairDecoder) escape() error {
	if d.pos+1 >= len(d.in) {
		return d.syntax("unterminated string")
	}
	var b byte
	switch d.in[d.pos+1] {
	case '"':
		b = '"'
	case '\\':
		b = '\\'
	case '/':
		b = '/'
	case 'b':
		b = '\b'
	case 'f':
		b = '\f'
	case 'n':
		b = '\n'
	case 'r':
		b = '\r'
	case 't':
		b = '\t'
	case 'u':
		r, ok := hex4(d.in, d.pos+2)
		if !ok {
			return d.syntax(`invalid \u escape`)
		}
		d.pos += 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(0), false
			if d.pos+1 < len(d.in) && d.in[d.pos] == '\\' && d.in[d.pos+1] == 'u' {
				r2, ok = hex4(d.in, d.pos+2)
			}
			if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
				return d.syntax(`lone UTF-16 surrogate in \u escape`)
			}
			d.pos += 6
		}
		d.ids = utf8.AppendRune(d.ids, r)
		return nil
	default:
		return d.syntax("invalid escape sequence")
	}
	d.ids = append(d.ids, b)
	d.pos += 2
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (d *pairDecoder) ws() {
	for d.pos < len(d.in) {
		switch d.in[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *pairDecoder) peek() byte {
	if d.pos < len(d.in) {
		return d.in[d.pos]
	}
	return 0
}

func (d *pairDecoder) consume(c byte) bool {
	if d.pos < len(d.in) && d.in[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *pairDecoder) syntax(what string) error {
	if d.pos >= len(d.in) {
		return errors.New("invalid JSON: unexpected end of body: " + what)
	}
	return errors.New("invalid JSON at byte " + strconv.Itoa(d.pos) + ": " + what)
}

// fieldPath names a field for error messages: "user_id", "pairs[3]" or
// "pairs[3].user_id".
func fieldPath(i int, name string) string {
	if i < 0 {
		return name
	}
	p := "pairs[" + strconv.Itoa(i) + "]"
	if name != "" {
		p += "." + name
	}
	return p
}

// quoteShort quotes an unknown key for an error message, cut to 64 bytes.
func quoteShort(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "…"
	}
	return strconv.Quote(string(b))
}
