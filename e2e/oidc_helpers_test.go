package e2e_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
)

// oidcPassword is every OIDC test user's password. The logs must never
// hold it.
const oidcPassword = "a long passphrase for the provider"

// rpHTTP is the relying party's HTTP client, for go-oidc and x/oauth2 (which
// find it in the context) and for the raw requests of the tests.
var rpHTTP = &http.Client{Timeout: 30 * time.Second}

// oidcOP is a `gatehouse serve` used as an OpenID Provider. Its public URL
// is its own loopback address, so the issuer it announces is reachable, and
// it logs at debug level so that a secret in any log line is caught.
type oidcOP struct {
	*node
	issuer   string
	ctx      context.Context // carries rpHTTP
	provider *oidc.Provider
	meta     map[string]any // the discovery document

	mu      sync.Mutex
	secrets map[string]string // value → what it is, to look for in the logs
}

// startOIDC starts the binary with settings (NAME=value) and discovers it
// with go-oidc. When the test ends it fails the test if a secret seen by
// the test (client secret, code, token, password) reached the logs.
func startOIDC(t *testing.T, settings ...string) *oidcOP {
	t.Helper()
	built := time.Now()
	bin := buildBinary(t)
	if d := time.Since(built); d > time.Second {
		t.Logf("go build took %v", d.Round(time.Millisecond))
	}
	n := serveNode(t, bin, t.TempDir(), append([]string{"GATEHOUSE_LOG_LEVEL=debug"}, settings...)...)
	o := &oidcOP{node: n, issuer: n.url + "/auth", ctx: oidc.ClientContext(t.Context(), rpHTTP), secrets: map[string]string{}}
	o.keep("password", oidcPassword)
	t.Cleanup(o.checkLogs)
	p, err := oidc.NewProvider(o.ctx, o.issuer)
	if err != nil {
		t.Fatalf("discovery of %s: %v", o.issuer, err)
	}
	o.provider = p
	if err := p.Claims(&o.meta); err != nil {
		t.Fatal(err)
	}
	return o
}

// keep records a secret value the logs must not contain. A JWT's signature
// is recorded on its own too: a log line may hold a truncated token.
func (o *oidcOP) keep(what, v string) {
	if v == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.secrets[v] = what
	if parts := strings.Split(v, "."); len(parts) == 3 && len(parts[2]) >= 20 {
		o.secrets[parts[2]] = what + " (its signature)"
	}
}

// keepToken records every token of a token response.
func (o *oidcOP) keepToken(tok *oauth2.Token) {
	if tok == nil {
		return
	}
	o.keep("access token", tok.AccessToken)
	o.keep("refresh token", tok.RefreshToken)
	if id, ok := tok.Extra("id_token").(string); ok {
		o.keep("ID token", id)
	}
}

