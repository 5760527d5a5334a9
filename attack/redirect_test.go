package attack_test

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// defaultLanding is where a sign-in lands when redirect_to is refused
// (after_sign_in_path's default).
const defaultLanding = "/auth/account"

// offSiteTargets are redirect_to values that would take a browser to
// another host, run script, or break the response or the page; every one
// must be refused, so the browser lands on the default page.
func offSiteTargets(s *Server) []string {
	host := strings.TrimPrefix(s.URL, "http://")
	port := host[strings.LastIndex(host, ":")+1:]
	return []string{
		// Protocol-relative and backslashed: browsers read "\" as "/".
		"//evil.example", "//evil.example/", "///evil.example", "////evil.example/x",
		`/\evil.example`, `\/evil.example`, `\\evil.example`, `/\/evil.example`, `/\\evil.example`, `\evil.example`,
		// Encoded, and encoded twice, so that a decoding step downstream
		// would make them protocol-relative.
		"%2F%2Fevil.example", "%2f%2fevil.example", "%5C%5Cevil.example", "%252F%252Fevil.example",
		"/%2F%2Fevil.example", "/%2f/evil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "/%2F%5Cevil.example", "/%5c/evil.example",
		// Absolute URLs of other origins, userinfo and look-alike hosts.
		"https://evil.example", "http://evil.example/", "HTTPS://EVIL.EXAMPLE/", "https:evil.example", "https:/evil.example", "https:///evil.example",
		"https://app@evil.example", "http://" + host + "@evil.example/", "http://" + host + ":pw@evil.example/",
		"http://" + host + ".evil.example/", "http://evil.example/" + host, "http://evil.example?" + host, "http://evil.example#" + host,
		"http://localhost:" + port + "/", "http://127.0.0.1:1/", "http://127.0.0.1.nip.io:" + port + "/", "http://2130706433:" + port + "/",
		"https://" + host + "/", // this host with another scheme is another origin
		"evil.example", "evil.example/x", "./evil.example", "@evil.example", "／／evil.example", "\u3000//evil.example", "\u00a0//evil.example",
		// Scripting and other schemes.
		"javascript:alert(1)", "JaVaScRiPt:alert(1)", "javascript://evil.example/%0aalert(1)", "java\tscript:alert(1)", " javascript:alert(1)",
		"data:text/html,<script>alert(1)</script>", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
		"vbscript:msgbox(1)", "file:///etc/passwd", "ftp://evil.example/", "blob:http://evil.example/x",
		// Header injection, tabs, whitespace and NUL.
		"/x\r\nLocation: http://evil.example", "/x\r\nSet-Cookie: planted=1", "/\r\n/evil.example", "\r\n//evil.example",
		"/\t/evil.example", "\t//evil.example", "/x\tz", " //evil.example", " /x", "\n/x", "/x ", "/ /evil.example",
		"\x00//evil.example", "/\x00/evil.example", "/x\x7f",
		// Breaking out of the hidden field's attribute.
		`"><script>alert(1)</script>`, `'><svg onload=alert(1)>`, `javascript:"><svg/onload=alert(1)>`,
	}
}

// onSiteOddTargets are paths that look hostile but are paths on this site
// however a browser reads them; they may be honoured as they are (or
// normalized), but the browser must stay on the site.
var onSiteOddTargets = []string{
	"/%252F%252Fevil.example", "/%09/evil.example", "/%0d%0aSet-Cookie:%20planted=1", "/.//evil.example", "/..//evil.example",
	"/%2e%2e//evil.example", "/auth/../evil.example", "/x?next=//evil.example", "/x?next=https://evil.example", "/x#//evil.example",
	`/x"><script>alert(1)</script>`, "/x'onmouseover='alert(1)", "/\u2215evil.example", "/@evil.example", "/;//evil.example",
}

// checkRefusedTarget checks a sign-in or sign-up that carried an off-site
// redirect_to: a 303 to the default landing page, and nothing injected into
// the response's headers.
func checkRefusedTarget(t *testing.T, what string, r Reply) {
	t.Helper()
	if r.Status != 303 {
		t.Errorf("%s: %d, want 303; %.300s", what, r.Status, r.Body)
		return
	}
	if loc := r.Header.Values("Location"); len(loc) != 1 || loc[0] != defaultLanding {
		t.Errorf("%s: Location %q, want %q", what, loc, defaultLanding)
	}
	if len(setCookies(t, r, "planted")) != 0 {
		t.Errorf("%s: a header was injected: %v", what, r.Header)
	}
}

