// Package redis shares Gatehouse's rate limits and cache invalidations
// between nodes through Redis: Limiter is a gatehouse.Limiter that counts in
// one atomic Lua script per request, on the Redis server's clock, and falls
// back to a per-node limiter while Redis is unreachable; FanOut is a
// gatehouse.FanOut over pub/sub on the same client.
//
// This is not a Store: nothing here must be durable, and nothing here may
// be relied on for a security decision that must fail closed. Only the
// standalone server's wiring (cmd/) or an embedder opens one.
package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/ratelimit"
)

// Defaults for Options.
const (
	DefaultPrefix  = "gatehouse:"
	DefaultTimeout = 100 * time.Millisecond
)

const (
	// limitSpace namespaces rate-limit keys under the prefix, away from
	// the other users of the same client.
	limitSpace = "rl:"
	// warnEvery bounds the fallback warning while an outage lasts.
	warnEvery = time.Minute
	// retryEvery is how long Allow skips Redis after a failure, so that an
	// outage costs one probe per interval rather than a timeout per call.
	retryEvery = time.Second
	// minOpenTimeout bounds Open's ping from below: the first connection
	// may need a TLS handshake and AUTH, and startup is not a sign-in.
	minOpenTimeout = time.Second
)

// Options configure Open.
type Options struct {
	// URL is the server, redis://[user:password@]host[:port][/db] or
	// rediss:// for TLS, with go-redis's query parameters
	// (redis.ParseURL). It is never logged nor put in an error whole: it
	// may hold a password.
	URL string
	// Prefix starts every key Gatehouse writes (default DefaultPrefix).
	// Give each deployment sharing one Redis its own; rate-limit keys are
	// Prefix + "rl:" + the limiter key.
	Prefix string
	// Fallback counts requests while Redis is unreachable; required.
	// Typically the in-process limiter, so an outage turns shared limits
	// into per-node ones (N nodes allow up to N times the rate) instead of
	// no limits or no sign-ins.
	Fallback gatehouse.Limiter
	// Logger gets a warning when Limiter falls back (at most once a
	// minute, however long the outage or however often Redis flaps) and
	// an info when Redis is back after an outage it warned about. Neither
	// carries the password. Default: no logging.
	Logger *slog.Logger
	// Timeout bounds each call to Redis (default DefaultTimeout), after
	// which the call falls back: a slow Redis must not slow every sign-in.
	Timeout time.Duration
}

// Limiter is a gatehouse.Limiter shared by every node using the same Redis
// and prefix. Allow is atomic per key across nodes (a GCRA step in one Lua
// script, see ratelimit.Rate.GCRA) and reads time from the Redis server, so
// node clocks do not matter. Each key expires once its limit has lapsed, so
// idle keys cost nothing.
//
// When Redis fails — unreachable, slower than Options.Timeout, or erring —
// Allow answers from Options.Fallback instead and skips Redis for about a
// second before trying again. It is safe for concurrent use.
type Limiter struct {
	client   *goredis.Client
	prefix   string
	fallback gatehouse.Limiter
	log      *slog.Logger
	timeout  time.Duration
	addr     string   // host:port, for logs
	secrets  []string // forms of the password to scrub from logged errors

	// For tests.
	now        func() time.Time
	retryEvery time.Duration

	mu        sync.Mutex
	down      bool      // the last call to Redis failed
	downSince time.Time // start of the current outage
	retryAt   time.Time // while down, when a call may probe Redis again
	probing   bool      // a probe is in flight
	lastWarn  time.Time // when the last fallback warning was logged
	warned    bool      // a warning was logged for the current outage
}

var _ gatehouse.Limiter = (*Limiter)(nil)

//go:embed gcra.lua
var gcraSource string

var gcra = goredis.NewScript(gcraSource)

// Open connects to the Redis at o.URL and pings it. A malformed URL, an
// unsupported scheme or a missing Fallback is an error. An unreachable
// Redis is not: Open logs a warning and returns a Limiter that falls back
// until Redis answers, so a node can start during a Redis outage. The ping
// waits up to Options.Timeout, at least a second, within ctx.
func Open(ctx context.Context, o Options) (*Limiter, error) {
	if o.Fallback == nil {
		return nil, errors.New("redis: Options.Fallback is required (the limiter used while Redis is unreachable)")
	}
	opt, secrets, err := parseURL(o.URL)
	if err != nil {
		return nil, err
	}
	// Per-call deadlines come from the context (Options.Timeout), and a
	// refused dial fails the call nearly at once instead of retrying
	// within it: Limiter retries Redis on its own schedule (retryEvery).
	// One command retry (unless the URL sets max_retries) still replaces
	// a pooled connection that died with a restarted server.
	opt.ContextTimeoutEnabled = true
	opt.DialerRetries = 1
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	l := &Limiter{
		prefix:     o.Prefix,
		fallback:   o.Fallback,
		log:        o.Logger,
		timeout:    o.Timeout,
		addr:       opt.Addr,
		secrets:    secrets,
		now:        time.Now,
		retryEvery: retryEvery,
	}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	l.client = goredis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, max(l.timeout, minOpenTimeout))
	defer cancel()
	if err := l.client.Ping(pctx).Err(); err != nil {
		if ctx.Err() != nil {
			l.client.Close()
			return nil, fmt.Errorf("redis: open: %w", ctx.Err())
		}
		l.failed(ctx, false, err)
	}
	return l, nil
}

