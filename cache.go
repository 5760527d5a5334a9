package gatehouse

import (
	"container/list"
	"sync"
	"time"
)

// sessionCache is the bounded, short-lived cache of session records by token
// hash that keeps session checks off the database. Entries live at most ttl
// (≤ 10 s) and are dropped at once when this process revokes or changes
// anything they carry (session, user, roles, disabled state). Other nodes
// rely on the TTL (and, with Redis, on fan-out).
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
	byHash map[string]*list.Element
	byUser map[string]map[string]struct{} // user id → token hashes
	byID   map[string]string              // session id → token hash
}

type cacheEntry struct {
	hash    string
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
		byHash: make(map[string]*list.Element),
		byUser: make(map[string]map[string]struct{}),
		byID:   make(map[string]string),
	}
}

// get returns a fresh entry for hash. The permission set is shared with the
// cache and must not be modified.
func (c *sessionCache) get(hash string, now time.Time) (Session, User, map[string]bool, bool) {
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
// since gen was taken.
func (c *sessionCache) put(gen uint64, s Session, u User, perms map[string]bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if el, ok := c.byHash[s.TokenHash]; ok {
		c.removeLocked(el)
	}
	for c.lru.Len() >= c.max {
		c.removeLocked(c.lru.Back())
	}
	c.byHash[s.TokenHash] = c.lru.PushFront(&cacheEntry{hash: s.TokenHash, session: s, user: u, perms: perms, loaded: now})
	c.byID[s.ID] = s.TokenHash
	set := c.byUser[u.ID]
	if set == nil {
		set = make(map[string]struct{})
		c.byUser[u.ID] = set
	}
	set[s.TokenHash] = struct{}{}
}

// touch records a new last-seen time on a cached entry without refreshing
// its age.
func (c *sessionCache) touch(hash string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byHash[hash]; ok {
		el.Value.(*cacheEntry).session.LastSeenAt = at
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
