package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/internal/testpg"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/gatehouse-auth/gatehouse/web"
)

const goodPassword = "correct horse battery staple"

// env is a running Gatehouse edge plus an embedding app, on loopback.
type env struct {
	t     *testing.T
	auth  *gatehouse.Auth
	h     *web.Handler
	mail  *mailbox.Mailbox
	srv   *httptest.Server
	clock *authtest.Clock
	// seen holds the ids of mails nextMail returned.
	seen map[string]bool
}

// backend is a storage backend the contract runs on.
type backend struct {
	name string
	open func(t testing.TB) gatehouse.Store
}

var backends = []backend{
	{"sqlite", func(t testing.TB) gatehouse.Store { return authtest.Store(t) }},
	{"postgres", func(t testing.TB) gatehouse.Store { return testpg.Store(t) }},
}

// backendCase is one test of a contract that runs on every backend.
type backendCase struct {
	name string
	fn   func(*testing.T, backend)
}

// runOnBackends runs every case on every backend, the cases in parallel.
func runOnBackends(t *testing.T, cases []backendCase) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, b)
				})
			}
		})
	}
}

// TestContract runs the HTTP contract on every backend.
func TestContract(t *testing.T) {
	runOnBackends(t, []backendCase{
		{"SignUpSignInSignOut", testSignUpSignInSignOut},
		{"ProductionCookie", testProductionCookie},
		{"SignUpValidationAndConflict", testSignUpValidationAndConflict},
		{"ParallelSignUpsOneEmail", testParallelSignUpsOneEmail},
		{"SignInFailuresLookAlike", testSignInFailuresLookAlike},
		{"SessionFixationAndRotation", testSessionFixationAndRotation},
		{"SessionsListAndRevoke", testSessionsListAndRevoke},
		{"PasswordChangeRotatesAndRevokes", testPasswordChangeRotatesAndRevokes},
		{"UserProfileAndDeletion", testUserProfileAndDeletion},
		{"Timeouts", testTimeouts},
		{"DisableRevokesSessions", testDisableRevokesSessions},
		{"BodyLimitsAndContentTypes", testBodyLimitsAndContentTypes},
		{"CrossOriginRefused", testCrossOriginRefused},
		{"RequireAndPermissions", testRequireAndPermissions},
		{"PagesFlow", testPagesFlow},
		{"OpenRedirectRefused", testOpenRedirectRefused},
		{"StorageFailureFailsClosed", testStorageFailureFailsClosed},
		{"HostileInput", testHostileInput},
		{"CORS", testCORS},
		{"VerificationRequired", testVerificationRequired},
		{"VerificationLinkHygiene", testVerificationLinkHygiene},
		{"VerificationOptionalAndOff", testVerificationOptionalAndOff},
		{"PasswordReset", testPasswordReset},
		{"ResetLinkHygiene", testResetLinkHygiene},
		{"LinksIgnoreHostHeaders", testLinksIgnoreHostHeaders},
		{"EmailChange", testEmailChange},
		{"NewDeviceNotice", testNewDeviceNotice},
		{"MailPerAddressLimit", testMailPerAddressLimit},
		{"AdminMailReport", testAdminMailReport},
		{"DevMailbox", testDevMailbox},
		{"LinkPagesWithoutJavaScript", testLinkPages},
		{"ThrottleBurst", testThrottleBurst},
		{"ThrottleBackoff", testThrottleBackoff},
		{"IPLimits", testIPLimits},
		{"IdentifierLimits", testIdentifierLimits},
		{"AuditLog", testAuditLog},
		{"AdminAuditEndpoint", testAdminAuditEndpoint},
		{"BreachedPasswords", testBreachedPasswords},
		{"AccountPageForms", testAccountPageForms},
		{"LanguageChoice", testLanguageChoice},
		{"TokenEndpoint", testTokenEndpoint},
		{"TokenClaims", testTokenClaims},
		{"BearerAccess", testBearerAccess},
		{"BearerAttacks", testBearerAttacks},
		{"BearerExpiry", testBearerExpiry},
		{"BearerRevocation", testBearerRevocation},
		{"BearerOtherDeployment", testBearerOtherDeployment},
		{"BearerFailsClosed", testBearerFailsClosed},
	})
}

// newEnv starts an edge over b with cfg. Rate limits and the account
// throttle are off (the contract tests sign up many accounts from one
// address) unless opts turn them on again (abuse tests pass
// gatehouse.WithRateLimiter and their own env).
func newEnv(t *testing.T, b backend, cfg gatehouse.Config, opts ...gatehouse.Option) *env {
	t.Helper()
	return newEnvWeb(t, b, cfg, nil, opts...)
}

