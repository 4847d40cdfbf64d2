package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tinyVRP = `NAME : tiny
COMMENT : hand-made
TYPE : CVRP
DIMENSION : 4
EDGE_WEIGHT_TYPE : EUC_2D
CAPACITY : 10
NODE_COORD_SECTION
 1 0 0
 2 3 4
 3 6 8
 4 -3 4
DEMAND_SECTION
1 0
2 4
3 5
4 6
DEPOT_SECTION
 1
 -1
EOF
`

const tinySolomon = `TINY

VEHICLE
NUMBER     CAPACITY
  3         10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       100          0
    1      1          1          4          0        50          5
    2      2          2          5         10        60          5
    3      0          3          6          0        70          5
`

func TestParseVRPTiny(t *testing.T) {
	in, err := Parse("tiny.vrp", []byte(tinyVRP))
	if err != nil {
		t.Fatalf("Parse(tiny) = %v", err)
	}
	if in.Kind != KindCVRPLIB || in.N() != 4 || in.Capacity != 10 {
		t.Fatalf("Parse(tiny) = kind %v n %d cap %v; want cvrplib 4 10", in.Kind, in.N(), in.Capacity)
	}
	tests := []struct {
		i, j int
		want float64
	}{{0, 1, 5}, {1, 2, 5}, {0, 2, 10}, {1, 3, 6}, {2, 3, math.Round(math.Hypot(9, 4))}}
	for _, tt := range tests {
		if got := in.Dist(tt.i, tt.j); got != tt.want {
			t.Errorf("Dist(%d,%d) = %v; want %v", tt.i, tt.j, got, tt.want)
		}
	}
}

func TestParseSolomonTiny(t *testing.T) {
	in, err := Parse("tiny.txt", []byte(tinySolomon))
	if err != nil {
		t.Fatalf("Parse(tiny solomon) = %v", err)
	}
	if in.Kind != KindSolomon || in.Vehicles != 3 || !in.HasTW {
		t.Fatalf("kind %v vehicles %d hasTW %v", in.Kind, in.Vehicles, in.HasTW)
	}
	// sqrt(2) = 1.41421 truncates to 1.4.
	if got := in.Dist(0, 1); got != 1.4 {
		t.Errorf("Dist(0,1) = %v; want 1.4", got)
	}
}

