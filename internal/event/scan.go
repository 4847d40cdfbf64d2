package event

import (
	"strconv"
	"unicode/utf8"
)

// This file holds the low-level JSON scanners shared by the decoder,
// Validate and Append. They follow RFC 8259 strictly: no comments, no
// trailing commas, no NaN/Infinity, no raw control characters in strings.
// They are generic over string and []byte so that a []byte body can be
// scanned without copying it into a string first.

type text interface{ ~string | ~[]byte }

// Messages of syntax errors.
const (
	errEOF        = "unexpected end of input"
	errEscape     = `invalid escape sequence`
	errControl    = "raw control character in string (escape it, e.g. \\n)"
	errDigitFrac  = "invalid number: digit expected after '.'"
	errDigitExp   = "invalid number: digit expected in exponent"
	errNumber     = "invalid number"
	errTooDeep    = "JSON nested too deeply"
	errKeyQuoted  = "expected a field name in double quotes"
	errColon      = "expected ':' after field name"
	errCommaClose = "expected ',' or a closing bracket"
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func skipWS[T text](s T, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// kindOf names the JSON type of a value starting with c, or "" if c
// cannot start a JSON value.
func kindOf(c byte) string {
	switch {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || isDigit(c):
		return "number"
	}
	return ""
}

// strPlain[c] is true for bytes that need no attention inside a JSON
// string: everything from 0x20 up except '"' and '\\'.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString scans the JSON string starting at s[i] == '"'. It returns
// the index just past the closing quote and whether the string holds
// escapes. On a syntax error msg is set and end is where it was found.
// It does not check UTF-8.
func scanString[T text](s T, i int) (end int, escaped bool, msg string) {
	i++
	for {
		for i < len(s) && strPlain[s[i]] {
			i++
		}
		if i >= len(s) {
			return i, escaped, errEOF
		}
		switch s[i] {
		case '"':
			return i + 1, escaped, ""
		case '\\':
			escaped = true
			if i+1 >= len(s) {
				return i + 1, escaped, errEOF
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return i, escaped, errEscape
				}
				i += 6
			default:
				return i, escaped, errEscape
			}
		default:
			return i, escaped, errControl
		}
	}
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	default:
		return rune(c - 'A' + 10)
	}
}

func hex4(s string) rune {
	return hexVal(s[0])<<12 | hexVal(s[1])<<8 | hexVal(s[2])<<4 | hexVal(s[3])
}

// unescape decodes the escapes of the body of a JSON string that
// scanString accepted. A lone surrogate (\ud800 without its pair) is
// written as its 3-byte surrogate encoding, which is not valid UTF-8, so
// that the UTF-8 check of the field rejects it instead of the decoder
// silently replacing it.
func unescape(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch s[i+1] {
		case '"', '\\', '/':
			b = append(b, s[i+1])
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s[i+2:])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				if r2 := hex4(s[i+2:]); r2 >= 0xDC00 && r2 < 0xE000 {
					b = utf8.AppendRune(b, (r-0xD800)<<10|(r2-0xDC00)+0x10000)
					i += 6
					continue
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				b = append(b, byte(0xE0|r>>12), byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
			} else {
				b = utf8.AppendRune(b, r)
			}
			continue
		}
		i += 2
	}
	return string(b)
}

// scanNumber scans the JSON number starting at s[i].
func scanNumber[T text](s T, i int) (end int, msg string) {
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return i, errEOF
	}
	switch c := s[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return i, errNumber
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return i, errDigitFrac
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return i, errDigitExp
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i, ""
}

// nonJSONNumber reports whether s[i:] starts with one of the non-finite
// number literals other encoders emit (NaN, Infinity, -Infinity,
// +Infinity) and returns the index after it. They are not JSON, but
// naming them gives a far better message than "invalid character".
func nonJSONNumber[T text](s T, i int) (int, bool) {
	for _, lit := range [...]string{"NaN", "Infinity", "-Infinity", "+Infinity"} {
		if len(s)-i >= len(lit) && string(s[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return i, false
}

// literal checks that s[i:] starts with lit (true, false, null).
func literal[T text](s T, i int, lit string) (int, string) {
	if len(s)-i < len(lit) || string(s[i:i+len(lit)]) != lit {
		return i, unexpected(s, i)
	}
	return i + len(lit), ""
}

func unexpected[T text](s T, i int) string {
	if i >= len(s) {
		return errEOF
	}
	c := s[i]
	if c >= 0x20 && c < 0x7f {
		return "unexpected character " + strconv.QuoteRune(rune(c))
	}
	return "unexpected byte 0x" + strconv.FormatUint(uint64(c), 16)
}

// validUTF8 reports whether s is valid UTF-8 (RFC 3629: no surrogates, no
// overlong forms, nothing above U+10FFFF).
func validUTF8[T text](s T) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			i++
			continue
		}
		lo, hi := byte(0x80), byte(0xBF)
		var n int
		switch {
		case c >= 0xC2 && c <= 0xDF:
			n = 1
		case c == 0xE0:
			n, lo = 2, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			n = 2
		case c == 0xED:
			n, hi = 2, 0x9F
		case c == 0xF0:
			n, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			n = 3
		case c == 0xF4:
			n, hi = 3, 0x8F
		default:
			return false
		}
		if i+n >= len(s) {
			return false
		}
		if c1 := s[i+1]; c1 < lo || c1 > hi {
			return false
		}
		for k := 2; k <= n; k++ {
			if c := s[i+k]; c < 0x80 || c > 0xBF {
				return false
			}
		}
		i += n + 1
	}
	return true
}

