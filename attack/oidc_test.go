package attack_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Attacks on the OpenID Connect provider, beyond what e2e/oidc_test.go
// covers (the happy paths, the OpenID Foundation Basic OP checks and the
// redirect-URI bypass list): a client redeeming another's code, PKCE
// downgrades, races on codes and refresh tokens, stolen refresh tokens,
// forged client authentication, tokens used where another kind belongs,
// mix-up, open redirects and CSRF through logout and consent, reflected
// markup, hostile input, enumeration, and secrets at rest and in logs.

// TestOIDCCodeInjection: a code issued to one client is redeemed by
// another client with valid credentials (RFC 9700 §4.5, code injection).
// It is refused, the code is burnt for its own client too, and no grant
// exists afterwards.
//
// ASVS 5.0: V10.4.2 (a code is used once, a second use revokes), V10.4.6
// (PKCE binds the code), V10.4.10 (the client is authenticated).
func TestOIDCCodeInjection(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	victim := p.register(t, "Victim app", "https://victim.example/cb")
	confidential := p.register(t, "Attacker app", "https://attacker.example/cb")
	public := p.register(t, "Attacker native app", "http://127.0.0.1/cb", "--public")
	twoURIs := p.register(t, "Victim app with two URIs", "https://victim.example/cb", "--redirect-uri", "https://victim.example/other")
	b := p.browser("injection@example.com")
	grants := func(t *testing.T) int {
		t.Helper()
		return p.count(t, `SELECT count(*) FROM oauth_families WHERE client_id IN (?, ?, ?, ?)`, victim.id, confidential.id, public.id, twoURIs.id)
	}

	for _, c := range []struct {
		name     string
		attacker *rp
		redirect func() string // the redirect_uri the attacker sends
	}{
		{"confidential client, its own redirect URI", confidential, func() string { return confidential.redirect }},
		{"confidential client, the victim's redirect URI", confidential, func() string { return victim.redirect }},
		{"public client, its own redirect URI", public, func() string { return public.redirect }},
		{"public client, the victim's redirect URI", public, func() string { return victim.redirect }},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := victim.request("openid profile email offline_access")
			code := a.code(t, b)
			guess := newVerifier()
			r := c.attacker.token(url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {c.redirect()}, "code_verifier": {guess}})
			checkOAuthError(t, "the attacker's redemption", r, 400, "invalid_grant")
			// The victim, with the right verifier, comes too late: the
			// code is burnt, so an attacker cannot guess at leisure.
			checkOAuthError(t, "the victim's redemption after the attack", victim.exchange(a, code, a.verifier), 400, "invalid_grant")
			if n := grants(t); n != 0 {
				t.Errorf("%d grants exist after the refused redemptions, want 0", n)
			}
		})
	}

	// The attacker started the request itself (with the victim's client_id
	// and its own challenge) and caught the code: it holds the verifier,
	// so only the code's binding to its client stands in the way.
	for _, attacker := range []*rp{confidential, public} {
		t.Run(attacker.method+" client holding the verifier", func(t *testing.T) {
			a := victim.request("openid offline_access")
			code := a.code(t, b)
			checkOAuthError(t, "the attacker's redemption", attacker.exchange(a, code, a.verifier), 400, "invalid_grant")
			checkOAuthError(t, "the victim's redemption after the attack", victim.exchange(a, code, a.verifier), 400, "invalid_grant")
			if n := grants(t); n != 0 {
				t.Errorf("%d grants exist after the refused redemptions, want 0", n)
			}
		})
	}

	t.Run("the client's other redirect URI", func(t *testing.T) {
		a := twoURIs.request("openid")
		code := a.code(t, b)
		r := twoURIs.token(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {"https://victim.example/other"}, "code_verifier": {a.verifier}})
		checkOAuthError(t, "redeemed with the other registered redirect URI", r, 400, "invalid_grant")
		checkOAuthError(t, "redeemed with the right one afterwards", twoURIs.exchange(a, code, a.verifier), 400, "invalid_grant")
	})

	t.Run("control: the victim redeems its own code", func(t *testing.T) {
		ts := victim.flow(t, b, "openid offline_access")
		if r := p.userinfo(ts.Access); r.Status != 200 {
			t.Fatalf("userinfo: %d %s", r.Status, r.Body)
		}
		if n := grants(t); n != 1 {
			t.Errorf("%d grants after one redemption, want 1", n)
		}
	})
}

// TestOIDCPKCEDowngrade redeems codes with no verifier, the verifier of
// another challenge, the challenge itself, verifiers of the wrong length
// and alphabet: never tokens (RFC 7636 §4.1, §4.6).
//
// ASVS 5.0: V10.4.6 (PKCE required and its verifier checked).
func TestOIDCPKCEDowngrade(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	c := p.register(t, "PKCE app", "https://pkce.example/cb")
	b := p.browser("pkce@example.com")

	for _, tc := range []struct {
		name     string
		verifier func(a *authReq) (string, bool) // the verifier, and whether to send it
		want     string
	}{
		{"no code_verifier", func(*authReq) (string, bool) { return "", false }, "invalid_request"},
		{"an empty code_verifier", func(*authReq) (string, bool) { return "", true }, "invalid_request"},
		{"the verifier of another challenge", func(*authReq) (string, bool) { return newVerifier(), true }, "invalid_grant"},
		{"the challenge itself", func(a *authReq) (string, bool) { return a.q.Get("code_challenge"), true }, "invalid_grant"},
		{"42 characters of the verifier", func(a *authReq) (string, bool) { return a.verifier[:42], true }, "invalid_request"},
		{"129 characters, the verifier first", func(a *authReq) (string, bool) {
			return a.verifier + strings.Repeat("A", 129-len(a.verifier)), true
		}, "invalid_request"},
		{"43 characters outside the alphabet", func(a *authReq) (string, bool) {
			return strings.NewReplacer("-", "+", "_", "/").Replace(a.verifier[:42]) + "=", true
		}, "invalid_request"},
		{"the verifier and a newline", func(a *authReq) (string, bool) { return a.verifier + "\n", true }, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.request("openid offline_access")
			code := a.code(t, b)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirect}}
			if v, send := tc.verifier(a); send {
				form.Set("code_verifier", v)
			}
			r := c.token(form)
			checkOAuthError(t, "the exchange", r, 400, tc.want)
			if tc.want == "invalid_grant" {
				// A wrong verifier spent the code.
				checkOAuthError(t, "the right verifier afterwards", c.exchange(a, code, a.verifier), 400, "invalid_grant")
			}
		})
	}

	t.Run("control: the right verifier", func(t *testing.T) {
		a := c.request("openid")
		p.tokens(t, "the exchange with the right verifier", c.exchange(a, a.code(t, b), a.verifier))
	})
}

// TestOIDCCodeReplayRace redeems one code 20 times at the same instant: at
// most one redemption gets tokens, and the replays revoke them — the
// winner's refresh token is refused and its access token no longer passes
// userinfo or introspection.
//
// ASVS 5.0: V10.4.2, V15.4.2 (check and use are one atomic operation).
func TestOIDCCodeReplayRace(t *testing.T) {
	forEachProviderBackend(t, nil, func(t *testing.T, p *provider) {
		c := p.register(t, "Race app", "https://race.example/cb")
		b := p.browser("code-race@example.com")
		a := c.request("openid offline_access")
		code := a.code(t, b)
		rs := formBurst(p.Server, 20, "/auth/oauth2/token", func(int) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirect}, "code_verifier": {a.verifier}}
		}, "Authorization", basicAuth(c.id, c.secret))
		for i, r := range rs {
			if r.Status != 200 {
				checkOAuthError(t, fmt.Sprintf("racer %d", i), r, 400, "invalid_grant")
			}
		}
		ws := winners(rs, 200)
		if len(ws) != 1 {
			t.Fatalf("%d of 20 concurrent redemptions got tokens (%v), want exactly 1", len(ws), statuses(rs))
		}
		ts := p.tokens(t, "the winner", rs[ws[0]])
		checkOAuthError(t, "the winner's refresh token after the replays", c.refresh(ts.Refresh), 400, "invalid_grant")
		checkOAuthError(t, "the winner's access token at userinfo after the replays", p.userinfo(ts.Access), 401, "invalid_token")
		if r := c.introspect(ts.Access); r.Status != 200 || strings.TrimSpace(r.Body) != `{"active":false}` {
			t.Errorf("introspection of the winner's access token: %d %s, want {\"active\":false}", r.Status, r.Body)
		}
	})
}

// TestOIDCRefreshRaceAndTheft: 20 simultaneous refreshes of one token (a
// client retrying, within the grace window) all get the same successor; a
// stolen refresh token is refused to another client without rotating the
// victim's; a retired token replayed after the grace window revokes the
// whole family.
//
// ASVS 5.0: V10.4.5 (refresh token rotation with reuse detection),
// V15.4.2, V10.4.10.
func TestOIDCRefreshRaceAndTheft(t *testing.T) {
	t.Run("race within the grace window", func(t *testing.T) {
		forEachProviderBackend(t, nil, func(t *testing.T, p *provider) {
			c := p.register(t, "Refresh race app", "https://refresh-race.example/cb")
			ts := c.flow(t, p.browser("refresh-race@example.com"), "openid offline_access")
			rs := formBurst(p.Server, 20, "/auth/oauth2/token", func(int) url.Values {
				return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ts.Refresh}}
			}, "Authorization", basicAuth(c.id, c.secret))
			successor := ""
			for i, r := range rs {
				if r.Status != 200 {
					t.Errorf("racer %d: %d %s, want 200 (a concurrent refresh within the grace window)", i, r.Status, r.Body)
					continue
				}
				got := p.tokens(t, fmt.Sprintf("racer %d", i), r)
				switch {
				case got.Refresh == "" || got.Refresh == ts.Refresh:
					t.Errorf("racer %d got refresh token %q, want a new one", i, got.Refresh)
				case successor == "":
					successor = got.Refresh
				case got.Refresh != successor:
					t.Errorf("racer %d got another successor than the first winner: two live refresh tokens in one family", i)
				}
			}
			if successor == "" {
				t.Fatalf("no racer succeeded: %v", statuses(rs))
			}
			next := p.tokens(t, "the successor after the race", c.refresh(successor))
			if r := p.userinfo(next.Access); r.Status != 200 {
				t.Errorf("userinfo after the race: %d %s", r.Status, r.Body)
			}
		})
	})

	t.Run("stolen refresh token", func(t *testing.T) {
		p := startProvider(t)
		victim := p.register(t, "Refresh victim", "https://refresh-victim.example/cb")
		thieves := []*rp{
			p.register(t, "Refresh thief", "https://refresh-thief.example/cb"),
			p.register(t, "Refresh thief (post)", "https://refresh-thief-post.example/cb", "--auth-method", "client_secret_post"),
			p.register(t, "Refresh thief (public)", "http://127.0.0.1/cb", "--public"),
		}
		ts := victim.flow(t, p.browser("refresh-theft@example.com"), "openid offline_access")
		for _, thief := range thieves {
			checkOAuthError(t, "the thief ("+thief.method+") refreshing the victim's token", thief.refresh(ts.Refresh), 400, "invalid_grant")
			// The victim's token is still the current one: nothing rotated.
			r := victim.introspect(ts.Refresh)
			if r.Status != 200 || r.JSON(t)["active"] != true {
				t.Fatalf("after the thief's attempt the victim's refresh token is %d %s, want active", r.Status, r.Body)
			}
		}
		next := p.tokens(t, "the victim's refresh after the thefts", victim.refresh(ts.Refresh))
		if next.Refresh == ts.Refresh {
			t.Fatalf("the refresh token did not rotate")
		}
		if r := victim.introspect(ts.Refresh); r.Status != 200 || r.JSON(t)["active"] != false {
			t.Errorf("the retired token introspects as %d %s, want inactive (the control: introspection tells current from retired)", r.Status, r.Body)
		}
	})

	t.Run("replay after the grace window", func(t *testing.T) {
		p := startProvider(t, "GATEHOUSE_OAUTH_REFRESH_GRACE=1s")
		c := p.register(t, "Grace app", "https://grace.example/cb")
		b := p.browser("refresh-grace@example.com")

		// The control: within the second, a retry gets the same successor.
		ts := c.flow(t, b, "openid offline_access")
		rotatedAt := time.Now()
		n1 := p.tokens(t, "refresh", c.refresh(ts.Refresh))
		retry := c.refresh(ts.Refresh)
		switch {
		case time.Since(rotatedAt) > 800*time.Millisecond:
			t.Logf("the machine is too slow for the control (%v between the rotation and the retry)", time.Since(rotatedAt))
		case p.tokens(t, "a retry within the grace window", retry).Refresh != n1.Refresh:
			t.Fatalf("the retry within the grace window got another successor")
		}

		ts = c.flow(t, b, "openid offline_access")
		n1 = p.tokens(t, "refresh", c.refresh(ts.Refresh))
		time.Sleep(1500 * time.Millisecond)
		checkOAuthError(t, "the retired token 1.5 s after its rotation", c.refresh(ts.Refresh), 400, "invalid_grant")
		checkOAuthError(t, "the current token after the replay", c.refresh(n1.Refresh), 400, "invalid_grant")
		checkOAuthError(t, "the current access token at userinfo after the replay", p.userinfo(n1.Access), 401, "invalid_token")
		if !p.logged("refresh token reused") {
			t.Errorf("the reuse was not logged")
		}
	})
}

