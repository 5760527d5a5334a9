package verify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/verify"
)

// FuzzVerify: no input panics, every refusal is an *Error with a fixed
// reason, and nothing verifies except the exact seed tokens — so no mutation
// of a valid token (another base64 spelling, a changed header, trailing
// bytes…) is accepted.
func FuzzVerify(f *testing.F) {
	k := keys()
	valid := map[string]bool{}
	for _, s := range []signer{k.ed, k.rsa, k.ec} {
		tok := mint(f, s, nil)
		valid[tok] = true
		f.Add(tok)
	}
	f.Add(mint(f, k.ed, func(h, c map[string]any) { h["typ"] = "JWT" }))
	f.Add(mint(f, k.ed, func(h, c map[string]any) { h["crit"] = []string{"b64"}; h["b64"] = false }))
	f.Add(mint(f, k.edOther, func(h, c map[string]any) { h["jwk"] = k.edOther.jwk() }))
	f.Add(mint(f, k.ed, func(h, c map[string]any) { c["aud"] = []any{testAudience, 1} }))
	f.Add(b64([]byte(`{"alg":"none","typ":"at+jwt","kid":"ed-1"}`)) + "." + b64([]byte(`{}`)) + ".")
	f.Add(`{"protected":"e30","payload":"e30","signature":"AA"}`)
	f.Add("a.b.c.d.e")
	f.Add("")

	v := newVerifier(f, allStatic(), nil)
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(context.Background(), tok)
		if err == nil {
			if !valid[tok] {
				t.Fatalf("verified a token that was never issued: %q → %+v", tok, c)
			}
			return
		}
		if c != nil {
			t.Fatal("claims with an error")
		}
		if reasonOf(err) == "" {
			t.Fatalf("error %T %v", err, err)
		}
	})
}

// FuzzBearerToken: a returned token is the whole rest of a single
// "Bearer" header and made of token68 characters only.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer  x==", "Basic abc", "Bearer", "Bearer a b", "Bearer\ta", "", "Bearer =", "BEARER ~+/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{h}
		tok, err := verify.BearerToken(r)
		if err != nil {
			if tok != "" {
				t.Fatal("token with an error")
			}
			if rs := reasonOf(err); rs != verify.ReasonNoToken && rs != verify.ReasonMalformed {
				t.Fatalf("error %v", err)
			}
			return
		}
		if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") || !strings.HasSuffix(h, tok) || strings.TrimLeft(h[7:], " ") != tok {
			t.Fatalf("header %q gave token %q", h, tok)
		}
		t68 := strings.TrimRight(tok, "=")
		if t68 == "" || strings.IndexFunc(t68, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~+/", c))
		}) >= 0 {
			t.Fatalf("token %q is not token68", tok)
		}
	})
}
