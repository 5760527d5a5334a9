package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
)

// mail waits for the next message of kind to addr that the test has not
// seen yet and returns it.
func (e *env) nextMail(kind, addr string) mailbox.Entry {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := e.mail.Wait(ctx, func(m mailbox.Entry) bool {
		return m.Kind == kind && strings.EqualFold(m.To, addr) && !e.seen[m.ID]
	})
	if err != nil {
		e.t.Fatalf("no %s mail to %s arrived; mailbox holds %v", kind, addr, summarize(e.mail.Messages()))
	}
	e.seen[m.ID] = true
	return m
}

// settle waits until the outbox holds nothing pending, so that "no mail"
// can be asserted.
func (e *env) settle() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rep, err := e.auth.MailReport(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if rep.Pending == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("the outbox did not drain")
}

// mails returns every message of kind to addr.
func (e *env) mails(kind, addr string) []mailbox.Entry {
	var out []mailbox.Entry
	for _, m := range e.mail.Messages() {
		if m.Kind == kind && strings.EqualFold(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

func summarize(ms []mailbox.Entry) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Kind+"→"+m.To)
	}
	return s
}

// link returns the message's link to page and its token.
func link(t *testing.T, m mailbox.Entry, page string) (string, string) {
	t.Helper()
	for _, l := range m.Links {
		u, err := url.Parse(l)
		if err == nil && strings.HasSuffix(u.Path, page) && u.Query().Get("token") != "" {
			return l, u.Query().Get("token")
		}
	}
	t.Fatalf("%s mail has no %s link: %v", m.Kind, page, m.Links)
	return "", ""
}

func testVerificationRequired(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{EmailVerification: gatehouse.VerificationRequired})
	// A new address and a taken one get the same answer, and no session.
	first := e.client().do("POST", "/auth/api/sign-up", map[string]string{"email": "ada@example.com", "password": goodPassword, "name": "Ada"})
	again := e.client().do("POST", "/auth/api/sign-up", map[string]string{"email": "ADA@example.com", "password": "another long passphrase", "name": "<b>Call +1 555 0100</b>"})
	for _, r := range []response{first, again} {
		want(t, r, 201, "")
		if string(r.body) != "{\"status\":\"verification_required\"}\n" {
			t.Fatalf("sign-up body %s", r.body)
		}
		if len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("sign-up in required mode set cookies: %v", r.Header.Values("Set-Cookie"))
		}
	}
	verify := e.nextMail("verify_email", "ada@example.com")
	exists := e.nextMail("account_exists", "ada@example.com")
	// The second caller's text never reaches the owner.
	for _, part := range []string{exists.Subject, exists.Text, exists.HTML} {
		if strings.Contains(part, "555") || strings.Contains(part, "Call") {
			t.Fatalf("caller-supplied text in the account-exists mail: %q", part)
		}
	}

	// Signing in before verifying: a wrong password is still 401; the right
	// one learns the address needs verifying.
	c := e.client()
	want(t, c.do("POST", "/auth/api/sign-in", map[string]string{"email": "ada@example.com", "password": "wrong password here"}), 401, "invalid_credentials")
	want(t, c.do("POST", "/auth/api/sign-in", map[string]string{"email": "ada@example.com", "password": goodPassword}), 403, "email_not_verified")

	_, token := link(t, verify, "/verify-email")
	r := c.do("POST", "/auth/api/email/verify", map[string]string{"token": token})
	want(t, r, 200, "")
	if u := r.json(t)["user"].(map[string]any); u["email_verified"] != true {
		t.Fatalf("after verification: %v", u)
	}
	want(t, c.do("POST", "/auth/api/email/verify", map[string]string{"token": token}), 400, "invalid_token")
	want(t, c.do("POST", "/auth/api/sign-in", map[string]string{"email": "ada@example.com", "password": goodPassword}), 200, "")
	// The first sign-up's password is the account's; the second changed nothing.
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "ada@example.com", "password": "another long passphrase"}), 401, "invalid_credentials")
}

