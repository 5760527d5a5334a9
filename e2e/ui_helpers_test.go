package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Helpers of the hosted-page UI tests (ui_test.go): screenshots, colour
// scheme and viewport emulation, axe-core, and a tour of every page.

// slug makes a file name from a step's description: "sign in (again)" →
// "sign-in-again".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if len(out) > 80 {
		out = out[:80]
	}
	return out
}

// fullPage captures the whole page, not only the viewport, as a PNG.
func fullPage() chromedp.Action[[]byte] {
	return func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		m, err := cdp.Call(ctx, tg, page.GetLayoutMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		if m.CSSContentSize == nil || m.CSSLayoutViewport == nil {
			return nil, errors.New("no layout metrics")
		}
		w := max(m.CSSContentSize.Width, float64(m.CSSLayoutViewport.ClientWidth))
		h := max(m.CSSContentSize.Height, float64(m.CSSLayoutViewport.ClientHeight))
		yes := true
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, CaptureBeyondViewport: &yes, FromSurface: &yes,
			Clip: &page.Viewport{X: 0, Y: 0, Width: w, Height: h, Scale: 1},
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}
}

// saveShot writes a full-page screenshot of the browser's page to the
// test's artifact directory as name (".png" added) and returns its path.
// The files are kept with `go test -artifacts -outputdir DIR`.
func saveShot(t *testing.T, ctx context.Context, name string) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, fullPage())
	if err != nil {
		return "", err
	}
	path := filepath.Join(artifactDir(t), name+".png")
	return path, os.WriteFile(path, png, 0o644)
}

// namedDirs are the artifact directories that have their test.txt.
var namedDirs sync.Map // directory → struct{}

// artifactDir is t.ArtifactDir with a test.txt naming the test: go1.26's
// -artifacts names each directory at random instead of after its test
// (go.dev/issue/77763), and .ci/run prints the name beside the directory.
func artifactDir(t *testing.T) string {
	dir := t.ArtifactDir()
	if _, done := namedDirs.LoadOrStore(dir, struct{}{}); !done {
		os.WriteFile(filepath.Join(dir, "test.txt"), []byte(t.Name()+"\n"), 0o644)
	}
	return dir
}

// shotOnFailure records the tests that already have a screenshot of a
// failure, so that the one taken when the test ends does not repeat it.
var shotOnFailure sync.Map // *testing.T → struct{}

// failureShot saves a screenshot of the page at a failure, named after
// what failed, and says where it is. It does its best: a browser that
// is gone only costs the picture.
func failureShot(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	if _, taken := shotOnFailure.LoadOrStore(t, struct{}{}); taken {
		return
	}
	path, err := saveShot(t, ctx, "failed."+slug(what))
	if err != nil {
		t.Logf("no screenshot of the failure (%s): %v", what, err)
		return
	}
	t.Logf("screenshot of the page when %q failed: %s", what, path)
}

// waitAt waits until the address bar shows url. Use it after an action
// that navigates, before looking for something the old page had too.
func waitAt(url string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var last string
		for {
			loc, err := chromedp.Location()(ctx, tg)
			if err == nil {
				if loc == url {
					return nil
				}
				last = loc
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("still at %s, waiting for %s: %w", last, url, ctx.Err())
			case <-time.After(25 * time.Millisecond):
			}
		}
	})
}

// evaluate runs a JavaScript expression in the page and decodes its value.
// DevTools evaluation works while the page's own scripts are disabled, as
// long as it needs no timer or promise job (see scripted).
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		failureShot(t, ctx, "evaluate "+expr)
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// scripted runs a with the page's script execution turned on, and turns it
// off again. The browsers of these tests run pages with JavaScript off, and
// DevTools can still evaluate expressions then, but nothing asynchronous
// completes: timers, promise jobs and observers wait for scripts to be
// allowed, so axe.run and a PerformanceObserver never answer. The pages
// were loaded and rendered without JavaScript; turning it on afterwards
// changes nothing on them (they hold no script, and their CSP forbids any).
func scripted[T any](a chromedp.Action[T]) chromedp.Action[T] {
	return func(ctx context.Context, tg *chromedp.Target) (T, error) {
		var zero T
		if _, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
			return zero, fmt.Errorf("enable scripts: %w", err)
		}
		v, err := a(ctx, tg)
		if _, derr := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); derr != nil && err == nil {
			err = fmt.Errorf("disable scripts again: %w", derr)
		}
		return v, err
	}
}

