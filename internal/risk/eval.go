package risk

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

var errStop = errors.New("risk: stop")

// Row is one transaction of the fraud handbook's simulated data.
type Row struct {
	ID       int64   // TRANSACTION_ID
	Sec      int64   // Unix time
	Customer int64   // CUSTOMER_ID
	Terminal int64   // TERMINAL_ID
	Amount   float64 // TX_AMOUNT
	Day      int64   // TX_TIME_DAYS
	Fraud    float64 // TX_FRAUD, 0 or 1
}

// ReadHandbook streams the rows of the fraud handbook's CSV format from
// path: one .csv or .csv.gz file, or a directory whose *.csv and *.csv.gz
// files are read in name order (the weekly files are named by date).
// Required columns: TRANSACTION_ID, TX_DATETIME, CUSTOMER_ID,
// TERMINAL_ID, TX_AMOUNT, TX_TIME_SECONDS, TX_FRAUD (TX_TIME_DAYS is
// derived when absent; TX_FRAUD_SCENARIO is never read). Times come from
// TX_TIME_SECONDS, anchored by the TX_DATETIME of the first row. Rows
// must be in time order; a row earlier than the one before it, a bad
// number or a negative or non-finite amount is an error naming the file
// and line.
func ReadHandbook(ctx context.Context, path string, fn func(Row) error) error {
	files, err := handbookFiles(path)
	if err != nil {
		return err
	}
	st := &readState{base: -1, prevSec: -1 << 62}
	for _, f := range files {
		if err := st.readFile(ctx, f, fn); err != nil {
			return err
		}
	}
	if st.rows == 0 {
		return fmt.Errorf("risk: %s: no transactions", path)
	}
	return nil
}

func handbookFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("risk: %w", err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("risk: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz")) {
			out = append(out, filepath.Join(path, n))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("risk: %s: no .csv or .csv.gz files", path)
	}
	slices.Sort(out)
	return out, nil
}

type readState struct {
	base    int64 // Unix time of TX_TIME_SECONDS = 0
	prevSec int64
	rows    int
}

var handbookColumns = []string{"TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_TIME_SECONDS", "TX_FRAUD"}

func (st *readState) readFile(ctx context.Context, name string, fn func(Row) error) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("risk: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("risk: %s: %w", name, err)
		}
		defer gz.Close()
		r = gz
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return fmt.Errorf("risk: %s: %w", name, err)
		}
		return fmt.Errorf("risk: %s: empty file, want a header line", name)
	}
	header := strings.Split(strings.TrimSpace(sc.Text()), ",")
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	idx := make([]int, len(handbookColumns))
	for i, c := range handbookColumns {
		j, ok := col[c]
		if !ok {
			return fmt.Errorf("risk: %s:1: missing column %s (want %s)", name, c, strings.Join(handbookColumns, ","))
		}
		idx[i] = j
	}
	dayCol, hasDay := col["TX_TIME_DAYS"]
	fields := make([]string, 0, len(header))
	line := 1
	for sc.Scan() {
		line++
		if line%8192 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		text := strings.TrimSuffix(sc.Text(), "\r") // CRLF files
		if text == "" {
			continue
		}
		fields = splitComma(fields[:0], text)
		if len(fields) != len(header) {
			return fmt.Errorf("risk: %s:%d: %d fields, want %d", name, line, len(fields), len(header))
		}
		bad := func(c string, err error) error {
			return fmt.Errorf("risk: %s:%d: %s: %v", name, line, c, err)
		}
		var row Row
		var err error
		if row.ID, err = strconv.ParseInt(fields[idx[0]], 10, 64); err != nil {
			return bad("TRANSACTION_ID", err)
		}
		if row.Customer, err = strconv.ParseInt(fields[idx[2]], 10, 64); err != nil {
			return bad("CUSTOMER_ID", err)
		}
		if row.Terminal, err = strconv.ParseInt(fields[idx[3]], 10, 64); err != nil {
			return bad("TERMINAL_ID", err)
		}
		if row.Amount, err = strconv.ParseFloat(fields[idx[4]], 64); err != nil {
			return bad("TX_AMOUNT", err)
		}
		if !(row.Amount >= 0) || row.Amount > 1e15 {
			return bad("TX_AMOUNT", fmt.Errorf("amount %v: want a finite number ≥ 0", row.Amount))
		}
		rel, err := strconv.ParseInt(fields[idx[5]], 10, 64)
		if err != nil {
			return bad("TX_TIME_SECONDS", err)
		}
		fraud := fields[idx[6]]
		switch fraud {
		case "0":
		case "1":
			row.Fraud = 1
		default:
			return bad("TX_FRAUD", fmt.Errorf("%q: want 0 or 1", fraud))
		}
		if st.base < 0 {
			t, err := time.Parse(time.DateTime, fields[idx[1]])
			if err != nil {
				return bad("TX_DATETIME", err)
			}
			st.base = t.Unix() - rel
		}
		row.Sec = st.base + rel
		if row.Sec < st.prevSec {
			return fmt.Errorf("risk: %s:%d: TX_TIME_SECONDS %d is before the previous row's %d: rows must be in time order", name, line, rel, st.prevSec-st.base)
		}
		st.prevSec = row.Sec
		if hasDay {
			if row.Day, err = strconv.ParseInt(fields[dayCol], 10, 64); err != nil {
				return bad("TX_TIME_DAYS", err)
			}
		} else {
			row.Day = rel / 86400
		}
		st.rows++
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("risk: %s: %w", name, err)
	}
	return nil
}

