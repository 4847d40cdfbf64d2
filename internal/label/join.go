// Package label joins late outcomes to the predictions they judge.
//
// A Join holds pending examples, each waiting under a key (for the
// purchase task: user × item) until either an outcome for that key arrives
// (Resolve: the example is positive) or the event-time clock passes its
// deadline (Expire: the example is negative). It is the delayed-label half
// of prequential evaluation: the prediction is made when the example is
// added, scored and learned from only when its label is known.
//
// Pending is the same idea keyed by the judged event's id, for outcomes
// that arrive as explicit label events (fraud chargebacks): an example
// leaves when its label arrives (any value) or, as genuine, once its
// maturity delay has passed; labels twice, for unknown ids or dated
// before their event are refused with sentinel errors, and a label dated
// after the clock is never handed out before the clock reaches it.
//
// Invariants: the order in which examples leave a Join or a Pending
// depends only on the sequence of calls, never on map iteration order, so
// replaying a log gives identical results. Neither is safe for concurrent
// use; each belongs to its trainer goroutine.
package label

import (
	"cmp"
	"container/heap"
	"slices"
	"time"
)

// Join is a set of pending examples with payloads of type T.
type Join[T any] struct {
	max     int
	seq     uint64
	byKey   map[string][]*entry[T]
	pending entryHeap[T]
	live    int
}

type entry[T any] struct {
	key      string
	deadline int64
	seq      uint64
	done     bool
	payload  T
}

// New returns a Join that holds at most max pending examples (max ≤ 0
// means 1,000,000). When full, Add first forces out the example with the
// earliest deadline, as if it had expired.
func New[T any](max int) *Join[T] {
	if max <= 0 {
		max = 1_000_000
	}
	return &Join[T]{max: max, byKey: make(map[string][]*entry[T])}
}

// Len returns the number of pending examples.
func (j *Join[T]) Len() int { return j.live }

// Add registers an example under key that expires at deadline. If the
// Join is full, the example with the earliest deadline is evicted and
// passed to evicted (which may be nil) before the new one is added.
func (j *Join[T]) Add(key string, deadline time.Time, payload T, evicted func(T)) {
	if j.live >= j.max {
		if e, ok := j.popLive(); ok && evicted != nil {
			evicted(e.payload)
		}
	}
	j.seq++
	e := &entry[T]{key: key, deadline: deadline.UnixNano(), seq: j.seq, payload: payload}
	j.byKey[key] = append(j.byKey[key], e)
	heap.Push(&j.pending, e)
	j.live++
}

// Resolve removes every example pending under key, calling fn for each in
// the order they were added, and returns how many there were.
func (j *Join[T]) Resolve(key string, fn func(T)) int {
	es := j.byKey[key]
	if len(es) == 0 {
		return 0
	}
	delete(j.byKey, key)
	for _, e := range es {
		e.done = true
		j.live--
		fn(e.payload)
	}
	return len(es)
}

// Expire removes every example whose deadline is before now, calling fn
// for each in deadline order (ties in the order added).
func (j *Join[T]) Expire(now time.Time, fn func(T)) int {
	t := now.UnixNano()
	n := 0
	for j.pending.Len() > 0 {
		e := j.pending[0]
		if e.done {
			heap.Pop(&j.pending)
			continue
		}
		if e.deadline >= t {
			break
		}
		j.removeLive(e)
		fn(e.payload)
		n++
	}
	return n
}

// Each calls fn for every pending example in the order they were added.
// It is used to save a Join; Restore rebuilds it.
func (j *Join[T]) Each(fn func(key string, deadline time.Time, payload T)) {
	all := make([]*entry[T], 0, j.live)
	for _, e := range j.pending {
		if !e.done {
			all = append(all, e)
		}
	}
	sortBySeq(all)
	for _, e := range all {
		fn(e.key, time.Unix(0, e.deadline), e.payload)
	}
}

func (j *Join[T]) popLive() (*entry[T], bool) {
	for j.pending.Len() > 0 {
		e := j.pending[0]
		if e.done {
			heap.Pop(&j.pending)
			continue
		}
		j.removeLive(e)
		return e, true
	}
	return nil, false
}

// removeLive removes e, which must be the live heap minimum.
func (j *Join[T]) removeLive(e *entry[T]) {
	heap.Pop(&j.pending)
	e.done = true
	j.live--
	es := j.byKey[e.key]
	for i, x := range es {
		if x == e {
			es = append(es[:i], es[i+1:]...)
			break
		}
	}
	if len(es) == 0 {
		delete(j.byKey, e.key)
	} else {
		j.byKey[e.key] = es
	}
}

func sortBySeq[T any](es []*entry[T]) {
	slices.SortFunc(es, func(a, b *entry[T]) int { return cmp.Compare(a.seq, b.seq) })
}

type entryHeap[T any] []*entry[T]

func (h entryHeap[T]) Len() int { return len(h) }
func (h entryHeap[T]) Less(a, b int) bool {
	if h[a].deadline != h[b].deadline {
		return h[a].deadline < h[b].deadline
	}
	return h[a].seq < h[b].seq
}
func (h entryHeap[T]) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *entryHeap[T]) Push(x any)   { *h = append(*h, x.(*entry[T])) }
func (h *entryHeap[T]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
