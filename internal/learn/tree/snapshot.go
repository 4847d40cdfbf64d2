package tree

import (
	"errors"
	"fmt"
	"math"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// formatVersion is the version of the tensor layout below. Part of the
// snapshot format.
const formatVersion = 1

// Tensor names of one tree, after its prefix. Part of the snapshot format.
const (
	nameMeta        = "meta"         // I64 [metaLen], see meta* below
	nameWeight      = "weight"       // F64 [1]: total weight learned
	nameNodesInt    = "nodes.int"    // I64 [nodes, 7]: feature, left, right, leaf, alt, depth, nanLeft
	nameNodesF64    = "nodes.f64"    // F64 [nodes, 3]: threshold, class-0 weight, class-1 weight
	nameLeavesF64   = "leaves.f64"   // F64 [leaves, 5]: class-0, class-1 weight, lastSplit, mcCorrect, nbCorrect
	nameLeavesBlock = "leaves.block" // I64 [leaves]: observer block or -1
	nameLeavesFeats = "leaves.feats" // I64 [leaves, m]: observed features (random subspace only)
	nameObs         = "obs"          // F64 [blocks*2m, 5]: weight, mean, M2, min, max
	nameFreeNodes   = "free.nodes"   // I64 [k]
	nameFreeLeaves  = "free.leaves"  // I64 [k]
	nameFreeBlocks  = "free.blocks"  // I64 [k]
	nameDetLen      = "dets.len"     // I64 [nodes]: byte length of each node's ADWIN state (HAT only)
	nameDetData     = "dets.data"    // I64 [words]: the ADWIN states, 8 bytes a word (HAT only)
)

// Indices into the meta tensor.
const (
	metaVersion = iota
	metaDim
	metaM
	metaRoot
	metaNodes
	metaLeaves
	metaBlocks
	metaFreeNodes
	metaFreeLeaves
	metaFreeBlocks
	metaDetWords
	metaSplits
	metaRNG
	metaLen
)

const (
	nodeInts     = 7
	nodeFloats   = 3
	leafFloats   = 5
	maxTreeItems = 1 << 30 // sanity bound on array lengths in a snapshot
	// maxMagnitude bounds every float in a snapshot. Real values are far
	// smaller (features are float32, weights count examples); the bound
	// keeps arithmetic on a damaged snapshot from overflowing.
	maxMagnitude = 1e150
)

// sane reports whether v is a number of magnitude at most maxMagnitude.
func sane(v float64) bool { return v >= -maxMagnitude && v <= maxMagnitude }

// save adds the complete state of t under prefix.
func (t *core) save(s *tensor.Set, prefix string) {
	stride := 2 * t.m
	nBlocks := len(t.obs) / stride
	var detLen, detData []int64
	if t.dets != nil {
		var buf []byte
		detLen = make([]int64, len(t.dets))
		for i, d := range t.dets {
			start := len(buf)
			buf = appendDetector(buf, d)
			detLen[i] = int64(len(buf) - start)
			// Pad each state to whole words.
			for len(buf)%8 != 0 {
				buf = append(buf, 0)
			}
		}
		detData = packBytes(nil, buf)
	}
	meta := make([]int64, metaLen)
	meta[metaVersion] = formatVersion
	meta[metaDim] = int64(t.dim)
	meta[metaM] = int64(t.m)
	meta[metaRoot] = int64(t.root)
	meta[metaNodes] = int64(len(t.nodes))
	meta[metaLeaves] = int64(len(t.leaves))
	meta[metaBlocks] = int64(nBlocks)
	meta[metaFreeNodes] = int64(len(t.freeNodes))
	meta[metaFreeLeaves] = int64(len(t.freeLeaves))
	meta[metaFreeBlocks] = int64(len(t.freeBlocks))
	meta[metaDetWords] = int64(len(detData))
	meta[metaSplits] = t.splits
	meta[metaRNG] = int64(t.rng.s)
	s.PutI64(prefix+nameMeta, []int{metaLen}, meta)
	s.PutF64(prefix+nameWeight, []int{1}, []float64{t.weight})

	ni := make([]int64, 0, len(t.nodes)*nodeInts)
	nf := make([]float64, 0, len(t.nodes)*nodeFloats)
	for _, nd := range t.nodes {
		ni = append(ni, int64(nd.feature), int64(nd.left), int64(nd.right), int64(nd.leaf), int64(nd.alt), int64(nd.depth), int64(nd.nanLeft))
		nf = append(nf, nd.threshold, nd.stats[0], nd.stats[1])
	}
	s.PutI64(prefix+nameNodesInt, []int{len(t.nodes), nodeInts}, ni)
	s.PutF64(prefix+nameNodesF64, []int{len(t.nodes), nodeFloats}, nf)

	lf := make([]float64, 0, len(t.leaves)*leafFloats)
	lb := make([]int64, 0, len(t.leaves))
	for _, l := range t.leaves {
		lf = append(lf, l.stats[0], l.stats[1], l.lastSplit, l.mcCorrect, l.nbCorrect)
		lb = append(lb, int64(l.block))
	}
	s.PutF64(prefix+nameLeavesF64, []int{len(t.leaves), leafFloats}, lf)
	s.PutI64(prefix+nameLeavesBlock, []int{len(t.leaves)}, lb)
	if t.subspace() {
		s.PutI64(prefix+nameLeavesFeats, []int{len(t.leaves), t.m}, widen(t.feats))
	}
	obs := make([]float64, 0, len(t.obs)*gaussFields)
	for _, g := range t.obs {
		obs = append(obs, g.w, g.mean, g.m2, g.min, g.max)
	}
	s.PutF64(prefix+nameObs, []int{len(t.obs), gaussFields}, obs)
	s.PutI64(prefix+nameFreeNodes, []int{len(t.freeNodes)}, widen(t.freeNodes))
	s.PutI64(prefix+nameFreeLeaves, []int{len(t.freeLeaves)}, widen(t.freeLeaves))
	s.PutI64(prefix+nameFreeBlocks, []int{len(t.freeBlocks)}, widen(t.freeBlocks))
	if t.dets != nil {
		s.PutI64(prefix+nameDetLen, []int{len(detLen)}, detLen)
		s.PutI64(prefix+nameDetData, []int{len(detData)}, detData)
	}
}

func widen(v []int32) []int64 {
	w := make([]int64, len(v))
	for i, x := range v {
		w[i] = int64(x)
	}
	return w
}

// loadCore decodes a tree saved under prefix into a copy of proto's
// configuration, validating every index so that a damaged snapshot is an
// error rather than a later panic. detDelta is the ADWIN confidence of
// the nodes' detectors (HAT; proto.newDet != nil).
func loadCore(s *tensor.Set, prefix string, proto *core, detDelta float64) (*core, error) {
	meta, err := s.I64(prefix+nameMeta, metaLen)
	if err != nil {
		return nil, err
	}
	if meta[metaVersion] != formatVersion {
		return nil, fmt.Errorf("%s%s: format version %d; this build reads %d", prefix, nameMeta, meta[metaVersion], formatVersion)
	}
	if meta[metaDim] != int64(proto.dim) || meta[metaM] != int64(proto.m) {
		return nil, fmt.Errorf("%s%s: tree of %d features observing %d per leaf; want %d and %d", prefix, nameMeta, meta[metaDim], meta[metaM], proto.dim, proto.m)
	}
	for i := metaNodes; i <= metaDetWords; i++ {
		if meta[i] < 0 || meta[i] > maxTreeItems {
			return nil, fmt.Errorf("%s%s[%d] = %d out of range", prefix, nameMeta, i, meta[i])
		}
	}
	nNodes, nLeaves, nBlocks := int(meta[metaNodes]), int(meta[metaLeaves]), int(meta[metaBlocks])
	stride := 2 * proto.m
	t := &core{cfg: proto.cfg, dim: proto.dim, m: proto.m, newDet: proto.newDet, root: int32(meta[metaRoot]),
		splits: meta[metaSplits], rng: rng{s: uint64(meta[metaRNG])}}
	if proto.perm != nil {
		t.perm = make([]int32, proto.dim)
	}
	if t.splits < 0 {
		return nil, fmt.Errorf("%s%s: negative split count %d", prefix, nameMeta, t.splits)
	}
	w, err := s.F64(prefix+nameWeight, 1)
	if err != nil {
		return nil, err
	}
	if t.weight = w[0]; !(t.weight >= 0) || !sane(t.weight) {
		return nil, fmt.Errorf("%s%s = %v is not a non-negative number", prefix, nameWeight, t.weight)
	}

	ni, err := s.I64(prefix+nameNodesInt, nNodes, nodeInts)
	if err != nil {
		return nil, err
	}
	nf, err := s.F64(prefix+nameNodesF64, nNodes, nodeFloats)
	if err != nil {
		return nil, err
	}
	t.nodes = make([]node, nNodes)
	for i := range t.nodes {
		r, f := ni[i*nodeInts:], nf[i*nodeFloats:]
		for _, v := range r[:nodeInts] {
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("%s%s: node %d: value %d out of range", prefix, nameNodesInt, i, v)
			}
		}
		t.nodes[i] = node{feature: int32(r[0]), left: int32(r[1]), right: int32(r[2]), leaf: int32(r[3]), alt: int32(r[4]),
			depth: int32(r[5]), nanLeft: int32(r[6]), threshold: f[0], stats: [2]float64{f[1], f[2]}}
	}

	lf, err := s.F64(prefix+nameLeavesF64, nLeaves, leafFloats)
	if err != nil {
		return nil, err
	}
	lb, err := s.I64(prefix+nameLeavesBlock, nLeaves)
	if err != nil {
		return nil, err
	}
	t.leaves = make([]leaf, nLeaves)
	for i := range t.leaves {
		f := lf[i*leafFloats:]
		for _, v := range f[:leafFloats] {
			if !(v >= 0) || !sane(v) {
				return nil, fmt.Errorf("%s%s: leaf %d: value %v is not a non-negative number", prefix, nameLeavesF64, i, v)
			}
		}
		if lb[i] < -1 || lb[i] >= int64(nBlocks) {
			return nil, fmt.Errorf("%s%s: leaf %d: block %d out of range", prefix, nameLeavesBlock, i, lb[i])
		}
		t.leaves[i] = leaf{stats: [2]float64{f[0], f[1]}, lastSplit: f[2], mcCorrect: f[3], nbCorrect: f[4], block: int32(lb[i])}
	}
	if t.subspace() {
		lfe, err := s.I64(prefix+nameLeavesFeats, nLeaves, t.m)
		if err != nil {
			return nil, err
		}
		t.feats = make([]int32, len(lfe))
		for i, v := range lfe {
			if v < 0 || v >= int64(t.dim) {
				return nil, fmt.Errorf("%s%s: feature %d out of range", prefix, nameLeavesFeats, v)
			}
			t.feats[i] = int32(v)
		}
	}
	obs, err := s.F64(prefix+nameObs, nBlocks*stride, gaussFields)
	if err != nil {
		return nil, err
	}
	t.obs = make([]gauss, nBlocks*stride)
	for i := range t.obs {
		o := obs[i*gaussFields:]
		for _, v := range o[:gaussFields] {
			if !sane(v) {
				return nil, fmt.Errorf("%s%s: estimator %d holds %v", prefix, nameObs, i, v)
			}
		}
		if o[0] < 0 || o[2] < 0 {
			return nil, fmt.Errorf("%s%s: estimator %d has a negative weight or sum of squares", prefix, nameObs, i)
		}
		t.obs[i] = gauss{w: o[0], mean: o[1], m2: o[2], min: o[3], max: o[4]}
	}
	if t.freeNodes, err = narrowList(s, prefix+nameFreeNodes, int(meta[metaFreeNodes]), nNodes); err != nil {
		return nil, err
	}
	if t.freeLeaves, err = narrowList(s, prefix+nameFreeLeaves, int(meta[metaFreeLeaves]), nLeaves); err != nil {
		return nil, err
	}
	if t.freeBlocks, err = narrowList(s, prefix+nameFreeBlocks, int(meta[metaFreeBlocks]), nBlocks); err != nil {
		return nil, err
	}
	if proto.newDet != nil {
		if err := t.loadDets(s, prefix, int(meta[metaDetWords]), detDelta); err != nil {
			return nil, err
		}
	} else if _, _, ok := s.Lookup(prefix + nameDetLen); ok {
		return nil, fmt.Errorf("%s%s: drift detectors in a tree that has none", prefix, nameDetLen)
	}
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", prefix, err)
	}
	return t, nil
}

