package attack_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testpg"
	"golang.org/x/crypto/argon2"
)

// Helpers shared by the enumeration, race, body and injection attacks:
// running the binary on either database, the `users` command against a
// running server's database, raw requests the Client does not make (no
// default Content-Type, any bytes), and bursts of simultaneous requests.

// dbBackend is a database the binary can run on.
type dbBackend struct {
	name string
	// settings returns what points a server at a fresh database of its own
	// (nothing: SQLite in the data directory).
	settings func(t *testing.T) []string
}

// dbBackends are both engines. PostgreSQL skips without
// GATEHOUSE_TEST_POSTGRES (and fails under GATEHOUSE_TEST_REQUIRE_ALL=1).
var dbBackends = []dbBackend{
	{"sqlite", func(*testing.T) []string { return nil }},
	{"postgres", func(t *testing.T) []string {
		return []string{"GATEHOUSE_DATABASE_URL=" + testpg.FreshSchema(t)}
	}},
}

// startOn starts a server on b's database with the settings. The schema is
// registered for cleanup before the server, so it is dropped after the
// server stopped.
func startOn(t *testing.T, b dbBackend, settings ...string) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("attack suite: runs the real binary without -short")
	}
	return Start(t, append(b.settings(t), settings...)...)
}

// forEachBackend runs fn as a subtest on each database, each with a server
// of its own started with the settings (rate limits are always lifted: 30
// requests from one address would be throttled).
func forEachBackend(t *testing.T, settings []string, fn func(t *testing.T, s *Server)) {
	for _, b := range dbBackends {
		t.Run(b.name, func(t *testing.T) {
			s := startOn(t, b, append(settings, Relaxed...)...)
			t.Cleanup(func() { logServerErrors(t, s) })
			fn(t, s)
		})
	}
}

