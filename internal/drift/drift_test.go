package drift

import (
	"bytes"
	"encoding"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// testDetector is what every detector in this package implements.
type testDetector interface {
	Detector
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// detectorCase builds one detector configuration for the conformance
// tests; stream produces a value stream that exercises it (with drifts).
type detectorCase struct {
	name   string
	new    func() testDetector
	stream func(r *rand.Rand, i int) float64
}

// shifting is a numeric stream whose mean jumps every 700 values, so the
// detectors both grow state and fire.
func shifting(r *rand.Rand, i int) float64 {
	return float64((i/700)%3) + r.NormFloat64()*0.5
}

// errorsShifting is a 0/1 error stream whose error rate alternates
// between 0.1 and 0.45 every 900 values.
func errorsShifting(r *rand.Rand, i int) float64 {
	p := 0.1
	if (i/900)%2 == 1 {
		p = 0.45
	}
	if r.Float64() < p {
		return 1
	}
	return 0
}

func detectorCases() []detectorCase {
	return []detectorCase{
		{"adwin", func() testDetector { return NewADWIN(ADWINConfig{}) }, shifting},
		{"adwin-clock1-m1", func() testDetector { return NewADWIN(ADWINConfig{Clock: 1, MaxBuckets: 1, MinWindow: 2}) }, shifting},
		{"page-hinkley", func() testDetector { return NewPageHinkley(PageHinkleyConfig{}) }, shifting},
		{"page-hinkley-up", func() testDetector { return NewPageHinkley(PageHinkleyConfig{Mode: PHUp, Threshold: 10}) }, shifting},
		{"ddm", func() testDetector { return NewDDM(DDMConfig{}) }, errorsShifting},
		{"eddm", func() testDetector { return NewEDDM(EDDMConfig{}) }, errorsShifting},
		{"kswin", func() testDetector { return NewKSWIN(KSWINConfig{Seed: 7}) }, shifting},
		{"window-psi", func() testDetector { return NewWindow(WindowConfig{Reference: 300, Size: 200, Step: 50}) }, shifting},
		{"window-ks", func() testDetector { return NewWindow(WindowConfig{Method: WindowKS, Reference: 300, Size: 100}) }, shifting},
	}
}

const conformanceSeed = 20240601

// trace feeds n values of c's stream (seeded) to d and returns the
// (drift, warning) flags after every update, packed 2 bits per update.
func trace(d Detector, c detectorCase, r *rand.Rand, from, n int) []byte {
	out := make([]byte, 0, n)
	for i := from; i < from+n; i++ {
		d.Update(c.stream(r, i))
		var f byte
		if d.Drift() {
			f |= 1
		}
		if d.Warning() {
			f |= 2
		}
		out = append(out, f)
	}
	return out
}

func count(flags []byte, bit byte) int {
	n := 0
	for _, f := range flags {
		if f&bit != 0 {
			n++
		}
	}
	return n
}

// TestDetectorsFire checks that every case's stream makes its detector
// fire (so the equivalence tests below compare non-trivial traces).
func TestDetectorsFire(t *testing.T) {
	t.Logf("seed %d", conformanceSeed)
	for _, c := range detectorCases() {
		r := rand.New(rand.NewPCG(conformanceSeed, 1))
		flags := trace(c.new(), c, r, 0, 6000)
		if got := count(flags, 1); got == 0 {
			t.Errorf("%s: drifts on the shifting stream = 0; want > 0", c.name)
		}
	}
}

// TestSnapshotRestore checks that marshal → unmarshal → continue gives
// exactly the flags (and final state) of an uninterrupted run, at several
// cut points, including one right after a drift.
func TestSnapshotRestore(t *testing.T) {
	t.Logf("seed %d", conformanceSeed)
	const total = 5000
	for _, c := range detectorCases() {
		ref := c.new()
		r := rand.New(rand.NewPCG(conformanceSeed, 2))
		want := trace(ref, c, r, 0, total)
		wantState, err := ref.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: MarshalBinary: %v", c.name, err)
		}
		cuts := []int{0, 1, 17, 1234, 2999}
		for i, f := range want { // right after the first drift
			if f&1 != 0 {
				cuts = append(cuts, i+1)
				break
			}
		}
		for _, cut := range cuts {
			a := c.new()
			r := rand.New(rand.NewPCG(conformanceSeed, 2))
			head := trace(a, c, r, 0, cut)
			state, err := a.MarshalBinary()
			if err != nil {
				t.Fatalf("%s: MarshalBinary at %d: %v", c.name, cut, err)
			}
			b := c.new()
			b.Update(42) // dirty it: Unmarshal must replace everything
			if err := b.UnmarshalBinary(state); err != nil {
				t.Fatalf("%s: UnmarshalBinary at %d: %v", c.name, cut, err)
			}
			again, _ := b.MarshalBinary()
			if !bytes.Equal(again, state) {
				t.Errorf("%s: re-marshal after restore at %d differs", c.name, cut)
			}
			tail := trace(b, c, r, cut, total-cut)
			got := append(head, tail...)
			if !bytes.Equal(got, want) {
				i := 0
				for i < len(got) && got[i] == want[i] {
					i++
				}
				t.Errorf("%s: restored at %d: flags first differ at update %d: got %d; want %d", c.name, cut, i, got[i], want[i])
				continue
			}
			final, _ := b.MarshalBinary()
			if !bytes.Equal(final, wantState) {
				t.Errorf("%s: restored at %d: final state differs from the uninterrupted run", c.name, cut)
			}
		}
	}
}

// TestResetEqualsNew checks that Reset gives the behaviour of a fresh
// detector.
func TestResetEqualsNew(t *testing.T) {
	t.Logf("seed %d", conformanceSeed)
	for _, c := range detectorCases() {
		d := c.new()
		trace(d, c, rand.New(rand.NewPCG(conformanceSeed, 3)), 0, 3000)
		d.Reset()
		if d.Drift() || d.Warning() {
			t.Errorf("%s: after Reset Drift() = %v, Warning() = %v; want false, false", c.name, d.Drift(), d.Warning())
		}
		got := trace(d, c, rand.New(rand.NewPCG(conformanceSeed, 4)), 0, 3000)
		want := trace(c.new(), c, rand.New(rand.NewPCG(conformanceSeed, 4)), 0, 3000)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: flags after Reset differ from a new detector", c.name)
		}
	}
}

