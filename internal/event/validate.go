package event

import (
	"math"
	"math/bits"
	"strconv"
	"time"
)

// Time bounds of every timestamp. Events before the Unix epoch are
// certainly mistakes (a zero or seconds-vs-milliseconds confusion), and
// four-digit years keep the canonical RFC 3339 form round-trippable.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// noFlagNumbers are the numeric fields with no Has* flag: when the type
// requires them, 0 is a present value, not an absent one.
var noFlagNumbers = fields(fQuantity, fReward, fAmount, fValue)

// Validate checks e against the per-type rules of docs/events.schema.json
// and returns nil or FieldErrors listing every problem.
//
// A Go value cannot tell an absent number from 0 when the field has no
// Has* flag: Validate treats amount, reward, value and quantity as present
// whenever the type requires them (0 is a fine amount) and as absent when 0
// otherwise. String fields are absent when empty, slices when nil, times
// when zero, Position when 0. A Has* flag must be set for its value to
// count (Price without HasPrice is an error, not silently dropped).
func (e *Event) Validate() error {
	var l errList
	present := e.presentFields()
	if e.Type >= numTypes {
		l.add("type", "unknown type "+strconv.Itoa(int(e.Type)))
	} else if e.Type != TypeInvalid {
		present |= specs[e.Type].required & noFlagNumbers
	}
	if !e.HasPrice && e.Price != 0 {
		l.add("price", "Price is set but HasPrice is false")
	}
	if !e.HasPropensity && e.Propensity != 0 {
		l.add("propensity", "Propensity is set but HasPropensity is false")
	}
	if !e.HasLatLon && (e.Lat != 0 || e.Lon != 0) {
		l.add("lat", "Lat/Lon are set but HasLatLon is false")
	}
	check(e, present, 0, &l)
	if len(l.errs) == 0 {
		return nil
	}
	return FieldErrors(l.errs)
}

// presentFields returns the fields e holds a value for, by the rules in
// Validate's comment (without the per-type noFlagNumbers).
func (e *Event) presentFields() fieldSet {
	var p fieldSet
	set := func(f field, ok bool) {
		if ok {
			p |= 1 << f
		}
	}
	set(fID, e.ID != "")
	set(fType, e.Type != TypeInvalid)
	set(fTimestamp, !e.Timestamp.IsZero())
	set(fUserID, e.UserID != "")
	set(fItemID, e.ItemID != "")
	set(fSessionID, e.SessionID != "")
	set(fPrice, e.HasPrice)
	set(fQuantity, e.Quantity != 0)
	set(fRequestID, e.RequestID != "")
	set(fItems, e.Items != nil)
	set(fPositions, e.Positions != nil)
	set(fPropensities, e.Propensities != nil)
	set(fPosition, e.Position != 0)
	set(fPropensity, e.HasPropensity)
	set(fReward, e.Reward != 0)
	set(fTransactionID, e.TransactionID != "")
	set(fCustomerID, e.CustomerID != "")
	set(fTerminalID, e.TerminalID != "")
	set(fMerchantID, e.MerchantID != "")
	set(fAmount, e.Amount != 0)
	set(fCurrency, e.Currency != "")
	set(fDevice, e.Device != "")
	set(fTargetID, e.TargetID != "")
	set(fKind, e.Kind != "")
	set(fValue, e.Value != 0)
	set(fSKU, e.SKU != "")
	set(fWarehouse, e.Warehouse != "")
	set(fOrderID, e.OrderID != "")
	set(fLines, e.Lines != nil)
	set(fLat, e.HasLatLon)
	set(fLon, e.HasLatLon)
	set(fWindowStart, !e.WindowStart.IsZero())
	set(fWindowEnd, !e.WindowEnd.IsZero())
	set(fAttrs, e.Attrs != nil)
	return p
}

// check reports missing required fields, fields that do not belong to the
// type, and bad values of the present fields not in skip (fields the
// decoder already rejected or fully checked).
func check(e *Event, present, skip fieldSet, l *errList) {
	t := e.Type
	vals := present &^ skip
	if t > TypeInvalid && t < numTypes {
		sp := specs[t]
		for m := sp.required &^ present &^ skip; m != 0; m &= m - 1 {
			l.add(field(bits.TrailingZeros64(uint64(m))).String(), "required")
		}
		if sp.anyOf != 0 && present&sp.anyOf == 0 && skip&sp.anyOf == 0 {
			l.add("item_id", `required unless "position" is given`)
		}
		for m := present &^ sp.allowed(); m != 0; m &= m - 1 {
			l.add(field(bits.TrailingZeros64(uint64(m))).String(), "not a field of type "+strconv.Quote(t.String()))
		}
		vals &= sp.allowed()
	} else {
		if !present.has(fType) && !skip.has(fType) {
			l.add("type", "required; one of "+typeList)
		}
		for m := fields(fID, fTimestamp) &^ present &^ skip; m != 0; m &= m - 1 {
			l.add(field(bits.TrailingZeros64(uint64(m))).String(), "required")
		}
	}
	for m := vals; m != 0; m &= m - 1 {
		checkValue(e, field(bits.TrailingZeros64(uint64(m))), present, skip, l)
	}
}

