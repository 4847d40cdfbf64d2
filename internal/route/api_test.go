package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func apiRequest() *OptimizeRequest {
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	f := func(v float64) *float64 { return &v }
	req := &OptimizeRequest{
		Depot:        Location{Lat: f(-33.87), Lon: f(151.21)},
		SpeedPerHour: 30,
		TimeLimitMS:  300,
		Seed:         1,
	}
	for k := 0; k < 3; k++ {
		req.Vehicles = append(req.Vehicles, Vehicle{ID: fmt.Sprintf("van-%d", k), Capacity: 10, ShiftStart: t0, ShiftEnd: t0.Add(10 * time.Hour)})
	}
	for k := 0; k < 12; k++ {
		ws := t0.Add(time.Duration(k%4) * time.Hour)
		we := ws.Add(3 * time.Hour)
		req.Orders = append(req.Orders, Order{
			ID:          fmt.Sprintf("ord-%d", k),
			Location:    Location{Lat: f(-33.87 + 0.01*float64(k%5) - 0.02), Lon: f(151.21 + 0.013*float64(k%7) - 0.04)},
			Demand:      2,
			WindowStart: &ws, WindowEnd: &we,
			ServiceS: 300,
		})
	}
	return req
}

func TestOptimize(t *testing.T) {
	req := apiRequest()
	// Round-trip through JSON as the HTTP handler would.
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var back OptimizeRequest
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	resp, err := Optimize(context.Background(), &back, nil)
	if err != nil {
		t.Fatalf("Optimize = %v", err)
	}
	if !resp.Feasible || resp.Vehicles < 1 || resp.Vehicles > 3 {
		t.Fatalf("Optimize = %+v; want a feasible plan with 1-3 vehicles", resp)
	}
	seen := map[string]bool{}
	for _, r := range resp.Routes {
		prev := r.Depart
		for _, s := range r.Stops {
			seen[s.OrderID] = true
			if s.ETA.Before(prev) || s.ServiceStart.Before(s.ETA) {
				t.Errorf("stop %s: ETA %v / service %v out of order", s.OrderID, s.ETA, s.ServiceStart)
			}
			var o Order
			for _, x := range req.Orders {
				if x.ID == s.OrderID {
					o = x
				}
			}
			if s.ServiceStart.After(*o.WindowEnd) || s.ServiceStart.Before(*o.WindowStart) {
				t.Errorf("stop %s: service at %v outside window [%v, %v]", s.OrderID, s.ServiceStart, o.WindowStart, o.WindowEnd)
			}
			prev = s.ServiceStart
		}
	}
	if len(seen) != len(req.Orders) {
		t.Errorf("plan visits %d orders; want %d", len(seen), len(req.Orders))
	}
	// With a learned model that says everything is twice as slow, the
	// plan's ETAs move later.
	m, _ := NewSpeedModel(Grid{MinX: 151, MinY: -34, MaxX: 151.5, MaxY: -33.5, Cols: 2, Rows: 2}, SpeedModelOptions{})
	for h := 0; h < 24; h++ {
		for k := 0; k < 30; k++ {
			_ = m.Observe(Observation{From: Point{151.2, -33.9}, To: Point{151.21, -33.89}, Depart: time.Date(2024, 1, 1, h, 0, 0, 0, time.UTC), Planned: time.Minute, Actual: 2 * time.Minute})
		}
	}
	slow, err := Optimize(context.Background(), req, m)
	if err != nil {
		t.Fatalf("Optimize(learned) = %v", err)
	}
	if !slow.Feasible {
		t.Errorf("Optimize(learned) infeasible")
	}
}

func TestOptimizeErrors(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		edit func(r *OptimizeRequest)
		want string
	}{
		{"no vehicles", func(r *OptimizeRequest) { r.Vehicles = nil }, "vehicles: at least one"},
		{"no orders", func(r *OptimizeRequest) { r.Orders = nil }, "orders: at least one"},
		{"dup id", func(r *OptimizeRequest) { r.Orders[3].ID = r.Orders[1].ID }, `orders[3].id: duplicate id "ord-1"`},
		{"demand", func(r *OptimizeRequest) { r.Orders[2].Demand = 11 }, `orders[2].demand: order "ord-2": demand 11 exceeds the vehicle capacity 10`},
		{"location", func(r *OptimizeRequest) { r.Orders[4].Lat = nil }, "orders[4]: both lat and lon are required"},
		{"mixed", func(r *OptimizeRequest) { r.Orders[5].Location = Location{X: f(1), Y: f(2)} }, "orders[5]: mixes x/y with lat/lon"},
		{"hetero", func(r *OptimizeRequest) { r.Vehicles[1].Capacity = 5 }, "vehicles[1].capacity"},
		{"window", func(r *OptimizeRequest) {
			e := r.Vehicles[0].ShiftStart.Add(-time.Hour)
			r.Orders[6].WindowEnd = &e
		}, `orders[6].window_end: order "ord-6": window ends`},
		{"unreachable", func(r *OptimizeRequest) {
			e := r.Vehicles[0].ShiftStart.Add(time.Second)
			r.Orders[4].WindowEnd = &e
		}, `orders[4]: order "ord-4": unreachable within its time window`},
		{"limit", func(r *OptimizeRequest) { r.TimeLimitMS = 10_000_000 }, "time_limit_ms"},
		{"objective", func(r *OptimizeRequest) { r.Objective = "fast" }, "objective"},
	}
	for _, tt := range tests {
		r := apiRequest()
		tt.edit(r)
		_, err := Optimize(context.Background(), r, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Optimize(%s) = %v; want error containing %q", tt.name, err, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Optimize(%s) = %v; want errors.Is(err, ErrInvalid)", tt.name, err)
		}
	}
}
