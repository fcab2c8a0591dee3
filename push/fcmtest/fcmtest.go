// Package fcmtest is a fake of the FCM HTTP v1 API on loopback, for tests
// and benchmarks that drive the real Firebase SDK (or the real binary)
// against it. It checks every request as FCM would (path, method, token or
// topic, Android and APNs blocks, string data values), records it and
// answers with a message name or with answers scripted per token or topic.
package fcmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Message is one request the fake accepted.
type Message struct {
	Token   string
	Topic   string
	Data    map[string]string
	Android map[string]any
	APNS    map[string]any
}

// Answer is one scripted response; a target's answers are used in order,
// the last one repeating.
type Answer struct {
	Status int
	Header map[string]string
	Body   string
}

// FCM's errors, in its v1 format.
var (
	Unregistered = fcmError(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
	Unavailable  = fcmError(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
	Quota        = fcmError(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'.", "QUOTA_EXCEEDED")
)

// OK answers success.
var OK = Answer{}

func fcmError(code int, status, message, errorCode string) Answer {
	return Answer{Status: code, Body: fmt.Sprintf(
		`{"error":{"code":%d,"message":%q,"status":%q,"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]}}`,
		code, message, status, errorCode)}
}

// WithRetryAfter returns a with a Retry-After header of secs seconds.
func WithRetryAfter(a Answer, secs int) Answer {
	a.Header = map[string]string{"Retry-After": fmt.Sprint(secs)}
	return a
}

// Server is the fake.
type Server struct {
	// URL is the endpoint to give the SDK (option.WithEndpoint): it ends
	// in /v1.
	URL     string
	Project string
	// Keep records every accepted message; false only counts them (for
	// benchmarks).
	Keep bool

	tb    testing.TB
	srv   *httptest.Server
	count atomic.Int64
	bad   atomic.Int64

	mu      sync.Mutex
	got     []Message
	samples []Request // kept by Sample
	sampleN int       // how many more to keep
	answers map[string][]Answer
	delay   time.Duration
}

var topicName = regexp.MustCompile(`^[a-zA-Z0-9-_.~%]+$`)

// New starts the fake for project on a loopback port; it stops when tb
// ends.
func New(tb testing.TB, project string) *Server {
	tb.Helper()
	s := &Server{Project: project, Keep: true, tb: tb, answers: map[string][]Answer{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.SetKeepAlivesEnabled(true)
	s.srv.Start()
	s.URL = s.srv.URL + "/v1"
	tb.Cleanup(s.srv.Close)
	return s
}

// Addr returns the address the fake listens on.
func (s *Server) Addr() net.Addr { return s.srv.Listener.Addr() }

// AnswerFor scripts the answers to requests for target, a token or
// "/topics/<name>".
func (s *Server) AnswerFor(target string, as ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[target] = as
}

// SetDelay makes every answer wait d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Messages returns the accepted messages so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.got...)
}

// Count returns how many requests were answered with success.
func (s *Server) Count() int64 { return s.count.Load() }

// Bad returns how many requests the fake refused as malformed.
func (s *Server) Bad() int64 { return s.bad.Load() }

func (s *Server) reject(w http.ResponseWriter, format string, args ...any) {
	s.bad.Add(1)
	msg := fmt.Sprintf(format, args...)
	s.tb.Errorf("fake FCM: %s", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(400)
	fmt.Fprintf(w, `{"error":{"code":400,"message":%q,"status":"INVALID_ARGUMENT"}}`, msg)
}

type request struct {
	Message struct {
		Token   string          `json:"token"`
		Topic   *string         `json:"topic"`
		Data    map[string]any  `json:"data"`
		Android map[string]any  `json:"android"`
		APNS    map[string]any  `json:"apns"`
		Extra   json.RawMessage `json:"notification"`
	} `json:"message"`
	ValidateOnly *bool `json:"validate_only"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if want := "/v1/projects/" + s.Project + "/messages:send"; r.Method != http.MethodPost || r.URL.Path != want {
		s.reject(w, "got %s %s, want POST %s", r.Method, r.URL.Path, want)
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		// The client hung up mid-body (a sender cancelled at shutdown):
		// nothing arrived, so nothing is counted or refused.
		return
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.reject(w, "body %s: %v", raw, err)
		return
	}
	m := req.Message
	switch {
	case req.ValidateOnly != nil:
		s.reject(w, "validate_only set")
		return
	case (m.Token == "") == (m.Topic == nil):
		s.reject(w, "want exactly one of token and topic: %s", raw)
		return
	case m.Topic != nil && !topicName.MatchString(*m.Topic):
		s.reject(w, "topic %q is not a topic name", *m.Topic)
		return
	case m.Android == nil && m.APNS == nil:
		s.reject(w, "neither an android nor an apns block: %s", raw)
		return
	case m.Topic != nil && (m.Android == nil || m.APNS == nil):
		s.reject(w, "a topic message reaches both platforms and needs both blocks: %s", raw)
		return
	case m.Android != nil && (m.Android["priority"] == nil || m.Android["ttl"] == nil):
		s.reject(w, "android block without priority or ttl: %s", raw)
		return
	case m.APNS != nil && m.APNS["headers"] == nil:
		s.reject(w, "apns block without headers: %s", raw)
		return
	}
	data := map[string]string{}
	for k, v := range m.Data {
		str, ok := v.(string)
		if !ok {
			s.reject(w, "data[%q] is %T; FCM takes strings only", k, v)
			return
		}
		data[k] = str
	}
	for _, k := range []string{"type", "v", "issued_at"} {
		if data[k] == "" {
			s.reject(w, "data key %q missing: %s", k, raw)
			return
		}
	}
	target := m.Token
	msg := Message{Token: m.Token, Data: data, Android: m.Android, APNS: m.APNS}
	if m.Topic != nil {
		msg.Topic = *m.Topic
		target = "/topics/" + *m.Topic
	}
	s.mu.Lock()
	var a Answer
	if as := s.answers[target]; len(as) > 0 {
		a = as[0]
		if len(as) > 1 {
			s.answers[target] = as[1:]
		}
	}
	delay := s.delay
	if a.Status == 0 && s.Keep {
		s.got = append(s.got, msg)
	}
	if a.Status == 0 && s.sampleN > 0 {
		s.samples, s.sampleN = append(s.samples, Request{Header: r.Header.Clone(), Body: raw}), s.sampleN-1
	}
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if a.Status == 0 {
		s.count.Add(1)
		fmt.Fprintf(w, `{"name":"projects/%s/messages/%d"}`, s.Project, s.count.Load())
		return
	}
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.Status)
	io.WriteString(w, a.Body)
}

// Request is an accepted request as it arrived: its headers and raw body.
type Request struct {
	Header http.Header
	Body   []byte
}

// Sample keeps the next n accepted requests, for Samples, dropping those
// kept before.
func (s *Server) Sample(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples, s.sampleN = nil, n
}

// Samples returns the requests Sample kept.
func (s *Server) Samples() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// Baseline posts n requests to the fake with a minimal Go client, 50 in
// flight over keep-alive connections, taking reqs in turn (their headers
// and bodies; the client sets the length), and returns the rate in
// requests per second: the yardstick of the fan-out benchmark, which
// replays what the SDK sent (see Sample).
func (s *Server) Baseline(n int, reqs []Request) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	url := s.URL + "/projects/" + s.Project + "/messages:send"
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 50 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				r := reqs[int(i)%len(reqs)]
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.Body))
				for k, v := range r.Header {
					if k != "Content-Length" {
						req.Header[k] = v
					}
				}
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
