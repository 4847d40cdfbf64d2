package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the perpetua binary in child
// processes, so crash tests need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("PERPETUA_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// child is a perpetua process started by a test.
type child struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer // stderr
	done chan error
}

func startServe(t *testing.T, dataDir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "PERPETUA_TEST_MAIN=1", "PERPETUA_API_KEYS=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: new(bytes.Buffer), done: make(chan error, 1)}
	cmd.Stderr = c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("serve printed no address: %v; stderr: %s", err, c.out)
	}
	// "perpetua: listening on 127.0.0.1:PORT (data dir …)"
	f := strings.Fields(line)
	if len(f) < 4 {
		t.Fatalf("unexpected first line %q", line)
	}
	c.addr = "http://" + f[3]
	go func() { io.Copy(io.Discard, stdout); c.done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(c.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 20s; stderr: %s", c.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

func batchBody(b, n int) []byte {
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, `{"id":"b%d-%d","type":"view","timestamp":"2026-03-01T10:%02d:%02dZ","user_id":"u%d","item_id":"i%d","price":9.5}`+"\n",
			b, i, (b/60)%60, b%60, i%50, (b*7+i)%100)
	}
	return buf.Bytes()
}

func postEvents(url string, body []byte) (int, []byte, error) {
	resp, err := http.Post(url+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

type logEvent struct {
	Offset uint64          `json:"offset"`
	Event  json.RawMessage `json:"event"`
}

func readLog(t *testing.T, url string) []logEvent {
	t.Helper()
	var all []logEvent
	from := uint64(0)
	for {
		resp, err := http.Get(fmt.Sprintf("%s/v1/events?from=%d&limit=5000", url, from))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Events []logEvent `json:"events"`
			Next   uint64     `json:"next"`
			End    uint64     `json:"end"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /v1/events?from=%d: %d %v", from, resp.StatusCode, err)
		}
		all = append(all, page.Events...)
		if page.Next >= page.End || len(page.Events) == 0 {
			return all
		}
		from = page.Next
	}
}

// TestKill9 kills the server with SIGKILL while clients are ingesting and
// checks that, after a restart, every batch answered 202 is in the log,
// every batch is all-or-nothing, nothing else is there, and retries of
// acknowledged batches are recognised as duplicates.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	c := startServe(t, dir)
	const perBatch = 100
	var mu sync.Mutex
	acked := map[int]bool{}
	sent := map[int]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				b := w*100000 + i
				mu.Lock()
				sent[b] = true
				mu.Unlock()
				code, _, err := postEvents(c.addr, batchBody(b, perBatch))
				if err != nil {
					return // the server died mid-request
				}
				if code == http.StatusAccepted {
					mu.Lock()
					acked[b] = true
					mu.Unlock()
				}
			}
		}(w)
	}
	// Let some batches land, then kill without warning.
	for {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
	close(stop)
	wg.Wait()
	c.done <- nil // for the cleanup

	c2 := startServe(t, dir)
	evs := readLog(t, c2.addr)
	count := map[int]int{}
	seen := map[string]bool{}
	for i, e := range evs {
		if e.Offset != uint64(i) {
			t.Fatalf("event %d has offset %d", i, e.Offset)
		}
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(e.Event, &v); err != nil {
			t.Fatalf("offset %d: %v", e.Offset, err)
		}
		if seen[v.ID] {
			t.Fatalf("id %q appears twice", v.ID)
		}
		seen[v.ID] = true
		var b, k int
		if _, err := fmt.Sscanf(v.ID, "b%d-%d", &b, &k); err != nil || !sent[b] {
			t.Fatalf("offset %d: id %q was never sent", e.Offset, v.ID)
		}
		count[b]++
	}
	for b := range acked {
		if count[b] != perBatch {
			t.Errorf("acknowledged batch %d has %d of %d events after restart", b, count[b], perBatch)
		}
	}
	for b, n := range count {
		if n != perBatch {
			t.Errorf("batch %d is partly in the log: %d of %d events", b, n, perBatch)
		}
	}
	t.Logf("%d batches acknowledged, %d in the log (%d events) after SIGKILL", len(acked), len(count), len(evs))

	// A client retrying an acknowledged batch after the crash appends nothing.
	for b := range acked {
		code, body, err := postEvents(c2.addr, batchBody(b, perBatch))
		if err != nil || code != http.StatusAccepted || !bytes.Contains(body, []byte(`"duplicates":100`)) {
			t.Fatalf("retry of batch %d: %d %s %v; want 202 with 100 duplicates", b, code, body, err)
		}
		break
	}
	if n := len(readLog(t, c2.addr)); n != len(evs) {
		t.Fatalf("log has %d events after a retried batch; want %d", n, len(evs))
	}

	// Bad input changes nothing.
	bad := append(batchBody(999999, 3), []byte(`{"id":"x","type":"view","timestamp":"2026-03-01T10:00:00Z","user_id":"u","item_id":"i","price":-1}`+"\n")...)
	if code, body, _ := postEvents(c2.addr, bad); code != http.StatusBadRequest || !bytes.Contains(body, []byte("price")) {
		t.Fatalf("invalid batch: %d %s; want 400 naming price", code, body)
	}
	if n := len(readLog(t, c2.addr)); n != len(evs) {
		t.Fatalf("log has %d events after a rejected batch; want %d", n, len(evs))
	}

	// A graceful stop exits 0 and leaves a checkpoint.
	c2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c2.done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v; stderr: %s", err, c2.out)
		}
		c2.done <- nil
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "checkpoint.ppt")); err != nil {
		t.Fatalf("no checkpoint after graceful stop: %v", err)
	}
}

// TestEvalClassify runs the eval command as a user would and recomputes
// the accuracy from the predictions file.
func TestEvalClassify(t *testing.T) {
	data := filepath.Join("..", "..", "internal", "dataset", "testdata", "elec2_head200.csv")
	if full := filepath.Join("..", "..", "..", "shared", "data", "elec2", "elecNormNew.csv"); fileExists(full) && !testing.Short() {
		data = full
	} else {
		t.Logf("using the excerpt %s (../shared/data/elec2 not present or -short)", data)
	}
	// Prequential accuracy each model must reach on the full Elec2 stream
	// (issue 4's targets; the no-change baseline scores 0.853).
	minAcc := map[string]float64{"logistic": 0.75, "mlp": 0.77, "nochange": 0.85, "hoeffding": 0.78, "hat": 0.83, "arf": 0.89}
	for _, model := range []string{"logistic", "mlp", "nochange", "hoeffding", "hat", "arf"} {
		t.Run(model, func(t *testing.T) {
			preds := filepath.Join(t.TempDir(), "p.csv")
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"eval", "classify", "--data", data, "--target", "class",
				"--model", model, "--json", "--predictions", preds}, &stdout, &stderr)
			if err != nil {
				t.Fatalf("eval: %v; stderr: %s", err, stderr.String())
			}
			var res struct {
				Task    string             `json:"task"`
				N       int                `json:"n"`
				Metrics map[string]float64 `json:"metrics"`
				Seconds float64            `json:"seconds"`
				PerSec  float64            `json:"per_second"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
			}
			f, _ := os.Open(preds)
			defer f.Close()
			rows, err := csv.NewReader(f).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows)-1 != res.N || res.Task != "classify" || res.N == 0 {
				t.Fatalf("task %q, n %d, predictions rows %d", res.Task, res.N, len(rows)-1)
			}
			right := 0
			for _, r := range rows[1:] {
				p, _ := strconv.ParseFloat(r[1], 64)
				y, _ := strconv.ParseFloat(r[2], 64)
				if (p >= 0.5) == (y == 1) {
					right++
				}
			}
			acc := float64(right) / float64(res.N)
			if math.Abs(acc-res.Metrics["accuracy"]) > 1e-12 {
				t.Fatalf("accuracy recomputed from predictions %.6f; reported %.6f", acc, res.Metrics["accuracy"])
			}
			t.Logf("%s on %s: n=%d accuracy=%.4f log_loss=%.4f auc=%.4f (%.0f rows/s)", model, filepath.Base(data),
				res.N, acc, res.Metrics["log_loss"], res.Metrics["auc"], res.PerSec)
			if res.N > 40000 && acc < minAcc[model] {
				t.Errorf("%s accuracy on Elec2 %.4f; want ≥ %.2f", model, acc, minAcc[model])
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"eval"}, 2},
		{[]string{"eval", "regress"}, 2},
		{[]string{"eval", "classify", "--target", "class"}, 2},
		{[]string{"eval", "classify", "--data", "nope.csv", "--target", "class"}, 2},
		{[]string{"eval", "classify", "--data", "x", "--target", "y", "--model", "bogus"}, 2},
		{[]string{"demo", "--days", "0"}, 2},
		{[]string{"eval", "classify", "--data", "../../internal/dataset/testdata/elec2_head200.csv", "--target", "class", "--drift", "bogus"}, 2},
		{[]string{"serve", "--sync", "sometimes", "--data-dir", "x"}, 2},
		{[]string{"version"}, 0},
		{[]string{"help"}, 0},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errb)
		if got := exitCode(err, io.Discard); got != tt.code {
			t.Errorf("perpetua %q: exit %d (%v); want %d", tt.args, got, err, tt.code)
		}
	}
}

