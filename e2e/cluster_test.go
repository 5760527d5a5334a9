package e2e_test

import (
	"bufio"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/smtptest"
	"github.com/gatehouse-auth/gatehouse/internal/testpg"
)

// The scale-out promise (docs/deployment.md): many `gatehouse serve`
// processes on one PostgreSQL and one Redis behave as one server. Each
// node caches session checks for up to 10 s, so every change that must
// end or narrow a session — revocation, password change, role change,
// disabling, from any node or from the CLI — has to reach the other nodes
// through the cache fan-out (Redis pub/sub, or PostgreSQL LISTEN/NOTIFY
// without Redis) within propagationLimit.
const (
	propagationLimit = time.Second
	// pollEvery is how often a test asks a node whether a change arrived.
	pollEvery = 20 * time.Millisecond
	// pollGiveUp is how long a propagation is watched before giving up:
	// well past the cache TTL, so a failure says whether the change came
	// late (the TTL) or never.
	pollGiveUp = 12 * time.Second

	clusterPassword    = "correct horse battery staple"
	clusterNewPassword = "a brand new passphrase"
	sessionCookieName  = "gatehouse_session" // development mode's name
)

// TestBinaryCluster runs three nodes on one PostgreSQL schema and one Redis
// of its own, and checks what a deployment relies on: they migrate once,
// a session works on every node, every revocation and privilege change
// reaches every node within a second, rate limits are global, mail is sent
// once, a Redis outage costs speed but not correctness, and a node killed
// with SIGKILL neither disturbs the others nor loses anything.
func TestBinaryCluster(t *testing.T) {
	bin := buildBinary(t)
	dsn := testpg.FreshSchema(t)
	rds := startRedis(t)
	mailSrv := smtptest.Start(t, smtptest.Options{TLS: smtptest.Plain})
	env := clusterEnv(t, dsn, rds.url(),
		"GATEHOUSE_SMTP_URL="+mailSrv.URL(),
		"GATEHOUSE_SMTP_FROM=Gatehouse <no-reply@example.com>",
		// The account throttle (in the database, so global already)
		// would answer 429 after 5 failures and hide the rate limit
		// under test; it is raised out of the way.
		"GATEHOUSE_THROTTLE_FREE=1000",
		"GATEHOUSE_THROTTLE_DAILY_BUDGET=1000",
	)
	lat := &latencies{}
	defer func() { t.Logf("propagation latencies: %s", lat) }()

	// 1. Three nodes start together on an empty schema: all of them
	// migrate at once, under the advisory lock, and all come up.
	began := time.Now()
	nodes := []*clusterNode{launchNode(t, bin, "A", env), launchNode(t, bin, "B", env), launchNode(t, bin, "C", env)}
	for _, n := range nodes {
		n.await()
	}
	t.Logf("three nodes up in %v", time.Since(began).Round(time.Millisecond))
	a, b, c := nodes[0], nodes[1], nodes[2]
	checkMigratedOnce(t, bin, env, dsn)
	for _, n := range nodes {
		n.waitFanOut("up", time.Now().Add(5*time.Second))
	}

	// 2. A session made on A works on B and C.
	ada := signUp(t, a, "ada@example.com")
	for _, n := range nodes {
		n.expectSession(ada, http.StatusOK)
	}

	// 3. Signed out on A: refused on B and C within a second.
	if r := a.must("POST", "/auth/api/sign-out", "", ada.creds()...); r.status != http.StatusNoContent {
		t.Fatalf("sign-out on A: %d %s", r.status, r.body)
	}
	a.expectSession(ada, http.StatusUnauthorized)
	lat.add("sign-out", propagation(t, "ada's sign-out on A", time.Now(), []*clusterNode{b, c}, sessionRefused(ada)))

	// 4a. A password change on B ends the user's other sessions on A and C.
	bo1 := signUp(t, b, "bo@example.com")
	bo2 := signIn(t, a, "bo@example.com", clusterPassword)
	bo3 := signIn(t, c, "bo@example.com", clusterPassword)
	for _, n := range nodes {
		for _, s := range []session{bo1, bo2, bo3} {
			n.expectSession(s, http.StatusOK)
		}
	}
	r := b.must("POST", "/auth/api/password/change",
		fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, clusterPassword, clusterNewPassword), bo1.json()...)
	if r.status != http.StatusOK {
		t.Fatalf("password change on B: %d %s", r.status, r.body)
	}
	changed := time.Now()
	bo1 = bo1.rotated(t, r)
	lat.add("password change", propagation(t, "bo's password change on B", changed, []*clusterNode{a, c}, func(n *clusterNode) (bool, error) {
		s2, err := n.sessionStatus(bo2)
		if err != nil {
			return false, err
		}
		s3, err := n.sessionStatus(bo3)
		return s2 == http.StatusUnauthorized && s3 == http.StatusUnauthorized, err
	}))
	for _, n := range nodes {
		n.expectSession(bo1, http.StatusOK) // the session that changed it lives on
	}

	// 4b. A role given with the CLI: a permission check on every node
	// reflects it within a second of the command's end.
	cy := signUp(t, c, "cy@example.com")
	for _, n := range nodes {
		if st := n.adminStatus(cy); st != http.StatusForbidden {
			t.Fatalf("%s: admin endpoint before the role: %d, want 403", n.name, st)
		}
	}
	out, took := runCLI(t, bin, env, "users", "set-role", "cy@example.com", "admin")
	done := time.Now()
	t.Logf("gatehouse users set-role took %v: %s", took.Round(time.Millisecond), strings.TrimSpace(out))
	lat.add("role change (CLI)", propagation(t, "cy's role change by the CLI", done, nodes, func(n *clusterNode) (bool, error) {
		st, err := n.adminStatusErr(cy)
		return st == http.StatusOK, err
	}))

	// 4c. Disabled with the CLI: signed out everywhere within a second.
	for _, n := range nodes {
		n.expectSession(cy, http.StatusOK)
	}
	out, took = runCLI(t, bin, env, "users", "disable", "cy@example.com")
	done = time.Now()
	t.Logf("gatehouse users disable took %v: %s", took.Round(time.Millisecond), strings.TrimSpace(out))
	lat.add("disable (CLI)", propagation(t, "cy's account disabled by the CLI", done, nodes, sessionRefused(cy)))

	// 4d. A Bearer token minted on A dies on B and C within a second of
	// its session's revocation.
	dee := signUp(t, a, "dee@example.com")
	r = a.must("POST", "/auth/api/token", "", dee.creds("Sec-Fetch-Site", "same-origin")...)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token on A: %d %s", r.status, r.body)
	}
	bearer := session{ip: dee.ip, bearer: tok.AccessToken, email: dee.email}
	for _, n := range nodes {
		n.expectSession(bearer, http.StatusOK)
	}
	if r := a.must("POST", "/auth/api/sign-out", "", dee.creds()...); r.status != http.StatusNoContent {
		t.Fatalf("sign-out on A: %d %s", r.status, r.body)
	}
	lat.add("bearer token", propagation(t, "dee's Bearer token after her sign-out on A", time.Now(), []*clusterNode{b, c}, sessionRefused(bearer)))

	// 5. Rate limits are global: failed sign-ins for one address spread
	// over the three nodes get one node's budget, not three.
	hammerSignIn(t, nodes, "ada@example.com")

	// 6. Mail is sent once although every node delivers.
	forgotOnce(t, a, mailSrv, "ada@example.com")

	// 7. Redis goes down: nodes say so, bypass their caches (so they stay
	// correct), and come back when Redis does.
	redisOutage(t, rds, nodes, lat)

	// 8. A node killed with SIGKILL: the others serve on; a new node
	// joins and knows the sessions.
	nodes[2] = killAndReplace(t, bin, env, nodes, c)
	for _, n := range nodes {
		var v [3]float64
		for i, m := range []string{"published", "received", "publish_failures"} {
			v[i], _ = n.metric("gatehouse_fanout_" + m + "_total")
		}
		t.Logf("%s: fan-out published %v, received %v, failed to publish %v", n.name, v[0], v[1], v[2])
	}
}

