package deep

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/dataset"
	"github.com/perpetua-ml/perpetua/internal/embed"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

func TestConfigValidation(t *testing.T) {
	s := testSchema(t, 8)
	noWide := testSchema(t, 0)
	for _, tc := range []struct {
		name   string
		schema *feature.Schema
		cfg    Config
		want   string // substring of the error; "" for success
	}{
		{"defaults", s, Config{}, ""},
		{"wide-only", s, Config{NoDeep: true}, ""},
		{"fm-only", s, Config{NoDeep: true, NoWide: true, FM: true}, ""},
		{"nothing", s, Config{NoDeep: true, NoWide: true}, "no part left"},
		{"wide without buckets", noWide, Config{}, "WideBits"},
		{"no-wide schema ok", noWide, Config{NoWide: true}, ""},
		{"hidden", s, Config{Hidden: []int{8, 0}}, "Hidden[1]"},
		{"pooling", s, Config{Pooling: "max"}, "Pooling"},
		{"activation", s, Config{Activation: "tanh"}, "Activation"},
		{"optimizer", s, Config{Optimizer: "rmsprop"}, "Optimizer"},
		{"learn rate", s, Config{LearnRate: -1}, "LearnRate"},
		{"beta1", s, Config{Beta1: 1}, "Beta1"},
		{"nan l2", s, Config{L2: math.NaN()}, "L2"},
		{"pos weight", s, Config{PosWeight: -2}, "PosWeight"},
		{"wide alpha", s, Config{WideAlpha: math.Inf(1)}, "WideAlpha"},
		{"embed dim", s, Config{Embed: embed.Config{Dim: 8}}, "Embed.Dim"},
		{"embed seed", s, Config{Embed: embed.Config{Seed: 8}}, "Embed.Seed"},
		{"embed optimizer", s, Config{Embed: embed.Config{Optimizer: "nope"}}, "embedding table"},
		{"too wide", testSchema(t, 27), Config{}, "WideBits"},
	} {
		_, err := New(tc.schema, tc.cfg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("New(%q) = %v; want no error", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "deep: ")):
			t.Errorf("New(%q) = %v; want a \"deep: \" error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestPredictRangeAndPanics(t *testing.T) {
	s := testSchema(t, 8)
	xs := encodeAll(t, s, testRows)
	m, err := New(s, Config{FM: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		x := xs[i%len(xs)]
		for _, p := range []float64{m.Predict(x), m.PredictLearn(x, float64(i%2))} {
			if !(p >= MinProb && p <= 1-MinProb) {
				t.Fatalf("prediction %v out of [MinProb, 1-MinProb]", p)
			}
		}
	}
	bad := *xs[0]
	bad.Dense = bad.Dense[:1]
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Predict of an example with the wrong dense length did not panic")
			}
		}()
		m.Predict(&bad)
	}()
}

// TestNonFiniteSafety feeds NaN and ±Inf dense values, huge values and
// invalid labels, and checks that no parameter ever becomes non-finite and
// that the bad examples are counted.
func TestNonFiniteSafety(t *testing.T) {
	s := testSchema(t, 8)
	xs := encodeAll(t, s, testRows)
	for _, opt := range []Optimizer{Adam, AdaGrad, SGD} {
		t.Run(string(opt), func(t *testing.T) {
			m, err := newModel[float32](s, Config{FM: true, Optimizer: opt, Embed: embed.Config{Optimizer: embed.SGD}})
			if err != nil {
				t.Fatal(err)
			}
			inf := float32(math.Inf(1))
			vals := []float32{float32(math.NaN()), inf, -inf, 3e38, -3e38, 1e20}
			labels := []float64{0, 1, math.NaN(), math.Inf(1), -1, 2, 1e300, 0.5}
			for i := range 3000 {
				x := *xs[i%len(xs)]
				x.Dense = append([]float32(nil), x.Dense...)
				if i%3 == 0 {
					x.Dense[i%len(x.Dense)] = vals[i%len(vals)]
				}
				p := m.predictLearn(&x, labels[i%len(labels)])
				if !(p >= 0 && p <= 1) {
					t.Fatalf("step %d: prediction %v", i, p)
				}
				if i%100 == 0 {
					checkFinite(t, m, i)
				}
			}
			checkFinite(t, m, 3000)
			st := m.stats
			if st.Skipped == 0 || st.NonFiniteInputs == 0 || st.Learned == 0 {
				t.Errorf("stats = %+v; want skipped, non-finite and learned examples", st)
			}
			t.Logf("stats %+v", st)
		})
	}
}

