package labels

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend uses
)

// FerretDB v1's SQLite backend indexes a collection's _id as
// _ferretdb_sjson->"_id" but looks documents up with
// _ferretdb_sjson->'$._id' = ?, an expression SQLite does not match to that
// index: every find, update and delete by _id parsed every document of the
// collection (a single update took 413 ms on 30,000 documents here, 0.65 ms
// with the index below; TestIDIndexServesLookups pins it). The embedded
// store therefore gives each table an index on the expression the lookups
// use. FerretDB does not know of it: its own unique index still enforces
// _id, dropping a collection drops the table with both, and the index only
// costs inserts one more B-tree entry.
//
// A FerretDB run as its own process behind MONGODB_URI lacks it; MongoDB
// needs none.
type idIndexer struct {
	dir string
	log *slog.Logger

	mu  sync.Mutex
	dbs map[string]*sql.DB // SQLite file → handle
}

// idIndexEvery is how often new collections get their index: one created
// since waits at most this long, scanning meanwhile.
const idIndexEvery = 2 * time.Second

// idIndexSuffix names the index of a table.
const idIndexSuffix = "_callrep_id"

// run indexes new tables until ctx ends, then closes its handles.
func (x *idIndexer) run(ctx context.Context) {
	defer x.close()
	Every(ctx, idIndexEvery, func(ctx context.Context) {
		if err := x.indexAll(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn("labels: indexing _id of the embedded store", "err", err)
		}
	})
}

// indexAll creates the missing indexes in every database file.
func (x *idIndexer) indexAll(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(x.dir, "*.sqlite"))
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, f := range files {
		db, ok := x.dbs[f]
		if !ok {
			if db, err = sql.Open("sqlite", sqliteDSN(f, 10*time.Second)); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			db.SetMaxOpenConns(1)
			x.dbs[f] = db
		}
		if err := indexTables(ctx, db); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

// indexTables indexes the collection tables of db that lack the index.
func indexTables(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT t.name FROM sqlite_master t
		WHERE t.type = 'table' AND t.name NOT LIKE '\_ferretdb\_%' ESCAPE '\'
		AND NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name = t.name || ?)`, idIndexSuffix)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+idIndexSuffix, t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index %s: %w", t, err)
		}
	}
	return nil
}

func (x *idIndexer) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for f, db := range x.dbs {
		db.Close()
		delete(x.dbs, f)
	}
}

// IndexIDs gives every collection of the embedded store the index its _id
// lookups need now, rather than within idIndexEvery; a no-op on MongoDB.
func (m *Mongo) IndexIDs(ctx context.Context) error {
	if m.ids == nil {
		return nil
	}
	return m.ids.indexAll(ctx)
}
