package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/moderation"
)

// Moderation serves the dispute and moderator routes;
// *moderation.Service is one.
type Moderation interface {
	File(ctx context.Context, f moderation.Filer, in moderation.DisputeInput) (moderation.Case, error)
	Dispute(ctx context.Context, filer, id string) (moderation.Case, error)
	Disputes(ctx context.Context, filer string) []moderation.Case
	Cases(ctx context.Context, f moderation.CaseFilter) ([]moderation.Case, error)
	View(ctx context.Context, id string) (moderation.CaseView, error)
	Claim(ctx context.Context, moderator, id string, version int64) (moderation.Case, error)
	Release(ctx context.Context, moderator, id string, version int64) (moderation.Case, error)
	Decide(ctx context.Context, moderator, id string, in moderation.DecisionInput) (moderation.Case, error)
	Audit(ctx context.Context, f moderation.AuditFilter) []moderation.AuditEntry
}

// Disputes are rate-limited per filer on top of the request limits: a
// filer may file a burst of 3, then one every 10 minutes.
const (
	disputesPerMinute = 0.1
	disputeBurst      = 3
)

const (
	defaultCaseLimit = 100
	maxCaseLimit     = 500
	maxAuditLimit    = 1000
)

type disputeInputJSON struct {
	Number   string   `json:"number"`
	Region   string   `json:"region"`
	Reason   string   `json:"reason"`
	Contact  string   `json:"contact"`
	Identity string   `json:"identity"`
	Evidence []string `json:"evidence"`
}

type decisionInputJSON struct {
	Version       int64      `json:"version"`
	Outcome       string     `json:"outcome"`
	Category      string     `json:"category"`
	Note          string     `json:"note"`
	BusinessName  string     `json:"business_name"`
	VerifiedUntil *time.Time `json:"verified_until"`
}

type versionJSON struct {
	Version int64 `json:"version"`
}

// caseJSON is a case as the API shows it. Filers see their own cases
// without who handles them; moderators see everything.
type caseJSON struct {
	ID          string        `json:"id"`
	Kind        string        `json:"kind"`
	Number      string        `json:"number"`
	Status      string        `json:"status"`
	OwnerProven bool          `json:"owner_proven"`
	Filer       string        `json:"filer,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	Contact     string        `json:"contact,omitempty"`
	Identity    string        `json:"identity,omitempty"`
	Evidence    []string      `json:"evidence"`
	Flags       []string      `json:"flags"`
	ClaimedBy   string        `json:"claimed_by,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	Deadline    time.Time     `json:"deadline"`
	Overdue     bool          `json:"overdue"`
	Version     int64         `json:"version"`
	Decision    *decisionJSON `json:"decision,omitempty"`
}

type decisionJSON struct {
	Outcome       string     `json:"outcome"`
	Category      string     `json:"category,omitempty"`
	Note          string     `json:"note,omitempty"`
	BusinessName  string     `json:"business_name,omitempty"`
	VerifiedUntil *time.Time `json:"verified_until,omitempty"`
	DecidedBy     string     `json:"decided_by,omitempty"`
	DecidedAt     time.Time  `json:"decided_at"`
}

type caseListJSON struct {
	Cases []caseJSON `json:"cases"`
}

type caseViewJSON struct {
	Case          caseJSON           `json:"case"`
	Reputation    *reputationJSON    `json:"reputation"`
	Histogram     map[string]int     `json:"histogram"`
	Daily         []dayCountJSON     `json:"daily"`
	Contributions []contributionJSON `json:"contributions"`
	Flags         []flagJSON         `json:"flags"`
	Earlier       []caseJSON         `json:"earlier"`
}

type dayCountJSON struct {
	Day    string         `json:"day"`
	Counts map[string]int `json:"counts"`
}

type auditEntryJSON struct {
	ID     string        `json:"id"`
	At     time.Time     `json:"at"`
	Actor  string        `json:"actor"`
	Action string        `json:"action"`
	Case   string        `json:"case,omitempty"`
	Number string        `json:"number,omitempty"`
	Before *snapshotJSON `json:"before,omitempty"`
	After  *snapshotJSON `json:"after,omitempty"`
}

type snapshotJSON struct {
	Status     string `json:"status,omitempty"`
	ClaimedBy  string `json:"claimed_by,omitempty"`
	Outcome    string `json:"outcome,omitempty"`
	Category   string `json:"category,omitempty"`
	Verdict    string `json:"verdict,omitempty"`
	CallerName string `json:"caller_name,omitempty"`
}

type auditListJSON struct {
	Entries []auditEntryJSON `json:"entries"`
}

