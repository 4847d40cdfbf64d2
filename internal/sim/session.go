package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

const maxCart = 16

// Session stages.
const (
	stView uint8 = iota
	stClick
	stCart
	stCheckout
	stOrder
)

type session struct {
	user           uint64
	userID, sessID string
	theta          [dim]float64
	beta           float64
	regime         int32
	zone, wh       int32
	lat, lon       float64
	catCum         []float64
	cat            int32
	views          int32 // views still to come
	stage          uint8
	// The item under consideration and its funnel draw: one uniform r
	// decides every stage (click iff r < p1, cart iff r < p2, purchase
	// iff r < p, with p ≤ p2 ≤ p1), so P(purchase | view) is exactly p.
	cur            *product
	price          float64
	promo          bool
	p, p1, p2, r   float64
	cart           []cartLine // purchases to check out (backing array kept across sessions)
	nCart, checked int32
}

type cartLine struct {
	it    *product
	units int32
	price float64
	promo bool
}

func (s *shop) alloc() int32 {
	if n := len(s.free); n > 0 {
		si := s.free[n-1]
		s.free = s.free[:n-1]
		return si
	}
	s.sessions = append(s.sessions, session{})
	return int32(len(s.sessions) - 1)
}

func (s *shop) release(si int32) {
	ss := &s.sessions[si]
	cc, cart := ss.catCum[:0], ss.cart[:0]
	*ss = session{catCum: cc, cart: cart}
	s.free = append(s.free, si)
}

// taste computes user u's taste vector at t into th and returns the
// user's price sensitivity and the regime (shifts before t).
//
// θ_u(t) = μ_k + σ (cos φ·a + sin φ·b), φ = ω_u t + φ_u, where k is the
// population regime, μ_k the population's taste in it, and (a, b) the
// user's personal pair, redrawn at a shift for a ShiftFraction of users.
// As a and b are independent standard normal vectors, θ stays N(μ_k, σ²I)
// at every instant while rotating with period 2π/ω_u.
func (w *World) taste(u uint64, t int64, th *[dim]float64) (beta float64, regime int32) {
	k := w.regimeAt(t)
	ku := uint64(0)
	for j := k; j >= 1; j-- {
		if unit(hash3(w.seed, saltShift, u, uint64(j))) < w.cfg.ShiftFraction {
			ku = uint64(j)
			break
		}
	}
	hA := hash3(w.seed, saltTasteA, u, ku)
	hB := hash3(w.seed, saltTasteB, u, ku)
	period := w.cfg.DriftDays * float64(dayNs) * (0.5 + unit(hash3(w.seed, saltOmega, u, 0)))
	phi := 2 * math.Pi * (float64(t)/period + unit(hash3(w.seed, saltPhase, u, ku)))
	sn, cs := math.Sincos(phi)
	mu := &w.shop.popMu[k]
	for j := range th {
		a := gauss(mix(hA + uint64(j)*golden))
		b := gauss(mix(hB + uint64(j)*golden))
		th[j] = mu[j] + tasteSD*(cs*a+sn*b)
	}
	beta = w.shop.popBeta[k] + 0.3*gauss(hash3(w.seed, saltBeta, u, ku))
	return beta, int32(k)
}

// prob is the true purchase probability of a view:
//
//	logit p = b_k + θ·e_i/√d + q_i − β·lp + s_c(t) + n·exp(−age/7d) + promo
//
// with lp the log of the (discounted) price relative to the category's
// median price, and b_k the calibrated bias of the regime.
func prob(th *[dim]float64, beta, bias float64, it *product, lp, season float64, promo bool, t int64) float64 {
	sc := bias + tasteWeight*dot(th, &it.emb)*(1/math.Sqrt(dim)) + it.quality - beta*lp + season +
		noveltyBump*math.Exp(-float64(t-it.born)/float64(noveltyNs))
	if promo {
		sc += promoBump
	}
	return 1 / (1 + math.Exp(-sc))
}

// PurchaseProb returns the true probability that user (an id "u<n>" as
// in the events) buys item (an active item id) when viewing it at time
// at, the quantity a view's Truth.PPurchase reports. Tastes are
// evaluated at at itself (a session keeps the taste of its first
// moment), and promotions as last scheduled for the item, so at should
// lie in the current simulated day for an exact match.
func (w *World) PurchaseProb(user, itemID string, at time.Time) (float64, error) {
	u, err := parseUser(user, w.cfg.Users)
	if err != nil {
		return 0, err
	}
	it := w.shop.byID[itemID]
	if it == nil {
		return 0, fmt.Errorf("sim: PurchaseProb: item %q is not in the active catalog", itemID)
	}
	t := int64(at.Sub(w.start))
	var th [dim]float64
	beta, k := w.taste(u, t, &th)
	lp, promo := it.lp0, it.onPromo(t)
	if promo {
		lp = it.lpPromo
	}
	return prob(&th, beta, w.shop.bias[k], it, lp, w.seasonAt(int(it.cat), t), promo, t), nil
}

