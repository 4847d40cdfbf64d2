package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	criteoCSVExcerpt = "testdata/criteo_head20.csv"
	criteoTSVExcerpt = "testdata/criteo_head20.tsv"
	// criteoSample is the 200-row Criteo sample, relative to this package.
	criteoSample = "../../../shared/data/criteo-ctr-sample/criteo_sample.csv"
)

// ctrRecord is a copied record.
type ctrRecord struct {
	line   int
	y      float64
	fields []string
}

func readCTR(t testing.TB, input []byte, opts CTROptions) ([]ctrRecord, *CTR, error) {
	t.Helper()
	r, err := NewCTR(bytes.NewReader(input), opts)
	if err != nil {
		return nil, nil, err
	}
	var out []ctrRecord
	for r.Next() {
		rec := ctrRecord{line: r.Line(), y: r.Label(), fields: make([]string, r.NumFields())}
		for i := range rec.fields {
			rec.fields[i] = strings.Clone(r.Field(i))
		}
		out = append(out, rec)
	}
	return out, r, r.Err()
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCriteoExcerpt(t *testing.T) {
	csvRecs, csvR, err := readCTR(t, readFile(t, criteoCSVExcerpt), CTROptions{})
	if err != nil {
		t.Fatalf("reading %s: %v", criteoCSVExcerpt, err)
	}
	tsvRecs, tsvR, err := readCTR(t, readFile(t, criteoTSVExcerpt), CTROptions{Format: FormatCriteo})
	if err != nil {
		t.Fatalf("reading %s: %v", criteoTSVExcerpt, err)
	}
	if csvR.Layout() != "criteo-csv" || tsvR.Layout() != "criteo-tsv" {
		t.Errorf("Layout() = %q, %q; want criteo-csv, criteo-tsv", csvR.Layout(), tsvR.Layout())
	}
	if len(csvRecs) != 20 || len(tsvRecs) != 20 {
		t.Fatalf("read %d CSV and %d TSV records; want 20 each", len(csvRecs), len(tsvRecs))
	}
	clicks := 0
	for i := range csvRecs {
		c, s := csvRecs[i], tsvRecs[i]
		if c.line != i+2 || s.line != i+1 {
			t.Errorf("record %d lines = %d (CSV), %d (TSV); want %d, %d", i, c.line, s.line, i+2, i+1)
		}
		if c.y != s.y || !reflect.DeepEqual(c.fields, s.fields) {
			t.Errorf("record %d: CSV %v %q; TSV %v %q", i, c.y, c.fields, s.y, s.fields)
		}
		clicks += int(c.y)
	}
	if clicks != 3 {
		t.Errorf("%d clicks; want 3", clicks)
	}
	// Row 1: 0,,3,260.0,,17668.0,,,33.0,,,,0.0,,05db9164,08d6d899,…,c0d61a5c,,
	first := csvRecs[0]
	want := map[int]string{0: "", 1: "3", 2: "260.0", 4: "17668.0", 11: "0.0", 12: "", 13: "05db9164", 14: "08d6d899", 36: "c0d61a5c", 37: "", 38: ""}
	for i, v := range want {
		if first.fields[i] != v {
			t.Errorf("record 0 field %d (%s) = %q; want %q", i, csvR.Columns()[i].Name, first.fields[i], v)
		}
	}
	cols := csvR.Columns()
	if len(cols) != 39 || !reflect.DeepEqual(cols, tsvR.Columns()) {
		t.Fatalf("Columns() = %v (CSV), %v (TSV); want the same 39", cols, tsvR.Columns())
	}
	for i, col := range cols {
		wantCol := CTRColumn{Name: fmt.Sprintf("I%d", i+1), Kind: ColumnNumeric, Log1p: true}
		if i >= CriteoNumeric {
			wantCol = CTRColumn{Name: fmt.Sprintf("C%d", i-CriteoNumeric+1), Kind: ColumnCategorical}
		}
		if col != wantCol {
			t.Errorf("Columns()[%d] = %+v; want %+v", i, col, wantCol)
		}
	}
}

func TestCriteoSample(t *testing.T) {
	data, err := os.ReadFile(criteoSample)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("Criteo sample %s not present (it lives in the shared data directory, outside the repository)", criteoSample)
	}
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := readCTR(t, data, CTROptions{})
	if err != nil {
		t.Fatal(err)
	}
	clicks := 0
	for _, r := range recs {
		clicks += int(r.y)
	}
	if len(recs) != 200 || clicks != 49 {
		t.Errorf("Criteo sample: %d rows, %d clicks; want 200, 49", len(recs), clicks)
	}
	// The same rows as Kaggle TSV, with CRLF line ends, read the same.
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")[1:]
	tsv := strings.ReplaceAll(strings.Join(lines, "\r\n"), ",", "\t")
	again, _, err := readCTR(t, []byte(tsv), CTROptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		if recs[i].y != again[i].y || !reflect.DeepEqual(recs[i].fields, again[i].fields) {
			t.Fatalf("record %d differs between the CSV and TSV spellings", i)
		}
	}
}

