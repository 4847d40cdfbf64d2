package dataset

// CTR (this file) reads click-through-rate data for the large wide & deep
// model (perpetua eval purchase): records of raw string fields plus a 0/1
// label, handed unparsed to the feature schema, which hashes categoricals
// and normalises numbers itself. Two formats:
//
// Criteo (FormatCriteo). The Criteo display-advertising layout: a label
// (1 = click), 13 integer count features I1…I13 and 26 hashed categorical
// features C1…C26. Two spellings are accepted and told apart by the first
// non-empty line: if it contains a tab, the input is the original Kaggle
// TSV (40 tab-separated fields per line, no header, no quoting); otherwise
// it is comma-separated CSV (RFC 4180) whose header names exactly the
// columns label, I1…I13, C1…C26, in any order. Columns come out as
// I1…I13 (numeric, Log1p: they are counts; I2 can be −1) then C1…C26
// (categorical). The label must be 0 or 1 (as a number: "1.0" is 1).
//
// Generic CSV (FormatCSV). A header, then records. Options.Target names
// the label column (labels follow the package rules: Positive, known
// pairs, 0/1). Every other column not in Drop becomes a field, in header
// order; its kind is Bag if listed in Bag, Categorical if listed in
// Categorical, Numeric if listed in Numeric or Log1p, and otherwise
// decided by the first data row: Numeric if that value parses as a finite
// number, else Categorical (so a column whose first value is empty is
// categorical: list numeric columns that may start empty in Numeric).
//
// Values are not validated here: the feature schema decides what a
// non-number in a numeric field means. The reader checks the structure
// (the number of fields per record, CSV quoting) and the label, and reports
// errors as *ParseError with the physical line (1-based) and the column.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// The CTR formats.
const (
	FormatCriteo = "criteo"
	FormatCSV    = "csv"
)

// The Criteo layout.
const (
	CriteoNumeric     = 13 // I1…I13
	CriteoCategorical = 26 // C1…C26
	criteoWidth       = 1 + CriteoNumeric + CriteoCategorical
)

// ColumnKind is the type of a CTR column.
type ColumnKind uint8

// The column kinds; they match feature.Numeric, feature.Categorical and
// feature.Bag.
const (
	ColumnNumeric ColumnKind = iota + 1
	ColumnCategorical
	ColumnBag
)

func (k ColumnKind) String() string {
	switch k {
	case ColumnNumeric:
		return "numeric"
	case ColumnCategorical:
		return "categorical"
	case ColumnBag:
		return "bag"
	}
	return fmt.Sprintf("ColumnKind(%d)", uint8(k))
}

// CTRColumn describes one field of the records a CTR reader yields.
type CTRColumn struct {
	Name  string
	Kind  ColumnKind
	Log1p bool   // numeric counts: the schema should log-transform them
	Sep   string // bag element separator
}

// CTROptions configures NewCTR. The zero value reads Criteo data.
type CTROptions struct {
	// Format is FormatCriteo (the default when empty) or FormatCSV.
	Format string

	// The remaining options apply to FormatCSV only.

	// Target names the label column (required).
	Target string
	// Positive is the label value meaning a click (y = 1); empty means
	// the package rule.
	Positive string
	// Drop lists columns to ignore.
	Drop []string
	// Categorical, Bag and Numeric force column kinds; Log1p lists
	// numeric columns to log-transform (they are numeric).
	Categorical, Bag, Numeric, Log1p []string
	// BagSep separates the elements of bag columns; empty means "|".
	BagSep string
}

// CTR reads CTR records. Use it as an iterator:
//
//	for r.Next() {
//		y := r.Label()
//		err := schema.Encode(ex, r) // r is the row: NumFields, Field
//		...
//	}
//	if err := r.Err(); err != nil { ... }
//
// The strings Field returns alias the reader's buffer and are valid only
// until the next call to Next: copy (strings.Clone) what you keep. Next
// makes no allocation once the buffers have grown. A CTR is not safe for
// concurrent use.
type CTR struct {
	sc     *scanner
	layout string // "criteo-tsv", "criteo-csv" or "csv"
	tsv    bool
	cols   []CTRColumn
	src    []int // src[j] is the record field holding column j
	label  int   // record field holding the label
	names  []string
	width  int      // fields per record
	lname  string   // label column name
	lab    *labeler // generic CSV labels; nil for Criteo

	y       float64
	pending bool // NewCTR scanned the first record; Next has not returned it
	done    bool
	err     error
	n       int
}

