package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callrep/callrep/api"
)

const target = "+8613800138000"

// TestCrowdReputation is the issue's scenario: three users report a number
// as fraud, one retracts, one re-labels.
func TestCrowdReputation(t *testing.T) {
	env := newEnv(t)
	alice, bob, carol := env.token(t, "alice"), env.token(t, "bob"), env.token(t, "carol")

	for _, tok := range []string{alice, bob, carol} {
		rep := env.report(t, tok, map[string]any{"number": target, "category": "fraud", "comment": "Claimed to be the police."}, http.StatusCreated)
		if rep.Number != target || rep.Category != "fraud" || rep.Duplicate || rep.Source != "app" ||
			!rep.Valid || rep.NumberType != "mobile" || rep.Region != "CN" || rep.ReplacedCategory != "" {
			t.Fatalf("report: got %+v, want a new fraud report on %s", rep, target)
		}
	}

	t.Run("ThreeReporters", func(t *testing.T) {
		got := env.lookup(t, target, "")
		if got.Reporters != 3 || !maps.Equal(got.Categories, map[string]int{"fraud": 3}) || got.Verdict != "fraud" {
			t.Fatalf("lookup: got %d reporters %v verdict %q, want 3 {fraud:3} fraud", got.Reporters, got.Categories, got.Verdict)
		}
		if got.MyLabel != nil {
			t.Errorf("my_label: got %+v anonymously, want none", got.MyLabel)
		}
	})
	t.Run("NationalFormSameNumber", func(t *testing.T) {
		r := env.get(t, "/v1/numbers/138%200013%208000?region=CN", "")
		wantStatus(t, r, http.StatusOK)
		if got := decodeAs[reputationResponse](t, r); got.Number != target || got.Reporters != 3 {
			t.Fatalf("lookup: got %s with %d reporters, want %s with 3", got.Number, got.Reporters, target)
		}
	})
	t.Run("MyLabel", func(t *testing.T) {
		got := env.lookup(t, target, alice)
		// Comments stay in the history: a lookup answers from memory.
		if got.MyLabel == nil || got.MyLabel.Category != "fraud" || got.MyLabel.Comment != "" || got.MyLabel.ReportID != "" {
			t.Fatalf("my_label: got %+v, want alice's fraud label without comment or report id", got.MyLabel)
		}
	})
	t.Run("RetractLeavesTwo", func(t *testing.T) {
		r := env.delete(t, numberPath("/v1/reports/", target), carol)
		wantStatus(t, r, http.StatusOK)
		type retraction struct {
			Number            string `json:"number"`
			RetractedCategory string `json:"retracted_category"`
		}
		if got := decodeAs[retraction](t, r); got != (retraction{target, "fraud"}) {
			t.Fatalf("retraction: got %+v, want %s fraud", got, target)
		}
		if got := env.lookup(t, target, ""); got.Reporters != 2 || got.Categories["fraud"] != 2 {
			t.Fatalf("lookup: got %d reporters %v, want 2 {fraud:2}", got.Reporters, got.Categories)
		}
		if got := env.lookup(t, target, carol); got.MyLabel != nil {
			t.Errorf("my_label: got %+v after retracting, want none", got.MyLabel)
		}
		wantError(t, env.delete(t, numberPath("/v1/reports/", target), carol), http.StatusNotFound, "not_found")
	})
	t.Run("RelabelMovesLabel", func(t *testing.T) {
		rep := env.report(t, bob, map[string]any{"number": target, "category": "delivery"}, http.StatusCreated)
		if rep.ReplacedCategory != "fraud" {
			t.Errorf("replaced_category: got %q, want fraud", rep.ReplacedCategory)
		}
		got := env.lookup(t, target, "")
		if got.Reporters != 2 || !maps.Equal(got.Categories, map[string]int{"fraud": 1, "delivery": 1}) {
			t.Fatalf("lookup: got %d reporters %v, want 2 {fraud:1 delivery:1}", got.Reporters, got.Categories)
		}
		if mine := env.mine(t, bob); len(mine) != 1 || mine[0].Category != "delivery" {
			t.Fatalf("bob's labels: got %+v, want one delivery label", mine)
		}
	})
}

