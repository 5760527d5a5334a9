package e2e_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// relyingParty is the application's end of a browser flow: a server on
// loopback, another origin than the provider's, that records the query of
// every request to its callback and post-logout pages and answers a tiny
// page.
type relyingParty struct {
	url string

	mu    sync.Mutex
	hits  map[string][]url.Values // path → the query of each request
	taken map[string]int          // path → how many of hits a test has looked at
}

func startRelyingParty(t *testing.T) *relyingParty {
	t.Helper()
	rp := &relyingParty{hits: map[string][]url.Values{}, taken: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" && r.URL.Path != "/bye" {
			http.NotFound(w, r)
			return
		}
		rp.mu.Lock()
		rp.hits[r.URL.Path] = append(rp.hits[r.URL.Path], r.URL.Query())
		rp.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Notes</title><h1 id=rp>Notes %s</h1>", r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	rp.url = srv.URL
	return rp
}

// next returns the query of the one request to path since the last call,
// and fails the test if there was none or more than one.
func (rp *relyingParty) next(t *testing.T, path string) url.Values {
	t.Helper()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	fresh := rp.hits[path][rp.taken[path]:]
	rp.taken[path] = len(rp.hits[path])
	if len(fresh) != 1 {
		t.Fatalf("the application received %d requests to %s, want 1: %v", len(fresh), path, fresh)
	}
	return fresh[0]
}

// browserLog records, from the events of the browser's tab, the documents
// it loaded and what it wrote to its console: calls of the console API and
// the browser's own log, where Chromium reports the Content Security Policy
// violations (a form-action that stops a redirect among them).
type browserLog struct {
	mu        sync.Mutex
	documents []string // "status URL-without-query" of each top-level document
	console   []string
}

func watchBrowser(t *testing.T, ctx context.Context) *browserLog {
	t.Helper()
	b := &browserLog{}
	// The func runs on the goroutine that reads the tab's messages: it
	// only records.
	err := chromedp.Listen(ctx, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, cmp.Or(a.Description, string(a.Value)))
			}
			line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		case *log.EventEntryAdded:
			if ev.Entry != nil {
				line = fmt.Sprintf("log %s %s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument && ev.Response != nil {
				b.mu.Lock()
				b.documents = append(b.documents, fmt.Sprintf("%d %s", ev.Response.Status, withoutQuery(ev.Response.URL)))
				b.mu.Unlock()
			}
		}
		if line != "" {
			b.mu.Lock()
			b.console = append(b.console, line)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to the browser: %v", err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, line := range b.console {
			if strings.Contains(line, "Content Security Policy") {
				t.Errorf("the browser reported a CSP violation: %s", line)
			} else {
				t.Logf("browser console: %s", line)
			}
		}
	})
	return b
}

// mark is the number of documents loaded so far, for since.
func (b *browserLog) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.documents)
}

// since lists the documents loaded after mark m.
func (b *browserLog) since(m int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.documents[m:])
}

func withoutQuery(s string) string {
	s, _, _ = strings.Cut(s, "?")
	return s
}

// waitAtPath waits until the address bar shows target with any query (an
// application's callback carries one we cannot know in advance).
func waitAtPath(target string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var last string
		for {
			loc, err := chromedp.Location()(ctx, tg)
			if err == nil {
				if withoutQuery(loc) == target {
					return nil
				}
				last = loc
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("still at %s, waiting for %s: %w", last, target, ctx.Err())
			case <-time.After(25 * time.Millisecond):
			}
		}
	})
}

