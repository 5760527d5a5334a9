package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// sharedRedis returns the shared test server's URL, skipping (or, under
// GATEHOUSE_TEST_REQUIRE_ALL=1, failing) the test without one.
func sharedRedis(t *testing.T) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		const msg = "set GATEHOUSE_TEST_REDIS to a redis:// URL (for example redis://127.0.0.1:6379/0) to run the Redis tests"
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return u
}

// uniquePrefix is a deployment prefix of the test's own: the server is
// shared. Pub/sub leaves no keys behind.
func uniquePrefix() string {
	return "gatehouse-test:" + strings.ToLower(rand.Text()[:16]) + ":"
}

// nodeClient opens a client the way a node does (redis.Open), closed when
// the test ends.
func nodeClient(t *testing.T, rawURL string) *goredis.Client {
	t.Helper()
	l, err := redis.Open(context.Background(), redis.Options{URL: rawURL, Fallback: gatehouse.NewMemoryLimiter(0, nil)})
	if err != nil {
		t.Fatalf("redis.Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Client()
}

// recorder collects what Listen calls.
type recorder struct {
	invs chan gatehouse.Invalidation
	ups  chan upEvent

	mu    sync.Mutex
	state bool // the last up() value
}

// downWithin bounds the detection of an outage: a second by design, with
// slack for a loaded test machine.
const downWithin = 1500 * time.Millisecond

type upEvent struct {
	up bool
	at time.Time
}

// listen runs f.Listen until the test ends, then checks that it returns
// promptly.
func listen(t *testing.T, f gatehouse.FanOut) *recorder {
	t.Helper()
	r := &recorder{invs: make(chan gatehouse.Invalidation, 256), ups: make(chan upEvent, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Listen(ctx, func(inv gatehouse.Invalidation) { r.invs <- inv }, func(up bool) {
			r.mu.Lock()
			if up == r.state {
				t.Errorf("up(%v) twice in a row", up)
			}
			r.state = up
			r.mu.Unlock()
			r.ups <- upEvent{up, time.Now()}
		})
	}()
	t.Cleanup(func() {
		cancel()
		start := time.Now()
		select {
		case <-done:
			if d := time.Since(start); d > time.Second {
				t.Errorf("Listen returned %v after its context ended", d)
			}
		case <-time.After(5 * time.Second):
			t.Error("Listen did not return within 5s of its context's end")
		}
	})
	return r
}

// waitUp waits for up(want), which must come within of since, and
// returns when it came after since.
func (r *recorder) waitUp(t *testing.T, want bool, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	select {
	case got := <-r.ups:
		if got.up != want {
			t.Fatalf("up(%v), want up(%v)", got.up, want)
		}
		d := got.at.Sub(since)
		if d > within {
			t.Fatalf("up(%v) after %v, want within %v", want, d, within)
		}
		return d
	case <-time.After(time.Until(since.Add(within))):
		t.Fatalf("no up(%v) within %v", want, within)
		return 0
	}
}

// next waits for the next invalidation, which must be want.
func (r *recorder) next(t *testing.T, want gatehouse.Invalidation, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case got := <-r.invs:
		if got != want {
			t.Fatalf("delivered %+v, want %+v", got, want)
		}
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("%+v not delivered within %v", want, within)
		return 0
	}
}

// quiet checks that nothing more was delivered.
func (r *recorder) quiet(t *testing.T) {
	t.Helper()
	select {
	case got := <-r.invs:
		t.Fatalf("unexpected delivery %+v", got)
	default:
	}
}

func publish(t *testing.T, f gatehouse.FanOut, inv gatehouse.Invalidation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := f.Publish(ctx, inv); err != nil {
		t.Fatalf("Publish(%+v): %v", inv, err)
	}
}

func TestFanOutDeliversBetweenNodes(t *testing.T) {
	rawURL := sharedRedis(t)
	prefix := uniquePrefix()
	a := redis.NewFanOut(nodeClient(t, rawURL), prefix)
	b := redis.NewFanOut(nodeClient(t, rawURL), prefix)
	ra, rb := listen(t, a), listen(t, b)
	ra.waitUp(t, true, time.Now(), 2*time.Second)
	rb.waitUp(t, true, time.Now(), 2*time.Second)

	// A raw subscriber pins the wire format: other versions of Gatehouse
	// read and write these bytes during a rolling upgrade.
	raw := nodeClient(t, rawURL).Subscribe(context.Background(), prefix+"invalidate")
	t.Cleanup(func() { raw.Close() })
	if _, err := raw.ReceiveTimeout(context.Background(), 2*time.Second); err != nil {
		t.Fatalf("raw subscribe: %v", err)
	}

	for _, tc := range []struct {
		inv  gatehouse.Invalidation
		wire string
	}{
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: "ses_1"}, `{"v":1,"k":"session","id":"ses_1"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateUser, ID: "usr_1"}, `{"v":1,"k":"user","id":"usr_1"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}, `{"v":1,"k":"all"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateKeys}, `{"v":1,"k":"keys"}`},
	} {
		start := time.Now()
		publish(t, b, tc.inv)
		ra.next(t, tc.inv, time.Second)
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("%s: delivered after %v, want < 100ms", tc.inv.Kind, d)
		} else {
			t.Logf("%s: publish to delivery %v", tc.inv.Kind, d)
		}
		rb.next(t, tc.inv, time.Second) // the publisher hears itself too
		msg, err := raw.ReceiveTimeout(context.Background(), time.Second)
		if err != nil {
			t.Fatalf("raw receive: %v", err)
		}
		if m, ok := msg.(*goredis.Message); !ok || m.Payload != tc.wire {
			t.Errorf("on the wire: %v, want %s", msg, tc.wire)
		}
	}
	ra.quiet(t)
	if st := a.Stats(); st.Delivered != 4 || st.Malformed != 0 || st.Unknown != 0 || st.Outages != 0 {
		t.Errorf("stats %+v", st)
	}

	for _, inv := range []gatehouse.Invalidation{
		{Kind: gatehouse.InvalidateSession},
		{Kind: gatehouse.InvalidateUser},
		{Kind: "org", ID: "org_1"},
		{Kind: gatehouse.InvalidateSession, ID: strings.Repeat("x", 1024)},
	} {
		if err := b.Publish(context.Background(), inv); err == nil {
			t.Errorf("Publish(%+v) succeeded", inv)
		}
	}
}

func TestFanOutIgnoresMalformedMessages(t *testing.T) {
	rawURL := sharedRedis(t)
	prefix := uniquePrefix()
	f := redis.NewFanOut(nodeClient(t, rawURL), prefix)
	r := listen(t, f)
	r.waitUp(t, true, time.Now(), 2*time.Second)
	admin := nodeClient(t, rawURL)
	send := func(payload string) {
		t.Helper()
		if err := admin.Publish(context.Background(), prefix+"invalidate", payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{
		"not json",
		"",
		`{"v":1,"k":"session","id":"ses_big","pad":"` + strings.Repeat("x", 1024) + `"}`,
		`{"k":"session","id":"ses_1"}`,   // no version
		`{"v":0,"k":"all"}`,              // no version either
		`{"v":"1","k":"all"}`,            // not a number
		`{"v":1,"k":"session"}`,          // no id
		`{"v":1,"id":"ses_1"}`,           // no kind
		`{"v":1,"k":"user","id":""}`,     // empty id
		`[{"v":1,"k":"all"}]`,            // not an object
		`{"v":1,"k":"all"} trailing`,     // not one value
		`{"v":1,"k":["session"],"id":1}`, // wrong types
	} {
		send(p)
	}
	// From a newer Gatehouse: what they invalidate is unknown, so
	// everything is.
	send(`{"v":1,"k":"organization","id":"org_1"}`)
	send(`{"v":2,"kind":{"session":"ses_1"}}`)
	send(`{"v":1,"k":"session","id":"ses_ok","new_field":true}`)

	all := gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	r.next(t, all, time.Second)
	r.next(t, all, time.Second)
	r.next(t, gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: "ses_ok"}, time.Second)
	r.quiet(t)
	if st := f.Stats(); st.Malformed != 12 || st.Unknown != 2 || st.Delivered != 3 {
		t.Errorf("stats %+v, want 12 malformed, 2 unknown, 3 delivered", st)
	}
}

func TestFanOutDeploymentsDoNotHearEachOther(t *testing.T) {
	rawURL := sharedRedis(t)
	p1, p2 := uniquePrefix(), uniquePrefix()
	f1 := redis.NewFanOut(nodeClient(t, rawURL), p1)
	f2 := redis.NewFanOut(nodeClient(t, rawURL), p2)
	r1, r2 := listen(t, f1), listen(t, f2)
	r1.waitUp(t, true, time.Now(), 2*time.Second)
	r2.waitUp(t, true, time.Now(), 2*time.Second)

	one := gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: "ses_one"}
	two := gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: "ses_two"}
	publish(t, f1, one)
	publish(t, f2, two)
	// One server delivers in publishing order: had deployment 2 heard
	// deployment 1, it would have heard it first.
	r2.next(t, two, time.Second)
	r1.next(t, one, time.Second)
	r1.quiet(t)
	r2.quiet(t)
}

// privateRedis is a redis-server of the test's own, to kill and freeze.
type privateRedis struct {
	t    *testing.T
	path string
	port int
	cmd  *exec.Cmd
	out  bytes.Buffer
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server is not installed: skipping the Redis outage tests"
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &privateRedis{t: t, path: path, port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			s.kill()
		}
	})
	return s
}

func (s *privateRedis) url() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

// start runs the server and waits until it answers PING.
func (s *privateRedis) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.path, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d does not answer: %v\n%s", s.port, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the server with SIGKILL: no goodbye to its clients.
func (s *privateRedis) kill() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *privateRedis) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// An outage is reported within a second, whether Redis dies (the socket
// closes) or freezes (the socket stays open and nothing comes back: only
// the pings notice), and the channel comes back by itself.
func TestFanOutOutageAndRecovery(t *testing.T) {
	srv := startPrivateRedis(t)
	prefix := uniquePrefix()
	listener := redis.NewFanOut(nodeClient(t, srv.url()), prefix)
	publisher := redis.NewFanOut(nodeClient(t, srv.url()), prefix)
	r := listen(t, listener)
	r.waitUp(t, true, time.Now(), 2*time.Second)
	inv := func(id string) gatehouse.Invalidation {
		return gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: id}
	}
	publish(t, publisher, inv("ses_before"))
	r.next(t, inv("ses_before"), time.Second)

	at := time.Now()
	srv.kill()
	t.Logf("killed: down after %v", r.waitUp(t, false, at, downWithin))
	at = time.Now()
	srv.start()
	t.Logf("restarted: up after %v", r.waitUp(t, true, at, 3*time.Second))
	publish(t, publisher, inv("ses_after_restart"))
	r.next(t, inv("ses_after_restart"), time.Second)

	at = time.Now()
	srv.signal(syscall.SIGSTOP)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			srv.signal(syscall.SIGCONT)
		}
	})
	t.Logf("frozen: down after %v", r.waitUp(t, false, at, downWithin))
	// Publish is bounded by its context, even against a frozen server.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	err := publisher.Publish(ctx, inv("ses_lost"))
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish to a frozen server: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Publish with a 200ms context returned after %v", d)
	}
	at = time.Now()
	srv.signal(syscall.SIGCONT)
	stopped = false
	t.Logf("thawed: up after %v", r.waitUp(t, true, at, 5*time.Second))
	publish(t, publisher, inv("ses_after_thaw"))
	r.next(t, inv("ses_after_thaw"), time.Second)
	r.quiet(t)
	if st := listener.Stats(); st.Outages != 2 || st.LastError == nil {
		t.Errorf("stats %+v, want 2 outages and an error", st)
	}
}

// The invariant the fan-out exists for: a session revoked on one node is
// refused by every other within a second, though they had it cached.
func TestRevocationReachesOtherNodes(t *testing.T) {
	rawURL := sharedRedis(t)
	prefix := uniquePrefix()
	store := authtest.Store(t)
	a := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithFanOut(redis.NewFanOut(nodeClient(t, rawURL), prefix)))
	b := authtest.NewWithStore(t, store, gatehouse.Config{}, gatehouse.WithFanOut(redis.NewFanOut(nodeClient(t, rawURL), prefix)))
	// A node without the fan-out shows that the session really is cached:
	// it keeps answering from its cache after the revocation.
	lone := authtest.NewWithStore(t, store, gatehouse.Config{})
	revokeAndWatch(t, a, b, lone)
}

// revokeAndWatch signs a user in on a, has b and lone cache the session,
// revokes it on a, and checks that b refuses it within a second while
// lone, without a fan-out, still accepts it from its cache.
func revokeAndWatch(t *testing.T, a, b, lone *gatehouse.Auth) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Second)
	for !a.FanOutStats().Up || !b.FanOutStats().Up {
		if time.Now().After(deadline) {
			t.Fatalf("fan-out not up: a %+v, b %+v", a.FanOutStats(), b.FanOutStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, err := a.SignUp(ctx, gatehouse.SignUpInput{Email: "ada@example.com", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	if res.Token == "" {
		t.Fatalf("SignUp: no session (%+v)", res.Status)
	}
	if _, err := b.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("b.Authenticate: %v", err)
	}
	if _, err := lone.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("lone.Authenticate: %v", err)
	}
	p, err := a.Authenticate(ctx, res.Token)
	if err != nil {
		t.Fatalf("a.Authenticate: %v", err)
	}
	if err := a.SignOut(ctx, p); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	revoked := time.Now()
	for {
		_, err := b.Authenticate(ctx, res.Token)
		if err != nil {
			var e *gatehouse.Error
			if !errors.As(err, &e) || e.Code != gatehouse.CodeUnauthenticated {
				t.Fatalf("b.Authenticate after revocation: %v, want unauthenticated", err)
			}
			break
		}
		if time.Since(revoked) > time.Second {
			t.Fatal("node b still accepts the session a second after its revocation on node a")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("node b refused the revoked session %v after the revocation on node a", time.Since(revoked))
	if _, err := a.Authenticate(ctx, res.Token); err == nil {
		t.Error("node a still accepts the session it revoked")
	}
	if _, err := lone.Authenticate(ctx, res.Token); err != nil {
		t.Errorf("the node without fan-out no longer answers from its cache (%v): this test proves nothing", err)
	}
	if st := b.FanOutStats(); st.Received == 0 {
		t.Errorf("b's fan-out stats %+v: nothing received", st)
	}
}
