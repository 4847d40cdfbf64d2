package dashboard_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/perpetua-ml/perpetua/internal/dashboard"
)

// The engine implements Source; the Recorder samples it and serves the
// page under a prefix.
func Example() {
	src := dashboard.SourceFunc(func() dashboard.Snapshot {
		return dashboard.Snapshot{
			Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
			Learners: []dashboard.Learner{
				{Name: "purchase", Task: "purchase", Metrics: map[string]float64{"logloss": 0.42}},
			},
		}
	})
	rec := dashboard.NewRecorder(src, dashboard.Options{Interval: time.Second})
	// In the engine: go rec.Run(ctx). Here, one sample by hand.
	rec.Sample()

	mux := http.NewServeMux()
	mux.Handle("/dashboard/", http.StripPrefix("/dashboard", rec))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/dashboard/api/state", nil))
	var st dashboard.State
	if err := json.NewDecoder(w.Body).Decode(&st); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w.Code, len(st.History), st.History[0].Learners["purchase"]["logloss"], st.Latest.Learners[0].Name)
	// Output:
	// 200 1 0.42 purchase
}
