package route

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxNodes bounds the instance size a file may declare, so a malformed
// DIMENSION cannot make the reader allocate an absurd matrix.
const maxNodes = 10001

type lineScanner struct {
	name  string
	lines []string
	i     int // index of the next line
}

func newLineScanner(name string, b []byte) *lineScanner {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		lines = append(lines, strings.TrimRight(sc.Text(), "\r"))
	}
	return &lineScanner{name: name, lines: lines}
}

func (s *lineScanner) errf(line, id int, f string, a ...any) error {
	return &InvalidError{File: s.name, Line: line, ID: id, Msg: fmt.Sprintf(f, a...)}
}

// ParseVRP parses a CVRPLIB/TSPLIB .vrp file: EUC_2D, CEIL_2D, EXACT_2D /
// FLOAT_2D coordinates, or EXPLICIT weights in FULL_MATRIX, UPPER_ROW,
// LOWER_ROW, UPPER_DIAG_ROW, LOWER_DIAG_ROW, UPPER_COL, LOWER_COL,
// UPPER_DIAG_COL or LOWER_DIAG_COL format. A DISTANCE (maximum route
// length) and SERVICE_TIME become a depot time window and service times,
// since travel time equals cost.
func ParseVRP(name string, b []byte) (*Instance, error) {
	s := newLineScanner(name, b)
	in := &Instance{Name: strings.TrimSuffix(name, ".vrp"), Kind: KindCVRPLIB, Metric: MetricRound}
	dim := -1
	weightType, weightFormat := "", ""
	maxDist, service := 0.0, 0.0
	var coords [][3]float64 // id, x, y in file order
	var coordLine []int
	var demands map[int]float64
	var weights []float64
	var depots []int
	sawCap := false
	for s.i < len(s.lines) {
		ln := s.i + 1
		line := strings.TrimSpace(s.lines[s.i])
		s.i++
		if line == "" {
			continue
		}
		key, val, hasColon := strings.Cut(line, ":")
		key = strings.ToUpper(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if !hasColon {
			f := strings.Fields(line)
			key = strings.ToUpper(f[0])
			val = strings.TrimSpace(strings.TrimPrefix(line, f[0]))
		}
		switch key {
		case "NAME":
			in.Name = val
		case "COMMENT", "TYPE", "DISPLAY_DATA_TYPE", "NODE_COORD_TYPE":
			if key == "TYPE" && val != "" && !strings.HasPrefix(strings.ToUpper(val), "CVRP") {
				return nil, s.errf(ln, -1, "TYPE %q is not supported (want CVRP)", val)
			}
		case "DIMENSION":
			v, err := strconv.Atoi(val)
			if err != nil || v < 2 || v > maxNodes {
				return nil, s.errf(ln, -1, "DIMENSION %q must be an integer in [2, %d]", val, maxNodes)
			}
			dim = v
		case "CAPACITY":
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || v <= 0 {
				return nil, s.errf(ln, -1, "CAPACITY %q must be a positive number", val)
			}
			in.Capacity, sawCap = v, true
		case "VEHICLES":
			v, err := strconv.Atoi(val)
			if err != nil || v < 0 {
				return nil, s.errf(ln, -1, "VEHICLES %q must be a non-negative integer", val)
			}
			in.Vehicles = v
		case "DISTANCE":
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || v <= 0 {
				return nil, s.errf(ln, -1, "DISTANCE %q must be a positive number", val)
			}
			maxDist = v
		case "SERVICE_TIME":
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || v < 0 {
				return nil, s.errf(ln, -1, "SERVICE_TIME %q must be a non-negative number", val)
			}
			service = v
		case "EDGE_WEIGHT_TYPE":
			weightType = strings.ToUpper(val)
			switch weightType {
			case "EUC_2D":
				in.Metric = MetricRound
			case "CEIL_2D":
				in.Metric = MetricCeil
			case "EXACT_2D", "FLOAT_2D":
				in.Metric = MetricExact
			case "EXPLICIT":
				in.Metric = MetricExplicit
			default:
				return nil, s.errf(ln, -1, "EDGE_WEIGHT_TYPE %q is not supported (want EUC_2D, CEIL_2D, EXACT_2D or EXPLICIT)", val)
			}
		case "EDGE_WEIGHT_FORMAT":
			weightFormat = strings.ToUpper(val)
		case "NODE_COORD_SECTION", "DISPLAY_DATA_SECTION":
			if dim < 0 {
				return nil, s.errf(ln, -1, "%s before DIMENSION", key)
			}
			cs := make([][3]float64, 0, dim)
			cl := make([]int, 0, dim)
			for k := 0; k < dim; k++ {
				l, f, err := s.numbers(3)
				if err != nil {
					return nil, err
				}
				cs = append(cs, [3]float64{f[0], f[1], f[2]})
				cl = append(cl, l)
			}
			if key == "NODE_COORD_SECTION" || coords == nil {
				coords, coordLine = cs, cl
			}
		case "DEMAND_SECTION":
			if dim < 0 {
				return nil, s.errf(ln, -1, "DEMAND_SECTION before DIMENSION")
			}
			demands = make(map[int]float64, dim)
			for k := 0; k < dim; k++ {
				l, f, err := s.numbers(2)
				if err != nil {
					return nil, err
				}
				id := int(f[0])
				if float64(id) != f[0] {
					return nil, s.errf(l, -1, "node id %v is not an integer", f[0])
				}
				if _, dup := demands[id]; dup {
					return nil, s.errf(l, id, "duplicate id in DEMAND_SECTION")
				}
				if f[1] < 0 {
					return nil, s.errf(l, id, "negative demand %v", f[1])
				}
				demands[id] = f[1]
			}
		case "DEPOT_SECTION":
			for {
				if s.i >= len(s.lines) {
					return nil, s.errf(s.i, -1, "DEPOT_SECTION not terminated by -1")
				}
				l := s.i + 1
				t := strings.TrimSpace(s.lines[s.i])
				s.i++
				if t == "" {
					continue
				}
				v, err := strconv.Atoi(strings.Fields(t)[0])
				if err != nil {
					return nil, s.errf(l, -1, "depot id %q is not an integer", t)
				}
				if v == -1 {
					break
				}
				depots = append(depots, v)
			}
		case "EDGE_WEIGHT_SECTION":
			if dim < 0 {
				return nil, s.errf(ln, -1, "EDGE_WEIGHT_SECTION before DIMENSION")
			}
			cnt, err := weightCount(weightFormat, dim)
			if err != nil {
				return nil, s.errf(ln, -1, "%v", err)
			}
			weights = make([]float64, 0, min(cnt, 1<<16))
			for len(weights) < cnt {
				if s.i >= len(s.lines) {
					return nil, s.errf(s.i, -1, "EDGE_WEIGHT_SECTION ended after %d of %d weights", len(weights), cnt)
				}
				l := s.i + 1
				for _, f := range strings.Fields(s.lines[s.i]) {
					v, err := strconv.ParseFloat(f, 64)
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, s.errf(l, -1, "weight %q is not a number", f)
					}
					if len(weights) == cnt {
						return nil, s.errf(l, -1, "more than %d weights in EDGE_WEIGHT_SECTION", cnt)
					}
					weights = append(weights, v)
				}
				s.i++
			}
		case "EOF":
			s.i = len(s.lines)
		default:
			return nil, s.errf(ln, -1, "unknown keyword %q", key)
		}
	}
	if dim < 0 {
		return nil, s.errf(0, -1, "missing DIMENSION")
	}
	if !sawCap {
		return nil, s.errf(0, -1, "missing CAPACITY")
	}
	if demands == nil {
		return nil, s.errf(0, -1, "missing DEMAND_SECTION")
	}
	// Node ids: from the coordinates when present, else 1..dim.
	ids := make([]int, dim)
	if coords != nil {
		seen := map[int]int{}
		for k, c := range coords {
			id := int(c[0])
			if float64(id) != c[0] {
				return nil, s.errf(coordLine[k], -1, "node id %v is not an integer", c[0])
			}
			if _, dup := seen[id]; dup {
				return nil, s.errf(coordLine[k], id, "duplicate id in NODE_COORD_SECTION")
			}
			seen[id] = k
			ids[k] = id
		}
	} else {
		if in.Metric != MetricExplicit {
			return nil, s.errf(0, -1, "missing NODE_COORD_SECTION for EDGE_WEIGHT_TYPE %s", weightType)
		}
		for k := range ids {
			ids[k] = k + 1
		}
	}
	depot := ids[0]
	if len(depots) > 1 {
		return nil, s.errf(0, -1, "%d depots given; only single-depot instances are supported", len(depots))
	}
	if len(depots) == 1 {
		depot = depots[0]
	}
	depotPos := -1
	for k, id := range ids {
		if id == depot {
			depotPos = k
		}
	}
	if depotPos < 0 {
		return nil, s.errf(0, depot, "depot id is not a node")
	}
	// order: depot first, then customers in file order.
	order := make([]int, 0, dim)
	order = append(order, depotPos)
	for k := range ids {
		if k != depotPos {
			order = append(order, k)
		}
	}
	in.IDs = make([]int, dim)
	in.Demand = make([]float64, dim)
	if coords != nil {
		in.X, in.Y = make([]float64, dim), make([]float64, dim)
	}
	for p, k := range order {
		id := ids[k]
		in.IDs[p] = id
		d, ok := demands[id]
		if !ok {
			return nil, s.errf(0, id, "no demand given in DEMAND_SECTION")
		}
		if p == 0 && d != 0 {
			return nil, s.errf(0, id, "the depot has demand %v; it must be 0", d)
		}
		in.Demand[p] = d
		if coords != nil {
			in.X[p], in.Y[p] = coords[k][1], coords[k][2]
		}
	}
	if len(demands) != dim {
		return nil, s.errf(0, -1, "DEMAND_SECTION has %d entries for %d nodes", len(demands), dim)
	}
	if in.Metric == MetricExplicit {
		if weights == nil {
			return nil, s.errf(0, -1, "EDGE_WEIGHT_TYPE EXPLICIT without EDGE_WEIGHT_SECTION")
		}
		full, err := expandWeights(weightFormat, dim, weights)
		if err != nil {
			return nil, s.errf(0, -1, "%v", err)
		}
		// Permute to depot-first order.
		in.Explicit = make([]float64, dim*dim)
		for a, ka := range order {
			for c, kc := range order {
				in.Explicit[a*dim+c] = full[ka*dim+kc]
			}
		}
	}
	if maxDist > 0 || service > 0 {
		in.Service = make([]float64, dim)
		in.Ready = make([]float64, dim)
		in.Due = make([]float64, dim)
		lim := Horizon
		if maxDist > 0 {
			lim = maxDist
		}
		for k := range in.Due {
			in.Due[k] = lim
			if k > 0 {
				in.Service[k] = service
			}
		}
	}
	for k := 1; k < dim; k++ {
		if in.Demand[k] > in.Capacity {
			return nil, s.errf(0, in.IDs[k], "demand %v exceeds the vehicle capacity %v", in.Demand[k], in.Capacity)
		}
	}
	if err := in.Prepare(); err != nil {
		if ie, ok := err.(*InvalidError); ok {
			ie.File = name
		}
		return nil, err
	}
	return in, nil
}

