package gatehouse

import (
	"context"
	"time"
)

// Rate is a rate limit in the generic cell rate algorithm's terms: on
// average Limit requests per Period, with bursts of up to Burst requests at
// once (Burst 0 means Limit). A key that has been idle for Period has its
// whole burst available.
type Rate struct {
	Limit  int
	Period time.Duration
	Burst  int
}

// Limiter counts requests per key. Implementations: in-process (bounded
// LRU, internal/ratelimit) and Redis (atomic Lua, package redis). Allow
// must be safe for concurrent use and atomic per key: of N concurrent calls
// on a fresh key at most Burst are allowed.
type Limiter interface {
	// Allow counts one request for key under rate. When it is not allowed,
	// retryAfter says when one would be. Keys are opaque strings; callers
	// pass keyed hashes, never raw identifiers. An error means the limiter
	// could not decide (the caller decides whether to fail open).
	Allow(ctx context.Context, key string, rate Rate) (allowed bool, retryAfter time.Duration, err error)
}

// ThrottlePolicy is the account throttle: per normalized identifier,
// whether or not an account exists. Every attempt is reserved — counted as
// a failure — before the secret is verified, and a success clears the
// count. After Free failures each further attempt must wait BaseDelay,
// doubling per failure up to MaxDelay; at most DailyBudget failures are
// evaluated per 24 hours.
type ThrottlePolicy struct {
	Free        int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	DailyBudget int
}

// Reservation is the outcome of ThrottleStore.ReserveAttempt.
type Reservation struct {
	// Allowed: the attempt may be evaluated (and is already counted).
	Allowed bool
	// RetryAfter: when the next attempt would be allowed (denied only).
	RetryAfter time.Duration
	// Failures counts the attempts in the current day, this one included
	// when allowed.
	Failures int
	// Started reports that this reservation began a throttle: the first
	// attempt that had to wait (for the audit log).
	Started bool
}

// ThrottleStore holds the account throttle's counters. Both methods are
// atomic: of 200 concurrent reservations on one key, no more are allowed
// than the policy permits.
type ThrottleStore interface {
	// ReserveAttempt counts an attempt for key at now under p. State per
	// key: failures and the day they count in (a day starts at the first
	// failure and lasts 24 h), and the time the next attempt is allowed.
	// It denies when now is before that time or the day's failures reached
	// p.DailyBudget; otherwise it counts the attempt, and when failures
	// then exceed p.Free it sets the next allowed time to now +
	// min(BaseDelay·2^(failures−Free−1), MaxDelay).
	ReserveAttempt(ctx context.Context, key string, now time.Time, p ThrottlePolicy) (Reservation, error)
	// ClearAttempts forgets key's failures (a successful attempt).
	ClearAttempts(ctx context.Context, key string) error
	// DeleteAttemptsBefore forgets keys whose day started before t.
	DeleteAttemptsBefore(ctx context.Context, t time.Time) (int, error)
}
