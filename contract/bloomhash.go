package contract

import (
	"encoding/binary"
	"math/bits"
)

// This file is the filter hash exactly as docs/phone-contract.md states
// it, written from the document and not from bits-and-blooms/bloom/v3;
// TestHashMatchesBloom holds the two together, and the vectors carry its
// intermediate values for implementers.

// Murmur3 returns MurmurHash3_x64_128 of data with seed 0 as its two
// 64-bit halves h1, h2 (the first and second 8 bytes of the digest, read
// little-endian).
func Murmur3(data []byte) (h1, h2 uint64) {
	const c1, c2 = 0x87c37b91114253d5, 0x4cf5ad432745937f
	n := len(data)
	for len(data) >= 16 {
		k1, k2 := binary.LittleEndian.Uint64(data), binary.LittleEndian.Uint64(data[8:])
		data = data[16:]
		h1 ^= bits.RotateLeft64(k1*c1, 31) * c2
		h1 = (bits.RotateLeft64(h1, 27)+h2)*5 + 0x52dce729
		h2 ^= bits.RotateLeft64(k2*c2, 33) * c1
		h2 = (bits.RotateLeft64(h2, 31)+h1)*5 + 0x38495ab5
	}
	var k1, k2 uint64
	for i := len(data) - 1; i >= 8; i-- {
		k2 = k2<<8 | uint64(data[i])
	}
	for i := min(len(data), 8) - 1; i >= 0; i-- {
		k1 = k1<<8 | uint64(data[i])
	}
	if len(data) > 8 {
		h2 ^= bits.RotateLeft64(k2*c2, 33) * c1
	}
	if len(data) > 0 {
		h1 ^= bits.RotateLeft64(k1*c1, 31) * c2
	}
	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1, h2 = fmix64(h1), fmix64(h2)
	h1 += h2
	h2 += h1
	return h1, h2
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// BaseHashes are the four 64-bit values a key's bit positions come from:
// Murmur3 of the key, then Murmur3 of the key with one byte 0x01 appended.
func BaseHashes(key []byte) [4]uint64 {
	h1, h2 := Murmur3(key)
	h3, h4 := Murmur3(append(append([]byte(nil), key...), 1))
	return [4]uint64{h1, h2, h3, h4}
}

// Location is the i-th position (before reduction mod m) of a key with
// base hashes h, in wrapping 64-bit arithmetic:
// h[i mod 2] + i·h[2 + ((i + i mod 2) mod 4) / 2].
func Location(h [4]uint64, i uint64) uint64 {
	return h[i%2] + i*h[2+((i+i%2)%4)/2]
}

// Member tests key against a filter's bitset of m bits and k positions,
// words as the file carries them: bit j is bit j mod 64 (least significant
// first) of 64-bit word j / 64, each word big-endian.
func Member(words []byte, m, k uint64, key []byte) bool {
	h := BaseHashes(key)
	for i := range k {
		j := Location(h, i) % m
		if binary.BigEndian.Uint64(words[j/64*8:])>>(j%64)&1 == 0 {
			return false
		}
	}
	return true
}
