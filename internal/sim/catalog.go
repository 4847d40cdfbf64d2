package sim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// dim is the dimension of taste and item vectors.
const dim = 8

type category struct {
	centroid  [dim]float64
	logMedian float64 // log of the median base price
	aw, pw    float64 // weekly season amplitude and phase (cycles)
	ay, py    float64 // yearly season amplitude and phase
	table     []slot  // active items, for sampling
}

type product struct {
	// Hot fields first: a view reads the first few cache lines only.
	id         string
	cat        int32
	brand      int32
	born, life int64 // ns
	// Promotion: discount in [promoFrom, promoUntil).
	promoFrom, promoUntil int64
	quality               float64
	basePrice             float64
	lp0                   float64 // log(basePrice) − category log median
	lpPromo               float64 // lp0 + log(1 − discount)
	discount              float64
	emb                   [dim]float64
	// Accumulators of the current day.
	dayP               float64
	dayViews, dayUnits int32
	dayPromo           bool
	pop                float64 // base popularity (log-normal)
	plan               float64 // the merchant's smoothed estimate of daily units
	stock              [maxWarehouses]int32
	restocking         [maxWarehouses]bool
}

func (it *product) onPromo(t int64) bool { return t >= it.promoFrom && t < it.promoUntil }

// Taste and purchase model constants (see the package documentation).
const (
	tasteWeight  = 1.0
	catWeight    = 1.3
	tasteSD      = 1.0
	popMuSD      = 1.2
	promoBump    = 0.5
	noveltyBump  = 0.5
	noveltyNs    = 7 * dayNs
	meanUnits    = 1.25 // E[units] of a purchase: 1 (80%), 2 (15%), 3 (5%)
	leadDaysMean = 2.0
)

type shop struct {
	cats      []category
	brandQ    []float64  // brand quality effect
	brandP    []float64  // brand log price premium
	items     []*product // active items, in arrival order
	byID      map[string]*product
	chunk     []product
	nItems    uint64
	trend     []slot    // every active item
	catSeason []float64 // season term of each category for the current hour
	popMu     [][dim]float64
	popBeta   []float64
	bias      []float64 // score bias of each regime (see calibrate)
	sessions  []session
	free      []int32
	restocks  []restock
	freeRs    []int32
	planGuess float64
	dayNew    []string
	retired   []*product // withdrawn at the start of the current day
	dayRetire int
	daySess   int
	dayViews  int
	dayBuys   int
	skus      []SKUDemand
}

type restock struct {
	it  *product
	wh  int
	qty int32
}

func (s *shop) init(w *World) {
	cfg := &w.cfg
	r := w.rng
	s.byID = make(map[string]*product, cfg.Items*2)
	s.cats = make([]category, cfg.Categories)
	for c := range s.cats {
		cat := &s.cats[c]
		for j := range cat.centroid {
			cat.centroid[j] = r.NormFloat64()
		}
		cat.logMedian = math.Log(8) + 3.5*r.Float64() // medians from 8 to ~260
		cat.aw, cat.pw = 0.1+0.4*r.Float64(), r.Float64()
		cat.ay, cat.py = 1.2*r.Float64(), r.Float64()
	}
	s.brandQ = make([]float64, cfg.Brands)
	s.brandP = make([]float64, cfg.Brands)
	for b := range s.brandQ {
		s.brandQ[b] = 0.3 * r.NormFloat64()
		s.brandP[b] = 0.4 * r.NormFloat64()
	}
	s.catSeason = make([]float64, cfg.Categories)
	for k := 0; k <= len(w.shifts); k++ {
		// The population's taste in regime k: a random direction with a
		// fixed length, so that regimes differ in what sells but not in
		// how predictable purchases are.
		var mu [dim]float64
		norm := 0.0
		for j := range mu {
			mu[j] = gauss(hash3(w.seed, saltPopMu, uint64(k), uint64(j)))
			norm += mu[j] * mu[j]
		}
		for j := range mu {
			mu[j] *= popMuSD * math.Sqrt(dim/norm)
		}
		s.popMu = append(s.popMu, mu)
		// Price sensitivity alternates between regimes: bargain hunters,
		// then shoppers who read a high price as quality, and back.
		beta := 0.9
		if k%2 == 1 {
			beta = -0.5
		}
		s.popBeta = append(s.popBeta, beta)
	}
	// A rough prior for the merchant's demand planning: sessions × views ×
	// purchase rate × units, spread over the catalog by popularity.
	s.planGuess = cfg.SessionsPerDay * 8 * 0.03 * meanUnits / float64(cfg.Items) / math.Exp(0.9*0.9/2)
	for i := 0; i < cfg.Items; i++ {
		life := s.drawLife(w)
		age := int64(r.Float64() * float64(life))
		s.newItem(w, -age, life)
	}
	s.calibrate(w)
}