// TestExplicitFormats writes the tiny instance's rounded distances in every
// EDGE_WEIGHT_FORMAT and checks the reader rebuilds the same matrix.
func TestExplicitFormats(t *testing.T) {
	ref, err := Parse("tiny.vrp", []byte(tinyVRP))
	if err != nil {
		t.Fatal(err)
	}
	n := ref.N()
	d := func(i, j int) float64 { return ref.Dist(i, j) }
	formats := map[string]func() []float64{
		"FULL_MATRIX": func() (w []float64) {
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					w = append(w, d(i, j))
				}
			}
			return
		},
		"UPPER_ROW": func() (w []float64) {
			for i := 0; i < n; i++ {
				for j := i + 1; j < n; j++ {
					w = append(w, d(i, j))
				}
			}
			return
		},
		"LOWER_ROW": func() (w []float64) {
			for i := 0; i < n; i++ {
				for j := 0; j < i; j++ {
					w = append(w, d(i, j))
				}
			}
			return
		},
		"UPPER_DIAG_ROW": func() (w []float64) {
			for i := 0; i < n; i++ {
				for j := i; j < n; j++ {
					w = append(w, d(i, j))
				}
			}
			return
		},
		"LOWER_DIAG_ROW": func() (w []float64) {
			for i := 0; i < n; i++ {
				for j := 0; j <= i; j++ {
					w = append(w, d(i, j))
				}
			}
			return
		},
		"UPPER_COL": func() (w []float64) { // column-major upper = row-major lower
			for j := 0; j < n; j++ {
				for i := 0; i < j; i++ {
					w = append(w, d(i, j))
				}
			}
			return
		},
		"LOWER_COL": func() (w []float64) {
			for j := 0; j < n; j++ {
				for i := j + 1; i < n; i++ {
					w = append(w, d(i, j))
				}
			}
			return
		},
	}
	for name, gen := range formats {
		var b strings.Builder
		fmt.Fprintf(&b, "NAME : x\nTYPE : CVRP\nDIMENSION : %d\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : %s\nCAPACITY : 10\nEDGE_WEIGHT_SECTION\n", n, name)
		for k, w := range gen() {
			fmt.Fprintf(&b, "%v", w)
			if k%3 == 2 {
				b.WriteString("\n")
			} else {
				b.WriteString(" ")
			}
		}
		b.WriteString("\nDEMAND_SECTION\n1 0\n2 4\n3 5\n4 6\nDEPOT_SECTION\n1\n-1\nEOF\n")
		in, err := Parse("x.vrp", []byte(b.String()))
		if err != nil {
			t.Errorf("Parse(%s) = %v", name, err)
			continue
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if in.Dist(i, j) != d(i, j) {
					t.Errorf("%s: Dist(%d,%d) = %v; want %v", name, i, j, in.Dist(i, j), d(i, j))
				}
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // substrings of the error
	}{
		{"dup coord id", strings.Replace(tinyVRP, " 4 -3 4", " 3 -3 4", 1), []string{":11", "customer 3", "duplicate"}},
		{"demand > cap", strings.Replace(tinyVRP, "4 6\n", "4 16\n", 1), []string{"customer 4", "exceeds the vehicle capacity 10"}},
		{"bad coord", strings.Replace(tinyVRP, " 2 3 4", " 2 3 x", 1), []string{":9", `"x" is not a number`}},
		{"short coord", strings.Replace(tinyVRP, " 2 3 4", " 2 3", 1), []string{":9", "want 3 numbers, got 2"}},
		{"no dimension", strings.Replace(tinyVRP, "DIMENSION : 4\n", "", 1), []string{"before DIMENSION"}},
		{"unknown keyword", strings.Replace(tinyVRP, "TYPE : CVRP", "TYPE : CVRP\nFOO : 1", 1), []string{":4", `unknown keyword "FOO"`}},
		{"missing demand", strings.Replace(tinyVRP, "4 6\n", "", 1), []string{"want 2 numbers"}},
		{"bad type", strings.Replace(tinyVRP, "EUC_2D", "GEO", 1), []string{"EDGE_WEIGHT_TYPE \"GEO\""}},
		{"sol dup", strings.Replace(tinySolomon, "    3      0", "    2      0", 1), []string{":13", "customer 2", "duplicate"}},
		{"sol window", strings.Replace(tinySolomon, "0        70", "80        70", 1), []string{"customer 3", "empty"}},
		{"sol unreachable", strings.Replace(tinySolomon, "0        50", "0        1", 1), []string{":11", "customer 1", "unreachable within its time window"}},
		{"sol columns", strings.Replace(tinySolomon, "5         10        60          5", "5 10 60", 1), []string{":12", "want 7 columns"}},
		{"sol demand", strings.Replace(tinySolomon, "4          0        50", "40          0        50", 1), []string{"customer 1", "exceeds the vehicle capacity"}},
		{"garbage", "hello", []string{"unknown format"}},
		{"json dup", `{"capacity":10,"nodes":[{"id":0},{"id":1,"x":1,"demand":1},{"id":1,"x":2}]}`, []string{"customer 1", "duplicate id"}},
		{"json unknown", `{"capacity":10,"nodez":[]}`, []string{"bad JSON", "nodez"}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.name, []byte(tt.text))
		if err == nil {
			t.Errorf("Parse(%q) = nil error; want %q", tt.name, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v; want an ErrInvalid", tt.name, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q) = %q; want it to contain %q", tt.name, err, w)
			}
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, text := range []string{tinyVRP, tinySolomon} {
		in, err := Parse("x", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(in.JSON())
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("x.json", b)
		if err != nil {
			t.Fatalf("Parse(JSON(%s)) = %v", in.Name, err)
		}
		for i := 0; i < in.N(); i++ {
			for j := 0; j < in.N(); j++ {
				if back.Dist(i, j) != in.Dist(i, j) {
					t.Fatalf("JSON round trip: Dist(%d,%d) = %v; want %v", i, j, back.Dist(i, j), in.Dist(i, j))
				}
			}
			if back.Due[i] != in.Due[i] || back.Demand[i] != in.Demand[i] {
				t.Fatalf("JSON round trip changed node %d", i)
			}
		}
	}
}

// TestBestKnownSolutions reads the published .sol files and checks our
// cost conventions reproduce their stated costs and that they pass Check.
func TestBestKnownSolutions(t *testing.T) {
	a := needData(t, "cvrplib-augerat-A")
	s := needData(t, "solomon-vrptw-C1-R1")
	files, _ := filepath.Glob(filepath.Join(s, "*.sol"))
	files = append(files, filepath.Join(a, "A-n32-k5.sol"))
	for _, f := range files {
		base := strings.TrimSuffix(f, ".sol")
		inst, err := LoadFile(base + ".txt")
		if err != nil {
			inst, err = LoadFile(base + ".vrp")
		}
		if err != nil {
			t.Fatalf("LoadFile(%q) = %v", base, err)
		}
		b, _ := os.ReadFile(f)
		sol, stated, err := ReadSol(inst, b)
		if err != nil {
			t.Fatalf("ReadSol(%q) = %v", f, err)
		}
		if math.Abs(sol.Cost-stated) > 1e-6 {
			t.Errorf("%s: recomputed cost %v; file states %v", filepath.Base(f), sol.Cost, stated)
		}
		if err := Check(inst, sol); err != nil {
			t.Errorf("Check(%s) = %v", filepath.Base(f), err)
		}
		// Writing and reading back gives the same routes and cost.
		var buf bytes.Buffer
		if err := WriteSol(&buf, inst, sol); err != nil {
			t.Fatal(err)
		}
		back, st2, err := ReadSol(inst, buf.Bytes())
		if err != nil || math.Abs(back.Cost-sol.Cost) > 1e-6 || math.Abs(st2-stated) > 1e-6 || len(back.Routes) != len(sol.Routes) {
			t.Errorf("%s: WriteSol/ReadSol round trip = %v, %v, %v", filepath.Base(f), back, st2, err)
		}
	}
}
