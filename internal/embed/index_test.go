package embed

import (
	"math/rand/v2"
	"testing"
)

// TestIndexRandomVsMap drives the index directly with random inserts and
// deletes, growing from one chunk, and compares it with a Go map.
func TestIndexRandomVsMap(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	const maxRows = 20000
	rows := testRows(maxRows)
	x := newIndex(slotsFor(0), seed)
	ref := map[uint64]int32{}
	var freeRows []int32
	for r := int32(maxRows - 1); r >= 0; r-- {
		freeRows = append(freeRows, r)
	}
	keys := []uint64{}
	// A small key space makes deletes of present keys and re-inserts
	// frequent; some keys share a fingerprint's high bits by construction.
	for step := range 200000 {
		switch op := rng.IntN(10); {
		case op < 6 && len(freeRows) > 0: // insert
			id := rng.Uint64N(30000)
			if step%7 == 0 {
				id = rng.Uint64() // a wide key
			}
			if _, _, ok := x.find(rows, id); ok != (func() bool { _, ok := ref[id]; return ok })() {
				t.Fatalf("step %d: find(%d) = %v; reference disagrees", step, id, ok)
			} else if ok {
				continue
			}
			r := freeRows[len(freeRows)-1]
			freeRows = freeRows[:len(freeRows)-1]
			rows.chunk(r).ids[r&rowMask] = id
			if x.full() {
				x = x.resized(x.grown())
			}
			x.insert(x.fingerprint(id), r)
			ref[id] = r
			keys = append(keys, id)
		case len(keys) > 0: // delete
			i := rng.IntN(len(keys))
			id := keys[i]
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			pos, r, ok := x.find(rows, id)
			if !ok || r != ref[id] {
				t.Fatalf("step %d: find(%d) = %d, %v; want %d, true", step, id, r, ok, ref[id])
			}
			x.remove(pos)
			delete(ref, id)
			freeRows = append(freeRows, r)
		}
		if step%5000 == 0 || step == 199999 {
			used := map[int32]bool{}
			for _, r := range ref {
				used[r] = true
			}
			if err := x.check(rows, func(r int32) bool { return used[r] }); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if x.n != len(ref) {
				t.Fatalf("step %d: index holds %d; reference %d", step, x.n, len(ref))
			}
			for id, want := range ref {
				if _, r, ok := x.find(rows, id); !ok || r != want {
					t.Fatalf("step %d: find(%d) = %d, %v; want %d, true", step, id, r, ok, want)
				}
			}
		}
	}
	if x.cap == slotsPerChunk {
		t.Errorf("index never grew (capacity %d); the test did not exercise resizing", x.cap)
	}
}

// TestIndexWrapAround fills one chunk to its maximum load with keys whose
// home slots are the last ones, so clusters wrap past the end.
func TestIndexWrapAround(t *testing.T) {
	rows := testRows(1024)
	x := newIndex(slotsPerChunk, 7)
	var ids []uint64
	for id := uint64(0); len(ids) < slotsPerChunk*maxLoadNum/maxLoadDen-1; id++ {
		if x.home(x.fingerprint(id)) >= slotsPerChunk-40 || id%5 == 0 {
			r := int32(len(ids))
			rows.chunk(r).ids[r&rowMask] = id
			x.insert(x.fingerprint(id), r)
			ids = append(ids, id)
		}
	}
	if x.at(0) == 0 {
		t.Fatalf("slot 0 empty: no cluster wrapped around")
	}
	live := func(int32) bool { return true }
	if err := x.check(rows, live); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(ids); i += 2 {
		pos, _, ok := x.find(rows, ids[i])
		if !ok {
			t.Fatalf("find(%d) = false; want true", ids[i])
		}
		x.remove(pos)
	}
	for i, id := range ids {
		_, r, ok := x.find(rows, id)
		if ok != (i%2 == 1) || ok && r != int32(i) {
			t.Fatalf("after deletes, find(%d) = %d, %v; want %d, %v", id, r, ok, i, i%2 == 1)
		}
	}
	if err := x.check(rows, live); err != nil {
		t.Fatal(err)
	}
}

// testRows returns a row directory with storage for n rows.
func testRows(n int) rowDir {
	var d rowDir
	for ci := range (n + rowMask) >> rowShift {
		if ci&rowDirMask == 0 {
			d = append(d, new(rowPage))
		}
		d[ci>>rowDirShift][ci&rowDirMask] = &rowChunk{}
	}
	return d
}
