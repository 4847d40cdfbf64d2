package feature

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ev(typ event.Type, sec int, user, item string) *event.Event {
	return &event.Event{Type: typ, Timestamp: t0.Add(time.Duration(sec) * time.Second), UserID: user, ItemID: item, Price: 19, HasPrice: true}
}

func TestFeatures(t *testing.T) {
	b := NewBehaviour(BehaviourConfig{UserHalfLife: time.Hour, ItemHalfLife: time.Hour})
	x := make([]float32, PurchaseDim)
	b.Features(x, "nobody", "nothing", t0)
	want := []float32{0, 0, 0, 0, 0, 0, 0, float32(0.1 / 5), 0, 1}
	for i := range want {
		if x[i] != want[i] {
			t.Errorf("cold start %s = %v; want %v", PurchaseNames[i], x[i], want[i])
		}
	}
	b.Observe(ev(event.TypeView, 0, "u", "i"))
	b.Observe(ev(event.TypeView, 0, "u", "i"))
	b.Observe(ev(event.TypeAddToCart, 0, "u", "i"))
	// One half-life later every user counter has halved.
	b.Features(x, "u", "i", t0.Add(time.Hour))
	checks := []struct {
		name string
		got  float32
		want float64
	}{
		{"user_views", x[0], math.Log1p(1) / 4},
		{"user_carts", x[2], math.Log1p(0.5) / 4},
		{"user_item_views", x[4], math.Log1p(1) / 4},
		{"user_item_in_cart", x[5], 0.5},
		{"item_views", x[6], math.Log1p(1) / 8},
		{"log_price", x[8], math.Log1p(19) / 8},
		{"log_seconds_since_last", x[9], math.Log1p(3600) / 14},
	}
	for _, c := range checks {
		if math.Abs(float64(c.got)-c.want) > 1e-6 {
			t.Errorf("after 1 half-life %s = %v; want %v", c.name, c.got, c.want)
		}
	}
	b.Observe(ev(event.TypePurchase, 3600, "u", "i"))
	b.Features(x, "u", "i", t0.Add(time.Hour))
	if x[5] != 0 {
		t.Errorf("in cart after purchase = %v; want 0", x[5])
	}
	if x[3] == 0 {
		t.Errorf("user_purchases after purchase = 0; want > 0")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	b := NewBehaviour(BehaviourConfig{})
	for i := 0; i < 200; i++ {
		typ := []event.Type{event.TypeView, event.TypeClick, event.TypeAddToCart, event.TypePurchase}[i%4]
		b.Observe(ev(typ, i*7, string(rune('a'+i%13)), string(rune('A'+i%17))))
	}
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := NewBehaviour(BehaviourConfig{})
	if err := c.UnmarshalBinary(data); err != nil {
		t.Fatalf("UnmarshalBinary: %v", err)
	}
	again, _ := c.MarshalBinary()
	if !bytes.Equal(data, again) {
		t.Fatal("re-encoding a restored Behaviour differs from the original encoding")
	}
	x, y := make([]float32, PurchaseDim), make([]float32, PurchaseDim)
	b.Features(x, "c", "D", t0.Add(time.Hour))
	c.Features(y, "c", "D", t0.Add(time.Hour))
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("restored feature %s = %v; want %v", PurchaseNames[i], y[i], x[i])
		}
	}
	// Every corruption is detected and leaves the state unchanged.
	for i := 0; i < len(data); i += 1 + len(data)/50 {
		bad := bytes.Clone(data)
		bad[i] ^= 0x40
		if err := c.UnmarshalBinary(bad); err == nil {
			t.Fatalf("UnmarshalBinary with byte %d flipped: no error", i)
		}
		if err := c.UnmarshalBinary(bad[:i]); err == nil {
			t.Fatalf("UnmarshalBinary truncated to %d bytes: no error", i)
		}
	}
	now, _ := c.MarshalBinary()
	if !bytes.Equal(now, data) {
		t.Fatal("failed UnmarshalBinary changed the state")
	}
}

func TestExpire(t *testing.T) {
	b := NewBehaviour(BehaviourConfig{IdleExpiry: time.Hour})
	b.Observe(ev(event.TypeView, 0, "old", "i1"))
	b.Observe(ev(event.TypeView, 7200, "new", "i2"))
	users, _ := b.Expire(t0.Add(2 * time.Hour))
	if nu, _ := b.Len(); users != 1 || nu != 1 {
		t.Fatalf("Expire dropped %d users, %d left; want 1 dropped, 1 left", users, nu)
	}
}

func BenchmarkFeatures(b *testing.B) {
	bh := NewBehaviour(BehaviourConfig{})
	for i := 0; i < 1000; i++ {
		bh.Observe(ev(event.TypeView, i, "u", "i"))
	}
	x := make([]float32, PurchaseDim)
	now := t0.Add(time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		bh.Features(x, "u", "i", now)
	}
}
