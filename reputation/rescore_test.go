package reputation_test

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// TestRescoreLearnsTrust: a reporter who contradicts the crowd and the
// moderators loses weight; changes made while rescoring are kept.
func TestRescoreLearnsTrust(t *testing.T) {
	w := newWorld(nil)
	honest := w.established("h", 6, 90*24*time.Hour)
	liar := w.established("liar", 1, 90*24*time.Hour)[0]
	for i := range 40 {
		num := fmt.Sprintf("+861390000%04d", i)
		cat, lie := "fraud", "delivery"
		if i%2 == 0 {
			cat, lie = "delivery", "fraud"
		}
		for _, h := range honest[:3+i%3] {
			w.label(h, num, cat)
		}
		w.label(liar, num, lie)
		if i < 10 {
			w.label("mod", num, cat, source(labels.SourceModerator))
		}
	}
	target := "+8613900009999"
	for _, h := range honest[:3] {
		w.label(h, target, "fraud")
	}
	w.label(liar, target, "delivery")
	before := w.lookup(target).Evidence["delivery"]

	late := "+8613900008888"
	done := make(chan reputation.RescoreStats)
	go func() { done <- w.e.Rescore() }()
	// A report that arrives while the estimation runs.
	w.label(honest[0], late, "harassment")
	stats := <-done
	if stats.Gold != 10 || stats.Reporters != 7 || stats.Labels == 0 {
		t.Fatalf("stats %+v", stats)
	}
	trust := w.e.Trust()
	if trust == nil || trust.Workers[reputation.WorkerName(liar)].Accuracy >= trust.Workers[reputation.WorkerName(honest[0])].Accuracy {
		t.Fatalf("liar not found out: %+v", trust)
	}
	after := w.lookup(target)
	if after.Evidence["delivery"] >= before || after.Verdict != reputation.VerdictFraud {
		t.Fatalf("liar's weight %v → %v, verdict %s", before, after.Evidence["delivery"], after.Verdict)
	}
	if r := w.lookup(late); r.Reporters != 1 {
		t.Fatalf("label made during the rescore lost: %+v", r)
	}
}

// TestLookupsDuringRescore runs lookups and label changes concurrently
// with a rescore (meaningful under -race): lookups never block on it for
// long and never see a half-built state.
func TestLookupsDuringRescore(t *testing.T) {
	w := newWorld(nil)
	ids := w.established("p", 8, 60*24*time.Hour)
	for i := range 2000 {
		w.label(ids[i%len(ids)], fmt.Sprintf("+86137%08d", i/4), []string{"fraud", "promotion", "delivery"}[i%3])
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := w.e.Lookup(labels.Number{Key: fmt.Sprintf("+86137%08d", i%500), Valid: true})
			if r.Reporters == 0 {
				t.Errorf("lookup %d saw an empty state", i)
				return
			}
		}
	}()
	for range 3 {
		w.e.Rescore()
	}
	close(stop)
	wg.Wait()
}

// TestTrustRoundTrip: the stored form of a trust estimate weighs every
// reporter, known or new, and decides exactly as the original.
func TestTrustRoundTrip(t *testing.T) {
	w := newWorld(nil)
	honest := w.established("local:h", 5, 90*24*time.Hour)
	liar := w.established("local:liar", 1, 90*24*time.Hour)[0]
	for i := range 30 {
		num := fmt.Sprintf("+861390000%04d", i)
		cats := []string{"fraud", "delivery", "promotion"}
		for _, h := range honest[:3+i%3] {
			w.label(h, num, cats[i%3])
		}
		w.label(liar, num, cats[(i+1)%3])
		w.label(fmt.Sprint("ftc:", i), num, cats[i%3], source(labels.ImportSource("ftc")))
	}
	w.e.Rescore()
	orig := w.e.Trust()
	b, err := reputation.EncodeTrust(orig)
	if err != nil {
		t.Fatal(err)
	}
	back, err := reputation.DecodeTrust(b)
	if err != nil {
		t.Fatal(err)
	}
	workers := []string{"ftc:3", "local:newcomer", "ftc:new", "firebase:x", "import:ftc", reputation.WorkerName("local:newcomer")}
	for _, h := range append(honest, liar) {
		workers = append(workers, reputation.WorkerName(h))
	}
	for _, worker := range workers {
		for _, c := range orig.Classes {
			if a, b := orig.Weight(worker, c), back.Weight(worker, c); math.Abs(a-b) > 1e-12 {
				t.Fatalf("Weight(%s, %s): %v, stored %v", worker, c, a, b)
			}
		}
		if orig.Workers[worker].Accuracy != back.Workers[worker].Accuracy {
			t.Fatalf("accuracy of %s differs", worker)
		}
	}
	ev := map[string]float64{"fraud": 1.2, "delivery": 1.1, "promotion": 0.3}
	if orig.Decide(ev) != back.Decide(ev) {
		t.Fatal("decisions differ")
	}
	if again, err := reputation.EncodeTrust(back); err != nil || !bytes.Equal(again, b) {
		t.Fatalf("encoding the decoded estimate: %v; want the same %d bytes", err, len(b))
	}
	// Every cut of the stored form is refused, never half read.
	for n := range len(b) {
		if _, err := reputation.DecodeTrust(b[:n]); err == nil {
			t.Fatalf("stored trust cut at %d of %d bytes accepted", n, len(b))
		}
	}
	if _, err := reputation.DecodeTrust(append(slices.Clip(b), 0)); err == nil {
		t.Fatal("stored trust with a trailing byte accepted")
	}
	if _, err := reputation.DecodeTrust([]byte(`{"classes":["a","b"],"workers":{"x":{"w":[1]}}}`)); err == nil {
		t.Fatal("inconsistent stored trust accepted")
	}
	// The JSON form earlier builds stored is still read.
	old, err := reputation.DecodeTrust([]byte(`{"classes":["a","b"],"prior":{"a":0.5,"b":0.5},"cohorts":{},"global":{"Accuracy":0.7},` +
		`"iterations":3,"workers":{"local:x":{"a":0.9,"l":4,"g":1,"w":[1.5,-0.25]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if w := old.Workers["local:x"]; w.Accuracy != 0.9 || w.Labels != 4 || w.GoldLabels != 1 || old.Weight("local:x", "a") != 1.5 || old.Weight("local:x", "b") != -0.25 || old.Iterations != 3 {
		t.Fatalf("trust stored as JSON: got %+v, weights %v %v", w, old.Weight("local:x", "a"), old.Weight("local:x", "b"))
	}
}
