package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
)

// maxBatchReports is the most reports one POST /v1/reports/batch takes.
const maxBatchReports = 100

// createReport answers POST /v1/reports: 201 with the stored report, or
// 200 with the report stored earlier under the same client_report_id.
func (s *Server) createReport(c *gin.Context) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var body reportInputJSON
	if err := decodeBody(c, &body); err != nil {
		s.fail(c, err)
		return
	}
	in, err := body.input()
	if err != nil {
		s.fail(c, err)
		return
	}
	if _, _, err := s.takeReports(c.Request.Context(), who.ID, 1); err != nil {
		s.fail(c, err)
		return
	}
	r, err := s.labels.Report(c.Request.Context(), who, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(s.reportStatus(r), toReportJSON(r))
}

// reportStatus is 201 for a new report and 200 for a duplicate; it counts
// the new ones.
func (s *Server) reportStatus(r labels.Report) int {
	if r.Duplicate {
		return http.StatusOK
	}
	s.metrics.reports.Inc()
	return http.StatusCreated
}

// createReportsBatch answers POST /v1/reports/batch. Every item is handled
// as POST /v1/reports would handle it, including its own strict decoding,
// so that one bad item is rejected alone and the good ones are stored.
// Items beyond the caller's daily quota are rejected with 429 each. A
// server-side failure fails the whole request: items stored before it stay
// stored, and a retry with the same client_report_ids stores them once.
func (s *Server) createReportsBatch(c *gin.Context) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req batchRequestJSON
	if err := decodeBody(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if len(req.Reports) == 0 || len(req.Reports) > maxBatchReports {
		s.fail(c, labels.Errorf(labels.EInvalid, "reports must list 1 to %d reports", maxBatchReports))
		return
	}
	granted, quotaWait, err := s.takeReports(c.Request.Context(), who.ID, len(req.Reports))
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	out := batchResponseJSON{Results: make([]batchResultJSON, len(req.Reports))}
	for i, raw := range req.Reports {
		res := &out.Results[i]
		res.Index = i
		var (
			r   labels.Report
			err error
		)
		if i < granted {
			r, err = s.reportItem(ctx, who, raw)
		} else {
			err = errQuotaExceeded(quotaWait)
		}
		if err != nil {
			status, detail := itemError(err)
			if status >= http.StatusInternalServerError {
				s.fail(c, err)
				return
			}
			res.Status, res.Error = status, detail
			out.Rejected++
			continue
		}
		rj := toReportJSON(r)
		res.Status, res.Report = s.reportStatus(r), &rj
		out.Accepted++
	}
	c.JSON(http.StatusOK, out)
}

// reportItem decodes and files one batch item.
func (s *Server) reportItem(ctx context.Context, who labels.Reporter, raw json.RawMessage) (labels.Report, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return labels.Report{}, labels.Errorf(labels.EInvalid, "each report must be an object")
	}
	var body reportInputJSON
	if err := decodeBytes(raw, &body); err != nil {
		return labels.Report{}, err
	}
	in, err := body.input()
	if err != nil {
		return labels.Report{}, err
	}
	return s.labels.Report(ctx, who, in)
}

// retractReport answers DELETE /v1/reports/{number}: it removes the
// caller's own live label, and only that. Someone else's label on the
// number is invisible here, so trying to remove it is a 404 like any
// number the caller never labelled.
func (s *Server) retractReport(c *gin.Context) {
	who, err := s.reporter(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	// A retraction is a write like a report and shares its rate, but
	// not the daily quota: taking a label back is always allowed.
	if ok, wait := s.reporters.take(who.ID, 1, s.now()); !ok {
		s.fail(c, s.rateLimited(wait))
		return
	}
	r, err := s.labels.Retract(c.Request.Context(), who, c.Param("number"), c.Query("region"))
	if err != nil {
		s.fail(c, err)
		return
	}
	// labels.Service puts the retracted category in ReplacedCategory; the
	// event itself has none.
	category := r.ReplacedCategory
	if category == "" {
		category = r.Category
	}
	c.JSON(http.StatusOK, retractionJSON{Number: r.Number.Key, RetractedCategory: category})
}
