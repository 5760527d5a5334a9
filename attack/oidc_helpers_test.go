package attack_test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"hash"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	_ "modernc.org/sqlite" // the driver the binary writes its SQLite file with
)

// Helpers for the OpenID Connect attacks (oidc_test.go): the binary used as
// a provider, clients registered through `gatehouse clients create
// --json`, the code flow walked by a browser-like Client, the machine
// endpoints called with each way a client authenticates, and the record of
// every secret the attacks were given, which neither the logs nor the
// database may hold.

// provider is a running gatehouse used as an OpenID Provider.
type provider struct {
	*Server
	// issuer is the public URL and base path: what discovery announces.
	issuer string

	mu      sync.Mutex
	secrets map[string]string // value → what it is
}

// startProvider starts the binary with the rate limits lifted and the
// settings. When the test ends it fails if a secret the test recorded
// reached the logs, and shows the server's warnings if the test failed.
func startProvider(t *testing.T, settings ...string) *provider {
	t.Helper()
	return newProvider(t, Start(t, slices.Concat(Relaxed, settings)...))
}

// forEachProviderBackend runs fn as a subtest on each database (see
// dbBackends), each with a provider of its own started with the settings.
func forEachProviderBackend(t *testing.T, settings []string, fn func(t *testing.T, p *provider)) {
	for _, b := range dbBackends {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newProvider(t, startOn(t, b, slices.Concat(Relaxed, settings)...)))
		})
	}
}

// newProvider is s used as a provider.
func newProvider(t *testing.T, s *Server) *provider {
	t.Helper()
	p := &provider{Server: s, issuer: s.URL + "/auth", secrets: map[string]string{}}
	t.Cleanup(func() { logServerErrors(t, s) })
	t.Cleanup(func() { p.checkLogs(t) })
	return p
}

// keep records a secret the logs and the database must not contain. A
// JWT's signature is recorded on its own too, as a log line may hold a
// truncated token.
func (p *provider) keep(what, v string) {
	if v == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secrets[v] = what
	if parts := strings.Split(v, "."); len(parts) == 3 && len(parts[2]) >= 20 {
		p.secrets[parts[2]] = what + " (its signature)"
	}
}

// kept returns the recorded secrets (value → what).
func (p *provider) kept() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.secrets))
	for k, v := range p.secrets {
		out[k] = v
	}
	return out
}

// checkLogs fails the test if a recorded secret, or anything with a
// client secret's prefix, is in what the server printed.
func (p *provider) checkLogs(t *testing.T) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // the last lines are still in the pipe
	logs := p.Logs()
	for v, what := range p.kept() {
		if strings.Contains(logs, v) {
			t.Errorf("the logs hold a secret: %s", what)
		}
	}
	if strings.Contains(logs, "ghcs_") {
		t.Errorf("a client secret (prefix ghcs_) reached the logs")
	}
}

// logged reports whether the server logged s within a few seconds (its
// output reaches the test through a pipe).
func (p *provider) logged(s string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.Logs(), s) {
			return true
		}
	}
	return false
}

// browser is a new client signed up (and so signed in) as email.
func (p *provider) browser(email string) *Client {
	c := p.Client()
	c.SignUp(email)
	return c
}

// rp is a client registered with the provider.
type rp struct {
	p        *provider
	id       string
	secret   string
	method   string // auth_method as registered
	redirect string // its first redirect URI
}

// register runs `gatehouse clients create --name name [--redirect-uri
// redirect] args… --json` and returns the client.
func (p *provider) register(t *testing.T, name, redirect string, args ...string) *rp {
	t.Helper()
	argv := []string{"clients", "create", "--name", name, "--json"}
	if redirect != "" {
		argv = append(argv, "--redirect-uri", redirect)
	}
	out := p.CLI("", append(argv, args...)...)
	var reg struct {
		ID           string `json:"id"`
		AuthMethod   string `json:"auth_method"`
		ClientSecret string `json:"client_secret"`
		Issuer       string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(out), &reg); err != nil || !strings.HasPrefix(reg.ID, "cli_") || reg.Issuer != p.issuer {
		t.Fatalf("clients create --json printed %q (%v); want a cli_ id and the issuer %s", out, err, p.issuer)
	}
	p.keep("client secret", reg.ClientSecret)
	return &rp{p: p, id: reg.ID, secret: reg.ClientSecret, method: reg.AuthMethod, redirect: redirect}
}

