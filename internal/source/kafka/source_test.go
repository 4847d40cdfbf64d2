package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/source/kafka"
)

const topic = "shop-events"

// mapping maps the records produce writes.
const mapping = `{
  "fields": {
    "id":        {"path": "event_id"},
    "type":      {"path": "kind", "map": {"page_view": "view", "order": "purchase"}},
    "timestamp": {"path": "ts", "format": "unix_ms"},
    "user_id":   {"path": "user.id"},
    "item_id":   {"path": "product"}
  }
}`

// startKafka starts an in-process fake Kafka cluster (kfake, on a loopback
// port it owns) with a three-partition topic.
func startKafka(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatalf("kfake.NewCluster = %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes n records: valid events e0…e(n-1), except that every
// record whose index is in bad is an unmappable one.
func produce(t *testing.T, c *kfake.Cluster, n int, bad map[int]bool) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := fmt.Sprintf(`{"event_id":"e%d","kind":"page_view","ts":%d,"user":{"id":"u%d"},"product":"p%d"}`, i, 1700000000000+int64(i), i%7, i%11)
		if bad[i] {
			v = fmt.Sprintf(`{"event_id":"e%d","kind":"refund"}`, i)
		}
		recs[i] = &kgo.Record{Key: fmt.Appendf(nil, "u%d", i%7), Value: []byte(v)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync = %v", err)
	}
}

func config(t *testing.T, c *kfake.Cluster, extra string) kafka.Config {
	t.Helper()
	var brokers []string
	for _, a := range c.ListenAddrs() {
		brokers = append(brokers, fmt.Sprintf("%q", a))
	}
	js := fmt.Sprintf(`{"brokers": [%s], "topics": [%q], "group": "perpetua", "mapping": %s%s}`,
		strings.Join(brokers, ","), topic, mapping, extra)
	cfg, err := kafka.ParseConfig([]byte(js))
	if err != nil {
		t.Fatalf("ParseConfig = %v", err)
	}
	return cfg
}

// flaky wraps a log: its failAt-th Append (1-based) writes the batch and
// then reports an error, like a process dying between the append and the
// Kafka commit.
type flaky struct {
	eventlog.Log
	n, failAt int64
	calls     atomic.Int64
}

func (f *flaky) Append(ctx context.Context, batch [][]byte) (uint64, error) {
	first, err := f.Log.Append(ctx, batch)
	if err == nil && f.calls.Add(1) == f.failAt {
		return 0, errors.New("injected crash after append")
	}
	return first, err
}

// runUntil runs src until the log holds want records (or the source fails)
// and returns Run's error.
func runUntil(t *testing.T, src *kafka.Source, l eventlog.Log, want uint64) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("log has %d records after 30s; want %d", l.End(), want)
		case <-time.After(10 * time.Millisecond):
		}
		if l.End() >= want {
			cancel()
			return <-done
		}
	}
}

// checkLog verifies that l holds exactly the events e0…e(n-1) minus bad,
// each once, in order within each Kafka partition (by the key's user).
func checkLog(t *testing.T, l eventlog.Log, n int, bad map[int]bool) {
	t.Helper()
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	seen := map[string]bool{}
	lastByUser := map[string]int{}
	for off := uint64(0); off < l.End(); off++ {
		rec, err := r.Next(context.Background())
		if err != nil {
			t.Fatalf("Next at %d = %v", off, err)
		}
		ev, err := event.Decode(rec.Data)
		if err != nil {
			t.Fatalf("record %d = %q does not decode: %v", off, rec.Data, err)
		}
		if seen[ev.ID] {
			t.Fatalf("event %s appended twice (second at offset %d)", ev.ID, off)
		}
		seen[ev.ID] = true
		var i int
		fmt.Sscanf(ev.ID, "e%d", &i)
		if prev, ok := lastByUser[ev.UserID]; ok && prev > i {
			t.Fatalf("event %s after e%d of the same key: partition order lost", ev.ID, prev)
		}
		lastByUser[ev.UserID] = i
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("e%d", i)
		if bad[i] == seen[id] {
			t.Fatalf("event %s in log = %v; want %v", id, seen[id], !bad[i])
		}
	}
}

