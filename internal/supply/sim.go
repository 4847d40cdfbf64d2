package supply

import (
	"context"
	"fmt"
	"math"

	"github.com/perpetua-ml/perpetua/internal/learn/forecast"
)

// SimConfig configures Simulate.
type SimConfig struct {
	Params Params
	// InitialStock is the stock on hand at the start.
	InitialStock float64
	// Warmup periods train the forecaster and run the policy without
	// being scored.
	Warmup int
	// Periods are the seasonal periods of the forecaster.
	Periods []int
	// NewForecaster, when set, builds the forecaster; nil means
	// forecast.NewAdaptive with Periods.
	NewForecaster func() forecast.Forecaster
}

// SimResult summarises a simulation. Costs are in the units of Params.
type SimResult struct {
	Policy       Policy  `json:"policy"`
	Periods      int     `json:"periods"`
	Demand       float64 `json:"demand"`
	Filled       float64 `json:"filled"`
	FillRate     float64 `json:"fill_rate"`
	StockOuts    int     `json:"stock_outs"`
	Lost         float64 `json:"lost"`
	Orders       int     `json:"orders"`
	Ordered      float64 `json:"ordered"`
	Expired      float64 `json:"expired"`
	AvgInventory float64 `json:"avg_inventory"`
	HoldingCost  float64 `json:"holding_cost"`
	OrderCost    float64 `json:"order_cost"`
	Coverage80   float64 `json:"coverage80"`
}

type lot struct {
	qty float64
	age int
}

// Simulate replays demand period by period: arrivals of orders placed
// at the end of the period LeadTime+1 periods earlier, then demand served from stock (oldest lots
// first; unmet demand is lost), expiry of lots older than ShelfLife
// (newsvendor), holding cost on the stock left, then every Review
// periods an order decided by the policy from the forecaster's forecast
// (σ from its online conformal 80% interval); finally the forecaster
// learns the period's demand. NaN and negative demand count as 0.
func Simulate(ctx context.Context, demand []float64, cfg SimConfig) (SimResult, error) {
	p := cfg.Params
	if err := p.Validate(); err != nil {
		return SimResult{}, err
	}
	if cfg.Warmup < 0 || cfg.Warmup >= len(demand) {
		return SimResult{}, fmt.Errorf("supply: simulate: warmup = %d for %d periods of demand", cfg.Warmup, len(demand))
	}
	if !finiteNonNeg(cfg.InitialStock) {
		return SimResult{}, fmt.Errorf("supply: simulate: initial_stock = %v; want finite and ≥ 0", cfg.InitialStock)
	}
	var f forecast.Forecaster
	if cfg.NewForecaster != nil {
		f = cfg.NewForecaster()
	} else {
		f = forecast.NewAdaptive(forecast.AdaptiveConfig{Periods: cfg.Periods})
	}
	h := p.LeadTime + max(p.review(), p.ShelfLife) + 1
	iv, err := forecast.NewInterval(f, forecast.IntervalConfig{Horizon: h, Levels: []float64{0.8}})
	if err != nil {
		return SimResult{}, err
	}
	point := make([]float64, h)
	lo, hi := [][]float64{make([]float64, h)}, [][]float64{make([]float64, h)}
	// pipeline[k] arrives at the start of the period k+1 periods ahead: an
	// order placed at the end of period t first serves period
	// t+LeadTime+1, so it protects periods t+1 … t+LeadTime+Review.
	pipeline := make([]float64, p.LeadTime+1)
	lots := []lot{{qty: cfg.InitialStock}}
	res := SimResult{Policy: p.Policy}
	var invSum float64
	for t, raw := range demand {
		if t%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return SimResult{}, err
			}
		}
		d := raw
		if math.IsNaN(d) || d < 0 || math.IsInf(d, 0) {
			d = 0
		}
		scoring := t >= cfg.Warmup
		// Arrivals.
		if t > 0 {
			if pipeline[0] > 0 {
				lots = append(lots, lot{qty: pipeline[0]})
			}
			copy(pipeline, pipeline[1:])
			pipeline[len(pipeline)-1] = 0
		}
		// Demand, oldest lots first.
		need := d
		for i := range lots {
			take := min(lots[i].qty, need)
			lots[i].qty -= take
			need -= take
		}
		if scoring {
			res.Periods++
			res.Demand += d
			res.Filled += d - need
			res.Lost += need
			if need > 1e-9 {
				res.StockOuts++
			}
		}
		// Ageing and expiry.
		kept := lots[:0]
		var onHand float64
		for _, l := range lots {
			l.age++
			if p.Policy == Newsvendor && p.ShelfLife > 0 && l.age > p.ShelfLife {
				if scoring {
					res.Expired += l.qty
				}
				continue
			}
			if l.qty > 1e-12 {
				kept = append(kept, l)
				onHand += l.qty
			}
		}
		lots = kept
		if scoring {
			invSum += onHand
			res.HoldingCost += onHand * p.HoldingCost
		}
		iv.Update(d)
		if t%p.review() == 0 {
			iv.Predict(point, lo, hi)
			var onOrder float64
			for _, q := range pipeline {
				onOrder += q
			}
			dec, err := Decide(p, forecast80(point, hi[0]), Inventory{OnHand: onHand, OnOrder: onOrder})
			if err != nil {
				return SimResult{}, err
			}
			if q := dec.OrderQuantity; q > 0 {
				pipeline[p.LeadTime] += q
				if scoring {
					res.Orders++
					res.Ordered += q
					res.OrderCost += p.OrderCost
				}
			}
		}
	}
	if res.Demand > 0 {
		res.FillRate = res.Filled / res.Demand
	} else {
		res.FillRate = 1
	}
	if res.Periods > 0 {
		res.AvgInventory = invSum / float64(res.Periods)
	}
	res.Coverage80 = iv.Coverage()[0]
	return res, nil
}

func forecast80(point, hi80 []float64) Demand { return DemandFromInterval(point, hi80) }