// authReq is an authorization request with PKCE (S256), state and nonce,
// and the verifier that redeems its code.
type authReq struct {
	c        *rp
	q        url.Values
	verifier string
}

// request starts a code flow request of c for scope; tests change q.
func (c *rp) request(scope string) *authReq {
	v := newVerifier()
	return &authReq{c: c, verifier: v, q: url.Values{
		"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.redirect}, "scope": {scope},
		"state": {rand.Text()}, "nonce": {rand.Text()},
		"code_challenge": {challengeOf(v)}, "code_challenge_method": {"S256"},
	}}
}

// newVerifier is a fresh PKCE code verifier (43 characters).
func newVerifier() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// challengeOf is the S256 challenge of a verifier (RFC 7636 §4.2).
func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// path is the request as a path of the provider.
func (a *authReq) path() string { return "/auth/oauth2/authorize?" + a.q.Encode() }

// htmlHeaders are what a browser sends with a page request.
var htmlHeaders = []string{"Accept", "text/html"}

// page GETs a page of the provider as a browser navigating to it does.
func page(b *Client, path string, header ...string) Reply {
	return b.Do("GET", path, nil, append(slices.Clone(htmlHeaders), header...)...)
}

// submit posts a page's form from the provider's own origin.
func (p *provider) submit(b *Client, path string, form url.Values) Reply {
	return b.Do("POST", path, form, slices.Concat(htmlHeaders, sameOriginHeaders(p.Server))...)
}

// consentPath is where the consent form posts.
const consentPath = "/auth/oauth2/authorize/consent"

// consent returns the hidden fields of a consent page's form; the test
// fails when r is not a consent page.
func consent(t *testing.T, r Reply) url.Values {
	t.Helper()
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("not the consent page: %d %v %.400s", r.Status, r.Header, r.Body)
	}
	for _, f := range pageForms(r.Body) {
		if strings.HasSuffix(f.action, "/oauth2/authorize/consent") {
			return f.hidden
		}
	}
	t.Fatalf("the page has no consent form: %.2000s", r.Body)
	return nil
}

// authorize sends the request through the signed-in browser b, allowing
// the client if asked, and returns the final reply: the 303 to the client
// when all went well.
func (a *authReq) authorize(t *testing.T, b *Client) Reply {
	t.Helper()
	r := page(b, a.path())
	if r.Status == 200 {
		f := consent(t, r)
		f.Set("decision", "allow")
		r = a.c.p.submit(b, consentPath, f)
	}
	return r
}

// code sends the request through b and returns the code the client gets;
// anything else fails the test.
func (a *authReq) code(t *testing.T, b *Client) string {
	t.Helper()
	r := a.authorize(t, b)
	loc := clientRedirect(t, r, a.q.Get("redirect_uri"))
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != a.q.Get("state") {
		t.Fatalf("the redirect to the client has no code or the wrong state: %s", loc)
	}
	a.c.p.keep("authorization code", code)
	return code
}

