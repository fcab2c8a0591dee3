package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/erasure"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/openapi"
	"github.com/callrep/callrep/reputation"
)

// The concrete types the wiring passes to api.New.
var (
	_ api.LabelService    = (*labels.Service)(nil)
	_ api.ReputationIndex = (*reputation.Engine)(nil)
)

// apiEpoch is the start of the server clock in HTTP tests.
var apiEpoch = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// apiClock is a settable clock shared by the labels service and the
// server's rate limits.
type apiClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *apiClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *apiClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *apiClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// syncBuffer collects log output written from handler goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testEnv is a callrep API on a loopback port, on a real labels service
// over an embedded FerretDB, a real reputation index and a local issuer.
type testEnv struct {
	url       string
	api       *api.Server
	labels    *labels.Service
	index     *reputation.Engine
	pubs      *reputation.Publisher
	issuer    *api.LocalIssuer
	issuerDir string
	clock     *apiClock
	logs      *syncBuffer
	validator *openapi.Validator
	client    *http.Client
}

// envOption adjusts the server config before New.
type envOption func(*api.Config)

func withLimits(l api.Limits) envOption { return func(c *api.Config) { c.Limits = l } }

func withTrustedProxies(p ...string) envOption {
	return func(c *api.Config) { c.TrustedProxies = p }
}

