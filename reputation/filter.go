package reputation

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
)

// Filter snapshots are what phones download to decide offline, in a few
// microseconds, whether a ringing number deserves a warning.
//
// An entry's key is the normalised number exactly as lookups return it in
// `number`, as UTF-8 bytes: "+8613800138000" (E.164, with the plus) or,
// for regional service numbers, the region-scoped key "CN:95588". A phone
// normalises the incoming caller ID the same way and tests those bytes.
//
// Wire format, all integers big-endian:
//
//	offset  size  field
//	0       4     magic "CRBF"
//	4       1     format version, 1
//	5       1     flags: bit 0 set = delta (keys added since base)
//	6       1     name length n (1..32), then n bytes of name
//	7+n     8     version
//	15+n    8     base version (deltas: the version the phone has, ≤ version;
//	              0 for full snapshots)
//	23+n    8     created, Unix seconds
//	31+n    8     entries
//	39+n    8     capacity
//	47+n    8     target false-positive rate, IEEE 754 bits
//	55+n    ...   bits-and-blooms/bloom/v3 WriteTo: m (8), k (8), bitset
//	              length (8, = m), then ceil(m/64) 64-bit words
//
// The bit positions are bloom/v3's: murmur3-128 based double hashing of the
// key bytes (bloom.Locations(key, k) mod m).
const (
	filterMagic   = "CRBF"
	filterFormat  = 1
	flagDelta     = 1
	maxFilterName = 32
	// maxFilterBits bounds what Parse accepts: 2^34 bits is 2 GiB, far
	// above the 120 MB of 100 million entries at 1%.
	maxFilterBits = 1 << 34
)

// FilterSpec configures one published filter.
type FilterSpec struct {
	Name string
	// FPRate is the target false-positive rate at capacity.
	FPRate float64
	// Headroom is the share of capacity above the current entry count, so
	// that the filter keeps its rate as entries are added by deltas.
	Headroom float64
}

// minCapacity keeps tiny filters from having absurd parameters.
const minCapacity = 1024

// Snapshot is one built filter with its wire bytes.
type Snapshot struct {
	Name     string
	Version  uint64
	Base     uint64 // deltas: the version the delta applies to
	Created  time.Time
	Entries  int
	Capacity int
	M, K     uint
	FPRate   float64
	SHA256   string
	Bytes    []byte
	filter   *bloom.BloomFilter
}

// Delta reports whether s holds only the keys added since Base.
func (s *Snapshot) Delta() bool { return s.Base != 0 }

// Test reports whether key may be in the filter (never false for a key
// that was added).
func (s *Snapshot) Test(key string) bool { return s.filter.TestString(key) }

// OptimalBits is the Bloom optimum m = −n·ln p / (ln 2)², rounded up.
func OptimalBits(n int, p float64) uint {
	return uint(math.Ceil(-float64(n) * math.Log(p) / (math.Ln2 * math.Ln2)))
}

// bloomParams returns the optimal m and k = round(m/n · ln 2) for n keys
// at rate p.
func bloomParams(n int, p float64) (m, k uint) {
	m = OptimalBits(n, p)
	return m, max(uint(math.Round(float64(m)/float64(n)*math.Ln2)), 1)
}