func TestClientReportIDStoredOnce(t *testing.T) {
	env := newEnv(t)
	alice, dave := env.token(t, "alice"), env.token(t, "dave")
	body := map[string]any{
		"number": target, "category": "fraud", "client_report_id": "5b0e6a3e-3f0e-4d53-9a57-0b4f3c1d2e10",
		"call": map[string]any{"direction": "incoming", "started_at": apiEpoch.Add(-time.Hour).Format(time.RFC3339),
			"duration_s": 74, "ring_s": 6, "answered": true, "recent_calls": 3, "attestation": "C"},
	}
	first := env.report(t, alice, body, http.StatusCreated)
	if first.Call["attestation"] != "C" || first.Call["duration_s"] != float64(74) {
		t.Errorf("call: got %v, want the call context back", first.Call)
	}
	again := env.report(t, alice, body, http.StatusOK)
	if !again.Duplicate || again.ID != first.ID {
		t.Fatalf("repeat: got id %q duplicate %v, want id %q duplicate true", again.ID, again.Duplicate, first.ID)
	}
	batch := env.post(t, "/v1/reports/batch", alice, map[string]any{"reports": []any{body}})
	wantStatus(t, batch, http.StatusOK)
	if got := decodeAs[batchResponse](t, batch); got.Results[0].Status != http.StatusOK || got.Accepted != 1 {
		t.Fatalf("batch repeat: got %+v, want one item with status 200", got)
	}
	if got := env.lookup(t, target, ""); got.Reporters != 1 {
		t.Fatalf("lookup: got %d reporters, want 1", got.Reporters)
	}
	if mine := env.mine(t, alice); len(mine) != 1 {
		t.Fatalf("alice's labels: got %d, want 1", len(mine))
	}
	// The id is unique per reporter, not globally.
	if got := env.report(t, dave, body, http.StatusCreated); got.Duplicate {
		t.Fatalf("dave's report: got duplicate, want a new report")
	}
}

