package label

import (
	"errors"
	"fmt"
)

// Errors returned by Pending.
var (
	// ErrDuplicate reports an Add for an id that is already pending. The
	// pending example is kept unchanged.
	ErrDuplicate = errors.New("label: id already pending")
	// ErrNotPending reports a label for an id that is not pending: it was
	// never added, it was already labelled (a label sent twice) or it
	// matured as genuine before the label came (a label later than the
	// maturity delay). Nothing changes.
	ErrNotPending = errors.New("label: id not pending (never scored, already labelled, or matured)")
	// ErrLabelBeforeEvent reports a label dated before the event it
	// judges. Nothing changes.
	ErrLabelBeforeEvent = errors.New("label: label dated before its event")
)

// Outcome is a resolved example handed to the learner.
type Outcome[T any] struct {
	Payload T
	// EventTime is the Unix time (seconds) of the judged event.
	EventTime int64
	// KnownAt is the Unix time (seconds) from which the label is known:
	// the label's own time, or EventTime+Maturity for a matured example.
	KnownAt int64
	// Value is the label (1 = fraud; 0 = genuine, also for matured
	// examples).
	Value float64
	// Matured reports that no label came before the maturity delay.
	Matured bool
}

// Pending remembers scored events until their label arrives (Label) or a
// maturity delay passes (Advance: the event is then taken as genuine,
// value 0). It is the delayed-label bookkeeping of fraud scoring: the
// model learns from an event only through the Outcome handed to it, at
// the time the label becomes known, never earlier.
//
// Invariants: every added id leaves exactly once, through Label or
// Advance (or Evict when full); an Outcome's KnownAt is never after the
// clock at which it is handed out, and the clock (the latest Advance or
// label time) never goes backwards, so a learner fed from a Pending never
// sees a label dated after the current time. Matured outcomes leave in
// order of EventTime (ties in the order added). Steady-state operations
// allocate nothing. A Pending is not safe for concurrent use.
type Pending[K comparable, T any] struct {
	maturity int64
	max      int
	clock    int64
	hasClock bool

	index   map[K]int32
	entries []pentry[K, T]
	free    []int32
	heap    pheap
	seq     uint64
}

type pentry[K comparable, T any] struct {
	key     K
	at      int64
	payload T
	gen     uint32
	live    bool
}

type pitem struct {
	deadline int64
	seq      uint64
	idx      int32
	gen      uint32
}

// NewPending returns a Pending whose examples mature maturity seconds
// after their event time. At most max examples are held (max ≤ 0 means
// 10,000,000); when full, Add matures the example with the earliest
// deadline early and hands it to the evicted callback.
func NewPending[K comparable, T any](maturity int64, max int) *Pending[K, T] {
	if maturity < 0 {
		panic(fmt.Sprintf("label: NewPending: maturity %d < 0", maturity))
	}
	if max <= 0 {
		max = 10_000_000
	}
	return &Pending[K, T]{maturity: maturity, max: max, index: make(map[K]int32)}
}

// Len returns the number of pending examples.
func (p *Pending[K, T]) Len() int { return len(p.index) }

// Clock returns the latest time passed to Advance or Label (Unix seconds).
func (p *Pending[K, T]) Clock() int64 { return p.clock }

// Maturity returns the maturity delay in seconds.
func (p *Pending[K, T]) Maturity() int64 { return p.maturity }

// Has reports whether id is pending.
func (p *Pending[K, T]) Has(id K) bool { _, ok := p.index[id]; return ok }

