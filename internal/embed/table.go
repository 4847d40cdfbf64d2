package embed

import (
	"fmt"
	"math"
	"math/bits"
)

// DefaultRow is the row Lookup returns for an ID without a row of its
// own: not yet admitted, or not admitted because the table is full of rows
// in use at the current tick. It is all zeros and never trained, unless
// Config.LearnDefault makes it the learned "unknown ID" embedding.
const DefaultRow int32 = 0

// Storage layout. Weights and IDs live in row chunks of rowsPerChunk rows,
// the unit of copy-on-write sharing with Views; optimizer state and
// last-seen ticks, which Views never read, live in larger pages.
const (
	rowShift     = 4
	rowsPerChunk = 1 << rowShift
	rowMask      = rowsPerChunk - 1

	// Row chunks are reached through a two-level directory: pages of
	// rowDirLen chunk pointers (16384 rows), so that Publish copies one
	// pointer per page, not per chunk.
	rowDirShift = 10
	rowDirLen   = 1 << rowDirShift
	rowDirMask  = rowDirLen - 1

	pageShift = 10
	pageRows  = 1 << pageShift
	pageMask  = pageRows - 1

	// rowChunkBytes is the heap size of a rowChunk: 16 IDs and a slice
	// header (152 bytes) in the allocator's 160-byte size class.
	rowChunkBytes = 160
)

// Eviction samples evictSamples live rows not in use at the current tick
// (trying at most evictTries random rows) and evicts the least recently
// seen of them.
const (
	evictSamples = 16
	evictTries   = 64
)

// flushEvery is how many lookups may pass between refreshes of the
// counters the Prometheus collector reads (a power of two).
const flushEvery = 1024

// rowChunk holds the weights and IDs of rowsPerChunk consecutive rows. A
// chunk shared with a View is never written: the trainer replaces it with
// a copy first.
//
// The IDs are inline so that confirming a lookup costs one dependent load
// fewer than a separate slice would.
type rowChunk struct {
	ids [rowsPerChunk]uint64 // the ID of each row; meaningless for free rows and row 0
	w   []float32            // rowsPerChunk·dim weights
}

// rowPage is one page of the row chunk directory. A page shared with a
// View is copied before the trainer changes one of its pointers.
type rowPage [rowDirLen]*rowChunk

// rowDir is the two-level directory of row chunks.
type rowDir []*rowPage

// chunk returns the chunk holding row r.
func (d rowDir) chunk(r int32) *rowChunk {
	ci := int(r >> rowShift)
	return d[ci>>rowDirShift][ci&rowDirMask]
}

type counters struct {
	lookups, misses, admissions, evictions, expirations, deletions uint64
}

// Table is an embedding table: a collisionless map from uint64 IDs to
// rows of Dim float32 weights, trained with a sparse row-wise optimizer.
// See the package documentation for its invariants and concurrency rules.
type Table struct {
	cfg        Config // with defaults filled in
	dim        int
	sdim       int // optimizer state floats per row
	adam       bool
	maxRows    int
	bounded    bool // MaxRows or MemoryBudgetBytes is set
	admitAfter uint8
	seedInit   uint64

	data

	mirror mirror
}

// data is the table's mutable state: everything a snapshot restores.
type data struct {
	rows      rowDir      // row r is in chunk r>>rowShift, at r&rowMask
	owned     bitset      // per row chunk: not shared with a View
	pageOwned bitset      // per page of rows: not shared with a View
	state     [][]float32 // per page: pageRows·sdim optimizer state
	seen      [][]int64   // per page: last-seen tick of each row
	steps     [][]uint32  // per page: Adam step count of each row

	high  int32 // rows [0, high) have storage; row 0 is DefaultRow
	nlive int   // live ID rows (DefaultRow excluded)
	live  bitset
	dirty bitset // changed since the last snapshot
	fresh bitset // current occupant admitted since the last snapshot
	free  []int32
	// deleted holds the IDs removed since the last snapshot that were in
	// it; at most one entry per row of that snapshot.
	deleted []uint64

	idx index
	sk  *sketch // nil when AdmitAfter ≤ 1

	rng   uint64 // eviction sampler
	n     counters
	seq   uint64 // snapshots taken (or restored) so far
	token uint64 // identifies the last snapshot, for chaining deltas
}

