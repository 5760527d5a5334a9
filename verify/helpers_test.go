package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/verify"
)

const (
	testIssuer   = "https://auth.example.com/auth"
	testAudience = "https://app.example.com"
)

// t0 is the tests' "now"; tokens are minted relative to it.
var t0 = time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC)

// signer is a test key pair: the private half signs tokens by hand (so tests
// can build any header), the public half is what key sources publish.
type signer struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func (s signer) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: s.priv.Public(), KeyID: s.kid, Algorithm: s.alg, Use: "sig"}
}

type testKeys struct {
	ed, rsa, ec signer
	edOther     signer // an attacker's key, never published
	rsaOther    signer // a second RSA key, for rotation
}

// keys are generated once per test binary: RSA generation is slow under -race.
var keys = sync.OnceValue(func() testKeys {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	_, edOther, _ := ed25519.GenerateKey(rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	rk2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return testKeys{
		ed:       signer{kid: "ed-1", alg: "EdDSA", priv: ed},
		rsa:      signer{kid: "rsa-1", alg: "RS256", priv: rk},
		ec:       signer{kid: "ec-1", alg: "ES256", priv: ek},
		edOther:  signer{kid: "attacker", alg: "EdDSA", priv: edOther},
		rsaOther: signer{kid: "rsa-2", alg: "RS256", priv: rk2},
	}
})

func staticKeys(ss ...signer) verify.StaticKeys {
	var set verify.StaticKeys
	for _, s := range ss {
		set.Keys = append(set.Keys, s.jwk())
	}
	return set
}

func allStatic() verify.StaticKeys {
	k := keys()
	return staticKeys(k.ed, k.rsa, k.ec)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawSign signs input with the private key as the given alg would, whatever
// the token's header says.
func rawSign(t testing.TB, priv crypto.Signer, input string) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(input))
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, []byte(input))
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
	t.Fatalf("unsupported key %T", priv)
	return nil
}

func baseHeader(s signer) map[string]any {
	return map[string]any{"alg": s.alg, "kid": s.kid, "typ": "at+jwt"}
}

func baseClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":       testIssuer,
		"sub":       "usr_123",
		"aud":       testAudience,
		"exp":       now.Add(5 * time.Minute).Unix(),
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"jti":       "tok_abc",
		"client_id": "gatehouse",
		"sid":       "ses_456",
		"amr":       []string{"pwd", "otp"},
		"aal":       2,
		"roles":     []string{"editor"},
		"scope":     "openid profile",
	}
}

// mint builds a signed token; edit may change the header and claims (a nil
// value deletes the member).
func mint(t testing.TB, s signer, edit func(h, c map[string]any)) string {
	t.Helper()
	h, c := baseHeader(s), baseClaims(t0)
	if edit != nil {
		edit(h, c)
	}
	for k, v := range h {
		if v == nil {
			delete(h, k)
		}
	}
	for k, v := range c {
		if v == nil {
			delete(c, k)
		}
	}
	return signRaw(t, s.priv, mustJSON(t, h), mustJSON(t, c))
}

func signRaw(t testing.TB, priv crypto.Signer, header, payload []byte) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	return input + "." + b64(rawSign(t, priv, input))
}

func newVerifier(t testing.TB, ks verify.Keys, edit func(*verify.Config)) *verify.Verifier {
	t.Helper()
	cfg := verify.Config{Issuer: testIssuer, Audience: testAudience, Clock: func() time.Time { return t0 }}
	if edit != nil {
		edit(&cfg)
	}
	v, err := verify.New(cfg, ks)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func reasonOf(err error) verify.Reason {
	if e, ok := errors.AsType[*verify.Error](err); ok {
		return e.Reason
	}
	return ""
}

// fakeClock is a settable clock shared by a JWKS and the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// jwksServer is an issuer's JWKS endpoint on loopback that counts fetches.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64

	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
	age          string
	location     string
	gate         chan struct{} // when set, each fetch waits for it to close
}

func newJWKSServer(t testing.TB, ss ...signer) *jwksServer {
	t.Helper()
	js := &jwksServer{status: http.StatusOK, cacheControl: "max-age=300"}
	js.setKeys(t, ss...)
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		js.mu.Lock()
		body, st, cc, age, loc, gate := js.body, js.status, js.cacheControl, js.age, js.location, js.gate
		js.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if age != "" {
			w.Header().Set("Age", age)
		}
		if loc != "" {
			w.Header().Set("Location", loc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(st)
		w.Write(body)
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) setKeys(t testing.TB, ss ...signer) {
	t.Helper()
	var raws []json.RawMessage
	for _, s := range ss {
		raws = append(raws, mustJSON(t, s.jwk()))
	}
	js.setRaw(t, raws...)
}

func (js *jwksServer) setRaw(t testing.TB, raws ...json.RawMessage) {
	t.Helper()
	if raws == nil {
		raws = []json.RawMessage{}
	}
	js.setBody(mustJSON(t, map[string]any{"keys": raws}))
}

func (js *jwksServer) setBody(b []byte) {
	js.mu.Lock()
	js.body = b
	js.mu.Unlock()
}

func (js *jwksServer) set(f func(js *jwksServer)) {
	js.mu.Lock()
	f(js)
	js.mu.Unlock()
}

func (js *jwksServer) url() string { return js.URL + "/auth/.well-known/jwks.json" }

// verifyReason runs Verify and returns the reason ("" on success).
func verifyReason(t testing.TB, v *verify.Verifier, tok string) verify.Reason {
	t.Helper()
	_, err := v.Verify(context.Background(), tok)
	if err == nil {
		return ""
	}
	r := reasonOf(err)
	if r == "" {
		t.Fatalf("Verify returned %T %v, want *verify.Error", err, err)
	}
	return r
}

// replacePart swaps one dot-separated part of a token.
func replacePart(tok string, i int, part string) string {
	p := strings.Split(tok, ".")
	p[i] = part
	return strings.Join(p, ".")
}
