package push

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Record says that User looked up (or reported) the number Key at At,
// when its verdict was Seen. Only users who opted in to retroactive
// warnings are recorded, and only for RecordFor.
type Record struct {
	User     string
	Key      string
	Seen     string
	Reported bool
	At       time.Time
}

// severity orders verdicts by how strongly they warn.
func severity(v string) int {
	switch reputation.Verdict(v) {
	case reputation.VerdictFraud:
		return 2
	case reputation.VerdictSpam:
		return 1
	}
	return 0
}

var _ labels.LoadObserver = (*Service)(nil)

// LabelLoaded ignores labels loaded from the snapshot at start: they
// changed no verdict now.
func (s *Service) LabelLoaded(*labels.Label) {}

// LabelChanged notes the number for the watcher, and records a report as
// a lookup of its reporter. It runs under the labels write lock, so it
// only appends.
func (s *Service) LabelChanged(old, cur *labels.Label) {
	s.bufMu.Lock()
	defer s.bufMu.Unlock()
	if old != nil {
		s.changed[old.Key] = struct{}{}
	}
	if cur != nil {
		s.changed[cur.Key] = struct{}{}
		if cur.Source == labels.SourceApp && cur.Category != "safe" && len(s.buf) < maxBuffered {
			s.buf = append(s.buf, Record{User: cur.Reporter, Key: cur.Key, Reported: true, At: cur.CreatedAt})
		}
	}
}

// RecordLookup notes that user looked up n and saw r. It never waits: the
// record goes into a bounded buffer that Flush applies a moment later.
func (s *Service) RecordLookup(user string, n labels.Number, r reputation.Result) {
	s.bufMu.Lock()
	defer s.bufMu.Unlock()
	if len(s.buf) >= maxBuffered {
		s.m.dropped.Inc()
		return
	}
	s.buf = append(s.buf, Record{User: user, Key: n.Key, Seen: string(r.Verdict), At: s.cfg.Now()})
}

// Flush applies what was recorded and evaluates the numbers whose labels
// changed since the last flush: retroactive warnings, guardian alerts and
// fraud waves go to the outbox as they are built.
func (s *Service) Flush(ctx context.Context) error {
	s.bufMu.Lock()
	recs, changed := s.buf, s.changed
	s.buf, s.changed = nil, map[string]struct{}{}
	// Batches built by a flush that failed later are enqueued first: the
	// verdicts that made them are already remembered, so evaluating their
	// numbers again would build nothing.
	q := &enqueuer{s: s, ctx: ctx}
	unqueued := s.unqueued
	s.unqueued = nil
	s.bufMu.Unlock()
	q.add(unqueued...)
	fail := func(err error) error {
		s.bufMu.Lock()
		s.unqueued = append(q.all, s.unqueued...)
		s.bufMu.Unlock()
		return err
	}
	if len(recs) > 0 {
		bs, err := s.applyRecords(ctx, recs)
		if err != nil {
			s.bufMu.Lock()
			s.buf = append(recs, s.buf...)
			for k := range changed {
				s.changed[k] = struct{}{}
			}
			s.bufMu.Unlock()
			return fail(err)
		}
		q.add(bs...)
	}
	keys := slices.Sorted(maps.Keys(changed))
	for i, key := range keys {
		if err := s.evaluate(ctx, key, q.add); err != nil {
			s.bufMu.Lock()
			for _, k := range keys[i:] {
				s.changed[k] = struct{}{}
			}
			s.bufMu.Unlock()
			return fail(err)
		}
	}
	if err := q.finish(); err != nil {
		return fail(err)
	}
	return nil
}

