package redis

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// open opens a Limiter on rawURL with the test's prefix, closed when the
// test ends.
func open(t *testing.T, o Options) *Limiter {
	t.Helper()
	l, err := Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func allow(t *testing.T, l *Limiter, key string, r gatehouse.Rate) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := l.Allow(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Allow(%q, %+v): %v", key, r, err)
	}
	return ok, retry
}

func TestBurstIsExactAcrossNodes(t *testing.T) {
	rawURL := testURL(t)
	prefix := testPrefix(t, rawURL)
	fb := newFallback()
	log, logs := newLogger()
	// A generous timeout: this test is about atomicity, not latency, and
	// a call that fell back would count against another limiter.
	o := Options{URL: rawURL, Prefix: prefix, Fallback: fb, Logger: log, Timeout: 10 * time.Second}
	nodes := []*Limiter{open(t, o), open(t, o)}
	r := gatehouse.Rate{Limit: 10, Period: time.Hour, Burst: 10}

	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		wg.Go(func() {
			<-start
			ok, _, err := nodes[i%2].Allow(context.Background(), "hot", r)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Errorf("%d of 200 concurrent requests allowed; want exactly 10", got)
	}
	if n := fb.calls.Load(); n != 0 {
		t.Errorf("the fallback answered %d calls; logs:\n%s", n, logs)
	}
}

func TestRefillAfterInterval(t *testing.T) {
	rawURL := testURL(t)
	l := open(t, Options{URL: rawURL, Prefix: testPrefix(t, rawURL), Fallback: newFallback(), Timeout: 5 * time.Second})
	r := gatehouse.Rate{Limit: 10, Period: time.Second, Burst: 1} // one per 100ms

	if ok, _ := allow(t, l, "k", r); !ok {
		t.Fatal("first request denied")
	}
	ok, retry := allow(t, l, "k", r)
	if ok || retry <= 0 || retry > 100*time.Millisecond {
		t.Fatalf("second request: allowed %v, retryAfter %v; want denied, within 100ms", ok, retry)
	}
	time.Sleep(retry + 5*time.Millisecond)
	if ok, retry := allow(t, l, "k", r); !ok {
		t.Fatalf("after retryAfter: denied, retryAfter %v", retry)
	}
	if ok, _ := allow(t, l, "k", r); ok {
		t.Fatal("one past the refill: allowed")
	}
}

func TestRetryAfter(t *testing.T) {
	rawURL := testURL(t)
	l := open(t, Options{URL: rawURL, Prefix: testPrefix(t, rawURL), Fallback: newFallback(), Timeout: 5 * time.Second})
	r := gatehouse.Rate{Limit: 2, Period: time.Minute} // Burst 0 = 2; one per 30s

	for i := range 2 {
		if ok, _ := allow(t, l, "k", r); !ok {
			t.Fatalf("request %d of the burst denied", i+1)
		}
	}
	ok, retry := allow(t, l, "k", r)
	if ok || retry > 30*time.Second || retry < 29*time.Second {
		t.Fatalf("after the burst: allowed %v, retryAfter %v; want denied, ≈30s", ok, retry)
	}
	// Denied requests do not push the limit further out.
	ok, retry2 := allow(t, l, "k", r)
	if ok || retry2 > retry {
		t.Fatalf("again: allowed %v, retryAfter %v; want denied, at most %v", ok, retry2, retry)
	}
	// Keys are independent.
	if ok, _ := allow(t, l, "other", r); !ok {
		t.Fatal("another key denied")
	}
}

func TestKeysExpire(t *testing.T) {
	rawURL := testURL(t)
	prefix := testPrefix(t, rawURL)
	admin := adminClient(t, rawURL)
	ctx := context.Background()
	l := open(t, Options{URL: rawURL, Prefix: prefix, Fallback: newFallback(), Timeout: 5 * time.Second})

	r := gatehouse.Rate{Limit: 5, Period: time.Minute} // one per 12s
	allow(t, l, "k", r)
	key := prefix + limitSpace + "k"
	pttl, err := admin.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= 11*time.Second || pttl > 12*time.Second {
		t.Errorf("PTTL after one request = %v; want ≈12s (one interval)", pttl)
	}
	for range 4 {
		allow(t, l, "k", r)
	}
	if pttl, _ = admin.PTTL(ctx, key).Result(); pttl <= 59*time.Second || pttl > time.Minute {
		t.Errorf("PTTL after the burst = %v; want ≈1m (the whole tolerance)", pttl)
	}

	// A short limit lapses, and its key with it.
	fast := gatehouse.Rate{Limit: 20, Period: time.Second, Burst: 1} // 50ms
	allow(t, l, "fast", fast)
	if n, _ := admin.Exists(ctx, prefix+limitSpace+"fast").Result(); n != 1 {
		t.Fatal("key not written")
	}
	time.Sleep(150 * time.Millisecond)
	if n, _ := admin.Exists(ctx, prefix+limitSpace+"fast").Result(); n != 0 {
		t.Error("the key outlived its limit")
	}
	if ok, _ := allow(t, l, "fast", fast); !ok {
		t.Error("a lapsed key is denied")
	}
}

func TestDefaultsAndClient(t *testing.T) {
	rawURL := testURL(t)
	l := open(t, Options{URL: rawURL, Fallback: newFallback()})
	if l.prefix != DefaultPrefix || l.timeout != DefaultTimeout {
		t.Errorf("prefix %q, timeout %v; want %q, %v", l.prefix, l.timeout, DefaultPrefix, DefaultTimeout)
	}
	if err := l.Client().Ping(context.Background()).Err(); err != nil {
		t.Errorf("Client().Ping: %v", err)
	}
}

func TestInvalidRate(t *testing.T) {
	rawURL := testURL(t)
	fb := newFallback()
	l := open(t, Options{URL: rawURL, Prefix: testPrefix(t, rawURL), Fallback: fb})
	for _, r := range []gatehouse.Rate{{}, {Limit: 1}, {Period: time.Second}, {Limit: 1, Period: time.Second, Burst: -1}} {
		if _, _, err := l.Allow(context.Background(), "k", r); err == nil {
			t.Errorf("Allow with %+v: no error", r)
		}
	}
	if fb.calls.Load() != 0 {
		t.Error("an invalid rate reached the fallback")
	}
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fakeNow is a settable clock for the Limiter's outage bookkeeping.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeNow) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Needs no Redis: nothing listens.
func TestFallbackWhenUnreachable(t *testing.T) {
	const password = "s3cret-pw"
	addr := closedAddr(t)
	fb := newFallback()
	log, logs := newLogger()
	l := open(t, Options{URL: "redis://gatehouse:" + password + "@" + addr + "/0", Fallback: fb, Logger: log})
	if n := logs.count("level=WARN"); n != 1 {
		t.Fatalf("%d warnings after Open; want 1:\n%s", n, logs)
	}
	clk := &fakeNow{t: time.Now()}
	l.now = clk.Now

	r := gatehouse.Rate{Limit: 3, Period: time.Hour}
	for i := range 5 {
		start := time.Now()
		ok, retry, err := l.Allow(context.Background(), "k", r)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("request %d took %v", i+1, elapsed)
		}
		if want := i < 3; ok != want || (!ok && retry <= 0) {
			t.Errorf("request %d: allowed %v, retryAfter %v; want the fallback's answer (allowed %v)", i+1, ok, retry, want)
		}
		clk.Advance(2 * retryEvery) // every call probes Redis again
	}
	if n := fb.calls.Load(); n != 5 {
		t.Errorf("the fallback answered %d of 5 calls", n)
	}
	if n := logs.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings within a minute; want 1:\n%s", n, logs)
	}
	clk.Advance(warnEvery)
	allow(t, l, "k", r)
	if n := logs.count("level=WARN"); n != 2 {
		t.Errorf("%d warnings after a minute more of outage; want 2:\n%s", n, logs)
	}
	out := logs.String()
	if !strings.Contains(out, addr) {
		t.Errorf("the warning does not name the server %s:\n%s", addr, out)
	}
	if strings.Contains(out, password) {
		t.Errorf("the password reached the log:\n%s", out)
	}
}

