package api_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/docs"
	"github.com/callrep/callrep/openapi"
)

func TestServiceRoutes(t *testing.T) {
	env := newEnv(t)
	scenarios := []struct {
		path        string
		contentType string
		check       func(t *testing.T, body []byte)
	}{
		{"/healthz", "application/json", func(t *testing.T, body []byte) {
			if got := strings.TrimSpace(string(body)); got != `{"status":"ok"}` {
				t.Errorf("body: got %s, want {\"status\":\"ok\"}", got)
			}
		}},
		{"/openapi.yaml", "application/yaml", func(t *testing.T, body []byte) {
			if !bytes.Equal(body, openapi.Spec()) {
				t.Error("body: got something else, want the embedded document")
			}
		}},
		{"/docs", "text/html", func(t *testing.T, body []byte) {
			if !bytes.Contains(body, []byte("/v1/numbers/{number}")) {
				t.Error("body: got a page without the routes, want them documented")
			}
			if bytes.Contains(body, []byte("<script src=")) || bytes.Contains(body, []byte("https://cdn")) {
				t.Error("body: got external resources, want a self-contained page")
			}
			if !bytes.Contains(body, []byte(`href="/docs/phone-contract.md"`)) {
				t.Error("body: got no link to the phone contract")
			}
		}},
		{"/docs/phone-contract.md", "text/markdown", func(t *testing.T, body []byte) {
			if !bytes.Equal(body, docs.PhoneContract) || !bytes.Contains(body, []byte("MurmurHash3_x64_128")) {
				t.Error("body: got something else, want docs/phone-contract.md")
			}
		}},
	}
	for _, sc := range scenarios {
		t.Run(strings.TrimPrefix(sc.path, "/"), func(t *testing.T) {
			r := env.get(t, sc.path, "")
			wantStatus(t, r, http.StatusOK)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, sc.contentType) {
				t.Errorf("Content-Type: got %q, want %s", ct, sc.contentType)
			}
			sc.check(t, r.body)
		})
	}
}

