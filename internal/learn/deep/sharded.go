package deep

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/perpetua-ml/perpetua/internal/feature"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// ShardConfig configures a Sharded trainer. The zero value means two
// shards keyed by the first sparse field.
type ShardConfig struct {
	// Shards is the number of replicas, each trained by its own
	// goroutine; 0 means 2.
	Shards int
	// KeyField names the sparse field (a categorical field, a bag or a
	// cross) whose first ID routes an example to its replica: use the
	// field that best partitions the traffic, such as the user or the
	// session. "" means the first sparse field.
	KeyField string
}

// Sharded trains a wide & deep model on several cores without sharing
// mutable memory between goroutines (so without data races, and
// deterministically). It holds Shards replicas of the model. Each call to
// PredictLearn routes every example of its batch, by the hash of its key
// field's first ID, to one replica; each replica's goroutine learns from
// its examples in stream order, with its own embedding tables, wide part
// and MLP; when all are done, the replicas' MLP weights and biases are
// averaged (model averaging, the synchronisation step), so after each
// call every replica has the same dense weights.
//
// What this gives up against one model trained on the whole stream: the
// MLP sees each replica's updates only at the next synchronisation (one
// batch late), and embedding rows and wide buckets are not shared: each
// replica learns the rows of the IDs routed to it. A key field ID goes to
// one replica (Route), so its rows learn from all its traffic; IDs of
// other fields that occur in several replicas' traffic get a row in each,
// each learning from its share. Predict routes with Route.
//
// Balance: real key fields are skewed (a few users or items carry a large
// share of the traffic), and with routing by key alone the busiest
// replica sets the pace: on the standard benchmark stream (Zipf IDs) one
// of two replicas got 62 % of the examples, capping the speed-up at 1.6.
// So within each call, the examples of a key that occurs at least
// max(4, len(xs)/256) times in the batch (a hot key) are not routed by
// key: after the other examples are routed, each goes to the replica with
// the fewest examples so far (the lowest index on a tie), in stream
// order. A hot key is thus learned by several replicas, each from its
// share, like a frequent ID of any other field. The assignment depends
// only on the batch, so training stays deterministic.
//
// Cost: one goroutine per extra shard per call, and an average over the
// dense parameters per call, so batches should hold hundreds to thousands
// of examples (BenchmarkSharded uses 1024).
type Sharded struct {
	shards []*Model
	key    int

	// Per-call routing scratch (see assign).
	dest  []uint8  // replica of each example of the batch
	slots []int32  // open addressing over keys: 1 + index into keys; 0 is empty
	keys  []uint64 // distinct keys of the batch
	cnt   []int32  // occurrences of keys[i] in the batch
	load  []int    // examples given to each replica
}

// NewSharded returns a sharded trainer of models built by New(schema,
// cfg); every replica starts from the same parameters.
func NewSharded(schema *feature.Schema, cfg Config, sc ShardConfig) (*Sharded, error) {
	n := sc.Shards
	if n == 0 {
		n = 2
	}
	if n < 1 || n > 255 {
		return nil, fmt.Errorf("deep: ShardConfig.Shards = %d; want 1 to 255", sc.Shards)
	}
	key := 0
	if sc.KeyField != "" {
		key = -1
		for j, name := range schema.SparseNames() {
			if name == sc.KeyField {
				key = j
			}
		}
		if key < 0 {
			return nil, fmt.Errorf("deep: ShardConfig.KeyField %q is not a sparse field of the schema (%v)", sc.KeyField, schema.SparseNames())
		}
	} else if schema.NumSparse() == 0 && n > 1 {
		return nil, fmt.Errorf("deep: sharding needs a sparse field to route by; the schema has none")
	}
	s := &Sharded{key: key}
	for range n {
		m, err := New(schema, cfg)
		if err != nil {
			return nil, err
		}
		s.shards = append(s.shards, m)
	}
	return s, nil
}

// Shards returns the number of replicas.
func (s *Sharded) Shards() int { return len(s.shards) }

// Replica returns replica i, to publish or inspect; using it while a call
// to PredictLearn runs is a data race.
func (s *Sharded) Replica(i int) *Model { return s.shards[i] }

// Route returns the replica that predicts x, and learns from it unless
// its key is hot in the batch it is learned in (see Sharded).
func (s *Sharded) Route(x *feature.Example) int {
	id, ok := s.keyOf(x)
	if !ok {
		return 0
	}
	return s.routeKey(id)
}

// keyOf returns the first ID of x's key field, if it has one.
func (s *Sharded) keyOf(x *feature.Example) (uint64, bool) {
	if len(s.shards) == 1 || s.key >= len(x.Offsets)-1 || x.Offsets[s.key] == x.Offsets[s.key+1] {
		return 0, false
	}
	return x.IDs[x.Offsets[s.key]], true
}

func (s *Sharded) routeKey(id uint64) int {
	h := id
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return int(h % uint64(len(s.shards)))
}

// hotMin returns the number of occurrences in a batch of n examples that
// makes a key hot.
func hotMin(n int) int32 { return int32(max(4, n/256)) }

