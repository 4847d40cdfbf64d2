package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/sim"
)

// Report is what a demo run measured; it is written as report.json.
// Undefined numbers (NaN) are written as null.
type Report struct {
	Config       ReportConfig          `json:"config"`
	Capabilities map[string]Capability `json:"capabilities"`
	Recovery     Recovery              `json:"recovery"`
	Series       Series                `json:"series"`
	CL           *CLReport             `json:"cl_metrics,omitempty"`
	EngineModels []engineModel         `json:"engine_models"`
	Notes        []string              `json:"notes"`
}

// ReportConfig describes the run.
type ReportConfig struct {
	Days        int     `json:"days"`
	Users       int     `json:"users"`
	Seed        uint64  `json:"seed"`
	ShiftDay    float64 `json:"shift_day"`  // first abrupt shift, days since the start
	FreezeDay   int     `json:"freeze_day"` // the frozen copies stop learning at the start of this day
	Window      int     `json:"window"`     // labelled examples in the windowed metrics
	Events      int     `json:"events"`     // events sent through POST /v1/events
	WallSeconds float64 `json:"wall_seconds"`
}

// Capability compares the three regimes on one capability over the
// period after the first shift. Extra holds other reference figures
// (the Bayes-optimal value, the engine's own figure, a non-learning
// baseline).
type Capability struct {
	Metric         string            `json:"metric"`
	HigherIsBetter bool              `json:"higher_is_better"`
	Continual      jfloat            `json:"continual"`
	Frozen         jfloat            `json:"frozen"`
	Retrain        jfloat            `json:"retrain"`
	Extra          map[string]jfloat `json:"extra,omitempty"`
	Source         string            `json:"source"`
	Secondary      map[string]jfloat `json:"secondary,omitempty"`
}

// Recovery is the target: after the abrupt taste shift, does the
// continual purchase model's windowed log loss come back within 5% of its
// pre-shift level within one simulated day, while the frozen model stays
// worse? Levels are Bayes-adjusted (see Method): the time of day changes
// how hard the examples are, for every model alike.
type Recovery struct {
	Tolerance float64 `json:"tolerance"`
	Method    string  `json:"method"`
	// PreShift is each variant's mean window log loss over the day before
	// the shift (or the later half of the time before it, if shorter); PreShiftBayes the Bayes-optimal window log loss
	// over the same points.
	PreShift      map[string]jfloat `json:"pre_shift_window_log_loss"`
	PreShiftBayes jfloat            `json:"pre_shift_bayes_window_log_loss"`
	// OneDayAfter is the mean window log loss over the 6 hours up to one
	// day after the shift, OneDayAfterBayes the Bayes-optimal over the
	// same points, and OneDayAfterAdjusted the Bayes-adjusted level
	// compared with (1+Tolerance)·PreShift.
	OneDayAfter         map[string]jfloat `json:"window_log_loss_one_day_after"`
	OneDayAfterBayes    jfloat            `json:"bayes_window_log_loss_one_day_after"`
	OneDayAfterAdjusted map[string]jfloat `json:"adjusted_window_log_loss_one_day_after"`
	RecoveryHours       map[string]jfloat `json:"recovery_hours"` // null: did not recover within the run
	WindowFilledH       jfloat            `json:"window_post_shift_after_hours"`
	TargetMet           bool              `json:"target_met"`
	// TargetMetDeep is the same verdict for the full wide & deep model
	// (the deep_* entries of the maps).
	TargetMetDeep bool `json:"target_met_deep_model"`
}

const recoveryMethod = "pre-shift level: mean window log loss over the 24 h before the shift (the later half of the time before it if shorter), a whole daily cycle; level at t: mean window log loss over the 6 h up to t " +
	"minus the change of the Bayes-optimal window log loss (mean binary entropy of the simulator's true purchase probabilities of the " +
	"window's views) from the pre-shift period; recovered at the first t, once the window holds only post-shift examples and 6 h more " +
	"have passed, where the level is at or below (1 + tolerance) × the pre-shift level and stays there for the next 6 h"

