package reputation

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callrep/callrep/labels"
)

// Config tunes the engine. DefaultConfig documents the defaults.
type Config struct {
	// HalfLife is how fast evidence of each risk class decays.
	HalfLife map[labels.Risk]time.Duration
	// MinReporters is how many distinct trusted reporters must agree
	// before a spam or fraud verdict is public.
	MinReporters int
	// MinGoodReporters is how many distinct trusted reporters a benign or
	// safe verdict needs: one account alone must not whitewash a number
	// (its owner's, say). A moderator's label counts as a quorum for
	// either.
	MinGoodReporters int
	// TrustedWeight is the current (decayed) weight from which a label
	// counts as one trusted reporter.
	TrustedWeight float64
	// MinHarmBound is the lower confidence bound on the harmful share of
	// the evidence that a spam or fraud verdict needs.
	MinHarmBound float64
	// SourceTrust is the weight of institutional sources (imports) by
	// source; ImportTrust applies to imports not listed. Imports have no
	// ramp and are not subject to burst caps.
	SourceTrust map[labels.Source]float64
	ImportTrust float64
	// ModeratorWeight is the weight of a moderator's label.
	ModeratorWeight float64
	// RampFloor and Ramp: an app account's labels weigh RampFloor on its
	// first day, rising linearly to full weight after Ramp.
	RampFloor float64
	Ramp      time.Duration
	// Burst detection: app labels on one number within BurstWindow from
	// accounts younger than NewAccount, from one network prefix, or far
	// above the number's usual rate are capped to BurstCap of their weight
	// and the number is flagged for moderation.
	BurstWindow     time.Duration
	NewAccount      time.Duration
	BurstNewAccount int // new-account labels in the window
	BurstPrefix     int // labels from one prefix in the window
	BurstRate       int // labels in the window, when far above the usual rate
	BurstCap        float64
	// Dormancy after which a number counts as possibly reassigned: a
	// contrary label after such a pause starts its evidence afresh.
	Dormancy time.Duration
	// Range signals: a number's block (the number without its last
	// RangeDigits digits) with at least RangeNumbers other reported numbers
	// and RangeEvidence harmful evidence raises the prior.
	RangeDigits   int
	RangeNumbers  int
	RangeEvidence float64
	// Now is the clock.
	Now func() time.Time
	// Keys interns number keys; share the labels service's
	// (labels.Options.Keys) so that each number is held once. A new one
	// if nil.
	Keys *labels.Keys
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	day := 24 * time.Hour
	return Config{
		HalfLife: map[labels.Risk]time.Duration{
			labels.RiskDangerous: 90 * day, labels.RiskNuisance: 30 * day,
			labels.RiskBenign: 90 * day, labels.RiskSafe: 90 * day,
		},
		MinReporters:     3,
		MinGoodReporters: 2,
		TrustedWeight:    0.5,
		MinHarmBound:     0.3,
		SourceTrust:      map[labels.Source]float64{labels.ImportSource("ftc"): 1},
		ImportTrust:      0.8,
		ModeratorWeight:  10,
		RampFloor:        0.1,
		Ramp:             7 * day,
		BurstWindow:      time.Hour,
		NewAccount:       day,
		BurstNewAccount:  5,
		BurstPrefix:      3,
		BurstRate:        20,
		BurstCap:         0.1,
		Dormancy:         180 * day,
		RangeDigits:      2,
		RangeNumbers:     3,
		RangeEvidence:    3,
		Now:              time.Now,
	}
}

// The signals a lookup may carry.
const (
	SignalOneRing            = "one_ring"
	SignalShortCall          = "short_call"
	SignalCallBombing        = "call_bombing"
	SignalMassCalling        = "mass_calling"
	SignalStirFailed         = "stir_failed"
	SignalRobocall           = "robocall"
	SignalRange              = "range"
	SignalPossiblyReassigned = "possibly_reassigned"
)

// callSignals are the signals read from one label's call context, in the
// order of their bits.
var callSignals = []string{SignalOneRing, SignalShortCall, SignalCallBombing, SignalStirFailed, SignalRobocall}

// Flag reasons for moderation.
const (
	FlagBurstNewAccounts = "burst_new_accounts"
	FlagBurstPrefix      = "burst_one_prefix"
	FlagBurstRate        = "burst_rate"
)

// epoch anchors the decay accumulators: evidence is kept as
// Σ w·2^((t−epoch)/h), so adding, removing and reading are O(1) with no
// per-update decay pass, for centuries before the exponent nears overflow.
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

var epochMs = epoch.UnixMilli()

// contrib is one live label's share in its number's evidence: 24 bytes,
// no pointers. What a label's weight was made of (trust, ramp, the cap)
// is recomputed from these when asked (Explain, Rescore).
type contrib struct {
	reporter uint64  // labels.ReporterKey
	at       int64   // the label's time, Unix ms
	weight   float32 // at the label's time, before decay: trust × ramp × cap
	cat      uint8   // index in Engine.cats
	src      uint8   // index in Engine.srcs
	sig      labels.CallSignal
	bits     uint8 // bitActive, bitNewAcct, and the capping rule << capShift
}

