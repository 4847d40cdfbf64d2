package natslog

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestChunkRoundTrip(t *testing.T) {
	tests := [][][]byte{
		{[]byte("a")},
		{[]byte("one"), []byte("two"), bytes.Repeat([]byte{'x'}, 300)},
		{bytes.Repeat([]byte{0}, 1<<15), []byte{0xff}},
	}
	for _, recs := range tests {
		b := appendChunk([]byte("prefix"), 42, recs)[len("prefix"):]
		first, got, err := decodeChunk(b)
		if err != nil || first != 42 || len(got) != len(recs) {
			t.Fatalf("decodeChunk(appendChunk(42, %d records)) = %d, %d records, %v; want 42, %d, nil", len(recs), first, len(got), err, len(recs))
		}
		for i := range recs {
			if !bytes.Equal(got[i], recs[i]) {
				t.Fatalf("record %d = %q; want %q", i, got[i], recs[i])
			}
		}
		size := chunkOverhead
		for _, r := range recs {
			size += recordSize(len(r))
		}
		if len(b) != size {
			t.Fatalf("chunk of %d records is %d bytes; recordSize sums to %d", len(recs), len(b), size)
		}
	}
}

func TestChunkCorrupt(t *testing.T) {
	good := appendChunk(nil, 7, [][]byte{[]byte("hello"), []byte("world")})
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "short"},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"version", mod(func(b []byte) []byte { b[4] = 2; return b }), "version 2"},
		{"flipped-bit", mod(func(b []byte) []byte { b[20] ^= 1; return b }), "checksum"},
		{"truncated", good[:len(good)-1], "checksum"},
	}
	for _, tc := range tests {
		_, _, err := decodeChunk(tc.b)
		if !errors.Is(err, errChunk) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("decodeChunk(%s) = %v; want an error about %q", tc.name, err, tc.want)
		}
	}
	// A valid checksum over inconsistent lengths is still refused.
	bad := appendChunkHeader(nil, 0, 3)
	bad = appendRecords(bad, [][]byte{[]byte("x")})
	bad = appendChunkTrailer(bad, 0)
	if _, _, err := decodeChunk(bad); !errors.Is(err, errChunk) {
		t.Errorf("decodeChunk(count 3, one record) = %v; want errChunk", err)
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(appendChunk(nil, 0, [][]byte{[]byte("a")}))
	f.Add(appendChunk(nil, 1<<40, [][]byte{[]byte("a"), []byte("bc")}))
	f.Add([]byte("PPTN"))
	f.Fuzz(func(t *testing.T, b []byte) {
		first, recs, err := decodeChunk(b)
		if err != nil {
			return
		}
		// A chunk that decodes re-encodes to the same bytes.
		if again := appendChunk(nil, first, recs); !bytes.Equal(again, b) {
			panic(fmt.Sprintf("re-encoding a decoded chunk changed it: %x -> %x", b, again))
		}
	})
}

// TestChunkAllocs checks that encoding into a reused buffer and walking a
// chunk's records (the reader's path) allocate nothing.
func TestChunkAllocs(t *testing.T) {
	recs := [][]byte{bytes.Repeat([]byte{'a'}, 200), bytes.Repeat([]byte{'b'}, 200)}
	buf := appendChunk(nil, 0, recs)
	n := testing.AllocsPerRun(100, func() {
		buf = appendChunk(buf[:0], 9, recs)
		_, k, rest, err := chunkHead(buf)
		for i := 0; i < k && err == nil; i++ {
			_, rest, err = nextRecord(rest)
		}
		if err != nil {
			panic(err)
		}
	})
	if n != 0 {
		t.Fatalf("encoding and walking a chunk: %v allocs; want 0", n)
	}
}