// TestOIDCClientAuthentication attacks client authentication at the token
// endpoint, with a request that would otherwise get a token
// (client_credentials): guessed and mangled secrets, one client's secret
// under another's id, Basic credentials that smuggle a ':' into the id,
// and private_key_jwt assertions forged (HS256 keyed with the public key,
// alg none), misaddressed, replayed or too long-lived. Every one is 401
// invalid_client and carries no token.
//
// ASVS 5.0: V10.4.10 (the client is authenticated), V10.4.16 (assertions
// are replay-resistant), V9.1.2 (algorithm allowlist), V10.4.4 (grants per
// client).
func TestOIDCClientAuthentication(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	machine := []string{"--grant", "client_credentials", "--scope", "reports:read"}
	a := p.register(t, "Machine A", "", machine...)
	other := p.register(t, "Machine B", "", machine...)
	public := p.register(t, "Public app", "http://127.0.0.1/cb", "--public")
	key := newRSAClientKey(t, "client-key-1")
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, []byte(key.jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	signed := p.register(t, "Machine with a key", "", append(machine, "--auth-method", "private_key_jwt", "--jwks-file", jwksFile)...)
	admin := p.Admin("client-auth-admin@example.com")
	tokenURL := p.issuer + "/oauth2/token"
	grant := url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}
	send := func(form url.Values, header ...string) Reply {
		f := cloneForm(grant)
		for k, vs := range form {
			f[k] = vs
		}
		return p.Client().Do("POST", "/auth/oauth2/token", f, header...)
	}
	withBasic := func(id, secret string) Reply { return send(nil, "Authorization", basicAuth(id, secret)) }
	withPost := func(id, secret string) Reply {
		return send(url.Values{"client_id": {id}, "client_secret": {secret}})
	}
	refused := func(t *testing.T, what string, r Reply) {
		t.Helper()
		checkOAuthError(t, what, r, 401, "invalid_client")
	}

	t.Run("control: each client's own credentials", func(t *testing.T) {
		p.tokens(t, "Basic", withBasic(a.id, a.secret))
		p.tokens(t, "client_secret_post", withPost(a.id, a.secret))
		p.tokens(t, "private_key_jwt", send(assertionForm(key.signRS256(t, key.header("RS256"), assertionClaims(signed.id, p.issuer)))))
	})

	t.Run("brute-force-shaped wrong secrets", func(t *testing.T) {
		flipped := []byte(a.secret)
		flipped[len(flipped)-1] ^= 1
		guesses := []string{string(flipped), strings.ToUpper(a.secret), "ghcs_", a.secret[:len(a.secret)-1]}
		for len(guesses) < 10 {
			guesses = append(guesses, "ghcs_"+newVerifier()) // 32 random bytes, base64url: a secret's shape
		}
		first := withBasic(a.id, guesses[0])
		for i, g := range guesses {
			for _, how := range []string{"Basic", "post"} {
				r, what := withBasic(a.id, g), fmt.Sprintf("guess %d in %s", i, how)
				if how == "post" {
					r = withPost(a.id, g)
				}
				refused(t, what, r)
				if how == "Basic" && r.Header.Get("WWW-Authenticate") != `Basic realm="gatehouse"` {
					t.Errorf("%s: WWW-Authenticate %q", what, r.Header.Get("WWW-Authenticate"))
				}
				if r.Body != first.Body {
					t.Errorf("%s: the body differs from the first guess's: %s vs %s", what, r.Body, first.Body)
				}
			}
		}
	})

	t.Run("a rotated-out secret", func(t *testing.T) {
		rotated := p.register(t, "Machine rotated", "", machine...)
		p.tokens(t, "before the rotation", withBasic(rotated.id, rotated.secret))
		out := p.CLI("", "clients", "rotate-secret", rotated.id)
		for _, f := range strings.Fields(out) {
			if strings.HasPrefix(f, "ghcs_") {
				p.keep("rotated client secret", f)
				p.tokens(t, "the new secret", withBasic(rotated.id, f))
			}
		}
		refused(t, "the old secret in Basic", withBasic(rotated.id, rotated.secret))
		refused(t, "the old secret in the form", withPost(rotated.id, rotated.secret))
	})

	t.Run("one client's secret under another's id", func(t *testing.T) {
		refused(t, "Basic", withBasic(other.id, a.secret))
		refused(t, "post", withPost(other.id, a.secret))
		refused(t, "the public client's id", withPost(public.id, a.secret))
		refused(t, "the private_key_jwt client's id", withPost(signed.id, a.secret))
	})

	t.Run("empty, padded and newline-terminated secrets", func(t *testing.T) {
		for _, s := range []string{"", " ", a.secret + "\n", a.secret + "\r\n", "\n" + a.secret, " " + a.secret, a.secret + " ", a.secret + "\t"} {
			refused(t, fmt.Sprintf("Basic with %q", s), withBasic(a.id, s))
			refused(t, fmt.Sprintf("post with %q", s), withPost(a.id, s))
		}
		refused(t, "Basic with the secret and a NUL", withBasic(a.id, a.secret+"\x00"))
		checkOAuthError(t, "post with the secret and a NUL", withPost(a.id, a.secret+"\x00"), 400, "invalid_request")
		refused(t, "no credentials at all", send(url.Values{"client_id": {a.id}}))
		raw := func(s string) Reply {
			return send(nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s)))
		}
		refused(t, "Basic with the id only", raw(a.id))
		refused(t, "Basic with the id and a colon", raw(a.id+":"))
	})

	t.Run("a colon in the Basic client id", func(t *testing.T) {
		raw := func(s string) Reply {
			return send(nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s)))
		}
		refused(t, "id:junk:secret, not encoded", raw(a.id+":junk:"+a.secret))
		refused(t, "id%3Ajunk:secret, encoded", raw(url.QueryEscape(a.id+":junk")+":"+url.QueryEscape(a.secret)))
		refused(t, "id:secret:junk", raw(a.id+":"+a.secret+":junk"))
		refused(t, "other:id:secret", raw(other.id+":"+a.id+":"+a.secret))
		refused(t, "id%3Asecret, the separator encoded", raw(url.QueryEscape(a.id+":"+a.secret)))
	})

	t.Run("private_key_jwt forgeries", func(t *testing.T) {
		claims := func() map[string]any { return assertionClaims(signed.id, p.issuer) }
		pub := &key.key.PublicKey
		der, _ := x509.MarshalPKIXPublicKey(pub)
		hmacKeys := map[string][]byte{
			"the registered JWKS":    []byte(key.jwks),
			"the modulus":            pub.N.Bytes(),
			"the SPKI DER":           der,
			"the SPKI PEM":           pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
			"the PKCS #1 DER":        x509.MarshalPKCS1PublicKey(pub),
			"the PKCS #1 PEM":        pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}),
			"the JWKS's modulus (n)": []byte(base64.RawURLEncoding.EncodeToString(pub.N.Bytes())),
		}
		for name, k := range hmacKeys {
			for _, alg := range []string{"HS256", "HS384", "HS512"} {
				refused(t, alg+" keyed with "+name, send(assertionForm(signHMAC(alg, k, key.header(alg), claims()))))
			}
		}
		genuine := key.signRS256(t, key.header("RS256"), claims())
		segs := strings.Split(genuine, ".")
		for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
			unsigned := jwsPart(map[string]any{"alg": alg, "kid": key.kid, "typ": "JWT"}) + "." + jwsPart(claims())
			refused(t, "alg "+alg+", no signature", send(assertionForm(unsigned+".")))
			refused(t, "alg "+alg+", the genuine signature", send(assertionForm(unsigned+"."+segs[2])))
		}
		refused(t, "the genuine header and signature over other claims",
			send(assertionForm(segs[0]+"."+jwsPart(claims())+"."+segs[2])))
		intruder := newRSAClientKey(t, key.kid)
		refused(t, "another key with the registered kid", send(assertionForm(intruder.signRS256(t, key.header("RS256"), claims()))))
		refused(t, "the wrong client_assertion_type", send(url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:saml2-bearer"},
			"client_assertion": {key.signRS256(t, key.header("RS256"), claims())}}))
		refused(t, "the assertion under another client's id", send(url.Values{"client_id": {a.id}, "client_assertion_type": {clientAssertionType},
			"client_assertion": {key.signRS256(t, key.header("RS256"), claims())}}))
	})

	t.Run("private_key_jwt audience, lifetime and replay", func(t *testing.T) {
		with := func(mod func(c map[string]any)) Reply {
			c := assertionClaims(signed.id, p.issuer)
			mod(c)
			return send(assertionForm(key.signRS256(t, key.header("RS256"), c)))
		}
		refused(t, "aud the token endpoint", with(func(c map[string]any) { c["aud"] = tokenURL }))
		refused(t, "aud [issuer, token endpoint]", with(func(c map[string]any) { c["aud"] = []string{p.issuer, tokenURL} }))
		refused(t, "aud [token endpoint, issuer]", with(func(c map[string]any) { c["aud"] = []string{tokenURL, p.issuer} }))
		refused(t, "aud the issuer with a trailing slash", with(func(c map[string]any) { c["aud"] = p.issuer + "/" }))
		refused(t, "no aud", with(func(c map[string]any) { delete(c, "aud") }))
		refused(t, "exp an hour ahead", with(func(c map[string]any) { c["exp"] = time.Now().Add(time.Hour).Unix() }))
		refused(t, "exp 11 minutes ahead", with(func(c map[string]any) { c["exp"] = time.Now().Add(11 * time.Minute).Unix() }))
		refused(t, "exp a minute ago", with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))
		refused(t, "no exp", with(func(c map[string]any) { delete(c, "exp") }))
		refused(t, "nbf an hour ahead", with(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }))
		refused(t, "no jti", with(func(c map[string]any) { delete(c, "jti") }))
		refused(t, "iss another client", with(func(c map[string]any) { c["iss"] = a.id }))
		refused(t, "sub another client", with(func(c map[string]any) { c["sub"] = a.id }))

		once := key.signRS256(t, key.header("RS256"), assertionClaims(signed.id, p.issuer))
		p.tokens(t, "the assertion's first use", send(assertionForm(once)))
		refused(t, "the same assertion again", send(assertionForm(once)))
		_, c, _ := jwtSegments(t, once)
		refused(t, "a new assertion with a used jti", with(func(n map[string]any) { n["jti"] = c["jti"] }))
	})

	t.Run("public clients", func(t *testing.T) {
		refused(t, "a public client presenting a client_secret", withPost(public.id, "anything"))
		refused(t, "a public client presenting another client's secret", withPost(public.id, a.secret))
		refused(t, "a public client in Basic", withBasic(public.id, "anything"))
		refused(t, "a public client presenting an assertion", send(url.Values{"client_id": {public.id},
			"client_assertion_type": {clientAssertionType}, "client_assertion": {key.signRS256(t, key.header("RS256"), assertionClaims(public.id, p.issuer))}}))
		checkOAuthError(t, "client_credentials for a public client", send(url.Values{"client_id": {public.id}}), 400, "unauthorized_client")
		r := admin.Do("POST", "/auth/api/admin/clients", map[string]any{"name": "Public machine", "auth_method": "none",
			"grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read"}}, sameOriginHeaders(p.Server)...)
		if r.Status != 400 || r.Code() != "invalid_request" || !strings.Contains(r.Body, `"field":"grant_types"`) {
			t.Errorf("registering a public client with client_credentials: %d %s, want 400 on grant_types", r.Status, r.Body)
		}
		refused(t, "a secret client's id without its secret", send(url.Values{"client_id": {a.id}}))
		refused(t, "a private_key_jwt client's id without an assertion", send(url.Values{"client_id": {signed.id}}))
		refused(t, "a private_key_jwt client presenting a secret", withPost(signed.id, a.secret))
	})
}

