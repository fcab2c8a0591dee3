package labels

import (
	"context"
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
// queue order and wake it with the outcome. A commit starts as soon as the
// previous one is done, so a lone report waits for nothing but its own
// insert, and under load a batch holds whatever queued during the last
// insert, up to Options.CommitBatch; Options.CommitDelay may hold a batch
// open a little longer to fill it.

// defaultCommitBatch is the default of Options.CommitBatch. A delay gained
// nothing in BenchmarkReportParallel: a batch fills while the previous one
// is stored.
const defaultCommitBatch = 500

// committer is the queue of events waiting for a commit, and the batch
// being committed.
type committer struct {
	mu     sync.Mutex
	queue  []*event // stamped, waiting for a commit, in stamp order per stripe
	flight []*event // being committed
	closed bool
	wake   chan struct{} // capacity 1: something was queued, or closed
	done   chan struct{} // closed when the commit loop has drained the queue
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
	return &committer{wake: make(chan struct{}, 1), done: make(chan struct{})}
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
	c.closed = true
	c.mu.Unlock()
	c.signal()
}

// oldest returns the earliest stamp of an event queued or being committed:
// it may be stored without being applied yet.
func (c *committer) oldest() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Time
	for _, evs := range [][]*event{c.queue, c.flight} {
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
	c.flight = batch
	c.mu.Unlock()
	return batch
}

// landed forgets the batch in flight: it is applied, or failed.
func (c *committer) landed() {
	c.mu.Lock()
	c.flight = nil
	c.mu.Unlock()
}

// commitLoop stores and applies batches until the committer is closed and
// its queue drained.
func (s *Service) commitLoop() {
	defer close(s.commits.done)
	for {
		batch := s.commits.next(s.opts.CommitBatch, s.opts.CommitDelay)
		if len(batch) == 0 {
			return
		}
		s.commitBatch(batch)
	}
}

// commitBatch stores batch in one insert, applies its new events in order
// and wakes their callers. A failed insert fails every event of the batch
// and applies none: some may be stored all the same (a timeout), and a
// retry with the same client_report_id finds them.
func (s *Service) commitBatch(batch []*event) {
	rs := make([]Report, len(batch))
	for i, ev := range batch {
		rs[i] = ev.r
	}
	ctx, cancel := writeContext(context.Background())
	defer cancel()
	dup, err := s.insert(ctx, rs)
	var stored map[string]Report
	var readErr error
	if err == nil {
		var ids []string
		for i, d := range dup {
			if d {
				ids = append(ids, rs[i].ID)
			}
		}
		if len(ids) > 0 {
			stored, readErr = s.store.Reports(ctx, ids)
		}
		if readErr == nil && len(stored) > 0 {
			// Duplicates are applied from their stored versions below;
			// the attempt that stored them may not have journaled them.
			again := make([]Report, 0, len(stored))
			for _, r := range stored {
				again = append(again, r)
			}
			readErr = s.store.journalReports(ctx, again)
		}
	}
	if err != nil {
		for _, ev := range batch {
			ev.err = unavailable(err)
		}
	} else {
		s.mu.Lock()
		for i, ev := range batch {
			switch {
			case !dup[i]:
				s.applyNewLocked(&ev.r)
				ev.out = ev.r
			case readErr != nil:
				ev.err = unavailable(readErr)
			default:
				s.settleDuplicateLocked(ev, stored)
			}
		}
		s.mu.Unlock()
	}
	s.commits.landed()
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
	if c.closed {
		c.mu.Unlock()
		return nil, Errorf(EUnavailable, "the service is shutting down; retry later")
	}
	ev.r.CreatedAt = s.stampLocked(st)
	ev.r.StoredAt = ev.r.CreatedAt
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
// commit. The wait ignores ctx, like every write: a caller who hangs up
// must not leave the event stored but unapplied. A commit is bounded by
// writeContext.
func (s *Service) submit(st *stripe, r Report) (*event, error) {
	st.mu.Lock()
	ev, err := s.enqueueLocked(st, r)
	st.mu.Unlock()
	if err != nil {
		return nil, err
	}
	<-ev.done
	return ev, ev.err
}