func toCaseJSON(c moderation.Case, now time.Time, forModerator bool) caseJSON {
	out := caseJSON{
		ID: c.ID, Kind: string(c.Kind), Number: c.Number, Status: string(c.Status), OwnerProven: c.OwnerProven,
		Reason: c.Reason, Contact: c.Contact, Identity: c.Identity, Evidence: c.Evidence, Flags: c.Flags,
		CreatedAt: c.Created, UpdatedAt: c.Updated, Deadline: c.Deadline, Version: c.Version,
		Overdue: c.Status != moderation.StatusResolved && now.After(c.Deadline),
	}
	if out.Evidence == nil {
		out.Evidence = []string{}
	}
	if out.Flags == nil {
		out.Flags = []string{}
	}
	if d := c.Decision; d != nil {
		out.Decision = &decisionJSON{Outcome: string(d.Outcome), Category: d.Category, Note: d.Note,
			BusinessName: d.BusinessName, VerifiedUntil: optionalTime(d.VerifiedUntil), DecidedAt: d.At}
	}
	if forModerator {
		out.Filer, out.ClaimedBy = c.Filer, c.ClaimedBy
		if out.Decision != nil {
			out.Decision.DecidedBy = c.Decision.By
		}
	}
	return out
}

func toCaseList(cs []moderation.Case, now time.Time, forModerator bool) []caseJSON {
	out := make([]caseJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, toCaseJSON(c, now, forModerator))
	}
	return out
}

func toSnapshotJSON(s *moderation.Snapshot) *snapshotJSON {
	if s == nil {
		return nil
	}
	return &snapshotJSON{Status: string(s.Status), ClaimedBy: s.ClaimedBy, Outcome: string(s.Outcome),
		Category: s.Category, Verdict: s.Verdict, CallerName: s.CallerName}
}

// errNoModeration answers the moderation routes on a lookup replica.
func errNoModeration() error {
	return labels.Errorf(labels.EUnavailable, "disputes and moderation are served by the writer replica")
}

// filer returns the signed-in caller of a dispute route, or fails the
// request.
func (s *Server) filer(c *gin.Context) (moderation.Filer, bool) {
	if s.moderation == nil {
		s.fail(c, errNoModeration())
		return moderation.Filer{}, false
	}
	p, ok := PrincipalFromContext(c.Request.Context())
	if !ok {
		s.fail(c, labels.Errorf(labels.EUnauthorized, "missing bearer token"))
		return moderation.Filer{}, false
	}
	return moderation.Filer{ID: p.ReporterID(), Phone: p.Phone}, true
}

// createDispute answers POST /v1/disputes.
func (s *Server) createDispute(c *gin.Context) {
	f, ok := s.filer(c)
	if !ok {
		return
	}
	var body disputeInputJSON
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	in := moderation.DisputeInput{Number: body.Number, Region: body.Region, Reason: body.Reason, Contact: body.Contact,
		Identity: body.Identity, Evidence: body.Evidence}
	// Bad input costs no part of the rate limit.
	if _, err := s.labels.Normalize(in.Number, in.Region); err != nil {
		s.fail(c, err)
		return
	}
	if err := moderation.CheckDispute(in); err != nil {
		s.fail(c, err)
		return
	}
	if ok, wait := s.disputeLimit.take(f.ID, 1, s.now()); !ok {
		s.fail(c, s.rateLimited(wait))
		return
	}
	cs, err := s.moderation.File(c.Request.Context(), f, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toCaseJSON(cs, s.now(), false))
}

// getDispute answers GET /v1/disputes/{id}: the caller's own case only.
func (s *Server) getDispute(c *gin.Context) {
	f, ok := s.filer(c)
	if !ok {
		return
	}
	cs, err := s.moderation.Dispute(c.Request.Context(), f.ID, c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toCaseJSON(cs, s.now(), false))
}

// listMyDisputes answers GET /v1/me/disputes.
func (s *Server) listMyDisputes(c *gin.Context) {
	f, ok := s.filer(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, caseListJSON{Cases: toCaseList(s.moderation.Disputes(c.Request.Context(), f.ID), s.now(), false)})
}

// requireModerator refuses callers without the moderator role (403) and
// answers 503 where moderation is not served.
func (s *Server) requireModerator(c *gin.Context) {
	p, _ := PrincipalFromContext(c.Request.Context())
	if !p.Moderator {
		s.fail(c, labels.Errorf(labels.EForbidden, "moderation is for moderators"))
		return
	}
	if s.moderation == nil {
		s.fail(c, errNoModeration())
		return
	}
	c.Next()
}

// moderator is the actor id of the signed-in moderator.
func moderator(c *gin.Context) string {
	p, _ := PrincipalFromContext(c.Request.Context())
	return p.ReporterID()
}