// numbers reads the next non-empty line and parses exactly want numbers.
func (s *lineScanner) numbers(want int) (int, []float64, error) {
	for s.i < len(s.lines) && strings.TrimSpace(s.lines[s.i]) == "" {
		s.i++
	}
	if s.i >= len(s.lines) {
		return s.i, nil, s.errf(s.i, -1, "unexpected end of file: want a line of %d numbers", want)
	}
	ln := s.i + 1
	f := strings.Fields(s.lines[s.i])
	s.i++
	if len(f) != want {
		return ln, nil, s.errf(ln, -1, "want %d numbers, got %d (%q)", want, len(f), strings.Join(f, " "))
	}
	out := make([]float64, want)
	for k, t := range f {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return ln, nil, s.errf(ln, -1, "field %d %q is not a number", k+1, t)
		}
		out[k] = v
	}
	return ln, out, nil
}

func weightCount(format string, n int) (int, error) {
	switch format {
	case "FULL_MATRIX":
		return n * n, nil
	case "UPPER_ROW", "LOWER_ROW", "UPPER_COL", "LOWER_COL":
		return n * (n - 1) / 2, nil
	case "UPPER_DIAG_ROW", "LOWER_DIAG_ROW", "UPPER_DIAG_COL", "LOWER_DIAG_COL":
		return n * (n + 1) / 2, nil
	case "":
		return 0, fmt.Errorf("EDGE_WEIGHT_SECTION without EDGE_WEIGHT_FORMAT")
	}
	return 0, fmt.Errorf("EDGE_WEIGHT_FORMAT %q is not supported", format)
}

