package route

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Solution is a set of routes for an Instance. Routes hold customer
// indices (1..N-1, never the depot 0) in visiting order; empty routes are
// not kept.
type Solution struct {
	Routes   [][]int
	Cost     float64 // total cost by the instance's convention
	Feasible bool    // all constraints hold (set by Evaluate / Solve)
	// Iterations the solver ran (0 for solutions read from files).
	Iterations int
	// Stats of the run that produced the solution; nil for read ones.
	Stats *Stats
}

// Vehicles returns the number of non-empty routes.
func (s *Solution) Vehicles() int {
	n := 0
	for _, r := range s.Routes {
		if len(r) > 0 {
			n++
		}
	}
	return n
}

// ErrInfeasible is wrapped by Check's errors.
var ErrInfeasible = errors.New("infeasible solution")

// CheckError describes the first violated constraint found by Check.
type CheckError struct {
	Route int // 0-based route index, -1 if not tied to a route
	ID    int // customer id, -1 if not tied to a customer
	Msg   string
}

func (e *CheckError) Error() string {
	var b strings.Builder
	b.WriteString("route: check: ")
	if e.Route >= 0 {
		fmt.Fprintf(&b, "route %d: ", e.Route+1)
	}
	if e.ID >= 0 {
		fmt.Fprintf(&b, "customer %d: ", e.ID)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInfeasible) match.
func (e *CheckError) Unwrap() error { return ErrInfeasible }

// checkTol is the tolerance of time and load comparisons in Check.
const checkTol = 1e-6

// Check verifies sol against inst independently of the solver: it
// recomputes every distance from the raw coordinates (or the explicit
// matrix read from the file) with its own code, simulates arrival times
// with waiting, and checks that every customer is visited exactly once,
// loads fit the capacity, service starts within each window, vehicles
// return by the depot's closing time, the fleet limit holds and sol.Cost
// equals the recomputed cost. It returns a *CheckError or nil.
func Check(inst *Instance, sol *Solution) error {
	if sol == nil {
		return &CheckError{Route: -1, ID: -1, Msg: "nil solution"}
	}
	n := len(inst.Demand)
	seen := make([]int, n)
	total := 0.0
	used := 0
	for r, route := range sol.Routes {
		if len(route) == 0 {
			continue
		}
		used++
		load, t, cost := 0.0, inst.Ready[0], 0.0
		prev := 0
		for _, c := range route {
			if c <= 0 || c >= n {
				return &CheckError{Route: r, ID: -1, Msg: fmt.Sprintf("node index %d is not a customer", c)}
			}
			id := inst.IDs[c]
			if seen[c] != 0 {
				return &CheckError{Route: r, ID: id, Msg: fmt.Sprintf("visited twice (also on route %d)", seen[c])}
			}
			seen[c] = r + 1
			load += inst.Demand[c]
			cost += checkCost(inst, prev, c)
			t += checkTime(inst, prev, c)
			if t > inst.Due[c]+checkTol {
				return &CheckError{Route: r, ID: id, Msg: fmt.Sprintf("arrives at %.4f after its window closes at %v", t, inst.Due[c])}
			}
			if t < inst.Ready[c] {
				t = inst.Ready[c]
			}
			t += inst.Service[c]
			prev = c
		}
		cost += checkCost(inst, prev, 0)
		t += checkTime(inst, prev, 0)
		if t > inst.Due[0]+checkTol {
			return &CheckError{Route: r, ID: -1, Msg: fmt.Sprintf("returns to the depot at %.4f, after it closes at %v", t, inst.Due[0])}
		}
		if load > inst.Capacity+checkTol {
			return &CheckError{Route: r, ID: -1, Msg: fmt.Sprintf("load %v exceeds the capacity %v", load, inst.Capacity)}
		}
		total += cost
	}
	for c := 1; c < n; c++ {
		if seen[c] == 0 {
			return &CheckError{Route: -1, ID: inst.IDs[c], Msg: "not visited"}
		}
	}
	if inst.Vehicles > 0 && used > inst.Vehicles {
		return &CheckError{Route: -1, ID: -1, Msg: fmt.Sprintf("uses %d vehicles, the fleet has %d", used, inst.Vehicles)}
	}
	if math.Abs(total-sol.Cost) > 1e-6*math.Max(1, total) {
		return &CheckError{Route: -1, ID: -1, Msg: fmt.Sprintf("reported cost %v, recomputed %v", sol.Cost, total)}
	}
	return nil
}

// checkCost recomputes the cost of arc (i, j) from the raw data, not from
// the solver's matrix.
func checkCost(inst *Instance, i, j int) float64 {
	if inst.Metric == MetricExplicit {
		return inst.Explicit[i*len(inst.Demand)+j]
	}
	if i == j {
		return 0
	}
	dx := inst.X[i] - inst.X[j]
	dy := inst.Y[i] - inst.Y[j]
	e := math.Hypot(dx, dy)
	switch inst.Metric {
	case MetricRound:
		return math.Round(e) // e >= 0: same as TSPLIB nint
	case MetricTrunc1:
		return math.Trunc(e*10+1e-9) / 10
	case MetricCeil:
		return math.Ceil(e)
	case MetricHaversine:
		const r = 6371008.8
		la1, la2 := inst.Y[i]*math.Pi/180, inst.Y[j]*math.Pi/180
		s1 := math.Sin((la2 - la1) / 2)
		s2 := math.Sin((inst.X[j] - inst.X[i]) * math.Pi / 360)
		h := s1*s1 + math.Cos(la1)*math.Cos(la2)*s2*s2
		return 2 * r * math.Asin(math.Min(1, math.Sqrt(h)))
	}
	return e
}

func checkTime(inst *Instance, i, j int) float64 {
	if inst.TimeMatrix != nil {
		return inst.TimeMatrix[i*len(inst.Demand)+j]
	}
	return checkCost(inst, i, j)
}

// Evaluate recomputes sol.Cost and sol.Feasible from the instance (using
// the independent checker's arithmetic) and returns Check's verdict.
func Evaluate(inst *Instance, sol *Solution) error {
	total := 0.0
	for _, r := range sol.Routes {
		prev := 0
		for _, c := range r {
			if c <= 0 || c >= inst.N() {
				return &CheckError{Route: -1, ID: -1, Msg: fmt.Sprintf("node index %d is not a customer", c)}
			}
			total += checkCost(inst, prev, c)
			prev = c
		}
		if len(r) > 0 {
			total += checkCost(inst, prev, 0)
		}
	}
	sol.Cost = total
	err := Check(inst, sol)
	sol.Feasible = err == nil
	return err
}

// WriteSol writes sol in CVRPLIB .sol form ("Route #1: 3 5 ..." lines,
// then "Cost N"), numbering customers by Instance.SolID.
func WriteSol(w io.Writer, inst *Instance, sol *Solution) error {
	bw := bufio.NewWriter(w)
	k := 0
	for _, r := range sol.Routes {
		if len(r) == 0 {
			continue
		}
		k++
		fmt.Fprintf(bw, "Route #%d:", k)
		for _, c := range r {
			fmt.Fprintf(bw, " %d", inst.SolID(c))
		}
		bw.WriteByte('\n')
	}
	fmt.Fprintf(bw, "Cost %s\n", FormatCost(inst, sol.Cost))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("route: write solution: %w", err)
	}
	return nil
}

