package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The hosted pages in a real browser, as a user meets them: a whole
// journey through the example app, the keyboard alone, accessibility
// (axe-core) and layout stability, screenshots for review, and branding.

// TestBrowserUIJourney walks a newcomer through the notes example (built,
// and run on a free port with a data directory it creates), with
// JavaScript disabled and mail read from the development mailbox page like
// a person: sign up, verify, use the app, end a second session (signed in
// through the JSON API) from the account page, change the password, sign
// out through the confirmation page, forget the password, reset it, and
// sign in again.
func TestBrowserUIJourney(t *testing.T) {
	bin := buildNotes(t)
	ctx := browser(t)
	base := startNotes(t, bin)
	mail := newUser(t, base) // reads the mailbox's JSON to know which message to open
	seen := map[string]bool{}
	const name, email = "Ada", "ada@example.com"
	const password, changed, reset = "correct horse battery staple", "a brand new passphrase", "yet another passphrase"
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	en := func(key string) string { return catalogText(t, "en", key) }
	hello := chromedp.Search(`//p[starts-with(normalize-space(.), "Hello ")]`)

	// openMail opens the development mailbox, the newest message of kind to
	// email, and its link to page, the way a person reads mail.
	openMail := func(kind, page string) {
		t.Helper()
		m := mail.readMail(kind, email, seen)
		item := css(`a[href="/auth/dev/mailbox/` + m.ID + `"]`)
		step(t, ctx, "open the mailbox", chromedp.Navigate(base+"/auth/dev/mailbox"), chromedp.WaitVisible(item))
		link := css(`a[href^="` + base + `/auth` + page + `?token="]`)
		step(t, ctx, "open the "+kind+" message", chromedp.Click(item), chromedp.WaitVisible(link))
		if h := text(t, ctx, "h1"); h != m.Subject {
			t.Fatalf("the message page is titled %q, want the subject %q", h, m.Subject)
		}
		step(t, ctx, "follow the "+kind+" link", chromedp.Click(link), waitAt(base+"/auth"+page), chromedp.WaitVisible(css(`form[action="/auth`+page+`"] button`)))
	}

	step(t, ctx, "open the app", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css(`a[href*="/auth/sign-up"]`)))
	step(t, ctx, "go to sign-up", chromedp.Click(css(`a[href*="/auth/sign-up"]`)), chromedp.WaitVisible(css("#name")))
	if h := text(t, ctx, "h1"); h != en("sign-up.title") {
		t.Fatalf("sign-up heading %q", h)
	}
	// Development mode verifies email optionally: sign-up signs in at once.
	step(t, ctx, "sign up",
		chromedp.SendKeys(css("#name"), name),
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#password"), password),
		chromedp.Submit(css("#password")),
		waitAt(base+"/app/"),
		chromedp.WaitVisible(hello),
	)
	if s := text(t, ctx, "p"); !strings.Contains(s, "Hello "+name) {
		t.Fatalf("the app greets %q", s)
	}

	openMail("verify_email", "/verify-email")
	if h := text(t, ctx, "h1"); h != en("verify-email.title") {
		t.Fatalf("verify page heading %q", h)
	}
	step(t, ctx, "verify the address",
		chromedp.Click(css(`form[action="/auth/verify-email"] button`)),
		waitAt(base+"/auth/account?notice=email_verified"),
		chromedp.WaitVisible(css(`[role="status"]`)),
	)
	if s := text(t, ctx, `[role="status"]`); s != en("notice.email_verified") {
		t.Fatalf("notice after verifying: %q", s)
	}
	if s := text(t, ctx, "dd#email"); !strings.Contains(s, email) || !strings.Contains(s, en("account.verified")) || strings.Contains(s, en("account.not_verified")) {
		t.Fatalf("account email after verifying: %q", s)
	}
	step(t, ctx, "back to the app", chromedp.Navigate(base+"/app/"), chromedp.WaitVisible(hello))
	if s := text(t, ctx, "p"); !strings.Contains(s, "Hello "+name) {
		t.Fatalf("the app greets %q", s)
	}

	// A second session, from another client, ended from the account page.
	other := newUser(t, base)
	var signedIn struct {
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	r := other.api("POST", "/auth/api/sign-in", `{"email":"`+email+`","password":"`+password+`"}`, 200, "")
	if err := json.Unmarshal([]byte(r.body), &signedIn); err != nil || signedIn.Session.ID == "" {
		t.Fatalf("sign-in answer %s: %v", r.body, err)
	}
	other.api("GET", "/auth/api/session", "", 200, "")
	revoke := css(`form[action="/auth/account/sessions/` + signedIn.Session.ID + `/revoke"] button`)
	step(t, ctx, "open the account", chromedp.Navigate(base+"/auth/account"), chromedp.WaitVisible(revoke))
	if n := evaluate[int](t, ctx, `document.querySelectorAll("#sessions .sessions > li").length`); n != 2 {
		t.Fatalf("the account lists %d sessions, want 2", n)
	}
	if s := text(t, ctx, "#sessions .sessions"); !strings.Contains(s, en("account.sessions.this_device")) {
		t.Fatalf("sessions list: %q", s)
	}
	step(t, ctx, "sign the other device out",
		chromedp.Click(revoke),
		waitAt(base+"/auth/account?notice=sessions_revoked#sessions"),
		chromedp.WaitVisible(css(`[role="status"]`)),
	)
	if s := text(t, ctx, `[role="status"]`); s != en("notice.sessions_revoked") {
		t.Fatalf("notice after revoking: %q", s)
	}
	if n := evaluate[int](t, ctx, `document.querySelectorAll("#sessions .sessions > li").length`); n != 1 {
		t.Fatalf("the account lists %d sessions after revoking, want 1", n)
	}
	other.api("GET", "/auth/api/session", "", 401, "")

	step(t, ctx, "change the password",
		chromedp.SendKeys(css("#current-password"), password),
		chromedp.SendKeys(css("#new-password"), changed),
		chromedp.Submit(css("#new-password")),
		waitAt(base+"/auth/account?notice=password_changed"),
		chromedp.WaitVisible(css(`[role="status"]`)),
	)
	if s := text(t, ctx, `[role="status"]`); s != en("notice.password_changed") {
		t.Fatalf("notice after changing the password: %q", s)
	}

	step(t, ctx, "open the sign-out page", chromedp.Navigate(base+"/auth/sign-out"), chromedp.WaitVisible(css(`form[action="/auth/sign-out"] button`)))
	if h := text(t, ctx, "h1"); h != en("sign-out.title") {
		t.Fatalf("sign-out heading %q", h)
	}
	if s := text(t, ctx, "main"); !strings.Contains(s, email) {
		t.Fatalf("the sign-out page does not say who is signed in: %q", s)
	}
	step(t, ctx, "confirm signing out",
		chromedp.Click(css(`form[action="/auth/sign-out"] button`)),
		waitAt(base+"/auth/sign-in?notice=signed_out"),
		chromedp.WaitVisible(css(`[role="status"]`)),
	)
	if s := text(t, ctx, `[role="status"]`); s != en("notice.signed_out") {
		t.Fatalf("notice after signing out: %q", s)
	}
	step(t, ctx, "the app wants a sign-in", chromedp.Navigate(base+"/app/"), waitAt(base+"/auth/sign-in?redirect_to=%2Fapp%2F"))

	step(t, ctx, "forgot the password",
		chromedp.Click(css(`a[href="/auth/forgot-password"]`)),
		chromedp.WaitVisible(css(`form[action="/auth/forgot-password"] #email`)),
	)
	step(t, ctx, "ask for a reset link",
		chromedp.SendKeys(css("#email"), email),
		chromedp.Submit(css("#email")),
		waitAt(base+"/auth/check-email?for=reset"),
		heading(en("check-email.title")),
	)
	openMail("password_reset", "/reset-password")
	step(t, ctx, "choose a new password",
		chromedp.SendKeys(css("#password"), reset),
		chromedp.Submit(css("#password")),
		waitAt(base+"/auth/sign-in?notice=password_reset"),
		chromedp.WaitVisible(css(`[role="status"]`)),
	)
	if s := text(t, ctx, `[role="status"]`); s != en("notice.password_reset") {
		t.Fatalf("notice after the reset: %q", s)
	}
	step(t, ctx, "sign in with the password before the reset",
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#password"), changed),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("#form-error")),
	)
	step(t, ctx, "sign in with the new password",
		chromedp.SendKeys(css("#password"), reset),
		chromedp.Submit(css("#password")),
		waitAt(base+"/app/"),
		chromedp.WaitVisible(hello),
	)
	if s := text(t, ctx, "p"); !strings.Contains(s, "Hello "+name) {
		t.Fatalf("the app greets %q", s)
	}
	other.api("GET", "/auth/api/session", "", 401, "")
}

