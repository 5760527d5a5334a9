package web_test

// Contract tests for the OpenID Connect provider's pages: the
// authorization endpoint (sign-in, consent, the redirects to the client and
// the errors that must never be redirects), RP-initiated logout, and the
// account page's connected apps. Every 303 is asserted: the test client
// does not follow redirects.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestOAuthPages runs the provider's page contract on every backend.
func TestOAuthPages(t *testing.T) {
	runOnBackends(t, []backendCase{
		{"UnsafeRedirectsRefused", testAuthorizeUnsafeRedirects},
		{"LoopbackPorts", testAuthorizeLoopbackPorts},
		{"SignInThenCode", testAuthorizeSignInThenCode},
		{"Consent", testAuthorizeConsent},
		{"ConsentFormGuarded", testConsentFormGuarded},
		{"PromptNone", testAuthorizePromptNone},
		{"PromptLoginAndMaxAge", testAuthorizeReauthentication},
		{"ProtocolErrorsGoToClient", testAuthorizeProtocolErrors},
		{"FormPost", testAuthorizeFormPost},
		{"Logout", testRPLogout},
		{"ConnectedApps", testConnectedApps},
	})
}

const (
	appRedirect   = "https://app.example.com/cb"
	appLogout     = "https://app.example.com/bye"
	appState      = "st-42"
	appVerifier   = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	authorizePath = "/auth/oauth2/authorize"
	consentPath   = "/auth/oauth2/authorize/consent"
	logoutPath    = "/auth/oauth2/logout"
)

