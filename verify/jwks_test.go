package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/verify"
)

func jwksVerifier(t testing.TB, js *jwksServer, clk *fakeClock, opts ...verify.JWKSOption) (*verify.Verifier, *verify.JWKS) {
	t.Helper()
	j := verify.NewJWKS(js.url(), append([]verify.JWKSOption{verify.WithClock(clk.Now)}, opts...)...)
	return newVerifier(t, j, nil), j
}

func wantFetches(t testing.TB, js *jwksServer, n int64) {
	t.Helper()
	if got := js.fetches.Load(); got != n {
		t.Fatalf("%d fetches, want %d", got, n)
	}
}

func wantReason(t testing.TB, v *verify.Verifier, tok string, want verify.Reason) {
	t.Helper()
	if got := verifyReason(t, v, tok); got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}
}

func TestJWKSRotation(t *testing.T) {
	k := keys()
	js := newJWKSServer(t, k.ed, k.rsa)
	clk := newClock()
	v, _ := jwksVerifier(t, js, clk)

	// Two keys in the set: tokens under either verify, from one fetch.
	wantReason(t, v, mint(t, k.ed, nil), "")
	wantReason(t, v, mint(t, k.rsa, nil), "")
	wantFetches(t, js, 1)

	// The issuer publishes a new key. A token under it is refused until the
	// refresh floor has passed since the last fetch, then verifies after
	// exactly one refetch.
	js.setKeys(t, k.ed, k.rsa, k.rsaOther)
	newTok := mint(t, k.rsaOther, nil)
	wantReason(t, v, newTok, verify.ReasonUnknownKey)
	wantFetches(t, js, 1)
	clk.Advance(10 * time.Second)
	wantReason(t, v, newTok, "")
	wantFetches(t, js, 2)
	wantReason(t, v, newTok, "")
	wantReason(t, v, mint(t, k.ed, nil), "")
	wantFetches(t, js, 2)

	// The issuer retires the Ed25519 key: once the cache expires, its
	// tokens are refused.
	js.setKeys(t, k.rsa, k.rsaOther)
	clk.Advance(300 * time.Second)
	wantReason(t, v, mint(t, k.ed, nil), verify.ReasonUnknownKey)
	wantFetches(t, js, 3)
	wantReason(t, v, mint(t, k.rsa, nil), "")
	wantFetches(t, js, 3)
}

func randomKidToken(t testing.TB, i int) string {
	return mint(t, keys().ed, func(h, c map[string]any) { h["kid"] = fmt.Sprintf("random-%d-%s", i, rand.Text()) })
}

// A flood of tokens with random kids costs the issuer at most one fetch per
// refresh interval, however many there are and however concurrent.
func TestJWKSUnknownKidFlood(t *testing.T) {
	k := keys()
	js := newJWKSServer(t, k.ed)
	clk := newClock()
	v, _ := jwksVerifier(t, js, clk)

	toks := make([]string, 200)
	for i := range toks {
		toks[i] = randomKidToken(t, i)
	}
	flood := func() {
		var wg sync.WaitGroup
		for g := range 20 {
			wg.Go(func() {
				for i := g; i < len(toks); i += 20 {
					if _, err := v.Verify(context.Background(), toks[i]); reasonOf(err) != verify.ReasonUnknownKey {
						t.Errorf("random kid: %v", err)
					}
				}
			})
		}
		wg.Wait()
	}

	flood() // from a cold cache: the first miss fetches, the rest wait for it
	wantFetches(t, js, 1)
	wantReason(t, v, mint(t, k.ed, nil), "")
	wantFetches(t, js, 1)

	clk.Advance(9 * time.Second)
	flood()
	wantFetches(t, js, 1)

	clk.Advance(time.Second)
	flood()
	wantFetches(t, js, 2)

	// A longer floor is honoured too.
	js2 := newJWKSServer(t, k.ed)
	v2, _ := jwksVerifier(t, js2, clk, verify.WithMinRefreshInterval(time.Minute))
	for i := range 5 {
		wantReason(t, v2, toks[i], verify.ReasonUnknownKey)
		clk.Advance(11 * time.Second)
	}
	wantFetches(t, js2, 1)
	clk.Advance(5 * time.Second)
	wantReason(t, v2, toks[0], verify.ReasonUnknownKey)
	wantFetches(t, js2, 2)
}

