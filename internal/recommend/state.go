package recommend

import (
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// Event weights for co-visitation and trending.
var typeWeight = [...]float64{event.TypeView: 1, event.TypeClick: 2, event.TypeAddToCart: 4, event.TypePurchase: 8}

// item is one catalogue entry. Scores that decay exponentially are kept as
// log-sums against a fixed epoch (log Σ w·e^{λt}), so every item's score
// decays at the same rate and comparisons need no rescaling; the value at
// time now is exp(ls − λ·now).
type item struct {
	id      string
	attrs   []string
	added   int64   // unix seconds
	events  int     // behaviour events seen
	trend   float64 // log-sum trending score (−Inf: none)
	shown   float64 // impressions
	clicks  float64 // feedback with reward > 0
	nbrs    []nbr   // co-visited items, at most MaxNeighbors
	freshAt int     // index in the fresh list, for dedupe
}

type nbr struct {
	item int32
	ls   float64 // log-sum co-visitation weight
}

type visit struct {
	item int32
	t    int64
}

type user struct {
	recent    []visit // ring of the last HistoryLen items, oldest first
	purchased map[int32]struct{}
}

// logAdd returns log(e^a + e^b).
func logAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// itemLocked returns the index of id, adding it (with time t) if new.
func (s *Service) itemLocked(id string, t time.Time, attrs json.RawMessage) int32 {
	if i, ok := s.mu.index[id]; ok {
		return i
	}
	i := int32(len(s.mu.items))
	it := item{id: id, added: t.Unix(), trend: math.Inf(-1), attrs: parseAttrs(attrs)}
	s.mu.items = append(s.mu.items, it)
	s.mu.index[id] = i
	s.indexAttrsLocked(i)
	s.mu.fresh = append(s.mu.fresh, i)
	return i
}

func (s *Service) indexAttrsLocked(i int32) {
	for _, a := range s.mu.items[i].attrs {
		s.mu.byAttr[a] = append(s.mu.byAttr[a], i)
	}
}

// parseAttrs turns an event's attrs object into "key=value" strings
// (string and number values; arrays of strings give one each).
func parseAttrs(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out = append(out, k+"="+v)
		case float64:
			out = append(out, k+"="+jsonNumber(v))
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					out = append(out, k+"="+s)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func jsonNumber(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// observeBehaviourLocked updates trending, co-visitation, the user's
// history and purchases from one view/click/add_to_cart/purchase.
func (s *Service) observeBehaviourLocked(ev *event.Event) {
	i := s.itemLocked(ev.ItemID, ev.Timestamp, ev.Attrs)
	t := ev.Timestamp.Unix()
	w := math.Log(typeWeight[ev.Type])
	it := &s.mu.items[i]
	it.events++
	it.trend = logAdd(it.trend, w+s.trendRate*float64(t))
	s.bumpTrendingLocked(i)
	if ev.UserID == "" {
		return
	}
	u := s.mu.users[ev.UserID]
	if u == nil {
		u = &user{}
		s.mu.users[ev.UserID] = u
	}
	window := int64(s.cfg.CovisWindow / time.Second)
	for _, v := range u.recent {
		if v.item == i || t-v.t > window || v.t-t > window {
			continue
		}
		ls := w + s.covisRate*float64(t)
		s.addNeighborLocked(v.item, i, ls)
		s.addNeighborLocked(i, v.item, ls)
	}
	// Move i to the end of the history ring.
	for k, v := range u.recent {
		if v.item == i {
			copy(u.recent[k:], u.recent[k+1:])
			u.recent = u.recent[:len(u.recent)-1]
			break
		}
	}
	if len(u.recent) >= s.cfg.HistoryLen {
		copy(u.recent, u.recent[1:])
		u.recent = u.recent[:len(u.recent)-1]
	}
	u.recent = append(u.recent, visit{item: i, t: t})
	if ev.Type == event.TypePurchase {
		if u.purchased == nil {
			u.purchased = map[int32]struct{}{}
		}
		u.purchased[i] = struct{}{}
	}
}

func (s *Service) addNeighborLocked(from, to int32, ls float64) {
	it := &s.mu.items[from]
	minK := -1
	for k := range it.nbrs {
		if it.nbrs[k].item == to {
			it.nbrs[k].ls = logAdd(it.nbrs[k].ls, ls)
			return
		}
		if minK < 0 || it.nbrs[k].ls < it.nbrs[minK].ls {
			minK = k
		}
	}
	if len(it.nbrs) < s.cfg.MaxNeighbors {
		it.nbrs = append(it.nbrs, nbr{item: to, ls: ls})
		return
	}
	if it.nbrs[minK].ls < ls {
		it.nbrs[minK] = nbr{item: to, ls: ls}
	}
}

// bumpTrendingLocked keeps s.mu.trending the Trending items of largest
// score. Scores only grow, so an item enters by replacing the smallest.
func (s *Service) bumpTrendingLocked(i int32) {
	tr := s.mu.trending
	for _, j := range tr {
		if j == i {
			return
		}
	}
	if len(tr) < s.cfg.Trending {
		s.mu.trending = append(tr, i)
		return
	}
	minK := 0
	for k, j := range tr {
		if s.mu.items[j].trend < s.mu.items[tr[minK]].trend {
			minK = k
		}
	}
	if s.mu.items[tr[minK]].trend < s.mu.items[i].trend {
		tr[minK] = i
	}
}
