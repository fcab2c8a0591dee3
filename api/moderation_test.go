package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/moderation"
	"github.com/callrep/callrep/reputation"
)

// The concrete type the wiring passes for the moderation routes.
var _ api.Moderation = (*moderation.Service)(nil)

// modAPIEnv is the API env with a real moderation service on the env's
// own labels service and engine, over an embedded FerretDB.
type modAPIEnv struct {
	*testEnv
	mod *moderation.Service
}

func newModAPIEnv(t *testing.T) *modAPIEnv {
	t.Helper()
	var svc *moderation.Service
	env := newEnv(t, func(c *api.Config) {
		ctx := context.Background()
		st, err := moderation.OpenStore(ctx, mongotest.Open(t).DB)
		if err != nil {
			t.Fatal(err)
		}
		svc, err = moderation.Open(ctx, moderation.Config{Store: st, Labels: c.Labels.(*labels.Service), Reputations: c.Reputation.(*reputation.Engine),
			Now: c.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		c.Moderation = svc
	})
	return &modAPIEnv{testEnv: env, mod: svc}
}

type caseResponse struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Number      string `json:"number"`
	Status      string `json:"status"`
	OwnerProven bool   `json:"owner_proven"`
	Filer       string `json:"filer"`
	ClaimedBy   string `json:"claimed_by"`
	Version     int64  `json:"version"`
	Decision    *struct {
		Outcome      string `json:"outcome"`
		Category     string `json:"category"`
		BusinessName string `json:"business_name"`
		DecidedBy    string `json:"decided_by"`
	} `json:"decision"`
}

type caseListResponse struct {
	Cases []caseResponse `json:"cases"`
}

type moderatedLookup struct {
	Verdict        string `json:"verdict"`
	CallerName     string `json:"caller_name"`
	Disputed       bool   `json:"disputed"`
	DisputeOutcome string `json:"dispute_outcome"`
}

func (e *modAPIEnv) file(t *testing.T, token, number string) caseResponse {
	t.Helper()
	r := e.post(t, "/v1/disputes", token, map[string]any{"number": number, "reason": "we are a courier",
		"identity": "Acme Couriers", "evidence": []string{"https://example.com/licence.pdf"}})
	wantStatus(t, r, http.StatusCreated)
	return decodeAs[caseResponse](t, r)
}

func (e *modAPIEnv) moderatedLookup(t *testing.T, number string) moderatedLookup {
	t.Helper()
	r := e.get(t, numberPath("/v1/numbers/", number), "")
	wantStatus(t, r, http.StatusOK)
	return decodeAs[moderatedLookup](t, r)
}

func TestDisputesAPI(t *testing.T) {
	e := newModAPIEnv(t)
	alice, bob := e.token(t, "alice"), e.token(t, "bob")
	const num = "+8613912345678"

	t.Run("BadInputStoresNothing", func(t *testing.T) {
		for _, body := range []any{
			map[string]any{"number": num},
			map[string]any{"number": num, "reason": strings.Repeat("x", 2001)},
			map[string]any{"number": num, "reason": "x", "evidence": []string{"ftp://x"}},
			map[string]any{"number": num, "reason": "x", "extra": true},
			`{"number": 5}`,
		} {
			r := e.post(t, "/v1/disputes", alice, body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%v: status %d, want 400", body, r.status)
			}
		}
		wantError(t, e.post(t, "/v1/disputes", alice, map[string]any{"number": "110", "reason": "x"}), http.StatusUnprocessableEntity, "number_not_labelable")
		wantError(t, e.post(t, "/v1/disputes", "", map[string]any{"number": num, "reason": "x"}), http.StatusUnauthorized, "unauthorized")
		r := e.get(t, "/v1/me/disputes", alice)
		wantStatus(t, r, http.StatusOK)
		if got := decodeAs[caseListResponse](t, r).Cases; len(got) != 0 {
			t.Fatalf("bad input stored %+v", got)
		}
	})

	c := e.file(t, alice, num)
	if c.Status != "open" || c.Number != num || c.Filer != "" || c.Version != 1 {
		t.Fatalf("filed case: %+v", c)
	}
	wantError(t, e.post(t, "/v1/disputes", alice, map[string]any{"number": "139 1234 5678", "region": "CN", "reason": "again"}), http.StatusConflict, "conflict")
	if l := e.moderatedLookup(t, num); !l.Disputed {
		t.Fatalf("lookup while open: %+v", l)
	}
	r := e.get(t, "/v1/disputes/"+c.ID, alice)
	wantStatus(t, r, http.StatusOK)
	wantError(t, e.get(t, "/v1/disputes/"+c.ID, bob), http.StatusNotFound, "not_found")
	wantError(t, e.get(t, "/v1/disputes/c-nosuchcase", alice), http.StatusNotFound, "not_found")
	r = e.get(t, "/v1/me/disputes", bob)
	wantStatus(t, r, http.StatusOK)
	if got := decodeAs[caseListResponse](t, r).Cases; len(got) != 0 {
		t.Fatalf("bob sees %+v", got)
	}

	t.Run("RateLimited", func(t *testing.T) {
		carol := e.token(t, "carol")
		for i := range 3 {
			e.file(t, carol, fmt.Sprintf("+861380013%04d", i))
		}
		wantError(t, e.post(t, "/v1/disputes", carol, map[string]any{"number": "+8613800139999", "reason": "x"}), http.StatusTooManyRequests, "rate_limited")
	})
}

// TestModerationRoutesNeedAModerator: every moderation route is 401
// without a token and 403 for a plain user.
func TestModerationRoutesNeedAModerator(t *testing.T) {
	e := newModAPIEnv(t)
	user := e.token(t, "user")
	c := e.file(t, user, "+8613912345678")
	routes := []struct{ method, path string }{
		{http.MethodGet, "/v1/moderation/cases"},
		{http.MethodGet, "/v1/moderation/cases/" + c.ID},
		{http.MethodPost, "/v1/moderation/cases/" + c.ID + "/claim"},
		{http.MethodPost, "/v1/moderation/cases/" + c.ID + "/release"},
		{http.MethodPost, "/v1/moderation/cases/" + c.ID + "/decision"},
		{http.MethodGet, "/v1/moderation/audit"},
	}
	count := 0
	for _, rt := range e.api.Routes() {
		if strings.HasPrefix(rt.Path, "/v1/moderation/") {
			count++
		}
	}
	if count != len(routes) {
		t.Fatalf("%d moderation routes served, %d checked here", count, len(routes))
	}
	for _, rt := range routes {
		var body any
		if rt.method == http.MethodPost {
			body = map[string]any{"version": c.Version, "outcome": "overturned"}
		}
		wantError(t, e.do(t, request{method: rt.method, path: rt.path, body: body}), http.StatusUnauthorized, "unauthorized")
		wantError(t, e.do(t, request{method: rt.method, path: rt.path, token: user, body: body}), http.StatusForbidden, "forbidden")
	}
	if l := e.moderatedLookup(t, "+8613912345678"); !l.Disputed || l.DisputeOutcome != "" {
		t.Fatalf("a refused decision changed the number: %+v", l)
	}
}

func TestModeratorAPI(t *testing.T) {
	e := newModAPIEnv(t)
	mod := mustIssue(t, e.issuer, "mod", true, time.Hour)
	mod2 := mustIssue(t, e.issuer, "mod2", true, time.Hour)
	const num = "+8613912345678"
	for i := range 4 {
		e.do(t, request{method: http.MethodPost, path: "/v1/reports", token: e.token(t, fmt.Sprint("r", i)),
			body: map[string]any{"number": num, "category": "fraud"}, header: map[string]string{}})
	}
	stranger := e.file(t, e.token(t, "stranger"), num)
	owner, err := e.issuer.IssueFor(api.Principal{UID: "owner", Phone: num}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	mine := e.file(t, owner, num)
	if !mine.OwnerProven || stranger.OwnerProven {
		t.Fatalf("owner proven: %v / %v", mine.OwnerProven, stranger.OwnerProven)
	}

	r := e.get(t, "/v1/moderation/cases", mod)
	wantStatus(t, r, http.StatusOK)
	queue := decodeAs[caseListResponse](t, r).Cases
	if len(queue) != 2 || queue[0].ID != mine.ID || queue[0].Filer != "local:owner" {
		t.Fatalf("queue: %+v; want the proven owner's case first", queue)
	}
	r = e.get(t, "/v1/moderation/cases?owner_proven=false&sort=newest", mod)
	wantStatus(t, r, http.StatusOK)
	if q := decodeAs[caseListResponse](t, r).Cases; len(q) != 1 || q[0].ID != stranger.ID {
		t.Fatalf("filtered queue: %+v", q)
	}
	wantError(t, e.get(t, "/v1/moderation/cases?sort=random", mod), http.StatusBadRequest, "invalid_argument")
	wantError(t, e.get(t, "/v1/moderation/cases?status=gone", mod), http.StatusBadRequest, "invalid_argument")
	wantError(t, e.get(t, "/v1/moderation/cases?kind=gone", mod), http.StatusBadRequest, "invalid_argument")

	r = e.get(t, "/v1/moderation/cases/"+mine.ID, mod)
	wantStatus(t, r, http.StatusOK)
	view := decodeAs[struct {
		Histogram map[string]int `json:"histogram"`
		Daily     []struct {
			Day    string         `json:"day"`
			Counts map[string]int `json:"counts"`
		} `json:"daily"`
		Contributions []map[string]any `json:"contributions"`
		Earlier       []caseResponse   `json:"earlier"`
	}](t, r)
	if view.Histogram["fraud"] != 4 || len(view.Daily) != 1 || view.Daily[0].Counts["fraud"] != 4 ||
		len(view.Contributions) != 4 || len(view.Earlier) != 1 || view.Earlier[0].ID != stranger.ID {
		t.Fatalf("case view: %+v", view)
	}

	r = e.post(t, "/v1/moderation/cases/"+mine.ID+"/claim", mod, map[string]any{"version": mine.Version})
	wantStatus(t, r, http.StatusOK)
	claimed := decodeAs[caseResponse](t, r)
	wantError(t, e.post(t, "/v1/moderation/cases/"+mine.ID+"/release", mod2, map[string]any{"version": claimed.Version}), http.StatusConflict, "conflict")
	decision := map[string]any{"version": mine.Version, "outcome": "verified_business", "business_name": "Acme Couriers"}
	wantError(t, e.post(t, "/v1/moderation/cases/"+mine.ID+"/decision", mod, decision), http.StatusConflict, "conflict")
	decision["version"] = claimed.Version
	wantError(t, e.post(t, "/v1/moderation/cases/"+mine.ID+"/decision", mod, map[string]any{"version": claimed.Version,
		"outcome": "verified_business"}), http.StatusBadRequest, "invalid_argument")
	wantError(t, e.post(t, "/v1/moderation/cases/"+mine.ID+"/decision", mod, map[string]any{"version": claimed.Version,
		"outcome": "relabelled", "category": "nonsense"}), http.StatusBadRequest, "unknown_category")
	r = e.post(t, "/v1/moderation/cases/"+mine.ID+"/decision", mod, decision)
	wantStatus(t, r, http.StatusOK)
	done := decodeAs[caseResponse](t, r)
	if done.Status != "resolved" || done.Decision == nil || done.Decision.DecidedBy != "local:mod" || done.Decision.Category != "customer_service" {
		t.Fatalf("decided: %+v", done)
	}
	if l := e.moderatedLookup(t, num); l.Verdict != "verified" || l.CallerName != "Acme Couriers" || !l.Disputed || l.DisputeOutcome != "verified_business" {
		t.Fatalf("lookup after the decision: %+v", l)
	}
	// The filer follows the decision without seeing who made it.
	r = e.get(t, "/v1/disputes/"+mine.ID, owner)
	wantStatus(t, r, http.StatusOK)
	if got := decodeAs[caseResponse](t, r); got.Decision == nil || got.Decision.Outcome != "verified_business" || got.Decision.DecidedBy != "" {
		t.Fatalf("filer's view: %+v", got)
	}

	r = e.post(t, "/v1/moderation/cases/"+stranger.ID+"/decision", mod2, map[string]any{"version": stranger.Version, "outcome": "upheld"})
	wantStatus(t, r, http.StatusOK)
	if l := e.moderatedLookup(t, num); l.Verdict != "fraud" || l.CallerName != "" || l.Disputed || l.DisputeOutcome != "upheld" {
		t.Fatalf("lookup after upholding: %+v", l)
	}

	r = e.get(t, "/v1/moderation/audit?action=decide", mod)
	wantStatus(t, r, http.StatusOK)
	audit := decodeAs[struct {
		Entries []struct {
			Actor  string            `json:"actor"`
			Case   string            `json:"case"`
			Before map[string]string `json:"before"`
			After  map[string]string `json:"after"`
		} `json:"entries"`
	}](t, r).Entries
	if len(audit) != 2 || audit[0].Actor != "local:mod2" || audit[1].Case != mine.ID ||
		audit[1].Before["verdict"] != "fraud" || audit[1].After["verdict"] != "verified" || audit[1].After["caller_name"] != "Acme Couriers" {
		t.Fatalf("audit: %+v", audit)
	}
	r = e.get(t, "/v1/moderation/audit?number=13912345678&region=CN&actor=local:owner", mod)
	wantStatus(t, r, http.StatusOK)
	if n := len(decodeAs[struct {
		Entries []any `json:"entries"`
	}](t, r).Entries); n != 1 {
		t.Fatalf("audit by number and actor: %d entries, want the filing", n)
	}
	wantError(t, e.get(t, "/v1/moderation/audit?since=yesterday", mod), http.StatusBadRequest, "invalid_argument")
}

// TestModeratorReportSource: a moderator's own report is stored with
// source moderator, a user's with source app.
func TestModeratorReportSource(t *testing.T) {
	e := newEnv(t)
	for uid, want := range map[string]string{"mod": "moderator", "user": "app"} {
		tok := mustIssue(t, e.issuer, uid, uid == "mod", time.Hour)
		if r := e.report(t, tok, map[string]any{"number": "+8613800138000", "category": "fraud"}, http.StatusCreated); r.Source != want {
			t.Errorf("%s's report: source %q, want %q", uid, r.Source, want)
		}
	}
	if l, ok := e.labels.LabelOf(reporterID("mod"), "+8613800138000"); !ok || l.Source != "moderator" {
		t.Fatalf("moderator's live label: %+v %v", l, ok)
	}
}

func TestConsoleAssets(t *testing.T) {
	e := newEnv(t)
	for path, ctype := range map[string]string{
		"/console": "text/html", "/console/console.js": "text/javascript", "/console/console.css": "text/css",
	} {
		r := e.get(t, path, "")
		wantStatus(t, r, http.StatusOK)
		if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, ctype) {
			t.Errorf("%s: content type %q, want %s", path, got, ctype)
		}
		if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	page := string(e.get(t, "/console", "").body)
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the console page loads something from elsewhere")
	}
	for _, path := range []string{"/console/index.html", "/console/nothing.js", "/console/console.go"} {
		wantError(t, e.get(t, path, ""), http.StatusNotFound, "not_found")
	}
}