// Series holds the per-day and per-batch series behind the plots.
type Series struct {
	Day             []int               `json:"day"`
	PurchaseLogLoss map[string][]jfloat `json:"purchase_log_loss_per_day"`
	CTR             map[string][]jfloat `json:"ctr_per_day"`
	ForecastMAE     map[string][]jfloat `json:"forecast_mae_per_day"`
	FraudAP         map[string][]jfloat `json:"fraud_average_precision_per_day"`
	RouteLate       map[string][]jfloat `json:"routing_late_share_per_day"`
	T               []float64           `json:"t_days"`
	WindowLogLoss   map[string][]jfloat `json:"window_log_loss"`
	Days            []dayTruth          `json:"day_truth"`
}

type dayTruth struct {
	Day       int `json:"day"`
	Regime    int `json:"regime"`
	Sessions  int `json:"sessions"`
	Views     int `json:"views"`
	Purchases int `json:"purchases"`
	Frauds    int `json:"frauds"`
}

// CLReport holds ACC, BWT and FWT with the matrix behind them.
type CLReport struct {
	Metric string              `json:"metric"`
	Matrix *continual.CLMatrix `json:"matrix"`
	ACC    float64             `json:"acc"`
	BWT    float64             `json:"bwt"`
	FWT    float64             `json:"fwt"`
}

type engineModel struct {
	Name          string `json:"name"`
	LogLoss       jfloat `json:"log_loss"`
	WindowLogLoss jfloat `json:"window_log_loss"`
	WindowAUC     jfloat `json:"window_auc"`
}

// jfloat is a float64 written as null when it is NaN or infinite.
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func (f *jfloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jfloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jfloat(v)
	return nil
}

func jf(xs []float64) []jfloat {
	out := make([]jfloat, len(xs))
	for i, x := range xs {
		out[i] = jfloat(x)
	}
	return out
}

var variants = []string{nameContinual, nameFrozen, nameRetrain}

// deepVariants are the full wide & deep model's regimes in the twin.
var deepVariants = []string{deepPrefix + nameContinual, deepPrefix + nameFrozen, deepPrefix + nameRetrain}

func isPost(s scored) bool { return s.post }

