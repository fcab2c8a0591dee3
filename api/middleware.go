package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
)

// observe writes the access log line and the request metrics. Both name
// the route pattern, never the path: paths hold phone numbers. Tokens and
// bodies are never logged.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	took := time.Since(start)
	route := routeOf(c)
	status := c.Writer.Status()
	s.metrics.observe(route, status, took.Seconds())

	level := slog.LevelInfo
	switch {
	case status >= http.StatusInternalServerError:
		level = slog.LevelError
	case quiet[route] && status < http.StatusBadRequest:
		level = slog.LevelDebug
	}
	if !s.log.Enabled(c.Request.Context(), level) {
		return
	}
	s.log.LogAttrs(c.Request.Context(), level, "request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("latency", took),
		slog.Int("bytes", max(0, c.Writer.Size())),
		slog.String("client", ipPrefix(c.ClientIP())),
	)
}

// quiet are the routes logged at debug level while they succeed: those
// polled by machines (load balancers and Prometheus, every few seconds)
// and the lookups, one per ringing phone, which a line each would slow
// down more than anything else they do; the request metrics count them.
var quiet = map[string]bool{
	"/healthz": true, "/readyz": true, "/metrics": true,
	"/v1/numbers/:number": true, "/v1/numbers/lookup": true,
}

// recoverPanics turns a panicking handler into a logged 500.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		err := fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		if c.Writer.Written() {
			s.log.ErrorContext(c.Request.Context(), "request failed after the response started",
				"method", c.Request.Method, "route", routeOf(c), "err", err)
			c.Abort()
			return
		}
		s.fail(c, err)
	}()
	c.Next()
}

// authenticate checks the bearer token and puts the caller into the
// request context. With required false a request without an
// Authorization header goes on anonymously, but a token that is sent must
// be valid: a phone with a broken session should learn about it rather than
// silently lose its own labels.
func (s *Server) authenticate(required bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		header := c.GetHeader("Authorization")
		if header == "" && !required {
			c.Next()
			return
		}
		if header == "" {
			s.fail(c, labels.Errorf(labels.EUnauthorized, "missing bearer token"))
			return
		}
		token, ok := bearerToken(header)
		if !ok {
			s.fail(c, labels.Errorf(labels.EUnauthorized, "authorization header must be \"Bearer <token>\""))
			return
		}
		p, err := s.verifier.Verify(c.Request.Context(), token)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.Request = c.Request.WithContext(ContextWithPrincipal(c.Request.Context(), p))
		c.Next()
	}
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// reporter is the labels identity of the signed-in caller of c. Routes
// that call it sit behind authenticate(true). A moderator's reports are
// stored with source moderator: they weigh as moderators' and are gold in
// trust estimation.
func (s *Server) reporter(c *gin.Context) (labels.Reporter, error) {
	p, ok := PrincipalFromContext(c.Request.Context())
	if !ok {
		return labels.Reporter{}, labels.Errorf(labels.EUnauthorized, "missing bearer token")
	}
	src := labels.SourceApp
	if p.Moderator {
		src = labels.SourceModerator
	}
	return labels.Reporter{ID: p.ReporterID(), Source: src, IPPrefix: ipPrefix(c.ClientIP())}, nil
}
