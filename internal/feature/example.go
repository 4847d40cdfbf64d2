package feature

import (
	"fmt"
	"math"
	"strings"
)

// Example is one encoded record, laid out for a zero-allocation hot path.
// Its slices are owned by the Example and reused by the next Encode or
// Transform into it: copy what you keep.
type Example struct {
	// Dense holds Schema.DenseDim() inputs: the standardised value of
	// each Numeric field in field order, then each field's missing
	// indicator (1 when the value was missing, else 0).
	Dense []float32
	// IDs holds every sparse ID back to back, slot by slot.
	IDs []uint64
	// Offsets has Schema.NumSparse()+1 entries: slot j's IDs are
	// IDs[Offsets[j]:Offsets[j+1]].
	Offsets []int
	// Wide[k] is the wide bucket of IDs[k], when the schema has
	// WideBits > 0; otherwise Wide is empty.
	Wide []uint32
}

// Sparse returns the IDs of sparse slot j.
func (e *Example) Sparse(j int) []uint64 { return e.IDs[e.Offsets[j]:e.Offsets[j+1]] }

// WideSlot returns the wide buckets of sparse slot j (empty when the
// schema has no wide features).
func (e *Example) WideSlot(j int) []uint32 {
	if len(e.Wide) == 0 {
		return nil
	}
	return e.Wide[e.Offsets[j]:e.Offsets[j+1]]
}

// NewExample returns an Example with room for a typical record of s, so
// that encoding into it allocates only for unusually long bags.
func (s *Schema) NewExample() *Example {
	n := len(s.sparse)
	for _, f := range s.fields {
		if f.Kind == Bag {
			n += min(f.MaxLen, 16) - 1
		}
	}
	e := &Example{
		Dense:   make([]float32, s.DenseDim()),
		IDs:     make([]uint64, 0, n),
		Offsets: make([]int, 0, len(s.sparse)+1),
	}
	if s.wideBits > 0 {
		e.Wide = make([]uint32, 0, n)
	}
	return e
}

// Encode encodes raw into dst, reusing dst's buffers, and updates the
// running stats and counters: it is the trainer's (learning) encoder.
//
// Numeric fields. A value is trimmed and parsed as a decimal number. It is
// missing when it is empty or one of "?", NA, N/A, NaN, null, None (any
// case); NaN, ±Inf and values beyond float32 range (after the transform)
// are treated as missing too; and text that is not a number is treated as
// missing (or, with SchemaConfig.Strict, is an error wrapping
// ErrNotNumber). Each cause is counted in Stats. A missing value never
// touches the running stats; it encodes as 0 with the missing indicator
// set to 1. A present value x becomes t = x, or sign(x)·log1p(|x|) with
// Log1p; t is added to the field's running mean and variance (Welford),
// and then encodes as z = (t − mean)/std with the updated stats, clipped
// to [−Clip, Clip] (the order of River's StandardScaler: learn, then
// transform), with the missing indicator 0. While std is 0 (fewer than
// two distinct values seen) z is 0.
//
// Categorical, bag and cross fields: see the comment at the top of
// schema.go. raw must have exactly NumFields() values (else the error
// wraps ErrFieldCount). On error dst is in an unspecified state and the
// stats may include the record's earlier numeric fields.
//
// Encode makes no allocation once dst's buffers have grown to fit.
func (s *Schema) Encode(dst *Example, raw Row) error { return s.encode(dst, raw, true) }

// Transform is Encode with frozen stats: it standardises with the current
// running stats and updates neither them nor the counters. Use it to
// serve, on a Clone that no goroutine mutates.
func (s *Schema) Transform(dst *Example, raw Row) error { return s.encode(dst, raw, false) }

