package continual

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/metric"
)

// ReplayPolicy chooses which past examples a ReplayBuffer keeps.
type ReplayPolicy uint8

const (
	// ReplayReservoir keeps a uniform sample of the whole stream
	// (reservoir sampling, Vitter's algorithm R).
	ReplayReservoir ReplayPolicy = iota
	// ReplayClassBalanced keeps one reservoir per class (label ≥ 0.5 or
	// not), each of half the capacity, and samples the classes equally
	// often, so a rare class is replayed as often as a common one.
	ReplayClassBalanced
)

// String returns the policy's configuration name.
func (p ReplayPolicy) String() string {
	switch p {
	case ReplayReservoir:
		return "reservoir"
	case ReplayClassBalanced:
		return "class_balanced"
	}
	return fmt.Sprintf("ReplayPolicy(%d)", uint8(p))
}

// DefaultReplayCapacity is the default number of examples a buffer keeps.
const DefaultReplayCapacity = 1000

// MaxReplayCapacity bounds ReplayConfig.Capacity.
const MaxReplayCapacity = 1 << 24

// ReplayConfig configures a ReplayBuffer and a Replay. Zero values mean
// the defaults.
type ReplayConfig struct {
	// Capacity is the most examples kept (default 1000). Memory is
	// Capacity·(4·dim + 8) bytes, allocated at the first example.
	Capacity int
	// Policy is ReplayReservoir (default) or ReplayClassBalanced.
	Policy ReplayPolicy
	// Ratio is the number of past examples replayed per new example
	// (default 1). A fractional ratio is spread evenly: 0.25 replays one
	// example every fourth Learn, 1.5 alternates one and two.
	Ratio float64
	// Seed seeds the buffer's sampling.
	Seed uint64
}

// Validate reports the first invalid field.
func (c *ReplayConfig) Validate() error {
	switch {
	case c.Capacity < 0 || c.Capacity > MaxReplayCapacity:
		return fmt.Errorf("continual: Replay: Capacity = %d; want 0 (default) or 1..%d", c.Capacity, MaxReplayCapacity)
	case c.Policy > ReplayClassBalanced:
		return fmt.Errorf("continual: Replay: unknown %v", c.Policy)
	case c.Policy == ReplayClassBalanced && c.Capacity == 1:
		return errors.New("continual: Replay: a class-balanced buffer needs Capacity ≥ 2")
	}
	return checkFinite("Replay", "Ratio", c.Ratio, c.Ratio >= 0 && c.Ratio <= 1000)
}

func (c ReplayConfig) withDefaults() ReplayConfig {
	if c.Capacity == 0 {
		c.Capacity = DefaultReplayCapacity
	}
	if c.Ratio == 0 {
		c.Ratio = 1
	}
	return c
}

// replayPool is one reservoir: slots [off, off+cap) of the buffer.
type replayPool struct {
	off, cap, used int
	seen           int64
}

// ReplayBuffer is a bounded, seeded sample of past examples. It copies
// what it is given into memory allocated once (at the first Add, when the
// feature count becomes known), so Add and Sample never allocate after
// that. Not safe for concurrent use.
type ReplayBuffer struct {
	policy ReplayPolicy
	capa   int
	dim    int       // 0 until the first Add
	xs     []float32 // capa·dim features, slot-major
	ys     []float64
	pools  []replayPool // one (reservoir) or two (class 0, class 1)
	rng    *rand.Rand
}

// NewReplayBuffer returns an empty buffer (cfg.Ratio is not used).
func NewReplayBuffer(cfg ReplayConfig) (*ReplayBuffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &ReplayBuffer{policy: cfg.Policy, capa: cfg.Capacity, rng: rand.New(rand.NewPCG(cfg.Seed, 0x7265706c6179))} // "replay"
	if cfg.Policy == ReplayClassBalanced {
		half := cfg.Capacity / 2
		b.pools = []replayPool{{off: 0, cap: half}, {off: half, cap: cfg.Capacity - half}}
	} else {
		b.pools = []replayPool{{cap: cfg.Capacity}}
	}
	return b, nil
}

