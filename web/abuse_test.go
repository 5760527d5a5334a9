package web_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// abuseEnv is newEnv with rate limits and the account throttle on, as in
// production.
func abuseEnv(t *testing.T, b backend, cfg gatehouse.Config) *env {
	t.Helper()
	return newEnv(t, b, cfg, gatehouse.WithRateLimiter(gatehouse.NewMemoryLimiter(0, nil)))
}

// auditEvents reads the audit log (after the batcher wrote it).
func (e *env) auditEvents(q gatehouse.AuditQuery) []gatehouse.AuditEvent {
	e.t.Helper()
	var evs []gatehouse.AuditEvent
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		q.Limit = 1000
		evs, _, err = e.auth.Audit(context.Background(), q)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(evs) > 0 || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func signInBody(email, password string) map[string]string {
	return map[string]string{"email": email, "password": password}
}

// testThrottleBurst: 200 parallel wrong guesses at one account evaluate
// only the throttle's free attempts plus one; every other answer is the
// same 429, whatever the password.
func testThrottleBurst(t *testing.T, b backend) {
	e := abuseEnv(t, b, gatehouse.Config{RateLimits: map[string]gatehouse.EndpointLimits{gatehouse.LimitSignIn: {}}})
	owner := e.client()
	owner.signUp("victim@example.com")
	const n = 200
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := e.client().do("POST", "/auth/api/sign-in", signInBody("victim@example.com", fmt.Sprintf("wrong guess number %d", i)))
			mu.Lock()
			statuses[r.StatusCode]++
			mu.Unlock()
			if r.StatusCode == 429 && (r.Header.Get("Retry-After") == "" || r.errCode(t) != "rate_limited") {
				t.Errorf("429 without Retry-After or the error shape: %v %s", r.Header, r.body)
			}
		})
	}
	wg.Wait()
	if statuses[401] != 6 || statuses[429] != n-6 {
		t.Fatalf("outcomes %v: want 6 evaluated (5 free + 1) and %d refused", statuses, n-6)
	}
	// Throttled, the right password gets the same 429 from a new browser.
	r := e.client().do("POST", "/auth/api/sign-in", signInBody("victim@example.com", goodPassword))
	want(t, r, 429, "rate_limited")
	// The owner's browser, which signed in before, is exempt.
	want(t, owner.do("POST", "/auth/api/sign-in", signInBody("victim@example.com", goodPassword)), 200, "")
	// An unknown address is throttled alike: no account is revealed.
	for i := range 7 {
		r = e.client().do("POST", "/auth/api/sign-in", signInBody("ghost@example.com", fmt.Sprintf("wrong guess %d", i)))
	}
	want(t, r, 429, "rate_limited")
	// The audit log has the evaluated failures and one aggregated row for
	// the refusals, not 194.
	e.auth.Close() // write what is queued and aggregated
	failures := e.auditEvents(gatehouse.AuditQuery{Types: []string{gatehouse.EventSignInFailed}})
	started := e.auditEvents(gatehouse.AuditQuery{Types: []string{gatehouse.EventThrottleStarted}})
	if len(failures) != 6+6 || len(started) != 2 {
		t.Fatalf("%d failure events and %d throttle starts, want 12 and 2", len(failures), len(started))
	}
	limited := e.auditEvents(gatehouse.AuditQuery{Types: []string{gatehouse.EventRateLimited}})
	total := 0
	for _, ev := range limited {
		total += ev.Count
	}
	if len(limited) > 4 || total < n-6 {
		t.Fatalf("%d rate_limited rows counting %d refusals", len(limited), total)
	}
}

// testThrottleBackoff: after the free attempts, waits double; a right
// password clears the count.
func testThrottleBackoff(t *testing.T, b backend) {
	e := abuseEnv(t, b, gatehouse.Config{RateLimits: map[string]gatehouse.EndpointLimits{gatehouse.LimitSignIn: {}}})
	e.client().signUp("slow@example.com")
	wrong := func() response {
		return e.client().do("POST", "/auth/api/sign-in", signInBody("slow@example.com", "not the password at all"))
	}
	for range 6 {
		want(t, wrong(), 401, "invalid_credentials")
	}
	r := wrong()
	want(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q after 6 failures, want 1", r.Header.Get("Retry-After"))
	}
	e.clock.Advance(time.Second)
	want(t, wrong(), 401, "invalid_credentials")
	r = wrong()
	want(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q after 7 failures, want 2", r.Header.Get("Retry-After"))
	}
	e.clock.Advance(2 * time.Second)
	want(t, e.client().do("POST", "/auth/api/sign-in", signInBody("slow@example.com", goodPassword)), 200, "")
	// Cleared: the next failure is free again.
	want(t, wrong(), 401, "invalid_credentials")
	want(t, wrong(), 401, "invalid_credentials")
}

