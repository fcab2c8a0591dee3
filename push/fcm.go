package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
)

// maxBatch is the most messages the SDK's SendEach takes in one call.
const maxBatch = 500

// FCM sends warnings through the Firebase Cloud Messaging HTTP v1 API. It is
// safe for concurrent use; create one and reuse it.
type FCM struct {
	client *messaging.Client

	// Now returns the current time; it decides how much of a warning's
	// TTL is left. NewFCM sets it to time.Now; tests replace it before the
	// first send.
	Now func() time.Time
}

// NewFCM creates a sender for projectID. opts are passed to the Admin SDK
// (credentials, HTTP client, endpoint); none are needed when running on
// Google Cloud.
func NewFCM(ctx context.Context, projectID string, opts ...option.ClientOption) (*FCM, error) {
	// An empty project would make the SDK guess it from credentials or the
	// environment; callrep wants it spelled out.
	if projectID == "" {
		return nil, errors.New("push: firebase project id is required")
	}
	// The SDK's transport wraps every request in OpenTelemetry
	// instrumentation, a fifth of its CPU per message in a fan-out
	// (profiled); callrep counts its sends itself.
	opts = append([]option.ClientOption{option.WithTelemetryDisabled()}, opts...)
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: projectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("push: unable to initialise firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("push: unable to initialise firebase messaging: %w", err)
	}
	return &FCM{client: client, Now: time.Now}, nil
}

// Send sends one warning and returns the message name FCM assigned.
//
// The message is data-only, so the app decides what to show. Its data
// payload is the wire contract phones read; every value is a string:
//
//	type       "caller_warning"
//	v          "1"; the contract version. Keys may be added within a
//	           version, never removed or changed in meaning.
//	number     normalised number key: "+8613800138000" or "CN:95588"
//	verdict    "fraud", "spam", "benign", "safe" or "unknown"; a phone
//	           treats a value it does not know as "unknown"
//	category   top category id, "" if none
//	score      decimal integer, 0–100
//	reporters  decimal integer, distinct reporters
//	issued_at  RFC 3339 time in UTC when callrep decided to warn
//	reason     optional short text for the user; absent when empty
//
// Android gets priority "high", so the message wakes the phone while the
// call rings. The app must show a notification for it: FCM demotes apps that
// receive high-priority messages without showing anything.
//
// iOS gets an alert push (apns-push-type "alert", apns-priority "10") with
// a plain English fallback text, mutable-content set so the app's
// notification service extension can rewrite it from the data keys, and no
// sound since the phone is already ringing. A background push would be
// quieter but cannot serve: APNs requires priority 5 for it, throttles it,
// and never delivers it to an app the user has force-quit, while a warning
// is only useful now.
//
// Both platforms collapse undelivered warnings per number (see
// Message.CollapseKey; FCM keeps at most four collapse keys per device
// pending) and discard a warning once its TTL, counted from IssuedAt, has run
// out. When none of the TTL is left, Send sends nothing and returns an error
// wrapping ErrExpired.
//
// Errors never contain the device token. Classify them with Permanent and
// Retryable; the SDK's own messaging.Is* functions do not see through the
// wrapping. The SDK has already retried network errors and HTTP 503 a few
// times, honouring Retry-After up to two minutes, when Send returns.
func (f *FCM) Send(ctx context.Context, m Message) (string, error) {
	msg, err := f.build(m, f.Now())
	if err != nil {
		return "", err
	}
	id, err := f.client.Send(ctx, msg)
	if err != nil {
		return "", m.wrapSendError(err)
	}
	return id, nil
}

// SendEach sends many warnings, as Send does for each, and returns one
// Result per message in the order given. A message that is invalid or
// expired gets its error without holding up the others. The SDK sends each
// message in its own request, up to 50 at a time; SendEach hands them over
// in chunks of 500, the most it takes.
func (f *FCM) SendEach(ctx context.Context, msgs []Message) []Result {
	results := make([]Result, len(msgs))
	now := f.Now()
	var (
		idx   []int
		batch []*messaging.Message
	)
	for i, m := range msgs {
		msg, err := f.build(m, now)
		if err != nil {
			results[i].Err = err
			continue
		}
		idx = append(idx, i)
		batch = append(batch, msg)
	}
	for start := 0; start < len(batch); start += maxBatch {
		end := min(start+maxBatch, len(batch))
		f.sendChunk(ctx, msgs, idx[start:end], batch[start:end], results)
	}
	return results
}

