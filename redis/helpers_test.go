package redis

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/ratelimit"
)

// skipMessage is what a test says when Redis is not configured.
const skipMessage = "set GATEHOUSE_TEST_REDIS to a redis:// URL (for example redis://127.0.0.1:6379/0) to run the Redis tests"

// testURL returns the test server's URL, skipping (or, under
// GATEHOUSE_TEST_REQUIRE_ALL=1, failing) the test without one.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		if os.Getenv("GATEHOUSE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal(skipMessage)
		}
		t.Skip(skipMessage)
	}
	return u
}

// adminClient is a plain client on the test server, closed when the test ends.
func adminClient(t testing.TB, rawURL string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_REDIS: %v", err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix of the test's own (the server is shared)
// and deletes the keys under it when the test ends. Never FLUSHDB.
func testPrefix(t testing.TB, rawURL string) string {
	t.Helper()
	prefix := "gatehouse-test:" + strings.ToLower(rand.Text()[:16]) + ":"
	admin := adminClient(t, rawURL)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := admin.Scan(ctx, 0, prefix+"*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := admin.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete %s*: %v", prefix, err)
			}
		}
	})
	return prefix
}

// fallback is the in-process limiter, counting the calls it answers.
type fallback struct {
	m     *ratelimit.Memory
	calls atomic.Int64
}

func newFallback() *fallback { return &fallback{m: ratelimit.NewMemory(0, nil)} }

func (f *fallback) Allow(ctx context.Context, key string, r gatehouse.Rate) (bool, time.Duration, error) {
	f.calls.Add(1)
	return f.m.Allow(ctx, key, ratelimit.Rate(r))
}

// logBuffer collects a logger's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(substr string) int { return strings.Count(b.String(), substr) }

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// proxy is a TCP proxy between a client and the test server, so a test can
// simulate an outage without touching the shared server.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

type proxyMode int

const (
	forward   proxyMode = iota // pass traffic through
	refuse                     // close every connection at once
	blackhole                  // accept connections, never answer
)

// startProxy starts a proxy to the server of rawURL, in forward mode.
func startProxy(t testing.TB, rawURL string) *proxy {
	t.Helper()
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	target := opt.Addr
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.set(refuse)
		p.wg.Wait()
	})
	return p
}

// url is rawURL with its host replaced by the proxy's.
func (p *proxy) url(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// set switches the mode; leaving forward drops every open connection.
func (p *proxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if m != forward {
		for c := range p.conns {
			c.Close()
			delete(p.conns, c)
		}
	}
}

func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == refuse {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		switch mode {
		case refuse:
			c.Close()
		case blackhole:
			if p.track(c) {
				p.wg.Go(func() { io.Copy(io.Discard, c) })
			}
		case forward:
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			if !p.track(c, up) {
				up.Close()
				continue
			}
			p.wg.Go(func() { io.Copy(up, c); up.Close(); c.Close() })
			p.wg.Go(func() { io.Copy(c, up); up.Close(); c.Close() })
		}
	}
}
