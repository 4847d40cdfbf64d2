package natslog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/perpetua-ml/perpetua/internal/eventlog"
	"github.com/perpetua-ml/perpetua/internal/eventlog/eventlogtest"
	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts an embedded single-node server in a temporary dir.
func startServer(t testing.TB, cfg natslog.ServerConfig) *server.Server {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := natslog.StartServer(cfg)
	if err != nil {
		t.Fatalf("StartServer = %v; want nil", err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func TestConformance(t *testing.T) {
	// One server for the whole suite; each subtest gets its own stream,
	// so every log starts empty.
	s := startServer(t, natslog.ServerConfig{})
	n := 0
	eventlogtest.Run(t, func(t *testing.T) eventlog.Log {
		n++
		l, err := natslog.Open(ctxT(t), natslog.Options{
			Server:  s,
			Stream:  fmt.Sprintf("S%d", n),
			Subject: fmt.Sprintf("events.s%d", n),
		})
		if err != nil {
			t.Fatalf("Open = %v; want nil", err)
		}
		return l
	})
}

func TestConformanceDurable(t *testing.T) {
	// Each open starts an embedded server on dir and Close stops it, so
	// reopening recovers the stream and the positions from disk.
	eventlogtest.RunDurable(t, func(t *testing.T, dir string) eventlog.Log {
		l, err := natslog.Open(ctxT(t), natslog.Options{Dir: dir})
		if err != nil {
			t.Fatalf("Open(Dir: %q) = %v; want nil", dir, err)
		}
		return l
	})
}

func TestConformanceSyncAlways(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the default configuration runs the suite")
	}
	eventlogtest.RunDurable(t, func(t *testing.T, dir string) eventlog.Log {
		l, err := natslog.Open(ctxT(t), natslog.Options{Dir: dir, SyncAlways: true})
		if err != nil {
			t.Fatalf("Open(Dir: %q, SyncAlways) = %v; want nil", dir, err)
		}
		return l
	})
}

// TestTwoLogsOneStream checks what another process sees: a second Log on
// the same stream reads the first one's appends, its Wait wakes on them
// and its End catches up, and their batches do not interleave.
func TestTwoLogsOneStream(t *testing.T) {
	s := startServer(t, natslog.ServerConfig{})
	ctx := ctxT(t)
	a, err := natslog.Open(ctx, natslog.Options{Server: s})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := natslog.Open(ctx, natslog.Options{Server: s})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	r, err := b.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	done := make(chan error, 1)
	go func() { done <- r.Wait(ctx) }()
	time.Sleep(20 * time.Millisecond)
	if _, err := a.Append(ctx, [][]byte{[]byte("x"), []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("b's Wait after a's Append = %v; want nil", err)
	}
	for i, want := range []string{"x", "y"} {
		rec, err := r.Next(ctx)
		if err != nil || rec.Offset != uint64(i) || string(rec.Data) != want {
			t.Fatalf("b's Next = {%d %q}, %v; want {%d %q}, nil", rec.Offset, rec.Data, err, i, want)
		}
	}
	if _, err := r.Next(ctx); err != io.EOF {
		t.Fatalf("b's Next at the end = %v; want io.EOF", err)
	}
	if got := b.End(); got != 2 {
		t.Fatalf("b.End() after reading a's batch = %d; want 2", got)
	}
	if first, err := b.Append(ctx, [][]byte{[]byte("z")}); first != 2 || err != nil {
		t.Fatalf("b.Append after a's batch = %d, %v; want 2, nil", first, err)
	}
	if err := a.Commit(ctx, "c", 3); err != nil {
		t.Fatalf("a.Commit(c, 3) with b's append beyond a's End = %v; want nil (refresh)", err)
	}
	if got, err := b.Committed(ctx, "c"); got != 3 || err != nil {
		t.Fatalf("b.Committed(c) = %d, %v; want 3, nil", got, err)
	}
}

// TestLargeBatch appends batches over one message (max_payload), which go
// out as JetStream atomic batches of several chunks, between small ones.
func TestLargeBatch(t *testing.T) {
	s := startServer(t, natslog.ServerConfig{MaxBatch: 3})
	ctx := ctxT(t)
	l, err := natslog.Open(ctx, natslog.Options{Server: s, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big := func(tag byte, n int) [][]byte {
		b := make([][]byte, n)
		for i := range b {
			b[i] = bytes.Repeat([]byte{tag, byte('0' + i)}, 300_000) // 600 kB: two fit no message
		}
		return b
	}
	var want [][]byte
	for i, batch := range [][][]byte{{[]byte("a")}, big('x', 3), {[]byte("b"), []byte("c")}, big('y', 2)} {
		first, err := l.Append(ctx, batch)
		if err != nil || first != uint64(len(want)) {
			t.Fatalf("Append(batch %d of %d records) = %d, %v; want %d, nil", i, len(batch), first, err, len(want))
		}
		want = append(want, batch...)
	}
	tests := []struct {
		name  string
		batch [][]byte
	}{
		{"over-client-limit", big('z', 5)}, // 5 messages > Options.MaxBatch 4
		{"over-server-limit", big('z', 4)}, // 4 messages > batch.max_msgs 3
	}
	for _, tc := range tests {
		if _, err := l.Append(ctx, tc.batch); !errors.Is(err, eventlog.ErrTooLarge) {
			t.Fatalf("Append(%s) = %v; want ErrTooLarge", tc.name, err)
		}
	}
	if first, err := l.Append(ctx, [][]byte{[]byte("d")}); first != uint64(len(want)) || err != nil {
		t.Fatalf("Append after refused batches = %d, %v; want %d, nil", first, err, len(want))
	}
	want = append(want, []byte("d"))
	for from := range want {
		r, err := l.NewReader(uint64(from))
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < len(want); i++ {
			rec, err := r.Next(ctx)
			if err != nil || rec.Offset != uint64(i) || !bytes.Equal(rec.Data, want[i]) {
				t.Fatalf("NewReader(%d): Next = {%d, %d bytes}, %v; want {%d, %d bytes}", from, rec.Offset, len(rec.Data), err, i, len(want[i]))
			}
		}
		if _, err := r.Next(ctx); err != io.EOF {
			t.Fatalf("NewReader(%d): Next at the end = %v; want io.EOF", from, err)
		}
		r.Close()
	}
}

// TestConcurrentLogs appends from two Logs (two processes) on one stream
// at once: their optimistic locks conflict and retry, and every batch
// must still land contiguously at the offset Append returned.
func TestConcurrentLogs(t *testing.T) {
	s := startServer(t, natslog.ServerConfig{})
	ctx := ctxT(t)
	var logs [2]*natslog.Log
	for i := range logs {
		l, err := natslog.Open(ctx, natslog.Options{Server: s})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		logs[i] = l
	}
	const appenders, batches = 3, 30
	type sent struct {
		first uint64
		batch [][]byte
	}
	var (
		mu  sync.Mutex
		all []sent
		wg  sync.WaitGroup
	)
	errc := make(chan error, 2*appenders)
	for li, l := range logs {
		for g := 0; g < appenders; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < batches; i++ {
					batch := make([][]byte, 1+(g+i)%5)
					for j := range batch {
						batch[j] = fmt.Appendf(nil, "l%d-g%d-b%d-r%d", li, g, i, j)
					}
					first, err := l.Append(ctx, batch)
					if err != nil {
						errc <- err
						return
					}
					mu.Lock()
					all = append(all, sent{first, batch})
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("Append = %v; want nil", err)
	}
	if err := logs[0].Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range all {
		total += len(s.batch)
	}
	if got := logs[0].End(); got != uint64(total) {
		t.Fatalf("End() after Refresh = %d; want %d", got, total)
	}
	got := make([][]byte, 0, total)
	r, err := logs[1].NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, bytes.Clone(rec.Data))
	}
	if len(got) != total {
		t.Fatalf("read %d records; want %d", len(got), total)
	}
	for _, s := range all {
		for j, w := range s.batch {
			if off := s.first + uint64(j); !bytes.Equal(got[off], w) {
				t.Fatalf("offset %d = %q; want %q (batch at %d not contiguous?)", off, got[off], w, s.first)
			}
		}
	}
}

func TestOpenChecksStream(t *testing.T) {
	s := startServer(t, natslog.ServerConfig{})
	ctx := ctxT(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A stream with a retention limit would lose offsets.
	cfg := `{"name":"LIMITED","subjects":["lim"],"retention":"limits","storage":"memory","max_msgs":10,"num_replicas":1}`
	if _, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.CREATE.LIMITED", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts natslog.Options
		want string
	}{
		{"limits", natslog.Options{Server: s, Stream: "LIMITED", Subject: "lim"}, "keep every message"},
		{"subject", natslog.Options{Server: s, Stream: "LIMITED", Subject: "other"}, "subjects"},
		{"no-target", natslog.Options{}, "exactly one of"},
		{"two-targets", natslog.Options{Server: s, Dir: t.TempDir()}, "exactly one of"},
		{"bad-stream", natslog.Options{Server: s, Stream: "a.b"}, "Options.Stream"},
		{"wildcard", natslog.Options{Server: s, Subject: "a.*"}, "Options.Subject"},
		{"replicas", natslog.Options{Server: s, Replicas: 7}, "Options.Replicas"},
	}
	for _, tc := range tests {
		l, err := natslog.Open(ctx, tc.opts)
		if err == nil {
			l.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "natslog: ") {
			t.Errorf("Open(%s) = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}
