package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// scanner splits RFC 4180 CSV (comma-separated, double-quote quoting) into
// records without allocating per record once its buffers have grown. Its
// dialect is encoding/csv's default one, which the fuzz test checks
// field for field: "\r\n" reads as "\n" (also inside quotes), a trailing
// "\r" at end of input is dropped, empty lines are skipped, a quote may
// not appear inside an unquoted field, and a quoted field must be followed
// by a comma or the end of the line.
type scanner struct {
	br   *bufio.Reader
	long []byte // a physical line longer than br's buffer
	buf  []byte // the current record's field contents, unquoted, back to back
	ends []int  // ends[i] is where field i ends in buf

	lines int // physical lines read so far
	start int // physical line (1-based) where the current record starts
}

// syntaxError is a CSV syntax error at a physical line and byte column.
type syntaxError struct {
	line, col int
	err       error
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("line %d, byte %d: %v", e.line, e.col, e.err)
}

var (
	errBareQuote = errors.New(`bare " in non-quoted field`)
	errQuote     = errors.New(`extraneous or missing " in quoted field`)
)

func newScanner(r io.Reader) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns the next physical line including its '\n' (if any),
// with "\r\n" normalized to "\n" and a lone trailing "\r" at end of input
// dropped. At end of input it returns io.EOF with an empty line. The line
// is valid until the next call.
func (s *scanner) readLine() ([]byte, error) {
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.long = append(s.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = s.br.ReadSlice('\n')
			s.long = append(s.long, line...)
		}
		line = s.long
	}
	if len(line) > 0 && err == io.EOF {
		err = nil
		if line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	}
	if err != nil {
		return nil, err
	}
	s.lines++
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, nil
}

// trimNL drops a final '\n'.
func trimNL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return b[:len(b)-1]
	}
	return b
}

// scan reads the next record. It returns io.EOF when the input ends
// cleanly before a record, a *syntaxError for malformed CSV, or the
// reader's error.
func (s *scanner) scan() error {
	var line []byte
	for {
		l, err := s.readLine()
		if err != nil {
			return err
		}
		if len(l) > 0 && l[0] != '\n' {
			line = l
			break
		}
	}
	s.start = s.lines
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	col := 1 // byte column of line[0] on its physical line
	for {
		// One field starts at line[0].
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexByte(line, ',')
			field := line
			if i >= 0 {
				field = line[:i]
			} else {
				field = trimNL(line)
			}
			if j := bytes.IndexByte(field, '"'); j >= 0 {
				return &syntaxError{s.lines, col + j, errBareQuote}
			}
			s.buf = append(s.buf, field...)
			s.ends = append(s.ends, len(s.buf))
			if i < 0 {
				return nil
			}
			line = line[i+1:]
			col += i + 1
			continue
		}
		// Quoted field.
		startLine, startCol := s.lines, col
		line = line[1:]
		col++
		for {
			i := bytes.IndexByte(line, '"')
			if i < 0 {
				// The field goes on past this line (its '\n' included).
				s.buf = append(s.buf, line...)
				next, err := s.readLine()
				if err == io.EOF {
					return &syntaxError{startLine, startCol, errQuote}
				}
				if err != nil {
					return err
				}
				line, col = next, 1
				continue
			}
			s.buf = append(s.buf, line[:i]...)
			line = line[i+1:]
			col += i + 1
			switch {
			case len(line) > 0 && line[0] == '"': // "" is an escaped quote
				s.buf = append(s.buf, '"')
				line = line[1:]
				col++
				continue
			case len(line) > 0 && line[0] == ',':
				s.ends = append(s.ends, len(s.buf))
				line = line[1:]
				col++
			case len(trimNL(line)) == 0:
				s.ends = append(s.ends, len(s.buf))
				return nil
			default:
				return &syntaxError{s.lines, col - 1, errQuote}
			}
			break
		}
	}
}

// fields returns the number of fields in the current record.
func (s *scanner) fields() int { return len(s.ends) }

// field returns field i of the current record, valid until the next scan.
func (s *scanner) field(i int) []byte {
	begin := 0
	if i > 0 {
		begin = s.ends[i-1]
	}
	return s.buf[begin:s.ends[i]]
}
