package attack_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-auth/gatehouse/internal/tcpproxy"
	"github.com/gatehouse-auth/gatehouse/internal/testpg"
)

// sessionCookie is the session cookie's name in development mode.
const sessionCookie = "gatehouse_session"

// onEachEngine runs fn once per storage engine: SQLite (the default) and
// PostgreSQL in a schema of its own (skipped, or failed under
// GATEHOUSE_TEST_REQUIRE_ALL=1, without GATEHOUSE_TEST_POSTGRES). fn gets
// the settings that select the engine.
func onEachEngine(t *testing.T, fn func(t *testing.T, db []string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("attack suite: runs the real binary without -short")
		}
		fn(t, []string{"GATEHOUSE_DATABASE_URL=" + testpg.FreshSchema(t)})
	})
}

// rawReply is a response, or the transport error that replaced it.
type rawReply struct {
	status int
	body   string
	cookie string // the session cookie the response set, if any
	err    error
}

// rawDo sends one JSON request without a cookie jar and without failing
// the test: safe from any goroutine, and a dead server is an err, not a
// t.Fatal.
func rawDo(hc *http.Client, method, u string, body any, cookie string) rawReply {
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return rawReply{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
	}
	res, err := hc.Do(req)
	if err != nil {
		return rawReply{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	r := rawReply{status: res.StatusCode, body: string(b), err: err}
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			r.cookie = c.Value
		}
	}
	return r
}

// gatehouseCLI runs `gatehouse args...` against the server's database
// (same data directory, public URL and database settings) and returns
// its standard output.
func gatehouseCLI(t *testing.T, s *Server, db []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_DATA_DIR="+s.DataDir, "GATEHOUSE_PUBLIC_URL="+s.URL)
	cmd.Env = append(cmd.Env, db...)
	cmd.Dir = s.DataDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// accountEmails lists every account's email with `gatehouse users list --json`
// (one page of up to 1000, more than any test here creates), counting
// each email's occurrences.
func accountEmails(t *testing.T, s *Server, db []string) map[string]int {
	t.Helper()
	out := gatehouseCLI(t, s, db, "users", "list", "--json", "--limit", "1000")
	var users []struct {
		Email string `json:"email"`
	}
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("users list --json: %v\n%s", err, out)
	}
	n := map[string]int{}
	for _, u := range users {
		n[strings.ToLower(u.Email)]++
	}
	return n
}

// TestBinaryCrashDuringSignUps SIGKILLs the server in the middle of 200
// concurrent sign-ups (distinct addresses, 16 requests in flight at a
// time), on each engine, and checks after a restart that the crash left
// no half-created account: every acknowledged (201) sign-up kept its
// account and the session it was given; every other attempt either
// created a complete account (its answer was lost with the process) or
// left nothing behind, so the address can be signed up again; no address
// exists twice (`gatehouse users list --json`), and nothing exists that
// was never sent. An account — its row and its password hash — is stored
// whole or not at all; a 201 is only given once its session is stored too.
//
// ASVS 5.0: V15.4.2 (a check and the action that depends on it are one
// atomic operation — the uniqueness check of the address and the insert),
// V16.5.3 (fail securely: an interrupted transaction is not half applied).
func TestBinaryCrashDuringSignUps(t *testing.T) {
	onEachEngine(t, crashDuringSignUps)
}

