package route

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Point is a planar location (x, y) or, for geographic data, (lon, lat).
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Grid divides a bounding box into Cols × Rows zones. Points outside the
// box fall into the nearest edge zone.
type Grid struct {
	MinX, MinY, MaxX, MaxY float64
	Cols, Rows             int
}

// Zone returns the zone index of p in [0, Cols*Rows).
func (g Grid) Zone(p Point) int {
	cx := int(float64(g.Cols) * (p.X - g.MinX) / (g.MaxX - g.MinX))
	cy := int(float64(g.Rows) * (p.Y - g.MinY) / (g.MaxY - g.MinY))
	cx = min(max(cx, 0), g.Cols-1)
	cy = min(max(cy, 0), g.Rows-1)
	return cy*g.Cols + cx
}

func (g Grid) validate() error {
	if g.Cols <= 0 || g.Rows <= 0 || g.Cols*g.Rows > 1<<20 {
		return fmt.Errorf("route: grid: %d×%d zones; want positive sizes up to 2^20 zones", g.Cols, g.Rows)
	}
	if !(g.MaxX > g.MinX) || !(g.MaxY > g.MinY) {
		return fmt.Errorf("route: grid: empty bounding box [%v,%v]×[%v,%v]", g.MinX, g.MaxX, g.MinY, g.MaxY)
	}
	return nil
}

// Observation is one delivered leg: the vehicle left From at Depart and
// reached To after Actual; the plan expected Planned (the free-flow,
// straight-line time the planner used).
type Observation struct {
	From, To Point
	Depart   time.Time
	Planned  time.Duration
	Actual   time.Duration
}

// SpeedModelOptions configure NewSpeedModel. The zero value means a
// prior strength of 5 pseudo-observations and a memory of 500
// observations per zone-hour.
type SpeedModelOptions struct {
	// Prior is the number of pseudo-observations that pull a zone-hour
	// estimate towards its hour-of-day estimate (and that towards the
	// global estimate, and that towards a factor of 1).
	Prior float64
	// Memory caps the effective count per cell so old observations fade
	// and the model tracks drifting congestion.
	Memory float64
}

// SpeedModel learns online a multiplicative slowdown factor per zone and
// hour of day: actual travel time ≈ planned time × factor(zone, hour),
// where the zone is that of the leg's midpoint and the hour that of its
// departure. Estimates are shrunk means of log(actual/planned) in a
// hierarchy cell → hour → global → 1, so unseen cells fall back
// gracefully. Observe and the read methods may be called concurrently.
type SpeedModel struct {
	grid  Grid
	prior float64
	mem   float64
	mu    struct {
		sync.RWMutex
		cellSum, cellCnt []float64 // guarded by mu; zone*24 + hour
		hourSum, hourCnt [24]float64
		allSum, allCnt   float64
		n                int
	}
}

// NewSpeedModel returns an empty model (every factor 1) over grid.
func NewSpeedModel(grid Grid, opt SpeedModelOptions) (*SpeedModel, error) {
	if err := grid.validate(); err != nil {
		return nil, err
	}
	m := &SpeedModel{grid: grid, prior: opt.Prior, mem: opt.Memory}
	if m.prior <= 0 {
		m.prior = 5
	}
	if m.mem <= 0 {
		m.mem = 500
	}
	z := grid.Cols * grid.Rows * 24
	m.mu.cellSum = make([]float64, z)
	m.mu.cellCnt = make([]float64, z)
	return m, nil
}

// Observe learns from one delivered leg. Legs with non-positive or
// non-finite times are rejected.
func (m *SpeedModel) Observe(o Observation) error {
	if o.Planned <= 0 || o.Actual <= 0 {
		return fmt.Errorf("route: observe: planned %v and actual %v must be positive", o.Planned, o.Actual)
	}
	if math.IsNaN(o.From.X+o.From.Y+o.To.X+o.To.Y) || math.IsInf(o.From.X+o.From.Y+o.To.X+o.To.Y, 0) {
		return fmt.Errorf("route: observe: non-finite coordinates")
	}
	r := math.Log(float64(o.Actual) / float64(o.Planned))
	k := m.grid.Zone(mid(o.From, o.To))*24 + o.Depart.Hour()
	h := o.Depart.Hour()
	m.mu.Lock()
	defer m.mu.Unlock()
	add := func(sum, cnt *float64) {
		*sum += r
		*cnt++
		if *cnt > m.mem {
			*sum *= m.mem / *cnt
			*cnt = m.mem
		}
	}
	add(&m.mu.cellSum[k], &m.mu.cellCnt[k])
	add(&m.mu.hourSum[h], &m.mu.hourCnt[h])
	add(&m.mu.allSum, &m.mu.allCnt)
	m.mu.n++
	return nil
}

// Observations returns the number of legs learned from.
func (m *SpeedModel) Observations() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.mu.n
}

func mid(a, b Point) Point { return Point{(a.X + b.X) / 2, (a.Y + b.Y) / 2} }

// Factor returns the learned slowdown factor for legs whose midpoint is p
// departing in hour (0-23).
func (m *SpeedModel) Factor(p Point, hour int) float64 {
	hour = ((hour % 24) + 24) % 24
	k := m.grid.Zone(p)*24 + hour
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.mu.allSum / (m.mu.allCnt + m.prior)
	h := (m.mu.hourSum[hour] + m.prior*g) / (m.mu.hourCnt[hour] + m.prior)
	c := (m.mu.cellSum[k] + m.prior*h) / (m.mu.cellCnt[k] + m.prior)
	return math.Exp(c)
}

// TravelTime predicts the duration of a leg whose free-flow time is base.
func (m *SpeedModel) TravelTime(from, to Point, depart time.Time, base time.Duration) time.Duration {
	return time.Duration(float64(base) * m.Factor(mid(from, to), depart.Hour()))
}

// TimeMatrix fills dst (n*n, row-major; allocated when too small) with
// learned travel times: base[i*n+j] × Factor(midpoint, hour of departure
// from i), where departMinute[i] is the expected departure time from
// node i in minutes after midnight. It returns dst.
func (m *SpeedModel) TimeMatrix(dst []float64, pts []Point, base []float64, departMinute []float64) []float64 {
	n := len(pts)
	if len(base) != n*n || len(departMinute) != n {
		panic("route: TimeMatrix: length mismatch")
	}
	if cap(dst) < n*n {
		dst = make([]float64, n*n)
	}
	dst = dst[:n*n]
	for i := 0; i < n; i++ {
		h := int(math.Floor(departMinute[i]/60)) % 24
		for j := 0; j < n; j++ {
			if i == j {
				dst[i*n+j] = 0
				continue
			}
			dst[i*n+j] = base[i*n+j] * m.Factor(mid(pts[i], pts[j]), h)
		}
	}
	return dst
}
