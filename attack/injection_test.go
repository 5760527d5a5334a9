package attack_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Injection through every field that reaches the database — emails,
// passwords, names, tokens, session ids in paths, the admin endpoints'
// query parameters — on SQLite and PostgreSQL: SQL metacharacters, LIKE
// wildcards, NUL bytes and invalid UTF-8 (as JSON escapes), very long
// values. Every answer is a 4xx or the normal one, never a 5xx; nothing
// matches an account or row it should not; and afterwards the data is
// intact (the victim signs in, the tables answer).

// injection is one hostile value: a name for messages and the JSON string
// literal that carries it (escapes included: "\u0000", "\ud800").
type injection struct{ name, lit string }

// str is an injection of s, JSON-encoded.
func str(s string) injection {
	js, _ := json.Marshal(s)
	name := s
	if len(name) > 40 {
		name = fmt.Sprintf("%.20s… (%d bytes)", name, len(name))
	}
	return injection{name, string(js)}
}

// value is what the server decodes the literal to.
func (in injection) value() string {
	var s string
	json.Unmarshal([]byte(in.lit), &s)
	return s
}

// injections are the hostile values tried in every field.
var injections = []injection{
	str(`' OR 1=1 --`), str(`' OR '1'='1`), str(`ada@example.com' --`), str(`ada@example.com'--`),
	str(`ada@example.com' OR '1'='1`), str(`" OR ""="`), str(`"; DROP TABLE users; --`),
	str(`'; DROP TABLE users; --`), str(`ada@example.com'; DROP TABLE sessions; --`),
	str(`ada@example.com'; SELECT pg_sleep(5); --`), str(`' UNION SELECT id, email_normalized FROM users --`),
	str(`\`), str(`ada@example.com\`), str(`\'`), str("`"), str("`ada`@example.com"), str("ada`@example.com"),
	str(`%`), str(`%@example.com`), str(`%da@example.com`), str(`_da@example.com`), str(`ad_@example.com`),
	str(`___@example.com`), str(`ada@%`), str(`ada@example.%`), str(`ada@exampl_.com`), str(`a%`),
	str("ada@example.com\x00"), str("\x00"), str("ada\x00@example.com"), str("\x00' OR 1=1 --"),
	{"lone surrogate", `"ada\ud800@example.com"`}, {"escaped NULs", `"\u0000\u0000\u0000"`},
	str(strings.Repeat("a", 10000) + "@example.com"), str(strings.Repeat("%", 5000)), str(strings.Repeat("'", 5000)),
	str(strings.Repeat("_", 64) + "@example.com"),
}

// obj builds a JSON object from key, literal pairs.
func obj(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", kv[i], kv[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// lit is the JSON literal of s.
func lit(s string) string { return str(s).lit }

// slow is how long an answer may take before it looks like an injected
// sleep (pg_sleep(5)) ran.
const slow = 4 * time.Second

// timedDo is c.Do that also fails on a 5xx, internal text or an answer
// slower than slow.
func timedDo(t *testing.T, c *Client, method, path string, body any) Reply {
	t.Helper()
	start := time.Now()
	r := c.Do(method, path, body)
	if d := time.Since(start); d > slow {
		t.Errorf("%s %s took %v: %.200v", method, path, d, body)
	}
	noServerError(t, fmt.Sprintf("%s %s %.200v", method, path, body), r)
	return r
}

// injectionVictim is the account every attack tries to reach.
type injectionVictim struct {
	s        *Server
	c        *Client
	id       string
	password string
}

const victimEmail = "ada@example.com"

func newInjectionVictim(s *Server) *injectionVictim {
	c := s.Client()
	return &injectionVictim{s: s, c: c, id: c.SignUp(victimEmail), password: Password}
}

// intact checks that the victim still signs in with its password as the
// same account, that its session still works, and that the users table
// still answers (a sign-up works, the CLI lists the victim).
func (v *injectionVictim) intact(t *testing.T) {
	t.Helper()
	r := v.s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": victimEmail, "password": v.password})
	if r.Status != 200 || r.JSON(t)["user"].(map[string]any)["id"] != v.id {
		t.Fatalf("the victim cannot sign in any more: %d %s", r.Status, r.Body)
	}
	if r := v.c.Do("GET", "/auth/api/session", nil); r.Status != 200 {
		t.Fatalf("the victim's session answers %d", r.Status)
	}
	v.s.Client().SignUp("after-injection@example.com")
	var users []struct{ ID, Email string }
	if err := json.Unmarshal([]byte(v.s.CLI("", "users", "list", "--json")), &users); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.ID == v.id && u.Email == victimEmail {
			return
		}
	}
	t.Fatalf("the CLI does not list the victim: %v", users)
}

// TestInjectionCredentials: hostile emails, passwords and names at sign-in,
// sign-up and profile update. No wildcard or metacharacter signs in as the
// victim or collides with its address; a hostile value that is a valid
// address, password or name is stored and compared exactly.
//
// ASVS 5.0: V1.2.4 (parameterized queries), V2.2.1 (input validated),
// V6.2 (passwords verified whole, never truncated at a NUL), V8.2.2 (no
// access to another account's data), V16.5.1.
func TestInjectionCredentials(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		v := newInjectionVictim(s)
		attacker := s.Client()
		attacker.SignUp("mallory@example.com")

		for _, in := range injections {
			// As the email, with the victim's password.
			r := timedDo(t, s.Client(), "POST", "/auth/api/sign-in", obj("email", in.lit, "password", lit(Password)))
			if r.Status != 400 && r.Status != 401 {
				t.Errorf("sign-in as %q with the victim's password: %d %s", in.name, r.Status, r.Body)
			}
			// As the victim's password.
			r = timedDo(t, s.Client(), "POST", "/auth/api/sign-in", obj("email", lit(victimEmail), "password", in.lit))
			if r.Status != 401 {
				t.Errorf("sign-in as the victim with password %q: %d %s", in.name, r.Status, r.Body)
			}
		}

		for i, in := range injections {
			// As the address of a new account: a new, distinct account or
			// invalid_email — never email_taken, which would mean the
			// value matched an address it is not.
			r := timedDo(t, s.Client(), "POST", "/auth/api/sign-up", obj("email", in.lit, "password", lit(Password)))
			switch {
			case r.Status == 201:
				u := r.JSON(t)["user"].(map[string]any)
				if u["id"] == v.id || !strings.EqualFold(u["email"].(string), strings.TrimSpace(in.value())) {
					t.Errorf("sign-up as %q made %v", in.name, u)
				}
			case r.Status == 400 && r.Code() == "invalid_email":
			default:
				t.Errorf("sign-up as %q: %d %s", in.name, r.Status, r.Body)
			}

			// As a password: stored whole and compared whole.
			email := fmt.Sprintf("pw%d@example.com", i)
			r = timedDo(t, s.Client(), "POST", "/auth/api/sign-up", obj("email", lit(email), "password", in.lit))
			switch {
			case r.Status == 201:
				if st := s.Client().Do("POST", "/auth/api/sign-in", obj("email", lit(email), "password", in.lit)).Status; st != 200 {
					t.Errorf("password %q does not sign in to its account: %d", in.name, st)
				}
				if before, _, cut := strings.Cut(in.value(), "\x00"); cut && before != "" {
					if st := s.Client().Do("POST", "/auth/api/sign-in", obj("email", lit(email), "password", lit(before))).Status; st != 401 {
						t.Errorf("password %q signs in when cut at its NUL: %d", in.name, st)
					}
				}
			case r.Status == 400 && r.Code() == "invalid_password":
			default:
				t.Errorf("sign-up with password %q: %d %s", in.name, r.Status, r.Body)
			}

			// As the attacker's own name: stored exactly, or refused.
			r = timedDo(t, attacker, "PATCH", "/auth/api/user", obj("name", in.lit))
			switch {
			case r.Status == 200:
				if got := attacker.Do("GET", "/auth/api/user", nil).JSON(t)["user"].(map[string]any)["name"]; got != in.value() {
					t.Errorf("name %q came back as %q", in.name, got)
				}
			case r.Status == 400 && r.Code() == "invalid_name":
			default:
				t.Errorf("name %q: %d %s", in.name, r.Status, r.Body)
			}
		}
		if u := v.c.Do("GET", "/auth/api/user", nil).JSON(t)["user"].(map[string]any); u["name"] != "" || u["email"] != victimEmail {
			t.Fatalf("the victim's profile changed: %v", u)
		}
		v.intact(t)
	})
}