// FormatCost prints a cost the way the instance family does: integers for
// rounded metrics, one decimal for Solomon.
func FormatCost(inst *Instance, c float64) string {
	switch inst.Metric {
	case MetricRound, MetricCeil:
		return strconv.FormatFloat(math.Round(c), 'f', -1, 64)
	case MetricTrunc1:
		return strconv.FormatFloat(math.Round(c*10)/10, 'f', 1, 64)
	}
	return strconv.FormatFloat(c, 'f', -1, 64)
}

// ReadSol parses a CVRPLIB .sol file for inst. It returns the solution
// (with Cost set to the recomputed cost) and the cost stated in the file
// (NaN when absent). Customer numbers follow Instance.SolID.
func ReadSol(inst *Instance, b []byte) (*Solution, float64, error) {
	byNum := make(map[int]int, inst.N())
	for i := 1; i < inst.N(); i++ {
		byNum[inst.SolID(i)] = i
	}
	sol := &Solution{}
	stated := math.NaN()
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	ln := 0
	seen := map[int]int{}
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		low := strings.ToLower(line)
		switch {
		case strings.HasPrefix(low, "route"):
			_, rest, ok := strings.Cut(line, ":")
			if !ok {
				return nil, 0, fmt.Errorf("route: sol line %d: want \"Route #k: c1 c2 ...\", got %q", ln, line)
			}
			var r []int
			for _, f := range strings.Fields(rest) {
				v, err := strconv.Atoi(f)
				if err != nil {
					return nil, 0, fmt.Errorf("route: sol line %d: customer %q is not an integer", ln, f)
				}
				c, ok := byNum[v]
				if !ok {
					return nil, 0, fmt.Errorf("route: sol line %d: customer %d is not in instance %s", ln, v, inst.Name)
				}
				if l, dup := seen[v]; dup {
					return nil, 0, fmt.Errorf("route: sol line %d: customer %d already visited on line %d", ln, v, l)
				}
				seen[v] = ln
				r = append(r, c)
			}
			if len(r) > 0 {
				sol.Routes = append(sol.Routes, r)
			}
		case strings.HasPrefix(low, "cost"):
			f := strings.Fields(line)
			if len(f) != 2 {
				return nil, 0, fmt.Errorf("route: sol line %d: want \"Cost N\", got %q", ln, line)
			}
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, 0, fmt.Errorf("route: sol line %d: cost %q is not a number", ln, f[1])
			}
			stated = v
		default:
			// Other lines (e.g. "Time", comments) are ignored.
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("route: read solution: %w", err)
	}
	if len(sol.Routes) == 0 {
		return nil, 0, fmt.Errorf("route: solution has no routes")
	}
	_ = Evaluate(inst, sol)
	return sol, stated, nil
}
