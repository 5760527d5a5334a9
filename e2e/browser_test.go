package e2e_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/web"
)

// browser starts a headless Chromium for the test, with JavaScript off and
// English as its language, or skips (fails under
// GATEHOUSE_TEST_REQUIRE_ALL=1) when none is installed. When the test
// fails, a screenshot of the page goes to its artifacts.
func browser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: runs without -short")
	}
	path := ""
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if found, err := exec.LookPath(p); err == nil {
			path = found
			break
		}
	}
	if path == "" {
		msg := "no chromium found: install Debian's chromium to run the browser tests"
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Pages must work without JavaScript: turn it off.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("disable JavaScript: %v", err)
	}
	// The pages speak the browser's language: make it English whatever the
	// machine's locale, so that tests can read the English texts.
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "en"}}); err != nil {
		t.Fatalf("set Accept-Language: %v", err)
	}
	// Cleanups run last-in first-out: this one sees the browser still up.
	t.Cleanup(func() {
		if t.Failed() {
			failureShot(t, ctx, "end of the test")
		}
	})
	return ctx
}

// appServer serves Gatehouse and a protected app on loopback.
func appServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	auth := authtest.New(t, gatehouse.Config{PublicURL: base, AfterSignInPath: "/app/"})
	h := web.New(auth)
	mux := http.NewServeMux()
	mux.Handle("/auth/", h)
	mux.Handle("/app/", h.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := gatehouse.UserFrom(r.Context())
		fmt.Fprintf(w, "<!doctype html><title>App</title><h1 id=hello>Hello %s</h1>", u.Email)
	})))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return base
}

// step runs the actions of one step of a journey, what it is, within 15 s.
// When one fails, a screenshot of the page at that moment, named after the
// step, goes to the test's artifact directory (kept with go test
// -artifacts) before the test fails.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		failureShot(t, ctx, what)
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		failureShot(t, ctx, "read "+sel)
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestBrowserJourney walks a newcomer's journey through the hosted pages
// with JavaScript disabled: protected page → sign-up → app → account →
// sign-out → protected again → wrong password → sign-in → app.
func TestBrowserJourney(t *testing.T) {
	ctx := browser(t)
	base := appServer(t)
	const email, password = "ada@example.com", "correct horse battery staple"

	step(t, ctx, "open the protected page", chromedp.Navigate(base+"/app/"), chromedp.WaitVisible(chromedp.CSS("#email")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, base+"/auth/sign-in?redirect_to=%2Fapp%2F") {
		t.Fatalf("protected page sent the browser to %s", loc)
	}
	step(t, ctx, "go to sign-up", chromedp.Click(chromedp.CSS(`a[href*="/auth/sign-up"]`)), chromedp.WaitVisible(chromedp.CSS("#name")))
	step(t, ctx, "sign up with a weak password",
		chromedp.SendKeys(chromedp.CSS("#name"), "Ada"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "password1234"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#password-error")),
	)
	if msg := text(t, ctx, "#password-error"); !strings.Contains(msg, "too common") {
		t.Fatalf("weak password message: %q", msg)
	}
	step(t, ctx, "sign up",
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#hello")),
	)
	if got := text(t, ctx, "#hello"); got != "Hello "+email {
		t.Fatalf("app page says %q", got)
	}
	step(t, ctx, "open the account", chromedp.Navigate(base+"/auth/account"), chromedp.WaitVisible(chromedp.CSS(".sessions")))
	if s := text(t, ctx, ".sessions"); !strings.Contains(s, "This device") || !strings.Contains(s, "Chrome") {
		t.Fatalf("sessions list: %q", s)
	}
	// The account page has an element #email too: wait for the sign-in form.
	step(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/auth/sign-out"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[action="/auth/sign-in"] #email`)))
	step(t, ctx, "protected page again", chromedp.Navigate(base+"/app/"), chromedp.WaitVisible(chromedp.CSS("#email")))
	step(t, ctx, "wrong password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "not my password at all"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	)
	if msg := text(t, ctx, "#form-error"); !strings.Contains(msg, "incorrect") {
		t.Fatalf("wrong-password message: %q", msg)
	}
	step(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#hello")),
	)
	if loc := location(t, ctx); loc != base+"/app/" {
		t.Fatalf("signed in at %s, want the page asked for", loc)
	}
}
