package label

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// TestJoin runs scripted scenarios: each step adds, resolves or expires,
// and the test checks which payloads came out, in order.
func TestJoin(t *testing.T) {
	type step struct {
		op   string // add, resolve, expire
		key  string
		t    int // deadline (add) or now (expire), seconds
		id   int // payload (add)
		want string
	}
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"resolve before deadline", 0, []step{
			{op: "add", key: "a", t: 10, id: 1},
			{op: "add", key: "b", t: 11, id: 2},
			{op: "add", key: "a", t: 12, id: 3},
			{op: "resolve", key: "a", want: "[1 3]"},
			{op: "expire", t: 100, want: "[2]"},
			{op: "expire", t: 200, want: "[]"},
		}},
		{"expire in deadline order, ties by insertion", 0, []step{
			{op: "add", key: "a", t: 30, id: 1},
			{op: "add", key: "b", t: 10, id: 2},
			{op: "add", key: "c", t: 10, id: 3},
			{op: "add", key: "d", t: 20, id: 4},
			{op: "expire", t: 20, want: "[2 3]"}, // deadline 20 is not before now=20
			{op: "expire", t: 21, want: "[4]"},
			{op: "resolve", key: "a", want: "[1]"},
			{op: "expire", t: 99, want: "[]"},
		}},
		{"resolve after expiry finds nothing", 0, []step{
			{op: "add", key: "a", t: 5, id: 1},
			{op: "expire", t: 6, want: "[1]"},
			{op: "resolve", key: "a", want: "[]"},
		}},
		{"full join evicts the earliest deadline", 2, []step{
			{op: "add", key: "a", t: 50, id: 1},
			{op: "add", key: "b", t: 40, id: 2},
			{op: "add", key: "c", t: 60, id: 3, want: "[2]"},
			{op: "resolve", key: "b", want: "[]"},
			{op: "expire", t: 100, want: "[1 3]"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := New[int](tt.max)
			for i, s := range tt.steps {
				var got []int
				collect := func(v int) { got = append(got, v) }
				switch s.op {
				case "add":
					j.Add(s.key, at(s.t), s.id, collect)
				case "resolve":
					j.Resolve(s.key, collect)
				case "expire":
					j.Expire(at(s.t), collect)
				}
				if got == nil {
					got = []int{}
				}
				if s.want != "" && fmt.Sprint(got) != s.want {
					t.Fatalf("step %d %s(%q, %d) = %v; want %s", i, s.op, s.key, s.t, got, s.want)
				}
			}
		})
	}
}

func TestEachRoundTrip(t *testing.T) {
	j := New[int](0)
	for i := 0; i < 50; i++ {
		j.Add(fmt.Sprint("k", i%7), at(100-i), i, nil)
	}
	j.Resolve("k3", func(int) {})
	j.Expire(at(60), func(int) {})
	k := New[int](0)
	j.Each(func(key string, d time.Time, v int) { k.Add(key, d, v, nil) })
	if j.Len() != k.Len() {
		t.Fatalf("restored Len = %d; want %d", k.Len(), j.Len())
	}
	var a, b []int
	j.Expire(at(1000), func(v int) { a = append(a, v) })
	k.Expire(at(1000), func(v int) { b = append(b, v) })
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("expiry after restore = %v; want %v", b, a)
	}
}
