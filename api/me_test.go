package api_test

import (
	"fmt"
	"net/http"
	"net/url"
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

func TestEraseMe(t *testing.T) {
	env := newEnv(t)
	alice, bob := env.token(t, "alice"), env.token(t, "bob")
	env.report(t, alice, map[string]any{"number": target, "category": "fraud", "comment": "personal"}, http.StatusCreated)
	env.report(t, alice, map[string]any{"number": "+8613800138009", "category": "survey"}, http.StatusCreated)
	env.report(t, bob, map[string]any{"number": target, "category": "fraud"}, http.StatusCreated)

	type erasure struct {
		ErasedLabels         int `json:"erased_labels"`
		ErasedDevices        int `json:"erased_devices"`
		PseudonymisedReports int `json:"pseudonymised_reports"`
	}
	r := env.delete(t, "/v1/me", alice)
	wantStatus(t, r, http.StatusOK)
	if got := decodeAs[erasure](t, r); got.ErasedLabels != 2 || got.PseudonymisedReports < 2 {
		t.Fatalf("erasure: got %+v, want 2 labels and at least 2 reports", got)
	}
	if got := env.lookup(t, target, ""); got.Reporters != 1 {
		t.Fatalf("lookup: got %d reporters, want bob's only", got.Reporters)
	}
	if mine := env.mine(t, alice); len(mine) != 0 {
		t.Fatalf("alice's labels: got %+v, want none", mine)
	}

	r = env.delete(t, "/v1/me", alice)
	wantStatus(t, r, http.StatusOK)
	if got := decodeAs[erasure](t, r); got != (erasure{}) {
		t.Fatalf("second erasure: got %+v, want zeros", got)
	}
}
