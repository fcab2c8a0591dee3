package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/callrep/callrep/labels"
)

// LocalIssuerName is the `iss` claim of tokens minted by a LocalIssuer.
const LocalIssuerName = "callrep-local"

const (
	// localLeeway absorbs clock drift between the phone and the server.
	localLeeway = 30 * time.Second
	// localMaxUIDLen matches Firebase's limit so both providers accept the
	// same user IDs.
	localMaxUIDLen = 128
	localPEMType   = "PRIVATE KEY"
	// localCacheSize bounds the verified-token cache: a few times the
	// clients active within a token's lifetime on one server.
	localCacheSize = 50_000
	// MaxLocalTokenLifetime is the longest lifetime (exp - iat) of a local
	// token that Issue makes and Verify accepts: a leaked token is good
	// for a week at most, and a revocation needs to be kept no longer.
	MaxLocalTokenLifetime = 7 * 24 * time.Hour
	localRevokedFile      = "revoked.json"
)

// LocalIssuer mints and verifies callrep's own access tokens, signed with an
// Ed25519 key kept in the data directory. It is the embedded default when no
// Firebase project is configured. It is safe for concurrent use.
type LocalIssuer struct {
	created bool
	dir     string // holds the key and the revocations

	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	keyID  string
	now    func() time.Time
	parser *jwt.Parser
	cache  verifiedTokens

	revokedMu sync.RWMutex
	revoked   map[string]int64 // uid → Unix second before which its tokens are void
}

// verifiedTokens remembers the callers of tokens verified lately, keyed by
// the SHA-256 of the token, until the token's expiry: checking an Ed25519
// signature is a fifth of the CPU time of a report. Bounded by dropping an
// arbitrary entry when full.
type verifiedTokens struct {
	mu  sync.Mutex
	m   map[[sha256.Size]byte]verifiedToken
	max int
}

type verifiedToken struct {
	p   Principal
	iat int64 // Unix seconds
	exp time.Time
}

// get returns the caller of the token with hash sum, and when the token
// was issued, if it was verified and has not expired at now.
func (c *verifiedTokens) get(sum [sha256.Size]byte, now time.Time) (Principal, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[sum]
	if !ok {
		return Principal{}, 0, false
	}
	if !now.Before(v.exp) {
		delete(c.m, sum)
		return Principal{}, 0, false
	}
	return v.p, v.iat, true
}

func (c *verifiedTokens) put(sum [sha256.Size]byte, p Principal, iat int64, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[sha256.Size]byte]verifiedToken)
	}
	if _, ok := c.m[sum]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[sum] = verifiedToken{p: p, iat: iat, exp: exp}
}

// dropUID forgets the tokens of uid, whose sessions were revoked.
func (c *verifiedTokens) dropUID(uid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if v.p.UID == uid {
			delete(c.m, k)
		}
	}
}

var _ Verifier = (*LocalIssuer)(nil)

// localClaims is the payload of a local token.
type localClaims struct {
	jwt.RegisteredClaims
	Moderator bool   `json:"moderator,omitempty"`
	Phone     string `json:"phone_number,omitempty"`
}

// LoadOrCreateLocalIssuer returns an issuer whose key lives in
// <dataDir>/auth/issuer.key (PKCS#8 PEM, mode 0600, directory 0700). The key
// is generated on first use; when several processes start together they all
// end up with the one key that reached the disk first. A nil now means
// time.Now.
func LoadOrCreateLocalIssuer(dataDir string, now func() time.Time) (*LocalIssuer, error) {
	if now == nil {
		now = time.Now
	}
	dir := filepath.Join(dataDir, "auth")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("api: unable to create key directory: %w", err)
	}
	path := filepath.Join(dir, "issuer.key")

	key, err := readIssuerKey(path)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		key, created, err = createIssuerKey(dir, path)
	}
	if err != nil {
		return nil, err
	}
	li := newLocalIssuer(key, now)
	li.created, li.dir = created, dir
	if li.revoked, err = readRevoked(filepath.Join(dir, localRevokedFile)); err != nil {
		return nil, err
	}
	return li, nil
}

// readRevoked loads the revocations at path; none when there is no file.
func readRevoked(path string) (map[string]int64, error) {
	revoked := map[string]int64{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return revoked, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &revoked)
	}
	if err != nil {
		return nil, fmt.Errorf("api: unable to read token revocations %s: %w", path, err)
	}
	return revoked, nil
}

