package api

import (
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

// eraseMe answers DELETE /v1/me: the caller's live labels are retracted and
// their history pseudonymised. Repeating it erases nothing more and
// answers zeros. Devices do not exist yet, so none are erased.
func (s *Server) eraseMe(c *gin.Context) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.labels.Erase(c.Request.Context(), who.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, erasureJSON{ErasedLabels: res.ErasedLabels, PseudonymisedReports: res.PseudonymisedReports})
}
