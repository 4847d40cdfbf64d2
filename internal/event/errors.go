package event

import (
	"errors"
	"strconv"
	"strings"
)

// MaxBatchErrors is the most FieldErrors a BatchError lists; the count of
// the rest is in BatchError.Omitted.
const MaxBatchErrors = 1000

// ErrTooManyEvents is wrapped by the error DecodeBatchMax returns when a
// batch holds more events than allowed.
var ErrTooManyEvents = errors.New("event: too many events in batch")

// FieldError is one problem with one field of one event.
type FieldError struct {
	// Line locates the event in a batch: the 1-based line number in NDJSON
	// (blank lines count), or the 1-based element index in a JSON array
	// when Item is set. It is 0 for Decode and Validate.
	Line int
	// Item reports that Line is a JSON array element index, not a line.
	Item bool
	// Field is the JSON path of the offending value: "amount", "items[2]",
	// "lines[0].sku", or an unknown key as sent. It is empty when the
	// problem concerns the event as a whole (malformed JSON, not an object).
	Field string
	// Reason says what is wrong, e.g. "must be a finite number ≥ 0".
	Reason string
}

// Error formats e as "line 3: amount: must be a finite number ≥ 0" (or
// "item 3: …" for a JSON array element; without the location when Line is
// 0, and without the field when Field is empty).
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		if e.Item {
			b.WriteString("item ")
		} else {
			b.WriteString("line ")
		}
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// FieldErrors is the error Decode and Validate return: every problem found
// in one event, in the order found. It is never empty.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("event: ")
	for i, fe := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// BatchError is the error DecodeBatch returns when any event of a batch is
// invalid. It lists every problem of every bad line, in order, up to
// MaxBatchErrors; Omitted counts the problems left out beyond that.
type BatchError struct {
	Errors  []FieldError
	Omitted int
}

func (e *BatchError) Error() string {
	var b strings.Builder
	b.WriteString("event: invalid batch: ")
	if len(e.Errors) > 0 {
		b.WriteString(e.Errors[0].Error())
	}
	if n := len(e.Errors) - 1 + e.Omitted; n > 0 {
		b.WriteString(" (and ")
		b.WriteString(strconv.Itoa(n))
		b.WriteString(" more)")
	}
	return b.String()
}

// errList collects FieldErrors up to a cap.
type errList struct {
	errs    []FieldError
	omitted int
	max     int // 0 = no cap
	line    int
	item    bool
}

func (l *errList) add(field, reason string) {
	if l.max > 0 && len(l.errs) >= l.max {
		l.omitted++
		return
	}
	l.errs = append(l.errs, FieldError{Line: l.line, Item: l.item, Field: field, Reason: reason})
}

func (l *errList) n() int { return len(l.errs) + l.omitted }
