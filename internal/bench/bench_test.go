package bench

import (
	"context"
	"testing"
)

func TestIngestSmall(t *testing.T) {
	res, err := Ingest(context.Background(), IngestConfig{Events: 5000, Batch: 500, Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 5000 || res.EventsPerSecond <= 0 || res.LearnedSeconds < res.Seconds {
		t.Fatalf("result %+v", res)
	}
	t.Logf("%+v", res)
}

func TestPurchaseSmall(t *testing.T) {
	res, err := Purchase(context.Background(), PurchaseConfig{Examples: 5000, Vocab: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.DeepExamplesPerSecond <= 0 || res.LogisticExamplesPerSecond <= 0 || res.ShardedExamplesPerSecond <= 0 ||
		res.LiveIDs == 0 || res.BytesPerID <= 0 || res.Score500P99Millis <= 0 {
		t.Fatalf("missing figures: %+v", res)
	}
	if !(res.BayesAUC > 0.6 && res.DeepAUC > 0.5 && res.DeepAUC <= res.BayesAUC+0.02) {
		t.Fatalf("AUCs: deep %.4f, Bayes %.4f", res.DeepAUC, res.BayesAUC)
	}
	if !(res.ShardedAUC > 0.5 && res.ShardedAUC <= res.BayesAUC+0.02) {
		t.Fatalf("AUCs: sharded %.4f, Bayes %.4f", res.ShardedAUC, res.BayesAUC)
	}
	r := res.Recovery
	if r.ShiftAtExample != 2500 || len(r.GapLogLoss) != 40 || r.WindowExamples != 125 || r.PeakGap <= 0 {
		t.Fatalf("recovery %+v: want 40 windows of 125 and a shift at 2,500", r)
	}
	if res.Score500FullP99Millis <= 0 || res.FreezeMillis <= 0 {
		t.Fatalf("missing scoring or freeze figures: %+v", res)
	}
}
