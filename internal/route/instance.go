// Package route solves capacitated vehicle-routing problems with and
// without time windows (CVRP, VRPTW) and learns travel times from
// delivered orders.
//
// An Instance holds one depot (index 0) and its customers (indices 1..N-1)
// with demands, a vehicle capacity, an optional fleet limit, optional time
// windows and service times, and a dense cost matrix computed once by the
// family's convention: CVRPLIB rounds every Euclidean distance to the
// nearest integer, Solomon/DIMACS truncates it to one decimal. Travel time
// equals cost unless a separate time matrix is given (JSON/API instances).
//
// Solve runs a hybrid genetic search (giant-tour split, OX crossover,
// education by granular local search, penalised infeasible solutions with
// adaptive penalties, diversity management) on one island per worker, with
// deterministic ring migration between islands. Every solution Solve
// returns has been re-verified by Check, which recomputes distances from
// the raw data and simulates the routes on its own, sharing no code with
// the solver's O(1) segment evaluation.
//
// Invariants: index 0 is the depot; customer ids reported in routes are
// the ids of the instance file (Instance.IDs); the cost matrix is symmetric
// for coordinate instances, and all reported costs follow the family's
// rounding convention.
package route

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Kind names the family an instance came from; it fixes the distance
// convention and the numbering used in .sol files.
type Kind int

const (
	// KindCVRPLIB is a TSPLIB-style .vrp file (CVRPLIB sets A, B, P, X...).
	KindCVRPLIB Kind = iota
	// KindSolomon is a Solomon VRPTW text file.
	KindSolomon
	// KindJSON is an instance given as JSON (API or file).
	KindJSON
)

