package reputation_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// world drives an engine the way the labels service does: it keeps each
// reporter's live label and sends old/new pairs.
type world struct {
	e     *reputation.Engine
	clock *testClock
	live  map[string]*labels.Label
	seq   int
}

func newWorld(mod func(*reputation.Config)) *world {
	c := &testClock{t: t0}
	cfg := reputation.DefaultConfig()
	cfg.Now = c.Now
	if mod != nil {
		mod(&cfg)
	}
	return &world{e: reputation.NewEngine(cfg), clock: c, live: map[string]*labels.Label{}}
}

type labelOpt func(*labels.Label)

func fromPrefix(p string) labelOpt     { return func(l *labels.Label) { l.IPPrefix = p } }
func source(s labels.Source) labelOpt  { return func(l *labels.Label) { l.Source = s } }
func withCall(c *labels.Call) labelOpt { return func(l *labels.Label) { l.Call = c } }
func intp(v int) *int                  { return &v }
func boolp(v bool) *bool               { return &v }

// label makes reporter's label on key at the clock's time.
func (w *world) label(reporter, key, cat string, opts ...labelOpt) {
	w.seq++
	at := w.clock.Now()
	l := &labels.Label{Reporter: reporter, Key: key, Category: cat, Valid: true, Source: labels.SourceApp,
		ReportID: fmt.Sprintf("r%06d", w.seq), CreatedAt: at, FirstAt: at, IPPrefix: fmt.Sprintf("10.1.%d.0/24", w.seq%250)}
	for _, o := range opts {
		o(l)
	}
	id := reporter + " " + key
	old := w.live[id]
	if old != nil {
		l.FirstAt = old.FirstAt
	}
	w.live[id] = l
	w.e.LabelChanged(old, l)
}

func (w *world) retract(reporter, key string) {
	id := reporter + " " + key
	if old := w.live[id]; old != nil {
		delete(w.live, id)
		w.e.LabelChanged(old, nil)
	}
}

func (w *world) lookup(key string) reputation.Result {
	return w.e.Lookup(labels.Number{Key: key, Valid: true})
}

// established gives reporters a history: a label on another number long ago.
func (w *world) established(prefix string, n int, ago time.Duration) []string {
	now := w.clock.Now()
	w.clock.Set(now.Add(-ago))
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s%02d", prefix, i)
		w.label(id, fmt.Sprintf("+1415555%04d", 1000+w.seq), "promotion", fromPrefix(fmt.Sprintf("10.%d.%d.0/24", len(prefix), i)))
		ids = append(ids, id)
	}
	w.clock.Set(now)
	return ids
}

func TestVerdicts(t *testing.T) {
	const num = "+8613800138000"
	for _, tc := range []struct {
		name    string
		cats    []string
		verdict reputation.Verdict
		top     string
	}{
		{"Nobody", nil, reputation.VerdictUnknown, ""},
		{"OneFraudIsNotPublic", []string{"fraud"}, reputation.VerdictUnknown, "fraud"},
		{"TwoFraudAreNotEnough", []string{"fraud", "fraud"}, reputation.VerdictUnknown, "fraud"},
		{"ThreeFraud", []string{"fraud", "fraud", "fraud"}, reputation.VerdictFraud, "fraud"},
		{"FraudAndNuisanceIsSpam", []string{"fraud", "fraud", "harassment"}, reputation.VerdictSpam, "fraud"},
		{"ThreePromotion", []string{"promotion", "promotion", "real_estate"}, reputation.VerdictSpam, "promotion"},
		{"OneDeliveryIsNotEnough", []string{"delivery"}, reputation.VerdictUnknown, "delivery"},
		{"Delivery", []string{"delivery", "delivery"}, reputation.VerdictBenign, "delivery"},
		{"OneSafeIsNotEnough", []string{"safe"}, reputation.VerdictUnknown, "safe"},
		{"DeliveryOutweighsFraud", []string{"delivery", "delivery", "delivery", "fraud"}, reputation.VerdictBenign, "delivery"},
		{"SafeCountsAgainst", []string{"fraud", "fraud", "fraud", "safe", "safe", "safe", "safe", "safe"}, reputation.VerdictSafe, "safe"},
		{"Safe", []string{"safe", "safe"}, reputation.VerdictSafe, "safe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(nil)
			ids := w.established("est", len(tc.cats), 60*24*time.Hour)
			for i, c := range tc.cats {
				w.label(ids[i], num, c)
			}
			r := w.lookup(num)
			if r.Verdict != tc.verdict || r.TopCategory != tc.top || r.Reporters != len(tc.cats) {
				t.Fatalf("got verdict %s top %q reporters %d (evidence %v, score %d), want %s %q %d",
					r.Verdict, r.TopCategory, r.Reporters, r.Evidence, r.Score, tc.verdict, tc.top, len(tc.cats))
			}
			if r.Score < 0 || r.Score > 100 || r.Confidence < 0 || r.Confidence > 1 {
				t.Fatalf("score %d confidence %v out of range", r.Score, r.Confidence)
			}
		})
	}
}

