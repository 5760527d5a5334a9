package web_test

// Contract tests for first-party access tokens at the HTTP edge: POST
// {base}/api/token, the JWKS, and Authorization: Bearer on the JSON API and
// on the application's routes behind Require / RequirePermission — the
// valid token, the classic JWT attacks (alg none, HMAC under the public
// key, algorithm swaps, kid injection, embedded or remote keys, expiry,
// other deployments, revoked sessions, malformed and oversized tokens) and
// the rules on where a token may come from.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/verify"
	"github.com/gatehouse-auth/gatehouse/web"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// bearerRoutes are where tokens are presented: the JSON API and the
// embedding application's route behind Require.
var bearerRoutes = []string{"/auth/api/session", "/app/notes"}

// bearerChallenge is the WWW-Authenticate of a refused Bearer token (RFC
// 6750 §3.1).
const bearerChallenge = `Bearer realm="gatehouse", error="invalid_token"`

// mint returns an access token minted from c's session by a same-origin
// POST {base}/api/token.
func (c *client) mint() string {
	c.e.t.Helper()
	r := c.do("POST", "/auth/api/token", nil, "Sec-Fetch-Site", "same-origin")
	want(c.e.t, r, 200, "")
	tok, _ := r.json(c.e.t)["access_token"].(string)
	if tok == "" {
		c.e.t.Fatalf("no access_token: %s", r.body)
	}
	return tok
}

// bearer is an Authorization header presenting tok.
func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// refusedEverywhere sends the Authorization value to every Bearer route,
// without a cookie and with owner's valid cookie: each must answer 401
// invalid_access_token — a bad token is refused, never set aside for the
// cookie.
func refusedEverywhere(t *testing.T, e *env, owner *client, authorization string) {
	t.Helper()
	for _, path := range bearerRoutes {
		for _, c := range []*client{e.client(), owner} {
			r := c.do("GET", path, nil, "Authorization", authorization)
			if r.StatusCode != 401 || r.errCode(t) != "invalid_access_token" || r.Header.Get("WWW-Authenticate") != bearerChallenge {
				t.Fatalf("GET %s (cookie %v): %d %s, WWW-Authenticate %q", path, c == owner, r.StatusCode, r.body, r.Header.Get("WWW-Authenticate"))
			}
		}
	}
}

// acceptedEverywhere checks that tok alone (no cookie) signs in as email
// on every Bearer route.
func acceptedEverywhere(t *testing.T, e *env, authorization, email string) {
	t.Helper()
	for _, path := range bearerRoutes {
		r := e.client().do("GET", path, nil, "Authorization", authorization)
		want(t, r, 200, "")
		if !bytes.Contains(r.body, []byte(email)) {
			t.Fatalf("GET %s with the token: 200 without %s: %s", path, email, r.body)
		}
	}
}

