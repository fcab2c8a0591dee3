package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
	"github.com/callrep/callrep/labels/mongotest"
	"github.com/callrep/callrep/push"
	"github.com/callrep/callrep/reputation"
)

// The concrete type the wiring passes for the push routes.
var (
	_ api.Devices        = (*push.Service)(nil)
	_ api.Inbox          = (*push.Service)(nil)
	_ api.Guardians      = (*push.Service)(nil)
	_ api.LookupRecorder = (*push.Service)(nil)
)

// pushAPIEnv is the API env with a real push service (inbox only, no
// Firebase) on an embedded FerretDB of its own.
type pushAPIEnv struct {
	*testEnv
	push *push.Service
	db   *labels.Mongo
}

func newPushAPIEnv(t *testing.T) *pushAPIEnv {
	t.Helper()
	var (
		ps *push.Service
		m  = mongotest.Open(t)
	)
	env := newEnv(t, func(c *api.Config) {
		ctx := context.Background()
		st, err := push.OpenStore(ctx, m.DB)
		if err != nil {
			t.Fatal(err)
		}
		cfg := push.DefaultConfig()
		cfg.Store, cfg.Reputation, cfg.Labels, cfg.Now = st, c.Reputation.(*reputation.Engine), c.Labels.(*labels.Service), c.Now
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		ps, err = push.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.Devices, c.Inbox, c.Guardians, c.Lookups = ps, ps, ps, ps
	})
	return &pushAPIEnv{testEnv: env, push: ps, db: m}
}

