package labels_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkReportParallel files reports from 200 reporters over 32
// goroutines against the embedded FerretDB (or MONGODB_URI), as the HTTP
// handlers do under load, and reports durable reports/s and the latency
// percentiles of one Report call.
func BenchmarkReportParallel(b *testing.B) {
	store, err := labels.OpenStore(context.Background(), mongotest.Open(b).DB)
	if err != nil {
		b.Fatal(err)
	}
	s, err := labels.Open(context.Background(), store, labels.Options{DefaultRegion: "CN", SnapshotInterval: time.Hour, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	var (
		next atomic.Int64
		mu   sync.Mutex
		lat  []time.Duration
	)
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := next.Add(1)
			who := app(fmt.Sprint("bench-", i%200))
			in := labels.ReportInput{Number: fmt.Sprintf("+86138%08d", i%50_000), Category: "fraud"}
			t0 := time.Now()
			if _, err := s.Report(context.Background(), who, in); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "reports/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// changeLog is an Observer that keeps, per reporter and number, the report
// ids of the successive live labels, "" for a retraction.
type changeLog struct {
	mu  sync.Mutex
	seq map[string][]string
}

func (c *changeLog) LabelChanged(old, cur *labels.Label) {
	l, id := old, ""
	if cur != nil {
		l, id = cur, cur.ReportID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq == nil {
		c.seq = map[string][]string{}
	}
	c.seq[l.Reporter+" "+l.Key] = append(c.seq[l.Reporter+" "+l.Key], id)
}

func (c *changeLog) of(reporter, key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seq[reporter+" "+key])
}

// stripeMates returns n pairs of reporter ids that share a write stripe
// (the FNV-1a hash of the id modulo 256, as labels.Service stripes them).
func stripeMates(n int) []string {
	first := map[uint32]string{}
	var out []string
	for i := 0; len(out) < 2*n; i++ {
		id := fmt.Sprint("mate-", i)
		h := fnv.New32a()
		h.Write([]byte(id))
		st := h.Sum32() % 256
		if other, ok := first[st]; ok {
			out = append(out, other, id)
			first[st] = "" // one pair per stripe
			continue
		}
		if _, ok := first[st]; !ok {
			first[st] = id
		}
	}
	return out
}

// TestReportConcurrent files reports and retractions from many goroutines
// for reporters some of whom share a stripe, with client_report_ids that
// several goroutines send at once, and checks that every acknowledged
// event is stored once and applied, in the order of its reporter's
// timestamps, and that a restart rebuilds the same labels.
func TestReportConcurrent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	changes := &changeLog{}
	s, err := labels.Open(ctx, f.store, labels.Options{
		DefaultRegion: "CN", Observers: []labels.Observer{changes}, SnapshotInterval: time.Hour, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	reporters := stripeMates(8)
	for i := range 8 {
		reporters = append(reporters, fmt.Sprint("solo-", i))
	}
	numbers := []string{"+8613800138000", "+8613800138001", "+8613800138002"}
	categories := []string{"fraud", "delivery", "survey"}

	var (
		mu     sync.Mutex
		acked  []labels.Report             // new events, as acknowledged
		shared = map[int][]labels.Report{} // answers to the shared client_report_ids
	)
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 40 {
				who := app(reporters[rnd.IntN(len(reporters))])
				number := numbers[rnd.IntN(len(numbers))]
				switch p := rnd.IntN(10); {
				case p < 2:
					r, err := s.Retract(ctx, who, number, "")
					if labels.ErrorCode(err) == labels.ENotFound {
						continue
					}
					if err != nil {
						t.Errorf("retract: %v", err)
						return
					}
					mu.Lock()
					acked = append(acked, r)
					mu.Unlock()
				case p < 4:
					k := rnd.IntN(6)
					in := labels.ReportInput{Number: numbers[k%len(numbers)], Category: "fraud", ClientReportID: fmt.Sprint("shared-", k)}
					r, err := s.Report(ctx, app(reporters[k]), in)
					if err != nil {
						t.Errorf("report: %v", err)
						return
					}
					mu.Lock()
					shared[k] = append(shared[k], r)
					if !r.Duplicate {
						acked = append(acked, r)
					}
					mu.Unlock()
				default:
					in := labels.ReportInput{Number: number, Category: categories[rnd.IntN(len(categories))], ClientReportID: fmt.Sprintf("g%d-%d", g, i)}
					r, err := s.Report(ctx, who, in)
					if err != nil {
						t.Errorf("report: %v", err)
						return
					}
					if r.Duplicate {
						t.Errorf("a fresh client_report_id was answered as a duplicate: %+v", r)
					}
					mu.Lock()
					acked = append(acked, r)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	t.Run("DuplicatesAnsweredOnce", func(t *testing.T) {
		for k, rs := range shared {
			var first []labels.Report
			for _, r := range rs {
				if !r.Duplicate {
					first = append(first, r)
				}
			}
			if len(first) != 1 {
				t.Fatalf("shared-%d: got %d new reports among %d answers, want 1", k, len(first), len(rs))
			}
			for _, r := range rs {
				if r.ID != first[0].ID || !r.CreatedAt.Equal(first[0].CreatedAt) || r.Reporter != first[0].Reporter {
					t.Fatalf("shared-%d: got %s at %v, want %s at %v", k, r.ID, r.CreatedAt, first[0].ID, first[0].CreatedAt)
				}
			}
		}
	})

	// Per reporter and number, the acknowledged events in stamp order.
	byLabel := map[string][]labels.Report{}
	stamps := map[string]map[time.Time]bool{}
	for _, r := range acked {
		byLabel[r.Reporter+" "+r.Number.Key] = append(byLabel[r.Reporter+" "+r.Number.Key], r)
		if stamps[r.Reporter] == nil {
			stamps[r.Reporter] = map[time.Time]bool{}
		}
		if stamps[r.Reporter][r.CreatedAt] {
			t.Fatalf("%s has two events stamped %v", r.Reporter, r.CreatedAt)
		}
		stamps[r.Reporter][r.CreatedAt] = true
	}
	t.Run("AppliedInStampOrder", func(t *testing.T) {
		for k, rs := range byLabel {
			slices.SortFunc(rs, func(a, b labels.Report) int { return a.CreatedAt.Compare(b.CreatedAt) })
			var want []string
			prev := ""
			for _, r := range rs {
				if r.ReplacedCategory != prev {
					t.Fatalf("%s: %s replaced %q, want %q (the category before it in stamp order)", k, r.ID, r.ReplacedCategory, prev)
				}
				id := r.ID
				prev = r.Category
				if r.Kind == labels.KindRetract {
					id, prev = "", ""
				}
				want = append(want, id)
			}
			reporter, key, _ := strings.Cut(k, " ")
			if got := changes.of(reporter, key); !slices.Equal(got, want) {
				t.Fatalf("%s: live label changes got %v, want %v", k, got, want)
			}
			l, ok := s.LabelOf(reporter, key)
			if last := rs[len(rs)-1]; ok != (last.Kind == labels.KindLabel) || ok && !sameEvent(l, last) {
				t.Fatalf("%s: live label got %+v (%v), want the last event %+v", k, l, ok, last)
			}
		}
	})
	t.Run("StoredOnce", func(t *testing.T) {
		cur, err := f.m.DB.Collection("reports").Find(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			ID string `bson:"_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		for _, d := range docs {
			stored[d.ID] = true
		}
		for _, r := range acked {
			if !stored[r.ID] {
				t.Fatalf("acknowledged %s is not stored", r.ID)
			}
		}
		if len(docs) != len(acked) {
			t.Fatalf("got %d stored reports, want the %d acknowledged", len(docs), len(acked))
		}
	})
	t.Run("Restart", func(t *testing.T) {
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Report(ctx, app("late"), labels.ReportInput{Number: numbers[0], Category: "fraud"}); labels.ErrorCode(err) != labels.EUnavailable {
			t.Fatalf("report after close: got %v, want %s", err, labels.EUnavailable)
		}
		s2 := f.open(t, time.Hour)
		defer s2.Close(ctx)
		for k, rs := range byLabel {
			reporter, key, _ := strings.Cut(k, " ")
			l, ok := s2.LabelOf(reporter, key)
			if last := rs[len(rs)-1]; ok != (last.Kind == labels.KindLabel) || ok && !sameEvent(l, last) {
				t.Fatalf("%s after restart: got %+v (%v), want %+v", k, l, ok, last)
			}
		}
	})
}

// openHeld starts a service on f whose commits wait until batch reports
// are queued, so that a test can look at reports queued but not stored.
func openHeld(t *testing.T, f *fixture, batch int, obs ...labels.Observer) *labels.Service {
	t.Helper()
	s, err := labels.Open(context.Background(), f.store, labels.Options{
		DefaultRegion: "CN", Now: f.clock.Now, Observers: obs, SnapshotInterval: time.Hour, Logger: quiet,
		CommitBatch: batch, CommitDelay: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitQueued waits until n events wait for a commit.
func waitQueued(t *testing.T, s *labels.Service, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Queued() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queued: got %d, want %d", s.Queued(), n)
		}
	}
}

// reportAsync files a report in a goroutine; the channel gets its outcome.
func reportAsync(s *labels.Service, who labels.Reporter, in labels.ReportInput) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := s.Report(context.Background(), who, in)
		done <- err
	}()
	return done
}

// TestReportWatermark: a report queued for a commit holds the snapshot
// watermark back to its stamp until it is applied, so that a snapshot
// taken meanwhile never skips it.
func TestReportWatermark(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := openHeld(t, f, 2)
	defer s.Close(ctx)
	stamp := f.clock.Now()
	a := reportAsync(s, app("a"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"})
	waitQueued(t, s, 1)
	f.clock.Add(time.Minute)
	if got := s.Watermark(); !got.Equal(stamp) {
		t.Fatalf("watermark with a report queued: got %v, want its stamp %v", got, stamp)
	}
	if err := <-reportAsync(s, app("b"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"}); err != nil {
		t.Fatal(err)
	}
	if err := <-a; err != nil {
		t.Fatal(err)
	}
	if got, want := s.Watermark(), f.clock.Now(); !got.Equal(want) {
		t.Fatalf("watermark after the commit: got %v, want now %v", got, want)
	}
}

// TestReportFailedBatch: when the insert fails, every report of the batch
// gets the error and none is applied; the stripes are released, but the
// watermark stays at the batch's stamp (its outcome is unknown until
// storage answers: see TestWritesUnderStorageFaults) and later writes fail
// fast.
func TestReportFailedBatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	changes := &changeLog{}
	const n = 6
	s := openHeld(t, f, n, changes)
	defer s.Close(ctx)
	stamp := f.clock.Now()
	if err := f.m.Client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	var outcomes []<-chan error
	for i := range n {
		who := app(fmt.Sprint("u", i%3)) // two reports per reporter
		outcomes = append(outcomes, reportAsync(s, who, labels.ReportInput{Number: fmt.Sprint("+86138001380", 10+i), Category: "fraud"}))
	}
	for _, o := range outcomes {
		if err := <-o; labels.ErrorCode(err) != labels.EUnavailable {
			t.Fatalf("report in a failed batch: got %v, want %s", err, labels.EUnavailable)
		}
	}
	if len(changes.seq) != 0 {
		t.Fatalf("a failed batch changed labels: %v", changes.seq)
	}
	if got := s.Queued(); got != 0 {
		t.Fatalf("queued after the failure: got %d, want 0", got)
	}
	f.clock.Add(time.Minute)
	if got := s.Watermark(); !got.Equal(stamp) {
		t.Fatalf("watermark after the failure: got %v, want the batch's stamp %v", got, stamp)
	}
	// The stripes are free and the breaker is open: writes answer at once.
	start := time.Now()
	if _, err := s.Retract(ctx, app("u0"), "+8613800138010", ""); labels.ErrorCode(err) != labels.ENotFound {
		t.Fatalf("retract of a failed report: got %v, want %s", err, labels.ENotFound)
	}
	if _, err := s.Report(ctx, app("u9"), labels.ReportInput{Number: "+8613800138099", Category: "fraud"}); labels.ErrorCode(err) != labels.EUnavailable {
		t.Fatalf("report with storage down: got %v, want %s", err, labels.EUnavailable)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("writes with storage known down took %v, want them to fail fast", took)
	}
}

// TestEraseWaitsForQueued: an erase takes in the reporter's reports that
// were queued before it, so none of them survives it as a live label.
func TestEraseWaitsForQueued(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := openHeld(t, f, 2)
	defer s.Close(ctx)
	a := reportAsync(s, app("gone"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"})
	waitQueued(t, s, 1)
	erased := make(chan labels.EraseResult, 1)
	go func() {
		res, err := eraseAll(ctx, s, "gone")
		if err != nil {
			t.Error(err)
		}
		erased <- res
	}()
	time.Sleep(50 * time.Millisecond) // an erase that did not wait would be done by now
	if err := <-reportAsync(s, app("stays"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"}); err != nil {
		t.Fatal(err)
	}
	if err := <-a; err != nil {
		t.Fatal(err)
	}
	if res := <-erased; res.ErasedLabels != 1 {
		t.Fatalf("erased labels: got %d, want 1 (the queued report)", res.ErasedLabels)
	}
	if l, ok := s.LabelOf("gone", "+8613800138000"); ok {
		t.Fatalf("a label survived the erase: %+v", l)
	}
}

// TestCloseCommitsQueued: Close stores and applies the reports queued
// before it and refuses later ones.
func TestCloseCommitsQueued(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := openHeld(t, f, 100)
	a := reportAsync(s, app("a"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"})
	waitQueued(t, s, 1)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-a; err != nil {
		t.Fatalf("queued report at close: got %v, want it stored", err)
	}
	if n := f.count(t, "labels", bson.M{"reporter": "a"}); n != 1 {
		t.Fatalf("labels in the final snapshot: got %d, want 1", n)
	}
	if _, err := s.Report(ctx, app("b"), labels.ReportInput{Number: "+8613800138000", Category: "fraud"}); labels.ErrorCode(err) != labels.EUnavailable {
		t.Fatalf("report after close: got %v, want %s", err, labels.EUnavailable)
	}
}

// TestReportAfterErase: a client_report_id that an erased account used
// is a new report when the account comes back, not a duplicate of the
// pseudonymised one.
func TestReportAfterErase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.open(t, time.Hour)
	defer s.Close(ctx)
	in := labels.ReportInput{Number: "+8613800138000", Category: "fraud", ClientReportID: "q-1"}
	first := mustReport(t, s, app("u"), in)
	if _, err := eraseAll(ctx, s, "u"); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	again := mustReport(t, s, app("u"), in)
	if again.Duplicate || again.ID == first.ID || !strings.HasPrefix(again.ID, "r-") {
		t.Fatalf("after erase: got %+v, want a new report", again)
	}
	if l, ok := s.LabelOf("u", "+8613800138000"); !ok || !sameEvent(l, again) {
		t.Fatalf("live label: got %+v (%v), want report %s", l, ok, again.ID)
	}
}

// sameEvent tells whether live label l was set by report r. Memory keeps
// no report ids (see labels.Label): reporters' events have distinct
// stamps, so the time and category tell.
func sameEvent(l labels.Label, r labels.Report) bool {
	return l.CreatedAt.Equal(r.CreatedAt) && l.Category == r.Category
}

// TestJournalFailureSettles: a batch stored in the history whose journal
// write fails (the second stage of a commit) is answered 503 and applied
// once the journal answers again, with nothing else written meanwhile to
// wake the commit loop; a retry then finds it stored.
func TestJournalFailureSettles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.open(t, time.Hour)
	defer s.Close(ctx)
	broken, err := mongo.Connect(ctx, options.Client().ApplyURI("mongodb://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	broken.Disconnect(ctx)
	restore := f.store.SwapJournal(broken.Database("x"))
	in := labels.ReportInput{Number: "+8613800138000", Category: "fraud", ClientReportID: "j-1"}
	if _, err := s.Report(ctx, app("ann"), in); labels.ErrorCode(err) != labels.EUnavailable {
		t.Fatalf("report with the journal failing: got %v, want %s", err, labels.EUnavailable)
	}
	if n := f.count(t, "reports", bson.M{"client_report_id": "j-1"}); n != 1 {
		t.Fatalf("%d reports in the history, want the one whose journal write failed", n)
	}
	if _, ok := s.LabelOf("ann", "+8613800138000"); ok {
		t.Fatal("applied although its journal write failed")
	}
	restore()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok := s.LabelOf("ann", "+8613800138000"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never applied after the journal answered again")
		}
	}
	if r, err := s.Report(ctx, app("ann"), in); err != nil || !r.Duplicate {
		t.Fatalf("retry: got %+v, %v; want the stored report as a duplicate", r, err)
	}
	// A restart replays it from the journal it was settled into.
	s2 := f.open(t, time.Hour)
	defer s2.Close(ctx)
	if _, ok := s2.LabelOf("ann", "+8613800138000"); !ok {
		t.Fatal("the settled report was not journaled")
	}
}

// TestRetriedBatch: a commit of retries, more than Store.Reports reads at
// once, answers each with the stored report it repeats (read back by id
// in the journal stage), and the fresh report among them as new.
func TestRetriedBatch(t *testing.T) {
	f := newFixture(t)
	const n = 20
	s := openHeld(t, f, n)
	in := func(i int) labels.ReportInput {
		return labels.ReportInput{Number: fmt.Sprintf("+86138%08d", i), Category: []string{"fraud", "delivery"}[i%2], ClientReportID: fmt.Sprint("retry-", i)}
	}
	// file sends the reports of reporters from..from+n at once: one commit.
	file := func(from int) []labels.Report {
		out := make([]labels.Report, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := s.Report(context.Background(), app(fmt.Sprint("r", from+i)), in(from+i))
				if err != nil {
					t.Errorf("report %d: %v", from+i, err)
				}
				out[i] = r
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		return out
	}
	first := file(0)
	// The same n-1 reports again, and the next reporter's first.
	again := file(1)
	for i, r := range again[:n-1] {
		want := first[i+1]
		if !r.Duplicate || r.ID != want.ID || r.Category != want.Category || !r.CreatedAt.Equal(want.CreatedAt) || r.Number.Key != want.Number.Key {
			t.Errorf("retry %d: got %+v, want the stored %+v as a duplicate", i+1, r, want)
		}
	}
	if r := again[n-1]; r.Duplicate || r.ClientReportID != in(n).ClientReportID {
		t.Errorf("fresh report: got %+v, want a new report", r)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