// jwtParts is a compact JWS taken apart.
type jwtParts struct {
	header, claims map[string]any
	segs           []string // the three base64url segments
	sig            []byte
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// parseJWT decodes a compact JWS without verifying it (numbers as
// json.Number).
func parseJWT(t *testing.T, tok string) jwtParts {
	t.Helper()
	segs := strings.Split(tok, ".")
	if len(segs) != 3 {
		t.Fatalf("token has %d segments: %q", len(segs), tok)
	}
	p := jwtParts{segs: segs}
	for i, dst := range []*map[string]any{&p.header, &p.claims} {
		raw, err := base64.RawURLEncoding.DecodeString(segs[i])
		if err != nil {
			t.Fatalf("segment %d is not base64url: %v", i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			t.Fatalf("segment %d is not a JSON object: %v: %s", i, err, raw)
		}
	}
	var err error
	if p.sig, err = base64.RawURLEncoding.DecodeString(segs[2]); err != nil {
		t.Fatalf("signature is not base64url: %v", err)
	}
	return p
}

// segment is v as a JWS segment.
func segment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64(b)
}

// forge builds a compact JWS of header and claims, signed by sign over the
// signing input (nil: an empty signature).
func forge(header, claims map[string]any, sign func([]byte) []byte) string {
	in := segment(header) + "." + segment(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + b64(sig)
}

// with returns a copy of m with the key/value pairs set (a nil value
// deletes the key).
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func signEd25519(k ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

func signES256(k *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func signRS256(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func signPS256(k *rsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, h[:], nil)
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func signHS256(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

func signHS512(secret []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha512.New, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// fetchJWKS returns the served JWKS: the raw body and each key as a map.
func (e *env) fetchJWKS(t *testing.T) ([]byte, []map[string]any) {
	t.Helper()
	r := e.client().do("GET", "/auth/.well-known/jwks.json", nil)
	want(t, r, 200, "")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("JWKS is not a JWK Set: %v: %s", err, r.body)
	}
	return r.body, set.Keys
}

// jwkByKid returns the served key with this kid.
func (e *env) jwkByKid(t *testing.T, kid string) map[string]any {
	t.Helper()
	_, keys := e.fetchJWKS(t)
	for _, k := range keys {
		if k["kid"] == kid {
			return k
		}
	}
	t.Fatalf("kid %q is not in the JWKS", kid)
	return nil
}

// privateMembers are the JWK members of private keys (RFC 7518 §6.2.2,
// §6.3.2; RFC 8037 §2) and of symmetric keys (§6.4).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// testBearerAccess: a minted token alone (no cookie) authenticates on the
// API and behind Require/RequirePermission, with any case of the scheme;
// it outranks a cookie of another user; tokens never come from the query
// string; other schemes are ignored; a token cannot mint a token; and the
// cross-origin check of the API applies to Bearer requests too (while the
// middleware, which guards against cookie CSRF, lets them through).
func testBearerAccess(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{CORSAllowedOrigins: []string{"https://app.example.com"}})
	c := e.client()
	up := c.signUp("bearer@example.com").json(t)
	userID := up["user"].(map[string]any)["id"].(string)
	sessionID := up["session"].(map[string]any)["id"].(string)
	tok := c.mint()

	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		acceptedEverywhere(t, e, scheme+" "+tok, "bearer@example.com")
	}
	r := e.client().do("GET", "/auth/api/session", nil, bearer(tok)...)
	want(t, r, 200, "")
	body := r.json(t)
	if body["user"].(map[string]any)["id"] != userID || body["session"].(map[string]any)["id"] != sessionID || body["session"].(map[string]any)["current"] != true {
		t.Fatalf("the token stands for another session: %s", r.body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q on a Bearer answer", cc)
	}
	if vary := strings.Join(r.Header.Values("Vary"), ","); !strings.Contains(vary, "Authorization") {
		t.Errorf("Vary %q lacks Authorization", vary)
	}
	// Every API route that takes the cookie takes the token.
	want(t, e.client().do("GET", "/auth/api/user", nil, bearer(tok)...), 200, "")
	want(t, e.client().do("GET", "/auth/api/sessions", nil, bearer(tok)...), 200, "")

	// RequirePermission checks the live roles of the token's user, not the
	// roles claim: the same token is refused, then allowed once the role is
	// granted.
	want(t, e.client().do("POST", "/api/notes", nil, bearer(tok)...), 403, "forbidden")
	if err := e.auth.SetRoles(context.Background(), userID, []string{"editor"}); err != nil {
		t.Fatal(err)
	}
	want(t, e.client().do("POST", "/api/notes", nil, bearer(tok)...), 201, "")

	// The header is authoritative: with another user's cookie, the token
	// decides who this is.
	other := e.client()
	other.signUp("cookie-owner@example.com")
	r = other.do("GET", "/auth/api/session", nil, bearer(tok)...)
	want(t, r, 200, "")
	if !bytes.Contains(r.body, []byte("bearer@example.com")) {
		t.Fatalf("with a cookie of another user the token did not decide: %s", r.body)
	}

	// Never from the query string (RFC 6750 §2.3 is not supported): no
	// cookie, so unauthenticated — not even "invalid token".
	for _, path := range bearerRoutes {
		r := e.client().do("GET", path+"?access_token="+tok, nil)
		want(t, r, 401, "unauthenticated")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s?access_token=: 401 without WWW-Authenticate", path)
		}
	}
	// Other schemes belong to someone else (a proxy's Basic): ignored, the
	// cookie decides.
	for _, v := range []string{"Basic YWRtaW46YWRtaW4=", "Digest username=\"admin\"", "Token " + tok, "JWT " + tok, "Bearer" + tok} {
		want(t, e.client().do("GET", "/auth/api/session", nil, "Authorization", v), 401, "unauthenticated")
		want(t, c.do("GET", "/auth/api/session", nil, "Authorization", v), 200, "")
	}

	// A token cannot mint a token (which would let tokens renew themselves
	// without the session cookie), with or without the cookie.
	want(t, e.client().do("POST", "/auth/api/token", nil, append(bearer(tok), "Sec-Fetch-Site", "same-origin")...), 403, "forbidden")
	want(t, c.do("POST", "/auth/api/token", nil, append(bearer(tok), "Sec-Fetch-Site", "same-origin")...), 403, "forbidden")

	// Cross-origin. A page of another origin cannot attach a Bearer header
	// by itself, so the middleware (whose check is about the cookie) lets a
	// cross-origin POST with only a token through...
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		want(t, e.client().do("POST", "/api/notes", nil, append(bearer(tok), hdr...)...), 201, "")
	}
	// ...while the API refuses every cross-origin state change whatever the
	// credential (its CrossOriginProtection runs before authentication):
	// cross-origin API use goes through CORS, and an allowed CORS origin
	// may use the token.
	patch := map[string]string{"name": "Token"}
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}, {"Origin", "https://evil.example"}} {
		want(t, e.client().do("PATCH", "/auth/api/user", patch, append(bearer(tok), hdr...)...), 403, "cross_origin_request")
	}
	want(t, e.client().do("PATCH", "/auth/api/user", patch, append(bearer(tok), "Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site")...), 200, "")
	want(t, e.client().do("PATCH", "/auth/api/user", patch, append(bearer(tok), "Sec-Fetch-Site", "same-origin")...), 200, "")
}

// attacker holds an attacker's own keys and a server for jku/x5u that
// counts every request it gets.
type attacker struct {
	ed   ed25519.PrivateKey
	ec   *ecdsa.PrivateKey
	rsa  *rsa.PrivateKey
	cert []byte // self-signed X.509 certificate of ed
	jwk  map[string]any
	srv  *httptest.Server
	hits atomic.Int64
}

func newAttacker(t *testing.T) *attacker {
	t.Helper()
	a := &attacker{}
	var err error
	_, a.ed, _ = ed25519.GenerateKey(rand.Reader)
	if a.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if a.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if a.cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, a.ed.Public(), a.ed); err != nil {
		t.Fatal(err)
	}
	a.jwk = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(a.ed.Public().(ed25519.PublicKey)), "kid": "attacker", "alg": "EdDSA", "use": "sig"}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		if strings.HasSuffix(r.URL.Path, ".pem") {
			pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: a.cert})
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{a.jwk}})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// testBearerAttacks presents forged, altered and malformed tokens to the
// API and to the middleware, with and without a valid cookie: each one is
// refused with 401 invalid_access_token, the remote key URLs in headers
// are never fetched, and the genuine token still works afterwards.
func testBearerAttacks(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	victim := e.client()
	victim.signUp("victim@example.com")
	valid := victim.mint()
	good := parseJWT(t, valid)
	kid, _ := good.header["kid"].(string)
	ours := e.jwkByKid(t, kid)
	rawX, err := base64.RawURLEncoding.DecodeString(ours["x"].(string))
	if err != nil || len(rawX) != ed25519.PublicKeySize {
		t.Fatalf("our JWK's x: %v %q", err, ours["x"])
	}
	jwksBody, _ := e.fetchJWKS(t)
	jwkJSON, _ := json.Marshal(ours)
	spki, _ := x509.MarshalPKIXPublicKey(ed25519.PublicKey(rawX))
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})

	// Another user's genuine token, for splicing.
	mallory := e.client()
	mallory.signUp("mallory@example.com")
	malloryTok := parseJWT(t, mallory.mint())

	att := newAttacker(t)
	claims := good.claims
	hdr := func(alg string, kv ...any) map[string]any {
		return with(map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid}, kv...)
	}
	edSig, esSig, rsSig := signEd25519(att.ed), signES256(att.ec), signRS256(att.rsa)

	cases := []struct {
		name          string
		authorization string
	}{
		// alg none (RFC 8725 §2.1): no signature at all, our kid.
		{"alg none", "Bearer " + forge(hdr("none"), claims, nil)},
		{"alg None", "Bearer " + forge(hdr("None"), claims, nil)},
		{"alg NONE without kid", "Bearer " + forge(hdr("NONE", "kid", nil), claims, nil)},
		{"alg none with the genuine signature", "Bearer " + forge(hdr("none"), claims, nil) + good.segs[2]},
		{"alg missing", "Bearer " + forge(with(hdr(""), "alg", nil), claims, edSig)},

		// HMAC under our public key (RFC 8725 §2.1, key confusion), in every
		// form a confused verifier might feed to HMAC.
		{"HS256 keyed with the raw public key", "Bearer " + forge(hdr("HS256"), claims, signHS256(rawX))},
		{"HS256 keyed with x as text", "Bearer " + forge(hdr("HS256"), claims, signHS256([]byte(ours["x"].(string))))},
		{"HS256 keyed with the JWK JSON", "Bearer " + forge(hdr("HS256"), claims, signHS256(jwkJSON))},
		{"HS256 keyed with the JWKS body", "Bearer " + forge(hdr("HS256"), claims, signHS256(jwksBody))},
		{"HS256 keyed with the PKIX DER", "Bearer " + forge(hdr("HS256"), claims, signHS256(spki))},
		{"HS256 keyed with the PEM", "Bearer " + forge(hdr("HS256"), claims, signHS256(pemKey))},
		{"HS256 keyed with the raw public key, no kid", "Bearer " + forge(hdr("HS256", "kid", nil), claims, signHS256(rawX))},
		{"HS512 keyed with the raw public key", "Bearer " + forge(hdr("HS512"), claims, signHS512(rawX))},
		{"HS256 keyed with the empty key", "Bearer " + forge(hdr("HS256"), claims, signHS256(nil))},

		// Algorithm swaps on our EdDSA kid.
		{"RS256 header, our kid, attacker RSA signature", "Bearer " + forge(hdr("RS256"), claims, rsSig)},
		{"PS256 header, our kid, attacker RSA signature", "Bearer " + forge(hdr("PS256"), claims, signPS256(att.rsa))},
		{"ES256 header, our kid, attacker EC signature", "Bearer " + forge(hdr("ES256"), claims, esSig)},
		{"ES256 header, our kid, the genuine 64-byte signature", "Bearer " + segment(hdr("ES256")) + "." + good.segs[1] + "." + good.segs[2]},
		{"RS256 header over the genuine signature", "Bearer " + segment(hdr("RS256")) + "." + good.segs[1] + "." + good.segs[2]},
		{"Ed25519 (fully specified alg), attacker signature", "Bearer " + forge(hdr("Ed25519"), claims, edSig)},
		{"lower-case eddsa, attacker signature", "Bearer " + forge(hdr("eddsa"), claims, edSig)},
		{"EdDSA, our kid, attacker signature", "Bearer " + forge(hdr("EdDSA"), claims, edSig)},

		// kid: unknown, injected, absurd.
		{"unknown kid", "Bearer " + forge(hdr("EdDSA", "kid", "attacker"), claims, edSig)},
		{"our kid with a suffix", "Bearer " + forge(hdr("EdDSA", "kid", kid+"x"), claims, edSig)},
		{"our kid in another case", "Bearer " + forge(hdr("EdDSA", "kid", strings.ToLower(kid)), claims, edSig)},
		{"no kid", "Bearer " + forge(hdr("EdDSA", "kid", nil), claims, edSig)},
		{"empty kid", "Bearer " + forge(hdr("EdDSA", "kid", ""), claims, edSig)},
		{"kid path traversal", "Bearer " + forge(hdr("EdDSA", "kid", "../../etc/passwd"), claims, edSig)},
		{"kid absolute path", "Bearer " + forge(hdr("EdDSA", "kid", "/dev/null"), claims, edSig)},
		{"kid URL", "Bearer " + forge(hdr("EdDSA", "kid", "http://evil/"), claims, edSig)},
		{"kid URL of the attacker's JWKS", "Bearer " + forge(hdr("EdDSA", "kid", att.srv.URL+"/jwks.json"), claims, edSig)},
		{"kid SQL", "Bearer " + forge(hdr("EdDSA", "kid", "' OR 1=1 --"), claims, edSig)},
		{"kid with NUL", "Bearer " + forge(hdr("EdDSA", "kid", kid+"\x00"), claims, edSig)},
		{"kid number", "Bearer " + forge(hdr("EdDSA", "kid", 1), claims, edSig)},
		{"kid of 200 bytes", "Bearer " + forge(hdr("EdDSA", "kid", strings.Repeat("k", 200)), claims, edSig)},
		{"kid of 5000 bytes", "Bearer " + forge(hdr("EdDSA", "kid", strings.Repeat("k", 5000)), claims, edSig)},

		// Keys carried or named by the token itself (RFC 8725 §3.10).
		{"embedded jwk, no kid", "Bearer " + forge(hdr("EdDSA", "kid", nil, "jwk", att.jwk), claims, edSig)},
		{"embedded jwk, our kid", "Bearer " + forge(hdr("EdDSA", "jwk", with(att.jwk, "kid", kid)), claims, edSig)},
		{"embedded jwk, its kid", "Bearer " + forge(hdr("EdDSA", "kid", "attacker", "jwk", att.jwk), claims, edSig)},
		{"jku, its kid", "Bearer " + forge(hdr("EdDSA", "kid", "attacker", "jku", att.srv.URL+"/jwks.json"), claims, edSig)},
		{"jku, our kid", "Bearer " + forge(hdr("EdDSA", "jku", att.srv.URL+"/jwks.json"), claims, edSig)},
		{"x5u, no kid", "Bearer " + forge(hdr("EdDSA", "kid", nil, "x5u", att.srv.URL+"/cert.pem"), claims, edSig)},
		{"x5u, our kid", "Bearer " + forge(hdr("EdDSA", "x5u", att.srv.URL+"/cert.pem"), claims, edSig)},
		{"x5c self-signed, no kid", "Bearer " + forge(hdr("EdDSA", "kid", nil, "x5c", []string{base64.StdEncoding.EncodeToString(att.cert)}), claims, edSig)},
		{"x5c self-signed, our kid", "Bearer " + forge(hdr("EdDSA", "x5c", []string{base64.StdEncoding.EncodeToString(att.cert)}), claims, edSig)},

		// Other headers.
		{"typ JWT (an ID token's)", "Bearer " + forge(hdr("EdDSA", "typ", "JWT"), claims, edSig)},
		{"crit", "Bearer " + forge(hdr("EdDSA", "crit", []string{"exp"}, "exp", 1), claims, edSig)},
		{"b64 false", "Bearer " + forge(hdr("EdDSA", "b64", false, "crit", []string{"b64"}), claims, edSig)},

		// Genuine parts spliced or altered: the signature no longer covers
		// what is presented.
		{"claims of another user under the genuine signature", "Bearer " + good.segs[0] + "." + malloryTok.segs[1] + "." + good.segs[2]},
		{"genuine claims under another user's signature", "Bearer " + good.segs[0] + "." + good.segs[1] + "." + malloryTok.segs[2]},
		{"sub changed", "Bearer " + good.segs[0] + "." + segment(with(claims, "sub", malloryTok.claims["sub"])) + "." + good.segs[2]},
		{"exp extended", "Bearer " + good.segs[0] + "." + segment(with(claims, "exp", 4102444800)) + "." + good.segs[2]},
		{"roles added", "Bearer " + good.segs[0] + "." + segment(with(claims, "roles", []string{"admin"})) + "." + good.segs[2]},
		{"typ header changed", "Bearer " + segment(with(good.header, "typ", "JWT")) + "." + good.segs[1] + "." + good.segs[2]},
		{"signature bit flipped", "Bearer " + good.segs[0] + "." + good.segs[1] + "." + b64(append([]byte{good.sig[0] ^ 1}, good.sig[1:]...))},

		// Not the compact serialization, or not exactly it.
		{"truncated by one byte", "Bearer " + valid[:len(valid)-1]},
		{"truncated signature", "Bearer " + valid[:len(valid)-20]},
		{"no signature", "Bearer " + good.segs[0] + "." + good.segs[1] + "."},
		{"two segments", "Bearer " + good.segs[0] + "." + good.segs[1]},
		{"header only", "Bearer " + good.segs[0]},
		{"trailing dot", "Bearer " + valid + "."},
		{"trailing x", "Bearer " + valid + "x"},
		{"fourth segment", "Bearer " + valid + ".e30"},
		{"base64 padding", "Bearer " + valid + "=="},
		{"standard base64 alphabet", "Bearer " + strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/"},
		{"space inside", "Bearer " + good.segs[0] + ". " + good.segs[1] + "." + good.segs[2]},
		{"JSON serialization", "Bearer " + fmt.Sprintf(`{"protected":%q,"payload":%q,"signature":%q}`, good.segs[0], good.segs[1], good.segs[2])},
		{"JWE-shaped", "Bearer " + good.segs[0] + "." + good.segs[1] + "." + good.segs[2] + ".AAAA.AAAA"},
		{"oversized forgery (> 8 KiB)", "Bearer " + forge(hdr("EdDSA", "kid", "attacker"), with(claims, "pad", strings.Repeat("A", 9<<10)), edSig)},
		{"oversized: the genuine token and junk", "Bearer " + valid + "." + strings.Repeat("A", 9<<10)},
		{"two tokens", "Bearer " + valid + " " + valid},
		{"two tokens, comma", "Bearer " + valid + ", Bearer " + valid},
		{"scheme without a token", "Bearer"},
		{"the session cookie as a token", "Bearer " + victim.cookie()},
		{"not base64", "Bearer ' OR 1=1 --"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refusedEverywhere(t, e, victim, tc.authorization)
		})
	}
	if n := att.hits.Load(); n != 0 {
		t.Errorf("the attacker's key server was contacted %d times (jku/x5u/kid must never be fetched)", n)
	}
	// The genuine token still works after the barrage.
	acceptedEverywhere(t, e, "Bearer "+valid, "victim@example.com")
}

