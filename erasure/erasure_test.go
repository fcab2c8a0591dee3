package erasure_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/callrep/callrep/erasure"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// itemStep erases a reporter's documents of coll ten at a time, as the
// labels step does with reports; gate, when set, is waited on before each
// batch and told after its progress is stored, so that a test can stop the
// job in the middle.
func itemStep(coll *mongo.Collection, gate chan struct{}) erasure.Step {
	return func(ctx context.Context, reporter string, progress func(erasure.Counts) error) error {
		for {
			if gate != nil {
				select {
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			cur, err := coll.Find(ctx, bson.M{"reporter": reporter}, nil)
			if err != nil {
				return err
			}
			var docs []struct {
				ID string `bson:"_id"`
			}
			if err := cur.All(ctx, &docs); err != nil {
				return err
			}
			if len(docs) == 0 {
				return nil
			}
			n := 0
			for _, d := range docs[:min(10, len(docs))] {
				res, err := coll.DeleteOne(ctx, bson.M{"_id": d.ID})
				if err != nil {
					return err
				}
				n += int(res.DeletedCount)
			}
			if err := progress(erasure.Counts{Reports: n}); err != nil {
				return err
			}
			if gate != nil {
				gate <- struct{}{}
			}
		}
	}
}

func waitState(t *testing.T, s *erasure.Service, id string, want erasure.State) erasure.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := s.Status(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: still %s after 30 s, want %s", id, st.State, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResume: a job stopped in the middle resumes at the next Open where
// its stored progress says, and its counts are what was erased, exactly.
func TestResume(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	items := m.DB.Collection("items")
	for i := range 45 {
		if _, err := items.InsertOne(ctx, bson.M{"_id": fmt.Sprint("a", i), "reporter": "app:alice"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := items.InsertOne(ctx, bson.M{"_id": "b", "reporter": "app:bob"}); err != nil {
		t.Fatal(err)
	}
	store, err := erasure.OpenStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ran atomic.Int32
	first := func(ctx context.Context, reporter string, progress func(erasure.Counts) error) error {
		ran.Add(1)
		return progress(erasure.Counts{Labels: 1})
	}
	gate := make(chan struct{})
	s, err := erasure.Open(ctx, store, erasure.Config{Steps: []erasure.Step{first, itemStep(items, gate)}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Start(ctx, "app:alice")
	if err != nil || st.State != erasure.Running || st.ID == "" {
		t.Fatalf("Start: got %+v, %v; want a running job", st, err)
	}
	if again, _ := s.Start(ctx, "app:alice"); again.ID != st.ID {
		t.Fatalf("Start while running: got job %s, want %s", again.ID, st.ID)
	}
	for range 2 { // two batches of ten, stored
		gate <- struct{}{}
		<-gate
	}
	s.Close()

	if n, _ := items.CountDocuments(ctx, bson.M{"reporter": "app:alice"}); n != 25 {
		t.Fatalf("after two batches: %d items left, want 25", n)
	}
	s2, err := erasure.Open(ctx, store, erasure.Config{Steps: []erasure.Step{first, itemStep(items, nil)}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	done := waitState(t, s2, st.ID, erasure.Done)
	if done.Erased != (erasure.Counts{Labels: 1, Reports: 45}) || done.FinishedAt.IsZero() {
		t.Fatalf("resumed job: got %+v, want 1 label and 45 reports, finished", done)
	}
	if n := ran.Load(); n != 1 {
		t.Fatalf("the first step ran %d times, want once: it was done before the stop", n)
	}
	if n, _ := items.CountDocuments(ctx, bson.M{}); n != 1 {
		t.Fatalf("%d items left, want bob's", n)
	}

	// Done survives another start, and a new job for alice finds nothing.
	s3, err := erasure.Open(ctx, store, erasure.Config{Steps: []erasure.Step{itemStep(items, nil)}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if got, err := s3.Status(ctx, st.ID); err != nil || got.State != erasure.Done || got.Erased != done.Erased {
		t.Fatalf("after restart: got %+v, %v; want %+v", got, err, done)
	}
	next, _ := s3.Start(ctx, "app:alice")
	if next.ID == st.ID {
		t.Fatal("a finished job was answered again")
	}
	if got := waitState(t, s3, next.ID, erasure.Done); got.Erased != (erasure.Counts{}) {
		t.Fatalf("second job: got %+v, want nothing erased", got.Erased)
	}
	if _, err := s3.Status(ctx, "e-none"); labels.ErrorCode(err) != labels.ENotFound {
		t.Fatalf("unknown job: got %v, want not_found", err)
	}
}

// TestRetry: a failing step is retried until it succeeds.
func TestRetry(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	store, err := erasure.OpenStore(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	flaky := func(ctx context.Context, reporter string, progress func(erasure.Counts) error) error {
		if calls.Add(1) <= 2 {
			return errors.New("storage down")
		}
		return progress(erasure.Counts{Devices: 1})
	}
	s, err := erasure.Open(ctx, store, erasure.Config{Steps: []erasure.Step{flaky}, Retry: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Start(ctx, "app:alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := waitState(t, s, st.ID, erasure.Done); got.Erased.Devices != 1 {
		t.Fatalf("got %+v, want one device after two failures", got.Erased)
	}
}
