package risk

import (
	"fmt"
	"math"
	"time"

	"github.com/perpetua-ml/perpetua/internal/feature/velocity"
)

// Feature indexes of the vector every model sees. The first 15 are the
// fraud handbook's baseline features (same definitions, with windows in
// whole days: see the velocity package; terminal windows end Delay days
// back, so they hold only labels that are known); the rest are amount
// ratios and the fraud labels already known for the customer and the
// terminal. Every label-based feature counts only labels that have
// arrived. The order is fixed (a future snapshot layout depends on it).
const (
	fAmount = iota
	fWeekend
	fNight
	fCustCount1
	fCustMean1
	fCustCount7
	fCustMean7
	fCustCount30
	fCustMean30
	fTermCount1
	fTermRisk1
	fTermCount7
	fTermRisk7
	fTermCount30
	fTermRisk30
	fAmountOverMean30 // amount / customer's 30-day mean (before this transaction)
	fMean1OverMean30  // customer's 1-day mean / 30-day mean
	fCustFraud30      // customer's known fraud labels over the delayed 30-day window
	fTermFraud7       // terminal's known fraud labels over the delayed 7-day window
	fAmountOverOld30  // amount / customer's mean over the delayed 30-day window (before any recent compromise)
	fCustKnownRecent  // fraud labels already arrived for the customer's transactions of the last Delay+1 days
	fTermKnownRecent  // fraud labels already arrived for the terminal's transactions of the last Delay+1 days
	NumFeatures
)

// featureInfo names each feature and says how to read it in plain words.
var featureInfo = [NumFeatures]struct {
	name string
	text string // printf pattern taking the value (and the typical value)
	kind byte   // a amount, c count, r rate, x ratio, b boolean
}{
	fAmount:           {"amount", "amount %s is high (typical %s)", 'a'},
	fWeekend:          {"weekend", "made at the weekend", 'b'},
	fNight:            {"night", "made at night (00:00-06:59)", 'b'},
	fCustCount1:       {"customer_count_1d", "customer made %s transactions today (typical %s)", 'c'},
	fCustMean1:        {"customer_mean_amount_1d", "customer's mean amount today is %s (typical %s)", 'a'},
	fCustCount7:       {"customer_count_7d", "customer made %s transactions in 7 days (typical %s)", 'c'},
	fCustMean7:        {"customer_mean_amount_7d", "customer's mean amount over 7 days is %s (typical %s)", 'a'},
	fCustCount30:      {"customer_count_30d", "customer made %s transactions in 30 days (typical %s)", 'c'},
	fCustMean30:       {"customer_mean_amount_30d", "customer's mean amount over 30 days is %s (typical %s)", 'a'},
	fTermCount1:       {"terminal_count_1d", "terminal had %s transactions on the latest labelled day (typical %s)", 'c'},
	fTermRisk1:        {"terminal_fraud_rate_1d", "terminal's known fraud rate on the latest labelled day is %s (typical %s)", 'r'},
	fTermCount7:       {"terminal_count_7d", "terminal had %s transactions in the latest 7 labelled days (typical %s)", 'c'},
	fTermRisk7:        {"terminal_fraud_rate_7d", "terminal's known fraud rate over the latest 7 labelled days is %s (typical %s)", 'r'},
	fTermCount30:      {"terminal_count_30d", "terminal had %s transactions in the latest 30 labelled days (typical %s)", 'c'},
	fTermRisk30:       {"terminal_fraud_rate_30d", "terminal's known fraud rate over the latest 30 labelled days is %s (typical %s)", 'r'},
	fAmountOverMean30: {"amount_over_customer_mean_30d", "amount is %s times the customer's 30-day mean (typical %s)", 'x'},
	fMean1OverMean30:  {"customer_mean_1d_over_30d", "customer's spending today is %s times their 30-day mean (typical %s)", 'x'},
	fCustFraud30:      {"customer_known_frauds_30d", "customer had %s confirmed frauds in the latest 30 labelled days (typical %s)", 'c'},
	fTermFraud7:       {"terminal_known_frauds_7d", "terminal had %s confirmed frauds in the latest 7 labelled days (typical %s)", 'c'},
	fAmountOverOld30:  {"amount_over_customer_mean_older_30d", "amount is %s times the customer's mean of the 30 days before last week (typical %s)", 'x'},
	fCustKnownRecent:  {"customer_recent_confirmed_frauds", "customer already has %s confirmed frauds among their latest transactions (typical %s)", 'c'},
	fTermKnownRecent:  {"terminal_recent_confirmed_frauds", "terminal already has %s confirmed frauds among its latest transactions (typical %s)", 'c'},
}

// FeatureNames returns the names of the features, in vector order.
func FeatureNames() []string {
	out := make([]string, NumFeatures)
	for i := range out {
		out[i] = featureInfo[i].name
	}
	return out
}

