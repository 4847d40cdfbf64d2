package risk

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// synth is a small seeded stream: 200 customers, 300 terminals, a few
// compromised terminals (every transaction there is fraud) and large
// fraudulent amounts.
type synthTx struct {
	tx    Transaction
	fraud bool
}

func synth(seed uint64, n int) []synthTx {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]synthTx, 0, n)
	at := t0
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(rng.IntN(60)) * time.Second)
		c, term := rng.IntN(200), rng.IntN(300)
		amt := math.Round((20+rng.Float64()*80)*100) / 100
		fraud := false
		if term < 6 && at.Sub(t0) > 3*24*time.Hour {
			fraud = true
		}
		if rng.IntN(300) == 0 {
			amt, fraud = 250+rng.Float64()*200, true
		}
		out = append(out, synthTx{Transaction{
			TransactionID: fmt.Sprintf("tx%d", i), CustomerID: fmt.Sprintf("c%d", c), TerminalID: fmt.Sprintf("t%d", term),
			Amount: amt, Currency: "EUR", Timestamp: at,
		}, fraud})
	}
	return out
}

func TestScoreValidation(t *testing.T) {
	s, err := New(Config{Currencies: map[string]float64{"EUR": 1, "USD": 0.9}})
	if err != nil {
		t.Fatal(err)
	}
	good := Transaction{TransactionID: "a", CustomerID: "c", TerminalID: "t", Amount: 10, Currency: "EUR", Timestamp: t0.Add(48 * time.Hour)}
	if _, err := s.Score(good); err != nil {
		t.Fatal(err)
	}
	mod := func(f func(*Transaction)) Transaction {
		tx := good
		tx.TransactionID = "b"
		f(&tx)
		return tx
	}
	tests := []struct {
		name  string
		tx    Transaction
		field string // FieldError field, or "" for a sentinel
		want  error
	}{
		{"negative amount", mod(func(t *Transaction) { t.Amount = -1 }), "amount", nil},
		{"NaN amount", mod(func(t *Transaction) { t.Amount = math.NaN() }), "amount", nil},
		{"infinite amount", mod(func(t *Transaction) { t.Amount = math.Inf(1) }), "amount", nil},
		{"unknown currency", mod(func(t *Transaction) { t.Currency = "XYZ" }), "currency", nil},
		{"no currency", mod(func(t *Transaction) { t.Currency = "" }), "currency", nil},
		{"no id", mod(func(t *Transaction) { t.TransactionID = "" }), "transaction_id", nil},
		{"no customer", mod(func(t *Transaction) { t.CustomerID = "" }), "customer_id", nil},
		{"no terminal", mod(func(t *Transaction) { t.TerminalID = "" }), "terminal_id", nil},
		{"no timestamp", mod(func(t *Transaction) { t.Timestamp = time.Time{} }), "timestamp", nil},
		{"duplicate id", mod(func(t *Transaction) { t.TransactionID = "a" }), "", ErrDuplicate},
		{"two days late", mod(func(t *Transaction) { t.Timestamp = t0 }), "", ErrOutOfOrder},
	}
	for _, tt := range tests {
		_, err := s.Score(tt.tx)
		var fe *FieldError
		switch {
		case tt.field != "":
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("%s: Score(%+v) = %v; want a FieldError on %q", tt.name, tt.tx, err, tt.field)
			}
		case !errors.Is(err, tt.want):
			t.Errorf("%s: Score(%+v) = %v; want %v", tt.name, tt.tx, err, tt.want)
		}
	}
	// A converted currency and a slightly late transaction are fine.
	if _, err := s.Score(mod(func(t *Transaction) { t.Currency = "USD"; t.Timestamp = t.Timestamp.Add(-time.Hour) })); err != nil {
		t.Errorf("Score(USD, 1 h late) = %v; want nil", err)
	}
	if st := s.Stats(); st.Scored != 2 || st.Pending != 2 {
		t.Errorf("after 2 good and %d bad transactions: Stats = %+v; want 2 scored, 2 pending", len(tests), st)
	}
}

