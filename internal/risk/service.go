// Package risk scores payment transactions for fraud in real time and
// decides what to do with them, learning online from labels that arrive
// days later.
//
// A Service keeps, for every customer and terminal, windowed velocity
// features over event time (package velocity), scores each transaction
// with an online model (logistic regression, a Hoeffding adaptive tree,
// an adaptive random forest, or ARF and logistic averaged), and decides
// approve / review / block by comparing expected costs under a cost
// matrix with a daily review capacity; the strictness of that comparison
// is an arm of a bandit that learns from the labels which setting costs
// least. Every decision carries reason codes: the features whose value
// raised the score most, in plain words.
//
// # Delayed labels
//
// Every scored transaction is remembered (package label, Pending) until
// its label event arrives or the label delay passes, after which it is
// taken as genuine. The model, the terminal fraud rates and the policy
// learn from a transaction only at that moment, so at time t nothing has
// seen a label dated after t (a test checks this with a spy learner).
// Terminal fraud rates use delayed windows: only days whose labels are
// all known count.
//
// # Bad input
//
// Score and Consume validate before they change anything: a refused
// transaction leaves every per-key window, the label book and the model
// as they were. Errors are *FieldError (naming the field) or wrap one of
// the sentinels below:
//   - amounts must be finite and ≥ 0, currencies must be configured;
//   - a transaction id already pending is ErrDuplicate;
//   - timestamps may go backwards by up to MaxLateness (default 24 h):
//     such a transaction is scored with the windows as of its own day;
//     older ones are ErrOutOfOrder, as are transactions older than a
//     key's window span;
//   - a label for an unknown, already labelled or already matured
//     transaction is ErrUnknownTransaction; a label dated before its
//     transaction is ErrOutOfOrder; a label dated before the label clock
//     (the latest label or transaction time) counts as known at the
//     clock.
//
// Concurrency: a Service is safe for concurrent use; one mutex serialises
// scoring and learning (one writer), which is what keeps per-key state
// exact. Scoring a transaction costs a few microseconds.
package risk

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/feature/velocity"
	"github.com/perpetua-ml/perpetua/internal/label"
)

// Sentinel errors callers branch on.
var (
	ErrDuplicate          = errors.New("risk: transaction id already scored and awaiting its label")
	ErrOutOfOrder         = errors.New("risk: timestamp too far in the past")
	ErrUnknownTransaction = errors.New("risk: label for an unknown transaction (never scored, already labelled, or past the label delay)")
	ErrUnsupported        = errors.New("risk: unsupported event type")
)

// FieldError reports an invalid request field.
type FieldError struct {
	Field  string // JSON name
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("risk: %s: %s", e.Field, e.Reason) }

// Config configures a Service. The zero value means the defaults.
type Config struct {
	// Delay is the label delay: a transaction without a label after it
	// is genuine, and terminal fraud rates skip the latest Delay days.
	// Whole days; 0 means 7 days.
	Delay time.Duration
	// MaxLateness is how far a transaction's timestamp may lie before
	// the newest one seen; 0 means 24 h.
	MaxLateness time.Duration
	// Currencies maps each accepted ISO 4217 code to the factor that
	// converts its amounts to the base currency of the cost matrix; nil
	// means {"EUR": 1}.
	Currencies map[string]float64
	// MaxPending bounds the transactions awaiting labels; 0 means
	// 10,000,000 (the oldest is then taken as genuine early).
	MaxPending int
	// Reasons is the number of reason codes per decision; 0 means 3.
	Reasons int
	Model   ModelConfig
	Cost    CostConfig
}

