package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestHistoryBounded(t *testing.T) {
	for _, tc := range []struct{ history, samples int }{
		{1, 3}, {5, 4}, {5, 5}, {5, 12}, {600, 1300},
	} {
		rec := NewRecorder(newFixed(), Options{History: tc.history})
		for range tc.samples {
			rec.Sample()
		}
		h := rec.History()
		want := min(tc.history, tc.samples)
		if len(h) != want {
			t.Errorf("History(%d) after %d samples has %d points; want %d", tc.history, tc.samples, len(h), want)
			continue
		}
		for i, p := range h {
			if wantSeq := uint64(tc.samples - want + i + 1); p.Seq != wantSeq {
				t.Errorf("History(%d) after %d samples: [%d].Seq = %d; want %d", tc.history, tc.samples, i, p.Seq, wantSeq)
				break
			}
		}
		if c := cap(rec.mu.ring); c != tc.history {
			t.Errorf("History(%d): ring capacity %d; want it fixed at %d", tc.history, c, tc.history)
		}
	}
}

func TestLatest(t *testing.T) {
	rec := NewRecorder(newFixed(), Options{})
	if _, ok := rec.Latest(); ok {
		t.Error("Latest() before a sample: ok = true; want false")
	}
	rec.Sample()
	s, ok := rec.Latest()
	if !ok || len(s.Learners) != 1 || s.Learners[0].Events != 1 {
		t.Errorf("Latest() = %+v, %v; want the first snapshot", s, ok)
	}
}

func TestZeroTimeIsNow(t *testing.T) {
	now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	rec := NewRecorder(SourceFunc(func() Snapshot { return Snapshot{} }), Options{Now: func() time.Time { return now }})
	if p := rec.Sample(); !p.Time.Equal(now) || p.Learners != nil || p.Values != nil {
		t.Errorf("Sample() of an empty snapshot = %+v; want time %v and no series", p, now)
	}
}

func TestClean(t *testing.T) {
	nan := math.NaN()
	many := func(n int) []Marker {
		ms := make([]Marker, n)
		for i := range ms {
			ms[i] = Marker{Kind: fmt.Sprint(i)}
		}
		return ms
	}
	stops := make([]LatLon, MaxPoints+10)
	stops[3] = LatLon{Lat: nan}
	src := Snapshot{
		Markers:   many(MaxMarkers + 7),
		Learners:  []Learner{{Name: "a", Metrics: map[string]float64{"x": 1, "y": nan, "z": math.Inf(-1)}}},
		Models:    []ModelVersion{{Name: "m", Metrics: map[string]float64{"x": nan}}},
		Fraud:     &Fraud{Queue: make([]Review, MaxQueue+1)},
		Forecasts: make([]Forecast, MaxForecasts+1),
		Routes:    []Route{{Vehicle: "v", Stops: stops}, {Vehicle: "w", Stops: []LatLon{{1, 2}, {math.Inf(1), 0}, {3, 4}}}},
	}
	src.Forecasts[0].Points = make([]ForecastPoint, MaxPoints+5)
	src.Forecasts[0].Points[len(src.Forecasts[0].Points)-1].Forecast = 42
	c := clean(src, time.Unix(1, 0))

	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"len(Markers)", len(c.Markers), MaxMarkers},
		{"Markers[0].Kind (newest kept)", c.Markers[0].Kind, "7"},
		{"Learners[0].Metrics", mustJSON(c.Learners[0].Metrics), `{"x":1}`},
		{"source Learners[0].Metrics untouched", len(src.Learners[0].Metrics), 3},
		{"Models[0].Metrics", len(c.Models[0].Metrics), 0},
		{"len(Fraud.Queue)", len(c.Fraud.Queue), MaxQueue},
		{"source Fraud.Queue untouched", len(src.Fraud.Queue), MaxQueue + 1},
		{"len(Forecasts)", len(c.Forecasts), MaxForecasts},
		{"len(Forecasts[0].Points)", len(c.Forecasts[0].Points), MaxPoints},
		{"last forecast point kept", c.Forecasts[0].Points[MaxPoints-1].Forecast, 42.0},
		{"len(Routes[0].Stops)", len(c.Routes[0].Stops), MaxPoints},
		{"Routes[1].Stops", mustJSON(c.Routes[1].Stops), `[{"lat":1,"lon":2},{"lat":3,"lon":4}]`},
		{"source route untouched", len(src.Routes[1].Stops), 3},
		{"Time", c.Time, time.Unix(1, 0)},
	} {
		if tc.got != tc.want {
			t.Errorf("clean: %s = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
	if _, err := json.Marshal(c); err != nil {
		t.Errorf("json.Marshal(clean(...)) = %v; want no error", err)
	}
}

func TestNonFiniteJSON(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		in   any
		want string
	}{
		{Recommend{CTR: nan, Regret: 1}, `{"ctr":null,"regret":1}`},
		{Fraud{Precision: inf, Recall: 0.5}, `{"precision":null,"recall":0.5}`},
		{ForecastPoint{Actual: nan, Forecast: 2}, `{"time":"0001-01-01T00:00:00Z","actual":null,"forecast":2}`},
		{Review{ID: "a", Score: nan, Amount: -inf}, `{"id":"a","time":"0001-01-01T00:00:00Z","amount":null,"score":null}`},
	} {
		b, err := json.Marshal(tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("json.Marshal(%#v) = %s, %v; want %s", tc.in, b, err, tc.want)
		}
	}
}

func BenchmarkSample(b *testing.B) {
	rec := NewRecorder(newSynthetic(1), Options{History: 600})
	b.ReportAllocs()
	for b.Loop() {
		rec.Sample()
	}
}

func BenchmarkState(b *testing.B) {
	rec := NewRecorder(newSynthetic(1), Options{History: 600})
	for range 600 {
		rec.Sample()
	}
	b.ReportAllocs()
	for b.Loop() {
		buf, err := json.Marshal(rec.State())
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(buf)))
	}
}
