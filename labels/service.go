package labels

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Limits on report fields.
const (
	MaxCommentRunes     = 280
	MaxClientReportID   = 128
	maxReporterIDLength = 256
)

// Options configure a Service.
type Options struct {
	// DefaultRegion applies to national-format numbers sent without one.
	DefaultRegion string
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Observers see every change of the live labels, including those made
	// while loading.
	Observers []Observer
	Logger    *slog.Logger
	// SnapshotInterval is how often the live labels are snapshotted when
	// they changed; 5 minutes if zero. SnapshotChanges triggers one early
	// after that many label changes (100,000 if zero), which bounds the
	// replay at the next start.
	SnapshotInterval time.Duration
	SnapshotChanges  int
	// ReplaySkew is replayed before the snapshot's watermark to cover
	// reports whose insert was in flight when it was taken; 1 minute if
	// zero.
	ReplaySkew time.Duration
	// Keys interns the number keys; share it with the reputation engine
	// so that each number is held once. A new one if nil.
	Keys *Keys
	// CommitBatch is the most reports one commit stores together (500 if
	// zero); CommitDelay holds a commit open that long for more reports
	// when it has fewer (none if zero: a commit starts as soon as the
	// previous one is done, and under load a batch holds what queued
	// meanwhile).
	CommitBatch int
	CommitDelay time.Duration
	// Fence, if set, is called after every insert and before what it
	// stored is applied or acknowledged; an error fails the write. It is
	// the writer lease's Check on a shared store (see writer.go).
	Fence func(ctx context.Context) error
	// MaxReportAge is how far back a report's ReportedAt may lie (30 days
	// if zero); ClockSkew is how far ahead of the server's clock a phone's
	// may run (5 minutes if zero).
	MaxReportAge time.Duration
	ClockSkew    time.Duration
}

// Defaults of Options.MaxReportAge and Options.ClockSkew.
const (
	DefaultMaxReportAge = 30 * 24 * time.Hour
	DefaultClockSkew    = 5 * time.Minute
)

// Service turns reports into live labels. Every report is inserted into the
// append-only history before it is acknowledged, together with the reports
// that arrived meanwhile (see commit.go); the live labels are kept in
// memory, where lookups read them, and snapshotted to storage now and then
// so that a start need not replay the whole history.
type Service struct {
	store    *Store
	opts     Options
	log      *slog.Logger
	stripes  [256]stripe
	commits  *committer
	settleMu sync.Mutex // one settleLimbo at a time
	loaded   atomic.Bool
	cancel   context.CancelFunc
	done     chan struct{}
	closeOne sync.Once

	mu       sync.RWMutex
	live     *liveTable
	tombs    map[tombKey]eventRef // latest retraction since start
	inflight map[string]time.Time // report id → created_at, while inserting
	since    time.Time            // reports stored from here on may be missing from the snapshot
	changes  int                  // label changes since start
	kick     chan struct{}        // asks for an early snapshot

	snapMu      sync.Mutex // one snapshot at a time; guards gen
	gen         int64      // current snapshot
	snapChanges int        // changes when it was taken; under mu
}

// stripe orders one group of reporters' writes, so that a reporter's
// reports are stored and applied in the order of their timestamps: they are
// stamped and queued for a commit under mu.
type stripe struct {
	mu      sync.Mutex
	last    time.Time
	pending int           // events queued or being committed; under mu
	idle    chan struct{} // closed when pending drops to zero; under mu
}

// Lock locks the stripe once none of its events waits for a commit, so
// that the holder sees every stored event of its reporters applied, and
// none comes in until Unlock.
func (st *stripe) Lock() {
	for {
		st.mu.Lock()
		if st.pending == 0 {
			return
		}
		idle := st.idle
		st.mu.Unlock()
		<-idle
	}
}

// lockWithin is Lock giving up after d; it reports whether it locked.
func (st *stripe) lockWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		st.mu.Lock()
		if st.pending == 0 {
			return true
		}
		idle := st.idle
		st.mu.Unlock()
		select {
		case <-idle:
		case <-t.C:
			return false
		}
	}
}

// Unlock unlocks the stripe.
func (st *stripe) Unlock() { st.mu.Unlock() }

