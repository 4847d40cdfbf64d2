// Package dataset reads labelled tabular data for offline evaluation: a
// streaming CSV reader that turns each row into a dense float32 feature
// vector and a 0/1 label, without allocating per row.
//
// Layout. The first record is the header; Options.Target names the label
// column; Options.Drop names columns to ignore; every other column becomes
// features, in header order:
//   - a numeric column gives one feature, its value as float32;
//   - a categorical column gives Options.Buckets features (default 32), a
//     hashed one-hot encoding: the value's FNV-1a 64-bit hash modulo the
//     bucket count picks the one feature set to 1 (collisions are
//     possible and deterministic). Its features are named "col#0"…
//
// A column is categorical when listed in Options.Categorical, or when its
// value on the first data row is neither missing nor a number; otherwise
// it is numeric, and a later value that is not a number is an error
// naming the line and column. Surrounding spaces are trimmed from values.
//
// Missing values: an empty field, "?", "NA", "N/A", "NaN" or "null"
// (case-insensitive) is missing. A missing numeric value becomes 0 and a
// missing categorical value sets no bucket, so a learner sees "absent" as
// "no signal"; impute beforehand if that is not what you want. A missing
// label is an error. Numbers must be finite and within float32 range.
//
// Labels. The target must have at most two distinct values; a third is an
// error. The positive class (y = 1) is Options.Positive when set; labels
// are then compared as numbers when both parse as numbers ("1.0" matches
// "1") and as exact strings otherwise. When Positive is empty the first
// label decides, deterministically:
//  1. one of the known pairs true/false, yes/no, up/down, pos/neg,
//     positive/negative (compared case-insensitively): the first word of
//     the pair is positive. Elec2's class column is UP/DOWN, so y = 1
//     means UP: the NSW price is above its moving average of the last 24
//     hours.
//  2. a number equal to 0 or 1: 1 is positive and the other value seen
//     (typically 0 or −1) negative, compared as numbers.
//  3. anything else: the first distinct value seen is negative and the
//     second positive. This depends on row order; set Positive to choose.
//
// The reader follows encoding/csv's default dialect (RFC 4180 quoting,
// "\r\n" accepted, empty lines skipped) and reports errors as *ParseError
// with the physical line number of the offending record (the header is
// line 1) and the column name. Input is read through a 64 KiB buffer;
// lines may be longer.
package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// DefaultBuckets is the number of hashed one-hot features of a
// categorical column when Options.Buckets is zero.
const DefaultBuckets = 32

// Options configures NewCSV. Target is required; the zero value of every
// other field means the default.
type Options struct {
	// Target is the name of the label column.
	Target string
	// Positive is the label value meaning y = 1. Empty means the rule in
	// the package doc.
	Positive string
	// Drop lists columns to ignore.
	Drop []string
	// Categorical lists columns to hash into one-hot buckets whatever
	// their first value looks like.
	Categorical []string
	// Buckets is the number of features per categorical column
	// (default DefaultBuckets).
	Buckets int
}

// ParseError is an error in the input, located by line and column.
type ParseError struct {
	Line   int    // physical line (1-based): where the record starts, or for CSV syntax errors where the offending byte is
	Column string // column name; empty when the error concerns the row
	Err    error
}

