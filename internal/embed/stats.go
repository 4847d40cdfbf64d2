package embed

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are a table's counters and memory accounting.
type Stats struct {
	Rows        int    // live ID rows (DefaultRow excluded)
	FreeRows    int    // rows freed by eviction, expiry or Delete, awaiting reuse
	Lookups     uint64 // Lookup calls
	Misses      uint64 // Lookup calls for an ID without a row (admitted by the call or not)
	Admissions  uint64 // rows given to IDs
	Evictions   uint64 // rows taken from the least recently seen IDs to make room
	Expirations uint64 // rows removed by Expire
	Deletions   uint64 // rows removed by Delete
	// BytesPerRow is the storage of one row: weights, optimizer state,
	// ID, last-seen tick (and Adam step count), with its share of the
	// row chunk header; the index adds 8 bytes per slot on top.
	BytesPerRow int
	// Bytes is the memory the table holds: row storage (allocated in
	// chunks and pages, so up to one page of rows ahead), index, sketch
	// and bookkeeping. It does not count chunks that only a published
	// View still references.
	Bytes int64
}

// Stats returns the table's counters. It reads the trainer's state, so it
// must be called from the goroutine that mutates the table (the collector
// uses a lock-free copy instead).
func (t *Table) Stats() Stats {
	return Stats{
		Rows:        t.nlive,
		FreeRows:    len(t.free),
		Lookups:     t.n.lookups,
		Misses:      t.n.misses,
		Admissions:  t.n.admissions,
		Evictions:   t.n.evictions,
		Expirations: t.n.expirations,
		Deletions:   t.n.deletions,
		BytesPerRow: t.rowBytes(),
		Bytes:       t.bytes(),
	}
}

// rowBytes is the storage of one row, index excluded.
func (t *Table) rowBytes() int {
	b := t.dim*4 + rowChunkBytes/rowsPerChunk + t.sdim*4 + 8
	if t.adam {
		b += 4
	}
	return b
}

// bytes returns the memory the table holds.
func (t *Table) bytes() int64 {
	chunk := int64(rowsPerChunk*t.dim*4 + rowChunkBytes)
	page := int64(pageRows) * int64(8+t.sdim*4)
	if t.adam {
		page += pageRows * 4
	}
	nchunks := (int64(t.high) + rowMask) >> rowShift
	b := nchunks*chunk + int64(len(t.rows))*(rowDirLen*8) + int64(cap(t.rows))*8
	b += int64(len(t.seen))*page + int64(cap(t.seen)+cap(t.state)+cap(t.steps))*24
	b += int64(cap(t.owned)+cap(t.pageOwned)+cap(t.live)+cap(t.dirty)+cap(t.fresh)) * 8
	// The free list and the deleted IDs are counted by length: their
	// spare capacity depends on history, and Bytes should not.
	b += int64(len(t.free))*4 + int64(len(t.deleted))*8
	b += t.idx.bytes()
	if t.sk != nil {
		b += t.sk.bytes()
	}
	return b
}

// fixedBytes is what a table holds whatever its row count, plus the slack
// of allocating storage in pages: one page of rows, one index chunk.
func (t *Table) fixedBytes() int64 {
	b := int64(4096) // headers and small slices
	if t.cfg.AdmitAfter > 1 {
		b += int64(sketchDepth * t.cfg.AdmitSketchWidth)
	}
	b += int64(pageRows) * int64(t.rowBytes())
	b += slotsPerChunk * 8
	return b
}

// perRowBudget is the memory one more row costs a bounded table: its
// storage, its index slots at the maximum load, and (with growth slack)
// its share of directories and bitsets.
func (t *Table) perRowBudget() float64 {
	return float64(t.rowBytes()) + 8*float64(maxLoadDen)/maxLoadNum + 2
}

// budgetRows returns how many rows fit in budget bytes.
func (t *Table) budgetRows(budget int64) int {
	rest := budget - t.fixedBytes()
	if rest <= 0 {
		return 0
	}
	return int(min(float64(rest)/t.perRowBudget(), maxRowsLimit))
}

// mirror holds a copy of the counters that the collector may read from
// any goroutine. The trainer refreshes it every flushEvery lookups and
// after every other call that changes the counters.
type mirror struct {
	rows, free                                                     atomic.Int64
	lookups, misses, admissions, evictions, expirations, deletions atomic.Uint64
	rowBytes, bytes                                                atomic.Int64
}

func (t *Table) flushStats() {
	m := &t.mirror
	m.rows.Store(int64(t.nlive))
	m.free.Store(int64(len(t.free)))
	m.lookups.Store(t.n.lookups)
	m.misses.Store(t.n.misses)
	m.admissions.Store(t.n.admissions)
	m.evictions.Store(t.n.evictions)
	m.expirations.Store(t.n.expirations)
	m.deletions.Store(t.n.deletions)
	m.rowBytes.Store(int64(t.rowBytes()))
	m.bytes.Store(t.bytes())
}

// NewCollector returns a Prometheus collector of t's counters, labelled
// table=name: perpetua_embed_rows, perpetua_embed_free_rows,
// perpetua_embed_{lookups,misses,admissions,evictions,expirations,
// deletions}_total, perpetua_embed_row_bytes and perpetua_embed_bytes.
//
// The collector may be scraped from any goroutine while the trainer uses
// t: it reads a copy of the counters that the trainer refreshes at least
// every 1024 lookups and after every Publish, Expire, Delete and snapshot
// operation, so it lags the trainer by at most that much.
func NewCollector(name string, t *Table) prometheus.Collector {
	l := prometheus.Labels{"table": name}
	d := func(metric, help string) *prometheus.Desc {
		return prometheus.NewDesc("perpetua_embed_"+metric, help, nil, l)
	}
	return &collector{
		t:           t,
		rows:        d("rows", "Live ID rows of the embedding table (the default row excluded)."),
		free:        d("free_rows", "Rows freed by eviction, expiry or deletion, awaiting reuse."),
		lookups:     d("lookups_total", "Lookups of IDs in the embedding table."),
		misses:      d("misses_total", "Lookups of IDs without a row."),
		admissions:  d("admissions_total", "Rows given to IDs."),
		evictions:   d("evictions_total", "Rows taken from the least recently seen IDs to make room."),
		expirations: d("expirations_total", "Rows of IDs unseen for ExpireAfter that Expire removed."),
		deletions:   d("deletions_total", "Rows removed by Delete."),
		rowBytes:    d("row_bytes", "Storage of one row (weights, optimizer state, bookkeeping), index excluded."),
		bytes:       d("bytes", "Memory held by the embedding table."),
	}
}

type collector struct {
	t                                                               *Table
	rows, free, lookups, misses, admissions, evictions, expirations *prometheus.Desc
	deletions, rowBytes, bytes                                      *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rows, c.free, c.lookups, c.misses, c.admissions, c.evictions, c.expirations, c.deletions, c.rowBytes, c.bytes} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := &c.t.mirror
	gauge := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge(c.rows, m.rows.Load())
	gauge(c.free, m.free.Load())
	counter(c.lookups, m.lookups.Load())
	counter(c.misses, m.misses.Load())
	counter(c.admissions, m.admissions.Load())
	counter(c.evictions, m.evictions.Load())
	counter(c.expirations, m.expirations.Load())
	counter(c.deletions, m.deletions.Load())
	gauge(c.rowBytes, m.rowBytes.Load())
	gauge(c.bytes, m.bytes.Load())
}
