package reputation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	// Keep is how many past versions of each list are remembered for
	// deltas and incremental CallKit exports.
	Keep int
	// Catalog decides list membership.
	Catalog CatalogConfig
}

// DefaultPublisherConfig publishes block, fraud, spam and benign filters
// at 0.1% false positives (a wrong warning is worse than a missed one) with
// 25% headroom, and keeps 48 versions.
func DefaultPublisherConfig() PublisherConfig {
	var specs []FilterSpec
	for _, name := range PublicLists {
		specs = append(specs, FilterSpec{Name: name, FPRate: 0.001, Headroom: 0.25})
	}
	return PublisherConfig{Filters: specs, Keep: 48, Catalog: DefaultCatalogConfig()}
}

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
	lists   map[string]*versioned // filters and CallKit lists
	deltas  map[string]*Snapshot  // name/since → delta
}

// versioned is one list with its recent versions.
type versioned struct {
	spec    FilterSpec
	current *Snapshot // nil for CallKit lists
	version uint64
	digest  string
	keys    []string // sorted
	history []pastKeys
}

type pastKeys struct {
	version uint64
	keys    []string
}

// CallKit list names inside the publisher.
const (
	callKitBlock    = "callkit-block"
	callKitIdentify = "callkit-identify"
)

// NewPublisher returns a publisher over e; blobs may be nil (nothing is
// stored, as in tests and tools). Without an engine (a lookup replica) it
// only serves the stored filters.
func NewPublisher(cfg PublisherConfig, e *Engine, blobs *BlobStore, log *slog.Logger) *Publisher {
	if cfg.Keep <= 0 {
		cfg.Keep = 48
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Publisher{cfg: cfg, engine: e, blobs: blobs, log: log, now: time.Now, lists: map[string]*versioned{}, deltas: map[string]*Snapshot{}}
	if e != nil {
		p.now = e.cfg.Now
	}
	for _, spec := range cfg.Filters {
		p.lists[spec.Name] = &versioned{spec: spec}
	}
	p.lists[callKitBlock] = &versioned{}
	p.lists[callKitIdentify] = &versioned{}
	return p
}

// Reconfigure sets the filter specs before the first Rebuild or Load:
// rates and headroom apply from the next version of each filter.
func (p *Publisher) Reconfigure(cfg PublisherConfig) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cfg.Keep > 0 {
		p.cfg.Keep = cfg.Keep
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
	}
}

// Ready reports whether every filter has a snapshot.
func (p *Publisher) Ready() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, spec := range p.cfg.Filters {
		if p.lists[spec.Name].current == nil {
			return false
		}
	}
	return p.catalog != nil || p.engine == nil
}

func errNoEngine() error {
	return labels.Errorf(labels.EUnavailable, "this replica serves stored filters only; CallKit exports, hash prefixes and rebuilds are served by writer replicas")
}

