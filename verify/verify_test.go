package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/verify"
)

func TestVerifyAccepts(t *testing.T) {
	k := keys()
	v := newVerifier(t, allStatic(), nil)
	tests := []struct {
		name string
		s    signer
		edit func(h, c map[string]any)
	}{
		{"EdDSA", k.ed, nil},
		{"RS256", k.rsa, nil},
		{"ES256", k.ec, nil},
		{"aud array", k.ed, func(h, c map[string]any) { c["aud"] = []string{"other", testAudience} }},
		{"typ with application/ prefix", k.ed, func(h, c map[string]any) { h["typ"] = "application/at+jwt" }},
		{"typ upper case", k.ed, func(h, c map[string]any) { h["typ"] = "AT+JWT" }},
		{"no nbf", k.ed, func(h, c map[string]any) { c["nbf"] = nil }},
		{"optional claims absent", k.ed, func(h, c map[string]any) {
			for _, n := range []string{"jti", "client_id", "sid", "amr", "aal", "roles", "scope"} {
				c[n] = nil
			}
		}},
		{"expired within leeway", k.ed, func(h, c map[string]any) { c["exp"] = t0.Add(-29 * time.Second).Unix() }},
		{"nbf within leeway", k.ed, func(h, c map[string]any) { c["nbf"] = t0.Add(29 * time.Second).Unix() }},
		{"iat within leeway", k.ed, func(h, c map[string]any) { c["iat"] = t0.Add(29 * time.Second).Unix() }},
		{"fractional dates", k.ed, func(h, c map[string]any) { c["exp"] = float64(t0.Unix()) + 60.5 }},
		{"header jku, x5u ignored", k.ed, func(h, c map[string]any) {
			h["jku"] = "https://attacker.example/jwks.json"
			h["x5u"] = "https://attacker.example/cert.pem"
		}},
		{"unknown claims ignored", k.ed, func(h, c map[string]any) { c["extra"] = map[string]any{"x": 1} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := verifyReason(t, v, mint(t, tt.s, tt.edit)); r != "" {
				t.Fatalf("refused: %s", r)
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	v := newVerifier(t, allStatic(), nil)
	c, err := v.Verify(context.Background(), mint(t, keys().ed, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &verify.Claims{
		Issuer: testIssuer, Subject: "usr_123", Audience: []string{testAudience},
		Expiry: t0.Add(5 * time.Minute), IssuedAt: t0, NotBefore: t0,
		ID: "tok_abc", ClientID: "gatehouse", SessionID: "ses_456", Scope: "openid profile",
		AMR: []string{"pwd", "otp"}, Roles: []string{"editor"}, AAL: 2,
	}
	for _, tm := range []*time.Time{&c.Expiry, &c.IssuedAt, &c.NotBefore} {
		*tm = tm.UTC()
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("claims\n got %+v\nwant %+v", c, want)
	}
}

// TestVerifyRefuses pins every refusal to its reason. Each case is an attack
// or a defect the verifier must not let through.
func TestVerifyRefuses(t *testing.T) {
	k := keys()
	good := mint(t, k.ed, nil)
	parts := strings.Split(good, ".")

	// A token that pushes key material or URLs through its header. The jku
	// and x5u servers count hits: they must never be contacted.
	var hits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.edOther.jwk()}}))
	}))
	defer attacker.Close()
	attackerJWK := json.RawMessage(mustJSON(t, k.edOther.jwk()))

	// The classic RS256 → HS256 confusion: the attacker uses the published
	// RSA public key (as PEM, and as its JWK) as an HMAC secret.
	pubDER, err := x509.MarshalPKIXPublicKey(k.rsa.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hmacToken := func(secret []byte) string {
		input := b64(mustJSON(t, map[string]any{"alg": "HS256", "kid": k.rsa.kid, "typ": "at+jwt"})) + "." + b64(mustJSON(t, baseClaims(t0)))
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	}

	// A self-signed certificate for the attacker's key, for x5c.
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "auth.example.com"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.edOther.priv.Public(), k.edOther.priv)
	if err != nil {
		t.Fatal(err)
	}

	// A key set with traps under the kids the tokens below use.
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	traps := allStatic()
	traps.Keys = append(traps.Keys,
		jose.JSONWebKey{Key: edPriv, KeyID: "private", Algorithm: "EdDSA", Use: "sig"},
		jose.JSONWebKey{Key: edPriv.Public(), KeyID: "enc", Algorithm: "EdDSA", Use: "enc"},
		jose.JSONWebKey{Key: []byte("a shared secret!"), KeyID: "oct", Algorithm: "HS256"},
	)
	privSigner := signer{kid: "private", alg: "EdDSA", priv: edPriv}
	encSigner := signer{kid: "enc", alg: "EdDSA", priv: edPriv}

	flattened := mustJSON(t, map[string]string{"protected": parts[0], "payload": parts[1], "signature": parts[2]})
	general := mustJSON(t, map[string]any{"payload": parts[1], "signatures": []map[string]string{{"protected": parts[0], "signature": parts[2]}}})

	// A signature whose last character has its unused low bits set decodes
	// to the same bytes: a second spelling of the same token.
	last := parts[2][len(parts[2])-1]
	idx := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
	malleable := replacePart(good, 2, parts[2][:len(parts[2])-1]+string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx|1]))

	tests := []struct {
		name  string
		token string
		keys  verify.Keys // default allStatic()
		cfg   func(*verify.Config)
		want  verify.Reason
	}{
		// Size and shape.
		{name: "over 8 KiB", token: mint(t, k.ed, func(h, c map[string]any) { c["pad"] = strings.Repeat("x", 8<<10) }), want: verify.ReasonTooLarge},
		{name: "over 8 KiB of garbage", token: strings.Repeat("a", verify.MaxTokenSize+1), want: verify.ReasonTooLarge},
		{name: "empty", token: "", want: verify.ReasonMalformed},
		{name: "one part", token: parts[0], want: verify.ReasonMalformed},
		{name: "two parts", token: parts[0] + "." + parts[1], want: verify.ReasonMalformed},
		{name: "empty signature", token: parts[0] + "." + parts[1] + ".", want: verify.ReasonMalformed},
		{name: "empty payload", token: parts[0] + ".." + parts[2], want: verify.ReasonMalformed},
		{name: "four parts", token: good + "." + parts[2], want: verify.ReasonMalformed},
		{name: "JWE (five parts)", token: parts[0] + ".AAAA." + "AAAA." + parts[1] + "." + parts[2], want: verify.ReasonMalformed},
		{name: "JSON serialization, flattened", token: string(flattened), want: verify.ReasonMalformed},
		{name: "JSON serialization, general", token: string(general), want: verify.ReasonMalformed},
		{name: "trailing dot", token: good + ".", want: verify.ReasonMalformed},
		{name: "trailing newline", token: good + "\n", want: verify.ReasonMalformed},
		{name: "trailing space", token: good + " ", want: verify.ReasonMalformed},
		{name: "leading space", token: " " + good, want: verify.ReasonMalformed},
		{name: "space inside", token: parts[0] + ". " + parts[1] + "." + parts[2], want: verify.ReasonMalformed},
		{name: "padding", token: parts[0] + "." + parts[1] + "." + parts[2] + "==", want: verify.ReasonMalformed},
		{name: "standard base64 alphabet", token: replacePart(good, 2, strings.NewReplacer("-", "+", "_", "/").Replace(parts[2])+"+/"), want: verify.ReasonMalformed},
		{name: "bad base64 in header", token: replacePart(good, 0, "e!!!"), want: verify.ReasonMalformed},
		{name: "impossible base64 length", token: replacePart(good, 1, parts[1]+strings.Repeat("A", (5-len(parts[1])%4)%4)), want: verify.ReasonMalformed},
		{name: "non-canonical base64 signature", token: malleable, want: verify.ReasonMalformed},
		{name: "truncated by one", token: good[:len(good)-1], want: "any"},
		{name: "truncated by four", token: good[:len(good)-4], want: "any"},
		{name: "truncated header", token: replacePart(good, 0, parts[0][:8]), want: verify.ReasonMalformed},
		{name: "header not JSON", token: replacePart(good, 0, b64([]byte("not json"))), want: verify.ReasonMalformed},
		{name: "header duplicate alg", token: replacePart(good, 0, b64([]byte(`{"alg":"EdDSA","alg":"RS256","kid":"ed-1","typ":"at+jwt"}`))), want: verify.ReasonMalformed},

		// Algorithms and keys.
		{name: "alg none, no signature", token: b64([]byte(`{"alg":"none","kid":"ed-1","typ":"at+jwt"}`)) + "." + parts[1] + ".", want: verify.ReasonMalformed},
		{name: "alg none, with a signature", token: replacePart(good, 0, b64([]byte(`{"alg":"none","kid":"ed-1","typ":"at+jwt"}`))), want: verify.ReasonAlgorithm},
		{name: "alg missing", token: mint(t, k.ed, func(h, c map[string]any) { h["alg"] = nil }), want: verify.ReasonAlgorithm},
		{name: "alg lower case", token: mint(t, k.ed, func(h, c map[string]any) { h["alg"] = "eddsa" }), want: verify.ReasonAlgorithm},
		{name: "HS256 keyed with the RSA public key PEM", token: hmacToken(pubPEM), want: verify.ReasonAlgorithm},
		{name: "HS256 keyed with the RSA public key DER", token: hmacToken(pubDER), want: verify.ReasonAlgorithm},
		{name: "HS256 keyed with the RSA JWK", token: hmacToken(mustJSON(t, k.rsa.jwk())), want: verify.ReasonAlgorithm},
		{name: "HS256 keyed with an oct key in the set", token: func() string {
			input := b64(mustJSON(t, map[string]any{"alg": "HS256", "kid": "oct", "typ": "at+jwt"})) + "." + parts[1]
			m := hmac.New(sha256.New, []byte("a shared secret!"))
			m.Write([]byte(input))
			return input + "." + b64(m.Sum(nil))
		}(), keys: traps, want: verify.ReasonAlgorithm},
		{name: "RS256 header on the Ed25519 kid", token: mint(t, signer{kid: k.ed.kid, alg: "RS256", priv: k.rsa.priv}, nil), want: verify.ReasonAlgorithm},
		{name: "EdDSA header on the RSA kid", token: mint(t, signer{kid: k.rsa.kid, alg: "EdDSA", priv: k.ed.priv}, nil), want: verify.ReasonAlgorithm},
		{name: "ES256 header on the RSA kid", token: mint(t, signer{kid: k.rsa.kid, alg: "ES256", priv: k.ec.priv}, nil), want: verify.ReasonAlgorithm},
		{name: "algorithm outside Config.Algorithms", token: mint(t, k.rsa, nil), cfg: func(c *verify.Config) { c.Algorithms = []string{"EdDSA"} }, want: verify.ReasonAlgorithm},
		{name: "signed by another key under our kid", token: mint(t, signer{kid: k.ed.kid, alg: "EdDSA", priv: k.edOther.priv}, nil), want: verify.ReasonSignature},
		{name: "payload swapped", token: replacePart(good, 1, b64(mustJSON(t, map[string]any{"iss": testIssuer, "sub": "usr_admin", "aud": testAudience, "exp": t0.Add(time.Hour).Unix(), "iat": t0.Unix()}))), want: verify.ReasonSignature},
		{name: "signature of another token", token: replacePart(good, 2, strings.Split(mint(t, k.ed, func(h, c map[string]any) { c["sub"] = "usr_other" }), ".")[2]), want: verify.ReasonSignature},
		{name: "RS256 signature bytes flipped", token: func() string {
			tok := mint(t, k.rsa, nil)
			p := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(p[2])
			sig[10] ^= 1
			return replacePart(tok, 2, b64(sig))
		}(), want: verify.ReasonSignature},
		{name: "ES256 signature too short", token: func() string {
			tok := mint(t, k.ec, nil)
			p := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(p[2])
			return replacePart(tok, 2, b64(sig[:63]))
		}(), want: verify.ReasonSignature},

		// Keys carried or pointed to by the header: never used.
		{name: "embedded jwk, attacker kid", token: mint(t, k.edOther, func(h, c map[string]any) { h["jwk"] = attackerJWK }), want: verify.ReasonUnknownKey},
		{name: "embedded jwk under our kid", token: mint(t, signer{kid: k.ed.kid, alg: "EdDSA", priv: k.edOther.priv}, func(h, c map[string]any) { h["jwk"] = attackerJWK }), want: verify.ReasonSignature},
		{name: "jku to the attacker's set", token: mint(t, k.edOther, func(h, c map[string]any) { h["jku"] = attacker.URL }), want: verify.ReasonUnknownKey},
		{name: "jku under our kid", token: mint(t, signer{kid: k.ed.kid, alg: "EdDSA", priv: k.edOther.priv}, func(h, c map[string]any) { h["jku"] = attacker.URL }), want: verify.ReasonSignature},
		{name: "x5u", token: mint(t, signer{kid: k.ed.kid, alg: "EdDSA", priv: k.edOther.priv}, func(h, c map[string]any) { h["x5u"] = attacker.URL }), want: verify.ReasonSignature},
		{name: "x5c of the attacker's certificate", token: mint(t, signer{kid: k.ed.kid, alg: "EdDSA", priv: k.edOther.priv}, func(h, c map[string]any) {
			h["x5c"] = []string{base64.StdEncoding.EncodeToString(certDER)}
		}), want: verify.ReasonSignature},
		{name: "private key in the set", token: mint(t, privSigner, nil), keys: traps, want: verify.ReasonUnknownKey},
		{name: "key with use enc", token: mint(t, encSigner, nil), keys: traps, want: verify.ReasonUnknownKey},

		// Header fields.
		{name: "crit", token: mint(t, k.ed, func(h, c map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), want: verify.ReasonHeader},
		{name: "crit empty", token: mint(t, k.ed, func(h, c map[string]any) { h["crit"] = []string{} }), want: verify.ReasonHeader},
		{name: "b64 false", token: mint(t, k.ed, func(h, c map[string]any) { h["b64"] = false; h["crit"] = []string{"b64"} }), want: verify.ReasonHeader},
		{name: "b64 without crit", token: mint(t, k.ed, func(h, c map[string]any) { h["b64"] = false }), want: verify.ReasonHeader},
		{name: "typ JWT (an ID token)", token: mint(t, k.ed, func(h, c map[string]any) { h["typ"] = "JWT" }), want: verify.ReasonTokenType},
		{name: "typ missing", token: mint(t, k.ed, func(h, c map[string]any) { h["typ"] = nil }), want: verify.ReasonTokenType},
		{name: "typ not a string", token: mint(t, k.ed, func(h, c map[string]any) { h["typ"] = 1 }), want: verify.ReasonTokenType},
		{name: "typ with another prefix", token: mint(t, k.ed, func(h, c map[string]any) { h["typ"] = "text/at+jwt" }), want: verify.ReasonTokenType},
		{name: "kid missing", token: mint(t, k.ed, func(h, c map[string]any) { h["kid"] = nil }), want: verify.ReasonMalformed},
		{name: "kid path-like", token: mint(t, k.ed, func(h, c map[string]any) { h["kid"] = "../../etc/passwd" }), want: verify.ReasonMalformed},
		{name: "kid too long", token: mint(t, k.ed, func(h, c map[string]any) { h["kid"] = strings.Repeat("k", 129) }), want: verify.ReasonMalformed},
		{name: "kid with control bytes", token: mint(t, k.ed, func(h, c map[string]any) { h["kid"] = "ed-1\n" }), want: verify.ReasonMalformed},
		{name: "kid unknown", token: mint(t, k.ed, func(h, c map[string]any) { h["kid"] = "ed-9" }), want: verify.ReasonUnknownKey},

		// Claims.
		{name: "iss wrong", token: mint(t, k.ed, func(h, c map[string]any) { c["iss"] = "https://evil.example.com/auth" }), want: verify.ReasonIssuer},
		{name: "iss with trailing slash", token: mint(t, k.ed, func(h, c map[string]any) { c["iss"] = testIssuer + "/" }), want: verify.ReasonIssuer},
		{name: "iss other case", token: mint(t, k.ed, func(h, c map[string]any) { c["iss"] = strings.ToUpper(testIssuer) }), want: verify.ReasonIssuer},
		{name: "iss missing", token: mint(t, k.ed, func(h, c map[string]any) { c["iss"] = nil }), want: verify.ReasonMissingClaim},
		{name: "iss as a member of another case", token: mint(t, k.ed, func(h, c map[string]any) { c["iss"] = nil; c["ISS"] = testIssuer }), want: verify.ReasonMissingClaim},
		{name: "sub missing", token: mint(t, k.ed, func(h, c map[string]any) { c["sub"] = nil }), want: verify.ReasonMissingClaim},
		{name: "aud wrong", token: mint(t, k.ed, func(h, c map[string]any) { c["aud"] = "https://other.example.com" }), want: verify.ReasonAudience},
		{name: "aud array without ours", token: mint(t, k.ed, func(h, c map[string]any) { c["aud"] = []string{"a", "b"} }), want: verify.ReasonAudience},
		{name: "aud prefix of ours", token: mint(t, k.ed, func(h, c map[string]any) { c["aud"] = testAudience[:len(testAudience)-1] }), want: verify.ReasonAudience},
		{name: "aud missing", token: mint(t, k.ed, func(h, c map[string]any) { c["aud"] = nil }), want: verify.ReasonMissingClaim},
		{name: "aud empty array", token: mint(t, k.ed, func(h, c map[string]any) { c["aud"] = []string{} }), want: verify.ReasonMissingClaim},
		{name: "aud a number", token: mint(t, k.ed, func(h, c map[string]any) { c["aud"] = 1 }), want: verify.ReasonMalformed},
		{name: "exp missing", token: mint(t, k.ed, func(h, c map[string]any) { c["exp"] = nil }), want: verify.ReasonMissingClaim},
		{name: "exp past", token: mint(t, k.ed, func(h, c map[string]any) { c["exp"] = t0.Add(-31 * time.Second).Unix() }), want: verify.ReasonExpired},
		{name: "exp at the leeway's end", token: mint(t, k.ed, func(h, c map[string]any) { c["exp"] = t0.Add(-30 * time.Second).Unix() }), want: verify.ReasonExpired},
		{name: "exp a string", token: mint(t, k.ed, func(h, c map[string]any) { c["exp"] = "9999999999" }), want: verify.ReasonMalformed},
		{name: "exp negative", token: mint(t, k.ed, func(h, c map[string]any) { c["exp"] = -1 }), want: verify.ReasonMalformed},
		{name: "exp absurd", token: mint(t, k.ed, func(h, c map[string]any) { c["exp"] = 1e300 }), want: verify.ReasonMalformed},
		{name: "nbf future", token: mint(t, k.ed, func(h, c map[string]any) { c["nbf"] = t0.Add(31 * time.Second).Unix() }), want: verify.ReasonNotYetValid},
		{name: "iat future", token: mint(t, k.ed, func(h, c map[string]any) { c["iat"] = t0.Add(31 * time.Second).Unix() }), want: verify.ReasonNotYetValid},
		{name: "iat missing", token: mint(t, k.ed, func(h, c map[string]any) { c["iat"] = nil }), want: verify.ReasonMissingClaim},
		{name: "aal a string", token: mint(t, k.ed, func(h, c map[string]any) { c["aal"] = "2" }), want: verify.ReasonMalformed},
		{name: "aal fractional", token: mint(t, k.ed, func(h, c map[string]any) { c["aal"] = 1.5 }), want: verify.ReasonMalformed},
		{name: "aal negative", token: mint(t, k.ed, func(h, c map[string]any) { c["aal"] = -1 }), want: verify.ReasonMalformed},
		{name: "roles a string", token: mint(t, k.ed, func(h, c map[string]any) { c["roles"] = "admin" }), want: verify.ReasonMalformed},
		{name: "payload not an object", token: signRaw(t, k.ed.priv, mustJSON(t, baseHeader(k.ed)), []byte(`["iss"]`)), want: verify.ReasonMalformed},
		{name: "payload duplicate sub", token: signRaw(t, k.ed.priv, mustJSON(t, baseHeader(k.ed)),
			[]byte(`{"iss":"`+testIssuer+`","sub":"usr_123","sub":"usr_admin","aud":"`+testAudience+`","exp":`+jsonNum(t0.Add(time.Minute))+`,"iat":`+jsonNum(t0)+`}`)), want: verify.ReasonMalformed},
		{name: "payload trailing data", token: signRaw(t, k.ed.priv, mustJSON(t, baseHeader(k.ed)),
			append(mustJSON(t, baseClaims(t0)), []byte(`{}`)...)), want: verify.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := tt.keys
			if ks == nil {
				ks = allStatic()
			}
			v := newVerifier(t, ks, tt.cfg)
			c, err := v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("verified: %+v", c)
			}
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			got := reasonOf(err)
			if got == "" || (tt.want != "any" && got != tt.want) {
				t.Fatalf("reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("a URL from a token header was fetched %d times", n)
	}
}

func jsonNum(t time.Time) string { return big.NewInt(t.Unix()).String() }

// The error text is fixed: nothing from the token reaches it.
func TestErrorTextIsFixed(t *testing.T) {
	v := newVerifier(t, allStatic(), nil)
	evil := "\x1b[31mEVIL<script>"
	for _, tok := range []string{
		mint(t, keys().ed, func(h, c map[string]any) { h["kid"] = evil }),
		mint(t, keys().ed, func(h, c map[string]any) { h["alg"] = evil }),
		mint(t, keys().ed, func(h, c map[string]any) { h["typ"] = evil }),
		mint(t, keys().ed, func(h, c map[string]any) { c["iss"] = evil }),
		mint(t, keys().ed, func(h, c map[string]any) { c["exp"] = evil }),
		mint(t, keys().ed, func(h, c map[string]any) { h["kid"] = "EVIL" + "-unknown" }),
		replacePart(mint(t, keys().ed, nil), 0, b64([]byte(`{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt","x5c":["EVIL"]}`))),
	} {
		_, err := v.Verify(context.Background(), tok)
		if err == nil || strings.Contains(err.Error(), "EVIL") {
			t.Fatalf("error %v", err)
		}
	}
}

// A Keys that returns a key under another kid, or a private key, is not
// believed.
type lyingKeys struct{ k jose.JSONWebKey }

func (l lyingKeys) Key(context.Context, string) (jose.JSONWebKey, error) { return l.k, nil }

func TestVerifyDistrustsKeySource(t *testing.T) {
	k := keys()
	tok := mint(t, k.ed, nil)
	for name, key := range map[string]jose.JSONWebKey{
		"other kid":   {Key: k.ed.priv.Public(), KeyID: "ed-2", Algorithm: "EdDSA"},
		"private key": {Key: k.ed.priv, KeyID: k.ed.kid, Algorithm: "EdDSA"},
		"use enc":     {Key: k.ed.priv.Public(), KeyID: k.ed.kid, Algorithm: "EdDSA", Use: "enc"},
	} {
		t.Run(name, func(t *testing.T) {
			if r := verifyReason(t, newVerifier(t, lyingKeys{key}, nil), tok); r != verify.ReasonUnknownKey {
				t.Fatalf("reason %q", r)
			}
		})
	}
	// An RSA key under 2048 bits is refused even when the source offers it.
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	s := signer{kid: "rsa-small", alg: "RS256", priv: small}
	if r := verifyReason(t, newVerifier(t, lyingKeys{s.jwk()}, nil), mint(t, s, nil)); r != verify.ReasonUnknownKey {
		t.Fatalf("1024-bit RSA: reason %q", r)
	}
}

type failingKeys struct{ err error }

func (f failingKeys) Key(context.Context, string) (jose.JSONWebKey, error) {
	return jose.JSONWebKey{}, f.err
}

func TestVerifyKeySourceErrors(t *testing.T) {
	tok := mint(t, keys().ed, nil)
	boom := errors.New("boom")
	_, err := newVerifier(t, failingKeys{boom}, nil).Verify(context.Background(), tok)
	if reasonOf(err) != verify.ReasonKeysUnavailable || !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	_, err = newVerifier(t, failingKeys{verify.ErrUnknownKey}, nil).Verify(context.Background(), tok)
	if reasonOf(err) != verify.ReasonUnknownKey || !errors.Is(err, verify.ErrUnknownKey) {
		t.Fatalf("got %v", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	ok := verify.Config{Issuer: testIssuer, Audience: testAudience}
	tests := []struct {
		name string
		edit func(*verify.Config)
		keys verify.Keys
		ok   bool
	}{
		{name: "defaults", edit: func(*verify.Config) {}, ok: true},
		{name: "no keys", edit: func(*verify.Config) {}, keys: verify.Keys(nil)},
		{name: "no issuer", edit: func(c *verify.Config) { c.Issuer = "" }},
		{name: "no audience", edit: func(c *verify.Config) { c.Audience = "" }},
		{name: "negative leeway", edit: func(c *verify.Config) { c.Leeway = -time.Second }},
		{name: "leeway 2 min", edit: func(c *verify.Config) { c.Leeway = 2 * time.Minute }, ok: true},
		{name: "leeway over 2 min", edit: func(c *verify.Config) { c.Leeway = 2*time.Minute + time.Second }},
		{name: "none", edit: func(c *verify.Config) { c.Algorithms = []string{"EdDSA", "none"} }},
		{name: "None", edit: func(c *verify.Config) { c.Algorithms = []string{"None"} }},
		{name: "HS256", edit: func(c *verify.Config) { c.Algorithms = []string{"HS256"} }},
		{name: "hs512", edit: func(c *verify.Config) { c.Algorithms = []string{"hs512"} }},
		{name: "PS256 (not implemented)", edit: func(c *verify.Config) { c.Algorithms = []string{"PS256"} }},
		{name: "empty algorithm", edit: func(c *verify.Config) { c.Algorithms = []string{""} }},
		{name: "EdDSA only", edit: func(c *verify.Config) { c.Algorithms = []string{"EdDSA"} }, ok: true},
		{name: "token type JWT", edit: func(c *verify.Config) { c.TokenType = "JWT" }, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			ks := tt.keys
			if ks == nil && tt.name != "no keys" {
				ks = allStatic()
			}
			v, err := verify.New(cfg, ks)
			if (err == nil) != tt.ok || (v != nil) != tt.ok {
				t.Fatalf("New: %v, %v", v, err)
			}
		})
	}
}

// Config.Leeway and Config.TokenType change what is accepted.
func TestVerifyConfigEffects(t *testing.T) {
	k := keys()
	tok := mint(t, k.ed, func(h, c map[string]any) { c["exp"] = t0.Add(-90 * time.Second).Unix() })
	if r := verifyReason(t, newVerifier(t, allStatic(), func(c *verify.Config) { c.Leeway = 2 * time.Minute }), tok); r != "" {
		t.Fatalf("leeway 2 min: %s", r)
	}
	if r := verifyReason(t, newVerifier(t, allStatic(), func(c *verify.Config) { c.Leeway = time.Second }), mint(t, k.ed, func(h, c map[string]any) { c["exp"] = t0.Add(-2 * time.Second).Unix() })); r != verify.ReasonExpired {
		t.Fatalf("leeway 1 s: %s", r)
	}
	jwt := mint(t, k.ed, func(h, c map[string]any) { h["typ"] = "JWT" })
	if r := verifyReason(t, newVerifier(t, allStatic(), func(c *verify.Config) { c.TokenType = "application/jwt" }), jwt); r != "" {
		t.Fatalf("TokenType JWT: %s", r)
	}
	// Moving the clock expires a token that was good.
	now := t0
	v := newVerifier(t, allStatic(), func(c *verify.Config) { c.Clock = func() time.Time { return now } })
	good := mint(t, k.ed, nil)
	if r := verifyReason(t, v, good); r != "" {
		t.Fatal(r)
	}
	now = t0.Add(5*time.Minute + 30*time.Second)
	if r := verifyReason(t, v, good); r != verify.ReasonExpired {
		t.Fatalf("after exp: %q", r)
	}
}