func (c Config) withDefaults() Config {
	if c.Delay == 0 {
		c.Delay = 7 * 24 * time.Hour
	}
	if c.MaxLateness == 0 {
		c.MaxLateness = 24 * time.Hour
	}
	if c.Currencies == nil {
		c.Currencies = map[string]float64{"EUR": 1}
	}
	if c.Reasons == 0 {
		c.Reasons = 3
	}
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.Delay < 0 || c.Delay%(24*time.Hour) != 0 || c.Delay > 365*24*time.Hour {
		return fmt.Errorf("risk: Delay = %v: want whole days, 0..365", c.Delay)
	}
	if c.MaxLateness < 0 {
		return fmt.Errorf("risk: MaxLateness = %v: want ≥ 0", c.MaxLateness)
	}
	for k, v := range c.Currencies {
		if !validCurrency(k) {
			return fmt.Errorf("risk: Currencies[%q]: want an ISO 4217 code of three upper-case letters", k)
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("risk: Currencies[%q] = %v: want a finite rate > 0", k, v)
		}
	}
	if c.Reasons < 0 || c.Reasons > NumFeatures {
		return fmt.Errorf("risk: Reasons = %d: want 0..%d", c.Reasons, NumFeatures)
	}
	if err := c.Model.Validate(); err != nil {
		return err
	}
	return c.Cost.Validate()
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// Transaction is the request body of POST /v1/risk/score.
type Transaction struct {
	TransactionID string    `json:"transaction_id"`
	CustomerID    string    `json:"customer_id"`
	TerminalID    string    `json:"terminal_id"`
	Amount        float64   `json:"amount"`
	Currency      string    `json:"currency"`
	Timestamp     time.Time `json:"timestamp"`
}

// Reason is one reason code: a feature that raised the score.
type Reason struct {
	Feature string `json:"feature"`
	// Text says it in plain words.
	Text string `json:"text"`
	// Impact is how much the score drops when the feature takes its
	// typical (mean) value instead.
	Impact float64 `json:"impact"`
}

// Result is the response body of POST /v1/risk/score.
type Result struct {
	TransactionID string `json:"transaction_id"`
	// Score is the estimated probability that the transaction is fraud.
	Score    float64  `json:"score"`
	Decision Decision `json:"decision"`
	Reasons  []Reason `json:"reasons"`
	// ModelVersion names the model and how many labelled examples it
	// has learned, e.g. "ensemble/1532".
	ModelVersion string `json:"model_version"`
	// ThresholdScale is the bandit arm that made the decision.
	ThresholdScale float64 `json:"threshold_scale"`
}

// Stats is a snapshot of a Service's counters.
type Stats struct {
	Scored        uint64   `json:"scored"`
	Pending       int      `json:"pending"`
	Labelled      uint64   `json:"labelled"`
	Frauds        uint64   `json:"frauds"`
	Matured       uint64   `json:"matured"`
	Learned       uint64   `json:"learned"`
	ErrorDrifts   int      `json:"error_drifts"`
	ScoreDrifts   int      `json:"score_drifts"`
	ThresholdArm  int      `json:"threshold_arm"`
	Customers     int      `json:"customers"`
	Terminals     int      `json:"terminals"`
	KeysEvicted   uint64   `json:"keys_evicted"`
	ReviewsToday  int      `json:"reviews_today"`
	ReviewPerDay  int      `json:"review_capacity"`
	ThresholdPlay []uint64 `json:"threshold_plays"`
}

// Service scores transactions and learns from their labels.
type Service struct {
	cfg  Config
	seed maphash.Seed

	mu struct {
		sync.Mutex
		e      *engine[string] // guarded by mu
		x      [NumFeatures]float32
		xp     [NumFeatures]float32
		clock  int64 // newest transaction time seen, Unix seconds
		scored uint64
	}
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e, err := newEngine[string](int(cfg.Delay/(24*time.Hour)), cfg.Model, cfg.Cost, cfg.MaxPending)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, seed: maphash.MakeSeed()}
	s.mu.e = e
	s.mu.clock = math.MinInt64
	return s, nil
}

func (s *Service) key(kind byte, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteByte(kind)
	h.WriteString(id)
	return h.Sum64()
}

func (s *Service) validate(tx *Transaction) error {
	switch {
	case tx.TransactionID == "":
		return &FieldError{"transaction_id", "required"}
	case tx.CustomerID == "":
		return &FieldError{"customer_id", "required"}
	case tx.TerminalID == "":
		return &FieldError{"terminal_id", "required"}
	case math.IsNaN(tx.Amount) || math.IsInf(tx.Amount, 0):
		return &FieldError{"amount", fmt.Sprintf("must be a finite number (got %v)", tx.Amount)}
	case tx.Amount < 0:
		return &FieldError{"amount", fmt.Sprintf("must be ≥ 0 (got %v)", tx.Amount)}
	case tx.Timestamp.IsZero():
		return &FieldError{"timestamp", "required"}
	}
	if _, ok := s.cfg.Currencies[tx.Currency]; !ok {
		if tx.Currency == "" {
			return &FieldError{"currency", "required"}
		}
		return &FieldError{"currency", fmt.Sprintf("unknown currency %q (accepted: %v)", tx.Currency, s.currencies())}
	}
	return nil
}

