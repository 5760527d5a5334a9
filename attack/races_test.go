package attack_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Races on everything single-use (invariant 2): 30 requests fired at the
// same instant, each on its own open connection, against the real binary on
// SQLite and on PostgreSQL. Of N concurrent uses of one token, one session
// or one address, exactly one succeeds and the others get the documented
// refusal — never a second success, never a 5xx. The only other answer
// allowed is 503 overloaded, the password-hashing pool shedding load.

const racers = 30

// oneWinner checks that exactly one reply has status win and every other
// one is a lose/loseCode refusal (or 503 overloaded), and returns the
// winner's index.
func oneWinner(t *testing.T, rs []Reply, win, lose int, loseCode string) int {
	t.Helper()
	ws := winners(rs, win)
	overloaded := 0
	for i, r := range rs {
		switch {
		case r.Status == win:
		case r.Status == lose && r.Code() == loseCode:
		case r.Status == http.StatusServiceUnavailable && r.Code() == "overloaded":
			overloaded++
		default:
			t.Errorf("racer %d: %d %s, want %d or %d %s", i, r.Status, r.Body, win, lose, loseCode)
		}
	}
	if overloaded > 0 {
		t.Logf("%d of %d racers were shed by the hashing pool (503 overloaded)", overloaded, len(rs))
	}
	if len(ws) != 1 {
		t.Fatalf("%d of %d concurrent requests succeeded (%v), want exactly 1", len(ws), len(rs), statuses(rs))
	}
	return ws[0]
}

// setCookieValue returns the value r sets for the named cookie ("" if none).
func setCookieValue(r Reply, name string) string {
	for _, line := range r.Header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// TestRaceVerificationToken: one verification link used 30 times at once
// verifies once; the rest are invalid_token.
//
// ASVS 5.0: V15.4.2 (check and use of the token are one atomic operation),
// V2.3.4 (a single-use resource cannot be used twice), V6.4.1 (activation
// codes expire after first use).
func TestRaceVerificationToken(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		c := s.Client()
		c.SignUp("vera@example.com")
		token := s.WaitMail("verify_email", "vera@example.com", nil).Token(t, "/verify-email")
		rs := s.Burst(racers, "POST", "/auth/api/email/verify", func(int) string { return `{"token":"` + token + `"}` })
		w := oneWinner(t, rs, 200, 400, "invalid_token")
		if u := rs[w].JSON(t)["user"].(map[string]any); u["email_verified"] != true || u["email"] != "vera@example.com" {
			t.Fatalf("winner's user %v", u)
		}
		if u := c.Do("GET", "/auth/api/user", nil).JSON(t)["user"].(map[string]any); u["email_verified"] != true {
			t.Fatalf("after the race the address is not verified: %v", u)
		}
		if r := c.Do("POST", "/auth/api/email/verify", map[string]string{"token": token}); r.Status != 400 || r.Code() != "invalid_token" {
			t.Fatalf("replay after the race: %d %s", r.Status, r.Body)
		}
	})
}

// TestRaceResetToken: one reset link used 30 times at once, each racer
// with its own new password, resets once — and the password that works
// afterwards is the winner's, no other racer's and not the old one.
//
// ASVS 5.0: V15.4.2, V2.3.4, V6.4.3 (a secure reset process), V7.4.3
// (the reset ends the user's sessions).
func TestRaceResetToken(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		c := s.Client()
		c.SignUp("rhea@example.com")
		if r := s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": "rhea@example.com"}); r.Status != 202 {
			t.Fatalf("forgot: %d %s", r.Status, r.Body)
		}
		token := s.WaitMail("password_reset", "rhea@example.com", nil).Token(t, "/reset-password")
		password := func(i int) string { return fmt.Sprintf("racer %02d chose this passphrase", i) }
		rs := s.Burst(racers, "POST", "/auth/api/password/reset", func(i int) string {
			return `{"token":"` + token + `","password":"` + password(i) + `"}`
		})
		w := oneWinner(t, rs, 200, 400, "invalid_token")
		if rs[w].Body != "{\"status\":\"password_reset\"}\n" {
			t.Fatalf("winner's body %q", rs[w].Body)
		}
		if r := c.Do("GET", "/auth/api/session", nil); r.Status != 401 {
			t.Fatalf("the reset left the user's session alive: %d", r.Status)
		}
		signIn := func(pw string) int {
			return s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": "rhea@example.com", "password": pw}).Status
		}
		if st := signIn(password(w)); st != 200 {
			t.Fatalf("the winner's password does not sign in: %d", st)
		}
		if st := signIn(Password); st != 401 {
			t.Fatalf("the old password still signs in: %d", st)
		}
		for i := range racers {
			if i != w {
				if st := signIn(password(i)); st != 401 {
					t.Fatalf("racer %d's password (the winner was %d) answers %d", i, w, st)
				}
			}
		}
	})
}