// TestBrowserKeyboardSignIn signs in with the keyboard alone: the skip link
// comes first and works, every element that takes the focus shows it, and
// Enter in the password field submits.
func TestBrowserKeyboardSignIn(t *testing.T) {
	ctx := browser(t)
	base := appServer(t)
	const email, password = "kay@example.com", "correct horse battery staple"
	newUser(t, base).api("POST", "/auth/api/sign-up", `{"email":"`+email+`","password":"`+password+`"}`, 201, "")
	tab := func(what string) focused {
		t.Helper()
		step(t, ctx, "press Tab to reach "+what, chromedp.KeyEvent(kb.Tab))
		f := activeElement(t, ctx)
		if !f.indicated() {
			failureShot(t, ctx, "focus on "+what)
			t.Fatalf("Tab to %s: the focus on %s does not show (outline %s %vpx, box-shadow %s)", what, f, f.OutlineStyle, f.OutlineWidth, f.BoxShadow)
		}
		if !f.onScreen() {
			failureShot(t, ctx, "focus on "+what)
			t.Fatalf("Tab to %s: %s has the focus but is not on screen (%+v)", what, f, f)
		}
		return f
	}
	signIn := base + "/auth/sign-in?redirect_to=%2Fapp%2F"

	// The skip link is the first stop, and leads into the page.
	step(t, ctx, "open the app", chromedp.Navigate(base+"/app/"), waitAt(signIn), chromedp.WaitVisible(chromedp.CSS("#email")))
	if f := tab("the skip link"); f.Tag != "a" || f.Href != "#main" {
		t.Fatalf("the first Tab stop is %s, want the skip link to #main", f)
	}
	step(t, ctx, "follow the skip link", chromedp.KeyEvent(kb.Enter), waitAt(signIn+"#main"))
	if f := activeElement(t, ctx); f.ID != "main" {
		t.Fatalf("the skip link left the focus on %s, want <main id=main>", f)
	}
	if f := tab("the email field"); f.ID != "email" {
		t.Fatalf("after the skip link, Tab reaches %s, want the email field", f)
	}

	// From the top again, with Tab only; then sign in.
	step(t, ctx, "open sign-in again", chromedp.Navigate(signIn), chromedp.WaitVisible(chromedp.CSS("#email")))
	var path []string
	for i := 0; ; i++ {
		f := tab(fmt.Sprintf("stop %d", i+1))
		path = append(path, f.String())
		if i == 0 && f.Href != "#main" {
			t.Fatalf("the first Tab stop is %s, want the skip link", f)
		}
		if f.ID == "email" {
			break
		}
		if i == 5 {
			t.Fatalf("the email field is not among the first 6 Tab stops: %q", path)
		}
	}
	t.Logf("Tab stops to the email field: %q", path)
	step(t, ctx, "type the email", chromedp.KeyEvent(email))
	if f := tab("the password field"); f.ID != "password" {
		t.Fatalf("Tab after the email reaches %s, want the password field", f)
	}
	step(t, ctx, "type the password and press Enter",
		chromedp.KeyEvent(password),
		chromedp.KeyEvent(kb.Enter),
		waitAt(base+"/app/"),
		chromedp.WaitVisible(chromedp.CSS("#hello")),
	)
	if s := text(t, ctx, "#hello"); s != "Hello "+email {
		t.Fatalf("app page says %q", s)
	}
}

