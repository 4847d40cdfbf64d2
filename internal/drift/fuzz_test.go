package drift

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// fuzzUnmarshal checks that UnmarshalBinary never panics, that a state it
// accepts re-encodes to the same bytes, and that the restored detector
// runs.
func fuzzUnmarshal(f *testing.F, c detectorCase) {
	d := c.new()
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 2500 {
		if i%500 == 0 {
			s, _ := d.MarshalBinary()
			f.Add(s)
		}
		d.Update(c.stream(r, i))
	}
	f.Add([]byte(stateMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, c, data)
		// Random bytes almost never carry a valid CRC; also try the input
		// with its length and CRC fields repaired, to reach the payload
		// checks.
		if len(data) >= headerSize+trailerSize {
			fixed := bytes.Clone(data)
			body := fixed[:len(fixed)-trailerSize]
			binary.LittleEndian.PutUint32(body[8:], uint32(len(body)-headerSize))
			binary.LittleEndian.PutUint32(fixed[len(body):], crc32.Checksum(body, castagnoli))
			check(t, c, fixed)
		}
	})
}

func check(t *testing.T, c detectorCase, data []byte) {
	d := c.new()
	if err := d.UnmarshalBinary(data); err != nil {
		return
	}
	again, err := d.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary after a successful UnmarshalBinary: %v", err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("accepted state does not re-encode to itself")
	}
	for i := range 200 {
		d.Update(float64(i % 7))
	}
}

func caseNamed(name string) detectorCase {
	for _, c := range detectorCases() {
		if c.name == name {
			return c
		}
	}
	panic("no case " + name)
}

func FuzzADWINUnmarshal(f *testing.F)       { fuzzUnmarshal(f, caseNamed("adwin-clock1-m1")) }
func FuzzPageHinkleyUnmarshal(f *testing.F) { fuzzUnmarshal(f, caseNamed("page-hinkley")) }
func FuzzDDMUnmarshal(f *testing.F)         { fuzzUnmarshal(f, caseNamed("ddm")) }
func FuzzEDDMUnmarshal(f *testing.F)        { fuzzUnmarshal(f, caseNamed("eddm")) }
func FuzzKSWINUnmarshal(f *testing.F)       { fuzzUnmarshal(f, caseNamed("kswin")) }
func FuzzWindowUnmarshal(f *testing.F)      { fuzzUnmarshal(f, caseNamed("window-ks")) }