// testBearerExpiry: a token works until its exp (plus the verifier's 30 s
// leeway for skew between nodes) and is refused after, even with a valid
// cookie, which on its own still works.
func testBearerExpiry(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("expiry@example.com")
	tok := c.mint()
	e.clock.Advance(gatehouse.MaxAccessTokenTTL - time.Second)
	acceptedEverywhere(t, e, "Bearer "+tok, "expiry@example.com")
	e.clock.Advance(time.Second + 31*time.Second)
	refusedEverywhere(t, e, c, "Bearer "+tok)
	want(t, c.do("GET", "/auth/api/session", nil), 200, "")
	// A new token from the session works again.
	acceptedEverywhere(t, e, "Bearer "+c.mint(), "expiry@example.com")
}

// testBearerRevocation: a token dies at once with its session, well
// before its exp — sign-out (by cookie or by the token itself), revocation
// from another session, password change (every session of the user,
// including the one that changed it, which is replaced), disabling and
// deletion of the user.
func testBearerRevocation(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	ctx := context.Background()
	signIn := func(email string) *client {
		c := e.client()
		want(t, c.do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": goodPassword}), 200, "")
		return c
	}

	t.Run("sign-out", func(t *testing.T) {
		c := e.client()
		c.signUp("out@example.com")
		tok := c.mint()
		want(t, c.do("POST", "/auth/api/sign-out", nil), 204, "")
		refusedEverywhere(t, e, e.client(), "Bearer "+tok)
	})
	t.Run("sign-out with the token", func(t *testing.T) {
		c := e.client()
		c.signUp("out-token@example.com")
		tok := c.mint()
		want(t, e.client().do("POST", "/auth/api/sign-out", nil, bearer(tok)...), 204, "")
		refusedEverywhere(t, e, e.client(), "Bearer "+tok)
		want(t, c.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	})
	t.Run("revoked from another session", func(t *testing.T) {
		c1 := e.client()
		c1.signUp("revoke@example.com")
		c2 := signIn("revoke@example.com")
		t1, t2 := c1.mint(), c2.mint()
		sid2 := parseJWT(t, t2).claims["sid"].(string)
		want(t, c1.do("DELETE", "/auth/api/sessions/"+sid2, nil), 204, "")
		refusedEverywhere(t, e, e.client(), "Bearer "+t2)
		acceptedEverywhere(t, e, "Bearer "+t1, "revoke@example.com")
		// Revoking the others with the token revokes them too.
		c3 := signIn("revoke@example.com")
		t3 := c3.mint()
		want(t, e.client().do("DELETE", "/auth/api/sessions", nil, bearer(t1)...), 204, "")
		refusedEverywhere(t, e, e.client(), "Bearer "+t3)
		acceptedEverywhere(t, e, "Bearer "+t1, "revoke@example.com")
	})
	t.Run("password change", func(t *testing.T) {
		c1 := e.client()
		c1.signUp("change@example.com")
		c2 := signIn("change@example.com")
		t1, t2 := c1.mint(), c2.mint()
		want(t, c1.do("POST", "/auth/api/password/change", map[string]string{"current_password": goodPassword, "new_password": "another fine passphrase"}), 200, "")
		refusedEverywhere(t, e, e.client(), "Bearer "+t2)
		// The changing session was replaced by a new one: its old token
		// goes with it, and the new cookie mints a working one.
		refusedEverywhere(t, e, e.client(), "Bearer "+t1)
		acceptedEverywhere(t, e, "Bearer "+c1.mint(), "change@example.com")
	})
	t.Run("user disabled", func(t *testing.T) {
		c := e.client()
		id := c.signUp("disabled@example.com").json(t)["user"].(map[string]any)["id"].(string)
		tok := c.mint()
		if err := e.auth.SetDisabled(ctx, id, true); err != nil {
			t.Fatal(err)
		}
		refusedEverywhere(t, e, e.client(), "Bearer "+tok)
		// Enabling the user again does not bring the session back.
		if err := e.auth.SetDisabled(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		refusedEverywhere(t, e, e.client(), "Bearer "+tok)
	})
	t.Run("user deleted", func(t *testing.T) {
		c := e.client()
		id := c.signUp("deleted@example.com").json(t)["user"].(map[string]any)["id"].(string)
		tok := c.mint()
		if err := e.auth.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
		refusedEverywhere(t, e, e.client(), "Bearer "+tok)
	})
}

// testBearerOtherDeployment: a token signed by another deployment is
// refused — one with another public URL (other keys, iss and aud), and one
// configured exactly alike but with keys of its own — in both directions.
func testBearerOtherDeployment(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("here@example.com")
	ours := c.mint()
	for _, cfg := range []gatehouse.Config{
		{PublicURL: "http://localhost:9090"}, // other keys, iss and aud
		{},                                   // other keys only
	} {
		other := newEnv(t, b, cfg)
		oc := other.client()
		oc.signUp("here@example.com") // the same address there
		theirs := oc.mint()
		if parseJWT(t, theirs).header["kid"] == parseJWT(t, ours).header["kid"] {
			t.Fatal("two deployments share a kid")
		}
		refusedEverywhere(t, e, c, "Bearer "+theirs)
		refusedEverywhere(t, other, oc, "Bearer "+ours)
		acceptedEverywhere(t, other, "Bearer "+theirs, "here@example.com")
	}
	acceptedEverywhere(t, e, "Bearer "+ours, "here@example.com")
}

// testBearerFailsClosed: when the signing keys cannot be read (the
// database is down on a node that has not loaded them yet, or the master
// secret cannot open them), a Bearer request is a 5xx — never a principal,
// and never a 401 that tells the client its (good) token is bad (DESIGN
// invariant 5; verify.ReasonKeysUnavailable says callers answer 5xx).
func testBearerFailsClosed(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{SessionCacheTTL: -1})
	c := e.client()
	c.signUp("closed@example.com")
	tok := c.mint()

	serve := func(a *gatehouse.Auth) *httptest.Server {
		h := web.New(a)
		mux := http.NewServeMux()
		mux.Handle("/auth/", h)
		mux.Handle("/app/", h.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	get := func(t *testing.T, srv *httptest.Server, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body bytes.Buffer
		body.ReadFrom(res.Body)
		return res.StatusCode, body.String()
	}

	t.Run("keys sealed under another secret", func(t *testing.T) {
		// A node started with the wrong master secret over the same
		// database: it cannot open the keys.
		node := serve(authtest.NewWithStore(t, e.auth.Store(), gatehouse.Config{}, gatehouse.WithClock(e.clock), gatehouse.WithoutAbuseLimitsForTests()))
		for _, path := range bearerRoutes {
			if st, body := get(t, node, path); st < 500 {
				t.Errorf("GET %s with a good token on a node that cannot decrypt the signing keys: %d %s, want a 5xx", path, st, body)
			}
		}
		if st, _ := get(t, node, "/auth/.well-known/jwks.json"); st != 500 {
			t.Errorf("JWKS on a node that cannot decrypt the keys: %d, want 500", st)
		}
	})
	t.Run("database down before the keys were loaded", func(t *testing.T) {
		fresh := serve(authtest.NewWithStore(t, e.auth.Store(), gatehouse.Config{}, gatehouse.WithClock(e.clock), gatehouse.WithoutAbuseLimitsForTests()))
		e.auth.Store().Close()
		for _, path := range bearerRoutes {
			if st, body := get(t, fresh, path); st < 500 {
				t.Errorf("GET %s with a good token, database down before the keys were loaded: %d %s, want a 5xx", path, st, body)
			}
		}
		// The node that has the keys in memory reaches the session check,
		// which fails closed.
		for _, path := range bearerRoutes {
			if r := e.client().do("GET", path, nil, bearer(tok)...); r.StatusCode < 500 {
				t.Errorf("GET %s with a good token, database down: %d %s, want a 5xx", path, r.StatusCode, r.body)
			}
		}
	})
}

// testTokenEndpoint pins POST {base}/api/token: only a same-origin request
// (Sec-Fetch-Site same-origin when present, else an Origin that is the
// public URL or none) with a session cookie gets a token — not another
// origin, not an allowed CORS origin, not a sibling site, not a token — and
// the answer never carries CORS headers and is not cached.
func testTokenEndpoint(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{CORSAllowedOrigins: []string{"https://app.example.com"}})
	const public = "http://localhost:8080" // authtest's default PublicURL
	c := e.client()
	c.signUp("mint@example.com")

	want(t, e.client().do("POST", "/auth/api/token", nil, "Sec-Fetch-Site", "same-origin"), 401, "unauthenticated")
	want(t, c.do("GET", "/auth/api/token", nil, "Sec-Fetch-Site", "same-origin"), 405, "method_not_allowed")

	cases := []struct {
		hdr    []string
		status int
	}{
		{[]string{"Sec-Fetch-Site", "same-origin"}, 200},
		{[]string{"Sec-Fetch-Site", "same-origin", "Origin", public}, 200},
		{[]string{"Origin", public}, 200},
		{nil, 200}, // not a browser: curl or a server holding the cookie
		{[]string{"Sec-Fetch-Site", "cross-site"}, 403},
		{[]string{"Sec-Fetch-Site", "same-site"}, 403},
		{[]string{"Sec-Fetch-Site", "none"}, 403},
		{[]string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, 403},
		{[]string{"Origin", "https://evil.example"}, 403},
		{[]string{"Origin", "null"}, 403},
		{[]string{"Origin", "https://app.example.com"}, 403},
		{[]string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site"}, 403},
		{[]string{"Origin", "https://app.example.com", "Sec-Fetch-Site", "same-site"}, 403},
		// The Host the request reached is not the public URL.
		{[]string{"Origin", e.srv.URL}, 403},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.hdr, "="), func(t *testing.T) {
			r := c.do("POST", "/auth/api/token", nil, tc.hdr...)
			if tc.status == 200 {
				want(t, r, 200, "")
			} else {
				want(t, r, tc.status, "cross_origin_request")
			}
			for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"} {
				if v := r.Header.Get(h); v != "" {
					t.Errorf("%s: %q on the token endpoint", h, v)
				}
			}
			if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
	// No preflight succeeds either.
	r := c.do("OPTIONS", "/auth/api/token", nil, "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization")
	if r.StatusCode/100 == 2 || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight of the token endpoint from a CORS origin: %d %v", r.StatusCode, r.Header)
	}

	// The answer's shape.
	r = c.do("POST", "/auth/api/token", nil, "Sec-Fetch-Site", "same-origin")
	want(t, r, 200, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if r.Header.Get("Pragma") != "no-cache" {
		t.Errorf("Pragma %q", r.Header.Get("Pragma"))
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 3 || body["token_type"] != "Bearer" || body["expires_in"] != float64(300) {
		t.Fatalf("body %s, want exactly access_token, token_type Bearer, expires_in 300", r.body)
	}
	if _, ok := body["access_token"].(string); !ok {
		t.Fatalf("access_token %v", body["access_token"])
	}
}

// testTokenClaims decodes a minted token and pins its header and claims
// (RFC 9068 §2), checks its kid is published, verifies it with package
// verify against the served JWKS, and checks the lifetime rules: TTL from
// the configuration, never past the session's end.
func testTokenClaims(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	up := c.signUp("claims@example.com").json(t)
	user, sess := up["user"].(map[string]any), up["session"].(map[string]any)
	if err := e.auth.SetRoles(context.Background(), user["id"].(string), []string{"editor"}); err != nil {
		t.Fatal(err)
	}
	tok := c.mint()
	p := parseJWT(t, tok)

	if keys := slices.Sorted(maps.Keys(p.header)); !slices.Equal(keys, []string{"alg", "kid", "typ"}) {
		t.Errorf("header members %v, want alg, kid, typ: %v", keys, p.header)
	}
	if p.header["alg"] != "EdDSA" || p.header["typ"] != "at+jwt" {
		t.Errorf("header %v", p.header)
	}
	kid, _ := p.header["kid"].(string)
	jwk := e.jwkByKid(t, kid)
	if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" || jwk["alg"] != "EdDSA" || jwk["use"] != "sig" {
		t.Errorf("the signing JWK %v", jwk)
	}
	if len(p.sig) != ed25519.SignatureSize {
		t.Errorf("signature of %d bytes", len(p.sig))
	}

	wantClaims := []string{"aal", "amr", "aud", "auth_time", "client_id", "exp", "iat", "iss", "jti", "nbf", "roles", "sid", "sub"}
	if keys := slices.Sorted(maps.Keys(p.claims)); !slices.Equal(keys, wantClaims) {
		t.Errorf("claims %v, want %v", keys, wantClaims)
	}
	num := func(name string) int64 {
		n, ok := p.claims[name].(json.Number)
		if !ok {
			t.Fatalf("claim %s = %v is not a number", name, p.claims[name])
		}
		v, err := n.Int64()
		if err != nil {
			t.Fatalf("claim %s = %v is not an integer", name, n)
		}
		return v
	}
	now := e.clock.Now().Unix()
	authAt, _ := time.Parse(time.RFC3339Nano, sess["authenticated_at"].(string))
	switch {
	case p.claims["iss"] != "http://localhost:8080/auth":
		t.Errorf("iss %v", p.claims["iss"])
	case p.claims["sub"] != user["id"]:
		t.Errorf("sub %v, user %v", p.claims["sub"], user["id"])
	case !audIs(p.claims["aud"], "http://localhost:8080"):
		t.Errorf("aud %v", p.claims["aud"])
	case num("iat") != now || num("nbf") != now:
		t.Errorf("iat %d nbf %d, now %d", num("iat"), num("nbf"), now)
	case num("exp")-num("iat") != 300:
		t.Errorf("exp - iat = %d, want 300", num("exp")-num("iat"))
	case p.claims["jti"] == "" || p.claims["jti"] == nil:
		t.Errorf("jti %v", p.claims["jti"])
	case p.claims["client_id"] != "first_party":
		t.Errorf("client_id %v", p.claims["client_id"])
	case p.claims["sid"] != sess["id"]:
		t.Errorf("sid %v, session %v", p.claims["sid"], sess["id"])
	case num("auth_time") != authAt.Unix():
		t.Errorf("auth_time %d, authenticated_at %s", num("auth_time"), authAt)
	case fmt.Sprint(p.claims["amr"]) != "[pwd]" || num("aal") != 1:
		t.Errorf("amr %v aal %v", p.claims["amr"], p.claims["aal"])
	case fmt.Sprint(p.claims["roles"]) != "[editor]":
		t.Errorf("roles %v", p.claims["roles"])
	}
	if again := parseJWT(t, c.mint()); again.claims["jti"] == p.claims["jti"] {
		t.Error("two tokens share a jti")
	}
	// Roles is an array even when empty.
	c2 := e.client()
	c2.signUp("noroles@example.com")
	if roles := parseJWT(t, c2.mint()).claims["roles"]; fmt.Sprint(roles) != "[]" || roles == nil {
		t.Errorf("roles of a user without roles: %#v", roles)
	}

	// Package verify, against the JWKS as served, accepts it.
	keys := verify.NewJWKS(e.srv.URL + "/auth/.well-known/jwks.json")
	v, err := verify.New(verify.Config{Issuer: e.auth.Issuer(), Audience: "http://localhost:8080", Clock: e.clock.Now}, keys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got.Subject != user["id"] || got.SessionID != sess["id"] || got.ClientID != "first_party" || got.AAL != 1 || !slices.Equal(got.Roles, []string{"editor"}) {
		t.Errorf("verified claims %+v", got)
	}
	// And refuses it for another audience.
	v2, _ := verify.New(verify.Config{Issuer: e.auth.Issuer(), Audience: "https://other.example", Clock: e.clock.Now}, keys)
	if _, err := v2.Verify(context.Background(), tok); err == nil {
		t.Error("verify accepted the token for another audience")
	}

	// Configured audience and TTL.
	e2 := newEnv(t, b, gatehouse.Config{Tokens: gatehouse.TokenConfig{Audience: "https://api.example.com", TTL: time.Minute}})
	c3 := e2.client()
	c3.signUp("ttl@example.com")
	r := c3.do("POST", "/auth/api/token", nil, "Sec-Fetch-Site", "same-origin")
	want(t, r, 200, "")
	p2 := parseJWT(t, r.json(t)["access_token"].(string))
	if !audIs(p2.claims["aud"], "https://api.example.com") || r.json(t)["expires_in"] != float64(60) {
		t.Errorf("aud %v, expires_in %v", p2.claims["aud"], r.json(t)["expires_in"])
	}
	acceptedEverywhere(t, e2, "Bearer "+r.json(t)["access_token"].(string), "ttl@example.com")

	// A token never outlives its session: two minutes of idle timeout
	// left, a two-minute token.
	e3 := newEnv(t, b, gatehouse.Config{SessionIdleTimeout: 2 * time.Minute})
	c4 := e3.client()
	c4.signUp("idle@example.com")
	r = c4.do("POST", "/auth/api/token", nil, "Sec-Fetch-Site", "same-origin")
	want(t, r, 200, "")
	p3 := parseJWT(t, r.json(t)["access_token"].(string))
	exp, _ := p3.claims["exp"].(json.Number).Int64()
	iat, _ := p3.claims["iat"].(json.Number).Int64()
	if exp-iat > 120 || r.json(t)["expires_in"].(float64) > 120 {
		t.Errorf("token of a session with 2 min left lives %d s (expires_in %v)", exp-iat, r.json(t)["expires_in"])
	}
}

// audIs reports whether aud is exactly the one audience want, as a string
// or a one-element array (RFC 7519 §4.1.3).
func audIs(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return len(a) == 1 && a[0] == want
	}
	return false
}

// TestJWKSGolden pins the wire format of the JWKS served by a default
// deployment once `serve` has created its keys (EdDSA for access tokens,
// RS256 for OpenID Connect): the headers, and the keys with their key
// material, kid and modulus replaced by placeholders, against
// testdata/golden/jwks.json (go test -run TestJWKSGolden -update rewrites
// it). Keys are compared sorted by alg: their order in the set is not part
// of the contract.
func TestJWKSGolden(t *testing.T) {
	clock := authtest.NewClock(time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC))
	auth := authtest.New(t, gatehouse.Config{}, gatehouse.WithClock(clock))
	if _, err := auth.RotateKeys(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	h := web.New(auth)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/auth/.well-known/jwks.json", nil))
	if w.Code != 200 {
		t.Fatalf("JWKS: %d %s", w.Code, w.Body)
	}
	for name, val := range map[string]string{
		"Content-Type":                 "application/jwk-set+json",
		"Cache-Control":                "public, max-age=600",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
	} {
		if got := w.Header().Get(name); got != val {
			t.Errorf("%s %q, want %q", name, got, val)
		}
	}
	if got := w.Header().Get("Set-Cookie"); got != "" {
		t.Errorf("JWKS sets a cookie: %q", got)
	}

	var set map[string][]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set) != 1 || set["keys"] == nil {
		t.Fatalf("not a JWK Set: %v: %s", err, w.Body)
	}
	keys := set["keys"]
	// Pinned as they are; everything else is random per deployment.
	pinned := map[string]bool{"kty": true, "crv": true, "alg": true, "use": true, "e": true}
	for _, k := range keys {
		for _, m := range privateMembers {
			if _, ok := k[m]; ok {
				t.Errorf("key %v has private member %q", k["kid"], m)
			}
		}
		for name, v := range k {
			if s, ok := v.(string); !ok || s == "" {
				t.Errorf("key %v: %s = %#v is not a non-empty string", k["kid"], name, v)
			}
			if !pinned[name] {
				k[name] = "<" + name + ">"
			}
		}
	}
	slices.SortFunc(keys, func(a, b map[string]any) int { return strings.Compare(a["alg"].(string), b["alg"].(string)) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(set); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", "golden", "jwks.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, golden) {
		t.Errorf("JWKS differs from %s (run with -update if the change is intended):\n got: %s\nwant: %s", path, got, golden)
	}
}
