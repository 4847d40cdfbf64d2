package embed

// mix64 is the SplitMix64 finalizer. It is a bijection on uint64, so
// mix64(id ^ seed) never maps two distinct IDs to the same value.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// splitmix advances a SplitMix64 generator and returns its next output.
func splitmix(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	return mix64(*state)
}

// Seed derivation constants: each consumer of Config.Seed gets its own
// stream, so the index layout, the sketch cells, the initial rows and the
// eviction sampler are independent of each other.
const (
	saltIndex  = 0x243f6a8885a308d3
	saltSketch = 0x13198a2e03707344
	saltInit   = 0xa4093822299f31d0
	saltRand   = 0x082efa98ec4e6c89
	saltToken  = 0x452821e638d01377
	// saltDefault gives the default row its own initialisation stream.
	saltDefault = 0xbe5466cf34e90c6c
)

// bitset is a growable set of small non-negative integers.
type bitset []uint64

func (b bitset) has(i int) bool { return b[uint(i)>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int)      { b[uint(i)>>6] |= 1 << (uint(i) & 63) }
func (b bitset) unset(i int)    { b[uint(i)>>6] &^= 1 << (uint(i) & 63) }

// grow makes room for members below n.
func (b *bitset) grow(n int) {
	for len(*b) < (n+63)>>6 {
		*b = append(*b, 0)
	}
}

// reset removes every member.
func (b bitset) reset() { clear(b) }
