package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		name, remote, xff, fwd, want string
	}{
		{"direct", "203.0.113.7:5000", "", "", "203.0.113.7"},
		{"untrusted peer's XFF ignored", "203.0.113.7:5000", "1.2.3.4", "", "203.0.113.7"},
		{"trusted proxy", "10.0.0.2:5000", "198.51.100.9", "", "198.51.100.9"},
		{"spoofed left entries ignored", "10.0.0.2:5000", "1.1.1.1, 198.51.100.9", "", "198.51.100.9"},
		{"chain of proxies", "10.0.0.2:5000", "198.51.100.9, 10.0.0.5", "", "198.51.100.9"},
		{"garbage hop", "10.0.0.2:5000", "not-an-ip", "", "10.0.0.2"},
		{"forwarded header", "10.0.0.2:5000", "", `for="[2001:db8::1]:4711";proto=https`, "2001:db8::1"},
		{"ipv6 peer", "[::1]:80", "192.0.2.1", "", "192.0.2.1"},
		{"mapped v4", "[::ffff:203.0.113.7]:1", "", "", "203.0.113.7"},
		{"all trusted", "10.0.0.2:1", "10.0.0.3", "", "10.0.0.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.fwd != "" {
				r.Header.Set("Forwarded", tc.fwd)
			}
			if got := ClientIP(r, trusted); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "1.2.3.4, 10.0.0.9", `for=192.0.2.60;proto=http`)
	f.Add("[::1]:1", "[2001:db8::1]:80", `for="[2001:db8::1]"`)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("Forwarded", fwd)
		got := ClientIP(r, trusted)
		if got != "" {
			if _, err := netip.ParseAddr(got); err != nil {
				t.Fatalf("ClientIP returned %q, not an address", got)
			}
		}
	})
}

func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/a", "//evil", "/\\evil", "https://app.example.com/x", "javascript:x", "/%2f%2fevil"} {
		f.Add(s)
	}
	h := &Handler{allowlist: map[string]bool{"https://app.example.com": true}}
	h.cfg.PublicURL = "https://auth.example.com"
	f.Fuzz(func(t *testing.T, target string) {
		got, ok := h.safeRedirect(target)
		if !ok {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted unparseable %q", got)
		}
		if u.Host == "" && (!strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.Contains(got, "\\")) {
			t.Fatalf("unsafe relative redirect %q from %q", got, target)
		}
		if u.Host != "" && u.Scheme+"://"+u.Host != "https://app.example.com" && u.Scheme+"://"+u.Host != "https://auth.example.com" {
			t.Fatalf("redirect %q from %q leaves the allowlist", got, target)
		}
		if u.User != nil {
			t.Fatalf("redirect %q carries userinfo", got)
		}
	})
}
