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