// testIPLimits: per-IP limits count the real client only behind a trusted
// proxy, and IPv6 clients by their /64.
func testIPLimits(t *testing.T, b backend) {
	tight := gatehouse.EndpointLimits{PerIP: gatehouse.Rate{Limit: 3, Period: time.Hour}}
	e := abuseEnv(t, b, gatehouse.Config{RateLimits: map[string]gatehouse.EndpointLimits{gatehouse.LimitPasswordForgot: tight}})
	forgot := func(xff string) response {
		return e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "anyone@example.com"}, "X-Forwarded-For", xff)
	}
	// No trusted proxy: a forged X-Forwarded-For changes nothing.
	for i := range 3 {
		want(t, forgot(fmt.Sprintf("198.51.100.%d", i)), 202, "")
	}
	r := forgot("198.51.100.99")
	want(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}

	p := abuseEnv(t, b, gatehouse.Config{TrustedProxies: []string{"127.0.0.0/8", "::1/128"}, RateLimits: map[string]gatehouse.EndpointLimits{gatehouse.LimitPasswordForgot: tight}})
	pf := func(xff string) response {
		return p.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "anyone@example.com"}, "X-Forwarded-For", xff)
	}
	// One IPv6 /64 is one client, whatever its interface id.
	for i := range 3 {
		want(t, pf(fmt.Sprintf("2001:db8:1:2::%x", i+1)), 202, "")
	}
	want(t, pf("2001:db8:1:2:ffff::1"), 429, "rate_limited")
	want(t, pf("2001:db8:1:3::1"), 202, "")
	// IPv4 clients are counted one by one.
	want(t, pf("203.0.113.7"), 202, "")
}

// testIdentifierLimits: per-identifier limits count an address whatever IP
// the requests come from.
func testIdentifierLimits(t *testing.T, b backend) {
	e := abuseEnv(t, b, gatehouse.Config{TrustedProxies: []string{"127.0.0.0/8"}})
	for i := range 3 {
		want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "Target@Example.com"}, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)), 202, "")
	}
	// Default: 5 an hour, burst 3 — the same address in other spellings counts too.
	want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "target@EXAMPLE.com"}, "X-Forwarded-For", "203.0.113.50"), 429, "rate_limited")
	want(t, e.client().do("POST", "/auth/api/password/forgot", map[string]string{"email": "other@example.com"}, "X-Forwarded-For", "203.0.113.50"), 202, "")
}

