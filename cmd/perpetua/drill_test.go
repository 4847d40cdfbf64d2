package main

// Reliability drills (issue 10, item 6): the real binary, built once per
// test, run as a child process on a data dir, killed, starved of disk,
// denied writes and fed corrupt files. The checks are made on what
// survives: the log read directly with package eventlog, and models
// rebuilt from it with package continual and compared with what the
// drilled process serves.
//
// By default each drill is small enough for CI under -race (a few
// rounds); PERPETUA_LONG=1 (scripts/drill.sh) runs many more. Every
// random choice comes from a seed printed by the test; PERPETUA_DRILL_SEED
// replays one.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/perpetua-ml/perpetua/internal/continual"
	"github.com/perpetua-ml/perpetua/internal/engine"
	"github.com/perpetua-ml/perpetua/internal/eventlog"
)

// drillLong reports whether the long drills were asked for.
func drillLong() bool { return os.Getenv("PERPETUA_LONG") == "1" }

// drillSeed returns the drill's seed: PERPETUA_DRILL_SEED or the clock.
func drillSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PERPETUA_DRILL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PERPETUA_DRILL_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with PERPETUA_DRILL_SEED=%d)", seed, seed)
	return seed
}

// drillBinary returns the perpetua binary to drill: $PERPETUA_DRILL_BIN,
// or one built with `go build` into dir (without -race: the child is
// the product, the race detector watches the test).
func drillBinary(t *testing.T, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drills start child processes")
	}
	if bin := os.Getenv("PERPETUA_DRILL_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(dir, "perpetua")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// drillBuffer is a bytes.Buffer safe for a writer goroutine and readers.
type drillBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *drillBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *drillBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// drillProc is a drilled child process.
type drillProc struct {
	cmd    *exec.Cmd
	addr   string // http://HOST:PORT once listening
	stderr *drillBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // its exit status, valid after done
}

// drillOptions adjust how a child starts.
type drillOptions struct {
	// argv replaces the command (its first element is run), for wrappers
	// (a mount namespace); empty means bin serve ….
	argv []string
	// cred runs the child as another user (used as root, which ignores
	// file permissions).
	cred *syscall.Credential
	// env is added to the child's environment.
	env []string
}

// drillConfig is the engine configuration of the drilled processes:
// frequent checkpoints and publications, so kills land in them.
const drillConfig = `{"checkpoint_every": 400, "checkpoint_interval": "150ms", "publish_every": 200}`

// serveArgs returns the arguments of `perpetua serve` on dataDir.
func serveArgs(t *testing.T, dataDir string) []string {
	t.Helper()
	cfg := filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+".json")
	if err := os.WriteFile(cfg, []byte(drillConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--config", cfg, "--log-level", "info"}
}

// startProc starts the child and waits for its first stdout line (the
// listen address). It returns an error, with the child's stderr, if the
// child exits first.
func startProc(t *testing.T, bin string, args []string, o drillOptions) (*drillProc, error) {
	t.Helper()
	argv := append([]string{bin}, args...)
	if len(o.argv) > 0 {
		argv = o.argv
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "PERPETUA_API_KEYS="), o.env...)
	// Own process group: the cleanup ends wrappers and their children.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: o.cred}
	p := &drillProc{cmd: cmd, stderr: new(drillBuffer), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		// Wait only after every read from the pipe (os/exec's rule).
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	select {
	case line := <-lines:
		// "perpetua: listening on HOST:PORT (data dir …)", or
		// "perpetua: nats listening on nats://HOST:PORT (…)"
		if _, rest, ok := strings.Cut(line, " listening on "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				p.addr = f[0]
				if !strings.HasPrefix(p.addr, "nats://") {
					p.addr = "http://" + p.addr
				}
				return p, nil
			}
		}
		<-p.done
		return p, fmt.Errorf("exited before listening (%v); stdout %q; stderr:\n%s", p.err, line, p.stderr)
	case <-time.After(90 * time.Second):
		return p, fmt.Errorf("no listen address after 90s; stderr:\n%s", p.stderr)
	}
}

// waitReady waits until /readyz answers 200 (a server is ready once its
// services have replayed the log as it stood at start) and returns how
// long that took.
func (p *drillProc) waitReady(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < 90*time.Second {
		select {
		case <-p.done:
			t.Fatalf("exited before ready (%v); stderr:\n%s", p.err, p.stderr)
		default:
		}
		resp, err := http.Get(p.addr + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start)
			}
			last = string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not ready after 90s (last /readyz: %s); stderr:\n%s", last, p.stderr)
	return 0
}

// mustStart is startProc, then waitReady; a failure ends the test.
func mustStart(t *testing.T, bin string, args []string, o drillOptions) *drillProc {
	t.Helper()
	p, err := startProc(t, bin, args, o)
	if err != nil {
		t.Fatal(err)
	}
	p.waitReady(t)
	return p
}

// mustStop is stop, ending the test unless the child exits 0.
func (p *drillProc) mustStop(t *testing.T) {
	t.Helper()
	if err := p.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, p.stderr)
	}
}

