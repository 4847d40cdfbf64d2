package dataset

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzCTR feeds arbitrary input to the CTR reader in both formats: it must
// not panic, every record must have one value per column and a 0/1
// label, every error about the input must say on which line, and Criteo
// TSV input must read exactly as a naive split of its lines does.
func FuzzCTR(f *testing.F) {
	f.Add(ctrInput(f, criteoTSVExcerpt, 3), false)
	f.Add(ctrInput(f, criteoCSVExcerpt, 3), false)
	for _, s := range []string{
		"0" + strings.Repeat("\t", 39) + "\n",
		"1" + strings.Repeat("\tx", 39) + "\r\n\r\n0" + strings.Repeat("\t", 39) + "\r",
		"y,a,b\n1,2,x|y\n0,,\n",
		"y,a\n\"1\",\"x\ny\"\n0,\"\"\"\"\n",
		"\ufeffy,a\n1,2\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, generic bool) {
		opts := CTROptions{}
		if generic {
			opts = CTROptions{Format: FormatCSV, Target: "y"}
		}
		r, err := NewCTR(bytes.NewReader(data), opts)
		if err != nil {
			checkLocated(t, err)
			return
		}
		var got [][]string
		for r.Next() {
			if y := r.Label(); y != 0 && y != 1 {
				t.Fatalf("line %d: Label() = %v; want 0 or 1", r.Line(), y)
			}
			if r.NumFields() != len(r.Columns()) {
				t.Fatalf("NumFields() = %d; len(Columns()) = %d", r.NumFields(), len(r.Columns()))
			}
			rec := []string{}
			for i := range r.NumFields() {
				rec = append(rec, strings.Clone(r.Field(i)))
			}
			got = append(got, rec)
		}
		if err := r.Err(); err != nil {
			checkLocated(t, err)
		}
		if r.Layout() != "criteo-tsv" || r.Err() != nil {
			return
		}
		want := naiveTSV(data)
		if len(want) != len(got) {
			t.Fatalf("read %d TSV records; a naive split gives %d", len(got), len(want))
		}
		for i := range want {
			if strings.Join(want[i][1:], "\t") != strings.Join(got[i], "\t") {
				t.Fatalf("TSV record %d = %q; a naive split gives %q", i, got[i], want[i][1:])
			}
		}
	})
}

// checkLocated fails unless err is a *ParseError with a line, or one of
// the whole-input and header errors.
func checkLocated(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.Line < 1 {
			t.Fatalf("error %q has line %d", err, pe.Line)
		}
		return
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "dataset: empty input") && !strings.Contains(msg, "is not in the header") {
		t.Fatalf("error %q (%T) does not locate the problem", err, err)
	}
}

// naiveTSV splits input the way the Criteo TSV reader should: "\r\n"
// reads as "\n", a final "\r" is dropped, empty lines are skipped, a
// leading byte order mark is dropped, and fields are split on tabs.
func naiveTSV(data []byte) [][]string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\r")
	s = strings.TrimPrefix(s, "\ufeff")
	var out [][]string
	for line := range strings.SplitSeq(s, "\n") {
		if line != "" {
			out = append(out, strings.Split(line, "\t"))
		}
	}
	return out
}