// TestInjectionEmailFlowsAndTokens: hostile addresses at forgot-password,
// resend and email change never reach the victim's mailbox; hostile tokens
// at every link endpoint are invalid_token and consume none of the
// victim's outstanding links, which work afterwards.
//
// ASVS 5.0: V1.2.4, V2.2.1, V6.4.3 (a reset link cannot be guessed or
// matched by pattern), V16.5.1.
func TestInjectionEmailFlowsAndTokens(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		v := newInjectionVictim(s)
		verifyToken := s.WaitMail("verify_email", victimEmail, nil).Token(t, "/verify-email")
		attacker := s.Client()
		attacker.SignUp("mallory@example.com")

		for _, in := range injections {
			for _, path := range []string{"/auth/api/password/forgot", "/auth/api/email/verify/send", "/auth/api/email/change"} {
				c := s.Client()
				if path == "/auth/api/email/change" {
					c = attacker
				}
				r := timedDo(t, c, "POST", path, obj("email", in.lit))
				if r.Status != 202 && !(r.Status == 400 && r.Code() == "invalid_email") {
					t.Errorf("%s %q: %d %s", path, in.name, r.Status, r.Body)
				}
			}
		}
		// Whatever was asked for, the victim got nothing but its sign-up's
		// verification mail.
		s.Settle(s.Admin("root@example.com"))
		for _, m := range s.Mail() {
			if strings.EqualFold(m.To, victimEmail) && m.Kind != "verify_email" {
				t.Errorf("the victim got a %s mail from the attacks", m.Kind)
			}
		}

		// The victim's outstanding links: verification (sign-up) and reset.
		if r := v.c.Do("POST", "/auth/api/password/forgot", obj("email", lit(victimEmail))); r.Status != 202 {
			t.Fatalf("forgot: %d", r.Status)
		}
		resetToken := s.WaitMail("password_reset", victimEmail, nil).Token(t, "/reset-password")

		tokens := append([]injection{
			str(strings.Repeat("%", 43)), str(strings.Repeat("_", 43)), str("'" + strings.Repeat("a", 42)),
			str(`' OR 1=1 --` + strings.Repeat("a", 32)), str(`%` + verifyToken[1:]), str(verifyToken[:42] + `_`),
			str(verifyToken[:42] + `%`), {"43 escaped NULs", `"` + strings.Repeat(`\u0000`, 43) + `"`},
			str(verifyToken + "' OR 1=1 --"), str(verifyToken + "\x00"),
		}, injections...)
		for _, in := range tokens {
			for _, path := range []string{"/auth/api/email/verify", "/auth/api/password/reset", "/auth/api/email/change/confirm"} {
				body := obj("token", in.lit)
				if path == "/auth/api/password/reset" {
					body = obj("token", in.lit, "password", lit("a brand new passphrase"))
				}
				r := timedDo(t, s.Client(), "POST", path, body)
				if r.Status != 400 || r.Code() != "invalid_token" {
					t.Errorf("%s with token %q: %d %s", path, in.name, r.Status, r.Body)
				}
			}
		}
		// Nothing was consumed: both links still work.
		if r := s.Client().Do("POST", "/auth/api/email/verify", obj("token", lit(verifyToken))); r.Status != 200 {
			t.Fatalf("the victim's verification link no longer works: %d %s", r.Status, r.Body)
		}
		if r := s.Client().Do("POST", "/auth/api/password/reset", obj("token", lit(resetToken), "password", lit("the victim's new passphrase"))); r.Status != 200 {
			t.Fatalf("the victim's reset link no longer works: %d %s", r.Status, r.Body)
		}
		v.password = "the victim's new passphrase"
		if r := v.s.Client().Do("POST", "/auth/api/sign-in", obj("email", lit(victimEmail), "password", lit(v.password))); r.Status != 200 {
			t.Fatalf("sign-in after the reset: %d", r.Status)
		}
		v.c = s.Client() // the reset ended the victim's sessions
		v.c.Do("POST", "/auth/api/sign-in", map[string]string{"email": victimEmail, "password": v.password})
		v.intact(t)
	})
}

