package attack_test

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// csrfVictim is a signed-in user whose browser a cross-origin page tries
// to make do something, with a second session of the same user and the
// addresses a forged request would use.
type csrfVictim struct {
	s     *Server
	name  string
	email string // the account's address
	fresh string // an address without an account
	moved string // the address an email change moves to
	c     *Client
	// other is another browser signed in to the same account.
	other   *Client
	otherID string
	// token is an emailed link's token, when the case's prepare got one.
	token string
}

// csrfAttacker is an account whose credentials a login-CSRF page submits.
const csrfAttacker = "csrf-attacker@example.com"

// newPassword is what forged password changes and resets try to set.
const newPassword = "attacker chosen passphrase"

func newCSRFVictim(t *testing.T, s *Server, name string) *csrfVictim {
	t.Helper()
	v := &csrfVictim{s: s, name: name, email: name + "@example.com", fresh: "new-" + name + "@example.com", moved: "moved-" + name + "@example.net"}
	v.c = s.Client()
	v.c.SignUp(v.email)
	v.other = s.Client()
	mustSignIn(t, v.other, v.email)
	_, v.otherID, _ = whoami(t, v.other)
	return v
}

// csrfState is what a refused request must leave as it was.
type csrfState struct {
	cookie, user, session string
	profile               map[string]any
	sessions              int
}

func (v *csrfVictim) state(t *testing.T) csrfState {
	t.Helper()
	user, session, ok := whoami(t, v.c)
	if !ok {
		t.Fatal("the victim is not signed in")
	}
	return csrfState{cookie: v.c.Cookie(SessionCookie), user: user, session: session, profile: profile(t, v.c), sessions: len(sessionList(t, v.c))}
}

// csrfRoute is one state-changing route and how to drive it.
type csrfRoute struct {
	// route is the method and pattern as registered, under /auth.
	route string
	// prepare readies what the request needs (a link's token, a link cookie).
	prepare func(t *testing.T, v *csrfVictim)
	// request returns the concrete path and body (url.Values for a page's
	// form, anything else for the JSON API).
	request func(v *csrfVictim) (string, any)
	// legit is the status of the same request made from the site itself.
	legit int
	// effect checks that the same-origin request did its work (nil: the
	// status says it all).
	effect func(t *testing.T, v *csrfVictim)
}

func (rt csrfRoute) page() bool { return !strings.Contains(rt.route, " /auth/api/") }

func otherSessionDead(t *testing.T, v *csrfVictim) {
	t.Helper()
	if alive(t, v.other) {
		t.Error("the other session survived")
	}
}

func victimSignedOut(t *testing.T, v *csrfVictim) {
	t.Helper()
	if alive(t, v.c) {
		t.Error("the victim is still signed in")
	}
}

// sendForgot asks for a reset link from the site itself and returns its token.
func sendForgot(t *testing.T, v *csrfVictim) {
	t.Helper()
	if r := v.s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": v.email}, sameOriginHeaders(v.s)...); r.Status != 202 {
		t.Fatalf("forgot: %d %s", r.Status, r.Body)
	}
	v.token = linkToken(t, v.s, "password_reset", v.email, "/reset-password", 0)
}

// sendEmailChange asks for an email change from the site itself and
// returns the confirmation link's token.
func sendEmailChange(t *testing.T, v *csrfVictim) {
	t.Helper()
	if r := v.c.Do("POST", "/auth/api/email/change", map[string]string{"email": v.moved}, sameOriginHeaders(v.s)...); r.Status != 202 {
		t.Fatalf("email change: %d %s", r.Status, r.Body)
	}
	v.token = linkToken(t, v.s, "email_change", v.moved, "/confirm-email-change", 0)
}

func signUpToken(t *testing.T, v *csrfVictim) {
	t.Helper()
	v.token = linkToken(t, v.s, "verify_email", v.email, "/verify-email", 0)
}

// openLink opens an emailed link in the victim's browser: the page keeps
// the token in its link cookie for the form to use.
func openLink(page string, get func(*testing.T, *csrfVictim)) func(*testing.T, *csrfVictim) {
	return func(t *testing.T, v *csrfVictim) {
		t.Helper()
		get(t, v)
		if r := v.c.Do("GET", "/auth/"+page+"?token="+v.token, nil, "Accept", "text/html"); r.Status != 303 || len(setCookies(t, r, "gatehouse_link")) != 1 {
			t.Fatalf("opening the %s link: %d %v", page, r.Status, r.Header)
		}
	}
}

