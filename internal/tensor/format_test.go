package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata/")

// goldenSet is the content of testdata/golden.safetensors.
func goldenSet() *Set {
	s := new(Set)
	s.PutF32("layer0.weight", []int{2, 3}, []float32{0.5, -1.25, 3, 0, -0, 1e-3})
	s.PutF32("layer0.bias", []int{2}, []float32{0.1, -0.2})
	s.PutF64("adam.m", []int{3}, []float64{1.5, -2.5e-10, math.Pi})
	s.PutI64("step", nil, []int64{1234567890123})
	s.PutF32("empty", []int{0}, nil)
	s.SetMeta("model", "mlp")
	s.SetMeta("note", "ünïcode & <html>")
	return s
}

func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "golden.safetensors")
	got, err := goldenSet().MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary() error = %v", err)
	}
	if *rewrite {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MarshalBinary() of the golden set differs from %s:\ngot  %q\nwant %q\n(if the change is intended, bump FormatVersion or run with -rewrite)", path, got, want)
	}
	s, err := Unmarshal(want)
	if err != nil {
		t.Fatalf("Unmarshal(%s) error = %v", path, err)
	}
	if !s.Equal(goldenSet()) {
		t.Errorf("Unmarshal(%s) is not the golden set", path)
	}
}

// TestSafetensorsLayout checks the bytes against the safetensors layout
// with a plain JSON parser, independently of this package's reader.
func TestSafetensorsLayout(t *testing.T) {
	data, err := goldenSet().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data)
	if (8+n)%8 != 0 {
		t.Errorf("8 + header length %d is not a multiple of 8", n)
	}
	hdr := data[8 : 8+n]
	if hdr[0] != '{' || bytes.TrimRight(hdr, " ")[len(bytes.TrimRight(hdr, " "))-1] != '}' {
		t.Errorf("header %q is not a space-padded JSON object", hdr)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatalf("header is not JSON: %v", err)
	}
	var meta map[string]string
	if err := json.Unmarshal(h["__metadata__"], &meta); err != nil {
		t.Fatalf("__metadata__ is not a string map: %v", err)
	}
	if meta["perpetua.magic"] != Magic || meta["perpetua.version"] != "1" {
		t.Errorf("metadata = %v; want magic %q and version 1", meta, Magic)
	}
	body := data[8+n:]
	if got, want := meta["perpetua.data_crc32c"], fmt.Sprintf("%08x", crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))); got != want {
		t.Errorf("data CRC = %s; want %s", got, want)
	}
	var w struct {
		DType   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets []int  `json:"data_offsets"`
	}
	if err := json.Unmarshal(h["layer0.weight"], &w); err != nil {
		t.Fatal(err)
	}
	if w.DType != "F32" || fmt.Sprint(w.Shape) != "[2 3]" || w.Offsets[1]-w.Offsets[0] != 24 {
		t.Errorf("layer0.weight entry = %+v; want F32 [2 3] spanning 24 bytes", w)
	}
	if w.Offsets[0]%4 != 0 {
		t.Errorf("layer0.weight begins at %d; want 4-byte alignment", w.Offsets[0])
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(body[w.Offsets[0]+4:])); got != -1.25 {
		t.Errorf("layer0.weight[0,1] = %v; want -1.25", got)
	}
	var m struct {
		Offsets []int `json:"data_offsets"`
	}
	if err := json.Unmarshal(h["adam.m"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Offsets[0]%8 != 0 {
		t.Errorf("adam.m begins at %d; want 8-byte alignment", m.Offsets[0])
	}
}

// randomSet returns a Set with random tensors, including special values,
// scalars and empty tensors.
func randomSet(r *rand.Rand) *Set {
	s := new(Set)
	special := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.SmallestNonzeroFloat64, math.MaxFloat64}
	for i := range r.IntN(8) {
		rank := r.IntN(4)
		shape := make([]int, rank)
		n := 1
		for j := range shape {
			shape[j] = r.IntN(4)
			n *= shape[j]
		}
		name := fmt.Sprintf("t%d.%c", i, 'a'+r.IntN(26))
		switch r.IntN(3) {
		case 0:
			d := make([]float32, n)
			for j := range d {
				d[j] = float32(r.NormFloat64())
				if r.IntN(5) == 0 {
					d[j] = float32(special[r.IntN(len(special))])
				}
			}
			s.PutF32(name, shape, d)
		case 1:
			d := make([]float64, n)
			for j := range d {
				d[j] = r.NormFloat64()
				if r.IntN(5) == 0 {
					d[j] = special[r.IntN(len(special))]
				}
			}
			s.PutF64(name, shape, d)
		case 2:
			d := make([]int64, n)
			for j := range d {
				d[j] = int64(r.Uint64())
			}
			s.PutI64(name, shape, d)
		}
	}
	for i := range r.IntN(3) {
		s.SetMeta(fmt.Sprintf("k%d", i), strings.Repeat("\"<é\\", r.IntN(3)))
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := range 200 {
		s := randomSet(r)
		data, err := s.MarshalBinary()
		if err != nil {
			t.Fatalf("set %d: MarshalBinary() error = %v", i, err)
		}
		got, err := Unmarshal(data)
		if err != nil {
			t.Fatalf("set %d: Unmarshal(MarshalBinary()) error = %v", i, err)
		}
		if !got.Equal(s) {
			t.Fatalf("set %d: Unmarshal(MarshalBinary()) differs from the original %v", i, s.Names())
		}
		again, err := got.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("set %d: MarshalBinary is not stable across a round trip (err %v)", i, err)
		}
	}
}

