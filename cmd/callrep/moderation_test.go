package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/openapi"
	"github.com/callrep/callrep/push/fcmtest"
	"github.com/callrep/callrep/reputation"
)

// modClient calls the real binary and holds every answer to the spec.
type modClient struct {
	t    *testing.T
	base string
	v    *openapi.Validator
}

// do sends a request from client address ip (X-Forwarded-For, which the
// server trusts from loopback in these tests) and decodes the JSON answer.
func (c *modClient) do(method, path, token, ip string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if err := c.v.ValidateResponse(req, resp.StatusCode, resp.Header, raw); err != nil {
		c.t.Errorf("%s %s: the answer does not match the spec: %v\n%s", method, path, err, raw)
	}
	var out map[string]any
	if json.Unmarshal(raw, &out) != nil {
		out = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, out
}

func (c *modClient) want(status int, method, path, token string, body any) map[string]any {
	c.t.Helper()
	code, out := c.do(method, path, token, "", body)
	if code != status {
		c.t.Fatalf("%s %s: status %d, want %d: %v", method, path, code, status, out)
	}
	return out
}

func numPath(n string) string { return "/v1/numbers/" + url.PathEscape(n) }

// inFilter fetches a public filter and tests key against it.
func (c *modClient) inFilter(name, key string) bool {
	c.t.Helper()
	resp, err := http.Get(c.base + "/v1/filters/" + name)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s, err := reputation.ParseFilter(b, strings.Trim(resp.Header.Get("ETag"), `"`))
	if err != nil {
		c.t.Fatalf("filter %s: %v", name, err)
	}
	return s.Test(key)
}

// contributions returns the explained contributions of number by
// category, for the trust each shows.
func (c *modClient) trustOf(mod, number, category string) (trust float64, gold int) {
	c.t.Helper()
	ex := c.want(http.StatusOK, "GET", numPath(number)+"/explain?limit=1000", mod, nil)
	n := 0
	for _, x := range ex["contributions"].([]any) {
		cb := x.(map[string]any)
		if cb["category"] != category || cb["source"] != "app" {
			continue
		}
		trust += cb["trust"].(float64)
		n++
		if r, ok := cb["record"].(map[string]any); ok {
			gold = max(gold, int(r["gold_labels"].(float64)))
		}
	}
	if n == 0 {
		c.t.Fatalf("no %s contributions on %s", category, number)
	}
	return trust / float64(n), gold
}

func caseIDs(list map[string]any) []string {
	var out []string
	for _, x := range list["cases"].([]any) {
		out = append(out, x.(map[string]any)["id"].(string))
	}
	return out
}

// TestModerationEndToEnd is the issue's "what will be checked", on the
// real binary: a brigaded courier's number cleared on its dispute, with
// the audit entry, trust moved by the next rescore, the lookup and the
// next filter snapshot updated and the filer told; a proven owner first in
// the queue; a plain user refused everywhere.
func TestModerationEndToEnd(t *testing.T) {
	c, tok, fake := newModProc(t)
	mod, user := tok("mod", true, ""), tok("plain", false, "")
	report := func(uid, ip, number, cat string) { t.Helper(); c.report(tok, uid, ip, number, cat) }

	// A courier's number: six accounts made today call it fraud within
	// minutes, from six networks (the fifth trips the new-account rule);
	// two customers call it delivery.
	const courier = "+8613912345678"
	for i := range 6 {
		report(fmt.Sprintf("sock-%d", i), fmt.Sprintf("203.0.%d.10", 10+i), courier, "fraud")
	}
	report("customer-1", "198.51.100.7", courier, "delivery")
	report("customer-2", "192.0.2.9", courier, "delivery")
	if r := c.want(200, "GET", numPath(courier), "", nil); r["verdict"] != "fraud" {
		t.Fatalf("the brigade did not make it fraud: %v", r)
	}
	c.want(200, "POST", "/v1/filters/rebuild", mod, nil)
	if !c.inFilter("fraud", courier) {
		t.Fatal("the brigaded number is not in the fraud filter")
	}
	// The burst detector's flag opens a case by itself.
	var auto string
	waitFor(t, 10*time.Second, "a brigading case", func() bool {
		_, list := c.do("GET", "/v1/moderation/cases?kind=brigading", mod, "", nil)
		if ids := caseIDs(list); len(ids) == 1 {
			auto = ids[0]
		}
		return auto != ""
	})
	sockTrust, sockGold := c.trustOf(mod, courier, "fraud")
	if sockGold != 0 {
		t.Fatalf("gold before any decision: %d", sockGold)
	}

	// The courier company, which has no mobile number, disputes it and
	// registers a phone to hear back.
	biz := tok("acme-couriers", false, "")
	registerDevice(t, c.base, biz, "tok-acme-0123456789", "android", "en")
	dispute := c.want(201, "POST", "/v1/disputes", biz, map[string]any{"number": courier, "reason": "We deliver parcels; these reports are a competitor's.",
		"contact": "ops@acme.example", "identity": "Acme Couriers Ltd.", "evidence": []string{"https://acme.example/licence.pdf"}})
	id := dispute["id"].(string)
	if r := c.want(200, "GET", numPath(courier), "", nil); r["disputed"] != true {
		t.Fatalf("lookup while disputed: %v", r)
	}

	// A proven owner's dispute comes before a stranger's, filed earlier.
	const own = "+8613700137000"
	report("someone", "198.51.100.20", own, "harassment")
	stranger := c.want(201, "POST", "/v1/disputes", tok("stranger", false, ""), map[string]any{"number": own, "reason": "not harassment"})
	owner := tok("owner", false, own)
	mine := c.want(201, "POST", "/v1/disputes", owner, map[string]any{"number": own, "reason": "this is my own number"})
	if mine["owner_proven"] != true || stranger["owner_proven"] != false {
		t.Fatalf("owner_proven: %v / %v", mine["owner_proven"], stranger["owner_proven"])
	}
	queue := caseIDs(c.want(200, "GET", "/v1/moderation/cases", mod, nil))
	if len(queue) != 4 || queue[0] != mine["id"] {
		t.Fatalf("queue %v: want the proven owner's case %v first", queue, mine["id"])
	}

	t.Run("PlainUserRefused", func(t *testing.T) {
		for _, rt := range []struct{ method, path string }{
			{"GET", "/v1/moderation/cases"}, {"GET", "/v1/moderation/cases/" + id}, {"GET", "/v1/moderation/audit"},
			{"POST", "/v1/moderation/cases/" + id + "/claim"}, {"POST", "/v1/moderation/cases/" + id + "/release"},
			{"POST", "/v1/moderation/cases/" + id + "/decision"},
		} {
			body := map[string]any{"version": 1, "outcome": "upheld"}
			if code, out := c.do(rt.method, rt.path, user, "", body); code != 403 {
				t.Errorf("%s %s as a user: %d %v, want 403", rt.method, rt.path, code, out)
			}
			if code, _ := c.do(rt.method, rt.path, "", "", body); code != 401 {
				t.Errorf("%s %s without a token: %d, want 401", rt.method, rt.path, code)
			}
		}
		if code, _ := c.do("GET", "/v1/disputes/"+id, user, "", nil); code != 404 {
			t.Errorf("another user's dispute: %d, want 404", code)
		}
	})

	// The moderator looks, claims and clears the number: the brigade's
	// labels stop counting, the customers' stand.
	view := c.want(200, "GET", "/v1/moderation/cases/"+id, mod, nil)
	if h := view["histogram"].(map[string]any); h["fraud"] != 6.0 || h["delivery"] != 2.0 || len(view["flags"].([]any)) == 0 {
		t.Fatalf("case view: histogram %v flags %v", h, view["flags"])
	}
	claimed := c.want(200, "POST", "/v1/moderation/cases/"+id+"/claim", mod, map[string]any{"version": dispute["version"]})
	if code, _ := c.do("POST", "/v1/moderation/cases/"+id+"/decision", tok("mod2", true, ""), "", map[string]any{"version": claimed["version"], "outcome": "upheld"}); code != 409 {
		t.Fatalf("a second moderator decided a claimed case: %d", code)
	}
	decided := c.want(200, "POST", "/v1/moderation/cases/"+id+"/decision", mod, map[string]any{"version": claimed["version"],
		"outcome": "overturned", "category": "delivery", "note": "Licence checked; the fraud reports came in one burst."})
	if decided["status"] != "resolved" {
		t.Fatalf("decision: %v", decided)
	}
	autoCase := c.want(200, "GET", "/v1/moderation/cases/"+auto, mod, nil)["case"].(map[string]any)
	c.want(200, "POST", "/v1/moderation/cases/"+auto+"/decision", mod, map[string]any{"version": autoCase["version"],
		"outcome": "overturned", "category": "delivery", "note": "same burst as " + id})
	r := c.want(200, "GET", numPath(courier), "", nil)
	if r["verdict"] != "benign" || r["dispute_outcome"] != "overturned" || r["disputed"] != nil || r["evidence"].(map[string]any)["fraud"] != nil {
		t.Fatalf("lookup after clearing: %v", r)
	}

	audit := c.want(200, "GET", "/v1/moderation/audit?action=decide&case="+id, mod, nil)["entries"].([]any)
	if len(audit) != 1 {
		t.Fatalf("audit: %v", audit)
	}
	if e := audit[0].(map[string]any); e["actor"] != "local:mod" || e["before"].(map[string]any)["verdict"] != "fraud" ||
		e["after"].(map[string]any)["verdict"] != "benign" || e["after"].(map[string]any)["outcome"] != "overturned" {
		t.Fatalf("audit entry: %v", e)
	}

	// The next snapshot drops it from the fraud lists.
	c.want(200, "POST", "/v1/filters/rebuild", mod, nil)
	if c.inFilter("fraud", courier) || c.inFilter("block", courier) {
		t.Fatal("the cleared number is still in the fraud or block filter")
	}

	// The filer is told, on the phone and in the inbox.
	waitFor(t, 10*time.Second, "the outcome on the filer's phone", func() bool { return len(to(fake, "tok-acme-0123456789")) > 0 })
	if m := to(fake, "tok-acme-0123456789")[0]; m.Data["type"] != "dispute_outcome" || m.Data["number"] != courier || !strings.Contains(m.Data["body"], "cleared") {
		t.Fatalf("message to the filer: %+v", m)
	}
	inbox := c.want(200, "GET", "/v1/me/notifications", biz, nil)["notifications"].([]any)
	if len(inbox) != 1 || inbox[0].(map[string]any)["kind"] != "dispute_outcome" {
		t.Fatalf("filer's inbox: %v", inbox)
	}
	if d := c.want(200, "GET", "/v1/disputes/"+id, biz, nil)["decision"].(map[string]any); d["outcome"] != "overturned" || d["decided_by"] != nil {
		t.Fatalf("the filer's view of the decision: %v", d)
	}

	// The next rescore takes the decision as gold: the brigade loses trust.
	var after float64
	waitFor(t, 30*time.Second, "a rescore with the decision as gold", func() bool {
		var gold int
		after, gold = c.trustOf(mod, courier, "fraud")
		return gold > 0
	})
	if after >= sockTrust {
		t.Fatalf("the brigade's trust: %.3f before the decision, %.3f after; want it lower", sockTrust, after)
	}
	if customers, _ := c.trustOf(mod, courier, "delivery"); customers <= after {
		t.Fatalf("customers who agreed weigh %.3f, the brigade %.3f; want the customers above", customers, after)
	}

}

// newModProc starts the binary for moderation tests and returns a client,
// a token minter and the fake FCM.
func newModProc(t *testing.T) (*modClient, func(uid string, moderator bool, phone string) string, *fcmtest.Server) {
	t.Helper()
	fake := fcmtest.New(t, fcmProject)
	data := t.TempDir()
	srv := startProc(t, "--data", data, "--fcm-project", fcmProject, "--fcm-endpoint", fake.URL, "--account-ramp", "0",
		"--trusted-proxies", "127.0.0.1", "--rescore-interval", "2s", "--moderation-scan-interval", "200ms")
	issuer, err := api.LoadOrCreateLocalIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(uid string, moderator bool, phone string) string {
		s, err := issuer.IssueFor(api.Principal{UID: uid, Moderator: moderator, Phone: phone}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	v, err := openapi.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return &modClient{t: t, base: srv.base, v: v}, tok, fake
}

// report files a report as uid from client address ip.
func (c *modClient) report(tok func(string, bool, string) string, uid, ip, number, cat string) {
	c.t.Helper()
	if code, out := c.do("POST", "/v1/reports", tok(uid, false, ""), ip, map[string]any{"number": number, "category": cat}); code != 201 {
		c.t.Fatalf("report: %d %v", code, out)
	}
}

// TestVerifiedLineUnderSpoofing: the FTC sample's case, a company's
// support line that scammers spoof. Verified by a moderator, it stays
// verified under a fraud spike, with spoofed_risk, opens a spoofing case,
// stays off the fraud filters and is named in CallKit identification.
func TestVerifiedLineUnderSpoofing(t *testing.T) {
	c, tok, _ := newModProc(t)
	mod := tok("mod", true, "")
	const support = "+18005550100"
	d := c.want(201, "POST", "/v1/disputes", tok("acme-support", false, ""), map[string]any{"number": support,
		"reason": "Our support line; scammers spoof it.", "identity": "Acme Support Inc."})
	c.want(200, "POST", "/v1/moderation/cases/"+d["id"].(string)+"/decision", mod, map[string]any{"version": d["version"],
		"outcome": "verified_business", "business_name": "Acme Support"})
	for i := range 5 {
		c.report(tok, fmt.Sprintf("victim-%d", i), fmt.Sprintf("100.64.%d.1", i), support, "fraud")
	}
	r := c.want(200, "GET", numPath(support), "", nil)
	if r["verdict"] != "verified" || r["caller_name"] != "Acme Support" || r["spoofed_risk"] != true {
		t.Fatalf("support line under a fraud spike: %v", r)
	}
	waitFor(t, 10*time.Second, "a spoofing case", func() bool {
		_, list := c.do("GET", "/v1/moderation/cases?kind=spoofing&number="+url.QueryEscape(support), mod, "", nil)
		return len(caseIDs(list)) == 1
	})
	c.want(200, "POST", "/v1/filters/rebuild", mod, nil)
	if c.inFilter("fraud", support) || c.inFilter("block", support) {
		t.Fatal("the verified line is in a fraud filter")
	}
	entries := c.want(200, "GET", "/v1/exports/callkit?kind=identify", "", nil)["entries"].([]any)
	found := false
	for _, x := range entries {
		e := x.(map[string]any)
		found = found || (e["number"] == 18005550100.0 && e["label"] == "Acme Support")
	}
	if !found {
		t.Fatalf("CallKit identify lacks the support line's name: %v", entries)
	}
}
