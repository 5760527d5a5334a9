package web_test

// Contract tests for the OpenID Connect provider's machine endpoints:
// discovery, the token endpoint with every client authentication method
// and grant, userinfo, introspection, revocation, CORS on them, and the
// clients admin API. Codes come from the authorization endpoint, driven
// by a signed-up user's browser (cookie jar) through the consent page.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/web"
)

// TestOAuthEndpoints runs the provider's endpoint contract on every
// backend.
func TestOAuthEndpoints(t *testing.T) {
	runOnBackends(t, []backendCase{
		{"TokenAuthMethods", testOAuthTokenAuthMethods},
		{"TokenRequestErrors", testOAuthTokenRequestErrors},
		{"TokenStorageDown", testOAuthTokenStorageDown},
		{"PKCEFailureBurnsCode", testOAuthPKCEFailureBurnsCode},
		{"CodeReuseRevokes", testOAuthCodeReuseRevokes},
		{"RefreshRotation", testOAuthRefreshRotation},
		{"StrictRefreshGrace", testOAuthStrictRefreshGrace},
		{"ClientCredentials", testOAuthClientCredentials},
		{"PrivateKeyJWTAssertions", testOAuthPrivateKeyJWTAssertions},
		{"UserInfo", testOAuthUserInfo},
		{"Introspection", testOAuthIntrospection},
		{"Revocation", testOAuthRevocation},
		{"CrossOrigin", testOAuthCrossOrigin},
		{"ClientsAdmin", testClientsAdmin},
	})
}

const (
	oauthRedirect = "https://app.example.com/callback"
	oauthNonce    = "n-0S6_WzA2Mj"
	tokenPath     = "/auth/oauth2/token"
	userinfoPath  = "/auth/oauth2/userinfo"
	introspectURL = "/auth/oauth2/introspect"
	revokePath    = "/auth/oauth2/revoke"
	clientsPath   = "/auth/api/admin/clients"
)

// newOAuthEnv is newEnv with the RS256 key that ID tokens are signed with
// by default (serve creates it at start; access-token keys come lazily).
func newOAuthEnv(t *testing.T, b backend, cfg gatehouse.Config, opts ...gatehouse.Option) *env {
	t.Helper()
	e := newEnv(t, b, cfg, opts...)
	if _, err := e.auth.RotateKeys(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return e
}

// oauthUser is a signed-up user with a browser session.
type oauthUser struct {
	c         *client
	id, email string
}

func (e *env) oauthUser(t *testing.T, email string) oauthUser {
	t.Helper()
	c := e.client()
	u, _ := c.signUp(email).json(t)["user"].(map[string]any)
	id, _ := u["id"].(string)
	if !strings.HasPrefix(id, "usr_") {
		t.Fatalf("sign-up answered user %v", u)
	}
	return oauthUser{c: c, id: id, email: email}
}

// registerClient creates a client through the core; a spec without
// redirect URIs gets oauthRedirect.
func (e *env) registerClient(t *testing.T, spec gatehouse.ClientSpec) (gatehouse.OAuthClient, string) {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "Test app"
	}
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = []string{oauthRedirect}
	}
	c, secret, err := e.auth.CreateClient(context.Background(), spec)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c, secret
}

func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return b64(sum[:])
}

// authorize has u's browser approve an authorization request of cl for
// scope at the authorization endpoint (allowing on the consent page when it
// is shown) and returns the code and its PKCE verifier.
func (e *env) authorize(t *testing.T, u oauthUser, cl gatehouse.OAuthClient, scope string) (code, verifier string) {
	t.Helper()
	verifier = rand.Text() + rand.Text()
	q := url.Values{"response_type": {"code"}, "client_id": {cl.ID}, "redirect_uri": {oauthRedirect}, "scope": {scope},
		"state": {"st-1"}, "nonce": {oauthNonce}, "code_challenge": {pkceChallenge(verifier)}, "code_challenge_method": {"S256"}}
	r := u.c.do("GET", "/auth/oauth2/authorize?"+q.Encode(), nil)
	if r.StatusCode == http.StatusOK {
		// The consent page: its form posts the request back with a decision.
		q.Set("decision", "allow")
		r = u.c.do("POST", "/auth/oauth2/authorize/consent", q)
	}
	loc := r.Header.Get("Location")
	back, err := url.Parse(loc)
	if r.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc, oauthRedirect+"?") {
		t.Fatalf("authorization: %d, Location %q, body %s", r.StatusCode, loc, r.body)
	}
	if p := back.Query(); p.Get("state") != "st-1" || p.Get("iss") != e.auth.Issuer() || p.Get("code") == "" || p.Get("error") != "" {
		t.Fatalf("authorization response %q", loc)
	}
	return back.Query().Get("code"), verifier
}

// clientAuth is how requests authenticate a client: form parameters and
// header fields.
type clientAuth struct {
	form url.Values
	hdr  []string
}

// basicAuth authenticates with HTTP Basic, id and secret form-urlencoded
// (RFC 6749 §2.3.1).
func basicAuth(id, secret string) clientAuth {
	return rawBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
}

// rawBasicAuth is basicAuth with id and secret already encoded.
func rawBasicAuth(id, secret string) clientAuth {
	return clientAuth{hdr: []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}}
}

func postAuth(id, secret string) clientAuth {
	return clientAuth{form: url.Values{"client_id": {id}, "client_secret": {secret}}}
}

func publicAuth(id string) clientAuth { return clientAuth{form: url.Values{"client_id": {id}}} }

func jwtAuth(id, assertion string) clientAuth {
	f := url.Values{"client_assertion_type": {gatehouse.ClientAssertionType}, "client_assertion": {assertion}}
	if id != "" {
		f.Set("client_id", id)
	}
	return clientAuth{form: f}
}

// assertion is a private_key_jwt client assertion of clientID (RFC 7523
// §3) with a fresh jti, expiring in a minute; kv changes claims.
func (e *env) assertion(clientID, alg string, sign func([]byte) []byte, kv ...any) string {
	now := e.clock.Now()
	claims := with(map[string]any{"iss": clientID, "sub": clientID, "aud": e.auth.Issuer(), "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}, kv...)
	return forge(map[string]any{"alg": alg, "typ": "JWT"}, claims, sign)
}

// testRSAKey is one RSA key for every test: generating one is slow.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func rsaJWKS(k *rsa.PrivateKey, kid string) string {
	return jwksOf(map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())})
}

func ed25519JWKS(k ed25519.PrivateKey, kid string) string {
	return jwksOf(map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "x": b64(k.Public().(ed25519.PublicKey))})
}

func jwksOf(keys ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return string(b)
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// post sends a form with the client authentication to an OAuth endpoint
// from a client without cookies.
func (e *env) post(path string, ca clientAuth, params url.Values, hdr ...string) response {
	form := url.Values{}
	for k, vs := range ca.form {
		form[k] = vs
	}
	for k, vs := range params {
		form[k] = vs
	}
	return e.client().do("POST", path, form, append(slices.Clone(ca.hdr), hdr...)...)
}

// redeem exchanges a code and checks the success response.
func (e *env) redeem(t *testing.T, ca clientAuth, code, verifier string) map[string]any {
	t.Helper()
	return wantTokens(t, e.post(tokenPath, ca, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {oauthRedirect}, "code_verifier": {verifier}}))
}