// TestOIDCTokenConfusion presents each kind of token where another kind
// belongs: ID, refresh and first-party tokens at userinfo, OAuth access
// and ID tokens at Gatehouse's own API (an administrator's included),
// ID tokens of one client and access tokens as another's id_token_hint, a
// code as a refresh token and back, and a client_credentials token (whose
// subject is a client) at userinfo.
//
// ASVS 5.0: V10.3.1 (a token is accepted only where it is meant for),
// V9.2.2 (token type), V9.2.3 (audience), V10.1.1.
func TestOIDCTokenConfusion(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	app := p.register(t, "Confusion app", "https://confusion.example/cb", "--post-logout-redirect-uri", "https://confusion.example/bye")
	other := p.register(t, "Other confusion app", "https://other-confusion.example/cb", "--post-logout-redirect-uri", "https://other-confusion.example/bye")
	machine := p.register(t, "Confusion machine", "", "--grant", "client_credentials", "--scope", "reports:read")
	admin := p.Admin("confusion-admin@example.com")
	ts := app.flow(t, admin, "openid profile email offline_access")
	otherTS := other.flow(t, admin, "openid")
	firstParty := mintToken(t, p.Server, admin)
	p.keep("first-party access token", firstParty)
	cc := p.tokens(t, "client_credentials", machine.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}))

	t.Run("control: the access token at userinfo, the first-party token at the API", func(t *testing.T) {
		if r := p.userinfo(ts.Access); r.Status != 200 || !strings.Contains(r.Body, "confusion-admin@example.com") {
			t.Fatalf("userinfo with the access token: %d %s", r.Status, r.Body)
		}
		if r := bearerOnly(p.Server, "/auth/api/admin/clients", firstParty); r.Status != 200 {
			t.Fatalf("the admin API with the administrator's first-party token: %d %s", r.Status, r.Body)
		}
	})

	t.Run("userinfo", func(t *testing.T) {
		for what, tok := range map[string]string{"an ID token": ts.ID, "another client's ID token": otherTS.ID,
			"a refresh token": ts.Refresh, "a first-party access token": firstParty} {
			r := p.userinfo(tok)
			checkOAuthError(t, what, r, 401, "invalid_token")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
				t.Errorf("%s: WWW-Authenticate %q", what, r.Header.Get("WWW-Authenticate"))
			}
		}
		// A client_credentials token is genuine but stands for no user.
		r := p.userinfo(cc.Access)
		checkOAuthError(t, "a client_credentials token", r, 403, "insufficient_scope")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), `Bearer error="insufficient_scope"`) {
			t.Errorf("a client_credentials token: WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
		for _, leak := range []string{"sub", "email", machine.id, "usr_"} {
			if strings.Contains(r.Body, leak) {
				t.Errorf("a client_credentials token at userinfo: the answer holds %q: %s", leak, r.Body)
			}
		}
	})

	t.Run("Gatehouse's own API", func(t *testing.T) {
		for what, tok := range map[string]string{"an OAuth access token": ts.Access, "an ID token": ts.ID,
			"a client_credentials token": cc.Access, "a refresh token": ts.Refresh} {
			checkTokenRefused(t, what+" at /api/session", bearerOnly(p.Server, "/auth/api/session", tok))
			checkTokenRefused(t, "the administrator's "+what+" at /api/admin/clients", bearerOnly(p.Server, "/auth/api/admin/clients", tok))
		}
		r := p.Client().Do("POST", "/auth/api/token", nil, "Authorization", "Bearer "+ts.Access, "Origin", p.URL, "Sec-Fetch-Site", "same-origin")
		if r.Status != 401 {
			t.Errorf("minting a first-party token with an OAuth access token: %d %s", r.Status, r.Body)
		}
	})

	t.Run("id_token_hint", func(t *testing.T) {
		b := p.browser("hint-victim@example.com")
		logout := func(q url.Values) Reply { return page(b, "/auth/oauth2/logout?"+q.Encode()) }
		checkErrorPage(t, "another client's ID token with client_id", logout(url.Values{"id_token_hint": {otherTS.ID}, "client_id": {app.id},
			"post_logout_redirect_uri": {"https://confusion.example/bye"}}))
		checkErrorPage(t, "an access token as the hint", logout(url.Values{"id_token_hint": {ts.Access},
			"post_logout_redirect_uri": {"https://confusion.example/bye"}}))
		checkErrorPage(t, "a first-party access token as the hint", logout(url.Values{"id_token_hint": {firstParty}}))
		checkErrorPage(t, "a client_credentials token as the hint", logout(url.Values{"id_token_hint": {cc.Access}}))
		if !alive(t, b) {
			t.Fatal("a refused logout signed the browser out")
		}
		a := app.request("openid")
		a.q.Set("id_token_hint", ts.Access)
		loc := clientRedirect(t, page(b, a.path()), app.redirect)
		if loc.Query().Get("error") != "invalid_request" || loc.Query().Has("code") {
			t.Errorf("an access token as the authorization request's id_token_hint: %s, want error=invalid_request", loc)
		}
	})

	t.Run("codes and refresh tokens swapped", func(t *testing.T) {
		checkOAuthError(t, "a refresh token as a code", app.token(url.Values{"grant_type": {"authorization_code"},
			"code": {ts.Refresh}, "redirect_uri": {app.redirect}, "code_verifier": {newVerifier()}}), 400, "invalid_grant")
		a := app.request("openid offline_access")
		code := a.code(t, admin)
		checkOAuthError(t, "a code as a refresh token", app.refresh(code), 400, "invalid_grant")
		checkOAuthError(t, "an access token as a refresh token", app.refresh(ts.Access), 400, "")
		checkOAuthError(t, "an ID token as a code", app.token(url.Values{"grant_type": {"authorization_code"},
			"code": {ts.ID}, "redirect_uri": {app.redirect}, "code_verifier": {a.verifier}}), 400, "")
		p.tokens(t, "the code, redeemed as a code after the swaps", app.exchange(a, code, a.verifier))
	})

	t.Run("a first-party Bearer token is not a session that can authorize", func(t *testing.T) {
		a := app.request("openid profile email offline_access") // allowed before by this user: a session would get a code at once
		for what, tok := range map[string]string{"first-party token": firstParty, "OAuth access token": ts.Access} {
			r := p.Client().Do("GET", a.path(), nil, "Accept", "text/html", "Authorization", "Bearer "+tok)
			if loc := r.Header.Get("Location"); strings.Contains(loc, "code=") && !strings.HasPrefix(loc, "/auth/") {
				t.Errorf("authorize with a %s and no cookie: %d Location %q: a Bearer token authorized an app", what, r.Status, loc)
			}
			f := cloneForm(a.q)
			f.Set("decision", "allow")
			r = p.Client().Do("POST", consentPath, f, "Accept", "text/html", "Authorization", "Bearer "+tok)
			if loc := r.Header.Get("Location"); strings.Contains(loc, "code=") && !strings.HasPrefix(loc, "/auth/") {
				t.Errorf("consent with a %s and no cookie: %d Location %q: a Bearer token authorized an app", what, r.Status, loc)
			}
		}
		// The control: the administrator's cookie gets the code at once.
		p.keep("authorization code", clientRedirect(t, page(admin, a.path()), app.redirect).Query().Get("code"))
	})

	t.Run("scope escalation on refresh and client_credentials", func(t *testing.T) {
		narrow := app.flow(t, admin, "openid offline_access")
		checkOAuthError(t, "a refresh asking for more than was granted", app.token(url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {narrow.Refresh}, "scope": {"openid offline_access email"}}), 400, "invalid_scope")
		next := p.tokens(t, "the refresh token after the refused escalation", app.refresh(narrow.Refresh))
		if r := p.userinfo(next.Access); r.Status != 200 || strings.Contains(r.Body, "email") {
			t.Errorf("userinfo after the refused escalation: %d %s, want sub only", r.Status, r.Body)
		}
		for _, scope := range []string{"openid", "reports:read openid", "reports:write", "offline_access"} {
			checkOAuthError(t, "client_credentials for "+scope, machine.token(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}), 400, "invalid_scope")
		}
	})

	t.Run("another client's tokens at introspection", func(t *testing.T) {
		for what, tok := range map[string]string{"access token": ts.Access, "refresh token": ts.Refresh, "ID token": ts.ID} {
			if r := other.introspect(tok); r.Status != 200 || strings.TrimSpace(r.Body) != `{"active":false}` {
				t.Errorf("another client's %s: %d %s, want {\"active\":false}", what, r.Status, r.Body)
			}
		}
	})
}

