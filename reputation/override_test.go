package reputation_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

// TestWhitewashNeedsCorroboration is the first trust hole: a scammer's
// week-old account labelling its own number safe must not make it safe,
// nor benign; two independent accounts, or a moderator, do.
func TestWhitewashNeedsCorroboration(t *testing.T) {
	for _, tc := range []struct {
		name    string
		good    []string // categories of week-old accounts
		mod     string   // a moderator's category, if any
		verdict reputation.Verdict
	}{
		{"OneSafe", []string{"safe"}, "", reputation.VerdictUnknown},
		{"OneCustomerService", []string{"customer_service"}, "", reputation.VerdictUnknown},
		{"TwoSafe", []string{"safe", "safe"}, "", reputation.VerdictSafe},
		{"DeliveryAndSafe", []string{"delivery", "safe"}, "", reputation.VerdictBenign},
		{"ModeratorAlone", nil, "safe", reputation.VerdictSafe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const num = "+8613700001111"
			w := newWorld(nil)
			ids := w.established("wk", len(tc.good), 8*24*time.Hour)
			for i, c := range tc.good {
				w.label(ids[i], num, c)
			}
			if tc.mod != "" {
				w.label("mod", num, tc.mod, source(labels.SourceModerator))
			}
			if r := w.lookup(num); r.Verdict != tc.verdict {
				t.Fatalf("verdict: got %s, want %s (evidence %v)", r.Verdict, tc.verdict, r.Evidence)
			}
		})
	}
}

// TestFourAccountsFromOnePrefix is the second trust hole: four established
// accounts from one /24 within an hour made a number fraud with no flag.
// Now the third label from one prefix within the window is capped and
// flagged; the same four from four networks still make it fraud.
func TestFourAccountsFromOnePrefix(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prefix  func(i int) string
		verdict reputation.Verdict
		flagged bool
	}{
		{"OnePrefix", func(int) string { return "198.51.100.0/24" }, reputation.VerdictUnknown, true},
		{"FourPrefixes", func(i int) string { return fmt.Sprintf("198.51.%d.0/24", 10+i) }, reputation.VerdictFraud, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const num = "+8613700002222"
			w := newWorld(nil)
			ids := w.established("est", 4, 90*24*time.Hour)
			for i, id := range ids {
				w.clock.Set(t0.Add(time.Duration(i) * 10 * time.Minute))
				w.label(id, num, "fraud", fromPrefix(tc.prefix(i)))
			}
			if r := w.lookup(num); r.Verdict != tc.verdict {
				t.Fatalf("verdict: got %s, want %s (evidence %v)", r.Verdict, tc.verdict, r.Evidence)
			}
			flags := w.e.Flags()
			if got := len(flags) == 1 && flags[0].Reasons[reputation.FlagBurstPrefix].After(t0); got != tc.flagged {
				t.Fatalf("flagged for one prefix: got %v, want %v (flags %+v)", got, tc.flagged, flags)
			}
		})
	}
}

// TestClearAndRestore: an override clears the labels made before it
// (they stay listed but stop counting), later labels count, a moderator's
// label always counts, and removing the override restores the evidence
// exactly.
func TestClearAndRestore(t *testing.T) {
	const num = "+8613700003333"
	w := newWorld(nil)
	ids := w.established("c", 6, 90*24*time.Hour)
	for _, id := range ids[:5] {
		w.label(id, num, "fraud")
	}
	before := w.lookup(num)
	if before.Verdict != reputation.VerdictFraud {
		t.Fatalf("no fraud verdict to begin with: %+v", before)
	}
	w.clock.Set(t0.Add(time.Hour))
	w.label("mod", num, "safe", source(labels.SourceModerator))
	w.e.SetOverride(num, reputation.Override{ClearedAt: w.clock.Now(), Outcome: "overturned"})
	r := w.lookup(num)
	if r.Verdict != reputation.VerdictSafe || r.Evidence["fraud"] != 0 || r.Reporters != 6 || r.Outcome != "overturned" {
		t.Fatalf("after clearing: %s evidence %v reporters %d outcome %q", r.Verdict, r.Evidence, r.Reporters, r.Outcome)
	}
	ex := w.e.Explain(labels.Number{Key: num, Valid: true}, 0)
	counted := 0
	for _, c := range ex.Contributions {
		if c.Counted {
			counted++
		}
	}
	if len(ex.Contributions) != 6 || counted != 1 {
		t.Fatalf("explain: %d contributions, %d counted; want 6 and 1", len(ex.Contributions), counted)
	}
	w.clock.Set(t0.Add(2 * time.Hour))
	w.label(ids[5], num, "fraud")
	if r := w.lookup(num); r.Evidence["fraud"] == 0 {
		t.Fatalf("a label after the clearing does not count: %v", r.Evidence)
	}
	w.retract(ids[5], num)
	w.retract("mod", num)
	w.e.SetOverride(num, reputation.Override{})
	w.clock.Set(t0)
	after := w.lookup(num)
	if after.Verdict != reputation.VerdictFraud || math.Abs(after.Evidence["fraud"]-before.Evidence["fraud"]) > 1e-9 {
		t.Fatalf("restored: %s %v, want %s %v", after.Verdict, after.Evidence, before.Verdict, before.Evidence)
	}
	if _, ok := w.e.OverrideOf(num); ok {
		t.Fatal("the zero override was kept")
	}
}

