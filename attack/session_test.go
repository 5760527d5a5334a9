package attack_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSessionFixation plants a cookie in the victim's browser before the
// victim signs in — a random value, and the attacker's own valid session —
// through each way of signing in (API and page, sign-in and sign-up): the
// victim always ends up with a new token of the victim's own, and the
// planted one is dead. Every sign-in and re-authentication rotates the
// token and kills the previous one.
//
// ASVS 5.0: V7.2.4, V7.2.3, V7.2.1
func TestSessionFixation(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	const random = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // shaped like a token
	s.Client().SignUp("fix-victim@example.com")

	signIns := map[string]func(c *Client, n int) Reply{
		"API sign-in": func(c *Client, n int) Reply { return apiSignIn(c, "fix-victim@example.com", Password) },
		"page sign-in": func(c *Client, n int) Reply {
			return c.Do("POST", "/auth/sign-in", url.Values{"email": {"fix-victim@example.com"}, "password": {Password}}, sameOriginHeaders(s)...)
		},
		"API sign-up": func(c *Client, n int) Reply {
			return c.Do("POST", "/auth/api/sign-up", map[string]string{"email": fmt.Sprintf("fix-new-%d@example.com", n), "password": Password})
		},
		"page sign-up": func(c *Client, n int) Reply {
			return c.Do("POST", "/auth/sign-up", url.Values{"email": {fmt.Sprintf("fix-new-%d@example.com", n)}, "password": {Password}}, sameOriginHeaders(s)...)
		},
	}
	n := 0
	for name, signIn := range signIns {
		for _, plantAttacker := range []bool{false, true} {
			n++
			planted, attacker, attackerID := random, (*Client)(nil), ""
			if plantAttacker {
				attacker = s.Client()
				attackerID = attacker.SignUp(fmt.Sprintf("fix-attacker-%d@example.com", n))
				planted = attacker.Cookie(SessionCookie)
			}
			what := fmt.Sprintf("%s with a planted %s cookie", name, map[bool]string{false: "random", true: "attacker session"}[plantAttacker])
			victim := withToken(s, planted)
			r := signIn(victim, n)
			if r.Status != 200 && r.Status != 201 && r.Status != 303 {
				t.Fatalf("%s: %d %s", what, r.Status, r.Body)
			}
			got := victim.Cookie(SessionCookie)
			if got == planted || !isSessionToken(got) {
				t.Errorf("%s: the browser holds %q, the planted %q", what, got, planted)
			}
			if user, _, ok := whoami(t, victim); !ok || user == attackerID {
				t.Errorf("%s: the victim is signed in %v, as %s (the attacker is %s)", what, ok, user, attackerID)
			}
			if alive(t, withToken(s, planted)) {
				t.Errorf("%s: the planted token is a valid session", what)
			}
		}
	}

	// Every sign-in and re-authentication issues a new token and ends the old one.
	c := s.Client()
	mustSignIn(t, c, "fix-victim@example.com")
	for _, step := range []string{"sign-in again", "re-authenticate"} {
		old := c.Cookie(SessionCookie)
		var r Reply
		if step == "sign-in again" {
			r = apiSignIn(c, "fix-victim@example.com", Password)
		} else {
			r = c.Do("POST", "/auth/api/reauthenticate", map[string]string{"password": Password})
		}
		if r.Status != 200 || c.Cookie(SessionCookie) == old {
			t.Fatalf("%s: %d, token rotated %v", step, r.Status, c.Cookie(SessionCookie) != old)
		}
		if alive(t, withToken(s, old)) {
			t.Errorf("%s: the previous token still works", step)
		}
		if !alive(t, c) {
			t.Errorf("%s: the new token does not work", step)
		}
	}
}

// replayVictim is an account signed in on two browsers, with both tokens
// kept for replay.
type replayVictim struct {
	email       string
	a, b        *Client
	tokA, tokB  string
	userID, sid string
}

func newReplayVictim(t *testing.T, s *Server, email string) *replayVictim {
	t.Helper()
	v := &replayVictim{email: email, a: s.Client(), b: s.Client()}
	v.userID = v.a.SignUp(email)
	mustSignIn(t, v.b, email)
	v.tokA, v.tokB = v.a.Cookie(SessionCookie), v.b.Cookie(SessionCookie)
	_, v.sid, _ = whoami(t, v.a)
	return v
}