// refresh presents a refresh token.
func (e *env) refresh(ca clientAuth, token string) response {
	return e.post(tokenPath, ca, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// wantTokens checks a successful token response (RFC 6749 §5.1) and
// returns its body.
func wantTokens(t *testing.T, r response) map[string]any {
	t.Helper()
	if r.StatusCode != 200 {
		t.Fatalf("token response %d, want 200: %s", r.StatusCode, r.body)
	}
	if cc, pragma := r.Header.Get("Cache-Control"), r.Header.Get("Pragma"); cc != "no-store" || pragma != "no-cache" {
		t.Errorf("token response Cache-Control %q, Pragma %q", cc, pragma)
	}
	m := r.json(t)
	if at, _ := m["access_token"].(string); strings.Count(at, ".") != 2 || m["token_type"] != "Bearer" {
		t.Fatalf("token response %s", r.body)
	}
	if exp, _ := m["expires_in"].(float64); exp <= 0 {
		t.Fatalf("expires_in %v", m["expires_in"])
	}
	return m
}

// wantOAuthError checks an error in the shape of RFC 6749 §5.2.
func wantOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Fatalf("error %v, want %q; body %s", m["error"], code, r.body)
	}
	desc, _ := m["error_description"].(string)
	if desc == "" || strings.ContainsAny(desc, "\"\\") || len(m) != 2 {
		t.Errorf("error body %s: want error and a plain error_description only", r.body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("error Cache-Control %q, want no-store", cc)
	}
}

// userinfo asks for the claims of an access token.
func (e *env) userinfo(tok string) response {
	return e.client().do("GET", userinfoPath, nil, bearer(tok)...)
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// testOAuthTokenAuthMethods redeems a code with each way a client can
// authenticate; the tokens name the user and the client.
func testOAuthTokenAuthMethods(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "methods@example.com")
	rk, ek := testRSAKey(), newEd25519(t)
	cases := []struct {
		name string
		spec gatehouse.ClientSpec
		auth func(cl gatehouse.OAuthClient, secret string) clientAuth
	}{
		{"client_secret_basic", gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthSecretBasic}, func(cl gatehouse.OAuthClient, s string) clientAuth {
			// Percent-encoded characters are decoded (RFC 6749 §2.3.1).
			return rawBasicAuth(strings.ReplaceAll(cl.ID, "_", "%5F"), strings.ReplaceAll(s, "_", "%5F"))
		}},
		{"client_secret_post", gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthSecretPost}, func(cl gatehouse.OAuthClient, s string) clientAuth {
			return postAuth(cl.ID, s)
		}},
		{"private_key_jwt RS256", gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthPrivateKeyJWT, JWKS: rsaJWKS(rk, "rsa-1")}, func(cl gatehouse.OAuthClient, _ string) clientAuth {
			return jwtAuth(cl.ID, e.assertion(cl.ID, "RS256", signRS256(rk)))
		}},
		{"private_key_jwt EdDSA", gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthPrivateKeyJWT, JWKS: ed25519JWKS(ek, "ed-1")}, func(cl gatehouse.OAuthClient, _ string) clientAuth {
			return jwtAuth(cl.ID, e.assertion(cl.ID, "EdDSA", signEd25519(ek)))
		}},
		{"none", gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone}, func(cl gatehouse.OAuthClient, _ string) clientAuth {
			return publicAuth(cl.ID)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cl, secret := e.registerClient(t, tc.spec)
			wantSecret := tc.spec.AuthMethod == gatehouse.ClientAuthSecretBasic || tc.spec.AuthMethod == gatehouse.ClientAuthSecretPost
			if (secret != "") != wantSecret || secret != "" && !strings.HasPrefix(secret, gatehouse.ClientSecretPrefix) {
				t.Fatalf("secret %q for %s", secret, tc.spec.AuthMethod)
			}
			code, verifier := e.authorize(t, u, cl, "openid email profile offline_access")
			tok := e.redeem(t, tc.auth(cl, secret), code, verifier)
			if str(tok, "scope") != "openid email profile offline_access" || len(str(tok, "refresh_token")) < 40 {
				t.Errorf("scope %q, refresh_token %q", tok["scope"], tok["refresh_token"])
			}
			id := parseJWT(t, str(tok, "id_token"))
			if id.header["alg"] != "RS256" || id.claims["sub"] != u.id || !audIs(id.claims["aud"], cl.ID) || id.claims["azp"] != cl.ID ||
				id.claims["iss"] != e.auth.Issuer() || id.claims["nonce"] != oauthNonce || id.claims["email"] != u.email {
				t.Errorf("ID token header %v claims %v", id.header, id.claims)
			}
			at := parseJWT(t, str(tok, "access_token"))
			if at.header["typ"] != "at+jwt" || at.claims["sub"] != u.id || at.claims["client_id"] != cl.ID || !audIs(at.claims["aud"], cl.ID) {
				t.Errorf("access token header %v claims %v", at.header, at.claims)
			}
			r := e.userinfo(str(tok, "access_token"))
			want(t, r, 200, "")
			if info := r.json(t); info["sub"] != u.id || info["email"] != u.email || info["name"] != "Ada" {
				t.Errorf("userinfo %s", r.body)
			}
		})
	}
}

// send makes a request whose header fields may repeat.
func (e *env) send(t *testing.T, method, path string, body string, hdr http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	return response{res, buf.Bytes()}
}

