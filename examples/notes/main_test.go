package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
