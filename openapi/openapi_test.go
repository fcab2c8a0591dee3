package openapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/callrep/callrep/openapi"
	"github.com/callrep/callrep/reputation"
)

// wantPaths are the routes the API serves; a path missing from the document
// is a route nobody can validate against.
var wantPaths = []string{
	"/console",
	"/console/{file}",
	"/docs",
	"/docs/phone-contract.md",
	"/healthz",
	"/metrics",
	"/openapi.yaml",
	"/readyz",
	"/v1/categories",
	"/v1/devices",
	"/v1/devices/{id}",
	"/v1/disputes",
	"/v1/disputes/{id}",
	"/v1/erasures/{id}",
	"/v1/exports/callkit",
	"/v1/filters",
	"/v1/filters/rebuild",
	"/v1/filters/{name}",
	"/v1/guardians",
	"/v1/guardians/accept",
	"/v1/guardians/invites",
	"/v1/guardians/{id}",
	"/v1/me",
	"/v1/me/disputes",
	"/v1/me/notifications",
	"/v1/me/reports",
	"/v1/moderation/audit",
	"/v1/moderation/cases",
	"/v1/moderation/cases/{id}",
	"/v1/moderation/cases/{id}/claim",
	"/v1/moderation/cases/{id}/decision",
	"/v1/moderation/cases/{id}/release",
	"/v1/numbers/lookup",
	"/v1/numbers/{number}",
	"/v1/numbers/{number}/explain",
	"/v1/prefixes/{prefix}",
	"/v1/reports",
	"/v1/reports/batch",
	"/v1/reports/{number}",
}

func mustLoad(tb testing.TB) *openapi3.T {
	tb.Helper()
	doc, err := openapi.Load()
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return doc
}

func mustValidator(tb testing.TB) *openapi.Validator {
	tb.Helper()
	v, err := openapi.NewValidator()
	if err != nil {
		tb.Fatalf("NewValidator: %v", err)
	}
	return v
}

// operations calls fn for every operation of the document.
func operations(doc *openapi3.T, fn func(path, method string, op *openapi3.Operation)) {
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		for method, op := range doc.Paths.Value(path).Operations() {
			fn(path, method, op)
		}
	}
}

func TestLoad(t *testing.T) {
	doc := mustLoad(t)
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi version: got %q, want %q", got, want)
	}
	if again := mustLoad(t); again != doc {
		t.Error("Load parsed the document twice, want it cached")
	}
	if got := openapi.Paths(); !slices.Equal(got, wantPaths) {
		t.Errorf("Paths:\ngot  %q\nwant %q", got, wantPaths)
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" || s.Value.BearerFormat != "JWT" {
		t.Error("bearerAuth: want an HTTP bearer scheme with format JWT")
	}
}

func TestSpec(t *testing.T) {
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := openapi.Spec()
	if !bytes.Equal(got, file) {
		t.Fatal("Spec differs from openapi.yaml")
	}
	got[0] = 'X'
	if again := openapi.Spec(); again[0] == 'X' {
		t.Error("modifying the result of Spec changed the embedded document")
	}
}

func TestOperations(t *testing.T) {
	doc := mustLoad(t)
	ids := map[string]string{}
	operations(doc, func(path, method string, op *openapi3.Operation) {
		name := method + " " + path
		t.Run(name, func(t *testing.T) {
			if op.OperationID == "" {
				t.Error("no operationId")
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %q is also used by %s", op.OperationID, other)
			}
			ids[op.OperationID] = name
			if op.Summary == "" {
				t.Error("no summary")
			}
			if len(op.Tags) == 0 {
				t.Error("no tag")
			}
			statuses := op.Responses.Map()
			takesInput := len(op.Parameters) > 0 || op.RequestBody != nil
			has2xx, has4xx := false, false
			for status := range statuses {
				has2xx = has2xx || strings.HasPrefix(status, "2")
				has4xx = has4xx || strings.HasPrefix(status, "4")
			}
			if !has2xx {
				t.Error("no 2xx response")
			}
			if takesInput && !has4xx {
				t.Error("takes input but documents no 4xx response")
			}
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			if len(security) > 0 && statuses["401"] == nil {
				t.Error("accepts a bearer token but documents no 401")
			}
			for status, ref := range statuses {
				if status == "default" {
					t.Errorf("status %s: a default response would hide undocumented statuses", status)
				}
				code, _ := strconv.Atoi(status)
				if code == 429 && ref.Value.Headers["Retry-After"] == nil {
					t.Error("429 without Retry-After")
				}
				if code < 400 || path == "/readyz" {
					continue
				}
				mt := ref.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("status %s: want an application/json Error body", status)
				}
			}
		})
	})
}

