package push

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are push's Prometheus collectors. No label ever holds a token,
// a number or a user.
type metrics struct {
	sent        *prometheus.CounterVec // by kind
	failed      *prometheus.CounterVec // by reason
	retried     prometheus.Counter
	pruned      prometheus.Counter
	inboxWrites prometheus.Counter
	warnings    *prometheus.CounterVec // recipients by kind
	dropped     prometheus.Counter
	depth       prometheus.Collector
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrep_push_sent_total", Help: "Messages FCM accepted, by kind.",
		}, []string{"kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrep_push_failed_total", Help: "Messages given up, by reason (unregistered, rejected, expired, capped, device_gone).",
		}, []string{"reason"}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrep_push_retried_total", Help: "Messages that failed for now and are sent again after a backoff.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrep_push_tokens_pruned_total", Help: "Devices removed because FCM said their token is dead.",
		}),
		inboxWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrep_push_inbox_writes_total", Help: "Notifications put into users' inboxes.",
		}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callrep_push_warnings_total", Help: "Warnings recorded in the outbox, one per recipient (or topic), by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callrep_push_records_dropped_total", Help: "Lookup records not kept: the buffer was full or the user's record is at its bound.",
		}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.retried, m.pruned, m.inboxWrites, m.warnings, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("push: unable to register metrics: %w", err)
		}
	}
	return m, nil
}

// registerDepth adds the outbox gauges, read at scrape time.
func (s *Service) registerDepth(reg prometheus.Registerer) error {
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "callrep_push_outbox_depth", Help: "Messages recorded in the outbox and not yet sent or given up.",
	}, func() float64 { n, _ := s.out.depth(s.cfg.Now()); return float64(n) })
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "callrep_push_outbox_oldest_seconds", Help: "Age of the oldest outbox batch not yet done.",
	}, func() float64 { _, a := s.out.depth(s.cfg.Now()); return a.Seconds() })
	for _, c := range []prometheus.Collector{depth, age} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("push: unable to register metrics: %w", err)
		}
	}
	return nil
}
