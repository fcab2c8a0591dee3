package push

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Batch is one outbox entry: a warning and the devices (or the topic) it
// goes to, at most maxBatch of them, recorded before anything is sent. Its
// id is derived from what triggered it, so that recording it twice stores
// it once: that is the dedupe of (device, number, verdict, kind).
type Batch struct {
	ID      string
	Trigger string
	Created time.Time
	Warning Warning
	// Topic is set for topic messages, which have no items.
	Topic string
	// Texts are the title and body per text key of the items.
	Texts map[string]Text
	Items []Item
}

// Item is one recipient of a batch: a device of a user, or a user without
// a device who gets the warning in the inbox only.
type Item struct {
	User   string
	Device string
	// Text is the key of the item's text in Batch.Texts.
	Text  string
	Since time.Time
	Data  map[string]string
}

// Text is what a notification shows.
type Text struct{ Title, Body string }

// Mark is an insert-only record of outbox progress: the items of Batch
// that are done (sent, or given up for good), whether nothing is left, and
// whether the batch's notifications are stored in the inbox.
type Mark struct {
	ID      string
	Batch   string
	At      time.Time
	Done    []int
	Final   bool
	Inboxed bool
}

// notification is the inbox entry of it.
func (b *Batch) notification(it Item, keep time.Duration) Notification {
	w := b.Warning
	return Notification{
		ID: string(w.Kind) + "|" + it.User + "|" + b.Trigger, User: it.User, Kind: w.Kind, Number: w.Number,
		Verdict: w.Verdict, Category: w.Category, Reporters: w.Reporters, Since: it.Since, Data: it.Data,
		At: w.IssuedAt, Expires: w.IssuedAt.Add(keep),
	}
}

// pending is a batch with what is left of it.
type pending struct {
	b       *Batch
	done    []bool
	left    int
	attempt int
	next    time.Time
	final   bool
	inboxed bool
	queued  time.Time // when its notifications were queued for storage
}

func (p *pending) expires() time.Time { return p.b.Warning.IssuedAt.Add(p.b.Warning.ttl()) }

// outbox sends what is pending, one replica at a time.
type outbox struct {
	s     *Service
	poke  chan struct{}
	marks chan Mark

	mu      sync.Mutex
	batches map[string]*pending
	hour    time.Time
	perDev  map[string]int
	held    bool
	renewed time.Time
}

const (
	leaseName   = "push-outbox"
	backoffBase = time.Second
	backoffMax  = 5 * time.Minute
	// Notifications wait at most this long for an idle sender before they
	// are stored. They are in the in-memory inbox at once, and a crash
	// before they are stored rebuilds them from the outbox.
	inboxDelay = 5 * time.Minute
	// marksPending is how many progress marks may wait for storage: one
	// per sent chunk of up to maxBatch messages, so millions of messages.
	// The queue is allocated whole at start (88 bytes a mark).
	marksPending = 4096
)

func newOutbox(s *Service) *outbox {
	return &outbox{s: s, poke: make(chan struct{}, 1), marks: make(chan Mark, marksPending), batches: map[string]*pending{}, perDev: map[string]int{}}
}

// load reads the recorded batches and their marks; s.mu is held.
func (o *outbox) load(ctx context.Context, now time.Time) error {
	since := now.Add(-o.s.retention())
	if err := o.s.st.EachBatch(ctx, since, func(b *Batch) {
		o.batches[b.ID] = &pending{b: b, done: make([]bool, len(b.Items)), left: len(b.Items)}
	}); err != nil {
		return err
	}
	if err := o.s.st.EachMark(ctx, since, func(m Mark) {
		p := o.batches[m.Batch]
		if p == nil {
			return
		}
		for _, i := range m.Done {
			if i >= 0 && i < len(p.done) && !p.done[i] {
				p.done[i] = true
				p.left--
			}
		}
		p.final = p.final || m.Final
		p.inboxed = p.inboxed || m.Inboxed
	}); err != nil {
		return err
	}
	for id, p := range o.batches {
		if p.left == 0 && p.b.Topic == "" {
			p.final = true
		}
		if !p.inboxed {
			o.s.inboxLocked(p, now)
		}
		if p.final && p.inboxed {
			delete(o.batches, id)
		}
	}
	return nil
}

