package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestGetNumber(t *testing.T) {
	env := newEnv(t)
	scenarios := []struct {
		name        string
		path        string
		wantNumber  string
		wantType    string
		wantValid   bool
		wantSignals []string
	}{
		{"E164Escaped", "/v1/numbers/%2B8613800138000", "+8613800138000", "mobile", true, nil},
		{"National", "/v1/numbers/010%201234%205678?region=CN", "+861012345678", "fixed_line", true, nil},
		{"NationalDefaultRegion", "/v1/numbers/01012345678", "+861012345678", "fixed_line", true, nil},
		{"LowerCaseRegion", "/v1/numbers/6502530000?region=us", "+16502530000", "fixed_line_or_mobile", true, nil},
		{"ServiceNumber", "/v1/numbers/95588?region=CN", "CN:95588", "service", true, nil},
		{"ScopedKeyEscaped", "/v1/numbers/CN%3A95588", "CN:95588", "service", true, nil},
		{"ScopedKeyRaw", "/v1/numbers/CN:95588", "CN:95588", "service", true, nil},
		{"InvalidCallerID", "/v1/numbers/%2B86101234567", "+86101234567", "unknown", false, []string{"invalid_caller_id"}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := env.get(t, sc.path, "")
			wantStatus(t, r, http.StatusOK)
			got := decodeAs[reputationResponse](t, r)
			if got.Number != sc.wantNumber || got.NumberType != sc.wantType || got.Valid != sc.wantValid {
				t.Errorf("number: got %s %s valid=%v, want %s %s valid=%v", got.Number, got.NumberType, got.Valid, sc.wantNumber, sc.wantType, sc.wantValid)
			}
			// Signals alone raise the score a little, never to a verdict.
			if got.Verdict != "unknown" || got.Reporters != 0 || (got.Score != 0) != (len(sc.wantSignals) > 0) || len(got.Categories) != 0 {
				t.Errorf("reputation: got %+v, want unknown with nothing counted", got)
			}
			if !slices.Equal(got.Signals, sc.wantSignals) && !(len(got.Signals) == 0 && len(sc.wantSignals) == 0) {
				t.Errorf("signals: got %v, want %v", got.Signals, sc.wantSignals)
			}
			// Always-present collections are never null.
			if !strings.Contains(string(r.body), `"categories":{}`) || strings.Contains(string(r.body), "null") {
				t.Errorf("body: got %s, want categories {} and no nulls", r.body)
			}
		})
	}

	errScenarios := []struct {
		name       string
		path       string
		wantStatus int
		wantCode   string
	}{
		{"Letters", "/v1/numbers/abc", 400, "invalid_number"},
		{"Blank", "/v1/numbers/%20", 400, "invalid_number"},
		{"TooShort", "/v1/numbers/12", 400, "invalid_number"},
		{"TooLong", "/v1/numbers/" + strings.Repeat("1", 65), 400, "invalid_number"},
		{"Emergency", "/v1/numbers/110?region=CN", 422, "number_not_labelable"},
		{"Emergency911", "/v1/numbers/911?region=US", 422, "number_not_labelable"},
		{"BadRegion", "/v1/numbers/01012345678?region=XX", 400, "invalid_argument"},
	}
	for _, sc := range errScenarios {
		t.Run(sc.name, func(t *testing.T) {
			wantError(t, env.get(t, sc.path, ""), sc.wantStatus, sc.wantCode)
		})
	}
}

// TestLookupSeesReportAtOnce checks that a report is visible to lookups as
// soon as it is acknowledged, well within the 2 s the issue allows.
func TestLookupSeesReportAtOnce(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	env.report(t, alice, map[string]any{"number": target, "category": "robocall"}, http.StatusCreated)
	got := env.lookup(t, target, "")
	if got.Reporters != 1 || got.Categories["robocall"] != 1 {
		t.Fatalf("lookup: got %d reporters %v, want 1 {robocall:1}", got.Reporters, got.Categories)
	}
}

func TestLookupBatch(t *testing.T) {
	env := newEnv(t)
	alice, bob := env.token(t, "alice"), env.token(t, "bob")
	env.report(t, alice, map[string]any{"number": target, "category": "fraud"}, http.StatusCreated)
	env.report(t, bob, map[string]any{"number": target, "category": "fraud"}, http.StatusCreated)

	inputs := []string{target, "010 1234 5678", "hello", "110", "95588", "+86101234567", ""}
	r := env.post(t, "/v1/numbers/lookup", alice, map[string]any{"numbers": inputs, "region": "CN"})
	wantStatus(t, r, http.StatusOK)
	type results struct {
		Results []reputationResponse `json:"results"`
	}
	got := decodeAs[results](t, r).Results
	if len(got) != len(inputs) {
		t.Fatalf("results: got %d, want %d", len(got), len(inputs))
	}
	want := []struct {
		number, code string
		reporters    int
	}{
		{target, "", 2},
		{"+861012345678", "", 0},
		{"", "invalid_number", 0},
		{"", "number_not_labelable", 0},
		{"CN:95588", "", 0},
		{"+86101234567", "", 0},
		{"", "invalid_number", 0},
	}
	for i, w := range want {
		res := got[i]
		if res.Input != inputs[i] {
			t.Errorf("result %d: got input %q, want %q", i, res.Input, inputs[i])
		}
		switch {
		case w.code != "" && (res.Error == nil || res.Error.Code != w.code || res.Number != ""):
			t.Errorf("result %d: got %+v, want only error %s", i, res, w.code)
		case w.code == "" && (res.Error != nil || res.Number != w.number || res.Reporters != w.reporters):
			t.Errorf("result %d: got %+v, want %s with %d reporters", i, res, w.number, w.reporters)
		}
	}
	if got[0].MyLabel == nil || got[0].MyLabel.Category != "fraud" {
		t.Errorf("my_label: got %+v, want alice's label", got[0].MyLabel)
	}
	// Two reporters are not enough for a public verdict.
	if got[0].Verdict != "unknown" || got[0].TopCategory != "fraud" {
		t.Errorf("verdict: got %q / %q, want unknown / fraud", got[0].Verdict, got[0].TopCategory)
	}

	many := make([]string, 501)
	for i := range many {
		many[i] = fmt.Sprintf("+86138001%05d", i)
	}
	envelopes := []struct {
		name     string
		body     any
		wantCode string
	}{
		{"Empty", `{"numbers":[]}`, "invalid_argument"},
		{"Missing", `{"region":"CN"}`, "invalid_argument"},
		{"TooMany", map[string]any{"numbers": many}, "invalid_argument"},
		{"NotStrings", `{"numbers":[13800138000]}`, "invalid_argument"},
		{"Operator", `{"numbers":{"$in":["x"]}}`, "invalid_argument"},
		{"UnknownField", `{"numbers":["+8613800138000"],"verbose":true}`, "invalid_argument"},
		{"Broken", `{"numbers":[`, "invalid_json"},
	}
	for _, sc := range envelopes {
		t.Run(sc.name, func(t *testing.T) {
			wantError(t, env.post(t, "/v1/numbers/lookup", "", sc.body), http.StatusBadRequest, sc.wantCode)
		})
	}
	t.Run("FiveHundred", func(t *testing.T) {
		r := env.post(t, "/v1/numbers/lookup", "", map[string]any{"numbers": many[:500]})
		wantStatus(t, r, http.StatusOK)
		if got := decodeAs[results](t, r).Results; len(got) != 500 {
			t.Fatalf("results: got %d, want 500", len(got))
		}
	})
}