// dead fails unless every token is refused, replayed from a fresh browser.
func dead(t *testing.T, s *Server, what string, tokens ...string) {
	t.Helper()
	for i, tok := range tokens {
		c := withToken(s, tok)
		for _, path := range []string{"/auth/api/session", "/auth/api/sessions", "/auth/api/user"} {
			if r := c.Do("GET", path, nil); r.Status != 401 || r.Code() != "unauthenticated" {
				t.Errorf("%s: token %d replayed at %s: %d %s", what, i, path, r.Status, r.Body)
			}
		}
		if r := c.Do("PATCH", "/auth/api/user", map[string]string{"name": "replayed"}); r.Status != 401 {
			t.Errorf("%s: token %d replayed at PATCH /auth/api/user: %d", what, i, r.Status)
		}
		if r := c.Do("GET", "/auth/account", nil, "Accept", "text/html"); r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/auth/sign-in") {
			t.Errorf("%s: token %d replayed at the account page: %d", what, i, r.Status)
		}
	}
}

// TestSessionReplay replays session cookies after everything that must end
// them, from a fresh browser: sign-out (API and page), password change
// (other sessions and the old token of this one), an administrator's
// `gatehouse users disable`, password reset (API and page), and account
// deletion.
//
// ASVS 5.0: V7.4.1, V7.4.2, V7.4.3, V7.2.4, V6.4.3
func TestSessionReplay(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)

	t.Run("sign-out", func(t *testing.T) {
		for _, page := range []bool{false, true} {
			v := newReplayVictim(t, s, fmt.Sprintf("out-%v@example.com", page))
			var r Reply
			if page {
				r = v.a.Do("POST", "/auth/sign-out", url.Values{}, sameOriginHeaders(s)...)
			} else {
				r = v.a.Do("POST", "/auth/api/sign-out", nil)
			}
			if (r.Status != 204 && r.Status != 303) || v.a.Cookie(SessionCookie) != "" {
				t.Fatalf("sign-out (page %v): %d, cookie %q", page, r.Status, v.a.Cookie(SessionCookie))
			}
			dead(t, s, "after sign-out", v.tokA)
			if !alive(t, v.b) {
				t.Error("signing out one browser ended the other's session")
			}
			// Signing out again with the dead token is harmless.
			if r := withToken(s, v.tokA).Do("POST", "/auth/api/sign-out", nil); r.Status != 204 {
				t.Errorf("sign-out with a dead token: %d", r.Status)
			}
		}
	})

	t.Run("password change", func(t *testing.T) {
		v := newReplayVictim(t, s, "change@example.com")
		r := v.a.Do("POST", "/auth/api/password/change", map[string]string{"current_password": Password, "new_password": newPassword})
		if r.Status != 200 || v.a.Cookie(SessionCookie) == v.tokA {
			t.Fatalf("password change: %d, rotated %v", r.Status, v.a.Cookie(SessionCookie) != v.tokA)
		}
		dead(t, s, "after a password change", v.tokA, v.tokB)
		if !alive(t, v.a) {
			t.Error("the browser that changed the password was signed out")
		}
		if r := apiSignIn(s.Client(), v.email, Password); r.Status != 401 {
			t.Errorf("the old password still signs in: %d", r.Status)
		}
	})

	t.Run("admin disable", func(t *testing.T) {
		v := newReplayVictim(t, s, "disabled@example.com")
		start := time.Now()
		out := s.CLI("", "users", "disable", v.email)
		if !strings.Contains(out, "Disabled") {
			t.Fatalf("users disable: %s", out)
		}
		// The CLI is another process: the server learns of the revocation
		// from the database once its session cache entry (at most 10 s
		// old) expires.
		for alive(t, v.a) || alive(t, v.b) {
			if time.Since(start) > 12*time.Second {
				t.Fatalf("sessions of a disabled account still work %s after `users disable`", time.Since(start).Round(time.Second))
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("sessions refused %s after `users disable`", time.Since(start).Round(time.Millisecond))
		dead(t, s, "after users disable", v.tokA, v.tokB)
		if r := apiSignIn(s.Client(), v.email, Password); r.Status != 403 || r.Code() != "account_disabled" {
			t.Errorf("sign-in to a disabled account: %d %s", r.Status, r.Body)
		}
		// Re-enabling the account does not bring the old sessions back.
		s.CLI("", "users", "enable", v.email)
		dead(t, s, "after users enable", v.tokA, v.tokB)
		mustSignIn(t, s.Client(), v.email)
	})

	t.Run("password reset", func(t *testing.T) {
		for _, page := range []bool{false, true} {
			v := newReplayVictim(t, s, fmt.Sprintf("reset-%v@example.com", page))
			if r := s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": v.email}); r.Status != 202 {
				t.Fatalf("forgot: %d", r.Status)
			}
			tok := linkToken(t, s, "password_reset", v.email, "/reset-password", 0)
			if page {
				// The victim's own signed-in browser follows the link.
				if r := v.a.Do("GET", "/auth/reset-password?token="+tok, nil, "Accept", "text/html"); r.Status != 303 {
					t.Fatalf("opening the link: %d", r.Status)
				}
				r := v.a.Do("POST", "/auth/reset-password", url.Values{"password": {newPassword}}, sameOriginHeaders(s)...)
				if r.Status != 303 || v.a.Cookie(SessionCookie) != "" {
					t.Fatalf("page reset: %d, cookie %q", r.Status, v.a.Cookie(SessionCookie))
				}
			} else if r := s.Client().Do("POST", "/auth/api/password/reset", map[string]string{"token": tok, "password": newPassword}); r.Status != 200 {
				t.Fatalf("reset: %d %s", r.Status, r.Body)
			}
			dead(t, s, fmt.Sprintf("after a password reset (page %v)", page), v.tokA, v.tokB)
			if alive(t, v.b) {
				t.Error("a session survived the reset")
			}
		}
	})

	t.Run("account deletion", func(t *testing.T) {
		v := newReplayVictim(t, s, "deleted@example.com")
		if r := v.a.Do("POST", "/auth/api/user/delete", nil); r.Status != 204 || v.a.Cookie(SessionCookie) != "" {
			t.Fatalf("delete: %d", r.Status)
		}
		dead(t, s, "after account deletion", v.tokA, v.tokB)
		if r := apiSignIn(s.Client(), v.email, Password); r.Status != 401 {
			t.Errorf("a deleted account signs in: %d", r.Status)
		}
		// A new account with the same address does not inherit anything.
		c := s.Client()
		if id := c.SignUp(v.email); id == v.userID {
			t.Errorf("the new account reuses the deleted one's id %s", id)
		}
		dead(t, s, "after the address was taken again", v.tokA, v.tokB)
	})
}

