package tree

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// node is one node of a tree. A node is a leaf (feature == leafNode), a
// branch (feature >= 0) or free (feature == freeNode, on the free list).
// Splitting turns a leaf into a branch in place, so a node's index never
// changes while it is in the tree and nodes need no parent links.
type node struct {
	threshold float64    // branch: x[feature] <= threshold goes left
	stats     [2]float64 // branch: class weights (at the split; HAT keeps counting)
	feature   int32      // split feature, leafNode or freeNode
	left      int32      // branch: child for x[feature] <= threshold
	right     int32      // branch: child for x[feature] > threshold
	leaf      int32      // leaf: index into core.leaves, else -1
	alt       int32      // HAT: root of the alternate subtree, else -1
	depth     int32      // the root has depth 0
	nanLeft   int32      // branch: 1 if a NaN feature goes left (the heavier side)
}

const (
	leafNode = -1
	freeNode = -2
)

// leaf holds the statistics of one leaf.
type leaf struct {
	stats     [2]float64 // class weights, including those inherited at the split
	lastSplit float64    // total weight at the last split attempt
	mcCorrect float64    // NBA: weight the class frequencies predicted right
	nbCorrect float64    // NBA: weight naive Bayes predicted right
	block     int32      // observer block, or -1 when the leaf is inactive
}

// core is one Hoeffding tree stored in flat arrays: nodes, leaves, and
// per-leaf blocks of Gaussian estimators (one per observed feature and
// class). Freed nodes, leaves and blocks go on free lists and are reused,
// so a tree that stops growing stops allocating.
//
// A leaf observes m features: all of them (feats == nil, slot = feature)
// or, in a random forest, m features drawn when the leaf is made
// (feats[leaf*m : leaf*m+m]).
type core struct {
	cfg Config // with defaults
	dim int
	m   int

	nodes      []node
	freeNodes  []int32
	leaves     []leaf
	freeLeaves []int32
	obs        []gauss // block b is obs[b*2m : (b+1)*2m], index 2*slot+class
	freeBlocks []int32
	feats      []int32 // subspace only: the features of each leaf slot
	root       int32

	// rng draws leaf feature subsets (subspace) and bootstrap weights (HAT).
	rng rng
	// weight is the total weight learned.
	weight float64
	// splits counts splits.
	splits int64

	// dets holds the drift detector of each node (HAT only), parallel to
	// nodes; newDet makes one.
	dets   []detector
	newDet func() detector

	perm []int32 // scratch: feature sampling
	rank []int32 // scratch: memory enforcement
}

// newCore returns a tree of a single empty leaf. m < dim observes a
// random subset of m features per leaf, drawn from rng.
func newCore(cfg Config, dim, m int, r rng, newDet func() detector) *core {
	t := &core{cfg: cfg, dim: dim, m: m, rng: r, newDet: newDet}
	if m < dim {
		t.perm = make([]int32, dim)
	}
	t.root = t.newLeaf(0, [2]float64{})
	return t
}

func (t *core) subspace() bool { return t.m < t.dim }

// feature returns the feature observed in slot of leaf li.
func (t *core) feature(li int32, slot int) int {
	if t.feats == nil {
		return slot
	}
	return int(t.feats[int(li)*t.m+slot])
}

// newNode returns a fresh node index (its detector, for HAT, reset).
func (t *core) newNode(nd node) int32 {
	var n int32
	if k := len(t.freeNodes); k > 0 {
		n = t.freeNodes[k-1]
		t.freeNodes = t.freeNodes[:k-1]
		t.nodes[n] = nd
	} else {
		n = int32(len(t.nodes))
		t.nodes = append(t.nodes, nd)
	}
	if t.newDet != nil {
		if int(n) < len(t.dets) {
			t.dets[n].Reset()
		} else {
			t.dets = append(t.dets, t.newDet())
		}
	}
	return n
}

