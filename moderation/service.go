package moderation

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Limits on dispute and decision fields.
const (
	MaxReasonRunes   = 2000
	MaxContactRunes  = 200
	MaxIdentityRunes = 200
	MaxNoteRunes     = 2000
	MaxEvidenceLinks = 10
	MaxLinkLength    = 500
	MaxNameRunes     = 100
)

// DecisionReporter is the reporter id under which decisions are stored as
// moderator labels: one identity, so that a number's latest decision
// replaces the earlier one in the evidence (the audit log names the
// moderator).
const DecisionReporter = "moderation"

// Config configures a Service.
type Config struct {
	Store       *Store
	Labels      Labels
	Reputations Reputations
	// Contested finds numbers with evidence on both sides; nil opens no
	// such cases.
	Contested Contested
	// Notifier tells filers and owners; nil tells nobody.
	Notifier Notifier
	// Verifiers prove ownership by other means than a phone sign-in.
	Verifiers []OwnershipVerifier
	// Deadline is how long a case may stay unresolved; 72 hours if zero.
	Deadline time.Duration
	// MaxOpenPerFiler bounds the open disputes of one filer; 5 if zero.
	MaxOpenPerFiler int
	// MaxOpenPerScan bounds the automatic cases one scan opens, so that a
	// wave (a filter rebuild finding many contested numbers) fills the
	// queue over several scans instead of at once; 50 if zero.
	MaxOpenPerScan int
	// Rearm is how long after an automatic case of a kind another of that
	// kind may open on the same number for the same condition; 7 days if
	// zero. A brigading flag that fires again after a case opened opens
	// another at once.
	Rearm time.Duration
	// Now is the clock; time.Now if nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is moderation. Cases and the audit log are small, so they are
// kept in memory, loaded at start, with the store as the durable copy.
// It is safe for concurrent use; changes are serialised.
type Service struct {
	cfg Config
	log *slog.Logger

	write sync.Mutex // one change at a time, store write included

	mu    sync.RWMutex
	cases map[string]*Case // by id; values are replaced, never modified
	audit []AuditEntry     // oldest first
}

// Open loads the cases and the audit log, frees locks no open case holds
// (left by a crash between two writes), and applies every number's
// decisions and open cases to the reputation engine.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Labels == nil || cfg.Reputations == nil {
		return nil, fmt.Errorf("moderation: config needs a store, labels and reputations")
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = 72 * time.Hour
	}
	if cfg.MaxOpenPerFiler <= 0 {
		cfg.MaxOpenPerFiler = 5
	}
	if cfg.MaxOpenPerScan <= 0 {
		cfg.MaxOpenPerScan = 50
	}
	if cfg.Rearm <= 0 {
		cfg.Rearm = 7 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "moderation"), cases: map[string]*Case{}}
	cs, err := cfg.Store.Cases(ctx)
	if err != nil {
		return nil, err
	}
	numbers := map[string]bool{}
	for _, c := range cs {
		s.cases[c.ID] = c
		numbers[c.Number] = true
	}
	if s.audit, err = cfg.Store.Audit(ctx); err != nil {
		return nil, err
	}
	slices.SortStableFunc(s.audit, func(a, b AuditEntry) int { return a.At.Compare(b.At) })
	locks, err := cfg.Store.Locks(ctx)
	if err != nil {
		return nil, err
	}
	for id, caseID := range locks {
		if c := s.cases[caseID]; c == nil || c.Status == StatusResolved {
			if err := cfg.Store.Unlock(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	for key := range numbers {
		s.applyOverride(key)
		if err := s.relabel(ctx, key); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// relabel stores the label of key's latest decision, in case a crash or a
// storage failure came between the decision and its label.
func (s *Service) relabel(ctx context.Context, key string) error {
	s.mu.RLock()
	last, _ := s.stateLocked(key)
	s.mu.RUnlock()
	if last == nil {
		return nil
	}
	d := last.Decision
	if l, ok := s.cfg.Labels.LabelOf(DecisionReporter, key); ok && l.Category == d.Category && !l.CreatedAt.Before(d.At) {
		return nil // stored; the usual case costs no write
	}
	return s.storeLabel(ctx, last)
}

// Run opens automatic cases every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	labels.Every(ctx, every, func(ctx context.Context) {
		if _, err := s.Scan(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("moderation scan failed, will retry", "err", err)
		}
	})
}

// lockID is the lock of one open case per number and filer; automatic
// cases share one per number.
func lockID(number, filer string) string {
	if filer == "" {
		filer = SystemActor
	}
	return number + "|" + filer
}

func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// File opens a dispute. Bad input is refused before anything is stored;
// a filer has one open case per number, and at most MaxOpenPerFiler.
func (s *Service) File(ctx context.Context, f Filer, in DisputeInput) (Case, error) {
	if f.ID == "" {
		return Case{}, labels.Errorf(labels.EUnauthorized, "sign in to file a dispute")
	}
	n, err := s.cfg.Labels.Normalize(in.Number, in.Region)
	if err != nil {
		return Case{}, err
	}
	if err := CheckDispute(in); err != nil {
		return Case{}, err
	}
	proven, err := s.proven(ctx, f, n)
	if err != nil {
		return Case{}, err
	}
	now := s.cfg.Now().UTC()
	c := &Case{
		ID: newID("c-"), Kind: KindDispute, Number: n.Key, Filer: f.ID, OwnerProven: proven,
		Reason: in.Reason, Contact: in.Contact, Identity: in.Identity, Evidence: slices.Clone(in.Evidence),
		Status: StatusOpen, Created: now, Updated: now, Deadline: now.Add(s.cfg.Deadline), Version: 1,
	}
	s.write.Lock()
	open := 0
	s.mu.RLock()
	for _, o := range s.cases {
		if o.Filer == f.ID && o.Status != StatusResolved {
			open++
		}
	}
	s.mu.RUnlock()
	if open >= s.cfg.MaxOpenPerFiler {
		s.write.Unlock()
		return Case{}, labels.Errorf(labels.EQuotaExceeded, "you have %d open disputes; wait for a decision", open)
	}
	err = s.insertLocked(ctx, c, f.ID, ActionFile)
	s.write.Unlock()
	if err != nil {
		return Case{}, err
	}
	s.tellOwners(ctx, c)
	return *c, nil
}

// insertLocked takes the case's lock, stores it, logs it and applies it;
// s.write is held.
func (s *Service) insertLocked(ctx context.Context, c *Case, actor, action string) error {
	lock := lockID(c.Number, c.Filer)
	ok, err := s.cfg.Store.Lock(ctx, lock, c.ID)
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		return labels.Errorf(labels.EConflict, "an open case about %s exists already", c.Number)
	}
	if err := s.cfg.Store.InsertCase(ctx, c); err != nil {
		_ = s.cfg.Store.Unlock(ctx, lock)
		return unavailable(err)
	}
	s.mu.Lock()
	s.cases[c.ID] = c
	s.mu.Unlock()
	before := s.snapshot(nil)
	s.applyOverride(c.Number)
	return s.auditLocked(ctx, actor, action, c, &before)
}