func buildReport(cfg Config, st *stats, fc *forecastTask, rc *recTask, fr *fraudTask, rt *routeTask, rec *recorder,
	days []sim.DayTruth, shiftDay float64, freezeDay, window, events int) *Report {
	end := float64(cfg.Days)
	r := &Report{
		Config: ReportConfig{Days: cfg.Days, Users: cfg.Users, Seed: cfg.Seed, ShiftDay: shiftDay, FreezeDay: freezeDay,
			Window: window, Events: events},
		Capabilities: map[string]Capability{},
	}
	// Purchase.
	bayesPost := 0.0
	{
		var s float64
		var n int
		// Post-shift Bayes log loss: the days from the shift's on, weighted
		// by views (the shift's own day counts whole: DayTruth has no finer
		// split; the per-view truths are summed per day).
		for d := int(shiftDay); d < cfg.Days; d++ {
			s += st.bayesSum[d]
			n += st.bayesN[d]
		}
		bayesPost = s / float64(max(n, 1))
	}
	pc := Capability{Metric: "log_loss", HigherIsBetter: false,
		Continual: jfloat(st.meanBetween(nameContinual, shiftDay, end)),
		Frozen:    jfloat(st.meanBetween(nameFrozen, shiftDay, end)),
		Retrain:   jfloat(st.meanBetween(nameRetrain, shiftDay, end)),
		Extra:     map[string]jfloat{"bayes_optimal": jfloat(bayesPost)},
		Secondary: map[string]jfloat{},
		Source: "prequential log loss of the purchase model (the wide part of the engine's wide & deep model: FTRL-Proximal logistic regression over hashed user, item, hour and weekday IDs plus the behaviour features) on every view " +
			"labelled after the shift; the three variants run in an in-process twin on the same stream; bayes_optimal is the mean " +
			"binary entropy of the simulator's true purchase probabilities over the views of the days from the shift's on",
	}
	for _, n := range variants {
		pc.Secondary["window_auc_"+n] = jfloat(st.meanAUC(n, shiftDay, end))
	}
	r.Capabilities["purchase"] = pc
	pd := Capability{Metric: "log_loss", HigherIsBetter: false,
		Continual: jfloat(st.meanBetween(deepVariants[0], shiftDay, end)),
		Frozen:    jfloat(st.meanBetween(deepVariants[1], shiftDay, end)),
		Retrain:   jfloat(st.meanBetween(deepVariants[2], shiftDay, end)),
		Extra:     map[string]jfloat{"bayes_optimal": jfloat(bayesPost)},
		Secondary: map[string]jfloat{},
		Source: "as purchase, for the engine's full wide & deep model (engine.DeepConfig: the wide part plus user, item, hour and " +
			"weekday embeddings and an MLP over them and the behaviour features), run beside it in the same twin",
	}
	for i, n := range deepVariants {
		pd.Secondary["window_auc_"+variants[i]] = jfloat(st.meanAUC(n, shiftDay, end))
	}
	r.Capabilities["purchase_deep"] = pd
	r.Capabilities["recommendations"] = Capability{Metric: "ctr", HigherIsBetter: true,
		Continual: jfloat(rc.postCTR(nameContinual)), Frozen: jfloat(rc.postCTR(nameFrozen)), Retrain: jfloat(rc.postCTR(nameRetrain)),
		Extra:     map[string]jfloat{nameEngine: jfloat(rc.postCTR(nameEngine)), nameNoLearner: jfloat(rc.postCTR(nameNoLearner))},
		Secondary: map[string]jfloat{},
		Source: "expected clicks per shown item (true click probability p^(1/3) from the simulator) of 5-item slates for a sample of views " +
			"after the shift; continual/frozen/retrain: the same in-process recommender ranking by the twin's purchase model; engine: POST " +
			"/v1/recommend (which also learns from the simulated clicks sent to POST /v1/feedback); no_learner: constant scores; " +
			"secondary regret_per_item_*: the best slate's expected clicks (the top items of the active catalog by true click " +
			"probability) minus the shown slate's, per shown item",
	}
	for _, n := range rc.names {
		r.Capabilities["recommendations"].Secondary["regret_per_item_"+n] = jfloat(rc.postRegret(n))
	}
	r.Capabilities["forecast"] = Capability{Metric: "mae_units_per_category_hour", HigherIsBetter: false,
		Continual: jfloat(fc.postMAE(nameContinual)), Frozen: jfloat(fc.postMAE(nameFrozen)), Retrain: jfloat(fc.postMAE(nameRetrain)),
		Source: "one-hour-ahead forecasts of units sold per category (Holt-Winters, daily season) after the shift: updated hourly " +
			"(continual), frozen at the freeze day, refitted from scratch at every midnight on the last two days (retrain)",
	}

	r.Capabilities["fraud"] = Capability{Metric: "average_precision", HigherIsBetter: true,
		Continual: jfloat(fr.ap(nameContinual, isPost)), Frozen: jfloat(fr.ap(nameFrozen, isPost)), Retrain: jfloat(fr.ap(nameRetrain, isPost)),
		Source: "average precision (area under the precision-recall curve) of package risk's fraud scores on the payment transactions " +
			"after the shift, against the simulator's truth; in process (the engine does not serve risk scoring yet): continual learns " +
			"from every label, frozen gets no labels from the freeze day on, retrain is a fresh service replaying the last two days at " +
			"every midnight",
	}

	r.Capabilities["routing"] = rt.capability()

	// Recovery.
	r.Recovery = buildRecovery(st, shiftDay, pc, pd)

	// Series.
	s := Series{PurchaseLogLoss: map[string][]jfloat{}, FraudAP: map[string][]jfloat{}, CTR: map[string][]jfloat{}, ForecastMAE: map[string][]jfloat{},
		WindowLogLoss: map[string][]jfloat{}, RouteLate: map[string][]jfloat{}}
	for d := 0; d < cfg.Days; d++ {
		s.Day = append(s.Day, d)
		for _, n := range variants {
			s.FraudAP[n] = append(s.FraudAP[n], jfloat(fr.ap(n, func(x scored) bool { return x.day == d })))
		}
		for _, n := range variants {
			s.PurchaseLogLoss[n] = append(s.PurchaseLogLoss[n], jfloat(st.meanBetween(n, float64(d), float64(d+1))))
			s.ForecastMAE[n] = append(s.ForecastMAE[n], jfloat(fc.mae(n, d, d+1)))
		}
		for _, n := range deepVariants {
			s.PurchaseLogLoss[n] = append(s.PurchaseLogLoss[n], jfloat(st.meanBetween(n, float64(d), float64(d+1))))
		}
		s.PurchaseLogLoss["bayes_optimal"] = append(s.PurchaseLogLoss["bayes_optimal"], jfloat(st.bayesSum[d]/float64(max(st.bayesN[d], 1))))
		for _, n := range rc.names {
			s.CTR[n] = append(s.CTR[n], jfloat(rc.ctr(n, d, d+1)))
		}
		for _, n := range routeVariants {
			s.RouteLate[n] = append(s.RouteLate[n], jfloat(rt.lateShare(n, d)))
		}
	}
	for _, p := range st.points {
		s.T = append(s.T, p.T)
		s.WindowLogLoss["bayes_optimal"] = append(s.WindowLogLoss["bayes_optimal"], jfloat(p.Bayes))
		for _, n := range append(variants[:len(variants):len(variants)], deepVariants...) {
			s.WindowLogLoss[n] = append(s.WindowLogLoss[n], jfloat(p.Window[n]))
		}
		s.WindowLogLoss["engine_deep"] = append(s.WindowLogLoss["engine_deep"], jfloat(p.Engine))
	}
	for _, d := range days {
		s.Days = append(s.Days, dayTruth{Day: d.Day, Regime: d.Regime, Sessions: d.Sessions, Views: d.Views, Purchases: d.Purchases, Frauds: d.Frauds})
	}
	r.Series = s

	if m, err := rec.clMatrix(); err == nil {
		r.CL = &CLReport{Metric: "auc", Matrix: m, ACC: m.ACC, BWT: m.BWT, FWT: m.FWT}
	} else {
		r.Notes = append(r.Notes, "CL metrics not computed: "+err.Error())
	}
	r.Notes = append(r.Notes,
		"ACC/BWT/FWT use AUC, not accuracy, as the per-segment score: at a 5% purchase rate accuracy is about 0.95 for every model",
		fmt.Sprintf("recommendation requests that found no candidates (early in the run): %d", rc.errs),
		fmt.Sprintf("fraud: transactions or labels the risk services refused: %d", fr.errs),
		fmt.Sprintf("routing: %d waves; %d plans the solver could not make feasible under their own estimates (driven anyway); %d orders no van could reach in their window under the planner's estimates (counted late)",
			rt.waves, rt.errs, rt.dropped),
		fmt.Sprintf("routing: each wave of warehouse %s is also planned by the engine's POST /v1/routes/optimize, whose plan the dashboard's map shows; "+
			"the engine's own speed model learns only from delivery events, which the demo does not send (%d waves without a feasible plan there)", rt.whs[0], rt.apiErrs))
	return r
}

