package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// server is a `gatehouse serve` running in-process.
type server struct {
	url, opsURL    string
	stdout, stderr *syncBuffer
	stop           func() error
}

// startServe runs serve with env until the test ends (or stop is called)
// and returns the addresses it printed.
func startServe(t *testing.T, env []string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- runWith(ctx, []string{"serve"}, env, strings.NewReader(""), s.stdout, s.stderr, testOptions())
	}()
	var stopped bool
	var stopErr error
	s.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not shut down within 20 s")
			}
		}
		return stopErr
	}
	t.Cleanup(func() { _ = s.stop() })
	listeningLine := regexp.MustCompile(`Listening on (http://\S+)`)
	metricsLine := regexp.MustCompile(`Metrics: (http://\S+)/metrics`)
	for {
		if m := listeningLine.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			if m := metricsLine.FindStringSubmatch(s.stdout.String()); m != nil {
				s.opsURL = m[1]
			}
			t.Logf("serve ready in %v", time.Since(start))
			return s
		}
		select {
		case err := <-done:
			stopped, stopErr = true, err
			t.Fatalf("serve exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", err, s.stdout, s.stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("serve not ready after 10 s\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
		}
	}
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestServe(t *testing.T) {
	srv := startServe(t, baseEnv(t, "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=127.0.0.1:0", "GATEHOUSE_LOG_LEVEL=info"))
	out := srv.stdout.String()
	for _, w := range []string{"development mode", "Open http://localhost:8080/auth/sign-up", "(SQLite)"} {
		if !strings.Contains(out, w) {
			t.Errorf("banner lacks %q:\n%s", w, out)
		}
	}

	tests := []struct {
		name     string
		url      string
		status   int
		body     string
		location string
	}{
		{"healthz", srv.url + "/healthz", 200, "ok\n", ""},
		{"readyz", srv.url + "/readyz", 200, `{"status":"ready"}` + "\n", ""},
		{"root redirects", srv.url + "/", 303, "", "/auth/account"},
		{"unknown path", srv.url + "/nope", 404, "", ""},
		{"web handler mounted", srv.url + "/auth/sign-in", 200, "", ""},
		{"metrics", srv.opsURL + "/metrics", 200, "go_goroutines", ""},
		{"version", srv.opsURL + "/version", 200, `"go_version"`, ""},
		{"metrics not on the public listener", srv.url + "/metrics", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := get(t, tt.url+"?token=s3cret")
			if status != tt.status {
				t.Errorf("status %d, want %d; body %q", status, tt.status, body)
			}
			if tt.body != "" && !strings.Contains(body, tt.body) {
				t.Errorf("body %q lacks %q", body, tt.body)
			}
			if tt.location != "" && h.Get("Location") != tt.location {
				t.Errorf("Location %q, want %q", h.Get("Location"), tt.location)
			}
		})
	}

	if err := srv.stop(); err != nil {
		t.Fatalf("shutdown: %v\nstderr:\n%s", err, srv.stderr)
	}
	logs := srv.stderr.String()
	if !strings.Contains(logs, `path=/healthz`) || !strings.Contains(logs, "msg=stopped") {
		t.Errorf("logs lack the access log or the clean stop:\n%s", logs)
	}
	if strings.Contains(logs, "s3cret") {
		t.Error("a query string reached the log")
	}
	// The listener is closed after shutdown.
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.url, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("still listening after shutdown")
	}
}

// TestServeBranding: the branding settings reach the pages, and a broken
// one stops the start with the setting's problem named.
func TestServeBranding(t *testing.T) {
	tpl := t.TempDir()
	if err := os.WriteFile(filepath.Join(tpl, "sign-up.html"), []byte("{{/* gatehouse page data v1 */}}\n{{define \"content\"}}<p id=custom>{{.T \"sign-up.title\"}}</p>{{end}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, baseEnv(t, "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=", "GATEHOUSE_TEMPLATES_DIR="+tpl,
		"GATEHOUSE_PRIMARY_COLOR=#ff6600", "GATEHOUSE_PRODUCT_NAME=Acme", `GATEHOUSE_MESSAGES={"en":{"sign-up.title":"Join Acme"}}`))
	status, _, body := get(t, srv.url+"/auth/sign-up")
	if status != 200 || !strings.Contains(body, "<p id=custom>Join Acme</p>") || !strings.Contains(body, "Acme") {
		t.Fatalf("sign-up page %d:\n%s", status, body)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	gh(t, baseEnv(t, "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=", "GATEHOUSE_PRIMARY_COLOR=orange"), "", "serve").
		fails(t, 1, "hosted pages", "primary colour", "#4f46e5")
	gh(t, baseEnv(t, "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=", `GATEHOUSE_MESSAGES={"en":{"sign-in.titel":"x"}}`), "", "serve").
		fails(t, 1, "hosted pages", `"sign-in.titel"`, `did you mean "sign-in.title"?`)
}

func TestServeProduction(t *testing.T) {
	srv := startServe(t, baseEnv(t,
		"GATEHOUSE_PUBLIC_URL=https://auth.example.com",
		"GATEHOUSE_SECRET="+testSecret,
		"GATEHOUSE_ADDR=127.0.0.1:0",
		"GATEHOUSE_OPS_ADDR=",
		"GATEHOUSE_LOG_LEVEL=warn",
		"GATEHOUSE_REDIS_URL=redis://localhost:6379/0",
		"GATEHOUSE_SMTP_URL=smtp://127.0.0.1:2525?starttls=off",
		"GATEHOUSE_SMTP_FROM=Example <no-reply@example.com>",
	))
	out := srv.stdout.String()
	if !strings.Contains(out, "production mode at https://auth.example.com/auth") || !strings.Contains(out, "Metrics: off") {
		t.Errorf("banner:\n%s", out)
	}
	if status, _, _ := get(t, srv.url+"/readyz"); status != 200 {
		t.Errorf("readyz %d", status)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	// Production logs are JSON.
	for line := range strings.Lines(srv.stderr.String()) {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
	}
}

func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gh(t, baseEnv(t, "GATEHOUSE_ADDR="+ln.Addr().String(), "GATEHOUSE_OPS_ADDR="), "", "serve").
		fails(t, 1, "already in use", "GATEHOUSE_ADDR")
}

func TestReadyzUnavailable(t *testing.T) {
	mux := mainMux("/auth", http.NotFoundHandler(), failingPinger{}, singleNode{})
	srv := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	status, _, body := get(t, "http://"+ln.Addr().String()+"/readyz")
	if status != 503 || !strings.Contains(body, `{"status":"unavailable"}`) {
		t.Errorf("readyz %d %q", status, body)
	}
}

type failingPinger struct{}

func (failingPinger) Ping(context.Context) error { return context.DeadlineExceeded }

// singleNode is a node without a fan-out.
type singleNode struct{}

func (singleNode) FanOutStats() gatehouse.FanOutStats { return gatehouse.FanOutStats{Up: true} }
