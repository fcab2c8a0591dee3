package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callrep/callrep/labels/mongotest"
)

// TestMain keeps the command tests on their own embedded stores: a
// MONGODB_URI in the environment (set to run the store tests against a
// deployment) would otherwise make every serve in here share one database.
// Tests that want a deployment pass --mongodb-uri.
func TestMain(m *testing.M) {
	os.Unsetenv("MONGODB_URI")
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is callrep serve running in-process.
type server struct {
	base string
	logs *syncBuffer
	stop func() int
}

// startServer runs `callrep serve` on a free loopback port and waits until
// it reports where it listens.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	codec := make(chan int, 1)
	go func() {
		codec <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), io.Discard, logs)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "callrep serving" {
				s := &server{base: "http://" + line.Addr, logs: logs}
				var once sync.Once
				code := 0
				s.stop = func() int {
					once.Do(func() { cancel(); code = <-codec })
					return code
				}
				t.Cleanup(func() { s.stop() })
				return s
			}
		}
		select {
		case code := <-codec:
			cancel()
			t.Fatalf("serve exited with %d:\n%s", code, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start:\n%s", logs.String())
	return nil
}

func runCmd(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("callrep %v: exit %d\n%s", args, code, errb.String())
	}
	return out.String(), errb.String()
}

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

// TestWalkthrough is the README's walkthrough: token, report, lookup, and
// the data surviving a restart.
func TestWalkthrough(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, "--data", data)
	if code, _ := call(t, "GET", srv.base+"/readyz", "", ""); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	var tokens []string
	for _, uid := range []string{"alice", "bob", "carol"} {
		out, _ := runCmd(t, "token", "--data", data, "--uid", uid)
		tok := strings.TrimSpace(out)
		if tok == "" || strings.Contains(tok, "\n") {
			t.Fatalf("token output %q is not one token", out)
		}
		tokens = append(tokens, tok)
		code, body := call(t, "POST", srv.base+"/v1/reports", tok, `{"number":"+8613800138000","category":"fraud","comment":"假冒客服"}`)
		if code != 201 {
			t.Fatalf("report by %s: %d %v", uid, code, body)
		}
	}
	code, rep := call(t, "GET", srv.base+"/v1/numbers/%2B8613800138000", "", "")
	// Accounts a minute old do not make a public verdict yet.
	if code != 200 || rep["reporters"] != float64(3) || rep["verdict"] != "unknown" || rep["top_category"] != "fraud" {
		t.Fatalf("lookup: %d %v", code, rep)
	}
	if code, _ := call(t, "POST", srv.base+"/v1/reports", "forged."+tokens[0], `{"number":"+8613800138000","category":"fraud"}`); code != 401 {
		t.Fatalf("forged token: got %d, want 401", code)
	}
	etag := filterETag(t, srv.base)
	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exit code %d:\n%s", code, srv.logs.String())
	}
	if strings.Contains(srv.logs.String(), tokens[0]) {
		t.Fatal("a token reached the logs")
	}

	srv2 := startServer(t, "--data", data)
	code, rep = call(t, "GET", srv2.base+"/v1/numbers/13800138000?region=CN", tokens[1], "")
	if code != 200 || rep["reporters"] != float64(3) {
		t.Fatalf("after restart: %d %v", code, rep)
	}
	if my, _ := rep["my_label"].(map[string]any); my == nil || my["category"] != "fraud" {
		t.Fatalf("my_label after restart: %v", rep["my_label"])
	}
	if again := filterETag(t, srv2.base); again != etag {
		t.Fatalf("after restart the fraud filter is %s, was %s: want the stored bytes served", again, etag)
	}
}

// filterETag downloads the fraud filter and returns its ETag and version.
func filterETag(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/v1/filters/fraud")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(body) == 0 || resp.Header.Get("ETag") == "" {
		t.Fatalf("GET /v1/filters/fraud: %d, %d bytes", resp.StatusCode, len(body))
	}
	// A rebuild would bump the version even within the same second.
	return resp.Header.Get("ETag") + " v" + resp.Header.Get("X-Callrep-Filter-Version")
}