// TestReplaceAndRetractRemoveExactly: after any sequence of changes the
// evidence equals that of the surviving labels alone.
func TestReplaceAndRetractRemoveExactly(t *testing.T) {
	w := newWorld(nil)
	ids := w.established("r", 6, 90*24*time.Hour)
	for i, id := range ids {
		w.clock.Set(t0.Add(time.Duration(i) * 24 * time.Hour))
		w.label(id, "+1", "fraud")
	}
	w.clock.Set(t0.Add(20 * 24 * time.Hour))
	w.label(ids[0], "+1", "delivery")
	w.retract(ids[1], "+1")
	w.retract(ids[2], "+1")
	got := w.lookup("+1")

	fresh := newWorld(nil)
	fresh.established("r", 6, 90*24*time.Hour)
	for i, id := range ids[3:] {
		fresh.clock.Set(t0.Add(time.Duration(i+3) * 24 * time.Hour))
		fresh.label(id, "+1", "fraud")
	}
	fresh.clock.Set(t0.Add(20 * 24 * time.Hour))
	fresh.label(ids[0], "+1", "delivery")
	want := fresh.lookup("+1")
	for _, c := range []string{"fraud", "delivery"} {
		if math.Abs(got.Evidence[c]-want.Evidence[c]) > 1e-9 {
			t.Fatalf("%s evidence %v, want %v", c, got.Evidence[c], want.Evidence[c])
		}
	}
	if got.Reporters != 4 || got.Categories["fraud"] != 3 {
		t.Fatalf("got %+v", got)
	}
	for _, id := range ids {
		w.retract(id, "+1")
	}
	if r := w.lookup("+1"); r.Verdict != reputation.VerdictUnknown || r.Reporters != 0 || len(r.Evidence) != 0 {
		t.Fatalf("after retracting all: %+v", r)
	}
}

// TestBrigadeOfNewAccounts is the scenario: 50 accounts created
// today, from one /24, mark a delivery company's number as fraud within an
// hour while 10 established reporters call it delivery.
func TestBrigadeOfNewAccounts(t *testing.T) {
	const num = "+8613912345678"
	w := newWorld(nil)
	established := w.established("courier-fan", 10, 45*24*time.Hour)
	for i, id := range established {
		w.clock.Set(t0.Add(-time.Duration(10-i) * 24 * time.Hour))
		w.label(id, num, "delivery")
	}
	for i := range 50 {
		w.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		w.label(fmt.Sprintf("sock%02d", i), num, "fraud", fromPrefix("203.0.113.0/24"))
	}
	r := w.lookup(num)
	if r.Verdict == reputation.VerdictFraud || r.Verdict == reputation.VerdictSpam {
		t.Fatalf("brigade won: verdict %s, evidence %v", r.Verdict, r.Evidence)
	}
	if r.Verdict != reputation.VerdictBenign || r.TopCategory != "delivery" {
		t.Fatalf("got %s / %s, want benign / delivery (evidence %v)", r.Verdict, r.TopCategory, r.Evidence)
	}
	flags := w.e.Flags()
	if len(flags) != 1 || flags[0].Key != num || len(flags[0].Reasons) == 0 {
		t.Fatalf("flags: %+v", flags)
	}
}

