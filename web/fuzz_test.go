package web_test

// Fuzz targets for the parsers of untrusted input at the HTTP edge: JSON
// bodies, the Cookie and Authorization headers, form bodies and query
// strings. Each target builds one edge (SQLite, cheap hashing, no abuse
// limits, a fixed clock) before f.Fuzz and serves every input in process
// with httptest.NewRecorder: no network, a few requests per input.
//
// Inputs are limited to what net/http's server would deliver to a
// handler: a header value with a control character other than HTAB is
// refused by the server with 400 before any handler runs, so such inputs
// are skipped, and header values lose their surrounding spaces and tabs as
// they would on the wire. A raw query string that url.ParseRequestURI
// refuses is skipped for the same reason.
//
// Seeds run with every `go test`; their corpora are in
// testdata/fuzz/<FuzzName>/ as well as in the f.Add calls below.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/web"
	"golang.org/x/net/html"
)

// fuzzOrigin is the edge's own origin: authtest's default PublicURL.
const fuzzOrigin = "http://localhost:8080"

// fuzzCookie is the session cookie's name in development mode.
const fuzzCookie = "gatehouse_session"

// tokenPlaceholder in a Cookie or Authorization seed stands for the one
// valid session token of the target's edge, which is random per run.
const tokenPlaceholder = "{token}"

// jwtPlaceholder in an Authorization seed stands for a valid access token
// minted from that session.
const jwtPlaceholder = "{jwt}"

// fuzzEnv is the edge one fuzz target feeds. It is built once per fuzz
// process and shared by every input, so the inputs run one after another
// against a database that keeps what earlier inputs created.
type fuzzEnv struct {
	auth    *gatehouse.Auth
	handler http.Handler
	// accounts numbers the accounts newSession creates.
	accounts int
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	clock := authtest.NewClock(time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC))
	auth := authtest.New(f, gatehouse.Config{}, gatehouse.WithClock(clock), gatehouse.WithoutAbuseLimitsForTests())
	h := web.New(auth)
	mux := http.NewServeMux()
	mux.Handle("/auth/", h)
	mux.Handle("/app/", h.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := gatehouse.UserFrom(r.Context())
		fmt.Fprintf(w, "hello %s", u.Email)
	})))
	return &fuzzEnv{auth: auth, handler: mux}
}

// newSession creates an account with goodPassword and the given roles,
// signs it in and returns the session token and the address.
func (e *fuzzEnv) newSession(tb testing.TB, roles ...string) (token, email string) {
	tb.Helper()
	e.accounts++
	email = fmt.Sprintf("fuzz-%d@example.com", e.accounts)
	if _, err := e.auth.CreateUser(context.Background(), gatehouse.NewUser{Email: email, Password: goodPassword, Roles: roles, EmailVerified: true}); err != nil {
		tb.Fatalf("create %s: %v", email, err)
	}
	if token = e.signIn(tb, email); token == "" {
		tb.Fatalf("cannot sign in %s", email)
	}
	return token, email
}

// signIn returns a new session token for email, or "" when its password
// is no longer goodPassword or the account is gone.
func (e *fuzzEnv) signIn(tb testing.TB, email string) string {
	tb.Helper()
	res, err := e.auth.SignIn(context.Background(), gatehouse.SignInInput{Email: email, Password: goodPassword})
	switch {
	case gatehouse.ErrorCode(err) == gatehouse.CodeInvalidCredentials:
		return ""
	case err != nil || res.Token == "":
		tb.Fatalf("sign in %s: %v (status %q)", email, err, res.Status)
	}
	return res.Token
}

// valid reports whether token still authenticates.
func (e *fuzzEnv) valid(tb testing.TB, token string) bool {
	tb.Helper()
	_, err := e.auth.Authenticate(context.Background(), token)
	if err != nil && gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated {
		tb.Fatalf("authenticate: %v", err)
	}
	return err == nil
}

func (e *fuzzEnv) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w
}

