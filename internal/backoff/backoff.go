// Package backoff is a jittered exponential backoff for reconnect loops.
// It holds nothing else.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff doubles a bound from Min to Max; each wait is between half the
// bound and all of it, so that clients cut off together do not come back
// together. The zero value needs Min and Max set; Reset starts over.
type Backoff struct {
	Min, Max time.Duration
	d        time.Duration
}

// Next returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	b.d = min(max(2*b.d, b.Min), b.Max)
	return b.d/2 + rand.N(b.d/2+1)
}

// Reset makes the next wait the shortest again.
func (b *Backoff) Reset() { b.d = 0 }

// Sleep waits d, or less when ctx ends first; it reports whether ctx is
// still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
