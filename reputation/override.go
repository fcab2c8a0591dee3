package reputation

import (
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
)

// Override is what moderation decided about a number. Few numbers have
// one, so overrides live in a side map of the engine keyed by the number's
// interned id, and numState stays as small as before.
type Override struct {
	// ClearedAt clears the labels made up to then: they stay in the
	// history and in explanations but no longer count. Moderator labels
	// always count. Zero clears nothing.
	ClearedAt time.Time
	// CallerName pins the verdict verified, with this display name (a
	// caller-ID card), until VerifiedUntil; zero VerifiedUntil means no
	// expiry. Empty pins nothing.
	CallerName    string
	VerifiedUntil time.Time
	// Disputed is set while a moderation case about the number is open.
	Disputed bool
	// Outcome is the public outcome of the number's latest resolved case.
	Outcome string
}

// verified reports whether o pins the verdict verified at now.
func (o *Override) verified(now time.Time) bool {
	return o.CallerName != "" && (o.VerifiedUntil.IsZero() || now.Before(o.VerifiedUntil))
}

// clears reports whether o takes a label of src made at (Unix ms) out of
// the evidence.
func (o *Override) clears(src labels.Source, at int64) bool {
	return o != nil && src != labels.SourceModerator && !o.ClearedAt.IsZero() && at <= o.ClearedAt.UnixMilli()
}

// SetOverride replaces the override of key; the zero Override removes it.
// Labels it clears stop counting at once, and labels a previous override
// cleared count again if this one does not clear them.
func (e *Engine) SetOverride(key string, o Override) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.keys.Intern(key)
	e.grow(id) // so that walks by id (Each) reach it
	if o == (Override{}) {
		delete(e.overrides, id)
	} else {
		e.overrides[id] = &o
	}
	st := &e.nums[id]
	if len(st.contribs) == 0 {
		return
	}
	var resetAt int64
	if st.ext != nil && !st.ext.resetAt.IsZero() {
		resetAt = st.ext.resetAt.UnixMilli()
	}
	cur := e.overrides[id]
	for i := range st.contribs {
		c := &st.contribs[i]
		want := c.at >= resetAt && !cur.clears(e.srcs[c.src], c.at)
		switch {
		case want && !c.active():
			e.reapply(key, st, i)
		case !want && c.active():
			e.unapply(key, st, c)
		}
	}
	st.touch()
}

// OverrideOf returns the override of key; ok is false when there is none.
func (e *Engine) OverrideOf(key string) (o Override, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	id, found := e.keys.Lookup(key)
	if !found || e.overrides[id] == nil {
		return Override{}, false
	}
	return *e.overrides[id], true
}

// reapply makes the inactive contribution i count again: the inverse of
// unapply. A block's range state is updated if it exists; one that does
// not is started by the block's next new harmful label, as ever.
func (e *Engine) reapply(key string, st *numState, i int) {
	c := &st.contribs[i]
	hadHarm := e.activeHarm(st)
	c.bits |= bitActive
	w := float64(c.weight)
	if st.ext != nil && st.ext.ev != nil {
		if int(c.cat) >= len(st.ext.ev) {
			st.ext.ev = append(st.ext.ev, make([]float64, len(e.cats)-len(st.ext.ev))...)
		}
		st.ext.ev[c.cat] += w * growth(c.at, e.catHalf[c.cat])
	}
	if rk, ok := e.rangeKey(key); ok && harmful(e.catRisk[c.cat]) {
		if rs, ok := e.ranges[rk]; ok {
			rs.harm += w * growth(c.at, e.nuisanceHalf())
			if !hadHarm {
				rs.numbers++
			}
			e.ranges[rk] = rs
		}
	}
}

// overrideLocked returns the override of key's id, or nil; e.mu is held.
// It costs nothing while no number has one.
func (e *Engine) overrideLocked(key string) *Override {
	if len(e.overrides) == 0 {
		return nil
	}
	id, ok := e.keys.Lookup(key)
	if !ok {
		return nil
	}
	return e.overrides[id]
}

// moderated applies o to a judged result. A verified number keeps its
// verdict whatever its labels say; when enough trusted reporters call it
// harmful for a verdict (its owner's label may still outweigh them), its
// caller ID is probably being spoofed, and the result says so.
func moderated(res Result, o *Override, now time.Time) Result {
	if o == nil {
		return res
	}
	res.Disputed, res.Outcome = o.Disputed, o.Outcome
	if o.verified(now) {
		res.SpoofedRisk = res.harmQuorum || res.Verdict == VerdictFraud || res.Verdict == VerdictSpam
		res.Verdict, res.CallerName = VerdictVerified, o.CallerName
	}
	return res
}

// numberOfKey is the number of a key the engine holds no labels for.
func numberOfKey(key string) labels.Number {
	return labels.Number{Key: key, Valid: true, Scoped: !strings.HasPrefix(key, "+")}
}
