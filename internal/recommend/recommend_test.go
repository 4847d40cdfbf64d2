package recommend

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t testing.TB, cfg Config) (*Service, *clock) {
	t.Helper()
	c := &clock{t: t0}
	cfg.Now = c.now
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func observe(t testing.TB, s *Service, typ event.Type, user, item string, at time.Time) {
	t.Helper()
	ev := event.Event{ID: fmt.Sprint(user, item, at.UnixNano(), typ), Type: typ, Timestamp: at, UserID: user, ItemID: item}
	if err := s.Observe(&ev); err != nil {
		t.Fatal(err)
	}
}

func TestCovisitationAndExclusion(t *testing.T) {
	// No exploration and no freshness, so the slate is the greedy ranking.
	s, _ := newService(t, Config{Epsilon: -1, FreshQuota: -1, FreshWindow: time.Second})
	old := t0.Add(-30 * 24 * time.Hour)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		s.AddItem(id, nil, old)
	}
	// Many users view a then b; some view a then c.
	for u := 0; u < 20; u++ {
		observe(t, s, event.TypeView, fmt.Sprint("u", u), "a", t0.Add(-time.Hour))
		observe(t, s, event.TypeView, fmt.Sprint("u", u), "b", t0.Add(-time.Hour+time.Minute))
		if u%4 == 0 {
			observe(t, s, event.TypeView, fmt.Sprint("u", u), "c", t0.Add(-time.Hour+2*time.Minute))
		}
	}
	// e is trending among other users.
	for u := 0; u < 5; u++ {
		observe(t, s, event.TypeView, fmt.Sprint("v", u), "e", t0.Add(-time.Minute))
	}
	observe(t, s, event.TypeView, "me", "a", t0.Add(-time.Minute))
	resp, err := s.Recommend(&Request{UserID: "me", Slots: 2})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Items[0] != "b" || resp.Items[1] != "c" {
		t.Errorf("Recommend(me) = %v; want [b c] (co-visited with a)", resp.Items)
	}
	if resp.Propensities[0] != 1 || resp.Positions[1] != 2 {
		t.Errorf("Recommend(me) propensities %v positions %v; want 1 (no exploration) and 1-based slots", resp.Propensities, resp.Positions)
	}
	if err := resp.Impression.Validate(); err != nil {
		t.Errorf("impression event invalid: %v", err)
	}
	// After buying b, b is excluded.
	observe(t, s, event.TypePurchase, "me", "b", t0.Add(-time.Second))
	resp, _ = s.Recommend(&Request{UserID: "me", Slots: 4})
	if slices.Contains(resp.Items, "b") {
		t.Errorf("Recommend(me) after buying b = %v; want b excluded", resp.Items)
	}
	if _, err := s.Recommend(&Request{UserID: "me", Slots: 4, Exclude: []string{"c"}}); err != nil {
		t.Fatal(err)
	}
	// KeepPurchased lets b back in.
	s2, _ := newService(t, Config{Epsilon: -1, FreshQuota: -1, KeepPurchased: true})
	observe(t, s2, event.TypeView, "x", "a", t0.Add(-time.Hour))
	observe(t, s2, event.TypePurchase, "x", "b", t0.Add(-time.Hour))
	resp, _ = s2.Recommend(&Request{UserID: "x", Slots: 2})
	if !slices.Contains(resp.Items, "b") {
		t.Errorf("Recommend with KeepPurchased = %v; want b included", resp.Items)
	}
}

