package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
)

// The fault suite (issue 11, part 8): the real binary killed, frozen and
// doubled, over loopback only. Waits on conditions are generous: CI is a
// busy two-core machine.

// reportAs files one report by uid and returns the status.
func reportAs(t *testing.T, base string, issuer *api.LocalIssuer, uid, number, category, clientID string) (int, map[string]any) {
	t.Helper()
	tok, err := issuer.Issue(uid, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return call(t, "POST", base+"/v1/reports", tok, fmt.Sprintf(`{"number":%q,"category":%q,"client_report_id":%q}`, number, category, clientID))
}

// TestTwoWritersOneDataDir: a second server on a data directory in use is
// refused at once, naming the process that holds it.
func TestTwoWritersOneDataDir(t *testing.T) {
	data := t.TempDir()
	first := startProc(t, "--data", data)
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary(t), "serve", "--listen", "127.0.0.1:0", "--data", data)
	second.Stderr = &stderr
	err := second.Run()
	holder := fmt.Sprintf("pid %d on ", first.cmd.Process.Pid)
	if code := second.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(stderr.String(), holder) {
		t.Fatalf("second server: exit %d (%v), stderr:\n%s\nwant exit 1 naming %q", code, err, stderr.String(), holder)
	}
	if code, _ := call(t, "GET", first.base+"/readyz", "", ""); code != 200 {
		t.Fatalf("the first server after the refusal: readyz %d", code)
	}
}

// TestTwoWritersSharedStore: over one FerretDB run as its own process, a
// second writer waits as a standby (maintenance commands refuse to run
// beside the writer), takes over within its lease once the writer is
// killed, and serves what the writer acknowledged. A writer frozen past
// its lease acknowledges nothing when it wakes up, and stops.
func TestTwoWritersSharedStore(t *testing.T) {
	uri := mongotest.StartProcess(t)
	data := t.TempDir()
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--mongodb-uri", uri, "--data", data, "--writer-lease", "2s"}
	a := startProc(t, args...)
	if code, b := reportAs(t, a.base, issuer, "ann", "+8613800138000", "fraud", "a-1"); code != 201 {
		t.Fatalf("report to the writer: %d %v", code, b)
	}
	b := spawnProc(t, args...)
	waitFor(t, 30*time.Second, "the second writer waiting as a standby", func() bool {
		return strings.Contains(b.logs.String(), "standby: another writer holds the lease")
	})
	for _, cmd := range []string{"rebuild", "rescore"} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{cmd, "--mongodb-uri", uri, "--data", t.TempDir()}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "a callrep writer is running on this store") {
			t.Fatalf("%s beside the writer: exit %d, %s", cmd, code, errb.String())
		}
	}
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"migrate", "--mongodb-uri", uri, "--to", uri, "--to-database", "copy"}, &bytes.Buffer{}, &errb); code != 1 ||
		!strings.Contains(errb.String(), "a callrep writer is running on this store") {
		t.Fatalf("migrate beside the writer: exit %d, %s", code, errb.String())
	}

	a.kill()
	took := func() time.Duration {
		start := time.Now()
		b.waitServing(t, 30*time.Second)
		return time.Since(start)
	}()
	t.Logf("the standby serves %v after the kill (lease 2s)", took.Round(time.Millisecond))
	if code, rep := call(t, "GET", b.base+"/v1/numbers/%2B8613800138000", "", ""); code != 200 || rep["reporters"] != float64(1) {
		t.Fatalf("the old writer's report on the new one: %d %v", code, rep)
	}
	if code, body := reportAs(t, b.base, issuer, "bea", "+8613900139000", "fraud", "b-1"); code != 201 {
		t.Fatalf("report to the new writer: %d %v", code, body)
	}

	// Freeze b past its lease; c takes over; b wakes up.
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	c := startProc(t, args...)
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Woken up, the writer answers 503, or has noticed the lost lease and
	// closed its listener already: either way it acknowledges nothing.
	tok, err := issuer.Issue("cat", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", b.base+"/v1/reports", strings.NewReader(`{"number":"+8613700137000","category":"fraud","client_report_id":"c-1"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Logf("the frozen writer, woken up, had stopped serving: %v", err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("the frozen writer, woken up, answered %d %s", resp.StatusCode, body)
		if resp.StatusCode == 201 || resp.StatusCode == 200 {
			t.Fatalf("a fenced writer acknowledged a report: %d %s", resp.StatusCode, body)
		}
	}
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the fenced writer still runs:\n%s", b.logs.String())
	}
	if !strings.Contains(b.logs.String(), "lost the writer lease") {
		t.Fatalf("the fenced writer did not say why it stopped:\n%s", b.logs.String())
	}
	// The retry the 503 allows lands on the current writer.
	if code, body := reportAs(t, c.base, issuer, "cat", "+8613700137000", "fraud", "c-1"); code != 201 && code != 200 {
		t.Fatalf("retry on the current writer: %d %v", code, body)
	}
	for _, n := range []string{"%2B8613800138000", "%2B8613900139000", "%2B8613700137000"} {
		if code, rep := call(t, "GET", c.base+"/v1/numbers/"+n, "", ""); code != 200 || rep["reporters"] != float64(1) {
			t.Fatalf("%s on the third writer: %d %v", n, code, rep)
		}
	}
}