// wireHeader returns v as a handler would see it after net/http's server
// read it, and false when the server would refuse the request instead
// (a control character other than HTAB in a field value).
func wireHeader(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", false
		}
	}
	return strings.Trim(v, " \t"), true
}

// wireHeaders splits v at newlines into the values of one repeated header
// field, as wireHeader sees each; false when any would be refused.
func wireHeaders(v string) ([]string, bool) {
	var out []string
	for line := range strings.SplitSeq(v, "\n") {
		w, ok := wireHeader(line)
		if !ok {
			return nil, false
		}
		out = append(out, w)
	}
	return out, true
}

// catalogue is the status of every error code as errors.go documents it.
var catalogue = map[gatehouse.Code]int{
	gatehouse.CodeInvalidRequest:           400,
	gatehouse.CodeInvalidEmail:             400,
	gatehouse.CodeInvalidPassword:          400,
	gatehouse.CodeInvalidName:              400,
	gatehouse.CodeInvalidToken:             400,
	gatehouse.CodeUnauthenticated:          401,
	gatehouse.CodeInvalidCredentials:       401,
	gatehouse.CodeInvalidAccessToken:       401,
	gatehouse.CodeForbidden:                403,
	gatehouse.CodeCrossOrigin:              403,
	gatehouse.CodeReauthenticationRequired: 403,
	gatehouse.CodeAccountDisabled:          403,
	gatehouse.CodeEmailNotVerified:         403,
	gatehouse.CodeIncorrectPassword:        403,
	gatehouse.CodeNotFound:                 404,
	gatehouse.CodeMethodNotAllowed:         405,
	gatehouse.CodeEmailTaken:               409,
	gatehouse.CodeBodyTooLarge:             413,
	gatehouse.CodeUnsupportedMediaType:     415,
	gatehouse.CodeRateLimited:              429,
	gatehouse.CodeInternal:                 500,
	gatehouse.CodeOverloaded:               503,
	gatehouse.CodeUnavailable:              503,
}

// leaks are fragments of Go error text (encoding/json, database drivers,
// the runtime) that must never reach a client, compared in lower case.
var leaks = []string{"json:", "sql", "runtime", "invalid character", "goroutine", "panic", "cannot unmarshal", "go struct", "unexpected end of", ".go:"}

// reflectedName returns the part of an error message that repeats the
// client's own input: the decoder names an unknown or mistyped field, and
// a field name is any text the client chose ("" when msg names none).
func reflectedName(msg string) string {
	rest, ok := strings.CutPrefix(msg, "The field ")
	if !ok {
		return ""
	}
	for _, suffix := range []string{" is not accepted here.", " has the wrong type."} {
		if name, ok := strings.CutSuffix(rest, suffix); ok {
			return name
		}
	}
	return ""
}

// checkNoLeak fails when s, with the client's own text removed, carries
// Go internals.
func checkNoLeak(t *testing.T, what, s, own string) {
	t.Helper()
	if own != "" {
		s = strings.ReplaceAll(s, own, "")
	}
	s = strings.ToLower(s)
	for _, l := range leaks {
		if strings.Contains(s, l) {
			t.Fatalf("%s %q carries %q", what, s, l)
		}
	}
}

// checkHeaders fails on a response header that could split the response:
// a value holding CR or LF (from a reflected cookie, Location, …).
func checkHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for k, vs := range w.Header() {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("header %s: %q holds a line break", k, v)
			}
		}
	}
}