func narrowList(s *tensor.Set, name string, n, limit int) ([]int32, error) {
	v, err := s.I64(name, n)
	if err != nil {
		return nil, err
	}
	out := make([]int32, n)
	for i, x := range v {
		if x < 0 || x >= int64(limit) {
			return nil, fmt.Errorf("%s: index %d out of range [0, %d)", name, x, limit)
		}
		out[i] = int32(x)
	}
	return out, nil
}

func (t *core) loadDets(s *tensor.Set, prefix string, words int, delta float64) error {
	lens, err := s.I64(prefix+nameDetLen, len(t.nodes))
	if err != nil {
		return err
	}
	data, err := s.I64(prefix+nameDetData, words)
	if err != nil {
		return err
	}
	buf := unpackBytes(data, len(data)*8)
	t.dets = make([]detector, len(t.nodes))
	off := 0
	for i, n := range lens {
		if n <= 0 || n > int64(len(buf)-off) {
			return fmt.Errorf("%s%s: node %d: state length %d out of range", prefix, nameDetLen, i, n)
		}
		d, err := decodeDetector(buf[off:off+int(n)], delta)
		if err != nil {
			return fmt.Errorf("%s%s: node %d: %w", prefix, nameDetData, i, err)
		}
		t.dets[i] = d
		off += (int(n) + 7) &^ 7
	}
	if off != len(buf) {
		return fmt.Errorf("%s%s: %d bytes left over", prefix, nameDetData, len(buf)-off)
	}
	return nil
}

