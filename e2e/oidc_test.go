package e2e_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse-auth/gatehouse"
)

// The OpenID Connect provider seen from outside: the real binary on a
// loopback port, registered clients from its own CLI, a relying party made
// of go-oidc and x/oauth2, and a "browser" that is an HTTP client with a
// cookie jar walking every 303 itself. Each test fails if a secret it saw
// (client secret, code, token, password) reached the binary's logs, which
// are at debug level.

// TestBinaryOIDCRelyingParty is an application signing its users in with
// the provider the way go-oidc's documentation shows: discovery, the code
// flow with PKCE, nonce and state, the ID token verified, userinfo, refresh,
// each way a client authenticates, and RP-initiated logout.
func TestBinaryOIDCRelyingParty(t *testing.T) {
	began := time.Now()
	o := startOIDC(t)
	defer func() { t.Logf("took %v", time.Since(began).Round(time.Millisecond)) }()
	if want := o.url + "/auth"; o.issuer != want || o.meta["issuer"] != want {
		t.Fatalf("issuer %v, want the public URL and base path %s", o.meta["issuer"], want)
	}
	ada := o.createUser("ada@example.com", "Ada Lovelace")
	const signedOut = "http://127.0.0.1:9/signed-out"
	web := o.register("Notes", "http://127.0.0.1:9/callback", "--post-logout-redirect-uri", signedOut)
	b := newUser(t, o.url)

	// The code flow exactly as x/oauth2 and go-oidc drive it.
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	authURL := web.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	l := o.walk(b, authURL, web.conf.RedirectURL, signInAndAllow(ada))
	if !slices.Equal(l.pages, []string{"sign-in", "consent"}) || l.redirect == nil {
		t.Fatalf("pages %v, redirect %v; last %d %s", l.pages, l.redirect, l.last.status, snippet(l.last.body))
	}
	if l.param("state") != state || l.param("iss") != o.issuer || l.param("code") == "" {
		t.Fatalf("redirect %s: want code, state %q and iss %q", l.redirect.Query(), state, o.issuer)
	}
	tok, err := web.exchange(l.param("code"), verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatalf("no refresh token for a client allowed refresh_token")
	}
	first := web.mustVerify(tok, nonce)
	sess, st := sessionOf(t, b)
	if st != http.StatusOK {
		t.Fatalf("GET /auth/api/session: %d", st)
	}
	c := first.claims
	if c.Sub != ada.id {
		t.Errorf("sub %q, want %q", c.Sub, ada.id)
	}
	if c.AuthTime != sess.AuthenticatedAt.Unix() {
		t.Errorf("auth_time %d, want the session's authenticated_at %v", c.AuthTime, sess.AuthenticatedAt)
	}
	if c.SID != sess.ID {
		t.Errorf("sid %q, want the session %q", c.SID, sess.ID)
	}
	if !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Errorf("amr %v, want [pwd]", c.AMR)
	}
	if c.ACR != gatehouse.ACR(1) {
		t.Errorf("acr %q, want %q", c.ACR, gatehouse.ACR(1))
	}
	if c.Email != ada.email || c.EmailVerified == nil || !*c.EmailVerified || c.Name != ada.name {
		t.Errorf("scope openid profile email: email %q verified %v name %q", c.Email, c.EmailVerified, c.Name)
	}
	at := o.accessClaims(tok.AccessToken)
	if at["sub"] != ada.id || at["client_id"] != web.id || at["sid"] != sess.ID || !strings.HasPrefix(fmt.Sprint(at["grant_id"]), "grt_") ||
		!reflect.DeepEqual(at["aud"], web.id) && !reflect.DeepEqual(at["aud"], []any{web.id}) {
		t.Errorf("access token claims %v", at)
	}

	// Userinfo as go-oidc calls it.
	ui, err := o.provider.UserInfo(o.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc struct {
		Name string `json:"name"`
	}
	ui.Claims(&uc)
	if ui.Subject != ada.id || ui.Email != ada.email || !ui.EmailVerified || uc.Name != ada.name {
		t.Errorf("userinfo: sub %q email %q verified %v name %q", ui.Subject, ui.Email, ui.EmailVerified, uc.Name)
	}

	// Refresh through the TokenSource once the access token expired: a new
	// refresh token, a new ID token for the same sign-in, without nonce.
	next, err := web.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Errorf("refresh did not rotate: new refresh token %v, new access token %v",
			next.RefreshToken != tok.RefreshToken, next.AccessToken != tok.AccessToken)
	}
	again := web.mustVerify(next, "")
	if again.claims.Sub != c.Sub || again.claims.AuthTime != c.AuthTime || again.claims.SID != c.SID {
		t.Errorf("refreshed ID token: sub %q auth_time %d sid %q, want %q %d %q", again.claims.Sub, again.claims.AuthTime, again.claims.SID, c.Sub, c.AuthTime, c.SID)
	}

	// A client_secret_post client: the secret in the body. Relying-party
	// libraries pick a secret method by default, so the same secret in
	// Basic works too.
	post := o.register("Post client", "http://127.0.0.1:9/post-callback", "--auth-method", "client_secret_post")
	r := post.request("openid email")
	code, l := r.code(b, allowOnly)
	if !slices.Equal(l.pages, []string{"consent"}) {
		t.Errorf("a signed-in user authorizing a new client saw %v, want [consent]", l.pages)
	}
	if ts := r.mustExchange(code); ts.claims.Sub != ada.id || ts.claims.Email != ada.email || ts.claims.Name != "" {
		t.Errorf("client_secret_post: sub %q email %q name %q (scope openid email)", ts.claims.Sub, ts.claims.Email, ts.claims.Name)
	}
	basic := *post
	basic.conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	r = post.request("openid")
	code, _ = r.code(b, allowOnly)
	if _, err := basic.exchange(code, r.verifier); err != nil {
		t.Errorf("a client_secret_post client presenting its secret in Basic: %v", err)
	}

	// A public client: no secret, a loopback redirect URI registered
	// without a port and used with whatever port the app got (RFC 8252
	// §7.3).
	native := o.register("Desktop app", "http://127.0.0.1/callback", "--public")
	native.conf.RedirectURL = fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	nt, _ := native.flow(b, "openid profile", allowOnly)
	if nt.claims.Sub != ada.id || nt.RefreshToken == "" {
		t.Errorf("public client: sub %q, refresh token %v", nt.claims.Sub, nt.RefreshToken != "")
	}
	nrot, err := native.refresh(nt.RefreshToken)
	if err != nil {
		t.Fatalf("public client refresh: %v", err)
	}
	wrongHost := native.request("openid")
	wrongHost.q.Set("redirect_uri", fmt.Sprintf("http://localhost:%d/callback", freePort(t)))
	if l := wrongHost.authorize(b, allowOnly); l.redirect != nil || l.last.status != http.StatusBadRequest {
		t.Errorf("a public client's loopback URI with localhost for 127.0.0.1: %d, redirect %v", l.last.status, l.redirect)
	}

	// client_credentials: a service acting for itself; sub is its id.
	svc := o.register("Reports service", "http://127.0.0.1:9/unused", "--grant", "client_credentials")
	cc := clientcredentials.Config{ClientID: svc.id, ClientSecret: svc.secret, TokenURL: svc.conf.Endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}
	stok, err := cc.Token(o.ctx)
	o.keepToken(stok)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if sc := o.accessClaims(stok.AccessToken); sc["sub"] != svc.id || sc["client_id"] != svc.id || sc["grant_id"] != nil || stok.RefreshToken != "" || stok.Extra("id_token") != nil {
		t.Errorf("client_credentials token: claims %v, refresh token %v, id_token %v", sc, stok.RefreshToken != "", stok.Extra("id_token") != nil)
	}
	if r := o.userinfo("get", stok.AccessToken); r.status != http.StatusForbidden || r.err() != "insufficient_scope" {
		t.Errorf("userinfo with a client_credentials token: %d %s, want 403 insufficient_scope", r.status, r.raw)
	}
	cc.Scopes = []string{"openid"}
	if _, err := cc.Token(o.ctx); oauthError(err) != "invalid_scope" {
		t.Errorf("client_credentials with scope openid: %v, want invalid_scope", err)
	}

	// RP-initiated logout with the ID token as hint: no confirmation page
	// (the hint names the signed-in user), straight back to the registered
	// URI with the state; the session and every grant made from it end.
	var endSession struct {
		URL string `json:"end_session_endpoint"`
	}
	o.provider.Claims(&endSession)
	logoutState := rand.Text()
	q := url.Values{"id_token_hint": {again.rawID}, "post_logout_redirect_uri": {signedOut}, "state": {logoutState}}
	lr := b.page(endSession.URL + "?" + q.Encode())
	if lr.status != http.StatusSeeOther {
		t.Fatalf("RP-initiated logout: %d, want 303 to %s: %s", lr.status, signedOut, snippet(lr.body))
	}
	if loc := mustURL(t, lr.header.Get("Location")); loc.Scheme+"://"+loc.Host+loc.Path != signedOut || loc.Query().Get("state") != logoutState {
		t.Errorf("logout went to %s, want %s?state=%s", loc, signedOut, logoutState)
	}
	if _, st := sessionOf(t, b); st != http.StatusUnauthorized {
		t.Errorf("GET /auth/api/session after logout: %d, want 401", st)
	}
	if _, err := web.refresh(next.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Errorf("refresh after logout: %v, want invalid_grant", err)
	}
	if r := o.userinfo("get", next.AccessToken); r.status != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d %s, want 401", r.status, r.raw)
	}
	if _, err := native.refresh(nrot.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Errorf("the public client's grant from the same session after logout: %v, want invalid_grant", err)
	}
}

