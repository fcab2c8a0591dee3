package labels_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// TestExternalMongo runs labels.OpenMongo against a server in another
// process, the path a MONGODB_URI deployment takes, using a FerretDB started
// by mongotest.StartProcess. The whole store suite runs the same way with
// MONGODB_URI set to the URI that ferretserve prints.
func TestExternalMongo(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds and starts ferretserve as a separate process")
	}
	ctx := context.Background()
	uri := mongotest.StartProcess(t)
	m, err := labels.OpenMongo(ctx, labels.MongoConfig{
		URI:      uri,
		Database: "callrep_external",
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open %s: %v", uri, err)
	}
	t.Cleanup(func() { _ = m.Close(ctx) })
	if m.Embedded {
		t.Fatal("Embedded: got true for an external uri, want false")
	}

	t.Run("RoundTrip", func(t *testing.T) {
		coll := m.DB.Collection("roundtrip")
		want := bson.D{{Key: "_id", Value: "+8613800138000"}, {Key: "category", Value: "fraud"}, {Key: "reporters", Value: int32(3)}}
		if _, err := coll.InsertOne(ctx, want); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var got bson.D
		if err := coll.FindOne(ctx, bson.M{"_id": "+8613800138000"}).Decode(&got); err != nil {
			t.Fatalf("find: %v", err)
		}
		if gb, wb := mustMarshal(t, got), mustMarshal(t, want); string(gb) != string(wb) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("Snapshot", func(t *testing.T) {
		st, err := labels.OpenStore(ctx, m.DB)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		var ls []*labels.Label
		for i := range 1500 {
			ls = append(ls, &labels.Label{Reporter: "r", Key: fmt.Sprintf("+1202555%04d", i), Category: "fraud", CreatedAt: at, FirstAt: at})
		}
		for gen := int64(1); gen <= 2; gen++ {
			if err := st.WriteSnapshot(ctx, gen, ls, at, at); err != nil {
				t.Fatal(err)
			}
		}
		sn, err := st.CurrentSnapshot(ctx)
		n := 0
		if err == nil {
			err = st.EachLabel(ctx, sn, func(*labels.Label) { n++ })
		}
		if err != nil || sn.Gen != 2 || n != 1500 {
			t.Fatalf("snapshot %+v with %d labels, %v", sn, n, err)
		}
	})
}

// mustMarshal returns the BSON encoding of v.
func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := bson.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return b
}
