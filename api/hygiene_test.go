package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
)

// TestBodyHygiene: bodies that encoding/json would resolve quietly (a
// duplicate key, invalid UTF-8, a lone surrogate) are refused, and nothing
// of them is stored.
func TestBodyHygiene(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	for _, tc := range []struct {
		name, body, code, message string
	}{
		{"DuplicateKey", `{"number":"+8613800138000","category":"safe","category":"fraud"}`, "invalid_json", `duplicate key "category"`},
		{"DuplicateEscapedKey", `{"number":"+8613800138000","category":"fraud","c\u0061tegory":"safe"}`, "invalid_json", `duplicate key "category"`},
		{"DuplicateNestedKey", `{"number":"+8613800138000","category":"fraud","call":{"ring_s":1,"ring_s":2}}`, "invalid_json", `duplicate key "ring_s"`},
		{"InvalidUTF8", "{\"number\":\"+8613800138000\",\"category\":\"fraud\",\"comment\":\"bad \xff byte\"}", "invalid_json", "not valid UTF-8"},
		{"LoneSurrogate", `{"number":"+8613800138000","category":"fraud","comment":"half \ud800 a pair"}`, "invalid_json", `\ud800`},
		{"LoneLowSurrogate", `{"number":"+8613800138000","category":"fraud","comment":"\udc00"}`, "invalid_json", `\udc00`},
		{"NUL", `{"number":"+8613800138000","category":"fraud","comment":"a\u0000b"}`, "invalid_argument", "U+0000"},
		{"Escape", `{"number":"+8613800138000","category":"fraud","comment":"\u001b[31mred"}`, "invalid_argument", "U+001B"},
		{"C1", `{"number":"+8613800138000","category":"fraud","comment":"\u0085"}`, "invalid_argument", "U+0085"},
		{"BidiOverride", `{"number":"+8613800138000","category":"fraud","comment":"gnp.exe\u202e"}`, "invalid_argument", "U+202E"},
		{"BidiIsolate", `{"number":"+8613800138000","category":"fraud","comment":"\u2066x\u2069"}`, "invalid_argument", "U+2066"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, env.post(t, "/v1/reports", alice, tc.body), http.StatusBadRequest, tc.code)
			if !strings.Contains(e.Error.Message, tc.message) {
				t.Errorf("message: got %q, want it to mention %s", e.Error.Message, tc.message)
			}
		})
	}
	if mine := env.mine(t, alice); len(mine) != 0 {
		t.Fatalf("alice's labels: got %+v, want none stored", mine)
	}

	t.Run("Accepted", func(t *testing.T) {
		// A surrogate pair, tabs and line breaks, and the marks
		// right-to-left text needs are all fine.
		rep := env.report(t, alice, `{"number":"+8613800138000","category":"fraud","comment":"\ud83d\ude00\tline\nשלום\u200f"}`, http.StatusCreated)
		if rep.Comment == nil || *rep.Comment != "😀\tline\nשלום\u200f" {
			t.Errorf("comment: got %v, want it as sent", rep.Comment)
		}
	})
	t.Run("BatchItemAlone", func(t *testing.T) {
		body := `{"reports":[{"number":"+8613800138001","category":"fraud","category":"safe"},` +
			`{"number":"+8613800138002","category":"fraud","comment":"\ud800"},` +
			`{"number":"+8613800138003","category":"fraud"}]}`
		r := env.post(t, "/v1/reports/batch", alice, body)
		wantStatus(t, r, http.StatusOK)
		got := decodeAs[batchResponse](t, r)
		if got.Accepted != 1 || got.Rejected != 2 || got.Results[0].Error == nil || got.Results[0].Error.Code != "invalid_json" ||
			got.Results[1].Error == nil || got.Results[1].Error.Code != "invalid_json" || got.Results[2].Status != http.StatusCreated {
			t.Fatalf("batch: got %+v, want the two bad items refused alone and the third stored", got)
		}
		wantError(t, env.post(t, "/v1/reports/batch", alice, `{"reports":[],"reports":[{}]}`), http.StatusBadRequest, "invalid_json")
	})
	t.Run("LookupDuplicateKey", func(t *testing.T) {
		wantError(t, env.post(t, "/v1/numbers/lookup", "", `{"numbers":["+8613800138000"],"numbers":["+8613800138001"]}`),
			http.StatusBadRequest, "invalid_json")
	})
}

// TestNumberFormatCharacters: invisible format characters in a number are
// ignored alike, zero-width space and bidi override.
func TestNumberFormatCharacters(t *testing.T) {
	env := newEnv(t)
	alice := env.token(t, "alice")
	for i, raw := range []string{"+86 138\u200b0013 8000", "+86 138\u202e0013 8000", "\u202a+86 138 0013 8000\u202c", "\u2068+8613800138000\u2069\ufeff"} {
		rep := env.report(t, alice, map[string]any{"number": raw, "category": "fraud", "client_report_id": fmt.Sprint("f-", i)}, http.StatusCreated)
		if rep.Number != target {
			t.Errorf("%q: got %s, want %s", raw, rep.Number, target)
		}
	}
}

// TestSlowBodyMessage: a body that stops arriving gets a 400 that says so,
// without the socket addresses of the read error.
func TestSlowBodyMessage(t *testing.T) {
	env := newEnv(t)
	srv := httptest.NewUnstartedServer(env.api.Handler())
	srv.Config.ReadTimeout = time.Second
	srv.Start()
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	partial := `{"number":"+86138`
	fmt.Fprintf(conn, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n%s",
		env.token(t, "alice"), partial)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	got := string(body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "could not be read") {
		t.Fatalf("got %d %s, want 400 saying the body could not be read", resp.StatusCode, got)
	}
	if strings.Contains(got, "127.0.0.1") || strings.Contains(got, "tcp") {
		t.Fatalf("answer %s shows the read error", got)
	}
}

// TestDailyQuotaSurvivesRestart: a new server over the same storage
// counts the day's grants, from the quota's ledger, against the quota.
func TestDailyQuotaSurvivesRestart(t *testing.T) {
	limits := smallLimits()
	limits.SignedInRequestBurst = 100
	limits.ReportsPerMinute, limits.ReportBurst = 600, 100
	limits.DailyReports = 3
	var cfg api.Config
	env := newEnv(t, withLimits(limits), func(c *api.Config) { cfg = *c })
	alice := env.token(t, "alice")
	env.report(t, alice, map[string]any{"number": "+8613800138000", "category": "fraud"}, http.StatusCreated)
	env.report(t, alice, map[string]any{"number": "+8613800138001", "category": "fraud"}, http.StatusCreated)
	// A retraction is no report.
	wantStatus(t, env.delete(t, numberPath("/v1/reports/", "+8613800138001"), alice), http.StatusOK)

	// A restart closes the server first, which writes the last grants.
	if err := env.api.Close(); err != nil {
		t.Fatal(err)
	}
	restarted, err := api.New(cfg)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(restarted.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = restarted.Close()
	})
	env.url = srv.URL
	env.report(t, alice, map[string]any{"number": "+8613800138002", "category": "fraud"}, http.StatusCreated)
	wantError(t, env.post(t, "/v1/reports", alice, map[string]any{"number": "+8613800138003", "category": "fraud"}),
		http.StatusTooManyRequests, "quota_exceeded")
	// Another reporter starts from their own count.
	env.report(t, env.token(t, "bob"), map[string]any{"number": "+8613800138003", "category": "fraud"}, http.StatusCreated)
}