// checkJSONError checks that w is the JSON error shape with a code from
// the catalogue that maps to w's status, and no Go internals. It returns
// the code.
func checkJSONError(t *testing.T, w *httptest.ResponseRecorder) gatehouse.Code {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q: %q", w.Code, ct, w.Body)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 1 || body["error"] == nil {
		t.Fatalf("status %d: not the error shape: %q", w.Code, w.Body)
	}
	var e map[string]string
	if err := json.Unmarshal(body["error"], &e); err != nil {
		t.Fatalf("status %d: error is not an object of strings: %q", w.Code, w.Body)
	}
	for k := range e {
		if k != "code" && k != "message" && k != "field" {
			t.Fatalf("status %d: error has %q: %q", w.Code, k, w.Body)
		}
	}
	code := gatehouse.Code(e["code"])
	st, ok := catalogue[code]
	if !ok {
		t.Fatalf("status %d: code %q is not in the catalogue: %q", w.Code, code, w.Body)
	}
	if st != w.Code {
		t.Fatalf("code %q answered %d, documented %d", code, w.Code, st)
	}
	if e["message"] == "" {
		t.Fatalf("status %d: empty message: %q", w.Code, w.Body)
	}
	own := reflectedName(e["message"])
	checkNoLeak(t, "message", e["message"], own)
	checkNoLeak(t, "field", e["field"], own)
	return code
}