// Allow counts one request for key under r in Redis; see
// gatehouse.Limiter. When Redis fails it returns Options.Fallback's answer,
// so its only errors are an invalid rate and the fallback's own.
//
// retryAfter is exact to the microsecond; the emission interval
// (Period/Limit) is rounded up to a whole microsecond, never more lenient.
func (l *Limiter) Allow(ctx context.Context, key string, r gatehouse.Rate) (allowed bool, retryAfter time.Duration, err error) {
	interval, burst, err := ratelimit.Rate(r).GCRA()
	if err != nil {
		return false, 0, err
	}
	use, probe := l.useRedis()
	if !use {
		return l.fallback.Allow(ctx, key, r)
	}
	intervalUS := (interval + time.Microsecond - 1) / time.Microsecond
	cctx, cancel := context.WithTimeout(ctx, l.timeout)
	res, err := gcra.Run(cctx, l.client, []string{l.prefix + limitSpace + key}, int64(intervalUS), burst).Int64Slice()
	cancel()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected reply %v from the rate-limit script", res)
	}
	if err != nil {
		l.failed(ctx, probe, err)
		return l.fallback.Allow(ctx, key, r)
	}
	l.succeeded(probe)
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}

// Client returns the underlying go-redis client, for other users of the
// same Redis (revocation fan-out). It is closed by Close.
func (l *Limiter) Client() *goredis.Client { return l.client }

// Close closes the client. Allow then answers from the fallback.
func (l *Limiter) Close() error { return l.client.Close() }

// useRedis reports whether this call should go to Redis, and whether it is
// the one probe allowed through during an outage.
func (l *Limiter) useRedis() (use, probe bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down {
		return true, false
	}
	if l.probing || l.now().Before(l.retryAt) {
		return false, false
	}
	l.probing = true
	return true, true
}

// failed records a failed call to Redis and logs a warning, at most once
// per warnEvery while the outage lasts.
func (l *Limiter) failed(ctx context.Context, probe bool, err error) {
	now := l.now()
	l.mu.Lock()
	if probe {
		l.probing = false
	}
	// A caller that gave up, or a closed Limiter, says nothing about Redis.
	if ctx.Err() != nil || errors.Is(err, goredis.ErrClosed) {
		l.mu.Unlock()
		return
	}
	if !l.down {
		l.down, l.downSince, l.warned = true, now, false
	}
	l.retryAt = now.Add(l.retryEvery)
	warn := l.lastWarn.IsZero() || now.Sub(l.lastWarn) >= warnEvery
	if warn {
		l.lastWarn, l.warned = now, true
	}
	since := l.downSince
	l.mu.Unlock()
	if warn {
		l.log.Warn("redis unavailable: rate limits fall back to per-node counts until it is back",
			"addr", l.addr, "err", l.scrub(err.Error()), "since", since)
	}
}

// succeeded records a successful call and logs the end of an outage.
func (l *Limiter) succeeded(probe bool) {
	l.mu.Lock()
	if probe {
		l.probing = false
	}
	if !l.down {
		l.mu.Unlock()
		return
	}
	l.down = false
	outage, warned := l.now().Sub(l.downSince), l.warned
	l.mu.Unlock()
	if warned {
		l.log.Info("redis is back: rate limits are shared again", "addr", l.addr, "outage", outage.Round(time.Millisecond))
	}
}

// scrub removes the password from s.
func (l *Limiter) scrub(s string) string {
	for _, p := range l.secrets {
		s = strings.ReplaceAll(s, p, "xxxxx")
	}
	return s
}

// parseURL parses raw with go-redis, keeping the password out of its
// errors, and returns the password's forms to scrub from later ones.
func parseURL(raw string) (*goredis.Options, []string, error) {
	if raw == "" {
		return nil, nil, errors.New("redis: Options.URL is required (redis:// or rediss://)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the whole URL, password and all.
		return nil, nil, errors.New("redis: malformed URL (not shown: it may hold a password)")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, nil, fmt.Errorf("redis: URL scheme %q: want redis:// or rediss://", u.Scheme)
	}
	var secrets []string
	if p, ok := u.User.Password(); ok && p != "" {
		secrets = []string{p}
		if e := url.UserPassword("", p).String(); e != ":"+p {
			secrets = append(secrets, strings.TrimPrefix(e, ":"))
		}
	}
	opt, err := goredis.ParseURL(raw)
	if err != nil {
		msg := err.Error()
		for _, p := range secrets {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
		return nil, nil, fmt.Errorf("redis: malformed URL: %s", strings.TrimPrefix(msg, "redis: "))
	}
	return opt, secrets, nil
}