// cliEnv is the environment for a `gatehouse` command that works on s's
// data: its data directory (the SQLite file and the development secret),
// its public URL (the mode) and its database.
func (s *Server) cliEnv() []string {
	env := append(os.Environ(), "GATEHOUSE_DATA_DIR="+s.DataDir, "GATEHOUSE_PUBLIC_URL="+s.URL)
	for _, kv := range s.env {
		if strings.HasPrefix(kv, "GATEHOUSE_DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

// CLI runs `gatehouse args…` against s's database with stdin, and fails
// the test unless it succeeds. It returns standard output.
func (s *Server) CLI(stdin string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Dir = s.cliEnv(), s.DataDir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("gatehouse %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// Admin creates a verified account with role admin through the CLI and
// returns a client signed in to it.
func (s *Server) Admin(email string) *Client {
	s.t.Helper()
	s.CLI(Password+"\n", "users", "create", "--email", email, "--role", "admin", "--password-stdin", "--verified")
	c := s.Client()
	if r := c.Do("POST", "/auth/api/sign-in", map[string]string{"email": email, "password": Password}); r.Status != 200 {
		s.t.Fatalf("admin sign-in: %d %s", r.Status, r.Body)
	}
	return c
}

// Settle waits until the outbox holds no pending mail (asked through
// admin's mail report), so that "no such mail" can be asserted.
func (s *Server) Settle(admin *Client) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := admin.Do("GET", "/auth/api/admin/mail", nil)
		if r.Status != 200 {
			s.t.Fatalf("mail report: %d %s", r.Status, r.Body)
		}
		if r.JSON(s.t)["pending"] == float64(0) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the outbox did not drain: %s", r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// passwordHash is Password hashed with argon2id at the binary's default
// cost (19 MiB, 2 passes, 1 lane), in PHC form: verifying it costs what
// verifying a hash made at sign-up costs.
var passwordHash = sync.OnceValue(func() string {
	salt := []byte("attack-suite-salt")
	key := argon2.IDKey([]byte(Password), salt, 2, 19*1024, 1, 32)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, 19*1024, 2, 1, b64(salt), b64(key))
})

// Import creates accounts with Password through `gatehouse users import`
// (no mail, no hashing: hundreds take a moment), verified or not.
func (s *Server) Import(emails []string, verified bool) {
	s.t.Helper()
	var lines strings.Builder
	for _, e := range emails {
		js, _ := json.Marshal(map[string]any{"email": e, "password_hash": passwordHash(), "email_verified": verified})
		lines.Write(append(js, '\n'))
	}
	s.CLI(lines.String(), "users", "import")
}

// Raw sends a request exactly as given: body bytes as they are (nil: none),
// no Content-Type unless header sets one, with c's cookies. A transport
// error is returned, not fatal, so it can be called from any goroutine.
func (c *Client) Raw(method, path string, body io.Reader, header ...string) (Reply, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, c.s.URL+path, body)
	if err != nil {
		return Reply{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return Reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: res.StatusCode, Header: res.Header, Body: string(b)}, nil
}

// Burst sends n requests at the same instant, each from its own client
// (its own connection, already open, no cookie jar: pass cookies in
// header), and returns the replies in order. body(i) is the i-th JSON body.
func (s *Server) Burst(n int, method, path string, body func(i int) string, header ...string) []Reply {
	s.t.Helper()
	type racer struct {
		hc  *http.Client
		req *http.Request
	}
	racers := make([]racer, n)
	for i := range racers {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		s.t.Cleanup(tr.CloseIdleConnections)
		hc := &http.Client{Transport: tr, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		// Open the connection before the start, so that the requests
		// arrive together rather than in the order of their handshakes.
		if res, err := hc.Get(s.URL + "/healthz"); err != nil {
			s.t.Fatalf("warm-up: %v", err)
		} else {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body(i)))
		if err != nil {
			s.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for j := 0; j+1 < len(header); j += 2 {
			req.Header.Set(header[j], header[j+1])
		}
		racers[i] = racer{hc, req}
	}
	replies, errs := make([]Reply, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range racers {
		wg.Go(func() {
			<-start
			res, err := r.hc.Do(r.req)
			if err != nil {
				errs[i] = err
				return
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			replies[i], errs[i] = Reply{Status: res.StatusCode, Header: res.Header, Body: string(b)}, err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			s.t.Fatalf("racer %d: %v", i, err)
		}
	}
	return replies
}

// statuses counts the replies by status.
func statuses(rs []Reply) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.Status]++
	}
	return m
}

// winners returns the indexes of the replies with status st.
func winners(rs []Reply, st int) []int {
	var out []int
	for i, r := range rs {
		if r.Status == st {
			out = append(out, i)
		}
	}
	return out
}

// SessionCookie is the development session cookie's name.
const SessionCookie = "gatehouse_session"

// cookieHeader is a Cookie header presenting c's session.
func (c *Client) cookieHeader() []string {
	v := c.Cookie(SessionCookie)
	if v == "" {
		c.s.t.Fatal("client has no session cookie")
	}
	return []string{"Cookie", SessionCookie + "=" + v}
}

// internalLeak matches what an internal error looks like when it escapes:
// Go, JSON decoder, driver and database error text, stack traces. It is
// case-sensitive, as those texts are: random ids (upper-case base32) must
// not match.
var internalLeak = regexp.MustCompile(`json: |sql: |pq: |pgx|sqlite|SQLite|SQL logic|SQLSTATE|runtime error|panic|goroutine \d|invalid character|unexpected EOF|\.go:\d+`)

// checkErrorShape fails unless r is a 4xx JSON error of the documented
// shape with nothing internal in it.
func checkErrorShape(t *testing.T, what string, r Reply) {
	t.Helper()
	if r.Status < 400 || r.Status > 499 {
		t.Errorf("%s: status %d, want 4xx; body %.300s", what, r.Status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q; body %.300s", what, ct, r.Body)
	}
	var e struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
			Field   *string `json:"field"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error == nil || e.Error.Code == nil || *e.Error.Code == "" || e.Error.Message == nil || *e.Error.Message == "" {
		t.Errorf("%s: %d body is not {\"error\":{\"code\",\"message\"}}: %.300s", what, r.Status, r.Body)
	}
	if loc := internalLeak.FindString(r.Body); loc != "" {
		t.Errorf("%s: internal text %q in the answer: %.300s", what, loc, r.Body)
	}
}

// noServerError fails if r is a 5xx, or an error that carries internal
// error text. (Successful answers carry user data, checked elsewhere.)
func noServerError(t *testing.T, what string, r Reply) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s: status %d; body %.300s", what, r.Status, r.Body)
	}
	if loc := internalLeak.FindString(r.Body); loc != "" && r.Status >= 400 {
		t.Errorf("%s: internal text %q in the answer: %.300s", what, loc, r.Body)
	}
}

// logServerErrors logs, when t failed, what the server logged at level
// ERROR or WARN: the internal side of a 5xx.
func logServerErrors(t *testing.T, s *Server) {
	if !t.Failed() {
		return
	}
	var lines []string
	for line := range strings.Lines(s.Logs()) {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
			lines = append(lines, line)
		}
	}
	t.Logf("server errors and warnings:\n%s", strings.Join(lines, ""))
}

// quantile returns the q-quantile (0..1) of ds, nearest rank.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// ms formats a duration in milliseconds.
func fmtMillis(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