const (
	bitActive  = 1 << 0 // false once a reassignment discarded it
	bitNewAcct = 1 << 1
	capShift   = 2
)

// capFlags are the burst rules by the index a contrib keeps.
var capFlags = [...]string{"", FlagBurstNewAccounts, FlagBurstPrefix, FlagBurstRate}

func (c *contrib) active() bool   { return c.bits&bitActive != 0 }
func (c *contrib) capped() string { return capFlags[c.bits>>capShift&3] }

// numState is everything the engine keeps about one number: 48 bytes and
// its contributions; what few numbers need is behind ext.
type numState struct {
	contribs []contrib // sorted by reporter
	ext      *numExt
	first    int32 // seconds since epoch
	last     int32
	valid    bool
	scoped   bool
}

// secs converts Unix ms to numState's seconds since epoch.
func secs(ms int64) int32 {
	return int32(min(max((ms-epochMs)/1000, math.MinInt32), math.MaxInt32))
}

// unixMs converts seconds since epoch back to Unix ms.
func unixMs(s int32) int64 { return epochMs + int64(s)*1000 }

// numExt holds what only numbers with app labels or many labels need.
type numExt struct {
	// ev holds Σ w·2^((t−epoch)/h) per category for numbers with more than
	// sumsFrom contributions; smaller ones are summed when judged.
	ev      []float64
	recent  []recentLabel
	flags   map[string]time.Time
	massAt  time.Time
	resetAt time.Time // when a reassignment discarded old evidence
	// cache holds the last result of a number with running sums, whose
	// judgement costs O(labels): the numbers most reported are the ones
	// calling most people, so most looked up. Any change drops it.
	cache atomic.Pointer[cachedResult]
}

// cachedResult is a result and until when it may be served: decay moves
// slowly.
type cachedResult struct {
	res   Result
	until time.Time
}

// cacheFor is how long a cached result is reused.
const cacheFor = time.Minute

// touch drops st's cached result after a change.
func (st *numState) touch() {
	if st.ext != nil {
		st.ext.cache.Store(nil)
	}
}

// sumsFrom is the contribution count above which a number keeps running
// sums rather than summing its contributions on every judgement.
const sumsFrom = 32

// maxRecent bounds the labels a number remembers for burst detection,
// well above every burst threshold.
const maxRecent = 128

// recentLabel feeds burst and mass-calling detection.
type recentLabel struct {
	at      int64
	prefix  uint32
	newAcct bool
	call    bool
}

// rangeState sums the harmful evidence of a block of numbers.
type rangeState struct {
	harm    float64 // Σ w·2^((t−epoch)/h_nuisance)
	numbers int32   // numbers of the block with active harmful evidence
}

// Engine keeps the reputation of every labelled number in memory. It is a
// labels.Observer: each label change costs O(1) for a number with few
// labels (plus burst bookkeeping bounded by the window), and lookups read
// memory only. Numbers are held by the interned id of their key, and
// reporters by labels.ReporterKey, so a national list costs integers.
type Engine struct {
	cfg   Config
	keys  *labels.Keys
	trust atomic.Pointer[Trust]
	dec   atomic.Pointer[decider] // trust's Decide over cats, built when first needed
	scale atomic.Pointer[float64] // trust weight that counts as 1

	mu        sync.RWMutex
	nums      []numState            // by key id
	count     int                   // numbers with live labels
	ranges    map[uint64]rangeState // blocks with RangeNumbers harmful numbers
	blocks    []uint64              // bitmap of blocks that had a harmful number
	firstSeen map[uint64]int64      // app reporter → first label, Unix ms

	// Categories and sources, interned; categories beyond the taxonomy
	// come from crowd datasets.
	cats    []string
	catIdx  map[string]uint8
	catRisk []labels.Risk
	catHalf []float64 // half-life in ms
	srcs    []labels.Source
	srcIdx  map[labels.Source]uint8

	// overrides are moderation's decisions by key id (see Override).
	overrides map[uint32]*Override
}

var _ labels.Observer = (*Engine)(nil)

