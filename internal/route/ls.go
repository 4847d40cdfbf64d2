package route

import (
	"math"
	"math/rand/v2"
)

// localSearch improves a set of routes with granular first-improvement
// moves: relocate (or-opt of 1-2 customers, optionally reversed), swap
// (1-1, 2-1, 2-2: cross-exchange of short segments), 2-opt* between
// routes, and relocate, swap and 2-opt within a route. Inter-route moves
// are evaluated in O(1) from prefix/suffix segments. It owns all its
// buffers; after warm-up a call allocates nothing.
type localSearch struct {
	p      *problem
	pen    penalties
	rng    *rand.Rand
	routes [][]int32
	pre    [][]seg // pre[r][k]: depot + routes[r][:k]
	suf    [][]seg // suf[r][k]: routes[r][k:] + depot
	rcost  []float64
	rOf    []int32
	pos    []int32
	// move bookkeeping: a route pair is skipped when neither route changed
	// since u was last tested against it.
	lastMod  []int
	lastTest []int
	clock    int
	order    []int32
	tmpA     []int32
	tmpB     []int32
	moves    int
	target   int // maximum number of non-empty routes
}

const eps = 1e-7

// tol is the least improvement of a cost c that counts: eps relative to
// c's size. With an absolute threshold, penalised costs large enough that
// float64 rounding exceeds it let rounding noise pass for improvements,
// and the search cycled forever (seen: 100 orders with 2-hour windows and
// 2 vehicles, whose time-warp penalties reach 1e9).
func tol(c float64) float64 { return eps * (1 + math.Abs(c)) }

// maxLSLoops bounds the passes of one local search run, as a safety net:
// a run converges in a few dozen passes.
const maxLSLoops = 500

func newLocalSearch(p *problem, rng *rand.Rand) *localSearch {
	ls := &localSearch{p: p, rng: rng}
	ls.routes = make([][]int32, p.maxVeh)
	ls.pre = make([][]seg, p.maxVeh)
	ls.suf = make([][]seg, p.maxVeh)
	ls.rcost = make([]float64, p.maxVeh)
	ls.lastMod = make([]int, p.maxVeh)
	ls.rOf = make([]int32, p.n)
	ls.pos = make([]int32, p.n)
	ls.lastTest = make([]int, p.n)
	ls.order = make([]int32, 0, p.n)
	for c := 1; c < p.n; c++ {
		ls.order = append(ls.order, int32(c))
	}
	return ls
}

// load copies routes into the search state (len(routes) <= maxVeh).
func (ls *localSearch) load(routes [][]int32, pen penalties) {
	ls.pen = pen
	for r := range ls.routes {
		ls.routes[r] = ls.routes[r][:0]
		if r < len(routes) {
			ls.routes[r] = append(ls.routes[r], routes[r]...)
		}
		ls.update(r)
	}
	for c := range ls.lastTest {
		ls.lastTest[c] = -1
	}
}

// update recomputes route r's segments, positions and cost.
func (ls *localSearch) update(r int) {
	p := ls.p
	rt := ls.routes[r]
	m := len(rt)
	pre := ls.pre[r][:0]
	s := p.single[0]
	pre = append(pre, s)
	for k, c := range rt {
		s = p.cat(s, p.single[c])
		pre = append(pre, s)
		ls.rOf[c] = int32(r)
		ls.pos[c] = int32(k)
	}
	ls.pre[r] = pre
	suf := ls.suf[r][:0]
	if cap(suf) < m+1 {
		suf = make([]seg, m+1, 2*(m+1))
	}
	suf = suf[:m+1]
	s = p.single[0]
	suf[m] = s
	for k := m - 1; k >= 0; k-- {
		s = p.cat(p.single[rt[k]], s)
		suf[k] = s
	}
	ls.suf[r] = suf
	if m == 0 {
		ls.rcost[r] = 0
	} else {
		ls.rcost[r] = p.cost(p.cat(pre[m-1], suf[m-1]), ls.pen)
	}
	ls.clock++
	ls.lastMod[r] = ls.clock
}

