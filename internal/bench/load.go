package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// LoadConfig configures Load. Target is required; the zero value of
// every other field means its default.
type LoadConfig struct {
	// Target is the base URL of a running server, e.g.
	// http://127.0.0.1:8080. Only loopback hosts are accepted: a load
	// test is not a tool to aim at someone else's server.
	Target string
	// Endpoints to load, among ingest, predict, recommend, feedback and
	// forecast (default all but feedback). Feedback answers the
	// recommendations of the recommend run, one each, so it needs it.
	Endpoints []string
	// Duration bounds each endpoint's run (default 5s, at most 10m).
	Duration time.Duration
	// Requests bounds each endpoint's run too (default 100,000).
	Requests int
	// Clients is the number of concurrent clients (default 16, at most 1,024).
	Clients int
	// Key is sent as a bearer token when set.
	Key string
	// Users and Items span the IDs of the requests (default 1,000 and 500).
	Users, Items int
}

// LoadResult is one endpoint's figures.
type LoadResult struct {
	Endpoint          string  `json:"endpoint"`
	Requests          int     `json:"requests"`
	Errors            int     `json:"errors"` // transport errors and statuses other than the expected
	Seconds           float64 `json:"seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	P50Millis         float64 `json:"p50_ms"`
	P90Millis         float64 `json:"p90_ms"`
	P99Millis         float64 `json:"p99_ms"`
	MaxMillis         float64 `json:"max_ms"`
	// Statuses counts the answers by HTTP status.
	Statuses map[int]int `json:"statuses"`
}

// LoadEndpoints are the endpoints Load knows, in the order it runs them.
var LoadEndpoints = []string{"ingest", "predict", "recommend", "feedback", "forecast", "risk"}

// Load measures throughput and latency percentiles of a running server's
// endpoints, one endpoint after the other, each for at most Duration and
// Requests. It first posts a small seed of shop events (views,
// purchases, orders) so that recommendations and forecasts have data.
func Load(ctx context.Context, cfg LoadConfig) ([]LoadResult, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConns: cfg.Clients, MaxIdleConnsPerHost: cfg.Clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	l := &loader{cfg: cfg, c: c, base: strings.TrimRight(cfg.Target, "/"), run0: time.Now().UnixNano()}
	if err := l.seed(ctx); err != nil {
		return nil, err
	}
	var out []LoadResult
	for _, ep := range LoadEndpoints {
		if !slices.Contains(cfg.Endpoints, ep) {
			continue
		}
		r, err := l.run(ctx, ep)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (cfg *LoadConfig) fill() error {
	u, err := url.Parse(cfg.Target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("bench: load: target %q: want http://HOST:PORT", cfg.Target)
	}
	host := u.Hostname()
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("bench: load: target %q: only loopback hosts (127.0.0.1, ::1, localhost) may be load-tested", cfg.Target)
		}
	}
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = []string{"ingest", "predict", "recommend", "forecast", "risk"}
	}
	for _, ep := range cfg.Endpoints {
		if !slices.Contains(LoadEndpoints, ep) {
			return fmt.Errorf("bench: load: endpoint %q: want one of %v", ep, LoadEndpoints)
		}
	}
	switch {
	case cfg.Duration == 0:
		cfg.Duration = 5 * time.Second
	case cfg.Duration < 0 || cfg.Duration > 10*time.Minute:
		return fmt.Errorf("bench: load: duration %v: want up to 10m", cfg.Duration)
	}
	if cfg.Requests <= 0 {
		cfg.Requests = 100_000
	}
	switch {
	case cfg.Clients == 0:
		cfg.Clients = 16
	case cfg.Clients < 0 || cfg.Clients > 1024:
		return fmt.Errorf("bench: load: clients %d: want 1 to 1024", cfg.Clients)
	}
	if cfg.Users <= 0 {
		cfg.Users = 1000
	}
	if cfg.Items <= 0 {
		cfg.Items = 500
	}
	return nil
}

type loader struct {
	cfg  LoadConfig
	c    *http.Client
	base string

	run0 int64 // the run's start (Unix ns), making transaction ids unique across runs

	mu       sync.Mutex
	requests []string // recommend request ids and an item each, for feedback
}

// seed posts a day of views, purchases and orders over the users and items.
func (l *loader) seed(ctx context.Context) error {
	var b bytes.Buffer
	t0 := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	n := 0
	for u := range l.cfg.Users {
		for k := range 5 {
			at := t0.Add(time.Duration(u*5+k) * time.Second).Format(time.RFC3339)
			item := (u*7 + k*13) % l.cfg.Items
			fmt.Fprintf(&b, `{"id":"load-seed-%d","type":"view","timestamp":%q,"user_id":"u%d","item_id":"i%d"}`+"\n", n, at, u, item)
			n++
			if k == 4 && u%3 == 0 {
				fmt.Fprintf(&b, `{"id":"load-seed-%d","type":"purchase","timestamp":%q,"user_id":"u%d","item_id":"i%d","price":9.5}`+"\n", n, at, u, item)
				n++
				fmt.Fprintf(&b, `{"id":"load-seed-%d","type":"order","timestamp":%q,"order_id":"load-o%d","lines":[{"sku":"i%d","quantity":1}],"lat":52.5,"lon":13.4,"warehouse":"w1"}`+"\n", n, at, n, item)
				n++
			}
		}
		if b.Len() > 1<<20 || u == l.cfg.Users-1 {
			code, body, err := l.do(ctx, "POST", "/v1/events", "application/x-ndjson", b.Bytes())
			if err != nil {
				return fmt.Errorf("bench: load: seeding events: %w", err)
			}
			if code != http.StatusAccepted {
				return fmt.Errorf("bench: load: seeding events: %d %s", code, body)
			}
			b.Reset()
		}
	}
	// Give the services and the learning loop a moment to read them.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}
	return nil
}

func (l *loader) do(ctx context.Context, method, path, ct string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if l.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+l.cfg.Key)
	}
	resp, err := l.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// request builds request i of an endpoint: method, path, content type,
// body and the status that counts as success.
func (l *loader) request(ep string, i int) (string, string, string, []byte, int) {
	u, it := i%l.cfg.Users, (i*31)%l.cfg.Items
	switch ep {
	case "ingest":
		at := time.Now().UTC().Format(time.RFC3339)
		return "POST", "/v1/events", "application/x-ndjson",
			fmt.Appendf(nil, `{"id":"load-%d-%d","type":"view","timestamp":%q,"user_id":"u%d","item_id":"i%d"}`+"\n", time.Now().UnixNano(), i, at, u, it), http.StatusAccepted
	case "predict":
		var b bytes.Buffer
		b.WriteString(`{"pairs":[`)
		for k := range 20 {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"user_id":"u%d","item_id":"i%d"}`, u, (it+k)%l.cfg.Items)
		}
		b.WriteString("]}")
		return "POST", "/v1/predict/purchase", "application/json", b.Bytes(), http.StatusOK
	case "recommend":
		return "POST", "/v1/recommend", "application/json", fmt.Appendf(nil, `{"user_id":"u%d","slots":10}`, u), http.StatusOK
	case "feedback":
		l.mu.Lock()
		var body []byte
		if len(l.requests) > 0 {
			body = []byte(l.requests[len(l.requests)-1])
			l.requests = l.requests[:len(l.requests)-1]
		}
		l.mu.Unlock()
		if body == nil {
			return "", "", "", nil, 0 // every recommendation answered: done
		}
		return "POST", "/v1/feedback", "application/json", body, http.StatusOK
	case "forecast":
		return "GET", fmt.Sprintf("/v1/forecast?sku=i%d&horizon=7", it), "", nil, http.StatusOK
	case "risk":
		// A new transaction id per request (scoring one twice is a 409):
		// each scored transaction is also written to the log.
		return "POST", "/v1/risk/score", "application/json",
			fmt.Appendf(nil, `{"transaction_id":"load-%d-%d","customer_id":"c%d","terminal_id":"t%d","amount":%d.%02d,"currency":"EUR","timestamp":%q}`,
				l.run0, i, u, it%97, 5+i%300, i%100, time.Now().UTC().Format(time.RFC3339)), http.StatusOK
	}
	panic("bench: unknown endpoint " + ep)
}

