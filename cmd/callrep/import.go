package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	// FTC timestamps are US Eastern; the image may lack tzdata.
	_ "time/tzdata"

	"github.com/callrep/callrep/labels"
)

const importUsage = "usage: callrep import ftc [--data DIR | --mongodb-uri URI] [--keep-dates] [--close-timeout D] FILE.csv..."

// importBatch is how many records go to storage at once.
const importBatch = 1000

// importCmd loads public complaint files into the labels: each complaint
// becomes the label of its own reporter, so that it counts as one distinct
// trusted reporter, with an id derived from the record so that importing
// a file again adds nothing.
func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, importUsage)
		fs.PrintDefaults()
	}
	var sf storeFlags
	sf.register(fs)
	keepDates := fs.Bool("keep-dates", false, "date the evidence by each complaint's Created_Date instead of the import time")
	closeTimeout := new(time.Duration)
	nonNegativeDuration(fs, closeTimeout, "close-timeout", 0, "bound on writing the labels snapshot and the reputation log at the end, which takes longer the more labels there are; 0 waits until done (env CALLREP_CLOSE_TIMEOUT)")
	source, files, err := parseImport(fs, args)
	if err != nil {
		return err
	}
	log, err := sf.logger(stderr)
	if err != nil {
		return err
	}
	for _, f := range files { // fail before starting the store
		if f == "-" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	st, err := openStack(ctx, &sf, log, nil)
	if err != nil {
		return err
	}

	imp := &ftcImport{svc: st.labels, log: log, keepDates: *keepDates, progress: newProgress(stderr), start: time.Now()}
	for _, file := range files {
		if err = imp.file(ctx, file); err != nil {
			break
		}
	}
	imp.progress.done()
	fmt.Fprintln(stdout, imp.summary(source))
	if err == nil {
		// Publish the lists of what was imported: phones get them at
		// once, and the first start serves them without building them.
		// A failure loses nothing: a start builds what is missing.
		log.Info("import done, publishing the filters")
		if perr := st.pubs.Rebuild(ctx); perr != nil {
			log.Error("publishing the filters; the next start builds them", "err", perr)
		}
	}
	// The stored reports are durable now; the labels snapshot and the
	// reputation log derived from them take time in proportion to the
	// labels (minutes for millions), so they are not bounded unless asked.
	log.Info("import done, writing the labels snapshot and the reputation log", "stored", imp.stats.Stored)
	cctx, cancel := context.WithCancel(ctx)
	if *closeTimeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, *closeTimeout)
	}
	defer cancel()
	cerr := st.close(cctx, log)
	switch {
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("import interrupted; what was stored stays, and running it again completes it: %w", err)
	case err != nil:
		if cerr != nil {
			log.Error("closing", "err", cerr)
		}
		return err
	case cerr == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted while writing the labels snapshot and the reputation log; the imported reports are stored, and the next start rebuilds both from them: %w", cerr)
	case errors.Is(cerr, context.DeadlineExceeded):
		return fmt.Errorf("the labels snapshot and the reputation log were not written within --close-timeout %v; the imported reports are stored, and the next start rebuilds both from them: %w", *closeTimeout, cerr)
	default:
		return fmt.Errorf("unable to write the labels snapshot and the reputation log; the imported reports are stored, and the next start rebuilds both from them: %w", cerr)
	}
}

// parseImport is parse for import: the source comes first (before or
// after the flags), then one or more files, "-" being standard input.
func parseImport(fs *flag.FlagSet, args []string) (source string, files []string, err error) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		source, args = args[0], args[1:]
	}
	if err := applyEnv(fs); err != nil {
		return "", nil, err
	}
	if err := parseFlags(fs, args); err != nil {
		return "", nil, err
	}
	files = fs.Args()
	if source == "" && len(files) > 0 {
		source, files = files[0], files[1:]
	}
	switch {
	case source == "":
		return "", nil, usageError{importUsage}
	case source != "ftc":
		return "", nil, usageError{fmt.Sprintf("unknown import source %q; known: ftc\n%s", source, importUsage)}
	case len(files) == 0:
		return "", nil, usageError{importUsage}
	}
	for _, f := range files {
		if strings.HasPrefix(f, "-") && f != "-" {
			return "", nil, usageError{fmt.Sprintf("flag %s after the files; flags go before them\n%s", f, importUsage)}
		}
	}
	return source, files, nil
}

