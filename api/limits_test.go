package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
)

// smallLimits makes every limit reachable in a few requests.
func smallLimits() api.Limits {
	return api.Limits{
		RequestsPerMinute:         60, // one a second
		RequestBurst:              3,
		SignedInRequestsPerMinute: 60,
		SignedInRequestBurst:      6,
		ReportsPerMinute:          2,
		ReportBurst:               2,
		DailyReports:              0,
		MaxBodyBytes:              1 << 20,
	}
}

func wantRetryAfter(tb testing.TB, r response, want int) {
	tb.Helper()
	got, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || got != want {
		tb.Fatalf("Retry-After: got %q, want %d", r.header.Get("Retry-After"), want)
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("AnonymousPerIP", func(t *testing.T) {
		env := newEnv(t, withLimits(smallLimits()))
		for range 3 {
			wantStatus(t, env.get(t, "/v1/numbers/%2B8613800138000", ""), http.StatusOK)
		}
		r := env.get(t, "/v1/categories", "")
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		wantRetryAfter(t, r, 1)

		// Health and docs are not rate limited.
		wantStatus(t, env.get(t, "/healthz", ""), http.StatusOK)

		env.clock.Add(time.Second)
		wantStatus(t, env.get(t, "/v1/categories", ""), http.StatusOK)
		wantError(t, env.get(t, "/v1/categories", ""), http.StatusTooManyRequests, "rate_limited")
	})
	t.Run("SignedInHigher", func(t *testing.T) {
		env := newEnv(t, withLimits(smallLimits()))
		alice := env.token(t, "alice")
		for range 6 {
			wantStatus(t, env.get(t, "/v1/numbers/%2B8613800138000", alice), http.StatusOK)
		}
		wantError(t, env.get(t, "/v1/numbers/%2B8613800138000", alice), http.StatusTooManyRequests, "rate_limited")
		// The anonymous budget of the address is separate.
		wantStatus(t, env.get(t, "/v1/numbers/%2B8613800138000", ""), http.StatusOK)
	})
	t.Run("BatchLookupCostsPerNumber", func(t *testing.T) {
		env := newEnv(t, withLimits(smallLimits()))
		body := map[string]any{"numbers": []string{"+8613800138000", "+8613800138001", "+8613800138002"}}
		wantStatus(t, env.post(t, "/v1/numbers/lookup", "", body), http.StatusOK)
		r := env.post(t, "/v1/numbers/lookup", "", body)
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		wantRetryAfter(t, r, 1)
		env.clock.Add(2 * time.Second)
		r = env.post(t, "/v1/numbers/lookup", "", body)
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		wantRetryAfter(t, r, 1)
	})
	t.Run("ReportsPerReporter", func(t *testing.T) {
		limits := smallLimits()
		limits.SignedInRequestBurst = 100
		env := newEnv(t, withLimits(limits))
		alice, bob := env.token(t, "alice"), env.token(t, "bob")
		env.report(t, alice, map[string]any{"number": "+8613800138000", "category": "fraud"}, http.StatusCreated)
		env.report(t, alice, map[string]any{"number": "+8613800138001", "category": "fraud"}, http.StatusCreated)
		r := env.post(t, "/v1/reports", alice, map[string]any{"number": "+8613800138002", "category": "fraud"})
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		wantRetryAfter(t, r, 30)
		wantError(t, env.post(t, "/v1/reports/batch", alice, map[string]any{"reports": []any{map[string]any{"number": "+8613800138002", "category": "fraud"}}}),
			http.StatusTooManyRequests, "rate_limited")
		wantError(t, env.delete(t, "/v1/reports/%2B8613800138000", alice), http.StatusTooManyRequests, "rate_limited")
		// Another reporter from the same address has a budget of their own.
		env.report(t, bob, map[string]any{"number": "+8613800138002", "category": "fraud"}, http.StatusCreated)

		env.clock.Add(30 * time.Second)
		env.report(t, alice, map[string]any{"number": "+8613800138002", "category": "fraud"}, http.StatusCreated)
		if got := env.lookup(t, "+8613800138002", ""); got.Reporters != 2 {
			t.Fatalf("lookup: got %d reporters, want 2 (nothing stored by refused requests)", got.Reporters)
		}
	})
	t.Run("DailyQuota", func(t *testing.T) {
		limits := smallLimits()
		limits.SignedInRequestBurst = 100
		limits.ReportsPerMinute, limits.ReportBurst = 600, 100
		limits.DailyReports = 3
		env := newEnv(t, withLimits(limits))
		alice := env.token(t, "alice")
		env.report(t, alice, map[string]any{"number": "+8613800138000", "category": "fraud"}, http.StatusCreated)
		env.report(t, alice, map[string]any{"number": "+8613800138001", "category": "fraud"}, http.StatusCreated)

		// The batch gets the one report left; the rest is refused per item.
		r := env.post(t, "/v1/reports/batch", alice, map[string]any{"reports": []any{
			map[string]any{"number": "+8613800138002", "category": "fraud"},
			map[string]any{"number": "+8613800138003", "category": "fraud"},
		}})
		wantStatus(t, r, http.StatusOK)
		got := decodeAs[batchResponse](t, r)
		if got.Accepted != 1 || got.Results[0].Status != 201 || got.Results[1].Status != 429 || got.Results[1].Error.Code != "quota_exceeded" {
			t.Fatalf("batch: got %+v, want the first stored and the second refused with quota_exceeded", got)
		}

		r = env.post(t, "/v1/reports", alice, map[string]any{"number": "+8613800138004", "category": "fraud"})
		wantError(t, r, http.StatusTooManyRequests, "quota_exceeded")
		// apiEpoch is 10:00 UTC: the quota resets in 14 hours.
		wantRetryAfter(t, r, 14*3600)
		if mine := env.mine(t, alice); len(mine) != 3 {
			t.Fatalf("alice's labels: got %d, want 3", len(mine))
		}

		env.clock.Set(apiEpoch.Truncate(24 * time.Hour).Add(24 * time.Hour))
		env.report(t, alice, map[string]any{"number": "+8613800138004", "category": "fraud"}, http.StatusCreated)
	})
}

// TestTrustedProxies checks that X-Forwarded-For names the client only
// when the request comes from a configured proxy: the stored network
// prefix and the rate limit key follow it.
func TestTrustedProxies(t *testing.T) {
	scenarios := []struct {
		name       string
		trusted    []string
		xff        string
		wantPrefix string
	}{
		{"NoProxyConfigured", nil, "203.0.113.7", "127.0.0.0/24"},
		{"OtherProxyConfigured", []string{"10.0.0.1"}, "203.0.113.7", "127.0.0.0/24"},
		{"LoopbackTrusted", []string{"127.0.0.1"}, "203.0.113.7", "203.0.113.0/24"},
		{"CIDRTrusted", []string{"127.0.0.0/8"}, "203.0.113.7", "203.0.113.0/24"},
		{"ChainRightmostUntrusted", []string{"127.0.0.1"}, "198.51.100.9, 203.0.113.7", "203.0.113.0/24"},
		{"ChainThroughTrusted", []string{"127.0.0.1", "203.0.113.0/24"}, "198.51.100.9, 203.0.113.7", "198.51.100.0/24"},
		{"IPv6Client", []string{"127.0.0.1"}, "2001:db8:1234:5678::1", "2001:db8:1234::/48"},
		{"Garbage", []string{"127.0.0.1"}, "not-an-ip", "127.0.0.0/24"},
		{"NoHeader", []string{"127.0.0.1"}, "", "127.0.0.0/24"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			env := newEnv(t, withTrustedProxies(sc.trusted...))
			req := request{method: http.MethodPost, path: "/v1/reports", token: env.token(t, "alice"),
				body: map[string]any{"number": target, "category": "fraud"}}
			if sc.xff != "" {
				req.header = map[string]string{"X-Forwarded-For": sc.xff}
			}
			wantStatus(t, env.do(t, req), http.StatusCreated)
			// The prefix is kept in the history, which Mine reads.
			mine, _, err := env.labels.Mine(context.Background(), reporterID("alice"), 10, "")
			if err != nil || len(mine) != 1 {
				t.Fatalf("labels: got %v, %v; want alice's one", mine, err)
			}
			if l := mine[0]; l.IPPrefix != sc.wantPrefix {
				t.Fatalf("ip prefix: got %q, want %q", l.IPPrefix, sc.wantPrefix)
			}
		})
	}

	limits := smallLimits()
	limits.RequestBurst = 1
	buckets := []struct {
		name     string
		trusted  []string
		wantNext int
	}{
		{"Trusted", []string{"127.0.0.1"}, http.StatusOK},
		{"Untrusted", nil, http.StatusTooManyRequests},
	}
	for _, sc := range buckets {
		t.Run("RateLimitKey/"+sc.name, func(t *testing.T) {
			env := newEnv(t, withLimits(limits), withTrustedProxies(sc.trusted...))
			get := func(ip string) response {
				return env.do(t, request{method: http.MethodGet, path: "/v1/categories", header: map[string]string{"X-Forwarded-For": ip}})
			}
			wantStatus(t, get("203.0.113.7"), http.StatusOK)
			wantStatus(t, get("203.0.113.8"), sc.wantNext)
			wantError(t, get("203.0.113.7"), http.StatusTooManyRequests, "rate_limited")
		})
	}
}

// TestLimiterEviction checks that an address that went quiet starts over
// with a full bucket once its bucket has refilled and been dropped.
func TestLimiterEviction(t *testing.T) {
	limits := smallLimits()
	limits.RequestBurst = 1
	env := newEnv(t, withLimits(limits), withTrustedProxies("127.0.0.1"))
	get := func(ip string) response {
		return env.do(t, request{method: http.MethodGet, path: "/v1/categories", header: map[string]string{"X-Forwarded-For": ip}})
	}
	wantStatus(t, get("203.0.113.7"), http.StatusOK)
	wantError(t, get("203.0.113.7"), http.StatusTooManyRequests, "rate_limited")
	env.clock.Add(10 * time.Minute)
	wantStatus(t, get("203.0.113.9"), http.StatusOK) // sweeps
	wantStatus(t, get("203.0.113.7"), http.StatusOK)
	wantError(t, get("203.0.113.7"), http.StatusTooManyRequests, "rate_limited")
}