func testVerificationLinkHygiene(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{EmailVerification: gatehouse.VerificationRequired})
	c := e.client()
	c.do("POST", "/auth/api/sign-up", map[string]string{"email": "bo@example.com", "password": goodPassword})
	_, older := link(t, e.nextMail("verify_email", "bo@example.com"), "/verify-email")

	// Resend: the same answer for an unverified account, a verified one
	// and no account; a newer link replaces the older one.
	for _, addr := range []string{"bo@example.com", "nobody@example.com"} {
		r := c.do("POST", "/auth/api/email/verify/send", map[string]string{"email": addr})
		want(t, r, 202, "")
		if string(r.body) != "{\"status\":\"accepted\"}\n" {
			t.Fatalf("resend body %s", r.body)
		}
	}
	_, newer := link(t, e.nextMail("verify_email", "bo@example.com"), "/verify-email")
	e.settle()
	if n := len(e.mails("verify_email", "nobody@example.com")); n != 0 {
		t.Fatalf("%d mails to an address without an account", n)
	}
	want(t, c.do("POST", "/auth/api/email/verify", map[string]string{"token": older}), 400, "invalid_token")

	// A malformed, truncated or unknown token is the same error.
	for _, tok := range []string{"", "x", newer[:42], newer + "A", strings.Repeat("A", 43)} {
		want(t, c.do("POST", "/auth/api/email/verify", map[string]string{"token": tok}), 400, "invalid_token")
	}

	// Expiry: 24 hours by default.
	e.clock.Advance(24*time.Hour + time.Second)
	want(t, c.do("POST", "/auth/api/email/verify", map[string]string{"token": newer}), 400, "invalid_token")

	// Concurrent uses of one link: exactly one wins.
	c.do("POST", "/auth/api/email/verify/send", map[string]string{"email": "bo@example.com"})
	_, tok := link(t, e.nextMail("verify_email", "bo@example.com"), "/verify-email")
	results := make(chan int, 10)
	for range 10 {
		go func() {
			r := e.client().do("POST", "/auth/api/email/verify", map[string]string{"token": tok})
			results <- r.StatusCode
		}()
	}
	ok := 0
	for range 10 {
		if <-results == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 10 concurrent uses of one link succeeded", ok)
	}
	// Verified: asking again sends nothing.
	c.do("POST", "/auth/api/email/verify/send", map[string]string{"email": "bo@example.com"})
	e.settle()
	if n := len(e.mails("verify_email", "bo@example.com")); n != 3 {
		t.Fatalf("%d verification mails, want 3 (none for a verified address)", n)
	}
}

func testVerificationOptionalAndOff(t *testing.T, b backend) {
	opt := newEnv(t, b, gatehouse.Config{EmailVerification: gatehouse.VerificationOptional})
	c := opt.client()
	r := c.signUp("cy@example.com")
	if r.json(t)["user"].(map[string]any)["email_verified"] != false {
		t.Fatal("new account verified")
	}
	_, tok := link(t, opt.nextMail("verify_email", "cy@example.com"), "/verify-email")
	// Verifying drops the cached session record: the same session now
	// sees the verified flag.
	want(t, c.do("POST", "/auth/api/email/verify", map[string]string{"token": tok}), 200, "")
	if c.do("GET", "/auth/api/session", nil).json(t)["user"].(map[string]any)["email_verified"] != true {
		t.Fatal("session still sees an unverified address")
	}
	// A duplicate is a documented 409 outside required mode.
	want(t, opt.client().do("POST", "/auth/api/sign-up", map[string]string{"email": "cy@example.com", "password": goodPassword}), 409, "email_taken")

	off := newEnv(t, b, gatehouse.Config{EmailVerification: gatehouse.VerificationOff})
	off.client().signUp("di@example.com")
	off.settle()
	if n := len(off.mails("verify_email", "di@example.com")); n != 0 {
		t.Fatalf("off mode sent %d verification mails", n)
	}
}