// Add remembers the event id that happened at Unix time at. If the
// Pending is full, the example with the earliest deadline is matured now
// and passed to evicted (which may be nil).
func (p *Pending[K, T]) Add(id K, at int64, payload T, evicted func(Outcome[T])) error {
	if _, ok := p.index[id]; ok {
		return ErrDuplicate
	}
	if len(p.index) >= p.max {
		if o, ok := p.popLive(); ok && evicted != nil {
			o.KnownAt = max(p.clock, o.EventTime)
			evicted(o)
		}
	}
	var i int32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		i = int32(len(p.entries))
		p.entries = append(p.entries, pentry[K, T]{})
	}
	e := &p.entries[i]
	e.key, e.at, e.payload, e.live = id, at, payload, true
	p.index[id] = i
	p.seq++
	p.heap.push(pitem{deadline: at + p.maturity, seq: p.seq, idx: i, gen: e.gen})
	return nil
}

// Label resolves id with value, known from Unix time at: it advances the
// clock to at (maturing, through fn, every example whose deadline is
// before at, so they leave in time order), then hands the labelled
// example to fn. A label exactly at the deadline (event time + maturity)
// is still in time; a later one is ErrNotPending, since the example was
// already taken as genuine. A label dated before the clock (but not
// before its event) is taken as known at the clock: the model never sees
// it earlier than it arrived.
func (p *Pending[K, T]) Label(id K, at int64, value float64, fn func(Outcome[T])) error {
	i, ok := p.index[id]
	if !ok {
		return ErrNotPending
	}
	e := &p.entries[i]
	if at < e.at {
		return fmt.Errorf("%w: label at %d, event at %d", ErrLabelBeforeEvent, at, e.at)
	}
	if p.hasClock && at < p.clock {
		at = p.clock // a label dated before the clock is known from now on
	}
	p.Advance(at, fn)
	if _, ok := p.index[id]; !ok {
		return ErrNotPending // it matured in the Advance above
	}
	o := Outcome[T]{Payload: e.payload, EventTime: e.at, KnownAt: at, Value: value}
	p.release(i)
	fn(o)
	return nil
}

// Advance moves the clock to now (Unix seconds; a time before the clock is
// ignored) and matures, in deadline order, every example whose event time
// plus the maturity delay is before now, handing each to fn as genuine
// with KnownAt = its deadline. It returns how many matured.
func (p *Pending[K, T]) Advance(now int64, fn func(Outcome[T])) int {
	if !p.hasClock || now > p.clock {
		p.clock, p.hasClock = now, true
	}
	n := 0
	for len(p.heap) > 0 {
		top := p.heap[0]
		e := &p.entries[top.idx]
		if !e.live || e.gen != top.gen {
			p.heap.pop()
			continue
		}
		if top.deadline >= p.clock {
			break // matures only once the clock is past its deadline
		}
		p.heap.pop()
		o := Outcome[T]{Payload: e.payload, EventTime: e.at, KnownAt: top.deadline, Value: 0, Matured: true}
		p.release(top.idx)
		fn(o)
		n++
	}
	return n
}

func (p *Pending[K, T]) popLive() (Outcome[T], bool) {
	for len(p.heap) > 0 {
		top := p.heap.pop()
		e := &p.entries[top.idx]
		if !e.live || e.gen != top.gen {
			continue
		}
		o := Outcome[T]{Payload: e.payload, EventTime: e.at, Value: 0, Matured: true}
		p.release(top.idx)
		return o, true
	}
	return Outcome[T]{}, false
}

func (p *Pending[K, T]) release(i int32) {
	e := &p.entries[i]
	delete(p.index, e.key)
	var zk K
	var zt T
	e.key, e.payload, e.live = zk, zt, false
	e.gen++
	p.free = append(p.free, i)
}

// pheap is a binary min-heap on (deadline, seq), written out instead of
// using container/heap so that pushing does not box items (allocate).
type pheap []pitem

func (h pheap) less(a, b int) bool {
	if h[a].deadline != h[b].deadline {
		return h[a].deadline < h[b].deadline
	}
	return h[a].seq < h[b].seq
}

func (h *pheap) push(x pitem) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *pheap) pop() pitem {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s.less(l, m) {
			m = l
		}
		if r := l + 1; r < n && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