// Revoke voids uid's tokens issued before the current second, durably
// (in the data directory, next to the key): a token issued in the same
// second stays valid, as with Firebase. Revocations older than the
// longest token lifetime are dropped, having nothing left to void.
func (li *LocalIssuer) Revoke(ctx context.Context, uid string) error {
	if li.dir == "" {
		return errors.New("api: this issuer has no data directory to keep revocations in")
	}
	now := li.now().Unix()
	li.revokedMu.Lock()
	defer li.revokedMu.Unlock()
	next := map[string]int64{uid: now}
	for u, at := range li.revoked {
		if u != uid && now-at <= int64((MaxLocalTokenLifetime+localLeeway)/time.Second) {
			next[u] = at
		}
	}
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(li.dir, ".revoked.tmp-*")
	if err != nil {
		return fmt.Errorf("api: unable to write token revocations: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(li.dir, localRevokedFile))
	}
	if err != nil {
		return fmt.Errorf("api: unable to write token revocations: %w", err)
	}
	syncDir(li.dir)
	li.revoked = next
	return nil
}

// revokedAt reports whether a token of uid issued at iat is void.
func (li *LocalIssuer) revokedAt(uid string, iat int64) bool {
	li.revokedMu.RLock()
	defer li.revokedMu.RUnlock()
	before, ok := li.revoked[uid]
	return ok && iat < before
}

// Created reports whether LoadOrCreateLocalIssuer generated the key, the
// data directory having none: tokens it signs are accepted only by a
// server with this data directory.
func (li *LocalIssuer) Created() bool { return li.created }

func newLocalIssuer(key ed25519.PrivateKey, now func() time.Time) *LocalIssuer {
	pub := key.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return &LocalIssuer{
		key:   key,
		pub:   pub,
		keyID: hex.EncodeToString(sum[:8]),
		now:   now,
		cache: verifiedTokens{max: localCacheSize},
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(LocalIssuerName),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(localLeeway),
			jwt.WithTimeFunc(now),
		),
	}
}

// readIssuerKey loads the key at path; the error wraps fs.ErrNotExist when
// there is no file yet.
func readIssuerKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("api: unable to read issuer key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != localPEMType {
		return nil, fmt.Errorf("api: issuer key %s is not a PEM %q block", path, localPEMType)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("api: unable to parse issuer key %s: %w", path, err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("api: issuer key %s is %T, want ed25519", path, parsed)
	}
	return key, nil
}

