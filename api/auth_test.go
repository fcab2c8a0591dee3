package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callrep/callrep/api"
	"github.com/callrep/callrep/labels"
)

// authEpoch is the fixed "now" of local issuer tests.
var authEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// mustLocalIssuer opens (or creates) the issuer of dir with a fixed clock.
func mustLocalIssuer(tb testing.TB, dir string, now time.Time) *api.LocalIssuer {
	tb.Helper()
	li, err := api.LoadOrCreateLocalIssuer(dir, fixedClock(now))
	if err != nil {
		tb.Fatalf("LoadOrCreateLocalIssuer: got error %v, want nil", err)
	}
	return li
}

func mustIssue(tb testing.TB, li *api.LocalIssuer, uid string, moderator bool, ttl time.Duration) string {
	tb.Helper()
	tok, err := li.Issue(uid, moderator, ttl)
	if err != nil {
		tb.Fatalf("Issue(%q): got error %v, want nil", uid, err)
	}
	return tok
}

// readIssuerKey reads the private key the issuer of dir keeps on disk, so
// tests can forge tokens that differ from Issue's in exactly one respect.
func readIssuerKey(tb testing.TB, dir string) ed25519.PrivateKey {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "auth", "issuer.key"))
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		tb.Fatal("issuer.key: got no PEM block, want one")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return key.(ed25519.PrivateKey)
}

func signToken(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("SignedString: %v", err)
	}
	return s
}

// assertUnauthorized checks err is a labels.EUnauthorized error that does not
// echo the token.
func assertUnauthorized(tb testing.TB, err error, token string) {
	tb.Helper()
	if got := labels.ErrorCode(err); got != labels.EUnauthorized {
		tb.Fatalf("error code: got %q (%v), want %q", got, err, labels.EUnauthorized)
	}
	if token != "" && strings.Contains(err.Error(), token) {
		tb.Fatalf("error text: got %q, want it without the token", err.Error())
	}
}

func TestLocalIssuer_Verify(t *testing.T) {
	dir := t.TempDir()
	li := mustLocalIssuer(t, dir, authEpoch)
	key := readIssuerKey(t, dir)
	pub := key.Public().(ed25519.PublicKey)
	kid := map[string]any{"kid": li.KeyID()}
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": api.LocalIssuerName,
			"sub": "alice",
			"iat": authEpoch.Unix(),
			"exp": authEpoch.Add(time.Hour).Unix(),
		}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	pubPKIX, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPKIX})

	scenarios := []struct {
		name  string
		token func(t *testing.T) string
		now   time.Time // verifier clock; authEpoch when zero
		want  api.Principal
	}{
		{
			name:  "RoundTrip",
			token: func(t *testing.T) string { return mustIssue(t, li, "alice", false, time.Hour) },
			want:  api.Principal{UID: "alice", Provider: api.ProviderLocal},
		},
		{
			name:  "Moderator",
			token: func(t *testing.T) string { return mustIssue(t, li, "mod@example.org", true, time.Hour) },
			want:  api.Principal{UID: "mod@example.org", Moderator: true, Provider: api.ProviderLocal},
		},
		{
			name:  "WithinLeeway",
			token: func(t *testing.T) string { return mustIssue(t, li, "alice", false, time.Minute) },
			now:   authEpoch.Add(time.Minute + 20*time.Second),
			want:  api.Principal{UID: "alice", Provider: api.ProviderLocal},
		},
		{
			name:  "ErrExpired",
			token: func(t *testing.T) string { return mustIssue(t, li, "alice", false, time.Minute) },
			now:   authEpoch.Add(time.Minute + 31*time.Second),
		},
		{
			name:  "ErrIssuedInFuture",
			token: func(t *testing.T) string { return mustIssue(t, li, "alice", false, time.Hour) },
			now:   authEpoch.Add(-time.Minute),
		},
		{
			name: "ErrOtherDataDirKey",
			token: func(t *testing.T) string {
				return mustIssue(t, mustLocalIssuer(t, t.TempDir(), authEpoch), "alice", false, time.Hour)
			},
		},
		{
			name: "ErrTamperedPayload",
			token: func(t *testing.T) string {
				parts := strings.Split(mustIssue(t, li, "alice", false, time.Hour), ".")
				forged := signToken(t, jwt.SigningMethodEdDSA, key, kid, with("moderator", true))
				parts[1] = strings.Split(forged, ".")[1]
				return strings.Join(parts, ".")
			},
		},
		{
			name: "ErrAlgNone",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, valid())
			},
		},
		{
			name: "ErrHS256WithRawPublicKey",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodHS256, []byte(pub), kid, valid())
			},
		},
		{
			name: "ErrHS256WithPEMPublicKey",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodHS256, pubPEM, kid, valid())
			},
		},
		{
			name: "ErrWrongKeyID",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodEdDSA, key, map[string]any{"kid": "0000000000000000"}, valid())
			},
		},
		{
			name: "ErrNoKeyID",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodEdDSA, key, nil, valid())
			},
		},
		{
			name: "ErrWrongIssuer",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodEdDSA, key, kid, with("iss", "someone-else"))
			},
		},
		{
			name: "ErrNoExpiry",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodEdDSA, key, kid, with("exp", nil))
			},
		},
		{
			name: "ErrBadSubject",
			token: func(t *testing.T) string {
				return signToken(t, jwt.SigningMethodEdDSA, key, kid, with("sub", "a/b"))
			},
		},
		{
			name:  "ErrGarbage",
			token: func(t *testing.T) string { return "not.a.token" },
		},
		{
			name:  "ErrEmpty",
			token: func(t *testing.T) string { return "" },
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			now := sc.now
			if now.IsZero() {
				now = authEpoch
			}
			token := sc.token(t)
			verifier := mustLocalIssuer(t, dir, now)
			got, err := verifier.Verify(context.Background(), token)
			if sc.want == (api.Principal{}) {
				assertUnauthorized(t, err, token)
				return
			}
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			if got != sc.want {
				t.Fatalf("Verify: got %+v, want %+v", got, sc.want)
			}
		})
	}
}

