package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// PurchaseConfig configures Purchase. The zero value means the defaults.
type PurchaseConfig struct {
	Examples int    // stream length (default 300,000)
	Vocab    int    // IDs per categorical field, drawn from a Zipf law (default 1,000,000)
	Hidden   []int  // MLP widths (default 64, 32)
	Seed     uint64 // default 1
	// ShiftAt is the fraction of the stream after which every per-ID
	// effect of the ground truth is drawn anew (an abrupt shift of
	// tastes); default 0.5, ≥ 1 means none.
	ShiftAt float64
	// Windows is the number of windows the recovery series splits the
	// stream into (default 40).
	Windows int
}

// PurchaseResult is what Purchase measured, in one run.
type PurchaseResult struct {
	Examples int   `json:"examples"`
	Hidden   []int `json:"hidden"`
	// True online training: each example predicted, scored, then learned.
	DeepExamplesPerSecond     float64 `json:"deep_examples_per_second"`
	DeepAUC                   float64 `json:"deep_auc"`
	ShardedExamplesPerSecond  float64 `json:"sharded_examples_per_second"` // 2 goroutines, 2 replicas
	ShardedScaling            float64 `json:"sharded_scaling"`             // sharded ÷ single
	ShardedAUC                float64 `json:"sharded_auc"`                 // of the sharded trainer's prequential predictions
	LogisticExamplesPerSecond float64 `json:"logistic_examples_per_second"`
	LogisticAUC               float64 `json:"logistic_auc"`
	BayesAUC                  float64 `json:"bayes_auc"` // AUC of the true probabilities
	// Memory of the embedding tables.
	LiveIDs    int     `json:"live_ids"`
	BytesPerID float64 `json:"bytes_per_id"`
	// Scoring 500 candidate items for one user, in process, from the
	// published (frozen) model: with the user's share computed once
	// (ScoreCandidates, what serving does), and each candidate scored in
	// full (Predict) for comparison.
	Score500P50Millis     float64 `json:"score_500_p50_ms"`
	Score500P99Millis     float64 `json:"score_500_p99_ms"`
	Score500FullP99Millis float64 `json:"score_500_full_p99_ms"`
	// FreezeMillis is how long publishing the model for serving stopped
	// the trainer (deep.Model.Freeze), at the end of the stream.
	FreezeMillis float64 `json:"freeze_ms"`
	// Recovery after the abrupt shift: the deep model's prequential log
	// loss minus the Bayes-optimal log loss (the true probabilities'),
	// per window, and how many examples after the shift the gap took to
	// come back within 0.01 nats of its pre-shift level.
	Recovery Recovery `json:"recovery"`
}

// Recovery describes how fast the online model closes its gap to the
// Bayes-optimal predictor after an abrupt shift.
type Recovery struct {
	ShiftAtExample int       `json:"shift_at_example"`
	WindowExamples int       `json:"window_examples"`
	GapLogLoss     []float64 `json:"gap_log_loss"` // per window: model − Bayes
	ModelAUC       []float64 `json:"model_auc"`    // per window
	BayesAUC       []float64 `json:"bayes_auc"`    // per window
	PreShiftGap    float64   `json:"pre_shift_gap"`
	PeakGap        float64   `json:"peak_gap"`
	// RecoveredAfter is the number of examples after the shift until the
	// end of the first window whose gap is ≤ PreShiftGap + 0.01; −1 if
	// none is.
	RecoveredAfter int `json:"recovered_after_examples"`
}

const (
	ctrCategorical = 26
	ctrNumeric     = 13
)