// TestZeroAllocs checks that Update does not allocate in steady state.
func TestZeroAllocs(t *testing.T) {
	for _, c := range detectorCases() {
		d := c.new()
		r := rand.New(rand.NewPCG(conformanceSeed, 5))
		i := 0
		for ; i < 20000; i++ { // warm up: window rows, buffers
			d.Update(c.stream(r, i))
		}
		allocs := testing.AllocsPerRun(5000, func() {
			d.Update(c.stream(r, i))
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: Update allocates %v times per call; want 0", c.name, allocs)
		}
	}
}

// TestNonFiniteIgnored checks that NaN and ±Inf leave the state alone.
func TestNonFiniteIgnored(t *testing.T) {
	for _, c := range detectorCases() {
		d := c.new()
		trace(d, c, rand.New(rand.NewPCG(conformanceSeed, 6)), 0, 500)
		before, _ := d.MarshalBinary()
		for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			d.Update(v)
			if d.Drift() {
				t.Errorf("%s: Update(%v) reported a drift", c.name, v)
			}
		}
		after, _ := d.MarshalBinary()
		// Only the drift flag may change (cleared).
		d2 := c.new()
		if err := d2.UnmarshalBinary(before); err != nil {
			t.Fatal(err)
		}
		d2.Update(math.NaN())
		want, _ := d2.MarshalBinary()
		if !bytes.Equal(after, want) {
			t.Errorf("%s: non-finite updates changed the state beyond clearing Drift", c.name)
		}
	}
}

