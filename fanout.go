package gatehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/backoff"
)

// Invalidation tells every node of a deployment to drop what it caches
// about something that changed.
type Invalidation struct {
	Kind InvalidationKind
	// ID is the session or user id (empty for InvalidateAll and
	// InvalidateKeys).
	ID string
}

// InvalidationKind says what an Invalidation is about.
type InvalidationKind string

// The kinds of invalidation.
const (
	// InvalidateSession: one session was revoked or rotated.
	InvalidateSession InvalidationKind = "session"
	// InvalidateUser: a user's password, roles, address or disabled state
	// changed, or their sessions were revoked.
	InvalidateUser InvalidationKind = "user"
	// InvalidateAll: drop every cached session.
	InvalidateAll InvalidationKind = "all"
	// InvalidateKeys: the signing keys changed; reread them.
	InvalidateKeys InvalidationKind = "keys"
)

// FanOut carries invalidations between the nodes of a deployment: Redis
// pub/sub (package redis) or PostgreSQL LISTEN/NOTIFY (store/postgres).
//
// The session cache is only as fresh as the fan-out: while Listen reports
// the channel down, an Auth bypasses its cache and checks every request
// against the database, and when the channel comes back it empties the
// cache (messages may have been lost meanwhile) before using it again. A
// FanOut is therefore never needed for correctness, only for speed.
type FanOut interface {
	// Publish sends inv to every node listening, this one included.
	Publish(ctx context.Context, inv Invalidation) error
	// Listen calls deliver with every invalidation published anywhere and
	// up with the channel's state (false whenever messages may be lost,
	// true once it listens again), until ctx ends. It reconnects by
	// itself and returns only when ctx ends.
	Listen(ctx context.Context, deliver func(Invalidation), up func(bool))
}

// WithFanOut shares cache invalidations with the other nodes through f.
// The Auth listens from New until Close, and bypasses its session cache
// until the channel is up and whenever it is down.
func WithFanOut(f FanOut) Option {
	return func(o *options) { o.fanOut = f }
}

// FanOutStats describes the fan-out for health checks and metrics.
type FanOutStats struct {
	// Configured is false for a single node without a fan-out.
	Configured bool
	// Up is true while invalidations are being received (always true when
	// not configured: the cache then needs no fan-out).
	Up bool
	// Since is when Up last changed.
	Since time.Time
	// Received and Published count invalidations; PublishFailures counts
	// those that could not be sent (other nodes then rely on the cache TTL).
	Received, Published, PublishFailures uint64
}

// fanOut runs an Auth's side of the fan-out: a listener that applies what
// other nodes publish, and a publisher that sends this node's invalidations
// without making requests wait for the network.
type fanOut struct {
	f      FanOut
	a      *Auth
	up     atomic.Bool
	cancel context.CancelFunc
	queue  chan Invalidation
	done   sync.WaitGroup

	mu    sync.Mutex
	since time.Time

	received, published, failed atomic.Uint64
}

// publishQueue bounds invalidations waiting to be sent; beyond it they are
// counted as failed (other nodes fall back on the cache TTL).
const publishQueue = 1024

func startFanOut(a *Auth, f FanOut) *fanOut {
	ctx, cancel := context.WithCancel(context.Background())
	fo := &fanOut{f: f, a: a, cancel: cancel, queue: make(chan Invalidation, publishQueue), since: a.Now()}
	fo.done.Add(2)
	go func() {
		defer fo.done.Done()
		f.Listen(ctx, fo.deliver, fo.setUp)
	}()
	go func() {
		defer fo.done.Done()
		fo.publishLoop(ctx)
	}()
	return fo
}

// setUp records the channel's state. Coming up, the cache is emptied: what
// was published while this node was not listening is lost.
func (fo *fanOut) setUp(up bool) {
	if fo.up.Load() == up {
		return
	}
	if up && fo.a.cache != nil {
		fo.a.cache.purge()
	}
	fo.up.Store(up)
	fo.mu.Lock()
	fo.since = fo.a.Now()
	fo.mu.Unlock()
	if up {
		fo.a.log.Info("cache fan-out up: using the session cache again")
	} else {
		fo.a.log.Warn("cache fan-out down: every session check reads the database until it is back")
	}
}

func (fo *fanOut) deliver(inv Invalidation) {
	fo.received.Add(1)
	fo.a.applyInvalidation(inv)
}

func (fo *fanOut) publish(inv Invalidation) {
	select {
	case fo.queue <- inv:
	default:
		fo.failed.Add(1)
	}
}

