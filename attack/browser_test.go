package attack_test

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Helpers for the redirect, cross-origin, session, spoofing and
// mass-assignment attacks: what a browser would do with a Location, the
// Set-Cookie lines of a reply, the fields of a page's form, who a client's
// cookie stands for, and counting mail.

// sameOriginHeaders are what a browser sends with a state change made by a
// page of s itself.
func sameOriginHeaders(s *Server) []string {
	return []string{"Origin", s.URL, "Sec-Fetch-Site", "same-origin"}
}

// crossOriginHeaders are header sets of state changes that did not come
// from a page of s: what browsers send for a forged form or fetch, and what
// a forger would try.
func crossOriginHeaders(s *Server) [][]string {
	u, _ := url.Parse(s.URL)
	return [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},            // a sibling subdomain is another origin
		{"Origin", "null"},                         // sandboxed frames, data: and file: pages
		{"Origin", "http://localhost:" + u.Port()}, // the same machine under another name
	}
}

// apiSignIn signs c in through the JSON API.
func apiSignIn(c *Client, email, password string, header ...string) Reply {
	return c.Do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": password}, header...)
}

// mustSignIn signs c in through the JSON API and fails the test otherwise.
func mustSignIn(t *testing.T, c *Client, email string, header ...string) {
	t.Helper()
	if r := apiSignIn(c, email, Password, header...); r.Status != 200 {
		t.Fatalf("sign-in %s: %d %s", email, r.Status, r.Body)
	}
}

// whoami returns the user and session ids c's cookie stands for; ok is
// false when the server answers 401. Anything else fails the test.
func whoami(t *testing.T, c *Client) (user, session string, ok bool) {
	t.Helper()
	r := c.Do("GET", "/auth/api/session", nil)
	switch {
	case r.Status == 401 && r.Code() == "unauthenticated":
		return "", "", false
	case r.Status != 200:
		t.Fatalf("GET /auth/api/session: %d %s", r.Status, r.Body)
	}
	var b struct {
		User    struct{ ID string }
		Session struct{ ID string }
	}
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil || b.User.ID == "" || b.Session.ID == "" {
		t.Fatalf("GET /auth/api/session: %s", r.Body)
	}
	return b.User.ID, b.Session.ID, true
}

// alive reports whether c's cookie is a valid session.
func alive(t *testing.T, c *Client) bool {
	t.Helper()
	_, _, ok := whoami(t, c)
	return ok
}

// withToken is a new client presenting token as its session cookie.
func withToken(s *Server, token string) *Client {
	c := s.Client()
	c.SetCookie(SessionCookie, token)
	return c
}

// profile is the signed-in user as GET /auth/api/user answers it.
func profile(t *testing.T, c *Client) map[string]any {
	t.Helper()
	r := c.Do("GET", "/auth/api/user", nil)
	if r.Status != 200 {
		t.Fatalf("GET /auth/api/user: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["user"].(map[string]any)
}

// sessionList is the user's sessions as GET /auth/api/sessions answers.
func sessionList(t *testing.T, c *Client) []map[string]any {
	t.Helper()
	r := c.Do("GET", "/auth/api/sessions", nil)
	if r.Status != 200 {
		t.Fatalf("GET /auth/api/sessions: %d %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, s := range r.JSON(t)["sessions"].([]any) {
		out = append(out, s.(map[string]any))
	}
	return out
}

// setCookies returns the cookies named name that r sets (or clears).
func setCookies(t *testing.T, r Reply, name string) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("unparsable Set-Cookie %q: %v", line, err)
		}
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// isSessionToken reports whether v looks like a session token we issue:
// 32 random bytes, base64url without padding.
func isSessionToken(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32
}

// browserTarget resolves a Location value against base the way a browser
// does (WHATWG URL parsing): leading and trailing C0 controls and spaces are
// stripped, tabs and newlines anywhere are removed, and backslashes count
// as slashes in http(s) URLs.
func browserTarget(base, loc string) (*url.URL, error) {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= 0x20 })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(loc)
	if i := strings.IndexAny(loc, "?#"); i >= 0 {
		loc = strings.ReplaceAll(loc[:i], `\`, "/") + loc[i:]
	} else {
		loc = strings.ReplaceAll(loc, `\`, "/")
	}
	b, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return b.ResolveReference(ref), nil
}

// checkStaysOnSite fails unless loc is a path on s (never another host,
// never a scheme of its own) however a browser reads it.
func checkStaysOnSite(t *testing.T, s *Server, what, loc string) {
	t.Helper()
	if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
		t.Errorf("%s: Location %q is not a plain path on this site", what, loc)
		return
	}
	u, err := browserTarget(s.URL, loc)
	base, _ := url.Parse(s.URL)
	if err != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
		t.Errorf("%s: Location %q leads a browser to %v (err %v), not to %s", what, loc, u, err, s.URL)
	}
}

var hiddenRedirect = regexp.MustCompile(`<input type="hidden" name="redirect_to" value="([^"]*)">`)

// formRedirectTo returns the redirect_to hidden field of a sign-in or
// sign-up page, unescaped; it fails the test when the page has none.
func formRedirectTo(t *testing.T, page string) string {
	t.Helper()
	m := hiddenRedirect.FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("the page has %d redirect_to fields:\n%s", len(m), page)
	}
	return html.UnescapeString(m[0][1])
}

// mailEntry is a message of the development mailbox with all its parts.
type mailEntry struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	To      string   `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
	HTML    string   `json:"html"`
	Links   []string `json:"links"`
}

// mailbox reads every message of the development mailbox.
func mailbox(t *testing.T, s *Server) []mailEntry {
	t.Helper()
	r := s.Client().Do("GET", "/auth/dev/mailbox", nil, "Accept", "application/json")
	var box struct {
		Messages []mailEntry `json:"messages"`
	}
	if err := json.Unmarshal([]byte(r.Body), &box); err != nil {
		t.Fatalf("mailbox: %v %s", err, r.Body)
	}
	return box.Messages
}

// mailCount is how many messages of kind went to addr.
func mailCount(t *testing.T, s *Server, kind, addr string) int {
	t.Helper()
	n := 0
	for _, m := range mailbox(t, s) {
		if m.Kind == kind && strings.EqualFold(m.To, addr) {
			n++
		}
	}
	return n
}

// expectMailCount waits until n messages of kind went to addr, then waits
// a little longer and fails if more arrived: no request that should have
// been refused sent one.
func expectMailCount(t *testing.T, s *Server, kind, addr string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	got := mailCount(t, s, kind, addr)
	for got < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = mailCount(t, s, kind, addr)
	}
	if got < n {
		t.Fatalf("%d %s mails to %s, want %d", got, kind, addr, n)
	}
	time.Sleep(500 * time.Millisecond)
	if got = mailCount(t, s, kind, addr); got != n {
		t.Fatalf("%d %s mails to %s, want exactly %d", got, kind, addr, n)
	}
}

// linkToken waits until more than skip messages of kind went to addr and
// returns the token of the newest one's link to page.
func linkToken(t *testing.T, s *Server, kind, addr, page string, skip int) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var match []Mail
		for _, m := range s.Mail() { // newest first
			if m.Kind == kind && strings.EqualFold(m.To, addr) {
				match = append(match, m)
			}
		}
		if len(match) > skip {
			return match[0].Token(t, page)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s mails to %s, waited for %d", len(match), kind, addr, skip+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
