package labels

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// TestCheckpointsOffTheCommitPath pins checkpoint.go: commits of the
// embedded store append to the write-ahead log without copying it back
// into the database file, however far the log grows below the backstop,
// and the checkpointer does the copying, on its own connection, on its
// interval.
func TestCheckpointsOffTheCommitPath(t *testing.T) {
	ctx := context.Background()
	const docs, size = 3000, 2000 // some 6 MB: 1,500 pages, past SQLite's default threshold of 1,000
	fill := func(t *testing.T, m *Mongo) {
		pad := strings.Repeat("x", size)
		for s := 0; s < docs; s += 100 {
			var batch []any
			for i := s; i < s+100; i++ {
				batch = append(batch, bson.M{"_id": fmt.Sprintf("d-%05d", i), "pad": pad})
			}
			if _, err := m.DB.Collection("big").InsertMany(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	open := func(t *testing.T, every time.Duration) (*Mongo, string) {
		dir := t.TempDir()
		m := openEmbedded(t, MongoConfig{DataDir: dir, checkpointEvery: every})
		t.Cleanup(func() { m.Close(ctx) })
		return m, filepath.Join(dir, "db", "callrep.sqlite")
	}
	sizeOf := func(t *testing.T, f string) int64 {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	const copied = docs * size // the database file holds the documents

	t.Run("commits", func(t *testing.T) {
		m, f := open(t, time.Hour)
		fill(t, m)
		if db, wal := sizeOf(t, f), sizeOf(t, f+"-wal"); db >= copied || wal < copied {
			t.Fatalf("after the inserts the database file has %d bytes and the log %d: a commit checkpointed", db, wal)
		}
		if err := m.ck.checkpointAll(ctx); err != nil {
			t.Fatal(err)
		}
		if db := sizeOf(t, f); db < copied {
			t.Fatalf("after a checkpoint the database file has %d bytes, want at least %d", db, copied)
		}
	})
	t.Run("interval", func(t *testing.T) {
		m, f := open(t, 20*time.Millisecond)
		fill(t, m)
		deadline := time.Now().Add(10 * time.Second)
		for sizeOf(t, f) < copied {
			if time.Now().After(deadline) {
				t.Fatalf("the checkpointer did not copy the log into the database file within 10 s: %d bytes", sizeOf(t, f))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
