package feature

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestHashGolden pins the hash: feature IDs are stored in models, so any
// change to the hash silently invalidates every saved model. If this test
// fails, the change must come with a model format version bump.
func TestHashGolden(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 7) // 112 bytes: the 48-byte stripe loop
	tests := []struct {
		seed  uint64
		field int
		value string
		want  uint64
	}{
		{0, 0, "", 0x425754ba42999cad},
		{0, 0, "a", 0x626f6ad4a5a67d25},
		{0, 1, "a", 0x72385f3f910e93f2},
		{1, 0, "a", 0xbb3aef5f5bcbee15},
		{0, 0, "abc", 0x59ad0c642b200dda},
		{0, 0, "05db9164", 0x70b0f602991b4833},
		{0, 25, "05db9164", 0x466818176d1916bd},
		{42, 3, "hello, world!!", 0xe985f73730a61e49},
		{42, 3, "seventeen bytes!!", 0x278fb172f801e0f4},
		{42, 3, "forty-eight bytes are exactly three stripes ok!!", 0x713c15791eafffbe},
		{7, 1000, long, 0x829c48b094aa5c40},
	}
	for _, tt := range tests {
		if got := Hash(tt.seed, tt.field, tt.value); got != tt.want {
			t.Errorf("Hash(%d, %d, %q) = %#x; want %#x", tt.seed, tt.field, tt.value, got, tt.want)
		}
		if got := HashBytes(tt.seed, tt.field, []byte(tt.value)); got != tt.want {
			t.Errorf("HashBytes(%d, %d, %q) = %#x; want %#x", tt.seed, tt.field, tt.value, got, tt.want)
		}
	}
}

// TestHashDistinct hashes many short and long strings, all lengths from 0
// to 200, and expects no 64-bit collision (the chance of one among 150k
// random values is about 6e-10).
func TestHashDistinct(t *testing.T) {
	seen := make(map[uint64]string, 300_000)
	add := func(field int, v string) {
		h := Hash(0, field, v)
		key := fmt.Sprintf("%d:%q", field, v)
		if prev, dup := seen[h]; dup {
			t.Fatalf("Hash collision: %s and %s both give %#x", prev, key, h)
		}
		seen[h] = key
	}
	for i := range 50_000 {
		add(0, fmt.Sprintf("%x", i))
		add(1, fmt.Sprintf("%x", i)) // same values, another field
	}
	base := strings.Repeat("abcdefghij", 21)
	for n := 0; n <= 200; n++ {
		for c := range 256 {
			v := []byte(base[:n])
			if n > 0 {
				v[n/2] = byte(c) // one byte varied
			} else if c > 0 {
				break
			}
			add(2, string(v))
		}
	}
	if len(seen) < 150_000 {
		t.Fatalf("only %d distinct inputs hashed", len(seen))
	}
}

// TestHashAvalanche checks that flipping any one input bit flips about
// half of the output bits, for every length class of the hash.
func TestHashAvalanche(t *testing.T) {
	seed := uint64(20260512)
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, n := range []int{1, 3, 4, 8, 15, 16, 17, 32, 48, 49, 100} {
		flips, trials := 0, 0
		for range 200 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			h := HashBytes(5, 0, b)
			bit := rng.IntN(8 * n)
			b[bit/8] ^= 1 << (bit % 8)
			flips += bits.OnesCount64(h ^ HashBytes(5, 0, b))
			trials++
		}
		if frac := float64(flips) / float64(64*trials); frac < 0.45 || frac > 0.55 {
			t.Errorf("length %d: a one-bit change flips %.3f of the output bits; want about 0.5", n, frac)
		}
	}
	// The seed and the field avalanche too.
	flips := 0
	for i := range 1000 {
		v := fmt.Sprint(i)
		flips += bits.OnesCount64(Hash(uint64(i), 0, v) ^ Hash(uint64(i)^1, 0, v))
		flips += bits.OnesCount64(Hash(0, i, v) ^ Hash(0, i+1, v))
	}
	if frac := float64(flips) / (64 * 2000); frac < 0.45 || frac > 0.55 {
		t.Errorf("changing the seed or field flips %.3f of the output bits; want about 0.5", frac)
	}
}

// TestWideBucketUniform checks that wide buckets of sequential IDs are
// spread evenly (chi-square over 256 buckets).
func TestWideBucketUniform(t *testing.T) {
	const k, n = 8, 256 * 400
	var counts [1 << k]int
	for i := range n {
		b := wideBucket(uint64(i), k)
		if b >= 1<<k {
			t.Fatalf("wideBucket(%d, %d) = %d; want < %d", i, k, b, 1<<k)
		}
		counts[b]++
	}
	chi := 0.0
	for _, c := range counts {
		d := float64(c) - n/(1<<k)
		chi += d * d / (n / (1 << k))
	}
	// 255 degrees of freedom: the 99.9th percentile is about 330.
	if chi > 330 {
		t.Errorf("chi-square of %d sequential IDs over %d buckets = %.1f; want < 330", n, 1<<k, chi)
	}
	if got := wideBucket(^uint64(0), 32); uint64(got) >= 1<<32 {
		t.Errorf("wideBucket(max, 32) = %d", got)
	}
}

func BenchmarkHash(b *testing.B) {
	for _, n := range []int{8, 32, 128} {
		v := strings.Repeat("x", n)
		b.Run(fmt.Sprintf("len=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			var sink uint64
			for b.Loop() {
				sink += Hash(1, 2, v)
			}
			_ = sink
		})
	}
}
