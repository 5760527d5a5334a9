package gatehouse

import (
	"context"
	"slices"
	"sync/atomic"
)

// principalKey is the context key of the principal; its value is always a
// non-nil *Principal that nobody modifies.
type principalKey struct{}

// WithPrincipal returns a context carrying p, leaving ctx unchanged. Tests of
// handlers, and middleware that authenticates by other means, use it; the
// web edge uses RecordPrincipal when it can.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, &p)
}

// PrincipalFrom returns the request's principal, if it is signed in.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	if p, ok := ctx.Value(principalKey{}).(*Principal); ok && p != nil {
		return *p, true
	}
	return Principal{}, false
}

// requestContext is the one context value the edge adds to a request: it
// answers RequestInfoFrom and, once the request is authenticated,
// PrincipalFrom, so a request costs one context allocation instead of one
// per value.
type requestContext struct {
	context.Context
	info RequestInfo

	// principal is the recorded principal, nil while there is none. The
	// first one recorded is copied into slot before principal points to it,
	// and slot is never written again (slotUsed), so a reader holding the
	// pointer never sees it change; later ones get their own allocation.
	principal atomic.Pointer[Principal]
	slotUsed  atomic.Bool
	slot      Principal
}

func (c *requestContext) Value(key any) any {
	switch key.(type) {
	case requestKey:
		return &c.info
	case principalKey:
		if p := c.principal.Load(); p != nil {
			return p
		}
	}
	return c.Context.Value(key)
}

// NewRequestContext returns the context of one incoming request, derived
// from parent, and its RequestInfo carrying id, which the edge completes
// (client IP, user agent) before the request reaches the core, never after.
// The same context later holds the request's principal (RecordPrincipal).
func NewRequestContext(parent context.Context, id string) (context.Context, *RequestInfo) {
	c := &requestContext{Context: parent, info: RequestInfo{ID: id}}
	return c, &c.info
}

// RecordPrincipal records p as the principal of the request whose context
// is ctx, without allocating, and reports whether it could: only ctx
// itself as NewRequestContext returned it qualifies, never a context
// derived from it, whose own values could shadow p. When it reports false,
// use WithPrincipal.
//
// Unlike WithPrincipal it changes ctx: p replaces any principal recorded
// before, and everyone holding ctx — middleware that ran before
// authentication included — sees p from then on. It is safe for concurrent
// use. It is meant for the edge's authentication middleware, which records
// what it has just verified; handlers and tests want WithPrincipal.
func RecordPrincipal(ctx context.Context, p Principal) bool {
	c, ok := ctx.(*requestContext)
	if !ok {
		return false
	}
	if c.slotUsed.CompareAndSwap(false, true) {
		c.slot = p
		c.principal.Store(&c.slot)
		return true
	}
	np := new(Principal)
	*np = p
	c.principal.Store(np)
	return true
}

// ForgetPrincipal withdraws what RecordPrincipal recorded in ctx (a
// principal from WithPrincipal or from a parent context stays visible). The
// edge calls it when a request turns out not to be signed in, so a request
// served twice with the same context never keeps the first pass's
// principal. It does nothing to other contexts.
func ForgetPrincipal(ctx context.Context) {
	if c, ok := ctx.(*requestContext); ok {
		c.principal.Store(nil)
	}
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