// newEnvWeb is newEnv with options for the Handler too.
func newEnvWeb(t *testing.T, b backend, cfg gatehouse.Config, webOpts []web.Option, opts ...gatehouse.Option) *env {
	t.Helper()
	clock := authtest.NewClock(time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC))
	if cfg.Roles == nil {
		cfg.Roles = map[string][]string{"editor": {"notes:write"}}
	}
	auth := authtest.NewWithStore(t, b.open(t), cfg, append([]gatehouse.Option{gatehouse.WithClock(clock), gatehouse.WithoutAbuseLimitsForTests()}, opts...)...)
	mail := authtest.Deliver(t, auth)
	h := web.New(auth, append([]web.Option{web.WithDevMailbox(mail)}, webOpts...)...)
	mux := http.NewServeMux()
	mux.Handle("/auth/", h)
	mux.Handle("/app/", h.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := gatehouse.UserFrom(r.Context())
		fmt.Fprintf(w, "hello %s", u.Email)
	})))
	mux.Handle("POST /api/notes", h.RequirePermission("notes:write", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := gatehouse.Authorize(r.Context(), "notes:write"); err != nil {
			t.Errorf("Authorize inside a guarded handler: %v", err)
		}
		w.WriteHeader(http.StatusCreated)
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, auth: auth, h: h, mail: mail, srv: srv, clock: clock, seen: map[string]bool{}}
}

// client is a cookie-keeping HTTP client that does not follow redirects.
type client struct {
	e   *env
	hc  *http.Client
	jar *cookiejar.Jar
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %s", r.StatusCode, r.body)
	}
	return m
}

// errMessage returns error.message of a JSON error body.
func (r response) errMessage(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// errCode returns error.code of a JSON error body.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (c *client) do(method, path string, body any, hdr ...string) response {
	c.e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		js, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.Header.Get("X-Request-Id") == "" && strings.HasPrefix(path, "/auth/") {
		c.e.t.Errorf("%s %s: no X-Request-Id", method, path)
	}
	return response{res, b}
}

func (c *client) cookie() string {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == "gatehouse_session" {
			return ck.Value
		}
	}
	return ""
}

func (c *client) setCookie(v string) {
	u, _ := url.Parse(c.e.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_session", Value: v, Path: "/"}})
}

func (c *client) signUp(email string) response {
	c.e.t.Helper()
	r := c.do("POST", "/auth/api/sign-up", map[string]string{"email": email, "password": goodPassword, "name": "Ada"})
	if r.StatusCode != http.StatusCreated {
		c.e.t.Fatalf("sign-up %s: %d %s", email, r.StatusCode, r.body)
	}
	return r
}

func want(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	if code != "" {
		if got := r.errCode(t); got != code {
			t.Fatalf("error code %q, want %q; body %s", got, code, r.body)
		}
	}
}

func testSignUpSignInSignOut(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	r := c.signUp("Ada@Example.com")
	body := r.json(t)
	if body["status"] != "signed_in" {
		t.Fatalf("status field %v", body["status"])
	}
	user := body["user"].(map[string]any)
	if user["email"] != "Ada@example.com" || !strings.HasPrefix(user["id"].(string), "usr_") || user["email_verified"] != false {
		t.Fatalf("user %v", user)
	}
	sess := body["session"].(map[string]any)
	if sess["current"] != true || sess["aal"] != float64(1) || fmt.Sprint(sess["amr"]) != "[pwd]" || !strings.HasPrefix(sess["id"].(string), "ses_") {
		t.Fatalf("session %v", sess)
	}
	sc := setCookie(r, "gatehouse_session")
	for _, attr := range []string{"gatehouse_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(sc, attr) {
			t.Errorf("Set-Cookie %q lacks %s", sc, attr)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("development cookie must not be Secure: %q", sc)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}

	want(t, c.do("GET", "/auth/api/session", nil), 200, "")
	token := c.cookie()
	want(t, c.do("POST", "/auth/api/sign-out", nil), 204, "")
	if c.cookie() != "" {
		t.Fatal("sign-out did not clear the cookie")
	}
	// Replaying the old cookie after sign-out fails: it was revoked server-side.
	c.setCookie(token)
	r = c.do("GET", "/auth/api/session", nil)
	want(t, r, 401, "unauthenticated")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	// Sign-out without a session is still 204.
	want(t, e.client().do("POST", "/auth/api/sign-out", nil), 204, "")

	c2 := e.client()
	want(t, c2.do("POST", "/auth/api/sign-in", map[string]string{"email": "ada@EXAMPLE.com", "password": goodPassword}), 200, "")
	want(t, c2.do("GET", "/auth/api/session", nil), 200, "")
}

func testProductionCookie(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{PublicURL: "https://auth.example.com", EmailVerification: gatehouse.VerificationOptional})
	r := e.client().do("POST", "/auth/api/sign-up", map[string]string{"email": "p@example.com", "password": goodPassword})
	want(t, r, 201, "")
	sc := setCookie(r, "__Host-gatehouse_session")
	for _, attr := range []string{"__Host-gatehouse_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Secure"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("Set-Cookie %q lacks %s", sc, attr)
		}
	}
	if strings.Contains(sc, "Domain=") {
		t.Errorf("__Host- cookie must not carry Domain: %q", sc)
	}
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Error("production response without HSTS")
	}
}