// expandWeights turns a TSPLIB weight list into a full symmetric n*n
// matrix. For symmetric matrices UPPER_COL reads like LOWER_ROW and
// LOWER_COL like UPPER_ROW.
func expandWeights(format string, n int, w []float64) ([]float64, error) {
	full := make([]float64, n*n)
	k := 0
	set := func(i, j int) {
		full[i*n+j], full[j*n+i] = w[k], w[k]
		k++
	}
	switch format {
	case "FULL_MATRIX":
		copy(full, w)
		return full, nil
	case "UPPER_ROW", "LOWER_COL":
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				set(i, j)
			}
		}
	case "LOWER_ROW", "UPPER_COL":
		for i := 0; i < n; i++ {
			for j := 0; j < i; j++ {
				set(i, j)
			}
		}
	case "UPPER_DIAG_ROW", "LOWER_DIAG_COL":
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				set(i, j)
			}
		}
	case "LOWER_DIAG_ROW", "UPPER_DIAG_COL":
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				set(i, j)
			}
		}
	default:
		return nil, fmt.Errorf("EDGE_WEIGHT_FORMAT %q is not supported", format)
	}
	for i := 0; i < n; i++ {
		if full[i*n+i] != 0 {
			return nil, fmt.Errorf("diagonal weight of node %d is %v, want 0", i+1, full[i*n+i])
		}
	}
	return full, nil
}

