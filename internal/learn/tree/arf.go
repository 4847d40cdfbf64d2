package tree

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Defaults of ARFConfig (River's ARFClassifier).
const (
	DefaultARFTrees        = 10
	DefaultARFLambda       = 6
	DefaultARFWarningDelta = 0.01
	DefaultARFDriftDelta   = 0.001
	DefaultARFGracePeriod  = 50
	DefaultARFDelta        = 0.01
)

// ARFConfig configures an adaptive random forest. The zero value means
// River's defaults (except MaxFeatures): 10 trees, Poisson(6) online
// bagging, ADWIN warning (δ = 0.01) and drift (δ = 0.001) detectors per
// tree, accuracy-weighted voting, and trees with grace period 50 and
// split confidence 0.01.
type ARFConfig struct {
	// Trees is the number of trees (default 10).
	Trees int
	// MaxFeatures is the number of features each leaf observes and may
	// split on, drawn at random when the leaf is made. The default is
	// round(√dim)+1, the m = √M + 1 of the ARF paper and MOA's "sqrt(M)+1"
	// mode (River uses round(√dim); on Elec2, 8 features, 4 gave 0.89
	// accuracy where 3 gave 0.88). Values ≥ dim mean all features.
	MaxFeatures int
	// Lambda is the Poisson rate of online bagging: each tree learns each
	// example with weight k ~ Poisson(Lambda) (default 6).
	Lambda float64
	// Seed seeds the bagging weights and the feature subsets.
	Seed uint64
	// WarningDelta is the confidence δ of each tree's warning detector,
	// which starts a background tree (default 0.01).
	WarningDelta float64
	// DriftDelta is the confidence δ of each tree's drift detector,
	// which replaces the tree by its background tree, or by a new tree if
	// there is none (default 0.001).
	DriftDelta float64
	// NoBackground disables warning detection and background trees.
	NoBackground bool
	// NoDriftDetection disables drift detection (and so replacement).
	NoDriftDetection bool
	// NoWeightedVote averages the trees' predictions with equal weights
	// instead of weighting each by its accuracy.
	NoWeightedVote bool
	// Tree holds the tree hyperparameters. Zero fields take the
	// Config defaults except GracePeriod (default 50) and Delta (default
	// 0.01), River's forest settings.
	Tree Config
}

// Validate reports the first invalid field, naming it.
func (c ARFConfig) Validate() error {
	if err := c.Tree.Validate(); err != nil {
		return err
	}
	switch {
	case c.Trees < 0 || c.Trees > 10000:
		return fmt.Errorf("tree: ARF Trees = %d out of range [0, 10000]", c.Trees)
	case c.MaxFeatures < 0:
		return fmt.Errorf("tree: ARF MaxFeatures = %d is negative", c.MaxFeatures)
	case !(c.Lambda >= 0 && c.Lambda <= 100):
		return fmt.Errorf("tree: ARF Lambda = %v out of range [0, 100]", c.Lambda)
	case !(c.WarningDelta >= 0 && c.WarningDelta < 1):
		return fmt.Errorf("tree: ARF WarningDelta = %v out of range [0, 1)", c.WarningDelta)
	case !(c.DriftDelta >= 0 && c.DriftDelta < 1):
		return fmt.Errorf("tree: ARF DriftDelta = %v out of range [0, 1)", c.DriftDelta)
	}
	return nil
}

func (c ARFConfig) withDefaults(dim int) ARFConfig {
	if c.Trees == 0 {
		c.Trees = DefaultARFTrees
	}
	if c.MaxFeatures == 0 {
		c.MaxFeatures = int(math.Round(math.Sqrt(float64(dim)))) + 1
	}
	c.MaxFeatures = min(c.MaxFeatures, dim)
	if c.Lambda == 0 {
		c.Lambda = DefaultARFLambda
	}
	if c.WarningDelta == 0 {
		c.WarningDelta = DefaultARFWarningDelta
	}
	if c.DriftDelta == 0 {
		c.DriftDelta = DefaultARFDriftDelta
	}
	if c.Tree.GracePeriod == 0 {
		c.Tree.GracePeriod = DefaultARFGracePeriod
	}
	if c.Tree.Delta == 0 {
		c.Tree.Delta = DefaultARFDelta
	}
	c.Tree = c.Tree.withDefaults()
	return c
}

// Replacement records a tree of the forest being replaced after its
// drift detector fired.
type Replacement struct {
	// Index is the 0-based position in the stream of the example whose
	// learning triggered the replacement.
	Index int64
	// Tree is the index of the replaced tree in the forest.
	Tree int
	// Background is true when the tree's background tree took its place,
	// false when a new empty tree did.
	Background bool
}

// ARF is an adaptive random forest (Gomes et al. 2017, as in River and
// MOA). Each tree is a Hoeffding tree whose leaves observe a random
// subset of MaxFeatures features; each tree learns each example with a
// Poisson(Lambda) weight; each tree's errors feed a warning detector,
// which starts a background tree, and a drift detector, which replaces
// the tree by its background tree. Trees vote with weights equal to their
// accuracy since they were made, measured prequentially. Build it with
// NewARF.
type ARF struct {
	cfg ARFConfig // with defaults
	dim int

	trees   []*core
	bg      []*core // background trees, nil when none
	warn    []detector
	drift   []detector
	correct []float64 // per tree: examples predicted right since it was made
	seen    []float64 // per tree: examples scored since it was made

	rng       rng
	expLambda float64
	n         int64 // examples learned

	warnings     []int64 // per tree slot
	drifts       []int64
	replacements []Replacement
}

var (
	_ learn.Binary       = (*ARF)(nil)
	_ learn.Snapshotter  = (*ARF)(nil)
	_ learn.Cloner[*ARF] = (*ARF)(nil)
)

// NewARF returns an adaptive random forest over dim features.
func NewARF(dim int, cfg ARFConfig) (*ARF, error) {
	if dim < 1 {
		return nil, fmt.Errorf("tree: NewARF(%d): dimension must be at least 1", dim)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(dim)
	n := cfg.Trees
	a := &ARF{
		cfg: cfg, dim: dim,
		trees: make([]*core, n), bg: make([]*core, n),
		warn: make([]detector, n), drift: make([]detector, n),
		correct: make([]float64, n), seen: make([]float64, n),
		rng: newRNG(cfg.Seed, 2), expLambda: math.Exp(-cfg.Lambda),
		warnings: make([]int64, n), drifts: make([]int64, n),
	}
	for i := range n {
		a.trees[i] = a.newTree()
		a.warn[i] = newADWIN(cfg.WarningDelta)
		a.drift[i] = newADWIN(cfg.DriftDelta)
	}
	return a, nil
}

func (a *ARF) newTree() *core {
	return newCore(a.cfg.Tree, a.dim, a.cfg.MaxFeatures, rng{s: a.rng.next()}, nil)
}

// Dim returns the number of features.
func (a *ARF) Dim() int { return a.dim }

// Config returns the configuration with defaults applied.
func (a *ARF) Config() ARFConfig { return a.cfg }

// Warnings returns the number of warnings (background trees started) so
// far, over all trees.
func (a *ARF) Warnings() int64 {
	var s int64
	for _, v := range a.warnings {
		s += v
	}
	return s
}

// Drifts returns the number of drifts (tree replacements) so far, over
// all trees.
func (a *ARF) Drifts() int64 { return int64(len(a.replacements)) }

// Replacements returns the tree replacements so far, in stream order.
func (a *ARF) Replacements() []Replacement { return slices.Clone(a.replacements) }

// TreeInfo describes one tree of the forest.
type TreeInfo struct {
	Stats
	// Accuracy is the tree's prequential accuracy since it was made (its
	// voting weight), and Seen the number of examples it was scored on.
	Accuracy float64
	Seen     int64
	// Warnings and Drifts count the detections in this slot of the
	// forest.
	Warnings, Drifts int64
	// Background reports whether a background tree is growing.
	Background bool
}

// Trees describes each tree of the forest.
func (a *ARF) Trees() []TreeInfo {
	out := make([]TreeInfo, len(a.trees))
	for i, t := range a.trees {
		t.stats(t.root, 0, &out[i].Stats)
		if a.seen[i] > 0 {
			out[i].Accuracy = a.correct[i] / a.seen[i]
		}
		out[i].Seen = int64(a.seen[i])
		out[i].Warnings, out[i].Drifts = a.warnings[i], a.drifts[i]
		out[i].Background = a.bg[i] != nil
	}
	return out
}

// treeProb returns tree t's P(y=1 | x), false if its leaf is empty.
func treeProb(t *core, x []float32) (float64, bool) {
	return t.leafProb(t.nodes[t.findLeaf(t.root, x)].leaf, x)
}

// weight returns the voting weight of tree i: its accuracy, or 1 while
// it has none (River's rule).
func (a *ARF) weight(i int) float64 {
	if a.cfg.NoWeightedVote || a.seen[i] == 0 || a.correct[i] == 0 {
		return 1
	}
	return a.correct[i] / a.seen[i]
}

// Predict returns P(y=1 | x), the weighted average of the trees'
// predictions (trees whose leaf is empty abstain; 0.5 if all do).
func (a *ARF) Predict(x []float32) float64 {
	checkLen(x, a.dim)
	var num, den float64
	for i, t := range a.trees {
		if p, ok := treeProb(t, x); ok {
			w := a.weight(i)
			num += w * p
			den += w
		}
	}
	if den == 0 {
		return 0.5
	}
	return num / den
}

// Learn adds one example; y >= 0.5 is class 1.
func (a *ARF) Learn(x []float32, y float64) {
	checkLen(x, a.dim)
	cls := class(y)
	for i, t := range a.trees {
		p, ok := treeProb(t, x)
		right := ok && (p >= 0.5) == (cls == 1)
		a.seen[i]++
		if right {
			a.correct[i]++
		}
		k := a.rng.poisson(a.expLambda)
		if k == 0 {
			continue
		}
		w := float64(k)
		if a.bg[i] != nil {
			// The background tree learns with weight 1, as in MOA
			// (River uses k; on Elec2 weight 1 was slightly better).
			a.bg[i].learn(x, cls, 1)
		}
		t.learn(x, cls, w)
		errv := 1.0
		if right {
			errv = 0
		}

		if !a.cfg.NoBackground {
			a.warn[i].Update(errv)
			if a.warn[i].Drift() {
				a.bg[i] = a.newTree()
				a.warn[i].Reset()
				a.warnings[i]++
			}
		}
		if !a.cfg.NoDriftDetection {
			a.drift[i].Update(errv)
			if a.drift[i].Drift() {
				a.replace(i)
			}
		}
	}
	a.n++
}

// replace puts tree i's background tree (or a new tree) in its place.
func (a *ARF) replace(i int) {
	r := Replacement{Index: a.n, Tree: i, Background: a.bg[i] != nil}
	if a.bg[i] != nil {
		a.trees[i] = a.bg[i]
		a.bg[i] = nil
	} else {
		a.trees[i] = a.newTree()
	}
	a.warn[i].Reset()
	a.drift[i].Reset()
	a.correct[i], a.seen[i] = 0, 0
	a.drifts[i]++
	a.replacements = append(a.replacements, r)
}

// Clone returns an independent deep copy.
func (a *ARF) Clone() *ARF {
	c := *a
	c.trees = make([]*core, len(a.trees))
	c.bg = make([]*core, len(a.bg))
	c.warn = make([]detector, len(a.warn))
	c.drift = make([]detector, len(a.drift))
	for i := range a.trees {
		c.trees[i] = a.trees[i].clone()
		if a.bg[i] != nil {
			c.bg[i] = a.bg[i].clone()
		}
		c.warn[i] = cloneDetector(a.warn[i])
		c.drift[i] = cloneDetector(a.drift[i])
	}
	c.correct = slices.Clone(a.correct)
	c.seen = slices.Clone(a.seen)
	c.warnings = slices.Clone(a.warnings)
	c.drifts = slices.Clone(a.drifts)
	c.replacements = slices.Clone(a.replacements)
	return &c
}

// Tensor names of the forest, after its prefix. Part of the snapshot
// format.
const (
	nameARFMeta   = "arf.meta"   // I64 [5]: version, trees, examples, rng, replacements
	nameARFTrees  = "arf.trees"  // I64 [trees, 3]: has background, warnings, drifts
	nameARFAcc    = "arf.acc"    // F64 [trees, 2]: right, seen
	nameARFEvents = "arf.events" // I64 [replacements, 3]: index, tree, background
	nameARFDetLen = "arf.det.len"
	nameARFDet    = "arf.det.data"
	arfTreePrefix = "arf.tree."
	arfBgPrefix   = "arf.bg."
)

// SaveTensors adds the complete state under prefix: every tree and
// background tree (under prefix+"arf.tree.<i>." and "arf.bg.<i>."), the
// detectors, the accuracies, the counters and the replacement log.
func (a *ARF) SaveTensors(s *tensor.Set, prefix string) {
	n := len(a.trees)
	s.PutI64(prefix+nameARFMeta, []int{5}, []int64{formatVersion, int64(n), a.n, int64(a.rng.s), int64(len(a.replacements))})
	info := make([]int64, 0, 3*n)
	acc := make([]float64, 0, 2*n)
	var buf []byte
	lens := make([]int64, 0, 2*n)
	for i, t := range a.trees {
		hasBg := int64(0)
		if a.bg[i] != nil {
			hasBg = 1
			a.bg[i].save(s, fmt.Sprintf("%s%s%d.", prefix, arfBgPrefix, i))
		}
		t.save(s, fmt.Sprintf("%s%s%d.", prefix, arfTreePrefix, i))
		info = append(info, hasBg, a.warnings[i], a.drifts[i])
		acc = append(acc, a.correct[i], a.seen[i])
		for _, d := range []detector{a.warn[i], a.drift[i]} {
			start := len(buf)
			buf = appendDetector(buf, d)
			lens = append(lens, int64(len(buf)-start))
			for len(buf)%8 != 0 {
				buf = append(buf, 0)
			}
		}
	}
	s.PutI64(prefix+nameARFTrees, []int{n, 3}, info)
	s.PutF64(prefix+nameARFAcc, []int{n, 2}, acc)
	ev := make([]int64, 0, 3*len(a.replacements))
	for _, r := range a.replacements {
		b := int64(0)
		if r.Background {
			b = 1
		}
		ev = append(ev, r.Index, int64(r.Tree), b)
	}
	s.PutI64(prefix+nameARFEvents, []int{len(a.replacements), 3}, ev)
	s.PutI64(prefix+nameARFDetLen, []int{2 * n}, lens)
	words := packBytes(nil, buf)
	s.PutI64(prefix+nameARFDet, []int{len(words)}, words)
}

// LoadTensors restores a state saved by SaveTensors into a forest with
// the same dimension and configuration. On error a is unchanged.
func (a *ARF) LoadTensors(s *tensor.Set, prefix string) error {
	c, err := a.load(s, prefix)
	if err != nil {
		return fmt.Errorf("tree: load: %w", err)
	}
	*a = *c
	return nil
}

func (a *ARF) load(s *tensor.Set, prefix string) (*ARF, error) {
	meta, err := s.I64(prefix+nameARFMeta, 5)
	if err != nil {
		return nil, err
	}
	n := len(a.trees)
	switch {
	case meta[0] != formatVersion:
		return nil, fmt.Errorf("%s%s: format version %d; this build reads %d", prefix, nameARFMeta, meta[0], formatVersion)
	case meta[1] != int64(n):
		return nil, fmt.Errorf("%s%s: %d trees; want %d", prefix, nameARFMeta, meta[1], n)
	case meta[2] < 0 || meta[4] < 0 || meta[4] > maxTreeItems:
		return nil, fmt.Errorf("%s%s: bad counters %v", prefix, nameARFMeta, meta)
	}
	c := &ARF{cfg: a.cfg, dim: a.dim, n: meta[2], rng: rng{s: uint64(meta[3])}, expLambda: a.expLambda,
		trees: make([]*core, n), bg: make([]*core, n), warn: make([]detector, n), drift: make([]detector, n),
		warnings: make([]int64, n), drifts: make([]int64, n)}
	info, err := s.I64(prefix+nameARFTrees, n, 3)
	if err != nil {
		return nil, err
	}
	acc, err := s.F64(prefix+nameARFAcc, n, 2)
	if err != nil {
		return nil, err
	}
	c.correct, c.seen = make([]float64, n), make([]float64, n)
	for i := range n {
		right, seen := acc[2*i], acc[2*i+1]
		if !(right >= 0 && seen >= right) || !sane(seen) {
			return nil, fmt.Errorf("%s%s: tree %d: %v right of %v", prefix, nameARFAcc, i, right, seen)
		}
		c.correct[i], c.seen[i] = right, seen
		hasBg, warns, drifts := info[3*i], info[3*i+1], info[3*i+2]
		if hasBg < 0 || hasBg > 1 || warns < 0 || drifts < 0 {
			return nil, fmt.Errorf("%s%s: tree %d: bad values %v", prefix, nameARFTrees, i, info[3*i:3*i+3])
		}
		c.warnings[i], c.drifts[i] = warns, drifts
		proto := a.trees[i]
		if c.trees[i], err = loadCore(s, fmt.Sprintf("%s%s%d.", prefix, arfTreePrefix, i), proto, 0); err != nil {
			return nil, err
		}
		bgPrefix := fmt.Sprintf("%s%s%d.", prefix, arfBgPrefix, i)
		if hasBg == 1 {
			if c.bg[i], err = loadCore(s, bgPrefix, proto, 0); err != nil {
				return nil, err
			}
		} else if _, _, ok := s.Lookup(bgPrefix + nameMeta); ok {
			return nil, fmt.Errorf("%s%s: tree %d has a background tree the forest does not list", prefix, nameARFTrees, i)
		}
	}
	ev, err := s.I64(prefix+nameARFEvents, int(meta[4]), 3)
	if err != nil {
		return nil, err
	}
	for k := range int(meta[4]) {
		r := ev[3*k:]
		if r[0] < 0 || r[0] >= c.n || r[1] < 0 || r[1] >= int64(n) || r[2] < 0 || r[2] > 1 {
			return nil, fmt.Errorf("%s%s: bad replacement %v", prefix, nameARFEvents, r[:3])
		}
		c.replacements = append(c.replacements, Replacement{Index: r[0], Tree: int(r[1]), Background: r[2] == 1})
	}
	lens, err := s.I64(prefix+nameARFDetLen, 2*n)
	if err != nil {
		return nil, err
	}
	_, shape, ok := s.Lookup(prefix + nameARFDet)
	if !ok || len(shape) != 1 {
		return nil, fmt.Errorf("%s%s: missing or not a vector", prefix, nameARFDet)
	}
	words, err := s.I64(prefix+nameARFDet, shape[0])
	if err != nil {
		return nil, err
	}
	buf := unpackBytes(words, len(words)*8)
	off := 0
	for k, l := range lens {
		if l <= 0 || l > int64(len(buf)-off) {
			return nil, fmt.Errorf("%s%s: detector %d: length %d out of range", prefix, nameARFDetLen, k, l)
		}
		delta := a.cfg.WarningDelta
		if k%2 == 1 {
			delta = a.cfg.DriftDelta
		}
		d, err := decodeDetector(buf[off:off+int(l)], delta)
		if err != nil {
			return nil, fmt.Errorf("%s%s: detector %d: %w", prefix, nameARFDet, k, err)
		}
		if k%2 == 0 {
			c.warn[k/2] = d
		} else {
			c.drift[k/2] = d
		}
		off += (int(l) + 7) &^ 7
	}
	if off != len(buf) {
		return nil, fmt.Errorf("%s%s: %d bytes left over", prefix, nameARFDet, len(buf)-off)
	}
	return c, nil
}

// Rules writes every tree of the forest as rules (see Names), each under
// a header line with its accuracy (its voting weight) and the number of
// examples it was scored on.
func (a *ARF) Rules(w io.Writer, names Names) error {
	for i, t := range a.trees {
		acc := 0.0
		if a.seen[i] > 0 {
			acc = a.correct[i] / a.seen[i]
		}
		if _, err := fmt.Fprintf(w, "tree %d (accuracy %.3f over %.0f examples):\n", i, acc, a.seen[i]); err != nil {
			return err
		}
		if err := writeRules(w, t, t.root, names, "  "); err != nil {
			return err
		}
	}
	return nil
}
