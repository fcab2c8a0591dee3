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
	"regexp"
	"strings"
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

// Kind is what a message is about; it is the "type" data key phones switch
// on. Phones treat a kind they do not know as one to ignore.
type Kind string

// The kinds of message callrep sends.
const (
	// KindCallerWarning is a live warning about a ringing number.
	KindCallerWarning Kind = "caller_warning"
	// KindRetroWarning tells a user that a number they looked up or
	// reported earlier is now flagged.
	KindRetroWarning Kind = "retro_warning"
	// KindGuardianAlert tells a guardian that the phone of someone they
	// look after is being called by a fraud number.
	KindGuardianAlert Kind = "guardian_alert"
	// KindFilterRefresh tells the phones on a filter topic that a new
	// snapshot is published; it shows nothing.
	KindFilterRefresh Kind = "filter_refresh"
	// KindFraudWave tells the phones of a region that many new fraud
	// numbers of that region appeared.
	KindFraudWave Kind = "fraud_wave"
	// KindDisputeOutcome tells the user who disputed a number's flag what
	// moderation decided (see Tell).
	KindDisputeOutcome Kind = "dispute_outcome"
	// KindNumberFlagged tells a number's proven owner that it was flagged
	// or that a moderation case about it opened (see Tell).
	KindNumberFlagged Kind = "number_flagged"
)

// aboutNumber reports whether messages of kind k carry a number and its
// reputation.
func (k Kind) aboutNumber() bool {
	return k != KindFilterRefresh && k != KindFraudWave
}

// urgent reports whether messages of kind k must wake a phone now: they
// are about a call that is ringing.
func (k Kind) urgent() bool { return k == KindCallerWarning || k == KindGuardianAlert }

// Warning is what callrep tells a phone: about a calling number (every kind
// but filter refreshes and fraud waves), or about what is new for it.
type Warning struct {
	// Kind is what the message is about; "" means KindCallerWarning.
	Kind Kind
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
	// Title and Body are the text shown to the user, already in the
	// device's language. Empty means the English fallback of a caller
	// warning; filter refreshes show nothing.
	Title, Body string
	// Data are further data keys of the kind ("filter", "version", "area",
	// "count"); they cannot replace the standard keys.
	Data map[string]string
	// Collapse replaces the default collapse key of the kind (see
	// Message.CollapseKey).
	Collapse string
}

// kind is the warning's kind with the default applied.
func (w Warning) kind() Kind {
	if w.Kind == "" {
		return KindCallerWarning
	}
	return w.Kind
}

// Message is one warning addressed to one device or to one topic.
type Message struct {
	// Token is the FCM registration token of the device. It is a bearer
	// secret of sorts: anyone holding it and the project's credentials can
	// push to that phone, so it never appears in errors.
	Token string
	// Topic is the FCM topic to send to instead of a device: the phones
	// that subscribed themselves to it. Exactly one of Token and Topic is
	// set. Topics carry nothing personal.
	Topic string
	// Platform is the device's platform, when known: a message to an
	// Android device carries only the android block and one to an iOS
	// device only the apns block, since FCM ignores the other. Empty (and
	// every topic message) carries both.
	Platform Platform
	// Warning is what to tell the device.
	Warning Warning
}

// CollapseKey is the key under which FCM and APNs keep only the newest of
// several undelivered messages, so a phone coming back online sees the latest
// verdict once rather than a backlog: per number and kind of warning, or
// Warning.Collapse when set.
func (m Message) CollapseKey() string {
	w := m.Warning
	if w.Collapse != "" {
		return w.Collapse
	}
	switch w.kind() {
	case KindCallerWarning:
		return "cw:" + w.Number
	case KindGuardianAlert:
		return "ga:" + w.Number
	case KindRetroWarning:
		return "rw:" + w.Number
	case KindFilterRefresh:
		return "filters"
	default:
		return string(w.kind()) + ":" + w.Number
	}
}

// topicName is what FCM takes as a topic name.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]{1,900}$`)

// ValidTopic reports whether name can be sent to as an FCM topic.
func ValidTopic(name string) bool { return topicName.MatchString(name) }

// standardKeys are the data keys Warning.Data cannot replace.
var standardKeys = map[string]bool{
	"type": true, "v": true, "number": true, "verdict": true, "category": true,
	"score": true, "reporters": true, "issued_at": true, "reason": true, "title": true, "body": true,
}

// validate checks what FCM cannot check for us. Its errors never contain the
// token.
func (m Message) validate() error {
	w := m.Warning
	about := w.kind().aboutNumber()
	switch {
	case m.Token == "" && m.Topic == "":
		return fmt.Errorf("%w: device token is required", ErrInvalid)
	case m.Token != "" && m.Topic != "":
		return fmt.Errorf("%w: a message goes to a device token or a topic, not both", ErrInvalid)
	case m.Topic != "" && !ValidTopic(strings.TrimPrefix(m.Topic, "/topics/")):
		return fmt.Errorf("%w: topic %q is not [a-zA-Z0-9-_.~%%]+", ErrInvalid, m.Topic)
	case about && w.Number == "":
		return fmt.Errorf("%w: number is required", ErrInvalid)
	case len(w.Number) > maxNumberLen:
		return fmt.Errorf("%w: number %q is longer than %d bytes", ErrInvalid, w.Number, maxNumberLen)
	case about && w.Verdict == "":
		return fmt.Errorf("%w: verdict is required", ErrInvalid)
	case w.TTL < 0 || w.TTL > maxTTL:
		return fmt.Errorf("%w: ttl %v is out of range", ErrInvalid, w.TTL)
	}
	for k := range w.Data {
		if standardKeys[k] {
			return fmt.Errorf("%w: data key %q is reserved", ErrInvalid, k)
		}
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
