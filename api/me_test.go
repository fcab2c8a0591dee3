package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestMyLabels(t *testing.T) {
	env := newEnv(t)
	alice, bob := env.token(t, "alice"), env.token(t, "bob")
	var numbers []string
	for i := range 5 {
		n := fmt.Sprintf("+86138001380%02d", i)
		numbers = append(numbers, n)
		env.report(t, alice, map[string]any{"number": n, "category": "promotion"}, http.StatusCreated)
		env.clock.Add(time.Second)
	}
	env.report(t, bob, map[string]any{"number": numbers[0], "category": "fraud"}, http.StatusCreated)

	t.Run("Pages", func(t *testing.T) {
		var got []string
		path := "/v1/me/reports?limit=2"
		pages := 0
		for {
			r := env.get(t, path, alice)
			wantStatus(t, r, http.StatusOK)
			page := decodeAs[labelPageResponse](t, r)
			pages++
			if len(page.Labels) > 2 {
				t.Fatalf("page %d: got %d labels, want at most 2", pages, len(page.Labels))
			}
			for _, l := range page.Labels {
				got = append(got, l.Number)
			}
			if page.NextCursor == "" {
				break
			}
			path = "/v1/me/reports?limit=2&cursor=" + url.QueryEscape(page.NextCursor)
		}
		// Most recently updated first.
		want := []string{numbers[4], numbers[3], numbers[2], numbers[1], numbers[0]}
		if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
			t.Fatalf("labels: got %v in %d pages, want %v in 3", got, pages, want)
		}
	})
	t.Run("DefaultLimit", func(t *testing.T) {
		r := env.get(t, "/v1/me/reports", alice)
		wantStatus(t, r, http.StatusOK)
		if page := decodeAs[labelPageResponse](t, r); len(page.Labels) != 5 || page.NextCursor != "" {
			t.Fatalf("page: got %d labels cursor %q, want 5 and none", len(page.Labels), page.NextCursor)
		}
	})
	t.Run("OnlyOwn", func(t *testing.T) {
		mine := env.mine(t, bob)
		if len(mine) != 1 || mine[0].Category != "fraud" {
			t.Fatalf("bob's labels: got %+v, want his one fraud label", mine)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		r := env.get(t, "/v1/me/reports", env.token(t, "nobody"))
		wantStatus(t, r, http.StatusOK)
		if string(r.body) != `{"labels":[]}` {
			t.Fatalf("body: got %s, want {\"labels\":[]}", r.body)
		}
	})

	bad := []struct {
		name  string
		query string
	}{
		{"LimitZero", "limit=0"},
		{"LimitTooLarge", "limit=1001"},
		{"LimitNotANumber", "limit=ten"},
		{"LimitEmpty", "limit="},
		{"CursorGarbage", "cursor=not-a-cursor"},
		{"CursorEmpty", "cursor="},
	}
	for _, sc := range bad {
		t.Run(sc.name, func(t *testing.T) {
			wantError(t, env.get(t, "/v1/me/reports?"+sc.query, alice), http.StatusBadRequest, "invalid_argument")
		})
	}
}

// erasureResponse is an erasure job's status.
type erasureResponse struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	StatusURL  string     `json:"status_url"`
	AcceptedAt time.Time  `json:"accepted_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Erased     struct {
		ErasedLabels         int `json:"erased_labels"`
		ErasedDevices        int `json:"erased_devices"`
		PseudonymisedReports int `json:"pseudonymised_reports"`
	} `json:"erased"`
}

// erase sends DELETE /v1/me and polls the job until it is done.
func (e *testEnv) erase(tb testing.TB, token string) erasureResponse {
	tb.Helper()
	r := e.delete(tb, "/v1/me", token)
	wantStatus(tb, r, http.StatusAccepted)
	job := decodeAs[erasureResponse](tb, r)
	if job.ID == "" || job.StatusURL != "/v1/erasures/"+job.ID || r.header.Get("Location") != job.StatusURL {
		tb.Fatalf("erasure: got %+v (Location %q), want a job and its status URL", job, r.header.Get("Location"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for job.State != "done" {
		if time.Now().After(deadline) {
			tb.Fatalf("erasure %s still %s after 30 s: %+v", job.ID, job.State, job)
		}
		time.Sleep(20 * time.Millisecond)
		r := e.get(tb, job.StatusURL, "")
		wantStatus(tb, r, http.StatusOK)
		job = decodeAs[erasureResponse](tb, r)
	}
	if job.FinishedAt == nil {
		tb.Fatalf("a done erasure without finished_at: %+v", job)
	}
	return job
}

func TestEraseMe(t *testing.T) {
	env := newEnv(t)
	// Issued two seconds before the erasure: a revocation voids the
	// tokens issued before its second.
	early := mustLocalIssuer(t, env.issuerDir, authEpoch.Add(-2*time.Second))
	alice, bob := mustIssue(t, early, "alice", false, time.Hour), env.token(t, "bob")
	env.report(t, alice, map[string]any{"number": target, "category": "fraud", "comment": "personal"}, http.StatusCreated)
	env.report(t, alice, map[string]any{"number": "+8613800138009", "category": "survey"}, http.StatusCreated)
	env.report(t, bob, map[string]any{"number": target, "category": "fraud"}, http.StatusCreated)

	job := env.erase(t, alice)
	if job.Erased.ErasedLabels != 2 || job.Erased.PseudonymisedReports < 2 {
		t.Fatalf("erasure: got %+v, want 2 labels and at least 2 reports", job.Erased)
	}
	if got := env.lookup(t, target, ""); got.Reporters != 1 {
		t.Fatalf("lookup: got %d reporters, want bob's only", got.Reporters)
	}
	// The token the erasure was asked with no longer works.
	e := wantError(t, env.get(t, "/v1/me/reports", alice), http.StatusUnauthorized, "unauthorized")
	if !strings.Contains(e.Error.Message, "revoked") {
		t.Errorf("401 message: got %q, want it to say the token was revoked", e.Error.Message)
	}
	// Signed in again, alice has nothing left, and a second erasure finds
	// nothing.
	again := env.token(t, "alice")
	if mine := env.mine(t, again); len(mine) != 0 {
		t.Fatalf("alice's labels: got %+v, want none", mine)
	}
	if second := env.erase(t, again); second.ID == job.ID || second.Erased != (erasureResponse{}).Erased {
		t.Fatalf("second erasure: got %+v, want a new job with zeros", second)
	}
	if got := env.mine(t, bob); len(got) != 1 {
		t.Fatalf("bob's labels: got %d, want 1", len(got))
	}
	wantError(t, env.get(t, "/v1/erasures/e-0000", ""), http.StatusNotFound, "not_found")
}
