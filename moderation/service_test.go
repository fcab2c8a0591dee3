package moderation_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/moderation"
	"github.com/callrep/callrep/reputation"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a Notifier that keeps what it was told.
type recorder struct {
	mu      sync.Mutex
	notices []moderation.Notice
}

func (r *recorder) Notify(_ context.Context, n moderation.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, n)
	return nil
}

func (r *recorder) all() []moderation.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]moderation.Notice(nil), r.notices...)
}

// env is moderation on a real labels service and engine over an embedded
// FerretDB.
type env struct {
	db     *labels.Mongo
	dir    string
	clock  *clock
	labels *labels.Service
	engine *reputation.Engine
	mod    *moderation.Service
	told   *recorder
	seq    int
	down   atomic.Bool // storing reports fails while set
}

// flakyLabels is the real labels service whose Report fails while down is
// set: storage gone between a decision and its label.
type flakyLabels struct {
	*labels.Service
	down *atomic.Bool
}

func (f flakyLabels) Report(ctx context.Context, who labels.Reporter, in labels.ReportInput) (labels.Report, error) {
	if f.down.Load() {
		return labels.Report{}, labels.Errorf(labels.EUnavailable, "storage is down")
	}
	return f.Service.Report(ctx, who, in)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, clock: &clock{t: t0}, told: &recorder{}}
	e.db = mongotest.OpenDir(t, dir)
	e.open(t)
	return e
}