// testOAuthTokenRequestErrors: failed client authentication is 401
// invalid_client (with a Basic challenge when Basic was tried); malformed
// requests are 400 invalid_request; neither issues anything.
func testOAuthTokenRequestErrors(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	basic, bs := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthSecretBasic,
		GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api"}})
	post, ps := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthSecretPost,
		GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api"}})
	pub, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone})
	jwtc, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthPrivateKeyJWT, JWKS: ed25519JWKS(newEd25519(t), "ed-1"),
		GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api"}})
	cc := url.Values{"grant_type": {"client_credentials"}}
	merge := func(ca clientAuth, extra url.Values) clientAuth {
		f := url.Values{}
		for k, vs := range ca.form {
			f[k] = vs
		}
		for k, vs := range extra {
			f[k] = vs
		}
		return clientAuth{form: f, hdr: ca.hdr}
	}
	const challenge = `Basic realm="gatehouse"`
	cases := []struct {
		name      string
		auth      clientAuth
		params    url.Values
		st        int
		code      string
		challenge string
	}{
		{"right secret, Basic", basicAuth(basic.ID, bs), cc, 200, "", ""},
		{"right secret, post", postAuth(post.ID, ps), cc, 200, "", ""},
		{"wrong secret, Basic", basicAuth(basic.ID, bs+"x"), cc, 401, "invalid_client", challenge},
		{"wrong secret, post", postAuth(post.ID, ps+"x"), cc, 401, "invalid_client", ""},
		// The two secret methods carry the same secret: either will do.
		{"Basic client posts its secret", postAuth(basic.ID, bs), cc, 200, "", ""},
		{"post client uses Basic", basicAuth(post.ID, ps), cc, 200, "", ""},
		{"secret client presents an assertion", jwtAuth(basic.ID, "a.b.c"), cc, 401, "invalid_client", ""},
		{"private_key_jwt client presents a secret, Basic", basicAuth(jwtc.ID, "ghcs_anything"), cc, 401, "invalid_client", challenge},
		{"private_key_jwt client presents a secret, post", postAuth(jwtc.ID, "ghcs_anything"), cc, 401, "invalid_client", ""},
		{"private_key_jwt client presents nothing", publicAuth(jwtc.ID), cc, 401, "invalid_client", ""},
		{"confidential client without a secret", publicAuth(basic.ID), cc, 401, "invalid_client", ""},
		{"public client sends a secret", postAuth(pub.ID, "ghcs_anything"), cc, 401, "invalid_client", ""},
		{"public client sends an assertion", jwtAuth(pub.ID, "a.b.c"), cc, 401, "invalid_client", ""},
		{"unknown client", basicAuth("cli_NOSUCHCLIENTNOSUCHCLIENT", bs), cc, 401, "invalid_client", challenge},
		{"no client at all", clientAuth{}, cc, 401, "invalid_client", ""},
		{"malformed Basic", clientAuth{hdr: []string{"Authorization", "Basic !!!"}}, cc, 401, "invalid_client", challenge},
		{"Basic without a colon", clientAuth{hdr: []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(basic.ID))}}, cc, 401, "invalid_client", challenge},
		{"Basic and client_secret", merge(basicAuth(basic.ID, bs), url.Values{"client_secret": {bs}}), cc, 400, "invalid_request", ""},
		{"client_secret and an assertion", merge(postAuth(post.ID, ps), url.Values{"client_assertion_type": {gatehouse.ClientAssertionType}, "client_assertion": {"a.b.c"}}), cc, 400, "invalid_request", ""},
		{"Basic and another client_id", merge(basicAuth(basic.ID, bs), url.Values{"client_id": {post.ID}}), cc, 400, "invalid_request", ""},
		{"Basic and its own client_id", merge(basicAuth(basic.ID, bs), url.Values{"client_id": {basic.ID}}), cc, 200, "", ""},
		{"repeated grant_type", basicAuth(basic.ID, bs), url.Values{"grant_type": {"client_credentials", "client_credentials"}}, 400, "invalid_request", ""},
		{"repeated client_id", merge(postAuth(post.ID, ps), url.Values{"client_id": {post.ID, post.ID}}), cc, 400, "invalid_request", ""},
		{"repeated unknown parameter", basicAuth(basic.ID, bs), url.Values{"grant_type": {"client_credentials"}, "x": {"1", "2"}}, 400, "invalid_request", ""},
		{"NUL in a parameter", basicAuth(basic.ID, bs), url.Values{"grant_type": {"client_credentials"}, "scope": {"api\x00"}}, 400, "invalid_request", ""},
		{"invalid UTF-8 in client_id", postAuth("cli_\xff", ps), cc, 400, "invalid_request", ""},
		{"missing grant_type", basicAuth(basic.ID, bs), url.Values{}, 400, "invalid_request", ""},
		{"unsupported grant_type", basicAuth(basic.ID, bs), url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type", ""},
		{"grant the client may not use", basicAuth(basic.ID, bs), url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, 400, "unauthorized_client", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(tokenPath, tc.auth, tc.params)
			if tc.st == 200 {
				wantTokens(t, r)
				return
			}
			wantOAuthError(t, r, tc.st, tc.code)
			if got := r.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if bytes.Contains(r.body, []byte("access_token")) {
				t.Errorf("error response carries a token: %s", r.body)
			}
		})
	}

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {post.ID}, "client_secret": {ps}}.Encode()
	bodies := []struct {
		name, body, ct string
	}{
		{"JSON body", `{"grant_type":"client_credentials","client_id":"` + post.ID + `","client_secret":"` + ps + `"}`, "application/json"},
		{"form without content type", form, ""},
		{"multipart content type", form, "multipart/form-data; boundary=x"},
		{"form in another charset", form, "application/x-www-form-urlencoded; charset=iso-8859-1"},
		{"oversized body", form + "&pad=" + strings.Repeat("a", 64<<10), "application/x-www-form-urlencoded"},
		{"malformed form", form + "&%zz=1", "application/x-www-form-urlencoded"},
	}
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.ct != "" {
				hdr.Set("Content-Type", tc.ct)
			}
			wantOAuthError(t, e.send(t, "POST", tokenPath, tc.body, hdr), 400, "invalid_request")
		})
	}
	t.Run("charset utf-8 is fine", func(t *testing.T) {
		wantTokens(t, e.send(t, "POST", tokenPath, form, http.Header{"Content-Type": {"application/x-www-form-urlencoded; charset=UTF-8"}}))
	})
	t.Run("two Basic headers", func(t *testing.T) {
		hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		for range 2 {
			hdr.Add("Authorization", basicAuth(basic.ID, bs).hdr[1])
		}
		wantOAuthError(t, e.send(t, "POST", tokenPath, "grant_type=client_credentials", hdr), 400, "invalid_request")
	})
	t.Run("parameters in the query are not read", func(t *testing.T) {
		q := url.Values{"grant_type": {"client_credentials"}, "client_id": {post.ID}, "client_secret": {ps}}.Encode()
		r := e.send(t, "POST", tokenPath+"?"+q, "", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		wantOAuthError(t, r, 401, "invalid_client")
	})
	t.Run("GET is not the token endpoint", func(t *testing.T) {
		if r := e.client().do("GET", tokenPath+"?"+form, nil); r.StatusCode != 405 || bytes.Contains(r.body, []byte("access_token")) {
			t.Fatalf("GET token endpoint: %d %s", r.StatusCode, r.body)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testOAuthTokenStorageDown: an internal failure is 500 server_error with
// a fixed description, logged, its text never sent.
func testOAuthTokenStorageDown(t *testing.T, b backend) {
	var logs syncBuffer
	e := newOAuthEnv(t, b, gatehouse.Config{}, gatehouse.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	cl, secret := e.registerClient(t, gatehouse.ClientSpec{GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api"}})
	e.auth.Store().Close()
	r := e.post(tokenPath, basicAuth(cl.ID, secret), url.Values{"grant_type": {"client_credentials"}})
	if r.StatusCode != 500 || string(r.body) != `{"error":"server_error","error_description":"The server could not complete the request."}`+"\n" {
		t.Fatalf("token endpoint with the database down: %d %s", r.StatusCode, r.body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("headers %v", r.Header)
	}
	if !strings.Contains(logs.String(), "request failed") || !strings.Contains(logs.String(), "load client") {
		t.Errorf("the internal error was not logged: %s", logs.String())
	}
}

// testOAuthPKCEFailureBurnsCode: a wrong code_verifier is invalid_grant
// and spends the code, so the right verifier cannot follow.
func testOAuthPKCEFailureBurnsCode(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "pkce@example.com")
	cl, secret := e.registerClient(t, gatehouse.ClientSpec{})
	ca := basicAuth(cl.ID, secret)
	code, verifier := e.authorize(t, u, cl, "openid")
	exchange := func(v, redirect string) response {
		return e.post(tokenPath, ca, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {v}})
	}
	wantOAuthError(t, exchange(rand.Text()+rand.Text(), oauthRedirect), 400, "invalid_grant")
	wantOAuthError(t, exchange(verifier, oauthRedirect), 400, "invalid_grant")
	// A malformed verifier is refused before the code is touched.
	code, verifier = e.authorize(t, u, cl, "openid")
	wantOAuthError(t, exchange("short", oauthRedirect), 400, "invalid_request")
	wantOAuthError(t, exchange(verifier, "https://app.example.com/other"), 400, "invalid_grant")
	wantOAuthError(t, exchange(verifier, oauthRedirect), 400, "invalid_grant")
	// Another client cannot redeem the user's code either.
	other, osec := e.registerClient(t, gatehouse.ClientSpec{})
	code, verifier = e.authorize(t, u, cl, "openid")
	wantOAuthError(t, e.post(tokenPath, basicAuth(other.ID, osec), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {oauthRedirect}, "code_verifier": {verifier}}), 400, "invalid_grant")
	wantOAuthError(t, exchange(verifier, oauthRedirect), 400, "invalid_grant")
}

// testOAuthCodeReuseRevokes: a code redeemed twice is invalid_grant, and
// what the first redemption issued dies with it (RFC 6749 §4.1.2).
func testOAuthCodeReuseRevokes(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "reuse@example.com")
	cl, secret := e.registerClient(t, gatehouse.ClientSpec{})
	ca := basicAuth(cl.ID, secret)
	code, verifier := e.authorize(t, u, cl, "openid email")
	first := e.redeem(t, ca, code, verifier)
	want(t, e.userinfo(str(first, "access_token")), 200, "")
	r := e.post(tokenPath, ca, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {oauthRedirect}, "code_verifier": {verifier}})
	wantOAuthError(t, r, 400, "invalid_grant")
	wantOAuthError(t, e.refresh(ca, str(first, "refresh_token")), 400, "invalid_grant")
	r = e.userinfo(str(first, "access_token"))
	wantOAuthError(t, r, 401, "invalid_token")
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer error="invalid_token", error_description="`) {
		t.Errorf("WWW-Authenticate %q", got)
	}
}

// testOAuthRefreshRotation: each refresh rotates the token; a retry of the
// one just replaced, within the grace window, gets the same successor; a
// later reuse revokes the whole family (RFC 9700 §4.14.2).
func testOAuthRefreshRotation(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "rotate@example.com")
	cl, secret := e.registerClient(t, gatehouse.ClientSpec{})
	ca := basicAuth(cl.ID, secret)
	code, verifier := e.authorize(t, u, cl, "openid email offline_access")
	r0 := str(e.redeem(t, ca, code, verifier), "refresh_token")

	first := wantTokens(t, e.refresh(ca, r0))
	r1 := str(first, "refresh_token")
	if r1 == "" || r1 == r0 {
		t.Fatalf("refresh did not rotate: %q then %q", r0, r1)
	}
	if id := parseJWT(t, str(first, "id_token")); id.claims["sub"] != u.id || id.claims["nonce"] != nil {
		t.Errorf("refreshed ID token %v", id.claims)
	}
	e.clock.Advance(5 * time.Second)
	retry := wantTokens(t, e.refresh(ca, r0))
	if got := str(retry, "refresh_token"); got != r1 {
		t.Fatalf("a retry within the grace window got %q, want the same successor %q", got, r1)
	}
	want(t, e.userinfo(str(retry, "access_token")), 200, "")
	// 11 s after the rotation the grace is over: the retry revokes the family.
	e.clock.Advance(6 * time.Second)
	wantOAuthError(t, e.refresh(ca, r0), 400, "invalid_grant")
	wantOAuthError(t, e.refresh(ca, r1), 400, "invalid_grant")
	wantOAuthError(t, e.userinfo(str(retry, "access_token")), 401, "invalid_token")

	// A narrower scope for one access token is fine; a wider one is not.
	code, verifier = e.authorize(t, u, cl, "openid email")
	r := str(e.redeem(t, ca, code, verifier), "refresh_token")
	narrow := wantTokens(t, e.post(tokenPath, ca, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r}, "scope": {"openid"}}))
	if str(narrow, "scope") != "openid" {
		t.Errorf("narrowed scope %q", narrow["scope"])
	}
	if at := parseJWT(t, str(narrow, "access_token")); at.claims["scope"] != "openid" {
		t.Errorf("narrowed access token scope %v", at.claims["scope"])
	}
	wantOAuthError(t, e.post(tokenPath, ca, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(narrow, "refresh_token")}, "scope": {"openid profile"}}), 400, "invalid_scope")
}

