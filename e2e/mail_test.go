package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
)

// logBuffer collects a process's output; the process writes while the test
// reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// node is one running `gatehouse serve` process.
type node struct {
	t      *testing.T
	bin    string
	dir    string
	env    []string // the process's environment, for other commands on the same data
	url    string   // where it listens, http://127.0.0.1:port
	stdout logBuffer
	stderr logBuffer
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process exited
	err    error         // the process's exit, once done is closed

	stopOnce sync.Once
}

// serveNode runs `gatehouse serve` in development mode with its data in
// dir/data and the given extra settings (NAME=value, applied last). Unless
// the settings name a public URL, the node listens on a free loopback port
// that is also its public URL, so the links in its mail lead back to it.
// The process is stopped when the test ends.
func serveNode(t *testing.T, bin, dir string, settings ...string) *node {
	t.Helper()
	env := append(os.Environ(), "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=", "GATEHOUSE_DATA_DIR="+filepath.Join(dir, "data"))
	public := false
	for _, s := range settings {
		public = public || strings.HasPrefix(s, "GATEHOUSE_PUBLIC_URL=")
	}
	if !public {
		port := freePort(t)
		env = append(env, fmt.Sprintf("GATEHOUSE_ADDR=127.0.0.1:%d", port), fmt.Sprintf("GATEHOUSE_PUBLIC_URL=http://127.0.0.1:%d", port))
	}
	env = append(env, settings...)
	n := &node{t: t, bin: bin, dir: dir, env: env, done: make(chan struct{})}
	n.cmd = exec.Command(bin, "serve")
	n.cmd.Dir, n.cmd.Env, n.cmd.Stdout, n.cmd.Stderr = dir, env, &n.stdout, &n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.stop)
	deadline := time.After(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(n.stdout.String()); m != nil {
			n.url = m[1]
			return n
		}
		select {
		case <-n.done:
			t.Fatalf("gatehouse serve exited: %v\n%s%s", n.err, n.stdout.String(), n.stderr.String())
		case <-deadline:
			t.Fatalf("gatehouse did not start:\n%s%s", n.stdout.String(), n.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop interrupts the process and waits for a clean exit. It is safe to
// call more than once.
func (n *node) stop() {
	n.stopOnce.Do(func() {
		n.cmd.Process.Signal(os.Interrupt)
		select {
		case <-n.done:
			if n.err != nil {
				n.t.Errorf("gatehouse did not shut down cleanly: %v\n%s", n.err, n.stderr.String())
			}
		case <-time.After(20 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
			n.t.Error("gatehouse did not stop within 20 s of SIGINT")
		}
	})
}

// logs is everything the process printed so far.
func (n *node) logs() string { return n.stdout.String() + n.stderr.String() }

// run runs another gatehouse command on the node's data and settings and
// returns what it printed.
func (n *node) run(args ...string) string {
	n.t.Helper()
	cmd := exec.Command(n.bin, args...)
	cmd.Dir, cmd.Env = n.dir, n.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		n.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// mailStatus runs `gatehouse mail status --json` on the node's data.
func (n *node) mailStatus() mailStatus {
	n.t.Helper()
	cmd := exec.Command(n.bin, "mail", "status", "--json")
	cmd.Dir, cmd.Env = n.dir, n.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		n.t.Fatalf("gatehouse mail status --json: %v\n%s", err, stderr.String())
	}
	var s mailStatus
	if err := json.Unmarshal(out, &s); err != nil {
		n.t.Fatalf("gatehouse mail status --json printed %q: %v", out, err)
	}
	s.raw = string(out)
	return s
}

type mailStatus struct {
	Pending  int `json:"pending"`
	Sent     int `json:"sent"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
	Problems []struct {
		ID        string `json:"id"`
		Kind      string `json:"kind"`
		Recipient string `json:"recipient"`
		State     string `json:"state"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	} `json:"problems"`
	raw string
}

// waitStatus polls `mail status` until ok accepts it.
func (n *node) waitStatus(what string, within time.Duration, ok func(mailStatus) bool) mailStatus {
	n.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := n.mailStatus()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: not within %v; mail status says:\n%s", what, within, s.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// user is a curl-like client of one node: a cookie jar, no redirects
// followed.
type user struct {
	t    *testing.T
	base string
	jar  *cookiejar.Jar
	c    *http.Client
}

func newUser(t *testing.T, base string) *user {
	jar, _ := cookiejar.New(nil)
	return &user{t: t, base: base, jar: jar, c: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type reply struct {
	status int
	header http.Header
	body   string
}

// code is the error code of a JSON error body ("" if none).
func (r reply) code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal([]byte(r.body), &e)
	return e.Error.Code
}

// do sends a request to path (relative to the node) or to an absolute URL;
// header holds name, value pairs.
func (u *user) do(method, target, body string, header ...string) reply {
	u.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = u.base + target
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		u.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := u.c.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, string(b)}
}

// api calls the JSON API and checks the status (and the error code, when
// one is given).
func (u *user) api(method, path, body string, status int, code string) reply {
	u.t.Helper()
	r := u.do(method, path, body, "Content-Type", "application/json")
	if r.status != status || (code != "" && r.code() != code) {
		u.t.Fatalf("%s %s: %d %s, want %d %s", method, path, r.status, r.body, status, code)
	}
	return r
}

// page GETs a page as a browser would.
func (u *user) page(target string) reply {
	u.t.Helper()
	return u.do("GET", target, "", "Accept", "text/html")
}

// submit posts a page's form from the node's own origin.
func (u *user) submit(path string, form url.Values) reply {
	u.t.Helper()
	return u.do("POST", path, form.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Origin", u.base, "Accept", "text/html")
}

// devMail is a message in the development mailbox, as its JSON shows it.
type devMail struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	To      string   `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
	HTML    string   `json:"html"`
	Links   []string `json:"links"`
}

// readMail waits for a message of kind to addr in the node's development
// mailbox that is not in seen, marks it seen and returns it.
func (u *user) readMail(kind, addr string, seen map[string]bool) devMail {
	u.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := u.do("GET", "/auth/dev/mailbox", "", "Accept", "application/json")
		if r.status != 200 || !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
			u.t.Fatalf("mailbox: %d (Cache-Control %q) %s", r.status, r.header.Get("Cache-Control"), r.body)
		}
		var box struct {
			Messages []devMail `json:"messages"`
		}
		if err := json.Unmarshal([]byte(r.body), &box); err != nil {
			u.t.Fatalf("mailbox JSON %q: %v", r.body, err)
		}
		for _, m := range box.Messages { // newest first
			if m.Kind == kind && strings.EqualFold(m.To, addr) && !seen[m.ID] {
				seen[m.ID] = true
				return m
			}
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("no %s mail to %s within 10 s; the mailbox holds %s", kind, addr, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailLink returns the message's link to page, which must lead to the
// public URL, and its token.
func mailLink(t *testing.T, text string, links []string, public, page string) (string, string) {
	t.Helper()
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil || !strings.HasSuffix(u.Path, page) {
			continue
		}
		if !strings.HasPrefix(l, public+"/auth"+page+"?token=") {
			t.Fatalf("the %s link %s does not lead to the public URL %s", page, l, public)
		}
		tok := u.Query().Get("token")
		if len(tok) != 43 {
			t.Fatalf("the %s link's token %q is not 32 bytes in base64url", page, tok)
		}
		return l, tok
	}
	t.Fatalf("no %s link in the mail: %v\n%s", page, links, text)
	return "", ""
}

// openLink follows an emailed link the way a browser does, checking that
// the token leaves the URL at once and that the bare page shows its form.
func (u *user) openLink(link, page, form string) {
	u.t.Helper()
	r := u.page(link)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/auth"+page {
		u.t.Fatalf("GET %s: %d to %q, want 303 to the bare page", page, r.status, r.header.Get("Location"))
	}
	if !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
		u.t.Fatalf("GET %s with a token: Cache-Control %q", page, r.header.Get("Cache-Control"))
	}
	r = u.page("/auth" + page)
	if r.status != 200 || !strings.Contains(r.body, `action="/auth`+page+`"`) || !strings.Contains(r.body, form) {
		u.t.Fatalf("GET %s: %d, no form:\n%s", page, r.status, r.body)
	}
	if tok := mustURL(u.t, link).Query().Get("token"); strings.Contains(r.body, tok) {
		u.t.Fatalf("the %s page embeds the token", page)
	}
}

// TestBinaryMailJourney is a newcomer's mail with curl against the real
// binary in development mode with verification required: sign up, verify
// through the emailed link, sign in, forget the password, reset it through
// the emailed link, sign in with the new one. The links' tokens never reach
// the logs.
func TestBinaryMailJourney(t *testing.T) {
	bin := buildBinary(t)
	n := serveNode(t, bin, t.TempDir(), "GATEHOUSE_EMAIL_VERIFICATION=required")
	const email, password, newPassword = "ada@example.com", "correct horse battery staple", "a brand new passphrase"
	seen := map[string]bool{}
	c := newUser(t, n.url)

	// Sign up: nothing to sign in with until the address is verified.
	r := c.api("POST", "/auth/api/sign-up", `{"email":"ada@example.com","password":"correct horse battery staple","name":"Ada"}`, 201, "")
	if r.body != "{\"status\":\"verification_required\"}\n" {
		t.Fatalf("sign-up body %s", r.body)
	}
	if cookies := r.header.Values("Set-Cookie"); len(cookies) != 0 {
		t.Fatalf("sign-up in required mode set cookies: %v", cookies)
	}
	c.api("POST", "/auth/api/sign-in", `{"email":"ada@example.com","password":"correct horse battery staple"}`, 403, "email_not_verified")
	// The sign-up page sends the browser to check its mail, signed out.
	other := newUser(t, n.url)
	r = other.submit("/auth/sign-up", url.Values{"email": {"bo@example.com"}, "password": {password}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/auth/check-email?for=verify" {
		t.Fatalf("sign-up page in required mode: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	for _, ck := range other.jar.Cookies(mustURL(t, n.url)) {
		if strings.Contains(ck.Name, "session") {
			t.Fatalf("the sign-up page set a session cookie in required mode: %s", ck.Name)
		}
	}
	if p := other.page("/auth/check-email?for=verify"); p.status != 200 || !strings.Contains(p.body, "If that address needs verifying") {
		t.Fatalf("check-email page: %d\n%s", p.status, p.body)
	}

	// Verify through the mailed link: a mail scanner's GET uses nothing,
	// the page's POST does.
	verify := c.readMail("verify_email", email, seen)
	link, verifyToken := mailLink(t, verify.Text, verify.Links, n.url, "/verify-email")
	newUser(t, n.url).page(link)
	c.openLink(link, "/verify-email", "Verify my email")
	r = c.submit("/auth/verify-email", url.Values{})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/auth/sign-in?notice=email_verified" {
		t.Fatalf("verify POST: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if p := c.page("/auth/sign-in?notice=email_verified"); !strings.Contains(p.body, "Your email address is verified.") {
		t.Fatalf("sign-in page after verification:\n%s", p.body)
	}
	r = c.api("POST", "/auth/api/sign-in", `{"email":"ada@example.com","password":"correct horse battery staple"}`, 200, "")
	if !strings.Contains(r.body, `"email_verified":true`) {
		t.Fatalf("signed in unverified: %s", r.body)
	}
	// Used: opening the link again says so.
	c.page(link)
	if p := c.page("/auth/verify-email"); p.status != 400 || !strings.Contains(p.body, "invalid or has expired") {
		t.Fatalf("used verification link: %d\n%s", p.status, p.body)
	}

	// Forgot the password: reset through the mailed link.
	r = c.api("POST", "/auth/api/password/forgot", `{"email":"ada@example.com"}`, 202, "")
	if r.body != "{\"status\":\"accepted\"}\n" {
		t.Fatalf("forgot-password body %s", r.body)
	}
	reset := c.readMail("password_reset", email, seen)
	link, resetToken := mailLink(t, reset.Text, reset.Links, n.url, "/reset-password")
	c.openLink(link, "/reset-password", `name="password"`)
	r = c.submit("/auth/reset-password", url.Values{"password": {newPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/auth/sign-in?notice=password_reset" {
		t.Fatalf("reset POST: %d to %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if p := c.page("/auth/sign-in?notice=password_reset"); !strings.Contains(p.body, "Sign in with your new password") {
		t.Fatalf("sign-in page after the reset:\n%s", p.body)
	}
	// The reset signed every session out, this one included.
	c.api("GET", "/auth/api/session", "", 401, "unauthenticated")
	c.api("POST", "/auth/api/sign-in", `{"email":"ada@example.com","password":"correct horse battery staple"}`, 401, "invalid_credentials")
	c.api("POST", "/auth/api/sign-in", `{"email":"ada@example.com","password":"a brand new passphrase"}`, 200, "")
	c.readMail("password_changed", email, seen)

	// The logs: requests logged by path, never a token or a password.
	n.stop()
	logs := n.logs()
	for name, secret := range map[string]string{"verification token": verifyToken, "reset token": resetToken, "password": password, "new password": newPassword} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s reached the logs", name)
		}
	}
	if strings.Contains(logs, "token=") {
		t.Error("a query string with a token reached the logs")
	}
	requests := 0
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, "msg=request ") {
			continue
		}
		requests++
		if strings.Contains(line, "?") {
			t.Errorf("an access log line carries a query string: %s", line)
		}
	}
	for _, path := range []string{"path=/auth/verify-email ", "path=/auth/reset-password ", "path=/auth/sign-in "} {
		if !strings.Contains(logs, path) {
			t.Errorf("no access log line with %s", path)
		}
	}
	if requests < 20 {
		t.Errorf("%d access log lines, expected one per request:\n%s", requests, logs)
	}
}

// smtpMail is a message the SMTP server accepted, with the headers the
// checks need.
type smtpMail struct {
	to, messageID, subject, text string
}

func smtpMails(t *testing.T, got []smtptest.Received) []smtpMail {
	t.Helper()
	var out []smtpMail
	for _, r := range got {
		m, err := mail.ReadMessage(bytes.NewReader(r.Data))
		if err != nil {
			t.Fatalf("unparsable message: %v\n%s", err, r.Data)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if len(r.To) != 1 {
			t.Fatalf("a message to %d recipients: %v", len(r.To), r.To)
		}
		out = append(out, smtpMail{to: strings.ToLower(r.To[0]), messageID: m.Header.Get("Message-Id"), subject: subject, text: plainText(t, m)})
	}
	return out
}

// plainText returns the text/plain part of a multipart/alternative
// message, decoded.
func plainText(t *testing.T, m *mail.Message) string {
	t.Helper()
	media, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || media != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	parts := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := parts.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

var textLink = regexp.MustCompile(`https?://\S+`)

// checkOnce checks that each of want received exactly one of ms, all with
// distinct Message-IDs, and nobody else anything.
func checkOnce(t *testing.T, what string, ms []smtpMail, want []string) {
	t.Helper()
	per := map[string]int{}
	ids := map[string]bool{}
	for _, m := range ms {
		per[m.to]++
		if m.messageID == "" || ids[m.messageID] {
			t.Errorf("%s: Message-ID %q missing or seen twice", what, m.messageID)
		}
		ids[m.messageID] = true
	}
	for _, addr := range want {
		if per[addr] != 1 {
			t.Errorf("%s: %s received %d messages, want 1", what, addr, per[addr])
		}
		delete(per, addr)
	}
	for addr, k := range per {
		t.Errorf("%s: unexpected %d messages to %s", what, k, addr)
	}
}

// waitSMTP waits until the server holds n messages.
func waitSMTP(t *testing.T, srv *smtptest.Server, n int, within time.Duration) []smtptest.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	got, err := srv.Wait(ctx, n)
	if err != nil {
		t.Fatalf("%d of %d messages arrived within %v", len(srv.Messages()), n, within)
	}
	return got
}

// relay forwards TCP connections to a server, each after a delay.
type relay struct {
	ln    net.Listener
	to    string
	delay atomic.Int64 // nanoseconds before a connection is forwarded

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// startRelay relays loopback connections to addr until the test ends. A
// connection that cannot reach addr is closed: to the client the server
// is down.
func startRelay(t *testing.T, addr string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, to: addr, conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { r.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		wg.Wait()
	})
	return r
}

func (r *relay) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *relay) track(c net.Conn, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.conns[c] = true
	} else {
		delete(r.conns, c)
	}
}

func (r *relay) serve(c net.Conn) {
	r.track(c, true)
	defer r.track(c, false)
	defer c.Close()
	time.Sleep(time.Duration(r.delay.Load()))
	up, err := net.Dial("tcp", r.to)
	if err != nil {
		return
	}
	r.track(up, true)
	defer r.track(up, false)
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// TestBinaryMailOutage sends mail through a real SMTP server that goes
// down: mail waits in the outbox (pending, attempts counted, as
// `gatehouse mail status` shows) and arrives once, exactly once, when the
// server is back — also with two nodes delivering from one SQLite database.
func TestBinaryMailOutage(t *testing.T) {
	bin := buildBinary(t)
	srv := smtptest.Start(t, smtptest.Options{TLS: smtptest.Plain})
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "data", "gatehouse.db")
	defer func() {
		if t.Failed() {
			per := map[string]int{}
			for _, m := range srv.Messages() {
				per[strings.Join(m.To, ",")]++
			}
			t.Logf("the mail server received %d messages, by recipient %v", len(srv.Messages()), per)
		}
	}()
	// The nodes reach the server through a relay that can slow it down.
	relay := startRelay(t, srv.Addr())
	mailEnv := []string{
		fmt.Sprintf("GATEHOUSE_SMTP_URL=smtp://127.0.0.1:%d?starttls=off", relay.port()),
		"GATEHOUSE_SMTP_FROM=Gatehouse <no-reply@example.com>",
		"GATEHOUSE_EMAIL_VERIFICATION=optional",
		"GATEHOUSE_DATABASE_URL=" + db,
	}
	a := serveNode(t, bin, dir, mailEnv...)
	if strings.Contains(a.stdout.String(), "dev/mailbox") {
		t.Fatalf("with a mail server configured the banner points at the development mailbox:\n%s", a.stdout.String())
	}
	if r := newUser(t, a.url).do("GET", "/auth/dev/mailbox", "", "Accept", "application/json"); r.status != 404 {
		t.Fatalf("development mailbox with a mail server configured: %d", r.status)
	}
	signUp := func(n *node, addr string) {
		t.Helper()
		newUser(t, n.url).api("POST", "/auth/api/sign-up", fmt.Sprintf(`{"email":%q,"password":"correct horse battery staple"}`, addr), 201, "")
	}

	// Five sign-ups while the mail server is down.
	srv.Stop()
	outage := time.Now()
	var first []string
	for i := range 5 {
		addr := fmt.Sprintf("user%d@example.com", i)
		first = append(first, addr)
		signUp(a, addr)
	}
	s := a.waitStatus("five failed attempts", 10*time.Second, func(s mailStatus) bool {
		failed := 0
		for _, p := range s.Problems {
			if p.State == "pending" && p.Attempts > 0 && p.LastError != "" {
				failed++
			}
		}
		return failed == 5
	})
	if s.Pending != 5 || s.Sent != 0 || s.Failed != 0 {
		t.Fatalf("during the outage: %s", s.raw)
	}
	if table := a.run("mail", "status"); !strings.Contains(table, "Pending: 5 ") || !strings.Contains(table, "Delivery problems") {
		t.Fatalf("gatehouse mail status during the outage:\n%s", table)
	}
	for _, addr := range first {
		if strings.Contains(s.raw, addr) {
			t.Fatalf("mail status shows the address %s:\n%s", addr, s.raw)
		}
	}
	time.Sleep(time.Until(outage.Add(time.Second))) // a real outage, short of the first retry
	srv.Restart()
	t.Logf("first outage: %v", time.Since(outage).Round(time.Millisecond))
	waitSMTP(t, srv, 5, 30*time.Second)
	t.Logf("five mails arrived %v after the outage began", time.Since(outage).Round(time.Millisecond))
	s = a.waitStatus("the outbox to drain", 10*time.Second, func(s mailStatus) bool { return s.Pending == 0 })
	if s.Sent != 5 || s.Failed != 0 || s.Skipped != 0 {
		t.Fatalf("after the outage: %s", s.raw)
	}
	got := smtpMails(t, srv.Messages())
	checkOnce(t, "verification mail", got, first)
	for _, m := range got {
		if !strings.HasPrefix(m.subject, "Verify your email address") {
			t.Errorf("verification mail's subject %q", m.subject)
		}
	}

	// A second node on the same database, both delivering. Both answer
	// at the first node's public URL, as behind one load balancer.
	b := serveNode(t, bin, dir, append(mailEnv, "GATEHOUSE_PUBLIC_URL="+a.url)...)
	var second []string
	for i := range 5 {
		addr := fmt.Sprintf("user%d@example.com", 5+i)
		second = append(second, addr)
		signUp(b, addr)
	}
	waitSMTP(t, srv, 10, 30*time.Second)
	a.waitStatus("the outbox to drain", 10*time.Second, func(s mailStatus) bool { return s.Pending == 0 && s.Sent == 10 })
	before := len(srv.Messages())
	checkOnce(t, "verification mail from the second node", smtpMails(t, srv.Messages())[5:], second)

	// Ten reset requests split across the nodes while the server is down.
	srv.Stop()
	outage = time.Now()
	everyone := slices.Concat(first, second)
	for i, addr := range everyone {
		n := []*node{a, b}[i%2]
		newUser(t, n.url).api("POST", "/auth/api/password/forgot", fmt.Sprintf(`{"email":%q}`, addr), 202, "")
	}
	s = a.waitStatus("ten failed attempts", 10*time.Second, func(s mailStatus) bool {
		failed := 0
		for _, p := range s.Problems {
			if p.State == "pending" && p.Kind == "password_reset" && p.Attempts > 0 {
				failed++
			}
		}
		return failed == 10
	})
	if s.Pending != 10 {
		t.Fatalf("during the second outage: %s", s.raw)
	}
	time.Sleep(time.Until(outage.Add(time.Second)))
	// The server comes back slow: every send is in flight for longer than
	// a node's poll interval, so each node sees the other's sends pending.
	// Only the lease keeps them from sending those too.
	relay.delay.Store(int64(1500 * time.Millisecond))
	srv.Restart()
	t.Logf("second outage: %v", time.Since(outage).Round(time.Millisecond))
	waitSMTP(t, srv, before+10, 30*time.Second)
	t.Logf("ten mails arrived %v after the outage began", time.Since(outage).Round(time.Millisecond))
	s = a.waitStatus("the outbox to drain", 10*time.Second, func(s mailStatus) bool { return s.Pending == 0 })
	if s.Sent != 20 || s.Failed != 0 || s.Skipped != 0 {
		t.Fatalf("after the second outage: %s", s.raw)
	}
	got = smtpMails(t, srv.Messages())
	checkOnce(t, "reset mail", got[before:], everyone)
	for _, m := range got[before:] {
		if !strings.HasPrefix(m.subject, "Reset your") {
			t.Errorf("reset mail's subject %q", m.subject)
		}
	}
	// A link mailed after the outage works, and the new password is good
	// on both nodes.
	var resetMail smtpMail
	for _, m := range got[before:] {
		if m.to == everyone[1] {
			resetMail = m
		}
	}
	link, _ := mailLink(t, resetMail.text, textLink.FindAllString(resetMail.text, -1), a.url, "/reset-password")
	c := newUser(t, a.url)
	c.openLink(link, "/reset-password", `name="password"`)
	if r := c.submit("/auth/reset-password", url.Values{"password": {"a brand new passphrase"}}); r.status != http.StatusSeeOther {
		t.Fatalf("reset POST: %d %s", r.status, r.body)
	}
	for _, n := range []*node{a, b} {
		newUser(t, n.url).api("POST", "/auth/api/sign-in", fmt.Sprintf(`{"email":%q,"password":"correct horse battery staple"}`, everyone[1]), 401, "invalid_credentials")
		newUser(t, n.url).api("POST", "/auth/api/sign-in", fmt.Sprintf(`{"email":%q,"password":"a brand new passphrase"}`, everyone[1]), 200, "")
	}

	ids := map[string]bool{}
	for _, m := range got {
		if ids[m.messageID] {
			t.Errorf("Message-ID %s sent twice", m.messageID)
		}
		ids[m.messageID] = true
	}
	// Both nodes took part in delivering the reset mail: which node tries
	// first during the outage is a race (either may claim every pending
	// mail), but once the slow server is back both send, and only the
	// leases keep them from sending the same mail twice.
	for name, n := range map[string]*node{"first": a, "second": b} {
		if !regexp.MustCompile(`msg="mail (sent|delivery failed[^"]*)"[^\n]*kind=password_reset`).MatchString(n.logs()) {
			t.Errorf("the %s node never delivered a reset mail:\n%s", name, n.logs())
		}
	}
}