// NewEngine returns an empty engine.
func NewEngine(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Keys == nil {
		cfg.Keys = labels.NewKeys()
	}
	e := &Engine{
		cfg: cfg, keys: cfg.Keys,
		ranges: map[uint64]rangeState{}, firstSeen: map[uint64]int64{}, overrides: map[uint32]*Override{},
		catIdx: map[string]uint8{}, srcIdx: map[labels.Source]uint8{},
	}
	for _, c := range labels.Categories() {
		e.catIndex(c.ID)
	}
	return e
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Trust returns the reporter trust in use; nil before the first estimate.
func (e *Engine) Trust() *Trust { return e.trust.Load() }

// halfLife returns the decay half-life of a category's risk class.
func (e *Engine) halfLife(risk labels.Risk) time.Duration {
	if h, ok := e.cfg.HalfLife[risk]; ok && h > 0 {
		return h
	}
	return e.cfg.HalfLife[labels.RiskNuisance]
}

// growth is 2^((t−epoch)/h) for t in Unix ms and h in ms: a weight at t
// stored as w·growth(t) reads back at now as that times 1/growth(now).
func growth(t int64, h float64) float64 {
	return math.Exp2(float64(t-epochMs) / h)
}

// decay is 2^((then−now)/h): what a weight made at then is worth at now.
func decay(then, now int64, h float64) float64 {
	return math.Exp2(float64(then-now) / h)
}

// riskOf returns the risk class of a category; classes outside the
// taxonomy (crowd datasets) count as nuisance.
func riskOf(category string) labels.Risk {
	if r, ok := labels.RiskOf(category); ok {
		return r
	}
	return labels.RiskNuisance
}

// catIndex interns a category; e.mu is held for writing, or the engine
// is not yet shared. A 256th category (only crowd data could have one)
// shares the last index.
func (e *Engine) catIndex(c string) uint8 {
	if i, ok := e.catIdx[c]; ok {
		return i
	}
	if len(e.cats) == 255 {
		return 254
	}
	i := uint8(len(e.cats))
	e.cats = append(e.cats, c)
	e.catIdx[c] = i
	e.catRisk = append(e.catRisk, riskOf(c))
	e.catHalf = append(e.catHalf, float64(e.halfLife(riskOf(c)).Milliseconds()))
	return i
}

func (e *Engine) srcIndex(s labels.Source) uint8 {
	if i, ok := e.srcIdx[s]; ok {
		return i
	}
	if len(e.srcs) == 255 {
		return 254
	}
	i := uint8(len(e.srcs))
	e.srcs = append(e.srcs, s)
	e.srcIdx[s] = i
	return i
}

// reporterOf is l's reporter key, for labels built without one.
func reporterOf(l *labels.Label) uint64 {
	if l.ReporterKey != 0 {
		return l.ReporterKey
	}
	return labels.ReporterKey(l.Reporter)
}

func prefixOf(l *labels.Label) uint32 {
	if l.PrefixKey != 0 || l.IPPrefix == "" {
		return l.PrefixKey
	}
	return labels.PrefixKey(l.IPPrefix)
}

func signalsOf(l *labels.Label) labels.CallSignal {
	if l.Call != nil {
		return l.Call.Signals()
	}
	return l.CallSignals
}

// find returns the index of reporter's contribution, or where it goes.
func (st *numState) find(reporter uint64) (int, bool) {
	return slices.BinarySearchFunc(st.contribs, reporter, func(c contrib, k uint64) int {
		switch {
		case c.reporter < k:
			return -1
		case c.reporter > k:
			return 1
		}
		return 0
	})
}

// LabelChanged applies a label change.
func (e *Engine) LabelChanged(old, cur *labels.Label) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if old != nil {
		e.removeLocked(old)
	}
	if cur != nil {
		e.addLocked(cur)
	}
}

// state returns the state of key, nil when it has no live label; e.mu is
// held.
func (e *Engine) state(key string) (uint32, *numState) {
	id, ok := e.keys.Lookup(key)
	if !ok || int(id) >= len(e.nums) || len(e.nums[id].contribs) == 0 {
		return 0, nil
	}
	return id, &e.nums[id]
}

func (e *Engine) removeLocked(l *labels.Label) {
	_, st := e.state(l.Key)
	if st == nil {
		return
	}
	i, ok := st.find(reporterOf(l))
	if !ok || st.contribs[i].at != l.CreatedAt.UnixMilli() {
		return // not applied
	}
	e.removeAt(l.Key, st, i)
}

// removeAt drops contribution i of key's state.
func (e *Engine) removeAt(key string, st *numState, i int) {
	st.touch()
	e.unapply(key, st, &st.contribs[i])
	st.contribs = slices.Delete(st.contribs, i, i+1)
	if len(st.contribs) == 0 {
		*st = numState{}
		e.count--
		return
	}
	if st.ext != nil && st.ext.ev != nil && len(st.contribs) <= sumsFrom/2 {
		st.ext.ev = nil
	}
}

// harmful reports whether a risk class counts against the caller.
func harmful(r labels.Risk) bool { return r == labels.RiskDangerous || r == labels.RiskNuisance }

// activeHarm reports whether st has an active harmful contribution.
func (e *Engine) activeHarm(st *numState) bool { return e.activeHarmExcept(st, -1) }

// unapply subtracts an active contribution from the sums.
func (e *Engine) unapply(key string, st *numState, c *contrib) {
	if !c.active() {
		return
	}
	c.bits &^= bitActive
	w := float64(c.weight)
	if st.ext != nil && st.ext.ev != nil {
		g := growth(c.at, e.catHalf[c.cat])
		st.ext.ev[c.cat] -= w * g
		if st.ext.ev[c.cat] <= 1e-9*g {
			st.ext.ev[c.cat] = 0
		}
	}
	if rk, ok := e.rangeKey(key); ok && harmful(e.catRisk[c.cat]) {
		if rs, ok := e.ranges[rk]; ok {
			rs.harm = math.Max(0, rs.harm-w*growth(c.at, e.nuisanceHalf()))
			if !e.activeHarm(st) {
				rs.numbers--
			}
			if int(rs.numbers) < e.cfg.RangeNumbers {
				delete(e.ranges, rk)
			} else {
				e.ranges[rk] = rs
			}
		}
	}
}