// assign sets s.dest[i] to the replica that learns from xs[i]: by key,
// except the examples of hot keys, which go to the least loaded replica
// once the others are placed (see Sharded). It does not allocate once its
// scratch has grown to the batch size.
func (s *Sharded) assign(xs []*feature.Example) {
	n := len(xs)
	if cap(s.dest) < n {
		s.dest = make([]uint8, n)
	}
	s.dest = s.dest[:n]
	if len(s.load) != len(s.shards) {
		s.load = make([]int, len(s.shards))
	}
	clear(s.load)
	if len(s.shards) == 1 {
		clear(s.dest)
		return
	}
	// Count the batch's keys.
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if len(s.slots) < size {
		s.slots = make([]int32, size)
	}
	slots := s.slots[:size]
	clear(slots)
	s.keys, s.cnt = s.keys[:0], s.cnt[:0]
	mask := uint64(size - 1)
	find := func(id uint64) int {
		h := id * 0x9e3779b97f4a7c15
		for i := (h ^ h>>29) & mask; ; i = (i + 1) & mask {
			k := slots[i]
			if k == 0 {
				s.keys = append(s.keys, id)
				s.cnt = append(s.cnt, 0)
				slots[i] = int32(len(s.keys))
				return len(s.keys) - 1
			}
			if s.keys[k-1] == id {
				return int(k - 1)
			}
		}
	}
	for _, x := range xs {
		if id, ok := s.keyOf(x); ok {
			s.cnt[find(id)]++
		}
	}
	hot := hotMin(n)
	const pending = 255 // a hot key's example, placed in the second pass
	for i, x := range xs {
		id, ok := s.keyOf(x)
		r := 0
		switch {
		case !ok:
		case s.cnt[find(id)] >= hot:
			s.dest[i] = pending
			continue
		default:
			r = s.routeKey(id)
		}
		s.dest[i] = uint8(r)
		s.load[r]++
	}
	for i := range s.dest {
		if s.dest[i] != pending {
			continue
		}
		r := 0
		for k, l := range s.load {
			if l < s.load[r] {
				r = k
			}
		}
		s.dest[i] = uint8(r)
		s.load[r]++
	}
}

// Predict returns the prediction of x's replica.
func (s *Sharded) Predict(x *feature.Example) float64 { return s.shards[s.Route(x)].Predict(x) }

// PredictLearn learns from a batch in parallel, one goroutine per
// replica, storing each example's prediction (made before its replica
// learned from it) in ps unless ps is nil, and then averages the
// replicas' MLPs. It returns when every goroutine has finished. It panics
// if ys (or a non-nil ps) does not have len(xs) elements. The examples
// are only read, and ps[i] is written by the goroutine that owns example
// i alone.
func (s *Sharded) PredictLearn(ps []float64, xs []*feature.Example, ys []float64) {
	if len(ys) != len(xs) || (ps != nil && len(ps) != len(xs)) {
		panic("deep: Sharded.PredictLearn: ys and ps must have len(xs) elements")
	}
	s.assign(xs)
	var wg sync.WaitGroup
	for w := 1; w < len(s.shards); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(w, ps, xs, ys)
		}()
	}
	s.run(0, ps, xs, ys)
	wg.Wait()
	s.average()
}

func (s *Sharded) run(w int, ps []float64, xs []*feature.Example, ys []float64) {
	m := s.shards[w].m
	for i, x := range xs {
		if int(s.dest[i]) != w {
			continue
		}
		p := m.predictLearn(x, ys[i])
		if ps != nil {
			ps[i] = p
		}
	}
}

// average sets every replica's MLP weights and biases to their mean.
func (s *Sharded) average() {
	if len(s.shards) < 2 || s.shards[0].m.net == nil {
		return
	}
	p0 := s.shards[0].m.net.p
	inv := 1 / float32(len(s.shards))
	for i := range p0 {
		sum := p0[i]
		for _, r := range s.shards[1:] {
			sum += r.m.net.p[i]
		}
		p0[i] = sum * inv
	}
	for _, r := range s.shards[1:] {
		copy(r.m.net.p, p0)
	}
}

// SetTime sets every replica's clock.
func (s *Sharded) SetTime(now int64) {
	for _, r := range s.shards {
		r.SetTime(now)
	}
}

// Expire expires every replica's embedding rows (see Model.Expire) and
// returns how many rows it removed.
func (s *Sharded) Expire() int {
	n := 0
	for _, r := range s.shards {
		n += r.Expire()
	}
	return n
}

// Stats returns the replicas' counters summed.
func (s *Sharded) Stats() Stats {
	var t Stats
	for _, r := range s.shards {
		st := r.Stats()
		t.Learned += st.Learned
		t.Skipped += st.Skipped
		t.NonFiniteInputs += st.NonFiniteInputs
	}
	return t
}

const metaShards = "deep.shards" // "<shards> <key slot>"

func shardPrefix(prefix string, i int) string { return prefix + "shard." + strconv.Itoa(i) + "." }

// SaveTensors saves every replica under prefix + "shard.<i>.".
func (s *Sharded) SaveTensors(set *tensor.Set, prefix string) {
	set.SetMeta(prefix+metaShards, fmt.Sprintf("%d %d", len(s.shards), s.key))
	for i, r := range s.shards {
		r.SaveTensors(set, shardPrefix(prefix, i))
	}
}

// LoadTensors restores a state saved by SaveTensors of a trainer with the
// same shard count, key field, schema and configuration. On error the
// trainer is unchanged.
func (s *Sharded) LoadTensors(set *tensor.Set, prefix string) error {
	want := fmt.Sprintf("%d %d", len(s.shards), s.key)
	if got, ok := set.Meta(prefix + metaShards); !ok || got != want {
		return fmt.Errorf("deep: load %q: sharding is %q; this trainer has %q (shards, key slot)", prefix, got, want)
	}
	// Decode every replica before changing any, so that a failure leaves
	// s unchanged.
	ls := make([]*loaded[float32], len(s.shards))
	for i, r := range s.shards {
		l, err := r.m.decode(set, shardPrefix(prefix, i), true)
		if err != nil {
			return err
		}
		ls[i] = l
	}
	for i, r := range s.shards {
		r.m.commit(ls[i])
	}
	return nil
}