// NewCTR reads what it needs to fix the columns (the first line or the
// header, and for FormatCSV the first data row) and returns a reader
// positioned before the first record.
func NewCTR(r io.Reader, opts CTROptions) (*CTR, error) {
	c := &CTR{sc: newScanner(r)}
	var err error
	switch opts.Format {
	case "", FormatCriteo:
		err = checkCriteoOptions(opts)
		if err == nil {
			err = c.openCriteo()
		}
	case FormatCSV:
		err = c.openCSV(opts)
	default:
		err = fmt.Errorf("dataset: unknown CTR format %q (want %q or %q)", opts.Format, FormatCriteo, FormatCSV)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func checkCriteoOptions(o CTROptions) error {
	for _, x := range []struct {
		name string
		set  bool
	}{
		{"Target", o.Target != ""}, {"Positive", o.Positive != ""}, {"Drop", len(o.Drop) > 0},
		{"Categorical", len(o.Categorical) > 0}, {"Bag", len(o.Bag) > 0}, {"Numeric", len(o.Numeric) > 0},
		{"Log1p", len(o.Log1p) > 0}, {"BagSep", o.BagSep != ""},
	} {
		if x.set {
			return fmt.Errorf("dataset: option %s applies to format %q only; the Criteo layout is fixed", x.name, FormatCSV)
		}
	}
	return nil
}

// criteoColumns returns the Criteo fields: I1…I13, then C1…C26.
func criteoColumns() []CTRColumn {
	cols := make([]CTRColumn, 0, CriteoNumeric+CriteoCategorical)
	for i := 1; i <= CriteoNumeric; i++ {
		cols = append(cols, CTRColumn{Name: "I" + strconv.Itoa(i), Kind: ColumnNumeric, Log1p: true})
	}
	for i := 1; i <= CriteoCategorical; i++ {
		cols = append(cols, CTRColumn{Name: "C" + strconv.Itoa(i), Kind: ColumnCategorical})
	}
	return cols
}

// openCriteo detects the Criteo spelling from the first non-empty line.
func (c *CTR) openCriteo() error {
	head, err := c.firstLine()
	if err != nil {
		return fmt.Errorf("dataset: reading line 1: %w", err)
	}
	if len(head) == 0 {
		return errors.New("dataset: empty input: no Criteo records")
	}
	c.cols = criteoColumns()
	c.names = c.columnNames()
	c.width, c.lname = criteoWidth, "label"
	if bytes.IndexByte(head, '\t') >= 0 {
		c.layout, c.tsv, c.label = "criteo-tsv", true, 0
		c.src = make([]int, len(c.cols))
		for j := range c.src {
			c.src[j] = j + 1
		}
		return nil
	}
	c.layout = "criteo-csv"
	if err := c.sc.scan(); err != nil {
		return c.scanError(err)
	}
	index, err := c.headerIndex()
	if err != nil {
		return err
	}
	var want []string
	want = append(want, "label")
	want = append(want, c.names...)
	for _, name := range want {
		if _, ok := index[name]; !ok {
			return &ParseError{Line: c.sc.start, Err: fmt.Errorf("Criteo header has no column %q (want label, I1…I13, C1…C26; use format %q for other layouts)", name, FormatCSV)}
		}
	}
	if len(index) != len(want) {
		for i := range c.sc.fields() {
			name := c.headerName(i)
			if !slices.Contains(want, name) {
				return &ParseError{Line: c.sc.start, Err: fmt.Errorf("Criteo header has an unexpected column %q (want label, I1…I13, C1…C26; use format %q for other layouts)", name, FormatCSV)}
			}
		}
	}
	c.label = index["label"]
	c.src = make([]int, len(c.cols))
	for j, name := range c.names {
		c.src[j] = index[name]
	}
	return nil
}

// firstLine peeks (without consuming) at the first non-empty line,
// without its line end; at most the reader's buffer size of it.
func (c *CTR) firstLine() ([]byte, error) {
	br := c.sc.br
	for n := 512; ; n = min(2*n, br.Size()) {
		head, err := br.Peek(n)
		head = bytes.TrimLeft(head, "\r\n")
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			return head[:i], nil
		}
		switch {
		case err == io.EOF || err == bufio.ErrBufferFull || n == br.Size():
			return head, nil
		case err != nil:
			return nil, err
		}
	}
}

// headerName returns header field i, trimmed, without a byte order mark.
func (c *CTR) headerName(i int) string {
	f := c.sc.field(i)
	if i == 0 {
		f = bytes.TrimPrefix(f, []byte("\ufeff"))
	}
	return string(bytes.TrimSpace(f))
}

// headerIndex maps the scanned header's names to their field indexes.
func (c *CTR) headerIndex() (map[string]int, error) {
	index := make(map[string]int, c.sc.fields())
	for i := range c.sc.fields() {
		name := c.headerName(i)
		if j, dup := index[name]; dup {
			return nil, &ParseError{Line: c.sc.start, Err: fmt.Errorf("column %q appears twice in the header (columns %d and %d)", name, j+1, i+1)}
		}
		index[name] = i
	}
	return index, nil
}

// openCSV reads the header and the first data row of a generic CSV.
func (c *CTR) openCSV(opts CTROptions) error {
	c.layout = "csv"
	if opts.Target == "" {
		return errors.New("dataset: no target column given (format csv needs one)")
	}
	if err := c.sc.scan(); err != nil {
		if err == io.EOF {
			return errors.New("dataset: empty input: no header row")
		}
		return c.scanError(err)
	}
	index, err := c.headerIndex()
	if err != nil {
		return err
	}
	headerLine := c.sc.start
	header := make([]string, c.sc.fields())
	for i := range header {
		header[i] = c.headerName(i)
	}
	cols := make([]CTRColumn, len(header))
	for i, name := range header {
		cols[i].Name = name
	}
	c.label = -1
	roles := make([]string, len(header)) // the option that set each column, for conflicts
	assign := func(option string, names []string, set func(*CTRColumn)) error {
		for _, name := range names {
			i, ok := index[name]
			if !ok {
				return fmt.Errorf("dataset: %s column %q is not in the header (columns: %s)", option, name, strings.Join(header, ", "))
			}
			if roles[i] != "" && roles[i] != option && !(roles[i] == "Numeric" && option == "Log1p") {
				return fmt.Errorf("dataset: column %q is listed in both %s and %s", name, roles[i], option)
			}
			roles[i] = option
			set(&cols[i])
		}
		return nil
	}
	if err := assign("Target", []string{opts.Target}, func(*CTRColumn) {}); err != nil {
		return err
	}
	c.label = index[opts.Target]
	c.width, c.lname = len(header), opts.Target
	sep := opts.BagSep
	if sep == "" {
		sep = "|"
	}
	steps := []struct {
		option string
		names  []string
		set    func(*CTRColumn)
	}{
		{"Drop", opts.Drop, func(*CTRColumn) {}},
		{"Categorical", opts.Categorical, func(col *CTRColumn) { col.Kind = ColumnCategorical }},
		{"Bag", opts.Bag, func(col *CTRColumn) { col.Kind, col.Sep = ColumnBag, sep }},
		{"Numeric", opts.Numeric, func(col *CTRColumn) { col.Kind = ColumnNumeric }},
		{"Log1p", opts.Log1p, func(col *CTRColumn) { col.Kind, col.Log1p = ColumnNumeric, true }},
	}
	for _, st := range steps {
		if err := assign(st.option, st.names, st.set); err != nil {
			return err
		}
	}
	lab := &labeler{}
	if opts.Positive != "" {
		lab.setPositive(opts.Positive)
	}
	c.lab = lab

	// The first data row decides the kind of the remaining columns.
	switch err := c.sc.scan(); {
	case err == io.EOF:
		c.done = true
	case err != nil:
		return c.scanError(err)
	default:
		if err := c.checkWidth(len(header)); err != nil {
			return err
		}
		c.pending = true
	}
	for i := range cols {
		if roles[i] == "Target" || roles[i] == "Drop" || cols[i].Kind != 0 {
			continue
		}
		cols[i].Kind = ColumnCategorical
		if c.pending {
			if _, err := parseFloat(bytes.TrimSpace(c.sc.field(i)), 64); err == nil {
				cols[i].Kind = ColumnNumeric
			}
		}
	}
	for i := range cols {
		if roles[i] == "Target" || roles[i] == "Drop" {
			continue
		}
		c.cols = append(c.cols, cols[i])
		c.src = append(c.src, i)
	}
	if len(c.cols) == 0 {
		return &ParseError{Line: headerLine, Err: errors.New("no feature columns: every column is the target or dropped")}
	}
	c.names = c.columnNames()
	return nil
}

func (c *CTR) columnNames() []string {
	names := make([]string, len(c.cols))
	for i, col := range c.cols {
		names[i] = col.Name
	}
	return names
}

func (c *CTR) checkWidth(want int) error {
	if got := c.sc.fields(); got != want {
		what := "the header has"
		if c.tsv {
			what = "the Criteo TSV layout has (label, I1…I13, C1…C26):"
		}
		return &ParseError{Line: c.sc.start, Err: fmt.Errorf("%d fields; %s %d", got, what, want)}
	}
	return nil
}

func (c *CTR) scanError(err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return &ParseError{Line: se.line, Err: fmt.Errorf("byte %d: %w", se.col, se.err)}
	}
	return fmt.Errorf("dataset: reading line %d: %w", c.sc.lines+1, err)
}

