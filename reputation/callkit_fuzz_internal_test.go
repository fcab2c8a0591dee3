package reputation

import (
	"maps"
	"slices"
	"testing"
)

// callKitList reads b as a CallKit list: each byte pair is a number (from
// a small range, so that the lists overlap) and what it is flagged as,
// each number once.
func callKitList(b []byte) map[uint64]CallKitEntry {
	flags := []struct {
		v   Verdict
		cat string
	}{{VerdictFraud, "fraud"}, {VerdictSpam, "promotion"}, {VerdictSpam, "harassment"}, {VerdictBenign, "delivery"}, {VerdictFraud, ""}}
	out := map[uint64]CallKitEntry{}
	for i := 0; i+1 < len(b); i += 2 {
		n := 8613800138000 + uint64(b[i]%64)
		f := flags[int(b[i+1])%len(flags)]
		out[n] = CallKitEntry{Number: n, Verdict: f.v, Category: f.cat}
	}
	return out
}

func callKitListKeys(m map[uint64]CallKitEntry) map[string]bool {
	keys := map[string]bool{}
	for _, k := range callKitKeys(slices.Collect(maps.Values(m))) {
		keys[k] = true
	}
	return keys
}

// minus returns the keys of a that b lacks.
func minus(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if !b[k] {
			out[k] = true
		}
	}
	return out
}

// FuzzCallKitDelta: the keys of a CallKit list decode to its entries, and
// a phone that applies a delta (removals, then additions) to the list it
// holds ends with the current list, labels in the asked language included.
func FuzzCallKitDelta(f *testing.F) {
	f.Add([]byte{}, []byte{1, 1})
	f.Add([]byte{1, 1, 2, 2}, []byte{1, 2, 3, 0})
	f.Add([]byte{5, 4, 6, 3}, []byte{})
	f.Fuzz(func(t *testing.T, oldB, curB []byte) {
		const lang = "zh-Hans"
		old, cur := callKitList(oldB), callKitList(curB)
		oldKeys, curKeys := callKitListKeys(old), callKitListKeys(cur)
		labelled := func(m map[uint64]CallKitEntry) map[uint64]string {
			out := map[uint64]string{}
			for n, e := range m {
				out[n] = CallKitLabel(e.Verdict, e.Category, lang)
			}
			return out
		}
		decoded := map[uint64]string{}
		for _, e := range decodeCallKit(slices.Collect(maps.Keys(curKeys)), lang) {
			decoded[e.Number] = e.Label
		}
		if want := labelled(cur); !maps.Equal(decoded, want) {
			t.Fatalf("decoded %v, want %v", decoded, want)
		}
		entries, removed := callKitDelta(minus(curKeys, oldKeys), minus(oldKeys, curKeys), lang)
		if !slices.IsSortedFunc(entries, func(a, b CallKitEntry) int { return cmpUint(a.Number, b.Number) }) || !slices.IsSorted(removed) {
			t.Fatalf("delta not in ascending order: %v, %v", entries, removed)
		}
		held := labelled(old)
		for _, n := range removed {
			if _, ok := held[n]; !ok {
				t.Fatalf("removes %d, which the phone does not hold", n)
			}
			delete(held, n)
		}
		for _, e := range entries {
			held[e.Number] = e.Label
		}
		if want := labelled(cur); !maps.Equal(held, want) {
			t.Fatalf("old %v + delta (%v, -%v) = %v, want %v", old, entries, removed, held, want)
		}
	})
}
