package supply

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Policy names a replenishment policy.
type Policy string

// The policies.
const (
	BaseStock  Policy = "base_stock"
	SS         Policy = "s_S"
	Newsvendor Policy = "newsvendor"
)

// Params are a replenishment policy's inputs. Periods are the forecast's
// time steps.
type Params struct {
	Policy Policy `json:"policy"`
	// LeadTime is the number of periods between placing an order and
	// receiving it (≥ 0).
	LeadTime int `json:"lead_time"`
	// Review is the number of periods between order decisions; 0 means 1.
	Review int `json:"review"`
	// ServiceLevel is the target probability of no stock-out per cycle,
	// in (0, 1) (base-stock and (s, S)).
	ServiceLevel float64 `json:"service_level"`
	// OrderCost is the fixed cost per order and HoldingCost the cost per
	// unit per period held ((s, S) uses them for the order size).
	OrderCost   float64 `json:"order_cost"`
	HoldingCost float64 `json:"holding_cost"`
	// UnitCost, Price and Salvage set the newsvendor's critical ratio
	// (Price-UnitCost)/(Price-Salvage).
	UnitCost float64 `json:"unit_cost"`
	Price    float64 `json:"price"`
	Salvage  float64 `json:"salvage"`
	// ShelfLife is the number of periods a perishable unit can be sold
	// (newsvendor; 0 means Review).
	ShelfLife int `json:"shelf_life"`
}

// Validate reports the first invalid field, naming it.
func (p Params) Validate() error {
	switch p.Policy {
	case BaseStock, SS, Newsvendor:
	default:
		return fmt.Errorf("supply: policy %q unknown (want base_stock, s_S or newsvendor)", p.Policy)
	}
	switch {
	case p.LeadTime < 0:
		return fmt.Errorf("supply: lead_time = %d; want ≥ 0", p.LeadTime)
	case p.Review < 0:
		return fmt.Errorf("supply: review = %d; want ≥ 0", p.Review)
	case p.Policy != Newsvendor && !(p.ServiceLevel > 0 && p.ServiceLevel < 1):
		return fmt.Errorf("supply: service_level = %v; want in (0, 1)", p.ServiceLevel)
	case p.OrderCost < 0 || p.HoldingCost < 0 || p.UnitCost < 0 || p.Salvage < 0:
		return fmt.Errorf("supply: costs must be ≥ 0")
	case p.Policy == Newsvendor && !(p.Price > p.UnitCost && p.UnitCost >= p.Salvage):
		return fmt.Errorf("supply: newsvendor needs price > unit_cost ≥ salvage (got %v, %v, %v)", p.Price, p.UnitCost, p.Salvage)
	case p.ShelfLife < 0:
		return fmt.Errorf("supply: shelf_life = %d; want ≥ 0", p.ShelfLife)
	}
	return nil
}

func (p Params) review() int { return max(p.Review, 1) }

// Demand is a per-period demand forecast: the point forecasts and each
// step's standard deviation.
type Demand struct {
	Mean  []float64
	Sigma []float64
}

// Z80 is Φ⁻¹(0.9): the half-width of a central 80% normal interval in σ.
const Z80 = 1.2815515655446004

// DemandFromInterval builds a Demand from point forecasts and the upper
// bounds of their central 80% intervals (σ = (hi-point)/Z80).
func DemandFromInterval(point, hi80 []float64) Demand {
	d := Demand{Mean: append([]float64(nil), point...), Sigma: make([]float64, len(point))}
	for i := range point {
		d.Sigma[i] = max(hi80[i]-point[i], 0) / Z80
	}
	return d
}

// Over returns the mean and standard deviation of the total demand of
// the first n periods (steps independent); periods beyond the forecast
// repeat its last step.
func (d Demand) Over(n int) (mean, sd float64) {
	if len(d.Mean) == 0 || n <= 0 {
		return 0, 0
	}
	var v float64
	for i := range n {
		j := min(i, len(d.Mean)-1)
		mean += max(d.Mean[j], 0)
		v += d.Sigma[j] * d.Sigma[j]
	}
	return mean, math.Sqrt(v)
}

// Inventory is the stock of one SKU in one warehouse.
type Inventory struct {
	OnHand  float64 `json:"on_hand"`
	OnOrder float64 `json:"on_order"`
}

// Position is on hand plus on order.
func (i Inventory) Position() float64 { return i.OnHand + i.OnOrder }

// Decision is a replenishment decision with its reasons.
type Decision struct {
	Policy            Policy  `json:"policy"`
	OrderQuantity     float64 `json:"order_quantity"`
	ReorderPoint      float64 `json:"reorder_point"`
	OrderUpTo         float64 `json:"order_up_to"`
	InventoryPosition float64 `json:"inventory_position"`
	OnHand            float64 `json:"on_hand"`
	OnOrder           float64 `json:"on_order"`
	ProtectionPeriods int     `json:"protection_periods"`
	DemandMean        float64 `json:"demand_mean"`
	DemandSD          float64 `json:"demand_sd"`
	ServiceLevel      float64 `json:"service_level"`
	Z                 float64 `json:"z"`
	SafetyStock       float64 `json:"safety_stock"`
	Reason            string  `json:"reason"`
}