// A wrong password is an unusable Redis too, and must not reach the log.
func TestWrongPasswordFallsBackWithoutLoggingIt(t *testing.T) {
	rawURL := testURL(t)
	const password = "wrong-s3cret-pw"
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("gatehouse-nobody", password)
	fb := newFallback()
	log, logs := newLogger()
	l := open(t, Options{URL: u.String(), Prefix: testPrefix(t, rawURL), Fallback: fb, Logger: log})
	l.retryEvery = 0
	if ok, _ := allow(t, l, "k", gatehouse.Rate{Limit: 1, Period: time.Hour}); !ok || fb.calls.Load() != 1 {
		t.Errorf("allowed %v, %d fallback calls; want the fallback's yes", ok, fb.calls.Load())
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") {
		t.Errorf("no warning:\n%s", out)
	}
	if strings.Contains(out, password) {
		t.Errorf("the password reached the log:\n%s", out)
	}
}

func TestOutageAndRecovery(t *testing.T) {
	rawURL := testURL(t)
	prefix := testPrefix(t, rawURL)
	admin := adminClient(t, rawURL)
	ctx := context.Background()
	px, proxied := startProxy(t, rawURL)
	fb := newFallback()
	log, logs := newLogger()
	l := open(t, Options{URL: proxied, Prefix: prefix, Fallback: fb, Logger: log, Timeout: time.Second})
	l.retryEvery = 20 * time.Millisecond
	r := gatehouse.Rate{Limit: 100, Period: time.Hour}
	key := prefix + limitSpace + "k"
	tat := func() int64 {
		t.Helper()
		v, err := admin.Get(ctx, key).Int64()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		return v
	}

	allow(t, l, "k", r)
	if fb.calls.Load() != 0 {
		t.Fatalf("fell back with Redis up:\n%s", logs)
	}
	before := tat()

	px.Refuse()
	for i := range 10 {
		if ok, _ := allow(t, l, "k", r); !ok {
			t.Fatalf("request %d during the outage denied", i+1)
		}
	}
	if n := fb.calls.Load(); n != 10 {
		t.Fatalf("the fallback answered %d of 10 calls during the outage", n)
	}
	if n := logs.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings for one outage; want 1:\n%s", n, logs)
	}
	if tat() != before {
		t.Error("Redis counted during the outage")
	}

	px.Forward()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "redis is back") {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after 10s:\n%s", logs)
		}
		time.Sleep(25 * time.Millisecond)
		allow(t, l, "k", r)
	}
	calls := fb.calls.Load()
	for range 5 {
		allow(t, l, "k", r)
	}
	if n := fb.calls.Load(); n != calls {
		t.Errorf("the fallback still answers after recovery (%d more calls)", n-calls)
	}
	if tat() <= before {
		t.Error("Redis does not count after recovery")
	}
	if n := logs.count("level=INFO"); n != 1 {
		t.Errorf("%d infos for one recovery; want 1:\n%s", n, logs)
	}
}