// TestReportRejectsBadInput sends the issue's bad inputs and more; each
// gets a 4xx with a code and nothing is stored.
func TestReportRejectsBadInput(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	const number = "+8613800138001"
	twoMB := `{"number":"` + number + `","category":"fraud","comment":"` + strings.Repeat("x", 2<<20) + `"}`
	scenarios := []struct {
		name       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"Letters", `{"number":"abc","category":"fraud"}`, 400, "invalid_number"},
		{"EmptyNumber", `{"number":"","category":"fraud"}`, 400, "invalid_number"},
		{"MissingNumber", `{"category":"fraud"}`, 400, "invalid_number"},
		{"Emergency", `{"number":"110","region":"CN","category":"fraud"}`, 422, "number_not_labelable"},
		{"LongComment", `{"number":"` + number + `","category":"fraud","comment":"` + strings.Repeat("长", 10000) + `"}`, 400, "invalid_argument"},
		{"Comment281", `{"number":"` + number + `","category":"fraud","comment":"` + strings.Repeat("a", 281) + `"}`, 400, "invalid_argument"},
		{"TwoMegabytes", twoMB, 413, "body_too_large"},
		{"TwoMegabytesChunked", io.MultiReader(strings.NewReader(twoMB)), 413, "body_too_large"},
		{"BrokenJSON", `{"number":"` + number + `","category":`, 400, "invalid_json"},
		{"NotJSON", `number=` + number + `&category=fraud`, 400, "invalid_json"},
		{"EmptyBody", ``, 400, "invalid_json"},
		{"TrailingData", `{"number":"` + number + `","category":"fraud"} {"number":"x"}`, 400, "invalid_json"},
		{"UnknownCategory", `{"number":"` + number + `","category":"spamm"}`, 400, "unknown_category"},
		{"MissingCategory", `{"number":"` + number + `"}`, 400, "invalid_argument"},
		{"UnknownField", `{"number":"` + number + `","category":"fraud","colour":"red"}`, 400, "invalid_argument"},
		{"FieldInOtherCase", `{"NUMBER":"` + number + `","category":"fraud"}`, 400, "invalid_argument"},
		{"NestedFieldInOtherCase", `{"number":"` + number + `","category":"fraud","call":{"Ring_S":3}}`, 400, "invalid_argument"},
		{"UnknownCallField", `{"number":"` + number + `","category":"fraud","call":{"mood":"bad"}}`, 400, "invalid_argument"},
		{"OperatorNumber", `{"number":{"$gt":""},"category":"fraud"}`, 400, "invalid_argument"},
		{"OperatorCategory", `{"number":"` + number + `","category":{"$ne":null}}`, 400, "invalid_argument"},
		{"ArrayBody", `[{"number":"` + number + `","category":"fraud"}]`, 400, "invalid_argument"},
		{"StringDuration", `{"number":"` + number + `","category":"fraud","call":{"duration_s":"74"}}`, 400, "invalid_argument"},
		{"FractionalDuration", `{"number":"` + number + `","category":"fraud","call":{"duration_s":1.5}}`, 400, "invalid_argument"},
		{"NegativeRing", `{"number":"` + number + `","category":"fraud","call":{"ring_s":-1}}`, 400, "invalid_argument"},
		{"BadDirection", `{"number":"` + number + `","category":"fraud","call":{"direction":"sideways"}}`, 400, "invalid_argument"},
		{"BadAttestation", `{"number":"` + number + `","category":"fraud","call":{"attestation":"D"}}`, 400, "invalid_argument"},
		{"BadStartedAt", `{"number":"` + number + `","category":"fraud","call":{"started_at":"yesterday"}}`, 400, "invalid_argument"},
		{"BadRegion", `{"number":"` + number + `","region":"China","category":"fraud"}`, 400, "invalid_argument"},
		{"LongClientReportID", `{"number":"` + number + `","category":"fraud","client_report_id":"` + strings.Repeat("a", 129) + `"}`, 400, "invalid_argument"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := env.post(t, "/v1/reports", alice, sc.body)
			wantError(t, r, sc.wantStatus, sc.wantCode)
		})
	}
	if mine := env.mine(t, alice); len(mine) != 0 {
		t.Errorf("alice's labels: got %+v, want none", mine)
	}
	if got := env.lookup(t, number, ""); got.Reporters != 0 {
		t.Errorf("lookup: got %d reporters, want 0", got.Reporters)
	}
	if body := string(env.get(t, "/metrics", "").body); !strings.Contains(body, "callrep_reports_accepted_total 0") {
		t.Error("metrics: got reports accepted, want none")
	}
}