// ParseSolomon parses a Solomon VRPTW text file: a name line, a VEHICLE
// block (NUMBER CAPACITY), a CUSTOMER table (CUST NO., XCOORD., YCOORD.,
// DEMAND, READY TIME, DUE DATE, SERVICE TIME) whose first row is the
// depot. Distances are truncated to one decimal (CVRPLIB/DIMACS).
func ParseSolomon(name string, b []byte) (*Instance, error) {
	s := newLineScanner(name, b)
	in := &Instance{Kind: KindSolomon, Metric: MetricTrunc1}
	state := 0 // 0 name, 1 want VEHICLE, 2 want numbers header, 3 want vehicle numbers, 4 want CUSTOMER, 5 header, 6 rows
	seen := map[int]int{}
	for s.i < len(s.lines) {
		ln := s.i + 1
		line := strings.TrimSpace(s.lines[s.i])
		s.i++
		if line == "" {
			continue
		}
		up := strings.ToUpper(line)
		switch state {
		case 0:
			in.Name = line
			state = 1
		case 1:
			if up != "VEHICLE" {
				return nil, s.errf(ln, -1, "want VEHICLE, got %q", line)
			}
			state = 2
		case 2:
			if !strings.HasPrefix(up, "NUMBER") {
				return nil, s.errf(ln, -1, "want the NUMBER CAPACITY header, got %q", line)
			}
			state = 3
		case 3:
			f := strings.Fields(line)
			if len(f) != 2 {
				return nil, s.errf(ln, -1, "want vehicle NUMBER and CAPACITY, got %q", line)
			}
			nv, err1 := strconv.Atoi(f[0])
			cp, err2 := strconv.ParseFloat(f[1], 64)
			if err1 != nil || nv < 0 || err2 != nil || cp <= 0 {
				return nil, s.errf(ln, -1, "bad vehicle NUMBER %q or CAPACITY %q", f[0], f[1])
			}
			in.Vehicles, in.Capacity = nv, cp
			state = 4
		case 4:
			if up != "CUSTOMER" {
				return nil, s.errf(ln, -1, "want CUSTOMER, got %q", line)
			}
			state = 5
		case 5:
			if !strings.HasPrefix(up, "CUST") {
				return nil, s.errf(ln, -1, "want the customer table header, got %q", line)
			}
			state = 6
		case 6:
			f := strings.Fields(line)
			if len(f) != 7 {
				return nil, s.errf(ln, -1, "want 7 columns (CUST NO., XCOORD., YCOORD., DEMAND, READY TIME, DUE DATE, SERVICE TIME), got %d", len(f))
			}
			var v [7]float64
			for k, t := range f {
				x, err := strconv.ParseFloat(t, 64)
				if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, s.errf(ln, -1, "column %d %q is not a number", k+1, t)
				}
				v[k] = x
			}
			id := int(v[0])
			if float64(id) != v[0] {
				return nil, s.errf(ln, -1, "customer number %v is not an integer", v[0])
			}
			if prev, dup := seen[id]; dup {
				return nil, s.errf(ln, id, "duplicate id (first on line %d)", prev)
			}
			seen[id] = ln
			if len(in.IDs) >= maxNodes {
				return nil, s.errf(ln, -1, "more than %d nodes", maxNodes)
			}
			if v[3] < 0 {
				return nil, s.errf(ln, id, "negative demand %v", v[3])
			}
			if len(in.IDs) > 0 && v[3] > in.Capacity {
				return nil, s.errf(ln, id, "demand %v exceeds the vehicle capacity %v", v[3], in.Capacity)
			}
			if v[4] > v[5] {
				return nil, s.errf(ln, id, "time window [%v, %v] is empty", v[4], v[5])
			}
			if v[6] < 0 {
				return nil, s.errf(ln, id, "negative service time %v", v[6])
			}
			in.IDs = append(in.IDs, id)
			in.X = append(in.X, v[1])
			in.Y = append(in.Y, v[2])
			in.Demand = append(in.Demand, v[3])
			in.Ready = append(in.Ready, v[4])
			in.Due = append(in.Due, v[5])
			in.Service = append(in.Service, v[6])
		}
	}
	if state < 6 {
		return nil, s.errf(len(s.lines), -1, "truncated Solomon file: no customer table")
	}
	if len(in.IDs) < 2 {
		return nil, s.errf(len(s.lines), -1, "need a depot row and at least one customer")
	}
	if err := in.Prepare(); err != nil {
		if ie, ok := err.(*InvalidError); ok {
			ie.File = name
			if ie.ID >= 0 {
				if l, ok := seen[ie.ID]; ok {
					ie.Line = l
				}
			}
		}
		return nil, err
	}
	return in, nil
}

