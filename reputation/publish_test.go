package reputation_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

// TestDurableDeltas pins that the delta history is stored with the
// snapshots: a restarted builder and a lookup replica (no engine) serve a
// phone at an older version the same delta, byte for byte; a removal, an
// unknown version and a version older than the delta window get the full
// snapshot; CallKit changes survive the restart too.
func TestDurableDeltas(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	blobs, err := reputation.OpenBlobStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(nil)
	ids := w.established("d", 4, 60*24*time.Hour)
	flag := func(key string) {
		for _, id := range ids[:3] {
			w.label(id, key, "fraud")
		}
	}
	cfg := reputation.DefaultPublisherConfig()
	cfg.DeltaWindow, cfg.Now = 24*time.Hour, w.clock.Now
	open := func(withEngine bool) *reputation.Publisher {
		t.Helper()
		e := w.e
		if !withEngine {
			e = nil
		}
		p := reputation.NewPublisher(cfg, e, blobs, nil)
		if err := p.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rebuild := func(p *reputation.Publisher) uint64 {
		t.Helper()
		w.clock.Set(w.clock.Now().Add(time.Minute))
		if err := p.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		s, _, _ := p.Filter(reputation.FilterQuery{Name: "fraud"})
		return s.Version
	}
	flag("+8613800138000")
	writer := open(true)
	v1 := rebuild(writer)
	ck1, err := writer.CallKit(reputation.CallKitQuery{Kind: "block"})
	if err != nil {
		t.Fatal(err)
	}
	flag("+8613900139000")
	v2 := rebuild(writer)
	want, _, _ := writer.Filter(reputation.FilterQuery{Name: "fraud", Since: v1})
	if !want.Delta() || want.Base != v1 || want.Version != v2 || !want.Test("+8613900139000") {
		t.Fatalf("delta from v%d: got base %d version %d", v1, want.Base, want.Version)
	}

	restarted, replica := open(true), open(false)
	for name, p := range map[string]*reputation.Publisher{"Restarted": restarted, "Replica": replica} {
		got, ok, err := p.Filter(reputation.FilterQuery{Name: "fraud", Since: v1})
		if err != nil || !ok || !bytes.Equal(got.Bytes, want.Bytes) {
			t.Errorf("%s: got delta %v (%v), want the writer's bytes", name, got, err)
		}
	}
	ck, err := restarted.CallKit(reputation.CallKitQuery{Kind: "block", Since: ck1.Version})
	if err != nil || ck.Full || len(ck.Entries) != 1 || ck.Entries[0].Number != 8613900139000 {
		t.Fatalf("CallKit after restart: got %+v %v, want the one addition", ck, err)
	}

	// The restarted builder knows its keys: its next version is a delta too.
	flag("+8613700137000")
	v3 := rebuild(restarted)
	if d, _, _ := restarted.Filter(reputation.FilterQuery{Name: "fraud", Since: v1}); !d.Delta() || d.Base != v1 || d.Version != v3 {
		t.Fatalf("delta from v%d after a restart: got base %d version %d", v1, d.Base, d.Version)
	}
	if err := replica.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := replica.Filter(reputation.FilterQuery{Name: "fraud", Since: v2}); !d.Delta() || d.Version != v3 || !d.Test("+8613700137000") {
		t.Fatalf("replica after the next version: got base %d version %d", d.Base, d.Version)
	}

	for _, id := range ids[:3] {
		w.retract(id, "+8613800138000")
	}
	v4 := rebuild(restarted)
	if s, _, _ := restarted.Filter(reputation.FilterQuery{Name: "fraud", Since: v3}); s.Delta() || s.Version != v4 || s.Test("+8613800138000") {
		t.Fatalf("after a removal: got delta %v version %d, want the full snapshot without the number", s.Delta(), s.Version)
	}
	if s, _, _ := restarted.Filter(reputation.FilterQuery{Name: "fraud", Since: 999}); s.Delta() {
		t.Fatal("an unknown version got a delta")
	}
	w.clock.Set(w.clock.Now().Add(25 * time.Hour))
	flag("+8613600136000")
	rebuild(restarted)
	late := open(false)
	if s, _, _ := late.Filter(reputation.FilterQuery{Name: "fraud", Since: v3}); s.Delta() {
		t.Fatal("a version whose change is older than the delta window got a delta")
	}
	if s, _, _ := late.Filter(reputation.FilterQuery{Name: "fraud", Since: v4}); !s.Delta() {
		t.Fatal("the version before the last change got no delta")
	}
	n, err := m.DB.Collection("list_changes").CountDocuments(ctx, map[string]any{"list": "fraud"})
	if err != nil || n != 1 {
		t.Fatalf("stored changes of fraud: got %d (%v), want only the one within the window", n, err)
	}
}

// TestCappedFilters pins filters capped at a limit: they hold the most
// strongly flagged keys, ties broken by the lower key, the same bytes
// whoever builds them, and a phone that follows a capped filter's deltas
// holds exactly the fresh capped snapshot after every version (a key that
// fell out of the cap gets it the full snapshot); the same for capped
// CallKit exports, whose incremental exports remove what fell out.
func TestCappedFilters(t *testing.T) {
	w := newWorld(nil)
	ids := w.established("c", 4, 60*24*time.Hour)
	flag := func(key string, reporters int) {
		for _, id := range ids[:reporters] {
			w.label(id, key, "fraud")
		}
	}
	const a, b, c, d, e = "+8613800138000", "+8613600136000", "+8613700137000", "+8613500135000", "+8613900139000"
	universe := []string{a, b, c, d, e}
	cfg := reputation.DefaultPublisherConfig()
	cfg.Now, cfg.Limits = w.clock.Now, []int{2, 5}
	p := reputation.NewPublisher(cfg, w.e, nil, nil)
	rebuild := func() {
		t.Helper()
		w.clock.Set(w.clock.Now().Add(time.Minute))
		if err := p.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	get := func(limit int, since uint64) *reputation.Snapshot {
		t.Helper()
		s, ok, err := p.Filter(reputation.FilterQuery{Name: "fraud", Since: since, Limit: limit})
		if err != nil || !ok {
			t.Fatalf("fraud@%d since %d: %v %v", limit, since, ok, err)
		}
		return s
	}
	holds := func(ss []*reputation.Snapshot) []string {
		var out []string
		for _, k := range universe {
			if slices.ContainsFunc(ss, func(s *reputation.Snapshot) bool { return s.Test(k) }) {
				out = append(out, k)
			}
		}
		return out
	}
	phones := map[int][]*reputation.Snapshot{} // limit → full snapshot, then deltas
	type directory struct {
		version uint64
		entries map[uint64]string // number → label
	}
	directories := map[string]*directory{} // kind@limit → what an iPhone holds
	removedUnderCap := false
	sync := func(step string) {
		t.Helper()
		for _, kind := range []string{"block", "identify"} {
			for _, limit := range cfg.Limits {
				id := fmt.Sprintf("%s@%d", kind, limit)
				d := directories[id]
				if d == nil {
					d = &directory{}
					directories[id] = d
				}
				ex, err := p.CallKit(reputation.CallKitQuery{Kind: kind, Since: d.version, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if ex.Full {
					d.entries = map[uint64]string{}
				}
				for _, n := range ex.Removed {
					delete(d.entries, n)
					removedUnderCap = true
				}
				for _, e := range ex.Entries {
					d.entries[e.Number] = e.Label
				}
				d.version = ex.Version
				fresh, err := p.CallKit(reputation.CallKitQuery{Kind: kind, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				want := map[uint64]string{}
				for _, e := range fresh.Entries {
					want[e.Number] = e.Label
				}
				if !maps.Equal(d.entries, want) || len(want) > limit {
					t.Errorf("%s: CallKit %s after the exports holds %v, the full export %v", step, id, d.entries, want)
				}
			}
		}
		for _, limit := range cfg.Limits {
			held := phones[limit]
			var since uint64
			if len(held) > 0 {
				since = held[len(held)-1].Version
			}
			s := get(limit, since)
			switch {
			case !s.Delta():
				held = []*reputation.Snapshot{s}
			case s.Base != since:
				t.Fatalf("%s: fraud@%d delta base %d, phone at %d", step, limit, s.Base, since)
			default:
				held = append(held, s)
			}
			phones[limit] = held
			fresh := get(limit, 0)
			if got, want := holds(held), holds([]*reputation.Snapshot{fresh}); !slices.Equal(got, want) {
				t.Errorf("%s: fraud@%d after the chain holds %v, the fresh snapshot %v", step, limit, got, want)
			}
		}
	}

	flag(a, 4)
	flag(b, 3)
	flag(c, 3)
	rebuild()
	if got, want := holds([]*reputation.Snapshot{get(2, 0)}), []string{a, b}; !slices.Equal(got, want) {
		t.Fatalf("fraud@2: got %v, want the strongest and the lower of two equals %v", got, want)
	}
	if s := get(2, 0); s.Name != "fraud@2" || s.Entries != 2 {
		t.Fatalf("fraud@2: got name %q with %d entries", s.Name, s.Entries)
	}
	again := reputation.NewPublisher(cfg, w.e, nil, nil)
	if err := again.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := again.Filter(reputation.FilterQuery{Name: "fraud", Limit: 2}); !bytes.Equal(s.Bytes, get(2, 0).Bytes) {
		t.Fatal("another build of the same reputations made other bytes")
	}
	sync("v1")

	flag(e, 3) // ties b with a higher key: fraud@2 is unchanged
	rebuild()
	if s := get(2, 0); s.Version != phones[2][0].Version {
		t.Fatalf("fraud@2: a key below the cap made version %d", s.Version)
	}
	if s := get(5, phones[5][0].Version); !s.Delta() || s.Entries != 1 {
		t.Fatalf("fraud@5: got delta %v with %d entries, want the one addition", s.Delta(), s.Entries)
	}
	sync("e added")

	flag(d, 4) // ties a, evicts b from fraud@2
	rebuild()
	if s := get(2, phones[2][0].Version); s.Delta() {
		t.Fatal("fraud@2: a key fell out of the cap and the phone got a delta")
	}
	sync("d added")

	w.retract(ids[3], a) // a falls below the others' ties: b comes back
	rebuild()
	sync("a weakened")

	if !removedUnderCap {
		t.Error("no incremental CallKit export removed an entry that fell out of its cap")
	}
	for _, limit := range []int{-1, 3, 1 << 20} {
		if _, _, err := p.Filter(reputation.FilterQuery{Name: "fraud", Limit: limit}); labels.ErrorCode(err) != labels.EInvalid {
			t.Errorf("limit %d: got %v, want %s", limit, err, labels.EInvalid)
		}
	}
	if _, err := p.CappedFilters(3); labels.ErrorCode(err) != labels.EInvalid {
		t.Errorf("listing at limit 3: got %v, want %s", err, labels.EInvalid)
	}
}