// kill SIGKILLs the child's process group and waits for the child.
func (p *drillProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and returns the exit status (nil: exit 0).
func (p *drillProc) stop(t *testing.T) error {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(120 * time.Second):
		t.Fatalf("no exit within 120s of SIGTERM; stderr:\n%s", p.stderr)
		return nil
	}
}

// ---- events ----

// drillUsers and drillItems size the simulated shop: small, so that
// views are followed by purchases of the same pair within the horizon
// and every learner gets positives.
const (
	drillUsers = 40
	drillItems = 60
)

// drillClock hands out event times: one per event, 5 s apart, so the label
// horizon (30 min) passes every 360 events and examples get labelled.
type drillClock struct{ n atomic.Int64 }

var drillEpoch = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func (c *drillClock) next() time.Time {
	return drillEpoch.Add(time.Duration(c.n.Add(1)) * 5 * time.Second)
}

// drillBatchMax bounds the events of a client's batch: smaller in CI,
// where the test replays the whole log under the race detector.
func drillBatchMax() int {
	if drillLong() {
		return 60
	}
	return 25
}

// drillBatch returns an NDJSON batch of n events with ids id-0…id-(n-1):
// views, and purchases of pairs viewed recently.
func drillBatch(rng *rand.Rand, c *drillClock, id string, n int) []byte {
	var b bytes.Buffer
	type pair struct{ u, i int }
	var recent []pair
	for k := 0; k < n; k++ {
		typ := "view"
		u, i := rng.IntN(drillUsers), rng.IntN(drillItems)
		if len(recent) > 0 && rng.IntN(8) == 0 {
			p := recent[rng.IntN(len(recent))]
			u, i, typ = p.u, p.i, "purchase"
		} else {
			recent = append(recent, pair{u, i})
		}
		fmt.Fprintf(&b, `{"id":"%s-%d","type":"%s","timestamp":"%s","user_id":"u%d","item_id":"i%d","price":%d.5}`+"\n",
			id, k, typ, c.next().Format(time.RFC3339), u, i, 1+i%20)
	}
	return b.Bytes()
}

// drillLedger records what clients sent and what the server acknowledged.
type drillLedger struct {
	mu     sync.Mutex
	size   map[string]int  // batch id → events sent
	acked  map[string]bool // batch ids answered 202
	codes  map[int]int     // status codes seen
	events int             // events acknowledged
}

func newDrillLedger() *drillLedger {
	return &drillLedger{size: map[string]int{}, acked: map[string]bool{}, codes: map[int]int{}}
}

var drillHTTP = &http.Client{Timeout: 60 * time.Second}

