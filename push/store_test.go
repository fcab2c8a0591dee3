package push_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/reputation"
)

func mustOpenStore(tb testing.TB, m *labels.Mongo) *push.Store {
	tb.Helper()
	st, err := push.OpenStore(context.Background(), m.DB)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// lookupCollections lists the per-day lookup record collections.
func lookupCollections(tb testing.TB, m *labels.Mongo) []string {
	tb.Helper()
	names, err := m.DB.ListCollectionNames(context.Background(), bson.M{})
	if err != nil {
		tb.Fatal(err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, "push_lookups_") })
	slices.Sort(names)
	return names
}

// TestStoreRecordsExpireByDroppedDay pins the workaround for the embedded
// store's missing TTL indexes and its scanning deletes: lookup records live
// in one collection per UTC day, and expiry drops whole collections. If
// records went into one collection expired by time-range deletes, the
// collections checked here would not exist or would not go.
func TestStoreRecordsExpireByDroppedDay(t *testing.T) {
	m := mongotest.Open(t)
	st := mustOpenStore(t, m)
	ctx := context.Background()
	day := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var recs []push.Record
	for d := range 3 {
		for _, u := range []string{"alice", "bob"} {
			recs = append(recs, push.Record{User: u, Key: "+8613800138000", Seen: "unknown", At: day.AddDate(0, 0, d)})
		}
	}
	// A second record of the same user, number and verdict on one day is
	// a duplicate, not an error.
	recs = append(recs, push.Record{User: "alice", Key: "+8613800138000", Seen: "unknown", At: day.Add(time.Hour)})
	if err := st.PutRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	want := []string{"push_lookups_20260301", "push_lookups_20260302", "push_lookups_20260303"}
	if got := lookupCollections(t, m); !slices.Equal(got, want) {
		t.Fatalf("collections: got %v, want %v", got, want)
	}

	if err := st.DropRecordsBefore(ctx, day.AddDate(0, 0, 2)); err != nil {
		t.Fatal(err)
	}
	if got := lookupCollections(t, m); !slices.Equal(got, want[2:]) {
		t.Fatalf("collections after expiry: got %v, want %v (expired days dropped whole)", got, want[2:])
	}
	var left []push.Record
	if err := st.EachRecord(ctx, day, func(r push.Record) { left = append(left, r) }); err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || !left[0].At.Equal(day.AddDate(0, 0, 2)) {
		t.Fatalf("records left: got %+v, want the two of the last day", left)
	}

	n, err := st.DeleteUserRecords(ctx, "alice")
	if err != nil || n != 1 {
		t.Fatalf("DeleteUserRecords: got %d, %v; want 1, nil", n, err)
	}
}

// TestStoreDeletesManyIDs deletes more than labels.MaxBulkOps documents
// by id. The bulk-write hang behind MaxBulkOps (100 or more modifying
// operations in one BulkWrite) does not apply to a delete: it is one
// statement whatever the number of ids, and the embedded store deletes
// 250 ids in one statement within a second, which this pins. Chunking a
// delete at 99 ids made it slower there (each chunk scans the
// collection: 5,000 ids took 7.0 s in chunks of 99 and 0.96 s in one
// statement), so deletes are chunked only to bound the command's size.
func TestStoreDeletesManyIDs(t *testing.T) {
	m := mongotest.Open(t)
	st := mustOpenStore(t, m)
	ctx := context.Background()
	now := time.Now().UTC()
	const n = 2*labels.MaxBulkOps + 52
	var notes []push.Notification
	var ids []string
	for i := range n + 10 {
		id := fmt.Sprintf("n%04d", i)
		notes = append(notes, push.Notification{ID: id, User: "alice", Kind: push.KindRetroWarning, At: now, Expires: now.Add(time.Hour)})
		if i < n {
			ids = append(ids, id)
		}
	}
	if err := st.PutInbox(ctx, notes); err != nil {
		t.Fatal(err)
	}
	t.Run("OneStatement", func(t *testing.T) {
		// The behaviour the store relies on, on a collection of its own.
		c := m.DB.Collection("pin_deletes")
		var docs []any
		for _, id := range ids {
			docs = append(docs, bson.M{"_id": id})
		}
		if _, err := c.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		res, err := c.DeleteMany(tctx, bson.M{"_id": bson.M{"$in": ids}})
		if err != nil || res.DeletedCount != n {
			t.Fatalf("one delete of %d ids: got %v, %v; want %d deleted", n, res, err, n)
		}
	})
	got, err := st.DeleteInbox(ctx, append(ids, "no-such-id"))
	if err != nil || got != n {
		t.Fatalf("DeleteInbox: got %d, %v; want %d, nil", got, err, n)
	}
	var left []string
	if err := st.EachInbox(ctx, now, func(x push.Notification) { left = append(left, x.ID) }); err != nil {
		t.Fatal(err)
	}
	if len(left) != 10 || left[0] != fmt.Sprintf("n%04d", n) {
		t.Fatalf("left: got %v, want the 10 not named", left)
	}
}