// BuildFilter builds a full snapshot (base 0) or a delta (base > 0) of
// keys. Capacity is the key count plus headroom, at least minCapacity; m
// is the Bloom optimum for it and k = round(m/n · ln 2).
func BuildFilter(spec FilterSpec, keys []string, version, base uint64, created time.Time) (*Snapshot, error) {
	if spec.Name == "" || len(spec.Name) > maxFilterName {
		return nil, fmt.Errorf("reputation: filter name %q must have 1 to %d bytes", spec.Name, maxFilterName)
	}
	if !(spec.FPRate > 0 && spec.FPRate < 1) || spec.Headroom < 0 {
		return nil, fmt.Errorf("reputation: filter %s: rate must be in (0,1) and headroom ≥ 0", spec.Name)
	}
	capacity := max(int(math.Ceil(float64(len(keys))*(1+spec.Headroom))), minCapacity)
	if base != 0 {
		capacity = max(len(keys), 1) // a delta is sized exactly
	}
	m, k := bloomParams(capacity, spec.FPRate)
	f := bloom.New(m, k)
	for _, key := range keys {
		f.AddString(key)
	}
	s := &Snapshot{Name: spec.Name, Version: version, Base: base, Created: time.Unix(created.Unix(), 0).UTC(),
		Entries: len(keys), Capacity: capacity, M: m, K: k, FPRate: spec.FPRate, filter: f}
	var buf bytes.Buffer
	buf.Grow(64 + int(m/8) + 32)
	buf.WriteString(filterMagic)
	flags := byte(0)
	if base != 0 {
		flags |= flagDelta
	}
	buf.Write([]byte{filterFormat, flags, byte(len(spec.Name))})
	buf.WriteString(spec.Name)
	for _, v := range []uint64{version, base, uint64(s.Created.Unix()), uint64(len(keys)), uint64(capacity), math.Float64bits(spec.FPRate)} {
		buf.Write(binary.BigEndian.AppendUint64(nil, v))
	}
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("reputation: serialise filter %s: %w", spec.Name, err)
	}
	s.Bytes = buf.Bytes()
	sum := sha256.Sum256(s.Bytes)
	s.SHA256 = hex.EncodeToString(sum[:])
	return s, nil
}

// ErrBadFilter is wrapped by every Parse error.
var ErrBadFilter = errors.New("bad filter")

// ParseFilter reads and strictly checks a snapshot's bytes; with wantSHA256
// set, the bytes must hash to it. It never panics and never allocates more
// than the input's size justifies, whatever the input.
func ParseFilter(b []byte, wantSHA256 string) (*Snapshot, error) {
	bad := func(format string, args ...any) (*Snapshot, error) {
		return nil, fmt.Errorf("reputation: %w: %s", ErrBadFilter, fmt.Sprintf(format, args...))
	}
	sum := sha256.Sum256(b)
	got := hex.EncodeToString(sum[:])
	if wantSHA256 != "" && got != wantSHA256 {
		return bad("sha256 %s, want %s", got, wantSHA256)
	}
	if len(b) < 7 || string(b[:4]) != filterMagic {
		return bad("no CRBF header")
	}
	if b[4] != filterFormat {
		return bad("format %d, want %d", b[4], filterFormat)
	}
	flags, n := b[5], int(b[6])
	if flags&^flagDelta != 0 || n == 0 || n > maxFilterName {
		return bad("flags %#x or name length %d", flags, n)
	}
	const fixed = 6*8 + 3*8 // header numbers, then m, k, bitset length
	if len(b) < 7+n+fixed {
		return bad("truncated header")
	}
	s := &Snapshot{Name: string(b[7 : 7+n]), SHA256: got}
	r := b[7+n:]
	u := func() uint64 { v := binary.BigEndian.Uint64(r); r = r[8:]; return v }
	s.Version, s.Base = u(), u()
	s.Created = time.Unix(int64(u()), 0).UTC()
	entries, capacity, rate := u(), u(), math.Float64frombits(u())
	payload := r
	m, k, length := u(), u(), u()
	switch {
	case s.Version == 0 || (flags&flagDelta != 0) != (s.Base != 0) || s.Base > s.Version:
		return bad("version %d, base %d", s.Version, s.Base)
	case !(rate > 0 && rate < 1):
		return bad("rate %v", rate)
	case m == 0 || m > maxFilterBits || length != m || k == 0 || k > 64:
		return bad("m %d, k %d, bitset length %d", m, k, length)
	case uint64(len(r)) != 8*((m+63)/64):
		return bad("bitset has %d bytes, want %d", len(r), 8*((m+63)/64))
	case capacity == 0 || entries > capacity || capacity > m:
		return bad("entries %d, capacity %d", entries, capacity)
	}
	f := &bloom.BloomFilter{}
	if _, err := f.ReadFrom(bytes.NewReader(payload)); err != nil {
		return bad("bloom payload: %v", err)
	}
	s.Entries, s.Capacity, s.M, s.K, s.FPRate, s.filter = int(entries), int(capacity), uint(m), uint(k), rate, f
	s.Bytes = b
	return s, nil
}