func TestReadyz(t *testing.T) {
	scenarios := []struct {
		name       string
		ready      func(context.Context) error
		wantStatus int
		wantBody   string
	}{
		{"Ready", func(context.Context) error { return nil }, http.StatusOK, `"status":"ready"`},
		{"NotReady", func(context.Context) error { return errors.New("labels not loaded") }, http.StatusServiceUnavailable, `"status":"not_ready"`},
		{"Unset", nil, http.StatusOK, `"status":"ready"`},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			env := newEnv(t, func(c *api.Config) { c.Ready = sc.ready })
			r := env.get(t, "/readyz", "")
			wantStatus(t, r, sc.wantStatus)
			if !strings.Contains(string(r.body), sc.wantBody) {
				t.Errorf("body: got %s, want %s", r.body, sc.wantBody)
			}
			if got := r.header.Get("Retry-After"); (sc.wantStatus == http.StatusServiceUnavailable) != (got != "") {
				t.Errorf("Retry-After: got %q on a %d", got, sc.wantStatus)
			}
			if strings.Contains(string(r.body), "labels not loaded") {
				t.Errorf("body: got %s, want the cause only in the logs", r.body)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	env.report(t, alice, map[string]any{"number": "+8613800138000", "category": "fraud"}, http.StatusCreated)
	env.lookup(t, "+8613800138000", "")
	wantStatus(t, env.post(t, "/v1/numbers/lookup", "", map[string]any{"numbers": []string{"+8613800138000", "hello", "+8613123456789"}}), http.StatusOK)
	env.api.CacheHits().Inc()

	r := env.get(t, "/metrics", "")
	wantStatus(t, r, http.StatusOK)
	body := string(r.body)
	for _, want := range []string{
		`callrep_http_requests_total{code="201",route="/v1/reports"} 1`,
		`callrep_http_requests_total{code="200",route="/v1/numbers/:number"} 1`,
		`callrep_http_request_duration_seconds_count{route="/v1/numbers/:number"} 1`,
		`callrep_reports_accepted_total 1`,
		`callrep_lookups_total 3`,
		`callrep_cache_hits_total 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics: got no %q\n%s", want, body)
		}
	}
	if strings.Contains(body, "8613800138000") {
		t.Error("metrics: got a phone number in a label, want route patterns only")
	}
}

func TestCategories(t *testing.T) {
	env := newEnv(t)
	type category struct {
		ID    string            `json:"id"`
		Risk  string            `json:"risk"`
		Name  string            `json:"name"`
		Names map[string]string `json:"names"`
	}
	type list struct {
		Categories []category `json:"categories"`
		Languages  []string   `json:"languages"`
	}
	scenarios := []struct {
		lang      string
		wantFraud string
	}{
		{"", "Fraud"},
		{"en", "Fraud"},
		{"zh-Hans", "诈骗"},
		{"zh-CN", "诈骗"},
		{"zh", "诈骗"},
		{"zh-Hant", "詐騙"},
		{"zh-TW", "詐騙"},
		{"zh-HK", "詐騙"},
		{"fr", "Fraud"},
		{"not a tag", "Fraud"},
	}
	for _, sc := range scenarios {
		t.Run("lang="+sc.lang, func(t *testing.T) {
			r := env.get(t, "/v1/categories?lang="+strings.ReplaceAll(sc.lang, " ", "%20"), "")
			wantStatus(t, r, http.StatusOK)
			got := decodeAs[list](t, r)
			if len(got.Languages) == 0 || got.Languages[0] != "en" {
				t.Errorf("languages: got %v, want the default en first", got.Languages)
			}
			if len(got.Categories) == 0 || got.Categories[0].ID != "fraud" {
				t.Fatalf("categories: got %+v, want fraud first", got.Categories)
			}
			fraud := got.Categories[0]
			if fraud.Name != sc.wantFraud {
				t.Errorf("name: got %q, want %q", fraud.Name, sc.wantFraud)
			}
			if fraud.Risk != "dangerous" || len(fraud.Names) != len(got.Languages) {
				t.Errorf("fraud: got %+v, want risk dangerous with a name per language", fraud)
			}
			ids := map[string]bool{}
			for _, c := range got.Categories {
				ids[c.ID] = true
			}
			for _, id := range []string{"fraud", "harassment", "promotion", "delivery", "real_estate", "financial",
				"recruitment", "ride", "customer_service", "survey", "robocall", "one_ring", "unwanted", "safe"} {
				if !ids[id] {
					t.Errorf("categories: got no %q", id)
				}
			}
		})
	}
	t.Run("TokenIgnored", func(t *testing.T) {
		r := env.do(t, request{method: http.MethodGet, path: "/v1/categories", header: map[string]string{"Authorization": "Bearer forged"}})
		wantStatus(t, r, http.StatusOK)
	})
	t.Run("TooLong", func(t *testing.T) {
		wantError(t, env.get(t, "/v1/categories?lang="+strings.Repeat("x", 36), ""), http.StatusBadRequest, "invalid_argument")
	})
}

// TestAccessLog checks that the access log names route patterns and never
// the numbers in paths, nor tokens.
func TestAccessLog(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	env.report(t, alice, map[string]any{"number": "+8613800138000", "category": "fraud"}, http.StatusCreated)
	env.lookup(t, "+8613800138000", alice)
	wantStatus(t, env.delete(t, numberPath("/v1/reports/", "+8613800138000"), alice), http.StatusOK)
	wantError(t, env.get(t, "/v1/numbers/abc", "forged-token"), http.StatusUnauthorized, "unauthorized")

	logs := env.logs.String()
	for _, want := range []string{`"route":"/v1/numbers/:number"`, `"route":"/v1/reports/:number"`, `"status":201`, `"latency"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs: got no %s\n%s", want, logs)
		}
	}
	for _, banned := range []string{"8613800138000", alice, "forged-token"} {
		if strings.Contains(logs, banned) {
			t.Errorf("logs: got %q, want it never logged\n%s", banned, logs)
		}
	}
}

func TestPrincipalContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := api.PrincipalFromContext(ctx); ok {
		t.Fatal("PrincipalFromContext: got a caller from an empty context, want none")
	}
	want := api.Principal{UID: "alice", Provider: api.ProviderFirebase, Moderator: true}
	got, ok := api.PrincipalFromContext(api.ContextWithPrincipal(ctx, want))
	if !ok || got != want {
		t.Fatalf("PrincipalFromContext: got %+v %v, want %+v", got, ok, want)
	}
	if id := got.ReporterID(); id != "firebase:alice" {
		t.Errorf("ReporterID: got %q, want firebase:alice", id)
	}
}
