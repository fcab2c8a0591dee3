package reputation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callrep/callrep/labels"
)

// PublisherConfig configures what is published for phones.
type PublisherConfig struct {
	// Filters are the Bloom filters phones download, one per public list.
	Filters []FilterSpec
	// DeltaWindow is how long each list's changes are kept (in storage
	// and in memory) for deltas and incremental CallKit exports; a phone
	// whose version is older gets the full list. 7 days if zero.
	DeltaWindow time.Duration
	// Catalog decides list membership.
	Catalog CatalogConfig
	// Limits are the caps a filter can be downloaded with (a phone's or a
	// router's room: GET /v1/filters/NAME?limit=N). Each capped filter is
	// a list of its own, NAME@N, holding the N most strongly flagged keys
	// (Catalog.Rank): the builder ranks, where the scores are, and stores
	// its versions and changes like any list's, so that replicas serve it
	// and its deltas turn one capped set into the next exactly. Nil means
	// DefaultFilterLimits; empty, none.
	Limits []int
	// Now is the clock; the engine's when nil, or time.Now without one.
	Now func() time.Time
}

// DefaultPublisherConfig publishes block, fraud, spam and benign filters
// at 0.1% false positives (a wrong warning is worse than a missed one) with
// 25% headroom, and keeps deltas for DefaultDeltaWindow.
func DefaultPublisherConfig() PublisherConfig {
	var specs []FilterSpec
	for _, name := range PublicLists {
		specs = append(specs, FilterSpec{Name: name, FPRate: 0.001, Headroom: 0.25})
	}
	return PublisherConfig{Filters: specs, DeltaWindow: DefaultDeltaWindow, Catalog: DefaultCatalogConfig(), Limits: DefaultFilterLimits}
}

// DefaultFilterLimits are the caps filters are published with by default:
// a Fritz!Box phonebook holds 2,000 entries.
var DefaultFilterLimits = []int{1000, 2000, 10_000, 100_000}

// DefaultDeltaWindow is the default of PublisherConfig.DeltaWindow.
const DefaultDeltaWindow = 7 * 24 * time.Hour

// Publisher builds, stores and serves what phones download: filter
// snapshots with deltas, the CallKit export and hash-prefix buckets. One
// replica builds (under a lease); every replica serves the stored bytes.
type Publisher struct {
	cfg    PublisherConfig
	engine *Engine
	blobs  *BlobStore
	log    *slog.Logger
	now    func() time.Time

	build sync.Mutex // one rebuild at a time

	mu      sync.RWMutex
	catalog *Catalog
	lists   map[string]*versioned // filters, capped filters and CallKit lists
	capped  []*versioned          // capped lists, by list then limit
	deltas  map[string]*Snapshot  // name/since → delta
	// rankedCache holds a CallKit list in Rank order (name/version →
	// keys), for capped exports.
	rankedCache map[string][]string
}

// versioned is one list with the changes that led to its version.
type versioned struct {
	name string
	spec FilterSpec // zero for CallKit lists
	// parent and limit, for a capped list: the list it caps and its cap.
	parent  string
	limit   int
	current *Snapshot // nil for CallKit lists
	version uint64
	digest  string
	// keys are the sorted keys of version; nil when unknown (a lookup
	// replica, or a version stored without them).
	keys []string
	// changes are those within the delta window, by the version they made.
	changes map[uint64]*Change
}

// Stored blob names: a filter's snapshot, and a list's current keys (so
// that a restarted builder can tell what the next version changed).
func filterBlob(name string) string { return "filter:" + name }
func keysBlob(name string) string   { return "keys:" + name }

// cappedName is the name of filter name capped at limit entries.
func cappedName(name string, limit int) string { return name + "@" + strconv.Itoa(limit) }

// CallKit list names inside the publisher.
const (
	callKitBlock    = "callkit-block"
	callKitIdentify = "callkit-identify"
)

