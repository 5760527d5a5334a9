package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
)

func TestNotesApp(t *testing.T) {
	auth := authtest.New(t, gatehouse.Config{AfterSignInPath: "/app/", Roles: map[string][]string{"editor": {"notes:write"}}})
	srv := httptest.NewServer(newApp(auth, authtest.Deliver(t, auth)))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	post := func(path string, form url.Values) *http.Response {
		res, err := c.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	if _, body := get("/"); !strings.Contains(body, "create an account") {
		t.Fatalf("home for anonymous: %s", body)
	}
	// The protected subtree sends a browser to sign in (the client follows to the page).
	if _, body := get("/app/"); !strings.Contains(body, "Sign in") {
		t.Fatalf("protected page for anonymous: %s", body)
	}
	if res := post("/auth/sign-up", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery staple"}, "redirect_to": {"/app/"}}); res.Request.URL.Path != "/app/" {
		t.Fatalf("sign-up landed on %s", res.Request.URL)
	}
	if _, body := get("/"); !strings.Contains(body, "Signed in as ada@example.com") {
		t.Fatalf("home when signed in: %s", body)
	}
	if _, body := get("/app/"); !strings.Contains(body, "Ask an administrator") {
		t.Fatalf("notes page without the role: %s", body)
	}
	if res := post("/api/notes", url.Values{"text": {"hi"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("note without permission: %d", res.StatusCode)
	}
	u, _ := auth.FindUser(t.Context(), "ada@example.com")
	if err := auth.SetRoles(t.Context(), u.ID, []string{"editor"}); err != nil {
		t.Fatal(err)
	}
	if res := post("/api/notes", url.Values{"text": {"<b>hello</b>"}}); res.StatusCode != http.StatusOK {
		t.Fatalf("note with permission: %d", res.StatusCode)
	}
	if _, body := get("/app/"); !strings.Contains(body, "&lt;b&gt;hello&lt;/b&gt;") || !strings.Contains(body, "Add note") {
		t.Fatalf("notes page with the role: %s", body)
	}
}

// TestRunOnAFreePort starts the program as a test harness would: port 0 and
// a data directory that does not exist yet. The printed URL names the real
// port, and so do the links in mail.
func TestRunOnAFreePort(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fresh", "data")
	env := map[string]string{"NOTES_ADDR": "127.0.0.1:0", "NOTES_DATA_DIR": dir}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("nothing printed: %v (run: %v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`^notes: open (http://127\.0\.0\.1:(\d+)) \(mail: (\S+)\)`).FindStringSubmatch(line)
	if m == nil || m[2] == "0" || m[3] != m[1]+"/auth/dev/mailbox" {
		t.Fatalf("printed %q", line)
	}
	res, err := http.Get(m[1] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "create an account") {
		t.Fatalf("GET /: %d %s", res.StatusCode, body)
	}
	for _, f := range []string{"notes.db", "notes.secret"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data directory: %v", err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