// TestObjectsAreClosed checks that every object schema of the document
// rejects unknown fields, which is what lets the Validator catch drift.
func TestObjectsAreClosed(t *testing.T) {
	doc := mustLoad(t)
	for name, ref := range doc.Components.Schemas {
		s := ref.Value
		if !s.Type.Is("object") || len(s.Properties) == 0 {
			continue
		}
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Errorf("%s: got additionalProperties open, want false", name)
		}
		for _, req := range s.Required {
			if s.Properties[req] == nil {
				t.Errorf("%s: required field %q is not a property", name, req)
			}
		}
	}
}

func TestDocsHTML(t *testing.T) {
	page, err := openapi.DocsHTML()
	if err != nil {
		t.Fatalf("DocsHTML: %v", err)
	}
	html := string(page)
	for _, path := range openapi.Paths() {
		if !strings.Contains(html, ">"+path+"<") {
			t.Errorf("page does not show path %s", path)
		}
	}
	doc := mustLoad(t)
	operations(doc, func(path, method string, op *openapi3.Operation) {
		if !strings.Contains(html, `id="op-`+op.OperationID+`"`) {
			t.Errorf("page has no section for %s %s", method, path)
		}
		if !strings.Contains(html, op.Summary) {
			t.Errorf("page does not show the summary of %s %s", method, path)
		}
	})
	for _, want := range []string{
		`href="/openapi.yaml"`,
		"<h2>Authentication</h2>",
		"bearerAuth",
		"callrep token",
		"<code>call.direction</code>",       // nested request fields
		"<code>my_label.category</code>",    // nested response fields
		"<code>results[].verdict</code>",    // fields of array items
		"<code>number_not_labelable</code>", // enum values
		"Retry-After",
		"1 to 500 items",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page does not contain %q", want)
		}
	}
	if strings.Contains(html, "ZgotmplZ") {
		t.Error("page contains ZgotmplZ: html/template rejected a value")
	}
	if strings.Contains(strings.ToLower(html), "<script") {
		t.Error("page contains a script; it must work without JavaScript")
	}
	external := regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//|url\(\s*["']?\s*(?:https?:)?//|@import`)
	if m := external.FindString(html); m != "" {
		t.Errorf("page refers to another host: %q; it must work offline", m)
	}

	again, err := openapi.DocsHTML()
	if err != nil || !bytes.Equal(again, page) {
		t.Error("DocsHTML is not stable across calls")
	}
}

func TestDocsHTMLEscapes(t *testing.T) {
	page, err := openapi.DocsHTML()
	if err != nil {
		t.Fatalf("DocsHTML: %v", err)
	}
	// The error envelope in the description holds quotes and braces; it must
	// come out as text inside <code>, not as markup.
	want := `<code>{&#34;error&#34;:{&#34;code&#34;:&#34;...&#34;,&#34;message&#34;:&#34;...&#34;}}</code>`
	if !strings.Contains(string(page), want) {
		t.Errorf("page does not contain the escaped error envelope %s", want)
	}
}

const validReputation = `{
	"number": "+8613800138000", "valid": true, "number_type": "mobile", "region": "CN",
	"verdict": "fraud", "score": 92, "reporters": 37,
	"categories": {"fraud": 31, "promotion": 6},
	"first_reported_at": "2025-01-04T08:15:00Z", "last_reported_at": "2025-03-02T19:41:12Z",
	"signals": [], "evidence": {"fraud": 24.1, "promotion": 1.5}
}`

