package api

import (
	"context"
	"net/http"
	"sync"

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
	var rep reputationJSON
	if err := s.lookup(c.Request.Context(), n, &rep); err != nil {
		s.fail(c, err)
		return
	}
	bp := bufPool.Get().(*[]byte)
	writeJSONBuf(c, bp, appendReputation((*bp)[:0], &rep))
}

// lookupNumbers answers POST /v1/numbers/lookup: one result per input, in
// input order; a number that cannot be looked up fails alone. Each number
// costs one request of the caller's rate limit.
func (s *Server) lookupNumbers(c *gin.Context) {
	var req lookupRequestJSON
	if err := decodeLookupRequest(c.Request.Body, &req); err != nil {
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
	lb := lookupBufPool.Get().(*lookupBuffers)
	defer lb.put(len(req.Numbers))
	out := lookupResponseJSON{Results: lb.results[:len(req.Numbers)]}
	reps := lb.reps[:len(req.Numbers)]
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
		if err := s.lookup(ctx, n, &reps[i]); err != nil {
			s.fail(c, err)
			return
		}
		out.Results[i].reputationJSON = &reps[i]
		looked++
	}
	s.metrics.lookups.Add(float64(looked))
	writeJSON(c, func(b []byte) []byte { return appendLookupResponse(b, &out) })
}

// lookupBuffers hold a batch lookup's results, reused: as fresh slices
// they were nearly half of the bytes a batch allocated.
type lookupBuffers struct {
	results []lookupResultJSON
	reps    []reputationJSON
}

var lookupBufPool = sync.Pool{New: func() any {
	return &lookupBuffers{results: make([]lookupResultJSON, maxLookupNumbers), reps: make([]reputationJSON, maxLookupNumbers)}
}}

// put clears the first n results, which the answer used and must have
// written by now, so that the pool keeps no reputation alive, and returns
// lb to the pool.
func (lb *lookupBuffers) put(n int) {
	clear(lb.results[:n])
	clear(lb.reps[:n])
	lookupBufPool.Put(lb)
}

// lookup writes into out the reputation of n from memory, with the
// caller's own label when the caller is signed in.
func (s *Server) lookup(ctx context.Context, n labels.Number, out *reputationJSON) error {
	res, err := s.rep.Reputation(ctx, n)
	if err != nil {
		return err
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
	fillReputationJSON(out, res, mine)
	return nil
}
