package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs a short demo end to end through HTTP and checks the story
// it tells: the shift hurts every model, and the models recover.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	sum, err := Run(context.Background(), Config{Days: 2, Seed: 3, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	if sum.Events < 20000 || sum.Checkpoint != uint64(sum.Events) || sum.Predictions != 4 {
		t.Fatalf("summary %+v: want ≥ 20000 events all checkpointed and 4 predictions", sum)
	}
	for _, m := range []string{"mlp", "logistic"} {
		before, worst, end := sum.Before[m], sum.AfterShift[m], sum.End[m]
		if !(worst > before*1.1) {
			t.Errorf("%s: worst window log loss after the shift %.4f; want > 1.1 × %.4f before it", m, worst, before)
		}
		if !(end < worst*0.95) {
			t.Errorf("%s: window log loss at the end %.4f; want < 0.95 × worst %.4f (adaptation)", m, end, worst)
		}
	}
	for _, want := range []string{"SHIFTED", "POST /v1/predict/purchase", "checkpoint written"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
