package push_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/push/fcmtest"
	"github.com/callrep/callrep/reputation"
)

// fakeReputations answers verdicts set by the test.
type fakeReputations struct {
	mu sync.Mutex
	v  map[string]reputation.Result
}

func (f *fakeReputations) set(key string, v reputation.Verdict, reporters int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v[key] = reputation.Result{Verdict: v, Reporters: reporters, TopCategory: "fraud", Score: 90}
}

func (f *fakeReputations) Reputation(_ context.Context, n labels.Number) (reputation.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.v[n.Key]
	if !ok {
		r.Verdict = reputation.VerdictUnknown
	}
	r.Number = n
	return r, nil
}

// ownLabels answers the users' own labels.
type ownLabels map[string]string // user|key → category

func (o ownLabels) LabelOf(user, key string) (labels.Label, bool) {
	c, ok := o[user+"|"+key]
	return labels.Label{Reporter: user, Key: key, Category: c}, ok
}

type pushEnv struct {
	m     *labels.Mongo
	fake  *fcmtest.Server
	reps  *fakeReputations
	own   ownLabels
	clock *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newPushEnv(t *testing.T) *pushEnv {
	t.Helper()
	return &pushEnv{m: mongotest.Open(t), fake: fcmtest.New(t, project), reps: &fakeReputations{v: map[string]reputation.Result{}},
		own: ownLabels{}, clock: &clock{t: time.Now().UTC()}}
}

// open opens a push service over the env's store and runs it until the
// returned stop is called.
func (e *pushEnv) open(t *testing.T) (*push.Service, func()) {
	t.Helper()
	return e.openWith(t, nil)
}

// openWith is open with the config adjusted by tweak.
func (e *pushEnv) openWith(t *testing.T, tweak func(*push.Config)) (*push.Service, func()) {
	t.Helper()
	ctx := context.Background()
	st, err := push.OpenStore(ctx, e.m.DB)
	if err != nil {
		t.Fatal(err)
	}
	fcm, err := push.NewFCM(ctx, project, option.WithEndpoint(e.fake.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	fcm.Now = e.clock.Now
	lst, err := labels.OpenStore(ctx, e.m.DB)
	if err != nil {
		t.Fatal(err)
	}
	cfg := push.DefaultConfig()
	cfg.Store, cfg.Sender, cfg.Reputation, cfg.Labels = st, fcm, e.reps, e.own
	cfg.Leases, cfg.Holder, cfg.Now = lst.Leases(), "test", e.clock.Now
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Poll = 20 * time.Millisecond
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := push.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(rctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			stop()
		}
	})
	return s, stop
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustRegister(t *testing.T, s *push.Service, user, token string) push.Device {
	t.Helper()
	d, err := s.RegisterDevice(context.Background(), user, push.DeviceInput{Token: token, Installation: "i-" + token, Platform: "android", Locale: "en"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRetroSurvivesRestart(t *testing.T) {
	e := newPushEnv(t)
	s, stop := e.open(t)
	const key = "+8613800138000"
	for _, u := range []string{"u1", "u2", "u3"} {
		mustRegister(t, s, u, "tok-"+u+"-abcdefgh")
		s.RecordLookup(u, labels.Number{Key: key}, reputation.Result{Verdict: reputation.VerdictUnknown})
	}
	e.own["u3|"+key] = "safe"
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop()

	s, _ = e.open(t)
	e.reps.set(key, reputation.VerdictFraud, 12)
	s.LabelChanged(nil, &labels.Label{Key: key})
	waitUntil(t, "two warnings", func() bool { return e.fake.Count() == 2 })
	time.Sleep(100 * time.Millisecond)
	if n := e.fake.Count(); n != 2 {
		t.Fatalf("got %d messages, want 2 (u3 labelled it safe)", n)
	}
	for _, u := range []string{"u1", "u2"} {
		ns, _, err := s.Notifications(u, 10, "")
		if err != nil || len(ns) != 1 {
			t.Fatalf("%s inbox: %v %v", u, ns, err)
		}
	}
}

func TestOutboxResumesAfterStop(t *testing.T) {
	e := newPushEnv(t)
	s, stop := e.open(t)
	const key = "+8613800138001"
	for _, u := range []string{"u1", "u2", "u3"} {
		mustRegister(t, s, u, "tok-"+u+"-abcdefgh")
		s.RecordLookup(u, labels.Number{Key: key}, reputation.Result{Verdict: reputation.VerdictUnknown})
	}
	e.fake.SetDelay(300 * time.Millisecond)
	e.reps.set(key, reputation.VerdictSpam, 5)
	s.LabelChanged(nil, &labels.Label{Key: key})
	waitUntil(t, "the batch recorded", func() bool { return metricSent(s) })
	time.Sleep(100 * time.Millisecond)
	stop() // the sends in flight are cancelled, nothing is marked
	e.fake.SetDelay(0)
	e.clock.Add(20 * time.Second) // the old lease runs out
	_, _ = e.open(t)
	waitUntil(t, "three warnings", func() bool {
		seen := map[string]bool{}
		for _, m := range e.fake.Messages() {
			seen[m.Token] = true
		}
		return len(seen) == 3
	})
}

// metricSent reports whether the service has recorded a batch.
func metricSent(s *push.Service) bool {
	ns, _, _ := s.Notifications("u1", 10, "")
	return len(ns) > 0
}