// release counts one of the stripe's events as committed.
func (st *stripe) release() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.pending--
	if st.pending == 0 {
		close(st.idle)
		st.idle = nil
	}
}

type eventRef struct {
	at  int64 // Unix ms
	rid uint16
}

type tombKey struct {
	key      string
	reporter uint64
}

// Open loads the latest snapshot of the live labels, replays the reports
// stored since, and starts the snapshot loop. Observers are told about
// every loaded label.
func Open(ctx context.Context, store *Store, opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SnapshotInterval <= 0 {
		opts.SnapshotInterval = 5 * time.Minute
	}
	if opts.SnapshotChanges <= 0 {
		opts.SnapshotChanges = 100_000
	}
	if opts.ReplaySkew <= 0 {
		opts.ReplaySkew = time.Minute
	}
	if opts.Keys == nil {
		opts.Keys = NewKeys()
	}
	if opts.CommitBatch <= 0 {
		opts.CommitBatch = defaultCommitBatch
	}
	if opts.MaxReportAge <= 0 {
		opts.MaxReportAge = DefaultMaxReportAge
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	s := &Service{
		store:    store,
		opts:     opts,
		log:      opts.Logger.With("component", "labels"),
		live:     newLiveTable(opts.Keys),
		tombs:    make(map[tombKey]eventRef),
		inflight: make(map[string]time.Time),
		done:     make(chan struct{}),
		kick:     make(chan struct{}, 1),
		commits:  newCommitter(),
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go func() {
		defer close(s.done)
		s.snapshotLoop(runCtx)
	}()
	go s.commitLoop()
	s.loaded.Store(true)
	return s, nil
}

func (s *Service) load(ctx context.Context) error {
	start := s.opts.Now()
	sn, err := s.store.CurrentSnapshot(ctx)
	if err != nil {
		return err
	}
	loaded := 0
	err = s.store.eachSnapshot(ctx, sn, func(n Number, r liveRec) {
		loaded++
		s.live.set(n, r)
		if len(s.opts.Observers) == 0 {
			return
		}
		l := recLabel(n.Key, &r)
		for _, o := range s.opts.Observers {
			if lo, ok := o.(LoadObserver); ok {
				lo.LabelLoaded(l)
			} else {
				o.LabelChanged(nil, l)
			}
		}
	})
	if err != nil {
		return err
	}
	s.gen = sn.Gen
	if sn.Gen != 0 {
		s.since = sn.Watermark.Add(-s.opts.ReplaySkew)
	}
	replayed, changed := 0, 0
	replay := func(r Report) {
		replayed++
		if s.applyLocked(r) {
			changed++
		}
	}
	if sn.Gen != 0 && sn.Journal != 0 {
		err = s.store.eachJournaled(ctx, sn.Journal, s.since, sn.WriterGen, replay)
	} else {
		// No snapshot, or one from before journals: the whole history,
		// or all of it since the watermark.
		err = s.store.EachReportSince(ctx, s.since, replay)
	}
	if err != nil {
		return err
	}
	s.log.Info("labels loaded", "snapshot", sn.Gen, "labels", loaded, "replayed_reports", replayed,
		"replay_changes", changed, "took", s.opts.Now().Sub(start).Round(time.Millisecond).String())
	if changed > 0 {
		return s.Snapshot(ctx)
	}
	return nil
}

// snapshotLoop snapshots the live labels every SnapshotInterval when they
// changed, early after SnapshotChanges changes, and once more at the end.
func (s *Service) snapshotLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.SnapshotInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.Snapshot(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("labels snapshot failed; the next start replays more", "err", err)
		}
	}
}

