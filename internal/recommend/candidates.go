package recommend

import "math"

// candidatesLocked fills s.mu.sc.idx and .cands with the candidates for
// req and returns how many there are (at most Candidates).
func (s *Service) candidatesLocked(req *Request, now int64) int {
	sc := &s.mu.sc
	nItems := len(s.mu.items)
	if len(sc.stamp) < nItems {
		sc.stamp = append(sc.stamp, make([]uint32, nItems-len(sc.stamp))...)
		sc.slot = append(sc.slot, make([]int32, nItems-len(sc.slot))...)
	}
	sc.gen++
	if sc.gen == 0 { // wrapped: reset stamps
		clear(sc.stamp)
		sc.gen = 1
	}
	sc.idx = sc.idx[:0]
	sc.feats = grow(sc.feats, s.cfg.Candidates*NumFeatures)
	u := s.mu.users[req.UserID]

	// Exclusions are marked with the stamp and slot −1.
	sc.exclude = sc.exclude[:0]
	exclude := func(i int32) {
		sc.stamp[i] = sc.gen
		sc.slot[i] = -1
	}
	if u != nil && !s.cfg.KeepPurchased {
		for i := range u.purchased {
			exclude(i)
		}
	}
	for _, id := range req.Exclude {
		if i, ok := s.mu.index[id]; ok {
			exclude(i)
		}
	}
	// add returns the candidate's feature row, adding it if there is room.
	add := func(i int32) []float32 {
		if sc.stamp[i] == sc.gen {
			if sc.slot[i] < 0 {
				return nil
			}
			k := int(sc.slot[i])
			return sc.feats[k*NumFeatures : (k+1)*NumFeatures]
		}
		if len(sc.idx) >= s.cfg.Candidates {
			return nil
		}
		k := len(sc.idx)
		sc.stamp[i], sc.slot[i] = sc.gen, int32(k)
		sc.idx = append(sc.idx, i)
		f := sc.feats[k*NumFeatures : (k+1)*NumFeatures]
		clear(f)
		return f
	}

	// 1. Co-visited neighbours of recent items, weighted by recency rank.
	if u != nil {
		for r := len(u.recent) - 1; r >= 0; r-- {
			h := u.recent[r]
			recency := 1 / float64(len(u.recent)-r)
			for _, nb := range s.mu.items[h.item].nbrs {
				if f := add(nb.item); f != nil {
					f[fCovis] += float32(recency * math.Exp(nb.ls-s.covisRate*float64(now)))
				}
			}
		}
	}
	// 2. Content similarity: cold items sharing attributes with the most
	// recent items.
	if u != nil {
		for r := len(u.recent) - 1; r >= 0 && r >= len(u.recent)-5; r-- {
			it := &s.mu.items[u.recent[r].item]
			if len(it.attrs) == 0 {
				continue
			}
			share := 1 / float32(len(it.attrs))
			for _, a := range it.attrs {
				list := s.mu.byAttr[a]
				// The newest 200 items per attribute.
				for j := len(list) - 1; j >= 0 && j >= len(list)-200; j-- {
					c := list[j]
					if c == u.recent[r].item || s.mu.items[c].events >= s.cfg.ColdEvents {
						continue
					}
					if f := add(c); f != nil {
						f[fContent] = min(1, f[fContent]+share)
					}
				}
			}
		}
	}
	// 3. Fresh items, newest first.
	fresh := int64(s.cfg.FreshWindow.Seconds())
	// At most 2·Candidates entries are scanned: the list is in arrival
	// order, so fresh items sit at its end.
	for j := len(s.mu.fresh) - 1; j >= 0 && j >= len(s.mu.fresh)-2*s.cfg.Candidates; j-- {
		i := s.mu.fresh[j]
		if now-s.mu.items[i].added > fresh {
			continue
		}
		if len(sc.idx) >= s.cfg.Candidates {
			break
		}
		add(i)
	}
	// 4. Trending.
	for _, i := range s.mu.trending {
		add(i)
	}
	// Keep the fresh list short: drop a prefix of items no longer fresh.
	if n := len(s.mu.fresh); n > 1024 {
		k := 0
		for k < n && now-s.mu.items[s.mu.fresh[k]].added > fresh {
			k++
		}
		if k > n/2 {
			s.mu.fresh = append(s.mu.fresh[:0], s.mu.fresh[k:]...)
		}
	}
	// 5. Features every candidate gets.
	sc.cands = grow(sc.cands, len(sc.idx))
	for k, i := range sc.idx {
		it := &s.mu.items[i]
		f := sc.feats[k*NumFeatures : (k+1)*NumFeatures]
		f[fBias] = 1
		f[fCovis] = float32(math.Log1p(float64(f[fCovis])))
		if !math.IsInf(it.trend, -1) {
			f[fTrend] = float32(math.Log1p(math.Exp(it.trend - s.trendRate*float64(now))))
		}
		if now-it.added <= fresh {
			f[fFresh] = 1
		}
		f[fCTR] = float32(10 * (it.clicks + 0.1) / (it.shown + 10))
		f[fPopularity] = float32(math.Log1p(float64(it.events)) / 5)
		if it.events < s.cfg.ColdEvents {
			f[fCold] = 1
		}
		sc.cands[k] = Candidate{Item: it.id, Features: f}
	}
	return len(sc.idx)
}