func (e *Engine) nuisanceHalf() float64 {
	return float64(e.halfLife(labels.RiskNuisance).Milliseconds())
}

// grow makes room for id.
func (e *Engine) grow(id uint32) {
	if int(id) >= len(e.nums) {
		e.nums = append(e.nums, make([]numState, int(id)+1-len(e.nums))...)
	}
}

func (e *Engine) addLocked(l *labels.Label) {
	id := e.keys.Intern(l.Key)
	e.grow(id)
	st := &e.nums[id]
	rk := reporterOf(l)
	at := l.CreatedAt.UnixMilli()
	firstAt := l.FirstAt
	if firstAt.IsZero() {
		firstAt = l.CreatedAt
	}
	if len(st.contribs) > 0 {
		if i, ok := st.find(rk); ok {
			if st.contribs[i].at == at {
				return // already applied
			}
			e.removeAt(l.Key, st, i)
		}
	}
	if len(st.contribs) == 0 {
		*st = numState{first: secs(firstAt.UnixMilli()), last: secs(at), valid: l.Valid, scoped: !strings.HasPrefix(l.Key, "+")}
		e.count++
	}
	c := contrib{reporter: rk, at: at, cat: e.catIndex(l.Category), src: e.srcIndex(l.Source), sig: signalsOf(l), bits: bitActive}
	if len(e.overrides) > 0 && e.overrides[id].clears(l.Source, at) {
		c.bits &^= bitActive // a label from before a clearing, replayed
	}
	w := e.baseWeight(rk, l.Source, l.Category)
	if l.Source == labels.SourceApp {
		first, seen := e.firstSeen[rk]
		if !seen || firstAt.UnixMilli() < first {
			first = firstAt.UnixMilli()
			e.firstSeen[rk] = first
		}
		if at-first < e.cfg.NewAccount.Milliseconds() {
			c.bits |= bitNewAcct
		}
		w *= e.ramp(at - first)
		if flag := e.burst(st, at, prefixOf(l), c.sig, c.bits&bitNewAcct != 0); flag != 0 {
			c.bits |= flag << capShift
			w *= e.cfg.BurstCap
			if st.ext.flags == nil {
				st.ext.flags = map[string]time.Time{}
			}
			st.ext.flags[capFlags[flag]] = l.CreatedAt
		}
	}
	c.weight = float32(w)
	e.reassign(l.Key, st, &c)
	i, _ := st.find(rk)
	st.contribs = slices.Insert(st.contribs, i, c)
	st.first, st.last = min(st.first, secs(at)), max(st.last, secs(at))
	e.applySums(st, &st.contribs[i])
	st.touch()
	if rk, ok := e.rangeKey(l.Key); ok && c.active() && harmful(e.catRisk[c.cat]) {
		if rs, ok := e.ranges[rk]; ok {
			rs.harm += float64(c.weight) * growth(at, e.nuisanceHalf())
			if !e.activeHarmExcept(st, i) {
				rs.numbers++
			}
			e.ranges[rk] = rs
		} else if !e.activeHarmExcept(st, i) && e.blockSeen(rk) {
			e.countBlock(rk)
		}
	}
}

// blockSeen reports whether a number of rk's block may have turned
// harmful before, and marks it: a bitmap of blocks, so that the first
// harmful number of a block (most of a sparse list) needs no probe. A bit
// is never cleared; a false "seen" costs a probe, nothing else. The bitmap
// grows with the numbers.
func (e *Engine) blockSeen(rk uint64) bool {
	if want := max(1<<12, nextPow2(e.count)/4); len(e.blocks) < want {
		e.blocks = make([]uint64, want) // 16 bits a number: ≤ 6% false seen
		for id := range e.nums {
			if st := &e.nums[id]; e.activeHarm(st) {
				if key := e.keys.Key(uint32(id)); key != "" {
					if b, ok := e.rangeKey(key); ok {
						e.markBlock(b)
					}
				}
			}
		}
	}
	return e.markBlock(rk)
}

