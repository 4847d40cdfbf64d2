package metric

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// state is what every metric implements for checkpoints.
type state interface {
	updater
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	encoding.BinaryAppender
}

// metrics returns fresh instances of every metric type, by name; restored
// receives the same types, empty, to decode into.
func metrics() map[string]state {
	return map[string]state{
		"LogLoss":        new(LogLoss),
		"Accuracy":       new(Accuracy),
		"AUC":            new(AUC),
		"Brier":          new(Brier),
		"WindowLogLoss":  NewWindowLogLoss(7),
		"WindowAccuracy": NewWindowAccuracy(7),
		"WindowAUC":      NewWindowAUC(7),
		"FadingLogLoss":  NewFadingLogLoss(0.9),
		"FadingAccuracy": NewFadingAccuracy(0.9),
		"Binary":         &binaryState{NewBinary(7, 0.9)},
	}
}

// binaryState adapts Binary to updater for the table (its Value is the
// window AUC, the subtlest part; snapshots are compared separately).
type binaryState struct{ *Binary }

func (b *binaryState) Value() float64 { return b.Snapshot().WindowAUC }

func empty(name string) state {
	switch name {
	case "LogLoss":
		return new(LogLoss)
	case "Accuracy":
		return new(Accuracy)
	case "AUC":
		return new(AUC)
	case "Brier":
		return new(Brier)
	case "WindowLogLoss":
		return new(WindowLogLoss)
	case "WindowAccuracy":
		return new(WindowAccuracy)
	case "WindowAUC":
		return new(WindowAUC)
	case "FadingLogLoss":
		return new(FadingLogLoss)
	case "FadingAccuracy":
		return new(FadingAccuracy)
	case "Binary":
		return &binaryState{new(Binary)}
	}
	panic(name)
}

// TestRoundTrip checks snapshot → restore → continue equals an
// uninterrupted run, bit for bit, at every cut point of random streams.
func TestRoundTrip(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	stream := randomStream(rng, 60)
	stream[rng.IntN(len(stream))].p = nan
	for name := range metrics() {
		for cut := 0; cut <= len(stream); cut += 1 + rng.IntN(5) {
			orig := metrics()[name]
			for _, o := range stream[:cut] {
				orig.Update(o.p, o.y)
			}
			data, err := orig.MarshalBinary()
			if err != nil {
				t.Fatalf("%s.MarshalBinary after %d: %v", name, cut, err)
			}
			back := empty(name)
			if err := back.UnmarshalBinary(data); err != nil {
				t.Fatalf("%s.UnmarshalBinary(MarshalBinary()) after %d: %v", name, cut, err)
			}
			again, _ := back.MarshalBinary()
			if !bytes.Equal(again, data) {
				t.Errorf("%s after %d: re-marshalled state differs from the original", name, cut)
			}
			for i, o := range stream[cut:] {
				orig.Update(o.p, o.y)
				back.Update(o.p, o.y)
				if g, w := back.Value(), orig.Value(); !same(g, w) {
					t.Fatalf("seed %d: %s restored after %d, %d more updates: Value = %v; want %v", seed, name, cut, i+1, g, w)
				}
			}
			if b, ok := back.(*binaryState); ok {
				ob := orig.(*binaryState)
				if g, w := b.Snapshot(), ob.Snapshot(); fmt.Sprint(g) != fmt.Sprint(w) {
					t.Errorf("seed %d: Binary restored after %d: Snapshot = %+v; want %+v", seed, cut, g, w)
				}
				if b.Window() != 7 || b.Fading() != 0.9 || b.N() != ob.N() {
					t.Errorf("Binary restored: window %d, fading %v, n %d; want 7, 0.9, %d", b.Window(), b.Fading(), b.N(), ob.N())
				}
			}
		}
	}
}

func TestAppendBinaryAppends(t *testing.T) {
	m := NewWindowAUC(3)
	m.Update(0.4, 1)
	prefix := []byte("prefix")
	got, err := m.AppendBinary(bytes.Clone(prefix))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.MarshalBinary()
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Errorf("AppendBinary(%q) = %q; want prefix followed by MarshalBinary() = %q", prefix, got, want)
	}
}

