package reputation_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
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
	if len(c.Lists) != len(reputation.PublicLists) {
		t.Errorf("lists %v, want only the public ones", slices.Collect(maps.Keys(c.Lists)))
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

// TestInvalidNumbersBlockedOnlyWhenHeavilyReported: a number that is not
// valid (what spoofed caller IDs look like) is warned about as fraud but
// blocked only with InvalidBlockReporters distinct reporters.
func TestInvalidNumbersBlockedOnlyWhenHeavilyReported(t *testing.T) {
	w := newWorld(nil)
	ids := w.established("i", 10, 60*24*time.Hour)
	invalid := func(l *labels.Label) { l.Valid = false }
	for _, id := range ids[:3] {
		w.label(id, "+10000000000", "fraud", invalid)
		w.label(id, "+8613800138000", "fraud")
	}
	for _, id := range ids {
		w.label(id, "+10000000001", "fraud", invalid)
	}
	c := reputation.BuildCatalog(w.e, reputation.CatalogConfig{BlockConfidence: 0, InvalidBlockReporters: 10}, w.clock.Now())
	if want := []string{"+10000000001", "+8613800138000"}; !slices.Equal(c.Lists[reputation.ListBlock], want) {
		t.Fatalf("block: got %v, want %v", c.Lists[reputation.ListBlock], want)
	}
	if !slices.Contains(c.Lists[reputation.ListFraud], "+10000000000") {
		t.Fatal("the lightly reported invalid number left the fraud list")
	}
}

// TestCallKitLanguageAndLimit: identification labels in the requested
// language, a cap that keeps the most strongly flagged entries the same
// way every time, and full exports for a capped list.
func TestCallKitLanguageAndLimit(t *testing.T) {
	w := newWorld(nil)
	ids := w.established("k", 6, 60*24*time.Hour)
	for i, key := range []string{"+8613800138000", "+8613800138001", "+8613800138002"} {
		for _, id := range ids[:3+i] { // more reporters: a higher score
			w.label(id, key, "fraud")
		}
	}
	for _, id := range ids[:3] {
		w.label(id, "+12025550199", "promotion")
	}
	p := reputation.NewPublisher(reputation.DefaultPublisherConfig(), w.e, nil, nil)
	if err := p.Rebuild(t.Context()); err != nil {
		t.Fatal(err)
	}
	ex, err := p.CallKit(reputation.CallKitQuery{Kind: "identify", Lang: "zh-Hant"})
	if err != nil || len(ex.Entries) != 4 || ex.Entries[0].Label != "騷擾：廣告推銷" || ex.Entries[1].Label != "疑似詐騙" {
		t.Fatalf("zh-Hant: got %+v %v", ex.Entries, err)
	}
	capped, err := p.CallKit(reputation.CallKitQuery{Kind: "identify", Limit: 2})
	if err != nil || len(capped.Entries) != 2 || !capped.Full {
		t.Fatalf("limit 2: got %+v %v", capped, err)
	}
	if capped.Entries[0].Number != 8613800138001 || capped.Entries[1].Number != 8613800138002 {
		t.Fatalf("limit 2 kept %+v, want the two most reported numbers", capped.Entries)
	}
	if again, _ := p.CallKit(reputation.CallKitQuery{Kind: "identify", Since: capped.Version, Limit: 2}); !again.Full || len(again.Entries) != 2 {
		t.Fatalf("a capped list since its own version: got %+v, want the full capped list", again)
	}
	if _, err := p.CallKit(reputation.CallKitQuery{Kind: "identify", Lang: "fr"}); labels.ErrorCode(err) != labels.EInvalid {
		t.Fatalf("lang fr: got %v, want %s", err, labels.EInvalid)
	}

	// A verified number nobody labelled has no score, and a capped list
	// keeps it all the same: its name is what the list is for.
	bank := labels.Number{Key: "+8695588000", Valid: true}
	w.e.SetOverride(bank.Key, reputation.Override{CallerName: "ICBC", Outcome: "verified_business"})
	if err := p.Rebuild(t.Context()); err != nil {
		t.Fatal(err)
	}
	capped, err = p.CallKit(reputation.CallKitQuery{Kind: "identify", Limit: 2})
	if err != nil || len(capped.Entries) != 2 {
		t.Fatalf("limit 2 with a verified number: got %+v %v", capped, err)
	}
	if !slices.ContainsFunc(capped.Entries, func(e reputation.CallKitEntry) bool {
		return e.Number == 8695588000 && e.Verdict == reputation.VerdictVerified && e.Category == "ICBC"
	}) || !slices.ContainsFunc(capped.Entries, func(e reputation.CallKitEntry) bool { return e.Number == 8613800138002 }) {
		t.Fatalf("limit 2 kept %+v, want the verified number and the most reported one", capped.Entries)
	}
}