func TestSlowRedisFallsBackWithinTimeout(t *testing.T) {
	rawURL := testURL(t)
	px, proxied := startProxy(t, rawURL)
	fb := newFallback()
	l := open(t, Options{URL: proxied, Prefix: testPrefix(t, rawURL), Fallback: fb, Timeout: 100 * time.Millisecond})
	r := gatehouse.Rate{Limit: 100, Period: time.Hour}
	allow(t, l, "k", r)

	px.Blackhole()
	start := time.Now()
	if ok, _ := allow(t, l, "k", r); !ok {
		t.Fatal("denied")
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("a hanging Redis held Allow for %v; want about the 100ms timeout", elapsed)
	}
	if fb.calls.Load() != 1 {
		t.Fatalf("the fallback answered %d calls; want 1", fb.calls.Load())
	}
	// During the outage, calls skip Redis rather than wait for it each time.
	start = time.Now()
	for range 20 {
		allow(t, l, "k", r)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("20 calls during an outage took %v", elapsed)
	}
}

// Needs no Redis: every case fails before connecting.
func TestOpenErrors(t *testing.T) {
	const password = "s3cret-pw"
	fb := newFallback()
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"no URL", Options{Fallback: fb}},
		{"no fallback", Options{URL: "redis://127.0.0.1:6379/0"}},
		{"other scheme", Options{URL: "http://gatehouse:" + password + "@127.0.0.1:6379/0", Fallback: fb}},
		{"unix scheme", Options{URL: "unix://gatehouse:" + password + "@/tmp/redis.sock", Fallback: fb}},
		{"bad port", Options{URL: "redis://gatehouse:" + password + "@127.0.0.1:port/0", Fallback: fb}},
		{"control character", Options{URL: "redis://gatehouse:" + password + "@127.0.0.1\x7f:6379/0", Fallback: fb}},
		{"bad database", Options{URL: "redis://gatehouse:" + password + "@127.0.0.1:6379/zero", Fallback: fb}},
		{"bad path", Options{URL: "redis://gatehouse:" + password + "@127.0.0.1:6379/0/1", Fallback: fb}},
		{"unknown option", Options{URL: "redis://gatehouse:" + password + "@127.0.0.1:6379/0?" + password + "=1", Fallback: fb}},
		{"bad option", Options{URL: "redis://gatehouse:" + password + "@127.0.0.1:6379/0?dial_timeout=" + password, Fallback: fb}},
		{"no scheme", Options{URL: "gatehouse:" + password + "@127.0.0.1:6379", Fallback: fb}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Open(context.Background(), tc.o)
			if err == nil {
				l.Close()
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the password is in the error: %v", err)
			}
			t.Log(err)
		})
	}
}