// count returns the number of documents in a push collection.
func (e *pushAPIEnv) count(t *testing.T, coll string) int64 {
	t.Helper()
	n, err := e.db.DB.Collection(coll).CountDocuments(context.Background(), bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type deviceResponse struct {
	ID          string   `json:"id"`
	Platform    string   `json:"platform"`
	Locale      string   `json:"locale"`
	AppVersion  string   `json:"app_version"`
	TokenPrefix string   `json:"token_prefix"`
	OptIns      []string `json:"opt_ins"`
	Area        string   `json:"area"`
	Topics      []string `json:"topics"`
}

type deviceListResponse struct {
	Devices []deviceResponse `json:"devices"`
}

// fcmToken is a token shaped like FCM's, unique to name.
func fcmToken(name string) string {
	return "fcm-" + name + ":APA91b" + strings.Repeat("Q", 140)
}

func (e *pushAPIEnv) devices(t *testing.T, token string) []deviceResponse {
	t.Helper()
	r := e.get(t, "/v1/devices", token)
	wantStatus(t, r, http.StatusOK)
	return decodeAs[deviceListResponse](t, r).Devices
}

func TestDevicesAPI(t *testing.T) {
	env := newPushAPIEnv(t)
	alice, bob := env.token(t, "alice"), env.token(t, "bob")
	var secrets []string
	register := func(token string, body map[string]any, status int) (deviceResponse, response) {
		t.Helper()
		if tok, ok := body["token"].(string); ok {
			secrets = append(secrets, tok)
		}
		r := env.post(t, "/v1/devices", token, body)
		wantStatus(t, r, status)
		if status != http.StatusOK {
			return deviceResponse{}, r
		}
		return decodeAs[deviceResponse](t, r), r
	}
	var bodies []string
	keep := func(r response) { bodies = append(bodies, string(r.body)) }

	first, r := register(alice, map[string]any{"token": fcmToken("a1"), "installation_id": "alice-phone", "platform": "android",
		"locale": "zh-TW", "app_version": "1.2.0", "area_number": "+8613905950000"}, http.StatusOK)
	keep(r)
	t.Run("Register", func(t *testing.T) {
		if first.Locale != "zh-Hant" || first.Platform != "android" || first.AppVersion != "1.2.0" || first.Area != "cn-quanzhou-fujian" {
			t.Errorf("device: got %+v, want zh-Hant android 1.2.0 in cn-quanzhou-fujian", first)
		}
		if first.TokenPrefix != fcmToken("a1")[:8]+"..." {
			t.Errorf("token_prefix: got %q, want the first 8 characters and ...", first.TokenPrefix)
		}
		want := []string{"filter-block", "filter-fraud", "filter-spam", "filter-benign", "area.cn-quanzhou-fujian.zh-Hant"}
		for _, topic := range want {
			if !contains(first.Topics, topic) {
				t.Errorf("topics: got %v, want %s among them", first.Topics, topic)
			}
		}
		if len(first.OptIns) != 4 {
			t.Errorf("opt_ins: got %v, want the four defaults", first.OptIns)
		}
	})
	t.Run("RefreshedTokenReplaces", func(t *testing.T) {
		again, r := register(alice, map[string]any{"token": fcmToken("a1-new"), "installation_id": "alice-phone", "platform": "android",
			"opt_ins": []string{"retro"}}, http.StatusOK)
		keep(r)
		if again.ID != first.ID || again.TokenPrefix != fcmToken("a1-new")[:8]+"..." || len(again.OptIns) != 1 || len(again.Topics) != 0 {
			t.Fatalf("refreshed: got %+v, want id %s with the new token's prefix, retro only, no topics", again, first.ID)
		}
		if ds := env.devices(t, alice); len(ds) != 1 || ds[0].ID != first.ID {
			t.Fatalf("alice's devices: got %+v, want the one refreshed", ds)
		}
		if n := env.count(t, "push_devices"); n != 1 {
			t.Fatalf("stored devices: got %d, want 1", n)
		}
	})
	second, r := register(alice, map[string]any{"token": fcmToken("a2"), "installation_id": "alice-tablet", "platform": "ios", "locale": "fr"}, http.StatusOK)
	keep(r)
	t.Run("List", func(t *testing.T) {
		ds := env.devices(t, alice)
		if len(ds) != 2 || ds[0].ID != first.ID || ds[1].ID != second.ID || ds[1].Locale != "en" {
			t.Fatalf("alice's devices: got %+v, want phone then tablet (locale en)", ds)
		}
		if ds := env.devices(t, bob); len(ds) != 0 {
			t.Fatalf("bob's devices: got %+v, want none of alice's", ds)
		}
	})
	t.Run("OthersDeviceIsNotFound", func(t *testing.T) {
		wantError(t, env.delete(t, "/v1/devices/"+first.ID, bob), http.StatusNotFound, labels.ENotFound)
		wantError(t, env.delete(t, "/v1/devices/dev_nosuchdevice", bob), http.StatusNotFound, labels.ENotFound)
		if ds := env.devices(t, alice); len(ds) != 2 {
			t.Fatalf("alice's devices after bob's delete: got %d, want 2", len(ds))
		}
	})
	t.Run("TokenMovesToNewOwner", func(t *testing.T) {
		// Bob signs in on alice's tablet: the token is his now, so alice
		// must not be warned on it, nor bob receive hers.
		d, r := register(bob, map[string]any{"token": fcmToken("a2"), "installation_id": "the-tablet", "platform": "ios"}, http.StatusOK)
		keep(r)
		if ds := env.devices(t, alice); len(ds) != 1 || ds[0].ID != first.ID {
			t.Fatalf("alice's devices: got %+v, want the phone only", ds)
		}
		if ds := env.devices(t, bob); len(ds) != 1 || ds[0].ID != d.ID {
			t.Fatalf("bob's devices: got %+v, want the tablet", ds)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		r := env.delete(t, "/v1/devices/"+first.ID, alice)
		wantStatus(t, r, http.StatusNoContent)
		wantError(t, env.delete(t, "/v1/devices/"+first.ID, alice), http.StatusNotFound, labels.ENotFound)
		if ds := env.devices(t, alice); len(ds) != 0 {
			t.Fatalf("alice's devices: got %+v, want none", ds)
		}
	})
	t.Run("Cap", func(t *testing.T) {
		carol := env.token(t, "carol")
		for i := range 10 {
			register(carol, map[string]any{"token": fcmToken(fmt.Sprint("c", i)), "installation_id": fmt.Sprint("c", i), "platform": "android"}, http.StatusOK)
		}
		_, r := register(carol, map[string]any{"token": fcmToken("c10"), "installation_id": "c10", "platform": "android"}, http.StatusConflict)
		wantError(t, r, http.StatusConflict, labels.EConflict)
		// Refreshing one of the ten still works.
		register(carol, map[string]any{"token": fcmToken("c0-new"), "installation_id": "c0", "platform": "android"}, http.StatusOK)
	})
	t.Run("BadInput", func(t *testing.T) {
		dave := env.token(t, "dave")
		ok := map[string]any{"token": fcmToken("d"), "installation_id": "d", "platform": "android"}
		with := func(k string, v any) map[string]any {
			b := map[string]any{}
			for kk, vv := range ok {
				b[kk] = vv
			}
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
			return b
		}
		scenarios := []struct {
			name string
			body any
			code string
		}{
			{"NoToken", with("token", nil), labels.EInvalid},
			{"TokenWithSpace", with("token", "abc def"), labels.EInvalid},
			{"TokenTooLong", with("token", strings.Repeat("t", 4097)), labels.EInvalid},
			{"NoInstallation", with("installation_id", nil), labels.EInvalid},
			{"InstallationTooLong", with("installation_id", strings.Repeat("i", 129)), labels.EInvalid},
			{"BadPlatform", with("platform", "windows"), labels.EInvalid},
			{"AppVersionTooLong", with("app_version", strings.Repeat("1", 65)), labels.EInvalid},
			{"UnknownOptIn", with("opt_ins", []string{"retro", "lottery"}), labels.EInvalid},
			{"AreaAndNumber", map[string]any{"token": fcmToken("d"), "installation_id": "d", "platform": "android", "area": "cn-beijing", "area_number": "+8613800138000"}, labels.EInvalid},
			{"BadArea", with("area", "Beijing!"), labels.EInvalid},
			{"AreaNumberCountryOnly", with("area_number", "+18002752273"), labels.EInvalid},
			{"UnknownField", with("colour", "red"), labels.EInvalid},
			{"TokenNotAString", with("token", 42), labels.EInvalid},
			{"NotJSON", "token=abc", labels.EInvalidJSON},
		}
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				r := env.post(t, "/v1/devices", dave, sc.body)
				e := wantError(t, r, http.StatusBadRequest, sc.code)
				keep(r)
				if strings.Contains(e.Error.Message, "APA91b") {
					t.Errorf("message: got %q, want no token in it", e.Error.Message)
				}
			})
		}
		if ds := env.devices(t, dave); len(ds) != 0 {
			t.Fatalf("dave's devices after bad requests: got %+v, want none", ds)
		}
		wantError(t, env.post(t, "/v1/devices", "", ok), http.StatusUnauthorized, labels.EUnauthorized)
	})
	t.Run("TokensNeverShown", func(t *testing.T) {
		for _, tok := range []string{alice, bob, env.token(t, "carol")} {
			bodies = append(bodies, string(env.get(t, "/v1/devices", tok).body))
		}
		for _, b := range bodies {
			for _, s := range secrets {
				if len(s) > 8 && strings.Contains(b, s[8:]) {
					t.Fatalf("a response holds a token beyond its prefix: %s", clipBody([]byte(b)))
				}
			}
		}
		if logs := env.logs.String(); strings.Contains(logs, "APA91b") {
			t.Fatalf("logs hold a token: %s", logs)
		}
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

type guardianLinkResponse struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type guardiansResponse struct {
	Guardians  []guardianLinkResponse `json:"guardians"`
	Protecting []guardianLinkResponse `json:"protecting"`
}

func (e *pushAPIEnv) invite(t *testing.T, token string) string {
	t.Helper()
	r := e.post(t, "/v1/guardians/invites", token, nil)
	wantStatus(t, r, http.StatusCreated)
	return decodeAs[struct {
		Code string `json:"code"`
	}](t, r).Code
}

func (e *pushAPIEnv) accept(t *testing.T, token, code, name string) guardianLinkResponse {
	t.Helper()
	r := e.post(t, "/v1/guardians/accept", token, map[string]any{"code": code, "name": name})
	wantStatus(t, r, http.StatusCreated)
	return decodeAs[guardianLinkResponse](t, r)
}

func (e *pushAPIEnv) guardians(t *testing.T, token string) guardiansResponse {
	t.Helper()
	r := e.get(t, "/v1/guardians", token)
	wantStatus(t, r, http.StatusOK)
	return decodeAs[guardiansResponse](t, r)
}

func TestGuardiansAPI(t *testing.T) {
	env := newPushAPIEnv(t)
	mum, son, daughter, stranger := env.token(t, "mum"), env.token(t, "son"), env.token(t, "daughter"), env.token(t, "stranger")

	code := env.invite(t, mum)
	link := env.accept(t, son, code, "Mum")
	t.Run("BothSidesSeeTheLink", func(t *testing.T) {
		g := env.guardians(t, mum)
		if len(g.Guardians) != 1 || g.Guardians[0].ID != link.ID || g.Guardians[0].Name != "" || len(g.Protecting) != 0 {
			t.Fatalf("mum sees: got %+v, want one guardian, unnamed", g)
		}
		g = env.guardians(t, son)
		if len(g.Protecting) != 1 || g.Protecting[0].Name != "Mum" || len(g.Guardians) != 0 {
			t.Fatalf("son sees: got %+v, want protecting Mum", g)
		}
		if g := env.guardians(t, stranger); len(g.Guardians)+len(g.Protecting) != 0 {
			t.Fatalf("stranger sees: got %+v, want nothing", g)
		}
	})
	t.Run("CodeWorksOnce", func(t *testing.T) {
		r := env.post(t, "/v1/guardians/accept", daughter, map[string]any{"code": code, "name": "Mum"})
		wantError(t, r, http.StatusNotFound, labels.ENotFound)
	})
	t.Run("StrangerCannotEnd", func(t *testing.T) {
		wantError(t, env.delete(t, "/v1/guardians/"+link.ID, stranger), http.StatusNotFound, labels.ENotFound)
		if g := env.guardians(t, mum); len(g.Guardians) != 1 {
			t.Fatalf("mum's guardians: got %+v, want the link kept", g)
		}
	})
	t.Run("ProtectedEnds", func(t *testing.T) {
		wantStatus(t, env.delete(t, "/v1/guardians/"+link.ID, mum), http.StatusNoContent)
		if g := env.guardians(t, son); len(g.Protecting) != 0 {
			t.Fatalf("son after mum ended it: got %+v, want nothing", g)
		}
		wantError(t, env.delete(t, "/v1/guardians/"+link.ID, son), http.StatusNotFound, labels.ENotFound)
	})
	t.Run("GuardianEnds", func(t *testing.T) {
		l := env.accept(t, daughter, env.invite(t, mum), "Mama")
		wantStatus(t, env.delete(t, "/v1/guardians/"+l.ID, daughter), http.StatusNoContent)
		if g := env.guardians(t, mum); len(g.Guardians) != 0 {
			t.Fatalf("mum after her daughter ended it: got %+v, want no guardians", g)
		}
	})
	t.Run("Cap", func(t *testing.T) {
		for _, g := range []string{"g1", "g2", "g3"} {
			env.accept(t, env.token(t, g), env.invite(t, mum), "Mum")
		}
		wantError(t, env.post(t, "/v1/guardians/invites", mum, nil), http.StatusConflict, labels.EConflict)
		if n := env.count(t, "push_guardians"); n != 3 {
			t.Fatalf("stored links: got %d, want 3", n)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		dad := env.token(t, "dad")
		own := env.invite(t, dad)
		before := env.count(t, "push_guardians")
		scenarios := []struct {
			name   string
			token  string
			body   any
			status int
			code   string
		}{
			{"NoName", son, map[string]any{"code": own}, http.StatusBadRequest, labels.EInvalid},
			{"NameTooLong", son, map[string]any{"code": own, "name": strings.Repeat("名", 41)}, http.StatusBadRequest, labels.EInvalid},
			{"OwnCode", dad, map[string]any{"code": own, "name": "Me"}, http.StatusBadRequest, labels.EInvalid},
			{"UnknownCode", son, map[string]any{"code": "AAAA-BBBB-CCCC-DDDD", "name": "Dad"}, http.StatusNotFound, labels.ENotFound},
			{"UnknownField", son, map[string]any{"code": own, "name": "Dad", "admin": true}, http.StatusBadRequest, labels.EInvalid},
			{"NotJSON", son, "code", http.StatusBadRequest, labels.EInvalidJSON},
		}
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				wantError(t, env.post(t, "/v1/guardians/accept", sc.token, sc.body), sc.status, sc.code)
			})
		}
		if n := env.count(t, "push_guardians"); n != before {
			t.Fatalf("stored links after bad requests: got %d, want %d", n, before)
		}
		// The code still works after the failed attempts.
		env.accept(t, son, own, "Dad")
	})
}

type notificationResponse struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	Number    string    `json:"number"`
	Verdict   string    `json:"verdict"`
	CreatedAt time.Time `json:"created_at"`
}