func testPasswordReset(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	a, other := e.client(), e.client()
	a.signUp("eve@example.com")
	want(t, other.do("POST", "/auth/api/sign-in", map[string]string{"email": "eve@example.com", "password": goodPassword}), 200, "")

	known := e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "eve@example.com"})
	unknown := e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "ghost@example.com"})
	for _, r := range []response{known, unknown} {
		want(t, r, 202, "")
		if string(r.body) != "{\"status\":\"accepted\"}\n" {
			t.Fatalf("forgot body %s", r.body)
		}
	}
	want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "not an address"}), 400, "invalid_email")
	m := e.nextMail("password_reset", "eve@example.com")
	e.settle()
	if n := len(e.mails("password_reset", "ghost@example.com")); n != 0 {
		t.Fatal("an address without an account got a reset mail")
	}
	_, token := link(t, m, "/reset-password")

	// The policy applies; a refused password keeps the link usable.
	want(t, e.client().do("POST", "/auth/api/password/reset", map[string]string{"token": token, "password": "short"}), 400, "invalid_password")
	r := e.client().do("POST", "/auth/api/password/reset", map[string]string{"token": token, "password": "a brand new passphrase"})
	want(t, r, 200, "")
	if string(r.body) != "{\"status\":\"password_reset\"}\n" {
		t.Fatalf("reset body %s", r.body)
	}
	want(t, e.client().do("POST", "/auth/api/password/reset", map[string]string{"token": token, "password": "yet another passphrase"}), 400, "invalid_token")
	// Every session of the user is gone.
	want(t, a.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, other.do("GET", "/auth/api/session", nil), 401, "unauthenticated")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "eve@example.com", "password": goodPassword}), 401, "invalid_credentials")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "eve@example.com", "password": "a brand new passphrase"}), 200, "")
	notice := e.nextMail("password_changed", "eve@example.com")
	if strings.Contains(notice.Text, "token=") {
		t.Fatal("the password-changed notice carries a live link")
	}
}

func testResetLinkHygiene(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("fay@example.com")
	forgot := func() string {
		want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "fay@example.com"}), 202, "")
		_, tok := link(t, e.nextMail("password_reset", "fay@example.com"), "/reset-password")
		return tok
	}
	reset := func(tok string) response {
		return e.client().do("POST", "/auth/api/password/reset", map[string]string{"token": tok, "password": "a brand new passphrase"})
	}
	// A newer request invalidates the older link.
	older := forgot()
	newer := forgot()
	want(t, reset(older), 400, "invalid_token")
	// A password change invalidates outstanding links.
	want(t, c.do("POST", "/auth/api/password/change", map[string]string{"current_password": goodPassword, "new_password": "changed passphrase here"}), 200, "")
	want(t, reset(newer), 400, "invalid_token")
	// Links last 30 minutes.
	tok := forgot()
	e.clock.Advance(30*time.Minute + time.Second)
	want(t, reset(tok), 400, "invalid_token")
	// A verification link is not a reset link.
	c.do("POST", "/auth/api/email/verify/send", map[string]string{"email": "fay@example.com"})
	_, vtok := link(t, e.nextMail("verify_email", "fay@example.com"), "/verify-email")
	want(t, reset(vtok), 400, "invalid_token")
	// Concurrent resets with one link: exactly one wins.
	tok = forgot()
	results := make(chan int, 8)
	for range 8 {
		go func() { results <- reset(tok).StatusCode }()
	}
	ok := 0
	for range 8 {
		if <-results == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 8 concurrent resets succeeded", ok)
	}
}

func testLinksIgnoreHostHeaders(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{PublicURL: "http://localhost:8080", TrustedProxies: []string{"127.0.0.0/8"}})
	e.client().signUp("gil@example.com")
	r := e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "gil@example.com"},
		"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "host=evil.example;proto=https", "X-Original-Host", "evil.example")
	want(t, r, 202, "")
	// A Host header the client controls completely.
	req, _ := http.NewRequest("POST", e.srv.URL+"/auth/api/email/verify/send", strings.NewReader(`{"email":"gil@example.com"}`))
	req.Host = "evil.example"
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, m := range []mailbox.Entry{e.nextMail("password_reset", "gil@example.com"), e.nextMail("verify_email", "gil@example.com")} {
		for _, l := range m.Links {
			if !strings.HasPrefix(l, "http://localhost:8080/auth/") {
				t.Fatalf("%s mail links to %s", m.Kind, l)
			}
		}
		if strings.Contains(m.Text+m.HTML, "evil") {
			t.Fatalf("%s mail mentions the forged host", m.Kind)
		}
	}
}

