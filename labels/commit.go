package labels

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Group commit. Storing a report costs the embedded FerretDB one SQLite
// transaction and one fsync whatever the number of documents it carries,
// so concurrent reports share one insert: a caller stamps its event under
// its stripe's lock (which keeps a reporter's events in the order of their
// timestamps), queues it and waits, holding no lock, for the committer to
// store the queue's head in one InsertMany, apply it to the live labels in
// queue order and wake it with the outcome. A commit is two inserts, the
// history's and then the journal's, and the next batch's history insert
// starts as soon as the previous one is done, beside that batch's journal
// insert (see commitLoop): a lone report waits for nothing but its own
// inserts, and under load a batch holds whatever queued during the last
// insert, up to Options.CommitBatch; Options.CommitDelay may hold a batch
// open a little longer to fill it.

// Writes under storage faults. A commit whose insert fails or times out
// has an unknown outcome: the documents may be stored, now or when a
// frozen server wakes up. Its callers are answered 503 (retrying with the
// same client_report_id is safe) and its events stay in limbo, where they
// hold the snapshot watermark back, while the breaker is open: new writes
// fail fast instead of queueing behind a dead store, and so do writes
// while a commit has been in flight longer than stallAfter. The commit
// loop then probes storage by inserting the limbo events again (inserts
// are idempotent: ids are unique) until it answers, applies what is
// stored, theirs or the first attempt's, and closes the breaker. So every
// write that reaches storage is applied in memory, whenever its insert
// returns. Lookups never wait for storage.

// defaultCommitBatch is the default of Options.CommitBatch. A delay gained
// nothing in BenchmarkReportParallel: a batch fills while the previous one
// is stored.
const defaultCommitBatch = 500

// Fault handling times. They bound waits on storage, like writeContext,
// so they run on the real clock, not Options.Now.
const (
	stallAfter   = 3 * time.Second        // a commit in flight this long opens the breaker to new writes
	answerWithin = 5 * time.Second        // a write waits this long for its commit, then answers 503
	probeFirst   = 250 * time.Millisecond // the first probe after a failure; doubling up to probeMax
	probeMax     = 2 * time.Second
	probeWait    = 5 * time.Second // a probe's own timeout
)

// committer is the queue of events waiting for a commit, and the batches
// being committed.
type committer struct {
	mu      sync.Mutex
	queue   []*event // stamped, waiting for a commit, in stamp order per stripe
	flights []flight // being committed, oldest first: at most two (see commitLoop)
	limbo   []*event // failed with an unknown outcome, answered, to be settled
	down    bool     // the breaker: storage failed and is probed
	fenced  error    // another process is the writer: nothing is written any more
	closed  bool
	wake    chan struct{} // capacity 1: something was queued, or closed
	closing chan struct{} // closed by close
	done    chan struct{} // closed when the commit loop has drained the queue
}

// flight is a batch being committed and when its commit began.
type flight struct {
	batch []*event
	at    time.Time
}

// event is one report or retraction on its way to storage.
type event struct {
	r    Report
	st   *stripe
	done chan struct{} // closed when the outcome below is set

	out    Report // the stored event, Duplicate set if it existed
	reused bool   // the id is a stored report of another (erased) reporter
	err    error
}

func newCommitter() *committer {
	return &committer{wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
}

func (c *committer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close stops taking events; the commit loop stores those queued and
// returns.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.closing)
	}
	c.mu.Unlock()
	c.signal()
}

// oldest returns the earliest stamp of an event queued or being committed:
// it may be stored without being applied yet.
func (c *committer) oldest() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Time
	evss := [][]*event{c.queue, c.limbo}
	for _, f := range c.flights {
		evss = append(evss, f.batch)
	}
	for _, evs := range evss {
		for _, ev := range evs {
			if t.IsZero() || ev.r.StoredAt.Before(t) {
				t = ev.r.StoredAt
			}
		}
	}
	return t, !t.IsZero()
}