func crashDuringSignUps(t *testing.T, db []string) {
	const (
		total    = 200
		inFlight = 16 // well below the hashing pool's queue (64), so few are refused as overloaded
		killAt   = 75 // responses before the SIGKILL
	)
	s := Start(t, append(append([]string{"GATEHOUSE_EMAIL_VERIFICATION=optional"}, Relaxed...), db...)...)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: inFlight}}

	type attempt struct {
		email string
		sent  bool
		reply rawReply
	}
	attempts := make([]attempt, total)
	for i := range attempts {
		attempts[i].email = fmt.Sprintf("crash-%03d@example.com", i)
	}
	var (
		killed    atomic.Bool
		responses atomic.Int32
		reached   = make(chan struct{})
		once      sync.Once
		sem       = make(chan struct{}, inFlight)
		wg        sync.WaitGroup
		start     = make(chan struct{})
	)
	for i := range attempts {
		wg.Go(func() {
			<-start
			sem <- struct{}{}
			defer func() { <-sem }()
			if killed.Load() {
				return // never sent: the server is gone
			}
			a := &attempts[i]
			a.sent = true
			// Like a well-behaved client, retry when the server says it is
			// busy (503 overloaded: the hashing pool's queue was full).
			a.reply = retryBusy(func() rawReply {
				if killed.Load() {
					return rawReply{err: errKilled}
				}
				return rawDo(hc, "POST", s.URL+"/auth/api/sign-up", map[string]string{"email": a.email, "password": Password}, "")
			})
			if a.reply.err == nil && responses.Add(1) >= killAt {
				once.Do(func() { close(reached) })
			}
		})
	}
	began := time.Now()
	close(start)
	select {
	case <-reached:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d responses in 60 s", responses.Load())
	}
	// A response arrives just after its sign-up committed, and the next
	// commit is one password hash (~45 ms) away: killing at once would
	// almost always hit hashing. A random delay within one hash spreads
	// the kill over the whole cycle, writes included.
	time.Sleep(time.Duration(rand.Int64N(int64(50 * time.Millisecond))))
	killed.Store(true)
	s.Kill()
	killedAfter := time.Since(began)
	wg.Wait()

	// What the clients saw.
	var created, refused, failed, unsent []string
	other := map[int]int{}
	for _, a := range attempts {
		switch {
		case !a.sent:
			unsent = append(unsent, a.email)
		case a.reply.err != nil:
			failed = append(failed, a.email)
		case a.reply.status == 201:
			created = append(created, a.email)
		case a.reply.status >= 500:
			refused = append(refused, a.email) // still overloaded after 30 s of retries
		default:
			other[a.reply.status]++
		}
	}
	if len(other) > 0 {
		t.Errorf("unexpected answers before the kill (status: count): %v", other)
	}
	if len(created) == 0 {
		t.Fatalf("no sign-up succeeded before the kill; nothing to check")
	}

	s.Restart()
	after := accountEmails(t, s, db)
	t.Logf("killed after %v: %d sign-ups answered 201, %d answered 5xx (overloaded for 30 s), %d lost their answer to the kill (transport error), %d never sent; %d accounts exist after the restart",
		killedAfter.Round(time.Millisecond), len(created), len(refused), len(failed), len(unsent), len(after))

	// No address twice, nothing that was not asked for.
	asked := map[string]bool{}
	for _, a := range attempts {
		asked[a.email] = true
	}
	for email, n := range after {
		if n != 1 {
			t.Errorf("%s exists %d times", email, n)
		}
		if !asked[email] {
			t.Errorf("unexpected account %s", email)
		}
	}

	check := rawClient()
	// After the restart the checks must not be refused for load: patient
	// retries a 503 overloaded (the machine may be busy with other tests).
	do := func(method, path string, body any, cookie string) rawReply {
		return retryBusy(func() rawReply { return rawDo(check, method, s.URL+path, body, cookie) })
	}
	// Every acknowledged sign-up: the account and the session it was given
	// both survived.
	fourAtATime(created, func(email string) {
		var a attempt
		for _, x := range attempts {
			if x.email == email {
				a = x
			}
		}
		if after[email] != 1 {
			t.Errorf("%s was acknowledged (201) but its account is gone", email)
		}
		if r := do("GET", "/auth/api/session", nil, a.reply.cookie); r.err != nil || r.status != 200 || !strings.Contains(r.body, email) {
			t.Errorf("%s: the session its sign-up returned: %d %v %s", email, r.status, r.err, r.body)
		}
		if r := do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": Password}, ""); r.err != nil || r.status != 200 {
			t.Errorf("%s was acknowledged (201) but cannot sign in: %d %v %s", email, r.status, r.err, r.body)
		}
	})
	// Never sent: nothing.
	for _, email := range unsent {
		if after[email] != 0 {
			t.Errorf("%s exists but its sign-up was never sent", email)
		}
	}
	// Every other attempt: a whole account, or nothing that blocks a new
	// sign-up.
	var complete, absent int
	var mu sync.Mutex
	fourAtATime(append(append([]string{}, failed...), refused...), func(email string) {
		in := do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": Password}, "")
		switch {
		case in.err != nil:
			t.Errorf("%s: sign-in: %v", email, in.err)
		case in.status == 200:
			mu.Lock()
			complete++
			mu.Unlock()
			if after[email] != 1 {
				t.Errorf("%s signs in but is not listed", email)
			}
		case in.status == 401:
			mu.Lock()
			absent++
			mu.Unlock()
			if after[email] != 0 {
				t.Errorf("%s is half-created: listed, but its password does not sign in", email)
			}
			if up := do("POST", "/auth/api/sign-up", map[string]string{"email": email, "password": Password}, ""); up.err != nil || up.status != 201 {
				t.Errorf("%s is half-created: no sign-in, and a new sign-up answers %d %v %s", email, up.status, up.err, up.body)
			}
		default:
			t.Errorf("%s: sign-in answered %d %s", email, in.status, in.body)
		}
	})
	t.Logf("of the %d sent but unacknowledged sign-ups, %d are complete accounts, %d left nothing (and signed up again)", len(failed)+len(refused), complete, absent)
	if final, want := accountEmails(t, s, db), total-len(unsent); len(final) != want {
		t.Errorf("%d accounts at the end, want %d (every address sent exactly once)", len(final), want)
	}
}

