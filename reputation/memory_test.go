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