// checkLocation fails unless loc keeps the browser on this site: a path
// ("/x", never "//x" nor "/\x") or a URL of the edge's own origin.
func checkLocation(t *testing.T, loc string) {
	t.Helper()
	u, err := url.Parse(loc)
	switch {
	case err != nil:
		t.Fatalf("Location %q does not parse: %v", loc, err)
	case u.User != nil:
		t.Fatalf("Location %q carries userinfo", loc)
	case u.Host != "" || u.Scheme != "":
		if u.Scheme+"://"+u.Host != fuzzOrigin {
			t.Fatalf("Location %q leaves the site", loc)
		}
	case !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, `\`):
		t.Fatalf("Location %q is not a path on this site", loc)
	}
}

// pageTags are the elements the hosted pages' templates use. Any other
// element in a page, or an event-handler attribute, or a javascript: or
// data: URL, is markup that came from the input unescaped. (A template
// that starts using another element must add it here.)
var pageTags = map[string]bool{
	"a": true, "body": true, "button": true, "dd": true, "div": true, "dl": true, "dt": true, "form": true,
	"h1": true, "h2": true, "h3": true, "head": true, "html": true, "input": true, "label": true, "li": true,
	"link": true, "main": true, "meta": true, "p": true, "pre": true, "section": true, "span": true,
	"strong": true, "title": true, "ul": true, "header": true, "footer": true, "nav": true, "img": true,
}

// checkPage checks that w is an HTML page, or a redirect that stays on the
// site, and that its body holds no markup from the input: only the
// templates' elements, no on* attribute, no script URL.
func checkPage(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code == http.StatusSeeOther {
		checkLocation(t, w.Header().Get("Location"))
	} else if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("status %d with Content-Type %q: %q", w.Code, ct, w.Body)
	}
	z := html.NewTokenizer(bytes.NewReader(w.Body.Bytes()))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if !pageTags[tok.Data] {
				t.Fatalf("status %d: the page holds <%s>: %s", w.Code, tok.Data, w.Body)
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				isURL := a.Key == "href" || a.Key == "src" || a.Key == "action" || a.Key == "formaction"
				if strings.HasPrefix(a.Key, "on") || isURL && (strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "vbscript:")) {
					t.Fatalf("status %d: <%s %s=%q>: %s", w.Code, tok.Data, a.Key, a.Val, w.Body)
				}
			}
		}
	}
}

// apiEndpoints are the JSON endpoints that read a body (routes.go).
// Private ones get the target's session cookie. Public ones get none: with
// one, a successful sign-in or sign-up would replace it, which is the
// session-fixation contract tested elsewhere.
var apiEndpoints = []struct {
	method, path string
	private      bool
}{
	{"POST", "/auth/api/sign-up", false},
	{"POST", "/auth/api/sign-in", false},
	{"POST", "/auth/api/sign-out", true},
	{"POST", "/auth/api/reauthenticate", true},
	{"POST", "/auth/api/password/change", true},
	{"POST", "/auth/api/password/forgot", false},
	{"POST", "/auth/api/password/reset", false},
	{"POST", "/auth/api/email/verify", false},
	{"POST", "/auth/api/email/verify/send", false},
	{"POST", "/auth/api/email/change", true},
	{"POST", "/auth/api/email/change/confirm", false},
	{"PATCH", "/auth/api/user", true},
	{"POST", "/auth/api/user/delete", true},
}

// FuzzAPIBodies sends any body with any Content-Type to each JSON endpoint
// under /auth/api/ (endpoint picks one of apiEndpoints, modulo their
// number). Properties:
//
//   - no panic, and no 5xx at all: hashing is cheap and inputs arrive one
//     at a time, so the hashing pool never sheds (503 overloaded) here;
//   - no redirect, and a private endpoint never refuses the valid session
//     (401);
//   - 204 has no body; anything else is application/json and valid JSON;
//   - every 4xx is the error shape {"error":{"code","message","field"}}
//     with a code from the catalogue whose documented status is the one
//     answered, and no Go internals ("json:", "sql", "runtime", "invalid
//     character"…) outside the field name the client itself sent;
//   - a refused request leaves the session valid.
//
// A successful sign-out, re-authentication, password change or account
// deletion ends the session; the next input to a private endpoint then
// signs in again (on a new account when the password changed or the
// account is gone), so every input meets a valid session.
func FuzzAPIBodies(f *testing.F) {
	for i, body := range []string{
		`{"email":"seed@example.com","password":"correct horse battery staple","name":"Ada"}`,
		`{"email":"fuzz-1@example.com","password":"correct horse battery staple"}`,
		``,
		`{"password":"correct horse battery staple"}`,
		`{"current_password":"wrong password here","new_password":"another fine passphrase"}`,
		`{"email":"fuzz-1@example.com"}`,
		`{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","password":"another fine passphrase"}`,
		`{"token":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"email":"nobody@example.com"}`,
		`{"email":"new@example.com"}`,
		`{"token":"' OR 1=1 --"}`,
		`{"name":"Grace"}`,
		`{}`,
	} {
		f.Add(byte(i), []byte(body), "application/json")
	}
	// Seeds stay a few KiB at most: in fuzzing mode every corpus entry is
	// mutated and minimized, and one of 64 KiB stalls the workers for
	// seconds. TestContract pins the 64 KiB body limit (413).
	f.Add(byte(1), []byte(strings.Repeat("[", 1000)+strings.Repeat("]", 1000)), "application/json")
	f.Add(byte(11), []byte(`{"`+strings.Repeat("k", 100)+`":1}`), "application/json")
	f.Add(byte(5), []byte(`{"email":"a@example.com"}`), "text/plain")

	e := newFuzzEnv(f)
	token, email := e.newSession(f)
	f.Fuzz(func(t *testing.T, endpoint byte, body []byte, contentType string) {
		ct, ok := wireHeader(contentType)
		if !ok {
			return
		}
		ep := apiEndpoints[int(endpoint)%len(apiEndpoints)]
		r := httptest.NewRequest(ep.method, ep.path, bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if ep.private {
			if !e.valid(t, token) {
				if token = e.signIn(t, email); token == "" {
					token, email = e.newSession(t)
				}
			}
			r.Header.Set("Cookie", fuzzCookie+"="+token)
		}
		w := e.serve(r)
		checkHeaders(t, w)
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %s: %d %q", ep.method, ep.path, w.Code, w.Body)
		case w.Code < 200 || (w.Code >= 300 && w.Code < 400):
			t.Fatalf("%s %s: status %d", ep.method, ep.path, w.Code)
		case w.Code == http.StatusNoContent:
			if w.Body.Len() != 0 {
				t.Fatalf("%s %s: 204 with a body %q", ep.method, ep.path, w.Body)
			}
		case w.Code >= 400:
			code := checkJSONError(t, w)
			if ep.private && code == gatehouse.CodeUnauthenticated {
				t.Fatalf("%s %s refused the valid session: %q", ep.method, ep.path, w.Body)
			}
		default:
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s: %d with Content-Type %q: %q", ep.method, ep.path, w.Code, ct, w.Body)
			}
		}
		if ep.private && w.Code >= 400 && !e.valid(t, token) {
			t.Fatalf("%s %s answered %d and ended the session", ep.method, ep.path, w.Code)
		}
	})
}

