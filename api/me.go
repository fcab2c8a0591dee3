package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
)

// Page sizes of GET /v1/me/reports. The API accepts limits up to
// maxMineLimit; pages are cut at maxMinePage, the most labels.Service
// returns at once, and next_cursor leads to the rest.
const (
	defaultMineLimit = 100
	maxMineLimit     = 1000
	maxMinePage      = 500
	maxCursorLen     = 512
)

// listMyLabels answers GET /v1/me/reports with a page of the caller's live
// labels, most recently updated first.
func (s *Server) listMyLabels(c *gin.Context) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	limit, err := queryInt(c, "limit", defaultMineLimit, 1, maxMineLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	cursor, hasCursor := c.GetQuery("cursor")
	if hasCursor && (cursor == "" || len(cursor) > maxCursorLen) {
		s.fail(c, labels.Errorf(labels.EInvalid, "cursor is not one this server returned"))
		return
	}
	page, next, err := s.labels.Mine(c.Request.Context(), who.ID, min(limit, maxMinePage), cursor)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := labelPageJSON{Labels: make([]labelJSON, 0, len(page)), NextCursor: next}
	for _, l := range page {
		out.Labels = append(out.Labels, toLabelJSON(l))
	}
	c.JSON(http.StatusOK, out)
}

// Erased counts what an Eraser removed; the counts of every eraser are
// summed into the answer of DELETE /v1/me.
type Erased struct {
	Labels, Reports, Devices, Notifications, LookupRecords, GuardianLinks int
}

// Eraser removes everything one part of callrep keeps about a user. The
// list of them is the one place that says what DELETE /v1/me erases;
// every eraser is idempotent, so that a failed erasure can simply be run
// again.
type Eraser func(ctx context.Context, reporterID string) (Erased, error)

// eraseLabels retracts the user's live labels and pseudonymises their
// history.
func (s *Server) eraseLabels(ctx context.Context, reporterID string) (Erased, error) {
	res, err := s.labels.Erase(ctx, reporterID)
	return Erased{Labels: res.ErasedLabels, Reports: res.PseudonymisedReports}, err
}

// eraseMe answers DELETE /v1/me: every eraser runs for the caller, in
// order. Repeating it erases nothing more and answers zeros.
func (s *Server) eraseMe(c *gin.Context) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var sum Erased
	for _, erase := range s.erasers {
		e, err := erase(c.Request.Context(), who.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		sum.Labels += e.Labels
		sum.Reports += e.Reports
		sum.Devices += e.Devices
		sum.Notifications += e.Notifications
		sum.LookupRecords += e.LookupRecords
		sum.GuardianLinks += e.GuardianLinks
	}
	c.JSON(http.StatusOK, erasureJSON{
		ErasedLabels: sum.Labels, ErasedDevices: sum.Devices, PseudonymisedReports: sum.Reports,
		ErasedNotifications: sum.Notifications, ErasedLookupRecords: sum.LookupRecords, ErasedGuardianLinks: sum.GuardianLinks,
	})
}