// Snapshot writes the live labels to storage if they changed since the
// last snapshot. Its watermark is the oldest report possibly not yet
// applied, so the next start replays from there.
func (s *Service) Snapshot(ctx context.Context) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	s.mu.RLock()
	changes := s.changes
	if changes == s.snapChanges && s.gen != 0 {
		s.mu.RUnlock()
		return nil
	}
	s.mu.RUnlock()
	// Reports stored from here on go to a new journal; those stamped
	// before may still land in the previous one, which the replay reads
	// too.
	_, journal := s.store.currentJournal()
	journal++
	s.store.rotateJournal(journal)
	cut, busy := s.cut()
	replayFrom := journal
	if busy {
		replayFrom-- // in flight: they may land in the journal before
	}
	start := time.Now()
	// Chunks are encoded under the read lock, one at a time, and written
	// without it. The snapshot is not one instant: a label changed while
	// it is written may be in either state, which the replay from the
	// watermark (taken before) mends, as replays are idempotent.
	n, err := s.store.writeSnapshot(ctx, s.gen+1, cut, s.opts.Now(), replayFrom, func(put func(*chunkWriter) error) error {
		for id := 0; ; {
			w := newChunkWriter()
			s.mu.RLock()
			for ; id < len(s.live.slots) && !w.full(); id++ {
				if sl := &s.live.slots[id]; len(sl.recs) > 0 {
					w.slot(s.live.keys.Key(uint32(id)), sl)
				}
			}
			done := id >= len(s.live.slots)
			s.mu.RUnlock()
			if err := put(w); err != nil || done {
				return err
			}
		}
	})
	if err != nil {
		return err
	}
	s.gen++
	s.mu.Lock()
	s.snapChanges = changes
	s.mu.Unlock()
	s.log.Info("labels snapshot", "gen", s.gen, "labels", n, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// Loaded reports whether the live labels are in memory.
func (s *Service) Loaded() bool { return s.loaded.Load() }

// Close refuses new reports, commits those queued, stops the snapshot loop
// and takes a last snapshot, so that the next start replays almost
// nothing. Without it nothing is lost either: the next start replays more.
func (s *Service) Close(ctx context.Context) error {
	var err error
	s.closeOne.Do(func() {
		s.cancel()
		s.commits.close()
		for _, done := range []chan struct{}{s.commits.done, s.done} {
			select {
			case <-done:
			case <-ctx.Done():
				err = ctx.Err()
				return
			}
		}
		err = s.Snapshot(ctx)
	})
	return err
}

// Normalize parses raw with region, or the default region when empty,
// without display forms (see NormalizeKey).
func (s *Service) Normalize(raw, region string) (Number, error) {
	return NormalizeKey(raw, region, s.opts.DefaultRegion)
}

// Report validates in, stores it in the history and makes it who's live
// label on the number. A repeated ClientReportID returns the stored report
// with Duplicate set and changes nothing. The report is stored in one
// insert with the reports of other callers (see commit.go) and applied
// before Report returns.
func (s *Service) Report(ctx context.Context, who Reporter, in ReportInput) (Report, error) {
	r, err := s.prepare(who, in)
	if err != nil {
		return Report{}, err
	}
	st := s.stripe(who.ID)
	ev, err := s.submit(st, r)
	if err != nil {
		return Report{}, err
	}
	if ev.reused {
		// The id was used by an account that has since been erased and
		// pseudonymised; this is a new report.
		r.ID = "r-" + randomID(16)
		if ev, err = s.submit(st, r); err != nil {
			return Report{}, err
		}
		if ev.reused {
			return Report{}, fmt.Errorf("labels: random report id %s is taken", r.ID)
		}
	}
	return ev.out, nil
}

// Retract removes who's live label on number. It fails with ENotFound when
// there is none. The returned event carries the retracted category in
// ReplacedCategory.
func (s *Service) Retract(ctx context.Context, who Reporter, number, region string) (Report, error) {
	if err := checkReporter(who); err != nil {
		return Report{}, err
	}
	n, err := s.Normalize(number, region)
	if err != nil {
		return Report{}, err
	}
	// Lock waits for who's queued events, so the label is checked after
	// them, and holds later ones back until the retraction is queued; not
	// for longer than a commit may stall.
	st := s.stripe(who.ID)
	if !st.lockWithin(stallAfter) {
		return Report{}, Errorf(EUnavailable, "storage is not answering; "+retrySafe)
	}
	old, ok := s.LabelOf(who.ID, n.Key)
	if !ok {
		st.Unlock()
		return Report{}, Errorf(ENotFound, "you have no label on %s", n.Key)
	}
	ev, err := s.enqueueLocked(st, Report{ID: "x-" + randomID(16), Kind: KindRetract, Reporter: who.ID,
		Source: who.Source, IPPrefix: who.IPPrefix, Number: n})
	st.Unlock()
	if err != nil {
		return Report{}, err
	}
	if err := await(ev); err != nil {
		return Report{}, err
	}
	r := ev.out
	r.ReplacedCategory = old.Category
	return r, nil
}

// LabelOf returns reporter's live label on key, from memory: without
// comment, call or report id (see Label).
func (s *Service) LabelOf(reporter, key string) (Label, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, r := s.live.get(key, ReporterKey(reporter))
	if r == nil {
		return Label{}, false
	}
	l := recLabel(key, r)
	l.Reporter = reporter
	return *l, true
}

// Mine lists reporter's live labels, most recent first, limit at a time.
// cursor is "" for the first page and the returned next cursor after; next
// is "" on the last page.
func (s *Service) Mine(ctx context.Context, reporter string, limit int, cursor string) ([]Label, string, error) {
	if limit <= 0 || limit > 1000 {
		return nil, "", Errorf(EInvalid, "limit must be between 1 and 1000")
	}
	var after *Label
	if cursor != "" {
		c, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	all, err := s.mine(ctx, reporter)
	if err != nil {
		return nil, "", err
	}
	slices.SortFunc(all, compareMine)
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(all, *after, compareMine)
		if start < len(all) && compareMine(all[start], *after) == 0 {
			start++
		}
	}
	page := all[start:min(start+limit, len(all))]
	next := ""
	if start+limit < len(all) {
		next = encodeCursor(page[len(page)-1])
	}
	return page, next, nil
}

// mine returns reporter's live labels in full: memory says which reports
// are live, the history holds their comments and call details.
func (s *Service) mine(ctx context.Context, reporter string) ([]Label, error) {
	if err := s.commits.refuse(); err != nil {
		return nil, err // storage is known to be down: fail fast
	}
	rk := ReporterKey(reporter)
	found := map[string]Label{}
	err := s.store.EachReportOf(ctx, reporter, func(r Report) {
		if r.Kind != KindLabel {
			return
		}
		s.mu.RLock()
		_, rec := s.live.get(r.Number.Key, rk)
		live := rec != nil && rec.at == r.CreatedAt.UnixMilli() && rec.rid == reportHash(r.ID)
		var l *Label
		if live {
			l = recLabel(r.Number.Key, rec)
		}
		s.mu.RUnlock()
		if live {
			l.Reporter, l.IPPrefix, l.Comment, l.Call, l.ReportID = reporter, r.IPPrefix, r.Comment, r.Call, r.ID
			found[r.Number.Key] = *l
		}
	})
	if err != nil {
		return nil, unavailable(err)
	}
	all := make([]Label, 0, len(found))
	for _, l := range found {
		all = append(all, l)
	}
	return all, nil
}

// compareMine orders labels newest first, then by key.
func compareMine(a, b Label) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.Key, b.Key)
}

