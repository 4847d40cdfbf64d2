package route

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// indiv is one member of a population: a giant tour and its split into
// routes, with cost components kept apart so penalties can change.
type indiv struct {
	tour       []int32
	routes     [][]int32
	succ, pred []int32 // per customer; 0 = depot
	dist       float64
	excess     float64 // total load above capacity
	warp       float64 // total time warp
	nRoutes    int
	feasible   bool
	pcost      float64 // penalised cost under the current penalties
	fit        float64 // biased fitness (lower is better)
	prox       []proxEntry
}

type proxEntry struct {
	d float64
	o *indiv
}

func (p *problem) newIndiv(routes [][]int32, pen penalties) *indiv {
	x := &indiv{routes: routes}
	x.tour = make([]int32, 0, p.n-1)
	x.succ = make([]int32, p.n)
	x.pred = make([]int32, p.n)
	// Order routes by polar angle of their barycentre so the giant tour
	// keeps geographically close routes together.
	if p.angle != nil && len(routes) > 1 {
		keys := make([]float64, len(routes))
		for k, r := range routes {
			sx, sy := 0.0, 0.0
			for _, c := range r {
				sx += p.inst.X[c] - p.inst.X[0]
				sy += p.inst.Y[c] - p.inst.Y[0]
			}
			keys[k] = math.Atan2(sy, sx)
		}
		idx := make([]int, len(routes))
		for k := range idx {
			idx[k] = k
		}
		sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
		sorted := make([][]int32, len(routes))
		for k, q := range idx {
			sorted[k] = routes[q]
		}
		x.routes = sorted
	}
	for _, r := range x.routes {
		if len(r) == 0 {
			continue
		}
		x.nRoutes++
		s := p.routeSeg(r)
		x.dist += s.dist
		x.warp += s.tw
		if s.load > p.cap {
			x.excess += s.load - p.cap
		}
		for k, c := range r {
			x.tour = append(x.tour, c)
			if k > 0 {
				x.pred[c] = r[k-1]
			}
			if k+1 < len(r) {
				x.succ[c] = r[k+1]
			}
		}
	}
	x.feasible = x.excess < 1e-9 && x.warp < 1e-9 && x.nRoutes <= p.maxVeh
	x.reprice(p, pen)
	return x
}

func (x *indiv) reprice(p *problem, pen penalties) {
	x.pcost = x.dist + pen.load*x.excess + pen.tw*x.warp
}

// objective is the value compared between feasible solutions: distance,
// plus (hierarchical objective) a per-vehicle cost that dominates any
// distance.
func (x *indiv) objective(p *problem) float64 {
	return x.dist + p.fixed*float64(x.nRoutes)
}

// brokenPairs is the broken-pairs distance of Prins / HGS in [0, 1].
func brokenPairs(a, b *indiv) float64 {
	diff := 0
	n := len(a.succ)
	for j := 1; j < n; j++ {
		if a.succ[j] != b.succ[j] && a.succ[j] != b.pred[j] {
			diff++
		}
		if a.pred[j] == 0 && b.pred[j] != 0 && b.succ[j] != 0 {
			diff++
		}
	}
	return float64(diff) / float64(max(1, n-1))
}

// splitter turns giant tours into routes (Prins' split as a shortest path
// over the tour, with penalised load and time warp, and a layered
// variant when the fleet is limited). It owns its buffers.
type splitter struct {
	p      *problem
	target int // maximum number of routes
	pot    []float64
	pred   []int32
	potK   [][]float64
	prdK   [][]int32
}

func (sp *splitter) split(tour []int32, pen penalties) [][]int32 {
	p := sp.p
	nc := len(tour)
	if cap(sp.pot) < nc+1 {
		sp.pot = make([]float64, nc+1)
		sp.pred = make([]int32, nc+1)
	}
	pot, pred := sp.pot[:nc+1], sp.pred[:nc+1]
	for k := range pot {
		pot[k] = math.Inf(1)
	}
	pot[0] = 0
	limit := 1.5 * p.cap
	for i := 0; i < nc; i++ {
		if math.IsInf(pot[i], 1) {
			continue
		}
		s := p.single[0]
		for j := i; j < nc; j++ {
			s = p.cat(s, p.single[tour[j]])
			if j > i && s.load > limit {
				break
			}
			c := pot[i] + p.cost(p.cat(s, p.single[0]), pen)
			if c < pot[j+1] {
				pot[j+1] = c
				pred[j+1] = int32(i)
			}
		}
	}
	count := 0
	for j := nc; j > 0; j = int(pred[j]) {
		count++
	}
	if count > sp.target {
		return sp.splitLimited(tour, pen)
	}
	routes := make([][]int32, 0, count)
	for j := nc; j > 0; j = int(pred[j]) {
		routes = append(routes, append([]int32(nil), tour[pred[j]:j]...))
	}
	return routes
}

