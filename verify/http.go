package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

type claimsKey struct{}

// WithClaims returns a copy of ctx carrying c. The middleware uses it; tests
// of handlers behind the middleware can too.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims the middleware put in ctx, and whether there
// were any. Handlers behind Middleware can rely on ok being true.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// BearerToken returns the token of the request's "Authorization: Bearer"
// header (RFC 6750 §2.1). The scheme is matched case-insensitively and must be
// followed by one or more spaces and exactly one token68 (RFC 7235 §2.1),
// nothing else. It fails with ReasonNoToken when the request has no
// Authorization header or one with another scheme, and with ReasonMalformed
// for a Bearer credential it cannot read, or for several Authorization
// headers.
//
// It never reads the query string or a form body (RFC 6750 §2.2, §2.3): URLs
// end up in logs, browser history and Referer headers, and a token there
// would be leaked.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", fail(ReasonNoToken)
	case 1:
	default:
		return "", fail(ReasonMalformed)
	}
	scheme, rest, _ := strings.Cut(vals[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fail(ReasonNoToken)
	}
	tok := strings.TrimLeft(rest, " ")
	if !isToken68(tok) {
		return "", fail(ReasonMalformed)
	}
	return tok, nil
}

// isToken68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
func isToken68(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// Middleware requires a valid Bearer access token on every request. With one,
// it calls next with the token's claims in the request context (ClaimsFrom).
// Without one, next is not called and the client gets a JSON error in
// Gatehouse's shape with Cache-Control: no-store:
//
//   - no Bearer credential: 401, code "unauthenticated",
//     WWW-Authenticate: Bearer (RFC 6750 §3.1: no error code);
//   - a credential that does not verify: 401, code "invalid_token",
//     WWW-Authenticate: Bearer error="invalid_token";
//   - the key source failing (ReasonKeysUnavailable): 503, code
//     "unavailable", so that clients retry instead of discarding a token
//     that may be good.
//
// The message names the fixed Reason only. The middleware authenticates; it
// does not authorize: check Claims.Roles or Claims.Scope in the handler. It
// does not consult Gatehouse, so a token outlives the revocation of its
// session until its exp.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := BearerToken(r)
		if err == nil {
			var c *Claims
			if c, err = v.Verify(r.Context(), tok); err == nil {
				next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
				return
			}
		}
		writeRefusal(w, err)
	})
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeRefusal(w http.ResponseWriter, err error) {
	reason := ReasonMalformed
	if e, ok := errors.AsType[*Error](err); ok {
		reason = e.Reason
	}
	st, body := http.StatusUnauthorized, errorDetail{Code: "invalid_token", Message: "The access token is not valid (" + string(reason) + ")."}
	switch reason {
	case ReasonNoToken:
		w.Header().Set("WWW-Authenticate", "Bearer")
		body = errorDetail{Code: "unauthenticated", Message: "Send an access token in the Authorization header: Bearer <token>."}
	case ReasonKeysUnavailable:
		st, body = http.StatusServiceUnavailable, errorDetail{Code: "unavailable", Message: "The access token cannot be checked right now. Please try again."}
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	b, _ := json.Marshal(errorBody{Error: body})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(st)
	w.Write(append(b, '\n'))
}
