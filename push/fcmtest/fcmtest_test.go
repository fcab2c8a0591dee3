package fcmtest_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/callrep/callrep/push/fcmtest"
)

// TestSampleAndBaseline: Sample keeps the requests the real SDK sent,
// headers and bodies, and Baseline replays them, every one accepted.
func TestSampleAndBaseline(t *testing.T) {
	ctx := context.Background()
	fake := fcmtest.New(t, "p")
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: "p"}, option.WithEndpoint(fake.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fake.Sample(2)
	ttl := time.Minute
	for i := range 3 {
		msg := &messaging.Message{Token: fmt.Sprint("tok-", i), Data: map[string]string{"type": "retro_warning", "v": "1", "issued_at": "2026-12-01T00:00:00Z"},
			Android: &messaging.AndroidConfig{Priority: "high", TTL: &ttl}}
		if _, err := client.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fake.Samples()
	if len(reqs) != 2 {
		t.Fatalf("kept %d requests, want the first 2", len(reqs))
	}
	for i, r := range reqs {
		if r.Header.Get("X-Firebase-Client") == "" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: headers %v, want the SDK's", i, r.Header)
		}
		if !bytes.Contains(r.Body, fmt.Appendf(nil, `"token":"tok-%d"`, i)) {
			t.Errorf("request %d: body %s, want tok-%d's", i, r.Body, i)
		}
	}
	before := fake.Count()
	if rate := fake.Baseline(10, reqs); rate <= 0 {
		t.Fatalf("baseline rate %v", rate)
	}
	if got := fake.Count() - before; got != 10 || fake.Bad() != 0 {
		t.Fatalf("baseline: %d accepted, %d refused; want 10 and 0", got, fake.Bad())
	}
}
