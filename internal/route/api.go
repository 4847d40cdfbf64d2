package route

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// OptimizeRequest is the body of POST /v1/routes/optimize. Locations are
// either geographic (lat, lon: distances in km by great circle) or planar
// (x, y: Euclidean distances in the coordinates' unit); all locations of a
// request must use the same kind. Travel time is distance / SpeedPerHour,
// scaled by the learned speed model when the server has one.
type OptimizeRequest struct {
	Depot    Location  `json:"depot"`
	Vehicles []Vehicle `json:"vehicles"`
	Orders   []Order   `json:"orders"`
	// SpeedPerHour is the free-flow speed in distance units per hour
	// (km/h for lat/lon); 0 means 30.
	SpeedPerHour float64 `json:"speed_per_hour,omitempty"`
	// TimeLimitMS bounds the search; 0 means 2000, at most 60000.
	TimeLimitMS int    `json:"time_limit_ms,omitempty"`
	Seed        uint64 `json:"seed,omitempty"`
	// Objective is "distance" (default) or "hierarchical".
	Objective string `json:"objective,omitempty"`
}

// Location is a point given as lat/lon or x/y.
type Location struct {
	Lat *float64 `json:"lat,omitempty"`
	Lon *float64 `json:"lon,omitempty"`
	X   *float64 `json:"x,omitempty"`
	Y   *float64 `json:"y,omitempty"`
}

// Vehicle is one available vehicle. All vehicles of a request must have
// the same capacity and shift (heterogeneous fleets are not supported).
type Vehicle struct {
	ID         string    `json:"id"`
	Capacity   float64   `json:"capacity"`
	ShiftStart time.Time `json:"shift_start"`
	ShiftEnd   time.Time `json:"shift_end"`
}

