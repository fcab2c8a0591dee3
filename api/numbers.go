package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
)

// maxLookupNumbers is the most numbers one POST /v1/numbers/lookup takes.
const maxLookupNumbers = 500

// getNumber answers GET /v1/numbers/{number}. A number nobody labelled is
// no error: phones ask about every call, and "unknown" is an answer.
func (s *Server) getNumber(c *gin.Context) {
	region := ""
	if c.Request.URL.RawQuery != "" { // gin parses a query into a map even when there is none
		region = c.Query("region")
	}
	n, err := s.labels.Normalize(c.Param("number"), region)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.metrics.lookups.Inc()
	rep, err := s.lookup(c.Request.Context(), n)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeJSON(c, func(b []byte) []byte { return appendReputation(b, rep) })
}

// lookupNumbers answers POST /v1/numbers/lookup: one result per input, in
// input order; a number that cannot be looked up fails alone. Each number
// costs one request of the caller's rate limit.
func (s *Server) lookupNumbers(c *gin.Context) {
	var req lookupRequestJSON
	if err := decodeBody(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.Numbers) == 0 || len(req.Numbers) > maxLookupNumbers {
		s.fail(c, labels.Errorf(labels.EInvalid, "numbers must list 1 to %d numbers", maxLookupNumbers))
		return
	}
	// limitIP charged the first number already.
	if err := s.takeIP(c, true, len(req.Numbers)-1); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	out := lookupResponseJSON{Results: make([]lookupResultJSON, len(req.Numbers))}
	looked := 0
	for i, raw := range req.Numbers {
		out.Results[i].Input = raw
		n, err := s.labels.Normalize(raw, req.Region)
		if err != nil {
			status, detail := itemError(err)
			if status >= http.StatusInternalServerError {
				s.fail(c, err)
				return
			}
			out.Results[i].Error = detail
			continue
		}
		if out.Results[i].reputationJSON, err = s.lookup(ctx, n); err != nil {
			s.fail(c, err)
			return
		}
		looked++
	}
	s.metrics.lookups.Add(float64(looked))
	writeJSON(c, func(b []byte) []byte { return appendLookupResponse(b, &out) })
}

// lookup is the reputation of n from memory, with the caller's own label
// when the caller is signed in.
func (s *Server) lookup(ctx context.Context, n labels.Number) (*reputationJSON, error) {
	res, err := s.rep.Reputation(ctx, n)
	if err != nil {
		return nil, err
	}
	var mine *labels.Label
	if p, ok := PrincipalFromContext(ctx); ok {
		if l, ok := s.labels.LabelOf(p.ReporterID(), n.Key); ok {
			mine = &l
		}
		if s.lookups != nil {
			s.lookups.RecordLookup(p.ReporterID(), n, res)
		}
	}
	return toReputationJSON(res, mine), nil
}
