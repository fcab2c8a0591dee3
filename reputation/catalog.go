package reputation

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/callrep/callrep/labels"
)

// The lists a catalog publishes. Phones get one Bloom filter per list; the
// server keeps ListAll, every labelled number, to guard storage reads.
const (
	ListBlock  = "block"  // high-confidence fraud: block without ringing
	ListFraud  = "fraud"  // verdict fraud
	ListSpam   = "spam"   // verdict spam
	ListBenign = "benign" // verdict benign: "probably a delivery"
	ListAll    = "all"    // every labelled number (server only)
	// ListVerified holds the numbers moderation verified (server only):
	// they are on no warning list, and CallKit identifies them by name.
	ListVerified = "verified"
)

// PublicLists are the lists phones download, in the order a phone tests
// them.
var PublicLists = []string{ListBlock, ListFraud, ListSpam, ListBenign}

// CatalogConfig decides list membership.
type CatalogConfig struct {
	// BlockConfidence is the confidence from which a fraud verdict is
	// also on the block list.
	BlockConfidence float64
	// ContestedEvidence is the evidence from which a number counts as
	// contested when it has at least that much on both sides, harmful
	// and benign or safe: a case for moderation.
	ContestedEvidence float64
}

// DefaultCatalogConfig returns the defaults.
func DefaultCatalogConfig() CatalogConfig {
	return CatalogConfig{BlockConfidence: 0.6, ContestedEvidence: 3}
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
	for _, name := range append(slices.Clone(PublicLists), ListAll, ListVerified) {
		c.Lists[name] = []string{}
	}
	e.Each(func(r Result) {
		key := r.Number.Key
		c.Lists[ListAll] = append(c.Lists[ListAll], key)
		if cfg.ContestedEvidence > 0 && contested(r, cfg.ContestedEvidence) {
			c.Contested = append(c.Contested, key)
		}
		var list string
		switch r.Verdict {
		case VerdictVerified:
			c.Lists[ListVerified] = append(c.Lists[ListVerified], key)
			c.flagged[key] = r
			return
		case VerdictFraud:
			list = ListFraud
			if r.Confidence >= cfg.BlockConfidence {
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
		keys = slices.Concat(c.Lists[ListFraud], c.Lists[ListSpam], c.Lists[ListBenign], c.Lists[ListVerified])
	}
	out := make([]CallKitEntry, 0, len(keys))
	for _, key := range keys {
		n, ok := callKitNumber(key)
		if !ok {
			continue
		}
		e := CallKitEntry{Number: n}
		if kind == "identify" {
			e.Label = callKitLabel(c.flagged[key])
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

// callKitLabel is the caller-ID text iOS shows under the number: a
// verified number's name, else what it is reported as.
func callKitLabel(r Result) string {
	if r.Verdict == VerdictVerified {
		return r.CallerName
	}
	name := r.TopCategory
	if cat, ok := labels.LookupCategory(r.TopCategory); ok && cat.Names["en"] != "" {
		name = cat.Names["en"]
	}
	switch r.Verdict {
	case VerdictFraud:
		if r.TopCategory == "fraud" {
			return "Suspected fraud"
		}
		return "Suspected fraud: " + name
	case VerdictSpam:
		return "Spam: " + name
	}
	return name
}