// CheckDispute checks in's fields other than the number, as File does,
// so that callers can refuse bad input before charging a rate limit.
func CheckDispute(in DisputeInput) error {
	reason := strings.TrimSpace(in.Reason)
	if reason == "" {
		return labels.Errorf(labels.EInvalid, "reason is required")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"reason", in.Reason, MaxReasonRunes}, {"contact", in.Contact, MaxContactRunes}, {"identity", in.Identity, MaxIdentityRunes}} {
		if !utf8.ValidString(f.v) {
			return labels.Errorf(labels.EInvalid, "%s is not valid UTF-8", f.name)
		}
		if n := utf8.RuneCountInString(f.v); n > f.max {
			return labels.Errorf(labels.EInvalid, "%s has %d characters; at most %d are allowed", f.name, n, f.max)
		}
	}
	if len(in.Evidence) > MaxEvidenceLinks {
		return labels.Errorf(labels.EInvalid, "evidence lists %d links; at most %d are allowed", len(in.Evidence), MaxEvidenceLinks)
	}
	for _, l := range in.Evidence {
		u, err := url.Parse(l)
		if err != nil || len(l) > MaxLinkLength || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return labels.Errorf(labels.EInvalid, "evidence links must be http or https URLs of at most %d bytes", MaxLinkLength)
		}
	}
	return nil
}