func openLog(t *testing.T) eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestSourceSkipsInvalid(t *testing.T) {
	c := startKafka(t)
	const n = 300
	bad := map[int]bool{3: true, 100: true, 299: true}
	produce(t, c, n, bad)
	l := openLog(t)
	var reported []*kafka.RecordError
	src, err := kafka.New(config(t, c, `, "max_poll_records": 50`), l, kafka.Options{
		OnInvalid: func(e *kafka.RecordError) { reported = append(reported, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, src, l, n-3); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	checkLog(t, l, n, bad)
	// Invalid records are counted once the poll holding them is done.
	deadline := time.Now().Add(10 * time.Second)
	for src.Stats().Invalid < 3 && time.Now().Before(deadline) {
		if err := runUntil(t, src, l, n-3); err != nil {
			t.Fatal(err)
		}
	}
	st := src.Stats()
	if st.Invalid != 3 || st.Appended != n-3 || st.Duplicates != 0 {
		t.Fatalf("Stats = %+v; want 3 invalid, %d appended, 0 duplicates", st, n-3)
	}
	if len(reported) != 3 || !strings.Contains(reported[0].Error(), `type (from kind): value "refund" is not in the mapping`) ||
		!strings.Contains(reported[0].Error(), `timestamp (from ts): absent`) {
		t.Fatalf("reported %d invalid records, first %v; want 3 naming the type mapping", len(reported), reported)
	}

	// A restart resumes after the committed offsets: nothing is appended again.
	src2, err := kafka.New(config(t, c, ""), l, kafka.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := src2.Run(ctx); err != nil {
		t.Fatalf("second Run = %v; want nil", err)
	}
	if st := src2.Stats(); st.Records != 0 || l.End() != n-3 {
		t.Fatalf("after restart: Stats = %+v, End = %d; want 0 records polled, End %d", st, l.End(), n-3)
	}
}

func TestSourceStopsOnInvalid(t *testing.T) {
	c := startKafka(t)
	produce(t, c, 20, map[int]bool{7: true})
	l := openLog(t)
	src, err := kafka.New(config(t, c, `, "on_invalid": "stop"`), l, kafka.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = src.Run(ctx)
	var re *kafka.RecordError
	if !errors.As(err, &re) || re.Topic != topic || !strings.Contains(err.Error(), "refund") {
		t.Fatalf("Run = %v; want a *RecordError for the refund record", err)
	}
	// Nothing of the failing poll was appended or committed: the partition
	// holding the bad record is consumed again (and fails again) on restart.
	before := l.End()
	src2, _ := kafka.New(config(t, c, `, "on_invalid": "stop"`), l, kafka.Options{})
	if err := src2.Run(ctx); !errors.As(err, &re) {
		t.Fatalf("second Run = %v; want the same *RecordError", err)
	}
	if l.End() != before && before != 0 {
		t.Logf("End moved from %d to %d: other partitions were appended", before, l.End())
	}
}

// TestSourceCrashRestart kills the source at random moments — including
// between an Append and its commit — and restarts it, over several rounds.
// Every event must end in the log exactly once.
func TestSourceCrashRestart(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	c := startKafka(t)
	const n = 2000
	produce(t, c, n, nil)
	base := openLog(t)
	crashes := 0
	var dups uint64
	for round := 0; base.End() < n && round < 50; round++ {
		l := &flaky{Log: base, failAt: int64(1 + rng.IntN(4))}
		src, err := kafka.New(config(t, c, `, "max_poll_records": 37`), l, kafka.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(20+rng.IntN(200))*time.Millisecond)
		err = src.Run(ctx)
		cancel()
		dups += src.Stats().Duplicates
		if err != nil {
			if !strings.Contains(err.Error(), "injected crash") {
				t.Fatalf("round %d: Run = %v; want nil or the injected crash", round, err)
			}
			crashes++
		}
	}
	src, err := kafka.New(config(t, c, ""), base, kafka.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, src, base, n); err != nil {
		t.Fatalf("final Run = %v", err)
	}
	if crashes == 0 {
		t.Fatalf("no injected crash happened; the test did not test recovery")
	}
	checkLog(t, base, n, nil)
	// Every crashed batch was delivered again and deduplicated.
	if dups += src.Stats().Duplicates; dups < uint64(crashes) {
		t.Fatalf("%d duplicates dropped after %d crashes between append and commit; want at least one per crash", dups, crashes)
	}
	t.Logf("%d crashes between append and commit; %d redelivered duplicates dropped", crashes, dups)
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"brokers":["b:9092"],"topics":["t"],"group":"g","mapping":` + mapping + `,"extra":1}`, `unknown field "extra"`},
		{`{"topics":["t"],"group":"g","mapping":` + mapping + `}`, "brokers"},
		{`{"brokers":["b:9092"],"group":"g","mapping":` + mapping + `}`, "topics"},
		{`{"brokers":["b:9092"],"topics":["t"],"mapping":` + mapping + `}`, "group"},
		{`{"brokers":["b:9092"],"topics":["t"],"group":"g","mapping":` + mapping + `,"on_invalid":"drop"}`, "on_invalid"},
		{`{"brokers":["b:9092"],"topics":["t"],"group":"g","mapping":` + mapping + `,"start_at":"middle"}`, "start_at"},
		{`{"brokers":["b:9092"],"topics":["t"],"group":"g","mapping":{"fields":{"id":{"path":"i"}}}}`, `no "type"`},
		{`{"brokers":["b:9092"],"topics":["t"],"group":"g","mapping":` + mapping + `} {}`, "after the JSON object"},
	}
	for _, tc := range tests {
		_, err := kafka.ParseConfig([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "kafka: ") {
			t.Errorf("ParseConfig(%.60s…) = %v; want an error containing %q", tc.in, err, tc.want)
		}
	}
	var c kafka.Config
	if err := json.Unmarshal([]byte(`{"brokers":["b:9092"],"topics":["t"],"group":"g","mapping":`+mapping+`}`), &c); err != nil || c.Validate() != nil {
		t.Fatalf("a valid config: %v, Validate = %v", err, c.Validate())
	}
}
