package sim

import (
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// The tests in this file check that each phenomenon the package
// documentation promises is really in the stream. Three runs are shared
// between tests (computed once). Their seeds are fixed; set
// PERPETUA_SIM_SEED=n to run them all with another seed.

func testSeed(def uint64) uint64 {
	if s := os.Getenv("PERPETUA_SIM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			panic("PERPETUA_SIM_SEED: " + err.Error())
		}
		return n
	}
	return def
}

func corr(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

// ---- seasons, new items, promotions -------------------------------------

const (
	seasonDays  = 28
	seasonYear  = 14.0 // days per simulated year: two years in the run, weekdays aligned
	yearBuckets = 10
	weekDays    = 21
)

// seasonRun collects one run's statistics. Sums of P(purchase) are of
// its logit, which the seasons shift additively, so that the changing mix
// of shoppers and items adds little noise.
type seasonRun struct {
	w    *World
	cats int
	// [category][year][phase bucket]
	yP, yViews, yBuys [][3][yearBuckets]float64
	// [category][week][day of week]
	wP, wViews [][4][7]float64
	days       []DayTruth
	arrival    map[string]int                           // new item → arrival day
	firstView  map[string]int                           // item → day of its first view
	promoItem  map[string][2]struct{ n, p float64 }     // item → [off, on promo] views and summed P(purchase)
	promoDays  map[string][2]struct{ n, units float64 } // sku → [off, on promo] days and expected units
}

var (
	yearOnce, weekOnce sync.Once
	yearRun, weekRun   *seasonRun
)

// yearly is a run whose year lasts two weeks; weekly a run with the
// default year (which barely moves in three weeks) and no shift.
func yearly(t *testing.T) *seasonRun {
	yearOnce.Do(func() {
		yearRun = runSeasons(WorldConfig{Seed: testSeed(21), Users: 3000, Days: seasonDays, YearDays: seasonYear, NoShift: true,
			NoPayments: true, NoStock: true, NoOrders: true})
	})
	if yearRun == nil {
		t.Fatal("yearly run failed")
	}
	return yearRun
}

func weekly(t *testing.T) *seasonRun {
	weekOnce.Do(func() {
		weekRun = runSeasons(WorldConfig{Seed: testSeed(24), Users: 4000, Days: weekDays, NoShift: true,
			NoPayments: true, NoStock: true, NoOrders: true})
	})
	if weekRun == nil {
		t.Fatal("weekly run failed")
	}
	return weekRun
}

func runSeasons(cfg WorldConfig) *seasonRun {
	r := &seasonRun{promoItem: map[string][2]struct{ n, p float64 }{}, arrival: map[string]int{},
		firstView: map[string]int{}, promoDays: map[string][2]struct{ n, units float64 }{}}
	cfg.OnDay = func(d *DayTruth) {
		dc := *d
		dc.SKUs = nil
		dc.NewItems = append([]string(nil), d.NewItems...)
		r.days = append(r.days, dc)
		for _, id := range d.NewItems {
			r.arrival[id] = d.Day
		}
		for _, s := range d.SKUs {
			x := r.promoDays[s.SKU]
			on := 0
			if s.Discount > 0 {
				on = 1
			}
			x[on].n++
			x[on].units += s.ExpectedUnits
			r.promoDays[s.SKU] = x
		}
	}
	w, err := NewWorld(cfg)
	if err != nil {
		panic(err)
	}
	r.w = w
	r.cats = w.Config().Categories
	year := w.Config().YearDays
	r.yP = make([][3][yearBuckets]float64, r.cats)
	r.yViews = make([][3][yearBuckets]float64, r.cats)
	r.yBuys = make([][3][yearBuckets]float64, r.cats)
	r.wP = make([][4][7]float64, r.cats)
	r.wViews = make([][4][7]float64, r.cats)
	catOf := map[string]int{}
	var ev []event.Event
	var tr []Truth
	var its []Item
	for !w.Done() {
		ev, tr = w.NextTruth(ev[:0], tr[:0], 2000)
		its = w.Items(its[:0])
		for _, it := range its {
			catOf[it.ID] = it.Category
		}
		for i := range ev {
			e := &ev[i]
			if e.Type != event.TypeView && e.Type != event.TypePurchase {
				continue
			}
			c := catOf[e.ItemID]
			days := e.Timestamp.Sub(w.Start()).Hours() / 24
			y := int(days / year)
			b := int((days/year - float64(y)) * yearBuckets)
			if e.Type == event.TypePurchase {
				r.yBuys[c][y][b]++
				continue
			}
			lp := logit(tr[i].PPurchase)
			r.yP[c][y][b] += lp
			r.yViews[c][y][b]++
			r.wP[c][int(days)/7][int(days)%7] += lp
			r.wViews[c][int(days)/7][int(days)%7]++
			promo := 0
			if tr[i].Promo {
				promo = 1
			}
			x := r.promoItem[e.ItemID]
			x[promo].n++
			x[promo].p += lp
			r.promoItem[e.ItemID] = x
			if _, ok := r.firstView[e.ItemID]; !ok {
				r.firstView[e.ItemID] = int(days)
			}
		}
	}
	return r
}

// TestYearlySeasonRecurs: the purchase probability of a category follows
// its yearly season, and the profile repeats the next year. Profiles are
// mean logits, which the season shifts additively, so that the changing
// mix of shoppers and items adds little noise.
func TestYearlySeasonRecurs(t *testing.T) {
	r := yearly(t)
	cats := r.w.shop.cats
	// The category with the clearest signal: the most purchases among
	// those with a strong yearly season.
	maxAmp := 0.0
	for c := range cats {
		maxAmp = math.Max(maxAmp, cats[c].ay)
	}
	best, most := 0, -1.0
	for c := range cats {
		n := 0.0
		for y := 0; y < 2; y++ {
			for b := 0; b < yearBuckets; b++ {
				n += r.yBuys[c][y][b]
			}
		}
		if cats[c].ay >= 0.7*maxAmp && n > most {
			best, most = c, n
		}
	}
	profile := func(y int) []float64 {
		out := make([]float64, yearBuckets)
		for b := range out {
			out[b] = r.yP[best][y][b] / r.yViews[best][y][b]
		}
		return out
	}
	y0, y1 := profile(0), profile(1)
	shifted := append(append([]float64(nil), y1[yearBuckets/2:]...), y1[:yearBuckets/2]...)
	c01, cHalf := corr(y0, y1), corr(y0, shifted)
	t.Logf("category %d (yearly amplitude %.2f): mean logit P(purchase) by phase, year 1 %.2f\nyear 2 %.2f\ncorr %.2f, half-year shifted %.2f",
		best, cats[best].ay, y0, y1, c01, cHalf)
	if c01 < 0.7 || cHalf > 0 {
		t.Fatalf("yearly profile does not recur: corr(year1, year2) = %.2f (want ≥ 0.7), shifted %.2f (want < 0)", c01, cHalf)
	}
	// Realised purchases follow: purchase rate in the peak half of the
	// year against the trough half (both years pooled).
	var peak, trough [2]float64
	for b := 0; b < yearBuckets; b++ {
		phase := (float64(b) + 0.5) / yearBuckets
		x := &trough
		if math.Cos(2*math.Pi*(phase-cats[best].py)) > 0 {
			x = &peak
		}
		for y := 0; y < 2; y++ {
			x[0] += r.yBuys[best][y][b]
			x[1] += r.yViews[best][y][b]
		}
	}
	pr, tr := peak[0]/peak[1], trough[0]/trough[1]
	t.Logf("purchases per view: peak half %.4f, trough half %.4f", pr, tr)
	if pr < 1.25*tr {
		t.Fatalf("purchases per view in season %.4f, out of season %.4f; want a clear seasonal lift", pr, tr)
	}
}

// TestWeeklySeasonRecurs: the day-of-week profile of a category's
// purchase probability repeats week after week. Each week's profile is
// detrended, as the yearly season and the ageing catalog move slowly.
func TestWeeklySeasonRecurs(t *testing.T) {
	r := weekly(t)
	cats := r.w.shop.cats
	// The category with the clearest signal: the most views among those
	// with a strong weekly season.
	maxAmp := 0.0
	for c := range cats {
		maxAmp = math.Max(maxAmp, cats[c].aw)
	}
	best, most := 0, -1.0
	for c := range cats {
		v := 0.0
		for d := 0; d < 7; d++ {
			v += r.wViews[c][0][d] + r.wViews[c][1][d] + r.wViews[c][2][d]
		}
		if cats[c].aw >= 0.7*maxAmp && v > most {
			best, most = c, v
		}
	}
	prof := make([][]float64, 3)
	for k := range prof {
		for d := 0; d < 7; d++ {
			prof[k] = append(prof[k], r.wP[best][k][d]/r.wViews[best][k][d])
		}
		detrend(prof[k])
	}
	rest := make([]float64, 7) // weeks 2 and 3
	for d := range rest {
		rest[d] = (prof[1][d] + prof[2][d]) / 2
	}
	c := corr(prof[0], rest)
	t.Logf("category %d (weekly amplitude %.2f): mean logit P(purchase) by day of week, detrended\nweek 1 %.2f\nweek 2 %.2f\nweek 3 %.2f\ncorr(week 1, weeks 2–3) %.2f",
		best, cats[best].aw, prof[0], prof[1], prof[2], c)
	if c < 0.7 {
		t.Fatalf("weekly profile does not recur: corr %.2f; want ≥ 0.7", c)
	}
}

// TestNewItemsDaily: items arrive every day, are never seen before they
// arrive, and get viewed soon after.
func TestNewItemsDaily(t *testing.T) {
	r := yearly(t)
	for id, a := range r.arrival {
		if fv, ok := r.firstView[id]; ok && fv < a {
			t.Fatalf("item %s viewed on day %d, before its arrival on day %d", id, fv, a)
		}
	}
	seen := 0
	for _, d := range r.days[1:] {
		if len(d.NewItems) == 0 {
			t.Errorf("day %d: no new items", d.Day)
		}
		viewed := 0
		for _, id := range d.NewItems {
			if fv, ok := r.firstView[id]; ok && fv <= d.Day+2 {
				viewed++
			}
		}
		if d.Day+2 < seasonDays && viewed == 0 {
			t.Errorf("day %d: none of %d new items viewed within 3 days", d.Day, len(d.NewItems))
		}
		seen += viewed
	}
	if r.days[0].RetiredItems != 0 || r.days[len(r.days)-1].RetiredItems == 0 && r.days[len(r.days)-2].RetiredItems == 0 {
		t.Errorf("retirements: first day %d, last days %d, %d", r.days[0].RetiredItems, r.days[len(r.days)-2].RetiredItems, r.days[len(r.days)-1].RetiredItems)
	}
	t.Logf("%d new items viewed within 3 days of arrival", seen)
}

// TestPromotionsShiftDemand: an item sells better per view while on
// promotion than when not, and its expected daily demand rises.
func TestPromotionsShiftDemand(t *testing.T) {
	r := weekly(t)
	// Views on and off promotion come from different shoppers at
	// different times, so single items are noisy: look at the share of
	// items lifted and at the geometric mean lift.
	up, pairs, logLift := 0, 0, 0.0
	for _, x := range r.promoItem {
		if x[0].n >= 5 && x[1].n >= 5 {
			pairs++
			l := x[1].p/x[1].n - x[0].p/x[0].n // difference of mean logits
			logLift += l
			if l > 0 {
				up++
			}
		}
	}
	gm := math.Exp(logLift / float64(pairs))
	t.Logf("%d of %d items had a higher mean P(purchase) per view on promotion; mean odds ratio %.2f", up, pairs, gm)
	if pairs < 20 || float64(up) < 0.7*float64(pairs) || gm < 1.4 {
		t.Fatal("promotions do not lift the purchase probability")
	}
	var lift []float64
	for _, x := range r.promoDays {
		if x[0].n >= 2 && x[1].n >= 1 && x[0].units > 0 {
			lift = append(lift, (x[1].units/x[1].n)/(x[0].units/x[0].n))
		}
	}
	above := 0
	for _, l := range lift {
		if l > 1 {
			above++
		}
	}
	sort.Float64s(lift)
	med := lift[len(lift)/2]
	t.Logf("%d of %d promoted SKUs had higher expected daily units on promotion days; median lift %.2f", above, len(lift), med)
	if len(lift) < 20 || float64(above) < 0.7*float64(len(lift)) || med < 1.5 {
		t.Fatal("promotions do not raise daily demand")
	}
}

// ---- abrupt shift, purchase probability, stock, orders ------------------

type shiftRun struct {
	w           *World
	ppChecked   int
	ppClose     int
	regimeWrong int
	days        []DayTruth
	dayUnits    []float64 // purchase units by day from the events
	stockAfter  int       // purchases followed at once by a stock event for their SKU
	purchases   int
	restocks    int
	orderUnits  float64
	buyUnits    float64
	orders      []event.Event
	orderZones  []int32
}

var (
	shiftOnce sync.Once
	shiftR    *shiftRun
)

const shiftDays = 8

func shifted(t *testing.T) *shiftRun {
	shiftOnce.Do(func() {
		r := &shiftRun{}
		cfg := WorldConfig{Seed: testSeed(22), Users: 3000, SessionsPerDay: 2000, Days: shiftDays, ShiftDays: []float64{4}, NoPayments: true,
			OnDay: func(d *DayTruth) {
				dc := *d
				dc.SKUs = append([]SKUDemand(nil), d.SKUs...)
				r.days = append(r.days, dc)
			}}
		w, err := NewWorld(cfg)
		if err != nil {
			panic(err)
		}
		r.w = w
		r.dayUnits = make([]float64, shiftDays)
		level := map[string]float64{}
		wantStock := "" // SKU of the purchase just seen: its stock event must come next
		var ev []event.Event
		var tr []Truth
		shiftAt := w.ShiftTimes()[0]
		for !w.Done() {
			ev, tr = w.NextTruth(ev[:0], tr[:0], 1000)
			for i := range ev {
				e := &ev[i]
				days := e.Timestamp.Sub(w.Start()).Hours() / 24
				if wantStock != "" && e.Type == event.TypeStock && e.SKU == wantStock {
					r.stockAfter++
				}
				wantStock = ""
				switch e.Type {
				case event.TypeView:
					// The oracle agrees with the truth of the view (up to
					// the taste drift within a session).
					if i%7 == 0 && len(ev)-i < 50 {
						p, err := w.PurchaseProb(e.UserID, e.ItemID, e.Timestamp)
						if err != nil {
							panic(err)
						}
						r.ppChecked++
						if math.Abs(p-tr[i].PPurchase) <= 0.02*tr[i].PPurchase+1e-9 {
							r.ppClose++
						}
					}
					if e.Timestamp.After(shiftAt.Add(3*time.Hour)) && tr[i].Regime != 1 ||
						e.Timestamp.Before(shiftAt) && tr[i].Regime != 0 {
						r.regimeWrong++
					}
				case event.TypePurchase:
					r.dayUnits[int(days)] += e.Quantity
					r.buyUnits += e.Quantity
					r.purchases++
					wantStock = e.ItemID
				case event.TypeStock:
					key := e.SKU + "@" + e.Warehouse
					if old, ok := level[key]; ok && e.Quantity > old {
						r.restocks++
					}
					level[key] = e.Quantity
				case event.TypeOrder:
					o := *e
					r.orders = append(r.orders, o)
					r.orderZones = append(r.orderZones, tr[i].Zone)
					for _, l := range e.Lines {
						r.orderUnits += l.Quantity
					}
				}
			}
		}
		shiftR = r
	})
	if shiftR == nil {
		t.Fatal("shift run failed")
	}
	return shiftR
}

// detrend removes the least-squares line from y (indexed 0, 1, …).
func detrend(y []float64) {
	n := float64(len(y))
	var sx, sy, sxx, sxy float64
	for i, v := range y {
		x := float64(i)
		sx += x
		sy += v
		sxx += x * x
		sxy += x * v
	}
	b := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	a := (sy - b*sx) / n
	for i := range y {
		y[i] -= a + b*float64(i)
	}
}

func tvDistance(a, b []float64) float64 {
	var sa, sb, d float64
	for i := range a {
		sa += a[i]
		sb += b[i]
	}
	for i := range a {
		d += math.Abs(a[i]/sa - b[i]/sb)
	}
	return d / 2
}

func topItems(m map[string]float64, n int) map[string]bool {
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	for i := 1; i < len(all); i++ { // insertion sort, by count then id
		for j := i; j > 0 && (all[j].v > all[j-1].v || all[j].v == all[j-1].v && all[j].k < all[j-1].k); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	out := map[string]bool{}
	for i := 0; i < n && i < len(all); i++ {
		out[all[i].k] = true
	}
	return out
}

// TestAbruptShiftChangesWhatSells: across the shift the mix of
// categories and the best sellers change far more than within a regime.
// Sales are measured by the day truth's expected units (the sum of the
// views' purchase probabilities), which is what a forecaster must track.
func TestAbruptShiftChangesWhatSells(t *testing.T) {
	r := shifted(t)
	nc := r.w.Config().Categories
	cat := func(d0, d1 int) []float64 {
		out := make([]float64, nc)
		for _, d := range r.days[d0:d1] {
			for _, s := range d.SKUs {
				out[s.Category] += s.ExpectedUnits
			}
		}
		return out
	}
	items := func(d0, d1 int) map[string]float64 {
		out := map[string]float64{}
		for _, d := range r.days[d0:d1] {
			for _, s := range d.SKUs {
				out[s.SKU] += s.ExpectedUnits
			}
		}
		return out
	}
	within := math.Max(tvDistance(cat(0, 2), cat(2, 4)), tvDistance(cat(4, 6), cat(6, 8)))
	across := tvDistance(cat(2, 4), cat(4, 6))
	t.Logf("category mix of expected sales, total variation: within a regime %.3f, across the shift %.3f", within, across)
	if across < 2*within || across < 0.15 {
		t.Fatalf("the shift does not change which categories sell (within %.3f, across %.3f)", within, across)
	}
	overlap := func(a, b map[string]bool) int {
		n := 0
		for k := range a {
			if b[k] {
				n++
			}
		}
		return n
	}
	t0, t1, t2, t3 := topItems(items(0, 2), 50), topItems(items(2, 4), 50), topItems(items(4, 6), 50), topItems(items(6, 8), 50)
	ow, oa := min(overlap(t0, t1), overlap(t2, t3)), overlap(t1, t2)
	t.Logf("top-50 items shared: within a regime at least %d, across the shift %d", ow, oa)
	if oa > ow-5 {
		t.Fatalf("the shift does not change the best sellers (within %d, across %d)", ow, oa)
	}
	if r.regimeWrong != 0 {
		t.Fatalf("%d views with the wrong regime in their truth", r.regimeWrong)
	}
	if d := r.days; d[3].Regime != 0 || d[4].Regime != 1 {
		t.Fatalf("DayTruth regimes: day 3 %d, day 4 %d; want 0, 1", d[3].Regime, d[4].Regime)
	}
}

// TestPurchaseProbMatchesTruth: the oracle and the per-view truth agree.
func TestPurchaseProbMatchesTruth(t *testing.T) {
	r := shifted(t)
	t.Logf("%d of %d views within 2%% of PurchaseProb", r.ppClose, r.ppChecked)
	if r.ppChecked < 200 || r.ppClose < r.ppChecked*95/100 {
		t.Fatalf("PurchaseProb agrees with the truth on %d of %d views; want ≥ 95%%", r.ppClose, r.ppChecked)
	}
	w := r.w
	if _, err := w.PurchaseProb("x1", "i1", w.Now()); err == nil {
		t.Error("PurchaseProb accepted a bad user id")
	}
	if _, err := w.PurchaseProb("u1", "nope", w.Now()); err == nil {
		t.Error("PurchaseProb accepted an unknown item")
	}
}

// TestDemandTruthAndStock: the day truth's expected units track the units
// sold, sales follow the events, and stock events follow every sale.
func TestDemandTruthAndStock(t *testing.T) {
	r := shifted(t)
	if len(r.days) != shiftDays {
		t.Fatalf("%d day truths; want %d", len(r.days), shiftDays)
	}
	var exp, units float64
	for i, d := range r.days {
		var de, du float64
		for _, s := range d.SKUs {
			de += s.ExpectedUnits
			du += float64(s.Units)
		}
		if du != r.dayUnits[i] {
			t.Errorf("day %d: truth says %v units sold, events %v", i, du, r.dayUnits[i])
		}
		exp += de
		units += du
	}
	t.Logf("expected units %.0f, sold %.0f", exp, units)
	if math.Abs(exp-units) > 0.05*units {
		t.Fatalf("expected units %.0f vs sold %.0f: off by more than 5%%", exp, units)
	}
	if r.stockAfter != r.purchases {
		t.Fatalf("%d of %d purchases followed by a stock event of their SKU", r.stockAfter, r.purchases)
	}
	if r.restocks == 0 {
		t.Fatal("no replenishment (rising stock) events")
	}
	t.Logf("%d purchases, %d restocks", r.purchases, r.restocks)
}

// TestOrders: orders go to homes inside the city, in the future window,
// carry the units bought, and expose their zone.
func TestOrders(t *testing.T) {
	r := shifted(t)
	w := r.w
	if len(r.orders) < 100 {
		t.Fatalf("only %d orders", len(r.orders))
	}
	for i, o := range r.orders {
		if z := w.ZoneOf(o.Lat, o.Lon); int32(z) != r.orderZones[i] {
			t.Fatalf("order %s: ZoneOf = %d, truth zone %d", o.OrderID, z, r.orderZones[i])
		}
		if !o.WindowStart.After(o.Timestamp) || o.WindowEnd.Sub(o.WindowStart) != 2*time.Hour {
			t.Fatalf("order %s at %v: window %v–%v", o.OrderID, o.Timestamp, o.WindowStart, o.WindowEnd)
		}
		if h := o.WindowStart.Hour(); h < 8 || h > 20 {
			t.Fatalf("order %s: window starts at %d:00", o.OrderID, h)
		}
		cfg := w.Config()
		if math.Abs(o.Lat-cfg.CityLat) > cityLatSpan/2 || math.Abs(o.Lon-cfg.CityLon) > cityLonSpan/2 {
			t.Fatalf("order %s outside the city: %v,%v", o.OrderID, o.Lat, o.Lon)
		}
	}
	// Sessions cut by the end of the run may have bought without an order.
	if r.orderUnits > r.buyUnits || r.orderUnits < 0.98*r.buyUnits {
		t.Fatalf("orders carry %v units, purchases %v", r.orderUnits, r.buyUnits)
	}
}

// TestTravelFactors: rush hours, the busy centre, weekends and roadworks
// after a shift all show in the true travel times.
func TestTravelFactors(t *testing.T) {
	w := mustWorld(t, WorldConfig{Seed: testSeed(3), Days: 30, ShiftDays: []float64{20}, ZoneGrid: 5})
	mon := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday, before the shift and its roadworks
	centre, corner := 12, 0
	f := func(z int, day, h float64) float64 {
		return w.TravelFactor(z, mon.Add(time.Duration((day*24+h)*float64(time.Hour))))
	}
	for _, tc := range []struct {
		name     string
		got, cmp float64
	}{
		{"centre rush vs night", f(centre, 0, 8.25), f(centre, 0, 3)},
		{"centre vs corner at rush", f(centre, 0, 17.5), f(corner, 0, 17.5)},
		{"weekday vs Saturday rush", f(centre, 0, 8.25), f(centre, 5, 8.25)},
	} {
		if !(tc.got > tc.cmp+0.2) {
			t.Errorf("%s: %.2f, want clearly above %.2f", tc.name, tc.got, tc.cmp)
		}
	}
	shift := w.ShiftTimes()[0]
	if got := w.Roadworks(nil, shift.Add(-time.Hour)); len(got) != 0 {
		t.Errorf("Roadworks before the shift = %v; want none", got)
	}
	rzs := w.Roadworks(nil, shift.Add(23*time.Hour))
	if len(rzs) != w.Zones()/4 {
		t.Errorf("Roadworks after the shift = %v; want %d distinct zones", rzs, w.Zones()/4)
	}
	for z := 0; z < w.Zones(); z++ {
		// The roadworks add roadworksUp at the same time of day (the rush
		// hours are the same 24 h apart on weekdays).
		before, during, after := w.TravelFactor(z, shift.Add(-time.Hour)), w.TravelFactor(z, shift.Add(23*time.Hour)), w.TravelFactor(z, shift.Add(8*24*time.Hour-time.Hour))
		want := 0.0
		if slices.Contains(rzs, z) {
			want = roadworksUp
		}
		if math.Abs(during-before-want) > 0.05 || math.Abs(after-before) > 0.05 {
			t.Errorf("zone %d (roadworks %v): factor before %.2f, during %.2f, after %.2f; want +%.1f during only", z, rzs, before, during, after, want)
		}
	}
	if la, lo, ha, ho := w.Bounds(); !(la < ha && lo < ho) || w.ZoneOf(la+1e-9, lo+1e-9) != 0 || w.ZoneOf(ha-1e-9, ho-1e-9) != w.Zones()-1 {
		t.Errorf("Bounds() = %v, %v, %v, %v; want the south-west corner in zone 0 and the north-east in zone %d", la, lo, ha, ho, w.Zones()-1)
	}
	lat, lon := w.ZoneCenter(centre)
	lat2, lon2 := w.ZoneCenter(corner)
	night := w.TravelTime(lat, lon, lat2, lon2, mon.Add(3*time.Hour))
	rush := w.TravelTime(lat, lon, lat2, lon2, mon.Add(8*time.Hour+15*time.Minute))
	if night <= 0 || rush <= night {
		t.Errorf("TravelTime centre→corner: night %v, rush %v", night, rush)
	}
	for z := 0; z < w.Zones(); z++ {
		if la, lo := w.ZoneCenter(z); w.ZoneOf(la, lo) != z {
			t.Errorf("ZoneOf(ZoneCenter(%d)) = %d", z, w.ZoneOf(la, lo))
		}
	}
	t.Logf("centre→corner: %v at night, %v at rush hour", night, rush)
}

// TestTasteDrift: tastes drift gradually (close over an hour, far apart
// after half a drift period) without any abrupt shift.
func TestTasteDrift(t *testing.T) {
	w := mustWorld(t, WorldConfig{Seed: testSeed(4), NoShift: true, DriftDays: 40})
	sim := func(dt int64) float64 {
		var s float64
		const n = 500
		for u := uint64(0); u < n; u++ {
			var a, b [dim]float64
			w.taste(u, 0, &a)
			w.taste(u, dt, &b)
			var ab, aa, bb float64
			mu := &w.shop.popMu[0]
			for j := range a {
				x, y := a[j]-mu[j], b[j]-mu[j]
				ab += x * y
				aa += x * x
				bb += y * y
			}
			s += ab / math.Sqrt(aa*bb)
		}
		return s / n
	}
	hour, month := sim(hourNs), sim(20*dayNs)
	t.Logf("mean cosine of personal taste: after an hour %.3f, after 20 days %.3f", hour, month)
	if hour < 0.99 || month > 0.5 {
		t.Fatalf("taste drift: after an hour %.3f (want ≥ 0.99), after 20 days %.3f (want ≤ 0.5)", hour, month)
	}
}

// ---- fraud ----------------------------------------------------------------

type fraudRun struct {
	w         *World
	camps     []Campaign
	tx        map[string]txInfo
	dayTx     []float64
	dayFraud  []float64
	byCamp    map[int32][]txInfo
	labels    int
	labelErrs []string
	bgFraud   float64
	allTx     float64
}

type txInfo struct {
	t      time.Time
	amount float64
	device string
	truth  Truth
}

var (
	fraudOnce sync.Once
	fraudR    *fraudRun
)

const fraudDays = 14

func fraudWorld(t *testing.T) *fraudRun {
	fraudOnce.Do(func() {
		cfg := WorldConfig{Seed: testSeed(23), Users: 300, SessionsPerDay: 30, Customers: 10_000, TransactionsPerDay: 8000,
			Days: fraudDays, NoStock: true, NoOrders: true, CampaignEveryDays: 2.5, CampaignDays: 2}
		w, err := NewWorld(cfg)
		if err != nil {
			panic(err)
		}
		r := &fraudRun{w: w, camps: w.Campaigns(), tx: map[string]txInfo{}, byCamp: map[int32][]txInfo{},
			dayTx: make([]float64, fraudDays), dayFraud: make([]float64, fraudDays)}
		gd := w.Config().GenuineLabelDelay
		var ev []event.Event
		var tr []Truth
		for !w.Done() {
			ev, tr = w.NextTruth(ev[:0], tr[:0], 1000)
			for i := range ev {
				e := &ev[i]
				switch e.Type {
				case event.TypeTransaction:
					info := txInfo{t: e.Timestamp, amount: e.Amount, device: e.Device, truth: tr[i]}
					r.tx[e.TransactionID] = info
					d := int(e.Timestamp.Sub(w.Start()).Hours() / 24)
					r.dayTx[d]++
					r.allTx++
					if tr[i].Fraud {
						r.dayFraud[d]++
						r.byCamp[tr[i].Campaign] = append(r.byCamp[tr[i].Campaign], info)
						if tr[i].Campaign == 0 {
							r.bgFraud++
						}
					}
				case event.TypeLabel:
					r.labels++
					info, ok := r.tx[e.TargetID]
					switch {
					case !ok:
						r.labelErrs = append(r.labelErrs, "label for unknown transaction "+e.TargetID)
					case (e.Value == 1) != info.truth.Fraud || tr[i].Fraud != info.truth.Fraud || tr[i].Campaign != info.truth.Campaign:
						r.labelErrs = append(r.labelErrs, "label disagrees with the truth of "+e.TargetID)
					case !info.truth.Fraud && e.Timestamp.Sub(info.t) != gd:
						r.labelErrs = append(r.labelErrs, "genuine label of "+e.TargetID+" after "+e.Timestamp.Sub(info.t).String())
					case info.truth.Fraud && !e.Timestamp.After(info.t):
						r.labelErrs = append(r.labelErrs, "fraud label of "+e.TargetID+" not after it")
					}
				}
			}
		}
		fraudR = r
	})
	if fraudR == nil {
		t.Fatal("fraud run failed")
	}
	return fraudR
}

// TestFraudCampaigns: every campaign raises the fraud rate while it runs,
// its frauds fall inside its window, tactics rotate and leave their
// signature (amount bands, devices, card-testing bursts).
func TestFraudCampaigns(t *testing.T) {
	r := fraudWorld(t)
	bgRate := r.bgFraud / r.allTx
	t.Logf("background fraud rate %.4f over %v transactions", bgRate, r.allTx)
	if bgRate <= 0 || bgRate > 0.01 {
		t.Fatalf("background fraud rate %.4f; want in (0, 1%%]", bgRate)
	}
	tactics := map[Tactic]bool{}
	var prev Tactic
	n := 0
	for _, c := range r.camps[1:] {
		startDay := int(c.Start.Sub(r.w.Start()).Hours() / 24)
		endDay := min(int(c.End.Sub(r.w.Start()).Hours()/24), fraudDays)
		if startDay >= fraudDays {
			continue
		}
		n++
		tactics[c.Tactic] = true
		if c.Tactic == prev {
			t.Errorf("campaign %d repeats tactic %s", c.ID, c.Tactic)
		}
		prev = c.Tactic
		var tx, fr float64
		for d := startDay; d < endDay; d++ {
			tx += r.dayTx[d]
			fr += r.dayFraud[d]
		}
		rate := fr / tx
		frauds := r.byCamp[c.ID]
		t.Logf("campaign %d %-12s days %d–%d: fraud rate %.4f (%d frauds); %+v", c.ID, c.Tactic, startDay, endDay, rate, len(frauds), c)
		if rate < 3*bgRate {
			t.Errorf("campaign %d (%s): fraud rate %.4f during it, background %.4f; want ≥ 3×", c.ID, c.Tactic, rate, bgRate)
		}
		if len(frauds) == 0 {
			t.Errorf("campaign %d (%s) produced no fraud", c.ID, c.Tactic)
		}
		latest := c.End.Add(time.Duration(c.CompromiseDays*24) * time.Hour).Add(time.Hour)
		small := 0
		for _, f := range frauds {
			if f.t.Before(c.Start) || f.t.After(latest) {
				t.Fatalf("campaign %d fraud at %v outside %v–%v", c.ID, f.t, c.Start, latest)
			}
			if f.truth.Tactic != c.Tactic {
				t.Fatalf("campaign %d fraud with tactic %s", c.ID, f.truth.Tactic)
			}
			switch c.Tactic {
			case TacticAmount:
				if f.amount < c.AmountLo-0.01 || f.amount > c.AmountHi+0.01 || f.device != c.Device {
					t.Fatalf("amount campaign %d: fraud of %.2f on %q; want [%.2f, %.2f] on %q", c.ID, f.amount, f.device, c.AmountLo, c.AmountHi, c.Device)
				}
			case TacticCardTesting:
				if f.amount <= 3 {
					small++
				} else if f.amount < c.AmountLo-0.01 || f.amount > c.AmountHi+0.01 {
					t.Fatalf("card testing %d: amount %.2f", c.ID, f.amount)
				}
			case TacticCard:
				if f.device != c.Device {
					t.Fatalf("card campaign %d: device %q; want %q", c.ID, f.device, c.Device)
				}
			}
		}
		if c.Tactic == TacticCardTesting && small < len(frauds)/2 {
			t.Errorf("card testing %d: %d of %d frauds are tiny; want most", c.ID, small, len(frauds))
		}
	}
	if n < 4 || len(tactics) < 3 {
		t.Fatalf("%d campaigns with %d tactics in %d days; want tactics that change", n, len(tactics), fraudDays)
	}
}

// TestFraudLabels: every label judges an earlier transaction, agrees with
// its truth and arrives after the configured delay.
func TestFraudLabels(t *testing.T) {
	r := fraudWorld(t)
	for i, e := range r.labelErrs {
		if i == 5 {
			break
		}
		t.Error(e)
	}
	if len(r.labelErrs) > 0 {
		t.Fatalf("%d bad labels of %d", len(r.labelErrs), r.labels)
	}
	if float64(r.labels) < 0.8*r.allTx {
		t.Fatalf("%d labels for %v transactions", r.labels, r.allTx)
	}
}