func testSignUpValidationAndConflict(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("dup@example.com")
	cases := []struct {
		name  string
		body  any
		code  string
		field string
		st    int
	}{
		{"duplicate, other case", map[string]string{"email": "DUP@example.com", "password": goodPassword}, "email_taken", "email", 409},
		{"bad email", map[string]string{"email": "not-an-email", "password": goodPassword}, "invalid_email", "email", 400},
		{"CRLF in email", map[string]string{"email": "a@x.com\r\nBcc: b@y.com", "password": goodPassword}, "invalid_email", "email", 400},
		{"short password", map[string]string{"email": "s@example.com", "password": "short"}, "invalid_password", "password", 400},
		{"common password", map[string]string{"email": "c@example.com", "password": "password1234"}, "invalid_password", "password", 400},
		{"password with email", map[string]string{"email": "zebracorn@example.com", "password": "zebracorn-is-my-name"}, "invalid_password", "password", 400},
		{"password with product", map[string]string{"email": "g@example.com", "password": "my gatehouse password"}, "invalid_password", "password", 400},
		{"password too long", map[string]string{"email": "l@example.com", "password": strings.Repeat("a", 4097)}, "invalid_password", "password", 400},
		{"name with control", map[string]string{"email": "n@example.com", "password": goodPassword, "name": "a\x00b"}, "invalid_name", "name", 400},
		{"unknown field", map[string]any{"email": "u@example.com", "password": goodPassword, "roles": []string{"admin"}}, "invalid_request", "roles", 400},
		{"wrong type", `{"email": 5, "password": "x"}`, "invalid_request", "email", 400},
		{"trailing data", `{"email":"t@example.com","password":"x"} {}`, "invalid_request", "", 400},
		{"not JSON", `email=a`, "invalid_request", "", 400},
		{"invalid UTF-8", "{\"email\":\"\xff@x.com\",\"password\":\"x\"}", "invalid_request", "", 400},
		{"SQL metacharacters", map[string]string{"email": "o'brien+%_@example.com", "password": goodPassword, "name": "'; DROP TABLE users; --"}, "", "", 201},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.client().do("POST", "/auth/api/sign-up", tc.body)
			want(t, r, tc.st, tc.code)
			if tc.code != "" {
				got, _ := r.json(t)["error"].(map[string]any)["field"].(string)
				if got != tc.field {
					t.Errorf("field %q, want %q", got, tc.field)
				}
				if msg, _ := r.json(t)["error"].(map[string]any)["message"].(string); msg == "" {
					t.Error("empty message")
				}
			}
		})
	}
	// The users table survived the metacharacters, and the first account still signs in.
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "dup@example.com", "password": goodPassword}), 200, "")
}

func testParallelSignUpsOneEmail(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	const n = 50
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for range n {
		wg.Go(func() {
			r := e.client().do("POST", "/auth/api/sign-up", map[string]string{"email": "race@example.com", "password": goodPassword})
			codes <- r.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", count, n-1)
	}
}

func testSignInFailuresLookAlike(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	e.client().signUp("known@example.com")
	wrong := e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "known@example.com", "password": "wrong password here"})
	unknown := e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "nobody@example.com", "password": "wrong password here"})
	want(t, wrong, 401, "invalid_credentials")
	want(t, unknown, 401, "invalid_credentials")
	if !bytes.Equal(wrong.body, unknown.body) {
		t.Fatalf("bodies differ:\n%s\n%s", wrong.body, unknown.body)
	}
	if wrong.Header.Get("Set-Cookie") != "" || unknown.Header.Get("Set-Cookie") != "" {
		t.Fatal("failed sign-in set a cookie")
	}
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"password": "x"}), 400, "invalid_request")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "known@example.com"}), 400, "invalid_request")
	r := e.client().do("POST", "/auth/sign-in", url.Values{"email": {"known@example.com"}})
	if r.StatusCode != 400 || !strings.Contains(string(r.body), "Enter your password") {
		t.Fatalf("empty password on the page: %d %s", r.StatusCode, r.body)
	}
}

