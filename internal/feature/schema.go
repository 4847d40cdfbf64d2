package feature

// Schema (this file, hash.go, normalize.go, example.go, state.go) turns
// raw records of string values into the inputs of the wide & deep models:
//
//   - A Categorical field gives exactly one 64-bit ID: Hash(seed, field,
//     value) of its trimmed value. A missing (empty) value gives the
//     field's own missing ID, Hash(seed, field, ""), so the model learns
//     what "absent" means per field.
//   - A Bag field (a multi-valued categorical such as "red|large|sale")
//     gives one ID per non-empty element, in input order, duplicates kept
//     (the model pools them). Elements are split on the field's separator
//     and trimmed; empty elements are skipped. A bag with no element gives
//     the field's missing ID alone, so every sparse slot holds at least
//     one ID and mean pooling never divides by zero. At most MaxLen
//     elements are kept: a longer bag is truncated to its first MaxLen
//     elements and counted (Stats.Truncated, Stats.Dropped); it is never
//     an error, so one absurd record cannot stop a stream.
//   - A Cross of two or more Categorical fields gives one ID derived from
//     the component IDs in the order listed (missing components take part
//     through their missing IDs), seeded per cross.
//   - A Numeric field gives two dense inputs: its standardised value and a
//     missing indicator (see Encode for the exact rule).
//
// Wide features. With WideBits = k > 0 every sparse ID (categorical, bag
// element and cross) is also hashed into a bucket in [0, 2^k) for the
// wide (FTRL-logistic) part: Example.Wide[j] is the bucket of
// Example.IDs[j]. Bucket collisions are expected and deterministic; the
// 64-bit IDs themselves collide with negligible probability (about
// n²/2^65 for n distinct values).
//
// Invariants: an Example encoded by a Schema has len(Dense) ==
// DenseDim(), len(Offsets) == NumSparse()+1, Offsets non-decreasing from
// 0 to len(IDs), exactly one ID per categorical and cross slot, 1 to
// MaxLen IDs per bag slot, Dense values finite with |value| ≤ Clip and
// indicators 0 or 1, and len(Wide) == len(IDs) (0 when WideBits is 0).
// IDs depend only on the seed, the field index and the value, never on
// the order of the stream; the dense values depend on the running stats.
//
// Concurrency: Encode, LoadTensors and ResetStats mutate the Schema and
// must be called by one goroutine (the trainer). Transform, SaveTensors
// and the accessors only read it; they may run concurrently with each
// other but not with a mutation, so serving encodes with a Clone.

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Kind is the type of a schema field.
type Kind uint8

// The field kinds.
const (
	Numeric     Kind = iota + 1 // a number, standardised online
	Categorical                 // one hashed ID
	Bag                         // several hashed IDs, split on a separator
)

