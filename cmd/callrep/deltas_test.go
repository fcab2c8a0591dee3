package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/reputation"
)

// download is one GET of a filter file.
type download struct {
	status  int
	version uint64
	delta   bool
	etag    string
	body    []byte
	snap    *reputation.Snapshot // nil unless status 200 and the file parses
}

// getFilter downloads path from base as a phone does, with ifNoneMatch
// when not empty.
func getFilter(t *testing.T, base, path, ifNoneMatch string) download {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	d := download{status: resp.StatusCode, etag: resp.Header.Get("ETag"), delta: resp.Header.Get("X-Callrep-Filter-Delta") == "true"}
	d.version, _ = strconv.ParseUint(resp.Header.Get("X-Callrep-Filter-Version"), 10, 64)
	if d.body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if d.status == http.StatusOK {
		d.snap, _ = reputation.ParseFilter(d.body, strings.Trim(d.etag, `"`))
	}
	return d
}

// TestDeltasAcrossRestartAndReplica is the check with the real
// binary: a phone at the previous filter version gets a delta, not the
// full snapshot, from a restarted writer and, byte for byte the same, from
// a lookup replica; capped filters too.
func TestDeltasAcrossRestartAndReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts a FerretDB process")
	}
	uri := mongotest.StartProcess(t)
	data := t.TempDir()
	args := []string{"--mongodb-uri", uri, "--data", data, "--account-ramp", "0", "--filter-interval", "1s"}
	writer := startProc(t, args...)
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	const first, second = "+8613800138000", "+8613900139000"
	const wait = 30 * time.Second
	// holding waits until the writer's filter at path holds number.
	holding := func(path, number string) download {
		t.Helper()
		var d download
		waitFor(t, wait, path+" holding "+number, func() bool {
			d = getFilter(t, writer.base, path, "")
			return d.snap != nil && !d.snap.Delta() && d.snap.Test(number)
		})
		return d
	}
	paths := []string{"/v1/filters/fraud", "/v1/filters/fraud?limit=1000"}
	flagFraud(t, writer.base, issuer, first, "a")
	v1 := map[string]download{}
	for _, p := range paths {
		v1[p] = holding(p, first)
	}
	flagFraud(t, writer.base, issuer, second, "b")
	want := map[string]download{}
	for _, p := range paths {
		v2 := holding(p, second)
		if v2.version <= v1[p].version {
			t.Fatalf("%s: version %d after %d", p, v2.version, v1[p].version)
		}
		want[p] = getFilter(t, writer.base, fmt.Sprintf("%s%ssince=%d", p, sep(p), v1[p].version), v1[p].etag)
		if !want[p].delta || want[p].snap == nil || want[p].snap.Base != v1[p].version || !want[p].snap.Test(second) {
			t.Fatalf("%s since v%d before the restart: got %d, delta %v", p, v1[p].version, want[p].status, want[p].delta)
		}
	}

	writer.stop()
	writer = startProc(t, args...)
	replica := startProc(t, "--role", "lookup", "--mongodb-uri", uri, "--data", data)
	for name, srv := range map[string]*proc{"restarted writer": writer, "lookup replica": replica} {
		for _, p := range paths {
			path := fmt.Sprintf("%s%ssince=%d", p, sep(p), v1[p].version)
			var got download
			waitFor(t, wait, name+" answering "+path, func() bool {
				got = getFilter(t, srv.base, path, v1[p].etag)
				return got.status == http.StatusOK
			})
			if !got.delta || got.version != want[p].version || !bytes.Equal(got.body, want[p].body) {
				t.Errorf("%s, %s: got delta %v v%d (%d bytes), want the delta to v%d (%d bytes) byte for byte",
					name, path, got.delta, got.version, len(got.body), want[p].version, len(want[p].body))
			}
		}
	}
}

// sep is what joins another query parameter to path.
func sep(path string) string {
	if strings.Contains(path, "?") {
		return "&"
	}
	return "?"
}