// errKilled replaces a retry that was not sent because the server had
// been killed.
var errKilled = errors.New("not retried: the server was killed")

// rawClient is an HTTP client for rawDo.
func rawClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// retryBusy calls do until its answer is not 503 overloaded (the hashing
// pool's queue was full), for up to 30 s.
func retryBusy(do func() rawReply) rawReply {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := do()
		if r.err != nil || r.status != 503 || !strings.Contains(r.body, `"overloaded"`) || time.Now().After(deadline) {
			return r
		}
		time.Sleep(time.Duration(200+rand.IntN(300)) * time.Millisecond)
	}
}

// fourAtATime calls fn for each item, four at a time.
func fourAtATime(items []string, fn func(string)) {
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(it)
		})
	}
	wg.Wait()
}

// signInSession signs c in with password and returns the new session's id.
func signInSession(t *testing.T, c *Client, email, password string) string {
	t.Helper()
	r := c.Do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": password})
	if r.Status != 200 {
		t.Fatalf("sign-in %s: %d %s", email, r.Status, r.Body)
	}
	return r.JSON(t)["session"].(map[string]any)["id"].(string)
}

// TestBinaryCrashKeepsRevocationsAndConsumedTokens acknowledges
// revocations and single-use consumptions, SIGKILLs the server at once,
// and checks after a restart that every one of them held: a session
// revoked from another device and one signed out stay dead, a used
// verification link and a used reset link stay used, the reset's
// revocation of the user's sessions and its new password stay — while a
// session nobody revoked, and a link nobody used, still work (so the
// refusals are the revocations', not a restart that lost everything).
//
// ASVS 5.0: V7.4.1 (a terminated session is unusable: invalidated at the
// back end, durably), V7.4.3 (sessions end after a password reset),
// V6.4.3 (a secure reset process: its link is single-use), V15.4.2
// (consumption is atomic and durable), V16.5.3.
func TestBinaryCrashKeepsRevocationsAndConsumedTokens(t *testing.T) {
	onEachEngine(t, crashKeepsRevocations)
}

