package attack_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Attacks on the first-party access tokens (POST /auth/api/token, JWTs in
// Authorization: Bearer), against the real binary: forged tokens are
// refused, a revoked session's token dies at once, tokens are never taken
// from — nor logged with — the query string, and the JWKS holds public
// keys only.

// mintToken returns an access token minted from c's session by a
// same-origin request, as the page's JavaScript would.
func mintToken(t *testing.T, s *Server, c *Client) string {
	t.Helper()
	r := c.Do("POST", "/auth/api/token", nil, sameOriginHeaders(s)...)
	if r.Status != 200 {
		t.Fatalf("POST /auth/api/token: %d %s", r.Status, r.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body.AccessToken == "" || body.TokenType != "Bearer" {
		t.Fatalf("token answer %s", r.Body)
	}
	return body.AccessToken
}

// bearerOnly sends GET path with only the Authorization header (no cookie).
func bearerOnly(s *Server, path, token string) Reply {
	return s.Client().Do("GET", path, nil, "Authorization", "Bearer "+token)
}

// checkTokenRefused fails unless r is 401 invalid_access_token with the
// Bearer challenge (RFC 6750 §3.1).
func checkTokenRefused(t *testing.T, what string, r Reply) {
	t.Helper()
	checkErrorShape(t, what, r)
	if r.Status != 401 || r.Code() != "invalid_access_token" || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("%s: %d %s, WWW-Authenticate %q; want 401 invalid_access_token", what, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
	}
}

// jwtSegments splits a compact JWS and decodes its header and claims.
func jwtSegments(t *testing.T, tok string) (segs []string, header, claims map[string]any) {
	t.Helper()
	segs = strings.Split(tok, ".")
	if len(segs) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(segs[i])
		if err != nil || json.Unmarshal(raw, dst) != nil {
			t.Fatalf("segment %d of the token does not decode", i)
		}
	}
	return segs, header, claims
}

// jwsPart is v as a base64url JSON segment.
func jwsPart(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestTokenForgeriesRefused mints a genuine token, then presents forgeries
// built from what any client sees (the token, the public JWKS): alg none,
// an HMAC keyed with our public key, our kid over an attacker's signature,
// and kids that try path traversal, URLs (one pointing at a server of the
// attacker's, which must never be contacted), SQL and sheer length; each
// on the JSON API and on a hosted page, without a cookie and with the
// victim's valid cookie: always 401 invalid_access_token.
//
// ASVS 5.0: V9.1.1, V9.1.2, V9.1.3
func TestTokenForgeriesRefused(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	t.Cleanup(func() { logServerErrors(t, s) })
	victim := s.Client()
	victim.SignUp("token-victim@example.com")
	genuine := mintToken(t, s, victim)
	if r := bearerOnly(s, "/auth/api/session", genuine); r.Status != 200 || !strings.Contains(r.Body, "token-victim@example.com") {
		t.Fatalf("the genuine token alone: %d %s", r.Status, r.Body)
	}
	segs, header, claims := jwtSegments(t, genuine)
	kid, _ := header["kid"].(string)

	// Our public key, as the JWKS publishes it.
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if r := s.Client().Do("GET", "/auth/.well-known/jwks.json", nil); r.Status != 200 || json.Unmarshal([]byte(r.Body), &set) != nil {
		t.Fatalf("JWKS: %d %s", r.Status, r.Body)
	}
	var x []byte
	for _, k := range set.Keys {
		if k["kid"] == kid {
			x, _ = base64.RawURLEncoding.DecodeString(k["x"])
		}
	}
	if len(x) != ed25519.PublicKeySize {
		t.Fatalf("the token's kid %q has no Ed25519 key in the JWKS %v", kid, set.Keys)
	}
	spki, _ := x509.MarshalPKIXPublicKey(ed25519.PublicKey(x))
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})

	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(evil.Close)

	_, attackerKey, _ := ed25519.GenerateKey(rand.Reader)
	signed := func(h map[string]any, c map[string]any, sign func([]byte) []byte) string {
		in := jwsPart(h) + "." + jwsPart(c)
		var sig []byte
		if sign != nil {
			sig = sign([]byte(in))
		}
		return in + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	hs256 := func(key []byte) func([]byte) []byte {
		return func(in []byte) []byte {
			m := hmac.New(sha256.New, key)
			m.Write(in)
			return m.Sum(nil)
		}
	}
	attacker := func(in []byte) []byte { return ed25519.Sign(attackerKey, in) }
	h := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid} }
	admin := map[string]any{}
	for k, v := range claims {
		admin[k] = v
	}
	admin["roles"] = []string{"admin"}

	forgeries := map[string]string{
		"alg none":                         signed(h("none", kid), claims, nil),
		"alg none, roles admin":            signed(h("none", kid), admin, nil),
		"HS256 keyed with the raw key":     signed(h("HS256", kid), admin, hs256(x)),
		"HS256 keyed with the PEM":         signed(h("HS256", kid), admin, hs256(pemKey)),
		"HS256 keyed with x as text":       signed(h("HS256", kid), admin, hs256([]byte(base64.RawURLEncoding.EncodeToString(x)))),
		"our kid, attacker's signature":    signed(h("EdDSA", kid), admin, attacker),
		"genuine signature, roles changed": segs[0] + "." + jwsPart(admin) + "." + segs[2],
		"kid path traversal":               signed(h("EdDSA", "../../../../etc/passwd"), admin, attacker),
		"kid file URL":                     signed(h("EdDSA", "file:///etc/passwd"), admin, attacker),
		"kid URL of the attacker":          signed(h("EdDSA", evil.URL+"/jwks.json"), admin, attacker),
		"kid SQL":                          signed(h("EdDSA", "x' UNION SELECT 'k"), admin, attacker),
		"kid of 4 KiB":                     signed(h("EdDSA", strings.Repeat("k", 4<<10)), admin, attacker),
		"jku of the attacker":              signed(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "evil", "jku": evil.URL + "/jwks.json"}, admin, attacker),
		"x5u of the attacker":              signed(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "x5u": evil.URL + "/cert.pem"}, admin, attacker),
		"embedded jwk":                     signed(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "jwk": map[string]string{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(attackerKey.Public().(ed25519.PublicKey))}}, admin, attacker),
	}
	for name, tok := range forgeries {
		for _, path := range []string{"/auth/api/session", "/auth/api/admin/audit"} {
			checkTokenRefused(t, name+" on "+path, bearerOnly(s, path, tok))
			checkTokenRefused(t, name+" on "+path+" with the victim's cookie", victim.Do("GET", path, nil, "Authorization", "Bearer "+tok))
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the attacker's server was contacted %d times: keys must never be fetched from a token's kid/jku/x5u", n)
	}
	if r := bearerOnly(s, "/auth/api/session", genuine); r.Status != 200 {
		t.Errorf("the genuine token after the forgeries: %d %s", r.Status, r.Body)
	}
}

