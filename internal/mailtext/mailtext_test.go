package mailtext_test

import (
	"html"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/mailtext"
)

var allKinds = []string{
	mailtext.VerifyEmail,
	mailtext.PasswordReset,
	mailtext.AccountExists,
	mailtext.ConfirmEmailChange,
	mailtext.EmailInUse,
	mailtext.PasswordChanged,
	mailtext.EmailChanged,
	mailtext.NewDevice,
}

// full has every field set, with a Link whose query needs HTML escaping.
var full = mailtext.Data{
	Product:           "Gatehouse",
	Link:              "https://auth.example.com/auth/verify-email?token=AbC-_123&next=%2Faccount&x=y",
	ExpiresIn:         24 * time.Hour,
	SignInURL:         "https://auth.example.com/auth/sign-in",
	ForgotPasswordURL: "https://auth.example.com/auth/forgot-password",
	Time:              time.Date(2026, time.November, 27, 15, 4, 0, 0, time.UTC),
	Device:            "Firefox on Linux",
	IP:                "203.0.113.7",
}

// wantURLs is which URLs each kind must show, and no others.
var wantURLs = map[string][]string{
	mailtext.VerifyEmail:        {full.Link},
	mailtext.PasswordReset:      {full.Link},
	mailtext.AccountExists:      {full.SignInURL, full.ForgotPasswordURL},
	mailtext.ConfirmEmailChange: {full.Link},
	mailtext.EmailInUse:         {full.SignInURL},
	mailtext.PasswordChanged:    {full.ForgotPasswordURL},
	mailtext.EmailChanged:       nil,
	mailtext.NewDevice:          {full.ForgotPasswordURL},
}

var (
	urlRE  = regexp.MustCompile(`https?://\S+`)
	hrefRE = regexp.MustCompile(`href="([^"]*)"`)
)

