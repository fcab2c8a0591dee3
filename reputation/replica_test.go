package reputation_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// TestGuardNoFalseNegatives: every added key is found, also far past the
// guard's capacity.
func TestGuardNoFalseNegatives(t *testing.T) {
	g := reputation.NewGuard(10_000, 0.01)
	r := rand.New(rand.NewPCG(3, 3))
	keys := numbers(r, 50_000, "+86138")
	for i, k := range keys {
		g.Add(k)
		if !g.MightContain(k) || !g.MightContain(keys[i/2]) {
			t.Fatalf("false negative after %d adds", i+1)
		}
	}
	if !g.Full() {
		t.Fatal("a guard past its capacity does not say so")
	}
}

// TestReplica: a lookup replica answers from storage through the guard and
// a bounded cache, and sees a number reported after it started once it
// caught up with the writer's log.
func TestReplica(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	w := newWorld(nil)
	cl := reputation.NewChangeLog(w.e, st, nil)
	label := func(reporter, key, cat string) {
		w.label(reporter, key, cat)
		cl.LabelChanged(nil, w.live[reporter+" "+key])
	}
	ids := w.established("r", 3, 60*24*time.Hour)
	for i := range 5 {
		for _, id := range ids {
			label(id, fmt.Sprintf("+861380000000%d", i), "fraud")
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := reputation.OpenReplica(ctx, st, reputation.ReplicaConfig{CacheSize: 2, GuardRate: 0.01, Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		n := labels.Number{Key: fmt.Sprintf("+861380000000%d", i), Valid: true}
		got, err := rep.Reputation(ctx, n)
		want := w.lookup(n.Key)
		if err != nil || got.Verdict != want.Verdict || got.Reporters != 3 || got.Score != want.Score {
			t.Fatalf("%s: got %+v (%v), want %+v", n.Key, got, err, want)
		}
	}
	if got, _ := rep.Reputation(ctx, labels.Number{Key: "+8613999999999", Valid: true}); got.Verdict != reputation.VerdictUnknown || got.Reporters != 0 {
		t.Fatalf("unknown number: %+v", got)
	}

	// A new report on the writer: after the log flush and one tail the
	// replica knows it, whatever it had cached.
	w.clock.Set(w.clock.Now().Add(time.Second))
	label(ids[0], "+8613700000000", "harassment")
	label(ids[1], "+8613800000000", "delivery")
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rep.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := rep.Reputation(ctx, labels.Number{Key: "+8613700000000", Valid: true}); got.Reporters != 1 {
		t.Fatalf("number reported after start: %+v", got)
	}
	if got, _ := rep.Reputation(ctx, labels.Number{Key: "+8613800000000", Valid: true}); got.Categories["delivery"] != 1 {
		t.Fatalf("relabelled number: %+v", got.Categories)
	}
	if _, err := rep.Explanation(ctx, labels.Number{Key: "+8613800000000"}, 5); labels.ErrorCode(err) != labels.EUnavailable {
		t.Fatalf("explanation on a replica: %v", err)
	}
}

// BenchmarkReplicaUnknown is the negative path of a lookup replica: the
// guard answers, storage is not touched.
func BenchmarkReplicaUnknown(b *testing.B) {
	ctx := context.Background()
	st := openStore(b)
	rep, err := reputation.OpenReplica(ctx, st, reputation.DefaultReplicaConfig())
	if err != nil {
		b.Fatal(err)
	}
	n := labels.Number{Key: "+8613999999999", Valid: true}
	for b.Loop() {
		if r, _ := rep.Reputation(ctx, n); r.Reporters != 0 {
			b.Fatal("hit")
		}
	}
}
