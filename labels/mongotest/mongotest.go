// Package mongotest gives tests a private, empty callrep database: a
// database on MONGODB_URI when that is set, else an embedded FerretDB in a
// temporary directory. StartProcess runs FerretDB as a separate process, an
// external server for tests that need one.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/callrep/callrep/labels"
)

// Open returns a connected store that is dropped and closed when tb ends.
func Open(tb testing.TB) *labels.Mongo {
	tb.Helper()
	return OpenDir(tb, tb.TempDir())
}

// OpenDir is Open with the embedded store's files in dir, so that a test can
// reopen the same data after a restart. With MONGODB_URI set, the database
// name is derived from dir so that reopening finds the same data.
func OpenDir(tb testing.TB, dir string) *labels.Mongo {
	tb.Helper()
	ctx := context.Background()
	cfg := labels.MongoConfig{
		URI:     os.Getenv("MONGODB_URI"),
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if cfg.URI != "" {
		cfg.Database = DatabaseName(dir)
	}
	m, err := labels.OpenMongo(ctx, cfg)
	if err != nil {
		tb.Fatalf("open mongo: %v", err)
	}
	tb.Cleanup(func() {
		if cfg.URI != "" {
			_ = m.DB.Drop(ctx)
		}
		_ = m.Close(ctx)
	})
	return m
}

var (
	namesMu sync.Mutex
	names   = map[string]string{}
)

// DatabaseName returns a database name unique to dir for this process.
func DatabaseName(dir string) string {
	namesMu.Lock()
	defer namesMu.Unlock()
	if n, ok := names[dir]; ok {
		return n
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	n := "callrep_test_" + hex.EncodeToString(b)
	names[dir] = n
	return n
}