// open starts the services on e's database, as a restart would.
func (e *env) open(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := reputation.DefaultConfig()
	cfg.Ramp, cfg.Now = 0, e.clock.Now
	e.engine = reputation.NewEngine(cfg)
	store, err := labels.OpenStore(ctx, e.db.DB)
	if err != nil {
		t.Fatal(err)
	}
	e.labels, err = labels.Open(ctx, store, labels.Options{DefaultRegion: "CN", Now: e.clock.Now,
		Observers: []labels.Observer{e.engine}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc := e.labels
	t.Cleanup(func() { _ = svc.Close(ctx) })
	ms, err := moderation.OpenStore(ctx, e.db.DB)
	if err != nil {
		t.Fatal(err)
	}
	e.mod, err = moderation.Open(ctx, moderation.Config{Store: ms, Labels: flakyLabels{e.labels, &e.down}, Reputations: e.engine,
		Notifier: e.told, Now: e.clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) report(t *testing.T, who, number, cat string) {
	t.Helper()
	e.seq++ // each report from a network of its own
	_, err := e.labels.Report(context.Background(), labels.Reporter{ID: who, Source: labels.SourceApp,
		IPPrefix: fmt.Sprintf("198.51.%d.0/24", e.seq)}, labels.ReportInput{Number: number, Category: cat})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) lookup(number string) reputation.Result {
	n, _ := labels.NormalizeKey(number, "", "CN")
	return e.engine.Lookup(n)
}

func (e *env) file(t *testing.T, f moderation.Filer, number string) moderation.Case {
	t.Helper()
	c, err := e.mod.File(context.Background(), f, moderation.DisputeInput{Number: number, Reason: "we are a courier", Identity: "Acme Couriers"})
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	return c
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := labels.ErrorCode(err); got != code {
		t.Fatalf("error: got %q (%v), want %q", got, err, code)
	}
}

func TestFileValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	f := moderation.Filer{ID: "local:biz"}
	long := strings.Repeat("字", moderation.MaxReasonRunes+1)
	for _, tc := range []struct {
		name string
		in   moderation.DisputeInput
		code string
	}{
		{"NoReason", moderation.DisputeInput{Number: "+8613800138000", Reason: "  "}, labels.EInvalid},
		{"LongReason", moderation.DisputeInput{Number: "+8613800138000", Reason: long}, labels.EInvalid},
		{"BadNumber", moderation.DisputeInput{Number: "not a number", Reason: "x"}, labels.EInvalidNumber},
		{"EvidenceNotAURL", moderation.DisputeInput{Number: "+8613800138000", Reason: "x", Evidence: []string{"javascript:alert(1)"}}, labels.EInvalid},
		{"TooManyLinks", moderation.DisputeInput{Number: "+8613800138000", Reason: "x", Evidence: make([]string, 11)}, labels.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.mod.File(ctx, f, tc.in)
			wantCode(t, err, tc.code)
		})
	}
	if got := e.mod.Disputes(ctx, f.ID); len(got) != 0 {
		t.Fatalf("bad input stored %d cases", len(got))
	}
	if got := e.mod.Audit(ctx, moderation.AuditFilter{}); len(got) != 0 {
		t.Fatalf("bad input audited: %+v", got)
	}
}

func TestOneOpenCasePerNumberAndFiler(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := moderation.Filer{ID: "local:a"}, moderation.Filer{ID: "local:b"}
	first := e.file(t, a, "+8613800138000")
	_, err := e.mod.File(ctx, a, moderation.DisputeInput{Number: "13800138000", Reason: "again"})
	wantCode(t, err, labels.EConflict)
	e.file(t, b, "+8613800138000") // another filer may
	if r := e.lookup("+8613800138000"); !r.Disputed {
		t.Fatal("lookup does not show disputed while a case is open")
	}
	if _, err := e.mod.Dispute(ctx, b.ID, first.ID); labels.ErrorCode(err) != labels.ENotFound {
		t.Fatalf("another filer's case: got %v, want not found", err)
	}
	// After a decision the filer may file again.
	if _, err := e.mod.Decide(ctx, "local:mod", first.ID, moderation.DecisionInput{Version: first.Version,
		Outcome: moderation.OutcomeOverturned, Note: "a courier"}); err != nil {
		t.Fatal(err)
	}
	e.file(t, a, "+8613800138000")
	for range 4 {
		e.file(t, a, fmt.Sprintf("+861380013%04d", len(e.mod.Disputes(ctx, a.ID))))
	}
	_, err = e.mod.File(ctx, a, moderation.DisputeInput{Number: "+8613900139000", Reason: "sixth"})
	wantCode(t, err, labels.EQuotaExceeded)
}

// TestDecisionLifecycle: claim, a stale decision refused, a decision that
// clears the labels, the audit trail, the filer told, and all of it
// surviving a restart.
func TestDecisionLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const num = "+8613912345678"
	for i := range 4 {
		e.report(t, fmt.Sprintf("local:r%d", i), num, "fraud")
	}
	if r := e.lookup(num); r.Verdict != reputation.VerdictFraud {
		t.Fatalf("no fraud verdict to begin with: %+v", r)
	}
	owner := moderation.Filer{ID: "local:owner", Phone: "+8613912345678"}
	other := e.file(t, moderation.Filer{ID: "local:someone"}, num)
	c := e.file(t, owner, num)
	if !c.OwnerProven || other.OwnerProven {
		t.Fatalf("owner proven: got %v/%v, want true/false", c.OwnerProven, other.OwnerProven)
	}
	queue, err := e.mod.Cases(ctx, moderation.CaseFilter{})
	if err != nil || len(queue) != 2 || queue[0].ID != c.ID {
		t.Fatalf("queue: %+v %v; want the owner's case first", queue, err)
	}
	claimed, err := e.mod.Claim(ctx, "local:mod1", c.ID, c.Version)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.mod.Decide(ctx, "local:mod2", c.ID, moderation.DecisionInput{Version: claimed.Version, Outcome: moderation.OutcomeUpheld})
	wantCode(t, err, labels.EConflict) // claimed by another
	_, err = e.mod.Decide(ctx, "local:mod1", c.ID, moderation.DecisionInput{Version: c.Version, Outcome: moderation.OutcomeVerifiedBusiness, BusinessName: "Acme"})
	wantCode(t, err, labels.EConflict) // stale version
	_, err = e.mod.Decide(ctx, "local:mod1", c.ID, moderation.DecisionInput{Version: claimed.Version, Outcome: moderation.OutcomeOverturned, Category: "fraud"})
	wantCode(t, err, labels.EInvalid) // overturned to a harmful category
	e.clock.Add(time.Minute)
	done, err := e.mod.Decide(ctx, "local:mod1", c.ID, moderation.DecisionInput{Version: claimed.Version,
		Outcome: moderation.OutcomeVerifiedBusiness, BusinessName: " Acme Couriers ", Note: "licence seen"})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != moderation.StatusResolved || done.Decision.Category != "customer_service" || done.Decision.BusinessName != "Acme Couriers" {
		t.Fatalf("decided case: %+v %+v", done, done.Decision)
	}
	r := e.lookup(num)
	if r.Verdict != reputation.VerdictVerified || r.CallerName != "Acme Couriers" || r.Evidence["fraud"] != 0 || !r.Disputed {
		t.Fatalf("after the decision: %s %q %v disputed %v", r.Verdict, r.CallerName, r.Evidence, r.Disputed)
	}
	if l, ok := e.labels.LabelOf(moderation.DecisionReporter, num); !ok || l.Source != labels.SourceModerator || l.Category != "customer_service" {
		t.Fatalf("moderator label: %+v %v", l, ok)
	}
	told := e.told.all()
	if len(told) == 0 || told[len(told)-1] != (moderation.Notice{User: owner.ID, Kind: moderation.NoticeOutcome, Number: num,
		Case: c.ID, Outcome: moderation.OutcomeVerifiedBusiness, Verdict: "verified"}) {
		t.Fatalf("notices: %+v", told)
	}
	audit := e.mod.Audit(ctx, moderation.AuditFilter{Case: c.ID})
	if len(audit) != 3 || audit[0].Action != moderation.ActionDecide || audit[0].Actor != "local:mod1" ||
		audit[0].Before.Verdict != "fraud" || audit[0].After.Verdict != "verified" || audit[0].After.Outcome != moderation.OutcomeVerifiedBusiness {
		t.Fatalf("audit: %+v", audit)
	}
	if got := e.mod.Audit(ctx, moderation.AuditFilter{Action: moderation.ActionClaim}); len(got) != 1 || got[0].After.ClaimedBy != "local:mod1" {
		t.Fatalf("claim audit: %+v", got)
	}

	// A restart loads the cases and re-applies the decision.
	e.open(t)
	if r := e.lookup(num); r.Verdict != reputation.VerdictVerified || r.Evidence["fraud"] != 0 {
		t.Fatalf("after a restart: %s %v", r.Verdict, r.Evidence)
	}
	if got := e.mod.Audit(ctx, moderation.AuditFilter{}); len(got) != 4 {
		t.Fatalf("audit after a restart: %d entries, want 4", len(got))
	}
	// Deciding the other case as upheld reverses the first decision.
	e.clock.Add(time.Minute)
	if _, err := e.mod.Decide(ctx, "local:mod2", other.ID, moderation.DecisionInput{Version: other.Version, Outcome: moderation.OutcomeUpheld}); err != nil {
		t.Fatal(err)
	}
	if r := e.lookup(num); r.Verdict != reputation.VerdictFraud || r.Disputed || r.Outcome != "upheld" {
		t.Fatalf("after upholding: %s disputed %v outcome %q", r.Verdict, r.Disputed, r.Outcome)
	}
}

// TestLabelStoredAtNextStart: a decision whose label could not be stored
// stands, and the next start stores the label.
func TestLabelStoredAtNextStart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const num = "+8613800138002"
	c := e.file(t, moderation.Filer{ID: "local:a"}, num)
	e.down.Store(true)
	if _, err := e.mod.Decide(ctx, "local:mod", c.ID, moderation.DecisionInput{Version: c.Version, Outcome: moderation.OutcomeOverturned}); err != nil {
		t.Fatalf("a decision without its label: %v", err)
	}
	if _, ok := e.labels.LabelOf(moderation.DecisionReporter, num); ok {
		t.Fatal("the label was stored while storage was down")
	}
	e.down.Store(false)
	e.open(t)
	if l, ok := e.labels.LabelOf(moderation.DecisionReporter, num); !ok || l.Category != "safe" || l.Source != labels.SourceModerator {
		t.Fatalf("after a restart: %+v %v", l, ok)
	}
	if r := e.lookup(num); r.Verdict != reputation.VerdictSafe {
		t.Fatalf("verdict after a restart: %s", r.Verdict)
	}
}