// splitLimited solves the split with at most maxVeh routes, letting the
// last route take any load (penalised) so a solution always exists.
func (sp *splitter) splitLimited(tour []int32, pen penalties) [][]int32 {
	p := sp.p
	nc := len(tour)
	K := sp.target
	for len(sp.potK) < K+1 {
		sp.potK = append(sp.potK, nil)
		sp.prdK = append(sp.prdK, nil)
	}
	for k := 0; k <= K; k++ {
		if cap(sp.potK[k]) < nc+1 {
			sp.potK[k] = make([]float64, nc+1)
			sp.prdK[k] = make([]int32, nc+1)
		}
		sp.potK[k] = sp.potK[k][:nc+1]
		sp.prdK[k] = sp.prdK[k][:nc+1]
		for j := range sp.potK[k] {
			sp.potK[k][j] = math.Inf(1)
		}
	}
	sp.potK[0][0] = 0
	for k := 0; k < K; k++ {
		last := k == K-1
		for i := k; i < nc; i++ {
			if math.IsInf(sp.potK[k][i], 1) {
				continue
			}
			s := p.single[0]
			for j := i; j < nc; j++ {
				s = p.cat(s, p.single[tour[j]])
				if !last && j > i && s.load > 1.5*p.cap {
					break
				}
				c := sp.potK[k][i] + p.cost(p.cat(s, p.single[0]), pen)
				if c < sp.potK[k+1][j+1] {
					sp.potK[k+1][j+1] = c
					sp.prdK[k+1][j+1] = int32(i)
				}
			}
		}
	}
	best, bk := math.Inf(1), -1
	for k := 1; k <= K; k++ {
		if sp.potK[k][nc] < best {
			best, bk = sp.potK[k][nc], k
		}
	}
	var routes [][]int32
	j := nc
	for k := bk; k > 0; k-- {
		i := int(sp.prdK[k][j])
		routes = append(routes, append([]int32(nil), tour[i:j]...))
		j = i
	}
	return routes
}

// hgsParams are the population parameters of HGS-CVRP (Vidal 2022).
type hgsParams struct {
	mu, lambda, nbElite, nbClose int
	targetFeasible               float64
	nbIterNoImprove              int
}

var defaultParams = hgsParams{mu: 25, lambda: 40, nbElite: 4, nbClose: 5, targetFeasible: 0.2, nbIterNoImprove: 20000}

// island is one independent HGS run (one per worker).
type island struct {
	p          *problem
	prm        hgsParams
	rng        *rand.Rand
	ls         *localSearch
	sp         splitter
	pen        penalties
	feas       []*indiv
	infeas     []*indiv
	best       *indiv // best feasible ever
	bestIter   int
	iter       int
	recentL    []bool
	recentT    []bool
	start      time.Time
	trace      []TracePoint
	seeded     bool
	target     int // route limit (lowered by the hierarchical objective)
	pending    [][][]int32
	initBudget time.Duration
}

// lowerTarget restricts the island to k routes and restarts its
// population from x's giant tour split into at most k routes.
func (is *island) lowerTarget(k int, x *indiv) {
	is.setTarget(k)
	is.feas, is.infeas = nil, nil
	is.bestIter = is.iter
	is.pending = append(is.pending, [][]int32{append([]int32(nil), x.tour...)})
}

func newIsland(p *problem, seed uint64, start time.Time) *island {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	is := &island{p: p, prm: defaultParams, rng: rng, start: start}
	is.ls = newLocalSearch(p, rng)
	is.sp.p = p
	is.setTarget(p.maxVeh)
	is.pen.load = math.Max(0.1, math.Min(1000, p.maxDist/math.Max(p.maxDem, 1e-9)))
	is.pen.tw = 10
	if p.n > 400 {
		is.prm.nbIterNoImprove = 5000 + 20*p.n
	}
	return is
}

// setTarget sets the maximum number of routes this island builds.
func (is *island) setTarget(k int) {
	k = max(1, min(k, is.p.maxVeh))
	is.target = k
	is.sp.target = k
	is.ls.target = k
}

// educate runs local search on routes, inserts the result and, if it is
// infeasible, with probability 1/2 tries a repair with 10x penalties.
func (is *island) educate(routes [][]int32) {
	is.ls.load(routes, is.pen)
	is.ls.run()
	x := is.p.newIndiv(is.ls.export(nil), is.pen)
	is.recentL = append(is.recentL, x.excess < 1e-9)
	is.recentT = append(is.recentT, x.warp < 1e-9)
	is.insert(x)
	if !x.feasible && is.rng.IntN(2) == 0 {
		strong := penalties{load: is.pen.load * 10, tw: is.pen.tw * 10}
		is.ls.load(x.routes, strong)
		is.ls.run()
		y := is.p.newIndiv(is.ls.export(nil), is.pen)
		if y.feasible {
			is.insert(y)
		}
	}
}

