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

const excerpt = "testdata/elec2_head200.csv"

// fullElec2 is the complete Elec2 file, relative to this package's directory.
const fullElec2 = "../../../shared/data/elec2/elecNormNew.csv"

type example struct {
	x []float32
	y float64
}

// readAll reads every example, copying x.
func readAll(t *testing.T, input string, opts Options) ([]example, *CSV, error) {
	t.Helper()
	r, err := NewCSV(strings.NewReader(input), opts)
	if err != nil {
		return nil, nil, err
	}
	var out []example
	for r.Next() {
		x, y := r.Example()
		if len(x) != r.Dim() {
			t.Fatalf("len(x) = %d; Dim() = %d", len(x), r.Dim())
		}
		out = append(out, example{append([]float32(nil), x...), y})
	}
	return out, r, r.Err()
}

func TestElec2Excerpt(t *testing.T) {
	data, err := os.ReadFile(excerpt)
	if err != nil {
		t.Fatal(err)
	}
	exs, r, err := readAll(t, string(data), Options{Target: "class"})
	if err != nil {
		t.Fatalf("reading %s: %v", excerpt, err)
	}
	wantNames := []string{"date", "day", "period", "nswprice", "nswdemand", "vicprice", "vicdemand", "transfer"}
	if got := r.FeatureNames(); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("FeatureNames() = %q; want %q", got, wantNames)
	}
	if len(exs) != 200 {
		t.Fatalf("read %d examples; want 200", len(exs))
	}
	up := 0
	for _, e := range exs {
		up += int(e.y)
	}
	if up != 99 {
		t.Errorf("%d examples with y = 1 (UP); want 99", up)
	}
	// Row 1: 0,2,0,0.056443,0.439155,0.003467,0.422915,0.414912,UP
	want := []float32{0, 2, 0, 0.056443, 0.439155, 0.003467, 0.422915, 0.414912}
	if !reflect.DeepEqual(exs[0].x, want) || exs[0].y != 1 {
		t.Errorf("first example = %v, %v; want %v, 1", exs[0].x, exs[0].y, want)
	}
	if pos, neg := r.Classes(); pos != "UP" || neg != "DOWN" {
		t.Errorf("Classes() = %q, %q; want \"UP\", \"DOWN\"", pos, neg)
	}
	if r.Line() != 201 || r.N() != 200 {
		t.Errorf("after the last row Line() = %d, N() = %d; want 201, 200", r.Line(), r.N())
	}
}