func emailIs(which func(*csrfVictim) string) func(*testing.T, *csrfVictim) {
	return func(t *testing.T, v *csrfVictim) {
		t.Helper()
		if got := profile(t, v.c)["email"]; got != which(v) {
			t.Errorf("email %v, want %s", got, which(v))
		}
	}
}

func verified(t *testing.T, v *csrfVictim) {
	t.Helper()
	if profile(t, v.c)["email_verified"] != true {
		t.Error("the address is not verified")
	}
}

func mails(kind string, to func(*csrfVictim) string, n int) func(*testing.T, *csrfVictim) {
	return func(t *testing.T, v *csrfVictim) {
		t.Helper()
		expectMailCount(t, v.s, kind, to(v), n)
	}
}

func addr(v *csrfVictim) string  { return v.email }
func moved(v *csrfVictim) string { return v.moved }

// csrfRoutes drives every state-changing route of web/routes.go with a
// request that would succeed from the site itself.
var csrfRoutes = []csrfRoute{
	// The JSON API.
	{route: "POST /auth/api/sign-up", legit: 201, // 201, not 409: no forged request created the account
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/sign-up", map[string]string{"email": v.fresh, "password": Password}
		}},
	{route: "POST /auth/api/sign-in", legit: 200, // login CSRF: into the attacker's account
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/sign-in", map[string]string{"email": csrfAttacker, "password": Password}
		}},
	{route: "POST /auth/api/sign-out", legit: 204, effect: victimSignedOut,
		request: func(v *csrfVictim) (string, any) { return "/auth/api/sign-out", nil }},
	{route: "POST /auth/api/reauthenticate", legit: 200,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/reauthenticate", map[string]string{"password": Password}
		}},
	{route: "DELETE /auth/api/sessions/{id}", legit: 204, effect: otherSessionDead,
		request: func(v *csrfVictim) (string, any) { return "/auth/api/sessions/" + v.otherID, nil }},
	{route: "DELETE /auth/api/sessions", legit: 204, effect: otherSessionDead,
		request: func(v *csrfVictim) (string, any) { return "/auth/api/sessions", nil }},
	{route: "POST /auth/api/password/change", legit: 200, effect: otherSessionDead,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/password/change", map[string]string{"current_password": Password, "new_password": newPassword}
		}},
	{route: "PATCH /auth/api/user", legit: 200,
		request: func(v *csrfVictim) (string, any) { return "/auth/api/user", map[string]string{"name": "Mallory"} },
		effect: func(t *testing.T, v *csrfVictim) {
			if n := profile(t, v.c)["name"]; n != "Mallory" {
				t.Errorf("name %v", n)
			}
		}},
	{route: "POST /auth/api/user/delete", legit: 204, effect: victimSignedOut,
		request: func(v *csrfVictim) (string, any) { return "/auth/api/user/delete", nil }},
	{route: "POST /auth/api/email/verify", legit: 200, prepare: signUpToken, effect: verified,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/email/verify", map[string]string{"token": v.token}
		}},
	{route: "POST /auth/api/email/verify/send", legit: 202, prepare: signUpToken, effect: mails("verify_email", addr, 2),
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/email/verify/send", map[string]string{"email": v.email}
		}},
	{route: "POST /auth/api/password/forgot", legit: 202, effect: mails("password_reset", addr, 1),
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/password/forgot", map[string]string{"email": v.email}
		}},
	{route: "POST /auth/api/password/reset", legit: 200, prepare: sendForgot, effect: victimSignedOut,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/password/reset", map[string]string{"token": v.token, "password": newPassword}
		}},
	{route: "POST /auth/api/email/change", legit: 202, effect: mails("email_change", moved, 1),
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/email/change", map[string]string{"email": v.moved}
		}},
	{route: "POST /auth/api/token", legit: 200, // a token the attacker's page could read
		request: func(v *csrfVictim) (string, any) { return "/auth/api/token", nil }},
	{route: "POST /auth/api/email/change/confirm", legit: 200, prepare: sendEmailChange, effect: emailIs(moved),
		request: func(v *csrfVictim) (string, any) {
			return "/auth/api/email/change/confirm", map[string]string{"token": v.token}
		}},

	// The hosted pages' forms.
	{route: "POST /auth/sign-in", legit: 303,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/sign-in", url.Values{"email": {csrfAttacker}, "password": {Password}}
		}},
	{route: "POST /auth/sign-up", legit: 303,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/sign-up", url.Values{"email": {v.fresh}, "password": {Password}}
		}},
	{route: "POST /auth/sign-out", legit: 303, effect: victimSignedOut,
		request: func(v *csrfVictim) (string, any) { return "/auth/sign-out", url.Values{} }},
	{route: "POST /auth/account/sessions/{id}/revoke", legit: 303, effect: otherSessionDead,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/account/sessions/" + v.otherID + "/revoke", url.Values{}
		}},
	{route: "POST /auth/account/sessions/revoke-others", legit: 303, effect: otherSessionDead,
		request: func(v *csrfVictim) (string, any) { return "/auth/account/sessions/revoke-others", url.Values{} }},
	{route: "POST /auth/account/email", legit: 303, effect: mails("email_change", moved, 1),
		request: func(v *csrfVictim) (string, any) {
			return "/auth/account/email", url.Values{"email": {v.moved}, "password": {Password}}
		}},
	{route: "POST /auth/account/profile", legit: 303,
		request: func(v *csrfVictim) (string, any) { return "/auth/account/profile", url.Values{"name": {"Mallory"}} },
		effect: func(t *testing.T, v *csrfVictim) {
			if n := profile(t, v.c)["name"]; n != "Mallory" {
				t.Errorf("name %v", n)
			}
		}},
	{route: "POST /auth/account/password", legit: 303, effect: otherSessionDead,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/account/password", url.Values{"current_password": {Password}, "new_password": {newPassword}}
		}},
	{route: "POST /auth/account/delete", legit: 303, effect: victimSignedOut,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/account/delete", url.Values{"password": {Password}}
		}},
	{route: "POST /auth/language", legit: 303,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/language", url.Values{"lang": {"fr"}, "return_to": {"/auth/account"}}
		}},
	{route: "POST /auth/forgot-password", legit: 303, effect: mails("password_reset", addr, 1),
		request: func(v *csrfVictim) (string, any) {
			return "/auth/forgot-password", url.Values{"email": {v.email}}
		}},
	{route: "POST /auth/verify-email/send", legit: 303, prepare: signUpToken, effect: mails("verify_email", addr, 2),
		request: func(v *csrfVictim) (string, any) {
			return "/auth/verify-email/send", url.Values{"email": {v.email}}
		}},
	{route: "POST /auth/verify-email", legit: 303, prepare: openLink("verify-email", signUpToken), effect: verified,
		request: func(v *csrfVictim) (string, any) { return "/auth/verify-email", url.Values{} }},
	{route: "POST /auth/reset-password", legit: 303, prepare: openLink("reset-password", sendForgot), effect: victimSignedOut,
		request: func(v *csrfVictim) (string, any) {
			return "/auth/reset-password", url.Values{"password": {newPassword}}
		}},
	{route: "POST /auth/confirm-email-change", legit: 303, prepare: openLink("confirm-email-change", sendEmailChange), effect: emailIs(moved),
		request: func(v *csrfVictim) (string, any) { return "/auth/confirm-email-change", url.Values{} }},
}