// applyRecords keeps the records of opted-in users, stores the new ones
// and returns the guardian alerts they call for.
func (s *Service) applyRecords(ctx context.Context, recs []Record) ([]*Batch, error) {
	var (
		keep    []Record
		alerts  []Record
		cutoff  = s.cfg.Now().Add(-s.cfg.RecordFor)
		persist []Record
	)
	s.mu.Lock()
	for _, r := range recs {
		if r.Seen == string(reputation.VerdictFraud) && !r.Reported && s.hasGuardiansLocked(r.User) {
			alerts = append(alerts, r)
		}
		if r.At.Before(cutoff) || !s.optedLocked(r.User, func(o OptIns) bool { return o.Retro }) {
			continue
		}
		keep = append(keep, r)
	}
	for _, r := range keep {
		if s.addRecordLocked(r) {
			persist = append(persist, r)
		} else if _, ok := s.records[r.Key][r.User]; !ok {
			s.m.dropped.Inc()
		}
	}
	// Records merged into memory by an attempt whose write failed are
	// written with this one: memory alone would not know they are missing.
	persist = append(s.unsaved, persist...)
	s.unsaved = nil
	s.mu.Unlock()
	if err := s.st.PutRecords(ctx, persist); err != nil {
		s.mu.Lock()
		s.unsaved = append(persist, s.unsaved...)
		s.mu.Unlock()
		return nil, err
	}
	var out []*Batch
	for _, r := range alerts {
		bs, err := s.guardianAlert(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

// addRecordLocked merges r into the records and reports whether storage
// needs it: a new number for the user, or a worse verdict seen.
func (s *Service) addRecordLocked(r Record) bool {
	users := s.records[r.Key]
	old, ok := users[r.User]
	if ok {
		if severity(r.Seen) <= severity(old.Seen) {
			return false
		}
		old.Seen = r.Seen
		users[r.User] = old
		return true
	}
	if s.perUser[r.User] >= s.cfg.RecordMax {
		return false
	}
	if users == nil {
		users = map[string]Record{}
		s.records[r.Key] = users
	}
	users[r.User] = r
	s.perUser[r.User]++
	return true
}

// optedLocked reports whether any device of user opted in by f.
func (s *Service) optedLocked(user string, f func(OptIns) bool) bool {
	for _, id := range s.byUser[user] {
		if f(s.devices[id].OptIns) {
			return true
		}
	}
	return false
}

// handledLocked reports whether the trigger id was handled within the
// dedupe window; s.mu is held.
func (s *Service) handledLocked(id string) bool {
	_, ok := s.once[id]
	return ok
}

func (s *Service) hasGuardiansLocked(user string) bool { return len(s.guardiansOf[user]) > 0 }

// evaluate looks at key's verdict now and hands the warnings a rise to
// spam or fraud calls for to emit, as they are built.
func (s *Service) evaluate(ctx context.Context, key string, emit func(...*Batch)) error {
	// The key alone: the display forms, more than half of Normalize's time, are
	// made only for the warnings sent (displayNumber).
	num, err := labels.NormalizeKey(key, "", s.cfg.Region)
	if err != nil {
		return nil // a stored key that no longer parses warns nobody
	}
	res, err := s.cfg.Reputation.Reputation(ctx, num)
	if err != nil {
		return err
	}
	v := string(res.Verdict)
	s.mu.Lock()
	prev := s.verdicts[key]
	if severity(v) == 0 {
		delete(s.verdicts, key)
	} else {
		s.verdicts[key] = res.Verdict
	}
	s.mu.Unlock()
	if severity(v) == 0 || string(prev) == v {
		return nil
	}
	s.retro(num, res, emit)
	if res.Verdict == reputation.VerdictFraud {
		emit(s.wave(num, res)...)
	}
	return nil
}

// retro builds the retroactive warnings of num's new verdict: one to each
// recorded user who saw it less flagged, unless their own label says safe.
// Each batch goes to emit once full, with s.mu released: the first of a
// fan-out to 100,000 devices is recorded and sent while the rest is built
// (building all of it first took 250–300 ms).
func (s *Service) retro(num labels.Number, res reputation.Result, emit func(...*Batch)) {
	v := string(res.Verdict)
	trig := "retro|" + num.Key + "|" + v
	now := s.cfg.Now()
	w := Warning{Kind: KindRetroWarning, Number: num.Key, Verdict: v, Category: res.TopCategory, Score: res.Score,
		Reporters: res.Reporters, IssuedAt: now, TTL: s.cfg.RetroTTL}
	sp := &splitter{trig: trig, now: now, w: w, texts: map[string]Text{}}
	s.mu.Lock()
	if s.handledLocked(trig) {
		s.mu.Unlock()
		return
	}
	users := slices.Sorted(maps.Keys(s.records[num.Key]))
	var full []*Batch
	for _, u := range users {
		// Records may go (an erasure) while emit runs unlocked.
		r, ok := s.records[num.Key][u]
		if !ok || severity(r.Seen) >= severity(v) {
			continue
		}
		if l, ok := s.cfg.Labels.LabelOf(u, num.Key); ok && l.Category == "safe" {
			continue
		}
		it := Item{User: u, Since: r.At}
		if r.Reported {
			it.Data = map[string]string{"how": "reported"}
		}
		n := Notification{Kind: KindRetroWarning, Number: num.Key, Verdict: v, Reporters: res.Reporters, Since: r.At, Data: it.Data}
		sent := false
		for _, id := range s.byUser[u] {
			d := s.devices[id]
			if !d.OptIns.Retro {
				continue
			}
			it := it
			it.Device = d.ID
			it.Text = d.Locale + "|" + r.At.UTC().Format("20060102") + "|" + it.Data["how"]
			if _, ok := sp.texts[it.Text]; !ok {
				t, b := n.Text(d.Locale)
				sp.texts[it.Text] = Text{Title: t, Body: b}
			}
			full = sp.add(full, it)
			sent = true
		}
		if !sent {
			full = sp.add(full, it)
		}
		if len(full) > 0 {
			s.mu.Unlock()
			emit(full...)
			full = full[:0]
			s.mu.Lock()
		}
	}
	s.mu.Unlock()
	emit(sp.close()...)
}

// splitter cuts items into batches of at most maxBatch as they come. A
// trigger without recipients still gets one empty batch, which records
// that it was handled.
type splitter struct {
	trig  string
	now   time.Time
	w     Warning
	texts map[string]Text // by text key, for every batch
	items []Item
	n     int // batches cut
}

// add adds it and appends to full the batch it completes, if any.
func (sp *splitter) add(full []*Batch, it Item) []*Batch {
	sp.items = append(sp.items, it)
	if len(sp.items) < maxBatch {
		return full
	}
	return append(full, sp.cut())
}

// close returns the last batch, if any.
func (sp *splitter) close() []*Batch {
	if len(sp.items) == 0 && sp.n > 0 {
		return nil
	}
	return []*Batch{sp.cut()}
}

func (sp *splitter) cut() *Batch {
	b := &Batch{ID: sp.trig + "|" + strconv.Itoa(sp.n), Trigger: sp.trig, Created: sp.now, Warning: sp.w, Items: sp.items, Texts: map[string]Text{}}
	for _, it := range sp.items {
		if it.Text != "" {
			b.Texts[it.Text] = sp.texts[it.Text]
		}
	}
	sp.items, sp.n = nil, sp.n+1
	return b
}

// split cuts items into batches of at most maxBatch (see splitter).
func split(trig string, now time.Time, w Warning, texts map[string]Text, items []Item) []*Batch {
	sp := &splitter{trig: trig, now: now, w: w, texts: texts}
	var out []*Batch
	for _, it := range items {
		out = sp.add(out, it)
	}
	return append(out, sp.close()...)
}

// guardianAlert builds the alert to the guardians of r.User, whose lookup
// hit a fraud number: at most one per protected user and number per
// GuardianGap.
func (s *Service) guardianAlert(ctx context.Context, r Record) ([]*Batch, error) {
	num, err := labels.NormalizeKey(r.Key, "", s.cfg.Region)
	if err != nil {
		return nil, nil
	}
	res, err := s.cfg.Reputation.Reputation(ctx, num)
	if err != nil {
		return nil, err
	}
	trig := "ga|" + r.User + "|" + r.Key + "|" + strconv.FormatInt(r.At.Truncate(s.cfg.GuardianGap).Unix(), 10)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := r.User + "|" + r.Key
	if last, ok := s.lastAlrt[k]; (ok && r.At.Sub(last) < s.cfg.GuardianGap) || s.handledLocked(trig) {
		return nil, nil
	}
	s.lastAlrt[k] = r.At
	var items []Item
	texts := map[string]Text{}
	for _, id := range s.guardiansOf[r.User] {
		l := s.links[id]
		it := Item{User: l.Guardian, Data: map[string]string{"name": l.Name}}
		n := Notification{Kind: KindGuardianAlert, Number: r.Key, Verdict: string(res.Verdict), Reporters: res.Reporters, Data: it.Data}
		sent := false
		for _, id := range s.byUser[l.Guardian] {
			d := s.devices[id]
			if !d.OptIns.Guardian {
				continue
			}
			it := it
			it.Device, it.Text = d.ID, d.Locale+"|"+l.ID
			t, b := n.Text(d.Locale)
			texts[it.Text] = Text{Title: t, Body: b}
			items = append(items, it)
			sent = true
		}
		if !sent {
			items = append(items, it)
		}
	}
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.User+a.Device, b.User+b.Device) })
	w := Warning{Kind: KindGuardianAlert, Number: r.Key, Verdict: string(res.Verdict), Category: res.TopCategory,
		Score: res.Score, Reporters: res.Reporters, IssuedAt: r.At, TTL: DefaultTTL}
	return split(trig, s.cfg.Now(), w, texts, items), nil
}