// TestInjectionSessionIDs: hostile session ids in the paths of the API and
// the account page revoke nothing — not the attacker's other session, not
// the victim's (whose real id is refused like any other).
//
// ASVS 5.0: V1.2.4, V8.2.2 (another user's session id is not found),
// V16.5.1.
func TestInjectionSessionIDs(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		v := newInjectionVictim(s)
		victimSession := v.c.Do("GET", "/auth/api/session", nil).JSON(t)["session"].(map[string]any)["id"].(string)
		attacker, second := s.Client(), s.Client()
		attacker.SignUp("mallory@example.com")
		second.Do("POST", "/auth/api/sign-in", map[string]string{"email": "mallory@example.com", "password": Password})

		ids := []string{
			"%27%20OR%201=1", "%27%20OR%201=1%20--", "%27%20OR%20%271%27=%271", "1%20OR%201=1", "%22%3B%20DROP%20TABLE%20sessions%3B%20--",
			"%25", "%25%25", "ses_%25", "ses_" + strings.Repeat("%25", 26), "_", "ses_" + strings.Repeat("_", 26), "ses_%5F%5F",
			"%5C", "ses_%5C", "%60", "%60ses%60", "%00", "ses_%00", victimSession[:len(victimSession)-1] + "%00",
			"%FF%FE", "%C0%AF", "%ED%A0%80", strings.Repeat("A", 3000), strings.Repeat("%25", 1000),
			victimSession[:len(victimSession)-1] + "_", victimSession[:len(victimSession)-1] + "%25", victimSession,
		}
		for _, id := range ids {
			r := attacker.Do("DELETE", "/auth/api/sessions/"+id, nil)
			noServerError(t, "DELETE "+id, r)
			if r.Status != 404 || r.Code() != "not_found" {
				t.Errorf("DELETE /auth/api/sessions/%.80s: %d %s", id, r.Status, r.Body)
			}
			r = attacker.Do("POST", "/auth/account/sessions/"+id+"/revoke", url.Values{})
			noServerError(t, "page revoke "+id, r)
			if r.Status != 404 {
				t.Errorf("POST /auth/account/sessions/%.80s/revoke: %d", id, r.Status)
			}
		}
		r := attacker.Do("GET", "/auth/api/sessions", nil)
		if ss := r.JSON(t)["sessions"].([]any); len(ss) != 2 {
			t.Fatalf("the attacker has %d sessions after the attack, want 2: %s", len(ss), r.Body)
		}
		if r := second.Do("GET", "/auth/api/session", nil); r.Status != 200 {
			t.Fatalf("the attacker's other session answers %d", r.Status)
		}
		v.intact(t)
	})
}

