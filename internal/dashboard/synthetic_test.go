package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// synthetic is a Source whose figures change at every call, like a shop
// whose tastes shift: each call advances a simulated clock by ten minutes;
// at step 60 an abrupt shift raises the purchase model's log loss, which
// the continual learner recovers from and its frozen twin does not.
type synthetic struct {
	mu     sync.Mutex
	step   int
	start  time.Time
	rng    *rand.Rand
	champ  map[string]int // model -> champion version; guarded by mu
	models map[string]int // model -> versions published; guarded by mu
}

const shiftStep = 60

func newSynthetic(seed uint64) *synthetic {
	return &synthetic{
		start:  time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		rng:    rand.New(rand.NewPCG(seed, seed+1)),
		champ:  map[string]int{"purchase": 1, "risk": 1},
		models: map[string]int{"purchase": 1, "risk": 2},
	}
}

func (s *synthetic) at(step int) time.Time {
	return s.start.Add(time.Duration(step) * 10 * time.Minute)
}

func (s *synthetic) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.step
	s.step++
	now := s.at(k)
	noise := func(a float64) float64 { return (s.rng.Float64() - 0.5) * a }
	season := math.Sin(float64(k) / 12)

	cont, frozen := 0.42, 0.42
	if k >= shiftStep {
		cont = 0.42 + 0.3*math.Exp(-float64(k-shiftStep)/12)
		frozen = 0.69
	}
	cont += noise(0.02)
	frozen += noise(0.02)
	auc := func(ll float64) float64 { return 0.5 + 0.9*(0.75-ll) }
	snap := Snapshot{
		Time: now,
		Learners: []Learner{
			{Name: "purchase", Task: "purchase", Events: int64(k) * 1000,
				Metrics: map[string]float64{"logloss": cont, "auc": auc(cont), "accuracy": 1 - cont/1.5}},
			{Name: "purchase/frozen", Task: "purchase", Events: int64(k) * 1000,
				Metrics: map[string]float64{"logloss": frozen, "auc": auc(frozen), "accuracy": 1 - frozen/1.5}},
			{Name: "risk", Task: "risk", Events: int64(k) * 40,
				Metrics: map[string]float64{"logloss": 0.2 + 0.03*season + noise(0.01), "auc": 0.9 + noise(0.02), "precision": math.NaN()}},
			{Name: "forecast", Task: "forecast", Events: int64(k) * 3,
				Metrics: map[string]float64{"smape": 0.18 + 0.02*season + noise(0.01), "mae": 3.1 + noise(0.3)}},
			{Name: "recommend", Task: "recommend", Events: int64(k) * 500,
				Metrics: map[string]float64{"ctr": 0.05 + 0.01*season + noise(0.004)}},
		},
	}
	if k >= shiftStep+2 {
		snap.Markers = append(snap.Markers, Marker{Time: s.at(shiftStep + 2), Learner: "purchase", Kind: "drift", Detail: "ADWIN on log loss"})
	}
	if k >= shiftStep+4 {
		snap.Markers = append(snap.Markers, Marker{Time: s.at(shiftStep + 4), Learner: "purchase", Kind: "adapt", Detail: "learning rate raised, replay refreshed"})
		if s.models["purchase"] < 2 {
			s.models["purchase"] = 2
		}
	}
	if k >= 30 {
		snap.Markers = append(snap.Markers, Marker{Time: s.at(30), Learner: "risk", Kind: "warning", Detail: "new campaign"})
	}
	for _, name := range []string{"purchase", "risk"} {
		for v := 1; v <= s.models[name]; v++ {
			snap.Models = append(snap.Models, ModelVersion{
				Name: name, Version: v, PublishedAt: s.start.Add(time.Duration(v-1) * 10 * time.Hour),
				Champion: s.champ[name] == v, Metrics: map[string]float64{"logloss": 0.5 - 0.03*float64(v)},
			})
		}
	}
	snap.Recommend = &Recommend{CTR: 0.05 + 0.01*season + noise(0.004), Regret: 0.02 * float64(k) * (1 + noise(0.1)), Impressions: int64(k) * 5000}
	reasons := [][]string{{"compromised-terminal"}, {"amount-pattern", "velocity"}, {"compromised-card"}, {"new-device", "amount-pattern"}}
	f := &Fraud{Precision: 0.8 + 0.05*season + noise(0.02), Recall: 0.6 + noise(0.05)}
	for i := range 6 {
		f.Queue = append(f.Queue, Review{
			ID: fmt.Sprintf("tx-%d", 10000+k*7+i), Time: now.Add(-time.Duration(i) * 3 * time.Minute),
			Amount: 20 + float64((k*13+i*37)%400), Score: 0.95 - 0.05*float64(i), Reasons: reasons[(k+i)%len(reasons)],
		})
	}
	snap.Fraud = f
	day := now.Truncate(24 * time.Hour)
	for j, sku := range []string{"SKU-1042", "SKU-2210", "SKU-3307"} {
		fc := Forecast{SKU: sku}
		for d := -20; d <= 7; d++ {
			t := day.AddDate(0, 0, d)
			base := 40 + 10*float64(j) + 8*math.Sin(float64(t.Unix()/86400)/3.5+float64(j))
			p := ForecastPoint{Time: t, Forecast: base + 1.5, Actual: math.NaN()}
			if d <= 0 {
				p.Actual = base + 6*math.Sin(float64(t.Unix()/86400)*1.7+float64(j))
			}
			fc.Points = append(fc.Points, p)
		}
		snap.Forecasts = append(snap.Forecasts, fc)
	}
	rr := rand.New(rand.NewPCG(uint64(k/6), 7)) // routes change every simulated hour
	depot := LatLon{Lat: 38.7223, Lon: -9.1393}
	for v := range 3 {
		r := Route{Vehicle: fmt.Sprintf("van-%d", v+1), Stops: []LatLon{depot}}
		ang := float64(v) * 2 * math.Pi / 3
		for i := range 8 {
			a := ang + (rr.Float64()-0.2)*1.4
			d := 0.01 + 0.04*float64(i+1)/8 + rr.Float64()*0.01
			r.Stops = append(r.Stops, LatLon{Lat: depot.Lat + d*math.Sin(a), Lon: depot.Lon + d*math.Cos(a)/0.78})
		}
		r.Stops = append(r.Stops, depot)
		snap.Routes = append(snap.Routes, r)
	}
	return snap
}

