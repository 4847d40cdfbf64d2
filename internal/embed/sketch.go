package embed

// sketch is a seeded count-min sketch with conservative update and
// periodic aging. It counts sightings of IDs that have no row yet, in
// bounded memory, for frequency admission.
//
// Layout: sketchDepth rows of width 8-bit saturating counters, packed
// eight to a uint64 word (so aging is a word-wise shift and the packed
// words go into snapshots as they are). Cell i of row d is byte i&7 of
// word d·width/8 + i/8.
//
// Error: a count-min sketch never undercounts an ID's sightings since the
// last aging, and overcounts only by what other IDs added to all of its
// cells. With conservative update (only the cells holding the minimum are
// raised) and aging (every counter halved, rounding down, after every
// width/2 counted sightings), the expected count other IDs add to one cell
// stays below 1, so an ID seen s < AdmitAfter times is admitted early with
// probability at most about P(Poisson(1) ≥ AdmitAfter−s)^sketchDepth:
// under 0.5% for a single sighting and AdmitAfter = 3, about 16% for
// AdmitAfter = 2 (where one collision in each row suffices).
// TestSketchFalseAdmission measures the real rates, which are far lower
// because halving rounds lone sightings down to zero: 0.6% of one-off IDs
// admitted with AdmitAfter = 2, none with 3 (16 aging periods).
// Aging also makes counts forget: an ID must gather its AdmitAfter
// sightings within roughly width counted sightings of each other, which is
// the intended "frequent recently" semantics (as in TinyLFU).
type sketch struct {
	words []uint64 // sketchDepth·width/8 packed counters
	width uint64   // counters per row, a power of two
	seed  uint64
	adds  uint64 // sightings counted since the last aging
	dirty bitset // per sketchChunkWords words: changed since the last snapshot
}

const (
	sketchDepth = 4
	// sketchChunkWords is the granularity of delta snapshots of the
	// sketch: 4 KiB.
	sketchChunkWords = 512
	// minSketchWidth makes the sketch at least one chunk.
	minSketchWidth = sketchChunkWords * 8 / sketchDepth
	maxSketchWidth = 1 << 30
)

func newSketch(width int, seed uint64) *sketch {
	s := &sketch{
		words: make([]uint64, sketchDepth*width/8),
		width: uint64(width),
		seed:  seed,
	}
	s.dirty.grow(s.chunks())
	return s
}

// chunks returns the number of snapshot chunks.
func (s *sketch) chunks() int { return len(s.words) / sketchChunkWords }

// add counts one sighting of id and returns the estimated number of
// sightings since the last aging, this one included (saturating at 255).
func (s *sketch) add(id uint64) uint8 {
	h := mix64(id ^ s.seed)
	h1, h2 := h, h>>32|1
	var pos [sketchDepth]uint64
	least := uint8(255)
	for d := range uint64(sketchDepth) {
		p := d*s.width + (h1+d*h2)&(s.width-1)
		pos[d] = p
		if c := uint8(s.words[p>>3] >> (p & 7 * 8)); c < least {
			least = c
		}
	}
	if least == 255 {
		return 255
	}
	for _, p := range pos {
		if uint8(s.words[p>>3]>>(p&7*8)) == least {
			s.words[p>>3] += 1 << (p & 7 * 8)
			s.dirty.set(int(p >> 3 / sketchChunkWords))
		}
	}
	s.adds++
	if s.adds >= s.width/2 {
		s.age()
	}
	return least + 1
}

// age halves every counter, rounding down.
func (s *sketch) age() {
	for i, w := range s.words {
		s.words[i] = w >> 1 & 0x7f7f7f7f7f7f7f7f
	}
	s.adds = 0
	for i := range s.chunks() {
		s.dirty.set(i)
	}
}

func (s *sketch) bytes() int64 { return int64(cap(s.words))*8 + int64(cap(s.dirty))*8 }