var linkRedirect = regexp.MustCompile(`href="[^"]*\?redirect_to=([^"]*)"`)

// linkRedirects returns the redirect_to values of the page's links,
// unescaped as a browser would.
func linkRedirects(t *testing.T, page string) []string {
	t.Helper()
	var out []string
	for _, m := range linkRedirect.FindAllStringSubmatch(page, -1) {
		v, err := url.QueryUnescape(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatalf("link with a malformed redirect_to %q", m[1])
		}
		out = append(out, v)
	}
	return out
}

// TestOpenRedirectSignInSignUp posts the sign-in and sign-up forms with
// hostile redirect_to values (in the form and in the form's action URL)
// and checks where the browser is sent.
//
// ASVS 5.0: V3.7.2, V1.2.2, V1.2.1, V2.2.1
func TestOpenRedirectSignInSignUp(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	s.Client().SignUp("redirect@example.com")
	signIn := func(target string, query bool) Reply {
		path, form := "/auth/sign-in", url.Values{"email": {"redirect@example.com"}, "password": {Password}}
		if query {
			path += "?redirect_to=" + url.QueryEscape(target)
		} else {
			form.Set("redirect_to", target)
		}
		return s.Client().Do("POST", path, form, sameOriginHeaders(s)...)
	}
	n := 0
	signUp := func(target string) Reply {
		n++
		form := url.Values{"email": {fmt.Sprintf("redirect-%d@example.com", n)}, "password": {Password}, "redirect_to": {target}}
		return s.Client().Do("POST", "/auth/sign-up", form, sameOriginHeaders(s)...)
	}

	// The control: safe targets are honoured, so a refusal below is a
	// refusal and not a feature that never works.
	for target, want := range map[string]string{
		"/app/notes?x=1": "/app/notes?x=1",
		s.URL + "/app/x": s.URL + "/app/x", // our own origin, absolute
	} {
		for _, r := range []Reply{signIn(target, false), signIn(target, true), signUp(target)} {
			if r.Status != 303 || r.Header.Get("Location") != want {
				t.Fatalf("safe target %q: %d → %q, want %q", target, r.Status, r.Header.Get("Location"), want)
			}
		}
	}

	for _, target := range offSiteTargets(s) {
		checkRefusedTarget(t, fmt.Sprintf("sign-in form, redirect_to %q", target), signIn(target, false))
		checkRefusedTarget(t, fmt.Sprintf("sign-up form, redirect_to %q", target), signUp(target))
	}
	// The form's action URL is read too (body first, then the query).
	for _, target := range []string{"//evil.example", `/\evil.example`, "https://evil.example", "javascript:alert(1)", "/%2F%2Fevil.example", "/x\r\nSet-Cookie: planted=1"} {
		checkRefusedTarget(t, fmt.Sprintf("sign-in action URL, redirect_to %q", target), signIn(target, true))
	}
	for _, target := range onSiteOddTargets {
		for what, r := range map[string]Reply{"sign-in": signIn(target, false), "sign-up": signUp(target)} {
			what = fmt.Sprintf("%s, redirect_to %q", what, target)
			if r.Status != 303 {
				t.Errorf("%s: %d, want 303", what, r.Status)
				continue
			}
			checkStaysOnSite(t, s, what, r.Header.Get("Location"))
			if len(setCookies(t, r, "planted")) != 0 {
				t.Errorf("%s: a header was injected: %v", what, r.Header)
			}
		}
	}
}

