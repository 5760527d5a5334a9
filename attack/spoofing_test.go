package attack_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// hostSpoofs are header sets with which a client claims another host for
// the request: the Host header itself and what proxies forward.
var hostSpoofs = [][]string{
	{"Host", "evil.example"},
	{"Host", "evil.example:443"},
	{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-Port", "443"},
	{"Forwarded", "for=203.0.113.9;host=evil.example;proto=https"},
	{"X-Original-Host", "evil.example", "X-Host", "evil.example", "X-Forwarded-Server", "evil.example", "X-HTTP-Host-Override", "evil.example",
		"X-Original-URL", "//evil.example/", "X-Rewrite-URL", "//evil.example/", "X-Forwarded-Prefix", "//evil.example"},
	{"Host", "evil.example", "X-Forwarded-Host", "evil.example", "Forwarded", "host=evil.example;proto=https", "X-Forwarded-Proto", "https"},
}

// checkNoEvil fails if r mentions the spoofed host anywhere, or sends the
// browser off the site.
func checkNoEvil(t *testing.T, s *Server, what string, r Reply) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s: %d", what, r.Status)
	}
	if strings.Contains(r.Body, "evil.example") {
		t.Errorf("%s: the body mentions the spoofed host:\n%.500s", what, r.Body)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, "evil.example") {
				t.Errorf("%s: header %s: %q", what, k, v)
			}
		}
	}
	if loc := r.Header.Get("Location"); loc != "" {
		checkStaysOnSite(t, s, what, loc)
	}
}

