package supply

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/learn/forecast"
)

func flat(n int, mean, sd float64) Demand {
	d := Demand{Mean: make([]float64, n), Sigma: make([]float64, n)}
	for i := range n {
		d.Mean[i], d.Sigma[i] = mean, sd
	}
	return d
}

func TestDecide(t *testing.T) {
	z95 := 1.6448536269514722
	tests := []struct {
		name      string
		p         Params
		inv       Inventory
		wantOrder float64
		wantWords string
	}{
		// Protection 2+1 = 3 periods: mean 30, sd 2·√3; S = 30 + z·3.46.
		{"base-stock", Params{Policy: BaseStock, LeadTime: 2, Review: 1, ServiceLevel: 0.95}, Inventory{OnHand: 10, OnOrder: 5},
			30 + z95*2*math.Sqrt(3) - 15, "base-stock"},
		{"base-stock overstocked", Params{Policy: BaseStock, LeadTime: 2, ServiceLevel: 0.95}, Inventory{OnHand: 100},
			0, "order 0.0"},
		// (s,S): s = 30 + z·3.46 ≈ 35.7; Q = max(10, √(2·50·10/1)) = 31.6.
		{"sS below s", Params{Policy: SS, LeadTime: 2, ServiceLevel: 0.95, OrderCost: 50, HoldingCost: 1}, Inventory{OnHand: 20},
			30 + z95*2*math.Sqrt(3) + math.Sqrt(1000) - 20, "order up to S"},
		{"sS above s", Params{Policy: SS, LeadTime: 2, ServiceLevel: 0.95, OrderCost: 50, HoldingCost: 1}, Inventory{OnHand: 40},
			0, "no order"},
		// Newsvendor: CR = (10-4)/(10-0) = 0.6; review 2, shelf life 3 →
		// 2 selling periods: mean 20, sd 2√2; position 13 - lead demand 10 = 3 left.
		{"newsvendor", Params{Policy: Newsvendor, LeadTime: 1, Review: 2, Price: 10, UnitCost: 4, ShelfLife: 3}, Inventory{OnHand: 10, OnOrder: 3},
			20 + 0.2533471031357997*2*math.Sqrt(2) - 3, "critical ratio"},
	}
	for _, tc := range tests {
		dec, err := Decide(tc.p, flat(10, 10, 2), tc.inv)
		if err != nil {
			t.Fatalf("Decide(%s): %v", tc.name, err)
		}
		if math.Abs(dec.OrderQuantity-tc.wantOrder) > 1e-6 {
			t.Errorf("Decide(%q).OrderQuantity = %v; want %v (%s)", tc.name, dec.OrderQuantity, tc.wantOrder, dec.Reason)
		}
		if !strings.Contains(dec.Reason, tc.wantWords) {
			t.Errorf("Decide(%q).Reason = %q; want it to mention %q", tc.name, dec.Reason, tc.wantWords)
		}
	}
	bad := []Params{
		{Policy: "magic"},
		{Policy: BaseStock, ServiceLevel: 1},
		{Policy: BaseStock, ServiceLevel: 0.9, LeadTime: -1},
		{Policy: Newsvendor, Price: 1, UnitCost: 2},
	}
	for _, p := range bad {
		if _, err := Decide(p, flat(3, 1, 1), Inventory{}); err == nil {
			t.Errorf("Decide(%+v) succeeded; want a validation error", p)
		}
	}
	if _, err := Decide(Params{Policy: BaseStock, ServiceLevel: 0.9}, flat(3, 1, 1), Inventory{OnHand: math.NaN()}); err == nil {
		t.Errorf("Decide(on hand NaN) succeeded; want an error")
	}
}

func weeklyDemand(n int, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	d := make([]float64, n)
	for i := range d {
		mu := 20 + 8*math.Sin(2*math.Pi*float64(i)/7)
		d[i] = math.Max(0, math.Round(mu+4*r.NormFloat64()))
	}
	return d
}