type notificationPageResponse struct {
	Notifications []notificationResponse `json:"notifications"`
	NextCursor    string                 `json:"next_cursor"`
}

func TestNotificationsAPI(t *testing.T) {
	env := newPushAPIEnv(t)
	ctx := context.Background()
	bob, alice := env.token(t, "bob"), env.token(t, "alice")
	wantStatus(t, env.post(t, "/v1/devices", bob, map[string]any{"token": fcmToken("b"), "installation_id": "b", "platform": "android"}), http.StatusOK)
	numbers := []string{"+8613900139001", "+8613900139002", "+8613900139003"}
	for _, n := range numbers {
		env.lookup(t, n, bob)   // recorded: bob has a device opted in
		env.lookup(t, n, alice) // not recorded: alice has none
	}
	if err := env.push.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Each number in turn becomes fraud, a minute apart.
	for _, n := range numbers {
		env.clock.Add(time.Minute)
		for _, u := range []string{"r1", "r2", "r3"} {
			env.report(t, env.token(t, u), map[string]any{"number": n, "category": "fraud"}, http.StatusCreated)
		}
		if v := env.lookup(t, n, "").Verdict; v != "fraud" {
			t.Fatalf("%s: got verdict %s, want fraud", n, v)
		}
		env.push.LabelChanged(nil, &labels.Label{Key: n})
		if err := env.push.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("NewestFirstInPages", func(t *testing.T) {
		var got []string
		path := "/v1/me/notifications?limit=2&lang=zh-Hans"
		pages := 0
		for {
			r := env.get(t, path, bob)
			wantStatus(t, r, http.StatusOK)
			page := decodeAs[notificationPageResponse](t, r)
			pages++
			for _, n := range page.Notifications {
				got = append(got, n.Number)
				if n.Kind != "retro_warning" || n.Verdict != "fraud" || !strings.Contains(n.Body, "诈骗") {
					t.Errorf("notification: got %+v, want a retro_warning about fraud in Simplified Chinese", n)
				}
			}
			if page.NextCursor == "" {
				break
			}
			path = "/v1/me/notifications?limit=2&lang=zh-Hans&cursor=" + url.QueryEscape(page.NextCursor)
		}
		want := []string{numbers[2], numbers[1], numbers[0]}
		if fmt.Sprint(got) != fmt.Sprint(want) || pages != 2 {
			t.Fatalf("notifications: got %v in %d pages, want %v in 2", got, pages, want)
		}
	})
	t.Run("English", func(t *testing.T) {
		r := env.get(t, "/v1/me/notifications?limit=1", bob)
		wantStatus(t, r, http.StatusOK)
		n := decodeAs[notificationPageResponse](t, r).Notifications[0]
		if !strings.Contains(n.Body, "+86 139 0013 9003") || !strings.Contains(n.Body, "fraud by 3 people") {
			t.Errorf("body: got %q, want the number and \"fraud by 3 people\"", n.Body)
		}
	})
	t.Run("OnlyOwn", func(t *testing.T) {
		r := env.get(t, "/v1/me/notifications", alice)
		wantStatus(t, r, http.StatusOK)
		if page := decodeAs[notificationPageResponse](t, r); len(page.Notifications) != 0 {
			t.Fatalf("alice's inbox: got %+v, want none of bob's", page.Notifications)
		}
		// A cursor of bob's shows alice nothing of his either.
		r = env.get(t, "/v1/me/notifications?limit=1", bob)
		cursor := decodeAs[notificationPageResponse](t, r).NextCursor
		r = env.get(t, "/v1/me/notifications?cursor="+url.QueryEscape(cursor), alice)
		wantStatus(t, r, http.StatusOK)
		if page := decodeAs[notificationPageResponse](t, r); len(page.Notifications) != 0 {
			t.Fatalf("alice with bob's cursor: got %+v, want none", page.Notifications)
		}
	})
	t.Run("BadQuery", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=101", "limit=ten", "cursor=", "cursor=not-a-cursor", "lang=" + strings.Repeat("x", 100)} {
			t.Run(q[:min(len(q), 12)], func(t *testing.T) {
				wantError(t, env.get(t, "/v1/me/notifications?"+q, bob), http.StatusBadRequest, labels.EInvalid)
			})
		}
		wantError(t, env.get(t, "/v1/me/notifications", ""), http.StatusUnauthorized, labels.EUnauthorized)
	})
}
