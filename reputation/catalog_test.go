package reputation_test

import (
	"slices"
	"testing"
	"time"

	"github.com/callrep/callrep/reputation"
)

func catalogWorld(t *testing.T) *reputation.Catalog {
	t.Helper()
	w := newWorld(nil)
	ids := w.established("c", 6, 60*24*time.Hour)
	// Keys chosen so that string order and numeric order differ.
	for _, key := range []string{"+8613800138000", "+14155550100", "+442079460958", "+9715000000"} {
		for _, id := range ids[:4] {
			w.label(id, key, "fraud")
		}
	}
	for _, id := range ids[:3] {
		w.label(id, "+12025550199", "promotion")
	}
	for _, id := range ids[:2] {
		w.label(id, "+8613912345678", "delivery")
	}
	for _, id := range ids[:3] {
		w.label(id, "CN:95588", "fraud")
	}
	w.label(ids[5], "+8613700000000", "fraud") // one reporter: no verdict
	return reputation.BuildCatalog(w.e, reputation.CatalogConfig{BlockConfidence: 0}, w.clock.Now())
}

func TestCatalogLists(t *testing.T) {
	c := catalogWorld(t)
	want := map[string][]string{
		reputation.ListFraud:  {"+14155550100", "+442079460958", "+8613800138000", "+9715000000", "CN:95588"},
		reputation.ListSpam:   {"+12025550199"},
		reputation.ListBenign: {"+8613912345678"},
	}
	for name, keys := range want {
		if !slices.Equal(c.Lists[name], keys) {
			t.Errorf("%s: got %v, want %v", name, c.Lists[name], keys)
		}
	}
	// 8 numbers above plus the 6 the established reporters labelled before.
	if len(c.Lists[reputation.ListAll]) != 14 || !slices.IsSorted(c.Lists[reputation.ListAll]) {
		t.Errorf("all: %v", c.Lists[reputation.ListAll])
	}
	h := reputation.KeyHash("+12025550199")
	got := c.Prefix(h[:5])
	if len(got) != 1 || got[0].SHA256 != h || got[0].Verdict != reputation.VerdictSpam || got[0].TopCategory != "promotion" {
		t.Errorf("prefix bucket: %+v", got)
	}
	if h := reputation.KeyHash("+8613700000000"); len(c.Prefix(h[:5])) != 0 {
		t.Error("an unflagged number is in its bucket")
	}
}

// TestCallKitOrder checks the rule iOS enforces strictly: entries ascend
// by number with no duplicates; service keys are left out.
func TestCallKitOrder(t *testing.T) {
	c := catalogWorld(t)
	for _, kind := range []string{"block", "identify"} {
		es := c.CallKit(kind)
		if len(es) == 0 {
			t.Fatalf("%s: empty", kind)
		}
		for i := 1; i < len(es); i++ {
			if es[i-1].Number >= es[i].Number {
				t.Fatalf("%s: entry %d (%d) not above %d", kind, i, es[i].Number, es[i-1].Number)
			}
		}
		for _, e := range es {
			if (kind == "identify") != (e.Label != "") {
				t.Fatalf("%s: label %q on %d", kind, e.Label, e.Number)
			}
		}
	}
	es := c.CallKit("identify")
	if es[0].Number != 9715000000 || es[0].Label != "Suspected fraud" || es[1].Label != "Spam: Sales & promotion" {
		t.Fatalf("identify entries %+v", es)
	}
}