// InstanceJSON is the JSON form of an instance. Nodes[0] is the depot.
// Metric is "round" (CVRPLIB), "trunc1" (Solomon/DIMACS), "exact",
// "ceil", "haversine" (x = lon, y = lat, metres) or "explicit" (Matrix
// given, row-major). Times optionally come from TimeMatrix.
type InstanceJSON struct {
	Name       string     `json:"name"`
	Capacity   float64    `json:"capacity"`
	Vehicles   int        `json:"vehicles,omitempty"`
	Metric     string     `json:"metric,omitempty"`
	Nodes      []NodeJSON `json:"nodes"`
	Matrix     []float64  `json:"matrix,omitempty"`
	TimeMatrix []float64  `json:"time_matrix,omitempty"`
}

// NodeJSON is one node of InstanceJSON. Due 0 means no window end.
type NodeJSON struct {
	ID      int     `json:"id"`
	X       float64 `json:"x"`
	Y       float64 `json:"y"`
	Demand  float64 `json:"demand,omitempty"`
	Ready   float64 `json:"ready,omitempty"`
	Due     float64 `json:"due,omitempty"`
	Service float64 `json:"service,omitempty"`
}

// ParseJSON parses an InstanceJSON document.
func ParseJSON(name string, b []byte) (*Instance, error) {
	var j InstanceJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, &InvalidError{File: name, ID: -1, Msg: "bad JSON: " + err.Error()}
	}
	in, err := j.Instance()
	if err != nil {
		if ie, ok := err.(*InvalidError); ok {
			ie.File = name
		}
		return nil, err
	}
	return in, nil
}