// proven reports whether f controls n: their phone sign-in proved the
// number, or a verifier says so.
func (s *Service) proven(ctx context.Context, f Filer, n labels.Number) (bool, error) {
	if f.Phone != "" {
		if p, err := s.cfg.Labels.Normalize(f.Phone, ""); err == nil && p.Key == n.Key {
			return true, nil
		}
	}
	for _, v := range s.cfg.Verifiers {
		ok, err := v.Proven(ctx, f, n)
		if err != nil {
			return false, unavailable(err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Dispute returns the filer's case with id; another filer's case, like a case
// that does not exist, is ENotFound.
func (s *Service) Dispute(_ context.Context, filer, id string) (Case, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.cases[id]
	if c == nil || c.Filer == "" || c.Filer != filer {
		return Case{}, labels.Errorf(labels.ENotFound, "no dispute %s of yours", id)
	}
	return *c, nil
}

// Disputes returns the filer's cases, newest first.
func (s *Service) Disputes(_ context.Context, filer string) []Case {
	s.mu.RLock()
	var out []Case
	for _, c := range s.cases {
		if c.Filer == filer {
			out = append(out, *c)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Case) int { return cmp.Or(b.Created.Compare(a.Created), strings.Compare(a.ID, b.ID)) })
	return out
}

// Cases returns the queue as f selects and orders it.
func (s *Service) Cases(_ context.Context, f CaseFilter) ([]Case, error) {
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []Status{StatusOpen, StatusClaimed}
	}
	for _, st := range statuses {
		if st != StatusOpen && st != StatusClaimed && st != StatusResolved {
			return nil, labels.Errorf(labels.EInvalid, "status must be open, claimed or resolved")
		}
	}
	switch f.Kind {
	case "", KindDispute, KindBrigading, KindContested, KindSpoofing:
	default:
		return nil, labels.Errorf(labels.EInvalid, "kind must be dispute, brigading, contested or spoofing")
	}
	order, ok := orders[cmp.Or(f.Sort, SortPriority)]
	if !ok {
		return nil, labels.Errorf(labels.EInvalid, "sort must be priority, deadline, created or newest")
	}
	s.mu.RLock()
	var out []Case
	for _, c := range s.cases {
		if !slices.Contains(statuses, c.Status) || (f.Kind != "" && c.Kind != f.Kind) ||
			(f.Number != "" && c.Number != f.Number) || (f.ClaimedBy != "" && c.ClaimedBy != f.ClaimedBy) ||
			(f.OwnerProven != nil && c.OwnerProven != *f.OwnerProven) {
			continue
		}
		out = append(out, *c)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Case) int { return cmp.Or(order(&a, &b), strings.Compare(a.ID, b.ID)) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// orders are the queue orders by name.
var orders = map[string]func(a, b *Case) int{
	SortPriority: func(a, b *Case) int {
		return cmp.Or(cmpTrueFirst(a.OwnerProven, b.OwnerProven), cmpTrueFirst(a.Kind == KindDispute, b.Kind == KindDispute),
			a.Deadline.Compare(b.Deadline))
	},
	SortDeadline: func(a, b *Case) int { return a.Deadline.Compare(b.Deadline) },
	SortCreated:  func(a, b *Case) int { return a.Created.Compare(b.Created) },
	SortNewest:   func(a, b *Case) int { return b.Created.Compare(a.Created) },
}

func cmpTrueFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// View returns what a moderator sees of case id.
func (s *Service) View(_ context.Context, id string) (CaseView, error) {
	s.mu.RLock()
	c := s.cases[id]
	var earlier []Case
	if c != nil {
		for _, o := range s.cases {
			if o.Number == c.Number && o.ID != c.ID {
				earlier = append(earlier, *o)
			}
		}
	}
	s.mu.RUnlock()
	if c == nil {
		return CaseView{}, labels.Errorf(labels.ENotFound, "no case %s", id)
	}
	slices.SortFunc(earlier, func(a, b Case) int { return b.Created.Compare(a.Created) })
	n := s.number(c.Number)
	ex := s.cfg.Reputations.Explain(n, 0)
	v := CaseView{Case: *c, Reputation: ex.Result, Histogram: ex.Result.Categories, Flags: ex.Flags, Earlier: earlier}
	days := map[string]map[string]int{}
	for _, cb := range ex.Contributions {
		d := cb.At.UTC().Format(time.DateOnly)
		if days[d] == nil {
			days[d] = map[string]int{}
		}
		days[d][cb.Category]++
	}
	for _, d := range slices.Sorted(maps.Keys(days)) {
		v.Daily = append(v.Daily, DayCount{Day: d, Counts: days[d]})
	}
	if len(v.Daily) > maxDays {
		v.Daily = v.Daily[len(v.Daily)-maxDays:]
	}
	v.Contributions = ex.Contributions[:min(len(ex.Contributions), topContributions)]
	return v, nil
}

// A case view's bounds: the days of the chart and the contributions.
const (
	maxDays          = 90
	topContributions = 20
)

// number is the labels number of a stored key.
func (s *Service) number(key string) labels.Number {
	if n, err := s.cfg.Labels.Normalize(key, ""); err == nil {
		return n
	}
	return labels.Number{Key: key, Valid: true, Scoped: !strings.HasPrefix(key, "+")}
}

// Claim makes moderator the one working on case id, which must be open
// and still at version.
func (s *Service) Claim(ctx context.Context, moderator, id string, version int64) (Case, error) {
	return s.change(ctx, moderator, id, version, ActionClaim, func(c *Case) error {
		if c.Status != StatusOpen {
			return labels.Errorf(labels.EConflict, "case %s is %s, not open", id, c.Status)
		}
		c.Status, c.ClaimedBy = StatusClaimed, moderator
		return nil
	})
}

// Release hands a claimed case back to the queue; only its claimant can.
func (s *Service) Release(ctx context.Context, moderator, id string, version int64) (Case, error) {
	return s.change(ctx, moderator, id, version, ActionRelease, func(c *Case) error {
		if c.Status != StatusClaimed || c.ClaimedBy != moderator {
			return labels.Errorf(labels.EConflict, "case %s is not claimed by you", id)
		}
		c.Status, c.ClaimedBy = StatusOpen, ""
		return nil
	})
}

// Decide resolves case id: the decision is stored as a moderator's label
// (gold for the next rescore), the number's override follows it, the
// audit log records it and the filer is told. Only one of two moderators
// deciding at once succeeds; the other gets EConflict.
func (s *Service) Decide(ctx context.Context, moderator, id string, in DecisionInput) (Case, error) {
	if err := checkDecision(&in); err != nil {
		return Case{}, err
	}
	var after Case
	var err error
	after, err = s.change(ctx, moderator, id, in.Version, ActionDecide, func(c *Case) error {
		if c.Status == StatusResolved {
			return labels.Errorf(labels.EConflict, "case %s is decided already; a new decision needs a new case", id)
		}
		if c.Status == StatusClaimed && c.ClaimedBy != moderator {
			return labels.Errorf(labels.EConflict, "case %s is claimed by another moderator", id)
		}
		cat := in.Category
		if cat == "" {
			switch in.Outcome {
			case OutcomeUpheld:
				cat = mostFrequent(s.cfg.Reputations.Lookup(s.number(c.Number)).Categories)
				if cat == "" {
					return labels.Errorf(labels.EInvalid, "the number has no label to uphold; give a category")
				}
			case OutcomeOverturned:
				cat = "safe"
			case OutcomeVerifiedBusiness:
				cat = "customer_service"
			}
		}
		c.Status, c.ClaimedBy = StatusResolved, moderator
		c.Decision = &Decision{Outcome: in.Outcome, Category: cat, Note: in.Note, BusinessName: in.BusinessName,
			VerifiedUntil: in.VerifiedUntil, By: moderator, At: s.decisionTime(c.Number)}
		return nil
	})
	if err != nil {
		return Case{}, err
	}
	if after.Filer != "" {
		s.notify(ctx, Notice{User: after.Filer, Kind: NoticeOutcome, Number: after.Number, Case: after.ID,
			Outcome: after.Decision.Outcome, Verdict: string(s.cfg.Reputations.Lookup(s.number(after.Number)).Verdict)})
	}
	return after, nil
}

// decisionTime is the time of a new decision about key: now, or just
// after the number's latest decision, so that the latest is always the
// last one made, even with a clock that stands still.
func (s *Service) decisionTime(key string) time.Time {
	at := time.UnixMilli(s.cfg.Now().UnixMilli()).UTC()
	s.mu.RLock()
	last, _ := s.stateLocked(key)
	s.mu.RUnlock()
	if last != nil && !at.After(last.Decision.At) {
		at = last.Decision.At.Add(time.Millisecond)
	}
	return at
}

// stateLocked returns the case of the latest decision about key (nil when
// none) and whether a case about it is open; s.mu is held.
func (s *Service) stateLocked(key string) (last *Case, open bool) {
	for _, c := range s.cases {
		if c.Number != key {
			continue
		}
		if c.Status != StatusResolved {
			open = true
		} else if d := c.Decision; d != nil && (last == nil || d.At.After(last.Decision.At)) {
			last = c
		}
	}
	return last, open
}

// mostFrequent is the category most live labels name: what upholding
// confirms, whatever an earlier decision made the verdict.
func mostFrequent(counts map[string]int) string {
	best := ""
	for _, cat := range slices.Sorted(maps.Keys(counts)) {
		if best == "" || counts[cat] > counts[best] {
			best = cat
		}
	}
	return best
}

func checkDecision(in *DecisionInput) error {
	if !in.Outcome.valid() {
		return labels.Errorf(labels.EInvalid, "outcome must be upheld, overturned, relabelled or verified_business")
	}
	if in.Version <= 0 {
		return labels.Errorf(labels.EInvalid, "version is required: the version of the case you decided on")
	}
	if in.Category != "" {
		cat, ok := labels.LookupCategory(in.Category)
		if !ok {
			return labels.Errorf(labels.EUnknownCategory, "unknown category %q", in.Category)
		}
		good := cat.Risk == labels.RiskBenign || cat.Risk == labels.RiskSafe
		if (in.Outcome == OutcomeOverturned || in.Outcome == OutcomeVerifiedBusiness) && !good {
			return labels.Errorf(labels.EInvalid, "a %s decision takes a benign or safe category", in.Outcome)
		}
	}
	if in.Outcome == OutcomeRelabelled && in.Category == "" {
		return labels.Errorf(labels.EInvalid, "a relabelled decision needs a category")
	}
	name := strings.TrimSpace(in.BusinessName)
	switch {
	case in.Outcome == OutcomeVerifiedBusiness && name == "":
		return labels.Errorf(labels.EInvalid, "a verified_business decision needs business_name")
	case in.Outcome != OutcomeVerifiedBusiness && name != "":
		return labels.Errorf(labels.EInvalid, "business_name belongs to verified_business decisions only")
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameRunes:
		return labels.Errorf(labels.EInvalid, "business_name must be valid UTF-8 of at most %d characters", MaxNameRunes)
	case !in.VerifiedUntil.IsZero() && in.Outcome != OutcomeVerifiedBusiness:
		return labels.Errorf(labels.EInvalid, "verified_until belongs to verified_business decisions only")
	case !utf8.ValidString(in.Note) || utf8.RuneCountInString(in.Note) > MaxNoteRunes:
		return labels.Errorf(labels.EInvalid, "note must be valid UTF-8 of at most %d characters", MaxNoteRunes)
	}
	in.BusinessName = name
	return nil
}

// change applies edit to case id at version as actor, stores it with a
// compare-and-set on the version, and records it in the audit log. A
// decision also stores the moderator's label and frees the case's lock.
func (s *Service) change(ctx context.Context, actor, id string, version int64, action string, edit func(*Case) error) (Case, error) {
	s.write.Lock()
	defer s.write.Unlock()
	s.mu.RLock()
	cur := s.cases[id]
	s.mu.RUnlock()
	if cur == nil {
		return Case{}, labels.Errorf(labels.ENotFound, "no case %s", id)
	}
	if cur.Version != version {
		return Case{}, labels.Errorf(labels.EConflict, "case %s changed since version %d; reload it (now at %d)", id, version, cur.Version)
	}
	next := *cur
	if err := edit(&next); err != nil {
		return Case{}, err
	}
	next.Version++
	next.Updated = s.cfg.Now().UTC()
	before := s.snapshot(cur)
	ok, err := s.cfg.Store.UpdateCase(ctx, &next, version)
	if err != nil {
		return Case{}, unavailable(err)
	}
	if !ok {
		return Case{}, labels.Errorf(labels.EConflict, "case %s was changed by someone else; reload it", id)
	}
	s.mu.Lock()
	s.cases[id] = &next
	s.mu.Unlock()
	if action == ActionDecide {
		// The decision stands once stored; a label or a lock that fails
		// here is mended by the next start.
		if err := s.storeLabel(ctx, &next); err != nil {
			s.log.Error("storing a decision's label; the next start stores it", "case", id, "err", err)
		}
		if err := s.cfg.Store.Unlock(ctx, lockID(next.Number, next.Filer)); err != nil {
			s.log.Warn("freeing a decided case's lock; the next start frees it", "case", id, "err", err)
		}
	}
	s.applyOverride(next.Number)
	return next, s.auditLocked(ctx, actor, action, &next, &before)
}

// storeLabel stores c's decision as the moderator label of its number. Its
// client report id makes storing it again a no-op.
func (s *Service) storeLabel(ctx context.Context, c *Case) error {
	d := c.Decision
	_, err := s.cfg.Labels.Report(ctx, labels.Reporter{ID: DecisionReporter, Source: labels.SourceModerator},
		labels.ReportInput{Number: c.Number, Category: d.Category, ClientReportID: "case-" + c.ID,
			Comment: truncateRunes(fmt.Sprintf("case %s: %s by %s", c.ID, d.Outcome, d.By), labels.MaxCommentRunes)})
	return err
}

// snapshot records c and its number's verdict now; c may be nil.
func (s *Service) snapshot(c *Case) Snapshot {
	if c == nil {
		return Snapshot{}
	}
	r := s.cfg.Reputations.Lookup(s.number(c.Number))
	sn := Snapshot{Status: c.Status, ClaimedBy: c.ClaimedBy, Verdict: string(r.Verdict), CallerName: r.CallerName}
	if c.Decision != nil {
		sn.Outcome, sn.Category = c.Decision.Outcome, c.Decision.Category
	}
	return sn
}

// auditLocked appends an entry about c to the log; s.write is held.
func (s *Service) auditLocked(ctx context.Context, actor, action string, c *Case, before *Snapshot) error {
	after := s.snapshot(c)
	e := AuditEntry{ID: newID("a-"), At: s.cfg.Now().UTC(), Actor: actor, Action: action, Case: c.ID, Number: c.Number,
		Before: before, After: &after}
	if *before == (Snapshot{}) {
		e.Before = nil
	}
	if err := s.cfg.Store.AppendAudit(ctx, e); err != nil {
		return unavailable(err)
	}
	s.mu.Lock()
	s.audit = append(s.audit, e)
	s.mu.Unlock()
	return nil
}

// Audit returns the entries f selects, newest first.
func (s *Service) Audit(_ context.Context, f AuditFilter) []AuditEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []AuditEntry
	for i := len(s.audit) - 1; i >= 0; i-- {
		e := s.audit[i]
		if (f.Case != "" && e.Case != f.Case) || (f.Number != "" && e.Number != f.Number) ||
			(f.Actor != "" && e.Actor != f.Actor) || (f.Action != "" && e.Action != f.Action) ||
			(!f.Since.IsZero() && e.At.Before(f.Since)) || (!f.Until.IsZero() && !e.At.Before(f.Until)) {
			continue
		}
		out = append(out, e)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}

// applyOverride sets key's override from its cases: disputed while one is
// open; the latest decision's outcome, and what it clears and pins.
func (s *Service) applyOverride(key string) {
	var o reputation.Override
	s.mu.RLock()
	c, open := s.stateLocked(key)
	s.mu.RUnlock()
	o.Disputed = open
	if c != nil {
		last := c.Decision
		o.Outcome = string(last.Outcome)
		if last.Outcome.clears() {
			o.ClearedAt = last.At
		}
		if last.Outcome == OutcomeVerifiedBusiness {
			o.CallerName, o.VerifiedUntil = last.BusinessName, last.VerifiedUntil
		}
	}
	s.cfg.Reputations.SetOverride(key, o)
}

// Scan opens the automatic cases that are due: numbers the burst detector
// flagged since their last brigading case, numbers with strong evidence on
// both sides, and verified numbers whose labels would flag them (spoofed
// caller ID). It returns the cases it opened.
func (s *Service) Scan(ctx context.Context) ([]Case, error) {
	now := s.cfg.Now().UTC()
	type due struct {
		key   string
		kind  Kind
		since time.Time // a case of the kind created after this makes it not due
		flags []string
	}
	var todo []due
	// A verified number's spike is spoofing, whatever else it trips.
	spoofed := map[string]bool{}
	for _, key := range s.verified(now) {
		if r := s.cfg.Reputations.Lookup(s.number(key)); r.SpoofedRisk {
			todo = append(todo, due{key, KindSpoofing, now.Add(-s.cfg.Rearm), []string{"spoofed_risk"}})
			spoofed[key] = true
		}
	}
	for _, f := range s.cfg.Reputations.Flags() {
		if spoofed[f.Key] {
			continue
		}
		var latest time.Time
		reasons := make([]string, 0, len(f.Reasons))
		for r, at := range f.Reasons {
			reasons = append(reasons, r)
			if at.After(latest) {
				latest = at
			}
		}
		slices.Sort(reasons)
		todo = append(todo, due{f.Key, KindBrigading, latest, reasons})
	}
	if s.cfg.Contested != nil {
		for _, key := range s.cfg.Contested.Contested() {
			todo = append(todo, due{key, KindContested, now.Add(-s.cfg.Rearm), []string{"contested"}})
		}
	}
	var opened []Case
	for _, d := range todo {
		if len(opened) == s.cfg.MaxOpenPerScan {
			break
		}
		s.write.Lock()
		if !s.dueLocked(d.key, d.kind, d.since) {
			s.write.Unlock()
			continue
		}
		c := &Case{ID: newID("c-"), Kind: d.kind, Number: d.key, Flags: d.flags, Status: StatusOpen,
			Created: now, Updated: now, Deadline: now.Add(s.cfg.Deadline), Version: 1}
		err := s.insertLocked(ctx, c, SystemActor, ActionOpen)
		s.write.Unlock()
		if labels.ErrorCode(err) == labels.EConflict {
			continue
		}
		if err != nil {
			return opened, err
		}
		opened = append(opened, *c)
		s.tellOwners(ctx, c)
	}
	return opened, nil
}

// dueLocked reports whether an automatic case of kind may open on key: no
// automatic case about it is open, and none of kind was created after
// since.
func (s *Service) dueLocked(key string, kind Kind, since time.Time) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.cases {
		if c.Number != key || c.Filer != "" {
			continue
		}
		if c.Status != StatusResolved || (c.Kind == kind && !c.Created.Before(since)) {
			return false
		}
	}
	return true
}

// verified returns the numbers whose latest decision pins them verified
// at now.
func (s *Service) verified(now time.Time) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	decided := map[string]bool{}
	for _, c := range s.cases {
		if c.Decision != nil {
			decided[c.Number] = true
		}
	}
	var out []string
	for _, key := range slices.Sorted(maps.Keys(decided)) {
		c, _ := s.stateLocked(key)
		if d := c.Decision; d.Outcome == OutcomeVerifiedBusiness && (d.VerifiedUntil.IsZero() || now.Before(d.VerifiedUntil)) {
			out = append(out, key)
		}
	}
	return out
}

// tellOwners tells the proven owners of c's number, other than its filer,
// that a case about it opened.
func (s *Service) tellOwners(ctx context.Context, c *Case) {
	owners := map[string]bool{}
	s.mu.RLock()
	for _, o := range s.cases {
		if o.Number == c.Number && o.OwnerProven && o.Filer != c.Filer {
			owners[o.Filer] = true
		}
	}
	s.mu.RUnlock()
	if len(owners) == 0 {
		return
	}
	verdict := string(s.cfg.Reputations.Lookup(s.number(c.Number)).Verdict)
	for _, u := range slices.Sorted(maps.Keys(owners)) {
		s.notify(ctx, Notice{User: u, Kind: NoticeFlagged, Number: c.Number, Case: c.ID, Verdict: verdict})
	}
}

// notify hands n to the notifier; a failure is logged, never the
// caller's: the case is stored either way.
func (s *Service) notify(ctx context.Context, n Notice) {
	if s.cfg.Notifier == nil {
		return
	}
	if err := s.cfg.Notifier.Notify(ctx, n); err != nil {
		s.log.Warn("telling a user about a case failed", "case", n.Case, "kind", n.Kind, "err", err)
	}
}

func unavailable(err error) error {
	return fmt.Errorf("%w: %w", labels.Errorf(labels.EUnavailable, "moderation storage is unavailable; retry later"), err)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// EraseFiler removes what filer's disputes say about them, for their
// account's erasure, and returns how many cases it changed: the contact,
// claimed identity, evidence links and reason go, and the cases name
// ErasedFiler. The cases, their decisions and the audit log stay (a
// number's public outcome rests on them; the log's entries about filing
// still name the filer's id, as an append-only log must), and an open case
// stays open for moderators, with its one-per-filer lock freed.
func (s *Service) EraseFiler(ctx context.Context, filer string) (int, error) {
	if filer == "" || filer == ErasedFiler {
		return 0, nil
	}
	n := 0
	for _, c := range s.Disputes(ctx, filer) {
		// A moderator may change the case meanwhile: read it again.
		for attempt := 0; ; attempt++ {
			_, err := s.change(ctx, "system:erasure", c.ID, c.Version, ActionEraseFiler, func(c *Case) error {
				c.Filer, c.Contact, c.Identity, c.Reason, c.Evidence = ErasedFiler, "", "", "", nil
				return nil
			})
			if err == nil {
				break
			}
			var le *labels.Error
			if attempt > 3 || !errors.As(err, &le) || le.Code != labels.EConflict {
				return n, err
			}
			s.mu.RLock()
			c = *s.cases[c.ID]
			s.mu.RUnlock()
		}
		if c.Status != StatusResolved {
			if err := s.cfg.Store.Unlock(ctx, lockID(c.Number, filer)); err != nil {
				return n, unavailable(err)
			}
		}
		n++
	}
	return n, nil
}
