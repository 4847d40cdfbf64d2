package embed

// The index maps live IDs to rows. It is an open-addressing hash table
// with Robin Hood linear probing and backward-shift deletion (no
// tombstones), stored as chunks of slots so that a View can share it
// copy-on-write with the trainer.
//
// A slot is one uint64: 0 when empty, else fp<<32 | (row+1), where fp is
// the high 32 bits of mix64(id ^ seed). The slot holds no key: a lookup
// whose fingerprint matches confirms the ID against the row's id (kept in
// the row chunk), so a slot costs 8 bytes instead of 12 or 16. The home
// slot of an entry is derived from its fingerprint alone (fp·cap >> 32, a
// multiply-shift range reduction that works for any capacity), so probe
// distances, which Robin Hood insertion and backward-shift deletion
// compare, never need the key.
//
// Invariants: the load stays at most maxLoadNum/maxLoadDen, so every probe
// sequence reaches an empty slot; along any probe sequence the distance of
// each entry from its home slot is at least the probe length minus the
// entries it passed (the Robin Hood invariant), which lets an unsuccessful
// lookup stop at the first entry closer to its home than the probe.

const (
	slotShift     = 9
	slotsPerChunk = 1 << slotShift // 4 KiB of slots per copy-on-write chunk
	slotMask      = slotsPerChunk - 1

	// The index grows (by half) when an insertion would load it above
	// 7/8. At 7/8 a linear-probing lookup inspects about 4.5 slots on
	// average, all within one or two cache lines.
	maxLoadNum, maxLoadDen = 7, 8

	// maxSlots bounds the capacity so that fp·cap fits in 64 bits.
	maxSlots = 1 << 32
)

// slotChunk is one copy-on-write unit of the index.
type slotChunk [slotsPerChunk]uint64

type index struct {
	dir   []*slotChunk // slots, in chunks of slotsPerChunk
	owned bitset       // chunk i may be written in place (no View shares it)
	cap   uint64       // number of slots: len(dir)·slotsPerChunk
	n     int          // number of entries
	seed  uint64
}

// slotsFor returns the capacity, a multiple of slotsPerChunk, that holds
// n entries within the maximum load.
func slotsFor(n int) uint64 {
	c := (uint64(n)*maxLoadDen + maxLoadNum - 1) / maxLoadNum
	if c < slotsPerChunk {
		c = slotsPerChunk
	}
	c = (c + slotMask) &^ slotMask
	return min(c, maxSlots)
}

func newIndex(slots uint64, seed uint64) index {
	x := index{cap: slots, seed: seed}
	x.dir = make([]*slotChunk, slots/slotsPerChunk)
	for i := range x.dir {
		x.dir[i] = new(slotChunk)
	}
	x.owned.grow(len(x.dir))
	for i := range x.dir {
		x.owned.set(i)
	}
	return x
}

func (x *index) fingerprint(id uint64) uint32 { return uint32(mix64(id^x.seed) >> 32) }
func (x *index) home(fp uint32) uint64        { return uint64(fp) * x.cap >> 32 }
func (x *index) at(i uint64) uint64           { return x.dir[i>>slotShift][i&slotMask] }

// dist returns how far slot i is from the home slot of fingerprint fp.
func (x *index) dist(i uint64, fp uint32) uint64 {
	h := x.home(fp)
	if i >= h {
		return i - h
	}
	return i + x.cap - h
}

// put stores v in slot i, first copying the slot's chunk if a View shares
// it.
func (x *index) put(i uint64, v uint64) {
	c := int(i >> slotShift)
	if !x.owned.has(c) {
		cp := *x.dir[c]
		x.dir[c] = &cp
		x.owned.set(c)
	}
	x.dir[c][i&slotMask] = v
}

// find returns the slot and row of id, reading row IDs from rows.
func (x *index) find(rows rowDir, id uint64) (pos uint64, row int32, ok bool) {
	fp := x.fingerprint(id)
	i := x.home(fp)
	for d := uint64(0); ; d++ {
		s := x.at(i)
		if s == 0 {
			return 0, 0, false
		}
		sfp := uint32(s >> 32)
		if x.dist(i, sfp) < d {
			return 0, 0, false
		}
		if sfp == fp {
			r := int32(uint32(s) - 1)
			if rows.chunk(r).ids[r&rowMask] == id {
				return i, r, true
			}
		}
		if i++; i == x.cap {
			i = 0
		}
	}
}

// insert adds an entry for a row whose ID has fingerprint fp. The ID must
// not be present, and the index must have room (see full).
func (x *index) insert(fp uint32, row int32) {
	v := uint64(fp)<<32 | uint64(uint32(row)+1)
	i := x.home(fp)
	for d := uint64(0); ; d++ {
		s := x.at(i)
		if s == 0 {
			x.put(i, v)
			x.n++
			return
		}
		if sd := x.dist(i, uint32(s>>32)); sd < d {
			// Robin Hood: the entry closer to its home gives way.
			x.put(i, v)
			v, d = s, sd
		}
		if i++; i == x.cap {
			i = 0
		}
	}
}

// remove deletes the entry in slot pos by shifting the following entries
// of its cluster back one slot, so no tombstone is left.
func (x *index) remove(pos uint64) {
	i := pos
	for {
		j := i + 1
		if j == x.cap {
			j = 0
		}
		s := x.at(j)
		if s == 0 || x.dist(j, uint32(s>>32)) == 0 {
			x.put(i, 0)
			break
		}
		x.put(i, s)
		i = j
	}
	x.n--
}

// full reports whether one more entry would exceed the maximum load.
func (x *index) full() bool {
	return uint64(x.n+1)*maxLoadDen > x.cap*maxLoadNum
}

// resized returns a copy of x with the given capacity and the same
// entries. The old chunks are left untouched, since a View may hold them.
func (x *index) resized(slots uint64) index {
	y := newIndex(slots, x.seed)
	for _, c := range x.dir {
		for _, s := range c {
			if s != 0 {
				y.insert(uint32(s>>32), int32(uint32(s)-1))
			}
		}
	}
	return y
}

// grown returns the capacity to grow to from the current one.
func (x *index) grown() uint64 {
	c := (x.cap + x.cap/2 + slotMask) &^ slotMask
	return min(c, maxSlots)
}

// bytes returns the memory the index holds.
func (x *index) bytes() int64 {
	return int64(x.cap)*8 + int64(cap(x.dir))*8 + int64(cap(x.owned))*8
}