// testOAuthStrictRefreshGrace: with a negative grace any reuse revokes the
// family at once.
func testOAuthStrictRefreshGrace(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{OAuth: gatehouse.OAuthConfig{RefreshGrace: -1}})
	u := e.oauthUser(t, "strict@example.com")
	cl, secret := e.registerClient(t, gatehouse.ClientSpec{})
	ca := basicAuth(cl.ID, secret)
	code, verifier := e.authorize(t, u, cl, "openid")
	r0 := str(e.redeem(t, ca, code, verifier), "refresh_token")
	next := wantTokens(t, e.refresh(ca, r0))
	wantOAuthError(t, e.refresh(ca, r0), 400, "invalid_grant")
	wantOAuthError(t, e.refresh(ca, str(next, "refresh_token")), 400, "invalid_grant")
	wantOAuthError(t, e.userinfo(str(next, "access_token")), 401, "invalid_token")
}

// testOAuthClientCredentials: a confidential client gets a token about
// itself (sub is its "cli_" id), without user scopes, refresh or ID token.
func testOAuthClientCredentials(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	cl, secret := e.registerClient(t, gatehouse.ClientSpec{GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api:read", "api:write", "openid"}})
	ca := basicAuth(cl.ID, secret)
	tok := wantTokens(t, e.post(tokenPath, ca, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}))
	if _, ok := tok["refresh_token"]; ok {
		t.Errorf("client_credentials issued a refresh token: %v", tok)
	}
	if _, ok := tok["id_token"]; ok {
		t.Errorf("client_credentials issued an ID token: %v", tok)
	}
	at := parseJWT(t, str(tok, "access_token"))
	if sub, _ := at.claims["sub"].(string); sub != cl.ID || !strings.HasPrefix(sub, "cli_") || at.claims["client_id"] != cl.ID ||
		at.claims["scope"] != "api:read" || !audIs(at.claims["aud"], cl.ID) || str(tok, "scope") != "api:read" {
		t.Errorf("client_credentials token %v, response %v", at.claims, tok)
	}
	for _, scope := range []string{"openid", "api:read email", "api:admin"} {
		wantOAuthError(t, e.post(tokenPath, ca, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}), 400, "invalid_scope")
	}
	// No user: userinfo has nothing to say about it.
	r := e.userinfo(str(tok, "access_token"))
	wantOAuthError(t, r, 403, "insufficient_scope")
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer error="insufficient_scope"`) {
		t.Errorf("WWW-Authenticate %q", got)
	}
	// A public client cannot be given the grant, nor use it.
	if _, _, err := e.auth.CreateClient(context.Background(), gatehouse.ClientSpec{Name: "SPA", AuthMethod: gatehouse.ClientAuthNone,
		GrantTypes: []string{gatehouse.GrantClientCredentials}}); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidRequest {
		t.Errorf("public client_credentials client: %v", err)
	}
	pub, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone})
	wantOAuthError(t, e.post(tokenPath, publicAuth(pub.ID), url.Values{"grant_type": {"client_credentials"}}), 400, "unauthorized_client")
}

// testOAuthPrivateKeyJWTAssertions: an assertion is good once, only for
// this issuer, only signed by the client's own key.
func testOAuthPrivateKeyJWTAssertions(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	ek := newEd25519(t)
	cl, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthPrivateKeyJWT, JWKS: ed25519JWKS(ek, "ed-1"),
		GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api"}})
	other, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthPrivateKeyJWT, JWKS: rsaJWKS(testRSAKey(), "rsa-1"),
		GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api"}})
	cc := url.Values{"grant_type": {"client_credentials"}}
	sign := signEd25519(ek)

	a := e.assertion(cl.ID, "EdDSA", sign)
	wantTokens(t, e.post(tokenPath, jwtAuth(cl.ID, a), cc))
	r := e.post(tokenPath, jwtAuth(cl.ID, a), cc)
	wantOAuthError(t, r, 401, "invalid_client")
	if got := r.Header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate %q without Basic", got)
	}

	cases := []struct {
		name string
		auth clientAuth
		st   int
	}{
		{"client_id from the assertion's sub", jwtAuth("", e.assertion(cl.ID, "EdDSA", sign)), 200},
		{"other client's", jwtAuth(other.ID, e.assertion(other.ID, "RS256", signRS256(testRSAKey()))), 200},
		{"aud is the token endpoint, not the issuer", jwtAuth(cl.ID, e.assertion(cl.ID, "EdDSA", sign, "aud", e.auth.Issuer()+"/oauth2/token")), 401},
		{"aud of another issuer", jwtAuth(cl.ID, e.assertion(cl.ID, "EdDSA", sign, "aud", "https://evil.example/auth")), 401},
		{"signed by another key", jwtAuth(cl.ID, e.assertion(cl.ID, "EdDSA", signEd25519(newEd25519(t)))), 401},
		{"claims another client", jwtAuth(other.ID, e.assertion(other.ID, "EdDSA", sign)), 401},
		{"client_id differs from the assertion", jwtAuth(other.ID, e.assertion(cl.ID, "EdDSA", sign)), 401},
		{"expired", jwtAuth(cl.ID, e.assertion(cl.ID, "EdDSA", sign, "exp", e.clock.Now().Add(-time.Minute).Unix())), 401},
		{"expires too late", jwtAuth(cl.ID, e.assertion(cl.ID, "EdDSA", sign, "exp", e.clock.Now().Add(time.Hour).Unix())), 401},
		{"no jti", jwtAuth(cl.ID, e.assertion(cl.ID, "EdDSA", sign, "jti", nil)), 401},
		{"alg none", jwtAuth(cl.ID, forge(map[string]any{"alg": "none"}, map[string]any{"iss": cl.ID, "sub": cl.ID, "aud": e.auth.Issuer(),
			"jti": "x", "exp": e.clock.Now().Add(time.Minute).Unix()}, nil)), 401},
		{"wrong assertion type", clientAuth{form: url.Values{"client_id": {cl.ID}, "client_assertion_type": {"urn:example"},
			"client_assertion": {e.assertion(cl.ID, "EdDSA", sign)}}}, 401},
		{"no assertion", clientAuth{form: url.Values{"client_id": {cl.ID}, "client_assertion_type": {gatehouse.ClientAssertionType}}}, 401},
		{"not a JWT and no client_id", jwtAuth("", "garbage"), 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(tokenPath, tc.auth, cc)
			if tc.st == 200 {
				wantTokens(t, r)
				return
			}
			wantOAuthError(t, r, tc.st, "invalid_client")
		})
	}
}

// testOAuthUserInfo: the claims follow the scopes; the token comes from
// the Authorization header only, the cookie counts for nothing.
func testOAuthUserInfo(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "info@example.com")
	cl, secret := e.registerClient(t, gatehouse.ClientSpec{})
	ca := basicAuth(cl.ID, secret)
	tokenFor := func(scope string) string {
		code, verifier := e.authorize(t, u, cl, scope)
		return str(e.redeem(t, ca, code, verifier), "access_token")
	}
	updated := float64(e.clock.Now().Unix())
	cases := []struct {
		scope string
		want  map[string]any
	}{
		{"openid", map[string]any{"sub": u.id}},
		{"openid email", map[string]any{"sub": u.id, "email": u.email, "email_verified": false}},
		{"openid profile", map[string]any{"sub": u.id, "name": "Ada", "updated_at": updated}},
		{"openid profile email offline_access", map[string]any{"sub": u.id, "email": u.email, "email_verified": false, "name": "Ada", "updated_at": updated}},
	}
	var full string
	for _, tc := range cases {
		t.Run(tc.scope, func(t *testing.T) {
			tok := tokenFor(tc.scope)
			full = tok
			for _, method := range []string{"GET", "POST"} {
				r := e.client().do(method, userinfoPath, nil, bearer(tok)...)
				want(t, r, 200, "")
				if got := r.json(t); !jsonEqual(got, tc.want) {
					t.Errorf("%s userinfo %v, want %v", method, got, tc.want)
				}
				if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("headers %v", r.Header)
				}
			}
		})
	}
	wantOAuthError(t, e.userinfo(tokenFor("profile")), 403, "insufficient_scope")

	bare := func(name string, r response) {
		t.Helper()
		if r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") != "Bearer" || len(r.body) != 0 || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, WWW-Authenticate %q, body %q", name, r.StatusCode, r.Header.Get("WWW-Authenticate"), r.body)
		}
	}
	bare("no token", e.client().do("GET", userinfoPath, nil))
	bare("session cookie only", u.c.do("GET", userinfoPath, nil))
	bare("session cookie only, POST", u.c.do("POST", userinfoPath, nil))
	bare("token in the query", e.client().do("GET", userinfoPath+"?access_token="+full, nil))
	bare("token in a form body", e.client().do("POST", userinfoPath, url.Values{"access_token": {full}}))
	bare("Basic credentials", e.client().do("GET", userinfoPath, nil, basicAuth(cl.ID, secret).hdr...))

	// A Bearer token counts, whatever cookie comes along.
	other := e.oauthUser(t, "other@example.com")
	r := other.c.do("GET", userinfoPath, nil, bearer(full)...)
	if want(t, r, 200, ""); r.json(t)["sub"] != u.id {
		t.Errorf("userinfo with another user's cookie: %s", r.body)
	}
	code, verifier := e.authorize(t, u, cl, "openid")
	for name, tok := range map[string]string{
		"first-party access token": u.c.mint(),
		"garbage":                  "not-a-token",
		"ID token":                 str(e.redeem(t, ca, code, verifier), "id_token"),
	} {
		r := e.userinfo(tok)
		wantOAuthError(t, r, 401, "invalid_token")
		if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer error="invalid_token", error_description="`) {
			t.Errorf("%s: WWW-Authenticate %q", name, got)
		}
	}
	// The token hangs off the session it was authorized from.
	want(t, u.c.do("POST", "/auth/api/sign-out", nil), 204, "")
	wantOAuthError(t, e.userinfo(full), 401, "invalid_token")
}

