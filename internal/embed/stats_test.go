package embed

import (
	"os"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCollector(t *testing.T) {
	users := newTable(t, Config{Dim: 4, MaxRows: 10})
	items := newTable(t, Config{Dim: 8})
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewCollector("users", users)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(NewCollector("items", items)); err != nil {
		t.Fatalf("registering a second table: %v", err)
	}
	for id := range uint64(15) {
		users.Lookup(id, int64(id))
	}
	users.Delete(14)
	items.Lookup(1, 0)
	users.Publish() // refreshes the collector's copy
	items.Publish()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			table := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" {
					table = l.GetValue()
				}
			}
			v := m.GetGauge().GetValue()
			if c := m.GetCounter(); c != nil {
				v = c.GetValue()
			}
			got[f.GetName()+"/"+table] = v
		}
	}
	st := users.Stats()
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"perpetua_embed_rows/users", 9},
		{"perpetua_embed_free_rows/users", 1},
		{"perpetua_embed_lookups_total/users", 15},
		{"perpetua_embed_misses_total/users", 15},
		{"perpetua_embed_admissions_total/users", 15},
		{"perpetua_embed_evictions_total/users", 5},
		{"perpetua_embed_expirations_total/users", 0},
		{"perpetua_embed_deletions_total/users", 1},
		{"perpetua_embed_row_bytes/users", float64(st.BytesPerRow)},
		{"perpetua_embed_bytes/users", float64(st.Bytes)},
		{"perpetua_embed_rows/items", 1},
		{"perpetua_embed_row_bytes/items", float64(items.Stats().BytesPerRow)},
	} {
		if v, ok := got[tc.name]; !ok || v != tc.want {
			t.Errorf("metric %s = %v (present %v); want %v", tc.name, v, ok, tc.want)
		}
	}
}

// heapBytes returns the live heap after a full collection.
func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// measureMemory fills a Dim-16 AdaGrad table with n IDs and returns the
// heap bytes per ID and their ratio to the weights and optimizer state
// (128 bytes per ID).
func measureMemory(n int) (perID, ratio float64, tb *Table) {
	before := heapBytes()
	tb, err := New(Config{Dim: 16, MaxRows: n})
	if err != nil {
		panic(err)
	}
	for id := range uint64(n) {
		tb.Lookup(mix64(id), 0)
	}
	after := heapBytes()
	runtime.KeepAlive(tb)
	perID = float64(after-before) / float64(n)
	return perID, perID / 128, tb
}

// TestMemoryTarget checks the memory target (heap ≤ 1.3 × weights and
// optimizer state) at 1 million IDs; BenchmarkMemory10M measures 10
// million.
func TestMemoryTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 160 MB")
	}
	if os.Getenv("PERPETUA_EMBED_SKIP_MEMORY") != "" {
		t.Skip("PERPETUA_EMBED_SKIP_MEMORY is set")
	}
	const n = 1_000_000
	perID, ratio, tb := measureMemory(n)
	t.Logf("%d IDs: %.1f heap bytes per ID, %.3f × weights+state; Stats: %d bytes (%.1f per ID)",
		n, perID, ratio, tb.Stats().Bytes, float64(tb.Stats().Bytes)/n)
	if ratio > 1.3 {
		t.Errorf("heap per ID = %.1f bytes = %.3f × weights+state (128 bytes); want ≤ 1.3 ×", perID, ratio)
	}
	// The accounting in Stats should match the heap within a few percent.
	if acc := float64(tb.Stats().Bytes) / n; acc < 0.95*perID || acc > 1.05*perID {
		t.Errorf("Stats().Bytes = %.1f per ID; the heap grew by %.1f per ID", acc, perID)
	}
}