// newLeaf returns a new active leaf node at depth with the given class
// weights.
func (t *core) newLeaf(depth int32, stats [2]float64) int32 {
	var li int32
	lf := leaf{stats: stats, lastSplit: stats[0] + stats[1], block: t.allocBlock()}
	if k := len(t.freeLeaves); k > 0 {
		li = t.freeLeaves[k-1]
		t.freeLeaves = t.freeLeaves[:k-1]
		t.leaves[li] = lf
	} else {
		li = int32(len(t.leaves))
		t.leaves = append(t.leaves, lf)
		if t.subspace() {
			t.feats = append(t.feats, make([]int32, t.m)...)
		}
	}
	if t.subspace() {
		t.rng.sample(t.feats[int(li)*t.m:int(li+1)*t.m], t.perm)
	}
	return t.newNode(node{feature: leafNode, left: -1, right: -1, leaf: li, alt: -1, depth: depth})
}

// allocBlock returns a zeroed observer block.
func (t *core) allocBlock() int32 {
	stride := 2 * t.m
	if k := len(t.freeBlocks); k > 0 {
		b := t.freeBlocks[k-1]
		t.freeBlocks = t.freeBlocks[:k-1]
		clear(t.obs[int(b)*stride : int(b+1)*stride])
		return b
	}
	b := int32(len(t.obs) / stride)
	t.obs = append(t.obs, make([]gauss, stride)...)
	return b
}

// deactivate drops the observers of leaf li.
func (t *core) deactivate(li int32) {
	if b := t.leaves[li].block; b >= 0 {
		t.freeBlocks = append(t.freeBlocks, b)
		t.leaves[li].block = -1
	}
}

// freeSubtree returns node n, its descendants and their alternates to the
// free lists.
func (t *core) freeSubtree(n int32) {
	nd := t.nodes[n]
	if nd.feature == leafNode {
		t.deactivate(nd.leaf)
		t.freeLeaves = append(t.freeLeaves, nd.leaf)
	} else if nd.feature >= 0 {
		t.freeSubtree(nd.left)
		t.freeSubtree(nd.right)
	}
	if nd.alt >= 0 {
		t.freeSubtree(nd.alt)
	}
	t.nodes[n] = node{feature: freeNode, left: -1, right: -1, leaf: -1, alt: -1}
	t.freeNodes = append(t.freeNodes, n)
}

// child returns the child of branch nd that x goes to.
func (t *core) child(nd *node, x []float32) int32 {
	v := x[nd.feature]
	if v != v {
		if nd.nanLeft != 0 {
			return nd.left
		}
		return nd.right
	}
	if float64(v) <= nd.threshold {
		return nd.left
	}
	return nd.right
}

// findLeaf returns the leaf node x reaches from node n.
func (t *core) findLeaf(n int32, x []float32) int32 {
	for {
		nd := &t.nodes[n]
		if nd.feature < 0 {
			return n
		}
		n = t.child(nd, x)
	}
}

// useNB reports whether leaf lf predicts with naive Bayes.
func (t *core) useNB(lf *leaf) bool {
	if lf.block < 0 {
		return false
	}
	switch t.cfg.Leaf {
	case NaiveBayes:
		return lf.stats[0]+lf.stats[1] >= float64(t.cfg.NBThreshold)
	case NaiveBayesAdaptive:
		return lf.nbCorrect >= lf.mcCorrect
	}
	return false
}

// leafProb returns P(y=1) at leaf li, and false if the leaf has no
// weight. The probability is kept within [1/(n+2), 1-1/(n+2)] for a leaf
// of weight n, the bounds of Laplace's rule of succession, so a pure
// leaf is never certain.
func (t *core) leafProb(li int32, x []float32) (float64, bool) {
	lf := &t.leaves[li]
	n := lf.stats[0] + lf.stats[1]
	if !(n > 0) {
		return 0.5, false
	}
	var p float64
	if t.useNB(lf) {
		p = t.nbProb(li, x)
	} else {
		p = lf.stats[1] / n
	}
	lo := 1 / (n + 2)
	return min(max(p, lo), 1-lo), true
}

