package push_test

import (
	"context"
	"log/slog"
	"strings"
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
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
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
	waitUntil(t, "two warnings", func() bool { return e.fake.Count() >= 2 })
	time.Sleep(100 * time.Millisecond)
	if n := e.fake.Count(); n != 2 {
		for _, m := range e.fake.Messages() {
			t.Logf("sent to %s", m.Token)
		}
		t.Fatalf("got %d messages, want 2 (u3 labelled it safe)", n)
	}
	for _, u := range []string{"u1", "u2"} {
		ns, _, err := s.Notifications(u, 10, "")
		if err != nil || len(ns) != 1 {
			t.Fatalf("%s inbox: %v %v", u, ns, err)
		}
	}
}

// TestRecordsRetriedAfterFailedWrite pins that a lookup record merged into
// memory by a flush whose write failed is written by the next flush: the
// retry must not take memory's word that the record is stored.
func TestRecordsRetriedAfterFailedWrite(t *testing.T) {
	e := newPushEnv(t)
	s, stop := e.open(t)
	stop() // no background flush: this test flushes by hand
	const key = "+8613800138002"
	for _, u := range []string{"u1", "u2"} {
		mustRegister(t, s, u, "tok-"+u+"-abcdefgh")
		s.RecordLookup(u, labels.Number{Key: key}, reputation.Result{Verdict: reputation.VerdictUnknown})
	}
	failThenFlush(t, s)

	s, _ = e.open(t)
	e.reps.set(key, reputation.VerdictFraud, 12)
	s.LabelChanged(nil, &labels.Label{Key: key})
	waitUntil(t, "two warnings", func() bool { return e.fake.Count() >= 2 })
}

// TestBatchesRetriedAfterFailedEnqueue pins that warnings built by a flush
// whose outbox write failed are recorded by the next flush: the new
// verdict is already remembered, so evaluating the number again builds
// nothing.
func TestBatchesRetriedAfterFailedEnqueue(t *testing.T) {
	e := newPushEnv(t)
	s, stop := e.open(t)
	stop()
	const key = "+8613800138003"
	for _, u := range []string{"u1", "u2"} {
		mustRegister(t, s, u, "tok-"+u+"-abcdefgh")
		s.RecordLookup(u, labels.Number{Key: key}, reputation.Result{Verdict: reputation.VerdictUnknown})
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.reps.set(key, reputation.VerdictFraud, 12)
	s.LabelChanged(nil, &labels.Label{Key: key})
	failThenFlush(t, s)

	_, _ = e.open(t) // the outbox is read back from storage
	waitUntil(t, "two warnings", func() bool { return e.fake.Count() >= 2 })
}

// failThenFlush flushes s once with a cancelled context, which must fail,
// and once for real.
func failThenFlush(t *testing.T, s *push.Service) {
	t.Helper()
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Flush(dead); err == nil {
		t.Fatal("a flush with a cancelled context succeeded")
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
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

// testWriter sends a service's log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