// viewport is a window size the pages are looked at in.
type viewport struct {
	name          string // in file names: the width
	width, height int64
	scale         float64
	mobile        bool
}

var (
	phone   = viewport{name: "390", width: 390, height: 844, scale: 2, mobile: true}
	desktop = viewport{name: "1280", width: 1280, height: 800, scale: 1}
)

// emulate sets the colour scheme ("light" or "dark") and the viewport, and
// waits for the page to settle in them.
func emulate(scheme string, vp viewport) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		}); err != nil {
			return fmt.Errorf("emulate %s: %w", scheme, err)
		}
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: vp.width, Height: vp.height, DeviceScaleFactor: vp.scale, Mobile: vp.mobile,
		})
		if err != nil {
			return fmt.Errorf("emulate %s px: %w", vp.name, err)
		}
		_, err = settle()(ctx, tg)
		return err
	})
}

// settle waits until the page's CSS transitions and animations have run
// to their end (at most 3 s): after a change of colour scheme, colours
// fade for a moment, and neither axe-core nor a screenshot should see the
// colours half-way.
func settle() chromedp.Action[chromedp.Void] {
	const js = `Promise.race([
		Promise.all(document.getAnimations().map(a => a.finished.catch(() => null))),
		new Promise(resolve => setTimeout(resolve, 3000)),
	]).then(() => document.getAnimations().filter(a => a.playState === "running").length)`
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		running, err := scripted(chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))(ctx, tg)
		if err == nil && running > 0 {
			err = fmt.Errorf("%d animations still run after 3 s", running)
		}
		return err
	})
}

// catalogText is the built-in text of key in lang, read from the
// catalogue's files, so that assertions follow the copy as it changes.
func catalogText(t *testing.T, lang, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "catalog", "locales", lang, "pages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var texts map[string]string
	if err := json.Unmarshal(b, &texts); err != nil {
		t.Fatalf("%s pages.json: %v", lang, err)
	}
	s, ok := texts[key]
	if !ok {
		t.Fatalf("no %s text %q in the catalogue", lang, key)
	}
	return s
}

// axeScript is the source of axe-core (axe.min.js): GATEHOUSE_AXE_JS, or
// where .ci/run installs it. Without it the test skips, or fails under
// GATEHOUSE_TEST_REQUIRE_ALL=1.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("GATEHOUSE_AXE_JS")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "gatehouse-ci", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		msg := fmt.Sprintf("no axe-core at %s (%v): install it as .ci/run does, or point GATEHOUSE_AXE_JS at axe.min.js", path, err)
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" || os.Getenv("GATEHOUSE_AXE_JS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// axeTags are the rule sets run: WCAG 2.0, 2.1 and 2.2 at levels A and AA.
const axeTags = `['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']`

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  json.RawMessage `json:"target"`
		HTML    string          `json:"html"`
		Summary string          `json:"summary"`
	} `json:"nodes"`
}

// serious tells the violations that fail a test from those only reported.
func (v axeViolation) serious() bool { return v.Impact == "serious" || v.Impact == "critical" }

func (v axeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s] %s (%s)", v.ID, v.Impact, v.Help, v.URL)
	for _, n := range v.Nodes {
		summary := strings.ReplaceAll(strings.TrimSpace(n.Summary), "\n", " ")
		fmt.Fprintf(&b, "\n      at %s: %s\n         %s", n.Target, n.HTML, summary)
	}
	return b.String()
}

// runAxe injects axe-core into the page (once per document) and returns
// its violations.
func runAxe(t *testing.T, ctx context.Context, src string) []axeViolation {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(sctx, scripted(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		has, err := chromedp.Evaluate[bool](`typeof window.axe === "object"`)(ctx, tg)
		if err != nil || has {
			return err
		}
		_, err = chromedp.Evaluate[chromedp.Void](src)(ctx, tg)
		return err
	})))
	if err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	js := `axe.run(document, {runOnly: {type: 'tag', values: ` + axeTags + `}, resultTypes: ['violations']})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))}))))`
	res, err := chromedp.Run(sctx, scripted(chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise)))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(res), &vs); err != nil {
		t.Fatalf("axe-core results %q: %v", res, err)
	}
	return vs
}