// clientRedirect checks that r is a 303 to the client's redirect URI (its
// query aside) and returns where it goes.
func clientRedirect(t *testing.T, r Reply, redirectURI string) *url.URL {
	t.Helper()
	loc := r.Header.Get("Location")
	base, _, _ := strings.Cut(loc, "?")
	want, _, _ := strings.Cut(redirectURI, "?")
	if r.Status != http.StatusSeeOther || base != want {
		t.Fatalf("%d Location %q, want a 303 to %s; %.400s", r.Status, loc, redirectURI, r.Body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u
}

// call posts form to a machine endpoint (/auth/oauth2/…) with c's own
// client authentication and the extra headers.
func (c *rp) call(path string, form url.Values, header ...string) Reply {
	form = cloneForm(form)
	switch c.method {
	case "client_secret_basic":
		header = append(header, "Authorization", basicAuth(c.id, c.secret))
	case "client_secret_post":
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	case "none":
		form.Set("client_id", c.id)
	}
	return c.p.Client().Do("POST", path, form, header...)
}

// token calls the token endpoint as c.
func (c *rp) token(form url.Values, header ...string) Reply {
	return c.call("/auth/oauth2/token", form, header...)
}

// exchange redeems code with the verifier as c, for the request a.
func (c *rp) exchange(a *authReq, code, verifier string) Reply {
	return c.token(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {a.q.Get("redirect_uri")}, "code_verifier": {verifier}})
}

// refresh uses a refresh token as c.
func (c *rp) refresh(token string) Reply {
	return c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
}

// introspect asks about a token as c.
func (c *rp) introspect(token string) Reply {
	return c.call("/auth/oauth2/introspect", url.Values{"token": {token}})
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// basicAuth is HTTP Basic with the form-urlencoded id and secret (RFC 6749
// §2.3.1).
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// tokenSet is a successful token response.
type tokenSet struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	ID      string `json:"id_token"`
	Type    string `json:"token_type"`
}

// tokens decodes a successful token response, records its tokens, and
// fails the test for anything else.
func (p *provider) tokens(t *testing.T, what string, r Reply) tokenSet {
	t.Helper()
	var ts tokenSet
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &ts) != nil || ts.Access == "" || ts.Type != "Bearer" {
		t.Fatalf("%s: %d %.400s, want tokens", what, r.Status, r.Body)
	}
	if !strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("%s: Cache-Control %q on tokens, want no-store (RFC 6749 §5.1)", what, r.Header.Get("Cache-Control"))
	}
	p.keep("access token", ts.Access)
	p.keep("refresh token", ts.Refresh)
	p.keep("ID token", ts.ID)
	return ts
}

// flow runs the whole code flow of c for b and returns the tokens.
func (c *rp) flow(t *testing.T, b *Client, scope string) tokenSet {
	t.Helper()
	a := c.request(scope)
	code := a.code(t, b)
	return c.p.tokens(t, "code exchange", c.exchange(a, code, a.verifier))
}

// userinfo calls the userinfo endpoint with a Bearer token.
func (p *provider) userinfo(token string) Reply {
	return p.Client().Do("GET", "/auth/oauth2/userinfo", nil, "Authorization", "Bearer "+token)
}

// checkOAuthError fails unless r is status (any 4xx when status is 0)
// with the error shape of RFC 6749 §5.2 — a JSON object of error and
// error_description only — with code as its error (any code when code is
// ""), no token, and nothing internal in it.
func checkOAuthError(t *testing.T, what string, r Reply, status int, code string) {
	t.Helper()
	var body map[string]any
	err := json.Unmarshal([]byte(r.Body), &body)
	switch {
	case status == 0 && (r.Status < 400 || r.Status > 499), status != 0 && r.Status != status:
		t.Errorf("%s: %d %.300s, want %d %s", what, r.Status, r.Body, status, code)
		return
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		t.Errorf("%s: Content-Type %q, want application/json; %.300s", what, r.Header.Get("Content-Type"), r.Body)
	case err != nil:
		t.Errorf("%s: the body is not JSON: %.300s", what, r.Body)
		return
	}
	e, _ := body["error"].(string)
	if e == "" || code != "" && e != code {
		t.Errorf("%s: error %v, want %q; %.300s", what, body["error"], code, r.Body)
	}
	for k := range body {
		if k != "error" && k != "error_description" {
			t.Errorf("%s: the error carries %q: %.300s", what, k, r.Body)
		}
	}
	if loc := internalLeak.FindString(r.Body); loc != "" {
		t.Errorf("%s: internal text %q in the answer: %.300s", what, loc, r.Body)
	}
}

// checkErrorPage fails unless r is a 400 HTML page that sends the browser
// nowhere (no Location).
func checkErrorPage(t *testing.T, what string, r Reply) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("%s: %d Location %q Content-Type %q, want a 400 page and no redirect; %.300s",
			what, r.Status, r.Header.Get("Location"), r.Header.Get("Content-Type"), r.Body)
	}
}

// htmlForm is a form of a page: where it posts and its hidden fields.
type htmlForm struct {
	action string
	hidden url.Values
}