// post sends one batch and records the outcome; it returns the status
// code (0 when the connection failed) and the body.
func (l *drillLedger) post(addr, id string, n int, body []byte) (int, string) {
	l.mu.Lock()
	l.size[id] = n
	l.mu.Unlock()
	resp, err := drillHTTP.Post(addr+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.codes[resp.StatusCode]++
	if resp.StatusCode == http.StatusAccepted {
		l.acked[id] = true
		l.events += n
	}
	return resp.StatusCode, string(b)
}

// clients posts batches from w goroutines until stop is closed (or a
// post fails), and returns a wait function.
func (l *drillLedger) clients(addr string, w int, seed uint64, round int, c *drillClock, stop <-chan struct{}) func() {
	return l.pacedClients(addr, w, 0, seed, round, c, stop)
}

// pacedClients is clients with a pause between a client's batches.
func (l *drillLedger) pacedClients(addr string, w int, pace time.Duration, seed uint64, round int, c *drillClock, stop <-chan struct{}) func() {
	var wg sync.WaitGroup
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(round*1000+g)))
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("r%d-c%d-b%d", round, g, b)
				n := 1 + rng.IntN(drillBatchMax())
				if code, _ := l.post(addr, id, n, drillBatch(rng, c, id, n)); code != http.StatusAccepted {
					return // killed (0), or refusing: the drill decides what that means
				}
				if pace > 0 {
					select {
					case <-stop:
						return
					case <-time.After(pace):
					}
				}
			}
		}()
	}
	return wg.Wait
}

// ---- checks on what survived ----

// checkLog opens the log in dataDir (the process must have exited) and
// checks: offsets are consecutive, every record is a valid event sent by
// a client, no id appears twice, every batch is all or nothing, and every
// acknowledged batch is there. It returns the number of records.
func checkLog(t *testing.T, dataDir string, l *drillLedger) uint64 {
	t.Helper()
	lg, err := eventlog.Open(filepath.Join(dataDir, "log"), eventlog.Options{})
	if err != nil {
		t.Fatalf("open the drilled log: %v", err)
	}
	defer lg.Close()
	rd, err := lg.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	seen := map[string]bool{}
	perBatch := map[string]int{}
	var n uint64
	for {
		rec, err := rd.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read the drilled log at %d: %v", n, err)
		}
		if rec.Offset != n {
			t.Fatalf("record %d has offset %d", n, rec.Offset)
		}
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(rec.Data, &ev); err != nil {
			t.Fatalf("offset %d: not an event: %v (%q)", n, err, rec.Data)
		}
		if seen[ev.ID] {
			t.Fatalf("offset %d: id %q is in the log twice", n, ev.ID)
		}
		seen[ev.ID] = true
		k := strings.LastIndexByte(ev.ID, '-')
		batch := ev.ID[:max(k, 0)]
		l.mu.Lock()
		_, sent := l.size[batch]
		l.mu.Unlock()
		if !sent {
			t.Fatalf("offset %d: id %q was never sent", n, ev.ID)
		}
		perBatch[batch]++
		n++
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for b, got := range perBatch {
		if got != l.size[b] {
			t.Errorf("batch %s is partly in the log: %d of %d events", b, got, l.size[b])
		}
	}
	for b := range l.acked {
		if perBatch[b] != l.size[b] {
			t.Errorf("acknowledged batch %s has %d of %d events in the log", b, perBatch[b], l.size[b])
		}
	}
	if end := lg.End(); end != n {
		t.Errorf("log End() = %d; read %d records", end, n)
	}
	return n
}

// logEnd asks the process for its log's end.
func logEnd(t *testing.T, addr string) uint64 {
	t.Helper()
	resp, err := http.Get(addr + "/v1/events?from=0&limit=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		End uint64 `json:"end"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/events: %d %v", resp.StatusCode, err)
	}
	return page.End
}

// metricValue returns the value of an unlabelled metric from /metrics.
func metricValue(t *testing.T, addr, name string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// waitCaughtUp waits until the trainer has published the model of the
// whole log, and returns the log's end.
func waitCaughtUp(t *testing.T, p *drillProc) uint64 {
	t.Helper()
	end := logEnd(t, p.addr)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if v, ok := metricValue(t, p.addr, "perpetua_learn_offset"); ok && uint64(v) == end {
			return end
		}
		time.Sleep(50 * time.Millisecond)
	}
	v, _ := metricValue(t, p.addr, "perpetua_learn_offset")
	t.Fatalf("trainer at offset %v after 3 min; log end %d; stderr:\n%s", v, end, p.stderr)
	return 0
}