func TestRefusesNonLoopbackLocalIssuer(t *testing.T) {
	var errb bytes.Buffer
	code := run(context.Background(), []string{"serve", "--listen", "0.0.0.0:0", "--data", t.TempDir()}, io.Discard, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--allow-nonloopback") {
		t.Fatalf("got exit %d: %s", code, errb.String())
	}
}

// TestMigrateAndRebuild moves an embedded store into another FerretDB run
// as its own process, then serves from it through MONGODB_URI semantics.
func TestMigrateAndRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a second FerretDB process")
	}
	data := t.TempDir()
	srv := startServer(t, "--data", data, "--report-burst", "200")
	tok, _ := runCmd(t, "token", "--data", data, "--uid", "dave")
	for i := range 120 {
		body := fmt.Sprintf(`{"number":"+86138001%05d","category":"promotion"}`, i)
		if code, b := call(t, "POST", srv.base+"/v1/reports", strings.TrimSpace(tok), body); code != 201 {
			t.Fatalf("report %d: %d %v", i, code, b)
		}
	}
	srv.stop()

	uri := mongotest.StartProcess(t)
	for range 2 { // a second run is idempotent
		_, errOut := runCmd(t, "migrate", "--data", data, "--to", uri)
		if !strings.Contains(errOut, "migrated") {
			t.Fatalf("migrate output: %s", errOut)
		}
	}
	_, errOut := runCmd(t, "rebuild", "--mongodb-uri", uri)
	if !strings.Contains(errOut, "rebuilt 120 reputations") {
		t.Fatalf("rebuild output: %s", errOut)
	}
	out, _ := runCmd(t, "rescore", "--mongodb-uri", uri)
	var stats struct{ Labels, Reporters, Numbers int }
	if err := json.Unmarshal([]byte(out), &stats); err != nil || stats.Labels != 120 || stats.Reporters != 1 || stats.Numbers != 120 {
		t.Fatalf("rescore output %q: %+v %v", out, stats, err)
	}
	srv2 := startServer(t, "--mongodb-uri", uri, "--data", data)
	if !strings.Contains(srv2.logs.String(), "trust estimate loaded") {
		t.Fatal("the rescore's trust estimate was not loaded at start")
	}
	code, rep := call(t, "GET", srv2.base+"/v1/numbers/%2B8613800100042", "", "")
	if code != 200 || rep["reporters"] != float64(1) {
		t.Fatalf("lookup on migrated store: %d %v", code, rep)
	}
}

