package web_test

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/web"
)

// page fetches a hosted page as a browser would and returns its HTML.
func (c *client) page(path string, hdr ...string) response {
	c.e.t.Helper()
	return c.do("GET", path, nil, append([]string{"Accept", "text/html"}, hdr...)...)
}

func mustContain(t *testing.T, r response, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(string(r.body), s) {
			t.Fatalf("the page lacks %q:\n%s", s, r.body)
		}
	}
}

// testAccountPageForms drives every form of the account page without
// JavaScript: profile, password, sign-out confirmation, deletion.
func testAccountPageForms(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("forms@example.com")
	other := e.client()
	want(t, other.do("POST", "/auth/sign-in", url.Values{"email": {"forms@example.com"}, "password": {goodPassword}}), 303, "")

	// Profile: an invalid name stays next to the profile form only.
	r := c.do("POST", "/auth/account/profile", url.Values{"name": {strings.Repeat("n", 300)}})
	want(t, r, 400, "")
	mustContain(t, r, `id="name-error"`, `aria-describedby="name-error"`)
	want(t, c.do("POST", "/auth/account/profile", url.Values{"name": {"Grace Hopper"}}), 303, "")
	mustContain(t, c.page("/auth/account?notice=profile_saved"), "Grace Hopper", `role="status"`)

	// Password: a wrong current password is an error on that field; the
	// right one rotates this session and ends the other.
	r = c.do("POST", "/auth/account/password", url.Values{"current_password": {"not the password"}, "new_password": {"a brand new passphrase"}})
	want(t, r, 403, "")
	mustContain(t, r, `id="current-password-error"`)
	if strings.Contains(string(r.body), `id="delete-password-error"`) || strings.Contains(string(r.body), `id="email-password-error"`) {
		t.Fatal("a password-form error shows under other forms too")
	}
	before := c.cookie()
	r = c.do("POST", "/auth/account/password", url.Values{"current_password": {goodPassword}, "new_password": {"a brand new passphrase"}})
	want(t, r, 303, "")
	if r.Header.Get("Location") != "/auth/account?notice=password_changed" || c.cookie() == before || c.cookie() == "" {
		t.Fatalf("password change: Location %q, cookie rotated %v", r.Header.Get("Location"), c.cookie() != before)
	}
	want(t, other.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, c.do("GET", "/auth/api/session", nil), 200, "")

	// Sign-out is confirmed by a POST; the GET only asks.
	r = c.page("/auth/sign-out")
	want(t, r, 200, "")
	mustContain(t, r, `action="/auth/sign-out"`)
	want(t, c.do("GET", "/auth/api/session", nil), 200, "")
	if r := e.client().page("/auth/sign-out"); r.StatusCode != 303 || r.Header.Get("Location") != "/auth/sign-in" {
		t.Fatalf("sign-out page signed out: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	// Deletion asks for the password again.
	r = c.do("POST", "/auth/account/delete", url.Values{"password": {"not the password"}})
	want(t, r, 403, "")
	mustContain(t, r, `id="delete-password-error"`)
	want(t, c.do("GET", "/auth/api/session", nil), 200, "")
	r = c.do("POST", "/auth/account/delete", url.Values{"password": {"a brand new passphrase"}})
	want(t, r, 303, "")
	if r.Header.Get("Location") != "/auth/sign-in?notice=account_deleted" {
		t.Fatalf("after deletion: %q", r.Header.Get("Location"))
	}
	want(t, c.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "forms@example.com", "password": "a brand new passphrase"}), 401, "invalid_credentials")

	// Cross-origin posts to the new forms are refused like every other.
	for _, p := range []string{"/auth/account/profile", "/auth/account/password", "/auth/account/delete", "/auth/language"} {
		r := e.client().do("POST", p, url.Values{}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		want(t, r, 403, "")
	}
}

// testLanguageChoice: Accept-Language, then the picker's choice, pick the
// pages' language; mail triggered from a page follows it.
func testLanguageChoice(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	r := c.page("/auth/sign-in", "Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5")
	want(t, r, 200, "")
	mustContain(t, r, `<html lang="fr"`)
	if vary := strings.Join(r.Header.Values("Vary"), ", "); r.Header.Get("Content-Language") != "fr" || !strings.Contains(vary, "Accept-Language") {
		t.Fatalf("Content-Language %q, Vary %q", r.Header.Get("Content-Language"), vary)
	}
	// The picker returns to this page without ?lang, which would override
	// the choice.
	mustContain(t, c.page("/auth/sign-in?lang=fr&redirect_to=%2Fapp%2F"), `name="return_to" value="/auth/sign-in?redirect_to=%2Fapp%2F"`)
	mustContain(t, c.page("/auth/sign-in", "Accept-Language", "de"), `<html lang="en"`)
	mustContain(t, c.page("/auth/sign-in?lang=fr"), `<html lang="fr"`)

	// The picker stores the choice and returns to the page, never elsewhere.
	r = c.do("POST", "/auth/language", url.Values{"lang": {"fr"}, "return_to": {"/auth/forgot-password?x=1"}})
	want(t, r, 303, "")
	if r.Header.Get("Location") != "/auth/forgot-password?x=1" {
		t.Fatalf("language picker returned to %q", r.Header.Get("Location"))
	}
	mustContain(t, c.page("/auth/sign-in", "Accept-Language", "en"), `<html lang="fr"`)
	for _, evil := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example"} {
		r := c.do("POST", "/auth/language", url.Values{"lang": {"en"}, "return_to": {evil}})
		if loc := r.Header.Get("Location"); r.StatusCode != 303 || loc != "/auth/account" {
			t.Fatalf("return_to %q: %d %q", evil, r.StatusCode, loc)
		}
	}
	want(t, c.do("POST", "/auth/language", url.Values{"lang": {"fr"}}), 303, "")
	// An unknown language leaves the choice as it was.
	want(t, c.do("POST", "/auth/language", url.Values{"lang": {"xx-<script>"}}), 303, "")
	mustContain(t, c.page("/auth/sign-in"), `<html lang="fr"`)

	// Mail asked for from the French pages comes in French.
	c.signUp("langue@example.com")
	e.nextMail("verify_email", "langue@example.com")
	want(t, c.do("POST", "/auth/forgot-password", url.Values{"email": {"langue@example.com"}}), 303, "")
	if m := e.nextMail("password_reset", "langue@example.com"); !strings.Contains(m.Text, "mot de passe") {
		t.Fatalf("reset mail is not in French:\n%s", m.Text)
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestThemeBranding: logo, colour, custom CSS, a template override and a
// text override reach the pages; the stylesheet is content-addressed.
func TestThemeBranding(t *testing.T) {
	dir := t.TempDir()
	css := writeFile(t, dir, "brand.css", ".card { border-width: 7px; }")
	tpl := t.TempDir()
	writeFile(t, tpl, "sign-in.html", "{{/* gatehouse page data v1 */}}\n{{define \"content\"}}<p id=\"custom\">{{.T \"sign-in.title\"}} for {{.Product}}</p>{{end}}")
	theme, err := web.NewTheme(web.ThemeConfig{
		LogoURL: "https://cdn.example.com/logo.svg", PrimaryColor: "#ff6600", CustomCSSFile: css, TemplatesDir: tpl,
		Messages: map[string]map[string]string{"en": {"sign-in.title": "Welcome back"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWeb(t, backends[0], gatehouse.Config{ProductName: "Acme"}, []web.Option{web.WithTheme(theme)})
	c := e.client()
	r := c.page("/auth/sign-in")
	want(t, r, 200, "")
	mustContain(t, r, `<p id="custom">Welcome back for Acme</p>`, `https://cdn.example.com/logo.svg`)
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.example.com;") {
		t.Fatalf("CSP does not allow the logo: %q", csp)
	}
	// Pages not overridden still render, with the overridden text.
	mustContain(t, c.page("/auth/sign-up"), "Acme")

	href := regexp.MustCompile(`href="(/auth/assets/style\.[0-9a-f]{12}\.css)"`).FindSubmatch(r.body)
	if href == nil {
		t.Fatalf("no content-addressed stylesheet link:\n%s", r.body)
	}
	s := c.do("GET", string(href[1]), nil)
	want(t, s, 200, "")
	if !strings.Contains(s.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(s.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet headers: %v", s.Header)
	}
	body := string(s.body)
	if !strings.Contains(body, "--gh-primary:") || !strings.HasSuffix(strings.TrimSpace(body), ".card { border-width: 7px; }") {
		t.Fatalf("stylesheet lacks the brand variables or the custom CSS last:\n%s", body[max(0, len(body)-600):])
	}
	if !strings.Contains(body, "--gh-primary:#") || strings.Contains(body, "--gh-primary:#4f46e5") {
		t.Fatal("the primary colour did not reach the stylesheet")
	}
	want(t, c.do("GET", "/auth/assets/style.000000000000.css", nil), 404, "")
	want(t, c.do("GET", "/auth/assets/style.css", nil), 404, "")
}

// TestNewThemeRefusesBrokenConfig: every mistake fails at start, naming
// what to fix.
func TestNewThemeRefusesBrokenConfig(t *testing.T) {
	header := "{{/* gatehouse page data v1 */}}\n"
	tests := []struct {
		name  string
		cfg   func(dir string) web.ThemeConfig
		wants string
	}{
		{"colour", func(string) web.ThemeConfig { return web.ThemeConfig{PrimaryColor: "red"} }, "hex colour"},
		{"http logo", func(string) web.ThemeConfig { return web.ThemeConfig{LogoURL: "http://cdn.example.com/l.png"} }, "https URL"},
		{"script logo", func(string) web.ThemeConfig { return web.ThemeConfig{LogoURL: "javascript:alert(1)"} }, "https URL"},
		{"protocol-relative logo", func(string) web.ThemeConfig { return web.ThemeConfig{LogoURL: "//cdn.example.com/l.png"} }, "https URL"},
		{"missing CSS", func(dir string) web.ThemeConfig {
			return web.ThemeConfig{CustomCSSFile: filepath.Join(dir, "nope.css")}
		}, "custom CSS"},
		{"no version line", func(dir string) web.ThemeConfig {
			writeFile(t, dir, "sign-in.html", `{{define "content"}}x{{end}}`)
			return web.ThemeConfig{TemplatesDir: dir}
		}, "first line must be"},
		{"old version", func(dir string) web.ThemeConfig {
			writeFile(t, dir, "sign-in.html", "{{/* gatehouse page data v0 */}}\n{{define \"content\"}}x{{end}}")
			return web.ThemeConfig{TemplatesDir: dir}
		}, "written for page data v0"},
		{"unknown template", func(dir string) web.ThemeConfig {
			writeFile(t, dir, "sign-inn.html", header+`{{define "content"}}x{{end}}`)
			return web.ThemeConfig{TemplatesDir: dir}
		}, "no built-in template has this name"},
		{"parse error", func(dir string) web.ThemeConfig {
			writeFile(t, dir, "account.html", header+`{{define "content"}}{{if}}{{end}}`)
			return web.ThemeConfig{TemplatesDir: dir}
		}, "template account"},
		{"unknown text key", func(dir string) web.ThemeConfig {
			writeFile(t, dir, "sign-up.html", header+`{{define "content"}}{{.T "sign-up.nope"}}{{end}}`)
			return web.ThemeConfig{TemplatesDir: dir}
		}, `no text "sign-up.nope"`},
		{"unknown field", func(dir string) web.ThemeConfig {
			writeFile(t, dir, "sign-up.html", header+`{{define "content"}}{{.Nope}}{{end}}`)
			return web.ThemeConfig{TemplatesDir: dir}
		}, "template sign-up"},
		{"unknown message key", func(string) web.ThemeConfig {
			return web.ThemeConfig{Messages: map[string]map[string]string{"en": {"sign-in.titel": "x"}}}
		}, `"sign-in.titel"`},
		{"bad language", func(string) web.ThemeConfig {
			return web.ThemeConfig{Messages: map[string]map[string]string{"not a tag!": {"sign-in.title": "x"}}}
		}, "language tag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := web.NewTheme(tc.cfg(t.TempDir()))
			if err == nil || !strings.Contains(err.Error(), tc.wants) {
				t.Fatalf("NewTheme error %v, want one saying %q", err, tc.wants)
			}
		})
	}
}

// TestThemeAddsLanguage: a language that is not built in can be added by
// overrides; what it lacks shows in English, and a warning says so.
func TestThemeAddsLanguage(t *testing.T) {
	theme, err := web.NewTheme(web.ThemeConfig{Messages: map[string]map[string]string{
		"de": {"language.name": "Deutsch", "sign-in.title": "Anmelden"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(theme.Warnings(), "\n"); !strings.Contains(w, "language de lacks") {
		t.Fatalf("warnings: %q", w)
	}
	e := newEnvWeb(t, backends[0], gatehouse.Config{}, []web.Option{web.WithTheme(theme)})
	r := e.client().page("/auth/sign-in", "Accept-Language", "de-AT")
	want(t, r, 200, "")
	mustContain(t, r, `<html lang="de"`, "Anmelden", "Deutsch", "Français")
	if !regexp.MustCompile(`<h1[^>]*>\s*Anmelden\s*</h1>`).Match(r.body) {
		t.Fatalf("the title is not translated:\n%s", r.body)
	}
}

func TestThemeColoursKeepContrast(t *testing.T) {
	for _, c := range []string{"#ffff00", "#ffffff", "#000000", "#777777", "#4f46e5", "#0af", "#00ff00", "#1e3a8a"} {
		vars, err := web.ThemeVariablesForTest(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, scheme := range vars {
			for _, s := range scheme.Surfaces {
				if r := web.ContrastForTest(scheme.Primary, s); r < 3 {
					t.Errorf("%s: button %s on surface %s has contrast %.2f < 3", c, scheme.Primary, s, r)
				}
				if r := web.ContrastForTest(scheme.Accent, s); r < 4.5 {
					t.Errorf("%s: accent %s on surface %s has contrast %.2f < 4.5", c, scheme.Accent, s, r)
				}
			}
			if r := web.ContrastForTest(scheme.OnPrimary, scheme.Primary); r < 4.5 {
				t.Errorf("%s: text %s on button %s has contrast %.2f < 4.5", c, scheme.OnPrimary, scheme.Primary, r)
			}
		}
	}
}

// TestPagesAnswerInHTMLWithOneHeading: every page a signed-out browser can
// open has one h1, a lang, labels for its inputs and the language picker.
func TestPagesAnswerInHTMLWithOneHeading(t *testing.T) {
	e := newEnv(t, backends[0], gatehouse.Config{})
	c := e.client()
	for _, p := range []string{"/auth/sign-in", "/auth/sign-up", "/auth/forgot-password", "/auth/verify-email/send",
		"/auth/check-email?for=reset", "/auth/verify-email", "/auth/reset-password", "/auth/confirm-email-change", "/auth/nope", "/auth/dev/mailbox"} {
		r := c.page(p)
		if r.StatusCode >= 500 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", p, r.StatusCode, r.Header.Get("Content-Type"))
		}
		if n := strings.Count(string(r.body), "<h1"); n != 1 {
			t.Errorf("%s has %d h1 elements", p, n)
		}
		mustContain(t, r, `<html lang="en"`, `action="/auth/language"`)
		for _, m := range regexp.MustCompile(`<input[^>]+id="([^"]+)"`).FindAllSubmatch(r.body, -1) {
			if !strings.Contains(string(r.body), `for="`+string(m[1])+`"`) {
				t.Errorf("%s: input #%s has no label", p, m[1])
			}
		}
	}
}
