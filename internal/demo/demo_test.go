package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs a short demo end to end through HTTP and checks the report:
// its shape, that the continual purchase model beats the frozen one after
// the shift, and that report.html holds plots.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	rep, err := Run(context.Background(), Config{Days: 2, Users: 600, Seed: 3, Batch: 1000, OutDir: dir, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Capabilities map[string]map[string]any `json:"capabilities"`
		Series       map[string]any            `json:"series"`
		CL           map[string]any            `json:"cl_metrics"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	for _, c := range []string{"purchase", "purchase_deep", "recommendations", "forecast", "fraud", "routing"} {
		cp, ok := got.Capabilities[c]
		if !ok {
			t.Errorf("report.json lacks capability %q", c)
			continue
		}
		for _, k := range []string{"metric", "higher_is_better", "continual", "frozen", "retrain"} {
			if _, ok := cp[k]; !ok {
				t.Errorf("capability %q lacks %q", c, k)
			}
		}
		for _, k := range []string{"continual", "frozen", "retrain"} {
			if _, ok := cp[k].(float64); !ok {
				t.Errorf("capability %q: %q = %v; want a number", c, k, cp[k])
			}
		}
	}
	for _, k := range []string{"purchase_log_loss_per_day", "ctr_per_day", "forecast_mae_per_day", "fraud_average_precision_per_day",
		"routing_late_share_per_day", "window_log_loss", "t_days"} {
		if _, ok := got.Series[k]; !ok {
			t.Errorf("series lacks %q", k)
		}
	}
	for _, k := range []string{"acc", "bwt", "fwt"} {
		if _, ok := got.CL[k].(float64); !ok {
			t.Errorf("cl_metrics.%s = %v; want a number", k, got.CL[k])
		}
	}
	p := rep.Capabilities["purchase"]
	if !(p.Continual < p.Frozen) {
		t.Errorf("purchase log loss after the shift: continual %.4f, frozen %.4f; want continual < frozen", p.Continual, p.Frozen)
	}
	if bo := float64(p.Extra["bayes_optimal"]); !(bo > 0 && bo < float64(p.Continual)) {
		t.Errorf("Bayes-optimal log loss %.4f; want in (0, continual %.4f)", bo, p.Continual)
	}
	rv := rep.Recovery
	if math.IsNaN(float64(rv.PreShift[nameContinual])) || math.IsNaN(float64(rv.PreShiftBayes)) {
		t.Errorf("recovery: pre-shift window log loss %v, Bayes %v; want numbers", rv.PreShift[nameContinual], rv.PreShiftBayes)
	}
	if rv.Method == "" || len(rv.RecoveryHours) != len(variants)+len(deepVariants) {
		t.Errorf("recovery: method %q, recovery hours %v; want a method and every variant", rv.Method, rv.RecoveryHours)
	}
	if _, ok := rep.Capabilities["recommendations"].Secondary["regret_per_item_"+nameContinual]; !ok {
		t.Errorf("recommendations lack the continual variant's regret")
	}
	h, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(h), "<svg"); n < 3 {
		t.Errorf("report.html has %d SVG plots; want ≥ 3", n)
	}
	if strings.Contains(string(h), "http://") && !strings.Contains(string(h), `xmlns="http://www.w3.org/2000/svg"`) {
		t.Errorf("report.html refers to external assets")
	}
	for _, want := range []string{"Dashboard: http://127.0.0.1:", "/dashboard/", "Shut down cleanly"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