// run loads one endpoint.
func (l *loader) run(ctx context.Context, ep string) (LoadResult, error) {
	res := LoadResult{Endpoint: ep, Statuses: map[int]int{}}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Duration)
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
		next int
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range l.cfg.Clients {
		wg.Add(1)
		go func() { // owned: waited for below; ends with ctx or the request budget
			defer wg.Done()
			var mine []time.Duration
			statuses := map[int]int{}
			errs := 0
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= l.cfg.Requests {
					break
				}
				method, path, ct, body, want := l.request(ep, i)
				if method == "" {
					break
				}
				t0 := time.Now()
				code, reply, err := l.do(ctx, method, path, ct, body)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						break // the run's time is up: not the server's error
					}
					errs++
					continue
				}
				mine = append(mine, d)
				statuses[code]++
				if code != want {
					errs++
				} else if ep == "recommend" {
					l.noteRecommendation(reply)
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			for k, v := range statuses {
				res.Statuses[k] += v
			}
			res.Errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Requests = len(lats)
	if len(lats) == 0 {
		return res, fmt.Errorf("bench: load: %s: no request completed", ep)
	}
	slices.Sort(lats)
	q := func(f float64) float64 { return millis(lats[min(len(lats)-1, int(f*float64(len(lats))))]) }
	res.RequestsPerSecond = float64(len(lats)) / res.Seconds
	res.P50Millis, res.P90Millis, res.P99Millis, res.MaxMillis = q(0.5), q(0.9), q(0.99), millis(lats[len(lats)-1])
	if errors.Is(ctx.Err(), context.Canceled) {
		return res, ctx.Err()
	}
	return res, nil
}

// noteRecommendation keeps a feedback body for the first item of a
// recommend answer.
func (l *loader) noteRecommendation(reply []byte) {
	var r struct {
		RequestID string   `json:"request_id"`
		Items     []string `json:"items"`
	}
	if json.Unmarshal(reply, &r) != nil || r.RequestID == "" || len(r.Items) == 0 {
		return
	}
	l.mu.Lock()
	if len(l.requests) < 100_000 {
		l.requests = append(l.requests, fmt.Sprintf(`{"request_id":%q,"item_id":%q,"reward":1}`, r.RequestID, r.Items[0]))
	}
	l.mu.Unlock()
}