func (e *Engine) markBlock(rk uint64) bool {
	h := (rk * 0x9e3779b97f4a7c15) >> 20
	w, bit := h/64%uint64(len(e.blocks)), uint64(1)<<(h%64)
	seen := e.blocks[w]&bit != 0
	e.blocks[w] |= bit
	return seen
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// countBlock starts the range state of key's block when it now has
// RangeNumbers numbers with harmful evidence. Blocks with fewer have
// none, which keeps a sparse national list from costing a map entry per
// number; counting probes the block's 10^RangeDigits numbers, and runs
// only when a number of a block without state turns harmful.
func (e *Engine) countBlock(rk uint64) {
	if e.cfg.RangeDigits > 3 {
		return
	}
	span := uint64(1)
	for range e.cfg.RangeDigits {
		span *= 10
	}
	base := (rk &^ (0x1f << 58)) * span
	var rs rangeState
	h := e.nuisanceHalf()
	for j := range span {
		id, ok := e.keys.LookupE164(base + j)
		if !ok || int(id) >= len(e.nums) {
			continue
		}
		st := &e.nums[id]
		counted := false
		for i := range st.contribs {
			if c := &st.contribs[i]; c.active() && harmful(e.catRisk[c.cat]) {
				rs.harm += float64(c.weight) * growth(c.at, h)
				counted = true
			}
		}
		if counted {
			rs.numbers++
		}
	}
	if int(rs.numbers) >= e.cfg.RangeNumbers {
		e.ranges[rk] = rs
	}
}

// activeHarmExcept reports whether st has an active harmful contribution
// other than the i-th.
func (e *Engine) activeHarmExcept(st *numState, i int) bool {
	for j := range st.contribs {
		if c := &st.contribs[j]; j != i && c.active() && harmful(e.catRisk[c.cat]) {
			return true
		}
	}
	return false
}

// applySums adds an active contribution to the running sums, starting
// them when the number grows past sumsFrom.
func (e *Engine) applySums(st *numState, c *contrib) {
	if len(st.contribs) <= sumsFrom {
		if st.ext != nil {
			st.ext.ev = nil
		}
		return
	}
	if st.ext == nil {
		st.ext = &numExt{}
	}
	if st.ext.ev == nil {
		st.ext.ev = make([]float64, len(e.cats))
		for i := range st.contribs {
			if x := &st.contribs[i]; x.active() {
				st.ext.ev[x.cat] += float64(x.weight) * growth(x.at, e.catHalf[x.cat])
			}
		}
		return
	}
	if int(c.cat) >= len(st.ext.ev) {
		st.ext.ev = append(st.ext.ev, make([]float64, len(e.cats)-len(st.ext.ev))...)
	}
	if c.active() {
		st.ext.ev[c.cat] += float64(c.weight) * growth(c.at, e.catHalf[c.cat])
	}
}

// ramp is an app account's weight factor at the given age in ms.
func (e *Engine) ramp(age int64) float64 {
	if e.cfg.Ramp <= 0 {
		return 1
	}
	return e.cfg.RampFloor + (1-e.cfg.RampFloor)*math.Min(1, math.Max(0, float64(age)/float64(e.cfg.Ramp.Milliseconds())))
}

// baseWeight is a label's weight from its source and its reporter's
// learned trust, in units of a new app reporter's average weight. One
// scale for all classes keeps the argmax of Trust.Decide intact.
func (e *Engine) baseWeight(reporter uint64, src labels.Source, category string) float64 {
	switch {
	case src == labels.SourceModerator:
		return e.cfg.ModeratorWeight
	case strings.HasPrefix(string(src), "import:"):
		if w, ok := e.cfg.SourceTrust[src]; ok {
			return w
		}
		return e.cfg.ImportTrust
	}
	t, scale := e.trust.Load(), e.scale.Load()
	if t == nil || scale == nil || *scale <= 0 {
		return 1
	}
	return t.Weight(workerName(reporter), category) / *scale
}

// newAppReporter names no real reporter: Trust answers for it with the
// app cohort's pooled trust, the yardstick of weight 1.
const newAppReporter = "\x00new-app-reporter"

// WorkerName is the name under which trust estimates know an app
// reporter: a pseudonymous form of labels.ReporterKey, so that the trust
// of reporters loaded from a snapshot (which keeps no reporter ids) can
// be found.
func WorkerName(reporter string) string { return workerName(labels.ReporterKey(reporter)) }

func workerName(key uint64) string { return "r-" + strconv.FormatUint(key, 16) }

// callSignalBits maps the labels' call signals to the engine's signals.
var callSignalBits = [...]labels.CallSignal{labels.CallOneRing, labels.CallShort, labels.CallBombing, labels.CallStirFailed, labels.CallRobocall}

// burst records an app label in the number's recent window and returns
// the index in capFlags of the rule that caps it, or 0.
func (e *Engine) burst(st *numState, at int64, prefix uint32, sig labels.CallSignal, newAcct bool) uint8 {
	if st.ext == nil {
		st.ext = &numExt{}
	}
	x := st.ext
	cut := at - e.cfg.BurstWindow.Milliseconds()
	keep := x.recent[:0]
	for _, r := range x.recent {
		if r.at > cut {
			keep = append(keep, r)
		}
	}
	call := sig&labels.CallPresent != 0
	x.recent = append(keep, recentLabel{at: at, prefix: prefix, newAcct: newAcct, call: call})
	// Every rule fires on a few dozen labels; remembering more would only
	// make a number under a flood cost more per label.
	if n := len(x.recent); n > maxRecent {
		x.recent = append(x.recent[:0], x.recent[n-maxRecent:]...)
	}
	var newAccts, samePrefix, calls int
	for _, r := range x.recent {
		if r.newAcct {
			newAccts++
		}
		if r.prefix != 0 && r.prefix == prefix {
			samePrefix++
		}
		if r.call {
			calls++
		}
	}
	if calls >= 5 {
		x.massAt = time.UnixMilli(at).UTC()
	}
	switch {
	case newAcct && newAccts >= e.cfg.BurstNewAccount:
		return 1
	case prefix != 0 && samePrefix >= e.cfg.BurstPrefix:
		return 2
	case len(x.recent) >= e.cfg.BurstRate && e.usualPerWindow(st)*10 < float64(len(x.recent)):
		return 3
	}
	return 0
}

// usualPerWindow is the number's average label rate per burst window
// before the current window.
func (e *Engine) usualPerWindow(st *numState) float64 {
	window := e.cfg.BurstWindow.Milliseconds()
	span := unixMs(st.last) - unixMs(st.first) - window
	if span <= window {
		return 0
	}
	before := len(st.contribs) - len(st.ext.recent)
	return float64(max(before, 0)) * float64(window) / float64(span)
}

// reassign discards a dormant number's old evidence when a contrary label
// arrives after the pause.
func (e *Engine) reassign(key string, st *numState, c *contrib) {
	if len(st.contribs) == 0 || c.at-unixMs(st.last) < e.cfg.Dormancy.Milliseconds() {
		return
	}
	prev := e.winningRisk(st, unixMs(st.last))
	if prev == e.catRisk[c.cat] || (harmful(prev) && harmful(e.catRisk[c.cat])) {
		return
	}
	for i := range st.contribs {
		e.unapply(key, st, &st.contribs[i])
	}
	if st.ext == nil {
		st.ext = &numExt{}
	}
	st.ext.resetAt = time.UnixMilli(c.at).UTC()
}

// rangeKey is the block of a full number, as an integer: the digits
// without the last RangeDigits, tagged with their count so that blocks of
// different lengths differ. Scoped and short numbers have none.
func (e *Engine) rangeKey(key string) (uint64, bool) {
	d := e.cfg.RangeDigits
	digits, ok := labels.E164Digits(key)
	if d <= 0 || !ok || len(key) < 9 {
		return 0, false
	}
	for range d {
		digits /= 10
	}
	return digits | uint64(len(key)-1-d)<<58, true
}

// evidence returns the decayed evidence per category index at now (ms)
// in buf, which it may grow.
func (e *Engine) evidence(st *numState, now int64, buf []float64) []float64 {
	buf = append(buf[:0], make([]float64, len(e.cats))...)
	if st.ext != nil && st.ext.ev != nil {
		for c, s := range st.ext.ev {
			if s != 0 {
				buf[c] = s / growth(now, e.catHalf[c])
			}
		}
	} else {
		for i := range st.contribs {
			if c := &st.contribs[i]; c.active() {
				buf[c.cat] += float64(c.weight) * decay(c.at, now, e.catHalf[c.cat])
			}
		}
	}
	for c, v := range buf {
		if v <= 1e-6 {
			buf[c] = 0
		}
	}
	return buf
}

// winningRisk is the risk class with the most evidence (ties towards the
// more severe).
func (e *Engine) winningRisk(st *numState, now int64) labels.Risk {
	var byRisk [len(risks)]float64
	var buf [16]float64
	for c, v := range e.evidence(st, now, buf[:0]) {
		byRisk[riskRank(e.catRisk[c])] += v
	}
	win := 0
	for i := range byRisk {
		if byRisk[i] > byRisk[win] {
			win = i
		}
	}
	if byRisk[win] == 0 {
		return ""
	}
	return risks[win]
}

// Len returns how many numbers have at least one live label.
func (e *Engine) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.count
}