func (k Kind) String() string {
	switch k {
	case KindCVRPLIB:
		return "cvrplib"
	case KindSolomon:
		return "solomon"
	case KindJSON:
		return "json"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Metric says how the cost between two points is computed from their
// coordinates.
type Metric int

const (
	// MetricRound is Euclidean distance rounded to the nearest integer
	// (TSPLIB EUC_2D, the CVRPLIB convention).
	MetricRound Metric = iota
	// MetricTrunc1 is Euclidean distance truncated to one decimal (the
	// CVRPLIB/DIMACS convention for Solomon instances).
	MetricTrunc1
	// MetricExact is the unrounded Euclidean distance.
	MetricExact
	// MetricCeil is Euclidean distance rounded up (TSPLIB CEIL_2D).
	MetricCeil
	// MetricExplicit means the costs were given as a matrix.
	MetricExplicit
	// MetricHaversine is great-circle distance in metres between (lat, lon)
	// points stored as Y = lat, X = lon.
	MetricHaversine
)

// Horizon is the time-window end used for customers without a window.
const Horizon = 1e12

// Instance is one routing problem. Index 0 is the depot. Build one with
// LoadFile, ParseVRP, ParseSolomon, ParseJSON or NewInstance; the slices
// must not be modified after Prepare has run (the solver reads them
// concurrently).
type Instance struct {
	Name   string
	Kind   Kind
	Metric Metric
	// IDs are the node ids of the instance file, IDs[0] being the depot.
	IDs []int
	// X, Y are coordinates (Y = latitude, X = longitude for haversine);
	// nil for explicit-matrix instances without coordinates.
	X, Y []float64
	// Demand per node; Demand[0] is 0.
	Demand []float64
	// Capacity of every vehicle.
	Capacity float64
	// Vehicles is the fleet-size limit; 0 means unlimited.
	Vehicles int
	// Ready, Due are the time windows (start of service must lie in
	// [Ready, Due]; for the depot, the vehicle must return by Due[0]).
	Ready, Due []float64
	// Service is the service time at each node.
	Service []float64
	// HasTW reports whether any window or service time constrains the
	// instance.
	HasTW bool
	// Explicit is the cost matrix read from the file (n*n, row-major) for
	// MetricExplicit; nil otherwise.
	Explicit []float64
	// TimeMatrix optionally gives travel times (n*n) different from costs.
	TimeMatrix []float64

	dist []float64 // n*n cost matrix
	tt   []float64 // n*n travel time matrix (aliases dist when nil TimeMatrix)
}

// N returns the number of nodes including the depot.
func (in *Instance) N() int { return len(in.Demand) }

// Customers returns the number of customers.
func (in *Instance) Customers() int { return len(in.Demand) - 1 }

// Dist returns the cost between nodes i and j (indices, not ids).
func (in *Instance) Dist(i, j int) float64 { return in.dist[i*in.N()+j] }

// Travel returns the travel time between nodes i and j.
func (in *Instance) Travel(i, j int) float64 { return in.tt[i*in.N()+j] }

// SolID returns the number customer index i carries in a CVRPLIB .sol
// file: the 1-based position among customers for CVRPLIB instances (the
// depot omitted), and the file id for Solomon and JSON instances.
func (in *Instance) SolID(i int) int {
	if in.Kind == KindCVRPLIB {
		return i
	}
	return in.IDs[i]
}

// metricDist computes the cost between two coordinate points.
func metricDist(m Metric, x1, y1, x2, y2 float64) float64 {
	dx, dy := x1-x2, y1-y2
	d := math.Sqrt(dx*dx + dy*dy)
	switch m {
	case MetricRound:
		return math.Floor(d + 0.5)
	case MetricTrunc1:
		// Guard against 0.3*10 = 2.9999999 style artefacts.
		return math.Floor(d*10+1e-9) / 10
	case MetricCeil:
		return math.Ceil(d)
	case MetricHaversine:
		return haversine(y1, x1, y2, x2)
	}
	return d
}

// haversine returns the great-circle distance in metres.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// ErrInvalid is wrapped by every validation error of an instance.
var ErrInvalid = errors.New("invalid instance")

// InvalidError describes what is wrong with an instance and where.
type InvalidError struct {
	File string // file name, if any
	Line int    // 1-based line, 0 if not tied to a line
	ID   int    // customer id, -1 if not tied to a customer
	Msg  string
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString("route: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.ID >= 0 {
		fmt.Fprintf(&b, "customer %d: ", e.ID)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Prepare validates the instance and computes its matrices. Loaders call
// it; call it yourself after building an Instance by hand.
func (in *Instance) Prepare() error {
	n := len(in.Demand)
	bad := func(id int, f string, a ...any) error {
		return &InvalidError{ID: id, Msg: fmt.Sprintf(f, a...)}
	}
	if n < 2 {
		return bad(-1, "need a depot and at least one customer, have %d nodes", n)
	}
	if len(in.IDs) != n {
		return bad(-1, "have %d ids for %d nodes", len(in.IDs), n)
	}
	if in.Capacity <= 0 || math.IsNaN(in.Capacity) || math.IsInf(in.Capacity, 0) {
		return bad(-1, "vehicle capacity %v must be positive", in.Capacity)
	}
	if in.Vehicles < 0 {
		return bad(-1, "fleet limit %d must not be negative", in.Vehicles)
	}
	seen := make(map[int]int, n)
	for i, id := range in.IDs {
		if j, dup := seen[id]; dup {
			return bad(id, "duplicate id (nodes %d and %d)", j+1, i+1)
		}
		seen[id] = i
	}
	if in.Ready == nil {
		in.Ready = make([]float64, n)
	}
	if in.Due == nil {
		in.Due = make([]float64, n)
		for i := range in.Due {
			in.Due[i] = Horizon
		}
	}
	if in.Service == nil {
		in.Service = make([]float64, n)
	}
	if len(in.Ready) != n || len(in.Due) != n || len(in.Service) != n {
		return bad(-1, "time-window arrays have %d/%d/%d entries for %d nodes", len(in.Ready), len(in.Due), len(in.Service), n)
	}
	if in.Demand[0] != 0 {
		return bad(in.IDs[0], "the depot has demand %v; it must be 0", in.Demand[0])
	}
	total := 0.0
	for i := 1; i < n; i++ {
		d := in.Demand[i]
		if d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
			return bad(in.IDs[i], "demand %v must be a non-negative number", d)
		}
		if d > in.Capacity {
			return bad(in.IDs[i], "demand %v exceeds the vehicle capacity %v", d, in.Capacity)
		}
		total += d
	}
	if in.Vehicles > 0 && total > float64(in.Vehicles)*in.Capacity+1e-9 {
		return bad(-1, "total demand %v exceeds the fleet's capacity %d × %v", total, in.Vehicles, in.Capacity)
	}
	for i := 0; i < n; i++ {
		if in.Ready[i] > in.Due[i] || math.IsNaN(in.Ready[i]) || math.IsNaN(in.Due[i]) {
			return bad(in.IDs[i], "time window [%v, %v] is empty", in.Ready[i], in.Due[i])
		}
		if in.Service[i] < 0 || math.IsNaN(in.Service[i]) {
			return bad(in.IDs[i], "service time %v must be non-negative", in.Service[i])
		}
		if in.Ready[i] != 0 || in.Due[i] < Horizon || in.Service[i] != 0 {
			in.HasTW = true
		}
	}
	// Distances.
	switch {
	case in.Metric == MetricExplicit:
		if len(in.Explicit) != n*n {
			return bad(-1, "explicit matrix has %d entries, want %d", len(in.Explicit), n*n)
		}
		in.dist = in.Explicit
	default:
		if len(in.X) != n || len(in.Y) != n {
			return bad(-1, "have %d/%d coordinates for %d nodes", len(in.X), len(in.Y), n)
		}
		in.dist = make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if i != j {
					in.dist[i*n+j] = metricDist(in.Metric, in.X[i], in.Y[i], in.X[j], in.Y[j])
				}
			}
		}
	}
	for k, d := range in.dist {
		if d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
			return bad(in.IDs[k/n], "cost to node %d is %v; costs must be finite and non-negative", in.IDs[k%n], d)
		}
	}
	in.tt = in.dist
	if in.TimeMatrix != nil {
		if len(in.TimeMatrix) != n*n {
			return bad(-1, "time matrix has %d entries, want %d", len(in.TimeMatrix), n*n)
		}
		for k, d := range in.TimeMatrix {
			if d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
				return bad(in.IDs[k/n], "travel time to node %d is %v; must be finite and non-negative", in.IDs[k%n], d)
			}
		}
		in.tt = in.TimeMatrix
	}
	// Reachability: every customer must be servable on an out-and-back
	// trip within its window and back by the depot's closing time.
	if in.HasTW {
		for i := 1; i < n; i++ {
			arr := math.Max(in.Ready[0]+in.tt[i], in.Ready[i])
			if arr > in.Due[i]+1e-9 {
				return bad(in.IDs[i], "unreachable within its time window: earliest arrival from the depot is %v, window closes at %v", in.Ready[0]+in.tt[i], in.Due[i])
			}
			back := arr + in.Service[i] + in.tt[i*n]
			if back > in.Due[0]+1e-9 {
				return bad(in.IDs[i], "cannot be served and return to the depot by %v (earliest return %v)", in.Due[0], back)
			}
		}
	}
	return nil
}