func crashKeepsRevocations(t *testing.T, db []string) {
	const newPassword = "a brand new passphrase for bob"
	s := Start(t, append(append([]string{"GATEHOUSE_EMAIL_VERIFICATION=optional"}, Relaxed...), db...)...)
	alice, bob, carol := "alice@example.com", "bob@example.com", "carol@example.com"

	// Alice: three devices. a1 revokes a2; a3 signs out; a1 survives.
	a1, a2, a3 := s.Client(), s.Client(), s.Client()
	a1.SignUp(alice)
	a2ID := signInSession(t, a2, alice, Password)
	a3ID := signInSession(t, a3, alice, Password)
	// Bob: signed up (b1), then resets his password.
	b1 := s.Client()
	b1.SignUp(bob)
	// Carol: a verification link nobody uses.
	s.Client().SignUp(carol)

	// The mailbox lives in memory: read every link before the kill.
	aliceVerify := s.WaitMail("verify_email", alice, nil).Token(t, "/verify-email")
	carolVerify := s.WaitMail("verify_email", carol, nil).Token(t, "/verify-email")
	if r := s.Client().Do("POST", "/auth/api/password/forgot", map[string]string{"email": bob}); r.Status != 202 {
		t.Fatalf("forgot-password: %d %s", r.Status, r.Body)
	}
	bobReset := s.WaitMail("password_reset", bob, nil).Token(t, "/reset-password")

	// The acknowledged state changes, each checked before the kill.
	if r := a1.Do("DELETE", "/auth/api/sessions/"+a2ID, nil); r.Status != 204 {
		t.Fatalf("revoke a2: %d %s", r.Status, r.Body)
	}
	a3Cookie := a3.Cookie(sessionCookie)
	if r := a3.Do("POST", "/auth/api/sign-out", nil); r.Status != 204 {
		t.Fatalf("sign-out a3: %d %s", r.Status, r.Body)
	}
	a3.SetCookie(sessionCookie, a3Cookie) // keep the signed-out cookie, as a thief would
	if r := s.Client().Do("POST", "/auth/api/email/verify", map[string]string{"token": aliceVerify}); r.Status != 200 {
		t.Fatalf("verify alice: %d %s", r.Status, r.Body)
	}
	if r := s.Client().Do("POST", "/auth/api/password/reset", map[string]string{"token": bobReset, "password": newPassword}); r.Status != 200 {
		t.Fatalf("reset bob: %d %s", r.Status, r.Body)
	}
	for name, c := range map[string]*Client{"a2 (revoked)": a2, "a3 (signed out)": a3, "b1 (reset)": b1} {
		if r := c.Do("GET", "/auth/api/session", nil); r.Status != 401 {
			t.Fatalf("before the kill, %s: %d %s", name, r.Status, r.Body)
		}
	}

	s.Kill()
	s.Restart()

	for name, c := range map[string]*Client{"a2 (revoked from another device)": a2, "a3 (signed out)": a3, "b1 (bob's session before his reset)": b1} {
		if r := c.Do("GET", "/auth/api/session", nil); r.Status != 401 || r.Code() != "unauthenticated" {
			t.Errorf("after the crash, %s: %d %s, want 401 unauthenticated", name, r.Status, r.Body)
		}
	}
	r := a1.Do("GET", "/auth/api/session", nil)
	if r.Status != 200 {
		t.Fatalf("after the crash, a1 (never revoked): %d %s", r.Status, r.Body)
	}
	if v, _ := r.JSON(t)["user"].(map[string]any)["email_verified"].(bool); !v {
		t.Errorf("after the crash, alice's verification was lost: %s", r.Body)
	}
	if r := a1.Do("GET", "/auth/api/sessions", nil); r.Status != 200 || strings.Contains(r.Body, a2ID) || strings.Contains(r.Body, a3ID) {
		t.Errorf("after the crash, alice's sessions: %d %s (must not list %s or %s)", r.Status, r.Body, a2ID, a3ID)
	}
	if r := s.Client().Do("POST", "/auth/api/email/verify", map[string]string{"token": aliceVerify}); r.Status != 400 || r.Code() != "invalid_token" {
		t.Errorf("after the crash, alice's used verification link: %d %s, want 400 invalid_token", r.Status, r.Body)
	}
	if r := s.Client().Do("POST", "/auth/api/password/reset", map[string]string{"token": bobReset, "password": "yet another passphrase 42"}); r.Status != 400 || r.Code() != "invalid_token" {
		t.Errorf("after the crash, bob's used reset link: %d %s, want 400 invalid_token", r.Status, r.Body)
	}
	if r := s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": bob, "password": Password}); r.Status != 401 {
		t.Errorf("after the crash, bob's old password: %d %s, want 401", r.Status, r.Body)
	}
	signInSession(t, s.Client(), bob, newPassword)
	// The control: links survive a crash, so the refusals above are
	// consumption, not loss.
	if r := s.Client().Do("POST", "/auth/api/email/verify", map[string]string{"token": carolVerify}); r.Status != 200 {
		t.Errorf("after the crash, carol's unused verification link: %d %s, want 200", r.Status, r.Body)
	}
}