// New returns an empty table holding only DefaultRow, or an error naming
// the first invalid Config field.
func New(cfg Config) (*Table, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Table{
		cfg:      c,
		dim:      c.Dim,
		sdim:     c.Optimizer.stateWidth(c.Dim),
		adam:     c.Optimizer == Adam,
		maxRows:  maxRowsLimit,
		seedInit: mix64(c.Seed ^ saltInit),
	}
	t.rng = mix64(c.Seed ^ saltRand)
	t.token = mix64(c.Seed ^ saltToken)
	if c.AdmitAfter > 1 {
		t.admitAfter = uint8(c.AdmitAfter)
		t.sk = newSketch(c.AdmitSketchWidth, mix64(c.Seed^saltSketch))
	}
	if c.MaxRows > 0 {
		t.maxRows, t.bounded = c.MaxRows, true
	}
	if c.MemoryBudgetBytes > 0 {
		n := t.budgetRows(c.MemoryBudgetBytes)
		if n < 1 {
			return nil, fmt.Errorf("embed: Config.MemoryBudgetBytes = %d leaves no room for a row (fixed cost %d bytes, then about %.0f bytes per row)",
				c.MemoryBudgetBytes, t.fixedBytes(), t.perRowBudget())
		}
		t.maxRows, t.bounded = min(t.maxRows, n), true
	}
	slots := slotsFor(0)
	if t.bounded {
		slots = slotsFor(t.maxRows)
	}
	t.idx = newIndex(slots, mix64(c.Seed^saltIndex))
	r := t.allocRow()
	t.live.set(int(r))
	if c.LearnDefault {
		t.initRow(t.rows.chunk(DefaultRow).w[:t.dim], mix64(saltDefault^t.seedInit))
	}
	t.flushStats()
	return t, nil
}

// Config returns the table's configuration with defaults filled in.
func (t *Table) Config() Config { return t.cfg }

// Dim returns the number of floats per row.
func (t *Table) Dim() int { return t.dim }

// MaxRows returns the most ID rows the table holds (from Config.MaxRows
// and Config.MemoryBudgetBytes).
func (t *Table) MaxRows() int { return t.maxRows }

// Len returns the number of ID rows (DefaultRow excluded).
func (t *Table) Len() int { return t.nlive }

// Lookup returns the row of id, first counting the sighting at tick now.
//
// If id has a row, its last-seen tick becomes max(last seen, now).
// Otherwise id is admitted once it has been seen Config.AdmitAfter times:
// it gets a row (a free one, a new one, or, when the table is full, the
// row of an evicted ID), initialised from Seed and id. Until then, or if
// every candidate for eviction was seen at tick now or later, Lookup
// returns DefaultRow.
//
// A returned row stays bound to id until a Lookup with a larger now, or a
// call to Delete, Expire, LoadTensors or ApplyDelta: eviction never takes
// a row seen at the current tick, so the rows of one example (looked up at
// one tick) stay valid while its gradients are applied. Lookup does not
// allocate, except to grow the table's storage.
func (t *Table) Lookup(id uint64, now int64) (row int32) {
	t.n.lookups++
	if t.n.lookups&(flushEvery-1) == 0 {
		t.flushStats()
	}
	if _, r, ok := t.idx.find(t.rows, id); ok {
		if p := t.seenAt(r); now > *p {
			*p = now
			t.dirty.set(int(r))
		}
		return r
	}
	t.n.misses++
	if t.sk != nil && t.sk.add(id) < t.admitAfter {
		return DefaultRow
	}
	if t.nlive >= t.maxRows && !t.evict(now) {
		return DefaultRow
	}
	return t.admit(id, now)
}