func TestGenericCSV(t *testing.T) {
	input := "id,clicked,price,colour,tags,visits,note\n" +
		"1,yes,9.5,red,a|b,3,\n" +
		"2,no,,blue,,0,x\n" +
		"3,yes,12,red, c | |d ,7,y\n"
	recs, r, err := readCTR(t, []byte(input), CTROptions{
		Format: FormatCSV, Target: "clicked", Drop: []string{"id"}, Bag: []string{"tags"}, Log1p: []string{"visits"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []CTRColumn{
		{Name: "price", Kind: ColumnNumeric},
		{Name: "colour", Kind: ColumnCategorical},
		{Name: "tags", Kind: ColumnBag, Sep: "|"},
		{Name: "visits", Kind: ColumnNumeric, Log1p: true},
		{Name: "note", Kind: ColumnCategorical}, // empty on the first row: categorical
	}
	if got := r.Columns(); !reflect.DeepEqual(got, wantCols) {
		t.Errorf("Columns() = %+v; want %+v", got, wantCols)
	}
	want := []ctrRecord{
		{2, 1, []string{"9.5", "red", "a|b", "3", ""}},
		{3, 0, []string{"", "blue", "", "0", "x"}},
		{4, 1, []string{"12", "red", " c | |d ", "7", "y"}},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records = %v; want %v", recs, want)
	}
	if pos, neg := r.Classes(); pos != "yes" || neg != "no" {
		t.Errorf("Classes() = %q, %q; want yes, no", pos, neg)
	}
	// Forced kinds win over detection; a custom separator reaches the column.
	_, r, err = readCTR(t, []byte(input), CTROptions{
		Format: FormatCSV, Target: "clicked", Categorical: []string{"price", "id"}, Numeric: []string{"note"}, Bag: []string{"tags"}, BagSep: ";",
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]ColumnKind{}
	for _, c := range r.Columns() {
		kinds[c.Name] = c.Kind
		if c.Name == "tags" && c.Sep != ";" {
			t.Errorf("tags separator = %q; want %q", c.Sep, ";")
		}
	}
	wantKinds := map[string]ColumnKind{"id": ColumnCategorical, "price": ColumnCategorical, "colour": ColumnCategorical, "tags": ColumnBag, "visits": ColumnNumeric, "note": ColumnNumeric}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("kinds = %v; want %v", kinds, wantKinds)
	}
	// A header with no data rows gives a reader with no records.
	recs, r, err = readCTR(t, []byte("y,a\n"), CTROptions{Format: FormatCSV, Target: "y"})
	if err != nil || len(recs) != 0 || r.NumFields() != 1 {
		t.Errorf("header only: %d records, %d fields, error %v; want 0, 1, nil", len(recs), r.NumFields(), err)
	}
}

func TestCTRErrors(t *testing.T) {
	header := "label," + strings.Join(criteoNames(), ",") + "\n"
	row := func(label string) string { return label + strings.Repeat(",1", 13) + strings.Repeat(",ab", 26) + "\n" }
	tsvRow := func(label string) string {
		return label + strings.Repeat("\t1", 13) + strings.Repeat("\tab", 26) + "\n"
	}
	tests := []struct {
		name  string
		input string
		opts  CTROptions
		err   string
	}{
		{"empty", "", CTROptions{}, "dataset: empty input: no Criteo records"},
		{"blank lines", "\n\r\n", CTROptions{}, "dataset: empty input: no Criteo records"},
		{"bad format", "a", CTROptions{Format: "libsvm"}, `dataset: unknown CTR format "libsvm" (want "criteo" or "csv")`},
		{"criteo with target", "a", CTROptions{Target: "y"}, `dataset: option Target applies to format "csv" only; the Criteo layout is fixed`},
		{"tsv short row", tsvRow("0") + "1\t2\t3\n", CTROptions{}, "dataset: line 2: 3 fields; the Criteo TSV layout has (label, I1…I13, C1…C26): 40"},
		{"tsv bad label", tsvRow("0") + "\n" + tsvRow("2"), CTROptions{}, `dataset: line 3: label: label "2" is not 0 or 1`},
		{"tsv header", "label\t" + strings.Join(criteoNames(), "\t") + "\n", CTROptions{}, `dataset: line 1: label: label "label" is not 0 or 1`},
		{"csv bad label", header + row("1") + row("yes"), CTROptions{}, `dataset: line 3: label: label "yes" is not 0 or 1`},
		{"csv empty label", header + row(""), CTROptions{}, `dataset: line 2: label: label "" is not 0 or 1`},
		{"csv missing column", strings.Replace(header, ",C7", "", 1) + row("1"), CTROptions{}, `dataset: line 1: Criteo header has no column "C7" (want label, I1…I13, C1…C26; use format "csv" for other layouts)`},
		{"csv extra column", strings.Replace(header, "\n", ",extra\n", 1), CTROptions{}, `dataset: line 1: Criteo header has an unexpected column "extra" (want label, I1…I13, C1…C26; use format "csv" for other layouts)`},
		{"csv duplicate column", strings.Replace(header, "\n", ",I3\n", 1), CTROptions{}, `dataset: line 1: column "I3" appears twice in the header (columns 4 and 41)`},
		{"csv field count", header + row("0") + "1,2\n", CTROptions{}, "dataset: line 3: 2 fields; the header has 40"},
		{"csv quote", header + row("0") + "1,\"2\n", CTROptions{}, `dataset: line 3: byte 3: extraneous or missing " in quoted field`},
		{"generic no target", "a,b\n", CTROptions{Format: FormatCSV}, "dataset: no target column given (format csv needs one)"},
		{"generic empty", "", CTROptions{Format: FormatCSV, Target: "y"}, "dataset: empty input: no header row"},
		{"generic unknown target", "a,b\n1,2\n", CTROptions{Format: FormatCSV, Target: "y"}, `dataset: Target column "y" is not in the header (columns: a, b)`},
		{"generic unknown bag", "a,y\n1,2\n", CTROptions{Format: FormatCSV, Target: "y", Bag: []string{"tags"}}, `dataset: Bag column "tags" is not in the header (columns: a, y)`},
		{"generic conflict", "a,y\n1,2\n", CTROptions{Format: FormatCSV, Target: "y", Bag: []string{"a"}, Numeric: []string{"a"}}, `dataset: column "a" is listed in both Bag and Numeric`},
		{"generic target dropped", "a,y\n1,2\n", CTROptions{Format: FormatCSV, Target: "y", Drop: []string{"y"}}, `dataset: column "y" is listed in both Target and Drop`},
		{"generic nothing left", "a,y\n1,0\n", CTROptions{Format: FormatCSV, Target: "y", Drop: []string{"a"}}, "dataset: line 1: no feature columns: every column is the target or dropped"},
		{"generic field count", "a,y\n1,0\n2\n", CTROptions{Format: FormatCSV, Target: "y"}, "dataset: line 3: 1 fields; the header has 2"},
		{"generic first row field count", "a,y\n1\n", CTROptions{Format: FormatCSV, Target: "y"}, "dataset: line 2: 1 fields; the header has 2"},
		{"generic missing label", "a,y\n1,0\n2,NA\n", CTROptions{Format: FormatCSV, Target: "y"}, `dataset: line 3: y: missing label "NA"`},
		{"generic third label", "a,y\n1,0\n2,1\n3,2\n", CTROptions{Format: FormatCSV, Target: "y"}, `dataset: line 4: y: third distinct label "2" (binary target has "1", "0")`},
	}
	for _, tt := range tests {
		_, _, err := readCTR(t, []byte(tt.input), tt.opts)
		if err == nil || err.Error() != tt.err {
			t.Errorf("%s: error %v; want %q", tt.name, err, tt.err)
		}
		var pe *ParseError
		if err != nil && strings.Contains(tt.err, ": line ") && !errors.As(err, &pe) {
			t.Errorf("%s: error %T is not a *ParseError", tt.name, err)
		}
	}
}

func criteoNames() []string {
	var names []string
	for _, c := range criteoColumns() {
		names = append(names, c.Name)
	}
	return names
}

func TestCTRReadError(t *testing.T) {
	boom := errors.New("boom")
	data := readFile(t, criteoTSVExcerpt)
	r, err := NewCTR(io.MultiReader(bytes.NewReader(data), errReader{boom}), CTROptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r.Next() {
		n++
	}
	if n != 20 || !errors.Is(r.Err(), boom) {
		t.Errorf("after %d records Err() = %v; want 20 records then %v", n, r.Err(), boom)
	}
	if _, err := NewCTR(errReader{boom}, CTROptions{}); !errors.Is(err, boom) {
		t.Errorf("NewCTR on a failing reader: %v; want %v", err, boom)
	}
}

// ctrInput repeats the excerpt's records to k of them.
func ctrInput(tb testing.TB, path string, k int) []byte {
	tb.Helper()
	data := readFile(tb, path)
	var header []byte
	if strings.HasSuffix(path, ".csv") {
		i := bytes.IndexByte(data, '\n')
		header, data = data[:i+1], data[i+1:]
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	out := append([]byte(nil), header...)
	for i := 0; i < k; i++ {
		out = append(out, lines[i%20]...)
	}
	return out
}

func TestCTRNextDoesNotAllocate(t *testing.T) {
	for _, path := range []string{criteoTSVExcerpt, criteoCSVExcerpt} {
		input := ctrInput(t, path, 2000)
		r, err := NewCTR(bytes.NewReader(input), CTROptions{})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 { // grow the buffers
			r.Next()
		}
		var sink int
		allocs := testing.AllocsPerRun(1000, func() {
			if !r.Next() {
				t.Fatalf("%s: Next() = false: %v", path, r.Err())
			}
			for i := range r.NumFields() {
				sink += len(r.Field(i))
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Next allocates %v times per record; want 0", path, allocs)
		}
	}
}

func BenchmarkCTR(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"layout=criteo-tsv", criteoTSVExcerpt},
		{"layout=criteo-csv", criteoCSVExcerpt},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const rows = 10000
			input := ctrInput(b, bc.path, rows)
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewCTR(bytes.NewReader(input), CTROptions{})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for r.Next() {
					n++
				}
				if r.Err() != nil || n != rows {
					b.Fatalf("read %d rows: %v", n, r.Err())
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
