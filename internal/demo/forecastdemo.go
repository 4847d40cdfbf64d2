package demo

import (
	"math"
	"time"

	"github.com/perpetua-ml/perpetua/internal/event"
	"github.com/perpetua-ml/perpetua/internal/learn/forecast"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// forecastTask measures demand forecasts: units sold per category per
// hour (from the purchase events, priced by the simulator's catalog),
// forecast one hour ahead by an online Holt-Winters model (additive daily
// season) updated every hour, against the same model frozen at the end
// of day freezeDay (it then forecasts the rest of the run from there),
// and against a model refitted from scratch at every midnight on the last
// two days and forecasting the next 24 hours. A few days of data are too
// short for daily per-SKU series, hence hourly per-category ones; the
// error is the mean absolute error in units per category-hour.
type forecastTask struct {
	w         *sim.World
	start     time.Time
	shift     time.Time
	freezeDay int
	cats      int
	catOf     map[string]int
	itemsDay  int
	hour      int         // the open hour
	cur       []float64   // units per category in the open hour
	hist      [][]float64 // per category, closed hours
	online    []*forecast.ETS
	frozenF   [][]float64 // per category, forecasts from the freeze hour on
	retrainF  [][]float64 // per category, forecasts from the last midnight on
	errSum    map[string][]float64
	errN      []float64
	post      map[string]float64
	postN     float64
	one       []float64
}

func newHW() *forecast.ETS {
	return forecast.NewHoltWinters(forecast.SeasonAdditive, []int{24}, 0.2, 0.01, 0, 0.2)
}

func newForecastTask(w *sim.World, freezeDay, days int, shift time.Time) *forecastTask {
	cats := w.Config().Categories
	f := &forecastTask{w: w, start: w.Start(), shift: shift, freezeDay: freezeDay, cats: cats, catOf: map[string]int{},
		itemsDay: -1, cur: make([]float64, cats), hist: make([][]float64, cats), online: make([]*forecast.ETS, cats),
		frozenF: make([][]float64, cats), retrainF: make([][]float64, cats),
		errSum: map[string][]float64{}, errN: make([]float64, days), post: map[string]float64{}, one: make([]float64, 1)}
	for c := range f.online {
		f.online[c] = newHW()
	}
	for _, n := range []string{nameContinual, nameFrozen, nameRetrain} {
		f.errSum[n] = make([]float64, days)
	}
	f.refreshItems()
	return f
}

func (f *forecastTask) refreshItems() {
	for _, it := range f.w.Items(nil) {
		f.catOf[it.ID] = it.Category
	}
}

// observe counts a purchase in its hour. Events arrive in time order;
// hours before the event's are closed first.
func (f *forecastTask) observe(e *event.Event) {
	if e.Type != event.TypePurchase {
		return
	}
	f.advance(e.Timestamp)
	c, ok := f.catOf[e.ItemID]
	if !ok {
		f.refreshItems()
		if c, ok = f.catOf[e.ItemID]; !ok {
			return
		}
	}
	u := e.Quantity
	if u <= 0 {
		u = 1
	}
	f.cur[c] += u
}

// advance closes every hour that ended at or before t.
func (f *forecastTask) advance(t time.Time) {
	for h := int(t.Sub(f.start).Hours()); f.hour < h; {
		f.closeHour()
	}
}

// finish closes the hours up to the end of the run.
func (f *forecastTask) finish(t time.Time) { f.advance(t) }

func (f *forecastTask) closeHour() {
	h := f.hour
	day := h / 24
	hourStart := f.start.Add(time.Duration(h) * time.Hour)
	postShift := !f.shift.IsZero() && !hourStart.Before(f.shift)
	for c := 0; c < f.cats; c++ {
		y := f.cur[c]
		if day >= 1 && day < len(f.errN) {
			f.online[c].Forecast(f.one)
			pOnline := f.one[0]
			pFrozen := pOnline
			if fz := f.frozenF[c]; fz != nil {
				pFrozen = fz[min(h-f.freezeDay*24, len(fz)-1)]
			}
			pRetrain := f.retrainF[c][min(h-day*24, len(f.retrainF[c])-1)]
			for n, p := range map[string]float64{nameContinual: pOnline, nameFrozen: pFrozen, nameRetrain: pRetrain} {
				e := math.Abs(p - y)
				f.errSum[n][day] += e
				if postShift {
					f.post[n] += e
				}
			}
			f.errN[day]++
			if postShift {
				f.postN++
			}
		}
		f.online[c].Update(y)
		f.hist[c] = append(f.hist[c], y)
		f.cur[c] = 0
	}
	f.hour++
	if f.hour%24 != 0 {
		return
	}
	// Midnight: freeze, retrain.
	d := f.hour / 24
	horizon := len(f.errN)*24 - f.hour + 1
	for c := 0; c < f.cats; c++ {
		if d == f.freezeDay {
			f.frozenF[c] = make([]float64, max(1, horizon))
			f.online[c].Forecast(f.frozenF[c])
		}
		m := newHW()
		for _, y := range f.hist[c][max(0, len(f.hist[c])-48):] {
			m.Update(y)
		}
		f.retrainF[c] = make([]float64, 24)
		m.Forecast(f.retrainF[c])
	}
}

// mae returns variant's mean absolute error over days [d0, d1).
func (f *forecastTask) mae(name string, d0, d1 int) float64 {
	var s, n float64
	for d := max(d0, 0); d < min(d1, len(f.errN)); d++ {
		s += f.errSum[name][d]
		n += f.errN[d]
	}
	if n == 0 {
		return math.NaN()
	}
	return s / n
}

// postMAE returns variant's mean absolute error after the shift.
func (f *forecastTask) postMAE(name string) float64 {
	if f.postN == 0 {
		return math.NaN()
	}
	return f.post[name] / f.postN
}