// inboxLocked puts p's notifications into the in-memory inbox and queues
// them for storage; s.mu is held.
func (s *Service) inboxLocked(p *pending, now time.Time) {
	n := 0
	for _, it := range p.b.Items {
		if it.User == "" {
			continue
		}
		note := p.b.notification(it, s.cfg.InboxFor)
		if note.Expires.After(now) && s.addNotificationLocked(note) {
			n++
		}
	}
	s.m.inboxWrites.Add(float64(n))
	if len(p.b.Items) == 0 || p.b.Items[0].User == "" {
		p.inboxed = true
	}
	p.queued = now
}

// add takes freshly recorded batches.
func (o *outbox) add(bs []*Batch) {
	if len(bs) == 0 {
		return
	}
	now := o.s.cfg.Now()
	o.s.mu.Lock()
	o.mu.Lock()
	for _, b := range bs {
		p := &pending{b: b, done: make([]bool, len(b.Items)), left: len(b.Items)}
		o.batches[b.ID] = p
		o.s.inboxLocked(p, now)
		o.s.m.warnings.WithLabelValues(string(b.Warning.kind())).Add(float64(max(len(b.Items), 1)))
	}
	o.mu.Unlock()
	o.s.mu.Unlock()
	select {
	case o.poke <- struct{}{}:
	default:
	}
}

// run sends until ctx ends.
func (o *outbox) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { o.writeMarks(ctx) })
	t := time.NewTicker(o.s.cfg.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		if o.lease(ctx) {
			for o.sendOne(ctx) && ctx.Err() == nil {
			}
			o.storeInbox(ctx)
		}
		select {
		case <-ctx.Done():
		case <-o.poke:
		case <-t.C:
		}
	}
	wg.Wait()
}

// lease holds the outbox lease, renewing it well before it runs out.
func (o *outbox) lease(ctx context.Context) bool {
	l := o.s.cfg.Leases
	if l == nil {
		return true
	}
	now := o.s.cfg.Now()
	ttl := o.s.cfg.Lease
	if o.held && now.Sub(o.renewed) < ttl/4 {
		return true
	}
	held, err := l.Acquire(ctx, leaseName, o.s.cfg.Holder, ttl, now)
	if err != nil {
		o.s.log.Warn("push: outbox lease", "err", err)
		return o.held && now.Sub(o.renewed) < ttl/2
	}
	if held != o.held {
		o.s.log.Info("push: outbox lease", "held", held, "pending", len(o.batches))
	}
	o.held, o.renewed = held, now
	return held
}

// next picks the batch to send from: urgent kinds first, then the oldest.
func (o *outbox) next(now time.Time) *pending {
	o.mu.Lock()
	defer o.mu.Unlock()
	var best *pending
	for _, p := range o.batches {
		if p.final || p.next.After(now) {
			continue
		}
		if best == nil {
			best = p
			continue
		}
		pu, bu := p.b.Warning.kind().urgent(), best.b.Warning.kind().urgent()
		if pu != bu {
			if pu {
				best = p
			}
			continue
		}
		if p.b.Created.Before(best.b.Created) || (p.b.Created.Equal(best.b.Created) && p.b.ID < best.b.ID) {
			best = p
		}
	}
	return best
}