// TestBrigadeOfOldAccountsFromOnePrefix: even established accounts are
// capped when a burst comes from one network.
func TestBrigadeFromOnePrefix(t *testing.T) {
	const num = "+8613912345679"
	w := newWorld(nil)
	ids := w.established("farm", 20, 60*24*time.Hour)
	for i, id := range ids {
		w.clock.Set(t0.Add(time.Duration(i) * time.Minute))
		w.label(id, num, "fraud", fromPrefix("203.0.113.0/24"))
	}
	r := w.lookup(num)
	if r.Evidence["fraud"] > 6 {
		t.Fatalf("20 labels from one /24 carry %.2f evidence; want the burst capped", r.Evidence["fraud"])
	}
	if len(w.e.Flags()) != 1 {
		t.Fatalf("not flagged: %+v", w.e.Flags())
	}
}

// TestEstablishedReportersOverAWeek: five established reporters marking a
// number fraud over a week → fraud.
func TestEstablishedReportersOverAWeek(t *testing.T) {
	const num = "+8617000000001"
	w := newWorld(nil)
	ids := w.established("old", 5, 120*24*time.Hour)
	for i, id := range ids {
		w.clock.Set(t0.Add(time.Duration(i) * 36 * time.Hour))
		w.label(id, num, "fraud", fromPrefix(fmt.Sprintf("192.0.%d.0/24", i)))
	}
	r := w.lookup(num)
	if r.Verdict != reputation.VerdictFraud || r.Score < 30 || r.Confidence <= 0 {
		t.Fatalf("got %s score %d confidence %v evidence %v", r.Verdict, r.Score, r.Confidence, r.Evidence)
	}
	if len(w.e.Flags()) != 0 {
		t.Fatalf("an ordinary week flagged: %+v", w.e.Flags())
	}
}

// TestNewAccountsRampUp: the same three reporters weigh more as their
// accounts age.
func TestNewAccountsRampUp(t *testing.T) {
	w := newWorld(nil)
	for i := range 3 {
		w.label(fmt.Sprint("n", i), "+8617000000002", "fraud", fromPrefix(fmt.Sprintf("192.0.%d.0/24", i)))
	}
	if r := w.lookup("+8617000000002"); r.Verdict != reputation.VerdictUnknown {
		t.Fatalf("day-old accounts made a verdict: %+v", r)
	}
	w.clock.Set(t0.Add(8 * 24 * time.Hour))
	for i := range 3 {
		w.label(fmt.Sprint("n", i), "+8617000000003", "fraud", fromPrefix(fmt.Sprintf("192.0.%d.0/24", i)))
	}
	if r := w.lookup("+8617000000003"); r.Verdict != reputation.VerdictFraud {
		t.Fatalf("week-old accounts: %+v", r)
	}
}

// TestImportsAreTrustedAndDecay: three imported complaints make a verdict
// at once, and with no new reports it decays away.
func TestImportsAreTrustedAndDecay(t *testing.T) {
	w := newWorld(nil)
	for i := range 3 {
		w.label(fmt.Sprint("ftc:", i), "+12025550100", "robocall", source(labels.ImportSource("ftc")), withCall(&labels.Call{Robocall: true}))
	}
	r := w.lookup("+12025550100")
	if r.Verdict != reputation.VerdictSpam || !contains(r.Signals, reputation.SignalRobocall) {
		t.Fatalf("got %+v", r)
	}
	w.clock.Set(t0.Add(365 * 24 * time.Hour))
	r = w.lookup("+12025550100")
	if r.Verdict != reputation.VerdictUnknown || r.Score >= 30 {
		t.Fatalf("a year later: %s score %d", r.Verdict, r.Score)
	}
	if !contains(r.Signals, reputation.SignalPossiblyReassigned) {
		t.Fatalf("a dormant number is not marked possibly reassigned: %v", r.Signals)
	}
}