func (e *ParseError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("dataset: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("dataset: line %d: %s: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

type colKind uint8

const (
	numeric colKind = iota
	categorical
	dropped
	target
)

type column struct {
	name   string
	kind   colKind
	offset int // first feature of the column
}

// CSV reads examples from CSV. Use it as an iterator:
//
//	for r.Next() {
//		x, y := r.Example()
//		...
//	}
//	if err := r.Err(); err != nil { ... }
//
// It is not safe for concurrent use.
type CSV struct {
	sc               *scanner
	cols             []column
	names            []string // feature names
	buckets          int
	firstNumericLine int // line from which column types were detected

	x   []float32
	y   float64
	lab labeler

	pending bool // NewCSV scanned the first record; Next has not returned it
	done    bool
	err     error
	n       int
}

// NewCSV reads the header (and the first data row, to detect column types)
// from r and returns a reader positioned before the first example. It
// fails if the header is missing or malformed, or names in opts do not
// match it.
func NewCSV(r io.Reader, opts Options) (*CSV, error) {
	if opts.Target == "" {
		return nil, errors.New("dataset: no target column given")
	}
	if opts.Buckets < 0 {
		return nil, fmt.Errorf("dataset: Buckets = %d; want ≥ 0", opts.Buckets)
	}
	c := &CSV{sc: newScanner(r), buckets: opts.Buckets}
	if c.buckets == 0 {
		c.buckets = DefaultBuckets
	}
	if err := c.sc.scan(); err != nil {
		if err == io.EOF {
			return nil, errors.New("dataset: empty input: no header row")
		}
		return nil, c.scanError(err)
	}
	if err := c.header(opts); err != nil {
		return nil, err
	}
	if opts.Positive != "" {
		c.lab.setPositive(opts.Positive)
	}

	switch err := c.sc.scan(); {
	case err == io.EOF:
		c.done = true
	case err != nil:
		return nil, c.scanError(err)
	default:
		if err := c.checkFields(); err != nil {
			return nil, err
		}
		c.detect()
		c.pending = true
	}
	c.layout()
	return c, nil
}

// header reads column names from the scanned header record.
func (c *CSV) header(opts Options) error {
	line := c.sc.start
	index := make(map[string]int, c.sc.fields())
	for i := range c.sc.fields() {
		f := c.sc.field(i)
		if i == 0 {
			f = bytes.TrimPrefix(f, []byte("\ufeff")) // UTF-8 byte order mark
		}
		name := string(bytes.TrimSpace(f))
		if j, dup := index[name]; dup {
			return &ParseError{Line: line, Err: fmt.Errorf("column %q appears twice in the header (columns %d and %d)", name, j+1, i+1)}
		}
		index[name] = i
		c.cols = append(c.cols, column{name: name})
	}
	find := func(what, name string) (int, error) {
		i, ok := index[name]
		if !ok {
			return 0, fmt.Errorf("dataset: %s column %q is not in the header (columns: %s)", what, name, c.columnList())
		}
		return i, nil
	}
	t, err := find("target", opts.Target)
	if err != nil {
		return err
	}
	c.cols[t].kind = target
	for _, name := range opts.Drop {
		i, err := find("dropped", name)
		if err != nil {
			return err
		}
		if i == t {
			return fmt.Errorf("dataset: column %q is both the target and dropped", name)
		}
		c.cols[i].kind = dropped
	}
	for _, name := range opts.Categorical {
		i, err := find("categorical", name)
		if err != nil {
			return err
		}
		switch c.cols[i].kind {
		case target:
			return fmt.Errorf("dataset: column %q is both the target and categorical", name)
		case dropped:
			return fmt.Errorf("dataset: column %q is both dropped and categorical", name)
		}
		c.cols[i].kind = categorical
	}
	return nil
}

func (c *CSV) columnList() string {
	var b strings.Builder
	for i, col := range c.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(col.name)
	}
	return b.String()
}

// detect makes numeric every column (not forced categorical) whose value
// on the first data row is a number or missing, and the rest categorical.
func (c *CSV) detect() {
	c.firstNumericLine = c.sc.start
	for i := range c.cols {
		if c.cols[i].kind != numeric {
			continue
		}
		v := bytes.TrimSpace(c.sc.field(i))
		if missing(v) {
			continue
		}
		if _, err := parseFloat(v, 32); err != nil {
			c.cols[i].kind = categorical
		}
	}
}

// layout assigns feature offsets and names.
func (c *CSV) layout() {
	dim := 0
	for i := range c.cols {
		col := &c.cols[i]
		col.offset = dim
		switch col.kind {
		case numeric:
			c.names = append(c.names, col.name)
			dim++
		case categorical:
			for b := range c.buckets {
				c.names = append(c.names, col.name+"#"+strconv.Itoa(b))
			}
			dim += c.buckets
		}
	}
	c.x = make([]float32, dim)
}

func (c *CSV) scanError(err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return &ParseError{Line: se.line, Err: fmt.Errorf("byte %d: %w", se.col, se.err)}
	}
	return fmt.Errorf("dataset: reading line %d: %w", c.sc.lines+1, err)
}

func (c *CSV) checkFields() error {
	if got := c.sc.fields(); got != len(c.cols) {
		return &ParseError{Line: c.sc.start, Err: fmt.Errorf("%d fields; the header has %d columns", got, len(c.cols))}
	}
	return nil
}

