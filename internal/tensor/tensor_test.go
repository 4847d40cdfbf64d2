package tensor

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestPutGet(t *testing.T) {
	var s Set // the zero value is ready to use
	s.PutF32("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	s.PutF64("b", []int{3}, []float64{-1, 0.5, math.Inf(1)})
	s.PutI64("step", nil, []int64{42})
	s.PutF32("empty", []int{0, 4}, nil)

	w, err := s.F32("w", 2, 3)
	if err != nil || !slices.Equal(w, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("F32(%q, 2, 3) = %v, %v; want [1 2 3 4 5 6], nil", "w", w, err)
	}
	b, err := s.F64("b", 3)
	if err != nil || !slices.Equal(b, []float64{-1, 0.5, math.Inf(1)}) {
		t.Errorf("F64(%q, 3) = %v, %v; want [-1 0.5 +Inf], nil", "b", b, err)
	}
	step, err := s.I64("step")
	if err != nil || !slices.Equal(step, []int64{42}) {
		t.Errorf("I64(%q) = %v, %v; want [42], nil", "step", step, err)
	}
	e, err := s.F32("empty", 0, 4)
	if err != nil || len(e) != 0 {
		t.Errorf("F32(%q, 0, 4) = %v, %v; want [], nil", "empty", e, err)
	}
	if got, want := s.Names(), []string{"b", "empty", "step", "w"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v; want %v", got, want)
	}
	if dt, shape, ok := s.Lookup("w"); !ok || dt != F32 || !slices.Equal(shape, []int{2, 3}) {
		t.Errorf("Lookup(%q) = %v, %v, %v; want F32, [2 3], true", "w", dt, shape, ok)
	}
	if _, _, ok := s.Lookup("nope"); ok {
		t.Errorf("Lookup(%q) ok = true; want false", "nope")
	}

	errCases := []struct {
		name  string
		get   func() error
		want  string
		isErr error
	}{
		{"missing", func() error { _, err := s.F32("nope", 1); return err }, `no tensor "nope"`, ErrNotFound},
		{"dtype", func() error { _, err := s.F64("w", 2, 3); return err }, "has dtype F32; want F64", nil},
		{"shape", func() error { _, err := s.F32("w", 3, 2); return err }, "has shape [2 3]; want [3 2]", nil},
		{"rank", func() error { _, err := s.F32("w", 6); return err }, "has shape [2 3]; want [6]", nil},
		{"scalar", func() error { _, err := s.I64("step", 1); return err }, "has shape []; want [1]", nil},
		{"i64 as f32", func() error { _, err := s.F32("step"); return err }, "has dtype I64; want F32", nil},
	}
	for _, c := range errCases {
		err := c.get()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "tensor: ") {
			t.Errorf("%s: error = %v; want one containing %q", c.name, err, c.want)
		}
		if c.isErr != nil && !errors.Is(err, c.isErr) {
			t.Errorf("%s: errors.Is(%v, %v) = false", c.name, err, c.isErr)
		}
	}

	s.Delete("w")
	if _, err := s.F32("w", 2, 3); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete, F32(%q) error = %v; want ErrNotFound", "w", err)
	}
	if s.Len() != 3 {
		t.Errorf("Len() = %d; want 3", s.Len())
	}
}

func TestPutCopiesAndReplaces(t *testing.T) {
	var s Set
	src := []float32{1, 2}
	shape := []int{2}
	s.PutF32("x", shape, src)
	src[0], shape[0] = 99, 7
	if got, err := s.F32("x", 2); err != nil || got[0] != 1 {
		t.Errorf("F32(%q) after mutating the source = %v, %v; want [1 2]", "x", got, err)
	}
	s.PutI64("x", []int{1}, []int64{5}) // replaces, even with another dtype
	if got, err := s.I64("x", 1); err != nil || got[0] != 5 {
		t.Errorf("I64(%q) after replacing = %v, %v; want [5]", "x", got, err)
	}
}

