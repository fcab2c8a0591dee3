package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// webDriver drives a browser through chromedriver's W3C WebDriver HTTP
// API: plain JSON over loopback, no client library.
type webDriver struct {
	t       *testing.T
	base    string // http://127.0.0.1:port/session/<id>
	client  *http.Client
	lastErr string
}

// elementKey is the W3C key of an element reference.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// startBrowser starts chromedriver and a headless Chromium session, or
// skips the test when they are not installed (.ci/run installs them).
func startBrowser(t *testing.T) *webDriver {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install -y chromium chromium-driver fonts-wqy-microhei); .ci/run installs it")
	}
	driver, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Skip("chromedriver is not installed (apt-get install -y chromium-driver); .ci/run installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var logs syncBuffer
	cmd := exec.Command(driver, fmt.Sprintf("--port=%d", port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	wd := &webDriver{t: t, client: &http.Client{Timeout: 60 * time.Second}}
	waitFor(t, 20*time.Second, "chromedriver", func() bool {
		resp, err := http.Get(root + "/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	// As root Chromium needs --no-sandbox.
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium,
			"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1800", "--lang=en-GB"}},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if !wd.send("POST", root+"/session", caps, &sess) {
		t.Fatalf("new session: %s\nchromedriver: %s", wd.lastErr, logs.String())
	}
	wd.base = root + "/session/" + sess.SessionID
	t.Cleanup(func() { wd.send("DELETE", wd.base, nil, nil) })
	return wd
}

// send makes one WebDriver call and decodes its value into out; false
// (with lastErr) when the driver answered an error.
func (wd *webDriver) send(method, url string, body, out any) bool {
	wd.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := wd.client.Do(req)
	if err != nil {
		wd.t.Fatalf("webdriver %s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		wd.t.Fatalf("webdriver %s %s: %v: %s", method, url, err, raw)
	}
	if resp.StatusCode != 200 {
		wd.lastErr = string(raw)
		return false
	}
	if out != nil {
		if err := json.Unmarshal(env.Value, out); err != nil {
			wd.t.Fatalf("webdriver %s %s: value %s: %v", method, url, env.Value, err)
		}
	}
	return true
}

func (wd *webDriver) open(url string) {
	wd.t.Helper()
	if !wd.send("POST", wd.base+"/url", map[string]any{"url": url}, nil) {
		wd.t.Fatalf("open %s: %s", url, wd.lastErr)
	}
}

// find returns the element css selects, or "" when there is none yet.
func (wd *webDriver) find(css string) string {
	wd.t.Helper()
	var el map[string]string
	if !wd.send("POST", wd.base+"/element", map[string]any{"using": "css selector", "value": css}, &el) {
		return ""
	}
	return el[elementKey]
}

// wait returns the element css selects once it is there and displayed.
func (wd *webDriver) wait(css string) string {
	wd.t.Helper()
	var id string
	start := time.Now()
	for {
		if id = wd.find(css); id != "" {
			var shown bool
			if wd.send("GET", wd.base+"/element/"+id+"/displayed", nil, &shown) && shown {
				return id
			}
		}
		if time.Since(start) > 15*time.Second {
			wd.t.Fatalf("element %s: not shown within 15s (%s)", css, wd.lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (wd *webDriver) click(css string) {
	wd.t.Helper()
	if !wd.send("POST", wd.base+"/element/"+wd.wait(css)+"/click", map[string]any{}, nil) {
		wd.t.Fatalf("click %s: %s", css, wd.lastErr)
	}
}

func (wd *webDriver) typeInto(css, text string) {
	wd.t.Helper()
	if !wd.send("POST", wd.base+"/element/"+wd.wait(css)+"/value", map[string]any{"text": text}, nil) {
		wd.t.Fatalf("type into %s: %s", css, wd.lastErr)
	}
}

func (wd *webDriver) text(css string) string {
	wd.t.Helper()
	id := wd.find(css)
	var s string
	if id == "" || !wd.send("GET", wd.base+"/element/"+id+"/text", nil, &s) {
		return ""
	}
	return s
}

// waitText waits until the text of css contains want.
func (wd *webDriver) waitText(css, want string) {
	wd.t.Helper()
	var got string
	start := time.Now()
	for {
		if got = wd.text(css); strings.Contains(got, want) {
			return
		}
		if time.Since(start) > 15*time.Second {
			wd.t.Fatalf("%s: text %q, want it to contain %q", css, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (wd *webDriver) script(js string, out any) {
	wd.t.Helper()
	if !wd.send("POST", wd.base+"/execute/sync", map[string]any{"script": js, "args": []any{}}, out) {
		wd.t.Fatalf("script: %s", wd.lastErr)
	}
}

// screenshot saves the page as a PNG at path.
func (wd *webDriver) screenshot(path string) {
	wd.t.Helper()
	var b64 string
	if !wd.send("GET", wd.base+"/screenshot", nil, &b64) {
		wd.t.Fatalf("screenshot: %s", wd.lastErr)
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		wd.t.Fatalf("screenshot is no PNG: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		wd.t.Fatal(err)
	}
}

// TestConsoleInBrowser drives the moderator console in headless Chromium:
// sign in, open a case from the queue, see its chart, decide, see the
// public lookup change, read the audit log, switch to Chinese. It saves
// screenshots and logs where.
func TestConsoleInBrowser(t *testing.T) {
	wd := startBrowser(t)
	c, tok, _ := newModProc(t)
	mod := tok("mod", true, "")
	const num = "+8613912345678"
	for i := range 4 {
		c.report(tok, fmt.Sprintf("r-%d", i), fmt.Sprintf("203.0.%d.10", 10+i), num, "fraud")
	}
	d := c.want(201, "POST", "/v1/disputes", tok("acme", false, ""), map[string]any{"number": num,
		"reason": "We deliver parcels.", "identity": "Acme Couriers"})
	shots, err := os.MkdirTemp("", "callrep-console-")
	if err != nil {
		t.Fatal(err)
	}

	wd.open(c.base + "/console")
	wd.typeInto("#token", "not-a-token")
	wd.click("#signin")
	wd.waitText("#signin-error", "refused")
	wd.script(`document.getElementById("token").value = ""`, nil)
	wd.typeInto("#token", mod)
	wd.click("#signin")
	wd.click(fmt.Sprintf(`a.case-link[data-case=%q]`, d["id"]))
	wd.waitText("#case-number", num)
	wd.waitText("#public-verdict", "fraud")
	var bars int
	wd.script(`return document.querySelectorAll("#chart svg rect[data-category=fraud]").length`, &bars)
	if bars != 1 {
		t.Fatalf("chart: %d fraud bars, want one for today", bars)
	}
	wd.waitText("#case-facts", "We deliver parcels.")

	wd.click(`#outcome option[value="overturned"]`)
	wd.typeInto("#note", "Courier licence checked.")
	wd.click("#decide")
	wd.waitText("#decision-result", "The lookup now says safe")
	wd.waitText("#public-verdict", "safe")
	if r := c.want(200, "GET", numPath(num), "", nil); r["verdict"] != "safe" || r["dispute_outcome"] != "overturned" {
		t.Fatalf("public lookup after the console's decision: %v", r)
	}
	en := filepath.Join(shots, "console-case-en.png")
	wd.screenshot(en)

	wd.click(`a[href="#/audit"]`)
	wd.waitText("#audit", "decide")
	wd.waitText("#audit", "local:mod")

	wd.click(`#lang option[value="zh"]`)
	wd.waitText("h1", "审核台")
	wd.waitText("#audit-view h2", "审计日志")
	wd.open(c.base + "/console#/case/" + d["id"].(string))
	wd.waitText("#case-view h3", "信誉")
	zh := filepath.Join(shots, "console-case-zh.png")
	wd.screenshot(zh)
	t.Logf("console screenshots: %s, %s", en, zh)
}
