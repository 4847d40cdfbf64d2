package event

import "testing"

func TestClickstream(t *testing.T) {
	want := map[Type]bool{TypeView: true, TypeClick: true, TypeAddToCart: true, TypePurchase: true}
	for ty := TypeInvalid; ty < numTypes; ty++ {
		if got := ty.Clickstream(); got != want[ty] {
			t.Errorf("%q.Clickstream() = %v; want %v", ty, got, want[ty])
		}
	}
}