func TestEvalDrift(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"eval", "classify", "--data", "../../internal/dataset/testdata/elec2_head200.csv",
		"--target", "class", "--model", "nochange", "--drift", "page-hinkley", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("eval --drift: %v; stderr %s", err, stderr.String())
	}
	var res struct {
		Drift        string  `json:"drift"`
		DriftIndices []int64 `json:"drift_indices"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Drift != "page-hinkley" || res.DriftIndices == nil {
		t.Fatalf("eval --drift JSON %s: %+v, %v; want drift and a drift_indices list", stdout.String(), res, err)
	}
}

func TestEvalSegments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"eval", "classify", "--data", "../../internal/dataset/testdata/elec2_head200.csv",
		"--target", "class", "--model", "logistic", "--segments", "60,130", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("eval --segments: %v; stderr %s", err, stderr.String())
	}
	var res struct {
		N  int `json:"n"`
		CL struct {
			Segments []string    `json:"segments"`
			R        [][]float64 `json:"r"`
			ACC      float64     `json:"acc"`
		} `json:"cl"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.N != 200 || len(res.CL.Segments) != 3 || len(res.CL.R) != 3 || len(res.CL.R[2]) != 3 {
		t.Fatalf("eval --segments 60,130: n=%d cl=%+v; want 3 segments and a 3×3 R", res.N, res.CL)
	}
	for _, bad := range []string{"0", "50,40", "x", "150,5000"} {
		err := run(context.Background(), []string{"eval", "classify", "--data", "../../internal/dataset/testdata/elec2_head200.csv",
			"--target", "class", "--segments", bad}, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("--segments %q: no error", bad)
		}
	}
}

