package api

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/reputation"
)

// Publications is what the server publishes for phones.
type Publications interface {
	Filters() []*reputation.Snapshot
	CappedFilters(limit int) ([]*reputation.Snapshot, error)
	Filter(q reputation.FilterQuery) (*reputation.Snapshot, bool, error)
	CallKit(q reputation.CallKitQuery) (reputation.CallKitExport, error)
	Prefix(prefix string) ([]reputation.PrefixEntry, error)
	Rebuild(ctx context.Context) error
}

type filterMetaJSON struct {
	Name      string    `json:"name"`
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Entries   int       `json:"entries"`
	Capacity  int       `json:"capacity"`
	M         uint      `json:"m"`
	K         uint      `json:"k"`
	FPRate    float64   `json:"fp_rate"`
	SHA256    string    `json:"sha256"`
	Bytes     int       `json:"bytes"`
}

type filterListJSON struct {
	Filters []filterMetaJSON `json:"filters"`
}

func filterList(ss []*reputation.Snapshot) filterListJSON {
	out := filterListJSON{Filters: make([]filterMetaJSON, 0, len(ss))}
	for _, s := range ss {
		out.Filters = append(out.Filters, filterMetaJSON{Name: s.Name, Version: s.Version, CreatedAt: s.Created,
			Entries: s.Entries, Capacity: s.Capacity, M: s.M, K: s.K, FPRate: s.FPRate, SHA256: s.SHA256, Bytes: len(s.Bytes)})
	}
	return out
}

// listFilters answers GET /v1/filters, capped with ?limit=N.
func (s *Server) listFilters(c *gin.Context) {
	limit, err := queryInt(c, "limit", 0, 1, math.MaxInt32)
	if err != nil {
		s.fail(c, err)
		return
	}
	ss, err := s.pubs.CappedFilters(limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=60")
	c.JSON(http.StatusOK, filterList(ss))
}

// getFilter answers GET /v1/filters/{name}: the snapshot or a delta, with
// the SHA-256 as ETag so that CDNs and phones revalidate cheaply.
func (s *Server) getFilter(c *gin.Context) {
	since, err := queryInt(c, "since", 0, 1, math.MaxInt)
	if err != nil {
		s.fail(c, err)
		return
	}
	limit, err := queryInt(c, "limit", 0, 1, math.MaxInt32)
	if err != nil {
		s.fail(c, err)
		return
	}
	snap, ok, err := s.pubs.Filter(reputation.FilterQuery{Name: c.Param("name"), Since: uint64(since), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		s.fail(c, labels.Errorf(labels.ENotFound, "no filter %q; GET /v1/filters lists them", clip(c.Param("name"))))
		return
	}
	etag := `"` + snap.SHA256 + `"`
	c.Header("ETag", etag)
	// Versioned bytes never change under their ETag; the URL of a full
	// snapshot does, so caches revalidate it after a few minutes.
	c.Header("Cache-Control", "public, max-age=300")
	c.Header("X-Callrep-Filter-Version", strconv.FormatUint(snap.Version, 10))
	c.Header("X-Callrep-Filter-Delta", strconv.FormatBool(snap.Delta()))
	for _, tag := range strings.Split(c.GetHeader("If-None-Match"), ",") {
		if t := strings.TrimSpace(tag); t == etag || t == "W/"+etag || t == "*" {
			c.Status(http.StatusNotModified)
			return
		}
	}
	c.Data(http.StatusOK, "application/octet-stream", snap.Bytes)
}

// rebuildFilters answers POST /v1/filters/rebuild for moderators.
func (s *Server) rebuildFilters(c *gin.Context) {
	if p, _ := PrincipalFromContext(c.Request.Context()); !p.Moderator {
		s.fail(c, labels.Errorf(labels.EForbidden, "rebuilding filters is for moderators"))
		return
	}
	if err := s.pubs.Rebuild(c.Request.Context()); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, filterList(s.pubs.Filters()))
}

type callKitEntryJSON struct {
	Number uint64 `json:"number"`
	Label  string `json:"label,omitempty"`
}

type callKitJSON struct {
	Kind    string             `json:"kind"`
	Version uint64             `json:"version"`
	Full    bool               `json:"full"`
	Entries []callKitEntryJSON `json:"entries"`
	Removed []uint64           `json:"removed"`
}

// exportCallKit answers GET /v1/exports/callkit.
func (s *Server) exportCallKit(c *gin.Context) {
	since, err := queryInt(c, "since", 0, 1, math.MaxInt)
	if err != nil {
		s.fail(c, err)
		return
	}
	limit, err := queryInt(c, "limit", 0, 1, math.MaxInt32)
	if err != nil {
		s.fail(c, err)
		return
	}
	ex, err := s.pubs.CallKit(reputation.CallKitQuery{Kind: c.Query("kind"), Since: uint64(since), Lang: c.Query("lang"), Limit: limit})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := callKitJSON{Kind: ex.Kind, Version: ex.Version, Full: ex.Full,
		Entries: make([]callKitEntryJSON, len(ex.Entries)), Removed: ex.Removed}
	for i, e := range ex.Entries {
		out.Entries[i] = callKitEntryJSON{Number: e.Number, Label: e.Label}
	}
	if out.Removed == nil {
		out.Removed = []uint64{}
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, out)
}

type prefixEntryJSON struct {
	SHA256      string `json:"sha256"`
	Verdict     string `json:"verdict"`
	TopCategory string `json:"top_category,omitempty"`
}

// getPrefix answers GET /v1/prefixes/{prefix}.
func (s *Server) getPrefix(c *gin.Context) {
	prefix := c.Param("prefix")
	es, err := s.pubs.Prefix(prefix)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := struct {
		Prefix  string            `json:"prefix"`
		Entries []prefixEntryJSON `json:"entries"`
	}{Prefix: prefix, Entries: make([]prefixEntryJSON, len(es))}
	for i, e := range es {
		out.Entries[i] = prefixEntryJSON{SHA256: e.SHA256, Verdict: string(e.Verdict), TopCategory: e.TopCategory}
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, out)
}
