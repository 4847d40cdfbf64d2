package embed

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// expected records what a View must show: each ID's row and weights.
type expected struct {
	v      *View
	ids    []uint64
	rows   []int32
	w      [][]float32
	absent []uint64
}

func record(tb *Table, v *View, ids []uint64) *expected {
	e := &expected{v: v}
	for _, id := range ids {
		if r, ok := tb.Peek(id); ok {
			e.ids = append(e.ids, id)
			e.rows = append(e.rows, r)
			e.w = append(e.w, slices.Clone(tb.Row(r)))
		} else {
			e.absent = append(e.absent, id)
		}
	}
	e.ids = append(e.ids, 1<<63) // never admitted
	e.rows = append(e.rows, DefaultRow)
	e.w = append(e.w, slices.Clone(tb.Row(DefaultRow)))
	return e
}

// verify reports the first difference between the view and e.
func (e *expected) verify() (id uint64, ok bool) {
	for i, id := range e.ids {
		r := e.v.Lookup(id)
		if r != e.rows[i] || !slices.Equal(e.v.Row(r), e.w[i]) {
			return id, false
		}
	}
	for _, id := range e.absent {
		if _, ok := e.v.Peek(id); ok {
			return id, false
		}
	}
	return 0, true
}

// mutateAll exercises every way the trainer writes: gradients (also to
// DefaultRow), admissions into reused and new rows, index growth,
// evictions, deletes and expiry.
func mutateAll(tb *Table, rng *rand.Rand, now *int64, n int) {
	g := make([]float32, tb.Dim())
	for range n {
		*now++
		for j := range g {
			g[j] = float32(rng.NormFloat64())
		}
		// Phases of 2000 ticks alternate between 5000 IDs (the table
		// fills and evicts) and 200 (the other rows linger and expire).
		ids := uint64(5000)
		if *now/2000%2 == 1 {
			ids = 200
		}
		switch op := rng.IntN(100); {
		case op == 0:
			tb.Delete(rng.Uint64N(ids))
		case op == 1:
			tb.Expire(*now)
		default:
			tb.ApplyGradient(tb.Lookup(rng.Uint64N(ids), *now), g)
		}
	}
}

func TestPublishIsolation(t *testing.T) {
	tb := newTable(t, Config{Dim: 4, ExpireAfter: 800, MaxRows: 1000})
	rng := rand.New(rand.NewPCG(1, 2))
	now := int64(0)
	mutateAll(tb, rng, &now, 5000)
	ids := make([]uint64, 5000)
	for i := range ids {
		ids[i] = uint64(i)
	}
	v1 := tb.Publish()
	e1 := record(tb, v1, ids)
	if v1.Len() != tb.Len() || v1.Dim() != 4 {
		t.Errorf("View Len, Dim = %d, %d; want %d, 4", v1.Len(), v1.Dim(), tb.Len())
	}
	mutateAll(tb, rng, &now, 20000)
	if st := tb.Stats(); st.Evictions == 0 || st.Expirations == 0 || st.Deletions == 0 {
		t.Fatalf("Stats = %+v; the test did not exercise eviction, expiry and deletion", st)
	}
	if id, ok := e1.verify(); !ok {
		t.Fatalf("the view changed after training: ID %d differs", id)
	}
	v2 := tb.Publish()
	e2 := record(tb, v2, ids)
	mutateAll(tb, rng, &now, 5000)
	if id, ok := e2.verify(); !ok {
		t.Fatalf("the second view changed after training: ID %d differs", id)
	}
	if id, ok := e1.verify(); !ok {
		t.Fatalf("the first view changed after a second publication: ID %d differs", id)
	}
}

// TestPublishIndexGrowth: an unbounded table's index rehashes while a view
// holds the old one.
func TestPublishIndexGrowth(t *testing.T) {
	tb := newTable(t, Config{Dim: 2})
	for id := range uint64(400) {
		tb.Lookup(id, 0)
	}
	v := tb.Publish()
	e := record(tb, v, []uint64{0, 1, 2, 399, 400, 5000})
	slots := tb.idx.cap
	for id := range uint64(5000) {
		tb.Lookup(id, 1)
	}
	if tb.idx.cap == slots {
		t.Fatalf("index did not grow")
	}
	if id, ok := e.verify(); !ok {
		t.Fatalf("the view changed when the index grew: ID %d differs", id)
	}
}

// TestPublishCopiesOnlyTouchedChunks checks the cost model: after Publish
// a write copies the chunks it touches and nothing else.
func TestPublishCopiesOnlyTouchedChunks(t *testing.T) {
	tb := newTable(t, Config{Dim: 8, MaxRows: 100000})
	for id := range uint64(10000) {
		tb.Lookup(id, 0)
	}
	copied := func(v *View) (rows, slots int) {
		for r := int32(0); r < v.high; r += rowsPerChunk {
			if v.rows.chunk(r) != tb.rows.chunk(r) {
				rows++
			}
		}
		for i := range v.idx.dir {
			if v.idx.dir[i] != tb.idx.dir[i] {
				slots++
			}
		}
		return rows, slots
	}
	v := tb.Publish()
	g := make([]float32, 8)
	g[0] = 1
	tb.ApplyGradient(100, g)
	tb.ApplyGradient(101, g) // same chunk
	tb.ApplyGradient(5000, g)
	if r, s := copied(v); r != 2 || s != 0 {
		t.Errorf("after gradients to 2 chunks: %d row chunks and %d index chunks copied; want 2 and 0", r, s)
	}
	tb.Lookup(20000, 1)
	if r, s := copied(v); r != 3 || s < 1 || s > 2 {
		t.Errorf("after an admission: %d row chunks and %d index chunks copied; want 3 and 1 or 2", r, s)
	}
	pages := 0
	for i := range v.rows {
		if v.rows[i] != tb.rows[i] {
			pages++
		}
	}
	if pages != 1 {
		t.Errorf("%d directory pages copied; want 1 (all rows are in page 0)", pages)
	}
}

// TestPublishConcurrentReaders runs readers on published views while the
// trainer keeps writing; with -race any write to memory a view shares is
// reported, and the readers check that what they see never changes.
func TestPublishConcurrentReaders(t *testing.T) {
	tb := newTable(t, Config{Dim: 4, ExpireAfter: 500, MaxRows: 2000})
	rng := rand.New(rand.NewPCG(3, 4))
	now := int64(0)
	mutateAll(tb, rng, &now, 3000)
	ids := make([]uint64, 0, 500)
	for i := range uint64(500) {
		ids = append(ids, i*10)
	}
	var cur atomic.Pointer[expected]
	cur.Store(record(tb, tb.Publish(), ids))
	var stop atomic.Bool
	var wg sync.WaitGroup
	var failures atomic.Int64
	var reads atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				e := cur.Load()
				for range 3 {
					if id, ok := e.verify(); !ok {
						t.Errorf("a published view changed under a reader: ID %d differs", id)
						failures.Add(1)
						return
					}
					reads.Add(1)
				}
			}
		}()
	}
	for range 30 {
		mutateAll(tb, rng, &now, 300)
		cur.Store(record(tb, tb.Publish(), ids))
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() == 0 && reads.Load() == 0 {
		t.Errorf("readers made no reads")
	}
}
