package embed

import (
	"encoding/binary"
	"math"
	"strconv"
	"testing"

	"github.com/perpetua-ml/perpetua/internal/tensor"
)

var fuzzCfg = Config{Dim: 3, Optimizer: Adam, MaxRows: 40, AdmitAfter: 2, AdmitSketchWidth: 1024, ExpireAfter: 20, Seed: 12}

// fuzzSnapshots returns a full snapshot and a delta that follows it.
func fuzzSnapshots(t testing.TB) (full, delta *tensor.Set) {
	tb := newTable(t, fuzzCfg)
	now := int64(0)
	play(tb, 1, 500, &now)
	full = snapshotOf(tb)
	play(tb, 2, 200, &now)
	delta = &tensor.Set{}
	tb.SaveDelta(delta, "")
	return full, delta
}

// FuzzLoad feeds the loaders snapshots that pass the tensor codec's own
// checks but whose contents the fuzzer has edited: values, shapes,
// missing tensors, metadata. A load must either fail and leave the table
// unchanged, or succeed and leave a table that satisfies every invariant
// and keeps working.
func FuzzLoad(f *testing.F) {
	full, delta := fuzzSnapshots(f)
	f.Add([]byte{0})
	f.Add([]byte{1})
	f.Add([]byte{0, 0, 3, 0, 1, 0, 0, 0, 0})  // edit an I64
	f.Add([]byte{1, 5, 2, 0, 0, 1, 0, 0, 0})  // duplicate an element
	f.Add([]byte{1, 2, 7, 0, 0, 0, 0, 0, 0})  // truncate a tensor
	f.Add([]byte{0, 4, 1, 0, 0, 9, 0, 0, 0})  // metadata
	f.Add([]byte{1, 3, 11, 0, 0, 0, 0, 0, 0}) // drop a tensor
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		isDelta := data[0]&1 == 1
		src := full
		if isDelta {
			src = delta
		}
		s := roundTrip(t, src)
		for ops := data[1:]; len(ops) >= 8; ops = ops[8:] {
			edit(s, ops[:8])
		}
		tb := newTable(t, fuzzCfg)
		if isDelta {
			if err := tb.LoadTensors(full, ""); err != nil {
				t.Fatal(err)
			}
		}
		before := digest(tb)
		var err error
		if isDelta {
			err = tb.ApplyDelta(s, "")
		} else {
			err = tb.LoadTensors(s, "")
		}
		if err != nil {
			if digest(tb) != before {
				t.Fatalf("a refused load (%v) changed the table", err)
			}
			return
		}
		if err := tb.check(); err != nil {
			t.Fatalf("accepted snapshot broke an invariant: %v", err)
		}
		now := int64(0)
		play(tb, 3, 200, &now)
		if err := tb.check(); err != nil {
			t.Fatalf("after training on an accepted snapshot: %v", err)
		}
		again := newTable(t, fuzzCfg)
		if err := again.LoadTensors(roundTrip(t, snapshotOf(tb)), ""); err != nil {
			t.Fatalf("reloading an accepted table's snapshot: %v", err)
		}
	})
}

// edit applies one 8-byte edit to s: op, tensor, position (2 bytes),
// value (4 bytes).
func edit(s *tensor.Set, op []byte) {
	names := s.Names()
	if len(names) == 0 {
		return
	}
	name := names[int(op[1])%len(names)]
	pos := int(binary.LittleEndian.Uint16(op[2:]))
	val := int32(binary.LittleEndian.Uint32(op[4:]))
	dt, shape, _ := s.Lookup(name)
	var i64 []int64
	var f32 []float32
	switch dt {
	case tensor.I64:
		v, _ := s.I64(name, shape...)
		i64 = append([]int64(nil), v...)
	case tensor.F32:
		v, _ := s.F32(name, shape...)
		f32 = append([]float32(nil), v...)
	default:
		return
	}
	n := len(i64) + len(f32)
	switch op[0] % 6 {
	case 0: // set an element
		if n == 0 {
			return
		}
		if i64 != nil {
			i64[pos%n] = int64(val)
		} else {
			f32[pos%n] = math.Float32frombits(uint32(val))
		}
	case 1: // copy an element onto its neighbour
		if n < 2 {
			return
		}
		p := pos % (n - 1)
		if i64 != nil {
			i64[p+1] = i64[p]
		} else {
			f32[p+1] = f32[p]
		}
	case 2: // drop trailing elements; the shape becomes a vector
		k := pos % (n + 1)
		if i64 != nil {
			i64 = i64[:n-k]
		} else {
			f32 = f32[:n-k]
		}
		shape = []int{n - k}
	case 3: // drop the tensor
		s.Delete(name)
		return
	case 4: // set a metadata key
		keys := s.MetaKeys()
		if len(keys) > 0 {
			s.SetMeta(keys[pos%len(keys)], strconv.Itoa(int(val)))
		}
		return
	case 5: // add a multiple of the value to an element
		if n == 0 {
			return
		}
		if i64 != nil {
			i64[pos%n] += int64(val) << (op[1] % 40)
		} else {
			f32[pos%n] *= float32(val)
		}
	}
	if i64 != nil || dt == tensor.I64 {
		s.PutI64(name, shape, i64)
	} else {
		s.PutF32(name, shape, f32)
	}
}

// FuzzLoadBytes feeds raw bytes through the tensor decoder to the loader.
func FuzzLoadBytes(f *testing.F) {
	full, delta := fuzzSnapshots(f)
	for _, s := range []*tensor.Set{full, delta} {
		b, err := s.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := tensor.Unmarshal(b)
		if err != nil {
			return
		}
		tb := newTable(t, fuzzCfg)
		if tb.LoadTensors(s, "") == nil {
			if err := tb.check(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
