package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/option"

	"github.com/callrep/callrep/push"
)

const project = "callrep-test"

// now is the fixed clock of every test.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeFCM is the FCM HTTP v1 API on loopback: it accepts
// POST /v1/projects/{project}/messages:send, checks each request as FCM
// would, records it, and answers with a message name or with the error
// scripted for its token.
type fakeFCM struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	requests []map[string]any // request bodies, decoded
	answers  map[string][]answer
}

// answer is one scripted response. Answers for a token are used in order;
// the last one repeats.
type answer struct {
	status int
	header map[string]string
	body   string
}

func newFakeFCM(t testing.TB) *fakeFCM {
	t.Helper()
	f := &fakeFCM{t: t, answers: map[string][]answer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// answerFor makes the fake answer requests for token with as, in order.
func (f *fakeFCM) answerFor(token string, as ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[token] = as
}

// sent returns the recorded request bodies.
func (f *fakeFCM) sent() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.requests...)
}

// reject answers a request FCM would refuse and fails the test: the SDK was
// driven into sending something FCM does not take.
func (f *fakeFCM) reject(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.t.Errorf("fake FCM: %s", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":"INVALID_ARGUMENT"}}`, status, msg)
}

func (f *fakeFCM) serve(w http.ResponseWriter, r *http.Request) {
	if want := "/v1/projects/" + project + "/messages:send"; r.Method != http.MethodPost || r.URL.Path != want {
		f.reject(w, http.StatusNotFound, "got %s %s, want POST %s", r.Method, r.URL.Path, want)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f.reject(w, http.StatusBadRequest, "got Content-Type %q, want application/json", ct)
		return
	}
	if v := r.Header.Get("X-Goog-Api-Format-Version"); v != "2" {
		f.reject(w, http.StatusBadRequest, "got X-GOOG-API-FORMAT-VERSION %q, want 2", v)
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		f.reject(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		f.reject(w, http.StatusBadRequest, "body is not JSON: %v", err)
		return
	}
	for k := range body {
		if k != "message" {
			// validate_only would make FCM check without delivering.
			f.reject(w, http.StatusBadRequest, "unexpected top-level field %q in %s", k, raw)
			return
		}
	}
	msg, _ := body["message"].(map[string]any)
	token, _ := msg["token"].(string)
	topic, hasTopic := msg["topic"].(string)
	switch {
	case token == "" && !hasTopic:
		f.reject(w, http.StatusBadRequest, "message.token or message.topic missing in %s", raw)
		return
	case token != "" && hasTopic:
		f.reject(w, http.StatusBadRequest, "message has both token and topic: %s", raw)
		return
	case hasTopic && !topicPattern.MatchString(topic):
		f.reject(w, http.StatusBadRequest, "message.topic %q is not a topic name", topic)
		return
	case hasTopic:
		token = "/topics/" + topic
	}
	data, _ := msg["data"].(map[string]any)
	for k, v := range data {
		if _, ok := v.(string); !ok {
			f.reject(w, http.StatusBadRequest, "message.data[%q] is %T, FCM takes only strings", k, v)
			return
		}
	}

	f.mu.Lock()
	f.requests = append(f.requests, body)
	var a answer
	if as := f.answers[token]; len(as) > 0 {
		a = as[0]
		if len(as) > 1 {
			f.answers[token] = as[1:]
		}
	}
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if a.status == 0 {
		fmt.Fprintf(w, `{"name":"projects/%s/messages/%s"}`, project, messageID(token))
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

// topicPattern is what FCM takes as a topic name, without /topics/.
var topicPattern = regexp.MustCompile(`^[a-zA-Z0-9-_.~%]+$`)

// messageID is the message id the fake assigns to a message for token.
func messageID(token string) string { return "0:" + strings.TrimPrefix(token, "tok-") }

// fcmError is a response in FCM's v1 error format. errorCode goes into the
// FcmError detail; "" leaves that detail out.
func fcmError(code int, status, message, errorCode string) answer {
	details := "[]"
	if errorCode != "" {
		details = fmt.Sprintf(`[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]`, errorCode)
	}
	return answer{status: code, body: fmt.Sprintf(
		`{"error":{"code":%d,"message":%q,"status":%q,"details":%s}}`, code, message, status, details)}
}

// The errors FCM answers with, as documented for the v1 API.
var (
	errUnregistered = fcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
	errBadToken     = fcmError(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT")
	errUnavailable  = fcmError(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
	errInternal     = fcmError(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
	errQuota        = fcmError(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'.", "QUOTA_EXCEEDED")
)

// withHeader returns a with an extra response header.
func withHeader(a answer, k, v string) answer {
	a.header = map[string]string{k: v}
	return a
}

// mustFCM connects the real SDK to the fake, on the fixed clock.
func mustFCM(t testing.TB, f *fakeFCM) *push.FCM {
	t.Helper()
	s, err := push.NewFCM(context.Background(), project,
		option.WithEndpoint(f.srv.URL+"/v1"),
		option.WithoutAuthentication(),
	)
	if err != nil {
		t.Fatalf("NewFCM: %v", err)
	}
	s.Now = func() time.Time { return now }
	return s
}

func warning() push.Warning {
	return push.Warning{
		Number:    "+8613800138000",
		Verdict:   "fraud",
		Category:  "fraud",
		Score:     92,
		Reporters: 17,
		IssuedAt:  now,
	}
}

// wantBody is the request FCM must receive for w sent to token with ttl
// left; edit adjusts the data map.
func wantBody(token string, w push.Warning, ttl time.Duration, alert string, edit func(data map[string]any)) map[string]any {
	data := map[string]any{
		"type":      "caller_warning",
		"v":         "1",
		"number":    w.Number,
		"verdict":   w.Verdict,
		"category":  w.Category,
		"score":     strconv.Itoa(w.Score),
		"reporters": strconv.Itoa(w.Reporters),
		"issued_at": w.IssuedAt.UTC().Format(time.RFC3339),
	}
	if edit != nil {
		edit(data)
	}
	collapse := "cw:" + w.Number
	return map[string]any{"message": map[string]any{
		"token": token,
		"data":  data,
		"android": map[string]any{
			"priority":     "high",
			"ttl":          fmt.Sprintf("%ds", int(ttl.Seconds())),
			"collapse_key": collapse,
		},
		"apns": map[string]any{
			"headers": map[string]any{
				"apns-push-type":   "alert",
				"apns-priority":    "10",
				"apns-expiration":  strconv.FormatInt(now.Add(ttl).Unix(), 10),
				"apns-collapse-id": collapse,
			},
			"payload": map[string]any{
				"aps": map[string]any{
					"alert":           map[string]any{"title": "Caller warning", "body": alert},
					"mutable-content": float64(1),
				},
			},
		},
	}}
}

func TestSend(t *testing.T) {
	const token = "tok-abcdefghijklmnop"
	scenarios := []struct {
		name     string
		warning  func(w *push.Warning)
		ttl      time.Duration // left at send time
		alert    string
		data     func(d map[string]any)
		platform push.Platform // the device's; its request lacks the other block
	}{
		{
			name:  "DefaultTTL",
			ttl:   5 * time.Minute,
			alert: "+8613800138000: suspected fraud",
		},
		{
			name:    "OwnTTL",
			warning: func(w *push.Warning) { w.TTL = 90 * time.Second },
			ttl:     90 * time.Second,
			alert:   "+8613800138000: suspected fraud",
		},
		{
			name:    "TTLCountsFromIssue",
			warning: func(w *push.Warning) { w.IssuedAt = now.Add(-2*time.Minute - 500*time.Millisecond) },
			ttl:     2*time.Minute + 59*time.Second,
			alert:   "+8613800138000: suspected fraud",
			data:    func(d map[string]any) { d["issued_at"] = "2026-03-01T11:57:59Z" },
		},
		{
			name:    "IssuedAheadOfOurClock",
			warning: func(w *push.Warning) { w.IssuedAt = now.Add(time.Minute) },
			ttl:     5 * time.Minute,
			alert:   "+8613800138000: suspected fraud",
			data:    func(d map[string]any) { d["issued_at"] = "2026-03-01T12:01:00Z" },
		},
		{
			name:    "IssuedAtZeroMeansNow",
			warning: func(w *push.Warning) { w.IssuedAt = time.Time{} },
			ttl:     5 * time.Minute,
			alert:   "+8613800138000: suspected fraud",
			data:    func(d map[string]any) { d["issued_at"] = "2026-03-01T12:00:00Z" },
		},
		{
			name:    "IssuedAtInOtherZone",
			warning: func(w *push.Warning) { w.IssuedAt = now.In(time.FixedZone("CST", 8*3600)) },
			ttl:     5 * time.Minute,
			alert:   "+8613800138000: suspected fraud",
		},
		{
			name:    "Reason",
			warning: func(w *push.Warning) { w.Reason = "Impersonates bank staff" },
			ttl:     5 * time.Minute,
			alert:   "+8613800138000: suspected fraud",
			data:    func(d map[string]any) { d["reason"] = "Impersonates bank staff" },
		},
		{
			name:    "LongReasonCutOnRuneBoundary",
			warning: func(w *push.Warning) { w.Reason = "a" + strings.Repeat("界", 100) },
			ttl:     5 * time.Minute,
			alert:   "+8613800138000: suspected fraud",
			// 1 + 85*3 = 256 bytes.
			data: func(d map[string]any) { d["reason"] = "a" + strings.Repeat("界", 85) },
		},
		{
			name: "SafeScopedNumberWithoutCategory",
			warning: func(w *push.Warning) {
				w.Number, w.Verdict, w.Category, w.Score, w.Reporters = "CN:95588", "safe", "", 0, 0
			},
			ttl:   5 * time.Minute,
			alert: "CN:95588: known caller",
		},
		{
			name:     "AndroidDevice",
			ttl:      5 * time.Minute,
			alert:    "+8613800138000: suspected fraud",
			platform: push.Android,
		},
		{
			name:     "IOSDevice",
			ttl:      5 * time.Minute,
			alert:    "+8613800138000: suspected fraud",
			platform: push.IOS,
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			fake := newFakeFCM(t)
			s := mustFCM(t, fake)
			w := warning()
			if sc.warning != nil {
				sc.warning(&w)
			}

			id, err := s.Send(context.Background(), push.Message{Token: token, Platform: sc.platform, Warning: w})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if want := "projects/" + project + "/messages/" + messageID(token); id != want {
				t.Errorf("got id %q, want %q", id, want)
			}
			sent := fake.sent()
			if len(sent) != 1 {
				t.Fatalf("got %d requests, want 1", len(sent))
			}
			if w.IssuedAt.IsZero() {
				w.IssuedAt = now
			}
			want := wantBody(token, w, sc.ttl, sc.alert, sc.data)
			msg := want["message"].(map[string]any)
			switch sc.platform {
			case push.Android:
				delete(msg, "apns")
			case push.IOS:
				delete(msg, "android")
			}
			if !reflect.DeepEqual(sent[0], want) {
				got, _ := json.MarshalIndent(sent[0], "", "  ")
				exp, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("got request\n%s\nwant\n%s", got, exp)
			}
		})
	}
}

func TestSendRefusesLocally(t *testing.T) {
	const token = "tok-secret-device-token"
	scenarios := []struct {
		name    string
		token   string
		warning func(w *push.Warning)
		want    error
	}{
		{"ErrTokenRequired", "", nil, push.ErrInvalid},
		{"ErrNumberRequired", token, func(w *push.Warning) { w.Number = "" }, push.ErrInvalid},
		{"ErrNumberTooLong", token, func(w *push.Warning) { w.Number = "+" + strings.Repeat("1", 40) }, push.ErrInvalid},
		{"ErrVerdictRequired", token, func(w *push.Warning) { w.Verdict = "" }, push.ErrInvalid},
		{"ErrNegativeTTL", token, func(w *push.Warning) { w.TTL = -time.Second }, push.ErrInvalid},
		{"ErrTTLBeyondFCMLimit", token, func(w *push.Warning) { w.TTL = 29 * 24 * time.Hour }, push.ErrInvalid},
		{"ErrExpired", token, func(w *push.Warning) { w.IssuedAt = now.Add(-push.DefaultTTL - time.Second) }, push.ErrExpired},
		{"ErrExpiredWithinASecond", token, func(w *push.Warning) { w.IssuedAt = now.Add(-push.DefaultTTL + 500*time.Millisecond) }, push.ErrExpired},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			fake := newFakeFCM(t)
			s := mustFCM(t, fake)
			w := warning()
			if sc.warning != nil {
				sc.warning(&w)
			}

			_, err := s.Send(context.Background(), push.Message{Token: sc.token, Warning: w})
			if !errors.Is(err, sc.want) {
				t.Fatalf("got error %v, want %v", err, sc.want)
			}
			if push.Permanent(err) || push.Retryable(err) {
				t.Errorf("got Permanent %v, Retryable %v, want neither", push.Permanent(err), push.Retryable(err))
			}
			if token != "" && strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the device token", err)
			}
			if n := len(fake.sent()); n != 0 {
				t.Errorf("got %d requests, want none", n)
			}
		})
	}
}

func TestClassification(t *testing.T) {
	const token = "tok-0123456789abcdef"
	scenarios := []struct {
		name       string
		answer     answer
		permanent  bool
		retryable  bool
		retryAfter time.Duration
	}{
		{name: "Unregistered", answer: errUnregistered, permanent: true},
		{name: "InvalidToken", answer: errBadToken, permanent: true},
		{
			// A malformed payload: FCM names the field, no FcmError detail.
			name:   "InvalidPayload",
			answer: answer{status: 400, body: `{"error":{"code":400,"message":"Invalid JSON payload received. Unknown name \"priority\" at 'message': Cannot find field.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message","description":"Invalid JSON payload received. Unknown name \"priority\" at 'message': Cannot find field."}]}]}}`},
		},
		{
			name:   "InvalidArgumentNotAboutToken",
			answer: fcmError(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", "INVALID_ARGUMENT"),
		},
		{
			// A wrong project id: not found, but no token is to blame.
			name:   "NotFoundWithoutUnregistered",
			answer: fcmError(404, "NOT_FOUND", "Requested entity was not found.", ""),
		},
		{
			name:   "SenderIDMismatch",
			answer: fcmError(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"),
		},
		{
			name:   "ThirdPartyAuth",
			answer: fcmError(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR"),
		},
		{
			// A Retry-After beyond two minutes stops the SDK's own retries.
			name:       "Unavailable",
			answer:     withHeader(errUnavailable, "Retry-After", "3600"),
			retryable:  true,
			retryAfter: time.Hour,
		},
		{name: "Internal", answer: errInternal, retryable: true},
		{
			name:       "QuotaExceeded",
			answer:     withHeader(errQuota, "Retry-After", "60"),
			retryable:  true,
			retryAfter: time.Minute,
		},
		{
			name:      "ProxyErrorPage",
			answer:    answer{status: 502, body: "<html><body>Bad Gateway</body></html>"},
			retryable: true,
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			fake := newFakeFCM(t)
			s := mustFCM(t, fake)
			fake.answerFor(token, sc.answer)

			_, err := s.Send(context.Background(), push.Message{Token: token, Warning: warning()})
			if err == nil {
				t.Fatal("got no error")
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error %q contains the device token", err)
			}
			if !strings.Contains(err.Error(), "tok-0123...") {
				t.Errorf("error %q does not name the device by its token prefix", err)
			}
			// The outbox will wrap what it gets; classification must survive.
			for _, e := range []error{err, fmt.Errorf("outbox: %w", err), errors.Join(errors.New("other"), err)} {
				if got := push.Permanent(e); got != sc.permanent {
					t.Errorf("Permanent(%v) = %v, want %v", e, got, sc.permanent)
				}
				if got := push.Retryable(e); got != sc.retryable {
					t.Errorf("Retryable(%v) = %v, want %v", e, got, sc.retryable)
				}
				if got := push.RetryAfter(e); got != sc.retryAfter {
					t.Errorf("RetryAfter(%v) = %v, want %v", e, got, sc.retryAfter)
				}
			}
			if n := len(fake.sent()); n != 1 {
				t.Errorf("got %d requests, want 1 (the SDK retried)", n)
			}
		})
	}
}

func TestClassificationOfOtherErrors(t *testing.T) {
	scenarios := []struct {
		name string
		err  error
	}{
		{"Nil", nil},
		{"Plain", errors.New("boom")},
		{"Canceled", context.Canceled},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if push.Permanent(sc.err) || push.Retryable(sc.err) || push.RetryAfter(sc.err) != 0 {
				t.Errorf("got Permanent %v, Retryable %v, RetryAfter %v; want false, false, 0",
					push.Permanent(sc.err), push.Retryable(sc.err), push.RetryAfter(sc.err))
			}
		})
	}
}

func TestSendErrorHidesTokenQuotedByFCM(t *testing.T) {
	const token = "tok-quoted-in-error-text"
	fake := newFakeFCM(t)
	s := mustFCM(t, fake)
	fake.answerFor(token, fcmError(400, "INVALID_ARGUMENT",
		"Invalid value at 'message.token' ("+token+")", "INVALID_ARGUMENT"))

	_, err := s.Send(context.Background(), push.Message{Token: token, Warning: warning()})
	if err == nil {
		t.Fatal("got no error")
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error %q contains the device token", err)
	}
}

func TestSendRetriesTransientUnavailable(t *testing.T) {
	const token = "tok-flaky"
	fake := newFakeFCM(t)
	s := mustFCM(t, fake)
	// The SDK retries a 503 at once the first time, so this costs no sleep.
	fake.answerFor(token, errUnavailable, answer{})

	id, err := s.Send(context.Background(), push.Message{Token: token, Warning: warning()})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if want := "projects/" + project + "/messages/" + messageID(token); id != want {
		t.Errorf("got id %q, want %q", id, want)
	}
	if n := len(fake.sent()); n != 2 {
		t.Errorf("got %d requests, want 2", n)
	}
}

func TestSendEach(t *testing.T) {
	t.Run("MixedOutcomesInOrder", func(t *testing.T) {
		fake := newFakeFCM(t)
		s := mustFCM(t, fake)
		fake.answerFor("tok-gone-device-1", errUnregistered)
		fake.answerFor("tok-busy-device-1", withHeader(errQuota, "Retry-After", "30"))
		expired := warning()
		expired.IssuedAt = now.Add(-time.Hour)
		msgs := []push.Message{
			{Token: "tok-ok-device-1", Warning: warning()},
			{Token: "tok-gone-device-1", Warning: warning()},
			{Token: "", Warning: warning()},
			{Token: "tok-busy-device-1", Warning: warning()},
			{Token: "tok-late-device-1", Warning: expired},
			{Token: "tok-ok-device-2", Warning: warning()},
		}

		results := s.SendEach(context.Background(), msgs)
		if len(results) != len(msgs) {
			t.Fatalf("got %d results, want %d", len(results), len(msgs))
		}
		want := []struct {
			id                   string
			is                   error
			permanent, retryable bool
		}{
			{id: "projects/" + project + "/messages/" + messageID("tok-ok-device-1")},
			{permanent: true},
			{is: push.ErrInvalid},
			{retryable: true},
			{is: push.ErrExpired},
			{id: "projects/" + project + "/messages/" + messageID("tok-ok-device-2")},
		}
		for i, r := range results {
			w := want[i]
			if r.ID != w.id {
				t.Errorf("result %d: got id %q, want %q", i, r.ID, w.id)
			}
			if w.id != "" {
				if r.Err != nil {
					t.Errorf("result %d: got error %v, want none", i, r.Err)
				}
				continue
			}
			if r.Err == nil {
				t.Errorf("result %d: got no error", i)
				continue
			}
			if w.is != nil && !errors.Is(r.Err, w.is) {
				t.Errorf("result %d: got error %v, want %v", i, r.Err, w.is)
			}
			if got := push.Permanent(r.Err); got != w.permanent {
				t.Errorf("result %d: got Permanent %v, want %v", i, got, w.permanent)
			}
			if got := push.Retryable(r.Err); got != w.retryable {
				t.Errorf("result %d: got Retryable %v, want %v", i, got, w.retryable)
			}
			if msgs[i].Token != "" && strings.Contains(r.Err.Error(), msgs[i].Token) {
				t.Errorf("result %d: error %q contains the device token", i, r.Err)
			}
		}
		if got := push.RetryAfter(results[3].Err); got != 30*time.Second {
			t.Errorf("got RetryAfter %v, want 30s", got)
		}
		// Only the valid, live messages reach FCM.
		if n := len(fake.sent()); n != 4 {
			t.Errorf("got %d requests, want 4", n)
		}
	})

	t.Run("MoreThanOneSDKBatch", func(t *testing.T) {
		fake := newFakeFCM(t)
		s := mustFCM(t, fake)
		const n = 1201 // three chunks: 500, 500, 201
		msgs := make([]push.Message, n)
		for i := range msgs {
			msgs[i] = push.Message{Token: fmt.Sprintf("tok-device-%04d", i), Warning: warning()}
		}
		fake.answerFor("tok-device-0777", errUnregistered)

		results := s.SendEach(context.Background(), msgs)
		if len(results) != n {
			t.Fatalf("got %d results, want %d", len(results), n)
		}
		for i, r := range results {
			if i == 777 {
				if !push.Permanent(r.Err) {
					t.Errorf("result 777: got error %v, want a permanent one", r.Err)
				}
				continue
			}
			if want := "projects/" + project + "/messages/" + messageID(msgs[i].Token); r.Err != nil || r.ID != want {
				t.Errorf("result %d: got %q, %v; want %q, no error", i, r.ID, r.Err, want)
			}
		}
		if got := len(fake.sent()); got != n {
			t.Errorf("got %d requests, want %d", got, n)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		fake := newFakeFCM(t)
		s := mustFCM(t, fake)
		if results := s.SendEach(context.Background(), nil); len(results) != 0 {
			t.Errorf("got %d results, want 0", len(results))
		}
		if n := len(fake.sent()); n != 0 {
			t.Errorf("got %d requests, want none", n)
		}
	})

	t.Run("CanceledContextSendsNothing", func(t *testing.T) {
		fake := newFakeFCM(t)
		s := mustFCM(t, fake)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		const token = "tok-device-canceled"
		results := s.SendEach(ctx, []push.Message{{Token: token, Warning: warning()}})
		if len(results) != 1 || !errors.Is(results[0].Err, context.Canceled) {
			t.Fatalf("got %+v, want one result with context.Canceled", results)
		}
		if strings.Contains(results[0].Err.Error(), token) {
			t.Errorf("error %q contains the device token", results[0].Err)
		}
		if n := len(fake.sent()); n != 0 {
			t.Errorf("got %d requests, want none", n)
		}
	})
}

func TestNewFCMRequiresProject(t *testing.T) {
	if _, err := push.NewFCM(context.Background(), "", option.WithoutAuthentication()); err == nil {
		t.Error("got no error for an empty project id")
	}
}

func TestCollapseKey(t *testing.T) {
	scenarios := []struct {
		number, want string
	}{
		{"+8613800138000", "cw:+8613800138000"},
		{"CN:95588", "cw:CN:95588"},
	}
	for _, sc := range scenarios {
		t.Run(sc.number, func(t *testing.T) {
			m := push.Message{Token: "tok", Warning: push.Warning{Number: sc.number}}
			if got := m.CollapseKey(); got != sc.want {
				t.Errorf("got %q, want %q", got, sc.want)
			}
		})
	}
}

func TestSendToTopic(t *testing.T) {
	fake := newFakeFCM(t)
	s := mustFCM(t, fake)
	w := push.Warning{
		Kind: push.KindFilterRefresh, IssuedAt: now, TTL: time.Hour,
		Data: map[string]string{"filter": "fraud", "version": "7"}, Collapse: "filters:fraud",
	}
	for _, topic := range []string{"filter-fraud", "/topics/filter-fraud"} {
		if _, err := s.Send(context.Background(), push.Message{Topic: topic, Warning: w}); err != nil {
			t.Fatalf("Send to %s: %v", topic, err)
		}
	}
	sent := fake.sent()
	if len(sent) != 2 {
		t.Fatalf("got %d requests, want 2", len(sent))
	}
	want := map[string]any{"message": map[string]any{
		"topic": "filter-fraud",
		"data":  map[string]any{"type": "filter_refresh", "v": "1", "issued_at": "2026-03-01T12:00:00Z", "filter": "fraud", "version": "7"},
		"android": map[string]any{
			"priority": "normal", "ttl": "3600s", "collapse_key": "filters:fraud",
		},
		"apns": map[string]any{
			"headers": map[string]any{
				"apns-push-type": "background", "apns-priority": "5",
				"apns-expiration":  strconv.FormatInt(now.Add(time.Hour).Unix(), 10),
				"apns-collapse-id": "filters:fraud",
			},
			"payload": map[string]any{"aps": map[string]any{"content-available": float64(1)}},
		},
	}}
	for i := range sent {
		if !reflect.DeepEqual(sent[i], want) {
			got, _ := json.MarshalIndent(sent[i], "", "  ")
			exp, _ := json.MarshalIndent(want, "", "  ")
			t.Errorf("request %d: got\n%s\nwant\n%s", i, got, exp)
		}
	}

	t.Run("Refused", func(t *testing.T) {
		for _, m := range []push.Message{
			{Topic: "bad topic", Warning: w},
			{Topic: "福建", Warning: w},
			{Token: "tok-x", Topic: "filter-fraud", Warning: w},
			{Topic: "x", Warning: push.Warning{Kind: push.KindFraudWave, Data: map[string]string{"type": "other"}}},
		} {
			if _, err := s.Send(context.Background(), m); !errors.Is(err, push.ErrInvalid) {
				t.Errorf("%+v: got %v, want ErrInvalid", m, err)
			}
		}
	})
}

func TestSendLocalisedKinds(t *testing.T) {
	fake := newFakeFCM(t)
	s := mustFCM(t, fake)
	w := warning()
	w.Kind, w.Title, w.Body, w.TTL = push.KindRetroWarning, "来电提醒", "号码 +86 138 0013 8000 现被 12 人标记为诈骗", 24*time.Hour
	if _, err := s.Send(context.Background(), push.Message{Token: "tok-retro", Warning: w}); err != nil {
		t.Fatal(err)
	}
	g := warning()
	g.Kind, g.Title, g.Body = push.KindGuardianAlert, "Mum's phone is ringing", "+86 138 0013 8000, reported as fraud by 17 people"
	if _, err := s.Send(context.Background(), push.Message{Token: "tok-guard", Warning: g}); err != nil {
		t.Fatal(err)
	}
	sent := fake.sent()
	scenarios := []struct {
		priority, apnsPriority, collapse, title, typ string
	}{
		{"normal", "5", "rw:+8613800138000", w.Title, "retro_warning"},
		{"high", "10", "ga:+8613800138000", g.Title, "guardian_alert"},
	}
	for i, sc := range scenarios {
		msg := sent[i]["message"].(map[string]any)
		android := msg["android"].(map[string]any)
		apns := msg["apns"].(map[string]any)
		data := msg["data"].(map[string]any)
		alert := apns["payload"].(map[string]any)["aps"].(map[string]any)["alert"].(map[string]any)
		if android["priority"] != sc.priority || android["collapse_key"] != sc.collapse ||
			apns["headers"].(map[string]any)["apns-priority"] != sc.apnsPriority ||
			alert["title"] != sc.title || data["title"] != sc.title || data["type"] != sc.typ || data["number"] != "+8613800138000" {
			t.Errorf("message %d: got %v", i, msg)
		}
	}
}