// scanTSV reads the next non-empty line and splits it on tabs into the
// scanner's record buffers.
func (c *CTR) scanTSV() error {
	s := c.sc
	var line []byte
	for {
		l, err := s.readLine()
		if err != nil {
			return err
		}
		if l = trimNL(l); len(l) > 0 {
			line = l
			break
		}
	}
	if s.lines == 1 {
		line = bytes.TrimPrefix(line, []byte("\ufeff"))
	}
	s.start = s.lines
	s.buf = append(s.buf[:0], line...)
	s.ends = s.ends[:0]
	for i, b := range s.buf {
		if b == '\t' {
			s.ends = append(s.ends, i)
		}
	}
	s.ends = append(s.ends, len(s.buf)) // field i is buf[ends[i-1]+1 : ends[i]]
	return nil
}

// rawField returns record field i of the current record.
func (c *CTR) rawField(i int) []byte {
	if !c.tsv {
		return c.sc.field(i)
	}
	begin := 0
	if i > 0 {
		begin = c.sc.ends[i-1] + 1 // past the tab
	}
	return c.sc.buf[begin:c.sc.ends[i]]
}

// Next advances to the next record. It returns false at the end of the
// input or on an error; Err tells which.
func (c *CTR) Next() bool {
	if c.err != nil || c.done {
		return false
	}
	if c.pending {
		c.pending = false
	} else {
		var err error
		if c.tsv {
			err = c.scanTSV()
		} else {
			err = c.sc.scan()
		}
		if err != nil {
			if err == io.EOF {
				c.done = true
			} else {
				c.err = c.scanError(err)
			}
			return false
		}
	}
	if err := c.checkWidth(c.width); err != nil {
		c.err = err
		return false
	}
	if err := c.decodeLabel(); err != nil {
		c.err = err
		return false
	}
	c.n++
	return true
}

