package sqlstore

import (
	"math"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

func TestBackoff(t *testing.T) {
	p := gatehouse.ThrottlePolicy{Free: 5, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, DailyBudget: 100}
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{6, time.Second}, {7, 2 * time.Second}, {8, 4 * time.Second}, {15, 512 * time.Second},
		{16, 15 * time.Minute}, {100, 15 * time.Minute}, {math.MaxInt, 15 * time.Minute},
	} {
		if got := backoff(p, tc.failures); got != tc.want {
			t.Errorf("backoff(%d failures) = %v, want %v", tc.failures, got, tc.want)
		}
	}
	// Doubling never overflows, whatever the count and the cap.
	huge := gatehouse.ThrottlePolicy{BaseDelay: 3 * time.Nanosecond, MaxDelay: math.MaxInt64}
	for f := 1; f < 200; f++ {
		if got := backoff(huge, f); got <= 0 || got > huge.MaxDelay {
			t.Fatalf("backoff(%d failures, huge cap) = %v", f, got)
		}
	}
	if got := backoff(gatehouse.ThrottlePolicy{MaxDelay: time.Hour}, 50); got != 0 {
		t.Errorf("backoff with no base delay = %v, want 0", got)
	}
	if got := backoff(gatehouse.ThrottlePolicy{BaseDelay: time.Hour, MaxDelay: time.Minute}, 1); got != time.Minute {
		t.Errorf("backoff with a cap below the base = %v, want the cap", got)
	}
	for d, want := range map[time.Duration]int64{0: 0, 1: 1, time.Millisecond: 1, time.Millisecond + 1: 2, time.Second: 1000} {
		if got := ceilMillis(d); got != want {
			t.Errorf("ceilMillis(%v) = %d, want %d", d, got, want)
		}
	}
}
