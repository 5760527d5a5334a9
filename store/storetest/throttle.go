package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// signInPolicy is the throttle the brief of the feature names: five free
// failures, then 1 s doubling up to 15 min, 100 a day.
var signInPolicy = gatehouse.ThrottlePolicy{Free: 5, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, DailyBudget: 100}

func mustReserve(t *testing.T, s Store, key string, now time.Time, p gatehouse.ThrottlePolicy) gatehouse.Reservation {
	t.Helper()
	r, err := s.ReserveAttempt(t.Context(), key, now, p)
	if err != nil {
		t.Fatalf("ReserveAttempt(%s, %v): %v", key, now, err)
	}
	return r
}

// wantAllowed reserves an attempt that must be allowed as the given
// failure of the day, Started as given.
func wantAllowed(t *testing.T, s Store, key string, now time.Time, p gatehouse.ThrottlePolicy, failures int, started bool) {
	t.Helper()
	r := mustReserve(t, s, key, now, p)
	want := gatehouse.Reservation{Allowed: true, Failures: failures, Started: started}
	if r != want {
		t.Fatalf("ReserveAttempt(%s) at %v = %+v, want %+v", key, now.Sub(t0), r, want)
	}
}

// wantDenied reserves an attempt that must be denied with the given wait.
func wantDenied(t *testing.T, s Store, key string, now time.Time, p gatehouse.ThrottlePolicy, failures int, retryAfter time.Duration) {
	t.Helper()
	r := mustReserve(t, s, key, now, p)
	want := gatehouse.Reservation{RetryAfter: retryAfter, Failures: failures}
	if r != want {
		t.Fatalf("ReserveAttempt(%s) at %v = %+v, want %+v", key, now.Sub(t0), r, want)
	}
}

func testConcurrentReserveAttempt(t *testing.T, s Store) {
	const n = 200
	results := make([]gatehouse.Reservation, n)
	errs := race(n, func(i int) error {
		var err error
		results[i], err = s.ReserveAttempt(t.Context(), "thr_burst", t0, signInPolicy)
		return err
	})
	var allowed []int
	started := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("ReserveAttempt %d: %v", i, err)
		}
		r := results[i]
		if r.Started {
			started++
		}
		if r.Allowed {
			if r.RetryAfter != 0 {
				t.Errorf("allowed reservation %d has RetryAfter %v", i, r.RetryAfter)
			}
			allowed = append(allowed, r.Failures)
			continue
		}
		if r.RetryAfter != time.Second || r.Failures != 6 || r.Started {
			t.Errorf("denied reservation %d = %+v, want RetryAfter 1s, Failures 6", i, r)
		}
	}
	slices.Sort(allowed)
	if !slices.Equal(allowed, []int{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("allowed reservations counted %v, want exactly 1…6", allowed)
	}
	if started != 1 {
		t.Fatalf("%d reservations Started the throttle, want 1", started)
	}
	// The wait ends exactly a second later, and then doubles.
	wantDenied(t, s, "thr_burst", ms(t0).Add(999*time.Millisecond), signInPolicy, 6, time.Millisecond)
	wantAllowed(t, s, "thr_burst", t0.Add(time.Second), signInPolicy, 7, false)
	wantDenied(t, s, "thr_burst", t0.Add(time.Second), signInPolicy, 7, 2*time.Second)
	// Other keys are counted apart.
	wantAllowed(t, s, "thr_other", t0, signInPolicy, 1, false)
}

func testReserveAttemptBackoff(t *testing.T, s Store) {
	p := gatehouse.ThrottlePolicy{Free: 2, BaseDelay: time.Second, MaxDelay: 5 * time.Second, DailyBudget: 100}
	const key = "thr_backoff"
	now := t0
	wantAllowed(t, s, key, now, p, 1, false)
	wantAllowed(t, s, key, now, p, 2, false)
	wantAllowed(t, s, key, now, p, 3, true) // the first past Free: waits BaseDelay
	// Each following failure waits twice as long, up to MaxDelay.
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		failures := 3 + i
		wantDenied(t, s, key, now, p, failures, wait)
		wantDenied(t, s, key, now.Add(wait/2), p, failures, wait-wait/2)
		wantDenied(t, s, key, ms(now).Add(wait-time.Millisecond), p, failures, time.Millisecond)
		now = now.Add(wait)
		wantAllowed(t, s, key, now, p, failures+1, false)
	}
	// A denial changed nothing: the wait is still the capped one.
	wantDenied(t, s, key, now, p, 8, 5*time.Second)

	// With nothing free, the first failure starts the throttle.
	strict := gatehouse.ThrottlePolicy{BaseDelay: time.Minute, MaxDelay: time.Hour, DailyBudget: 10}
	wantAllowed(t, s, "thr_strict", t0, strict, 1, true)
	wantDenied(t, s, "thr_strict", t0, strict, 1, time.Minute)
	wantAllowed(t, s, "thr_strict", t0.Add(time.Minute), strict, 2, false)
	wantDenied(t, s, "thr_strict", t0.Add(time.Minute), strict, 2, 2*time.Minute)
}