// pagesServer runs the binary in development mode for a tour of the pages.
func pagesServer(t *testing.T) *node {
	t.Helper()
	bin := buildBinary(t)
	return serveNode(t, bin, t.TempDir())
}

// TestBrowserAccessibility runs axe-core (WCAG 2.0, 2.1 and 2.2, A and AA)
// on every hosted page in the states a user sees it, light and dark, a few
// in French, and fails on any serious or critical violation, each listed
// once with the pages it is on (a screenshot of each such page goes to the
// artifacts). It also checks that no page's layout shifts as it loads.
func TestBrowserAccessibility(t *testing.T) {
	src := axeScript(t)
	ctx := browser(t)
	srv := pagesServer(t)
	step(t, ctx, "desktop size", emulate("light", desktop))
	type problem struct {
		text  string
		pages []string
	}
	var problems []*problem // serious or critical, in the order found
	byText := map[string]*problem{}
	var shifts, minor []string
	pages := 0
	tourPages(t, ctx, srv, func(name string) {
		pages++
		if ls := measureLayoutShift(t, ctx); ls.Sum >= 0.01 {
			shifts = append(shifts, fmt.Sprintf("%s: layout shift %.4f as it loads (%s)", name, ls.Sum, strings.Join(ls.Sources, ", ")))
		}
		for _, scheme := range []string{"light", "dark"} {
			step(t, ctx, name+" in "+scheme, emulate(scheme, desktop))
			where := name + " (" + scheme + ")"
			bad := false
			for _, v := range runAxe(t, ctx, src) {
				if !v.serious() {
					minor = append(minor, where+": "+v.String())
					continue
				}
				bad = true
				// One entry per rule and element, whatever page shows it.
				for _, n := range v.Nodes {
					one := v
					one.Nodes = append(one.Nodes[:0:0], n)
					key := one.String()
					p := byText[key]
					if p == nil {
						p = &problem{text: key}
						byText[key] = p
						problems = append(problems, p)
					}
					p.pages = append(p.pages, where)
				}
			}
			if bad {
				if path, err := saveShot(t, ctx, "axe."+name+"."+scheme); err == nil {
					t.Logf("%s has serious problems; screenshot: %s", where, path)
				}
			}
		}
		step(t, ctx, "back to light", emulate("light", desktop))
	})
	t.Logf("axe-core checked %d page states, light and dark", pages)
	for _, m := range minor {
		t.Logf("minor or moderate: %s", m)
	}
	if len(shifts) > 0 {
		t.Errorf("layouts shift as pages load (want a cumulative layout shift under 0.01):\n  %s", strings.Join(shifts, "\n  "))
	}
	if len(problems) > 0 {
		var b strings.Builder
		for _, p := range problems {
			fmt.Fprintf(&b, "\n  %s\n      on %d page states: %s", p.text, len(p.pages), strings.Join(p.pages, ", "))
		}
		t.Errorf("%d serious or critical accessibility problems:%s", len(problems), b.String())
	}
}

