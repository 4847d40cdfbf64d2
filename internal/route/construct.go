package route

import (
	"math"
	"math/rand/v2"
	"sort"
)

// savings builds routes with the parallel Clarke–Wright savings
// algorithm. Merges must respect capacity and, with time windows, create
// no time warp; without time windows routes may be reversed to merge.
func (p *problem) savings() [][]int32 {
	n := p.n
	type saving struct {
		i, j int32
		s    float64
	}
	var sv []saving
	// Granular candidate pairs keep this O(n·Γ log) on large instances.
	if n <= 400 {
		for i := 1; i < n; i++ {
			for j := i + 1; j < n; j++ {
				sv = append(sv, saving{int32(i), int32(j), p.dist[i] + p.dist[j*n] - p.dist[i*n+j]})
			}
		}
	} else {
		for i := 1; i < n; i++ {
			for _, j := range p.neigh[i] {
				if int(j) > i {
					sv = append(sv, saving{int32(i), j, p.dist[i] + p.dist[int(j)*n] - p.dist[i*n+int(j)]})
				}
			}
		}
	}
	sort.Slice(sv, func(a, b int) bool {
		if sv[a].s != sv[b].s {
			return sv[a].s > sv[b].s
		}
		if sv[a].i != sv[b].i {
			return sv[a].i < sv[b].i
		}
		return sv[a].j < sv[b].j
	})
	routeOf := make([]int, n)
	routes := make([][]int32, n)
	for c := 1; c < n; c++ {
		routes[c] = []int32{int32(c)}
		routeOf[c] = c
	}
	for _, s := range sv {
		if s.s <= 0 {
			break
		}
		ri, rj := routeOf[s.i], routeOf[s.j]
		if ri == rj {
			continue
		}
		A, B := routes[ri], routes[rj]
		load := 0.0
		for _, c := range A {
			load += p.inst.Demand[c]
		}
		for _, c := range B {
			load += p.inst.Demand[c]
		}
		if load > p.cap+1e-9 {
			continue
		}
		// Orient so that i is the end of A and j the start of B.
		switch {
		case A[len(A)-1] == s.i && B[0] == s.j:
		case A[0] == s.i && B[len(B)-1] == s.j:
			A, B = B, A
			ri, rj = rj, ri
		case !p.hasTW && A[0] == s.i && B[0] == s.j:
			reverse(A)
		case !p.hasTW && A[len(A)-1] == s.i && B[len(B)-1] == s.j:
			reverse(B)
		default:
			continue
		}
		merged := append(append(make([]int32, 0, len(A)+len(B)), A...), B...)
		sg := p.routeSeg(merged)
		if sg.load > p.cap+1e-9 || sg.tw > 1e-9 {
			continue
		}
		routes[ri] = merged
		routes[rj] = nil
		for _, c := range merged {
			routeOf[c] = ri
		}
	}
	var out [][]int32
	for _, r := range routes {
		if len(r) > 0 {
			out = append(out, r)
		}
	}
	return out
}

func reverse(r []int32) {
	for a, b := 0, len(r)-1; a < b; a, b = a+1, b-1 {
		r[a], r[b] = r[b], r[a]
	}
}