// TestConcurrentDecisions: of two moderators deciding one case at once,
// exactly one wins.
func TestConcurrentDecisions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.file(t, moderation.Filer{ID: "local:a"}, "+8613800138001")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			_, errs[i] = e.mod.Decide(ctx, fmt.Sprintf("local:mod%d", i), c.ID, moderation.DecisionInput{Version: c.Version,
				Outcome: moderation.OutcomeRelabelled, Category: []string{"delivery", "ride"}[i]})
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("errors %v, %v: want exactly one to win", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil {
			wantCode(t, err, labels.EConflict)
		}
	}
}

// TestAutomaticCases: a brigading flag opens a case; on a verified number
// the spike opens a spoofing case instead, and the proven owner is told; a
// scan that finds nothing new opens nothing.
func TestAutomaticCases(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const num, other = "+8613700137000", "+8613700137111"
	owner := moderation.Filer{ID: "local:owner", Phone: num}
	c := e.file(t, owner, num)
	if _, err := e.mod.Decide(ctx, "local:mod", c.ID, moderation.DecisionInput{Version: c.Version,
		Outcome: moderation.OutcomeVerifiedBusiness, BusinessName: "Acme Support"}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.mod.Scan(ctx); err != nil || len(got) != 0 {
		t.Fatalf("scan with nothing due: %+v %v", got, err)
	}
	e.clock.Add(time.Hour)
	for i := range 6 {
		e.clock.Add(time.Minute)
		e.report(t, fmt.Sprintf("local:new%d", i), num, "fraud")
		e.report(t, fmt.Sprintf("local:new%d", i), other, "fraud")
	}
	r := e.lookup(num)
	if r.Verdict != reputation.VerdictVerified || !r.SpoofedRisk {
		t.Fatalf("verified number under a spike: %s spoofed %v", r.Verdict, r.SpoofedRisk)
	}
	opened, err := e.mod.Scan(ctx)
	kinds := map[string]moderation.Kind{}
	for _, o := range opened {
		kinds[o.Number] = o.Kind
	}
	if err != nil || len(opened) != 2 || kinds[num] != moderation.KindSpoofing || kinds[other] != moderation.KindBrigading {
		t.Fatalf("scan: %+v %v; want spoofing on the verified number, brigading on the other", opened, err)
	}
	told := e.told.all()
	if n := told[len(told)-1]; n.User != owner.ID || n.Kind != moderation.NoticeFlagged || n.Number != num {
		t.Fatalf("owner not told: %+v", told)
	}
	if again, _ := e.mod.Scan(ctx); len(again) != 0 {
		t.Fatalf("a second scan opened %+v", again)
	}
}

// TestEraseFiler: a filer's erasure removes what their disputes say about
// them from memory and storage, keeps the cases, their outcome and the
// audit, frees the open case's lock, and touches nobody else's case.
func TestEraseFiler(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := moderation.Filer{ID: "local:a"}, moderation.Filer{ID: "local:b"}
	decided := e.file(t, a, "+8613800138000")
	if _, err := e.mod.Decide(ctx, "local:mod", decided.ID, moderation.DecisionInput{Version: decided.Version,
		Outcome: moderation.OutcomeOverturned, Note: "a courier"}); err != nil {
		t.Fatal(err)
	}
	open := e.file(t, a, "+8613800138001")
	other := e.file(t, b, "+8613800138001")
	n, err := e.mod.EraseFiler(ctx, a.ID)
	if err != nil || n != 2 {
		t.Fatalf("EraseFiler: %d %v, want 2 cases", n, err)
	}
	if again, err := e.mod.EraseFiler(ctx, a.ID); err != nil || again != 0 {
		t.Fatalf("a second erasure: %d %v, want nothing", again, err)
	}
	check := func(what string) {
		t.Helper()
		if got := e.mod.Disputes(ctx, a.ID); len(got) != 0 {
			t.Fatalf("%s: the erased filer still has %d disputes", what, len(got))
		}
		for _, id := range []string{decided.ID, open.ID} {
			v, err := e.mod.View(ctx, id)
			if err != nil {
				t.Fatalf("%s: case %s: %v", what, id, err)
			}
			c := v.Case
			if c.Filer != moderation.ErasedFiler || c.Contact != "" || c.Identity != "" || c.Reason != "" || len(c.Evidence) != 0 {
				t.Fatalf("%s: case %s still says who filed it: %+v", what, id, c)
			}
		}
		if v, _ := e.mod.View(ctx, decided.ID); v.Case.Decision == nil || v.Case.Decision.Outcome != moderation.OutcomeOverturned {
			t.Fatalf("%s: the decision went with the filer: %+v", what, v.Case)
		}
		if got := e.mod.Disputes(ctx, b.ID); len(got) != 1 || got[0].ID != other.ID || got[0].Identity != "Acme Couriers" {
			t.Fatalf("%s: another filer's case changed: %+v", what, got)
		}
	}
	check("in memory")
	entries := e.mod.Audit(ctx, moderation.AuditFilter{Case: open.ID})
	if len(entries) == 0 || entries[0].Action != moderation.ActionEraseFiler {
		t.Fatalf("audit of the open case: %+v", entries)
	}
	e.open(t) // from storage, as after a restart
	check("after a restart")
	// The open case's lock is free: the same account id may file again.
	e.file(t, a, "+8613800138001")
}
