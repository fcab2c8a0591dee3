package labels

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkLiveMemory reports the live labels' heap per number: b.N
// numbers with two import complaints each, the shape of an FTC import.
// Run with -benchtime 1000000x.
func BenchmarkLiveMemory(b *testing.B) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	t := newLiveTable(NewKeys())
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	src := ImportSource("ftc")
	for i := range b.N {
		n := Number{Key: fmt.Sprintf("+1%03d%07d", 200+i%700, i), Valid: true, Type: TypeFixedLineOrMobile, Region: "US"}
		for j := range 2 {
			r := Report{ID: fmt.Sprintf("ftc-%d-%d", i, j), Reporter: fmt.Sprintf("ftc:%d-%d", i, j), Source: src,
				Number: n, Category: "robocall", CreatedAt: at}
			t.set(n, toRec(&r, at))
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "B/number")
	runtime.KeepAlive(t)
}