// listCases answers GET /v1/moderation/cases.
func (s *Server) listCases(c *gin.Context) {
	limit, err := queryInt(c, "limit", defaultCaseLimit, 1, maxCaseLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	f := moderation.CaseFilter{Kind: moderation.Kind(c.Query("kind")), ClaimedBy: c.Query("claimed_by"), Sort: c.Query("sort"), Limit: limit}
	if v := c.Query("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			f.Statuses = append(f.Statuses, moderation.Status(st))
		}
	}
	if v := c.Query("number"); v != "" {
		n, err := s.labels.Normalize(v, c.Query("region"))
		if err != nil {
			s.fail(c, err)
			return
		}
		f.Number = n.Key
	}
	switch v := c.Query("owner_proven"); v {
	case "":
	case "true", "false":
		b := v == "true"
		f.OwnerProven = &b
	default:
		s.fail(c, labels.Errorf(labels.EInvalid, "owner_proven must be true or false"))
		return
	}
	cs, err := s.moderation.Cases(c.Request.Context(), f)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, caseListJSON{Cases: toCaseList(cs, s.now(), true)})
}

// getCase answers GET /v1/moderation/cases/{id}.
func (s *Server) getCase(c *gin.Context) {
	v, err := s.moderation.View(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	now := s.now()
	out := caseViewJSON{
		Case: toCaseJSON(v.Case, now, true), Reputation: toReputationJSON(v.Reputation, nil), Histogram: v.Histogram,
		Daily: make([]dayCountJSON, 0, len(v.Daily)), Contributions: toContributionsJSON(v.Contributions),
		Flags: toFlagsJSON(v.Flags), Earlier: toCaseList(v.Earlier, now, true),
	}
	if out.Histogram == nil {
		out.Histogram = map[string]int{}
	}
	for _, d := range v.Daily {
		out.Daily = append(out.Daily, dayCountJSON{Day: d.Day, Counts: d.Counts})
	}
	c.JSON(http.StatusOK, out)
}

// claimCase answers POST /v1/moderation/cases/{id}/claim.
func (s *Server) claimCase(c *gin.Context) {
	s.changeCase(c, s.moderation.Claim)
}

// releaseCase answers POST /v1/moderation/cases/{id}/release.
func (s *Server) releaseCase(c *gin.Context) {
	s.changeCase(c, s.moderation.Release)
}

func (s *Server) changeCase(c *gin.Context, change func(ctx context.Context, moderator, id string, version int64) (moderation.Case, error)) {
	var body versionJSON
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	cs, err := change(c.Request.Context(), moderator(c), c.Param("id"), body.Version)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toCaseJSON(cs, s.now(), true))
}

// decideCase answers POST /v1/moderation/cases/{id}/decision.
func (s *Server) decideCase(c *gin.Context) {
	var body decisionInputJSON
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	in := moderation.DecisionInput{Version: body.Version, Outcome: moderation.Outcome(body.Outcome), Category: body.Category,
		Note: body.Note, BusinessName: body.BusinessName}
	if body.VerifiedUntil != nil {
		if !body.VerifiedUntil.After(s.now()) {
			s.fail(c, labels.Errorf(labels.EInvalid, "verified_until must be in the future"))
			return
		}
		in.VerifiedUntil = body.VerifiedUntil.UTC()
	}
	cs, err := s.moderation.Decide(c.Request.Context(), moderator(c), c.Param("id"), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toCaseJSON(cs, s.now(), true))
}

// listAudit answers GET /v1/moderation/audit.
func (s *Server) listAudit(c *gin.Context) {
	limit, err := queryInt(c, "limit", defaultCaseLimit, 1, maxAuditLimit)
	if err != nil {
		s.fail(c, err)
		return
	}
	f := moderation.AuditFilter{Case: c.Query("case"), Actor: c.Query("actor"), Action: c.Query("action"), Limit: limit}
	if v := c.Query("number"); v != "" {
		n, err := s.labels.Normalize(v, c.Query("region"))
		if err != nil {
			s.fail(c, err)
			return
		}
		f.Number = n.Key
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.fail(c, labels.Errorf(labels.EInvalid, "%s must be an RFC 3339 time", name))
				return
			}
			*dst = t
		}
	}
	es := s.moderation.Audit(c.Request.Context(), f)
	out := auditListJSON{Entries: make([]auditEntryJSON, 0, len(es))}
	for _, e := range es {
		out.Entries = append(out.Entries, auditEntryJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action,
			Case: e.Case, Number: e.Number, Before: toSnapshotJSON(e.Before), After: toSnapshotJSON(e.After)})
	}
	c.JSON(http.StatusOK, out)
}
