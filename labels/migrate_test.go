package labels_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// TestMigrate copies one embedded store into another, as `callrep migrate`
// does from the embedded store into MongoDB.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	src, dst := mongotest.Open(t).DB, mongotest.Open(t).DB

	seed(t, src.Collection("labels"), 1500, func(i int) bson.D {
		return bson.D{
			{Key: "_id", Value: fmt.Sprintf("l%05d", i)},
			{Key: "number", Value: fmt.Sprintf("+86138%08d", i%700)},
			{Key: "reporter", Value: fmt.Sprintf("u%d", i)},
			{Key: "category", Value: "fraud"},
			{Key: "at", Value: time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC)},
		}
	})
	seed(t, src.Collection("history"), 1000, func(i int) bson.D {
		return bson.D{
			{Key: "_id", Value: int64(i)},
			{Key: "number", Value: fmt.Sprintf("+86138%08d", i%300)},
			{Key: "call", Value: bson.D{{Key: "ring_s", Value: i % 40}, {Key: "answered", Value: i%2 == 0}}},
		}
	})
	createIndexes(t, src.Collection("labels"),
		mongo.IndexModel{Keys: bson.D{{Key: "number", Value: 1}, {Key: "reporter", Value: 1}}, Options: options.Index().SetName("number_reporter").SetUnique(true)},
		mongo.IndexModel{Keys: bson.D{{Key: "at", Value: -1}}, Options: options.Index().SetName("at_desc")},
	)
	createIndexes(t, src.Collection("empty"), mongo.IndexModel{Keys: bson.D{{Key: "x", Value: 1}}, Options: options.Index().SetName("x")})

	last := map[string]labels.MigrateProgress{}
	stats, err := labels.Migrate(ctx, src, dst, func(p labels.MigrateProgress) { last[p.Collection] = p })
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if want := (labels.MigrateStats{Collections: 3, Documents: 2500, Inserted: 2500, Indexes: 3}); stats != want {
		t.Errorf("first run: got %+v, want %+v", stats, want)
	}
	for name, want := range map[string]int64{"labels": 1500, "history": 1000, "empty": 0} {
		if p := last[name]; p.Copied != want || p.Total != want {
			t.Errorf("last progress of %s: got %+v, want %d of %d", name, p, want, want)
		}
	}
	assertSameData(t, src, dst)

	t.Run("Idempotent", func(t *testing.T) {
		stats, err := labels.Migrate(ctx, src, dst, nil)
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
		if want := (labels.MigrateStats{Collections: 3, Documents: 2500, Inserted: 0, Indexes: 3}); stats != want {
			t.Errorf("second run: got %+v, want %+v", stats, want)
		}
		assertSameData(t, src, dst)
	})

	t.Run("Resumes", func(t *testing.T) {
		// An interrupted run leaves dst with part of the data.
		res, err := dst.Collection("labels").DeleteMany(ctx, bson.M{"_id": bson.M{"$gte": "l01000"}})
		if err != nil || res.DeletedCount != 500 {
			t.Fatalf("delete: got %v deleted (%v), want 500", res, err)
		}
		stats, err := labels.Migrate(ctx, src, dst, nil)
		if err != nil {
			t.Fatalf("resumed run: %v", err)
		}
		if stats.Inserted != 500 {
			t.Errorf("resumed run inserted %d documents, want 500", stats.Inserted)
		}
		assertSameData(t, src, dst)
	})

	t.Run("ErrSourceGrew", func(t *testing.T) {
		late := src.Collection("late")
		seed(t, late, 10, func(i int) bson.D { return bson.D{{Key: "_id", Value: i}} })
		// Write to the source after its collection was copied: the count
		// check at the end must notice the missing document.
		_, err := labels.Migrate(ctx, src, dst, func(p labels.MigrateProgress) {
			if p.Collection == "late" && p.Copied == 10 {
				if _, err := late.InsertOne(ctx, bson.D{{Key: "_id", Value: 10}}); err != nil {
					t.Errorf("insert during migration: %v", err)
				}
			}
		})
		if err == nil || !strings.Contains(err.Error(), "late") {
			t.Fatalf("got %v, want a count mismatch on late", err)
		}
		if _, err := labels.Migrate(ctx, src, dst, nil); err != nil {
			t.Fatalf("run after the mismatch: %v", err)
		}
		assertSameData(t, src, dst)
	})

	t.Run("ErrSameDatabase", func(t *testing.T) {
		if _, err := labels.Migrate(ctx, src, src, nil); err == nil {
			t.Fatal("migrating a database onto itself: got nil error, want one")
		}
	})
}