// jsonEqual compares decoded JSON values.
func jsonEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// testOAuthIntrospection: a confidential client learns about its own live
// tokens only; everything else is {"active": false}.
func testOAuthIntrospection(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "intro@example.com")
	a, as := e.registerClient(t, gatehouse.ClientSpec{})
	other, osec := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthSecretPost})
	pub, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone})
	ca := basicAuth(a.ID, as)
	code, verifier := e.authorize(t, u, a, "openid email")
	tok := e.redeem(t, ca, code, verifier)
	access, refresh := str(tok, "access_token"), str(tok, "refresh_token")

	introspect := func(ca clientAuth, token string) map[string]any {
		t.Helper()
		r := e.post(introspectURL, ca, url.Values{"token": {token}, "token_type_hint": {"whatever"}})
		want(t, r, 200, "")
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		return r.json(t)
	}
	inactive := map[string]any{"active": false}
	got := introspect(ca, access)
	if got["active"] != true || got["client_id"] != a.ID || got["sub"] != u.id || got["scope"] != "openid email" ||
		got["iss"] != e.auth.Issuer() || got["token_type"] != "Bearer" || got["exp"] == nil {
		t.Errorf("own access token: %v", got)
	}
	if got := introspect(ca, refresh); got["active"] != true || got["client_id"] != a.ID || got["sub"] != u.id {
		t.Errorf("own refresh token: %v", got)
	}
	for name, token := range map[string]string{"another client's access token": access, "another client's refresh token": refresh} {
		if got := introspect(postAuth(other.ID, osec), token); !jsonEqual(got, inactive) {
			t.Errorf("%s: %v", name, got)
		}
	}
	if got := introspect(ca, "nonsense"); !jsonEqual(got, inactive) {
		t.Errorf("unknown token: %v", got)
	}
	r := e.post(revokePath, ca, url.Values{"token": {refresh}})
	want(t, r, 200, "")
	for name, token := range map[string]string{"revoked refresh token": refresh, "access token of a revoked grant": access} {
		if got := introspect(ca, token); !jsonEqual(got, inactive) {
			t.Errorf("%s: %v", name, got)
		}
	}
	wantOAuthError(t, e.post(introspectURL, publicAuth(pub.ID), url.Values{"token": {access}}), 400, "unauthorized_client")
	wantOAuthError(t, e.post(introspectURL, ca, url.Values{}), 400, "invalid_request")
	wantOAuthError(t, e.post(introspectURL, basicAuth(a.ID, "wrong"), url.Values{"token": {access}}), 401, "invalid_client")
}

