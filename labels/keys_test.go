package labels_test

import (
	"fmt"
	"testing"

	"github.com/callrep/callrep/labels"
)

// TestKeys: interned keys come back as they went in, across the table's
// growth, for full numbers and region-scoped keys alike, and unknown keys
// are not found.
func TestKeys(t *testing.T) {
	k := labels.NewKeys()
	var keys []string
	for i := range 50_000 {
		keys = append(keys, fmt.Sprintf("+1202%07d", i*37))
		if i%1000 == 0 {
			keys = append(keys, fmt.Sprintf("CN:95%03d", i/1000), fmt.Sprintf("+%019d", i+1)) // too long for a code
		}
	}
	ids := map[string]uint32{}
	for _, key := range keys {
		ids[key] = k.Intern(key)
	}
	if k.Len() != len(keys) {
		t.Fatalf("Len: got %d, want %d", k.Len(), len(keys))
	}
	for _, key := range keys {
		id, ok := k.Lookup(key)
		if !ok || id != ids[key] || k.Key(id) != key || k.Intern(key) != id {
			t.Fatalf("%s: Lookup %d %v, Key %q; want id %d", key, id, ok, k.Key(id), ids[key])
		}
	}
	if id, ok := k.LookupE164(12020000037); !ok || k.Key(id) != "+12020000037" {
		t.Fatalf("LookupE164: got %d, %v", id, ok)
	}
	for _, unknown := range []string{"+12029999999", "CN:95999", "+0123", "", "+"} {
		if _, ok := k.Lookup(unknown); ok {
			t.Errorf("%q found, never interned", unknown)
		}
	}
}
