package mailtext

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"

	"golang.org/x/text/language"
)

// Kinds of mail. The value of each constant is the base name of its
// template files (verify_email.txt, verify_email.html).
const (
	// VerifyEmail carries a link to verify the address (Link, ExpiresIn).
	VerifyEmail = "verify_email"
	// PasswordReset carries a link to choose a new password (Link,
	// ExpiresIn) and says that, if the reader did not ask, the password is
	// unchanged.
	PasswordReset = "password_reset"
	// AccountExists tells the owner of an address that someone tried to
	// sign up with it: sign in at SignInURL, or reset the password at
	// ForgotPasswordURL; if it was not them, there is nothing to do.
	AccountExists = "account_exists"
	// ConfirmEmailChange is sent to the NEW address: a link to confirm
	// using it for the account (Link, ExpiresIn).
	ConfirmEmailChange = "email_change"
	// EmailInUse is sent to an address someone asked to move an existing
	// account to, when that address already has its own account: nothing
	// changed; sign in at SignInURL.
	EmailInUse = "email_in_use"
	// PasswordChanged notices that the password was changed at Time; if it
	// was not the reader, reset it at ForgotPasswordURL.
	PasswordChanged = "password_changed"
	// EmailChanged notices, to the OLD address, that the account's address
	// was changed at Time. It never shows the new address. It tells the
	// reader to contact support if it was not them; it does not offer a
	// password reset, which would now go to the new address.
	EmailChanged = "email_changed"
	// NewDevice notices a sign-in at Time from a new Device and IP (both
	// optional); if it was not the reader, reset at ForgotPasswordURL.
	NewDevice = "new_device"
)

// need is the set of Data fields a kind cannot do without.
type need uint8

const (
	needLink need = 1 << iota
	needExpiresIn
	needSignIn
	needForgot
	needTime
)

// kinds lists every kind with what it needs. Render refuses Data that lacks
// one of these (a mail with an empty link is a bug, not a mail), and New
// checks that every template shows the URLs among them.
var kinds = map[string]need{
	VerifyEmail:        needLink | needExpiresIn,
	PasswordReset:      needLink | needExpiresIn,
	AccountExists:      needSignIn | needForgot,
	ConfirmEmailChange: needLink | needExpiresIn,
	EmailInUse:         needSignIn,
	PasswordChanged:    needTime | needForgot,
	EmailChanged:       needTime,
	NewDevice:          needTime | needForgot,
}

// fallback is the locale used when nothing better is known. It must exist.
const fallback = "en"

// layoutFile is the per-locale HTML document that wraps each kind's "body".
const layoutFile = "layout.html"

// maxAcceptLanguage bounds the Accept-Language header Match will parse;
// anything longer is ignored rather than parsed.
const maxAcceptLanguage = 256

//go:embed templates
var embedded embed.FS

// Data is what a template may show. Every field is produced by Gatehouse
// itself (config, our own links, fixed vocabularies); none is text chosen by
// whoever triggered the mail.
type Data struct {
	Product           string        // product name from configuration, e.g. "Gatehouse"
	Link              string        // the action link (verify, reset, confirm), absolute https URL
	ExpiresIn         time.Duration // how long Link works
	SignInURL         string
	ForgotPasswordURL string
	Time              time.Time // when the event happened (UTC)
	Device            string    // "Firefox on Linux" (fixed vocabulary)
	IP                string
}

// Rendered is one mail in one language. Subject is a single line with no
// CR or LF; Text is the plain-text part (LF line endings, ending with a
// newline); HTML is a complete HTML document.
type Rendered struct{ Subject, Text, HTML string }

// Set is a parsed set of templates for every kind in one or more locales.
// It is immutable once New returns; all its methods are safe for concurrent
// use.
type Set struct {
	locales []string           // sorted
	byName  map[string]*locale // by folder name
	matcher language.Matcher   // supported tags: fallback first, then the others
	matched []string           // folder name for each matcher index
}

type locale struct {
	name  string
	mails map[string]mail
}

type mail struct {
	text     *texttemplate.Template // defines "subject" and "body"
	html     *htmltemplate.Template // layout plus the kind's "body"
	htmlRoot string                 // name of the layout's top-level template
}

// view is what templates execute on: Data plus what the package adds.
type view struct {
	Data
	Lang    string // locale folder name, for <html lang>
	Subject string // the rendered subject, for <title>; empty while rendering it
}

// source is one template file and where it came from, for error messages.
type source struct {
	text   string
	origin string // "embedded" or "override"
}

