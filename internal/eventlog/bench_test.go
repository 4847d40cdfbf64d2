package eventlog_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
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

// BenchmarkAppend appends batches of 200-byte events. One op is one
// Append of batch events; with appenders > 1 that many goroutines append
// concurrently and group commit coalesces their writes and fsyncs.
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []eventlog.SyncPolicy{eventlog.SyncAlways, eventlog.SyncInterval, eventlog.SyncNever} {
		for _, c := range []struct{ batch, appenders int }{{1000, 1}, {1000, 4}, {10, 16}} {
			name := fmt.Sprintf("sync=%s/batch=%d/appenders=%d", sync, c.batch, c.appenders)
			b.Run(name, func(b *testing.B) {
				benchAppend(b, eventlog.Options{Sync: sync}, c.batch, c.appenders)
			})
		}
	}
}

func benchAppend(b *testing.B, opts eventlog.Options, size, appenders int) {
	l, err := eventlog.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := benchBatch(size)
	ctx := context.Background()
	b.SetBytes(int64(size * eventSize))
	b.ReportAllocs()
	syncs := l.Stats().Syncs
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
	events := float64(b.N) * float64(size)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(l.Stats().Syncs-syncs)/float64(b.N), "fsyncs/op")
}

// BenchmarkRead reads 200-byte events (written in batches of 1000) with
// one Reader. One op is one record.
func BenchmarkRead(b *testing.B) {
	const records = 200_000
	l, err := eventlog.Open(b.TempDir(), eventlog.Options{Sync: eventlog.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := benchBatch(1000)
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
}

// BenchmarkNewReader positions readers at pseudo-random offsets of a
// 200,000-record log and reads one record: the cost of seeking with the
// sparse index.
func BenchmarkNewReader(b *testing.B) {
	const records = 200_000
	l, err := eventlog.Open(b.TempDir(), eventlog.Options{Sync: eventlog.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	batch := benchBatch(100)
	ctx := context.Background()
	for i := 0; i < records/len(batch); i++ {
		if _, err := l.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	x := uint64(1)
	for i := 0; i < b.N; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		from := (x >> 33) % records
		r, err := l.NewReader(from)
		if err != nil {
			b.Fatal(err)
		}
		if rec, err := r.Next(ctx); err != nil || rec.Offset != from {
			b.Fatalf("NewReader(%d).Next() = %d, %v", from, rec.Offset, err)
		}
		r.Close()
	}
}
