package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/catalog"
)

// PageDataVersion is the version of the data the page templates receive
// (pageData, documented in docs/ui.md). Within one version fields are only
// added, never renamed or removed; a template override states the version
// it was written for on its first line, and NewTheme refuses one written
// for another, so an upgrade that changes the data fails at start, by name,
// instead of rendering broken pages.
const PageDataVersion = 1

// overrideHeader is the first line every template override must carry.
var overrideHeader = regexp.MustCompile(`^\{\{/\*\s*gatehouse page data v(\d+)\s*\*/\}\}`)

// maxCustomCSS bounds the custom stylesheet read at start.
const maxCustomCSS = 256 << 10

// ThemeConfig says how the hosted pages look and speak. The zero value is
// the built-in look in every built-in language.
type ThemeConfig struct {
	// LogoURL is shown above every page: an https URL, an absolute path on
	// this host ("/static/logo.svg"), or a data:image URL. Its origin is
	// added to the Content-Security-Policy's img-src. Empty shows the
	// product name alone.
	LogoURL string
	// PrimaryColor (#rrggbb) colours buttons, links and focus rings. Shades
	// are derived from it so that text keeps WCAG AA contrast in light and
	// dark mode whatever the colour.
	PrimaryColor string
	// CustomCSSFile is a stylesheet served after the built-in one, so its
	// rules win. The built-in CSS custom properties (--gh-*) are the stable
	// way to restyle; see docs/ui.md.
	CustomCSSFile string
	// TemplatesDir holds template overrides: a file named like a built-in
	// template (sign-in.html, layout.html, …) replaces it. Each must start
	// with {{/* gatehouse page data v1 */}}.
	TemplatesDir string
	// Messages overrides single strings, by language then key; a language
	// that is not built in is added (what it lacks is shown in English).
	Messages map[string]map[string]string
}

// Theme is a validated ThemeConfig: parsed templates, the message catalogue
// and the stylesheet. Create it with NewTheme and pass it to New with
// WithTheme; it is immutable and safe for concurrent use.
type Theme struct {
	pages    map[string]*template.Template
	catalog  *catalog.Catalog
	css      []byte
	cssPath  string // assets/style.<hash>.css
	logo     string
	logoSrc  string // an origin to add to img-src, or ""
	warnings []string
}

// WithTheme renders the hosted pages with t instead of the built-in theme.
func WithTheme(t *Theme) Option { return func(h *Handler) { h.theme = t } }

// Warnings lists what NewTheme accepted but a person should know (a
// language that is not complete).
func (t *Theme) Warnings() []string { return t.warnings }

// NewTheme validates c: it parses every template (overrides included),
// loads the catalogue with its overrides, builds the stylesheet, and renders
// every page in every language with sample data, so that a broken override
// fails here, naming its file, rather than in front of a user.
func NewTheme(c ThemeConfig) (*Theme, error) {
	cat, err := catalog.New(c.Messages)
	if err != nil {
		return nil, err
	}
	t := &Theme{catalog: cat}
	for _, l := range cat.Locales() {
		if l.Missing > 0 {
			t.warnings = append(t.warnings, fmt.Sprintf("language %s lacks %d texts; they are shown in English", l.Tag, l.Missing))
		}
	}
	if t.logo, t.logoSrc, err = checkLogo(c.LogoURL); err != nil {
		return nil, err
	}
	overrides, err := readOverrides(c.TemplatesDir)
	if err != nil {
		return nil, err
	}
	if t.pages, err = parsePages(overrides); err != nil {
		return nil, err
	}
	vars, err := themeVariables(c.PrimaryColor)
	if err != nil {
		return nil, err
	}
	css := slices.Concat(stylesheet, []byte("\n"), vars)
	if c.CustomCSSFile != "" {
		custom, err := readLimited(c.CustomCSSFile, maxCustomCSS)
		if err != nil {
			return nil, fmt.Errorf("custom CSS: %w", err)
		}
		css = slices.Concat(css, []byte("\n/* custom */\n"), custom)
	}
	sum := sha256.Sum256(css)
	t.css, t.cssPath = css, "/assets/style."+hex.EncodeToString(sum[:6])+".css"
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// builtinTheme is the theme of a Handler created without WithTheme, built
// once per process (a Theme is immutable). The built-in templates and
// catalogues are compiled in and tested, so failing here is a build defect,
// not a configuration error.
var builtinTheme = sync.OnceValue(func() *Theme {
	t, err := NewTheme(ThemeConfig{})
	if err != nil {
		panic("web: built-in theme: " + err.Error())
	}
	return t
})

func checkLogo(raw string) (logo, src string, err error) {
	if raw == "" {
		return "", "", nil
	}
	if strings.HasPrefix(raw, "data:image/") {
		return raw, "", nil
	}
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		return raw, "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", "", fmt.Errorf("logo URL %q: use an https URL, a path on this host (/logo.svg) or a data:image URL", raw)
	}
	return raw, "https://" + u.Host, nil
}

