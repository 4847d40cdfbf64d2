package embed

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// FormatVersion is the version of the snapshot layout SaveTensors and
// SaveDelta write (part of the on-disk format). Loaders refuse newer
// versions.
const FormatVersion = 1

// Snapshot tensor and metadata names, relative to the caller's prefix
// (part of the on-disk format; see docs/formats.md).
const (
	nameIDs          = "ids"           // I64 [n]: the IDs (uint64 bits)
	nameRows         = "rows"          // I64 [n]: their rows, ascending
	nameWeight       = "weight"        // F32 [n, dim]
	nameLastSeen     = "last_seen"     // I64 [n]
	nameAdamStep     = "adam.step"     // I64 [n]
	nameDefault      = "default."      // prefix of DefaultRow's tensors
	nameCounters     = "counters"      // I64 [numCounters]
	nameSketch       = "sketch"        // I64 [words] or, in a delta, [chunks, 512]
	nameSketchChunks = "sketch.chunks" // I64 [chunks] (delta only)
	nameFree         = "free"          // I64 [k]: free rows, ascending
	nameDeleted      = "deleted"       // I64 [k] (delta only)

	metaVersion   = "embed.version"
	metaKind      = "embed.kind"
	metaOptimizer = "embed.optimizer"
	metaDim       = "embed.dim"
	metaSeed      = "embed.seed"

	kindFull  = "full"
	kindDelta = "delta"
)

// Positions in the counters tensor (part of the on-disk format). Values
// are uint64 stored as their int64 bit pattern.
const (
	cntHigh        = iota // rows with storage, DefaultRow included
	cntRows               // live ID rows
	cntLookups            // Stats counters
	cntMisses             //
	cntAdmissions         //
	cntEvictions          //
	cntExpirations        //
	cntDeletions          //
	cntRNG                // eviction sampler state
	cntSketchAdds         // sightings counted since the sketch last aged
	cntIndexSlots         // index capacity
	cntSeq                // snapshot sequence number (1 for the first)
	cntToken              // identifies this snapshot
	cntBaseToken          // delta: token of the snapshot it applies to; full: 0
	numCounters
)

// ErrDeltaBase is returned (wrapped) by ApplyDelta when the delta was not
// taken right after the snapshot the table was restored to.
var ErrDeltaBase = errors.New("embed: delta does not follow the table's last snapshot")

// SaveTensors writes the table's complete state under names starting with
// prefix (see docs/formats.md, "Embedding table snapshots"): live rows in
// ascending row order with their IDs, weights, optimizer state and
// last-seen ticks, DefaultRow, the counters, the eviction sampler and the
// admission sketch. LoadTensors of the result gives a table whose future
// behaviour is identical to t's, bit for bit.
//
// SaveTensors also starts a new delta chain: the next SaveDelta holds the
// changes since this call. (If this snapshot is not persisted, the next
// persisted snapshot must be a full one.) It implements
// learn.Snapshotter together with LoadTensors.
func (t *Table) SaveTensors(s *tensor.Set, prefix string) {
	list := make([]int32, 0, t.nlive)
	for wi, w := range t.live {
		for w != 0 {
			if r := int32(wi<<6 + bits.TrailingZeros64(w)); r != DefaultRow {
				list = append(list, r)
			}
			w &= w - 1
		}
	}
	t.putRows(s, prefix, list)
	t.putDefault(s, prefix)
	free := make([]int64, 0, int(t.high)-1-t.nlive)
	for r := int32(1); r < t.high; r++ {
		if !t.live.has(int(r)) {
			free = append(free, int64(r))
		}
	}
	s.PutI64(prefix+nameFree, []int{len(free)}, free)
	t.putHeader(s, prefix, kindFull, 0)
	if t.sk != nil {
		words := make([]int64, len(t.sk.words))
		for i, w := range t.sk.words {
			words[i] = int64(w)
		}
		s.PutI64(prefix+nameSketch, []int{len(words)}, words)
	}
	t.resetBaseline()
}