// testOAuthRevocation: revoking a refresh or access token ends the grant
// it belongs to; a client_credentials token cannot be revoked; unknown
// tokens are fine (RFC 7009 §2.2).
func testOAuthRevocation(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "revoke@example.com")
	a, as := e.registerClient(t, gatehouse.ClientSpec{})
	other, osec := e.registerClient(t, gatehouse.ClientSpec{})
	pub, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone})
	machine, ms := e.registerClient(t, gatehouse.ClientSpec{GrantTypes: []string{gatehouse.GrantClientCredentials}, Scopes: []string{"api"}})
	ca := basicAuth(a.ID, as)
	grant := func(cl gatehouse.OAuthClient, ca clientAuth) (access, refresh string) {
		code, verifier := e.authorize(t, u, cl, "openid")
		tok := e.redeem(t, ca, code, verifier)
		return str(tok, "access_token"), str(tok, "refresh_token")
	}
	revoked := func(name string, r response) {
		t.Helper()
		if r.StatusCode != 200 || len(r.body) != 0 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %q, Cache-Control %q", name, r.StatusCode, r.body, r.Header.Get("Cache-Control"))
		}
	}

	access, refresh := grant(a, ca)
	revoked("refresh token", e.post(revokePath, ca, url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}))
	wantOAuthError(t, e.refresh(ca, refresh), 400, "invalid_grant")
	wantOAuthError(t, e.userinfo(access), 401, "invalid_token")

	access, refresh = grant(a, ca)
	revoked("access token, unknown hint", e.post(revokePath, ca, url.Values{"token": {access}, "token_type_hint": {"no_such_hint"}}))
	wantOAuthError(t, e.refresh(ca, refresh), 400, "invalid_grant")
	wantOAuthError(t, e.userinfo(access), 401, "invalid_token")

	access, refresh = grant(a, ca)
	wantOAuthError(t, e.post(revokePath, basicAuth(other.ID, osec), url.Values{"token": {refresh}}), 400, "unauthorized_client")
	wantOAuthError(t, e.post(revokePath, basicAuth(other.ID, osec), url.Values{"token": {access}}), 400, "unauthorized_client")
	want(t, e.userinfo(access), 200, "")
	revoked("unknown token", e.post(revokePath, ca, url.Values{"token": {"nonsense"}}))
	revoked("already revoked token", e.post(revokePath, ca, url.Values{"token": {"nonsense"}}))
	wantOAuthError(t, e.post(revokePath, ca, url.Values{}), 400, "invalid_request")
	wantOAuthError(t, e.post(revokePath, basicAuth(a.ID, "wrong"), url.Values{"token": {refresh}}), 401, "invalid_client")
	next := wantTokens(t, e.refresh(ca, refresh))
	if str(next, "refresh_token") == refresh {
		t.Fatal("refresh did not rotate")
	}

	pa, pr := grant(pub, publicAuth(pub.ID))
	revoked("public client's refresh token", e.post(revokePath, publicAuth(pub.ID), url.Values{"token": {pr}}))
	wantOAuthError(t, e.userinfo(pa), 401, "invalid_token")

	cc := wantTokens(t, e.post(tokenPath, basicAuth(machine.ID, ms), url.Values{"grant_type": {"client_credentials"}}))
	wantOAuthError(t, e.post(revokePath, basicAuth(machine.ID, ms), url.Values{"token": {str(cc, "access_token")}}), 400, "unsupported_token_type")
}

// testOAuthCrossOrigin: the token, revocation and userinfo endpoints serve
// any origin (a browser-based public client on another site), without
// credentials; introspection and the admin API keep refusing cross-origin
// state changes.
func testOAuthCrossOrigin(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	u := e.oauthUser(t, "spa@example.com")
	pub, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone})
	conf, cs := e.registerClient(t, gatehouse.ClientSpec{})
	spa := []string{"Origin", "https://spa.example", "Sec-Fetch-Site", "cross-site"}

	for _, path := range []string{tokenPath, revokePath, userinfoPath} {
		r := e.client().do("OPTIONS", path, nil, "Origin", "https://spa.example", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, content-type")
		if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight %s: %d %v", path, r.StatusCode, r.Header)
		}
	}
	code, verifier := e.authorize(t, u, pub, "openid")
	r := e.post(tokenPath, publicAuth(pub.ID), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {oauthRedirect}, "code_verifier": {verifier}}, spa...)
	tok := wantTokens(t, r)
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("token response Access-Control-Allow-Origin %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	r = e.client().do("POST", userinfoPath, nil, append(bearer(str(tok, "access_token")), spa...)...)
	if want(t, r, 200, ""); r.json(t)["sub"] != u.id || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("cross-origin userinfo: %s %v", r.body, r.Header)
	}
	r = e.userinfo("garbage")
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("userinfo error headers %v", r.Header)
	}
	// Cookies of the user do not travel into these endpoints' answers: the
	// cookie-carrying browser gets nothing userinfo would not give anyone.
	r = u.c.do("GET", userinfoPath, nil, spa...)
	if r.StatusCode != 401 {
		t.Errorf("cookie at userinfo: %d %s", r.StatusCode, r.body)
	}
	want(t, e.post(revokePath, publicAuth(pub.ID), url.Values{"token": {str(tok, "refresh_token")}}, spa...), 200, "")

	// Introspection is for servers: a browser on another origin is refused.
	if r := e.post(introspectURL, basicAuth(conf.ID, cs), url.Values{"token": {"x"}}, spa...); r.StatusCode != 403 || bytes.Contains(r.body, []byte("active")) {
		t.Errorf("cross-origin introspection: %d %s", r.StatusCode, r.body)
	}
	r = e.post(introspectURL, basicAuth(conf.ID, cs), url.Values{"token": {"x"}})
	if want(t, r, 200, ""); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("introspection allows origin %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
}

