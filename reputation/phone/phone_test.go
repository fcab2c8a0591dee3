package phone_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrep/callrep/reputation"
	"github.com/callrep/callrep/reputation/phone"
)

// server serves one fraud filter, whose bytes a test may spoil.
type server struct {
	mu    sync.Mutex
	snap  *reputation.Snapshot
	spoil func([]byte) []byte
	etag  string // overrides the ETag when set
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/v1/filters":
		json.NewEncoder(w).Encode(map[string]any{"filters": []map[string]any{{"name": "fraud", "version": s.snap.Version, "sha256": s.snap.SHA256}}})
	case "/v1/filters/fraud":
		body := bytes.Clone(s.snap.Bytes)
		etag := s.snap.SHA256
		if s.spoil != nil {
			body = s.spoil(body)
		}
		if s.etag != "" {
			etag = s.etag
		}
		w.Header().Set("ETag", `"`+etag+`"`)
		w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

func build(t *testing.T, version uint64, keys ...string) *reputation.Snapshot {
	t.Helper()
	s, err := reputation.BuildFilter(reputation.FilterSpec{Name: "fraud", FPRate: 0.001}, keys, version, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRejectsBadDownloads: a truncated, corrupted or mislabelled download
// fails Sync cleanly and the phone keeps testing with what it had.
func TestRejectsBadDownloads(t *testing.T) {
	srv := &server{snap: build(t, 1, "+8613800138000")}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	p, err := phone.Open(t.TempDir(), hs.URL, hs.Client())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	next := build(t, 2, "+8613800138000", "+8613900000000")
	for _, tc := range []struct {
		name  string
		spoil func([]byte) []byte
		etag  string
	}{
		{"Truncated", func(b []byte) []byte { return b[:len(b)/2] }, next.SHA256},
		{"BitFlipped", func(b []byte) []byte { b[len(b)-3] ^= 0x10; return b }, next.SHA256},
		{"BitFlippedWithMatchingETag", func(b []byte) []byte { b[4] = 7; return b }, ""},
		{"Empty", func([]byte) []byte { return nil }, ""},
		{"WrongETag", nil, strings.Repeat("0", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.mu.Lock()
			srv.snap, srv.spoil, srv.etag = next, tc.spoil, tc.etag
			if tc.etag == "" && tc.spoil != nil {
				// The ETag matches the spoilt bytes: only the format check can catch it.
				b := tc.spoil(bytes.Clone(next.Bytes))
				srv.etag = reputation.KeyHash(string(b))
			}
			srv.mu.Unlock()
			if err := p.Sync(t.Context()); err == nil {
				t.Fatal("a bad download was accepted")
			}
			if p.Version("fraud") != 1 || p.Check("+8613800138000") != "fraud" {
				t.Fatalf("the phone lost its filter: version %d", p.Version("fraud"))
			}
		})
	}
	srv.mu.Lock()
	srv.spoil, srv.etag = nil, ""
	srv.mu.Unlock()
	if err := p.Sync(t.Context()); err != nil || p.Version("fraud") != 2 || p.Check("+8613900000000") != "fraud" {
		t.Fatalf("good download after bad ones: version %d, %v", p.Version("fraud"), err)
	}
	reopened, err := phone.Open(p.Dir(), hs.URL, hs.Client())
	if err != nil || reopened.Version("fraud") != 2 {
		t.Fatalf("reopen: version %d, %v", reopened.Version("fraud"), err)
	}
	// A corrupt file on disk is dropped at open, not trusted.
	if err := os.WriteFile(filepath.Join(p.Dir(), "fraud.crbf"), []byte("CRBF garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	corrupt, err := phone.Open(p.Dir(), hs.URL, hs.Client())
	if err != nil || corrupt.Version("fraud") != 0 || corrupt.Check("+8613800138000") != "" {
		t.Fatalf("corrupt file: version %d, %v", corrupt.Version("fraud"), err)
	}
}