// TestOpenRedirectFormPages opens the sign-in and sign-up pages with
// hostile redirect_to values: the form's hidden field (and the link to the
// other form) never carries an off-site target, and the raw value never
// reaches the HTML where it could break out of an attribute. A browser that
// is already signed in is sent on at once: to the default page.
//
// ASVS 5.0: V3.7.2, V1.2.1, V1.2.2
func TestOpenRedirectFormPages(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	signedIn := s.Client()
	signedIn.SignUp("pages@example.com")
	anon := s.Client()

	open := func(page, target string) (Reply, string) {
		r := anon.Do("GET", "/auth/"+page+"?redirect_to="+url.QueryEscape(target), nil, "Accept", "text/html")
		if r.Status != 200 {
			t.Fatalf("GET %s with redirect_to %q: %d", page, target, r.Status)
		}
		return r, formRedirectTo(t, r.Body)
	}
	// The control: a safe target is kept through the form.
	for _, page := range []string{"sign-in", "sign-up"} {
		if r, got := open(page, "/app/notes?x=1&y=2"); got != "/app/notes?x=1&y=2" || !slices.Equal(linkRedirects(t, r.Body), []string{got}) {
			t.Fatalf("%s page does not keep a safe target: field %q, links %q", page, got, linkRedirects(t, r.Body))
		}
	}

	for _, target := range offSiteTargets(s) {
		for _, page := range []string{"sign-in", "sign-up"} {
			what := fmt.Sprintf("GET %s, redirect_to %q", page, target)
			r, got := open(page, target)
			if got != "" {
				t.Errorf("%s: the form carries %q", what, got)
			}
			if strings.Contains(r.Body, "redirect_to=") {
				t.Errorf("%s: a link carries a redirect_to", what)
			}
			if strings.Contains(r.Body, "evil.example") || strings.Contains(r.Body, "alert(1)") {
				t.Errorf("%s: the page reflects the payload:\n%s", what, r.Body)
			}
		}
		r := signedIn.Do("GET", "/auth/sign-in?redirect_to="+url.QueryEscape(target), nil, "Accept", "text/html")
		checkRefusedTarget(t, fmt.Sprintf("signed-in GET sign-in, redirect_to %q", target), r)
	}
	for _, target := range onSiteOddTargets {
		for _, page := range []string{"sign-in", "sign-up"} {
			what := fmt.Sprintf("GET %s, redirect_to %q", page, target)
			r, got := open(page, target)
			if got != "" {
				checkStaysOnSite(t, s, what+" (form field)", got)
			}
			for _, l := range linkRedirects(t, r.Body) {
				if l != got {
					t.Errorf("%s: a link carries redirect_to %q, the form %q", what, l, got)
				}
			}
			if strings.ContainsAny(target, `"'<>`) && strings.Contains(r.Body, target) {
				t.Errorf("%s: the raw payload is in the page:\n%s", what, r.Body)
			}
			if strings.Contains(r.Body, "<script>") || strings.Contains(r.Body, `'onmouseover`) {
				t.Errorf("%s: the payload breaks out into the page:\n%s", what, r.Body)
			}
		}
		r := signedIn.Do("GET", "/auth/sign-up?redirect_to="+url.QueryEscape(target), nil, "Accept", "text/html")
		if r.Status != 303 {
			t.Errorf("signed-in GET sign-up, redirect_to %q: %d", target, r.Status)
			continue
		}
		checkStaysOnSite(t, s, fmt.Sprintf("signed-in GET sign-up, redirect_to %q", target), r.Header.Get("Location"))
	}
}

