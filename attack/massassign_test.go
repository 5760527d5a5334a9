package attack_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestMassAssignmentProfile sends PATCH /auth/api/user with every field the
// user object has but name — alone, next to a valid name, nested, and in
// other spellings: each is 400 invalid_request and changes nothing, not
// even the valid name next to it. The account gains no role (the admin API
// still refuses it), stays enabled, and keeps its password.
//
// ASVS 5.0: V15.3.3, V8.2.3, V2.2.1
func TestMassAssignmentProfile(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	c := s.Client()
	id := c.SignUp("mass@example.com")
	other := s.Client()
	otherID := other.SignUp("mass-other@example.com")
	if r := c.Do("PATCH", "/auth/api/user", map[string]string{"name": "Ada"}); r.Status != 200 {
		t.Fatalf("a valid PATCH: %d %s", r.Status, r.Body)
	}
	before := profile(t, c)

	bodies := []string{
		`{"email_verified": true}`,
		`{"roles": ["admin"]}`,
		`{"roles": "admin"}`,
		`{"role": "admin"}`,
		`{"permissions": ["gatehouse:admin"]}`,
		`{"id": "` + otherID + `"}`,
		`{"user_id": "` + otherID + `"}`,
		`{"email": "mass-new@example.com"}`,
		`{"disabled": true}`,
		`{"password": "` + newPassword + `"}`,
		`{"password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}`,
		`{"created_at": "2000-01-01T00:00:00Z"}`,
		`{"email_normalized": "mass-new@example.com"}`,
		`{"aal": 2}`,
		`{"amr": ["mfa"]}`,
		`{"session": {"aal": 2}}`,
		`{"user": {"roles": ["admin"], "email_verified": true}}`,
		`{"name": "Mallory", "roles": ["admin"]}`,
		`{"name": "Mallory", "email_verified": true}`,
		`{"roles": ["admin"], "name": "Mallory"}`,
		`{"name": "Mallory", "user": {"email": "mass-new@example.com"}}`,
		`{"name": {"first": "Mallory"}}`,
		`{"name": ["Mallory"]}`,
		`{"name": "Mallory", "Roles": ["admin"]}`,
		`{"name": "Mallory", "EMAIL_VERIFIED": true}`,
		`{"name": "Mallory", "__proto__": {"roles": ["admin"]}}`,
		`{"name": "Mallory", "constructor": {"prototype": {"admin": true}}}`,
		`{"name": "Mallory"} {"roles": ["admin"]}`,
		`[{"name": "Mallory"}]`,
	}
	for _, body := range bodies {
		r := c.Do("PATCH", "/auth/api/user", body)
		if r.Status != 400 || r.Code() != "invalid_request" {
			t.Errorf("PATCH %s: %d %s, want 400 invalid_request", body, r.Status, r.Body)
		}
		if got := profile(t, c); fmt.Sprint(got) != fmt.Sprint(before) {
			t.Fatalf("PATCH %s changed the user: %v, then %v", body, before, got)
		}
	}
	// The same through the session, the other user and the admin API.
	if u, _, _ := whoami(t, c); u != id {
		t.Fatalf("the session now stands for %s", u)
	}
	if u := profile(t, other); u["id"] != otherID || u["email"] != "mass-other@example.com" {
		t.Fatalf("the other user changed: %v", u)
	}
	if r := c.Do("GET", "/auth/api/admin/audit", nil); r.Status != 403 || r.Code() != "forbidden" {
		t.Fatalf("the user reached the admin API: %d", r.Status)
	}
	if r := apiSignIn(s.Client(), "mass@example.com", Password); r.Status != 200 {
		t.Fatalf("the password changed: %d", r.Status)
	}
	var list []struct {
		Email    string   `json:"email"`
		Roles    []string `json:"roles"`
		Disabled bool     `json:"disabled"`
		Verified bool     `json:"email_verified"`
	}
	if err := json.Unmarshal([]byte(s.CLI("", "users", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, u := range list {
		if strings.HasPrefix(u.Email, "mass") && (len(u.Roles) != 0 || u.Disabled || u.Verified) {
			t.Errorf("the store holds %+v", u)
		}
	}
}

// TestMassAssignmentSignUp signs up with fields beyond email, password and
// name: the JSON API refuses the whole request (400 invalid_request, no
// account — the address stays free), and the page's form ignores fields it
// does not know (the account is created plain).
//
// ASVS 5.0: V15.3.3, V8.2.3, V2.2.1
func TestMassAssignmentSignUp(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	extras := []string{
		`"roles": ["admin"]`, `"email_verified": true`, `"role": "admin"`, `"id": "usr_chosen"`, `"disabled": false`,
		`"permissions": ["gatehouse:admin"]`, `"password_hash": "x"`, `"user": {"roles": ["admin"]}`, `"Roles": ["admin"]`,
	}
	for i, extra := range extras {
		email := fmt.Sprintf("mass-signup-%d@example.com", i)
		c := s.Client()
		body := `{"email": "` + email + `", "password": "` + Password + `", ` + extra + `}`
		r := c.Do("POST", "/auth/api/sign-up", body)
		if r.Status != 400 || r.Code() != "invalid_request" || len(r.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("sign-up with %s: %d %s %q", extra, r.Status, r.Body, r.Header.Values("Set-Cookie"))
		}
		if r := apiSignIn(s.Client(), email, Password); r.Status != 401 {
			t.Errorf("sign-up with %s created an account: sign-in %d", extra, r.Status)
		}
		// The address is still free: a plain sign-up takes it (a taken
		// address would be 409 in this mode).
		if r := c.Do("POST", "/auth/api/sign-up", map[string]string{"email": email, "password": Password}); r.Status != 201 {
			t.Errorf("plain sign-up after the refused one: %d %s", r.Status, r.Body)
		} else if u := r.JSON(t)["user"].(map[string]any); len(u["roles"].([]any)) != 0 || u["email_verified"] != false || u["id"] == "usr_chosen" {
			t.Errorf("the plain sign-up got %v", u)
		}
	}

	c := s.Client()
	form := url.Values{
		"email": {"mass-form@example.com"}, "password": {Password}, "name": {"Form"},
		"roles": {"admin"}, "role": {"admin"}, "email_verified": {"true"}, "disabled": {"true"}, "id": {"usr_chosen"}, "permissions": {"gatehouse:admin"},
	}
	if r := c.Do("POST", "/auth/sign-up", form, sameOriginHeaders(s)...); r.Status != 303 {
		t.Fatalf("page sign-up: %d %s", r.Status, r.Body)
	}
	u := profile(t, c)
	if len(u["roles"].([]any)) != 0 || u["email_verified"] != false || u["id"] == "usr_chosen" || u["name"] != "Form" {
		t.Errorf("the page's extra fields were assigned: %v", u)
	}
	if r := c.Do("GET", "/auth/api/admin/mail", nil); r.Status != 403 {
		t.Errorf("the form's account reached the admin API: %d", r.Status)
	}
}

// TestMassAssignmentMethodOverride tries to change the method of a request
// through the headers and fields that some frameworks honour
// (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, _method in the
// query or the form): the request is routed by its real method — a 405
// with Allow — and changes nothing.
//
// ASVS 5.0: V4.1.4, V15.3.7, V3.5.3
func TestMassAssignmentMethodOverride(t *testing.T) {
	t.Parallel()
	s := Start(t, Relaxed...)
	c := s.Client()
	c.SignUp("override@example.com")
	other := s.Client()
	mustSignIn(t, other, "override@example.com")
	_, otherID, _ := whoami(t, other)
	before := profile(t, c)

	check := func(what string, r Reply, allow ...string) {
		t.Helper()
		if r.Status != 405 || r.Code() != "method_not_allowed" {
			t.Errorf("%s: %d %s, want 405 method_not_allowed", what, r.Status, r.Body)
			return
		}
		got := r.Header.Get("Allow")
		for _, m := range allow {
			if !strings.Contains(got, m) {
				t.Errorf("%s: Allow %q lacks %s", what, got, m)
			}
		}
	}
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
		check(h+": PATCH on POST /auth/api/user", c.Do("POST", "/auth/api/user", map[string]string{"name": "Mallory"}, h, "PATCH"), "GET", "PATCH")
		check(h+": DELETE on POST /auth/api/sessions/{id}", c.Do("POST", "/auth/api/sessions/"+otherID, nil, h, "DELETE"), "DELETE")
		check(h+": DELETE on POST /auth/api/sessions", c.Do("POST", "/auth/api/sessions", nil, h, "DELETE"), "GET", "DELETE")
		check(h+": POST on GET /auth/api/sign-out", c.Do("GET", "/auth/api/sign-out", nil, h, "POST"), "POST")
		check(h+": POST on GET /auth/api/user/delete", c.Do("GET", "/auth/api/user/delete", nil, h, "POST"), "POST")
		check(h+": PATCH on PUT /auth/api/user", c.Do("PUT", "/auth/api/user", map[string]string{"name": "Mallory"}, h, "PATCH"), "PATCH")
	}
	check("_method=PATCH in the query", c.Do("POST", "/auth/api/user?_method=PATCH", map[string]string{"name": "Mallory"}), "PATCH")
	check("_method=DELETE in the query", c.Do("POST", "/auth/api/sessions/"+otherID+"?_method=DELETE", nil), "DELETE")
	check("_method=DELETE in a form", c.Do("POST", "/auth/api/sessions", url.Values{"_method": {"DELETE"}}), "DELETE")
	check("_method=POST on GET sign-out", c.Do("GET", "/auth/api/sign-out?_method=POST", nil), "POST")
	// The page's sign-out has a GET of its own: a confirmation that signs
	// nobody out (the checks below see the session alive).
	if r := c.Do("GET", "/auth/sign-out?_method=POST", nil, "X-HTTP-Method-Override", "POST", "Accept", "text/html"); r.Status != 200 || !strings.Contains(r.Body, `action="/auth/sign-out"`) {
		t.Errorf("_method=POST on GET of the page's sign-out: %d, want the confirmation page", r.Status)
	}
	check("_method=POST on GET of the page's revoke", c.Do("GET", "/auth/account/sessions/"+otherID+"/revoke?_method=POST", nil, "X-HTTP-Method-Override", "POST"), "POST")
	check("DELETE /auth/api/user", c.Do("DELETE", "/auth/api/user", nil), "GET", "PATCH")

	if got := profile(t, c); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("an overridden method changed the user: %v, then %v", before, got)
	}
	if !alive(t, c) || !alive(t, other) {
		t.Error("an overridden method ended a session")
	}
	// The real methods do work.
	if r := c.Do("DELETE", "/auth/api/sessions/"+otherID, nil); r.Status != 204 || alive(t, other) {
		t.Errorf("the real DELETE: %d", r.Status)
	}
}