// waveTTL is how long a wave message is worth delivering.
const waveTTL = 6 * time.Hour

// wave counts a new fraud number in its area and, when the area reaches
// WaveMin within WaveWindow, returns one message per locale to the area's
// topics.
func (s *Service) wave(num labels.Number, res reputation.Result) []*Batch {
	if num.E164 == "" {
		return nil
	}
	a, ok := AreaOf(num.E164)
	if !ok {
		return nil
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waves[a.ID]
	if w == nil || now.Sub(w.start) > s.cfg.WaveWindow {
		w = &wave{area: a, start: now, keys: map[string]string{}}
		s.waves[a.ID] = w
	}
	w.keys[num.Key] = res.TopCategory
	if len(w.keys) < s.cfg.WaveMin || w.sent {
		return nil
	}
	w.sent = true
	counts := map[string]int{}
	for _, c := range w.keys {
		counts[c]++
	}
	top := ""
	for _, c := range slices.Sorted(maps.Keys(counts)) {
		if top == "" || counts[c] > counts[top] {
			top = c
		}
	}
	trig := "wave|" + a.ID + "|" + strconv.FormatInt(w.start.Unix(), 10)
	if s.handledLocked(trig) {
		return nil
	}
	var out []*Batch
	for _, loc := range locales {
		vars := map[string]string{"area": a.Names[loc], "count": strconv.Itoa(len(w.keys)), "category": categoryIn(loc, top)}
		msg := Warning{Kind: KindFraudWave, IssuedAt: now, TTL: waveTTL, Category: top, Collapse: "wave:" + a.ID,
			Title: text(loc, "wave_title", vars), Body: text(loc, "wave_body", vars),
			Data: map[string]string{"area": a.ID, "count": strconv.Itoa(len(w.keys))}}
		out = append(out, &Batch{ID: trig + "|" + loc, Trigger: trig, Created: now, Warning: msg, Topic: AreaTopic(a.ID, loc)})
	}
	return out
}

// FilterVersion is the version of a published filter snapshot.
type FilterVersion struct {
	Name    string
	Version uint64
}

// filterTTL is how long a filter refresh is worth delivering: a phone that
// was offline longer polls anyway.
const filterTTL = time.Hour

// FiltersPublished sends one data message per filter whose version is new
// to its topic, normal priority, collapsed per filter so that only the
// newest wakes a phone.
func (s *Service) FiltersPublished(ctx context.Context, fs []FilterVersion) error {
	now := s.cfg.Now()
	var out []*Batch
	s.mu.Lock()
	for _, f := range fs {
		if s.filters[f.Name] >= f.Version {
			continue
		}
		s.filters[f.Name] = f.Version
		v := strconv.FormatUint(f.Version, 10)
		trig := "filter|" + f.Name + "|" + v
		w := Warning{Kind: KindFilterRefresh, IssuedAt: now, TTL: filterTTL, Collapse: "filters:" + f.Name,
			Data: map[string]string{"filter": f.Name, "version": v}}
		out = append(out, &Batch{ID: trig, Trigger: trig, Created: now, Warning: w, Topic: FilterTopic(f.Name)})
	}
	s.mu.Unlock()
	return s.enqueue(ctx, out)
}

// enqueueChunk is how many batches enqueue records in one insert after
// the first: 10,000 recipients.
const enqueueChunk = 20

// enqueue records batches in the outbox, keeps their notifications in the
// inbox and hands them to the sender. A batch recorded before (by another
// replica, or before a restart) is skipped.
func (s *Service) enqueue(ctx context.Context, bs []*Batch) error {
	q := &enqueuer{s: s, ctx: ctx}
	q.add(bs...)
	return q.finish()
}

// enqueuer records batches as they are built. The first is recorded alone
// and handed to the sender at once, the rest enqueueChunk at a time while
// it sends: a fan-out's first messages leave while its later batches are
// being built and inserted, and every batch is still recorded before it is
// sent. After a failure it only collects: the caller keeps all for the
// next attempt, which skips what was recorded.
type enqueuer struct {
	s      *Service
	ctx    context.Context
	all    []*Batch
	stored int // all[:stored] are recorded
	err    error
}

func (q *enqueuer) add(bs ...*Batch) {
	q.all = append(q.all, bs...)
	for q.err == nil {
		n := enqueueChunk
		if q.stored == 0 {
			n = 1
		}
		if len(q.all)-q.stored < n {
			return
		}
		q.record(n)
	}
}

// record records the next n batches.
func (q *enqueuer) record(n int) {
	chunk := q.all[q.stored : q.stored+n]
	dup, err := q.s.st.PutBatches(q.ctx, chunk)
	if err != nil {
		q.err = err
		return
	}
	var fresh []*Batch
	for i, b := range chunk {
		if !dup[i] {
			fresh = append(fresh, b)
		}
	}
	q.s.out.add(fresh)
	q.stored += n
}

// finish records what is left and marks the triggers of every batch
// handled.
func (q *enqueuer) finish() error {
	if q.err == nil && q.stored < len(q.all) {
		q.record(len(q.all) - q.stored)
	}
	if q.err != nil || len(q.all) == 0 {
		return q.err
	}
	trigs := map[string]bool{}
	for _, b := range q.all {
		trigs[b.Trigger] = true
	}
	ids := slices.Sorted(maps.Keys(trigs))
	at := q.s.cfg.Now()
	if _, err := q.s.st.Once(q.ctx, ids, at); err != nil {
		return err
	}
	q.s.mu.Lock()
	for _, id := range ids {
		q.s.once[id] = at
	}
	q.s.mu.Unlock()
	return nil
}

// EraseResult counts what EraseUser removed.
type EraseResult struct {
	Devices, Notifications, Records, GuardianLinks int
}

// EraseUser removes everything push keeps about user: devices, inbox,
// lookup records, guardian links on either side and open invites.
// Outbox batches still name the user until they are trimmed, but nothing
// more is sent to the erased devices.
func (s *Service) EraseUser(ctx context.Context, user string) (EraseResult, error) {
	var (
		res                      EraseResult
		devs, notes, links, invs []string
	)
	s.bufMu.Lock()
	s.buf = slices.DeleteFunc(s.buf, func(r Record) bool { return r.User == user })
	s.bufMu.Unlock()
	s.mu.Lock()
	devs = slices.Clone(s.byUser[user])
	for _, id := range devs {
		s.removeDeviceLocked(id)
	}
	for _, n := range s.inbox[user] {
		notes = append(notes, n.ID)
	}
	delete(s.inbox, user)
	for key, users := range s.records {
		if _, ok := users[user]; ok {
			delete(users, user)
			res.Records++
			if len(users) == 0 {
				delete(s.records, key)
			}
		}
	}
	delete(s.perUser, user)
	links = append(slices.Clone(s.guardiansOf[user]), s.protecting[user]...)
	for _, id := range links {
		s.removeLinkLocked(id)
	}
	invs = slices.Clone(s.invitesOf[user])
	for _, h := range invs {
		s.removeInviteLocked(h)
	}
	for k := range s.lastAlrt {
		if strings.HasPrefix(k, user+"|") {
			delete(s.lastAlrt, k)
		}
	}
	s.mu.Unlock()
	res.Devices, res.Notifications, res.GuardianLinks = len(devs), len(notes), len(links)
	if _, err := s.st.DeleteDevices(ctx, devs); err != nil {
		return res, err
	}
	if _, err := s.st.DeleteInbox(ctx, notes); err != nil {
		return res, err
	}
	if _, err := s.st.DeleteUserRecords(ctx, user); err != nil {
		return res, err
	}
	if _, err := s.st.DeleteLinks(ctx, links); err != nil {
		return res, err
	}
	return res, s.st.DeleteInvites(ctx, invs, s.cfg.Now())
}

// takeHandoffs applies the lookup records that lookup replicas handed
// on.
func (s *Service) takeHandoffs(ctx context.Context) error {
	ids, recs, err := s.st.TakeHandoffs(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	s.bufMu.Lock()
	s.buf = append(s.buf, recs...)
	s.bufMu.Unlock()
	return s.st.DeleteHandoffs(ctx, ids)
}

// Notice is a message about a moderation case to one user: the outcome
// of their dispute, or that their number was flagged.
type Notice struct {
	// ID identifies what is told (the case, and its outcome): telling a
	// user the same ID twice sends once.
	ID   string
	User string
	// Kind is KindDisputeOutcome or KindNumberFlagged.
	Kind    Kind
	Number  string
	Verdict string
	// Outcome is the decision's outcome, for KindDisputeOutcome.
	Outcome string
}

// noticeTTL is how long a moderation notice is worth delivering: it is
// about a case that takes days, and the inbox keeps it anyway.
const noticeTTL = 72 * time.Hour

// Tell sends n to every device of its user, whatever the devices opted in
// to (it is about the user's own case or number), and keeps it in the
// inbox; a user without a device finds it in the inbox only.
func (s *Service) Tell(ctx context.Context, n Notice) error {
	if n.Kind != KindDisputeOutcome && n.Kind != KindNumberFlagged {
		return fmt.Errorf("push: %w: kind %q is not a moderation notice", ErrInvalid, n.Kind)
	}
	if n.Verdict == "" {
		n.Verdict = string(reputation.VerdictUnknown)
	}
	trig := string(n.Kind) + "|" + n.User + "|" + n.ID
	now := s.cfg.Now()
	it := Item{User: n.User}
	if n.Outcome != "" {
		it.Data = map[string]string{"outcome": n.Outcome}
	}
	note := Notification{Kind: n.Kind, Number: n.Number, Verdict: n.Verdict, Data: it.Data}
	texts := map[string]Text{}
	var items []Item
	s.mu.Lock()
	if s.handledLocked(trig) {
		s.mu.Unlock()
		return nil
	}
	for _, id := range s.byUser[n.User] {
		d := s.devices[id]
		it := it
		it.Device, it.Text = d.ID, d.Locale
		t, b := note.Text(d.Locale)
		texts[it.Text] = Text{Title: t, Body: b}
		items = append(items, it)
	}
	s.mu.Unlock()
	if len(items) == 0 {
		items = append(items, it)
	}
	w := Warning{Kind: n.Kind, Number: n.Number, Verdict: n.Verdict, IssuedAt: now, TTL: noticeTTL, Data: it.Data}
	return s.enqueue(ctx, split(trig, now, w, texts, items))
}
