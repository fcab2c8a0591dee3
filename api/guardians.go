package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/push"
)

// Guardians is what the guardian routes need from push.
type Guardians interface {
	Invite(ctx context.Context, user string) (code string, expires time.Time, err error)
	Accept(ctx context.Context, guardian, code, name string) (push.Link, error)
	Guardians(user string) []push.Link
	Protecting(user string) []push.Link
	EndLink(ctx context.Context, user, id string) error
}

type inviteJSON struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
}

type acceptJSON struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// guardianLinkJSON is one link seen from one side: the protected user
// sees that a guardian is linked, the guardian sees the name they gave.
type guardianLinkJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type guardiansJSON struct {
	Guardians  []guardianLinkJSON `json:"guardians"`
	Protecting []guardianLinkJSON `json:"protecting"`
}

// createInvite answers POST /v1/guardians/invites with a one-time code.
func (s *Server) createInvite(c *gin.Context) {
	who, ok := s.writerCaller(c, s.guardians != nil)
	if !ok {
		return
	}
	code, exp, err := s.guardians.Invite(c.Request.Context(), who.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, inviteJSON{Code: code, ExpiresAt: exp.UTC()})
}

// acceptInvite answers POST /v1/guardians/accept: the caller becomes the
// guardian of the invite's maker.
func (s *Server) acceptInvite(c *gin.Context) {
	who, ok := s.writerCaller(c, s.guardians != nil)
	if !ok {
		return
	}
	var body acceptJSON
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	l, err := s.guardians.Accept(c.Request.Context(), who.ID, body.Code, body.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, guardianLinkJSON{ID: l.ID, Name: l.Name, CreatedAt: l.Created.UTC()})
}

// listGuardians answers GET /v1/guardians: the caller's guardians (that
// they exist) and the people the caller is a guardian of.
func (s *Server) listGuardians(c *gin.Context) {
	who, ok := s.writerCaller(c, s.guardians != nil)
	if !ok {
		return
	}
	out := guardiansJSON{Guardians: []guardianLinkJSON{}, Protecting: []guardianLinkJSON{}}
	for _, l := range s.guardians.Guardians(who.ID) {
		out.Guardians = append(out.Guardians, guardianLinkJSON{ID: l.ID, CreatedAt: l.Created.UTC()})
	}
	for _, l := range s.guardians.Protecting(who.ID) {
		out.Protecting = append(out.Protecting, guardianLinkJSON{ID: l.ID, Name: l.Name, CreatedAt: l.Created.UTC()})
	}
	c.JSON(http.StatusOK, out)
}

// endGuardianLink answers DELETE /v1/guardians/{id}, from either side.
func (s *Server) endGuardianLink(c *gin.Context) {
	who, ok := s.writerCaller(c, s.guardians != nil)
	if !ok {
		return
	}
	if err := s.guardians.EndLink(c.Request.Context(), who.ID, c.Param("id")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
