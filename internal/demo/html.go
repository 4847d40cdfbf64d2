package demo

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
)

// html renders the report as one self-contained page: tables and inline
// SVG plots, no scripts, no external assets.
func (r *Report) html() string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>Perpetua demo report</title><style>
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}svg{background:#fff;border:1px solid #ddd;margin:8px 0}
.met{color:#070}.notmet{color:#b00}</style></head><body>`)
	c := r.Config
	fmt.Fprintf(&b, "<h1>Perpetua demo</h1><p>%d simulated users over %d days (seed %d); abrupt taste shift at day %.2f; frozen copies stop learning at day %d; %d events through the HTTP API in %.1f s.</p>",
		c.Users, c.Days, c.Seed, c.ShiftDay, c.FreezeDay, c.Events, c.WallSeconds)
	b.WriteString("<h2>After the shift</h2><table><tr><th>capability</th><th>metric</th><th>continual</th><th>frozen</th><th>retrain</th><th>reference</th></tr>")
	names := make([]string, 0, len(r.Capabilities))
	for n := range r.Capabilities {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cp := r.Capabilities[n]
		dir := "lower is better"
		if cp.HigherIsBetter {
			dir = "higher is better"
		}
		var ref []string
		for k, v := range cp.Extra {
			ref = append(ref, fmt.Sprintf("%s %.4f", k, float64(v)))
		}
		sort.Strings(ref)
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s (%s)</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%s</td></tr>",
			html.EscapeString(n), html.EscapeString(cp.Metric), dir, float64(cp.Continual), float64(cp.Frozen), float64(cp.Retrain), html.EscapeString(strings.Join(ref, ", ")))
	}
	b.WriteString("</table>")
	rv := r.Recovery
	cls, verdict := "notmet", "not met"
	if rv.TargetMet {
		cls, verdict = "met", "met"
	}
	fmt.Fprintf(&b, `<h2>Recovery after the shift</h2><p class="%s">Target (continual window log loss back within %.0f%% of its pre-shift level within one simulated day, frozen worse): <b>%s</b>.</p>`,
		cls, rv.Tolerance*100, verdict)
	b.WriteString("<table><tr><th>model</th><th>window log loss before</th><th>one day after</th><th>one day after, Bayes-adjusted</th><th>back within 5% after</th></tr>")
	fmt.Fprintf(&b, "<tr><td>bayes_optimal</td><td>%.4f</td><td>%.4f</td><td></td><td></td></tr>", float64(rv.PreShiftBayes), float64(rv.OneDayAfterBayes))
	for _, n := range append(variants[:len(variants):len(variants)], deepVariants...) {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%s</td></tr>", n, float64(rv.PreShift[n]), float64(rv.OneDayAfter[n]),
			float64(rv.OneDayAfterAdjusted[n]), hours(float64(rv.RecoveryHours[n])))
	}
	fmt.Fprintf(&b, "</table><p>%s.</p>", html.EscapeString(rv.Method))
	s := r.Series
	twin := map[string][]jfloat{}
	for _, n := range append(variants[:len(variants):len(variants)], "bayes_optimal") {
		twin[n] = s.WindowLogLoss[n]
	}
	b.WriteString(svgChart("Purchase model: window log loss over time (dashed: freeze day, shift)", "simulated days", s.T, twin, []float64{c.ShiftDay, float64(c.FreezeDay)}))
	full := map[string][]jfloat{"bayes_optimal": s.WindowLogLoss["bayes_optimal"]}
	for _, n := range deepVariants {
		full[n] = s.WindowLogLoss[n]
	}
	b.WriteString(svgChart("Full wide & deep model: window log loss over time", "simulated days", s.T, full, []float64{c.ShiftDay, float64(c.FreezeDay)}))
	days := make([]float64, len(s.Day))
	for i, d := range s.Day {
		days[i] = float64(d) + 0.5
	}
	b.WriteString(svgChart("Purchase model: log loss per day (and the Bayes-optimal)", "day", days, s.PurchaseLogLoss, []float64{c.ShiftDay}))
	b.WriteString(svgChart("Recommendations: CTR per day", "day", days, s.CTR, []float64{c.ShiftDay}))
	b.WriteString(svgChart("Demand forecast: MAE per category-hour, per day", "day", days, s.ForecastMAE, []float64{c.ShiftDay}))
	b.WriteString(svgChart("Fraud: average precision per day", "day", days, s.FraudAP, []float64{c.ShiftDay}))
	b.WriteString(svgChart("Routing: share of late deliveries per day (true travel times; roadworks from the shift on)", "day", days, s.RouteLate, []float64{c.ShiftDay}))
	if e, ok := s.WindowLogLoss["engine_deep"]; ok {
		b.WriteString(svgChart("For reference: the engine's own wide & deep model (as configured in internal/engine), window log loss", "simulated days", s.T,
			map[string][]jfloat{"engine_deep": e}, []float64{c.ShiftDay}))
	}
	if r.CL != nil {
		fmt.Fprintf(&b, "<h2>Continual-learning metrics (%s)</h2><p>ACC %.4f, BWT %+.4f, FWT %+.4f</p><pre>%s</pre>",
			html.EscapeString(r.CL.Metric), r.CL.ACC, r.CL.BWT, r.CL.FWT, html.EscapeString(r.CL.Matrix.String()))
	}
	b.WriteString("<h2>Notes</h2><ul>")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "<li>%s</li>", html.EscapeString(n))
	}
	for _, n := range names {
		fmt.Fprintf(&b, "<li><b>%s</b>: %s</li>", html.EscapeString(n), html.EscapeString(r.Capabilities[n].Source))
	}
	b.WriteString("</ul></body></html>\n")
	return b.String()
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#7f7f7f", "#9467bd", "#ff7f0e", "#8c564b"}

