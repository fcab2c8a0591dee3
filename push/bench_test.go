package push_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/push/fcmtest"
	"github.com/callrep/callrep/reputation"
)

// BenchmarkFanOut is the target: one retroactive warning fanned out
// to 100,000 devices, the whole path from the verdict change through the
// outbox (recorded in the embedded FerretDB) and the real SDK to a fake FCM
// on loopback, against the rate at which a minimal Go client (50 requests
// in flight, keep-alive) reaches the same fake in the same run; the median
// of three rounds. first-ms is the median time from the verdict change to
// the first message at the fake. Run it alone:
//
//	go test -run '^$' -bench FanOut -benchtime 1x ./push
func BenchmarkFanOut(b *testing.B) {
	const devices = 100_000
	ctx := context.Background()
	m := mongotest.Open(b)
	fake := fcmtest.New(b, project)
	fake.Keep = false
	st, err := push.OpenStore(ctx, m.DB)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	ds := make([]push.Device, devices)
	for i := range ds {
		ds[i] = push.Device{ID: fmt.Sprintf("dev_%06d", i), User: fmt.Sprintf("local:u%06d", i), Installation: "i",
			Token: fmt.Sprintf("tok-%06d-%s", i, strings.Repeat("x", 140)), Platform: push.Android, Locale: []string{"en", "zh-Hans", "zh-Hant"}[i%3],
			OptIns: push.AllOptIns(), Created: now, Updated: now}
	}
	setup := time.Now()
	if err := st.PutDevices(ctx, ds); err != nil {
		b.Fatal(err)
	}
	const rounds = 3
	// Round 1 raises the first number to spam, round 2 to fraud, round 3
	// a second number to fraud: two numbers' records serve three rounds.
	var recs []push.Record
	for _, key := range []string{benchKey(0), benchKey(2)} {
		for i := range ds {
			recs = append(recs, push.Record{User: ds[i].User, Key: key, Seen: "unknown", At: now.Add(-time.Hour)})
		}
	}
	if err := st.PutRecords(ctx, recs); err != nil {
		b.Fatal(err)
	}
	fcm, err := push.NewFCM(ctx, project, option.WithEndpoint(fake.URL), option.WithoutAuthentication())
	if err != nil {
		b.Fatal(err)
	}
	reps := &fakeReputations{v: map[string]reputation.Result{}}
	cfg := push.DefaultConfig()
	cfg.Store, cfg.Sender, cfg.Reputation, cfg.Labels = st, fcm, reps, ownLabels{}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Poll = 50 * time.Millisecond
	s, err := push.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	b.Logf("setup: %d devices and %d records stored and loaded in %v", devices, len(recs), time.Since(setup).Round(time.Millisecond))

	body := sampleBody(b, ds[0].Token)
	var (
		ratios, rates, bases []float64
		firsts               []time.Duration // from the trigger to the first message at the fake
	)
	b.ResetTimer()
	for r := range rounds {
		key, verdict := benchKey(r), reputation.VerdictFraud
		switch r {
		case 0:
			verdict = reputation.VerdictSpam
		case 1:
			key = benchKey(0)
		}
		start := fake.Count()
		t0 := time.Now()
		reps.set(key, verdict, 12)
		s.LabelChanged(nil, &labels.Label{Key: key})
		var first time.Duration
		for n := fake.Count() - start; n < devices; n = fake.Count() - start {
			if n > 0 && first == 0 {
				first = time.Since(t0)
			}
			time.Sleep(time.Millisecond)
		}
		rate := devices / time.Since(t0).Seconds()
		firsts = append(firsts, first)
		// Let the deferred inbox writes finish before measuring the
		// baseline, so both measure the endpoint alone.
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < 600 && s.OutboxBusy(); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		base := fake.Baseline(devices, body)
		ratios, rates, bases = append(ratios, rate/base), append(rates, rate), append(bases, base)
		b.Logf("round %d: %.0f messages/s through callrep, %.0f/s minimal client: %.3f; first message after %v", r+1, rate, base, rate/base, first.Round(time.Millisecond))
	}
	b.StopTimer()
	slices.Sort(ratios)
	slices.Sort(rates)
	slices.Sort(bases)
	b.ReportMetric(ratios[1], "ratio")
	b.ReportMetric(rates[1], "msgs/s")
	b.ReportMetric(bases[1], "baseline/s")
	slices.Sort(firsts)
	b.ReportMetric(float64(firsts[1].Microseconds())/1000, "first-ms")
	b.ReportMetric(peakRSS(), "peakRSS-MiB")
	if fake.Bad() != 0 {
		b.Fatalf("the fake refused %d requests", fake.Bad())
	}
}

func benchKey(round int) string { return "+861380013" + strconv.Itoa(8000+round) }

// sampleBody is the request the SDK sends for one retroactive warning.
func sampleBody(tb testing.TB, token string) []byte {
	tb.Helper()
	msg := map[string]any{"message": map[string]any{
		"token": token,
		"data": map[string]string{"type": "retro_warning", "v": "1", "number": "+8613800138000", "verdict": "fraud", "category": "fraud",
			"score": "90", "reporters": "12", "issued_at": "2026-03-01T12:00:00Z", "title": "Caller warning",
			"body": "The number +86 138 0013 8000 that called you on 1 Mar is now reported as fraud by 12 people"},
		// The devices are Android phones: FCM ignores an apns block there,
		// so callrep sends none.
		"android": map[string]any{"collapse_key": "rw:+8613800138000", "priority": "normal", "ttl": "86400s"},
	}}
	b, err := json.Marshal(msg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// peakRSS is the process's peak resident set size in MiB (VmHWM).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
