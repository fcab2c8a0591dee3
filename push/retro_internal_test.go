package push

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

type safeLabels map[string]bool // user → their label on every number is safe

func (o safeLabels) LabelOf(user, key string) (labels.Label, bool) {
	return labels.Label{Reporter: user, Key: key, Category: "safe"}, o[user]
}

type fixedReputation reputation.Result

func (f fixedReputation) Reputation(context.Context, labels.Number) (reputation.Result, error) {
	return reputation.Result(f), nil
}

// TestRetroStreamsBatches pins how a retroactive fan-out is cut: batches
// go to emit one at a time as they fill, with s.mu released (emit records
// them, which takes it), and they are exactly what cutting the whole list
// at once gives: the same ids and items, whose order follows the sorted
// users, so that rebuilding a fan-out after a crash dedupes against the
// batches already recorded.
func TestRetroStreamsBatches(t *testing.T) {
	ctx := context.Background()
	st, err := OpenStore(ctx, mongotest.Open(t).DB)
	if err != nil {
		t.Fatal(err)
	}
	const key = "+8613800138000"
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var (
		ds   []Device
		recs []Record
		want []Item // in the order retro must cut them
		safe = safeLabels{}
	)
	for u := range 1234 {
		user := fmt.Sprintf("local:u%05d", u)
		recs = append(recs, Record{User: user, Key: key, Seen: "unknown", At: now.Add(-time.Duration(u%3) * 24 * time.Hour)})
		if u%17 == 0 {
			safe[user] = true // their own label says safe: no warning
		}
		sent := false
		for d := range 1 + u%3 {
			dev := Device{ID: fmt.Sprintf("dev_%05d_%d", u, d), User: user, Installation: fmt.Sprint(d), Token: fmt.Sprintf("tok-%05d-%d", u, d),
				Platform: Android, Locale: []string{"en", "zh-Hans", "zh-Hant"}[d], OptIns: AllOptIns(), Created: now, Updated: now}
			if u%5 == 0 && d == 0 {
				dev.OptIns.Retro = false
			}
			ds = append(ds, dev)
			if dev.OptIns.Retro && !safe[user] {
				want = append(want, Item{User: user, Device: dev.ID})
				sent = true
			}
		}
		if !sent && !safe[user] {
			want = append(want, Item{User: user}) // the inbox only
		}
	}
	if err := st.PutDevices(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := st.PutRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	res := reputation.Result{Verdict: reputation.VerdictFraud, Reporters: 12, TopCategory: "fraud", Score: 90}
	cfg := DefaultConfig()
	cfg.Store, cfg.Reputation, cfg.Labels = st, fixedReputation(res), safe
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Now = func() time.Time { return now }
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	num, err := labels.NormalizeKey(key, "", "CN")
	if err != nil {
		t.Fatal(err)
	}

	build := func() []*Batch {
		var got []*Batch
		s.retro(num, res, func(bs ...*Batch) {
			if !s.mu.TryLock() {
				t.Fatal("emit runs with s.mu held")
			}
			s.mu.Unlock()
			if len(bs) != 1 {
				t.Fatalf("emit got %d batches at once, want one as it fills", len(bs))
			}
			got = append(got, bs...)
		})
		return got
	}
	got := build()
	var items []Item
	for i, b := range got {
		if b.ID != fmt.Sprintf("retro|%s|fraud|%d", key, i) || b.Trigger != "retro|"+key+"|fraud" {
			t.Fatalf("batch %d: id %q, trigger %q", i, b.ID, b.Trigger)
		}
		if n := len(b.Items); n > maxBatch || (i < len(got)-1 && n != maxBatch) {
			t.Fatalf("batch %d of %d has %d items", i, len(got), n)
		}
		for _, it := range b.Items {
			if _, ok := b.Texts[it.Text]; it.Text != "" && !ok {
				t.Fatalf("batch %d lacks the text %q of %s", i, it.Text, it.Device)
			}
			items = append(items, Item{User: it.User, Device: it.Device})
		}
		for k := range b.Texts {
			if !slices.ContainsFunc(b.Items, func(it Item) bool { return it.Text == k }) {
				t.Fatalf("batch %d carries the unused text %q", i, k)
			}
		}
	}
	same := func(a, b Item) bool { return a.User == b.User && a.Device == b.Device }
	if !slices.EqualFunc(items, want, same) {
		t.Fatalf("retro cut %d items, want %d in sorted user order", len(items), len(want))
	}
	// Cutting the same list at once gives the same batches.
	var all []Item
	for _, b := range got {
		all = append(all, b.Items...)
	}
	texts := map[string]Text{}
	for _, b := range got {
		for k, v := range b.Texts {
			texts[k] = v
		}
	}
	whole := split(got[0].Trigger, now, got[0].Warning, texts, all)
	if len(whole) != len(got) {
		t.Fatalf("split gives %d batches, retro %d", len(whole), len(got))
	}
	for i := range whole {
		if whole[i].ID != got[i].ID || len(whole[i].Items) != len(got[i].Items) || len(whole[i].Texts) != len(got[i].Texts) {
			t.Fatalf("batch %d: split %s with %d items, retro %s with %d", i, whole[i].ID, len(whole[i].Items), got[i].ID, len(got[i].Items))
		}
	}
	// A second build, as after a crash before the trigger was marked
	// handled, cuts the same batches.
	again := build()
	for i := range again {
		if again[i].ID != got[i].ID || !slices.EqualFunc(again[i].Items, got[i].Items, same) {
			t.Fatalf("rebuilt batch %d differs", i)
		}
	}
	// No recipients still makes one empty batch, the trigger's record.
	if bs := split("t", now, Warning{}, nil, nil); len(bs) != 1 || len(bs[0].Items) != 0 {
		t.Fatalf("split of nothing: %d batches", len(bs))
	}
	if bs := split("t", now, Warning{}, nil, make([]Item, maxBatch)); len(bs) != 1 {
		t.Fatalf("split of exactly %d items: %d batches", maxBatch, len(bs))
	}
}