// Next advances to the next example. It returns false at the end of the
// input or on an error; Err tells which.
func (c *CSV) Next() bool {
	if c.err != nil || c.done {
		return false
	}
	if c.pending {
		c.pending = false
	} else if err := c.sc.scan(); err != nil {
		if err == io.EOF {
			c.done = true
		} else {
			c.err = c.scanError(err)
		}
		return false
	}
	if err := c.decode(); err != nil {
		c.err = err
		return false
	}
	c.n++
	return true
}

// decode fills x and y from the scanned record.
func (c *CSV) decode() error {
	if err := c.checkFields(); err != nil {
		return err
	}
	clear(c.x)
	for i := range c.cols {
		col := &c.cols[i]
		if col.kind == dropped {
			continue
		}
		v := bytes.TrimSpace(c.sc.field(i))
		switch col.kind {
		case numeric:
			if missing(v) {
				continue
			}
			f, err := parseFloat(v, 32)
			if err != nil {
				return c.numberError(col, v, err)
			}
			c.x[col.offset] = float32(f)
		case categorical:
			if missing(v) {
				continue
			}
			c.x[col.offset+int(fnv1a(v)%uint64(c.buckets))] = 1
		case target:
			if missing(v) {
				return &ParseError{Line: c.sc.start, Column: col.name, Err: fmt.Errorf("missing label %q", v)}
			}
			y, err := c.lab.classify(v)
			if err != nil {
				return &ParseError{Line: c.sc.start, Column: col.name, Err: err}
			}
			c.y = y
		}
	}
	return nil
}

func (c *CSV) numberError(col *column, v []byte, err error) error {
	var why string
	switch {
	case errors.Is(err, strconv.ErrRange):
		why = fmt.Sprintf("%q is out of float32 range", v)
	case errors.Is(err, errNotFinite):
		why = fmt.Sprintf("%q is not a finite number", v)
	default:
		why = fmt.Sprintf("cannot parse %q as a number (the column is numeric, judged from line %d; list it in Options.Categorical to hash it)", v, c.firstNumericLine)
	}
	return &ParseError{Line: c.sc.start, Column: col.name, Err: errors.New(why)}
}

// Example returns the current example: x has Dim() features and is reused
// by the next call to Next (copy it to keep it); y is 0 or 1.
func (c *CSV) Example() (x []float32, y float64) { return c.x, c.y }

// Err returns the error that stopped Next, or nil at a clean end of input.
func (c *CSV) Err() error { return c.err }

// Dim returns the number of features.
func (c *CSV) Dim() int { return len(c.x) }

// FeatureNames returns the name of every feature, in order.
func (c *CSV) FeatureNames() []string { return append([]string(nil), c.names...) }

// Line returns the physical line (1-based) where the current example's
// record starts.
func (c *CSV) Line() int { return c.sc.start }

// N returns the number of examples returned so far.
func (c *CSV) N() int { return c.n }

// Classes returns the positive and negative label values as known so far
// (empty when not yet seen).
func (c *CSV) Classes() (positive, negative string) {
	if c.lab.posSet {
		positive = c.lab.pos
	}
	if c.lab.negSet {
		negative = c.lab.neg
	}
	return positive, negative
}

var errNotFinite = errors.New("not finite")

// parseFloat parses b without copying it: strconv does not retain its
// argument (its errors hold a clone), so viewing b as a string for the
// duration of the call is safe.
func parseFloat(b []byte, bitSize int) (float64, error) {
	if len(b) == 0 {
		return 0, strconv.ErrSyntax
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), bitSize)
	if err != nil {
		return 0, err
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errNotFinite
	}
	return f, nil
}

// missing reports whether a trimmed value means "no value".
func missing(v []byte) bool {
	switch len(v) {
	case 0:
		return true
	case 1:
		return v[0] == '?'
	case 2, 3, 4:
		s := unsafe.String(&v[0], len(v))
		return strings.EqualFold(s, "NA") || strings.EqualFold(s, "N/A") ||
			strings.EqualFold(s, "NaN") || strings.EqualFold(s, "null")
	}
	return false
}

// fnv1a is the 64-bit FNV-1a hash of b.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