// Concurrent lookups that miss the cache share one fetch.
func TestJWKSConcurrentMissesFetchOnce(t *testing.T) {
	k := keys()
	js := newJWKSServer(t, k.ed, k.rsa)
	gate := make(chan struct{})
	js.set(func(js *jwksServer) { js.gate = gate })
	j := verify.NewJWKS(js.url(), verify.WithClock(newClock().Now))

	var wg sync.WaitGroup
	for i := range 50 {
		kid := []string{k.ed.kid, k.rsa.kid}[i%2]
		wg.Go(func() {
			key, err := j.Key(context.Background(), kid)
			if err != nil || key.KeyID != kid {
				t.Errorf("Key(%s): %v", kid, err)
			}
		})
	}
	for js.fetches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue behind the fetch
	close(gate)
	wg.Wait()
	wantFetches(t, js, 1)
}

func TestJWKSCacheLifetime(t *testing.T) {
	tests := []struct {
		name         string
		cacheControl string
		age          string
		opts         []verify.JWKSOption
		lifetime     time.Duration // when the next lookup refetches
	}{
		{name: "max-age", cacheControl: "max-age=60", lifetime: 60 * time.Second},
		{name: "max-age among directives", cacheControl: "public, max-age=120, must-revalidate", lifetime: 120 * time.Second},
		{name: "max-age minus Age", cacheControl: "max-age=600", age: "300", lifetime: 300 * time.Second},
		{name: "max-age over the default cap", cacheControl: "max-age=86400", lifetime: time.Hour},
		{name: "max-age over a lower cap", cacheControl: "max-age=7200", opts: []verify.JWKSOption{verify.WithMaxAge(30 * time.Minute)}, lifetime: 30 * time.Minute},
		{name: "no Cache-Control", lifetime: 5 * time.Minute},
		{name: "no Cache-Control, lower cap", opts: []verify.JWKSOption{verify.WithMaxAge(time.Minute)}, lifetime: time.Minute},
		{name: "no-store: refetched at the refresh floor", cacheControl: "no-store", lifetime: 10 * time.Second},
		{name: "max-age=0", cacheControl: "max-age=0", lifetime: 10 * time.Second},
		{name: "unreadable max-age", cacheControl: "max-age=soon", lifetime: 10 * time.Second},
		{name: "max-age=0, longer floor", cacheControl: "max-age=0", opts: []verify.JWKSOption{verify.WithMinRefreshInterval(time.Minute)}, lifetime: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keys()
			js := newJWKSServer(t, k.ed)
			js.set(func(js *jwksServer) { js.cacheControl, js.age = tt.cacheControl, tt.age })
			clk := newClock()
			j := verify.NewJWKS(js.url(), append([]verify.JWKSOption{verify.WithClock(clk.Now)}, tt.opts...)...)
			get := func() {
				t.Helper()
				if _, err := j.Key(context.Background(), k.ed.kid); err != nil {
					t.Fatal(err)
				}
			}
			get()
			wantFetches(t, js, 1)
			clk.Advance(tt.lifetime - time.Second)
			get()
			wantFetches(t, js, 1)
			clk.Advance(time.Second)
			get()
			wantFetches(t, js, 2)
		})
	}
}

