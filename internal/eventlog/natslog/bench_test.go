package natslog_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
)

// eventSize is the size of a typical canonical event.
const eventSize = 200

func benchBatch(n int) [][]byte {
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = bytes.Repeat([]byte{byte('a' + i%26)}, eventSize)
	}
	return batch
}

// BenchmarkAppend measures acknowledged ingest: one op is one Append of
// batch 200-byte events, by appenders concurrent goroutines, through
// JetStream (an embedded server with file storage, in-process connection)
// and, for comparison in the same run, through the segment log.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct{ batch, appenders int }{{100, 1}, {100, 8}, {1000, 4}} {
		for _, backend := range []string{"nats", "nats-syncalways", "segment", "segment-syncinterval"} {
			b.Run(fmt.Sprintf("backend=%s/batch=%d/appenders=%d", backend, c.batch, c.appenders), func(b *testing.B) {
				benchAppend(b, openBench(b, backend), c.batch, c.appenders)
			})
		}
	}
}

func openBench(b *testing.B, backend string) eventlog.Log {
	dir := b.TempDir()
	var (
		l   eventlog.Log
		err error
	)
	switch backend {
	case "nats":
		l, err = natslog.Open(context.Background(), natslog.Options{Dir: dir})
	case "nats-syncalways":
		l, err = natslog.Open(context.Background(), natslog.Options{Dir: dir, SyncAlways: true})
	case "segment":
		l, err = eventlog.Open(dir, eventlog.Options{})
	case "segment-syncinterval":
		l, err = eventlog.Open(dir, eventlog.Options{Sync: eventlog.SyncInterval})
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func benchAppend(b *testing.B, l eventlog.Log, size, appenders int) {
	batch := benchBatch(size)
	ctx := context.Background()
	b.SetBytes(int64(size * eventSize))
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < appenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := l.Append(ctx, batch); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRead reads 200-byte events (appended in batches of 100) with
// one Reader, through JetStream and through the segment log. One op is
// one record.
func BenchmarkRead(b *testing.B) {
	const records = 100_000
	for _, backend := range []string{"nats", "segment"} {
		b.Run("backend="+backend, func(b *testing.B) {
			l := openBench(b, backend)
			batch := benchBatch(100)
			ctx := context.Background()
			for i := 0; i < records/len(batch); i++ {
				if _, err := l.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			r, err := l.NewReader(0)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(eventSize)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec, err := r.Next(ctx)
				if err == io.EOF {
					r.Close()
					if r, err = l.NewReader(0); err != nil {
						b.Fatal(err)
					}
					rec, err = r.Next(ctx)
				}
				if err != nil || len(rec.Data) != eventSize {
					b.Fatalf("Next = %d bytes, %v", len(rec.Data), err)
				}
			}
			b.StopTimer()
			r.Close()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