// layoutShift is the page's cumulative layout shift so far (the sum of
// its layout-shift entries without recent input) and what moved.
type layoutShift struct {
	Sum     float64  `json:"sum"`
	Sources []string `json:"sources"`
}

func measureLayoutShift(t *testing.T, ctx context.Context) layoutShift {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	const js = `new Promise(resolve => {
		const out = {sum: 0, sources: []};
		const describe = n => !n ? '?' : n.nodeType !== 1 ? n.nodeName : n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + (n.className && typeof n.className === 'string' ? '.' + n.className.trim().split(/\s+/).join('.') : '');
		const po = new PerformanceObserver(list => {
			for (const e of list.getEntries()) {
				if (e.hadRecentInput) continue;
				out.sum += e.value;
				for (const s of e.sources || []) out.sources.push(describe(s.node) + ' ' + e.value.toFixed(4));
			}
		});
		po.observe({type: 'layout-shift', buffered: true});
		setTimeout(() => { po.disconnect(); resolve(JSON.stringify(out)); }, 150);
	})`
	res, err := chromedp.Run(sctx, scripted(chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise)))
	if err != nil {
		t.Fatalf("measure layout shift: %v", err)
	}
	var ls layoutShift
	if err := json.Unmarshal([]byte(res), &ls); err != nil {
		t.Fatalf("layout shift %q: %v", res, err)
	}
	return ls
}

// focused describes document.activeElement and how its focus shows.
type focused struct {
	Tag          string  `json:"tag"`
	ID           string  `json:"id"`
	Class        string  `json:"class"`
	Href         string  `json:"href"`
	Text         string  `json:"text"`
	OutlineStyle string  `json:"outlineStyle"`
	OutlineWidth float64 `json:"outlineWidth"`
	BoxShadow    string  `json:"boxShadow"`
	Top          float64 `json:"top"`
	Left         float64 `json:"left"`
	Width        float64 `json:"width"`
	Height       float64 `json:"height"`
	ViewportW    float64 `json:"vw"`
	ViewportH    float64 `json:"vh"`
}

func (f focused) String() string {
	s := "<" + f.Tag
	if f.ID != "" {
		s += " id=" + f.ID
	}
	if f.Class != "" {
		s += " class=" + f.Class
	}
	if f.Href != "" {
		s += " href=" + f.Href
	}
	return s + "> " + f.Text
}

// indicated tells whether the focus shows: an outline or a box shadow.
func (f focused) indicated() bool {
	return (f.OutlineStyle != "none" && f.OutlineWidth > 0) || (f.BoxShadow != "" && f.BoxShadow != "none")
}

// onScreen tells whether the element lies inside the viewport.
func (f focused) onScreen() bool {
	return f.Width > 0 && f.Height > 0 && f.Top >= 0 && f.Left >= 0 && f.Top+f.Height <= f.ViewportH && f.Left+f.Width <= f.ViewportW
}

