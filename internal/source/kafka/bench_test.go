package kafka

import (
	"testing"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// BenchmarkMapping maps, validates and canonically encodes one typical
// record: the per-record CPU cost of the source besides Kafka and the log.
func BenchmarkMapping(b *testing.B) {
	m, err := compile(shopMapping)
	if err != nil {
		b.Fatal(err)
	}
	value := []byte(`{"event_id":"e123456","kind":"order","ts":1700000000123,"user":{"id":"u42","segment":"gold"},"product":"p9001","amount":12.5,"referrer":"https://example.com/a/b"}`)
	meta := &Meta{Topic: "t"}
	var obj, out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		obj, err = m.apply(obj[:0], value, meta)
		if err != nil {
			b.Fatal(err)
		}
		ev, err := event.Decode(obj)
		if err != nil {
			b.Fatal(err)
		}
		out = event.Append(out[:0], &ev)
	}
}
