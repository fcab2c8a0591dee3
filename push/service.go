package push

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Sender delivers messages; *FCM is one.
type Sender interface {
	SendEach(ctx context.Context, msgs []Message) []Result
}

// Reputations answers what a number's reputation is now; the writer's
// *reputation.Engine is one.
type Reputations interface {
	Reputation(ctx context.Context, n labels.Number) (reputation.Result, error)
}

// OwnLabels reads a user's own label on a number; *labels.Service is one.
type OwnLabels interface {
	LabelOf(reporterID, key string) (labels.Label, bool)
}

// Config configures a Service. Zero durations and counts take the defaults
// of DefaultConfig.
type Config struct {
	Store *Store
	// Sender delivers to devices and topics; nil keeps warnings in the
	// inbox only.
	Sender      Sender
	Reputation  Reputations
	Labels      OwnLabels
	Leases      *labels.Leases
	Holder      string
	Region      string // default region for reading area numbers
	Logger      *slog.Logger
	Registry    prometheus.Registerer
	Now         func() time.Time
	RecordFor   time.Duration // how long lookup records are kept
	RecordMax   int           // records per user within RecordFor
	InboxFor    time.Duration // how long notifications are kept
	InboxMax    int           // notifications kept per user
	RetroTTL    time.Duration // how long a retroactive warning is worth delivering
	HourlyCap   int           // messages per device per hour
	GuardianGap time.Duration // at most one alert per protected user and number per gap
	Guardians   int           // guardians per user
	WaveWindow  time.Duration
	WaveMin     int // new fraud numbers of one area within WaveWindow that make a wave
	OptIns      OptIns
	Poll        time.Duration // how often changes and the outbox are looked at
	// Lease is how long the sender's lease lasts: a sender that crashed is
	// replaced by another replica (or by itself, restarted) within it.
	Lease time.Duration
}

// DefaultConfig returns the defaults: records kept 14 days, 300 per user;
// notifications 30 days, 100 per user; retroactive warnings live a day;
// 30 messages per device per hour; one guardian alert per protected user
// and number per 10 minutes, 3 guardians per user; a wave is 10 new fraud
// numbers of one area within a day; every kind opted in.
func DefaultConfig() Config {
	return Config{
		RecordFor: 14 * 24 * time.Hour, RecordMax: 300, InboxFor: 30 * 24 * time.Hour, InboxMax: 100,
		RetroTTL: 24 * time.Hour, HourlyCap: 30, GuardianGap: 10 * time.Minute, Guardians: 3,
		WaveWindow: 24 * time.Hour, WaveMin: 10, OptIns: AllOptIns(), Poll: 250 * time.Millisecond,
		Lease: 15 * time.Second,
	}
}

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	seti := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.RecordFor, d.RecordFor)
	set(&c.InboxFor, d.InboxFor)
	set(&c.RetroTTL, d.RetroTTL)
	set(&c.GuardianGap, d.GuardianGap)
	set(&c.WaveWindow, d.WaveWindow)
	set(&c.Poll, d.Poll)
	set(&c.Lease, d.Lease)
	seti(&c.RecordMax, d.RecordMax)
	seti(&c.InboxMax, d.InboxMax)
	seti(&c.HourlyCap, d.HourlyCap)
	seti(&c.Guardians, d.Guardians)
	seti(&c.WaveMin, d.WaveMin)
	if c.Region == "" {
		c.Region = "CN"
	}
}

// maxBuffered bounds the lookups recorded between two flushes; beyond it
// lookups are not recorded (and counted), so that a lookup never waits.
const maxBuffered = 100_000

// Service is push on the writer: the devices, guardian links, lookup
// records, inbox and outbox of every user, in memory and in storage, the
// watcher that turns verdict changes into warnings, and the sender. Create
// it with Open; run Run; Close at the end.
type Service struct {
	cfg Config
	st  *Store
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	devices map[string]*Device
	byUser  map[string][]string // user → device ids
	links   map[string]*Link
	// guardiansOf and protecting index links by either side (user → link
	// ids), so that every fraud lookup finds its user's guardians without
	// looking at every link.
	guardiansOf map[string][]string
	protecting  map[string][]string
	invites     map[string]*Invite
	// invitesOf lists each user's open invites, oldest first: at most
	// maxOpenInvites.
	invitesOf map[string][]string
	records   map[string]map[string]Record // key → user → first record in the window
	perUser   map[string]int               // user → records in the window
	unsaved   []Record                     // records in memory whose write failed
	inbox     map[string][]Notification    // user → oldest first
	once      map[string]time.Time         // trigger → when it was handled, within retention()
	lastAlrt  map[string]time.Time         // protected user|number → last guardian alert
	verdicts  map[string]reputation.Verdict
	waves     map[string]*wave
	filters   map[string]uint64

	bufMu    sync.Mutex
	buf      []Record            // recorded, not yet applied
	changed  map[string]struct{} // keys whose labels changed
	unqueued []*Batch            // built by a failed flush, not yet recorded

	out *outbox
}