func (k Kind) String() string {
	switch k {
	case Numeric:
		return "numeric"
	case Categorical:
		return "categorical"
	case Bag:
		return "bag"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Defaults and limits of SchemaConfig.
const (
	DefaultBagSep  = "|"
	DefaultMaxBag  = 64
	MaxBagLimit    = 1 << 16 // largest Field.MaxLen accepted
	DefaultClip    = 10.0
	MaxWideBits    = 32
	MaxCrossFields = 8
)

// Field describes one field of a raw record.
type Field struct {
	// Name is the field's unique, non-empty name.
	Name string
	// Kind is Numeric, Categorical or Bag.
	Kind Kind
	// Log1p (Numeric only) transforms a value x into sign(x)·log1p(|x|)
	// before it is standardised: use it for counts and other heavy-tailed
	// non-negative values.
	Log1p bool
	// Sep (Bag only) separates elements; "" means DefaultBagSep.
	Sep string
	// MaxLen (Bag only) is the largest number of elements kept; 0 means
	// DefaultMaxBag.
	MaxLen int
}

// SchemaConfig configures NewSchema. Fields is required; the zero value of
// every other field means its default.
type SchemaConfig struct {
	// Fields lists the fields of a raw record, in record order.
	Fields []Field
	// Crosses lists feature crosses, each naming two to MaxCrossFields
	// distinct Categorical fields.
	Crosses [][]string
	// Seed seeds every hash: two schemas with different seeds give
	// unrelated IDs.
	Seed uint64
	// WideBits is k for the 2^k wide buckets; 0 disables the wide
	// features. At most MaxWideBits.
	WideBits int
	// Clip bounds standardised values to [-Clip, Clip]; 0 means
	// DefaultClip. Use math.Inf(1) for no clipping (values are still
	// kept within float32 range).
	Clip float64
	// Strict makes text in a Numeric field an error from Encode and
	// Transform instead of a counted missing value.
	Strict bool
}

// ErrFieldCount is returned (wrapped in a *FieldError with Index -1) when
// a record does not have one value per schema field.
var ErrFieldCount = errors.New("wrong number of fields")

// ErrNotNumber is returned (wrapped in a *FieldError) by Encode and
// Transform of a Strict schema for text in a Numeric field.
var ErrNotNumber = errors.New("not a number")

// FieldError is an error about one field of a record.
type FieldError struct {
	Index int    // field index, or -1 when the error concerns the record
	Name  string // field name; empty when Index is -1
	Value string // the offending value (a copy), if any
	Err   error
}

func (e *FieldError) Error() string {
	if e.Index < 0 {
		return "feature: " + e.Err.Error()
	}
	return fmt.Sprintf("feature: field %d (%s): %q: %v", e.Index, e.Name, e.Value, e.Err)
}

// Unwrap returns the underlying error (ErrFieldCount or ErrNotNumber).
func (e *FieldError) Unwrap() error { return e.Err }

// Row is one raw record: a value per schema field, by index. Encode and
// Transform read each value once and do not retain it, so an
// implementation may return strings that alias a buffer it reuses.
type Row interface {
	NumFields() int
	Field(i int) string
}

// NumberRow is a Row that can also hand over numeric fields as numbers,
// sparing the text round trip: when the Row passed to Encode or Transform
// implements it, Numeric fields are read with Number instead of Field.
// ok = false means the value is missing; NaN and ±Inf are treated exactly
// as their text forms are (missing, counted as non-finite).
type NumberRow interface {
	Row
	Number(i int) (v float64, ok bool)
}

// Strings is a Row backed by a slice of values.
type Strings []string

// NumFields returns len(r).
func (r Strings) NumFields() int { return len(r) }

// Field returns r[i].
func (r Strings) Field(i int) string { return r[i] }

// fieldInfo is a compiled Field.
type fieldInfo struct {
	Field
	key     uint64 // hash seed of the field
	missing uint64 // ID of a missing categorical / empty bag
	slot    int    // sparse slot (Categorical, Bag) or numeric index (Numeric)
}

// crossInfo is a compiled cross.
type crossInfo struct {
	name   string // "a×b"
	fields []int  // component field indexes
	key    uint64
}

// counters are a field's data-quality counts since the last reset.
type counters struct {
	missing, invalid, nonFinite int64 // Numeric
	truncated, dropped          int64 // Bag
}

// Schema encodes raw records into Examples. See the package-level
// comment in schema.go for the encoding; create one with NewSchema.
type Schema struct {
	cfg      SchemaConfig
	fields   []fieldInfo
	crosses  []crossInfo
	index    map[string]int
	numeric  []int // field indexes of Numeric fields, in order
	sparse   []string
	clip     float64
	wideBits uint
	desc     string // canonical description, checked by LoadTensors

	sparseKind []Kind // per sparse slot

	stats []welford  // per Numeric field, by numeric index; guarded by the single-writer rule
	cnt   []counters // per field; likewise
}

// NewSchema validates cfg and returns a Schema with empty running stats.
func NewSchema(cfg SchemaConfig) (*Schema, error) {
	if len(cfg.Fields) == 0 {
		return nil, errors.New("feature: schema has no fields")
	}
	if cfg.WideBits < 0 || cfg.WideBits > MaxWideBits {
		return nil, fmt.Errorf("feature: WideBits = %d; want 0 to %d", cfg.WideBits, MaxWideBits)
	}
	clip := cfg.Clip
	switch {
	case clip == 0:
		clip = DefaultClip
	case math.IsNaN(clip) || clip < 0:
		return nil, fmt.Errorf("feature: Clip = %v; want > 0", cfg.Clip)
	}
	clip = min(clip, math.MaxFloat32) // encoded values must fit a float32
	s := &Schema{
		cfg:      cfg,
		index:    make(map[string]int, len(cfg.Fields)),
		clip:     clip,
		wideBits: uint(cfg.WideBits),
	}
	s.cfg.Fields = append([]Field(nil), cfg.Fields...)
	for i, f := range cfg.Fields {
		if f.Name == "" {
			return nil, fmt.Errorf("feature: field %d has no name", i)
		}
		if j, dup := s.index[f.Name]; dup {
			return nil, fmt.Errorf("feature: field name %q used twice (fields %d and %d)", f.Name, j, i)
		}
		s.index[f.Name] = i
		fi := fieldInfo{Field: f, key: fieldKey(cfg.Seed, i)}
		switch f.Kind {
		case Numeric:
			if f.Sep != "" || f.MaxLen != 0 {
				return nil, fmt.Errorf("feature: field %q: Sep and MaxLen apply to bags only", f.Name)
			}
			fi.slot = len(s.numeric)
			s.numeric = append(s.numeric, i)
		case Categorical, Bag:
			if f.Log1p {
				return nil, fmt.Errorf("feature: field %q: Log1p applies to numeric fields only", f.Name)
			}
			if f.Kind == Categorical && (f.Sep != "" || f.MaxLen != 0) {
				return nil, fmt.Errorf("feature: field %q: Sep and MaxLen apply to bags only", f.Name)
			}
			if f.Kind == Bag {
				if fi.Sep == "" {
					fi.Sep = DefaultBagSep
				}
				switch {
				case fi.MaxLen == 0:
					fi.MaxLen = DefaultMaxBag
				case fi.MaxLen < 0 || fi.MaxLen > MaxBagLimit:
					return nil, fmt.Errorf("feature: field %q: MaxLen = %d; want 1 to %d", f.Name, f.MaxLen, MaxBagLimit)
				}
			}
			fi.missing = hashString(fi.key, "")
			fi.slot = len(s.sparse)
			s.sparse = append(s.sparse, f.Name)
			s.sparseKind = append(s.sparseKind, f.Kind)
		default:
			return nil, fmt.Errorf("feature: field %q: unknown kind %v", f.Name, f.Kind)
		}
		s.fields = append(s.fields, fi)
	}
	s.cfg.Crosses = make([][]string, len(cfg.Crosses))
	for c, names := range cfg.Crosses {
		s.cfg.Crosses[c] = append([]string(nil), names...)
		if len(names) < 2 || len(names) > MaxCrossFields {
			return nil, fmt.Errorf("feature: cross %d has %d fields; want 2 to %d", c, len(names), MaxCrossFields)
		}
		ci := crossInfo{name: strings.Join(names, "×"), key: crossKey(cfg.Seed, c)}
		for _, name := range names {
			i, ok := s.index[name]
			if !ok {
				return nil, fmt.Errorf("feature: cross %d: unknown field %q", c, name)
			}
			if k := s.fields[i].Kind; k != Categorical {
				return nil, fmt.Errorf("feature: cross %d: field %q is %v; crosses take categorical fields", c, name, k)
			}
			for _, j := range ci.fields {
				if j == i {
					return nil, fmt.Errorf("feature: cross %d: field %q listed twice", c, name)
				}
			}
			ci.fields = append(ci.fields, i)
		}
		s.crosses = append(s.crosses, ci)
		s.sparse = append(s.sparse, ci.name)
		s.sparseKind = append(s.sparseKind, Categorical)
	}
	s.stats = make([]welford, len(s.numeric))
	s.cnt = make([]counters, len(s.fields))
	s.desc = s.describe()
	return s, nil
}

// describe returns the canonical text of everything that determines the
// encoding, e.g. "v1 seed=7 wide=0 clip=10 strict=false; I1:numeric:log1p,
// C1:categorical, tags:bag:|:64; C1×C2". LoadTensors refuses stats saved
// by a schema with another description.
func (s *Schema) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v1 seed=%d wide=%d clip=%g strict=%t;", s.cfg.Seed, s.wideBits, s.clip, s.cfg.Strict)
	for i, f := range s.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s:%v", f.Name, f.Kind)
		switch {
		case f.Kind == Numeric && f.Log1p:
			b.WriteString(":log1p")
		case f.Kind == Bag:
			fmt.Fprintf(&b, ":%q:%d", f.Sep, f.MaxLen)
		}
	}
	b.WriteByte(';')
	for c, ci := range s.crosses {
		if c > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + ci.name)
	}
	return b.String()
}

