package demo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/route"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// routeTask compares travel-time learning for delivery routing. Routing
// itself is an optimiser, not a learner; what learns is the speed model
// (route.SpeedModel: a slowdown factor per zone and hour of day, learned
// online from delivered legs) that turns distances into the travel times
// the optimiser plans with. The simulator's true travel times change at
// the taste shift (roadworks in a quarter of the city's zones), so a
// model frozen before it plans routes that cannot keep their promised
// windows.
//
// Every wave (07:30, 11:30, 15:30 and 19:30), each warehouse's orders for
// the next two delivery slots are planned by route.Solve (deterministic:
// one worker, an iteration budget) once per variant with that variant's
// travel times, and each plan is driven under the simulator's true
// travel times (World.TravelTime at each leg's actual departure). A
// variant learns from the legs its own vans drove, once they have
// arrived: continual from all of them, frozen only before the freeze
// day, retrain from scratch at every midnight on the previous day's legs
// (learning online on day 0, like the others). Two non-learning
// references: free_flow (every factor 1) and true_times (planned with the
// true travel times at each node's planned departure, the best any
// estimate could do).
type routeTask struct {
	w         *sim.World
	start     time.Time
	shift     time.Time
	freezeDay int
	seed      uint64
	grid      route.Grid
	pending   map[string][]delivery // orders waiting for their wave, by warehouse
	depots    map[string]route.Point
	whs       []string // warehouse ids, in order
	nextWave  time.Time
	waves     int

	models  map[string]*route.SpeedModel // the learning variants' current models
	legs    map[string][]leg             // driven legs not yet arrived (learned once they have)
	retLegs map[int][]route.Observation  // retrain: arrived legs by day of arrival
	retDay  int                          // retrain: the day its model was built for
	res     map[string]*routeStats
	days    int
	errs    int // plans the solver could not make feasible under their own estimates
	dropped int // orders no plan could reach in their window (under the variant's estimates)
	apiErrs int // waves POST /v1/routes/optimize found no feasible plan for
	// api, if set, receives each wave of the first warehouse as a POST
	// /v1/routes/optimize request: the engine's plan is what the
	// dashboard's route map shows.
	api func(ctx context.Context, req *route.OptimizeRequest) error
}

// delivery is one order to deliver.
type delivery struct {
	id         string
	at         route.Point // (lon, lat)
	demand     float64
	start, end time.Time // promised window
}

// leg is one driven leg, learned from once it has arrived.
type leg struct {
	obs    route.Observation
	arrive time.Time
}

// routeStats accumulates one variant's deliveries.
type routeStats struct {
	stops, late         []float64 // per day (by window start)
	lateMin, etaAbsMin  []float64
	km                  []float64
	postStops, postLate float64 // windows starting after the shift
	postLateMin, postKm float64
	postETA             float64
	vans, postVans      float64
}

const (
	routeCapacity = 1000     // units per van
	routeFleet    = 20       // vans per warehouse and wave (a limit the plans stay well below)
	routeService  = 4 * 60.0 // seconds at each stop
	routeShift    = 8 * 3600 // seconds: vans must be back within 8 h of the wave
	freeFlowKmh   = 30.0     // the simulator's free-flow speed
	routeGranular = 8        // neighbour lists of the local search (the default 40 costs 3× the time here)
	routeIters    = 10       // genetic iterations per plan
	routeLimit    = 60 * time.Second
)

// The route variants: the three regimes plus two references.
const (
	nameFreeFlow  = "free_flow"
	nameTrueTimes = "true_times"
)

var routeVariants = []string{nameContinual, nameFrozen, nameRetrain, nameFreeFlow, nameTrueTimes}

// waveHours are the dispatch times (hour, minute 30) of each day; a wave
// takes the orders whose window starts within the next 4 hours.
var waveHours = []int{7, 11, 15, 19}

