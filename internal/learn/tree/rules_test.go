package tree

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata")

// TestRulesFormat builds a tree by hand and checks each printed rule,
// including the merging of two tests on one feature into an interval.
func TestRulesFormat(t *testing.T) {
	h := must(NewHoeffding(3, Config{}))
	c := h.t
	c.split(c.root, 0, 0.412, [2][2]float64{{30, 70}, {80, 20}})
	left, right := c.nodes[c.root].left, c.nodes[c.root].right
	c.split(left, 1, 0.003, [2][2]float64{{25, 5}, {5, 65}})
	c.split(right, 0, 0.75, [2][2]float64{{40, 0}, {40, 20}})
	names := Names{Features: []string{"nswdemand", "vicprice", "transfer"}, Negative: "DOWN", Positive: "UP"}
	var b bytes.Buffer
	if err := h.Rules(&b, names); err != nil {
		t.Fatal(err)
	}
	want := `if nswdemand <= 0.412 and vicprice <= 0.003 then DOWN (p=0.83, n=30)
if nswdemand <= 0.412 and vicprice > 0.003 then UP (p=0.93, n=70)
if 0.412 < nswdemand <= 0.75 then DOWN (p=1.00, n=40)
if nswdemand > 0.75 then DOWN (p=0.67, n=60)
`
	if got := b.String(); got != want {
		t.Errorf("Rules =\n%s\nwant\n%s", got, want)
	}

	b.Reset()
	if err := must(NewHoeffding(2, Config{})).Rules(&b, Names{}); err != nil || b.String() != "if true then 1 (p=0.50, n=0)\n" {
		t.Errorf("Rules of an empty tree = %q, %v; want %q", b.String(), err, "if true then 1 (p=0.50, n=0)\n")
	}
	if err := h.Rules(&b, Names{Features: []string{"a"}}); err == nil {
		t.Errorf("Rules with 1 feature name for 3 features succeeded; want an error")
	}
	if err := h.Rules(failWriter{}, names); err == nil {
		t.Errorf("Rules to a failing writer succeeded; want the write error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestRulesGolden prints the trees learned from a fixed stream and
// compares them with testdata/rules.golden (go test -rewrite updates it).
func TestRulesGolden(t *testing.T) {
	const dim = 3
	names := Names{Features: []string{"nswdemand", "vicprice", "transfer"}, Negative: "DOWN", Positive: "UP"}
	ht := must(NewHoeffding(dim, Config{}))
	hat := must(NewHAT(dim, HATConfig{Seed: 1}))
	trainAll(newConceptStream(42, 0.05, 0), dim, 5000, ht, hat)
	arf := must(NewARF(dim, ARFConfig{Trees: 2, Seed: 1}))
	trainAll(newConceptStream(42, 0.05, 0), dim, 600, arf)

	var b bytes.Buffer
	for _, m := range []struct {
		name  string
		rules func() error
	}{
		{"Hoeffding tree", func() error { return ht.Rules(&b, names) }},
		{"Hoeffding adaptive tree", func() error { return hat.Rules(&b, names) }},
		{"Adaptive random forest", func() error { return arf.Rules(&b, names) }},
	} {
		b.WriteString("# " + m.name + "\n")
		if err := m.rules(); err != nil {
			t.Fatalf("%s: Rules: %v", m.name, err)
		}
	}
	path := filepath.Join("testdata", "rules.golden")
	if *rewrite {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -rewrite to create it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("rules differ from %s (go test -rewrite updates it):\ngot:\n%s\nwant:\n%s", path, b.Bytes(), want)
	}
}
