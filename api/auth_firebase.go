package api

import (
	"context"
	"errors"
	"fmt"

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
}

var _ Verifier = (*FirebaseVerifier)(nil)

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
	return &FirebaseVerifier{client: client}, nil
}

// Verify checks an ID token and, with one call to Firebase per request, that
// its user is neither disabled nor signed out since the token was issued.
// Every failure, including an unreachable Firebase, is labels.EUnauthorized.
// The caller is a moderator when the token carries the custom claim
// `moderator: true`, and has a Phone when they signed in with their phone.
func (fv *FirebaseVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, labels.Errorf(labels.EUnauthorized, "missing token")
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
	return p, nil
}