// wave counts new fraud numbers of one area.
type wave struct {
	area  Area
	start time.Time
	keys  map[string]string // key → top category
	sent  bool
}

// Open loads push's state from cfg.Store. It does not send anything until
// Run.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	cfg.defaults()
	if cfg.Store == nil || cfg.Reputation == nil || cfg.Labels == nil {
		return nil, errors.New("push: config needs a store, reputations and labels")
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, st: cfg.Store, log: cfg.Logger, m: m,
		devices: map[string]*Device{}, byUser: map[string][]string{}, links: map[string]*Link{},
		guardiansOf: map[string][]string{}, protecting: map[string][]string{}, invites: map[string]*Invite{}, invitesOf: map[string][]string{},
		records: map[string]map[string]Record{}, perUser: map[string]int{}, inbox: map[string][]Notification{},
		once: map[string]time.Time{}, lastAlrt: map[string]time.Time{}, verdicts: map[string]reputation.Verdict{},
		waves: map[string]*wave{}, filters: map[string]uint64{}, changed: map[string]struct{}{},
	}
	s.out = newOutbox(s)
	if err := s.registerDepth(cfg.Registry); err != nil {
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if cfg.Sender == nil {
		s.log.Warn("push: no Firebase project configured; warnings go to the inbox only (GET /v1/me/notifications)")
	}
	return s, nil
}

// load reads everything from storage into memory.
func (s *Service) load(ctx context.Context) error {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.st.EachDevice(ctx, func(d Device) { s.addDeviceLocked(&d) }); err != nil {
		return err
	}
	if err := s.st.EachLink(ctx, func(l Link) { s.addLinkLocked(&l) }); err != nil {
		return err
	}
	if err := s.st.EachInvite(ctx, now, func(in Invite) { s.addInviteLocked(&in) }); err != nil {
		return err
	}
	for _, hs := range s.invitesOf {
		slices.SortFunc(hs, func(a, b string) int { return s.invites[a].Created.Compare(s.invites[b].Created) })
	}
	if err := s.st.EachRecord(ctx, now.Add(-s.cfg.RecordFor), func(r Record) { s.addRecordLocked(r) }); err != nil {
		return err
	}
	if err := s.st.EachInbox(ctx, now, func(n Notification) { s.addNotificationLocked(n) }); err != nil {
		return err
	}
	if err := s.st.EachOnce(ctx, now.Add(-s.retention()), func(id string, at time.Time) { s.once[id] = at }); err != nil {
		return err
	}
	return s.out.load(ctx, now)
}

// retention is how long outbox batches and dedupe marks are kept: the
// dedupe window.
func (s *Service) retention() time.Duration {
	return max(s.cfg.RecordFor, s.cfg.RetroTTL) + 24*time.Hour
}

// Run watches for verdict changes, applies records and sends until ctx
// ends, then stores what it still holds.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.out.run(ctx) })
	wg.Go(func() {
		labels.Every(ctx, s.cfg.Poll, func(ctx context.Context) {
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("push: applying changes", "err", err)
			}
		})
	})
	wg.Go(func() {
		labels.Every(ctx, time.Second, func(ctx context.Context) {
			if err := s.takeHandoffs(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("push: taking lookup records from replicas", "err", err)
			}
		})
	})
	wg.Go(func() {
		labels.Every(ctx, time.Hour, func(ctx context.Context) {
			if err := s.Trim(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("push: trimming", "err", err)
			}
		})
	})
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		s.log.Error("push: final flush", "err", err)
	}
	s.out.flushMarks(fctx)
}

// Trim expires lookup records, notifications, outbox batches and marks.
func (s *Service) Trim(ctx context.Context) error {
	now := s.cfg.Now()
	cut := now.Add(-s.cfg.RecordFor)
	s.mu.Lock()
	for key, users := range s.records {
		for u, r := range users {
			if r.At.Before(cut) {
				delete(users, u)
				s.perUser[u]--
			}
		}
		if len(users) == 0 {
			delete(s.records, key)
		}
	}
	for u, n := range s.perUser {
		if n <= 0 {
			delete(s.perUser, u)
		}
	}
	for h, in := range s.invites {
		if !in.Expires.After(now) {
			s.removeInviteLocked(h)
		}
	}
	for id, at := range s.once {
		if at.Before(now.Add(-s.retention())) {
			delete(s.once, id)
		}
	}
	for k, at := range s.lastAlrt {
		if now.Sub(at) >= s.cfg.GuardianGap {
			delete(s.lastAlrt, k)
		}
	}
	for u, ns := range s.inbox {
		keep := ns[:0]
		for _, n := range ns {
			if n.Expires.After(now) {
				keep = append(keep, n)
			}
		}
		if len(keep) == 0 {
			delete(s.inbox, u)
		} else {
			s.inbox[u] = keep
		}
	}
	s.mu.Unlock()
	s.out.trim(now.Add(-s.retention()))
	if err := s.st.DropRecordsBefore(ctx, cut); err != nil {
		return err
	}
	return s.st.Trim(ctx, now.Add(-s.retention()), now)
}
