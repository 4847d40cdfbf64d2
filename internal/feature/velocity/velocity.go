// Package velocity keeps per-key windowed aggregates over event time
// ("velocity features"): for each key (a customer, a terminal) the number
// of events, the sum of their amounts and the sum of their known fraud
// labels over the last N days, for a fixed set of window lengths.
//
// # Windows
//
// Time is cut into whole UTC days (day = floor(unix seconds / 86400)).
// Each key holds a ring of day buckets (count, amount sum, fraud sum)
// covering the last Span days, Span = max window + Delay + 1. For a query
// at time t on day d:
//
//   - Recent window N covers days d-N+1 … d: the N calendar days ending
//     with today, including every event of today already added (add the
//     current transaction first to count it, as the handbook does).
//   - Delayed window N covers days d-Delay-N … d-Delay-1: N whole days
//     that ended at least Delay days before today. With labels arriving
//     Delay days after their transaction, every label of those days is
//     known at any moment of day d, so a fraud rate over the delayed
//     window uses only labels that really are known (AddLabel records a
//     label when it arrives; a label that has not arrived counts as
//     genuine).
//
// Results are exact: they equal a brute-force sum over every event added
// so far whose day lies in the window (tests check this on random
// streams), as long as the window lies inside the key's ring (see below).
//
// # Out-of-order events
//
// Events may arrive in any order. An event whose day is within the last
// Span days of the newest day seen for its key is added to its bucket, so
// later queries see it exactly as if it had come in order. An event older
// than that is refused with ErrTooOld and changes nothing. A query at a
// time earlier than the key's newest day sees only the buckets still in
// the ring: days older than newest-Span+1 read as empty.
//
// # Memory and eviction
//
// Every key costs one ring of Span buckets (24 bytes each) in one shared
// slab, so memory per key is bounded whatever the key's event rate. The
// table's clock is the newest day of any event; when it moves to a new
// day, keys whose newest event is more than Idle days older are evicted
// and their slots reused. Add, AddLabel and queries allocate nothing once
// the table has grown to its working set (a new key may grow the slab and
// the index map).
//
// A Table is not safe for concurrent use: it belongs to one goroutine.
package velocity

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// SecondsPerDay is the bucket width.
const SecondsPerDay = 86400

// MaxWindow bounds a window length, in days.
const MaxWindow = 366

// Errors returned by Add and AddLabel.
var (
	// ErrTooOld reports an event older than the key's ring: it was not
	// recorded.
	ErrTooOld = errors.New("velocity: event older than the key's window span")
	// ErrUnknownKey reports a label for a key with no events (never seen
	// or evicted): it was not recorded.
	ErrUnknownKey = errors.New("velocity: label for a key with no events")
	// ErrBadValue reports a non-finite amount or label value.
	ErrBadValue = errors.New("velocity: non-finite value")
)

// Config describes a Table. The zero value means windows 1, 7 and 30 days
// and no delay.
type Config struct {
	// Windows are the window lengths in days, each in [1, MaxWindow];
	// empty means {1, 7, 30}.
	Windows []int
	// Delay shifts the delayed windows back by this many days (the label
	// delay). 0 means the delayed windows end yesterday.
	Delay int
	// Idle evicts keys with no event for more than this many days; 0
	// means Span days (a key is dropped once none of its buckets can be
	// read any more). A value below Span is refused: eviction would
	// change the results of the windows.
	Idle int
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	for i, w := range c.Windows {
		if w < 1 || w > MaxWindow {
			return fmt.Errorf("velocity: Windows[%d] = %d: want 1..%d days", i, w, MaxWindow)
		}
	}
	if c.Delay < 0 || c.Delay > MaxWindow {
		return fmt.Errorf("velocity: Delay = %d: want 0..%d days", c.Delay, MaxWindow)
	}
	maxW := 30
	if len(c.Windows) > 0 {
		maxW = slices.Max(c.Windows)
	}
	if span := maxW + c.Delay + 1; c.Idle != 0 && c.Idle < span {
		return fmt.Errorf("velocity: Idle = %d days: want 0 or at least the span %d days (max window + Delay + 1)", c.Idle, span)
	}
	return nil
}

