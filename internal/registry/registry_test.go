package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/metric"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

func modelSet(v float32) []byte {
	var s tensor.Set
	s.PutF32("mlp.w", []int{3}, []float32{v, v + 1, v + 2})
	s.PutF32("deep.w", []int{2}, []float32{-v, v})
	b, err := s.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

func TestRegistryLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	learners := []string{"mlp", "deep"}
	wm := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for i, off := range []uint64{100, 250, 400} {
		m, err := r.Register(ctx, "purchase", learners, modelSet(float32(i)), off, wm, map[string]metric.Values{"mlp": {LogLoss: 0.5}})
		if err != nil {
			t.Fatal(err)
		}
		if m.Version != uint64(i+1) || m.Parent != uint64(i) || m.LogTo != off {
			t.Fatalf("version %d: %+v", i+1, m)
		}
	}
	vs, err := r.List(ctx, "purchase")
	if err != nil || len(vs) != 3 || vs[1].LogFrom != 100 || vs[2].LogFrom != 250 {
		t.Fatalf("List = %+v, %v", vs, err)
	}
	_, set, err := r.Get(ctx, "purchase", 2)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := set.F32("mlp.w", 3); err != nil || w[0] != 1 {
		t.Fatalf("Get v2 mlp.w = %v, %v", w, err)
	}
	if _, _, err := r.Get(ctx, "purchase", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get v9 = %v; want ErrNotFound", err)
	}
	// A corrupt model file is refused with its path.
	path := filepath.Join(dir, "purchase", "v3", "model.ppt")
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0x40
	os.WriteFile(path, b, 0o644)
	if _, _, err := r.Get(ctx, "purchase", 3); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of a corrupt v3 = %v; want ErrCorrupt", err)
	}

	if _, err := r.Promote(ctx, "purchase", Ref{Learner: "nope", Version: 2}); !errors.Is(err, ErrBadLearner) {
		t.Fatalf("Promote of a learner the version lacks = %v", err)
	}
	if _, err := r.Promote(ctx, "purchase", Ref{Learner: "mlp", Version: 7}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Promote of a missing version = %v", err)
	}
	if _, err := r.Rollback(ctx, "purchase"); !errors.Is(err, ErrNoChampion) {
		t.Fatalf("Rollback with no history = %v", err)
	}
	steps := []Ref{{"deep", 0}, {"mlp", 2}, {"deep", 1}}
	for _, ref := range steps {
		if _, err := r.Promote(ctx, "purchase", ref); err != nil {
			t.Fatal(err)
		}
	}
	st, err := r.Rollback(ctx, "purchase")
	if err != nil || st.Champion != (Ref{"mlp", 2}) || len(st.History) != 1 {
		t.Fatalf("Rollback = %+v, %v", st, err)
	}
	// The state survives a reopen.
	r2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.State("purchase"); got.Champion != (Ref{"mlp", 2}) || len(got.History) != 1 || got.History[0] != (Ref{"deep", 0}) {
		t.Fatalf("reopened state %+v", got)
	}
	if _, err := r.Register(ctx, "Bad/Task", learners, modelSet(0), 0, wm, nil); err == nil {
		t.Fatal("Register with a bad task name: no error")
	}
}
