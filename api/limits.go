package api

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/callrep/callrep/labels"
)

// Limits bound what one client may ask of the server. Rates are per minute
// and refill continuously; a burst is how much may be spent at once.
type Limits struct {
	// RequestsPerMinute and RequestBurst limit /v1 requests without a
	// bearer token per client IP address (per /64 network for IPv6). A
	// batch lookup costs one request per number.
	RequestsPerMinute float64
	RequestBurst      int
	// SignedInRequestsPerMinute and SignedInRequestBurst take their place
	// for requests that carry a bearer token.
	SignedInRequestsPerMinute float64
	SignedInRequestBurst      int
	// ReportsPerMinute and ReportBurst limit reports per reporter; each
	// item of a batch counts.
	ReportsPerMinute float64
	ReportBurst      int
	// DailyReports caps the reports of one reporter per UTC day; 0 means
	// no cap.
	DailyReports int
	// MaxBodyBytes caps the size of request bodies.
	MaxBodyBytes int64
}

// DefaultLimits returns limits that let a local demo and a test suite run
// from one address: bursts of 1,000 anonymous and 2,000 signed-in requests
// per IP, 100 reports a minute and 5,000 a day per reporter, 1 MiB bodies
// (a full batch of 100 reports with long comments is about 150 KB).
func DefaultLimits() Limits {
	return Limits{
		RequestsPerMinute:         600,
		RequestBurst:              1000,
		SignedInRequestsPerMinute: 1200,
		SignedInRequestBurst:      2000,
		ReportsPerMinute:          100,
		ReportBurst:               100,
		DailyReports:              5000,
		MaxBodyBytes:              1 << 20,
	}
}

func (l Limits) validate() error {
	switch {
	case !(l.RequestsPerMinute > 0) || l.RequestBurst < 1:
		return errors.New("api: anonymous request rate and burst must be positive")
	case !(l.SignedInRequestsPerMinute > 0) || l.SignedInRequestBurst < 1:
		return errors.New("api: signed-in request rate and burst must be positive")
	case !(l.ReportsPerMinute > 0) || l.ReportBurst < 1:
		return errors.New("api: report rate and burst must be positive")
	case l.DailyReports < 0:
		return errors.New("api: daily report quota must not be negative")
	case l.MaxBodyBytes < 1:
		return errors.New("api: body size limit must be positive")
	}
	return nil
}

// limiterSet keeps one token bucket per key. Buckets are dropped once idle
// for as long as a refill takes: such a bucket is full, exactly like a new
// one, so eviction forgets nothing and memory stays proportional to the
// keys active recently. Eviction happens lazily on use; there is no
// goroutine to stop.
type limiterSet[K comparable] struct {
	limit rate.Limit
	burst int
	idle  time.Duration

	mu        sync.Mutex
	entries   map[K]*limiterEntry
	nextSweep time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiterSet[K comparable](perMinute float64, burst int) *limiterSet[K] {
	limit := rate.Limit(perMinute / 60)
	refill := time.Duration(float64(burst) / float64(limit) * float64(time.Second))
	return &limiterSet[K]{
		limit:   limit,
		burst:   burst,
		idle:    max(refill, time.Minute),
		entries: make(map[K]*limiterEntry),
	}
}

// take spends n tokens from key's bucket. When they are not there, it
// spends nothing and returns how long until they are. n is capped at the
// burst so that a large batch is never refused forever.
func (ls *limiterSet[K]) take(key K, n int, now time.Time) (ok bool, wait time.Duration) {
	if n <= 0 {
		return true, 0
	}
	n = min(n, ls.burst)
	ls.mu.Lock()
	if !now.Before(ls.nextSweep) {
		ls.sweepLocked(now)
	}
	e := ls.entries[key]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(ls.limit, ls.burst)}
		ls.entries[key] = e
	}
	if now.After(e.seen) {
		e.seen = now
	}
	ls.mu.Unlock()

	if e.lim.AllowN(now, n) {
		return true, 0
	}
	missing := float64(n) - e.lim.TokensAt(now)
	return false, time.Duration(missing / float64(ls.limit) * float64(time.Second))
}

