package push

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/callrep/callrep/labels"
)

// Link makes Guardian a guardian of Protected: when a fraud number calls
// Protected, Guardian's devices are alerted. Either side can end it.
type Link struct {
	ID        string
	Protected string
	Guardian  string
	// Name is what the guardian calls the protected user ("Mum"); it is
	// shown to the guardian only.
	Name    string
	Created time.Time
}

// Invite is a one-time code with which a user asks someone to become
// their guardian. Only the code's hash is stored.
type Invite struct {
	CodeHash string
	User     string
	Created  time.Time
	Expires  time.Time
}

// inviteTTL is how long an invite code can be accepted.
const inviteTTL = 24 * time.Hour

// maxOpenInvites is how many invites of one user can be open at once; a
// new one beyond it revokes the oldest. Without it, a user could fill the
// writer's memory with invites for a day.
const maxOpenInvites = 3

const maxLinkName = 40

func hashCode(code string) string {
	sum := sha256.Sum256([]byte(strings.ToUpper(strings.ReplaceAll(code, "-", ""))))
	return hex.EncodeToString(sum[:])
}

// Invite creates a one-time invite code of user; the code is returned
// once and stored only as a hash.
func (s *Service) Invite(ctx context.Context, user string) (code string, expires time.Time, err error) {
	if n := len(s.Guardians(user)); n >= s.cfg.Guardians {
		return "", time.Time{}, labels.Errorf(labels.EConflict, "at most %d guardians; end a link first", s.cfg.Guardians)
	}
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	raw := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b) // 16 characters
	code = raw[:4] + "-" + raw[4:8] + "-" + raw[8:12] + "-" + raw[12:]
	now := s.cfg.Now()
	in := Invite{CodeHash: hashCode(code), User: user, Created: now, Expires: now.Add(inviteTTL)}
	if err := s.st.PutInvite(ctx, in); err != nil {
		return "", time.Time{}, err
	}
	s.mu.Lock()
	s.addInviteLocked(&in)
	var revoked []string
	for len(s.invitesOf[user]) > maxOpenInvites {
		h := s.invitesOf[user][0]
		s.removeInviteLocked(h)
		revoked = append(revoked, h)
	}
	s.mu.Unlock()
	if len(revoked) > 0 {
		// Memory no longer holds them, so they cannot be accepted even if
		// this delete fails; a restart before trimming would bring them
		// back for the rest of their day.
		if err := s.st.DeleteInvites(ctx, revoked, now); err != nil {
			s.log.Warn("push: deleting revoked invites", "err", err)
		}
	}
	return code, in.Expires, nil
}

// addInviteLocked keeps in; s.mu is held.
func (s *Service) addInviteLocked(in *Invite) {
	s.invites[in.CodeHash] = in
	s.invitesOf[in.User] = append(s.invitesOf[in.User], in.CodeHash)
}

// removeInviteLocked forgets the invite with hash h; s.mu is held.
func (s *Service) removeInviteLocked(h string) {
	in := s.invites[h]
	if in == nil {
		return
	}
	delete(s.invites, h)
	hs := slices.DeleteFunc(s.invitesOf[in.User], func(x string) bool { return x == h })
	if len(hs) == 0 {
		delete(s.invitesOf, in.User)
	} else {
		s.invitesOf[in.User] = hs
	}
}

// Accept makes guardian the guardian of the user who made the invite code,
// and names that user name for the guardian. A code works once.
func (s *Service) Accept(ctx context.Context, guardian, code, name string) (Link, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxLinkName {
		return Link{}, labels.Errorf(labels.EInvalid, "name must be 1 to %d characters", maxLinkName)
	}
	h := hashCode(code)
	now := s.cfg.Now()
	s.mu.Lock()
	in := s.invites[h]
	s.mu.Unlock()
	if in == nil || !in.Expires.After(now) {
		return Link{}, labels.Errorf(labels.ENotFound, "no such invite code, or it expired")
	}
	if in.User == guardian {
		return Link{}, labels.Errorf(labels.EInvalid, "you cannot be your own guardian")
	}
	for _, l := range s.Guardians(in.User) {
		if l.Guardian == guardian {
			return Link{}, labels.Errorf(labels.EConflict, "you are a guardian of this user already")
		}
	}
	if len(s.Guardians(in.User)) >= s.cfg.Guardians {
		return Link{}, labels.Errorf(labels.EConflict, "that user has %d guardians already", s.cfg.Guardians)
	}
	// The code is spent by a unique mark: two guardians racing for one
	// code, on one replica or two, cannot both win.
	dup, err := s.st.Once(ctx, []string{"invite|" + h}, now)
	if err != nil {
		return Link{}, err
	}
	if dup[0] {
		return Link{}, labels.Errorf(labels.ENotFound, "no such invite code, or it expired")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	l := Link{ID: "gl_" + hex.EncodeToString(b), Protected: in.User, Guardian: guardian, Name: name, Created: now}
	if err := s.st.PutLink(ctx, l); err != nil {
		return Link{}, err
	}
	if err := s.st.DeleteInvites(ctx, []string{h}, now); err != nil {
		s.log.Warn("push: deleting a used invite", "err", err)
	}
	s.mu.Lock()
	s.addLinkLocked(&l)
	s.removeInviteLocked(h)
	s.mu.Unlock()
	return l, nil
}

// Guardians returns the links in which user is protected, oldest first.
func (s *Service) Guardians(user string) []Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.linksLocked(s.guardiansOf[user])
}

// Protecting returns the links in which user is the guardian, oldest
// first.
func (s *Service) Protecting(user string) []Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.linksLocked(s.protecting[user])
}

// linksLocked returns the links with ids, oldest first; s.mu is held.
func (s *Service) linksLocked(ids []string) []Link {
	out := make([]Link, 0, len(ids))
	for _, id := range ids {
		out = append(out, *s.links[id])
	}
	slices.SortFunc(out, func(a, b Link) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// addLinkLocked keeps l and indexes it by both sides; s.mu is held.
func (s *Service) addLinkLocked(l *Link) {
	if s.links[l.ID] != nil {
		s.removeLinkLocked(l.ID)
	}
	s.links[l.ID] = l
	s.guardiansOf[l.Protected] = append(s.guardiansOf[l.Protected], l.ID)
	s.protecting[l.Guardian] = append(s.protecting[l.Guardian], l.ID)
}

// removeLinkLocked forgets the link id and its index entries; s.mu is
// held.
func (s *Service) removeLinkLocked(id string) {
	l := s.links[id]
	if l == nil {
		return
	}
	delete(s.links, id)
	unindex := func(m map[string][]string, user string) {
		ids := slices.DeleteFunc(m[user], func(x string) bool { return x == id })
		if len(ids) == 0 {
			delete(m, user)
		} else {
			m[user] = ids
		}
	}
	unindex(s.guardiansOf, l.Protected)
	unindex(s.protecting, l.Guardian)
}

// EndLink ends a link user is part of, on either side. Other links are
// not found.
func (s *Service) EndLink(ctx context.Context, user, id string) error {
	s.mu.Lock()
	l := s.links[id]
	s.mu.Unlock()
	if l == nil || (l.Protected != user && l.Guardian != user) {
		return labels.Errorf(labels.ENotFound, "no such guardian link")
	}
	if _, err := s.st.DeleteLinks(ctx, []string{id}); err != nil {
		return err
	}
	s.mu.Lock()
	s.removeLinkLocked(id)
	s.mu.Unlock()
	return nil
}