// New parses the embedded templates, then those in override (may be nil): a file in override
// with the same path replaces the embedded one; new locale folders add languages. Every locale
// must provide every kind (text and HTML) — otherwise New fails naming the missing file; "en"
// must exist. Templates that fail to parse fail New with the file name.
//
// Paths in override are {locale}/{file} ("fr/verify_email.txt",
// "fr/layout.html"); an override whose root holds a "templates" folder is
// read from that folder instead, so a copy of this package's templates tree
// works as is. Files at the root and names starting with "." are ignored; a
// locale folder that is not a canonical BCP 47 tag, or a file in a locale
// folder that is not a known template, fails New, so a misspelt override
// cannot be silently ignored.
//
// New also renders every kind in every locale with sample values and fails,
// naming the file, if a template does not execute, yields an empty subject
// or body, or does not show the URLs its kind needs (in the text part each
// on a line of its own).
func New(override fs.FS) (*Set, error) {
	files := make(map[string]map[string]source)
	base, err := fs.Sub(embedded, "templates")
	if err != nil {
		return nil, fmt.Errorf("mailtext: embedded templates: %w", err)
	}
	if err := collect(files, base, "embedded"); err != nil {
		return nil, err
	}
	if override != nil {
		if fi, err := fs.Stat(override, "templates"); err == nil && fi.IsDir() {
			if override, err = fs.Sub(override, "templates"); err != nil {
				return nil, fmt.Errorf("mailtext: override: %w", err)
			}
		}
		if err := collect(files, override, "override"); err != nil {
			return nil, err
		}
	}
	if _, ok := files[fallback]; !ok {
		return nil, fmt.Errorf("mailtext: locale %q is missing", fallback)
	}

	s := &Set{byName: make(map[string]*locale, len(files))}
	for name := range files {
		s.locales = append(s.locales, name)
	}
	slices.Sort(s.locales)
	for _, name := range s.locales {
		loc, err := parseLocale(name, files[name])
		if err != nil {
			return nil, err
		}
		s.byName[name] = loc
	}

	// The matcher's first tag is its default, so the fallback goes first.
	tags := []language.Tag{language.Make(fallback)}
	s.matched = []string{fallback}
	for _, name := range s.locales {
		if name != fallback {
			tags = append(tags, language.Make(name)) // validated by collect
			s.matched = append(s.matched, name)
		}
	}
	s.matcher = language.NewMatcher(tags)

	for _, name := range s.locales {
		for _, kind := range sortedKinds() {
			if err := s.check(name, kind); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// collect reads the locale folders of fsys into files, replacing files of
// the same path.
func collect(files map[string]map[string]source, fsys fs.FS, origin string) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("mailtext: %s templates: %w", origin, err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !e.IsDir() {
			continue
		}
		tag, err := language.Parse(name)
		if err != nil || tag == language.Und || tag.String() != name {
			return fmt.Errorf("mailtext: %s templates: folder %q is not a canonical BCP 47 language tag (like \"fr\" or \"pt-BR\")", origin, name)
		}
		inner, err := fs.ReadDir(fsys, name)
		if err != nil {
			return fmt.Errorf("mailtext: %s templates: %w", origin, err)
		}
		if files[name] == nil {
			// Even an empty folder declares a locale, which must then be
			// complete: a half-added language fails loudly.
			files[name] = make(map[string]source)
		}
		for _, f := range inner {
			p := path.Join(name, f.Name())
			if strings.HasPrefix(f.Name(), ".") {
				continue
			}
			if f.IsDir() || !knownFile(f.Name()) {
				return fmt.Errorf("mailtext: %s templates: unexpected %s (a locale holds %s and, for each kind, {kind}.txt and {kind}.html)", origin, p, layoutFile)
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return fmt.Errorf("mailtext: %s templates: %w", origin, err)
			}
			files[name][f.Name()] = source{text: string(b), origin: origin}
		}
	}
	return nil
}

func knownFile(name string) bool {
	if name == layoutFile {
		return true
	}
	kind, ext, ok := strings.Cut(name, ".")
	_, known := kinds[kind]
	return ok && known && (ext == "txt" || ext == "html")
}

// parseLocale parses every template of one locale.
func parseLocale(name string, files map[string]source) (*locale, error) {
	get := func(file string) (source, string, error) {
		p := path.Join(name, file)
		src, ok := files[file]
		if !ok {
			return source{}, p, fmt.Errorf("mailtext: locale %q is missing %s", name, p)
		}
		return src, p, nil
	}
	fail := func(p string, src source, err error) error {
		return fmt.Errorf("mailtext: %s (%s): %w", p, src.origin, err)
	}

	funcs := funcsFor(name)
	htmlFuncs := htmltemplate.FuncMap{"action": newAction}
	for k, v := range funcs {
		htmlFuncs[k] = v
	}

	lsrc, lpath, err := get(layoutFile)
	if err != nil {
		return nil, err
	}
	layout, err := htmltemplate.New(lpath).Funcs(htmlFuncs).Parse(lsrc.text)
	if err != nil {
		return nil, fail(lpath, lsrc, err)
	}

	loc := &locale{name: name, mails: make(map[string]mail, len(kinds))}
	for _, kind := range sortedKinds() {
		tsrc, tpath, err := get(kind + ".txt")
		if err != nil {
			return nil, err
		}
		hsrc, hpath, err := get(kind + ".html")
		if err != nil {
			return nil, err
		}

		text, err := texttemplate.New(tpath).Funcs(funcs).Parse(tsrc.text)
		if err != nil {
			return nil, fail(tpath, tsrc, err)
		}
		for _, def := range []string{"subject", "body"} {
			if text.Lookup(def) == nil {
				return nil, fail(tpath, tsrc, fmt.Errorf("does not define %q", def))
			}
		}

		// Parse the kind's file on its own first, so that a "body" it
		// forgot to define cannot be supplied by the layout unnoticed.
		alone, err := htmltemplate.New(hpath).Funcs(htmlFuncs).Parse(hsrc.text)
		if err != nil {
			return nil, fail(hpath, hsrc, err)
		}
		if alone.Lookup("body") == nil {
			return nil, fail(hpath, hsrc, errors.New(`does not define "body"`))
		}
		html, err := layout.Clone()
		if err != nil {
			return nil, fail(lpath, lsrc, err)
		}
		if _, err := html.New(hpath).Parse(hsrc.text); err != nil {
			return nil, fail(hpath, hsrc, err)
		}
		loc.mails[kind] = mail{text: text, html: html, htmlRoot: lpath}
	}
	return loc, nil
}

func sortedKinds() []string {
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Locales returns the supported locales, sorted, e.g. ["en", "fr"]. The
// slice is a copy.
func (s *Set) Locales() []string { return slices.Clone(s.locales) }

// Match returns the best supported locale for an Accept-Language header value
// (golang.org/x/text/language ParseAcceptLanguage + NewMatcher), "en" when nothing matches or
// the header is malformed or absurdly long (> 256 bytes: ignore it).
func (s *Set) Match(acceptLanguage string) string {
	if acceptLanguage == "" || len(acceptLanguage) > maxAcceptLanguage {
		return fallback
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return fallback
	}
	_, i, conf := s.matcher.Match(tags...)
	if conf == language.No || i < 0 || i >= len(s.matched) {
		return fallback
	}
	return s.matched[i]
}

// Render renders kind in locale (falling back to "en" for an unknown locale). Unknown kind → error.
//
// locale is a folder name as returned by Match or Locales ("fr", not
// "fr-FR"). Render also fails when d lacks a field the kind cannot do
// without (Product always; Link and a positive ExpiresIn for the link
// kinds; SignInURL, ForgotPasswordURL or Time where the kind shows them), or
// when a URL field is set but is not an absolute http(s) URL, so that a mail
// with an empty or dead link is never produced.
func (s *Set) Render(locale, kind string, d Data) (Rendered, error) {
	needs, ok := kinds[kind]
	if !ok {
		return Rendered{}, fmt.Errorf("mailtext: unknown kind %q", kind)
	}
	if err := validate(kind, needs, d); err != nil {
		return Rendered{}, err
	}
	loc, ok := s.byName[locale]
	if !ok {
		loc = s.byName[fallback]
	}
	return loc.render(kind, d)
}

func validate(kind string, needs need, d Data) error {
	var missing []string
	if strings.TrimSpace(d.Product) == "" {
		missing = append(missing, "Product")
	}
	if needs&needLink != 0 && d.Link == "" {
		missing = append(missing, "Link")
	}
	if needs&needExpiresIn != 0 && d.ExpiresIn <= 0 {
		missing = append(missing, "ExpiresIn")
	}
	if needs&needSignIn != 0 && d.SignInURL == "" {
		missing = append(missing, "SignInURL")
	}
	if needs&needForgot != 0 && d.ForgotPasswordURL == "" {
		missing = append(missing, "ForgotPasswordURL")
	}
	if needs&needTime != 0 && d.Time.IsZero() {
		missing = append(missing, "Time")
	}
	if len(missing) > 0 {
		return fmt.Errorf("mailtext: %s mail needs %s", kind, strings.Join(missing, ", "))
	}
	for _, f := range []struct{ name, value string }{
		{"Link", d.Link}, {"SignInURL", d.SignInURL}, {"ForgotPasswordURL", d.ForgotPasswordURL},
	} {
		if f.value != "" && !absoluteHTTP(f.value) {
			// html/template would turn it into "#ZgotmplZ": a dead button.
			return fmt.Errorf("mailtext: %s mail: %s is not an absolute http(s) URL", kind, f.name)
		}
	}
	return nil
}

// absoluteHTTP reports whether s is an absolute http or https URL with a
// host and no whitespace (which would end the link in the text part).
func absoluteHTTP(s string) bool {
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (l *locale) render(kind string, d Data) (Rendered, error) {
	m := l.mails[kind]
	v := view{Data: d, Lang: l.name}
	var buf bytes.Buffer

	if err := m.text.ExecuteTemplate(&buf, "subject", v); err != nil {
		return Rendered{}, fmt.Errorf("mailtext: %s subject: %w", m.text.Name(), err)
	}
	subject := oneLine(buf.String())
	if subject == "" {
		return Rendered{}, fmt.Errorf("mailtext: %s: empty subject", m.text.Name())
	}
	v.Subject = subject

	buf.Reset()
	if err := m.text.ExecuteTemplate(&buf, "body", v); err != nil {
		return Rendered{}, fmt.Errorf("mailtext: %s body: %w", m.text.Name(), err)
	}
	text := tidyText(buf.String())
	if strings.TrimSpace(text) == "" {
		return Rendered{}, fmt.Errorf("mailtext: %s: empty body", m.text.Name())
	}

	buf.Reset()
	if err := m.html.ExecuteTemplate(&buf, m.htmlRoot, v); err != nil {
		return Rendered{}, fmt.Errorf("mailtext: %s/%s.html: %w", l.name, kind, err)
	}
	html := strings.TrimSpace(buf.String())
	if html == "" {
		return Rendered{}, fmt.Errorf("mailtext: %s/%s.html: empty document", l.name, kind)
	}
	return Rendered{Subject: subject, Text: text, HTML: html + "\n"}, nil
}

// sample is the Data New renders every template with. The URLs contain no
// character that HTML escaping changes, so their presence can be checked
// verbatim in both parts.
var sample = Data{
	Product:           "Sample Product",
	Link:              "https://example.com/mailtext-sample/link",
	ExpiresIn:         90 * time.Minute,
	SignInURL:         "https://example.com/mailtext-sample/sign-in",
	ForgotPasswordURL: "https://example.com/mailtext-sample/forgot-password",
	Time:              time.Date(2026, time.November, 27, 15, 4, 0, 0, time.UTC),
	Device:            "Firefox on Linux",
	IP:                "192.0.2.1",
}

// check renders kind in locale name with sample data and verifies the
// result shows what the kind needs.
func (s *Set) check(name, kind string) error {
	r, err := s.byName[name].render(kind, sample)
	if err != nil {
		return err
	}
	needs := kinds[kind]
	var urls []string
	if needs&needLink != 0 {
		urls = append(urls, sample.Link)
	}
	if needs&needSignIn != 0 {
		urls = append(urls, sample.SignInURL)
	}
	if needs&needForgot != 0 {
		urls = append(urls, sample.ForgotPasswordURL)
	}
	lines := strings.Split(r.Text, "\n")
	for _, u := range urls {
		if !slices.Contains(lines, u) {
			return fmt.Errorf("mailtext: %s/%s.txt: body does not show a needed URL on a line of its own", name, kind)
		}
		if !strings.Contains(r.HTML, `href="`+u+`"`) && !strings.Contains(r.HTML, `href='`+u+`'`) {
			return fmt.Errorf("mailtext: %s/%s.html: body does not link to a needed URL", name, kind)
		}
	}
	return nil
}

// oneLine makes s safe as a mail subject: every control character (CR, LF,
// tab, NEL…) and Unicode line or paragraph separator becomes a space, runs
// of spaces become one, and the ends are trimmed. Other spaces, such as
// the no-break spaces of French typography, are kept.
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		if r == ' ' {
			if !space {
				b.WriteRune(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// tidyText normalizes a rendered plain-text body so that templates can be
// laid out for readability: LF line endings, no trailing spaces or tabs, no
// leading or trailing blank lines, at most one blank line in a row, and a
// final newline.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var out []string
	blank := true // drops leading blank lines
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			if !blank {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, line)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}
