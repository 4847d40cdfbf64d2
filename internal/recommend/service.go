// Package recommend is the shop's real-time recommender: candidate
// generation from the event stream, a pluggable ranking model, an
// exploring slate policy with logged propensities, and the request/feedback
// bookkeeping behind POST /v1/recommend and POST /v1/feedback.
//
// # Candidates
//
// Every view, click, add_to_cart and purchase event (Observe) updates, in
// real time: item-to-item co-visitation (two items a user touched within
// CovisWindow, weighted by event type and decayed with CovisHalfLife),
// trending scores (decayed with TrendingHalfLife), the user's recent items
// and purchases. Candidates for a user are the co-visited neighbours of
// their recent items, the trending items, cold items (fewer than
// ColdEvents events) that share attributes with their recent items
// (content similarity, for items nobody has co-visited yet), and fresh
// items (added within FreshWindow). Items the user bought are excluded
// unless KeepPurchased is set. Exponential decays are stored as log-sums
// against a fixed epoch, so no periodic decay pass is needed.
//
// # Ranking, exploration and propensities
//
// A Scorer scores the candidates (OnlineScorer, a logistic model learned
// from feedback, until the purchase model is plugged in). The greedy slate
// is the top slots by score, except that FreshQuota·slots (rounded up)
// slots are reserved for the best fresh candidates, then ordered by score.
// With probability Epsilon the slate is instead a uniformly random
// ordered choice of slots candidates. The propensity of slot p is the
// exact marginal probability that its item is shown at p:
// (1−ε)·[item is the greedy slate's p-th] + ε/N for N candidates.
//
// # Position bias
//
// Feedback is learned with the slot as a feature (positions 2…5 one-hot), and
// scoring sets it to slot 1, so the model learns relevance apart from
// examination. PositionBias estimates the examination probability of each
// slot relative to slot 1 from the random (ε) slates only, where the items
// do not depend on the slot.
//
// # Requests and feedback
//
// Recommend returns the slate with a request id and the impression event
// to append to the log; Feedback validates a reward for a shown item and
// returns the feedback event. Learning happens when those events come back
// through Observe (from the log), so learners see exactly what was logged.
// A request stays open for FeedbackWindow (or until MaxPending newer
// requests push it out); when it closes, its shown items without positive
// feedback are learned as negatives.
//
// Concurrency: a Service is safe for concurrent use; one mutex guards its
// state (a decision takes well under a millisecond).
package recommend

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// Config configures a Service. The zero value means the defaults.
type Config struct {
	CovisWindow      time.Duration // default 1h
	CovisHalfLife    time.Duration // default 7 days
	TrendingHalfLife time.Duration // default 1 day
	MaxNeighbors     int           // co-visited neighbours kept per item (default 50)
	HistoryLen       int           // recent items kept per user (default 20)
	Trending         int           // trending items kept (default 200)
	FreshWindow      time.Duration // default 48h
	FreshQuota       float64       // share of slots reserved for fresh items (default 0.1; negative: none)
	ColdEvents       int           // an item with fewer events is cold (default 5)
	KeepPurchased    bool          // do not exclude items the user bought
	Candidates       int           // candidates scored at most (default 500)
	Epsilon          float64       // exploration rate (default 0.1; negative: none)
	MaxSlots         int           // default 50
	MaxReward        float64       // feedback rewards must be in [0, MaxReward] (default 1000)
	FeedbackWindow   time.Duration // default 30 min
	MaxPending       int           // open requests kept (default 100000)
	Seed             uint64
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	num := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&c.CovisWindow, time.Hour)
	dur(&c.CovisHalfLife, 7*24*time.Hour)
	dur(&c.TrendingHalfLife, 24*time.Hour)
	dur(&c.FreshWindow, 48*time.Hour)
	dur(&c.FeedbackWindow, 30*time.Minute)
	num(&c.MaxNeighbors, 50)
	num(&c.HistoryLen, 20)
	num(&c.Trending, 200)
	num(&c.ColdEvents, 5)
	num(&c.Candidates, 500)
	num(&c.MaxSlots, 50)
	num(&c.MaxPending, 100000)
	if c.FreshQuota == 0 {
		c.FreshQuota = 0.1
	}
	if c.Epsilon == 0 {
		c.Epsilon = 0.1
	}
	if c.MaxReward == 0 {
		c.MaxReward = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports the first invalid field, naming it.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.CovisWindow < 0 || c.CovisHalfLife <= 0 || c.TrendingHalfLife <= 0 || c.FreshWindow < 0 || c.FeedbackWindow <= 0:
		return errors.New("recommend: config durations must be positive")
	case c.MaxNeighbors < 1 || c.HistoryLen < 1 || c.Trending < 1 || c.Candidates < 1 || c.MaxSlots < 1 || c.MaxPending < 1:
		return errors.New("recommend: config counts (max_neighbors, history_len, trending, candidates, max_slots, max_pending) must be ≥ 1")
	case c.FreshQuota > 1 || math.IsNaN(c.FreshQuota):
		return fmt.Errorf("recommend: config fresh_quota %v must be ≤ 1", c.FreshQuota)
	case c.Epsilon > 1 || math.IsNaN(c.Epsilon):
		return fmt.Errorf("recommend: config epsilon %v must be ≤ 1", c.Epsilon)
	case !(c.MaxReward > 0) || math.IsInf(c.MaxReward, 0):
		return fmt.Errorf("recommend: config max_reward %v must be finite and > 0", c.MaxReward)
	}
	return nil
}