// testClientsAdmin: the clients API is for gatehouse:admin only; a secret
// is shown once, at creation or rotation; PATCH changes what it names;
// cross-origin changes are refused.
func testClientsAdmin(t *testing.T, b backend) {
	e := newOAuthEnv(t, b, gatehouse.Config{})
	spec := map[string]any{"name": "Notes", "redirect_uris": []string{oauthRedirect},
		"grant_types": []string{"authorization_code", "refresh_token", "client_credentials"}, "scopes": []string{"openid", "email", "notes:read"}}

	anon := e.client()
	for _, r := range []response{anon.do("GET", clientsPath, nil), anon.do("POST", clientsPath, spec), anon.do("DELETE", clientsPath+"/cli_X", nil)} {
		want(t, r, 401, "unauthenticated")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	}
	plain := e.oauthUser(t, "plain@example.com").c
	want(t, plain.do("GET", clientsPath, nil), 403, "forbidden")
	want(t, plain.do("POST", clientsPath, spec), 403, "forbidden")
	want(t, plain.do("POST", clientsPath+"/cli_X/secret", nil), 403, "forbidden")
	if cs, _ := e.auth.Clients(context.Background()); len(cs) != 0 {
		t.Fatalf("a refused request created %v", cs)
	}

	if _, err := e.auth.CreateUser(context.Background(), gatehouse.NewUser{Email: "boss@example.com", Password: goodPassword, Roles: []string{"admin"}, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	admin := e.client()
	want(t, admin.do("POST", "/auth/api/sign-in", signInBody("boss@example.com", goodPassword)), 200, "")

	r := admin.do("POST", clientsPath, spec)
	want(t, r, 201, "")
	if bytes.Contains(r.body, []byte("secret_hash")) || bytes.Contains(r.body, []byte(`"jwks"`)) {
		t.Errorf("create response %s", r.body)
	}
	created := r.json(t)
	id, secret := str(created, "id"), str(created, "client_secret")
	wantCreated := map[string]any{"id": id, "name": "Notes", "auth_method": "client_secret_basic", "redirect_uris": []any{oauthRedirect},
		"post_logout_redirect_uris": []any{}, "grant_types": []any{"authorization_code", "refresh_token", "client_credentials"},
		"scopes": []any{"openid", "email", "notes:read"}, "id_token_algorithm": "RS256", "first_party": false,
		"created_at": "2026-11-27T13:00:00Z", "updated_at": "2026-11-27T13:00:00Z", "client_secret": secret}
	if !strings.HasPrefix(id, "cli_") || !strings.HasPrefix(secret, gatehouse.ClientSecretPrefix) || !jsonEqual(created, wantCreated) {
		t.Fatalf("created %v\nwant %v", created, wantCreated)
	}
	// The secret works, and is never shown again.
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"notes:read"}}
	wantTokens(t, e.post(tokenPath, basicAuth(id, secret), cc))
	r = admin.do("GET", clientsPath+"/"+id, nil)
	want(t, r, 200, "")
	delete(wantCreated, "client_secret")
	if got := r.json(t); !jsonEqual(got, wantCreated) || r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("GET client %v", got)
	}
	r = admin.do("GET", clientsPath, nil)
	want(t, r, 200, "")
	if list, _ := r.json(t)["clients"].([]any); len(list) != 1 || !jsonEqual(list[0].(map[string]any), wantCreated) {
		t.Errorf("list %s", r.body)
	}
	if bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte(`"client_secret":`)) {
		t.Errorf("the list shows the secret: %s", r.body)
	}

	// Refused input.
	for name, body := range map[string]any{
		"unknown field":        map[string]any{"name": "X", "redirect_uris": []string{oauthRedirect}, "secret_hash": "x"},
		"bad redirect URI":     map[string]any{"name": "X", "redirect_uris": []string{"http://evil.example/cb"}},
		"no name":              map[string]any{"redirect_uris": []string{oauthRedirect}},
		"jwks not an object":   map[string]any{"name": "X", "redirect_uris": []string{oauthRedirect}, "auth_method": "private_key_jwt", "jwks": []string{}},
		"jwks of a secret app": map[string]any{"name": "X", "redirect_uris": []string{oauthRedirect}, "jwks": json.RawMessage(rsaJWKS(testRSAKey(), "k"))},
	} {
		r := admin.do("POST", clientsPath, body)
		want(t, r, 400, "invalid_request")
		if field, _ := r.json(t)["error"].(map[string]any)["field"].(string); field == "" {
			t.Errorf("%s: no field in %s", name, r.body)
		}
	}

	// PATCH changes only what it names.
	e.clock.Advance(time.Minute)
	r = admin.do("PATCH", clientsPath+"/"+id, map[string]any{"name": "Notes 2", "post_logout_redirect_uris": []string{"https://app.example.com/bye"}})
	want(t, r, 200, "")
	wantCreated["name"], wantCreated["post_logout_redirect_uris"], wantCreated["updated_at"] = "Notes 2", []any{"https://app.example.com/bye"}, "2026-11-27T13:01:00Z"
	if got := r.json(t); !jsonEqual(got, wantCreated) {
		t.Errorf("PATCH name: %v\nwant %v", got, wantCreated)
	}
	want(t, admin.do("PATCH", clientsPath+"/"+id, map[string]any{"redirect_uris": []string{"ftp://x"}}), 400, "invalid_request")
	want(t, admin.do("PATCH", clientsPath+"/"+id, map[string]any{"id": "cli_other"}), 400, "invalid_request")

	// To private_key_jwt: the secret is dropped; back: a new one, once.
	r = admin.do("PATCH", clientsPath+"/"+id, map[string]any{"auth_method": "private_key_jwt", "jwks": json.RawMessage(rsaJWKS(testRSAKey(), "rsa-1"))})
	want(t, r, 200, "")
	if got := r.json(t); got["auth_method"] != "private_key_jwt" || got["client_secret"] != nil || !strings.Contains(string(r.body), `"jwks":{"keys":[{`) {
		t.Errorf("PATCH to private_key_jwt: %s", r.body)
	}
	wantOAuthError(t, e.post(tokenPath, basicAuth(id, secret), cc), 401, "invalid_client")
	wantTokens(t, e.post(tokenPath, jwtAuth(id, e.assertion(id, "RS256", signRS256(testRSAKey()))), cc))
	r = admin.do("PATCH", clientsPath+"/"+id, map[string]any{"auth_method": "client_secret_post"})
	want(t, r, 200, "")
	patched := r.json(t)
	second := str(patched, "client_secret")
	if !strings.HasPrefix(second, gatehouse.ClientSecretPrefix) || second == secret || patched["jwks"] != nil {
		t.Fatalf("PATCH to client_secret_post: %s", r.body)
	}
	wantTokens(t, e.post(tokenPath, postAuth(id, second), cc))

	// Rotation: the old secret stops at once.
	r = admin.do("POST", clientsPath+"/"+id+"/secret", nil)
	want(t, r, 200, "")
	third := str(r.json(t), "client_secret")
	if !strings.HasPrefix(third, gatehouse.ClientSecretPrefix) || third == second || len(r.json(t)) != 1 {
		t.Fatalf("rotation: %s", r.body)
	}
	wantOAuthError(t, e.post(tokenPath, postAuth(id, second), cc), 401, "invalid_client")
	wantTokens(t, e.post(tokenPath, postAuth(id, third), cc))

	// Cross-origin changes with the admin's cookie are refused, and change nothing.
	for _, hdr := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		want(t, admin.do("POST", clientsPath, spec, hdr...), 403, "cross_origin_request")
		want(t, admin.do("PATCH", clientsPath+"/"+id, map[string]any{"name": "Evil"}, hdr...), 403, "cross_origin_request")
		want(t, admin.do("POST", clientsPath+"/"+id+"/secret", nil, hdr...), 403, "cross_origin_request")
		want(t, admin.do("DELETE", clientsPath+"/"+id, nil, hdr...), 403, "cross_origin_request")
	}
	wantTokens(t, e.post(tokenPath, postAuth(id, third), cc))
	if cs, _ := e.auth.Clients(context.Background()); len(cs) != 1 || cs[0].Name != "Notes 2" {
		t.Fatalf("after cross-origin attempts: %v", cs)
	}

	// A first-party Bearer token of the admin works like the cookie.
	tok := admin.mint()
	r = e.client().do("GET", clientsPath, nil, bearer(tok)...)
	if want(t, r, 200, ""); !bytes.Contains(r.body, []byte(id)) {
		t.Errorf("list with a Bearer token: %s", r.body)
	}
	want(t, e.client().do("GET", clientsPath, nil, bearer(plain.mint())...), 403, "forbidden")

	// Secrets of secret-less clients cannot be rotated.
	pub, _ := e.registerClient(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone})
	want(t, admin.do("POST", clientsPath+"/"+pub.ID+"/secret", nil), 400, "invalid_request")

	// Deletion.
	for _, bad := range []string{"%00", "cli_%FF", "cli_NOSUCHCLIENTNOSUCHCLIENT", strings.Repeat("A", 500)} {
		want(t, admin.do("GET", clientsPath+"/"+bad, nil), 404, "not_found")
		want(t, admin.do("PATCH", clientsPath+"/"+bad, map[string]any{"name": "X"}), 404, "not_found")
		want(t, admin.do("DELETE", clientsPath+"/"+bad, nil), 404, "not_found")
	}
	r = admin.do("DELETE", clientsPath+"/"+id, nil)
	if want(t, r, 204, ""); len(r.body) != 0 {
		t.Errorf("DELETE body %q", r.body)
	}
	want(t, admin.do("GET", clientsPath+"/"+id, nil), 404, "not_found")
	want(t, admin.do("DELETE", clientsPath+"/"+id, nil), 404, "not_found")
	want(t, admin.do("POST", clientsPath+"/"+id+"/secret", nil), 404, "not_found")
	wantOAuthError(t, e.post(tokenPath, postAuth(id, third), cc), 401, "invalid_client")
}