// TestBinaryOIDCBasicOP replays the checks of the OpenID Foundation's
// Basic OP certification plan (oidcc-basic-certification-test-plan, plus
// its config and client_secret_post variants), one subtest per test
// module, against the binary. Subtests share the browser signed in by
// oidcc-server and run in order. Refresh tokens are strict here (no
// grace); oidcc-refresh-token starts a second binary for the grace window.
func TestBinaryOIDCBasicOP(t *testing.T) {
	began := time.Now()
	o := startOIDC(t, strictRefresh)
	defer func() { t.Logf("took %v", time.Since(began).Round(time.Millisecond)) }()
	ada := o.createUser("ada@example.com", "Ada Lovelace")
	const postLogout = "http://127.0.0.1:9/signed-out"
	rp := o.register("Basic RP", "http://127.0.0.1:9/cb", "--post-logout-redirect-uri", postLogout)
	post := o.register("Post RP", "http://127.0.0.1:9/cb-post", "--auth-method", "client_secret_post")
	b := newUser(t, o.url) // ada's browser, signed in by oidcc-server
	var last tokens        // the latest tokens of rp in b

	if !t.Run("oidcc-server", func(t *testing.T) {
		ts, l := rp.flow(b, "openid", signInAndAllow(ada))
		if !slices.Equal(l.pages, []string{"sign-in", "consent"}) {
			t.Errorf("pages %v, want sign-in then consent", l.pages)
		}
		if ts.claims.Sub != ada.id || ts.claims.AuthTime == 0 || ts.claims.SID == "" || ts.claims.ACR == "" {
			t.Errorf("claims %v", ts.all)
		}
		if ts.claims.Email != "" || ts.claims.Name != "" {
			t.Errorf("scope openid alone released email %q name %q", ts.claims.Email, ts.claims.Name)
		}
		last = ts
	}) {
		t.FailNow()
	}

	t.Run("oidcc-discovery-endpoint-verification", func(t *testing.T) {
		m := o.meta
		for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
			"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
			"scopes_supported", "claims_supported", "end_session_endpoint"} {
			if m[k] == nil {
				t.Errorf("discovery lacks %s", k)
			}
		}
		if m["issuer"] != o.issuer {
			t.Errorf("issuer %v, want %s (the URL discovery was fetched from)", m["issuer"], o.issuer)
		}
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint",
			"revocation_endpoint", "introspection_endpoint"} {
			if s, _ := m[k].(string); !strings.HasPrefix(s, o.issuer+"/") {
				t.Errorf("%s %q is not under the issuer", k, s)
			}
		}
		for k, want := range map[string][]any{"response_types_supported": {"code"}, "code_challenge_methods_supported": {"S256"},
			"response_modes_supported": {"query"}, "subject_types_supported": {"public"}} {
			if !reflect.DeepEqual(m[k], want) {
				t.Errorf("%s %v, want %v", k, m[k], want)
			}
		}
		if !contains(m["scopes_supported"], "openid") || !contains(m["id_token_signing_alg_values_supported"], "RS256") ||
			!contains(m["token_endpoint_auth_methods_supported"], "client_secret_basic") || contains(m["grant_types_supported"], "implicit") {
			t.Errorf("discovery: scopes %v, ID token algs %v, auth methods %v, grants %v", m["scopes_supported"],
				m["id_token_signing_alg_values_supported"], m["token_endpoint_auth_methods_supported"], m["grant_types_supported"])
		}
		for _, k := range []string{"request_parameter_supported", "request_uri_parameter_supported", "claims_parameter_supported"} {
			// request_uri_parameter_supported defaults to true when absent.
			if v, ok := m[k]; !ok || v != false {
				t.Errorf("%s = %v (present %v), want false", k, v, ok)
			}
		}
		if m["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("authorization_response_iss_parameter_supported %v, want true", m["authorization_response_iss_parameter_supported"])
		}
		keys := o.jwks()
		if len(keys.Keys) == 0 {
			t.Fatal("jwks_uri publishes no keys")
		}
		seen := map[string]bool{}
		for _, k := range keys.Keys {
			if k.KeyID == "" || k.Algorithm == "" || k.Use != "sig" || !k.IsPublic() || seen[k.KeyID] {
				t.Errorf("JWKS key kid %q alg %q use %q public %v (kid seen before %v)", k.KeyID, k.Algorithm, k.Use, k.IsPublic(), seen[k.KeyID])
			}
			seen[k.KeyID] = true
		}
		checkDiscoveryGolden(t, o)
	})

	t.Run("oidcc-idtoken-rs256", func(t *testing.T) {
		h := jwtHeader(t, last.rawID)
		if h["alg"] != "RS256" || h["typ"] != "JWT" {
			t.Errorf("ID token header %v, want alg RS256 typ JWT", h)
		}
		set := o.jwks()
		ks := set.Key(fmt.Sprint(h["kid"]))
		if len(ks) != 1 || ks[0].Algorithm != "RS256" || ks[0].Use != "sig" {
			t.Errorf("the ID token's kid %v names %d keys (%+v)", h["kid"], len(ks), ks)
		}
	})

	t.Run("oidcc-idtoken-unsigned", func(t *testing.T) {
		// No client can be given unsigned ID tokens: none is not offered.
		if contains(o.meta["id_token_signing_alg_values_supported"], "none") {
			t.Errorf("id_token_signing_alg_values_supported offers none: %v", o.meta["id_token_signing_alg_values_supported"])
		}
		// A forged unsigned ID token is no id_token_hint: the logout page
		// refuses it and redirects nowhere, and the user stays signed in.
		_, payload, _ := strings.Cut(last.rawID, ".")
		payload, _, _ = strings.Cut(payload, ".")
		header := fmt.Sprintf(`{"alg":"none","typ":"JWT","kid":%q}`, jwtHeader(t, last.rawID)["kid"])
		forged := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + payload + "."
		if _, err := rp.verifier.Verify(o.ctx, forged); err == nil {
			t.Errorf("go-oidc accepted an unsigned ID token")
		}
		q := url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {postLogout}, "state": {"s"}}
		r := b.page(o.meta["end_session_endpoint"].(string) + "?" + q.Encode())
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
			t.Errorf("logout with an alg=none id_token_hint: %d, Location %q, Content-Type %q", r.status, r.header.Get("Location"), r.header.Get("Content-Type"))
		}
		if _, st := sessionOf(t, b); st != http.StatusOK {
			t.Fatalf("a refused logout request signed the user out: session %d", st)
		}
		// A genuine hint with an unregistered post_logout_redirect_uri is
		// refused the same way.
		q = url.Values{"id_token_hint": {last.rawID}, "post_logout_redirect_uri": {"https://evil.example/"}}
		if r := b.page(o.meta["end_session_endpoint"].(string) + "?" + q.Encode()); r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("logout to an unregistered post_logout_redirect_uri: %d, Location %q", r.status, r.header.Get("Location"))
		}
		if _, st := sessionOf(t, b); st != http.StatusOK {
			t.Fatalf("a refused logout request signed the user out: session %d", st)
		}
	})

	for _, how := range []string{"get", "post-header"} {
		t.Run("oidcc-userinfo-"+how, func(t *testing.T) {
			r := o.userinfo(strings.TrimSuffix(how, "-header"), last.AccessToken)
			if r.status != http.StatusOK || r.body["sub"] != ada.id || !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
				t.Errorf("userinfo: %d %s (Cache-Control %q)", r.status, r.raw, r.header.Get("Cache-Control"))
			}
		})
	}
	t.Run("oidcc-userinfo-post-body", func(t *testing.T) {
		// RFC 6750 §2.2 allows the token in the body; Gatehouse does not.
		r := o.userinfo("body", last.AccessToken)
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("userinfo with the token in the body: %d (WWW-Authenticate %q) %s, want 401", r.status, r.header.Get("WWW-Authenticate"), r.raw)
		}
	})

	t.Run("oidcc-ensure-request-without-nonce-succeeds-for-code-flow", func(t *testing.T) {
		r := rp.request("openid")
		r.q.Del("nonce")
		code, _ := r.code(b, allowOnly)
		if ts := r.mustExchange(code); ts.all["nonce"] != nil {
			t.Errorf("nonce %v", ts.all["nonce"])
		}
	})

	scopeCase := func(scope string, email, name bool) func(t *testing.T) {
		return func(t *testing.T) {
			ts, _ := rp.flow(b, scope, allowOnly)
			ui := o.userinfo("get", ts.AccessToken)
			if ui.status != http.StatusOK {
				t.Fatalf("userinfo: %d %s", ui.status, ui.raw)
			}
			for _, c := range []struct {
				where string
				m     map[string]any
			}{{"ID token", ts.all}, {"userinfo", ui.body}} {
				if gotEmail := c.m["email"] == ada.email && c.m["email_verified"] == true; gotEmail != email {
					t.Errorf("%s for scope %q: email %v verified %v, want released %v", c.where, scope, c.m["email"], c.m["email_verified"], email)
				}
				if gotName := c.m["name"] == ada.name && c.m["updated_at"] != nil; gotName != name {
					t.Errorf("%s for scope %q: name %v updated_at %v, want released %v", c.where, scope, c.m["name"], c.m["updated_at"], name)
				}
				if !email && (c.m["email"] != nil || c.m["email_verified"] != nil) || !name && c.m["name"] != nil {
					t.Errorf("%s for scope %q releases more than asked: %v", c.where, scope, c.m)
				}
			}
		}
	}
	t.Run("oidcc-scope-profile", scopeCase("openid profile", false, true))
	t.Run("oidcc-scope-email", scopeCase("openid email", true, false))
	t.Run("oidcc-scope-all", func(t *testing.T) {
		var all []string
		for _, s := range o.meta["scopes_supported"].([]any) {
			all = append(all, s.(string))
		}
		scopeCase(strings.Join(all, " "), true, true)(t)
	})
	for _, s := range []string{"address", "phone"} {
		t.Run("oidcc-scope-"+s, func(t *testing.T) {
			// Not offered (no such claims are held): the request is
			// granted without it, as OpenID Connect Core §5.4 asks.
			if contains(o.meta["scopes_supported"], s) {
				t.Fatalf("scopes_supported offers %s: test it", s)
			}
			r := rp.request("openid " + s)
			code, _ := r.code(b, allowOnly)
			if ts := r.mustExchange(code); ts.Extra("scope") != "openid" {
				t.Errorf("scope %s: granted %v, want openid alone", s, ts.Extra("scope"))
			}
		})
	}
	t.Run("oidcc-ensure-other-scope-order-succeeds", scopeCase("email openid", true, false))

	// Parameters the provider does not act on must not break a request.
	for _, c := range []struct {
		name  string
		extra url.Values
	}{
		{"oidcc-ensure-request-with-unknown-parameter-succeeds", url.Values{"extra": {"foobar"}}},
		{"oidcc-display-page", url.Values{"display": {"page"}}},
		{"oidcc-display-popup", url.Values{"display": {"popup"}}},
		{"oidcc-ui-locales", url.Values{"ui_locales": {"se"}}},
		{"oidcc-claims-locales", url.Values{"claims_locales": {"se"}}},
		{"oidcc-ensure-request-with-acr-values-succeeds", url.Values{"acr_values": {"1 2"}}},
		{"oidcc-claims-essential", url.Values{"claims": {`{"userinfo":{"name":{"essential":true}}}`}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rp.request("openid")
			for k, v := range c.extra {
				r.q[k] = v
			}
			code, l := r.code(b, allowOnly)
			if len(l.pages) != 0 {
				t.Errorf("a signed-in user who consented saw %v", l.pages)
			}
			if ts := r.mustExchange(code); ts.claims.ACR == "" {
				t.Errorf("no acr: %v", ts.all)
			}
		})
	}

	t.Run("oidcc-login-hint", func(t *testing.T) {
		fresh := newUser(t, o.url)
		r := rp.request("openid")
		r.q.Set("login_hint", ada.email)
		code, l := r.code(fresh, signInAndAllow(ada))
		if len(l.pages) == 0 || l.pages[0] != "sign-in" {
			t.Fatalf("pages %v", l.pages)
		}
		if f, ok := o.findForm(o.url+"/auth/sign-in", parseForms(l.signInAt), "/auth/sign-in"); !ok || f.values.Get("email") != ada.email {
			t.Errorf("the sign-in page did not fill in login_hint (email field %q)", f.values.Get("email"))
		}
		r.mustExchange(code)
	})

	t.Run("oidcc-prompt-none-not-logged-in", func(t *testing.T) {
		r := rp.request("openid")
		r.q.Set("prompt", "none")
		l := r.authorize(newUser(t, o.url), walkOpts{})
		if len(l.pages) != 0 || l.param("error") != "login_required" || l.param("state") != r.state || l.param("iss") != o.issuer {
			t.Errorf("prompt=none signed out: pages %v, redirect %v, last %d", l.pages, l.redirect, l.last.status)
		}
	})

	t.Run("oidcc-prompt-none-logged-in", func(t *testing.T) {
		r := rp.request("openid")
		r.q.Set("prompt", "none")
		code, l := r.code(b, walkOpts{})
		if len(l.pages) != 0 {
			t.Errorf("prompt=none showed %v", l.pages)
		}
		last = r.mustExchange(code)
	})

	t.Run("oidcc-prompt-login", func(t *testing.T) {
		before := last.claims.AuthTime
		waitSince(time.Unix(before, 0), 1100*time.Millisecond) // auth_time counts seconds
		r := rp.request("openid")
		r.q.Set("prompt", "login")
		code, l := r.code(b, signInAndAllow(ada))
		if len(l.pages) == 0 || l.pages[0] != "sign-in" {
			t.Fatalf("prompt=login for a signed-in user: pages %v, want a sign-in", l.pages)
		}
		last = r.mustExchange(code)
		if last.claims.AuthTime <= before {
			t.Errorf("auth_time %d after prompt=login, want later than %d", last.claims.AuthTime, before)
		}
	})

	t.Run("oidcc-max-age-1", func(t *testing.T) {
		before := last.claims.AuthTime
		waitSince(time.Unix(before, 0), 2100*time.Millisecond)
		r := rp.request("openid")
		r.q.Set("max_age", "1")
		code, l := r.code(b, signInAndAllow(ada))
		if len(l.pages) == 0 || l.pages[0] != "sign-in" {
			t.Fatalf("max_age=1 two seconds after signing in: pages %v, want a sign-in", l.pages)
		}
		last = r.mustExchange(code)
		if last.claims.AuthTime <= before {
			t.Errorf("auth_time %d, want later than %d", last.claims.AuthTime, before)
		}
	})

	t.Run("oidcc-max-age-10000", func(t *testing.T) {
		r := rp.request("openid")
		r.q.Set("max_age", "10000")
		code, l := r.code(b, allowOnly)
		if len(l.pages) != 0 {
			t.Errorf("max_age=10000 showed %v", l.pages)
		}
		if ts := r.mustExchange(code); ts.claims.AuthTime != last.claims.AuthTime {
			t.Errorf("auth_time %d, want the sign-in's %d", ts.claims.AuthTime, last.claims.AuthTime)
		}
	})

	t.Run("oidcc-id-token-hint", func(t *testing.T) {
		r := rp.request("openid")
		r.q.Set("prompt", "none")
		r.q.Set("id_token_hint", last.rawID)
		code, _ := r.code(b, walkOpts{})
		if ts := r.mustExchange(code); ts.claims.Sub != ada.id {
			t.Errorf("sub %q", ts.claims.Sub)
		}
	})

	// login_after is how Gatehouse marks the request it sends back from
	// the sign-in page (SignInContinuation); it must not let a request
	// that arrives with it skip the sign-in that prompt=login or max_age
	// demands. The browser's user can add it to any authorization URL.
	t.Run("login_after-from-the-request", func(t *testing.T) {
		for _, c := range []struct{ name, param, value string }{
			{"prompt-login", "prompt", "login"},
			{"max-age-0", "max_age", "0"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := rp.request("openid")
				r.q.Set(c.param, c.value)
				r.q.Set("login_after", "1")
				if l := r.authorize(b, walkOpts{}); !slices.Equal(l.pages, []string{"sign-in"}) {
					t.Errorf("%s=%s&login_after=1 for a browser signed in at %d: pages %v, code issued %v; want the sign-in page",
						c.param, c.value, last.claims.AuthTime, l.pages, l.param("code") != "")
				}
			})
		}
	})

	t.Run("oidcc-codereuse", func(t *testing.T) {
		r := rp.request("openid")
		code, _ := r.code(b, allowOnly)
		first := r.mustExchange(code)
		if _, err := rp.exchange(code, r.verifier); oauthError(err) != "invalid_grant" {
			t.Fatalf("second redemption: %v, want invalid_grant", err)
		}
		if _, err := rp.refresh(first.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("the first redemption's refresh token after the reuse: %v, want invalid_grant", err)
		}
		if ui := o.userinfo("get", first.AccessToken); ui.status != http.StatusUnauthorized {
			t.Errorf("the first redemption's access token at userinfo after the reuse: %d, want 401", ui.status)
		}
	})

	t.Run("oidcc-codereuse-30seconds", func(t *testing.T) {
		// The plan waits 30 s before the reuse; this test does not (the
		// code's one-minute lifetime is the core's unit tests' business).
		// What the wait stands for — the client got on with its tokens —
		// is played instead: the grant has rotated before the code comes
		// back, and the reuse must still revoke all of it.
		r := rp.request("openid")
		code, _ := r.code(b, allowOnly)
		first := r.mustExchange(code)
		rotated, err := rp.refresh(first.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if _, err := rp.exchange(code, r.verifier); oauthError(err) != "invalid_grant" {
			t.Fatalf("reuse after a rotation: %v, want invalid_grant", err)
		}
		if _, err := rp.refresh(rotated.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("the rotated refresh token after the reuse: %v, want invalid_grant", err)
		}
		if ui := o.userinfo("get", rotated.AccessToken); ui.status != http.StatusUnauthorized {
			t.Errorf("the rotated access token at userinfo after the reuse: %d, want 401", ui.status)
		}
	})

	badRequestPage := func(t *testing.T, what string, l landing) {
		t.Helper()
		if l.redirect != nil || l.last.status != http.StatusBadRequest || l.last.header.Get("Location") != "" ||
			!strings.HasPrefix(l.last.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d (Location %q, Content-Type %q), redirect %v; want a 400 page", what, l.last.status,
				l.last.header.Get("Location"), l.last.header.Get("Content-Type"), l.redirect)
		}
	}
	t.Run("oidcc-ensure-registered-redirect-uri", func(t *testing.T) {
		r := rp.request("openid")
		r.q.Set("redirect_uri", "https://evil.example/cb")
		badRequestPage(t, "an unregistered redirect_uri", o.walk(b, r.url(), "https://evil.example/cb", allowOnly))
	})
	t.Run("oidcc-ensure-redirect-uri-in-authorization-request", func(t *testing.T) {
		r := rp.request("openid")
		r.q.Del("redirect_uri")
		badRequestPage(t, "no redirect_uri", o.walk(b, r.url(), rp.conf.RedirectURL, allowOnly))
	})

	errorCase := func(mod func(url.Values), want string) func(t *testing.T) {
		return func(t *testing.T) {
			r := rp.request("openid")
			mod(r.q)
			l := r.authorize(b, allowOnly)
			if len(l.pages) != 0 || l.param("error") != want || l.param("code") != "" || l.param("state") != r.state {
				t.Errorf("redirect %v (pages %v, last %d %s), want error=%s with the state", l.redirect, l.pages, l.last.status, snippet(l.last.body), want)
			}
		}
	}
	t.Run("oidcc-response-type-missing", errorCase(func(q url.Values) { q.Del("response_type") }, "invalid_request"))
	// Not in the Basic plan (it only sends code): the implicit and hybrid
	// plans' response types are refused.
	for _, rt := range []string{"token", "id_token", "code token", "code id_token", "id_token token", "code id_token token"} {
		t.Run("oidcc-response-type-"+strings.ReplaceAll(rt, " ", "-"), errorCase(func(q url.Values) { q.Set("response_type", rt) }, "unsupported_response_type"))
	}
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+rp.id+`","aud":"`+o.issuer+`","response_type":"code","client_id":"`+rp.id+`","redirect_uri":"https://evil.example/cb","scope":"openid"}`)) + "."
	t.Run("oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported", errorCase(func(q url.Values) { q.Set("request", unsigned) }, "request_not_supported"))
	t.Run("oidcc-ensure-request-object-with-redirect-uri", errorCase(func(q url.Values) { q.Set("request", unsigned) }, "request_not_supported"))
	t.Run("oidcc-request-uri-unsigned", errorCase(func(q url.Values) { q.Set("request_uri", "https://rp.example/request.jwt") }, "request_uri_not_supported"))

	t.Run("oidcc-server-client-secret-post", func(t *testing.T) {
		r := post.request("openid")
		code, _ := r.code(b, allowOnly)
		// A wrong secret in Basic: 401, and the code is not spent.
		basic := *post
		basic.method, basic.secret = "client_secret_basic", post.secret+"x"
		if res := basic.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {post.conf.RedirectURL}, "code_verifier": {r.verifier}}); res.status != http.StatusUnauthorized || res.err() != "invalid_client" {
			t.Errorf("client_secret_post client, wrong secret in Basic: %d %s, want 401 invalid_client", res.status, res.raw)
		}
		if ts := r.mustExchange(code); ts.claims.Sub != ada.id {
			t.Errorf("sub %q", ts.claims.Sub)
		}
	})

	t.Run("oidcc-refresh-token", func(t *testing.T) {
		t.Run("strict", func(t *testing.T) {
			ts, _ := rp.flow(b, "openid", allowOnly)
			r0 := ts.RefreshToken
			next, err := rp.refresh(r0)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if next.RefreshToken == r0 {
				t.Fatalf("the refresh token did not rotate")
			}
			if n := rp.mustVerify(next, ""); n.claims.Sub != ts.claims.Sub || n.claims.AuthTime != ts.claims.AuthTime || n.id.Issuer != o.issuer {
				t.Errorf("refreshed ID token: %v, first %v", n.all, ts.all)
			}
			// Another client cannot use it, and trying does not revoke it.
			if res := post.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.RefreshToken}}); res.err() != "invalid_grant" {
				t.Errorf("another client's refresh token: %d %s, want invalid_grant", res.status, res.raw)
			}
			// The retired token again, no grace: the whole family goes.
			if _, err := rp.refresh(r0); oauthError(err) != "invalid_grant" {
				t.Fatalf("reuse of a retired refresh token: %v, want invalid_grant", err)
			}
			if _, err := rp.refresh(next.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Errorf("the successor after the reuse: %v, want invalid_grant", err)
			}
			if ui := o.userinfo("get", next.AccessToken); ui.status != http.StatusUnauthorized {
				t.Errorf("the successor's access token after the reuse: %d, want 401", ui.status)
			}
			waitFor(t, "the reuse's warning in the logs", 5*time.Second, func() bool {
				return strings.Contains(o.logs(), "refresh token reused")
			})
		})
		t.Run("grace", func(t *testing.T) {
			// A second binary with the default grace (10 s): a retry of
			// the token just replaced gets the same successor.
			g := startOIDC(t)
			bo := g.createUser("bo@example.com", "Bo")
			grp := g.register("Grace RP", "http://127.0.0.1:9/cb")
			ts, _ := grp.flow(newUser(t, g.url), "openid", signInAndAllow(bo))
			r0 := ts.RefreshToken
			n1, err := grp.refresh(r0)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			retry, err := grp.refresh(r0)
			if err != nil {
				t.Fatalf("a retry within the grace window: %v", err)
			}
			if retry.RefreshToken != n1.RefreshToken {
				t.Errorf("the retry got another successor")
			}
			n2, err := grp.refresh(n1.RefreshToken)
			if err != nil {
				t.Fatalf("the successor after the retry: %v", err)
			}
			// r0 is two rotations old now: reuse, whatever the grace.
			if _, err := grp.refresh(r0); oauthError(err) != "invalid_grant" {
				t.Fatalf("a token two rotations old: %v, want invalid_grant", err)
			}
			if _, err := grp.refresh(n2.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Errorf("the family outlived the reuse: %v", err)
			}
		})
	})

	t.Run("pkce-required", func(t *testing.T) {
		r0verifier := oauth2.GenerateVerifier() // a plain challenge is the verifier itself
		for _, c := range []struct {
			name string
			mod  func(url.Values)
		}{
			{"no-code_challenge", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }},
			{"no-code_challenge_method", func(q url.Values) { q.Del("code_challenge_method") }},
			{"plain", func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", r0verifier) }},
		} {
			t.Run(c.name, errorCase(c.mod, "invalid_request"))
		}
		r := rp.request("openid")
		code, _ := r.code(b, allowOnly)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.conf.RedirectURL}}
		if res := rp.token(form); res.status != http.StatusBadRequest || res.err() != "invalid_request" {
			t.Errorf("exchange without code_verifier: %d %s, want 400 invalid_request", res.status, res.raw)
		}
		// A wrong verifier spends the code: the right one is too late.
		form.Set("code_verifier", oauth2.GenerateVerifier())
		if res := rp.token(form); res.err() != "invalid_grant" {
			t.Errorf("exchange with a wrong code_verifier: %d %s, want invalid_grant", res.status, res.raw)
		}
		if _, err := rp.exchange(code, r.verifier); oauthError(err) != "invalid_grant" {
			t.Errorf("the right verifier after a wrong one: %v, want invalid_grant", err)
		}
	})
	t.Run("oidcc-ensure-request-with-valid-pkce-succeeds", func(t *testing.T) {
		ts, _ := rp.flow(b, "openid", allowOnly)
		if ts.claims.Sub != ada.id {
			t.Errorf("sub %q", ts.claims.Sub)
		}
	})
}