// Agg is an aggregate over one window.
type Agg struct {
	Count float64 // number of events
	Sum   float64 // sum of amounts
	Fraud float64 // sum of label values recorded for those events
}

// Mean returns Sum/Count, or 0 for an empty window.
func (a Agg) Mean() float64 {
	if a.Count == 0 {
		return 0
	}
	return a.Sum / a.Count
}

// Rate returns Fraud/Count, or 0 for an empty window.
func (a Agg) Rate() float64 {
	if a.Count == 0 {
		return 0
	}
	return a.Fraud / a.Count
}

type bucket struct {
	day   int32
	count uint32
	sum   float64
	fraud float64
}

const noDay = math.MinInt32

type keyState struct {
	newest int32 // newest event day
	slot   int32 // ring index in the slab
	key    uint64
}

// Table holds the rings of all keys. Build it with New.
type Table struct {
	windows []int
	delay   int
	span    int
	idle    int

	index map[uint64]int32 // key → state index
	ends  []uint64         // ends[off]: bit w set when window w has off+1 days

	// A one-entry cache of the last key looked up: a transaction is
	// checked, added and queried for the same key in a row.
	lastKey uint64
	lastIdx int32 // -1: cache empty
	keys    []keyState
	slab    []bucket // len(keys)*span
	free    []int32  // free state indexes

	clock    int32 // newest day of any event
	hasClock bool
	evicted  uint64
}

// New returns an empty table.
func New(cfg Config) (*Table, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ws := append([]int(nil), cfg.Windows...)
	if len(ws) == 0 {
		ws = []int{1, 7, 30}
	}
	maxW := 0
	for _, w := range ws {
		maxW = max(maxW, w)
	}
	span := maxW + cfg.Delay + 1
	idle := cfg.Idle
	if idle == 0 {
		idle = span
	}
	if len(ws) > 64 {
		return nil, fmt.Errorf("velocity: %d windows: want at most 64", len(ws))
	}
	ends := make([]uint64, maxW)
	for w, n := range ws {
		ends[n-1] |= 1 << w
	}
	return &Table{windows: ws, delay: cfg.Delay, span: span, idle: idle, index: make(map[uint64]int32), ends: ends, lastIdx: -1}, nil
}

// Windows returns the window lengths, in days (do not modify).
func (t *Table) Windows() []int { return t.windows }

// Span returns the number of day buckets per key.
func (t *Table) Span() int { return t.span }

// Len returns the number of keys held.
func (t *Table) Len() int { return len(t.index) }

// Evicted returns the number of keys evicted so far.
func (t *Table) Evicted() uint64 { return t.evicted }

// Day returns the day of a Unix time in seconds.
func Day(sec int64) int32 {
	d := sec / SecondsPerDay
	if sec%SecondsPerDay < 0 {
		d--
	}
	return int32(d)
}

// lookup returns the state index of key.
func (t *Table) lookup(key uint64) (int32, bool) {
	if t.lastIdx >= 0 && t.lastKey == key {
		return t.lastIdx, true
	}
	i, ok := t.index[key]
	if ok {
		t.lastKey, t.lastIdx = key, i
	}
	return i, ok
}

func (t *Table) ring(i int32) []bucket {
	s := int(t.keys[i].slot) * t.span
	return t.slab[s : s+t.span : s+t.span]
}

func (t *Table) bucketIdx(day int32) int {
	m := int(day) % t.span
	if m < 0 {
		m += t.span
	}
	return m
}

// Check returns the error Add would return for this event, without
// changing anything; callers that update several tables check them all
// first so that a refused event leaves none of them changed.
func (t *Table) Check(key uint64, sec int64, amount float64) error {
	if math.IsNaN(amount) || math.IsInf(amount, 0) {
		return ErrBadValue
	}
	if i, ok := t.lookup(key); ok && int(Day(sec)) <= int(t.keys[i].newest)-t.span {
		return ErrTooOld
	}
	return nil
}