// Load takes the stored snapshots, so that a restart or another replica
// serves the bytes the builder stored. Filters never stored are left for
// Rebuild.
func (p *Publisher) Load(ctx context.Context) error {
	if p.blobs == nil {
		return nil
	}
	for _, spec := range p.cfg.Filters {
		b, err := p.blobs.Get(ctx, "filter:"+spec.Name)
		if errors.Is(err, ErrNoBlob) {
			continue
		}
		if err != nil {
			return err
		}
		s, err := ParseFilter(b.Data, b.SHA256)
		if err != nil {
			return fmt.Errorf("reputation: stored filter %s: %w", spec.Name, err)
		}
		p.mu.Lock()
		v := p.lists[spec.Name]
		if v.current == nil || s.Version > v.version {
			v.current, v.version, v.digest = s, s.Version, b.Digest
		}
		p.mu.Unlock()
	}
	return nil
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
// content changed a new version, stored before it is served.
func (p *Publisher) Rebuild(ctx context.Context) error {
	if p.engine == nil {
		return errNoEngine()
	}
	p.build.Lock()
	defer p.build.Unlock()
	now := p.now()
	cat := BuildCatalog(p.engine, p.cfg.Catalog, now)
	type change struct {
		v    *versioned
		keys []string
		snap *Snapshot
	}
	var changes []change
	p.mu.RLock()
	for name, v := range p.lists {
		keys := cat.Lists[name]
		switch name {
		case callKitBlock:
			keys = callKitKeys(cat.CallKit("block"))
		case callKitIdentify:
			keys = callKitKeys(cat.CallKit("identify"))
		}
		if d := v.digestOf(keys); d != v.digest || (v.spec.Name != "" && v.current == nil) {
			changes = append(changes, change{v: v, keys: keys})
		}
	}
	p.mu.RUnlock()
	for i, c := range changes {
		if c.v.spec.Name == "" {
			continue
		}
		s, err := BuildFilter(c.v.spec, c.keys, c.v.version+1, 0, now)
		if err != nil {
			return err
		}
		if p.blobs != nil {
			err := p.blobs.Put(ctx, Blob{Name: "filter:" + s.Name, Version: s.Version, Created: now, Data: s.Bytes, Digest: c.v.digestOf(c.keys)}, 2)
			if err != nil {
				return err
			}
		}
		changes[i].snap = s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range changes {
		v := c.v
		if v.keys != nil { // nil: loaded from storage, keys unknown
			v.history = append(v.history, pastKeys{v.version, v.keys})
			if len(v.history) > p.cfg.Keep {
				v.history = v.history[len(v.history)-p.cfg.Keep:]
			}
		}
		v.keys, v.digest = c.keys, v.digestOf(c.keys)
		if c.snap != nil {
			v.current, v.version = c.snap, c.snap.Version
		} else {
			// CallKit versions are build times, so that a version a phone
			// holds from before a restart never names other content.
			v.version = max(v.version+1, uint64(now.Unix()))
		}
	}
	if len(changes) > 0 {
		clear(p.deltas)
	}
	p.catalog = cat
	return nil
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

// callKitKeys encodes CallKit entries as sortable list keys:
// zero-padded number, tab, label.
func callKitKeys(es []CallKitEntry) []string {
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = fmt.Sprintf("%020d\t%s", e.Number, e.Label)
	}
	return keys
}

// Filters returns the current snapshots, in the order phones test them.
func (p *Publisher) Filters() []*Snapshot {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []*Snapshot
	for _, spec := range p.cfg.Filters {
		if s := p.lists[spec.Name].current; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Filter returns the current snapshot of name or, with since > 0, a delta
// of the keys added since that version when the publisher still knows
// that version, no key left the list since, and the delta is less than
// half the full size. ok is false for an unknown filter name.
func (p *Publisher) Filter(name string, since uint64) (s *Snapshot, ok bool, err error) {
	p.mu.RLock()
	v, known := p.lists[name]
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
	old, found := v.past(since)
	keys, spec := v.keys, v.spec
	p.mu.RUnlock()
	// A Bloom filter cannot forget: when a number left the list since (a
	// cleared business), only the full snapshot stops flagging it.
	if !found || len(addedKeys(keys, old)) > 0 {
		return cur, true, nil
	}
	d, err := BuildFilter(spec, addedKeys(old, keys), cur.Version, since, cur.Created)
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

// past returns the keys of version ver, if still remembered.
func (v *versioned) past(ver uint64) ([]string, bool) {
	if ver == v.version {
		return v.keys, true
	}
	for _, h := range v.history {
		if h.version == ver {
			return h.keys, true
		}
	}
	return nil, false
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

// CallKit returns the export of kind ("block" or "identify"): changes
// since a remembered version, else the full list.
func (p *Publisher) CallKit(kind string, since uint64) (CallKitExport, error) {
	name := map[string]string{"block": callKitBlock, "identify": callKitIdentify}[kind]
	if name == "" {
		return CallKitExport{}, labels.Errorf(labels.EInvalid, "kind must be block or identify")
	}
	p.mu.RLock()
	v := p.lists[name]
	keys, version := v.keys, v.version
	old, found := v.past(since)
	p.mu.RUnlock()
	if p.engine == nil {
		return CallKitExport{}, errNoEngine()
	}
	if version == 0 {
		return CallKitExport{}, labels.Errorf(labels.EUnavailable, "the export is not built yet")
	}
	ex := CallKitExport{Kind: kind, Version: version, Full: since == 0 || !found, Entries: []CallKitEntry{}, Removed: []uint64{}}
	if ex.Full {
		ex.Entries = decodeCallKit(keys)
		return ex, nil
	}
	ex.Entries = decodeCallKit(addedKeys(old, keys))
	gone := decodeCallKit(addedKeys(keys, old))
	still := map[uint64]bool{}
	for _, e := range ex.Entries {
		still[e.Number] = true // relabelled: removed and added
	}
	for _, e := range gone {
		if !still[e.Number] {
			ex.Removed = append(ex.Removed, e.Number)
		}
	}
	return ex, nil
}

func decodeCallKit(keys []string) []CallKitEntry {
	out := make([]CallKitEntry, 0, len(keys))
	for _, k := range keys {
		num, label, _ := strings.Cut(k, "\t")
		n, _ := strconv.ParseUint(num, 10, 64)
		out = append(out, CallKitEntry{Number: n, Label: label})
	}
	slices.SortFunc(out, func(a, b CallKitEntry) int { return cmpUint(a.Number, b.Number) })
	return out
}

// Contested returns the numbers the latest catalog found with strong
// evidence on both sides; nil before the first build.
func (p *Publisher) Contested() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.catalog == nil {
		return nil
	}
	return p.catalog.Contested
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
