// Package ratelimit holds the generic cell rate algorithm (GCRA) shared by
// Gatehouse's rate limiters and Memory, the bounded in-process limiter that
// is the default when no Redis is configured.
//
// It imports only the standard library: the root package imports it for
// its default limiter, so it cannot import the root (Rate mirrors
// gatehouse.Rate for that reason). Nothing here does I/O; shared limits
// across nodes live in package redis.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Rate is gatehouse.Rate, repeated here because this package cannot import
// the root: on average Limit requests per Period, with bursts of up to
// Burst requests at once (Burst 0 means Limit).
type Rate struct {
	Limit  int
	Period time.Duration
	Burst  int
}

// GCRA returns the algorithm's parameters for r: the emission interval
// (Period/Limit, at least 1ns) and the burst (Burst, or Limit when Burst is
// 0). A key's state is its theoretical arrival time (TAT): a request at now
// is allowed when max(TAT, now) + interval − burst·interval ≤ now, and then
// moves TAT to max(TAT, now) + interval. So a fresh key, or one idle until
// its TAT has passed, allows exactly burst requests at once and then one
// per interval; a key is back to fresh burst·interval after its last
// allowed request (at most Period when Burst ≤ Limit).
//
// It fails for Limit ≤ 0, Period ≤ 0, Burst < 0, and for a burst·interval
// that overflows a time.Duration.
func (r Rate) GCRA() (interval time.Duration, burst int64, err error) {
	if r.Limit <= 0 || r.Period <= 0 || r.Burst < 0 {
		return 0, 0, fmt.Errorf("ratelimit: invalid rate (limit %d, period %s, burst %d): limit and period must be positive, burst not negative",
			r.Limit, r.Period, r.Burst)
	}
	interval = max(r.Period/time.Duration(r.Limit), 1)
	burst = int64(r.Burst)
	if burst == 0 {
		burst = int64(r.Limit)
	}
	if burst > math.MaxInt64/2/int64(interval) {
		return 0, 0, errors.New("ratelimit: invalid rate: burst × period/limit overflows")
	}
	return interval, burst, nil
}