// TestTokenDiesWithItsSession: a token is refused as soon as its session
// is signed out, revoked from another device, or the password changed —
// long before its exp.
//
// ASVS 5.0: V7.4.1, V7.4.3
func TestTokenDiesWithItsSession(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	t.Cleanup(func() { logServerErrors(t, s) })

	c := s.Client()
	c.SignUp("token-out@example.com")
	tok := mintToken(t, s, c)
	if r := c.Do("POST", "/auth/api/sign-out", nil, sameOriginHeaders(s)...); r.Status != 204 {
		t.Fatalf("sign-out: %d %s", r.Status, r.Body)
	}
	checkTokenRefused(t, "after sign-out", bearerOnly(s, "/auth/api/session", tok))

	phone, laptop := s.Client(), s.Client()
	phone.SignUp("token-revoke@example.com")
	mustSignIn(t, laptop, "token-revoke@example.com")
	stolen := mintToken(t, s, laptop)
	_, laptopSession, _ := whoami(t, laptop)
	if r := phone.Do("DELETE", "/auth/api/sessions/"+laptopSession, nil, sameOriginHeaders(s)...); r.Status != 204 {
		t.Fatalf("revoke the laptop's session: %d %s", r.Status, r.Body)
	}
	checkTokenRefused(t, "after its session was revoked from another device", bearerOnly(s, "/auth/api/session", stolen))

	mustSignIn(t, laptop, "token-revoke@example.com")
	stolen = mintToken(t, s, laptop)
	if r := phone.Do("POST", "/auth/api/password/change", map[string]string{"current_password": Password, "new_password": "another fine passphrase"}, sameOriginHeaders(s)...); r.Status != 200 {
		t.Fatalf("password change: %d %s", r.Status, r.Body)
	}
	checkTokenRefused(t, "after a password change on another device", bearerOnly(s, "/auth/api/session", stolen))
}