const validReport = `{
	"id": "r1", "number": "+8613800138000", "valid": true, "number_type": "mobile", "region": "CN",
	"category": "fraud", "source": "app", "created_at": "2025-02-11T10:00:00.123456789+08:00", "duplicate": false
}`

const erased = `{"erased_labels":1,"erased_devices":0,"pseudonymised_reports":3,"erased_notifications":0,"erased_lookup_records":0,"erased_guardian_links":0,"erased_disputes":0}`

func jsonHeader(extra ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// modify returns body with fn applied to it as a JSON object.
func modify(tb testing.TB, body string, fn func(m map[string]any)) string {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		tb.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

func TestValidateResponse(t *testing.T) {
	v := mustValidator(t)
	const base = "http://127.0.0.1:40123"
	tests := []struct {
		name    string
		method  string
		url     string
		status  int
		header  http.Header
		body    string
		wantErr string // substring of the error; empty for a valid response
	}{
		{"Reputation", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(), validReputation, ""},
		{"RelativeURL", "GET", "/v1/numbers/%2B8613800138000?region=CN", 200, jsonHeader(), validReputation, ""},
		{"ServiceKey", "GET", base + "/v1/numbers/CN%3A95588", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { m["number"] = "CN:95588"; m["number_type"] = "service" }), ""},
		{"ReputationWithOptionalFields", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) {
				m["confidence"] = 0.8
				m["top_category"] = "fraud"
				m["my_label"] = map[string]any{
					"number": "+8613800138000", "valid": true, "number_type": "mobile", "region": "CN",
					"category": "fraud", "created_at": "2025-02-11T10:00:00Z", "updated_at": "2025-02-11T10:00:00Z", "report_id": "r1",
				}
			}), ""},
		{"ExtraField", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { m["colour"] = "red" }), "colour"},
		{"ExtraNestedField", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) {
				m["my_label"] = map[string]any{
					"number": "+8613800138000", "valid": true, "number_type": "mobile", "region": "CN",
					"category": "fraud", "created_at": "2025-02-11T10:00:00Z", "updated_at": "2025-02-11T10:00:00Z", "report_id": "r1",
					"uid": "u1",
				}
			}), "uid"},
		{"WrongEnum", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { m["verdict"] = "scam" }), "verdict"},
		{"MissingField", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { delete(m, "signals") }), "signals"},
		{"MissingEvidence", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { delete(m, "evidence") }), "evidence"},
		{"NullArray", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { m["signals"] = nil }), "signals"},
		{"ScoreOutOfRange", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { m["score"] = 101 }), "score"},
		{"BadTimestamp", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(),
			modify(t, validReputation, func(m map[string]any) { m["last_reported_at"] = "2025-03-02 19:41" }), "last_reported_at"},
		{"UndocumentedStatus", "GET", base + "/v1/numbers/%2B8613800138000", 418, jsonHeader(),
			`{"error":{"code":"internal","message":"teapot"}}`, "not documented"},
		{"UnknownRoute", "GET", base + "/v1/nope", 200, jsonHeader(), `{}`, "/v1/nope"},
		{"WrongMethod", "PUT", base + "/v1/reports", 200, jsonHeader(), `{}`, "method not allowed"},
		{"WrongContentType", "GET", base + "/v1/numbers/%2B8613800138000", 200,
			http.Header{"Content-Type": {"text/plain"}}, validReputation, "content type"},
		{"NoContentType", "GET", base + "/v1/numbers/%2B8613800138000", 200, http.Header{}, validReputation, "content type"},
		{"NotJSON", "GET", base + "/v1/numbers/%2B8613800138000", 200, jsonHeader(), `<html>`, "decode"},
		{"Error", "GET", base + "/v1/numbers/abc", 400, jsonHeader(),
			`{"error":{"code":"invalid_number","message":"not a phone number"}}`, ""},
		{"ErrorUnknownCode", "GET", base + "/v1/numbers/abc", 400, jsonHeader(),
			`{"error":{"code":"bad_number","message":"not a phone number"}}`, "code"},
		{"ErrorExtraField", "GET", base + "/v1/numbers/abc", 400, jsonHeader(),
			`{"error":{"code":"invalid_number","message":"not a phone number"},"status":400}`, "status"},
		{"RateLimited", "GET", base + "/v1/categories", 429, jsonHeader("Retry-After", "30"),
			`{"error":{"code":"rate_limited","message":"too many requests"}}`, ""},
		{"RateLimitedWithoutRetryAfter", "GET", base + "/v1/categories", 429, jsonHeader(),
			`{"error":{"code":"rate_limited","message":"too many requests"}}`, "Retry-After"},
		{"ReportCreated", "POST", base + "/v1/reports", 201, jsonHeader(), validReport, ""},
		{"ReportDuplicate", "POST", base + "/v1/reports", 200, jsonHeader(),
			modify(t, validReport, func(m map[string]any) { m["duplicate"] = true; m["client_report_id"] = "c1" }), ""},
		{"ReportCommentTooLong", "POST", base + "/v1/reports", 201, jsonHeader(),
			modify(t, validReport, func(m map[string]any) { m["comment"] = strings.Repeat("骗", 281) }), "comment"},
		{"ReportComment280Runes", "POST", base + "/v1/reports", 201, jsonHeader(),
			modify(t, validReport, func(m map[string]any) { m["comment"] = strings.Repeat("骗", 280) }), ""},
		{"ReportBadCallContext", "POST", base + "/v1/reports", 201, jsonHeader(),
			modify(t, validReport, func(m map[string]any) { m["call"] = map[string]any{"attestation": "D"} }), "attestation"},
		{"LookupMixed", "POST", base + "/v1/numbers/lookup", 200, jsonHeader(),
			`{"results":[` + modify(t, validReputation, func(m map[string]any) { m["input"] = "+86 138 0013 8000" }) +
				`,{"input":"hello","error":{"code":"invalid_number","message":"not a phone number"}}]}`, ""},
		{"LookupWithoutInput", "POST", base + "/v1/numbers/lookup", 200, jsonHeader(),
			`{"results":[` + validReputation + `]}`, "input"},
		{"Batch", "POST", base + "/v1/reports/batch", 200, jsonHeader(),
			`{"accepted":1,"rejected":1,"results":[{"index":0,"status":201,"report":` + validReport +
				`},{"index":1,"status":422,"error":{"code":"number_not_labelable","message":"emergency"}}]}`, ""},
		{"Retract", "DELETE", base + "/v1/reports/%2B8613800138000?region=CN", 200, jsonHeader(),
			`{"number":"+8613800138000","retracted_category":"fraud"}`, ""},
		{"RetractNotFound", "DELETE", base + "/v1/reports/%2B8613800138000", 404, jsonHeader(),
			`{"error":{"code":"not_found","message":"no label"}}`, ""},
		{"MyLabelsLastPage", "GET", base + "/v1/me/reports?limit=10", 200, jsonHeader(), `{"labels":[]}`, ""},
		{"Erase", "DELETE", base + "/v1/me", 202, jsonHeader(),
			`{"id":"e-1","state":"running","status_url":"/v1/erasures/e-1","accepted_at":"2026-12-01T14:37:31Z","erased":` + erased + `}`, ""},
		{"ErasureDone", "GET", base + "/v1/erasures/e-1", 200, jsonHeader(),
			`{"id":"e-1","state":"done","status_url":"/v1/erasures/e-1","accepted_at":"2026-12-01T14:37:31Z","finished_at":"2026-12-01T14:37:32Z","erased":` + erased + `}`, ""},
		{"ErasureBadState", "GET", base + "/v1/erasures/e-1", 200, jsonHeader(),
			`{"id":"e-1","state":"failed","status_url":"/v1/erasures/e-1","accepted_at":"2026-12-01T14:37:31Z","erased":` + erased + `}`, "state"},
		{"Categories", "GET", base + "/v1/categories?lang=zh-Hans", 200, jsonHeader(),
			`{"categories":[{"id":"fraud","risk":"dangerous","name":"诈骗","names":{"en":"Fraud","zh-Hans":"诈骗"},"description":"Scams."}],"languages":["en","zh-Hans"]}`, ""},
		{"CategoryWrongRisk", "GET", base + "/v1/categories", 200, jsonHeader(),
			`{"categories":[{"id":"fraud","risk":"high","name":"Fraud","names":{},"description":""}],"languages":["en"]}`, "risk"},
		{"Healthz", "GET", base + "/healthz", 200, jsonHeader(), `{"status":"ok"}`, ""},
		{"NotReady", "GET", base + "/readyz", 503, jsonHeader("Retry-After", "2"),
			`{"status":"not_ready","checks":{"database":"unreachable"}}`, ""},
		{"NotReadyWithoutRetryAfter", "GET", base + "/readyz", 503, jsonHeader(), `{"status":"not_ready","checks":{}}`, "Retry-After"},
		{"Metrics", "GET", base + "/metrics", 200,
			http.Header{"Content-Type": {"text/plain; version=0.0.4; charset=utf-8"}}, "# HELP up\nup 1\n", ""},
		{"MetricsAsJSON", "GET", base + "/metrics", 200, jsonHeader(), `{}`, "content type"},
		{"OpenAPIYAML", "GET", base + "/openapi.yaml", 200,
			http.Header{"Content-Type": {"application/yaml"}}, string(openapi.Spec()), ""},
		{"Docs", "GET", base + "/docs", 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, "<!DOCTYPE html>", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.url, nil)
			err := v.ValidateResponse(req, tt.status, tt.header, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("got no error, want one mentioning %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("got error %q, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// TestExamplesValidate runs every response example of the document through
// the Validator, so that the examples and the router agree with the schemas.
func TestExamplesValidate(t *testing.T) {
	doc := mustLoad(t)
	v := mustValidator(t)
	params := strings.NewReplacer("{number}", "%2B8613800138000")
	operations(doc, func(path, method string, op *openapi3.Operation) {
		for status, ref := range op.Responses.Map() {
			code, err := strconv.Atoi(status)
			if err != nil {
				t.Fatalf("%s %s: status %q is not a number", method, path, status)
			}
			for mediaType, mt := range ref.Value.Content {
				var examples []any
				if mt.Example != nil {
					examples = append(examples, mt.Example)
				}
				for _, ex := range mt.Examples {
					examples = append(examples, ex.Value.Value)
				}
				for i, ex := range examples {
					body, ok := ex.(string)
					if !ok {
						b, err := json.Marshal(ex)
						if err != nil {
							t.Fatal(err)
						}
						body = string(b)
					}
					header := http.Header{"Content-Type": {mediaType}}
					if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
						header.Set("Retry-After", "1")
					}
					req := httptest.NewRequest(method, "http://127.0.0.1:1"+params.Replace(path), nil)
					if err := v.ValidateResponse(req, code, header, []byte(body)); err != nil {
						t.Errorf("%s %s %d example %d: %v", method, path, code, i, err)
					}
				}
			}
		}
	})
}

func TestValidatorConcurrent(t *testing.T) {
	v := mustValidator(t)
	t.Run("group", func(t *testing.T) {
		for i := range 8 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				req := httptest.NewRequest("GET", "/v1/numbers/%2B8613800138000", nil)
				for range 50 {
					if err := v.ValidateResponse(req, 200, jsonHeader(), []byte(validReputation)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	})
}

// TestFilterLimits holds the documented filter caps to the published ones.
func TestFilterLimits(t *testing.T) {
	var got []string
	for _, v := range mustLoad(t).Components.Parameters["FilterLimit"].Value.Schema.Value.Enum {
		got = append(got, fmt.Sprint(v))
	}
	var want []string
	for _, l := range reputation.DefaultFilterLimits {
		want = append(want, strconv.Itoa(l))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("FilterLimit enum: got %v, want %v", got, want)
	}
}
