package labels_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// updates returns n upserts setting v = i+shift on documents k0000….
func updates(n, shift int) []mongo.WriteModel {
	models := make([]mongo.WriteModel, n)
	for i := range models {
		models[i] = mongo.NewUpdateOneModel().
			SetFilter(bson.M{"_id": fmt.Sprintf("k%04d", i)}).
			SetUpdate(bson.M{"$set": bson.M{"v": i + shift}}).
			SetUpsert(true)
	}
	return models
}

// TestBulkWriteChunkLimit pins the embedded FerretDB limit behind
// MaxBulkOps: a BulkWrite of MaxBulkOps operations that modify existing
// documents completes, one of 100 does not (and leaves the connection
// hung). Upserts of new documents and no-op updates of 100 or more happen
// to pass, so the pin modifies documents.
func TestBulkWriteChunkLimit(t *testing.T) {
	m := mongotest.Open(t)
	ctx := context.Background()
	coll := m.DB.Collection("bulk")
	for shift := range 2 { // insert, then modify
		if _, err := coll.BulkWrite(ctx, updates(labels.MaxBulkOps, shift), options.BulkWrite().SetOrdered(false)); err != nil {
			t.Fatalf("bulk of %d: %v", labels.MaxBulkOps, err)
		}
	}
	if n, _ := coll.CountDocuments(ctx, bson.M{"v": bson.M{"$gte": 1}}); n != labels.MaxBulkOps {
		t.Fatalf("%d documents modified, want %d", n, labels.MaxBulkOps)
	}
	if !m.Embedded || os.Getenv("CALLREP_SKIP_HANG_PIN") != "" {
		return
	}
	// A separate instance: the hang poisons the server it happens on.
	pin := mongotest.Open(t).DB.Collection("pin")
	if _, err := pin.BulkWrite(ctx, updates(100, 0), options.BulkWrite().SetOrdered(false)); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := pin.BulkWrite(tctx, updates(100, 1), options.BulkWrite().SetOrdered(false))
	if err == nil {
		t.Fatalf("a 100-operation update BulkWrite completed on embedded FerretDB: the hang is gone, MaxBulkOps may be raised")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !mongo.IsTimeout(err) {
		t.Logf("100-operation bulk failed with %v (not a timeout)", err)
	}
}

// TestEmbeddedLogsQuiet pins the log filter: FerretDB's connection chatter
// and its dump of the unimplemented endSessions command stay out of the
// service log across a whole open-use-close cycle.
func TestEmbeddedLogsQuiet(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Skip("only the embedded store logs through callrep")
	}
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	ctx := context.Background()
	m, err := labels.OpenMongo(ctx, labels.MongoConfig{DataDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DB.Collection("x").InsertOne(ctx, bson.M{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if buf.Len() > 0 {
		t.Fatalf("embedded store logged:\n%s", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestFerretDBStoreIndexes: on FerretDB, whose queries use an index only
// for _id, the store makes no secondary indexes on the history: each would
// cost every insert and serve nothing.
func TestFerretDBStoreIndexes(t *testing.T) {
	ctx := context.Background()
	m := mongotest.Open(t)
	ferret, err := labels.IsFerretDB(ctx, m.DB)
	if err != nil {
		t.Fatal(err)
	}
	if !ferret && os.Getenv("MONGODB_URI") == "" {
		t.Fatal("IsFerretDB: got false for the embedded FerretDB")
	}
	if _, err := labels.OpenStore(ctx, m.DB); err != nil {
		t.Fatal(err)
	}
	cur, err := m.DB.Collection("reports").Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []bson.M
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	var secondary int
	for _, ix := range idx {
		if ix["name"] != "_id_" {
			secondary++
		}
	}
	if want := map[bool]int{true: 0, false: 3}[ferret]; secondary != want {
		t.Errorf("secondary indexes on reports: got %v, want %d (FerretDB %v)", idx, want, ferret)
	}
}

// TestEmbeddedDataDirLocked: a second open of one data directory is
// refused, naming the holder, until the first closes.
func TestEmbeddedDataDirLocked(t *testing.T) {
	if os.Getenv("MONGODB_URI") != "" {
		t.Skip("only the embedded store has a data directory")
	}
	ctx := context.Background()
	dir := t.TempDir()
	cfg := labels.MongoConfig{DataDir: dir, Logger: slog.New(slog.DiscardHandler)}
	first, err := labels.OpenMongo(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = labels.OpenMongo(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "in use by another callrep") || !strings.Contains(err.Error(), fmt.Sprintf("pid %d on ", os.Getpid())) {
		t.Fatalf("second open: got %v, want a refusal naming pid %d", err, os.Getpid())
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := labels.OpenMongo(ctx, cfg)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	again.Close(ctx)
}