func parseUser(s string, users int) (uint64, error) {
	if !strings.HasPrefix(s, "u") {
		return 0, fmt.Errorf("sim: user id %q: want u<index>", s)
	}
	u, err := strconv.ParseUint(s[1:], 10, 64)
	if err != nil || u >= uint64(users) {
		return 0, fmt.Errorf("sim: user id %q: want u<index> with index below %d", s, users)
	}
	return u, nil
}

// arrive starts a session at t and emits its first view.
func (s *shop) arrive(w *World, t int64, e *event.Event) bool {
	if len(s.items) == 0 {
		return false
	}
	r := w.rng
	// Activity is skewed: the user index is U·x^1.6 for x uniform, so
	// small indices are heavy users (the top 1% of users make about 6% of
	// the sessions).
	u := uint64(math.Pow(r.Float64(), 1.6) * float64(w.cfg.Users))
	si := s.alloc()
	ss := &s.sessions[si]
	w.nSession++
	ss.user = u
	ss.userID = w.ids.id("u", u)
	ss.sessID = w.ids.id(w.pfxSession, w.nSession)
	ss.beta, ss.regime = w.taste(u, t, &ss.theta)
	ss.zone, ss.lat, ss.lon = w.city.home(w, u)
	ss.wh = int32(w.city.zoneWh[ss.zone])
	// Category affinities: taste · centroid plus the season; the session
	// mostly browses one category drawn from their softmax.
	total := 0.0
	for c := range s.cats {
		cat := &s.cats[c]
		d := 0.0
		for j := range ss.theta {
			d += ss.theta[j] * cat.centroid[j]
		}
		total += math.Exp(catWeight*d*(1/math.Sqrt(dim)) + s.catSeason[c])
		ss.catCum = append(ss.catCum, total)
	}
	ss.cat = int32(sampleCum(r.Float64(), ss.catCum))
	ss.views = 1 + int32(r.ExpFloat64()*6)
	ss.stage = stView
	s.daySess++
	return s.view(w, si, t, e)
}

func sampleCum(u float64, cum []float64) int {
	x := u * cum[len(cum)-1]
	for i, c := range cum {
		if x < c {
			return i
		}
	}
	return len(cum) - 1
}

func (s *shop) pickItem(w *World, ss *session) *product {
	r := w.rng
	x := r.Float64()
	var it *product
	switch {
	case x < 0.10: // trending and promoted items, any category
		return pick(r, s.trend)
	case x < 0.85:
		c := &s.cats[ss.cat]
		it = pick(r, c.table)
	default:
		c := &s.cats[sampleCum(r.Float64(), ss.catCum)]
		it = pick(r, c.table)
	}
	if it == nil {
		it = pick(r, s.trend)
	}
	return it
}

// step runs the next stage of session si at t.
func (s *shop) step(w *World, si int32, t int64, e *event.Event) bool {
	switch s.sessions[si].stage {
	case stView:
		return s.view(w, si, t, e)
	case stClick:
		return s.click(w, si, t, e)
	case stCart:
		return s.addToCart(w, si, t, e)
	case stCheckout:
		return s.checkout(w, si, t, e)
	case stOrder:
		return s.order(w, si, t, e)
	}
	panic("sim: unknown session stage")
}

func (s *shop) behaviour(w *World, ss *session, typ event.Type, t int64, e *event.Event) {
	w.newEvent(e, typ, t)
	e.UserID = ss.userID
	e.ItemID = ss.cur.id
	e.SessionID = ss.sessID
	e.Price = ss.price
	e.HasPrice = true
	w.truth.Regime = ss.regime
	w.truth.Promo = ss.promo
}

func (s *shop) view(w *World, si int32, t int64, e *event.Event) bool {
	ss := &s.sessions[si]
	it := s.pickItem(w, ss)
	ss.cur = it
	ss.promo = it.onPromo(t)
	lp := it.lp0
	ss.price = it.basePrice
	if ss.promo {
		lp = it.lpPromo
		ss.price = math.Round(it.basePrice*(1-it.discount)*100) / 100
	}
	p := prob(&ss.theta, ss.beta, s.bias[ss.regime], it, lp, s.catSeason[it.cat], ss.promo, t)
	ss.p = p
	ss.p1 = math.Cbrt(p)
	ss.p2 = ss.p1 * ss.p1
	ss.r = w.rng.Float64()
	it.dayViews++
	it.dayP += p
	s.dayViews++
	s.behaviour(w, ss, event.TypeView, t, e)
	w.truth.PPurchase = p
	ss.views--
	if ss.r < ss.p1 {
		ss.stage = stClick
		w.agenda.push(t+secs(w, 2, 15), kSession, si)
	} else {
		s.advance(w, si, t)
	}
	return true
}

// secs draws a uniform gap between lo and hi seconds.
func secs(w *World, lo, hi float64) int64 {
	return int64((lo + (hi-lo)*w.rng.Float64()) * 1e9)
}

