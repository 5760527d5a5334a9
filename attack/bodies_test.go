package attack_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// Hostile request bodies against every endpoint that reads one: the JSON
// API's POST and PATCH routes and the pages' form posts. Every answer is a
// 4xx in the endpoint's own error format — never a 5xx, never text from Go,
// the JSON decoder or the database — and the server, the session and the
// account are all still fine afterwards.

// bodyEndpoint is a JSON endpoint and the fields of its body.
type bodyEndpoint struct {
	method, path string
	// private endpoints are attacked signed in, so that the body is read.
	private bool
	fields  []string
}

// bodyEndpoints are every POST and PATCH route under /auth/api/ that reads
// a JSON body (web/routes.go). POST /auth/api/sign-out reads none; it is
// attacked apart.
var bodyEndpoints = []bodyEndpoint{
	{"POST", "/auth/api/sign-up", false, []string{"email", "password", "name"}},
	{"POST", "/auth/api/sign-in", false, []string{"email", "password"}},
	{"POST", "/auth/api/reauthenticate", true, []string{"password"}},
	{"POST", "/auth/api/password/change", true, []string{"current_password", "new_password"}},
	{"PATCH", "/auth/api/user", true, []string{"name"}},
	{"POST", "/auth/api/user/delete", true, nil},
	{"POST", "/auth/api/email/verify", false, []string{"token"}},
	{"POST", "/auth/api/email/verify/send", false, []string{"email"}},
	{"POST", "/auth/api/password/forgot", false, []string{"email"}},
	{"POST", "/auth/api/password/reset", false, []string{"token", "password"}},
	{"POST", "/auth/api/email/change", true, []string{"email"}},
	{"POST", "/auth/api/email/change/confirm", false, []string{"token"}},
}

// hostileBody is one attack: a body, its Content-Type ("" for none), and
// the status and code it must get (0, "": any 4xx error).
type hostileBody struct {
	name        string
	contentType string
	body        []byte
	// chunked hides the length, so the body arrives without Content-Length.
	chunked bool
	status  int
	code    string
}

const jsonType = "application/json"

// hostileBodies returns the attacks on an endpoint whose first field is f.
func hostileBodies(f string) []hostileBody {
	obj := func(v string) string { return `{"` + f + `":` + v + `}` }
	valid := obj(`"ada@example.com"`)
	big := obj(`"` + strings.Repeat("a", 70<<10) + `"`)
	bad := func(name, body string) hostileBody {
		return hostileBody{name: name, contentType: jsonType, body: []byte(body), status: 400, code: "invalid_request"}
	}
	media := func(name, ct, body string) hostileBody {
		return hostileBody{name: name, contentType: ct, body: []byte(body), status: 415, code: "unsupported_media_type"}
	}
	return []hostileBody{
		{name: "over 64 KiB", contentType: jsonType, body: []byte(big), status: 413, code: "body_too_large"},
		{name: "over 64 KiB without a length", contentType: jsonType, body: []byte(big), chunked: true, status: 413, code: "body_too_large"},
		{name: "1 MiB of spaces without a length", contentType: jsonType, body: bytes.Repeat([]byte(" "), 1<<20), chunked: true, status: 413, code: "body_too_large"},
		{name: "64 KiB of whitespace then an object", contentType: jsonType, body: []byte(strings.Repeat(" ", 64<<10) + valid), status: 413, code: "body_too_large"},
		bad("empty", ""),
		bad("whitespace only", " \n\t "),
		bad("truncated", `{"`+f+`":`),
		bad("unquoted key", `{`+f+`:"x"}`),
		bad("single quotes", `{'`+f+`':'x'}`),
		bad("trailing comma", obj(`"x",`)),
		bad("comment", `/* */`+valid),
		bad("trailing garbage", valid+` garbage`),
		bad("trailing bracket", valid+`]`),
		bad("two objects", valid+valid),
		bad("two objects on two lines", valid+"\n"+valid),
		bad("array", `[]`),
		bad("array of the object", `[`+valid+`]`),
		bad("string", `"`+f+`"`),
		bad("number", `42`),
		bad("huge number", `1e999999`),
		bad("boolean", `true`),
		bad("null", `null`),
		bad("number field", obj(`1`)),
		bad("boolean field", obj(`true`)),
		bad("object field (NoSQL operator)", obj(`{"$gt":""}`)),
		bad("array field", obj(`["ada@example.com"]`)),
		bad("unknown field", `{"is_admin":true}`),
		bad("10 000 [", strings.Repeat("[", 10000)+strings.Repeat("]", 10000)),
		bad("10 000 [ unclosed", strings.Repeat("[", 10000)),
		bad("10 000 nested objects", strings.Repeat(`{"a":`, 10000)+`1`+strings.Repeat(`}`, 10000)),
		bad("deep field", obj(strings.Repeat("[", 5000)+strings.Repeat("]", 5000))),
		bad("invalid UTF-8", obj("\"\xff\xfe@example.com\"")),
		bad("overlong UTF-8", obj("\"\xc0\xaf@example.com\"")),
		bad("UTF-16 surrogate bytes", obj("\"\xed\xa0\x80@example.com\"")),
		bad("UTF-8 byte-order mark", "\xef\xbb\xbf"+valid),
		bad("raw NUL in a string", obj("\"ada\x00@example.com\"")),
		bad("NUL before the object", "\x00"+valid),
		bad("NUL after the object", valid+"\x00"),
		{name: "charset=utf-8, malformed", contentType: jsonType + "; charset=utf-8", body: []byte(`{`), status: 400, code: "invalid_request"},
		{name: "upper-case media type, malformed", contentType: "Application/JSON", body: []byte(`{`), status: 400, code: "invalid_request"},
		media("text/plain", "text/plain", valid),
		media("form", "application/x-www-form-urlencoded", f+"=ada%40example.com"),
		media("multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\""+f+"\"\r\n\r\nada@example.com\r\n--x--\r\n"),
		media("no Content-Type", "", valid),
		media("charset=latin1", "application/json; charset=latin1", valid),
		media("charset=iso-8859-1", "application/json; charset=iso-8859-1", valid),
		media("charset=utf-16", "application/json; charset=utf-16", valid),
		media("application/jsonx", "application/jsonx", valid),
		media("malformed media type", "application/json; charset", valid),
		media("text/json", "text/json", valid),
	}
}