// drillPairs are the user × item pairs whose predictions are compared.
func drillPairs() []continual.Pair {
	var ps []continual.Pair
	for u := 0; u < drillUsers; u += 2 {
		for i := 0; i < drillItems; i += 3 {
			ps = append(ps, continual.Pair{UserID: "u" + strconv.Itoa(u), ItemID: "i" + strconv.Itoa(i)})
		}
	}
	ps = append(ps, continual.Pair{UserID: "never-seen", ItemID: "i1"})
	return ps
}

// servedPredictions asks the process for model's predictions of pairs.
func servedPredictions(t *testing.T, addr, model string, pairs []continual.Pair) []float64 {
	t.Helper()
	type jp struct {
		UserID string `json:"user_id"`
		ItemID string `json:"item_id"`
	}
	req := struct {
		Model string `json:"model"`
		Pairs []jp   `json:"pairs"`
	}{Model: model}
	for _, p := range pairs {
		req.Pairs = append(req.Pairs, jp{p.UserID, p.ItemID})
	}
	body, _ := json.Marshal(req)
	resp, err := http.Post(addr+"/v1/predict/purchase", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Model       string `json:"model"`
		Predictions []struct {
			Probability float64 `json:"probability"`
		} `json:"predictions"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != 200 || len(out.Predictions) != len(pairs) {
		t.Fatalf("predict %s: %d %s (%v)", model, resp.StatusCode, b, err)
	}
	ps := make([]float64, len(pairs))
	for i, p := range out.Predictions {
		ps[i] = p.Probability
	}
	return ps
}

// replayModels runs a learning loop over the log in dataDir to its end,
// as the engine configures it: from scratch (ckptDir "") or restored
// from the checkpoints in ckptDir. It returns each learner's
// predictions of pairs, and the runner's stats.
func replayModels(t *testing.T, dataDir, ckptDir string, pairs []continual.Pair) (map[string][]float64, continual.Stats) {
	t.Helper()
	lg, err := eventlog.Open(filepath.Join(dataDir, "log"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	r, err := continual.New(lg, engine.Learners(nil, 0), continual.Config{Dir: ckptDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	<-r.Started()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("replay (checkpoints %q): %v", ckptDir, err)
	}
	if r.Offset() != lg.End() {
		t.Fatalf("replay stopped at %d; log end %d", r.Offset(), lg.End())
	}
	out := map[string][]float64{}
	for _, name := range r.Learners() {
		dst := make([]float64, len(pairs))
		if _, _, err := r.ScorePurchase(ctx, name, pairs, dst); err != nil {
			t.Fatalf("replay: score %s: %v", name, err)
		}
		out[name] = dst
	}
	return out, r.Published().Stats
}

// samePredictions reports the first pair whose predictions differ in
// any bit.
func samePredictions(got, want []float64) (int, bool) {
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			return i, false
		}
	}
	return 0, len(got) == len(want)
}

// copyDir copies the regular files of src into a new dir (no subdirs).
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// servedModels asks the process for every learner's predictions of pairs.
func servedModels(t *testing.T, p *drillProc, pairs []continual.Pair) map[string][]float64 {
	t.Helper()
	out := map[string][]float64{}
	for _, l := range engine.Learners(nil, 0) {
		out[l.Name] = servedPredictions(t, p.addr, l.Name, pairs)
	}
	return out
}

// compareModels checks that got holds, for every learner, exactly (to
// the bit) the predictions in want.
func compareModels(t *testing.T, what string, pairs []continual.Pair, got, want map[string][]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d learners; want %d", what, len(got), len(want))
	}
	for name, w := range want {
		if i, ok := samePredictions(got[name], w); !ok {
			t.Errorf("%s: %s predicts %v for %v; an uninterrupted run over the same log %v",
				what, name, got[name][i], pairs[i], w[i])
		}
	}
}

// startOffset returns the log offset the trainer of p started from (the
// restored checkpoint's, 0 for none), from its "starting" log line.
func startOffset(t *testing.T, p *drillProc) uint64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if !strings.Contains(line, "msg=starting") || !strings.Contains(line, "component=continual") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "offset="); ok {
					n, err := strconv.ParseUint(v, 10, 64)
					if err != nil {
						t.Fatalf("starting line %q: %v", line, err)
					}
					return n
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no starting line from the trainer; stderr:\n%s", p.stderr)
	return 0
}