func (s *Schema) encode(dst *Example, raw Row, learn bool) error {
	if n := raw.NumFields(); n != len(s.fields) {
		return s.countError(n)
	}
	nn := len(s.numeric)
	if cap(dst.Dense) < 2*nn {
		dst.Dense = make([]float32, 2*nn)
	}
	dst.Dense = dst.Dense[:2*nn]
	dst.IDs = dst.IDs[:0]
	dst.Offsets = append(dst.Offsets[:0], 0)
	nr, numbers := raw.(NumberRow)
	for i := range s.fields {
		f := &s.fields[i]
		switch f.Kind {
		case Numeric:
			if numbers {
				x, ok := nr.Number(i)
				st := numOK
				if !ok {
					st = numMissing
				} else if math.IsNaN(x) || math.IsInf(x, 0) {
					st = numNonFinite
				}
				s.numericValue(dst, f, i, x, st, learn)
				continue
			}
			if err := s.numericField(dst, f, i, raw.Field(i), learn); err != nil {
				return err
			}
		case Categorical:
			v := strings.TrimSpace(raw.Field(i))
			id := f.missing
			if v != "" {
				id = hashString(f.key, v)
			}
			dst.IDs = append(dst.IDs, id)
			dst.Offsets = append(dst.Offsets, len(dst.IDs))
		case Bag:
			s.bagField(dst, f, i, raw.Field(i), learn)
			dst.Offsets = append(dst.Offsets, len(dst.IDs))
		}
	}
	for c := range s.crosses {
		ci := &s.crosses[c]
		h := ci.key
		for _, i := range ci.fields {
			h = combine(h, dst.IDs[dst.Offsets[s.fields[i].slot]])
		}
		dst.IDs = append(dst.IDs, mix64(h^uint64(len(ci.fields))))
		dst.Offsets = append(dst.Offsets, len(dst.IDs))
	}
	dst.Wide = dst.Wide[:0]
	if s.wideBits > 0 {
		for _, id := range dst.IDs {
			dst.Wide = append(dst.Wide, wideBucket(id, s.wideBits))
		}
	}
	return nil
}

func (s *Schema) numericField(dst *Example, f *fieldInfo, i int, raw string, learn bool) error {
	x, st := parseNumber(strings.TrimSpace(raw))
	if st == numInvalid && s.cfg.Strict {
		return &FieldError{Index: i, Name: f.Name, Value: strings.Clone(raw), Err: ErrNotNumber}
	}
	s.numericValue(dst, f, i, x, st, learn)
	return nil
}

// numericValue encodes numeric field i's parsed value x (state st).
func (s *Schema) numericValue(dst *Example, f *fieldInfo, i int, x float64, st numState, learn bool) {
	if st == numOK && f.Log1p {
		x = symlog(x)
	}
	if st == numOK && !(math.Abs(x) <= math.MaxFloat32) {
		st = numNonFinite
	}
	k, nn := f.slot, len(s.numeric)
	if st != numOK {
		if learn {
			c := &s.cnt[i]
			switch st {
			case numMissing:
				c.missing++
			case numInvalid:
				c.invalid++
			case numNonFinite:
				c.nonFinite++
			}
		}
		dst.Dense[k], dst.Dense[nn+k] = 0, 1
		return
	}
	w := &s.stats[k]
	if learn {
		w.add(x)
	}
	dst.Dense[k], dst.Dense[nn+k] = float32(w.z(x, s.clip)), 0
}

// bagField appends the IDs of bag field i.
func (s *Schema) bagField(dst *Example, f *fieldInfo, i int, v string, learn bool) {
	start, kept := len(dst.IDs), 0
	for v != "" {
		elem := v
		if j := strings.Index(v, f.Sep); j >= 0 {
			elem, v = v[:j], v[j+len(f.Sep):]
		} else {
			v = ""
		}
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue
		}
		if kept == f.MaxLen {
			if learn {
				c := &s.cnt[i]
				c.truncated++
				c.dropped += 1 + int64(s.countElems(v, f.Sep))
			}
			break
		}
		dst.IDs = append(dst.IDs, hashString(f.key, elem))
		kept++
	}
	if len(dst.IDs) == start {
		dst.IDs = append(dst.IDs, f.missing)
	}
}

// countElems counts the non-empty elements of v.
func (s *Schema) countElems(v, sep string) int {
	n := 0
	for v != "" {
		elem := v
		if j := strings.Index(v, sep); j >= 0 {
			elem, v = v[:j], v[j+len(sep):]
		} else {
			v = ""
		}
		if strings.TrimSpace(elem) != "" {
			n++
		}
	}
	return n
}

func (s *Schema) countError(n int) error {
	return &FieldError{Index: -1, Err: fmt.Errorf("%w: the record has %d, the schema %d", ErrFieldCount, n, len(s.fields))}
}