// post sends a JSON body with a bearer token; status 0 when the request
// failed (the server died). Safe in any goroutine.
func post(client *http.Client, url, tok, body string) (int, http.Header) {
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		return 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// reputations looks every number up and returns what decides a
// reputation, by number.
func reputations(t *testing.T, base string, numbers []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range numbers {
		code, rep := call(t, "GET", base+"/v1/numbers/"+strings.ReplaceAll(n, "+", "%2B"), "", "")
		if code != 200 {
			t.Fatalf("lookup %s: %d %v", n, code, rep)
		}
		out[n] = fmt.Sprint(rep["verdict"], " score=", rep["score"], " reporters=", rep["reporters"], " top=", rep["top_category"], " ", rep["categories"])
	}
	return out
}

// TestKillDuringReportFlood kills the real binary with SIGKILL while
// reports pour in: after a restart every acknowledged report is there, and
// every reputation equals the one recomputed from the whole history.
func TestKillDuringReportFlood(t *testing.T) {
	data := t.TempDir()
	args := []string{"--data", data, "--account-ramp", "0", "--signed-in-rate", "1000000", "--signed-in-burst", "100000",
		"--reports-per-minute", "100000", "--report-burst", "10000", "--daily-reports", "0"}
	srv := startProc(t, args...)
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	const users, perUser, numbersN = 120, 10, 40
	categories := []string{"fraud", "promotion", "harassment", "delivery", "safe"}
	numbers := make([]string, numbersN)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("+86139001%05d", i)
	}
	type ack struct{ uid, number, category string }
	var (
		mu       sync.Mutex
		acked    []ack
		inflight = map[string]ack{} // the report a user's kill cut off
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for u := range users {
		uid := fmt.Sprintf("flood%03d", u)
		tok, err := issuer.Issue(uid, false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range perUser {
				n, c := numbers[(u*7+i*3)%numbersN], categories[(u+i)%len(categories)]
				code, _ := post(client, srv.base+"/v1/reports", tok, fmt.Sprintf(`{"number":%q,"category":%q,"client_report_id":"f-%d"}`, n, c, i))
				if code == 0 { // killed: it may or may not be stored
					mu.Lock()
					inflight[uid] = ack{uid, n, c}
					mu.Unlock()
					return
				}
				if code == 201 {
					mu.Lock()
					acked = append(acked, ack{uid, n, c})
					mu.Unlock()
				}
			}
		})
	}
	waitFor(t, 60*time.Second, "a third of the flood acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= users*perUser/3
	})
	srv.kill()
	wg.Wait()
	t.Logf("killed with %d of %d reports acknowledged", len(acked), users*perUser)

	srv = startProc(t, args...)
	// A reporter's later report on a number replaces the earlier: the
	// latest acknowledged one is the live label.
	latest := map[[2]string]string{}
	for _, a := range acked {
		latest[[2]string{a.uid, a.number}] = a.category
	}
	for k, category := range latest {
		tok, _ := issuer.Issue(k[0], false, time.Hour)
		code, rep := call(t, "GET", srv.base+"/v1/numbers/"+strings.ReplaceAll(k[1], "+", "%2B"), tok, "")
		my, _ := rep["my_label"].(map[string]any)
		if code != 200 || my == nil {
			t.Fatalf("%s's acknowledged report on %s is missing after the restart: %d %v", k[0], k[1], code, rep)
		}
		cut := inflight[k[0]]
		if got := my["category"]; got != category && (cut.number != k[1] || got != cut.category) {
			t.Fatalf("%s on %s: got %v, want %s (or %+v, cut off by the kill)", k[0], k[1], got, category, cut)
		}
	}
	after := reputations(t, srv.base, numbers)
	srv.stop()

	// Recompute from the whole history: forget the snapshot and start.
	m, err := labels.OpenMongo(context.Background(), labels.MongoConfig{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DB.Collection("meta").DeleteOne(context.Background(), bson.M{"_id": "labels_snapshot"}); err != nil {
		t.Fatal(err)
	}
	m.Close(context.Background())
	srv = startProc(t, args...)
	if !strings.Contains(srv.logs.String(), `"snapshot":0`) {
		t.Fatalf("the recomputation loaded a snapshot:\n%s", srv.logs.String())
	}
	recomputed := reputations(t, srv.base, numbers)
	for _, n := range numbers {
		if after[n] != recomputed[n] {
			t.Errorf("%s after the restart: %s; recomputed from the history: %s", n, after[n], recomputed[n])
		}
	}
}

// TestStoreFrozenAndKilled runs the real binary on a FerretDB process
// that is frozen (SIGSTOP) and later killed and started again: lookups
// keep answering, writes answer 503 with Retry-After (fast once storage is
// known down), the server recovers without a restart, nothing
// acknowledged is lost and nothing stored is left unapplied.
func TestStoreFrozenAndKilled(t *testing.T) {
	p := mongotest.Start(t)
	data := t.TempDir()
	srv := startProc(t, "--mongodb-uri", p.URI, "--data", data, "--signed-in-rate", "1000000", "--signed-in-burst", "100000")
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 60 * time.Second}
	number := func(i int) string { return fmt.Sprintf("+86137001%05d", i) }
	send := func(i int) (int, http.Header, time.Duration) {
		tok, _ := issuer.Issue(fmt.Sprint("frozen", i), false, time.Hour)
		start := time.Now()
		code, h := post(client, srv.base+"/v1/reports", tok, fmt.Sprintf(`{"number":%q,"category":"fraud","client_report_id":"x"}`, number(i)))
		return code, h, time.Since(start)
	}
	reporters := func(i int) any {
		code, rep := call(t, "GET", srv.base+"/v1/numbers/"+strings.ReplaceAll(number(i), "+", "%2B"), "", "")
		if code != 200 {
			t.Fatalf("lookup with storage down: %d %v", code, rep)
		}
		return rep["reporters"]
	}
	mustFail := func(i int, within time.Duration) {
		t.Helper()
		code, h, took := send(i)
		if code != 503 || h.Get("Retry-After") == "" || took > within {
			t.Fatalf("report %d with storage down: %d Retry-After %q after %v, want 503 with Retry-After within %v", i, code, h.Get("Retry-After"), took, within)
		}
		t.Logf("report %d with storage down: 503 after %v", i, took.Round(time.Millisecond))
	}
	recovers := func(i int) {
		t.Helper()
		waitFor(t, 30*time.Second, "writes accepted again", func() bool { code, _, _ := send(i); return code == 201 || code == 200 })
	}
	applied := func(i int) {
		t.Helper()
		waitFor(t, 30*time.Second, fmt.Sprintf("report %d applied", i), func() bool { return reporters(i) == float64(1) })
	}
	if code, _, _ := send(0); code != 201 {
		t.Fatalf("report: %d", code)
	}

	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	mustFail(1, 15*time.Second)
	mustFail(2, 2*time.Second)
	start := time.Now()
	if reporters(0) != float64(1) || time.Since(start) > 2*time.Second {
		t.Fatalf("lookup with storage frozen: took %v", time.Since(start))
	}
	// Thawed after the first commit gave up: its insert lands late.
	waitFor(t, 30*time.Second, "the frozen commit giving up", func() bool {
		return strings.Contains(srv.logs.String(), "storage write failed")
	})
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	recovers(3)
	applied(1)

	p.Kill()
	mustFail(4, 15*time.Second)
	mustFail(5, 2*time.Second)
	if reporters(0) != float64(1) {
		t.Fatal("lookup with storage killed lost a report")
	}
	p.Restart()
	recovers(6)
	applied(4)

	// What storage holds is what memory serves.
	m, err := labels.OpenMongo(context.Background(), labels.MongoConfig{URI: p.URI, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	for i := range 7 {
		n, err := m.DB.Collection("reports").CountDocuments(context.Background(), bson.M{"key": number(i)})
		if err != nil {
			t.Fatal(err)
		}
		if got := reporters(i); got != float64(n) {
			t.Errorf("number %d: %d stored reports, %v reporters served", i, n, got)
		}
	}
}

// TestEraseLargeHistoryUnderLoad erases a user with 10,000 reports on the
// real binary while others keep reporting: the job is accepted at once
// (202), finishes with truthful counts, leaves no label or report naming
// the user, their token stops working, and every other user's report is
// acknowledged meanwhile (none refused, none waiting on the erasure).
func TestEraseLargeHistoryUnderLoad(t *testing.T) {
	data := t.TempDir()
	srv := startProc(t, "--data", data, "--account-ramp", "0", "--signed-in-rate", "1000000", "--signed-in-burst", "100000",
		"--rate", "1000000", "--burst", "100000", "--reports-per-minute", "1000000", "--report-burst", "100000", "--daily-reports", "0")
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	// The clock of the token must be a second behind the erasure: a
	// revocation voids tokens issued before its second.
	gone, err := issuer.Issue("gone", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const reports = 10_000
	client := &http.Client{Timeout: 60 * time.Second}
	for b := 0; b < reports/100; b++ {
		var items []string
		for i := range 100 {
			n := b*100 + i
			items = append(items, fmt.Sprintf(`{"number":"+8613%09d","category":"promotion","comment":"call %d","client_report_id":"g-%d"}`, n, n, n))
		}
		code, _ := post(client, srv.base+"/v1/reports/batch", gone, `{"reports":[`+strings.Join(items, ",")+`]}`)
		if code != 200 {
			t.Fatalf("batch %d: %d", b, code)
		}
	}
	time.Sleep(1100 * time.Millisecond)

	// Others report throughout the erasure.
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		acked    int
		refused  []int
		slowest  time.Duration
		reported = map[string]string{}
	)
	for u := range 8 {
		uid := fmt.Sprintf("other%d", u)
		tok, err := issuer.Issue(uid, false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := fmt.Sprintf("+86139%08d", u*100000+i)
				start := time.Now()
				code, _ := post(client, srv.base+"/v1/reports", tok, fmt.Sprintf(`{"number":%q,"category":"fraud","client_report_id":"o-%d"}`, n, i))
				took := time.Since(start)
				mu.Lock()
				slowest = max(slowest, took)
				if code == 201 {
					acked++
					reported[n] = uid
				} else {
					refused = append(refused, code)
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	code, job := call(t, "DELETE", srv.base+"/v1/me", gone, "")
	if code != 202 {
		t.Fatalf("DELETE /v1/me: %d %v", code, job)
	}
	statusURL, _ := job["status_url"].(string)
	var final map[string]any
	took := waitFor(t, 5*time.Minute, "the erasure job done", func() bool {
		code, st := call(t, "GET", srv.base+statusURL, "", "")
		if code != 200 {
			t.Fatalf("status: %d %v", code, st)
		}
		final = st
		return st["state"] == "done"
	})
	close(stop)
	wg.Wait()
	erased, _ := final["erased"].(map[string]any)
	t.Logf("erased %v in %v; meanwhile others had %d reports acknowledged, the slowest in %v", erased, took.Round(time.Millisecond), acked, slowest.Round(time.Millisecond))
	if erased["erased_labels"] != float64(reports) || erased["pseudonymised_reports"].(float64) < reports {
		t.Fatalf("erasure counts %v, want %d labels and at least %d reports", erased, reports, reports)
	}
	if len(refused) > 0 || acked == 0 {
		t.Fatalf("during the erasure other users' reports were refused: %v (%d acknowledged)", refused, acked)
	}
	// The token no longer works; the numbers no longer count the user.
	if code, _ := call(t, "GET", srv.base+"/v1/me/reports", gone, ""); code != 401 {
		t.Fatalf("the erased user's token: %d, want 401", code)
	}
	for _, n := range []string{"+8613000000000", "+8613000004242", "+8613000009999"} {
		if code, rep := call(t, "GET", srv.base+"/v1/numbers/"+strings.ReplaceAll(n, "+", "%2B"), "", ""); code != 200 || rep["reporters"] != float64(0) {
			t.Fatalf("%s after the erasure: %d %v", n, code, rep)
		}
	}
	// Every other user's acknowledged report is live.
	checked := 0
	for n, uid := range reported {
		if checked++; checked > 50 {
			break
		}
		tok, _ := issuer.Issue(uid, false, time.Hour)
		if code, rep := call(t, "GET", srv.base+"/v1/numbers/"+strings.ReplaceAll(n, "+", "%2B"), tok, ""); code != 200 || rep["my_label"] == nil {
			t.Fatalf("%s's report on %s is missing: %d %v", uid, n, code, rep)
		}
	}
	srv.stop()
	m, err := labels.OpenMongo(context.Background(), labels.MongoConfig{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if n, err := m.DB.Collection("reports").CountDocuments(context.Background(), bson.M{"reporter": "gone"}); err != nil || n != 0 {
		t.Fatalf("%d reports still name the erased user (%v)", n, err)
	}
}