// TestRaceEmailChangeToken: one email-change link used 30 times at once
// moves the account once, and the old address is told once.
//
// ASVS 5.0: V15.4.2, V2.3.4, V6.3.7 (users are notified of an email
// change).
func TestRaceEmailChangeToken(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		c := s.Client()
		c.SignUp("ezra@example.com") // just signed in: recent enough to change the address
		if r := c.Do("POST", "/auth/api/email/change", map[string]string{"email": "ezra.new@example.com"}); r.Status != 202 {
			t.Fatalf("email change: %d %s", r.Status, r.Body)
		}
		token := s.WaitMail("email_change", "ezra.new@example.com", nil).Token(t, "/confirm-email-change")
		rs := s.Burst(racers, "POST", "/auth/api/email/change/confirm", func(int) string { return `{"token":"` + token + `"}` })
		w := oneWinner(t, rs, 200, 400, "invalid_token")
		if u := rs[w].JSON(t)["user"].(map[string]any); u["email"] != "ezra.new@example.com" || u["email_verified"] != true {
			t.Fatalf("winner's user %v", u)
		}
		if u := c.Do("GET", "/auth/api/user", nil).JSON(t)["user"].(map[string]any); u["email"] != "ezra.new@example.com" {
			t.Fatalf("after the race the account has %v", u["email"])
		}
		s.Settle(s.Admin("root@example.com"))
		n := 0
		for _, m := range s.Mail() {
			if m.Kind == "email_changed" && m.To == "ezra@example.com" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d email-changed notices to the old address, want 1", n)
		}
	})
}

// TestRaceSignUpOneEmail: 30 sign-ups with one address at once. With
// verification optional, one gets 201 and a session, 29 get 409
// email_taken. With it required, all 30 get the same 201
// verification_required and no cookie (or 503 overloaded, the hashing
// pool shedding load), and still one account exists: one
// verification link arrives, and of the 30 passwords exactly one — the
// creator's — signs in once the address is verified.
//
// ASVS 5.0: V15.4.2 (uniqueness is checked and claimed atomically),
// V2.3.4, V6.3.8 (in required mode the answers are identical).
func TestRaceSignUpOneEmail(t *testing.T) {
	password := func(i int) string { return fmt.Sprintf("racer %02d signs up with this", i) }
	body := func(i int) string {
		return `{"email":"sam@example.com","password":"` + password(i) + `"}`
	}
	t.Run("optional", func(t *testing.T) {
		forEachBackend(t, nil, func(t *testing.T, s *Server) {
			rs := s.Burst(racers, "POST", "/auth/api/sign-up", body)
			w := oneWinner(t, rs, 201, 409, "email_taken")
			id := rs[w].JSON(t)["user"].(map[string]any)["id"]
			r := s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": "sam@example.com", "password": password(w)})
			if r.Status != 200 || r.JSON(t)["user"].(map[string]any)["id"] != id {
				t.Fatalf("the winner's password: %d %s", r.Status, r.Body)
			}
			for i, r := range rs {
				if i != w && len(r.Header.Values("Set-Cookie")) != 0 {
					t.Fatalf("racer %d (%d) got cookies: %v", i, r.Status, r.Header.Values("Set-Cookie"))
				}
			}
		})
	})
	t.Run("required", func(t *testing.T) {
		forEachBackend(t, []string{"GATEHOUSE_EMAIL_VERIFICATION=required"}, func(t *testing.T, s *Server) {
			rs := s.Burst(racers, "POST", "/auth/api/sign-up", body)
			shed := 0
			for i, r := range rs {
				if r.Status == http.StatusServiceUnavailable && r.Code() == "overloaded" {
					shed++
					continue
				}
				if r.Status != 201 || r.Body != "{\"status\":\"verification_required\"}\n" || len(r.Header.Values("Set-Cookie")) != 0 {
					t.Fatalf("racer %d: %d %q cookies %v", i, r.Status, r.Body, r.Header.Values("Set-Cookie"))
				}
			}
			if shed > 0 {
				t.Logf("%d of %d racers were shed by the hashing pool (503 overloaded)", shed, racers)
			}
			token := s.WaitMail("verify_email", "sam@example.com", nil).Token(t, "/verify-email")
			if r := s.Client().Do("POST", "/auth/api/email/verify", map[string]string{"token": token}); r.Status != 200 {
				t.Fatalf("verify: %d %s", r.Status, r.Body)
			}
			var ok []int
			for i := range racers {
				r := s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": "sam@example.com", "password": password(i)})
				switch r.Status {
				case 200:
					ok = append(ok, i)
				case 401:
				default:
					t.Fatalf("sign-in with racer %d's password: %d %s", i, r.Status, r.Body)
				}
			}
			if len(ok) != 1 {
				t.Fatalf("%d of the racers' passwords sign in (%v), want exactly 1", len(ok), ok)
			}
			s.Settle(s.Admin("root@example.com"))
			n := 0
			for _, m := range s.Mail() {
				if m.Kind == "verify_email" && m.To == "sam@example.com" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d verification mails for one address, want 1 (one account created)", n)
			}
		})
	})
}