func activeElement(t *testing.T, ctx context.Context) focused {
	t.Helper()
	const js = `JSON.stringify((() => {
		const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
		return {tag: e.tagName.toLowerCase(), id: e.id, class: typeof e.className === 'string' ? e.className : '',
			href: e.getAttribute('href') || '', text: (e.innerText || e.value || '').trim().slice(0, 40),
			outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0, boxShadow: s.boxShadow,
			top: r.top, left: r.left, width: r.width, height: r.height, vw: innerWidth, vh: innerHeight};
	})())`
	var f focused
	if err := json.Unmarshal([]byte(evaluate[string](t, ctx, js)), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// tourApp registers an application with the tour's server (through the
// CLI, on its data) that returns to the account page, and returns its
// client ID.
func tourApp(t *testing.T, srv *node) string {
	t.Helper()
	out, _ := runCLI(t, srv.bin, srv.env, "clients", "create", "--name", "Notes", "--redirect-uri", srv.url+"/auth/account",
		"--post-logout-redirect-uri", srv.url+"/auth/sign-in", "--json")
	var c struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &c); err != nil || !strings.HasPrefix(c.ID, "cli_") {
		t.Fatalf("clients create --json printed %q: %v", out, err)
	}
	return c.ID
}

// buildNotes compiles examples/notes, once per run of the tests.
func buildNotes(t *testing.T) string {
	t.Helper()
	return buildOnce(t, "../examples/notes", "notes")
}

var notesListening = regexp.MustCompile(`^notes: open (http://127\.0\.0\.1:\d+) `)

// startNotes runs the notes example on a free loopback port with a data
// directory that does not exist yet, and returns its URL as it prints it.
func startNotes(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "NOTES_ADDR=127.0.0.1:0", "NOTES_DATA_DIR="+filepath.Join(cmd.Dir, "fresh", "data"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, cmd, "notes", &stderr)
	return waitListening(t, "notes", stdout, notesListening, &stderr)
}

// tourPages leads the browser through every hosted page in the states a
// user sees it, and calls visit at each with a name for it
// ("sign-in.error", "account.fr"). The server must be in development mode
// with its mail links leading back to it (serveNode). Signed-out pages
// come first, then the signed-in ones (with an application's consent,
// connected apps and logout pages), then a few in French.
func tourPages(t *testing.T, ctx context.Context, srv *node, visit func(name string)) {
	t.Helper()
	base := srv.url
	const email, password, newEmail = "grace@example.com", "correct horse battery staple", "grace.hopper@example.com"
	api := newUser(t, base)
	seen := map[string]bool{}
	api.api("POST", "/auth/api/sign-up", `{"email":"`+email+`","password":"`+password+`","name":"Grace"}`, 201, "")
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	open := func(name, path, ready string) {
		t.Helper()
		step(t, ctx, "open "+name, chromedp.Navigate(base+path), chromedp.WaitVisible(css(ready)))
		visit(name)
	}
	signIn := func(next string) {
		t.Helper()
		step(t, ctx, "sign in",
			chromedp.Navigate(base+"/auth/sign-in"),
			chromedp.SendKeys(css("#email"), email),
			chromedp.SendKeys(css("#password"), password),
			chromedp.Submit(css("#password")),
			waitAt(base+next),
		)
	}

	// Signed out.
	open("sign-in", "/auth/sign-in", `form[action="/auth/sign-in"] #password`)
	step(t, ctx, "sign in with a wrong password",
		chromedp.SendKeys(css("#email"), email),
		chromedp.SendKeys(css("#password"), "not the password at all"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css("#form-error")),
	)
	visit("sign-in.error")
	open("sign-up", "/auth/sign-up", `form[action="/auth/sign-up"] #name`)
	step(t, ctx, "sign up with mistakes",
		chromedp.SendKeys(css("#email"), "grace@"),
		chromedp.SendKeys(css("#password"), "short"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css(".field-error")),
	)
	visit("sign-up.errors")
	open("forgot-password", "/auth/forgot-password", `form[action="/auth/forgot-password"] #email`)
	open("forgot-password.fr", "/auth/forgot-password?lang=fr", `html[lang="fr"] form[action="/auth/forgot-password"] #email`)
	open("resend-verification", "/auth/verify-email/send", `form[action="/auth/verify-email/send"] #email`)
	for _, topic := range []string{"verify", "reset", "change"} {
		open("check-email."+topic, "/auth/check-email?for="+topic, "h1")
	}
	open("check-email.reset.fr", "/auth/check-email?for=reset&lang=fr", `html[lang="fr"] h1`)
	open("verify-email.invalid", "/auth/verify-email?token="+strings.Repeat("A", 43), "#form-error")
	api.api("POST", "/auth/api/password/forgot", `{"email":"`+email+`"}`, 202, "")
	m := api.readMail("password_reset", email, seen)
	link, _ := mailLink(t, m.Text, m.Links, base, "/reset-password")
	open("reset-password", strings.TrimPrefix(link, base), `form[action="/auth/reset-password"] #password`)
	open("not-found", "/auth/no-such-page", "h1")
	open("error", "/auth/language", "#form-error") // GET where only POST is served: 405
	open("mailbox", "/auth/dev/mailbox", `a[href^="/auth/dev/mailbox/"]`)
	step(t, ctx, "open a message", chromedp.Click(css(`a[href^="/auth/dev/mailbox/"]`)), chromedp.WaitVisible(css("pre")))
	visit("mailbox-message")

	// Signed in, the address not verified yet.
	signIn("/auth/account")
	step(t, ctx, "see the account", chromedp.WaitVisible(css("dd#email")))
	visit("account.unverified")
	step(t, ctx, "change the password with a wrong current one",
		chromedp.SendKeys(css("#current-password"), "not the password at all"),
		chromedp.SendKeys(css("#new-password"), "a brand new passphrase"),
		chromedp.Submit(css("#new-password")),
		chromedp.WaitVisible(css("#form-error")),
	)
	visit("account.error")
	open("sign-out", "/auth/sign-out", `form[action="/auth/sign-out"] button`)
	m = api.readMail("verify_email", email, seen)
	link, _ = mailLink(t, m.Text, m.Links, base, "/verify-email")
	open("verify-email", strings.TrimPrefix(link, base), `form[action="/auth/verify-email"] button`)
	step(t, ctx, "verify", chromedp.Click(css(`form[action="/auth/verify-email"] button`)), waitAt(base+"/auth/account?notice=email_verified"), chromedp.WaitVisible(css(`[role="status"]`)))
	visit("account")
	step(t, ctx, "ask to change the email",
		chromedp.SendKeys(css("#new-email"), newEmail),
		chromedp.SendKeys(css("#email-password"), password),
		chromedp.Submit(css("#email-password")),
		waitAt(base+"/auth/check-email?for=change"),
	)
	m = api.readMail("email_change", newEmail, seen)
	link, _ = mailLink(t, m.Text, m.Links, base, "/confirm-email-change")
	open("confirm-email-change", strings.TrimPrefix(link, base), `form[action="/auth/confirm-email-change"] button`)

	// An application asks for access (OpenID Connect): the consent page,
	// then the app among the connected apps, its sign-out confirmation,
	// the sign-in page asking to sign in again, and a request that is
	// refused on a page.
	app := tourApp(t, srv)
	authorize := "/auth/oauth2/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app}, "redirect_uri": {base + "/auth/account"},
		"scope": {"openid profile email offline_access"}, "state": {"tour"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}.Encode()
	open("consent", authorize, `form[action="/auth/oauth2/authorize/consent"] button[value="allow"]`)
	step(t, ctx, "allow the application",
		chromedp.Click(css(`form[action="/auth/oauth2/authorize/consent"] button[value="allow"]`)),
		chromedp.WaitVisible(css(`#apps form[action="/auth/account/apps/`+app+`/revoke"] button`)),
	)
	visit("account.apps")
	open("logout", "/auth/oauth2/logout?"+url.Values{"client_id": {app}, "post_logout_redirect_uri": {base + "/auth/sign-in"}}.Encode(),
		`form[action="/auth/oauth2/logout"] button`)
	open("sign-in.again", "/auth/sign-in?prompt=login&redirect_to=%2Fauth%2Faccount", `form[action="/auth/sign-in"] #password`)
	open("error.authorize", "/auth/oauth2/authorize?"+url.Values{"client_id": {app}, "redirect_uri": {"https://evil.example/"}}.Encode(), "#form-error")

	// French, chosen with the language picker, which keeps the choice.
	step(t, ctx, "choose French",
		chromedp.Navigate(base+"/auth/account"),
		chromedp.Click(css(`button[name="lang"][value="fr"]`)),
		chromedp.WaitVisible(css(`html[lang="fr"] dd#email`)),
	)
	visit("account.fr")
	open("consent.fr", authorize+"&prompt=consent", `html[lang="fr"] form[action="/auth/oauth2/authorize/consent"] button`)
	open("sign-out.fr", "/auth/sign-out", `html[lang="fr"] form[action="/auth/sign-out"] button`)
	step(t, ctx, "sign out",
		chromedp.Click(css(`form[action="/auth/sign-out"] button`)),
		waitAt(base+"/auth/sign-in?notice=signed_out"),
		chromedp.WaitVisible(css(`html[lang="fr"] [role="status"]`)),
	)
	visit("sign-in.fr")
	step(t, ctx, "sign up with mistakes in French",
		chromedp.Navigate(base+"/auth/sign-up"),
		chromedp.WaitVisible(css(`html[lang="fr"] #name`)),
		chromedp.SendKeys(css("#email"), "grace@"),
		chromedp.SendKeys(css("#password"), "short"),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(css(`html[lang="fr"] .field-error`)),
	)
	visit("sign-up.errors.fr")
	open("not-found.fr", "/auth/no-such-page", `html[lang="fr"] h1`)
	step(t, ctx, "choose English again", chromedp.Click(css(`button[name="lang"][value="en"]`)), chromedp.WaitVisible(css(`html[lang="en"] h1`)))
}