// String returns the schema's canonical description.
func (s *Schema) String() string { return s.desc }

// Config returns a copy of the configuration the schema was built from.
func (s *Schema) Config() SchemaConfig {
	c := s.cfg
	c.Fields = append([]Field(nil), s.cfg.Fields...)
	c.Crosses = make([][]string, len(s.cfg.Crosses))
	for i, x := range s.cfg.Crosses {
		c.Crosses[i] = append([]string(nil), x...)
	}
	return c
}

// NumFields returns the number of fields of a raw record.
func (s *Schema) NumFields() int { return len(s.fields) }

// Field returns field i with its defaults applied.
func (s *Schema) Field(i int) Field { return s.fields[i].Field }

// Index returns the index of the field called name.
func (s *Schema) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// NumNumeric returns the number of Numeric fields.
func (s *Schema) NumNumeric() int { return len(s.numeric) }

// DenseDim returns len(Example.Dense): 2·NumNumeric().
func (s *Schema) DenseDim() int { return 2 * len(s.numeric) }

// DenseNames names each dense input: the numeric fields in order, then
// "<name>#missing" for each.
func (s *Schema) DenseNames() []string {
	names := make([]string, 0, s.DenseDim())
	for _, i := range s.numeric {
		names = append(names, s.fields[i].Name)
	}
	for _, i := range s.numeric {
		names = append(names, s.fields[i].Name+"#missing")
	}
	return names
}

