package reputation

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
)

// The lists a catalog publishes: phones get one Bloom filter per list. A
// catalog holds flagged numbers only; a list of every labelled number
// would cost the writer ~32 bytes per number for nothing (replicas build
// their guard from storage).
const (
	ListBlock  = "block"  // high-confidence fraud: block without ringing
	ListFraud  = "fraud"  // verdict fraud
	ListSpam   = "spam"   // verdict spam
	ListBenign = "benign" // verdict benign: "probably a delivery"
)

// PublicLists are the lists phones download, in the order a phone tests
// them.
var PublicLists = []string{ListBlock, ListFraud, ListSpam, ListBenign}

// CatalogConfig decides list membership.
type CatalogConfig struct {
	// BlockConfidence is the confidence from which a fraud verdict is
	// also on the block list.
	BlockConfidence float64
	// InvalidBlockReporters is how many distinct reporters a number that
	// is not valid (a possible number in an unassigned range, such as
	// +10000000000: what spoofed caller IDs look like) needs to be on the
	// block list; fewer leave it warned about, not blocked, since a spoofed
	// ID blocked on a few reports may be someone's next real number.
	InvalidBlockReporters int
	// ContestedEvidence is the evidence from which a number counts as
	// contested when it has at least that much on both sides, harmful
	// and benign or safe: a case for moderation.
	ContestedEvidence float64
}

// DefaultCatalogConfig returns the defaults.
func DefaultCatalogConfig() CatalogConfig {
	return CatalogConfig{BlockConfidence: 0.6, InvalidBlockReporters: 10, ContestedEvidence: 3}
}

// Catalog is everything published about flagged numbers at one moment:
// the key lists behind the filters, the hash-prefix buckets and the
// CallKit export. It is immutable once built.
type Catalog struct {
	Built time.Time
	// Lists maps a list name to its sorted keys.
	Lists map[string][]string
	// results of the flagged numbers, by key.
	flagged map[string]Result
	// prefixes maps the first 5 hex digits of SHA-256(key) to entries.
	prefixes map[string][]PrefixEntry
	// Verified lists the numbers moderation verified, sorted: they are on
	// no warning list, and CallKit and Live Caller ID name them.
	Verified []string
	// Contested lists the keys with strong evidence on both sides, sorted.
	Contested []string
}

// PrefixEntry is one flagged number in a hash-prefix bucket.
type PrefixEntry struct {
	SHA256      string // hex of SHA-256 of the key
	Verdict     Verdict
	TopCategory string
}

// BuildCatalog walks the engine once.
func BuildCatalog(e *Engine, cfg CatalogConfig, now time.Time) *Catalog {
	c := &Catalog{Built: now, Lists: map[string][]string{}, flagged: map[string]Result{}, prefixes: map[string][]PrefixEntry{}}
	for _, name := range PublicLists {
		c.Lists[name] = []string{}
	}
	e.Each(func(r Result) {
		key := r.Number.Key
		if cfg.ContestedEvidence > 0 && contested(r, cfg.ContestedEvidence) {
			c.Contested = append(c.Contested, key)
		}
		var list string
		switch r.Verdict {
		case VerdictVerified:
			c.Verified = append(c.Verified, key)
			c.flagged[key] = r
			return
		case VerdictFraud:
			list = ListFraud
			if r.Confidence >= cfg.BlockConfidence && (r.Number.Valid || r.Number.Scoped || r.Reporters >= cfg.InvalidBlockReporters) {
				c.Lists[ListBlock] = append(c.Lists[ListBlock], key)
			}
		case VerdictSpam:
			list = ListSpam
		case VerdictBenign:
			list = ListBenign
		default:
			return
		}
		c.Lists[list] = append(c.Lists[list], key)
		c.flagged[key] = r
		sum := KeyHash(key)
		c.prefixes[sum[:5]] = append(c.prefixes[sum[:5]], PrefixEntry{SHA256: sum, Verdict: r.Verdict, TopCategory: r.TopCategory})
	})
	for _, keys := range c.Lists {
		slices.Sort(keys)
	}
	slices.Sort(c.Verified)
	slices.Sort(c.Contested)
	for _, es := range c.prefixes {
		slices.SortFunc(es, func(a, b PrefixEntry) int { return strings.Compare(a.SHA256, b.SHA256) })
	}
	return c
}

// KeyHash is the hex SHA-256 of a number key, as hash-prefix lookups use.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Prefix returns the flagged entries whose key hash starts with prefix
// (5 lowercase hex digits).
func (c *Catalog) Prefix(prefix string) []PrefixEntry {
	return c.prefixes[prefix]
}

// CallKitEntry is one entry of an iOS Call Directory list.
type CallKitEntry struct {
	Number uint64 // E.164 digits without '+'
	Label  string // identification entries only
	// Verdict and Category are what Label says, in any language; for a
	// verified number, Category is its caller name.
	Verdict  Verdict
	Category string
}

