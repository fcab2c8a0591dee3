package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/push/fcmtest"
)

const fcmProject = "callrep-test"

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// binary builds callrep once per test run: the end-to-end tests drive the
// real binary, so that kill -9 kills a real process.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "callrep-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "callrep")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is callrep serve running as a child process.
type proc struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan struct{}
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := spawnProc(t, args...)
	p.waitServing(t, 60*time.Second)
	return p
}

// spawnProc starts callrep serve without waiting for it to serve.
func spawnProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	p.cmd.Stderr = p.logs
	p.cmd.Env = append(os.Environ(), "MONGODB_URI=")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop() })
	return p
}

// waitServing waits up to d for p to log where it serves.
func (p *proc) waitServing(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "callrep serving" {
				p.base = "http://" + line.Addr
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited:\n%s", p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start within %v:\n%s", d, p.logs.String())
}

// stop ends the process with SIGTERM, as an orchestrator would.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL: nothing is flushed.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// to returns the messages the fake accepted for token.
func to(fake *fcmtest.Server, token string) []fcmtest.Message {
	var out []fcmtest.Message
	for _, m := range fake.Messages() {
		if m.Token == token {
			out = append(out, m)
		}
	}
	return out
}

func registerDevice(t *testing.T, base, tok, fcmToken, platform, locale string) map[string]any {
	t.Helper()
	body := fmt.Sprintf(`{"token":%q,"installation_id":"inst-%s","platform":%q,"locale":%q,"app_version":"2.4.0"}`, fcmToken, fcmToken, platform, locale)
	code, d := call(t, "POST", base+"/v1/devices", tok, body)
	if code != 200 {
		t.Fatalf("register %s: %d %v", fcmToken, code, d)
	}
	return d
}

// flagFraud makes three fresh reporters report number as fraud.
func flagFraud(t *testing.T, base string, issuer *api.LocalIssuer, number, who string) {
	t.Helper()
	for i := range 3 {
		tok, _ := issuer.Issue(fmt.Sprintf("%s-flagger-%d", who, i), false, time.Hour)
		if code, b := call(t, "POST", base+"/v1/reports", tok, fmt.Sprintf(`{"number":%q,"category":"fraud"}`, number)); code != 201 {
			t.Fatalf("report: %d %v", code, b)
		}
	}
	if code, rep := call(t, "GET", base+"/v1/numbers/"+strings.ReplaceAll(number, "+", "%2B"), "", ""); code != 200 || rep["verdict"] != "fraud" {
		t.Fatalf("after three reports: %d %v", code, rep)
	}
}

func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			var v float64
			fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
			sum += v
		}
	}
	return sum
}

