package e2e_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// stopAtCleanup interrupts the process when the test ends and fails the
// test unless it exits cleanly within 20 s.
func stopAtCleanup(t *testing.T, cmd *exec.Cmd, name string, stderr *logBuffer) {
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s did not shut down cleanly: %v\n%s", name, err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%s did not stop within 20 s of SIGINT", name)
		}
	})
}

// buildBinary compiles cmd/gatehouse, once per run of the tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	return buildOnce(t, "../cmd/gatehouse", "gatehouse")
}

// built holds the programs compiled for this run of the tests: linking one
// takes seconds, and every test may use the same. TestMain removes them.
var built struct {
	mu    sync.Mutex
	dir   string
	paths map[string]string // package → program
}

// buildOnce compiles the package pkg (a path relative to e2e) as name the
// first time a test asks for it, and returns the program's path.
func buildOnce(t *testing.T, pkg, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: runs without -short")
	}
	built.mu.Lock()
	defer built.mu.Unlock()
	if p, ok := built.paths[pkg]; ok {
		return p
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "gatehouse-e2e-")
		if err != nil {
			t.Fatal(err)
		}
		built.dir, built.paths = dir, map[string]string{}
	}
	bin := filepath.Join(built.dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built.paths[pkg] = bin
	return bin
}

// TestMain removes the programs the tests compiled.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

var listening = regexp.MustCompile(`Listening on (http://127\.0\.0\.1:\d+)`)

// startBinary runs `gatehouse serve` with nothing configured but loopback
// ports, a data directory and env (NAME=value, applied last, so they win),
// and returns its URL and how long it took to be ready.
func startBinary(t *testing.T, bin string, env ...string) (string, time.Duration) {
	t.Helper()
	return startBinaryArgs(t, bin, nil, env...)
}

// startBinaryArgs is startBinary with flags given to the command before
// "serve" (--config file.yaml).
func startBinaryArgs(t *testing.T, bin string, args []string, env ...string) (string, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, append(args[:len(args):len(args)], "serve")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=127.0.0.1:0", "GATEHOUSE_DATA_DIR="+filepath.Join(dir, "data"))
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logBuffer // written by the process while the test reads it
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, cmd, "gatehouse", &stderr)
	t.Cleanup(func() {
		if strings.Contains(stderr.String(), "password") && strings.Contains(stderr.String(), "correct horse") {
			t.Error("a password reached the logs")
		}
	})
	return waitListening(t, "gatehouse", stdout, listening, &stderr), time.Since(start)
}

// waitListening reads a started process's stdout until re's first group
// gives its URL, and fails the test if the process exits first or prints
// nothing within 30 s. The rest of stdout is drained.
func waitListening(t *testing.T, name string, stdout io.Reader, re *regexp.Regexp, stderr *logBuffer) string {
	t.Helper()
	urls := make(chan string, 1)
	closed := make(chan struct{}) // stdout ended: the process exited
	go func() {
		defer close(closed)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-urls:
		return u
	case <-closed:
		time.Sleep(100 * time.Millisecond) // let the last of stderr arrive
		t.Fatalf("%s exited at start:\n%s", name, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not print its URL within 30 s:\n%s", name, stderr.String())
	}
	return ""
}

// TestBinaryJourney is the newcomer's first five minutes with curl: serve
// with nothing configured, sign up, sign in, look at the account and the
// sessions, sign out, and find the old cookie dead.
func TestBinaryJourney(t *testing.T) {
	bin := buildBinary(t)
	base, ready := startBinary(t, bin)
	t.Logf("ready in %v", ready)
	if ready > 2*time.Second {
		t.Errorf("gatehouse took %v to be ready", ready)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	expect := func(method, path, body string, status int) string {
		t.Helper()
		st, b := call(method, path, body)
		if st != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, st, status, b)
		}
		return b
	}
	expect("GET", "/healthz", "", 200)
	expect("GET", "/readyz", "", 200)
	creds := `{"email":"ada@example.com","password":"correct horse battery staple"}`
	expect("POST", "/auth/api/sign-up", `{"email":"ada@example.com","password":"correct horse battery staple","name":"Ada"}`, 201)
	expect("POST", "/auth/api/sign-up", creds, 409)
	expect("POST", "/auth/api/sign-in", `{"email":"ada@example.com","password":"wrong password!!"}`, 401)
	expect("POST", "/auth/api/sign-in", creds, 200)
	if page := expect("GET", "/auth/account", "", 200); !strings.Contains(page, "ada@example.com") {
		t.Fatalf("account page: %s", page)
	}
	var list struct {
		Sessions []struct {
			Current bool `json:"current"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(expect("GET", "/auth/api/sessions", "", 200)), &list); err != nil || len(list.Sessions) != 1 || !list.Sessions[0].Current {
		t.Fatalf("sessions: %+v %v", list, err)
	}
	u := mustURL(t, base)
	old := jar.Cookies(u)
	expect("POST", "/auth/api/sign-out", "", 204)
	jar.SetCookies(u, old)
	expect("GET", "/auth/api/session", "", 401)
}

// TestBinaryRefusesPlainHTTPOnAPublicHost pins the mode rule at the binary.
func TestBinaryRefusesPlainHTTPOnAPublicHost(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GATEHOUSE_PUBLIC_URL=http://auth.example.com", "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve started with an http public URL on a public host:\n%s", out)
	}
	if !strings.Contains(string(out), "https") {
		t.Fatalf("the refusal does not explain the rule:\n%s", out)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