func splitComma(dst []string, s string) []string {
	for {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+1:]
	}
}

// EvalConfig configures Eval. The zero value means the handbook protocol
// with the defaults.
type EvalConfig struct {
	// Delay is the label delay; 0 means 7 days (whole days).
	Delay time.Duration
	// TestDays is the number of final days evaluated; 0 means 7.
	TestDays int
	// TrainDays is the length of the handbook's training week, which
	// fixes from when frauds count as known for the test-set filter;
	// 0 means 7.
	TrainDays int
	// Days, when > 0, uses only the first Days days of the data (for a
	// validation run that ends before the real test week).
	Days  int
	Model ModelConfig
	Cost  CostConfig
	// Predictions, when set, receives the CSV of the evaluated rows.
	Predictions io.Writer
	// Progress, when set, is called with the number of rows read so far.
	Progress func(rows int)
}

// Metrics are the evaluation scores.
type Metrics struct {
	AUC              float64 `json:"auc_roc"`
	AP               float64 `json:"average_precision"`
	CardPrecision100 float64 `json:"card_precision_at_100"`
	// FraudLoss is the fraud amount lost without the system (all
	// approved); Cost is the cost with its decisions; CostSaved is the
	// difference.
	FraudLoss float64 `json:"fraud_loss_without_system"`
	Cost      float64 `json:"cost_with_system"`
	CostSaved float64 `json:"cost_saved"`
	Reviews   int     `json:"reviews"`
	Blocks    int     `json:"blocks"`
	Frauds    int     `json:"frauds"`
}

// DayMetrics are the scores of one test day.
type DayMetrics struct {
	Day              int64   `json:"day"`
	N                int     `json:"n"`
	Frauds           int     `json:"frauds"`
	AUC              float64 `json:"auc_roc"`
	AP               float64 `json:"average_precision"`
	CardPrecision100 float64 `json:"card_precision_at_100"`
	CostSaved        float64 `json:"cost_saved"`
}

// Baseline is a published result to compare with.
type Baseline struct {
	Name             string  `json:"name"`
	AUC              float64 `json:"auc_roc"`
	AP               float64 `json:"average_precision"`
	CardPrecision100 float64 `json:"card_precision_at_100"`
	Source           string  `json:"source"`
}

// HandbookBaselines are the batch baselines published in the fraud
// handbook (Le Borgne et al., "Reproducible Machine Learning for Credit
// Card Fraud Detection – Practical Handbook", ch. 3, Baseline modeling):
// one week of training from 2018-07-25, 7-day delay, one week of test
// (2018-08-08 to 08-14) of the same simulator, the same 15 features.
var HandbookBaselines = []Baseline{
	{Name: "handbook logistic regression", AUC: 0.871, AP: 0.606, CardPrecision100: 0.291, Source: handbookSource},
	{Name: "handbook random forest", AUC: 0.867, AP: 0.658, CardPrecision100: 0.287, Source: handbookSource},
}

