package continual

import (
	"context"
	"strings"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/learn/deep"
)

// TestCheckpointOfAnotherConfiguration: an intact checkpoint written with
// another model configuration stops the start with an error that says
// so, instead of being taken for a corrupt file and the learned state
// silently dropped for a replay from offset 0.
func TestCheckpointOfAnotherConfiguration(t *testing.T) {
	lg := simLog(t, 1000, 41)
	dir := t.TempDir()
	r, err := New(lg, testLearners(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Step(context.Background(), 2000); err != nil {
		t.Fatal(err)
	}
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	other := testLearners()
	other[2].NewSparse = func(s *feature.Schema) (SparseModel, error) {
		return deep.New(s, deep.Config{Hidden: []int{24}, EmbedDim: 8, Seed: 3}) // 16 → 24 units
	}
	r2, err := New(lg, other, Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	found, err := r2.Restore()
	if err == nil || found || !strings.Contains(err.Error(), "does not fit these learners") || !strings.Contains(err.Error(), "checkpoint.ppt") {
		t.Fatalf("Restore with another deep configuration = %v, %v; want an error naming the file and the mismatch", found, err)
	}
	if r2.Offset() != 0 {
		t.Fatalf("after the refused restore the runner is at %d; want its fresh state", r2.Offset())
	}
	// The same configuration restores it.
	r3, _ := New(lg, testLearners(), Config{Dir: dir})
	if found, err := r3.Restore(); err != nil || !found || r3.Offset() != 2000 {
		t.Fatalf("Restore with the writing configuration = %v, %v at %d", found, err, r3.Offset())
	}
}