// rawOutbox returns the stored outbox batches as extended JSON, by id.
func rawOutbox(tb testing.TB, m *labels.Mongo) map[string]string {
	tb.Helper()
	ctx := context.Background()
	cur, err := m.DB.Collection("push_outbox").Find(ctx, bson.M{})
	if err != nil {
		tb.Fatal(err)
	}
	defer cur.Close(ctx)
	out := map[string]string{}
	for cur.Next(ctx) {
		out[cur.Current.Lookup("_id").StringValue()] = cur.Current.String()
	}
	if err := cur.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestOutboxRestartFromMarks pins the insert-only outbox: progress is kept
// in marker documents, never by updating a batch (a single-document update
// scans the collection on the embedded store). A fan-out of three batches
// is stopped while its second batch is in flight; after the restart every
// recipient gets the warning, the batch that was done before the stop is
// not sent again, nobody gets it more than twice, and the stored batches
// are byte for byte what was recorded. Without the marks the first batch
// would be sent again; with progress written into the batches they would
// have changed.
func TestOutboxRestartFromMarks(t *testing.T) {
	const users = 1100 // batches of 500, 500 and 100
	e := newPushEnv(t)
	st := mustOpenStore(t, e.m)
	ctx := context.Background()
	now := e.clock.Now()
	const key = "+8613800138005"
	var ds []push.Device
	var recs []push.Record
	for i := range users {
		u := fmt.Sprintf("u%04d", i)
		ds = append(ds, push.Device{ID: fmt.Sprintf("dev_%04d", i), User: u, Installation: "i", Token: fmt.Sprintf("tok-%04d-abcdefgh", i),
			Platform: push.Android, Locale: "en", OptIns: push.AllOptIns(), Created: now, Updated: now})
		recs = append(recs, push.Record{User: u, Key: key, Seen: "unknown", At: now.Add(-time.Hour)})
	}
	if err := st.PutDevices(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if err := st.PutRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	s, stop := e.open(t)
	e.fake.SetDelay(40 * time.Millisecond) // 50 in flight: about 0.4 s a batch
	e.reps.set(key, reputation.VerdictFraud, 12)
	s.LabelChanged(nil, &labels.Label{Key: key})
	waitUntil(t, "the first batch sent", func() bool { return e.fake.Count() >= 550 })
	stop()
	recorded := rawOutbox(t, e.m)
	if len(recorded) != 3 {
		t.Fatalf("outbox: got %d batches, want 3", len(recorded))
	}
	marks, err := e.m.DB.Collection("push_outbox_marks").CountDocuments(ctx, bson.M{})
	if err != nil || marks == 0 {
		t.Fatalf("marks: got %d, %v; want the first batch's", marks, err)
	}
	before := map[string]int{}
	for _, m := range e.fake.Messages() {
		before[m.Token]++
	}

	e.fake.SetDelay(0)
	e.clock.Add(20 * time.Second) // the stopped sender's lease runs out
	_, _ = e.open(t)
	waitUntil(t, "every recipient warned", func() bool {
		seen := map[string]bool{}
		for _, m := range e.fake.Messages() {
			seen[m.Token] = true
		}
		return len(seen) == users
	})
	time.Sleep(200 * time.Millisecond) // anything sent twice arrives now
	got := map[string]int{}
	for _, m := range e.fake.Messages() {
		got[m.Token]++
	}
	twice := 0
	for i := range users {
		tok := ds[i].Token
		switch {
		case got[tok] > 2:
			t.Errorf("%s: got %d messages, want at most 2", tok, got[tok])
		case got[tok] == 2:
			twice++
			if i < 500 {
				t.Errorf("%s of the batch done before the stop: got 2 messages, want 1", tok)
			}
		}
	}
	if twice > 500 {
		t.Errorf("sent twice: got %d, want at most the in-flight batch (500)", twice)
	}
	t.Logf("before the stop %d recipients, %d sent twice (the in-flight batch)", len(before), twice)
	if after := rawOutbox(t, e.m); !maps.Equal(after, recorded) {
		t.Errorf("stored batches changed after sending; progress must be insert-only marks")
	}
}