// sendChunk sends batch, whose messages came from msgs at idx, and fills in
// their results.
func (f *FCM) sendChunk(ctx context.Context, msgs []Message, idx []int, batch []*messaging.Message, results []Result) {
	fail := func(err error) {
		for _, i := range idx {
			results[i].Err = msgs[i].wrapSendError(err)
		}
	}
	// Each message would fail on its own; spare FCM the requests.
	if err := ctx.Err(); err != nil {
		fail(err)
		return
	}
	br, err := f.client.SendEach(ctx, batch)
	if err != nil {
		// Only the SDK's validation of the whole batch ends up here.
		fail(err)
		return
	}
	for j, r := range br.Responses {
		i := idx[j]
		if r.Success {
			results[i].ID = r.MessageID
			continue
		}
		results[i].Err = msgs[i].wrapSendError(r.Error)
	}
}

// build turns m into an SDK message as of now.
func (f *FCM) build(m Message, now time.Time) (*messaging.Message, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	w := m.Warning
	issued := w.IssuedAt
	if issued.IsZero() {
		issued = now
	}
	// The TTL counts from issue, not from this attempt: retries must not
	// stretch the life of a warning. A clock running ahead of ours does not
	// stretch it either.
	ttl := min(issued.Add(w.ttl()).Sub(now), w.ttl()).Truncate(time.Second)
	if ttl < time.Second {
		return nil, fmt.Errorf("%w: %s issued at %s with ttl %v", ErrExpired, w.Number, issued.UTC().Format(time.RFC3339), w.ttl())
	}
	expires := now.Add(ttl)

	kind := w.kind()
	data := map[string]string{
		"type":      string(kind),
		"v":         "1",
		"issued_at": issued.UTC().Format(time.RFC3339),
	}
	if kind.aboutNumber() {
		data["number"] = w.Number
		data["verdict"] = w.Verdict
		data["category"] = w.Category
		data["score"] = strconv.Itoa(w.Score)
		data["reporters"] = strconv.Itoa(w.Reporters)
	}
	if r := w.shortReason(); r != "" {
		data["reason"] = r
	}
	for k, v := range w.Data {
		data[k] = v
	}
	collapse := m.CollapseKey()
	msg := &messaging.Message{
		Token: m.Token,
		// The SDK strips a /topics/ prefix itself.
		Topic: m.Topic,
		Data:  data,
		Android: &messaging.AndroidConfig{
			CollapseKey: collapse,
			Priority:    "high",
			TTL:         &ttl,
		},
	}
	headers := map[string]string{
		"apns-push-type":   "alert",
		"apns-priority":    "10",
		"apns-expiration":  strconv.FormatInt(expires.Unix(), 10),
		"apns-collapse-id": collapse,
	}
	if !kind.urgent() {
		// Normal priority: delivered when the phone next wakes, without
		// counting against the app's high-priority budget.
		msg.Android.Priority = "normal"
		headers["apns-priority"] = "5"
	}
	if kind == KindFilterRefresh {
		// Nothing to show: a background push that lets the app fetch.
		headers["apns-push-type"] = "background"
		msg.APNS = &messaging.APNSConfig{Headers: headers, Payload: &messaging.APNSPayload{Aps: &messaging.Aps{ContentAvailable: true}}}
		return m.forPlatform(msg), nil
	}
	title, body := w.Title, w.Body
	if title == "" && body == "" {
		title, body = "Caller warning", w.Number+": "+verdictText(w.Verdict)
	}
	msg.APNS = &messaging.APNSConfig{
		Headers: headers,
		Payload: &messaging.APNSPayload{
			Aps: &messaging.Aps{
				Alert:          &messaging.ApsAlert{Title: title, Body: body},
				MutableContent: true,
			},
		},
	}
	if w.Title != "" || w.Body != "" {
		// Android shows data messages through the app, which reads the
		// texts from the data keys.
		data["title"], data["body"] = w.Title, w.Body
	}
	return m.forPlatform(msg), nil
}