// Prefetch reads, without changing anything, the memory that Lookup(id)
// and ApplyGradient on its row will read first: id's home index slot, its
// row's ID, weights, last-seen tick and optimizer state. Its result means
// nothing; callers fold it into a value they keep, so that the reads are
// not optimised away. Lookups of many IDs (one per field of an example)
// each wait for several cache misses in turn; prefetching all of them
// first lets the processor overlap those misses. Prefetch does not
// allocate.
func (t *Table) Prefetch(id uint64) uint64 {
	x := &t.idx
	fp := x.fingerprint(id)
	i := x.home(fp)
	s := x.at(i)
	// The first entry with id's fingerprint among the 9 slots from its
	// home (without confirming the ID, which would cost another miss).
	for k := 0; k < 8 && s != 0 && uint32(s>>32) != fp; k++ {
		if i++; i == x.cap {
			i = 0
		}
		s = x.at(i)
	}
	r := int32(uint32(s) - 1)
	if s == 0 || r >= t.high {
		return s
	}
	c := t.rows.chunk(r)
	v := s ^ c.ids[r&rowMask] ^ uint64(math.Float32bits(c.w[int(r&rowMask)*t.dim])) ^ uint64(*t.seenAt(r))
	if t.sdim > 0 {
		v ^= uint64(math.Float32bits(t.state[r>>pageShift][int(r&pageMask)*t.sdim]))
	}
	return v
}

// Peek returns the row of id without counting a sighting or changing
// anything; ok is false (and row DefaultRow) if id has no row.
func (t *Table) Peek(id uint64) (row int32, ok bool) {
	_, r, ok := t.idx.find(t.rows, id)
	if !ok {
		return DefaultRow, false
	}
	return r, true
}

// Row returns the weights of row, a view into the table's storage. The
// caller must not modify it (use ApplyGradient), and it is valid only
// until the next call that modifies the table: a write after Publish moves
// the row to a fresh copy. Row panics if row is not live.
func (t *Table) Row(row int32) []float32 {
	t.checkLive("Row", row)
	o := int(row&rowMask) * t.dim
	return t.rows.chunk(row).w[o : o+t.dim : o+t.dim]
}

// ApplyGradient runs one optimizer step on row with the loss gradient
// grad (len Dim) plus the L2 penalty. On DefaultRow it does nothing
// unless Config.LearnDefault is set. It panics if grad has the wrong
// length or row is not live. It does not allocate unless the row's chunk
// is shared with a View, which costs one copy of the chunk.
func (t *Table) ApplyGradient(row int32, grad []float32) {
	if len(grad) != t.dim {
		panic(fmt.Sprintf("embed: ApplyGradient: gradient has %d floats; want Dim = %d", len(grad), t.dim))
	}
	t.checkLive("ApplyGradient", row)
	if row == DefaultRow && !t.cfg.LearnDefault {
		return
	}
	c := t.writable(row)
	o := int(row&rowMask) * t.dim
	w := c.w[o : o+t.dim : o+t.dim]
	switch t.cfg.Optimizer {
	case AdaGrad:
		stepAdaGrad(&t.cfg, w, t.stateOf(row), grad)
	case Adam:
		st := t.stateOf(row)
		stepAdam(&t.cfg, w, st[:t.dim], st[t.dim:], t.stepAt(row), grad)
	case FTRL:
		st := t.stateOf(row)
		stepFTRL(&t.cfg, w, st[:t.dim], st[t.dim:], grad)
	case SGD:
		stepSGD(&t.cfg, w, grad)
	}
	t.dirty.set(int(row))
}

// Delete removes id's row, reporting whether it had one. The ID's
// admission count is kept.
func (t *Table) Delete(id uint64) bool {
	_, r, ok := t.idx.find(t.rows, id)
	if !ok {
		return false
	}
	t.removeRow(r)
	t.n.deletions++
	t.flushStats()
	return true
}

// Expire removes the rows of IDs last seen before now-ExpireAfter and
// returns how many it removed. It does nothing if ExpireAfter is 0. It
// scans every row: call it once per batch or period, not per event.
func (t *Table) Expire(now int64) int {
	after := t.cfg.ExpireAfter
	if after == 0 || now < math.MinInt64+after {
		return 0
	}
	cut := now - after
	n := 0
	for wi, w := range t.live {
		for w != 0 {
			r := int32(wi<<6 + bits.TrailingZeros64(w))
			w &= w - 1
			if r != DefaultRow && *t.seenAt(r) < cut {
				t.removeRow(r)
				n++
			}
		}
	}
	t.n.expirations += uint64(n)
	t.flushStats()
	return n
}

