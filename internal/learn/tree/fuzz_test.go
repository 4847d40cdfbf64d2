package tree

import (
	"sync"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/learn"
	"github.com/perpetua-ml/perpetua/internal/tensor"
)

const fuzzDim = 4

// fuzzModels build the learners whose snapshots the fuzz target damages.
var fuzzModels = []func() learn.Binary{
	func() learn.Binary { return must(NewHoeffding(fuzzDim, Config{GracePeriod: 30})) },
	func() learn.Binary {
		return must(NewHAT(fuzzDim, HATConfig{Tree: Config{GracePeriod: 30}, DriftDelta: 0.1, SwitchWindow: 30}))
	},
	func() learn.Binary {
		return must(NewARF(fuzzDim, ARFConfig{Trees: 2, WarningDelta: 0.3, DriftDelta: 0.1, Tree: Config{GracePeriod: 10}}))
	},
}

var (
	fuzzOnce  sync.Once
	fuzzSnaps []*tensor.Set
)

// fuzzSnapshots returns a snapshot of each fuzz model after learning a
// drifting stream.
func fuzzSnapshots() []*tensor.Set {
	fuzzOnce.Do(func() {
		for _, m := range fuzzModels {
			l := m()
			trainAll(newConceptStream(3, 0.1, 1500), fuzzDim, 3000, l)
			s := new(tensor.Set)
			l.(learn.Snapshotter).SaveTensors(s, "m.")
			fuzzSnaps = append(fuzzSnaps, s)
		}
	})
	return fuzzSnaps
}

// damaged returns a copy of s with element elem of tensor number which
// set to ival (integer tensors) or fval (float tensors).
func damaged(s *tensor.Set, which uint16, elem uint32, ival int64, fval float64) *tensor.Set {
	names := s.Names()
	target := names[int(which)%len(names)]
	c := new(tensor.Set)
	for _, n := range names {
		dt, shape, _ := s.Lookup(n)
		switch dt {
		case tensor.I64:
			v, _ := s.I64(n, shape...)
			v = append([]int64(nil), v...)
			if n == target && len(v) > 0 {
				v[int(elem)%len(v)] = ival
			}
			c.PutI64(n, shape, v)
		case tensor.F64:
			v, _ := s.F64(n, shape...)
			v = append([]float64(nil), v...)
			if n == target && len(v) > 0 {
				v[int(elem)%len(v)] = fval
			}
			c.PutF64(n, shape, v)
		case tensor.F32:
			v, _ := s.F32(n, shape...)
			c.PutF32(n, shape, v)
		}
	}
	return c
}

// FuzzLoadTensors damages one value of a valid snapshot and loads it: the
// load must fail cleanly or give a model that predicts and learns without
// panicking and keeps the tree invariants. (Damaging decoded values
// rather than raw bytes gets past the file format's checksums; the
// tensor package fuzzes its own decoder.)
func FuzzLoadTensors(f *testing.F) {
	f.Add(uint8(0), uint16(3), uint32(5), int64(-1), 0.5)
	f.Add(uint8(1), uint16(7), uint32(0), int64(1<<40), -1.0)
	f.Add(uint8(2), uint16(11), uint32(2), int64(2), 1e300)
	f.Add(uint8(2), uint16(53), uint32(21), int64(2), 2e299)
	f.Fuzz(func(t *testing.T, model uint8, which uint16, elem uint32, ival int64, fval float64) {
		k := int(model) % len(fuzzModels)
		set := damaged(fuzzSnapshots()[k], which, elem, ival, fval)
		l := fuzzModels[k]()
		if err := l.(learn.Snapshotter).LoadTensors(set, "m."); err != nil {
			return
		}
		for _, c := range cores(l) {
			if err := c.check(); err != nil {
				t.Fatalf("a loaded snapshot breaks the tree invariants: %v", err)
			}
		}
		x := make([]float32, fuzzDim)
		s := newConceptStream(4, 0.1, 0)
		for range 300 {
			y := s.next(x)
			if p := l.Predict(x); !(p >= 0 && p <= 1) {
				t.Fatalf("Predict after loading a damaged snapshot = %v", p)
			}
			l.Learn(x, y)
		}
	})
}
