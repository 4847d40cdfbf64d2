package tree

import (
	"fmt"
	"io"
	"math"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Defaults of HATConfig (River's HoeffdingAdaptiveTreeClassifier).
const (
	DefaultHATDriftDelta         = 0.002
	DefaultHATSwitchWindow       = 300
	DefaultHATSwitchSignificance = 0.05
)

// HATConfig configures a Hoeffding adaptive tree. The zero value means
// River's defaults: the Hoeffding tree defaults, bootstrap sampling, ADWIN
// with δ = 0.002 at every node, and alternates judged after 300 errors
// at the 0.05 significance level.
type HATConfig struct {
	// Tree holds the tree hyperparameters (zero fields: Config defaults).
	Tree Config
	// NoBootstrap disables bootstrap sampling at the leaves. With it (the
	// default), a leaf learns each example with weight k ~ Poisson(1),
	// or 1 when k = 0, as River and MOA do.
	NoBootstrap bool
	// Seed seeds the bootstrap weights.
	Seed uint64
	// DriftDelta is the confidence δ of the ADWIN detector watching the
	// error stream of every node (default 0.002).
	DriftDelta float64
	// SwitchWindow is the number of errors both a subtree's and its
	// alternate's detectors must hold before they are compared (default
	// 300).
	SwitchWindow int
	// SwitchSignificance is the significance level of that comparison
	// (default 0.05).
	SwitchSignificance float64
}

// Validate reports the first invalid field, naming it.
func (c HATConfig) Validate() error {
	if err := c.Tree.Validate(); err != nil {
		return err
	}
	if !(c.DriftDelta >= 0 && c.DriftDelta < 1) {
		return fmt.Errorf("tree: HAT DriftDelta = %v out of range [0, 1)", c.DriftDelta)
	}
	if c.SwitchWindow < 0 {
		return fmt.Errorf("tree: HAT SwitchWindow = %d is negative", c.SwitchWindow)
	}
	if !(c.SwitchSignificance >= 0 && c.SwitchSignificance < 1) {
		return fmt.Errorf("tree: HAT SwitchSignificance = %v out of range [0, 1)", c.SwitchSignificance)
	}
	return nil
}

func (c HATConfig) withDefaults() HATConfig {
	c.Tree = c.Tree.withDefaults()
	if c.DriftDelta == 0 {
		c.DriftDelta = DefaultHATDriftDelta
	}
	if c.SwitchWindow == 0 {
		c.SwitchWindow = DefaultHATSwitchWindow
	}
	if c.SwitchSignificance == 0 {
		c.SwitchSignificance = DefaultHATSwitchSignificance
	}
	return c
}

// HAT is a Hoeffding adaptive tree (Bifet and Gavaldà 2009, as in River):
// a Hoeffding tree whose every node watches the error stream of the
// predictions made below it with ADWIN. When a branch's error rises
// significantly, an alternate subtree starts growing beside it, learning
// the same examples; once both have seen SwitchWindow errors, the
// alternate replaces the branch if its error is significantly lower, or
// is dropped if it is significantly higher. Predictions combine the leaf
// of the main tree and of every alternate on x's path, each weighted by
// 1/error² (River's rule). Build it with NewHAT.
type HAT struct {
	t   *core
	cfg HATConfig // with defaults

	alternates int64 // alternates started
	switches   int64 // alternates swapped in
	prunes     int64 // alternates dropped
}

var (
	_ learn.Binary       = (*HAT)(nil)
	_ learn.Snapshotter  = (*HAT)(nil)
	_ learn.Cloner[*HAT] = (*HAT)(nil)
)

// minHATError bounds the error estimate used in HAT's prediction weights
// 1/e² (so a weight is at most 1e12).
const minHATError = 1e-6

// expMinus1 is e^-1, the Poisson(1) parameter of bootstrap sampling.
var expMinus1 = math.Exp(-1)

// NewHAT returns a Hoeffding adaptive tree over dim features.
func NewHAT(dim int, cfg HATConfig) (*HAT, error) {
	if dim < 1 {
		return nil, fmt.Errorf("tree: NewHAT(%d): dimension must be at least 1", dim)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	delta := cfg.DriftDelta
	t := newCore(cfg.Tree, dim, dim, newRNG(cfg.Seed, 1), func() detector { return newADWIN(delta) })
	return &HAT{t: t, cfg: cfg}, nil
}

// Dim returns the number of features.
func (h *HAT) Dim() int { return h.t.dim }

// Config returns the configuration with defaults applied.
func (h *HAT) Config() HATConfig { return h.cfg }

// Stats describes the main tree's current shape (alternates not counted).
func (h *HAT) Stats() Stats {
	var s Stats
	h.t.stats(h.t.root, 0, &s)
	return s
}

// Alternates returns how many alternate subtrees were started, swapped in
// for the subtree they shadowed, and dropped.
func (h *HAT) Alternates() (started, switched, pruned int64) {
	return h.alternates, h.switches, h.prunes
}

// Predict returns P(y=1 | x): the leaves of the main tree and of the
// alternates on x's path, averaged with weights 1/e² where e is each
// leaf's ADWIN error estimate (weight 1 while e is 0; e is taken as at
// least 1e-6).
func (h *HAT) Predict(x []float32) float64 {
	checkLen(x, h.t.dim)
	var num, den float64
	h.collect(h.t.root, x, &num, &den)
	if den == 0 {
		return 0.5
	}
	return num / den
}

func (h *HAT) collect(n int32, x []float32, num, den *float64) {
	t := h.t
	for {
		nd := &t.nodes[n]
		if nd.alt >= 0 {
			h.collect(nd.alt, x, num, den)
		}
		if nd.feature == leafNode {
			if p, ok := t.leafProb(nd.leaf, x); ok {
				w := 1.0
				if e := t.dets[n].Estimation(); e > 0 {
					e = max(e, minHATError)
					w = 1 / (e * e)
				}
				*num += w * p
				*den += w
			}
			return
		}
		n = t.child(nd, x)
	}
}

// Learn adds one example; y >= 0.5 is class 1.
func (h *HAT) Learn(x []float32, y float64) {
	checkLen(x, h.t.dim)
	h.t.weight++
	h.learn(h.t.root, x, class(y), 1, -1)
}

// right reports whether the leaf x reaches from node n predicts cls. It
// is the error signal of every node on the path (an empty leaf is wrong,
// as in River).
func (h *HAT) right(n int32, x []float32, cls int) bool {
	t := h.t
	p, ok := t.leafProb(t.nodes[t.findLeaf(n, x)].leaf, x)
	return ok && (p >= 0.5) == (cls == 1)
}

// learn passes an example down the subtree at n. ok is 1 or 0 if the
// leaf x reaches from n is known to predict cls right or wrong, and -1 if
// not yet known.
func (h *HAT) learn(n int32, x []float32, cls int, w float64, ok int) {
	t := h.t
	if ok < 0 {
		ok = 0
		if h.right(n, x, cls) {
			ok = 1
		}
	}
	errv := float64(1 - ok)
	if t.nodes[n].feature == leafNode {
		if !h.cfg.NoBootstrap {
			if k := t.rng.poisson(expMinus1); k > 0 {
				w *= float64(k)
			}
		}
		t.dets[n].Update(errv)
		t.leafLearn(t.nodes[n].leaf, x, cls, w)
		t.maybeSplit(n)
		return
	}
	t.nodes[n].stats[cls] += w
	det := t.dets[n]
	old := det.Estimation()
	det.Update(errv)
	switch alt := t.nodes[n].alt; {
	case det.Drift() && det.Estimation() >= old:
		// The error rose: grow an alternate from scratch, at n's depth.
		if alt >= 0 {
			t.freeSubtree(alt)
		}
		a := t.newLeaf(t.nodes[n].depth, [2]float64{})
		t.nodes[n].alt = a
		h.alternates++
	case alt >= 0:
		ad := t.dets[alt]
		if det.Width() > h.cfg.SwitchWindow && ad.Width() > h.cfg.SwitchWindow {
			e, ea := det.Estimation(), ad.Estimation()
			fn := 1/float64(ad.Width()) + 1/float64(det.Width())
			bound := math.Sqrt(2 * e * (1 - e) * math.Log(2/h.cfg.SwitchSignificance) * fn)
			if bound < e-ea {
				h.swap(n)
				h.switches++
				// The alternate, now in n's place, learns the example.
				h.learn(n, x, cls, w, -1)
				return
			}
			if bound < ea-e {
				t.freeSubtree(alt)
				t.nodes[n].alt = -1
				h.prunes++
			}
		}
	}
	if alt := t.nodes[n].alt; alt >= 0 {
		h.learn(alt, x, cls, w, -1)
	}
	h.learn(t.child(&t.nodes[n], x), x, cls, w, ok)
}

// swap replaces the subtree at branch n by its alternate, which moves
// into node n (so n's parent needs no update).
func (h *HAT) swap(n int32) {
	t := h.t
	alt := t.nodes[n].alt
	old := t.nodes[n]
	t.freeSubtree(old.left)
	t.freeSubtree(old.right)
	t.nodes[n] = t.nodes[alt]
	t.dets[n], t.dets[alt] = t.dets[alt], t.dets[n]
	t.nodes[alt] = node{feature: freeNode, left: -1, right: -1, leaf: -1, alt: -1}
	t.freeNodes = append(t.freeNodes, alt)
}

// Clone returns an independent deep copy.
func (h *HAT) Clone() *HAT {
	c := *h
	c.t = h.t.clone()
	return &c
}

// nameHAT holds the HAT counters: alternates started, switched, pruned.
// Part of the snapshot format.
const nameHAT = "hat"

// SaveTensors adds the complete state under prefix: the tree (with every
// node's ADWIN state) and the alternate counters.
func (h *HAT) SaveTensors(s *tensor.Set, prefix string) {
	h.t.save(s, prefix)
	s.PutI64(prefix+nameHAT, []int{3}, []int64{h.alternates, h.switches, h.prunes})
}

// LoadTensors restores a state saved by SaveTensors into a HAT with the
// same dimension and drift confidence. On error h is unchanged.
func (h *HAT) LoadTensors(s *tensor.Set, prefix string) error {
	c, err := s.I64(prefix+nameHAT, 3)
	if err != nil {
		return fmt.Errorf("tree: load: %w", err)
	}
	for _, v := range c {
		if v < 0 {
			return fmt.Errorf("tree: load: %s%s: negative counter %d", prefix, nameHAT, v)
		}
	}
	t, err := loadCore(s, prefix, h.t, h.cfg.DriftDelta)
	if err != nil {
		return fmt.Errorf("tree: load: %w", err)
	}
	h.t = t
	h.alternates, h.switches, h.prunes = c[0], c[1], c[2]
	return nil
}

// Rules writes the main tree as one rule per leaf (see Names);
// alternate subtrees are not shown.
func (h *HAT) Rules(w io.Writer, names Names) error {
	return writeRules(w, h.t, h.t.root, names, "")
}
