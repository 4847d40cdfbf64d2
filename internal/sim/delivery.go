package sim

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// The city: a rectangle around (CityLat, CityLon), 0.24° of latitude by
// 0.4° of longitude (about 27 km × 27 km at 52°N), cut into ZoneGrid ×
// ZoneGrid delivery zones numbered row-major from the south-west corner.
// Homes are denser towards the centre; each zone is served by its
// nearest warehouse.
const (
	cityLatSpan = 0.24
	cityLonSpan = 0.40
	freeFlowKmh = 30.0
	roadworksNs = 7 * dayNs
	roadworksUp = 1.0
)

// roadworksZones is how many zones each abrupt shift puts under
// roadworks: a quarter of them (at least one). Enough legs cross them
// that a travel-time model learned before the shift plans routes that
// arrive late after it, which a model that keeps learning avoids.
func roadworksZones(nz int) int { return max(1, nz/4) }

type city struct {
	lat0, lon0 float64
	g          int
	amp        []float64 // rush-hour congestion amplitude per zone
	whIDs      []string
	whLat      []float64
	whLon      []float64
	zoneWh     []int
	whShare    []float64 // share of homes served by each warehouse
	roadworks  [][]int   // zones under roadworks after each shift
}

// Warehouse is a stock location, for evaluators.
type Warehouse struct {
	ID       string
	Lat, Lon float64
}

func (c *city) init(w *World) {
	cfg := &w.cfg
	c.lat0 = cfg.CityLat - cityLatSpan/2
	c.lon0 = cfg.CityLon - cityLonSpan/2
	c.g = cfg.ZoneGrid
	nz := c.g * c.g
	c.amp = make([]float64, nz)
	for z := range c.amp {
		lat, lon := c.center(z)
		dc := math.Hypot((lat-cfg.CityLat)/(cityLatSpan/2), (lon-cfg.CityLon)/(cityLonSpan/2)) / math.Sqrt2
		c.amp[z] = 0.3 + 0.9*(1-dc) + 0.2*unit(hash3(w.seed, saltZone, uint64(z), 0))
	}
	for i := 0; i < cfg.Warehouses; i++ {
		c.whIDs = append(c.whIDs, fmt.Sprintf("w%d", i+1))
		x := 0.2 + 0.6*unit(hash3(w.seed, saltZone, uint64(i), 1))
		y := 0.2 + 0.6*unit(hash3(w.seed, saltZone, uint64(i), 2))
		c.whLat = append(c.whLat, c.lat0+y*cityLatSpan)
		c.whLon = append(c.whLon, c.lon0+x*cityLonSpan)
	}
	c.zoneWh = make([]int, nz)
	for z := range c.zoneWh {
		lat, lon := c.center(z)
		best, bd := 0, math.Inf(1)
		for i := range c.whIDs {
			if d := km(lat, lon, c.whLat[i], c.whLon[i]); d < bd {
				best, bd = i, d
			}
		}
		c.zoneWh[z] = best
	}
	// The share of homes each warehouse serves, estimated from 4096
	// pseudo-users (deterministic; used by the merchant's stock plan).
	c.whShare = make([]float64, cfg.Warehouses)
	const n = 4096
	for u := uint64(0); u < n; u++ {
		z, _, _ := c.home(w, u)
		c.whShare[c.zoneWh[z]] += 1.0 / n
	}
	for k := range w.shifts {
		var zs []int
		for j := uint64(0); len(zs) < roadworksZones(nz); j++ {
			z := int(hash3(w.seed, saltRoadworks, uint64(k), j) % uint64(nz))
			dup := false
			for _, y := range zs {
				dup = dup || y == z
			}
			if !dup {
				zs = append(zs, z)
			}
		}
		c.roadworks = append(c.roadworks, zs)
	}
}

// home returns user u's delivery zone and coordinates.
func (c *city) home(w *World, u uint64) (zone int32, lat, lon float64) {
	hx := hash3(w.seed, saltHomeX, u, 0)
	hy := hash3(w.seed, saltHomeY, u, 0)
	x := (float64(hx&0xffffffff) + float64(hx>>32)) * 0x1p-33
	y := (float64(hy&0xffffffff) + float64(hy>>32)) * 0x1p-33
	return c.zoneXY(x, y), c.lat0 + y*cityLatSpan, c.lon0 + x*cityLonSpan
}