// TestOIDCMixUpAndIssuer checks RFC 9207 on every kind of authorization
// response — the code and each error — and that spoofed Host,
// X-Forwarded-Host, X-Forwarded-Proto and Forwarded headers change no
// issuer, URL or iss, on a server that believes those headers' client IPs
// (a trusted proxy is configured).
//
// ASVS 5.0: V10.2.2 (iss lets a client detect mix-up), V10.5.3, V3.7.2,
// V14.2.1.
func TestOIDCMixUpAndIssuer(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32")
	disco := p.Client().Do("GET", "/auth/.well-known/openid-configuration", nil)
	if disco.Status != 200 {
		t.Fatalf("discovery: %d %s", disco.Status, disco.Body)
	}
	issuer, _ := disco.JSON(t)["issuer"].(string)
	if issuer != p.issuer {
		t.Fatalf("discovery announces the issuer %q, want %q", issuer, p.issuer)
	}
	app := p.register(t, "Mix-up app", "https://mixup.example/cb")
	fresh := p.register(t, "Mix-up app never allowed", "https://mixup-fresh.example/cb")
	b := p.browser("mixup@example.com")
	app.flow(t, b, "openid offline_access") // allowed once: later requests get their code without the consent page
	checkIss := func(t *testing.T, what string, loc *url.URL, wantError string) {
		t.Helper()
		q := loc.Query()
		if got := q["iss"]; len(got) != 1 || got[0] != issuer {
			t.Errorf("%s: iss %q in %s, want exactly [%s]", what, got, loc, issuer)
		}
		if q.Get("error") != wantError || wantError != "" && q.Has("code") || wantError == "" && q.Get("code") == "" {
			t.Errorf("%s: %s, want error=%q", what, loc, wantError)
		}
	}

	t.Run("iss on every authorization response", func(t *testing.T) {
		a := app.request("openid")
		code := clientRedirect(t, page(b, a.path()), app.redirect)
		checkIss(t, "the code", code, "")
		p.keep("authorization code", code.Query().Get("code"))

		a = fresh.request("openid")
		f := consent(t, page(b, a.path()))
		f.Set("decision", "deny")
		checkIss(t, "a denial", clientRedirect(t, p.submit(b, consentPath, f), fresh.redirect), "access_denied")

		for _, c := range []struct {
			name, want string
			client     *rp
			browser    *Client
			mod        func(q url.Values)
		}{
			{"prompt=none signed out", "login_required", app, p.Client(), func(q url.Values) { q.Set("prompt", "none") }},
			{"prompt=none without consent", "consent_required", fresh, b, func(q url.Values) { q.Set("prompt", "none") }},
			{"an unknown scope", "invalid_scope", app, b, func(q url.Values) { q.Set("scope", "openid admin") }},
			{"response_type=token", "unsupported_response_type", app, b, func(q url.Values) { q.Set("response_type", "token") }},
			{"no PKCE", "invalid_request", app, b, func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }},
			{"PKCE plain", "invalid_request", app, b, func(q url.Values) { q.Set("code_challenge_method", "plain") }},
			{"response_mode=fragment", "invalid_request", app, b, func(q url.Values) { q.Set("response_mode", "fragment") }},
			{"a request object", "request_not_supported", app, b, func(q url.Values) { q.Set("request", "e30.e30.") }},
			{"a request too long for the sign-in page", "invalid_request", app, p.Client(), func(q url.Values) {
				q.Set("login_hint", strings.Repeat("x", 3000))
			}},
		} {
			a := c.client.request("openid")
			c.mod(a.q)
			checkIss(t, c.name, clientRedirect(t, page(c.browser, a.path()), c.client.redirect), c.want)
		}
	})

	spoofs := [][]string{
		{"Host", "evil.example"},
		{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"},
		{"X-Forwarded-Proto", "https", "X-Forwarded-Port", "443", "X-Forwarded-Prefix", "/evil"},
		{"Forwarded", "for=203.0.113.9;host=evil.example;proto=https", "X-Forwarded-For", "203.0.113.9"},
		{"Host", "evil.example", "X-Forwarded-Host", "evil.example:8443", "X-Forwarded-Proto", "https", "X-Forwarded-For", "203.0.113.9",
			"Forwarded", "host=evil.example;proto=https", "X-Original-Host", "evil.example"},
	}
	for _, spoof := range spoofs {
		t.Run(fmt.Sprintf("spoofed %v", spoof), func(t *testing.T) {
			noEvil := func(what, s string) {
				t.Helper()
				if strings.Contains(s, "evil") || strings.Contains(s, "https://127.0.0.1") {
					t.Errorf("%s follows the spoofed headers: %.400s", what, s)
				}
			}
			if r := p.Client().Do("GET", "/auth/.well-known/openid-configuration", nil, spoof...); r.Status != 200 || r.Body != disco.Body {
				t.Errorf("discovery with the spoofed headers: %d %s, want the same document as without", r.Status, r.Body)
			}
			// The session cookie is sent by hand: Go's cookie jar keeps
			// cookies from a request whose Host is another host.
			a := app.request("openid offline_access")
			r := page(p.Client(), a.path(), append(b.cookieHeader(), spoof...)...)
			loc := clientRedirect(t, r, app.redirect)
			checkIss(t, "the code", loc, "")
			noEvil("the redirect to the client", r.Header.Get("Location"))
			code := loc.Query().Get("code")
			p.keep("authorization code", code)

			signedOut := page(p.Client(), app.request("openid").path(), spoof...)
			if signedOut.Status != 303 || !strings.HasPrefix(signedOut.Header.Get("Location"), "/auth/sign-in?") {
				t.Errorf("signed out: %d Location %q, want a 303 to /auth/sign-in", signedOut.Status, signedOut.Header.Get("Location"))
			}
			noEvil("the redirect to the sign-in page", signedOut.Header.Get("Location"))
			none := app.request("openid")
			none.q.Set("prompt", "none")
			checkIss(t, "login_required", clientRedirect(t, page(p.Client(), none.path(), spoof...), app.redirect), "login_required")

			tr := app.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {app.redirect}, "code_verifier": {a.verifier}}, spoof...)
			ts := p.tokens(t, "the exchange", tr)
			noEvil("the token response", tr.Body)
			for what, tok := range map[string]string{"ID token": ts.ID, "access token": ts.Access} {
				if _, _, claims := jwtSegments(t, tok); claims["iss"] != issuer {
					t.Errorf("the %s's iss is %v, want %s", what, claims["iss"], issuer)
				}
			}
			rt := app.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ts.Refresh}}, spoof...)
			if _, _, claims := jwtSegments(t, p.tokens(t, "the refresh", rt).Access); claims["iss"] != issuer {
				t.Errorf("the refreshed access token's iss is %v, want %s", claims["iss"], issuer)
			}
			if r := p.Client().Do("GET", "/auth/oauth2/userinfo", nil, append([]string{"Authorization", "Bearer " + ts.Access}, spoof...)...); r.Status != 200 {
				t.Errorf("userinfo with the spoofed headers: %d %s", r.Status, r.Body)
			} else {
				noEvil("userinfo", r.Body)
			}
		})
	}
}

