package ratelimit

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys is Memory's bound when NewMemory is given none.
const DefaultMaxKeys = 100_000

// Keys per shard below which Memory uses fewer shards: small bounds get
// one exact LRU, large ones 64 independently locked LRUs.
const (
	maxShards     = 64
	minShardWidth = 1024
)

// Memory is a bounded in-process limiter: GCRA (see Rate.GCRA) over at
// most maxKeys keys, the least recently used evicted first. It is safe for
// concurrent use and atomic per key: of N concurrent calls on a fresh key,
// exactly Burst are allowed.
//
// An evicted key starts fresh, with its whole burst. That favours an
// attacker only when more than maxKeys keys are hot at once — then the
// oldest are forgotten before their limits lapse — so size maxKeys above
// the number of keys that can be active within one Period (each key costs
// roughly 100 bytes plus the key itself). Keys are spread over up to 64
// independently locked shards, each an exact LRU of its share of maxKeys,
// so eviction order is least-recently-used per shard rather than globally.
//
// Limits are per process: behind a load balancer each node counts its own.
// Use package redis to share them.
type Memory struct {
	now    func() time.Time
	base   time.Time // TATs are stored as nanoseconds since base (monotonic)
	shards []shard
}

type shard struct {
	mu    sync.Mutex
	cap   int
	order *list.List // front: most recently used; values are *entry
	byKey map[string]*list.Element
}

type entry struct {
	key string
	tat int64 // theoretical arrival time, ns since Memory.base
}

// NewMemory returns a Memory holding at most maxKeys keys (DefaultMaxKeys
// when maxKeys ≤ 0), reading time from now (time.Now when nil).
func NewMemory(maxKeys int, now func() time.Time) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	n := min(max(maxKeys/minShardWidth, 1), maxShards)
	m := &Memory{now: now, base: now(), shards: make([]shard, n)}
	for i := range m.shards {
		s := &m.shards[i]
		s.cap = maxKeys / n
		if i < maxKeys%n {
			s.cap++
		}
		s.order = list.New()
		s.byKey = make(map[string]*list.Element)
	}
	return m
}

// Allow counts one request for key under r. When it is not allowed,
// retryAfter is how long until one would be. The only error is an invalid
// rate (see Rate.GCRA); ctx is not consulted, as Allow never waits on
// anything but a short lock.
func (m *Memory) Allow(ctx context.Context, key string, r Rate) (allowed bool, retryAfter time.Duration, err error) {
	interval, burst, err := r.GCRA()
	if err != nil {
		return false, 0, err
	}
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	// Read the clock under the lock so that time never runs backwards for
	// one key between concurrent callers.
	now := int64(m.now().Sub(m.base))
	var e *entry
	if el, ok := s.byKey[key]; ok {
		s.order.MoveToFront(el)
		e = el.Value.(*entry)
	}
	tat := now
	if e != nil && e.tat > now {
		tat = e.tat
	}
	next := tat + int64(interval)
	if allowAt := next - burst*int64(interval); allowAt > now {
		return false, time.Duration(allowAt - now), nil
	}
	if e != nil {
		e.tat = next
		return true, 0, nil
	}
	if s.order.Len() >= s.cap {
		oldest := s.order.Back()
		s.order.Remove(oldest)
		delete(s.byKey, oldest.Value.(*entry).key)
	}
	s.byKey[key] = s.order.PushFront(&entry{key: key, tat: next})
	return true, 0, nil
}

// Len returns the number of keys held, never more than the maxKeys given
// to NewMemory. Keys whose limits have lapsed count until evicted.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += s.order.Len()
		s.mu.Unlock()
	}
	return n
}

func (m *Memory) shard(key string) *shard {
	if len(m.shards) == 1 {
		return &m.shards[0]
	}
	// FNV-1a, inline so that hashing a key does not allocate.
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return &m.shards[h%uint64(len(m.shards))]
}
