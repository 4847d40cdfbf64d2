package risk

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const header = "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO\n"

func writeFile(t testing.TB, path, body string, gz bool) {
	t.Helper()
	var b bytes.Buffer
	if gz {
		w := gzip.NewWriter(&b)
		w.Write([]byte(body))
		w.Close()
	} else {
		b.WriteString(body)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// synthCSV writes days of handbook-format rows: compromised terminals
// (all fraud) appear from day 3 on, and amounts above 220 are fraud.
func synthCSV(days, perDay int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	var sb strings.Builder
	id := 0
	for d := 0; d < days; d++ {
		for i := 0; i < perDay; i++ {
			sec := d*86400 + i*86400/perDay
			c, term := rng.IntN(100), rng.IntN(150)
			amt := 10 + rng.Float64()*90
			fraud := 0
			if term < 4 && d >= 3 {
				fraud = 1
			}
			if rng.IntN(200) == 0 {
				amt, fraud = 230+rng.Float64()*100, 1
			}
			h, m, s := sec%86400/3600, sec%3600/60, sec%60
			fmt.Fprintf(&sb, "%d,2018-04-%02d %02d:%02d:%02d,%d,%d,%.2f,%d,%d,%d,0\n", id, 1+d, h, m, s, c, term, amt, sec, d, fraud)
			id++
		}
	}
	return sb.String()
}

func TestReadHandbookDirAndErrors(t *testing.T) {
	dir := t.TempDir()
	body := synthCSV(4, 50, 1)
	lines := strings.SplitAfter(body, "\n")
	writeFile(t, filepath.Join(dir, "transactions_a.csv.gz"), header+strings.Join(lines[:100], ""), true)
	writeFile(t, filepath.Join(dir, "transactions_b.csv"), header+strings.Join(lines[100:], ""), false)
	n := 0
	var last Row
	err := ReadHandbook(context.Background(), dir, func(r Row) error { n++; last = r; return nil })
	if err != nil || n != 200 || last.ID != 199 || last.Day != 3 {
		t.Fatalf("ReadHandbook(dir) = %v after %d rows, last %+v; want 200 rows, last id 199 day 3", err, n, last)
	}
	wantSec := int64(1522540800) + int64(3*86400+49*86400/50) // 2018-04-01 UTC + offset
	if last.Sec != wantSec {
		t.Errorf("last row Sec = %d; want %d", last.Sec, wantSec)
	}
	crlf := filepath.Join(t.TempDir(), "crlf.csv")
	// TX_FRAUD last and no TX_TIME_DAYS: the CR must not reach the
	// label, and the day is derived.
	writeFile(t, crlf, "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_FRAUD\r\n"+
		"0,2018-04-01 00:00:31,596,3156,57.16,31,0\r\n1,2018-04-02 00:02:10,4961,3412,81.51,86530,1\r\n", false)
	var rows []Row
	if err := ReadHandbook(context.Background(), crlf, func(r Row) error { rows = append(rows, r); return nil }); err != nil || len(rows) != 2 || rows[1].Fraud != 1 || rows[1].Day != 1 {
		t.Errorf("ReadHandbook(CRLF file) = %v, rows %+v; want 2 rows, the second fraud on day 1", err, rows)
	}
	tests := []struct {
		name, body, want string
	}{
		{"out of order", header + lines[5] + lines[4], "rows must be in time order"},
		{"negative amount", header + "0,2018-04-01 00:00:00,1,1,-5,0,0,0,0\n", "TX_AMOUNT"},
		{"bad fraud", header + "0,2018-04-01 00:00:00,1,1,5,0,0,2,0\n", "TX_FRAUD"},
		{"missing column", "TRANSACTION_ID,TX_DATETIME\n0,2018-04-01 00:00:00\n", "missing column CUSTOMER_ID"},
		{"short row", header + "0,2018-04-01 00:00:00,1\n", "3 fields, want 9"},
		{"empty", "", "empty file"},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "x.csv")
		writeFile(t, p, tt.body, false)
		err := ReadHandbook(context.Background(), p, func(Row) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "x.csv") {
			t.Errorf("%s: ReadHandbook = %v; want an error naming x.csv and containing %q", tt.name, err, tt.want)
		}
	}
}

func TestAUCAP(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for trial := 0; trial < 20; trial++ {
		var rows []pred
		for i := 0; i < 60; i++ {
			y := float64(rng.IntN(4) / 3)
			p := math.Round((rng.Float64()+y*0.3)*10) / 10 // many ties
			rows = append(rows, pred{p: p, y: y})
		}
		auc, ap := aucAP(rows)
		// Brute force AUC: pairs.
		var num, den float64
		for _, a := range rows {
			for _, b := range rows {
				if a.y == 1 && b.y == 0 {
					den++
					switch {
					case a.p > b.p:
						num++
					case a.p == b.p:
						num += 0.5
					}
				}
			}
		}
		// Brute force AP: over distinct thresholds, precision × Δrecall.
		var bap, prevR, pos float64
		for _, r := range rows {
			pos += r.y
		}
		ths := map[float64]bool{}
		for _, r := range rows {
			ths[r.p] = true
		}
		var sorted []float64
		for th := range ths {
			sorted = append(sorted, th)
		}
		for i := range sorted { // descending
			for j := i + 1; j < len(sorted); j++ {
				if sorted[j] > sorted[i] {
					sorted[i], sorted[j] = sorted[j], sorted[i]
				}
			}
		}
		for _, th := range sorted {
			var tp, fp float64
			for _, r := range rows {
				if r.p >= th {
					tp += r.y
					fp += 1 - r.y
				}
			}
			rec := tp / pos
			bap += (rec - prevR) * tp / (tp + fp)
			prevR = rec
		}
		if math.Abs(auc-num/den) > 1e-12 || math.Abs(ap-bap) > 1e-12 {
			t.Fatalf("trial %d: aucAP = %v, %v; brute force %v, %v", trial, auc, ap, num/den, bap)
		}
	}
}

func TestCardPrecision(t *testing.T) {
	// Day 1: customers 1 (fraud, 0.9), 2 (genuine, 0.8), 3 (fraud, 0.1);
	// top 2 → 1 hit; customer 1 is then detected and left out on day 2.
	detected := map[int64]bool{}
	day1 := []pred{{cust: 1, p: 0.9, y: 1}, {cust: 1, p: 0.2}, {cust: 2, p: 0.8}, {cust: 3, p: 0.1, y: 1}}
	if got := cardPrecisionDay(day1, 2, detected); got != 0.5 {
		t.Errorf("day 1 CP@2 = %v; want 0.5", got)
	}
	day2 := []pred{{cust: 1, p: 0.99, y: 1}, {cust: 3, p: 0.5, y: 1}, {cust: 2, p: 0.4}}
	if got := cardPrecisionDay(day2, 2, detected); got != 0.5 {
		t.Errorf("day 2 CP@2 = %v; want 0.5 (customer 1 already detected)", got)
	}
}

// TestEvalSynthetic runs Eval end to end on a synthetic stream and checks
// the protocol, the predictions file and that the model learned the
// compromised terminals.
func TestEvalSynthetic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.csv.gz")
	writeFile(t, p, header+synthCSV(24, 400, 2), true)
	var out bytes.Buffer
	rep, err := Eval(context.Background(), p, EvalConfig{Delay: 2 * 86400e9, TestDays: 3, TrainDays: 3, Predictions: &out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.StreamN != 24*400 || rep.Protocol.TestStart != 21 || rep.Protocol.TrainStart != 16 || len(rep.PerDay) != 3 {
		t.Errorf("report %+v; want 9600 rows, test days 21..23, train start 16, 3 days", rep)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != "index,prediction,label,customer_id,day" || len(lines) != rep.N+1 {
		t.Errorf("predictions: header %q and %d rows; want the header and %d rows", lines[0], len(lines)-1, rep.N)
	}
	if !(rep.Metrics.AUC > 0.9) || !(rep.Metrics.CostSaved > 0) {
		t.Errorf("metrics %+v; want AUC > 0.9 and a positive cost saving", rep.Metrics)
	}
}

// TestEvalHandbookShort runs the first 10 days of the real data (a test
// on days 8..9) when it is present.
func TestEvalHandbookShort(t *testing.T) {
	dir := handbookDir(t)
	if testing.Short() {
		t.Skip("short mode")
	}
	rep, err := Eval(context.Background(), dir, EvalConfig{Days: 10, TestDays: 2, TrainDays: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Protocol.TestStart != 8 || rep.Protocol.LastDay != 9 || !(rep.Metrics.AUC > 0.6) {
		t.Errorf("report protocol %+v metrics %+v; want test days 8..9 and a useful AUC", rep.Protocol, rep.Metrics)
	}
}

func FuzzReadHandbook(f *testing.F) {
	f.Add([]byte(header + "0,2018-04-01 00:00:31,596,3156,57.16,31,0,0,0\n1,2018-04-01 00:02:10,4961,3412,81.51,130,0,1,1\n"))
	f.Add([]byte("TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_FRAUD\n0,x,1,1,1e400,0,0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		prev := int64(math.MinInt64)
		_ = ReadHandbook(context.Background(), p, func(r Row) error {
			if r.Sec < prev || !(r.Amount >= 0) || math.IsInf(r.Amount, 0) || (r.Fraud != 0 && r.Fraud != 1) {
				t.Fatalf("row %+v passed the reader", r)
			}
			prev = r.Sec
			return nil
		})
	})
}