// TestSpoofHostHeaderLinks asks for every emailed link — password reset,
// verification, email change, through the API and the pages — with a
// spoofed Host, X-Forwarded-* and Forwarded, on a server without trusted
// proxies and on one behind a trusted proxy: every link in the mail is
// built from the public URL, and no answer or page (redirects to sign-in
// included) mentions the spoofed host.
//
// ASVS 5.0: V4.1.3, V6.4.3, V3.7.2
func TestSpoofHostHeaderLinks(t *testing.T) {
	t.Parallel()
	for _, proxy := range []bool{false, true} {
		t.Run(fmt.Sprintf("trusted proxy %v", proxy), func(t *testing.T) {
			t.Parallel()
			settings := Relaxed
			if proxy {
				settings = append(settings[:len(settings):len(settings)], "GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32")
			}
			s := Start(t, settings...)
			want := map[[2]string]int{} // kind, address → mails
			for i, spoof := range hostSpoofs {
				api, page := fmt.Sprintf("host-api-%d@example.com", i), fmt.Sprintf("host-page-%d@example.com", i)
				apiMoved, pageMoved := fmt.Sprintf("host-api-%d@example.net", i), fmt.Sprintf("host-page-%d@example.net", i)
				c, d := s.Client(), s.Client()
				c.SignUp(api)
				d.SignUp(page)
				what := func(req string) string { return fmt.Sprintf("%s with %q", req, spoof) }
				// A client whose Host differs from the URL's does not send
				// the jar's cookies: the signed-in requests name theirs.
				pageHdr := func(c *Client) []string {
					h := append([]string{"Accept", "text/html"}, spoof...)
					if c != nil {
						h = append(h, c.cookieHeader()...)
					}
					return h
				}
				apiHdr := func(c *Client) []string { return append(slices.Clone(spoof), c.cookieHeader()...) }
				replies := []struct {
					req  string
					want int
					r    Reply
				}{
					{"API forgot", 202, s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": api}, spoof...)},
					{"API verify send", 202, s.Client().Do("POST", "/auth/api/email/verify/send", map[string]string{"email": api}, spoof...)},
					{"API session", 200, c.Do("GET", "/auth/api/session", nil, apiHdr(c)...)},
					{"API no such route", 404, c.Do("GET", "/auth/api/nope", nil, apiHdr(c)...)},
					{"API email change", 202, c.Do("POST", "/auth/api/email/change", map[string]string{"email": apiMoved}, apiHdr(c)...)},
					{"page forgot", 303, s.Client().Do("POST", "/auth/forgot-password", url.Values{"email": {page}}, spoof...)},
					{"page verify send", 303, s.Client().Do("POST", "/auth/verify-email/send", url.Values{"email": {page}}, spoof...)},
					{"account page", 200, d.Do("GET", "/auth/account", nil, pageHdr(d)...)},
					{"signed-in sign-in", 303, d.Do("GET", "/auth/sign-in", nil, pageHdr(d)...)},
					{"page email change", 303, d.Do("POST", "/auth/account/email", url.Values{"email": {pageMoved}, "password": {Password}}, apiHdr(d)...)},
					{"anonymous account", 303, s.Client().Do("GET", "/auth/account", nil, pageHdr(nil)...)},
					{"anonymous API", 401, s.Client().Do("GET", "/auth/api/session", nil, spoof...)},
					{"sign-in page", 200, s.Client().Do("GET", "/auth/sign-in?redirect_to=%2Fx", nil, pageHdr(nil)...)},
					{"sign-up page", 200, s.Client().Do("GET", "/auth/sign-up", nil, pageHdr(nil)...)},
					{"forgot page", 200, s.Client().Do("GET", "/auth/forgot-password", nil, pageHdr(nil)...)},
					{"check-email page", 200, s.Client().Do("GET", "/auth/check-email?for=reset", nil, pageHdr(nil)...)},
					{"link page", 303, s.Client().Do("GET", "/auth/reset-password?token=x", nil, pageHdr(nil)...)},
					{"used link page", 400, s.Client().Do("GET", "/auth/reset-password", nil, pageHdr(nil)...)},
					{"not found page", 404, s.Client().Do("GET", "/auth/nope", nil, pageHdr(nil)...)},
					{"base path", 303, s.Client().Do("GET", "/auth/", nil, pageHdr(nil)...)},
					{"base path, no slash", 3, s.Client().Do("GET", "/auth", nil, pageHdr(nil)...)},
					{"unclean path", 3, s.Client().Do("GET", "/auth//account", nil, pageHdr(nil)...)},
					{"root", 303, s.Client().Do("GET", "/", nil, pageHdr(nil)...)},
					{"health", 200, s.Client().Do("GET", "/healthz", nil, spoof...)},
					{"readiness", 200, s.Client().Do("GET", "/readyz", nil, spoof...)},
				}
				for _, x := range replies {
					checkNoEvil(t, s, what(x.req), x.r)
					if x.r.Status != x.want && x.r.Status/100 != x.want { // 3: any redirect (ServeMux's own)
						t.Errorf("%s: %d, want %d; %.300s", what(x.req), x.r.Status, x.want, x.r.Body)
					}
				}
				for _, k := range [][2]string{{"verify_email", api}, {"password_reset", api}, {"email_change", apiMoved}, {"verify_email", page}, {"password_reset", page}, {"email_change", pageMoved}} {
					want[k]++
				}
				want[[2]string{"verify_email", api}]++ // the sign-up's
				want[[2]string{"verify_email", page}]++
			}

			// Every mail asked for arrives, and every link in every mail is
			// on the public URL.
			deadline := time.Now().Add(20 * time.Second)
			for {
				got := map[[2]string]int{}
				for _, m := range mailbox(t, s) {
					got[[2]string{m.Kind, strings.ToLower(m.To)}]++
				}
				missing := []string{}
				for k, n := range want {
					if got[k] < n {
						missing = append(missing, fmt.Sprintf("%s to %s: %d of %d", k[0], k[1], got[k], n))
					}
				}
				if len(missing) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("mail missing: %v", missing)
				}
				time.Sleep(100 * time.Millisecond)
			}
			links := 0
			for _, m := range mailbox(t, s) {
				for _, l := range m.Links {
					links++
					if !strings.HasPrefix(l, s.URL+"/auth/") {
						t.Errorf("%s mail to %s links to %s", m.Kind, m.To, l)
					}
				}
				if strings.Contains(m.Subject+m.Text+m.HTML, "evil") {
					t.Errorf("%s mail to %s mentions the spoofed host", m.Kind, m.To)
				}
			}
			if links < 4*len(hostSpoofs) {
				t.Fatalf("only %d links in the mail", links)
			}
		})
	}
}

// ipSpoofs are the headers with which a client claims another address.
var ipSpoofs = []string{
	"X-Forwarded-For", "203.0.113.9", "Forwarded", "for=203.0.113.9", "X-Real-IP", "203.0.113.9", "True-Client-IP", "203.0.113.9",
	"CF-Connecting-IP", "203.0.113.9", "X-Client-IP", "203.0.113.9", "Client-IP", "203.0.113.9", "X-Cluster-Client-IP", "203.0.113.9",
	"Fastly-Client-IP", "203.0.113.9", "X-Originating-IP", "203.0.113.9",
}