// send sends a hostile body with c.
func (h hostileBody) send(t *testing.T, c *Client, method, path string) Reply {
	t.Helper()
	var body io.Reader = bytes.NewReader(h.body)
	if h.chunked {
		body = io.MultiReader(body) // an unknown length: sent chunked
	}
	var header []string
	if h.contentType != "" {
		header = []string{"Content-Type", h.contentType}
	}
	r, err := c.Raw(method, path, body, header...)
	if err != nil {
		t.Fatalf("%s %s (%s): %v", method, path, h.name, err)
	}
	return r
}

// TestHostileJSONBodies sends every hostile body to every JSON endpoint.
//
// ASVS 5.0: V1.5.2 (untrusted data is deserialized strictly: one object
// of known fields and types), V2.2.1 (input validated against the
// expected structure), V4.1.1 (answers carry their true Content-Type),
// V16.5.1 (a generic message, no parser or database text), V16.5.3 (fail
// closed: a refused body changes nothing), V15.3.3 (unknown fields are
// refused, not assigned).
func TestHostileJSONBodies(t *testing.T) {
	s := Start(t, Relaxed...)
	for i, ep := range bodyEndpoints {
		t.Run(strings.TrimPrefix(ep.path, "/auth/api/"), func(t *testing.T) {
			c := s.Client()
			email := fmt.Sprintf("body%d@example.com", i)
			if ep.private {
				c.SignUp(email)
			}
			f := "x"
			if len(ep.fields) > 0 {
				f = ep.fields[0]
			}
			for _, h := range hostileBodies(f) {
				if ep.path == "/auth/api/user/delete" && len(h.body) == 0 {
					continue // no body at all is how deletion is asked for
				}
				r := h.send(t, c, ep.method, ep.path)
				what := ep.method + " " + ep.path + ": " + h.name
				checkErrorShape(t, what, r)
				if h.status != 0 && (r.Status != h.status || r.Code() != h.code) {
					t.Errorf("%s: %d %s, want %d %s", what, r.Status, strings.TrimSpace(r.Body), h.status, h.code)
				}
				if ep.private {
					// A refused body did nothing: the session is the same
					// and the account unchanged.
					r := c.Do("GET", "/auth/api/session", nil)
					if r.Status != 200 {
						t.Errorf("%s ended the session (%d %s); signing up again", what, r.Status, strings.TrimSpace(r.Body))
						email = "again-" + email
						c = s.Client()
						c.SignUp(email)
					} else if u := r.JSON(t)["user"].(map[string]any); u["email"] != email || u["name"] != "" {
						t.Errorf("%s changed the user: %v", what, u)
					}
				}
			}
			// Without a session, a private endpoint refuses before reading.
			if ep.private {
				r := hostileBodies(f)[0].send(t, s.Client(), ep.method, ep.path)
				checkErrorShape(t, "anonymous "+ep.path, r)
				if r.Status != 401 {
					t.Errorf("anonymous %s with a big body: %d", ep.path, r.Status)
				}
			}
		})
	}
	t.Run("sign-out", func(t *testing.T) {
		// Sign-out reads no body: whatever it is sent, it signs out (the
		// first time) and answers 204.
		c := s.Client()
		c.SignUp("out@example.com")
		for _, h := range hostileBodies("x") {
			r := h.send(t, c, "POST", "/auth/api/sign-out")
			noServerError(t, "sign-out: "+h.name, r)
		}
		if r := c.Do("GET", "/auth/api/session", nil); r.Status != 401 {
			t.Fatalf("after sign-out the session answers %d", r.Status)
		}
	})
	serverStillWorks(t, s)
}