func encodeCursor(l Label) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(l.CreatedAt.UnixMilli(), 10) + " " + l.Key))
}

func decodeCursor(c string) (Label, error) {
	bad := Errorf(EInvalid, "cursor is not one this server returned")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return Label{}, bad
	}
	ms, key, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || key == "" {
		return Label{}, bad
	}
	return Label{CreatedAt: time.UnixMilli(n).UTC(), Key: key}, nil
}

// eraseBatch is how many reports one pseudonymising write rewrites: under
// MaxBulkOps, and short enough that other writers never wait long.
const eraseBatch = 50

// Erase retracts all of reporter's live labels and rewrites their history
// under a random pseudonym without comments or network prefixes,
// eraseBatch reports at a time by id, calling progress after each stored
// batch with what it did. It is idempotent: run again after a failure, it
// finds only what is left.
func (s *Service) Erase(ctx context.Context, reporter string, progress func(EraseResult) error) error {
	who := Reporter{ID: reporter, Source: SourceApp}
	if err := checkReporter(who); err != nil {
		return err
	}
	retracted, err := s.retractAll(ctx, reporter)
	if err != nil {
		return err
	}
	if retracted > 0 {
		if err := progress(EraseResult{ErasedLabels: retracted}); err != nil {
			return err
		}
	}
	ids, err := s.store.ReportIDsOf(ctx, reporter)
	if err != nil {
		return unavailable(err)
	}
	pseudonym := "erased-" + randomID(12)
	for start := 0; start < len(ids); start += eraseBatch {
		n, err := s.store.Pseudonymise(ctx, ids[start:min(start+eraseBatch, len(ids))], pseudonym)
		if err != nil {
			return unavailable(err)
		}
		if n == 0 {
			continue
		}
		if err := progress(EraseResult{PseudonymisedReports: n}); err != nil {
			return err
		}
	}
	return nil
}