// When a refresh fails the previous set stays: its keys keep verifying, and
// kids it cannot answer get the failure (keys unavailable), not "unknown".
func TestJWKSKeepsOldSetOnErrors(t *testing.T) {
	k := keys()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("redirect followed")
	}))
	defer other.Close()
	tests := []struct {
		name string
		bad  func(js *jwksServer)
	}{
		{"status 500", func(js *jwksServer) { js.status = http.StatusInternalServerError }},
		{"status 404", func(js *jwksServer) { js.status = http.StatusNotFound }},
		{"redirect", func(js *jwksServer) { js.status, js.location = http.StatusFound, other.URL }},
		{"not JSON", func(js *jwksServer) { js.body = []byte("<html>oops</html>") }},
		{"truncated JSON", func(js *jwksServer) { js.body = js.body[:len(js.body)/2] }},
		{"keys not an array", func(js *jwksServer) { js.body = []byte(`{"keys":"x"}`) }},
		{"no keys member", func(js *jwksServer) { js.body = []byte(`{}`) }},
		{"Keys in another case", func(js *jwksServer) { js.body = []byte(`{"Keys":[]}`) }},
		{"duplicate keys member", func(js *jwksServer) { js.body = []byte(`{"keys":[],"keys":[]}`) }},
		{"trailing data", func(js *jwksServer) { js.body = append(append([]byte{}, js.body...), "{}"...) }},
		{"over 1 MiB", func(js *jwksServer) {
			js.body = append(append([]byte{}, js.body...), strings.Repeat(" ", verify.MaxJWKSSize)...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := newJWKSServer(t, k.ed)
			js.set(func(js *jwksServer) { js.cacheControl = "max-age=60" })
			clk := newClock()
			v, _ := jwksVerifier(t, js, clk)
			edTok, rsaTok := mint(t, k.ed, nil), mint(t, k.rsa, nil)
			wantReason(t, v, edTok, "")
			wantFetches(t, js, 1)

			js.set(tt.bad)
			clk.Advance(time.Minute)
			wantReason(t, v, edTok, "") // stale, but still the best we know
			wantFetches(t, js, 2)
			clk.Advance(10 * time.Second)
			_, err := v.Verify(context.Background(), rsaTok)
			if reasonOf(err) != verify.ReasonKeysUnavailable || errors.Is(err, verify.ErrUnknownKey) {
				t.Fatalf("kid unknown to a stale set: %v", err)
			}
			wantFetches(t, js, 3)
			wantReason(t, v, rsaTok, verify.ReasonKeysUnavailable) // the failure is remembered, not retried
			wantFetches(t, js, 3)

			// The issuer recovers: the next fetch after the floor replaces the set.
			js.set(func(js *jwksServer) { js.status, js.location, js.cacheControl = http.StatusOK, "", "max-age=60" })
			js.setKeys(t, k.ed, k.rsa)
			clk.Advance(10 * time.Second)
			wantReason(t, v, rsaTok, "")
			wantFetches(t, js, 4)
		})
	}
}

func TestJWKSFirstFetchFails(t *testing.T) {
	js := newJWKSServer(t, keys().ed)
	js.set(func(js *jwksServer) { js.status = http.StatusServiceUnavailable })
	v, _ := jwksVerifier(t, js, newClock())
	wantReason(t, v, mint(t, keys().ed, nil), verify.ReasonKeysUnavailable)
}