func TestAuthRequired(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	env.report(t, alice, map[string]any{"number": target, "category": "fraud"}, http.StatusCreated)

	other := mustLocalIssuer(t, t.TempDir(), authEpoch)
	expired := mustIssue(t, mustLocalIssuer(t, env.issuerDir, authEpoch.Add(-3*time.Hour)), "alice", false, time.Hour)
	parts := strings.Split(alice, ".")
	tampered := parts[0] + "." + jwtSegment(t, map[string]any{
		"iss": api.LocalIssuerName, "sub": "bob", "iat": authEpoch.Unix(), "exp": authEpoch.Add(time.Hour).Unix(),
	}) + "." + parts[2]
	none := signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": env.issuer.KeyID()},
		jwt.MapClaims{"iss": api.LocalIssuerName, "sub": "alice", "iat": authEpoch.Unix(), "exp": authEpoch.Add(time.Hour).Unix()})

	credentials := []struct {
		name   string
		header string
	}{
		{"NoToken", ""},
		{"Garbage", "Bearer not-a-token"},
		{"OtherIssuer", "Bearer " + mustIssue(t, other, "alice", false, time.Hour)},
		{"Expired", "Bearer " + expired},
		{"TamperedSubject", "Bearer " + tampered},
		{"AlgNone", "Bearer " + none},
		{"BasicScheme", "Basic YWxpY2U6c2VjcmV0"},
		{"EmptyBearer", "Bearer "},
	}
	routes := []request{
		{method: http.MethodPost, path: "/v1/reports", body: map[string]any{"number": "+8613800138002", "category": "fraud"}},
		{method: http.MethodPost, path: "/v1/reports/batch", body: map[string]any{"reports": []any{map[string]any{"number": "+8613800138002", "category": "fraud"}}}},
		{method: http.MethodDelete, path: numberPath("/v1/reports/", target)},
		{method: http.MethodGet, path: "/v1/me/reports"},
		{method: http.MethodDelete, path: "/v1/me"},
	}
	for _, cred := range credentials {
		for _, route := range routes {
			t.Run(cred.name+"/"+route.method+route.path, func(t *testing.T) {
				req := route
				if cred.header != "" {
					req.header = map[string]string{"Authorization": cred.header}
				}
				r := env.do(t, req)
				wantError(t, r, http.StatusUnauthorized, "unauthorized")
				if secret := strings.TrimPrefix(cred.header, "Bearer "); len(secret) > 8 && strings.Contains(string(r.body), secret) {
					t.Errorf("body: got the token echoed, want not")
				}
			})
		}
		if cred.header == "" {
			continue
		}
		t.Run(cred.name+"/LookupWithBadToken", func(t *testing.T) {
			r := env.do(t, request{method: http.MethodGet, path: numberPath("/v1/numbers/", target), header: map[string]string{"Authorization": cred.header}})
			wantError(t, r, http.StatusUnauthorized, "unauthorized")
		})
	}

	t.Run("NothingStored", func(t *testing.T) {
		if got := env.lookup(t, "+8613800138002", ""); got.Reporters != 0 {
			t.Errorf("lookup: got %d reporters, want 0", got.Reporters)
		}
		if got := env.lookup(t, target, ""); got.Reporters != 1 {
			t.Errorf("lookup: got %d reporters, want alice's label kept", got.Reporters)
		}
	})
	t.Run("LookupWithoutToken", func(t *testing.T) {
		env.lookup(t, target, "")
		wantStatus(t, env.get(t, "/v1/categories", ""), http.StatusOK)
	})
}

// jwtSegment encodes claims as a JWT payload segment.
func jwtSegment(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestRetractOnlyOwnLabel(t *testing.T) {
	env := newEnv(t)
	alice, bob := env.token(t, "alice"), env.token(t, "bob")
	env.report(t, alice, map[string]any{"number": target, "category": "fraud"}, http.StatusCreated)

	wantError(t, env.delete(t, numberPath("/v1/reports/", target), bob), http.StatusNotFound, "not_found")
	if got := env.lookup(t, target, ""); got.Reporters != 1 {
		t.Fatalf("lookup: got %d reporters, want alice's label kept", got.Reporters)
	}
	if mine := env.mine(t, alice); len(mine) != 1 {
		t.Fatalf("alice's labels: got %d, want 1", len(mine))
	}

	scenarios := []struct {
		name       string
		path       string
		wantStatus int
		wantCode   string
	}{
		{"NotANumber", "/v1/reports/abc", 400, "invalid_number"},
		{"Emergency", "/v1/reports/110?region=CN", 422, "number_not_labelable"},
		{"BadRegion", "/v1/reports/01012345678?region=ZZZ", 400, "invalid_argument"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			wantError(t, env.delete(t, sc.path, bob), sc.wantStatus, sc.wantCode)
		})
	}
	t.Run("NationalForm", func(t *testing.T) {
		wantStatus(t, env.delete(t, "/v1/reports/138%200013%208000?region=CN", alice), http.StatusOK)
		if got := env.lookup(t, target, ""); got.Reporters != 0 {
			t.Fatalf("lookup: got %d reporters, want 0", got.Reporters)
		}
	})
}

type batchResponse struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Results  []struct {
		Index  int             `json:"index"`
		Status int             `json:"status"`
		Report *reportResponse `json:"report"`
		Error  *errorDetail    `json:"error"`
	} `json:"results"`
}