// check verifies the structural invariants of t: every node is either
// free or reachable exactly once from the root (through children and
// alternates), every leaf slot and observer block is either free or used
// by exactly one live leaf, and every index and feature is in range.
func (t *core) check() error {
	nNodes, nLeaves := len(t.nodes), len(t.leaves)
	stride := 2 * t.m
	nBlocks := len(t.obs) / stride
	nodeUse := make([]int8, nNodes)
	leafUse := make([]int8, nLeaves)
	blockUse := make([]int8, nBlocks)
	for _, n := range t.freeNodes {
		if nodeUse[n] != 0 || t.nodes[n].feature != freeNode {
			return fmt.Errorf("free node %d is listed twice or is in use", n)
		}
		nodeUse[n] = 1
	}
	for _, l := range t.freeLeaves {
		if leafUse[l] != 0 {
			return fmt.Errorf("free leaf %d is listed twice", l)
		}
		leafUse[l] = 1
	}
	for _, b := range t.freeBlocks {
		if blockUse[b] != 0 {
			return fmt.Errorf("free block %d is listed twice", b)
		}
		blockUse[b] = 1
	}
	if t.root < 0 || int(t.root) >= nNodes {
		return fmt.Errorf("root %d out of range", t.root)
	}
	// Walk without recursion: a damaged snapshot may be arbitrarily deep.
	stack := []int32{t.root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n < 0 || int(n) >= nNodes {
			return fmt.Errorf("node index %d out of range", n)
		}
		if nodeUse[n] != 0 {
			return fmt.Errorf("node %d is free or reached twice", n)
		}
		nodeUse[n] = 1
		nd := &t.nodes[n]
		if nd.depth < 0 || nd.depth > maxTreeItems {
			return fmt.Errorf("node %d: depth %d out of range", n, nd.depth)
		}
		if nd.alt >= 0 {
			stack = append(stack, nd.alt)
		} else if nd.alt != -1 {
			return fmt.Errorf("node %d: alternate %d out of range", n, nd.alt)
		}
		for _, v := range []float64{nd.threshold, nd.stats[0], nd.stats[1]} {
			if !sane(v) {
				return fmt.Errorf("node %d holds %v", n, v)
			}
		}
		if nd.stats[0] < 0 || nd.stats[1] < 0 {
			return fmt.Errorf("node %d has a negative class weight", n)
		}
		switch {
		case nd.feature == leafNode:
			if nd.leaf < 0 || int(nd.leaf) >= nLeaves || leafUse[nd.leaf] != 0 {
				return fmt.Errorf("node %d: leaf %d out of range, free or shared", n, nd.leaf)
			}
			leafUse[nd.leaf] = 1
			if b := t.leaves[nd.leaf].block; b >= 0 {
				if blockUse[b] != 0 {
					return fmt.Errorf("leaf %d: observer block %d is free or shared", nd.leaf, b)
				}
				blockUse[b] = 1
			}
		case nd.feature >= 0 && int(nd.feature) < t.dim:
			if nd.nanLeft != 0 && nd.nanLeft != 1 {
				return fmt.Errorf("node %d: NaN direction %d", n, nd.nanLeft)
			}
			stack = append(stack, nd.left, nd.right)
		default:
			return fmt.Errorf("node %d: feature %d out of range", n, nd.feature)
		}
	}
	for i, u := range nodeUse {
		if u == 0 {
			return fmt.Errorf("node %d is neither free nor in the tree", i)
		}
	}
	for i, u := range leafUse {
		if u == 0 {
			return fmt.Errorf("leaf %d is neither free nor in the tree", i)
		}
	}
	for i, u := range blockUse {
		if u == 0 {
			return fmt.Errorf("observer block %d is neither free nor in use", i)
		}
	}
	if (t.dets != nil) != (t.newDet != nil) || (t.dets != nil && len(t.dets) != nNodes) {
		return errors.New("drift detectors do not match the nodes")
	}
	if t.subspace() && len(t.feats) != nLeaves*t.m {
		return errors.New("leaf feature lists do not match the leaves")
	}
	return nil
}