func TestLocalIssuer_Issue(t *testing.T) {
	li := mustLocalIssuer(t, t.TempDir(), authEpoch)
	scenarios := []struct {
		name string
		uid  string
		ttl  time.Duration
		want string // error code, "" for success
	}{
		{"Plain", "alice", time.Hour, ""},
		{"AllPunctuation", "A.b_c:d@e-f9", time.Hour, ""},
		{"MaxLength", strings.Repeat("x", 128), time.Hour, ""},
		{"ErrEmptyUID", "", time.Hour, labels.EInvalid},
		{"ErrTooLong", strings.Repeat("x", 129), time.Hour, labels.EInvalid},
		{"ErrSpace", "a b", time.Hour, labels.EInvalid},
		{"ErrSlash", "a/b", time.Hour, labels.EInvalid},
		{"ErrNonASCII", "jürgen", time.Hour, labels.EInvalid},
		{"ErrZeroTTL", "alice", 0, labels.EInvalid},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			tok, err := li.Issue(sc.uid, false, sc.ttl)
			if got := labels.ErrorCode(err); got != sc.want {
				t.Fatalf("Issue(%q, %v): got code %q (%v), want %q", sc.uid, sc.ttl, got, err, sc.want)
			}
			if err != nil {
				return
			}
			p, err := li.Verify(context.Background(), tok)
			if err != nil || p.UID != sc.uid {
				t.Fatalf("Verify: got %+v, %v, want uid %q", p, err, sc.uid)
			}
		})
	}
}

// TestLocalIssuer_Phone: a local token carries the phone number it was
// minted with, and only an E.164 one.
func TestLocalIssuer_Phone(t *testing.T) {
	li := mustLocalIssuer(t, t.TempDir(), authEpoch)
	for _, sc := range []struct {
		name, phone, want string
	}{
		{"E164", "+8613800138000", ""},
		{"None", "", ""},
		{"ErrNational", "13800138000", labels.EInvalid},
		{"ErrLetters", "+86138001380ab", labels.EInvalid},
		{"ErrTooLong", "+1234567890123456", labels.EInvalid},
	} {
		t.Run(sc.name, func(t *testing.T) {
			tok, err := li.IssueFor(api.Principal{UID: "owner", Phone: sc.phone}, time.Hour)
			if got := labels.ErrorCode(err); got != sc.want {
				t.Fatalf("IssueFor: got code %q (%v), want %q", got, err, sc.want)
			}
			if err != nil {
				return
			}
			p, err := li.Verify(context.Background(), tok)
			if err != nil || p.Phone != sc.phone || p.UID != "owner" {
				t.Fatalf("Verify: got %+v, %v, want phone %q", p, err, sc.phone)
			}
		})
	}
}