// SaveDelta writes the changes since the last SaveTensors, SaveDelta,
// LoadTensors or ApplyDelta: the rows changed since then (weights,
// optimizer state, or just the last-seen tick of a looked-up row), the
// rows freed, the IDs removed, DefaultRow, the counters and the changed
// 4 KiB chunks of the admission sketch. Applying a full snapshot and then
// every delta after it, in order, restores t exactly. A delta's size is
// proportional to the rows touched since the previous one.
func (t *Table) SaveDelta(s *tensor.Set, prefix string) {
	var list, free []int32
	for wi, w := range t.dirty {
		for w != 0 {
			r := int32(wi<<6 + bits.TrailingZeros64(w))
			w &= w - 1
			switch {
			case r == DefaultRow:
			case t.live.has(int(r)):
				list = append(list, r)
			default:
				free = append(free, r)
			}
		}
	}
	t.putRows(s, prefix, list)
	t.putDefault(s, prefix)
	fr := make([]int64, len(free))
	for i, r := range free {
		fr[i] = int64(r)
	}
	s.PutI64(prefix+nameFree, []int{len(fr)}, fr)
	del := make([]int64, len(t.deleted))
	for i, id := range t.deleted {
		del[i] = int64(id)
	}
	s.PutI64(prefix+nameDeleted, []int{len(del)}, del)
	t.putHeader(s, prefix, kindDelta, t.token)
	if t.sk != nil {
		var idx, words []int64
		for c := range t.sk.chunks() {
			if t.sk.dirty.has(c) {
				idx = append(idx, int64(c))
				for _, w := range t.sk.words[c*sketchChunkWords : (c+1)*sketchChunkWords] {
					words = append(words, int64(w))
				}
			}
		}
		s.PutI64(prefix+nameSketchChunks, []int{len(idx)}, idx)
		s.PutI64(prefix+nameSketch, []int{len(idx), sketchChunkWords}, words)
	}
	t.resetBaseline()
}

// putRows writes the listed rows.
func (t *Table) putRows(s *tensor.Set, prefix string, list []int32) {
	n, dim := len(list), t.dim
	ids := make([]int64, n)
	rows := make([]int64, n)
	seen := make([]int64, n)
	w := make([]float32, n*dim)
	names := t.cfg.Optimizer.stateNames()
	st := make([][]float32, len(names))
	for k := range st {
		st[k] = make([]float32, n*dim)
	}
	var steps []int64
	if t.adam {
		steps = make([]int64, n)
	}
	for i, r := range list {
		ids[i] = int64(t.idOf(r))
		rows[i] = int64(r)
		seen[i] = *t.seenAt(r)
		o := int(r&rowMask) * dim
		copy(w[i*dim:], t.rows.chunk(r).w[o:o+dim])
		sv := t.stateOf(r)
		for k := range st {
			copy(st[k][i*dim:], sv[k*dim:(k+1)*dim])
		}
		if t.adam {
			steps[i] = int64(*t.stepAt(r))
		}
	}
	s.PutI64(prefix+nameIDs, []int{n}, ids)
	s.PutI64(prefix+nameRows, []int{n}, rows)
	s.PutI64(prefix+nameLastSeen, []int{n}, seen)
	s.PutF32(prefix+nameWeight, []int{n, dim}, w)
	for k, name := range names {
		s.PutF32(prefix+name, []int{n, dim}, st[k])
	}
	if t.adam {
		s.PutI64(prefix+nameAdamStep, []int{n}, steps)
	}
}

// putDefault writes DefaultRow's weights and optimizer state.
func (t *Table) putDefault(s *tensor.Set, prefix string) {
	s.PutF32(prefix+nameDefault+nameWeight, []int{t.dim}, t.rows.chunk(DefaultRow).w[:t.dim])
	sv := t.stateOf(DefaultRow)
	for k, name := range t.cfg.Optimizer.stateNames() {
		s.PutF32(prefix+nameDefault+name, []int{t.dim}, sv[k*t.dim:(k+1)*t.dim])
	}
	if t.adam {
		s.PutI64(prefix+nameDefault+nameAdamStep, nil, []int64{int64(*t.stepAt(DefaultRow))})
	}
}