func TestPutPanics(t *testing.T) {
	cases := []struct {
		name string
		f    func(s *Set)
	}{
		{"too few elements", func(s *Set) { s.PutF32("x", []int{2, 2}, []float32{1, 2, 3}) }},
		{"too many elements", func(s *Set) { s.PutF64("x", []int{1}, []float64{1, 2}) }},
		{"scalar with two", func(s *Set) { s.PutI64("x", nil, []int64{1, 2}) }},
		{"negative dim", func(s *Set) { s.PutF32("x", []int{-1, -2}, []float32{1, 2}) }},
		{"overflow", func(s *Set) { s.PutF32("x", []int{1 << 40, 1 << 40}, nil) }},
		{"too many dims", func(s *Set) { s.PutF32("x", make([]int, MaxRank+1), nil) }},
		{"empty name", func(s *Set) { s.PutF32("", []int{1}, []float32{1}) }},
		{"metadata name", func(s *Set) { s.PutF32("__metadata__", []int{1}, []float32{1}) }},
		{"invalid utf8 name", func(s *Set) { s.PutF32("a\xffb", []int{1}, []float32{1}) }},
		{"reserved meta", func(s *Set) { s.SetMeta("perpetua.magic", "x") }},
		{"invalid utf8 meta", func(s *Set) { s.SetMeta("k", "\xff") }},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", c.name)
				}
			}()
			c.f(new(Set))
		}()
	}
}

func TestMeta(t *testing.T) {
	var s Set
	if _, ok := s.Meta("k"); ok {
		t.Errorf("Meta(%q) on empty set ok = true", "k")
	}
	s.SetMeta("model", "mlp")
	s.SetMeta("a", "1")
	if v, ok := s.Meta("model"); !ok || v != "mlp" {
		t.Errorf("Meta(%q) = %q, %v; want %q, true", "model", v, ok, "mlp")
	}
	if got, want := s.MetaKeys(), []string{"a", "model"}; !slices.Equal(got, want) {
		t.Errorf("MetaKeys() = %v; want %v", got, want)
	}
}

func TestEqual(t *testing.T) {
	mk := func() *Set {
		s := new(Set)
		s.PutF32("a", []int{2}, []float32{1, float32(math.NaN())})
		s.PutF64("b", []int{1}, []float64{0})
		s.SetMeta("k", "v")
		return s
	}
	if !mk().Equal(mk()) {
		t.Errorf("Equal of identical sets (with NaN) = false")
	}
	mods := map[string]func(s *Set){
		"value":      func(s *Set) { s.PutF64("b", []int{1}, []float64{1}) },
		"negzero":    func(s *Set) { s.PutF64("b", []int{1}, []float64{math.Copysign(0, -1)}) },
		"shape":      func(s *Set) { s.PutF64("b", []int{1, 1}, []float64{0}) },
		"dtype":      func(s *Set) { s.PutF32("b", []int{1}, []float32{0}) },
		"extra":      func(s *Set) { s.PutI64("c", nil, []int64{0}) },
		"missing":    func(s *Set) { s.Delete("a") },
		"meta value": func(s *Set) { s.SetMeta("k", "w") },
		"meta key":   func(s *Set) { s.SetMeta("k2", "v") },
	}
	for name, mod := range mods {
		s := mk()
		mod(s)
		if mk().Equal(s) || s.Equal(mk()) {
			t.Errorf("Equal after %s change = true; want false", name)
		}
	}
}

func TestMetaVersion(t *testing.T) {
	tests := []struct {
		value string // "" means absent
		want  int
		err   string
	}{
		{"1", 1, ""},
		{"2", 2, ""},
		{"3", 0, "newer than this build supports (2)"},
		{"0", 0, "not a positive integer"},
		{"x", 0, "not a positive integer"},
		{"", 0, "missing"},
	}
	for _, tt := range tests {
		var s Set
		if tt.value != "" {
			s.SetMeta("c.version", tt.value)
		}
		got, err := s.MetaVersion("c.version", 2)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("MetaVersion(%q) = %d, %v; want %d and an error containing %q", tt.value, got, err, tt.want, tt.err)
		}
	}
}