// TestBrowserOIDCFlow is an application signing a user in through the
// provider in a real Chromium with JavaScript off, the application on
// another origin than the provider: sign-in and consent, a second
// authorization that goes straight back, a third with prompt=login that
// signs in again, and RP-initiated logout with its confirmation page.
//
// Every page sends CSP form-action, which Chromium applies to the redirects
// that follow a form's submission: the consent's Allow, a sign-in that
// continues an authorization and the logout confirmation each end at the
// application through redirects, so the pages must name its origin. The
// HTTP-client tests of the provider (oidc_test.go) cannot see that; this
// one fails when the browser reports any CSP violation.
func TestBrowserOIDCFlow(t *testing.T) {
	began := time.Now()
	ctx := browser(t)
	seen := watchBrowser(t, ctx)
	o := startOIDC(t)
	defer func() { t.Logf("took %v", time.Since(began).Round(time.Millisecond)) }()
	rp := startRelyingParty(t)
	callback, bye := rp.url+"/callback", rp.url+"/bye"
	app := o.register("Notes", callback, "--post-logout-redirect-uri", bye)
	if app.method != "client_secret_basic" {
		t.Fatalf("a client registered with defaults authenticates with %s, want a confidential client_secret_basic one", app.method)
	}
	ada := o.createUser("ada@example.com", "Ada Lovelace")
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	signInForm := css(`form[action="/auth/sign-in"] #password`)
	allow := css(`form[action="/auth/oauth2/authorize/consent"] button[value="allow"]`)

	// arrived checks the redirect to the application the browser is at:
	// the application received it once, with a code, the state of r and
	// the issuer (RFC 9207), and it returns the code.
	arrived := func(r *authRequest) string {
		t.Helper()
		q := rp.next(t, "/callback")
		if loc := location(t, ctx); mustURL(t, loc).Query().Encode() != q.Encode() {
			t.Errorf("the browser is at %s, the application received %s", loc, q.Encode())
		}
		code := q.Get("code")
		o.keep("authorization code", code)
		if code == "" || q.Get("state") != r.state || q.Get("iss") != o.issuer || q.Has("error") {
			t.Fatalf("the application received %s: want a code, state %q and iss %q", q.Encode(), r.state, o.issuer)
		}
		return code
	}
	pages := func(what string, mark int, want ...string) {
		t.Helper()
		if got := seen.since(mark); !slices.Equal(got, want) {
			t.Errorf("%s: the browser loaded %q, want %q", what, got, want)
		}
	}

	// First authorization: the sign-in page, the consent page, and Allow
	// goes to the application through a 303.
	first := app.request("openid email")
	m := seen.mark()
	step(t, ctx, "open the authorization request", chromedp.Navigate(first.url()), chromedp.WaitVisible(signInForm))
	step(t, ctx, "sign in",
		chromedp.SendKeys(css("#email"), ada.email),
		chromedp.SendKeys(css("#password"), oidcPassword),
		chromedp.Submit(css("#password")),
		chromedp.WaitVisible(allow),
	)
	if s := text(t, ctx, "main"); !strings.Contains(s, "Notes") || !strings.Contains(s, ada.email) {
		t.Errorf("the consent page does not name both the application and the user:\n%s", s)
	}
	step(t, ctx, "allow the application", chromedp.Click(allow), waitAtPath(callback))
	code := arrived(first)
	pages("sign-in and consent", m, "200 "+o.issuer+"/sign-in", "200 "+o.issuer+"/oauth2/authorize", "200 "+callback)
	firstTokens := first.mustExchange(code)
	if c := firstTokens.claims; c.Sub != ada.id || c.Email != ada.email {
		t.Errorf("ID token: sub %q email %q, want %q %q", c.Sub, c.Email, ada.id, ada.email)
	}

	// Second authorization, signed in and allowed already: straight back
	// to the application from the GET, no page.
	second := app.request("openid email")
	m = seen.mark()
	step(t, ctx, "authorize again", chromedp.Navigate(second.url()), waitAtPath(callback))
	if again := arrived(second); again == code {
		t.Errorf("the second authorization gave the first code again")
	} else if ts := second.mustExchange(again); ts.claims.Sub != ada.id || ts.claims.SID != firstTokens.claims.SID {
		t.Errorf("second ID token: sub %q sid %q, want %q %q", ts.claims.Sub, ts.claims.SID, ada.id, firstTokens.claims.SID)
	}
	pages("an authorization already allowed", m, "200 "+callback)

	// Third, with prompt=login: the sign-in form again (the address filled
	// in), and its submission goes on to the application through the
	// authorization's redirects.
	third := app.request("openid email")
	third.q.Set("prompt", "login")
	m = seen.mark()
	step(t, ctx, "authorize with prompt=login", chromedp.Navigate(third.url()), chromedp.WaitVisible(signInForm))
	if v, err := chromedp.Run(ctx, chromedp.Value(css("#email"))); err != nil || v != ada.email {
		t.Errorf("the sign-in page asking to sign in again holds the address %q (%v), want %q", v, err, ada.email)
	}
	signedIn := time.Now()
	step(t, ctx, "sign in again",
		chromedp.SendKeys(css("#password"), oidcPassword),
		chromedp.Submit(css("#password")),
		waitAtPath(callback),
	)
	ts := third.mustExchange(arrived(third))
	if ts.claims.Sub != ada.id || ts.claims.AuthTime < signedIn.Unix() {
		t.Errorf("ID token after prompt=login: sub %q auth_time %d, want %q and a sign-in at or after %d", ts.claims.Sub, ts.claims.AuthTime, ada.id, signedIn.Unix())
	}
	pages("prompt=login", m, "200 "+o.issuer+"/sign-in", "200 "+callback)

	// RP-initiated logout without id_token_hint: the confirmation page,
	// whose button signs out and goes back to the application.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{o.issuer + "/"}})
	if err != nil {
		t.Fatalf("read the browser's cookies: %v", err)
	}
	if st := sessionWith(t, o, cookies.Cookies); st != http.StatusOK {
		t.Fatalf("GET /auth/api/session with the browser's cookies before the logout: %d, want 200", st)
	}
	logout := o.issuer + "/oauth2/logout?" + url.Values{"client_id": {app.id}, "post_logout_redirect_uri": {bye}, "state": {"L"}}.Encode()
	signOut := css(`form[action="/auth/oauth2/logout"] button[type="submit"]`)
	m = seen.mark()
	step(t, ctx, "ask to sign out", chromedp.Navigate(logout), chromedp.WaitVisible(signOut))
	step(t, ctx, "sign out", chromedp.Click(signOut), waitAtPath(bye))
	if q := rp.next(t, "/bye"); q.Encode() != "state=L" {
		t.Errorf("the application's post-logout page received %q, want state=L", q.Encode())
	}
	pages("logout", m, "200 "+o.issuer+"/oauth2/logout", "200 "+bye)
	// The session ended on the server, not only in the browser: its
	// cookies of before answer 401, and the browser is asked to sign in.
	if st := sessionWith(t, o, cookies.Cookies); st != http.StatusUnauthorized {
		t.Errorf("GET /auth/api/session with the browser's cookies of before the logout: %d, want 401", st)
	}
	step(t, ctx, "open the session signed out", chromedp.Navigate(o.issuer+"/api/session"), waitAtPath(o.issuer+"/sign-in"), chromedp.WaitVisible(signInForm))
}

// sessionWith is the status of GET {issuer}/api/session with cookies.
func sessionWith(t *testing.T, o *oidcOP, cookies []*network.Cookie) int {
	t.Helper()
	req, err := http.NewRequest("GET", o.issuer+"/api/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return o.send(req).status
}
