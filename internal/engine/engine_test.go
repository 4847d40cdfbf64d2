package engine

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // substring of the error; "" means valid
	}{
		{Config{DataDir: "d"}, ""},
		{Config{}, "data_dir"},
		{Config{DataDir: "d", Sync: "sometimes"}, "sync"},
		{Config{DataDir: "d", Window: -1}, "window"},
		{Config{DataDir: "d", Hidden: []int{0}}, "hidden"},
		{Config{DataDir: "d", Keys: "short:admin"}, "keys"},
		{Config{DataDir: "d", CheckpointEvery: -5}, "checkpoint_every"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Validate(%+v) = %v; want nil", tt.cfg, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Validate(%+v) = %v; want an error naming %q", tt.cfg, err, tt.want)
		}
	}
}

// TestRunShutdown runs the engine, ingests, shuts down through ctx and
// checks the drain left a checkpoint at the log's end; a second engine on
// the same data dir resumes from it.
func TestRunShutdown(t *testing.T) {
	dir := t.TempDir()
	run := func(body string) uint64 {
		e, url, stop := launch(t, Config{DataDir: dir, Addr: "127.0.0.1:0"})
		resp, err := http.Post(url+"/v1/events", "application/x-ndjson", bytes.NewBufferString(body))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST: %v %v", resp, err)
		}
		resp.Body.Close()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if e.Ready() {
			t.Fatal("still ready after shutdown")
		}
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		return e.Runner().Offset()
	}
	events := `{"id":"a","type":"view","timestamp":"2026-01-01T00:00:00Z","user_id":"u","item_id":"i"}
{"id":"b","type":"purchase","timestamp":"2026-01-01T00:01:00Z","user_id":"u","item_id":"i"}
`
	if off := run(events); off != 2 {
		t.Fatalf("first run stopped at offset %d; want 2", off)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "checkpoint.ppt")); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	more := `{"id":"c","type":"view","timestamp":"2026-01-01T00:02:00Z","user_id":"u","item_id":"j"}
`
	if off := run(more); off != 3 {
		t.Fatalf("second run stopped at offset %d; want 3 (resumed from the checkpoint at 2)", off)
	}
}

// TestRunOnNATS runs the engine on an embedded NATS JetStream log: events
// go in, are learned, and a second engine on the same store resumes from
// the checkpoint.
func TestRunOnNATS(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Addr: "127.0.0.1:0", Log: "nats+embedded://" + filepath.Join(dir, "nats")}
	run := func(body string) uint64 {
		e, url, stop := launch(t, cfg)
		resp, err := http.Post(url+"/v1/events", "application/x-ndjson", bytes.NewBufferString(body))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST: %v %v", resp, err)
		}
		resp.Body.Close()
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return e.Runner().Offset()
	}
	if off := run(`{"id":"a","type":"view","timestamp":"2026-01-01T00:00:00Z","user_id":"u","item_id":"i"}
{"id":"b","type":"purchase","timestamp":"2026-01-01T00:01:00Z","user_id":"u","item_id":"i"}
`); off != 2 {
		t.Fatalf("first run on NATS stopped at %d; want 2", off)
	}
	if off := run(`{"id":"c","type":"view","timestamp":"2026-01-01T00:02:00Z","user_id":"u","item_id":"j"}
{"id":"a","type":"view","timestamp":"2026-01-01T00:00:00Z","user_id":"u","item_id":"i"}
`); off != 3 {
		t.Fatalf("second run on NATS stopped at %d; want 3 (resumed, and the repeated id deduplicated)", off)
	}
	if _, err := New(Config{DataDir: dir, Log: "nats://[bad"}); err == nil {
		t.Fatal("a malformed NATS URL: no error")
	}
}
