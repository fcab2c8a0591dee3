// Package phone is callrep's reference phone: it keeps the filter
// snapshots a phone downloads, applies deltas, and tests numbers exactly
// as an app would before it rings, offline.
//
// A phone keeps its filters current like this: GET /v1/filters (cheap,
// cacheable) tells the current version of each filter; when it differs
// from the phone's, GET /v1/filters/{name}?since=<phone's version> with
// If-None-Match set to the ETag of its full snapshot answers 304 (nothing
// new), a delta of the numbers added since (kept next to the full
// snapshot and tested too), or a full snapshot, which replaces the full
// one and drops all deltas. The server sends a full snapshot whenever a
// number left the list since the phone's version, since a Bloom filter
// cannot forget: that is how a cleared business stops being flagged.
//
// An app combines the filters with what it knows better: the user's own
// label on a number (GET /v1/numbers/{number} returns it as my_label) and
// the contacts on the phone win over any filter; then block, fraud, spam
// and benign are tested in that order, and a hit may be confirmed online
// with a lookup when there is time.
package phone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/callrep/callrep/reputation"
)

// maxDownload bounds one filter download.
const maxDownload = 1 << 30

// Phone holds the filters of one device.
type Phone struct {
	dir  string
	base string
	http *http.Client

	mu      sync.RWMutex
	filters map[string]*held
}

// held is one filter on the phone: a full snapshot and the deltas since.
type held struct {
	full   *reputation.Snapshot
	deltas []*reputation.Snapshot
}

func (h *held) version() uint64 {
	if n := len(h.deltas); n > 0 {
		return h.deltas[n-1].Version
	}
	return h.full.Version
}

// Meta is one entry of GET /v1/filters.
type Meta struct {
	Name     string  `json:"name"`
	Version  uint64  `json:"version"`
	SHA256   string  `json:"sha256"`
	Entries  int     `json:"entries"`
	Capacity int     `json:"capacity"`
	M        uint    `json:"m"`
	K        uint    `json:"k"`
	FPRate   float64 `json:"fp_rate"`
	Bytes    int     `json:"bytes"`
}

// Open loads the filters kept in dir (created if needed); baseURL is the
// callrep server.
func Open(dir, baseURL string, hc *http.Client) (*Phone, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	p := &Phone{dir: dir, base: strings.TrimRight(baseURL, "/"), http: hc, filters: map[string]*held{}}
	for _, name := range reputation.PublicLists {
		h, err := p.load(name)
		if err != nil {
			return nil, err
		}
		if h != nil {
			p.filters[name] = h
		}
	}
	return p, nil
}

func (p *Phone) path(name string, i int) string {
	if i == 0 {
		return filepath.Join(p.dir, name+".crbf")
	}
	return filepath.Join(p.dir, fmt.Sprintf("%s.delta%d.crbf", name, i))
}

// load reads a filter and its deltas; a corrupt file drops the filter (it
// is downloaded again) rather than failing.
func (p *Phone) load(name string) (*held, error) {
	b, err := os.ReadFile(p.path(name, 0))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	full, err := reputation.ParseFilter(b, "")
	if err != nil || full.Delta() || full.Name != name {
		return nil, nil
	}
	h := &held{full: full}
	for i := 1; ; i++ {
		b, err := os.ReadFile(p.path(name, i))
		if err != nil {
			break
		}
		d, err := reputation.ParseFilter(b, "")
		if err != nil || !d.Delta() || d.Base != h.version() {
			break
		}
		h.deltas = append(h.deltas, d)
	}
	return h, nil
}

// Dir is where the phone keeps its filters.
func (p *Phone) Dir() string { return p.dir }

// Version returns the version the phone holds of name; 0 when none.
func (p *Phone) Version(name string) uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.versionLocked(name)
}

// Check tests key (a normalised number) against the filters in the order
// a phone shows them: block, fraud, spam, benign. It returns the first
// list that may hold the key, or "".
func (p *Phone) Check(key string) string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, name := range reputation.PublicLists {
		h := p.filters[name]
		if h == nil {
			continue
		}
		if h.full.Test(key) {
			return name
		}
		for _, d := range h.deltas {
			if d.Test(key) {
				return name
			}
		}
	}
	return ""
}

// Sync brings every filter up to date. A download that is corrupt,
// truncated or does not match its ETag is rejected and the filter kept as
// it was; the error says which.
func (p *Phone) Sync(ctx context.Context) error {
	metas, err := p.list(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range metas {
		if p.Version(m.Name) == m.Version {
			continue
		}
		if err := p.fetch(ctx, m.Name); err != nil {
			errs = append(errs, fmt.Errorf("filter %s: %w", m.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Phone) list(ctx context.Context) ([]Meta, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/v1/filters", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/filters: %s", resp.Status)
	}
	var out struct{ Filters []Meta }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("GET /v1/filters: %w", err)
	}
	return out.Filters, nil
}

func (p *Phone) fetch(ctx context.Context, name string) error {
	p.mu.RLock()
	h := p.filters[name]
	p.mu.RUnlock()
	u := p.base + "/v1/filters/" + url.PathEscape(name)
	if h != nil {
		u += "?since=" + strconv.FormatUint(h.version(), 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if h != nil {
		req.Header.Set("If-None-Match", `"`+h.full.SHA256+`"`)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if len(body) > maxDownload {
		return errors.New("download: too large")
	}
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	if etag == "" {
		return errors.New("download: no ETag")
	}
	s, err := reputation.ParseFilter(body, etag)
	if err != nil {
		return err
	}
	if s.Name != name {
		return fmt.Errorf("download is filter %q", s.Name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.filters[name]
	switch {
	case !s.Delta():
		if err := p.store(name, 0, s.Bytes); err != nil {
			return err
		}
		for i := 1; ; i++ { // drop the deltas of the old snapshot
			if os.Remove(p.path(name, i)) != nil {
				break
			}
		}
		p.filters[name] = &held{full: s}
	case cur == nil || s.Base != cur.version():
		return fmt.Errorf("delta from version %d does not fit the phone's %d", s.Base, p.versionLocked(name))
	default:
		if err := p.store(name, len(cur.deltas)+1, s.Bytes); err != nil {
			return err
		}
		cur.deltas = append(cur.deltas, s)
	}
	return nil
}

func (p *Phone) versionLocked(name string) uint64 {
	if h := p.filters[name]; h != nil {
		return h.version()
	}
	return 0
}

// store writes a file atomically: a crash leaves the old one or the new.
func (p *Phone) store(name string, i int, b []byte) error {
	f, err := os.CreateTemp(p.dir, name+".tmp*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), p.path(name, i))
}