// TestPushEndToEnd is the issue's end-to-end check: the real binary, the
// real SDK, a fake FCM that checks what it gets.
func TestPushEndToEnd(t *testing.T) {
	fake := fcmtest.New(t, fcmProject)
	data := t.TempDir()
	srv := startProc(t, "--data", data, "--fcm-project", fcmProject, "--fcm-endpoint", fake.URL, "--account-ramp", "0")
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(uid string) string { s, _ := issuer.Issue(uid, false, time.Hour); return s }
	alice, gina, bob := tok("alice"), tok("gina"), tok("bob")
	const number = "+8613800138000"

	dev := registerDevice(t, srv.base, alice, "tok-alice-0123456789", "android", "en")
	if raw, _ := json.Marshal(dev); strings.Contains(string(raw), "tok-alice-0123456789") {
		t.Fatalf("the device answer holds the whole token: %s", raw)
	}
	registerDevice(t, srv.base, gina, "tok-gina-0123456789", "ios", "zh-Hans")
	code, inv := call(t, "POST", srv.base+"/v1/guardians/invites", alice, "")
	if code != 201 {
		t.Fatalf("invite: %d %v", code, inv)
	}
	if code, l := call(t, "POST", srv.base+"/v1/guardians/accept", gina, fmt.Sprintf(`{"code":%q,"name":"Mum"}`, inv["code"])); code != 201 {
		t.Fatalf("accept: %d %v", code, l)
	}

	// Alice looks the number up while it is unknown; then it turns fraud.
	if code, rep := call(t, "GET", srv.base+"/v1/numbers/%2B8613800138000", alice, ""); code != 200 || rep["verdict"] != "unknown" {
		t.Fatalf("lookup: %d %v", code, rep)
	}
	flagFraud(t, srv.base, issuer, number, "a")

	t.Run("RetroactiveWarning", func(t *testing.T) {
		waitFor(t, 10*time.Second, "retroactive warning", func() bool { return len(to(fake, "tok-alice-0123456789")) > 0 })
		time.Sleep(time.Second) // a second one would have arrived by now
		got := to(fake, "tok-alice-0123456789")
		if len(got) != 1 {
			t.Fatalf("got %d messages, want exactly one: %+v", len(got), got)
		}
		m := got[0]
		if m.Data["type"] != "retro_warning" || m.Data["number"] != number || m.Data["verdict"] != "fraud" || m.Data["reporters"] != "3" ||
			!strings.Contains(m.Data["body"], "+86 138 0013 8000") || m.Android["priority"] != "normal" || m.Android["collapse_key"] != "rw:"+number {
			t.Fatalf("message: %+v", m)
		}
		code, page := call(t, "GET", srv.base+"/v1/me/notifications", alice, "")
		ns, _ := page["notifications"].([]any)
		if code != 200 || len(ns) != 1 {
			t.Fatalf("inbox: %d %v", code, page)
		}
		if n := ns[0].(map[string]any); n["kind"] != "retro_warning" || n["number"] != number || !strings.Contains(n["body"].(string), "is now reported as fraud by 3 people") {
			t.Fatalf("inbox entry: %v", n)
		}
	})

	t.Run("GuardianAlert", func(t *testing.T) {
		start := time.Now()
		if code, rep := call(t, "GET", srv.base+"/v1/numbers/%2B8613800138000", alice, ""); code != 200 || rep["verdict"] != "fraud" {
			t.Fatalf("lookup: %d %v", code, rep)
		}
		waitFor(t, 2*time.Second, "guardian alert", func() bool { return len(to(fake, "tok-gina-0123456789")) > 0 })
		t.Logf("guardian alert after %v", time.Since(start).Round(time.Millisecond))
		m := to(fake, "tok-gina-0123456789")[0]
		headers, _ := m.APNS["headers"].(map[string]any)
		// Gina's phone is an iPhone: her message carries the apns block only.
		if m.Data["type"] != "guardian_alert" || headers["apns-priority"] != "10" || m.Android != nil ||
			!strings.Contains(m.Data["body"], "Mum的手机正在响铃") || headers["apns-expiration"] == "" {
			t.Fatalf("alert: %+v", m)
		}
		// Within ten minutes the same number alerts nobody again.
		call(t, "GET", srv.base+"/v1/numbers/%2B8613800138000", alice, "")
		time.Sleep(time.Second)
		if n := len(to(fake, "tok-gina-0123456789")); n != 1 {
			t.Fatalf("got %d alerts, want 1", n)
		}
	})

	t.Run("OthersSeeNothing", func(t *testing.T) {
		code, list := call(t, "GET", srv.base+"/v1/devices", bob, "")
		if devs, _ := list["devices"].([]any); code != 200 || len(devs) != 0 {
			t.Fatalf("bob's devices: %d %v", code, list)
		}
		if code, b := call(t, "DELETE", srv.base+"/v1/devices/"+dev["id"].(string), bob, ""); code != 404 {
			t.Fatalf("bob deleting alice's device: %d %v", code, b)
		}
		code, page := call(t, "GET", srv.base+"/v1/me/notifications", bob, "")
		if ns, _ := page["notifications"].([]any); code != 200 || len(ns) != 0 {
			t.Fatalf("bob's inbox: %d %v", code, page)
		}
		code, list = call(t, "GET", srv.base+"/v1/devices", alice, "")
		if devs, _ := list["devices"].([]any); code != 200 || len(devs) != 1 {
			t.Fatalf("alice's devices: %d %v", code, list)
		}
	})

	t.Run("RetriedBackedOffPruned", func(t *testing.T) {
		carol, dave := tok("carol"), tok("dave")
		registerDevice(t, srv.base, carol, "tok-carol-0123456789", "android", "zh-Hant")
		registerDevice(t, srv.base, dave, "tok-dave-0123456789", "android", "en")
		// 429 with Retry-After: the outbox waits that long; then a 503,
		// which the SDK retries itself; then success.
		fake.AnswerFor("tok-carol-0123456789", fcmtest.WithRetryAfter(fcmtest.Quota, 1), fcmtest.Unavailable, fcmtest.OK)
		fake.AnswerFor("tok-dave-0123456789", fcmtest.Unregistered)
		const other = "+8613900139000"
		for _, tk := range []string{carol, dave} {
			call(t, "GET", srv.base+"/v1/numbers/%2B8613900139000", tk, "")
		}
		start := time.Now()
		flagFraud(t, srv.base, issuer, other, "b")
		waitFor(t, 10*time.Second, "carol's warning after a 429", func() bool { return len(to(fake, "tok-carol-0123456789")) == 1 })
		if took := time.Since(start); took < time.Second {
			t.Errorf("delivered after %v, want Retry-After (1s) honoured", took)
		}
		waitFor(t, 5*time.Second, "dave's device pruned", func() bool {
			_, list := call(t, "GET", srv.base+"/v1/devices", dave, "")
			devs, _ := list["devices"].([]any)
			return len(devs) == 0
		})
		if metric(t, srv.base, "callrep_push_retried_total") < 1 || metric(t, srv.base, "callrep_push_tokens_pruned_total") != 1 {
			t.Errorf("metrics: retried %v, pruned %v", metric(t, srv.base, "callrep_push_retried_total"), metric(t, srv.base, "callrep_push_tokens_pruned_total"))
		}
	})

	t.Run("EraseMe", func(t *testing.T) {
		code, job := call(t, "DELETE", srv.base+"/v1/me", alice, "")
		if code != http.StatusAccepted {
			t.Fatalf("erase: %d %v", code, job)
		}
		waitFor(t, 30*time.Second, "the erasure done", func() bool {
			_, job = call(t, "GET", srv.base+job["status_url"].(string), "", "")
			return job["state"] == "done"
		})
		e := job["erased"].(map[string]any)
		if e["erased_devices"] != float64(1) || e["erased_notifications"].(float64) < 1 ||
			e["erased_lookup_records"] != float64(1) || e["erased_guardian_links"] != float64(1) {
			t.Fatalf("erased: %v", e)
		}
		_, list := call(t, "GET", srv.base+"/v1/guardians", gina, "")
		if ps, _ := list["protecting"].([]any); len(ps) != 0 {
			t.Fatalf("gina still protects alice: %v", list)
		}
		_, page := call(t, "GET", srv.base+"/v1/me/notifications", alice, "")
		if ns, _ := page["notifications"].([]any); len(ns) != 0 {
			t.Fatalf("alice's inbox after erasure: %v", page)
		}
	})
	if strings.Contains(srv.logs.String(), "tok-alice-0123456789") || strings.Contains(srv.logs.String(), "tok-gina") {
		t.Fatal("a device token reached the logs")
	}
	if fake.Bad() != 0 {
		t.Fatalf("the fake refused %d requests", fake.Bad())
	}
}

