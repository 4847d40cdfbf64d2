package continual

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
	"github.com/perpetua-ml/perpetua/internal/learn/linear"
	"github.com/perpetua-ml/perpetua/internal/learn/mlp"
	"github.com/perpetua-ml/perpetua/internal/sim"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

func testLearners() []Learner {
	return []Learner{
		{Name: "mlp", New: func() (Model, error) { return mlp.New(PurchaseDim, mlp.Config{Seed: 3, LearnRate: 0.003}) }},
		{Name: "logistic", New: func() (Model, error) { return linear.New(PurchaseDim, linear.Config{}), nil }},
		{Name: "deep", NewSparse: func(s *feature.Schema) (SparseModel, error) {
			return deep.New(s, deep.Config{Hidden: []int{16}, EmbedDim: 8, Seed: 3})
		}, Freeze: func(m SparseModel) SparseScorer { return m.(*deep.Model).Freeze() }},
		// No Freeze: published through its tensors.
		{Name: "fm", NewSparse: func(s *feature.Schema) (SparseModel, error) {
			return deep.New(s, deep.Config{FM: true, Hidden: []int{8}, EmbedDim: 4, Seed: 4})
		}},
	}
}

// simLog fills a fresh segment log with a simulated shop's events.
func simLog(t *testing.T, visits int, seed uint64) *eventlog.SegmentLog {
	t.Helper()
	lg, err := eventlog.Open(t.TempDir(), eventlog.Options{Sync: eventlog.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lg.Close() })
	shop := sim.New(sim.Config{Seed: seed, Visits: visits})
	var evs []event.Event
	for !shop.Done() {
		evs = shop.Next(evs[:0], 1000)
		batch := make([][]byte, len(evs))
		for i := range evs {
			batch[i] = event.Append(nil, &evs[i])
		}
		if _, err := lg.Append(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	return lg
}

func drain(t *testing.T, r *Runner) {
	t.Helper()
	for {
		n, err := r.Step(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func state(t *testing.T, r *Runner) []byte {
	t.Helper()
	secs, err := r.save()
	if err != nil {
		t.Fatal(err)
	}
	for i := range secs {
		if secs[i].name == "models" {
			secs[i].data = withoutSnapshotSeq(t, secs[i].data)
		}
	}
	return encodeCheckpoint(secs)
}

// withoutSnapshotSeq zeroes the embedding tables' snapshot sequence
// number and token (entries 11 and 12 of each "counters" tensor, see
// docs/formats.md): they count the snapshots taken, which differs between
// a run that checkpointed and one that did not, while the model is the same.
func withoutSnapshotSeq(t *testing.T, data []byte) []byte {
	t.Helper()
	set, err := tensor.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range set.Names() {
		if !strings.HasSuffix(n, ".counters") || strings.HasPrefix(n, "purchase_schema.") {
			continue
		}
		c, err := set.I64(n, 14)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		c = slices.Clone(c)
		c[11], c[12] = 0, 0
		set.PutI64(n, []int{14}, c)
	}
	out, err := set.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCheckpointRestartContinue proves snapshot → restart → continue gives
// the same model (bit for bit: weights, optimizer state, features, pending
// labels, metrics) as an uninterrupted run, for several cut points.
func TestCheckpointRestartContinue(t *testing.T) {
	lg := simLog(t, 3000, 11)
	end := lg.End()

	whole, err := New(lg, testLearners(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	drain(t, whole)
	want := state(t, whole)
	if whole.Offset() != end {
		t.Fatalf("uninterrupted run stopped at %d; want %d", whole.Offset(), end)
	}

	for _, cut := range []int{1, 777, int(end / 2), int(end) - 1} {
		dir := t.TempDir()
		first, err := New(lg, testLearners(), Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Step(context.Background(), cut); err != nil {
			t.Fatal(err)
		}
		if err := first.Checkpoint(); err != nil {
			t.Fatalf("cut %d: Checkpoint: %v", cut, err)
		}
		// More work after the checkpoint is lost with the process.
		if _, err := first.Step(context.Background(), 100); err != nil {
			t.Fatal(err)
		}

		second, err := New(lg, testLearners(), Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		found, err := second.Restore()
		if err != nil || !found {
			t.Fatalf("cut %d: Restore() = %v, %v; want true, nil", cut, found, err)
		}
		if second.Offset() != uint64(cut) {
			t.Fatalf("cut %d: restored offset %d", cut, second.Offset())
		}
		drain(t, second)
		if got := state(t, second); !bytes.Equal(got, want) {
			t.Fatalf("cut %d: state after restore+continue differs from the uninterrupted run", cut)
		}
		if c, err := lg.Committed(context.Background(), "purchase"); err != nil || c != uint64(cut) {
			t.Fatalf("cut %d: committed position = %d, %v", cut, c, err)
		}
	}
}

// TestCorruptCheckpointRefused flips bytes of the newest full checkpoint:
// it is refused with an Error-level message naming the file, and the
// previous full checkpoint is used (or, without one, the fresh state, so
// the log is replayed from its start).
func TestCorruptCheckpointRefused(t *testing.T) {
	lg := simLog(t, 200, 2)
	dir := t.TempDir()
	r, _ := New(lg, testLearners(), Config{Dir: dir, DeltaCheckpoints: -1})
	half := int(lg.End() / 2)
	if _, err := r.Step(context.Background(), half); err != nil {
		t.Fatal(err)
	}
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// The first checkpoint has no previous one.
	path := filepath.Join(dir, checkpointName)
	first, _ := os.ReadFile(path)
	for _, pos := range []int{0, 9, len(first) / 2, len(first) - 1} {
		bad := bytes.Clone(first)
		bad[pos] ^= 1
		os.WriteFile(path, bad, 0o644)
		var logs bytes.Buffer
		fresh, _ := New(lg, testLearners(), Config{Dir: dir, DeltaCheckpoints: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if found, err := fresh.Restore(); err != nil || found || fresh.Offset() != 0 {
			t.Errorf("Restore with byte %d flipped and no previous checkpoint = %v, %v at offset %d; want false, nil at 0", pos, found, err, fresh.Offset())
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), checkpointName) {
			t.Errorf("Restore with byte %d flipped logged %q; want an error naming %s", pos, logs.String(), checkpointName)
		}
	}
	os.WriteFile(path, first, 0o644)

	// With a second checkpoint, the first is the previous one.
	r, _ = New(lg, testLearners(), Config{Dir: dir, DeltaCheckpoints: -1})
	if _, err := r.Restore(); err != nil {
		t.Fatal(err)
	}
	drain(t, r)
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, pos := range []int{0, 9, len(data) / 2, len(data) - 1} {
		bad := bytes.Clone(data)
		bad[pos] ^= 1
		os.WriteFile(path, bad, 0o644)
		var logs bytes.Buffer
		fresh, _ := New(lg, testLearners(), Config{Dir: dir, DeltaCheckpoints: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if found, err := fresh.Restore(); err != nil || !found || fresh.Offset() != uint64(half) {
			t.Errorf("Restore with byte %d flipped = %v, %v at offset %d; want the previous checkpoint at %d", pos, found, err, fresh.Offset(), half)
		}
		if !strings.Contains(logs.String(), "checkpoint refused as corrupt") {
			t.Errorf("Restore with byte %d flipped logged %q; want a refusal", pos, logs.String())
		}
	}
	// A checkpoint beyond the log's end is an error, not a fallback.
	os.WriteFile(path, data, 0o644)
	short := simLog(t, 50, 2)
	other, _ := New(short, testLearners(), Config{Dir: dir, DeltaCheckpoints: -1})
	if found, err := other.Restore(); err == nil || found || !strings.Contains(err.Error(), "beyond the log end") {
		t.Errorf("Restore against a shorter log = %v, %v; want an error", found, err)
	}
}

// TestLearnsPurchases checks the loop end to end on the simulated shop:
// labels resolve, both learners beat the constant predictor's log loss.
func TestLearnsPurchases(t *testing.T) {
	lg := simLog(t, 6000, 5)
	r, _ := New(lg, testLearners(), Config{})
	drain(t, r)
	r.publish()
	p := r.Published()
	st := p.Stats
	if st.Labelled == 0 || st.Positives == 0 || st.Undecodable != 0 {
		t.Fatalf("stats %+v: want labelled examples with positives and nothing undecodable", st)
	}
	// The shopper's shift halfway shows in the learners' log loss.
	if len(p.Drifts) == 0 {
		t.Error("no drift detected in any learner's log loss across the shift")
	}
	for _, d := range p.Drifts {
		if !slices.Contains(r.Learners(), d.Learner) || d.Offset > lg.End() || d.At.IsZero() {
			t.Errorf("drift event %+v", d)
		}
	}
	t.Logf("%d drift events, first %+v", len(p.Drifts), p.Drifts[0])
	rate := float64(st.Positives) / float64(st.Labelled)
	constLoss := -(rate*math.Log(rate) + (1-rate)*math.Log(1-rate))
	for _, m := range p.Models {
		t.Logf("%s: %+v", m.Name, m.Metrics)
		if !(m.Metrics.LogLoss < constLoss*0.95) {
			t.Errorf("%s log loss %.4f; want < 0.95 × constant predictor's %.4f", m.Name, m.Metrics.LogLoss, constLoss)
		}
		if !(m.Metrics.AUC > 0.65) {
			t.Errorf("%s AUC %.3f; want > 0.65", m.Name, m.Metrics.AUC)
		}
	}
	probs := make([]float64, 2)
	if _, name, err := r.ScorePurchase(context.Background(), "", []Pair{{"u1", "i1"}, {"nobody", "nothing"}}, probs); err != nil || name != "mlp" {
		t.Fatalf("ScorePurchase = %q, %v", name, err)
	}
	for _, q := range probs {
		if !(q > 0 && q < 1) {
			t.Fatalf("ScorePurchase probabilities %v; want in (0,1)", probs)
		}
	}
	// Every learner scores, and a sparse learner's score of a pair equals
	// what it predicted for a view of that pair at the same moment.
	for _, m := range p.Models {
		if _, name, err := r.ScorePurchase(context.Background(), m.Name, []Pair{{"u1", "i1"}, {"nobody", "nothing"}}, probs); err != nil || name != m.Name {
			t.Fatalf("ScorePurchase(%s) = %q, %v", m.Name, name, err)
		}
		for _, q := range probs {
			if !(q > 0 && q < 1) {
				t.Fatalf("ScorePurchase(%s) probabilities %v; want in (0,1)", m.Name, probs)
			}
		}
	}
	if _, _, err := r.ScorePurchase(context.Background(), "nope", []Pair{{"u", "i"}}, probs); err == nil {
		t.Fatal("ScorePurchase with an unknown model: no error")
	}
}

// TestDeltaCheckpoints checkpoints several times as deltas, restores the
// full checkpoint plus its deltas, and checks the restored runner
// continues exactly as an uninterrupted one; after DeltaCheckpoints deltas
// the next checkpoint is full again and the deltas are gone.
func TestDeltaCheckpoints(t *testing.T) {
	lg := simLog(t, 3000, 13)
	end := int(lg.End())
	whole, _ := New(lg, testLearners(), Config{WideBits: 8})
	drain(t, whole)
	want := state(t, whole)

	dir := t.TempDir()
	// A small wide part (saved in full in deltas too), so the tables dominate.
	cfg := Config{Dir: dir, DeltaCheckpoints: 3, WideBits: 8}
	first, err := New(lg, testLearners(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	step := end / 8
	var sizes []int64
	for k := range 4 { // full, delta 1, 2, 3
		if _, err := first.Step(context.Background(), step); err != nil {
			t.Fatal(err)
		}
		if err := first.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		name := checkpointName
		if k > 0 {
			name = deltaName(k)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("checkpoint %d: %v", k, err)
		}
		sizes = append(sizes, fi.Size())
	}
	t.Logf("checkpoint sizes (full, then deltas): %v", sizes)
	second, _ := New(lg, testLearners(), cfg)
	if found, err := second.Restore(); err != nil || !found {
		t.Fatalf("Restore = %v, %v", found, err)
	}
	if second.Offset() != uint64(4*step) {
		t.Fatalf("restored offset %d; want %d", second.Offset(), 4*step)
	}
	// The restored runner's next checkpoint is full (3 deltas written):
	// the deltas are removed.
	if _, err := second.Step(context.Background(), step); err != nil {
		t.Fatal(err)
	}
	if err := second.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "checkpoint.delta.*")); len(m) != 0 {
		t.Fatalf("deltas left after a full checkpoint: %v", m)
	}
	drain(t, second)
	if got := state(t, second); !bytes.Equal(got, want) {
		t.Fatal("state after restoring full + deltas and continuing differs from the uninterrupted run")
	}
	// A delta that does not follow its base is refused.
	third, _ := New(lg, testLearners(), cfg)
	if _, err := third.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := third.Checkpoint(); err != nil { // delta 1 of the new chain
		t.Fatal(err)
	}
	at1 := third.Offset()
	if err := third.Checkpoint(); err != nil { // delta 2 of the new chain
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, deltaName(1)))
	os.WriteFile(filepath.Join(dir, deltaName(2)), b, 0o644) // a repeat is out of order
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	fourth, _ := New(lg, testLearners(), cfg)
	if found, err := fourth.Restore(); err != nil || !found || fourth.Offset() != at1 {
		t.Fatalf("Restore with a repeated delta = %v, %v at %d; want the state of delta 1 at %d", found, err, fourth.Offset(), at1)
	}
	if !strings.Contains(logs.String(), deltaName(2)) {
		t.Fatalf("Restore with a repeated delta logged %q; want the refusal of %s", logs.String(), deltaName(2))
	}
	// Its next checkpoint is a full one: the stale delta goes.
	if err := fourth.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "checkpoint.delta.*")); len(m) != 0 {
		t.Fatalf("deltas left after the checkpoint following a refused delta: %v", m)
	}
}

// TestFullCheckpointEvery: once the full checkpoint is older than
// FullCheckpointEvery, the next checkpoint is full (and registered
// through OnCheckpoint) although fewer than DeltaCheckpoints deltas were
// written; with it negative, only the count decides.
func TestFullCheckpointEvery(t *testing.T) {
	lg := simLog(t, 2000, 17)
	for _, tc := range []struct {
		name  string
		every time.Duration
		kinds string // f: full, d: delta; a minute passes before each
	}{
		{"age bound", 150 * time.Second, "fddfddf"},
		{"count only", -1, "fdddddd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fulls := 0
			r, err := New(lg, testLearners(), Config{Dir: dir, DeltaCheckpoints: 9, FullCheckpointEvery: tc.every, WideBits: 8,
				OnCheckpoint: func(CheckpointInfo) { fulls++ }})
			if err != nil {
				t.Fatal(err)
			}
			clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			r.now = func() time.Time { return clock }
			var kinds strings.Builder
			for range len(tc.kinds) {
				clock = clock.Add(time.Minute)
				if _, err := r.Step(context.Background(), 100); err != nil {
					t.Fatal(err)
				}
				before := fulls
				if err := r.Checkpoint(); err != nil {
					t.Fatal(err)
				}
				if fulls > before {
					kinds.WriteByte('f')
				} else {
					kinds.WriteByte('d')
				}
			}
			if kinds.String() != tc.kinds {
				t.Fatalf("checkpoints %s; want %s", kinds.String(), tc.kinds)
			}
		})
	}
	// The age counts from when the full checkpoint was written, across a
	// restart: restored with deltas, a full checkpoint older than the
	// bound makes the next one full; a fresh one lets deltas follow.
	for _, tc := range []struct {
		name string
		age  time.Duration
		want string
	}{{"restored old", 10 * time.Minute, "f"}, {"restored fresh", 0, "d"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, DeltaCheckpoints: 9, WideBits: 8}
			r, _ := New(lg, testLearners(), cfg)
			for range 2 { // full, then a delta
				if _, err := r.Step(context.Background(), 100); err != nil {
					t.Fatal(err)
				}
				if err := r.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.age > 0 {
				old := time.Now().Add(-tc.age)
				if err := os.Chtimes(filepath.Join(dir, checkpointName), old, old); err != nil {
					t.Fatal(err)
				}
			}
			fulls := 0
			cfg.OnCheckpoint = func(CheckpointInfo) { fulls++ }
			again, _ := New(lg, testLearners(), cfg)
			if found, err := again.Restore(); err != nil || !found {
				t.Fatalf("Restore = %v, %v", found, err)
			}
			if _, err := again.Step(context.Background(), 100); err != nil {
				t.Fatal(err)
			}
			if err := again.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			got := "d"
			if fulls > 0 {
				got = "f"
			}
			if got != tc.want {
				t.Fatalf("first checkpoint after restoring a full checkpoint %v old: %s; want %s", tc.age, got, tc.want)
			}
		})
	}
}

// TestChampionAndPin checks the serving switches: the champion learner,
// a pinned saved version (answers as the model did when saved, while the
// live one moves on), a refused bad version, and unpinning.
func TestChampionAndPin(t *testing.T) {
	lg := simLog(t, 3000, 21)
	var info CheckpointInfo
	r, _ := New(lg, testLearners(), Config{Dir: t.TempDir(), OnCheckpoint: func(ci CheckpointInfo) { info = ci }})
	ctx := context.Background()
	if _, err := r.Step(ctx, int(lg.End()/2)); err != nil {
		t.Fatal(err)
	}
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if info.Models == nil || info.Offset != r.Offset() || len(info.Metrics) != 4 {
		t.Fatalf("OnCheckpoint got %+v", info)
	}
	r.publish()
	pairs := []Pair{{"u1", "i1"}, {"u2", "i3"}, {"u7", "i9"}}
	at := make([]float64, 3)
	if _, err := r.ScorePurchaseBy(ctx, "deep", pairs, at); err != nil {
		t.Fatal(err)
	}
	if err := r.SetChampion("logistic"); err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 3)
	if by, err := r.ScorePurchaseBy(ctx, "", pairs, got); err != nil || by.Model != "logistic" || by.Pinned {
		t.Fatalf("after SetChampion: %+v, %v", by, err)
	}
	if err := r.SetChampion("nope"); err == nil {
		t.Fatal("SetChampion of an unknown learner: no error")
	}
	if err := r.Pin("deep", 7, info.Models); err != nil {
		t.Fatal(err)
	}
	drain(t, r) // the live models learn on
	r.publish()
	by, err := r.ScorePurchaseBy(ctx, "", pairs, got)
	if err != nil || by.Model != "deep" || !by.Pinned || by.Version != 7 {
		t.Fatalf("pinned: %+v, %v", by, err)
	}
	// Features are live, so compare with the live deep model's view of
	// the same pairs restored from the same tensors: pinned must differ
	// from the live (which learned more) yet stay stable call to call.
	live := make([]float64, 3)
	r.ScorePurchaseBy(ctx, "deep", pairs, live)
	again := make([]float64, 3)
	r.ScorePurchaseBy(ctx, "", pairs, again)
	if !slices.Equal(got, again) {
		t.Fatalf("pinned answers changed between calls: %v then %v", got, again)
	}
	if slices.Equal(got, live) {
		t.Fatalf("pinned %v equals the live model %v after it learned more", got, live)
	}
	// A corrupt version is refused and changes nothing.
	bad := &tensor.Set{}
	if err := r.Pin("mlp", 8, bad); err == nil {
		t.Fatal("Pin of an empty set: no error")
	}
	if c, pm, pv := r.Champion(); c != "logistic" || pm != "deep" || pv != 7 {
		t.Fatalf("Champion() = %s, %s, %d after a refused pin; want logistic, deep, 7", c, pm, pv)
	}
	if err := r.SetChampion("mlp"); err != nil {
		t.Fatal(err)
	}
	if by, _ := r.ScorePurchaseBy(ctx, "", pairs, got); by.Pinned || by.Model != "mlp" {
		t.Fatalf("after SetChampion(mlp): %+v; want the live mlp", by)
	}
}

func TestCanaryAndShadow(t *testing.T) {
	lg := simLog(t, 1500, 23)
	r, _ := New(lg, testLearners(), Config{})
	drain(t, r)
	r.publish()
	ctx := context.Background()
	pairs := []Pair{{"u1", "i1"}, {"u2", "i3"}}
	dst := make([]float64, 2)
	if err := r.SetTraffic(Traffic{Canary: "deep", CanaryShare: 1, Shadow: "logistic"}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if by, err := r.ScorePurchaseBy(ctx, "", pairs, dst); err != nil || by.Model != "deep" {
			t.Fatalf("canary share 1: served by %+v, %v", by, err)
		}
	}
	// A named call is never diverted nor shadowed.
	if by, _ := r.ScorePurchaseBy(ctx, "mlp", pairs, dst); by.Model != "mlp" {
		t.Fatalf("named call served by %s", by.Model)
	}
	tr, st := r.Traffic()
	if tr.Canary != "deep" || st.Canary != 10 || st.Pairs != 20 || !(st.MeanAbs > 0 && st.MeanAbs < 1) {
		t.Fatalf("traffic %+v, stats %+v; want 10 canary calls and 20 shadowed pairs", tr, st)
	}
	if err := r.SetTraffic(Traffic{Canary: "deep", CanaryShare: 0}); err != nil {
		t.Fatal(err)
	}
	if by, _ := r.ScorePurchaseBy(ctx, "", pairs, dst); by.Model != "mlp" {
		t.Fatalf("canary share 0: served by %s", by.Model)
	}
	for _, bad := range []Traffic{{Canary: "nope", CanaryShare: 0.5}, {Shadow: "nope"}, {Canary: "deep", CanaryShare: 1.5}} {
		if err := r.SetTraffic(bad); err == nil {
			t.Errorf("SetTraffic(%+v): no error", bad)
		}
	}
}

// TestCheckpointFailureThenFull makes a delta checkpoint fail to be
// written: the error names the file, and the next checkpoint is a full
// one (the failed delta's changes are in no file, so no later delta may
// chain to it); restoring then continuing equals an uninterrupted run.
func TestCheckpointFailureThenFull(t *testing.T) {
	lg := simLog(t, 1500, 17)
	whole, _ := New(lg, testLearners(), Config{WideBits: 8})
	drain(t, whole)
	want := state(t, whole)

	dir := t.TempDir()
	cfg := Config{Dir: dir, WideBits: 8}
	r, _ := New(lg, testLearners(), cfg)
	step := int(lg.End() / 4)
	r.Step(context.Background(), step)
	if err := r.Checkpoint(); err != nil { // full
		t.Fatal(err)
	}
	// A directory where delta 1 goes makes its rename fail.
	blocker := filepath.Join(dir, deltaName(1))
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	r.Step(context.Background(), step)
	if err := r.Checkpoint(); err == nil || !strings.Contains(err.Error(), deltaName(1)) {
		t.Fatalf("Checkpoint onto a directory = %v; want an error naming %s", err, deltaName(1))
	}
	os.Remove(blocker)
	r.Step(context.Background(), step)
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "checkpoint.delta.*")); len(m) != 0 {
		t.Fatalf("the checkpoint after a failed one wrote %v; want a full checkpoint", m)
	}
	if _, err := os.Stat(filepath.Join(dir, prevCheckpointName)); err != nil {
		t.Fatalf("no previous checkpoint kept: %v", err)
	}
	second, _ := New(lg, testLearners(), cfg)
	if found, err := second.Restore(); err != nil || !found || second.Offset() != uint64(3*step) {
		t.Fatalf("Restore = %v, %v at %d; want true, nil at %d", found, err, second.Offset(), 3*step)
	}
	drain(t, second)
	if got := state(t, second); !bytes.Equal(got, want) {
		t.Fatal("state after a failed checkpoint, a full one, restore and continue differs from the uninterrupted run")
	}
}

// TestRunSurvivesCheckpointFailures makes checkpoints fail (after the
// first, a non-empty directory where the previous checkpoint is kept):
// Run logs and counts the failures, keeps learning to the end of the log
// and publishing, and only the final checkpoint's failure is returned,
// naming the file.
func TestRunSurvivesCheckpointFailures(t *testing.T) {
	lg := simLog(t, 300, 19)
	more := simLog(t, 100, 20)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, prevCheckpointName, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs syncWriter
	r, _ := New(lg, testLearners(), Config{Dir: dir, DeltaCheckpoints: -1, CheckpointEvery: 100, CheckpointInterval: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(context.Background()) }()
	waitFor := func(what string, ok func(p *Published) bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if p := r.Published(); p != nil && ok(p) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Run did not get to %s (published %+v); log:\n%s", what, r.Published(), logs.String())
			}
		}
	}
	waitFor("a first checkpoint", func(p *Published) bool { return p.Offset == lg.End() })
	// New records: the next checkpoints cannot keep the previous one.
	rd, _ := more.NewReader(0)
	for {
		rec, err := rd.Next(context.Background())
		if err != nil {
			break
		}
		if _, err := lg.Append(context.Background(), [][]byte{bytes.Clone(rec.Data)}); err != nil {
			t.Fatal(err)
		}
	}
	rd.Close()
	// Published stats change with publications only; the log says every retry.
	waitFor("the log end with failing checkpoints", func(p *Published) bool {
		return p.Offset == lg.End() && p.Stats.CheckpointFailures >= 1 && strings.Count(logs.String(), "checkpoint failed") >= 2
	})
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil || !strings.Contains(err.Error(), prevCheckpointName) {
		t.Fatalf("Run = %v; want the final checkpoint's error naming %s", err, prevCheckpointName)
	}
	if s := logs.String(); !strings.Contains(s, "checkpoint failed") {
		t.Fatalf("no failure logged: %q", s)
	}
}

// syncWriter is a bytes.Buffer safe for concurrent use.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestRestoreRemovesTemps: temporary files of checkpoint writes a crash
// interrupted are removed when the runner restores; other files stay.
func TestRestoreRemovesTemps(t *testing.T) {
	lg := simLog(t, 50, 23)
	dir := t.TempDir()
	for _, name := range []string{".checkpoint.ppt.tmp-123", ".checkpoint.delta.2.ppt.tmp-9", "keep.me"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := New(lg, testLearners(), Config{Dir: dir})
	if found, err := r.Restore(); err != nil || found {
		t.Fatalf("Restore = %v, %v; want false, nil", found, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "keep.me" {
		t.Fatalf("after Restore the dir holds %v; want only keep.me", ents)
	}
}

// TestStaleDeltasIgnored simulates a crash after a full checkpoint was
// written but before the deltas of the one it replaced were removed:
// Restore ignores (and removes) them, as their chain differs, and the
// restored runner continues exactly as an uninterrupted one.
func TestStaleDeltasIgnored(t *testing.T) {
	lg := simLog(t, 2000, 29)
	whole, _ := New(lg, testLearners(), Config{WideBits: 8})
	drain(t, whole)
	want := state(t, whole)

	dir := t.TempDir()
	cfg := Config{Dir: dir, DeltaCheckpoints: 2, WideBits: 8}
	r, _ := New(lg, testLearners(), cfg)
	step := int(lg.End() / 6)
	saved := map[string][]byte{}
	for k := range 4 { // full, delta 1, delta 2, full
		r.Step(context.Background(), step)
		if k == 3 {
			for _, d := range []int{1, 2} {
				saved[deltaName(d)], _ = os.ReadFile(filepath.Join(dir, deltaName(d)))
			}
		}
		if err := r.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range saved { // the crash: the old deltas are still there
		if len(b) == 0 {
			t.Fatalf("%s was not written", name)
		}
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	second, _ := New(lg, testLearners(), cfg)
	if found, err := second.Restore(); err != nil || !found || second.Offset() != uint64(4*step) {
		t.Fatalf("Restore with stale deltas = %v, %v at %d; want the full checkpoint at %d", found, err, second.Offset(), 4*step)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("stale deltas were reported as an error: %s", logs.String())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "checkpoint.delta.*")); len(m) != 0 {
		t.Errorf("stale deltas left after Restore: %v", m)
	}
	drain(t, second)
	if got := state(t, second); !bytes.Equal(got, want) {
		t.Fatal("state after ignoring stale deltas and continuing differs from the uninterrupted run")
	}
}

// TestWatermarkFollowsTheClickstream: only the events the purchase task
// learns from (views, clicks, carts, purchases) move its event-time
// watermark. An impression the server stamped with its own clock, months
// after the shop's events (a replayed or simulated stream), must not
// expire the pending views: the purchase 5 minutes after its view is
// still a positive.
func TestWatermarkFollowsTheClickstream(t *testing.T) {
	lg, err := eventlog.Open(t.TempDir(), eventlog.Options{Sync: eventlog.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	evs := []event.Event{
		{ID: "v1", Type: event.TypeView, Timestamp: t0, UserID: "u1", ItemID: "i1"},
		{ID: "imp", Type: event.TypeImpression, Timestamp: t0.Add(300 * 24 * time.Hour), UserID: "u1", RequestID: "r1",
			Items: []string{"i1"}, Positions: []int{1}, Propensities: []float64{1}},
		{ID: "fb", Type: event.TypeFeedback, Timestamp: t0.Add(300 * 24 * time.Hour), RequestID: "r1", ItemID: "i1", Reward: 1},
		{ID: "p1", Type: event.TypePurchase, Timestamp: t0.Add(5 * time.Minute), UserID: "u1", ItemID: "i1", Quantity: 1},
		{ID: "v2", Type: event.TypeView, Timestamp: t0.Add(2 * time.Hour), UserID: "u2", ItemID: "i2"},
	}
	batch := make([][]byte, len(evs))
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			t.Fatalf("event %s: %v", evs[i].ID, err)
		}
		batch[i] = event.Append(nil, &evs[i])
	}
	if _, err := lg.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	r, err := New(lg, testLearners(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Step(context.Background(), len(evs)); err != nil {
		t.Fatal(err)
	}
	if r.stats.Labelled != 1 || r.stats.Positives != 1 {
		t.Fatalf("labelled %d, positive %d; want the view labelled once, as a purchase", r.stats.Labelled, r.stats.Positives)
	}
	if want := t0.Add(2 * time.Hour); !r.watermark.Equal(want) {
		t.Fatalf("watermark %v; want %v (the last view)", r.watermark, want)
	}
}
