package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/reputation"
	"github.com/callrep/callrep/reputation/phone"
)

// flag makes three users report number as cat.
func (e *testEnv) flag(t *testing.T, number, cat string) {
	t.Helper()
	for i := range 3 {
		e.report(t, e.token(t, fmt.Sprintf("flagger%d", i)), map[string]any{"number": number, "category": cat}, http.StatusCreated)
	}
}

func (e *testEnv) rebuild(t *testing.T) []struct {
	Name    string
	Version uint64
	SHA256  string
} {
	t.Helper()
	r := e.do(t, request{method: http.MethodPost, path: "/v1/filters/rebuild", token: mustIssue(t, e.issuer, "mod", true, time.Hour)})
	wantStatus(t, r, http.StatusOK)
	var out struct {
		Filters []struct {
			Name    string
			Version uint64
			SHA256  string
		}
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Filters
}

func TestFilters(t *testing.T) {
	env := newEnv(t)
	const fraud, promo = "+8613800138000", "+8613911112222"
	env.flag(t, fraud, "fraud")
	env.flag(t, promo, "promotion")
	metas := env.rebuild(t)
	if len(metas) != 4 {
		t.Fatalf("filters: %+v", metas)
	}

	t.Run("Download", func(t *testing.T) {
		r := env.get(t, "/v1/filters/fraud", "")
		wantStatus(t, r, http.StatusOK)
		etag := strings.Trim(r.header.Get("ETag"), `"`)
		s, err := reputation.ParseFilter(r.body, etag)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Test(fraud) || s.Test(promo) || s.Delta() || r.header.Get("Cache-Control") == "" {
			t.Fatalf("fraud filter: test %v/%v delta %v", s.Test(fraud), s.Test(promo), s.Delta())
		}
		again := env.do(t, request{method: http.MethodGet, path: "/v1/filters/fraud", header: map[string]string{"If-None-Match": `"` + etag + `"`}})
		if again.status != http.StatusNotModified || len(again.body) != 0 {
			t.Fatalf("If-None-Match: got %d with %d bytes", again.status, len(again.body))
		}
	})
	t.Run("Capped", func(t *testing.T) {
		r := env.get(t, "/v1/filters?limit=1000", "")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"name":"fraud@1000"`) {
			t.Fatalf("capped listing: %s", r.body)
		}
		for _, path := range []string{"/v1/filters/fraud?limit=1000", "/v1/filters/fraud@1000"} {
			r := env.get(t, path, "")
			wantStatus(t, r, http.StatusOK)
			s, err := reputation.ParseFilter(r.body, strings.Trim(r.header.Get("ETag"), `"`))
			if err != nil || s.Name != "fraud@1000" || !s.Test(fraud) || s.Test(promo) {
				t.Fatalf("%s: got %+v (%v)", path, s, err)
			}
		}
	})
	t.Run("Errors", func(t *testing.T) {
		wantError(t, env.get(t, "/v1/filters/nope", ""), http.StatusNotFound, "not_found")
		wantError(t, env.get(t, "/v1/filters/fraud?since=x", ""), http.StatusBadRequest, "invalid_argument")
		wantError(t, env.get(t, "/v1/filters/fraud?limit=1500", ""), http.StatusBadRequest, "invalid_argument")
		wantError(t, env.get(t, "/v1/filters/fraud?limit=0", ""), http.StatusBadRequest, "invalid_argument")
		wantError(t, env.get(t, "/v1/filters?limit=1500", ""), http.StatusBadRequest, "invalid_argument")
		wantError(t, env.do(t, request{method: http.MethodPost, path: "/v1/filters/rebuild", token: env.token(t, "someone")}), http.StatusForbidden, "forbidden")
		wantError(t, env.get(t, "/v1/exports/callkit?kind=everything", ""), http.StatusBadRequest, "invalid_argument")
		wantError(t, env.get(t, "/v1/prefixes/ABCDE", ""), http.StatusBadRequest, "invalid_argument")
	})
	t.Run("Prefix", func(t *testing.T) {
		h := reputation.KeyHash(promo)
		r := env.get(t, "/v1/prefixes/"+h[:5], "")
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), h) || !strings.Contains(string(r.body), `"verdict":"spam"`) {
			t.Fatalf("bucket: %s", r.body)
		}
		if strings.Contains(env.logs.String(), h[:5]) && strings.Contains(env.logs.String(), promo) {
			t.Fatal("a whole number reached the logs")
		}
	})
	t.Run("CallKit", func(t *testing.T) {
		r := env.get(t, "/v1/exports/callkit?kind=identify", "")
		wantStatus(t, r, http.StatusOK)
		var ex struct {
			Version uint64
			Full    bool
			Entries []struct {
				Number uint64
				Label  string
			}
		}
		if err := json.Unmarshal(r.body, &ex); err != nil {
			t.Fatal(err)
		}
		if !ex.Full || len(ex.Entries) != 2 || ex.Entries[0].Number >= ex.Entries[1].Number || ex.Entries[0].Label == "" {
			t.Fatalf("export: %+v", ex)
		}
		// Retract the promotion labels: an incremental export removes it.
		for i := range 3 {
			env.delete(t, numberPath("/v1/reports/", promo), env.token(t, fmt.Sprintf("flagger%d", i)))
		}
		env.clock.Add(2 * time.Second)
		env.rebuild(t)
		r = env.get(t, fmt.Sprintf("/v1/exports/callkit?kind=identify&since=%d", ex.Version), "")
		wantStatus(t, r, http.StatusOK)
		var inc struct {
			Full    bool
			Entries []any
			Removed []uint64
		}
		json.Unmarshal(r.body, &inc)
		if inc.Full || len(inc.Entries) != 0 || len(inc.Removed) != 1 || inc.Removed[0] != 8613911112222 {
			t.Fatalf("incremental export: %s", r.body)
		}
	})
}

// TestReferencePhone runs the reference phone against the server: a full
// download, a delta after new reports, and a full snapshot again when a
// number leaves a list.
func TestReferencePhone(t *testing.T) {
	env := newEnv(t)
	env.flag(t, "+8613800000001", "fraud")
	env.rebuild(t)
	p, err := phone.Open(t.TempDir(), env.url, env.client)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := p.Check("+8613800000001"); got != "block" && got != "fraud" {
		t.Fatalf("check: %q", got)
	}
	if got := p.Check("+8613800000002"); got != "" {
		t.Fatalf("unflagged number: %q", got)
	}
	before := p.Version("fraud")

	env.flag(t, "+8613800000002", "fraud")
	env.rebuild(t)
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.Version("fraud") <= before {
		t.Fatal("no new version")
	}
	if got := p.Check("+8613800000002"); got != "block" && got != "fraud" {
		t.Fatalf("after delta: %q", got)
	}

	// A cleared number: the next sync must take a full snapshot.
	for i := range 3 {
		env.delete(t, numberPath("/v1/reports/", "+8613800000001"), env.token(t, fmt.Sprintf("flagger%d", i)))
	}
	env.rebuild(t)
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := p.Check("+8613800000001"); got != "" {
		t.Fatalf("cleared number still flagged as %q", got)
	}
	if got := p.Check("+8613800000002"); got != "block" && got != "fraud" {
		t.Fatalf("after full snapshot: %q", got)
	}
	// A fresh phone over the same directory reads what was kept.
	again, err := phone.Open(p.Dir(), env.url, env.client)
	if err != nil || again.Version("fraud") != p.Version("fraud") {
		t.Fatalf("reopened: version %d, want %d (%v)", again.Version("fraud"), p.Version("fraud"), err)
	}
}
