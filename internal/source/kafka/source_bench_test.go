package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/source/kafka"
)

// BenchmarkSource consumes b.N records from an in-process fake Kafka
// (kfake, three partitions) into a segment log (SyncAlways): one op is one
// record mapped, validated, appended durably and committed.
func BenchmarkSource(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i += 1000 {
		recs := make([]*kgo.Record, 0, 1000)
		for j := i; j < min(i+1000, b.N); j++ {
			v := fmt.Sprintf(`{"event_id":"e%d","kind":"page_view","ts":%d,"user":{"id":"u%d"},"product":"p%d"}`, j, 1700000000000+int64(j), j%97, j%1013)
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "u%d", j%97), Value: []byte(v)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	cl.Close()
	l, err := eventlog.Open(b.TempDir(), eventlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var brokers []string
	for _, a := range c.ListenAddrs() {
		brokers = append(brokers, fmt.Sprintf("%q", a))
	}
	cfg, err := kafka.ParseConfig(fmt.Appendf(nil, `{"brokers": [%s], "topics": [%q], "group": "bench", "mapping": %s}`,
		brokers[0], topic, mapping))
	if err != nil {
		b.Fatal(err)
	}
	src, err := kafka.New(cfg, l, kafka.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- src.Run(rctx) }()
	for l.End() < uint64(b.N) {
		select {
		case err := <-done:
			b.Fatalf("Run = %v before consuming %d records", err, b.N)
		case <-time.After(time.Millisecond):
		}
	}
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