// TestOIDCLogoutRedirectAndCSRF tries to turn RP-initiated logout into an
// open redirect — unregistered URIs, another client's, the registered one
// with a suffix, another client's id_token_hint — and to sign a user out
// from another site: a cross-site POST with confirm=1, and GETs without a
// hint.
//
// ASVS 5.0: V10.6.2 (forced logout needs the user's confirmation or an
// id_token_hint), V3.7.2 (no open redirect), V10.4.1, V3.5.1.
func TestOIDCLogoutRedirectAndCSRF(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	const afterA, afterB = "https://logout-a.example/after", "https://logout-b.example/after"
	a := p.register(t, "Logout app A", "https://logout-a.example/cb", "--post-logout-redirect-uri", afterA)
	bApp := p.register(t, "Logout app B", "https://logout-b.example/cb", "--post-logout-redirect-uri", afterB)
	b := p.browser("logout@example.com")
	tsA := a.flow(t, b, "openid")
	tsB := bApp.flow(t, b, "openid")
	logoutPath := func(q url.Values) string { return "/auth/oauth2/logout?" + q.Encode() }

	t.Run("open redirect", func(t *testing.T) {
		cases := map[string]url.Values{
			"an unregistered URI":                            {"client_id": {a.id}, "post_logout_redirect_uri": {"https://evil.example/"}},
			"a URI without client_id or hint":                {"post_logout_redirect_uri": {afterA}},
			"another client's URI":                           {"client_id": {a.id}, "post_logout_redirect_uri": {afterB}},
			"another client's URI with A's hint":             {"id_token_hint": {tsA.ID}, "post_logout_redirect_uri": {afterB}},
			"A's URI with B's hint":                          {"id_token_hint": {tsB.ID}, "post_logout_redirect_uri": {afterA}},
			"A's URI with B's hint and A's client_id":        {"id_token_hint": {tsB.ID}, "client_id": {a.id}, "post_logout_redirect_uri": {afterA}},
			"an unknown client_id":                           {"client_id": {"cli_AAAAAAAAAAAAAAAAAAAAAAAAAA"}, "post_logout_redirect_uri": {afterA}},
			"a hint that is not an ID token of this server":  {"id_token_hint": {"e30.e30.c2ln"}, "post_logout_redirect_uri": {afterA}},
			"the registered URI with another case":           {"client_id": {a.id}, "post_logout_redirect_uri": {strings.ToUpper(afterA)}},
			"the registered URI and a trailing slash":        {"client_id": {a.id}, "post_logout_redirect_uri": {afterA + "/"}},
			"the registered URI and a path":                  {"client_id": {a.id}, "post_logout_redirect_uri": {afterA + "/../../evil"}},
			"the registered URI and a query":                 {"client_id": {a.id}, "post_logout_redirect_uri": {afterA + "?next=https://evil.example/"}},
			"the registered URI and a fragment":              {"client_id": {a.id}, "post_logout_redirect_uri": {afterA + "#x"}},
			"the registered URI with userinfo":               {"client_id": {a.id}, "post_logout_redirect_uri": {"https://logout-a.example@evil.example/after"}},
			"the registered host as a subdomain":             {"client_id": {a.id}, "post_logout_redirect_uri": {"https://logout-a.example.evil.example/after"}},
			"the registered URI percent-encoded":             {"client_id": {a.id}, "post_logout_redirect_uri": {"https://logout-a.example/%61fter"}},
			"the registered URI with a port":                 {"client_id": {a.id}, "post_logout_redirect_uri": {"https://logout-a.example:443/after"}},
			"the registered URI over http":                   {"client_id": {a.id}, "post_logout_redirect_uri": {"http://logout-a.example/after"}},
			"the registered URI twice":                       {"client_id": {a.id}, "post_logout_redirect_uri": {afterA, "https://evil.example/"}},
			"the registered URI and a protocol-relative one": {"client_id": {a.id}, "post_logout_redirect_uri": {"//evil.example/"}},
		}
		for name, q := range cases {
			checkErrorPage(t, name+" (GET)", page(b, logoutPath(q)))
			checkErrorPage(t, name+" (same-origin POST)", p.submit(b, "/auth/oauth2/logout", withConfirm(q)))
			checkErrorPage(t, name+" (cross-site POST)", b.Do("POST", "/auth/oauth2/logout", withConfirm(q),
				"Accept", "text/html", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"))
		}
		if !alive(t, b) {
			t.Fatal("a refused logout request signed the browser out")
		}
	})

	t.Run("control: a valid hint signs out and returns to the registered URI", func(t *testing.T) {
		v := p.browser("logout-control@example.com")
		ts := a.flow(t, v, "openid")
		r := page(v, logoutPath(url.Values{"id_token_hint": {ts.ID}, "post_logout_redirect_uri": {afterA}, "state": {"s1"}}))
		if r.Status != 303 || r.Header.Get("Location") != afterA+"?state=s1" || alive(t, v) {
			t.Fatalf("logout with a valid hint: %d Location %q, signed in %v", r.Status, r.Header.Get("Location"), alive(t, v))
		}
	})

	t.Run("cross-site POST with confirm=1", func(t *testing.T) {
		for _, q := range []url.Values{{}, {"client_id": {a.id}, "post_logout_redirect_uri": {afterA}}, {"client_id": {a.id}}} {
			for _, hdr := range crossOriginHeaders(p.Server) {
				r := b.Do("POST", "/auth/oauth2/logout", withConfirm(q), append([]string{"Accept", "text/html"}, hdr...)...)
				loc := r.Header.Get("Location")
				if r.Status != 303 && r.Status != 403 || strings.Contains(loc, "confirm") || r.Status == 303 && !strings.HasPrefix(loc, "/auth/oauth2/logout") {
					t.Errorf("cross-site POST %v with %v: %d Location %q, want a refusal or the confirmation page's GET", q, hdr, r.Status, loc)
				}
				if len(setCookies(t, r, SessionCookie)) != 0 {
					t.Errorf("cross-site POST %v with %v touches the session cookie: %v", q, hdr, r.Header.Values("Set-Cookie"))
				}
				if !alive(t, b) {
					t.Fatalf("cross-site POST %v with %v signed the user out", q, hdr)
				}
				if r.Status == 303 {
					if next := page(b, loc); next.Status != 200 || !alive(t, b) {
						t.Fatalf("following the cross-site POST's redirect: %d, signed in %v", next.Status, alive(t, b))
					}
				}
			}
		}
	})

	t.Run("GET without a hint only asks", func(t *testing.T) {
		for _, q := range []url.Values{{}, {"confirm": {"1"}}, {"client_id": {a.id}, "post_logout_redirect_uri": {afterA}},
			{"client_id": {a.id}, "post_logout_redirect_uri": {afterA}, "confirm": {"1"}}} {
			for _, method := range []string{"GET", "HEAD"} {
				r := b.Do(method, logoutPath(q), nil, "Accept", "text/html", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
				if r.Status != 200 || r.Header.Get("Location") != "" || len(setCookies(t, r, SessionCookie)) != 0 {
					t.Errorf("%s %s: %d Location %q, want the confirmation page", method, logoutPath(q), r.Status, r.Header.Get("Location"))
				}
				if !alive(t, b) {
					t.Fatalf("%s %s signed the user out", method, logoutPath(q))
				}
			}
		}
		r := page(b, logoutPath(url.Values{"client_id": {a.id}}))
		var form *htmlForm
		for _, f := range pageForms(r.Body) {
			if strings.HasSuffix(f.action, "/oauth2/logout") {
				form = &f
			}
		}
		if form == nil || form.hidden.Get("confirm") != "1" {
			t.Fatalf("the confirmation page has no form posting confirm=1: %.1000s", r.Body)
		}
		// The control: the confirmation form itself does sign out.
		if r := p.submit(b, "/auth/oauth2/logout", form.hidden); r.Status != 303 || alive(t, b) {
			t.Fatalf("the confirmation form: %d, signed in %v", r.Status, alive(t, b))
		}
	})
}

// TestOIDCConsentCSRFAndFraming attacks the consent step: another site
// posts the consent form with the victim's cookie, the page is framed for
// clickjacking or cached, the form's hidden fields are tampered with, and
// it is posted by a signed-out browser. No code is issued and no consent
// recorded.
//
// ASVS 5.0: V10.7.1 (the user consents to each client), V3.5.1, V3.4.6
// (frame-ancestors), V14.3.2 (no caching of sensitive pages), V10.4.1.
func TestOIDCConsentCSRFAndFraming(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	app := p.register(t, "Consent app", "https://consent.example/cb")
	other := p.register(t, "Other consent app", "https://other-consent.example/cb")
	b := p.browser("consent@example.com")
	req := app.request("openid profile email")
	consentPage := page(b, req.path())
	fields := consent(t, consentPage)
	allow := func(mod func(f url.Values)) url.Values {
		f := cloneForm(fields)
		f.Set("decision", "allow")
		if mod != nil {
			mod(f)
		}
		return f
	}
	noCode := func(t *testing.T, what string, r Reply) {
		t.Helper()
		loc := r.Header.Get("Location")
		if u, err := url.Parse(loc); err != nil || u.Host != "" || u.Query().Has("code") {
			t.Errorf("%s: %d Location %q leaves the provider or carries a code", what, r.Status, loc)
		}
	}
	stillAsks := func(t *testing.T) {
		t.Helper()
		if r := page(b, req.path()); r.Status != 200 || len(pageForms(r.Body)) == 0 {
			t.Fatalf("the request no longer shows the consent page (%d Location %q): a consent was recorded", r.Status, r.Header.Get("Location"))
		}
	}

	t.Run("the page cannot be framed or cached", func(t *testing.T) {
		h := consentPage.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") && h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("the consent page can be framed: CSP %q, X-Frame-Options %q", h.Get("Content-Security-Policy"), h.Get("X-Frame-Options"))
		}
		if !strings.Contains(h.Get("Cache-Control"), "no-store") {
			t.Errorf("the consent page is cacheable: Cache-Control %q", h.Get("Cache-Control"))
		}
	})

	t.Run("cross-site POST", func(t *testing.T) {
		for _, hdr := range crossOriginHeaders(p.Server) {
			r := b.Do("POST", consentPath, allow(nil), append([]string{"Accept", "text/html"}, hdr...)...)
			if r.Status != 403 {
				t.Errorf("consent posted with %v: %d Location %q, want 403", hdr, r.Status, r.Header.Get("Location"))
			}
			noCode(t, fmt.Sprintf("consent posted with %v", hdr), r)
		}
		stillAsks(t)
	})

	t.Run("tampered hidden fields", func(t *testing.T) {
		for what, mod := range map[string]func(url.Values){
			"redirect_uri another site's":      func(f url.Values) { f.Set("redirect_uri", "https://evil.example/cb") },
			"redirect_uri with a suffix":       func(f url.Values) { f.Set("redirect_uri", app.redirect+"/../../evil") },
			"redirect_uri another client's":    func(f url.Values) { f.Set("redirect_uri", other.redirect) },
			"client_id another client's":       func(f url.Values) { f.Set("client_id", other.id) },
			"client_id unknown":                func(f url.Values) { f.Set("client_id", "cli_AAAAAAAAAAAAAAAAAAAAAAAAAA") },
			"client_id and redirect_uri twice": func(f url.Values) { f.Add("client_id", other.id); f.Add("redirect_uri", other.redirect) },
			"no client_id":                     func(f url.Values) { f.Del("client_id") },
		} {
			r := p.submit(b, consentPath, allow(mod))
			checkErrorPage(t, what, r)
			noCode(t, what, r)
		}
		stillAsks(t)
	})

	t.Run("signed out", func(t *testing.T) {
		for what, c := range map[string]*Client{"no cookie": p.Client(), "a forged cookie": withToken(p.Server, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")} {
			r := p.submit(c, consentPath, allow(nil))
			if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/auth/sign-in?") {
				t.Errorf("%s: %d Location %q, want a 303 to the sign-in page", what, r.Status, r.Header.Get("Location"))
			}
			noCode(t, what, r)
		}
		stillAsks(t)
	})

	t.Run("control: the form posted from the page", func(t *testing.T) {
		loc := clientRedirect(t, p.submit(b, consentPath, allow(nil)), app.redirect)
		if loc.Query().Get("code") == "" {
			t.Fatalf("the consent form: %s, want a code", loc)
		}
		p.keep("authorization code", loc.Query().Get("code"))
	})
}

// xssPayload breaks out of an attribute and a text node both ways.
const xssPayload = `"'><script>alert(2)</script><img src=x onerror=alert(3)>`

// TestOIDCReflectedXSS gives a client a name made of markup (through the
// CLI, as an administrator might paste it) and sends state, nonce,
// login_hint, redirect_uri and client_id values made of markup and quotes:
// no page renders any of it as markup, and redirects carry them
// URL-encoded.
//
// ASVS 5.0: V1.2.1 (output encoding for HTML), V1.2.2 (URL encoding),
// V3.2.2.
func TestOIDCReflectedXSS(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	evil := p.register(t, "<script>alert(1)</script>", "https://xss.example/cb", "--post-logout-redirect-uri", "https://xss.example/bye")
	b := p.browser("xss@example.com")
	const rawName, escapedName = "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"
	checkPage := func(t *testing.T, what string, r Reply) {
		t.Helper()
		if r.Status >= 500 {
			t.Errorf("%s: %d", what, r.Status)
		}
		for _, raw := range []string{rawName, "<script>alert(2)", "<img src=x onerror=alert(3)>"} {
			if strings.Contains(r.Body, raw) {
				t.Errorf("%s: the page holds %q unescaped", what, raw)
			}
		}
		checkNoMarkupInjected(t, what, r.Body, "alert(")
	}
	checkLocation := func(t *testing.T, what, loc string) {
		t.Helper()
		if i := strings.IndexAny(loc, "<>\"' \t\r\n`{}|\\^"); i >= 0 {
			t.Errorf("%s: Location %q holds %q unencoded", what, loc, loc[i])
		}
	}

	t.Run("the client's name on the consent, account and logout pages", func(t *testing.T) {
		r := page(b, evil.request("openid profile").path())
		fields := consent(t, r)
		checkPage(t, "the consent page", r)
		if !strings.Contains(r.Body, escapedName) {
			t.Errorf("the consent page does not show the name, escaped: %.3000s", r.Body)
		}
		fields.Set("decision", "allow")
		clientRedirect(t, p.submit(b, consentPath, fields), evil.redirect)
		r = page(b, "/auth/account")
		checkPage(t, "the account page", r)
		if r.Status != 200 || !strings.Contains(r.Body, escapedName) {
			t.Errorf("the account page does not list the app by its escaped name: %d", r.Status)
		}
		r = page(b, "/auth/oauth2/logout?"+url.Values{"client_id": {evil.id}}.Encode())
		checkPage(t, "the logout page", r)
	})

	t.Run("request parameters on every page", func(t *testing.T) {
		q := evil.request("openid")
		for _, k := range []string{"state", "nonce", "login_hint"} {
			q.q.Set(k, xssPayload)
		}
		q.q.Set("prompt", "consent")
		r := page(b, q.path())
		fields := consent(t, r)
		checkPage(t, "the consent page", r)
		for _, k := range []string{"state", "nonce", "login_hint"} {
			if fields.Get(k) != xssPayload {
				t.Errorf("the consent form's %s is %q, want the payload intact (not broken out of its attribute)", k, fields.Get(k))
			}
		}
		fields.Set("decision", "allow")
		res := p.submit(b, consentPath, fields)
		loc := clientRedirect(t, res, evil.redirect)
		checkLocation(t, "the code redirect", res.Header.Get("Location"))
		if loc.Query().Get("state") != xssPayload {
			t.Errorf("the redirect's state is %q, want the payload", loc.Query().Get("state"))
		}
		p.keep("authorization code", loc.Query().Get("code"))

		signedOut := p.Client()
		r = page(signedOut, q.path())
		checkLocation(t, "the redirect to the sign-in page", r.Header.Get("Location"))
		if r.Status != 303 {
			t.Fatalf("signed out: %d, want a redirect to sign in", r.Status)
		}
		checkPage(t, "the sign-in page", page(signedOut, r.Header.Get("Location")))

		for what, path := range map[string]string{
			"an unregistered redirect_uri": "/auth/oauth2/authorize?" + url.Values{"client_id": {evil.id}, "redirect_uri": {"https://evil.example/" + xssPayload}, "state": {xssPayload}}.Encode(),
			"a redirect_uri of markup":     "/auth/oauth2/authorize?" + url.Values{"client_id": {evil.id}, "redirect_uri": {xssPayload}}.Encode(),
			"a client_id of markup":        "/auth/oauth2/authorize?" + url.Values{"client_id": {xssPayload}, "redirect_uri": {evil.redirect}}.Encode(),
			"an unknown client_id":         "/auth/oauth2/authorize?" + url.Values{"client_id": {"cli_" + xssPayload}, "redirect_uri": {evil.redirect}}.Encode(),
			"the logout page's state":      "/auth/oauth2/logout?" + url.Values{"client_id": {evil.id}, "state": {xssPayload}, "logout_hint": {xssPayload}}.Encode(),
			"a post_logout_redirect_uri":   "/auth/oauth2/logout?" + url.Values{"client_id": {evil.id}, "post_logout_redirect_uri": {xssPayload}}.Encode(),
			"a logout client_id":           "/auth/oauth2/logout?" + url.Values{"client_id": {xssPayload}}.Encode(),
			"an id_token_hint":             "/auth/oauth2/logout?" + url.Values{"id_token_hint": {xssPayload}}.Encode(),
		} {
			checkPage(t, what, page(b, path))
			checkPage(t, what+", signed out", page(p.Client(), path))
		}
	})

	t.Run("CR LF in state", func(t *testing.T) {
		const split = "s\r\nSet-Cookie: planted=1\r\nLocation: https://evil.example/"
		v := p.browser("xss-crlf@example.com")
		// Allowed first, so the request goes straight back to the client
		// (a page's hidden field would turn CR LF into LF).
		ts := evil.flow(t, v, "openid")
		q := evil.request("openid")
		q.q.Set("state", split)
		res := page(v, q.path())
		checkLocation(t, "the error redirect", res.Header.Get("Location"))
		// Refused, and not echoed: a state with control characters could
		// not come back intact.
		if loc := clientRedirect(t, res, evil.redirect); loc.Query().Get("error") != "invalid_request" || loc.Query().Has("state") || loc.Query().Has("code") {
			t.Errorf("a CR LF state: redirect %s", loc)
		}
		if len(setCookies(t, res, "planted")) != 0 || len(res.Header.Values("Location")) != 1 {
			t.Errorf("a header was injected: %v", res.Header)
		}
		res = page(v, "/auth/oauth2/logout?"+url.Values{"id_token_hint": {ts.ID}, "post_logout_redirect_uri": {"https://xss.example/bye"}, "state": {split}}.Encode())
		checkLocation(t, "the post-logout redirect", res.Header.Get("Location"))
		if res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "https://xss.example/bye?state=") {
			t.Errorf("logout: %d Location %q", res.Status, res.Header.Get("Location"))
		}
		if len(setCookies(t, res, "planted")) != 0 || len(res.Header.Values("Location")) != 1 {
			t.Errorf("a header was injected: %v", res.Header)
		}
	})

	t.Run("error_description in redirects", func(t *testing.T) {
		for what, mod := range map[string]func(url.Values){
			"a scope of markup":         func(q url.Values) { q.Set("scope", "openid <script>alert(4)</script>") },
			"a scope with quotes":       func(q url.Values) { q.Set("scope", `openid "'><svg/onload=alert(5)>`) },
			"a response_type of markup": func(q url.Values) { q.Set("response_type", xssPayload) },
			"a prompt of markup":        func(q url.Values) { q.Set("prompt", xssPayload) },
			"a nonce of markup":         func(q url.Values) { q.Set("nonce", xssPayload+"\x01") },
		} {
			q := evil.request("openid")
			mod(q.q)
			q.q.Set("state", xssPayload)
			r := page(b, q.path())
			loc := clientRedirect(t, r, evil.redirect)
			checkLocation(t, what, r.Header.Get("Location"))
			if loc.Query().Get("error") == "" || loc.Query().Get("error_description") == "" || loc.Query().Get("state") != xssPayload {
				t.Errorf("%s: %s, want an error with its description and the state", what, loc)
			}
		}
	})
}

// TestOIDCHostileInput sends every OAuth endpoint NUL bytes, invalid
// UTF-8, 100 KB parameters, repeated parameters, SQL-looking and
// NUL-bearing client ids, wrong content types and mangled Authorization
// headers: the machine endpoints answer 4xx in the shape of RFC 6749
// §5.2, the pages 4xx (or an error sent to a registered redirect URI),
// never a 5xx, and the server keeps answering.
//
// ASVS 5.0: V1.2.4 (parameterized queries), V2.2.1 (input validated),
// V16.5.3 (fails securely), V4.1.1.
func TestOIDCHostileInput(t *testing.T) {
	t.Parallel()
	// PostgreSQL refuses NUL and invalid UTF-8 that SQLite stores: both
	// engines are attacked.
	forEachProviderBackend(t, nil, hostileInput)
}

// hostileInput is TestOIDCHostileInput on one engine.
func hostileInput(t *testing.T, p *provider) {
	app := p.register(t, "Hostile app", "https://hostile.example/cb", "--grant", "authorization_code", "--grant", "refresh_token",
		"--grant", "client_credentials", "--scope", "openid", "--scope", "offline_access", "--scope", "reports:read")
	b := p.browser("hostile@example.com")
	ts := app.flow(t, b, "openid offline_access")
	big := strings.Repeat("A", 100<<10)
	sqls := []string{`' OR 1=1 --`, `cli_x' OR '1'='1`, `cli_x"; DROP TABLE oauth_clients; --`, `cli_x\' UNION SELECT secret_hash FROM oauth_clients --`}
	rawForms := []string{
		"grant_type=authorization_code&code=%00&redirect_uri=https%3A%2F%2Fhostile.example%2Fcb&code_verifier=" + strings.Repeat("a", 43),
		"grant_type=authorization_code%00&code=x",
		"grant_type=refresh_token&refresh_token=%00" + ts.Refresh,
		"grant_type=refresh_token&refresh_token=" + ts.Refresh + "%00",
		"grant_type=%ff%fe&code=%c3%28",
		"grant_type=refresh_token&refresh_token=%ff%fe%fd",
		"grant_type=authorization_code&code=" + big,
		"grant_type=authorization_code&code=" + big[:60<<10],
		"grant_type=refresh_token&refresh_token=" + big[:60<<10],
		"grant_type=client_credentials&scope=" + big[:60<<10],
		"grant_type=client_credentials&scope=%00",
		"grant_type=" + big[:10<<10],
		"grant_type=refresh_token&grant_type=client_credentials&refresh_token=" + ts.Refresh,
		"grant_type=refresh_token&refresh_token=" + ts.Refresh + "&refresh_token=" + ts.Refresh,
		"grant_type=client_credentials&scope=reports:read&scope=openid",
		"token=%00&token=x",
		"token=" + big,
		"token=" + big[:60<<10],
		"token=" + strings.Repeat("a.", 30<<10) + "a",
		"token=a.b.c", "token=..", "token=%ff.%fe.%fd", "token=e30.e30.", "token=%00.%00.%00",
		"grant_type=refresh_token&refresh_token=..",
		"%00=%00", "=", "&&&", "a=%zz", "grant_type=refresh_token&refresh_token=%",
	}
	for _, sql := range sqls {
		rawForms = append(rawForms, "grant_type=client_credentials&client_id="+url.QueryEscape(sql), "token="+url.QueryEscape(sql))
	}
	basic := basicAuth(app.id, app.secret)
	authHeaders := [][]string{
		{"Authorization", basic},
		{}, // no authentication
		{"Authorization", "Basic !!!"},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("\x00:\x00"))},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(app.id+"\x00:"+app.secret))},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("\xff\xfe:\xfd"))},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("%00:%00"))},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("%ff%fe:%zz"))},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(sqls[0])+":x"))},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(big[:6<<10]+":"+big[:6<<10]))},
		{"Authorization", "Bearer " + ts.Access},
		{"Authorization", "Basic"},
		{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(app.id+":"+app.secret)) + "==="},
	}
	machine := []string{"/auth/oauth2/token", "/auth/oauth2/introspect", "/auth/oauth2/revoke"}

	t.Run("machine endpoints, hostile forms", func(t *testing.T) {
		for _, path := range machine {
			for _, form := range rawForms {
				for _, hdr := range authHeaders {
					r, err := p.Client().Raw("POST", path, strings.NewReader(form), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
					if err != nil {
						t.Fatalf("POST %s: %v", path, err)
					}
					what := fmt.Sprintf("POST %s %.80q with %.60q", path, form, hdr)
					if path == "/auth/oauth2/revoke" && r.Status == 200 && r.Body == "" || path == "/auth/oauth2/introspect" && r.Status == 200 && strings.TrimSpace(r.Body) == `{"active":false}` {
						continue // RFC 7009 §2.2, RFC 7662 §2.2: an unknown token is no error
					}
					checkOAuthError(t, what, r, 0, "")
				}
			}
		}
	})

	t.Run("machine endpoints, hostile client_id and content types", func(t *testing.T) {
		ids := append(slices.Clone(sqls), "cli\x00", app.id+"\x00", "\x00", "\xff\xfe", big[:200], app.id+" ", " "+app.id, strings.ToLower(app.id))
		for _, path := range machine {
			for _, id := range ids {
				for _, form := range []url.Values{
					{"grant_type": {"client_credentials"}, "client_id": {id}},
					{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {app.secret}},
					{"token": {ts.Refresh}, "client_id": {id}, "client_secret": {app.secret}},
					{"grant_type": {"client_credentials"}, "client_id": {id}, "client_assertion_type": {clientAssertionType}, "client_assertion": {"e30.e30.e30"}},
				} {
					checkOAuthError(t, fmt.Sprintf("POST %s client_id %q", path, id), p.Client().Do("POST", path, form), 0, "")
				}
			}
			for _, ct := range []string{"application/json", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=latin1", ""} {
				r, err := p.Client().Raw("POST", path, strings.NewReader("grant_type=client_credentials&token="+ts.Refresh), "Content-Type", ct, "Authorization", basic)
				if err != nil {
					t.Fatal(err)
				}
				checkOAuthError(t, fmt.Sprintf("POST %s Content-Type %q", path, ct), r, 400, "invalid_request")
			}
			r, err := p.Client().Raw("POST", path, strings.NewReader(`{"grant_type":"client_credentials"}`), "Content-Type", "application/json", "Authorization", basic)
			if err != nil {
				t.Fatal(err)
			}
			checkOAuthError(t, "POST "+path+" with a JSON body", r, 400, "invalid_request")
		}
	})

	t.Run("userinfo", func(t *testing.T) {
		for _, tok := range []string{big[:6<<10], "\xff\xfe.\xfd.\xfc", "a.b.c", "..", sqls[0], ts.Access + "x", ts.Access + "." + ts.Access, "e30.e30."} {
			for _, method := range []string{"GET", "POST"} {
				r, err := p.Client().Raw(method, "/auth/oauth2/userinfo", nil, "Authorization", "Bearer "+tok)
				if err != nil {
					t.Fatal(err)
				}
				checkOAuthError(t, fmt.Sprintf("%s userinfo with %.40q", method, tok), r, 401, "invalid_token")
			}
		}
		r, err := p.Client().Raw("POST", "/auth/oauth2/userinfo", strings.NewReader("access_token="+ts.Access), "Content-Type", "application/x-www-form-urlencoded")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 401 || strings.Contains(r.Body, "hostile@example.com") {
			t.Errorf("userinfo with the token in the form body: %d %s, want 401 (the token is read from the header only)", r.Status, r.Body)
		}
		if r := p.Client().Do("GET", "/auth/oauth2/userinfo?access_token="+ts.Access, nil); r.Status != 401 {
			t.Errorf("userinfo with the token in the query: %d %s, want 401", r.Status, r.Body)
		}
	})

	t.Run("pages", func(t *testing.T) {
		good := app.request("openid").q
		mod := func(k string, vs ...string) string {
			q := cloneForm(good)
			q[k] = vs
			return q.Encode()
		}
		var queries []string
		for _, k := range []string{"client_id", "redirect_uri", "state", "nonce", "scope", "code_challenge", "prompt", "max_age", "login_hint", "id_token_hint", "response_type", "login_after", "ui_locales"} {
			queries = append(queries, mod(k, "\x00"), mod(k, "a\x00b"), mod(k, "\xff\xfe"), mod(k, big), mod(k, "x", "y"), mod(k, sqls[0]), mod(k, sqls[2]))
		}
		queries = append(queries, "client_id=%00&redirect_uri=%00", "%ff=%fe", "a=%zz&client_id="+app.id, strings.Repeat("client_id="+app.id+"&", 1000))
		check := func(what string, r Reply) {
			t.Helper()
			noServerError(t, what, r)
			switch {
			case r.Status == 303:
				loc := r.Header.Get("Location")
				if strings.HasPrefix(loc, "/auth/") {
					return // sign-in, or a POST turned into a GET
				}
				// A hostile value in a parameter that may hold anything
				// (state, nonce, login_hint) leaves a valid request: a
				// code or an error, at the registered redirect URI only.
				u, err := url.Parse(loc)
				if err != nil || u.Scheme+"://"+u.Host+u.Path != app.redirect || u.Query().Get("error") == "" && u.Query().Get("code") == "" {
					t.Errorf("%s: Location %.300q, want a code or an error at the registered redirect URI", what, loc)
				}
				p.keep("authorization code", u.Query().Get("code"))
			case r.Status == 200 && strings.Contains(what, "logout"):
				// The confirmation page.
			case r.Status < 400 || r.Status > 499:
				t.Errorf("%s: %d, want 4xx", what, r.Status)
			}
		}
		for _, q := range queries {
			for _, c := range []*Client{b, p.Client()} {
				check(fmt.Sprintf("GET authorize %.100q", q), page(c, "/auth/oauth2/authorize?"+q))
				r, err := c.Raw("POST", "/auth/oauth2/authorize", strings.NewReader(q), "Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html", "Origin", p.URL)
				if err != nil {
					t.Fatal(err)
				}
				check(fmt.Sprintf("POST authorize %.100q", q), r)
				r, err = c.Raw("POST", consentPath, strings.NewReader(q+"&decision=allow"), "Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html", "Origin", p.URL)
				if err != nil {
					t.Fatal(err)
				}
				check(fmt.Sprintf("POST consent %.100q", q), r)
			}
		}
		for _, q := range []string{"id_token_hint=%00", "id_token_hint=%ff.%fe.%fd", "id_token_hint=" + big, "client_id=%00", "client_id=" + url.QueryEscape(sqls[0]),
			"post_logout_redirect_uri=%00&client_id=" + app.id, "state=%ff%fe", "state=" + big, "client_id=x&client_id=y", "%ff=%fe"} {
			for _, c := range []*Client{b, p.Client()} {
				check(fmt.Sprintf("GET logout %.100q", q), page(c, "/auth/oauth2/logout?"+q))
				r, err := c.Raw("POST", "/auth/oauth2/logout", strings.NewReader(q), "Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html", "Origin", p.URL)
				if err != nil {
					t.Fatal(err)
				}
				check(fmt.Sprintf("POST logout %.100q", q), r)
			}
		}
		for _, id := range []string{"%00", "%ff%fe", url.PathEscape(sqls[0]), url.PathEscape(sqls[2]), "..%2F..%2Fsessions", big[:4<<10]} {
			r, err := b.Raw("POST", "/auth/account/apps/"+id+"/revoke", nil, "Origin", p.URL, "Accept", "text/html")
			if err != nil {
				t.Fatal(err)
			}
			if r.Status < 400 || r.Status > 499 {
				t.Errorf("revoking the app %.40q: %d, want 4xx", id, r.Status)
			}
		}
	})

	t.Run("the server keeps answering", func(t *testing.T) {
		if r := p.Client().Do("GET", "/auth/.well-known/openid-configuration?%00=%ff", nil); r.Status != 200 {
			t.Fatalf("discovery: %d", r.Status)
		}
		next := app.flow(t, b, "openid offline_access")
		if r := p.userinfo(next.Access); r.Status != 200 {
			t.Fatalf("userinfo after the attacks: %d %s", r.Status, r.Body)
		}
		p.tokens(t, "the first refresh token, untouched by the attacks", app.refresh(ts.Refresh))
		var errs []string
		for line := range strings.Lines(p.Logs()) {
			if strings.Contains(line, "level=ERROR") || strings.Contains(line, "panic") {
				errs = append(errs, line)
			}
		}
		if len(errs) > 0 {
			t.Errorf("the attacks made the server log %d errors:\n%s", len(errs), strings.Join(errs, ""))
		}
	})
}