// TestSessionRevokeOthersIDs tries to end another user's session by its id
// (API and page), and to use session ids — which the sessions list shows —
// as if they were tokens.
//
// ASVS 5.0: V8.2.2, V7.5.2, V7.2.1
func TestSessionRevokeOthersIDs(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	victim := newReplayVictim(t, s, "idor-victim@example.com")
	attacker := s.Client()
	attackerID := attacker.SignUp("idor-attacker@example.com")

	for _, id := range []string{victim.sid, victim.sid + " ", strings.ToUpper(victim.sid), "ses_", "ses_x", "../" + victim.sid} {
		r := attacker.Do("DELETE", "/auth/api/sessions/"+url.PathEscape(id), nil)
		if r.Status != 404 && r.Status != 400 {
			t.Errorf("DELETE another user's session %q: %d %s", id, r.Status, r.Body)
		}
	}
	if r := attacker.Do("DELETE", "/auth/api/sessions/"+victim.sid, nil); r.Status != 404 || r.Code() != "not_found" {
		t.Errorf("DELETE another user's session: %d %s, want 404 not_found", r.Status, r.Body)
	}
	if r := attacker.Do("POST", "/auth/account/sessions/"+victim.sid+"/revoke", url.Values{}, sameOriginHeaders(s)...); r.Status != 404 {
		t.Errorf("page revoke of another user's session: %d", r.Status)
	}
	if !alive(t, victim.a) || !alive(t, victim.b) {
		t.Fatal("the attacker ended the victim's session")
	}
	// The attacker's list never shows the victim's sessions.
	for _, ss := range sessionList(t, attacker) {
		if ss["id"] == victim.sid {
			t.Fatal("the attacker's list shows the victim's session")
		}
	}
	// Ids are not credentials.
	for _, id := range []string{victim.sid, victim.userID, attackerID} {
		if alive(t, withToken(s, id)) {
			t.Errorf("the id %s works as a session cookie", id)
		}
		r := s.Client().Do("GET", "/auth/api/session", nil, "Authorization", "Bearer "+id)
		if r.Status != 401 {
			t.Errorf("the id %s works as a bearer token: %d", id, r.Status)
		}
	}
	// The session token works only as the cookie, not as a bearer token.
	if r := s.Client().Do("GET", "/auth/api/session", nil, "Authorization", "Bearer "+victim.tokA); r.Status != 401 {
		t.Errorf("the session token works as a bearer token: %d", r.Status)
	}
}