func (c *city) zoneXY(x, y float64) int32 {
	col := clampInt(int(x*float64(c.g)), 0, c.g-1)
	row := clampInt(int(y*float64(c.g)), 0, c.g-1)
	return int32(row*c.g + col)
}

func (c *city) center(z int) (lat, lon float64) {
	row, col := z/c.g, z%c.g
	return c.lat0 + (float64(row)+0.5)/float64(c.g)*cityLatSpan, c.lon0 + (float64(col)+0.5)/float64(c.g)*cityLonSpan
}

// km is the equirectangular distance in kilometres (accurate at city
// scale).
func km(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371.0
	x := (lon2 - lon1) * math.Pi / 180 * math.Cos((lat1+lat2)/2*math.Pi/180)
	y := (lat2 - lat1) * math.Pi / 180
	return r * math.Hypot(x, y)
}

// Zones returns the number of delivery zones.
func (w *World) Zones() int { return w.city.g * w.city.g }

// ZoneOf returns the delivery zone of a point (points outside the city
// map to the nearest border zone).
func (w *World) ZoneOf(lat, lon float64) int {
	c := &w.city
	return int(c.zoneXY((lon-c.lon0)/cityLonSpan, (lat-c.lat0)/cityLatSpan))
}

// ZoneCenter returns the centre of zone z.
func (w *World) ZoneCenter(z int) (lat, lon float64) { return w.city.center(z) }

// Warehouses returns the warehouses; order events name them by ID.
func (w *World) Warehouses() []Warehouse {
	out := make([]Warehouse, len(w.city.whIDs))
	for i := range out {
		out[i] = Warehouse{ID: w.city.whIDs[i], Lat: w.city.whLat[i], Lon: w.city.whLon[i]}
	}
	return out
}

// TravelFactor is the true multiplier of free-flow travel time in zone z
// at time at: 1 plus the zone's congestion amplitude (higher in the
// centre) times the rush-hour curve (peaks at 08:15 and 17:30 UTC,
// damped to 40% on weekends), plus 1.0 for seven days after each abrupt
// shift in the zones the shift puts under roadworks (a quarter of them).
func (w *World) TravelFactor(z int, at time.Time) float64 {
	c := &w.city
	if z < 0 || z >= len(c.amp) {
		return 1
	}
	at = at.UTC()
	h := float64(at.Hour()) + float64(at.Minute())/60 + float64(at.Second())/3600
	rush := math.Exp(-sq(h-8.25)/2) + 0.9*math.Exp(-sq(h-17.5)/(2*1.25*1.25))
	if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
		rush *= 0.4
	}
	f := 1 + c.amp[z]*rush
	t := int64(at.Sub(w.start))
	for k, s := range w.shifts {
		if t >= s && t < s+roadworksNs && slices.Contains(c.roadworks[k], z) {
			f += roadworksUp
		}
	}
	return f
}

// Roadworks appends to dst the zones under roadworks at time at (each
// abrupt shift closes lanes in a quarter of the zones for seven days)
// and returns it.
func (w *World) Roadworks(dst []int, at time.Time) []int {
	t := int64(at.Sub(w.start))
	for k, s := range w.shifts {
		if t >= s && t < s+roadworksNs {
			for _, z := range w.city.roadworks[k] {
				if !slices.Contains(dst, z) {
					dst = append(dst, z)
				}
			}
		}
	}
	return dst
}

// Bounds returns the city's bounding box: every home, warehouse and zone
// lies in [minLat, maxLat] × [minLon, maxLon], cut into ZoneGrid ×
// ZoneGrid equal zones numbered row-major from the south-west corner.
func (w *World) Bounds() (minLat, minLon, maxLat, maxLon float64) {
	c := &w.city
	return c.lat0, c.lon0, c.lat0 + cityLatSpan, c.lon0 + cityLonSpan
}

// TravelTime is the true driving time between two points leaving at at:
// the distance at 30 km/h free-flow speed, times the mean of the two
// endpoint zones' travel factors.
func (w *World) TravelTime(fromLat, fromLon, toLat, toLon float64, at time.Time) time.Duration {
	d := km(fromLat, fromLon, toLat, toLon)
	f := (w.TravelFactor(w.ZoneOf(fromLat, fromLon), at) + w.TravelFactor(w.ZoneOf(toLat, toLon), at)) / 2
	return time.Duration(d / freeFlowKmh * f * float64(time.Hour))
}