// Errors returned by Recommend and Feedback. The HTTP layer maps
// ErrBadRequest and ErrRewardRange to 400, ErrUnknownRequest to 404,
// ErrDuplicateFeedback to 409, ErrItemNotShown to 422 and ErrNoCandidates
// to 503 (nothing to recommend yet: no item events have been observed, or
// everything is excluded).
var (
	ErrBadRequest        = errors.New("recommend: bad request")
	ErrNoCandidates      = errors.New("recommend: no candidates")
	ErrUnknownRequest    = errors.New("recommend: unknown or expired request id")
	ErrDuplicateFeedback = errors.New("recommend: feedback already received for this item of this request")
	ErrRewardRange       = errors.New("recommend: reward out of range")
	ErrItemNotShown      = errors.New("recommend: item was not shown in this request")
)

// Request is the body of POST /v1/recommend. Context is passed to the
// Scorer (the OnlineScorer ignores it; the purchase model may use it).
type Request struct {
	UserID    string            `json:"user_id"`
	SessionID string            `json:"session_id,omitempty"`
	Context   map[string]string `json:"context,omitempty"`
	Slots     int               `json:"slots"`
	// Exclude lists items not to show (e.g. the one on the page).
	Exclude []string `json:"exclude,omitempty"`
}

// Response is the answer of POST /v1/recommend. Positions are 1-based.
// It holds fewer items than the slots asked for when there are fewer
// candidates.
type Response struct {
	RequestID    string    `json:"request_id"`
	Items        []string  `json:"items"`
	Positions    []int     `json:"positions"`
	Propensities []float64 `json:"propensities"`
	// Impression is the event to append to the log.
	Impression event.Event `json:"-"`
}

// Feedback is the body of POST /v1/feedback.
type Feedback struct {
	RequestID string  `json:"request_id"`
	ItemID    string  `json:"item_id"`
	Reward    float64 `json:"reward"`
}

// Candidate is one item offered to a Scorer. Features holds the candidate
// generator's signals (see FeatureNames); it is owned by the Service and
// valid only during the Score call.
type Candidate struct {
	Item     string
	Features []float32
}

// Scorer ranks candidates. Score writes one score per candidate into dst
// (len(dst) == len(cands)), higher is better. It is called with the
// Service's lock held, one call at a time, and must not retain its
// arguments.
type Scorer interface {
	Score(req *Request, cands []Candidate, dst []float64)
}

// FeedbackLearner is implemented by scorers that learn from feedback:
// features are a shown candidate's features, position its 1-based slot,
// and reward the observed reward (0 for a shown item without positive
// feedback). Called with the Service's lock held.
type FeedbackLearner interface {
	Learn(features []float32, position int, reward float64)
}

// Candidate feature layout.
const (
	fBias = iota
	fCovis
	fTrend
	fContent
	fFresh
	fCTR
	fPopularity
	fCold
	NumFeatures
)

// FeatureNames names Candidate.Features.
var FeatureNames = [NumFeatures]string{"bias", "covis", "trend", "content", "fresh", "ctr", "popularity", "cold"}

