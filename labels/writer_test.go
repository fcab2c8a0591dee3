package labels_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// writerOn opens the store of database db on uri, takes the writer lease
// as holder for ttl (nil if another holds it), and opens the service.
func writerOn(t *testing.T, uri, db, holder string, ttl time.Duration) (*labels.Store, *labels.Writer, *labels.Service) {
	t.Helper()
	ctx := context.Background()
	m, err := labels.OpenMongo(ctx, labels.MongoConfig{URI: uri, Database: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(ctx) })
	st, err := labels.OpenStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := st.Leases().TakeWriter(ctx, holder, ttl, time.Now, false)
	if err != nil || w == nil {
		return st, nil, nil
	}
	if err := st.BecomeWriter(ctx, w); err != nil {
		t.Fatal(err)
	}
	s, err := labels.Open(ctx, st, labels.Options{DefaultRegion: "CN", Fence: w.Check, SnapshotInterval: time.Hour, ReplaySkew: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return st, w, s
}

// TestWriterFencing: two writers over one FerretDB run as its own process.
// The second takes over once the first's lease expired; from then on the
// first (frozen past its lease, say) acknowledges nothing, cannot replace
// the snapshot, and what it stored late is ignored by the next start as
// the new writer's memory ignored it, until a retry stores it anew.
func TestWriterFencing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a FerretDB process")
	}
	ctx := context.Background()
	uri := mongotest.StartProcess(t)
	_, w1, s1 := writerOn(t, uri, "fencing", "a", time.Second)
	if w1 == nil || w1.Gen != 1 {
		t.Fatalf("first writer: got %+v, want generation 1", w1)
	}
	if _, err := s1.Report(ctx, app("alice"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"}); err != nil {
		t.Fatal(err)
	}
	if _, w, _ := writerOn(t, uri, "fencing", "b", time.Minute); w != nil {
		t.Fatal("a second writer took a live lease")
	}
	// a is not renewing: once its lease has expired, b takes over.
	time.Sleep(1500 * time.Millisecond)
	_, w2, s2 := writerOn(t, uri, "fencing", "b", time.Minute)
	if w2 == nil || w2.Gen != 2 {
		t.Fatalf("takeover: got %+v, want generation 2", w2)
	}
	if _, ok := s2.LabelOf("alice", "+8613800138000"); !ok {
		t.Fatal("the new writer did not load the old one's acknowledged report")
	}
	// a's snapshots are refused, and so is its next report. Each attempt
	// moves a to a new journal: after a few, a journals past the one b's
	// last snapshot will point at, which the next start reads.
	for range 4 {
		if err := s1.Snapshot(ctx); !errors.Is(err, labels.ErrFenced) {
			t.Fatalf("stale snapshot: got %v, want ErrFenced", err)
		}
	}
	late := labels.ReportInput{Number: "+8613900139000", Category: "fraud", ClientReportID: "late-1"}
	_, err := s1.Report(ctx, app("bob"), late)
	if labels.ErrorCode(err) != labels.EUnavailable || !errors.Is(err, labels.ErrFenced) {
		t.Fatalf("stale report: got %v, want unavailable and fenced", err)
	}
	if _, ok := s1.LabelOf("bob", "+8613900139000"); ok {
		t.Fatal("the stale writer applied a report it did not acknowledge")
	}
	if err := w1.Renew(ctx); !errors.Is(err, labels.ErrFenced) {
		t.Fatalf("stale renewal: got %v, want ErrFenced", err)
	}
	if _, err := s2.Report(ctx, app("carol"), labels.ReportInput{Number: "+8613700137000", Category: "promotion"}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w2.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// The next writer sees what b saw: alice and carol, not the late bob.
	_, w3, s3 := writerOn(t, uri, "fencing", "c", time.Minute)
	if w3 == nil || w3.Gen != 3 {
		t.Fatalf("after release: got %+v, want generation 3", w3)
	}
	for _, c := range []struct {
		who, key string
		want     bool
	}{{"alice", "+8613800138000", true}, {"carol", "+8613700137000", true}, {"bob", "+8613900139000", false}} {
		if _, ok := s3.LabelOf(c.who, c.key); ok != c.want {
			t.Errorf("%s's label after restart: got %v, want %v", c.who, ok, c.want)
		}
	}
	// bob retries, as the 503 said he safely may: the stored report is
	// applied (and journaled) by the current writer.
	r, err := s3.Report(ctx, app("bob"), late)
	if err != nil || !r.Duplicate {
		t.Fatalf("retry: got %+v, %v; want the stored duplicate", r, err)
	}
	if _, ok := s3.LabelOf("bob", "+8613900139000"); !ok {
		t.Fatal("the retried report is not applied")
	}
}

// TestWriterStandby: a second writer waits while the lease runs and takes
// over within one lease period once the holder stops renewing it.
func TestWriterStandby(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	l := f.store.Leases()
	const ttl = time.Second
	w1, _, err := l.TakeWriter(ctx, "a", ttl, time.Now, false)
	if err != nil || w1 == nil {
		t.Fatalf("first: %v %v", w1, err)
	}
	var waited []labels.WriterInfo
	start := time.Now()
	w2, err := l.WaitWriter(ctx, "b", ttl, time.Now, func(i labels.WriterInfo) { waited = append(waited, i) })
	took := time.Since(start)
	if err != nil || w2 == nil || w2.Gen != w1.Gen+1 {
		t.Fatalf("standby: got %+v, %v; want generation %d", w2, err, w1.Gen+1)
	}
	if len(waited) != 1 || waited[0].Holder != "a" {
		t.Fatalf("waited for %+v, want a once", waited)
	}
	if took > 30*time.Second {
		t.Fatalf("took over after %v", took)
	}
	info, err := l.WriterLease(ctx)
	if err != nil || !info.Live(time.Now()) || info.Holder != "b" {
		t.Fatalf("lease after takeover: %+v %v", info, err)
	}
}
