package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// Payments follow the transaction generator of the Fraud Detection
// Handbook (Le Borgne et al., 2022, chapter 3): customers and terminals
// on a 100×100 grid; a customer pays at terminals near home, with amounts
// drawn from N(μ_c, μ_c/2), μ_c ~ U(5, 100), at a customer-specific rate.

const gridSize = 100.0

type terminal struct {
	id, merchant string
	x, y         float64
	web          bool
	device       string
	compUntil    int64
	compCamp     int32
}

// Campaign is a fraud campaign: ground truth for evaluators.
type Campaign struct {
	ID     int32
	Tactic Tactic // TacticNone for the background campaign (ID 0), which compromises terminals and cards at a low rate all along
	Start  time.Time
	End    time.Time // exclusive; compromises drawn before End stay active for CompromiseDays
	// Intensity is per day: terminals or cards compromised
	// (TacticTerminal, TacticCard), injected transactions (TacticAmount)
	// or card-testing bursts (TacticCardTesting).
	Intensity      float64
	CompromiseDays float64 // how long a compromised terminal or card stays compromised
	Fraction       float64 // TacticCard: share of a compromised card's transactions that are fraud
	Multiplier     float64 // TacticCard: amount multiplier of its fraudulent transactions
	AmountLo       float64 // TacticAmount, TacticCardTesting (large amounts): amount band
	AmountHi       float64
	Device         string // device of the fraudulent transactions ("" = the terminal's usual one)
	// Internal: days as indices.
	startDay, endDay int
	bgTermRate       float64 // background: terminals per day
}

type cardComp struct {
	until int64
	camp  int32
}

type gLabel struct {
	t  int64
	tx string
}

// labelRing is a FIFO of genuine labels (their due times increase, as
// the delay is constant): a ring buffer whose power-of-two capacity only
// grows, so steady state never copies.
type labelRing struct {
	buf     []gLabel
	head, n int
}