// Keys that must never verify anything are dropped from a fetched set.
func TestJWKSFiltersKeys(t *testing.T) {
	k := keys()
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw := func(key jose.JSONWebKey) json.RawMessage { return mustJSON(t, key) }
	js := newJWKSServer(t)
	js.setRaw(t,
		raw(jose.JSONWebKey{Key: edPriv, KeyID: "private", Algorithm: "EdDSA", Use: "sig"}),
		raw(jose.JSONWebKey{Key: edPriv.Public(), KeyID: "enc", Algorithm: "EdDSA", Use: "enc"}),
		raw(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"}),
		raw(jose.JSONWebKey{Key: small.Public(), KeyID: "rsa-small", Algorithm: "RS256", Use: "sig"}),
		raw(jose.JSONWebKey{Key: p384.Public(), KeyID: "p384", Algorithm: "ES384", Use: "sig"}),
		raw(jose.JSONWebKey{Key: edPriv.Public(), KeyID: "mislabelled", Algorithm: "RS256", Use: "sig"}),
		json.RawMessage(`{"kty":"XYZ","kid":"weird","use":"sig"}`),
		json.RawMessage(`"not an object"`),
		raw(jose.JSONWebKey{Key: edPriv.Public(), KeyID: "../path", Algorithm: "EdDSA", Use: "sig"}),
		raw(k.ed.jwk()),
		raw(jose.JSONWebKey{Key: k.rsa.priv.Public(), KeyID: "no-use-no-alg"}),
		raw(jose.JSONWebKey{Key: k.ed.priv.Public(), KeyID: "dup", Algorithm: "EdDSA"}),
		raw(jose.JSONWebKey{Key: k.edOther.priv.Public(), KeyID: "dup", Algorithm: "EdDSA"}),
	)
	v, _ := jwksVerifier(t, js, newClock())

	privSigner := signer{kid: "private", alg: "EdDSA", priv: edPriv}
	tests := []struct {
		name string
		tok  string
		want verify.Reason
	}{
		{"usable key", mint(t, k.ed, nil), ""},
		{"key without use or alg", mint(t, signer{kid: "no-use-no-alg", alg: "RS256", priv: k.rsa.priv}, nil), ""},
		{"private key", mint(t, privSigner, nil), verify.ReasonUnknownKey},
		{"use enc", mint(t, signer{kid: "enc", alg: "EdDSA", priv: edPriv}, nil), verify.ReasonUnknownKey},
		{"1024-bit RSA", mint(t, signer{kid: "rsa-small", alg: "RS256", priv: small}, nil), verify.ReasonUnknownKey},
		{"key labelled with an alg of another type", mint(t, signer{kid: "mislabelled", alg: "EdDSA", priv: edPriv}, nil), verify.ReasonUnknownKey},
		{"unknown kty", mint(t, signer{kid: "weird", alg: "EdDSA", priv: edPriv}, nil), verify.ReasonUnknownKey},
		{"duplicate kid: the first wins", mint(t, signer{kid: "dup", alg: "EdDSA", priv: k.edOther.priv}, nil), verify.ReasonSignature},
		{"duplicate kid: the first verifies", mint(t, signer{kid: "dup", alg: "EdDSA", priv: k.ed.priv}, nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantReason(t, v, tt.tok, tt.want) })
	}
	wantFetches(t, js, 1)
}

// Malformed kids are refused before the cache, so they never cause a fetch.
func TestJWKSBadKidsNeverFetch(t *testing.T) {
	js := newJWKSServer(t, keys().ed)
	j := verify.NewJWKS(js.url())
	for _, kid := range []string{"", "../jwks", "a/b", `a\b`, "a?b", "a#b", "%2e%2e", "a b", "a\x00", "é", strings.Repeat("k", 129)} {
		if _, err := j.Key(context.Background(), kid); !errors.Is(err, verify.ErrUnknownKey) {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
	wantFetches(t, js, 0)
	if _, err := j.Key(context.Background(), strings.Repeat("k", 128)); !errors.Is(err, verify.ErrUnknownKey) {
		t.Errorf("128-byte kid: %v", err)
	}
	wantFetches(t, js, 1)
}

func TestJWKSRefusesUnsafeURLs(t *testing.T) {
	for _, u := range []string{
		"http://auth.example.com/auth/.well-known/jwks.json",
		"http://127.0.0.1.example.com/jwks.json",
		"ftp://127.0.0.1/jwks.json",
		"https://user:pass@auth.example.com/jwks.json",
		"/auth/.well-known/jwks.json",
		"https://auth.example.com/jwks.json#frag",
		"://",
	} {
		_, err := verify.NewJWKS(u).Key(context.Background(), "ed-1")
		if err == nil || errors.Is(err, verify.ErrUnknownKey) || !strings.Contains(err.Error(), "JWKS URL") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// The fetch runs under the caller's context; a caller giving up does not
// count as a failed fetch for the others.
func TestJWKSFetchUsesContext(t *testing.T) {
	k := keys()
	js := newJWKSServer(t, k.ed)
	gate := make(chan struct{})
	defer close(gate)
	js.set(func(js *jwksServer) { js.gate = gate })
	v, _ := jwksVerifier(t, js, newClock())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := v.Verify(ctx, mint(t, k.ed, nil))
		done <- err
	}()
	for js.fetches.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if reasonOf(err) != verify.ReasonKeysUnavailable || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fetch ignored the cancelled context")
	}

	js.set(func(js *jwksServer) { js.gate = nil })
	wantReason(t, v, mint(t, k.ed, nil), "")
	wantFetches(t, js, 2)
}

func TestStaticKeys(t *testing.T) {
	k := keys()
	ks := staticKeys(k.ed, k.rsa)
	if key, err := ks.Key(context.Background(), k.rsa.kid); err != nil || key.KeyID != k.rsa.kid {
		t.Fatalf("Key: %v, %v", key.KeyID, err)
	}
	for _, kid := range []string{"nope", "", "../" + k.ed.kid} {
		if _, err := ks.Key(context.Background(), kid); !errors.Is(err, verify.ErrUnknownKey) {
			t.Fatalf("Key(%q): %v", kid, err)
		}
	}
}
