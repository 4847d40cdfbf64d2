package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// nopLog is an Appender that keeps nothing, so benchmarks measure ingest.
type nopLog struct {
	end   atomic.Uint64
	bytes atomic.Int64
}

func (l *nopLog) Append(_ context.Context, batch [][]byte) (uint64, error) {
	var n int
	for _, r := range batch {
		n += len(r)
	}
	l.bytes.Add(int64(n))
	return l.end.Add(uint64(len(batch))) - uint64(len(batch)), nil
}

// batchTemplate is an NDJSON batch of n ~200-byte view/purchase events
// whose ids contain a 12-digit batch number that stamp overwrites, so
// every batch of a benchmark carries new ids.
type batchTemplate struct {
	body []byte
	pos  []int // offsets of the batch-number digits
}

func newBatchTemplate(n int) *batchTemplate {
	t := &batchTemplate{}
	for i := range n {
		typ, extra := "view", `,"session_id":"s-8812-aa01"`
		if i%4 == 3 {
			typ, extra = "purchase", `,"price":129.95,"quantity":2`
		}
		t.body = append(t.body, `{"id":"evt-`...)
		t.pos = append(t.pos, len(t.body))
		t.body = fmt.Appendf(t.body, `000000000000-%05d","type":%q,"timestamp":"2024-05-01T12:%02d:%02d.123456Z","user_id":"user-%07d","item_id":"item-%06d"%s,"attrs":{"page":"home"}}`+"\n",
			i, typ, i/60%60, i%60, i*7919%1000003, i*104729%100003, extra)
	}
	return t
}

func (t *batchTemplate) stamp(batch uint64) []byte {
	var d [12]byte
	s := strconv.AppendUint(d[:0], batch, 10)
	for _, p := range t.pos {
		copy(t.body[p+12-len(s):p+12], s)
	}
	return t.body
}

// BenchmarkIngest posts NDJSON batches of 1000 events through the handler
// (decode, validate, dedupe, canonical encode, append to a no-op log,
// reply) and reports events/s.
func BenchmarkIngest(b *testing.B) {
	in := newIngester(b, &nopLog{}, Options{})
	tmpl := newBatchTemplate(1000)
	b.SetBytes(int64(len(tmpl.body)))
	b.ReportAllocs()
	var batch uint64
	for b.Loop() {
		batch++
		body := tmpl.stamp(batch)
		r, _ := http.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/x-ndjson")
		w := httptest.NewRecorder()
		in.ServeHTTP(w, r)
		if w.Code != http.StatusAccepted {
			b.Fatalf("POST = %d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIngestHTTP is BenchmarkIngest over a loopback HTTP connection
// with 4 concurrent clients (client and server share the machine).
func BenchmarkIngestHTTP(b *testing.B) {
	in := newIngester(b, &nopLog{}, Options{})
	srv := httptest.NewServer(in)
	defer srv.Close()
	const clients = 4
	tmpls := make([]*batchTemplate, clients)
	for i := range tmpls {
		tmpls[i] = newBatchTemplate(1000)
	}
	b.SetBytes(int64(len(tmpls[0].body)))
	b.ReportAllocs()
	var next atomic.Uint64
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := range clients {
		wg.Go(func() {
			for {
				batch := next.Add(1)
				if batch > uint64(b.N) {
					return
				}
				resp, err := srv.Client().Post(srv.URL+"/v1/events", "application/x-ndjson", bytes.NewReader(tmpls[c].stamp(batch)))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("POST = %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}
