package risk

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScoreLearn measures the whole per-transaction path in memory:
// velocity features, scoring, the decision, the label book and learning
// (a synthetic stream with a 1-day label delay, so every transaction is
// also learned from, at the default balanced-replay rate).
func BenchmarkScoreLearn(b *testing.B) {
	for _, m := range []Model{ModelARF, ModelLogistic, ModelHAT} {
		b.Run("model="+string(m), func(b *testing.B) {
			e, err := newEngine[int64](1, ModelConfig{Model: m}, CostConfig{}, 0)
			if err != nil {
				b.Fatal(err)
			}
			type row struct {
				cust, term uint64
				sec        int64
				amount     float64
				fraud      bool
			}
			var stream []row
			for _, st := range synth(9, 200000) {
				c, _ := strconv.Atoi(st.tx.CustomerID[1:])
				t, _ := strconv.Atoi(st.tx.TerminalID[1:])
				stream = append(stream, row{uint64(c), uint64(t), st.tx.Timestamp.Unix(), st.tx.Amount, st.fraud})
			}
			span := stream[len(stream)-1].sec - stream[0].sec + 86400
			x := make([]float32, NumFeatures)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st := &stream[i%len(stream)]
				sec := st.sec + int64(i/len(stream))*span
				id := int64(i)
				if e.check(id, st.cust, st.term, sec, st.amount) != nil {
					b.Fatal("check failed")
				}
				e.score(id, st.cust, st.term, sec, st.amount, x)
				if st.fraud {
					_ = e.label(id, sec+3600, 1)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}

// BenchmarkServiceScore measures Service.Score (validation, hashing,
// features, model, decision and reason codes) and reports its p99.
func BenchmarkServiceScore(b *testing.B) {
	s, _ := New(Config{Delay: 24 * time.Hour})
	stream := synth(11, 100000)
	for _, st := range stream[:50000] {
		if _, err := s.Score(st.tx); err != nil {
			b.Fatal(err)
		}
		if st.fraud {
			_ = s.Label(st.tx.TransactionID, 1, st.tx.Timestamp)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := stream[50000+i%50000]
		st.tx.TransactionID = fmt.Sprintf("b%d", i)
		st.tx.Timestamp = st.tx.Timestamp.Add(time.Duration(i/50000) * 40 * 24 * time.Hour)
		start := time.Now()
		if _, err := s.Score(st.tx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// TestScoreLatency checks the p99 ≤ 2 ms target of POST /v1/risk/score
// in process (reasons included), on a warmed-up service.
func TestScoreLatency(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("latency targets need a build without -race")
	}
	s, _ := New(Config{Delay: 24 * time.Hour})
	stream := synth(12, 30000)
	lat := make([]time.Duration, 0, len(stream))
	for i, st := range stream {
		start := time.Now()
		if _, err := s.Score(st.tx); err != nil {
			t.Fatal(err)
		}
		if i >= 10000 {
			lat = append(lat, time.Since(start))
		}
		if st.fraud {
			_ = s.Label(st.tx.TransactionID, 1, st.tx.Timestamp)
		}
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	t.Logf("Score latency over %d calls: p50 %v, p99 %v, max %v", len(lat), lat[len(lat)/2], p99, lat[len(lat)-1])
	if p99 > 2*time.Millisecond {
		t.Errorf("Score p99 = %v; want ≤ 2ms", p99)
	}
}

// BenchmarkEvalHandbook runs the full evaluation over the shared handbook
// weeks (reading the gzip'd CSVs included) and reports transactions per
// second of wall time and of CPU time (the machine is shared: CPU time is
// the one-core figure).
func BenchmarkEvalHandbook(b *testing.B) {
	dir := handbookDir(b)
	if os.Getenv("PERPETUA_LONG") == "" {
		b.Skip("set PERPETUA_LONG=1 to run the full handbook evaluation")
	}
	for i := 0; i < b.N; i++ {
		c0, w0 := cpuTime(), time.Now()
		rep, err := Eval(context.Background(), dir, EvalConfig{})
		if err != nil {
			b.Fatal(err)
		}
		cpu, wall := cpuTime()-c0, time.Since(w0)
		b.ReportMetric(float64(rep.StreamN)/wall.Seconds(), "tx/s-wall")
		b.ReportMetric(float64(rep.StreamN)/cpu.Seconds(), "tx/s-cpu")
		b.ReportMetric(rep.Metrics.AUC, "auc")
		b.ReportMetric(rep.Metrics.AP, "ap")
		b.ReportMetric(rep.Metrics.CardPrecision100, "cp@100")
	}
}

// TestEngineZeroAllocs: in steady state (keys known, label book at its
// working size) scoring, deciding, the label book and learning allocate
// nothing with the logistic model; the forest allocates only when a tree
// grows its arrays or is replaced, which a warm forest rarely does.
func TestEngineZeroAllocs(t *testing.T) {
	for _, tt := range []struct {
		m   Model
		max float64
	}{{ModelLogistic, 0}, {ModelARF, 0.05}} {
		e, err := newEngine[int64](1, ModelConfig{Model: tt.m}, CostConfig{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, NumFeatures)
		sec := t0.Unix()
		i := int64(0)
		step := func() {
			i++
			sec += 30
			cust, term := uint64(i%200), uint64(i%300)
			if e.check(i, cust, term, sec, 50) != nil {
				t.Fatal("check failed")
			}
			e.score(i, cust, term, sec, 50+float64(i%7), x)
			if i%50 == 0 {
				_ = e.label(i, sec, 1)
			}
		}
		for range 30000 { // 10 days: keys, book and trees warm
			step()
		}
		if got := testing.AllocsPerRun(2000, step); got > tt.max {
			t.Errorf("model %s: %v allocations per transaction; want ≤ %v", tt.m, got, tt.max)
		}
	}
}
