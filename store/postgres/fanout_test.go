package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authtest"
	"github.com/gatehouse-auth/gatehouse/internal/testpg"
	"github.com/gatehouse-auth/gatehouse/store/postgres"
)

// newFanOut opens a FanOut on dsn, closed when the test ends.
func newFanOut(t *testing.T, dsn string) *postgres.FanOut {
	t.Helper()
	f, err := postgres.NewFanOut(dsn)
	if err != nil {
		t.Fatalf("NewFanOut: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
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
func (r *recorder) next(t *testing.T, want gatehouse.Invalidation, within time.Duration) {
	t.Helper()
	select {
	case got := <-r.invs:
		if got != want {
			t.Fatalf("delivered %+v, want %+v", got, want)
		}
	case <-time.After(within):
		t.Fatalf("%+v not delivered within %v", want, within)
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

func session(id string) gatehouse.Invalidation {
	return gatehouse.Invalidation{Kind: gatehouse.InvalidateSession, ID: id}
}

// rawConn is a plain connection on dsn, closed when the test ends.
func rawConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// channelOf computes the deployment's channel the documented way, pinning
// it: nodes of two Gatehouse versions must agree on it during an upgrade.
func channelOf(t *testing.T, c *pgx.Conn) string {
	t.Helper()
	var schema string
	if err := c.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(schema))
	return "gatehouse_" + hex.EncodeToString(sum[:])[:16]
}

func notify(t *testing.T, c *pgx.Conn, channel, payload string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		t.Fatalf("pg_notify: %v", err)
	}
}

func TestFanOutDeliversBetweenNodes(t *testing.T) {
	t.Parallel()
	dsn := testpg.FreshSchema(t)
	a, b := newFanOut(t, dsn), newFanOut(t, dsn)
	ra, rb := listen(t, a), listen(t, b)
	ra.waitUp(t, true, time.Now(), 3*time.Second)
	rb.waitUp(t, true, time.Now(), 3*time.Second)

	// A raw listener pins the channel and the wire format.
	raw := rawConn(t, dsn)
	if _, err := raw.Exec(context.Background(), `LISTEN `+pgx.Identifier{channelOf(t, raw)}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		inv  gatehouse.Invalidation
		wire string
	}{
		{session("ses_1"), `{"v":1,"k":"session","id":"ses_1"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateUser, ID: "usr_1"}, `{"v":1,"k":"user","id":"usr_1"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}, `{"v":1,"k":"all"}`},
		{gatehouse.Invalidation{Kind: gatehouse.InvalidateKeys}, `{"v":1,"k":"keys"}`},
	} {
		start := time.Now()
		publish(t, b, tc.inv)
		ra.next(t, tc.inv, time.Second)
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("%s: delivered after %v, want < 200ms", tc.inv.Kind, d)
		} else {
			t.Logf("%s: publish to delivery %v", tc.inv.Kind, d)
		}
		rb.next(t, tc.inv, time.Second) // the publisher hears itself too
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		n, err := raw.WaitForNotification(ctx)
		cancel()
		if err != nil {
			t.Fatalf("raw listener: %v", err)
		}
		if n.Payload != tc.wire {
			t.Errorf("on the wire: %s, want %s", n.Payload, tc.wire)
		}
	}
	ra.quiet(t)
	if st := a.Stats(); st.Delivered != 4 || st.Malformed != 0 || st.Unknown != 0 || st.Outages != 0 {
		t.Errorf("stats %+v", st)
	}
	for _, inv := range []gatehouse.Invalidation{
		{Kind: gatehouse.InvalidateSession},
		{Kind: "org", ID: "org_1"},
		{Kind: gatehouse.InvalidateSession, ID: strings.Repeat("x", 1024)},
	} {
		if err := b.Publish(context.Background(), inv); err == nil {
			t.Errorf("Publish(%+v) succeeded", inv)
		}
	}
}

func TestFanOutIgnoresMalformedMessages(t *testing.T) {
	t.Parallel()
	dsn := testpg.FreshSchema(t)
	f := newFanOut(t, dsn)
	r := listen(t, f)
	r.waitUp(t, true, time.Now(), 3*time.Second)
	raw := rawConn(t, dsn)
	ch := channelOf(t, raw)
	for _, p := range []string{
		"not json",
		"",
		`{"v":1,"k":"session","id":"ses_big","pad":"` + strings.Repeat("x", 1024) + `"}`,
		`{"k":"session","id":"ses_1"}`,   // no version
		`{"v":"1","k":"all"}`,            // not a number
		`{"v":1,"k":"session"}`,          // no id
		`{"v":1,"id":"ses_1"}`,           // no kind
		`{"v":1,"k":"all"} trailing`,     // not one value
		`{"v":1,"k":["session"],"id":1}`, // wrong types
	} {
		notify(t, raw, ch, p)
	}
	// From a newer Gatehouse: what they invalidate is unknown, so
	// everything is.
	notify(t, raw, ch, `{"v":1,"k":"organization","id":"org_1"}`)
	notify(t, raw, ch, `{"v":2,"kind":{"session":"ses_1"}}`)
	notify(t, raw, ch, `{"v":1,"k":"session","id":"ses_ok","new_field":true}`)

	all := gatehouse.Invalidation{Kind: gatehouse.InvalidateAll}
	r.next(t, all, time.Second)
	r.next(t, all, time.Second)
	r.next(t, session("ses_ok"), time.Second)
	r.quiet(t)
	if st := f.Stats(); st.Malformed != 9 || st.Unknown != 2 || st.Delivered != 3 {
		t.Errorf("stats %+v, want 9 malformed, 2 unknown, 3 delivered", st)
	}
}

// Deployments (and parallel tests) in other schemas of one database do
// not hear each other.
func TestFanOutSchemasDoNotHearEachOther(t *testing.T) {
	t.Parallel()
	f1 := newFanOut(t, testpg.FreshSchema(t))
	f2 := newFanOut(t, testpg.FreshSchema(t))
	r1, r2 := listen(t, f1), listen(t, f2)
	r1.waitUp(t, true, time.Now(), 3*time.Second)
	r2.waitUp(t, true, time.Now(), 3*time.Second)
	publish(t, f1, session("ses_one"))
	publish(t, f2, session("ses_two"))
	// Notifications reach a listener in commit order: had schema 2 heard
	// schema 1, it would have heard it first.
	r2.next(t, session("ses_two"), time.Second)
	r1.next(t, session("ses_one"), time.Second)
	r1.quiet(t)
	r2.quiet(t)
}

// withParams returns the URL dsn with its query parameters set.
func withParams(t *testing.T, dsn string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skip("this test needs GATEHOUSE_TEST_POSTGRES as a postgres:// URL")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// A listener whose backend dies (here terminated by an administrator)
// reports the channel down at once, reconnects and delivers again.
func TestFanOutListenerBackendKilled(t *testing.T) {
	t.Parallel()
	dsn := testpg.FreshSchema(t)
	app := "gatehouse_fanout_" + strings.ToLower(rand.Text()[:12])
	listener := newFanOut(t, withParams(t, dsn, map[string]string{"application_name": app}))
	publisher := newFanOut(t, dsn)
	r := listen(t, listener)
	r.waitUp(t, true, time.Now(), 3*time.Second)
	publish(t, publisher, session("ses_before"))
	r.next(t, session("ses_before"), time.Second)

	admin := rawConn(t, dsn)
	at := time.Now()
	var killed int
	if err := admin.QueryRow(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d backends, want the listener's one", killed)
	}
	t.Logf("terminated: down after %v", r.waitUp(t, false, at, downWithin))
	t.Logf("reconnected: up after %v", r.waitUp(t, true, at, 3*time.Second))
	publish(t, publisher, session("ses_after"))
	r.next(t, session("ses_after"), time.Second)
	r.quiet(t)
	if st := listener.Stats(); st.Outages != 1 || st.LastError == nil {
		t.Errorf("stats %+v, want 1 outage and an error", st)
	}
}

// A connection that goes silent — the socket stays open, nothing comes
// back, as in a network partition or a frozen server — is noticed by the
// pings within a second.
func TestFanOutSilentConnection(t *testing.T) {
	t.Parallel()
	dsn := testpg.FreshSchema(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skip("this test needs GATEHOUSE_TEST_POSTGRES as a postgres:// URL with a host")
	}
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	listener := newFanOut(t, u.String())
	publisher := newFanOut(t, dsn)
	r := listen(t, listener)
	r.waitUp(t, true, time.Now(), 3*time.Second)

	at := time.Now()
	p.freeze()
	t.Logf("silenced: down after %v", r.waitUp(t, false, at, downWithin))
	// Published while the listener is cut off: lost, which the up(false)
	// told the Auth.
	publish(t, publisher, session("ses_lost"))
	// Publish is bounded by its context, even through a silent network.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	err = newFanOut(t, u.String()).Publish(ctx, session("ses_stuck"))
	cancel()
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish through a silent network: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Publish with a 200ms context returned after %v", d)
	}
	at = time.Now()
	p.thaw()
	t.Logf("restored: up after %v", r.waitUp(t, true, at, 4*time.Second))
	publish(t, publisher, session("ses_after"))
	r.next(t, session("ses_after"), time.Second)
	r.quiet(t)
}

// proxy forwards TCP connections to a server until frozen; a frozen proxy
// keeps every connection open and drops whatever is sent either way.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// thaw forwards again; connections open while frozen lost bytes, so they
// are closed.
func (p *proxy) thaw() {
	p.mu.Lock()
	p.frozen = false
	p.mu.Unlock()
	p.closeAll()
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, c) })
		p.wg.Go(func() { p.pipe(c, up) })
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isFrozen() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// The invariant the fan-out exists for: a session revoked on one node is
// refused by every other within a second, though they had it cached.
func TestRevocationReachesOtherNodes(t *testing.T) {
	t.Parallel()
	dsn := testpg.FreshSchema(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	sa, sb := open(), open()
	if err := sa.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	a := authtest.NewWithStore(t, sa, gatehouse.Config{}, gatehouse.WithFanOut(newFanOut(t, dsn)))
	b := authtest.NewWithStore(t, sb, gatehouse.Config{}, gatehouse.WithFanOut(newFanOut(t, dsn)))
	// A node without the fan-out shows that the session really is cached:
	// it keeps answering from its cache after the revocation.
	lone := authtest.NewWithStore(t, sb, gatehouse.Config{})

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
	if _, err := lone.Authenticate(ctx, res.Token); err != nil {
		t.Errorf("the node without fan-out no longer answers from its cache (%v): this test proves nothing", err)
	}
	if st := b.FanOutStats(); st.Received == 0 {
		t.Errorf("b's fan-out stats %+v: nothing received", st)
	}
}
