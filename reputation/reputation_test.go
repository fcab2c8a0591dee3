package reputation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func label(reporter, key, cat string, at time.Time) *labels.Label {
	return &labels.Label{Reporter: reporter, Key: key, Category: cat, Valid: true, CreatedAt: at, FirstAt: at}
}

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cats    []string
		verdict reputation.Verdict
		top     string
	}{
		{"Nobody", nil, reputation.VerdictUnknown, ""},
		{"OneFraudIsNotPublic", []string{"fraud"}, reputation.VerdictUnknown, "fraud"},
		{"TwoFraud", []string{"fraud", "fraud"}, reputation.VerdictFraud, "fraud"},
		{"FraudAndHarassmentIsSpam", []string{"fraud", "harassment"}, reputation.VerdictSpam, "fraud"},
		{"ThreePromotion", []string{"promotion", "promotion", "real_estate"}, reputation.VerdictSpam, "promotion"},
		{"Delivery", []string{"delivery"}, reputation.VerdictBenign, "delivery"},
		{"DeliveryOutvotesFraud", []string{"delivery", "delivery", "delivery", "fraud"}, reputation.VerdictBenign, "delivery"},
		{"Safe", []string{"safe", "safe"}, reputation.VerdictSafe, "safe"},
		{"TieGoesSevere", []string{"safe", "safe", "fraud", "fraud"}, reputation.VerdictFraud, "fraud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := reputation.NewIndex(reputation.DefaultThresholds(), nil)
			for i, c := range tc.cats {
				ix.LabelChanged(nil, label(fmt.Sprint("u", i), "+8613800138000", c, t0.Add(time.Duration(i)*time.Hour)))
			}
			r := ix.Lookup(labels.Number{Key: "+8613800138000", Valid: true})
			if r.Verdict != tc.verdict || r.TopCategory != tc.top || r.Reporters != len(tc.cats) {
				t.Fatalf("got verdict %s top %q reporters %d, want %s %q %d", r.Verdict, r.TopCategory, r.Reporters, tc.verdict, tc.top, len(tc.cats))
			}
			if r.Score < 0 || r.Score > 100 || r.Confidence < 0 || r.Confidence > 1 {
				t.Fatalf("score %d confidence %v out of range", r.Score, r.Confidence)
			}
			if len(tc.cats) > 0 && (!r.FirstReportedAt.Equal(t0) || !r.LastReportedAt.Equal(t0.Add(time.Duration(len(tc.cats)-1)*time.Hour))) {
				t.Fatalf("first %v last %v", r.FirstReportedAt, r.LastReportedAt)
			}
		})
	}
}

func TestReplaceAndRetractRemoveOldContribution(t *testing.T) {
	ix := reputation.NewIndex(reputation.DefaultThresholds(), nil)
	a := label("a", "+1", "fraud", t0)
	b := label("b", "+1", "fraud", t0)
	ix.LabelChanged(nil, a)
	ix.LabelChanged(nil, b)
	a2 := label("a", "+1", "delivery", t0.Add(time.Hour))
	ix.LabelChanged(a, a2)
	r := ix.Lookup(labels.Number{Key: "+1", Valid: true})
	if r.Reporters != 2 || r.Categories["fraud"] != 1 || r.Categories["delivery"] != 1 {
		t.Fatalf("after replace: %+v", r)
	}
	ix.LabelChanged(b, nil)
	ix.LabelChanged(a2, nil)
	r = ix.Lookup(labels.Number{Key: "+1", Valid: true})
	if r.Verdict != reputation.VerdictUnknown || r.Reporters != 0 || len(r.Categories) != 0 || ix.Len() != 0 {
		t.Fatalf("after retracting all: %+v, len %d", r, ix.Len())
	}
}

func TestInvalidCallerIDSignal(t *testing.T) {
	ix := reputation.NewIndex(reputation.DefaultThresholds(), nil)
	r := ix.Lookup(labels.Number{Key: "+8611111111111", Valid: false})
	if len(r.Signals) != 1 || r.Signals[0] != reputation.SignalInvalidCallerID || r.Verdict != reputation.VerdictUnknown {
		t.Fatalf("got %+v", r)
	}
	if r := ix.Lookup(labels.Number{Key: "CN:95588", Scoped: true}); len(r.Signals) != 0 {
		t.Fatalf("scoped service number flagged: %+v", r.Signals)
	}
}

// TestStoreWriteBehindAndRebuild checks that the persisted aggregates
// follow the index through a Flusher and that Rebuild recreates them.
func TestStoreWriteBehindAndRebuild(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	st, err := reputation.OpenStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	var ix *reputation.Index
	fl := &labels.Flusher{Flush: func(ctx context.Context, keys []string, _ time.Time) error { return st.Write(ctx, ix, keys) }}
	ix = reputation.NewIndex(reputation.DefaultThresholds(), fl.Mark)
	for i := range 250 {
		ix.LabelChanged(nil, label("u", fmt.Sprintf("+8613800%06d", i), "fraud", t0))
	}
	if err := fl.FlushNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 250 {
		t.Fatalf("stored %d, want 250", n)
	}
	ix.LabelChanged(label("u", "+8613800000000", "fraud", t0), nil)
	if err := fl.FlushNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 249 {
		t.Fatalf("after retraction stored %d, want 249", n)
	}
	calls := 0
	if err := st.Rebuild(ctx, ix, func(done, total int) { calls++ }); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 249 || calls == 0 {
		t.Fatalf("after rebuild stored %d (want 249), %d progress calls", n, calls)
	}
}