// TestLookupReplica runs a writer and a stateless lookup replica over one
// database (a FerretDB process): the replica answers from storage, learns
// numbers reported after it started, serves the writer's filter bytes and
// sends writes back to the writer with a clear error.
func TestLookupReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a FerretDB process")
	}
	uri := mongotest.StartProcess(t)
	data := t.TempDir()
	writer := startServer(t, "--mongodb-uri", uri, "--data", data)
	tok, _ := runCmd(t, "token", "--data", data, "--uid", "erin")
	tok = strings.TrimSpace(tok)
	if code, b := call(t, "POST", writer.base+"/v1/reports", tok, `{"number":"+8613800138000","category":"fraud"}`); code != 201 {
		t.Fatalf("report: %d %v", code, b)
	}
	// The same --data: the replica verifies the same local tokens.
	replica := startServer(t, "--role", "lookup", "--mongodb-uri", uri, "--data", data)

	waitFor := func(number string, reporters float64) map[string]any {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, rep := call(t, "GET", replica.base+"/v1/numbers/"+strings.ReplaceAll(number, "+", "%2B"), "", "")
			if code == 200 && rep["reporters"] == reporters {
				return rep
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica never showed %s with %v reporters: %d %v", number, reporters, code, rep)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("+8613800138000", 1)
	// Reported after the replica started: the guard learns it from the log.
	if code, b := call(t, "POST", writer.base+"/v1/reports", tok, `{"number":"+8613900139000","category":"harassment"}`); code != 201 {
		t.Fatalf("report: %d %v", code, b)
	}
	rep := waitFor("+8613900139000", 1)
	if cats, _ := rep["categories"].(map[string]any); cats["harassment"] != float64(1) {
		t.Fatalf("replica answer: %v", rep)
	}
	if code, rep := call(t, "GET", replica.base+"/v1/numbers/%2B8613700000000", "", ""); code != 200 || rep["verdict"] != "unknown" {
		t.Fatalf("unknown number on the replica: %d %v", code, rep)
	}
	if code, b := call(t, "POST", replica.base+"/v1/reports", tok, `{"number":"+8613800138000","category":"fraud"}`); code != 503 {
		t.Fatalf("report to the replica: %d %v", code, b)
	}
	if filterETag(t, replica.base) != filterETag(t, writer.base) {
		t.Fatal("the replica serves other filter bytes than the writer")
	}
}

func TestFilterRatesFlag(t *testing.T) {
	cfg, err := publisherConfig("block=0.0001, benign=0.01")
	if err != nil || cfg.Filters[0].Name != "block" || cfg.Filters[0].FPRate != 0.0001 || cfg.Filters[3].FPRate != 0.01 || cfg.Filters[1].FPRate != 0.001 {
		t.Fatalf("got %+v, %v", cfg.Filters, err)
	}
	for _, bad := range []string{"block", "block=2", "nope=0.01", "fraud=x"} {
		if _, err := publisherConfig(bad); !isUsage(err) {
			t.Errorf("%q: got %v, want a usage error", bad, err)
		}
	}
}

// TestExportLiveCallerID writes the Live Caller ID datasets of a store in
// which three people reported a number as fraud: the block dataset holds
// it with value 1, and protoc --decode_raw (when installed) reads both.
func TestExportLiveCallerID(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, "--data", data, "--account-ramp", "0")
	for _, uid := range []string{"r1", "r2", "r3"} {
		tok, _ := runCmd(t, "token", "--data", data, "--uid", uid)
		if code, b := call(t, "POST", srv.base+"/v1/reports", strings.TrimSpace(tok), `{"number":"+8613800138000","category":"fraud"}`); code != 201 {
			t.Fatalf("report: %d %v", code, b)
		}
	}
	srv.stop()
	out := t.TempDir()
	stdout, _ := runCmd(t, "export", "live-caller-id", "--data", data, "--account-ramp", "0", "--out", out, "--lang", "zh-Hans")
	var sum struct {
		BlockRows    int `json:"block_rows"`
		Blocked      int `json:"blocked"`
		IdentityRows int `json:"identity_rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("output %q: %v", stdout, err)
	}
	block, err := os.ReadFile(filepath.Join(out, "block.binpb"))
	if err != nil {
		t.Fatal(err)
	}
	// One row: field 1 (0x0a), length; keyword field 1, "+8613800138000"; value field 2, one byte 1.
	want := append([]byte{0x0a, 19, 0x0a, 14}, "+8613800138000\x12\x01\x01"...)
	if !bytes.Equal(block, want) || sum.BlockRows != 1 || sum.Blocked != 1 || sum.IdentityRows != 1 {
		t.Fatalf("block dataset %q (%+v), want %q", block, sum, want)
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		return
	}
	for _, name := range []string{"block.binpb", "identity.binpb"} {
		cmd := exec.Command("protoc", "--decode_raw")
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = f
		raw, err := cmd.CombinedOutput()
		f.Close()
		if err != nil || !strings.Contains(string(raw), `"+8613800138000"`) {
			t.Fatalf("protoc --decode_raw %s: %v\n%s", name, err, raw)
		}
		t.Logf("protoc --decode_raw %s:\n%s", name, raw)
	}
}