func newRouteTask(w *sim.World, freezeDay, days int, shift time.Time, seed uint64) (*routeTask, error) {
	minLat, minLon, maxLat, maxLon := w.Bounds()
	g := w.Config().ZoneGrid
	grid := route.Grid{MinX: minLon, MaxX: maxLon, MinY: minLat, MaxY: maxLat, Cols: g, Rows: g}
	r := &routeTask{w: w, start: w.Start(), shift: shift, freezeDay: freezeDay, seed: seed, grid: grid,
		pending: map[string][]delivery{}, depots: map[string]route.Point{}, models: map[string]*route.SpeedModel{},
		legs: map[string][]leg{}, retLegs: map[int][]route.Observation{}, res: map[string]*routeStats{}, days: days}
	for _, wh := range w.Warehouses() {
		r.whs = append(r.whs, wh.ID)
		r.depots[wh.ID] = route.Point{X: wh.Lon, Y: wh.Lat}
	}
	for _, n := range []string{nameContinual, nameFrozen, nameRetrain} {
		m, err := r.newModel()
		if err != nil {
			return nil, err
		}
		r.models[n] = m
	}
	for _, n := range routeVariants {
		r.res[n] = &routeStats{stops: make([]float64, days), late: make([]float64, days), lateMin: make([]float64, days),
			etaAbsMin: make([]float64, days), km: make([]float64, days)}
	}
	r.nextWave = r.waveAfter(r.start)
	return r, nil
}

// newModel returns an empty speed model over the city's zones. Memory 30
// lets a zone-hour follow a change within a day or two of deliveries (the
// default, 500, would average the old traffic in for weeks).
func (r *routeTask) newModel() (*route.SpeedModel, error) {
	m, err := route.NewSpeedModel(r.grid, route.SpeedModelOptions{Memory: 30})
	if err != nil {
		return nil, fmt.Errorf("demo: routes: %w", err)
	}
	return m, nil
}

// waveAfter returns the first wave time at or after t.
func (r *routeTask) waveAfter(t time.Time) time.Time {
	day := t.UTC().Truncate(24 * time.Hour)
	for {
		for _, h := range waveHours {
			if w := day.Add(time.Duration(h)*time.Hour + 30*time.Minute); !w.Before(t) {
				return w
			}
		}
		day = day.Add(24 * time.Hour)
	}
}

func (r *routeTask) observe(e *event.Event) {
	if e.Type != event.TypeOrder || !e.HasLatLon || e.WindowEnd.IsZero() {
		return
	}
	var q float64
	for _, l := range e.Lines {
		q += l.Quantity
	}
	r.pending[e.Warehouse] = append(r.pending[e.Warehouse], delivery{id: e.OrderID, at: route.Point{X: e.Lon, Y: e.Lat},
		demand: min(q, routeCapacity), start: e.WindowStart, end: e.WindowEnd})
}

// advance dispatches every wave due by now (the stream has reached now,
// so every order of the wave is known: orders are placed at least three
// hours before their window).
func (r *routeTask) advance(ctx context.Context, now time.Time) error {
	for !r.nextWave.After(now) {
		if err := r.wave(ctx, r.nextWave); err != nil {
			return err
		}
		r.nextWave = r.waveAfter(r.nextWave.Add(time.Minute))
	}
	return nil
}

// learn hands the legs that have arrived by t to their variants' models,
// and rebuilds the retrain model at the first wave of each day.
func (r *routeTask) learn(t time.Time) error {
	for _, n := range []string{nameContinual, nameFrozen, nameRetrain} {
		kept := r.legs[n][:0]
		for _, l := range r.legs[n] {
			if l.arrive.After(t) {
				kept = append(kept, l)
				continue
			}
			ld := int(l.arrive.Sub(r.start).Hours() / 24)
			switch n {
			case nameFrozen:
				if ld >= r.freezeDay {
					continue
				}
			case nameRetrain:
				r.retLegs[ld] = append(r.retLegs[ld], l.obs)
				if r.retDay > 0 {
					continue // the day's model stays fixed until the next midnight
				}
			}
			if err := r.models[n].Observe(l.obs); err != nil {
				return fmt.Errorf("demo: routes: %w", err)
			}
		}
		r.legs[n] = kept
	}
	if day := int(t.Sub(r.start).Hours() / 24); day > r.retDay {
		m, err := r.newModel()
		if err != nil {
			return err
		}
		for _, o := range r.retLegs[day-1] {
			if err := m.Observe(o); err != nil {
				return fmt.Errorf("demo: routes: %w", err)
			}
		}
		r.models[nameRetrain] = m
		delete(r.retLegs, day-1)
		r.retDay = day
	}
	return nil
}

