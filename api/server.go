// Package api is callrep's HTTP layer: it decodes requests strictly, checks
// bearer tokens and rate limits, calls the labels service and the reputation
// index, and answers in the shapes openapi/openapi.yaml describes. It is the
// only package that imports gin.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// LabelService is what the handlers need from the labels service: turning
// reports into live labels and reading a reporter's own labels back.
type LabelService interface {
	Normalize(raw, region string) (labels.Number, error)
	Report(ctx context.Context, who labels.Reporter, in labels.ReportInput) (labels.Report, error)
	Retract(ctx context.Context, who labels.Reporter, number, region string) (labels.Report, error)
	LabelOf(reporterID, key string) (labels.Label, bool)
	Mine(ctx context.Context, reporterID string, limit int, cursor string) ([]labels.Label, string, error)
	Erase(ctx context.Context, reporterID string, progress func(labels.EraseResult) error) error
	// The daily report quota's ledger.
	QuotaLedger
}

// ReputationIndex answers lookups: a writer's engine from memory, a lookup
// replica from a bounded cache and, behind a filter of every labelled
// number, from storage, so that unknown numbers never wait on it.
type ReputationIndex interface {
	Reputation(ctx context.Context, n labels.Number) (reputation.Result, error)
	Explanation(ctx context.Context, n labels.Number, top int) (reputation.Explanation, error)
}

// MetricsRegistry is where the server registers its metrics and what
// /metrics serves; a *prometheus.Registry is one.
type MetricsRegistry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Config holds the dependencies and settings of a Server.
type Config struct {
	// Labels stores reports; required.
	Labels LabelService
	// Reputation answers lookups; required.
	Reputation ReputationIndex
	// Verifier checks bearer tokens; required.
	Verifier Verifier
	// Publications serves filters, exports and hash prefixes; required.
	Publications Publications
	// Ready is the /readyz check: nil when storage is reachable and the
	// in-memory state is loaded. A nil Ready means always ready.
	Ready func(ctx context.Context) error
	// Logger receives the access log and internal errors; slog.Default()
	// if nil.
	Logger *slog.Logger
	// Limits are the rate limits and the body size limit. The zero value
	// means DefaultLimits().
	Limits Limits
	// TrustedProxies lists the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For header names the client. Requests from anywhere else
	// are attributed to their own address, whatever the header says.
	TrustedProxies []string
	// Registry gets the server's metrics and is served at /metrics; a new
	// registry if nil. Never pass the global default registry to two
	// servers: the metrics would collide.
	Registry MetricsRegistry
	// Now is the clock of rate limits and quotas; time.Now if nil.
	Now func() time.Time
	// Devices, Inbox and Guardians serve the push routes; nil (a lookup
	// replica) answers them 503, naming the writer.
	Devices   Devices
	Inbox     Inbox
	Guardians Guardians
	// Lookups is told about signed-in lookups; nil records nothing.
	Lookups LookupRecorder
	// Erasures runs DELETE /v1/me, with the steps of ErasureSteps; nil (a
	// lookup replica) answers 503.
	Erasures Erasures
	// SeparateMetrics leaves /metrics out of Handler: MetricsHandler
	// serves it, on a listener of its own.
	SeparateMetrics bool
	// Moderation serves disputes and the moderator routes; nil (a lookup
	// replica) answers them 503, naming the writer.
	Moderation Moderation
}

// Server is callrep's HTTP API. Create it with New and serve Handler.
type Server struct {
	labels   LabelService
	rep      ReputationIndex
	verifier Verifier
	pubs     Publications
	ready    func(ctx context.Context) error
	log      *slog.Logger
	limits   Limits
	now      func() time.Time
	registry MetricsRegistry
	metrics  *metrics
	docs     []byte

	devices   Devices
	inbox     Inbox
	guardians Guardians
	lookups   LookupRecorder
	erasures  Erasures

	separateMetrics bool

	moderation   Moderation
	disputeLimit *limiterSet[string] // per filer, disputes

	anonIPs   *limiterSet[netip.Prefix] // per client IP, requests without a token
	signedIPs *limiterSet[netip.Prefix] // per client IP, requests with a token
	reporters *limiterSet[string]       // per reporter, reports
	quota     *dailyQuota               // per reporter, reports per UTC day

	engine *gin.Engine
}