// TestBadInputCorruptsNothing feeds one service a stream with bad
// transactions and labels mixed in, and another the same stream without
// them: every score must be identical.
func TestBadInputCorruptsNothing(t *testing.T) {
	a, _ := New(Config{})
	b, _ := New(Config{})
	stream := synth(1, 3000)
	for i, st := range stream {
		if i%7 == 0 && i > 0 {
			bad := st.tx
			bad.Amount = -5
			if _, err := a.Score(bad); err == nil {
				t.Fatal("negative amount accepted")
			}
			bad = st.tx
			bad.Currency = "ZZZ"
			if _, err := a.Score(bad); err == nil {
				t.Fatal("unknown currency accepted")
			}
			bad = st.tx
			bad.Timestamp = t0.Add(-30 * 24 * time.Hour)
			bad.TransactionID += "-old"
			if _, err := a.Score(bad); err == nil {
				t.Fatal("month-old transaction accepted")
			}
			if err := a.Label("nope", 1, st.tx.Timestamp); !errors.Is(err, ErrUnknownTransaction) {
				t.Fatalf("label for unknown transaction: %v", err)
			}
		}
		ra, errA := a.Score(st.tx)
		rb, errB := b.Score(st.tx)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if i%7 == 3 && i > 0 {
			// A duplicate is refused and changes nothing.
			if _, err := a.Score(st.tx); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("duplicate: %v", err)
			}
		}
		if ra.Score != rb.Score || ra.Decision != rb.Decision {
			t.Fatalf("transaction %d: score %v/%v with bad input mixed in, %v/%v without", i, ra.Score, ra.Decision, rb.Score, rb.Decision)
		}
		if st.fraud {
			at := st.tx.Timestamp.Add(time.Hour)
			if err := a.Label(st.tx.TransactionID, 1, at); err != nil {
				t.Fatal(err)
			}
			if err := b.Label(st.tx.TransactionID, 1, at); err != nil {
				t.Fatal(err)
			}
			// A second label is refused.
			if err := a.Label(st.tx.TransactionID, 1, at); !errors.Is(err, ErrUnknownTransaction) {
				t.Fatalf("second label: %v; want ErrUnknownTransaction", err)
			}
		}
	}
}

func TestLabelErrors(t *testing.T) {
	s, _ := New(Config{})
	tx := Transaction{TransactionID: "a", CustomerID: "c", TerminalID: "t", Amount: 10, Currency: "EUR", Timestamp: t0}
	if _, err := s.Score(tx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		id    string
		value float64
		at    time.Time
		want  error
		field string
	}{
		{"unknown", "zz", 1, t0.Add(time.Hour), ErrUnknownTransaction, ""},
		{"before its transaction", "a", 1, t0.Add(-time.Hour), ErrOutOfOrder, ""},
		{"value out of range", "a", 2, t0.Add(time.Hour), nil, "value"},
		{"NaN value", "a", math.NaN(), t0.Add(time.Hour), nil, "value"},
		{"no id", "", 1, t0.Add(time.Hour), nil, "target_id"},
		{"no time", "a", 1, time.Time{}, nil, "timestamp"},
		{"in time", "a", 1, t0.Add(time.Hour), nil, ""},
		{"twice", "a", 1, t0.Add(2 * time.Hour), ErrUnknownTransaction, ""},
	}
	for _, tt := range tests {
		err := s.Label(tt.id, tt.value, tt.at)
		var fe *FieldError
		switch {
		case tt.field != "":
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("%s: Label(%q, %v) = %v; want a FieldError on %q", tt.name, tt.id, tt.value, err, tt.field)
			}
		case !errors.Is(err, tt.want) || (tt.want == nil && err != nil):
			t.Errorf("%s: Label(%q, %v) = %v; want %v", tt.name, tt.id, tt.value, err, tt.want)
		}
	}
	// After the delay a transaction is genuine; a later label is refused.
	tx.TransactionID = "b"
	if _, err := s.Score(tx); err != nil {
		t.Fatal(err)
	}
	s.Advance(t0.Add(8 * 24 * time.Hour))
	if err := s.Label("b", 1, t0.Add(8*24*time.Hour)); !errors.Is(err, ErrUnknownTransaction) {
		t.Errorf("label after maturity = %v; want ErrUnknownTransaction", err)
	}
	if st := s.Stats(); st.Matured != 1 || st.Frauds != 1 || st.Labelled != 2 {
		t.Errorf("Stats = %+v; want 2 labelled: 1 fraud, 1 matured", st)
	}
}

