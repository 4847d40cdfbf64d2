package risk

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func handbookDir(t testing.TB) string {
	dir := filepath.Join("..", "..", "..", "shared", "data", "fraud-handbook-sim")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("fraud handbook data not found at %s (see shared/data/SOURCES.md)", dir)
	}
	return dir
}

// TestEvalHandbookLong runs the full evaluation; PERPETUA_LONG=1 only.
// PERPETUA_RISK_MODEL picks the model.
func TestEvalHandbookLong(t *testing.T) {
	if os.Getenv("PERPETUA_LONG") == "" {
		t.Skip("set PERPETUA_LONG=1 to run the full handbook evaluation")
	}
	mc := ModelConfig{Model: Model(os.Getenv("PERPETUA_RISK_MODEL"))}
	mc.NegativeRate, _ = strconv.ParseFloat(os.Getenv("PERPETUA_RISK_NEG"), 64)
	mc.FraudRepeats, _ = strconv.Atoi(os.Getenv("PERPETUA_RISK_REP"))
	mc.Trees, _ = strconv.Atoi(os.Getenv("PERPETUA_RISK_TREES"))
	if j := os.Getenv("PERPETUA_RISK_JSON"); j != "" {
		if err := json.Unmarshal([]byte(j), &mc); err != nil {
			t.Fatal(err)
		}
	}
	cfg := EvalConfig{Model: mc}
	cfg.Days, _ = strconv.Atoi(os.Getenv("PERPETUA_RISK_DAYS"))
	if out := os.Getenv("PERPETUA_RISK_PRED"); out != "" {
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cfg.Predictions = f
	}
	rep, err := Eval(context.Background(), handbookDir(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("%s", b)
}