// modelHandler stands in for the engine's POST /v1/models/{promote,rollback}
// so the buttons can be tried against the synthetic server.
func (s *synthetic) modelHandler(key string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprint(w, `{"error":"POST only"}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"admin key required"}`)
			return
		}
		var req struct {
			Model   string `json:"model"`
			Version int    `json:"version"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":%q}`, err.Error())
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if req.Version < 1 || req.Version > s.models[req.Model] {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":"no version %d of model %q"}`, req.Version, req.Model)
			return
		}
		s.champ[req.Model] = req.Version
		fmt.Fprintf(w, `{"model":%q,"champion":%d,"action":%q}`, req.Model, req.Version, strings.TrimPrefix(r.URL.Path, "/v1/models/"))
	})
}

// TestServeSynthetic serves the dashboard with the synthetic source until
// interrupted, for scripts/browser-test.sh and for looking at by hand:
//
//	PERPETUA_DASHBOARD_SERVE=127.0.0.1:8089 go test -run '^TestServeSynthetic$' -timeout 0 ./internal/dashboard
//
// then open http://127.0.0.1:8089/dashboard/ (admin key "admin-key"). With
// PERPETUA_DASHBOARD_ADDRFILE set it writes the address it listens on
// there (useful with port 0). It is skipped unless PERPETUA_DASHBOARD_SERVE
// is set, so it never opens a port in ordinary test runs.
func TestServeSynthetic(t *testing.T) {
	addr := os.Getenv("PERPETUA_DASHBOARD_SERVE")
	if addr == "" {
		t.Skip("set PERPETUA_DASHBOARD_SERVE=host:port to serve the synthetic dashboard")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	src := newSynthetic(1)
	rec := NewRecorder(src, Options{Interval: 500 * time.Millisecond, History: 600})
	for range 90 { // a history to draw at once, shift included
		rec.Sample()
	}
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", rec))
	mux.Handle("/v1/models/promote", src.modelHandler("admin-key"))
	mux.Handle("/v1/models/rollback", src.modelHandler("admin-key"))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if f := os.Getenv("PERPETUA_DASHBOARD_ADDRFILE"); f != "" {
		if err := os.WriteFile(f, []byte(ln.Addr().String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("dashboard at http://%s/dashboard/", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		t.Error(err)
	}
	if err := <-done; err != nil {
		t.Error(err)
	}
}