// forPlatform drops the block that msg's device cannot use.
func (m Message) forPlatform(msg *messaging.Message) *messaging.Message {
	switch m.Platform {
	case Android:
		msg.APNS = nil
	case IOS:
		msg.Android = nil
	}
	return msg
}

// verdictText is the fallback wording of a verdict on iOS, shown only if the
// app's notification service extension does not replace it.
func verdictText(verdict string) string {
	switch verdict {
	case "fraud":
		return "suspected fraud"
	case "spam":
		return "suspected spam"
	case "benign":
		return "reported, probably harmless"
	case "safe":
		return "known caller"
	default:
		return "no reports"
	}
}

// sendError is a send failure whose text names the device by a token prefix
// only. Unwrap returns the SDK's error for classification.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }

// wrapSendError wraps err from sending m: to a topic, named, or to a device,
// by its token prefix.
func (m Message) wrapSendError(err error) error {
	if m.Token == "" && m.Topic != "" {
		return &sendError{msg: "push: send to topic " + m.Topic + ": " + err.Error(), err: err}
	}
	return wrapSendError(m.Token, err)
}

// wrapSendError wraps err from sending to token. FCM's error texts do not
// quote the token today, but one that quotes the request could; the token is
// replaced wherever it appears.
func wrapSendError(token string, err error) error {
	r := redact(token)
	text := err.Error()
	if token != "" {
		text = strings.ReplaceAll(text, token, r)
	}
	return &sendError{msg: "push: send to device " + r + ": " + text, err: err}
}

// Permanent reports whether err says the device token is dead: the app was
// uninstalled or its registration expired (UNREGISTERED), or FCM does not
// take it for a registration token at all. The caller should delete the
// token and stop sending to it.
//
// INVALID_ARGUMENT counts only when FCM says the token is what is invalid:
// the same code also means a malformed message, and a bug in the payload
// must not wipe out every device. A NOT_FOUND without the UNREGISTERED
// detail (a wrong project id, for one) is not permanent either.
func Permanent(err error) bool {
	return anyInChain(err, func(e error) bool {
		if messaging.IsUnregistered(e) {
			return true
		}
		return messaging.IsInvalidArgument(e) &&
			strings.Contains(strings.ToLower(e.Error()), "registration token")
	})
}

// Retryable reports whether sending the same message again later may succeed:
// FCM is unavailable or failed internally, the project's quota is exhausted,
// the request timed out, or the response was not one FCM would give (a proxy
// error page, say). Wait RetryAfter(err) if it is set, with exponential
// backoff otherwise, and give up when the warning's TTL has run out.
//
// An error that is neither Permanent nor Retryable means this message cannot
// be sent: an invalid or expired warning, wrong credentials, a token that
// belongs to another sender. Drop the message, keep the token, and tell an
// operator when it keeps happening.
func Retryable(err error) bool {
	return anyInChain(err, func(e error) bool {
		return messaging.IsUnavailable(e) ||
			messaging.IsInternal(e) ||
			messaging.IsQuotaExceeded(e) ||
			errorutils.IsUnavailable(e) ||
			errorutils.IsInternal(e) ||
			errorutils.IsResourceExhausted(e) ||
			errorutils.IsDeadlineExceeded(e) ||
			errorutils.IsUnknown(e)
	})
}

// RetryAfter returns the delay FCM asked for in the Retry-After header of
// the response that caused err, or 0 if it asked for none. FCM sets it with
// QUOTA_EXCEEDED and sometimes with UNAVAILABLE.
func RetryAfter(err error) time.Duration {
	var d time.Duration
	anyInChain(err, func(e error) bool {
		resp := errorutils.HTTPResponse(e)
		if resp == nil {
			return false
		}
		d = parseRetryAfter(resp.Header.Get("Retry-After"))
		return true
	})
	return d
}

// parseRetryAfter reads a Retry-After value in either of its HTTP forms.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// anyInChain reports whether f holds for err or any error it wraps. The
// SDK's predicates use a type assertion rather than errors.As, so they must
// be applied to each error of the chain in turn.
func anyInChain(err error, f func(error) bool) bool {
	for err != nil {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if anyInChain(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
