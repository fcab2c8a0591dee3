package reputation

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bits-and-blooms/bloom/v3"

	"github.com/callrep/callrep/labels"
)

// Guard is a Bloom filter of every labelled number, for the negative path
// of lookups that read storage: a number it has never seen is answered
// "unknown" without a storage read. Keys are only ever added, so it never
// answers no for a labelled number; past its capacity its false-positive
// rate rises (costing storage reads, not answers) until it is rebuilt.
type Guard struct {
	mu       sync.RWMutex
	f        *bloom.BloomFilter
	n, capac uint
	rate     float64
}

// NewGuard returns an empty guard sized for capacity keys at rate.
func NewGuard(capacity uint, rate float64) *Guard {
	capacity = max(capacity, minCapacity)
	return &Guard{f: bloom.New(bloomParams(int(capacity), rate)), capac: capacity, rate: rate}
}

// Add records key.
func (g *Guard) Add(key string) {
	g.mu.Lock()
	g.f.AddString(key)
	g.n++
	g.mu.Unlock()
}

// MightContain reports whether key may be labelled; false is certain.
func (g *Guard) MightContain(key string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.f.TestString(key)
}

// Full reports whether more keys were added than the guard is sized for.
func (g *Guard) Full() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.n > g.capac
}

// ChangeLog is a labels.Observer that appends the reputation of every
// changed number to the store's log, coalesced: a number that changes a
// hundred times between flushes is logged once. Lookup replicas tail it.
type ChangeLog struct {
	e   *Engine
	st  *Store
	log *slog.Logger

	mu   sync.Mutex
	keys map[string]struct{}
	seq  int64
}

// NewChangeLog returns the change log of e into st.
func NewChangeLog(e *Engine, st *Store, log *slog.Logger) *ChangeLog {
	if log == nil {
		log = slog.Default()
	}
	return &ChangeLog{e: e, st: st, log: log, keys: map[string]struct{}{}}
}

var _ labels.LoadObserver = (*ChangeLog)(nil)

// LabelLoaded ignores labels loaded from the snapshot at start: their
// reputations are in storage already (logged before the snapshot, or
// rewritten by the next rescore if a crash beat the log's flush), and
// logging them all again would make every start cost as much as the store
// is large.
func (c *ChangeLog) LabelLoaded(*labels.Label) {}

// LabelChanged marks the number for the next flush.
func (c *ChangeLog) LabelChanged(old, cur *labels.Label) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old != nil {
		c.keys[old.Key] = struct{}{}
	}
	if cur != nil {
		c.keys[cur.Key] = struct{}{}
	}
}

// Mark marks key for the next flush: what changed it was not a label (a
// moderation override).
func (c *ChangeLog) Mark(key string) {
	c.mu.Lock()
	c.keys[key] = struct{}{}
	c.mu.Unlock()
}

