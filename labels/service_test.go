package labels_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is an Observer that keeps the live label count per key.
type recorder struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *recorder) LabelChanged(old, cur *labels.Label) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	if old != nil {
		r.counts[old.Key]--
	}
	if cur != nil {
		r.counts[cur.Key]++
	}
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key]
}

type fixture struct {
	m     *labels.Mongo
	store *labels.Store
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	m := mongotest.Open(t)
	st, err := labels.OpenStore(context.Background(), m.DB)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{m: m, store: st, clock: &clock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}}
}

// open starts a service; every sets the snapshot interval.
func (f *fixture) open(t *testing.T, every time.Duration, obs ...labels.Observer) *labels.Service {
	t.Helper()
	s, err := labels.Open(context.Background(), f.store, labels.Options{
		DefaultRegion: "CN", Now: f.clock.Now, Observers: obs, SnapshotInterval: every,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) count(t *testing.T, coll string, filter bson.M) int64 {
	t.Helper()
	if coll == "labels" { // the labels of the current snapshot, by category
		sn, err := f.store.CurrentSnapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		err = f.store.EachLabel(context.Background(), sn, func(l *labels.Label) {
			if c, ok := filter["category"]; !ok || c == l.Category {
				n++
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(sn.Labels) && len(filter) == 0 {
			t.Fatalf("snapshot %d says %d labels, holds %d", sn.Gen, sn.Labels, n)
		}
		return n
	}
	n, err := f.m.DB.Collection(coll).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func app(uid string) labels.Reporter {
	return labels.Reporter{ID: uid, Source: labels.SourceApp, IPPrefix: "192.0.2.0/24"}
}

func mustReport(t *testing.T, s *labels.Service, who labels.Reporter, in labels.ReportInput) labels.Report {
	t.Helper()
	r, err := s.Report(context.Background(), who, in)
	if err != nil {
		t.Fatalf("report %+v: %v", in, err)
	}
	return r
}

func TestReportReplaceRetract(t *testing.T) {
	f := newFixture(t)
	rec := &recorder{}
	s := f.open(t, time.Hour, rec)
	defer s.Close(context.Background())
	ctx := context.Background()
	const num = "+8613800138000"

	for _, uid := range []string{"u1", "u2", "u3"} {
		r := mustReport(t, s, app(uid), labels.ReportInput{Number: num, Category: "fraud"})
		if r.Duplicate || r.ReplacedCategory != "" || r.Number.Key != num {
			t.Fatalf("got %+v", r)
		}
		f.clock.Add(time.Second)
	}
	if got := rec.count(num); got != 3 {
		t.Fatalf("live labels: got %d, want 3", got)
	}

	t.Run("RelabelMoves", func(t *testing.T) {
		r := mustReport(t, s, app("u1"), labels.ReportInput{Number: "138 0013 8000", Category: "delivery"})
		if r.ReplacedCategory != "fraud" {
			t.Fatalf("replaced: got %q, want fraud", r.ReplacedCategory)
		}
		l, ok := s.LabelOf("u1", num)
		if !ok || l.Category != "delivery" || rec.count(num) != 3 {
			t.Fatalf("got %+v %v, count %d", l, ok, rec.count(num))
		}
	})
	t.Run("RetractOwnOnly", func(t *testing.T) {
		if _, err := s.Retract(ctx, app("stranger"), num, ""); labels.ErrorCode(err) != labels.ENotFound {
			t.Fatalf("stranger retract: got %v, want not_found", err)
		}
		r, err := s.Retract(ctx, app("u2"), num, "")
		if err != nil || r.ReplacedCategory != "fraud" || r.Kind != labels.KindRetract {
			t.Fatalf("got %+v, %v", r, err)
		}
		if got := rec.count(num); got != 2 {
			t.Fatalf("live labels: got %d, want 2", got)
		}
		if _, err := s.Retract(ctx, app("u2"), num, ""); labels.ErrorCode(err) != labels.ENotFound {
			t.Fatalf("second retract: got %v, want not_found", err)
		}
	})
	t.Run("ClientReportIDOnce", func(t *testing.T) {
		in := labels.ReportInput{Number: "+14155550100", Region: "US", Category: "robocall", ClientReportID: "q-1"}
		first := mustReport(t, s, app("u4"), in)
		f.clock.Add(time.Second)
		again := mustReport(t, s, app("u4"), in)
		if !again.Duplicate || again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Fatalf("repeat: got %+v, want duplicate of %+v", again, first)
		}
		other := mustReport(t, s, app("u5"), in)
		if other.Duplicate {
			t.Fatal("another reporter's same client_report_id was taken as a duplicate")
		}
		if n := f.count(t, "reports", bson.M{"client_report_id": "q-1"}); n != 2 {
			t.Fatalf("stored: got %d, want 2", n)
		}
	})
}

func TestReportRejects(t *testing.T) {
	f := newFixture(t)
	s := f.open(t, time.Hour)
	defer s.Close(context.Background())
	neg := -1
	for _, tc := range []struct {
		name string
		who  labels.Reporter
		in   labels.ReportInput
		code string
	}{
		{"Letters", app("u"), labels.ReportInput{Number: "abc", Category: "fraud"}, labels.EInvalidNumber},
		{"Empty", app("u"), labels.ReportInput{Number: "", Category: "fraud"}, labels.EInvalidNumber},
		{"Emergency", app("u"), labels.ReportInput{Number: "110", Category: "fraud"}, labels.ENotLabelable},
		{"UnknownCategory", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "evil"}, labels.EUnknownCategory},
		{"LongComment", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Comment: strings.Repeat("骗", 281)}, labels.EInvalid},
		{"BadUTF8", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Comment: "\xff"}, labels.EInvalid},
		{"CommentNUL", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Comment: "a\x00b"}, labels.EInvalid},
		{"CommentDEL", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Comment: "a\x7fb"}, labels.EInvalid},
		{"CommentRLO", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Comment: "exe.\u202egnp"}, labels.EInvalid},
		{"CommentLRI", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Comment: "\u2066x"}, labels.EInvalid},
		{"BadDirection", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Call: &labels.Call{Direction: "sideways"}}, labels.EInvalid},
		{"NegativeRing", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Call: &labels.Call{RingS: &neg}}, labels.EInvalid},
		{"BadAttestation", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Call: &labels.Call{Attestation: "D"}}, labels.EInvalid},
		{"LongClientID", app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", ClientReportID: strings.Repeat("x", 129)}, labels.EInvalid},
		{"NoReporter", labels.Reporter{Source: labels.SourceApp}, labels.ReportInput{Number: "+8613800138000", Category: "fraud"}, labels.EUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Report(context.Background(), tc.who, tc.in)
			if got := labels.ErrorCode(err); got != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
		})
	}
	if n := f.count(t, "reports", bson.M{}); n != 0 {
		t.Fatalf("%d reports stored, want 0", n)
	}
	ok := mustReport(t, s, app("u"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", Comment: strings.Repeat("骗", 280)})
	if ok.Comment != strings.Repeat("骗", 280) {
		t.Fatal("a 280-character comment was not stored as given")
	}
}

// TestRestartReplaysUnflushed shows that an acknowledged report survives a
// crash before any snapshot: the next start replays the history.
func TestRestartReplaysUnflushed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	crashed := f.open(t, time.Hour) // never flushes, never closed
	mustReport(t, crashed, app("a"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"})
	mustReport(t, crashed, app("b"), labels.ReportInput{Number: "+8613800138000", Category: "harassment"})
	f.clock.Add(time.Second)
	mustReport(t, crashed, app("a"), labels.ReportInput{Number: "+8613800138000", Category: "delivery"})
	if _, err := crashed.Retract(ctx, app("b"), "+8613800138000", ""); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, "labels", bson.M{}); n != 0 {
		t.Fatalf("labels written before any flush: %d", n)
	}

	rec := &recorder{}
	s := f.open(t, time.Hour, rec)
	if got := rec.count("+8613800138000"); got != 1 {
		t.Fatalf("after replay: %d live labels, want 1", got)
	}
	if l, _ := s.LabelOf("a", "+8613800138000"); l.Category != "delivery" {
		t.Fatalf("a's label: got %q, want delivery", l.Category)
	}
	if n := f.count(t, "labels", bson.M{}); n != 1 {
		t.Fatalf("labels stored after start-up flush: got %d, want 1", n)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A clean restart loads from labels and the watermark.
	f.clock.Add(time.Hour)
	rec2 := &recorder{}
	s2 := f.open(t, time.Hour, rec2)
	defer s2.Close(ctx)
	if got := rec2.count("+8613800138000"); got != 1 {
		t.Fatalf("after clean restart: %d live labels, want 1", got)
	}
}

// eraseAll erases reporter and sums the progress.
func eraseAll(ctx context.Context, s *labels.Service, reporter string) (labels.EraseResult, error) {
	var sum labels.EraseResult
	err := s.Erase(ctx, reporter, func(r labels.EraseResult) error {
		sum.ErasedLabels += r.ErasedLabels
		sum.PseudonymisedReports += r.PseudonymisedReports
		return nil
	})
	return sum, err
}

// TestEraseMany: a history larger than a bulk write is pseudonymised in
// batches under MaxBulkOps (the embedded FerretDB hangs on larger ones),
// and a second erase finds nothing.
func TestEraseMany(t *testing.T) {
	f := newFixture(t)
	s := f.open(t, 50*time.Millisecond)
	defer s.Close(context.Background())
	ctx := context.Background()
	for i := range 150 {
		mustReport(t, s, app("gone"), labels.ReportInput{Number: fmt.Sprintf("+861380013%04d", i), Category: "promotion", Comment: "call at night"})
	}
	mustReport(t, s, app("stays"), labels.ReportInput{Number: "+8613800130000", Category: "fraud"})
	var batches []labels.EraseResult
	err := s.Erase(ctx, "gone", func(r labels.EraseResult) error {
		batches = append(batches, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var res labels.EraseResult
	for _, b := range batches {
		if b.PseudonymisedReports > labels.MaxBulkOps {
			t.Errorf("a batch pseudonymised %d reports, more than one bulk write may carry", b.PseudonymisedReports)
		}
		res.ErasedLabels += b.ErasedLabels
		res.PseudonymisedReports += b.PseudonymisedReports
	}
	if res.ErasedLabels != 150 || res.PseudonymisedReports != 300 || len(batches) < 4 {
		t.Fatalf("got %+v in %d batches, want 150 labels and 300 reports in batches", res, len(batches))
	}
	// Again: nothing is left, and nothing is counted.
	if again, err := eraseAll(ctx, s, "gone"); err != nil || again != (labels.EraseResult{}) {
		t.Fatalf("second erase: got %+v, %v; want nothing", again, err)
	}
	if page, _, _ := s.Mine(ctx, "gone", 10, ""); len(page) != 0 {
		t.Fatalf("labels left after erase: %d", len(page))
	}
	if n := f.count(t, "reports", bson.M{"reporter": "gone"}); n != 0 {
		t.Fatalf("%d reports still name the erased reporter", n)
	}
	if n := f.count(t, "reports", bson.M{"comment": bson.M{"$exists": true}}); n != 0 {
		t.Fatalf("%d comments survived the erase", n)
	}
	if _, ok := s.LabelOf("stays", "+8613800130000"); !ok {
		t.Fatal("another reporter's label was erased")
	}
	// Re-running the history rebuilds the same state.
	rec := &recorder{}
	f.m.DB.Collection("meta").Drop(ctx) // forget the snapshot
	s2 := f.open(t, time.Hour, rec)
	defer s2.Close(ctx)
	if rec.count("+8613800130000") != 1 || rec.count("+8613800130001") != 0 {
		t.Fatalf("replayed state differs: %v", rec.counts)
	}
}

func TestMinePages(t *testing.T) {
	f := newFixture(t)
	s := f.open(t, time.Hour)
	defer s.Close(context.Background())
	ctx := context.Background()
	for i := range 7 {
		mustReport(t, s, app("me"), labels.ReportInput{Number: fmt.Sprintf("+1415555010%d", i), Category: "survey"})
		f.clock.Add(time.Minute)
	}
	var got []string
	cursor := ""
	for range 10 {
		page, next, err := s.Mine(ctx, "me", 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page {
			got = append(got, l.Key)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := "+14155550106 +14155550105 +14155550104 +14155550103 +14155550102 +14155550101 +14155550100"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if _, _, err := s.Mine(ctx, "me", 3, "!!"); labels.ErrorCode(err) != labels.EInvalid {
		t.Fatalf("bad cursor: got %v", err)
	}
}

func ftcRecord(id, number, cat string, at time.Time) labels.Imported {
	return labels.Imported{
		ID:       id,
		Reporter: labels.Reporter{ID: "ftc:" + id, Source: labels.ImportSource("ftc")},
		Input:    labels.ReportInput{Number: number, Region: "US", Category: cat, Call: &labels.Call{Robocall: true}},
		At:       at,
	}
}

// TestImport: bad records are skipped and counted, a re-import stores
// nothing, and old-dated evidence survives a crash before the write-behind
// (replay follows the storage time, not the evidence date).
func TestImport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old := time.Date(2019, 12, 13, 5, 0, 6, 0, time.UTC)
	batch := []labels.Imported{
		ftcRecord("ftc-1", "8052103404", "unwanted", old),
		ftcRecord("ftc-2", "8052103404", "robocall", old),
		ftcRecord("ftc-3", "3017702911", "fraud", time.Time{}),
		ftcRecord("ftc-4", "12", "fraud", old),        // impossible number
		ftcRecord("ftc-5", "8052103404", "nope", old), // unknown category
		ftcRecord("ftc-1", "8052103404", "unwanted", old),
	}
	rec := &recorder{}
	crashed := f.open(t, time.Hour, rec)
	st, err := crashed.Import(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stored != 3 || st.Duplicates != 1 || st.Skipped != 2 || st.SkipReasons[labels.EInvalidNumber] != 1 || st.SkipReasons[labels.EUnknownCategory] != 1 {
		t.Fatalf("first import: %+v", st)
	}
	if rec.count("+18052103404") != 2 || rec.count("+13017702911") != 1 {
		t.Fatalf("live labels: %v", rec.counts)
	}
	l, _ := crashed.LabelOf("ftc:ftc-1", "+18052103404")
	if !l.CreatedAt.Equal(old) || l.CallSignals&labels.CallRobocall == 0 {
		t.Fatalf("kept date / robocall flag lost: %+v", l)
	}
	if l3, _ := crashed.LabelOf("ftc:ftc-3", "+13017702911"); !l3.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("undated record dated %v, want import time %v", l3.CreatedAt, f.clock.Now())
	}

	f.clock.Add(time.Hour)
	rec2 := &recorder{}
	s := f.open(t, time.Hour, rec2) // the first never flushed
	defer s.Close(ctx)
	if rec2.count("+18052103404") != 2 {
		t.Fatalf("after replay: %v", rec2.counts)
	}
	again, err := s.Import(ctx, batch)
	if err != nil || again.Stored != 0 || again.Duplicates != 4 {
		t.Fatalf("re-import: %+v, %v", again, err)
	}
	if n := f.count(t, "reports", bson.M{}); n != 3 {
		t.Fatalf("reports stored: %d, want 3", n)
	}
}

// TestSnapshots writes snapshots of more labels than a bulk update may
// hold, then of changed ones, and keeps only the current one.
func TestSnapshots(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.open(t, time.Hour)
	var batch []labels.Imported
	for i := range 1500 {
		batch = append(batch, ftcRecord(fmt.Sprintf("b-%d", i), fmt.Sprintf("+1202555%04d", i), "promotion", time.Time{}))
	}
	if _, err := s.Import(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, "labels", bson.M{}); n != 1500 {
		t.Fatalf("labels stored: %d", n)
	}
	s2 := f.open(t, time.Hour)
	for i := range batch {
		batch[i].ID += "-relabel"
		batch[i].Input.Category = "fraud"
	}
	f.clock.Add(time.Minute)
	if _, err := s2.Import(ctx, batch[:300]); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Same reporters, new reports: 300 labels changed.
	if n := f.count(t, "labels", bson.M{"category": "fraud"}); n != 300 {
		t.Fatalf("relabelled: %d, want 300", n)
	}
	if n := f.count(t, "labels", bson.M{}); n != 1500 {
		t.Fatalf("labels stored after second import: %d, want 1500", n)
	}
	names, err := f.m.DB.ListCollectionNames(ctx, bson.M{"name": bson.M{"$regex": "^labels_"}})
	if err != nil || len(names) != 1 {
		t.Fatalf("snapshot collections: %v, %v; want only the current one", names, err)
	}
	// An unchanged service writes no new snapshot.
	s3 := f.open(t, time.Hour)
	before, _ := f.store.CurrentSnapshot(ctx)
	if err := s3.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if after, _ := f.store.CurrentSnapshot(ctx); after.Gen != before.Gen {
		t.Fatalf("snapshot %d rewritten as %d without changes", before.Gen, after.Gen)
	}
}

// loadRecorder tells labels loaded from the snapshot from changes.
type loadRecorder struct {
	recorder
	loaded int
}

func (r *loadRecorder) LabelLoaded(*labels.Label) { r.loaded++ }

// TestLoadObserver: a LoadObserver gets snapshot labels as loads and only
// replayed reports as changes.
func TestLoadObserver(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.open(t, time.Hour)
	for i := range 5 {
		mustReport(t, s, app(fmt.Sprint("u", i)), labels.ReportInput{Number: "+8613800138000", Category: "fraud"})
	}
	if err := s.Close(ctx); err != nil { // snapshot of 5 labels
		t.Fatal(err)
	}
	crashed := f.open(t, time.Hour) // a report after the snapshot, never snapshotted
	f.clock.Add(time.Second)
	mustReport(t, crashed, app("late"), labels.ReportInput{Number: "+8613800138000", Category: "harassment"})

	rec := &loadRecorder{}
	s2 := f.open(t, time.Hour, rec)
	defer s2.Close(ctx)
	if rec.loaded != 5 || rec.count("+8613800138000") != 1 {
		t.Fatalf("loaded %d, changed %d; want 5 loads and the replayed report as the one change", rec.loaded, rec.count("+8613800138000"))
	}
}

// TestJournalReplay: a start replays the reports stored after the
// snapshot from the journals, which are pruned as snapshots are taken;
// the history itself is not scanned (on the embedded store such a query
// would read every report ever stored).
func TestJournalReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.open(t, time.Hour)
	report := func(s *labels.Service, uid string, i int) {
		t.Helper()
		f.clock.Add(time.Second)
		if _, err := s.Report(ctx, app(uid), labels.ReportInput{Number: fmt.Sprintf("+861380013%04d", i), Category: "fraud"}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 {
		for i := range 5 {
			report(s, fmt.Sprint("u", round), i)
		}
		if err := s.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		report(s, "late", i) // then the process dies
	}
	jdb, err := labels.JournalDatabase(ctx, f.m.DB)
	if err != nil {
		t.Fatal(err)
	}
	journals, err := jdb.ListCollectionNames(ctx, bson.M{"name": bson.M{"$regex": "^journal_"}})
	if err != nil || len(journals) != 1 {
		t.Fatalf("journals after three snapshots with nothing in flight: %v, %v; want only the current", journals, err)
	}
	sn, _ := f.store.CurrentSnapshot(ctx)
	if n, _ := jdb.Collection(fmt.Sprint("journal_", sn.Journal)).CountDocuments(ctx, bson.M{}); n != 3 {
		t.Fatalf("current journal holds %d commits, want the 3 since the snapshot", n)
	}
	rec := &recorder{}
	s2 := f.open(t, time.Hour, rec)
	defer s2.Close(ctx)
	for i := range 3 {
		if _, ok := s2.LabelOf("late", fmt.Sprintf("+861380013%04d", i)); !ok {
			t.Fatalf("report %d after the snapshot not replayed", i)
		}
	}
	if _, ok := s2.LabelOf("u0", "+8613800130004"); !ok {
		t.Fatal("label of the snapshot lost")
	}
}

// TestReportedAtSurvivesReplay shows that a report the phone kept offline
// is replayed after a crash although it is dated before the snapshot's
// watermark: replay goes by when a report was stored, not when it was made.
func TestReportedAtSurvivesReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	crashed := f.open(t, time.Hour)
	if err := crashed.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	made := f.clock.Now().Add(-72 * time.Hour)
	r := mustReport(t, crashed, app("a"), labels.ReportInput{Number: "+8613800138000", Category: "fraud", ReportedAt: made})
	if !r.CreatedAt.Equal(made) || !r.StoredAt.Equal(f.clock.Now()) {
		t.Fatalf("got created %s stored %s, want %s and %s", r.CreatedAt, r.StoredAt, made, f.clock.Now())
	}
	s := f.open(t, time.Hour)
	defer s.Close(ctx)
	if l, ok := s.LabelOf("a", "+8613800138000"); !ok || !l.CreatedAt.Equal(made) {
		t.Fatalf("after replay: got %+v, want the label made at %s", l, made)
	}
}

// legacyJournalEntry writes into journal an entry as versions before
// packing wrote it: a copy of a stored report, by reporter on key, nested.
func (f *fixture) legacyJournalEntry(t *testing.T, journal *mongo.Collection, reporter, key string) {
	t.Helper()
	ctx := context.Background()
	var stored bson.M
	if err := f.m.DB.Collection("reports").FindOne(ctx, bson.M{}).Decode(&stored); err != nil {
		t.Fatal(err)
	}
	stored["_id"], stored["reporter"], stored["key"] = "r-"+reporter, reporter, key
	if _, err := journal.InsertOne(ctx, bson.M{"_id": reporter + "-entry", "reports": bson.A{stored}}); err != nil {
		t.Fatal(err)
	}
}

// journaledReport opens a service, snapshots it and files new's report on
// +8613800138000 after the snapshot, so that only the journal holds it;
// it returns the journals' database.
func (f *fixture) journaledReport(t *testing.T) *mongo.Database {
	t.Helper()
	ctx := context.Background()
	s := f.open(t, time.Hour)
	if err := s.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	mustReport(t, s, app("new"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"})
	jdb, err := labels.JournalDatabase(ctx, f.m.DB)
	if err != nil {
		t.Fatal(err)
	}
	return jdb
}

// TestJournalPackedAndLegacy: a commit is journaled as one packed binary,
// and journals written before packing, with their reports as nested
// documents, still replay.
func TestJournalPackedAndLegacy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	jdb := f.journaledReport(t)
	sn, _ := f.store.CurrentSnapshot(ctx)
	journal := jdb.Collection(fmt.Sprint("journal_", sn.Journal))
	var entry bson.M
	if err := journal.FindOne(ctx, bson.M{}).Decode(&entry); err != nil {
		t.Fatal(err)
	}
	if _, ok := entry["packed"].(primitive.Binary); !ok || entry["reports"] != nil {
		t.Fatalf("journal entry %v: want the reports packed as one binary", entry)
	}
	f.legacyJournalEntry(t, journal, "legacy", "+8613900139000")
	s2 := f.open(t, time.Hour)
	defer s2.Close(ctx)
	if _, ok := s2.LabelOf("new", "+8613800138000"); !ok {
		t.Error("the packed journal entry was not replayed")
	}
	if l, ok := s2.LabelOf("legacy", "+8613900139000"); !ok || l.Category != "fraud" {
		t.Errorf("the legacy journal entry replayed as %+v, %v; want the fraud label", l, ok)
	}
}

// TestJournalsInTheirOwnDatabase: on FerretDB the journals have a
// database of their own (a file of its own on the embedded store), and
// journals that an older version wrote beside the history are replayed
// and dropped like the others.
func TestJournalsInTheirOwnDatabase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	jdb := f.journaledReport(t)
	if jdb.Name() == f.m.DB.Name() {
		t.Fatalf("journals in %s, the history's database", jdb.Name())
	}
	sn, _ := f.store.CurrentSnapshot(ctx)
	if n, _ := jdb.Collection(fmt.Sprint("journal_", sn.Journal)).CountDocuments(ctx, bson.M{}); n != 1 {
		t.Fatalf("the journal database holds %d commits, want 1", n)
	}
	// A journal as older versions kept it, in the history's database.
	f.legacyJournalEntry(t, f.m.DB.Collection(fmt.Sprint("journal_", sn.Journal+1)), "old", "+8613900139000")
	s2 := f.open(t, time.Hour)
	defer s2.Close(ctx)
	for who, key := range map[string]string{"new": "+8613800138000", "old": "+8613900139000"} {
		if _, ok := s2.LabelOf(who, key); !ok {
			t.Errorf("%s's report in the journals not replayed", who)
		}
	}
	mustReport(t, s2, app("later"), labels.ReportInput{Number: "+8613700137000", Category: "fraud"})
	if err := s2.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if names, _ := f.m.DB.ListCollectionNames(ctx, bson.M{"name": bson.M{"$regex": "^journal_"}}); len(names) != 0 {
		t.Errorf("journals left in the history's database after a snapshot: %v", names)
	}
}