// NumSparse returns the number of sparse slots: the Categorical and Bag
// fields in field order, then the crosses.
func (s *Schema) NumSparse() int { return len(s.sparse) }

// SparseNames names each sparse slot: the field name, or the component
// names joined by "×" for a cross.
func (s *Schema) SparseNames() []string { return append([]string(nil), s.sparse...) }

// SparseKind returns the kind of sparse slot j: Categorical (also for a
// cross) or Bag.
func (s *Schema) SparseKind(j int) Kind { return s.sparseKind[j] }

// WideBits returns k: wide buckets are in [0, 2^k); 0 when disabled.
func (s *Schema) WideBits() int { return int(s.wideBits) }

// MissingID returns the ID a missing value of Categorical or Bag field i
// gets. It panics for a Numeric field.
func (s *Schema) MissingID(i int) uint64 {
	if s.fields[i].Kind == Numeric {
		panic(fmt.Sprintf("feature: MissingID(%d): field %q is numeric", i, s.fields[i].Name))
	}
	return s.fields[i].missing
}

// FieldStats is the running state of one field.
type FieldStats struct {
	// Numeric: values included in the running stats, their mean and
	// population standard deviation (after the Log1p transform).
	Count     int64
	Mean, Std float64
	// Numeric: values treated as missing, by cause — empty or a missing
	// token; text that is not a number; NaN, ±Inf or beyond float32 range.
	Missing, Invalid, NonFinite int64
	// Bag: bags longer than MaxLen, and the elements dropped from them.
	Truncated, Dropped int64
}

// Stats returns field i's running state.
func (s *Schema) Stats(i int) FieldStats {
	f := &s.fields[i]
	c := s.cnt[i]
	st := FieldStats{
		Missing: c.missing, Invalid: c.invalid, NonFinite: c.nonFinite,
		Truncated: c.truncated, Dropped: c.dropped,
	}
	if f.Kind == Numeric {
		w := s.stats[f.slot]
		st.Count, st.Mean, st.Std = w.n, w.mean, w.std()
	}
	return st
}

// ResetStats forgets the running stats and counters.
func (s *Schema) ResetStats() {
	clear(s.stats)
	clear(s.cnt)
}

// Clone returns an independent copy, running stats included: publish a
// clone to serving and keep encoding with the original.
func (s *Schema) Clone() *Schema {
	c := *s
	c.stats = append([]welford(nil), s.stats...)
	c.cnt = append([]counters(nil), s.cnt...)
	return &c
}