// TestDiscoveryGolden pins the discovery document of a deployment at
// https://auth.example.com (testdata/openid-configuration.golden.json;
// go test -run TestDiscoveryGolden -update rewrites it) and its headers.
// The issuer and every URL come from the configuration: Host,
// X-Forwarded-Host, X-Forwarded-Proto and Forwarded headers, even from a
// trusted proxy, change nothing.
func TestDiscoveryGolden(t *testing.T) {
	auth := authtest.New(t, gatehouse.Config{PublicURL: "https://auth.example.com", EmailVerification: gatehouse.VerificationOptional,
		TrustedProxies: []string{"192.0.2.0/24"}})
	h := web.New(auth)
	serve := func(target string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", target, nil) // from 192.0.2.1, a trusted proxy
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		if len(hdr) > 1 && hdr[0] == "Host" {
			req.Host = hdr[1]
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	const path = "/auth/.well-known/openid-configuration"
	w := serve(path)
	if w.Code != 200 {
		t.Fatalf("discovery: %d %s", w.Code, w.Body)
	}
	for name, val := range map[string]string{
		"Content-Type":                 "application/json; charset=utf-8",
		"Cache-Control":                "public, max-age=600",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
		"Set-Cookie":                   "",
	} {
		if got := w.Header().Get(name); got != val {
			t.Errorf("%s %q, want %q", name, got, val)
		}
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, w.Body.Bytes(), "", "  "); err != nil {
		t.Fatalf("discovery is not JSON: %v: %s", err, w.Body)
	}
	got := buf.Bytes()
	golden := filepath.Join("testdata", "openid-configuration.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expected, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, expected) {
		t.Errorf("discovery differs from %s (run with -update if the change is intended):\n got: %s\nwant: %s", golden, got, expected)
	}

	spoofs := map[string][]string{
		"Host":              {"Host", "evil.example"},
		"X-Forwarded-Host":  {"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http", "X-Forwarded-For", "203.0.113.9"},
		"Forwarded":         {"Forwarded", `for=203.0.113.9;host=evil.example;proto=http`},
		"X-Forwarded-Proto": {"X-Forwarded-Proto", "http"},
		"X-Forwarded-Port":  {"X-Forwarded-Port", "8443", "X-Forwarded-Prefix", "/evil"},
	}
	for name, hdr := range spoofs {
		w := serve(path, hdr...)
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), serve(path).Body.Bytes()) {
			t.Errorf("%s: %d, document changed: %s", name, w.Code, w.Body)
		}
	}
	if w := serve("http://evil.example" + path); w.Code != 200 || !strings.Contains(w.Body.String(), `"issuer":"https://auth.example.com/auth"`) {
		t.Errorf("absolute-form request target: %d %s", w.Code, w.Body)
	}
}

// TestDiscoveryBasePath: the issuer is the public URL and the base path;
// every endpoint lies under it.
func TestDiscoveryBasePath(t *testing.T) {
	auth := authtest.New(t, gatehouse.Config{BasePath: "/id"})
	srv := httptest.NewServer(web.New(auth))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/id/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || res.StatusCode != 200 {
		t.Fatalf("discovery: %d %v", res.StatusCode, err)
	}
	const issuer = "http://localhost:8080/id"
	if doc["issuer"] != issuer || doc["token_endpoint"] != issuer+"/oauth2/token" || doc["jwks_uri"] != issuer+"/.well-known/jwks.json" {
		t.Fatalf("discovery %v", doc)
	}
	for k, v := range doc {
		if s, ok := v.(string); ok && strings.HasSuffix(k, "_endpoint") && !strings.HasPrefix(s, issuer+"/") {
			t.Errorf("%s = %q is not under the issuer", k, s)
		}
	}
}