// TestUnmarshalRejects checks the envelope checks of every detector.
func TestUnmarshalRejects(t *testing.T) {
	for _, c := range detectorCases() {
		d := c.new()
		trace(d, c, rand.New(rand.NewPCG(conformanceSeed, 7)), 0, 1500)
		good, _ := d.MarshalBinary()
		mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
		tests := []struct {
			name string
			data []byte
			is   error  // sentinel, or nil
			msg  string // substring, or ""
		}{
			{"empty", nil, nil, "shorter"},
			{"truncated", good[:len(good)-1], nil, ""},
			{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), nil, "magic"},
			{"newer version", mutate(func(b []byte) []byte { b[4] = stateVersion + 1; return b }), ErrVersion, ""},
			{"payload bit", mutate(func(b []byte) []byte { b[headerSize+3] ^= 0x10; return b }), ErrChecksum, ""},
			{"crc bit", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrChecksum, ""},
			{"trailing", append(bytes.Clone(good), 0), nil, "payload"},
		}
		for _, tt := range tests {
			fresh := c.new()
			before, _ := fresh.MarshalBinary()
			err := fresh.UnmarshalBinary(tt.data)
			if err == nil {
				t.Errorf("%s: UnmarshalBinary(%s) = nil; want an error", c.name, tt.name)
				continue
			}
			if !strings.HasPrefix(err.Error(), "drift: ") {
				t.Errorf("%s: UnmarshalBinary(%s) error %q lacks the package prefix", c.name, tt.name, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%s: UnmarshalBinary(%s) = %v; want %v", c.name, tt.name, err, tt.is)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("%s: UnmarshalBinary(%s) = %q; want it to mention %q", c.name, tt.name, err, tt.msg)
			}
			after, _ := fresh.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Errorf("%s: failed UnmarshalBinary(%s) changed the detector", c.name, tt.name)
			}
		}
	}
	// A state of one kind is refused by another.
	a, _ := NewADWIN(ADWINConfig{}).MarshalBinary()
	if err := NewDDM(DDMConfig{}).UnmarshalBinary(a); err == nil || !strings.Contains(err.Error(), "adwin") {
		t.Errorf("DDM.UnmarshalBinary(ADWIN state) = %v; want an error naming adwin", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		want string // type name, "" for an error
	}{
		{"adwin", "*drift.ADWIN"},
		{"ADWIN", "*drift.ADWIN"},
		{"page-hinkley", "*drift.PageHinkley"},
		{"ph", "*drift.PageHinkley"},
		{"ddm", "*drift.DDM"},
		{" eddm ", "*drift.EDDM"},
		{"kswin", "*drift.KSWIN"},
		{"hddm", ""},
		{"", ""},
	}
	for _, tt := range tests {
		d, err := New(tt.name)
		if tt.want == "" {
			if err == nil {
				t.Errorf("New(%q) = %T, nil; want an error", tt.name, d)
				continue
			}
			for _, n := range Names() {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("New(%q) error %q does not list %q", tt.name, err, n)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q) = %v; want %s", tt.name, err, tt.want)
			continue
		}
		if got := typeName(d); got != tt.want {
			t.Errorf("New(%q) = %s; want %s", tt.name, got, tt.want)
		}
		if _, ok := d.(encoding.BinaryMarshaler); !ok {
			t.Errorf("New(%q) does not implement encoding.BinaryMarshaler", tt.name)
		}
	}
}

