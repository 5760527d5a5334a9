package gatehouse_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
)

// t0 is where the fake clocks of the token and key tests start.
var t0 = time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)

// newSecret returns a fresh random master secret.
func newSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// signedIn signs a new account up on a and returns a context holding its
// principal, as the middleware puts it there, and the principal.
func signedIn(t *testing.T, a *gatehouse.Auth, email string) (context.Context, gatehouse.Principal) {
	t.Helper()
	res := signUp(t, a, email)
	p, err := a.Authenticate(t.Context(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	return gatehouse.WithPrincipal(t.Context(), p), p
}

// mint returns a's access token for the principal in ctx.
func mint(t *testing.T, a *gatehouse.Auth, ctx context.Context) string {
	t.Helper()
	tok, err := a.Token(ctx)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok.Token
}

// jwtSegment decodes segment i (0: header, 1: claims) of a compact JWS.
func jwtSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	segs := strings.Split(tok, ".")
	if len(segs) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(segs[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// kidOf returns the kid of a token's header.
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	kid, _ := jwtSegment(t, tok, 0)["kid"].(string)
	if kid == "" {
		t.Fatalf("token without kid: %q", tok)
	}
	return kid
}

// accepts fails unless a authenticates tok as the principal p's session.
func accepts(t *testing.T, a *gatehouse.Auth, tok string, p gatehouse.Principal) {
	t.Helper()
	got, err := a.AuthenticateBearer(t.Context(), tok)
	if err != nil {
		t.Fatalf("token refused: %v", err)
	}
	if got.Session.ID != p.Session.ID || got.User.ID != p.User.ID || !got.Bearer {
		t.Fatalf("token authenticated %s/%s (Bearer %v), want %s/%s", got.User.ID, got.Session.ID, got.Bearer, p.User.ID, p.Session.ID)
	}
}

// refuses fails unless a refuses tok as an invalid access token.
func refuses(t *testing.T, a *gatehouse.Auth, tok, what string) {
	t.Helper()
	if _, err := a.AuthenticateBearer(t.Context(), tok); gatehouse.ErrorCode(err) != gatehouse.CodeInvalidAccessToken {
		t.Fatalf("%s: AuthenticateBearer = %v, want %s", what, err, gatehouse.CodeInvalidAccessToken)
	}
}

// TestTokenNotYetValid: a token whose nbf and iat lie in the future — here
// minted with our own key by a node whose clock runs ahead — is refused
// until the clock catches up; 30 s of skew are tolerated. (The clock of
// authtest only moves forward, so "the future" needs a second node.)
func TestTokenNotYetValid(t *testing.T) {
	store := authtest.Store(t)
	secret := gatehouse.WithSecret(newSecret())
	clockA := authtest.NewClock(t0)
	a := authtest.NewWithStore(t, store, gatehouse.Config{}, secret, gatehouse.WithClock(clockA))
	if _, err := a.JWKS(t.Context()); err != nil { // the key, active from t0
		t.Fatal(err)
	}
	ctx, p := signedIn(t, a, "early@example.com")
	ahead := authtest.NewWithStore(t, store, gatehouse.Config{}, secret, gatehouse.WithClock(authtest.NewClock(t0.Add(10*time.Minute))))
	early := mint(t, ahead, ctx)
	if kidOf(t, early) != kidOf(t, mint(t, a, ctx)) {
		t.Fatal("the two nodes sign with different keys")
	}
	accepts(t, ahead, early, p)
	refuses(t, a, early, "nbf and iat 10 min ahead")

	skewed := authtest.NewWithStore(t, store, gatehouse.Config{}, secret, gatehouse.WithClock(authtest.NewClock(t0.Add(20*time.Second))))
	accepts(t, a, mint(t, skewed, ctx), p)

	clockA.Advance(10 * time.Minute)
	accepts(t, a, early, p)
}

// TestTokenIssuerAndAudience: nodes sharing the database, the master
// secret and so the keys, but configured for another issuer (public URL or
// base path) or another audience, mint tokens the first node refuses: the
// signature is good, the claims are not for it.
func TestTokenIssuerAndAudience(t *testing.T) {
	store := authtest.Store(t)
	secret := gatehouse.WithSecret(newSecret())
	clock := gatehouse.WithClock(authtest.NewClock(t0))
	a := authtest.NewWithStore(t, store, gatehouse.Config{}, secret, clock)
	ctx, p := signedIn(t, a, "iss@example.com")
	ours := mint(t, a, ctx)
	accepts(t, a, ours, p)
	if c := jwtSegment(t, ours, 1); c["iss"] != "http://localhost:8080/auth" || c["aud"] != "http://localhost:8080" {
		t.Fatalf("iss %v aud %v", c["iss"], c["aud"])
	}

	for _, tc := range []struct {
		name string
		cfg  gatehouse.Config
		iss  string
		aud  string
	}{
		{"other public URL", gatehouse.Config{PublicURL: "http://127.0.0.1:8080"}, "http://127.0.0.1:8080/auth", "http://127.0.0.1:8080"},
		{"other base path", gatehouse.Config{BasePath: "/id"}, "http://localhost:8080/id", "http://localhost:8080"},
		{"other audience", gatehouse.Config{Tokens: gatehouse.TokenConfig{Audience: "https://api.example.com"}}, "http://localhost:8080/auth", "https://api.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := authtest.NewWithStore(t, store, tc.cfg, secret, clock)
			theirs := mint(t, other, ctx)
			c := jwtSegment(t, theirs, 1)
			if c["iss"] != tc.iss || c["aud"] != tc.aud {
				t.Fatalf("iss %v aud %v, want %s %s", c["iss"], c["aud"], tc.iss, tc.aud)
			}
			if kidOf(t, theirs) != kidOf(t, ours) {
				t.Fatal("the nodes do not share the key: the test would prove nothing")
			}
			accepts(t, other, theirs, p)
			refuses(t, a, theirs, tc.name)
			refuses(t, other, ours, tc.name+", the other way")
		})
	}
}

// TestTokenSessionChecks: AuthenticateBearer checks the session behind
// the token at every call, so revocation, disabling and deletion take
// effect at once, cache or not.
func TestTokenSessionChecks(t *testing.T) {
	a := authtest.New(t, gatehouse.Config{}, gatehouse.WithClock(authtest.NewClock(t0)))
	for _, tc := range []struct {
		name string
		end  func(p gatehouse.Principal) error
	}{
		{"sign-out", func(p gatehouse.Principal) error { return a.SignOut(t.Context(), p) }},
		{"session revoked", func(p gatehouse.Principal) error { return a.RevokeSession(t.Context(), p, p.Session.ID) }},
		{"all sessions revoked", func(p gatehouse.Principal) error { _, err := a.RevokeUserSessions(t.Context(), p.User.ID); return err }},
		{"user disabled", func(p gatehouse.Principal) error { return a.SetDisabled(t.Context(), p.User.ID, true) }},
		{"user deleted", func(p gatehouse.Principal) error { return a.DeleteUser(t.Context(), p.User.ID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, p := signedIn(t, a, strings.ReplaceAll(tc.name, " ", "-")+"@example.com")
			tok := mint(t, a, ctx)
			accepts(t, a, tok, p)
			accepts(t, a, tok, p) // cached now
			if err := tc.end(p); err != nil {
				t.Fatal(err)
			}
			refuses(t, a, tok, tc.name)
		})
	}
}

// TestTokenMinting: only a session principal mints; a principal that came
// from a token cannot (tokens would renew themselves forever); the
// lifetime follows Tokens.TTL and never passes the session's end.
func TestTokenMinting(t *testing.T) {
	clock := authtest.NewClock(t0)
	a := authtest.New(t, gatehouse.Config{Tokens: gatehouse.TokenConfig{TTL: time.Minute}}, gatehouse.WithClock(clock))
	if _, err := a.Token(t.Context()); gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated {
		t.Fatalf("Token without a principal: %v", err)
	}
	ctx, p := signedIn(t, a, "mint@example.com")
	tok, err := a.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ExpiresAt %s, want TTL after now", tok.ExpiresAt)
	}
	c := jwtSegment(t, tok.Token, 1)
	if c["exp"].(float64)-c["iat"].(float64) != 60 || int64(c["exp"].(float64)) != tok.ExpiresAt.Unix() {
		t.Fatalf("claims %v", c)
	}
	bp, err := a.AuthenticateBearer(t.Context(), tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Token(gatehouse.WithPrincipal(t.Context(), bp)); gatehouse.ErrorCode(err) != gatehouse.CodeForbidden {
		t.Fatalf("Token from a token principal: %v, want %s", err, gatehouse.CodeForbidden)
	}
	accepts(t, a, tok.Token, p)

	short := authtest.New(t, gatehouse.Config{SessionIdleTimeout: 2 * time.Minute}, gatehouse.WithClock(clock))
	ctx, p = signedIn(t, short, "short@example.com")
	tok, err = short.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if end := p.Session.ExpiresAt(2 * time.Minute); tok.ExpiresAt.After(end) {
		t.Fatalf("token expires %s, after its session (%s)", tok.ExpiresAt, end)
	}
}

// TestTokenAlgorithms: ES256 and RS256 configurations sign access tokens
// with those algorithms under a key of the right type in the JWKS, and
// verify them. (RS256 keys are slow to make: one test.)
func TestTokenAlgorithms(t *testing.T) {
	for _, tc := range []struct{ alg, kty, crv string }{
		{gatehouse.AlgES256, "EC", "P-256"},
		{gatehouse.AlgRS256, "RSA", ""},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			a := authtest.New(t, gatehouse.Config{Tokens: gatehouse.TokenConfig{Algorithm: tc.alg}}, gatehouse.WithClock(authtest.NewClock(t0)))
			ctx, p := signedIn(t, a, "alg@example.com")
			tok := mint(t, a, ctx)
			h := jwtSegment(t, tok, 0)
			if h["alg"] != tc.alg || h["typ"] != "at+jwt" {
				t.Fatalf("header %v", h)
			}
			accepts(t, a, tok, p)
			jwk := jwkOf(t, a, kidOf(t, tok))
			if jwk["kty"] != tc.kty || jwk["alg"] != tc.alg || jwk["use"] != "sig" || tc.crv != "" && jwk["crv"] != tc.crv {
				t.Fatalf("JWK %v", jwk)
			}
		})
	}
}

// jwkOf returns the key with kid from a's JWKS.
func jwkOf(t *testing.T, a *gatehouse.Auth, kid string) map[string]any {
	t.Helper()
	for _, k := range jwks(t, a) {
		if k["kid"] == kid {
			return k
		}
	}
	t.Fatalf("kid %s not in the JWKS", kid)
	return nil
}

// jwks returns the keys of a's JWKS, failing on private key material.
func jwks(t *testing.T, a *gatehouse.Auth) []map[string]any {
	t.Helper()
	body, err := a.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS: %v: %s", err, body)
	}
	for _, k := range set.Keys {
		for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := k[m]; ok {
				t.Fatalf("JWKS key %v holds private member %q", k["kid"], m)
			}
		}
	}
	return set.Keys
}