// ctrStream draws the standard benchmark stream: 13 numeric and 26
// categorical fields with Zipf-distributed IDs, labels from a known
// logistic ground truth (per-ID effects in six fields, a user × item
// taste interaction between C1 and C2, and a numeric term), so the
// Bayes-optimal AUC is known. After ShiftAt every effect and taste
// vector is drawn anew.
func ctrStream(cfg PurchaseConfig) (schema *feature.Schema, xs []*feature.Example, ys, truth []float64, err error) {
	var fields []feature.Field
	for i := 0; i < ctrNumeric; i++ {
		fields = append(fields, feature.Field{Name: fmt.Sprintf("I%d", i+1), Kind: feature.Numeric})
	}
	for i := 0; i < ctrCategorical; i++ {
		fields = append(fields, feature.Field{Name: fmt.Sprintf("C%d", i+1), Kind: feature.Categorical})
	}
	schema, err = feature.NewSchema(feature.SchemaConfig{Fields: fields, Seed: cfg.Seed, WideBits: 22})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(cfg.Vocab-1))
	shift := int(cfg.ShiftAt * float64(cfg.Examples))
	effect := func(epoch uint64, field int, id uint64) float64 { // a fixed uniform(−0.5, 0.5) effect per ID and epoch
		h := feature.Hash(cfg.Seed^0xbeef^(epoch*0x9e3779b97f4a7c15), field, strconv.FormatUint(id, 10))
		return (float64(h>>11)/(1<<53) - 0.5) * 1.0
	}
	// latent is a user's (C1) or item's (C2) taste vector, uniform in
	// [−1, 1)^4: their dot product is an interaction a linear model over
	// the IDs cannot represent.
	latent := func(epoch uint64, field int, id uint64, dst *[4]float64) {
		h := feature.Hash(cfg.Seed^0x1a7e^(epoch*0x9e3779b97f4a7c15), field, strconv.FormatUint(id, 10))
		for c := range dst {
			h = h*0x5851f42d4c957f2d + 0x14057b7ef767814f
			dst[c] = float64(h>>11)/(1<<52) - 1
		}
	}
	var u, v [4]float64
	row := make(feature.Strings, ctrNumeric+ctrCategorical)
	for n := 0; n < cfg.Examples; n++ {
		var epoch uint64
		if n >= shift {
			epoch = 1
		}
		logit := -1.2
		for i := 0; i < ctrNumeric; i++ {
			v := rng.NormFloat64()
			if i == 0 {
				logit += 0.8 * v
			}
			row[i] = strconv.FormatFloat(v, 'f', 3, 64)
		}
		for i := 0; i < ctrCategorical; i++ {
			id := zipf.Uint64()
			if i < 6 {
				logit += effect(epoch, i, id)
			}
			switch i {
			case 0:
				latent(epoch, i, id, &u)
			case 1:
				latent(epoch, i, id, &v)
				logit += u[0]*v[0] + u[1]*v[1] + u[2]*v[2] + u[3]*v[3]
			}
			row[ctrNumeric+i] = strconv.FormatUint(id, 10)
		}
		p := 1 / (1 + math.Exp(-logit))
		x := schema.NewExample()
		if err := schema.Encode(x, row); err != nil {
			return nil, nil, nil, nil, err
		}
		xs = append(xs, x)
		truth = append(truth, p)
		y := 0.0
		if rng.Float64() < p {
			y = 1
		}
		ys = append(ys, y)
	}
	return schema, xs, ys, truth, nil
}

