package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/dashboard"
	"github.com/perpetua-ml/perpetua/internal/event"
)

// launch runs an engine with cfg on loopback until the returned stop is
// called; stop returns Run's error.
func launch(t *testing.T, cfg Config) (*Engine, string, func() error) {
	t.Helper()
	return launchWith(t, cfg, nil)
}

// launchWith is launch with prep called on the engine before it runs.
func launchWith(t *testing.T, cfg Config, prep func(*Engine)) (*Engine, string, func() error) {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if prep != nil {
		prep(e)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, ln) }()
	for i := 0; !e.Ready(); i++ {
		if i > 1000 {
			t.Fatal("not ready after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e, "http://" + ln.Addr().String(), func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return fmt.Errorf("Run did not return within 60s of cancellation")
		}
	}
}

// startEngine runs an engine on loopback for the test's duration.
func startEngine(t *testing.T) (*Engine, string) {
	t.Helper()
	e, base, stop := launch(t, Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e, base
}

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServicesOverHTTP drives recommendations, feedback and forecasts
// through a running engine as a client would, and checks that what was
// shown and the feedback are in the event log.
func TestServicesOverHTTP(t *testing.T) {
	e, base := startEngine(t)
	var buf bytes.Buffer
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	add := func(ev event.Event) {
		n++
		ev.ID = fmt.Sprintf("e%d", n)
		buf.Write(event.Append(nil, &ev))
		buf.WriteByte('\n')
	}
	for d := range 20 {
		for u := range 10 {
			at := t0.Add(time.Duration(d)*24*time.Hour + time.Duration(u)*time.Minute)
			for k := range 3 {
				add(event.Event{Type: event.TypeView, Timestamp: at.Add(time.Duration(k) * time.Second), UserID: fmt.Sprintf("u%d", u), ItemID: fmt.Sprintf("i%d", (u+k+d)%12)})
			}
			if d%5 == 0 {
				add(event.Event{Type: event.TypePurchase, Timestamp: at.Add(5 * time.Second), UserID: fmt.Sprintf("u%d", u), ItemID: fmt.Sprintf("i%d", (u+d)%12), Price: 10, HasPrice: true, Quantity: 1})
			}
			add(event.Event{Type: event.TypeOrder, Timestamp: at.Add(6 * time.Second), OrderID: fmt.Sprintf("o%d-%d", d, u),
				Lines: []event.OrderLine{{SKU: "sku-1", Quantity: float64(1 + u%3)}}, Lat: 52.5, Lon: 13.4, HasLatLon: true, Warehouse: "w1"})
		}
		add(event.Event{Type: event.TypeStock, Timestamp: t0.Add(time.Duration(d) * 24 * time.Hour), SKU: "sku-1", Warehouse: "w1", Quantity: 40})
	}
	resp, err := http.Post(base+"/v1/events", "application/x-ndjson", &buf)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST events: %v %v", resp, err)
	}
	resp.Body.Close()
	end := e.Log().End()
	for i := 0; e.follow.offset.Load() < end; i++ {
		if i > 1000 {
			t.Fatalf("services applied %d of %d records after 10s", e.follow.offset.Load(), end)
		}
		time.Sleep(10 * time.Millisecond)
	}

	code, body := call(t, "POST", base+"/v1/recommend", `{"user_id":"u1","slots":4}`)
	if code != 200 {
		t.Fatalf("recommend = %d %s", code, body)
	}
	var rec struct {
		RequestID    string    `json:"request_id"`
		Items        []string  `json:"items"`
		Positions    []int     `json:"positions"`
		Propensities []float64 `json:"propensities"`
	}
	if err := json.Unmarshal([]byte(body), &rec); err != nil || rec.RequestID == "" || len(rec.Items) == 0 ||
		len(rec.Items) != len(rec.Propensities) || len(rec.Items) != len(rec.Positions) {
		t.Fatalf("recommend body %s (%v)", body, err)
	}
	for _, p := range rec.Propensities {
		if !(p > 0 && p <= 1) {
			t.Fatalf("propensity %v out of (0, 1]", p)
		}
	}
	fb := fmt.Sprintf(`{"request_id":%q,"item_id":%q,"reward":1}`, rec.RequestID, rec.Items[0])
	for _, tc := range []struct {
		body string
		code int
	}{
		{fb, 200},
		{fb, 409}, // twice
		{`{"request_id":"nope","item_id":"i1","reward":1}`, 404},
		{fmt.Sprintf(`{"request_id":%q,"item_id":%q,"reward":-3}`, rec.RequestID, rec.Items[0]), 400},
		{`{"request_id":"x","item_id":"i1","reward":1,"bogus":1}`, 400},
	} {
		if code, body := call(t, "POST", base+"/v1/feedback", tc.body); code != tc.code {
			t.Errorf("feedback %s = %d %s; want %d", tc.body, code, body, tc.code)
		}
	}
	// The impression and the feedback are in the log.
	rd, err := e.Log().NewReader(end)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var types []string
	for {
		r, err := rd.Next(context.Background())
		if err != nil {
			break
		}
		ev, err := event.Decode(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.RequestID != rec.RequestID {
			t.Errorf("logged %s for request %q; want %q", ev.Type, ev.RequestID, rec.RequestID)
		}
		types = append(types, ev.Type.String())
	}
	if got := strings.Join(types, ","); got != "impression,feedback" {
		t.Errorf("logged after the events: %s; want impression,feedback", got)
	}

	if code, body := call(t, "GET", base+"/v1/forecast?sku=sku-1&horizon=3", ""); code != 200 || !strings.Contains(body, `"points"`) {
		t.Errorf("forecast = %d %s", code, body)
	}
	if code, body := call(t, "GET", base+"/v1/forecast?sku=nope", ""); code != 404 {
		t.Errorf("forecast of an unknown sku = %d %s; want 404", code, body)
	}
	if code, body := call(t, "GET", base+"/v1/forecast?sku=sku-1&horizon=x", ""); code != 400 {
		t.Errorf("forecast with a bad horizon = %d %s; want 400", code, body)
	}
	if code, body := call(t, "GET", base+"/v1/replenishment?sku=sku-1&warehouse=w1", ""); code != 200 {
		t.Errorf("replenishment = %d %s", code, body)
	}
}

// TestRiskOverHTTP scores transactions through the API, checks the
// answers and bad input, and that scored transactions are in the log.
func TestRiskOverHTTP(t *testing.T) {
	e, base := startEngine(t)
	tx := func(id string, amount float64, cur string) string {
		return fmt.Sprintf(`{"transaction_id":%q,"customer_id":"c1","terminal_id":"t1","amount":%v,"currency":%q,"timestamp":"2026-03-01T10:00:00Z"}`, id, amount, cur)
	}
	code, body := call(t, "POST", base+"/v1/risk/score", tx("tx1", 42.5, "EUR"))
	if code != 200 {
		t.Fatalf("score = %d %s", code, body)
	}
	var res struct {
		TransactionID string  `json:"transaction_id"`
		Score         float64 `json:"score"`
		Decision      string  `json:"decision"`
		ModelVersion  string  `json:"model_version"`
		Reasons       []struct {
			Feature, Text string
		} `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.TransactionID != "tx1" || !(res.Score >= 0 && res.Score <= 1) ||
		res.Decision == "" || res.ModelVersion == "" {
		t.Fatalf("score body %s (%v)", body, err)
	}
	for _, tc := range []struct {
		body string
		code int
	}{
		{tx("tx1", 42.5, "EUR"), 409},      // scored twice
		{tx("tx2", -1, "EUR"), 400},        // negative amount
		{tx("tx3", 10, "XXX"), 400},        // unknown currency
		{`{"transaction_id":"tx4"}`, 400},  // missing fields
		{tx("tx5", 10, "EUR") + "{}", 400}, // trailing data
	} {
		if code, body := call(t, "POST", base+"/v1/risk/score", tc.body); code != tc.code {
			t.Errorf("score %s = %d %s; want %d", tc.body, code, body, tc.code)
		}
	}
	// The label arrives through the event log.
	lbl := `{"id":"l1","type":"label","timestamp":"2026-03-02T10:00:00Z","target_id":"tx1","kind":"fraud","value":1}` + "\n"
	if code, body := call(t, "POST", base+"/v1/events", lbl); code != 202 {
		t.Fatalf("label = %d %s", code, body)
	}
	rd, err := e.Log().NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	r, err := rd.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := event.Decode(r.Data)
	if ev.Type != event.TypeTransaction || ev.TransactionID != "tx1" || ev.Amount != 42.5 {
		t.Fatalf("first logged event %+v; want the scored transaction", ev)
	}
}

// TestDashboardMounted checks the engine serves the dashboard and its
// state with the engine's learners, and shuts down with a stream open.
func TestDashboardMounted(t *testing.T) {
	_, base := startEngine(t)
	resp, err := http.Get(base + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || !bytes.Contains(page, []byte("<html")) {
		t.Fatalf("GET /dashboard/ = %d, CSP %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), len(page))
	}
	var state struct {
		Latest struct {
			Models []struct {
				Name     string `json:"name"`
				Champion bool   `json:"champion"`
			} `json:"models"`
		} `json:"latest"`
	}
	for i := 0; ; i++ {
		code, body := call(t, "GET", base+"/dashboard/api/state", "")
		if code != 200 {
			t.Fatalf("state = %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &state); err != nil {
			t.Fatal(err)
		}
		if len(state.Latest.Models) > 0 {
			break
		}
		if i > 2000 {
			t.Fatalf("no model versions in the dashboard's state after 20 s: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	champions := 0
	for _, m := range state.Latest.Models {
		if m.Champion {
			champions++
			if m.Name != "mlp" {
				t.Errorf("champion %q; want mlp", m.Name)
			}
		}
	}
	if champions != 1 {
		t.Fatalf("%d champions in %+v; want 1", champions, state.Latest.Models)
	}
	// An open event stream must not hold the shutdown (the cleanup of
	// startEngine fails the test if Run errs or hangs).
	req, _ := http.NewRequest("GET", base+"/dashboard/api/events", nil)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	go func() { io.Copy(io.Discard, stream.Body); stream.Body.Close() }()
}

// TestRoutesOverHTTP plans deliveries through the API and checks that
// delivered orders in the log teach the travel-time model.
func TestRoutesOverHTTP(t *testing.T) {
	e, base := startEngine(t)
	req := `{"depot":{"lat":52.52,"lon":13.40},
	 "vehicles":[{"id":"v1","capacity":10,"shift_start":"2026-03-02T08:00:00Z","shift_end":"2026-03-02T18:00:00Z"},
	             {"id":"v2","capacity":10,"shift_start":"2026-03-02T08:00:00Z","shift_end":"2026-03-02T18:00:00Z"}],
	 "orders":[{"id":"o1","lat":52.53,"lon":13.41,"demand":3},{"id":"o2","lat":52.50,"lon":13.38,"demand":4},
	           {"id":"o3","lat":52.51,"lon":13.45,"demand":2,"service_s":300},{"id":"o4","lat":52.54,"lon":13.37,"demand":5},
	           {"id":"o5","lat":52.49,"lon":13.42,"demand":1,"window_start":"2026-03-02T09:00:00Z","window_end":"2026-03-02T11:00:00Z"}],
	 "time_limit_ms":300}`
	code, body := call(t, "POST", base+"/v1/routes/optimize", req)
	if code != 200 {
		t.Fatalf("optimize = %d %s", code, body)
	}
	var resp struct {
		Routes []struct {
			Stops []struct {
				Order string    `json:"order_id"`
				ETA   time.Time `json:"eta"`
			} `json:"stops"`
		} `json:"routes"`
		Cost     float64 `json:"cost"`
		Feasible bool    `json:"feasible"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || !resp.Feasible || resp.Cost <= 0 {
		t.Fatalf("optimize body %s (%v)", body, err)
	}
	seen := 0
	for _, r := range resp.Routes {
		seen += len(r.Stops)
	}
	if seen != 5 {
		t.Fatalf("%d stops planned; want the 5 orders: %s", seen, body)
	}
	if rs := e.Snapshot().Routes; len(rs) == 0 || len(rs[0].Stops) < 3 {
		t.Fatalf("the dashboard's routes after a plan: %+v", rs)
	}
	if code, body := call(t, "POST", base+"/v1/routes/optimize", `{"depot":{"lat":52.5,"lon":13.4},"vehicles":[],"orders":[]}`); code != 400 || !strings.Contains(body, "vehicles") {
		t.Fatalf("optimize without vehicles = %d %s; want 400 naming vehicles", code, body)
	}
	// A delivered order teaches the travel-time model.
	ev := `{"id":"d1","type":"order","timestamp":"2026-03-02T10:00:00Z","order_id":"o1","lines":[{"sku":"s1","quantity":1}],"lat":52.53,"lon":13.41,` +
		`"attrs":{"delivery":{"from_lat":52.52,"from_lon":13.40,"depart":"2026-03-02T09:40:00Z","planned_s":600,"actual_s":1200}}}` + "\n"
	if code, body := call(t, "POST", base+"/v1/events", ev); code != 202 {
		t.Fatalf("order event = %d %s", code, body)
	}
	for i := 0; e.travel.speedModel() == nil; i++ {
		if i > 500 {
			t.Fatal("the delivered order did not reach the travel-time model")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A carrier's delivery report (a label, not a second order: no demand
	// counted) teaches it too; a malformed one is refused by the travel
	// observer, and the risk service ignores both.
	refused := e.follow.bad.Load()
	seen0 := e.travel.speedModel().Observations()
	lbl := `{"id":"d2","type":"label","timestamp":"2026-03-02T11:00:00Z","target_id":"o2","kind":"delivery","value":1,` +
		`"attrs":{"delivery":{"from_lat":52.52,"from_lon":13.40,"to_lat":52.51,"to_lon":13.42,"depart":"2026-03-02T10:40:00Z","planned_s":600,"actual_s":900}}}` + "\n" +
		`{"id":"d3","type":"label","timestamp":"2026-03-02T11:01:00Z","target_id":"o3","kind":"delivery","value":1,"attrs":{"delivery":{"from_lat":52.52,"from_lon":13.40}}}` + "\n"
	if code, body := call(t, "POST", base+"/v1/events", lbl); code != 202 {
		t.Fatalf("delivery labels = %d %s", code, body)
	}
	for i := 0; e.travel.speedModel().Observations() != seen0+1 || e.follow.bad.Load() != refused+1; i++ {
		if i > 500 {
			t.Fatalf("after two delivery labels: %d observations (was %d), %d refused (was %d); want one more of each",
				e.travel.speedModel().Observations(), seen0, e.follow.bad.Load(), refused)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestObserveRecommendTruth: the regret the dashboard shows is the mean
// of best − expected clicks per shown item over the last slates, and bad
// input changes nothing.
func TestObserveRecommendTruth(t *testing.T) {
	e, err := New(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if s := e.Snapshot(); s.Recommend != nil {
		t.Fatalf("recommend panel before any slate: %+v", s.Recommend)
	}
	e.ObserveRecommendTruth(10, 2.0, 3.0)
	e.ObserveRecommendTruth(5, 1.0, 1.5)
	for _, bad := range []struct {
		slots       int
		clicks, max float64
	}{{0, 1, 2}, {-3, 1, 2}, {4, math.NaN(), 1}, {4, 1, math.Inf(1)}} {
		e.ObserveRecommendTruth(bad.slots, bad.clicks, bad.max)
	}
	s := e.Snapshot()
	if s.Recommend == nil || math.Abs(s.Recommend.Regret-1.5/15) > 1e-12 {
		t.Fatalf("regret = %+v; want (1 + 0.5) / 15 slots = 0.1", s.Recommend)
	}
	// A window of 512 slates: old ones leave it.
	for range 512 {
		e.ObserveRecommendTruth(2, 1, 1)
	}
	if r := e.Snapshot().Recommend.Regret; r != 0 {
		t.Fatalf("regret after 512 perfect slates = %v; want 0", r)
	}
}

// TestDashboardForecastsBestSellers: the forecast charts show the SKUs
// that sell most, not the first ones any event named (stock levels of
// SKUs that never sell).
func TestDashboardForecastsBestSellers(t *testing.T) {
	e, base := startEngine(t)
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, `{"id":"st%d","type":"stock","timestamp":"2026-03-01T00:00:00Z","sku":"idle%d","warehouse":"w1","quantity":50}`+"\n", i, i)
	}
	// An event on another clock (a view stamped months later) must not
	// move the forecasts' day: only demand does.
	b.WriteString(`{"id":"late-view","type":"view","timestamp":"2026-11-28T09:00:00Z","user_id":"u1","item_id":"s7"}` + "\n")
	for d := range 5 {
		for i := range 8 {
			fmt.Fprintf(&b, `{"id":"o%d-%d","type":"order","timestamp":"2026-03-0%dT10:00:00Z","order_id":"o%d-%d","warehouse":"w1","lat":52.5,"lon":13.4,"lines":[{"sku":"s%d","quantity":%d}]}`+"\n",
				d, i, d+1, d, i, i, 1+i)
		}
	}
	if code, body := call(t, "POST", base+"/v1/events", b.String()); code != 202 {
		t.Fatalf("events = %d %s", code, body)
	}
	// The services consume the log on their own goroutine: poll until
	// every order has been applied (s7 has 4 days with both a forecast
	// and an actual), then check what is charted. A snapshot taken half
	// way through the log would chart whatever had sold so far.
	want := []string{"s7", "s6", "s5", "s4", "s3", "s2"}
	var fs []string
	var f dashboard.Forecast
	against := 0
	for deadline := time.Now().Add(20 * time.Second); ; {
		snap := e.Snapshot()
		fs = fs[:0]
		for _, f := range snap.Forecasts {
			fs = append(fs, f.SKU)
		}
		against = 0
		if len(snap.Forecasts) > 0 {
			f = snap.Forecasts[0]
			for _, p := range f.Points {
				if !math.IsNaN(p.Actual) && !math.IsNaN(p.Forecast) {
					against++
				}
			}
		}
		if (slices.Equal(fs, want) && against == 4) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Equal(fs, want) {
		t.Fatalf("forecast charts for %v; want the best sellers %v", fs, want)
	}
	// Each past day after the first carries the forecast made for it as
	// it began, beside what it sold: s7 sells 8 a day.
	for _, p := range f.Points {
		if !math.IsNaN(p.Actual) && !math.IsNaN(p.Forecast) {
			if p.Actual != 8 || p.Forecast < 0 || p.Forecast > 16 {
				t.Errorf("s7 on %s: actual %v, forecast %v; want 8 and a forecast near it", p.Time.Format("01-02"), p.Actual, p.Forecast)
			}
		}
	}
	if against != 4 {
		t.Fatalf("s7: %d days with both a forecast and an actual; want 4 (days 2–5): %+v", against, f.Points)
	}
}

// gateObserver holds the services' log replay until open is closed.
type gateObserver struct{ open chan struct{} }

func (g gateObserver) observe(*event.Event) error {
	<-g.open
	return nil
}

// TestReadyAfterServicesReplay: a restarted engine answers /readyz 503
// "starting", with how far the services are, until they have applied
// the log as it stood at start; then 200.
func TestReadyAfterServicesReplay(t *testing.T) {
	cfg := Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0"}
	_, base, stop := launch(t, cfg)
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, `{"id":"v%d","type":"view","timestamp":"2026-03-01T10:00:%02dZ","user_id":"u1","item_id":"i%d"}`+"\n", i, i, i%7)
	}
	if code, body := call(t, "POST", base+"/v1/events", b.String()); code != 202 {
		t.Fatalf("events = %d %s", code, body)
	}
	if code, body := call(t, "GET", base+"/readyz", ""); code != 200 {
		t.Fatalf("GET /readyz on a fresh engine = %d %s; want 200", code, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	gate := gateObserver{open: make(chan struct{})}
	e, base, stop := launchWith(t, cfg, func(e *Engine) { e.follow.observers = append(e.follow.observers, gate) })
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	code, body := call(t, "GET", base+"/readyz", "")
	if code != 503 || !strings.Contains(body, `"status":"starting"`) || !strings.Contains(body, "of 50 records") {
		close(gate.open)
		t.Fatalf("GET /readyz while the services replay = %d %s; want 503 starting, of 50 records", code, body)
	}
	close(gate.open)
	for i := 0; ; i++ {
		if code, body = call(t, "GET", base+"/readyz", ""); code == 200 {
			break
		}
		if i > 1000 {
			t.Fatalf("GET /readyz after the replay = %d %s; want 200", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.follow.offset.Load(); got != 50 {
		t.Errorf("services applied %d records when ready; want 50", got)
	}
}