// TestReassignment: after a long dormancy a contrary label starts afresh.
func TestReassignment(t *testing.T) {
	const num = "+8613800000555"
	w := newWorld(func(c *reputation.Config) {
		c.HalfLife = map[labels.Risk]time.Duration{labels.RiskDangerous: 10 * 365 * 24 * time.Hour,
			labels.RiskNuisance: 10 * 365 * 24 * time.Hour, labels.RiskBenign: 90 * 24 * time.Hour, labels.RiskSafe: 90 * 24 * time.Hour}
	})
	ids := w.established("f", 6, 300*24*time.Hour)
	for _, id := range ids {
		w.label(id, num, "fraud")
	}
	if w.lookup(num).Verdict != reputation.VerdictFraud {
		t.Fatal("no fraud verdict to begin with")
	}
	w.clock.Set(t0.Add(200 * 24 * time.Hour))
	newOwner := w.established("g", 2, 100*24*time.Hour)
	w.label(newOwner[0], num, "safe")
	w.label(newOwner[1], num, "safe")
	r := w.lookup(num)
	if r.Verdict != reputation.VerdictSafe || r.Evidence["fraud"] != 0 || !contains(r.Signals, reputation.SignalPossiblyReassigned) {
		t.Fatalf("after reassignment: %s %v %v", r.Verdict, r.Evidence, r.Signals)
	}
	// Retracting a discarded label must not subtract it again.
	w.retract(ids[0], num)
	if r := w.lookup(num); r.Evidence["fraud"] != 0 || r.Verdict != reputation.VerdictSafe {
		t.Fatalf("after retracting old evidence: %+v", r)
	}
}

func TestCallSignals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		call   *labels.Call
		signal string
	}{
		{"OneRing", &labels.Call{RingS: intp(2), Answered: boolp(false)}, reputation.SignalOneRing},
		{"ShortCall", &labels.Call{Answered: boolp(true), DurationS: intp(3)}, reputation.SignalShortCall},
		{"Bombing", &labels.Call{RecentCalls: intp(30)}, reputation.SignalCallBombing},
		{"StirFailed", &labels.Call{Attestation: labels.AttestationFailed}, reputation.SignalStirFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(nil)
			w.label("u", "+8613800000777", "harassment", withCall(tc.call))
			r := w.lookup("+8613800000777")
			if !contains(r.Signals, tc.signal) {
				t.Fatalf("signals %v lack %s", r.Signals, tc.signal)
			}
			plain := newWorld(nil)
			plain.label("u", "+8613800000777", "harassment")
			if p := plain.lookup("+8613800000777"); p.Score >= r.Score {
				t.Fatalf("signal did not raise the score: %d vs %d", r.Score, p.Score)
			}
			w.retract("u", "+8613800000777")
			if r := w.lookup("+8613800000777"); contains(r.Signals, tc.signal) {
				t.Fatalf("signal outlived its label: %v", r.Signals)
			}
		})
	}
	t.Run("MassCalling", func(t *testing.T) {
		w := newWorld(nil)
		for i := range 6 {
			w.clock.Set(t0.Add(time.Duration(i) * 5 * time.Minute))
			w.label(fmt.Sprint("m", i), "+8613800000888", "harassment", withCall(&labels.Call{Answered: boolp(false)}), fromPrefix(fmt.Sprintf("192.0.%d.0/24", i)))
		}
		if r := w.lookup("+8613800000888"); !contains(r.Signals, reputation.SignalMassCalling) {
			t.Fatalf("signals %v", r.Signals)
		}
	})
	t.Run("InvalidCallerID", func(t *testing.T) {
		w := newWorld(nil)
		r := w.e.Lookup(labels.Number{Key: "+8611111111111", Valid: false})
		if !contains(r.Signals, reputation.SignalInvalidCallerID) || r.Verdict != reputation.VerdictUnknown {
			t.Fatalf("got %+v", r)
		}
	})
}