// testAuditLog: security events are recorded with who, where and the
// request id, never a secret, and are listed with filters and cursors.
func testAuditLog(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	c := e.client()
	r := c.signUp("aud@example.com")
	uid := r.json(t)["user"].(map[string]any)["id"].(string)
	want(t, e.client().do("POST", "/auth/api/sign-in", signInBody("aud@example.com", "a wrong password here"), "User-Agent", "curl/8.0"), 401, "")
	signedIn := c.do("POST", "/auth/api/sign-in", signInBody("aud@example.com", goodPassword), "User-Agent", "Firefox/133.0 (X11; Linux)")
	want(t, signedIn, 200, "")
	want(t, c.do("POST", "/auth/api/password/change", map[string]string{"current_password": goodPassword, "new_password": "a new long passphrase"}), 200, "")
	want(t, c.do("POST", "/auth/api/sign-out", nil), 204, "")
	if err := e.auth.SetRoles(context.Background(), uid, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	e.auth.Close() // flush
	all := e.auditEvents(gatehouse.AuditQuery{UserID: uid})
	types := map[string]gatehouse.AuditEvent{}
	for _, ev := range all {
		if _, ok := types[ev.Type]; !ok {
			types[ev.Type] = ev
		}
		for _, f := range []string{ev.Reason, ev.UserAgent, ev.ActorID, ev.SubjectID} {
			if strings.Contains(f, goodPassword) || strings.Contains(f, "wrong password") || strings.Contains(f, "passphrase") {
				t.Fatalf("a password reached the audit log: %+v", ev)
			}
		}
	}
	for _, typ := range []string{gatehouse.EventSignUp, gatehouse.EventSignIn, gatehouse.EventSignInFailed, gatehouse.EventPasswordChanged, gatehouse.EventSignOut, gatehouse.EventRoleChanged} {
		if _, ok := types[typ]; !ok {
			t.Errorf("no %s event in %v", typ, summarizeEvents(all))
		}
	}
	in := types[gatehouse.EventSignIn]
	if in.IP != "127.0.0.1" || in.RequestID == "" || in.ActorID != uid {
		t.Errorf("sign-in event %+v", in)
	}
	if f := types[gatehouse.EventSignInFailed]; f.Reason != "wrong_password" || f.SubjectID != uid || f.UserAgent != "curl/8.0" {
		t.Errorf("failure event %+v", f)
	}
	if rc := types[gatehouse.EventRoleChanged]; rc.ActorID != "cli" || rc.Reason != "admin" {
		t.Errorf("role change event %+v", rc)
	}
}

// testAdminAuditEndpoint: the JSON endpoint needs gatehouse:admin, filters
// and pages.
func testAdminAuditEndpoint(t *testing.T, b backend) {
	e := newEnv(t, b, gatehouse.Config{})
	user := e.client()
	user.signUp("plain@example.com")
	want(t, user.do("GET", "/auth/api/admin/audit", nil), 403, "forbidden")
	if _, err := e.auth.CreateUser(context.Background(), gatehouse.NewUser{Email: "boss@example.com", Password: goodPassword, Roles: []string{"admin"}, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	admin := e.client()
	want(t, admin.do("POST", "/auth/api/sign-in", signInBody("boss@example.com", goodPassword)), 200, "")
	for i := range 5 {
		e.client().do("POST", "/auth/api/sign-in", signInBody("plain@example.com", fmt.Sprintf("wrong %d password", i)))
	}
	e.auditEvents(gatehouse.AuditQuery{Types: []string{gatehouse.EventSignInFailed}})
	time.Sleep(400 * time.Millisecond) // the batcher writes every 250 ms
	var ids []string
	before := ""
	for page := 0; page < 10; page++ {
		path := "/auth/api/admin/audit?type=sign_in_failed&limit=2"
		if before != "" {
			path += "&before=" + before
		}
		r := admin.do("GET", path, nil)
		want(t, r, 200, "")
		body := r.json(t)
		for _, ev := range body["events"].([]any) {
			m := ev.(map[string]any)
			if m["type"] != "sign_in_failed" {
				t.Fatalf("filter let through %v", m)
			}
			ids = append(ids, m["id"].(string))
		}
		next, _ := body["next_before"].(string)
		if next == "" {
			break
		}
		before = next
	}
	if len(ids) != 5 {
		t.Fatalf("paged through %d events, want 5: %v", len(ids), ids)
	}
	want(t, admin.do("GET", "/auth/api/admin/audit?since=yesterday", nil), 400, "invalid_request")
	want(t, admin.do("GET", "/auth/api/admin/audit?limit=5000", nil), 400, "invalid_request")
	want(t, admin.do("GET", "/auth/api/admin/audit?before=aud_NOSUCHEVENTNOSUCHEVENT23", nil), 400, "invalid_request")
	// Values no event can carry are refused before the database (PostgreSQL
	// would fail on NUL and invalid UTF-8), and so are too many types.
	for _, q := range []string{"ip=%00", "user_id=%FF", "before=a%00b", "type=sign%00in"} {
		want(t, admin.do("GET", "/auth/api/admin/audit?"+q, nil), 400, "invalid_request")
	}
	var many []string
	for i := range 60 {
		many = append(many, fmt.Sprintf("t%d", i))
	}
	want(t, admin.do("GET", "/auth/api/admin/audit?type="+strings.Join(many, ","), nil), 400, "invalid_request")
}

// fakeRange serves the k-anonymity range API for a few passwords and
// records the prefixes asked for.
type fakeRange struct {
	mu       sync.Mutex
	prefixes []string
	srv      *httptest.Server
}

func newFakeRange(t *testing.T, breached ...string) *fakeRange {
	f := &fakeRange{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		f.mu.Lock()
		f.prefixes = append(f.prefixes, prefix)
		f.mu.Unlock()
		for _, p := range breached {
			sum := sha1.Sum([]byte(p))
			h := strings.ToUpper(hex.EncodeToString(sum[:]))
			if h[:5] == prefix {
				fmt.Fprintf(w, "%s:42\r\n", h[5:])
			}
		}
		fmt.Fprintf(w, "%s:0\r\n", strings.Repeat("0", 35))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// testBreachedPasswords: sign-up, change and reset refuse a breached
// password; only five hex characters of its hash leave; an unreachable
// service fails open.
func testBreachedPasswords(t *testing.T, b backend) {
	const breached = "purple monkey dishwasher 77"
	f := newFakeRange(t, breached)
	e := newEnv(t, b, gatehouse.Config{BreachedPasswords: gatehouse.BreachCheck{URL: f.srv.URL}})
	r := e.client().do("POST", "/auth/api/sign-up", map[string]string{"email": "br@example.com", "password": breached})
	want(t, r, 400, "invalid_password")
	if !strings.Contains(r.errMessage(t), "data breach") {
		t.Fatalf("message %q", r.errMessage(t))
	}
	c := e.client()
	c.signUp("ok@example.com")
	want(t, c.do("POST", "/auth/api/password/change", map[string]string{"current_password": goodPassword, "new_password": breached}), 400, "invalid_password")
	f.mu.Lock()
	for _, p := range f.prefixes {
		if len(p) != 5 {
			t.Fatalf("the range API was asked for %q", p)
		}
	}
	f.mu.Unlock()

	// Unreachable: sign-ups go on.
	f.srv.Close()
	down := newEnv(t, b, gatehouse.Config{BreachedPasswords: gatehouse.BreachCheck{URL: f.srv.URL, Timeout: 200 * time.Millisecond}})
	want(t, down.client().do("POST", "/auth/api/sign-up", map[string]string{"email": "open@example.com", "password": breached}), 201, "")
}

func summarizeEvents(evs []gatehouse.AuditEvent) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return s
}
