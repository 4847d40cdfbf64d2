package risk

import (
	"encoding/json"
	"testing"
)

func TestDecideArm(t *testing.T) {
	p := newPolicy(CostConfig{ReviewCost: 3, Friction: 20, Scales: []float64{1}})
	tests := []struct {
		prob, amount float64
		canReview    bool
		want         Decision
	}{
		{0.001, 50, true, Approve}, // expected loss 0.05 < review 3
		{0.1, 50, true, Review},    // loss 5 > review 3; block 18
		{0.1, 50, false, Approve},  // no capacity: loss 5 < block 18
		{0.9, 50, true, Block},     // block 2 < review 3 < loss 45
		{0.5, 500, false, Block},   // no capacity: block 10 < loss 250
		{0.05, 1000, true, Review}, // loss 50, block 19: review 3
	}
	for _, tt := range tests {
		if got := p.decideArm(0, tt.prob, tt.amount, tt.canReview); got != tt.want {
			t.Errorf("decideArm(p=%v, amount=%v, review=%v) = %v; want %v", tt.prob, tt.amount, tt.canReview, got, tt.want)
		}
	}
}

func TestReviewCapacity(t *testing.T) {
	p := newPolicy(CostConfig{ReviewCapacity: 2, Scales: []float64{1}})
	var got []Decision
	for i := 0; i < 4; i++ {
		d, _ := p.decide(0.1, 50, 1000+int64(i))
		got = append(got, d)
	}
	d, _ := p.decide(0.1, 50, 86400+5) // next day: capacity again
	got = append(got, d)
	want := []Decision{Review, Review, Approve, Approve, Review}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("decisions with capacity 2 = %v; want %v", got, want)
		}
	}
}

// TestBanditFindsCheaperArm: when the model underestimates fraud by 10×,
// full-information feedback moves the policy to a stricter arm.
func TestBanditFindsCheaperArm(t *testing.T) {
	p := newPolicy(CostConfig{Scales: []float64{0.5, 1, 10}, ReviewCapacity: 1 << 20})
	if p.scale() != 1 {
		t.Fatalf("initial scale %v; want the neutral arm 1", p.scale())
	}
	for i := 0; i < 5000; i++ {
		// Stated probability 0.01, real fraud rate 10%, amount 100:
		// approving costs 10 per transaction on average, reviewing 3.
		_, bits := p.decide(0.01, 100, int64(i))
		y := 0.0
		if i%10 == 0 {
			y = 1
		}
		p.feedback(bits, y, 100)
	}
	if p.scale() != 10 {
		t.Errorf("scale after feedback = %v; want the strict arm 10", p.scale())
	}
}

func TestDecisionJSON(t *testing.T) {
	for _, d := range []Decision{Approve, Review, Block} {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Decision
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("round trip of %v via %s = %v, %v", d, b, back, err)
		}
	}
	var d Decision
	if err := json.Unmarshal([]byte(`"allow"`), &d); err == nil {
		t.Error(`Unmarshal("allow") = nil error; want an error`)
	}
}