// TestRange: a fresh number inside a heavily reported block gets a range
// signal and a raised score, never a verdict.
func TestRange(t *testing.T) {
	w := newWorld(nil)
	ids := w.established("x", 4, 60*24*time.Hour)
	for i := range 5 {
		for _, id := range ids {
			w.label(id, fmt.Sprintf("+861380013%04d", 8000+i), "fraud", fromPrefix("192.0.2.0/24"))
		}
	}
	fresh := w.lookup("+8613800138099")
	if !contains(fresh.Signals, reputation.SignalRange) || fresh.Verdict != reputation.VerdictUnknown || fresh.Score == 0 {
		t.Fatalf("fresh number in block: %+v", fresh)
	}
	if far := w.lookup("+8613800139099"); contains(far.Signals, reputation.SignalRange) || far.Score != 0 {
		t.Fatalf("number outside the block: %+v", far)
	}
	if bad := w.e.Lookup(labels.Number{Key: "+8611111111111"}); bad.Score == 0 {
		t.Fatalf("an invalid caller ID scores 0: %+v", bad)
	}
	if far := w.lookup("+8613800139099"); far.Score != 0 {
		t.Fatalf("number outside the block: %+v", far)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestStoreRebuild checks that Rebuild writes the engine's reputations in
// buckets that every key is read back from, replaces what was there, and
// that readers see the previous rewrite until the new one is complete.
func TestStoreRebuild(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t).DB
	st := openStoreIn(t, db)
	w := newWorld(nil)
	key := func(i int) string { return fmt.Sprintf("+8613800%06d", i) }
	for i := range 250 {
		w.label("u", key(i), "fraud")
	}
	if err := st.Rebuild(ctx, w.e, nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 250 {
		t.Fatalf("stored %d, want 250", n)
	}
	for i := range 250 {
		got, ok, err := st.Get(ctx, key(i))
		if want := w.e.Lookup(labels.Number{Key: key(i), Valid: true}); err != nil || !ok || got.Score != want.Score || got.Reporters != 1 || got.Categories["fraud"] != 1 {
			t.Fatalf("%s: got %+v %v %v, want %+v", key(i), got, ok, err, want)
		}
	}
	if _, ok, _ := st.Get(ctx, "+8613900000000"); ok {
		t.Fatal("a number nobody labelled is stored")
	}

	// A second store, as a lookup replica holds, reads the first
	// generation and keeps it cached.
	replica, err := reputation.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := replica.Get(ctx, key(1)); !ok {
		t.Fatal("the replica misses a stored number")
	}
	w.retract("u", key(0))
	w.label("v", key(1), "spam")
	// A generation a crashed rewrite left behind goes with the old one.
	if _, err := db.Collection("reputations_99").InsertOne(ctx, bson.M{"_id": int64(0)}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = st.Rebuild(ctx, w.e, func(done, total int) {
		calls++
		// Mid-rewrite: the previous generation still answers.
		if _, ok, err := st.Get(ctx, key(0)); !ok || err != nil {
			t.Errorf("during the rewrite %s is gone: %v", key(0), err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx); n != 249 || calls == 0 {
		t.Fatalf("after rebuild stored %d (want 249), %d progress calls", n, calls)
	}
	if _, ok, _ := st.Get(ctx, key(0)); ok {
		t.Fatalf("%s has no labels left but is stored", key(0))
	}
	// The replica's cached generation is gone: it finds the new one.
	for _, s := range []*reputation.Store{st, replica} {
		if got, ok, _ := s.Get(ctx, key(1)); !ok || got.Reporters != 2 {
			t.Fatalf("%s after the rewrite: %+v", key(1), got)
		}
	}
	keys := map[string]bool{}
	if err := st.EachKey(ctx, func(k string) { keys[k] = true }); err != nil || len(keys) != 249 || keys[key(0)] {
		t.Fatalf("EachKey: %d keys, %v", len(keys), err)
	}
	names, _ := db.ListCollectionNames(ctx, bson.M{"name": bson.M{"$regex": "^reputations"}})
	if len(names) != 1 {
		t.Fatalf("collections %v, want only the current generation", names)
	}
}

// TestStoreReadsLegacyDocuments checks that a store written before
// generations, one document per number, is read until the first rewrite,
// which drops it.
func TestStoreReadsLegacyDocuments(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t).DB
	if _, err := db.Collection("reputations").InsertOne(ctx, bson.M{"_id": "+8613800000001", "verdict": "spam", "score": 40,
		"reporters": 3, "categories": bson.M{"promotion": 3}}); err != nil {
		t.Fatal(err)
	}
	st, err := reputation.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := st.Get(ctx, "+8613800000001"); err != nil || !ok || got.Verdict != reputation.VerdictSpam || got.Categories["promotion"] != 3 {
		t.Fatalf("legacy read: %+v %v %v", got, ok, err)
	}
	keys := 0
	if err := st.EachKey(ctx, func(string) { keys++ }); err != nil || keys != 1 {
		t.Fatalf("EachKey: %d %v", keys, err)
	}
	w := newWorld(nil)
	w.label("u", "+8613800000002", "fraud")
	if err := st.Rebuild(ctx, w.e, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Get(ctx, "+8613800000001"); ok {
		t.Fatal("the legacy document outlived the rewrite")
	}
	if n, _ := db.Collection("reputations").CountDocuments(ctx, bson.M{}); n != 0 {
		t.Fatalf("%d legacy documents left", n)
	}
}

// openStore returns a reputation store on a fresh database.
func openStore(tb testing.TB) *reputation.Store {
	tb.Helper()
	return openStoreIn(tb, mongotest.Open(tb).DB)
}

// openStoreIn returns a reputation store on db.
func openStoreIn(tb testing.TB, db *mongo.Database) *reputation.Store {
	tb.Helper()
	st, err := reputation.OpenStore(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// TestReputationLogPacked: a flush is logged as one packed document; its
// entries come back in order with their sequence numbers, Get finds a
// key's newest entry among packed flushes and entries logged one a
// document before packing, and EachKey lists both.
func TestReputationLogPacked(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t).DB
	st := openStoreIn(t, db)
	at := t0.Add(time.Minute)
	if _, err := db.Collection("reputation_log").InsertOne(ctx, bson.M{"key": "+8613800000009", "at": at, "seq": int64(0),
		"rep": bson.M{"_id": "+8613800000009", "verdict": "spam", "score": 40, "reporters": 3, "categories": bson.M{"promotion": 3}}}); err != nil {
		t.Fatal(err)
	}
	res := func(key string, reporters int) reputation.Result {
		return reputation.Result{Number: labels.Number{Key: key}, Verdict: reputation.VerdictUnknown, Reporters: reporters,
			Categories: map[string]int{"fraud": reporters}}
	}
	first := []reputation.Result{res("+8613800000001", 1), res("+8613800000002", 1), res("+8613800000009", 4)}
	if err := st.Append(ctx, first, at.Add(time.Second), 1); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, []reputation.Result{res("+8613800000001", 2)}, at.Add(2*time.Second), 4); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Collection("reputation_log").CountDocuments(ctx, bson.M{}); n != 3 {
		t.Fatalf("%d log documents, want the legacy one and one a flush", n)
	}
	es, err := st.LogSince(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%d %s %d", e.Seq, e.Result.Number.Key, e.Result.Reporters))
	}
	want := []string{"0 +8613800000009 3", "1 +8613800000001 1", "2 +8613800000002 1", "3 +8613800000009 4", "4 +8613800000001 2"}
	if !slices.Equal(got, want) {
		t.Fatalf("LogSince: got %q, want %q", got, want)
	}
	for key, reporters := range map[string]int{"+8613800000001": 2, "+8613800000002": 1, "+8613800000009": 4} {
		if r, ok, err := st.Get(ctx, key); err != nil || !ok || r.Reporters != reporters || r.Categories["fraud"] != reporters {
			t.Errorf("Get %s: %+v %v %v, want %d reporters", key, r, ok, err, reporters)
		}
	}
	if _, ok, err := st.Get(ctx, "+8613800000003"); ok || err != nil {
		t.Errorf("Get of a number never logged: %v %v", ok, err)
	}
	keys := map[string]int{}
	if err := st.EachKey(ctx, func(k string) { keys[k]++ }); err != nil || len(keys) != 3 {
		t.Errorf("EachKey: %v %v, want the 3 logged keys", keys, err)
	}
}
