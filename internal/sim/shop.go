package sim

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// Config configures a Shop. The zero value means the defaults.
type Config struct {
	Seed    uint64
	Users   int       // default 2,000
	Items   int       // default 400
	Start   time.Time // default 2026-01-01T00:00:00Z
	Visits  int       // number of visits to generate (default 20,000)
	ShiftAt float64   // fraction of visits after which behaviour shifts (default 0.5; ≥ 1 = never)
	// MeanGap is the mean time between visit starts (default 20s).
	MeanGap time.Duration
}

func (c Config) withDefaults() Config {
	if c.Users <= 0 {
		c.Users = 2000
	}
	if c.Items <= 0 {
		c.Items = 400
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.Visits <= 0 {
		c.Visits = 20_000
	}
	if c.ShiftAt == 0 {
		c.ShiftAt = 0.5
	}
	if c.MeanGap <= 0 {
		c.MeanGap = 20 * time.Second
	}
	return c
}

type item struct {
	id      string
	price   float64
	quality float64 // latent appeal, N(0,1)
	pop     float64 // cumulative popularity weight for sampling
}

// Shop is a deterministic event generator. It is not safe for concurrent use.
type Shop struct {
	cfg    Config
	rng    *rand.Rand
	items  []item
	visits int       // visits started
	clock  time.Time // start time of the next visit
	queue  evHeap    // events generated but not yet emitted, by time
	seq    uint64
	nextID uint64
}

// New returns a Shop.
func New(cfg Config) *Shop {
	cfg = cfg.withDefaults()
	s := &Shop{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), clock: cfg.Start}
	total := 0.0
	for i := 0; i < cfg.Items; i++ {
		w := 1 / math.Pow(float64(i+1), 0.8) // Zipf-like popularity
		total += w
		s.items = append(s.items, item{
			id:      fmt.Sprintf("i%d", i),
			price:   math.Round(math.Exp(3+0.9*s.rng.NormFloat64())*100) / 100,
			quality: s.rng.NormFloat64(),
			pop:     total,
		})
	}
	return s
}

// ShiftVisit returns the index of the first visit of the second regime.
func (s *Shop) ShiftVisit() int { return int(s.cfg.ShiftAt * float64(s.cfg.Visits)) }

// Shifted reports whether the visits generated so far have reached the shift.
func (s *Shop) Shifted() bool { return s.visits > s.ShiftVisit() }

// Done reports whether every event has been emitted.
func (s *Shop) Done() bool { return s.visits >= s.cfg.Visits && s.queue.Len() == 0 }

// Next appends up to n events in timestamp order to dst and returns it.
// It returns fewer only when the simulation is done.
func (s *Shop) Next(dst []event.Event, n int) []event.Event {
	for k := 0; k < n; k++ {
		// Generate visits until the earliest queued event cannot be
		// preceded by a visit yet to start.
		for s.visits < s.cfg.Visits && (s.queue.Len() == 0 || !s.queue[0].e.Timestamp.Before(s.clock)) {
			s.visit()
		}
		if s.queue.Len() == 0 {
			return dst
		}
		q := heap.Pop(&s.queue).(queued)
		dst = append(dst, q.e)
	}
	return dst
}

func (s *Shop) pickItem() *item {
	u := s.rng.Float64() * s.items[len(s.items)-1].pop
	lo, hi := 0, len(s.items)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if s.items[mid].pop < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return &s.items[lo]
}

func (s *Shop) visit() {
	shifted := s.visits >= s.ShiftVisit()
	s.visits++
	t := s.clock
	s.clock = s.clock.Add(time.Duration(s.rng.ExpFloat64() * float64(s.cfg.MeanGap)))
	user := fmt.Sprintf("u%d", s.rng.IntN(s.cfg.Users))
	session := fmt.Sprintf("s%d", s.visits)
	nviews := 1 + s.rng.IntN(6)
	var viewed []*item
	for v := 0; v < nviews; v++ {
		t = t.Add(time.Duration(5+s.rng.IntN(55)) * time.Second)
		it := s.pickItem()
		if len(viewed) > 0 && s.rng.Float64() < 0.3 { // look again at something already seen
			it = viewed[s.rng.IntN(len(viewed))]
		}
		viewed = append(viewed, it)
		s.emit(event.Event{Type: event.TypeView, Timestamp: t, UserID: user, ItemID: it.id, SessionID: session, Price: it.price, HasPrice: true})
		if s.rng.Float64() < 0.3 {
			t = t.Add(time.Duration(1+s.rng.IntN(10)) * time.Second)
			s.emit(event.Event{Type: event.TypeClick, Timestamp: t, UserID: user, ItemID: it.id, SessionID: session})
		}
		repeats := 0
		for _, w := range viewed[:len(viewed)-1] {
			if w == it {
				repeats++
			}
		}
		if s.rng.Float64() < sigmoid(s.cartLogit(it, repeats, shifted)) {
			t = t.Add(time.Duration(5+s.rng.IntN(30)) * time.Second)
			s.emit(event.Event{Type: event.TypeAddToCart, Timestamp: t, UserID: user, ItemID: it.id, SessionID: session, Price: it.price, HasPrice: true})
			if s.rng.Float64() < sigmoid(s.buyLogit(it, shifted)) {
				bt := t.Add(time.Duration(30+s.rng.IntN(600)) * time.Second)
				s.emit(event.Event{Type: event.TypePurchase, Timestamp: bt, UserID: user, ItemID: it.id, SessionID: session, Price: it.price, HasPrice: true})
			}
		}
	}
}

// cartLogit: before the shift, cheap good items and repeated looks lead
// to the cart; after it, expensive items do and repeated looks mean doubt.
func (s *Shop) cartLogit(it *item, repeats int, shifted bool) float64 {
	lp := math.Log(it.price) - 3
	if !shifted {
		return -1.2 + 0.6*it.quality - 1.2*lp + 1.0*float64(repeats)
	}
	return -1.2 + 0.6*it.quality + 1.2*lp - 1.0*float64(repeats)
}

func (s *Shop) buyLogit(it *item, shifted bool) float64 {
	lp := math.Log(it.price) - 3
	if !shifted {
		return 0.8 - 0.8*lp
	}
	return 0.8 + 0.8*lp
}

func (s *Shop) emit(e event.Event) {
	s.nextID++
	e.ID = fmt.Sprintf("e%d", s.nextID)
	s.seq++
	heap.Push(&s.queue, queued{e: e, seq: s.seq})
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

type queued struct {
	e   event.Event
	seq uint64
}

type evHeap []queued

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(a, b int) bool {
	if !h[a].e.Timestamp.Equal(h[b].e.Timestamp) {
		return h[a].e.Timestamp.Before(h[b].e.Timestamp)
	}
	return h[a].seq < h[b].seq
}
func (h evHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