// publishLoop sends queued invalidations until ctx ends, then what is
// still queued (Close waits, briefly, so a CLI command's change reaches
// the servers before it exits).
func (fo *fanOut) publishLoop(ctx context.Context) {
	send := func(inv Invalidation) {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := fo.f.Publish(sctx, inv); err != nil {
			fo.failed.Add(1)
			fo.a.log.Warn("cache fan-out: publishing an invalidation failed; other nodes rely on the cache TTL", "kind", inv.Kind, "err", err)
			return
		}
		fo.published.Add(1)
	}
	for {
		select {
		case inv := <-fo.queue:
			send(inv)
		case <-ctx.Done():
			for {
				select {
				case inv := <-fo.queue:
					send(inv)
				default:
					return
				}
			}
		}
	}
}

func (fo *fanOut) close() {
	fo.cancel()
	fo.done.Wait()
}

func (fo *fanOut) stats() FanOutStats {
	fo.mu.Lock()
	since := fo.since
	fo.mu.Unlock()
	return FanOutStats{Configured: true, Up: fo.up.Load(), Since: since,
		Received: fo.received.Load(), Published: fo.published.Load(), PublishFailures: fo.failed.Load()}
}

// FanOutStats reports the fan-out's state.
func (a *Auth) FanOutStats() FanOutStats {
	if a.fan == nil {
		return FanOutStats{Up: true}
	}
	return a.fan.stats()
}

// cacheUsable reports whether the session cache may answer: always on a
// single node, and only while the fan-out is up on several.
func (a *Auth) cacheUsable() bool {
	return a.cache != nil && (a.fan == nil || a.fan.up.Load())
}

// applyInvalidation drops local state named by inv.
func (a *Auth) applyInvalidation(inv Invalidation) {
	switch inv.Kind {
	case InvalidateSession:
		if a.cache != nil {
			a.cache.invalidateSession(inv.ID)
		}
	case InvalidateUser:
		if a.cache != nil {
			a.cache.invalidateUser(inv.ID)
		}
	case InvalidateAll:
		if a.cache != nil {
			a.cache.purge()
		}
	case InvalidateKeys:
		a.signing.expire()
	}
}

// invalidate applies inv here and sends it to the other nodes.
func (a *Auth) invalidate(inv Invalidation) {
	a.applyInvalidation(inv)
	if a.fan != nil {
		a.fan.publish(inv)
	}
}

// The wire format of invalidations, written and read by every FanOut (keep
// it stable: nodes of two versions share the channel during an upgrade). A
// message is JSON:
//
//	{"v":1,"k":"session","id":"ses_…"}
//
// v is the format's version, k the kind, id its subject (absent for "all"
// and "keys"). Readers ignore fields they do not know, so version 1 may gain
// optional ones; a change older readers must not misread takes a new
// version, which they treat as "invalidate everything".
const (
	invalidationVersion = 1
	// MaxInvalidationSize bounds a message; larger ones are not ours.
	MaxInvalidationSize = 1024
)

// Errors of ParseInvalidation.
var (
	// ErrUnknownInvalidation: a later version or an unknown kind. The
	// invalidation returned with it is InvalidateAll, the safe reading.
	ErrUnknownInvalidation = errors.New("gatehouse: unknown invalidation (treated as all)")
	// ErrMalformedInvalidation: not an invalidation at all; ignore it.
	ErrMalformedInvalidation = errors.New("gatehouse: malformed invalidation")
)

type wireInvalidation struct {
	V  int    `json:"v"`
	K  string `json:"k"`
	ID string `json:"id,omitempty"`
}