func (s *Service) currencies() []string {
	out := make([]string, 0, len(s.cfg.Currencies))
	for k := range s.cfg.Currencies {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Score scores one transaction, records it (velocity windows, label
// book) and returns the decision with its reasons. On error nothing
// changes.
func (s *Service) Score(tx Transaction) (Result, error) {
	if err := s.validate(&tx); err != nil {
		return Result{}, err
	}
	amount := tx.Amount * s.cfg.Currencies[tx.Currency]
	sec := tx.Timestamp.Unix()
	cust, term := s.key('c', tx.CustomerID), s.key('t', tx.TerminalID)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.clock != math.MinInt64 && sec < s.mu.clock-int64(s.cfg.MaxLateness/time.Second) {
		return Result{}, fmt.Errorf("%w: transaction %q at %s is more than %v before the newest transaction (%s)",
			ErrOutOfOrder, tx.TransactionID, tx.Timestamp.UTC().Format(time.RFC3339), s.cfg.MaxLateness, time.Unix(s.mu.clock, 0).UTC().Format(time.RFC3339))
	}
	e := s.mu.e
	if err := e.check(tx.TransactionID, cust, term, sec, amount); err != nil {
		if errors.Is(err, velocity.ErrTooOld) {
			return Result{}, fmt.Errorf("%w: transaction %q: %v", ErrOutOfOrder, tx.TransactionID, err)
		}
		if errors.Is(err, ErrDuplicate) {
			return Result{}, fmt.Errorf("%w: %q", ErrDuplicate, tx.TransactionID)
		}
		return Result{}, fmt.Errorf("risk: transaction %q: %v", tx.TransactionID, err)
	}
	x := s.mu.x[:]
	p, prob, d := e.score(tx.TransactionID, cust, term, sec, amount, x)
	s.mu.clock = max(s.mu.clock, sec)
	s.mu.scored++
	return Result{
		TransactionID:  tx.TransactionID,
		Score:          prob,
		Decision:       d,
		Reasons:        s.reasonsLocked(x, p),
		ModelVersion:   fmt.Sprintf("%s/%d", e.m.cfg.Model, e.m.seen),
		ThresholdScale: e.pol.scale(),
	}, nil
}

// reasonsLocked ranks features by how much the score drops when each
// takes its running mean instead of its value.
func (s *Service) reasonsLocked(x []float32, p float64) []Reason {
	e := s.mu.e
	type imp struct {
		i int
		d float64
	}
	var all [NumFeatures]imp
	xp := s.mu.xp[:]
	for i := range x {
		copy(xp, x)
		xp[i] = float32(e.m.sc.mean[i])
		all[i] = imp{i, p - e.m.predict(xp)}
	}
	slices.SortStableFunc(all[:], func(a, b imp) int {
		switch {
		case a.d > b.d:
			return -1
		case a.d < b.d:
			return 1
		}
		return 0
	})
	out := []Reason{}
	for _, a := range all[:s.cfg.Reasons] {
		if a.d <= 0 {
			break
		}
		out = append(out, Reason{
			Feature: featureInfo[a.i].name,
			Text:    reasonText(a.i, float64(x[a.i]), e.m.sc.mean[a.i]),
			Impact:  a.d,
		})
	}
	return out
}

// Consume takes an event from the log: a transaction is scored (the
// decision is dropped: use Score to get it), a label (event.TypeLabel
// with TargetID = the transaction id, Value 1 = fraud, 0 = genuine)
// resolves its transaction, and the model learns from it now. Other event
// types are ErrUnsupported.
func (s *Service) Consume(ev event.Event) error {
	switch ev.Type {
	case event.TypeTransaction:
		id := ev.TransactionID
		if id == "" {
			id = ev.ID
		}
		_, err := s.Score(Transaction{TransactionID: id, CustomerID: ev.CustomerID, TerminalID: ev.TerminalID,
			Amount: ev.Amount, Currency: ev.Currency, Timestamp: ev.Timestamp})
		return err
	case event.TypeLabel:
		return s.Label(ev.TargetID, ev.Value, ev.Timestamp)
	default:
		return fmt.Errorf("%w %q: want transaction or label", ErrUnsupported, ev.Type)
	}
}

// Label resolves transaction id with value (1 fraud, 0 genuine), known
// from time at; the model learns from it now.
func (s *Service) Label(id string, value float64, at time.Time) error {
	switch {
	case id == "":
		return &FieldError{"target_id", "required"}
	case math.IsNaN(value) || math.IsInf(value, 0) || value < 0 || value > 1:
		return &FieldError{"value", fmt.Sprintf("must be in [0, 1] (got %v)", value)}
	case at.IsZero():
		return &FieldError{"timestamp", "required"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.mu.e.label(id, at.Unix(), value)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, label.ErrNotPending):
		return fmt.Errorf("%w: %q", ErrUnknownTransaction, id)
	case errors.Is(err, label.ErrLabelBeforeEvent):
		return fmt.Errorf("%w: label for %q: %v", ErrOutOfOrder, id, err)
	}
	return fmt.Errorf("risk: label for %q: %v", id, err)
}

// Advance moves the label clock to now without a transaction, maturing
// transactions whose label delay has passed (as genuine).
func (s *Service) Advance(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.e.advance(now.Unix())
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.mu.e
	return Stats{
		Scored: s.mu.scored, Pending: e.pend.Len(), Labelled: e.labelled, Frauds: e.frauds, Matured: e.matured,
		Learned: e.m.seen, ErrorDrifts: e.m.errDrifts, ScoreDrifts: e.m.scoreDrifts, ThresholdArm: e.pol.best,
		Customers: e.feat.cust.Len(), Terminals: e.feat.term.Len(), KeysEvicted: e.feat.cust.Evicted() + e.feat.term.Evicted(),
		ReviewsToday: e.pol.used[e.pol.best], ReviewPerDay: e.pol.cfg.ReviewCapacity,
		ThresholdPlay: slices.Clone(e.pol.plays[:e.pol.arms]),
	}
}