// buildRecovery measures every variant's recovery after the shift, the
// wide model's and the full model's; pc and pd are their purchase
// capabilities (post-shift log loss per variant).
func buildRecovery(st *stats, shiftDay float64, pc, pd Capability) Recovery {
	const tol = 0.05
	rv := Recovery{Tolerance: tol, Method: recoveryMethod, PreShift: map[string]jfloat{}, OneDayAfter: map[string]jfloat{},
		OneDayAfterAdjusted: map[string]jfloat{}, RecoveryHours: map[string]jfloat{}, PreShiftBayes: jfloat(math.NaN()),
		WindowFilledH: jfloat(math.NaN())}
	t1 := shiftDay + 1
	rv.OneDayAfterBayes = jfloat(st.meanBayes(t1-smoothHours/24, t1))
	for _, n := range append(variants[:len(variants):len(variants)], deepVariants...) {
		res := st.recovery(n, shiftDay, tol)
		rv.PreShift[n] = jfloat(res.pre)
		rv.OneDayAfter[n] = jfloat(st.meanWindow(n, t1-smoothHours/24, t1))
		rv.OneDayAfterAdjusted[n] = jfloat(st.adjustedAt(n, t1, res.bayesPre))
		rv.RecoveryHours[n] = jfloat(res.days * 24)
		if n == nameContinual {
			rv.PreShiftBayes = jfloat(res.bayesPre)
			rv.WindowFilledH = jfloat((res.filled - shiftDay) * 24)
		}
	}
	met := func(cont, froz string, c Capability) bool {
		rh := float64(rv.RecoveryHours[cont])
		return !math.IsNaN(rh) && rh <= 24 &&
			float64(rv.OneDayAfterAdjusted[froz]) > float64(rv.OneDayAfterAdjusted[cont]) &&
			float64(c.Frozen) > float64(c.Continual)
	}
	rv.TargetMet = met(nameContinual, nameFrozen, pc)
	rv.TargetMetDeep = met(deepVariants[0], deepVariants[1], pd)
	return rv
}