// Lookup returns the reputation of n from memory.
func (e *Engine) Lookup(n labels.Number) Result {
	now := e.cfg.Now()
	e.mu.RLock()
	_, st := e.state(n.Key)
	var res Result
	if st != nil {
		res = e.judgeCached(n.Key, st, now)
	} else {
		res = e.unlabelled(n, now)
	}
	res = moderated(res, e.overrideLocked(n.Key), now)
	e.mu.RUnlock()
	return finish(res, n)
}

// unlabelled is the result of a number nobody labelled: only signals
// speak, and they raise the score a little, never to a verdict; e.mu is
// held.
func (e *Engine) unlabelled(n labels.Number, now time.Time) Result {
	res := Result{Verdict: VerdictUnknown, Categories: noCategories, Evidence: noEvidence}
	boost := 0.0
	if res.Signals = e.rangeSignal(n.Key, nil, false, now); len(res.Signals) > 0 {
		boost++
	}
	if !n.Valid && !n.Scoped {
		boost += 0.5
	}
	if boost > 0 {
		res.Score = int(math.Round(100 * wilsonLower(boost, boost+2)))
	}
	return res
}

// noCategories and noEvidence are the empty maps of every unlabelled
// number's result, shared: results are read, never written.
var (
	noCategories = map[string]int{}
	noEvidence   = map[string]float64{}
)