func testSessionFixationAndRotation(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	// A planted random cookie never becomes authenticated.
	victim := e.client()
	planted := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	victim.setCookie(planted)
	victim.signUp("victim@example.com")
	if victim.cookie() == planted {
		t.Fatal("sign-up kept the planted cookie")
	}
	// An attacker's own valid session planted in the victim's browser is
	// replaced (and revoked) by the victim's sign-in.
	attacker := e.client()
	attacker.signUp("attacker@example.com")
	attackerToken := attacker.cookie()
	victim.setCookie(attackerToken)
	want(t, victim.do("POST", "/auth/api/sign-in", map[string]string{"email": "victim@example.com", "password": goodPassword}), 200, "")
	if victim.cookie() == attackerToken {
		t.Fatal("sign-in kept the planted session token")
	}
	want(t, attacker.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	// Every sign-in issues a new token.
	before := victim.cookie()
	want(t, victim.do("POST", "/auth/api/sign-in", map[string]string{"email": "victim@example.com", "password": goodPassword}), 200, "")
	if victim.cookie() == before {
		t.Fatal("sign-in reused the token")
	}
	c := victim.do("GET", "/auth/api/sessions", nil)
	if n := len(c.json(t)["sessions"].([]any)); n != 2 {
		t.Fatalf("victim has %d sessions, want 2 (sign-up and the last sign-in replaced the others)", n)
	}
}

func testSessionsListAndRevoke(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	a1, a2, a3 := e.client(), e.client(), e.client()
	a1.signUp("ada@example.com")
	for _, c := range []*client{a2, a3} {
		want(t, c.do("POST", "/auth/api/sign-in", map[string]string{"email": "ada@example.com", "password": goodPassword}, "User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"), 200, "")
	}
	other := e.client()
	other.signUp("other@example.com")
	otherID := other.do("GET", "/auth/api/session", nil).json(t)["session"].(map[string]any)["id"].(string)

	list := a1.do("GET", "/auth/api/sessions", nil)
	want(t, list, 200, "")
	ss := list.json(t)["sessions"].([]any)
	if len(ss) != 3 {
		t.Fatalf("%d sessions, want 3", len(ss))
	}
	current := 0
	var a2ID string
	for _, s := range ss {
		m := s.(map[string]any)
		if m["current"] == true {
			current++
		}
		for _, k := range []string{"id", "created_at", "last_seen_at", "expires_at", "authenticated_at", "amr", "aal", "ip", "user_agent", "current"} {
			if _, ok := m[k]; !ok {
				t.Errorf("session lacks %s", k)
			}
		}
		if m["ip"] != "127.0.0.1" {
			t.Errorf("ip %v", m["ip"])
		}
	}
	if current != 1 {
		t.Fatalf("%d current sessions", current)
	}
	a2ID = a2.do("GET", "/auth/api/session", nil).json(t)["session"].(map[string]any)["id"].(string)

	// Another user's session id is 404, and that session survives.
	want(t, a1.do("DELETE", "/auth/api/sessions/"+otherID, nil), 404, "not_found")
	want(t, other.do("GET", "/auth/api/session", nil), 200, "")
	// Revoke one: takes effect at once (the revoking node's cache is invalidated).
	want(t, a2.do("GET", "/auth/api/session", nil), 200, "")
	want(t, a1.do("DELETE", "/auth/api/sessions/"+a2ID, nil), 204, "")
	want(t, a2.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, a1.do("DELETE", "/auth/api/sessions/"+a2ID, nil), 404, "not_found")
	// Revoke all others.
	want(t, a1.do("DELETE", "/auth/api/sessions", nil), 204, "")
	want(t, a3.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, a1.do("GET", "/auth/api/session", nil), 200, "")
}

func testPasswordChangeRotatesAndRevokes(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	a, other := e.client(), e.client()
	a.signUp("pc@example.com")
	want(t, other.do("POST", "/auth/api/sign-in", map[string]string{"email": "pc@example.com", "password": goodPassword}), 200, "")
	old := a.cookie()
	want(t, a.do("POST", "/auth/api/password/change", map[string]string{"current_password": "not it at all", "new_password": "another fine passphrase"}), 403, "incorrect_password")
	want(t, a.do("POST", "/auth/api/password/change", map[string]string{"current_password": goodPassword, "new_password": "short"}), 400, "invalid_password")
	want(t, a.do("POST", "/auth/api/password/change", map[string]string{"current_password": goodPassword, "new_password": "another fine passphrase"}), 200, "")
	if a.cookie() == old || a.cookie() == "" {
		t.Fatal("password change did not rotate the current session")
	}
	want(t, a.do("GET", "/auth/api/session", nil), 200, "")
	want(t, other.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	replay := e.client()
	replay.setCookie(old)
	want(t, replay.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "pc@example.com", "password": goodPassword}), 401, "invalid_credentials")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "pc@example.com", "password": "another fine passphrase"}), 200, "")
}

