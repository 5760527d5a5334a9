package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/web"
)

// TestMiddlewarePrincipal checks which principal a handler sees behind the
// edge's middleware, whether or not an earlier layer made the request's
// context (AccessLog), and whatever other middleware did to the context in
// between.
func TestMiddlewarePrincipal(t *testing.T) {
	auth := authtest.New(t, gatehouse.Config{})
	res, err := auth.SignUp(context.Background(), gatehouse.SignUpInput{Email: "ada@example.com", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	h := web.New(auth)
	log := slog.New(slog.DiscardHandler)
	cookie := &http.Cookie{Name: "gatehouse_session", Value: res.Token}
	fake := gatehouse.Principal{User: gatehouse.User{ID: "usr_fake"}}

	// seen records the user the final handler sees ("none" when signed out).
	var seen []string
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := gatehouse.UserFrom(r.Context())
		if !ok {
			seen = append(seen, "none")
			return
		}
		seen = append(seen, u.ID)
	})
	withFake := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(gatehouse.WithPrincipal(r.Context(), fake)))
		})
	}
	// twice serves the same request twice, dropping the cookie between
	// the passes, as a retrying middleware might.
	twice := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			r.Header.Del("Cookie")
			next.ServeHTTP(w, r)
		})
	}
	accessLog := func(next http.Handler) http.Handler { return web.AccessLog(log, next) }
	chain := func(hs ...func(http.Handler) http.Handler) http.Handler {
		var out http.Handler = final
		for i := len(hs) - 1; i >= 0; i-- {
			out = hs[i](out)
		}
		return out
	}
	id := res.User.ID
	cases := []struct {
		name    string
		handler http.Handler
		cookie  bool
		want    []string
	}{
		{"Require", chain(h.Require), true, []string{id}},
		{"AccessLog, Require", chain(accessLog, h.Require), true, []string{id}},
		{"AccessLog, Load, Require", chain(accessLog, h.Load, h.Require), true, []string{id}},
		{"Load signed out", chain(accessLog, h.Load), false, []string{"none"}},
		{"a fake principal before Require is replaced", chain(accessLog, withFake, h.Require), true, []string{id}},
		{"a fake principal after Require wins, as WithPrincipal promises", chain(accessLog, h.Require, withFake), true, []string{"usr_fake"}},
		{"Load keeps an outer principal when signed out", chain(accessLog, withFake, h.Load), false, []string{"usr_fake"}},
		{"a retried request does not keep the first pass's principal", chain(accessLog, twice, h.Load), true, []string{id, "none"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			r := httptest.NewRequest("GET", "/app/", nil)
			if tc.cookie {
				r.AddCookie(cookie)
			}
			w := httptest.NewRecorder()
			tc.handler.ServeHTTP(w, r)
			if len(seen) != len(tc.want) {
				t.Fatalf("status %d, handler saw %q, want %q", w.Code, seen, tc.want)
			}
			for i := range seen {
				if seen[i] != tc.want[i] {
					t.Fatalf("handler saw %q, want %q", seen, tc.want)
				}
			}
			if len(w.Header().Values("X-Request-Id")) != 1 {
				t.Fatalf("X-Request-Id = %q", w.Header().Values("X-Request-Id"))
			}
		})
	}
}