const (
	reasonNonNeg   = "must be a finite number ≥ 0"
	reasonPositive = "must be a finite number > 0"
	reasonFinite   = "must be a finite number"
	reasonTooBig   = "must be at most 1e15 in magnitude"
	reasonProb     = "must be a probability in (0, 1]"
	reasonPosition = "must be an integer between 1 and 1000000"
	reasonTime     = "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
	reasonCurrency = "must be an ISO 4217 code of three upper-case letters, e.g. EUR"
)

func checkValue(e *Event, f field, present, skip fieldSet, l *errList) {
	name := f.String()
	switch f {
	case fID, fUserID, fItemID, fSessionID, fRequestID, fTransactionID, fCustomerID,
		fTerminalID, fMerchantID, fTargetID, fSKU, fWarehouse, fOrderID:
		checkIdent(l, name, e.stringField(f), MaxIDLen)
	case fKind:
		checkIdent(l, name, e.Kind, MaxKindLen)
	case fDevice:
		checkIdent(l, name, e.Device, MaxDeviceLen)
	case fTimestamp:
		checkTime(l, name, e.Timestamp)
	case fWindowStart:
		checkTime(l, name, e.WindowStart)
	case fWindowEnd:
		if checkTime(l, name, e.WindowEnd) && present.has(fWindowStart) && !skip.has(fWindowStart) &&
			e.WindowEnd.Before(e.WindowStart) {
			l.add(name, "must not be before window_start")
		}
	case fCurrency:
		c := e.Currency
		if len(c) != 3 || !upper(c[0]) || !upper(c[1]) || !upper(c[2]) {
			l.add(name, reasonCurrency)
		}
	case fPrice:
		checkNonNeg(l, name, e.Price)
	case fAmount:
		checkNonNeg(l, name, e.Amount)
	case fQuantity:
		if e.Type == TypeStock {
			checkNonNeg(l, name, e.Quantity)
		} else {
			checkPositive(l, name, e.Quantity)
		}
	case fReward:
		checkFinite(l, name, e.Reward)
	case fValue:
		checkFinite(l, name, e.Value)
	case fPropensity:
		if !(e.Propensity > 0 && e.Propensity <= 1) {
			l.add(name, reasonProb)
		}
	case fLat:
		if !(e.Lat >= -90 && e.Lat <= 90) {
			l.add(name, "must be a latitude in [-90, 90]")
		}
	case fLon:
		if !(e.Lon >= -180 && e.Lon <= 180) {
			l.add(name, "must be a longitude in [-180, 180]")
		}
	case fPosition:
		if e.Position < 1 || e.Position > MaxPosition {
			l.add(name, reasonPosition)
		}
	case fItems:
		if !checkCount(l, name, len(e.Items), MaxItems) {
			return
		}
		for i, it := range e.Items {
			if r := identReason(it, MaxIDLen); r != "" {
				l.add(elem(name, i), r)
			}
		}
		checkUnique(l, name, e.Items)
	case fPositions:
		if !checkSameLen(l, name, len(e.Positions), e, present, skip) {
			return
		}
		for i, p := range e.Positions {
			if p < 1 || p > MaxPosition {
				l.add(elem(name, i), reasonPosition)
			}
		}
	case fPropensities:
		if !checkSameLen(l, name, len(e.Propensities), e, present, skip) {
			return
		}
		for i, p := range e.Propensities {
			if !(p > 0 && p <= 1) {
				l.add(elem(name, i), reasonProb)
			}
		}
	case fLines:
		if !checkCount(l, name, len(e.Lines), MaxLines) {
			return
		}
		for i := range e.Lines {
			ln := &e.Lines[i]
			if ln.SKU == "" {
				l.add(elem(name, i)+".sku", "required")
			} else if r := identReason(ln.SKU, MaxIDLen); r != "" {
				l.add(elem(name, i)+".sku", r)
			}
			if r := positiveReason(ln.Quantity); r != "" {
				l.add(elem(name, i)+".quantity", r)
			}
		}
	case fAttrs:
		if r := attrsReason(e.Attrs); r != "" {
			l.add(name, r)
		}
	}
}

func upper(c byte) bool { return c >= 'A' && c <= 'Z' }