func testUserProfileAndDeletion(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("me@example.com")
	want(t, c.do("PATCH", "/auth/api/user", map[string]string{"name": "Grace"}), 200, "")
	if n := c.do("GET", "/auth/api/user", nil).json(t)["user"].(map[string]any)["name"]; n != "Grace" {
		t.Fatalf("name %v", n)
	}
	for _, field := range []string{"email_verified", "roles", "id", "email", "disabled"} {
		r := c.do("PATCH", "/auth/api/user", map[string]any{field: true})
		want(t, r, 400, "invalid_request")
	}
	u := c.do("GET", "/auth/api/user", nil).json(t)["user"].(map[string]any)
	if u["email_verified"] != false || len(u["roles"].([]any)) != 0 {
		t.Fatalf("mass assignment changed the user: %v", u)
	}
	// Deletion needs a recent sign-in.
	e.clock.Advance(11 * time.Minute)
	want(t, c.do("POST", "/auth/api/user/delete", nil), 403, "reauthentication_required")
	want(t, c.do("POST", "/auth/api/reauthenticate", map[string]string{"password": "wrong password!"}), 403, "incorrect_password")
	before := c.cookie()
	r := c.do("POST", "/auth/api/reauthenticate", map[string]string{"password": goodPassword})
	want(t, r, 200, "")
	if c.cookie() == before || r.json(t)["session"].(map[string]any)["authenticated_at"] != "2026-11-27T13:11:00Z" {
		t.Fatalf("re-authentication did not rotate the session: %s", r.body)
	}
	replay := e.client()
	replay.setCookie(before)
	want(t, replay.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, c.do("POST", "/auth/api/user/delete", nil), 204, "")
	want(t, c.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "me@example.com", "password": goodPassword}), 401, "invalid_credentials")
}

func testTimeouts(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{SessionIdleTimeout: time.Hour, SessionLifetime: 3 * time.Hour})
	c := e.client()
	c.signUp("t@example.com")
	// Activity within the idle timeout keeps the session alive...
	for range 3 {
		e.clock.Advance(50 * time.Minute)
		want(t, c.do("GET", "/auth/api/session", nil), 200, "")
	}
	// ...but never past the absolute lifetime.
	e.clock.Advance(50 * time.Minute)
	want(t, c.do("GET", "/auth/api/session", nil), 401, "unauthenticated")

	d := e.client()
	want(t, d.do("POST", "/auth/api/sign-in", map[string]string{"email": "t@example.com", "password": goodPassword}), 200, "")
	e.clock.Advance(61 * time.Minute)
	want(t, d.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
}

func testDisableRevokesSessions(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("dis@example.com")
	u, ok := gatehouse.UserFrom(t.Context())
	_ = u
	if ok {
		t.Fatal("empty context has a user")
	}
	id := c.do("GET", "/auth/api/user", nil).json(t)["user"].(map[string]any)["id"].(string)
	if err := e.auth.SetDisabled(t.Context(), id, true); err != nil {
		t.Fatal(err)
	}
	want(t, c.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "dis@example.com", "password": goodPassword}), 403, "account_disabled")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "dis@example.com", "password": "wrong password here"}), 401, "invalid_credentials")
}

