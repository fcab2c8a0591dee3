package labels_test

import (
	"context"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// TestCreateIndexesExisting pins the embedded FerretDB workaround behind
// labels.CreateIndexes: one createIndexes command naming two indexes that
// already exist kills the connection, while creating them one at a time is
// idempotent.
func TestCreateIndexesExisting(t *testing.T) {
	m := mongotest.Open(t)
	ctx := context.Background()
	coll := m.DB.Collection("idx")
	index := func(name string) mongo.IndexModel {
		// Unique, so that FerretDB builds them too (see CreateIndexes).
		return mongo.IndexModel{Keys: bson.D{{Key: name, Value: 1}}, Options: options.Index().SetName(name).SetUnique(true)}
	}
	models := []mongo.IndexModel{index("a"), index("b")}

	for run := range 2 {
		if err := labels.CreateIndexes(ctx, coll, models); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	if err := labels.CreateIndexes(ctx, coll, append(models, index("c"))); err != nil {
		t.Fatalf("adding c: %v", err)
	}
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	if want := []string{"_id_", "a", "b", "c"}; !slices.Equal(names, want) {
		t.Fatalf("got indexes %v, want %v", names, want)
	}

	if !m.Embedded {
		return
	}
	if _, err := coll.Indexes().CreateMany(ctx, models); err == nil {
		t.Fatal("CreateMany of two existing indexes succeeded on embedded FerretDB: the bug is fixed, labels.CreateIndexes may batch again")
	}
	// The failure is confined to the connection it happened on.
	if err := m.Ping(ctx); err != nil {
		t.Fatalf("ping after the failure: %v", err)
	}
}
