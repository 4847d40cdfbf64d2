package tree

import (
	"fmt"
	"io"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Hoeffding is a Hoeffding tree (VFDT) for binary classification. Build
// it with NewHoeffding.
type Hoeffding struct {
	t *core
}

var (
	_ learn.Binary             = (*Hoeffding)(nil)
	_ learn.Snapshotter        = (*Hoeffding)(nil)
	_ learn.Cloner[*Hoeffding] = (*Hoeffding)(nil)
)

// NewHoeffding returns a tree over dim features: a single empty leaf.
func NewHoeffding(dim int, cfg Config) (*Hoeffding, error) {
	if dim < 1 {
		return nil, fmt.Errorf("tree: NewHoeffding(%d): dimension must be at least 1", dim)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Hoeffding{t: newCore(cfg.withDefaults(), dim, dim, rng{}, nil)}, nil
}

// Dim returns the number of features.
func (h *Hoeffding) Dim() int { return h.t.dim }

// Config returns the configuration with defaults applied.
func (h *Hoeffding) Config() Config { return h.t.cfg }

// Stats describes the tree's current shape.
func (h *Hoeffding) Stats() Stats {
	var s Stats
	h.t.stats(h.t.root, 0, &s)
	return s
}

// Bytes returns the estimated memory of the tree's state, the quantity
// Config.MaxBytes bounds.
func (h *Hoeffding) Bytes() int64 { return h.t.bytes() }

func checkLen(x []float32, dim int) {
	if len(x) != dim {
		panic(fmt.Sprintf("tree: x has %d features; the model has %d", len(x), dim))
	}
}

// Predict returns P(y=1 | x) from the leaf x reaches (0.5 while that
// leaf has seen nothing).
func (h *Hoeffding) Predict(x []float32) float64 {
	checkLen(x, h.t.dim)
	p, _ := h.t.leafProb(h.t.nodes[h.t.findLeaf(h.t.root, x)].leaf, x)
	return p
}

// Learn adds one example; y >= 0.5 is class 1.
func (h *Hoeffding) Learn(x []float32, y float64) {
	checkLen(x, h.t.dim)
	h.t.learn(x, class(y), 1)
}

// Clone returns an independent deep copy.
func (h *Hoeffding) Clone() *Hoeffding { return &Hoeffding{t: h.t.clone()} }

// SaveTensors adds the complete state of the tree under prefix (see the
// package documentation for the layout).
func (h *Hoeffding) SaveTensors(s *tensor.Set, prefix string) { h.t.save(s, prefix) }

// LoadTensors restores a state saved by SaveTensors from a tree with the
// same dimension. On error h is unchanged.
func (h *Hoeffding) LoadTensors(s *tensor.Set, prefix string) error {
	t, err := loadCore(s, prefix, h.t, 0)
	if err != nil {
		return fmt.Errorf("tree: load: %w", err)
	}
	h.t = t
	return nil
}

// Rules writes the tree as one rule per leaf (see Names).
func (h *Hoeffding) Rules(w io.Writer, names Names) error {
	return writeRules(w, h.t, h.t.root, names, "")
}