// valueScan scans one JSON value and, with check set, also looks for
// problems that are valid JSON syntax but not acceptable in Perpetua data:
// invalid UTF-8 in strings and numbers that overflow a float64.
type valueScan struct {
	check    bool
	maxDepth int
	problem  string // first problem found, "" if none
	n        int    // length of the value with insignificant whitespace removed
}

// scanValue scans the JSON value starting at s[i] (which must not be
// whitespace) and returns the index just past it. On a syntax error msg is
// set and end is where it was found. It never recurses: nesting is tracked
// in a bit stack, bounded by v.maxDepth (≤ 64).
func scanValue[T text](s T, i int, v *valueScan) (end int, msg string) {
	var stack uint64 // bit d set: nesting level d is an object
	depth := 0
	for {
		// A value is expected at s[i].
		if i >= len(s) {
			return i, errEOF
		}
		start := i
		switch c := s[i]; {
		case c == '{' || c == '[':
			if depth >= v.maxDepth {
				return i, errTooDeep
			}
			if c == '{' {
				stack |= 1 << depth
			} else {
				stack &^= 1 << depth
			}
			depth++
			v.n++
			i = skipWS(s, i+1)
			if i < len(s) && (s[i] == '}' && c == '{' || s[i] == ']' && c == '[') {
				depth--
				v.n++
				i++
				break
			}
			if c == '{' {
				if i, msg = scanKey(s, i, v); msg != "" {
					return i, msg
				}
			}
			continue
		case c == '"':
			if i, _, msg = scanString(s, i); msg != "" {
				return i, msg
			}
			if v.check && v.problem == "" && !validUTF8(s[start:i]) {
				v.problem = "strings must be valid UTF-8"
			}
		case c == 't':
			if i, msg = literal(s, i, "true"); msg != "" {
				return i, msg
			}
		case c == 'f':
			if i, msg = literal(s, i, "false"); msg != "" {
				return i, msg
			}
		case c == 'n':
			if i, msg = literal(s, i, "null"); msg != "" {
				return i, msg
			}
		case c == '-' || isDigit(c):
			if i, msg = scanNumber(s, i); msg != "" {
				return i, msg
			}
			if v.check && v.problem == "" {
				if _, err := strconv.ParseFloat(string(s[start:i]), 64); err != nil {
					v.problem = "numbers must fit in a 64-bit float"
				}
			}
		default:
			return i, unexpected(s, i)
		}
		if c := s[start]; c != '{' && c != '[' {
			v.n += i - start
		}
		// A value is complete: close containers until another value is due.
		for {
			if depth == 0 {
				return i, ""
			}
			i = skipWS(s, i)
			if i >= len(s) {
				return i, errEOF
			}
			obj := stack&(1<<(depth-1)) != 0
			c := s[i]
			if c == ',' {
				v.n++
				i = skipWS(s, i+1)
				if obj {
					if i, msg = scanKey(s, i, v); msg != "" {
						return i, msg
					}
				}
				break
			}
			if obj && c == '}' || !obj && c == ']' {
				depth--
				v.n++
				i++
				continue
			}
			return i, errCommaClose
		}
	}
}

// scanKey scans `"key" :` and the whitespace after it.
func scanKey[T text](s T, i int, v *valueScan) (int, string) {
	if i >= len(s) {
		return i, errEOF
	}
	if s[i] != '"' {
		return i, errKeyQuoted
	}
	start := i
	end, _, msg := scanString(s, i)
	if msg != "" {
		return end, msg
	}
	if v.check && v.problem == "" && !validUTF8(s[start:end]) {
		v.problem = "strings must be valid UTF-8"
	}
	v.n += end - start + 1
	i = skipWS(s, end)
	if i >= len(s) {
		return i, errEOF
	}
	if s[i] != ':' {
		return i, errColon
	}
	return skipWS(s, i+1), ""
}

// compact appends the JSON value s, which must be valid, to dst without
// insignificant whitespace.
func compact[T text](dst []byte, s T) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			end, _, _ := scanString(s, i)
			dst = append(dst, s[i:end]...)
			i = end
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}