// TestInjectionAdminQueries: hostile filters on the admin audit endpoint.
// Wildcards match nothing (no event has the id "%"), metacharacters are
// plain text, malformed values are 400, and the table is whole afterwards.
// A non-admin gets 403 whatever the query.
//
// ASVS 5.0: V1.2.4, V2.2.1, V8.2.1 (the admin function needs the admin
// permission), V16.5.1.
func TestInjectionAdminQueries(t *testing.T) {
	forEachBackend(t, nil, func(t *testing.T, s *Server) {
		v := newInjectionVictim(s)
		admin := s.Admin("root@example.com")
		attacker := s.Client()
		attacker.SignUp("mallory@example.com")
		for range 3 {
			s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": victimEmail, "password": "wrong password here"})
		}
		count := func(query string) (int, Reply) {
			t.Helper()
			r := admin.Do("GET", "/auth/api/admin/audit?"+query, nil)
			noServerError(t, "audit?"+query, r)
			if r.Status != 200 {
				return -1, r
			}
			return len(r.JSON(t)["events"].([]any)), r
		}
		// The audit log is written in batches every 250 ms.
		var total int
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			n, _ := count("type=sign_in_failed&user_id=" + v.id)
			if total, _ = count("limit=1000"); n >= 3 || time.Now().After(deadline) {
				if n < 3 {
					t.Fatalf("the victim's failed sign-ins are not in the audit log (%d)", n)
				}
				break
			}
		}
		under := func(s string) string { return strings.Repeat("_", len(s)) }
		none := []string{
			"user_id=%25", "user_id=" + v.id[:4] + "%25", "user_id=" + v.id[:len(v.id)-1] + "_", "user_id=usr_" + under(v.id[4:]),
			"type=%25", "type=sign_in%25", "type=sign_in_faile_", "type=%27", "type=%27%20OR%201=1--", "type=sign_in_failed%27%20OR%20%271%27=%271",
			"type=%22%3B%20DROP%20TABLE%20audit_events%3B%20--", "ip=%25", "ip=127.0.0._", "ip=%27%20OR%201=1--",
			"user_id=%27%20OR%20%271%27=%271", "user_id=%5C", "user_id=%60", "user_id=" + strings.Repeat("A", 10000),
			"type=" + strings.Repeat("x,", 2000), "user_id=%27&type=%27&ip=%27",
			"user_id=%00", "type=%00", "ip=%00", "user_id=%FF%FE", "type=%C0%AF", "ip=%ED%A0%80",
		}
		for _, q := range none {
			n, r := count(q)
			if n != 0 && !(r.Status >= 400 && r.Status < 500) {
				t.Errorf("audit?%.80s: %d events (%d %.200s), want none or a 4xx", q, n, r.Status, r.Body)
			}
		}
		bad := []string{
			"before=%27", "before=%25", "before=%27%20OR%201=1--", "before=aud_%25", "before=%00", "before=%FF",
			"since=%27", "until=1%20OR%201=1", "since=%00", "limit=1%20OR%201=1", "limit=-1", "limit=%00", "limit=99999999999999999999",
		}
		for _, q := range bad {
			r := admin.Do("GET", "/auth/api/admin/audit?"+q, nil)
			noServerError(t, "audit?"+q, r)
			if r.Status != 400 || r.Code() != "invalid_request" {
				t.Errorf("audit?%s: %d %s, want 400 invalid_request", q, r.Status, r.Body)
			}
		}
		// Many type filters: each is a bound parameter, and there are more
		// than SQLite allows in one statement (32 766).
		r := admin.Do("GET", "/auth/api/admin/audit?type="+strings.Repeat("x,", 33000), nil)
		noServerError(t, "33 000 types", r)

		for _, q := range append(none[:5], bad[:3]...) {
			if r := attacker.Do("GET", "/auth/api/admin/audit?"+q, nil); r.Status != 403 || r.Code() != "forbidden" {
				t.Errorf("non-admin audit?%s: %d %s", q, r.Status, r.Body)
			}
		}
		if r := admin.Do("GET", "/auth/api/admin/mail", nil); r.Status != 200 {
			t.Fatalf("admin mail report: %d %s", r.Status, r.Body)
		}
		if n, _ := count("limit=1000"); n < total {
			t.Fatalf("the audit log lost events: %d, had %d", n, total)
		}
		v.intact(t)
	})
}