// putHeader advances the snapshot sequence and writes the counters and
// metadata.
func (t *Table) putHeader(s *tensor.Set, prefix, kind string, base uint64) {
	t.seq++
	t.token = t.chainToken()
	var c [numCounters]int64
	c[cntHigh] = int64(t.high)
	c[cntRows] = int64(t.nlive)
	c[cntLookups] = int64(t.n.lookups)
	c[cntMisses] = int64(t.n.misses)
	c[cntAdmissions] = int64(t.n.admissions)
	c[cntEvictions] = int64(t.n.evictions)
	c[cntExpirations] = int64(t.n.expirations)
	c[cntDeletions] = int64(t.n.deletions)
	c[cntRNG] = int64(t.rng)
	if t.sk != nil {
		c[cntSketchAdds] = int64(t.sk.adds)
	}
	c[cntIndexSlots] = int64(t.idx.cap)
	c[cntSeq] = int64(t.seq)
	c[cntToken] = int64(t.token)
	c[cntBaseToken] = int64(base)
	s.PutI64(prefix+nameCounters, []int{numCounters}, c[:])
	s.SetMeta(prefix+metaVersion, strconv.Itoa(FormatVersion))
	s.SetMeta(prefix+metaKind, kind)
	s.SetMeta(prefix+metaOptimizer, string(t.cfg.Optimizer))
	s.SetMeta(prefix+metaDim, strconv.Itoa(t.dim))
	s.SetMeta(prefix+metaSeed, strconv.FormatUint(t.cfg.Seed, 10))
}

// chainToken derives the token of the snapshot being taken from the
// previous token and the table's counters, so that a delta applies only
// to the table state it was taken after.
func (t *Table) chainToken() uint64 {
	h := t.token
	for _, v := range [...]uint64{t.seq, uint64(t.high), uint64(t.nlive), t.n.lookups, t.n.misses,
		t.n.admissions, t.n.evictions, t.n.expirations, t.n.deletions, t.rng} {
		h = mix64(h ^ v + saltToken)
	}
	return h
}

// resetBaseline makes the current state the base of the next delta.
func (t *Table) resetBaseline() {
	t.dirty.reset()
	t.fresh.reset()
	t.deleted = t.deleted[:0]
	if t.sk != nil {
		t.sk.dirty.reset()
	}
	t.flushStats()
}

// snap is a decoded, shape-checked snapshot or delta.
type snap struct {
	c       [numCounters]int64
	ids     []int64
	rows    []int64
	seen    []int64
	w       []float32
	state   [][]float32
	steps   []int64
	defW    []float32
	defSt   [][]float32
	defStep int64
	sketch  []int64 // full: every word; delta: the listed chunks
	chunks  []int64 // delta only
	free    []int64 // delta only
	deleted []int64 // delta only
}

// loadErr returns an error about the snapshot under prefix.
func loadErr(prefix, format string, args ...any) error {
	return fmt.Errorf("embed: load %q: %s", prefix, fmt.Sprintf(format, args...))
}

