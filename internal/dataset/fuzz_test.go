package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

var scannerSeeds = []string{
	"a,b\n1,2\n",
	"a,\"b\nc\",d\r\n\r\n\"e\"\"f\",\n",
	"\"unterminated\n",
	"x\"y,z\n",
	"\"a\"b,c\n",
	"a,b\r",
	"\n\n,\n\"\"\n",
	"\"a\r\nb\"\r\n",
	"\ufeffa,b\n\xff,\"\xfe\"\n",
}

// FuzzScanner checks the scanner against encoding/csv, whose default
// dialect it implements: the same records, the same starting lines, and an
// error exactly where encoding/csv reports one.
func FuzzScanner(f *testing.F) {
	for _, s := range scannerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref := csv.NewReader(bytes.NewReader(data))
		ref.FieldsPerRecord = -1
		sc := newScanner(bytes.NewReader(data))
		for rec := 0; ; rec++ {
			want, wantErr := ref.Read()
			gotErr := sc.scan()
			if wantErr == io.EOF || gotErr == io.EOF {
				if wantErr != gotErr {
					t.Fatalf("record %d: scanner error %v; encoding/csv error %v", rec, gotErr, wantErr)
				}
				return
			}
			if (wantErr != nil) != (gotErr != nil) {
				t.Fatalf("record %d: scanner error %v; encoding/csv error %v (record %q)", rec, gotErr, wantErr, want)
			}
			if wantErr != nil {
				return // both reject the input here
			}
			got := make([]string, sc.fields())
			for i := range got {
				got[i] = string(sc.field(i))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("record %d = %q; encoding/csv reads %q", rec, got, want)
			}
			if line, _ := ref.FieldPos(0); line != sc.start {
				t.Fatalf("record %d starts on line %d; encoding/csv says %d", rec, sc.start, line)
			}
		}
	})
}

// FuzzCSV feeds arbitrary input to the reader: it must not panic, every
// example must be well formed, and every error must say where it is.
func FuzzCSV(f *testing.F) {
	excerptData, err := os.ReadFile(excerpt)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(excerptData[:2000], "class", "", uint8(0))
	for _, s := range []string{
		"a,b,y\n1,red,UP\n2,blue,DOWN\n,NA,UP\n",
		"y,a\n0,1\n1,2\n2,3\n",
		"a,y\n\"1\",\"x\"\n2,z\n3,w\n",
		"a,y\n1e39,1\n",
	} {
		f.Add([]byte(s), "y", "", uint8(3))
		f.Add([]byte(s), "y", "x", uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, target, positive string, buckets uint8) {
		r, err := NewCSV(bytes.NewReader(data), Options{Target: target, Positive: positive, Buckets: int(buckets)})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dataset: ") {
				t.Fatalf("NewCSV error %q lacks the package prefix", err)
			}
			return
		}
		if len(r.FeatureNames()) != r.Dim() {
			t.Fatalf("%d feature names for %d features", len(r.FeatureNames()), r.Dim())
		}
		line := 1
		for r.Next() {
			x, y := r.Example()
			if len(x) != r.Dim() {
				t.Fatalf("len(x) = %d; Dim() = %d", len(x), r.Dim())
			}
			if y != 0 && y != 1 {
				t.Fatalf("line %d: y = %v", r.Line(), y)
			}
			for i, v := range x {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("line %d: feature %d (%s) = %v", r.Line(), i, r.FeatureNames()[i], v)
				}
			}
			if r.Line() <= line {
				t.Fatalf("Line() went from %d to %d", line, r.Line())
			}
			line = r.Line()
		}
		if err := r.Err(); err != nil {
			var pe *ParseError
			if !strings.HasPrefix(err.Error(), "dataset: ") || (!errors.As(err, &pe) && !strings.Contains(err.Error(), "reading line")) {
				t.Fatalf("Next error %q lacks the package prefix or a location", err)
			}
		}
	})
}
