// Package push delivers caller warnings to phones through Firebase Cloud
// Messaging.
//
// A warning tells the app on a phone, while a call is ringing, what callrep
// knows about the calling number. It is worth something for a few minutes at
// most: every message carries a time to live counted from the moment the
// warning was issued, so a warning that waited too long in a queue is
// dropped rather than delivered after the call has ended.
//
// The package owns the Firebase Admin SDK for messaging; nothing outside it
// sees an SDK type. Callers send with (*FCM).Send or (*FCM).SendEach and sort
// failures with Permanent (forget the device token) and Retryable (try again
// later); anything else means the message itself cannot be sent.
package push

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// DefaultTTL is how long a warning stays deliverable when Warning.TTL is
// zero. A warning about a call that already ended is useless, and few calls
// ring for longer than this.
const DefaultTTL = 5 * time.Minute

// Limits on what a warning may carry. FCM accepts at most 4096 bytes of data
// and a TTL of at most 28 days; APNs accepts a collapse id of at most 64
// bytes.
const (
	maxNumberLen = 32
	maxReasonLen = 256
	maxTTL       = 28 * 24 * time.Hour
)

// ErrInvalid is wrapped by errors about a message that cannot be sent as it
// is: no token, no number, no verdict, a TTL out of range. Retrying will not
// help and the device token is not to blame.
var ErrInvalid = errors.New("push: invalid message")

// ErrExpired is wrapped by errors about a warning whose time to live had
// already run out when it was about to be sent. Nothing was sent.
var ErrExpired = errors.New("push: warning expired")

// Warning is what callrep tells a phone about a calling number.
type Warning struct {
	// Number is the normalised key of the number, as labels.Number.Key:
	// "+8613800138000", or "CN:95588" for a region-scoped service number.
	Number string
	// Verdict is the reputation verdict: fraud, spam, benign, safe or
	// unknown.
	Verdict string
	// Category is the id of the number's top category; "" if none.
	Category string
	// Score is the reputation score, 0–100.
	Score int
	// Reporters is the number of distinct users who labelled the number.
	Reporters int
	// Reason is an optional short text for the user. Longer texts are cut
	// to 256 bytes to keep the message within FCM's payload limit.
	Reason string
	// IssuedAt is when callrep decided to warn. Zero means "when sent".
	IssuedAt time.Time
	// TTL is how long after IssuedAt the warning is still worth delivering.
	// Zero means DefaultTTL.
	TTL time.Duration
}

// Message is one warning addressed to one device.
type Message struct {
	// Token is the FCM registration token of the device. It is a bearer
	// secret of sorts: anyone holding it and the project's credentials can
	// push to that phone, so it never appears in errors.
	Token string
	// Warning is what to tell the device.
	Warning Warning
}

// CollapseKey is the key under which FCM and APNs keep only the newest of
// several undelivered warnings for the same number, so a phone coming back
// online sees the latest verdict once rather than a backlog.
func (m Message) CollapseKey() string { return "cw:" + m.Warning.Number }

// validate checks what FCM cannot check for us. Its errors never contain the
// token.
func (m Message) validate() error {
	w := m.Warning
	switch {
	case m.Token == "":
		return fmt.Errorf("%w: device token is required", ErrInvalid)
	case w.Number == "":
		return fmt.Errorf("%w: number is required", ErrInvalid)
	case len(w.Number) > maxNumberLen:
		return fmt.Errorf("%w: number %q is longer than %d bytes", ErrInvalid, w.Number, maxNumberLen)
	case w.Verdict == "":
		return fmt.Errorf("%w: verdict is required", ErrInvalid)
	case w.TTL < 0 || w.TTL > maxTTL:
		return fmt.Errorf("%w: ttl %v is out of range", ErrInvalid, w.TTL)
	}
	return nil
}

// ttl is the warning's lifetime with the default applied.
func (w Warning) ttl() time.Duration {
	if w.TTL == 0 {
		return DefaultTTL
	}
	return w.TTL
}

// shortReason cuts the reason to maxReasonLen bytes on a rune boundary.
func (w Warning) shortReason() string {
	r := w.Reason
	if len(r) <= maxReasonLen {
		return r
	}
	r = r[:maxReasonLen]
	for len(r) > 0 && !utf8.ValidString(r) {
		r = r[:len(r)-1]
	}
	return r
}

// Result is the outcome of one message of SendEach.
type Result struct {
	// ID is the message name FCM assigned ("projects/p/messages/123");
	// "" when Err is set.
	ID string
	// Err is nil when FCM accepted the message. Classify it with Permanent
	// and Retryable.
	Err error
}

// redact shortens a device token to a prefix that helps find it in a
// database without making it usable.
func redact(token string) string {
	const keep = 8
	if len(token) <= keep {
		return "..."
	}
	return token[:keep] + "..."
}
