package demo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/recommend"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// recSlots is the slate size of every recommendation request.
const recSlots = 5

// Names of the recommendation variants besides the three regimes.
const (
	nameEngine    = "engine"     // POST /v1/recommend of the engine (purchase model + click model learning from feedback)
	nameNoLearner = "no_learner" // the same recommender with a constant score: candidate generation only
)

// recTask measures recommendations: for a sample of views, the shopper
// asks for a slate; a click on a shown item happens with the simulator's
// true click probability p^(1/3) (the funnel's first step), p the true
// purchase probability at that moment. CTR is the expected clicks per
// shown item, computed from the true probabilities (no coin flip noise);
// the engine also gets simulated clicks as feedback.
//
// The continual, frozen and retrain variants are the same in-process
// recommender (package recommend, fed the same events) ranking by the
// twin's corresponding purchase model, so only the model differs.
type recTask struct {
	w      *sim.World
	base   string
	start  time.Time
	shift  time.Time
	now    time.Time
	rng    *rand.Rand
	every  int // one request per every views
	views  int
	svcs   map[string]*recommend.Service
	names  []string
	clicks map[string][]float64  // per variant, per day: Σ expected clicks
	shown  map[string][]float64  // per variant, per day: items shown
	post   map[string][2]float64 // per variant, after the shift: Σ expected clicks, items shown
	regret map[string][2]float64 // per variant, after the shift: Σ (best − expected clicks) per slate, items shown
	errs   int                   // requests that failed (no candidates yet)
	// The active catalog (refreshed daily) and its click probabilities
	// for the current request, for the best slate.
	items    []sim.Item
	itemsDay int
	probs    []float64
	// onEngine, if set, receives the true quality of every slate the
	// engine served (the dashboard's regret).
	onEngine func(slots int, clicks, best float64)
}

// twinScorer ranks by one of the twin's purchase models.
type twinScorer struct {
	r     *continual.Runner
	model string
	pairs []continual.Pair
}

func (s *twinScorer) Score(req *recommend.Request, cands []recommend.Candidate, dst []float64) {
	if s.r.Published() == nil {
		clear(dst)
		return
	}
	s.pairs = s.pairs[:0]
	for _, c := range cands {
		s.pairs = append(s.pairs, continual.Pair{UserID: req.UserID, ItemID: c.Item})
	}
	if _, _, err := s.r.ScorePurchase(context.Background(), s.model, s.pairs, dst); err != nil {
		clear(dst)
	}
	clear(s.pairs)
}

type constScorer struct{}

func (constScorer) Score(_ *recommend.Request, _ []recommend.Candidate, dst []float64) { clear(dst) }

func newRecTask(w *sim.World, twin *continual.Runner, seed uint64, base string, shift time.Time) (*recTask, error) {
	cfg := w.Config()
	viewsPerDay := cfg.SessionsPerDay * viewsPerSession
	t := &recTask{w: w, base: base, start: w.Start(), shift: shift, rng: rand.New(rand.NewPCG(seed, 0xdec0)),
		every: max(1, int(viewsPerDay/150)), svcs: map[string]*recommend.Service{},
		clicks: map[string][]float64{}, shown: map[string][]float64{}, post: map[string][2]float64{},
		regret: map[string][2]float64{}, itemsDay: -1}
	t.names = []string{nameContinual, nameFrozen, nameRetrain, nameNoLearner, nameEngine}
	for _, n := range t.names {
		t.clicks[n] = make([]float64, cfg.Days)
		t.shown[n] = make([]float64, cfg.Days)
		if n == nameEngine {
			continue
		}
		var sc recommend.Scorer = &twinScorer{r: twin, model: n}
		if n == nameNoLearner {
			sc = constScorer{}
		}
		svc, err := recommend.New(recommend.Config{Seed: seed, Candidates: 200, Now: func() time.Time { return t.now }}, sc)
		if err != nil {
			return nil, err
		}
		t.svcs[n] = svc
	}
	return t, nil
}

// observe feeds one event to the in-process recommenders.
func (t *recTask) observe(e *event.Event) {
	switch e.Type {
	case event.TypeView, event.TypeClick, event.TypeAddToCart, event.TypePurchase:
		for _, s := range t.svcs {
			s.Observe(e) // an event a recommender refuses changes nothing in it
		}
	}
}

