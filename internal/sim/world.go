package sim

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

const (
	hourNs = int64(time.Hour)
	dayNs  = 24 * hourNs
	never  = math.MaxInt64
)

// Kinds of agenda entries (steps of entities that live in a pool).
const (
	kSession uint8 = iota
	kBurst
	kFraudLabel
	kRestock
)

// Processes: singletons whose next step time is kept in World.procs
// rather than in the agenda, so that they can be rescheduled (for
// example when a rate changes on the hour) without touching the heap.
// On equal times a process runs before agenda entries, and lower
// process numbers first.
const (
	pHour    = iota // hourly tick (and the daily tick at midnight)
	pArrival        // session arrivals
	pTx             // genuine card transactions
	pInject         // injected fraud (amount and card-testing campaigns)
	pLabelQ         // head of the queue of genuine labels
	nProcs
)

// World is the full simulator: a seeded, deterministic stream of shop,
// payment, stock and delivery events with ground truth. See the package
// documentation for the model. A World is not safe for concurrent use.
type World struct {
	cfg   WorldConfig
	seed  uint64
	start time.Time
	end   int64 // ns since start; never when unbounded
	rng   *rand.Rand

	ids                                    idArena
	nEvent, nSession, nTx, nOrder          uint64
	pfxEvent, pfxSession, pfxTx, pfxOrder  string
	agenda                                 agenda
	procs                                  [nProcs]int64
	fifo                                   []pending // same-time follow-up events
	fifoHead                               int
	now                                    int64 // time of the latest step
	done                                   bool
	truth                                  Truth // truth of the event being generated
	hour                                   int64 // index of the current hour
	day                                    int   // index of the current day
	lamSession, lamTx, lamInject           float64
	shifts                                 []int64
	shop                                   shop
	pay                                    payments
	city                                   city
	dayTruth                               DayTruth
	sessionsPerNs, txPerNs, yearNs, weekNs float64
}

// pending is a follow-up event emitted at the time of the step that
// queued it, before any later step.
type pending struct {
	t    int64
	kind uint8 // pendStock
	wh   uint8
	it   *product
}

const pendStock uint8 = 1

// Tactic is the modus operandi of a fraud campaign.
type Tactic uint8

// The fraud tactics, after the scenarios of the Fraud Detection Handbook
// (Le Borgne et al., "Reproducible Machine Learning for Credit Card Fraud
// Detection – Practical Handbook", 2022), plus card testing.
const (
	TacticNone        Tactic = iota // a genuine transaction
	TacticTerminal                  // compromised terminals: every transaction on them is fraud
	TacticCard                      // compromised cards: a share of their transactions, with amounts multiplied
	TacticAmount                    // injected transactions with amounts in a narrow band, from one device type
	TacticCardTesting               // bursts of tiny amounts on a stolen card, then large ones
)

var tacticNames = [...]string{"none", "terminal", "card", "amount", "card_testing"}

// String returns the tactic's name.
func (t Tactic) String() string {
	if int(t) < len(tacticNames) {
		return tacticNames[t]
	}
	return "unknown"
}

// Truth is the ground truth of one generated event, for evaluators. It is
// never part of the event itself. Fields that do not apply to the event's
// type are zero.
type Truth struct {
	// PPurchase is the true probability that the shopper buys the item in
	// this session given the funnel stage this event shows: for a view,
	// P(purchase | user, item, time); for a click and an add_to_cart, the
	// same conditional on having clicked or carted; 1 for a purchase.
	PPurchase float64
	// Regime counts the abrupt shifts before the event's session began
	// (shop events) or before the event (other events).
	Regime int32
	// Promo reports that the item was on promotion (view, click,
	// add_to_cart, purchase).
	Promo bool
	// Fraud, Campaign and Tactic are the oracle's view of a transaction
	// and of the label judging it: whether it is fraud, the id of the
	// campaign that produced it (0 is the background campaign), and how.
	Fraud    bool
	Campaign int32
	Tactic   Tactic
	// Zone is the delivery zone of an order's destination.
	Zone int32
}