// run performs local search until no improving move remains.
func (ls *localSearch) run() {
	p := ls.p
	ls.rng.Shuffle(len(ls.order), func(i, j int) { ls.order[i], ls.order[j] = ls.order[j], ls.order[i] })
	for loop := 0; loop < maxLSLoops; loop++ {
		improved := false
		for _, u := range ls.order {
			tested := ls.lastTest[u]
			ls.lastTest[u] = ls.clock
			nb := p.neigh[u]
			// Visit neighbours from a random offset for diversity at no cost.
			off := 0
			if len(nb) > 0 {
				off = ls.rng.IntN(len(nb))
			}
			for k := range nb {
				v := nb[(k+off)%len(nb)]
				ru, rv := int(ls.rOf[u]), int(ls.rOf[v])
				if loop > 0 && ls.lastMod[ru] <= tested && ls.lastMod[rv] <= tested {
					continue
				}
				var ok bool
				if ru != rv {
					ok = ls.inter(u, v)
				} else {
					ok = ls.intra(u, v)
				}
				if ok {
					improved = true
				}
			}
			if ls.toEmpty(u) {
				improved = true
			}
		}
		if !improved {
			return
		}
	}
}

// segOf builds the segment of routes[r][i:i+a], reversed if rev.
func (ls *localSearch) segOf(r, i, a int, rev bool) seg {
	p := ls.p
	rt := ls.routes[r]
	if !rev {
		s := p.single[rt[i]]
		for k := i + 1; k < i+a; k++ {
			s = p.cat(s, p.single[rt[k]])
		}
		return s
	}
	s := p.single[rt[i+a-1]]
	for k := i + a - 2; k >= i; k-- {
		s = p.cat(s, p.single[rt[k]])
	}
	return s
}

// run describes a short run of customers (at most two) for cheap bounds.
type run struct {
	first, last int32
	dist, load  float64
}

// runOf describes routes[r][i:i+a], reversed if rev (a <= 2).
func (ls *localSearch) runOf(r, i, a int, rev bool) run {
	if a == 0 {
		return run{first: -1}
	}
	p := ls.p
	rt := ls.routes[r]
	x := rt[i]
	if a == 1 {
		return run{first: x, last: x, load: p.inst.Demand[x]}
	}
	y := rt[i+1]
	if rev {
		return run{first: y, last: x, dist: p.dist[int(y)*p.n+int(x)], load: p.inst.Demand[x] + p.inst.Demand[y]}
	}
	return run{first: x, last: y, dist: p.dist[int(x)*p.n+int(y)], load: p.inst.Demand[x] + p.inst.Demand[y]}
}

// bound is a lower bound on the penalised cost of pre + mid + suf: its
// exact distance plus the load penalty (time warp only adds).
func (ls *localSearch) bound(pre seg, mid run, suf seg) float64 {
	p := ls.p
	d := pre.dist + suf.dist
	l := pre.load + suf.load
	if mid.first >= 0 {
		d += mid.dist + p.dist[int(pre.last)*p.n+int(mid.first)] + p.dist[int(mid.last)*p.n+int(suf.first)]
		l += mid.load
	} else {
		d += p.dist[int(pre.last)*p.n+int(suf.first)]
	}
	if pre.last == 0 && suf.first == 0 && mid.first < 0 {
		return 0 // empty route
	}
	c := d
	if l > p.cap {
		c += ls.pen.load * (l - p.cap)
	}
	return c
}

