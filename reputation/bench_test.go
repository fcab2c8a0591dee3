package reputation_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// BenchmarkLookup measures the in-memory lookup of a phone's ringing number
// in an index of one million labelled numbers: hits and (more common) misses.
func BenchmarkLookup(b *testing.B) {
	cfg := reputation.DefaultConfig()
	cfg.Now = func() time.Time { return t0.Add(time.Hour) }
	ix := reputation.NewEngine(cfg)
	label := func(reporter, key, cat string, at time.Time) *labels.Label {
		return &labels.Label{Reporter: reporter, Key: key, Category: cat, Valid: true, Source: labels.SourceApp,
			ReportID: reporter + key, CreatedAt: at, FirstAt: at}
	}
	cats := []string{"fraud", "harassment", "promotion", "delivery"}
	const n = 1_000_000
	for i := range n {
		key := fmt.Sprintf("+86138%08d", i)
		for r := range 1 + i%3 {
			ix.LabelChanged(nil, label(fmt.Sprint("u", r), key, cats[(i+r)%len(cats)], t0))
		}
	}
	hit := make([]labels.Number, 1024)
	miss := make([]labels.Number, 1024)
	for i := range hit {
		hit[i] = labels.Number{Key: fmt.Sprintf("+86138%08d", (i*7919)%n), Valid: true}
		miss[i] = labels.Number{Key: fmt.Sprintf("+86139%08d", i), Valid: true}
	}
	b.Run("Hit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if ix.Lookup(hit[i%len(hit)]).Reporters == 0 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("Miss", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if ix.Lookup(miss[i%len(miss)]).Verdict != reputation.VerdictUnknown {
				b.Fatal("hit")
			}
		}
	})
	b.Run("Update", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			l := label("bench", hit[i%len(hit)].Key, "fraud", t0)
			l.ReportID = fmt.Sprint(i)
			ix.LabelChanged(nil, l)
			ix.LabelChanged(l, nil)
		}
	})
}

// BenchmarkStoreRebuild measures a rewrite of the stored reputations of
// 100,000 numbers with two import labels each, on the embedded store.
func BenchmarkStoreRebuild(b *testing.B) {
	const numbers = 100_000
	keys := labels.NewKeys()
	cfg := reputation.DefaultConfig()
	cfg.Keys = keys
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return at }
	e := reputation.NewEngine(cfg)
	for i := range numbers {
		key := fmt.Sprintf("+1%03d%07d", 200+i%700, i)
		for j := range 2 {
			e.LabelChanged(nil, &labels.Label{Reporter: fmt.Sprintf("ftc:%d-%d", i, j), Key: key, Valid: true,
				NumberType: labels.TypeFixedLineOrMobile, Region: "US", Category: "robocall",
				Source: labels.ImportSource("ftc"), CreatedAt: at, FirstAt: at})
		}
	}
	st := openStore(b)
	b.ResetTimer()
	for range b.N {
		if err := st.Rebuild(context.Background(), e, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(numbers*b.N)/b.Elapsed().Seconds(), "numbers/s")
}