// FuzzSessionCookie sends any Cookie header (newlines separate repeated
// Cookie fields; {token} stands for the one valid session token) to GET
// /auth/api/session and to a route behind Require, each as an API call and
// as a browser navigation (Accept: text/html). Properties:
//
//   - no panic, no 5xx;
//   - 200 exactly when the first gatehouse_session cookie net/http finds
//     holds the valid token, and never unless the header holds it; the
//     answer then names the session's user;
//   - otherwise 401 with WWW-Authenticate and the JSON error
//     "unauthenticated", or for a browser navigation 303 to the sign-in
//     page.
func FuzzSessionCookie(f *testing.F) {
	for _, s := range []string{
		"gatehouse_session={token}",
		"gatehouse_session=junk; gatehouse_session={token}",
		"gatehouse_session={token}; gatehouse_session=junk",
		"theme=dark; gatehouse_session={token}; lang=en",
		"gatehouse_session=junk\ngatehouse_session={token}",
		"gatehouse_session=\"{token}\"",
		"GATEHOUSE_SESSION={token}",
		"__Host-gatehouse_session={token}",
		"gatehouse_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"gatehouse_session=",
		"",
	} {
		f.Add(s)
	}
	f.Add("gatehouse_session=" + strings.Repeat("A", 8<<10))
	f.Add(strings.Repeat("a=b; ", 500) + "gatehouse_session={token}")

	e := newFuzzEnv(f)
	token, email := e.newSession(f)
	routes := []string{"/auth/api/session", "/app/notes"}
	f.Fuzz(func(t *testing.T, cookies string) {
		values, ok := wireHeaders(strings.ReplaceAll(cookies, tokenPlaceholder, token))
		if !ok {
			return
		}
		for _, path := range routes {
			for _, browser := range []bool{false, true} {
				r := httptest.NewRequest("GET", path, nil)
				for _, v := range values {
					r.Header.Add("Cookie", v)
				}
				if browser {
					r.Header.Set("Accept", "text/html,application/xhtml+xml")
				}
				c, err := r.Cookie(fuzzCookie)
				valid := err == nil && c.Value == token
				w := e.serve(r)
				checkHeaders(t, w)
				switch {
				case w.Code >= 500:
					t.Fatalf("GET %s: %d %q", path, w.Code, w.Body)
				case valid && w.Code != http.StatusOK:
					t.Fatalf("GET %s with the valid cookie first: %d %q", path, w.Code, w.Body)
				case valid:
					if !strings.Contains(w.Body.String(), email) {
						t.Fatalf("GET %s: 200 without the user: %q", path, w.Body)
					}
				case w.Code == http.StatusOK:
					t.Fatalf("GET %s: 200 for Cookie %q", path, values)
				case browser:
					if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/auth/sign-in") {
						t.Fatalf("GET %s as a browser: %d, Location %q", path, w.Code, w.Header().Get("Location"))
					}
				default:
					if code := checkJSONError(t, w); code != gatehouse.CodeUnauthenticated || w.Header().Get("WWW-Authenticate") == "" {
						t.Fatalf("GET %s: %d %q, WWW-Authenticate %q", path, w.Code, code, w.Header().Get("WWW-Authenticate"))
					}
				}
				if w.Code == http.StatusOK && !strings.Contains(strings.Join(values, "\n"), token) {
					t.Fatalf("GET %s: 200 for Cookie %q, which lacks the token", path, values)
				}
			}
		}
	})
}