func checkFinite(t *testing.T, m *model[float32], step int) {
	t.Helper()
	if !finiteAll(m.net.p) || !finiteAll(m.net.s1) || !finiteAll(m.net.s2) || !finiteAll(m.wide.zs) {
		t.Fatalf("step %d: a dense or wide parameter is not finite", step)
	}
	for j, tb := range m.tables {
		var set tensor.Set
		tb.SaveTensors(&set, "")
		w, _ := set.F32("weight")
		d, _ := set.F32("default.weight")
		if !finiteAll(w) || !finiteAll(d) {
			t.Fatalf("step %d: table %d has a non-finite row", step, j)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	s := testSchema(t, 10)
	xs := encodeAll(t, s, testRows)
	for _, cfg := range []Config{{FM: true}, {NoDeep: true}, {Optimizer: AdaGrad, Pooling: Sum}} {
		m, err := New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ys := []float64{1, 0, 0, 1, 0, 1}
		for i := range 50 { // admit every ID, grow the scratch buffers
			m.PredictLearn(xs[i%len(xs)], ys[i%len(ys)])
			m.LearnBatch(xs, ys)
		}
		i := 0
		if a := testing.AllocsPerRun(200, func() {
			i++
			m.PredictLearn(xs[i%len(xs)], ys[i%len(ys)])
		}); a != 0 {
			t.Errorf("PredictLearn (%+v) allocates %v times; want 0", cfg, a)
		}
		if a := testing.AllocsPerRun(200, func() { i++; m.Predict(xs[i%len(xs)]) }); a != 0 {
			t.Errorf("Predict (%+v) allocates %v times; want 0", cfg, a)
		}
		ps := make([]float64, len(xs))
		if a := testing.AllocsPerRun(50, func() { m.PredictLearnBatch(ps, xs, ys) }); a != 0 {
			t.Errorf("PredictLearnBatch (%+v) allocates %v times; want 0", cfg, a)
		}
	}
}

// trainSynth returns a model trained on a short synthetic stream.
func trainSynth(t *testing.T, cfg Config, n int) (*Model, *synth, *feature.Schema) {
	g := newSynth(5, 6, 3, func(j int) uint64 { return []uint64{200, 300, 20, 1000, 8, 60}[j] })
	s := g.schema(t, 12)
	m, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	xs, ys, _ := g.stream(t, s, n)
	for i, x := range xs {
		m.SetTime(int64(i / 10))
		m.PredictLearn(x, ys[i])
	}
	return m, g, s
}

// TestSnapshotRoundTrip saves a trained model, encodes and decodes the
// set, loads it into a fresh model, and checks bit-identical predictions
// and bit-identical learning afterwards, for every optimizer and with
// admission and bounded tables.
func TestSnapshotRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"adam+fm", Config{FM: true, Hidden: []int{16, 8}, EmbedDim: 8}},
		{"adagrad+admit", Config{Optimizer: AdaGrad, Hidden: []int{8}, EmbedDim: 4, Embed: embed.Config{AdmitAfter: 3, MaxRows: 150, Optimizer: embed.Adam}}},
		{"sgd+sum", Config{Optimizer: SGD, Pooling: Sum, EmbedDim: 4, Embed: embed.Config{Optimizer: embed.FTRL}}},
		{"wide-only", Config{NoDeep: true, WideL1: 0.5, WideL2: 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, g, s := trainSynth(t, tc.cfg, 3000)
			var set tensor.Set
			m.SaveTensors(&set, "model.")
			b, err := set.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			set2, err := tensor.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			r, err := New(s, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.LoadTensors(set2, "model."); err != nil {
				t.Fatal(err)
			}
			xs, ys, _ := g.stream(t, s, 2000)
			for i, x := range xs {
				if p, q := m.Predict(x), r.Predict(x); p != q {
					t.Fatalf("example %d: restored Predict = %v; original %v", i, q, p)
				}
			}
			for i, x := range xs {
				now := int64(300 + i/10)
				m.SetTime(now)
				r.SetTime(now)
				if p, q := m.PredictLearn(x, ys[i]), r.PredictLearn(x, ys[i]); p != q {
					t.Fatalf("example %d: restored PredictLearn = %v; original %v", i, q, p)
				}
			}
			if m.Stats() != r.Stats() || m.Steps() != r.Steps() {
				t.Errorf("after learning, restored stats %+v (steps %d); original %+v (%d)", r.Stats(), r.Steps(), m.Stats(), m.Steps())
			}
		})
	}
}

