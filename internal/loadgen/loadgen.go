// Package loadgen drives a system with a closed or an open loop of calls and
// summarizes what it measured: calls per second, latency percentiles and
// errors. It is the load generator of `gatehouse bench`; it knows nothing
// of HTTP or of Gatehouse.
package loadgen

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Call performs one operation and returns an error when its outcome was not
// the expected one. worker is the caller's index, in [0, Concurrency); n
// numbers the calls of a run from 0, across workers, so a call can pick its
// own input (the n-th user, a fresh address). A Call must return promptly
// once ctx is done.
type Call func(ctx context.Context, worker int, n uint64) error

// Options describe a run.
type Options struct {
	// Concurrency is the number of workers of a closed loop, each calling
	// again as soon as its call returns; in an open loop it bounds the calls
	// in flight. At least 1.
	Concurrency int
	// Rate, when positive, makes the loop open: calls start at this many
	// per second whatever the system's answers, and a call that would
	// exceed Concurrency is counted as Dropped instead.
	Rate float64
	// Warmup runs before the measurement; its calls are not recorded.
	Warmup time.Duration
	// Duration is how long calls are recorded. At least 1 ms.
	Duration time.Duration
}

// Result is what a run measured. Only calls started during Duration count.
type Result struct {
	Calls   int           // calls recorded, including failed ones
	Errors  int           // calls that returned an error
	Dropped int           // open loop: calls not started for lack of a free slot
	Elapsed time.Duration // the measured interval
	// P50, P95, P99 and Max are latencies of the recorded calls. In an open
	// loop a call's latency runs from when it was due, so a system that
	// falls behind shows it (no coordinated omission).
	P50, P95, P99, Max time.Duration
	// ErrorKinds counts errors by text, at most maxErrorKinds kinds; the
	// rest are counted under "other errors".
	ErrorKinds map[string]int
}

// PerSecond is the rate of successful calls.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls-r.Errors) / r.Elapsed.Seconds()
}

const maxErrorKinds = 8

// Run drives call as o describes until the warm-up and the measurement are
// over or ctx is done, waits for the calls in flight, and summarizes.
func Run(ctx context.Context, o Options, call Call) Result {
	o.Concurrency = max(o.Concurrency, 1)
	o.Duration = max(o.Duration, time.Millisecond)
	start := time.Now()
	r := &run{
		from:   start.Add(o.Warmup),
		until:  start.Add(o.Warmup + o.Duration),
		shards: make([]shard, o.Concurrency),
	}
	// Calls get ctx itself, not the run's deadline: a call in flight when
	// the time is up finishes and counts.
	loop, cancel := context.WithDeadline(ctx, r.until)
	defer cancel()
	if o.Rate > 0 {
		r.open(ctx, loop, o, call, start)
	} else {
		r.closed(ctx, loop, o, call)
	}
	return r.result(time.Now())
}

// run is the state of one Run.
type run struct {
	from, until time.Time
	next        atomic.Uint64 // the next call's n
	dropped     atomic.Int64
	shards      []shard
}

// shard holds the records of one worker (closed loop) or of the calls whose
// n falls on it (open loop).
type shard struct {
	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	kinds     map[string]int
	_         [64]byte // keeps shards on separate cache lines
}

func (r *run) closed(ctx, loop context.Context, o Options, call Call) {
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		wg.Go(func() {
			sh := &r.shards[w]
			for loop.Err() == nil {
				began := time.Now()
				err := call(ctx, w, r.next.Add(1)-1)
				r.record(ctx, sh, began, time.Since(began), err)
			}
		})
	}
	wg.Wait()
}

func (r *run) open(ctx, loop context.Context, o Options, call Call, start time.Time) {
	interval := time.Duration(float64(time.Second) / o.Rate)
	slots := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(r.until) {
			break
		}
		timer.Reset(time.Until(due))
		select {
		case <-loop.Done():
			wg.Wait()
			return
		case <-timer.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			if !due.Before(r.from) {
				r.dropped.Add(1)
			}
			continue
		}
		n := r.next.Add(1) - 1
		wg.Go(func() {
			defer func() { <-slots }()
			err := call(ctx, int(n%uint64(o.Concurrency)), n)
			r.record(ctx, &r.shards[n%uint64(len(r.shards))], due, time.Since(due), err)
		})
	}
	wg.Wait()
}

// record keeps a call that began within the measured interval. A call cut
// short because the caller gave up (ctx done) is not an error of the system.
func (r *run) record(ctx context.Context, sh *shard, began time.Time, took time.Duration, err error) {
	if began.Before(r.from) || !began.Before(r.until) {
		return
	}
	if err != nil && ctx.Err() != nil {
		return
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.latencies = append(sh.latencies, took)
	if err == nil {
		return
	}
	sh.errors++
	if sh.kinds == nil {
		sh.kinds = make(map[string]int)
	}
	sh.kinds[err.Error()]++
}

func (r *run) result(end time.Time) Result {
	res := Result{Dropped: int(r.dropped.Load()), Elapsed: r.until.Sub(r.from)}
	if end.Before(r.until) { // stopped early
		res.Elapsed = max(end.Sub(r.from), 0)
	}
	var all []time.Duration
	kinds := map[string]int{}
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		all = append(all, sh.latencies...)
		res.Errors += sh.errors
		for k, v := range sh.kinds {
			kinds[k] += v
		}
		sh.mu.Unlock()
	}
	res.Calls = len(all)
	res.ErrorKinds = topKinds(kinds)
	slices.Sort(all)
	res.P50, res.P95, res.P99 = Percentile(all, 50), Percentile(all, 95), Percentile(all, 99)
	if len(all) > 0 {
		res.Max = all[len(all)-1]
	}
	return res
}

// topKinds keeps the maxErrorKinds most frequent error texts and counts
// the rest under "other errors".
func topKinds(kinds map[string]int) map[string]int {
	if len(kinds) <= maxErrorKinds {
		return kinds
	}
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return kinds[b] - kinds[a] })
	out := make(map[string]int, maxErrorKinds+1)
	for i, k := range keys {
		if i < maxErrorKinds {
			out[k] = kinds[k]
		} else {
			out["other errors"] += kinds[k]
		}
	}
	return out
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value with at least p % of the values
// at or below it. Zero for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
