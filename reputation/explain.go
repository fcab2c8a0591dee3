package reputation

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"sort"
	"time"

	"github.com/callrep/callrep/labels"
)

// Explanation shows a moderator why a number has its reputation.
type Explanation struct {
	Result Result
	// HalfLife is the decay half-life per risk class.
	HalfLife map[labels.Risk]time.Duration
	// Contributions are the live labels, largest current weight first.
	Contributions []Contribution
	// Flags are the moderation flags raised on the number.
	Flags map[string]time.Time
	// ResetAt is when a reassignment discarded older evidence.
	ResetAt time.Time
}

// Contribution is one live label's share of the evidence.
type Contribution struct {
	// Reporter is a stable pseudonym, not the reporter's identity.
	Reporter string
	Source   labels.Source
	Category string
	At       time.Time
	Age      time.Duration
	// Trust is the reporter's learned weight before ramp and caps;
	// Weight the label's weight when made; Current its weight now, after
	// decay (Decay = Current / Weight). Counted is false for evidence a
	// reassignment discarded.
	Trust   float64
	Weight  float64
	Current float64
	Decay   float64
	Counted bool
	// Capped names the burst rule that capped the label, if any.
	Capped string
	// Record is the reporter's track record, when trust was estimated.
	Record *WorkerTrust
}

// Pseudonym is the stable pseudonym under which explanations show a
// reporter.
func Pseudonym(reporter string) string { return pseudonym(labels.ReporterKey(reporter)) }

func pseudonym(key uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], key)
	sum := sha256.Sum256(append([]byte("callrep-reporter\x00"), b[:]...))
	return "rp-" + hex.EncodeToString(sum[:6])
}

// Explain returns the explanation of n; top limits the contributions
// (0 for all).
func (e *Engine) Explain(n labels.Number, top int) Explanation {
	res := e.Lookup(n)
	now := e.cfg.Now()
	ex := Explanation{Result: res, HalfLife: map[labels.Risk]time.Duration{}}
	for _, r := range risks {
		ex.HalfLife[r] = e.halfLife(r)
	}
	trust := e.trust.Load()
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, st := e.state(n.Key)
	if st == nil {
		return ex
	}
	if x := st.ext; x != nil {
		ex.ResetAt = x.resetAt
		if len(x.flags) > 0 {
			ex.Flags = maps.Clone(x.flags)
		}
	}
	nowMs := now.UnixMilli()
	for i := range st.contribs {
		c := &st.contribs[i]
		at := time.UnixMilli(c.at).UTC()
		d := decay(c.at, nowMs, e.catHalf[c.cat])
		w := float64(c.weight)
		cb := Contribution{
			Reporter: pseudonym(c.reporter), Source: e.srcs[c.src], Category: e.cats[c.cat], At: at, Age: now.Sub(at),
			Trust: e.baseWeight(c.reporter, e.srcs[c.src], e.cats[c.cat]), Weight: w, Current: w * d, Decay: d,
			Counted: c.active(), Capped: c.capped(),
		}
		if !c.active() {
			cb.Current = 0
		}
		if trust != nil {
			if wt, ok := trust.Workers[workerName(c.reporter)]; ok {
				cb.Record = &wt
			}
		}
		ex.Contributions = append(ex.Contributions, cb)
	}
	sort.Slice(ex.Contributions, func(i, j int) bool {
		a, b := ex.Contributions[i], ex.Contributions[j]
		if a.Current != b.Current {
			return a.Current > b.Current
		}
		return a.Reporter < b.Reporter
	})
	if top > 0 && len(ex.Contributions) > top {
		ex.Contributions = ex.Contributions[:top]
	}
	return ex
}
