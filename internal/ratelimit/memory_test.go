package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustAllow(t *testing.T, m *Memory, key string, r Rate) (bool, time.Duration) {
	t.Helper()
	ok, retry, err := m.Allow(context.Background(), key, r)
	if err != nil {
		t.Fatalf("Allow(%q, %+v): %v", key, r, err)
	}
	return ok, retry
}

func TestGCRAValidation(t *testing.T) {
	for _, r := range []Rate{
		{Limit: 0, Period: time.Second},
		{Limit: -1, Period: time.Second},
		{Limit: 1, Period: 0},
		{Limit: 1, Period: -time.Second},
		{Limit: 1, Period: time.Second, Burst: -1},
		{Limit: 1, Period: time.Duration(1 << 62), Burst: 4},
	} {
		if _, _, err := r.GCRA(); err == nil {
			t.Errorf("GCRA(%+v): no error", r)
		}
		m := NewMemory(10, nil)
		if _, _, err := m.Allow(context.Background(), "k", r); err == nil {
			t.Errorf("Allow with %+v: no error", r)
		}
	}
	for _, tc := range []struct {
		r        Rate
		interval time.Duration
		burst    int64
	}{
		{Rate{Limit: 5, Period: time.Minute}, 12 * time.Second, 5},
		{Rate{Limit: 5, Period: time.Minute, Burst: 2}, 12 * time.Second, 2},
		{Rate{Limit: 10, Period: time.Nanosecond}, time.Nanosecond, 10}, // clamped
	} {
		interval, burst, err := tc.r.GCRA()
		if err != nil || interval != tc.interval || burst != tc.burst {
			t.Errorf("GCRA(%+v) = %v, %d, %v; want %v, %d", tc.r, interval, burst, err, tc.interval, tc.burst)
		}
	}
}

func TestMemoryBurstThenOnePerInterval(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(100, clk.Now)
	r := Rate{Limit: 6, Period: time.Minute, Burst: 3} // one per 10 s
	for i := range 3 {
		if ok, _ := mustAllow(t, m, "k", r); !ok {
			t.Fatalf("request %d of the burst denied", i+1)
		}
	}
	ok, retry := mustAllow(t, m, "k", r)
	if ok || retry != 10*time.Second {
		t.Fatalf("after the burst: allowed %v, retryAfter %v; want denied, 10s", ok, retry)
	}
	clk.Advance(4 * time.Second)
	if ok, retry := mustAllow(t, m, "k", r); ok || retry != 6*time.Second {
		t.Fatalf("4s later: allowed %v, retryAfter %v; want denied, 6s", ok, retry)
	}
	clk.Advance(6*time.Second - time.Nanosecond)
	if ok, retry := mustAllow(t, m, "k", r); ok || retry != time.Nanosecond {
		t.Fatalf("1ns early: allowed %v, retryAfter %v; want denied, 1ns", ok, retry)
	}
	clk.Advance(time.Nanosecond)
	if ok, _ := mustAllow(t, m, "k", r); !ok {
		t.Fatal("at retryAfter: denied")
	}
	if ok, retry := mustAllow(t, m, "k", r); ok || retry != 10*time.Second {
		t.Fatalf("right after: allowed %v, retryAfter %v; want denied, 10s", ok, retry)
	}
	// Other keys are untouched.
	if ok, _ := mustAllow(t, m, "other", r); !ok {
		t.Fatal("another key denied")
	}
}

func TestMemoryIdleKeyGetsWholeBurst(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(100, clk.Now)
	r := Rate{Limit: 4, Period: time.Hour} // Burst 0 = Limit
	for range 4 {
		mustAllow(t, m, "k", r)
	}
	if ok, _ := mustAllow(t, m, "k", r); ok {
		t.Fatal("fifth request allowed")
	}
	clk.Advance(time.Hour)
	for i := range 4 {
		if ok, _ := mustAllow(t, m, "k", r); !ok {
			t.Fatalf("after an idle Period, request %d denied", i+1)
		}
	}
	if ok, retry := mustAllow(t, m, "k", r); ok || retry != 15*time.Minute {
		t.Fatalf("allowed %v, retryAfter %v; want denied, 15m", ok, retry)
	}
}

