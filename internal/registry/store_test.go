package registry

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
			for _, n := range []string{"purchase/v1/model.ppt", "purchase/v1/model.ppt", "never/was"} {
				if err := s.Delete(ctx, n); err != nil {
					t.Fatalf("Delete(%q) = %v", n, err)
				}
			}
			if _, err := s.Get(ctx, "purchase/v1/model.ppt"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Get after Delete = %v; want fs.ErrNotExist", err)
			}
			if names, _ := s.List(ctx, "purchase/v1/"); !slices.Equal(names, []string{"purchase/v1/manifest.json"}) {
				t.Fatalf("List after Delete = %v", names)
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
		r, err := New(ctx, s, "nats:reg_test")
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
	m, err := trainer.Publish(ctx, "purchase", Input{Learners: []string{"mlp", "deep"}, Model: modelSet(1), Features: []byte("features at 100"),
		LogTo: 100, Watermark: wm, Metrics: map[string]metric.Values{"mlp": {LogLoss: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := replica.List(ctx, "purchase"); err != nil || len(vs) != 1 || vs[0].Version != m.Version || vs[0].FeaturesFile == "" {
		t.Fatalf("replica List = %+v, %v", vs, err)
	}
	if f, err := replica.Features(ctx, "purchase", 1); err != nil || string(f) != "features at 100" {
		t.Fatalf("replica Features = %q, %v", f, err)
	}
	if _, err := trainer.Promote(ctx, "purchase", Ref{Learner: "deep", Version: 1}); err != nil {
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
	if changed, err := replica.Refresh(ctx); err != nil || !changed {
		t.Fatalf("Refresh = %v, %v; want true", changed, err)
	}
	if st := replica.State("purchase"); st.Champion != (Ref{Learner: "deep", Version: 1}) {
		t.Fatalf("replica champion = %+v", st.Champion)
	}
	if changed, _ := replica.Refresh(ctx); changed {
		t.Fatal("a second Refresh reported a change")
	}
	// A rollback from the replica is seen by the trainer.
	if _, err := replica.Promote(ctx, "purchase", Ref{Learner: "mlp"}); err != nil {
		t.Fatal(err)
	}
	if _, err := replica.Rollback(ctx, "purchase"); err != nil {
		t.Fatal(err)
	}
	if _, err := trainer.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if st := trainer.State("purchase"); st.Champion != (Ref{Learner: "deep", Version: 1}) {
		t.Fatalf("trainer champion after the replica's rollback = %+v", st.Champion)
	}
}

// TestPrune keeps the newest versions and those the serving state names,
// on both stores, and never reuses a version number.
func TestPrune(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			r, err := New(ctx, open(), name)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 8 {
				if _, err := r.Publish(ctx, "purchase", Input{Learners: []string{"mlp", "deep"}, Model: modelSet(float32(i)), Features: []byte{byte(i)}, LogTo: uint64(100 * (i + 1))}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := r.Promote(ctx, "purchase", Ref{Learner: "deep", Version: 2}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Promote(ctx, "purchase", Ref{Learner: "mlp", Version: 4}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Prune(ctx, "purchase", 0); err == nil {
				t.Fatal("Prune keep 0: no error")
			}
			gone, err := r.Prune(ctx, "purchase", 3)
			if err != nil || !slices.Equal(gone, []uint64{1, 3, 5}) {
				t.Fatalf("Prune = %v, %v; want [1 3 5]", gone, err)
			}
			vs, _ := r.List(ctx, "purchase")
			var left []uint64
			for _, m := range vs {
				left = append(left, m.Version)
			}
			if !slices.Equal(left, []uint64{2, 4, 6, 7, 8}) {
				t.Fatalf("versions after Prune = %v", left)
			}
			if _, _, err := r.Get(ctx, "purchase", 3); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(pruned v3) = %v; want ErrNotFound", err)
			}
			if f, err := r.Features(ctx, "purchase", 2); err != nil || len(f) != 1 || f[0] != 1 {
				t.Fatalf("Features(v2) = %v, %v", f, err)
			}
			m, err := r.Publish(ctx, "purchase", Input{Learners: []string{"mlp"}, Model: modelSet(9)})
			if err != nil || m.Version != 9 {
				t.Fatalf("Publish after Prune = v%d, %v; want v9", m.Version, err)
			}
		})
	}
}

// TestCorruptManifestAndTemps: a corrupt manifest hides only its own
// version (List and Publish go on, and its number is not reused), and
// the temporary files of interrupted writes are removed at Open.
func TestCorruptManifestAndTemps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := r.Publish(ctx, "purchase", Input{Learners: []string{"mlp"}, Model: modelSet(float32(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "purchase", "v3", "manifest.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "purchase", "v2", ".model.ppt.tmp-12345")
	if err := os.WriteFile(tmp, []byte("half a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the temporary file of an interrupted write survived Open: %v", err)
	}
	vs, err := r.List(ctx, "purchase")
	if err != nil || len(vs) != 2 {
		t.Fatalf("List with a corrupt manifest = %d versions, %v; want the 2 readable ones", len(vs), err)
	}
	if _, _, err := r.Get(ctx, "purchase", 3); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "manifest.json") {
		t.Fatalf("Get(v3) = %v; want ErrCorrupt naming manifest.json", err)
	}
	m, err := r.Publish(ctx, "purchase", Input{Learners: []string{"mlp"}, Model: modelSet(9)})
	if err != nil || m.Version != 4 || m.Parent != 2 {
		t.Fatalf("Publish after a corrupt v3 = v%d (parent %d), %v; want v4 with parent v2", m.Version, m.Parent, err)
	}
}

// countingStore counts Gets.
type countingStore struct {
	Store
	gets int
}

func (c *countingStore) Get(ctx context.Context, name string) ([]byte, error) {
	c.gets++
	return c.Store.Get(ctx, name)
}

// TestListCachesManifests: listing again fetches no manifest (they never
// change), while a pruned version leaves the list at once.
func TestListCachesManifests(t *testing.T) {
	ctx := context.Background()
	cs := &countingStore{Store: DirStore(t.TempDir())}
	r, err := New(ctx, cs, "counting")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := r.Publish(ctx, "purchase", Input{Learners: []string{"mlp"}, Model: modelSet(float32(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if vs, err := r.List(ctx, "purchase"); err != nil || len(vs) != 4 {
		t.Fatalf("List = %d, %v", len(vs), err)
	}
	before := cs.gets
	if vs, err := r.List(ctx, "purchase"); err != nil || len(vs) != 4 {
		t.Fatalf("List again = %d, %v", len(vs), err)
	}
	if cs.gets != before {
		t.Fatalf("listing again made %d Gets; want 0", cs.gets-before)
	}
	if _, err := r.Prune(ctx, "purchase", 2); err != nil {
		t.Fatal(err)
	}
	if vs, _ := r.List(ctx, "purchase"); len(vs) != 2 || vs[0].Version != 3 {
		t.Fatalf("List after Prune = %+v; want v3 and v4", vs)
	}
	if _, _, err := r.Get(ctx, "purchase", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(pruned v1) = %v; want ErrNotFound", err)
	}
}
