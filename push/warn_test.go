package push_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/push/fcmtest"
	"github.com/callrep/callrep/reputation"
)

var topicChars = regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]+$`)

func TestAreaOf(t *testing.T) {
	scenarios := []struct {
		name, e164         string
		ok                 bool
		id, en, hans, hant string
	}{
		// The example. zh_Hant has no mainland data: the
		// Simplified name stands in, not the English one.
		{name: "Quanzhou", e164: "+8613905950000", ok: true, id: "cn-quanzhou-fujian", en: "Quanzhou, Fujian", hans: "福建省泉州市", hant: "福建省泉州市"},
		{name: "Beijing", e164: "+8613800138000", ok: true, id: "cn-beijing", en: "Beijing", hans: "北京市", hant: "北京市"},
		// Taiwan has Traditional data of its own.
		{name: "Taipei", e164: "+886223456789", ok: true, id: "tw-taipei", en: "Taipei", hans: "台北", hant: "臺北"},
		// No Chinese data: English everywhere.
		{name: "London", e164: "+442079460000", ok: true, id: "gb-london", en: "London", hans: "London", hant: "London"},
		// A comma and a state code become one ASCII slug.
		{name: "MountainView", e164: "+16502530000", ok: true, id: "us-mountain-view-ca", en: "Mountain View, CA", hans: "Mountain View, CA", hant: "Mountain View, CA"},
		// The geocoder names only the country: no area, no wave to a
		// whole country.
		{name: "TollFree", e164: "+18002752273"},
		{name: "HongKongCountryOnly", e164: "+85221234567"},
		{name: "NotANumber", e164: "+999"},
		{name: "Empty", e164: ""},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			a, ok := push.AreaOf(sc.e164)
			if ok != sc.ok {
				t.Fatalf("AreaOf(%q): got ok %v (%+v), want %v", sc.e164, ok, a, sc.ok)
			}
			if !ok {
				return
			}
			if a.ID != sc.id {
				t.Errorf("ID: got %q, want %q", a.ID, sc.id)
			}
			for loc, want := range map[string]string{"en": sc.en, "zh-Hans": sc.hans, "zh-Hant": sc.hant} {
				if a.Names[loc] != want {
					t.Errorf("Names[%s]: got %q, want %q", loc, a.Names[loc], want)
				}
				if topic := push.AreaTopic(a.ID, loc); !topicChars.MatchString(topic) || !push.ValidTopic(topic) {
					t.Errorf("topic %q: got non-ASCII topic characters, want [a-zA-Z0-9-_.~%%]+", topic)
				}
			}
		})
	}
}

// topicMessages returns the fake's messages to topics, by topic.
func topicMessages(fake *fcmtest.Server) map[string][]fcmtest.Message {
	out := map[string][]fcmtest.Message{}
	for _, m := range fake.Messages() {
		if m.Topic != "" {
			out[m.Topic] = append(out[m.Topic], m)
		}
	}
	return out
}

func TestFiltersPublished(t *testing.T) {
	e := newPushEnv(t)
	s, _ := e.open(t)
	ctx := context.Background()
	if err := s.FiltersPublished(ctx, []push.FilterVersion{{Name: "block", Version: 7}, {Name: "fraud", Version: 7}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "two refreshes", func() bool { return e.fake.Count() == 2 })
	// The same versions again send nothing; a new version of one filter
	// sends one.
	if err := s.FiltersPublished(ctx, []push.FilterVersion{{Name: "block", Version: 7}, {Name: "fraud", Version: 8}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the new fraud filter", func() bool { return e.fake.Count() == 3 })
	time.Sleep(100 * time.Millisecond)
	got := topicMessages(e.fake)
	if len(got) != 2 || len(got["filter-block"]) != 1 || len(got["filter-fraud"]) != 2 || e.fake.Count() != 3 {
		t.Fatalf("topics: got %v, want filter-block once and filter-fraud twice", got)
	}
	for topic, ms := range got {
		name := strings.TrimPrefix(topic, "filter-")
		for i, m := range ms {
			wantVersion := map[string][]string{"block": {"7"}, "fraud": {"7", "8"}}[name][i]
			if m.Data["type"] != "filter_refresh" || m.Data["filter"] != name || m.Data["version"] != wantVersion {
				t.Errorf("%s data: got %v, want type filter_refresh, filter %s, version %s", topic, m.Data, name, wantVersion)
			}
			if m.Data["title"] != "" || m.Data["body"] != "" {
				t.Errorf("%s: got a text (%q, %q), want a data message that shows nothing", topic, m.Data["title"], m.Data["body"])
			}
			if p := m.Android["priority"]; p != "normal" {
				t.Errorf("%s android priority: got %v, want normal", topic, p)
			}
			if k := m.Android["collapse_key"]; k != "filters:"+name {
				t.Errorf("%s collapse key: got %v, want filters:%s", topic, k, name)
			}
			h, _ := m.APNS["headers"].(map[string]any)
			if h["apns-priority"] != "5" || h["apns-collapse-id"] != "filters:"+name {
				t.Errorf("%s apns headers: got %v, want priority 5 and collapse id filters:%s", topic, h, name)
			}
		}
	}
}

func TestFraudWave(t *testing.T) {
	e := newPushEnv(t)
	s, _ := e.openWith(t, func(c *push.Config) { c.WaveMin = 3; c.WaveWindow = time.Hour })
	flag := func(key, category string) {
		t.Helper()
		e.reps.mu.Lock()
		e.reps.v[key] = reputation.Result{Verdict: reputation.VerdictFraud, Reporters: 5, TopCategory: category, Score: 90}
		e.reps.mu.Unlock()
		s.LabelChanged(nil, &labels.Label{Key: key})
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Two Quanzhou numbers and one from Beijing: no wave yet.
	flag("+8613905950001", "financial")
	flag("+8613905950002", "fraud")
	flag("+8613800138000", "fraud")
	time.Sleep(150 * time.Millisecond)
	if got := topicMessages(e.fake); len(got) != 0 {
		t.Fatalf("before the third number: got %v, want no wave", got)
	}
	// The third in Quanzhou makes one; a fourth in the same window adds
	// nothing.
	flag("+8613905950003", "financial")
	flag("+8613905950004", "financial")
	waitUntil(t, "a message per locale", func() bool { return len(topicMessages(e.fake)) == 3 })
	time.Sleep(150 * time.Millisecond)
	got := topicMessages(e.fake)
	locales := push.Locales()
	if len(locales) != 3 {
		t.Fatalf("locales: got %v, want en, zh-Hans, zh-Hant", locales)
	}
	fin, _ := labels.LookupCategory("financial")
	area, _ := push.AreaOf("+8613905950000")
	for _, loc := range locales {
		topic := push.AreaTopic("cn-quanzhou-fujian", loc)
		ms := got[topic]
		if len(ms) != 1 {
			t.Fatalf("%s: got %d messages (all: %v), want 1", topic, len(ms), slices.Collect(maps.Keys(got)))
		}
		m := ms[0]
		if m.Data["type"] != "fraud_wave" || m.Data["area"] != "cn-quanzhou-fujian" || m.Data["count"] != "3" {
			t.Errorf("%s data: got %v, want fraud_wave, the area and count 3", topic, m.Data)
		}
		body := m.Data["body"]
		if !strings.Contains(body, area.Names[loc]) || !strings.Contains(body, "3") {
			t.Errorf("%s body: got %q, want the area's %s name %q and the count", topic, body, loc, area.Names[loc])
		}
		if want := fin.Names[loc]; !strings.Contains(body, want) {
			t.Errorf("%s body: got %q, want the top category %q", topic, body, want)
		}
		if m.Android["collapse_key"] != "wave:cn-quanzhou-fujian" {
			t.Errorf("%s collapse key: got %v, want wave:cn-quanzhou-fujian", topic, m.Android["collapse_key"])
		}
	}
	if strings.Contains(got[push.AreaTopic("cn-quanzhou-fujian", "zh-Hans")][0].Data["body"], "Quanzhou") {
		t.Errorf("zh-Hans body names the area in English")
	}
}

// TestGuardianIndex checks that alerts and listings find exactly the
// guardians linked now, through links made, ended and erased.
func TestGuardianIndex(t *testing.T) {
	e := newPushEnv(t)
	s, _ := e.openWith(t, func(c *push.Config) { c.Guardians = 2 })
	ctx := context.Background()
	link := func(protected, guardian string) push.Link {
		t.Helper()
		code, _, err := s.Invite(ctx, protected)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Accept(ctx, guardian, code, "Mum of "+guardian)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		return l
	}
	for _, u := range []string{"g1", "g2", "g3", "g4"} {
		mustRegister(t, s, u, "tok-"+u+"-abcdefgh")
	}
	// Many links that do not involve mum.
	for i := range 50 {
		link(fmt.Sprintf("other%02d", i), "g3")
	}
	l1 := link("mum", "g1")
	link("mum", "g2")
	if _, _, err := s.Invite(ctx, "mum"); err == nil {
		t.Fatal("a third guardian's invite: got nil error, want the cap")
	}
	if err := s.EndLink(ctx, "g1", l1.ID); err != nil { // the guardian ends it
		t.Fatal(err)
	}
	link("mum", "g4")
	if got := len(s.Protecting("g3")); got != 50 {
		t.Fatalf("g3 protects: got %d, want 50", got)
	}
	var gs []string
	for _, l := range s.Guardians("mum") {
		gs = append(gs, l.Guardian)
	}
	if !slices.Equal(gs, []string{"g2", "g4"}) {
		t.Fatalf("mum's guardians: got %v, want [g2 g4]", gs)
	}

	const fraud = "+8613800138009"
	e.reps.set(fraud, reputation.VerdictFraud, 12)
	alerted := func() []string {
		var out []string
		for _, m := range e.fake.Messages() {
			if m.Data["type"] == "guardian_alert" {
				out = append(out, m.Token)
			}
		}
		slices.Sort(out)
		return out
	}
	s.RecordLookup("mum", labels.Number{Key: fraud}, reputation.Result{Verdict: reputation.VerdictFraud})
	waitUntil(t, "two alerts", func() bool { return len(alerted()) == 2 })
	time.Sleep(100 * time.Millisecond)
	if got, want := alerted(), []string{"tok-g2-abcdefgh", "tok-g4-abcdefgh"}; !slices.Equal(got, want) {
		t.Fatalf("alerted: got %v, want %v", got, want)
	}

	// Erasing g4 removes that link from mum's side too; erasing g3
	// removes the 50 it held.
	if _, err := s.EraseUser(ctx, "g4"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseUser(ctx, "g3"); err != nil {
		t.Fatal(err)
	}
	if got := s.Guardians("mum"); len(got) != 1 || got[0].Guardian != "g2" {
		t.Fatalf("mum's guardians after erasure: got %+v, want g2 only", got)
	}
	if got := s.Guardians("other00"); len(got) != 0 {
		t.Fatalf("other00's guardians after g3's erasure: got %+v, want none", got)
	}
}

// TestOpenInvitesBounded: a user cannot pile up invites; a new one beyond
// three revokes the oldest.
func TestOpenInvitesBounded(t *testing.T) {
	e := newPushEnv(t)
	s, _ := e.open(t)
	ctx := context.Background()
	var codes []string
	for range 5 {
		code, _, err := s.Invite(ctx, "mum")
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
		e.clock.Add(time.Second)
	}
	for i, code := range codes {
		_, err := s.Accept(ctx, fmt.Sprintf("g%d", i), code, "Mum")
		if revoked := i < 2; revoked != (labels.ErrorCode(err) == labels.ENotFound) {
			t.Errorf("code %d: got %v, want revoked %v", i, err, revoked)
		}
		if i == 3 {
			break // the third guardian would pass the cap
		}
	}
	n, err := e.m.DB.Collection("push_invites").CountDocuments(ctx, map[string]any{})
	if err != nil || n != 1 {
		t.Fatalf("stored invites: got %d, %v; want the one not used", n, err)
	}
}

// TestPerUserBounds: what push holds per user stays within its caps however
// much the user does: recorded numbers, inbox entries.
func TestPerUserBounds(t *testing.T) {
	e := newPushEnv(t)
	s, _ := e.openWith(t, func(c *push.Config) { c.RecordMax, c.InboxMax = 5, 3 })
	ctx := context.Background()
	mustRegister(t, s, "u1", "tok-u1-abcdefgh")
	var keys []string
	for i := range 10 {
		key := fmt.Sprintf("+86138001381%02d", i)
		keys = append(keys, key)
		s.RecordLookup("u1", labels.Number{Key: key}, reputation.Result{Verdict: reputation.VerdictUnknown})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		e.reps.set(key, reputation.VerdictSpam, 5)
		s.LabelChanged(nil, &labels.Label{Key: key})
		e.clock.Add(time.Second)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "five warnings", func() bool { return e.fake.Count() == 5 })
	time.Sleep(100 * time.Millisecond)
	if n := e.fake.Count(); n != 5 {
		t.Fatalf("warnings: got %d, want 5 (RecordMax)", n)
	}
	ns, _, err := s.Notifications("u1", 100, "")
	if err != nil || len(ns) != 3 || ns[0].Number != keys[4] {
		t.Fatalf("inbox: got %d (%v), want the newest 3 of 5, newest %s first", len(ns), err, keys[4])
	}
}

// TestTell: a moderation notice reaches every device of its user in the
// device's language, whatever the opt-ins, once per id, and lands in the
// inbox; a user without a device finds it in the inbox only.
func TestTell(t *testing.T) {
	e := newPushEnv(t)
	s, _ := e.open(t)
	ctx := context.Background()
	d, err := s.RegisterDevice(ctx, "owner", push.DeviceInput{Token: "tok-owner-abcdefgh", Installation: "i-owner",
		Platform: "android", Locale: "zh-Hans", OptIns: &push.OptIns{}})
	if err != nil {
		t.Fatal(err)
	}
	n := push.Notice{ID: "c-1|overturned", User: "owner", Kind: push.KindDisputeOutcome, Number: "+8613800138000",
		Verdict: "safe", Outcome: "overturned"}
	for range 2 {
		if err := s.Tell(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"nodevice", "other-owner"} { // one case, told to two owners
		if err := s.Tell(ctx, push.Notice{ID: "c-2", User: u, Kind: push.KindNumberFlagged, Number: "+8613800138000"}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the notice", func() bool { return e.fake.Count() == 1 })
	time.Sleep(100 * time.Millisecond)
	m := e.fake.Messages()
	if len(m) != 1 || m[0].Token != d.Token || m[0].Data["type"] != "dispute_outcome" || !strings.Contains(m[0].Data["body"], "标记已清除") {
		t.Fatalf("messages: got %+v, want one dispute_outcome in Chinese to the owner's device", m)
	}
	for user, kind := range map[string]push.Kind{"owner": push.KindDisputeOutcome, "nodevice": push.KindNumberFlagged, "other-owner": push.KindNumberFlagged} {
		waitUntil(t, "inbox of "+user, func() bool {
			ns, _, _ := s.Notifications(user, 10, "")
			return len(ns) == 1 && ns[0].Kind == kind
		})
	}
	if err := s.Tell(ctx, push.Notice{ID: "x", User: "owner", Kind: push.KindRetroWarning}); err == nil {
		t.Fatal("Tell took a retroactive warning")
	}
}