// educateSeed educates a constructive start and, while it is infeasible,
// repairs it with penalties raised 10x and 100x, so a feasible solution
// exists early.
func (is *island) educateSeed(routes [][]int32) {
	is.ls.load(routes, is.pen)
	is.ls.run()
	x := is.p.newIndiv(is.ls.export(nil), is.pen)
	is.insert(x)
	for f := 10.0; !x.feasible && f <= 1000; f *= 10 {
		is.ls.load(x.routes, penalties{load: is.pen.load * f, tw: is.pen.tw * f})
		is.ls.run()
		x = is.p.newIndiv(is.ls.export(nil), is.pen)
		is.insert(x)
	}
}

func (is *island) insert(x *indiv) {
	p := is.p
	if x.feasible && (is.best == nil || x.objective(p) < is.best.objective(p)-eps) {
		is.best = x
		is.bestIter = is.iter
		is.trace = append(is.trace, TracePoint{Elapsed: time.Since(is.start), Cost: x.dist, Vehicles: x.nRoutes, Iteration: is.iter})
	}
	sub := &is.infeas
	if x.feasible {
		sub = &is.feas
	}
	for _, o := range *sub {
		d := brokenPairs(x, o)
		x.prox = insertProx(x.prox, proxEntry{d, o})
		o.prox = insertProx(o.prox, proxEntry{d, x})
	}
	*sub = append(*sub, x)
	if len(*sub) > is.prm.mu+is.prm.lambda {
		for len(*sub) > is.prm.mu {
			is.removeWorst(sub)
		}
	}
}

func insertProx(l []proxEntry, e proxEntry) []proxEntry {
	k := sort.Search(len(l), func(i int) bool { return l[i].d > e.d })
	l = append(l, proxEntry{})
	copy(l[k+1:], l[k:])
	l[k] = e
	return l
}

func (is *island) avgClose(x *indiv) float64 {
	k := min(is.prm.nbClose, len(x.prox))
	if k == 0 {
		return 0
	}
	s := 0.0
	for i := 0; i < k; i++ {
		s += x.prox[i].d
	}
	return s / float64(k)
}

// updateFitness computes biased fitness: cost rank plus weighted
// diversity rank.
func (is *island) updateFitness(sub []*indiv) {
	n := len(sub)
	if n == 0 {
		return
	}
	if n == 1 {
		sub[0].fit = 0
		return
	}
	idx := make([]int, n)
	for k := range idx {
		idx[k] = k
	}
	sort.SliceStable(idx, func(a, b int) bool { return sub[idx[a]].pcost < sub[idx[b]].pcost })
	div := make([]float64, n)
	for k, q := range idx {
		div[k] = -is.avgClose(sub[q])
	}
	drank := make([]int, n)
	order := make([]int, n)
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return div[order[a]] < div[order[b]] })
	for r, k := range order {
		drank[k] = r
	}
	w := 1 - float64(is.prm.nbElite)/float64(n)
	for k, q := range idx {
		sub[q].fit = float64(k)/float64(n-1) + w*float64(drank[k])/float64(n-1)
	}
}

func (is *island) removeWorst(sub *[]*indiv) {
	is.updateFitness(*sub)
	worst, wfit, wclone := -1, -1.0, false
	for k, x := range *sub {
		clone := len(x.prox) > 0 && x.prox[0].d < 1e-12
		if clone && !wclone || clone == wclone && x.fit > wfit {
			worst, wfit, wclone = k, x.fit, clone
		}
	}
	x := (*sub)[worst]
	for _, o := range *sub {
		for k := range o.prox {
			if o.prox[k].o == x {
				o.prox = append(o.prox[:k], o.prox[k+1:]...)
				break
			}
		}
	}
	*sub = append((*sub)[:worst], (*sub)[worst+1:]...)
}

func (is *island) tournament() *indiv {
	nf, ni := len(is.feas), len(is.infeas)
	pick := func() *indiv {
		k := is.rng.IntN(nf + ni)
		if k < nf {
			return is.feas[k]
		}
		return is.infeas[k-nf]
	}
	a, b := pick(), pick()
	if a.fit < b.fit {
		return a
	}
	return b
}