// TestClearedBeforeLoad: labels replayed after the override was set (a
// restart loads moderation after or before the labels) are cleared too.
func TestClearedBeforeLoad(t *testing.T) {
	const num = "+8613700004444"
	w := newWorld(nil)
	w.e.SetOverride(num, reputation.Override{ClearedAt: t0.Add(time.Minute)})
	for _, id := range w.established("l", 4, 90*24*time.Hour) {
		w.label(id, num, "fraud")
	}
	if r := w.lookup(num); r.Evidence["fraud"] != 0 || r.Verdict != reputation.VerdictUnknown {
		t.Fatalf("replayed labels count: %s %v", r.Verdict, r.Evidence)
	}
}

// TestVerifiedWithSpoofing: a verified number stays verified whatever its
// labels say; a fraud spike shows as spoofed_risk, the number stays off
// the warning lists and CallKit identifies it by its name until the pin
// expires.
func TestVerifiedWithSpoofing(t *testing.T) {
	const support = "+18005550100"
	w := newWorld(nil)
	w.e.SetOverride(support, reputation.Override{CallerName: "Acme Support", VerifiedUntil: t0.Add(30 * 24 * time.Hour)})
	r := w.lookup(support)
	if r.Verdict != reputation.VerdictVerified || r.CallerName != "Acme Support" || r.SpoofedRisk {
		t.Fatalf("unlabelled verified number: %+v", r)
	}
	for i := range 5 {
		w.label(fmt.Sprint("ftc:", i), support, "fraud", source(labels.ImportSource("ftc")))
	}
	r = w.lookup(support)
	if r.Verdict != reputation.VerdictVerified || !r.SpoofedRisk || r.CallerName != "Acme Support" {
		t.Fatalf("under a fraud spike: verdict %s spoofed %v name %q", r.Verdict, r.SpoofedRisk, r.CallerName)
	}
	cat := reputation.BuildCatalog(w.e, reputation.DefaultCatalogConfig(), w.clock.Now())
	for _, list := range reputation.PublicLists {
		if slices.Contains(cat.Lists[list], support) {
			t.Fatalf("verified number on the %s list", list)
		}
	}
	if !slices.ContainsFunc(cat.CallKit("identify"), func(e reputation.CallKitEntry) bool {
		return e.Number == 18005550100 && e.Label == "Acme Support"
	}) {
		t.Fatalf("CallKit identify lacks the caller name: %+v", cat.CallKit("identify"))
	}
	ex := reputation.LiveCallerID(cat, reputation.LiveCallerIDOptions{})
	if block := decodeKeywordDatabase(t, ex.Block); len(block) != 1 || block[0] != (row{support, "\x00"}) {
		t.Fatalf("Live Caller ID block rows: %q, want the support line unblocked", block)
	}
	identity := decodeKeywordDatabase(t, ex.Identity)
	if len(identity) != 1 {
		t.Fatalf("Live Caller ID identity rows: %q", identity)
	}
	if name, _, category := decodeIdentity(t, []byte(identity[0].value)); name != "Acme Support" || category != 2 {
		t.Fatalf("Live Caller ID identity: %q category %d, want the caller name as a business", name, category)
	}
	w.clock.Set(t0.Add(31 * 24 * time.Hour))
	if r := w.lookup(support); r.Verdict != reputation.VerdictFraud || r.CallerName != "" {
		t.Fatalf("after the pin expired: %s %q", r.Verdict, r.CallerName)
	}
}

// TestContested: strong evidence on both sides puts a number on the
// catalog's contested list.
func TestContested(t *testing.T) {
	w := newWorld(nil)
	ids := w.established("x", 8, 90*24*time.Hour)
	for i, id := range ids {
		cat := "fraud"
		if i%2 == 1 {
			cat = "delivery"
		}
		w.label(id, "+8613700005555", cat)
		if i < 4 {
			w.label(id, "+8613700006666", "fraud")
		}
	}
	cat := reputation.BuildCatalog(w.e, reputation.DefaultCatalogConfig(), w.clock.Now())
	if !slices.Equal(cat.Contested, []string{"+8613700005555"}) {
		t.Fatalf("contested: got %v, want the mixed number only", cat.Contested)
	}
}

// TestStoredOverrides: a rewrite of the stored reputations carries what
// moderation decided, for lookup replicas, including a verified number
// nobody labelled.
func TestStoredOverrides(t *testing.T) {
	ctx := context.Background()
	st, err := reputation.OpenStore(ctx, mongotest.Open(t).DB)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(nil)
	const labelled, verified = "+8613700007777", "+18005550199"
	w.label("u", labelled, "fraud")
	w.e.SetOverride(labelled, reputation.Override{Disputed: true})
	w.e.SetOverride(verified, reputation.Override{CallerName: "Acme Support", Outcome: "verified_business"})
	if err := st.Rebuild(ctx, w.e, nil); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := st.Get(ctx, labelled); err != nil || !ok || !r.Disputed || r.Reporters != 1 {
		t.Fatalf("%s: %+v %v %v", labelled, r, ok, err)
	}
	r, ok, err := st.Get(ctx, verified)
	if err != nil || !ok || r.Verdict != reputation.VerdictVerified || r.CallerName != "Acme Support" || r.Outcome != "verified_business" {
		t.Fatalf("%s: %+v %v %v", verified, r, ok, err)
	}
}
