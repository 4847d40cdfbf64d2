package metric

import (
	"fmt"
	"math"
	"math/bits"
)

// AUC is the exact area under the ROC curve over the whole stream: the
// probability that a random positive is scored above a random negative,
// ties counting one half (the Mann–Whitney U statistic over P·N pairs).
//
// It is maintained incrementally, so Value is O(1): each Update asks an
// order-statistics tree (a treap keyed by score) how many examples of the
// other class scored below and equal to p, in O(log d) expected time for d
// distinct scores, and adds the pairs the new example wins. Memory is one
// 56-byte node per distinct score, so on an unbounded stream of continuous
// scores it grows without bound; use WindowAUC there. Pair counts are
// exact integers (2U in a uint64, exact up to about 6·10⁹ examples).
//
// The zero value is ready to use. Update allocates only when a new distinct
// score needs the node arena to grow (geometric growth, amortized O(1));
// Grow reserves room in advance.
type AUC struct {
	tree   rankTree
	n      [2]uint64 // examples by class
	twiceU uint64    // 2 × Σ over (pos, neg) pairs of [pos > neg] + ½[pos = neg]
}

// Grow reserves room for n more distinct scores, so that the next n
// Updates do not allocate.
func (m *AUC) Grow(n int) { m.tree.grow(n) }

// Update adds one prediction p of label y.
func (m *AUC) Update(p, y float64) {
	k, c := sortKey(p), class(y)
	less, equal := m.tree.addRank(k, c)
	m.twiceU += wins(c, less, equal, m.n)
	m.n[c]++
}

// wins returns twice the number of pairs an example of class c at some
// key wins (ties count half) against the others, given how many of each
// class lie below and at its key and the class totals.
func wins(c int, less, equal [2]int64, n [2]uint64) uint64 {
	if c == 1 {
		return 2*uint64(less[0]) + uint64(equal[0])
	}
	greater := n[1] - uint64(less[1]) - uint64(equal[1])
	return 2*greater + uint64(equal[1])
}

// aucValue turns pair counts into the AUC, NaN while a class is missing.
func aucValue(twiceU uint64, neg, pos uint64) float64 {
	if neg == 0 || pos == 0 {
		return math.NaN()
	}
	return float64(twiceU) / (2 * float64(pos) * float64(neg))
}

// Value returns the AUC, or NaN until both classes have been seen.
func (m *AUC) Value() float64 { return aucValue(m.twiceU, m.n[0], m.n[1]) }

// N returns the number of examples seen.
func (m *AUC) N() uint64 { return m.n[0] + m.n[1] }

// Reset forgets every example and keeps the node arena for reuse.
func (m *AUC) Reset() {
	nodes := m.tree.nodes[:0]
	*m = AUC{}
	m.tree = newRankTree(0)
	m.tree.nodes = nodes
}

func (m *AUC) appendPayload(dst []byte) []byte {
	dst = appendU64(dst, m.n[1])
	dst = appendU64(dst, m.n[0])
	dst = appendU64(dst, m.twiceU)
	dst = appendU64(dst, uint64(m.tree.len()))
	m.tree.walk(func(key uint64, cnt [2]int64) {
		dst = appendU64(dst, key)
		dst = appendU64(dst, uint64(cnt[0]))
		dst = appendU64(dst, uint64(cnt[1]))
	})
	return dst
}