// varyHas reports whether r's Vary lists field.
func varyHas(r Reply, field string) bool {
	for _, v := range r.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}

var registered = regexp.MustCompile(`\b(api|page)\("(POST|PUT|PATCH|DELETE) ([^"]+)"`)

// csrfCoveredElsewhere are the state-changing routes of the OpenID Connect
// provider, attacked from another origin by the tests named here, because
// what "refused" means differs per route.
var csrfCoveredElsewhere = map[string]string{
	// No cookie is read; the client authenticates (CORS "*" on purpose).
	"POST /auth/oauth2/token":      "TestOIDCClientAuthentication",
	"POST /auth/oauth2/userinfo":   "TestOIDCTokenConfusion",
	"POST /auth/oauth2/introspect": "TestOIDCEnumeration",
	"POST /auth/oauth2/revoke":     "TestOIDCEnumeration",
	// A relying party's form post: answered with a 303 to the same
	// request as a GET, which a cross-site POST cannot confirm.
	"POST /auth/oauth2/authorize": "TestOIDCConsentCSRFAndFraming",
	"POST /auth/oauth2/logout":    "TestOIDCLogoutRedirectAndCSRF",
	// Refused with 403 like every page form.
	"POST /auth/oauth2/authorize/consent":        "TestOIDCConsentCSRFAndFraming",
	"POST /auth/account/apps/{client_id}/revoke": "TestOIDCAccountAppRevoke",
	"POST /auth/api/admin/clients":               "TestOIDCAdminClientsCSRF",
	"PATCH /auth/api/admin/clients/{id}":         "TestOIDCAdminClientsCSRF",
	"POST /auth/api/admin/clients/{id}/secret":   "TestOIDCAdminClientsCSRF",
	"DELETE /auth/api/admin/clients/{id}":        "TestOIDCAdminClientsCSRF",
}