// read decodes and checks the shapes, metadata and value ranges of a
// snapshot of the given kind. It does not look at the table's state.
func (t *Table) read(s *tensor.Set, prefix, kind string) (*snap, error) {
	meta := func(key string) (string, error) {
		v, ok := s.Meta(prefix + key)
		if !ok {
			return "", loadErr(prefix, "metadata %q is missing (not an embedding table snapshot?)", prefix+key)
		}
		return v, nil
	}
	v, err := meta(metaVersion) // missing: not a snapshot of this kind
	if err != nil {
		return nil, err
	}
	if _, err := s.MetaVersion(prefix+metaVersion, FormatVersion); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	if v, err = meta(metaKind); err != nil {
		return nil, err
	} else if v != kind {
		return nil, loadErr(prefix, "snapshot is a %q one; want %q", v, kind)
	}
	if v, err = meta(metaOptimizer); err != nil {
		return nil, err
	} else if v != string(t.cfg.Optimizer) {
		return nil, loadErr(prefix, "snapshot optimizer is %q; table uses %q", v, t.cfg.Optimizer)
	}
	if v, err = meta(metaDim); err != nil {
		return nil, err
	} else if v != strconv.Itoa(t.dim) {
		return nil, loadErr(prefix, "snapshot Dim is %q; table has %d", v, t.dim)
	}
	if v, err = meta(metaSeed); err != nil {
		return nil, err
	} else if v != strconv.FormatUint(t.cfg.Seed, 10) {
		return nil, loadErr(prefix, "snapshot Seed is %q; table has %d", v, t.cfg.Seed)
	}

	p := &snap{}
	c, err := s.I64(prefix+nameCounters, numCounters)
	if err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	copy(p.c[:], c)
	dt, shape, ok := s.Lookup(prefix + nameIDs)
	if !ok || dt != tensor.I64 || len(shape) != 1 {
		return nil, loadErr(prefix, "tensor %q is missing or not an I64 vector", prefix+nameIDs)
	}
	n, dim := shape[0], t.dim
	if p.ids, err = s.I64(prefix+nameIDs, n); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	if p.rows, err = s.I64(prefix+nameRows, n); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	if p.seen, err = s.I64(prefix+nameLastSeen, n); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	if p.w, err = s.F32(prefix+nameWeight, n, dim); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	if p.defW, err = s.F32(prefix+nameDefault+nameWeight, dim); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	for _, name := range t.cfg.Optimizer.stateNames() {
		st, err := s.F32(prefix+name, n, dim)
		if err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
		def, err := s.F32(prefix+nameDefault+name, dim)
		if err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
		p.state = append(p.state, st)
		p.defSt = append(p.defSt, def)
		if name == "adam.m" || name == "ftrl.z" {
			continue
		}
		// AdaGrad's sum, Adam's v and FTRL's n are sums of squares.
		for _, vals := range [][]float32{st, def} {
			for i, x := range vals {
				if !(x >= 0) || math.IsInf(float64(x), 1) {
					return nil, loadErr(prefix, "%s[%d] = %v; a sum of squares must be finite and ≥ 0", name, i, x)
				}
			}
		}
	}
	if t.adam {
		if p.steps, err = s.I64(prefix+nameAdamStep, n); err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
		ds, err := s.I64(prefix + nameDefault + nameAdamStep)
		if err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
		p.defStep = ds[0]
		for i, st := range append([]int64{p.defStep}, p.steps...) {
			if st < 0 || st > math.MaxUint32 {
				return nil, loadErr(prefix, "Adam step count %d (entry %d) outside [0, 2^32)", st, i)
			}
		}
	}

	if p.free, err = s.I64(prefix+nameFree, lenOf(s, prefix+nameFree)); err != nil {
		return nil, loadErr(prefix, "%v", err)
	}
	if kind == kindDelta {
		if p.deleted, err = s.I64(prefix+nameDeleted, lenOf(s, prefix+nameDeleted)); err != nil {
			return nil, loadErr(prefix, "%v", err)
		}
	}
	high := p.c[cntHigh]
	if high < 1 || high > maxRowsLimit+1 {
		return nil, loadErr(prefix, "row count %d outside [1, %d]", high, int64(maxRowsLimit)+1)
	}
	for i, r := range p.free {
		if r < 1 || r >= high || i > 0 && r <= p.free[i-1] {
			return nil, loadErr(prefix, "free[%d] = %d outside [1, %d) or not ascending", i, r, high)
		}
	}
	if live := p.c[cntRows]; live < 0 || live >= high {
		return nil, loadErr(prefix, "%d live rows do not fit in %d rows", live, high)
	} else if int(live) > t.maxRows {
		return nil, loadErr(prefix, "snapshot holds %d rows; the table allows %d", live, t.maxRows)
	}
	// The index never holds more than high-1 IDs, so it never grew past
	// half again the capacity for them (unless sized for MaxRows).
	lo, hi := slotsFor(int(p.c[cntRows])), slotsFor(2*int(high))
	if t.bounded {
		hi = max(hi, slotsFor(t.maxRows))
	}
	if slots := p.c[cntIndexSlots]; slots < int64(lo) || slots > int64(hi) || slots%slotsPerChunk != 0 {
		return nil, loadErr(prefix, "index capacity %d is not a multiple of %d in [%d, %d]", slots, slotsPerChunk, lo, hi)
	}
	for i, r := range p.rows {
		if r < 1 || r >= high {
			return nil, loadErr(prefix, "rows[%d] = %d outside [1, %d)", i, r, high)
		}
		if i > 0 && r <= p.rows[i-1] {
			return nil, loadErr(prefix, "rows[%d] = %d does not follow rows[%d] = %d: rows must be strictly ascending", i, r, i-1, p.rows[i-1])
		}
	}

	if t.sk == nil {
		if _, _, ok := s.Lookup(prefix + nameSketch); ok {
			return nil, loadErr(prefix, "snapshot has an admission sketch but the table admits every ID (AdmitAfter ≤ 1)")
		}
		if p.c[cntSketchAdds] != 0 {
			return nil, loadErr(prefix, "sketch count %d without a sketch", p.c[cntSketchAdds])
		}
		return p, nil
	}
	if a := p.c[cntSketchAdds]; a < 0 || uint64(a) >= t.sk.width/2 {
		return nil, loadErr(prefix, "sketch count %d outside [0, %d)", a, t.sk.width/2)
	}
	if kind == kindFull {
		if p.sketch, err = s.I64(prefix+nameSketch, len(t.sk.words)); err != nil {
			return nil, loadErr(prefix, "admission sketch: %v (is AdmitSketchWidth the same?)", err)
		}
		return p, nil
	}
	dt, shape, ok = s.Lookup(prefix + nameSketchChunks)
	if !ok || dt != tensor.I64 || len(shape) != 1 {
		return nil, loadErr(prefix, "tensor %q is missing or not an I64 vector", prefix+nameSketchChunks)
	}
	p.chunks, _ = s.I64(prefix+nameSketchChunks, shape[0])
	if p.sketch, err = s.I64(prefix+nameSketch, len(p.chunks), sketchChunkWords); err != nil {
		return nil, loadErr(prefix, "admission sketch: %v", err)
	}
	for i, c := range p.chunks {
		if c < 0 || c >= int64(t.sk.chunks()) || i > 0 && c <= p.chunks[i-1] {
			return nil, loadErr(prefix, "sketch chunk %d (entry %d) out of range [0, %d) or out of order", c, i, t.sk.chunks())
		}
	}
	return p, nil
}