// spy records what the model is taught and checks, at every Learn, that
// the label was known by the service's clock.
type spy struct {
	t       *testing.T
	s       *Service
	known   map[float32]time.Time // amount → when its fraud label became known
	events  map[float32]time.Time // amount → transaction time
	delay   time.Duration
	learned int
}

func (sp *spy) Predict(x []float32) float64 { return 0.5 }
func (sp *spy) Learn(x []float32, y float64) {
	sp.learned++
	clock := sp.s.mu.e.pend.Clock()
	k, ok := sp.known[x[fAmount]]
	if !ok {
		// Matured as genuine: known at event time + delay.
		k = sp.events[x[fAmount]].Add(sp.delay)
		if y != 0 {
			sp.t.Fatalf("example without a fraud label learned as fraud")
		}
	}
	if k.Unix() > clock {
		sp.t.Fatalf("model learned a label known at %v while the clock was at %v", k, time.Unix(clock, 0).UTC())
	}
}

// TestNoLabelLeakage: a spy model sees every example the service learns
// from; each must have its label known at or before the service's clock
// at that moment: a fraud label's own time, or for a genuine example its
// transaction time plus the label delay.
func TestNoLabelLeakage(t *testing.T) {
	s, _ := New(Config{Delay: 2 * 24 * time.Hour, Model: ModelConfig{NegativeRate: 1}})
	sp := &spy{t: t, s: s, known: map[float32]time.Time{}, events: map[float32]time.Time{}, delay: 2 * 24 * time.Hour}
	s.mu.e.m.spy = sp
	stream := synth(3, 6000)
	type lab struct {
		id string
		at time.Time
	}
	var due []lab
	for i, st := range stream {
		st.tx.Amount = float64(i) + 0.5 // unique amounts identify examples
		sp.events[float32(st.tx.Amount)] = st.tx.Timestamp
		for len(due) > 0 && !due[0].at.After(st.tx.Timestamp) {
			if err := s.Label(due[0].id, 1, due[0].at); err != nil {
				t.Fatal(err)
			}
			due = due[1:]
		}
		if _, err := s.Score(st.tx); err != nil {
			t.Fatal(err)
		}
		if st.fraud {
			at := st.tx.Timestamp.Add(time.Duration(1+i%40) * time.Hour)
			sp.known[float32(st.tx.Amount)] = at
			due = append(due, lab{st.tx.TransactionID, at})
			slices.SortStableFunc(due, func(a, b lab) int { return a.at.Compare(b.at) })
		}
	}
	for _, d := range due {
		if err := s.Label(d.id, 1, d.at); err != nil {
			t.Fatal(err)
		}
	}
	s.Advance(stream[len(stream)-1].tx.Timestamp.Add(3 * 24 * time.Hour))
	if sp.learned != len(stream) {
		t.Fatalf("the model learned %d of %d examples; want all (NegativeRate 1)", sp.learned, len(stream))
	}
}