// pending is an open request.
type pending struct {
	id       string
	user     string
	created  int64
	items    []int32
	feats    []float32 // slots × NumFeatures
	props    []float64
	fed      []bool // feedback received (API)
	positive []bool // positive feedback learned (Observe)
	random   bool   // slate from the ε branch
	logged   bool   // impression observed
}

// Service is the recommender. Build it with New.
type Service struct {
	cfg       Config
	scorer    Scorer
	trendRate float64 // λ per second
	covisRate float64
	prefix    string

	mu struct {
		sync.Mutex
		// guarded by mu
		items    []item
		index    map[string]int32
		byAttr   map[string][]int32
		users    map[string]*user
		trending []int32
		fresh    []int32
		pending  map[string]*pending
		queue    []*pending // open requests, oldest first
		free     []*pending
		seq      uint64
		rng      *rand.Rand
		posShown []float64 // per slot, random slates
		posClick []float64
		sc       scratch
	}
}

type scratch struct {
	stamp   []uint32 // per item: candidate generation stamp
	slot    []int32  // per item: index into cands
	gen     uint32
	idx     []int32
	cands   []Candidate
	feats   []float32
	scores  []float64
	order   []int
	chosen  []int
	exclude []int32
}

// New returns a Service ranking with scorer (nil: a new OnlineScorer).
func New(cfg Config, scorer Scorer) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if scorer == nil {
		scorer = NewOnlineScorer()
	}
	s := &Service{cfg: cfg, scorer: scorer,
		trendRate: math.Ln2 / cfg.TrendingHalfLife.Seconds(),
		covisRate: math.Ln2 / cfg.CovisHalfLife.Seconds(),
		prefix:    fmt.Sprintf("r%x", uint32(cfg.Seed)^uint32(cfg.Now().UnixNano()))}
	s.mu.index = map[string]int32{}
	s.mu.byAttr = map[string][]int32{}
	s.mu.users = map[string]*user{}
	s.mu.pending = map[string]*pending{}
	s.mu.rng = rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	s.mu.posShown = make([]float64, cfg.MaxSlots)
	s.mu.posClick = make([]float64, cfg.MaxSlots)
	return s, nil
}

// AddItem adds an item to the catalogue (or sets its attributes), e.g.
// "category=shoes", "brand=acme". added is when it arrived (fresh items
// are those added within FreshWindow).
func (s *Service) AddItem(id string, attrs []string, added time.Time) error {
	if id == "" {
		return fmt.Errorf("%w: empty item id", ErrBadRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.itemLocked(id, added, nil)
	it := &s.mu.items[i]
	it.added = added.Unix()
	if len(it.attrs) == 0 && len(attrs) > 0 {
		it.attrs = append([]string(nil), attrs...)
		sort.Strings(it.attrs)
		s.indexAttrsLocked(i)
	}
	return nil
}

// Observe applies one event from the log: behaviour events update the
// candidate generators; impression and feedback events of this Service's
// requests update the scorer, item click rates and the position-bias
// estimate. Other events are ignored. It returns an error only for a
// behaviour event without an item id.
func (s *Service) Observe(ev *event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.cfg.Now().Unix())
	switch ev.Type {
	case event.TypeView, event.TypeClick, event.TypeAddToCart, event.TypePurchase:
		if ev.ItemID == "" {
			return fmt.Errorf("%w: %s event %q without item_id", ErrBadRequest, ev.Type, ev.ID)
		}
		s.observeBehaviourLocked(ev)
	case event.TypeImpression:
		p := s.mu.pending[ev.RequestID]
		if p == nil || p.logged {
			return nil
		}
		p.logged = true
		for _, i := range p.items {
			s.mu.items[i].shown++
		}
	case event.TypeFeedback:
		p := s.mu.pending[ev.RequestID]
		if p == nil || ev.Reward <= 0 {
			return nil
		}
		for k, i := range p.items {
			if s.mu.items[i].id == ev.ItemID && !p.positive[k] {
				p.positive[k] = true
				s.mu.items[i].clicks++
				if l, ok := s.scorer.(FeedbackLearner); ok {
					l.Learn(p.feats[k*NumFeatures:(k+1)*NumFeatures], k+1, ev.Reward)
				}
			}
		}
	}
	return nil
}

// expireLocked closes requests older than FeedbackWindow.
func (s *Service) expireLocked(now int64) {
	win := int64(s.cfg.FeedbackWindow / time.Second)
	for len(s.mu.queue) > 0 && (now-s.mu.queue[0].created > win || len(s.mu.queue) > s.cfg.MaxPending) {
		s.closeLocked(s.mu.queue[0])
		s.mu.queue[0] = nil
		s.mu.queue = s.mu.queue[1:]
	}
	if cap(s.mu.queue) > 1024 && len(s.mu.queue) < cap(s.mu.queue)/4 {
		s.mu.queue = append([]*pending(nil), s.mu.queue...)
	}
}

func (s *Service) closeLocked(p *pending) {
	delete(s.mu.pending, p.id)
	if p.logged {
		l, _ := s.scorer.(FeedbackLearner)
		for k := range p.items {
			if !p.positive[k] && l != nil {
				l.Learn(p.feats[k*NumFeatures:(k+1)*NumFeatures], k+1, 0)
			}
			if p.random {
				s.mu.posShown[k]++
				if p.positive[k] {
					s.mu.posClick[k]++
				}
			}
		}
	}
	s.mu.free = append(s.mu.free, p)
}

// PositionBias returns the estimated examination probability of slots
// 1…n relative to slot 1, from closed random slates (with a Beta(1, 20)
// prior on each slot's click rate, so it starts at 1).
func (s *Service) PositionBias(n int) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, s.cfg.MaxSlots)
	out := make([]float64, n)
	ctr := func(k int) float64 { return (s.mu.posClick[k] + 1) / (s.mu.posShown[k] + 20) }
	for k := range out {
		out[k] = ctr(k) / ctr(0)
	}
	return out
}