// Instance validates j and builds the Instance.
func (j *InstanceJSON) Instance() (*Instance, error) {
	n := len(j.Nodes)
	if n > maxNodes {
		return nil, &InvalidError{ID: -1, Msg: fmt.Sprintf("nodes: %d nodes exceed the limit %d", n, maxNodes)}
	}
	in := &Instance{Name: j.Name, Kind: KindJSON, Capacity: j.Capacity, Vehicles: j.Vehicles}
	switch strings.ToLower(j.Metric) {
	case "", "round":
		in.Metric = MetricRound
	case "trunc1":
		in.Metric = MetricTrunc1
	case "exact":
		in.Metric = MetricExact
	case "ceil":
		in.Metric = MetricCeil
	case "haversine":
		in.Metric = MetricHaversine
	case "explicit":
		in.Metric = MetricExplicit
		in.Explicit = j.Matrix
	default:
		return nil, &InvalidError{ID: -1, Msg: fmt.Sprintf("metric: unknown metric %q", j.Metric)}
	}
	in.TimeMatrix = j.TimeMatrix
	for _, nd := range j.Nodes {
		in.IDs = append(in.IDs, nd.ID)
		in.X = append(in.X, nd.X)
		in.Y = append(in.Y, nd.Y)
		in.Demand = append(in.Demand, nd.Demand)
		in.Ready = append(in.Ready, nd.Ready)
		due := nd.Due
		if due == 0 {
			due = Horizon
		}
		in.Due = append(in.Due, due)
		in.Service = append(in.Service, nd.Service)
	}
	if err := in.Prepare(); err != nil {
		return nil, err
	}
	return in, nil
}

// JSON returns the JSON form of the instance.
func (in *Instance) JSON() *InstanceJSON {
	j := &InstanceJSON{Name: in.Name, Capacity: in.Capacity, Vehicles: in.Vehicles, TimeMatrix: in.TimeMatrix}
	j.Metric = [...]string{"round", "trunc1", "exact", "ceil", "explicit", "haversine"}[in.Metric]
	if in.Metric == MetricExplicit {
		j.Matrix = in.Explicit
	}
	for i := range in.IDs {
		nd := NodeJSON{ID: in.IDs[i], Demand: in.Demand[i], Ready: in.Ready[i], Service: in.Service[i]}
		if in.X != nil {
			nd.X, nd.Y = in.X[i], in.Y[i]
		}
		if in.Due[i] < Horizon {
			nd.Due = in.Due[i]
		}
		j.Nodes = append(j.Nodes, nd)
	}
	return j
}
