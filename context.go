package gatehouse

import (
	"context"
	"slices"
)

type principalKey struct{}

// WithPrincipal returns a context carrying p. The web edge calls it after
// authenticating a request; tests of handlers may too.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the request's principal, if it is signed in.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// UserFrom returns the signed-in user of the request, if any.
func UserFrom(ctx context.Context) (User, bool) {
	p, ok := PrincipalFrom(ctx)
	return p.User, ok
}

// Authorize returns nil when the request's principal holds permission:
// CodeUnauthenticated (401) when nobody is signed in, CodeCrossOrigin (403)
// when the request is a cross-origin state change authenticated by the
// cookie, CodeForbidden (403) when the user lacks the permission. Call it
// inside handlers as the real security boundary, whatever the UI shows.
func Authorize(ctx context.Context, permission string) error {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return errUnauthenticated
	}
	if p.CrossOrigin {
		return errCrossOrigin
	}
	if !p.Can(permission) {
		return &Error{Code: CodeForbidden, Message: "You do not have permission to do this."}
	}
	return nil
}

var errCrossOrigin = &Error{Code: CodeCrossOrigin, Message: "Cross-origin requests cannot change anything here."}

// AuthState is the small value templates render from: whether someone is
// signed in, who, what they may do, and where the auth pages are.
//
//	{{if .Auth.SignedIn}}Hello {{.Auth.Name}} <form method="post" action="{{.Auth.SignOutURL}}">…{{end}}
type AuthState struct {
	SignedIn bool
	UserID   string
	Email    string
	// EmailVerified tells whether the signed-in user's address is verified
	// (show a "verify your email" banner when it is not).
	EmailVerified bool
	Name          string
	Roles         []string
	// SignInURL, SignUpURL, SignOutURL (POST) and AccountURL point at the
	// hosted pages.
	SignInURL  string
	SignUpURL  string
	SignOutURL string
	AccountURL string
	perms      map[string]bool
}

// Can reports whether the signed-in user holds permission. Use it to show or
// hide UI only; handlers must call Authorize.
func (s AuthState) Can(permission string) bool { return s.perms[permission] }

// HasRole reports whether the signed-in user holds the global role.
func (s AuthState) HasRole(role string) bool { return slices.Contains(s.Roles, role) }

// State returns the AuthState of the request context.
func (a *Auth) State(ctx context.Context) AuthState {
	base := a.cfg.BasePath
	st := AuthState{SignInURL: base + "/sign-in", SignUpURL: base + "/sign-up", SignOutURL: base + "/sign-out", AccountURL: base + "/account"}
	if p, ok := PrincipalFrom(ctx); ok {
		st.SignedIn, st.UserID, st.Email, st.Name = true, p.User.ID, p.User.Email, p.User.Name
		st.EmailVerified = p.User.EmailVerified
		st.Roles, st.perms = slices.Clone(p.User.Roles), p.Permissions
	}
	return st
}
