package reputation_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// BenchmarkStateMemory reports the engine's live heap per number of a
// national-size list: b.N numbers, two import complaints each, the shape
// of an FTC import. Run with -benchtime 1000000x.
func BenchmarkStateMemory(b *testing.B) {
	keys := labels.NewKeys()
	cfg := reputation.DefaultConfig()
	cfg.Keys = keys
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return at }
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	e := reputation.NewEngine(cfg)
	for i := range b.N {
		key := fmt.Sprintf("+1%03d%07d", 200+i%700, i)
		for j := range 2 {
			e.LabelChanged(nil, &labels.Label{Reporter: fmt.Sprintf("ftc:%d-%d", i, j), Key: key, Valid: true,
				NumberType: labels.TypeFixedLineOrMobile, Region: "US", Category: "robocall",
				Source: labels.ImportSource("ftc"), CreatedAt: at, FirstAt: at})
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "B/number")
	runtime.KeepAlive(e)
}

// BenchmarkRescoreAppReporters reports what the trust estimate of app
// reporters costs: b.N numbers, each labelled by two reporters of their
// own (2·b.N app reporters, the shape of a large user base), rescored
// once. trust-B/reporter is the live heap the estimate adds, peak-MiB the
// highest live heap sampled during the rescore, engine-MiB the live heap
// before it. Run with -benchtime 500000x (a million reporters).
func BenchmarkRescoreAppReporters(b *testing.B) {
	keys := labels.NewKeys()
	cfg := reputation.DefaultConfig()
	cfg.Keys = keys
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return at.Add(time.Hour) }
	e := reputation.NewEngine(cfg)
	// Every category of the taxonomy is a class of the estimate.
	cats := []string{"fraud", "harassment", "promotion", "real_estate", "financial", "recruitment", "survey", "robocall",
		"one_ring", "debt_collection", "unwanted", "delivery", "ride", "customer_service", "safe"}
	for i := range b.N {
		key := fmt.Sprintf("+86139%08d", i)
		for j := range 2 {
			cat := cats[i%len(cats)]
			if (i+j)%7 == 0 {
				cat = cats[(i+1)%len(cats)]
			}
			e.LabelChanged(nil, &labels.Label{Reporter: fmt.Sprintf("firebase:u%d-%d", i, j), Key: key, Valid: true,
				NumberType: labels.TypeMobile, Region: "CN", Category: cat, Source: labels.SourceApp, CreatedAt: at, FirstAt: at})
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()
	b.ResetTimer()
	s := e.Rescore()
	b.StopTimer()
	close(stop)
	<-sampled
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if s.Reporters < b.N {
		b.Fatalf("rescored %d reporters, want %d", s.Reporters, 2*b.N)
	}
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(2*b.N), "trust-B/reporter")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(before.HeapAlloc)/(1<<20), "engine-MiB")
	runtime.KeepAlive(e)
}