// sweep sorts customers by polar angle from a random start and cuts
// routes greedily when capacity or time windows would be violated;
// within a route customers are ordered by window opening when windows
// exist. It returns nil without coordinates.
func (p *problem) sweep(rng *rand.Rand) [][]int32 {
	if p.angle == nil {
		return nil
	}
	n := p.n
	off := rng.Float64() * 2 * math.Pi
	cs := make([]int32, 0, n-1)
	for c := 1; c < n; c++ {
		cs = append(cs, int32(c))
	}
	key := func(c int32) float64 { return math.Mod(p.angle[c]+4*math.Pi-off, 2*math.Pi) }
	sort.Slice(cs, func(a, b int) bool { return key(cs[a]) < key(cs[b]) })
	var out [][]int32
	var cur []int32
	for _, c := range cs {
		cand := append(append([]int32(nil), cur...), c)
		if p.hasTW {
			sort.SliceStable(cand, func(a, b int) bool { return p.inst.Ready[cand[a]] < p.inst.Ready[cand[b]] })
		}
		sg := p.routeSeg(cand)
		if len(cur) > 0 && (sg.load > p.cap+1e-9 || sg.tw > 1e-9) {
			out = append(out, cur)
			cur = []int32{c}
			continue
		}
		cur = cand
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// regret builds routes by regret-2 insertion: repeatedly insert the
// customer whose best insertion beats its second best (in another route,
// or a new route) by the most. Infeasible insertions are not considered;
// a new route is always feasible because Prepare checked reachability.
// It costs O(n² · route length) and is skipped on large instances.
func (p *problem) regret(rng *rand.Rand) [][]int32 {
	n := p.n
	if n > 400 {
		return nil
	}
	var routes [][]int32
	var pres, sufs [][]seg // per route: depot+rt[:q] and rt[q:]+depot
	un := make([]int32, 0, n-1)
	for c := 1; c < n; c++ {
		un = append(un, int32(c))
	}
	rng.Shuffle(len(un), func(i, j int) { un[i], un[j] = un[j], un[i] })
	segs := func(rt []int32) ([]seg, []seg) {
		pre := make([]seg, len(rt)+1)
		suf := make([]seg, len(rt)+1)
		pre[0] = p.single[0]
		for q, c := range rt {
			pre[q+1] = p.cat(pre[q], p.single[c])
		}
		suf[len(rt)] = p.single[0]
		for q := len(rt) - 1; q >= 0; q-- {
			suf[q] = p.cat(p.single[rt[q]], suf[q+1])
		}
		return pre, suf
	}
	addRoute := func(rt []int32) {
		routes = append(routes, rt)
		a, b := segs(rt)
		pres, sufs = append(pres, a), append(sufs, b)
	}
	// Seed with the customer farthest from the depot.
	far := 0
	for k, c := range un {
		if p.dist[c] > p.dist[un[far]] {
			far = k
		}
	}
	addRoute([]int32{un[far]})
	un = append(un[:far], un[far+1:]...)
	newRoute := func(c int32) float64 { return p.dist[c] + p.dist[int(c)*n] }
	for len(un) > 0 {
		bestK, bestR, bestPos := -1, -1, 0
		bestRegret := math.Inf(-1)
		for k, c := range un {
			b1, b2 := math.Inf(1), math.Inf(1)
			r1, pos1 := -1, 0
			sc := p.single[c]
			for r, rt := range routes {
				pre, suf := pres[r], sufs[r]
				if pre[len(rt)].load+sc.load > p.cap+1e-9 {
					continue
				}
				rb := math.Inf(1)
				rp := 0
				prev := int32(0)
				for q := 0; q <= len(rt); q++ {
					next := int32(0)
					if q < len(rt) {
						next = rt[q]
					}
					d := p.dist[int(prev)*n+int(c)] + p.dist[int(c)*n+int(next)] - p.dist[int(prev)*n+int(next)]
					prev = next
					if d >= rb {
						continue
					}
					if p.hasTW && p.cat(p.cat(pre[q], sc), suf[q]).tw > 1e-9 {
						continue
					}
					rb, rp = d, q
				}
				if rb < b1 {
					b2 = b1
					b1, r1, pos1 = rb, r, rp
				} else if rb < b2 {
					b2 = rb
				}
			}
			nr := newRoute(c)
			if p.fleet > 0 && len(routes) >= p.fleet {
				nr = math.Inf(1)
			}
			if nr < b1 {
				b2 = math.Min(b1, b2)
				b1, r1 = nr, -1
			} else if nr < b2 {
				b2 = nr
			}
			if math.IsInf(b1, 1) {
				// Nowhere feasible: open a route anyway (fleet overflow is
				// repaired by the split and local search penalties).
				b1, r1 = newRoute(c), -1
				b2 = b1
			}
			reg := b2 - b1
			if math.IsInf(b2, 1) {
				reg = 1e18 - b1
			}
			if reg > bestRegret {
				bestRegret, bestK, bestR, bestPos = reg, k, r1, pos1
			}
		}
		c := un[bestK]
		if bestR < 0 {
			addRoute([]int32{c})
		} else {
			rt := routes[bestR]
			rt = append(rt, 0)
			copy(rt[bestPos+1:], rt[bestPos:])
			rt[bestPos] = c
			routes[bestR] = rt
			pres[bestR], sufs[bestR] = segs(rt)
		}
		un = append(un[:bestK], un[bestK+1:]...)
	}
	return routes
}