// next waits for events and returns the next batch, at most max of them,
// after holding it open for up to delay while it has fewer. It returns
// nothing once the committer is closed and drained.
func (c *committer) next(max int, delay time.Duration) []*event {
	c.mu.Lock()
	for len(c.queue) == 0 && !c.closed {
		c.mu.Unlock()
		<-c.wake
		c.mu.Lock()
	}
	if delay > 0 && len(c.queue) < max && !c.closed {
		c.mu.Unlock()
		timer := time.NewTimer(delay)
		for open := true; open; {
			select {
			case <-timer.C:
				open = false
			case <-c.wake:
				c.mu.Lock()
				open = len(c.queue) < max && !c.closed
				c.mu.Unlock()
			}
		}
		timer.Stop()
		c.mu.Lock()
	}
	n := min(len(c.queue), max)
	batch := c.queue[:n:n]
	c.queue = slices.Clone(c.queue[n:])
	if n > 0 {
		c.flights = append(c.flights, flight{batch, time.Now()})
	}
	c.mu.Unlock()
	return batch
}

// refuseLocked is the error new writes fail fast with, or nil; c.mu is
// held.
func (c *committer) refuseLocked() error {
	switch {
	case c.closed:
		return Errorf(EUnavailable, "the service is shutting down; retry later")
	case c.fenced != nil:
		return &wrapped{err: Errorf(EUnavailable, "this server is no longer the writer; retry later"), cause: c.fenced}
	case c.down || len(c.flights) > 0 && time.Since(c.flights[0].at) > stallAfter:
		return Errorf(EUnavailable, "storage is not answering; "+retrySafe)
	}
	return nil
}

// refuse is refuseLocked for callers without c.mu.
func (c *committer) refuse() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refuseLocked()
}

// retrySafe ends the message of every write that failed on storage.
const retrySafe = "retrying with the same client_report_id is safe"

// landed forgets batch, in flight: it is applied, or failed.
func (c *committer) landed(batch []*event) {
	c.mu.Lock()
	c.flights = slices.DeleteFunc(c.flights, func(f flight) bool { return f.batch[0] == batch[0] })
	c.mu.Unlock()
}

// storedBatch is a batch stored in the history, on its way to the journal.
type storedBatch struct {
	batch  []*event
	rs     []Report
	dup    []bool
	ctx    context.Context
	cancel context.CancelFunc
}

// commitLoop stores batches in the history until the committer is closed
// and its queue drained, and hands each to the journal stage, which
// journals, applies and answers it while the next batch is stored: on the
// embedded store the two inserts of a commit are in files of their own
// (see JournalDatabase), so a commit costs the longer of them rather than
// their sum. Measured on a served data directory of 1M numbers (wrk,
// alternating runs): journaling beside the history insert instead, when a
// probe of the history found no repeat in the batch, gained nothing
// (medians of six, 2,846 and 2,810 reports/s), nor did a journal written
// straight to a SQLite file of its own; with no journal insert at all a
// commit gained 11% and 28% in two sets of three. What costs is the
// journal's own commit, wherever it runs: the lever left is to take it off
// the path of the answer, which needs a way to find the history's
// unjournaled tail at start. At most two batches are in flight, one a
// stage; their events are of different reporters (a stripe waits for its
// event's outcome), so the order in which they are applied does not
// matter.
func (s *Service) commitLoop() {
	defer close(s.commits.done)
	journal := make(chan *storedBatch)
	journaled := make(chan struct{})
	go func() {
		defer close(journaled)
		for b := range journal {
			s.journalBatch(b)
		}
	}()
	for {
		batch := s.commits.next(s.opts.CommitBatch, s.opts.CommitDelay)
		if len(batch) == 0 {
			close(journal)
			<-journaled
			s.settleLimbo()
			return
		}
		if b := s.storeBatch(batch); b != nil {
			journal <- b
		}
		s.settleLimbo()
	}
}

// persist stores rs, checks the fence, reads back the stored versions of
// the ids that existed and journals what is to be applied; it fails as a
// whole.
func (s *Service) persist(ctx context.Context, rs []Report) (dup []bool, stored map[string]Report, err error) {
	if dup, err = s.storeHistory(ctx, rs); err != nil {
		return nil, nil, err
	}
	if stored, err = s.storedDuplicates(ctx, rs, dup); err != nil {
		return nil, nil, err
	}
	return dup, stored, s.store.journalReports(ctx, toJournal(rs, dup, stored))
}

// toJournal lists what a commit journals: its new reports, and the stored
// versions of its duplicates, which are applied from them.
func toJournal(rs []Report, dup []bool, stored map[string]Report) []Report {
	out := make([]Report, 0, len(rs))
	for i, r := range rs {
		if !dup[i] {
			out = append(out, r)
		}
	}
	for _, r := range stored {
		out = append(out, r)
	}
	return out
}