// nbProb returns the Gaussian naive Bayes P(y=1) at active leaf li.
// Features that are NaN, or whose estimator has no variance yet in either
// class, are left out.
func (t *core) nbProb(li int32, x []float32) float64 {
	lf := &t.leaves[li]
	s0, s1 := lf.stats[0], lf.stats[1]
	if s0 <= 0 {
		return 1
	}
	if s1 <= 0 {
		return 0
	}
	z := math.Log(s1 / s0)
	stride := 2 * t.m
	g := t.obs[int(lf.block)*stride : int(lf.block+1)*stride]
	for slot := range t.m {
		v := float64(x[t.feature(li, slot)])
		if v != v {
			continue
		}
		g0, g1 := &g[2*slot], &g[2*slot+1]
		v0, v1 := g0.variance(), g1.variance()
		if v0 <= 0 || v1 <= 0 {
			continue
		}
		d0, d1 := v-g0.mean, v-g1.mean
		z += -0.5*math.Log(v1/v0) - d1*d1/(2*v1) + d0*d0/(2*v0)
	}
	if math.IsNaN(z) { // only after overflow on absurd values
		return s1 / (s0 + s1)
	}
	return sigmoid(z)
}

// leafLearn adds an example of class cls and weight w to leaf li.
func (t *core) leafLearn(li int32, x []float32, cls int, w float64) {
	lf := &t.leaves[li]
	if lf.block >= 0 {
		if t.cfg.Leaf == NaiveBayesAdaptive {
			// Score both predictors before learning (River's rule: an
			// empty leaf counts the class frequencies as right).
			n := lf.stats[0] + lf.stats[1]
			if n == 0 || (lf.stats[1] >= lf.stats[0]) == (cls == 1) {
				lf.mcCorrect += w
			}
			if n > 0 && (t.nbProb(li, x) >= 0.5) == (cls == 1) {
				lf.nbCorrect += w
			}
		}
		stride := 2 * t.m
		g := t.obs[int(lf.block)*stride : int(lf.block+1)*stride]
		for slot := range t.m {
			v := float64(x[t.feature(li, slot)])
			if v == v {
				g[2*slot+cls].add(v, w)
			}
		}
	}
	lf.stats[cls] += w
}

// learn adds an example to the leaf it reaches and tries to split that
// leaf once it has seen a grace period of weight.
func (t *core) learn(x []float32, cls int, w float64) {
	t.weight += w
	n := t.findLeaf(t.root, x)
	t.leafLearn(t.nodes[n].leaf, x, cls, w)
	t.maybeSplit(n)
}

// maybeSplit attempts to split leaf node n if it has seen a grace period
// of weight since its last attempt.
func (t *core) maybeSplit(n int32) {
	nd := &t.nodes[n]
	lf := &t.leaves[nd.leaf]
	seen := lf.stats[0] + lf.stats[1]
	if seen-lf.lastSplit < float64(t.cfg.GracePeriod) {
		return
	}
	lf.lastSplit = seen
	if lf.block < 0 || (t.cfg.MaxDepth > 0 && int(nd.depth) >= t.cfg.MaxDepth) {
		return
	}
	t.attemptSplit(n)
}

// candidate is a split of one leaf.
type candidate struct {
	merit     float64
	slot      int
	threshold float64
	post      [2][2]float64 // [branch][class] weights
}

// impurity returns the entropy in bits (info gain) or the Gini impurity
// of the class weights s.
func (t *core) impurity(s [2]float64) float64 {
	n := s[0] + s[1]
	if n <= 0 {
		return 0
	}
	if t.cfg.Criterion == Gini {
		p := s[0] / n
		return 2 * p * (1 - p)
	}
	// H = (n ln n - Σ c ln c) / (n ln 2), with 0 ln 0 = 0.
	h := n * math.Log(n)
	for _, c := range s {
		if c > 0 {
			h -= c * math.Log(c)
		}
	}
	return max(h/(n*math.Ln2), 0)
}

// merit returns the impurity reduction of the split post of a node of
// impurity pre, or -Inf if a branch gets MinBranchFraction of the weight
// or less.
func (t *core) merit(pre float64, post *[2][2]float64) float64 {
	wl := post[0][0] + post[0][1]
	wr := post[1][0] + post[1][1]
	w := wl + wr
	if !(w > 0) || wl/w <= t.cfg.MinBranchFraction || wr/w <= t.cfg.MinBranchFraction {
		return math.Inf(-1)
	}
	return pre - (wl/w)*t.impurity(post[0]) - (wr/w)*t.impurity(post[1])
}