func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "\nAfter the shift (day %.1f to %d):\n", r.Config.ShiftDay, r.Config.Days)
	fmt.Fprintf(w, "  %-16s %-28s %10s %10s %10s   %s\n", "capability", "metric", "continual", "frozen", "retrain", "reference")
	for _, name := range []string{"purchase", "purchase_deep", "recommendations", "forecast", "fraud", "routing"} {
		c, ok := r.Capabilities[name]
		if !ok {
			continue
		}
		ref := ""
		keys := make([]string, 0, len(c.Extra))
		for k := range c.Extra {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ref += fmt.Sprintf("%s %.4f  ", k, float64(c.Extra[k]))
		}
		fmt.Fprintf(w, "  %-16s %-28s %10.4f %10.4f %10.4f   %s\n", name, c.Metric, float64(c.Continual), float64(c.Frozen), float64(c.Retrain), ref)
	}
	rv := r.Recovery
	fmt.Fprintf(w, "\nWindow log loss of the purchase model (window %d examples; Bayes-optimal %.4f before the shift, %.4f one day after):\n",
		r.Config.Window, float64(rv.PreShiftBayes), float64(rv.OneDayAfterBayes))
	for _, n := range append(variants[:len(variants):len(variants)], deepVariants...) {
		fmt.Fprintf(w, "  %-14s before the shift %.4f, one day after %.4f (Bayes-adjusted %.4f), back within %.0f%% after %s\n", n,
			float64(rv.PreShift[n]), float64(rv.OneDayAfter[n]), float64(rv.OneDayAfterAdjusted[n]), rv.Tolerance*100, hours(float64(rv.RecoveryHours[n])))
	}
	verdict := "NOT MET"
	if rv.TargetMet {
		verdict = "met"
	}
	verdictDeep := "NOT MET"
	if rv.TargetMetDeep {
		verdictDeep = "met"
	}
	fmt.Fprintf(w, "Target (continual back within 5%% within one day, frozen worse): %s (full wide & deep model: %s)\n", verdict, verdictDeep)
	if r.CL != nil {
		fmt.Fprintf(w, "Continual-learning metrics (per-day AUC): ACC %.4f  BWT %+.4f  FWT %+.4f\n", r.CL.ACC, r.CL.BWT, r.CL.FWT)
	}
}

func hours(h float64) string {
	if math.IsNaN(h) {
		return "never (within the run)"
	}
	return fmt.Sprintf("%.1f h", h)
}

// write writes report.json and report.html into dir.
func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(r.html()), 0o644); err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	return nil
}