// serve asks for slates for a sample of the batch's views.
func (t *recTask) serve(ctx context.Context, c *http.Client, evs []event.Event, now time.Time) error {
	t.now = now
	for i := range evs {
		e := &evs[i]
		if e.Type != event.TypeView {
			continue
		}
		t.views++
		if t.views%t.every != 0 {
			continue
		}
		day := dayOf(t.start, e.Timestamp, len(t.clicks[nameEngine]))
		t.rankTruth(e, day)
		post := !t.shift.IsZero() && !e.Timestamp.Before(t.shift)
		req := recommend.Request{UserID: e.UserID, Slots: recSlots, Exclude: []string{e.ItemID}}
		for _, n := range t.names {
			var items []string
			var requestID string
			if n == nameEngine {
				body, _ := json.Marshal(req)
				var resp recommend.Response
				err := call(ctx, c, http.MethodPost, t.base+"/v1/recommend", "application/json", body, http.StatusOK, &resp)
				var he *httpError
				if errors.As(err, &he) && he.status == http.StatusServiceUnavailable {
					t.errs++ // no candidates yet
					continue
				}
				if err != nil {
					return err
				}
				items, requestID = resp.Items, resp.RequestID
			} else {
				resp, err := t.svcs[n].Recommend(&req)
				if err != nil {
					t.errs++
					continue
				}
				items = resp.Items
			}
			var slate float64 // expected clicks of the slate
			for _, it := range items {
				p, err := t.w.PurchaseProb(e.UserID, it, e.Timestamp)
				if err != nil {
					p = 0 // withdrawn item: nobody clicks it
				}
				click := math.Cbrt(p)
				slate += click
				t.clicks[n][day] += click
				t.shown[n][day]++
				if post {
					a := t.post[n]
					t.post[n] = [2]float64{a[0] + click, a[1] + 1}
				}
				if n == nameEngine && t.rng.Float64() < click {
					fb, _ := json.Marshal(recommend.Feedback{RequestID: requestID, ItemID: it, Reward: 1})
					if err := call(ctx, c, http.MethodPost, t.base+"/v1/feedback", "application/json", fb, http.StatusOK, nil); err != nil {
						return err
					}
				}
			}
			// The best slate of the same size, for the regret.
			b := sumTop(t.probs, len(items))
			if post && len(items) > 0 {
				a := t.regret[n]
				t.regret[n] = [2]float64{a[0] + b - slate, a[1] + float64(len(items))}
			}
			if n == nameEngine && t.onEngine != nil && len(items) > 0 {
				t.onEngine(len(items), slate, b)
			}
		}
	}
	return nil
}

// rankTruth fills t.probs with the true click probability p^(1/3) of
// every active item but the one viewed, for view e, sorted from the
// highest: the best slate of k items has expected clicks
// sumTop(t.probs, k).
func (t *recTask) rankTruth(e *event.Event, day int) {
	if day != t.itemsDay {
		t.items = t.w.Items(t.items[:0])
		t.itemsDay = day
	}
	t.probs = t.probs[:0]
	for _, it := range t.items {
		if it.ID == e.ItemID {
			continue
		}
		p, err := t.w.PurchaseProb(e.UserID, it.ID, e.Timestamp)
		if err != nil {
			continue // withdrawn since the catalog was read
		}
		t.probs = append(t.probs, math.Cbrt(p))
	}
	slices.SortFunc(t.probs, func(a, b float64) int { return cmp.Compare(b, a) })
}

// sumTop sums the first k of the descending ps.
func sumTop(ps []float64, k int) float64 {
	var s float64
	for _, p := range ps[:min(k, len(ps))] {
		s += p
	}
	return s
}

// postRegret returns variant's mean regret per shown item after the
// shift: the best slate's expected clicks minus the shown one's.
func (t *recTask) postRegret(name string) float64 {
	a := t.regret[name]
	if a[1] == 0 {
		return math.NaN()
	}
	return a[0] / a[1]
}

// postCTR returns variant's CTR after the shift.
func (t *recTask) postCTR(name string) float64 {
	a := t.post[name]
	if a[1] == 0 {
		return math.NaN()
	}
	return a[0] / a[1]
}

// ctr returns variant's CTR over the days [d0, d1).
func (t *recTask) ctr(name string, d0, d1 int) float64 {
	var c, s float64
	for d := max(d0, 0); d < min(d1, len(t.shown[name])); d++ {
		c += t.clicks[name][d]
		s += t.shown[name][d]
	}
	if s == 0 {
		return math.NaN()
	}
	return c / s
}