// TestOIDCEnumeration: the token, introspection and revocation endpoints
// answer an unknown client_id exactly as a known one with a wrong secret,
// and introspection tells a client nothing about another client's live
// tokens — the answer is byte for byte the one for garbage. Another
// client cannot revoke them either.
//
// ASVS 5.0: V10.4.10, V8.2.2 (no access to another client's data),
// V6.3.8 (failures do not reveal which part was wrong).
func TestOIDCEnumeration(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	victim := p.register(t, "Enumeration victim", "https://enum-victim.example/cb")
	snoop := p.register(t, "Enumeration snoop", "https://enum-snoop.example/cb")
	ts := victim.flow(t, p.browser("enumeration@example.com"), "openid offline_access")
	unknown := "cli_" + strings.Repeat("Q", 26)

	t.Run("unknown client vs wrong secret", func(t *testing.T) {
		for _, path := range []string{"/auth/oauth2/token", "/auth/oauth2/introspect", "/auth/oauth2/revoke"} {
			form := url.Values{"grant_type": {"client_credentials"}, "token": {ts.Refresh}}
			type answer struct {
				status         int
				body, wwwAuthn string
			}
			get := func(r Reply) answer { return answer{r.Status, r.Body, r.Header.Get("WWW-Authenticate")} }
			for how, pair := range map[string][2]Reply{
				"Basic": {
					p.Client().Do("POST", path, form, "Authorization", basicAuth(unknown, victim.secret)),
					p.Client().Do("POST", path, form, "Authorization", basicAuth(victim.id, "ghcs_"+strings.Repeat("x", 43))),
				},
				"post": {
					p.Client().Do("POST", path, withClient(form, unknown, victim.secret)),
					p.Client().Do("POST", path, withClient(form, victim.id, "ghcs_"+strings.Repeat("x", 43))),
				},
				"no secret": {
					p.Client().Do("POST", path, withClient(form, unknown, "")),
					p.Client().Do("POST", path, withClient(form, victim.id, "")),
				},
			} {
				checkOAuthError(t, path+" "+how+", unknown client", pair[0], 401, "invalid_client")
				if a, b := get(pair[0]), get(pair[1]); a != b {
					t.Errorf("%s %s: an unknown client answers %+v, a known one with a wrong secret %+v", path, how, a, b)
				}
			}
		}
	})

	t.Run("introspection of another client's tokens", func(t *testing.T) {
		garbage := snoop.introspect("garbage")
		if garbage.Status != 200 || strings.TrimSpace(garbage.Body) != `{"active":false}` {
			t.Fatalf("introspection of garbage: %d %s", garbage.Status, garbage.Body)
		}
		for what, tok := range map[string]string{"access token": ts.Access, "refresh token": ts.Refresh, "ID token": ts.ID,
			"JWT-shaped garbage": "e30.e30.e30", "a refresh-token-shaped guess": newVerifier()} {
			r := snoop.introspect(tok)
			if r.Status != garbage.Status || r.Body != garbage.Body || r.Header.Get("Content-Type") != garbage.Header.Get("Content-Type") {
				t.Errorf("the snoop introspecting the victim's %s: %d %s, garbage gets %d %s", what, r.Status, r.Body, garbage.Status, garbage.Body)
			}
		}
		// The control: the victim's own introspection says active.
		for what, tok := range map[string]string{"access token": ts.Access, "refresh token": ts.Refresh} {
			if r := victim.introspect(tok); r.Status != 200 || r.JSON(t)["active"] != true {
				t.Fatalf("the victim introspecting its own %s: %d %s", what, r.Status, r.Body)
			}
		}
	})

	t.Run("revocation of another client's tokens", func(t *testing.T) {
		for what, tok := range map[string]string{"access token": ts.Access, "refresh token": ts.Refresh} {
			r := snoop.call("/auth/oauth2/revoke", url.Values{"token": {tok}})
			if r.Status == 200 {
				t.Errorf("the snoop revoking the victim's %s: 200, as if revoked", what)
			} else {
				checkOAuthError(t, "the snoop revoking the victim's "+what, r, 400, "unauthorized_client")
			}
			if r := victim.introspect(tok); r.Status != 200 || r.JSON(t)["active"] != true {
				t.Fatalf("after the snoop's revocation the victim's %s is %d %s, want active", what, r.Status, r.Body)
			}
		}
		garbage := snoop.call("/auth/oauth2/revoke", url.Values{"token": {newVerifier()}})
		if garbage.Status != 200 || garbage.Body != "" {
			t.Errorf("revoking garbage: %d %s, want 200 and no body (RFC 7009 §2.2)", garbage.Status, garbage.Body)
		}
		t.Logf("revocation tells a token of another client (400 unauthorized_client) from an unknown one (200), as RFC 7009 §2.1 has it; only a holder of the token learns that")
		p.tokens(t, "the victim's refresh after the snoop's attempts", victim.refresh(ts.Refresh))
	})
}