// createIssuerKey writes a fresh key to a temporary file and publishes it
// under path without ever replacing an existing file, so a concurrent
// starter's key wins or ours does, never both. It returns whichever key ends
// up at path, and whether it is ours.
func createIssuerKey(dir, path string) (ed25519.PrivateKey, bool, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("api: unable to generate issuer key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("api: unable to encode issuer key: %w", err)
	}

	// CreateTemp opens with mode 0600, before any key byte is written.
	tmp, err := os.CreateTemp(dir, ".issuer.key.tmp-*")
	if err != nil {
		return nil, false, fmt.Errorf("api: unable to create issuer key: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)

	err = pem.Encode(tmp, &pem.Block{Type: localPEMType, Bytes: der})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("api: unable to write issuer key: %w", err)
	}

	// A hard link fails if path exists, which rename would silently
	// overwrite after another process had already started using its key.
	err = os.Link(tmpName, path)
	switch {
	case err == nil:
		syncDir(dir)
		return key, true, nil
	case errors.Is(err, fs.ErrExist):
		key, err := readIssuerKey(path)
		return key, false, err
	}
	// The file system has no hard links: fall back to rename and adopt
	// whatever key is on disk afterwards, which narrows the race to two
	// renames within the same instant.
	if err := os.Rename(tmpName, path); err != nil {
		return nil, false, fmt.Errorf("api: unable to install issuer key: %w", err)
	}
	syncDir(dir)
	onDisk, err := readIssuerKey(path)
	return onDisk, err == nil && onDisk.Equal(key), err
}

// syncDir makes a new directory entry durable; failure only costs durability
// across a power cut, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// KeyID returns the `kid` header of tokens from this issuer: the first 16
// hex digits of the SHA-256 of the public key.
func (li *LocalIssuer) KeyID() string { return li.keyID }

// Issue mints a token for uid valid for ttl from now. uid must be 1 to 128
// characters from [A-Za-z0-9._:@-].
func (li *LocalIssuer) Issue(uid string, moderator bool, ttl time.Duration) (string, error) {
	return li.IssueFor(Principal{UID: uid, Moderator: moderator}, ttl)
}

// IssueFor mints a token for p (its UID, moderator role and phone number)
// valid for ttl from now. A phone number in a local token proves nothing
// (whoever holds the data directory can mint any): it is for trying the
// proof-of-ownership flow locally, never for production.
func (li *LocalIssuer) IssueFor(p Principal, ttl time.Duration) (string, error) {
	uid := p.UID
	if !validLocalUID(uid) {
		return "", labels.Errorf(labels.EInvalid, "uid must be 1 to %d characters of A-Z a-z 0-9 . _ : @ -", localMaxUIDLen)
	}
	if ttl <= 0 || ttl > MaxLocalTokenLifetime {
		return "", labels.Errorf(labels.EInvalid, "token lifetime must be positive and at most %v", MaxLocalTokenLifetime)
	}
	if p.Phone != "" && !validPhoneClaim(p.Phone) {
		return "", labels.Errorf(labels.EInvalid, "phone must be an E.164 number such as +8613800138000")
	}
	now := li.now()
	claims := localClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    LocalIssuerName,
			Subject:   uid,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Moderator: p.Moderator,
		Phone:     p.Phone,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = li.keyID
	signed, err := tok.SignedString(li.key)
	if err != nil {
		return "", fmt.Errorf("api: unable to sign token: %w", err)
	}
	return signed, nil
}

// Verify checks a token minted by this issuer (signature, algorithm, key id,
// issuer, expiry against the injected clock with 30s leeway) and returns the
// caller it names. A token verified before is recognised by its hash until
// it expires; past its expiry it is checked again, leeway included.
func (li *LocalIssuer) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "missing token")
	}
	sum := sha256.Sum256([]byte(token))
	now := li.now()
	if p, iat, ok := li.cache.get(sum, now); ok {
		if li.revokedAt(p.UID, iat) {
			return Principal{}, errRevoked()
		}
		return p, nil
	}
	var claims localClaims
	_, err := li.parser.ParseWithClaims(token, &claims, li.keyFunc)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "token expired")
	}
	if errors.Is(err, errForeignKey) || errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return Principal{}, labels.Errorf(labels.EUnauthorized,
			"token was not signed by this server's issuer (a token from callrep token needs the server's --data)")
	}
	if err != nil {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	if !validLocalUID(claims.Subject) {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	if claims.IssuedAt == nil {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	iat, exp := claims.IssuedAt.Time, claims.ExpiresAt.Time
	if exp.Sub(iat) > MaxLocalTokenLifetime {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "token lifetime exceeds the %v this server accepts", MaxLocalTokenLifetime)
	}
	if li.revokedAt(claims.Subject, iat.Unix()) {
		return Principal{}, errRevoked()
	}
	if claims.Phone != "" && !validPhoneClaim(claims.Phone) {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	p := Principal{UID: claims.Subject, Moderator: claims.Moderator, Provider: ProviderLocal, Phone: claims.Phone}
	if now.Before(exp) {
		li.cache.put(sum, p, iat.Unix(), exp)
	}
	return p, nil
}

func errRevoked() error {
	return labels.Errorf(labels.EUnauthorized, "token was revoked; sign in again")
}

func (li *LocalIssuer) keyFunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid != li.keyID {
		return nil, errForeignKey
	}
	return li.pub, nil
}

// errForeignKey is a token's key id that is not this issuer's.
var errForeignKey = errors.New("unknown key id")

// validPhoneClaim reports whether s looks like an E.164 number: + and 6 to
// 15 digits, as Firebase's phone_number claim is.
func validPhoneClaim(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	if !ok || len(digits) < 6 || len(digits) > 15 {
		return false
	}
	return strings.Trim(digits, "0123456789") == ""
}

func validLocalUID(uid string) bool {
	if len(uid) == 0 || len(uid) > localMaxUIDLen {
		return false
	}
	for i := 0; i < len(uid); i++ {
		switch c := uid[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}