// Order is one delivery.
type Order struct {
	ID       string  `json:"id"`
	Location         // lat/lon or x/y
	Demand   float64 `json:"demand"`
	// WindowStart/WindowEnd bound the start of service; nil means open.
	WindowStart *time.Time `json:"window_start,omitempty"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	// ServiceS is the time spent at the stop, in seconds.
	ServiceS float64 `json:"service_s,omitempty"`
}

// OptimizeResponse is the answer to POST /v1/routes/optimize.
type OptimizeResponse struct {
	Routes   []RoutePlan `json:"routes"`
	Cost     float64     `json:"cost"` // total distance
	Vehicles int         `json:"vehicles"`
	Feasible bool        `json:"feasible"`
	Seconds  float64     `json:"seconds"`
}

// RoutePlan is the plan of one vehicle.
type RoutePlan struct {
	Vehicle  string    `json:"vehicle"`
	Stops    []Stop    `json:"stops"`
	Distance float64   `json:"distance"`
	Load     float64   `json:"load"`
	Depart   time.Time `json:"depart"`
	Return   time.Time `json:"return"`
}

// Stop is one planned visit with its estimated arrival (ETA) and start
// of service.
type Stop struct {
	OrderID      string    `json:"order_id"`
	ETA          time.Time `json:"eta"`
	ServiceStart time.Time `json:"service_start"`
}

// FieldError names the request field that is invalid.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "route: " + e.Field + ": " + e.Msg }

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func locPoint(l Location, field string, geo *int) (Point, error) {
	hasGeo := l.Lat != nil || l.Lon != nil
	hasXY := l.X != nil || l.Y != nil
	switch {
	case hasGeo && hasXY:
		return Point{}, &FieldError{field, "give either lat/lon or x/y, not both"}
	case hasGeo:
		if l.Lat == nil || l.Lon == nil {
			return Point{}, &FieldError{field, "both lat and lon are required"}
		}
		if *l.Lat < -90 || *l.Lat > 90 || *l.Lon < -180 || *l.Lon > 180 || math.IsNaN(*l.Lat+*l.Lon) {
			return Point{}, &FieldError{field, fmt.Sprintf("lat %v, lon %v out of range", *l.Lat, *l.Lon)}
		}
		if *geo == 0 {
			*geo = 1
		} else if *geo != 1 {
			return Point{}, &FieldError{field, "mixes lat/lon with x/y locations"}
		}
		return Point{X: *l.Lon, Y: *l.Lat}, nil
	case hasXY:
		if l.X == nil || l.Y == nil {
			return Point{}, &FieldError{field, "both x and y are required"}
		}
		if math.IsNaN(*l.X+*l.Y) || math.IsInf(*l.X+*l.Y, 0) {
			return Point{}, &FieldError{field, "x and y must be finite"}
		}
		if *geo == 0 {
			*geo = 2
		} else if *geo != 2 {
			return Point{}, &FieldError{field, "mixes x/y with lat/lon locations"}
		}
		return Point{X: *l.X, Y: *l.Y}, nil
	}
	return Point{}, &FieldError{field, "location required (lat/lon or x/y)"}
}

// Optimize validates req, builds the instance (times in seconds after the
// shift start), solves it and returns routes with ETAs. When model is not
// nil, travel times are the free-flow times scaled by its learned factor
// for each leg's midpoint zone and expected departure hour.
func Optimize(ctx context.Context, req *OptimizeRequest, model *SpeedModel) (*OptimizeResponse, error) {
	if len(req.Vehicles) == 0 {
		return nil, &FieldError{"vehicles", "at least one vehicle is required"}
	}
	if len(req.Orders) == 0 {
		return nil, &FieldError{"orders", "at least one order is required"}
	}
	if len(req.Orders) > maxNodes-1 {
		return nil, &FieldError{"orders", fmt.Sprintf("%d orders exceed the limit %d", len(req.Orders), maxNodes-1)}
	}
	v0 := req.Vehicles[0]
	if v0.Capacity <= 0 || math.IsNaN(v0.Capacity) || math.IsInf(v0.Capacity, 0) {
		return nil, &FieldError{"vehicles[0].capacity", "must be positive"}
	}
	if v0.ShiftStart.IsZero() || !v0.ShiftEnd.After(v0.ShiftStart) {
		return nil, &FieldError{"vehicles[0].shift_end", "shift_start and shift_end are required and the shift must have positive length"}
	}
	for k, v := range req.Vehicles {
		if v.Capacity != v0.Capacity {
			return nil, &FieldError{fmt.Sprintf("vehicles[%d].capacity", k), fmt.Sprintf("%v differs from vehicles[0] (%v); heterogeneous fleets are not supported", v.Capacity, v0.Capacity)}
		}
		if !v.ShiftStart.Equal(v0.ShiftStart) || !v.ShiftEnd.Equal(v0.ShiftEnd) {
			return nil, &FieldError{fmt.Sprintf("vehicles[%d].shift_start", k), "all vehicles must share one shift"}
		}
	}
	speed := req.SpeedPerHour
	if speed == 0 {
		speed = 30
	}
	if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		return nil, &FieldError{"speed_per_hour", "must be positive"}
	}
	limit := time.Duration(req.TimeLimitMS) * time.Millisecond
	if req.TimeLimitMS == 0 {
		limit = 2 * time.Second
	}
	if req.TimeLimitMS < 0 || limit > time.Minute {
		return nil, &FieldError{"time_limit_ms", "must be in [0, 60000]"}
	}
	obj, err := ParseObjective(req.Objective)
	if err != nil {
		return nil, &FieldError{"objective", err.Error()}
	}
	geo := 0
	n := len(req.Orders) + 1
	pts := make([]Point, n)
	if pts[0], err = locPoint(req.Depot, "depot", &geo); err != nil {
		return nil, err
	}
	t0 := v0.ShiftStart
	in := &Instance{Name: "request", Kind: KindJSON, Capacity: v0.Capacity, Vehicles: len(req.Vehicles)}
	in.IDs = make([]int, n)
	in.Demand = make([]float64, n)
	in.Ready = make([]float64, n)
	in.Due = make([]float64, n)
	in.Service = make([]float64, n)
	in.Due[0] = v0.ShiftEnd.Sub(t0).Seconds()
	seen := make(map[string]int, n)
	for k, o := range req.Orders {
		i := k + 1
		f := fmt.Sprintf("orders[%d]", k)
		if o.ID == "" {
			return nil, &FieldError{f + ".id", "required"}
		}
		if j, dup := seen[o.ID]; dup {
			return nil, &FieldError{f + ".id", fmt.Sprintf("duplicate id %q (also orders[%d])", o.ID, j)}
		}
		seen[o.ID] = k
		if pts[i], err = locPoint(o.Location, f, &geo); err != nil {
			return nil, err
		}
		if o.Demand < 0 || math.IsNaN(o.Demand) || math.IsInf(o.Demand, 0) {
			return nil, &FieldError{f + ".demand", fmt.Sprintf("order %q: demand %v must be a non-negative number", o.ID, o.Demand)}
		}
		if o.Demand > v0.Capacity {
			return nil, &FieldError{f + ".demand", fmt.Sprintf("order %q: demand %v exceeds the vehicle capacity %v", o.ID, o.Demand, v0.Capacity)}
		}
		if o.ServiceS < 0 || math.IsNaN(o.ServiceS) {
			return nil, &FieldError{f + ".service_s", fmt.Sprintf("order %q: must be non-negative", o.ID)}
		}
		in.IDs[i] = i
		in.Demand[i] = o.Demand
		in.Service[i] = o.ServiceS
		in.Due[i] = in.Due[0]
		if o.WindowStart != nil {
			in.Ready[i] = math.Max(0, o.WindowStart.Sub(t0).Seconds())
		}
		if o.WindowEnd != nil {
			in.Due[i] = o.WindowEnd.Sub(t0).Seconds()
			if in.Due[i] < 0 {
				return nil, &FieldError{f + ".window_end", fmt.Sprintf("order %q: window ends at %v, before the shift starts at %v", o.ID, o.WindowEnd.Format(time.RFC3339), t0.Format(time.RFC3339))}
			}
		}
		if in.Ready[i] > in.Due[i] {
			return nil, &FieldError{f + ".window_start", fmt.Sprintf("order %q: window start is after window end", o.ID)}
		}
	}
	// Costs in km (geo) or coordinate units; times in seconds.
	in.Metric = MetricExplicit
	in.Explicit = make([]float64, n*n)
	base := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			var d float64
			if geo == 1 {
				d = haversine(pts[i].Y, pts[i].X, pts[j].Y, pts[j].X) / 1000
			} else {
				d = math.Hypot(pts[i].X-pts[j].X, pts[i].Y-pts[j].Y)
			}
			in.Explicit[i*n+j] = d
			base[i*n+j] = d / speed * 3600
		}
	}
	in.TimeMatrix = base
	if model != nil {
		dep := make([]float64, n)
		start := float64(t0.Hour()*60+t0.Minute()) + float64(t0.Second())/60
		for i := range dep {
			dep[i] = start + in.Ready[i]/60
		}
		in.TimeMatrix = model.TimeMatrix(nil, pts, base, dep)
	}
	if err := in.Prepare(); err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) && ie.ID > 0 && ie.ID < n {
			return nil, &FieldError{fmt.Sprintf("orders[%d]", ie.ID-1), fmt.Sprintf("order %q: %s", req.Orders[ie.ID-1].ID, ie.Msg)}
		}
		return nil, err
	}
	sol, err := Solve(ctx, in, Options{TimeLimit: limit, Seed: req.Seed, Objective: obj})
	if err != nil {
		return nil, err
	}
	resp := &OptimizeResponse{Cost: sol.Cost, Vehicles: sol.Vehicles(), Feasible: sol.Feasible}
	if sol.Stats != nil {
		resp.Seconds = sol.Stats.Elapsed.Seconds()
	}
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for k, r := range sol.Routes {
		plan := RoutePlan{Vehicle: req.Vehicles[k].ID}
		// Depart as late as possible without extra waiting: compute the
		// schedule forward from the shift start, then it is reported as is.
		t, prev := in.Ready[0], 0
		for _, c := range r {
			t += in.Travel(prev, c)
			eta := t
			t = math.Max(t, in.Ready[c])
			plan.Stops = append(plan.Stops, Stop{OrderID: req.Orders[c-1].ID, ETA: at(eta), ServiceStart: at(t)})
			plan.Distance += in.Dist(prev, c)
			plan.Load += in.Demand[c]
			t += in.Service[c]
			prev = c
		}
		plan.Distance += in.Dist(prev, 0)
		plan.Depart = at(in.Ready[0])
		plan.Return = at(t + in.Travel(prev, 0))
		resp.Routes = append(resp.Routes, plan)
	}
	return resp, nil
}

// String summarises a response for logs and examples.
func (r *OptimizeResponse) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d routes, cost %.2f", r.Vehicles, r.Cost)
	return b.String()
}
