package push_test

import (
	"context"
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
// in flight, keep-alive) reaches the same fake in the same run, replaying
// the requests the SDK sent (headers and bodies), in two halves just before
// and just after callrep's run; the median of three rounds. sdk-ratio is
// the same for the SDK alone, sending the same number of messages in
// chunks of 500 from the same process, just before; first-ms
// is the median time from the verdict change to the first message at the
// fake. Run it alone:
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

	// The first three batches' messages: every locale, and the tokens of
	// as many devices.
	const sampled = 1500
	var (
		ratios, rates, bases []float64
		sdks                 []float64       // the SDK alone against the minimal client
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
		// The SDK alone sends the round's warning first; the minimal
		// client replays its requests for the first half of its run, just
		// before callrep's, and callrep's own for the second half, just
		// after: the machine's speed drifts by a quarter within a minute
		// here, which the two halves either side cancel out.
		fake.Sample(sampled)
		sdk := sdkAlone(ctx, fcm, ds, key, string(verdict), now.Add(-time.Hour))
		base1 := fake.Baseline(devices/2, samples(b, fake, sampled))
		start := fake.Count()
		fake.Sample(sampled)
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
		base2 := fake.Baseline(devices/2, samples(b, fake, sampled))
		base := devices / (devices/2/base1 + devices/2/base2) // all requests over both halves' time
		ratios, rates, bases = append(ratios, rate/base), append(rates, rate), append(bases, base)
		sdks = append(sdks, sdk/base)
		b.Logf("round %d: %.0f messages/s through callrep, %.0f/s the SDK alone, %.0f/s minimal client: %.3f (SDK alone %.3f); first message after %v",
			r+1, rate, sdk, base, rate/base, sdk/base, first.Round(time.Millisecond))
	}
	b.StopTimer()
	slices.Sort(ratios)
	slices.Sort(rates)
	slices.Sort(bases)
	b.ReportMetric(ratios[1], "ratio")
	b.ReportMetric(rates[1], "msgs/s")
	b.ReportMetric(bases[1], "baseline/s")
	slices.Sort(sdks)
	b.ReportMetric(sdks[1], "sdk-ratio")
	slices.Sort(firsts)
	b.ReportMetric(float64(firsts[1].Microseconds())/1000, "first-ms")
	b.ReportMetric(peakRSS(), "peakRSS-MiB")
	if fake.Bad() != 0 {
		b.Fatalf("the fake refused %d requests", fake.Bad())
	}
}

// samples returns the n requests the fake kept since Sample(n).
func samples(b *testing.B, fake *fcmtest.Server, n int) []fcmtest.Request {
	reqs := fake.Samples()
	if len(reqs) != n {
		b.Fatalf("the fake kept %d requests, want %d", len(reqs), n)
	}
	return reqs
}

// sdkAlone sends the retroactive warning of key at verdict to every device
// straight through fcm, in each device's language and in chunks of 500 as
// the outbox does, and returns the rate: what the SDK costs on its own, so
// that the two ratios show what callrep adds to it.
func sdkAlone(ctx context.Context, fcm *push.FCM, ds []push.Device, key, verdict string, since time.Time) float64 {
	n := push.Notification{Kind: push.KindRetroWarning, Number: key, Verdict: verdict, Reporters: 12, Since: since}
	w := push.Warning{Kind: push.KindRetroWarning, Number: key, Verdict: verdict, Category: verdict, Score: 90, Reporters: 12, IssuedAt: time.Now()}
	texts := map[string][2]string{}
	msgs := make([]push.Message, 0, 500)
	start := time.Now()
	for i := 0; i < len(ds); i += 500 {
		msgs = msgs[:0]
		for _, d := range ds[i:min(i+500, len(ds))] {
			t, ok := texts[d.Locale]
			if !ok {
				t[0], t[1] = n.Text(d.Locale)
				texts[d.Locale] = t
			}
			m := push.Message{Token: d.Token, Platform: d.Platform, Warning: w}
			m.Warning.Title, m.Warning.Body = t[0], t[1]
			msgs = append(msgs, m)
		}
		fcm.SendEach(ctx, msgs)
	}
	return float64(len(ds)) / time.Since(start).Seconds()
}

func benchKey(round int) string { return "+861380013" + strconv.Itoa(8000+round) }

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
