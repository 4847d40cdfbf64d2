package tensor

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DType is a tensor element type, named as in safetensors.
type DType string

// The supported element types. Their names are part of the on-disk format.
const (
	F32 DType = "F32" // IEEE 754 binary32, little-endian
	F64 DType = "F64" // IEEE 754 binary64, little-endian
	I64 DType = "I64" // two's complement int64, little-endian
)

// Size returns the size of one element in bytes, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F32:
		return 4
	case F64, I64:
		return 8
	}
	return 0
}

// MaxRank is the largest number of dimensions a tensor may have.
const MaxRank = 32

// reservedPrefix starts the metadata keys that belong to the file format.
const reservedPrefix = "perpetua."

// entry is one tensor. Exactly one of the data slices is used, per dtype.
type entry struct {
	dtype DType
	shape []int
	f32   []float32
	f64   []float64
	i64   []int64
}

func (e *entry) len() int {
	switch e.dtype {
	case F32:
		return len(e.f32)
	case F64:
		return len(e.f64)
	}
	return len(e.i64)
}

// Set is a collection of named tensors and string metadata. The zero value
// is an empty set ready to use. Tensor names are non-empty valid UTF-8 and
// not "__metadata__".
type Set struct {
	tensors map[string]*entry
	meta    map[string]string
}

// numel returns the element count of shape, panicking on a negative
// dimension, too many dimensions or overflow. It is used by the Put
// methods, where a bad shape is a programmer error.
func numel(shape []int) int {
	if len(shape) > MaxRank {
		panic(fmt.Sprintf("tensor: shape %v has %d dimensions; at most %d allowed", shape, len(shape), MaxRank))
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: shape %v has a negative dimension", shape))
		}
		if d != 0 && n > int(^uint(0)>>1)/d {
			panic(fmt.Sprintf("tensor: shape %v overflows int", shape))
		}
		n *= d
	}
	return n
}

func (s *Set) put(name string, shape []int, n int, e *entry) {
	if name == "" || name == metadataKey || !utf8.ValidString(name) {
		panic(fmt.Sprintf("tensor: invalid tensor name %q", name))
	}
	if want := numel(shape); want != n {
		panic(fmt.Sprintf("tensor: Put(%q): shape %v holds %d elements; data has %d", name, shape, want, n))
	}
	e.shape = slices.Clone(shape)
	if e.shape == nil {
		e.shape = []int{}
	}
	if s.tensors == nil {
		s.tensors = make(map[string]*entry)
	}
	s.tensors[name] = e
}

// PutF32 stores a copy of data as the F32 tensor name with the given shape
// (nil or empty for a scalar), replacing any tensor of that name. It panics
// if the shape does not hold exactly len(data) elements or name is invalid.
func (s *Set) PutF32(name string, shape []int, data []float32) {
	s.put(name, shape, len(data), &entry{dtype: F32, f32: slices.Clone(data)})
}

// PutF64 stores a copy of data as the F64 tensor name; see PutF32.
func (s *Set) PutF64(name string, shape []int, data []float64) {
	s.put(name, shape, len(data), &entry{dtype: F64, f64: slices.Clone(data)})
}

// PutI64 stores a copy of data as the I64 tensor name; see PutF32.
func (s *Set) PutI64(name string, shape []int, data []int64) {
	s.put(name, shape, len(data), &entry{dtype: I64, i64: slices.Clone(data)})
}

// get returns the tensor name after checking its dtype and shape.
func (s *Set) get(name string, dtype DType, shape []int) (*entry, error) {
	e, ok := s.tensors[name]
	if !ok {
		return nil, &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("no tensor %q", name)}
	}
	if e.dtype != dtype {
		return nil, fmt.Errorf("tensor: %q has dtype %s; want %s", name, e.dtype, dtype)
	}
	if !slices.Equal(e.shape, shape) {
		return nil, fmt.Errorf("tensor: %q has shape %v; want %v", name, e.shape, shapeString(shape))
	}
	return e, nil
}

// shapeString formats a shape so that nil prints as [] like an empty one.
func shapeString(shape []int) string {
	if len(shape) == 0 {
		return "[]"
	}
	return fmt.Sprint(shape)
}

