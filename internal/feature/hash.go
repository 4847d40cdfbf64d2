package feature

import (
	"math/bits"
	"unsafe"
)

// The hash is part of every model that stores embedding rows or wide
// weights keyed by feature IDs: changing any constant or step below
// changes every ID and silently invalidates saved models. TestHashGolden
// pins its output.
//
// It is a wyhash-style multiply-mix hash (the structure of Wang Yi's
// public-domain wyhash, written from its description: 64×64→128-bit
// multiplies folded by XOR, 48-byte stripes for long inputs). It is not
// claimed to be bit-compatible with any wyhash release, and it is not a
// cryptographic hash: an adversary who knows the seed can make collisions.
// It is deterministic across processes, machines and Go versions (unlike
// hash/maphash) because it depends only on its inputs.
const (
	hp0 = 0xa0761d6478bd642f
	hp1 = 0xe7037ed1a0b428db
	hp2 = 0x8ebc6af09c88c6e3
	hp3 = 0x589965cc75374cc3
)

// mum folds the 128-bit product of a and b into 64 bits.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// mix64 is the SplitMix64 finalizer, a bijection on uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// r8 and r4 read little-endian words from s at i.
func r8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func r4(s string, i int) uint64 {
	_ = s[i+3]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24
}

// hashString is the seeded 64-bit hash of s.
func hashString(seed uint64, s string) uint64 {
	n := len(s)
	seed ^= mum(seed^hp0, hp1)
	var a, b uint64
	switch {
	case n >= 4 && n <= 16:
		q := (n >> 3) << 2
		a = r4(s, 0)<<32 | r4(s, q)
		b = r4(s, n-4)<<32 | r4(s, n-4-q)
	case n > 0 && n < 4:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	case n > 16:
		i, rem := 0, n
		if rem > 48 {
			s1, s2 := seed, seed
			for rem > 48 {
				seed = mum(r8(s, i)^hp1, r8(s, i+8)^seed)
				s1 = mum(r8(s, i+16)^hp2, r8(s, i+24)^s1)
				s2 = mum(r8(s, i+32)^hp3, r8(s, i+40)^s2)
				i += 48
				rem -= 48
			}
			seed ^= s1 ^ s2
		}
		for rem > 16 {
			seed = mum(r8(s, i)^hp1, r8(s, i+8)^seed)
			i += 16
			rem -= 16
		}
		a, b = r8(s, n-16), r8(s, n-8)
	}
	a ^= hp1
	b ^= seed
	hi, lo := bits.Mul64(a, b)
	return mum(lo^hp0^uint64(n), hi^hp1)
}

// fieldKey derives the hash seed of field index field from the schema
// seed, so that equal strings in different fields hash to unrelated IDs.
func fieldKey(seed uint64, field int) uint64 {
	return seed ^ mix64(uint64(field)*hp0+hp1)
}

// Hash returns the 64-bit feature ID of value in field number field under
// seed. It is deterministic (the same on every machine and in every
// process), allocation-free, and mixes field into the result: equal values
// in different fields get unrelated IDs. The value is hashed as given;
// Schema.Encode trims surrounding white space first.
func Hash(seed uint64, field int, value string) uint64 {
	return hashString(fieldKey(seed, field), value)
}

// HashBytes is Hash of a byte slice; it does not retain or modify value.
func HashBytes(seed uint64, field int, value []byte) uint64 {
	if len(value) == 0 {
		return Hash(seed, field, "")
	}
	return Hash(seed, field, unsafe.String(&value[0], len(value)))
}

// crossKey derives the seed of cross number c from the schema seed.
func crossKey(seed uint64, c int) uint64 {
	return seed ^ mix64(uint64(c)*hp2+hp3)
}

// combine folds one component ID into a cross hash. The fold is ordered:
// crossing (a, b) and (b, a) give different IDs.
func combine(h, id uint64) uint64 {
	return mum(h^id^hp0, mix64(h)^hp1)
}

// wideSalt separates the wide bucket hash from the ID hash.
const wideSalt = 0x452821e638d01377

// wideBucket maps id into [0, 2^bitsK) for 1 ≤ bitsK ≤ 32 using the
// high bits of a bijective mix, so every bit of id affects the bucket.
func wideBucket(id uint64, bitsK uint) uint32 {
	return uint32(mix64(id^wideSalt) >> (64 - bitsK))
}