// TestSessionCookieAttributes collects every Set-Cookie of the session
// cookie the flows send — issuing it (sign-up, sign-in, re-authentication,
// password change, the pages' forms) and clearing it (sign-out, revoking
// the current session, reset, deletion) — and checks its attributes:
// HttpOnly, SameSite=Lax, Path=/, host-only, a 32-byte random value when
// set, expired when cleared, never cached. The device and link cookies are
// HttpOnly and SameSite=Lax too.
//
// ASVS 5.0: V3.3.2, V3.3.4, V7.2.3, V14.2.1, V14.3.2
func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	type sent struct {
		what  string
		r     Reply
		clear bool
	}
	var replies []sent
	keep := func(what string, r Reply, clear bool) Reply {
		replies = append(replies, sent{what, r, clear})
		return r
	}
	so := sameOriginHeaders(s)

	c := s.Client()
	keep("API sign-up", c.Do("POST", "/auth/api/sign-up", map[string]string{"email": "attrs@example.com", "password": Password}), false)
	keep("API sign-in", apiSignIn(c, "attrs@example.com", Password), false)
	keep("API re-authenticate", c.Do("POST", "/auth/api/reauthenticate", map[string]string{"password": Password}), false)
	keep("API password change", c.Do("POST", "/auth/api/password/change", map[string]string{"current_password": Password, "new_password": newPassword}), false)
	keep("API password change back", c.Do("POST", "/auth/api/password/change", map[string]string{"current_password": newPassword, "new_password": Password}), false)
	keep("page email change", c.Do("POST", "/auth/account/email", url.Values{"email": {"attrs-moved@example.com"}, "password": {Password}}, so...), false)
	keep("API sign-out", c.Do("POST", "/auth/api/sign-out", nil), true)
	keep("page sign-in", c.Do("POST", "/auth/sign-in", url.Values{"email": {"attrs@example.com"}, "password": {Password}}, so...), false)
	keep("page sign-out", c.Do("POST", "/auth/sign-out", url.Values{}, so...), true)
	keep("page sign-up", c.Do("POST", "/auth/sign-up", url.Values{"email": {"attrs-page@example.com"}, "password": {Password}}, so...), false)
	_, sid, _ := whoami(t, c)
	keep("API revoke own session", c.Do("DELETE", "/auth/api/sessions/"+sid, nil), true)
	mustSignIn(t, c, "attrs-page@example.com")
	_, sid, _ = whoami(t, c)
	keep("page revoke own session", c.Do("POST", "/auth/account/sessions/"+sid+"/revoke", url.Values{}, so...), true)
	mustSignIn(t, c, "attrs-page@example.com")
	if r := s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": "attrs-page@example.com"}); r.Status != 202 {
		t.Fatalf("forgot: %d", r.Status)
	}
	tok := linkToken(t, s, "password_reset", "attrs-page@example.com", "/reset-password", 0)
	link := c.Do("GET", "/auth/reset-password?token="+tok, nil, "Accept", "text/html")
	keep("page password reset", c.Do("POST", "/auth/reset-password", url.Values{"password": {newPassword}}, so...), true)
	mustSignIn(t, c, "attrs@example.com")
	keep("API delete account", c.Do("POST", "/auth/api/user/delete", nil), true)

	for _, x := range replies {
		if x.r.Status >= 400 {
			t.Fatalf("%s: %d %s", x.what, x.r.Status, x.r.Body)
		}
		cs := setCookies(t, x.r, SessionCookie)
		if len(cs) != 1 {
			t.Errorf("%s: %d session Set-Cookie lines, want 1: %q", x.what, len(cs), x.r.Header.Values("Set-Cookie"))
			continue
		}
		ck := cs[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.Partitioned {
			t.Errorf("%s: session cookie attributes: %q", x.what, ck.Raw)
		}
		if x.clear && (ck.MaxAge >= 0 || ck.Value != "") {
			t.Errorf("%s: the cookie is not cleared: %q", x.what, ck.Raw)
		}
		if !x.clear && (ck.MaxAge <= 0 || !isSessionToken(ck.Value)) {
			t.Errorf("%s: the cookie is not a fresh 32-byte token: %q", x.what, ck.Raw)
		}
		if !strings.Contains(x.r.Header.Get("Cache-Control"), "no-store") {
			t.Errorf("%s: a response that sets the session cookie is cacheable: %q", x.what, x.r.Header.Get("Cache-Control"))
		}
		for _, dev := range setCookies(t, x.r, "gatehouse_device") {
			if !dev.HttpOnly || dev.SameSite != http.SameSiteLaxMode || dev.Path != "/" || dev.Domain != "" {
				t.Errorf("%s: device cookie attributes: %q", x.what, dev.Raw)
			}
		}
	}
	lc := setCookies(t, link, "gatehouse_link")
	if len(lc) != 1 || !lc[0].HttpOnly || lc[0].SameSite != http.SameSiteLaxMode || lc[0].Path != "/auth/reset-password" || lc[0].Domain != "" {
		t.Errorf("link cookie: %q", link.Header.Values("Set-Cookie"))
	}
	if loc := link.Header.Get("Location"); strings.Contains(loc, tok) {
		t.Errorf("the link page redirects with the token in the URL: %q", loc)
	}
}