// MarshalInvalidation returns inv's message, refusing a kind this version
// does not know or a session or user invalidation without an id.
func MarshalInvalidation(inv Invalidation) ([]byte, error) {
	w := wireInvalidation{V: invalidationVersion, K: string(inv.Kind)}
	switch inv.Kind {
	case InvalidateSession, InvalidateUser:
		if inv.ID == "" {
			return nil, fmt.Errorf("gatehouse: %s invalidation without an id", inv.Kind)
		}
		w.ID = inv.ID
	case InvalidateAll, InvalidateKeys:
	default:
		return nil, fmt.Errorf("gatehouse: unknown invalidation kind %q", inv.Kind)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxInvalidationSize {
		return nil, fmt.Errorf("gatehouse: invalidation message of %d bytes exceeds %d", len(b), MaxInvalidationSize)
	}
	return b, nil
}

// ParseInvalidation reads a message. A message of a later version, or of
// a kind this version does not know, is InvalidateAll with
// ErrUnknownInvalidation; anything else that is not a version-1 message is
// ErrMalformedInvalidation.
func ParseInvalidation(b []byte) (Invalidation, error) {
	all := Invalidation{Kind: InvalidateAll}
	if len(b) > MaxInvalidationSize {
		return Invalidation{}, ErrMalformedInvalidation
	}
	// The version first: a later one may change the other fields' types.
	var v struct {
		V int `json:"v"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.V < 1 {
		return Invalidation{}, ErrMalformedInvalidation
	}
	if v.V > invalidationVersion {
		return all, ErrUnknownInvalidation
	}
	var w wireInvalidation
	if err := json.Unmarshal(b, &w); err != nil || w.K == "" {
		return Invalidation{}, ErrMalformedInvalidation
	}
	switch k := InvalidationKind(w.K); k {
	case InvalidateSession, InvalidateUser:
		if w.ID == "" {
			return Invalidation{}, ErrMalformedInvalidation
		}
		return Invalidation{Kind: k, ID: w.ID}, nil
	case InvalidateAll, InvalidateKeys:
		return Invalidation{Kind: k}, nil
	default:
		return all, ErrUnknownInvalidation
	}
}

// InvalidationReceiver is the receiving half every FanOut shares: the
// reconnect loop, message parsing and the counters. Embed it in a FanOut
// and call Run from Listen. The zero value is ready; it is safe for
// concurrent use.
type InvalidationReceiver struct {
	delivered, malformed, unknown, outages atomic.Uint64

	mu      sync.Mutex
	lastErr error
}

// ReceiverStats counts what a FanOut received, for metrics and debugging.
type ReceiverStats struct {
	// Delivered counts invalidations passed to Listen's deliver.
	Delivered uint64
	// Malformed counts messages ignored (ErrMalformedInvalidation).
	Malformed uint64
	// Unknown counts messages of a later version or an unknown kind (a
	// newer node during a rolling upgrade), each delivered as
	// InvalidateAll: dropping the whole cache is always safe.
	Unknown uint64
	// Outages counts the times the channel went down after being up.
	Outages uint64
	// LastError is the latest connection failure, nil before any.
	LastError error
}

// Reconnection backoff of Run: from receiveMinBackoff doubling to
// receiveMaxBackoff, back to the minimum after a connection that lasted
// receiveStableAfter.
const (
	receiveMinBackoff  = 100 * time.Millisecond
	receiveMaxBackoff  = 2 * time.Second
	receiveStableAfter = 5 * time.Second
)

// Run calls listen until ctx ends. listen holds one connection: it calls
// onUp once subscribed and returns when the connection fails (messages may
// then be lost). Run reports up(true) at onUp and up(false) after a
// connection that was up fails, and waits a jittered backoff between
// attempts. It calls neither function after ctx ends.
func (r *InvalidationReceiver) Run(ctx context.Context, listen func(ctx context.Context, onUp func()) error, up func(bool)) {
	b := backoff.Backoff{Min: receiveMinBackoff, Max: receiveMaxBackoff}
	for ctx.Err() == nil {
		var upAt time.Time
		err := listen(ctx, func() {
			upAt = time.Now()
			up(true)
		})
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		r.lastErr = err
		r.mu.Unlock()
		if !upAt.IsZero() {
			r.outages.Add(1)
			up(false)
			if time.Since(upAt) >= receiveStableAfter {
				b.Reset()
			}
		}
		if !backoff.Sleep(ctx, b.Next()) {
			return
		}
	}
}

// Receive parses one message and delivers what it says: nothing for a
// malformed one, InvalidateAll for an unknown one.
func (r *InvalidationReceiver) Receive(payload []byte, deliver func(Invalidation)) {
	inv, err := ParseInvalidation(payload)
	switch {
	case errors.Is(err, ErrMalformedInvalidation):
		r.malformed.Add(1)
		return
	case errors.Is(err, ErrUnknownInvalidation):
		r.unknown.Add(1)
	}
	r.delivered.Add(1)
	deliver(inv)
}

// Stats returns the counters.
func (r *InvalidationReceiver) Stats() ReceiverStats {
	r.mu.Lock()
	err := r.lastErr
	r.mu.Unlock()
	return ReceiverStats{Delivered: r.delivered.Load(), Malformed: r.malformed.Load(),
		Unknown: r.unknown.Load(), Outages: r.outages.Load(), LastError: err}
}
