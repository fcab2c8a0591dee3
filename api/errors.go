package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[string]int{
	labels.EInvalid:         http.StatusBadRequest,
	labels.EInvalidJSON:     http.StatusBadRequest,
	labels.EInvalidNumber:   http.StatusBadRequest,
	labels.EUnknownCategory: http.StatusBadRequest,
	labels.ENotLabelable:    http.StatusUnprocessableEntity,
	labels.ETooLarge:        http.StatusRequestEntityTooLarge,
	labels.EUnauthorized:    http.StatusUnauthorized,
	labels.EForbidden:       http.StatusForbidden,
	labels.ENotFound:        http.StatusNotFound,
	labels.EConflict:        http.StatusConflict,
	labels.ERateLimited:     http.StatusTooManyRequests,
	labels.EQuotaExceeded:   http.StatusTooManyRequests,
	labels.EUnavailable:     http.StatusServiceUnavailable,
	labels.EInternal:        http.StatusInternalServerError,
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

// errorDetail is the code and caller-safe message of an error, alone in an
// error response or per item of a batch.
type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// classify returns the status and body of err. Anything that is not a
// *labels.Error with a known code is internal, and its text stays in the
// logs.
func classify(err error) (int, errorDetail) {
	code := labels.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok || code == labels.EInternal {
		return http.StatusInternalServerError, errorDetail{Code: labels.EInternal, Message: "internal error"}
	}
	return status, errorDetail{Code: code, Message: labels.ErrorMessage(err)}
}

// fail ends the request with the error response for err. Server-side
// failures are logged with their cause; 401 answers carry the
// WWW-Authenticate challenge, 429 and 503 answers Retry-After.
func (s *Server) fail(c *gin.Context, err error) {
	status, detail := classify(err)
	if status >= http.StatusInternalServerError {
		s.log.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", routeOf(c), "status", status, "err", err)
	}
	switch status {
	case http.StatusUnauthorized:
		challenge := `Bearer realm="callrep"`
		if c.GetHeader("Authorization") != "" {
			challenge += `, error="invalid_token"`
		}
		c.Header("WWW-Authenticate", challenge)
	case http.StatusTooManyRequests:
		var re *retryError
		wait := defaultRetry
		if errors.As(err, &re) {
			wait = re.after
		}
		c.Header("Retry-After", retryAfterSeconds(wait))
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", retryAfterSeconds(unavailableRetry))
	}
	c.AbortWithStatusJSON(status, errorBody{Error: detail})
}

// defaultRetry is the Retry-After of a 429 that does not know better.
const defaultRetry = time.Second

// unavailableRetry is the Retry-After of every 503: about how often the
// writer probes storage that failed (see labels/commit.go), so that a
// retry comes when a write may succeed again.
const unavailableRetry = 2 * time.Second

// itemError is the per-item form of err in batch answers: the status the
// item would have had on its own and the error detail.
func itemError(err error) (int, *errorDetail) {
	status, detail := classify(err)
	return status, &detail
}

// routeOf is the route pattern of the request ("/v1/numbers/:number"), or
// "unmatched". Logs and metrics use it instead of the path, which holds
// phone numbers.
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}
