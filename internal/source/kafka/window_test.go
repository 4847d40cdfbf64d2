package kafka

import (
	"fmt"
	"testing"
)

func TestWindow(t *testing.T) {
	w := newWindow(3)
	for _, id := range []string{"a", "b", "a", "c", "d"} {
		w.add(id)
	}
	// The last three adds are a, c, d: b fell out, a is still in.
	tests := []struct {
		id   string
		want bool
	}{{"a", true}, {"b", false}, {"c", true}, {"d", true}, {"e", false}}
	for _, tc := range tests {
		if got := w.has(tc.id); got != tc.want {
			t.Errorf("has(%q) = %v; want %v", tc.id, got, tc.want)
		}
	}
	for i := 0; i < 10; i++ {
		w.add(fmt.Sprint(i))
	}
	if len(w.set) != 3 || len(w.ids) != 3 {
		t.Fatalf("after many adds: %d ids in the set, %d in the ring; want 3, 3", len(w.set), len(w.ids))
	}
	var off *window
	off.add("x")
	if off.has("x") {
		t.Fatalf("a nil window remembered an id")
	}
}