// Add offers one example to the buffer, which keeps a copy of it or not as
// its policy says. x must have the length of the first example added.
func (b *ReplayBuffer) Add(x []float32, y float64) {
	if b.dim == 0 {
		if len(x) == 0 {
			panic("continual: ReplayBuffer.Add: empty feature vector")
		}
		b.dim = len(x)
		b.xs = make([]float32, b.capa*b.dim)
		b.ys = make([]float64, b.capa)
	} else if len(x) != b.dim {
		panic(fmt.Sprintf("continual: ReplayBuffer.Add: x has %d features; the buffer holds %d", len(x), b.dim))
	}
	p := &b.pools[0]
	if b.policy == ReplayClassBalanced && y >= metric.Threshold {
		p = &b.pools[1]
	}
	p.seen++
	slot := p.used
	if p.used < p.cap {
		p.used++
	} else {
		j := b.rng.Int64N(p.seen)
		if j >= int64(p.cap) {
			return
		}
		slot = int(j)
	}
	i := p.off + slot
	copy(b.xs[i*b.dim:(i+1)*b.dim], x)
	b.ys[i] = y
}

// Len returns the number of examples kept.
func (b *ReplayBuffer) Len() int {
	n := 0
	for _, p := range b.pools {
		n += p.used
	}
	return n
}

// Cap returns the capacity.
func (b *ReplayBuffer) Cap() int { return b.capa }

// Seen returns the number of examples offered so far.
func (b *ReplayBuffer) Seen() int64 {
	var n int64
	for _, p := range b.pools {
		n += p.seen
	}
	return n
}

// ClassCounts returns how many kept examples have a label below 0.5 and
// how many at or above it.
func (b *ReplayBuffer) ClassCounts() (neg, pos int) {
	for _, p := range b.pools {
		for _, y := range b.ys[p.off : p.off+p.used] {
			if y >= metric.Threshold {
				pos++
			} else {
				neg++
			}
		}
	}
	return neg, pos
}

// Sample returns one kept example drawn at random: uniformly over the
// buffer for a reservoir, and for a class-balanced buffer a class chosen
// uniformly among the non-empty ones, then an example of it. x is a view
// of the buffer's memory, valid until the next Add; it must not be
// modified or retained. ok is false when the buffer is empty.
func (b *ReplayBuffer) Sample() (x []float32, y float64, ok bool) {
	var p *replayPool
	switch {
	case len(b.pools) == 1:
		p = &b.pools[0]
	case b.pools[0].used == 0:
		p = &b.pools[1]
	case b.pools[1].used == 0:
		p = &b.pools[0]
	default:
		p = &b.pools[b.rng.IntN(2)]
	}
	if p.used == 0 {
		return nil, 0, false
	}
	i := p.off + b.rng.IntN(p.used)
	return b.xs[i*b.dim : (i+1)*b.dim : (i+1)*b.dim], b.ys[i], true
}

// Replay mixes past examples into its base learner's training: each Learn
// first replays examples sampled from its ReplayBuffer (Ratio per call on
// average), then learns the new example, then offers it to the buffer. It
// counters forgetting of concepts that recur, at the cost of (1+Ratio)
// base Learn calls per example. Predict is the base learner's.
type Replay struct {
	base   learn.Binary
	buf    *ReplayBuffer
	ratio  float64
	credit float64 // fractional replays owed
}

var _ learn.Binary = (*Replay)(nil)

// NewReplay wraps base.
func NewReplay(base learn.Binary, cfg ReplayConfig) (*Replay, error) {
	if base == nil {
		return nil, errors.New("continual: Replay: nil base learner")
	}
	buf, err := NewReplayBuffer(cfg)
	if err != nil {
		return nil, err
	}
	return &Replay{base: base, buf: buf, ratio: cfg.withDefaults().Ratio}, nil
}

// Predict returns the base learner's prediction.
func (r *Replay) Predict(x []float32) float64 { return r.base.Predict(x) }

// Learn replays past examples, learns x and keeps a copy of it if the
// buffer's policy says so.
func (r *Replay) Learn(x []float32, y float64) {
	r.credit += r.ratio
	k := math.Floor(r.credit)
	r.credit -= k
	if r.buf.Len() > 0 {
		for range int(k) {
			bx, by, _ := r.buf.Sample()
			r.base.Learn(bx, by)
		}
	}
	r.base.Learn(x, y)
	r.buf.Add(x, y)
}

// Buffer returns the replay buffer.
func (r *Replay) Buffer() *ReplayBuffer { return r.buf }

// Model returns the base learner.
func (r *Replay) Model() learn.Binary { return r.base }