// TestCSRFRouteTableComplete keeps the cross-origin attack complete: every
// state-changing route that web/*.go registers is driven by
// TestCSRFEveryStateChangingRoute.
//
// ASVS 5.0: V3.5.1
func TestCSRFRouteTableComplete(t *testing.T) {
	files, err := filepath.Glob("../web/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	covered := slices.Collect(maps.Keys(csrfCoveredElsewhere))
	for _, rt := range csrfRoutes {
		covered = append(covered, rt.route)
	}
	found := registered.FindAllStringSubmatch(string(src), -1)
	if len(found) < 20 {
		t.Fatalf("found only %d state-changing routes in web/*.go: has their shape changed?", len(found))
	}
	oidcTests, err := os.ReadFile("oidc_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for route, test := range csrfCoveredElsewhere {
		if !strings.Contains(string(oidcTests), "func "+test+"(") {
			t.Errorf("%s is said to be attacked by %s, which does not exist", route, test)
		}
	}
	for _, m := range found {
		route := m[2] + " /auth" + m[3]
		if m[1] == "api" {
			route = m[2] + " /auth/api" + m[3]
		}
		if !slices.Contains(covered, route) {
			t.Errorf("%s is not attacked by TestCSRFEveryStateChangingRoute: add it to csrfRoutes", route)
		}
	}
}

// TestCSRFEveryStateChangingRoute makes every state-changing route of the
// API and the pages — sign-in and sign-up (login CSRF) included — from
// another origin, with a signed-in victim's cookie and a body that would
// work: each is refused with 403 cross_origin_request before anything
// happens (no cookie set, the victim still signed in with the same session
// and profile, the other session alive, the password unchanged, the link
// still usable, no mail sent). The same request from the site itself then
// works, which shows the refusal is the origin check's doing.
//
// ASVS 5.0: V3.5.1, V3.5.2, V3.5.3, V3.3.2
func TestCSRFEveryStateChangingRoute(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	s.Client().SignUp(csrfAttacker)
	for i, rt := range csrfRoutes {
		t.Run(rt.route, func(t *testing.T) {
			v := newCSRFVictim(t, s, fmt.Sprintf("victim%d", i))
			if rt.prepare != nil {
				rt.prepare(t, v)
			}
			before := v.state(t)
			path, body := rt.request(v)
			method, _, _ := strings.Cut(rt.route, " ")
			for _, hdr := range crossOriginHeaders(s) {
				r := v.c.Do(method, path, body, hdr...)
				what := fmt.Sprintf("%s %s with %q", method, path, hdr)
				if r.Status != 403 {
					t.Fatalf("%s: %d, want 403; %.300s", what, r.Status, r.Body)
				}
				if rt.page() {
					if !strings.Contains(r.Body, "Cross-origin requests cannot change anything here.") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
						t.Errorf("%s: the refusal page is not the cross-origin one: %s", what, r.Body)
					}
				} else if r.Code() != "cross_origin_request" {
					t.Errorf("%s: code %q, want cross_origin_request", what, r.Code())
				}
				if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
					t.Errorf("%s: the refusal sets cookies: %q", what, sc)
				}
			}
			after := v.state(t)
			if after.cookie != before.cookie || after.user != before.user || after.session != before.session || after.sessions != before.sessions {
				t.Errorf("the refused requests changed the victim's session: %+v, then %+v", before, after)
			}
			if fmt.Sprint(after.profile) != fmt.Sprint(before.profile) {
				t.Errorf("the refused requests changed the profile: %v, then %v", before.profile, after.profile)
			}
			if !alive(t, v.other) {
				t.Error("the refused requests ended the other session")
			}
			if r := apiSignIn(s.Client(), v.email, Password); r.Status != 200 {
				t.Errorf("the password no longer signs in after the refused requests: %d %s", r.Status, r.Body)
			}
			if r := apiSignIn(s.Client(), v.fresh, Password); r.Status != 401 {
				t.Errorf("a refused request created an account: sign-in %d", r.Status)
			}

			r := v.c.Do(method, path, body, sameOriginHeaders(s)...)
			if r.Status != rt.legit {
				t.Fatalf("the same request from the site: %d, want %d; %.300s", r.Status, rt.legit, r.Body)
			}
			if rt.effect != nil {
				rt.effect(t, v)
			}
		})
	}
}