func TestConsume(t *testing.T) {
	s, _ := New(Config{})
	ev := event.Event{ID: "e1", Type: event.TypeTransaction, Timestamp: t0, TransactionID: "tx1", CustomerID: "c", TerminalID: "t", Amount: 5, Currency: "EUR"}
	if err := s.Consume(ev); err != nil {
		t.Fatal(err)
	}
	lab := event.Event{ID: "e2", Type: event.TypeLabel, Timestamp: t0.Add(time.Hour), TargetID: "tx1", Kind: "fraud", Value: 1}
	if err := s.Consume(lab); err != nil {
		t.Fatal(err)
	}
	if err := s.Consume(lab); !errors.Is(err, ErrUnknownTransaction) {
		t.Errorf("Consume(label twice) = %v; want ErrUnknownTransaction", err)
	}
	if err := s.Consume(event.Event{Type: event.TypeView, Timestamp: t0}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Consume(view) = %v; want ErrUnsupported", err)
	}
	if st := s.Stats(); st.Frauds != 1 {
		t.Errorf("Stats().Frauds = %d; want 1", st.Frauds)
	}
}

// TestLearnsAndExplains: after a few simulated days, transactions at a
// compromised terminal score far above normal ones, and the reasons name
// the terminal's fraud history.
func TestLearnsAndExplains(t *testing.T) {
	s, _ := New(Config{Delay: 24 * time.Hour})
	stream := synth(5, 24000)
	var fraudScores, goodScores []float64
	var last Result
	for i, st := range stream {
		r, err := s.Score(st.tx)
		if err != nil {
			t.Fatal(err)
		}
		if st.fraud {
			if err := s.Label(st.tx.TransactionID, 1, st.tx.Timestamp.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if i > len(stream)*3/4 {
			if st.fraud && st.tx.Amount < 200 {
				fraudScores = append(fraudScores, r.Score)
				last = r
			} else if !st.fraud {
				goodScores = append(goodScores, r.Score)
			}
		}
	}
	mf, mg := mean(fraudScores), mean(goodScores)
	if !(mf > 5*mg) {
		t.Errorf("mean score: compromised terminals %.4f, others %.4f; want the first far higher", mf, mg)
	}
	if len(last.Reasons) == 0 || !strings.Contains(last.Reasons[0].Feature, "terminal") {
		t.Errorf("reasons for a compromised terminal: %+v; want a terminal feature first", last.Reasons)
	}
	b, _ := json.Marshal(last)
	if !strings.Contains(string(b), `"decision":"`) || !strings.Contains(string(b), `"model_version":"arf/`) {
		t.Errorf("JSON %s: want decision as a name and a model version", b)
	}
	st := s.Stats()
	if st.Learned == 0 || st.Customers != 200 || st.Terminals != 300 {
		t.Errorf("Stats = %+v; want learning, 200 customers and 300 terminals", st)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"partial day delay", Config{Delay: 36 * time.Hour}, false},
		{"bad currency code", Config{Currencies: map[string]float64{"eur": 1}}, false},
		{"bad rate", Config{Currencies: map[string]float64{"EUR": 0}}, false},
		{"bad model", Config{Model: ModelConfig{Model: "svm"}}, false},
		{"bad negative rate", Config{Model: ModelConfig{NegativeRate: 2}}, false},
		{"bad review cost", Config{Cost: CostConfig{ReviewCost: -1}}, false},
		{"bad scale", Config{Cost: CostConfig{Scales: []float64{1, 0}}}, false},
		{"hat", Config{Model: ModelConfig{Model: ModelHAT}}, true},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v; want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestModels(t *testing.T) {
	for _, m := range []Model{ModelLogistic, ModelHAT, ModelARF, ModelEnsemble} {
		s, err := New(Config{Delay: 24 * time.Hour, Model: ModelConfig{Model: m}})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range synth(2, 3000) {
			if _, err := s.Score(st.tx); err != nil {
				t.Fatal(err)
			}
			if st.fraud {
				_ = s.Label(st.tx.TransactionID, 1, st.tx.Timestamp)
			}
		}
		r, err := s.Score(Transaction{TransactionID: "big", CustomerID: "c1", TerminalID: "t1", Amount: 50, Currency: "EUR", Timestamp: t0.Add(4 * 24 * time.Hour)})
		if err != nil || !(r.Score >= 0 && r.Score <= 1) || !strings.HasPrefix(r.ModelVersion, string(m)+"/") {
			t.Errorf("model %s: Score = %+v, %v; want a probability and version %s/…", m, r, err, m)
		}
	}
}
