package moderation_test

import (
	"context"
	"testing"
	"time"

	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/moderation"
)

// TestStore pins what the service relies on, on the embedded FerretDB: a
// compare-and-set on {_id, version} that refuses a stale version, and a
// lock that only one holder gets until it is freed.
func TestStore(t *testing.T) {
	ctx := context.Background()
	st, err := moderation.OpenStore(ctx, mongotest.Open(t).DB)
	if err != nil {
		t.Fatal(err)
	}
	c := &moderation.Case{ID: "c-1", Kind: moderation.KindDispute, Number: "+8613800138000", Filer: "local:a",
		Status: moderation.StatusOpen, Created: t0, Updated: t0, Deadline: t0.Add(time.Hour), Version: 1}
	if err := st.InsertCase(ctx, c); err != nil {
		t.Fatal(err)
	}
	next := *c
	next.Status, next.ClaimedBy, next.Version = moderation.StatusClaimed, "local:mod", 2
	for _, tc := range []struct {
		name string
		prev int64
		want bool
	}{{"Current", 1, true}, {"Stale", 1, false}, {"Future", 5, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := st.UpdateCase(ctx, &next, tc.prev)
			if err != nil || ok != tc.want {
				t.Fatalf("UpdateCase from version %d: got %v, %v; want %v", tc.prev, ok, err, tc.want)
			}
		})
	}
	cs, err := st.Cases(ctx)
	if err != nil || len(cs) != 1 || cs[0].Version != 2 || cs[0].ClaimedBy != "local:mod" || !cs[0].Deadline.Equal(c.Deadline) {
		t.Fatalf("stored cases: %+v %v", cs, err)
	}

	for i, want := range []bool{true, false} {
		if ok, err := st.Lock(ctx, "+8613800138000|local:a", "c-1"); err != nil || ok != want {
			t.Fatalf("lock %d: got %v, %v; want %v", i, ok, err, want)
		}
	}
	if err := st.Unlock(ctx, "+8613800138000|local:a"); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Lock(ctx, "+8613800138000|local:a", "c-2"); err != nil || !ok {
		t.Fatalf("lock after unlock: %v, %v", ok, err)
	}
	if locks, err := st.Locks(ctx); err != nil || len(locks) != 1 || locks["+8613800138000|local:a"] != "c-2" {
		t.Fatalf("locks: %v %v", locks, err)
	}

	e := moderation.AuditEntry{ID: "a-1", At: t0, Actor: "local:mod", Action: moderation.ActionClaim, Case: "c-1",
		Before: &moderation.Snapshot{Status: moderation.StatusOpen}, After: &moderation.Snapshot{Status: moderation.StatusClaimed, ClaimedBy: "local:mod"}}
	if err := st.AppendAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendAudit(ctx, e); err == nil {
		t.Fatal("an audit entry was stored twice under one id")
	}
	got, err := st.Audit(ctx)
	if err != nil || len(got) != 1 || *got[0].After != *e.After || got[0].Number != "" {
		t.Fatalf("audit: %+v %v", got, err)
	}
}