// judgeCached is judge, through the cache of numbers with running sums;
// e.mu is held for reading. Cached results share their maps: callers
// only read them.
func (e *Engine) judgeCached(key string, st *numState, now time.Time) Result {
	x := st.ext
	if x == nil || x.ev == nil {
		return e.judge(key, st, now)
	}
	if c := x.cache.Load(); c != nil && now.Before(c.until) && !now.Before(c.until.Add(-cacheFor)) {
		res := c.res
		res.Signals = slices.Clone(res.Signals)
		return res
	}
	res := e.judge(key, st, now)
	c := &cachedResult{res: res, until: now.Add(cacheFor)}
	c.res.Signals = slices.Clone(res.Signals)
	x.cache.Store(c)
	return res
}

// decide is t.Decide of the evidence ev (by category index) times scale;
// e.mu is held for reading.
func (e *Engine) decide(t *Trust, ev []float64, scale float64) string {
	d := e.dec.Load()
	if d == nil || d.t != t || d.ncats != len(e.cats) {
		d = newDecider(t, e.cats)
		e.dec.Store(d)
	}
	if !d.inexact {
		return d.decide(ev, scale)
	}
	raw := make(map[string]float64, len(ev))
	for c, v := range ev {
		if v != 0 {
			raw[e.cats[c]] = v * scale
		}
	}
	return t.Decide(raw)
}

// finish adds what depends on the caller's parsed number.
func finish(res Result, n labels.Number) Result {
	res.Number = n
	if !n.Valid && !n.Scoped {
		res.Signals = append(res.Signals, SignalInvalidCallerID)
	}
	if res.Signals == nil {
		res.Signals = []string{}
	}
	sort.Strings(res.Signals)
	return res
}

// rangeSignal appends the range signal when key's block is heavily
// reported by other numbers; own tells whether key itself counts in it.
func (e *Engine) rangeSignal(key string, signals []string, own bool, now time.Time) []string {
	rk, ok := e.rangeKey(key)
	if !ok {
		return signals
	}
	rs, ok := e.ranges[rk]
	if !ok {
		return signals
	}
	others := int(rs.numbers)
	if own {
		others--
	}
	harm := rs.harm / growth(now.UnixMilli(), e.nuisanceHalf())
	if others >= e.cfg.RangeNumbers && harm >= e.cfg.RangeEvidence {
		signals = append(signals, SignalRange)
	}
	return signals
}

// judge computes a number's result; e.mu is held for reading.
func (e *Engine) judge(key string, st *numState, now time.Time) Result {
	nowMs := now.UnixMilli()
	res := Result{
		Verdict: VerdictUnknown, Reporters: len(st.contribs), Categories: make(map[string]int, 2),
		FirstReportedAt: time.UnixMilli(unixMs(st.first)).UTC(), LastReportedAt: time.UnixMilli(unixMs(st.last)).UTC(),
	}
	var trusted [len(risks)]int
	var sigs [len(callSignalBits)]bool
	for i := range st.contribs {
		c := &st.contribs[i]
		res.Categories[e.cats[c.cat]]++
		if c.active() && float64(c.weight)*decay(c.at, nowMs, e.catHalf[c.cat]) >= e.cfg.TrustedWeight {
			n := 1
			if e.srcs[c.src] == labels.SourceModerator {
				n = max(e.cfg.MinReporters, e.cfg.MinGoodReporters) // a decision is a quorum
			}
			trusted[riskRank(e.catRisk[c.cat])] += n
		}
		for b, bit := range callSignalBits {
			if c.sig&bit != 0 {
				sigs[b] = true
			}
		}
	}
	var buf [16]float64
	ev := e.evidence(st, nowMs, buf[:0])
	res.Evidence = make(map[string]float64, 2)
	var byRisk [len(risks)]float64
	nonzero := 0
	for c, v := range ev {
		if v == 0 {
			continue
		}
		nonzero++
		res.Evidence[e.cats[c]] = math.Round(v*1000) / 1000
		byRisk[riskRank(e.catRisk[c])] += v
	}
	// Signals, and the prior they raise for the nuisance categories.
	prior := 0.5
	for i, on := range sigs {
		if on {
			res.Signals = append(res.Signals, callSignals[i])
			prior += 0.5
		}
	}
	x := st.ext
	if x == nil {
		x = &numExt{}
	}
	if !x.massAt.IsZero() && now.Sub(x.massAt) < 30*24*time.Hour {
		res.Signals = append(res.Signals, SignalMassCalling)
		prior += 0.5
	}
	before := len(res.Signals)
	res.Signals = e.rangeSignal(key, res.Signals, e.activeHarm(st), now)
	if len(res.Signals) > before {
		prior += 1
	}
	if nowMs-unixMs(st.last) >= e.cfg.Dormancy.Milliseconds() || (!x.resetAt.IsZero() && now.Sub(x.resetAt) < 90*24*time.Hour) {
		res.Signals = append(res.Signals, SignalPossiblyReassigned)
	}
	if !st.valid && !st.scoped {
		prior += 0.5
	}

	harm := byRisk[0] + byRisk[1]
	good := byRisk[2] + byRisk[3]
	bound := wilsonLower(harm+prior, harm+good+prior+2)
	res.Score = int(math.Round(100 * bound))
	if nonzero == 0 {
		return res
	}
	if t, scale := e.trust.Load(), e.scale.Load(); t != nil && scale != nil && *scale > 0 {
		res.TopCategory = e.decide(t, ev, *scale)
	}
	if res.TopCategory == "" {
		res.TopCategory = e.topCategory(ev)
	}
	win := 0
	for i := range byRisk {
		if byRisk[i] > byRisk[win] {
			win = i
		}
	}
	total := harm + good
	res.harmQuorum = trusted[0]+trusted[1] >= e.cfg.MinReporters
	switch risks[win] {
	case labels.RiskDangerous, labels.RiskNuisance:
		agree := trusted[0] + trusted[1]
		if agree >= e.cfg.MinReporters && bound >= e.cfg.MinHarmBound {
			res.Verdict = VerdictSpam
			if win == 0 && trusted[0] >= e.cfg.MinReporters {
				res.Verdict = VerdictFraud
			}
		}
	case labels.RiskBenign:
		if byRisk[2] >= e.cfg.TrustedWeight && trusted[2]+trusted[3] >= e.cfg.MinGoodReporters {
			res.Verdict = VerdictBenign
		}
	case labels.RiskSafe:
		if byRisk[3] >= e.cfg.TrustedWeight && trusted[2]+trusted[3] >= e.cfg.MinGoodReporters {
			res.Verdict = VerdictSafe
		}
	}
	if res.Verdict != VerdictUnknown {
		res.Confidence = math.Round(1000*byRisk[win]/(total+2)) / 1000
	}
	return res
}