// NewPublisher returns a publisher over e; blobs may be nil (nothing is
// stored, as in tests and tools). Without an engine (a lookup replica) it
// only serves the stored filters.
func NewPublisher(cfg PublisherConfig, e *Engine, blobs *BlobStore, log *slog.Logger) *Publisher {
	if cfg.DeltaWindow <= 0 {
		cfg.DeltaWindow = DefaultDeltaWindow
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Publisher{cfg: cfg, engine: e, blobs: blobs, log: log, now: time.Now, lists: map[string]*versioned{}, deltas: map[string]*Snapshot{}, rankedCache: map[string][]string{}}
	switch {
	case cfg.Now != nil:
		p.now = cfg.Now
	case e != nil:
		p.now = e.cfg.Now
	}
	if cfg.Limits == nil {
		p.cfg.Limits = DefaultFilterLimits
	}
	p.cfg.Limits = slices.Sorted(slices.Values(p.cfg.Limits))
	for _, spec := range cfg.Filters {
		p.lists[spec.Name] = &versioned{name: spec.Name, spec: spec, changes: map[uint64]*Change{}}
	}
	for _, name := range []string{callKitBlock, callKitIdentify} {
		p.lists[name] = &versioned{name: name, changes: map[uint64]*Change{}}
	}
	for _, parent := range p.listsInOrder() {
		for _, limit := range p.cfg.Limits {
			v := &versioned{name: cappedName(parent.name, limit), spec: parent.spec, parent: parent.name, limit: limit, changes: map[uint64]*Change{}}
			if v.spec.Name != "" {
				v.spec.Name = v.name
			}
			p.lists[v.name] = v
			p.capped = append(p.capped, v)
		}
	}
	return p
}

// Reconfigure sets the filter specs before the first Rebuild or Load:
// rates and headroom apply from the next version of each filter.
func (p *Publisher) Reconfigure(cfg PublisherConfig) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cfg.DeltaWindow > 0 {
		p.cfg.DeltaWindow = cfg.DeltaWindow
	}
	p.cfg.Catalog = cfg.Catalog
	for _, spec := range cfg.Filters {
		if v := p.lists[spec.Name]; v != nil {
			v.spec = spec
			for i := range p.cfg.Filters {
				if p.cfg.Filters[i].Name == spec.Name {
					p.cfg.Filters[i] = spec
				}
			}
		}
		for _, v := range p.capped {
			if v.parent == spec.Name {
				v.spec, v.spec.Name = spec, v.name
			}
		}
	}
}

// Ready reports whether every filter, capped ones included, has a
// snapshot.
func (p *Publisher) Ready() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, v := range p.listsInOrder() {
		if v.spec.Name != "" && v.current == nil {
			return false
		}
	}
	return p.catalog != nil || p.engine == nil
}

func errNoEngine() error {
	return labels.Errorf(labels.EUnavailable, "this replica serves stored filters only; CallKit exports, hash prefixes and rebuilds are served by writer replicas")
}