func typeName(d Detector) string {
	switch d.(type) {
	case *ADWIN:
		return "*drift.ADWIN"
	case *PageHinkley:
		return "*drift.PageHinkley"
	case *DDM:
		return "*drift.DDM"
	case *EDDM:
		return "*drift.EDDM"
	case *KSWIN:
		return "*drift.KSWIN"
	}
	return "unknown"
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"adwin zero", ADWINConfig{}.Validate()},
		{"adwin delta 1", ADWINConfig{Delta: 1}.Validate()},
		{"adwin clock -1", ADWINConfig{Clock: -1}.Validate()},
		{"ph alpha 2", PageHinkleyConfig{Alpha: 2}.Validate()},
		{"ph mode 7", PageHinkleyConfig{Mode: 7}.Validate()},
		{"ddm drift < warning", DDMConfig{WarningLevel: 3, DriftLevel: 2}.Validate()},
		{"eddm beta > alpha", EDDMConfig{Alpha: 0.8, Beta: 0.9}.Validate()},
		{"kswin window < 2 stat", KSWINConfig{WindowSize: 50, StatSize: 30}.Validate()},
		{"kswin alpha 0.5", KSWINConfig{Alpha: 0.5}.Validate()},
		{"window step > size", WindowConfig{Size: 10, Step: 11}.Validate()},
		{"window ks warning < threshold", WindowConfig{Method: WindowKS, Threshold: 0.1, Warning: 0.05}.Validate()},
	}
	want := map[string]bool{"adwin zero": true, "kswin alpha 0.5": true} // valid ones
	for _, tt := range tests {
		if got := tt.err == nil; got != want[tt.name] {
			t.Errorf("Validate(%s) = %v; want valid = %v", tt.name, tt.err, want[tt.name])
		}
		if tt.err != nil && !strings.HasPrefix(tt.err.Error(), "drift: ") {
			t.Errorf("Validate(%s) error %q lacks the package prefix", tt.name, tt.err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("NewADWIN(Delta: 2) did not panic")
		}
	}()
	NewADWIN(ADWINConfig{Delta: 2})
}

// TestZeroValue checks that the zero value of every detector behaves like
// NewX with the zero configuration (and encodes the same).
func TestZeroValue(t *testing.T) {
	tests := []struct {
		name      string
		zero, def func() testDetector
		stream    func(r *rand.Rand, i int) float64
	}{
		{"adwin", func() testDetector { return new(ADWIN) }, func() testDetector { return NewADWIN(ADWINConfig{}) }, shifting},
		{"page-hinkley", func() testDetector { return new(PageHinkley) }, func() testDetector { return NewPageHinkley(PageHinkleyConfig{}) }, shifting},
		{"ddm", func() testDetector { return new(DDM) }, func() testDetector { return NewDDM(DDMConfig{}) }, errorsShifting},
		{"eddm", func() testDetector { return new(EDDM) }, func() testDetector { return NewEDDM(EDDMConfig{}) }, errorsShifting},
		{"kswin", func() testDetector { return new(KSWIN) }, func() testDetector { return NewKSWIN(KSWINConfig{}) }, shifting},
		{"window", func() testDetector { return new(Window) }, func() testDetector { return NewWindow(WindowConfig{}) }, shifting},
	}
	for _, tt := range tests {
		z0, _ := tt.zero().MarshalBinary()
		d0, _ := tt.def().MarshalBinary()
		if !bytes.Equal(z0, d0) {
			t.Errorf("%s: zero value encodes differently from New", tt.name)
		}
		c := detectorCase{name: tt.name, stream: tt.stream}
		z, d := tt.zero(), tt.def()
		got := trace(z, c, rand.New(rand.NewPCG(conformanceSeed, 8)), 0, 5000)
		want := trace(d, c, rand.New(rand.NewPCG(conformanceSeed, 8)), 0, 5000)
		if !bytes.Equal(got, want) || count(want, 1) == 0 {
			t.Errorf("%s: zero value flags differ from New (drifts %d vs %d)", tt.name, count(got, 1), count(want, 1))
		}
		zs, _ := z.MarshalBinary()
		ds, _ := d.MarshalBinary()
		if !bytes.Equal(zs, ds) {
			t.Errorf("%s: zero value state differs from New after the same stream", tt.name)
		}
	}
}