func elem(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

// stringField returns the value of an identifier field.
func (e *Event) stringField(f field) string {
	switch f {
	case fID:
		return e.ID
	case fUserID:
		return e.UserID
	case fItemID:
		return e.ItemID
	case fSessionID:
		return e.SessionID
	case fRequestID:
		return e.RequestID
	case fTransactionID:
		return e.TransactionID
	case fCustomerID:
		return e.CustomerID
	case fTerminalID:
		return e.TerminalID
	case fMerchantID:
		return e.MerchantID
	case fCurrency:
		return e.Currency
	case fDevice:
		return e.Device
	case fTargetID:
		return e.TargetID
	case fKind:
		return e.Kind
	case fSKU:
		return e.SKU
	case fWarehouse:
		return e.Warehouse
	case fOrderID:
		return e.OrderID
	}
	panic("event: stringField of non-string field " + f.String())
}

func checkIdent(l *errList, name, s string, max int) {
	if r := identReason(s, max); r != "" {
		l.add(name, r)
	}
}

// identReason checks an identifier-like string: non-empty, at most max
// bytes, valid UTF-8, no control characters (C0, DEL, C1).
func identReason(s string, max int) string {
	if s == "" {
		return "must not be empty (omit the field if unknown)"
	}
	if len(s) > max {
		return "must be at most " + strconv.Itoa(max) + " bytes"
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return "must not contain control characters"
		} else if c >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		return ""
	}
	if !validUTF8(s) {
		return "must be valid UTF-8"
	}
	// In valid UTF-8, 0xC2 followed by 0x80-0x9F is exactly U+0080-U+009F (C1).
	for i := 0; i < len(s)-1; i++ {
		if s[i] == 0xC2 && s[i+1] <= 0x9F {
			return "must not contain control characters"
		}
	}
	return ""
}

func checkTime(l *errList, name string, t time.Time) bool {
	if t.Before(minTime) || t.After(maxTime) {
		l.add(name, reasonTime)
		return false
	}
	return true
}

func checkNonNeg(l *errList, name string, x float64) {
	switch {
	case !(x >= 0) || math.IsInf(x, 0):
		l.add(name, reasonNonNeg)
	case x > MaxMagnitude:
		l.add(name, reasonTooBig)
	}
}

func positiveReason(x float64) string {
	switch {
	case !(x > 0) || math.IsInf(x, 0):
		return reasonPositive
	case x > MaxMagnitude:
		return reasonTooBig
	}
	return ""
}

func checkPositive(l *errList, name string, x float64) {
	if r := positiveReason(x); r != "" {
		l.add(name, r)
	}
}

func checkFinite(l *errList, name string, x float64) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		l.add(name, reasonFinite)
	case math.Abs(x) > MaxMagnitude:
		l.add(name, reasonTooBig)
	}
}

func checkCount(l *errList, name string, n, max int) bool {
	switch {
	case n == 0:
		l.add(name, "must not be empty")
		return false
	case n > max:
		l.add(name, "must have at most "+strconv.Itoa(max)+" entries")
		return false
	}
	return true
}

// checkSameLen checks that a per-item array has one entry per item. When
// items itself is missing or bad the length cannot be judged, so it only
// checks the bounds.
func checkSameLen(l *errList, name string, n int, e *Event, present, skip fieldSet) bool {
	if !present.has(fItems) || skip.has(fItems) || len(e.Items) == 0 || len(e.Items) > MaxItems {
		return checkCount(l, name, n, MaxItems)
	}
	if n != len(e.Items) {
		l.add(name, "must have one entry per item ("+strconv.Itoa(len(e.Items))+"), has "+strconv.Itoa(n))
		return false
	}
	return true
}

// checkUnique reports repeated entries. Short lists (the common case) are
// checked pairwise without allocating; long ones through a map.
func checkUnique(l *errList, name string, items []string) {
	if len(items) <= 32 {
		for i := 1; i < len(items); i++ {
			for j := 0; j < i; j++ {
				if items[i] == items[j] {
					l.add(elem(name, i), "repeats "+elem(name, j))
					break
				}
			}
		}
		return
	}
	seen := make(map[string]int, len(items))
	for i, it := range items {
		if j, ok := seen[it]; ok {
			l.add(elem(name, i), "repeats "+elem(name, j))
			continue
		}
		seen[it] = i
	}
}

// attrsReason checks a raw attrs value: a JSON object, valid UTF-8, finite
// numbers, at most MaxAttrsLen bytes once compacted, nesting ≤ MaxDepth.
func attrsReason[T text](raw T) string {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		if i < len(raw) {
			if k := kindOf(raw[i]); k != "" {
				return "must be a JSON object, got " + k
			}
		}
		return "must be a JSON object"
	}
	v := valueScan{check: true, maxDepth: MaxDepth}
	end, msg := scanValue(raw, i, &v)
	if msg != "" {
		return "invalid JSON: " + msg
	}
	if skipWS(raw, end) != len(raw) {
		return "invalid JSON: data after the object"
	}
	if v.problem != "" {
		return v.problem
	}
	if v.n > MaxAttrsLen {
		return "must be at most " + strconv.Itoa(MaxAttrsLen) + " bytes of compact JSON"
	}
	return ""
}