// TestCSRFSafeMethodsChangeNothing sends GET and HEAD, the methods a
// cross-site link, image or top-level navigation can make with the cookie,
// to the path of every state-changing route: none changes anything.
//
// ASVS 5.0: V3.5.3, V4.1.4
func TestCSRFSafeMethodsChangeNothing(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	s.Client().SignUp(csrfAttacker)
	v := newCSRFVictim(t, s, "safe")
	signUpToken(t, v)
	before := v.state(t)
	for _, rt := range csrfRoutes {
		path, _ := rt.request(v)
		for _, method := range []string{"GET", "HEAD"} {
			for _, hdr := range [][]string{{"Accept", "text/html", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"}, {"Accept", "application/json"}} {
				r := v.c.Do(method, path+"?token="+v.token+"&email="+url.QueryEscape(v.email), nil, hdr...)
				switch {
				case r.Status == 405:
				case r.Status == 200 && (path == "/auth/api/sessions" || path == "/auth/api/user"):
					// Their GET reads the list or the profile.
				case rt.page() && (r.Status == 200 || r.Status == 303 || r.Status == 400):
					// The page's own GET: a form, a redirect (the link
					// token moved into a cookie, or a signed-in browser sent
					// on), or "this link is not valid" — none uses anything.
				default:
					t.Errorf("%s %s: %d; %.200s", method, path, r.Status, r.Body)
				}
			}
		}
	}
	after := v.state(t)
	if after.cookie != before.cookie || after.session != before.session || after.sessions != before.sessions || fmt.Sprint(after.profile) != fmt.Sprint(before.profile) {
		t.Errorf("safe methods changed the victim: %+v, then %+v", before, after)
	}
	if !alive(t, v.other) {
		t.Error("a safe method ended the other session")
	}
	if r := apiSignIn(s.Client(), v.email, Password); r.Status != 200 {
		t.Errorf("the password changed: %d", r.Status)
	}
	// The verification link is still unused.
	if r := s.Client().Do("POST", "/auth/api/email/verify", map[string]string{"token": v.token}, sameOriginHeaders(s)...); r.Status != 200 {
		t.Errorf("a GET used the verification link: %d %s", r.Status, r.Body)
	}
}

// TestCrossOriginCORSAllowedOrigin starts a server with a CORS origin: that
// origin may make credentialed state changes through the API (with the
// CORS answer headers), while other origins — look-alikes included — are
// still refused and get no CORS headers.
//
// ASVS 5.0: V3.4.2, V3.5.1
func TestCrossOriginCORSAllowedOrigin(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	s := Start(t, append(Relaxed, "GATEHOUSE_CORS_ALLOWED_ORIGINS="+app)...)
	v := newCSRFVictim(t, s, "cors")

	pre := v.c.Do("OPTIONS", "/auth/api/user", nil, "Origin", app, "Access-Control-Request-Method", "PATCH", "Access-Control-Request-Headers", "content-type")
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != app || pre.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight from %s: %d %v", app, pre.Status, pre.Header)
	}
	for _, origin := range []string{"https://evil.example", "https://app.example.com.evil.example", "http://app.example.com", "https://app.example.com:8443", "null"} {
		pre := v.c.Do("OPTIONS", "/auth/api/user", nil, "Origin", origin, "Access-Control-Request-Method", "PATCH")
		if pre.Header.Get("Access-Control-Allow-Origin") != "" || pre.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s is allowed: %v", origin, pre.Header)
		}
		r := v.c.Do("PATCH", "/auth/api/user", map[string]string{"name": "Forged"}, "Origin", origin, "Sec-Fetch-Site", "cross-site")
		if r.Status != 403 || r.Code() != "cross_origin_request" || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("PATCH from %s: %d %s %v", origin, r.Status, r.Body, r.Header)
		}
		r = v.c.Do("DELETE", "/auth/api/sessions/"+v.otherID, nil, "Origin", origin, "Sec-Fetch-Site", "cross-site")
		if r.Status != 403 || r.Code() != "cross_origin_request" {
			t.Errorf("DELETE session from %s: %d %s", origin, r.Status, r.Body)
		}
	}
	if n := profile(t, v.c)["name"]; n != "" || !alive(t, v.other) {
		t.Fatalf("refused origins changed something: name %v, other alive %v", n, alive(t, v.other))
	}

	r := v.c.Do("PATCH", "/auth/api/user", map[string]string{"name": "From the app"}, "Origin", app, "Sec-Fetch-Site", "cross-site")
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != app || !varyHas(r, "Origin") {
		t.Fatalf("PATCH from the CORS origin: %d %s %v", r.Status, r.Body, r.Header)
	}
	if n := profile(t, v.c)["name"]; n != "From the app" {
		t.Fatalf("name %v", n)
	}
	if r := v.c.Do("DELETE", "/auth/api/sessions/"+v.otherID, nil, "Origin", app, "Sec-Fetch-Site", "cross-site"); r.Status != 204 || alive(t, v.other) {
		t.Fatalf("DELETE session from the CORS origin: %d", r.Status)
	}
}
