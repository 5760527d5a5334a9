package loadgen

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(hundred...), 95, 95 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 0.1, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("Percentile(%d values, %v) = %v, want %v", len(tt.sorted), tt.p, got, tt.want)
		}
	}
}

// In a synctest bubble time only moves when every goroutine waits, so the
// counts below are exact.
func TestClosedLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := Run(context.Background(), Options{Concurrency: 4, Warmup: 10 * time.Millisecond, Duration: 100 * time.Millisecond},
			func(ctx context.Context, worker int, n uint64) error {
				if worker < 0 || worker >= 4 {
					t.Errorf("worker %d", worker)
				}
				time.Sleep(time.Millisecond)
				if n%10 == 0 {
					return errors.New("boom")
				}
				return nil
			})
		// 4 workers, 1 ms each, 100 ms measured: 400 calls, one in ten failed.
		if res.Calls != 400 || res.Errors != 40 || res.ErrorKinds["boom"] != 40 {
			t.Fatalf("calls %d errors %d kinds %v", res.Calls, res.Errors, res.ErrorKinds)
		}
		if res.Elapsed != 100*time.Millisecond || res.PerSecond() != 3600 {
			t.Fatalf("elapsed %v, %v/s", res.Elapsed, res.PerSecond())
		}
		if res.P50 != time.Millisecond || res.P99 != time.Millisecond || res.Max != time.Millisecond {
			t.Fatalf("latencies %v %v %v", res.P50, res.P99, res.Max)
		}
	})
}

func TestCallsInFlightAtTheEndFinishAndCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := Run(context.Background(), Options{Concurrency: 2, Duration: 100 * time.Millisecond},
			func(ctx context.Context, _ int, _ uint64) error {
				select {
				case <-time.After(300 * time.Millisecond):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		if res.Calls != 2 || res.Errors != 0 || res.P50 != 300*time.Millisecond {
			t.Fatalf("%+v", res)
		}
	})
}

func TestWarmupIsNotRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := Run(context.Background(), Options{Concurrency: 1, Warmup: 50 * time.Millisecond, Duration: 50 * time.Millisecond},
			func(ctx context.Context, _ int, n uint64) error {
				time.Sleep(10 * time.Millisecond)
				if n < 5 {
					return fmt.Errorf("call %d recorded", n)
				}
				return nil
			})
		if res.Calls != 5 || res.Errors != 0 {
			t.Fatalf("%+v", res)
		}
	})
}

func TestOpenLoop(t *testing.T) {
	tests := []struct {
		name                   string
		slots                  int
		rate                   float64
		duration, took         time.Duration
		wantCalls, wantDropped int
	}{
		// 200 calls a second for 500 ms, each taking 2 ms: all 100 start.
		{"keeps up", 4, 200, 500 * time.Millisecond, 2 * time.Millisecond, 100, 0},
		// One slot, a call due every 10 ms, each taking 25 ms: one call in
		// three starts, the others are dropped.
		{"drops what does not fit", 1, 100, 300 * time.Millisecond, 25 * time.Millisecond, 10, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res := Run(context.Background(), Options{Concurrency: tt.slots, Rate: tt.rate, Duration: tt.duration},
					func(ctx context.Context, _ int, _ uint64) error {
						time.Sleep(tt.took)
						return nil
					})
				if res.Calls != tt.wantCalls || res.Dropped != tt.wantDropped || res.P99 != tt.took {
					t.Fatalf("%+v", res)
				}
			})
		})
	}
}

func TestErrorKindsAreBounded(t *testing.T) {
	kinds := map[string]int{}
	for i := range 12 {
		kinds[fmt.Sprintf("error %d", i)] = 100 - i
	}
	got := topKinds(kinds)
	if len(got) != maxErrorKinds+1 || got["error 0"] != 100 || got["error 7"] != 93 || got["other errors"] != 92+91+90+89 {
		t.Fatalf("%v", got)
	}
}