// topCategory is the category with the most evidence; ties go to the more
// severe risk, then the smaller id.
func (e *Engine) topCategory(ev []float64) string {
	top := -1
	for c, v := range ev {
		if v == 0 {
			continue
		}
		if top < 0 || v > ev[top] || v == ev[top] && (riskRank(e.catRisk[c]) < riskRank(e.catRisk[top]) ||
			riskRank(e.catRisk[c]) == riskRank(e.catRisk[top]) && e.cats[c] < e.cats[top]) {
			top = c
		}
	}
	if top < 0 {
		return ""
	}
	return e.cats[top]
}

// wilsonLower is the lower end of the 95% one-sided Wilson interval for
// the share k/n.
func wilsonLower(k, n float64) float64 {
	if n <= 0 {
		return 0
	}
	const z = 1.6449
	p := k / n
	d := 1 + z*z/n
	c := p + z*z/(2*n)
	m := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n))
	return math.Max(0, math.Min(1, (c-m)/d))
}

// Flag is a number flagged for moderation.
type Flag struct {
	Key     string
	Reasons map[string]time.Time // reason → last time it fired
}

// Flags lists the flagged numbers, by key.
func (e *Engine) Flags() []Flag {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []Flag
	for id := range e.nums {
		st := &e.nums[id]
		if len(st.contribs) > 0 && st.ext != nil && len(st.ext.flags) > 0 {
			out = append(out, Flag{Key: e.keys.Key(uint32(id)), Reasons: maps.Clone(st.ext.flags)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Each calls fn with the current result of every labelled number, and of
// every number with a moderation override, in no particular order. The
// lock is held for one number at a time, so a long walk (building
// filters) never stalls reports or lookups for long.
func (e *Engine) Each(fn func(Result)) {
	for id := uint32(0); ; id++ {
		res, ok, more := e.resultAt(id)
		if !more {
			return
		}
		if ok {
			fn(res)
		}
	}
}

// resultAt returns the reputation of the number with id; ok is false when
// it has no labels and no override, more is false past the last id.
func (e *Engine) resultAt(id uint32) (res Result, ok, more bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if int(id) >= len(e.nums) {
		return Result{}, false, false
	}
	st := &e.nums[id]
	o := e.overrides[id]
	if len(st.contribs) == 0 && o == nil {
		return Result{}, false, true
	}
	key := e.keys.Key(id)
	now := e.cfg.Now()
	if len(st.contribs) == 0 {
		n := numberOfKey(key)
		return finish(moderated(e.unlabelled(n, now), o, now), n), true, true
	}
	n := labels.Number{Key: key, Valid: st.valid, Scoped: st.scoped}
	return finish(moderated(e.judge(key, st, now), o, now), n), true, true
}

// labelled returns the ids of the numbers that have labels or an override
// now, each with bucket(its key).
func (e *Engine) labelled(bucket func(key string) uint32) (ids, buckets []uint32) {
	for from := 0; ; from += rescoreChunk {
		e.mu.RLock()
		if from >= len(e.nums) {
			e.mu.RUnlock()
			return ids, buckets
		}
		for id := from; id < min(from+rescoreChunk, len(e.nums)); id++ {
			if len(e.nums[id].contribs) > 0 || (len(e.overrides) > 0 && e.overrides[uint32(id)] != nil) {
				ids, buckets = append(ids, uint32(id)), append(buckets, bucket(e.keys.Key(uint32(id))))
			}
		}
		e.mu.RUnlock()
	}
}