// retractAll retracts reporter's live labels and returns how many.
func (s *Service) retractAll(ctx context.Context, reporter string) (int, error) {
	st := s.stripe(reporter)
	st.Lock()
	defer st.Unlock()
	mine, err := s.mine(ctx, reporter)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	var rs []Report
	for _, l := range mine {
		r := Report{ID: "x-" + randomID(16), Kind: KindRetract, Reporter: reporter, Source: l.Source,
			Number: numberFromKey(l.Key, l.Valid, l.NumberType, l.Region)}
		r.CreatedAt = s.stampLocked(st)
		r.StoredAt = r.CreatedAt
		s.inflight[r.ID] = r.CreatedAt
		rs = append(rs, r)
	}
	s.mu.Unlock()
	wctx, cancel := writeContext(ctx)
	defer cancel()
	_, err = s.insert(wctx, rs)
	s.mu.Lock()
	for _, r := range rs {
		if err == nil {
			s.applyLocked(r)
		}
		delete(s.inflight, r.ID)
	}
	s.mu.Unlock()
	if err != nil {
		return 0, unavailable(err)
	}
	return len(rs), nil
}

// Import stores a batch of records from a bulk source (an FTC file, a
// carrier feed) and applies them. Records that fail validation are skipped
// and counted, never fatal; records whose ID is stored already count as
// duplicates and change nothing, so re-running an import is harmless. The
// error is for storage failures only; a failed batch may be retried as is.
//
// Import reporters must be distinct from app reporters: imports skip the
// per-reporter ordering that Report keeps.
func (s *Service) Import(ctx context.Context, batch []Imported) (ImportStats, error) {
	stats := ImportStats{SkipReasons: map[string]int{}}
	rs := make([]Report, 0, len(batch))
	for _, im := range batch {
		r, err := s.prepare(im.Reporter, im.Input)
		if err == nil && (im.ID == "" || len(im.ID) > MaxClientReportID || !printableASCII(im.ID)) {
			err = Errorf(EInvalid, "import record id must be 1 to %d printable ASCII characters", MaxClientReportID)
		}
		if err != nil {
			stats.Skipped++
			stats.SkipReasons[ErrorCode(err)]++
			continue
		}
		r.ID = im.ID
		if !im.At.IsZero() {
			r.CreatedAt = time.UnixMilli(im.At.UnixMilli()).UTC()
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return stats, nil
	}
	s.mu.Lock()
	now := time.UnixMilli(s.opts.Now().UnixMilli()).UTC()
	for i := range rs {
		rs[i].StoredAt = now
		if rs[i].CreatedAt.IsZero() {
			rs[i].CreatedAt = now
		}
		s.inflight[rs[i].ID] = now
	}
	s.mu.Unlock()
	wctx, cancel := writeContext(ctx)
	defer cancel()
	dup, err := s.insert(wctx, rs)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range rs {
		delete(s.inflight, r.ID)
		switch {
		case err != nil:
		case dup[i]:
			stats.Duplicates++
		default:
			stats.Stored++
			s.applyLocked(r)
		}
	}
	if err != nil {
		return stats, unavailable(err)
	}
	return stats, nil
}

// prepare validates in and builds the label event, without a timestamp.
func (s *Service) prepare(who Reporter, in ReportInput) (Report, error) {
	if err := checkReporter(who); err != nil {
		return Report{}, err
	}
	n, err := s.Normalize(in.Number, in.Region)
	if err != nil {
		return Report{}, err
	}
	if _, ok := LookupCategory(in.Category); !ok {
		return Report{}, Errorf(EUnknownCategory, "unknown category %q; GET /v1/categories lists them", truncate(in.Category, 40))
	}
	if !utf8.ValidString(in.Comment) {
		return Report{}, Errorf(EInvalid, "comment is not valid UTF-8")
	}
	if c := utf8.RuneCountInString(in.Comment); c > MaxCommentRunes {
		return Report{}, Errorf(EInvalid, "comment has %d characters; at most %d are allowed", c, MaxCommentRunes)
	}
	if r, bad := unsafeRune(in.Comment); bad {
		return Report{}, Errorf(EInvalid, "comment contains the control character U+%04X; only tabs and line breaks are allowed", r)
	}
	now := s.opts.Now()
	if err := checkCall(in.Call, now); err != nil {
		return Report{}, err
	}
	at, err := s.reportedAt(in.ReportedAt, now)
	if err != nil {
		return Report{}, err
	}
	id := "r-" + randomID(16)
	if in.ClientReportID != "" {
		if len(in.ClientReportID) > MaxClientReportID || !printableASCII(in.ClientReportID) {
			return Report{}, Errorf(EInvalid, "client_report_id must be 1 to %d printable ASCII characters", MaxClientReportID)
		}
		sum := sha256.Sum256([]byte(who.ID + "\x00" + in.ClientReportID))
		id = "c-" + hex.EncodeToString(sum[:16])
	}
	return Report{
		ID: id, Kind: KindLabel, Reporter: who.ID, Source: who.Source, IPPrefix: who.IPPrefix,
		Number: n, Category: in.Category, Comment: in.Comment, Call: in.Call, ClientReportID: in.ClientReportID,
		CreatedAt: at,
	}, nil
}

// reportedAt checks the time a phone says its user made a report, at
// millisecond precision as storage keeps it; zero stays zero (now).
func (s *Service) reportedAt(at, now time.Time) (time.Time, error) {
	if at.IsZero() {
		return time.Time{}, nil
	}
	switch {
	case at.After(now.Add(s.opts.ClockSkew)):
		return time.Time{}, Errorf(EInvalid, "reported_at %s is in the future; send the time the user made the report", at.UTC().Format(time.RFC3339))
	case at.Before(now.Add(-s.opts.MaxReportAge)):
		return time.Time{}, Errorf(EInvalid, "reported_at %s is more than %s in the past", at.UTC().Format(time.RFC3339), formatAge(s.opts.MaxReportAge))
	}
	return time.UnixMilli(at.UnixMilli()).UTC(), nil
}

// formatAge writes an age in days when it is whole days ("30 days").
func formatAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.String()
}

