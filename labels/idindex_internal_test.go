package labels

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// TestIDIndexServesLookups pins the embedded store's _id index: without
// it SQLite answers a lookup by _id by parsing every document (the plan
// says SCAN); with it the plan searches the index, for collections that
// existed at open and for those created later, and lookups, updates and
// deletes by _id still find what they should.
func TestIDIndexServesLookups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *Mongo { return openEmbedded(t, MongoConfig{DataDir: dir}) }
	m := open()
	insert := func(m *Mongo, coll string) {
		var docs []any
		for i := range 300 {
			docs = append(docs, bson.M{"_id": fmt.Sprintf("d-%04d", i), "n": i})
		}
		for s := 0; s < len(docs); s += 50 {
			if _, err := m.DB.Collection(coll).InsertMany(ctx, docs[s:s+50]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// plan returns SQLite's plan for FerretDB's lookup by _id in coll.
	plan := func(m *Mongo, coll string) string {
		var table string
		m.ids.files.mu.Lock()
		defer m.ids.files.mu.Unlock()
		for _, db := range m.ids.files.dbs {
			if err := db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table); err != nil {
				t.Fatalf("table of %s: %v", coll, err)
			}
			var id, parent, unused int
			var detail string
			q := fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table)
			if err := db.QueryRowContext(ctx, q, `"d-0001"`).Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			return detail
		}
		t.Fatal("no database file open")
		return ""
	}
	insert(m, "before")
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}

	m = open() // indexes what exists at open
	defer m.Close(ctx)
	if p := plan(m, "before"); !strings.Contains(p, "USING INDEX") {
		t.Fatalf("a collection that existed at open: plan %q", p)
	}
	insert(m, "later")
	deadline := time.Now().Add(30 * time.Second)
	for p := plan(m, "later"); !strings.Contains(p, "USING INDEX"); p = plan(m, "later") {
		if time.Now().After(deadline) {
			t.Fatalf("a collection created later is not indexed within 30s: plan %q", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := m.DB.Collection("later")
	var d struct{ N int }
	if err := c.FindOne(ctx, bson.M{"_id": "d-0123"}).Decode(&d); err != nil || d.N != 123 {
		t.Fatalf("find by _id: %+v %v", d, err)
	}
	if r, err := c.UpdateOne(ctx, bson.M{"_id": "d-0124"}, bson.M{"$set": bson.M{"n": -1}}); err != nil || r.ModifiedCount != 1 {
		t.Fatalf("update by _id: %+v %v", r, err)
	}
	if r, err := c.DeleteOne(ctx, bson.M{"_id": "d-0125"}); err != nil || r.DeletedCount != 1 {
		t.Fatalf("delete by _id: %+v %v", r, err)
	}
	if n, err := c.CountDocuments(ctx, bson.M{"n": -1}); err != nil || n != 1 {
		t.Fatalf("after the update: %d %v", n, err)
	}
	// Dropping a collection drops its index with the table.
	if err := c.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.IndexIDs(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestIDIndexUnique pins the swap of idindex.go: callrep's index is the
// only _id index of a table, FerretDB still refuses a duplicate _id as
// such (InsertNew tells it from the rest of an unordered batch), and a
// table indexed by an earlier build (FerretDB's unique index beside a
// plain one) is converted at open.
func TestIDIndexUnique(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *Mongo { return openEmbedded(t, MongoConfig{DataDir: dir}) }
	// indexes lists the indexes of collection u's table, and runs qs first.
	indexes := func(m *Mongo, qs ...string) []string {
		t.Helper()
		m.ids.files.mu.Lock()
		defer m.ids.files.mu.Unlock()
		for _, db := range m.ids.files.dbs {
			var table string
			if err := db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = 'u'`).Scan(&table); err != nil {
				continue // another database file
			}
			for _, q := range qs {
				if _, err := db.ExecContext(ctx, strings.ReplaceAll(q, "TABLE", table)); err != nil {
					t.Fatal(q, err)
				}
			}
			rows, err := db.QueryContext(ctx, `SELECT substr(name, length(?) + 1) FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name`, table, table)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				out = append(out, n)
			}
			return out
		}
		t.Fatal("no table for collection u")
		return nil
	}
	// refuses checks that u refuses a second d-1 and takes the rest of
	// the batch.
	refuses := func(m *Mongo, fresh string) {
		t.Helper()
		c := m.DB.Collection("u")
		if _, err := c.InsertOne(ctx, bson.M{"_id": "d-1", "n": 2}); !mongo.IsDuplicateKeyError(err) {
			t.Fatalf("a second d-1: %v, want a duplicate key error", err)
		}
		dup, err := InsertNew(ctx, c, []any{bson.M{"_id": fresh}, bson.M{"_id": "d-1"}})
		if err != nil || dup[0] || !dup[1] {
			t.Fatalf("InsertNew(%s, d-1): %v %v, want [false true]", fresh, dup, err)
		}
		var d struct{ N int }
		if err := c.FindOne(ctx, bson.M{"_id": "d-1"}).Decode(&d); err != nil || d.N != 1 {
			t.Fatalf("d-1 is %+v %v, want the first", d, err)
		}
	}
	m := open()
	if _, err := m.DB.Collection("u").InsertOne(ctx, bson.M{"_id": "d-1", "n": 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.IndexIDs(ctx); err != nil {
		t.Fatal(err)
	}
	if got := indexes(m); !slices.Equal(got, []string{idIndexSuffix}) {
		t.Fatalf("indexes of a new table: %q, want only %q", got, idIndexSuffix)
	}
	refuses(m, "d-2")

	// An earlier build's table: FerretDB's index and a plain one.
	got := indexes(m, `DROP INDEX "TABLE`+idIndexSuffix+`"`,
		`CREATE UNIQUE INDEX "TABLE`+ferretIndexSuffix+`" ON "TABLE" (_ferretdb_sjson->"_id")`,
		`CREATE INDEX "TABLE`+oldIndexSuffix+`" ON "TABLE" (_ferretdb_sjson->'$._id')`)
	if !slices.Equal(got, []string{ferretIndexSuffix, oldIndexSuffix}) {
		t.Fatalf("set-up: %q", got)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m = open()
	defer m.Close(ctx)
	if got := indexes(m); !slices.Equal(got, []string{idIndexSuffix}) {
		t.Fatalf("indexes after open: %q, want only %q", got, idIndexSuffix)
	}
	refuses(m, "d-3")
}

// openEmbedded opens the embedded store of cfg, quietly; the caller
// closes it.
func openEmbedded(t *testing.T, cfg MongoConfig) *Mongo {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := OpenMongo(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