// Purchase measures the large model on the standard benchmark stream.
func Purchase(ctx context.Context, cfg PurchaseConfig) (PurchaseResult, error) {
	if cfg.Examples <= 0 {
		cfg.Examples = 300_000
	}
	if cfg.Vocab <= 1 {
		cfg.Vocab = 1_000_000
	}
	if len(cfg.Hidden) == 0 {
		cfg.Hidden = []int{64, 32}
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.ShiftAt == 0 {
		cfg.ShiftAt = 0.5
	}
	if cfg.Windows <= 0 {
		cfg.Windows = 40
	}
	res := PurchaseResult{Examples: cfg.Examples, Hidden: cfg.Hidden}
	schema, xs, ys, truth, err := ctrStream(cfg)
	if err != nil {
		return res, err
	}
	bayes := metric.NewBinaryBinned(0, 0, 100_000)
	for i := range ys {
		bayes.Update(truth[i], ys[i])
	}
	res.BayesAUC = bayes.Snapshot().AUC

	// online trains m prequentially; with preds it keeps the predictions.
	online := func(m *deep.Model, preds []float64) (float64, float64, error) {
		mt := metric.NewBinaryBinned(0, 0, 100_000)
		start := time.Now()
		for i, x := range xs {
			if i%8192 == 0 && ctx.Err() != nil {
				return 0, 0, ctx.Err()
			}
			m.SetTime(int64(i))
			p := m.PredictLearn(x, ys[i])
			mt.Update(p, ys[i])
			if preds != nil {
				preds[i] = p
			}
		}
		return float64(len(xs)) / time.Since(start).Seconds(), mt.Snapshot().AUC, nil
	}
	// The standard benchmark model has no wide part (as bench/torch_purchase.py).
	dcfg := deep.Config{NoWide: true, Hidden: cfg.Hidden, Seed: cfg.Seed}
	m, err := deep.New(schema, dcfg)
	if err != nil {
		return res, err
	}
	preds := make([]float64, len(xs))
	if res.DeepExamplesPerSecond, res.DeepAUC, err = online(m, preds); err != nil {
		return res, err
	}
	res.Recovery = recovery(preds, truth, ys, int(cfg.ShiftAt*float64(len(xs))), cfg.Windows)
	var bytes int64
	for j := 0; j < m.NumFields(); j++ {
		st := m.Table(j).Stats()
		res.LiveIDs += st.Rows
		bytes += st.Bytes
	}
	if res.LiveIDs > 0 {
		res.BytesPerID = float64(bytes) / float64(res.LiveIDs)
	}

	// 500 candidates for one user: the first example's fields with the
	// item field (C2) varied.
	cands := make([]*feature.Example, 500)
	row := make(feature.Strings, ctrNumeric+ctrCategorical)
	for i := range row {
		row[i] = "1"
	}
	for k := range cands {
		row[ctrNumeric+1] = strconv.Itoa(k + 1)
		cands[k] = schema.NewExample()
		if err := schema.Transform(cands[k], row); err != nil {
			return res, err
		}
	}
	// Latency from a settled heap: the training above leaves a collection
	// of its garbage pending, which is the trainer's cost, not scoring's.
	runtime.GC()
	t0 := time.Now()
	f := m.Freeze()
	res.FreezeMillis = float64(time.Since(t0).Microseconds()) / 1000
	scores := make([]float64, len(cands))
	c2 := slices.Index(schema.SparseNames(), "C2")
	lat := make([]time.Duration, 1000)
	for r := range lat {
		t0 := time.Now()
		f.ScoreCandidates(cands[0], []int{c2}, false, cands, scores)
		lat[r] = time.Since(t0)
	}
	slices.Sort(lat)
	res.Score500P50Millis = millis(lat[len(lat)/2])
	res.Score500P99Millis = millis(lat[len(lat)*99/100])
	lat = lat[:300]
	for r := range lat {
		t0 := time.Now()
		f.PredictBatch(cands, scores)
		lat[r] = time.Since(t0)
	}
	slices.Sort(lat)
	res.Score500FullP99Millis = millis(lat[len(lat)*99/100])

	lcfg := deep.Config{NoDeep: true, WideDense: true, Seed: cfg.Seed}
	lm, err := deep.New(schema, lcfg)
	if err != nil {
		return res, err
	}
	if res.LogisticExamplesPerSecond, res.LogisticAUC, err = online(lm, nil); err != nil {
		return res, err
	}

	sh, err := deep.NewSharded(schema, dcfg, deep.ShardConfig{Shards: 2, KeyField: "C26"})
	if err != nil {
		return res, err
	}
	const batch = 1024
	n := len(xs) / batch * batch
	start := time.Now()
	for lo := 0; lo < n; lo += batch {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		sh.SetTime(int64(lo))
		sh.PredictLearn(preds[lo:lo+batch], xs[lo:lo+batch], ys[lo:lo+batch])
	}
	res.ShardedExamplesPerSecond = float64(n) / time.Since(start).Seconds()
	res.ShardedScaling = res.ShardedExamplesPerSecond / res.DeepExamplesPerSecond
	mt := metric.NewBinaryBinned(0, 0, 100_000)
	for i := range n {
		mt.Update(preds[i], ys[i])
	}
	res.ShardedAUC = mt.Snapshot().AUC
	return res, nil
}

func millis(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// recovery splits the stream into windows and measures, per window, the
// model's log loss minus the true probabilities' and both AUCs.
func recovery(preds, truth, ys []float64, shift, windows int) Recovery {
	n := len(preds)
	w := max(n/windows, 1)
	rec := Recovery{ShiftAtExample: shift, WindowExamples: w, RecoveredAfter: -1}
	var pre []float64
	for lo := 0; lo+w <= n; lo += w {
		mm, bm := metric.NewBinaryBinned(0, 0, 10_000), metric.NewBinaryBinned(0, 0, 10_000)
		for i := lo; i < lo+w; i++ {
			mm.Update(preds[i], ys[i])
			bm.Update(truth[i], ys[i])
		}
		ms, bs := mm.Snapshot(), bm.Snapshot()
		gap := ms.LogLoss - bs.LogLoss
		rec.GapLogLoss = append(rec.GapLogLoss, gap)
		rec.ModelAUC = append(rec.ModelAUC, ms.AUC)
		rec.BayesAUC = append(rec.BayesAUC, bs.AUC)
		switch {
		case lo+w <= shift:
			pre = append(pre, gap)
		case lo >= shift:
			rec.PeakGap = max(rec.PeakGap, gap)
		}
	}
	if len(pre) > 3 {
		pre = pre[len(pre)-3:] // the model's settled level before the shift
	}
	for _, g := range pre {
		rec.PreShiftGap += g / float64(len(pre))
	}
	for k, g := range rec.GapLogLoss {
		if lo := k * w; lo >= shift && len(pre) > 0 && g <= rec.PreShiftGap+0.01 {
			rec.RecoveredAfter = lo + w - shift
			break
		}
	}
	return rec
}