// NewWorld returns a World for cfg, or an error naming the invalid field.
func NewWorld(cfg WorldConfig) (*World, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	w := &World{
		cfg:        cfg,
		seed:       cfg.Seed,
		start:      cfg.Start,
		end:        never,
		rng:        rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d)),
		pfxEvent:   cfg.IDPrefix + "e",
		pfxSession: cfg.IDPrefix + "s",
		pfxTx:      cfg.IDPrefix + "t",
		pfxOrder:   cfg.IDPrefix + "o",
		yearNs:     cfg.YearDays * float64(dayNs),
		weekNs:     cfg.WeekDays * float64(dayNs),
	}
	if cfg.Days > 0 {
		w.end = int64(cfg.Days) * dayNs
	}
	w.sessionsPerNs = cfg.SessionsPerDay / float64(dayNs)
	w.txPerNs = cfg.TransactionsPerDay / float64(dayNs)
	for _, d := range cfg.ShiftDays {
		w.shifts = append(w.shifts, int64(d*float64(dayNs)))
	}
	sortInt64(w.shifts)
	for i := range w.procs {
		w.procs[i] = never
	}
	w.procs[pHour] = 0
	w.city.init(w)
	w.shop.init(w)
	if !cfg.NoPayments {
		w.pay.init(w)
	}
	return w, nil
}