// TestOIDCSecretsAtRest runs every flow that hands out a secret — client
// registration (CLI and admin API), secret rotation, codes redeemed and
// not, refresh tokens rotated, client_credentials and private_key_jwt —
// on a server logging at debug level, then reads its SQLite file with the
// driver it uses and its logs: neither holds any of them, only hashes.
//
// ASVS 5.0: V11.4.2 (secrets stored as hashes), V13.3.1, V16.2.5 (no
// secret in logs), V14.2.1.
func TestOIDCSecretsAtRest(t *testing.T) {
	t.Parallel()
	p := startProvider(t, "GATEHOUSE_LOG_LEVEL=debug")
	app := p.register(t, "At rest app", "https://rest.example/cb")
	public := p.register(t, "At rest native app", "http://127.0.0.1/cb", "--public")
	machine := p.register(t, "At rest machine", "", "--grant", "client_credentials", "--scope", "reports:read")
	key := newRSAClientKey(t, "rest-key")
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, []byte(key.jwks), 0o600); err != nil {
		t.Fatal(err)
	}
	signed := p.register(t, "At rest signed machine", "", "--grant", "client_credentials", "--scope", "reports:read",
		"--auth-method", "private_key_jwt", "--jwks-file", jwksFile)
	rotated := p.register(t, "At rest rotated", "https://rotated.example/cb")
	out, newSecret := p.CLI("", "clients", "rotate-secret", rotated.id), ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "ghcs_") {
			newSecret = f
		}
	}
	if newSecret == "" {
		t.Fatalf("clients rotate-secret printed no secret: %q", out)
	}
	p.keep("rotated client secret", newSecret)
	rotated.secret = newSecret
	admin := p.Admin("rest-admin@example.com")
	r := admin.Do("POST", "/auth/api/admin/clients", map[string]any{"name": "At rest API client", "redirect_uris": []string{"https://api-rest.example/cb"}}, sameOriginHeaders(p.Server)...)
	if r.Status != 201 {
		t.Fatalf("admin API create: %d %s", r.Status, r.Body)
	}
	apiSecret, _ := r.JSON(t)["client_secret"].(string)
	p.keep("client secret from the admin API", apiSecret)

	b := p.browser("rest@example.com")
	ts := app.flow(t, b, "openid profile email offline_access")
	for range 3 {
		ts = p.tokens(t, "refresh", app.refresh(ts.Refresh))
	}
	pub := public.flow(t, b, "openid offline_access")
	p.tokens(t, "the public client's refresh", public.refresh(pub.Refresh))
	rotated.flow(t, b, "openid")
	unredeemed := app.request("openid")
	unredeemed.code(t, b)
	p.tokens(t, "client_credentials", machine.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}))
	p.tokens(t, "private_key_jwt", p.Client().Do("POST", "/auth/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"},
		"client_assertion_type": {clientAssertionType}, "client_assertion": {key.signRS256(t, key.header("RS256"), assertionClaims(signed.id, p.issuer))}}))
	p.keep("first-party access token", mintToken(t, p.Server, b))
	p.keep("session token", b.Cookie(SessionCookie))
	p.keep("session token", admin.Cookie(SessionCookie))
	p.keep("password", Password)
	secrets := p.kept()

	t.Run("the database holds only hashes", func(t *testing.T) {
		db := p.database(t)
		// The rows that would hold the secrets are there.
		for query, atLeast := range map[string]int{
			`SELECT count(*) FROM oauth_clients WHERE secret_hash != ''`: 4,
			`SELECT count(*) FROM oauth_codes`:                           4,
			`SELECT count(*) FROM oauth_codes WHERE redeemed_at = 0`:     1,
			`SELECT count(*) FROM oauth_refresh_tokens`:                  6,
			`SELECT count(*) FROM oauth_client_assertions`:               1,
		} {
			if n := p.count(t, query); n < atLeast {
				t.Fatalf("%s: %d, want at least %d (did the flows run?)", query, n, atLeast)
			}
		}
		rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, name)
		}
		rows.Close()
		cells := 0
		for _, table := range tables {
			rows, err := db.Query(`SELECT * FROM "` + table + `"`)
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatalf("%s: %v", table, err)
				}
				for i, v := range vals {
					cells++
					var s string
					switch v := v.(type) {
					case string:
						s = v
					case []byte:
						s = string(v)
					default:
						continue
					}
					for secret, what := range secrets {
						if strings.Contains(s, secret) {
							t.Errorf("%s.%s holds a %s in clear", table, cols[i], what)
						}
					}
				}
			}
			rows.Close()
		}
		if cells < 100 {
			t.Fatalf("read only %d cells from %d tables", cells, len(tables))
		}
		t.Logf("%d cells of %d tables hold none of the %d secrets the flows handed out", cells, len(tables), len(secrets))
	})

	t.Run("the database files hold none either", func(t *testing.T) {
		matches, _ := filepath.Glob(filepath.Join(p.DataDir, "gatehouse.db*"))
		if len(matches) == 0 {
			t.Fatal("no database files")
		}
		for _, f := range matches {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for secret, what := range secrets {
				if strings.Contains(string(raw), secret) {
					t.Errorf("%s holds a %s in clear", filepath.Base(f), what)
				}
			}
		}
	})

	t.Run("the logs hold none", func(t *testing.T) {
		if !p.logged("level=DEBUG") || !p.logged("path=/auth/oauth2/token") {
			t.Fatalf("the logs hold no debug line or no token request: were they captured?\n%.2000s", p.Logs())
		}
		p.checkLogs(t)
	})
}

