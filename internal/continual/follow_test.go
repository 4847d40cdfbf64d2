package continual

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// TestFollowerServesTrainerVersions starts a follower from the trainer's
// first full checkpoint (features and offset), lets it follow the rest
// of the log, and makes it serve the trainer's last checkpoint: every
// learner then answers exactly as the trainer's own published models,
// because the follower's features, updated from the log alone, equal
// the trainer's.
func TestFollowerServesTrainerVersions(t *testing.T) {
	lg := simLog(t, 3000, 31)
	var infos []CheckpointInfo
	tr, err := New(lg, testLearners(), Config{Dir: t.TempDir(), DeltaCheckpoints: -1, OnCheckpoint: func(ci CheckpointInfo) { infos = append(infos, ci) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := tr.Step(ctx, int(lg.End()/3)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	drain(t, tr)
	if err := tr.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	tr.publish()
	if len(infos) != 2 || infos[0].Features == nil || infos[0].Offset >= infos[1].Offset {
		t.Fatalf("checkpoint infos: %d, first offset %d, features %d bytes, second offset %d", len(infos), infos[0].Offset, len(infos[0].Features), infos[len(infos)-1].Offset)
	}

	if _, err := New(lg, testLearners(), Config{Follow: true, Dir: t.TempDir()}); err == nil {
		t.Fatal("a follower with a checkpoint dir: no error")
	}
	fo, err := New(lg, testLearners(), Config{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	pairs := []Pair{{"u1", "i1"}, {"u2", "i3"}, {"u7", "i9"}, {"u40", "i2"}}
	got := make([]float64, len(pairs))
	if _, err := fo.ScorePurchaseBy(ctx, "", pairs, got); err == nil {
		t.Fatal("a follower with no adopted version answered")
	}
	if err := fo.Bootstrap([]byte("garbage"), infos[0].Offset, infos[0].Watermark); err == nil {
		t.Fatal("Bootstrap from garbage: no error")
	}
	if err := fo.Bootstrap(infos[0].Features, lg.End()+1, infos[0].Watermark); err == nil {
		t.Fatal("Bootstrap beyond the log end: no error")
	}
	if err := fo.Bootstrap(infos[0].Features, infos[0].Offset, infos[0].Watermark); err != nil {
		t.Fatal(err)
	}
	drain(t, fo)
	fo.publish()
	if err := fo.Adopt(2, infos[1].Models, infos[1].Metrics); err != nil {
		t.Fatal(err)
	}
	if fo.Adopted() != 2 || fo.Offset() != tr.Offset() {
		t.Fatalf("follower: adopted v%d at offset %d; trainer at %d", fo.Adopted(), fo.Offset(), tr.Offset())
	}
	want := make([]float64, len(pairs))
	for _, name := range tr.Learners() {
		if _, err := tr.ScorePurchaseBy(ctx, name, pairs, want); err != nil {
			t.Fatal(err)
		}
		if _, err := fo.ScorePurchaseBy(ctx, name, pairs, got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: follower %v; trainer %v", name, got, want)
		}
	}
	// Adopting an older version changes the answers; a broken set changes nothing.
	if err := fo.Adopt(1, infos[0].Models, infos[0].Metrics); err != nil {
		t.Fatal(err)
	}
	if _, err := fo.ScorePurchaseBy(ctx, "deep", pairs, got); err != nil || slices.Equal(got, want) {
		t.Fatalf("after adopting v1: %v, %v; want answers unlike v2's %v", got, err, want)
	}
	b, _ := infos[0].Models.MarshalBinary()
	broken, _ := tensor.Unmarshal(b)
	for _, n := range broken.Names() {
		if strings.HasPrefix(n, "deep.") {
			broken.Delete(n)
		}
	}
	if err := fo.Adopt(3, broken, nil); err == nil || fo.Adopted() != 1 {
		t.Fatalf("Adopt of a set without deep: %v, adopted v%d", err, fo.Adopted())
	}
	// Pin works on a follower as on a trainer.
	if err := fo.Pin("deep", 2, infos[1].Models); err != nil {
		t.Fatal(err)
	}
	by, err := fo.ScorePurchaseBy(ctx, "", pairs, got)
	if err != nil || !by.Pinned || by.Version != 2 {
		t.Fatalf("pinned on follower: %+v, %v", by, err)
	}
	tr.ScorePurchaseBy(ctx, "deep", pairs, want)
	if !slices.Equal(got, want) {
		t.Fatal(fmt.Sprintf("pinned v2 deep on the follower %v; trainer's deep %v", got, want))
	}
}