// appChallenge is the S256 PKCE challenge of appVerifier.
var appChallenge = func() string {
	sum := sha256.Sum256([]byte(appVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

// catalogEN and catalogFR are the built-in texts of a page key, read from
// the catalogue's files so that assertions follow the copy.
func catalogEN(t *testing.T, key string) string { return catalogText(t, "en", key) }
func catalogFR(t *testing.T, key string) string { return catalogText(t, "fr", key) }

func catalogText(t *testing.T, lang, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "catalog", "locales", lang, "pages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var texts map[string]string
	if err := json.Unmarshal(b, &texts); err != nil {
		t.Fatal(err)
	}
	s, ok := texts[key]
	if !ok {
		t.Fatalf("no %s text %q", lang, key)
	}
	return s
}

// newProviderEnv is an edge with the RS256 key ID tokens are signed with
// by default (serve creates it at start).
func newProviderEnv(t *testing.T, b backend) *env {
	t.Helper()
	e := newEnv(t, b, gatehouse.Config{})
	if _, err := e.auth.RotateKeys(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return e
}

// newApp registers a client: confidential (client_secret_basic) with
// appRedirect and appLogout unless spec says otherwise. It returns the
// client and its secret.
func (e *env) newApp(t *testing.T, spec gatehouse.ClientSpec) (gatehouse.OAuthClient, string) {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "Notes"
	}
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = []string{appRedirect}
	}
	if spec.PostLogoutRedirectURIs == nil {
		spec.PostLogoutRedirectURIs = []string{appLogout}
	}
	c, secret, err := e.auth.CreateClient(context.Background(), spec)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c, secret
}

// authzQuery is a valid authorization request of cl; kv sets parameters
// ("" deletes one).
func authzQuery(cl gatehouse.OAuthClient, kv ...string) url.Values {
	q := url.Values{
		"response_type": {"code"}, "client_id": {cl.ID}, "redirect_uri": {cl.RedirectURIs[0]},
		"scope": {"openid profile email"}, "state": {appState}, "nonce": {"n-1"},
		"code_challenge": {appChallenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// authorizeURL is the authorization endpoint with q.
func authorizeURL(q url.Values) string { return authorizePath + "?" + q.Encode() }

// signedInBrowser signs a new user up (through the API, which signs in)
// and returns the browser.
func (e *env) signedInBrowser(email string) *client {
	c := e.client()
	c.signUp(email)
	return c
}

// location checks a 303 that no cache may keep and returns its target.
func location(t *testing.T, r response) *url.URL {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303; Location %q; body %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("303 to %s with Cache-Control %q, want no-store", r.Header.Get("Location"), cc)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", r.Header.Get("Location"), err)
	}
	return u
}

// toClient checks a 303 to redirectURI with state and iss (RFC 9207) and
// returns the response parameters.
func toClient(t *testing.T, e *env, r response, redirectURI string) url.Values {
	t.Helper()
	u := location(t, r)
	if got := u.Scheme + "://" + u.Host + u.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want the client's %s", u, redirectURI)
	}
	q := u.Query()
	if q.Get("state") != appState {
		t.Errorf("state %q, want %q (%s)", q.Get("state"), appState, u)
	}
	if q.Get("iss") != e.auth.Issuer() {
		t.Errorf("iss %q, want the issuer %q exactly", q.Get("iss"), e.auth.Issuer())
	}
	return q
}

// wantCode checks a redirect to the client with a code and no error.
func wantCode(t *testing.T, e *env, r response, redirectURI string) string {
	t.Helper()
	q := toClient(t, e, r, redirectURI)
	if q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("redirect to the client without a code: %s", r.Header.Get("Location"))
	}
	return q.Get("code")
}

// wantClientError checks a redirect to the client with error code.
func wantClientError(t *testing.T, e *env, r response, redirectURI, code string) {
	t.Helper()
	q := toClient(t, e, r, redirectURI)
	if q.Get("error") != code || q.Get("code") != "" || q.Get("error_description") == "" {
		t.Fatalf("redirect %s, want error=%s with a description and no code", r.Header.Get("Location"), code)
	}
}

// wantErrorPage checks that a request was answered on the error page, in
// HTML, never with a redirect.
func wantErrorPage(t *testing.T, r response, status int) {
	t.Helper()
	if r.StatusCode != status || r.Header.Get("Location") != "" {
		t.Fatalf("status %d, Location %q; want %d and no Location; body %s", r.StatusCode, r.Header.Get("Location"), status, r.body)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), `class="page-error`) {
		t.Fatalf("not the error page: %s %s", r.Header.Get("Content-Type"), r.body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("error page Cache-Control %q", cc)
	}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formFields returns the hidden fields of the form that posts to action.
func formFields(t *testing.T, r response, action string) url.Values {
	t.Helper()
	body := string(r.body)
	start := strings.Index(body, `action="`+action+`"`)
	if start < 0 {
		t.Fatalf("no form posting to %s:\n%s", action, body)
	}
	form := body[start:]
	form = form[:strings.Index(form, "</form>")]
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(form, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// signInPage follows a 303 to the sign-in page: it checks the page carries
// the continuation, signs in through the form and returns the 303 back.
func (c *client) signInPage(t *testing.T, r response, email string) response {
	t.Helper()
	u := location(t, r)
	if u.Path != "/auth/sign-in" {
		t.Fatalf("redirected to %s, want the sign-in page", u)
	}
	back := u.Query().Get("redirect_to")
	if !strings.HasPrefix(back, authorizePath+"?") {
		t.Fatalf("sign-in redirect_to %q, want the authorization request", back)
	}
	page := c.page(u.String())
	want(t, page, http.StatusOK, "")
	if got := formFields(t, page, "/auth/sign-in").Get("redirect_to"); got != back {
		t.Fatalf("the sign-in form carries redirect_to %q, want %q", got, back)
	}
	// The sign-up link keeps the request too.
	m := regexp.MustCompile(`href="(/auth/sign-up[^"]*)"`).FindStringSubmatch(string(page.body))
	if m == nil {
		t.Fatalf("no sign-up link:\n%s", page.body)
	}
	if su, err := url.Parse(html.UnescapeString(m[1])); err != nil || su.Query().Get("redirect_to") != back {
		t.Fatalf("the sign-up link %q does not keep redirect_to %q", m[1], back)
	}
	res := c.do("POST", "/auth/sign-in", url.Values{"email": {email}, "password": {goodPassword}, "redirect_to": {back}})
	if got := location(t, res).String(); got != back {
		t.Fatalf("after signing in: Location %q, want %q", got, back)
	}
	return res
}

// consentPage checks r is the consent page and returns its form's fields.
func consentPage(t *testing.T, r response) url.Values {
	t.Helper()
	want(t, r, http.StatusOK, "")
	mustContain(t, r, `class="page-consent`, `name="decision" value="allow"`, `name="decision" value="deny"`)
	return formFields(t, r, consentPath)
}

// decide posts the consent form with decision.
func (c *client) decide(fields url.Values, decision string, hdr ...string) response {
	f := url.Values{}
	for k, vs := range fields {
		f[k] = vs
	}
	f.Set("decision", decision)
	return c.do("POST", consentPath, f, hdr...)
}

// crossSite are the headers of a form posted by another site's page.
var crossSite = []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}

// tokens redeems a code at the token endpoint for a confidential client.
func (e *env) tokens(t *testing.T, cl gatehouse.OAuthClient, secret, code string) map[string]any {
	t.Helper()
	r := e.client().do("POST", "/auth/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {cl.RedirectURIs[0]}, "code_verifier": {appVerifier}},
		"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(cl.ID)+":"+url.QueryEscape(secret))))
	want(t, r, http.StatusOK, "")
	return r.json(t)
}

func testAuthorizeUnsafeRedirects(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, _ := e.newApp(t, gatehouse.ClientSpec{FirstParty: true})
	c := e.signedInBrowser("unsafe@example.com")
	good := authzQuery(cl)
	// The request is good as it is: a code comes back.
	wantCode(t, e, c.page(authorizeURL(good)), appRedirect)

	tests := []struct{ name, redirect string }{
		{"unregistered", "https://evil.example/cb"},
		{"host in another case", "https://APP.example.com/cb"},
		{"path in another case", "https://app.example.com/CB"},
		{"trailing slash", "https://app.example.com/cb/"},
		{"extra path segment", "https://app.example.com/cb/more"},
		{"dot segments", "https://app.example.com/x/../cb"},
		{"percent-encoded", "https://app.example.com/%63b"},
		{"userinfo", "https://user@app.example.com/cb"},
		{"look-alike host", "https://app.example.com.evil.com/cb"},
		{"fragment", "https://app.example.com/cb#frag"},
		{"other port", "https://app.example.com:8443/cb"},
		{"default port spelt out", "https://app.example.com:443/cb"},
		{"http", "http://app.example.com/cb"},
		{"query added", "https://app.example.com/cb?x=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := authzQuery(cl, "redirect_uri", tc.redirect)
			r := c.page(authorizeURL(q))
			wantErrorPage(t, r, http.StatusBadRequest)
			mustContain(t, r, catalogEN(t, "oauth.authorize_invalid"), "The redirect_uri is not registered for this application.")
		})
	}
	raw := []struct{ name, query, detail string }{
		{"unknown client", authzQuery(cl, "client_id", "cli_nosuchclient00000000000000").Encode(), "No application is registered with this client_id."},
		{"missing client", authzQuery(cl, "client_id", "").Encode(), "The client_id parameter is missing."},
		{"missing redirect_uri", authzQuery(cl, "redirect_uri", "").Encode(), "The redirect_uri parameter is missing."},
		{"repeated redirect_uri", good.Encode() + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb"), "The redirect_uri parameter is repeated."},
		{"repeated client_id", good.Encode() + "&client_id=cli_other", "The client_id parameter is repeated."},
	}
	for _, tc := range raw {
		t.Run(tc.name, func(t *testing.T) {
			r := c.page(authorizePath + "?" + tc.query)
			wantErrorPage(t, r, http.StatusBadRequest)
			mustContain(t, r, html.EscapeString(tc.detail))
			// Signed out, the same: no sign-in page, no redirect.
			wantErrorPage(t, e.client().page(authorizePath+"?"+tc.query), http.StatusBadRequest)
		})
	}
	// The page speaks the browser's language; the detail stays the
	// protocol's.
	r := c.page(authorizeURL(authzQuery(cl, "redirect_uri", "https://evil.example/cb")), "Accept-Language", "fr")
	wantErrorPage(t, r, http.StatusBadRequest)
	mustContain(t, r, `<html lang="fr"`, html.EscapeString(catalogFR(t, "oauth.authorize_invalid")), `<span lang="en">`)
	// A form POST is refused the same way.
	wantErrorPage(t, c.do("POST", authorizePath, authzQuery(cl, "redirect_uri", "https://evil.example/cb")), http.StatusBadRequest)
}

func testAuthorizeLoopbackPorts(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, _ := e.newApp(t, gatehouse.ClientSpec{AuthMethod: gatehouse.ClientAuthNone, FirstParty: true,
		RedirectURIs: []string{"http://127.0.0.1/callback"}})
	c := e.signedInBrowser("loopback@example.com")
	// A native app listens on whatever port is free (RFC 8252 §7.3).
	wantCode(t, e, c.page(authorizeURL(authzQuery(cl, "redirect_uri", "http://127.0.0.1:53122/callback"))), "http://127.0.0.1:53122/callback")
	for _, bad := range []string{"http://localhost:53122/callback", "http://127.0.0.1:53122/other", "http://127.0.0.1:053122/callback",
		"http://user@127.0.0.1:53122/callback", "https://127.0.0.1:53122/callback"} {
		wantErrorPage(t, c.page(authorizeURL(authzQuery(cl, "redirect_uri", bad))), http.StatusBadRequest)
	}
	// Another client's loopback URI does not match on any port.
	conf, _ := e.newApp(t, gatehouse.ClientSpec{RedirectURIs: []string{"http://127.0.0.1/callback"}})
	wantErrorPage(t, c.page(authorizeURL(authzQuery(conf, "redirect_uri", "http://127.0.0.1:53122/callback"))), http.StatusBadRequest)
}

func testAuthorizeSignInThenCode(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, secret := e.newApp(t, gatehouse.ClientSpec{FirstParty: true})
	e.client().signUp("first@example.com")
	c := e.client() // signed out
	q := authzQuery(cl)
	r := c.page(authorizeURL(q))
	u := location(t, r)
	if u.Query().Has("prompt") {
		t.Errorf("a signed-out browser is sent to sign in with %s: prompt=login is only for a browser signed in already", u)
	}
	back, _ := url.Parse(u.Query().Get("redirect_to"))
	cont := back.Query()
	cont.Del("login_after") // the core's mark of when it sent the browser to sign in
	if cont.Encode() != q.Encode() {
		t.Errorf("the continuation %q is not the request %q", back.RawQuery, q.Encode())
	}
	r = c.signInPage(t, r, "first@example.com")
	// Back at the authorization endpoint: a first-party client needs no
	// consent.
	code := wantCode(t, e, c.page(location(t, r).String()), appRedirect)
	tok := e.tokens(t, cl, secret, code)
	if s, _ := tok["id_token"].(string); strings.Count(s, ".") != 2 {
		t.Fatalf("token response %v", tok)
	}
	// Signed in, the next request goes straight to the client.
	wantCode(t, e, c.page(authorizeURL(q)), appRedirect)
}

func testAuthorizeConsent(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, _ := e.newApp(t, gatehouse.ClientSpec{Name: `Notes <b>"&`,
		Scopes: []string{gatehouse.ScopeOpenID, gatehouse.ScopeProfile, gatehouse.ScopeEmail, gatehouse.ScopeOfflineAccess, "notes:read"}})
	e.client().signUp("consent@example.com")
	c := e.client()
	q := authzQuery(cl, "scope", "openid profile email offline_access notes:read")
	r := c.signInPage(t, c.page(authorizeURL(q)), "consent@example.com")
	next := location(t, r).String()

	page := c.page(next)
	fields := consentPage(t, page)
	mustContain(t, page, "Notes &lt;b&gt;&#34;&amp;", "consent@example.com",
		catalogEN(t, "scope.openid"), catalogEN(t, "scope.profile"), catalogEN(t, "scope.email"), catalogEN(t, "scope.offline_access"),
		"notes:read", catalogEN(t, "consent.withdraw"))
	if strings.Contains(string(page.body), `Notes <b>`) {
		t.Fatal("the application's name reached the page unescaped")
	}
	// Not frameable, not cacheable.
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || page.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("the consent page can be framed: CSP %q, X-Frame-Options %q", csp, page.Header.Get("X-Frame-Options"))
	}
	if cc := page.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("consent page Cache-Control %q", cc)
	}
	// The form carries the request (the continuation) and nothing else.
	nq, _ := url.Parse(next)
	if fields.Encode() != nq.Query().Encode() {
		t.Errorf("consent form fields %q, want the request %q", fields.Encode(), nq.Query().Encode())
	}
	// The language picker returns to the request.
	if m := regexp.MustCompile(`name="return_to" value="([^"]*)"`).FindSubmatch(page.body); m == nil || html.UnescapeString(string(m[1])) != next {
		t.Errorf("the language picker returns to %q, want %q", m, next)
	}
	mustContain(t, c.page(next, "Accept-Language", "fr"), html.EscapeString(catalogFR(t, "consent.allow")), html.EscapeString(catalogFR(t, "scope.openid")))

	// Deny: the client learns it, with state and iss; nothing is kept.
	wantClientError(t, e, c.decide(fields, "deny"), appRedirect, "access_denied")
	consentPage(t, c.page(next))

	// Hidden fields are a request like any other: tampered, refused.
	tampered := url.Values{}
	for k, vs := range fields {
		tampered[k] = vs
	}
	tampered.Set("redirect_uri", "https://evil.example/cb")
	wantErrorPage(t, c.decide(tampered, "allow"), http.StatusBadRequest)
	wantErrorPage(t, c.do("POST", consentPath, fields), http.StatusBadRequest) // no decision

	// Allow: a code; the next request skips the page.
	wantCode(t, e, c.decide(fields, "allow"), appRedirect)
	wantCode(t, e, c.page(authorizeURL(q)), appRedirect)
	// prompt=consent asks again.
	consentPage(t, c.page(authorizeURL(authzQuery(cl, "scope", "openid", "prompt", "consent"))))
	// So does a scope not allowed yet.
	cl2, _ := e.newApp(t, gatehouse.ClientSpec{Name: "Calendar"})
	wantCode(t, e, c.decide(consentPage(t, c.page(authorizeURL(authzQuery(cl2, "scope", "openid profile")))), "allow"), appRedirect)
	wantCode(t, e, c.page(authorizeURL(authzQuery(cl2, "scope", "openid"))), appRedirect)
	consentPage(t, c.page(authorizeURL(authzQuery(cl2, "scope", "openid email"))))
}

func testConsentFormGuarded(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, _ := e.newApp(t, gatehouse.ClientSpec{})
	c := e.signedInBrowser("guarded@example.com")
	fields := consentPage(t, c.page(authorizeURL(authzQuery(cl))))

	// Another site's page cannot post the form.
	r := c.decide(fields, "allow", crossSite...)
	want(t, r, http.StatusForbidden, "")
	if r.Header.Get("Location") != "" {
		t.Fatalf("a cross-site consent was answered with a redirect to %s", r.Header.Get("Location"))
	}
	consentPage(t, c.page(authorizeURL(authzQuery(cl)))) // nothing was recorded

	// Signed out, Allow sends the browser to sign in, and back to the
	// request; Deny needs no session.
	out := e.client()
	r = out.decide(fields, "allow")
	u := location(t, r)
	if u.Path != "/auth/sign-in" || !strings.HasPrefix(u.Query().Get("redirect_to"), authorizePath+"?") {
		t.Fatalf("a signed-out Allow went to %s", u)
	}
	wantClientError(t, e, out.decide(fields, "deny"), appRedirect, "access_denied")
}

func testAuthorizePromptNone(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, _ := e.newApp(t, gatehouse.ClientSpec{})
	wantClientError(t, e, e.client().page(authorizeURL(authzQuery(cl, "prompt", "none"))), appRedirect, "login_required")
	c := e.signedInBrowser("none@example.com")
	wantClientError(t, e, c.page(authorizeURL(authzQuery(cl, "prompt", "none"))), appRedirect, "consent_required")
	wantCode(t, e, c.decide(consentPage(t, c.page(authorizeURL(authzQuery(cl)))), "allow"), appRedirect)
	wantCode(t, e, c.page(authorizeURL(authzQuery(cl, "prompt", "none"))), appRedirect)
}

func testAuthorizeReauthentication(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, secret := e.newApp(t, gatehouse.ClientSpec{FirstParty: true})
	const email = "again@example.com"
	c := e.signedInBrowser(email)
	for _, extra := range [][]string{{"prompt", "login"}, {"max_age", "0"}, {"max_age", "30"}} {
		t.Run(strings.Join(extra, "="), func(t *testing.T) {
			e.clock.Advance(time.Minute) // the session's sign-in is older than the request
			before := c.cookie()
			r := c.page(authorizeURL(authzQuery(cl, extra...)))
			u := location(t, r)
			if u.Path != "/auth/sign-in" || u.Query().Get("prompt") != "login" {
				t.Fatalf("a signed-in browser was sent to %s, want the sign-in page with prompt=login", u)
			}
			// The sign-in page shows its form to the signed-in browser
			// instead of sending it straight back (which would loop).
			page := c.page(u.String())
			want(t, page, http.StatusOK, "")
			mustContain(t, page, `action="/auth/sign-in"`, `value="`+email+`"`, catalogEN(t, "sign-in.again"))
			// The continuation asks for a sign-in after now: the old
			// session does not satisfy it.
			if r := c.page(u.Query().Get("redirect_to")); location(t, r).Path != "/auth/sign-in" {
				t.Fatalf("the continuation was satisfied by the old sign-in: %s", r.Header.Get("Location"))
			}
			r = c.signInPage(t, r, email)
			if c.cookie() == before || c.cookie() == "" {
				t.Fatal("signing in again did not rotate the session")
			}
			wantCode(t, e, c.page(location(t, r).String()), appRedirect)
		})
	}
	// An id_token_hint of another user: that user must sign in here.
	hint := e.idToken(t, e.signedInBrowser("hinted@example.com"), cl, secret)
	r := c.page(authorizeURL(authzQuery(cl, "id_token_hint", hint)))
	if u := location(t, r); u.Path != "/auth/sign-in" || u.Query().Get("prompt") != "login" {
		t.Fatalf("a hint of another user sent the browser to %s", u)
	}
	r = c.signInPage(t, r, "hinted@example.com")
	wantCode(t, e, c.page(location(t, r).String()), appRedirect)

	// The language picker keeps prompt=login on the sign-in page.
	mustContain(t, c.page("/auth/sign-in?prompt=login&redirect_to=%2Fapp%2F"),
		`name="return_to" value="/auth/sign-in?prompt=login&amp;redirect_to=%2Fapp%2F"`)
	// Without it, a signed-in browser skips the sign-in page as before.
	if r := c.page("/auth/sign-in?redirect_to=%2Fapp%2F"); location(t, r).String() != "/app/" {
		t.Fatalf("sign-in page for a signed-in browser: %s", r.Header.Get("Location"))
	}
}

func testAuthorizeProtocolErrors(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, _ := e.newApp(t, gatehouse.ClientSpec{FirstParty: true})
	c := e.signedInBrowser("proto@example.com")
	tests := []struct {
		name string
		kv   []string
		code string
	}{
		{"implicit flow", []string{"response_type", "token"}, "unsupported_response_type"},
		{"no response_type", []string{"response_type", ""}, "invalid_request"},
		{"no PKCE", []string{"code_challenge", ""}, "invalid_request"},
		{"plain PKCE", []string{"code_challenge_method", "plain"}, "invalid_request"},
		{"no PKCE method", []string{"code_challenge_method", ""}, "invalid_request"},
		{"scope not allowed", []string{"scope", "openid admin"}, "invalid_scope"},
		{"prompt none and login", []string{"prompt", "none login"}, "invalid_request"},
		{"request object", []string{"request", "eyJ.e30."}, "request_not_supported"},
		{"fragment response mode", []string{"response_mode", "fragment"}, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantClientError(t, e, c.page(authorizeURL(authzQuery(cl, tc.kv...))), appRedirect, tc.code)
			// The same for a browser that is not signed in.
			wantClientError(t, e, e.client().page(authorizeURL(authzQuery(cl, tc.kv...))), appRedirect, tc.code)
		})
	}
}

func testAuthorizeFormPost(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, _ := e.newApp(t, gatehouse.ClientSpec{FirstParty: true})
	c := e.signedInBrowser("post@example.com")
	q := authzQuery(cl)
	// From this site, the form is the request.
	wantCode(t, e, c.do("POST", authorizePath, q), appRedirect)
	// From another site (the usual case), it becomes the same request as
	// a GET, which carries the session cookie.
	u := location(t, c.do("POST", authorizePath, q, crossSite...))
	if u.Path != authorizePath || u.Query().Encode() != q.Encode() {
		t.Fatalf("a cross-site POST went to %s, want the request as a GET", u)
	}
	wantCode(t, e, c.page(u.String()), appRedirect)
	// Unknown parameters are not carried over.
	q2 := authzQuery(cl)
	q2.Set("lang", "fr")
	if u := location(t, c.do("POST", authorizePath, q2, crossSite...)); u.Query().Has("lang") {
		t.Fatalf("an unknown parameter was carried: %s", u)
	}
	// An invalid request is refused on a page, from any site.
	wantErrorPage(t, c.do("POST", authorizePath, authzQuery(cl, "redirect_uri", "https://evil.example/cb"), crossSite...), http.StatusBadRequest)
	wantClientError(t, e, c.do("POST", authorizePath, authzQuery(cl, "response_type", "token"), crossSite...), appRedirect, "unsupported_response_type")
}

// idToken has browser c, signed in, authorize the first-party cl and
// returns the ID token the client gets.
func (e *env) idToken(t *testing.T, c *client, cl gatehouse.OAuthClient, secret string) string {
	t.Helper()
	code := wantCode(t, e, c.page(authorizeURL(authzQuery(cl))), appRedirect)
	tok, _ := e.tokens(t, cl, secret, code)["id_token"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("no ID token")
	}
	return tok
}

func testRPLogout(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, secret := e.newApp(t, gatehouse.ClientSpec{FirstParty: true})
	signedIn := func(c *client) bool {
		t.Helper()
		return c.do("GET", "/auth/api/session", nil).StatusCode == http.StatusOK
	}

	// A valid id_token_hint of the signed-in user: signed out at once,
	// back to the registered URI with state.
	c := e.signedInBrowser("logout@example.com")
	hint := e.idToken(t, c, cl, secret)
	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {appLogout}, "state": {"bye-1"}}
	r := c.page(logoutPath + "?" + q.Encode())
	if got := location(t, r).String(); got != appLogout+"?state=bye-1" {
		t.Fatalf("logout redirected to %q", got)
	}
	if signedIn(c) || c.cookie() != "" {
		t.Fatal("the session survived the logout")
	}
	// Signed out already: straight back.
	if got := location(t, c.page(logoutPath+"?"+q.Encode())).String(); got != appLogout+"?state=bye-1" {
		t.Fatalf("logout when signed out redirected to %q", got)
	}
	if got := location(t, c.page(logoutPath)).String(); got != "/auth/sign-in?notice=signed_out" {
		t.Fatalf("bare logout when signed out redirected to %q", got)
	}

	// Without a hint: a confirmation page; only its POST signs out.
	c = e.signedInBrowser("confirm@example.com")
	q = url.Values{"client_id": {cl.ID}, "post_logout_redirect_uri": {appLogout}, "state": {"bye-2"}}
	page := c.page(logoutPath + "?" + q.Encode())
	want(t, page, http.StatusOK, "")
	mustContain(t, page, `class="page-logout`, "Notes", "confirm@example.com")
	if !signedIn(c) {
		t.Fatal("the confirmation page signed out")
	}
	fields := formFields(t, page, logoutPath)
	if fields.Get("confirm") != "1" || fields.Get("client_id") != cl.ID || fields.Get("state") != "bye-2" {
		t.Fatalf("confirmation form fields %v", fields)
	}
	// Another site cannot post the confirmation: its POST becomes the
	// request as a GET, without confirm.
	u := location(t, c.do("POST", logoutPath, fields, crossSite...))
	if u.Path != logoutPath || u.Query().Has("confirm") || u.Query().Get("client_id") != cl.ID {
		t.Fatalf("a cross-site confirmation went to %s", u)
	}
	if !signedIn(c) {
		t.Fatal("a cross-site POST signed out")
	}
	// A POST without confirm asks again.
	unconfirmed := url.Values{}
	for k, vs := range fields {
		if k != "confirm" {
			unconfirmed[k] = vs
		}
	}
	want(t, c.do("POST", logoutPath, unconfirmed), http.StatusOK, "")
	if !signedIn(c) {
		t.Fatal("a POST without confirm signed out")
	}
	if got := location(t, c.do("POST", logoutPath, fields)).String(); got != appLogout+"?state=bye-2" {
		t.Fatalf("confirmed logout redirected to %q", got)
	}
	if signedIn(c) {
		t.Fatal("the confirmed logout left the session")
	}

	// Another user's hint is not a confirmation.
	other := e.signedInBrowser("other@example.com")
	page = other.page(logoutPath + "?" + url.Values{"id_token_hint": {hint}}.Encode())
	want(t, page, http.StatusOK, "")
	if !signedIn(other) {
		t.Fatal("another user's id_token_hint signed this one out")
	}

	// Invalid requests are shown on a page, never redirected, and change
	// nothing.
	for name, q := range map[string]url.Values{
		"unregistered URI":  {"client_id": {cl.ID}, "post_logout_redirect_uri": {"https://evil.example/bye"}},
		"redirect URI only": {"post_logout_redirect_uri": {appLogout}},
		"forged hint":       {"id_token_hint": {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.x"}, "post_logout_redirect_uri": {appLogout}},
		"unknown client":    {"client_id": {"cli_nosuchclient00000000000000"}, "post_logout_redirect_uri": {appLogout}},
		"hint of another client": {"id_token_hint": {hint}, "client_id": {"cli_nosuchclient00000000000000"},
			"post_logout_redirect_uri": {appLogout}},
	} {
		t.Run(name, func(t *testing.T) {
			r := other.page(logoutPath + "?" + q.Encode())
			wantErrorPage(t, r, http.StatusBadRequest)
			mustContain(t, r, catalogEN(t, "oauth.logout_invalid"))
			wantErrorPage(t, other.do("POST", logoutPath, url.Values{"confirm": {"1"}, "client_id": q["client_id"],
				"post_logout_redirect_uri": q["post_logout_redirect_uri"], "id_token_hint": q["id_token_hint"]}), http.StatusBadRequest)
			if !signedIn(other) {
				t.Fatal("an invalid logout request signed out")
			}
		})
	}
}

func testConnectedApps(t *testing.T, b backend) {
	e := newProviderEnv(t, b)
	cl, secret := e.newApp(t, gatehouse.ClientSpec{Name: "Notes"})
	c := e.signedInBrowser("apps@example.com")
	page := c.page("/auth/account")
	want(t, page, http.StatusOK, "")
	mustContain(t, page, `id="apps"`, catalogEN(t, "account.apps.title"), catalogEN(t, "account.apps.empty"))

	fields := consentPage(t, c.page(authorizeURL(authzQuery(cl, "scope", "openid profile offline_access"))))
	tok := e.tokens(t, cl, secret, wantCode(t, e, c.decide(fields, "allow"), appRedirect))
	refresh, _ := tok["refresh_token"].(string)
	if refresh == "" {
		t.Fatalf("no refresh token: %v", tok)
	}

	page = c.page("/auth/account")
	action := "/auth/account/apps/" + cl.ID + "/revoke"
	mustContain(t, page, ">Notes<", catalogEN(t, "scope.profile"), catalogEN(t, "scope.offline_access"),
		strings.ReplaceAll(catalogEN(t, "account.apps.allowed"), "{when}", "2026-11-27 13:00 UTC"), `action="`+action+`"`)
	if strings.Contains(string(page.body), catalogEN(t, "account.apps.empty")) {
		t.Fatal("the empty state shows beside a connected app")
	}
	mustContain(t, c.page("/auth/account", "Accept-Language", "fr"), html.EscapeString(catalogFR(t, "account.apps.revoke")))

	// Another site cannot remove it.
	want(t, c.do("POST", action, url.Values{}, crossSite...), http.StatusForbidden, "")

	if got := location(t, c.do("POST", action, url.Values{})).String(); got != "/auth/account?notice=app_revoked#apps" {
		t.Fatalf("Remove access redirected to %q", got)
	}
	page = c.page("/auth/account?notice=app_revoked")
	mustContain(t, page, catalogEN(t, "notice.app_revoked"), catalogEN(t, "account.apps.empty"))
	if strings.Contains(string(page.body), action) {
		t.Fatal("the app is still listed")
	}
	// Its tokens died with the consent.
	r := e.client().do("POST", "/auth/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}},
		"Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(cl.ID)+":"+url.QueryEscape(secret))))
	if r.StatusCode != http.StatusBadRequest || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("refresh after Remove access: %d %s", r.StatusCode, r.body)
	}
	// And it must ask again.
	consentPage(t, c.page(authorizeURL(authzQuery(cl))))
	// Removing it again, or an app never allowed: not found.
	want(t, c.do("POST", action, url.Values{}), http.StatusNotFound, "")
	want(t, c.do("POST", "/auth/account/apps/cli_nosuchclient00000000000000/revoke", url.Values{}), http.StatusNotFound, "")
	// Signed out: to sign in, as every account form.
	if r := e.client().do("POST", action, url.Values{}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signed-out Remove access: %d", r.StatusCode)
	}
}