// TestBinaryFailsClosedWhenTheDatabaseIsDown takes the database away from
// a running server and checks that it fails closed — every authenticated
// request and every sign-in is a 5xx, never a 200 and never a 401 that
// would tell a client it was signed out; a sign-out is a 5xx, not a 204
// that would claim a revocation that did not happen; /readyz is 503 while
// /healthz (liveness) stays 200 — and that it recovers by itself when the
// database comes back, without a restart.
//
// PostgreSQL: the server reaches the database through a TCP proxy that
// the test cuts (it stops accepting, so connections are refused, and
// resets every open connection, as when the database server dies) and
// then resumes on the same port.
//
// SQLite: skipped, for want of an honest way to do it. An embedded SQLite
// is a library working on file descriptors inside the server's process:
// there is no server to stop and no connection to cut. chmod on the data
// directory or the file leaves the open descriptors working (and root
// ignores it); unlinking, renaming or overwriting the file under the
// process is tampering — connections opened later would see another,
// empty or corrupt database — not an outage. The realistic failure of an
// embedded database, the disk refusing writes, is
// TestBinaryFailsClosedWhenTheDiskRefusesWrites.
//
// ASVS 5.0: V16.5.2 (operate securely when an external resource fails),
// V16.5.3 (fail securely, no fail-open), V7.4.1 (no revocation is claimed
// that did not happen).
func TestBinaryFailsClosedWhenTheDatabaseIsDown(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("attack suite: runs the real binary without -short")
		}
		failsClosedPostgres(t)
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Skip("no honest way to take an embedded SQLite away from a running process: there is no server or connection, " +
			"chmod leaves open descriptors working, and replacing the file is tampering, not an outage; " +
			"the realistic failure (the disk refusing writes) is TestBinaryFailsClosedWhenTheDiskRefusesWrites")
	})
}

// throughProxy returns dsn with its host and port replaced by those of a
// new proxy forwarding to the original ones.
func throughProxy(t *testing.T, dsn string) (string, *tcpproxy.Proxy) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	p := tcpproxy.Start(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	host, port, _ := net.SplitHostPort(p.Addr())
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Host = p.Addr()
		return u.String(), p
	}
	return dsn + " host=" + host + " port=" + port, p // key=value form: the last value wins
}

