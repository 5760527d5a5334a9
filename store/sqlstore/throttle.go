package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// dayMillis is the length of a throttle day in milliseconds.
const dayMillis = int64(24 * time.Hour / time.Millisecond)

// maxReserveRounds bounds how often ReserveAttempt starts over within its
// transaction when a denied key changed between the UPDATE that refused it
// and the read that explains why (PostgreSQL, READ COMMITTED: the refused
// row is not locked, so a concurrent ClearAttempts or reset can slip in).
const maxReserveRounds = 4

// ReserveAttempt counts an attempt for key at now under p, atomically on
// both engines. In one transaction it makes sure the key has a row (INSERT …
// ON CONFLICT DO NOTHING), then runs one UPDATE that checks that an
// attempt is allowed and counts it: the WHERE clause holds the conditions
// and the SET clause the day reset, so on PostgreSQL a reservation that
// waited for a concurrent one's row lock re-evaluates both against the row
// that one committed. When the count passes p.Free, a second UPDATE in the
// same transaction (the row is locked by then) sets the next allowed time.
// A denial reads the row to compute RetryAfter and changes nothing.
//
// A day starts at the first failure (a row with no failures has no day)
// and ends 24 h later, when the count starts again from zero. A wait set
// near the end of a day is honoured after the day ends. RetryAfter is the
// later of the wait and, when the day's budget is spent, the end of the
// day. Times have millisecond precision; delays are rounded up to it.
//
// p must have Free, BaseDelay and MaxDelay ≥ 0 and DailyBudget ≥ 1, and key
// must not be empty; anything else is an error, so a misconfigured policy
// fails closed instead of throttling nothing or everything.
func (s *Store) ReserveAttempt(ctx context.Context, key string, now time.Time, p gatehouse.ThrottlePolicy) (gatehouse.Reservation, error) {
	const op = "reserve attempt"
	if key == "" {
		return gatehouse.Reservation{}, fmt.Errorf("sqlstore: %s: empty key", op)
	}
	if p.Free < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.DailyBudget < 1 {
		return gatehouse.Reservation{}, fmt.Errorf("sqlstore: %s: invalid policy %+v", op, p)
	}
	nowMs := toMillis(now)
	var r gatehouse.Reservation
	err := s.db.InTx(ctx, func(tx *Tx) error {
		for range maxReserveRounds {
			var (
				done bool
				err  error
			)
			if r, done, err = reserveOnce(ctx, tx, key, nowMs, p); err != nil || done {
				return err
			}
		}
		return fmt.Errorf("sqlstore: %s: the counter kept changing", op)
	})
	if err != nil {
		return gatehouse.Reservation{}, errorf(op, err)
	}
	return r, nil
}

// reserveOnce tries one reservation. done is false when a denial could not
// be explained because the row changed in between; the caller tries again.
func reserveOnce(ctx context.Context, tx *Tx, key string, nowMs int64, p gatehouse.ThrottlePolicy) (r gatehouse.Reservation, done bool, err error) {
	if _, err := tx.Exec(ctx, `INSERT INTO sign_in_attempts (key, failures, day_start, next_at)
		VALUES ($1, 0, $2, 0) ON CONFLICT (key) DO NOTHING`, key, nowMs); err != nil {
		return r, false, err
	}
	// A new day starts when there is none (no failures) or it ended.
	var failures int
	err = tx.QueryRow(ctx, `UPDATE sign_in_attempts SET
			failures = CASE WHEN failures = 0 OR $2 >= day_start + $4
				THEN 1 ELSE failures + 1 END,
			day_start = CASE WHEN failures = 0 OR $2 >= day_start + $4
				THEN $2 ELSE day_start END
		WHERE key = $1 AND next_at <= $2
			AND (failures = 0 OR $2 >= day_start + $4 OR failures < $3)
		RETURNING failures`, key, nowMs, p.DailyBudget, dayMillis).Scan(&failures)
	switch {
	case err == nil:
		r = gatehouse.Reservation{Allowed: true, Failures: failures}
		if failures > p.Free {
			next := nowMs + ceilMillis(backoff(p, failures))
			if _, err := tx.Exec(ctx, `UPDATE sign_in_attempts SET next_at = $2 WHERE key = $1`, key, next); err != nil {
				return r, false, err
			}
			r.Started = failures == p.Free+1
		}
		return r, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return r, false, err
	}

	var dayStart, nextAt int64
	err = tx.QueryRow(ctx, `SELECT failures, day_start, next_at FROM sign_in_attempts WHERE key = $1`, key).
		Scan(&failures, &dayStart, &nextAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil // cleared meanwhile
	}
	if err != nil {
		return r, false, err
	}
	if failures == 0 || nowMs >= dayStart+dayMillis {
		failures = 0
	}
	var wait int64
	if nextAt > nowMs {
		wait = nextAt - nowMs
	}
	if failures >= p.DailyBudget {
		wait = max(wait, dayStart+dayMillis-nowMs)
	}
	if wait <= 0 {
		return r, false, nil // allowed by now: the row changed meanwhile
	}
	return gatehouse.Reservation{RetryAfter: time.Duration(wait) * time.Millisecond, Failures: failures}, true, nil
}

// backoff is the wait after the given number of failures in a day, which
// is more than p.Free: min(BaseDelay·2^(failures−Free−1), MaxDelay),
// without overflowing.
func backoff(p gatehouse.ThrottlePolicy, failures int) time.Duration {
	d := p.BaseDelay
	for k := failures - p.Free - 1; k > 0 && d > 0 && d < p.MaxDelay; k-- {
		if d > p.MaxDelay/2 {
			return p.MaxDelay
		}
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// ceilMillis is d in milliseconds, rounded up, so that a wait is never
// shortened by the stored precision.
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// ClearAttempts forgets key's failures and any wait (a successful
// attempt). Clearing an unknown key is not an error.
func (s *Store) ClearAttempts(ctx context.Context, key string) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM sign_in_attempts WHERE key = $1`, key); err != nil {
		return errorf("clear attempts", err)
	}
	return nil
}

// DeleteAttemptsBefore forgets keys whose day started before t and returns
// how many. With t at least 24 h plus the policy's MaxDelay in the past it
// forgets nothing that still counts.
func (s *Store) DeleteAttemptsBefore(ctx context.Context, t time.Time) (int, error) {
	return s.deleteCount(ctx, "delete attempts", `DELETE FROM sign_in_attempts WHERE day_start < $1`, toMillis(t))
}