// calibrate sets each regime's score bias so that the mean purchase
// probability of a view is WorldConfig.PurchaseRate when the regime
// begins (seasons and promotions aside): regimes then differ in what
// sells, not in how much. It simulates 4,000 pseudo-views per regime
// with its own random stream, leaving the event stream untouched.
func (s *shop) calibrate(w *World) {
	const n = 4000
	s.rebuild(0)
	scores := make([]float64, n)
	cum := make([]float64, len(s.cats))
	for k := 0; k <= len(w.shifts); k++ {
		r := rand.New(rand.NewPCG(w.seed^0xca11b, uint64(k)))
		t := int64(0)
		if k > 0 {
			t = w.shifts[k-1]
		}
		for i := range scores {
			u := r.Uint64N(uint64(w.cfg.Users))
			var th [dim]float64
			beta, _ := w.taste(u, t, &th)
			total := 0.0
			for c := range s.cats {
				total += math.Exp(catWeight * dot(&th, &s.cats[c].centroid) * (1 / math.Sqrt(dim)))
				cum[c] = total
			}
			it := pick(r, s.cats[sampleCum(r.Float64(), cum)].table)
			if it == nil {
				it = pick(r, s.trend)
			}
			scores[i] = logit(prob(&th, beta, 0, it, it.lp0, 0, false, t))
		}
		lo, hi := -30.0, 30.0
		for iter := 0; iter < 60; iter++ {
			mid := (lo + hi) / 2
			m := 0.0
			for _, sc := range scores {
				m += 1 / (1 + math.Exp(-(sc + mid)))
			}
			if m/n < w.cfg.PurchaseRate {
				lo = mid
			} else {
				hi = mid
			}
		}
		s.bias = append(s.bias, (lo+hi)/2)
	}
}

