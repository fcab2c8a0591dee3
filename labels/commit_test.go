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
			if last := rs[len(rs)-1]; ok != (last.Kind == labels.KindLabel) || ok && l.ReportID != last.ID {
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
			if last := rs[len(rs)-1]; ok != (last.Kind == labels.KindLabel) || ok && l.ReportID != last.ID {
				t.Fatalf("%s after restart: got %+v (%v), want %+v", k, l, ok, last)
			}
		}
	})
}