const handbookSource = "Fraud Detection Handbook ch. 3 (train 2018-07-25..31, delay 7 d, test 2018-08-08..14)"

// Protocol says which days played which role.
type Protocol struct {
	FirstDay   int64  `json:"first_day"`
	LastDay    int64  `json:"last_day"`
	TrainStart int64  `json:"train_start"` // handbook train week (known-fraud filter starts here)
	TestStart  int64  `json:"test_start"`
	DelayDays  int    `json:"delay_days"`
	Text       string `json:"text"`
}

// Report is the result of Eval (the JSON of `perpetua eval risk`).
type Report struct {
	Task      string       `json:"task"`
	Model     Model        `json:"model"`
	N         int          `json:"n"` // evaluated rows (the predictions file)
	StreamN   int          `json:"stream_n"`
	Metrics   Metrics      `json:"metrics"`
	PerDay    []DayMetrics `json:"per_day"`
	Seconds   float64      `json:"seconds"`
	PerSecond float64      `json:"per_second"` // stream rows scored and learned per second
	Protocol  Protocol     `json:"protocol"`
	Baselines []Baseline   `json:"baselines"`
	Learned   uint64       `json:"learned"`
	Drifts    struct {
		Error int `json:"error"`
		Score int `json:"score"`
	} `json:"drifts"`
	ThresholdScale float64 `json:"threshold_scale"`
}

type pred struct {
	idx      int
	p        float64
	y        float64
	cust     int64
	day      int64
	amount   float64
	decision Decision
}