func TestSimulateComparesPolicies(t *testing.T) {
	d := weeklyDemand(400, 1)
	run := func(p Params) SimResult {
		res, err := Simulate(context.Background(), d, SimConfig{Params: p, InitialStock: 60, Warmup: 60, Periods: []int{7}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	lo := run(Params{Policy: BaseStock, LeadTime: 3, ServiceLevel: 0.80, HoldingCost: 1})
	hi := run(Params{Policy: BaseStock, LeadTime: 3, ServiceLevel: 0.99, HoldingCost: 1})
	ss := run(Params{Policy: SS, LeadTime: 3, ServiceLevel: 0.95, OrderCost: 100, HoldingCost: 1})
	t.Logf("base-stock 80%%: %+v", lo)
	t.Logf("base-stock 99%%: %+v", hi)
	t.Logf("(s,S) 95%%:      %+v", ss)
	if !(hi.FillRate > lo.FillRate && hi.AvgInventory > lo.AvgInventory) {
		t.Errorf("99%% service: fill %.3f, inventory %.1f; 80%%: %.3f, %.1f; want more fill and more stock at 99%%",
			hi.FillRate, hi.AvgInventory, lo.FillRate, lo.AvgInventory)
	}
	if hi.FillRate < 0.97 {
		t.Errorf("base-stock at 99%% service fill rate = %.3f; want ≥ 0.97", hi.FillRate)
	}
	if ss.Orders >= hi.Orders {
		t.Errorf("(s,S) with an order cost placed %d orders, base-stock %d; want fewer, larger orders", ss.Orders, hi.Orders)
	}
	// Perishables: units expire after 2 periods.
	nv := run(Params{Policy: Newsvendor, LeadTime: 1, Price: 10, UnitCost: 3, ShelfLife: 2, HoldingCost: 0.1})
	t.Logf("newsvendor:     %+v", nv)
	if nv.FillRate < 0.8 || nv.Expired <= 0 {
		t.Errorf("newsvendor fill %.3f, expired %.1f; want a high fill rate and some waste", nv.FillRate, nv.Expired)
	}
	if _, err := Simulate(context.Background(), d, SimConfig{Params: Params{Policy: BaseStock, ServiceLevel: 2}}); err == nil {
		t.Errorf("Simulate(service level 2) succeeded; want an error")
	}
}

func TestSimulateRetailSales(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "us-retail-sales-monthly", "retail_sales.csv")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("%s not found; skipping", path)
	}
	y, err := forecast.ReadSeriesCSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range []float64{0.9, 0.98} {
		res, err := Simulate(context.Background(), y, SimConfig{Params: Params{Policy: BaseStock, LeadTime: 1, ServiceLevel: sl, HoldingCost: 0.01},
			InitialStock: 2 * y[0], Warmup: 48, Periods: []int{12}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("retail sales, base-stock %.0f%%: fill %.4f stock-outs %d/%d avg inventory %.0f (monthly demand ~%.0f)",
			100*sl, res.FillRate, res.StockOuts, res.Periods, res.AvgInventory, y[len(y)-1])
		if res.FillRate < 0.95 {
			t.Errorf("retail base-stock %.2f fill rate = %.3f; want ≥ 0.95", sl, res.FillRate)
		}
	}
}

func TestService(t *testing.T) {
	s, err := NewService(ServiceConfig{Horizon: 14})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	d := weeklyDemand(120, 2)
	for day, q := range d {
		ts := t0.Add(time.Duration(day)*24*time.Hour + 10*time.Hour)
		if q > 0 {
			e := event.Event{ID: "o", Type: event.TypeOrder, Timestamp: ts, Warehouse: "w1",
				Lines: []event.OrderLine{{SKU: "sku1", Quantity: q}}}
			if err := s.Apply(&e); err != nil {
				t.Fatal(err)
			}
		}
		// Purchases are ignored once orders are seen (SourceAuto).
		p := event.Event{ID: "p", Type: event.TypePurchase, Timestamp: ts, ItemID: "sku1", Quantity: 100}
		if err := s.Apply(&p); err != nil {
			t.Fatal(err)
		}
	}
	st := event.Event{ID: "s", Type: event.TypeStock, Timestamp: t0.Add(119 * 24 * time.Hour), SKU: "sku1", Warehouse: "w1", Quantity: 15}
	if err := s.Apply(&st); err != nil {
		t.Fatal(err)
	}
	fr, err := s.Forecast("sku1", 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Points) != 7 || fr.Periods < 100 {
		t.Fatalf("Forecast = %+v; want 7 points from ≥ 100 periods", fr)
	}
	for _, p := range fr.Points {
		if !(p.Lo95 <= p.Lo80 && p.Lo80 <= p.Forecast && p.Forecast <= p.Hi80 && p.Hi80 <= p.Hi95) || p.Forecast < 5 || p.Forecast > 40 {
			t.Errorf("forecast point %+v; want ordered intervals around ~20 units/day", p)
		}
	}
	rr, err := s.Replenishment("sku1", "w1")
	if err != nil {
		t.Fatal(err)
	}
	if rr.OnHand != 15 || rr.OrderQuantity <= 0 || rr.DemandBasis != "sku/warehouse" || !strings.Contains(rr.Reason, "base-stock") {
		t.Errorf("Replenishment = %+v; want an order explained by base-stock from 15 on hand", rr)
	}
	if _, err := s.Forecast("nope", 3); !errors.Is(err, ErrUnknown) {
		t.Errorf("Forecast(unknown) error = %v; want ErrUnknown", err)
	}
	if _, err := s.Forecast("sku1", 15); err == nil || !strings.Contains(err.Error(), "horizon") {
		t.Errorf("Forecast(horizon 15 > 14) error = %v; want one naming horizon", err)
	}
	// Out of order: a demand event for a closed day is rejected.
	old := event.Event{ID: "x", Type: event.TypeOrder, Timestamp: t0, Warehouse: "w1", Lines: []event.OrderLine{{SKU: "sku1", Quantity: 1}}}
	if err := s.Apply(&old); !errors.Is(err, forecast.ErrOutOfOrder) {
		t.Errorf("Apply(old order) error = %v; want ErrOutOfOrder", err)
	}
	// A warehouse without its own demand uses the SKU's.
	st2 := event.Event{ID: "s2", Type: event.TypeStock, Timestamp: t0.Add(119 * 24 * time.Hour), SKU: "sku1", Warehouse: "w2", Quantity: 500}
	if err := s.Apply(&st2); err != nil {
		t.Fatal(err)
	}
	rr2, err := s.Replenishment("sku1", "w2")
	if err != nil {
		t.Fatal(err)
	}
	if rr2.DemandBasis != "sku (all warehouses)" || rr2.OrderQuantity != 0 {
		t.Errorf("Replenishment(w2, 500 on hand) = %+v; want no order based on the SKU's demand", rr2)
	}
	if err := s.SetParams("sku1", "w1", Params{Policy: Newsvendor, Price: 5, UnitCost: 2, ShelfLife: 3}); err != nil {
		t.Fatal(err)
	}
	if rr3, err := s.Replenishment("sku1", "w1"); err != nil || rr3.Policy != Newsvendor {
		t.Errorf("Replenishment after SetParams = %+v, %v; want the newsvendor", rr3, err)
	}
	s.AdvanceTo(t0.Add(130 * 24 * time.Hour))
	if fr2, _ := s.Forecast("sku1", 1); fr2.Periods <= fr.Periods {
		t.Errorf("AdvanceTo did not close the empty days: periods %d → %d", fr.Periods, fr2.Periods)
	}
}

func BenchmarkServiceApply(b *testing.B) {
	s, err := NewService(ServiceConfig{Step: time.Hour, Periods: []int{24}})
	if err != nil {
		b.Fatal(err)
	}
	skus := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := event.Event{ID: "o", Type: event.TypeOrder, Warehouse: "w1", Lines: []event.OrderLine{{Quantity: 1}}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Timestamp = t0.Add(time.Duration(i) * time.Minute)
		e.Lines[0].SKU = skus[i%len(skus)]
		if err := s.Apply(&e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
