package registry

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/perpetua-ml/perpetua/internal/eventlog/natslog"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// natsJS starts an in-process NATS server (no port) and returns a
// JetStream handle on it.
func natsJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := natslog.StartServer(natslog.ServerConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// stores are the Store implementations every conformance test runs on.
func stores(t *testing.T) map[string]func() Store {
	return map[string]func() Store{
		"dir": func() Store { return DirStore(t.TempDir()) },
		"nats": func() Store {
			s, err := OpenNATSStore(context.Background(), natsJS(t), "", 1)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func TestStoreConformance(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open()
			if _, err := s.Get(ctx, "missing.json"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Get(missing) = %v; want fs.ErrNotExist", err)
			}
			if names, err := s.List(ctx, ""); err != nil || len(names) != 0 {
				t.Fatalf("List(empty store) = %v, %v; want none", names, err)
			}
			big := make([]byte, 300_000) // several object chunks
			for i := range big {
				big[i] = byte(i * 7)
			}
			files := map[string][]byte{"state.json": []byte("{}"), "purchase/v1/model.ppt": big, "purchase/v1/manifest.json": []byte("m1"),
				"purchase/v2/manifest.json": []byte("m2"), "other/v1/manifest.json": []byte("o")}
			for n, b := range files {
				if err := s.Put(ctx, n, b); err != nil {
					t.Fatalf("Put(%q) = %v", n, err)
				}
			}
			for n, b := range files {
				got, err := s.Get(ctx, n)
				if err != nil || string(got) != string(b) {
					t.Fatalf("Get(%q) = %d bytes, %v; want %d bytes", n, len(got), err, len(b))
				}
			}
			if err := s.Put(ctx, "state.json", []byte(`{"a":1}`)); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Get(ctx, "state.json"); string(got) != `{"a":1}` {
				t.Fatalf("Get after overwrite = %q", got)
			}
			names, err := s.List(ctx, "purchase/v")
			slices.Sort(names)
			want := []string{"purchase/v1/manifest.json", "purchase/v1/model.ppt", "purchase/v2/manifest.json"}
			if err != nil || !slices.Equal(names, want) {
				t.Fatalf("List(purchase/v) = %v, %v; want %v", names, err, want)
			}
		})
	}
}

// TestRegistryOverNATS runs a trainer's registry and a replica's on one
// object store: versions and promotions made by one are seen by the
// other after Refresh, and Watch wakes the replica.
func TestRegistryOverNATS(t *testing.T) {
	js := natsJS(t)
	ctx := context.Background()
	open := func() *Registry {
		s, err := OpenNATSStore(ctx, js, "reg_test", 1)
		if err != nil {
			t.Fatal(err)
		}
		r, err := New(s, "nats:reg_test")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	trainer, replica := open(), open()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changes, err := replica.Store().(Watcher).Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	wm := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	m, err := trainer.Publish("purchase", Input{Learners: []string{"mlp", "deep"}, Model: modelSet(1), Features: []byte("features at 100"),
		LogTo: 100, Watermark: wm, Metrics: map[string]metric.Values{"mlp": {LogLoss: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := replica.List("purchase"); err != nil || len(vs) != 1 || vs[0].Version != m.Version || vs[0].FeaturesFile == "" {
		t.Fatalf("replica List = %+v, %v", vs, err)
	}
	if f, err := replica.Features("purchase", 1); err != nil || string(f) != "features at 100" {
		t.Fatalf("replica Features = %q, %v", f, err)
	}
	if _, err := trainer.Promote("purchase", Ref{Learner: "deep", Version: 1}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case n := <-changes:
			seen = n == "state.json"
		case <-deadline:
			t.Fatal("the replica's watch did not report state.json within 10 s")
		}
	}
	if changed, err := replica.Refresh(); err != nil || !changed {
		t.Fatalf("Refresh = %v, %v; want true", changed, err)
	}
	if st := replica.State("purchase"); st.Champion != (Ref{Learner: "deep", Version: 1}) {
		t.Fatalf("replica champion = %+v", st.Champion)
	}
	if changed, _ := replica.Refresh(); changed {
		t.Fatal("a second Refresh reported a change")
	}
	// A rollback from the replica is seen by the trainer.
	if _, err := replica.Promote("purchase", Ref{Learner: "mlp"}); err != nil {
		t.Fatal(err)
	}
	if _, err := replica.Rollback("purchase"); err != nil {
		t.Fatal(err)
	}
	if _, err := trainer.Refresh(); err != nil {
		t.Fatal(err)
	}
	if st := trainer.State("purchase"); st.Champion != (Ref{Learner: "deep", Version: 1}) {
		t.Fatalf("trainer champion after the replica's rollback = %+v", st.Champion)
	}
}
