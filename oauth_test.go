package gatehouse_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
)

// pkce returns a verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// oauthFixture is a core with a signed-in user and a confidential client.
type oauthFixture struct {
	a      *gatehouse.Auth
	clock  *authtest.Clock
	p      gatehouse.Principal
	token  string // the user's session token
	client gatehouse.OAuthClient
}

func newOAuthFixture(t *testing.T, cfg gatehouse.Config) *oauthFixture {
	t.Helper()
	clock := authtest.NewClock(t0)
	a := authtest.New(t, cfg, gatehouse.WithClock(clock))
	res := signUp(t, a, "ada@example.com")
	p, err := a.Authenticate(t.Context(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := a.CreateClient(t.Context(), gatehouse.ClientSpec{Name: "Notes", RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	return &oauthFixture{a: a, clock: clock, p: p, token: res.Token, client: c}
}

// code runs an authorization for the fixture's user and returns the code.
func (f *oauthFixture) code(t *testing.T, scope, verifierSeed string) string {
	t.Helper()
	_, challenge := pkce(verifierSeed)
	req, err := f.a.ParseAuthorizationRequest(t.Context(), url.Values{
		"response_type": {"code"}, "client_id": {f.client.ID}, "redirect_uri": {"https://app.example.com/cb"},
		"scope": {scope}, "nonce": {"n-1"}, "state": {"s-1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	})
	if err != nil {
		t.Fatal(err)
	}
	to, err := f.a.Approve(t.Context(), req, f.p, true)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	if got := u.Query().Get("iss"); got != f.a.Issuer() {
		t.Fatalf("iss = %q, want %q", got, f.a.Issuer())
	}
	return u.Query().Get("code")
}

func (f *oauthFixture) exchange(t *testing.T, code, verifierSeed string) (gatehouse.TokenResponse, error) {
	t.Helper()
	verifier, _ := pkce(verifierSeed)
	return f.a.Exchange(t.Context(), f.client, gatehouse.TokenRequest{
		GrantType: gatehouse.GrantAuthorizationCode, Code: code, RedirectURI: "https://app.example.com/cb", CodeVerifier: verifier})
}

func (f *oauthFixture) refresh(t *testing.T, token string) (gatehouse.TokenResponse, error) {
	t.Helper()
	return f.a.Exchange(t.Context(), f.client, gatehouse.TokenRequest{GrantType: gatehouse.GrantRefreshToken, RefreshToken: token})
}

func oauthCode(err error) string {
	var oe *gatehouse.OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

func TestOAuthCodeLifetimeAndSingleUse(t *testing.T) {
	f := newOAuthFixture(t, gatehouse.Config{})
	code := f.code(t, "openid", "a")
	f.clock.Advance(gatehouse.CodeTTL + time.Second)
	if _, err := f.exchange(t, code, "a"); oauthCode(err) != "invalid_grant" {
		t.Fatalf("expired code: %v, want invalid_grant", err)
	}
	code = f.code(t, "openid", "b")
	if _, err := f.exchange(t, code, "wrong-verifier"); oauthCode(err) != "invalid_grant" {
		t.Fatalf("wrong verifier: %v, want invalid_grant", err)
	}
	if _, err := f.exchange(t, code, "b"); oauthCode(err) != "invalid_grant" {
		t.Fatalf("a code tried with a wrong verifier must be spent, got %v", err)
	}
}

func TestOAuthIDTokenClaims(t *testing.T) {
	f := newOAuthFixture(t, gatehouse.Config{})
	res, err := f.exchange(t, f.code(t, "openid email profile", "c"), "c")
	if err != nil {
		t.Fatal(err)
	}
	claims := jwtPayload(t, res.IDToken)
	want := map[string]any{
		"iss": f.a.Issuer(), "sub": f.p.User.ID, "aud": f.client.ID, "azp": f.client.ID, "nonce": "n-1",
		"sid": f.p.Session.ID, "acr": "urn:gatehouse:aal1", "email": "ada@example.com", "email_verified": false,
		"auth_time": float64(f.p.Session.AuthenticatedAt.Unix()), "exp": float64(t0.Add(gatehouse.IDTokenTTL).Unix()),
	}
	for k, v := range want {
		if got, _ := json.Marshal(claims[k]); string(got) != string(must(json.Marshal(v))) {
			t.Errorf("ID token %s = %s, want %v", k, got, v)
		}
	}
	sum := sha256.Sum256([]byte(res.AccessToken))
	if claims["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:16]) {
		t.Errorf("at_hash = %v, want the left half of SHA-256 of the access token", claims["at_hash"])
	}
	if hdr := jwtHeader(t, res.IDToken); hdr["alg"] != "RS256" {
		t.Errorf("ID token alg = %v, want RS256 by default", hdr["alg"])
	}
	access := jwtPayload(t, res.AccessToken)
	if hdr := jwtHeader(t, res.AccessToken); hdr["typ"] != "at+jwt" {
		t.Errorf("access token typ = %v, want at+jwt", hdr["typ"])
	}
	if access["aud"] != f.client.ID || access["client_id"] != f.client.ID || access["grant_id"] == "" {
		t.Errorf("access token claims %v: aud and client_id must be the client, grant_id set", access)
	}
	// An OAuth client's token is never good at Gatehouse's own API.
	if _, err := f.a.AuthenticateBearer(t.Context(), res.AccessToken); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidAccessToken {
		t.Errorf("AuthenticateBearer(client token) = %v, want invalid_access_token", err)
	}
	if res.RefreshToken == "" {
		t.Error("no refresh token for a client allowed the refresh_token grant")
	}
}

func TestOAuthRefreshGrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		// retryOK: a retry of the token just rotated, 1 s later.
		retryOK bool
	}{
		{"default 10s", 0, true},
		{"strict", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOAuthFixture(t, gatehouse.Config{OAuth: gatehouse.OAuthConfig{RefreshGrace: tc.grace}})
			first, err := f.exchange(t, f.code(t, "openid offline_access", "d"), "d")
			if err != nil {
				t.Fatal(err)
			}
			second, err := f.refresh(t, first.RefreshToken)
			if err != nil || second.RefreshToken == first.RefreshToken || second.RefreshToken == "" {
				t.Fatalf("rotation: %v, same token %v", err, second.RefreshToken == first.RefreshToken)
			}
			f.clock.Advance(time.Second)
			retry, err := f.refresh(t, first.RefreshToken)
			if !tc.retryOK {
				if oauthCode(err) != "invalid_grant" {
					t.Fatalf("strict reuse: %v, want invalid_grant", err)
				}
				if _, err := f.refresh(t, second.RefreshToken); oauthCode(err) != "invalid_grant" {
					t.Fatalf("after reuse the family must be revoked; successor: %v", err)
				}
				return
			}
			if err != nil || retry.RefreshToken != second.RefreshToken {
				t.Fatalf("in-grace retry: %v; same successor %v", err, retry.RefreshToken == second.RefreshToken)
			}
			f.clock.Advance(10 * time.Second)
			if _, err := f.refresh(t, first.RefreshToken); oauthCode(err) != "invalid_grant" {
				t.Fatalf("retry after the grace: %v, want invalid_grant", err)
			}
			if _, err := f.refresh(t, second.RefreshToken); oauthCode(err) != "invalid_grant" {
				t.Fatalf("reuse after the grace must revoke the family; successor: %v", err)
			}
		})
	}
}

func TestOAuthFamilyEndsWithSession(t *testing.T) {
	f := newOAuthFixture(t, gatehouse.Config{})
	res, err := f.exchange(t, f.code(t, "openid", "e"), "e")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.UserInfo(t.Context(), res.AccessToken); err != nil {
		t.Fatalf("userinfo before sign-out: %v", err)
	}
	if err := f.a.SignOut(t.Context(), f.p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.refresh(t, res.RefreshToken); oauthCode(err) != "invalid_grant" {
		t.Fatalf("refresh after sign-out: %v, want invalid_grant", err)
	}
	if _, err := f.a.UserInfo(t.Context(), res.AccessToken); oauthCode(err) != "invalid_token" {
		t.Fatalf("userinfo after sign-out: %v, want invalid_token", err)
	}
}

func TestOAuthFamilyLifetime(t *testing.T) {
	f := newOAuthFixture(t, gatehouse.Config{OAuth: gatehouse.OAuthConfig{RefreshLifetime: time.Hour}})
	res, err := f.exchange(t, f.code(t, "openid", "f"), "f")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // rotating does not extend the family
		f.clock.Advance(20 * time.Minute)
		if _, err := f.a.Authenticate(t.Context(), f.token); err != nil {
			t.Fatal(err)
		}
		res, err = f.refresh(t, res.RefreshToken)
		if f.clock.Now().Sub(t0) < time.Hour && err != nil {
			t.Fatalf("refresh within the lifetime: %v", err)
		}
	}
	if oauthCode(err) != "invalid_grant" {
		t.Fatalf("refresh at the family's end: %v, want invalid_grant", err)
	}
}

func TestOAuthAuthorizationSteps(t *testing.T) {
	f := newOAuthFixture(t, gatehouse.Config{})
	third := f.client
	first, _, err := f.a.CreateClient(t.Context(), gatehouse.ClientSpec{Name: "Own app", RedirectURIs: []string{"https://app.example.com/cb"}, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	_, challenge := pkce("g")
	parse := func(c gatehouse.OAuthClient, extra url.Values) gatehouse.AuthorizationRequest {
		q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {"https://app.example.com/cb"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		for k, v := range extra {
			q[k] = v
		}
		req, err := f.a.ParseAuthorizationRequest(t.Context(), q)
		if err != nil {
			t.Fatalf("parse %v: %v", q, err)
		}
		return req
	}
	step := func(req gatehouse.AuthorizationRequest, p *gatehouse.Principal) string {
		s, err := f.a.NextAuthorizationStep(t.Context(), req, p)
		switch {
		case err != nil:
			return oauthCode(err)
		case s == gatehouse.StepSignIn:
			return "sign-in"
		case s == gatehouse.StepConsent:
			return "consent"
		case s == gatehouse.StepIssue:
			return "issue"
		}
		return "?"
	}
	p := &f.p
	// An ID token of another user, for id_token_hint.
	other := signUp(t, f.a, "bo@example.com")
	op, err := f.a.Authenticate(t.Context(), other.Token)
	if err != nil {
		t.Fatal(err)
	}
	otherFixture := &oauthFixture{a: f.a, clock: f.clock, p: op, client: first}
	otherRes, err := otherFixture.exchange(t, otherFixture.code(t, "openid", "o"), "o")
	if err != nil {
		t.Fatal(err)
	}
	otherHint := otherRes.IDToken
	f.clock.Advance(time.Hour) // the sign-in is an hour old
	for _, tc := range []struct {
		name   string
		client gatehouse.OAuthClient
		params url.Values
		p      *gatehouse.Principal
		want   string
	}{
		{"signed out", third, nil, nil, "sign-in"},
		{"signed out, prompt=none", third, url.Values{"prompt": {"none"}}, nil, "login_required"},
		{"third party asks consent", third, nil, p, "consent"},
		{"prompt=none without consent", third, url.Values{"prompt": {"none"}}, p, "consent_required"},
		{"first party skips consent", first, nil, p, "issue"},
		{"prompt=login", first, url.Values{"prompt": {"login"}}, p, "sign-in"},
		{"max_age exceeded", first, url.Values{"max_age": {"60"}}, p, "sign-in"},
		{"max_age exceeded, prompt=none", first, url.Values{"max_age": {"60"}, "prompt": {"none"}}, p, "login_required"},
		{"max_age met", first, url.Values{"max_age": {"7200"}}, p, "issue"},
		{"forged login_after", first, url.Values{"prompt": {"login"}, "login_after": {itoa(t0.UnixMilli())}}, p, "sign-in"},
		{"id_token_hint of another user", first, url.Values{"id_token_hint": {otherHint}}, p, "sign-in"},
		{"id_token_hint of another user, prompt=none", first, url.Values{"id_token_hint": {otherHint}, "prompt": {"none"}}, p, "login_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := step(parse(tc.client, tc.params), tc.p); got != tc.want {
				t.Fatalf("step = %s, want %s", got, tc.want)
			}
		})
	}
	// The continuation after a forced sign-in is satisfied by a sign-in
	// after it, and only by one.
	for _, params := range []url.Values{{"prompt": {"login"}}, {"max_age": {"0"}}} {
		cont := f.a.SignInContinuation(parse(first, params))
		if got := step(parse(first, cont), p); got != "sign-in" {
			t.Errorf("%v before signing in again: %s, want sign-in", params, got)
		}
		f.clock.Advance(time.Second)
		again, err := f.a.Authenticate(t.Context(), signIn(t, f.a, "ada@example.com").Token)
		if err != nil {
			t.Fatal(err)
		}
		if got := step(parse(first, cont), &again); got != "issue" {
			t.Errorf("%v after signing in again: %s, want issue", params, got)
		}
	}
	// Consent, once given, covers the scopes it named and no others.
	req := parse(third, url.Values{"scope": {"openid email"}})
	if _, err := f.a.Approve(t.Context(), req, f.p, true); err != nil {
		t.Fatal(err)
	}
	if got := step(parse(third, url.Values{"scope": {"email openid"}}), p); got != "issue" {
		t.Errorf("after consent: %s, want issue", got)
	}
	if got := step(parse(third, url.Values{"scope": {"openid profile"}}), p); got != "consent" {
		t.Errorf("a new scope: %s, want consent", got)
	}
	if got := step(parse(third, url.Values{"scope": {"openid"}, "prompt": {"consent"}}), p); got != "consent" {
		t.Errorf("prompt=consent: %s, want consent", got)
	}
	apps, err := f.a.ConnectedApps(t.Context(), f.p)
	if err != nil || len(apps) != 1 || apps[0].ClientID != third.ID || apps[0].Name != "Notes" {
		t.Fatalf("connected apps = %+v, %v", apps, err)
	}
	if err := f.a.RevokeConnectedApp(t.Context(), f.p, third.ID); err != nil {
		t.Fatal(err)
	}
	if got := step(parse(third, url.Values{"scope": {"openid"}}), p); got != "consent" {
		t.Errorf("after revoking the app: %s, want consent", got)
	}
}

func TestOAuthAuthorizationRequestErrors(t *testing.T) {
	f := newOAuthFixture(t, gatehouse.Config{})
	_, challenge := pkce("h")
	base := func() url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {f.client.ID}, "redirect_uri": {"https://app.example.com/cb"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"xyz"}}
	}
	for _, tc := range []struct {
		name         string
		edit         func(q url.Values)
		code         string
		redirectable bool
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "cli_nope") }, "invalid_client", false},
		{"no client", func(q url.Values) { q.Del("client_id") }, "invalid_request", false},
		{"repeated client", func(q url.Values) { q.Add("client_id", f.client.ID) }, "invalid_request", false},
		{"no redirect", func(q url.Values) { q.Del("redirect_uri") }, "invalid_request", false},
		{"other redirect", func(q url.Values) { q.Set("redirect_uri", "https://app.example.com/cb/") }, "invalid_request", false},
		{"repeated redirect", func(q url.Values) { q.Add("redirect_uri", "https://evil.example/") }, "invalid_request", false},
		{"token flow", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", true},
		{"hybrid", func(q url.Values) { q.Set("response_type", "code id_token") }, "unsupported_response_type", true},
		{"no response type", func(q url.Values) { q.Del("response_type") }, "invalid_request", true},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request", true},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request", true},
		{"PKCE method missing", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request", true},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request", true},
		{"scope not allowed", func(q url.Values) { q.Set("scope", "openid admin") }, "invalid_scope", true},
		{"request object", func(q url.Values) { q.Set("request", "e30.e30.") }, "request_not_supported", true},
		{"request_uri", func(q url.Values) { q.Set("request_uri", "https://evil.example/r") }, "request_uri_not_supported", true},
		{"form_post", func(q url.Values) { q.Set("response_mode", "form_post") }, "invalid_request", true},
		{"repeated state", func(q url.Values) { q.Add("state", "b") }, "invalid_request", true},
		{"state with CR LF", func(q url.Values) { q.Set("state", "a\r\nb") }, "invalid_request", true},
		{"bad prompt", func(q url.Values) { q.Set("prompt", "none login") }, "invalid_request", true},
		{"bad max_age", func(q url.Values) { q.Set("max_age", "-1") }, "invalid_request", true},
		{"forged id_token_hint", func(q url.Values) { q.Set("id_token_hint", "e30.e30.c2ln") }, "invalid_request", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := base()
			tc.edit(q)
			req, err := f.a.ParseAuthorizationRequest(t.Context(), q)
			if oauthCode(err) != tc.code || req.Redirectable() != tc.redirectable {
				t.Fatalf("got %v (redirectable %v), want %s (redirectable %v)", err, req.Redirectable(), tc.code, tc.redirectable)
			}
			if tc.redirectable {
				u, _ := url.Parse(f.a.AuthorizationErrorURL(req, err))
				if u.Host != "app.example.com" || u.Query().Get("error") != tc.code || u.Query().Get("iss") != f.a.Issuer() {
					t.Fatalf("error redirect %s", u)
				}
			}
		})
	}
}