// Add records one event of key at Unix time sec with the given amount.
// On error nothing changes.
func (t *Table) Add(key uint64, sec int64, amount float64) error {
	if err := t.Check(key, sec, amount); err != nil {
		return err
	}
	day := Day(sec)
	t.tick(day) // may evict idle keys, so look the key up afterwards
	i, ok := t.lookup(key)
	if !ok {
		i = t.newKey(key, day)
	}
	ks := &t.keys[i]
	if day > ks.newest {
		ks.newest = day
	}
	b := &t.ring(i)[t.bucketIdx(day)]
	if b.day != day {
		*b = bucket{day: day}
	}
	b.count++
	b.sum += amount
	return nil
}

// AddLabel adds value (1 = fraud) to the bucket of the day of the labelled
// event, which happened at Unix time eventSec. Call it when the label
// arrives; delayed windows then count it.
func (t *Table) AddLabel(key uint64, eventSec int64, value float64) error {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return ErrBadValue
	}
	i, ok := t.lookup(key)
	if !ok {
		return ErrUnknownKey
	}
	day := Day(eventSec)
	if int(day) <= int(t.keys[i].newest)-t.span {
		return ErrTooOld
	}
	b := &t.ring(i)[t.bucketIdx(day)]
	if b.day != day {
		// No event of this key on that day is held: the label cannot
		// belong to a recorded event.
		return ErrUnknownKey
	}
	b.fraud += value
	return nil
}

// tick advances the clock and evicts idle keys when the day changes.
func (t *Table) tick(day int32) {
	if t.hasClock && day <= t.clock {
		return
	}
	t.clock, t.hasClock = day, true
	t.lastIdx = -1
	for k, i := range t.index {
		if int(day)-int(t.keys[i].newest) > t.idle {
			delete(t.index, k)
			t.free = append(t.free, i)
			t.evicted++
		}
	}
}

func (t *Table) newKey(key uint64, day int32) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		i = int32(len(t.keys))
		t.keys = append(t.keys, keyState{slot: i})
		t.slab = slices.Grow(t.slab, t.span)[:len(t.slab)+t.span]
	}
	t.keys[i].key, t.keys[i].newest = key, day
	r := t.ring(i)
	for j := range r {
		r[j] = bucket{day: noDay}
	}
	t.index[key] = i
	return i
}

// Recent fills dst[w] with the aggregate of window w over days
// day(sec)-N+1 … day(sec). dst must have one entry per window. An
// unknown key gives zeros.
func (t *Table) Recent(dst []Agg, key uint64, sec int64) {
	t.fill(dst, key, Day(sec))
}

// Delayed fills dst[w] with the aggregate of window w over days
// day(sec)-Delay-N … day(sec)-Delay-1.
func (t *Table) Delayed(dst []Agg, key uint64, sec int64) {
	t.fill(dst, key, Day(sec)-int32(t.delay)-1)
}

// fill sums, for each window of n days, the buckets of days hi-n+1 … hi,
// in one backward pass over the ring.
func (t *Table) fill(dst []Agg, key uint64, hi int32) {
	if len(dst) != len(t.windows) {
		panic(fmt.Sprintf("velocity: dst has %d entries; the table has %d windows", len(dst), len(t.windows)))
	}
	clear(dst)
	i, ok := t.lookup(key)
	if !ok {
		return
	}
	r := t.ring(i)
	maxW := t.span - t.delay - 1
	idx := t.bucketIdx(hi)
	var a Agg
	for off := 0; off < maxW; off++ {
		if b := &r[idx]; b.day == hi-int32(off) {
			a.Count += float64(b.count)
			a.Sum += b.sum
			a.Fraud += b.fraud
		}
		for m := t.ends[off]; m != 0; m &= m - 1 {
			dst[bits.TrailingZeros64(m)] = a
		}
		if idx--; idx < 0 {
			idx = len(r) - 1
		}
	}
}
