package redis

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
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
	"github.com/gatehouse-auth/gatehouse/internal/tcpproxy"
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

// startProxy starts a TCP proxy to the server of rawURL, so a test can
// play an outage without touching the shared server, and returns it with
// rawURL pointing at it.
func startProxy(t testing.TB, rawURL string) (*tcpproxy.Proxy, string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	p := tcpproxy.Start(t, opt.Addr)
	u.Host = p.Addr()
	return p, u.String()
}