func newSet(t testing.TB, override fs.FS) *mailtext.Set {
	t.Helper()
	s, err := mailtext.New(override)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func render(t *testing.T, s *mailtext.Set, locale, kind string, d mailtext.Data) mailtext.Rendered {
	t.Helper()
	r, err := s.Render(locale, kind, d)
	if err != nil {
		t.Fatalf("Render(%q, %q): %v", locale, kind, err)
	}
	return r
}

func hrefs(doc string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(doc, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestLocales(t *testing.T) {
	s := newSet(t, nil)
	if got, want := s.Locales(), []string{"en", "fr"}; !slices.Equal(got, want) {
		t.Fatalf("Locales() = %q, want %q", got, want)
	}
	s.Locales()[0] = "xx"
	if s.Locales()[0] != "en" {
		t.Fatal("Locales returned its internal slice")
	}
}

func TestRenderEveryKindInEveryLocale(t *testing.T) {
	s := newSet(t, nil)
	for _, locale := range s.Locales() {
		for _, kind := range allKinds {
			t.Run(locale+"/"+kind, func(t *testing.T) {
				r := render(t, s, locale, kind, full)
				if r.Subject == "" || strings.TrimSpace(r.Text) == "" || strings.TrimSpace(r.HTML) == "" {
					t.Fatalf("empty part: %+v", r)
				}
				if strings.ContainsAny(r.Subject, "\r\n") {
					t.Errorf("subject has a line break: %q", r.Subject)
				}
				if !strings.Contains(r.Subject, full.Product) {
					t.Errorf("subject %q does not name the product", r.Subject)
				}

				// Text: exactly the kind's URLs, each verbatim on its own line.
				want := wantURLs[kind]
				got := urlRE.FindAllString(r.Text, -1)
				slices.Sort(got)
				got = slices.Compact(got)
				sortedWant := slices.Sorted(slices.Values(want))
				if !slices.Equal(got, sortedWant) {
					t.Errorf("text URLs = %q, want %q\n%s", got, sortedWant, r.Text)
				}
				lines := strings.Split(r.Text, "\n")
				for _, u := range want {
					if !slices.Contains(lines, u) {
						t.Errorf("text does not have %q on a line of its own:\n%s", u, r.Text)
					}
				}
				if !strings.HasSuffix(r.Text, "\n") || strings.HasSuffix(r.Text, "\n\n") || strings.Contains(r.Text, "\n\n\n") {
					t.Errorf("text is not tidy: %q", r.Text)
				}
				if strings.Contains(r.Text, "\r") {
					t.Errorf("text has CR")
				}

				// HTML: links, language, heading, footer.
				hs := hrefs(r.HTML)
				for _, u := range want {
					if !slices.Contains(hs, u) {
						t.Errorf("HTML has no href for %q (hrefs %q)", u, hs)
					}
				}
				for _, h := range hs {
					if !slices.Contains(want, h) {
						t.Errorf("HTML links to unexpected %q", h)
					}
				}
				if !strings.Contains(r.HTML, `<html lang="`+locale+`">`) {
					t.Errorf("HTML lacks lang=%q", locale)
				}
				if !strings.Contains(r.HTML, ">"+full.Product+"</h1>") {
					t.Errorf("HTML lacks the product heading")
				}
				if !strings.Contains(r.HTML, "<title>"+html.EscapeString(r.Subject)+"</title>") {
					t.Errorf("HTML title is not the subject")
				}
				if strings.Contains(r.HTML, "ZgotmplZ") {
					t.Errorf("HTML has a value html/template refused")
				}
				if strings.Contains(r.HTML, "{{") || strings.Contains(r.Text, "{{") || strings.Contains(r.HTML, "<no value>") || strings.Contains(r.Text, "<no value>") {
					t.Errorf("unrendered template text")
				}
			})
		}
	}
}

func TestRenderShowsDetails(t *testing.T) {
	s := newSet(t, nil)
	tests := []struct {
		locale, kind string
		want         []string // in both parts
		notWant      []string // in neither part
	}{
		{"en", mailtext.VerifyEmail, []string{"24 hours"}, nil},
		{"fr", mailtext.VerifyEmail, []string{"24 heures"}, nil},
		{"en", mailtext.PasswordReset, []string{"24 hours", "your password is unchanged"}, nil},
		{"fr", mailtext.PasswordReset, []string{"24 heures", "votre mot de passe reste inchangé"}, nil},
		{"en", mailtext.ConfirmEmailChange, []string{"24 hours"}, nil},
		{"en", mailtext.PasswordChanged, []string{"27 November 2026 at 15:04 UTC"}, nil},
		{"fr", mailtext.PasswordChanged, []string{"27 novembre 2026 à 15:04 UTC"}, nil},
		{"en", mailtext.EmailChanged, []string{"27 November 2026 at 15:04 UTC", "support"}, []string{"https://"}},
		{"fr", mailtext.EmailChanged, []string{"27 novembre 2026 à 15:04 UTC", "assistance"}, []string{"https://"}},
		{"en", mailtext.NewDevice, []string{"27 November 2026 at 15:04 UTC", "Firefox on Linux", "203.0.113.7"}, nil},
		{"fr", mailtext.NewDevice, []string{"27 novembre 2026 à 15:04 UTC", "Firefox on Linux", "203.0.113.7"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.locale+"/"+tt.kind, func(t *testing.T) {
			r := render(t, s, tt.locale, tt.kind, full)
			for _, w := range tt.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, r.Text)
				}
				if !strings.Contains(r.HTML, html.EscapeString(w)) {
					t.Errorf("HTML lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				// The HTML part has no URL of its own other than hrefs.
				if strings.Contains(r.Text, w) || slices.ContainsFunc(hrefs(r.HTML), func(h string) bool { return strings.Contains(h, w) }) {
					t.Errorf("mail shows %q", w)
				}
			}
		})
	}
}

func TestNewDeviceOmitsUnknownDetails(t *testing.T) {
	s := newSet(t, nil)
	d := full
	d.Device, d.IP = "", ""
	for _, locale := range s.Locales() {
		r := render(t, s, locale, mailtext.NewDevice, d)
		for _, label := range []string{"Device", "Appareil", "IP"} {
			if strings.Contains(r.Text, label) || strings.Contains(r.HTML, ">"+label) {
				t.Errorf("%s: shows the %q label without a value:\n%s", locale, label, r.Text)
			}
		}
	}
}

func TestLinkRoundTrips(t *testing.T) {
	s := newSet(t, nil)
	link := "https://auth.example.com/auth/reset-password?token=a1B2_c3-d4&redirect_to=%2Faccount%3Ftab%3Dsecurity&x=1=2"
	d := full
	d.Link = link
	for _, locale := range s.Locales() {
		r := render(t, s, locale, mailtext.PasswordReset, d)
		if got := urlRE.FindAllString(r.Text, -1); !slices.Equal(got, []string{link}) {
			t.Errorf("%s: text URLs = %q, want exactly %q", locale, got, link)
		}
		escaped := `href="` + strings.ReplaceAll(link, "&", "&amp;") + `"`
		if !strings.Contains(r.HTML, escaped) {
			t.Errorf("%s: HTML lacks %s", locale, escaped)
		}
		if strings.Contains(r.HTML, "d4&redirect_to") {
			t.Errorf("%s: HTML has an unescaped &", locale)
		}
		hs := hrefs(r.HTML)
		if len(hs) == 0 {
			t.Fatalf("%s: no href", locale)
		}
		for _, h := range hs {
			if h != link {
				t.Errorf("%s: href unescapes to %q, want %q", locale, h, link)
			}
		}
		// The raw URL is also written out for clients that strip buttons.
		if !strings.Contains(r.HTML, ">"+strings.ReplaceAll(link, "&", "&amp;")+"</a>") {
			t.Errorf("%s: HTML does not write the URL out", locale)
		}
	}
}

func TestHTMLEscapesValues(t *testing.T) {
	s := newSet(t, nil)
	d := full
	d.Device = `<script>alert("x")</script>`
	d.IP = `"><img src=x onerror=alert(1)>`
	d.Product = `Acme <b>&</b>`
	for _, locale := range s.Locales() {
		r := render(t, s, locale, mailtext.NewDevice, d)
		for _, bad := range []string{"<script>", "<img", "<b>"} {
			if strings.Contains(r.HTML, bad) {
				t.Errorf("%s: HTML contains %q", locale, bad)
			}
		}
		if !strings.Contains(r.HTML, "&lt;script&gt;") {
			t.Errorf("%s: HTML does not show the escaped device", locale)
		}
		// The text part is not HTML: it shows values as they are.
		if !strings.Contains(r.Text, d.Device) {
			t.Errorf("%s: text altered the device", locale)
		}
	}
}

func TestRenderRefusesNonHTTPURLs(t *testing.T) {
	s := newSet(t, nil)
	for _, bad := range []string{"javascript:alert(1)", "/auth/verify", "https://", "https://x.example/a b", "data:text/html,hi"} {
		d := full
		d.Link = bad
		if _, err := s.Render("en", mailtext.VerifyEmail, d); err == nil || !strings.Contains(err.Error(), "Link") {
			t.Errorf("Link %q: err = %v, want a refusal naming Link", bad, err)
		}
		d = full
		d.SignInURL = bad
		if _, err := s.Render("en", mailtext.EmailInUse, d); err == nil || !strings.Contains(err.Error(), "SignInURL") {
			t.Errorf("SignInURL %q: err = %v, want a refusal naming SignInURL", bad, err)
		}
	}
	d := full
	d.Link = "http://localhost:8080/auth/verify-email?token=x" // development mode
	if _, err := s.Render("en", mailtext.VerifyEmail, d); err != nil {
		t.Errorf("development link refused: %v", err)
	}
}

func TestMatch(t *testing.T) {
	s := newSet(t, nil)
	tests := []struct{ header, want string }{
		{"fr-CA,fr;q=0.9,en;q=0.8", "fr"},
		{"fr", "fr"},
		{"fr-FR", "fr"},
		{"FR-be", "fr"},
		{"en-US,en;q=0.9", "en"},
		{"de", "en"},
		{"de-DE,fr;q=0.5", "fr"},
		{"de, en;q=0.1, fr;q=0.2", "fr"},
		{"fr;q=0, en", "en"},
		{"*", "en"},
		{"", "en"},
		{"   ", "en"},
		{"!!!garbage###", "en"},
		{"fr;q=abc", "en"},
		{"en-US,\x00fr", "en"},
		{strings.Repeat("x", 300), "en"},
		{"fr," + strings.Repeat("de;q=0.1,", 40), "en"}, // over 256 bytes: ignored
	}
	for _, tt := range tests {
		if got := s.Match(tt.header); got != tt.want {
			t.Errorf("Match(%.40q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestUnknownLocaleFallsBackToEnglish(t *testing.T) {
	s := newSet(t, nil)
	en := render(t, s, "en", mailtext.VerifyEmail, full)
	for _, locale := range []string{"de", "", "fr-CA", "../fr"} {
		if got := render(t, s, locale, mailtext.VerifyEmail, full); got != en {
			t.Errorf("Render(%q) differs from English", locale)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	s := newSet(t, nil)
	without := func(f func(*mailtext.Data)) mailtext.Data {
		d := full
		f(&d)
		return d
	}
	tests := []struct {
		name, kind string
		d          mailtext.Data
		want       string
	}{
		{"unknown kind", "welcome", full, `unknown kind "welcome"`},
		{"empty kind", "", full, "unknown kind"},
		{"no product", mailtext.PasswordChanged, without(func(d *mailtext.Data) { d.Product = " " }), "Product"},
		{"no link", mailtext.VerifyEmail, without(func(d *mailtext.Data) { d.Link = "" }), "Link"},
		{"no expiry", mailtext.PasswordReset, without(func(d *mailtext.Data) { d.ExpiresIn = 0 }), "ExpiresIn"},
		{"no sign-in URL", mailtext.EmailInUse, without(func(d *mailtext.Data) { d.SignInURL = "" }), "SignInURL"},
		{"no forgot URL", mailtext.AccountExists, without(func(d *mailtext.Data) { d.ForgotPasswordURL = "" }), "ForgotPasswordURL"},
		{"no time", mailtext.NewDevice, without(func(d *mailtext.Data) { d.Time = time.Time{} }), "Time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Render("en", tt.kind, tt.d)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// localeFiles returns a copy of the embedded locale folder from as folder to,
// read from the package's templates directory.
func localeFiles(t *testing.T, from, to string, except ...string) fstest.MapFS {
	t.Helper()
	entries, err := os.ReadDir(path.Join("templates", from))
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	for _, e := range entries {
		if slices.Contains(except, e.Name()) {
			continue
		}
		b, err := os.ReadFile(path.Join("templates", from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[path.Join(to, e.Name())] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestOverrideReplacesFile(t *testing.T) {
	custom := `{{define "subject"}}Reset for {{.Product}}{{end}}{{define "body"}}Custom body, link:
{{.Link}}
{{end}}`
	for _, prefix := range []string{"", "templates/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			s := newSet(t, fstest.MapFS{prefix + "en/password_reset.txt": {Data: []byte(custom)}})
			r := render(t, s, "en", mailtext.PasswordReset, full)
			if r.Subject != "Reset for Gatehouse" {
				t.Errorf("subject = %q", r.Subject)
			}
			if want := "Custom body, link:\n" + full.Link + "\n"; r.Text != want {
				t.Errorf("text = %q, want %q", r.Text, want)
			}
			// The HTML part and other locales keep the embedded text.
			if !strings.Contains(r.HTML, "Choose a new password") {
				t.Error("HTML part changed too")
			}
			if fr := render(t, s, "fr", mailtext.PasswordReset, full); !strings.Contains(fr.Text, "Bonjour") {
				t.Error("French changed too")
			}
		})
	}
}

func TestOverrideReplacesLayout(t *testing.T) {
	layout := `<!DOCTYPE html><html lang="{{.Lang}}"><body><p>OPERATOR LAYOUT {{.Product}}</p>{{template "body" .}}</body></html>{{define "button"}}<a href="{{.URL}}">{{.Label}}</a>{{end}}`
	s := newSet(t, fstest.MapFS{"fr/layout.html": {Data: []byte(layout)}})
	r := render(t, s, "fr", mailtext.VerifyEmail, full)
	if !strings.Contains(r.HTML, "OPERATOR LAYOUT Gatehouse") || !strings.Contains(r.HTML, "Vérifier mon adresse e-mail") {
		t.Errorf("layout not replaced:\n%s", r.HTML)
	}
	if en := render(t, s, "en", mailtext.VerifyEmail, full); strings.Contains(en.HTML, "OPERATOR") {
		t.Error("English layout changed too")
	}
}

func TestOverrideAddsLocale(t *testing.T) {
	s := newSet(t, localeFiles(t, "en", "de"))
	if got, want := s.Locales(), []string{"de", "en", "fr"}; !slices.Equal(got, want) {
		t.Fatalf("Locales() = %q, want %q", got, want)
	}
	if got := s.Match("de-AT,de;q=0.9"); got != "de" {
		t.Errorf("Match(de-AT) = %q, want de", got)
	}
	if got := s.Match("fr-CA,fr;q=0.9,en;q=0.8"); got != "fr" {
		t.Errorf("Match(fr-CA) = %q, want fr", got)
	}
	// A language this package has no words for gets neutral formats.
	d := full
	d.ExpiresIn = 90 * time.Minute
	r := render(t, s, "de", mailtext.PasswordReset, d)
	if !strings.Contains(r.Text, "1 h 30 min") || !strings.Contains(r.HTML, `lang="de"`) {
		t.Errorf("neutral duration or lang missing:\n%s", r.Text)
	}
	r = render(t, s, "de", mailtext.PasswordChanged, d)
	if !strings.Contains(r.Text, "2026-11-27 15:04 UTC") {
		t.Errorf("neutral date missing:\n%s", r.Text)
	}
}

func TestNewFails(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name     string
		override fstest.MapFS
		want     []string // substrings of the error
	}{
		{
			name:     "new locale missing a kind's HTML",
			override: localeFiles(t, "en", "de", "new_device.html"),
			want:     []string{"de/new_device.html", "missing"},
		},
		{
			name:     "new locale missing a kind's text",
			override: localeFiles(t, "en", "pt-BR", "password_reset.txt"),
			want:     []string{"pt-BR/password_reset.txt"},
		},
		{
			name:     "new locale missing the layout",
			override: localeFiles(t, "en", "de", "layout.html"),
			want:     []string{"de/layout.html"},
		},
		{
			name:     "new locale with only a stray file",
			override: fstest.MapFS{"es/.keep": {}},
			want:     []string{"es/layout.html", "missing"},
		},
		{
			name:     "text parse error",
			override: fstest.MapFS{"en/verify_email.txt": file(`{{define "subject"}}{{.Product}{{end}}`)},
			want:     []string{"en/verify_email.txt", "override"},
		},
		{
			name:     "HTML parse error",
			override: fstest.MapFS{"fr/account_exists.html": file(`{{define "body"}}{{if}}{{end}}`)},
			want:     []string{"fr/account_exists.html"},
		},
		{
			name:     "layout parse error",
			override: fstest.MapFS{"en/layout.html": file(`{{template "body" .}`)},
			want:     []string{"en/layout.html"},
		},
		{
			name:     "unknown function",
			override: fstest.MapFS{"en/verify_email.txt": file(`{{define "subject"}}{{shout .Product}}{{end}}{{define "body"}}{{.Link}}{{end}}`)},
			want:     []string{"en/verify_email.txt", "shout"},
		},
		{
			name:     "unknown field",
			override: fstest.MapFS{"en/verify_email.txt": file(`{{define "subject"}}{{.Prodcut}}{{end}}{{define "body"}}{{.Link}}{{end}}`)},
			want:     []string{"en/verify_email.txt", "Prodcut"},
		},
		{
			name:     "no subject",
			override: fstest.MapFS{"en/verify_email.txt": file(`{{define "body"}}{{.Link}}{{end}}`)},
			want:     []string{"en/verify_email.txt", `"subject"`},
		},
		{
			name:     "empty subject",
			override: fstest.MapFS{"en/verify_email.txt": file("{{define \"subject\"}} \n {{end}}{{define \"body\"}}\n{{.Link}}\n{{end}}")},
			want:     []string{"en/verify_email.txt", "empty subject"},
		},
		{
			name:     "HTML without body",
			override: fstest.MapFS{"en/verify_email.html": file(`{{define "content"}}<p>hi</p>{{end}}`)},
			want:     []string{"en/verify_email.html", `"body"`},
		},
		{
			name:     "text without the link",
			override: fstest.MapFS{"en/verify_email.txt": file(`{{define "subject"}}Verify{{end}}{{define "body"}}Click the button.{{end}}`)},
			want:     []string{"en/verify_email.txt", "URL"},
		},
		{
			name:     "text with the link glued to words",
			override: fstest.MapFS{"en/verify_email.txt": file(`{{define "subject"}}Verify{{end}}{{define "body"}}Open {{.Link}} now.{{end}}`)},
			want:     []string{"en/verify_email.txt", "line of its own"},
		},
		{
			name:     "HTML without the link",
			override: fstest.MapFS{"en/password_reset.html": file(`{{define "body"}}<p>Check the text part.</p>{{end}}`)},
			want:     []string{"en/password_reset.html", "URL"},
		},
		{
			name:     "misspelt file",
			override: fstest.MapFS{"en/pasword_reset.txt": file(`x`)},
			want:     []string{"en/pasword_reset.txt", "unexpected"},
		},
		{
			name:     "locale folder that is not a tag",
			override: fstest.MapFS{"fr_FR/verify_email.txt": file(`x`)},
			want:     []string{`"fr_FR"`, "BCP 47"},
		},
		{
			name:     "locale folder not in canonical form",
			override: localeFiles(t, "fr", "FR"),
			want:     []string{`"FR"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mailtext.New(tt.override)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestOverrideIgnoresStrayFiles(t *testing.T) {
	newSet(t, fstest.MapFS{
		"README.md":          {Data: []byte("our mail templates")},
		".git/config":        {Data: []byte("[core]")},
		"en/.DS_Store":       {Data: []byte{0}},
		"fr/.verify.txt.swp": {Data: []byte{0}},
	})
}

func TestSubjectIsOneLine(t *testing.T) {
	tests := []struct {
		name, subject string
		product       string
		want          string
	}{
		{"template CRLF", "Hello\r\nBcc: victim@example.com", "Gatehouse", "Hello Bcc: victim@example.com"},
		{"template LF and tabs", "\n\tReset your\n\t{{.Product}}\n\tpassword\n", "Gatehouse", "Reset your Gatehouse password"},
		{"value with newline", "Reset your {{.Product}} password", "Gate\r\nX-Injected: 1", "Reset your Gate X-Injected: 1 password"},
		{"unicode separators", "A\u2028B\u2029C\u0085D", "Gatehouse", "A B C D"},
		{"no-break space kept", "Gatehouse\u00a0: réinitialisation", "Gatehouse", "Gatehouse\u00a0: réinitialisation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := `{{define "subject"}}` + tt.subject + `{{end}}{{define "body"}}{{.Link}}{{end}}`
			s := newSet(t, fstest.MapFS{"en/password_reset.txt": {Data: []byte(tmpl)}})
			d := full
			d.Product = tt.product
			r := render(t, s, "en", mailtext.PasswordReset, d)
			if r.Subject != tt.want {
				t.Errorf("subject = %q, want %q", r.Subject, tt.want)
			}
			if strings.ContainsAny(r.Subject, "\r\n") || strings.ContainsAny(r.HTML[strings.Index(r.HTML, "<title>"):strings.Index(r.HTML, "</title>")], "\r\n") {
				t.Errorf("line break survived")
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newSet(t, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				locale := s.Locales()[(i+j)%2]
				kind := allKinds[(i+j)%len(allKinds)]
				if _, err := s.Render(locale, kind, full); err != nil {
					t.Error(err)
					return
				}
				if got := s.Match("fr-CA,fr;q=0.9"); got != "fr" {
					t.Errorf("Match = %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