// wave plans and drives the wave at t for every warehouse and variant.
func (r *routeTask) wave(ctx context.Context, t time.Time) error {
	if err := r.learn(t); err != nil {
		return err
	}
	r.waves++
	for _, wh := range r.whs {
		var orders, rest []delivery
		for _, o := range r.pending[wh] {
			if o.start.Before(t.Add(4 * time.Hour)) {
				orders = append(orders, o)
			} else {
				rest = append(rest, o)
			}
		}
		r.pending[wh] = rest
		if len(orders) == 0 {
			continue
		}
		// Plans are independent given the models: solve them two at a
		// time (route.Solve is deterministic for a seed and an iteration
		// budget), then drive them in order.
		plans := make([]*wavePlan, len(routeVariants))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(2)
		for i, n := range routeVariants {
			g.Go(func() error {
				p, err := r.plan(gctx, n, wh, t, orders)
				plans[i] = p
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for _, p := range plans {
			r.drive(p)
		}
		if r.api != nil && wh == r.whs[0] {
			if err := r.api(ctx, r.optimizeRequest(wh, t, orders)); err != nil {
				return err
			}
		}
	}
	return nil
}

// wavePlan is one variant's plan for one warehouse's wave.
type wavePlan struct {
	n, wh   string
	t       time.Time
	orders  []delivery
	keep    []bool // orders[i-1] is in the plan iff keep[i]
	in      *route.Instance
	sol     *route.Solution // nil when no order could be planned
	infeasy bool            // the solver found no plan feasible under the variant's own estimates
}

// plan plans orders from warehouse wh at t with variant n's travel
// times. It only reads the task (the models are safe for concurrent
// reads, and the world's travel times are pure functions of its
// configuration), so plans of one wave may run concurrently.
func (r *routeTask) plan(ctx context.Context, n, wh string, t time.Time, orders []delivery) (*wavePlan, error) {
	depot := r.depots[wh]
	pts := make([]route.Point, 0, len(orders)+1)
	pts = append(pts, depot)
	for _, o := range orders {
		pts = append(pts, o.at)
	}
	k := len(pts)
	base := make([]float64, k*k) // free-flow seconds
	dist := make([]float64, k*k) // km
	for i := range pts {
		for j := range pts {
			if i != j {
				d := kmBetween(pts[i], pts[j])
				dist[i*k+j] = d
				base[i*k+j] = d / freeFlowKmh * 3600
			}
		}
	}
	ready := make([]float64, k)
	due := make([]float64, k)
	service := make([]float64, k)
	demand := make([]float64, k)
	due[0] = routeShift
	for i, o := range orders {
		ready[i+1] = math.Max(0, o.start.Sub(t).Seconds())
		due[i+1] = math.Max(ready[i+1], o.end.Sub(t).Seconds())
		service[i+1] = routeService
		demand[i+1] = o.demand
	}
	// Expected departure from each node: at its window's start (the
	// depot's at t), as POST /v1/routes/optimize assumes.
	tm := base
	switch n {
	case nameFreeFlow:
	case nameTrueTimes:
		tm = make([]float64, k*k)
		for i := range pts {
			dep := t.Add(time.Duration(ready[i] * float64(time.Second)))
			for j := range pts {
				if i != j {
					tm[i*k+j] = r.w.TravelTime(pts[i].Y, pts[i].X, pts[j].Y, pts[j].X, dep).Seconds()
				}
			}
		}
	default:
		dep := make([]float64, k)
		m0 := float64(t.Hour()*60 + t.Minute())
		for i := range dep {
			dep[i] = m0 + ready[i]/60
		}
		tm = r.models[n].TimeMatrix(nil, pts, base, dep)
	}
	// Orders no van can reach in their window under these estimates are
	// dropped from the plan (and counted late): the instance must be
	// valid for the solver.
	keep := make([]bool, k)
	for i := range keep {
		keep[i] = true
	}
	var in *route.Instance
	for {
		in = subInstance(keep, dist, tm, ready, due, service, demand)
		err := in.Prepare()
		if err == nil {
			break
		}
		var ie *route.InvalidError
		if !errors.As(err, &ie) || ie.ID <= 0 || ie.ID >= k || !keep[ie.ID] {
			return nil, fmt.Errorf("demo: routes: wave %v, %s, %s: %w", t, wh, n, err)
		}
		keep[ie.ID] = false // the instance's IDs are indices into pts
	}
	p := &wavePlan{n: n, wh: wh, t: t, orders: orders, keep: keep, in: in}
	if in.N() < 2 {
		return p, nil
	}
	seed := r.seed ^ uint64(t.Unix()) ^ uint64(len(wh))<<40
	sol, err := route.Solve(ctx, in, route.Options{Workers: 1, MaxIterations: routeIters, TimeLimit: routeLimit, Seed: seed,
		Objective: route.ObjectiveHierarchical, Granular: routeGranular})
	if err != nil {
		if !errors.Is(err, route.ErrNoFeasible) || sol == nil {
			return nil, fmt.Errorf("demo: routes: wave %v, %s, %s: %w", t, wh, n, err)
		}
		p.infeasy = true // drive the least-infeasible plan anyway
	}
	p.sol = sol
	return p, nil
}

// drive drives plan p under the true travel times, records the outcome
// and queues the driven legs for the variant's learning.
func (r *routeTask) drive(p *wavePlan) {
	n, wh, t, orders, in := p.n, p.wh, p.t, p.orders, p.in
	depot := r.depots[wh]
	st := r.res[n]
	for i := 1; i < len(p.keep); i++ {
		if !p.keep[i] {
			r.dropped++
			st.record(r, orders[i-1].start, 1, 1, 0, 0)
		}
	}
	if p.infeasy {
		r.errs++
	}
	if p.sol == nil {
		return
	}
	sol := p.sol
	for _, rt := range sol.Routes {
		if len(rt) == 0 {
			continue
		}
		st.vans++
		if !t.Before(r.shift) {
			st.postVans++
		}
		// Planned schedule (the variant's estimates) and the drive (the
		// truth), leg by leg.
		planT, prev := 0.0, 0 // sub-instance node indices
		now := t
		prevPt := depot
		for _, c := range rt {
			node := in.IDs[c]
			o := orders[node-1]
			planT += in.Travel(prev, c)
			eta := t.Add(time.Duration(planT * float64(time.Second)))
			planT = math.Max(planT, in.Ready[c]) + in.Service[c]
			tt := r.w.TravelTime(prevPt.Y, prevPt.X, o.at.Y, o.at.X, now)
			arrive := now.Add(tt)
			r.drove(n, prevPt, o.at, now, tt, arrive)
			lateMin := math.Max(0, arrive.Sub(o.end).Minutes())
			late := 0.0
			if lateMin > 0 {
				late = 1
			}
			st.record(r, o.start, 1, late, lateMin, math.Abs(arrive.Sub(eta).Minutes()))
			st.addKm(r, o.start, kmBetween(prevPt, o.at))
			begin := arrive
			if begin.Before(o.start) {
				begin = o.start
			}
			now = begin.Add(time.Duration(routeService * float64(time.Second)))
			prev, prevPt = c, o.at
		}
		tt := r.w.TravelTime(prevPt.Y, prevPt.X, depot.Y, depot.X, now)
		r.drove(n, prevPt, depot, now, tt, now.Add(tt))
		st.addKm(r, t, kmBetween(prevPt, depot))
	}
}

// drove queues a driven leg for the learning variant n.
func (r *routeTask) drove(n string, from, to route.Point, depart time.Time, tt time.Duration, arrive time.Time) {
	if _, ok := r.models[n]; !ok || tt <= 0 {
		return
	}
	planned := time.Duration(kmBetween(from, to) / freeFlowKmh * float64(time.Hour))
	if planned <= 0 {
		return
	}
	r.legs[n] = append(r.legs[n], leg{obs: route.Observation{From: from, To: to, Depart: depart, Planned: planned, Actual: tt}, arrive: arrive})
}

// subInstance builds the instance over the kept nodes (node 0, the
// depot, always kept); IDs[i] is the index in the full node list.
func subInstance(keep []bool, dist, tm, ready, due, service, demand []float64) *route.Instance {
	k := len(keep)
	var idx []int
	for i := 0; i < k; i++ {
		if i == 0 || keep[i] {
			idx = append(idx, i)
		}
	}
	m := len(idx)
	in := &route.Instance{Name: "demo", Kind: route.KindJSON, Metric: route.MetricExplicit, Capacity: routeCapacity, Vehicles: routeFleet,
		IDs: idx, Demand: make([]float64, m), Ready: make([]float64, m), Due: make([]float64, m), Service: make([]float64, m),
		Explicit: make([]float64, m*m), TimeMatrix: make([]float64, m*m)}
	for a, i := range idx {
		in.Demand[a], in.Ready[a], in.Due[a], in.Service[a] = demand[i], ready[i], due[i], service[i]
		for b, j := range idx {
			in.Explicit[a*m+b] = dist[i*k+j]
			in.TimeMatrix[a*m+b] = tm[i*k+j]
		}
	}
	return in
}

func (s *routeStats) record(r *routeTask, windowStart time.Time, stops, late, lateMin, etaAbsMin float64) {
	d := dayOf(r.start, windowStart, r.days)
	s.stops[d] += stops
	s.late[d] += late
	s.lateMin[d] += lateMin
	s.etaAbsMin[d] += etaAbsMin
	if !windowStart.Before(r.shift) {
		s.postStops += stops
		s.postLate += late
		s.postLateMin += lateMin
		s.postETA += etaAbsMin
	}
}

func (s *routeStats) addKm(r *routeTask, at time.Time, km float64) {
	s.km[dayOf(r.start, at, r.days)] += km
	if !at.Before(r.shift) {
		s.postKm += km
	}
}

// postLateShare is variant n's share of deliveries after the shift that
// arrived after their window closed (dropped orders count as late).
func (r *routeTask) postLateShare(n string) float64 {
	s := r.res[n]
	if s.postStops == 0 {
		return math.NaN()
	}
	return s.postLate / s.postStops
}

func (r *routeTask) lateShare(n string, d int) float64 {
	s := r.res[n]
	if s.stops[d] == 0 {
		return math.NaN()
	}
	return s.late[d] / s.stops[d]
}

// kmBetween is the great-circle distance in km between two (lon, lat)
// points.
func kmBetween(a, b route.Point) float64 {
	const rEarth = 6371.0088
	p1, p2 := a.Y*math.Pi/180, b.Y*math.Pi/180
	dp, dl := p2-p1, (b.X-a.X)*math.Pi/180
	h := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * rEarth * math.Asin(math.Min(1, math.Sqrt(h)))
}

// capability summarises the routing comparison after the shift.
func (r *routeTask) capability() Capability {
	c := Capability{Metric: "late_delivery_share", HigherIsBetter: false,
		Continual: jfloat(r.postLateShare(nameContinual)), Frozen: jfloat(r.postLateShare(nameFrozen)), Retrain: jfloat(r.postLateShare(nameRetrain)),
		Extra:     map[string]jfloat{nameFreeFlow: jfloat(r.postLateShare(nameFreeFlow)), nameTrueTimes: jfloat(r.postLateShare(nameTrueTimes))},
		Secondary: map[string]jfloat{},
		Source: "share of deliveries whose window starts after the shift that arrived after the window closed, driven under the simulator's " +
			"true travel times (roadworks in a quarter of the zones from the shift on); routes planned by route.Solve at four waves a day " +
			"per warehouse with each variant's travel times: a speed model (route.SpeedModel, slowdown per zone and hour) learned online " +
			"from its own vans' legs (continual), frozen at the freeze day, or refitted at midnight on the previous day's legs (retrain); " +
			"free_flow plans at 30 km/h everywhere, true_times with the simulator's own travel times",
	}
	for _, n := range routeVariants {
		s := r.res[n]
		if s.postStops > 0 {
			c.Secondary["eta_mae_min_"+n] = jfloat(s.postETA / s.postStops)
			c.Secondary["late_min_per_stop_"+n] = jfloat(s.postLateMin / s.postStops)
			c.Secondary["km_per_stop_"+n] = jfloat(s.postKm / s.postStops)
		}
		c.Secondary["vans_"+n] = jfloat(s.postVans)
	}
	return c
}

// optimizeRequest is the wave as a POST /v1/routes/optimize request.
func (r *routeTask) optimizeRequest(wh string, t time.Time, orders []delivery) *route.OptimizeRequest {
	pt := func(p route.Point) route.Location {
		lat, lon := p.Y, p.X
		return route.Location{Lat: &lat, Lon: &lon}
	}
	req := &route.OptimizeRequest{Depot: pt(r.depots[wh]), SpeedPerHour: freeFlowKmh, TimeLimitMS: 200, Seed: r.seed, Objective: "hierarchical"}
	for k := 0; k < routeFleet; k++ {
		req.Vehicles = append(req.Vehicles, route.Vehicle{ID: fmt.Sprintf("%s-van%d", wh, k+1), Capacity: routeCapacity,
			ShiftStart: t, ShiftEnd: t.Add(routeShift * time.Second)})
	}
	for _, o := range orders {
		ws, we := o.start, o.end
		req.Orders = append(req.Orders, route.Order{ID: o.id, Location: pt(o.at), Demand: o.demand, WindowStart: &ws, WindowEnd: &we, ServiceS: routeService})
	}
	return req
}