func testEmailChange(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	c.signUp("hal@example.com")
	e.client().signUp("taken@example.com")
	want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "hal@example.com"}), 202, "")
	_, resetTok := link(t, e.nextMail("password_reset", "hal@example.com"), "/reset-password")

	// Stale authentication: re-authenticate first.
	e.clock.Advance(11 * time.Minute)
	want(t, c.do("POST", "/auth/api/email/change", map[string]string{"email": "hal2@example.com"}), 403, "reauthentication_required")
	want(t, c.do("POST", "/auth/api/reauthenticate", map[string]string{"password": goodPassword}), 200, "")
	want(t, c.do("POST", "/auth/api/email/change", map[string]string{"email": "hal@example.com"}), 400, "invalid_email")
	// A taken address answers the same; its owner hears nothing changed.
	for _, addr := range []string{"taken@example.com", "hal2@example.com"} {
		r := c.do("POST", "/auth/api/email/change", map[string]string{"email": addr})
		want(t, r, 202, "")
		if string(r.body) != "{\"status\":\"accepted\"}\n" {
			t.Fatalf("email change body %s", r.body)
		}
	}
	inUse := e.nextMail("email_in_use", "taken@example.com")
	if strings.Contains(inUse.Text, "token=") {
		t.Fatal("the in-use notice carries a link that could take the address")
	}
	_, tok := link(t, e.nextMail("email_change", "hal2@example.com"), "/confirm-email-change")
	// Nothing changed yet.
	if u := c.do("GET", "/auth/api/user", nil).json(t)["user"].(map[string]any); u["email"] != "hal@example.com" {
		t.Fatalf("email changed before confirmation: %v", u)
	}
	r := e.client().do("POST", "/auth/api/email/change/confirm", map[string]string{"token": tok})
	want(t, r, 200, "")
	if u := r.json(t)["user"].(map[string]any); u["email"] != "hal2@example.com" || u["email_verified"] != true {
		t.Fatalf("after confirmation: %v", u)
	}
	want(t, e.client().do("POST", "/auth/api/email/change/confirm", map[string]string{"token": tok}), 400, "invalid_token")
	// The session sees the new address at once; the old one gets a notice
	// that does not reveal the new one; the old reset link is dead.
	if u := c.do("GET", "/auth/api/session", nil).json(t)["user"].(map[string]any); u["email"] != "hal2@example.com" {
		t.Fatalf("session user %v", u)
	}
	notice := e.nextMail("email_changed", "hal@example.com")
	if strings.Contains(notice.Text+notice.HTML+notice.Subject, "hal2") {
		t.Fatal("the notice to the old address names the new one")
	}
	want(t, e.client().do("POST", "/auth/api/password/reset", map[string]string{"token": resetTok, "password": "a brand new passphrase"}), 400, "invalid_token")
	want(t, e.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "hal2@example.com", "password": goodPassword}), 200, "")
	want(t, e.client().do("POST", "/auth/api/email/change", map[string]string{"email": "x@example.com"}), 401, "unauthenticated")
}

func testNewDeviceNotice(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	laptop := e.client()
	laptop.signUp("ida@example.com")
	signIn := func(c *client, ua string) {
		t.Helper()
		want(t, c.do("POST", "/auth/api/sign-in", map[string]string{"email": "ida@example.com", "password": goodPassword}, "User-Agent", ua), 200, "")
	}
	// The device that signed up is known: signing in again is quiet.
	signIn(laptop, "Go-http-client/1.1")
	phone := e.client()
	signIn(phone, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1 <script>")
	m := e.nextMail("new_device", "ida@example.com")
	if !strings.Contains(m.Text, "Safari on iPhone") || strings.Contains(m.Text+m.HTML, "script") || strings.Contains(m.Text, "Mozilla") {
		t.Fatalf("new-device notice does not describe the device from a fixed vocabulary:\n%s", m.Text)
	}
	// The phone now has a device cookie and is known.
	signIn(phone, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1 <script>")
	e.settle()
	if n := len(e.mails("new_device", "ida@example.com")); n != 1 {
		t.Fatalf("%d new-device notices, want 1", n)
	}
	// Turned off: no notice.
	quiet := newEnv(t, b, gatehouse.Config{Notifications: gatehouse.Notifications{DisableNewDevice: true}})
	quiet.client().signUp("jo@example.com")
	want(t, quiet.client().do("POST", "/auth/api/sign-in", map[string]string{"email": "jo@example.com", "password": goodPassword}, "User-Agent", "curl/8"), 200, "")
	quiet.settle()
	if n := len(quiet.mails("new_device", "jo@example.com")); n != 0 {
		t.Fatalf("%d notices with notices off", n)
	}
}

func testMailPerAddressLimit(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{MailPerAddress: 3})
	c := e.client()
	c.signUp("kim@example.com")
	e.settle()
	before := len(e.mails("verify_email", "kim@example.com"))
	for range 6 {
		want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "kim@example.com"}), 202, "")
	}
	e.settle()
	// 3 per window, the sign-up's verification mail included.
	if n := len(e.mails("password_reset", "kim@example.com")) + len(e.mails("verify_email", "kim@example.com")) - before; n != 3-before {
		t.Fatalf("%d reset mails past a limit of 3", n)
	}
	// A flood of requests cannot suppress a security notice.
	want(t, c.do("POST", "/auth/api/password/change", map[string]string{"current_password": goodPassword, "new_password": "changed passphrase here"}), 200, "")
	e.nextMail("password_changed", "kim@example.com")
	// The next window allows mail again.
	e.clock.Advance(15 * time.Minute)
	want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "kim@example.com"}), 202, "")
	e.settle()
	if n := len(e.mails("password_reset", "kim@example.com")); n != 3-before+1 {
		t.Fatalf("%d reset mails after the window, want %d", n, 3-before+1)
	}
}

