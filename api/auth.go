package api

import "context"

// Principal is the authenticated caller of a request: the identity that
// reports are filed under and that moderation rights are checked against.
type Principal struct {
	// UID identifies the user within its Provider; it is never empty.
	UID string
	// Moderator is set when the token carries the `moderator` claim.
	Moderator bool
	// Provider names the issuer that vouched for the caller: "local" or
	// "firebase". A UID is only unique together with its Provider.
	Provider string
	// Phone is the phone number the sign-in proved the caller controls:
	// the verified phone_number claim of a Firebase phone sign-in, or the
	// claim of a local token (which proves nothing: whoever holds the data
	// directory can mint one). "" when none.
	Phone string
}

// Verifier turns a bearer token into a Principal. Every bad, missing,
// expired or revoked token yields a *labels.Error with code
// labels.EUnauthorized whose message never repeats the token.
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// Revoker ends a user's sessions: their tokens issued before the current
// second stop working. Both verifiers are Revokers; erasure uses it.
type Revoker interface {
	Revoke(ctx context.Context, uid string) error
}

// Provider names as they appear in Principal.Provider.
const (
	ProviderLocal    = "local"
	ProviderFirebase = "firebase"
)