// pageForms lists the forms of a page as a browser parses them.
func pageForms(body string) []htmlForm {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil
	}
	var forms []htmlForm
	var visit func(n *html.Node, form int)
	visit = func(n *html.Node, form int) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				forms = append(forms, htmlForm{action: attrOf(n, "action"), hidden: url.Values{}})
				form = len(forms) - 1
			case atom.Input:
				if form >= 0 && strings.EqualFold(attrOf(n, "type"), "hidden") && attrOf(n, "name") != "" {
					forms[form].hidden.Add(attrOf(n, "name"), attrOf(n, "value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c, form)
		}
	}
	visit(doc, -1)
	return forms
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// checkNoMarkupInjected parses a page as a browser would and fails if it
// holds anything a reflected payload made: a script or image element, or
// an event-handler attribute, whose content mentions marker.
func checkNoMarkupInjected(t *testing.T, what, body, marker string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: the page does not parse: %v", what, err)
	}
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		t.Helper()
		if n.Type == html.ElementNode {
			if n.DataAtom == atom.Script || n.DataAtom == atom.Img || n.DataAtom == atom.Svg || n.DataAtom == atom.Iframe {
				var sb strings.Builder
				html.Render(&sb, n)
				if strings.Contains(sb.String(), marker) {
					t.Errorf("%s: an injected <%s> element: %s", what, n.Data, sb.String())
				}
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") || strings.Contains(a.Key, marker) {
					t.Errorf("%s: an injected attribute %s=%q on <%s>", what, a.Key, a.Val, n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(doc)
}

// formBurst is Burst with form bodies.
func formBurst(s *Server, n int, path string, form func(i int) url.Values, header ...string) []Reply {
	s.t.Helper()
	header = append(header, "Content-Type", "application/x-www-form-urlencoded")
	return s.Burst(n, "POST", path, func(i int) string { return form(i).Encode() }, header...)
}

// database opens the server's SQLite file read-only, with the driver the
// binary uses; it is closed when the test ends.
func (p *provider) database(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(p.DataDir, "gatehouse.db")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the SQLite file: %v", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// count runs a SELECT count(*) on the server's database.
func (p *provider) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := p.database(t).QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// rsaClientKey is a private_key_jwt client's key pair and its JWKS.
type rsaClientKey struct {
	key  *rsa.PrivateKey
	kid  string
	jwks string
}

// newRSAClientKey makes an RS256 key and the JWKS that registers it.
func newRSAClientKey(t *testing.T, kid string) rsaClientKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := big64(k.E)
	set := map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "e": e}}}
	js, _ := json.Marshal(set)
	return rsaClientKey{key: k, kid: kid, jwks: string(js)}
}

// big64 is a small exponent as base64url big-endian bytes.
func big64(e int) string {
	var b []byte
	for ; e > 0; e >>= 8 {
		b = append([]byte{byte(e)}, b...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signRS256 signs a JWS over header and claims with k.
func (k rsaClientKey) signRS256(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	input := jwsPart(header) + "." + jwsPart(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// clientAssertionType is private_key_jwt's client_assertion_type (RFC 7523).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionForm is the form of a private_key_jwt authentication.
func assertionForm(assertion string) url.Values {
	return url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {assertion}}
}

// assertionClaims are a valid assertion's claims for client and issuer.
func assertionClaims(client, issuer string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": client, "sub": client, "aud": issuer, "jti": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
}

// header is a JWS header for alg with k's kid.
func (k rsaClientKey) header(alg string) map[string]any {
	return map[string]any{"alg": alg, "kid": k.kid, "typ": "JWT"}
}

// signHMAC signs a JWS with an HMAC algorithm keyed with key.
func signHMAC(alg string, key []byte, header, claims map[string]any) string {
	h := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}[alg]
	input := jwsPart(header) + "." + jwsPart(claims)
	m := hmac.New(h, key)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// withConfirm is q with confirm=1, as the confirmation form posts it.
func withConfirm(q url.Values) url.Values {
	f := cloneForm(q)
	f.Set("confirm", "1")
	return f
}

// withClient is form with client_id and, when not empty, client_secret.
func withClient(form url.Values, id, secret string) url.Values {
	f := cloneForm(form)
	f.Set("client_id", id)
	if secret != "" {
		f.Set("client_secret", secret)
	}
	return f
}
