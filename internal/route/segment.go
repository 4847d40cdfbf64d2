package route

import (
	"math"
	"sort"
)

// seg summarises a sequence of visits (Vidal et al. 2013, "A hybrid
// genetic algorithm with adaptive diversity management for a large class
// of vehicle routing problems with time-windows"): total duration
// including waiting, time warp (lateness forced back), earliest and latest
// start of service at the first visit, load and distance. Concatenation is
// O(1), which makes every local-search move evaluation O(1).
type seg struct {
	first, last int32
	dist, load  float64
	dur, tw     float64
	e, l        float64
}

// problem is the solver's read-only view of an instance, shared by all
// workers.
type problem struct {
	inst    *Instance
	n       int // nodes including depot
	dist    []float64
	tt      []float64
	hasTW   bool
	cap     float64
	maxVeh  int       // route slots per solution
	fleet   int       // hard fleet limit (0 = none)
	fixed   float64   // per-vehicle cost of the hierarchical objective (objective only)
	single  []seg     // single-node segments
	neigh   [][]int32 // granular neighbour lists per customer
	angle   []float64 // polar angle around the depot (nil without coords)
	maxDist float64
	maxDem  float64
}

func newProblem(inst *Instance, granular int, hierarchical bool) *problem {
	n := inst.N()
	p := &problem{inst: inst, n: n, dist: inst.dist, tt: inst.tt, hasTW: inst.HasTW, cap: inst.Capacity, fleet: inst.Vehicles}
	p.single = make([]seg, n)
	total := 0.0
	for i := 0; i < n; i++ {
		p.single[i] = seg{first: int32(i), last: int32(i), load: inst.Demand[i], dur: inst.Service[i], e: inst.Ready[i], l: inst.Due[i]}
		total += inst.Demand[i]
		p.maxDem = math.Max(p.maxDem, inst.Demand[i])
	}
	for _, d := range inst.dist {
		p.maxDist = math.Max(p.maxDist, d)
	}
	// Route slots: generous but bounded, as in HGS-CVRP.
	slots := int(math.Ceil(1.3*total/inst.Capacity)) + 3
	if p.hasTW {
		slots = max(slots, (n-1)/2+1)
	}
	slots = min(slots, n-1)
	if inst.Vehicles > 0 {
		slots = min(slots, inst.Vehicles)
		if slots < inst.Vehicles && slots < n-1 {
			slots = min(inst.Vehicles, n-1)
		}
	}
	p.maxVeh = max(1, slots)
	if hierarchical {
		for i := 1; i < n; i++ {
			p.fixed += p.dist[i] + p.dist[i*n]
		}
	}
	if inst.X != nil && inst.Metric != MetricExplicit {
		p.angle = make([]float64, n)
		for i := 1; i < n; i++ {
			p.angle[i] = math.Atan2(inst.Y[i]-inst.Y[0], inst.X[i]-inst.X[0])
		}
	}
	// Granular neighbourhoods: the closest customers by Vidal's
	// time-window-aware correlation (20, or 40 with time windows on
	// instances up to 400 nodes).
	if granular <= 0 {
		granular = 20
		if p.hasTW && n <= 400 {
			granular = 40
		}
	}
	granular = min(granular, n-2)
	p.neigh = make([][]int32, n)
	type cand struct {
		v int32
		c float64
	}
	cs := make([]cand, 0, n)
	for u := 1; u < n; u++ {
		cs = cs[:0]
		for v := 1; v < n; v++ {
			if v == u {
				continue
			}
			c := p.dist[u*n+v]
			if p.hasTW {
				t := p.tt[u*n+v]
				wait := inst.Ready[v] - t - inst.Service[u] - inst.Due[u]
				warp := inst.Ready[u] + inst.Service[u] + t - inst.Due[v]
				c += 0.2*math.Max(wait, 0) + math.Max(warp, 0)
			}
			cs = append(cs, cand{int32(v), c})
		}
		sort.Slice(cs, func(a, b int) bool {
			if cs[a].c != cs[b].c {
				return cs[a].c < cs[b].c
			}
			return cs[a].v < cs[b].v
		})
		nb := make([]int32, 0, granular)
		for k := 0; k < granular && k < len(cs); k++ {
			nb = append(nb, cs[k].v)
		}
		p.neigh[u] = nb
	}
	return p
}

// cat concatenates a and b.
func (p *problem) cat(a, b seg) seg {
	k := int(a.last)*p.n + int(b.first)
	r := seg{first: a.first, last: b.last, dist: a.dist + b.dist + p.dist[k], load: a.load + b.load}
	if !p.hasTW {
		return r
	}
	t := p.tt[k]
	delta := a.dur - a.tw + t
	wait := b.e - delta - a.l
	if wait < 0 {
		wait = 0
	}
	warp := a.e + delta - b.l
	if warp < 0 {
		warp = 0
	}
	r.dur = a.dur + b.dur + t + wait
	r.tw = a.tw + b.tw + warp
	e := b.e - delta
	if a.e > e {
		e = a.e
	}
	r.e = e - wait
	l := b.l - delta
	if a.l < l {
		l = a.l
	}
	r.l = l + warp
	return r
}

// penalties weighs constraint violations in the penalised cost.
type penalties struct {
	load, tw float64
}

// cost is the penalised cost of a closed route segment (depot ... depot).
// Empty routes (first and last both the depot, no distance) cost nothing.
func (p *problem) cost(s seg, pen penalties) float64 {
	c := s.dist + pen.tw*s.tw
	if s.load > p.cap {
		c += pen.load * (s.load - p.cap)
	}
	return c
}

// routeSeg computes the closed segment of a customer sequence.
func (p *problem) routeSeg(r []int32) seg {
	s := p.single[0]
	for _, c := range r {
		s = p.cat(s, p.single[c])
	}
	return p.cat(s, p.single[0])
}