// sendOne sends what is left of one batch, at most maxBatch messages, and
// reports whether there was anything to send.
func (o *outbox) sendOne(ctx context.Context) bool {
	s := o.s
	now := s.cfg.Now()
	p := o.next(now)
	if p == nil {
		return false
	}
	b, w := p.b, p.b.Warning
	exp := p.expires()
	var (
		done  []int
		idx   []int
		msgs  []Message
		dead  []string
		retry []int
		wait  time.Duration
	)
	finish := func(i int, reason string) {
		done = append(done, i)
		if reason != "" {
			s.m.failed.WithLabelValues(reason).Inc()
		}
	}
	expired := !now.Before(exp)
	if b.Topic != "" {
		if expired || s.cfg.Sender == nil {
			o.complete(p, nil, true)
			return true
		}
		msgs = append(msgs, Message{Topic: b.Topic, Warning: w})
		idx = append(idx, -1)
	}
	o.mu.Lock()
	if h := now.Truncate(time.Hour); !h.Equal(o.hour) {
		o.hour, o.perDev = h, map[string]int{}
	}
	o.mu.Unlock()
	s.mu.Lock()
	for i, it := range b.Items {
		if p.done[i] || len(msgs) >= maxBatch {
			continue
		}
		d := s.devices[it.Device]
		switch {
		case it.Device == "" || s.cfg.Sender == nil:
			finish(i, "")
		case d == nil || d.User != it.User:
			finish(i, "device_gone")
		case expired:
			finish(i, "expired")
		case o.perDev[d.ID] >= s.cfg.HourlyCap:
			finish(i, "capped")
		default:
			m := Message{Token: d.Token, Platform: d.Platform, Warning: w}
			if t, ok := b.Texts[it.Text]; ok {
				m.Warning.Title, m.Warning.Body = t.Title, t.Body
			}
			msgs = append(msgs, m)
			idx = append(idx, i)
		}
	}
	s.mu.Unlock()
	if len(msgs) > 0 {
		// No send may outlive the warning: the SDK's own retries of 503s
		// stop at its expiry too.
		sctx, cancel := context.WithDeadline(ctx, exp)
		results := s.cfg.Sender.SendEach(sctx, msgs)
		cancel()
		if ctx.Err() != nil {
			return false // shutting down: what was not marked is sent again
		}
		for j, r := range results {
			i := idx[j]
			switch {
			case r.Err == nil:
				s.m.sent.WithLabelValues(string(w.kind())).Inc()
				if i >= 0 {
					done = append(done, i)
					o.mu.Lock()
					o.perDev[b.Items[i].Device]++
					o.mu.Unlock()
				}
			case Permanent(r.Err):
				s.m.failed.WithLabelValues("unregistered").Inc()
				if i >= 0 {
					done = append(done, i)
					dead = append(dead, b.Items[i].Device)
				}
			case errors.Is(r.Err, ErrExpired) || errors.Is(r.Err, context.DeadlineExceeded):
				finish(max(i, 0), "expired")
			case Retryable(r.Err):
				s.m.retried.Inc()
				retry = append(retry, i)
				wait = max(wait, RetryAfter(r.Err))
			default:
				s.m.failed.WithLabelValues("rejected").Inc()
				s.log.Warn("push: message rejected", "kind", w.kind(), "batch", b.ID, "err", r.Err)
				if i >= 0 {
					done = append(done, i)
				}
			}
		}
	}
	s.pruneDevices(ctx, dead)
	if b.Topic != "" {
		if len(retry) == 0 {
			o.complete(p, nil, true)
			return true
		}
		done = nil
	}
	o.mu.Lock()
	for _, i := range done {
		if i >= 0 && !p.done[i] {
			p.done[i] = true
			p.left--
		}
	}
	if len(retry) > 0 {
		p.attempt++
		back := min(backoffBase<<min(p.attempt-1, 20), backoffMax)
		back = time.Duration(float64(back) * (0.5 + rand.Float64()))
		p.next = now.Add(max(back, wait))
		if !p.next.Before(exp) {
			// It would arrive late: drop it rather than warn after the
			// call ended.
			for i := range p.done {
				if !p.done[i] {
					p.done[i] = true
					p.left--
					done = append(done, i)
					s.m.failed.WithLabelValues("expired").Inc()
				}
			}
		}
	}
	final := p.left == 0 && (b.Topic == "" || len(retry) == 0)
	p.final = final
	o.mu.Unlock()
	o.mark(Mark{ID: b.ID + "|" + strconv.FormatInt(now.UnixNano(), 36) + strconv.Itoa(rand.IntN(1000)), Batch: b.ID, At: now, Done: done, Final: final})
	return true
}