// Recommend picks a slate for req.
func (s *Service) Recommend(req *Request) (*Response, error) {
	if req.UserID == "" {
		return nil, fmt.Errorf("%w: user_id is required", ErrBadRequest)
	}
	if req.Slots < 1 || req.Slots > s.cfg.MaxSlots {
		return nil, fmt.Errorf("%w: slots = %d, want 1…%d", ErrBadRequest, req.Slots, s.cfg.MaxSlots)
	}
	nowT := s.cfg.Now()
	now := nowT.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	n := s.candidatesLocked(req, now)
	sc := &s.mu.sc
	if n == 0 {
		return nil, fmt.Errorf("%w for user %q (the catalogue is empty or everything is excluded)", ErrNoCandidates, req.UserID)
	}
	k := min(req.Slots, n)
	sc.scores = grow(sc.scores, n)
	s.scorer.Score(req, sc.cands[:n], sc.scores[:n])
	greedy := s.greedyLocked(n, k)
	eps := max(s.cfg.Epsilon, 0)
	random := eps > 0 && s.mu.rng.Float64() < eps
	sc.chosen = sc.chosen[:0]
	if random {
		// A uniformly random ordered choice of k of the n candidates
		// (partial Fisher-Yates over order).
		sc.order = sc.order[:0]
		for i := 0; i < n; i++ {
			sc.order = append(sc.order, i)
		}
		for p := 0; p < k; p++ {
			j := p + s.mu.rng.IntN(n-p)
			sc.order[p], sc.order[j] = sc.order[j], sc.order[p]
			sc.chosen = append(sc.chosen, sc.order[p])
		}
	} else {
		sc.chosen = append(sc.chosen, greedy...)
	}
	p := s.newPendingLocked(req.UserID, now, k)
	p.random = random
	resp := &Response{RequestID: p.id, Items: make([]string, k), Positions: make([]int, k), Propensities: make([]float64, k)}
	u := eps / float64(n)
	for slot, c := range sc.chosen {
		prop := u
		if greedy[slot] == c {
			prop += 1 - eps
		}
		i := sc.idx[c]
		p.items = append(p.items, i)
		p.feats = append(p.feats, sc.cands[c].Features...)
		p.props = append(p.props, prop)
		resp.Items[slot] = s.mu.items[i].id
		resp.Positions[slot] = slot + 1
		resp.Propensities[slot] = prop
	}
	resp.Impression = event.Event{ID: p.id, Type: event.TypeImpression, Timestamp: nowT.UTC(),
		UserID: req.UserID, SessionID: req.SessionID, RequestID: p.id,
		Items: resp.Items, Positions: resp.Positions, Propensities: resp.Propensities}
	return resp, nil
}