// TestBinaryOIDCRedirectURIBypass tries the known ways around an exact
// redirect URI match. Each must end on a 400 page with no Location: the
// provider never sends a browser, let alone a code, to a URI that is not
// registered byte for byte, and never reflects it into its page.
func TestBinaryOIDCRedirectURIBypass(t *testing.T) {
	began := time.Now()
	o := startOIDC(t)
	defer func() { t.Logf("took %v", time.Since(began).Round(time.Millisecond)) }()
	const registered = "https://app.example.com/callback"
	c := o.register("App", registered)
	b := newUser(t, o.url)

	// The registered URI itself gets through (to the sign-in page), so the
	// refusals below are about the URI.
	r := c.request("openid")
	if l := r.authorize(b, walkOpts{}); !slices.Equal(l.pages, []string{"sign-in"}) {
		t.Fatalf("the registered redirect URI: pages %v, last %d %s", l.pages, l.last.status, snippet(l.last.body))
	}
	for _, attack := range []string{
		"HTTPS://APP.EXAMPLE.COM/callback",
		"https://app.example.com/Callback",
		"https://app.example.com/callback/",
		"https://app.example.com/callback/../admin",
		"https://app.example.com/%63allback",
		"https://app.example.com/callback%2F..%2Fadmin",
		"https://user@app.example.com/callback",
		"https://app.example.com.evil.example/callback",
		"https://evil.example/callback?x=https://app.example.com/callback",
		"https://app.example.com/callback#frag",
		"https://app.example.com:8443/callback",
		"https://app.example.com:443/callback",
		"http://app.example.com/callback",
		"https://app.example.com/callback?extra=1",
		"https://app.example.com/callback?",
		"https://app.example.com/callback%00",
		" https://app.example.com/callback",
		`https://app.example.com/callback"><script>alert(1)</script>`,
	} {
		r := c.request("openid")
		r.q.Set("redirect_uri", attack)
		res := b.page(r.url())
		if res.status != http.StatusBadRequest || res.header.Get("Location") != "" {
			t.Errorf("%q: %d, Location %q; want 400 and no Location", attack, res.status, res.header.Get("Location"))
			continue
		}
		if strings.Contains(res.body, attack) || strings.Contains(res.body, "<script>alert(1)") {
			t.Errorf("%q: the error page reflects the URI", attack)
		}
	}
	// Twice the parameter, the registered one among them.
	q := c.request("openid").q
	q["redirect_uri"] = []string{registered, "https://evil.example/callback"}
	if res := b.page(c.conf.Endpoint.AuthURL + "?" + q.Encode()); res.status != http.StatusBadRequest || res.header.Get("Location") != "" {
		t.Errorf("redirect_uri repeated: %d, Location %q", res.status, res.header.Get("Location"))
	}
	// The same through POST.
	q = c.request("openid").q
	q.Set("redirect_uri", "https://evil.example/callback")
	res := b.do("POST", c.conf.Endpoint.AuthURL, q.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html", "Origin", "https://evil.example")
	if res.header.Get("Location") != "" || res.status < 400 {
		t.Errorf("POST with an unregistered redirect_uri: %d, Location %q", res.status, res.header.Get("Location"))
	}
}

// strictRefresh turns the refresh-token grace window off: a retired token
// presented again revokes its family at once.
const strictRefresh = "GATEHOUSE_OAUTH_REFRESH_GRACE=0"

// goldenIssuer is the issuer of the web package's discovery golden file.
const goldenIssuer = "https://auth.example.com/auth"

// checkDiscoveryGolden compares the binary's discovery document, byte for
// byte once indented, with the web package's golden file
// (web/testdata/openid-configuration.golden.json, TestDiscoveryGolden) with
// the binary's issuer in place of goldenIssuer: the binary serves what the
// handler's tests pin, whatever the wiring in cmd/ adds.
func checkDiscoveryGolden(t *testing.T, o *oidcOP) {
	t.Helper()
	path := filepath.Join("..", "web", "testdata", "openid-configuration.golden.json")
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the discovery golden file: %v", err)
	}
	want := bytes.ReplaceAll(golden, []byte(goldenIssuer), []byte(o.issuer))
	res, err := rpHTTP.Get(o.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("discovery: Content-Type %q, Set-Cookie %q", ct, res.Header.Get("Set-Cookie"))
	}
	var got bytes.Buffer
	if err := json.Indent(&got, body, "", "  "); err != nil {
		t.Fatalf("discovery is not JSON: %v: %s", err, body)
	}
	if !bytes.Equal(bytes.TrimSpace(got.Bytes()), bytes.TrimSpace(want)) {
		t.Errorf("the binary's discovery differs from %s (issuer %s for %s):\n got: %s\nwant: %s", path, o.issuer, goldenIssuer, got.Bytes(), want)
	}
}

// contains reports whether a JSON array holds s.
func contains(list any, s string) bool {
	l, _ := list.([]any)
	return slices.Contains(l, any(s))
}