func (t *Table) checkLive(op string, row int32) {
	if row < 0 || row >= t.high || !t.live.has(int(row)) {
		panic(fmt.Sprintf("embed: %s: row %d is not a live row", op, row))
	}
}

// admit gives id a row; the table has room and id has no row.
func (t *Table) admit(id uint64, now int64) int32 {
	if t.idx.full() {
		t.idx = t.idx.resized(t.idx.grown())
	}
	r := t.allocRow()
	c := t.writable(r)
	c.ids[r&rowMask] = id
	o := int(r&rowMask) * t.dim
	t.initRow(c.w[o:o+t.dim], mix64(id^t.seedInit))
	clear(t.stateOf(r))
	if t.adam {
		*t.stepAt(r) = 0
	}
	*t.seenAt(r) = now
	t.idx.insert(t.idx.fingerprint(id), r)
	t.live.set(int(r))
	t.dirty.set(int(r))
	t.fresh.set(int(r))
	t.nlive++
	t.n.admissions++
	return r
}

// evict removes the least recently seen of a sample of rows not seen at
// tick now or later, reporting whether it found one. When random sampling
// finds no candidate (nearly every row is in use at this tick) it scans
// all rows.
func (t *Table) evict(now int64) bool {
	best, bestSeen := int32(-1), int64(0)
	for try, found := 0, 0; try < evictTries && found < evictSamples; try++ {
		r := int32(1 + (splitmix(&t.rng)>>32)*uint64(t.high-1)>>32)
		if !t.live.has(int(r)) {
			continue
		}
		s := *t.seenAt(r)
		if s >= now {
			continue
		}
		found++
		if best < 0 || s < bestSeen || s == bestSeen && r < best {
			best, bestSeen = r, s
		}
	}
	if best < 0 {
		for r := int32(1); r < t.high; r++ {
			if !t.live.has(int(r)) {
				continue
			}
			if s := *t.seenAt(r); s < now && (best < 0 || s < bestSeen) {
				best, bestSeen = r, s
			}
		}
		if best < 0 {
			return false
		}
	}
	t.removeRow(best)
	t.n.evictions++
	return true
}

// removeRow unlinks live row r from its ID and frees it.
func (t *Table) removeRow(r int32) {
	id := t.idOf(r)
	pos, got, ok := t.idx.find(t.rows, id)
	if !ok || got != r {
		panic(fmt.Sprintf("embed: internal error: row %d holds ID %d, which the index maps to row %d (found %v)", r, id, got, ok))
	}
	t.idx.remove(pos)
	t.live.unset(int(r))
	if !t.fresh.has(int(r)) {
		t.deleted = append(t.deleted, id) // id is in the last snapshot
	}
	t.fresh.unset(int(r))
	t.dirty.set(int(r))
	t.pushFree(r)
	t.nlive--
}

// allocRow returns the lowest free row, or a new one.
func (t *Table) allocRow() int32 {
	if len(t.free) > 0 {
		return t.popFree()
	}
	r := t.high
	t.extendTo(r + 1)
	return r
}

// extendTo gives rows [high, n) storage; they are neither live nor free.
func (t *Table) extendTo(n int32) {
	for ; t.high < n; t.high++ {
		r := t.high
		if r&rowMask == 0 {
			ci := int(r >> rowShift)
			if ci&rowDirMask == 0 {
				t.rows = append(t.rows, new(rowPage))
				t.pageOwned.grow(len(t.rows))
				t.pageOwned.set(len(t.rows) - 1)
			}
			t.writablePage(ci >> rowDirShift)[ci&rowDirMask] = t.newChunk()
			t.owned.grow(ci + 1)
			t.owned.set(ci)
		}
		if r&pageMask == 0 {
			t.addPage()
		}
	}
	t.live.grow(int(n))
	t.dirty.grow(int(n))
	t.fresh.grow(int(n))
}

func (t *Table) newChunk() *rowChunk {
	return &rowChunk{w: make([]float32, rowsPerChunk*t.dim)}
}

func (t *Table) addPage() {
	t.seen = append(t.seen, make([]int64, pageRows))
	if t.sdim > 0 {
		t.state = append(t.state, make([]float32, pageRows*t.sdim))
	}
	if t.adam {
		t.steps = append(t.steps, make([]uint32, pageRows))
	}
}