// inter tries moves between u's and v's routes and applies the first
// improving one. Each candidate is first screened with an O(1) distance
// and load bound; only survivors are evaluated with time-window segments.
func (ls *localSearch) inter(u, v int32) bool {
	p := ls.p
	ru, rv := int(ls.rOf[u]), int(ls.rOf[v])
	i, j := int(ls.pos[u]), int(ls.pos[v])
	mu, mv := len(ls.routes[ru]), len(ls.routes[rv])
	old := ls.rcost[ru] + ls.rcost[rv]
	pre1, suf1 := ls.pre[ru], ls.suf[ru]
	pre2, suf2 := ls.pre[rv], ls.suf[rv]
	// Segment exchanges: take a customers starting at u, b starting at v
	// (b = 0: insert before v, or after v when at = j+1).
	for a := 1; a <= 2; a++ {
		if i+a > mu {
			break
		}
		for b := 0; b <= 2; b++ {
			if j+b > mv {
				break
			}
			for at := j; at <= j+1 && at <= mv; at++ {
				if b > 0 && at != j {
					break
				}
				if a == 1 && b == 2 {
					break // the mirror move is tried from v's side
				}
				// Reversed runs only for pure relocations (or-opt), as in
				// HGS-CVRP; exchanges keep orientation.
				nrevU := 0
				if b == 0 {
					nrevU = a - 1
				}
				for revU := 0; revU <= nrevU; revU++ {
					ruRun := ls.runOf(ru, i, a, revU == 1)
					for revV := 0; revV <= 0; revV++ {
						rvRun := ls.runOf(rv, j, b, revV == 1)
						lb := ls.bound(pre1[i], rvRun, suf1[i+a]) + ls.bound(pre2[at], ruRun, suf2[at+b])
						if lb >= old-tol(old) {
							continue
						}
						if !p.hasTW {
							ls.applyExchange(ru, i, a, revU == 1, rv, at, b, revV == 1)
							return true
						}
						var nu seg
						if b > 0 {
							nu = p.cat(p.cat(pre1[i], ls.segOf(rv, j, b, revV == 1)), suf1[i+a])
						} else {
							nu = p.cat(pre1[i], suf1[i+a])
						}
						cu := ls.closedCost(nu, b == 0 && i == 0 && i+a == mu)
						nv := p.cat(p.cat(pre2[at], ls.segOf(ru, i, a, revU == 1)), suf2[at+b])
						if cu+p.cost(nv, ls.pen) < old-tol(old) {
							ls.applyExchange(ru, i, a, revU == 1, rv, at, b, revV == 1)
							return true
						}
					}
				}
			}
		}
	}
	// 2-opt*: u's tail after v and v's tail after u, in both directions.
	none := run{first: -1}
	for d := 0; d <= 1; d++ {
		cut1, cut2 := i+1-d, j+1-d
		lb := ls.bound(pre1[cut1], none, suf2[cut2]) + ls.bound(pre2[cut2], none, suf1[cut1])
		if lb >= old-tol(old) {
			continue
		}
		if !p.hasTW {
			ls.applyTails(ru, cut1, rv, cut2)
			return true
		}
		nu := p.cat(pre1[cut1], suf2[cut2])
		nv := p.cat(pre2[cut2], suf1[cut1])
		c := ls.closedCost(nu, cut1 == 0 && cut2 == mv) + ls.closedCost(nv, cut2 == 0 && cut1 == mu)
		if c < old-tol(old) {
			ls.applyTails(ru, cut1, rv, cut2)
			return true
		}
	}
	return false
}

func (ls *localSearch) closedCost(s seg, empty bool) float64 {
	if empty {
		return 0
	}
	return ls.p.cost(s, ls.pen)
}

// applyExchange swaps routes[ru][i:i+a] with routes[rv][at:at+b].
func (ls *localSearch) applyExchange(ru, i, a int, revU bool, rv, at, b int, revV bool) {
	ls.moves++
	U := ls.routes[ru]
	V := ls.routes[rv]
	A := append(ls.tmpA[:0], U[:i]...)
	A = appendRun(A, V[at:at+b], revV)
	A = append(A, U[i+a:]...)
	B := append(ls.tmpB[:0], V[:at]...)
	B = appendRun(B, U[i:i+a], revU)
	B = append(B, V[at+b:]...)
	ls.routes[ru] = append(U[:0], A...)
	ls.routes[rv] = append(V[:0], B...)
	ls.tmpA, ls.tmpB = A, B
	ls.update(ru)
	ls.update(rv)
}

func appendRun(dst, run []int32, rev bool) []int32 {
	if !rev {
		return append(dst, run...)
	}
	for k := len(run) - 1; k >= 0; k-- {
		dst = append(dst, run[k])
	}
	return dst
}

// applyTails exchanges routes[ru][c1:] with routes[rv][c2:].
func (ls *localSearch) applyTails(ru, c1, rv, c2 int) {
	ls.moves++
	U := ls.routes[ru]
	V := ls.routes[rv]
	A := append(ls.tmpA[:0], U[:c1]...)
	A = append(A, V[c2:]...)
	B := append(ls.tmpB[:0], V[:c2]...)
	B = append(B, U[c1:]...)
	ls.routes[ru] = append(U[:0], A...)
	ls.routes[rv] = append(V[:0], B...)
	ls.tmpA, ls.tmpB = A, B
	ls.update(ru)
	ls.update(rv)
}