func (ls *limiterSet[K]) sweepLocked(now time.Time) {
	for key, e := range ls.entries {
		if now.Sub(e.seen) > ls.idle {
			delete(ls.entries, key)
		}
	}
	ls.nextSweep = now.Add(ls.idle)
}

// dailyQuota counts reports per reporter for the current UTC day. The
// grants are written to a ledger in storage, at most a second behind (and
// at Close), and a day's counts start from its ledger, read once at the
// first report of the day: a restart resets nothing, and a crash forgets at
// most the last second's grants. The counts of a day are dropped when the
// next one starts.
type dailyQuota struct {
	limit  int
	ledger QuotaLedger // nil counts from zero, in memory only

	mu        sync.Mutex
	day       time.Time
	used      map[string]int
	pending   map[string]int // granted, not yet in the ledger
	lastWrite time.Time
	writing   bool           // a write is in flight
	writes    sync.WaitGroup // the write in flight, for Close
	load      sync.Mutex     // held while a day's ledger is read
}

// QuotaLedger keeps the daily quota's grants, per UTC day and reporter.
type QuotaLedger interface {
	QuotaUsed(ctx context.Context, day time.Time) (map[string]int, error)
	AddQuota(ctx context.Context, day time.Time, granted map[string]int) error
}

const (
	// quotaWriteEvery is how far the ledger may lag the grants.
	quotaWriteEvery = time.Second
	// quotaStorageWait bounds a ledger read or write: with storage down,
	// a day's first report fails fast and the grants wait for the next
	// write.
	quotaStorageWait = 3 * time.Second
)

func newDailyQuota(limit int, ledger QuotaLedger) *dailyQuota {
	return &dailyQuota{limit: limit, ledger: ledger, used: map[string]int{}, pending: map[string]int{}}
}

// take grants up to n reports of key's remaining quota for the day of now.
// When it grants fewer than n, wait is the time until the quota resets.
// The error is storage's, when it cannot read the day's ledger.
func (q *dailyQuota) take(ctx context.Context, key string, n int, now time.Time) (granted int, wait time.Duration, err error) {
	if q.limit <= 0 {
		return n, 0, nil
	}
	now = now.UTC()
	day := now.Truncate(24 * time.Hour)
	if err := q.startDay(ctx, day); err != nil {
		return 0, 0, err
	}
	q.mu.Lock()
	granted = max(0, min(n, q.limit-q.used[key]))
	q.used[key] += granted
	if granted > 0 {
		q.pending[key] += granted
	}
	if granted < n {
		wait = day.Add(24 * time.Hour).Sub(now)
	}
	if q.ledger != nil && !q.writing && len(q.pending) > 0 && now.Sub(q.lastWrite) >= quotaWriteEvery {
		// Off the request: a report never waits on the ledger, and a
		// failed write keeps the grants for the next one.
		q.writing = true
		q.writes.Go(func() {
			wctx, cancel := context.WithTimeout(context.Background(), quotaStorageWait)
			defer cancel()
			_ = q.write(wctx, now)
			q.mu.Lock()
			q.writing = false
			q.mu.Unlock()
		})
	}
	q.mu.Unlock()
	return granted, wait, nil
}

// close waits for the write in flight and writes what is left.
func (q *dailyQuota) close(ctx context.Context, now time.Time) error {
	q.writes.Wait()
	return q.write(ctx, now)
}

// startDay makes day the current one, its counts read from the ledger.
func (q *dailyQuota) startDay(ctx context.Context, day time.Time) error {
	q.mu.Lock()
	current := day.Equal(q.day)
	q.mu.Unlock()
	if current {
		return nil
	}
	q.load.Lock()
	defer q.load.Unlock()
	q.mu.Lock()
	current = day.Equal(q.day)
	q.mu.Unlock()
	if current {
		return nil
	}
	used := map[string]int{}
	if q.ledger != nil {
		rctx, cancel := context.WithTimeout(ctx, quotaStorageWait)
		defer cancel()
		var err error
		if used, err = q.ledger.QuotaUsed(rctx, day); err != nil {
			return err
		}
	}
	q.mu.Lock()
	q.day, q.used, q.pending = day, used, map[string]int{}
	q.mu.Unlock()
	return nil
}

