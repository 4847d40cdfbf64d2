package sim

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/perpetua-ml/perpetua/internal/event"
)

// Stateless randomness. Per-user and per-customer attributes (taste,
// price sensitivity, home, spending habits) are pure functions of
// (seed, salt, index, …) so that a world with millions of users costs no
// memory per user. mix is the splitmix64 finalizer.

const golden = 0x9e3779b97f4a7c15

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash3 hashes (seed, salt, a, b) to 64 well-mixed bits.
func hash3(seed, salt, a, b uint64) uint64 {
	return mix(mix(seed^salt*golden) ^ mix(a+golden) ^ (b * 0xd6e8feb86659fd93))
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) * 0x1p-53 }

// gauss maps a hash to an approximately standard normal number (the
// Irwin–Hall sum of four 16-bit uniforms, rescaled; bounded by ±3.46).
func gauss(h uint64) float64 {
	s := float64(h&0xffff) + float64(h>>16&0xffff) + float64(h>>32&0xffff) + float64(h>>48)
	return (s*(1.0/65536) - 2) * math.Sqrt(3)
}

// Salts of the stateless draws. Their values are part of what a seed
// means: changing one changes every stream.
const (
	saltTasteA = iota + 1
	saltTasteB
	saltOmega
	saltPhase
	saltBeta
	saltShift
	saltActivity
	saltHomeX
	saltHomeY
	saltPopMu
	saltCustX
	saltCustY
	saltCustMean
	saltCustRate
	saltCustDevice
	saltZone
	saltRoadworks
	saltCampaign
	saltItems
)

// idArena hands out immutable identifier strings carved from large byte
// blocks, so that a unique id costs no allocation of its own (one block
// of arenaBlock bytes serves thousands of ids). Bytes are never written
// twice, so the strings stay valid and immutable for as long as anyone
// holds them; a block is freed by the GC once no string refers to it.
type idArena struct {
	b     []byte
	lines []event.OrderLine
}

const (
	arenaBlock = 32 << 10
	lineBlock  = 1024
)

// id returns prefix followed by the decimal n.
func (a *idArena) id(prefix string, n uint64) string {
	if cap(a.b)-len(a.b) < len(prefix)+20 {
		a.b = make([]byte, 0, arenaBlock)
	}
	s := len(a.b)
	a.b = append(a.b, prefix...)
	a.b = strconv.AppendUint(a.b, n, 10)
	return unsafe.String(&a.b[s], len(a.b)-s)
}

// orderLines returns a slice of n lines, carved from a shared block with
// its capacity capped at n so that appending to it never overwrites a
// neighbour.
func (a *idArena) orderLines(n int) []event.OrderLine {
	if n > lineBlock/4 {
		return make([]event.OrderLine, n)
	}
	if cap(a.lines)-len(a.lines) < n {
		a.lines = make([]event.OrderLine, 0, lineBlock)
	}
	s := len(a.lines)
	a.lines = a.lines[:s+n]
	return a.lines[s : s+n : s+n]
}