// reframe rewrites the checksum of a blob whose body was edited.
func reframe(b []byte) []byte {
	body := b[:len(b)-trailerLen]
	return appendTrailer(bytes.Clone(body), 0)
}

func TestUnmarshalErrors(t *testing.T) {
	m := NewBinary(4, 0.5)
	for i := range 10 {
		m.Update(float64(i%3)/2, float64(i%2))
	}
	good, _ := m.MarshalBinary()
	auc := new(AUC)
	auc.Update(0.3, 1)
	auc.Update(0.6, 0)
	goodAUC, _ := auc.MarshalBinary()
	acc := new(Accuracy)
	acc.Update(1, 1)
	goodAcc, _ := acc.MarshalBinary()

	edit := func(b []byte, f func([]byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		return b
	}
	tests := []struct {
		name string
		into encoding.BinaryUnmarshaler
		data []byte
		want string
	}{
		{"empty", new(Binary), nil, "shorter than"},
		{"bad magic", new(Binary), edit(good, func(b []byte) { b[0] = 'X' }), "bad magic"},
		{"newer version", new(Binary), reframe(edit(good, func(b []byte) { b[4] = formatVersion + 1 })), "newer than supported"},
		{"other kind", new(LogLoss), good, "blob holds a Binary"},
		{"bit flip", new(Binary), edit(good, func(b []byte) { b[20] ^= 1 }), "checksum mismatch"},
		{"truncated", new(Binary), reframe(good[:len(good)-9]), "truncated"},
		{"trailing bytes", new(Accuracy), reframe(append(bytes.Clone(goodAcc[:len(goodAcc)-4]), 0, 0, 0, 0, 0)), "trailing bytes"},
		{"correct > n", new(Accuracy), reframe(edit(goodAcc, func(b []byte) { binary.LittleEndian.PutUint64(b[headerLen+8:], 5) })), "5 correct out of 1"},
		{"AUC huge key count", new(AUC), reframe(edit(goodAUC, func(b []byte) { binary.LittleEndian.PutUint64(b[headerLen+24:], 1<<40) })), "exceeds"},
		{"AUC impossible U", new(AUC), reframe(edit(goodAUC, func(b []byte) { binary.LittleEndian.PutUint64(b[headerLen+16:], 3) })), "impossible"},
		{"AUC keys out of order", new(AUC), reframe(edit(goodAUC, func(b []byte) {
			k := headerLen + 32
			a := bytes.Clone(b[k : k+24])
			copy(b[k:], b[k+24:k+48])
			copy(b[k+24:], a)
		})), "not strictly ascending"},
		{"window zero", new(WindowAccuracy), reframe(append(appendHeader(nil, kindWindowAccuracy), make([]byte, 24+4)...)), "window 0 outside"},
	}
	for _, tt := range tests {
		before := fmt.Sprintf("%+v", tt.into)
		err := tt.into.UnmarshalBinary(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "metric: ") {
			t.Errorf("%s: UnmarshalBinary = %v; want an error containing %q", tt.name, err, tt.want)
		}
		if after := fmt.Sprintf("%+v", tt.into); after != before {
			t.Errorf("%s: failed UnmarshalBinary changed the receiver", tt.name)
		}
	}
}

// FuzzUnmarshalBinary feeds arbitrary payloads, framed with a valid
// checksum so the decoder itself is exercised, to every metric. A payload
// that decodes must re-encode to the same bytes and keep working.
func FuzzUnmarshalBinary(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 5))
	stream := randomStream(rng, 30)
	for name, m := range metrics() {
		for _, o := range stream {
			m.Update(o.p, o.y)
		}
		b, _ := m.MarshalBinary()
		f.Add(b[headerLen-1], b[headerLen:len(b)-trailerLen])
		_ = name
	}
	f.Fuzz(func(t *testing.T, k byte, payload []byte) {
		blob := marshal(nil, kind(k), func(dst []byte) []byte { return append(dst, payload...) })
		for name := range metrics() {
			m := empty(name)
			if err := m.UnmarshalBinary(blob); err != nil {
				continue
			}
			again, _ := m.MarshalBinary()
			if !bytes.Equal(again, blob) {
				t.Fatalf("%s: decoded blob re-encodes differently", name)
			}
			for _, o := range stream {
				m.Update(o.p, o.y)
				m.Value()
			}
		}
	})
}
