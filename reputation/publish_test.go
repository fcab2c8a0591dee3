package reputation_test

import (
	"bytes"
	"context"
	"testing"
	"time"

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
		s, _, _ := p.Filter("fraud", 0)
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
	want, _, _ := writer.Filter("fraud", v1)
	if !want.Delta() || want.Base != v1 || want.Version != v2 || !want.Test("+8613900139000") {
		t.Fatalf("delta from v%d: got base %d version %d", v1, want.Base, want.Version)
	}

	restarted, replica := open(true), open(false)
	for name, p := range map[string]*reputation.Publisher{"Restarted": restarted, "Replica": replica} {
		got, ok, err := p.Filter("fraud", v1)
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
	if d, _, _ := restarted.Filter("fraud", v1); !d.Delta() || d.Base != v1 || d.Version != v3 {
		t.Fatalf("delta from v%d after a restart: got base %d version %d", v1, d.Base, d.Version)
	}
	if err := replica.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := replica.Filter("fraud", v2); !d.Delta() || d.Version != v3 || !d.Test("+8613700137000") {
		t.Fatalf("replica after the next version: got base %d version %d", d.Base, d.Version)
	}

	for _, id := range ids[:3] {
		w.retract(id, "+8613800138000")
	}
	v4 := rebuild(restarted)
	if s, _, _ := restarted.Filter("fraud", v3); s.Delta() || s.Version != v4 || s.Test("+8613800138000") {
		t.Fatalf("after a removal: got delta %v version %d, want the full snapshot without the number", s.Delta(), s.Version)
	}
	if s, _, _ := restarted.Filter("fraud", 999); s.Delta() {
		t.Fatal("an unknown version got a delta")
	}
	w.clock.Set(w.clock.Now().Add(25 * time.Hour))
	flag("+8613600136000")
	rebuild(restarted)
	late := open(false)
	if s, _, _ := late.Filter("fraud", v3); s.Delta() {
		t.Fatal("a version whose change is older than the delta window got a delta")
	}
	if s, _, _ := late.Filter("fraud", v4); !s.Delta() {
		t.Fatal("the version before the last change got no delta")
	}
	n, err := m.DB.Collection("list_changes").CountDocuments(ctx, map[string]any{"list": "fraud"})
	if err != nil || n != 1 {
		t.Fatalf("stored changes of fraud: got %d (%v), want only the one within the window", n, err)
	}
}