// TestBrowserScreenshots saves a full-page screenshot of every hosted page
// in every state of the tour, light and dark, at 390 px (a phone) and 1280
// px wide, named page.state.scheme.width.png, with an index.html that shows
// them side by side. Run with `go test -artifacts -outputdir DIR` to keep
// them (.ci/run does).
func TestBrowserScreenshots(t *testing.T) {
	ctx := browser(t)
	srv := pagesServer(t)
	var index strings.Builder
	index.WriteString("<!doctype html><meta charset=utf-8><title>Gatehouse hosted pages</title>\n" +
		"<style>body{font:14px system-ui;margin:1rem}td{vertical-align:top;padding:.25rem}img{border:1px solid #ccc}</style>\n" +
		"<table><tr><th>page<th>light 390<th>light 1280<th>dark 390<th>dark 1280\n")
	n := 0
	tourPages(t, ctx, srv, func(name string) {
		fmt.Fprintf(&index, "<tr><th>%s", name)
		for _, scheme := range []string{"light", "dark"} {
			for _, vp := range []viewport{phone, desktop} {
				shot := name + "." + scheme + "." + vp.name
				step(t, ctx, "emulate "+shot, emulate(scheme, vp))
				if _, err := saveShot(t, ctx, shot); err != nil {
					t.Fatalf("screenshot %s: %v", shot, err)
				}
				fmt.Fprintf(&index, `<td><a href="%[1]s.png"><img src="%[1]s.png" width="%[2]d" loading="lazy" alt="%[1]s"></a>`, shot, min(vp.width, 390)/2)
				n++
			}
		}
		index.WriteString("\n")
		step(t, ctx, "back to the desktop size", emulate("light", desktop))
	})
	index.WriteString("</table>\n")
	if err := os.WriteFile(filepath.Join(artifactDir(t), "index.html"), []byte(index.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d screenshots in %s (see index.html)", n, artifactDir(t))
}

// TestBrowserBranding runs the binary branded: product name, logo, primary
// colour, custom CSS, a template override and a text override, and checks
// what the browser shows, in English and in French.
func TestBrowserBranding(t *testing.T) {
	bin := buildBinary(t)
	ctx := browser(t)
	dir := t.TempDir()
	const product, primary = "Acme Notes", "#c2410c"
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cssFile := write("custom.css", ".card{border-width:7px}\n")
	write("templates/sign-in.html", `{{/* gatehouse page data v1 */}}
{{define "content"}}
<p id="brand-marker">Acme staff sign in here.</p>
<form class="form" method="post" action="{{.Base}}/sign-in" novalidate>
<input type="hidden" name="redirect_to" value="{{.RedirectTo}}">
<div class="field"><label for="email">{{.T "form.email"}}</label>
<input id="email" name="email" type="email" autocomplete="email" required value="{{.Email}}"></div>
<div class="field"><label for="password">{{.T "form.password"}}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></div>
<button type="submit" class="button primary block">{{.T "sign-in.submit"}}</button>
</form>
{{end}}
`)
	const frSignIn = "Bienvenue chez Acme"
	config := write("gatehouse.yaml", "messages:\n  fr:\n    sign-in.title: \""+frSignIn+"\"\n")
	logo := "data:image/svg+xml," + strings.ReplaceAll(`<svg xmlns='http://www.w3.org/2000/svg' width='160' height='40'><rect width='160' height='40' fill='%23c2410c'/></svg>`, " ", "%20")
	base, _ := startBinaryArgs(t, bin, []string{"--config", config},
		"GATEHOUSE_PRODUCT_NAME="+product, "GATEHOUSE_PRIMARY_COLOR="+primary, "GATEHOUSE_LOGO_URL="+logo,
		"GATEHOUSE_CUSTOM_CSS_FILE="+cssFile, "GATEHOUSE_TEMPLATES_DIR="+filepath.Join(dir, "templates"))
	language := func(tag string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": tag}})
			return err
		})
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	step(t, ctx, "open sign-in", language("en"), emulate("light", desktop), chromedp.Navigate(base+"/auth/sign-in"), chromedp.WaitVisible(css("#brand-marker")))
	if title := evaluate[string](t, ctx, "document.title"); !strings.Contains(title, product) || !strings.Contains(title, catalogText(t, "en", "sign-in.title")) {
		t.Errorf("title %q: want the page's title and the product name", title)
	}
	header := evaluate[string](t, ctx, `(() => { const h = document.querySelector("header"); const img = h && h.querySelector("img"); return h ? h.innerText + "|" + (img ? img.alt + "|" + img.naturalWidth : "") : "" })()`)
	t.Logf("header: %q", header)
	if !strings.Contains(header, product) {
		t.Errorf("the header shows %q, want %q (as text or as the logo's alt text)", header, product)
	}
	if strings.HasSuffix(header, "|0") {
		t.Errorf("the logo did not load (the CSP must allow data: images): %q", header)
	}
	if w := evaluate[string](t, ctx, `getComputedStyle(document.querySelector("main")).borderTopWidth`); w != "7px" {
		t.Errorf("custom CSS not applied: the card's border is %s, want 7px", w)
	}
	p := parseRGB(t, primary)
	for _, c := range []struct {
		scheme string
		toward rgb
	}{{"light", rgb{0, 0, 0}}, {"dark", rgb{255, 255, 255}}} {
		step(t, ctx, "look in "+c.scheme, emulate(c.scheme, desktop))
		bg := parseRGB(t, evaluate[string](t, ctx, `getComputedStyle(document.querySelector("button.primary, .button.primary")).backgroundColor`))
		fg := parseRGB(t, evaluate[string](t, ctx, `getComputedStyle(document.querySelector("button.primary, .button.primary")).color`))
		t.Logf("%s: primary button %v, text %v", c.scheme, bg, fg)
		if !derived(bg, p, c.toward) {
			t.Errorf("%s: the primary button is %v, not a shade of %s toward %v", c.scheme, bg, primary, c.toward)
		}
		if bg == (rgb{0x4f, 0x46, 0xe5}) {
			t.Errorf("%s: the primary button keeps the default colour", c.scheme)
		}
		if r := contrast(bg, fg); r < 4.5 {
			t.Errorf("%s: the button text %v on %v has contrast %.2f, want at least 4.5", c.scheme, fg, bg, r)
		}
	}
	step(t, ctx, "back to light", emulate("light", desktop))

	// French: from Accept-Language, from ?lang=, and from the picker.
	step(t, ctx, "open sign-up in French", language("fr"), chromedp.Navigate(base+"/auth/sign-up"), chromedp.WaitVisible(css(`html[lang="fr"] #name`)))
	if h := text(t, ctx, "h1"); h != catalogText(t, "fr", "sign-up.title") {
		t.Errorf("French sign-up heading %q", h)
	}
	if title := evaluate[string](t, ctx, "document.title"); !strings.Contains(title, catalogText(t, "fr", "sign-up.title")) || !strings.Contains(title, product) {
		t.Errorf("French sign-up title %q", title)
	}
	step(t, ctx, "open sign-in in French", chromedp.Navigate(base+"/auth/sign-in"), chromedp.WaitVisible(css(`html[lang="fr"] #brand-marker`)))
	if h := text(t, ctx, "h1"); h != frSignIn {
		t.Errorf("the text override of sign-in.title in French: heading %q, want %q", h, frSignIn)
	}
	step(t, ctx, "ask for French in the address", language("en"), chromedp.Navigate(base+"/auth/forgot-password?lang=fr"), chromedp.WaitVisible(css(`html[lang="fr"] h1`)))
	step(t, ctx, "English without it", chromedp.Navigate(base+"/auth/sign-up"), chromedp.WaitVisible(css(`html[lang="en"] h1`)))
	step(t, ctx, "pick French",
		chromedp.Click(css(`button[name="lang"][value="fr"]`)),
		waitAt(base+"/auth/sign-up"),
		chromedp.WaitVisible(css(`html[lang="fr"] h1`)),
	)
	if h := text(t, ctx, "h1"); h != catalogText(t, "fr", "sign-up.title") {
		t.Errorf("sign-up heading after picking French: %q", h)
	}
}

type rgb struct{ r, g, b int }

func parseRGB(t *testing.T, s string) rgb {
	t.Helper()
	var c rgb
	if strings.HasPrefix(s, "#") && len(s) == 7 {
		if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &c.r, &c.g, &c.b); err == nil {
			return c
		}
	}
	if _, err := fmt.Sscanf(s, "rgb(%d, %d, %d)", &c.r, &c.g, &c.b); err != nil {
		t.Fatalf("colour %q: %v", s, err)
	}
	return c
}

// derived tells whether c is base mixed toward `toward` (c = base + k ×
// (toward − base) for one k in [0, 1], to rounding): the shades the theme
// derives to keep contrast.
func derived(c, base, toward rgb) bool {
	for k := 0.0; k <= 1.0001; k += 0.005 {
		mix := func(a, b int) int { return int(math.Round(float64(a) + (float64(b)-float64(a))*k)) }
		m := rgb{mix(base.r, toward.r), mix(base.g, toward.g), mix(base.b, toward.b)}
		if abs(m.r-c.r) <= 2 && abs(m.g-c.g) <= 2 && abs(m.b-c.b) <= 2 {
			return true
		}
	}
	return false
}

func abs(x int) int { return max(x, -x) }

// contrast is the WCAG contrast ratio of two colours.
func contrast(a, b rgb) float64 {
	lum := func(c rgb) float64 {
		ch := func(v int) float64 {
			s := float64(v) / 255
			if s <= 0.04045 {
				return s / 12.92
			}
			return math.Pow((s+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
	}
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