// TestSEADrift: ARF with ADWIN on the SEA concepts stream flags each of
// the three drifts (at 12,500, 25,000 and 37,500) within 1,000 examples and
// raises at most one false alarm in the whole stream.
func TestSEADrift(t *testing.T) {
	data := filepath.Join("..", "..", "..", "shared", "data", "sea-concepts", "sea_50k.csv")
	if !fileExists(data) {
		t.Skipf("%s not present: the SEA drift check needs ../shared/data", data)
	}
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"eval", "classify", "--data", data, "--target", "label",
		"--model", "arf", "--drift", "adwin", "--json"}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		DriftIndices     []int64            `json:"drift_indices"`
		Metrics          map[string]float64 `json:"metrics"`
		NoChangeAccuracy float64            `json:"nochange_accuracy"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("arf accuracy %.4f (no-change %.4f), drift flagged at %v", res.Metrics["accuracy"], res.NoChangeAccuracy, res.DriftIndices)
	false_ := 0
	for _, d := range res.DriftIndices {
		hit := false
		for _, c := range []int64{12500, 25000, 37500} {
			hit = hit || (d >= c && d < c+1000)
		}
		if !hit {
			false_++
		}
	}
	for _, c := range []int64{12500, 25000, 37500} {
		found := false
		for _, d := range res.DriftIndices {
			found = found || (d >= c && d < c+1000)
		}
		if !found {
			t.Errorf("drift at %d not flagged within 1000 examples (flags: %v)", c, res.DriftIndices)
		}
	}
	if false_ > 1 {
		t.Errorf("%d false alarms (flags: %v); want at most 1", false_, res.DriftIndices)
	}
}

// TestEvalOddInput: missing values (empty, ?, NaN), a constant column, an
// unseen category and a class that never appears are handled by the
// documented rules (missing → 0, categories hashed, one-class stream
// scored with AUC undefined) by every model, without panics or NaN.
func TestEvalOddInput(t *testing.T) {
	data := filepath.Join(t.TempDir(), "odd.csv")
	os.WriteFile(data, []byte("a,b,c,y\n1,x,5,1\n2,y,5,1\nNaN,z,5,1\n,?,5,1\n3,never-seen,5,1\n"), 0o644)
	for name := range models {
		var stdout bytes.Buffer
		if err := run(context.Background(), []string{"eval", "classify", "--data", data, "--target", "y", "--model", name, "--json"}, &stdout, io.Discard); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var res struct {
			N       int                 `json:"n"`
			Metrics map[string]*float64 `json:"metrics"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.N != 5 {
			t.Fatalf("%s: %s: %v", name, stdout.String(), err)
		}
		if res.Metrics["auc"] != nil || res.Metrics["log_loss"] == nil || math.IsNaN(*res.Metrics["log_loss"]) {
			t.Errorf("%s: metrics %s; want auc null (one class) and a finite log loss", name, stdout.String())
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestEvalPurchase runs the large model on CTR data as a user would and
// recomputes log loss and AUC from the predictions file.
func TestEvalPurchase(t *testing.T) {
	data := filepath.Join("..", "..", "internal", "dataset", "testdata", "criteo_head20.csv")
	if full := filepath.Join("..", "..", "..", "shared", "data", "criteo-ctr-sample", "criteo_sample.csv"); fileExists(full) {
		data = full
	}
	for _, model := range []string{"deep", "deepfm", "wide"} {
		preds := filepath.Join(t.TempDir(), "p.csv")
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"eval", "purchase", "--data", data, "--format", "criteo", "--model", model,
			"--json", "--predictions", preds}, &stdout, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		var res struct {
			Task        string             `json:"task"`
			N           int                `json:"n"`
			Metrics     map[string]float64 `json:"metrics"`
			Calibration []struct{ N int }  `json:"calibration"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Task != "purchase" || res.N < 20 || len(res.Calibration) != 10 {
			t.Fatalf("%s: %s (%v)", model, stdout.String(), err)
		}
		f, _ := os.Open(preds)
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(rows)-1 != res.N {
			t.Fatalf("%s: predictions file: %d rows, %v", model, len(rows)-1, err)
		}
		var ll float64
		var ps, ys []float64
		for _, r := range rows[1:] {
			p, _ := strconv.ParseFloat(r[1], 64)
			y, _ := strconv.ParseFloat(r[2], 64)
			q := math.Min(math.Max(p, 1e-15), 1-1e-15)
			ll -= y*math.Log(q) + (1-y)*math.Log(1-q)
			ps, ys = append(ps, p), append(ys, y)
		}
		ll /= float64(res.N)
		if math.Abs(ll-res.Metrics["log_loss"]) > 1e-9 {
			t.Errorf("%s: log loss from predictions %.9f; reported %.9f", model, ll, res.Metrics["log_loss"])
		}
		var pairs, wins float64
		for i := range ps {
			for j := range ps {
				if ys[i] == 1 && ys[j] == 0 {
					pairs++
					switch {
					case ps[i] > ps[j]:
						wins++
					case ps[i] == ps[j]:
						wins += 0.5
					}
				}
			}
		}
		if auc := wins / pairs; math.Abs(auc-res.Metrics["auc"]) > 1e-3 {
			t.Errorf("%s: AUC from predictions %.5f; reported %.5f", model, auc, res.Metrics["auc"])
		}
	}
}

func TestBenchPurchaseJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark run")
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"bench", "purchase", "--examples", "3000", "--vocab", "500", "--json"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%s: %v", stdout.String(), err)
	}
	for _, k := range []string{"deep_examples_per_second", "logistic_examples_per_second", "bytes_per_id", "score_500_p99_ms"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Errorf("bench purchase --json: %s = %v; want a positive number", k, res[k])
		}
	}
}
