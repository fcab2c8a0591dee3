package contract

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// CallKitPage is a CallKit export exactly as GET /v1/exports/callkit
// answers it, with the query that asked for it.
type CallKitPage struct {
	Query   string         `json:"query"`
	Kind    string         `json:"kind"`
	Version uint64         `json:"version"`
	Full    bool           `json:"full"`
	Entries []CallKitEntry `json:"entries"`
	Removed []uint64       `json:"removed"`
}

// CallKitEntry is one entry of a CallKitPage.
type CallKitEntry struct {
	Number uint64 `json:"number"`
	Label  string `json:"label,omitempty"`
}

// PrefixVector is a key's hash-prefix bucket name.
type PrefixVector struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Prefix string `json:"prefix"`
}

// LiveCallerIDVector holds the two Live Caller ID datasets of a catalog.
type LiveCallerIDVector struct {
	Lang     string `json:"lang"`
	Block    string `json:"block"`    // base64 KeywordDatabase
	Identity string `json:"identity"` // base64 KeywordDatabase
}

type exportFile struct {
	Contract     int                `json:"contract"`
	Description  string             `json:"description"`
	CallKit      []CallKitPage      `json:"callkit"`
	Prefixes     []PrefixVector     `json:"prefixes"`
	LiveCallerID LiveCallerIDVector `json:"live_caller_id"`
}

// exportVectors runs the real engine and publisher over a few reports at
// a fixed clock: two versions of the CallKit lists, hash prefixes and the
// Live Caller ID datasets.
func exportVectors() (exportFile, error) {
	f := exportFile{Contract: Version, Description: "CallKit pages (full, localised, incremental), hash-prefix buckets and Live Caller ID datasets; see docs/phone-contract.md, section Exports"}
	now := epoch
	clock := func() time.Time { return now }
	cfg := reputation.DefaultConfig()
	cfg.Now, cfg.Ramp = clock, 0
	e := reputation.NewEngine(cfg)
	seq := 0
	label := func(reporter, key, cat string) *labels.Label {
		seq++
		return &labels.Label{Reporter: reporter, Key: key, Category: cat, Valid: true, Source: labels.SourceApp,
			ReportID: fmt.Sprintf("v%04d", seq), CreatedAt: now.Add(-time.Hour), FirstAt: now.Add(-time.Hour),
			IPPrefix: fmt.Sprintf("198.51.%d.0/24", seq)}
	}
	live := map[string]*labels.Label{}
	report := func(key, cat string, reporters ...string) {
		for _, r := range reporters {
			l := label(r, key, cat)
			e.LabelChanged(live[r+" "+key], l)
			live[r+" "+key] = l
		}
	}
	retract := func(key string, reporters ...string) {
		for _, r := range reporters {
			e.LabelChanged(live[r+" "+key], nil)
			delete(live, r+" "+key)
		}
	}
	three := []string{"alice", "bob", "carol"}
	report("+8613800138000", "fraud", three...)
	report("+14155550100", "fraud", three...)
	report("CN:95588", "fraud", three...)
	report("+12025550199", "promotion", three...)
	report("+8613912345678", "delivery", "alice")

	pcfg := reputation.DefaultPublisherConfig()
	pcfg.Now = clock
	p := reputation.NewPublisher(pcfg, e, nil, nil)
	page := func(q reputation.CallKitQuery, query string) error {
		ex, err := p.CallKit(q)
		if err != nil {
			return err
		}
		pg := CallKitPage{Query: query, Kind: ex.Kind, Version: ex.Version, Full: ex.Full, Entries: []CallKitEntry{}, Removed: ex.Removed}
		for _, en := range ex.Entries {
			pg.Entries = append(pg.Entries, CallKitEntry{Number: en.Number, Label: en.Label})
		}
		f.CallKit = append(f.CallKit, pg)
		return nil
	}
	if err := p.Rebuild(context.Background()); err != nil {
		return f, err
	}
	v1, err := p.CallKit(reputation.CallKitQuery{Kind: "identify"})
	if err != nil {
		return f, err
	}
	for _, q := range []struct {
		q     reputation.CallKitQuery
		query string
	}{
		{reputation.CallKitQuery{Kind: "block"}, "kind=block"},
		{reputation.CallKitQuery{Kind: "identify"}, "kind=identify"},
		{reputation.CallKitQuery{Kind: "identify", Lang: "zh-Hans"}, "kind=identify&lang=zh-Hans"},
		{reputation.CallKitQuery{Kind: "identify", Limit: 2}, "kind=identify&limit=2"},
	} {
		if err := page(q.q, q.query); err != nil {
			return f, err
		}
	}
	cat := reputation.BuildCatalog(e, reputation.DefaultCatalogConfig(), now)
	lc := reputation.LiveCallerID(cat, reputation.LiveCallerIDOptions{Lang: "en"})
	f.LiveCallerID = LiveCallerIDVector{Lang: "en", Block: base64.StdEncoding.EncodeToString(lc.Block), Identity: base64.StdEncoding.EncodeToString(lc.Identity)}
	for _, key := range []string{"+8613800138000", "CN:95588"} {
		h := reputation.KeyHash(key)
		f.Prefixes = append(f.Prefixes, PrefixVector{Key: key, SHA256: h, Prefix: h[:5]})
	}

	// Ten minutes later: one number cleared, one new, one relabelled (its
	// reporters took their labels back, others report it as fraud).
	now = now.Add(10 * time.Minute)
	retract("+14155550100", three...)
	report("+8613900139000", "fraud", three...)
	retract("+12025550199", three...)
	report("+12025550199", "fraud", "dave", "erin", "frank")
	if err := p.Rebuild(context.Background()); err != nil {
		return f, err
	}
	since := fmt.Sprint(v1.Version)
	if err := page(reputation.CallKitQuery{Kind: "identify", Since: v1.Version}, "kind=identify&since="+since); err != nil {
		return f, err
	}
	return f, page(reputation.CallKitQuery{Kind: "block", Since: v1.Version}, "kind=block&since="+since)
}
