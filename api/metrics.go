package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests  *prometheus.CounterVec   // by route pattern and status
	latency   *prometheus.HistogramVec // by route pattern
	reports   prometheus.Counter       // reports stored (not duplicates)
	lookups   prometheus.Counter       // numbers looked up
	cacheHits prometheus.Counter       // lookups answered from a cache
	limited   *prometheus.CounterVec   // 429 answers by code

	// served caches the children of requests and latency by route and
	// status: resolving label values costs a hash of them and a lock on
	// every request.
	served sync.Map // routeStatus → *servedMetrics
}

type routeStatus struct {
	route  string
	status int
}

type servedMetrics struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// observe counts a request of route answered with status in seconds.
func (m *metrics) observe(route string, status int, seconds float64) {
	k := routeStatus{route, status}
	v, ok := m.served.Load(k)
	if !ok {
		v, _ = m.served.LoadOrStore(k, &servedMetrics{
			count:   m.requests.WithLabelValues(route, strconv.Itoa(status)),
			latency: m.latency.WithLabelValues(route),
		})
	}
	sm := v.(*servedMetrics)
	sm.count.Inc()
	sm.latency.Observe(seconds)
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrep_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "callrep_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrep_reports_accepted_total",
			Help: "Reports stored; repeated client_report_ids are not counted.",
		}),
		lookups: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrep_lookups_total",
			Help: "Numbers looked up, one per number of a batch.",
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrep_cache_hits_total",
			Help: "Lookups answered from a cache.",
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrep_rate_limited_total",
			Help: "Requests or reports refused by a rate limit or quota, by error code.",
		}, []string{"code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.reports, m.lookups, m.cacheHits, m.limited} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: unable to register metrics: %w", err)
		}
	}
	return m, nil
}

// MetricsHandler serves /metrics: the server's own registry, never the
// global one, in the Prometheus text format, without authentication.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{s},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// slogPrinter adapts the logger to promhttp's ErrorLog.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Error("metrics: " + fmt.Sprint(v...)) }