func testReserveAttemptDailyBudget(t *testing.T, s Store) {
	// Nothing waits: only the budget throttles.
	p := gatehouse.ThrottlePolicy{Free: 10, BaseDelay: time.Minute, MaxDelay: time.Minute, DailyBudget: 5}
	const key = "thr_budget"
	day := ms(t0)
	wantAllowed(t, s, key, day, p, 1, false) // the day starts here
	for i := 2; i <= 5; i++ {
		wantAllowed(t, s, key, day.Add(time.Duration(i)*time.Hour), p, i, false)
	}
	wantDenied(t, s, key, day.Add(5*time.Hour), p, 5, 19*time.Hour)
	wantDenied(t, s, key, day.Add(23*time.Hour), p, 5, time.Hour)
	wantDenied(t, s, key, day.Add(24*time.Hour-time.Millisecond), p, 5, time.Millisecond)
	// 24 h after the first failure, a new day: the count starts again and
	// the new day starts at this failure.
	next := day.Add(24 * time.Hour)
	wantAllowed(t, s, key, next, p, 1, false)
	for i := 2; i <= 5; i++ {
		wantAllowed(t, s, key, next.Add(20*time.Hour), p, i, false)
	}
	wantDenied(t, s, key, next.Add(20*time.Hour), p, 5, 4*time.Hour)

	// When the budget and a wait both hold, RetryAfter is the later.
	both := gatehouse.ThrottlePolicy{BaseDelay: time.Hour, MaxDelay: time.Hour, DailyBudget: 2}
	wantAllowed(t, s, "thr_both", day, both, 1, true)
	wantAllowed(t, s, "thr_both", day.Add(time.Hour), both, 2, false)
	wantDenied(t, s, "thr_both", day.Add(time.Hour), both, 2, 23*time.Hour)
	wantDenied(t, s, "thr_both", day.Add(2*time.Hour), both, 2, 22*time.Hour)
	// In a new day the throttle starts over, Started included.
	wantAllowed(t, s, "thr_both", day.Add(24*time.Hour), both, 1, true)
	wantDenied(t, s, "thr_both", day.Add(24*time.Hour), both, 1, time.Hour)

	// A wait set late in a day is honoured after the day ends, and the next
	// attempt counts in a new day.
	late := gatehouse.ThrottlePolicy{BaseDelay: time.Hour, MaxDelay: time.Hour, DailyBudget: 100}
	wantAllowed(t, s, "thr_late", day, late, 1, true)
	wantAllowed(t, s, "thr_late", day.Add(23*time.Hour+30*time.Minute), late, 2, false)
	wantDenied(t, s, "thr_late", day.Add(24*time.Hour), late, 0, 30*time.Minute)
	wantAllowed(t, s, "thr_late", day.Add(24*time.Hour+30*time.Minute), late, 1, true)
	wantAllowed(t, s, "thr_late", day.Add(25*time.Hour+30*time.Minute), late, 2, false)
}

func testClearAttempts(t *testing.T, s Store) {
	ctx := t.Context()
	const key = "thr_clear"
	for i := 1; i <= 6; i++ {
		wantAllowed(t, s, key, t0, signInPolicy, i, i == 6)
	}
	wantAllowed(t, s, "thr_kept", t0, signInPolicy, 1, false)
	wantDenied(t, s, key, t0, signInPolicy, 6, time.Second)
	if err := s.ClearAttempts(ctx, key); err != nil {
		t.Fatalf("ClearAttempts: %v", err)
	}
	// No wait and no count left: the next failure is the day's first.
	wantAllowed(t, s, key, t0, signInPolicy, 1, false)
	// Clearing is idempotent and touches no other key.
	for range 2 {
		if err := s.ClearAttempts(ctx, key); err != nil {
			t.Fatalf("ClearAttempts again: %v", err)
		}
	}
	if err := s.ClearAttempts(ctx, "thr_never_seen"); err != nil {
		t.Fatalf("ClearAttempts(unknown key): %v", err)
	}
	wantAllowed(t, s, "thr_kept", t0, signInPolicy, 2, false)
	// A started throttle starts again after a clear.
	if err := s.ClearAttempts(ctx, key); err != nil {
		t.Fatalf("ClearAttempts: %v", err)
	}
	for i := 1; i <= 6; i++ {
		wantAllowed(t, s, key, t0.Add(time.Hour), signInPolicy, i, i == 6)
	}
}