func newEnv(tb testing.TB, opts ...envOption) *testEnv {
	tb.Helper()
	ctx := context.Background()
	m := mongotest.Open(tb)
	store, err := labels.OpenStore(ctx, m.DB)
	if err != nil {
		tb.Fatalf("OpenStore: %v", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &apiClock{t: apiEpoch}
	// No account ramp: HTTP tests are about the API, not about trust.
	engineCfg := reputation.DefaultConfig()
	engineCfg.Ramp, engineCfg.Now = 0, clock.Now
	index := reputation.NewEngine(engineCfg)
	svc, err := labels.Open(ctx, store, labels.Options{
		DefaultRegion: "CN",
		Now:           clock.Now,
		Observers:     []labels.Observer{index},
		Logger:        quiet,
	})
	if err != nil {
		tb.Fatalf("labels.Open: %v", err)
	}
	tb.Cleanup(func() { _ = svc.Close(ctx) })

	issuerDir := tb.TempDir()
	issuer := mustLocalIssuer(tb, issuerDir, authEpoch)
	validator, err := openapi.NewValidator()
	if err != nil {
		tb.Fatalf("NewValidator: %v", err)
	}
	logs := &syncBuffer{}
	pubs := reputation.NewPublisher(reputation.DefaultPublisherConfig(), index, nil, quiet)
	if err := pubs.Rebuild(ctx); err != nil {
		tb.Fatalf("Rebuild: %v", err)
	}
	erasures, err := erasure.OpenStore(ctx, m.DB)
	if err != nil {
		tb.Fatal(err)
	}
	jobs, err := erasure.Open(ctx, erasures, erasure.Config{Steps: api.ErasureSteps(issuer, svc), Now: clock.Now, Logger: quiet, Retry: 50 * time.Millisecond})
	if err != nil {
		tb.Fatalf("erasure.Open: %v", err)
	}
	tb.Cleanup(jobs.Close)
	cfg := api.Config{
		Erasures:     jobs,
		Labels:       svc,
		Reputation:   index,
		Verifier:     issuer,
		Publications: pubs,
		Ready:        func(context.Context) error { return nil },
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := api.New(cfg)
	if err != nil {
		tb.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(func() {
		srv.Close()
		_ = s.Close()
	})
	return &testEnv{
		url: srv.URL, api: s, labels: svc, index: index, pubs: pubs, issuer: issuer, issuerDir: issuerDir,
		clock: clock, logs: logs, validator: validator, client: srv.Client(),
	}
}

// token returns a valid local token for uid.
func (e *testEnv) token(tb testing.TB, uid string) string {
	tb.Helper()
	return mustIssue(tb, e.issuer, uid, false, time.Hour)
}

// reporterID is the labels reporter of a local user.
func reporterID(uid string) string {
	return api.Principal{UID: uid, Provider: api.ProviderLocal}.ReporterID()
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request describes a test request. body is sent as is when it is a
// string, []byte or io.Reader, and as JSON otherwise.
type request struct {
	method string
	path   string
	token  string
	body   any
	header map[string]string
}

// do sends req and checks the response against the OpenAPI document.
func (e *testEnv) do(tb testing.TB, req request) response {
	tb.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("marshal body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(req.method, e.url+req.path, body)
	if err != nil {
		tb.Fatalf("NewRequest: %v", err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	resp, err := e.client.Do(hr)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", req.method, req.path, err)
	}
	if err := e.validator.ValidateResponse(hr, resp.StatusCode, resp.Header, got); err != nil {
		tb.Errorf("%s %s: response does not match the spec: %v\nbody: %s", req.method, req.path, err, clipBody(got))
	}
	return response{status: resp.StatusCode, header: resp.Header, body: got}
}

func (e *testEnv) get(tb testing.TB, path, token string) response {
	tb.Helper()
	return e.do(tb, request{method: http.MethodGet, path: path, token: token})
}

func (e *testEnv) post(tb testing.TB, path, token string, body any) response {
	tb.Helper()
	return e.do(tb, request{method: http.MethodPost, path: path, token: token, body: body})
}

func (e *testEnv) delete(tb testing.TB, path, token string) response {
	tb.Helper()
	return e.do(tb, request{method: http.MethodDelete, path: path, token: token})
}

func clipBody(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "…"
	}
	return string(b)
}

// decodeAs decodes a response body into a T.
func decodeAs[T any](tb testing.TB, r response) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		tb.Fatalf("decode %T: %v\nbody: %s", v, err, clipBody(r.body))
	}
	return v
}

// wantStatus fails unless the response has status.
func wantStatus(tb testing.TB, r response, status int) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status: got %d, want %d\nbody: %s", r.status, status, clipBody(r.body))
	}
}

// errorResponse is the error body of the API.
type errorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError fails unless the response is an error with status and code,
// with the headers those statuses require.
func wantError(tb testing.TB, r response, status int, code string) errorResponse {
	tb.Helper()
	wantStatus(tb, r, status)
	e := decodeAs[errorResponse](tb, r)
	if e.Error.Code != code {
		tb.Fatalf("error code: got %q (%q), want %q", e.Error.Code, e.Error.Message, code)
	}
	if e.Error.Message == "" {
		tb.Errorf("error message: got empty, want text")
	}
	switch status {
	case http.StatusUnauthorized:
		if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
			tb.Errorf("WWW-Authenticate: got %q, want a Bearer challenge", h)
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if r.header.Get("Retry-After") == "" {
			tb.Errorf("Retry-After: got none, want seconds")
		}
	}
	return e
}

// Shapes of successful answers, decoded loosely: the validator has already
// checked them against the spec.
type reportResponse struct {
	ID               string         `json:"id"`
	Number           string         `json:"number"`
	Valid            bool           `json:"valid"`
	NumberType       string         `json:"number_type"`
	Region           string         `json:"region"`
	Category         string         `json:"category"`
	Comment          *string        `json:"comment"`
	Call             map[string]any `json:"call"`
	ClientReportID   string         `json:"client_report_id"`
	Source           string         `json:"source"`
	ReplacedCategory string         `json:"replaced_category"`
	CreatedAt        time.Time      `json:"created_at"`
	Duplicate        bool           `json:"duplicate"`
}

type labelResponse struct {
	Number   string `json:"number"`
	Category string `json:"category"`
	ReportID string `json:"report_id"`
	Comment  string `json:"comment"`
}

type reputationResponse struct {
	Input       string         `json:"input"`
	Error       *errorDetail   `json:"error"`
	Number      string         `json:"number"`
	Valid       bool           `json:"valid"`
	NumberType  string         `json:"number_type"`
	Region      string         `json:"region"`
	Verdict     string         `json:"verdict"`
	TopCategory string         `json:"top_category"`
	Score       int            `json:"score"`
	Reporters   int            `json:"reporters"`
	Categories  map[string]int `json:"categories"`
	Signals     []string       `json:"signals"`
	MyLabel     *labelResponse `json:"my_label"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type labelPageResponse struct {
	Labels     []labelResponse `json:"labels"`
	NextCursor string          `json:"next_cursor"`
}

// numberPath is the path of a number resource with the number escaped.
func numberPath(prefix, number string) string {
	return prefix + url.PathEscape(number)
}

// report files a report and requires status.
func (e *testEnv) report(tb testing.TB, token string, body any, status int) reportResponse {
	tb.Helper()
	r := e.post(tb, "/v1/reports", token, body)
	wantStatus(tb, r, status)
	return decodeAs[reportResponse](tb, r)
}

// lookup looks number up, signed in when token is set.
func (e *testEnv) lookup(tb testing.TB, number, token string) reputationResponse {
	tb.Helper()
	r := e.get(tb, numberPath("/v1/numbers/", number), token)
	wantStatus(tb, r, http.StatusOK)
	return decodeAs[reputationResponse](tb, r)
}

// mine lists all of the caller's labels, following cursors.
func (e *testEnv) mine(tb testing.TB, token string) []labelResponse {
	tb.Helper()
	var all []labelResponse
	path := "/v1/me/reports?limit=1000"
	for {
		r := e.get(tb, path, token)
		wantStatus(tb, r, http.StatusOK)
		page := decodeAs[labelPageResponse](tb, r)
		all = append(all, page.Labels...)
		if page.NextCursor == "" {
			return all
		}
		path = "/v1/me/reports?limit=1000&cursor=" + url.QueryEscape(page.NextCursor)
	}
}

// failingLabels is the real labels service with chosen methods failing, to
// see how the API treats errors it cannot foresee.
type failingLabels struct {
	api.LabelService
	err   error
	panic bool
}

func (f failingLabels) Report(ctx context.Context, who labels.Reporter, in labels.ReportInput) (labels.Report, error) {
	if f.panic {
		panic("boom in Report")
	}
	return labels.Report{}, f.err
}

func TestNew_Errors(t *testing.T) {
	env := newEnv(t)
	valid := func() api.Config {
		return api.Config{Labels: env.labels, Reputation: env.index, Verifier: env.issuer, Publications: env.pubs}
	}
	badLimits := api.DefaultLimits()
	badLimits.ReportBurst = 0
	scenarios := []struct {
		name   string
		modify func(*api.Config)
	}{
		{"NoLabels", func(c *api.Config) { c.Labels = nil }},
		{"NoReputation", func(c *api.Config) { c.Reputation = nil }},
		{"NoVerifier", func(c *api.Config) { c.Verifier = nil }},
		{"NoPublications", func(c *api.Config) { c.Publications = nil }},
		{"BadLimits", func(c *api.Config) { c.Limits = badLimits }},
		{"BadTrustedProxy", func(c *api.Config) { c.TrustedProxies = []string{"not-an-address"} }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			cfg := valid()
			sc.modify(&cfg)
			if _, err := api.New(cfg); err == nil {
				t.Fatal("New: got nil error, want one")
			}
		})
	}
	t.Run("Defaults", func(t *testing.T) {
		s, err := api.New(valid())
		if err != nil {
			t.Fatalf("New: got %v, want nil", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: got %v, want nil", err)
		}
	})
}

func TestDefaultLimits(t *testing.T) {
	l := api.DefaultLimits()
	if l.RequestBurst < 1000 || l.SignedInRequestBurst < l.RequestBurst {
		t.Errorf("request bursts: got %d anonymous, %d signed in; want at least 1000 and more when signed in",
			l.RequestBurst, l.SignedInRequestBurst)
	}
	if l.ReportsPerMinute < 100 || l.ReportBurst < 100 {
		t.Errorf("reports: got %v/min burst %d, want at least 100 a minute", l.ReportsPerMinute, l.ReportBurst)
	}
	if l.DailyReports < l.ReportBurst {
		t.Errorf("daily quota: got %d, want at least a burst (%d)", l.DailyReports, l.ReportBurst)
	}
	if l.MaxBodyBytes < 256<<10 || l.MaxBodyBytes >= 2<<20 {
		t.Errorf("body limit: got %d, want room for a full batch and below 2 MB", l.MaxBodyBytes)
	}
}

// TestRoutesMatchSpec checks that every route is documented and every
// documented operation is routed.
func TestRoutesMatchSpec(t *testing.T) {
	env := newEnv(t)
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	var routed []string
	for _, r := range env.api.Routes() {
		if strings.Contains(r.Path, ":") {
			t.Errorf("route %s %s: got a colon in the path, want none", r.Method, r.Path)
		}
		routed = append(routed, r.Method+" "+r.Path)
	}
	for _, op := range documented {
		if !slices.Contains(routed, op) {
			t.Errorf("%s: documented, not routed", op)
		}
	}
	for _, op := range routed {
		if !slices.Contains(documented, op) {
			t.Errorf("%s: routed, not documented", op)
		}
	}
	if len(openapi.Paths()) == 0 {
		t.Fatal("openapi.Paths: got none")
	}
}

func TestInternalErrorsAreHidden(t *testing.T) {
	const secret = "mongo at 10.0.0.7 said no"
	scenarios := []struct {
		name       string
		labels     failingLabels
		wantStatus int
		wantCode   string
	}{
		{"PlainError", failingLabels{err: errors.New(secret)}, http.StatusInternalServerError, labels.EInternal},
		{"Panic", failingLabels{panic: true}, http.StatusInternalServerError, labels.EInternal},
		{"Unavailable", failingLabels{err: errors.Join(labels.Errorf(labels.EUnavailable, "storage is unavailable; retry later"), errors.New(secret))},
			http.StatusServiceUnavailable, labels.EUnavailable},
		{"UnknownCode", failingLabels{err: labels.Errorf("no_such_code", secret)}, http.StatusInternalServerError, labels.EInternal},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			env := newEnv(t, func(c *api.Config) {
				sc.labels.LabelService = c.Labels
				c.Labels = sc.labels
			})
			tok := env.token(t, "alice")
			body := map[string]any{"number": "+8613800138000", "category": "fraud"}
			r := env.post(t, "/v1/reports", tok, body)
			e := wantError(t, r, sc.wantStatus, sc.wantCode)
			if strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), "boom") {
				t.Errorf("body: got %s, want no internal detail", r.body)
			}
			if sc.wantCode == labels.EInternal && e.Error.Message != "internal error" {
				t.Errorf("message: got %q, want %q", e.Error.Message, "internal error")
			}
			if logs := env.logs.String(); !strings.Contains(logs, "request failed") {
				t.Errorf("logs: got %s, want the failure logged", logs)
			}

			// A batch fails as a whole on a server-side error.
			r = env.post(t, "/v1/reports/batch", tok, map[string]any{"reports": []any{body}})
			wantError(t, r, sc.wantStatus, sc.wantCode)
		})
	}
}