// importer is the part of labels.Service an import uses.
type importer interface {
	Import(ctx context.Context, batch []labels.Imported) (labels.ImportStats, error)
}

// ftcImport feeds FTC complaints to the service in batches and keeps the
// counts.
type ftcImport struct {
	svc       importer
	log       *slog.Logger
	keepDates bool
	progress  *progress
	start     time.Time

	batch []labels.Imported
	seen  int                 // complaints read so far
	read  labels.FTCReadStats // summed over the files done
	stats labels.ImportStats
}

// file imports one file, "-" for standard input.
func (imp *ftcImport) file(ctx context.Context, name string) error {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rs, err := labels.ReadFTC(r, func(c labels.FTCComplaint) error {
		imp.seen++
		imp.batch = append(imp.batch, imp.record(c))
		if len(imp.batch) < importBatch {
			return nil
		}
		return imp.flush(ctx, name)
	})
	imp.read.Rows += rs.Rows
	imp.read.Complaints += rs.Complaints
	imp.read.Malformed += rs.Malformed
	imp.read.BadDates += rs.BadDates
	if err == nil {
		err = imp.flush(ctx, name)
	}
	if rs.Malformed > 0 {
		imp.log.Warn("malformed rows skipped", "file", name, "rows", rs.Malformed, "first_lines", rs.FirstMalformed)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// record turns a complaint into an import record.
func (imp *ftcImport) record(c labels.FTCComplaint) labels.Imported {
	rec := labels.Imported{
		ID: c.ID,
		// One reporter per complaint: the FTC's consumers are anonymous,
		// and each complaint is an independent witness.
		Reporter: labels.Reporter{ID: "ftc:" + strings.TrimPrefix(c.ID, "ftc-"), Source: labels.ImportSource("ftc")},
		Input:    labels.ReportInput{Number: c.Number, Region: "US", Category: c.Category},
	}
	if c.Robocall {
		rec.Input.Call = &labels.Call{Robocall: true}
	}
	if imp.keepDates {
		rec.At = c.Created // zero when unreadable: dated now
	}
	return rec
}

// flush stores the pending batch, retrying storage failures a few times:
// a batch is idempotent.
func (imp *ftcImport) flush(ctx context.Context, name string) error {
	if len(imp.batch) == 0 {
		return nil
	}
	var err error
	for attempt, wait := 1, time.Second; ; attempt, wait = attempt+1, wait*2 {
		if err = ctx.Err(); err != nil {
			return err
		}
		var s labels.ImportStats
		if s, err = imp.svc.Import(ctx, imp.batch); err == nil {
			imp.stats.Add(s)
			break
		}
		if attempt == 3 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	imp.batch = imp.batch[:0]
	imp.progress.update("%s: %d complaints read, %d stored, %d duplicates, %d skipped",
		name, imp.seen, imp.stats.Stored, imp.stats.Duplicates, imp.stats.Skipped)
	return nil
}

// summary is the one line printed at the end.
func (imp *ftcImport) summary(source string) string {
	secs := time.Since(imp.start).Seconds()
	var reasons []string
	for _, code := range slices.Sorted(maps.Keys(imp.stats.SkipReasons)) {
		reasons = append(reasons, fmt.Sprintf("%s=%d", code, imp.stats.SkipReasons[code]))
	}
	skipped := fmt.Sprintf("skipped=%d", imp.stats.Skipped)
	if len(reasons) > 0 {
		skipped += " (" + strings.Join(reasons, " ") + ")"
	}
	return fmt.Sprintf("import %s: rows=%d malformed=%d bad_dates=%d stored=%d duplicates=%d %s seconds=%.1f rows_per_s=%.0f",
		source, imp.read.Rows, imp.read.Malformed, imp.read.BadDates, imp.stats.Stored, imp.stats.Duplicates, skipped,
		secs, float64(imp.read.Rows)/max(secs, 1e-9))
}