// F32 returns the data of the F32 tensor name, which must have exactly the
// given shape (none for a scalar). The error wraps ErrNotFound if there is
// no such tensor; it is also an error if the dtype or shape differ.
//
// The returned slice is the Set's own storage: read it, copy it, but do not
// modify it.
func (s *Set) F32(name string, shape ...int) ([]float32, error) {
	e, err := s.get(name, F32, shape)
	if err != nil {
		return nil, err
	}
	return e.f32, nil
}

// F64 returns the data of the F64 tensor name; see F32.
func (s *Set) F64(name string, shape ...int) ([]float64, error) {
	e, err := s.get(name, F64, shape)
	if err != nil {
		return nil, err
	}
	return e.f64, nil
}

// I64 returns the data of the I64 tensor name; see F32.
func (s *Set) I64(name string, shape ...int) ([]int64, error) {
	e, err := s.get(name, I64, shape)
	if err != nil {
		return nil, err
	}
	return e.i64, nil
}

// Lookup returns the dtype and a copy of the shape of tensor name, and
// false if there is no such tensor.
func (s *Set) Lookup(name string) (dtype DType, shape []int, ok bool) {
	e, ok := s.tensors[name]
	if !ok {
		return "", nil, false
	}
	return e.dtype, slices.Clone(e.shape), true
}

// Delete removes tensor name if present.
func (s *Set) Delete(name string) { delete(s.tensors, name) }

// Len returns the number of tensors.
func (s *Set) Len() int { return len(s.tensors) }

// Names returns the tensor names in sorted order.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.tensors))
	for n := range s.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SetMeta sets metadata key to value. Keys starting with "perpetua." are
// reserved for the file format; using one, or a key or value that is not
// valid UTF-8, panics.
func (s *Set) SetMeta(key, value string) {
	if strings.HasPrefix(key, reservedPrefix) {
		panic(fmt.Sprintf("tensor: SetMeta(%q): keys starting with %q are reserved", key, reservedPrefix))
	}
	if !utf8.ValidString(key) || !utf8.ValidString(value) {
		panic(fmt.Sprintf("tensor: SetMeta(%q): key and value must be valid UTF-8", key))
	}
	if s.meta == nil {
		s.meta = make(map[string]string)
	}
	s.meta[key] = value
}

// Meta returns the metadata value for key and whether it is set.
func (s *Set) Meta(key string) (string, bool) {
	v, ok := s.meta[key]
	return v, ok
}

// MetaKeys returns the metadata keys in sorted order.
func (s *Set) MetaKeys() []string {
	keys := make([]string, 0, len(s.meta))
	for k := range s.meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Equal reports whether s and t hold the same metadata and the same
// tensors (names, dtypes, shapes and bit-identical data).
func (s *Set) Equal(t *Set) bool {
	if len(s.tensors) != len(t.tensors) || len(s.meta) != len(t.meta) {
		return false
	}
	for k, v := range s.meta {
		if w, ok := t.meta[k]; !ok || w != v {
			return false
		}
	}
	for name, a := range s.tensors {
		b, ok := t.tensors[name]
		if !ok || a.dtype != b.dtype || !slices.Equal(a.shape, b.shape) {
			return false
		}
		switch a.dtype {
		case F32:
			if !slices.EqualFunc(a.f32, b.f32, func(x, y float32) bool { return f32bits(x) == f32bits(y) }) {
				return false
			}
		case F64:
			if !slices.EqualFunc(a.f64, b.f64, func(x, y float64) bool { return f64bits(x) == f64bits(y) }) {
				return false
			}
		case I64:
			if !slices.Equal(a.i64, b.i64) {
				return false
			}
		}
	}
	return true
}

// MetaVersion reads the format version a component stored under the
// metadata key: a positive decimal integer, refused when it is newer than
// supported. The error names the key and says whether to upgrade; callers
// prefix it with their package. A missing key is reported as such.
func (s *Set) MetaVersion(key string, supported int) (int, error) {
	v, ok := s.meta[key]
	if !ok {
		return 0, fmt.Errorf("metadata %q is missing", key)
	}
	ver, err := strconv.Atoi(v)
	switch {
	case err != nil || ver < 1:
		return 0, fmt.Errorf("format version %q is not a positive integer", v)
	case ver > supported:
		return 0, fmt.Errorf("format version %d is newer than this build supports (%d): upgrade Perpetua", ver, supported)
	}
	return ver, nil
}
