package gatehouse

import (
	"fmt"
	"testing"
	"time"
)

func TestSessionCacheBoundsAndExpiry(t *testing.T) {
	c := newSessionCache(10*time.Second, 3)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	put := func(i int, user string) {
		c.put(c.generation(), Session{ID: fmt.Sprint("s", i), TokenHash: fmt.Sprint("h", i)}, User{ID: user}, nil, now)
	}
	for i := range 5 {
		put(i, "u1")
	}
	if c.len() != 3 {
		t.Fatalf("cache holds %d entries, bound is 3", c.len())
	}
	if _, _, _, ok := c.get("h0", now); ok {
		t.Fatal("least recently used entry not evicted")
	}
	if _, _, _, ok := c.get("h4", now.Add(9*time.Second)); !ok {
		t.Fatal("fresh entry missing")
	}
	if _, _, _, ok := c.get("h4", now.Add(10*time.Second)); ok {
		t.Fatal("entry outlived its TTL")
	}
	if _, _, _, ok := c.get("h3", now.Add(-time.Second)); ok {
		t.Fatal("entry served for a clock that went backwards")
	}
}

func TestSessionCacheInvalidation(t *testing.T) {
	c := newSessionCache(10*time.Second, 100)
	now := time.Now()
	c.put(c.generation(), Session{ID: "s1", TokenHash: "h1"}, User{ID: "u1"}, nil, now)
	c.put(c.generation(), Session{ID: "s2", TokenHash: "h2"}, User{ID: "u1"}, nil, now)
	c.put(c.generation(), Session{ID: "s3", TokenHash: "h3"}, User{ID: "u2"}, nil, now)
	c.invalidateSession("s1")
	if _, _, _, ok := c.get("h1", now); ok {
		t.Fatal("invalidated session still cached")
	}
	c.invalidateUser("u1")
	if _, _, _, ok := c.get("h2", now); ok {
		t.Fatal("invalidated user's session still cached")
	}
	if _, _, _, ok := c.get("h3", now); !ok {
		t.Fatal("another user's session was dropped")
	}
	// A read that straddles an invalidation must not be cached: the record
	// may predate the revocation.
	gen := c.generation()
	c.invalidateSession("s9")
	c.put(gen, Session{ID: "s9", TokenHash: "h9"}, User{ID: "u3"}, nil, now)
	if _, _, _, ok := c.get("h9", now); ok {
		t.Fatal("stale read cached after an invalidation")
	}
	c.purge()
	if c.len() != 0 {
		t.Fatal("purge left entries")
	}
}