// TestBinaryClusterWithoutRedis runs two nodes on PostgreSQL alone: the
// cache fan-out goes through LISTEN/NOTIFY.
func TestBinaryClusterWithoutRedis(t *testing.T) {
	bin := buildBinary(t)
	dsn := testpg.FreshSchema(t)
	env := clusterEnv(t, dsn, "")
	nodes := []*clusterNode{launchNode(t, bin, "A", env), launchNode(t, bin, "B", env)}
	for _, n := range nodes {
		n.await()
	}
	a, b := nodes[0], nodes[1]
	for _, n := range nodes {
		n.waitFanOut("up", time.Now().Add(5*time.Second))
	}
	ada := signUp(t, a, "ada@example.com")
	for range 2 {
		b.expectSession(ada, http.StatusOK)
	}
	if r := a.must("POST", "/auth/api/sign-out", "", ada.creds()...); r.status != http.StatusNoContent {
		t.Fatalf("sign-out on A: %d %s", r.status, r.body)
	}
	d := propagation(t, "a sign-out on A through LISTEN/NOTIFY", time.Now(), []*clusterNode{b}, sessionRefused(ada))
	t.Logf("propagation latencies: sign-out %v", d.Round(time.Millisecond))

	// The other way, and for a whole user: a password change on B.
	bo1 := signUp(t, b, "bo@example.com")
	bo2 := signIn(t, a, "bo@example.com", clusterPassword)
	a.expectSession(bo2, http.StatusOK)
	r := b.must("POST", "/auth/api/password/change",
		fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, clusterPassword, clusterNewPassword), bo1.json()...)
	if r.status != http.StatusOK {
		t.Fatalf("password change on B: %d %s", r.status, r.body)
	}
	d = propagation(t, "a password change on B through LISTEN/NOTIFY", time.Now(), []*clusterNode{a}, sessionRefused(bo2))
	t.Logf("propagation latencies: password change %v", d.Round(time.Millisecond))
	if v, ok := b.metric("gatehouse_fanout_received_total"); !ok || v < 1 {
		t.Errorf("B: gatehouse_fanout_received_total = %v (present: %v), want ≥ 1", v, ok)
	}
}

// TestBinaryClusterSingleNode pins the other side of /readyz's contract: a
// node on SQLite is alone, has no fan-out, and says nothing about one.
func TestBinaryClusterSingleNode(t *testing.T) {
	bin := buildBinary(t)
	n := launchNode(t, bin, "solo", nil)
	n.await()
	st, body, err := n.readyz()
	if err != nil || st != http.StatusOK || len(body) != 1 || body["status"] != "ready" {
		t.Fatalf("/readyz on SQLite: %d %v %v, want 200 {\"status\":\"ready\"}", st, body, err)
	}
	if v, ok := n.metric("gatehouse_fanout_up"); ok {
		t.Errorf("/metrics on SQLite has gatehouse_fanout_up %v", v)
	}
}

