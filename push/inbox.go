package push

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
)

// Notification is one warning kept in a user's inbox, so that the app can
// show a history and an embedded setup without Firebase still warns.
type Notification struct {
	ID   string
	User string
	Kind Kind
	// Number is the key of the number the warning is about.
	Number    string
	Verdict   string
	Category  string
	Reporters int
	// Since is when the user looked the number up or reported it
	// (retroactive warnings).
	Since time.Time
	// Data holds what else the text needs: "name" of the protected user
	// for guardian alerts, "how" ("reported") for retroactive warnings.
	Data    map[string]string
	At      time.Time
	Expires time.Time
}

// Text returns the title and body of n in locale.
func (n Notification) Text(locale string) (title, body string) {
	locale = MatchLocale(locale)
	display := displayNumber(n.Number)
	switch n.Kind {
	case KindRetroWarning:
		key := "retro_body"
		if n.Data["how"] == "reported" {
			key = "retro_body_reported"
		}
		return text(locale, "retro_title", nil), text(locale, key, map[string]string{
			"number": display, "date": dateIn(locale, n.Since), "verdict": verdictIn(locale, n.Verdict),
			"reporters": strconv.Itoa(n.Reporters),
		})
	case KindGuardianAlert:
		return text(locale, "guardian_title", nil), text(locale, "guardian_body", map[string]string{
			"name": n.Data["name"], "number": display, "reporters": strconv.Itoa(n.Reporters),
		})
	case KindDisputeOutcome:
		return text(locale, "dispute_title", nil), text(locale, "dispute_body", map[string]string{
			"number": display, "outcome": text(locale, "outcome_"+n.Data["outcome"], nil),
		})
	case KindNumberFlagged:
		return text(locale, "flagged_title", nil), text(locale, "flagged_body", map[string]string{"number": display})
	}
	return string(n.Kind), display
}

// displayNumber is the international form of key for people to read
// ("+86 138 0013 8000"), or the key itself.
func displayNumber(key string) string {
	if n, err := labels.Normalize(key, "", ""); err == nil && n.International != "" {
		return n.International
	}
	return key
}

// addNotificationLocked keeps n, dropping the user's oldest beyond the
// bound, and reports whether it is new.
func (s *Service) addNotificationLocked(n Notification) bool {
	ns := s.inbox[n.User]
	if slices.ContainsFunc(ns, func(o Notification) bool { return o.ID == n.ID }) {
		return false
	}
	i, _ := slices.BinarySearchFunc(ns, n, cmpNotification)
	ns = slices.Insert(ns, i, n)
	if len(ns) > s.cfg.InboxMax {
		ns = slices.Delete(ns, 0, len(ns)-s.cfg.InboxMax)
	}
	s.inbox[n.User] = ns
	return true
}

func cmpNotification(a, b Notification) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Notifications returns a page of user's notifications, newest first, and
// the cursor of the next page ("" on the last one). Expired ones are left
// out.
func (s *Service) Notifications(user string, limit int, cursor string) ([]Notification, string, error) {
	var after *Notification
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		at, id, ok := strings.Cut(string(b), "|")
		ns, perr := strconv.ParseInt(at, 10, 64)
		if err != nil || !ok || perr != nil {
			return nil, "", labels.Errorf(labels.EInvalid, "cursor is not one this server returned")
		}
		after = &Notification{At: time.Unix(0, ns).UTC(), ID: id}
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.inbox[user]
	var out []Notification
	for i := len(ns) - 1; i >= 0 && len(out) <= limit; i-- {
		n := ns[i]
		if !n.Expires.After(now) || (after != nil && cmpNotification(n, *after) >= 0) {
			continue
		}
		out = append(out, n)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.At.UnixNano(), 10) + "|" + last.ID))
	}
	return out, next, nil
}
