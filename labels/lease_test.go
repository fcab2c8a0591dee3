package labels_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
)

// TestLeases pins the upsert-or-duplicate lease on the embedded FerretDB:
// one holder at a time, renewal, expiry and release.
func TestLeases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := f.store.Leases()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		name, holder string
		at           time.Duration
		want         bool
	}{
		{"FirstTakes", "a", 0, true},
		{"OtherWaits", "b", time.Minute, false},
		{"HolderRenews", "a", 2 * time.Minute, true},
		{"OtherStillWaits", "b", 11 * time.Minute, false},
		{"ExpiredIsTaken", "b", 13 * time.Minute, true},
		{"OldHolderWaits", "a", 14 * time.Minute, false},
	}
	for _, s := range steps {
		got, err := l.Acquire(ctx, "rescore", s.holder, 10*time.Minute, now.Add(s.at))
		if err != nil || got != s.want {
			t.Fatalf("%s: got %v, %v; want %v", s.name, got, err, s.want)
		}
	}
	if h, _, _ := l.Holder(ctx, "rescore"); h != "b" {
		t.Fatalf("holder %q, want b", h)
	}
	if err := l.Release(ctx, "rescore", "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Acquire(ctx, "rescore", "a", time.Minute, now.Add(15*time.Minute)); !got {
		t.Fatal("released lease not taken")
	}
}

// TestJobRunsOnOneReplica: two replicas' loops over one store; only the
// lease holder runs rounds.
func TestJobRunsOnOneReplica(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs [2]atomic.Int32
	done := make(chan struct{}, 2)
	for i := range 2 {
		j := &labels.Job{Name: "tick", Interval: 20 * time.Millisecond, Leases: f.store.Leases(),
			Holder: []string{"r1", "r2"}[i], Run: func(context.Context) error { runs[i].Add(1); return nil }}
		go func() { j.Loop(ctx); done <- struct{}{} }()
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	<-done
	a, b := runs[0].Load(), runs[1].Load()
	if (a == 0) == (b == 0) {
		t.Fatalf("runs: r1 %d, r2 %d; want exactly one replica running", a, b)
	}
}
