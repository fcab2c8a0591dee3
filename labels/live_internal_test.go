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

// TestChunkRoundTrip: a snapshot chunk decodes to what was encoded, and
// every truncation or flipped byte of it fails cleanly or decodes, never
// panics.
func TestChunkRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	w := newChunkWriter()
	want := map[string]int{}
	for i := range 50 {
		n := Number{Key: fmt.Sprintf("+86138%08d", i), Valid: i%3 != 0, Type: TypeMobile, Region: "CN"}
		if i%10 == 0 {
			n = Number{Key: fmt.Sprintf("CN:955%02d", i), Valid: true, Type: TypeService, Region: "CN", Scoped: true}
		}
		s := &slot{}
		for j := range 1 + i%3 {
			r := Report{ID: fmt.Sprint(i, j), Reporter: fmt.Sprint("u", j), Source: SourceApp, IPPrefix: "192.0.2.0/24",
				Number: n, Category: "fraud", CreatedAt: at.Add(time.Duration(i) * time.Hour)}
			rec := toRec(&r, at)
			rec.num, rec.region = numberCode(n.Type, n.Valid), regionIndex(n.Region)
			s.recs = append(s.recs, rec)
		}
		w.slot(n.Key, s)
		want[n.Key] = len(s.recs)
	}
	got := map[string]int{}
	err := decodeChunk(w.buf, func(n Number, r liveRec) {
		got[n.Key]++
		if l := recLabel(n.Key, &r); l.Category != "fraud" || l.Region != "CN" || l.PrefixKey != PrefixKey("192.0.2.0/24") {
			t.Fatalf("decoded %+v", l)
		}
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("decode: %v, %d numbers, want %d", err, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: got %d labels, want %d", k, got[k], v)
		}
	}
	for cut := 0; cut < len(w.buf); cut += 7 {
		_ = decodeChunk(w.buf[:cut], func(Number, liveRec) {})
		flipped := append([]byte(nil), w.buf...)
		flipped[cut] ^= 0xff
		_ = decodeChunk(flipped, func(Number, liveRec) {})
	}
}