// TestTokenNeverFromTheQueryString: a genuine token in ?access_token= (or
// a form body) authenticates nothing, and the server's logs never hold a
// token, whether it came in the query string or in the header.
//
// ASVS 5.0: V14.2.1, V16.2.5
func TestTokenNeverFromTheQueryString(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	t.Cleanup(func() { logServerErrors(t, s) })
	c := s.Client()
	c.SignUp("token-query@example.com")
	tok := mintToken(t, s, c)

	for _, path := range []string{"/auth/api/session", "/auth/api/user", "/auth/api/sessions"} {
		r := s.Client().Do("GET", path+"?access_token="+tok, nil)
		if r.Status != 401 || r.Code() != "unauthenticated" {
			t.Errorf("GET %s?access_token=: %d %s, want 401 unauthenticated", path, r.Status, r.Body)
		}
	}
	r := s.Client().Do("GET", "/auth/account?access_token="+tok, nil, "Accept", "text/html")
	if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/auth/sign-in") {
		t.Errorf("GET /auth/account?access_token= as a browser: %d, Location %q; want the sign-in page", r.Status, r.Header.Get("Location"))
	}
	r = s.Client().Do("PATCH", "/auth/api/user?access_token="+tok, map[string]string{"name": "Query"})
	if r.Status != 401 || r.Code() != "unauthenticated" {
		t.Errorf("PATCH /auth/api/user?access_token=: %d %s", r.Status, r.Body)
	}
	// The header works, and is not logged either.
	if r := bearerOnly(s, "/auth/api/session", tok); r.Status != 200 {
		t.Fatalf("the token in the header: %d %s", r.Status, r.Body)
	}
	// The signature is the part that must never leak; the header and
	// claims segments are the same for every token of a key and user.
	sig := tok[strings.LastIndex(tok, ".")+1:]
	logs := s.Logs()
	if !strings.Contains(logs, "path=/auth/api/sessions") {
		t.Fatalf("the request log does not show the requests: the check below would prove nothing:\n%s", logs)
	}
	if strings.Contains(logs, sig) {
		t.Errorf("the server's logs hold the token")
	}
}

// TestTokenJWKSIsPublic: the JWKS a running server publishes (EdDSA for
// access tokens and RS256 for OpenID Connect, created at start) holds
// public keys only — no private or symmetric members — each with kid, alg
// and use "sig", readable from any origin.
//
// ASVS 5.0: V9.1.3
func TestTokenJWKSIsPublic(t *testing.T) {
	t.Parallel()
	s := Start(t)
	r := s.Client().Do("GET", "/auth/.well-known/jwks.json", nil, "Origin", "https://elsewhere.example")
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/jwk-set+json" || r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("JWKS: %d, Content-Type %q, ACAO %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Access-Control-Allow-Origin"))
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Body), &set); err != nil {
		t.Fatalf("JWKS: %v: %s", err, r.Body)
	}
	algs := map[any]bool{}
	for _, k := range set.Keys {
		for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[m]; ok {
				t.Errorf("JWKS key %v (%v) holds the private member %q", k["kid"], k["alg"], m)
			}
		}
		if k["kid"] == "" || k["kid"] == nil || k["use"] != "sig" {
			t.Errorf("JWKS key %v", k)
		}
		algs[k["alg"]] = true
	}
	if !algs["EdDSA"] || !algs["RS256"] {
		t.Errorf("JWKS algorithms %v, want EdDSA and RS256", algs)
	}
}