// LoadTensors replaces the table's state with the full snapshot SaveTensors
// wrote under prefix. The table must have the snapshot's Dim, Optimizer,
// Seed and admission sketch width; other settings (learning rate, L2,
// bounds) may differ, but the snapshot must fit in MaxRows. Every shape,
// row index, ID and value range is checked; on error the table is
// unchanged. Views published before stay valid and unchanged.
func (t *Table) LoadTensors(s *tensor.Set, prefix string) error {
	p, err := t.read(s, prefix, kindFull)
	if err != nil {
		return err
	}
	if int64(len(p.ids)) != p.c[cntRows] {
		return loadErr(prefix, "%d IDs for %d live rows", len(p.ids), p.c[cntRows])
	}
	// rows and free are ascending and in range; if they also add up to
	// high-1 rows and are disjoint they partition [1, high). This also
	// bounds what the snapshot makes us allocate by its size.
	if int64(len(p.ids)+len(p.free)) != p.c[cntHigh]-1 {
		return loadErr(prefix, "%d live and %d free rows do not make up the %d rows", len(p.ids), len(p.free), p.c[cntHigh]-1)
	}
	for i, j := 0, 0; i < len(p.rows) && j < len(p.free); {
		switch {
		case p.rows[i] == p.free[j]:
			return loadErr(prefix, "row %d is both live and free", p.rows[i])
		case p.rows[i] < p.free[j]:
			i++
		default:
			j++
		}
	}
	old := t.data
	t.data = data{}
	t.idx = newIndex(uint64(p.c[cntIndexSlots]), old.idx.seed)
	t.extendTo(int32(p.c[cntHigh]))
	t.live.set(0)
	for i := range p.ids {
		r := int32(p.rows[i])
		if _, prev, dup := t.idx.find(t.rows, uint64(p.ids[i])); dup {
			t.data = old
			return loadErr(prefix, "ID %d is at rows %d and %d", uint64(p.ids[i]), prev, r)
		}
		t.putRow(p, i)
		t.idx.insert(t.idx.fingerprint(uint64(p.ids[i])), r)
		t.live.set(int(r))
	}
	if old.sk != nil {
		t.sk = newSketch(int(old.sk.width), old.sk.seed)
		for i, w := range p.sketch {
			t.sk.words[i] = uint64(w)
		}
	}
	t.finishLoad(p)
	return nil
}