func TestMarshalDeterministic(t *testing.T) {
	a, b := new(Set), new(Set)
	a.PutF32("x", []int{1}, []float32{1})
	a.PutF64("y", []int{1}, []float64{2})
	a.SetMeta("p", "1")
	a.SetMeta("q", "2")
	b.SetMeta("q", "2")
	b.PutF64("y", []int{1}, []float64{2})
	b.SetMeta("p", "1")
	b.PutF32("x", []int{1}, []float32{1})
	da, _ := a.MarshalBinary()
	db, _ := b.MarshalBinary()
	if !bytes.Equal(da, db) {
		t.Errorf("MarshalBinary depends on insertion order:\n%q\n%q", da, db)
	}
	var empty Set
	d, err := empty.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary() of an empty set error = %v", err)
	}
	if s, err := Unmarshal(d); err != nil || s.Len() != 0 {
		t.Errorf("Unmarshal(empty) = %v, %v; want an empty set", s, err)
	}
}

// TestCorruptionDetected flips every bit of a small file, and truncates it
// at every length: each result must fail to decode, or (if the flip did not
// change the content, e.g. the case of a \u escape) decode to the original.
func TestCorruptionDetected(t *testing.T) {
	orig := goldenSet()
	data, err := orig.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(data))
	for i := range data {
		for bit := range 8 {
			copy(buf, data)
			buf[i] ^= 1 << bit
			s, err := Unmarshal(buf)
			if err == nil && !s.Equal(orig) {
				t.Fatalf("flipping bit %d of byte %d (%q) went undetected and changed the content", bit, i, data[i])
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Kind == ErrNotFound {
					// ErrVersion is possible: a flipped version digit
					// reads as a newer version, which is checked first.
					t.Fatalf("flipping bit %d of byte %d: error %v is not an *Error of kind ErrCorrupt, ErrChecksum or ErrVersion", bit, i, err)
				}
			}
		}
	}
	for n := range len(data) {
		if _, err := Unmarshal(data[:n]); err == nil {
			t.Fatalf("Unmarshal(first %d of %d bytes) succeeded; want an error", n, len(data))
		}
	}
	if _, err := Unmarshal(append(data, 0)); err == nil {
		t.Errorf("Unmarshal(data + trailing byte) succeeded; want an error")
	}
}

// validMeta is a metadata object with the right magic and version and
// dummy CRCs, for raw headers decoded with verify=false.
const validMeta = `"__metadata__":{"perpetua.magic":"perpetua-tensors","perpetua.version":"1","perpetua.data_crc32c":"00000000","perpetua.header_crc32c":"00000000"}`