// TestSpoofClientIP claims another client address in every header proxies
// use, on a server with no trusted proxy: the sessions, the account page
// and the audit log record the real peer.
//
// ASVS 5.0: V4.1.3, V15.3.4, V16.2.1
func TestSpoofClientIP(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	admin := s.Admin("ip-admin@example.com")
	c := s.Client()
	if r := c.Do("POST", "/auth/api/sign-up", map[string]string{"email": "ip@example.com", "password": Password}, ipSpoofs...); r.Status != 201 {
		t.Fatalf("sign-up: %d %s", r.Status, r.Body)
	}
	mustSignIn(t, s.Client(), "ip@example.com", ipSpoofs...)
	if r := s.Client().Do("POST", "/auth/sign-in", url.Values{"email": {"ip@example.com"}, "password": {Password}}, ipSpoofs...); r.Status != 303 {
		t.Fatalf("page sign-in: %d", r.Status)
	}
	if r := c.Do("POST", "/auth/api/reauthenticate", map[string]string{"password": Password}, ipSpoofs...); r.Status != 200 {
		t.Fatalf("re-authenticate: %d", r.Status)
	}
	if r := apiSignIn(s.Client(), "ip@example.com", "not the password at all", ipSpoofs...); r.Status != 401 {
		t.Fatalf("failed sign-in: %d", r.Status)
	}

	r := c.Do("GET", "/auth/api/sessions", nil, ipSpoofs...)
	if r.Status != 200 {
		t.Fatalf("sessions: %d", r.Status)
	}
	ss := sessionList(t, c)
	if len(ss) != 3 {
		t.Fatalf("%d sessions, want 3", len(ss))
	}
	for _, x := range ss {
		if x["ip"] != "127.0.0.1" {
			t.Errorf("session %v records ip %v, want the peer 127.0.0.1", x["id"], x["ip"])
		}
	}
	page := c.Do("GET", "/auth/account", nil, append([]string{"Accept", "text/html"}, ipSpoofs...)...)
	if !strings.Contains(page.Body, "127.0.0.1") || strings.Contains(page.Body, "203.0.113.9") {
		t.Errorf("the account page shows the spoofed address:\n%s", page.Body)
	}

	// The audit log, written asynchronously, records the peer too.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := admin.Do("GET", "/auth/api/admin/audit?limit=1000", nil)
		if r.Status != 200 {
			t.Fatalf("audit: %d %s", r.Status, r.Body)
		}
		if strings.Contains(r.Body, "203.0.113.9") {
			t.Fatalf("the audit log records the spoofed address: %s", r.Body)
		}
		if strings.Contains(r.Body, `"sign_in_failed"`) && strings.Contains(r.Body, `"ip":"127.0.0.1"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed sign-in never reached the audit log: %s", r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// forgotFrom asks for a reset link for addr with the given headers.
func forgotFrom(s *Server, addr string, header ...string) Reply {
	return s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": addr}, header...)
}

func checkLimited(t *testing.T, what string, r Reply) {
	t.Helper()
	if r.Status != 429 || r.Code() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: %d %s (Retry-After %q), want 429 rate_limited", what, r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}

// TestSpoofClientIPRateLimit tries to escape a per-address limit (forgot
// password, 3 an hour) by claiming a new address with each request. Without
// a trusted proxy the claims are ignored; behind one, only the hop the
// trusted proxy saw counts, so a forged leftmost X-Forwarded-For entry
// changes nothing while another real client is not limited.
//
// ASVS 5.0: V15.3.4, V4.1.3, V2.4.1, V6.3.1
func TestSpoofClientIPRateLimit(t *testing.T) {
	t.Parallel()
	const limit = "GATEHOUSE_RATE_LIMITS=password_forgot.per_ip=3/1h"

	t.Run("no trusted proxy", func(t *testing.T) {
		t.Parallel()
		s := Start(t, limit)
		for i := range 5 {
			fake := fmt.Sprintf("198.51.100.%d", 10+i)
			r := forgotFrom(s, fmt.Sprintf("rl-%d@example.com", i), "X-Forwarded-For", fake, "Forwarded", "for="+fake, "X-Real-IP", fake, "True-Client-IP", fake)
			if i < 3 && r.Status != 202 {
				t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
			}
			if i >= 3 {
				checkLimited(t, fmt.Sprintf("request %d claiming %s", i+1, fake), r)
			}
		}
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		t.Parallel()
		s := Start(t, limit, "GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32")
		for i := range 5 {
			// The client forges the leftmost entry; the proxy appends the
			// address it saw.
			xff := fmt.Sprintf("198.51.100.%d, 203.0.113.50", 10+i)
			r := forgotFrom(s, fmt.Sprintf("rlp-%d@example.com", i), "X-Forwarded-For", xff)
			if i < 3 && r.Status != 202 {
				t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
			}
			if i >= 3 {
				checkLimited(t, fmt.Sprintf("request %d with X-Forwarded-For %q", i+1, xff), r)
			}
		}
		checkLimited(t, "the limited client without a forged entry", forgotFrom(s, "rlp-x@example.com", "X-Forwarded-For", "203.0.113.50"))
		if r := forgotFrom(s, "rlp-y@example.com", "X-Forwarded-For", "203.0.113.51"); r.Status != 202 {
			t.Errorf("another client behind the proxy is limited too: %d %s", r.Status, r.Body)
		}
	})
}

// TestSpoofTrustedProxyChain signs in behind a trusted proxy (127.0.0.1)
// with forwarding chains and checks which address the session records: the
// rightmost hop that is not a trusted proxy; never an entry left of an
// untrusted or garbled hop; only X-Forwarded-For and Forwarded are read.
//
// ASVS 5.0: V15.3.4, V4.1.3
func TestSpoofTrustedProxyChain(t *testing.T) {
	t.Parallel()
	s := Start(t, append(Relaxed, "GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32")...)
	owner := s.Client()
	owner.SignUp("chain@example.com")
	cases := []struct {
		header []string
		want   string
	}{
		{[]string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{[]string{"X-Forwarded-For", "198.51.100.66, 203.0.113.10"}, "203.0.113.10"},
		{[]string{"X-Forwarded-For", "198.51.100.66,203.0.113.11"}, "203.0.113.11"},
		{[]string{"X-Forwarded-For", "198.51.100.66, 203.0.113.12, 127.0.0.1"}, "203.0.113.12"},
		{[]string{"X-Forwarded-For", "198.51.100.66, not-an-address, 127.0.0.1"}, "127.0.0.1"},
		{[]string{"X-Forwarded-For", "198.51.100.66, , 127.0.0.1"}, "127.0.0.1"},
		{[]string{"X-Forwarded-For", "203.0.113.13:5555"}, "203.0.113.13"},
		{[]string{"X-Forwarded-For", "::ffff:203.0.113.14"}, "203.0.113.14"},
		{[]string{"X-Forwarded-For", "198.51.100.66, 2001:db8::15"}, "2001:db8::15"},
		{[]string{"Forwarded", "for=203.0.113.16"}, "203.0.113.16"},
		{[]string{"Forwarded", `for="[2001:db8::17]:4711"`}, "2001:db8::17"},
		{[]string{"Forwarded", "for=198.51.100.66, for=203.0.113.18"}, "203.0.113.18"},
		{[]string{"Forwarded", "for=198.51.100.66;host=evil.example, for=203.0.113.19;proto=https"}, "203.0.113.19"},
		{[]string{"X-Forwarded-For", "203.0.113.20", "Forwarded", "for=198.51.100.66"}, "203.0.113.20"},
		{[]string{"X-Real-IP", "198.51.100.66", "True-Client-IP", "198.51.100.66"}, "127.0.0.1"},
		{nil, "127.0.0.1"},
	}
	for _, tc := range cases {
		c := s.Client()
		r := apiSignIn(c, "chain@example.com", Password, tc.header...)
		if r.Status != 200 {
			t.Fatalf("sign-in with %q: %d %s", tc.header, r.Status, r.Body)
		}
		if ip := r.JSON(t)["session"].(map[string]any)["ip"]; ip != tc.want {
			t.Errorf("with %q the session records %v, want %s", tc.header, ip, tc.want)
		}
	}
	// The list agrees with what the sign-ins answered.
	seen := map[any]int{}
	for _, x := range sessionList(t, owner) {
		seen[x["ip"]]++
	}
	for _, tc := range cases {
		if seen[tc.want] == 0 {
			t.Errorf("no session in the list records %s", tc.want)
		}
	}
	if seen["198.51.100.66"] != 0 {
		t.Errorf("a forged entry was recorded: %v", seen)
	}
}
