// Package reputation turns the live labels of a number into its
// reputation: trust-weighted evidence per category that decays, a verdict,
// a score with its confidence, and signals. The Engine is kept in memory
// and updated in O(1) on every label change; changed reputations are
// logged to storage for lookup replicas (Replica), and everything can be
// rebuilt from the labels.
package reputation

import (
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
	// Evidence is the trust-weighted, decayed evidence per category.
	Evidence map[string]float64
	// What moderation decided (see Override): the caller-ID name of a
	// verified number, whether its labels would flag it (its caller ID is
	// probably spoofed), whether a case about it is open, and the outcome
	// of its latest resolved case.
	CallerName  string
	SpoofedRisk bool
	Disputed    bool
	Outcome     string
	// harmQuorum is set when enough trusted reporters call the number
	// harmful for a spam or fraud verdict, whatever the other side says.
	harmQuorum bool
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

// lookupKey returns the reputation of a labelled key; ok is false when no
// live label is on it.
func (e *Engine) lookupKey(key string) (Result, bool) {
	e.mu.RLock()
	_, st := e.state(key)
	n := numberOfKey(key)
	if st != nil {
		n = labels.Number{Key: key, Valid: st.valid, Scoped: st.scoped}
	}
	o := e.overrideLocked(key)
	e.mu.RUnlock()
	if st == nil && o == nil {
		return Result{}, false
	}
	return e.Lookup(n), true
}