func TestSnapshotRefusals(t *testing.T) {
	cfg := Config{Hidden: []int{8}, EmbedDim: 4}
	m, _, s := trainSynth(t, cfg, 500)
	var set tensor.Set
	m.SaveTensors(&set, "")
	probe := s.NewExample()
	g := newSynth(5, 6, 3, func(j int) uint64 { return []uint64{200, 300, 20, 1000, 8, 60}[j] })
	g.next()
	if err := s.Transform(probe, feature.Strings(g.row)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(set *tensor.Set)
		cfg    Config
		want   string
	}{
		{"other config", nil, Config{Hidden: []int{9}, EmbedDim: 4}, "configuration differs"},
		{"newer version", func(set *tensor.Set) { set.SetMeta(metaVersion, "2") }, cfg, "newer"},
		{"missing weight", func(set *tensor.Set) { set.Delete("mlp.0.weight") }, cfg, "mlp.0.weight"},
		{"nan weight", func(set *tensor.Set) {
			w, _ := set.F32("mlp.1.weight", 1, 8)
			w = append([]float32(nil), w...)
			w[3] = float32(math.NaN())
			set.PutF32("mlp.1.weight", []int{1, 8}, w)
		}, cfg, "non-finite"},
		{"bad table", func(set *tensor.Set) { set.Delete("embed.2.weight") }, cfg, "table 2"},
		{"other schema", func(set *tensor.Set) { set.SetMeta(metaSchema, "v1 other") }, cfg, "schema differs"},
	} {
		c := tensor.Set{}
		b, _ := set.MarshalBinary()
		cp, _ := tensor.Unmarshal(b)
		c = *cp
		if tc.mutate != nil {
			tc.mutate(&c)
		}
		r, err := New(s, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		before := r.Predict(probe)
		err = r.LoadTensors(&c, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadTensors(%q) = %v; want an error mentioning %q", tc.name, err, tc.want)
		}
		if after := r.Predict(probe); after != before {
			t.Errorf("LoadTensors(%q) failed but changed the model: Predict %v → %v", tc.name, before, after)
		}
	}
}

// TestLearnBatchOfOne checks LearnBatch against Learn: a batch of one
// example takes the same step.
func TestLearnBatchOfOne(t *testing.T) {
	s := testSchema(t, 8)
	xs := encodeAll(t, s, testRows)
	cfg := Config{FM: true, Hidden: []int{8, 4}, EmbedDim: 4}
	a, _ := New(s, cfg)
	b, _ := New(s, cfg)
	ps := make([]float64, 1)
	for i := range 300 {
		x, y := xs[i%len(xs)], float64(i%3%2)
		p := a.PredictLearn(x, y)
		b.PredictLearnBatch(ps, xs[i%len(xs):i%len(xs)+1], []float64{y})
		if math.Abs(p-ps[0]) > 1e-5 {
			t.Fatalf("step %d: PredictLearnBatch of one = %v; PredictLearn %v", i, ps[0], p)
		}
	}
}

// TestLearnBatchLearns trains with micro-batches on the synthetic stream.
func TestLearnBatchLearns(t *testing.T) {
	g := newSynth(9, 6, 3, func(j int) uint64 { return []uint64{200, 300, 20, 1000, 8, 60}[j] })
	s := g.schema(t, 14)
	xs, ys, ps := g.stream(t, s, 40000)
	m, err := New(s, Config{Hidden: []int{32, 16}, EmbedDim: 8, LearnRate: 0.003, Embed: embed.Config{LearnRate: 0.2}, WideAlpha: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	const bs = 32
	pred := make([]float64, bs)
	var auc, bayes metric.AUC
	for i := 0; i+bs <= len(xs); i += bs {
		m.PredictLearnBatch(pred, xs[i:i+bs], ys[i:i+bs])
		if i >= len(xs)/2 {
			for k := range bs {
				auc.Update(pred[k], ys[i+k])
				bayes.Update(ps[i+k], ys[i+k])
			}
		}
	}
	t.Logf("micro-batches of %d: AUC %.4f (Bayes-optimal %.4f)", bs, auc.Value(), bayes.Value())
	if auc.Value() < bayes.Value()-0.08 {
		t.Errorf("AUC with micro-batches = %.4f; want within 0.08 of the Bayes-optimal %.4f", auc.Value(), bayes.Value())
	}
}

// TestShardedDeterministic checks that the sharded trainer gives the same
// predictions whatever the goroutine schedule (run it with -race), that
// its replicas agree on the MLP after each call, and that it learns.
func TestShardedDeterministic(t *testing.T) {
	g := newSynth(3, 6, 3, func(j int) uint64 { return []uint64{200, 300, 20, 1000, 8, 60}[j] })
	s := g.schema(t, 12)
	xs, ys, _ := g.stream(t, s, 6000)
	cfg := Config{Hidden: []int{16, 8}, EmbedDim: 8, FM: true}
	run := func() ([]float64, *Sharded) {
		sh, err := NewSharded(s, cfg, ShardConfig{Shards: 2, KeyField: "C1"})
		if err != nil {
			t.Fatal(err)
		}
		ps := make([]float64, len(xs))
		for i := 0; i < len(xs); i += 500 {
			sh.SetTime(int64(i))
			sh.PredictLearn(ps[i:i+500], xs[i:i+500], ys[i:i+500])
		}
		return ps, sh
	}
	p1, sh := run()
	p2, _ := run()
	for i := range p1 {
		if p1[i] != p2[i] {
			t.Fatalf("example %d: two runs predict %v and %v", i, p1[i], p2[i])
		}
	}
	a, b := sh.Replica(0).m.net.p, sh.Replica(1).m.net.p
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("after a call, replica MLPs differ at param %d: %v, %v", i, a[i], b[i])
		}
	}
	var auc metric.AUC
	for i := len(xs) / 2; i < len(xs); i++ {
		auc.Update(p1[i], ys[i])
	}
	if auc.Value() < 0.7 {
		t.Errorf("sharded AUC = %.4f; want at least 0.7", auc.Value())
	}
	if st := sh.Stats(); st.Learned != int64(len(xs)) {
		t.Errorf("Stats().Learned = %d; want %d", st.Learned, len(xs))
	}
	// Round trip.
	var set tensor.Set
	sh.SaveTensors(&set, "sh.")
	r, _ := NewSharded(s, cfg, ShardConfig{Shards: 2, KeyField: "C1"})
	if err := r.LoadTensors(&set, "sh."); err != nil {
		t.Fatal(err)
	}
	for _, x := range xs[:200] {
		if p, q := sh.Predict(x), r.Predict(x); p != q {
			t.Fatalf("restored sharded Predict = %v; want %v", q, p)
		}
	}
	if _, err := NewSharded(s, cfg, ShardConfig{KeyField: "nope"}); err == nil {
		t.Errorf("NewSharded with an unknown key field: no error")
	}
}

// TestCriteoSample is a smoke test on the 200-row Criteo sample: the
// reader, the schema and the model run end to end and predictions stay
// valid. (200 rows are too few to judge accuracy.)
func TestCriteoSample(t *testing.T) {
	const path = "/work/shared/data/criteo-ctr-sample/criteo_sample.csv"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("Criteo sample not available: %v", err)
	}
	r, err := dataset.NewCTR(bytes.NewReader(data), dataset.CTROptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := feature.NewSchema(feature.SchemaConfig{Fields: feature.FieldsFromCTR(r.Columns(), 0), WideBits: 18})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(s, Config{FM: true})
	if err != nil {
		t.Fatal(err)
	}
	x := s.NewExample()
	var ll metric.LogLoss
	n := 0
	for r.Next() {
		if err := s.Encode(x, r); err != nil {
			t.Fatal(err)
		}
		m.SetTime(int64(n))
		p := m.PredictLearn(x, r.Label())
		if !(p > 0 && p < 1) {
			t.Fatalf("row %d: prediction %v", n, p)
		}
		ll.Update(p, r.Label())
		n++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 200 || m.Stats().Learned != 200 {
		t.Errorf("read %d rows, learned %d; want 200", n, m.Stats().Learned)
	}
	t.Logf("%d rows, prequential log loss %.4f, %d C1 rows", n, ll.Value(), m.Table(0).Len())
	if ll.Value() > 0.75 {
		t.Errorf("prequential log loss %.4f; want below 0.75", ll.Value())
	}
}

// TestShardedBalance checks the routing of a batch with skewed keys: the
// examples of keys rare in the batch go to their key's replica (Route),
// those of hot keys are spread so that the replicas get equal shares, and
// routing does not allocate once its scratch has grown.
func TestShardedBalance(t *testing.T) {
	s, err := feature.NewSchema(feature.SchemaConfig{
		Fields: []feature.Field{{Name: "user", Kind: feature.Categorical}, {Name: "x", Kind: feature.Numeric}},
		Seed:   5,
	})
	if err != nil {
		t.Fatal(err)
	}
	const seed, n = 9, 1024
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for _, shards := range []int{2, 3} {
		sh, err := NewSharded(s, Config{Hidden: []int{4}, EmbedDim: 2, NoWide: true}, ShardConfig{Shards: shards})
		if err != nil {
			t.Fatal(err)
		}
		xs := make([]*feature.Example, n)
		for i := range xs {
			user := "u" + strconv.Itoa(r.IntN(5000))
			if r.IntN(10) < 4 { // 40 % of the traffic from one user
				user = "bot"
			}
			xs[i] = s.NewExample()
			if err := s.Encode(xs[i], feature.Strings{user, "1"}); err != nil {
				t.Fatal(err)
			}
		}
		sh.assign(xs)
		loads := make([]int, shards)
		hotShare := make([]int, shards)
		for i, x := range xs {
			d := int(sh.dest[i])
			loads[d]++
			var cnt int32
			for _, y := range xs {
				if y.IDs[0] == x.IDs[0] {
					cnt++
				}
			}
			if cnt >= hotMin(n) {
				hotShare[d]++
			} else if d != sh.Route(x) {
				t.Fatalf("%d shards: example %d of a key seen %d times in the batch went to replica %d; Route says %d", shards, i, cnt, d, sh.Route(x))
			}
		}
		if slices.Max(loads)-slices.Min(loads) > 1 {
			t.Errorf("%d shards: replica loads %v; want equal within 1 (hot keys' examples per replica %v)", shards, loads, hotShare)
		}
		if !raceEnabled {
			if a := testing.AllocsPerRun(20, func() { sh.assign(xs) }); a != 0 {
				t.Errorf("%d shards: assign allocates %v times; want 0", shards, a)
			}
		}
	}
}
