package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/erasure"
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

// Erased counts what an Eraser removed.
type Erased = erasure.Counts

// Eraser removes everything one part of callrep keeps about a user; it
// must be idempotent, as a resumed erasure runs it again.
type Eraser func(ctx context.Context, reporterID string) (Erased, error)

// Erasures runs erasure jobs; *erasure.Service is one.
type Erasures interface {
	Start(ctx context.Context, reporterID string) (erasure.Status, error)
	Status(ctx context.Context, id string) (erasure.Status, error)
}

// ErasureSteps is the one place that says what DELETE /v1/me erases, in
// order: the user's sessions first (verifier revokes their tokens, so that
// nothing new arrives under them), then their live labels and report
// history (in batches), then what others erases (devices, inbox, lookup
// records, guardian links).
func ErasureSteps(verifier Verifier, ls LabelService, others ...Eraser) []erasure.Step {
	steps := []erasure.Step{
		func(ctx context.Context, reporterID string, _ func(erasure.Counts) error) error {
			provider, uid, _ := strings.Cut(reporterID, ":")
			if r, ok := verifier.(Revoker); ok && provider == providerOf(verifier) {
				return r.Revoke(ctx, uid)
			}
			return nil
		},
		func(ctx context.Context, reporterID string, progress func(erasure.Counts) error) error {
			return ls.Erase(ctx, reporterID, func(r labels.EraseResult) error {
				return progress(erasure.Counts{Labels: r.ErasedLabels, Reports: r.PseudonymisedReports})
			})
		},
	}
	for _, erase := range others {
		steps = append(steps, func(ctx context.Context, reporterID string, progress func(erasure.Counts) error) error {
			c, err := erase(ctx, reporterID)
			if err != nil {
				return err
			}
			return progress(c)
		})
	}
	return steps
}

// providerOf names the provider whose tokens v verifies.
func providerOf(v Verifier) string {
	switch v.(type) {
	case *LocalIssuer:
		return ProviderLocal
	case *FirebaseVerifier:
		return ProviderFirebase
	}
	return ""
}

// eraseMe answers DELETE /v1/me: 202 with the erasure job, which revokes
// the caller's tokens and erases their data in the background; its status
// is at GET /v1/erasures/{id}. Repeated while the job runs, it answers the
// same job; after, a new one, which finds nothing left.
func (s *Server) eraseMe(c *gin.Context) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	if s.erasures == nil {
		s.fail(c, labels.Errorf(labels.EUnavailable, "this replica serves lookups only; send account requests to a writer replica"))
		return
	}
	st, err := s.erasures.Start(c.Request.Context(), who.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := toErasureJobJSON(st)
	c.Header("Location", out.StatusURL)
	c.JSON(http.StatusAccepted, out)
}

// getErasure answers GET /v1/erasures/{id}. The id is the capability: it
// is unguessable, the caller's tokens no longer work, and the answer holds
// counts only.
func (s *Server) getErasure(c *gin.Context) {
	if s.erasures == nil {
		s.fail(c, labels.Errorf(labels.EUnavailable, "this replica serves lookups only; ask a writer replica"))
		return
	}
	st, err := s.erasures.Status(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toErasureJobJSON(st))
}