func TestMemoryConcurrentBurstIsExact(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(0, clk.Now)
	r := Rate{Limit: 10, Period: time.Hour, Burst: 10}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 200 {
		wg.Go(func() {
			<-start
			ok, _, err := m.Allow(context.Background(), "hot", r)
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
		t.Fatalf("%d of 200 concurrent requests allowed; want exactly 10", got)
	}
}

func TestMemoryConcurrentKeysWithRealClock(t *testing.T) {
	m := NewMemory(0, nil)
	r := Rate{Limit: 3, Period: time.Hour}
	var wg sync.WaitGroup
	counts := make([]atomic.Int64, 16)
	for i := range 16 * 50 {
		wg.Go(func() {
			ok, _, err := m.Allow(context.Background(), "key-"+strconv.Itoa(i%16), r)
			if err != nil {
				t.Error(err)
			}
			if ok {
				counts[i%16].Add(1)
			}
		})
	}
	wg.Wait()
	for i := range counts {
		if got := counts[i].Load(); got != 3 {
			t.Errorf("key %d: %d allowed; want 3", i, got)
		}
	}
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(3, clk.Now)
	r := Rate{Limit: 1, Period: time.Hour}
	for _, k := range []string{"a", "b", "c"} {
		mustAllow(t, m, k, r)
	}
	// Touch "a" (a denied request counts as use), then add "d": "b" is
	// now the least recently used and goes.
	if ok, _ := mustAllow(t, m, "a", r); ok {
		t.Fatal("a allowed twice")
	}
	mustAllow(t, m, "d", r)
	if m.Len() != 3 {
		t.Fatalf("Len = %d; want 3", m.Len())
	}
	for _, k := range []string{"a", "c", "d"} {
		if ok, _ := mustAllow(t, m, k, r); ok {
			t.Errorf("%s was forgotten", k)
		}
	}
	if ok, _ := mustAllow(t, m, "b", r); !ok {
		t.Error("b, the least recently used, was kept")
	}
}

func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts a million keys")
	}
	for _, maxKeys := range []int{1000, 100_003} {
		m := NewMemory(maxKeys, nil)
		r := Rate{Limit: 1, Period: time.Hour}
		for i := range 1_000_000 {
			if _, _, err := m.Allow(context.Background(), strconv.Itoa(i), r); err != nil {
				t.Fatal(err)
			}
		}
		if got := m.Len(); got > maxKeys || got < maxKeys*9/10 {
			t.Errorf("maxKeys %d: Len = %d after a million keys", maxKeys, got)
		}
		// The most recent key is still limited.
		if ok, _, _ := m.Allow(context.Background(), strconv.Itoa(999_999), r); ok {
			t.Errorf("maxKeys %d: the most recent key was forgotten", maxKeys)
		}
	}
}

func TestMemoryDefaults(t *testing.T) {
	m := NewMemory(0, nil)
	total := 0
	for i := range m.shards {
		total += m.shards[i].cap
	}
	if total != DefaultMaxKeys || len(m.shards) != maxShards {
		t.Fatalf("default: %d keys over %d shards; want %d over %d", total, len(m.shards), DefaultMaxKeys, maxShards)
	}
	if ok, _ := mustAllow(t, m, "k", Rate{Limit: 1, Period: time.Second}); !ok {
		t.Fatal("fresh key denied")
	}
}

func BenchmarkMemoryAllowParallel(b *testing.B) {
	m := NewMemory(0, nil)
	r := Rate{Limit: 1000, Period: time.Second}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Allow(context.Background(), keys[i%len(keys)], r)
			i++
		}
	})
}