func TestLocalIssuer_Header(t *testing.T) {
	dir := t.TempDir()
	li := mustLocalIssuer(t, dir, authEpoch)
	tok := mustIssue(t, li, "alice", true, time.Hour)

	var claims jwt.MapClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, &claims)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := parsed.Header["alg"], "EdDSA"; got != want {
		t.Errorf("alg: got %v, want %v", got, want)
	}
	kid, _ := parsed.Header["kid"].(string)
	if len(kid) != 16 || kid != li.KeyID() {
		t.Errorf("kid: got %q, want 16 hex digits equal to %q", kid, li.KeyID())
	}
	want := map[string]any{
		"iss":       api.LocalIssuerName,
		"sub":       "alice",
		"moderator": true,
		"iat":       float64(authEpoch.Unix()),
		"exp":       float64(authEpoch.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s: got %v, want %v", k, claims[k], v)
		}
	}
}

// TestLocalIssuer_Revoke: Revoke voids the tokens issued before its second,
// cached ones too, durably; later tokens and other users' work.
func TestLocalIssuer_Revoke(t *testing.T) {
	dir := t.TempDir()
	now := authEpoch
	clock := func() time.Time { return now }
	li, err := api.LoadOrCreateLocalIssuer(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	old, bob := mustIssue(t, li, "alice", false, time.Hour), mustIssue(t, li, "bob", false, time.Hour)
	if _, err := li.Verify(context.Background(), old); err != nil { // now cached
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if err := li.Revoke(context.Background(), "alice"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	fresh := mustIssue(t, li, "alice", false, time.Hour)
	reloaded, err := api.LoadOrCreateLocalIssuer(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]*api.LocalIssuer{"Same": li, "Reloaded": reloaded} {
		_, err := v.Verify(context.Background(), old)
		if labels.ErrorCode(err) != labels.EUnauthorized || !strings.Contains(labels.ErrorMessage(err), "revoked") {
			t.Errorf("%s: token from before the revocation: got %v, want revoked", name, err)
		}
		if p, err := v.Verify(context.Background(), fresh); err != nil || p.UID != "alice" {
			t.Errorf("%s: token from the second of the revocation: got %+v, %v; want alice", name, p, err)
		}
		if _, err := v.Verify(context.Background(), bob); err != nil {
			t.Errorf("%s: another user's token: got %v, want valid", name, err)
		}
	}
}

// TestLocalIssuer_LifetimeCap: a token living longer than
// MaxLocalTokenLifetime is neither issued nor accepted.
func TestLocalIssuer_LifetimeCap(t *testing.T) {
	dir := t.TempDir()
	li := mustLocalIssuer(t, dir, authEpoch)
	if _, err := li.Issue("alice", false, api.MaxLocalTokenLifetime+time.Second); labels.ErrorCode(err) != labels.EInvalid {
		t.Errorf("Issue beyond the cap: got %v, want invalid_argument", err)
	}
	mustIssue(t, li, "alice", false, api.MaxLocalTokenLifetime)
	long := signToken(t, jwt.SigningMethodEdDSA, readIssuerKey(t, dir), map[string]any{"kid": li.KeyID()}, jwt.MapClaims{
		"iss": api.LocalIssuerName, "sub": "alice", "iat": authEpoch.Unix(), "exp": authEpoch.Add(api.MaxLocalTokenLifetime + time.Minute).Unix(),
	})
	_, err := li.Verify(context.Background(), long)
	assertUnauthorized(t, err, long)
	noIAT := signToken(t, jwt.SigningMethodEdDSA, readIssuerKey(t, dir), map[string]any{"kid": li.KeyID()}, jwt.MapClaims{
		"iss": api.LocalIssuerName, "sub": "alice", "exp": authEpoch.Add(time.Hour).Unix(),
	})
	_, err = li.Verify(context.Background(), noIAT)
	assertUnauthorized(t, err, noIAT)
}

// TestLocalIssuer_ForeignKeyMessage: a token signed with another data
// directory's key says so, rather than only "invalid token".
func TestLocalIssuer_ForeignKeyMessage(t *testing.T) {
	li := mustLocalIssuer(t, t.TempDir(), authEpoch)
	other := t.TempDir()
	mustLocalIssuer(t, other, authEpoch)
	key := readIssuerKey(t, other)
	claims := jwt.MapClaims{"iss": api.LocalIssuerName, "sub": "alice", "iat": authEpoch.Unix(), "exp": authEpoch.Add(time.Hour).Unix()}
	for name, token := range map[string]string{
		"OtherKeyID":      mustIssue(t, mustLocalIssuer(t, t.TempDir(), authEpoch), "alice", false, time.Hour),
		"OtherKeySameKid": signToken(t, jwt.SigningMethodEdDSA, key, map[string]any{"kid": li.KeyID()}, claims),
	} {
		_, err := li.Verify(context.Background(), token)
		if msg := labels.ErrorMessage(err); labels.ErrorCode(err) != labels.EUnauthorized || !strings.Contains(msg, "not signed by this server's issuer") {
			t.Errorf("%s: got %v, want unauthorized naming the issuer", name, err)
		}
	}
}

func TestLoadOrCreateLocalIssuer(t *testing.T) {
	t.Run("SameDirSameKey", func(t *testing.T) {
		dir := t.TempDir()
		a := mustLocalIssuer(t, dir, authEpoch)
		b := mustLocalIssuer(t, dir, authEpoch)
		if !a.Created() || b.Created() {
			t.Fatalf("Created: got %v then %v, want true then false", a.Created(), b.Created())
		}
		if a.KeyID() != b.KeyID() {
			t.Fatalf("key id: got %q then %q, want equal", a.KeyID(), b.KeyID())
		}
		p, err := b.Verify(context.Background(), mustIssue(t, a, "alice", false, time.Hour))
		if err != nil || p.UID != "alice" {
			t.Fatalf("Verify across loads: got %+v, %v, want uid alice", p, err)
		}
	})

	t.Run("ConcurrentStartOneKey", func(t *testing.T) {
		dir := t.TempDir()
		const n = 16
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				li, err := api.LoadOrCreateLocalIssuer(dir, time.Now)
				errs[i] = err
				if err == nil {
					ids[i] = li.KeyID()
				}
			})
		}
		wg.Wait()
		final := mustLocalIssuer(t, dir, authEpoch).KeyID()
		for i := range n {
			if errs[i] != nil || ids[i] != final {
				t.Fatalf("starter %d: got %q, %v, want key id %q on disk", i, ids[i], errs[i], final)
			}
		}
		entries, err := os.ReadDir(filepath.Join(dir, "auth"))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("auth dir: got %v, want only issuer.key", names)
		}
	})

	t.Run("FileModes", func(t *testing.T) {
		dir := t.TempDir()
		mustLocalIssuer(t, dir, authEpoch)
		for _, sc := range []struct {
			path string
			want os.FileMode
		}{
			{filepath.Join(dir, "auth"), 0o700},
			{filepath.Join(dir, "auth", "issuer.key"), 0o600},
		} {
			fi, err := os.Stat(sc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != sc.want {
				t.Errorf("%s mode: got %v, want %v", sc.path, got, sc.want)
			}
		}
	})

	t.Run("ErrCorruptKeyKept", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "auth", "issuer.key")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := api.LoadOrCreateLocalIssuer(dir, time.Now); err == nil {
			t.Fatal("LoadOrCreateLocalIssuer: got nil error, want one for a corrupt key")
		}
		data, err := os.ReadFile(path)
		if err != nil || string(data) != "garbage" {
			t.Fatalf("key file: got %q, %v, want it left untouched", data, err)
		}
	})
}