// TestOpenRedirectRequireFlow follows the flow of a protected page the way
// a browser does: the anonymous navigation is sent to sign-in with the
// page's path as redirect_to, the sign-in form keeps it, and the sign-in
// lands back on it. Hostile request URIs (protocol-relative, encoded,
// dot-segments, query payloads) never turn any hop into an off-site one.
//
// ASVS 5.0: V3.7.2, V8.3.1
func TestOpenRedirectRequireFlow(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	s.Client().SignUp("flow@example.com")

	// follow walks the redirects of a navigation until a page answers,
	// checking every hop, and returns the final path and reply.
	follow := func(c *Client, start string, header ...string) (string, Reply) {
		path := start
		for range 6 {
			r := c.Do("GET", path, nil, header...)
			if r.Status < 300 || r.Status > 399 {
				return path, r
			}
			loc := r.Header.Get("Location")
			checkStaysOnSite(t, s, "GET "+path, loc)
			u, err := browserTarget(s.URL+path, loc)
			if err != nil || u.Host != strings.TrimPrefix(s.URL, "http://") {
				t.Fatalf("GET %s → %q leaves the site", path, loc)
			}
			path = u.RequestURI()
		}
		t.Fatalf("GET %s: too many redirects", start)
		return "", Reply{}
	}

	for _, nav := range [][]string{{"Accept", "text/html"}, {"Sec-Fetch-Mode", "navigate"}} {
		c := s.Client()
		r := c.Do("GET", "/auth/account", nil, nav...)
		if r.Status != 303 || r.Header.Get("Location") != "/auth/sign-in?redirect_to=%2Fauth%2Faccount" {
			t.Fatalf("anonymous GET /auth/account (%s): %d → %q", nav[0], r.Status, r.Header.Get("Location"))
		}
		path, page := follow(c, "/auth/account", nav...)
		if page.Status != 200 || !strings.HasPrefix(path, "/auth/sign-in") {
			t.Fatalf("the navigation ended at %s with %d", path, page.Status)
		}
		back := formRedirectTo(t, page.Body)
		r = c.Do("POST", "/auth/sign-in", url.Values{"email": {"flow@example.com"}, "password": {Password}, "redirect_to": {back}}, sameOriginHeaders(s)...)
		if r.Status != 303 || r.Header.Get("Location") != "/auth/account" {
			t.Fatalf("sign-in from the protected page's redirect: %d → %q", r.Status, r.Header.Get("Location"))
		}
	}

	for _, uri := range []string{
		"/auth/account?next=//evil.example",
		"/auth/account?redirect_to=https://evil.example",
		"/auth/account?x=%0d%0aSet-Cookie:%20planted=1",
		"//evil.example/auth/account",
		"///evil.example/auth/account",
		"/auth//account",
		"/auth/./account",
		"/auth/x/../account",
		"/auth/%2F%2Fevil.example",
		"/auth/..//evil.example",
		"/%2F%2Fevil.example/auth/account",
		"/auth",
		"/",
		"/auth/",
	} {
		c := s.Client()
		path, page := follow(c, uri, "Accept", "text/html")
		if len(setCookies(t, page, "planted")) != 0 {
			t.Errorf("GET %s: a header was injected", uri)
		}
		if page.Status != 200 || !strings.HasPrefix(path, "/auth/sign-in") {
			continue // a 404 page: nothing to sign in to
		}
		back := formRedirectTo(t, page.Body)
		r := c.Do("POST", "/auth/sign-in", url.Values{"email": {"flow@example.com"}, "password": {Password}, "redirect_to": {back}}, sameOriginHeaders(s)...)
		if r.Status != 303 {
			t.Errorf("sign-in after GET %s: %d", uri, r.Status)
			continue
		}
		checkStaysOnSite(t, s, "sign-in after GET "+uri, r.Header.Get("Location"))
	}
}

// TestOpenRedirectAllowlist starts a server with an allowlisted origin: a
// target on it is honoured, and nothing that merely resembles it is.
//
// ASVS 5.0: V3.7.2
func TestOpenRedirectAllowlist(t *testing.T) {
	t.Parallel()
	s := Start(t, append(Relaxed, "GATEHOUSE_REDIRECT_ALLOWLIST=https://app.example.com")...)
	s.Client().SignUp("allow@example.com")
	signIn := func(target string) Reply {
		return s.Client().Do("POST", "/auth/sign-in", url.Values{"email": {"allow@example.com"}, "password": {Password}, "redirect_to": {target}}, sameOriginHeaders(s)...)
	}
	for _, target := range []string{"https://app.example.com/dashboard?tab=1", "https://app.example.com/", "https://app.example.com"} {
		if r := signIn(target); r.Status != 303 || r.Header.Get("Location") != target {
			t.Fatalf("allowlisted %q: %d → %q", target, r.Status, r.Header.Get("Location"))
		}
		page := s.Client().Do("GET", "/auth/sign-in?redirect_to="+url.QueryEscape(target), nil, "Accept", "text/html")
		if got := formRedirectTo(t, page.Body); got != target {
			t.Fatalf("the sign-in page drops the allowlisted %q: %q", target, got)
		}
	}
	for _, target := range []string{
		"https://app.example.com.evil.example/", "https://app.example.com@evil.example/", "https://user:pw@app.example.com/",
		"https://user@app.example.com/", `https://app.example.com\@evil.example/`, "https://evil.example/https://app.example.com",
		"https://evil.example?https://app.example.com", "https://evil.example#https://app.example.com", "https://evil.example\\.app.example.com/",
		"http://app.example.com/", "https://app.example.com:8443/", "https://app-example.com/", "https://appxexample.com/",
		"https://example.com/", "https://x.app.example.com/", "//app.example.com/", "https:app.example.com", "https:/app.example.com",
		"https://app.example.com%2F@evil.example/", "https://app.example.com%00.evil.example/", "https://app.example.com\t.evil.example/",
		"javascript://app.example.com/%0aalert(1)", "data:text/html,https://app.example.com",
	} {
		checkRefusedTarget(t, fmt.Sprintf("redirect_to %q", target), signIn(target))
	}
}