// FuzzAuthorizationHeader sends any Authorization header (newlines
// separate repeated fields; {token} stands for the valid session token,
// {jwt} for a valid access token minted from that session) to GET
// /auth/api/session and to a route behind Require, without a cookie and
// with the valid one. Every Authorization field is read: several Bearer
// credentials are refused together. Properties:
//
//   - no panic, no 5xx;
//   - a Bearer credential (the scheme case-insensitive and followed by a
//     space, or alone; RFC 6750 §2.1) is authoritative: 200 for the
//     user exactly when the credential, without its surrounding spaces,
//     is the valid access token — with or without the cookie; anything
//     else, the session token included, is 401 with the JSON error
//     "invalid_access_token" and WWW-Authenticate: Bearer
//     error="invalid_token", even with the valid cookie;
//   - any other scheme (a proxy's Basic, Digest, "Bearer" glued to the
//     token) is ignored and the cookie decides: with it 200, without it
//     401 "unauthenticated" with WWW-Authenticate;
//   - a 200 names the session's user.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{
		"Bearer {token}",
		"bearer {token}",
		"Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c3JfMSIsImFkbWluIjp0cnVlfQ.",
		"Basic YWRtaW46YWRtaW4=",
		"Basic Og==",
		"Bearer ",
		"Bearer",
		"",
		"gatehouse_session={token}",
		"Bearer {token}\nBasic YWRtaW46YWRtaW4=",
		"Bearer ťöķéñ",
		"Digest username=\"admin\", realm=\"gatehouse\", response=\"x\"",
		"Bearer {jwt}",
		"bearer {jwt}",
		"BEARER {jwt}",
		"Bearer   {jwt}",
		"Bearer{jwt}",
		"Bearer\t{jwt}",
		"Bearer {jwt}.",
		"Bearer {jwt}x",
		"Bearer {jwt}.{jwt}",
		"Bearer {jwt} {jwt}",
		"Bearer {jwt}, Basic YWRtaW46YWRtaW4=",
		"Bearer {jwt}\nBasic YWRtaW46YWRtaW4=",
		"Basic YWRtaW46YWRtaW4=\nBearer {jwt}",
		"Bearer {jwt}\nBearer junk",
		"Token {jwt}",
		"gatehouse_session={jwt}",
	} {
		f.Add(s)
	}
	f.Add("Bearer " + strings.Repeat("A", 8<<10))

	e := newFuzzEnv(f)
	token, email := e.newSession(f)
	p, err := e.auth.Authenticate(context.Background(), token)
	if err != nil {
		f.Fatal(err)
	}
	// The fuzz clock never moves, so the token stays valid for the run.
	jwt, err := e.auth.Token(gatehouse.WithPrincipal(context.Background(), p))
	if err != nil {
		f.Fatal(err)
	}
	routes := []string{"/auth/api/session", "/app/notes"}
	f.Fuzz(func(t *testing.T, authorization string) {
		values, ok := wireHeaders(strings.NewReplacer(tokenPlaceholder, token, jwtPlaceholder, jwt.Token).Replace(authorization))
		if !ok {
			return
		}
		// Every Bearer field counts: one decides, two or more are refused.
		credential, isBearer, bearers := "", false, 0
		for _, v := range values {
			if c, ok := bearerCredential(v); ok {
				credential, isBearer = c, true
				bearers++
			}
		}
		if bearers > 1 {
			credential = ""
		}
		for _, path := range routes {
			for _, withCookie := range []bool{false, true} {
				r := httptest.NewRequest("GET", path, nil)
				for _, v := range values {
					r.Header.Add("Authorization", v)
				}
				if withCookie {
					r.Header.Set("Cookie", fuzzCookie+"="+token)
				}
				w := e.serve(r)
				checkHeaders(t, w)
				switch {
				case w.Code >= 500:
					t.Fatalf("GET %s: %d %q", path, w.Code, w.Body)
				case isBearer && credential == jwt.Token, !isBearer && withCookie:
					if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), email) {
						t.Fatalf("GET %s (Authorization %q, cookie %v): %d %q, want 200 for %s", path, values, withCookie, w.Code, w.Body, email)
					}
				case isBearer:
					if code := checkJSONError(t, w); code != gatehouse.CodeInvalidAccessToken || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
						t.Fatalf("GET %s (Authorization %q, cookie %v): %d %q, WWW-Authenticate %q; want 401 invalid_access_token", path, values, withCookie, w.Code, code, w.Header().Get("WWW-Authenticate"))
					}
				default:
					if code := checkJSONError(t, w); code != gatehouse.CodeUnauthenticated || w.Header().Get("WWW-Authenticate") == "" {
						t.Fatalf("GET %s (Authorization %q) without a cookie: %d %q, WWW-Authenticate %q", path, values, w.Code, code, w.Header().Get("WWW-Authenticate"))
					}
				}
			}
		}
	})
}

