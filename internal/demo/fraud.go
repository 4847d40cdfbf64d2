package demo

import (
	"math"
	"sort"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/risk"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// fraudTask measures fraud scoring with package risk, in process (the
// engine does not serve risk scoring yet): every payment transaction is
// scored by three risk services before its label exists, and the scores
// are judged against the simulator's truth by average precision (the area
// under the precision-recall curve, the usual figure for rare fraud).
//
//   - continual: sees every transaction and every label as it arrives;
//   - frozen: the same, but receives no labels from freezeDay on (it keeps
//     its velocity features up to date, as a deployed model would; a
//     transaction unlabelled for the service's label delay, 7 days, would
//     still be learned as genuine, which runs shorter than that never see);
//   - retrain: at every midnight a fresh service replays the transactions
//     and labels of the last two days, then scores the day's transactions
//     without learning from labels until the next midnight.
type fraudTask struct {
	start     time.Time
	shift     time.Time
	freezeDay int
	day       int
	svcs      map[string]*risk.Service
	kept      []keptEvent // the last two days' transactions and labels, for retrain
	scores    map[string][]scored
	errs      int
}

type keptEvent struct {
	ev  event.Event
	day int
}

type scored struct {
	score float64
	fraud bool
	day   int
	post  bool
}

func newFraudTask(start, shift time.Time, freezeDay int) (*fraudTask, error) {
	f := &fraudTask{start: start, shift: shift, freezeDay: freezeDay, svcs: map[string]*risk.Service{}, scores: map[string][]scored{}}
	for _, n := range variants {
		s, err := risk.New(risk.Config{})
		if err != nil {
			return nil, err
		}
		f.svcs[n] = s
	}
	return f, nil
}

// observe scores a transaction with every variant or hands a fraud label
// to those that learn now.
func (f *fraudTask) observe(e *event.Event, tr *sim.Truth) {
	switch {
	case e.Type == event.TypeTransaction:
	case e.Type == event.TypeLabel && e.Kind == "fraud":
	default:
		return
	}
	d := int(e.Timestamp.Sub(f.start).Hours() / 24)
	if d > f.day {
		f.day = d
		f.retrain()
	}
	f.kept = append(f.kept, keptEvent{*e, d})
	if e.Type == event.TypeLabel {
		for n, s := range f.svcs {
			if n == nameRetrain && d >= 1 || n == nameFrozen && d >= f.freezeDay {
				continue
			}
			if s.Label(e.TargetID, e.Value, e.Timestamp) != nil {
				f.errs++
			}
		}
		return
	}
	tx := risk.Transaction{TransactionID: e.TransactionID, CustomerID: e.CustomerID, TerminalID: e.TerminalID,
		Amount: e.Amount, Currency: e.Currency, Timestamp: e.Timestamp}
	post := !f.shift.IsZero() && !e.Timestamp.Before(f.shift)
	for n, s := range f.svcs {
		r, err := s.Score(tx)
		if err != nil {
			f.errs++
			continue
		}
		f.scores[n] = append(f.scores[n], scored{r.Score, tr.Fraud, d, post})
	}
}

// retrain replaces the retrain variant by a fresh service trained on the
// kept last two days, and drops older kept events.
func (f *fraudTask) retrain() {
	i := 0
	for i < len(f.kept) && f.kept[i].day < f.day-2 {
		i++
	}
	f.kept = append(f.kept[:0], f.kept[i:]...)
	s, err := risk.New(risk.Config{})
	if err != nil {
		return
	}
	for _, k := range f.kept {
		s.Consume(k.ev) // a refused event changes nothing
	}
	f.svcs[nameRetrain] = s
}

// ap returns variant's average precision over the scored transactions
// keep selects; NaN without frauds.
func (f *fraudTask) ap(name string, keep func(scored) bool) float64 {
	var ss []scored
	frauds := 0
	for _, s := range f.scores[name] {
		if keep(s) {
			ss = append(ss, s)
			if s.fraud {
				frauds++
			}
		}
	}
	if frauds == 0 {
		return math.NaN()
	}
	sort.SliceStable(ss, func(a, b int) bool { return ss[a].score > ss[b].score })
	var sum float64
	tp := 0
	for i, s := range ss {
		if s.fraud {
			tp++
			sum += float64(tp) / float64(i+1)
		}
	}
	return sum / float64(frauds)
}
