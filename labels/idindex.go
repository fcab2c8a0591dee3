package labels

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend uses
)

// FerretDB v1's SQLite backend indexes a collection's _id as
// _ferretdb_sjson->"_id" but looks documents up with
// _ferretdb_sjson->'$._id' = ?, an expression SQLite does not match to that
// index: every find, update and delete by _id parsed every document of the
// collection (a single update took 413 ms on 30,000 documents here, 0.65 ms
// with the index below; TestIDIndexServesLookups pins it). The embedded
// store therefore gives each table a unique index on the expression the
// lookups use, and drops FerretDB's, which then serves nothing but the
// uniqueness this one enforces as well: a report's _id is random, so each
// _id index costs an insert one scattered B-tree page, and with one index
// instead of two 1,000 batches of 30 random ids went into 100,000 documents
// in 3.0–3.9 s instead of 3.9–6.7 s (three runs each). FerretDB answers a
// duplicate _id as before: it maps any unique constraint to that error
// (TestIDIndexUnique). It never looks for its index again: its metadata
// still lists _id_, and dropping a collection drops the table with the
// index. Tables indexed by an earlier build (a plain index beside
// FerretDB's) are converted at open, in one transaction per table.
//
// A FerretDB run as its own process behind MONGODB_URI lacks all this;
// MongoDB needs none of it.
type idIndexer struct {
	files *sqliteFiles
	log   *slog.Logger
}

// idIndexEvery is how often new collections get their index: one created
// since waits at most this long, scanning meanwhile.
const idIndexEvery = 2 * time.Second

// The indexes of a table t: callrep's (t + idIndexSuffix), the plain one an
// earlier build made (t + oldIndexSuffix) and FerretDB's (t + ferretIndexSuffix).
const (
	idIndexSuffix     = "_callrep_uid"
	oldIndexSuffix    = "_callrep_id"
	ferretIndexSuffix = "__id_"
)

// run indexes new tables until ctx ends, then closes its handles.
func (x *idIndexer) run(ctx context.Context) {
	defer x.files.close()
	Every(ctx, idIndexEvery, func(ctx context.Context) {
		if err := x.indexAll(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn("labels: indexing _id of the embedded store", "err", err)
		}
	})
}

// indexAll creates the missing indexes in every database file.
func (x *idIndexer) indexAll(ctx context.Context) error {
	return x.files.each(ctx, func(ctx context.Context, db *sql.DB) error { return indexTables(ctx, x.log, db) })
}

// indexTables gives the collection tables of db callrep's unique index in
// place of FerretDB's.
func indexTables(ctx context.Context, log *slog.Logger, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT t.name FROM sqlite_master t
		WHERE t.type = 'table' AND t.name NOT LIKE '\_ferretdb\_%' ESCAPE '\'
		AND (NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name = t.name || ?)
			OR EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name IN (t.name || ?, t.name || ?)))`,
		idIndexSuffix, oldIndexSuffix, ferretIndexSuffix)
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
		// A large table is one of an earlier build, converted at open:
		// indexing it reads the whole table, some 20 s per million
		// documents of the history.
		var docs int64
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT coalesce(max(rowid), 0) FROM %q`, t)).Scan(&docs); err != nil {
			return fmt.Errorf("index %s: %w", t, err)
		}
		start, large := time.Now(), docs >= 100_000
		if large {
			log.Info("labels: indexing _id of a large table of the embedded store (once)", "table", t, "documents", docs)
		}
		if err := indexTable(ctx, db, t); err != nil {
			return fmt.Errorf("index %s: %w", t, err)
		}
		if large {
			log.Info("labels: indexed _id", "table", t, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// indexTable swaps the _id indexes of table t in one transaction, so that
// _id is unique throughout.
func indexTable(ctx context.Context, db *sql.DB, t string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+idIndexSuffix, t),
		fmt.Sprintf(`DROP INDEX IF EXISTS %q`, t+oldIndexSuffix),
		fmt.Sprintf(`DROP INDEX IF EXISTS %q`, t+ferretIndexSuffix),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// IndexIDs gives every collection of the embedded store the index its _id
// lookups need now, rather than within idIndexEvery; a no-op on MongoDB.
func (m *Mongo) IndexIDs(ctx context.Context) error {
	if m.ids == nil {
		return nil
	}
	return m.ids.indexAll(ctx)
}