// ApplyDelta applies a delta SaveDelta wrote under prefix. The table must
// be in the state the delta was taken after: restored from the full
// snapshot the delta chain started with, then from every earlier delta of
// the chain, in order (otherwise the error wraps ErrDeltaBase). Every
// shape, row index, ID and value range is checked against the table; on
// error the table is unchanged. Views published before stay unchanged.
func (t *Table) ApplyDelta(s *tensor.Set, prefix string) error {
	p, err := t.read(s, prefix, kindDelta)
	if err != nil {
		return err
	}
	if uint64(p.c[cntBaseToken]) != t.token || uint64(p.c[cntSeq]) != t.seq+1 {
		return fmt.Errorf("embed: load %q: delta %d applies after snapshot %d (token %x); the table is at snapshot %d (token %x): %w",
			prefix, uint64(p.c[cntSeq]), uint64(p.c[cntSeq])-1, uint64(p.c[cntBaseToken]), t.seq, t.token, ErrDeltaBase)
	}
	high := int32(p.c[cntHigh])
	if high < t.high {
		return loadErr(prefix, "delta has %d rows; the table already has %d", high, t.high)
	}
	// Every new row is listed, as free or live: this bounds what the
	// delta makes us allocate by its size.
	if int64(high-t.high) > int64(len(p.free)+len(p.ids)) {
		return loadErr(prefix, "delta grows the table from %d to %d rows but lists only %d", t.high, high, len(p.free)+len(p.ids))
	}

	// Validate against the base before changing anything. mark records,
	// per row of the result, whether the row's base ID is deleted (1),
	// the row is listed as free (2) or as holding an ID (4).
	mark := make([]uint8, high)
	for i, id := range p.deleted {
		_, r, ok := t.idx.find(t.rows, uint64(id))
		if !ok {
			return loadErr(prefix, "deleted[%d]: ID %d is not in the table", i, uint64(id))
		}
		if mark[r]&1 != 0 {
			return loadErr(prefix, "deleted[%d]: ID %d is deleted twice", i, uint64(id))
		}
		mark[r] |= 1
	}
	baseLive := func(r int32) bool { return r < t.high && t.live.has(int(r)) && mark[r]&1 == 0 }
	for i, r := range p.free {
		if baseLive(int32(r)) {
			return loadErr(prefix, "free[%d] = %d is a live row the delta does not delete", i, r)
		}
		mark[r] |= 2
	}
	added := 0
	seenIDs := make(map[uint64]int32, len(p.ids))
	for i, id := range p.ids {
		r := int32(p.rows[i])
		if mark[r]&2 != 0 {
			return loadErr(prefix, "row %d is listed both as free and as holding ID %d", r, uint64(id))
		}
		mark[r] |= 4
		if prev, dup := seenIDs[uint64(id)]; dup {
			return loadErr(prefix, "ID %d is at rows %d and %d", uint64(id), prev, r)
		}
		seenIDs[uint64(id)] = r
		if baseLive(r) {
			if got := t.idOf(r); got != uint64(id) {
				return loadErr(prefix, "row %d holds ID %d in the table and %d in the delta, which does not delete %d", r, got, uint64(id), got)
			}
			continue
		}
		if _, at, ok := t.idx.find(t.rows, uint64(id)); ok && mark[at]&1 == 0 {
			return loadErr(prefix, "ID %d is at row %d in the table and moves to row %d without being deleted", uint64(id), at, r)
		}
		added++
	}
	if got := t.nlive - len(p.deleted) + added; int64(got) != p.c[cntRows] {
		return loadErr(prefix, "the delta leaves %d live rows; its counters say %d", got, p.c[cntRows])
	}
	for r := int32(1); r < high; r++ {
		if (r >= t.high || mark[r]&1 != 0) && mark[r]&6 == 0 {
			return loadErr(prefix, "row %d changed but the delta neither frees it nor gives it an ID", r)
		}
	}

	for _, id := range p.deleted {
		pos, r, _ := t.idx.find(t.rows, uint64(id))
		t.idx.remove(pos)
		t.live.unset(int(r))
	}
	t.extendTo(high)
	for i, id := range p.ids {
		r := int32(p.rows[i])
		live := t.live.has(int(r))
		t.putRow(p, i)
		if !live {
			if t.idx.full() {
				t.idx = t.idx.resized(t.idx.grown())
			}
			t.idx.insert(t.idx.fingerprint(uint64(id)), r)
			t.live.set(int(r))
		}
	}
	if slots := uint64(p.c[cntIndexSlots]); slots != t.idx.cap {
		t.idx = t.idx.resized(slots)
	}
	if t.sk != nil {
		for i, c := range p.chunks {
			for j, w := range p.sketch[i*sketchChunkWords : (i+1)*sketchChunkWords] {
				t.sk.words[int(c)*sketchChunkWords+j] = uint64(w)
			}
		}
	}
	t.finishLoad(p)
	return nil
}

