package gatehouse

import (
	"container/list"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/secret"
)

// sessionCache is the bounded, short-lived cache of session records that
// keeps session checks off the database. It is keyed by token digest (the
// raw SHA-256 that Session.TokenHash encodes), so a hit costs no encoding.
// Entries live at most ttl (≤ 10 s) and are dropped at once when this
// process revokes or changes anything they carry (session, user, roles,
// disabled state). Other nodes rely on the TTL (and, with Redis, on
// fan-out).
//
// A lookup that misses reads the store and then inserts; if any invalidation
// happened between the read and the insert, the insert is skipped
// (generation check), so a record revoked mid-read is never cached.
type sessionCache struct {
	ttl time.Duration
	max int

	mu     sync.Mutex
	gen    uint64
	lru    *list.List // of *cacheEntry, most recent first
	byHash map[secret.Digest]*list.Element
	byUser map[string]map[secret.Digest]struct{} // user id → token digests
	byID   map[string]secret.Digest              // session id → token digest
}

type cacheEntry struct {
	hash    secret.Digest
	session Session
	user    User
	perms   map[string]bool
	loaded  time.Time
}

func newSessionCache(ttl time.Duration, size int) *sessionCache {
	return &sessionCache{
		ttl:    ttl,
		max:    size,
		lru:    list.New(),
		byHash: make(map[secret.Digest]*list.Element),
		byUser: make(map[string]map[secret.Digest]struct{}),
		byID:   make(map[string]secret.Digest),
	}
}

// get returns a fresh entry for the token digest. The permission set is
// shared with the cache and must not be modified.
func (c *sessionCache) get(hash secret.Digest, now time.Time) (Session, User, map[string]bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byHash[hash]
	if !ok {
		return Session{}, User{}, nil, false
	}
	e := el.Value.(*cacheEntry)
	if now.Sub(e.loaded) >= c.ttl || now.Before(e.loaded) {
		c.removeLocked(el)
		return Session{}, User{}, nil, false
	}
	c.lru.MoveToFront(el)
	return e.session, e.user, e.perms, true
}

// getByID is get by session id.
func (c *sessionCache) getByID(id string, now time.Time) (Session, User, map[string]bool, bool) {
	c.mu.Lock()
	hash, ok := c.byID[id]
	c.mu.Unlock()
	if !ok {
		return Session{}, User{}, nil, false
	}
	s, u, perms, ok := c.get(hash, now)
	if !ok || s.ID != id {
		return Session{}, User{}, nil, false
	}
	return s, u, perms, true
}

// generation returns the invalidation counter to pass to put.
func (c *sessionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put inserts a record read from the store, unless an invalidation happened
// since gen was taken. A record whose TokenHash is not a HashToken result is
// not cached: it would be found under no digest.
func (c *sessionCache) put(gen uint64, s Session, u User, perms map[string]bool, now time.Time) {
	hash, ok := secret.ParseDigest(s.TokenHash)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if el, ok := c.byHash[hash]; ok {
		c.removeLocked(el)
	}
	for c.lru.Len() >= c.max {
		c.removeLocked(c.lru.Back())
	}
	c.byHash[hash] = c.lru.PushFront(&cacheEntry{hash: hash, session: s, user: u, perms: perms, loaded: now})
	c.byID[s.ID] = hash
	set := c.byUser[u.ID]
	if set == nil {
		set = make(map[secret.Digest]struct{})
		c.byUser[u.ID] = set
	}
	set[hash] = struct{}{}
}

// touch records a new last-seen time on the cached entry of session id
// without refreshing its age.
func (c *sessionCache) touch(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.byID[id]
	if !ok {
		return
	}
	if el, ok := c.byHash[h]; ok {
		if e := el.Value.(*cacheEntry); e.session.ID == id {
			e.session.LastSeenAt = at
		}
	}
}

// invalidateSession drops one session's entry.
func (c *sessionCache) invalidateSession(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if h, ok := c.byID[id]; ok {
		if el, ok := c.byHash[h]; ok {
			c.removeLocked(el)
		}
	}
}

// invalidateUser drops every entry of the user.
func (c *sessionCache) invalidateUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h := range c.byUser[userID] {
		if el, ok := c.byHash[h]; ok {
			c.removeLocked(el)
		}
	}
}

// purge empties the cache.
func (c *sessionCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Init()
	clear(c.byHash)
	clear(c.byUser)
	clear(c.byID)
}

func (c *sessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *sessionCache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.byHash, e.hash)
	if c.byID[e.session.ID] == e.hash {
		delete(c.byID, e.session.ID)
	}
	if set := c.byUser[e.user.ID]; set != nil {
		delete(set, e.hash)
		if len(set) == 0 {
			delete(c.byUser, e.user.ID)
		}
	}
}
