// Package lint holds tests that keep the tree's architecture honest.
package lint

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/perpetua-ml/perpetua/"

// rank places every internal package along the flow of
// ARCHITECTURE.md. A package may import only packages of a strictly lower
// rank: dependencies point one way, and data goes back upstream only
// through the event log. Shared contracts (tensor, learn, metric, drift,
// config, telemetry) sit low so every stage may use them; policy sits with
// the learners because its off-policy estimators use them as reward models. A new
// package must be added here, which makes its place in the flow a
// reviewed decision.
var rank = map[string]int{
	// Leaves and shared contracts.
	"internal/durable":         -1,
	"internal/tensor":          0,
	"internal/event":           0,
	"internal/config":          0,
	"internal/telemetry":       0,
	"internal/learn":           1,
	"internal/metric":          1,
	"internal/drift":           1,
	"internal/embed":           2,
	"internal/learn/baseline":  50,
	"internal/learn/learntest": 3,
	// The flow.
	"internal/eventlog":              10,
	"internal/eventlog/eventlogtest": 11,
	"internal/eventlog/natslog":      12,
	"internal/source/kafka":          21,
	"internal/ingest":                20,
	"internal/dataset":               20,
	"internal/sim":                   20,
	"internal/feature":               30,
	"internal/feature/velocity":      31,
	"internal/label":                 40,
	"internal/learn/linear":          50,
	"internal/learn/tree":            50,
	"internal/learn/deep":            50,
	"internal/learn/mlp":             50,
	"internal/learn/forecast":        50,
	"internal/policy":                55,
	"internal/policy/ope":            56,
	"internal/continual":             60,
	"internal/evaluate":              65,
	"internal/recommend":             70,
	"internal/risk":                  70,
	"internal/supply":                70,
	"internal/route":                 70,
	"internal/snapshot":              80,
	"internal/registry":              85,
	"internal/serve":                 90,
	"internal/dashboard":             90,
	"internal/engine":                100,
	"internal/bench":                 105,
	"internal/demo":                  105,
	"internal/lint":                  100,
	"cmd/perpetua":                   110,
}

func TestDependenciesPointOneWay(t *testing.T) {
	root := filepath.Join("..", "..")
	imports := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if imports[rel] == nil {
			imports[rel] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if strings.HasPrefix(p, module) {
				imports[rel][strings.TrimPrefix(p, module)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pkgs := make([]string, 0, len(imports))
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	if len(pkgs) < 5 {
		t.Fatalf("found only %d packages under %s; is the walk broken?", len(pkgs), root)
	}
	for _, p := range pkgs {
		rp, ok := rank[p]
		if !ok {
			t.Errorf("package %s has no rank in internal/lint: add it where it belongs in the flow", p)
			continue
		}
		for im := range imports[p] {
			ri, ok := rank[im]
			if !ok {
				t.Errorf("%s imports %s, which has no rank", p, im)
				continue
			}
			if ri >= rp {
				t.Errorf("%s (rank %d) imports %s (rank %d): dependencies must point one way", p, rp, im, ri)
			}
		}
	}
}