func (m *AUC) decodePayload(d *decoder) {
	pos, neg, twiceU := d.u64(), d.u64(), d.u64()
	keys := d.count("distinct score count", 24)
	if d.err != nil {
		return
	}
	if hi, lo := bits.Mul64(2*pos, neg); pos > math.MaxInt64 || neg > math.MaxInt64 || hi != 0 || twiceU > lo {
		d.fail("pair count 2U=%d impossible with %d positives and %d negatives", twiceU, pos, neg)
		return
	}
	m.tree = newRankTree(keys)
	var sum [2]uint64
	prev := uint64(0)
	for i := range keys {
		key, cn, cp := d.u64(), d.u64(), d.u64()
		if d.err != nil {
			return
		}
		if i > 0 && key <= prev {
			d.fail("score keys not strictly ascending at entry %d", i)
			return
		}
		if cn+cp == 0 || cn > neg-sum[0] || cp > pos-sum[1] {
			d.fail("entry %d counts (%d, %d) inconsistent with totals (%d, %d)", i, cn, cp, neg, pos)
			return
		}
		prev = key
		sum[0] += cn
		sum[1] += cp
		m.tree.addCounts(key, [2]int64{int64(cn), int64(cp)})
	}
	if sum != [2]uint64{neg, pos} {
		d.fail("entries hold (%d, %d) examples; totals say (%d, %d)", sum[0], sum[1], neg, pos)
		return
	}
	m.n = [2]uint64{neg, pos}
	m.twiceU = twiceU
}

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
// It writes 24 bytes per distinct score.
func (m *AUC) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindAUC, m.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *AUC) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary. On error m is
// unchanged.
func (m *AUC) UnmarshalBinary(data []byte) error {
	var v AUC
	if err := unmarshal(data, kindAUC, v.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}

// MaxWindow bounds the window size of the windowed metrics (and what a
// decoder accepts), so corrupt state cannot demand absurd allocations.
const MaxWindow = 1 << 20

func checkWindow(w int) {
	if w <= 0 || w > MaxWindow {
		panic(fmt.Sprintf("metric: window %d outside [1, %d]", w, MaxWindow))
	}
}

// ring tracks the write position of a ring buffer of w slots holding the
// last n ≤ w examples. While n < w the examples sit in slots [0, n) and
// head = n; once full, head is the oldest slot, the next to be replaced.
type ring struct {
	w, n, head int
}

// advance moves past the slot just written at head.
func (r *ring) advance() {
	if r.n < r.w {
		r.n++
	}
	r.head++
	if r.head == r.w {
		r.head = 0
	}
}

func (r *ring) full() bool { return r.n == r.w }

func (r *ring) appendPayload(dst []byte) []byte {
	return appendU64(appendU64(appendU64(dst, uint64(r.w)), uint64(r.n)), uint64(r.head))
}

func (r *ring) decodePayload(d *decoder) {
	w, n, head := d.u64(), d.u64(), d.u64()
	if d.err != nil {
		return
	}
	switch {
	case w == 0 || w > MaxWindow:
		d.fail("window %d outside [1, %d]", w, MaxWindow)
	case n > w || head >= w || (n < w && head != n):
		d.fail("ring state (window %d, %d examples, head %d) is inconsistent", w, n, head)
	default:
		*r = ring{w: int(w), n: int(n), head: int(head)}
	}
}

// WindowAUC is the exact AUC (ties count one half) over the last W
// examples. It keeps the window in a ring buffer and the window's scores
// in an order-statistics tree of at most W nodes, preallocated, so Update
// costs O(log W) expected time and never allocates: it removes the oldest
// example's pairs and adds the new example's, and Value is O(1).
// Memory is about 65 bytes per slot.
//
// The zero value uses DefaultWindow (allocating on the first Update).
type WindowAUC struct {
	r      ring
	keys   []uint64
	cls    []uint8
	tree   rankTree
	n      [2]uint64
	twiceU uint64
}

// NewWindowAUC returns a windowed AUC over the last w examples; it panics
// unless 1 ≤ w ≤ MaxWindow.
func NewWindowAUC(w int) *WindowAUC {
	checkWindow(w)
	m := new(WindowAUC)
	m.init(w)
	return m
}

func (m *WindowAUC) init(w int) {
	*m = WindowAUC{r: ring{w: w}, keys: make([]uint64, w), cls: make([]uint8, w), tree: newRankTree(w)}
}

// Update adds one prediction p of label y, evicting the oldest example
// once the window is full.
func (m *WindowAUC) Update(p, y float64) {
	if m.r.w == 0 {
		m.init(DefaultWindow)
	}
	if m.r.full() {
		k, c := m.keys[m.r.head], int(m.cls[m.r.head])
		less, equal := m.tree.removeRank(k, c)
		m.n[c]--
		m.twiceU -= wins(c, less, equal, m.n)
	}
	k, c := sortKey(p), class(y)
	less, equal := m.tree.addRank(k, c)
	m.twiceU += wins(c, less, equal, m.n)
	m.n[c]++
	m.keys[m.r.head], m.cls[m.r.head] = k, uint8(c)
	m.r.advance()
}

// Value returns the AUC over the window, or NaN unless it holds both
// classes.
func (m *WindowAUC) Value() float64 { return aucValue(m.twiceU, m.n[0], m.n[1]) }

// Len returns the number of examples in the window.
func (m *WindowAUC) Len() int { return m.r.n }

// Window returns the window size W.
func (m *WindowAUC) Window() int { return m.r.w }

// Reset empties the window and keeps its size and memory.
func (m *WindowAUC) Reset() {
	if m.r.w == 0 {
		return
	}
	m.r = ring{w: m.r.w}
	m.tree.root, m.tree.free, m.tree.nodes = nilNode, nilNode, m.tree.nodes[:0]
	m.n, m.twiceU = [2]uint64{}, 0
}

func (m *WindowAUC) appendPayload(dst []byte) []byte {
	if m.r.w == 0 {
		return (&ring{w: DefaultWindow}).appendPayload(dst)
	}
	dst = m.r.appendPayload(dst)
	for i := range m.r.n {
		dst = appendU64(dst, m.keys[i])
		dst = append(dst, m.cls[i])
	}
	return dst
}

// decodePayload rebuilds the tree from the ring; U depends only on the
// multiset of (score, class) pairs, so it comes out identical.
func (m *WindowAUC) decodePayload(d *decoder) {
	var r ring
	r.decodePayload(d)
	if d.err != nil {
		return
	}
	if r.n > len(d.b)/9 {
		d.fail("%d window entries exceed what the remaining %d bytes can hold", r.n, len(d.b))
		return
	}
	m.init(r.w)
	for i := range r.n {
		k, c := d.u64(), d.u8()
		if c > 1 {
			d.fail("window entry %d has class %d", i, c)
			return
		}
		less, equal := m.tree.addRank(k, int(c))
		m.twiceU += wins(int(c), less, equal, m.n)
		m.n[c]++
		m.keys[i], m.cls[i] = k, c
	}
	m.r = r
}

// AppendBinary appends the encoded state to dst (encoding.BinaryAppender).
func (m *WindowAUC) AppendBinary(dst []byte) ([]byte, error) {
	return marshal(dst, kindWindowAUC, m.appendPayload), nil
}

// MarshalBinary encodes the state (see the package doc for the format).
func (m *WindowAUC) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// UnmarshalBinary restores a state written by MarshalBinary, including the
// window size. On error m is unchanged.
func (m *WindowAUC) UnmarshalBinary(data []byte) error {
	var v WindowAUC
	if err := unmarshal(data, kindWindowAUC, v.decodePayload); err != nil {
		return err
	}
	*m = v
	return nil
}