func testBodyLimitsAndContentTypes(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	big := `{"email":"` + strings.Repeat("a", 70<<10) + `","password":"x"}`
	want(t, c.do("POST", "/auth/api/sign-in", big), 413, "body_too_large")
	r := c.do("POST", "/auth/api/sign-in", url.Values{"email": {"a@b.co"}})
	want(t, r, 415, "unsupported_media_type")
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	want(t, c.do("POST", "/auth/api/sign-in", deep), 400, "invalid_request")
	want(t, c.do("GET", "/auth/api/nope", nil), 404, "not_found")
	r = c.do("PUT", "/auth/api/sign-in", nil)
	want(t, r, 405, "method_not_allowed")
	if r.Header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

func testCrossOriginRefused(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("co@example.com")
	creds := map[string]string{"email": "co@example.com", "password": goodPassword}
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "null"},
	} {
		t.Run(strings.Join(hdr, "="), func(t *testing.T) {
			want(t, c.do("POST", "/auth/api/sign-in", creds, hdr...), 403, "cross_origin_request")
			want(t, c.do("POST", "/auth/api/sign-out", nil, hdr...), 403, "cross_origin_request")
			want(t, c.do("DELETE", "/auth/api/sessions", nil, hdr...), 403, "cross_origin_request")
			want(t, c.do("POST", "/api/notes", nil, hdr...), 403, "cross_origin_request")
			r := c.do("POST", "/auth/sign-in", url.Values{"email": {"co@example.com"}, "password": {goodPassword}}, hdr...)
			if r.StatusCode != 403 || r.Header.Get("Set-Cookie") != "" {
				t.Fatalf("cross-origin form sign-in: %d, cookie %q", r.StatusCode, r.Header.Get("Set-Cookie"))
			}
		})
	}
	// Same-origin requests from a browser pass.
	want(t, c.do("POST", "/auth/api/sign-in", creds, "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"), 200, "")
	// Cross-origin reads are fine (no state change), and still authenticated.
	want(t, c.do("GET", "/auth/api/session", nil, "Sec-Fetch-Site", "cross-site"), 200, "")
}

func testRequireAndPermissions(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	anon := e.client()
	r := anon.do("GET", "/app/notes?x=1", nil, "Accept", "text/html,application/xhtml+xml")
	want(t, r, 303, "")
	if loc := r.Header.Get("Location"); loc != "/auth/sign-in?redirect_to=%2Fapp%2Fnotes%3Fx%3D1" {
		t.Fatalf("Location %q", loc)
	}
	want(t, anon.do("GET", "/app/notes", nil, "Sec-Fetch-Mode", "navigate"), 303, "")
	r = anon.do("GET", "/app/notes", nil, "Accept", "application/json")
	want(t, r, 401, "unauthenticated")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("no WWW-Authenticate")
	}
	want(t, anon.do("POST", "/app/notes", nil, "Accept", "text/html"), 401, "unauthenticated")
	want(t, anon.do("POST", "/api/notes", nil), 401, "unauthenticated")

	c := e.client()
	c.signUp("perm@example.com")
	r = c.do("GET", "/app/notes", nil)
	want(t, r, 200, "")
	if string(r.body) != "hello perm@example.com" {
		t.Fatalf("body %q", r.body)
	}
	if !strings.Contains(r.Header.Get("Vary"), "Cookie") || r.Header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("headers Vary=%q Cache-Control=%q", r.Header.Get("Vary"), r.Header.Get("Cache-Control"))
	}
	want(t, c.do("POST", "/api/notes", nil), 403, "forbidden")
	id := c.do("GET", "/auth/api/user", nil).json(t)["user"].(map[string]any)["id"].(string)
	if err := e.auth.SetRoles(t.Context(), id, []string{"editor"}); err != nil {
		t.Fatal(err)
	}
	want(t, c.do("POST", "/api/notes", nil), 201, "")
	if err := e.auth.SetRoles(t.Context(), id, nil); err != nil {
		t.Fatal(err)
	}
	want(t, c.do("POST", "/api/notes", nil), 403, "forbidden")
}

