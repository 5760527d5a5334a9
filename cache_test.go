package gatehouse

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// th and td are the stored hash and the cache key of the token tok.
func th(tok string) string        { return secret.HashToken(tok) }
func td(tok string) secret.Digest { return secret.DigestToken(tok) }

func TestSessionCacheBoundsAndExpiry(t *testing.T) {
	c := newSessionCache(10*time.Second, 3)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	put := func(i int, user string) {
		c.put(c.generation(), Session{ID: fmt.Sprint("s", i), TokenHash: th(fmt.Sprint("h", i))}, User{ID: user}, nil, now)
	}
	for i := range 5 {
		put(i, "u1")
	}
	if c.len() != 3 {
		t.Fatalf("cache holds %d entries, bound is 3", c.len())
	}
	if _, _, _, ok := c.get(td("h0"), now); ok {
		t.Fatal("least recently used entry not evicted")
	}
	if _, _, _, ok := c.get(td("h4"), now.Add(9*time.Second)); !ok {
		t.Fatal("fresh entry missing")
	}
	if _, _, _, ok := c.get(td("h4"), now.Add(10*time.Second)); ok {
		t.Fatal("entry outlived its TTL")
	}
	if _, _, _, ok := c.get(td("h3"), now.Add(-time.Second)); ok {
		t.Fatal("entry served for a clock that went backwards")
	}
}

func TestSessionCacheInvalidation(t *testing.T) {
	c := newSessionCache(10*time.Second, 100)
	now := time.Now()
	c.put(c.generation(), Session{ID: "s1", TokenHash: th("h1")}, User{ID: "u1"}, nil, now)
	c.put(c.generation(), Session{ID: "s2", TokenHash: th("h2")}, User{ID: "u1"}, nil, now)
	c.put(c.generation(), Session{ID: "s3", TokenHash: th("h3")}, User{ID: "u2"}, nil, now)
	c.invalidateSession("s1")
	if _, _, _, ok := c.get(td("h1"), now); ok {
		t.Fatal("invalidated session still cached")
	}
	c.invalidateUser("u1")
	if _, _, _, ok := c.get(td("h2"), now); ok {
		t.Fatal("invalidated user's session still cached")
	}
	if _, _, _, ok := c.get(td("h3"), now); !ok {
		t.Fatal("another user's session was dropped")
	}
	// A read that straddles an invalidation must not be cached: the record
	// may predate the revocation.
	gen := c.generation()
	c.invalidateSession("s9")
	c.put(gen, Session{ID: "s9", TokenHash: th("h9")}, User{ID: "u3"}, nil, now)
	if _, _, _, ok := c.get(td("h9"), now); ok {
		t.Fatal("stale read cached after an invalidation")
	}
	c.purge()
	if c.len() != 0 {
		t.Fatal("purge left entries")
	}
}

func TestSessionCacheKeysAndTouch(t *testing.T) {
	c := newSessionCache(10*time.Second, 100)
	now := time.Now()
	// A record whose hash is not a HashToken result is not cached: no
	// digest finds it, and it must not occupy a slot.
	c.put(c.generation(), Session{ID: "bad", TokenHash: "not-a-hash"}, User{ID: "u1"}, nil, now)
	c.put(c.generation(), Session{ID: "bad2", TokenHash: th("x")[:42] + "1"}, User{ID: "u1"}, nil, now)
	if c.len() != 0 {
		t.Fatalf("malformed hashes cached: %d entries", c.len())
	}
	c.put(c.generation(), Session{ID: "s1", TokenHash: th("t1"), LastSeenAt: now}, User{ID: "u1"}, nil, now)
	if _, _, _, ok := c.get(td("t2"), now); ok {
		t.Fatal("another token's digest found the entry")
	}
	later := now.Add(time.Minute)
	c.touch("s1", later)
	c.touch("s-unknown", later.Add(time.Hour)) // nothing to touch, nothing touched
	s, _, _, ok := c.get(td("t1"), now)
	if !ok || !s.LastSeenAt.Equal(later) {
		t.Fatalf("after touch: ok=%v last seen %v, want %v", ok, s.LastSeenAt, later)
	}
	if s, _, _, ok := c.getByID("s1", now); !ok || s.TokenHash != th("t1") {
		t.Fatalf("getByID: %v %+v", ok, s)
	}
}
