package tree

import (
	"encoding/binary"
	"fmt"

	"github.com/perpetua-ml/perpetua/internal/drift"
)

// detector is what HAT and ARF need of a drift detector: the
// drift.Detector contract plus ADWIN's window statistics (HAT compares
// the error estimates and window widths of a subtree and its alternate).
type detector interface {
	drift.Detector
	Estimation() float64
	Width() int
}

var _ detector = (*drift.ADWIN)(nil)

// newADWIN returns an ADWIN with confidence delta and River's other
// defaults.
func newADWIN(delta float64) detector {
	return drift.NewADWIN(drift.ADWINConfig{Delta: delta})
}

// cloneDetector returns an independent copy of d.
func cloneDetector(d detector) detector {
	a := d.(*drift.ADWIN)
	b, err := a.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("tree: cloning a drift detector: %v", err))
	}
	c := new(drift.ADWIN)
	if err := c.UnmarshalBinary(b); err != nil {
		panic(fmt.Sprintf("tree: cloning a drift detector: %v", err))
	}
	return c
}

// appendDetector appends the encoding of d to dst.
func appendDetector(dst []byte, d detector) []byte {
	b, err := d.(*drift.ADWIN).AppendBinary(dst)
	if err != nil {
		panic(fmt.Sprintf("tree: encoding a drift detector: %v", err))
	}
	return b
}

// decodeDetector decodes a detector written by appendDetector, checking
// its confidence is want.
func decodeDetector(b []byte, want float64) (detector, error) {
	a := new(drift.ADWIN)
	if err := a.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	if got := a.Config().Delta; got != want {
		return nil, fmt.Errorf("ADWIN delta %v; want %v", got, want)
	}
	return a, nil
}

// packBytes stores b in int64 words, little-endian, zero-padded; the
// length is kept elsewhere.
func packBytes(dst []int64, b []byte) []int64 {
	for len(b) >= 8 {
		dst = append(dst, int64(binary.LittleEndian.Uint64(b)))
		b = b[8:]
	}
	if len(b) > 0 {
		var w [8]byte
		copy(w[:], b)
		dst = append(dst, int64(binary.LittleEndian.Uint64(w[:])))
	}
	return dst
}

// unpackBytes returns the first n bytes stored in words.
func unpackBytes(words []int64, n int) []byte {
	b := make([]byte, 0, len(words)*8)
	for _, w := range words {
		b = binary.LittleEndian.AppendUint64(b, uint64(w))
	}
	return b[:n]
}