func TestAuthorizeOutsideMiddleware(t *testing.T) {
	if err := gatehouse.Authorize(t.Context(), "x"); gatehouse.ErrorCode(err) != gatehouse.CodeUnauthenticated {
		t.Fatalf("Authorize without principal: %v", err)
	}
	ctx := gatehouse.WithPrincipal(t.Context(), gatehouse.Principal{Permissions: map[string]bool{"x": true}})
	if err := gatehouse.Authorize(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := gatehouse.Authorize(ctx, "y"); gatehouse.ErrorCode(err) != gatehouse.CodeForbidden {
		t.Fatalf("missing permission: %v", err)
	}
	ctx = gatehouse.WithPrincipal(t.Context(), gatehouse.Principal{Permissions: map[string]bool{"x": true}, CrossOrigin: true})
	if err := gatehouse.Authorize(ctx, "x"); gatehouse.ErrorCode(err) != gatehouse.CodeCrossOrigin {
		t.Fatalf("cross-origin: %v", err)
	}
}

func testPagesFlow(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	r := c.do("GET", "/auth/sign-up", nil)
	want(t, r, 200, "")
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") == "" {
		t.Fatalf("security headers: CSP %q", csp)
	}
	if !strings.Contains(string(r.body), "Development mode") {
		t.Error("development banner missing")
	}
	r = c.do("POST", "/auth/sign-up", url.Values{"email": {"page@example.com"}, "password": {"short"}, "redirect_to": {"/app/x"}})
	want(t, r, 400, "")
	if !strings.Contains(string(r.body), `aria-invalid="true"`) || !strings.Contains(string(r.body), `value="page@example.com"`) || strings.Contains(string(r.body), "short\"") {
		t.Fatalf("form error page: %s", r.body)
	}
	r = c.do("POST", "/auth/sign-up", url.Values{"email": {"page@example.com"}, "password": {goodPassword}, "redirect_to": {"/app/x"}})
	want(t, r, 303, "")
	if r.Header.Get("Location") != "/app/x" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	r = c.do("GET", "/auth/account", nil)
	want(t, r, 200, "")
	if !strings.Contains(string(r.body), "page@example.com") || !strings.Contains(string(r.body), "This device") {
		t.Fatalf("account page: %s", r.body)
	}
	r = c.do("POST", "/auth/sign-out", url.Values{})
	want(t, r, 303, "")
	r = c.do("GET", "/auth/account", nil, "Accept", "text/html")
	want(t, r, 303, "")
	if r.Header.Get("Location") != "/auth/sign-in?redirect_to=%2Fauth%2Faccount" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	r = c.do("POST", "/auth/sign-in", url.Values{"email": {"page@example.com"}, "password": {"wrong password here"}})
	want(t, r, 401, "")
	if !strings.Contains(string(r.body), "incorrect") {
		t.Fatalf("sign-in error page: %s", r.body)
	}
	r = c.do("POST", "/auth/sign-in", url.Values{"email": {"page@example.com"}, "password": {goodPassword}})
	want(t, r, 303, "")
	if r.Header.Get("Location") != "/auth/account" {
		t.Fatalf("default landing %q", r.Header.Get("Location"))
	}
	// A second device, revoked from the account page.
	d := e.client()
	want(t, d.do("POST", "/auth/sign-in", url.Values{"email": {"page@example.com"}, "password": {goodPassword}}), 303, "")
	id := d.do("GET", "/auth/api/session", nil).json(t)["session"].(map[string]any)["id"].(string)
	want(t, c.do("POST", "/auth/account/sessions/"+id+"/revoke", url.Values{}), 303, "")
	want(t, d.do("GET", "/auth/api/session", nil), 401, "")
	want(t, c.do("GET", "/auth/nope", nil, "Accept", "text/html"), 404, "")
	if r := c.do("GET", "/auth/", nil); r.StatusCode != 303 || r.Header.Get("Location") != "/auth/account" {
		t.Fatalf("GET /auth/: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func testOpenRedirectRefused(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{RedirectAllowlist: []string{"https://app.example.com"}})
	e.client().signUp("redir@example.com")
	cases := map[string]string{
		"/app/ok?x=1#f":                     "/app/ok?x=1#f",
		"https://app.example.com/dashboard": "https://app.example.com/dashboard",
		"//evil.com":                        "/auth/account",
		"/\\evil.com":                       "/auth/account",
		"\\\\evil.com":                      "/auth/account",
		"/%2F%2Fevil.com":                   "/auth/account",
		"/%5Cevil.com":                      "/auth/account",
		"https://evil.com":                  "/auth/account",
		"https://app.example.com.evil.com/": "/auth/account",
		"https://app.example.com@evil.com/": "/auth/account",
		"https://user@app.example.com/":     "/auth/account",
		"http://app.example.com/":           "/auth/account",
		"javascript:alert(1)":               "/auth/account",
		"JaVaScRiPt:alert(1)":               "/auth/account",
		"data:text/html,<script>":           "/auth/account",
		"/x\r\nSet-Cookie: a=b":             "/auth/account",
		"/x\tz":                             "/auth/account",
		" /x":                               "/auth/account",
		"evil.com":                          "/auth/account",
		"https:evil.com":                    "/auth/account",
		"/\t/evil.com":                      "/auth/account",
	}
	// redirect_to may also come in the query of the form's action.
	r := e.client().do("POST", "/auth/sign-in?redirect_to=%2Fapp%2Fq", url.Values{"email": {"redir@example.com"}, "password": {goodPassword}})
	if loc := r.Header.Get("Location"); loc != "/app/q" {
		t.Fatalf("redirect_to from the query: Location %q", loc)
	}
	for target, wantLoc := range cases {
		t.Run(fmt.Sprintf("%q", target), func(t *testing.T) {
			r := e.client().do("POST", "/auth/sign-in", url.Values{"email": {"redir@example.com"}, "password": {goodPassword}, "redirect_to": {target}})
			want(t, r, 303, "")
			if loc := r.Header.Get("Location"); loc != wantLoc {
				t.Fatalf("Location %q, want %q", loc, wantLoc)
			}
		})
	}
}

func testStorageFailureFailsClosed(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{SessionCacheTTL: -1})
	c := e.client()
	c.signUp("fc@example.com")
	e.auth.Store().Close()
	r := c.do("GET", "/auth/api/session", nil)
	if r.StatusCode < 500 {
		t.Fatalf("session check with the database down: %d %s", r.StatusCode, r.body)
	}
	if strings.Contains(string(r.body), "sql") || strings.Contains(string(r.body), "closed") {
		t.Fatalf("internal error text leaked: %s", r.body)
	}
	r = c.do("GET", "/app/x", nil)
	if r.StatusCode < 500 {
		t.Fatalf("Require with the database down: %d", r.StatusCode)
	}
}

func TestPluginRoutesMountUnderBasePath(t *testing.T) {
	p := gatehouse.Plugin{Name: "hello", Routes: func(r gatehouse.Router) {
		r.Handle("GET /api/hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("hello"))
		}))
	}}
	auth := authtest.New(t, gatehouse.Config{BasePath: "/id"}, gatehouse.WithPlugins(p))
	srv := httptest.NewServer(web.New(auth))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/id/api/hello")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "hello" || res.Header.Get("X-Request-Id") == "" {
		t.Fatalf("plugin route: %d %q", res.StatusCode, b)
	}
}

