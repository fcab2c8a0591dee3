package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
	"google.golang.org/api/option"

	"github.com/callrep/callrep/labels"
)

// FirebaseVerifier accepts Firebase Auth ID tokens of one project, the
// production sign-in path of the app.
//
// The Admin SDK switches to emulator mode whenever FIREBASE_AUTH_EMULATOR_HOST
// is set in the environment: it then skips signature checks entirely and asks
// that host whether the user exists. That variable must never be set in
// production.
type FirebaseVerifier struct {
	client *auth.Client
	now    func() time.Time
	cache  verifiedTokens
}

var (
	_ Verifier = (*FirebaseVerifier)(nil)
	_ Revoker  = (*FirebaseVerifier)(nil)
	_ Revoker  = (*LocalIssuer)(nil)
)

// firebaseCacheFor is how long a verified ID token is taken on trust
// without asking Firebase again whether its user was disabled or signed
// out: a revocation elsewhere (the console, another replica) takes effect
// within it; this server's own revocations at once.
const firebaseCacheFor = 30 * time.Second

// NewFirebaseVerifier creates a verifier for ID tokens of projectID. opts are
// passed to the Admin SDK (credentials, HTTP client); none are needed when
// running on Google Cloud.
func NewFirebaseVerifier(ctx context.Context, projectID string, opts ...option.ClientOption) (*FirebaseVerifier, error) {
	// An empty project would make the SDK guess it from credentials or the
	// environment; callrep wants it spelled out.
	if projectID == "" {
		return nil, errors.New("api: firebase project id is required")
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: projectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("api: unable to initialise firebase app: %w", err)
	}
	client, err := app.Auth(ctx)
	if err != nil {
		return nil, fmt.Errorf("api: unable to initialise firebase auth: %w", err)
	}
	return &FirebaseVerifier{client: client, now: time.Now, cache: verifiedTokens{max: localCacheSize}}, nil
}

// Revoke signs uid out everywhere: Firebase voids the refresh tokens and
// every ID token issued before the current second (one in the same second
// stays valid), and this server forgets the ones it verified.
func (fv *FirebaseVerifier) Revoke(ctx context.Context, uid string) error {
	if err := fv.client.RevokeRefreshTokens(ctx, uid); err != nil {
		return fmt.Errorf("api: unable to revoke the tokens of a firebase user: %w", err)
	}
	fv.cache.dropUID(uid)
	return nil
}

// Verify checks an ID token and, with a call to Firebase, that its user is
// neither disabled nor signed out since the token was issued. A token
// verified so is recognised by its SHA-256 for firebaseCacheFor, never past
// its expiry, without another call: the SDK's own check is one round trip
// per request. Every failure, including an unreachable Firebase, is
// labels.EUnauthorized. The caller is a moderator when the token carries
// the custom claim `moderator: true`, and has a Phone when they signed in
// with their phone.
func (fv *FirebaseVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "missing token")
	}
	sum := sha256.Sum256([]byte(token))
	now := fv.now()
	if p, _, ok := fv.cache.get(sum, now); ok {
		return p, nil
	}
	tok, err := fv.client.VerifyIDTokenAndCheckRevoked(ctx, token)
	switch {
	case auth.IsIDTokenExpired(err):
		return Principal{}, labels.Errorf(labels.EUnauthorized, "token expired")
	case err != nil:
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	case tok.UID == "":
		return Principal{}, labels.Errorf(labels.EUnauthorized, "invalid token")
	}
	moderator, _ := tok.Claims["moderator"].(bool)
	p := Principal{UID: tok.UID, Moderator: moderator, Provider: ProviderFirebase}
	// Only a phone sign-in proves the number: the claim can also come
	// from a number set on the account by other means.
	if tok.Firebase.SignInProvider == "phone" {
		p.Phone, _ = tok.Claims["phone_number"].(string)
	}
	until := now.Add(firebaseCacheFor)
	if exp := time.Unix(tok.Expires, 0); exp.Before(until) {
		until = exp
	}
	if now.Before(until) {
		fv.cache.put(sum, p, tok.IssuedAt, until)
	}
	return p, nil
}