// LoadFile reads an instance, detecting the format: JSON (starts with
// '{'), CVRPLIB/TSPLIB (has a "DIMENSION" or "NODE_COORD_SECTION"
// keyword), or Solomon (has "VEHICLE" and "CUSTOMER" blocks).
func LoadFile(path string) (*Instance, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	name := filepath.Base(path)
	in, err := Parse(name, b)
	if err != nil {
		var ie *InvalidError
		if errors.As(err, &ie) && ie.File == "" {
			ie.File = name
		}
		return nil, err
	}
	return in, nil
}

// Parse parses an instance held in memory, detecting the format as
// LoadFile does; name is used in error messages.
func Parse(name string, b []byte) (*Instance, error) {
	s := strings.TrimLeft(string(b), " \t\r\n\ufeff")
	upper := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(s, "{"):
		return ParseJSON(name, b)
	case strings.Contains(upper, "DIMENSION") || strings.Contains(upper, "NODE_COORD_SECTION"):
		return ParseVRP(name, b)
	case strings.Contains(upper, "VEHICLE") && strings.Contains(upper, "CUSTOMER"):
		return ParseSolomon(name, b)
	}
	return nil, &InvalidError{File: name, ID: -1, Msg: "unknown format: not JSON, CVRPLIB (.vrp) or Solomon"}
}