// raw builds a file from a literal header and data section.
func raw(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// craft builds a file with correct CRCs from an arbitrary metadata map.
func craft(meta map[string]string, ts []headerTensor, data []byte) []byte {
	meta[keyDataCRC] = hex8(crc32.Checksum(data, castagnoli))
	meta[keyHeaderCRC] = hex8(crc32.Checksum(appendHeader(nil, meta, ts, keyHeaderCRC), castagnoli))
	return raw(string(appendHeader(nil, meta, ts, "")), data)
}

func TestUnmarshalErrors(t *testing.T) {
	f32 := func(n int) []byte { return make([]byte, 4*n) }
	okMeta := func() map[string]string {
		return map[string]string{keyMagic: Magic, keyVersion: "1"}
	}
	one := []headerTensor{{name: "x", dtype: F32, shape: []int{2}, begin: 0, end: 8}}
	withMeta := func(k, v string) map[string]string { m := okMeta(); m[k] = v; return m }

	cases := []struct {
		name   string
		data   []byte
		verify bool
		kind   error
		want   string
	}{
		{"empty", nil, true, ErrCorrupt, "8-byte header length"},
		{"short", []byte{1, 2, 3}, true, ErrCorrupt, "8-byte header length"},
		{"header len zero", raw("", nil), true, ErrCorrupt, "outside [2,"},
		{"header len huge", binary.LittleEndian.AppendUint64(nil, 1<<40), true, ErrCorrupt, "outside [2,"},
		{"header len past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), true, ErrCorrupt, "truncated"},
		{"not json", raw("[1,2]", nil), true, ErrCorrupt, "does not start with '{'"},
		{"bad json", raw("{\"a\":", nil), true, ErrCorrupt, "header"},
		{"no metadata", raw(`{}`, nil), true, ErrCorrupt, "not a Perpetua tensor file"},
		{"plain safetensors", raw(`{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(1)), true, ErrCorrupt, "not a Perpetua tensor file"},
		{"wrong magic", craft(withMeta(keyMagic, "nope"), nil, nil), true, ErrCorrupt, "not a Perpetua tensor file"},
		{"newer version", craft(withMeta(keyVersion, "2"), nil, nil), true, ErrVersion, "newer than the newest this build reads (1)"},
		{"version zero", craft(withMeta(keyVersion, "0"), nil, nil), true, ErrCorrupt, "positive decimal"},
		{"version padded", craft(withMeta(keyVersion, "01"), nil, nil), true, ErrCorrupt, "positive decimal"},
		{"version missing", craft(map[string]string{keyMagic: Magic}, nil, nil), true, ErrCorrupt, "positive decimal"},
		{"unknown reserved key", craft(withMeta("perpetua.extra", "1"), nil, nil), true, ErrCorrupt, `unknown reserved metadata key "perpetua.extra"`},
		{"metadata not object", raw(`{"__metadata__":[1]}`, nil), true, ErrCorrupt, "is not an object"},
		{"metadata number", raw(`{"__metadata__":{"a":1}}`, nil), true, ErrCorrupt, `metadata value of "a" is not a string`},
		{"metadata dup", raw(`{"__metadata__":{"a":"1","a":"2"}}`, nil), true, ErrCorrupt, `duplicate metadata key "a"`},
		{"dup tensor", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), false, ErrCorrupt, `duplicate key "x"`},
		{"dup metadata object", raw(`{`+validMeta+`,`+validMeta+`}`, nil), false, ErrCorrupt, `duplicate key "__metadata__"`},
		{"trailing garbage", raw(`{`+validMeta+`}x`, nil), false, ErrCorrupt, "unexpected bytes after"},
		{"unknown field", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`, f32(1)), false, ErrCorrupt, "unknown field"},
		{"empty name", raw(`{`+validMeta+`,"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil), false, ErrCorrupt, "empty tensor name"},
		{"bad dtype", raw(`{`+validMeta+`,"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`, make([]byte, 2)), false, ErrCorrupt, `unsupported dtype "BF16"`},
		{"no shape", raw(`{`+validMeta+`,"x":{"dtype":"F32","data_offsets":[0,4]}}`, f32(1)), false, ErrCorrupt, "missing shape"},
		{"float dim", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, f32(1)), false, ErrCorrupt, "tensor \"x\""},
		{"negative dim", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, f32(1)), false, ErrCorrupt, "invalid dimension -1"},
		{"huge dims", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, f32(1)), false, ErrCorrupt, "needs more than the 4-byte data section"},
		{"too many dims", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[`+strings.Repeat("1,", MaxRank)+`1],"data_offsets":[0,4]}}`, f32(1)), false, ErrCorrupt, "dimensions; at most"},
		{"one offset", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, f32(1)), false, ErrCorrupt, "data_offsets has 1 elements"},
		{"offsets past end", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(1)), false, ErrCorrupt, "outside the 4-byte data section"},
		{"offsets reversed", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, f32(1)), false, ErrCorrupt, "outside the 4-byte data section"},
		{"size mismatch", raw(`{`+validMeta+`,"x":{"dtype":"F64","shape":[1],"data_offsets":[0,4]}}`, f32(2)), false, ErrCorrupt, "span 4 bytes; F64[1] needs 8"},
		{"overlap", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), false, ErrCorrupt, "overlap"},
		{"hole", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32(2)), false, ErrCorrupt, "unreferenced bytes before"},
		{"tail", raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32(2)), false, ErrCorrupt, "unreferenced bytes at the end"},
		{"renamed tensor", func() []byte {
			d := craft(okMeta(), one, f32(2))
			return bytes.Replace(d, []byte(`"x":{`), []byte(`"y":{`), 1)
		}(), true, ErrChecksum, "header CRC32C is"},
		{"data crc", func() []byte { d := craft(okMeta(), one, f32(2)); d[len(d)-1] ^= 1; return d }(), true, ErrChecksum, "data CRC32C over 8 bytes"},
		{"header crc mismatch", func() []byte {
			m := okMeta()
			d := craft(m, one, f32(2))
			wrong := m[keyHeaderCRC]
			fixed := hex8(^uint32(0))
			return bytes.Replace(d, []byte(wrong), []byte(fixed), 1)
		}(), true, ErrChecksum, "header CRC32C is"},
		{"crc uppercase", func() []byte {
			m := okMeta()
			d := craft(m, one, f32(2))
			return bytes.Replace(d, []byte(m[keyDataCRC]), []byte(strings.ToUpper(m[keyDataCRC])), 1)
		}(), true, ErrCorrupt, "8 lowercase hex digits"},
	}
	for _, c := range cases {
		_, err := unmarshal(c.data, "", c.verify)
		if err == nil {
			t.Errorf("Unmarshal(%s) succeeded; want an error containing %q", c.name, c.want)
			continue
		}
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Unmarshal(%s) = %v; want %v containing %q", c.name, err, c.kind, c.want)
		}
		if !strings.HasPrefix(err.Error(), "tensor: ") {
			t.Errorf("Unmarshal(%s) error %q lacks the package prefix", c.name, err)
		}
	}
}

func TestUnmarshalAcceptsForeignLayout(t *testing.T) {
	// Another writer may order tensors and pad differently: any valid
	// layout with correct CRCs decodes.
	meta := map[string]string{keyMagic: Magic, keyVersion: "1", "format": "pt"}
	ts := []headerTensor{
		{name: "a", dtype: F32, shape: []int{1}, begin: 16, end: 20},
		{name: "b", dtype: I64, shape: []int{2}, begin: 0, end: 16},
		{name: "c", dtype: F64, shape: []int{0, 3}, begin: 20, end: 20},
	}
	data := make([]byte, 20)
	binary.LittleEndian.PutUint64(data[8:], 7)
	binary.LittleEndian.PutUint32(data[16:], math.Float32bits(2.5))
	file := craft(meta, ts, data)
	s, err := Unmarshal(file)
	if err != nil {
		t.Fatalf("Unmarshal() error = %v", err)
	}
	if a, err := s.F32("a", 1); err != nil || a[0] != 2.5 {
		t.Errorf("F32(%q) = %v, %v; want [2.5]", "a", a, err)
	}
	if b, err := s.I64("b", 2); err != nil || b[1] != 7 {
		t.Errorf("I64(%q) = %v, %v; want [0 7]", "b", b, err)
	}
	if v, ok := s.Meta("format"); !ok || v != "pt" {
		t.Errorf("Meta(%q) = %q, %v; want %q", "format", v, ok, "pt")
	}
	if _, ok := s.Meta(keyMagic); ok {
		t.Errorf("Meta(%q) is visible; reserved keys must be stripped", keyMagic)
	}
}

func FuzzUnmarshal(f *testing.F) {
	if g, err := os.ReadFile(filepath.Join("testdata", "golden.safetensors")); err == nil {
		f.Add(g)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		d, err := randomSet(r).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d)
	}
	f.Add(raw(`{`+validMeta+`,"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}`, make([]byte, 16)))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, verify := range []bool{true, false} {
			s, err := unmarshal(data, "", verify)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Kind == nil {
					t.Fatalf("error %v is not an *Error with a Kind", err)
				}
				continue
			}
			out, err := s.MarshalBinary()
			if err != nil {
				if len(data) > MaxHeaderSize/8 {
					continue // canonical escaping may outgrow a huge header
				}
				t.Fatalf("MarshalBinary() of a decoded set: %v", err)
			}
			s2, err := Unmarshal(out)
			if err != nil {
				t.Fatalf("Unmarshal(MarshalBinary()) of a decoded set: %v", err)
			}
			if !s2.Equal(s) {
				t.Fatalf("re-encoding changed the set")
			}
			out2, err := s2.MarshalBinary()
			if err != nil || !bytes.Equal(out, out2) {
				t.Fatalf("MarshalBinary is not stable (err %v)", err)
			}
		}
	})
}