// storeHistory stores rs in the history and checks the fence; dup[i]
// tells that rs[i]'s id was stored already.
func (s *Service) storeHistory(ctx context.Context, rs []Report) (dup []bool, err error) {
	dup, err = s.store.insertHistory(ctx, rs)
	if err == nil && s.opts.Fence != nil {
		err = s.opts.Fence(ctx)
	}
	if err != nil {
		return nil, err
	}
	return dup, nil
}

// storedDuplicates reads back the stored versions of the ids of rs that
// existed (a retry's, mostly): one read by id each, so the journal stage
// does it (see journalBatch).
func (s *Service) storedDuplicates(ctx context.Context, rs []Report, dup []bool) (map[string]Report, error) {
	var ids []string
	for i, d := range dup {
		if d {
			ids = append(ids, rs[i].ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.store.Reports(ctx, ids)
}

// failed answers the events of a commit that failed with err and, unless
// the writer is fenced, keeps them in limbo and opens the breaker; the
// events still queued fail too, as they would wait for a dead store.
func (s *Service) failed(batch []*event, err error) {
	c := s.commits
	c.mu.Lock()
	queued := c.queue
	c.queue = nil
	if errors.Is(err, ErrFenced) {
		c.fenced = err
	} else {
		c.limbo = append(c.limbo, batch...)
		c.down = true
	}
	c.mu.Unlock()
	s.log.Warn("storage write failed; writes fail fast until storage answers", "reports", len(batch), "err", err)
	for _, ev := range batch {
		ev.err = unavailable(err)
	}
	for _, ev := range queued {
		ev.err = c.refuse()
		ev.st.release()
		close(ev.done)
	}
}

// settleLimbo probes storage by storing the events in limbo again until
// it answers (or the writer is fenced), applies what is stored and closes
// the breaker. After Close it makes one last attempt.
//
// Both stages of the commit loop settle (see commitLoop), one at a time;
// what fails while a settle is under way is settled after it.
func (s *Service) settleLimbo() {
	s.settleMu.Lock()
	defer s.settleMu.Unlock()
	c := s.commits
	wait := probeFirst
	for {
		c.mu.Lock()
		limbo, closed := slices.Clone(c.limbo), c.closed
		if len(limbo) == 0 || c.fenced != nil {
			c.limbo, c.down = nil, false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if !closed {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-c.closing:
			}
			timer.Stop()
			wait = min(2*wait, probeMax)
		}
		rs := make([]Report, len(limbo))
		for i, ev := range limbo {
			rs[i] = ev.r
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeWait)
		dup, stored, err := s.persist(ctx, rs)
		cancel()
		switch {
		case err == nil:
			s.mu.Lock()
			for i := range rs {
				switch d, ok := stored[rs[i].ID]; {
				case !dup[i]:
					s.applyNewLocked(&rs[i])
				case ok && d.Reporter == rs[i].Reporter:
					s.applyLocked(d)
				}
			}
			s.mu.Unlock()
			c.mu.Lock()
			c.limbo = slices.Clone(c.limbo[len(limbo):])
			c.down = len(c.limbo) > 0
			c.mu.Unlock()
			s.log.Info("storage answers again; writes of unknown outcome settled", "reports", len(rs))
		case errors.Is(err, ErrFenced):
			c.mu.Lock()
			c.fenced = err
			c.mu.Unlock()
		case closed:
			s.log.Error("storage still fails at shutdown; writes of unknown outcome are applied at the next start if they were stored and journaled",
				"reports", len(rs), "err", err)
			c.mu.Lock()
			c.limbo = slices.Clone(c.limbo[len(limbo):])
			c.mu.Unlock()
		}
	}
}

// storeBatch stores batch in the history in one insert and returns it
// for the journal stage. A failed insert fails every event of the batch
// and applies none now: they are settled once storage answers again.
func (s *Service) storeBatch(batch []*event) *storedBatch {
	rs := make([]Report, len(batch))
	for i, ev := range batch {
		rs[i] = ev.r
	}
	ctx, cancel := writeContext(context.Background())
	dup, err := s.storeHistory(ctx, rs)
	if err != nil {
		cancel()
		s.failed(batch, err)
		s.commits.landed(batch)
		answer(batch)
		return nil
	}
	return &storedBatch{batch: batch, rs: rs, dup: dup, ctx: ctx, cancel: cancel}
}

// journalBatch reads back the stored versions of a stored batch's
// duplicates, journals the batch, applies its new events in order and
// wakes their callers. The reads are here rather than in the history
// stage, which they would hold up by a read per retried report. A failed
// read or journal write fails the batch as a failed insert does: settling
// stores it again, finds it stored and journals it then.
func (s *Service) journalBatch(b *storedBatch) {
	defer b.cancel()
	known, err := s.storedDuplicates(b.ctx, b.rs, b.dup)
	if err == nil {
		err = s.store.journalReports(b.ctx, toJournal(b.rs, b.dup, known))
	}
	if err != nil {
		s.failed(b.batch, err)
	} else {
		s.mu.Lock()
		for i, ev := range b.batch {
			if b.dup[i] {
				s.settleDuplicateLocked(ev, known)
			} else {
				s.applyNewLocked(&ev.r)
				ev.out = ev.r
			}
		}
		s.mu.Unlock()
	}
	s.commits.landed(b.batch)
	answer(b.batch)
	if err != nil {
		s.settleLimbo() // the history stage may be waiting for new events
	}
}

// answer releases the stripes of a batch's events and wakes their
// callers with the outcomes set.
func answer(batch []*event) {
	for _, ev := range batch {
		ev.st.release()
		close(ev.done)
	}
}

// applyNewLocked applies a newly stored event; it learns the category it
// replaces. s.mu is held.
func (s *Service) applyNewLocked(r *Report) {
	if _, old := s.live.get(r.Number.Key, ReporterKey(r.Reporter)); old != nil {
		r.ReplacedCategory = taxonomy[old.cat].id
	}
	s.applyLocked(*r)
}

// settleDuplicateLocked answers an event whose id was stored already.
// s.mu is held.
func (s *Service) settleDuplicateLocked(ev *event, stored map[string]Report) {
	d, ok := stored[ev.r.ID]
	switch {
	case !ok:
		ev.err = unavailable(fmt.Errorf("labels: duplicate report %s is not stored", ev.r.ID))
	case d.Reporter != ev.r.Reporter:
		ev.reused = true
	default:
		d.Duplicate = true
		d.Number = ev.r.Number
		// The first attempt may have been stored without being applied
		// (its answer lost to a timeout); applying again is a no-op
		// otherwise. Reports older than the replay window are in labels,
		// unless an older writer generation stored them: then the attempt
		// may have been fenced and ignored since (see writer.go).
		if !d.StoredAt.Before(s.since) || d.writerGen < s.store.gen {
			s.applyLocked(d)
		}
		ev.out = d
	}
}

// enqueueLocked stamps r as the next event of st's reporters and queues it
// for a commit; st.mu is held, so a stripe's events queue in stamp order.
// Until the event is applied its stamp holds back the snapshot watermark
// (see cut) and the stripe's Lock.
func (s *Service) enqueueLocked(st *stripe, r Report) (*event, error) {
	ev := &event{r: r, st: st, done: make(chan struct{})}
	c := s.commits
	c.mu.Lock()
	if err := c.refuseLocked(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	// The stamp orders the stripe's events and dates their storage; a
	// report the phone kept offline keeps its own, earlier time (one a
	// skewed clock put ahead is taken as made now).
	ev.r.StoredAt = s.stampLocked(st)
	if ev.r.CreatedAt.IsZero() || ev.r.CreatedAt.After(ev.r.StoredAt) {
		ev.r.CreatedAt = ev.r.StoredAt
	}
	c.queue = append(c.queue, ev)
	c.mu.Unlock()
	c.signal()
	if st.pending == 0 {
		st.idle = make(chan struct{})
	}
	st.pending++
	return ev, nil
}

// submit queues r as the next event of st's reporters and waits for its
// commit (see await).
func (s *Service) submit(st *stripe, r Report) (*event, error) {
	st.mu.Lock()
	ev, err := s.enqueueLocked(st, r)
	st.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return ev, await(ev)
}

// await waits for ev's commit, at most answerWithin: then it answers 503
// and the commit goes on, applied when it lands or settled from limbo,
// which a retry with the same client_report_id finds. The wait ignores
// the caller's ctx, as the commit does: a caller who hangs up changes
// nothing.
func await(ev *event) error {
	t := time.NewTimer(answerWithin)
	defer t.Stop()
	select {
	case <-ev.done:
		return ev.err
	case <-t.C:
		return Errorf(EUnavailable, "storage is slow to answer; "+retrySafe)
	}
}