// crossover is the ordered crossover (OX) of two giant tours.
func (is *island) crossover(a, b *indiv) []int32 {
	n := len(a.tour)
	child := make([]int32, n)
	if n < 2 {
		copy(child, a.tour)
		return child
	}
	used := make([]bool, is.p.n)
	start := is.rng.IntN(n)
	end := is.rng.IntN(n)
	for end == start {
		end = is.rng.IntN(n)
	}
	k := start
	for k != (end+1)%n {
		child[k] = a.tour[k]
		used[a.tour[k]] = true
		k = (k + 1) % n
	}
	pos := (end + 1) % n
	for q := 1; q <= n; q++ {
		c := b.tour[(end+q)%n]
		if !used[c] {
			child[pos] = c
			used[c] = true
			pos = (pos + 1) % n
		}
	}
	return child
}

// managePenalties adapts penalties towards the target feasible fraction.
func (is *island) managePenalties() {
	adj := func(w float64, rec []bool) float64 {
		f := 0
		for _, ok := range rec {
			if ok {
				f++
			}
		}
		frac := float64(f) / float64(len(rec))
		if frac < is.prm.targetFeasible-0.05 {
			w = math.Min(w*1.2, 100000)
		} else if frac > is.prm.targetFeasible+0.05 {
			w = math.Max(w*0.85, 0.1)
		}
		return w
	}
	is.pen.load = adj(is.pen.load, is.recentL)
	if is.p.hasTW {
		is.pen.tw = adj(is.pen.tw, is.recentT)
	}
	is.recentL, is.recentT = is.recentL[:0], is.recentT[:0]
	for _, x := range is.infeas {
		x.reprice(is.p, is.pen)
	}
}

// randomTour returns a random permutation of the customers.
func (is *island) randomTour() []int32 {
	t := make([]int32, 0, is.p.n-1)
	for c := 1; c < is.p.n; c++ {
		t = append(t, int32(c))
	}
	is.rng.Shuffle(len(t), func(i, j int) { t[i], t[j] = t[j], t[i] })
	return t
}

// initPopulation educates the seeds, the constructive starts produced by
// gens and random tours, checking stop() between individuals.
func (is *island) initPopulation(seeds [][][]int32, gens []func() [][]int32, stop func() bool, budget time.Time) {
	for _, s := range seeds {
		if stop() {
			return
		}
		// A feasible constructive solution counts at once, before its
		// (on large instances, slow) education.
		if raw := is.p.newIndiv(copyRoutes(s), is.pen); raw.feasible {
			is.insert(raw)
		}
		is.educateSeed(is.sp.split(flatten(s), is.pen))
	}
	// Costlier constructive starts run after the cheap seeds, so a
	// feasible solution exists as early as possible.
	for _, g := range gens {
		if stop() {
			return
		}
		if s := g(); s != nil {
			if raw := is.p.newIndiv(copyRoutes(s), is.pen); raw.feasible {
				is.insert(raw)
			}
			is.educateSeed(is.sp.split(flatten(s), is.pen))
		}
	}
	// Large instances start from fewer random individuals: each costs a
	// full local search from scratch.
	size := 4 * is.prm.mu
	if is.p.n > 400 {
		size = is.prm.mu
	}
	for k := 0; k < size && !stop(); k++ {
		if len(is.feas)+len(is.infeas) >= 4 && time.Now().After(budget) {
			return
		}
		is.educate(is.sp.split(is.randomTour(), is.pen))
		if len(is.recentL) >= 100 {
			is.managePenalties()
		}
	}
}

func flatten(routes [][]int32) []int32 {
	var t []int32
	for _, r := range routes {
		t = append(t, r...)
	}
	return t
}

// step runs one HGS iteration.
func (is *island) step() {
	is.iter++
	is.updateFitness(is.feas)
	is.updateFitness(is.infeas)
	a := is.tournament()
	b := is.tournament()
	child := is.crossover(a, b)
	is.educate(is.sp.split(child, is.pen))
	if len(is.recentL) >= 100 {
		is.managePenalties()
	}
	if is.iter-is.bestIter > is.prm.nbIterNoImprove {
		is.restart()
	}
}

// restart clears the population, keeping the best solution.
func (is *island) restart() {
	is.feas, is.infeas = nil, nil
	is.bestIter = is.iter
}

// immigrate inserts a copy of another island's solution.
func (is *island) immigrate(x *indiv) {
	if x == nil {
		return
	}
	routes := make([][]int32, len(x.routes))
	for k, r := range x.routes {
		routes[k] = append([]int32(nil), r...)
	}
	y := is.p.newIndiv(routes, is.pen)
	is.insert(y)
}

func copyRoutes(rs [][]int32) [][]int32 {
	out := make([][]int32, 0, len(rs))
	for _, r := range rs {
		if len(r) > 0 {
			out = append(out, append([]int32(nil), r...))
		}
	}
	return out
}