// Eval runs the online fraud system over the handbook data at path, in
// time order: every transaction is scored (features, model, decision)
// and then waits for its label, which reaches the model Delay after the
// transaction (frauds as label events, genuine ones by maturity), from
// the first day on. It then scores the last TestDays days the way the
// handbook scores its test week: the handbook's train week is the
// TrainDays before the Delay days that precede the test days, and on
// each test day the customers with a fraud known by then (from the
// train week's first day to Delay+1 days earlier) are left out. Metrics
// are AUC ROC, average precision and card precision@100 (daily top 100
// customers by their highest score, cards found compromised on earlier
// test days left out, averaged over days), and the cost saved by the
// decisions.
func Eval(ctx context.Context, path string, cfg EvalConfig) (*Report, error) {
	if cfg.Delay == 0 {
		cfg.Delay = 7 * 24 * time.Hour
	}
	if cfg.Delay < 0 || cfg.Delay%(24*time.Hour) != 0 {
		return nil, fmt.Errorf("risk: delay %v: want whole days", cfg.Delay)
	}
	if cfg.TestDays == 0 {
		cfg.TestDays = 7
	}
	if cfg.TrainDays == 0 {
		cfg.TrainDays = 7
	}
	if cfg.TestDays < 0 || cfg.TrainDays < 0 || cfg.Days < 0 {
		return nil, fmt.Errorf("risk: TestDays %d, TrainDays %d: want > 0", cfg.TestDays, cfg.TrainDays)
	}
	delayDays := int(cfg.Delay / (24 * time.Hour))
	e, err := newEngine[int64](delayDays, cfg.Model, cfg.Cost, 0)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	type due struct{ at, id int64 }
	var labels []due // fraud labels in arrival order (FIFO: arrival = time + delay)
	head := 0
	// Only the rows of the last TestDays days can be test rows: older
	// ones are dropped as the days pass, so memory stays bounded. The
	// customers' fraud days are kept for the test-set filter.
	var preds []pred
	fraudDays := map[int64][]int64{}
	n := 0
	x := make([]float32, NumFeatures)
	delay := e.delay
	firstDay, curDay := int64(-1), int64(-1)
	err = ReadHandbook(ctx, path, func(r Row) error {
		if firstDay < 0 {
			firstDay = r.Day
		}
		if cfg.Days > 0 && r.Day >= firstDay+int64(cfg.Days) {
			return errStop
		}
		if r.Day != curDay {
			curDay = r.Day
			k := 0
			for k < len(preds) && preds[k].day <= curDay-int64(cfg.TestDays) {
				k++
			}
			preds = append(preds[:0], preds[k:]...)
		}
		for head < len(labels) && labels[head].at <= r.Sec {
			if err := e.label(labels[head].id, labels[head].at, 1); err != nil {
				return fmt.Errorf("risk: label of transaction %d: %v", labels[head].id, err)
			}
			head++
		}
		if head > 4096 && head*2 > len(labels) {
			labels = append(labels[:0], labels[head:]...)
			head = 0
		}
		cust, term := uint64(r.Customer), uint64(r.Terminal)
		if err := e.check(r.ID, cust, term, r.Sec, r.Amount); err != nil {
			return fmt.Errorf("risk: transaction %d: %w", r.ID, err)
		}
		_, prob, d := e.score(r.ID, cust, term, r.Sec, r.Amount, x)
		if r.Fraud == 1 {
			labels = append(labels, due{r.Sec + delay, r.ID})
			if fd := fraudDays[r.Customer]; len(fd) == 0 || fd[len(fd)-1] != r.Day {
				fraudDays[r.Customer] = append(fd, r.Day)
			}
		}
		preds = append(preds, pred{idx: n, p: prob, y: r.Fraud, cust: r.Customer, day: r.Day, amount: r.Amount, decision: d})
		n++
		if cfg.Progress != nil && n%65536 == 0 {
			cfg.Progress(n)
		}
		return nil
	})
	if err != nil && err != errStop {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("risk: %s: no transactions", path)
	}
	secs := time.Since(start).Seconds()
	rep := &Report{Task: "risk", Model: e.m.cfg.Model, StreamN: n, Seconds: secs,
		PerSecond: float64(n) / secs, Baselines: HandbookBaselines, Learned: e.m.seen, ThresholdScale: e.pol.scale()}
	rep.Drifts.Error, rep.Drifts.Score = e.m.errDrifts, e.m.scoreDrifts
	test, proto := handbookTestSet(preds, fraudDays, firstDay, cfg.TestDays, cfg.TrainDays, delayDays)
	rep.Protocol = proto
	rep.N = len(test)
	pol := e.pol
	rep.Metrics, rep.PerDay = scoreTest(test, pol)
	if cfg.Predictions != nil {
		if err := writePredictions(cfg.Predictions, test); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// handbookTestSet picks the test rows: the last testDays days, without
// the customers whose fraud is known (handbook get_train_test_set).
func handbookTestSet(preds []pred, fraudDays map[int64][]int64, first int64, testDays, trainDays, delayDays int) ([]pred, Protocol) {
	last := preds[len(preds)-1].day
	testStart := max(last-int64(testDays)+1, first)
	trainStart := testStart - int64(delayDays) - int64(trainDays)
	proto := Protocol{FirstDay: first, LastDay: last, TrainStart: trainStart, TestStart: testStart, DelayDays: delayDays}
	proto.Text = fmt.Sprintf("online from day %d, labels %d days after each transaction; test days %d..%d; "+
		"handbook-equivalent train week %d..%d and delay %d..%d; on test day d, customers with a fraud on days %d..d-%d are left out",
		first, delayDays, testStart, last, trainStart, trainStart+int64(trainDays)-1, trainStart+int64(trainDays), testStart-1, trainStart, delayDays+1)
	known := func(cust, day int64) bool {
		for _, f := range fraudDays[cust] {
			if f >= trainStart && f <= day-int64(delayDays)-1 {
				return true
			}
		}
		return false
	}
	var test []pred
	for _, p := range preds {
		if p.day < testStart || known(p.cust, p.day) {
			continue
		}
		test = append(test, p)
	}
	return test, proto
}

func scoreTest(test []pred, pol *policy) (Metrics, []DayMetrics) {
	var m Metrics
	m.AUC, m.AP = aucAP(test)
	byDay := map[int64][]pred{}
	var days []int64
	for _, p := range test {
		if _, ok := byDay[p.day]; !ok {
			days = append(days, p.day)
		}
		byDay[p.day] = append(byDay[p.day], p)
	}
	slices.Sort(days)
	detected := map[int64]bool{}
	var per []DayMetrics
	for _, d := range days {
		rows := byDay[d]
		dm := DayMetrics{Day: d, N: len(rows)}
		dm.AUC, dm.AP = aucAP(rows)
		dm.CardPrecision100 = cardPrecisionDay(rows, 100, detected)
		loss, cost := 0.0, 0.0
		for _, p := range rows {
			if p.y == 1 {
				dm.Frauds++
				loss += p.amount
			}
			cost += pol.costOf(p.decision, p.y, p.amount)
			switch p.decision {
			case Review:
				m.Reviews++
			case Block:
				m.Blocks++
			}
		}
		dm.CostSaved = loss - cost
		m.FraudLoss += loss
		m.Cost += cost
		m.Frauds += dm.Frauds
		m.CardPrecision100 += dm.CardPrecision100
		per = append(per, dm)
	}
	if len(per) > 0 {
		m.CardPrecision100 /= float64(len(per))
	}
	m.CostSaved = m.FraudLoss - m.Cost
	return m, per
}

// cardPrecisionDay is the handbook's card_precision_top_k_day: customers
// not yet detected, ranked by their highest score of the day (label: any
// fraud that day); the share of the top k that are compromised. The
// compromised customers of the top k join detected.
func cardPrecisionDay(rows []pred, k int, detected map[int64]bool) float64 {
	type card struct {
		id   int64
		p, y float64
	}
	by := map[int64]*card{}
	var cards []*card
	for _, r := range rows {
		if detected[r.cust] {
			continue
		}
		c, ok := by[r.cust]
		if !ok {
			c = &card{id: r.cust, p: r.p, y: r.y}
			by[r.cust] = c
			cards = append(cards, c)
			continue
		}
		c.p = max(c.p, r.p)
		c.y = max(c.y, r.y)
	}
	// Highest score first; ties by customer id, as pandas' groupby
	// (sorted ids) followed by a stable sort would order them.
	slices.SortStableFunc(cards, func(a, b *card) int {
		if c := cmp.Compare(b.p, a.p); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	hits := 0
	for i, c := range cards {
		if i == k {
			break
		}
		if c.y == 1 {
			hits++
			detected[c.id] = true
		}
	}
	return float64(hits) / float64(k)
}

// aucAP returns the ROC AUC (ties count one half) and the average
// precision as scikit-learn computes it (a step function over distinct
// thresholds). Both are NaN without both classes.
func aucAP(rows []pred) (float64, float64) {
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(rows[b].p, rows[a].p) })
	var pos, neg float64
	for _, r := range rows {
		if r.y == 1 {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return nan(), nan()
	}
	var tp, fp, auc, ap, prevRecall float64
	for i := 0; i < len(idx); {
		j := i
		var dtp, dfp float64
		for j < len(idx) && rows[idx[j]].p == rows[idx[i]].p {
			if rows[idx[j]].y == 1 {
				dtp++
			} else {
				dfp++
			}
			j++
		}
		// AUC: each negative in this group ranks below tp positives
		// above and ties with dtp.
		auc += dfp * (tp + dtp/2)
		tp += dtp
		fp += dfp
		recall := tp / pos
		ap += (recall - prevRecall) * tp / (tp + fp)
		prevRecall = recall
		i = j
	}
	return auc / (pos * neg), ap
}

func writePredictions(w io.Writer, test []pred) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("index,prediction,label,customer_id,day\n")
	var buf []byte
	for _, p := range test {
		buf = buf[:0]
		buf = strconv.AppendInt(buf, int64(p.idx), 10)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, p.p, 'g', -1, 64)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(p.y), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, p.cust, 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, p.day, 10)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("risk: predictions: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("risk: predictions: %w", err)
	}
	return nil
}

func nan() float64 { return math.NaN() }