// writable returns row r's chunk, first replacing it (and its directory
// page) with a private copy if a View shares it.
func (t *Table) writable(r int32) *rowChunk {
	ci := int(r >> rowShift)
	if t.owned.has(ci) {
		return t.rows[ci>>rowDirShift][ci&rowDirMask]
	}
	page := t.writablePage(ci >> rowDirShift)
	c := page[ci&rowDirMask]
	c = &rowChunk{ids: c.ids, w: append([]float32(nil), c.w...)}
	page[ci&rowDirMask] = c
	t.owned.set(ci)
	return c
}

// writablePage returns page p of the row directory, first replacing it
// with a private copy if a View shares it.
func (t *Table) writablePage(p int) *rowPage {
	if !t.pageOwned.has(p) {
		cp := *t.rows[p]
		t.rows[p] = &cp
		t.pageOwned.set(p)
	}
	return t.rows[p]
}

func (t *Table) idOf(r int32) uint64 { return t.rows.chunk(r).ids[r&rowMask] }
func (t *Table) seenAt(r int32) *int64 {
	return &t.seen[r>>pageShift][r&pageMask]
}
func (t *Table) stepAt(r int32) *uint32 { return &t.steps[r>>pageShift][r&pageMask] }
func (t *Table) stateOf(r int32) []float32 {
	if t.sdim == 0 {
		return nil
	}
	o := int(r&pageMask) * t.sdim
	return t.state[r>>pageShift][o : o+t.sdim : o+t.sdim]
}

// InitRow writes into dst (Dim floats) the weights a row for id starts
// from when id is admitted; they depend only on Config.Seed, InitStd and
// id. A caller that embeds an ID without a row (Lookup or Peek gave
// DefaultRow) with InitRow instead of DefaultRow's weights makes admission
// invisible to the model: the ID looks the same just before and just
// after it gets its row. InitRow panics if len(dst) != Dim. It does not
// allocate.
func (t *Table) InitRow(dst []float32, id uint64) {
	if len(dst) != t.dim {
		panic(fmt.Sprintf("embed: InitRow: dst has %d floats; want Dim = %d", len(dst), t.dim))
	}
	initRow(dst, mix64(id^t.seedInit), t.cfg.InitStd)
}

// initRow fills dst with normal values of standard deviation InitStd from
// the SplitMix64 stream s (Box–Muller), or zeros if InitStd < 0.
func (t *Table) initRow(dst []float32, s uint64) { initRow(dst, s, t.cfg.InitStd) }

// initRow fills dst with normal values of standard deviation std from the
// SplitMix64 stream s (Box–Muller), or zeros if std < 0.
func initRow(dst []float32, s uint64, std float64) {
	if std < 0 {
		clear(dst)
		return
	}
	for j := 0; j < len(dst); j += 2 {
		u1 := float64(splitmix(&s)>>11+1) * 0x1p-53 // (0, 1]
		u2 := float64(splitmix(&s)>>11) * 0x1p-53   // [0, 1)
		r := math.Sqrt(-2*math.Log(u1)) * std
		sin, cos := math.Sincos(2 * math.Pi * u2)
		dst[j] = float32(r * cos)
		if j+1 < len(dst) {
			dst[j+1] = float32(r * sin)
		}
	}
}

// The free rows form a binary min-heap, so a new ID always takes the
// lowest free row: which row it gets depends only on the set of free rows,
// not on the order they were freed in (a snapshot need not store that
// order), and the table stays compact.

func (t *Table) pushFree(r int32) {
	h := append(t.free, r)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	t.free = h
}

func (t *Table) popFree() int32 {
	h := t.free
	r := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		if rr := l + 1; rr < n && h[rr] < h[l] {
			l = rr
		}
		if h[i] <= h[l] {
			break
		}
		h[i], h[l] = h[l], h[i]
		i = l
	}
	t.free = h
	return r
}

// rebuildFree makes the free heap hold exactly the rows in [1, high) that
// are not live, in ascending order (a sorted slice is a valid min-heap).
func (t *Table) rebuildFree() {
	t.free = t.free[:0]
	for r := int32(1); r < t.high; r++ {
		if !t.live.has(int(r)) {
			t.free = append(t.free, r)
		}
	}
}