// TestOIDCAccountAppRevoke attacks the account page's Remove access
// button: a cross-site POST with the victim's cookie, and users revoking
// a client by id for themselves — which must touch no other user's grant.
//
// ASVS 5.0: V10.4.9 (users revoke tokens from the UI), V10.7.3, V3.5.1,
// V8.2.2.
func TestOIDCAccountAppRevoke(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	app := p.register(t, "Revocable app", "https://revocable.example/cb")
	victim := p.browser("apps-victim@example.com")
	attacker := p.browser("apps-attacker@example.com")
	bystander := p.browser("apps-bystander@example.com")
	tsV := app.flow(t, victim, "openid offline_access")
	tsB := app.flow(t, bystander, "openid offline_access")
	revokePath := "/auth/account/apps/" + app.id + "/revoke"
	live := func(t *testing.T, who string, ts tokenSet, want bool) {
		t.Helper()
		r := app.introspect(ts.Refresh)
		if r.Status != 200 || r.JSON(t)["active"] != want {
			t.Errorf("%s's refresh token: %d %s, want active=%v", who, r.Status, r.Body, want)
		}
		if st := p.userinfo(ts.Access).Status; st == 200 != want {
			t.Errorf("%s's access token at userinfo: %d, want live=%v", who, st, want)
		}
	}
	listed := func(t *testing.T, c *Client) bool {
		t.Helper()
		r := page(c, "/auth/account")
		if r.Status != 200 {
			t.Fatalf("the account page: %d", r.Status)
		}
		return strings.Contains(r.Body, revokePath)
	}

	t.Run("cross-site POST", func(t *testing.T) {
		for _, hdr := range crossOriginHeaders(p.Server) {
			r := victim.Do("POST", revokePath, url.Values{}, append([]string{"Accept", "text/html"}, hdr...)...)
			if r.Status != 403 {
				t.Errorf("POST %s with %v: %d, want 403", revokePath, hdr, r.Status)
			}
		}
		for _, method := range []string{"GET", "HEAD"} {
			r := victim.Do(method, revokePath, nil, "Accept", "text/html", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
			if r.Status != 405 && r.Status != 404 {
				t.Errorf("%s %s: %d, want 405", method, revokePath, r.Status)
			}
		}
		live(t, "the victim", tsV, true)
		if !listed(t, victim) {
			t.Error("the app left the victim's account page")
		}
	})

	t.Run("another user revoking the client for themselves", func(t *testing.T) {
		r := p.submit(attacker, revokePath, url.Values{})
		if r.Status != 404 {
			t.Errorf("a user who never allowed the app revoking it: %d, want 404", r.Status)
		}
		app.flow(t, attacker, "openid offline_access")
		if r := p.submit(attacker, revokePath, url.Values{}); r.Status != 303 {
			t.Fatalf("a user revoking their own grant: %d", r.Status)
		}
		live(t, "the victim", tsV, true)
		live(t, "the bystander", tsB, true)
		if !listed(t, victim) || !listed(t, bystander) {
			t.Error("another user's revocation removed the app from the victim's or bystander's account page")
		}
		for _, id := range []string{strings.ToLower(app.id), app.id + " ", app.id + "%00", "%25", "*", "cli_%25"} {
			if r := p.submit(attacker, "/auth/account/apps/"+id+"/revoke", url.Values{}); r.Status < 400 || r.Status > 499 {
				t.Errorf("revoking %q: %d, want 4xx", id, r.Status)
			}
		}
		live(t, "the victim", tsV, true)
	})

	t.Run("control: the victim's own Remove access", func(t *testing.T) {
		r := p.submit(victim, revokePath, url.Values{})
		if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/auth/account") {
			t.Fatalf("the victim's revocation: %d Location %q", r.Status, r.Header.Get("Location"))
		}
		live(t, "the victim", tsV, false)
		live(t, "the bystander", tsB, true)
		if listed(t, victim) {
			t.Error("the app is still on the victim's account page")
		}
	})
}

// TestOIDCAdminClientsCSRF: the clients admin API is registered outside
// web/routes.go, so TestCSRFEveryStateChangingRoute does not drive it.
// Another site's page, with an administrator's cookie, tries to add its
// own redirect URI to a trusted client, make it first-party, rotate its
// secret, delete it and register one of its own: each is refused and the
// client is unchanged. A user without the admin role is refused too.
//
// ASVS 5.0: V3.5.1, V8.2.1 (admin functions need the admin role),
// V10.4.1 (redirect URIs change only by an administrator's will).
func TestOIDCAdminClientsCSRF(t *testing.T) {
	t.Parallel()
	p := startProvider(t)
	app := p.register(t, "Trusted app", "https://trusted.example/cb")
	admin := p.Admin("clients-admin@example.com")
	user := p.browser("clients-user@example.com")
	path := "/auth/api/admin/clients/" + app.id
	before := admin.Do("GET", path, nil)
	if before.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, before.Status, before.Body)
	}
	routes := []struct {
		method, path string
		body         any
	}{
		{"PATCH", path, map[string]any{"redirect_uris": []string{"https://trusted.example/cb", "https://evil.example/cb"}}},
		{"PATCH", path, map[string]any{"first_party": true}},
		{"POST", path + "/secret", nil},
		{"DELETE", path, nil},
		{"POST", "/auth/api/admin/clients", map[string]any{"name": "Forged", "redirect_uris": []string{"https://evil.example/cb"}, "first_party": true}},
	}
	for _, rt := range routes {
		for _, hdr := range crossOriginHeaders(p.Server) {
			r := admin.Do(rt.method, rt.path, rt.body, hdr...)
			if r.Status != 403 || r.Code() != "cross_origin_request" {
				t.Errorf("%s %s with %v: %d %s, want 403 cross_origin_request", rt.method, rt.path, hdr, r.Status, r.Body)
			}
		}
		r := user.Do(rt.method, rt.path, rt.body, sameOriginHeaders(p.Server)...)
		if r.Status != 403 || r.Code() == "cross_origin_request" {
			t.Errorf("%s %s by a user without the admin role: %d %s, want 403", rt.method, rt.path, r.Status, r.Body)
		}
	}
	if after := admin.Do("GET", path, nil); after.Body != before.Body {
		t.Errorf("the refused requests changed the client: %s, then %s", before.Body, after.Body)
	}
	if r := admin.Do("GET", "/auth/api/admin/clients", nil); strings.Contains(r.Body, "Forged") {
		t.Errorf("a refused request registered a client: %s", r.Body)
	}
	// The secret still authenticates: a bogus code is invalid_grant, not
	// invalid_client.
	checkOAuthError(t, "the client's secret after the refused rotation", app.token(url.Values{"grant_type": {"authorization_code"},
		"code": {"bogus"}, "redirect_uri": {app.redirect}, "code_verifier": {newVerifier()}}), 400, "invalid_grant")

	// The control: the same change from the site itself goes through.
	r := admin.Do("PATCH", path, map[string]any{"name": "Trusted app, renamed"}, sameOriginHeaders(p.Server)...)
	if r.Status != 200 || !strings.Contains(r.Body, "Trusted app, renamed") {
		t.Fatalf("PATCH from the site: %d %s", r.Status, r.Body)
	}
}