// Feedback validates fb against the open request and returns the feedback
// event to append to the log. Errors: ErrUnknownRequest (never issued,
// expired or pushed out), ErrItemNotShown, ErrDuplicateFeedback (a second
// feedback for the same item of a request), ErrRewardRange (not finite or
// outside [0, MaxReward]).
func (s *Service) Feedback(fb *Feedback) (event.Event, error) {
	if fb.RequestID == "" || fb.ItemID == "" {
		return event.Event{}, fmt.Errorf("%w: request_id and item_id are required", ErrBadRequest)
	}
	if math.IsNaN(fb.Reward) || fb.Reward < 0 || fb.Reward > s.cfg.MaxReward {
		return event.Event{}, fmt.Errorf("%w: reward %v not in [0, %v]", ErrRewardRange, fb.Reward, s.cfg.MaxReward)
	}
	nowT := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(nowT.Unix())
	p := s.mu.pending[fb.RequestID]
	if p == nil {
		return event.Event{}, fmt.Errorf("%w: %q", ErrUnknownRequest, fb.RequestID)
	}
	for k, i := range p.items {
		if s.mu.items[i].id != fb.ItemID {
			continue
		}
		if p.fed[k] {
			return event.Event{}, fmt.Errorf("%w: request %q, item %q", ErrDuplicateFeedback, fb.RequestID, fb.ItemID)
		}
		p.fed[k] = true
		return event.Event{ID: p.id + ":" + fb.ItemID, Type: event.TypeFeedback, Timestamp: nowT.UTC(),
			UserID: p.user, ItemID: fb.ItemID, RequestID: p.id, Position: k + 1,
			Propensity: p.props[k], HasPropensity: true, Reward: fb.Reward}, nil
	}
	return event.Event{}, fmt.Errorf("%w: request %q did not show item %q", ErrItemNotShown, fb.RequestID, fb.ItemID)
}

func (s *Service) newPendingLocked(userID string, now int64, k int) *pending {
	var p *pending
	if n := len(s.mu.free); n > 0 {
		p = s.mu.free[n-1]
		s.mu.free = s.mu.free[:n-1]
	} else {
		p = &pending{}
	}
	s.mu.seq++
	*p = pending{id: fmt.Sprintf("%s-%d", s.prefix, s.mu.seq), user: userID, created: now,
		items: p.items[:0], feats: p.feats[:0], props: p.props[:0],
		fed: resetBools(p.fed, k), positive: resetBools(p.positive, k)}
	s.mu.pending[p.id] = p
	s.mu.queue = append(s.mu.queue, p)
	return p
}

func resetBools(b []bool, k int) []bool {
	if cap(b) < k {
		return make([]bool, k)
	}
	b = b[:k]
	clear(b)
	return b
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n, 2*n)
	}
	return b[:n]
}

// greedyLocked returns the greedy slate (candidate indices) of k slots:
// the best by score, with ceil(FreshQuota·k) slots for the best fresh
// candidates (when there are any), ordered by score.
func (s *Service) greedyLocked(n, k int) []int {
	sc := &s.mu.sc
	sc.order = sc.order[:0]
	for i := 0; i < n; i++ {
		sc.order = append(sc.order, i)
	}
	sort.Slice(sc.order, func(a, b int) bool {
		x, y := sc.order[a], sc.order[b]
		if sc.scores[x] != sc.scores[y] {
			return sc.scores[x] > sc.scores[y]
		}
		return x < y
	})
	quota := 0
	if s.cfg.FreshQuota > 0 {
		quota = int(math.Ceil(s.cfg.FreshQuota * float64(k)))
	}
	out := make([]int, 0, k)
	fresh := 0
	for _, c := range sc.order[:k] {
		if sc.cands[c].Features[fFresh] > 0 {
			fresh++
		}
	}
	need := max(quota-fresh, 0)
	// Take the top k−need non-reserved, then the best fresh ones not taken.
	taken := 0
	for _, c := range sc.order {
		if taken == k-need {
			break
		}
		out = append(out, c)
		taken++
	}
	for _, c := range sc.order[taken:] {
		if need == 0 {
			break
		}
		if sc.cands[c].Features[fFresh] > 0 {
			out = append(out, c)
			need--
		}
	}
	for _, c := range sc.order[taken:] { // not enough fresh items: fill by score
		if len(out) == k {
			break
		}
		if !contains(out, c) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if sc.scores[x] != sc.scores[y] {
			return sc.scores[x] > sc.scores[y]
		}
		return x < y
	})
	return out
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
