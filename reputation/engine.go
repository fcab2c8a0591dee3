package reputation

import (
	"math"
	"sort"
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
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	day := 24 * time.Hour
	return Config{
		HalfLife: map[labels.Risk]time.Duration{
			labels.RiskDangerous: 90 * day, labels.RiskNuisance: 30 * day,
			labels.RiskBenign: 90 * day, labels.RiskSafe: 90 * day,
		},
		MinReporters:    3,
		TrustedWeight:   0.5,
		MinHarmBound:    0.3,
		SourceTrust:     map[labels.Source]float64{labels.ImportSource("ftc"): 1},
		ImportTrust:     0.8,
		ModeratorWeight: 10,
		RampFloor:       0.1,
		Ramp:            7 * day,
		BurstWindow:     time.Hour,
		NewAccount:      day,
		BurstNewAccount: 5,
		BurstPrefix:     5,
		BurstRate:       20,
		BurstCap:        0.1,
		Dormancy:        180 * day,
		RangeDigits:     2,
		RangeNumbers:    3,
		RangeEvidence:   3,
		Now:             time.Now,
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

// contrib is one live label's share in its number's evidence.
type contrib struct {
	reporter string
	category string
	risk     labels.Risk
	source   labels.Source
	at       time.Time
	weight   float64 // at the label's time, before decay
	base     float64 // trust weight before ramp and caps
	capped   string  // burst flag that capped it, if any
	signals  uint8
	active   bool // false once a reassignment discarded it
	reportID string
	newAcct  bool
}

// numberState is everything the engine keeps about one number.
type numberState struct {
	contribs map[string]*contrib // by reporter
	ev       map[string]float64  // category → Σ w·2^((t−epoch)/h)
	first    time.Time
	last     time.Time
	signals  [8]int // live labels carrying each call signal
	recent   []recentLabel
	flags    map[string]time.Time
	massAt   time.Time
	resetAt  time.Time // when a reassignment discarded old evidence
	valid    bool
	scoped   bool
	// cached verdict
	cache      *Result
	cacheUntil time.Time
}

// maxRecent bounds the labels a number remembers for burst detection,
// well above every burst threshold.
const maxRecent = 128

// recentLabel feeds burst and mass-calling detection.
type recentLabel struct {
	at      time.Time
	prefix  string
	newAcct bool
	call    bool
}

// rangeState sums the harmful evidence of a block of numbers.
type rangeState struct {
	harm    float64        // Σ w·2^((t−epoch)/h_nuisance)
	numbers map[string]int // number → live harmful labels
}

// Engine keeps the reputation of every labelled number in memory. It is a
// labels.Observer: each label change costs O(1) (plus burst bookkeeping
// bounded by the window), and lookups read memory only.
type Engine struct {
	cfg   Config
	trust atomic.Pointer[Trust]
	scale atomic.Pointer[float64] // trust weight that counts as 1

	mu        sync.RWMutex
	nums      map[string]*numberState
	ranges    map[string]*rangeState
	firstSeen map[string]time.Time // reporter → first label
	journal   *[]change            // label changes during a rebuild
}

type change struct{ old, cur *labels.Label }

var _ labels.Observer = (*Engine)(nil)

// NewEngine returns an empty engine.
func NewEngine(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Engine{
		cfg:  cfg,
		nums: map[string]*numberState{}, ranges: map[string]*rangeState{}, firstSeen: map[string]time.Time{},
	}
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

// growth is 2^((t−epoch)/h): a weight at t stored as w·growth(t) reads
// back at now as that times 1/growth(now).
func growth(t time.Time, h time.Duration) float64 {
	return math.Exp2(float64(t.Sub(epoch)) / float64(h))
}

// riskOf returns the risk class of a category; classes outside the
// taxonomy (crowd datasets) count as nuisance.
func riskOf(category string) labels.Risk {
	if r, ok := labels.RiskOf(category); ok {
		return r
	}
	return labels.RiskNuisance
}

// LabelChanged applies a label change.
func (e *Engine) LabelChanged(old, cur *labels.Label) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.journal != nil {
		*e.journal = append(*e.journal, change{old, cur})
	}
	e.applyLocked(old, cur)
}

func (e *Engine) applyLocked(old, cur *labels.Label) {
	if old != nil {
		e.removeLocked(old)
	}
	if cur != nil {
		e.addLocked(cur)
	}
}

func (e *Engine) removeLocked(l *labels.Label) {
	st := e.nums[l.Key]
	if st == nil {
		return
	}
	c := st.contribs[l.Reporter]
	if c == nil || c.reportID != l.ReportID {
		return // not applied (idempotent against rebuild journals)
	}
	e.unapply(l.Key, st, c)
	delete(st.contribs, l.Reporter)
	for i := range callSignals {
		if c.signals&(1<<i) != 0 {
			st.signals[i]--
		}
	}
	st.cache = nil
	if len(st.contribs) == 0 {
		delete(e.nums, l.Key)
	}
}

// unapply subtracts an active contribution from the sums.
func (e *Engine) unapply(key string, st *numberState, c *contrib) {
	if !c.active {
		return
	}
	c.active = false
	st.ev[c.category] -= c.weight * growth(c.at, e.halfLife(c.risk))
	if st.ev[c.category] <= 1e-9*growth(c.at, e.halfLife(c.risk)) {
		delete(st.ev, c.category)
	}
	if rk, ok := e.rangeKey(key); ok && (c.risk == labels.RiskDangerous || c.risk == labels.RiskNuisance) {
		if rs := e.ranges[rk]; rs != nil {
			rs.harm = math.Max(0, rs.harm-c.weight*growth(c.at, e.halfLife(labels.RiskNuisance)))
			if rs.numbers[key]--; rs.numbers[key] <= 0 {
				delete(rs.numbers, key)
			}
			if len(rs.numbers) == 0 {
				delete(e.ranges, rk)
			}
		}
	}
}

func (e *Engine) addLocked(l *labels.Label) {
	st := e.nums[l.Key]
	if st == nil {
		st = &numberState{contribs: map[string]*contrib{}, ev: map[string]float64{}, first: l.FirstAt, valid: l.Valid,
			scoped: !strings.HasPrefix(l.Key, "+")}
		if st.first.IsZero() {
			st.first = l.CreatedAt
		}
		e.nums[l.Key] = st
	}
	if prev := st.contribs[l.Reporter]; prev != nil {
		if prev.reportID == l.ReportID {
			return // already applied
		}
		e.removeLocked(&labels.Label{Key: l.Key, Reporter: l.Reporter, ReportID: prev.reportID})
		if e.nums[l.Key] != st { // the removal emptied the number
			e.nums[l.Key] = st
		}
	}
	first, seen := e.firstSeen[l.Reporter]
	if !seen || l.FirstAt.Before(first) {
		first = l.FirstAt
		if first.IsZero() {
			first = l.CreatedAt
		}
		e.firstSeen[l.Reporter] = first
	}
	c := &contrib{
		reporter: l.Reporter, category: l.Category, risk: riskOf(l.Category), source: l.Source,
		at: l.CreatedAt, reportID: l.ReportID, active: true,
		signals: callBits(l.Call),
	}
	c.base = e.baseWeight(l.Reporter, l.Source, l.Category)
	c.weight = c.base
	if l.Source == labels.SourceApp {
		age := l.CreatedAt.Sub(first)
		c.newAcct = age < e.cfg.NewAccount
		if e.cfg.Ramp > 0 {
			c.weight *= e.cfg.RampFloor + (1-e.cfg.RampFloor)*math.Min(1, math.Max(0, float64(age)/float64(e.cfg.Ramp)))
		}
		if flag := e.burst(st, l, c); flag != "" {
			c.capped = flag
			c.weight *= e.cfg.BurstCap
			if st.flags == nil {
				st.flags = map[string]time.Time{}
			}
			st.flags[flag] = l.CreatedAt
		}
	}
	e.reassign(l.Key, st, c)
	st.contribs[l.Reporter] = c
	for i := range callSignals {
		if c.signals&(1<<i) != 0 {
			st.signals[i]++
		}
	}
	if l.CreatedAt.Before(st.first) {
		st.first = l.CreatedAt
	}
	if l.CreatedAt.After(st.last) {
		st.last = l.CreatedAt
	}
	st.ev[c.category] += c.weight * growth(c.at, e.halfLife(c.risk))
	if rk, ok := e.rangeKey(l.Key); ok && (c.risk == labels.RiskDangerous || c.risk == labels.RiskNuisance) {
		rs := e.ranges[rk]
		if rs == nil {
			rs = &rangeState{numbers: map[string]int{}}
			e.ranges[rk] = rs
		}
		rs.harm += c.weight * growth(c.at, e.halfLife(labels.RiskNuisance))
		rs.numbers[l.Key]++
	}
	st.cache = nil
}

// baseWeight is a label's weight from its source and its reporter's
// learned trust, in units of a new app reporter's average weight. One
// scale for all classes keeps the argmax of Trust.Decide intact.
func (e *Engine) baseWeight(reporter string, src labels.Source, category string) float64 {
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
	return t.Weight(reporter, category) / *scale
}

// newAppReporter names no real reporter: Trust answers for it with the
// app cohort's pooled trust, the yardstick of weight 1.
const newAppReporter = "\x00new-app-reporter"

// callBits reads the call signals of one label.
func callBits(c *labels.Call) uint8 {
	if c == nil {
		return 0
	}
	var b uint8
	unanswered := c.Answered != nil && !*c.Answered || c.Direction == "missed"
	if c.RingS != nil && *c.RingS < 5 && unanswered {
		b |= 1 << 0
	}
	if c.Answered != nil && *c.Answered && c.DurationS != nil && *c.DurationS < 10 {
		b |= 1 << 1
	}
	if c.RecentCalls != nil && *c.RecentCalls >= 10 {
		b |= 1 << 2
	}
	if c.Attestation == labels.AttestationFailed {
		b |= 1 << 3
	}
	if c.Robocall {
		b |= 1 << 4
	}
	return b
}

// burst records an app label in the number's recent window and returns
// the flag that caps it, or "".
func (e *Engine) burst(st *numberState, l *labels.Label, c *contrib) string {
	cut := l.CreatedAt.Add(-e.cfg.BurstWindow)
	keep := st.recent[:0]
	for _, r := range st.recent {
		if r.at.After(cut) {
			keep = append(keep, r)
		}
	}
	st.recent = append(keep, recentLabel{at: l.CreatedAt, prefix: l.IPPrefix, newAcct: c.newAcct, call: l.Call != nil})
	// Every rule fires on a few dozen labels; remembering more would only
	// make a number under a flood cost more per label.
	if n := len(st.recent); n > maxRecent {
		st.recent = append(st.recent[:0], st.recent[n-maxRecent:]...)
	}
	var newAccts, samePrefix, calls int
	for _, r := range st.recent {
		if r.newAcct {
			newAccts++
		}
		if r.prefix != "" && r.prefix == l.IPPrefix {
			samePrefix++
		}
		if r.call {
			calls++
		}
	}
	if calls >= 5 {
		st.massAt = l.CreatedAt
	}
	switch {
	case c.newAcct && newAccts >= e.cfg.BurstNewAccount:
		return FlagBurstNewAccounts
	case l.IPPrefix != "" && samePrefix >= e.cfg.BurstPrefix:
		return FlagBurstPrefix
	case len(st.recent) >= e.cfg.BurstRate && e.usualPerWindow(st)*10 < float64(len(st.recent)):
		return FlagBurstRate
	}
	return ""
}

// usualPerWindow is the number's average label rate per burst window
// before the current window.
func (e *Engine) usualPerWindow(st *numberState) float64 {
	span := st.last.Sub(st.first) - e.cfg.BurstWindow
	if span <= e.cfg.BurstWindow {
		return 0
	}
	before := len(st.contribs) - len(st.recent)
	return float64(max(before, 0)) * float64(e.cfg.BurstWindow) / float64(span)
}

// reassign discards a dormant number's old evidence when a contrary label
// arrives after the pause.
func (e *Engine) reassign(key string, st *numberState, c *contrib) {
	if st.last.IsZero() || c.at.Sub(st.last) < e.cfg.Dormancy || len(st.contribs) == 0 {
		return
	}
	prev := e.winningRisk(st, st.last)
	if prev == c.risk || (harmful(prev) && harmful(c.risk)) {
		return
	}
	for _, old := range st.contribs {
		e.unapply(key, st, old)
	}
	st.resetAt = c.at
}

func harmful(r labels.Risk) bool { return r == labels.RiskDangerous || r == labels.RiskNuisance }

// rangeKey is the block of a full number; scoped and short numbers have
// none.
func (e *Engine) rangeKey(key string) (string, bool) {
	if e.cfg.RangeDigits <= 0 || !strings.HasPrefix(key, "+") || len(key) < 9 {
		return "", false
	}
	return key[:len(key)-e.cfg.RangeDigits], true
}

// evidenceAt returns the decayed evidence per category at now.
func (e *Engine) evidenceAt(st *numberState, now time.Time) map[string]float64 {
	out := make(map[string]float64, len(st.ev))
	for cat, s := range st.ev {
		v := s / growth(now, e.halfLife(riskOf(cat)))
		if v > 1e-6 {
			out[cat] = v
		}
	}
	return out
}

// winningRisk is the risk class with the most evidence (ties towards the
// more severe).
func (e *Engine) winningRisk(st *numberState, now time.Time) labels.Risk {
	var byRisk [len(risks)]float64
	for cat, v := range e.evidenceAt(st, now) {
		byRisk[riskRank(riskOf(cat))] += v
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
	return len(e.nums)
}

// cacheFor is how long a computed result is reused: decay moves slowly,
// and every label change drops the cache.
const cacheFor = time.Minute

// Lookup returns the reputation of n from memory.
func (e *Engine) Lookup(n labels.Number) Result {
	now := e.cfg.Now()
	e.mu.RLock()
	st := e.nums[n.Key]
	if st != nil && st.cache != nil && now.Before(st.cacheUntil) && !now.Before(st.cacheUntil.Add(-cacheFor)) {
		res := *st.cache
		e.mu.RUnlock()
		return finish(res, n)
	}
	var res Result
	if st != nil {
		res = e.judge(n.Key, st, now)
	} else {
		// Unlabelled: only signals speak, and they raise the score a
		// little, never to a verdict.
		res = Result{Verdict: VerdictUnknown, Categories: map[string]int{}, Evidence: map[string]float64{}, Signals: []string{}}
		boost := 0.0
		if res.Signals = e.rangeSignal(n.Key, res.Signals, now); len(res.Signals) > 0 {
			boost++
		}
		if !n.Valid && !n.Scoped {
			boost += 0.5
		}
		if boost > 0 {
			res.Score = int(math.Round(100 * wilsonLower(boost, boost+2)))
		}
	}
	e.mu.RUnlock()
	if st != nil {
		e.mu.Lock()
		if e.nums[n.Key] == st {
			cp := res
			st.cache, st.cacheUntil = &cp, now.Add(cacheFor)
		}
		e.mu.Unlock()
	}
	return finish(res, n)
}

// finish adds what depends on the caller's parsed number and copies the
// shared parts.
func finish(res Result, n labels.Number) Result {
	res.Number = n
	res.Signals = append([]string(nil), res.Signals...)
	if !n.Valid && !n.Scoped {
		res.Signals = append(res.Signals, SignalInvalidCallerID)
	}
	sort.Strings(res.Signals)
	return res
}

// rangeSignal appends the range signal when key's block is heavily
// reported by other numbers.
func (e *Engine) rangeSignal(key string, signals []string, now time.Time) []string {
	rk, ok := e.rangeKey(key)
	if !ok {
		return signals
	}
	rs := e.ranges[rk]
	if rs == nil {
		return signals
	}
	others := len(rs.numbers)
	if rs.numbers[key] > 0 {
		others--
	}
	harm := rs.harm / growth(now, e.halfLife(labels.RiskNuisance))
	if others >= e.cfg.RangeNumbers && harm >= e.cfg.RangeEvidence {
		signals = append(signals, SignalRange)
	}
	return signals
}

// judge computes a number's result; e.mu is held for reading.
func (e *Engine) judge(key string, st *numberState, now time.Time) Result {
	res := Result{
		Verdict: VerdictUnknown, Reporters: len(st.contribs), Categories: make(map[string]int, len(st.ev)),
		FirstReportedAt: st.first, LastReportedAt: st.last, Signals: []string{},
	}
	var trusted [len(risks)]int
	for _, c := range st.contribs {
		res.Categories[c.category]++
		if c.active && c.weight/growth(now, e.halfLife(c.risk))*growth(c.at, e.halfLife(c.risk)) >= e.cfg.TrustedWeight {
			trusted[riskRank(c.risk)]++
		}
	}
	ev := e.evidenceAt(st, now)
	res.Evidence = make(map[string]float64, len(ev))
	var byRisk [len(risks)]float64
	for cat, v := range ev {
		res.Evidence[cat] = math.Round(v*1000) / 1000
		byRisk[riskRank(riskOf(cat))] += v
	}
	// Signals, and the prior they raise for the nuisance categories.
	prior := 0.5
	for i, name := range callSignals {
		if st.signals[i] > 0 {
			res.Signals = append(res.Signals, name)
			prior += 0.5
		}
	}
	if !st.massAt.IsZero() && now.Sub(st.massAt) < 30*24*time.Hour {
		res.Signals = append(res.Signals, SignalMassCalling)
		prior += 0.5
	}
	before := len(res.Signals)
	res.Signals = e.rangeSignal(key, res.Signals, now)
	if len(res.Signals) > before {
		prior += 1
	}
	if now.Sub(st.last) >= e.cfg.Dormancy || (!st.resetAt.IsZero() && now.Sub(st.resetAt) < 90*24*time.Hour) {
		res.Signals = append(res.Signals, SignalPossiblyReassigned)
	}
	if !st.valid && !st.scoped {
		prior += 0.5
	}

	harm := byRisk[0] + byRisk[1]
	good := byRisk[2] + byRisk[3]
	bound := wilsonLower(harm+prior, harm+good+prior+2)
	res.Score = int(math.Round(100 * bound))
	if len(ev) == 0 {
		return res
	}
	if t, scale := e.trust.Load(), e.scale.Load(); t != nil && scale != nil && *scale > 0 {
		raw := make(map[string]float64, len(ev))
		for c, v := range ev {
			raw[c] = v * *scale
		}
		res.TopCategory = t.Decide(raw)
	}
	if res.TopCategory == "" {
		res.TopCategory = topCategory(ev)
	}
	win := 0
	for i := range byRisk {
		if byRisk[i] > byRisk[win] {
			win = i
		}
	}
	total := harm + good
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
		if byRisk[2] >= e.cfg.TrustedWeight {
			res.Verdict = VerdictBenign
		}
	case labels.RiskSafe:
		if byRisk[3] >= e.cfg.TrustedWeight {
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
func topCategory(ev map[string]float64) string {
	top := ""
	for c, v := range ev {
		if top == "" || v > ev[top] || v == ev[top] && (riskRank(riskOf(c)) < riskRank(riskOf(top)) ||
			riskRank(riskOf(c)) == riskRank(riskOf(top)) && c < top) {
			top = c
		}
	}
	return top
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
	for key, st := range e.nums {
		if len(st.flags) > 0 {
			reasons := make(map[string]time.Time, len(st.flags))
			for r, t := range st.flags {
				reasons[r] = t
			}
			out = append(out, Flag{Key: key, Reasons: reasons})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Each calls fn with the current result of every labelled number, in no
// particular order. Results are computed outside the engine's lock, so a
// long walk (building filters) never stalls reports or lookups for long.
func (e *Engine) Each(fn func(Result)) {
	for _, key := range e.keys() {
		if r, ok := e.lookupKey(key); ok {
			fn(r)
		}
	}
}
