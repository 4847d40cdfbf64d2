package deep

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/feature"
)

// The standard benchmark stream: Criteo's shape, 26 categorical fields
// and 13 numeric ones, with vocabularies from 10 to 10^6 IDs (log-spaced)
// drawn from Zipf(1.1) distributions, pre-encoded so that the benchmarks
// time the model alone. The pool of benchPool examples is cycled; every
// benchmark first makes one pass over it, so the embedding rows of its IDs
// exist and the timed loop is the steady state.
const benchPool = 1 << 16

var bench struct {
	once    sync.Once
	schema  *feature.Schema
	xs      []*feature.Example
	ys      []float64
	models  map[string]*Model // warmed-up models by configuration
	sharded map[string]*Sharded
}

func benchVocab(j int) uint64 { return uint64(math.Pow(10, 1+5*float64(j)/25)) }

func benchStream(b testing.TB) (*feature.Schema, []*feature.Example, []float64) {
	bench.once.Do(func() {
		g := newSynth(7, 26, 13, benchVocab)
		bench.schema = g.schema(b, 20)
		bench.xs, bench.ys, _ = g.stream(b, bench.schema, benchPool)
	})
	return bench.schema, bench.xs, bench.ys
}

func mlpName(h []int) string {
	s := make([]string, len(h))
	for i, v := range h {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, "x")
}

// benchConfig is the standard benchmark model: 16-float embeddings
// trained with AdaGrad, the MLP with Adam, plus the wide part.
func benchConfig(hidden []int) Config {
	return Config{Hidden: hidden, EmbedDim: 16, Optimizer: Adam}
}

var benchMLPs = [][]int{{64, 32}, {256, 128, 64}}

// newBenchModel returns a model of configuration cfg that has made one
// pass over the pool (so the rows of its IDs exist). The testing package
// runs a benchmark function several times with growing b.N; they share
// the model, which keeps learning: every run times the steady state.
func newBenchModel(b *testing.B, cfg Config) (*Model, []*feature.Example, []float64) {
	s, xs, ys := benchStream(b)
	key := fmt.Sprintf("%+v", cfg)
	if m := bench.models[key]; m != nil {
		return m, xs, ys
	}
	m, err := New(s, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for i, x := range xs {
		m.PredictLearn(x, ys[i])
	}
	if bench.models == nil {
		bench.models = map[string]*Model{}
	}
	bench.models[key] = m
	return m, xs, ys
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkPredictLearn times the prequential hot path, one example at a
// time: the wide part alone (online FTRL logistic regression, the
// baseline) and the wide & deep model with two MLP sizes.
func BenchmarkPredictLearn(b *testing.B) {
	cfgs := []struct {
		name string
		cfg  Config
	}{{"wide", Config{NoDeep: true}}}
	for _, h := range benchMLPs {
		cfgs = append(cfgs, struct {
			name string
			cfg  Config
		}{"mlp=" + mlpName(h), benchConfig(h)})
	}
	for _, c := range cfgs {
		b.Run(c.name, func(b *testing.B) {
			m, xs, ys := newBenchModel(b, c.cfg)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i & (benchPool - 1)
				m.PredictLearn(xs[k], ys[k])
			}
			reportRate(b, b.N)
		})
	}
}

// BenchmarkPredict times scoring alone.
func BenchmarkPredict(b *testing.B) {
	for _, h := range benchMLPs {
		b.Run("mlp="+mlpName(h), func(b *testing.B) {
			m, xs, _ := newBenchModel(b, benchConfig(h))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				m.Predict(xs[i&(benchPool-1)])
			}
			reportRate(b, b.N)
		})
	}
}

// BenchmarkLearnBatch times micro-batch training; one op is one batch.
func BenchmarkLearnBatch(b *testing.B) {
	for _, h := range benchMLPs {
		for _, bs := range []int{256} {
			b.Run(fmt.Sprintf("mlp=%s/batch=%d", mlpName(h), bs), func(b *testing.B) {
				m, xs, ys := newBenchModel(b, benchConfig(h))
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					k := (i * bs) & (benchPool - 1)
					m.LearnBatch(xs[k:k+bs], ys[k:k+bs])
				}
				reportRate(b, b.N*bs)
			})
		}
	}
}

// BenchmarkSharded times the sharded trainer on batches of 1024 examples
// (one op is one batch), with one replica (the single-core baseline,
// through the same code path) and with two replicas on two goroutines;
// compare their examples/s for the scaling ratio. The "cores" metric is
// the process's CPU time over the wall time: the parallelism the machine
// actually granted.
func BenchmarkSharded(b *testing.B) {
	const bs = 1024
	for _, h := range benchMLPs[:1] {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("mlp=%s/shards=%d", mlpName(h), n), func(b *testing.B) {
				s, xs, ys := benchStream(b)
				key := fmt.Sprintf("sharded %d %v", n, h)
				sh := bench.sharded[key]
				ps := make([]float64, bs)
				if sh == nil {
					var err error
					// Route by the field with the most IDs (10^6): a field
					// with few, skewed IDs would load the shards unevenly.
					if sh, err = NewSharded(s, benchConfig(h), ShardConfig{Shards: n, KeyField: "C26"}); err != nil {
						b.Fatal(err)
					}
					for k := 0; k < benchPool; k += bs { // warm up
						sh.PredictLearn(ps, xs[k:k+bs], ys[k:k+bs])
					}
					if bench.sharded == nil {
						bench.sharded = map[string]*Sharded{}
					}
					bench.sharded[key] = sh
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := cpuTime()
				for i := range b.N {
					k := (i * bs) & (benchPool - 1)
					sh.PredictLearn(ps, xs[k:k+bs], ys[k:k+bs])
				}
				reportRate(b, b.N*bs)
				// The cores actually had: on a machine shared with other
				// work, a second goroutine may get less than a core.
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
				}
			})
		}
	}
}
