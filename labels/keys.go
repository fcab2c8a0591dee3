package labels

import (
	"strconv"
	"strings"
	"sync"
)

// Keys interns number keys as small dense integers, so that a national
// list of tens of millions of numbers is held as integers rather than
// strings. A full number's key ("+8613800138000") is kept as its E.164
// digits in a uint64; region-scoped keys ("CN:95588") and anything else go
// to a side table. Ids are never reused: a number whose last label goes
// keeps its id, which costs 12 bytes.
//
// One Keys is shared by the labels service and the reputation engine (see
// Options.Keys), so each number is interned once. It is safe for
// concurrent use.
type Keys struct {
	mu     sync.RWMutex
	ids    idTable           // code → id
	codes  []uint64          // id → code
	scoped map[string]uint64 // scoped key → code
	names  []string          // scoped code index → key
}

// scopedBit marks a code that indexes the side table.
const scopedBit = 1 << 63

// maxDigitCode is the longest E.164 digit string kept as a number: 18
// digits stay below 2^63; E.164 allows 15.
const maxDigitCode = 18

// NewKeys returns an empty interner.
func NewKeys() *Keys {
	return &Keys{scoped: map[string]uint64{}}
}

// E164Digits returns the digits of a full number's key ("+8613800138000")
// as an integer; ok is false for other keys and for more than 18 digits.
func E164Digits(key string) (uint64, bool) { return digitCode(key) }

// digitCode returns the integer code of a "+digits" key.
func digitCode(key string) (uint64, bool) {
	if len(key) < 2 || len(key) > maxDigitCode+1 || key[0] != '+' || key[1] == '0' {
		return 0, false
	}
	var v uint64
	for i := 1; i < len(key); i++ {
		c := key[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// code returns key's code without adding it; ok is false for a scoped key
// not yet interned.
func (k *Keys) codeLocked(key string) (uint64, bool) {
	if c, ok := digitCode(key); ok {
		return c, true
	}
	c, ok := k.scoped[key]
	return c, ok
}

// Lookup returns the id of key if it was interned.
func (k *Keys) Lookup(key string) (uint32, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	c, ok := k.codeLocked(key)
	if !ok {
		return 0, false
	}
	return k.ids.get(c)
}

// LookupE164 returns the id of the full number whose E.164 digits are
// digits, if it was interned; it is Lookup without building the key.
func (k *Keys) LookupE164(digits uint64) (uint32, bool) {
	if digits&scopedBit != 0 {
		return 0, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.ids.get(digits)
}

// Intern returns the id of key, adding it when new.
func (k *Keys) Intern(key string) uint32 {
	if id, ok := k.Lookup(key); ok {
		return id
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.codeLocked(key)
	if !ok {
		c = scopedBit | uint64(len(k.names))
		k.names = append(k.names, strings.Clone(key))
		k.scoped[k.names[len(k.names)-1]] = c
	}
	if id, ok := k.ids.get(c); ok {
		return id
	}
	return k.ids.add(c)
}

// Key returns the key of id, which must come from Intern.
func (k *Keys) Key(id uint32) string {
	k.mu.RLock()
	c := k.ids.codes[id]
	if c&scopedBit != 0 {
		name := k.names[c&^scopedBit]
		k.mu.RUnlock()
		return name
	}
	k.mu.RUnlock()
	return "+" + strconv.FormatUint(c, 10)
}

// Len returns how many keys were interned.
func (k *Keys) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.ids.codes)
}

// ReporterKey is the 64-bit identity under which the live state holds a
// reporter: a stable hash of the reporter id (FNV-1a, then a 64-bit
// finaliser), the same across restarts and processes. Reporter ids are
// issued by the auth provider or derived from import records, not chosen
// by users; at 10^8 reporters the chance of any collision is about 3·10^-4,
// and a collision merges two reporters' labels on numbers both labelled.
func ReporterKey(reporter string) uint64 { return hash64(reporter) }

// PrefixKey is the 32-bit form of a network prefix that burst detection
// compares; 0 for none. Loopback prefixes are none: they name the host
// itself (a developer's machine, or a proxy callrep was not told about, whose
// clients would otherwise all share one network), not a network of clients.
func PrefixKey(prefix string) uint32 {
	if prefix == "" || strings.HasPrefix(prefix, "127.") || prefix == "::/48" {
		return 0
	}
	h := uint32(hash64(prefix) >> 32)
	if h == 0 {
		h = 1
	}
	return h
}

func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	// splitmix64's finaliser spreads FNV's weak low bits.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// idTable maps codes to dense ids: codes[id] is the code of id, and an
// open-addressing table of ids (linear probing, load at most 3/4) finds
// the id of a code. A slot is 4 bytes, where a Go map costs 17 at 7/8
// and more between its doublings; a probe reads the code it compares
// from codes. Nothing is ever deleted.
type idTable struct {
	codes []uint64 // id → code
	slots []uint32 // id+1, 0 for an empty slot
}

func (t *idTable) slot(code uint64) int {
	// Fibonacci hashing spreads consecutive numbers.
	return int((code * 0x9e3779b97f4a7c15) >> 32 & uint64(len(t.slots)-1))
}

func (t *idTable) get(code uint64) (uint32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	for i := t.slot(code); ; i = (i + 1) & (len(t.slots) - 1) {
		v := t.slots[i]
		if v == 0 {
			return 0, false
		}
		if t.codes[v-1] == code {
			return v - 1, true
		}
	}
}

// add gives a code that is not in the table the next id.
func (t *idTable) add(code uint64) uint32 {
	if (len(t.codes)+1)*4 > len(t.slots)*3 {
		t.resize(max(1024, 2*len(t.slots)))
	}
	id := uint32(len(t.codes))
	t.codes = append(t.codes, code)
	t.place(code, id)
	return id
}

func (t *idTable) place(code uint64, id uint32) {
	i := t.slot(code)
	for t.slots[i] != 0 {
		i = (i + 1) & (len(t.slots) - 1)
	}
	t.slots[i] = id + 1
}

func (t *idTable) resize(size int) {
	t.slots = make([]uint32, size)
	for id, c := range t.codes {
		t.place(c, uint32(id))
	}
}
