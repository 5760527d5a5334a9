package web_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// oauthFuzzTargets are the OAuth endpoints FuzzOAuthEndpoints sends
// bodies or queries to.
var oauthFuzzTargets = []struct{ method, path string }{
	{"POST", "/auth/oauth2/token"},
	{"POST", "/auth/oauth2/introspect"},
	{"POST", "/auth/oauth2/revoke"},
	{"GET", "/auth/oauth2/authorize"},
	{"GET", "/auth/oauth2/logout"},
}

// FuzzOAuthEndpoints sends any form to the token, introspection and
// revocation endpoints (with a real client's credentials in Basic or
// none) and any query to authorize and logout, signed in. Properties: no
// panic, no 5xx; the machine endpoints answer 200 or the RFC 6749 error
// shape; authorize and logout answer a page or a 303 whose target is this
// site or the client's registered redirect URI, never anything else.
func FuzzOAuthEndpoints(f *testing.F) {
	for i, s := range []string{
		"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_verifier=" + strings.Repeat("v", 43),
		"grant_type=refresh_token&refresh_token=abc",
		"grant_type=client_credentials&scope=reports",
		"token=abc&token_type_hint=refresh_token",
		"response_type=code&client_id=CLIENT&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_challenge=" + strings.Repeat("A", 43) + "&code_challenge_method=S256&state=x",
		"client_id=CLIENT&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=s",
		"grant_type=password&username=a&password=b",
		"response_type=token&client_id=CLIENT&redirect_uri=https%3A%2F%2Fevil.example%2F",
	} {
		f.Add(byte(i%len(oauthFuzzTargets)), s, i%2 == 0)
	}
	e := newFuzzEnv(f)
	client, secret, err := e.auth.CreateClient(f.Context(), gatehouse.ClientSpec{Name: "Fuzz",
		RedirectURIs: []string{"https://app.example.com/cb"}, PostLogoutRedirectURIs: []string{"https://app.example.com/bye"},
		GrantTypes: []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken, gatehouse.GrantClientCredentials},
		Scopes:     []string{"openid", "profile", "email", "reports"}})
	if err != nil {
		f.Fatal(err)
	}
	session, _ := e.newSession(f)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(client.ID+":"+secret))
	f.Fuzz(func(t *testing.T, target byte, input string, authenticated bool) {
		input = strings.ReplaceAll(input, "CLIENT", client.ID)
		tg := oauthFuzzTargets[int(target)%len(oauthFuzzTargets)]
		var r *http.Request
		if tg.method == "POST" {
			r = httptest.NewRequest("POST", tg.path, strings.NewReader(input))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if authenticated {
				r.Header.Set("Authorization", basic)
			}
		} else {
			r = httptest.NewRequest("GET", tg.path, nil)
			r.URL.RawQuery = input
			if authenticated {
				r.Header.Set("Cookie", fuzzCookie+"="+session)
			}
		}
		w := e.serve(r)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %q", tg.method, tg.path, input, w.Code, w.Body)
		}
		if tg.method == "POST" {
			if w.Code == http.StatusOK {
				return
			}
			var body struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error == "" {
				t.Fatalf("%s %q: %d without the OAuth error shape: %q", tg.path, input, w.Code, w.Body)
			}
			return
		}
		if loc := w.Header().Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("%s: unparsable Location %q", tg.path, loc)
			}
			onSite := u.Host == "" && strings.HasPrefix(u.Path, "/auth/")
			toClient := u.Scheme == "https" && u.Host == "app.example.com" && (u.Path == "/cb" || u.Path == "/bye")
			if !onSite && !toClient {
				t.Fatalf("%s %q redirected to %q", tg.path, input, loc)
			}
		}
	})
}