// TestPushSurvivesKill kills the service with SIGKILL in the middle of a
// fan-out and restarts it: every recorded warning is delivered, and only
// those in flight at the kill are delivered twice (at-least-once; the
// data key "id"-less collapse key lets the phone show one).
func TestPushSurvivesKill(t *testing.T) {
	fake := fcmtest.New(t, fcmProject)
	fake.SetDelay(40 * time.Millisecond) // 50 in flight: about 1,250 messages/s
	data := t.TempDir()
	args := []string{"--data", data, "--fcm-project", fcmProject, "--fcm-endpoint", fake.URL, "--account-ramp", "0",
		"--signed-in-rate", "1000000", "--signed-in-burst", "100000", "--push-lease", "3s"}
	srv := startProc(t, args...)
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	const users = 700 // two batches: 500 and 200
	const number = "+8613700137000"
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			tk, _ := issuer.Issue(fmt.Sprintf("user%04d", i), false, time.Hour)
			registerDevice(t, srv.base, tk, fmt.Sprintf("tok-user%04d-abcdefgh", i), "android", "en")
			call(t, "GET", srv.base+"/v1/numbers/%2B8613700137000", tk, "")
		})
	}
	setup := time.Now()
	wg.Wait()
	t.Logf("%d users registered and looked up in %v", users, time.Since(setup).Round(time.Millisecond))
	flagFraud(t, srv.base, issuer, number, "k")
	setup = time.Now()
	waitFor(t, 20*time.Second, "the fan-out under way", func() bool { return fake.Count() >= 540 })
	srv.kill()
	before := fake.Count()
	t.Logf("killed after %d of %d messages", before, users)

	srv = startProc(t, args...)
	// The dead sender's lease runs out first (3 s).
	defer func() {
		if t.Failed() {
			seen := map[string]int{}
			for _, m := range fake.Messages() {
				seen[m.Token]++
			}
			t.Logf("%d distinct tokens in %d messages, count %d", len(seen), len(fake.Messages()), fake.Count())
			t.Logf("logs after the restart:\n%s", srv.logs.String())
			resp, err := http.Get(srv.base + "/metrics")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, "callrep_push") {
						t.Log(l)
					}
				}
			}
		}
	}()
	waitFor(t, 40*time.Second, "every warning delivered", func() bool {
		seen := map[string]bool{}
		for _, m := range fake.Messages() {
			if m.Topic == "" {
				seen[m.Token] = true
			}
		}
		return len(seen) == users
	})
	time.Sleep(500 * time.Millisecond)
	per := map[string]int{}
	for _, m := range fake.Messages() {
		if m.Topic != "" {
			continue // filter refreshes
		}
		if m.Data["type"] != "retro_warning" || m.Data["number"] != number {
			t.Fatalf("unexpected message %+v", m)
		}
		per[m.Token]++
	}
	twice := 0
	for _, n := range per {
		if n > 2 {
			t.Fatalf("a device got %d copies", n)
		}
		if n == 2 {
			twice++
		}
	}
	// The first batch was marked done before the kill: at most the
	// second, in flight at the kill, is sent again.
	if twice > 200 {
		t.Fatalf("%d devices got the warning twice, want at most the batch in flight (200)", twice)
	}
	t.Logf("after restart: %d devices got it twice (in flight at the kill)", twice)
	tk, _ := issuer.Issue("user0042", false, time.Hour)
	waitFor(t, 15*time.Second, "the inbox after the restart", func() bool {
		_, page := call(t, "GET", srv.base+"/v1/me/notifications", tk, "")
		ns, _ := page["notifications"].([]any)
		return len(ns) == 1
	})
	var buf bytes.Buffer
	_ = buf
}

