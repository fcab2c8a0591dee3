package reputation

import (
	"sort"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
)

// RescoreStats describe one re-estimation.
type RescoreStats struct {
	Labels     int
	Reporters  int
	Gold       int
	Iterations int
	Numbers    int
	Journaled  int // label changes that arrived during the estimation
	Took       time.Duration
}

// cohortOf puts reporters into trust cohorts by identity: app users
// (local: and firebase: accounts) share one, each import source its own.
func cohortOf(reporter string) string {
	prefix, _, ok := strings.Cut(reporter, ":")
	if !ok || prefix == "local" || prefix == "firebase" {
		return "app"
	}
	return prefix
}

// Rescore re-estimates every reporter's trust from all live labels, with
// moderator labels as gold, and rebuilds the evidence under it. each must
// call its argument for every live label (labels.Service.Each). Lookups
// keep being served from the old state until the new one is swapped in;
// label changes that arrive meanwhile are applied to both.
func (e *Engine) Rescore(each func(fn func(*labels.Label))) RescoreStats {
	start := time.Now()
	e.mu.Lock()
	journal := []change{}
	e.journal = &journal
	e.mu.Unlock()

	var all []labels.Label
	each(func(l *labels.Label) { all = append(all, *l) })

	var votes []Vote
	gold := map[string]string{}
	goldAt := map[string]time.Time{}
	reporters := map[string]bool{}
	for _, l := range all {
		if l.Source == labels.SourceModerator {
			if l.CreatedAt.After(goldAt[l.Key]) {
				gold[l.Key], goldAt[l.Key] = l.Category, l.CreatedAt
			}
			continue
		}
		votes = append(votes, Vote{Item: l.Key, Worker: l.Reporter, Class: l.Category})
		reporters[l.Reporter] = true
	}
	trust := EstimateTrust(votes, TrustOptions{Gold: gold, Cohort: cohortOf})

	fresh := NewEngine(e.cfg)
	fresh.setTrust(trust)
	fresh.load(all)

	e.mu.Lock()
	for _, c := range journal {
		fresh.applyLocked(c.old, c.cur)
	}
	e.journal = nil
	// The swap costs the journal's length, not the number count, so
	// lookups wait on it only briefly.
	e.nums, e.ranges, e.firstSeen = fresh.nums, fresh.ranges, fresh.firstSeen
	e.setTrust(trust)
	n := len(e.nums)
	e.mu.Unlock()
	return RescoreStats{Labels: len(all), Reporters: len(reporters), Gold: len(gold), Iterations: trust.Iterations,
		Numbers: n, Journaled: len(journal), Took: time.Since(start)}
}

// Load builds the state from labels in one pass, in the order they were
// made, so that burst detection sees them as they came. It is for a fresh
// engine (tools, evaluation); a serving engine learns labels through
// LabelChanged.
func (e *Engine) Load(all []labels.Label) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.load(all)
}

func (e *Engine) load(all []labels.Label) {
	sorted := make([]*labels.Label, len(all))
	for i := range all {
		sorted[i] = &all[i]
		first := all[i].FirstAt
		if first.IsZero() {
			first = all[i].CreatedAt
		}
		if f, ok := e.firstSeen[all[i].Reporter]; !ok || first.Before(f) {
			e.firstSeen[all[i].Reporter] = first
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].CreatedAt.Before(sorted[j].CreatedAt) })
	for _, l := range sorted {
		e.addLocked(l)
	}
}

// SetTrust replaces the reporter trust without re-scoring; labels applied
// from now on use it. Rescore is the way to apply it to existing labels.
func (e *Engine) SetTrust(t *Trust) {
	e.setTrust(t)
}

// setTrust stores t and its weight scale: the mean weight of a new app
// reporter's label over the classes, the yardstick that weight 1 means.
func (e *Engine) setTrust(t *Trust) {
	e.trust.Store(t)
	scale := 0.0
	if t != nil {
		n := 0
		for _, c := range t.Classes {
			if w := t.Weight(newAppReporter, c); w > 0 {
				scale += w
				n++
			}
		}
		if n > 0 {
			scale /= float64(n)
		}
	}
	e.scale.Store(&scale)
}