func TestReportsBatch(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	items := []struct {
		item       string
		wantStatus int
		wantCode   string
	}{
		{`{"number":"+8613800138000","category":"fraud","client_report_id":"q-1"}`, 201, ""},
		{`{"number":"110","region":"CN","category":"fraud"}`, 422, "number_not_labelable"},
		{`{"number":"+8613800138003","category":"fraud","colour":"red"}`, 400, "invalid_argument"},
		{`null`, 400, "invalid_argument"},
		{`"+8613800138004"`, 400, "invalid_argument"},
		{`{"number":{"$gt":""},"category":"fraud"}`, 400, "invalid_argument"},
		{`{"number":"010 1234 5678","region":"CN","category":"delivery"}`, 201, ""},
		{`{"number":"+8613800138000","category":"fraud","client_report_id":"q-1"}`, 200, ""},
		{`{"number":"abc","category":"fraud"}`, 400, "invalid_number"},
		{`{"number":"+8613800138005","category":"spamm"}`, 400, "unknown_category"},
		{`{"number":"+8613800138006","category":"fraud","comment":"` + strings.Repeat("x", 10000) + `"}`, 400, "invalid_argument"},
	}
	var raw []string
	for _, it := range items {
		raw = append(raw, it.item)
	}
	r := env.post(t, "/v1/reports/batch", alice, `{"reports":[`+strings.Join(raw, ",")+`]}`)
	wantStatus(t, r, http.StatusOK)
	got := decodeAs[batchResponse](t, r)
	if got.Accepted != 3 || got.Rejected != len(items)-3 || len(got.Results) != len(items) {
		t.Fatalf("batch: got accepted %d rejected %d with %d results, want 3, %d, %d",
			got.Accepted, got.Rejected, len(got.Results), len(items)-3, len(items))
	}
	for i, it := range items {
		res := got.Results[i]
		if res.Index != i || res.Status != it.wantStatus {
			t.Errorf("item %d: got index %d status %d, want %d %d", i, res.Index, res.Status, i, it.wantStatus)
		}
		switch {
		case it.wantCode == "" && (res.Report == nil || res.Error != nil):
			t.Errorf("item %d: got %+v, want a report", i, res)
		case it.wantCode != "" && (res.Error == nil || res.Error.Code != it.wantCode || res.Report != nil):
			t.Errorf("item %d: got %+v %+v, want error %s", i, res.Error, res.Report, it.wantCode)
		}
	}
	mine := env.mine(t, alice)
	if len(mine) != 2 {
		t.Fatalf("alice's labels: got %+v, want the 2 good items", mine)
	}

	envelopes := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"Empty", `{"reports":[]}`, 400, "invalid_argument"},
		{"Missing", `{}`, 400, "invalid_argument"},
		{"Null", `{"reports":null}`, 400, "invalid_argument"},
		{"NotAList", `{"reports":"x"}`, 400, "invalid_argument"},
		{"UnknownField", `{"reports":[{"number":"+8613800138007","category":"fraud"}],"dry_run":true}`, 400, "invalid_argument"},
		{"Broken", `{"reports":[{"number":"+8613800138007"`, 400, "invalid_json"},
		{"TooMany", `{"reports":[` + strings.TrimSuffix(strings.Repeat(`{"number":"+8613800138007","category":"fraud"},`, 101), ",") + `]}`, 400, "invalid_argument"},
	}
	for _, sc := range envelopes {
		t.Run(sc.name, func(t *testing.T) {
			wantError(t, env.post(t, "/v1/reports/batch", alice, sc.body), sc.wantStatus, sc.wantCode)
		})
	}
	if got := env.lookup(t, "+8613800138007", ""); got.Reporters != 0 {
		t.Errorf("lookup: got %d reporters, want nothing stored by a bad envelope", got.Reporters)
	}

	t.Run("Full", func(t *testing.T) {
		var items []map[string]any
		for i := range 100 {
			items = append(items, map[string]any{"number": fmt.Sprintf("+86138001%05d", i), "category": "promotion"})
		}
		r := env.post(t, "/v1/reports/batch", env.token(t, "erin"), map[string]any{"reports": items})
		wantStatus(t, r, http.StatusOK)
		if got := decodeAs[batchResponse](t, r); got.Accepted != 100 {
			t.Fatalf("batch: got %d accepted, want 100", got.Accepted)
		}
	})
}