func (c *CTR) decodeLabel() error {
	v := bytes.TrimSpace(c.rawField(c.label))
	name := c.lname
	if c.lab != nil {
		if missing(v) {
			return &ParseError{Line: c.sc.start, Column: name, Err: fmt.Errorf("missing label %q", v)}
		}
		y, err := c.lab.classify(v)
		if err != nil {
			return &ParseError{Line: c.sc.start, Column: name, Err: err}
		}
		c.y = y
		return nil
	}
	f, err := parseFloat(v, 64)
	if err != nil || (f != 0 && f != 1) {
		return &ParseError{Line: c.sc.start, Column: name, Err: fmt.Errorf("label %q is not 0 or 1", v)}
	}
	c.y = f
	return nil
}

// Label returns the current record's label: 1 for a click (or the
// positive class), else 0.
func (c *CTR) Label() float64 { return c.y }

// NumFields returns the number of fields of every record: len(Columns()).
func (c *CTR) NumFields() int { return len(c.cols) }

// Field returns field i (in Columns order) of the current record, as
// written (not trimmed). The string aliases the reader's buffer: it is
// valid only until the next call to Next.
func (c *CTR) Field(i int) string {
	b := c.rawField(c.src[i])
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Columns returns the fields of every record, in order.
func (c *CTR) Columns() []CTRColumn { return append([]CTRColumn(nil), c.cols...) }

// Layout returns the detected layout: "criteo-tsv", "criteo-csv" or "csv".
func (c *CTR) Layout() string { return c.layout }

// Err returns the error that stopped Next, or nil at a clean end of input.
func (c *CTR) Err() error { return c.err }

// Line returns the physical line (1-based) where the current record
// starts.
func (c *CTR) Line() int { return c.sc.start }

// N returns the number of records returned so far.
func (c *CTR) N() int { return c.n }

// Classes returns the positive and negative label values as known so far;
// for Criteo data they are "1" and "0".
func (c *CTR) Classes() (positive, negative string) {
	if c.lab == nil {
		return "1", "0"
	}
	if c.lab.posSet {
		positive = c.lab.pos
	}
	if c.lab.negSet {
		negative = c.lab.neg
	}
	return positive, negative
}