var stdNormal = distuv.Normal{Mu: 0, Sigma: 1}

// Decide applies the policy to the demand forecast and the inventory.
func Decide(p Params, d Demand, inv Inventory) (Decision, error) {
	if err := p.Validate(); err != nil {
		return Decision{}, err
	}
	if !finiteNonNeg(inv.OnHand) || !finiteNonNeg(inv.OnOrder) {
		return Decision{}, fmt.Errorf("supply: inventory on_hand %v, on_order %v; want finite and ≥ 0", inv.OnHand, inv.OnOrder)
	}
	dec := Decision{Policy: p.Policy, OnHand: inv.OnHand, OnOrder: inv.OnOrder, InventoryPosition: inv.Position()}
	switch p.Policy {
	case BaseStock, SS:
		P := p.LeadTime + p.review()
		mu, sd := d.Over(P)
		z := stdNormal.Quantile(p.ServiceLevel)
		dec.ProtectionPeriods, dec.DemandMean, dec.DemandSD, dec.ServiceLevel, dec.Z = P, mu, sd, p.ServiceLevel, z
		dec.SafetyStock = max(z*sd, 0)
		target := mu + z*sd
		if p.Policy == BaseStock {
			dec.OrderUpTo, dec.ReorderPoint = target, target
			dec.OrderQuantity = max(target-dec.InventoryPosition, 0)
			dec.Reason = fmt.Sprintf("base-stock: demand over lead time %d + review %d periods is %.1f ± %.1f; "+
				"order up to %.1f (mean + %.2fσ for a %.0f%% service level); inventory position %.1f (on hand %.1f + on order %.1f), so order %.1f",
				p.LeadTime, p.review(), mu, sd, target, z, 100*p.ServiceLevel, dec.InventoryPosition, inv.OnHand, inv.OnOrder, dec.OrderQuantity)
			break
		}
		// (s, S): s covers lead time + review at the service level; the
		// order size is the economic order quantity (at least one
		// review period of demand).
		rate := mu / float64(P)
		q := rate * float64(p.review())
		if p.OrderCost > 0 && p.HoldingCost > 0 && rate > 0 {
			q = max(q, math.Sqrt(2*p.OrderCost*rate/p.HoldingCost))
		}
		dec.ReorderPoint, dec.OrderUpTo = target, target+q
		if dec.InventoryPosition <= dec.ReorderPoint {
			dec.OrderQuantity = dec.OrderUpTo - dec.InventoryPosition
			dec.Reason = fmt.Sprintf("(s,S): inventory position %.1f is at or below s = %.1f (demand over %d periods %.1f ± %.1f at %.0f%% service); order up to S = %.1f: %.1f units",
				dec.InventoryPosition, target, P, mu, sd, 100*p.ServiceLevel, dec.OrderUpTo, dec.OrderQuantity)
		} else {
			dec.Reason = fmt.Sprintf("(s,S): inventory position %.1f is above s = %.1f (demand over %d periods %.1f ± %.1f at %.0f%% service); no order",
				dec.InventoryPosition, target, P, mu, sd, 100*p.ServiceLevel)
		}
	case Newsvendor:
		// The order arrives after the lead time and sells until the next
		// order arrives, Review periods later, or until it expires.
		w := p.review()
		if p.ShelfLife > 0 {
			w = min(w, p.ShelfLife)
		}
		var mean, v float64
		for i := p.LeadTime; i < p.LeadTime+w; i++ {
			j := min(i, len(d.Mean)-1)
			if j < 0 {
				break
			}
			mean += max(d.Mean[j], 0)
			v += d.Sigma[j] * d.Sigma[j]
		}
		sd := math.Sqrt(v)
		cr := (p.Price - p.UnitCost) / (p.Price - p.Salvage)
		z := stdNormal.Quantile(cr)
		q := max(mean+z*sd, 0)
		// Stock expected to be left when the order arrives counts
		// against it (its age is not tracked here: it is assumed still
		// sellable).
		leadMean, _ := d.Over(p.LeadTime)
		left := max(dec.InventoryPosition-leadMean, 0)
		dec.ProtectionPeriods, dec.DemandMean, dec.DemandSD, dec.ServiceLevel, dec.Z = w, mean, sd, cr, z
		dec.OrderUpTo, dec.ReorderPoint = q, q
		dec.OrderQuantity = max(q-left, 0)
		dec.SafetyStock = z * sd
		dec.Reason = fmt.Sprintf("newsvendor: critical ratio (price %.2f - cost %.2f)/(price - salvage %.2f) = %.3f; demand over the %d selling periods after a %d-period lead time is %.1f ± %.1f; "+
			"stock for them %.1f (mean %+.2fσ); %.1f expected left from inventory position %.1f after lead-time demand %.1f, so order %.1f",
			p.Price, p.UnitCost, p.Salvage, cr, w, p.LeadTime, mean, sd, q, z, left, dec.InventoryPosition, leadMean, dec.OrderQuantity)
	}
	for _, v := range []*float64{&dec.OrderQuantity, &dec.OrderUpTo, &dec.ReorderPoint, &dec.DemandMean, &dec.DemandSD, &dec.SafetyStock} {
		if !finiteNonNeg(*v) {
			*v = 0
		}
	}
	return dec, nil
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }
