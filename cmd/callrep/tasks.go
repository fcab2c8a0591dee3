package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/mongo"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
)

// token prints a token of the local issuer of --data, alone on stdout.
func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "data directory whose issuer key signs the token (env CALLREP_DATA)")
	uid := fs.String("uid", "", "user id the token names (required)")
	moderator := fs.Bool("moderator", false, "grant the moderator role")
	phone := fs.String("phone", "", "E.164 number the token claims the user signed in with (local use only: it proves nothing)")
	ttl := new(time.Duration)
	positiveDuration(fs, ttl, "ttl", 24*time.Hour, "how long the token is valid")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *uid == "" {
		return usageError{"usage: callrep token [--data DIR] [--moderator] [--phone +86…] [--ttl 24h] --uid USER"}
	}
	iss, err := api.LoadOrCreateLocalIssuer(*data, time.Now)
	if err != nil {
		return err
	}
	if iss.Created() {
		fmt.Fprintf(stderr, "callrep: warning: %s held no issuer key, so a new one was created; only a server started with --data %s accepts this token\n", *data, *data)
	}
	tok, err := iss.IssueFor(api.Principal{UID: *uid, Moderator: *moderator, Phone: *phone}, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// migrate copies the store (embedded by default) into --to.
func migrate(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	to := fs.String("to", "", "MongoDB URI of the destination (required)")
	toDB := fs.String("to-database", "", "destination database name (default: --database)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return usageError{"usage: callrep migrate [--data DIR | --mongodb-uri URI] --to URI"}
	}
	if *toDB == "" {
		*toDB = sf.database
	}
	log, err := sf.logger(stderr)
	if err != nil {
		return err
	}
	src, err := labels.OpenMongo(ctx, labels.MongoConfig{URI: sf.uri, DataDir: sf.data, Database: sf.database, Logger: log})
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Close(context.Background())
	dst, err := labels.OpenMongo(ctx, labels.MongoConfig{URI: *to, Database: *toDB, Logger: log})
	if err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	defer dst.Close(context.Background())
	// An embedded source is locked while a server runs on it; a shared
	// store, or the destination, has its writer lease.
	for _, end := range []struct {
		name string
		m    *labels.Mongo
	}{{"source", src}, {"destination", dst}} {
		if err := noLiveWriter(ctx, end.m); err != nil {
			return fmt.Errorf("%s: %w", end.name, err)
		}
	}

	p := newProgress(stderr)
	start := time.Now()
	report := func(mp labels.MigrateProgress) { p.update("%s: %d/%d documents", mp.Collection, mp.Copied, mp.Total) }
	stats, err := labels.Migrate(ctx, src.DB, dst.DB, report)
	if err == nil {
		// The journals, which FerretDB keeps in a database of their own,
		// hold what a crash left out of the last labels snapshot.
		err = migrateJournals(ctx, src.DB, dst.DB, report, &stats)
	}
	p.done()
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stderr, "migrated %d collections, %d documents (%d new), %d indexes in %.1fs (%.0f docs/s)\n",
		stats.Collections, stats.Documents, stats.Inserted, stats.Indexes, secs, float64(stats.Documents)/max(secs, 1e-9))
	return nil
}

// migrateJournals copies the journals of src, when they have a database
// of their own, to where dst keeps its journals, and adds to stats.
func migrateJournals(ctx context.Context, src, dst *mongo.Database, progress func(labels.MigrateProgress), stats *labels.MigrateStats) error {
	srcJ, err := labels.JournalDatabase(ctx, src)
	if err != nil || srcJ == src {
		return err
	}
	dstJ, err := labels.JournalDatabase(ctx, dst)
	if err != nil {
		return err
	}
	js, err := labels.Migrate(ctx, srcJ, dstJ, progress)
	stats.Collections += js.Collections
	stats.Documents += js.Documents
	stats.Inserted += js.Inserted
	stats.Indexes += js.Indexes
	return err
}

// noLiveWriter fails when a writer holds the lease of the store in m.
// An embedded store open here has none: its lock is this process's.
func noLiveWriter(ctx context.Context, m *labels.Mongo) error {
	if m.Embedded {
		return nil
	}
	w, err := labels.LeasesOf(m.DB).WriterLease(ctx)
	if err != nil {
		return err
	}
	if w.Live(time.Now()) {
		return errWriterRunning(w)
	}
	return nil
}

// errWriterRunning is the refusal to run beside writer w.
func errWriterRunning(w labels.WriterInfo) error {
	return fmt.Errorf("a callrep writer is running on this store (%s, generation %d, lease until %s): stop it first",
		w.Holder, w.Gen, w.Until.Format(time.RFC3339))
}

// onStack parses the store flags of a maintenance command, opens the
// stack and runs fn on it.
func onStack(ctx context.Context, name string, args []string, stderr io.Writer, fn func(*stack) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	st, log, err := openLogged(ctx, &sf, stderr)
	if err != nil {
		return err
	}
	defer st.closeLogged(log)
	return fn(st)
}

// openLogged opens the stack sf names for a maintenance command, logging
// to stderr.
func openLogged(ctx context.Context, sf *storeFlags, stderr io.Writer) (*stack, *slog.Logger, error) {
	log, err := sf.logger(stderr)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStack(ctx, sf, log, nil)
	if err != nil {
		return nil, nil, err
	}
	return st, log, nil
}

// rewriteWithProgress rewrites the stored reputations with progress.
func rewriteWithProgress(ctx context.Context, st *stack, stderr io.Writer) error {
	p := newProgress(stderr)
	err := st.rewriteReputations(ctx, func(done, total int) {
		p.update("reputations: %d/%d numbers", done, total)
	})
	p.done()
	return err
}

// rebuild loads the labels and rewrites every stored reputation from them.
func rebuild(ctx context.Context, args []string, stderr io.Writer) error {
	return onStack(ctx, "rebuild", args, stderr, func(st *stack) error {
		start := time.Now()
		if err := rewriteWithProgress(ctx, st, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "rebuilt %d reputations in %.1fs\n", st.index.Len(), time.Since(start).Seconds())
		return nil
	})
}

// progress prints a status line: rewritten in place on a terminal, at most
// every few seconds otherwise (logs, CI).
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	line  string
	every time.Duration
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, every: 5 * time.Second}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.every = true, 100*time.Millisecond
		}
	}
	return p
}

func (p *progress) update(format string, args ...any) {
	p.line = fmt.Sprintf(format, args...)
	if time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	p.print()
}

func (p *progress) print() {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", p.line)
	} else {
		fmt.Fprintln(p.w, p.line)
	}
}

// done prints the final state and ends the line.
func (p *progress) done() {
	if p.line == "" {
		return
	}
	p.print()
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// rescore re-estimates reporter trust, re-scores every number and rewrites
// the stored reputations; it prints one JSON line of statistics.
func rescore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return onStack(ctx, "rescore", args, stderr, func(st *stack) error {
		p := newProgress(stderr)
		s, err := st.rescore(ctx, func(done, total int) {
			p.update("reputations: %d/%d numbers", done, total)
		})
		p.done()
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(map[string]any{
			"labels": s.Labels, "reporters": s.Reporters, "gold": s.Gold, "iterations": s.Iterations,
			"numbers": s.Numbers, "seconds": s.Took.Seconds(),
		})
	})
}
