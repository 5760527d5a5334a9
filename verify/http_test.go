package verify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/verify"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string // Authorization values
		want    string
		reason  verify.Reason
	}{
		{name: "bearer", headers: []string{"Bearer abc.def.ghi"}, want: "abc.def.ghi"},
		{name: "scheme lower case", headers: []string{"bearer abc"}, want: "abc"},
		{name: "scheme upper case", headers: []string{"BEARER abc"}, want: "abc"},
		{name: "token68 characters", headers: []string{"Bearer aZ09-._~+/=="}, want: "aZ09-._~+/=="},
		{name: "several spaces (1*SP)", headers: []string{"Bearer   abc"}, want: "abc"},
		{name: "no header", reason: verify.ReasonNoToken},
		{name: "another scheme", headers: []string{"Basic dXNlcjpwYXNz"}, reason: verify.ReasonNoToken},
		{name: "DPoP scheme", headers: []string{"DPoP abc"}, reason: verify.ReasonNoToken},
		{name: "scheme run into the token", headers: []string{"Bearerabc"}, reason: verify.ReasonNoToken},
		{name: "scheme only", headers: []string{"Bearer"}, reason: verify.ReasonMalformed},
		{name: "scheme and space", headers: []string{"Bearer "}, reason: verify.ReasonMalformed},
		{name: "empty header", headers: []string{""}, reason: verify.ReasonNoToken},
		{name: "two tokens", headers: []string{"Bearer abc def"}, reason: verify.ReasonMalformed},
		{name: "comma list", headers: []string{"Bearer abc, Bearer def"}, reason: verify.ReasonMalformed},
		{name: "auth-params", headers: []string{`Bearer token="abc"`}, reason: verify.ReasonMalformed},
		{name: "tab separator", headers: []string{"Bearer\tabc"}, reason: verify.ReasonNoToken},
		{name: "tab in token", headers: []string{"Bearer abc\t"}, reason: verify.ReasonMalformed},
		{name: "padding in the middle", headers: []string{"Bearer ab=c"}, reason: verify.ReasonMalformed},
		{name: "only padding", headers: []string{"Bearer =="}, reason: verify.ReasonMalformed},
		{name: "non-ASCII", headers: []string{"Bearer abcé"}, reason: verify.ReasonMalformed},
		{name: "two Authorization headers", headers: []string{"Bearer abc", "Bearer def"}, reason: verify.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := verify.BearerToken(r)
			if tt.reason != "" {
				if got != "" || reasonOf(err) != tt.reason {
					t.Fatalf("got %q, %v; want reason %q", got, err, tt.reason)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// RFC 6750 §2.2 and §2.3 transports are not supported: a token in the query
// string or in a form body is never read (nor is the body consumed).
func TestBearerTokenIgnoresQueryAndForm(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/?access_token=abc", nil)
	if _, err := verify.BearerToken(r); reasonOf(err) != verify.ReasonNoToken {
		t.Fatalf("query: %v", err)
	}
	body := url.Values{"access_token": {"abc"}}.Encode()
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := verify.BearerToken(r); reasonOf(err) != verify.ReasonNoToken {
		t.Fatalf("form: %v", err)
	}
	if r.Form != nil || r.PostForm != nil {
		t.Fatal("the form was parsed")
	}
}

func TestMiddleware(t *testing.T) {
	k := keys()
	v := newVerifier(t, allStatic(), nil)
	good := mint(t, k.ed, nil)
	expired := mint(t, k.ed, func(h, c map[string]any) { c["exp"] = t0.Add(-time.Minute).Unix() })

	tests := []struct {
		name      string
		target    string
		auth      string
		keys      verify.Keys
		status    int
		challenge string
		body      string
	}{
		{name: "good token", target: "/", auth: "Bearer " + good, status: http.StatusOK},
		{name: "scheme lower case", target: "/", auth: "bearer " + good, status: http.StatusOK},
		{name: "no header", target: "/", status: http.StatusUnauthorized, challenge: "Bearer",
			body: `{"error":{"code":"unauthenticated","message":"Send an access token in the Authorization header: Bearer \u003ctoken\u003e."}}`},
		{name: "another scheme", target: "/", auth: "Basic dXNlcjpwYXNz", status: http.StatusUnauthorized, challenge: "Bearer"},
		{name: "token in the query string", target: "/?access_token=" + good, status: http.StatusUnauthorized, challenge: "Bearer"},
		{name: "garbage token", target: "/", auth: "Bearer garbage", status: http.StatusUnauthorized, challenge: `Bearer error="invalid_token"`,
			body: `{"error":{"code":"invalid_token","message":"The access token is not valid (malformed token)."}}`},
		{name: "malformed header", target: "/", auth: "Bearer a b", status: http.StatusUnauthorized, challenge: `Bearer error="invalid_token"`},
		{name: "expired token", target: "/", auth: "Bearer " + expired, status: http.StatusUnauthorized, challenge: `Bearer error="invalid_token"`,
			body: `{"error":{"code":"invalid_token","message":"The access token is not valid (expired)."}}`},
		{name: "tampered token", target: "/", auth: "Bearer " + good[:len(good)-8] + "AAAAAAAA", status: http.StatusUnauthorized, challenge: `Bearer error="invalid_token"`},
		{name: "keys unavailable", target: "/", auth: "Bearer " + good, keys: failingKeys{errors.New("down")}, status: http.StatusServiceUnavailable,
			body: `{"error":{"code":"unavailable","message":"The access token cannot be checked right now. Please try again."}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vv := v
			if tt.keys != nil {
				vv = newVerifier(t, tt.keys, nil)
			}
			var seen *verify.Claims
			h := vv.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, ok := verify.ClaimsFrom(r.Context())
				if !ok {
					t.Error("next called without claims")
				}
				seen = c
				w.WriteHeader(http.StatusOK)
			}))
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if tt.status == http.StatusOK {
				if seen == nil || seen.Subject != "usr_123" || seen.SessionID != "ses_456" {
					t.Fatalf("claims %+v", seen)
				}
				return
			}
			if seen != nil {
				t.Fatal("next was called")
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q", got)
			}
			if got := w.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if tt.body != "" && strings.TrimSpace(w.Body.String()) != tt.body {
				t.Errorf("body\n got %s\nwant %s", w.Body, tt.body)
			}
		})
	}
}

func TestClaimsContext(t *testing.T) {
	if c, ok := verify.ClaimsFrom(context.Background()); ok || c != nil {
		t.Fatal("claims in an empty context")
	}
	if _, ok := verify.ClaimsFrom(verify.WithClaims(context.Background(), nil)); ok {
		t.Fatal("nil claims reported present")
	}
	want := &verify.Claims{Subject: "usr_1"}
	if c, ok := verify.ClaimsFrom(verify.WithClaims(context.Background(), want)); !ok || c != want {
		t.Fatal("claims lost")
	}
}
