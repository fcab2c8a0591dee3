package api

import "context"

// principalKey is the context key of the authenticated caller.
type principalKey struct{}

// ContextWithPrincipal returns a copy of ctx that carries p as the caller.
func ContextWithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the caller carried by ctx; ok is false for
// anonymous requests.
func PrincipalFromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// ReporterID is the reporter identity of the caller in labels: the UID
// qualified by its Provider, since a UID is unique only within its
// provider ("local:alice", "firebase:Xk3…").
func (p Principal) ReporterID() string {
	return p.Provider + ":" + p.UID
}