func (s *shop) advance(w *World, si int32, t int64) {
	ss := &s.sessions[si]
	switch {
	case ss.views > 0:
		ss.stage = stView
		w.agenda.push(t+int64((5+40*w.rng.ExpFloat64())*1e9), kSession, si)
	case ss.nCart > 0:
		ss.stage = stCheckout
		w.agenda.push(t+secs(w, 30, 300), kSession, si)
	default:
		s.release(si)
	}
}

func (s *shop) click(w *World, si int32, t int64, e *event.Event) bool {
	ss := &s.sessions[si]
	s.behaviour(w, ss, event.TypeClick, t, e)
	w.truth.PPurchase = ss.p / ss.p1
	if ss.r < ss.p2 {
		ss.stage = stCart
		w.agenda.push(t+secs(w, 5, 60), kSession, si)
	} else {
		s.advance(w, si, t)
	}
	return true
}

func (s *shop) addToCart(w *World, si int32, t int64, e *event.Event) bool {
	ss := &s.sessions[si]
	units := int32(1)
	switch x := w.rng.Float64(); {
	case x >= 0.95:
		units = 3
	case x >= 0.80:
		units = 2
	}
	s.behaviour(w, ss, event.TypeAddToCart, t, e)
	e.Quantity = float64(units)
	w.truth.PPurchase = ss.p / ss.p2
	if ss.r < ss.p && ss.nCart < maxCart {
		ss.cart = append(ss.cart, cartLine{it: ss.cur, units: units, price: ss.price, promo: ss.promo})
		ss.nCart++
	}
	s.advance(w, si, t)
	return true
}

func (s *shop) checkout(w *World, si int32, t int64, e *event.Event) bool {
	ss := &s.sessions[si]
	ln := &ss.cart[ss.checked]
	ss.checked++
	w.newEvent(e, event.TypePurchase, t)
	e.UserID = ss.userID
	e.ItemID = ln.it.id
	e.SessionID = ss.sessID
	e.Price = ln.price
	e.HasPrice = true
	e.Quantity = float64(ln.units)
	w.truth.PPurchase = 1
	w.truth.Promo = ln.promo
	w.truth.Regime = ss.regime
	s.dayBuys++
	s.sell(w, ln.it, int(ss.wh), ln.units, t)
	switch {
	case ss.checked < ss.nCart:
		w.agenda.push(t+secs(w, 1, 3), kSession, si)
	case !w.cfg.NoOrders:
		ss.stage = stOrder
		w.agenda.push(t+secs(w, 1, 5), kSession, si)
	default:
		s.release(si)
	}
	return true
}

// order emits the delivery order of a session's purchases: one line per
// distinct item, to the shopper's home, in a two-hour window.
func (s *shop) order(w *World, si int32, t int64, e *event.Event) bool {
	ss := &s.sessions[si]
	distinct := 0
	for i := int32(0); i < ss.nCart; i++ {
		if firstOf(ss, i) {
			distinct++
		}
	}
	lines := w.ids.orderLines(distinct)
	n := 0
	for i := int32(0); i < ss.nCart; i++ {
		if !firstOf(ss, i) {
			continue
		}
		q := 0
		for j := i; j < ss.nCart; j++ {
			if ss.cart[j].it == ss.cart[i].it {
				q += int(ss.cart[j].units)
			}
		}
		lines[n] = event.OrderLine{SKU: ss.cart[i].it.id, Quantity: float64(q)}
		n++
	}
	w.newEvent(e, event.TypeOrder, t)
	w.nOrder++
	e.OrderID = w.ids.id(w.pfxOrder, w.nOrder)
	e.Lines = lines
	e.Lat, e.Lon, e.HasLatLon = ss.lat, ss.lon, true
	e.Warehouse = w.city.whIDs[ss.wh]
	ws := deliverySlot(t+3*hourNs, w.rng.IntN(3))
	e.WindowStart = w.start.Add(time.Duration(ws))
	e.WindowEnd = w.start.Add(time.Duration(ws + 2*hourNs))
	w.truth.Regime = ss.regime
	w.truth.Zone = ss.zone
	s.release(si)
	return true
}

func firstOf(ss *session, i int32) bool {
	for j := int32(0); j < i; j++ {
		if ss.cart[j].it == ss.cart[i].it {
			return false
		}
	}
	return true
}

// deliverySlot returns the start of the k-th two-hour delivery slot
// (slots start at 08:00, 10:00, …, 20:00 of each simulated day) that
// begins at or after x.
func deliverySlot(x int64, k int) int64 {
	const first, last, step = 8 * hourNs, 20 * hourNs, 2 * hourNs
	valid := func(s int64) int64 { // the first slot start at or after s
		day, off := s-s%dayNs, s%dayNs
		switch {
		case off <= first:
			return day + first
		case off > last:
			return day + dayNs + first
		}
		return day + first + (off-first+step-1)/step*step
	}
	s := valid(x)
	for ; k > 0; k-- {
		s = valid(s + step)
	}
	return s
}