func testDeleteAttemptsBefore(t *testing.T, s Store) {
	ctx := t.Context()
	p := gatehouse.ThrottlePolicy{Free: 10, BaseDelay: time.Second, MaxDelay: time.Second, DailyBudget: 100}
	day := ms(t0)
	wantAllowed(t, s, "thr_a", day, p, 1, false)
	wantAllowed(t, s, "thr_a", day.Add(3*time.Hour), p, 2, false) // the day still started at day
	wantAllowed(t, s, "thr_b", day.Add(time.Hour), p, 1, false)
	wantAllowed(t, s, "thr_c", day.Add(2*time.Hour), p, 1, false)
	// thr_d's first day started earliest, but a new one started since.
	wantAllowed(t, s, "thr_d", day.Add(-time.Hour), p, 1, false)
	wantAllowed(t, s, "thr_d", day.Add(23*time.Hour), p, 1, false)

	n, err := s.DeleteAttemptsBefore(ctx, day.Add(time.Hour)) // thr_b's day start is not before
	if err != nil || n != 1 {
		t.Fatalf("DeleteAttemptsBefore = %d, %v; want 1 (thr_a)", n, err)
	}
	if n, err := s.DeleteAttemptsBefore(ctx, day.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("DeleteAttemptsBefore again = %d, %v; want 0", n, err)
	}
	wantAllowed(t, s, "thr_a", day.Add(4*time.Hour), p, 1, false) // forgotten
	wantAllowed(t, s, "thr_b", day.Add(4*time.Hour), p, 2, false) // kept
	n, err = s.DeleteAttemptsBefore(ctx, day.Add(4*time.Hour+time.Millisecond))
	if err != nil || n != 3 {
		t.Fatalf("DeleteAttemptsBefore(later) = %d, %v; want 3 (thr_a, thr_b, thr_c)", n, err)
	}
	wantAllowed(t, s, "thr_d", day.Add(23*time.Hour), p, 2, false)
}

func testReserveAttemptInvalid(t *testing.T, s Store) {
	for _, p := range []gatehouse.ThrottlePolicy{
		{Free: -1, BaseDelay: time.Second, MaxDelay: time.Minute, DailyBudget: 10},
		{Free: 1, BaseDelay: -time.Second, MaxDelay: time.Minute, DailyBudget: 10},
		{Free: 1, BaseDelay: time.Second, MaxDelay: -time.Minute, DailyBudget: 10},
		{Free: 1, BaseDelay: time.Second, MaxDelay: time.Minute, DailyBudget: 0},
		{},
	} {
		if r, err := s.ReserveAttempt(t.Context(), "thr_invalid", t0, p); err == nil {
			t.Fatalf("ReserveAttempt(%+v) = %+v, want an error", p, r)
		}
	}
	// Nothing was counted.
	wantAllowed(t, s, "thr_invalid", t0, signInPolicy, 1, false)
}

func testThrottleMetacharacters(t *testing.T, s Store) {
	free := gatehouse.ThrottlePolicy{Free: 100, DailyBudget: 100}
	keys := []string{`'; DROP TABLE sign_in_attempts; --`, `100% _x_ \ "q" $1 ?1`, "Zoë 山田 🎉", "%", "_"}
	for i, key := range keys {
		for j := 1; j <= i+1; j++ {
			wantAllowed(t, s, key, t0, free, j, false)
		}
	}
	// Each key counted apart: no pattern matched another.
	for i, key := range keys {
		wantAllowed(t, s, key, t0, free, i+2, false)
	}
	if err := s.ClearAttempts(t.Context(), "%"); err != nil {
		t.Fatalf("ClearAttempts: %v", err)
	}
	for i, key := range keys {
		want := i + 3
		if key == "%" {
			want = 1
		}
		wantAllowed(t, s, key, t0, free, want, false)
	}
}