// hammerSignIn sends failing sign-ins for email round-robin to the nodes
// until one answers 429, and checks that the nodes together allowed what
// one node's per-identifier limit allows: the limit lives in Redis.
func hammerSignIn(t *testing.T, nodes []*clusterNode, email string) {
	// The expectation comes from the code: sign_in allows Burst attempts
	// per address at once, then one every Period/Limit (GCRA).
	rate := gatehouse.DefaultRateLimits()[gatehouse.LimitSignIn].PerIdentifier
	interval := rate.Period / time.Duration(rate.Limit)
	ip := nextIP()
	body := fmt.Sprintf(`{"email":%q,"password":"not the password at all"}`, email)
	allowed, limited := 0, false
	began := time.Now()
	for i := range len(nodes)*rate.Burst + len(nodes) {
		n := nodes[i%len(nodes)]
		r := n.must("POST", "/auth/api/sign-in", body, "Content-Type", "application/json", "X-Forwarded-For", ip)
		if r.status == http.StatusTooManyRequests {
			if r.code() != "rate_limited" || r.header.Get("Retry-After") == "" {
				t.Fatalf("%s: 429 without rate_limited and Retry-After: %v %s", n.name, r.header, r.body)
			}
			limited = true
			break
		}
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%s: failed sign-in: %d %s", n.name, r.status, r.body)
		}
		allowed++
	}
	elapsed := time.Since(began)
	most := rate.Burst + int(elapsed/interval) // refills while hammering
	t.Logf("sign-in limit: %d failed attempts allowed across %d nodes in %v before 429 (one node's budget: burst %d, then 1 per %v)",
		allowed, len(nodes), elapsed.Round(time.Millisecond), rate.Burst, interval)
	if !limited || allowed < rate.Burst || allowed > most {
		t.Errorf("the nodes together allowed %d attempts (limited: %v), want %d to %d: the sign-in limit is not shared", allowed, limited, rate.Burst, most)
	}
}

