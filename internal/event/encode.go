package event

import (
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
)

// Append appends the canonical JSON encoding of e to dst and returns the
// extended slice. The canonical form is compact, with keys in a fixed
// order: "id", "type", "timestamp", the fields of e.Type in the order of
// the schema table, then "attrs" (compacted, otherwise verbatim).
// Timestamps are written in UTC with as many fractional digits as needed
// (time.RFC3339Nano). Optional fields that are absent (see Validate) are
// omitted; fields that do not belong to e.Type are never written.
//
// For a valid event (Validate returns nil) Decode(Append(nil, e)) equals e,
// except that times come back in UTC and attrs without whitespace; the
// encoding of a decoded event is stable (Append(Decode(Append(e))) gives
// the same bytes). For an invalid event the output is still well-formed
// JSON, but may not decode. Append does not allocate beyond growing dst.
func Append(dst []byte, e *Event) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, e.Type.String()...)
	dst = append(dst, `","timestamp":`...)
	dst = appendTime(dst, e.Timestamp)
	if e.Type > TypeInvalid && e.Type < numTypes {
		sp := specs[e.Type]
		present := e.presentFields() | sp.required&noFlagNumbers
		for m := present & sp.allowed() &^ common &^ (1 << fAttrs); m != 0; m &= m - 1 {
			f := field(bits.TrailingZeros64(uint64(m)))
			dst = append(dst, ',', '"')
			dst = append(dst, fieldNames[f]...)
			dst = append(dst, '"', ':')
			dst = e.appendField(dst, f)
		}
	}
	if e.Attrs != nil && isObject(e.Attrs) {
		dst = append(dst, `,"attrs":`...)
		dst = compact(dst, e.Attrs)
	}
	return append(dst, '}')
}

// isObject reports whether raw is one syntactically valid JSON object
// (surrounded by optional whitespace), so that compacting it into the
// output keeps the output well-formed. Validate checks the rest.
func isObject(raw []byte) bool {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return false
	}
	v := valueScan{maxDepth: 64}
	end, msg := scanValue(raw, i, &v)
	return msg == "" && skipWS(raw, end) == len(raw)
}

func (e *Event) appendField(dst []byte, f field) []byte {
	switch f {
	case fPrice:
		return appendFloat(dst, e.Price)
	case fQuantity:
		return appendFloat(dst, e.Quantity)
	case fPropensity:
		return appendFloat(dst, e.Propensity)
	case fReward:
		return appendFloat(dst, e.Reward)
	case fAmount:
		return appendFloat(dst, e.Amount)
	case fValue:
		return appendFloat(dst, e.Value)
	case fLat:
		return appendFloat(dst, e.Lat)
	case fLon:
		return appendFloat(dst, e.Lon)
	case fPosition:
		return strconv.AppendInt(dst, int64(e.Position), 10)
	case fWindowStart:
		return appendTime(dst, e.WindowStart)
	case fWindowEnd:
		return appendTime(dst, e.WindowEnd)
	case fItems:
		dst = append(dst, '[')
		for i, it := range e.Items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, it)
		}
		return append(dst, ']')
	case fPositions:
		dst = append(dst, '[')
		for i, p := range e.Positions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(p), 10)
		}
		return append(dst, ']')
	case fPropensities:
		dst = append(dst, '[')
		for i, p := range e.Propensities {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFloat(dst, p)
		}
		return append(dst, ']')
	case fLines:
		dst = append(dst, '[')
		for i := range e.Lines {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"sku":`...)
			dst = appendString(dst, e.Lines[i].SKU)
			dst = append(dst, `,"quantity":`...)
			dst = appendFloat(dst, e.Lines[i].Quantity)
			dst = append(dst, '}')
		}
		return append(dst, ']')
	}
	return appendString(dst, e.stringField(f))
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendFloat formats like encoding/json: the shortest representation that
// round-trips, in exponent form only for very large or small magnitudes.
// Non-finite values (never in a valid event) are written as null.
func appendFloat(dst []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, x, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 (never in a valid
// event) is replaced by U+FFFD so the output is always valid JSON.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