// testHostileInput sends what an attacker would put in every field and
// header: NUL bytes, invalid UTF-8, SQL metacharacters, LIKE wildcards. Each
// gets a clean 4xx (or is stored safely), never a 500.
func testHostileInput(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("hostile@example.com")
	for _, id := range []string{"%00", "ses_%00", "%FF%FE", "'%20OR%201=1--", "ses_%25", "ses_AAAAAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("A", 2000)} {
		want(t, c.do("DELETE", "/auth/api/sessions/"+id, nil), 404, "not_found")
		r := c.do("POST", "/auth/account/sessions/"+id+"/revoke", url.Values{})
		if r.StatusCode != 404 {
			t.Fatalf("page revoke of %q: %d", id, r.StatusCode)
		}
	}
	// Form fields are not checked for UTF-8 by the JSON decoder.
	for _, form := range []url.Values{
		{"email": {"a\x00@example.com"}, "password": {goodPassword}},
		{"email": {"hostile@example.com"}, "password": {"pass\x00word\xffxxxxxx"}},
		{"email": {"\xff@example.com"}, "password": {goodPassword}},
		{"email": {"%@example.com"}, "password": {goodPassword}},
		{"email": {"_ostile@example.com"}, "password": {goodPassword}},
	} {
		r := e.client().do("POST", "/auth/sign-in", form)
		if r.StatusCode != 400 && r.StatusCode != 401 {
			t.Fatalf("sign-in form %v: %d", form, r.StatusCode)
		}
	}
	r := e.client().do("POST", "/auth/sign-up", url.Values{"email": {"n@example.com"}, "password": {goodPassword}, "name": {"bad\xffname"}})
	want(t, r, 400, "")
	// A User-Agent with bytes that are not UTF-8.
	ua := e.client()
	r = ua.do("POST", "/auth/api/sign-in", map[string]string{"email": "hostile@example.com", "password": goodPassword}, "User-Agent", "Evil\xff\xfeBrowser/1.0")
	want(t, r, 200, "")
	if got := r.json(t)["session"].(map[string]any)["user_agent"]; got != "EvilBrowser/1.0" {
		t.Fatalf("stored user agent %q", got)
	}
	want(t, ua.do("GET", "/auth/api/sessions", nil), 200, "")
}

func testCORS(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{CORSAllowedOrigins: []string{"https://app.example.com"}})
	c := e.client()
	r := c.do("OPTIONS", "/auth/api/sign-in", nil, "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
	want(t, r, 204, "")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
		t.Fatalf("preflight headers %v", r.Header)
	}
	r = c.do("POST", "/auth/api/sign-up", map[string]string{"email": "cors@example.com", "password": goodPassword}, "Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site")
	want(t, r, 201, "")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatal("allowed origin without ACAO")
	}
	r = c.do("GET", "/auth/api/session", nil, "Origin", "https://evil.example")
	want(t, r, 200, "")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("unlisted origin got ACAO")
	}
	want(t, c.do("POST", "/auth/api/sign-out", nil, "Origin", "https://evil.example"), 403, "cross_origin_request")
}

// setCookie returns the Set-Cookie header line that sets the named cookie
// ("" if none does).
func setCookie(r response, name string) string {
	for _, line := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			return line
		}
	}
	return ""
}
