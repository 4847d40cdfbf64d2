package event

import (
	"fmt"
	"testing"
)

// benchBody returns an NDJSON batch of n view/purchase events of about
// 200 bytes each.
func benchBody(n int) []byte {
	var b []byte
	for i := range n {
		typ, extra := "view", `,"session_id":"s-8812-aa01"`
		if i%4 == 3 {
			typ, extra = "purchase", `,"price":129.95,"quantity":2`
		}
		b = fmt.Appendf(b, `{"id":"evt-%012d","type":%q,"timestamp":"2024-05-01T12:%02d:%02d.123456Z","user_id":"user-%07d","item_id":"item-%06d"%s,"attrs":{"page":"home","ab":"B"}}`+"\n",
			i, typ, i/60%60, i%60, i*7919%1000003, i*104729%100003, extra)
	}
	return b
}

func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBody(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var evs []Event
	var err error
	for b.Loop() {
		if evs, err = DecodeBatch(body, evs[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppend(b *testing.B) {
	evs, err := DecodeBatch(benchBody(1000), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = buf[:0]
		for i := range evs {
			buf = Append(buf, &evs[i])
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRoundTrip is the ingest hot path: decode and validate a batch,
// then re-encode every event canonically.
func BenchmarkRoundTrip(b *testing.B) {
	body := benchBody(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var evs []Event
	var buf []byte
	var err error
	for b.Loop() {
		if evs, err = DecodeBatch(body, evs[:0]); err != nil {
			b.Fatal(err)
		}
		buf = buf[:0]
		for i := range evs {
			buf = Append(buf, &evs[i])
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}