// unsafeRune finds the first rune of a comment that could hide or reorder
// what moderators and other users read: a control character other than
// tab, line feed and carriage return (NUL, escape, C1 controls), or a
// bidirectional embedding, override or isolate (U+202A–U+202E,
// U+2066–U+2069). The marks U+200E and U+200F, which right-to-left text
// needs, are fine.
func unsafeRune(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20 || 0x7f <= r && r <= 0x9f,
			0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069:
			return r, true
		}
	}
	return 0, false
}

func checkReporter(who Reporter) error {
	if who.ID == "" || len(who.ID) > maxReporterIDLength || strings.ContainsAny(who.ID, " \x00") || who.Source == "" {
		return Errorf(EUnauthorized, "the caller has no usable reporter identity")
	}
	return nil
}

func checkCall(c *Call, now time.Time) error {
	if c == nil {
		return nil
	}
	switch c.Direction {
	case "", "incoming", "outgoing", "missed":
	default:
		return Errorf(EInvalid, "call.direction must be incoming, outgoing or missed")
	}
	switch c.Attestation {
	case "", AttestationA, AttestationB, AttestationC, AttestationFailed, AttestationNone:
	default:
		return Errorf(EInvalid, "call.attestation must be A, B, C, failed or none")
	}
	for _, f := range []struct {
		name string
		v    *int
		max  int
	}{{"duration_s", c.DurationS, 86400}, {"ring_s", c.RingS, 600}, {"recent_calls", c.RecentCalls, 10000}} {
		if f.v != nil && (*f.v < 0 || *f.v > f.max) {
			return Errorf(EInvalid, "call.%s must be between 0 and %d", f.name, f.max)
		}
	}
	if c.StartedAt != nil && (c.StartedAt.After(now.Add(10*time.Minute)) || c.StartedAt.Before(now.AddDate(0, 0, -90))) {
		return Errorf(EInvalid, "call.started_at must be within the last 90 days")
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// insert stores rs in the history and checks the fence: what it stored
// may be applied once it returns without error.
func (s *Service) insert(ctx context.Context, rs []Report) ([]bool, error) {
	dup, err := s.store.InsertReports(ctx, rs)
	if err == nil && s.opts.Fence != nil {
		err = s.opts.Fence(ctx)
	}
	return dup, err
}

// writeContext detaches a write from the request's cancellation, so that a
// client hanging up cannot leave a report stored but unapplied, and bounds
// it instead.
func writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

func unavailable(err error) error {
	return &wrapped{err: Errorf(EUnavailable, "storage is unavailable; "+retrySafe), cause: err}
}

// wrapped is an *Error that keeps its internal cause for the logs.
type wrapped struct {
	err   *Error
	cause error
}

func (w *wrapped) Unwrap() []error { return []error{w.err, w.cause} }
func (w *wrapped) Error() string   { return w.err.Error() + ": " + w.cause.Error() }

// stampLocked returns the creation time of a new event of st's reporters:
// millisecond precision, as storage keeps it, and strictly increasing. st
// is held.
func (s *Service) stampLocked(st *stripe) time.Time {
	t := time.UnixMilli(s.opts.Now().UnixMilli()).UTC()
	if !t.After(st.last) {
		t = st.last.Add(time.Millisecond)
	}
	st.last = t
	return t
}

func (s *Service) stripe(reporter string) *stripe {
	h := fnv.New32a()
	h.Write([]byte(reporter))
	return &s.stripes[h.Sum32()%uint32(len(s.stripes))]
}

// applyLocked applies a history event to the live labels, latest event
// wins; it is idempotent, so replays may overlap. It reports whether the
// live labels changed.
func (s *Service) applyLocked(r Report) bool {
	rk := ReporterKey(r.Reporter)
	at, rid := r.CreatedAt.UnixMilli(), reportHash(r.ID)
	_, cur := s.live.get(r.Number.Key, rk)
	if cur != nil && !newer(at, rid, cur.at, cur.rid) {
		return false
	}
	tk := tombKey{r.Number.Key, rk}
	if t, ok := s.tombs[tk]; ok && !newer(at, rid, t.at, t.rid) {
		return false
	}
	var old *Label
	if cur != nil {
		old = recLabel(r.Number.Key, cur)
		old.Reporter = r.Reporter
	}
	if r.Kind == KindRetract {
		s.tombs[tk] = eventRef{at, rid}
		if cur == nil {
			return false
		}
		s.live.remove(r.Number.Key, rk)
		s.notify(old, nil)
		s.changed()
		return true
	}
	first := r.CreatedAt
	if old != nil {
		first = old.FirstAt
	}
	rec := toRec(&r, first)
	s.live.set(r.Number, rec)
	l := &Label{
		Reporter: r.Reporter, ReporterKey: rk, PrefixKey: rec.prefix, CallSignals: rec.sig,
		Key: r.Number.Key, Valid: r.Number.Valid, NumberType: r.Number.Type,
		Region: r.Number.Region, Category: r.Category, Comment: r.Comment, Source: r.Source,
		IPPrefix: r.IPPrefix, Call: r.Call, ReportID: r.ID, CreatedAt: r.CreatedAt, FirstAt: first,
	}
	s.notify(old, l)
	s.changed()
	return true
}

// changed counts a label change and asks for an early snapshot when many
// piled up; s.mu is held.
func (s *Service) changed() {
	s.changes++
	if s.changes-s.snapChanges >= s.opts.SnapshotChanges {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (s *Service) notify(old, cur *Label) {
	for _, o := range s.opts.Observers {
		o.LabelChanged(old, cur)
	}
}

// cut is the replay watermark of a snapshot taken now: every report
// stored before it is applied in memory.
// busy tells whether reports were in flight then.
func (s *Service) cut() (c time.Time, busy bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c = time.UnixMilli(s.opts.Now().UnixMilli()).UTC()
	for _, t := range s.inflight {
		if t.Before(c) {
			c = t
		}
	}
	t, queued := s.commits.oldest()
	if queued && t.Before(c) {
		c = t
	}
	return c, queued || len(s.inflight) > 0
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
