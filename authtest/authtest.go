// Package authtest helps embedders (and Gatehouse's own tests) test code that
// uses Gatehouse: a ready Auth over a temporary SQLite database with cheap
// password hashing, a fake clock, and an in-memory mailbox for the mail it
// sends. Never use it outside tests.
package authtest

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mail/mailbox"
	"github.com/gatehouse-auth/gatehouse/store/sqlite"
)

// Clock is a fake, settable clock for gatehouse.WithClock. Safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Store returns a fresh, migrated SQLite store in a temporary directory,
// closed when the test ends.
func Store(t testing.TB, plugins ...gatehouse.Plugin) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatalf("authtest: open sqlite: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx, plugins...); err != nil {
		t.Fatalf("authtest: migrate: %v", err)
	}
	return s
}

// New returns an Auth over a fresh SQLite store, closed when the test ends.
// An empty cfg.PublicURL becomes http://localhost:8080 (development mode).
// Password hashing is cheap and logs are discarded unless opts say
// otherwise (later options win).
func New(t testing.TB, cfg gatehouse.Config, opts ...gatehouse.Option) *gatehouse.Auth {
	t.Helper()
	return NewWithStore(t, Store(t), cfg, opts...)
}

// Deliver starts delivering a's mail into a new in-memory mailbox and
// returns the mailbox; delivery stops when the test ends. Read messages
// with its Messages or Wait methods.
func Deliver(t testing.TB, a *gatehouse.Auth) *mailbox.Mailbox {
	t.Helper()
	mb := mailbox.New(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.DeliverMail(ctx, mb)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return mb
}

// NewWithStore is New over a store of the caller's choosing (PostgreSQL in
// Gatehouse's own suite). The store is not closed by it.
func NewWithStore(t testing.TB, store gatehouse.Store, cfg gatehouse.Config, opts ...gatehouse.Option) *gatehouse.Auth {
	t.Helper()
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://localhost:8080"
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	all := append([]gatehouse.Option{
		gatehouse.WithSecret(key),
		gatehouse.WithInsecurePasswordHashingForTests(),
		gatehouse.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}, opts...)
	a, err := gatehouse.New(cfg, store, all...)
	if err != nil {
		t.Fatalf("authtest: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