// TestWalkthroughInboxWithoutFirebase is the README's warning walkthrough:
// no Firebase project, and the warning is in the inbox.
func TestWalkthroughInboxWithoutFirebase(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, "--data", data, "--account-ramp", "0")
	if !strings.Contains(srv.logs.String(), "no Firebase project configured; warnings go to the inbox only") {
		t.Fatalf("no clear line about the inbox-only mode:\n%s", srv.logs.String())
	}
	bobOut, _ := runCmd(t, "token", "--data", data, "--uid", "bob")
	bob := strings.TrimSpace(bobOut)
	if code, d := call(t, "POST", srv.base+"/v1/devices", bob,
		`{"token":"fcm-token-of-bobs-phone","installation_id":"bob-phone-1","platform":"android","locale":"en"}`); code != 200 {
		t.Fatalf("register: %d %v", code, d)
	}
	call(t, "GET", srv.base+"/v1/numbers/%2B8613900139000", bob, "")
	for _, u := range []string{"r1", "r2", "r3"} {
		out, _ := runCmd(t, "token", "--data", data, "--uid", u)
		if code, b := call(t, "POST", srv.base+"/v1/reports", strings.TrimSpace(out), `{"number":"+8613900139000","category":"fraud"}`); code != 201 {
			t.Fatalf("report: %d %v", code, b)
		}
	}
	var n map[string]any
	waitFor(t, 5*time.Second, "the warning in the inbox", func() bool {
		_, page := call(t, "GET", srv.base+"/v1/me/notifications?lang=zh-Hans", bob, "")
		ns, _ := page["notifications"].([]any)
		if len(ns) == 1 {
			n = ns[0].(map[string]any)
		}
		return len(ns) == 1
	})
	if n["kind"] != "retro_warning" || !strings.Contains(n["body"].(string), "+86 139 0013 9000") || !strings.Contains(n["body"].(string), "诈骗") {
		t.Fatalf("notification: %v", n)
	}
}
