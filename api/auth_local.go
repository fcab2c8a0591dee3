package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
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
)

// LocalIssuer mints and verifies callrep's own access tokens, signed with an
// Ed25519 key kept in the data directory. It is the embedded default when no
// Firebase project is configured. It is safe for concurrent use.
type LocalIssuer struct {
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	keyID  string
	now    func() time.Time
	parser *jwt.Parser
	cache  verifiedTokens
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
	exp time.Time
}

// get returns the caller of the token with hash sum if it was verified
// and has not expired at now.
func (c *verifiedTokens) get(sum [sha256.Size]byte, now time.Time) (Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[sum]
	if !ok {
		return Principal{}, false
	}
	if !now.Before(v.exp) {
		delete(c.m, sum)
		return Principal{}, false
	}
	return v.p, true
}

func (c *verifiedTokens) put(sum [sha256.Size]byte, p Principal, exp time.Time) {
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
	c.m[sum] = verifiedToken{p: p, exp: exp}
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
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createIssuerKey(dir, path)
	}
	if err != nil {
		return nil, err
	}
	return newLocalIssuer(key, now), nil
}

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
// up at path.
func createIssuerKey(dir, path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("api: unable to generate issuer key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("api: unable to encode issuer key: %w", err)
	}

	// CreateTemp opens with mode 0600, before any key byte is written.
	tmp, err := os.CreateTemp(dir, ".issuer.key.tmp-*")
	if err != nil {
		return nil, fmt.Errorf("api: unable to create issuer key: %w", err)
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
		return nil, fmt.Errorf("api: unable to write issuer key: %w", err)
	}

	// A hard link fails if path exists, which rename would silently
	// overwrite after another process had already started using its key.
	err = os.Link(tmpName, path)
	switch {
	case err == nil:
		syncDir(dir)
		return key, nil
	case errors.Is(err, fs.ErrExist):
		return readIssuerKey(path)
	}
	// The file system has no hard links: fall back to rename and adopt
	// whatever key is on disk afterwards, which narrows the race to two
	// renames within the same instant.
	if err := os.Rename(tmpName, path); err != nil {
		return nil, fmt.Errorf("api: unable to install issuer key: %w", err)
	}
	syncDir(dir)
	return readIssuerKey(path)
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
	if ttl <= 0 {
		return "", labels.Errorf(labels.EInvalid, "token lifetime must be positive")
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
	if p, ok := li.cache.get(sum, now); ok {
		return p, nil
	}
	var claims localClaims
	_, err := li.parser.ParseWithClaims(token, &claims, li.keyFunc)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "token expired")
	}
	if err != nil {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	if !validLocalUID(claims.Subject) {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	if claims.Phone != "" && !validPhoneClaim(claims.Phone) {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	p := Principal{UID: claims.Subject, Moderator: claims.Moderator, Provider: ProviderLocal, Phone: claims.Phone}
	if exp := claims.ExpiresAt.Time; now.Before(exp) {
		li.cache.put(sum, p, exp)
	}
	return p, nil
}

func (li *LocalIssuer) keyFunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid != li.keyID {
		return nil, errors.New("unknown key id")
	}
	return li.pub, nil
}

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