// TestRaceSessionRevocation: 30 revocations of one session at once: one
// 204, 29 404 — and the session is gone while the revoker's stays.
//
// ASVS 5.0: V7.4.1 (a terminated session cannot be used), V7.5.2 (users
// terminate their other sessions), V15.4.2.
func TestRaceSessionRevocation(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		owner, other := s.Client(), s.Client()
		owner.SignUp("otto@example.com")
		if r := other.Do("POST", "/auth/api/sign-in", map[string]string{"email": "otto@example.com", "password": Password}); r.Status != 200 {
			t.Fatalf("sign-in: %d %s", r.Status, r.Body)
		}
		victim := other.Do("GET", "/auth/api/session", nil).JSON(t)["session"].(map[string]any)["id"].(string)
		rs := s.Burst(racers, "DELETE", "/auth/api/sessions/"+victim, func(int) string { return "" }, owner.cookieHeader()...)
		oneWinner(t, rs, 204, 404, "not_found")
		if r := other.Do("GET", "/auth/api/session", nil); r.Status != 401 {
			t.Fatalf("the revoked session answers %d", r.Status)
		}
		r := owner.Do("GET", "/auth/api/sessions", nil)
		if r.Status != 200 {
			t.Fatalf("the revoker's session answers %d", r.Status)
		}
		if ss := r.JSON(t)["sessions"].([]any); len(ss) != 1 {
			t.Fatalf("%d sessions left, want 1: %s", len(ss), r.Body)
		}
	})
}

// TestRaceReauthentication: 30 re-authentications of one session at once
// (each rotates it): one 200 with a new cookie, 29 401 — one session
// remains, the old token is dead, the winner's works.
//
// ASVS 5.0: V7.2.4 (a new session token on re-authentication, the old one
// terminated), V15.4.2.
func TestRaceReauthentication(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		c := s.Client()
		c.SignUp("rene@example.com")
		old := c.Cookie(SessionCookie)
		rs := s.Burst(racers, "POST", "/auth/api/reauthenticate", func(int) string { return `{"password":"` + Password + `"}` }, c.cookieHeader()...)
		w := oneWinner(t, rs, 200, 401, "unauthenticated")
		fresh := setCookieValue(rs[w], SessionCookie)
		if fresh == "" || fresh == old {
			t.Fatalf("the winner got no new session cookie: %v", rs[w].Header.Values("Set-Cookie"))
		}
		for i, r := range rs {
			if i != w && setCookieValue(r, SessionCookie) != "" {
				t.Fatalf("racer %d (%d) got a session cookie", i, r.Status)
			}
		}
		if r := c.Do("GET", "/auth/api/session", nil); r.Status != 401 {
			t.Fatalf("the rotated-away token answers %d", r.Status)
		}
		c.SetCookie(SessionCookie, fresh)
		r := c.Do("GET", "/auth/api/sessions", nil)
		if r.Status != 200 {
			t.Fatalf("the winner's token answers %d", r.Status)
		}
		if ss := r.JSON(t)["sessions"].([]any); len(ss) != 1 || !strings.HasPrefix(ss[0].(map[string]any)["id"].(string), "ses_") {
			t.Fatalf("sessions after the race: %s", r.Body)
		}
	})
}
