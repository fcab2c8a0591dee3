package labels

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// sqliteFiles holds callrep's own handles on the SQLite files of the
// embedded store, beside FerretDB's (see idindex.go and checkpoint.go):
// one connection a file, opened when first needed, waiting at most busy
// for a lock, and checkpointing on its own commits only past the backstop.
type sqliteFiles struct {
	dir  string
	busy time.Duration

	mu  sync.Mutex
	dbs map[string]*sql.DB // SQLite file → handle
}

func newSQLiteFiles(dir string, busy time.Duration) *sqliteFiles {
	return &sqliteFiles{dir: dir, busy: busy, dbs: map[string]*sql.DB{}}
}

// each calls fn with the handle of every database file, one at a time,
// and stops at its first error.
func (s *sqliteFiles) each(ctx context.Context, fn func(ctx context.Context, db *sql.DB) error) error {
	files, err := filepath.Glob(filepath.Join(s.dir, "*.sqlite"))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files {
		db, ok := s.dbs[f]
		if !ok {
			dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(wal)&_pragma=wal_autocheckpoint(%d)", f, s.busy.Milliseconds(), walBackstopPages)
			if db, err = sql.Open("sqlite", dsn); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			db.SetMaxOpenConns(1)
			s.dbs[f] = db
		}
		if err := fn(ctx, db); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

func (s *sqliteFiles) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for f, db := range s.dbs {
		db.Close()
		delete(s.dbs, f)
	}
}
