package embed

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func BenchmarkLookup(b *testing.B) {
	const n = 1 << 20
	hit := newTable(b, Config{Dim: 16, MaxRows: n})
	for id := range uint64(n) {
		hit.Lookup(mix64(id), 0)
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			i++
			hit.Lookup(mix64(i*0x9e3779b97f4a7c15%n), 1)
		}
	})
	b.Run("miss", func(b *testing.B) { // not admitted: counted in the sketch
		tb := newTable(b, Config{Dim: 16, AdmitAfter: 3})
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			i++
			tb.Lookup(mix64(i), 1)
		}
	})
	b.Run("admit-evict", func(b *testing.B) { // a full table: every lookup evicts
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			i++
			hit.Lookup(mix64(n+i), int64(2+i))
		}
	})
	b.Run("view-hit", func(b *testing.B) {
		v := hit.Publish()
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			i++
			_ = v.Row(v.Lookup(mix64(i * 0x9e3779b97f4a7c15 % n)))
		}
	})
}

func BenchmarkApplyGradient(b *testing.B) {
	for _, opt := range []Optimizer{AdaGrad, Adam, FTRL, SGD} {
		b.Run(string(opt), func(b *testing.B) {
			const n = 1 << 17
			tb := newTable(b, Config{Dim: 16, Optimizer: opt, MaxRows: n})
			for id := range uint64(n) {
				tb.Lookup(id, 0)
			}
			g := make([]float32, 16)
			for j := range g {
				g[j] = 0.01 * float32(j-7)
			}
			b.ReportAllocs()
			r := int32(0)
			for b.Loop() {
				r = (r + 7919) % n
				tb.ApplyGradient(1+r, g)
			}
		})
	}
}

// BenchmarkPublish measures a training period that touches 1% of a
// 1M-row table at random, followed by Publish. "cycle" times both and
// reports Publish alone (the trainer's pause) as publish-ns;
// "cycle-nopublish" does the same touches with no View, so cycle minus
// cycle-nopublish is the whole cost of one publication, copy-on-write
// included.
func BenchmarkPublish(b *testing.B) {
	const n, touched = 1_000_000, 10_000
	tb := newTable(b, Config{Dim: 16, MaxRows: n})
	for id := range uint64(n) {
		tb.Lookup(id, 0)
	}
	g := make([]float32, 16)
	g[3] = 0.1
	rng := rand.New(rand.NewPCG(1, 1))
	touch := func() {
		for range touched {
			tb.ApplyGradient(1+int32(rng.IntN(n)), g)
		}
	}
	b.Run("rows=1M/touched=1%/cycle", func(b *testing.B) {
		b.ReportAllocs()
		var pause time.Duration
		for b.Loop() {
			touch()
			start := time.Now()
			tb.Publish()
			pause += time.Since(start)
		}
		b.ReportMetric(float64(pause.Nanoseconds())/float64(b.N), "publish-ns/op")
	})
	b.Run("rows=1M/touched=1%/cycle-nopublish", func(b *testing.B) {
		tb.Publish() // drop the last cycle's view, then mark nothing shared
		for ci := range (int(tb.high) + rowMask) >> rowShift {
			tb.owned.set(ci)
		}
		for p := range tb.rows {
			tb.pageOwned.set(p)
		}
		b.ReportAllocs()
		for b.Loop() {
			touch()
		}
	})
}

// BenchmarkMemory10M fills a Dim-16 AdaGrad table with 10 million IDs and
// reports the heap per ID and its ratio to the weights and optimizer state
// (target ≤ 1.3), then times Publish and a 1% training period at that
// size. It needs about 2 GB; run it alone:
//
//	go test -run '^$' -bench Memory10M -benchtime 1x ./internal/embed/
func BenchmarkMemory10M(b *testing.B) {
	if testing.Short() {
		b.Skip("allocates about 2 GB")
	}
	const n = 10_000_000
	for b.Loop() {
		perID, ratio, tb := measureMemory(n)
		b.ReportMetric(perID, "heap-B/ID")
		b.ReportMetric(ratio, "x-weights+state")
		b.ReportMetric(float64(tb.Stats().Bytes)/n, "stats-B/ID")

		start := time.Now()
		tb.Publish()
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "publish-ms")
		rng := rand.New(rand.NewPCG(1, 1))
		g := make([]float32, 16)
		start = time.Now()
		for range n / 100 {
			tb.ApplyGradient(1+int32(rng.IntN(n)), g)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "touch1%-after-publish-ms")
		start = time.Now()
		for range n / 100 {
			tb.Lookup(mix64(uint64(rng.IntN(n))), 1)
		}
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/(n/100), "lookup-ns")
		if ratio > 1.3 {
			b.Errorf("heap per ID %.1f bytes = %.3f × weights+state; want ≤ 1.3", perID, ratio)
		}
		runtime.KeepAlive(tb)
	}
}