// readOverrides reads the template overrides in dir: name → text.
func readOverrides(dir string) (map[string]string, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("templates directory: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".html") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".html")
		if name != "layout" && !slices.Contains(pageNames, name) {
			return nil, fmt.Errorf("template override %s: no built-in template has this name (known: layout, %s)",
				filepath.Join(dir, e.Name()), strings.Join(pageNames, ", "))
		}
		b, err := readLimited(filepath.Join(dir, e.Name()), 1<<20)
		if err != nil {
			return nil, fmt.Errorf("template override: %w", err)
		}
		m := overrideHeader.FindSubmatch(b)
		if m == nil {
			return nil, fmt.Errorf("template override %s: the first line must be {{/* gatehouse page data v%d */}} (see docs/ui.md)",
				filepath.Join(dir, e.Name()), PageDataVersion)
		}
		if v, _ := strconv.Atoi(string(m[1])); v != PageDataVersion {
			return nil, fmt.Errorf("template override %s was written for page data v%d; this Gatehouse renders v%d: update it as docs/ui.md describes",
				filepath.Join(dir, e.Name()), v, PageDataVersion)
		}
		out[name] = string(b)
	}
	return out, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d KiB", path, limit>>10)
	}
	return b, nil
}

// parsePages parses layout + page for every page, taking each file from
// overrides when present.
func parsePages(overrides map[string]string) (map[string]*template.Template, error) {
	source := func(name string) (string, error) {
		if s, ok := overrides[name]; ok {
			return s, nil
		}
		b, err := fs.ReadFile(templateFS, "templates/"+name+".html")
		return string(b), err
	}
	layout, err := source("layout")
	if err != nil {
		return nil, err
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		body, err := source(name)
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Funcs(templateFuncs).Parse(layout)
		if err == nil {
			_, err = t.Parse(body)
		}
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// check renders every page in every language with sample data.
func (t *Theme) check() error {
	for _, l := range t.catalog.Locales() {
		for _, name := range pageNames {
			for _, d := range samplePages(t, l, name) {
				if err := t.pages[name].ExecuteTemplate(io.Discard, "layout", d); err != nil {
					return fmt.Errorf("template %s (%s): %w", name, l.Tag, err)
				}
			}
		}
	}
	return nil
}

// samplePages returns the states a page is rendered in for the start-up
// check: signed out, bare and with every message; signed in with every
// list filled (and every list empty) and each account form's errors; each
// check-email topic.
func samplePages(t *Theme, l *catalog.Locale, name string) []*pageData {
	bare := &pageData{
		Version: PageDataVersion, Page: name, Title: "Sample", Product: "Gatehouse", Base: "/auth",
		loc: l, Lang: l.Tag, Stylesheet: "/auth" + t.cssPath, FieldErrors: map[string]string{}, ReturnTo: "/auth/sign-in",
		Languages: languageOptions(t.catalog, l),
	}
	signedOut := &pageData{
		Version: PageDataVersion, Page: name, Title: "Sample", Product: "Gatehouse", Base: "/auth", Dev: true,
		loc: l, Lang: l.Tag, Stylesheet: "/auth" + t.cssPath, LogoURL: t.logo,
		Error: "Sample error.", ErrorCode: gatehouse.CodeEmailNotVerified, Notice: "Sample notice.",
		FieldErrors: map[string]string{"email": "x", "password": "x", "name": "x", "current_password": "x", "new_password": "x"},
		CheckFor:    "verify", MinPassword: 12, RedirectTo: "/app/", ReturnTo: "/auth/sign-in",
	}
	signedOut.Languages = languageOptions(t.catalog, l)
	signedIn := *signedOut
	signedIn.State = gatehouse.AuthState{SignedIn: true, UserID: "u", Email: "ada@example.com", Name: "Ada", Roles: []string{"admin"}}
	signedIn.Sessions = []sessionView{{ID: "a", Device: "Chrome on Linux", IP: "127.0.0.1", CreatedAt: "now", LastSeenAt: "now", Current: true}, {ID: "b", Device: "Safari on iPhone", IP: "::1", CreatedAt: "then", LastSeenAt: "then"}}
	signedIn.LinkValid = true
	allScopes := []string{gatehouse.ScopeOpenID, gatehouse.ScopeProfile, gatehouse.ScopeEmail, gatehouse.ScopeOfflineAccess, "notes:read"}
	signedIn.Consent = &consentView{App: "Notes <b>", Scopes: scopeTexts(l, allScopes),
		Params: []hiddenField{{"client_id", "cli_sample"}, {"state", `"><script>`}}}
	signedIn.Logout = &logoutView{App: "Notes", Params: []hiddenField{{"client_id", "cli_sample"}}}
	signedIn.Apps = []appView{{ClientID: "cli_sample", Name: "Notes", Access: scopeTexts(l, allScopes), GrantedAt: "now"}}
	signedIn.ErrorDetail = "The redirect_uri is not registered for this application."
	noApps := signedIn
	noApps.Consent, noApps.Logout, noApps.Apps = &consentView{App: "Notes"}, &logoutView{}, nil
	out := []*pageData{bare, signedOut, &signedIn, &noApps}
	for _, topic := range []string{"reset", "change"} {
		d := *signedOut
		d.CheckFor = topic
		out = append(out, &d)
	}
	for _, form := range []string{"profile", "email", "password", "delete"} {
		d := signedIn
		d.Form = form
		out = append(out, &d)
	}
	return out
}

// Colours of the built-in stylesheet's surfaces, which derived shades are
// checked against (keep in step with assets/style.css).
var (
	lightSurfaces = []rgb{{0xff, 0xff, 0xff}, {0xf5, 0xf6, 0xf8}}
	darkSurfaces  = []rgb{{0x18, 0x1b, 0x21}, {0x0f, 0x11, 0x15}}
)

const defaultPrimary = "#4f46e5"

var hexColor = regexp.MustCompile(`^#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$`)

// scheme is the brand colours of one colour scheme.
type scheme struct {
	primary, onPrimary, accent rgb
	surfaces                   []rgb
}

// deriveSchemes derives, for light and dark, a button colour with 3:1
// contrast against the surfaces (WCAG 1.4.11), the text colour on it
// (4.5:1), and an accent for links with 4.5:1 against the surfaces (WCAG
// 1.4.3), each as close to the primary colour as allows.
func deriveSchemes(primary string) ([2]scheme, error) {
	if primary == "" {
		primary = defaultPrimary
	}
	if !hexColor.MatchString(primary) {
		return [2]scheme{}, fmt.Errorf("primary colour %q: use a hex colour like #4f46e5", primary)
	}
	p := parseHex(primary)
	derive := func(surfaces []rgb, toward rgb) scheme {
		button := reach(p, toward, surfaces, 3)
		return scheme{primary: button, onPrimary: onColor(button), accent: reach(p, toward, surfaces, 4.5), surfaces: surfaces}
	}
	return [2]scheme{derive(lightSurfaces, rgb{0, 0, 0}), derive(darkSurfaces, rgb{0xff, 0xff, 0xff})}, nil
}

// themeVariables writes the brand custom properties for both schemes.
func themeVariables(primary string) ([]byte, error) {
	schemes, err := deriveSchemes(primary)
	if err != nil {
		return nil, err
	}
	vars := func(s scheme) string {
		return fmt.Sprintf("--gh-primary:%s;--gh-on-primary:%s;--gh-accent:%s;", s.primary, s.onPrimary, s.accent)
	}
	return fmt.Appendf(nil, ":root{%s}\n@media (prefers-color-scheme: dark){:root{%s}}\n", vars(schemes[0]), vars(schemes[1])), nil
}

type rgb struct{ r, g, b uint8 }

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

func parseHex(s string) rgb {
	s = s[1:]
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	v, _ := strconv.ParseUint(s, 16, 32)
	return rgb{uint8(v >> 16), uint8(v >> 8), uint8(v)}
}

// luminance is the WCAG 2.2 relative luminance.
func (c rgb) luminance() float64 {
	ch := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
}

// contrast is the WCAG contrast ratio of a and b.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func mix(a, b rgb, t float64) rgb {
	m := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + (float64(y)-float64(x))*t)) }
	return rgb{m(a.r, b.r), m(a.g, b.g), m(a.b, b.b)}
}

// reach mixes c toward `toward` in small steps until it has at least ratio
// contrast against every surface.
func reach(c, toward rgb, surfaces []rgb, ratio float64) rgb {
	for t := 0.0; t <= 1; t += 0.02 {
		m := mix(c, toward, t)
		ok := true
		for _, s := range surfaces {
			if contrast(m, s) < ratio {
				ok = false
				break
			}
		}
		if ok {
			return m
		}
	}
	return toward
}

// onColor is black or white, whichever reads better on c (always ≥ 4.5:1).
func onColor(c rgb) rgb {
	black, white := rgb{0, 0, 0}, rgb{0xff, 0xff, 0xff}
	if contrast(c, white) >= contrast(c, black) {
		return white
	}
	return black
}
