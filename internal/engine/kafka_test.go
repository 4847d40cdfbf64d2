package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// TestKafkaSourceInEngine configures a Kafka source in the engine's JSON
// config (as `perpetua serve --config` reads it) against an in-process
// fake cluster (no broker can run here): the topic's records become log
// events that the learning loop reads, a bad config is refused at
// Validate, and the group's offsets are committed once the events are in.
func TestKafkaSourceInEngine(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 500
	var recs []*kgo.Record
	for i := range n {
		kind := "page_view"
		if i%10 == 9 {
			kind = "order"
		}
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"event_id":"k%d","kind":%q,"ts":%d,"user":"u%d","sku":"i%d"}`,
			i, kind, 1767225600000+int64(i)*1000, i%13, i%17)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	raw := fmt.Sprintf(`{"data_dir": %q, "sync": "never", "kafka": {"brokers": [%q], "topics": ["shop"], "group": "perpetua",
	  "mapping": {"fields": {"id": {"path": "event_id"}, "type": {"path": "kind", "map": {"page_view": "view", "order": "purchase"}},
	    "timestamp": {"path": "ts", "format": "unix_ms"}, "user_id": {"path": "user"}, "item_id": {"path": "sku"}}}}}`,
		t.TempDir(), c.ListenAddrs()[0])
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	bad := cfg
	kc := *cfg.Kafka
	kc.Group = ""
	bad.Kafka = &kc
	if err := bad.Validate(); err == nil {
		t.Fatal("a Kafka source without a group: no error")
	}
	e, _, stop := launch(t, cfg)
	for i := 0; e.Log().End() < n; i++ {
		if i > 3000 {
			t.Fatalf("the log holds %d events after 30 s; want %d from Kafka", e.Log().End(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rd, err := e.Log().NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := rd.Next(context.Background())
	rd.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := event.Decode(rec.Data); err != nil || ev.UserID == "" || (ev.Type != event.TypeView && ev.Type != event.TypePurchase) {
		t.Fatalf("first log event %+v, %v", ev, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if st := e.KafkaStats(); st.Appended != n || st.Commits == 0 {
		t.Fatalf("Kafka stats %+v; want %d appended and commits", st, n)
	}
	if got := e.Runner().Offset(); got != n {
		t.Fatalf("the loop stopped at %d; want %d", got, n)
	}
}