func (q *labelRing) push(l gLabel) {
	if q.n == len(q.buf) {
		nb := make([]gLabel, max(1024, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = l
	q.n++
}

func (q *labelRing) pop() gLabel {
	l := q.buf[q.head]
	q.buf[q.head] = gLabel{}
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return l
}

type fLabel struct {
	tx     string
	camp   int32
	tactic Tactic
}

type burst struct {
	cust         uint64
	term         int32
	camp         int32
	small, large int32
	custID       string
}

type payments struct {
	on        bool
	terms     []terminal
	web       []int32
	cells     [][]int32 // per grid cell: terminals in the 3×3 cell neighbourhood
	cellsPer  int
	campaigns []Campaign
	crng      *rand.Rand
	nextCamp  float64 // day of the next campaign start
	order     [4]Tactic
	active    []int32
	cards     map[uint64]cardComp
	labelQ    labelRing
	flabels   []fLabel
	freeF     []int32
	bursts    []burst
	freeB     []int32
	dayTx     int
	dayFraud  int
}

var devices = [...]string{"web", "app-android", "app-ios", "emulator", "headless-chrome", "pos"}

func (p *payments) init(w *World) {
	cfg := &w.cfg
	p.on = true
	r := w.rng
	p.cards = make(map[uint64]cardComp)
	p.terms = make([]terminal, cfg.Terminals)
	for i := range p.terms {
		t := &p.terms[i]
		t.id = fmt.Sprintf("T%d", i)
		if i%4 == 0 {
			t.merchant = fmt.Sprintf("M%d", i/4)
		} else {
			t.merchant = p.terms[i-i%4].merchant
		}
		t.x, t.y = gridSize*r.Float64(), gridSize*r.Float64()
		t.web = r.Float64() < 0.15
		t.device = "pos"
		if t.web {
			t.device = "web"
			p.web = append(p.web, int32(i))
		}
	}
	if len(p.web) == 0 {
		p.web = append(p.web, 0)
	}
	// A grid with about eight terminals per cell; a customer pays at the
	// terminals of the 3×3 cells around home (the handbook's radius).
	p.cellsPer = clampInt(int(math.Sqrt(float64(cfg.Terminals)/8)), 1, 256)
	g := p.cellsPer
	p.cells = make([][]int32, g*g)
	for i := range p.terms {
		cx, cy := p.cellOf(p.terms[i].x, p.terms[i].y)
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				x, y := cx+dx, cy+dy
				if x >= 0 && x < g && y >= 0 && y < g {
					p.cells[y*g+x] = append(p.cells[y*g+x], int32(i))
				}
			}
		}
	}
	// Campaign 0 is the background: the handbook's scenarios 2 and 3
	// (terminals compromised for 28 days, cards for 14 with a third of
	// their transactions fraudulent at 5× the amount), at a tenth of
	// CampaignStrength in total.
	bg := cfg.CampaignStrength / 20
	p.campaigns = append(p.campaigns, Campaign{
		ID: 0, Tactic: TacticNone, Start: w.start, End: w.start.Add(time.Duration(w.end)),
		Intensity:  bg * float64(cfg.Customers) / (14 * (1.0 / 3)),
		bgTermRate: bg * float64(cfg.Terminals) / 28,
		Fraction:   1.0 / 3, Multiplier: 5, CompromiseDays: 14, endDay: math.MaxInt32,
	})
	if w.end == never {
		p.campaigns[0].End = time.Time{}
	}
	p.crng = rand.New(rand.NewPCG(mix(w.seed^saltCampaign), w.seed+saltCampaign))
	p.nextCamp = math.Floor(cfg.CampaignEveryDays * (0.3 + 0.7*p.crng.Float64()))
	p.shuffleTactics(TacticNone)
	if w.end != never {
		p.plan(w, int(w.end/dayNs))
	}
}

func (p *payments) shuffleTactics(last Tactic) {
	p.order = [4]Tactic{TacticTerminal, TacticCard, TacticAmount, TacticCardTesting}
	for {
		p.crng.Shuffle(4, func(i, j int) { p.order[i], p.order[j] = p.order[j], p.order[i] })
		if p.order[0] != last {
			return
		}
	}
}

// plan schedules campaigns starting before day until. Tactics rotate
// through a shuffled order, and each campaign draws its own parameters,
// so the fraudsters' behaviour keeps changing.
func (p *payments) plan(w *World, until int) {
	cfg := &w.cfg
	r := p.crng
	for p.nextCamp < float64(until) {
		n := len(p.campaigns) - 1
		tac := p.order[n%4]
		if n%4 == 3 {
			p.shuffleTactics(tac)
		}
		start := int(p.nextCamp)
		days := int(math.Max(1, math.Round(cfg.CampaignDays*(0.75+0.75*r.Float64()))))
		s := cfg.CampaignStrength * (0.5 + r.Float64())
		c := Campaign{
			ID: int32(n + 1), Tactic: tac,
			Start: w.start.Add(time.Duration(int64(start) * dayNs)), End: w.start.Add(time.Duration(int64(start+days) * dayNs)),
			startDay: start, endDay: start + days,
		}
		switch tac {
		case TacticTerminal:
			c.CompromiseDays = 2
			c.Intensity = s * float64(cfg.Terminals) / c.CompromiseDays
		case TacticCard:
			c.CompromiseDays = 2
			c.Fraction = 0.2 + 0.4*r.Float64()
			c.Multiplier = 1.5 + 4.5*r.Float64()
			c.Intensity = s * float64(cfg.Customers) / (c.CompromiseDays * c.Fraction)
			c.Device = devices[r.IntN(len(devices))]
		case TacticAmount:
			c.AmountLo = math.Round(math.Exp(math.Log(20)+math.Log(25)*r.Float64())*100) / 100
			c.AmountHi = math.Round(c.AmountLo*(1.05+0.25*r.Float64())*100) / 100
			c.Intensity = s * cfg.TransactionsPerDay
			c.Device = devices[r.IntN(len(devices)-1)]
		case TacticCardTesting:
			c.AmountLo = math.Round(math.Exp(math.Log(150)+math.Log(6)*r.Float64())*100) / 100
			c.AmountHi = math.Round(c.AmountLo*(1.2+0.5*r.Float64())*100) / 100
			c.Intensity = s * cfg.TransactionsPerDay / 6
			c.Device = devices[r.IntN(len(devices)-1)]
		}
		p.campaigns = append(p.campaigns, c)
		p.nextCamp += math.Max(1, math.Round(cfg.CampaignEveryDays*(0.7+0.6*r.Float64())))
	}
}

// Campaigns returns the fraud campaigns scheduled so far (for a bounded
// run, all of them), the background campaign first.
func (w *World) Campaigns() []Campaign {
	return append([]Campaign(nil), w.pay.campaigns...)
}

func (p *payments) cellOf(x, y float64) (int, int) {
	g := p.cellsPer
	return clampInt(int(x/gridSize*float64(g)), 0, g-1), clampInt(int(y/gridSize*float64(g)), 0, g-1)
}

// openDay draws the day's compromises (the handbook draws them daily) and
// lists the active campaigns.
func (p *payments) openDay(w *World, t int64) {
	day := int(t / dayNs)
	if w.end == never {
		p.plan(w, day+2)
	}
	for k, c := range p.cards {
		if c.until <= t {
			delete(p.cards, k)
		}
	}
	r := w.rng
	p.active = p.active[:0]
	for i := range p.campaigns {
		c := &p.campaigns[i]
		if day < c.startDay || day >= c.endDay {
			continue
		}
		p.active = append(p.active, c.ID)
		switch c.Tactic {
		case TacticNone:
			// Background. On day 0, seed the steady state: as many
			// compromises as are active on average, with random
			// remaining lifetimes.
			nt, nc := c.bgTermRate, c.Intensity
			if day == 0 {
				nt *= 28
				nc *= 14
			}
			for n := poisson(r, nt); n > 0; n-- {
				p.compromiseTerminal(r, t, 28, c.ID, day == 0)
			}
			for n := poisson(r, nc); n > 0; n-- {
				p.compromiseCard(w, t, 14, c.ID, day == 0)
			}
		case TacticTerminal:
			for n := poisson(r, c.Intensity); n > 0; n-- {
				p.compromiseTerminal(r, t, c.CompromiseDays, c.ID, false)
			}
		case TacticCard:
			for n := poisson(r, c.Intensity); n > 0; n-- {
				p.compromiseCard(w, t, c.CompromiseDays, c.ID, false)
			}
		}
	}
}

func (p *payments) compromiseTerminal(r *rand.Rand, t int64, days float64, camp int32, partial bool) {
	tm := &p.terms[r.IntN(len(p.terms))]
	if partial {
		days *= r.Float64()
	}
	tm.compUntil = t + int64(days*float64(dayNs))
	tm.compCamp = camp
}

func (p *payments) compromiseCard(w *World, t int64, days float64, camp int32, partial bool) {
	c := w.rng.Uint64N(uint64(w.cfg.Customers))
	if partial {
		days *= w.rng.Float64()
	}
	p.cards[c] = cardComp{until: t + int64(days*float64(dayNs)), camp: camp}
}

// injectRate is the rate per ns of injected fraud events (single
// transactions or card-testing bursts) of the active campaigns.
func (p *payments) injectRate(w *World) float64 {
	total := 0.0
	for _, id := range p.active {
		c := &p.campaigns[id]
		if c.Tactic == TacticAmount || c.Tactic == TacticCardTesting {
			total += c.Intensity
		}
	}
	return total / float64(dayNs)
}

// custRate is customer c's transaction rate relative to the most active
// customers: uniform in [0.05, 1) (the handbook's U(0, 4) per day, floored
// so that drawing a customer by rejection always ends quickly).
func custRate(w *World, c uint64) float64 {
	return 0.05 + 0.95*unit(hash3(w.seed, saltCustRate, c, 0))
}

func (p *payments) customer(w *World, c uint64) (x, y, mean float64) {
	x = gridSize * unit(hash3(w.seed, saltCustX, c, 0))
	y = gridSize * unit(hash3(w.seed, saltCustY, c, 0))
	mean = 5 + 95*unit(hash3(w.seed, saltCustMean, c, 0))
	return
}

func (p *payments) transaction(w *World, t int64, e *event.Event) bool {
	r := w.rng
	n := uint64(w.cfg.Customers)
	var c uint64
	for { // customers transact at their own rate: accept with rate/max
		c = r.Uint64N(n)
		if r.Float64() < custRate(w, c) {
			break
		}
	}
	x, y, mean := p.customer(w, c)
	cx, cy := p.cellOf(x, y)
	cands := p.cells[cy*p.cellsPer+cx]
	var ti int32
	if len(cands) > 0 {
		ti = cands[r.IntN(len(cands))]
	} else {
		ti = int32(r.IntN(len(p.terms)))
	}
	tm := &p.terms[ti]
	amount := mean + mean/2*r.NormFloat64()
	if amount < 0 {
		amount = 2 * mean * r.Float64()
	}
	device := tm.device
	if tm.web {
		device = devices[hash3(w.seed, saltCustDevice, c, 0)%3]
	}
	var camp int32
	tac := TacticNone
	if tm.compUntil > t {
		camp, tac = tm.compCamp, TacticTerminal
	} else if cc, ok := p.cards[c]; ok && cc.until > t {
		cp := &p.campaigns[cc.camp]
		if r.Float64() < cp.Fraction {
			camp, tac = cc.camp, TacticCard
			amount *= cp.Multiplier
			if cp.Device != "" {
				device = cp.Device
			}
		}
	}
	p.emitTx(w, t, e, c, w.ids.id("c", c), tm, amount, device, camp, tac)
	return true
}

func (p *payments) emitTx(w *World, t int64, e *event.Event, cust uint64, custID string, tm *terminal, amount float64, device string, camp int32, tac Tactic) {
	w.newEvent(e, event.TypeTransaction, t)
	w.nTx++
	tx := w.ids.id(w.pfxTx, w.nTx)
	e.TransactionID = tx
	e.CustomerID = custID
	e.TerminalID = tm.id
	e.MerchantID = tm.merchant
	e.Amount = math.Round(amount*100) / 100
	e.Currency = "EUR"
	e.Device = device
	fraud := tac != TacticNone
	w.truth = Truth{Fraud: fraud, Campaign: camp, Tactic: tac, Regime: int32(w.regimeAt(t))}
	p.dayTx++
	if !fraud {
		lt := t + int64(w.cfg.GenuineLabelDelay)
		if p.labelQ.n == 0 {
			w.procs[pLabelQ] = lt
		}
		p.labelQ.push(gLabel{t: lt, tx: tx})
		return
	}
	p.dayFraud++
	var fi int32
	if k := len(p.freeF); k > 0 {
		fi = p.freeF[k-1]
		p.freeF = p.freeF[:k-1]
	} else {
		fi = int32(len(p.flabels))
		p.flabels = append(p.flabels, fLabel{})
	}
	p.flabels[fi] = fLabel{tx: tx, camp: camp, tactic: tac}
	delay := float64(w.cfg.FraudLabelDelay) * (0.2 + 0.8*w.rng.ExpFloat64())
	w.agenda.push(t+int64(delay), kFraudLabel, fi)
}

func (p *payments) label(w *World, t int64, e *event.Event, tx string, fraud bool) {
	w.newEvent(e, event.TypeLabel, t)
	e.TargetID = tx
	e.Kind = "fraud"
	if fraud {
		e.Value = 1
	}
}

func (p *payments) genuineLabel(w *World, t int64, e *event.Event) bool {
	l := p.labelQ.pop()
	if p.labelQ.n == 0 {
		w.procs[pLabelQ] = never
	} else {
		w.procs[pLabelQ] = p.labelQ.buf[p.labelQ.head].t
	}
	p.label(w, t, e, l.tx, false)
	w.truth.Regime = int32(w.regimeAt(t))
	return true
}

func (p *payments) fraudLabel(w *World, fi int32, t int64, e *event.Event) bool {
	l := p.flabels[fi]
	p.flabels[fi] = fLabel{}
	p.freeF = append(p.freeF, fi)
	p.label(w, t, e, l.tx, true)
	w.truth = Truth{Fraud: true, Campaign: l.camp, Tactic: l.tactic, Regime: int32(w.regimeAt(t))}
	return true
}

// inject emits an injected fraudulent transaction, or starts a
// card-testing burst, for an active campaign chosen by intensity.
func (p *payments) inject(w *World, t int64, e *event.Event) bool {
	r := w.rng
	total := 0.0
	for _, id := range p.active {
		c := &p.campaigns[id]
		if c.Tactic == TacticAmount || c.Tactic == TacticCardTesting {
			total += c.Intensity
		}
	}
	if total == 0 {
		return false
	}
	x := r.Float64() * total
	var c *Campaign
	for _, id := range p.active {
		cc := &p.campaigns[id]
		if cc.Tactic == TacticAmount || cc.Tactic == TacticCardTesting {
			c = cc
			if x -= cc.Intensity; x < 0 {
				break
			}
		}
	}
	cust := r.Uint64N(uint64(w.cfg.Customers))
	ti := p.web[r.IntN(len(p.web))]
	custID := w.ids.id("c", cust)
	if c.Tactic == TacticAmount {
		amount := c.AmountLo + (c.AmountHi-c.AmountLo)*r.Float64()
		p.emitTx(w, t, e, cust, custID, &p.terms[ti], amount, c.Device, c.ID, TacticAmount)
		return true
	}
	var bi int32
	if k := len(p.freeB); k > 0 {
		bi = p.freeB[k-1]
		p.freeB = p.freeB[:k-1]
	} else {
		bi = int32(len(p.bursts))
		p.bursts = append(p.bursts, burst{})
	}
	p.bursts[bi] = burst{cust: cust, custID: custID, term: ti, camp: c.ID, small: 3 + int32(r.IntN(4)), large: 1 + int32(r.IntN(2))}
	return p.burstStep(w, bi, t, e)
}

// burstStep emits the next transaction of a card-testing burst: tiny
// amounts first, then the large ones, minutes apart.
func (p *payments) burstStep(w *World, bi int32, t int64, e *event.Event) bool {
	b := &p.bursts[bi]
	c := &p.campaigns[b.camp]
	r := w.rng
	var amount float64
	if b.small > 0 {
		b.small--
		amount = 0.5 + 2.5*r.Float64()
	} else {
		b.large--
		amount = c.AmountLo + (c.AmountHi-c.AmountLo)*r.Float64()
	}
	p.emitTx(w, t, e, b.cust, b.custID, &p.terms[b.term], amount, c.Device, c.ID, TacticCardTesting)
	if b.small > 0 || b.large > 0 {
		w.agenda.push(t+secs(w, 20, 180), kBurst, bi)
	} else {
		p.bursts[bi] = burst{}
		p.freeB = append(p.freeB, bi)
	}
	return true
}

func (p *payments) closeDay(d *DayTruth) {
	d.Transactions, d.Frauds = p.dayTx, p.dayFraud
	d.Campaigns = p.active
}

func (p *payments) resetDay() { p.dayTx, p.dayFraud = 0, 0 }