// bestThreshold returns the best of the SplitPoints candidate thresholds
// of one observer slot, evenly spaced strictly between the smallest and
// largest value seen; the class weights on each side come from the
// Gaussians (River's and MOA's Gaussian observer).
func (t *core) bestThreshold(g []gauss, slot int, pre float64) (candidate, bool) {
	best := candidate{merit: math.Inf(-1), slot: slot}
	lo, hi := math.Inf(1), math.Inf(-1)
	var sd [2]float64
	for c := range 2 {
		if gc := &g[2*slot+c]; gc.w > 0 {
			lo, hi = min(lo, gc.min), max(hi, gc.max)
			sd[c] = math.Sqrt(gc.variance())
		}
	}
	if !(lo < hi) {
		return best, false
	}
	step := (hi - lo) / float64(t.cfg.SplitPoints+1)
	for i := 1; i <= t.cfg.SplitPoints; i++ {
		v := lo + step*float64(i)
		if !(lo < v && v < hi) {
			continue
		}
		var post [2][2]float64
		for c := range 2 {
			gc := &g[2*slot+c]
			switch {
			case gc.w == 0:
			case v < gc.min:
				post[1][c] += gc.w
			case v >= gc.max:
				post[0][c] += gc.w
			default:
				l := gc.cdf(v, sd[c]) * gc.w
				post[0][c] += l
				post[1][c] += gc.w - l
			}
		}
		if m := t.merit(pre, &post); m > best.merit {
			best.merit, best.threshold, best.post = m, v, post
		}
	}
	return best, best.merit > math.Inf(-1)
}

// attemptSplit splits leaf node n when the Hoeffding bound says its best
// candidate split beats the runner-up (or the two are tied). The "null
// split" (no split, merit 0) takes part: a split must beat not splitting.
// It reports whether n split.
func (t *core) attemptSplit(n int32) bool {
	lf := &t.leaves[t.nodes[n].leaf]
	s := lf.stats
	total := s[0] + s[1]
	if s[0] <= 0 || s[1] <= 0 || max(s[0], s[1])/total >= t.cfg.MaxShareToSplit {
		return false
	}
	pre := t.impurity(s)
	stride := 2 * t.m
	g := t.obs[int(lf.block)*stride : int(lf.block+1)*stride]
	best := candidate{slot: -1} // the null split, merit 0
	second := math.Inf(-1)
	for slot := range t.m {
		c, ok := t.bestThreshold(g, slot, pre)
		if !ok {
			continue
		}
		if c.merit > best.merit {
			second = best.merit
			best = c
		} else if c.merit > second {
			second = c.merit
		}
	}
	if best.slot < 0 {
		return false
	}
	// Both criteria range over [0, 1] for two classes.
	eps := math.Sqrt(math.Log(1/t.cfg.Delta) / (2 * total))
	if !(best.merit-second > eps || eps < t.cfg.TieThreshold) {
		return false
	}
	t.split(n, t.feature(t.nodes[n].leaf, best.slot), best.threshold, best.post)
	return true
}

// split turns leaf node n into a branch on x[f] <= threshold whose two new
// leaves start from the class weights post.
func (t *core) split(n int32, f int, threshold float64, post [2][2]float64) {
	old := t.nodes[n]
	stats := t.leaves[old.leaf].stats
	t.deactivate(old.leaf)
	t.freeLeaves = append(t.freeLeaves, old.leaf)
	l := t.newLeaf(old.depth+1, post[0])
	r := t.newLeaf(old.depth+1, post[1])
	nanLeft := int32(0)
	if post[0][0]+post[0][1] >= post[1][0]+post[1][1] {
		nanLeft = 1
	}
	t.nodes[n] = node{
		threshold: threshold, stats: stats, feature: int32(f),
		left: l, right: r, leaf: -1, alt: old.alt, depth: old.depth, nanLeft: nanLeft,
	}
	if t.dets != nil {
		t.dets[n].Reset() // a new branch starts a new error history (River)
	}
	t.splits++
	t.enforceMemory()
}

// Sizes used by the memory estimate.
const (
	nodeBytes  = int64(unsafe.Sizeof(node{}))
	leafBytes  = int64(unsafe.Sizeof(leaf{}))
	gaussBytes = int64(unsafe.Sizeof(gauss{}))
	// detBytes is a rough size of one ADWIN detector (HAT).
	detBytes = 1024
)

