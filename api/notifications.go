package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/reputation"
)

// Inbox is what GET /v1/me/notifications needs from push.
type Inbox interface {
	Notifications(user string, limit int, cursor string) ([]push.Notification, string, error)
}

// LookupRecorder is told about every signed-in lookup, for retroactive
// warnings and guardian alerts. It must return at once: lookups never wait
// on it.
type LookupRecorder interface {
	RecordLookup(user string, n labels.Number, r reputation.Result)
}

const (
	defaultInboxLimit = 20
	maxInboxLimit     = 100
)

type notificationJSON struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	Number    string     `json:"number,omitempty"`
	Verdict   string     `json:"verdict,omitempty"`
	Category  string     `json:"category,omitempty"`
	Reporters int        `json:"reporters,omitempty"`
	Since     *time.Time `json:"since,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
}

type notificationPageJSON struct {
	Notifications []notificationJSON `json:"notifications"`
	NextCursor    string             `json:"next_cursor,omitempty"`
}

// listNotifications answers GET /v1/me/notifications: the caller's
// warnings, newest first, in the language asked for.
func (s *Server) listNotifications(c *gin.Context) {
	who, ok := s.writerCaller(c, s.inbox != nil)
	if !ok {
		return
	}
	limit, err := queryInt(c, "limit", defaultInboxLimit, 1, maxInboxLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	lang := c.Query("lang")
	if len(lang) > maxLangLen {
		s.fail(c, labels.Errorf(labels.EInvalid, "lang must be a language tag of at most %d characters", maxLangLen))
		return
	}
	cursor, hasCursor := c.GetQuery("cursor")
	if hasCursor && (cursor == "" || len(cursor) > maxCursorLen) {
		s.fail(c, labels.Errorf(labels.EInvalid, "cursor is not one this server returned"))
		return
	}
	ns, next, err := s.inbox.Notifications(who.ID, limit, cursor)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := notificationPageJSON{Notifications: make([]notificationJSON, 0, len(ns)), NextCursor: next}
	for _, n := range ns {
		title, body := n.Text(lang)
		out.Notifications = append(out.Notifications, notificationJSON{
			ID: n.ID, Kind: string(n.Kind), Title: title, Body: body, Number: n.Number, Verdict: n.Verdict,
			Category: n.Category, Reporters: n.Reporters, Since: optionalTime(n.Since),
			CreatedAt: n.At.UTC(), ExpiresAt: n.Expires.UTC(),
		})
	}
	c.JSON(http.StatusOK, out)
}