// formPages are the pages whose POST reads a form, and whether they need
// a session.
var formPages = []struct {
	path    string
	private bool
}{
	{"/auth/sign-in", false},
	{"/auth/sign-up", false},
	{"/auth/forgot-password", false},
	{"/auth/verify-email/send", false},
	{"/auth/verify-email", false},
	{"/auth/reset-password", false},
	{"/auth/confirm-email-change", false},
	{"/auth/account/email", true},
}

// TestHostileFormBodies sends oversized and malformed forms to every page that
// reads one: each answers a 4xx HTML page, never a 5xx.
//
// ASVS 5.0: V2.2.1, V4.1.1, V16.5.1, V16.5.3.
func TestHostileFormBodies(t *testing.T) {
	s := Start(t, Relaxed...)
	const form = "application/x-www-form-urlencoded"
	attacks := []hostileBody{
		{name: "over 64 KiB", contentType: form, body: []byte("email=" + strings.Repeat("a", 70<<10)), status: 413},
		{name: "1 MiB without a length", contentType: form, body: bytes.Repeat([]byte("a"), 1<<20), chunked: true, status: 413},
		{name: "bad escape", contentType: form, body: []byte("email=%zz&password=%"), status: 400},
		{name: "semicolon separator", contentType: form, body: []byte("email=a@example.com;password=x"), status: 400},
		{name: "JSON instead", contentType: jsonType, body: []byte(`{"email":"a@example.com"}`), status: 415},
		{name: "no Content-Type", body: []byte("email=a@example.com"), status: 415},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: []byte("--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@example.com\r\n--x--\r\n"), status: 415},
		{name: "invalid UTF-8", contentType: form, body: []byte("email=%FF%FE%40example.com&password=%FF%FE&name=%C0%AF")},
		{name: "NUL bytes", contentType: form, body: []byte("email=ada%00@example.com&password=pass%00word%00long&name=a%00b")},
		{name: "charset=latin1", contentType: form + "; charset=latin1", body: []byte("email=%E9@example.com&password=x")},
		{name: "10 000 fields", contentType: form, body: []byte(strings.Repeat("a=1&", 10000))},
		{name: "empty", contentType: form},
	}
	for _, p := range formPages {
		t.Run(strings.TrimPrefix(p.path, "/auth/"), func(t *testing.T) {
			c := s.Client()
			if p.private {
				c.SignUp("forms@example.com")
			}
			for _, h := range attacks {
				r := h.send(t, c, "POST", p.path)
				what := "POST " + p.path + ": " + h.name
				if r.Status < 400 || r.Status > 499 {
					t.Errorf("%s: %d, want 4xx; body %.300s", what, r.Status, r.Body)
				}
				if h.status != 0 && r.Status != h.status {
					t.Errorf("%s: %d, want %d", what, r.Status, h.status)
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("%s: Content-Type %q", what, ct)
				}
				if loc := internalLeak.FindString(r.Body); loc != "" {
					t.Errorf("%s: internal text %q in the page", what, loc)
				}
			}
			if p.private {
				if r := c.Do("GET", "/auth/api/session", nil); r.Status != 200 {
					t.Fatalf("after the attack the session answers %d", r.Status)
				}
			}
		})
	}
	serverStillWorks(t, s)
}

// serverStillWorks checks that s answers and that sign-up, sign-in and
// session checks work, and that nothing panicked.
func serverStillWorks(t *testing.T, s *Server) {
	t.Helper()
	c := s.Client()
	if r := c.Do("GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("healthz %d", r.Status)
	}
	c.SignUp("after-the-attack@example.com")
	if r := s.Client().Do("POST", "/auth/api/sign-in", map[string]string{"email": "after-the-attack@example.com", "password": Password}); r.Status != 200 {
		t.Fatalf("sign-in after the attack: %d %s", r.Status, r.Body)
	}
	if r := c.Do("GET", "/auth/sign-in", nil); r.Status >= 500 {
		t.Fatalf("sign-in page after the attack: %d", r.Status)
	}
	if strings.Contains(s.Logs(), "panic") {
		t.Fatalf("the server logged a panic:\n%s", s.Logs())
	}
}