func failsClosedPostgres(t *testing.T) {
	dsn, proxy := throughProxy(t, testpg.FreshSchema(t))
	s := Start(t, append([]string{"GATEHOUSE_DATABASE_URL=" + dsn, "GATEHOUSE_EMAIL_VERIFICATION=optional"}, Relaxed...)...)
	const email = "outage@example.com"

	// Three sessions of one user:
	//  - cold: signed in and never used, so not in the session cache (only a
	//    session check fills it; sign-in does not). Its requests reach the
	//    database at once: the fail-closed assertions right after the cut
	//    use it.
	//  - warm: checked just before the cut, so the in-process cache (TTL at
	//    most 10 s, DESIGN.md) may answer its session check for up to 10 s
	//    — by design. The test asserts that only after the TTL has passed.
	//  - gone: revoked before the cut; it must never come back.
	warm := s.Client()
	warm.SignUp(email)
	cold, gone := s.Client(), s.Client()
	signInSession(t, cold, email, Password)
	goneID := signInSession(t, gone, email, Password)
	if r := warm.Do("DELETE", "/auth/api/sessions/"+goneID, nil); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/auth/api/session", "/auth/api/sessions", "/auth/account"} {
		if r := warm.Do("GET", p, nil, "Accept", "text/html"); r.Status != 200 {
			t.Fatalf("before the outage, GET %s: %d", p, r.Status)
		}
	}
	if r := s.Client().Do("GET", "/readyz", nil); r.Status != 200 {
		t.Fatalf("before the outage, /readyz: %d %s", r.Status, r.Body)
	}

	proxy.Cut()
	cut := time.Now()
	closedAll := func(when string, c *Client, name string) {
		t.Helper()
		for _, p := range []string{"/auth/api/session", "/auth/api/sessions", "/auth/account"} {
			r := c.Do("GET", p, nil, "Accept", "text/html")
			if r.Status < 500 {
				t.Errorf("%s, %s GET %s: %d %s (want 5xx: a storage failure is neither signed in nor signed out)", when, name, p, r.Status, r.Header.Get("Location"))
			}
		}
		r := c.Do("GET", "/auth/api/session", nil)
		if r.Status < 500 || r.Code() == "" {
			t.Errorf("%s, %s GET /auth/api/session: %d %s (want a 5xx JSON error)", when, name, r.Status, r.Body)
		}
		for _, leak := range []string{"sqlstore", "dial", "refused", "127.0.0.1", "postgres"} {
			if r.Status >= 500 && strings.Contains(r.Body, leak) {
				t.Errorf("%s, the error shows the client internal details (%q): %s", when, leak, r.Body)
			}
		}
	}
	during := "during the outage"
	// First, within the cache TTL, the warm session's check may be a
	// hit (200): the one answer allowed by design. (Before the sign-out
	// attempt below, which drops the session from the cache even when it
	// fails.) Its other requests need the database.
	if r := warm.Do("GET", "/auth/api/session", nil); r.Status != 200 && r.Status < 500 {
		t.Errorf("%s, warm session within the cache TTL: %d %s (want 200 from the cache, or 5xx)", during, r.Status, r.Body)
	} else {
		t.Logf("%s, the warm session's check %v after the cut: %d (200 = answered from the cache)", during, time.Since(cut).Round(time.Millisecond), r.Status)
	}
	for _, p := range []string{"/auth/api/sessions", "/auth/account"} {
		if r := warm.Do("GET", p, nil, "Accept", "text/html"); r.Status < 500 {
			t.Errorf("%s, warm session GET %s: %d (want 5xx: it needs the database)", during, p, r.Status)
		}
	}
	closedAll(during, cold, "cold session")
	closedAll(during, gone, "revoked session")
	for _, c := range []*Client{s.Client(), cold} {
		if r := c.Do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": Password}); r.Status < 500 {
			t.Errorf("%s, sign-in: %d %s", during, r.Status, r.Body)
		}
	}
	if r := s.Client().Do("POST", "/auth/api/sign-up", map[string]string{"email": "new@example.com", "password": Password}); r.Status < 500 {
		t.Errorf("%s, sign-up: %d %s", during, r.Status, r.Body)
	}
	// Signing out the warm session: its check may come from the cache,
	// but the revocation needs the database, so the answer must be a
	// 5xx and the cookie must stay — not a 204 claiming a revocation
	// that did not happen.
	warmCookie := warm.Cookie(sessionCookie)
	if r := warm.Do("POST", "/auth/api/sign-out", nil); r.Status < 500 || warm.Cookie(sessionCookie) != warmCookie {
		t.Errorf("%s, sign-out: %d %s (cookie kept: %v)", during, r.Status, r.Body, warm.Cookie(sessionCookie) == warmCookie)
	}
	warm.SetCookie(sessionCookie, warmCookie)
	if r := s.Client().Do("GET", "/readyz", nil); r.Status != 503 {
		t.Errorf("%s, /readyz: %d %s", during, r.Status, r.Body)
	}
	if r := s.Client().Do("GET", "/healthz", nil); r.Status != 200 {
		t.Errorf("%s, /healthz: %d %s", during, r.Status, r.Body)
	}
	// Past the TTL, the warm session fails closed like the others.
	time.Sleep(time.Until(cut.Add(10*time.Second + 500*time.Millisecond)))
	closedAll("past the cache TTL", warm, "warm session")
	closedAll("past the cache TTL", cold, "cold session")
	t.Logf("server log during the outage (last lines):\n%s", lastLines(s.Logs(), 6))

	// The database comes back: no restart.
	proxy.Forward()
	back := time.Now()
	deadline := back.Add(15 * time.Second)
	for {
		if r := cold.Do("GET", "/auth/api/session", nil); r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after the database came back the server still fails:\n%s", lastLines(s.Logs(), 10))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("answering again %v after the database came back", time.Since(back).Round(time.Millisecond))
	for name, c := range map[string]*Client{"cold": cold, "warm": warm} {
		for _, p := range []string{"/auth/api/session", "/auth/api/sessions", "/auth/account"} {
			if r := c.Do("GET", p, nil, "Accept", "text/html"); r.Status != 200 {
				t.Errorf("after the outage, %s GET %s: %d", name, p, r.Status)
			}
		}
	}
	if r := gone.Do("GET", "/auth/api/session", nil); r.Status != 401 {
		t.Errorf("after the outage, the revoked session: %d %s", r.Status, r.Body)
	}
	signInSession(t, s.Client(), email, Password)
	if r := s.Client().Do("GET", "/readyz", nil); r.Status != 200 {
		t.Errorf("after the outage, /readyz: %d %s", r.Status, r.Body)
	}
}

// lastMatching returns the last n lines of s that contain sub.
func lastMatching(s, sub string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return lastLines(strings.Join(out, "\n"), n)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
