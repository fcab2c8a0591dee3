package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// TestLimiterSet_Eviction checks that buckets of keys gone quiet are
// dropped, so memory follows the recently active keys only.
func TestLimiterSet_Eviction(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	ls := newLimiterSet[string](60, 10) // refills in 10 s; kept at least a minute
	for i := range 1000 {
		if ok, _ := ls.take(fmt.Sprintf("198.51.100.%d", i), 1, start); !ok {
			t.Fatalf("take %d: got refused, want allowed", i)
		}
	}
	if got := len(ls.entries); got != 1000 {
		t.Fatalf("buckets: got %d, want 1000", got)
	}
	ls.take("203.0.113.1", 1, start.Add(ls.idle+time.Second))
	if got := len(ls.entries); got != 1 {
		t.Fatalf("buckets after the idle time: got %d, want 1", got)
	}
}

func TestLimiterSet_Take(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	scenarios := []struct {
		name     string
		spend    []int // taken in turn at start
		after    time.Duration
		take     int
		wantOK   bool
		wantWait time.Duration
	}{
		{"FullBucket", nil, 0, 5, true, 0},
		{"Empty", []int{5}, 0, 1, false, time.Second},
		{"RefilledOne", []int{5}, time.Second, 1, true, 0},
		{"MissingThree", []int{5}, 0, 3, false, 3 * time.Second},
		{"LargerThanBurstCapped", nil, 0, 50, true, 0},
		{"Zero", []int{5}, 0, 0, true, 0},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ls := newLimiterSet[string](60, 5)
			for _, n := range sc.spend {
				ls.take("k", n, start)
			}
			ok, wait := ls.take("k", sc.take, start.Add(sc.after))
			if ok != sc.wantOK || wait.Round(time.Millisecond) != sc.wantWait {
				t.Fatalf("take: got %v %v, want %v %v", ok, wait, sc.wantOK, sc.wantWait)
			}
		})
	}
}

func TestDailyQuota(t *testing.T) {
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	q := newDailyQuota(3, nil)
	scenarios := []struct {
		at          time.Time
		key         string
		n           int
		wantGranted int
		wantWait    time.Duration
	}{
		{day.Add(10 * time.Hour), "a", 2, 2, 0},
		{day.Add(11 * time.Hour), "a", 2, 1, 13 * time.Hour},
		{day.Add(12 * time.Hour), "a", 1, 0, 12 * time.Hour},
		{day.Add(12 * time.Hour), "b", 3, 3, 0},
		{day.Add(24 * time.Hour), "a", 1, 1, 0},
	}
	for i, sc := range scenarios {
		granted, wait, _ := q.take(context.Background(), sc.key, sc.n, sc.at)
		if granted != sc.wantGranted || wait != sc.wantWait {
			t.Errorf("take %d: got %d %v, want %d %v", i, granted, wait, sc.wantGranted, sc.wantWait)
		}
	}
	if got, _, _ := newDailyQuota(0, nil).take(context.Background(), "a", 1000, day); got != 1000 {
		t.Errorf("no quota: got %d granted, want 1000", got)
	}
}

func TestIPKeyAndPrefix(t *testing.T) {
	scenarios := []struct {
		ip         string
		wantKey    string
		wantPrefix string
	}{
		{"203.0.113.7", "203.0.113.7/32", "203.0.113.0/24"},
		{"::ffff:203.0.113.7", "203.0.113.7/32", "203.0.113.0/24"},
		{"2001:db8:1234:5678:9abc::1", "2001:db8:1234:5678::/64", "2001:db8:1234::/48"},
		{"fe80::1%eth0", "fe80::/64", "fe80::/48"},
		{"not-an-ip", "invalid Prefix", ""},
	}
	for _, sc := range scenarios {
		t.Run(sc.ip, func(t *testing.T) {
			if got := ipKey(addrOf(sc.ip)).String(); got != sc.wantKey {
				t.Errorf("ipKey: got %q, want %q", got, sc.wantKey)
			}
			if got := ipPrefix(sc.ip); got != sc.wantPrefix {
				t.Errorf("ipPrefix: got %q, want %q", got, sc.wantPrefix)
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	scenarios := []struct {
		wait time.Duration
		want string
	}{
		{0, "1"},
		{time.Millisecond, "1"},
		{time.Second, "1"},
		{1500 * time.Millisecond, "2"},
		{14 * time.Hour, "50400"},
	}
	for _, sc := range scenarios {
		if got := retryAfterSeconds(sc.wait); got != sc.want {
			t.Errorf("retryAfterSeconds(%v): got %s, want %s", sc.wait, got, sc.want)
		}
	}
}

// TestClientAddrIsClientIP: the fast read of the client address agrees with
// gin's ClientIP, with and without a forwarded address from a trusted
// proxy or an untrusted peer.
func TestClientAddrIsClientIP(t *testing.T) {
	e := gin.New()
	e.ForwardedByClientIP = true
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := e.SetTrustedProxies([]string{"10.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ remote, xff string }{
		{"203.0.113.7:5000", ""},
		{"[2001:db8::1]:443", ""},
		{"[::ffff:203.0.113.7]:1", ""},
		{"10.1.2.3:80", "198.51.100.9"},
		{"10.1.2.3:80", "198.51.100.9, 10.2.3.4"},
		{"203.0.113.7:5000", "198.51.100.9"},
		{"garbage", ""},
	} {
		c := gin.CreateTestContextOnly(httptest.NewRecorder(), e)
		c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
		c.Request.RemoteAddr = tc.remote
		if tc.xff != "" {
			c.Request.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got, want := clientAddr(c), addrOf(c.ClientIP()); got != want {
			t.Errorf("remote %q, X-Forwarded-For %q: clientAddr %v, ClientIP %v", tc.remote, tc.xff, got, want)
		}
	}
}
