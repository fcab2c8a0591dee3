package labels

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// Checkpoints of the embedded store. SQLite in WAL mode appends a commit to
// the write-ahead log and syncs the log; by default the commit that takes
// the log past 1,000 pages also copies the log back into the database file
// and syncs that (a checkpoint). On the report path that commit is a
// batch's history insert, the serial stage of the group commit, and the
// history's _id indexes (two then) took random keys, so a batch of 30
// reports dirtied some 60 scattered pages: every 15th commit or so carried a
// checkpoint of scattered pages. In a profile of 1,000 such inserts into a
// collection of 100,000 documents the checkpoints were 15% of all CPU time,
// and moving them to a connection of their own cut the inserts' wall time
// by a third (5.3–8.3 s to 3.8–5.4 s).
//
// So FerretDB's connections checkpoint only as a backstop, past
// walBackstopPages, and the checkpointer below checkpoints every database
// file every checkpointEvery, passively: it never waits for FerretDB's
// readers or writers, and they never wait for it. A commit is still durable
// when FerretDB answers: its log frames are synced.
const (
	checkpointEvery = 250 * time.Millisecond
	// walBackstopPages is FerretDB's own checkpoint threshold (64 MiB of
	// 4 KiB pages): reached only if the checkpointer falls far behind.
	walBackstopPages = 16384
)

// checkpointer checkpoints the SQLite files of the embedded store.
type checkpointer struct {
	files  *sqliteFiles
	log    *slog.Logger
	every  time.Duration
	failed bool // the last round failed; logged once until one succeeds
}

// run checkpoints until ctx ends, then closes its handles.
func (c *checkpointer) run(ctx context.Context) {
	defer c.files.close()
	Every(ctx, c.every, func(ctx context.Context) {
		err := c.checkpointAll(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !c.failed:
			c.log.Warn("labels: checkpointing the embedded store (FerretDB's connections checkpoint past the backstop meanwhile)", "err", err)
			c.failed = true
		case err == nil && c.failed:
			c.log.Info("labels: checkpointing the embedded store again")
			c.failed = false
		}
	})
}

// checkpointAll copies what it can of every file's log into the file.
func (c *checkpointer) checkpointAll(ctx context.Context) error {
	return c.files.each(ctx, func(ctx context.Context, db *sql.DB) error {
		var busy, frames, done int
		return db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done)
	})
}