// complete marks a topic batch done.
func (o *outbox) complete(p *pending, done []int, final bool) {
	o.mu.Lock()
	p.final = final
	o.mu.Unlock()
	o.mark(Mark{ID: p.b.ID + "|final", Batch: p.b.ID, At: o.s.cfg.Now(), Done: done, Final: final})
}

func (o *outbox) mark(m Mark) {
	select {
	case o.marks <- m:
	default:
		// The writer is far behind storage; the batch will be sent again
		// after a restart, which at-least-once allows.
		o.s.log.Warn("push: outbox marks queue full; dropping a progress mark", "batch", m.Batch)
	}
}

// writeMarks stores marks in batches, off the sending path.
func (o *outbox) writeMarks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-o.marks:
			ms := []Mark{m}
		more:
			for len(ms) < 500 {
				select {
				case m := <-o.marks:
					ms = append(ms, m)
				default:
					break more
				}
			}
			// A shutdown must not cancel marks already taken from the
			// queue: their batches would be sent again after a restart.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := o.s.st.PutMarks(wctx, ms); err != nil {
				o.s.log.Warn("push: storing outbox marks", "err", err)
			}
			cancel()
		}
	}
}

// flushMarks stores the marks still queued, at shutdown.
func (o *outbox) flushMarks(ctx context.Context) {
	var ms []Mark
	for {
		select {
		case m := <-o.marks:
			ms = append(ms, m)
			continue
		default:
		}
		break
	}
	if err := o.s.st.PutMarks(ctx, ms); err != nil {
		o.s.log.Error("push: storing outbox marks at shutdown", "err", err)
	}
}

// storeInbox stores the notifications of batches that are sent, or that
// waited long enough: the inbox is history, and inserting it must not slow
// a fan-out down.
func (o *outbox) storeInbox(ctx context.Context) {
	s := o.s
	now := s.cfg.Now()
	busy := o.next(now) != nil
	o.mu.Lock()
	var todo []*pending
	for _, p := range o.batches {
		if !p.inboxed && (!busy || now.Sub(p.queued) >= inboxDelay) {
			todo = append(todo, p)
		}
	}
	o.mu.Unlock()
	slices.SortFunc(todo, func(a, b *pending) int { return a.b.Created.Compare(b.b.Created) })
	for _, p := range todo {
		var notes []Notification
		seen := map[string]bool{}
		s.mu.Lock()
		for _, it := range p.b.Items {
			n := p.b.notification(it, s.cfg.InboxFor)
			// Only what the inbox still holds: an erased user's are gone.
			if it.User != "" && !seen[n.ID] && slices.ContainsFunc(s.inbox[it.User], func(x Notification) bool { return x.ID == n.ID }) {
				seen[n.ID] = true
				notes = append(notes, n)
			}
		}
		s.mu.Unlock()
		if err := s.st.PutInbox(ctx, notes); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("push: storing the inbox", "err", err)
			}
			return
		}
		if err := s.st.PutMarks(ctx, []Mark{{ID: p.b.ID + "|inbox", Batch: p.b.ID, At: now, Inboxed: true}}); err != nil {
			return
		}
		o.mu.Lock()
		p.inboxed = true
		if p.final {
			delete(o.batches, p.b.ID)
		}
		o.mu.Unlock()
	}
	o.mu.Lock()
	for id, p := range o.batches {
		if p.final && p.inboxed {
			delete(o.batches, id)
		}
	}
	o.mu.Unlock()
}

// trim forgets batches recorded before before.
func (o *outbox) trim(before time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, p := range o.batches {
		if p.b.Created.Before(before) {
			delete(o.batches, id)
		}
	}
}

// depth returns the messages waiting and the age of the oldest batch.
func (o *outbox) depth(now time.Time) (n int, oldest time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range o.batches {
		if p.final {
			continue
		}
		n += max(p.left, 1)
		oldest = max(oldest, now.Sub(p.b.Created))
	}
	return n, oldest
}

// OutboxBusy reports whether anything is waiting to be sent or stored.
func (s *Service) OutboxBusy() bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return len(s.out.batches) > 0
}