func formatValue(kind byte, v float64) string {
	switch kind {
	case 'a':
		return fmt.Sprintf("%.2f", v)
	case 'c':
		return fmt.Sprintf("%.0f", v)
	case 'r':
		return fmt.Sprintf("%.1f%%", 100*v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// reasonText says in plain words why feature i with value v (typical
// value typ) raised the score.
func reasonText(i int, v, typ float64) string {
	fi := featureInfo[i]
	if fi.kind == 'b' {
		return fi.text
	}
	return fmt.Sprintf(fi.text, formatValue(fi.kind, v), formatValue(fi.kind, typ))
}

// featurizer owns the two velocity tables: customers (recent windows for
// counts and means, delayed windows for their own known frauds) and
// terminals (delayed windows for counts and known fraud rates).
type featurizer struct {
	cust, term *velocity.Table
	agg        [4]velocity.Agg // windows 1, 7, 30 and Delay+1 days
	del        [4]velocity.Agg
}

func newFeaturizer(delayDays int) (*featurizer, error) {
	// The fourth window, Delay+1 days, read as a recent window, counts
	// every fraud label that has arrived for the latest transactions:
	// with labels that take exactly Delay days it holds those of the
	// partial day d-Delay, which the delayed windows leave out; labels
	// that come sooner count as soon as they come.
	ws := []int{1, 7, 30, delayDays + 1}
	cust, err := velocity.New(velocity.Config{Windows: ws, Delay: delayDays})
	if err != nil {
		return nil, err
	}
	term, err := velocity.New(velocity.Config{Windows: ws, Delay: delayDays})
	if err != nil {
		return nil, err
	}
	return &featurizer{cust: cust, term: term}, nil
}

// check reports whether the transaction can be recorded for both keys
// without changing anything (so a refused transaction corrupts nothing).
func (f *featurizer) check(cust, term uint64, sec int64, amount float64) error {
	if err := f.cust.Check(cust, sec, amount); err != nil {
		return fmt.Errorf("customer: %w", err)
	}
	if err := f.term.Check(term, sec, amount); err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	return nil
}

// add records the transaction and writes its feature vector into x. It
// must follow a successful check.
func (f *featurizer) add(x []float32, cust, term uint64, sec int64, amount float64) {
	_ = f.cust.Add(cust, sec, amount)
	_ = f.term.Add(term, sec, amount)

	t := time.Unix(sec, 0).UTC()
	wd := t.Weekday()
	x[fAmount] = float32(amount)
	x[fWeekend] = b2f(wd == time.Saturday || wd == time.Sunday)
	x[fNight] = b2f(t.Hour() <= 6)

	f.cust.Recent(f.agg[:], cust, sec)
	x[fCustCount1] = float32(f.agg[0].Count)
	x[fCustMean1] = float32(f.agg[0].Mean())
	x[fCustCount7] = float32(f.agg[1].Count)
	x[fCustMean7] = float32(f.agg[1].Mean())
	x[fCustCount30] = float32(f.agg[2].Count)
	x[fCustMean30] = float32(f.agg[2].Mean())
	m30 := f.agg[2].Mean()
	// The 30-day mean before this transaction, for the amount ratio.
	prevMean30 := 0.0
	if n := f.agg[2].Count - 1; n > 0 {
		prevMean30 = (f.agg[2].Sum - amount) / n
	}
	x[fAmountOverMean30] = float32(ratio(amount, prevMean30))
	x[fMean1OverMean30] = float32(ratio(f.agg[0].Mean(), m30))
	f.cust.Delayed(f.del[:], cust, sec)
	x[fCustFraud30] = float32(f.del[2].Fraud)
	x[fAmountOverOld30] = float32(ratio(amount, f.del[2].Mean()))
	x[fCustKnownRecent] = float32(f.agg[3].Fraud)

	f.term.Delayed(f.del[:], term, sec)
	x[fTermCount1] = float32(f.del[0].Count)
	x[fTermRisk1] = float32(f.del[0].Rate())
	x[fTermCount7] = float32(f.del[1].Count)
	x[fTermRisk7] = float32(f.del[1].Rate())
	x[fTermCount30] = float32(f.del[2].Count)
	x[fTermRisk30] = float32(f.del[2].Rate())
	x[fTermFraud7] = float32(f.del[1].Fraud)
	f.term.Recent(f.agg[:], term, sec)
	x[fTermKnownRecent] = float32(f.agg[3].Fraud)
}

// label records a known fraud label for the transaction's day.
func (f *featurizer) label(cust, term uint64, sec int64, value float64) {
	if value == 0 {
		return
	}
	// Errors mean the keys' buckets for that day are gone (evicted or
	// out of the span): the label is then too old to matter to any
	// window, so it is dropped.
	_ = f.cust.AddLabel(cust, sec, value)
	_ = f.term.AddLabel(term, sec, value)
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 1
	}
	return a / b
}

func b2f(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// scaler standardises features with running means and variances
// (Welford), for the linear model and for reason codes.
type scaler struct {
	n    float64
	mean [NumFeatures]float64
	m2   [NumFeatures]float64
}

func (s *scaler) update(x []float32) {
	s.n++
	for i, v := range x {
		d := float64(v) - s.mean[i]
		s.mean[i] += d / s.n
		s.m2[i] += d * (float64(v) - s.mean[i])
	}
}

func (s *scaler) apply(dst, x []float32) {
	for i, v := range x {
		sd := 1.0
		if s.n > 1 {
			sd = math.Sqrt(s.m2[i] / (s.n - 1))
		}
		if sd < 1e-9 {
			sd = 1
		}
		dst[i] = float32((float64(v) - s.mean[i]) / sd)
	}
}