// checkLogs fails the test if a recorded secret, or anything shaped like a
// client secret, appears in what the process printed.
func (o *oidcOP) checkLogs() {
	t := o.t
	logs := o.logs()
	if !strings.Contains(logs, "Listening on") {
		t.Errorf("the logs were not captured: %q", logs)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	leaked := false
	for v, what := range o.secrets {
		if strings.Contains(logs, v) {
			t.Errorf("a %s reached the logs", what)
			leaked = true
		}
	}
	if strings.Contains(logs, gatehouse.ClientSecretPrefix) {
		t.Errorf("a client secret (prefix %s) reached the logs", gatehouse.ClientSecretPrefix)
		leaked = true
	}
	if !leaked {
		t.Logf("the logs (%d bytes) hold none of the %d secrets the test saw", len(logs), len(o.secrets))
	}
}

// cli runs a gatehouse command on the server's data and settings, with
// stdin as its input, and returns its standard output.
func (o *oidcOP) cli(stdin string, args ...string) string {
	o.t.Helper()
	cmd := exec.Command(o.bin, args...)
	cmd.Dir, cmd.Env = o.dir, o.env
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		o.t.Fatalf("gatehouse %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// account is a user of the provider and what signs it in.
type account struct {
	id, email, name string
}

// createUser creates a verified account with oidcPassword through the CLI.
func (o *oidcOP) createUser(email, name string) account {
	o.t.Helper()
	out := o.cli(oidcPassword+"\n", "users", "create", "--email", email, "--name", name, "--verified", "--password-stdin", "--json")
	var u struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &u); err != nil || !strings.HasPrefix(u.ID, "usr_") {
		o.t.Fatalf("users create --json printed %q: %v", out, err)
	}
	return account{id: u.ID, email: email, name: name}
}

// oidcClient is a relying party registered with the provider.
type oidcClient struct {
	o        *oidcOP
	id       string
	secret   string
	method   string // token endpoint authentication
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier // RS256 only, the default of every client
}

// register runs `gatehouse clients create --name name --redirect-uri
// redirect args... --json` and returns the client, configured to use
// redirect and the scopes openid, profile and email.
func (o *oidcOP) register(name, redirect string, args ...string) *oidcClient {
	o.t.Helper()
	argv := append([]string{"clients", "create", "--name", name, "--redirect-uri", redirect}, args...)
	out := o.cli("", append(argv, "--json")...)
	var reg struct {
		ID           string `json:"id"`
		AuthMethod   string `json:"auth_method"`
		ClientSecret string `json:"client_secret"`
		Issuer       string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(out), &reg); err != nil || !strings.HasPrefix(reg.ID, "cli_") {
		o.t.Fatalf("clients create --json printed %q: %v", out, err)
	}
	if reg.Issuer != o.issuer {
		o.t.Errorf("clients create --json gives the issuer %q, the server %q", reg.Issuer, o.issuer)
	}
	method := reg.AuthMethod
	switch {
	case method == "none" && reg.ClientSecret != "":
		o.t.Fatalf("a public client was given a secret")
	case (method == "client_secret_basic" || method == "client_secret_post") && !strings.HasPrefix(reg.ClientSecret, gatehouse.ClientSecretPrefix):
		o.t.Fatalf("clients create --json gave a %s client the secret %q", method, reg.ClientSecret)
	}
	o.keep("client secret", reg.ClientSecret)
	style := oauth2.AuthStyleInHeader
	if method != "client_secret_basic" {
		style = oauth2.AuthStyleInParams
	}
	ep := o.provider.Endpoint()
	ep.AuthStyle = style
	return &oidcClient{
		o: o, id: reg.ID, secret: reg.ClientSecret, method: method,
		conf: oauth2.Config{ClientID: reg.ID, ClientSecret: reg.ClientSecret, Endpoint: ep, RedirectURL: redirect,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"}},
		verifier: o.provider.Verifier(&oidc.Config{ClientID: reg.ID, SupportedSigningAlgs: []string{oidc.RS256}}),
	}
}

// authRequest is an authorization request of a client and what it keeps
// to check the answer.
type authRequest struct {
	c                      *oidcClient
	state, nonce, verifier string
	q                      url.Values
}

// request starts a code flow request with PKCE (S256), state and nonce for
// scope; tests change q before sending it.
func (c *oidcClient) request(scope string) *authRequest {
	r := &authRequest{c: c, state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier()}
	r.q = url.Values{
		"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.conf.RedirectURL}, "scope": {scope},
		"state": {r.state}, "nonce": {r.nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(r.verifier)}, "code_challenge_method": {"S256"},
	}
	return r
}

func (r *authRequest) url() string { return r.c.conf.Endpoint.AuthURL + "?" + r.q.Encode() }

// walkOpts says how the browser answers the provider's pages.
type walkOpts struct {
	signIn   *account // answers a sign-in page; nil: the walk stops there
	decision string   // answers a consent page (allow, deny); "": the walk stops there
}

// landing is where an authorization request ended.
type landing struct {
	pages    []string // the provider's pages shown, in order ("sign-in", "consent")
	trail    []string // every URL requested, for failure messages
	redirect *url.URL // the redirect to the client, or nil
	last     reply    // the last response, when the walk stopped at the provider
	signInAt string   // the body of the (last) sign-in page
}

// param is a parameter of the redirect to the client.
func (l landing) param(k string) string {
	if l.redirect == nil {
		return ""
	}
	return l.redirect.Query().Get(k)
}

// signInAndAllow signs a in when asked and allows the client.
func signInAndAllow(a account) walkOpts { return walkOpts{signIn: &a, decision: "allow"} }

// allowOnly allows the client, but stops at a sign-in page.
var allowOnly = walkOpts{decision: "allow"}

// walk sends the browser b to start and follows the provider's 303s as a
// browser does, filling the sign-in and consent forms as opts says, until
// a redirect to redirectURI (compared without its query), a page it does
// not answer, or an error. Every redirect to the client must carry iss
// (RFC 9207); a code in it is recorded as a secret.
func (o *oidcOP) walk(b *user, start, redirectURI string, opts walkOpts) landing {
	t := o.t
	t.Helper()
	target := mustURL(t, redirectURI)
	var l landing
	cur := start
	l.trail = append(l.trail, cur)
	r := b.page(cur)
	for range 16 {
		switch {
		case r.status == http.StatusSeeOther || r.status == http.StatusFound || r.status == http.StatusTemporaryRedirect:
			loc, err := mustURL(t, cur).Parse(r.header.Get("Location"))
			if err != nil {
				t.Fatalf("GET %s: Location %q: %v", cur, r.header.Get("Location"), err)
			}
			if loc.Scheme == target.Scheme && loc.Host == target.Host && loc.Path == target.Path {
				l.redirect = loc
				o.keep("authorization code", loc.Query().Get("code"))
				if got := loc.Query().Get("iss"); got != o.issuer {
					t.Errorf("the redirect to the client carries iss=%q, want %q (RFC 9207)", got, o.issuer)
				}
				return l
			}
			if loc.Scheme+"://"+loc.Host != o.url {
				t.Fatalf("redirected to %s, neither the provider nor the client (%s); trail %v", loc, redirectURI, l.trail)
			}
			cur = loc.String()
			l.trail = append(l.trail, cur)
			r = b.page(cur)
		case r.status == http.StatusOK && strings.HasPrefix(r.header.Get("Content-Type"), "text/html"):
			forms := parseForms(r.body)
			if f, ok := o.findForm(cur, forms, "/auth/sign-in"); ok {
				l.pages, l.signInAt = append(l.pages, "sign-in"), r.body
				if opts.signIn == nil {
					l.last = r
					return l
				}
				f.values.Set("email", opts.signIn.email)
				f.values.Set("password", oidcPassword)
				cur, r = o.submitForm(b, cur, f)
				l.trail = append(l.trail, "POST "+cur)
				continue
			}
			if f, ok := o.findForm(cur, forms, "/auth/oauth2/authorize/consent"); ok {
				l.pages = append(l.pages, "consent")
				if opts.decision == "" {
					l.last = r
					return l
				}
				if !slices.Contains(f.buttons, "decision="+opts.decision) {
					t.Errorf("the consent form has no control decision=%s: buttons %v", opts.decision, f.buttons)
				}
				f.values.Set("decision", opts.decision)
				cur, r = o.submitForm(b, cur, f)
				l.trail = append(l.trail, "POST "+cur)
				continue
			}
			l.last = r
			return l
		default:
			l.last = r
			return l
		}
	}
	t.Fatalf("an authorization request took more than 16 steps (a redirect loop?): %v", l.trail)
	return l
}

// submitForm posts a page's form from the provider's origin, as a browser
// does, and returns the URL posted to and the response.
func (o *oidcOP) submitForm(b *user, page string, f htmlForm) (string, reply) {
	o.t.Helper()
	action, err := mustURL(o.t, page).Parse(f.action)
	if err != nil {
		o.t.Fatalf("form action %q: %v", f.action, err)
	}
	if !strings.EqualFold(f.method, "post") {
		o.t.Fatalf("the form to %s is not a POST form (method %q)", f.action, f.method)
	}
	return action.String(), b.do("POST", action.String(), f.values.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", o.url, "Accept", "text/html")
}

// findForm finds the form that posts to path (resolved against page).
func (o *oidcOP) findForm(page string, forms []htmlForm, path string) (htmlForm, bool) {
	for _, f := range forms {
		u, err := mustURL(o.t, page).Parse(f.action)
		if err == nil && u.Path == path && (u.Host == "" || u.Scheme+"://"+u.Host == o.url) {
			return f, true
		}
	}
	return htmlForm{}, false
}

// htmlForm is a form of a page as a browser sees it.
type htmlForm struct {
	action, method string
	// values is what the browser submits untouched: hidden and text
	// inputs with their values, and checked boxes.
	values url.Values
	// buttons are the named submit controls as "name=value".
	buttons []string
	// inputs are every named input, as "name:type".
	inputs []string
}

// parseForms lists the forms of an HTML page.
func parseForms(body string) []htmlForm {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil
	}
	var forms []htmlForm
	cur := -1
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				forms = append(forms, htmlForm{action: attr(n, "action"), method: attr(n, "method"), values: url.Values{}})
				outer := cur
				cur = len(forms) - 1
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					visit(c)
				}
				cur = outer
				return
			case atom.Input:
				if cur < 0 || attr(n, "name") == "" {
					break
				}
				f, name, typ := &forms[cur], attr(n, "name"), strings.ToLower(attr(n, "type"))
				f.inputs = append(f.inputs, name+":"+typ)
				switch typ {
				case "", "hidden", "text", "email":
					f.values.Add(name, attr(n, "value"))
				case "checkbox", "radio":
					if hasAttr(n, "checked") {
						f.values.Add(name, cmp.Or(attr(n, "value"), "on"))
					}
				case "submit":
					f.buttons = append(f.buttons, name+"="+attr(n, "value"))
				}
			case atom.Button:
				if cur >= 0 && attr(n, "name") != "" {
					forms[cur].buttons = append(forms[cur].buttons, attr(n, "name")+"="+attr(n, "value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(doc)
	return forms
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// authorize sends r through browser b and checks that a redirect to the
// client echoes the state.
func (r *authRequest) authorize(b *user, opts walkOpts) landing {
	r.c.o.t.Helper()
	l := r.c.o.walk(b, r.url(), r.q.Get("redirect_uri"), opts)
	if l.redirect != nil && l.param("state") != r.q.Get("state") {
		r.c.o.t.Errorf("the redirect to the client carries state=%q, want %q", l.param("state"), r.q.Get("state"))
	}
	return l
}

// code sends r through b and returns the authorization code the client
// receives; anything else fails the test.
func (r *authRequest) code(b *user, opts walkOpts) (string, landing) {
	t := r.c.o.t
	t.Helper()
	l := r.authorize(b, opts)
	if l.redirect == nil || l.param("code") == "" {
		t.Fatalf("no code for the client: pages %v, redirect %v, last %d %s\ntrail %v", l.pages, l.redirect, l.last.status, snippet(l.last.body), l.trail)
	}
	return l.param("code"), l
}

// snippet shortens a page for a failure message.
func snippet(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// exchange redeems a code with the PKCE verifier through x/oauth2.
func (c *oidcClient) exchange(code, verifier string) (*oauth2.Token, error) {
	tok, err := c.conf.Exchange(c.o.ctx, code, oauth2.VerifierOption(verifier))
	c.o.keepToken(tok)
	return tok, err
}

// refresh uses a refresh token through x/oauth2's TokenSource, as a relying
// party does when its access token expired.
func (c *oidcClient) refresh(refreshToken string) (*oauth2.Token, error) {
	expired := &oauth2.Token{AccessToken: "expired", TokenType: "Bearer", RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Minute)}
	tok, err := c.conf.TokenSource(c.o.ctx, expired).Token()
	c.o.keepToken(tok)
	return tok, err
}

// tokens is a token response with its ID token verified.
type tokens struct {
	*oauth2.Token
	rawID  string
	id     *oidc.IDToken
	claims idClaims
	all    map[string]any // every claim of the ID token
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Sub           string   `json:"sub"`
	AZP           string   `json:"azp"`
	AuthTime      int64    `json:"auth_time"`
	AMR           []string `json:"amr"`
	ACR           string   `json:"acr"`
	SID           string   `json:"sid"`
	Email         string   `json:"email"`
	EmailVerified *bool    `json:"email_verified"`
	Name          string   `json:"name"`
}

// mustExchange redeems the code of r and verifies the ID token: signature
// (RS256), iss, aud, exp by go-oidc; nonce, at_hash and azp here.
func (r *authRequest) mustExchange(code string) tokens {
	t := r.c.o.t
	t.Helper()
	tok, err := r.c.exchange(code, r.verifier)
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token response: type %q, expiry %v", tok.TokenType, tok.Expiry)
	}
	return r.c.mustVerify(tok, r.q.Get("nonce"))
}

// mustVerify verifies the ID token of a token response for this client.
func (c *oidcClient) mustVerify(tok *oauth2.Token, nonce string) tokens {
	t := c.o.t
	t.Helper()
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		t.Fatalf("the token response has no id_token")
	}
	id, err := c.verifier.Verify(c.o.ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	ts := tokens{Token: tok, rawID: raw, id: id}
	if err := id.Claims(&ts.claims); err != nil {
		t.Fatal(err)
	}
	if err := id.Claims(&ts.all); err != nil {
		t.Fatal(err)
	}
	if id.Nonce != nonce {
		t.Errorf("ID token nonce %q, want %q", id.Nonce, nonce)
	}
	if _, present := ts.all["nonce"]; nonce == "" && present {
		t.Errorf("ID token has a nonce claim though none was sent: %v", ts.all["nonce"])
	}
	if err := id.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if ts.claims.AZP != c.id || len(id.Audience) != 1 || id.Audience[0] != c.id {
		t.Errorf("ID token aud %v azp %q, want [%s]", id.Audience, ts.claims.AZP, c.id)
	}
	if d := id.Expiry.Sub(id.IssuedAt); d <= 0 || d > 10*time.Minute {
		t.Errorf("ID token lives %v (iat %v, exp %v)", d, id.IssuedAt, id.Expiry)
	}
	if h := jwtHeader(t, raw); h["alg"] != "RS256" || h["kid"] == nil {
		t.Errorf("ID token header %v, want alg RS256 and a kid", h)
	}
	return ts
}

// flow is the whole code flow for browser b answering with opts.
func (c *oidcClient) flow(b *user, scope string, opts walkOpts) (tokens, landing) {
	c.o.t.Helper()
	r := c.request(scope)
	code, l := r.code(b, opts)
	return r.mustExchange(code), l
}

// jwtHeader decodes a compact JWT's header without verifying anything.
func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("not a JWT header: %q", h)
	}
	return m
}

// jwks fetches the provider's published keys.
func (o *oidcOP) jwks() jose.JSONWebKeySet {
	o.t.Helper()
	var set jose.JSONWebKeySet
	st, body := o.getJSON(o.meta["jwks_uri"].(string), &set)
	if st != http.StatusOK {
		o.t.Fatalf("GET jwks_uri: %d %s", st, body)
	}
	return set
}

// accessClaims verifies an access token against the published keys (typ
// at+jwt, iss the issuer) and returns its claims.
func (o *oidcOP) accessClaims(raw string) map[string]any {
	t := o.t
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.EdDSA, jose.RS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		t.Fatalf("the access token is not a signed JWT: %v", err)
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "at+jwt" {
		t.Errorf("access token typ %q, want at+jwt (RFC 9068)", typ)
	}
	set := o.jwks()
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("access token kid %q: %d published keys", h.KeyID, len(keys))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("access token signature: %v", err)
	}
	if claims["iss"] != o.issuer {
		t.Errorf("access token iss %v, want %s", claims["iss"], o.issuer)
	}
	return claims
}

// getJSON GETs u and decodes a JSON body into v.
func (o *oidcOP) getJSON(u string, v any) (int, string) {
	o.t.Helper()
	res, err := rpHTTP.Get(u)
	if err != nil {
		o.t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			o.t.Fatalf("GET %s: %v in %s", u, err, b)
		}
	}
	return res.StatusCode, string(b)
}

// oauthReply is a response of a machine endpoint.
type oauthReply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r oauthReply) err() string { s, _ := r.body["error"].(string); return s }

