package attack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the gatehouse binary built once for the package by TestMain.
var binary string

func TestMain(m *testing.M) {
	flagShort := false
	for _, a := range os.Args {
		if a == "-test.short=true" || a == "-test.short" {
			flagShort = true
		}
	}
	if !flagShort {
		dir, err := os.MkdirTemp("", "gatehouse-attack-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		binary = filepath.Join(dir, "gatehouse")
		if out, err := exec.Command("go", "build", "-o", binary, "../cmd/gatehouse").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// Relaxed lifts the rate limits and the account throttle, for attacks that
// need many requests from one address and are not about limits.
var Relaxed = []string{
	"GATEHOUSE_RATE_LIMITS=" + strings.Join([]string{
		"sign_in.per_ip=off", "sign_in.per_identifier=off", "sign_up.per_ip=off", "sign_up.per_identifier=off",
		"reauthenticate.per_ip=off", "reauthenticate.per_identifier=off", "password_change.per_ip=off", "password_change.per_identifier=off",
		"password_forgot.per_ip=off", "password_forgot.per_identifier=off", "password_reset.per_ip=off",
		"email_verify.per_ip=off", "email_verify_send.per_ip=off", "email_verify_send.per_identifier=off",
		"email_change.per_ip=off", "email_change.per_identifier=off", "email_change_confirm.per_ip=off",
	}, ";"),
	"GATEHOUSE_THROTTLE_FREE=100000", "GATEHOUSE_THROTTLE_DAILY_BUDGET=100000",
}

// Server is a running gatehouse binary.
type Server struct {
	t *testing.T
	// URL is where it listens, also its public URL.
	URL     string
	DataDir string
	env     []string
	cmd     *exec.Cmd
	logs    *syncBuffer
	done    chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`Listening on (http://127\.0\.0\.1:\d+)`)

// Start runs `gatehouse serve` in development mode on a free loopback port
// (its public URL), a fresh data directory, and the extra settings
// ("KEY=value"). It is stopped when the test ends.
func Start(t *testing.T, settings ...string) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("attack suite: runs the real binary without -short")
	}
	port := freePort(t)
	s := &Server{t: t, DataDir: t.TempDir(), URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	s.env = append([]string{
		"GATEHOUSE_PUBLIC_URL=" + s.URL, "GATEHOUSE_ADDR=" + strings.TrimPrefix(s.URL, "http://"),
		"GATEHOUSE_OPS_ADDR=", "GATEHOUSE_DATA_DIR=" + s.DataDir, "GATEHOUSE_LOG_LEVEL=info",
	}, settings...)
	s.launch()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) launch() {
	t := s.t
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Dir = s.DataDir
	s.logs = &syncBuffer{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			s.logs.Write(append(sc.Bytes(), '\n'))
			if !signalled && listening.MatchString(sc.Text()) {
				signalled = true
				close(ready)
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("gatehouse exited before it was ready: %v\n%s", err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("gatehouse not ready after 30 s:\n%s", s.logs)
	}
}

// Stop ends the server with SIGINT (a graceful stop).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Error("gatehouse did not stop within 20 s of SIGINT")
	}
	s.cmd = nil
}

// Kill ends the server with SIGKILL: no cleanup of any kind.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// Restart starts the server again with the same settings and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.launch()
}

// Logs returns everything the server printed.
func (s *Server) Logs() string { return s.logs.String() }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Client is a browser-like client: a cookie jar, no redirects followed.
type Client struct {
	s   *Server
	Jar *cookiejar.Jar
	hc  *http.Client
}

// Client returns a new client with an empty cookie jar.
func (s *Server) Client() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{s: s, Jar: jar, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Reply is a response with its body read.
type Reply struct {
	Status int
	Header http.Header
	Body   string
}

// Code is error.code of a JSON error body ("" if none).
func (r Reply) Code() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal([]byte(r.Body), &e)
	return e.Error.Code
}

// JSON decodes the body.
func (r Reply) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.Status, r.Body)
	}
	return m
}

// Do sends a request. body: nil, a string (sent as JSON), url.Values (a
// form) or anything else (marshalled to JSON). header: pairs of name,
// value ("Host" sets the Host header).
func (c *Client) Do(method, path string, body any, header ...string) Reply {
	t := c.s.t
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		js, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if http.CanonicalHeaderKey(header[i]) == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Reply{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// Cookie returns the value of the named cookie the jar holds ("" if none).
func (c *Client) Cookie(name string) string {
	u, _ := url.Parse(c.s.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// SetCookie puts a cookie in the jar.
func (c *Client) SetCookie(name, value string) {
	u, _ := url.Parse(c.s.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// Password is a password every policy accepts.
const Password = "correct horse battery staple"

// SignUp creates an account (development mode signs in at once) and
// returns its user id.
func (c *Client) SignUp(email string) string {
	t := c.s.t
	t.Helper()
	r := c.Do("POST", "/auth/api/sign-up", map[string]string{"email": email, "password": Password})
	if r.Status != 201 {
		t.Fatalf("sign-up %s: %d %s", email, r.Status, r.Body)
	}
	return r.JSON(t)["user"].(map[string]any)["id"].(string)
}

// Mail reads the development mailbox, newest first.
func (s *Server) Mail() []Mail {
	s.t.Helper()
	r := s.Client().Do("GET", "/auth/dev/mailbox", nil, "Accept", "application/json")
	var box struct {
		Messages []Mail `json:"messages"`
	}
	if err := json.Unmarshal([]byte(r.Body), &box); err != nil {
		s.t.Fatalf("mailbox: %v %s", err, r.Body)
	}
	return box.Messages
}

// Mail is a message in the development mailbox.
type Mail struct {
	ID    string   `json:"id"`
	Kind  string   `json:"kind"`
	To    string   `json:"to"`
	Text  string   `json:"text"`
	Links []string `json:"links"`
}

// WaitMail waits for a message of kind to addr that satisfies more (nil:
// any) and returns it.
func (s *Server) WaitMail(kind, addr string, more func(Mail) bool) Mail {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range s.Mail() {
			if m.Kind == kind && strings.EqualFold(m.To, addr) && (more == nil || more(m)) {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("no %s mail to %s", kind, addr)
	return Mail{}
}

// Token returns the token of the message's link to page.
func (m Mail) Token(t *testing.T, page string) string {
	t.Helper()
	for _, l := range m.Links {
		u, err := url.Parse(l)
		if err == nil && strings.HasSuffix(u.Path, page) && u.Query().Get("token") != "" {
			return u.Query().Get("token")
		}
	}
	t.Fatalf("%s mail has no %s link: %v", m.Kind, page, m.Links)
	return ""
}