// colors keeps one colour per series name across the plots.
var colors = map[string]string{nameContinual: "#1f77b4", nameFrozen: "#d62728", nameRetrain: "#2ca02c",
	"bayes_optimal": "#7f7f7f", nameEngine: "#ff7f0e", nameNoLearner: "#9467bd", "engine_deep": "#8c564b",
	nameFreeFlow: "#9467bd", nameTrueTimes: "#7f7f7f",
	deepPrefix + nameContinual: "#17becf", deepPrefix + nameFrozen: "#e377c2", deepPrefix + nameRetrain: "#bcbd22"}

// svgChart draws one line per series against xs, with vertical markers.
// NaN values break the line.
func svgChart(title, xlabel string, xs []float64, series map[string][]jfloat, marks []float64) string {
	const W, H, L, R, T, B = 900.0, 300.0, 60.0, 160.0, 30.0, 40.0
	names := make([]string, 0, len(series))
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
	}
	for _, ys := range series {
		for _, y := range ys {
			if v := float64(y); !math.IsNaN(v) && !math.IsInf(v, 0) {
				ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<h3>%s</h3><svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`, html.EscapeString(title), W, H, W, H)
	if math.IsInf(xmin, 0) || math.IsInf(ymin, 0) {
		b.WriteString(`<text x="20" y="40">no data</text></svg>`)
		return b.String()
	}
	xmin = math.Min(xmin, 0)
	if xmax == xmin {
		xmax = xmin + 1
	}
	pad := (ymax - ymin) * 0.05
	if pad == 0 {
		pad = math.Max(math.Abs(ymax)*0.05, 0.01)
	}
	ymin, ymax = ymin-pad, ymax+pad
	px := func(x float64) float64 { return L + (x-xmin)/(xmax-xmin)*(W-L-R) }
	py := func(y float64) float64 { return H - B - (y-ymin)/(ymax-ymin)*(H-T-B) }
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, L, T, W-L-R, H-T-B)
	for i := 0; i <= 4; i++ {
		y := ymin + (ymax-ymin)*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" font-size="11" text-anchor="end">%.4g</text>`, L-4, py(y)+4, y)
		x := xmin + (xmax-xmin)*float64(i)/4
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" font-size="11" text-anchor="middle">%.3g</text>`, px(x), H-B+14, x)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="middle">%s</text>`, L+(W-L-R)/2, H-6, html.EscapeString(xlabel))
	for _, m := range marks {
		if m >= xmin && m <= xmax {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#c90" stroke-dasharray="4 3"/>`, px(m), T, px(m), H-B)
		}
	}
	for i, n := range names {
		col, ok := colors[n]
		if !ok {
			col = palette[i%len(palette)]
		}
		var d strings.Builder
		pen := false
		for j, y := range series[n] {
			v := float64(y)
			if j >= len(xs) || math.IsNaN(v) || math.IsInf(v, 0) {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, px(xs[j]), py(v))
			pen = true
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.6"/>`, d.String(), col)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" fill="%s">%s</text>`, W-R+8, T+14+16*float64(i), col, html.EscapeString(n))
	}
	b.WriteString("</svg>")
	return b.String()
}
