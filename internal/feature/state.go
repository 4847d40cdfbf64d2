package feature

import (
	"fmt"
	"math"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

// Schema state in a tensor.Set (part of the snapshot format). With N
// numeric fields and F fields in all, SaveTensors writes:
//
//	<prefix>numeric.count  I64 [N]    values in the running stats
//	<prefix>numeric.mean   F64 [N]    running mean (after Log1p)
//	<prefix>numeric.m2     F64 [N]    sum of squared deviations (Welford)
//	<prefix>counters       I64 [F, 5] missing, invalid, non-finite,
//	                                  truncated bags, dropped bag elements
//
// and the metadata key <prefix>schema holding the schema's canonical
// description (Schema.String), which LoadTensors requires to match, so
// stats are never restored into a schema that would read them differently.
const (
	stateCount    = "numeric.count"
	stateMean     = "numeric.mean"
	stateM2       = "numeric.m2"
	stateCounters = "counters"
	stateSchema   = "schema"
	numCounters   = 5
)

// SaveTensors adds the running stats and counters to set under names
// starting with prefix (see learn.Snapshotter). The prefix must not start
// with "perpetua." (reserved tensor.Set metadata).
func (s *Schema) SaveTensors(set *tensor.Set, prefix string) {
	nn := len(s.numeric)
	count := make([]int64, nn)
	mean := make([]float64, nn)
	m2 := make([]float64, nn)
	for k, w := range s.stats {
		count[k], mean[k], m2[k] = w.n, w.mean, w.m2
	}
	cnt := make([]int64, 0, numCounters*len(s.cnt))
	for _, c := range s.cnt {
		cnt = append(cnt, c.missing, c.invalid, c.nonFinite, c.truncated, c.dropped)
	}
	set.PutI64(prefix+stateCount, []int{nn}, count)
	set.PutF64(prefix+stateMean, []int{nn}, mean)
	set.PutF64(prefix+stateM2, []int{nn}, m2)
	set.PutI64(prefix+stateCounters, []int{len(s.cnt), numCounters}, cnt)
	set.SetMeta(prefix+stateSchema, s.desc)
}

// LoadTensors restores the running stats and counters saved by
// SaveTensors of a schema with the same description. On error it leaves
// the schema unchanged.
func (s *Schema) LoadTensors(set *tensor.Set, prefix string) error {
	desc, ok := set.Meta(prefix + stateSchema)
	if !ok {
		return fmt.Errorf("feature: no schema state under prefix %q (metadata key %q missing)", prefix, prefix+stateSchema)
	}
	if desc != s.desc {
		return fmt.Errorf("feature: saved schema differs:\n saved: %s\n  this: %s", desc, s.desc)
	}
	nn := len(s.numeric)
	count, err := set.I64(prefix+stateCount, nn)
	if err != nil {
		return fmt.Errorf("feature: loading schema state: %v", err)
	}
	mean, err := set.F64(prefix+stateMean, nn)
	if err != nil {
		return fmt.Errorf("feature: loading schema state: %v", err)
	}
	m2, err := set.F64(prefix+stateM2, nn)
	if err != nil {
		return fmt.Errorf("feature: loading schema state: %v", err)
	}
	cnt, err := set.I64(prefix+stateCounters, len(s.cnt), numCounters)
	if err != nil {
		return fmt.Errorf("feature: loading schema state: %v", err)
	}
	stats := make([]welford, nn)
	for k := range stats {
		w := welford{n: count[k], mean: mean[k], m2: m2[k]}
		if w.n < 0 || math.IsNaN(w.mean) || math.IsInf(w.mean, 0) || !(w.m2 >= 0) || math.IsInf(w.m2, 0) ||
			(w.n == 0 && (w.mean != 0 || w.m2 != 0)) {
			return fmt.Errorf("feature: loading schema state: field %q has invalid stats (count %d, mean %v, m2 %v)",
				s.fields[s.numeric[k]].Name, w.n, w.mean, w.m2)
		}
		stats[k] = w
	}
	cs := make([]counters, len(s.cnt))
	for i := range cs {
		c := cnt[i*numCounters : (i+1)*numCounters]
		for _, v := range c {
			if v < 0 {
				return fmt.Errorf("feature: loading schema state: field %q has a negative counter %d", s.fields[i].Name, v)
			}
		}
		cs[i] = counters{missing: c[0], invalid: c[1], nonFinite: c[2], truncated: c[3], dropped: c[4]}
	}
	s.stats, s.cnt = stats, cs
	return nil
}