// lenOf returns the length of vector tensor name, or 0 if it is missing
// or not a vector (the getter then reports the problem).
func lenOf(s *tensor.Set, name string) int {
	if _, shape, ok := s.Lookup(name); ok && len(shape) == 1 {
		return shape[0]
	}
	return 0
}

// putRow stores entry i of p in its row (weights, ID, state, last seen).
func (t *Table) putRow(p *snap, i int) {
	r, dim := int32(p.rows[i]), t.dim
	c := t.writable(r)
	c.ids[r&rowMask] = uint64(p.ids[i])
	o := int(r&rowMask) * dim
	copy(c.w[o:o+dim], p.w[i*dim:(i+1)*dim])
	sv := t.stateOf(r)
	for k, st := range p.state {
		copy(sv[k*dim:(k+1)*dim], st[i*dim:(i+1)*dim])
	}
	if t.adam {
		*t.stepAt(r) = uint32(p.steps[i])
	}
	*t.seenAt(r) = p.seen[i]
}

// finishLoad restores DefaultRow, the counters and the free rows.
func (t *Table) finishLoad(p *snap) {
	c := t.writable(DefaultRow)
	copy(c.w[:t.dim], p.defW)
	sv := t.stateOf(DefaultRow)
	for k, st := range p.defSt {
		copy(sv[k*t.dim:(k+1)*t.dim], st)
	}
	if t.adam {
		*t.stepAt(DefaultRow) = uint32(p.defStep)
	}
	t.nlive = int(p.c[cntRows])
	t.n = counters{
		lookups:     uint64(p.c[cntLookups]),
		misses:      uint64(p.c[cntMisses]),
		admissions:  uint64(p.c[cntAdmissions]),
		evictions:   uint64(p.c[cntEvictions]),
		expirations: uint64(p.c[cntExpirations]),
		deletions:   uint64(p.c[cntDeletions]),
	}
	t.rng = uint64(p.c[cntRNG])
	if t.sk != nil {
		t.sk.adds = uint64(p.c[cntSketchAdds])
	}
	t.seq = uint64(p.c[cntSeq])
	t.token = uint64(p.c[cntToken])
	t.rebuildFree()
	t.resetBaseline()
}