// New checks cfg and builds the server with its routes and metrics.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Labels == nil:
		return nil, errors.New("api: config has no label service")
	case cfg.Reputation == nil:
		return nil, errors.New("api: config has no reputation index")
	case cfg.Verifier == nil:
		return nil, errors.New("api: config has no token verifier")
	case cfg.Publications == nil:
		return nil, errors.New("api: config has no publications")
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits()
	}
	if err := cfg.Limits.validate(); err != nil {
		return nil, err
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) error { return nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	docs, err := docsPage()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	l := cfg.Limits
	s := &Server{
		labels:    cfg.Labels,
		rep:       cfg.Reputation,
		verifier:  cfg.Verifier,
		pubs:      cfg.Publications,
		ready:     cfg.Ready,
		log:       cfg.Logger,
		limits:    l,
		now:       cfg.Now,
		registry:  cfg.Registry,
		metrics:   m,
		docs:      docs,
		anonIPs:   newLimiterSet[netip.Prefix](l.RequestsPerMinute, l.RequestBurst),
		signedIPs: newLimiterSet[netip.Prefix](l.SignedInRequestsPerMinute, l.SignedInRequestBurst),
		reporters: newLimiterSet[string](l.ReportsPerMinute, l.ReportBurst),
		quota:     newDailyQuota(l.DailyReports, cfg.Labels),
		devices:   cfg.Devices,
		inbox:     cfg.Inbox,
		guardians: cfg.Guardians,
		lookups:   cfg.Lookups,
		erasures:  cfg.Erasures,

		separateMetrics: cfg.SeparateMetrics,
		moderation:      cfg.Moderation,
		disputeLimit:    newLimiterSet[string](disputesPerMinute, disputeBurst),
	}
	if err := s.buildEngine(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler returns the HTTP handler that serves the API.
func (s *Server) Handler() http.Handler { return s.engine }

// Close writes the daily quota's last grants to its ledger. The rate
// limiters evict idle entries as they go: there is no background work to
// stop. It is safe to call more than once.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.quota.close(ctx, s.now())
}

// CacheHits returns the counter behind callrep_cache_hits_total, for caches
// in front of the lookup path to count their hits on.
func (s *Server) CacheHits() prometheus.Counter { return s.metrics.cacheHits }

// Route is one route the server serves, with its path in OpenAPI form
// (/v1/numbers/{number}).
type Route struct {
	Method string
	Path   string
}

// Routes lists the routes the server serves, so that tests can compare
// them with the OpenAPI document.
func (s *Server) Routes() []Route {
	infos := s.engine.Routes()
	out := make([]Route, 0, len(infos))
	for _, ri := range infos {
		out = append(out, Route{Method: ri.Method, Path: openAPIPath(ri.Path)})
	}
	return out
}

// openAPIPath turns gin's /v1/numbers/:number into /v1/numbers/{number}.
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") {
			segs[i] = "{" + seg[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// buildEngine sets up gin and the routes of openapi/openapi.yaml. Route
// paths hold no literal colons: gin would read them as parameters.
func (s *Server) buildEngine(trustedProxies []string) error {
	// gin's debug mode prints every route to stdout; the mode is global,
	// and release mode is the only one callrep ever wants.
	if gin.Mode() != gin.ReleaseMode {
		gin.SetMode(gin.ReleaseMode)
	}
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.ForwardedByClientIP = true
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	e.TrustedPlatform = ""
	if err := e.SetTrustedProxies(trustedProxies); err != nil {
		return fmt.Errorf("api: bad trusted proxies: %w", err)
	}
	e.Use(s.observe, s.recoverPanics, s.limitBody)
	e.NoRoute(func(c *gin.Context) {
		s.fail(c, labels.Errorf(labels.ENotFound, "no such route"))
	})

	e.GET("/healthz", s.health)
	e.GET("/readyz", s.readiness)
	if !s.separateMetrics {
		e.GET("/metrics", gin.WrapH(s.MetricsHandler()))
	}
	e.GET("/openapi.yaml", s.openAPI)
	e.GET("/docs", s.docsHandler)
	e.GET("/docs/phone-contract.md", s.phoneContract)

	// Categories are the same for everyone: a token there is ignored, and
	// so are its higher limits.
	e.GET("/v1/categories", s.limitIP(false), s.listCategories)
	open := e.Group("/v1", s.limitIP(false))
	open.GET("/filters", s.listFilters)
	open.GET("/filters/:name", s.getFilter)
	open.GET("/exports/callkit", s.exportCallKit)
	open.GET("/prefixes/:prefix", s.getPrefix)

	lookups := e.Group("/v1", s.limitIP(true), s.authenticate(false))
	lookups.GET("/numbers/:number", s.getNumber)
	lookups.POST("/numbers/lookup", s.lookupNumbers)

	signed := e.Group("/v1", s.limitIP(true), s.authenticate(true))
	signed.POST("/reports", s.createReport)
	signed.POST("/reports/batch", s.createReportsBatch)
	signed.DELETE("/reports/:number", s.retractReport)
	signed.GET("/me/reports", s.listMyLabels)
	signed.DELETE("/me", s.eraseMe)
	open.GET("/erasures/:id", s.getErasure)
	signed.GET("/me/notifications", s.listNotifications)
	signed.POST("/devices", s.registerDevice)
	signed.GET("/devices", s.listDevices)
	signed.DELETE("/devices/:id", s.deleteDevice)
	signed.GET("/guardians", s.listGuardians)
	signed.POST("/guardians/invites", s.createInvite)
	signed.POST("/guardians/accept", s.acceptInvite)
	signed.DELETE("/guardians/:id", s.endGuardianLink)
	signed.GET("/numbers/:number/explain", s.explainNumber)
	signed.POST("/filters/rebuild", s.rebuildFilters)
	signed.POST("/disputes", s.createDispute)
	signed.GET("/disputes/:id", s.getDispute)
	signed.GET("/me/disputes", s.listMyDisputes)

	mod := e.Group("/v1/moderation", s.limitIP(true), s.authenticate(true), s.requireModerator)
	mod.GET("/cases", s.listCases)
	mod.GET("/cases/:id", s.getCase)
	mod.POST("/cases/:id/claim", s.claimCase)
	mod.POST("/cases/:id/release", s.releaseCase)
	mod.POST("/cases/:id/decision", s.decideCase)
	mod.GET("/audit", s.listAudit)

	e.GET("/console", s.consolePage)
	e.GET("/console/:file", s.consoleAsset)

	s.engine = e
	return nil
}
