package supply

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/learn/forecast"
)

// DemandSource says which events count as demand.
type DemandSource uint8

const (
	// SourceAuto counts purchase events until the first order event is
	// seen, then only order lines: in a shop that emits both, an order
	// repeats the purchases of its session, so counting both would
	// double demand.
	SourceAuto DemandSource = iota
	// SourceOrders counts order lines only.
	SourceOrders
	// SourcePurchases counts purchase events only.
	SourcePurchases
	// SourceBoth counts both.
	SourceBoth
)

// ServiceConfig configures a Service; zero fields mean the defaults.
type ServiceConfig struct {
	// Step is the forecast period; 0 means 24h.
	Step time.Duration
	// Horizon is the longest forecast served; 0 means 28 periods.
	Horizon int
	// Periods are the seasonal periods in Steps; nil means [7] (weekly
	// seasonality of daily demand), empty non-nil means none.
	Periods []int
	// Params is the default replenishment policy; zero means base-stock
	// with a 2-period lead time, daily review and a 95% service level.
	Params Params
	// Source selects the demand events.
	Source DemandSource
}

// Service keeps per-SKU and per-SKU-and-warehouse demand forecasters and
// stock levels up to date from events and answers forecast and
// replenishment queries. It is safe for concurrent use.
type Service struct {
	cfg ServiceConfig
	mu  struct {
		sync.Mutex
		sku        map[string]*demandSeries // guarded by mu
		skuWh      map[skuWh]*demandSeries  // guarded by mu
		stock      map[skuWh]*stockState    // guarded by mu
		params     map[skuWh]Params         // guarded by mu
		seenOrders bool                     // guarded by mu
	}
}

type skuWh struct{ sku, wh string }

type stockState struct {
	inv     Inventory
	updated time.Time
}

type demandSeries struct {
	b       forecast.Bucketer
	ad      *forecast.Adaptive
	iv      *forecast.Interval
	periods int
	units   float64
	last    time.Time
}

// ErrUnknown is returned for a SKU (or SKU and warehouse) the service has
// seen no event for.
var ErrUnknown = errors.New("supply: unknown sku")

// NewService returns an empty service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Step == 0 {
		cfg.Step = 24 * time.Hour
	}
	if cfg.Horizon == 0 {
		cfg.Horizon = 28
	}
	if cfg.Periods == nil {
		cfg.Periods = []int{7}
	}
	if cfg.Params == (Params{}) {
		cfg.Params = Params{Policy: BaseStock, LeadTime: 2, Review: 1, ServiceLevel: 0.95}
	}
	switch {
	case cfg.Step < 0:
		return nil, fmt.Errorf("supply: step = %v; want > 0", cfg.Step)
	case cfg.Horizon < 1 || cfg.Horizon > 10000:
		return nil, fmt.Errorf("supply: horizon = %d; want in [1, 10000]", cfg.Horizon)
	case cfg.Source > SourceBoth:
		return nil, fmt.Errorf("supply: source = %d unknown", cfg.Source)
	}
	for i, p := range cfg.Periods {
		if p < 2 {
			return nil, fmt.Errorf("supply: periods[%d] = %d; want ≥ 2", i, p)
		}
	}
	if err := cfg.Params.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg}
	s.mu.sku = map[string]*demandSeries{}
	s.mu.skuWh = map[skuWh]*demandSeries{}
	s.mu.stock = map[skuWh]*stockState{}
	s.mu.params = map[skuWh]Params{}
	return s, nil
}

func (s *Service) newSeries() *demandSeries {
	ds := &demandSeries{}
	ds.ad = forecast.NewAdaptive(forecast.AdaptiveConfig{Periods: s.cfg.Periods})
	iv, err := forecast.NewInterval(ds.ad, forecast.IntervalConfig{Horizon: s.cfg.Horizon})
	if err != nil {
		panic(err) // Horizon was validated
	}
	ds.iv = iv
	ds.b = forecast.Bucketer{Step: s.cfg.Step, Gaps: forecast.GapZero, Emit: func(y float64) {
		ds.iv.Update(y)
		ds.periods++
	}}
	return ds
}