func testAdminMailReport(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	user := e.client()
	user.signUp("lu@example.com")
	want(t, user.do("GET", "/auth/api/admin/mail", nil), 403, "forbidden")
	want(t, e.client().do("GET", "/auth/api/admin/mail", nil), 401, "unauthenticated")
	if _, err := e.auth.CreateUser(context.Background(), gatehouse.NewUser{Email: "root@example.com", Password: goodPassword, Roles: []string{"admin"}, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	admin := e.client()
	want(t, admin.do("POST", "/auth/api/sign-in", map[string]string{"email": "root@example.com", "password": goodPassword}), 200, "")
	want(t, admin.do("POST", "/auth/api/password/forgot", map[string]string{"email": "nobody@example.com"}), 202, "")
	e.settle()
	r := admin.do("GET", "/auth/api/admin/mail", nil)
	want(t, r, 200, "")
	body := r.json(t)
	if body["pending"] != float64(0) || body["sent"].(float64) < 1 || body["skipped"] != float64(1) || body["failed"] != float64(0) {
		t.Fatalf("report %s", r.body)
	}
	if strings.Contains(string(r.body), "lu@example.com") || strings.Contains(string(r.body), "nobody@") {
		t.Fatalf("the report shows addresses: %s", r.body)
	}
	if r.Header.Get("Cache-Control") == "" || !strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
}

func testDevMailbox(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	e.client().signUp("mo@example.com")
	m := e.nextMail("verify_email", "mo@example.com")
	r := e.client().do("GET", "/auth/dev/mailbox", nil, "Accept", "application/json")
	want(t, r, 200, "")
	msgs := r.json(t)["messages"].([]any)
	if len(msgs) == 0 || msgs[0].(map[string]any)["id"] != m.ID {
		t.Fatalf("mailbox %s", r.body)
	}
	r = e.client().do("GET", "/auth/dev/mailbox/"+m.ID, nil, "Accept", "text/html")
	want(t, r, 200, "")
	verifyLink, _ := link(t, m, "/verify-email")
	if !strings.Contains(string(r.body), strings.ReplaceAll(verifyLink, "&", "&amp;")) {
		t.Fatalf("message page lacks its link %s", verifyLink)
	}
	want(t, e.client().do("GET", "/auth/dev/mailbox/mail_NOSUCHMESSAGE", nil, "Accept", "application/json"), 404, "not_found")
	// A page on another site whose name resolves to 127.0.0.1 (DNS
	// rebinding) reaches us with its own name as Host: refused.
	req, _ := http.NewRequest("GET", e.srv.URL+"/auth/dev/mailbox", nil)
	req.Host = "rebind.evil.example"
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("mailbox answered Host rebind.evil.example with %d", res.StatusCode)
	}

	// Production has no mailbox page.
	p := newEnv(t, b, gatehouse.Config{PublicURL: "https://auth.example.com"})
	want(t, p.client().do("GET", "/auth/dev/mailbox", nil, "Accept", "application/json"), 404, "not_found")
}

// testLinkPages drives the pages opened from emailed links the way a
// browser without JavaScript does: the GET moves the token out of the URL
// and consumes nothing; the form POST uses it.
func testLinkPages(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	e.client().signUp("ned@example.com")
	want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "ned@example.com"}), 202, "")
	full, token := link(t, e.nextMail("password_reset", "ned@example.com"), "/reset-password")
	u, _ := url.Parse(full)

	// A mail scanner's GETs consume nothing.
	for range 3 {
		r := e.client().do("GET", u.RequestURI(), nil, "Accept", "text/html")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/auth/reset-password" {
			t.Fatalf("GET with token: %d → %q", r.StatusCode, r.Header.Get("Location"))
		}
		if r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("Referrer-Policy %q", r.Header.Get("Referrer-Policy"))
		}
	}
	if err := e.auth.CheckLink(context.Background(), gatehouse.PurposeResetPassword, token); err != nil {
		t.Fatalf("GETs used the link: %v", err)
	}

	br := e.client()
	br.do("GET", u.RequestURI(), nil, "Accept", "text/html")
	page := br.do("GET", "/auth/reset-password", nil, "Accept", "text/html")
	want(t, page, 200, "")
	if strings.Contains(string(page.body), token) {
		t.Fatal("the reset page embeds the token")
	}
	if page.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(string(page.body), `name="password"`) {
		t.Fatalf("reset page: %s", page.body)
	}
	// A bad password re-renders the form; the link still works after.
	r := br.do("POST", "/auth/reset-password", url.Values{"password": {"short"}}, "Origin", e.srv.URL)
	want(t, r, 400, "")
	r = br.do("POST", "/auth/reset-password", url.Values{"password": {"a brand new passphrase"}}, "Origin", e.srv.URL)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/auth/sign-in?notice=password_reset" {
		t.Fatalf("reset POST: %d %q %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	signIn := br.do("GET", "/auth/sign-in?notice=password_reset", nil, "Accept", "text/html")
	if !strings.Contains(string(signIn.body), "Sign in with your new password") {
		t.Fatal("no notice after the reset")
	}
	// Used: the page says so and offers a new link.
	br.do("GET", u.RequestURI(), nil, "Accept", "text/html")
	r = br.do("GET", "/auth/reset-password", nil, "Accept", "text/html")
	if r.StatusCode != 400 || !strings.Contains(string(r.body), "invalid or has expired") || strings.Contains(string(r.body), `name="password"`) {
		t.Fatalf("used link page: %d %s", r.StatusCode, r.body)
	}
	// A cross-origin POST is refused before the link is looked at.
	want(t, br.do("POST", "/auth/verify-email", url.Values{}, "Origin", "https://evil.example"), 403, "")

	// Verification through the page (the reset verified ned's address:
	// the link proved control of it).
	br = e.client()
	br.signUp("ole@example.com")
	want(t, br.do("GET", "/auth/account", nil, "Accept", "text/html"), 200, "")
	vfull, _ := link(t, e.nextMail("verify_email", "ole@example.com"), "/verify-email")
	vu, _ := url.Parse(vfull)
	br.do("GET", vu.RequestURI(), nil, "Accept", "text/html")
	page = br.do("GET", "/auth/verify-email", nil, "Accept", "text/html")
	if page.StatusCode != 200 || !strings.Contains(string(page.body), "Verify my email") {
		t.Fatalf("verify page %d %s", page.StatusCode, page.body)
	}
	r = br.do("POST", "/auth/verify-email", url.Values{}, "Origin", e.srv.URL)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/auth/account?notice=email_verified" {
		t.Fatalf("verify POST %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	acct := br.do("GET", "/auth/account?notice=email_verified", nil, "Accept", "text/html")
	if !strings.Contains(string(acct.body), "Your email address is verified.") || strings.Contains(string(acct.body), "not verified") {
		t.Fatal("account page does not show the verified address")
	}
	// An unknown notice key shows nothing.
	if strings.Contains(string(br.do("GET", "/auth/account?notice=%3Cscript%3E", nil, "Accept", "text/html").body), "script") {
		t.Fatal("notice reflected")
	}
}
