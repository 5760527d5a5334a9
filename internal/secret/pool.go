package secret

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"
)

// Errors returned by Pool.Do (and so by Hasher methods).
var (
	// ErrOverloaded means the pool refused work: too many callers were
	// already waiting, or no worker became free within MaxWait. Callers
	// should answer "try again later" (HTTP 503 with Retry-After), not
	// "wrong password".
	ErrOverloaded = errors.New("secret: password hashing overloaded")
	// ErrClosed means the pool has been closed.
	ErrClosed = errors.New("secret: pool closed")
)

// PoolConfig sizes a Pool. The zero value is a safe default.
type PoolConfig struct {
	// Workers is the number of functions that may run at once. With
	// argon2id, peak memory is about Workers * Params.Memory KiB.
	// Zero or negative means max(GOMAXPROCS-1, 1), leaving a core for
	// other work.
	Workers int
	// Queue is the number of callers that may wait for a worker; one more
	// is refused at once with ErrOverloaded. Zero or negative means 64.
	Queue int
	// MaxWait is how long a caller waits for a worker before giving up
	// with ErrOverloaded. Zero or negative means 2 seconds.
	MaxWait time.Duration
}

// PoolStats is a snapshot of a Pool's load, for metrics.
type PoolStats struct {
	// Running is the number of functions running now.
	Running int
	// Waiting is the number of callers waiting for a worker.
	Waiting int
}

// Pool bounds how much expensive work (password hashing) runs at once and
// how many callers may queue for it, so that a burst of logins degrades into
// fast ErrOverloaded answers instead of exhausting memory or starving the
// rest of the server. A Pool is safe for concurrent use; create it with
// NewPool and stop it with Close.
type Pool struct {
	slots   chan struct{} // one token per running fn
	done    chan struct{} // closed by Close
	queue   int
	maxWait time.Duration

	mu      sync.Mutex // guards the fields below and wg.Add
	closed  bool
	running int
	waiting int
	wg      sync.WaitGroup
}

// NewPool returns a Pool configured by c, with zero or negative fields
// replaced by their defaults (see PoolConfig).
func NewPool(c PoolConfig) *Pool {
	if c.Workers <= 0 {
		c.Workers = max(runtime.GOMAXPROCS(0)-1, 1)
	}
	if c.Queue <= 0 {
		c.Queue = 64
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 2 * time.Second
	}
	return &Pool{
		slots:   make(chan struct{}, c.Workers),
		done:    make(chan struct{}),
		queue:   c.Queue,
		maxWait: c.MaxWait,
	}
}

// Do runs fn on a worker slot, in the calling goroutine, once one is free,
// and returns nil after fn returns. At most Workers fns run at once.
//
// fn is not run, and Do returns without waiting, when: the pool is closed
// (ErrClosed); Queue callers are already waiting (ErrOverloaded); no worker
// became free within MaxWait (ErrOverloaded); or ctx ended first (ctx.Err()).
// Once fn has started it runs to completion; ctx does not interrupt it.
// A panic in fn propagates to the caller after its slot is released.
// Do is safe for concurrent use.
func (p *Pool) Do(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	select {
	case p.slots <- struct{}{}:
		p.start()
		p.mu.Unlock()
		return p.run(fn)
	default:
	}
	if p.waiting >= p.queue {
		p.mu.Unlock()
		return ErrOverloaded
	}
	p.waiting++
	p.mu.Unlock()

	timer := time.NewTimer(p.maxWait)
	defer timer.Stop()
	var err error
	select {
	case p.slots <- struct{}{}:
		p.mu.Lock()
		p.waiting--
		switch {
		case p.closed:
			err = ErrClosed
		case ctx.Err() != nil:
			err = ctx.Err()
		default:
			p.start()
			p.mu.Unlock()
			return p.run(fn)
		}
		<-p.slots
		p.mu.Unlock()
		return err
	case <-timer.C:
		err = ErrOverloaded
	case <-ctx.Done():
		err = ctx.Err()
	case <-p.done:
		err = ErrClosed
	}
	p.mu.Lock()
	p.waiting--
	p.mu.Unlock()
	return err
}

// start records a running fn; p.mu must be held and a slot taken.
func (p *Pool) start() {
	p.running++
	p.wg.Add(1)
}

func (p *Pool) run(fn func()) error {
	defer func() {
		p.mu.Lock()
		p.running--
		p.mu.Unlock()
		<-p.slots
		p.wg.Done()
	}()
	fn()
	return nil
}

// Close stops the pool: callers waiting for a worker, and later calls to Do,
// get ErrClosed. Close waits for running fns to return. It is safe to call
// more than once and from several goroutines.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Stats returns the pool's current load. The numbers may be stale by the
// time the caller reads them; they are meant for metrics.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Running: p.running, Waiting: p.waiting}
}