// liveCounts returns the numbers of nodes, leaves and active leaves in
// use.
func (t *core) liveCounts() (nodes, leaves, active int) {
	stride := 2 * t.m
	return len(t.nodes) - len(t.freeNodes), len(t.leaves) - len(t.freeLeaves), len(t.obs)/stride - len(t.freeBlocks)
}

// bytes estimates the memory the tree's live state takes.
func (t *core) bytes() int64 {
	nodes, leaves, active := t.liveCounts()
	b := int64(nodes)*nodeBytes + int64(leaves)*leafBytes + int64(active)*2*int64(t.m)*gaussBytes
	if t.subspace() {
		b += int64(leaves) * 4 * int64(t.m)
	}
	if t.dets != nil {
		b += int64(nodes) * detBytes
	}
	return b
}

// enforceMemory keeps the estimated size within MaxBytes: when it is
// over, only the most promising leaves (most weight outside their
// majority class; MOA's rule) stay active, and inactive leaves that now
// rank among them are reactivated with fresh observers.
func (t *core) enforceMemory() {
	if t.cfg.MaxBytes < 0 || t.bytes() <= t.cfg.MaxBytes {
		return
	}
	_, _, active := t.liveCounts()
	block := 2 * int64(t.m) * gaussBytes
	keep := int((t.cfg.MaxBytes - (t.bytes() - int64(active)*block)) / block)
	t.rank = t.rank[:0]
	for i := range t.nodes {
		if t.nodes[i].feature == leafNode {
			t.rank = append(t.rank, int32(i))
		}
	}
	promise := func(n int32) float64 {
		s := t.leaves[t.nodes[n].leaf].stats
		return s[0] + s[1] - max(s[0], s[1])
	}
	slices.SortFunc(t.rank, func(a, b int32) int {
		if c := cmp.Compare(promise(b), promise(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for i, n := range t.rank {
		li := t.nodes[n].leaf
		if i >= keep {
			t.deactivate(li)
		}
	}
	for i, n := range t.rank {
		li := t.nodes[n].leaf
		if i < keep && t.leaves[li].block < 0 {
			t.leaves[li].block = t.allocBlock()
		}
	}
}

// stats summarises the live tree under root.
func (t *core) stats(n int32, depth int, s *Stats) {
	nd := &t.nodes[n]
	s.Depth = max(s.Depth, depth)
	if nd.feature == leafNode {
		s.Leaves++
		if t.leaves[nd.leaf].block >= 0 {
			s.ActiveLeaves++
		}
		return
	}
	s.Branches++
	t.stats(nd.left, depth+1, s)
	t.stats(nd.right, depth+1, s)
}

// clone returns a deep copy.
func (t *core) clone() *core {
	c := *t
	c.nodes = slices.Clone(t.nodes)
	c.freeNodes = slices.Clone(t.freeNodes)
	c.leaves = slices.Clone(t.leaves)
	c.freeLeaves = slices.Clone(t.freeLeaves)
	c.obs = slices.Clone(t.obs)
	c.freeBlocks = slices.Clone(t.freeBlocks)
	c.feats = slices.Clone(t.feats)
	c.perm = slices.Clone(t.perm)
	c.rank = nil
	if t.dets != nil {
		c.dets = make([]detector, len(t.dets))
		for i, d := range t.dets {
			c.dets[i] = cloneDetector(d)
		}
	}
	return &c
}

// Stats describes the shape of a tree.
type Stats struct {
	Branches     int // internal nodes
	Leaves       int
	ActiveLeaves int // leaves with feature estimators (able to split)
	Depth        int // the depth of the deepest leaf; a lone root leaf has depth 0
}

// String formats s as "3 branches, 4 leaves (4 active), depth 2".
func (s Stats) String() string {
	return fmt.Sprintf("%d branches, %d leaves (%d active), depth %d", s.Branches, s.Leaves, s.ActiveLeaves, s.Depth)
}

// sigmoid returns 1/(1+e^-z) without overflow.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// class returns the class of label y: 1 if y >= 0.5.
func class(y float64) int {
	if y >= 0.5 {
		return 1
	}
	return 0
}