// CallKit returns the block or identify entries, ascending by number and
// without duplicates, as the Call Directory extension requires. Only full
// E.164 numbers qualify; region-scoped service keys cannot be expressed.
func (c *Catalog) CallKit(kind string) []CallKitEntry {
	var keys []string
	switch kind {
	case "block":
		keys = c.Lists[ListBlock]
	case "identify":
		keys = slices.Concat(c.Lists[ListFraud], c.Lists[ListSpam], c.Lists[ListBenign], c.Verified)
	}
	out := make([]CallKitEntry, 0, len(keys))
	for _, key := range keys {
		n, ok := callKitNumber(key)
		if !ok {
			continue
		}
		e := CallKitEntry{Number: n}
		if kind == "identify" {
			r := c.flagged[key]
			e.Verdict, e.Category = r.Verdict, r.TopCategory
			if r.Verdict == VerdictVerified {
				e.Category = r.CallerName
			}
			e.Label = CallKitLabel(e.Verdict, e.Category, "en")
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b CallKitEntry) int {
		if a.Number != b.Number {
			return cmpUint(a.Number, b.Number)
		}
		return strings.Compare(a.Label, b.Label)
	})
	return slices.CompactFunc(out, func(a, b CallKitEntry) bool { return a.Number == b.Number })
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func callKitNumber(key string) (uint64, bool) {
	digits, ok := strings.CutPrefix(key, "+")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// contested reports whether r has at least min evidence on both sides.
func contested(r Result, min float64) bool {
	var harm, good float64
	for cat, v := range r.Evidence {
		if harmful(riskOf(cat)) {
			harm += v
		} else {
			good += v
		}
	}
	return harm >= min && good >= min
}

// labelTexts are the words around a category's name in caller-ID labels,
// per language of the category texts (labels.Languages).
var labelTexts = map[string]struct{ fraud, fraudOf, spamOf string }{
	"en":      {"Suspected fraud", "Suspected fraud: %s", "Spam: %s"},
	"zh-Hans": {"疑似诈骗", "疑似诈骗：%s", "骚扰：%s"},
	"zh-Hant": {"疑似詐騙", "疑似詐騙：%s", "騷擾：%s"},
}

// LabelLanguage reports whether lang is a language caller-ID labels are
// written in.
func LabelLanguage(lang string) bool {
	_, ok := labelTexts[lang]
	return ok
}

// CallKitLabel is the caller-ID text a phone shows under a number with
// this verdict and top category, in lang (English when lang has no
// texts): "Suspected fraud", "Spam: Sales & promotion", "Delivery"; for a
// verified number, category is its caller name, shown as it is.
func CallKitLabel(v Verdict, category, lang string) string {
	if v == VerdictVerified {
		return category
	}
	t, ok := labelTexts[lang]
	if !ok {
		lang, t = "en", labelTexts["en"]
	}
	name := category
	if cat, ok := labels.LookupCategory(category); ok && cat.Names[lang] != "" {
		name = cat.Names[lang]
	}
	switch v {
	case VerdictFraud:
		if category == "fraud" {
			return t.fraud
		}
		return fmt.Sprintf(t.fraudOf, name)
	case VerdictSpam:
		return fmt.Sprintf(t.spamOf, name)
	}
	return name
}

// Rank returns keys (of flagged numbers) by how strongly they are
// flagged: score, then confidence, then reporters, descending, then key
// ascending, so that a capped list keeps the same entries for the same
// reputations. Verified numbers come first: a moderator checked each, they
// are few, and a capped identify list would otherwise drop them, whose
// score is that of their labels (often none), and show a bank's real
// number with no name.
func (c *Catalog) Rank(keys []string) []string {
	out := slices.Clone(keys)
	slices.SortFunc(out, c.cmpRank)
	return out
}

// Top returns the n most strongly flagged of keys in Rank order. It reads
// each key's reputation once and keeps n of them, so that capping a list
// of millions costs no sort of millions.
func (c *Catalog) Top(keys []string, n int) []string {
	if n >= len(keys) {
		return c.Rank(keys)
	}
	h := &rankHeap{c: c}
	for _, k := range keys {
		switch {
		case len(h.keys) < n:
			heap.Push(h, k)
		case n > 0 && c.cmpRank(k, h.keys[0]) < 0:
			h.keys[0] = k
			heap.Fix(h, 0)
		}
	}
	return c.Rank(h.keys)
}

// cmpRank orders a before b when a is more strongly flagged.
func (c *Catalog) cmpRank(a, b string) int {
	ra, rb := c.flagged[a], c.flagged[b]
	va, vb := ra.Verdict == VerdictVerified, rb.Verdict == VerdictVerified
	switch {
	case va != vb:
		if va {
			return -1
		}
		return 1
	case ra.Score != rb.Score:
		return rb.Score - ra.Score
	case ra.Confidence > rb.Confidence:
		return -1
	case ra.Confidence < rb.Confidence:
		return 1
	case ra.Reporters != rb.Reporters:
		return rb.Reporters - ra.Reporters
	}
	return strings.Compare(a, b)
}

// rankHeap holds kept keys with the least strongly flagged at the root.
type rankHeap struct {
	c    *Catalog
	keys []string
}

func (h *rankHeap) Len() int           { return len(h.keys) }
func (h *rankHeap) Less(i, j int) bool { return h.c.cmpRank(h.keys[i], h.keys[j]) > 0 }
func (h *rankHeap) Swap(i, j int)      { h.keys[i], h.keys[j] = h.keys[j], h.keys[i] }
func (h *rankHeap) Push(x any)         { h.keys = append(h.keys, x.(string)) }
func (h *rankHeap) Pop() any {
	k := h.keys[len(h.keys)-1]
	h.keys = h.keys[:len(h.keys)-1]
	return k
}