// forgotOnce asks node n for a reset link for email and checks that the
// mail server gets exactly one such message, although every node delivers.
func forgotOnce(t *testing.T, n *clusterNode, srv *smtptest.Server, email string) {
	resets := func() int {
		k := 0
		for _, m := range smtpMails(t, srv.Messages()) {
			if m.to == email && strings.HasPrefix(m.subject, "Reset your") {
				k++
			}
		}
		return k
	}
	before := resets()
	r := n.must("POST", "/auth/api/password/forgot", fmt.Sprintf(`{"email":%q}`, email), "Content-Type", "application/json", "X-Forwarded-For", nextIP())
	if r.status != http.StatusAccepted {
		t.Fatalf("forgot password on %s: %d %s", n.name, r.status, r.body)
	}
	asked := time.Now()
	for resets() == before {
		if time.Since(asked) > 15*time.Second {
			t.Fatalf("no reset mail within 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("reset mail arrived %v after the request", time.Since(asked).Round(time.Millisecond))
	time.Sleep(3 * time.Second) // every node polls the outbox each second
	if got := resets() - before; got != 1 {
		t.Errorf("%d reset mails arrived for one request, want exactly 1", got)
	}
}

// redisOutage stops Redis and checks that every node reports the fan-out
// down and stays correct, then restarts it and checks that they recover.
func redisOutage(t *testing.T, rds *redisServer, nodes []*clusterNode, lat *latencies) {
	a := nodes[0]
	fay := signUp(t, a, "fay@example.com")
	for _, n := range nodes {
		n.expectSession(fay, http.StatusOK)
	}
	failedBefore, _ := a.metric("gatehouse_fanout_publish_failures_total")

	rds.kill()
	down := time.Now()
	for _, n := range nodes {
		n.waitFanOut("down", down.Add(2500*time.Millisecond))
		t.Logf("%s: fan-out reported down %v after Redis died", n.name, time.Since(down).Round(time.Millisecond))
		if v, ok := n.metric("gatehouse_fanout_up"); !ok || v != 0 {
			t.Errorf("%s: gatehouse_fanout_up = %v (present: %v) with Redis down, want 0", n.name, v, ok)
		}
		if !strings.Contains(n.logs(), "cache fan-out down") {
			t.Errorf("%s: no \"cache fan-out down\" in the log:\n%s", n.name, n.logs())
		}
	}
	// B cached fay's session a moment ago; with the fan-out down it must
	// check the database, so her sign-out on A is refused at once.
	if r := a.must("POST", "/auth/api/sign-out", "", fay.creds()...); r.status != http.StatusNoContent {
		t.Fatalf("sign-out on A with Redis down: %d %s", r.status, r.body)
	}
	for _, n := range nodes[1:] {
		if st := n.sessionStatusMust(fay); st != http.StatusUnauthorized {
			t.Errorf("%s: with the fan-out down, a session signed out on A still answers %d", n.name, st)
		}
	}
	// Sign-in still works: the limits fall back to each node's own.
	for _, n := range nodes {
		s := signIn(t, n, "bo@example.com", clusterNewPassword)
		n.expectSession(s, http.StatusOK)
	}
	// The sign-out's invalidation could not be sent, and A counts it.
	waitFor(t, "A to count an unpublished invalidation", 5*time.Second, func() bool {
		v, _ := a.metric("gatehouse_fanout_publish_failures_total")
		return v > failedBefore
	})

	rds.start()
	up := time.Now()
	for _, n := range nodes {
		n.waitFanOut("up", up.Add(5*time.Second))
		t.Logf("%s: fan-out back up %v after Redis restarted", n.name, time.Since(up).Round(time.Millisecond))
		if v, ok := n.metric("gatehouse_fanout_up"); !ok || v != 1 {
			t.Errorf("%s: gatehouse_fanout_up = %v (present: %v) with Redis back, want 1", n.name, v, ok)
		}
	}
	// Revocations propagate again: gus's first session, cached on B and
	// C, is revoked from his second one on A.
	gus1 := signUp(t, nodes[1], "gus@example.com")
	gus2 := signIn(t, a, "gus@example.com", clusterPassword)
	received := map[string]float64{}
	for _, n := range nodes {
		n.expectSession(gus1, http.StatusOK)
		received[n.name], _ = n.metric("gatehouse_fanout_received_total")
	}
	if r := a.must("DELETE", "/auth/api/sessions/"+gus1.id, "", gus2.creds()...); r.status != http.StatusNoContent {
		t.Fatalf("revoking gus's first session on A: %d %s", r.status, r.body)
	}
	lat.add("after the outage", propagation(t, "gus's session revoked on A after Redis came back", time.Now(), nodes[1:], sessionRefused(gus1)))
	for _, n := range nodes[1:] {
		if v, ok := n.metric("gatehouse_fanout_received_total"); !ok || v <= received[n.name] {
			t.Errorf("%s: gatehouse_fanout_received_total %v → %v after a revocation on A", n.name, received[n.name], v)
		}
	}
	if v, ok := a.metric("gatehouse_fanout_published_total"); !ok || v < 1 {
		t.Errorf("A: gatehouse_fanout_published_total = %v (present: %v), want ≥ 1", v, ok)
	}
}

// killAndReplace kills victim with SIGKILL while the other nodes serve
// sign-ins and session checks, checks that none of those failed, and
// starts a replacement that must know the existing sessions.
func killAndReplace(t *testing.T, bin string, env []string, nodes []*clusterNode, victim *clusterNode) *clusterNode {
	var alive []*clusterNode
	for _, n := range nodes {
		if n != victim {
			alive = append(alive, n)
		}
	}
	type person struct {
		node *clusterNode
		s    session
	}
	var people []person
	for i, n := range alive {
		email := fmt.Sprintf("load%d@example.com", i)
		people = append(people, person{n, signUp(t, n, email)})
	}
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		checks   atomic.Int64
		signIns  atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	for _, p := range people {
		wg.Go(func() { // session checks, back to back
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := p.node.sessionStatus(p.s)
				if err != nil || st != http.StatusOK {
					fail("%s: session check: %d %v", p.node.name, st, err)
				}
				checks.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		})
		wg.Go(func() { // a sign-in every 400 ms (within the address's limit)
			tick := time.NewTicker(400 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				r, err := p.node.send("POST", "/auth/api/sign-in", fmt.Sprintf(`{"email":%q,"password":%q}`, p.s.email, clusterPassword),
					"Content-Type", "application/json", "X-Forwarded-For", p.s.ip)
				if err != nil || r.status != http.StatusOK {
					fail("%s: sign-in: %d %v %s", p.node.name, r.status, err, r.body)
				}
				signIns.Add(1)
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	victim.kill()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("while %s was killed: %d session checks and %d sign-ins on the others", victim.name, checks.Load(), signIns.Load())
	for _, f := range failures {
		t.Errorf("after %s was killed: %s", victim.name, f)
	}

	// A new node joins and knows every session.
	repl := launchNode(t, bin, victim.name+"'", env)
	repl.await()
	repl.waitFanOut("up", time.Now().Add(5*time.Second))
	for _, p := range people {
		repl.expectSession(p.s, http.StatusOK)
	}
	// And it hears revocations like the others.
	p := people[0]
	repl.expectSession(p.s, http.StatusOK)
	if r := p.node.must("POST", "/auth/api/sign-out", "", p.s.creds()...); r.status != http.StatusNoContent {
		t.Fatalf("sign-out on %s: %d %s", p.node.name, r.status, r.body)
	}
	propagation(t, "a sign-out reaching the replacement node", time.Now(), []*clusterNode{repl}, sessionRefused(p.s))
	return repl
}

// checkMigratedOnce checks that every migration the binary knows was
// recorded exactly once in goose's history table, although three nodes
// migrated at once.
func checkMigratedOnce(t *testing.T, bin string, env []string, dsn string) {
	t.Helper()
	out, _ := runCLI(t, bin, env, "migrate", "--status", "--json")
	var status struct {
		Migrations []struct {
			Component string `json:"component"`
			Version   int64  `json:"version"`
			Applied   bool   `json:"applied"`
		} `json:"migrations"`
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || len(status.Migrations) == 0 {
		t.Fatalf("gatehouse migrate --status --json: %v\n%s", err, out)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version_id, count(*) FROM goose_db_version WHERE is_applied GROUP BY version_id`)
	if err != nil {
		t.Fatalf("reading goose_db_version: %v", err)
	}
	defer rows.Close()
	recorded := map[int64]int{}
	for rows.Next() {
		var v int64
		var k int
		if err := rows.Scan(&v, &k); err != nil {
			t.Fatal(err)
		}
		recorded[v] = k
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for v, k := range recorded {
		if k != 1 {
			t.Errorf("goose_db_version records version %d %d times", v, k)
		}
	}
	core := 0
	for _, m := range status.Migrations {
		if m.Component != "core" {
			continue
		}
		core++
		if !m.Applied || recorded[m.Version] != 1 {
			t.Errorf("migration %d: applied %v, recorded %d times", m.Version, m.Applied, recorded[m.Version])
		}
	}
	t.Logf("%d core migrations, each recorded once", core)
}

// clusterEnv is the configuration every node and CLI run of one cluster
// shares: one database, one Redis (none when redisURL is ""), one master
// secret, one public URL (development mode), and the loopback as a
// trusted proxy so that each simulated client has its own address.
func clusterEnv(t *testing.T, dsn, redisURL string, extra ...string) []string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{
		"GATEHOUSE_PUBLIC_URL=http://localhost:8080",
		"GATEHOUSE_DATABASE_URL=" + dsn,
		"GATEHOUSE_SECRET=" + hex.EncodeToString(key),
		"GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32",
		"GATEHOUSE_ROLES=editor=notes:read,notes:write",
	}
	if redisURL != "" {
		env = append(env, "GATEHOUSE_REDIS_URL="+redisURL, "GATEHOUSE_REDIS_PREFIX=gatehouse-test-"+strings.ToLower(rand.Text()[:8])+":")
	}
	return append(env, extra...)
}

// runCLI runs a gatehouse command with env and returns its output and
// how long it took.
func runCLI(t *testing.T, bin string, env []string, args ...string) (string, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GATEHOUSE_DATA_DIR="+filepath.Join(dir, "data")), env...)
	var stderr logBuffer
	cmd.Stderr = &stderr
	began := time.Now()
	out, err := cmd.Output()
	took := time.Since(began)
	if err != nil {
		t.Fatalf("gatehouse %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), took
}

// clusterNode is one `gatehouse serve` of a cluster, with its public and
// ops listeners on free loopback ports.
type clusterNode struct {
	t      *testing.T
	name   string
	url    string // http://127.0.0.1:port
	ops    string // the ops listener, http://127.0.0.1:port
	cmd    *exec.Cmd
	stdout logBuffer
	stderr logBuffer
	done   chan struct{} // closed when the process exited
	err    error         // its exit, once done is closed

	stopOnce sync.Once
}

var metricsListening = regexp.MustCompile(`Metrics: (http://127\.0\.0\.1:\d+)/metrics`)

// launchNode starts `gatehouse serve` with env and returns without waiting
// for it (await does), so that several nodes start together. The node is
// stopped with SIGINT when the test ends and must exit cleanly.
func launchNode(t *testing.T, bin, name string, env []string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	n := &clusterNode{t: t, name: name, done: make(chan struct{})}
	n.cmd = exec.Command(bin, "serve")
	n.cmd.Dir = dir
	n.cmd.Env = append(append(os.Environ(), env...),
		"GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_OPS_ADDR=127.0.0.1:0", "GATEHOUSE_DATA_DIR="+filepath.Join(dir, "data"))
	n.cmd.Stdout, n.cmd.Stderr = &n.stdout, &n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.stop)
	t.Cleanup(func() {
		if l := n.logs(); strings.Contains(l, clusterPassword) || strings.Contains(l, clusterNewPassword) {
			t.Errorf("%s: a password reached the logs", n.name)
		}
	})
	return n
}

// await waits until the node printed where it listens.
func (n *clusterNode) await() {
	n.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		out := n.stdout.String()
		m, o := listening.FindStringSubmatch(out), metricsListening.FindStringSubmatch(out)
		if m != nil && o != nil {
			n.url, n.ops = m[1], o[1]
			return
		}
		select {
		case <-n.done:
			n.t.Fatalf("%s: gatehouse serve exited: %v\n%s%s", n.name, n.err, out, n.stderr.String())
		case <-deadline:
			n.t.Fatalf("%s: gatehouse did not start within 30 s:\n%s%s", n.name, out, n.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop interrupts the node and waits for a clean exit, unless it was
// killed. It is safe to call more than once.
func (n *clusterNode) stop() {
	n.stopOnce.Do(func() {
		select {
		case <-n.done:
			return // killed, or exited (await reported it)
		default:
		}
		n.cmd.Process.Signal(os.Interrupt)
		select {
		case <-n.done:
			if n.err != nil {
				n.t.Errorf("%s did not shut down cleanly: %v\n%s", n.name, n.err, n.stderr.String())
			}
		case <-time.After(20 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
			n.t.Errorf("%s did not stop within 20 s of SIGINT", n.name)
		}
	})
}

// kill ends the node with SIGKILL: no shutdown, no cleanup.
func (n *clusterNode) kill() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatalf("kill %s: %v", n.name, err)
	}
	<-n.done
}

func (n *clusterNode) logs() string { return n.stdout.String() + n.stderr.String() }

// clusterHTTP talks to the nodes. It keeps enough idle connections for the
// tests' concurrency and follows no redirects.
var clusterHTTP = &http.Client{
	Timeout:       10 * time.Second,
	Transport:     &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send makes one request to the node; header holds name, value pairs. It
// is safe to call from any goroutine.
func (n *clusterNode) send(method, path, body string, header ...string) (reply, error) {
	return sendTo(clusterHTTP, n.url+path, method, body, header...)
}

func sendTo(c *http.Client, target, method, body string, header ...string) (reply, error) {
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, string(b)}, err
}

// must is send from the test's goroutine, failing the test on a network
// error.
func (n *clusterNode) must(method, path, body string, header ...string) reply {
	n.t.Helper()
	r, err := n.send(method, path, body, header...)
	if err != nil {
		n.t.Fatalf("%s: %s %s: %v", n.name, method, path, err)
	}
	return r
}

// session is one signed-in client: its session cookie, or an access token.
type session struct {
	email  string
	ip     string // the client's address, as the proxy forwards it
	token  string // the session cookie's value
	bearer string // an access token instead of the cookie
	id     string // ses_…
	userID string
}

// creds returns the headers carrying the client's address and credential
// (the session cookie, or the access token), then extra.
func (s session) creds(extra ...string) []string {
	h := []string{"X-Forwarded-For", s.ip}
	if s.bearer != "" {
		h = append(h, "Authorization", "Bearer "+s.bearer)
	} else {
		h = append(h, "Cookie", sessionCookieName+"="+s.token)
	}
	return append(h, extra...)
}

// json returns the headers of a JSON request with the session.
func (s session) json() []string { return s.creds("Content-Type", "application/json") }

// rotated returns s with the new cookie of r (a sign-in, a password change).
func (s session) rotated(t *testing.T, r reply) session {
	t.Helper()
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == sessionCookieName && ck.Value != "" {
			s.token = ck.Value
			return s
		}
	}
	t.Fatalf("no %s cookie in %v", sessionCookieName, r.header.Values("Set-Cookie"))
	return s
}

var ipCounter atomic.Int64

// nextIP is a client address no other client of the run has (RFC 2544's
// benchmarking range), so that per-address limits count each client alone.
func nextIP() string {
	k := ipCounter.Add(1)
	return fmt.Sprintf("198.18.%d.%d", k/250, k%250+1)
}

func signUp(t *testing.T, n *clusterNode, email string) session {
	t.Helper()
	ip := nextIP()
	r := n.must("POST", "/auth/api/sign-up", fmt.Sprintf(`{"email":%q,"password":%q}`, email, clusterPassword), "Content-Type", "application/json", "X-Forwarded-For", ip)
	if r.status != http.StatusCreated {
		t.Fatalf("%s: sign-up %s: %d %s", n.name, email, r.status, r.body)
	}
	return parseSignedIn(t, r, email, ip)
}

func signIn(t *testing.T, n *clusterNode, email, password string) session {
	t.Helper()
	ip := nextIP()
	r := n.must("POST", "/auth/api/sign-in", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), "Content-Type", "application/json", "X-Forwarded-For", ip)
	if r.status != http.StatusOK {
		t.Fatalf("%s: sign-in %s: %d %s", n.name, email, r.status, r.body)
	}
	return parseSignedIn(t, r, email, ip)
}

func parseSignedIn(t *testing.T, r reply, email, ip string) session {
	t.Helper()
	var body struct {
		User    struct{ ID string } `json:"user"`
		Session struct{ ID string } `json:"session"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Session.ID == "" {
		t.Fatalf("signed-in body %s: %v", r.body, err)
	}
	s := session{email: email, ip: ip, id: body.Session.ID, userID: body.User.ID}
	return s.rotated(t, r)
}

// sessionStatus is the status of GET /auth/api/session with s.
func (n *clusterNode) sessionStatus(s session) (int, error) {
	r, err := n.send("GET", "/auth/api/session", "", s.creds()...)
	return r.status, err
}

func (n *clusterNode) sessionStatusMust(s session) int {
	n.t.Helper()
	st, err := n.sessionStatus(s)
	if err != nil {
		n.t.Fatalf("%s: session check: %v", n.name, err)
	}
	return st
}

// expectSession checks the session's status on the node (which also puts
// a valid session in the node's cache).
func (n *clusterNode) expectSession(s session, status int) {
	n.t.Helper()
	if st := n.sessionStatusMust(s); st != status {
		n.t.Fatalf("%s: session of %s: %d, want %d", n.name, s.email, st, status)
	}
}

// adminStatus is the status of an endpoint guarded by gatehouse:admin.
func (n *clusterNode) adminStatusErr(s session) (int, error) {
	r, err := n.send("GET", "/auth/api/admin/mail", "", s.creds()...)
	return r.status, err
}

func (n *clusterNode) adminStatus(s session) int {
	n.t.Helper()
	st, err := n.adminStatusErr(s)
	if err != nil {
		n.t.Fatalf("%s: admin endpoint: %v", n.name, err)
	}
	return st
}

func sessionRefused(s session) func(*clusterNode) (bool, error) {
	return func(n *clusterNode) (bool, error) {
		st, err := n.sessionStatus(s)
		return st == http.StatusUnauthorized, err
	}
}

// propagation polls done on each node every pollEvery from start until it
// holds, and fails the test for a node where that took longer than
// propagationLimit. It returns the slowest node's delay.
func propagation(t *testing.T, what string, start time.Time, nodes []*clusterNode, done func(*clusterNode) (bool, error)) time.Duration {
	t.Helper()
	type result struct {
		node  *clusterNode
		after time.Duration
		ok    bool
		err   error
	}
	results := make(chan result, len(nodes))
	for _, n := range nodes {
		go func() {
			for {
				ok, err := done(n)
				after := time.Since(start)
				if ok || err != nil || after > pollGiveUp {
					results <- result{n, after, ok, err}
					return
				}
				time.Sleep(pollEvery)
			}
		}()
	}
	var slowest time.Duration
	for range nodes {
		r := <-results
		slowest = max(slowest, r.after)
		switch {
		case r.err != nil:
			t.Errorf("%s: %s: %v", what, r.node.name, r.err)
		case !r.ok:
			t.Errorf("%s: not seen on %s after %v", what, r.node.name, r.after.Round(time.Millisecond))
		case r.after > propagationLimit:
			t.Errorf("%s: reached %s after %v, more than %v", what, r.node.name, r.after.Round(time.Millisecond), propagationLimit)
		default:
			t.Logf("%s: reached %s after %v", what, r.node.name, r.after.Round(time.Millisecond))
		}
	}
	return slowest
}

// latencies collects the slowest propagation of each kind for the log.
type latencies struct {
	names []string
	ds    []time.Duration
}

func (l *latencies) add(name string, d time.Duration) {
	l.names = append(l.names, name)
	l.ds = append(l.ds, d)
}

func (l *latencies) String() string {
	var b strings.Builder
	for i, name := range l.names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %v", name, l.ds[i].Round(time.Millisecond))
	}
	return b.String()
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %v", what, within)
		}
		time.Sleep(pollEvery)
	}
}

// readyz returns /readyz's status and JSON body.
func (n *clusterNode) readyz() (int, map[string]string, error) {
	r, err := n.send("GET", "/readyz", "")
	if err != nil {
		return 0, nil, err
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		return r.status, nil, fmt.Errorf("/readyz body %q: %w", r.body, err)
	}
	return r.status, body, nil
}

// waitFanOut waits until /readyz reports the fan-out in state ("up" or
// "down") by deadline, and fails unless the node is ready all along.
func (n *clusterNode) waitFanOut(state string, deadline time.Time) {
	n.t.Helper()
	for {
		st, body, err := n.readyz()
		if err != nil {
			n.t.Fatalf("%s: /readyz: %v", n.name, err)
		}
		if st != http.StatusOK || body["status"] != "ready" {
			n.t.Fatalf("%s: /readyz %d %v, want 200 ready", n.name, st, body)
		}
		if body["fanout"] == state {
			if len(body) != 2 {
				n.t.Errorf("%s: /readyz %v, want only status and fanout", n.name, body)
			}
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: /readyz %v: fanout not %q in time\n%s", n.name, body, state, n.logs())
		}
		time.Sleep(pollEvery)
	}
}

// metric reads one unlabelled value from the node's /metrics.
func (n *clusterNode) metric(name string) (float64, bool) {
	n.t.Helper()
	r, err := sendTo(clusterHTTP, n.ops+"/metrics", "GET", "")
	if err != nil || r.status != http.StatusOK {
		n.t.Fatalf("%s: /metrics: %d %v", n.name, r.status, err)
	}
	sc := bufio.NewScanner(strings.NewReader(r.body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// redisServer is a redis-server of the test's own on a loopback port,
// which the test may kill and start again on the same port.
type redisServer struct {
	t    *testing.T
	bin  string
	dir  string
	port int

	cmd  *exec.Cmd
	done chan struct{}
	out  logBuffer
}

// startRedis starts a redis-server without persistence. Without the
// program the test skips, or fails under GATEHOUSE_TEST_REQUIRE_ALL=1.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not installed: the cluster test needs a Redis it can stop and restart"
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	r := &redisServer{t: t, bin: bin, dir: t.TempDir()}
	// A port below the ephemeral range, so that while Redis is down no
	// outgoing connection is given it and the restart can bind it again.
	for range 100 {
		p := 20000 + mathrand.IntN(12000)
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			l.Close()
			r.port = p
			break
		}
	}
	if r.port == 0 {
		t.Fatal("no free loopback port for redis-server")
	}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start runs redis-server on its port and waits until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan struct{})
	r.done = done
	go func(cmd *exec.Cmd) {
		cmd.Wait()
		close(done)
	}(r.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := r.ping(); err == nil {
			return
		} else if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not answer on port %d: %v\n%s", r.port, err, r.out.String())
		}
		select {
		case <-done:
			r.t.Fatalf("redis-server exited:\n%s", r.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *redisServer) ping() error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("redis answered " + strings.TrimSpace(line))
	}
	return nil
}

// kill ends redis-server with SIGKILL (an outage, not a shutdown). It is
// safe to call when it is not running.
func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	select {
	case <-r.done:
	default:
		r.cmd.Process.Kill()
		<-r.done
	}
}

// The measurement below produces the figures of docs/deployment.md. It is
// not a check and takes about two minutes, so it runs only when asked:
//
//	GATEHOUSE_MEASURE=1 GATEHOUSE_TEST_POSTGRES=… go test -count=1 -run ClusterMeasure -v ./e2e/
//
// Everything runs on one machine: the load generator (this process), the
// nodes, PostgreSQL and Redis share its cores, so the request rates are
// those of the whole stack on that machine; the CPU time each part spent
// per request is what sizing is derived from.
func TestBinaryClusterMeasure(t *testing.T) {
	if os.Getenv("GATEHOUSE_MEASURE") != "1" {
		t.Skip("set GATEHOUSE_MEASURE=1 to measure throughput for docs/deployment.md")
	}
	bin := buildBinary(t)
	dsn := testpg.FreshSchema(t)
	rds := startRedis(t)
	env := clusterEnv(t, dsn, rds.url(),
		// Throughput, not abuse protection, is measured: a few addresses
		// sign in many times.
		"GATEHOUSE_RATE_LIMITS=sign_in.per_ip=off;sign_in.per_identifier=off",
		"GATEHOUSE_SECURITY_NOTIFICATIONS=none",
		"GATEHOUSE_LOG_LEVEL=warn", // no access log line per request
	)
	a, b := launchNode(t, bin, "A", env), launchNode(t, bin, "B", env)
	a.await()
	b.await()
	a.waitFanOut("up", time.Now().Add(5*time.Second))
	b.waitFanOut("up", time.Now().Add(5*time.Second))
	t.Logf("machine: %d CPUs (GOMAXPROCS %d), %s, %s; load average %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), memTotal(), loadAverage())
	defer func() { t.Logf("load average at the end: %s", loadAverage()) }()

	const users = 8
	var sessions []session
	for i := range users {
		sessions = append(sessions, signUp(t, a, fmt.Sprintf("m%d@example.com", i)))
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := &measurer{t: t, redis: rds, db: db}
	one, two := []*clusterNode{a}, []*clusterNode{a, b}
	healthz := func(n *clusterNode, i int) (reply, error) { return n.send("GET", "/healthz", "") }
	check := func(n *clusterNode, i int) (reply, error) {
		return n.send("GET", "/auth/api/session", "", sessions[i%users].creds()...)
	}
	signIn := func(n *clusterNode, i int) (reply, error) {
		s := sessions[i%users]
		return n.send("POST", "/auth/api/sign-in", fmt.Sprintf(`{"email":%q,"password":%q}`, s.email, clusterPassword), "Content-Type", "application/json", "X-Forwarded-For", s.ip)
	}
	for _, clients := range []int{1, 8, 32} {
		m.load(fmt.Sprintf("healthz (no auth), 1 node, %2d clients", clients), one, clients, healthz)
	}
	for _, nodes := range [][]*clusterNode{one, two} {
		for _, clients := range []int{1, 8, 32} {
			m.load(fmt.Sprintf("session check, %d node(s), %2d clients", len(nodes), clients), nodes, clients, check)
		}
	}
	for _, nodes := range [][]*clusterNode{one, two} {
		for _, clients := range []int{1, 4, 16} {
			m.load(fmt.Sprintf("sign-in, %d node(s), %2d clients", len(nodes), clients), nodes, clients, signIn)
		}
	}
	// With Redis down every session check reads PostgreSQL: what the
	// database must absorb during an outage.
	rds.kill()
	a.waitFanOut("down", time.Now().Add(5*time.Second))
	b.waitFanOut("down", time.Now().Add(5*time.Second))
	for _, nodes := range [][]*clusterNode{one, two} {
		for _, clients := range []int{8, 32} {
			m.load(fmt.Sprintf("session check, fan-out down, %d node(s), %2d clients", len(nodes), clients), nodes, clients, check)
		}
	}
	rds.start()
}

// measurer runs closed-loop loads and logs what they achieved.
type measurer struct {
	t     *testing.T
	redis *redisServer
	db    *sql.DB // the test server, for its connection count
}

// loadDuration is how long each load runs.
const loadDuration = 5 * time.Second

// load runs a closed loop: clients goroutines, each sending one request to
// nodes[client % len(nodes)] as soon as its previous one is answered, for
// loadDuration. It logs requests per second, latency percentiles, the
// answers other than 200 (503 from the hashing pool, for example), the CPU
// time per request of the nodes, PostgreSQL (all its processes, exited
// backends included), Redis and the load generator itself, what one core
// of node CPU serves at that cost, and how many connections PostgreSQL
// accepted meanwhile.
func (m *measurer) load(what string, nodes []*clusterNode, clients int, do func(n *clusterNode, i int) (reply, error)) {
	t := m.t
	t.Helper()
	var nodePIDs []int
	for _, n := range nodes {
		nodePIDs = append(nodePIDs, n.cmd.Process.Pid)
	}
	var redisPIDs []int
	if m.redis.cmd != nil && m.redis.cmd.Process != nil {
		redisPIDs = []int{m.redis.cmd.Process.Pid}
	}
	sample := func() [4]time.Duration {
		return [4]time.Duration{cpuOf(nodePIDs, false), cpuOf(postgresPIDs(), true), cpuOf(redisPIDs, false), cpuOf([]int{os.Getpid()}, false)}
	}
	conns0 := m.pgSessions()
	before := sample()
	var (
		mu     sync.Mutex
		all    []time.Duration
		others = map[int]int{}
		wg     sync.WaitGroup
	)
	began := time.Now()
	stopAt := began.Add(loadDuration)
	for i := range clients {
		wg.Go(func() {
			n := nodes[i%len(nodes)]
			var mine []time.Duration
			mineOthers := map[int]int{}
			for k := 0; time.Now().Before(stopAt); k++ {
				t0 := time.Now()
				r, err := do(n, i+k*clients)
				mine = append(mine, time.Since(t0))
				switch {
				case err != nil:
					mineOthers[-1]++
				case r.status != http.StatusOK:
					mineOthers[r.status]++
				}
			}
			mu.Lock()
			all = append(all, mine...)
			for k, v := range mineOthers {
				others[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	after := sample()
	conns := m.pgSessions() - conns0
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(float64(len(all))*p))]
	}
	n := float64(max(len(all), 1))
	per := func(i int) float64 { return ms(after[i]-before[i]) / n }
	t.Logf("%-48s %6.0f req/s  p50 %7.2f ms  p99 %7.2f ms  non-200 %v  CPU ms/req: nodes %.3f (%.0f req/s per node core), postgres %.3f, redis %.3f, load generator %.3f; new PostgreSQL connections %d",
		what+":", n/elapsed.Seconds(), ms(pct(0.50)), ms(pct(0.99)), others,
		per(0), 1000/max(per(0), 0.001), per(1), per(2), per(3), conns)
}

// pgSessions is how many connections the test database has accepted
// since its statistics were reset (PostgreSQL 14+; -1 when unknown).
func (m *measurer) pgSessions() int64 {
	var n int64
	if err := m.db.QueryRow(`SELECT sessions FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		return -1
	}
	return n
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuOf is the user+system CPU time the processes used so far, with that
// of their exited children when children is set (PostgreSQL's backends are
// children of its postmaster, which reaps them). It reads Linux's /proc;
// processes that cannot be read count nothing.
func cpuOf(pids []int, children bool) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// After the command name in parentheses, utime, stime, cutime and
		// cstime are the 12th to 15th fields, in clock ticks (USER_HZ, 100
		// on Linux).
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 15 {
			continue
		}
		last := 12
		if children {
			last = 14
		}
		for _, f := range fields[11 : last+1] {
			v, _ := strconv.ParseInt(f, 10, 64)
			total += time.Duration(v) * 10 * time.Millisecond
		}
	}
	return total
}

// postgresPIDs lists the machine's PostgreSQL processes (server and
// backends), to charge the database's CPU to the load.
func postgresPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.HasPrefix(string(comm), "postgres") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown memory"
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.Join(strings.Fields(first)[1:], " ") + " RAM"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