// bearerCredential reads an Authorization field value as RFC 9110 §11.4
// does: the scheme runs to the first space. It returns the credential,
// without surrounding spaces, and whether the scheme is Bearer (in any
// case).
func bearerCredential(v string) (string, bool) {
	scheme, credential, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(credential), true
}

// formPages are the hosted forms anyone can post.
var formPages = []string{"/auth/sign-in", "/auth/sign-up", "/auth/forgot-password", "/auth/verify-email/send", "/auth/language"}

// FuzzFormPages posts any urlencoded body, same-origin, to each public
// form (page picks one of formPages, modulo their number). Properties: no
// panic, no 5xx; the answer is a 303 that stays on the site, or a 4xx HTML
// page reflecting no markup.
func FuzzFormPages(f *testing.F) {
	for i, body := range []string{
		"email=fuzz-0%40example.com&password=wrong+password+here",
		"email=page%40example.com&password=correct+horse+battery+staple&name=Ada&redirect_to=%2Fapp%2Fx",
		"email=nobody%40example.com",
		"email=nobody%40example.com",
	} {
		f.Add(byte(i), body)
	}
	f.Add(byte(1), "email=big%40example.com&password=correct+horse+battery+staple&name="+strings.Repeat("a", 4<<10))

	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, page byte, body string) {
		path := formPages[int(page)%len(formPages)]
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", fuzzOrigin)
		w := e.serve(r)
		checkHeaders(t, w)
		if w.Code >= 500 || (w.Code < 400 && w.Code != http.StatusSeeOther) {
			t.Fatalf("POST %s: %d %q", path, w.Code, w.Body)
		}
		checkPage(t, w)
	})
}

// queryTargets are the GET routes whose query string FuzzQueryParams
// fuzzes, anonymously or with the admin's session.
var queryTargets = []struct {
	path     string
	signedIn bool
}{
	{"/auth/sign-in", false},
	{"/auth/sign-in", true},
	{"/auth/sign-up", false},
	{"/auth/check-email", false},
	{"/auth/account", true},
	{"/auth/reset-password", false},
	{"/auth/verify-email", false},
	{"/auth/confirm-email-change", false},
	{"/auth/api/admin/audit", true},
}

// auditSeed are events planted for the audit endpoint's filters: values
// with LIKE wildcards and look-alikes next to the values they resemble.
var auditSeed = []gatehouse.AuditEvent{
	{ID: "aud_seed01", Type: gatehouse.EventSignIn, ActorID: "usr_a", SubjectID: "usr_a", IP: "192.0.2.1"},
	{ID: "aud_seed02", Type: gatehouse.EventSignInFailed, IP: "192.0.2.10", Reason: "unknown_user"},
	{ID: "aud_seed03", Type: gatehouse.EventSignUp, ActorID: "usr_a%", SubjectID: "usr_a%", IP: "2001:db8::1"},
	{ID: "aud_seed04", Type: gatehouse.EventRoleChanged, ActorID: "admin:cli", SubjectID: "usr_b_c", IP: "10.0.0.1", Reason: "admin"},
	{ID: "aud_seed05", Type: "sign_in%", ActorID: "usr_bxc", IP: "10.0.0._"},
}