func TestFreshQuotaAndColdContent(t *testing.T) {
	s, _ := newService(t, Config{Epsilon: -1, FreshQuota: 0.25})
	old := t0.Add(-30 * 24 * time.Hour)
	for i := 0; i < 20; i++ {
		s.AddItem(fmt.Sprint("old", i), []string{"category=shoes"}, old)
		for u := 0; u < 10+i; u++ {
			observe(t, s, event.TypeView, fmt.Sprint("u", u), fmt.Sprint("old", i), t0.Add(-time.Hour))
		}
	}
	s.AddItem("new-shirt", []string{"category=shirts"}, t0.Add(-time.Hour))
	resp, err := s.Recommend(&Request{UserID: "nobody", Slots: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(resp.Items, "new-shirt") {
		t.Errorf("Recommend with a fresh quota = %v; want new-shirt in the slate", resp.Items)
	}
	// A cold item (old, never seen) sharing an attribute with the user's
	// recent item is a content candidate.
	s2, _ := newService(t, Config{Epsilon: -1, FreshQuota: -1})
	s2.AddItem("boot", []string{"brand=acme", "category=shoes"}, old)
	s2.AddItem("sandal", []string{"brand=acme", "category=shoes"}, old)
	s2.AddItem("hat", []string{"brand=zed", "category=hats"}, old)
	observe(t, s2, event.TypeView, "me", "boot", t0.Add(-time.Minute))
	resp, _ = s2.Recommend(&Request{UserID: "me", Slots: 1})
	if resp.Items[0] != "sandal" {
		t.Errorf("Recommend(cold content) = %v; want [sandal]", resp.Items)
	}
}

func TestFeedbackErrors(t *testing.T) {
	s, c := newService(t, Config{MaxReward: 10})
	for i := 0; i < 10; i++ {
		observe(t, s, event.TypeView, "u", fmt.Sprint("i", i), t0)
	}
	resp, err := s.Recommend(&Request{UserID: "u", Slots: 3})
	if err != nil {
		t.Fatal(err)
	}
	item := resp.Items[1]
	ev, err := s.Feedback(&Feedback{RequestID: resp.RequestID, ItemID: item, Reward: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != event.TypeFeedback || ev.Position != 2 || ev.Propensity != resp.Propensities[1] || ev.RequestID != resp.RequestID {
		t.Errorf("Feedback event = %+v; want position 2 and the slate's propensity", ev)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("feedback event invalid: %v", err)
	}
	for _, tc := range []struct {
		name string
		fb   Feedback
		want error
	}{
		{"twice", Feedback{RequestID: resp.RequestID, ItemID: item, Reward: 1}, ErrDuplicateFeedback},
		{"unknown request", Feedback{RequestID: "nope", ItemID: item, Reward: 1}, ErrUnknownRequest},
		{"negative reward", Feedback{RequestID: resp.RequestID, ItemID: resp.Items[0], Reward: -1}, ErrRewardRange},
		{"reward too large", Feedback{RequestID: resp.RequestID, ItemID: resp.Items[0], Reward: 11}, ErrRewardRange},
		{"NaN reward", Feedback{RequestID: resp.RequestID, ItemID: resp.Items[0], Reward: math.NaN()}, ErrRewardRange},
		{"item not shown", Feedback{RequestID: resp.RequestID, ItemID: "zzz", Reward: 1}, ErrItemNotShown},
		{"missing item", Feedback{RequestID: resp.RequestID}, ErrBadRequest},
	} {
		if _, err := s.Feedback(&tc.fb); !errors.Is(err, tc.want) {
			t.Errorf("Feedback(%s) = %v; want %v", tc.name, err, tc.want)
		}
	}
	// Expired requests are unknown.
	c.t = c.t.Add(time.Hour)
	if _, err := s.Feedback(&Feedback{RequestID: resp.RequestID, ItemID: resp.Items[0], Reward: 1}); !errors.Is(err, ErrUnknownRequest) {
		t.Errorf("Feedback after the window = %v; want ErrUnknownRequest", err)
	}
	for _, req := range []Request{{Slots: 1}, {UserID: "u", Slots: 0}, {UserID: "u", Slots: 1000}} {
		if _, err := s.Recommend(&req); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Recommend(%+v) = %v; want ErrBadRequest", req, err)
		}
	}
	empty, _ := newService(t, Config{})
	if _, err := empty.Recommend(&Request{UserID: "u", Slots: 1}); !errors.Is(err, ErrNoCandidates) {
		t.Errorf("Recommend on an empty catalogue = %v; want ErrNoCandidates", err)
	}
}

// TestPropensities checks the reported propensities against the observed
// frequencies of each item at each slot.
func TestPropensities(t *testing.T) {
	s, _ := newService(t, Config{Epsilon: 0.3, FreshQuota: -1, Seed: 3})
	for i := 0; i < 8; i++ {
		for u := 0; u <= i; u++ {
			observe(t, s, event.TypeView, fmt.Sprint("u", u), fmt.Sprint("i", i), t0)
		}
	}
	const n = 20000
	freq := map[string]float64{}
	prop := map[string]float64{}
	for r := 0; r < n; r++ {
		resp, err := s.Recommend(&Request{UserID: "new", Slots: 2})
		if err != nil {
			t.Fatal(err)
		}
		for k, it := range resp.Items {
			key := fmt.Sprint(k, it)
			freq[key]++
			prop[key] = resp.Propensities[k]
		}
	}
	for key, f := range freq {
		if got := f / n; math.Abs(got-prop[key]) > 0.015 {
			t.Errorf("slot/item %s: frequency %.4f; reported propensity %.4f", key, got, prop[key])
		}
	}
}

// simulate plays users with hidden item preferences and a position bias
// against the service, feeding impressions and feedback back through
// Observe, and returns the click rate of the last half.
func simulate(t testing.TB, s *Service, c *clock, rounds int, examine []float64) float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	pref := func(item string) float64 {
		var k int
		fmt.Sscanf(item, "i%d", &k)
		return 0.02 + 0.5*float64(k%10)/10 // items i9, i19… are best
	}
	var clicks, shown float64
	for r := 0; r < rounds; r++ {
		c.t = c.t.Add(time.Second)
		resp, err := s.Recommend(&Request{UserID: fmt.Sprint("u", rng.IntN(100)), Slots: len(examine)})
		if err != nil {
			t.Fatal(err)
		}
		s.Observe(&resp.Impression)
		for k, it := range resp.Items {
			clicked := rng.Float64() < examine[k]*pref(it)
			if r >= rounds/2 {
				shown++
				if clicked {
					clicks++
				}
			}
			if clicked {
				ev, err := s.Feedback(&Feedback{RequestID: resp.RequestID, ItemID: it, Reward: 1})
				if err != nil {
					t.Fatal(err)
				}
				s.Observe(&ev)
			}
		}
	}
	return clicks / shown
}

func catalogue(t testing.TB, s *Service, n int) {
	old := t0.Add(-30 * 24 * time.Hour)
	for i := 0; i < n; i++ {
		s.AddItem(fmt.Sprint("i", i), []string{fmt.Sprint("cat=", i%7)}, old)
		observe(t, s, event.TypeView, "seed", fmt.Sprint("i", i), t0.Add(-time.Hour))
	}
}

func TestLearnsFromFeedback(t *testing.T) {
	examine := []float64{1, 0.6, 0.4}
	// A scorer that learns must beat a frozen one that cannot tell items
	// apart (all items look alike to the prior).
	s, c := newService(t, Config{Epsilon: 0.2, FreshQuota: -1, FeedbackWindow: time.Minute, Seed: 1})
	catalogue(t, s, 60)
	learned := simulate(t, s, c, 8000, examine)
	f, fc := newService(t, Config{Epsilon: 0.2, FreshQuota: -1, FeedbackWindow: time.Minute, Seed: 1})
	f.scorer = frozen{}
	catalogue(t, f, 60)
	base := simulate(t, f, fc, 8000, examine)
	t.Logf("click rate: learned %.4f, frozen %.4f", learned, base)
	if learned < 1.2*base {
		t.Errorf("click rate with learning = %.4f; want ≥ 1.2 × frozen %.4f", learned, base)
	}
	pb := s.PositionBias(3)
	t.Logf("position bias estimate %v (truth %v)", pb, examine)
	if !(pb[1] < 0.9 && pb[2] < pb[1]+0.1) {
		t.Errorf("PositionBias = %v; want decreasing like %v", pb, examine)
	}
}

type frozen struct{}

func (frozen) Score(_ *Request, c []Candidate, dst []float64) {
	for i := range dst {
		dst[i] = float64(c[i].Features[fTrend])
	}
}

func bigService(t testing.TB, items int) *Service {
	s, _ := newService(t, Config{Candidates: 500, MaxNeighbors: 50})
	rng := rand.New(rand.NewPCG(5, 6))
	old := t0.Add(-30 * 24 * time.Hour)
	for i := 0; i < items; i++ {
		s.AddItem(fmt.Sprint("i", i), []string{fmt.Sprint("cat=", i%50), fmt.Sprint("brand=", i%37)}, old)
	}
	for e := 0; e < 50*items; e++ {
		u := fmt.Sprint("u", rng.IntN(2000))
		observe(t, s, event.TypeView, u, fmt.Sprint("i", rng.IntN(items)), t0.Add(-time.Duration(rng.IntN(3600))*time.Second))
	}
	return s
}

// TestLatency measures p50/p99 of Recommend with 500 candidates, as wall
// time and as CPU time of the (locked) calling thread, which leaves out
// waiting for a CPU on a loaded machine (PERPETUA_LONG=1; the benchmark
// gives the mean). The 5 ms target is asserted on CPU time, and on wall
// time unless the machine's load average exceeds its CPU count.
func TestLatency(t *testing.T) {
	if os.Getenv("PERPETUA_LONG") == "" {
		t.Skip("long run; set PERPETUA_LONG=1")
	}
	s := bigService(t, 5000)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const n = 5000
	var wall, cpu []time.Duration
	var cands int
	for r := 0; r < n; r++ {
		c0, okc := threadCPU()
		start := time.Now()
		if _, err := s.Recommend(&Request{UserID: fmt.Sprint("u", r%2000), Slots: 10}); err != nil {
			t.Fatal(err)
		}
		wall = append(wall, time.Since(start))
		if c1, ok := threadCPU(); ok && okc {
			cpu = append(cpu, c1-c0)
		}
		cands += len(s.mu.sc.idx)
	}
	pct := func(d []time.Duration, q float64) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[int(q*float64(len(d)-1))]
	}
	load, _ := loadAverage()
	fmt.Printf("Recommend, 10 slots, %.0f candidates on average, load average %.1f on %d CPUs: wall p50 %v p99 %v max %v",
		float64(cands)/n, load, runtime.NumCPU(), pct(wall, 0.5), pct(wall, 0.99), pct(wall, 1))
	if len(cpu) == n {
		fmt.Printf("; thread CPU p50 %v p99 %v max %v", pct(cpu, 0.5), pct(cpu, 0.99), pct(cpu, 1))
		if p99 := pct(cpu, 0.99); p99 > 5*time.Millisecond {
			t.Errorf("CPU-time p99 = %v; want ≤ 5ms", p99)
		}
	}
	fmt.Println()
	if p99 := pct(wall, 0.99); p99 > 5*time.Millisecond {
		if load > float64(runtime.NumCPU()) {
			t.Logf("wall p99 = %v above 5ms with load average %.1f on %d CPUs; not asserted", p99, load, runtime.NumCPU())
			return
		}
		t.Errorf("wall p99 = %v; want ≤ 5ms", p99)
	}
}

// loadAverage returns the 1-minute load average (Linux).
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	var l float64
	_, err = fmt.Sscanf(string(b), "%f", &l)
	return l, err == nil
}

