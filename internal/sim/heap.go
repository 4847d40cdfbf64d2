package sim

// agenda is a 4-ary min-heap of pending steps ordered by (t, seq). It is
// typed (no container/heap boxing) so that pushing and popping never
// allocate once the backing array has grown to the working-set size.
type agenda struct {
	es  []entry
	seq uint64
}

type entry struct {
	t    int64  // simulated nanoseconds since the start
	seq  uint64 // push order, breaks ties deterministically
	ref  int32  // index into the pool of kind
	kind uint8
}

func (e *entry) less(o *entry) bool {
	return e.t < o.t || e.t == o.t && e.seq < o.seq
}

func (h *agenda) len() int { return len(h.es) }

func (h *agenda) push(t int64, kind uint8, ref int32) {
	h.seq++
	h.es = append(h.es, entry{t: t, seq: h.seq, ref: ref, kind: kind})
	es := h.es
	i := len(es) - 1
	x := es[i]
	for i > 0 {
		p := (i - 1) / 4
		if !x.less(&es[p]) {
			break
		}
		es[i] = es[p]
		i = p
	}
	es[i] = x
}

// top returns the earliest entry; the heap must not be empty.
func (h *agenda) top() *entry { return &h.es[0] }

func (h *agenda) pop() entry {
	es := h.es
	n := len(es) - 1
	min := es[0]
	x := es[n]
	h.es = es[:n]
	es = es[:n]
	i := 0
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		// The smallest of up to four children (adjacent in memory).
		m := c
		for k := c + 1; k < c+4 && k < n; k++ {
			if es[k].less(&es[m]) {
				m = k
			}
		}
		if !es[m].less(&x) {
			break
		}
		es[i] = es[m]
		i = m
	}
	if n > 0 {
		es[i] = x
	}
	return min
}