func sortInt64(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// Config returns the configuration in effect, defaults filled in.
func (w *World) Config() WorldConfig { return w.cfg }

// Start returns the simulated time of the beginning.
func (w *World) Start() time.Time { return w.start }

// Now returns the simulated time of the latest step.
func (w *World) Now() time.Time { return w.start.Add(time.Duration(w.now)) }

// Done reports whether the stream has ended (only for bounded runs).
func (w *World) Done() bool { return w.done }

// ShiftTimes returns the times of the abrupt taste shifts, in order.
func (w *World) ShiftTimes() []time.Time {
	out := make([]time.Time, len(w.shifts))
	for i, s := range w.shifts {
		out[i] = w.start.Add(time.Duration(s))
	}
	return out
}

// Regime returns the number of abrupt shifts at or before t.
func (w *World) Regime(t time.Time) int { return w.regimeAt(int64(t.Sub(w.start))) }

func (w *World) regimeAt(t int64) int {
	k := 0
	for k < len(w.shifts) && w.shifts[k] <= t {
		k++
	}
	return k
}

// NextTime returns a lower bound on the time of the next event, and
// false when the stream has ended.
func (w *World) NextTime() (time.Time, bool) {
	if w.done {
		return time.Time{}, false
	}
	if w.fifoHead < len(w.fifo) {
		return w.start.Add(time.Duration(w.fifo[w.fifoHead].t)), true
	}
	_, t := w.nextProc()
	if w.agenda.len() > 0 && w.agenda.top().t < t {
		t = w.agenda.top().t
	}
	return w.start.Add(time.Duration(t)), true
}

// Next appends up to n events to dst in timestamp order and returns it.
// It returns fewer only when the stream has ended. The events' strings
// and order lines are immutable and never reused, so events may be kept;
// dst's backing array is reused, so pass dst[:0] to generate without
// allocating.
func (w *World) Next(dst []event.Event, n int) []event.Event {
	dst, _ = w.gen(dst, nil, false, n, never)
	return dst
}

// NextTruth is Next that also appends the ground truth of each event to
// truth, so that truth[len(truth0)+i] describes dst[len(dst0)+i].
func (w *World) NextTruth(dst []event.Event, truth []Truth, n int) ([]event.Event, []Truth) {
	return w.gen(dst, truth, true, n, never)
}

// NextUntil is NextTruth limited to events at or before until. It
// returns fewer than n events when the next one is later than until.
func (w *World) NextUntil(dst []event.Event, truth []Truth, n int, until time.Time) ([]event.Event, []Truth) {
	u := until.Sub(w.start)
	if u < 0 {
		return dst, truth
	}
	return w.gen(dst, truth, true, n, int64(u))
}

// Run generates the stream in batches of up to batch events and hands
// each to fn with its ground truth, until the stream ends, fn fails or
// ctx is done. fn must not retain the slices (the events themselves may
// be kept). With WorldConfig.Speed s > 0, Run paces the stream so that an
// event at simulated offset d from the start is handed over no earlier
// than d/s of wall time after Run began; otherwise it runs as fast as
// possible. Run returns nil at the end of a bounded stream, fn's error,
// or ctx.Err().
func (w *World) Run(ctx context.Context, batch int, fn func(ev []event.Event, truth []Truth) error) error {
	if batch <= 0 {
		return errors.New("sim: Run batch must be > 0")
	}
	ev := make([]event.Event, 0, batch)
	tr := make([]Truth, 0, batch)
	speed := w.cfg.Speed
	wall := time.Now()
	simBase := w.now
	var timer *time.Timer
	for !w.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		until := int64(never)
		if speed > 0 {
			until = simBase + int64(float64(time.Since(wall))*speed)
		}
		ev, tr = w.gen(ev[:0], tr[:0], true, batch, until)
		if len(ev) > 0 {
			if err := fn(ev, tr); err != nil {
				return err
			}
			continue
		}
		if w.done {
			break
		}
		next, _ := w.NextTime()
		due := wall.Add(time.Duration(float64(next.Sub(w.start)-time.Duration(simBase)) / speed))
		d := time.Until(due)
		if d <= 0 {
			continue
		}
		if d > time.Second {
			d = time.Second // re-check ctx and the clock at least once a second
		}
		if timer == nil {
			timer = time.NewTimer(d)
			defer timer.Stop()
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	return nil
}

func (w *World) nextProc() (int, int64) {
	pi, t := 0, w.procs[0]
	for i := 1; i < nProcs; i++ {
		if w.procs[i] < t {
			pi, t = i, w.procs[i]
		}
	}
	return pi, t
}

func (w *World) gen(dst []event.Event, tr []Truth, wantTruth bool, n int, until int64) ([]event.Event, []Truth) {
	for k := 0; k < n && !w.done; {
		fromFIFO := w.fifoHead < len(w.fifo)
		pi := -1
		var t int64
		if !fromFIFO {
			pi, t = w.nextProc()
			if w.agenda.len() > 0 && w.agenda.top().t < t {
				pi, t = -1, w.agenda.top().t
			}
			if t > until {
				break
			}
		}
		dst = append(dst, event.Event{})
		e := &dst[len(dst)-1]
		w.truth = Truth{}
		var ok bool
		switch {
		case fromFIFO:
			ok = w.emitPending(e)
		case pi >= 0:
			w.now = t
			ok = w.runProc(pi, t, e)
		default:
			en := w.agenda.pop()
			w.now = t
			ok = w.runEntry(en, e)
		}
		if !ok {
			dst = dst[:len(dst)-1]
			continue
		}
		if wantTruth {
			tr = append(tr, w.truth)
		}
		k++
	}
	return dst, tr
}

func (w *World) runProc(pi int, t int64, e *event.Event) bool {
	switch pi {
	case pHour:
		w.tick(t)
		return false
	case pArrival:
		w.procs[pArrival] = w.nextArrival(t, w.lamSession)
		return w.shop.arrive(w, t, e)
	case pTx:
		w.procs[pTx] = w.nextArrival(t, w.lamTx)
		return w.pay.transaction(w, t, e)
	case pInject:
		w.procs[pInject] = w.nextArrival(t, w.lamInject)
		return w.pay.inject(w, t, e)
	case pLabelQ:
		return w.pay.genuineLabel(w, t, e)
	}
	panic("sim: unknown process")
}

func (w *World) runEntry(en entry, e *event.Event) bool {
	switch en.kind {
	case kSession:
		return w.shop.step(w, en.ref, en.t, e)
	case kBurst:
		return w.pay.burstStep(w, en.ref, en.t, e)
	case kFraudLabel:
		return w.pay.fraudLabel(w, en.ref, en.t, e)
	case kRestock:
		return w.shop.restock(w, en.ref, en.t, e)
	}
	panic("sim: unknown agenda kind")
}

// nextArrival returns the time after t of the next arrival of a Poisson
// process with rate lam per nanosecond (never for a zero rate).
func (w *World) nextArrival(t int64, lam float64) int64 {
	if lam <= 0 {
		return never
	}
	g := w.rng.ExpFloat64() / lam
	if g >= float64(never-t) {
		return never
	}
	return t + int64(g) + 1
}

// newEvent fills the common fields of e.
func (w *World) newEvent(e *event.Event, typ event.Type, t int64) {
	w.nEvent++
	e.ID = w.ids.id(w.pfxEvent, w.nEvent)
	e.Type = typ
	e.Timestamp = w.start.Add(time.Duration(t))
}

func (w *World) queue(p pending) {
	if w.fifoHead == len(w.fifo) {
		w.fifo, w.fifoHead = w.fifo[:0], 0
	}
	w.fifo = append(w.fifo, p)
}

func (w *World) emitPending(e *event.Event) bool {
	p := w.fifo[w.fifoHead]
	w.fifoHead++
	switch p.kind {
	case pendStock:
		w.shop.stockEvent(w, p.it, int(p.wh), p.t, e)
		return true
	}
	panic("sim: unknown pending kind")
}

// tick runs on every simulated hour: at midnight it closes the previous
// day and opens the next; every hour it refreshes seasonal rates and
// redraws the arrival processes (exact for piecewise-constant rates, as
// the exponential distribution is memoryless).
func (w *World) tick(t int64) {
	h := t / hourNs
	if t >= w.end {
		w.closeDay()
		w.done = true
		return
	}
	if h%24 == 0 {
		if h > 0 {
			w.closeDay()
		}
		w.day = int(h / 24)
		w.openDay(t)
	}
	w.hour = h
	w.shop.hourly(w, t)
	w.lamSession = w.sessionsPerNs * w.trafficFactor(t)
	w.procs[pArrival] = w.nextArrival(t, w.lamSession)
	if !w.cfg.NoPayments {
		w.lamTx = w.txPerNs * txDiurnal[h%24]
		w.procs[pTx] = w.nextArrival(t, w.lamTx)
		w.lamInject = w.pay.injectRate(w)
		w.procs[pInject] = w.nextArrival(t, w.lamInject)
	}
	w.procs[pHour] = t + hourNs
}

func (w *World) openDay(t int64) {
	w.shop.openDay(w, t)
	if !w.cfg.NoPayments {
		w.pay.openDay(w, t)
	}
}

func (w *World) closeDay() {
	d := &w.dayTruth
	d.Day = w.day
	d.Start = w.start.Add(time.Duration(int64(w.day) * dayNs))
	d.Regime = w.regimeAt(int64(w.day)*dayNs + dayNs - 1)
	w.shop.closeDay(w, d)
	w.pay.closeDay(d)
	if w.cfg.OnDay != nil {
		w.cfg.OnDay(d)
	}
	w.pay.resetDay()
}

// Session traffic: a diurnal curve (evening peak, lunch bump), a weekly
// cycle and a yearly cycle (peak in mid-December for a Jan-1 start).
var sessionDiurnal, txDiurnal [24]float64

func init() {
	norm := func(f func(h float64) float64, dst *[24]float64) {
		s := 0.0
		for h := range dst {
			dst[h] = f(float64(h) + 0.5)
			s += dst[h]
		}
		for h := range dst {
			dst[h] *= 24 / s
		}
	}
	norm(func(h float64) float64 {
		return 0.15 + math.Exp(-sq(h-20.5)/(2*9)) + 0.5*math.Exp(-sq(h-12.5)/(2*4))
	}, &sessionDiurnal)
	// The handbook draws transaction times from N(12h, 5h).
	norm(func(h float64) float64 { return 0.03 + math.Exp(-sq(h-12)/(2*25)) }, &txDiurnal)
}

func sq(x float64) float64 { return x * x }

// trafficFactor is the session-rate multiplier of the hour starting at t.
func (w *World) trafficFactor(t int64) float64 {
	mid := float64(t + hourNs/2)
	h := (t / hourNs) % 24
	week := 1 + 0.2*math.Cos(2*math.Pi*(mid/w.weekNs-5.0/7))
	year := 1 + 0.25*math.Cos(2*math.Pi*(mid/w.yearNs-0.96))
	return sessionDiurnal[h] * week * year
}