func dot(a, b *[dim]float64) float64 {
	d := 0.0
	for j := range a {
		d += a[j] * b[j]
	}
	return d
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func (s *shop) drawLife(w *World) int64 {
	return int64(w.cfg.ItemLifeDays * math.Exp(0.5*w.rng.NormFloat64()-0.125) * float64(dayNs))
}

// newItem creates an item born at t and queues its initial stock events.
func (s *shop) newItem(w *World, t, life int64) *product {
	r := w.rng
	if len(s.chunk) == 0 {
		s.chunk = make([]product, 256)
	}
	it := &s.chunk[0]
	s.chunk = s.chunk[1:]
	s.nItems++
	it.id = w.ids.id("i", s.nItems)
	c := r.IntN(len(s.cats))
	it.cat = int32(c)
	nb := len(s.brandQ) / len(s.cats)
	if nb < 1 {
		nb = 1
	}
	it.brand = int32((c + len(s.cats)*r.IntN(nb)) % len(s.brandQ))
	cat := &s.cats[c]
	for j := range it.emb {
		it.emb[j] = cat.centroid[j] + 0.6*r.NormFloat64()
	}
	it.quality = 0.5*r.NormFloat64() + s.brandQ[it.brand]
	lp := cat.logMedian + s.brandP[it.brand] + 0.35*r.NormFloat64()
	it.basePrice = math.Round(math.Exp(lp)*100) / 100
	if it.basePrice < 0.5 {
		it.basePrice = 0.5
	}
	it.lp0 = math.Log(it.basePrice) - cat.logMedian
	it.pop = math.Exp(0.9 * r.NormFloat64())
	it.born, it.life = t, life
	it.plan = s.planGuess * it.pop
	s.items = append(s.items, it)
	s.byID[it.id] = it
	if !w.cfg.NoStock {
		for wh := 0; wh < w.cfg.Warehouses; wh++ {
			_, upTo := reorderLevels(it.plan * w.city.whShare[wh])
			it.stock[wh] = upTo
			w.queue(pending{t: max(t, 0), kind: pendStock, wh: uint8(wh), it: it})
		}
	}
	return it
}

// lifecycle is an item's exposure multiplier at age a (ns): a ramp over
// the first days, then a decay that reaches e^-2 at the end of its life.
func lifecycle(a, life int64) float64 {
	d := float64(a) / float64(dayNs)
	return (1 - math.Exp(-(d+0.25)/2)) * math.Exp(-2*float64(a)/float64(life))
}

// seasonAt is the season term of category c for the hour starting at t.
func (w *World) seasonAt(c int, t int64) float64 {
	cat := &w.shop.cats[c]
	mid := float64(t - t%hourNs + hourNs/2)
	return cat.aw*math.Cos(2*math.Pi*(mid/w.weekNs-cat.pw)) + cat.ay*math.Cos(2*math.Pi*(mid/w.yearNs-cat.py))
}

func (s *shop) hourly(w *World, t int64) {
	for c := range s.cats {
		s.catSeason[c] = w.seasonAt(c, t)
	}
}

// openDay retires old items, adds the day's new ones, starts promotions
// and rebuilds the sampling tables.
func (s *shop) openDay(w *World, t int64) {
	cfg := &w.cfg
	r := w.rng
	s.dayNew = s.dayNew[:0]
	s.dayRetire = 0
	if t > 0 {
		kept := s.items[:0]
		for _, it := range s.items {
			if t-it.born >= it.life {
				delete(s.byID, it.id)
				s.dayRetire++
				// Sessions under way may still buy it today: its
				// accumulators are reported at the end of the day.
				s.retired = append(s.retired, it)
				continue
			}
			kept = append(kept, it)
		}
		clear(s.items[len(kept):])
		s.items = kept
		for n := poisson(r, cfg.NewItemsPerDay); n > 0; n-- {
			it := s.newItem(w, t, s.drawLife(w))
			s.dayNew = append(s.dayNew, it.id)
		}
	}
	if !cfg.NoPromos && len(s.items) > 0 {
		for n := poisson(r, cfg.PromosPerDay); n > 0; n-- {
			it := s.items[r.IntN(len(s.items))]
			if it.onPromo(t) {
				continue
			}
			it.discount = promoDiscounts[r.IntN(len(promoDiscounts))]
			it.lpPromo = it.lp0 + math.Log(1-it.discount)
			it.promoFrom = t
			it.promoUntil = t + int64(1+r.IntN(4))*dayNs
		}
	}
	s.rebuild(t)
}

var promoDiscounts = [...]float64{0.1, 0.2, 0.3, 0.5}

// rebuild recomputes the cumulative exposure weights: popularity ×
// lifecycle × promotion boost, per category and over the whole catalog.
func (s *shop) rebuild(t int64) {
	for c := range s.cats {
		s.cats[c].table = s.cats[c].table[:0]
	}
	s.trend = s.trend[:0]
	total := 0.0
	for _, it := range s.items {
		wt := it.pop * lifecycle(t-it.born, it.life)
		if it.onPromo(t) {
			wt *= 3
		}
		cat := &s.cats[it.cat]
		prev := 0.0
		if n := len(cat.table); n > 0 {
			prev = cat.table[n-1].cum
		}
		cat.table = append(cat.table, slot{cum: prev + wt, it: it})
		total += wt
		it.dayPromo = it.onPromo(t)
		s.trend = append(s.trend, slot{cum: total, it: it})
	}
}

// slot is an entry of a sampling table: the cumulative weight up to and
// including it, next to the item, so that a draw touches one cache line
// per bisection step and one more for the item.
type slot struct {
	cum float64
	it  *product
}

// pick draws an item with probability proportional to its weight, or nil
// from an empty table.
func pick(r *rand.Rand, tab []slot) *product {
	if len(tab) == 0 {
		return nil
	}
	u := r.Float64() * tab[len(tab)-1].cum
	lo, hi := 0, len(tab)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if tab[m].cum <= u {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return tab[lo].it
}

// poisson draws a Poisson variate (normal approximation above 50).
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 50 {
		n := math.Round(mean + math.Sqrt(mean)*r.NormFloat64())
		if n < 0 {
			return 0
		}
		return int(n)
	}
	l := math.Exp(-mean)
	k, p := 0, r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

// reorderLevels is the merchant's (s, S) policy for a daily demand
// estimate d: reorder at s (lead-time demand plus two standard
// deviations), fill up to S (s plus a week of demand).
func reorderLevels(d float64) (s, S int32) {
	ld := d * leadDaysMean
	s = int32(math.Ceil(ld+2*math.Sqrt(ld))) + 1
	S = s + int32(math.Ceil(d*7)) + 2
	return s, S
}

// sell records units of it sold from warehouse wh at t, queues the stock
// event and orders a replenishment when the level reaches the reorder
// point. Unfilled units are back-ordered (the level may go negative; the
// stock event reports max(level, 0)).
func (s *shop) sell(w *World, it *product, wh int, units int32, t int64) {
	it.dayUnits += units
	if w.cfg.NoStock {
		return
	}
	it.stock[wh] -= units
	w.queue(pending{t: t, kind: pendStock, wh: uint8(wh), it: it})
	d := it.plan * w.city.whShare[wh]
	lo, upTo := reorderLevels(d)
	if it.stock[wh] > lo || it.restocking[wh] {
		return
	}
	it.restocking[wh] = true
	var ri int32
	if n := len(s.freeRs); n > 0 {
		ri = s.freeRs[n-1]
		s.freeRs = s.freeRs[:n-1]
	} else {
		ri = int32(len(s.restocks))
		s.restocks = append(s.restocks, restock{})
	}
	s.restocks[ri] = restock{it: it, wh: wh, qty: upTo - it.stock[wh]}
	lead := int64((1 + 2*w.rng.Float64()) * float64(dayNs)) // uniform 1–3 days
	w.agenda.push(t+lead, kRestock, ri)
}

func (s *shop) restock(w *World, ri int32, t int64, e *event.Event) bool {
	rs := s.restocks[ri]
	s.restocks[ri] = restock{}
	s.freeRs = append(s.freeRs, ri)
	rs.it.stock[rs.wh] += rs.qty
	rs.it.restocking[rs.wh] = false
	s.stockEvent(w, rs.it, rs.wh, t, e)
	return true
}

func (s *shop) stockEvent(w *World, it *product, wh int, t int64, e *event.Event) {
	w.newEvent(e, event.TypeStock, t)
	e.SKU = it.id
	e.Warehouse = w.city.whIDs[wh]
	e.Quantity = float64(max(it.stock[wh], 0))
	w.truth.Regime = int32(w.regimeAt(t))
}

// closeDay fills the shop part of the day's truth and updates the
// merchant's demand plan (exponential smoothing of daily units).
func (s *shop) closeDay(w *World, d *DayTruth) {
	d.NewItems = s.dayNew
	d.RetiredItems = s.dayRetire
	d.Sessions, d.Views, d.Purchases = s.daySess, s.dayViews, s.dayBuys
	s.daySess, s.dayViews, s.dayBuys = 0, 0, 0
	s.skus = s.skus[:0]
	for _, it := range s.items {
		s.report(w, it)
	}
	for _, it := range s.retired {
		if it.dayViews != 0 || it.dayUnits != 0 {
			s.report(w, it)
		}
	}
	clear(s.retired)
	s.retired = s.retired[:0]
	d.SKUs = s.skus
}

// report appends the day of it to s.skus and resets its accumulators.
func (s *shop) report(w *World, it *product) {
	total := int32(0)
	for wh := 0; wh < w.cfg.Warehouses; wh++ {
		total += max(it.stock[wh], 0)
	}
	disc := 0.0
	if it.dayPromo {
		disc = it.discount
	}
	s.skus = append(s.skus, SKUDemand{
		SKU:           it.id,
		Category:      int(it.cat),
		Brand:         int(it.brand),
		Views:         int(it.dayViews),
		ExpectedUnits: it.dayP * meanUnits,
		Units:         int(it.dayUnits),
		Discount:      disc,
		Stock:         int(total),
		AgeDays:       float64(int64(w.day+1)*dayNs-it.born) / float64(dayNs),
	})
	it.plan = 0.7*it.plan + 0.3*float64(it.dayUnits)
	it.dayViews, it.dayUnits, it.dayP, it.dayPromo = 0, 0, 0, false
}

// SKUDemand is the ground truth of one SKU's demand over one day.
type SKUDemand struct {
	SKU      string
	Category int
	Brand    int
	Views    int
	// ExpectedUnits is the sum over the day's views of the true purchase
	// probability times the expected units per purchase: the demand rate
	// the sessions implied, without the purchase coin flips.
	ExpectedUnits float64
	Units         int     // units actually sold
	Discount      float64 // promotion discount in effect during the day (0 = none)
	Stock         int     // units on hand over all warehouses at the end of the day
	AgeDays       float64 // age of the item at the end of the day
}

// DayTruth is the ground truth of one simulated day, handed to
// WorldConfig.OnDay.
type DayTruth struct {
	Day          int
	Start        time.Time
	Regime       int // abrupt shifts before the end of the day
	Sessions     int
	Views        int
	Purchases    int
	NewItems     []string // items that arrived this day
	RetiredItems int      // items withdrawn at the start of this day
	SKUs         []SKUDemand
	Transactions int
	Frauds       int
	Campaigns    []int32 // ids of the fraud campaigns active this day (0 = background)
}

// Item describes a catalog item, for evaluators.
type Item struct {
	ID       string
	Category int
	Brand    int
	Price    float64 // base price, before any promotion
	Born     time.Time
	Life     time.Duration
}

// Items appends the active catalog to dst, in arrival order.
func (w *World) Items(dst []Item) []Item {
	for _, it := range w.shop.items {
		dst = append(dst, Item{ID: it.id, Category: int(it.cat), Brand: int(it.brand), Price: it.basePrice,
			Born: w.start.Add(time.Duration(it.born)), Life: time.Duration(it.life)})
	}
	return dst
}