// intra tries relocating u (alone or with its successor) next to v, swapping
// u and v, and reversing the path between them (2-opt), within one route.
func (ls *localSearch) intra(u, v int32) bool {
	r := int(ls.rOf[u])
	rt := ls.routes[r]
	i, j := int(ls.pos[u]), int(ls.pos[v])
	m := len(rt)
	old := ls.rcost[r]
	p := ls.p
	// The load is unchanged within a route, so distance plus the current
	// load penalty bounds the new cost from below.
	loadPen := ls.pre[r][m].load - p.cap
	if loadPen > 0 {
		loadPen *= ls.pen.load
	} else {
		loadPen = 0
	}
	try := func() bool {
		d, prev := 0.0, 0
		for _, c := range ls.tmpA {
			d += p.dist[prev*p.n+int(c)]
			prev = int(c)
		}
		d += p.dist[prev*p.n]
		if d+loadPen >= old-tol(old) {
			return false
		}
		c := p.cost(p.routeSeg(ls.tmpA), ls.pen)
		if c < old-tol(old) {
			ls.moves++
			ls.routes[r] = append(ls.routes[r][:0], ls.tmpA...)
			ls.update(r)
			return true
		}
		return false
	}
	// Relocate a = 1, 2 customers starting at u to just after v or just
	// before v.
	for a := 1; a <= 2 && i+a <= m; a++ {
		if j >= i && j < i+a {
			break
		}
		for side := 0; side <= 1; side++ {
			ins := j + side // insert before position ins of the original
			if ins >= i && ins <= i+a {
				continue // no-op
			}
			buf := ls.tmpA[:0]
			for k := 0; k <= m; k++ {
				if k == ins {
					buf = append(buf, rt[i:i+a]...)
				}
				if k < m && (k < i || k >= i+a) {
					buf = append(buf, rt[k])
				}
			}
			ls.tmpA = buf
			if try() {
				return true
			}
		}
	}
	// Swap u and v.
	buf := append(ls.tmpA[:0], rt...)
	buf[i], buf[j] = buf[j], buf[i]
	ls.tmpA = buf
	if try() {
		return true
	}
	// 2-opt: make u and v adjacent by reversing the path between them.
	lo, hi := i, j
	if lo > hi {
		lo, hi = hi, lo
	}
	for d := 0; d <= 1; d++ {
		// reverse rt[lo+1 .. hi] (u->v adjacent) or rt[lo .. hi-1].
		a, b := lo+1-d, hi-d
		if b-a < 1 {
			continue
		}
		buf := append(ls.tmpA[:0], rt...)
		for x, y := a, b; x < y; x, y = x+1, y-1 {
			buf[x], buf[y] = buf[y], buf[x]
		}
		ls.tmpA = buf
		if try() {
			return true
		}
	}
	return false
}

// toEmpty moves u alone into an empty route if that improves.
func (ls *localSearch) toEmpty(u int32) bool {
	ru := int(ls.rOf[u])
	if len(ls.routes[ru]) == 1 {
		return false
	}
	empty, used := -1, 0
	for r := range ls.routes {
		if len(ls.routes[r]) == 0 {
			if empty < 0 {
				empty = r
			}
		} else {
			used++
		}
	}
	if empty < 0 || used >= ls.target {
		return false
	}
	p := ls.p
	i := int(ls.pos[u])
	nu := p.cat(ls.pre[ru][i], ls.suf[ru][i+1])
	nv := p.cat(p.cat(p.single[0], p.single[u]), p.single[0])
	if p.cost(nu, ls.pen)+p.cost(nv, ls.pen) < ls.rcost[ru]-tol(ls.rcost[ru]) {
		ls.applyExchange(ru, i, 1, false, empty, 0, 0, false)
		return true
	}
	return false
}

// export appends the non-empty routes to dst (copies).
func (ls *localSearch) export(dst [][]int32) [][]int32 {
	for _, r := range ls.routes {
		if len(r) > 0 {
			dst = append(dst, append([]int32(nil), r...))
		}
	}
	return dst
}
