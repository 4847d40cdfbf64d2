// Package embed implements collisionless embedding tables: the sparse
// part of a wide & deep model, mapping IDs (users, items, shops, crosses)
// to rows of Dim float32 weights that a sparse, row-wise optimizer trains.
// It follows the design of ByteDance's Monolith: every live ID has a row
// of its own, rows are created on demand (after frequency admission) and
// removed when unseen for long (expiry) or when the table is full
// (eviction of the least recently seen), and the model serves from
// immutable published views while it keeps training.
//
// # IDs and collisions
//
// Keys are uint64 IDs. Callers with string keys hash them with a seeded
// 64-bit hash (the feature package's); two distinct strings that hash to
// the same uint64 then share a row. For n distinct strings this happens
// with probability about n²/2⁶⁵ (3·10⁻⁶ for 10 million), which we accept.
// Distinct uint64 IDs never share a row: the index stores, per live ID,
// exactly one entry, and a lookup confirms the full ID.
//
// # Layout
//
// The index is an open-addressing hash table written for this package
// (not a Go map, which costs 40 to 80 bytes per entry): Robin Hood linear
// probing, backward-shift deletion (no tombstones), load at most 7/8, and
// 8-byte slots holding a 32-bit fingerprint and the row index; the ID
// itself is stored once, with the row. Rows live in a dense arena of
// float32, Dim per row, in chunks of 16 rows; optimizer state (AdaGrad:
// one accumulator per float; Adam: m and v per float and a step count per
// row; FTRL: z and n per float; SGD: none) and last-seen ticks live in
// pages of 1024 rows. Storage exists only for rows that exist; removed
// rows go on a free list (a min-heap, so the lowest free row is reused
// first) and are reused before the arena grows. Row 0 is DefaultRow, the
// shared row of IDs without one: all zeros and never trained (unless
// Config.LearnDefault makes it learn like any other row), and never
// evicted or expired. For Dim 16 and AdaGrad a row costs 146 bytes
// (128 of weights and state, 8 of ID, 8 of last-seen tick, 2 of chunk
// header) plus 9.1 of index slots in a bounded table (up to 14 in an
// unbounded one, which grows its index by half when 7/8 full): measured,
// 156 heap bytes per ID at 1 and 10 million IDs, 1.22 times the weights
// and optimizer state (TestMemoryTarget, BenchmarkMemory10M).
//
// # Admission, expiry, eviction
//
// With Config.AdmitAfter = N > 1, an ID gets a row on its N-th sighting.
// Sightings of IDs without a row are counted in a seeded count-min sketch
// (4 × AdmitSketchWidth one-byte counters, conservative update, halved
// every AdmitSketchWidth/2 counted sightings), so admission state is
// bounded however many one-off IDs the stream holds; the sketch's error is
// documented on the sketch type and measured by TestSketchFalseAdmission.
//
// Time is a logical clock the caller advances (event time, or a step
// number): Lookup(id, now) records now as the ID's last sighting, and
// Expire(now) removes the IDs not seen since now-ExpireAfter.
//
// When a new ID needs a row and the table holds MaxRows rows (or
// MemoryBudgetBytes worth), the least recently seen of 16 randomly
// sampled rows is evicted, as Redis does. Exact LRU would need a linked
// list (8 to 16 bytes per row, and pointer writes on every lookup, which
// would also defeat copy-on-write sharing); sampling needs only the
// last-seen tick each row keeps anyway, and evicts a row among the oldest
// 1/17 on average. Rows seen at the current tick are never evicted, so a
// row index returned by Lookup stays valid until the clock advances.
//
// # Training
//
// Lookup(id, now) returns a row index, Row(row) a view of its weights, and
// ApplyGradient(row, grad) runs one optimizer step on that row alone,
// applying L2 only to rows that get a gradient. These calls do not
// allocate (except when the table grows, or when a row's chunk is shared
// with a View and must be copied first). An ID without a row is best
// embedded with InitRow (the values its row will start from), not with
// DefaultRow's weights, which are zero unless Config.LearnDefault: then
// admission does not change what the model sees of an ID (see
// LearnDefault for the bias a learned default row picks up when labels
// arrive late). Prefetch(id) reads what a Lookup of id will read, so that
// a caller looking up one ID in each of many tables can start all their
// cache misses before waiting on the first.
//
// # Concurrency
//
// A Table has one writer: every method must be called from one goroutine
// at a time (the trainer). Serving reads a View: Publish returns an
// immutable copy-on-write view of the IDs and weights that any number of
// goroutines may read while the trainer goes on. Publish copies only the
// top of the row directory and the index directory (about 23,000
// pointers for 10 million rows: 0.2 to 1.5 ms measured) and marks every
// chunk shared; the trainer copies a shared chunk (16 rows or 512 index
// slots) before its first write, so publication costs time and memory in
// proportion to the chunks written until the next Publish, and a View
// costs memory only for the chunks written while it is alive. The collector
// returned by NewCollector may be scraped from any goroutine: it reads a
// copy of the counters that the trainer refreshes at least every 1024
// lookups.
//
// # Snapshots
//
// SaveTensors writes the complete state into a tensor.Set (IDs as I64,
// weights as F32 [n, Dim], optimizer state, last-seen ticks, counters,
// sampler and sketch); SaveDelta writes only what changed since the
// previous snapshot (rows touched, rows freed, IDs removed, sketch chunks
// changed), so a large table need not be rewritten every minute.
// LoadTensors of a full snapshot followed by ApplyDelta of each later
// delta, in order, restores a table that behaves bit for bit like the one
// that wrote them. Loaders check every shape, row index, ID and value
// range and leave the table unchanged on error. The layout is specified
// in docs/formats.md ("Embedding table snapshots").
package embed