// seed inserts n documents made by doc into coll.
func seed(t *testing.T, coll *mongo.Collection, n int, doc func(i int) bson.D) {
	t.Helper()
	docs := make([]any, n)
	for i := range docs {
		docs[i] = doc(i)
	}
	if _, err := coll.InsertMany(context.Background(), docs); err != nil {
		t.Fatalf("seed %s: %v", coll.Name(), err)
	}
}

// createIndexes creates models on coll.
func createIndexes(t *testing.T, coll *mongo.Collection, models ...mongo.IndexModel) {
	t.Helper()
	if _, err := coll.Indexes().CreateMany(context.Background(), models); err != nil {
		t.Fatalf("create indexes on %s: %v", coll.Name(), err)
	}
}

// assertSameData fails t unless a and b hold the same collections with
// byte-identical documents and the same index definitions.
func assertSameData(t *testing.T, a, b *mongo.Database) {
	t.Helper()
	ctx := context.Background()
	names := func(db *mongo.Database) []string {
		t.Helper()
		n, err := db.ListCollectionNames(ctx, bson.D{})
		if err != nil {
			t.Fatalf("list collections of %s: %v", db.Name(), err)
		}
		slices.Sort(n)
		return n
	}
	an, bn := names(a), names(b)
	if !slices.Equal(an, bn) {
		t.Fatalf("collections: got %v, want %v", bn, an)
	}
	for _, name := range an {
		ad, bd := dump(t, a.Collection(name)), dump(t, b.Collection(name))
		if len(ad) != len(bd) {
			t.Errorf("%s: got %d documents, want %d", name, len(bd), len(ad))
			continue
		}
		for i := range ad {
			if !bytes.Equal(ad[i], bd[i]) {
				t.Errorf("%s document %d: got %s, want %s", name, i, bd[i], ad[i])
				break
			}
		}
		if ai, bi := indexes(t, a.Collection(name)), indexes(t, b.Collection(name)); !slices.Equal(ai, bi) {
			t.Errorf("%s indexes: got %v, want %v", name, bi, ai)
		}
	}
}

// dump returns every document of coll in _id order.
func dump(t *testing.T, coll *mongo.Collection) []bson.Raw {
	t.Helper()
	ctx := context.Background()
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatalf("read %s: %v", coll.Name(), err)
	}
	var docs []bson.Raw
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatalf("read %s: %v", coll.Name(), err)
	}
	return docs
}

// indexes returns coll's index definitions as sorted strings.
func indexes(t *testing.T, coll *mongo.Collection) []string {
	t.Helper()
	specs, err := coll.Indexes().ListSpecifications(context.Background())
	if err != nil {
		t.Fatalf("list indexes of %s: %v", coll.Name(), err)
	}
	var out []string
	for _, s := range specs {
		out = append(out, fmt.Sprintf("%s %s unique=%v", s.Name, s.KeysDocument, s.Unique != nil && *s.Unique))
	}
	slices.Sort(out)
	return out
}

// TestMigrateLargeDocuments copies 1 MiB documents (blob chunks), more of
// them than one 48 MB reply can carry.
func TestMigrateLargeDocuments(t *testing.T) {
	if testing.Short() {
		t.Skip("copies 48 MB")
	}
	ctx := context.Background()
	src, dst := mongotest.Open(t).DB, mongotest.Open(t).DB
	chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
	seed(t, src.Collection("blob_chunks"), 48, func(i int) bson.D {
		return bson.D{{Key: "_id", Value: fmt.Sprint("trust/1/", i)}, {Key: "i", Value: i}, {Key: "data", Value: chunk}}
	})
	stats, err := labels.Migrate(ctx, src, dst, nil)
	if err != nil {
		t.Fatalf("migrate: got %v, want the chunks copied", err)
	}
	if stats.Documents != 48 || stats.Inserted != 48 {
		t.Fatalf("got %+v, want 48 documents read and inserted", stats)
	}
	var d struct {
		Data []byte `bson:"data"`
	}
	if err := dst.Collection("blob_chunks").FindOne(ctx, bson.M{"_id": "trust/1/47"}).Decode(&d); err != nil || !bytes.Equal(d.Data, chunk) {
		t.Fatalf("copied chunk: got %d bytes, %v; want %d", len(d.Data), err, len(chunk))
	}
}