// Apply updates the service with one event: stock events set the stock
// on hand of a SKU in a warehouse; purchase events (item_id is the SKU,
// quantity 0 means one unit) and order lines add demand (see
// DemandSource), order lines also to their warehouse's series; other
// types are ignored. Demand is bucketed by event time into Step periods. An event for a period
// already closed is counted in no series and reported with
// forecast.ErrOutOfOrder (wrapped); the service stays consistent.
func (s *Service) Apply(e *event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Type {
	case event.TypeStock:
		if e.SKU == "" || !(e.Quantity >= 0) || math.IsInf(e.Quantity, 0) {
			return fmt.Errorf("supply: stock event %s: needs sku and a finite quantity ≥ 0", e.ID)
		}
		k := skuWh{e.SKU, e.Warehouse}
		st := s.mu.stock[k]
		if st == nil {
			st = &stockState{}
			s.mu.stock[k] = st
		}
		if e.Timestamp.Before(st.updated) {
			return fmt.Errorf("supply: stock event %s for %s/%s at %s is older than the level already known (%s): %w",
				e.ID, e.SKU, e.Warehouse, e.Timestamp.Format(time.RFC3339), st.updated.Format(time.RFC3339), forecast.ErrOutOfOrder)
		}
		st.inv.OnHand, st.updated = e.Quantity, e.Timestamp
		return nil
	case event.TypePurchase:
		if s.cfg.Source == SourceOrders || (s.cfg.Source == SourceAuto && s.mu.seenOrders) {
			return nil
		}
		q := e.Quantity
		if q == 0 {
			q = 1
		}
		return s.demandLocked(e.ItemID, "", e.Timestamp, q)
	case event.TypeOrder:
		if s.cfg.Source == SourcePurchases {
			return nil
		}
		s.mu.seenOrders = true
		var first error
		for _, ln := range e.Lines {
			if err := s.demandLocked(ln.SKU, e.Warehouse, e.Timestamp, ln.Quantity); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	return nil
}

func (s *Service) demandLocked(sku, wh string, t time.Time, q float64) error {
	if sku == "" {
		return errors.New("supply: demand event without sku")
	}
	ds := s.mu.sku[sku]
	if ds == nil {
		ds = s.newSeries()
		s.mu.sku[sku] = ds
	}
	err := ds.add(t, q)
	if wh != "" {
		k := skuWh{sku, wh}
		dw := s.mu.skuWh[k]
		if dw == nil {
			dw = s.newSeries()
			s.mu.skuWh[k] = dw
		}
		if err2 := dw.add(t, q); err == nil {
			err = err2
		}
	}
	return err
}

func (ds *demandSeries) add(t time.Time, q float64) error {
	if err := ds.b.Add(t, q); err != nil {
		return fmt.Errorf("supply: demand at %s: %w", t.Format(time.RFC3339), err)
	}
	ds.units += q
	if t.After(ds.last) {
		ds.last = t
	}
	return nil
}

// AdvanceTo closes every period that ends at or before t (periods with
// no demand count as 0), so forecasts start from t's period even when
// nothing was sold since.
func (s *Service) AdvanceTo(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ds := range s.mu.sku {
		_ = ds.b.Add(t, math.NaN())
	}
	for _, ds := range s.mu.skuWh {
		_ = ds.b.Add(t, math.NaN())
	}
}

// SetParams sets the replenishment policy of one SKU in one warehouse.
func (s *Service) SetParams(sku, warehouse string, p Params) error {
	if err := p.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.params[skuWh{sku, warehouse}] = p
	return nil
}

// SetOnOrder records the quantity of a SKU already ordered for a
// warehouse and not yet received.
func (s *Service) SetOnOrder(sku, warehouse string, qty float64) error {
	if !finiteNonNeg(qty) {
		return fmt.Errorf("supply: on_order = %v; want finite and ≥ 0", qty)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := skuWh{sku, warehouse}
	st := s.mu.stock[k]
	if st == nil {
		st = &stockState{}
		s.mu.stock[k] = st
	}
	st.inv.OnOrder = qty
	return nil
}

// ForecastPoint is one step of a forecast.
type ForecastPoint struct {
	Step     int       `json:"step"`
	Start    time.Time `json:"start"`
	Forecast float64   `json:"forecast"`
	Lo80     float64   `json:"lo80"`
	Hi80     float64   `json:"hi80"`
	Lo95     float64   `json:"lo95"`
	Hi95     float64   `json:"hi95"`
}

// ForecastResponse answers GET /v1/forecast?sku=&horizon=.
type ForecastResponse struct {
	SKU       string `json:"sku"`
	Warehouse string `json:"warehouse,omitempty"`
	// Step is the period length, e.g. "24h0m0s".
	Step string `json:"step"`
	// Model names the forecaster currently selected.
	Model string `json:"model"`
	// Periods is the number of periods of demand learnt from.
	Periods int `json:"periods"`
	// Coverage80 and Coverage95 are the realised one-step coverages of
	// the online conformal intervals so far.
	Coverage80 float64         `json:"coverage80"`
	Coverage95 float64         `json:"coverage95"`
	Drifts     int64           `json:"drifts"`
	Points     []ForecastPoint `json:"points"`
}

// Forecast returns the demand forecast of a SKU (all warehouses) for the
// next horizon periods, starting with the current (open) period. horizon
// must be in [1, ServiceConfig.Horizon].
func (s *Service) Forecast(sku string, horizon int) (ForecastResponse, error) {
	if horizon < 1 || horizon > s.cfg.Horizon {
		return ForecastResponse{}, fmt.Errorf("supply: horizon = %d; want in [1, %d]", horizon, s.cfg.Horizon)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.mu.sku[sku]
	if ds == nil {
		return ForecastResponse{}, fmt.Errorf("%w %q", ErrUnknown, sku)
	}
	return s.forecastLocked(sku, "", ds, horizon), nil
}

func (s *Service) forecastLocked(sku, wh string, ds *demandSeries, horizon int) ForecastResponse {
	point := make([]float64, horizon)
	lo := [][]float64{make([]float64, horizon), make([]float64, horizon)}
	hi := [][]float64{make([]float64, horizon), make([]float64, horizon)}
	ds.iv.Predict(point, lo, hi)
	cov := ds.iv.Coverage()
	r := ForecastResponse{SKU: sku, Warehouse: wh, Step: s.cfg.Step.String(), Model: ds.ad.Model(), Periods: ds.periods,
		Coverage80: cov[0], Coverage95: cov[1], Drifts: ds.ad.Drifts()}
	step := int64(s.cfg.Step)
	start := time.Unix(0, ds.last.UnixNano()/step*step)
	for h := range horizon {
		r.Points = append(r.Points, ForecastPoint{Step: h + 1, Start: start.Add(time.Duration(h) * s.cfg.Step).UTC(),
			Forecast: point[h], Lo80: lo[0][h], Hi80: hi[0][h], Lo95: lo[1][h], Hi95: hi[1][h]})
	}
	return r
}

// ReplenishmentResponse answers GET /v1/replenishment?sku=&warehouse=.
type ReplenishmentResponse struct {
	SKU       string `json:"sku"`
	Warehouse string `json:"warehouse"`
	Decision
	// DemandBasis says whose demand was forecast: "sku/warehouse" or,
	// when the warehouse has no demand history, "sku (all warehouses)".
	DemandBasis string `json:"demand_basis"`
	Model       string `json:"model"`
	// StockKnown is false when no stock event was seen (on hand 0).
	StockKnown bool `json:"stock_known"`
}

// Replenishment returns the order to place now for a SKU in a
// warehouse, and why.
func (s *Service) Replenishment(sku, warehouse string) (ReplenishmentResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := skuWh{sku, warehouse}
	ds, basis := s.mu.skuWh[k], "sku/warehouse"
	if ds == nil {
		ds, basis = s.mu.sku[sku], "sku (all warehouses)"
	}
	st := s.mu.stock[k]
	if ds == nil && st == nil {
		return ReplenishmentResponse{}, fmt.Errorf("%w %q in warehouse %q", ErrUnknown, sku, warehouse)
	}
	p, ok := s.mu.params[k]
	if !ok {
		p = s.cfg.Params
	}
	h := min(s.cfg.Horizon, p.LeadTime+max(p.review(), p.ShelfLife)+1)
	d := Demand{Mean: make([]float64, h), Sigma: make([]float64, h)}
	model := "none (no demand seen)"
	if ds != nil {
		fr := s.forecastLocked(sku, warehouse, ds, h)
		point, hi := make([]float64, h), make([]float64, h)
		for i, pt := range fr.Points {
			point[i], hi[i] = pt.Forecast, pt.Hi80
		}
		d = DemandFromInterval(point, hi)
		model = fr.Model
	} else {
		basis = "none"
	}
	var inv Inventory
	if st != nil {
		inv = st.inv
	}
	dec, err := Decide(p, d, inv)
	if err != nil {
		return ReplenishmentResponse{}, err
	}
	return ReplenishmentResponse{SKU: sku, Warehouse: warehouse, Decision: dec, DemandBasis: basis, Model: model, StockKnown: st != nil}, nil
}