func TestCommentStoredAsGiven(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	comment := `<script>alert("hi")</script> 冒充公安 ` + strings.Repeat("é", 200)
	rep := env.report(t, alice, map[string]any{"number": target, "category": "fraud", "comment": comment}, http.StatusCreated)
	if rep.Comment == nil || *rep.Comment != comment {
		t.Fatalf("comment: got %v, want it unchanged", rep.Comment)
	}
	mine := env.mine(t, alice)
	if len(mine) != 1 || mine[0].Comment != comment {
		t.Fatalf("label comment: got %+v, want it unchanged", mine)
	}
	// The JSON escapes markup characters, so a careless page that inlines
	// the body cannot be tricked into running it.
	if bytes.Contains(env.get(t, "/v1/me/reports", alice).body, []byte("<script>")) {
		t.Error("body: got raw <script>, want it escaped")
	}
}

// TestReportsBatchOfflineTime shows that a batch item keeps the time the
// user made the report: within the allowed past it dates the evidence (a
// report made three days ago has decayed as three days old), a time in the
// future or too far back is refused with nothing stored, and a retry of an
// item is stored once with its first time.
func TestReportsBatchOfflineTime(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	now := env.clock.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	item := func(num, id, reportedAt string) string {
		return fmt.Sprintf(`{"number":%q,"category":"promotion","client_report_id":%q,"reported_at":%q}`, num, id, reportedAt)
	}
	threeDays := item("+8613800138001", "o-1", at(-72*time.Hour))
	items := []struct {
		name, item string
		status     int
		code       string
	}{
		{"ThreeDaysAgo", threeDays, 201, ""},
		{"SkewedClock", item("+8613800138002", "o-2", at(time.Minute)), 201, ""},
		{"Future", item("+8613800138003", "o-3", at(time.Hour)), 400, "invalid_argument"},
		{"TooOld", item("+8613800138004", "o-4", at(-31*24*time.Hour)), 400, "invalid_argument"},
		{"NotATime", item("+8613800138005", "o-5", "yesterday"), 400, "invalid_argument"},
		{"Retry", threeDays, 200, ""},
	}
	var raw []string
	for _, it := range items {
		raw = append(raw, it.item)
	}
	r := env.post(t, "/v1/reports/batch", alice, `{"reports":[`+strings.Join(raw, ",")+`]}`)
	wantStatus(t, r, http.StatusOK)
	got := decodeAs[batchResponse](t, r)
	for i, it := range items {
		res := got.Results[i]
		if res.Status != it.status || (it.code != "") != (res.Error != nil) || (res.Error != nil && res.Error.Code != it.code) {
			t.Errorf("%s: got status %d error %+v, want %d %q", it.name, res.Status, res.Error, it.status, it.code)
		}
	}
	for _, num := range []string{"+8613800138003", "+8613800138004", "+8613800138005"} {
		if got := env.lookup(t, num, ""); got.Reporters != 0 {
			t.Errorf("%s: got %d reporters, want nothing stored", num, got.Reporters)
		}
	}
	if c := got.Results[0].Report; c == nil || !c.CreatedAt.Equal(now.Add(-72*time.Hour)) {
		t.Fatalf("created_at: got %+v, want %s", c, now.Add(-72*time.Hour))
	}
	if c := got.Results[1].Report; c == nil || c.CreatedAt.Before(now) || !c.CreatedAt.Before(now.Add(time.Second)) {
		t.Fatalf("a time within the clock skew: got %+v, want it taken as now, %s (the stamps of a reporter's reports are a millisecond apart)", c, now)
	}

	moderator := mustIssue(t, env.issuer, "mod", true, time.Hour)
	r = env.get(t, numberPath("/v1/numbers/", "+8613800138001")+"/explain", moderator)
	wantStatus(t, r, http.StatusOK)
	var ex struct {
		Contribs []struct {
			AgeS  int64 `json:"age_s"`
			Decay float64
		} `json:"contributions"`
	}
	if err := json.Unmarshal(r.body, &ex); err != nil {
		t.Fatal(err)
	}
	wantDecay := math.Exp2(-3.0 / 30) // promotion is a nuisance: 30-day half-life
	if len(ex.Contribs) != 1 || ex.Contribs[0].AgeS != 72*3600 || math.Abs(ex.Contribs[0].Decay-wantDecay) > 1e-3 {
		t.Fatalf("explanation: got %+v, want one contribution 3 days old with decay %.3f", ex.Contribs, wantDecay)
	}
}