// FuzzQueryParams sends any query string to the GET pages that read one
// (target picks one of queryTargets, modulo their number) and to the
// admin audit endpoint as an admin. Properties: no panic, no 5xx; a page
// is HTML reflecting no markup (nothing like <script from the query) or a
// 303 that stays on the site; the audit endpoint answers 400 in the error
// shape, or 200 with only events that match its filters exactly (no LIKE
// wildcards, no injection) and no more than its limit.
func FuzzQueryParams(f *testing.F) {
	for i, q := range []string{
		"redirect_to=%2Fapp%2Fnotes%3Fx%3D1",
		"redirect_to=%2F%2Fevil.example",
		"notice=email_verified",
		"for=reset",
		"notice=email_changed",
		"token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"",
		"token=x",
		"type=sign_in,sign_up&limit=2",
	} {
		f.Add(byte(i), q)
	}

	e := newFuzzEnv(f)
	token, _ := e.newSession(f, "admin")
	now := e.auth.Now()
	for i, ev := range auditSeed {
		ev.At = now.Add(-time.Duration(i) * time.Minute)
		if err := e.auth.Store().AppendAudit(context.Background(), []gatehouse.AuditEvent{ev}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, target byte, rawQuery string) {
		tg := queryTargets[int(target)%len(queryTargets)]
		u, err := url.ParseRequestURI(tg.path + "?" + rawQuery)
		if err != nil || u.Path != tg.path {
			return
		}
		r := httptest.NewRequest("GET", tg.path, nil)
		r.URL, r.RequestURI = u, u.RequestURI()
		r.Header.Set("Accept", "text/html,application/xhtml+xml")
		if tg.signedIn {
			r.Header.Set("Cookie", fuzzCookie+"="+token)
		}
		w := e.serve(r)
		checkHeaders(t, w)
		if w.Code >= 500 {
			t.Fatalf("GET %s: %d %q", u, w.Code, w.Body)
		}
		if strings.HasPrefix(tg.path, "/auth/api/") {
			checkAudit(t, u.Query(), w)
			return
		}
		checkPage(t, w)
	})
}

// checkAudit checks an answer of GET /auth/api/admin/audit to query q.
func checkAudit(t *testing.T, q url.Values, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK {
		if code := checkJSONError(t, w); w.Code != 400 || code != gatehouse.CodeInvalidRequest {
			t.Fatalf("audit %v: %d %q", q, w.Code, w.Body)
		}
		return
	}
	var out struct {
		Events []web.AuditEventJSON `json:"events"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("audit %v: %v: %q", q, err, w.Body)
	}
	var types []string
	for _, v := range q["type"] {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				types = append(types, part)
			}
		}
	}
	since, _ := time.Parse(time.RFC3339, q.Get("since"))
	until, _ := time.Parse(time.RFC3339, q.Get("until"))
	// The limit as the endpoint reads it: decimal, so "08" is 8 (fmt.Sscan
	// would read a leading 0 as octal).
	limit := 100
	if n, err := strconv.Atoi(q.Get("limit")); err == nil {
		limit = n
	}
	if len(out.Events) > limit {
		t.Fatalf("audit %v: %d events over the limit", q, len(out.Events))
	}
	for _, ev := range out.Events {
		switch {
		case len(types) > 0 && !slices.Contains(types, ev.Type):
			t.Fatalf("audit %v: event of type %q", q, ev.Type)
		case q.Get("ip") != "" && ev.IP != q.Get("ip"):
			t.Fatalf("audit %v: event from %q", q, ev.IP)
		case q.Get("user_id") != "" && ev.ActorID != q.Get("user_id") && ev.SubjectID != q.Get("user_id"):
			t.Fatalf("audit %v: event of %q/%q", q, ev.ActorID, ev.SubjectID)
		case !since.IsZero() && ev.At.Before(since.Truncate(time.Millisecond)):
			t.Fatalf("audit %v: event at %s", q, ev.At)
		case !until.IsZero() && !ev.At.Before(until):
			t.Fatalf("audit %v: event at %s", q, ev.At)
		}
	}
}