// Load takes the stored snapshots and the changes that led to them, so
// that a restart or another replica serves the bytes and the deltas the
// builder stored. A builder (with an engine) also takes each list's stored
// keys, so that its next version's change is known. Lists never stored are
// left for Rebuild.
func (p *Publisher) Load(ctx context.Context) error {
	if p.blobs == nil {
		return nil
	}
	for _, v := range p.listsInOrder() {
		if err := p.load(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// listsInOrder returns the lists, filters first, in a fixed order.
func (p *Publisher) listsInOrder() []*versioned {
	var out []*versioned
	for _, spec := range p.cfg.Filters {
		out = append(out, p.lists[spec.Name])
	}
	out = append(out, p.capped...)
	return append(out, p.lists[callKitBlock], p.lists[callKitIdentify])
}

// load brings v to the stored version: its snapshot, its keys (builders
// only) and the changes within the delta window not yet in memory.
func (p *Publisher) load(ctx context.Context, v *versioned) error {
	p.mu.RLock()
	version, digest, haveKeys := v.version, v.digest, v.keys != nil
	p.mu.RUnlock()
	var snap *Snapshot
	if v.spec.Name != "" {
		b, err := p.blobs.Get(ctx, filterBlob(v.name))
		if errors.Is(err, ErrNoBlob) {
			return nil
		}
		if err != nil {
			return err
		}
		if b.Version > version {
			if snap, err = ParseFilter(b.Data, b.SHA256); err != nil {
				return fmt.Errorf("reputation: stored filter %s: %w", v.name, err)
			}
			version, digest, haveKeys = b.Version, b.Digest, false
		}
	} else if p.engine == nil {
		return nil // CallKit lists are served by builders only
	}
	var keys []string
	if p.engine != nil && !haveKeys {
		b, err := p.blobs.Get(ctx, keysBlob(v.name))
		switch {
		case errors.Is(err, ErrNoBlob):
		case err != nil:
			return err
		case v.spec.Name == "" && b.Version > version, b.Version == version && b.Digest == digest:
			if keys, _, err = decodeKeys(b.Data); err != nil {
				return fmt.Errorf("reputation: stored keys of %s: %w", v.name, err)
			}
			version, digest = b.Version, b.Digest
		}
	}
	if version == 0 {
		return nil
	}
	var found []*Change
	cutoff := p.now().Add(-p.cfg.DeltaWindow)
	p.mu.RLock()
	known := maps.Clone(v.changes)
	p.mu.RUnlock()
	for ver, dig := version, digest; ver > 0; {
		c := known[ver]
		if c == nil || c.Digest != dig {
			var err error
			c, err = p.blobs.GetChange(ctx, v.name, ver, dig)
			if errors.Is(err, ErrNoBlob) {
				break
			}
			if err != nil {
				return err
			}
			if c.Created.Before(cutoff) {
				break
			}
			found = append(found, c)
		}
		ver, dig = c.Prev, c.PrevDigest
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case version < v.version:
		return nil // a rebuild got ahead meanwhile
	case version > v.version:
		v.version, v.digest, v.keys = version, digest, keys
		if snap != nil {
			v.current = snap
		}
		clear(p.deltas)
		clear(p.rankedCache)
	case v.keys == nil && digest == v.digest:
		v.keys = keys
	}
	for _, c := range found {
		v.changes[c.Version] = c
	}
	v.prune(cutoff)
	return nil
}

// prune forgets the changes made before cutoff; p.mu is held.
func (v *versioned) prune(cutoff time.Time) {
	maps.DeleteFunc(v.changes, func(_ uint64, c *Change) bool { return c.Created.Before(cutoff) })
}

// Refresh is what a replica that does not build does: take the stored
// snapshots and rebuild the local catalog (hash prefixes and CallKit
// lists come from its own engine), without making new filter versions.
func (p *Publisher) Refresh(ctx context.Context) error {
	if err := p.Load(ctx); err != nil || p.engine == nil {
		return err
	}
	cat := BuildCatalog(p.engine, p.cfg.Catalog, p.now())
	p.mu.Lock()
	p.catalog = cat
	p.mu.Unlock()
	return nil
}

// Rebuild builds the catalog from the engine and gives every list whose
// content changed a new version, stored before it is served: first the
// change against the version before (when its keys are known), then the
// keys, then the snapshot, which switches readers to the new version.
func (p *Publisher) Rebuild(ctx context.Context) error {
	if p.engine == nil {
		return errNoEngine()
	}
	p.build.Lock()
	defer p.build.Unlock()
	now := p.now()
	cat := BuildCatalog(p.engine, p.cfg.Catalog, now)
	type next struct {
		v       *versioned
		keys    []string
		digest  string
		version uint64
		snap    *Snapshot
		change  *Change
	}
	var changes []next
	all := maps.Clone(cat.Lists)
	all[callKitBlock] = callKitKeys(cat.CallKit("block"))
	all[callKitIdentify] = callKitKeys(cat.CallKit("identify"))
	top := map[string][]string{} // list → its keys ranked, as many as the largest limit
	p.mu.RLock()
	for _, v := range p.listsInOrder() {
		keys := all[v.name]
		if v.parent != "" {
			if keys = all[v.parent]; len(keys) > v.limit {
				if top[v.parent] == nil {
					top[v.parent] = rankKeys(cat, keys, p.cfg.Limits[len(p.cfg.Limits)-1])
				}
				keys = slices.Sorted(slices.Values(top[v.parent][:v.limit]))
			}
		}
		d := v.digestOf(keys)
		if d == v.digest && (v.spec.Name == "" || v.current != nil) {
			continue
		}
		n := next{v: v, keys: keys, digest: d, version: v.version + 1}
		if v.spec.Name == "" {
			// CallKit versions are build times, so that a version a
			// phone holds never names other content, whatever was lost.
			n.version = max(n.version, uint64(now.Unix()))
		}
		if v.keys != nil && v.version > 0 {
			n.change = diffChange(v.name, v.version, n.version, v.digest, d, v.keys, keys, now)
		}
		changes = append(changes, n)
	}
	p.mu.RUnlock()
	for i, c := range changes {
		if c.v.spec.Name != "" {
			s, err := BuildFilter(c.v.spec, c.keys, c.version, 0, now)
			if err != nil {
				return err
			}
			changes[i].snap = s
		}
		if p.blobs == nil {
			continue
		}
		if c.change != nil {
			if err := p.blobs.PutChange(ctx, c.change); err != nil {
				return err
			}
		}
		kb := Blob{Name: keysBlob(c.v.name), Version: c.version, Created: now, Data: encodeKeys(nil, c.keys), Digest: c.digest}
		if err := p.blobs.Put(ctx, kb, 1); err != nil {
			return err
		}
		if s := changes[i].snap; s != nil {
			if err := p.blobs.Put(ctx, Blob{Name: filterBlob(s.Name), Version: s.Version, Created: now, Data: s.Bytes, Digest: c.digest}, 2); err != nil {
				return err
			}
		}
		if err := p.blobs.DropChanges(ctx, c.v.name, now.Add(-p.cfg.DeltaWindow)); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range changes {
		v := c.v
		v.keys, v.digest, v.version = c.keys, c.digest, c.version
		if c.snap != nil {
			v.current = c.snap
		}
		if c.change != nil {
			v.changes[c.version] = c.change
		}
		v.prune(now.Add(-p.cfg.DeltaWindow))
	}
	if len(changes) > 0 {
		clear(p.deltas)
		clear(p.rankedCache)
	}
	p.catalog = cat
	return nil
}

// rankKeys returns the n most strongly flagged of a list's keys (number
// keys, or CallKit keys) in Rank order.
func rankKeys(cat *Catalog, keys []string, n int) []string {
	if len(keys) == 0 || !strings.Contains(keys[0], "\t") {
		return cat.Top(keys, n)
	}
	byNumber := make(map[string]string, len(keys))
	numbers := make([]string, len(keys))
	for i, k := range keys {
		num, _, _ := strings.Cut(k, "\t")
		numbers[i] = "+" + strings.TrimLeft(num, "0")
		byNumber[numbers[i]] = k
	}
	r := cat.Top(numbers, n)
	for i, num := range r {
		r[i] = byNumber[num]
	}
	return r
}

// digest identifies a sorted key list.
func digest(keys []string) string {
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// digestOf identifies a list's content and, for filters, the parameters
// it is built with, so that a new rate makes a new version.
func (v *versioned) digestOf(keys []string) string {
	d := digest(keys)
	if v.spec.Name != "" {
		d += fmt.Sprintf("/%g/%g", v.spec.FPRate, v.spec.Headroom)
	}
	return d
}

// callKitKeys encodes CallKit entries as sortable list keys, the same in
// every language: zero-padded number, tab, verdict, tab, category (both
// empty on the block list). A relabelled number is a removal and an
// addition.
func callKitKeys(es []CallKitEntry) []string {
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = fmt.Sprintf("%020d\t%s\t%s", e.Number, e.Verdict, e.Category)
	}
	return keys
}

// Filters returns the current snapshots, in the order phones test them.
func (p *Publisher) Filters() []*Snapshot {
	s, _ := p.CappedFilters(0)
	return s
}

// CappedFilters returns the current snapshots capped at limit entries (0:
// uncapped), in the order phones test them; limit must be one of
// PublisherConfig.Limits.
func (p *Publisher) CappedFilters(limit int) ([]*Snapshot, error) {
	if err := p.checkLimit(limit); err != nil {
		return nil, err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*Snapshot
	for _, spec := range p.cfg.Filters {
		name := spec.Name
		if limit > 0 {
			name = cappedName(name, limit)
		}
		if s := p.lists[name].current; s != nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkLimit accepts 0 (no cap) and the configured limits.
func (p *Publisher) checkLimit(limit int) error {
	if limit != 0 && !slices.Contains(p.cfg.Limits, limit) {
		return labels.Errorf(labels.EInvalid, "limit must be one of %v", p.cfg.Limits)
	}
	return nil
}

// FilterQuery asks for a filter download.
type FilterQuery struct {
	// Name is a filter's name (fraud), or a capped filter's (fraud@2000).
	Name string
	// Since is the version the phone holds; 0 for the full snapshot.
	Since uint64
	// Limit caps the filter (0: no cap); one of PublisherConfig.Limits.
	Limit int
}

// Filter returns the current snapshot of the filter q names or, with
// q.Since > 0, a delta of the keys added since that version when the
// changes since are known (within the delta window), none removed a key,
// and the delta is less than half the full size. A capped filter's
// changes are those of its capped set: a key that fell out of the cap is a
// removal. ok is false for an unknown filter name.
func (p *Publisher) Filter(q FilterQuery) (s *Snapshot, ok bool, err error) {
	if err := p.checkLimit(q.Limit); err != nil {
		return nil, false, err
	}
	name, since := q.Name, q.Since
	if q.Limit > 0 {
		name = cappedName(name, q.Limit)
	}
	p.mu.RLock()
	v, known := p.lists[name]
	if known && v.parent != "" && v.current == nil && p.lists[v.parent].current != nil {
		p.mu.RUnlock()
		return nil, true, labels.Errorf(labels.EUnavailable, "the capped filter %s is not built yet", name)
	}
	if !known || v.spec.Name == "" || v.current == nil {
		p.mu.RUnlock()
		return nil, false, nil
	}
	cur := v.current
	if since == 0 || since > cur.Version {
		p.mu.RUnlock()
		return cur, true, nil
	}
	cacheKey := name + "/" + strconv.FormatUint(since, 10)
	if d := p.deltas[cacheKey]; d != nil {
		p.mu.RUnlock()
		return d, true, nil
	}
	chain, found := v.chain(since)
	spec := v.spec
	p.mu.RUnlock()
	added, removed := netChange(chain)
	// A Bloom filter cannot forget: when a number left the list since (a
	// cleared business), only the full snapshot stops flagging it.
	if !found || len(removed) > 0 {
		return cur, true, nil
	}
	d, err := BuildFilter(spec, slices.Sorted(maps.Keys(added)), cur.Version, since, cur.Created)
	if err != nil {
		return nil, true, err
	}
	if len(d.Bytes)*2 >= len(cur.Bytes) {
		return cur, true, nil
	}
	p.mu.Lock()
	if p.lists[name].current == cur {
		p.deltas[cacheKey] = d
	}
	p.mu.Unlock()
	return d, true, nil
}

// chain returns the changes from since (exclusive) to the current
// version, newest first; found is false when one of them is not known.
// p.mu is held.
func (v *versioned) chain(since uint64) (chain []*Change, found bool) {
	ver, dig := v.version, v.digest
	for ver > since {
		c := v.changes[ver]
		if c == nil || c.Digest != dig {
			return nil, false
		}
		chain = append(chain, c)
		ver, dig = c.Prev, c.PrevDigest
	}
	return chain, ver == since
}

// addedKeys returns the keys of cur not in old; both are sorted.
func addedKeys(old, cur []string) []string {
	var out []string
	i := 0
	for _, k := range cur {
		for i < len(old) && old[i] < k {
			i++
		}
		if i < len(old) && old[i] == k {
			continue
		}
		out = append(out, k)
	}
	return out
}

// CallKitExport is an iOS Call Directory list or the changes to it.
type CallKitExport struct {
	Kind    string
	Version uint64
	Full    bool
	Entries []CallKitEntry
	Removed []uint64
}

// CallKitQuery asks for a CallKit export.
type CallKitQuery struct {
	Kind string // "block" or "identify"
	// Since is the version the phone loaded last; 0 for the full list.
	Since uint64
	// Lang is the language of identification labels; "" is English.
	Lang string
	// Limit caps the entries (0: no cap), keeping the most strongly
	// flagged (see Catalog.Rank). At one of PublisherConfig.Limits the
	// capped list is published as a list of its own, with incremental
	// exports (an entry that fell out of the cap is removed); at any other
	// limit a list longer than it gets full exports only, since which
	// entries such a cap kept at an older version is not remembered.
	Limit int
}

// CallKit returns the export q asks for: changes since a remembered
// version, else the full list.
func (p *Publisher) CallKit(q CallKitQuery) (CallKitExport, error) {
	name := map[string]string{"block": callKitBlock, "identify": callKitIdentify}[q.Kind]
	switch {
	case name == "":
		return CallKitExport{}, labels.Errorf(labels.EInvalid, "kind must be block or identify")
	case q.Lang == "":
		q.Lang = "en"
	case !LabelLanguage(q.Lang):
		return CallKitExport{}, labels.Errorf(labels.EInvalid, "lang must be one of %v", slices.Sorted(maps.Keys(labelTexts)))
	}
	if q.Limit < 0 {
		return CallKitExport{}, labels.Errorf(labels.EInvalid, "limit must not be negative")
	}
	if slices.Contains(p.cfg.Limits, q.Limit) {
		name, q.Limit = cappedName(name, q.Limit), 0
	}
	p.mu.RLock()
	v := p.lists[name]
	keys, version, cat := v.keys, v.version, p.catalog
	chain, found := v.chain(q.Since)
	p.mu.RUnlock()
	if p.engine == nil {
		return CallKitExport{}, errNoEngine()
	}
	if version == 0 || keys == nil {
		return CallKitExport{}, labels.Errorf(labels.EUnavailable, "the export is not built yet")
	}
	ex := CallKitExport{Kind: q.Kind, Version: version, Full: q.Since == 0 || !found, Entries: []CallKitEntry{}, Removed: []uint64{}}
	added, removed := netChange(chain)
	if q.Limit > 0 && (len(keys) > q.Limit || len(keys)-len(added)+len(removed) > q.Limit) {
		ex.Full = true
	}
	if ex.Full {
		if q.Limit > 0 && len(keys) > q.Limit {
			if cat == nil {
				return CallKitExport{}, labels.Errorf(labels.EUnavailable, "the export is not built yet")
			}
			keys = p.ranked(name, version, cat, keys)[:q.Limit]
		}
		ex.Entries = decodeCallKit(keys, q.Lang)
		return ex, nil
	}
	ex.Entries = decodeCallKit(slices.Collect(maps.Keys(added)), q.Lang)
	still := map[uint64]bool{}
	for _, e := range ex.Entries {
		still[e.Number] = true // relabelled: removed and added
	}
	for _, e := range decodeCallKit(slices.Collect(maps.Keys(removed)), q.Lang) {
		if !still[e.Number] {
			ex.Removed = append(ex.Removed, e.Number)
		}
	}
	return ex, nil
}

// ranked returns the CallKit keys of list name at version, most strongly
// flagged first, computed once per version: capped exports are asked for
// by many phones alike.
func (p *Publisher) ranked(name string, version uint64, cat *Catalog, keys []string) []string {
	cacheKey := fmt.Sprintf("%s/%d", name, version)
	p.mu.RLock()
	r := p.rankedCache[cacheKey]
	p.mu.RUnlock()
	if r != nil {
		return r
	}
	r = rankKeys(cat, keys, len(keys))
	p.mu.Lock()
	if p.lists[name].version == version {
		p.rankedCache[cacheKey] = r
	}
	p.mu.Unlock()
	return r
}

func decodeCallKit(keys []string, lang string) []CallKitEntry {
	out := make([]CallKitEntry, 0, len(keys))
	for _, k := range keys {
		parts := strings.SplitN(k, "\t", 3)
		if len(parts) != 3 {
			continue // a key of an older format: the next version replaces it
		}
		n, _ := strconv.ParseUint(parts[0], 10, 64)
		e := CallKitEntry{Number: n, Verdict: Verdict(parts[1]), Category: parts[2]}
		if e.Verdict != "" {
			e.Label = CallKitLabel(e.Verdict, e.Category, lang)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b CallKitEntry) int { return cmpUint(a.Number, b.Number) })
	return out
}

// Prefix returns the flagged entries of a hash-prefix bucket.
func (p *Publisher) Prefix(prefix string) ([]PrefixEntry, error) {
	if len(prefix) != 5 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, labels.Errorf(labels.EInvalid, "prefix must be 5 lowercase hex digits")
	}
	p.mu.RLock()
	cat := p.catalog
	p.mu.RUnlock()
	if p.engine == nil {
		return nil, errNoEngine()
	}
	if cat == nil {
		return nil, labels.Errorf(labels.EUnavailable, "the catalog is not built yet")
	}
	return cat.Prefix(prefix), nil
}