// Flush appends the marked numbers' current reputations.
func (c *ChangeLog) Flush(ctx context.Context) error {
	c.mu.Lock()
	keys := c.keys
	c.keys = map[string]struct{}{}
	seq := c.seq
	c.seq += int64(len(keys))
	c.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	rs := make([]Result, 0, len(keys))
	for key := range keys {
		r, ok := c.e.lookupKey(key)
		if !ok {
			r = Result{Number: labels.Number{Key: key}, Verdict: VerdictUnknown}
		}
		rs = append(rs, r)
	}
	if err := c.st.Append(ctx, rs, c.e.cfg.Now(), seq); err != nil {
		c.mu.Lock()
		for key := range keys {
			c.keys[key] = struct{}{}
		}
		c.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (c *ChangeLog) Run(ctx context.Context, every time.Duration) {
	labels.Every(ctx, every, func(ctx context.Context) {
		if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("reputation log flush failed, will retry", "err", err)
		}
	})
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.Flush(fctx); err != nil {
		c.log.Error("final reputation log flush", "err", err)
	}
}

// ReplicaConfig sizes a lookup replica.
type ReplicaConfig struct {
	// CacheSize bounds the reputations held in memory.
	CacheSize int
	// GuardRate is the guard's false-positive rate.
	GuardRate float64
	// Poll is how often the replica tails the reputation log.
	Poll time.Duration
	Now  func() time.Time
}

// DefaultReplicaConfig caches 100,000 reputations and polls twice a second.
func DefaultReplicaConfig() ReplicaConfig {
	return ReplicaConfig{CacheSize: 100_000, GuardRate: 0.01, Poll: 500 * time.Millisecond, Now: time.Now}
}

// Replica answers lookups for a stateless API replica that does not hold
// the engine: when the reputations of all labelled numbers do not fit in
// memory, a bounded cache holds the hot ones, storage the rest, and a Guard
// of every labelled number keeps lookups of unknown numbers (most calls)
// away from storage. It tails the writer's reputation log to learn new
// numbers and fresh reputations.
type Replica struct {
	st  *Store
	cfg ReplicaConfig

	mu    sync.Mutex
	guard *Guard
	cache map[string]*list.Element
	lru   *list.List // front: most recent; values are Result
	since time.Time  // tail position
}

// MaxReplicaLag is how far a replica may fall behind the reputation log
// before it rebuilds its guard from storage; writers keep log entries at
// least twice as long.
const MaxReplicaLag = 30 * time.Minute

// logSkew is re-read behind the tail position to cover appends that were
// stamped before, but committed after, the previous read.
const logSkew = 5 * time.Second

// OpenReplica builds the guard from every stored key and starts the tail
// at now.
func OpenReplica(ctx context.Context, st *Store, cfg ReplicaConfig) (*Replica, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Replica{st: st, cfg: cfg, cache: map[string]*list.Element{}, lru: list.New()}
	start := cfg.Now()
	g, err := r.buildGuard(ctx)
	if err != nil {
		return nil, err
	}
	r.guard, r.since = g, start
	return r, nil
}

// buildGuard reads every stored key into a new guard with room to grow.
func (r *Replica) buildGuard(ctx context.Context) (*Guard, error) {
	var keys []string
	if err := r.st.EachKey(ctx, func(k string) { keys = append(keys, k) }); err != nil {
		return nil, err
	}
	g := NewGuard(uint(2*len(keys)), r.cfg.GuardRate)
	for _, k := range keys {
		g.Add(k)
	}
	return g, nil
}

// CatchUp applies the reputation log since the last call: new numbers
// enter the guard, cached reputations are replaced. A guard past its
// capacity is rebuilt from storage, larger.
func (r *Replica) CatchUp(ctx context.Context) error {
	r.mu.Lock()
	since := r.since
	r.mu.Unlock()
	now := r.cfg.Now()
	if now.Sub(since) > MaxReplicaLag {
		// The log may have been trimmed past us: start over from storage.
		g, err := r.buildGuard(ctx)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.guard, r.since = g, now
		clear(r.cache)
		r.lru.Init()
		r.mu.Unlock()
		return nil
	}
	es, err := r.st.LogSince(ctx, since.Add(-logSkew))
	if err != nil {
		return err
	}
	r.mu.Lock()
	for _, e := range es {
		r.guard.Add(e.Result.Number.Key)
		if el := r.cache[e.Result.Number.Key]; el != nil {
			el.Value = e.Result
		}
	}
	r.since = now
	full := r.guard.Full()
	r.mu.Unlock()
	if full {
		g, err := r.buildGuard(ctx)
		if err != nil {
			return err
		}
		r.mu.Lock()
		// Keys logged while the new guard was read are re-added by the
		// next CatchUp, which re-reads logSkew behind.
		r.guard, r.since = g, now
		r.mu.Unlock()
	}
	return nil
}

// Run tails the log until ctx ends.
func (r *Replica) Run(ctx context.Context, log *slog.Logger) {
	labels.Every(ctx, r.cfg.Poll, func(ctx context.Context) {
		if err := r.CatchUp(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reputation log tail failed", "err", err)
		}
	})
}

// Reputation returns the reputation of n: unknown without a storage read
// when the guard has never seen it, else from the cache or storage.
func (r *Replica) Reputation(ctx context.Context, n labels.Number) (Result, error) {
	unknown := finish(Result{Verdict: VerdictUnknown, Categories: map[string]int{}, Evidence: map[string]float64{}, Signals: []string{}}, n)
	r.mu.Lock()
	if !r.guard.MightContain(n.Key) {
		r.mu.Unlock()
		return unknown, nil
	}
	if el := r.cache[n.Key]; el != nil {
		r.lru.MoveToFront(el)
		res := el.Value.(Result)
		r.mu.Unlock()
		return finish(res, n), nil
	}
	r.mu.Unlock()
	res, ok, err := r.st.Get(ctx, n.Key)
	if err != nil {
		return Result{}, labels.Errorf(labels.EUnavailable, "reputation storage is unavailable; retry later")
	}
	if !ok {
		return unknown, nil // a guard false positive, or a cleared number
	}
	r.mu.Lock()
	if el := r.cache[n.Key]; el == nil {
		r.cache[n.Key] = r.lru.PushFront(res)
		for r.lru.Len() > r.cfg.CacheSize {
			old := r.lru.Back()
			r.lru.Remove(old)
			delete(r.cache, old.Value.(Result).Number.Key)
		}
	}
	r.mu.Unlock()
	return finish(res, n), nil
}

// Explanation is not available on a lookup replica.
func (r *Replica) Explanation(context.Context, labels.Number, int) (Explanation, error) {
	return Explanation{}, labels.Errorf(labels.EUnavailable, "explanations are served by writer replicas")
}

// Reputation is Lookup in the form API replicas share.
func (e *Engine) Reputation(_ context.Context, n labels.Number) (Result, error) {
	return e.Lookup(n), nil
}

// Explanation is Explain in the form API replicas share.
func (e *Engine) Explanation(_ context.Context, n labels.Number, top int) (Explanation, error) {
	return e.Explain(n, top), nil
}
