package reputation

import (
	"maps"
	"slices"
	"testing"
)

// callKitList reads b as a CallKit list: each byte pair is a number (from
// a small range, so that the lists overlap) and a label, each number once.
func callKitList(b []byte) map[uint64]string {
	labels := []string{"", "Fraud", "Spam", "诈骗", "a\tb"}
	out := map[uint64]string{}
	for i := 0; i+1 < len(b); i += 2 {
		out[8613800138000+uint64(b[i]%64)] = labels[int(b[i+1])%len(labels)]
	}
	return out
}

func callKitListKeys(m map[uint64]string) []string {
	es := make([]CallKitEntry, 0, len(m))
	for n, l := range m {
		es = append(es, CallKitEntry{Number: n, Label: l})
	}
	keys := callKitKeys(es)
	slices.Sort(keys)
	return keys
}

// FuzzCallKitDelta: the keys of a CallKit list decode to its entries, and
// a phone that applies a delta (removals, then additions) to the list it
// holds ends with the current list.
func FuzzCallKitDelta(f *testing.F) {
	f.Add([]byte{}, []byte{1, 1})
	f.Add([]byte{1, 1, 2, 2}, []byte{1, 2, 3, 0})
	f.Add([]byte{5, 4, 6, 3}, []byte{})
	f.Fuzz(func(t *testing.T, oldB, curB []byte) {
		old, cur := callKitList(oldB), callKitList(curB)
		oldKeys, curKeys := callKitListKeys(old), callKitListKeys(cur)
		decoded := map[uint64]string{}
		for _, e := range decodeCallKit(curKeys) {
			decoded[e.Number] = e.Label
		}
		if !maps.Equal(decoded, cur) {
			t.Fatalf("decoded %v, want %v", decoded, cur)
		}
		entries, removed := callKitDelta(oldKeys, curKeys)
		if !slices.IsSortedFunc(entries, func(a, b CallKitEntry) int { return cmpUint(a.Number, b.Number) }) || !slices.IsSorted(removed) {
			t.Fatalf("delta not in ascending order: %v, %v", entries, removed)
		}
		held := maps.Clone(old)
		for _, n := range removed {
			if _, ok := held[n]; !ok {
				t.Fatalf("removes %d, which the phone does not hold", n)
			}
			delete(held, n)
		}
		for _, e := range entries {
			held[e.Number] = e.Label
		}
		if !maps.Equal(held, cur) {
			t.Fatalf("old %v + delta (%v, -%v) = %v, want %v", old, entries, removed, held, cur)
		}
	})
}
