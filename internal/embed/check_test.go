package embed

import (
	"flag"
	"fmt"
	"math/bits"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock)")

// testSeed returns the seed of a randomized test and logs it, so a
// failure can be replayed with -seed.
func testSeed(t *testing.T) uint64 {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return seed
}

// check verifies the table's structural invariants.
func (t *Table) check() error {
	if !t.live.has(0) {
		return fmt.Errorf("DefaultRow is not live")
	}
	nchunks := (int(t.high) + rowMask) >> rowShift
	if want := (nchunks + rowDirMask) >> rowDirShift; len(t.rows) != want {
		return fmt.Errorf("%d directory pages for %d rows; want %d", len(t.rows), t.high, want)
	}
	for ci := range len(t.rows) * rowDirLen {
		if (t.rows[ci>>rowDirShift][ci&rowDirMask] != nil) != (ci < nchunks) {
			return fmt.Errorf("row chunk %d present %v with %d chunks", ci, ci < nchunks, nchunks)
		}
	}
	if want := (int(t.high) + pageMask) >> pageShift; len(t.seen) != want {
		return fmt.Errorf("%d pages for %d rows; want %d", len(t.seen), t.high, want)
	}
	live := 0
	for wi, w := range t.live {
		if wi<<6 >= int(t.high) && w != 0 {
			return fmt.Errorf("live bits beyond row %d", t.high)
		}
		live += bits.OnesCount64(w)
	}
	if live-1 != t.nlive {
		return fmt.Errorf("%d live bits; nlive = %d", live, t.nlive)
	}
	if t.nlive > t.maxRows {
		return fmt.Errorf("%d rows; MaxRows %d", t.nlive, t.maxRows)
	}
	if t.idx.n != t.nlive {
		return fmt.Errorf("index holds %d entries; %d live rows", t.idx.n, t.nlive)
	}
	for r := int32(1); r < t.high; r++ {
		if !t.live.has(int(r)) {
			continue
		}
		if _, got, ok := t.idx.find(t.rows, t.idOf(r)); !ok || got != r {
			return fmt.Errorf("row %d holds ID %d; the index finds row %d (%v)", r, t.idOf(r), got, ok)
		}
	}
	if err := t.idx.check(t.rows, func(r int32) bool { return r > 0 && r < t.high && t.live.has(int(r)) }); err != nil {
		return err
	}
	if want := int(t.high) - 1 - t.nlive; len(t.free) != want {
		return fmt.Errorf("%d free rows; want %d", len(t.free), want)
	}
	seen := map[int32]bool{}
	for i, r := range t.free {
		if r < 1 || r >= t.high || t.live.has(int(r)) || seen[r] {
			return fmt.Errorf("free[%d] = %d is out of range, live or repeated", i, r)
		}
		seen[r] = true
		if i > 0 && t.free[(i-1)/2] > r {
			return fmt.Errorf("free list is not a min-heap at %d", i)
		}
	}
	return nil
}

// check verifies the index's own invariants: entries point to live rows
// whose ID has the stored fingerprint, and the Robin Hood ordering holds.
func (x *index) check(rows rowDir, live func(int32) bool) error {
	if x.cap != uint64(len(x.dir))*slotsPerChunk {
		return fmt.Errorf("index capacity %d for %d chunks", x.cap, len(x.dir))
	}
	n := 0
	for i := range x.cap {
		s := x.at(i)
		if s == 0 {
			continue
		}
		n++
		r := int32(uint32(s) - 1)
		if !live(r) {
			return fmt.Errorf("slot %d points to row %d, which is not live", i, r)
		}
		if fp := x.fingerprint(rows.chunk(r).ids[r&rowMask]); fp != uint32(s>>32) {
			return fmt.Errorf("slot %d: fingerprint %x; row %d's ID has %x", i, uint32(s>>32), r, fp)
		}
		j := (i + 1) % x.cap
		if s2 := x.at(j); s2 != 0 && x.dist(j, uint32(s2>>32)) > x.dist(i, uint32(s>>32))+1 {
			return fmt.Errorf("Robin Hood order broken at slots %d, %d", i, j)
		}
	}
	if n != x.n {
		return fmt.Errorf("index counts %d entries; holds %d", x.n, n)
	}
	if uint64(x.n)*maxLoadDen > x.cap*maxLoadNum {
		return fmt.Errorf("index load %d/%d above the maximum", x.n, x.cap)
	}
	return nil
}
