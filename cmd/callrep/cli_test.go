package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// runCode runs callrep with args and returns its exit code and output.
func runCode(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestHelp: callrep --help lists the commands on stdout; a command's -h
// lists its flags and exits 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errs := runCode(t, args...)
		if code != 0 || !strings.Contains(out, "commands:") || !strings.Contains(out, "rescore") || errs != "" {
			t.Errorf("%v: got exit %d, stdout %q, stderr %q; want 0 and the commands on stdout", args, code, out, errs)
		}
	}
	for _, args := range [][]string{{"serve", "-h"}, {"help", "token"}} {
		code, _, errs := runCode(t, args...)
		if code != 0 || !strings.Contains(errs, "-data") {
			t.Errorf("%v: got exit %d, stderr %q; want 0 and the flags", args, code, errs)
		}
	}
}

// TestBadFlags: every refused value names its flag, once, with exit 2,
// before anything is opened.
func TestBadFlags(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"serve", "--filter-interval", "0s"}, "-filter-interval"},
		{[]string{"serve", "--rescore-interval", "-1m"}, "-rescore-interval"},
		{[]string{"serve", "--push-lease", "0"}, "-push-lease"},
		{[]string{"serve", "--account-ramp", "-1h"}, "-account-ramp"},
		{[]string{"serve", "--filter-interval", "often"}, "-filter-interval"},
		{[]string{"serve", "--region", "XX"}, "-region"},
		{[]string{"serve", "--region", "China"}, "-region"},
		{[]string{"serve", "--listen", "nonsense"}, "-listen"},
		{[]string{"serve", "--listen", "127.0.0.1:http"}, "-listen"},
		{[]string{"serve", "--metrics-listen", "9090"}, "-metrics-listen"},
		{[]string{"serve", "--no-such-flag"}, "-no-such-flag"},
		{[]string{"token", "--uid", "a", "--ttl", "0s"}, "-ttl"},
		{[]string{"rebuild", "--region", "zz"}, "-region"},
		{[]string{"import", "ftc", "--close-timeout", "-1s", "x.csv"}, "-close-timeout"},
	} {
		code, out, errs := runCode(t, append(tc.args, "--data", data)...)
		if code != 2 || !strings.Contains(errs, tc.flag) || strings.Count(errs, "callrep:") != 1 || strings.Contains(errs, "Usage") || out != "" {
			t.Errorf("%v: got exit %d, stderr %q; want exit 2 and one error naming %s", tc.args, code, errs, tc.flag)
		}
	}
	t.Run("Env", func(t *testing.T) {
		t.Setenv("CALLREP_FILTER_INTERVAL", "0s")
		code, _, errs := runCode(t, "serve", "--data", data)
		if code != 2 || !strings.Contains(errs, "CALLREP_FILTER_INTERVAL") || !strings.Contains(errs, "--filter-interval") {
			t.Errorf("got exit %d, stderr %q; want exit 2 naming the variable and the flag", code, errs)
		}
	})
	// Zero is meaningful where the flag says so.
	if code, _, errs := runCode(t, "token", "--uid", "a", "--data", data); code != 0 {
		t.Errorf("token: got exit %d: %s", code, errs)
	}
}

// TestTokenForeignData: a token made with another --data warns that it
// made a key, and the server's 401 says whose signature it wants.
func TestTokenForeignData(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, "--data", data)
	code, _, errs := runCode(t, "token", "--uid", "alice", "--data", data)
	if code != 0 || strings.Contains(errs, "warning") {
		t.Fatalf("token with the server's --data: got exit %d, stderr %q; want no warning", code, errs)
	}
	other := t.TempDir()
	code, tok, errs := runCode(t, "token", "--uid", "alice", "--data", other)
	if code != 0 || !strings.Contains(errs, "new one was created") || !strings.Contains(errs, other) {
		t.Fatalf("token with a new --data: got exit %d, stderr %q; want a warning naming %s", code, errs, other)
	}
	if _, errs := runCmd(t, "token", "--uid", "bob", "--data", other); strings.Contains(errs, "warning") {
		t.Errorf("second token with that --data: got stderr %q, want no warning", errs)
	}
	status, body := call(t, http.MethodGet, srv.base+"/v1/me/reports", strings.TrimSpace(tok), "")
	msg, _ := body["error"].(map[string]any)["message"].(string)
	if status != http.StatusUnauthorized || !strings.Contains(msg, "not signed by this server's issuer") {
		t.Fatalf("foreign token: got %d %v, want 401 naming the issuer", status, body)
	}
}

// TestMetricsListen: with --metrics-listen, /metrics moves to its own
// listener.
func TestMetricsListen(t *testing.T) {
	srv := startServer(t, "--data", t.TempDir(), "--metrics-listen", "127.0.0.1:0")
	var metricsAddr string
	sc := bufio.NewScanner(strings.NewReader(srv.logs.String()))
	for sc.Scan() {
		var line struct {
			Msg         string
			MetricsAddr string `json:"metrics_addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "callrep serving" {
			metricsAddr = line.MetricsAddr
		}
	}
	if metricsAddr == "" || "http://"+metricsAddr == srv.base {
		t.Fatalf("metrics_addr: got %q, want an address of its own", metricsAddr)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "callrep_lookups_total") {
		t.Fatalf("metrics listener: got %d %.200s, want the metrics", resp.StatusCode, body)
	}
	if status, _ := call(t, http.MethodGet, srv.base+"/metrics", "", ""); status != http.StatusNotFound {
		t.Fatalf("/metrics on --listen: got %d, want 404", status)
	}
}