func TestOAuthRedirectURIMatching(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{}, gatehouse.WithClock(authtest.NewClock(t0)))
	native, _, err := a.CreateClient(t.Context(), gatehouse.ClientSpec{Name: "CLI", AuthMethod: gatehouse.ClientAuthNone,
		RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/cb", "com.example.app:/oauth"}})
	if err != nil {
		t.Fatal(err)
	}
	web, _, err := a.CreateClient(t.Context(), gatehouse.ClientSpec{Name: "Web", RedirectURIs: []string{"http://127.0.0.1:3000/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	_, challenge := pkce("i")
	for _, tc := range []struct {
		client gatehouse.OAuthClient
		uri    string
		ok     bool
	}{
		{native, "http://127.0.0.1/callback", true},
		{native, "http://127.0.0.1:53122/callback", true},
		{native, "http://[::1]:8080/cb", true},
		{native, "com.example.app:/oauth", true},
		{native, "http://localhost:53122/callback", false},
		{native, "http://127.0.0.1:53122/callback/", false},
		{native, "http://127.0.0.1:53122/other", false},
		{native, "http://127.0.0.1:053122/callback", false},
		{native, "http://127.0.0.1:99999/callback", false},
		{native, "http://127.0.0.1:80@evil.example/callback", false},
		{native, "https://127.0.0.1:53122/callback", false},
		{native, "http://127.0.0.1:53122/callback?x=1", false},
		{native, "http://127.0.0.2:53122/callback", false},
		// The any-port rule is for public (native) clients only.
		{web, "http://127.0.0.1:3000/callback", true},
		{web, "http://127.0.0.1:3001/callback", false},
	} {
		_, err := a.ParseAuthorizationRequest(t.Context(), url.Values{"response_type": {"code"}, "client_id": {tc.client.ID},
			"redirect_uri": {tc.uri}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}})
		if (err == nil) != tc.ok {
			t.Errorf("%s for %s: err %v, want ok=%v", tc.uri, tc.client.Name, err, tc.ok)
		}
	}
}

func TestOAuthClientSpecValidation(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{})
	for _, tc := range []struct {
		name  string
		spec  gatehouse.ClientSpec
		field string
	}{
		{"no name", gatehouse.ClientSpec{RedirectURIs: []string{"https://a.example/cb"}}, "name"},
		{"http redirect", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"http://a.example/cb"}}, "redirect_uris"},
		{"fragment", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"https://a.example/cb#x"}}, "redirect_uris"},
		{"wildcard", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"https://*.example/cb"}}, "redirect_uris"},
		{"javascript", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"javascript:alert(1)"}}, "redirect_uris"},
		{"relative", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"/cb"}}, "redirect_uris"},
		{"userinfo", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"https://u@a.example/cb"}}, "redirect_uris"},
		{"no redirect", gatehouse.ClientSpec{Name: "x"}, "redirect_uris"},
		{"public machine", gatehouse.ClientSpec{Name: "x", AuthMethod: gatehouse.ClientAuthNone, GrantTypes: []string{"client_credentials"}}, "grant_types"},
		{"password grant", gatehouse.ClientSpec{Name: "x", GrantTypes: []string{"password"}}, "grant_types"},
		{"implicit", gatehouse.ClientSpec{Name: "x", GrantTypes: []string{"implicit"}}, "grant_types"},
		{"jwt without keys", gatehouse.ClientSpec{Name: "x", AuthMethod: gatehouse.ClientAuthPrivateKeyJWT, GrantTypes: []string{"client_credentials"}}, "jwks"},
		{"private jwk", gatehouse.ClientSpec{Name: "x", AuthMethod: gatehouse.ClientAuthPrivateKeyJWT, GrantTypes: []string{"client_credentials"},
			JWKS: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}`}, "jwks"},
		{"bad scope", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"https://a.example/cb"}, Scopes: []string{"a b"}}, "scopes"},
		{"unkept algorithm", gatehouse.ClientSpec{Name: "x", RedirectURIs: []string{"https://a.example/cb"}, IDTokenAlgorithm: "HS256"}, "id_token_algorithm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := a.CreateClient(t.Context(), tc.spec)
			var e *gatehouse.Error
			if !errors.As(err, &e) || e.Code != gatehouse.CodeInvalidRequest || e.Field != tc.field {
				t.Fatalf("err = %v, want invalid_request on %s", err, tc.field)
			}
		})
	}
	c, secret, err := a.CreateClient(t.Context(), gatehouse.ClientSpec{Name: "Machine", GrantTypes: []string{"client_credentials"}, Scopes: []string{"reports:read"}})
	if err != nil || !strings.HasPrefix(secret, gatehouse.ClientSecretPrefix) || !strings.HasPrefix(c.ID, "cli_") || strings.Contains(c.SecretHash, secret) {
		t.Fatalf("create: %+v %q %v", c, secret, err)
	}
	auth := func(s string) error {
		_, err := a.AuthenticateClient(t.Context(), gatehouse.ClientAuthentication{ClientID: c.ID, Secret: s, Method: gatehouse.ClientAuthSecretBasic})
		return err
	}
	if err := auth(secret); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	rotated, err := a.RotateClientSecret(t.Context(), c.ID)
	if err != nil || auth(secret) == nil || auth(rotated) != nil {
		t.Fatalf("rotation: %v; old secret still works %v", err, auth(secret) == nil)
	}
	res, err := a.Exchange(t.Context(), c, gatehouse.TokenRequest{GrantType: gatehouse.GrantClientCredentials, Scope: "reports:read"})
	if err != nil || res.RefreshToken != "" || res.IDToken != "" {
		t.Fatalf("client_credentials: %+v %v", res, err)
	}
	if claims := jwtPayload(t, res.AccessToken); claims["sub"] != c.ID || claims["scope"] != "reports:read" {
		t.Fatalf("client_credentials claims: %v", claims)
	}
}

func TestOAuthConfigRefreshGrace(t *testing.T) {
	if err := (gatehouse.Config{PublicURL: "https://a.example", OAuth: gatehouse.OAuthConfig{RefreshGrace: 2 * time.Minute}}).Validate(); err == nil {
		t.Fatal("a grace of 2m was accepted")
	}
}

func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jwtHeader(t *testing.T, tok string) map[string]any  { return jwtPart(t, tok, 0) }
func jwtPayload(t *testing.T, tok string) map[string]any { return jwtPart(t, tok, 1) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func signIn(t *testing.T, a *gatehouse.Auth, email string) gatehouse.Result {
	t.Helper()
	res, err := a.SignIn(t.Context(), gatehouse.SignInInput{Email: email, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestOAuthLogoutHint: only an ID token of the browser's current session
// skips the logout confirmation; the post-logout URI must be registered.
func TestOAuthLogoutHint(t *testing.T) {
	f := newOAuthFixture(t, gatehouse.Config{})
	c, _, err := f.a.CreateClient(t.Context(), gatehouse.ClientSpec{Name: "App", RedirectURIs: []string{"https://app.example.com/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example.com/bye"}})
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	res, err := f.exchange(t, f.code(t, "openid", "l"), "l")
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.a.Authenticate(t.Context(), signIn(t, f.a, "ada@example.com").Token)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		q         url.Values
		p         *gatehouse.Principal
		confirmed bool
		redirect  string
		code      string
	}{
		{"hint of this session", url.Values{"id_token_hint": {res.IDToken}, "post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"s"}}, &f.p, true, "https://app.example.com/bye?state=s", ""},
		{"hint of another session of the user", url.Values{"id_token_hint": {res.IDToken}}, &other, false, "", ""},
		{"no hint", url.Values{"client_id": {c.ID}, "post_logout_redirect_uri": {"https://app.example.com/bye"}}, &f.p, false, "https://app.example.com/bye", ""},
		{"unregistered URI", url.Values{"client_id": {c.ID}, "post_logout_redirect_uri": {"https://app.example.com/bye/"}}, &f.p, false, "", "invalid_request"},
		{"URI without client", url.Values{"post_logout_redirect_uri": {"https://app.example.com/bye"}}, &f.p, false, "", "invalid_request"},
		{"hint and another client", url.Values{"id_token_hint": {res.IDToken}, "client_id": {"cli_other"}}, &f.p, false, "", "invalid_request"},
		{"access token as hint", url.Values{"id_token_hint": {res.AccessToken}}, &f.p, false, "", "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := f.a.ParseLogoutRequest(t.Context(), tc.q, tc.p)
			if oauthCode(err) != tc.code {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
			if err == nil && (req.Confirmed != tc.confirmed || req.RedirectURI != tc.redirect) {
				t.Fatalf("confirmed %v redirect %q, want %v %q", req.Confirmed, req.RedirectURI, tc.confirmed, tc.redirect)
			}
		})
	}
}
