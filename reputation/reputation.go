// Package reputation turns the live labels of a number into its
// reputation: counts per category, distinct reporters, a verdict and a
// score. The Index is kept in memory, updated on every label change, and
// written behind to storage; it can always be rebuilt from the labels.
package reputation

import (
	"sync"
	"time"

	"github.com/callrep/callrep/labels"
)

// Verdict is the one-word answer a phone shows.
type Verdict string

// The verdicts.
const (
	VerdictUnknown  Verdict = "unknown"
	VerdictSafe     Verdict = "safe"
	VerdictBenign   Verdict = "benign"
	VerdictSpam     Verdict = "spam"
	VerdictFraud    Verdict = "fraud"
	VerdictVerified Verdict = "verified"
)

// Signals are facts about a number apart from its labels.
const (
	SignalInvalidCallerID = "invalid_caller_id"
)

// Result is the reputation of one number.
type Result struct {
	Number          labels.Number
	Verdict         Verdict
	Score           int     // 0–100
	Confidence      float64 // 0–1; 0 when there is no evidence
	Reporters       int
	Categories      map[string]int
	TopCategory     string
	FirstReportedAt time.Time
	LastReportedAt  time.Time
	Signals         []string
}

// Thresholds configure the v0 verdict rule.
type Thresholds struct {
	// MinReporters is how many distinct reporters must agree on a risk
	// class before a spam or fraud verdict is public.
	MinReporters int
}

// DefaultThresholds are the v0 defaults.
func DefaultThresholds() Thresholds { return Thresholds{MinReporters: 2} }

// aggregate is what the index keeps per number.
type aggregate struct {
	counts    map[string]int
	reporters int
	first     time.Time
	last      time.Time
}

// Index holds the aggregate of every labelled number. It is a
// labels.Observer.
type Index struct {
	th Thresholds

	mu    sync.RWMutex
	aggs  map[string]*aggregate
	dirty func(key string)
}

// NewIndex returns an empty index. markDirty, if not nil, is called with
// the key of every number whose aggregate changed (under the index lock).
func NewIndex(th Thresholds, markDirty func(key string)) *Index {
	if th.MinReporters < 1 {
		th.MinReporters = 1
	}
	if markDirty == nil {
		markDirty = func(string) {}
	}
	return &Index{th: th, aggs: make(map[string]*aggregate), dirty: markDirty}
}

var _ labels.Observer = (*Index)(nil)

// LabelChanged updates the aggregates for a replaced, new or retracted
// label in O(1).
func (ix *Index) LabelChanged(old, cur *labels.Label) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old != nil {
		a := ix.aggs[old.Key]
		if a != nil {
			a.counts[old.Category]--
			if a.counts[old.Category] <= 0 {
				delete(a.counts, old.Category)
			}
			a.reporters--
			if a.reporters <= 0 {
				delete(ix.aggs, old.Key)
			}
		}
		ix.dirty(old.Key)
	}
	if cur != nil {
		a := ix.aggs[cur.Key]
		if a == nil {
			a = &aggregate{counts: make(map[string]int, 2), first: cur.CreatedAt}
			ix.aggs[cur.Key] = a
		}
		a.counts[cur.Category]++
		a.reporters++
		if cur.FirstAt.Before(a.first) {
			a.first = cur.FirstAt
		}
		if cur.CreatedAt.After(a.last) {
			a.last = cur.CreatedAt
		}
		ix.dirty(cur.Key)
	}
}

// Len returns how many numbers have at least one live label.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.aggs)
}

// Lookup returns the reputation of n. It never touches storage.
func (ix *Index) Lookup(n labels.Number) Result {
	ix.mu.RLock()
	a := ix.aggs[n.Key]
	res := Result{Number: n, Verdict: VerdictUnknown, Categories: map[string]int{}, Signals: []string{}}
	if a != nil {
		res.Reporters = a.reporters
		res.FirstReportedAt, res.LastReportedAt = a.first, a.last
		for c, k := range a.counts {
			res.Categories[c] = k
		}
	}
	ix.mu.RUnlock()
	if !n.Valid && !n.Scoped {
		res.Signals = append(res.Signals, SignalInvalidCallerID)
	}
	ix.th.judge(&res)
	return res
}

// risks lists the risk classes from most to least severe; ties between
// classes go to the earlier one, towards warning.
var risks = [...]labels.Risk{labels.RiskDangerous, labels.RiskNuisance, labels.RiskBenign, labels.RiskSafe}

func riskRank(r labels.Risk) int {
	for i, x := range risks {
		if x == r {
			return i
		}
	}
	return len(risks) - 1
}

// judge sets the verdict, score, confidence and top category from the
// category counts: the risk class with most reporters wins (ties towards
// the more severe), spam and fraud need MinReporters agreeing reporters.
func (th Thresholds) judge(res *Result) {
	if res.Reporters == 0 {
		return
	}
	var byRisk [len(risks)]int
	top, topRank := "", 0
	for c, k := range res.Categories {
		risk, _ := labels.RiskOf(c)
		rank := riskRank(risk)
		byRisk[rank] += k
		if top == "" || k > res.Categories[top] || (k == res.Categories[top] && (rank < topRank || (rank == topRank && c < top))) {
			top, topRank = c, rank
		}
	}
	res.TopCategory = top
	win := 0
	for i := range byRisk {
		if byRisk[i] > byRisk[win] {
			win = i
		}
	}
	agree, total := byRisk[win], res.Reporters
	dangerous, nuisance := byRisk[0], byRisk[1]
	// Score: share of harmful labels, pulled towards 0 for few reporters
	// (two phantom harmless votes), dangerous labels weighing fully and
	// nuisance ones 0.6.
	res.Score = min(100, int(100*(float64(dangerous)+0.6*float64(nuisance))/float64(total+2)+0.5))
	res.Confidence = float64(agree) / float64(total+2)
	switch risks[win] {
	case labels.RiskDangerous:
		if agree >= th.MinReporters {
			res.Verdict = VerdictFraud
		} else if dangerous+nuisance >= th.MinReporters {
			res.Verdict = VerdictSpam
		}
	case labels.RiskNuisance:
		if dangerous+nuisance >= th.MinReporters {
			res.Verdict = VerdictSpam
		}
	case labels.RiskBenign:
		res.Verdict = VerdictBenign
	case labels.RiskSafe:
		res.Verdict = VerdictSafe
	}
	if res.Verdict == VerdictUnknown {
		res.Confidence = 0
	}
}

// lookupKey returns the reputation of a labelled key; ok is false when no
// live label is on it.
func (ix *Index) lookupKey(key string) (Result, bool) {
	ix.mu.RLock()
	_, ok := ix.aggs[key]
	ix.mu.RUnlock()
	if !ok {
		return Result{}, false
	}
	return ix.Lookup(labels.Number{Key: key, Valid: true}), true
}

// keys returns the keys of all labelled numbers.
func (ix *Index) keys() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	keys := make([]string, 0, len(ix.aggs))
	for k := range ix.aggs {
		keys = append(keys, k)
	}
	return keys
}