// post sends a form to a machine endpoint with header (name, value pairs).
func (o *oidcOP) post(endpoint string, form url.Values, header ...string) oauthReply {
	o.t.Helper()
	req, err := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		o.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return o.send(req)
}

func (o *oidcOP) send(req *http.Request) oauthReply {
	o.t.Helper()
	res, err := rpHTTP.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := oauthReply{status: res.StatusCode, header: res.Header, raw: string(b)}
	json.Unmarshal(b, &r.body)
	return r
}

// token sends a raw token request with the client's own authentication.
func (c *oidcClient) token(form url.Values) oauthReply {
	c.o.t.Helper()
	form = cloneValues(form)
	var header []string
	switch c.method {
	case "client_secret_basic":
		header = []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id)+":"+url.QueryEscape(c.secret)))}
	case "client_secret_post":
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	default:
		form.Set("client_id", c.id)
	}
	return c.o.post(c.conf.Endpoint.TokenURL, form, header...)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// userinfo calls the userinfo endpoint with an access token: "get" and
// "post" send it in the Authorization header, "body" as a form parameter.
func (o *oidcOP) userinfo(how, accessToken string) oauthReply {
	o.t.Helper()
	ep := o.meta["userinfo_endpoint"].(string)
	var req *http.Request
	switch how {
	case "get":
		req, _ = http.NewRequest("GET", ep, nil)
		req.Header.Set("Authorization", "Bearer "+accessToken)
	case "post":
		req, _ = http.NewRequest("POST", ep, nil)
		req.Header.Set("Authorization", "Bearer "+accessToken)
	case "body":
		req, _ = http.NewRequest("POST", ep, strings.NewReader(url.Values{"access_token": {accessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return o.send(req)
}

// oauthError is the error code of a failed x/oauth2 token request ("" if
// the failure was something else).
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// sessionInfo is a session as GET {base}/api/session shows it.
type sessionInfo struct {
	ID              string    `json:"id"`
	AuthenticatedAt time.Time `json:"authenticated_at"`
	AMR             []string  `json:"amr"`
	AAL             int       `json:"aal"`
}

// sessionOf returns the browser's session and the status of GET
// {base}/api/session (401 when signed out).
func sessionOf(t *testing.T, b *user) (sessionInfo, int) {
	t.Helper()
	r := b.do("GET", "/auth/api/session", "", "Accept", "application/json")
	var s struct {
		Session sessionInfo `json:"session"`
	}
	if r.status == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &s); err != nil {
			t.Fatalf("GET /auth/api/session: %v in %s", err, r.body)
		}
	}
	return s.Session, r.status
}

// waitSince sleeps until d has passed since since (auth_time has a
// resolution of one second, so a later sign-in needs a later second).
func waitSince(since time.Time, d time.Duration) {
	if wait := d - time.Since(since); wait > 0 {
		time.Sleep(wait)
	}
}