// fakeAuthEmulator stands in for the Firebase Auth emulator: it answers the
// one call VerifyIDTokenAndCheckRevoked makes, accounts:lookup, from users.
type fakeAuthEmulator struct {
	project string
	srv     *httptest.Server

	mu       sync.Mutex
	users    map[string]fakeEmulatorUser
	fail     bool // answer 500, as an unreachable backend would
	requests []fakeLookupRequest
	updates  int // accounts:update calls (revocations)
}

type fakeEmulatorUser struct {
	Disabled   bool
	ValidSince time.Time // tokens issued before this are revoked
}

type fakeLookupRequest struct {
	Method        string
	Path          string
	Authorization string
	LocalID       []string
}

func newFakeAuthEmulator(tb testing.TB, project string) *fakeAuthEmulator {
	tb.Helper()
	e := &fakeAuthEmulator{project: project, users: map[string]fakeEmulatorUser{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serveHTTP))
	tb.Cleanup(e.srv.Close)
	return e
}

func (e *fakeAuthEmulator) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		LocalID []string `json:"localId"`
	}
	_ = json.Unmarshal(body, &req)

	e.mu.Lock()
	defer e.mu.Unlock()
	if r.URL.Path == "/identitytoolkit.googleapis.com/v1/projects/"+e.project+"/accounts:update" {
		// RevokeRefreshTokens: {"localId": uid, "validSince": "<seconds>"}.
		var upd struct {
			LocalID    string `json:"localId"`
			ValidSince string `json:"validSince"`
		}
		if json.Unmarshal(body, &upd) != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		secs, err := strconv.ParseInt(upd.ValidSince, 10, 64)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		u := e.users[upd.LocalID]
		u.ValidSince = time.Unix(secs, 0)
		e.users[upd.LocalID] = u
		e.updates++
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"identitytoolkit#SetAccountInfoResponse","localId":"`+upd.LocalID+`"}`)
		return
	}
	e.requests = append(e.requests, fakeLookupRequest{
		Method:        r.Method,
		Path:          r.URL.Path,
		Authorization: r.Header.Get("Authorization"),
		LocalID:       req.LocalID,
	})

	w.Header().Set("Content-Type", "application/json")
	wantPath := "/identitytoolkit.googleapis.com/v1/projects/" + e.project + "/accounts:lookup"
	if r.Method != http.MethodPost || r.URL.Path != wantPath {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":404,"message":"NOT_FOUND"}}`)
		return
	}
	if e.fail {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"error":{"code":500,"message":"INTERNAL"}}`)
		return
	}
	type user struct {
		LocalID    string `json:"localId"`
		Disabled   bool   `json:"disabled"`
		ValidSince string `json:"validSince,omitempty"` // seconds, as a JSON string
	}
	resp := struct {
		Kind  string `json:"kind"`
		Users []user `json:"users,omitempty"`
	}{Kind: "identitytoolkit#GetAccountInfoResponse"}
	for _, id := range req.LocalID {
		u, ok := e.users[id]
		if !ok {
			continue
		}
		out := user{LocalID: id, Disabled: u.Disabled}
		if !u.ValidSince.IsZero() {
			out.ValidSince = strconv.FormatInt(u.ValidSince.Unix(), 10)
		}
		resp.Users = append(resp.Users, out)
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func (e *fakeAuthEmulator) host() string { return strings.TrimPrefix(e.srv.URL, "http://") }

func (e *fakeAuthEmulator) reset(users map[string]fakeEmulatorUser, fail bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.users, e.fail, e.requests = users, fail, nil
}

func (e *fakeAuthEmulator) lookups() []fakeLookupRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]fakeLookupRequest(nil), e.requests...)
}

// unsignedIDToken builds an ID token the way the Auth emulator does:
// alg "none" and an empty signature.
func unsignedIDToken(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
}

// tokenSubject returns the sub claim of an unsigned token.
func tokenSubject(tb testing.TB, token string) string {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token: got %d segments, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	return c.Sub
}

func TestFirebaseVerifier_Emulator(t *testing.T) {
	const project = "callrep-test"
	emu := newFakeAuthEmulator(t, project)
	t.Setenv("FIREBASE_AUTH_EMULATOR_HOST", emu.host())

	ctx := context.Background()
	now := time.Now()
	claims := func(uid string, edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss":       "https://securetoken.google.com/" + project,
			"aud":       project,
			"sub":       uid,
			"user_id":   uid,
			"auth_time": now.Add(-time.Hour).Unix(),
			"iat":       now.Add(-time.Minute).Unix(),
			"exp":       now.Add(time.Hour).Unix(),
			"firebase":  map[string]any{"sign_in_provider": "anonymous", "identities": map[string]any{}},
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	active := map[string]fakeEmulatorUser{
		"alice":    {},
		"mod":      {},
		"disabled": {Disabled: true},
		"revoked":  {ValidSince: now},
	}

	scenarios := []struct {
		name        string
		token       string
		fail        bool
		want        api.Principal // zero means unauthorized
		wantLookups int
	}{
		{
			name:        "Valid",
			token:       unsignedIDToken(t, claims("alice", nil)),
			want:        api.Principal{UID: "alice", Provider: api.ProviderFirebase},
			wantLookups: 1,
		},
		{
			name:        "ModeratorClaim",
			token:       unsignedIDToken(t, claims("mod", func(c map[string]any) { c["moderator"] = true })),
			want:        api.Principal{UID: "mod", Moderator: true, Provider: api.ProviderFirebase},
			wantLookups: 1,
		},
		{
			name: "PhoneSignIn",
			token: unsignedIDToken(t, claims("alice", func(c map[string]any) {
				c["phone_number"] = "+8613800138000"
				c["firebase"] = map[string]any{"sign_in_provider": "phone", "identities": map[string]any{"phone": []string{"+8613800138000"}}}
			})),
			want:        api.Principal{UID: "alice", Provider: api.ProviderFirebase, Phone: "+8613800138000"},
			wantLookups: 1,
		},
		{
			// A number on an account that signed in otherwise proves nothing.
			name:        "PhoneClaimWithoutPhoneSignIn",
			token:       unsignedIDToken(t, claims("alice", func(c map[string]any) { c["phone_number"] = "+8613800138000" })),
			want:        api.Principal{UID: "alice", Provider: api.ProviderFirebase},
			wantLookups: 1,
		},
		{
			name:        "ModeratorClaimNotBool",
			token:       unsignedIDToken(t, claims("mod", func(c map[string]any) { c["moderator"] = "true" })),
			want:        api.Principal{UID: "mod", Provider: api.ProviderFirebase},
			wantLookups: 1,
		},
		{
			name:        "ErrDisabledUser",
			token:       unsignedIDToken(t, claims("disabled", nil)),
			wantLookups: 1,
		},
		{
			name:        "ErrRevokedSession",
			token:       unsignedIDToken(t, claims("revoked", nil)),
			wantLookups: 1,
		},
		{
			name:        "ErrUnknownUser",
			token:       unsignedIDToken(t, claims("ghost", nil)),
			wantLookups: 1,
		},
		{
			name:        "ErrLookupFails",
			token:       unsignedIDToken(t, claims("alice", nil)),
			fail:        true,
			wantLookups: 1,
		},
		{
			name: "ErrExpired",
			token: unsignedIDToken(t, claims("alice", func(c map[string]any) {
				c["iat"] = now.Add(-2 * time.Hour).Unix()
				c["exp"] = now.Add(-time.Hour).Unix()
			})),
		},
		{
			name:  "ErrWrongAudience",
			token: unsignedIDToken(t, claims("alice", func(c map[string]any) { c["aud"] = "other-project" })),
		},
		{
			name: "ErrWrongIssuer",
			token: unsignedIDToken(t, claims("alice", func(c map[string]any) {
				c["iss"] = "https://securetoken.google.com/other-project"
			})),
		},
		{
			name:  "ErrIssuedInFuture",
			token: unsignedIDToken(t, claims("alice", func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() })),
		},
		{
			name:  "ErrNoSubject",
			token: unsignedIDToken(t, claims("", nil)),
		},
		{
			name:  "ErrGarbage",
			token: "garbage",
		},
		{
			name:  "ErrEmpty",
			token: "",
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			emu.reset(active, sc.fail)
			// A verifier of its own: its cache would answer a token
			// another scenario verified.
			fv, err := api.NewFirebaseVerifier(ctx, project)
			if err != nil {
				t.Fatalf("NewFirebaseVerifier: got error %v, want nil", err)
			}
			got, err := fv.Verify(ctx, sc.token)
			if sc.want == (api.Principal{}) {
				assertUnauthorized(t, err, sc.token)
			} else {
				if err != nil {
					t.Fatalf("Verify: got error %v, want nil", err)
				}
				if got != sc.want {
					t.Fatalf("Verify: got %+v, want %+v", got, sc.want)
				}
			}

			reqs := emu.lookups()
			if len(reqs) != sc.wantLookups {
				t.Fatalf("lookups: got %d (%+v), want %d", len(reqs), reqs, sc.wantLookups)
			}
			wantPath := "/identitytoolkit.googleapis.com/v1/projects/" + project + "/accounts:lookup"
			for _, r := range reqs {
				if r.Method != http.MethodPost || r.Path != wantPath {
					t.Errorf("lookup: got %s %s, want POST %s", r.Method, r.Path, wantPath)
				}
				if want := tokenSubject(t, sc.token); len(r.LocalID) != 1 || r.LocalID[0] != want {
					t.Errorf("lookup localId: got %v, want [%s]", r.LocalID, want)
				}
				if want := "Bearer owner"; r.Authorization != want {
					t.Errorf("lookup Authorization: got %q, want %q", r.Authorization, want)
				}
			}
		})
	}
}

// TestFirebaseVerifier_CacheAndRevoke: a verified token is not looked up
// again for a while; Revoke signs the user out at Firebase (the fake's
// accounts:update) and here at once; a token issued after still works.
func TestFirebaseVerifier_CacheAndRevoke(t *testing.T) {
	const project = "callrep-test"
	emu := newFakeAuthEmulator(t, project)
	t.Setenv("FIREBASE_AUTH_EMULATOR_HOST", emu.host())
	ctx := context.Background()
	fv, err := api.NewFirebaseVerifier(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token := func(uid string, iat time.Time) string {
		return unsignedIDToken(t, map[string]any{
			"iss": "https://securetoken.google.com/" + project, "aud": project, "sub": uid, "user_id": uid,
			"auth_time": iat.Unix(), "iat": iat.Unix(), "exp": now.Add(time.Hour).Unix(),
			"firebase": map[string]any{"sign_in_provider": "anonymous", "identities": map[string]any{}},
		})
	}
	emu.reset(map[string]fakeEmulatorUser{"alice": {}, "bob": {}}, false)
	// Issued two seconds ago: Firebase voids tokens issued before the
	// second of the revocation, not in it.
	alice, bob := token("alice", now.Add(-2*time.Second)), token("bob", now.Add(-2*time.Second))
	for range 5 {
		if p, err := fv.Verify(ctx, alice); err != nil || p.UID != "alice" {
			t.Fatalf("Verify: got %+v, %v; want alice", p, err)
		}
	}
	if _, err := fv.Verify(ctx, bob); err != nil {
		t.Fatal(err)
	}
	if n := len(emu.lookups()); n != 2 {
		t.Fatalf("accounts:lookup calls: got %d for five verifications of one token and one of another, want 2", n)
	}

	if err := fv.Revoke(ctx, "alice"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	emu.mu.Lock()
	updates := emu.updates
	emu.mu.Unlock()
	if updates != 1 {
		t.Fatalf("accounts:update calls: got %d, want 1", updates)
	}
	_, err = fv.Verify(ctx, alice)
	assertUnauthorized(t, err, alice)
	if _, err := fv.Verify(ctx, bob); err != nil {
		t.Fatalf("another user's cached token: got %v, want it still valid", err)
	}
	if p, err := fv.Verify(ctx, token("alice", time.Now())); err != nil || p.UID != "alice" {
		t.Fatalf("a token issued after the revocation: got %+v, %v; want alice", p, err)
	}
}

func TestNewFirebaseVerifier_ErrNoProject(t *testing.T) {
	if _, err := api.NewFirebaseVerifier(context.Background(), ""); err == nil {
		t.Fatal("NewFirebaseVerifier(\"\"): got nil error, want one")
	}
}

// TestLocalIssuerCache: a token verified once is recognised again until it
// expires and never after; a verified token does not vouch for a tampered
// copy.
func TestLocalIssuerCache(t *testing.T) {
	now := authEpoch
	li, err := api.LoadOrCreateLocalIssuer(t.TempDir(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := mustIssue(t, li, "alice", false, time.Minute)
	want := api.Principal{UID: "alice", Provider: api.ProviderLocal}
	for _, at := range []time.Duration{0, 59 * time.Second, 0} {
		now = authEpoch.Add(at)
		if p, err := li.Verify(ctx, tok); err != nil || p != want {
			t.Fatalf("at +%v: got %+v, %v; want %+v", at, p, err, want)
		}
	}
	parts := strings.Split(tok, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	if _, err := li.Verify(ctx, parts[0]+"."+parts[1]+"."+string(sig)); labels.ErrorCode(err) != labels.EUnauthorized {
		t.Fatalf("tampered signature of a cached token: got %v, want %s", err, labels.EUnauthorized)
	}
	now = authEpoch.Add(time.Minute + 31*time.Second)
	if _, err := li.Verify(ctx, tok); labels.ErrorCode(err) != labels.EUnauthorized || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("cached token past expiry and leeway: got %v, want token expired", err)
	}
}
