package gatehouse

import (
	"net/url"
	"testing"
)

// FuzzMatchRedirectURI pins the redirect URI rule: a confidential client's
// URI matches only itself; a public client's loopback URI also matches the
// same URI on another port, and nothing else.
func FuzzMatchRedirectURI(f *testing.F) {
	for _, s := range [][2]string{
		{"http://127.0.0.1/callback", "http://127.0.0.1:8080/callback"},
		{"http://[::1]/cb", "http://[::1]:1/cb"},
		{"https://app.example.com/cb", "https://app.example.com/cb/"},
		{"http://127.0.0.1/callback", "http://127.0.0.1:8080@evil.example/callback"},
		{"http://127.0.0.1/callback", "http://127.0.0.1:8080/callback#x"},
		{"http://127.0.0.1/a?b=c", "http://127.0.0.1:9/a?b=c"},
		{"com.example.app:/oauth", "com.example.app:/oauth/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, registered, got string) {
		if checkClientURI("redirect_uris", registered) != nil {
			return
		}
		confidential := OAuthClient{AuthMethod: ClientAuthSecretBasic, RedirectURIs: []string{registered}}
		if confidential.matchRedirectURI(got) && got != registered {
			t.Fatalf("confidential client: %q matched %q", got, registered)
		}
		public := OAuthClient{AuthMethod: ClientAuthNone, RedirectURIs: []string{registered}}
		if !public.matchRedirectURI(got) || got == registered {
			return
		}
		r, err1 := url.Parse(registered)
		g, err2 := url.Parse(got)
		if err1 != nil || err2 != nil || r.Scheme != "http" || g.Scheme != "http" || !isLoopbackIP(r.Hostname()) ||
			r.Hostname() != g.Hostname() || r.EscapedPath() != g.EscapedPath() || r.RawQuery != g.RawQuery ||
			g.User != nil || g.Fragment != "" || g.Opaque != "" {
			t.Fatalf("public client: %q matched %q", got, registered)
		}
	})
}
