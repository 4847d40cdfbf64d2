package metric

import "math"

// rankTree is an order-statistics multiset of (key, class) pairs: a treap
// whose nodes hold one distinct key each, with per-class counts at the node
// and summed over its subtree. It answers "how many of each class have a
// key below k, and how many equal k" in O(log n) expected time, which is
// what incremental AUC needs.
//
// Nodes live in a slice arena addressed by int32 index (nilNode for none);
// removed nodes go onto a free list threaded through left. Insert allocates
// only when the arena must grow; removal never allocates. Priorities come
// from a fixed-seed xorshift generator, so the shape is deterministic for a
// given sequence of operations (answers never depend on the shape).
type rankTree struct {
	nodes []rankNode
	root  int32
	free  int32
	rng   uint32

	less, equal [2]int64 // results of the last addRank/removeRank descent
}

type rankNode struct {
	key         uint64
	cnt, sum    [2]int64 // by class: at this key / in this subtree
	left, right int32
	prio        uint32
}

const nilNode int32 = -1

func newRankTree(capacity int) rankTree {
	return rankTree{nodes: make([]rankNode, 0, capacity), root: nilNode, free: nilNode, rng: 0x9e3779b9}
}

// init makes the zero value usable. (The zero value is an empty tree;
// readers check rng == 0 before following root.)
func (t *rankTree) init() {
	if t.rng == 0 {
		*t = newRankTree(0)
	}
}

// len returns the number of distinct keys.
func (t *rankTree) len() int {
	if t.rng == 0 {
		return 0
	}
	n := len(t.nodes)
	for f := t.free; f != nilNode; f = t.nodes[f].left {
		n--
	}
	return n
}

// grow makes room for n more distinct keys without reallocating.
func (t *rankTree) grow(n int) {
	t.init()
	if n > cap(t.nodes)-len(t.nodes) {
		nodes := make([]rankNode, len(t.nodes), len(t.nodes)+n)
		copy(nodes, t.nodes)
		t.nodes = nodes
	}
}

func (t *rankTree) nextPrio() uint32 {
	x := t.rng
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	t.rng = x
	return x
}

func (t *rankTree) alloc(key uint64) int32 {
	var i int32
	if t.free != nilNode {
		i = t.free
		t.free = t.nodes[i].left
	} else {
		if len(t.nodes) == math.MaxInt32 {
			panic("metric: rank tree holds 2³¹−1 distinct scores")
		}
		t.nodes = append(t.nodes, rankNode{})
		i = int32(len(t.nodes) - 1)
	}
	t.nodes[i] = rankNode{key: key, left: nilNode, right: nilNode, prio: t.nextPrio()}
	return i
}

func (t *rankTree) release(i int32) {
	t.nodes[i] = rankNode{left: t.free}
	t.free = i
}

// fix recomputes the subtree sums of node i from its children.
func (t *rankTree) fix(i int32) {
	n := &t.nodes[i]
	n.sum = n.cnt
	if l := n.left; l != nilNode {
		n.sum[0] += t.nodes[l].sum[0]
		n.sum[1] += t.nodes[l].sum[1]
	}
	if r := n.right; r != nilNode {
		n.sum[0] += t.nodes[r].sum[0]
		n.sum[1] += t.nodes[r].sum[1]
	}
}

// addRank inserts one (key, c) element and returns, per class, how many
// elements had a key below key and how many had exactly key before the
// insertion: one descent does both.
func (t *rankTree) addRank(key uint64, c int) (less, equal [2]int64) {
	var d [2]int64
	d[c] = 1
	t.addCounts(key, d)
	return t.less, t.equal
}

// addCounts inserts d[0] elements of class 0 and d[1] of class 1 with key,
// leaving in t.less and t.equal the counts below and at key beforehand.
func (t *rankTree) addCounts(key uint64, d [2]int64) {
	t.init()
	t.less, t.equal = [2]int64{}, [2]int64{}
	t.root = t.insert(t.root, key, d)
}

// leftSum adds the subtree sums of node i's left child to acc.
func (t *rankTree) leftSum(i int32, acc *[2]int64) {
	if l := t.nodes[i].left; l != nilNode {
		acc[0] += t.nodes[l].sum[0]
		acc[1] += t.nodes[l].sum[1]
	}
}

