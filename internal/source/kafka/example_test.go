package kafka_test

import (
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/source/kafka"
)

// ExampleParseConfig shows a source configuration: a clickstream topic
// whose records look like
// {"event_id":"e1","kind":"page_view","ts":1700000000123,"user":{"id":"u1"},"product":"p9"}.
func ExampleParseConfig() {
	cfg, err := kafka.ParseConfig([]byte(`{
	  "brokers": ["kafka-1:9092", "kafka-2:9092"],
	  "topics": ["clickstream"],
	  "group": "perpetua",
	  "on_invalid": "skip",
	  "mapping": {"fields": {
	    "id":        {"path": "event_id"},
	    "type":      {"path": "kind", "map": {"page_view": "view", "order": "purchase"}},
	    "timestamp": {"path": "ts", "format": "unix_ms"},
	    "user_id":   {"path": "user.id"},
	    "item_id":   {"path": "product"},
	    "price":     {"path": "amount", "optional": true}
	  }}
	}`))
	fmt.Println(err)
	_, err = kafka.ParseConfig([]byte(`{"brokers":["k:9092"],"topics":["t"],"group":"g",
	  "mapping":{"fields":{"id":{"path":"event_id"},"type":{"const":"view"},"timestamp":{"path":"$timestamp"},"colour":{"path":"c"}}}}`))
	fmt.Println(err)
	_ = cfg
	// Output:
	// <nil>
	// kafka: config: mapping.fields.colour: not a field of the event schema (docs/events.schema.json); map extra data into "attrs"
}