// benchService is built once for all benchmark runs (-count).
var benchService *Service

func BenchmarkRecommend(b *testing.B) {
	if benchService == nil {
		benchService = bigService(b, 5000)
	}
	s := benchService
	req := &Request{UserID: "u7", Slots: 10}
	resp, _ := s.Recommend(req)
	b.ReportMetric(float64(len(s.mu.sc.idx)), "candidates")
	_ = resp
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Recommend(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkObserve(b *testing.B) {
	if benchService == nil {
		benchService = bigService(b, 5000)
	}
	s := benchService
	ev := event.Event{ID: "x", Type: event.TypeView, Timestamp: t0, UserID: "u1", ItemID: "i1"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ev.ItemID = itemNames[i%len(itemNames)]
		s.Observe(&ev)
	}
}

var itemNames = func() []string {
	out := make([]string, 5000)
	for i := range out {
		out[i] = fmt.Sprint("i", i)
	}
	return out
}()

// TestConcurrent runs recommendations, feedback and events from several
// goroutines (meaningful under -race).
func TestConcurrent(t *testing.T) {
	s, _ := newService(t, Config{Seed: 2})
	catalogue(t, s, 50)
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for r := 0; r < 200; r++ {
				resp, err := s.Recommend(&Request{UserID: fmt.Sprint("u", g), Slots: 3})
				if err != nil {
					done <- err
					return
				}
				s.Observe(&resp.Impression)
				ev, err := s.Feedback(&Feedback{RequestID: resp.RequestID, ItemID: resp.Items[0], Reward: 1})
				if err != nil {
					done <- err
					return
				}
				s.Observe(&ev)
				view := event.Event{ID: "v", Type: event.TypeView, Timestamp: t0, UserID: fmt.Sprint("u", g), ItemID: resp.Items[1]}
				s.Observe(&view)
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