// write appends the pending grants to the ledger.
func (q *dailyQuota) write(ctx context.Context, now time.Time) error {
	q.mu.Lock()
	day, pending := q.day, q.pending
	q.pending, q.lastWrite = map[string]int{}, now
	q.mu.Unlock()
	if len(pending) == 0 || q.ledger == nil {
		return nil
	}
	err := q.ledger.AddQuota(ctx, day, pending)
	if err != nil {
		q.mu.Lock()
		if day.Equal(q.day) {
			for k, n := range pending {
				q.pending[k] += n
			}
		}
		q.mu.Unlock()
	}
	return err
}

// retryError is a 429 error with the time after which a retry can succeed.
type retryError struct {
	err   *labels.Error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// retryAfterSeconds renders a wait as a Retry-After value: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// rateLimited counts a refusal of a rate limit and returns its error,
// which tells to retry after wait.
func (s *Server) rateLimited(wait time.Duration) error {
	s.metrics.limited.WithLabelValues(labels.ERateLimited).Inc()
	return &retryError{err: labels.Errorf(labels.ERateLimited, "too many requests"), after: wait}
}

func errQuotaExceeded(wait time.Duration) error {
	return &retryError{err: labels.Errorf(labels.EQuotaExceeded, "daily report quota exceeded"), after: wait}
}

// ipLimiter picks the bucket set for the request: on routes that accept
// tokens, a request with an Authorization header is judged by the
// signed-in limits. The limit comes before the token check, so that a flood
// of bad tokens spends the flooder's budget rather than the verifier's
// time; a bad token still ends in 401.
func (s *Server) ipLimiter(c *gin.Context, tokens bool) *limiterSet[netip.Prefix] {
	if tokens && c.GetHeader("Authorization") != "" {
		return s.signedIPs
	}
	return s.anonIPs
}

// limitIP is the per-IP rate limit of the /v1 routes; tokens says whether
// the route accepts bearer tokens.
func (s *Server) limitIP(tokens bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.takeIP(c, tokens, 1); err != nil {
			s.fail(c, err)
			return
		}
		c.Next()
	}
}

// takeIP spends n requests of the client's IP budget.
func (s *Server) takeIP(c *gin.Context, tokens bool, n int) error {
	ok, wait := s.ipLimiter(c, tokens).take(ipKey(clientAddr(c)), n, s.now())
	if !ok {
		return s.rateLimited(wait)
	}
	return nil
}

// takeReports spends n reports of reporterID's rate and daily quota. It
// fails when none may be filed now; granted < n means the quota allows only
// the first granted reports today, and quotaWait is when it resets.
func (s *Server) takeReports(ctx context.Context, reporterID string, n int) (granted int, quotaWait time.Duration, err error) {
	now := s.now()
	if ok, wait := s.reporters.take(reporterID, n, now); !ok {
		return 0, 0, s.rateLimited(wait)
	}
	granted, quotaWait, err = s.quota.take(ctx, reporterID, n, now)
	if err != nil {
		return 0, 0, err
	}
	if granted < n {
		s.metrics.limited.WithLabelValues(labels.EQuotaExceeded).Inc()
	}
	if granted == 0 {
		return 0, 0, errQuotaExceeded(quotaWait)
	}
	return granted, quotaWait, nil
}

// ipKey is the rate limit key of a client address: the address for IPv4,
// the /64 network for IPv6, which is what one subscriber usually gets. An
// address that did not parse (the zero Addr) gives the zero Prefix: one
// bucket for all of them.
func ipKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// clientAddr is c.ClientIP() parsed, unmapped and without its zone, or
// the zero Addr. Without an X-Forwarded-For header ClientIP is the peer's
// address, read here without gin's parsing and allocations: this runs for
// every lookup.
func clientAddr(c *gin.Context) netip.Addr {
	if len(c.Request.Header["X-Forwarded-For"]) == 0 {
		if ap, err := netip.ParseAddrPort(c.Request.RemoteAddr); err == nil {
			return ap.Addr().Unmap().WithZone("")
		}
	}
	return addrOf(c.ClientIP())
}

// addrOf parses ip, unmapped and without its zone; the zero Addr if it
// does not parse.
func addrOf(ip string) netip.Addr {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// ipPrefix is the network kept with a report instead of the address:
// /24 for IPv4, /48 for IPv6; "" when the address is unparsable.
func ipPrefix(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}