func (t *rankTree) insert(i int32, key uint64, d [2]int64) int32 {
	if i == nilNode {
		j := t.alloc(key)
		t.nodes[j].cnt = d
		t.nodes[j].sum = d
		return j
	}
	n := &t.nodes[i]
	n.sum[0] += d[0]
	n.sum[1] += d[1]
	switch k := n.key; {
	case key == k:
		t.leftSum(i, &t.less)
		t.equal = n.cnt
		n.cnt[0] += d[0]
		n.cnt[1] += d[1]
	case key < k:
		l := t.insert(n.left, key, d) // may grow t.nodes: n is stale below
		t.nodes[i].left = l
		if t.nodes[l].prio > t.nodes[i].prio {
			i = t.rotateRight(i)
		}
	default:
		t.less[0] += n.cnt[0]
		t.less[1] += n.cnt[1]
		t.leftSum(i, &t.less)
		r := t.insert(n.right, key, d)
		t.nodes[i].right = r
		if t.nodes[r].prio > t.nodes[i].prio {
			i = t.rotateLeft(i)
		}
	}
	return i
}

// removeRank deletes one (key, c) element, which must be present, and
// returns, per class, how many elements have a key below key and how many
// have exactly key after the removal.
func (t *rankTree) removeRank(key uint64, c int) (less, equal [2]int64) {
	t.less, t.equal = [2]int64{}, [2]int64{}
	t.root = t.delete(t.root, key, c)
	return t.less, t.equal
}

func (t *rankTree) delete(i int32, key uint64, c int) int32 {
	if i == nilNode {
		panic("metric: rank tree: removing an absent key")
	}
	n := &t.nodes[i]
	n.sum[c]--
	switch k := n.key; {
	case key < k:
		n.left = t.delete(n.left, key, c)
	case key > k:
		t.less[0] += n.cnt[0]
		t.less[1] += n.cnt[1]
		t.leftSum(i, &t.less)
		n.right = t.delete(n.right, key, c)
	default:
		t.leftSum(i, &t.less)
		n.cnt[c]--
		if n.cnt[c] < 0 {
			panic("metric: rank tree: removing an absent class")
		}
		t.equal = n.cnt
		if n.cnt[0] == 0 && n.cnt[1] == 0 {
			j := t.merge(n.left, n.right)
			t.release(i)
			return j
		}
	}
	return i
}

// merge joins two treaps where every key of a is below every key of b.
func (t *rankTree) merge(a, b int32) int32 {
	switch {
	case a == nilNode:
		return b
	case b == nilNode:
		return a
	case t.nodes[a].prio > t.nodes[b].prio:
		t.nodes[a].right = t.merge(t.nodes[a].right, b)
		t.fix(a)
		return a
	default:
		t.nodes[b].left = t.merge(a, t.nodes[b].left)
		t.fix(b)
		return b
	}
}

func (t *rankTree) rotateRight(i int32) int32 {
	l := t.nodes[i].left
	t.nodes[i].left = t.nodes[l].right
	t.nodes[l].right = i
	t.fix(i)
	t.fix(l)
	return l
}

func (t *rankTree) rotateLeft(i int32) int32 {
	r := t.nodes[i].right
	t.nodes[i].right = t.nodes[r].left
	t.nodes[r].left = i
	t.fix(i)
	t.fix(r)
	return r
}

// walk calls fn for every distinct key in ascending order with its counts.
func (t *rankTree) walk(fn func(key uint64, cnt [2]int64)) {
	if t.rng == 0 {
		return
	}
	var rec func(i int32)
	rec = func(i int32) {
		if i == nilNode {
			return
		}
		rec(t.nodes[i].left)
		fn(t.nodes[i].key, t.nodes[i].cnt)
		rec(t.nodes[i].right)
	}
	rec(t.root)
}

// sortKey maps a score to a uint64 whose unsigned order is the numeric
// order of the scores: −0 and +0 map to the same key (they tie), and every
// NaN maps to 0, below −Inf. Part of the checkpoint format.
func sortKey(p float64) uint64 {
	if p != p {
		return 0
	}
	if p == 0 {
		p = 0 // −0 → +0
	}
	b := math.Float64bits(p)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}
