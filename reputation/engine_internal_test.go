package reputation

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
)

// TestRunningSumsAgree: a number past sumsFrom labels answers from running
// sums and a cache; the answer equals summing its labels afresh, and a
// change is seen at once.
func TestRunningSumsAgree(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now := at
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return now }
	e := NewEngine(cfg)
	key := "+8613800138000"
	n := labels.Number{Key: key, Valid: true}
	cats := []string{"fraud", "promotion", "delivery", "safe"}
	var live []*labels.Label
	for i := range 3 * sumsFrom {
		l := &labels.Label{Reporter: fmt.Sprint("ftc:", i), Key: key, Valid: true, Category: cats[i%len(cats)],
			Source: labels.ImportSource("ftc"), CreatedAt: at.Add(time.Duration(i) * 24 * time.Hour)}
		e.LabelChanged(nil, l)
		live = append(live, l)
	}
	for _, l := range live[:sumsFrom] { // retract a third: back under the running-sum threshold and over again
		e.LabelChanged(l, nil)
	}
	now = at.Add(200 * 24 * time.Hour)
	cached := e.Lookup(n)
	if again := e.Lookup(n); again.Reporters != cached.Reporters {
		t.Fatalf("cached lookup: got %d reporters, want %d", again.Reporters, cached.Reporters)
	}
	_, st := e.state(key)
	if st.ext == nil || st.ext.ev == nil {
		t.Fatalf("%d labels and no running sums", len(st.contribs))
	}
	ev := st.ext.ev
	st.ext.ev = nil
	st.touch()
	fresh := e.Lookup(n)
	st.ext.ev = ev
	if fresh.Verdict != cached.Verdict || fresh.Score != cached.Score || fresh.TopCategory != cached.TopCategory {
		t.Fatalf("from sums %+v, summed afresh %+v", cached, fresh)
	}
	for c, v := range fresh.Evidence {
		if math.Abs(cached.Evidence[c]-v) > 1e-3 {
			t.Fatalf("evidence of %s: sums %v, afresh %v", c, cached.Evidence[c], v)
		}
	}
	e.LabelChanged(nil, &labels.Label{Reporter: "ftc:new", Key: key, Valid: true, Category: "fraud",
		Source: labels.ImportSource("ftc"), CreatedAt: now})
	if got := e.Lookup(n).Reporters; got != cached.Reporters+1 {
		t.Fatalf("after a new label: got %d reporters, want %d", got, cached.Reporters+1)
	}
}