func TestElec2Full(t *testing.T) {
	f, err := os.Open(fullElec2)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("full Elec2 file %s not present (it lives in the shared data directory, outside the repository)", fullElec2)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewCSV(f, Options{Target: "class"})
	if err != nil {
		t.Fatal(err)
	}
	n, up := 0, 0
	for r.Next() {
		_, y := r.Example()
		n++
		up += int(y)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 45312 || r.Dim() != 8 || up != 19237 {
		t.Errorf("Elec2: %d rows, %d features, %d UP; want 45312, 8, 19237", n, r.Dim(), up)
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		labels   string // one per row, comma-separated
		positive string
		want     []float64
		err      string
	}{
		{"UP,DOWN,UP", "", []float64{1, 0, 1}, ""},
		{"down,Up,DOWN", "", []float64{0, 1, 0}, ""},
		{"false,true", "", []float64{0, 1}, ""},
		{"no,yes,no", "", []float64{0, 1, 0}, ""},
		{"neg,pos", "", []float64{0, 1}, ""},
		{"0,1,1.0,0", "", []float64{0, 1, 1, 0}, ""},
		{"1,-1,1", "", []float64{1, 0, 1}, ""},
		{"b,a,b,a", "", []float64{0, 1, 0, 1}, ""}, // rule 3: second distinct value positive
		{"2,4,4", "", []float64{0, 1, 1}, ""},
		{"b,a,b", "b", []float64{1, 0, 1}, ""},
		{"1,2,1.0", "1", []float64{1, 0, 1}, ""},
		{"UP,DOWN", "DOWN", []float64{0, 1}, ""},
		{"UP,DOWN,FLAT", "", nil, `line 4: class: third distinct label "FLAT" (binary target has "UP", "DOWN")`},
		{"UP,UP,maybe", "", nil, `line 4: class: third distinct label "maybe" (binary target has "UP", "down")`},
		{"0,1,2", "", nil, `line 4: class: third distinct label "2" (binary target has "1", "0")`},
		{"x,y,z", "", nil, `line 4: class: third distinct label "z" (binary target has "y", "x")`},
		{"x,y,z", "q", nil, `line 3: class: third distinct label "y" (binary target has "q", "x")`},
		{"UP,,DOWN", "", nil, `line 3: class: missing label ""`},
		{"UP,NA", "", nil, `line 3: class: missing label "NA"`},
	}
	for _, tt := range tests {
		input := "a,class\n"
		for l := range strings.SplitSeq(tt.labels, ",") {
			input += "1," + l + "\n"
		}
		exs, _, err := readAll(t, input, Options{Target: "class", Positive: tt.positive})
		if tt.err != "" {
			if err == nil || err.Error() != "dataset: "+tt.err {
				t.Errorf("labels %q (Positive %q): error %v; want %q", tt.labels, tt.positive, err, "dataset: "+tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("labels %q (Positive %q): %v", tt.labels, tt.positive, err)
			continue
		}
		var got []float64
		for _, e := range exs {
			got = append(got, e.y)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("labels %q (Positive %q) = %v; want %v", tt.labels, tt.positive, got, tt.want)
		}
	}
}

func TestFeatures(t *testing.T) {
	h := func(v string) int { return int(fnv1a([]byte(v)) % 4) }
	onehot := func(v string) []float32 {
		x := make([]float32, 4)
		x[h(v)] = 1
		return x
	}
	cat := func(num float32, color string) []float32 { return append([]float32{num}, onehot(color)...) }
	tests := []struct {
		name  string
		input string
		opts  Options
		names []string
		want  [][]float32
	}{
		{
			"detected categorical", "n,color,y\n1.5,red,1\n-2, blue ,0\n",
			Options{Target: "y", Buckets: 4},
			[]string{"n", "color#0", "color#1", "color#2", "color#3"},
			[][]float32{cat(1.5, "red"), cat(-2, "blue")},
		},
		{
			"forced categorical", "n,code,y\n1,10,1\n2,20,0\n",
			Options{Target: "y", Buckets: 4, Categorical: []string{"code"}},
			[]string{"n", "code#0", "code#1", "code#2", "code#3"},
			[][]float32{cat(1, "10"), cat(2, "20")},
		},
		{
			"missing values", "n,color,y\n?,red,1\nNA,,0\n3,null,1\n n/a ,NaN,0\n",
			Options{Target: "y", Buckets: 4},
			[]string{"n", "color#0", "color#1", "color#2", "color#3"},
			[][]float32{cat(0, "red"), make([]float32, 5), {3, 0, 0, 0, 0}, make([]float32, 5)},
		},
		{
			"missing first value stays numeric", "n,y\n,1\n4,0\n",
			Options{Target: "y"}, []string{"n"}, [][]float32{{0}, {4}},
		},
		{
			"drop and target in the middle", "a,y,b,c\n1,1,2,3\n4,0,5,6\n",
			Options{Target: "y", Drop: []string{"b"}}, []string{"a", "c"}, [][]float32{{1, 3}, {4, 6}},
		},
		{
			"quotes, CRLF, BOM, spaces, empty lines", "\ufeff a ,\"y\"\r\n\r\n\" 7 \",\"U\"\"P\"\r\n8,DOWN\r\n",
			Options{Target: "y"}, []string{"a"}, [][]float32{{7}, {8}},
		},
		{
			"float32 rounding", "a,y\n0.1,1\n1e-50,0\n",
			Options{Target: "y"}, []string{"a"}, [][]float32{{0.1}, {0}},
		},
		{
			"header only", "a,b,y\n", Options{Target: "y"}, []string{"a", "b"}, nil,
		},
	}
	for _, tt := range tests {
		exs, r, err := readAll(t, tt.input, tt.opts)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := r.FeatureNames(); !reflect.DeepEqual(got, tt.names) {
			t.Errorf("%s: FeatureNames() = %q; want %q", tt.name, got, tt.names)
		}
		var got [][]float32
		for _, e := range exs {
			got = append(got, e.x)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: features %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		opts   Options
		atOpen bool // NewCSV fails (else Next does)
		line   int  // for *ParseError; 0 for other errors
		column string
		want   string
	}{
		{"no target", "a,b\n", Options{}, true, 0, "", "dataset: no target column given"},
		{"empty input", "", Options{Target: "y"}, true, 0, "", "dataset: empty input: no header row"},
		{"unknown target", "a,b\n1,2\n", Options{Target: "y"}, true, 0, "", `dataset: target column "y" is not in the header (columns: a, b)`},
		{"unknown drop", "a,y\n", Options{Target: "y", Drop: []string{"z"}}, true, 0, "", `dataset: dropped column "z" is not in the header (columns: a, y)`},
		{"drop target", "a,y\n", Options{Target: "y", Drop: []string{"y"}}, true, 0, "", `dataset: column "y" is both the target and dropped`},
		{"duplicate column", "a,b,a\n", Options{Target: "b"}, true, 1, "", `dataset: line 1: column "a" appears twice in the header (columns 1 and 3)`},
		{"negative buckets", "a,y\n", Options{Target: "y", Buckets: -1}, true, 0, "", "dataset: Buckets = -1; want ≥ 0"},
		{"short first row", "a,b,y\n1,1\n", Options{Target: "y"}, true, 2, "", "dataset: line 2: 2 fields; the header has 3 columns"},
		{"long row", "a,y\n1,1\n2,0\n3,1,9\n", Options{Target: "y"}, false, 4, "", "dataset: line 4: 3 fields; the header has 2 columns"},
		{"not a number", "a,y\n1,1\n\n2x,0\n", Options{Target: "y"}, false, 4, "a",
			`dataset: line 4: a: cannot parse "2x" as a number (the column is numeric, judged from line 2; list it in Options.Categorical to hash it)`},
		{"out of range", "a,y\n1,1\n1e39,0\n", Options{Target: "y"}, false, 3, "a", `dataset: line 3: a: "1e39" is out of float32 range`},
		{"infinite", "a,y\n1,1\n-Inf,0\n", Options{Target: "y"}, false, 3, "a", `dataset: line 3: a: "-Inf" is not a finite number`},
		{"bare quote", "a,y\n1,1\n2\"3,0\n", Options{Target: "y"}, false, 3, "", `dataset: line 3: byte 2: bare " in non-quoted field`},
		{"unterminated quote", "a,y\n1,1\n\"2,0\n", Options{Target: "y"}, false, 3, "", `dataset: line 3: byte 1: extraneous or missing " in quoted field`},
		{"text after quote", "a,y\n\"1\"x,1\n", Options{Target: "y"}, true, 2, "", `dataset: line 2: byte 3: extraneous or missing " in quoted field`},
	}
	for _, tt := range tests {
		r, err := NewCSV(strings.NewReader(tt.input), tt.opts)
		if err == nil {
			if tt.atOpen {
				t.Errorf("%s: NewCSV succeeded; want error %q", tt.name, tt.want)
				continue
			}
			for r.Next() {
			}
			err = r.Err()
			if r.Next() {
				t.Errorf("%s: Next() = true after an error", tt.name)
			}
		} else if !tt.atOpen {
			t.Errorf("%s: NewCSV: %v; want success", tt.name, err)
			continue
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v; want %q", tt.name, err, tt.want)
			continue
		}
		var pe *ParseError
		if got := errors.As(err, &pe); got != (tt.line != 0) {
			t.Errorf("%s: errors.As(*ParseError) = %v; want %v", tt.name, got, tt.line != 0)
		} else if got && (pe.Line != tt.line || pe.Column != tt.column) {
			t.Errorf("%s: ParseError at line %d, column %q; want %d, %q", tt.name, pe.Line, pe.Column, tt.line, tt.column)
		}
	}
}

// TestLineNumbers checks Line() counts physical lines, including newlines
// inside quoted fields and skipped empty lines.
func TestLineNumbers(t *testing.T) {
	input := "a,y\n1,1\n\n\"2\n\",0\n3,1"
	r, err := NewCSV(strings.NewReader(input), Options{Target: "y", Categorical: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for r.Next() {
		got = append(got, r.Line())
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 4, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("Line() per example over %q = %v; want %v", input, got, want)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r, err := NewCSV(io.MultiReader(strings.NewReader("a,y\n1,1\n"), errReader{boom}), Options{Target: "y"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r.Next() {
		n++
	}
	if err := r.Err(); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "dataset: reading line 3") {
		t.Errorf("Err() = %v after %d rows; want the reader's error, wrapped, at line 3", err, n)
	}
}

// repeated returns the excerpt with its data rows repeated k times.
func repeated(tb testing.TB, k int) []byte {
	tb.Helper()
	data, err := os.ReadFile(excerpt)
	if err != nil {
		tb.Fatal(err)
	}
	i := bytes.IndexByte(data, '\n') + 1
	out := bytes.Clone(data[:i])
	for range k {
		out = append(out, data[i:]...)
	}
	return out
}

func TestNextDoesNotAllocate(t *testing.T) {
	data := repeated(t, 20)
	// A categorical column and quoted fields exercise every decode path.
	data = append(data, "0.5,3,\"0.25\",0.1,0.2,0.3,0.4,0.5,UP\n"...)
	r, err := NewCSV(bytes.NewReader(data), Options{Target: "class", Categorical: []string{"day"}})
	if err != nil {
		t.Fatal(err)
	}
	got := testing.AllocsPerRun(2000, func() {
		if !r.Next() {
			t.Fatalf("Next() = false early: %v", r.Err())
		}
	})
	if got != 0 {
		t.Errorf("Next allocates %v times per row; want 0", got)
	}
}

func BenchmarkNext(b *testing.B) {
	data := repeated(b, 50) // 10,000 rows
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		r, err := NewCSV(bytes.NewReader(data), Options{Target: "class"})
		if err != nil {
			b.Fatal(err)
		}
		for r.Next() {
			rows++
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func ExampleCSV() {
	input := "size,colour,label\n2.5,red,yes\n,blue,no\n"
	r, err := NewCSV(strings.NewReader(input), Options{Target: "label", Buckets: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.FeatureNames())
	for r.Next() {
		x, y := r.Example()
		fmt.Println(r.Line(), x, y)
	}
	if err := r.Err(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// [size colour#0 colour#1]
	// 2 [2.5 1 0] 1
	// 3 [0 0 1] 0
}
